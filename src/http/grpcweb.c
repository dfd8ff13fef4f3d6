/*
 * grpcweb.c — gRPC-Web → gRPC → gRPC-Web for one request; see grpcweb.h.
 *
 * The request body arrives whole (h2o 2.2.5), so it is decoded (text mode) and checked
 * frame by frame before the upstream call starts: a malformed body never reaches the
 * backend and is answered trailers-only. The per-call state lives in the request pool with
 * a dispose hook that cancels the upstream call when the client goes away. Unary answers
 * are sent in one piece with a Content-Length; server streams go out message by message
 * through front_writer_t.
 *
 * The text-mode decoder is written here rather than taken from util/base64 because gRPC-Web
 * allows a body made of several independently padded chunks ("AAAA" "AA==" "AAA="), which a
 * plain base64 decoder rejects at the first '=' in the middle.
 */
#include "http/grpcweb.h"

#include <string.h>
#include <strings.h>

#include "http/errors.h"
#include "http/server.h"

/* ---- content type ----------------------------------------------------------------------- */

grpcweb_format_t grpcweb_content_type_parse(const char *value, size_t len)
{
    if (value == NULL)
        return GRPCWEB_NONE;
    size_t n = 0;
    while (n < len && value[n] != ';' && value[n] != ' ' && value[n] != '\t')
        n++;
    static const char base[] = "application/grpc-web";
    size_t bl = sizeof(base) - 1;
    if (n < bl || strncasecmp(value, base, bl) != 0)
        return GRPCWEB_NONE;
    const char *rest = value + bl;
    size_t rl = n - bl;
    grpcweb_format_t f = GRPCWEB_BINARY;
    if (rl >= 5 && strncasecmp(rest, "-text", 5) == 0) {
        f = GRPCWEB_TEXT;
        rest += 5;
        rl -= 5;
    }
    if (rl == 0 || (rl == 6 && strncasecmp(rest, "+proto", 6) == 0))
        return f;
    if (rest[0] == '+')
        return GRPCWEB_BAD_CODEC;
    return GRPCWEB_NONE; /* "application/grpc-webfoo" is something else */
}

/* ---- text mode ---------------------------------------------------------------------------- */

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

/* Appends the 1 to 3 bytes of a quantum of |n| (2 to 4) sextets. */
static void put_quantum(util_buf_t *out, const int *q, size_t n)
{
    uint8_t b[3];
    b[0] = (uint8_t)((q[0] << 2) | (q[1] >> 4));
    if (n > 2)
        b[1] = (uint8_t)((q[1] << 4) | (q[2] >> 2));
    if (n > 3)
        b[2] = (uint8_t)((q[2] << 6) | q[3]);
    util_buf_append(out, b, n - 1);
}

int grpcweb_text_decode(util_buf_t *out, const char *text, size_t len, util_error_t *err)
{
    int quad[4];
    size_t nq = 0, pad = 0, quantum_start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        if (nq == 0 && pad == 0)
            quantum_start = i;
        if (ch == '=') {
            /* padding closes a quantum of 2 or 3 characters: "xx==" or "xxx=" */
            if (nq < 2)
                return util_error_set(err, -1, "invalid base64 padding at offset %zu of the grpc-web-text body", i);
            if (++pad + nq == 4) {
                put_quantum(out, quad, nq);
                nq = pad = 0;
            }
            continue;
        }
        int v = b64_value(ch);
        if (v < 0)
            return util_error_set(err, -1, "invalid base64 character 0x%02x at offset %zu of the grpc-web-text body", ch, i);
        if (pad > 0)
            return util_error_set(err, -1, "invalid base64 padding at offset %zu of the grpc-web-text body", i);
        quad[nq++] = v;
        if (nq == 4) {
            put_quantum(out, quad, 4);
            nq = 0;
        }
    }
    if (pad > 0 || nq == 1)
        return util_error_set(err, -1, "truncated base64 quantum at offset %zu of the grpc-web-text body", quantum_start);
    if (nq > 1)
        put_quantum(out, quad, nq); /* a final chunk without its padding: tolerated */
    return 0;
}

/* ---- request frames ----------------------------------------------------------------------- */

