#!/usr/bin/env python3
# frames.py — builds and reads gRPC-Web / Connect bodies for the integration tests.
#
#   frames.py encode [--text] [--flags N] [--length N] FILE...   one frame per FILE (its bytes),
#       to stdout; --length overrides the announced length of the frames (a lying prefix);
#       --text base64-encodes each frame on its own (padded chunks, as a streaming client sends)
#   frames.py decode [--text] [--connect] FILE                   one line per frame:
#       "msg HEX" for messages, "trailers a:b|c:d" for a gRPC-Web trailers frame (0x80),
#       "end JSON" for a Connect EndStreamResponse (0x02), "bad ..." for leftovers
import base64
import binascii
import sys


def encode(args):
    text = False
    flags = 0
    length = None
    files = []
    i = 0
    while i < len(args):
        if args[i] == "--text":
            text = True
        elif args[i] == "--flags":
            flags = int(args[i + 1], 0)
            i += 1
        elif args[i] == "--length":
            length = int(args[i + 1], 0)
            i += 1
        else:
            files.append(args[i])
        i += 1
    out = b""
    for f in files:
        data = open(f, "rb").read()
        n = len(data) if length is None else length
        frame = bytes([flags]) + n.to_bytes(4, "big") + data
        out += base64.b64encode(frame) if text else frame
    sys.stdout.buffer.write(out)


def decode(args):
    text = "--text" in args
    connect = "--connect" in args
    path = [a for a in args if not a.startswith("--")][0]
    data = open(path, "rb").read()
    if text:
        raw = b""
        chunk = data.replace(b"\r", b"").replace(b"\n", b"")
        # concatenated padded chunks: decode quantum by quantum
        i = 0
        while i < len(chunk):
            q = chunk[i:i + 4]
            raw += base64.b64decode(q + b"=" * (-len(q) % 4))
            i += 4
        data = raw
    off = 0
    while off < len(data):
        if len(data) - off < 5:
            print("bad truncated prefix")
            return
        flags = data[off]
        n = int.from_bytes(data[off + 1:off + 5], "big")
        body = data[off + 5:off + 5 + n]
        if len(body) < n:
            print("bad truncated message")
            return
        off += 5 + n
        if flags & 0x80 and not connect:
            print("trailers " + "|".join(l for l in body.decode().split("\r\n") if l))
        elif flags & 0x02 and connect:
            print("end " + body.decode())
        else:
            print("msg " + binascii.hexlify(body).decode())


if __name__ == "__main__":
    {"encode": encode, "decode": decode}[sys.argv[1]](sys.argv[2:])
