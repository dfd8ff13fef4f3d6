/*
 * http_client.h — internals of the upstream HTTP/1.1 client (the public face is
 * http_upstream.h): the incremental response parser, exposed so that its unit test can feed
 * it byte streams cut at every position. It does no I/O and knows nothing of connections.
 *
 * The parser takes the bytes received so far and reports one event per call: the head is
 * complete, a piece of body is ready, the response is done, more input is needed, or the
 * response is malformed. Chunked bodies are decoded in place (the input buffer is rewritten),
 * as picohttpparser does it.
 */
#ifndef PORTICO_UPSTREAM_HTTP_CLIENT_H
#define PORTICO_UPSTREAM_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "upstream/http_upstream.h"
#include "util/buf.h"
#include "util/error.h"

/*
 * picohttpparser, as bundled and exported by libh2o-evloop (h2o parses its own HTTP/1 with
 * it), whose header Debian does not install. The declarations are those of h2o's
 * deps/picohttpparser/picohttpparser.h; the chunked decoder's state sits in a union with
 * room to spare, in case a build of the library has the larger struct of later versions.
 */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_response(const char *buf, size_t len, int *minor_version, int *status, const char **msg, size_t *msg_len,
                       struct phr_header *headers, size_t *num_headers, size_t last_len);
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
};
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

/* Most header fields one response may have. */
#define UPSTREAM_HTTP_MAX_HEADERS 128

typedef enum upstream_http_parse_state {
    UPSTREAM_HTTP_PARSE_HEAD = 0,
    UPSTREAM_HTTP_PARSE_BODY_LENGTH,  /* Content-Length */
    UPSTREAM_HTTP_PARSE_BODY_CHUNKED, /* Transfer-Encoding: chunked */
    UPSTREAM_HTTP_PARSE_BODY_CLOSE,   /* until the server closes the connection */
    UPSTREAM_HTTP_PARSE_DONE,
    UPSTREAM_HTTP_PARSE_FAILED,
} upstream_http_parse_state_t;

/* Events returned by upstream_http_parser_feed. */
enum {
    UPSTREAM_HTTP_EV_ERROR = -1, /* malformed; |err| says why (code: UPSTREAM_HTTP_ERR_PROTOCOL or _TOO_LARGE) */
    UPSTREAM_HTTP_EV_MORE = 0,   /* need more input */
    UPSTREAM_HTTP_EV_HEAD = 1,   /* status and headers are known */
    UPSTREAM_HTTP_EV_DATA = 2,   /* a piece of body at *data / *data_len */
    UPSTREAM_HTTP_EV_DONE = 3,   /* the response is complete */
};

typedef struct upstream_http_parser {
    /* settings */
    size_t max_head;
    int method_is_head; /* the request was HEAD: no body whatever the headers say */
    /* results */
    upstream_http_parse_state_t state;
    int status;
    int minor_version;
    int keepalive;          /* the connection may carry another request afterwards */
    int64_t content_length; /* -1 when absent */
    upstream_header_t *headers;
    size_t n_headers;
    size_t trailing; /* bytes that followed the end of the response (the connection is then not reused) */
    /* private */
    uint64_t _remaining; /* BODY_LENGTH */
    union {
        struct phr_chunked_decoder d;
        uint64_t pad[8];
    } _chunked;
    util_buf_t _store; /* header names (lowercased) and values, NUL-terminated */
} upstream_http_parser_t;

void upstream_http_parser_init(upstream_http_parser_t *p, size_t max_head, int method_is_head);
void upstream_http_parser_dispose(upstream_http_parser_t *p);
/*
 * Consumes input: |data| / |len| are the bytes received and not yet consumed. Sets
 * |*consumed| to the bytes the caller must drop from the front of its buffer once it has used
 * the event (for DATA: after using *data, which points into |data|). May rewrite |data|
 * (chunked decoding). Call it again after every event but MORE, DONE and ERROR; after DONE,
 * |len| - |*consumed| bytes left over are recorded in p->trailing.
 */
int upstream_http_parser_feed(upstream_http_parser_t *p, char *data, size_t len, size_t *consumed, const char **body,
                              size_t *body_len, util_error_t *err);
/*
 * The connection ended. Returns UPSTREAM_HTTP_EV_DONE when that completes the response (a
 * body delimited by the close, or one already done), or UPSTREAM_HTTP_EV_ERROR with |err|
 * saying what was cut short (code UPSTREAM_HTTP_ERR_IO).
 */
int upstream_http_parser_eof(upstream_http_parser_t *p, util_error_t *err);

#endif
