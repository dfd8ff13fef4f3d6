#!/usr/bin/env python3
"""rest_backend.py — a scripted REST/JSON backend for the gRPC→REST tests
(tests/unit/reverse_call_test.c), speaking HTTP/1.1 with keep-alive from Python's standard
library, i.e. an HTTP implementation that is not portico's nor h2o's.

It serves the REST side of tests/integration/reverse/reverse_test.proto:

  GET|POST /echo/{id}      answers, after `delay_ms`, status `status` with body `body`, or
                           200 with the request it received as JSON (method, path, query,
                           body, headers, id). GET reads the three from the query, POST from
                           its JSON body.
  GET /reviews/{sku}:watch streams `count` events {"n": i, "sku": sku}, 100 ms apart, chunked,
                           in `format`: ndjson (default), array, wrapped ({"result": ...}),
                           error (two events, then {"error": {"code": 5, ...}}), bad (one event,
                           then a line that is not JSON)
  GET /v1/shelves/S/books/B      a Book (with a field the proto does not have)
  GET /v1/shelves/S/books        a JSON array of two Books (the rule's response_body)
  GET /raw/{name}          bytes, Content-Type image/png
  PUT /upload/{name}       a Book: title = the request's Content-Type, pages = its body size
  anything else            404 with a JSON error

  rest_backend.py [--port-file PATH]   (listens on 127.0.0.1, on a free port)
"""
import argparse
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, content_type="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", "rest_backend.py")
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, sku, q):
        count = int(q.get("count", ["0"])[0] or 0)
        fmt = q.get("format", ["ndjson"])[0] or "ndjson"
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if fmt == "array" else "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Stream-Format", fmt)
        self.end_headers()
        if fmt == "array":
            self.chunk("[")
        for i in range(count):
            event = {"n": i + 1, "sku": sku}
            if fmt == "array":
                self.chunk(("," if i else "") + json.dumps(event))
            elif fmt == "wrapped":
                self.chunk(json.dumps({"result": event}) + "\n")
            elif fmt == "error" and i == 2:
                self.chunk(json.dumps({"error": {"code": 5, "message": "gone", "details": []}}) + "\n")
                break
            elif fmt == "bad" and i == 1:
                self.chunk("not json\n")
                break
            else:
                self.chunk(json.dumps(event) + "\n")
            time.sleep(0.1)
        if fmt == "array":
            self.chunk("]")
        self.chunk(b"")

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = url.path
        if path.startswith("/echo/"):
            if self.command == "POST":
                try:
                    params = json.loads(body or b"{}")
                except ValueError:
                    params = {}
            else:
                params = {k: v[0] for k, v in q.items()}
            delay = int(params.get("delay_ms", params.get("delayMs", 0)) or 0)
            status = int(params.get("status", 0) or 0)
            if delay:
                time.sleep(delay / 1000.0)
            if status or "body" in params and self.command == "GET":
                self.send_body(status or 200, params.get("body", ""))
                return
            reply = {
                "method": self.command,
                "path": path,
                "query": url.query,
                "body": body.decode("utf-8", "replace"),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "id": urllib.parse.unquote(path[len("/echo/"):]),
            }
            self.send_body(200, json.dumps(reply))
        elif path.startswith("/reviews/") and path.endswith(":watch"):
            self.watch(urllib.parse.unquote(path[len("/reviews/"):-len(":watch")]), q)
        elif path.startswith("/v1/shelves/") and path.endswith("/books"):
            shelf = path[len("/v1/"):-len("/books")]
            books = [{"name": shelf + "/books/1", "title": "One", "pages": 10},
                     {"name": shelf + "/books/2", "title": "Two", "isbn": "not in the proto"}]
            self.send_body(200, json.dumps(books))
        elif path.startswith("/v1/shelves/"):
            name = path[len("/v1/"):]
            self.send_body(200, json.dumps({"name": name, "title": "T", "pages": 3, "isbn": "ignored",
                                            "published": "2024-05-06T07:08:09Z"}))
        elif path.startswith("/raw/"):
            self.send_body(200, b"\x89PNG\r\n\x1a\n", "image/png")
        elif path.startswith("/upload/"):
            self.send_body(200, json.dumps({"name": path[len("/upload/"):],
                                            "title": self.headers.get("Content-Type", ""),
                                            "pages": len(body)}))
        else:
            self.send_body(404, json.dumps({"code": 5, "message": "no route for " + path}))

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client cancelled: expected in the tests

    do_GET = handle_any
    do_POST = handle_any
    do_PUT = handle_any
    do_PATCH = handle_any
    do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stderr.write("rest_backend.py: listening on 127.0.0.1:%d\n" % port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