grpc_code_t grpcweb_body_scan(const uint8_t *body, size_t len, size_t max_message,
                              void (*on_message)(void *ctx, const uint8_t *msg, size_t msg_len), void *ctx, size_t *count,
                              util_error_t *err)
{
    size_t off = 0, n = 0;
    *count = 0;
    while (off < len) {
        if (len - off < GRPC_FRAME_HEADER_SIZE) {
            util_error_set(err, -1, "truncated frame: %zu byte%s left where a 5-byte message prefix was expected", len - off,
                           len - off == 1 ? "" : "s");
            return GRPC_CODE_INVALID_ARGUMENT;
        }
        uint8_t flags = body[off];
        uint32_t mlen =
            (uint32_t)body[off + 1] << 24 | (uint32_t)body[off + 2] << 16 | (uint32_t)body[off + 3] << 8 | body[off + 4];
        if (flags & 0x01) {
            util_error_set(err, -1, "message %zu is compressed, but no request compression is supported", n + 1);
            return GRPC_CODE_INTERNAL;
        }
        if (flags != 0) {
            util_error_set(err, -1, "message %zu has invalid frame flags 0x%02x", n + 1, flags);
            return GRPC_CODE_INTERNAL;
        }
        if (mlen > max_message) {
            util_error_set(err, -1, "message %zu is %u bytes, larger than the limit of %zu", n + 1, mlen, max_message);
            return GRPC_CODE_RESOURCE_EXHAUSTED;
        }
        off += GRPC_FRAME_HEADER_SIZE;
        if (len - off < mlen) {
            util_error_set(err, -1, "truncated frame: message %zu announces %u bytes but only %zu follow", n + 1, mlen, len - off);
            return GRPC_CODE_INVALID_ARGUMENT;
        }
        if (on_message != NULL)
            on_message(ctx, body + off, mlen);
        off += mlen;
        n++;
    }
    *count = n;
    return GRPC_CODE_OK;
}

/* ---- trailers ------------------------------------------------------------------------------- */

int grpcweb_trailer_passes(const char *name, size_t len)
{
    if (len == 23 && strncasecmp(name, "grpc-status-details-bin", 23) == 0)
        return 1;
    if (len == 0 || grpc_metadata_is_reserved(name, len) || grpc_metadata_is_hop_by_hop(name, len, "", 0))
        return 0;
    /* names a browser must not see from a backend: they would change how the response is read */
    static const char *const blocked[] = {"content-encoding", "set-cookie", "vary", "date", "server"};
    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        if (strlen(blocked[i]) == len && strncasecmp(blocked[i], name, len) == 0)
            return 0;
    return !(len >= 15 && strncasecmp(name, "access-control-", 15) == 0);
}

static void put_lower(util_buf_t *b, const char *s, size_t n)
{
    if (util_buf_reserve(b, n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        b->data[b->len++] = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
}

void grpcweb_trailers_frame(util_buf_t *out, int code, const char *message, size_t message_len, const upstream_header_t *trailers,
                            size_t n_trailers)
{
    size_t start = out->len;
    uint8_t hdr[GRPC_FRAME_HEADER_SIZE] = {0x80, 0, 0, 0, 0};
    util_buf_append(out, hdr, sizeof(hdr));
    util_buf_printf(out, "grpc-status:%d\r\n", code);
    if (message_len > 0) {
        util_buf_puts(out, "grpc-message:");
        grpc_message_percent_encode(out, message, message_len);
        util_buf_puts(out, "\r\n");
    }
    for (size_t i = 0; i < n_trailers; i++) {
        const upstream_header_t *h = &trailers[i];
        if (!grpcweb_trailer_passes(h->name, h->name_len))
            continue;
        put_lower(out, h->name, h->name_len);
        util_buf_putc(out, ':');
        util_buf_append(out, h->value, h->value_len);
        util_buf_puts(out, "\r\n");
    }
    if (util_buf_failed(out))
        return;
    size_t plen = out->len - start - GRPC_FRAME_HEADER_SIZE;
    grpc_frame_header_write(out->data + start, 0, (uint32_t)plen);
    out->data[start] = 0x80;
}

/* ---- the call -------------------------------------------------------------------------------- */

typedef struct grpcweb_call {
    front_writer_t w; /* first: the generator h2o hands back */
    front_target_t t;
    front_call_t call;
    int text;
    int streaming; /* server streaming: flush message by message */
    size_t n_messages;
} grpcweb_call_t;

static void call_dispose(void *p)
{
    grpcweb_call_t *c = p;
    front_call_cancel(&c->call);
    front_writer_dispose(&c->w);
}

static void on_writer_stop(front_writer_t *w)
{
    grpcweb_call_t *c = (grpcweb_call_t *)w;
    front_call_cancel(&c->call);
}

static const char *response_type(int text)
{
    return text ? "application/grpc-web-text+proto" : "application/grpc-web+proto";
}

static void add_metadata(h2o_req_t *req, const upstream_header_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!grpcweb_trailer_passes(h[i].name, h[i].name_len))
            continue;
        h2o_iovec_t name = h2o_strdup(&req->pool, h[i].name, h[i].name_len);
        h2o_strtolower(name.base, name.len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 0, NULL,
                              h2o_strdup(&req->pool, h[i].value, h[i].value_len).base, h[i].value_len);
    }
}

/* A trailers-only answer: the status in the headers, an empty body. Also used for errors
 * found before any upstream call exists. */
static void send_trailers_only(h2o_req_t *req, int text, int code, const char *msg, size_t msg_len,
                               const upstream_header_t *trailers, size_t n_trailers)
{
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = 0;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, response_type(text), strlen(response_type(text)));
    char num[16];
    int nl = snprintf(num, sizeof(num), "%d", code);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("grpc-status"), 0, NULL, h2o_strdup(&req->pool, num, nl).base,
                          (size_t)nl);
    if (msg_len > 0) {
        util_buf_t b = UTIL_BUF_INIT;
        grpc_message_percent_encode(&b, msg, msg_len);
        if (!util_buf_failed(&b))
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("grpc-message"), 0, NULL,
                                  h2o_strdup(&req->pool, (const char *)b.data, b.len).base, b.len);
        util_buf_dispose(&b);
    }
    add_metadata(req, trailers, n_trailers);
    front_cors_expose_response_headers(req);
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

int grpcweb_send_status(h2o_req_t *req, grpcweb_format_t format, int code, const char *message)
{
    http_worker_track_request(http_worker_current(), req);
    send_trailers_only(req, format == GRPCWEB_TEXT, code, message, strlen(message), NULL, 0);
    return 0;
}

static void start_response(grpcweb_call_t *c, size_t content_length)
{
    h2o_req_t *req = c->w.req;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = content_length;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, response_type(c->text),
                   strlen(response_type(c->text)));
    front_cors_expose_response_headers(req);
    front_writer_start(&c->w);
}

static void on_upstream_headers(void *ctx, const upstream_header_t *headers, size_t n)
{
    grpcweb_call_t *c = ctx;
    if (!c->w.started)
        add_metadata(c->w.req, headers, n);
}

static void on_upstream_message(void *ctx, const uint8_t *data, size_t len)
{
    grpcweb_call_t *c = ctx;
    c->n_messages++;
    if (!c->streaming) {
        /* a unary call answers once; a second message is reported at close */
        if (c->n_messages == 1)
            grpc_frame_append(&c->w.pending, data, len, 0);
        return;
    }
    if (!c->w.started)
        start_response(c, SIZE_MAX);
    grpc_frame_append(&c->w.pending, data, len, 0);
    front_writer_flush(&c->w);
}

static void on_upstream_close(void *ctx, const upstream_grpc_result_t *res)
{
    grpcweb_call_t *c = ctx;
    front_call_closed(&c->call);
    int code = res->code;
    const char *msg = res->message;
    size_t msg_len = res->message_len;
    const upstream_header_t *trailers = res->trailers;
    size_t n_trailers = res->n_trailers;
    if (!c->streaming && code == GRPC_CODE_OK && c->n_messages != 1) {
        code = GRPC_CODE_INTERNAL;
        msg = c->n_messages == 0 ? "upstream sent no response message" : "upstream sent more than one response message";
        msg_len = strlen(msg);
    }
    if (!c->w.started && c->n_messages == 0) {
        send_trailers_only(c->w.req, c->text, code, msg, msg_len, trailers, n_trailers);
        return;
    }
    grpcweb_trailers_frame(&c->w.pending, code, msg, msg_len, trailers, n_trailers);
    if (!c->w.started) {
        size_t n = c->w.pending.len;
        start_response(c, c->text ? (n + 2) / 3 * 4 : n);
    }
    front_writer_finish(&c->w);
}

static const upstream_grpc_callbacks_t upstream_callbacks = {
    .on_headers = on_upstream_headers,
    .on_message = on_upstream_message,
    .on_close = on_upstream_close,
};

int grpcweb_handle(h2o_req_t *req, const front_target_t *t, grpcweb_format_t format)
{
    http_worker_track_request(http_worker_current(), req);
    int text = format == GRPCWEB_TEXT;
    if (format == GRPCWEB_BAD_CODEC) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("accept-post"), 0, NULL,
                              H2O_STRLIT("application/grpc-web+proto, application/grpc-web-text+proto"));
        http_error_sendf(req, 415,
                         "gRPC-Web supports only the proto codec (application/grpc-web+proto, "
                         "application/grpc-web-text+proto)");
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        http_error_sendf(req, 405, "gRPC-Web calls use POST, not %.*s", (int)(req->method.len > 20 ? 20 : req->method.len),
                         req->method.base);
        return 0;
    }

    /* the request body: decoded and checked before anything is sent upstream */
    util_buf_t decoded = UTIL_BUF_INIT;
    const uint8_t *body = (const uint8_t *)req->entity.base;
    size_t body_len = req->entity.len;
    util_error_t err = {0};
    if (text) {
        if (grpcweb_text_decode(&decoded, req->entity.base, req->entity.len, &err) != 0) {
            util_buf_dispose(&decoded);
            send_trailers_only(req, text, GRPC_CODE_INVALID_ARGUMENT, err.message, strlen(err.message), NULL, 0);
            return 0;
        }
        body = decoded.data;
        body_len = decoded.len;
    }
    size_t max_message = (size_t)t->g->config->limits.max_request_body_bytes;
    size_t count = 0;
    grpc_code_t code = grpcweb_body_scan(body, body_len, max_message, NULL, NULL, &count, &err);
    if (code == GRPC_CODE_OK && !t->method->client_streaming && count != 1) {
        code = GRPC_CODE_INVALID_ARGUMENT;
        util_error_set(&err, -1, "%s takes exactly one request message, the request has %zu", t->method->full_name, count);
    }
    if (code != GRPC_CODE_OK) {
        util_buf_dispose(&decoded);
        send_trailers_only(req, text, code, err.message, strlen(err.message), NULL, 0);
        return 0;
    }

    upstream_header_t md[FRONT_MAX_METADATA];
    size_t n_md = front_metadata_collect(req, md, FRONT_MAX_METADATA);
    int64_t client_ms = 0;
    ssize_t ti = h2o_find_header_by_str(&req->headers, H2O_STRLIT("grpc-timeout"), -1);
    if (ti >= 0 &&
        grpc_timeout_parse(req->headers.entries[ti].value.base, req->headers.entries[ti].value.len, &client_ms, &err) != 0) {
        util_buf_dispose(&decoded);
        send_trailers_only(req, text, GRPC_CODE_INVALID_ARGUMENT, err.message, strlen(err.message), NULL, 0);
        return 0;
    }

    grpcweb_call_t *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), call_dispose);
    memset(c, 0, sizeof(*c));
    front_writer_init(&c->w, req, text, on_writer_stop);
    c->t = *t;
    c->text = text;
    c->streaming = t->method->server_streaming;

    if (front_call_start(&c->call, t, body, body_len, md, n_md, front_deadline_ms(t, client_ms), &upstream_callbacks, c, &code,
                         &err) != 0)
        send_trailers_only(req, text, code, err.message, strlen(err.message), NULL, 0);
    util_buf_dispose(&decoded);
    return 0;
}
