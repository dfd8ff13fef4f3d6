/*
 * connect.c — Connect → gRPC → Connect for one request; see connect.h.
 *
 * Like grpcweb.c, the whole request is checked (and, for the JSON codec, converted to
 * protobuf) before the upstream call starts, so malformed input is answered without
 * touching the backend. Unary answers are built whole at close (the status code depends on
 * the outcome); streams go out envelope by envelope through front_writer_t and always end
 * with the EndStreamResponse. The per-call state lives in the request pool with a dispose
 * hook that cancels the upstream call when the client goes away.
 */
#include "http/connect.h"

#include <string.h>
#include <strings.h>

#include "grpc/grpc.h"
#include "http/grpcweb.h"
#include "http/server.h"
#include "proto/wire.h"
#include "util/base64.h"
#include "util/json_quote.h"
#include "util/hex.h"

#define CONNECT_FLAG_END_STREAM 0x02

/* ---- content types, timeouts, GET queries ---------------------------------------------------- */

connect_kind_t connect_content_type_parse(const char *value, size_t len, connect_codec_t *codec)
{
    *codec = CONNECT_CODEC_NONE;
    if (value == NULL)
        return CONNECT_KIND_OTHER;
    size_t n = 0;
    while (n < len && value[n] != ';' && value[n] != ' ' && value[n] != '\t')
        n++;
    if (n == 17 && strncasecmp(value, "application/proto", 17) == 0) {
        *codec = CONNECT_CODEC_PROTO;
        return CONNECT_KIND_UNARY;
    }
    if (n == 16 && strncasecmp(value, "application/json", 16) == 0) {
        *codec = CONNECT_CODEC_JSON;
        return CONNECT_KIND_UNARY;
    }
    if (n >= 20 && strncasecmp(value, "application/connect+", 20) == 0) {
        if (n == 25 && strncasecmp(value + 20, "proto", 5) == 0)
            *codec = CONNECT_CODEC_PROTO;
        else if (n == 24 && strncasecmp(value + 20, "json", 4) == 0)
            *codec = CONNECT_CODEC_JSON;
        return CONNECT_KIND_STREAM;
    }
    return CONNECT_KIND_OTHER;
}

int connect_timeout_parse(const char *value, size_t len, int64_t *ms, util_error_t *err)
{
    if (len == 0 || len > 10)
        return util_error_set(err, -1, "Connect-Timeout-Ms \"%.*s\" is not 1 to 10 digits", (int)(len > 20 ? 20 : len), value);
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return util_error_set(err, -1, "Connect-Timeout-Ms \"%.*s\" is not a number", (int)len, value);
        v = v * 10 + (value[i] - '0');
    }
    *ms = v;
    return 0;
}

/* Query-string decoding as Go's net/url does it (connect-go is the reference): "%XX", '+' is a space. */
static int query_unescape(util_buf_t *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = util_hex_value((unsigned char)s[i + 1])) < 0 || (lo = util_hex_value((unsigned char)s[i + 2])) < 0)
                return -1;
            util_buf_putc(out, (uint8_t)(hi << 4 | lo));
            i += 2;
        } else {
            util_buf_putc(out, s[i] == '+' ? ' ' : (uint8_t)s[i]);
        }
    }
    return 0;
}

static int param_is(const char *k, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

int connect_get_parse(const char *query, size_t len, util_buf_t *message, connect_codec_t *codec, util_error_t *err)
{
    const char *msg = NULL, *enc = NULL;
    size_t msg_len = 0, enc_len = 0;
    int b64 = 0;
    *codec = CONNECT_CODEC_NONE;
    size_t i = 0;
    while (i <= len && len > 0) {
        size_t start = i;
        while (i < len && query[i] != '&')
            i++;
        const char *kv = query + start;
        size_t kvlen = i - start;
        i++;
        if (kvlen == 0)
            continue;
        const char *eq = memchr(kv, '=', kvlen);
        size_t klen = eq ? (size_t)(eq - kv) : kvlen;
        const char *v = eq ? eq + 1 : kv + kvlen;
        size_t vlen = eq ? kvlen - klen - 1 : 0;
        if (param_is(kv, klen, "connect")) {
            if (!(vlen == 2 && memcmp(v, "v1", 2) == 0))
                return util_error_set(err, CONNECT_ERR_BAD_REQUEST, "connect=%.*s is not a supported protocol version (v1)",
                                      (int)(vlen > 20 ? 20 : vlen), v);
        } else if (param_is(kv, klen, "encoding")) {
            enc = v;
            enc_len = vlen;
        } else if (param_is(kv, klen, "message")) {
            msg = v;
            msg_len = vlen;
        } else if (param_is(kv, klen, "base64")) {
            if (vlen == 1 && v[0] == '1')
                b64 = 1;
            else if (!(vlen == 1 && v[0] == '0'))
                return util_error_set(err, CONNECT_ERR_BAD_REQUEST, "base64=%.*s must be 1 or 0", (int)(vlen > 20 ? 20 : vlen), v);
        } else if (param_is(kv, klen, "compression")) {
            if (vlen != 0 && !(vlen == 8 && memcmp(v, "identity", 8) == 0))
                return util_error_set(err, CONNECT_ERR_COMPRESSION, "compression \"%.*s\" is not supported (only identity)",
                                      (int)(vlen > 40 ? 40 : vlen), v);
        }
        /* other parameters are ignored, as the protocol asks (cache busters, tracking ...) */
    }
    if (enc == NULL)
        return util_error_set(err, CONNECT_ERR_ENCODING, "the encoding query parameter is missing (json or proto)");
    if (enc_len == 4 && memcmp(enc, "json", 4) == 0)
        *codec = CONNECT_CODEC_JSON;
    else if (enc_len == 5 && memcmp(enc, "proto", 5) == 0)
        *codec = CONNECT_CODEC_PROTO;
    else
        return util_error_set(err, CONNECT_ERR_ENCODING, "encoding \"%.*s\" is not supported (json or proto)",
                              (int)(enc_len > 40 ? 40 : enc_len), enc);
    if (msg == NULL)
        return 0; /* no message parameter: the empty message */
    util_buf_t raw = UTIL_BUF_INIT;
    int rc = 0;
    if (query_unescape(b64 ? &raw : message, msg, msg_len) != 0) {
        rc = util_error_set(err, CONNECT_ERR_BAD_REQUEST, "the message query parameter has malformed percent-encoding");
    } else if (b64 && util_base64_decode(message, (const char *)raw.data, raw.len) != 0) {
        rc = util_error_set(err, CONNECT_ERR_BAD_REQUEST, "the message query parameter is not valid base64");
    }
    util_buf_dispose(&raw);
    return rc;
}

/* ---- error JSON ------------------------------------------------------------------------------ */

/* Reads a length-delimited field value; returns 0 or -1 on malformed wire data. */
static int read_len(const uint8_t **p, const uint8_t *end, const uint8_t **v, size_t *vlen)
{
    uint64_t n;
    if (wire_read_varint(p, end, &n) != 0 || n > (uint64_t)(end - *p))
        return -1;
    *v = *p;
    *vlen = (size_t)n;
    *p += n;
    return 0;
}

/* Skips a field of |wire_type|; returns 0 or -1. */
static int skip_field(const uint8_t **p, const uint8_t *end, int wire_type)
{
    uint64_t n;
    const uint8_t *v;
    size_t vl;
    switch (wire_type) {
    case 0:
        return wire_read_varint(p, end, &n);
    case 1:
        if (end - *p < 8)
            return -1;
        *p += 8;
        return 0;
    case 2:
        return read_len(p, end, &v, &vl);
    case 5:
        if (end - *p < 4)
            return -1;
        *p += 4;
        return 0;
    default:
        return -1;
    }
}

/* Appends one {"type":...,"value":...,"debug":...} for the google.protobuf.Any at |any|. */
static int put_detail(util_buf_t *out, const proto_registry_t *r, const uint8_t *any, size_t len, int first)
{
    const uint8_t *p = any, *end = any + len, *url = NULL, *value = NULL;
    size_t url_len = 0, value_len = 0;
    while (p < end) {
        uint64_t tag;
        if (wire_read_varint(&p, end, &tag) != 0)
            return -1;
        if ((tag >> 3) == 1 && (tag & 7) == 2) {
            if (read_len(&p, end, &url, &url_len) != 0)
                return -1;
        } else if ((tag >> 3) == 2 && (tag & 7) == 2) {
            if (read_len(&p, end, &value, &value_len) != 0)
                return -1;
        } else if (skip_field(&p, end, (int)(tag & 7)) != 0) {
            return -1;
        }
    }
    size_t name_at = 0;
    for (size_t i = 0; i < url_len; i++)
        if (url[i] == '/')
            name_at = i + 1;
    if (!first)
        util_buf_putc(out, ',');
    util_buf_puts(out, "{\"type\":");
    util_json_quote(out, url != NULL ? (const char *)url + name_at : "", url_len - name_at);
    util_buf_puts(out, ",\"value\":\"");
    grpc_metadata_bin_encode(out, value, value_len);
    util_buf_putc(out, '"');
    const proto_message_t *m = r != NULL && url != NULL ? proto_registry_find_type_url(r, (const char *)url, url_len) : NULL;
    if (m != NULL) {
        util_buf_t json = UTIL_BUF_INIT;
        util_error_t err;
        codec_options_t opt = {0};
        if (codec_pb_to_json(r, m, value != NULL ? value : (const uint8_t *)"", value_len, &opt, &json, &err) == 0 &&
            !util_buf_failed(&json)) {
            util_buf_puts(out, ",\"debug\":");
            util_buf_append(out, json.data, json.len);
        }
        util_buf_dispose(&json);
    }
    util_buf_putc(out, '}');
    return 0;
}

static void put_details(util_buf_t *out, const proto_registry_t *r, const uint8_t *status_pb, size_t status_len)
{
    if (status_pb == NULL)
        return;
    /* a first pass finds the details so that a malformed Status prints nothing at all */
    const uint8_t *p = status_pb, *end = status_pb + status_len;
    size_t n = 0;
    while (p < end) {
        uint64_t tag;
        const uint8_t *v;
        size_t vl;
        if (wire_read_varint(&p, end, &tag) != 0)
            return;
        if ((tag >> 3) == 3 && (tag & 7) == 2) {
            if (read_len(&p, end, &v, &vl) != 0)
                return;
            n++;
        } else if (skip_field(&p, end, (int)(tag & 7)) != 0) {
            return;
        }
    }
    if (n == 0)
        return;
    size_t mark = out->len;
    util_buf_puts(out, ",\"details\":[");
    p = status_pb;
    int first = 1;
    while (p < end) {
        uint64_t tag = 0;
        const uint8_t *v = NULL;
        size_t vl = 0;
        if (wire_read_varint(&p, end, &tag) != 0)
            break; /* not reached: the first pass walked the same bytes */
        if ((tag >> 3) == 3 && (tag & 7) == 2) {
            if (read_len(&p, end, &v, &vl) != 0 || put_detail(out, r, v, vl, first) != 0) {
                out->len = mark;
                return;
            }
            first = 0;
        } else if (skip_field(&p, end, (int)(tag & 7)) != 0) {
            break;
        }
    }
    util_buf_putc(out, ']');
}

void connect_error_json(util_buf_t *out, const proto_registry_t *r, int code, const char *message, size_t message_len,
                        const uint8_t *status_pb, size_t status_len)
{
    const char *name = grpc_code_connect_name(code);
    if (name == NULL || code == GRPC_CODE_OK)
        name = "unknown"; /* an error cannot carry "ok" */
    util_buf_puts(out, "{\"code\":\"");
    util_buf_puts(out, name);
    util_buf_putc(out, '"');
    if (message_len > 0) {
        util_buf_puts(out, ",\"message\":");
        util_json_quote(out, message, message_len);
    }
    put_details(out, r, status_pb, status_len);
    util_buf_putc(out, '}');
}

/* The decoded grpc-status-details-bin of |trailers| into |raw|; 0 when there is one. */
static int find_details(const upstream_header_t *trailers, size_t n, util_buf_t *raw)
{
    for (size_t i = 0; i < n; i++)
        if (trailers[i].name_len == 23 && strncasecmp(trailers[i].name, "grpc-status-details-bin", 23) == 0)
            return grpc_metadata_bin_decode(raw, trailers[i].value, trailers[i].value_len, NULL);
    return -1;
}

static int is_details_bin(const char *name, size_t len)
{
    return len == 23 && strncasecmp(name, "grpc-status-details-bin", 23) == 0;
}

void connect_end_stream_json(util_buf_t *out, const proto_registry_t *r, int code, const char *message, size_t message_len,
                             const upstream_header_t *trailers, size_t n_trailers)
{
    util_buf_putc(out, '{');
    int any = 0;
    if (code != GRPC_CODE_OK) {
        util_buf_t raw = UTIL_BUF_INIT;
        int have = find_details(trailers, n_trailers, &raw) == 0;
        util_buf_puts(out, "\"error\":");
        connect_error_json(out, r, code, message, message_len, have ? raw.data : NULL, have ? raw.len : 0);
        util_buf_dispose(&raw);
        any = 1;
    }
    int open = 0;
    for (size_t i = 0; i < n_trailers; i++) {
        const upstream_header_t *h = &trailers[i];
        if (!grpcweb_trailer_passes(h->name, h->name_len) || is_details_bin(h->name, h->name_len))
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = trailers[j].name_len == h->name_len && strncasecmp(trailers[j].name, h->name, h->name_len) == 0;
        if (seen)
            continue;
        util_buf_puts(out, open ? "," : any ? ",\"metadata\":{" : "\"metadata\":{");
        open = 1;
        util_buf_t lname = UTIL_BUF_INIT;
        for (size_t k = 0; k < h->name_len; k++)
            util_buf_putc(&lname, (uint8_t)(h->name[k] >= 'A' && h->name[k] <= 'Z' ? h->name[k] - 'A' + 'a' : h->name[k]));
        util_json_quote(out, (const char *)lname.data, lname.len);
        util_buf_dispose(&lname);
        util_buf_puts(out, ":[");
        int first = 1;
        for (size_t j = i; j < n_trailers; j++) {
            if (trailers[j].name_len != h->name_len || strncasecmp(trailers[j].name, h->name, h->name_len) != 0)
                continue;
            if (!first)
                util_buf_putc(out, ',');
            util_json_quote(out, trailers[j].value, trailers[j].value_len);
            first = 0;
        }
        util_buf_putc(out, ']');
    }
    if (open)
        util_buf_putc(out, '}');
    util_buf_putc(out, '}');
}

/* ---- the call ------------------------------------------------------------------------------- */

typedef struct connect_call {
    front_writer_t w; /* first: the generator h2o hands back (streams) */
    front_target_t t;
    front_call_t call;
    connect_codec_t codec;
    int streaming; /* the streaming protocol (envelopes) */
    size_t n_messages;
    util_buf_t unary; /* the response message of a unary call */
    util_buf_t body;  /* the unary response body */
} connect_call_t;

static void call_dispose(void *p)
{
    connect_call_t *c = p;
    front_call_cancel(&c->call);
    front_writer_dispose(&c->w);
    util_buf_dispose(&c->unary);
    util_buf_dispose(&c->body);
}

static void on_writer_stop(front_writer_t *w)
{
    connect_call_t *c = (connect_call_t *)w;
    front_call_cancel(&c->call);
}

static const char *codec_type(connect_codec_t codec, int streaming)
{
    if (streaming)
        return codec == CONNECT_CODEC_JSON ? "application/connect+json" : "application/connect+proto";
    return codec == CONNECT_CODEC_JSON ? "application/json" : "application/proto";
}

static void add_header(h2o_req_t *req, const char *prefix, const char *name, size_t name_len, const char *value, size_t value_len)
{
    size_t pl = strlen(prefix);
    char *n = h2o_mem_alloc_pool(&req->pool, pl + name_len);
    memcpy(n, prefix, pl);
    memcpy(n + pl, name, name_len);
    h2o_strtolower(n, pl + name_len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, n, pl + name_len, 0, NULL, h2o_strdup(&req->pool, value, value_len).base,
                          value_len);
}

/* Response metadata as headers (|prefix| "" for initial metadata, "trailer-" for trailing). */
static void add_metadata(h2o_req_t *req, const char *prefix, const upstream_header_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (grpcweb_trailer_passes(h[i].name, h[i].name_len) && !is_details_bin(h[i].name, h[i].name_len))
            add_header(req, prefix, h[i].name, h[i].name_len, h[i].value, h[i].value_len);
}

/* Sends |body| (kept alive by the caller until the request is done) with |status|. */
static void send_whole(h2o_req_t *req, int status, const char *content_type, util_buf_t *body)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = status;
    req->res.reason = status == 200 ? "OK" : "Error";
    req->res.content_length = body->len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    front_cors_expose_response_headers(req);
    h2o_start_response(req, &generator);
    h2o_iovec_t iov = h2o_iovec_init(body->data, body->len);
    h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
}

/* A unary error answered before any call exists: the body is copied into the request pool. */
static void send_unary_error(h2o_req_t *req, const proto_registry_t *r, int http_status, int code, const char *msg)
{
    util_buf_t b = UTIL_BUF_INIT;
    connect_error_json(&b, r, code, msg, strlen(msg), NULL, 0);
    util_buf_putc(&b, '\n');
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = http_status != 0 ? http_status : grpc_code_to_http(code);
    req->res.reason = "Error";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    front_cors_expose_response_headers(req);
    if (util_buf_failed(&b)) {
        util_buf_dispose(&b);
        b = (util_buf_t)UTIL_BUF_INIT;
        util_buf_puts(&b, "{\"code\":\"resource_exhausted\",\"message\":\"out of memory\"}\n");
    }
    h2o_iovec_t body = h2o_strdup(&req->pool, (const char *)b.data, b.len);
    util_buf_dispose(&b);
    req->res.content_length = body.len;
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

int connect_send_error(h2o_req_t *req, const proto_registry_t *r, int http_status, int code, const char *message)
{
    http_worker_track_request(http_worker_current(), req);
    send_unary_error(req, r, http_status, code, message);
    return 0;
}

/* Appends one envelope: |flags|, the length, the payload. */
static void put_envelope(util_buf_t *out, uint8_t flags, const void *data, size_t len)
{
    uint8_t hdr[GRPC_FRAME_HEADER_SIZE];
    grpc_frame_header_write(hdr, 0, (uint32_t)len);
    hdr[0] = flags;
    util_buf_append(out, hdr, sizeof(hdr));
    util_buf_append(out, data, len);
}

/* A streaming answer that is only an EndStreamResponse (errors before the call). */
static void send_stream_error(h2o_req_t *req, const proto_registry_t *r, connect_codec_t codec, int code, const char *msg)
{
    util_buf_t json = UTIL_BUF_INIT, b = UTIL_BUF_INIT;
    connect_end_stream_json(&json, r, code, msg, strlen(msg), NULL, 0);
    put_envelope(&b, CONNECT_FLAG_END_STREAM, json.data, json.len);
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, codec_type(codec, 1), strlen(codec_type(codec, 1)));
    front_cors_expose_response_headers(req);
    h2o_iovec_t body = h2o_strdup(&req->pool, (const char *)b.data, b.len);
    util_buf_dispose(&json);
    util_buf_dispose(&b);
    req->res.content_length = body.len;
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* ---- upstream callbacks ---------------------------------------------------------------------- */

static void start_stream(connect_call_t *c)
{
    h2o_req_t *req = c->w.req;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, codec_type(c->codec, 1),
                   strlen(codec_type(c->codec, 1)));
    front_cors_expose_response_headers(req);
    front_writer_start(&c->w);
}

static void end_stream(connect_call_t *c, int code, const char *msg, size_t msg_len, const upstream_header_t *trailers,
                       size_t n_trailers)
{
    util_buf_t json = UTIL_BUF_INIT;
    connect_end_stream_json(&json, c->t.g->registry, code, msg, msg_len, trailers, n_trailers);
    put_envelope(&c->w.pending, CONNECT_FLAG_END_STREAM, json.data, json.len);
    util_buf_dispose(&json);
    if (!c->w.started)
        start_stream(c);
    front_writer_finish(&c->w);
}

static void on_upstream_headers(void *ctx, const upstream_header_t *headers, size_t n)
{
    connect_call_t *c = ctx;
    if (!c->w.started)
        add_metadata(c->w.req, "", headers, n);
}

static void on_upstream_message(void *ctx, const uint8_t *data, size_t len)
{
    connect_call_t *c = ctx;
    c->n_messages++;
    if (!c->streaming) {
        if (c->n_messages == 1)
            util_buf_append(&c->unary, data, len);
        return;
    }
    if (c->w.final_queued)
        return;
    if (!c->w.started)
        start_stream(c);
    if (c->codec == CONNECT_CODEC_PROTO) {
        put_envelope(&c->w.pending, 0, data, len);
    } else {
        size_t mark = c->w.pending.len;
        uint8_t hdr[GRPC_FRAME_HEADER_SIZE] = {0};
        util_buf_append(&c->w.pending, hdr, sizeof(hdr));
        util_error_t err;
        if (codec_pb_to_json(c->t.g->registry, c->t.method->output, data, len, &c->t.json_out, &c->w.pending, &err) != 0) {
            c->w.pending.len = mark;
            front_call_cancel(&c->call);
            end_stream(c, GRPC_CODE_INTERNAL, err.message, strlen(err.message), NULL, 0);
            return;
        }
        if (!util_buf_failed(&c->w.pending))
            grpc_frame_header_write(c->w.pending.data + mark, 0, (uint32_t)(c->w.pending.len - mark - GRPC_FRAME_HEADER_SIZE));
    }
    front_writer_flush(&c->w);
}

static void finish_unary(connect_call_t *c, int code, const char *msg, size_t msg_len, const upstream_header_t *trailers,
                         size_t n_trailers)
{
    h2o_req_t *req = c->w.req;
    const proto_registry_t *r = c->t.g->registry;
    if (code == GRPC_CODE_OK && c->n_messages != 1) {
        code = GRPC_CODE_INTERNAL;
        msg = c->n_messages == 0 ? "upstream sent no response message" : "upstream sent more than one response message";
        msg_len = strlen(msg);
    }
    util_error_t err;
    if (code == GRPC_CODE_OK) {
        if (c->codec == CONNECT_CODEC_PROTO) {
            util_buf_append(&c->body, c->unary.data, c->unary.len);
        } else if (codec_pb_to_json(r, c->t.method->output, c->unary.data, c->unary.len, &c->t.json_out, &c->body, &err) != 0) {
            c->body.len = 0;
            code = GRPC_CODE_INTERNAL;
            msg = err.message;
            msg_len = strlen(msg);
            trailers = NULL;
            n_trailers = 0;
        }
    }
    if (code == GRPC_CODE_OK && !util_buf_failed(&c->body)) {
        add_metadata(req, "trailer-", trailers, n_trailers);
        send_whole(req, 200, codec_type(c->codec, 0), &c->body);
        return;
    }
    if (code == GRPC_CODE_OK) {
        code = GRPC_CODE_RESOURCE_EXHAUSTED;
        msg = "out of memory";
        msg_len = strlen(msg);
    }
    util_buf_t raw = UTIL_BUF_INIT;
    int have = find_details(trailers, n_trailers, &raw) == 0;
    util_buf_dispose(&c->body);
    util_buf_init(&c->body);
    connect_error_json(&c->body, r, code, msg, msg_len, have ? raw.data : NULL, have ? raw.len : 0);
    util_buf_putc(&c->body, '\n');
    util_buf_dispose(&raw);
    add_metadata(req, "trailer-", trailers, n_trailers);
    send_whole(req, grpc_code_to_http(code), "application/json", &c->body);
}

static void on_upstream_close(void *ctx, const upstream_grpc_result_t *res)
{
    connect_call_t *c = ctx;
    front_call_closed(&c->call);
    if (c->streaming) {
        if (!c->w.final_queued)
            end_stream(c, res->code, res->message, res->message_len, res->trailers, res->n_trailers);
        return;
    }
    finish_unary(c, res->code, res->message, res->message_len, res->trailers, res->n_trailers);
}

static const upstream_grpc_callbacks_t upstream_callbacks = {
    .on_headers = on_upstream_headers,
    .on_message = on_upstream_message,
    .on_close = on_upstream_close,
};

/* ---- requests ------------------------------------------------------------------------------- */

static const h2o_iovec_t *find_header(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i >= 0 ? &req->headers.entries[i].value : NULL;
}

/* Common checks of both kinds: protocol version, timeout, compression. Returns 0, or the
 * gRPC code to fail with (|err| says why). */
static int check_common(h2o_req_t *req, int streaming, int64_t *client_ms, util_error_t *err)
{
    const h2o_iovec_t *v = find_header(req, H2O_STRLIT("connect-protocol-version"));
    if (v != NULL && !h2o_memis(v->base, v->len, H2O_STRLIT("1"))) {
        util_error_set(err, -1, "Connect-Protocol-Version \"%.*s\" is not supported (1)", (int)(v->len > 20 ? 20 : v->len),
                       v->base);
        return GRPC_CODE_INVALID_ARGUMENT;
    }
    *client_ms = 0;
    if ((v = find_header(req, H2O_STRLIT("connect-timeout-ms"))) != NULL &&
        connect_timeout_parse(v->base, v->len, client_ms, err) != 0)
        return GRPC_CODE_INVALID_ARGUMENT;
    v = streaming ? find_header(req, H2O_STRLIT("connect-content-encoding")) : find_header(req, H2O_STRLIT("content-encoding"));
    if (v != NULL && !h2o_memis(v->base, v->len, H2O_STRLIT("identity"))) {
        util_error_set(err, -1, "request compression \"%.*s\" is not supported (only identity)", (int)(v->len > 40 ? 40 : v->len),
                       v->base);
        return GRPC_CODE_UNIMPLEMENTED;
    }
    return 0;
}

static connect_call_t *call_new(h2o_req_t *req, const front_target_t *t, connect_codec_t codec, int streaming)
{
    connect_call_t *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), call_dispose);
    memset(c, 0, sizeof(*c));
    front_writer_init(&c->w, req, 0, on_writer_stop);
    c->t = *t;
    c->codec = codec;
    c->streaming = streaming;
    return c;
}

/* The request message |in| in protobuf: copied, or converted from JSON. Returns 0 or -1. */
static int to_protobuf(const front_target_t *t, connect_codec_t codec, const uint8_t *in, size_t len, util_buf_t *out,
                       util_error_t *err)
{
    if (codec == CONNECT_CODEC_PROTO) {
        util_buf_append(out, in, len);
        return 0;
    }
    /* an empty JSON body is the empty message, as Connect clients send for it */
    if (len == 0)
        return 0;
    return codec_json_to_pb(t->g->registry, t->method->input, (const char *)in, len, &t->json, out, err);
}

static void start_call(connect_call_t *c, const uint8_t *frames, size_t frames_len, int64_t client_ms)
{
    h2o_req_t *req = c->w.req;
    upstream_header_t md[FRONT_MAX_METADATA];
    size_t n_md = front_metadata_collect(req, md, FRONT_MAX_METADATA);
    util_error_t err = {0};
    grpc_code_t code = GRPC_CODE_OK;
    if (front_call_start(&c->call, &c->t, frames, frames_len, md, n_md, front_deadline_ms(&c->t, client_ms), &upstream_callbacks, c,
                         &code, &err) != 0) {
        if (c->streaming)
            end_stream(c, code, err.message, strlen(err.message), NULL, 0);
        else
            finish_unary(c, code, err.message, strlen(err.message), NULL, 0);
    }
}

int connect_handle_unary(h2o_req_t *req, const front_target_t *t)
{
    http_worker_track_request(http_worker_current(), req);
    const proto_registry_t *r = t->g->registry;
    const proto_method_t *m = t->method;
    int is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int is_post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    int get_ok = m->idempotency == PROTO_NO_SIDE_EFFECTS && !m->client_streaming && !m->server_streaming;
    if ((!is_get && !is_post) || (is_get && !get_ok)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, get_ok ? "GET, POST" : "POST", get_ok ? 9 : 4);
        char msg[300];
        snprintf(msg, sizeof(msg), "%.*s is not allowed for %s%s", (int)(req->method.len > 20 ? 20 : req->method.len),
                 req->method.base, m->full_name, is_get ? " (GET needs a method with idempotency_level NO_SIDE_EFFECTS)" : "");
        send_unary_error(req, r, 405, GRPC_CODE_UNIMPLEMENTED, msg);
        return 0;
    }
    if (m->client_streaming || m->server_streaming) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("accept-post"), 0, NULL,
                              H2O_STRLIT("application/connect+proto, application/connect+json"));
        char msg[300];
        snprintf(msg, sizeof(msg), "%s is a streaming method: use application/connect+proto or application/connect+json",
                 m->full_name);
        send_unary_error(req, r, 415, GRPC_CODE_UNIMPLEMENTED, msg);
        return 0;
    }

    util_error_t err = {0};
    int64_t client_ms = 0;
    int code = check_common(req, 0, &client_ms, &err);
    if (code != 0) {
        if (code == GRPC_CODE_UNIMPLEMENTED)
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCEPT_ENCODING, NULL, H2O_STRLIT("identity"));
        send_unary_error(req, r, 0, code, err.message);
        return 0;
    }

    connect_codec_t codec = CONNECT_CODEC_NONE;
    util_buf_t in = UTIL_BUF_INIT;
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    if (is_get) {
        const char *q = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
        size_t ql = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
        if (connect_get_parse(q, ql, &in, &codec, &err) != 0) {
            util_buf_dispose(&in);
            if (err.code == CONNECT_ERR_ENCODING)
                send_unary_error(req, r, 415, GRPC_CODE_INVALID_ARGUMENT, err.message);
            else
                send_unary_error(req, r, 0,
                                 err.code == CONNECT_ERR_COMPRESSION ? GRPC_CODE_UNIMPLEMENTED : GRPC_CODE_INVALID_ARGUMENT,
                                 err.message);
            return 0;
        }
        msg = in.data;
        msg_len = in.len;
    } else {
        ssize_t cti = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        const h2o_iovec_t *ct = cti >= 0 ? &req->headers.entries[cti].value : NULL;
        if (connect_content_type_parse(ct ? ct->base : NULL, ct ? ct->len : 0, &codec) != CONNECT_KIND_UNARY ||
            codec == CONNECT_CODEC_NONE) {
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("accept-post"), 0, NULL,
                                  H2O_STRLIT("application/json, application/proto"));
            char text[300];
            snprintf(text, sizeof(text), "content type \"%.*s\" is not supported (application/proto or application/json)",
                     ct ? (int)(ct->len > 100 ? 100 : ct->len) : 0, ct ? ct->base : "");
            send_unary_error(req, r, 415, GRPC_CODE_INVALID_ARGUMENT, text);
            return 0;
        }
        msg = (const uint8_t *)req->entity.base;
        msg_len = req->entity.len;
    }

    util_buf_t pb = UTIL_BUF_INIT, frame = UTIL_BUF_INIT;
    if (to_protobuf(t, codec, msg, msg_len, &pb, &err) != 0) {
        util_buf_dispose(&in);
        util_buf_dispose(&pb);
        send_unary_error(req, r, 0, err.code == CODEC_ERR_SIZE ? GRPC_CODE_RESOURCE_EXHAUSTED : GRPC_CODE_INVALID_ARGUMENT,
                         err.message);
        return 0;
    }
    grpc_frame_append(&frame, pb.data, pb.len, 0);
    util_buf_dispose(&in);
    util_buf_dispose(&pb);
    if (util_buf_failed(&frame)) {
        util_buf_dispose(&frame);
        send_unary_error(req, r, 0, GRPC_CODE_RESOURCE_EXHAUSTED, "out of memory");
        return 0;
    }
    connect_call_t *c = call_new(req, t, codec, 0);
    start_call(c, frame.data, frame.len, client_ms);
    util_buf_dispose(&frame);
    return 0;
}

typedef struct convert_ctx {
    const front_target_t *t;
    connect_codec_t codec;
    util_buf_t *frames;
    util_error_t *err;
    int failed;
} convert_ctx_t;

static void convert_one(void *p, const uint8_t *msg, size_t len)
{
    convert_ctx_t *cc = p;
    if (cc->failed)
        return;
    size_t mark = cc->frames->len;
    uint8_t hdr[GRPC_FRAME_HEADER_SIZE] = {0};
    util_buf_append(cc->frames, hdr, sizeof(hdr));
    if (to_protobuf(cc->t, cc->codec, msg, len, cc->frames, cc->err) != 0) {
        cc->failed = 1;
        return;
    }
    if (!util_buf_failed(cc->frames))
        grpc_frame_header_write(cc->frames->data + mark, 0, (uint32_t)(cc->frames->len - mark - GRPC_FRAME_HEADER_SIZE));
}

int connect_handle_stream(h2o_req_t *req, const front_target_t *t, connect_codec_t codec)
{
    http_worker_track_request(http_worker_current(), req);
    const proto_registry_t *r = t->g->registry;
    if (codec == CONNECT_CODEC_NONE) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("accept-post"), 0, NULL,
                              H2O_STRLIT("application/connect+proto, application/connect+json"));
        send_unary_error(req, r, 415, GRPC_CODE_INVALID_ARGUMENT,
                         "streaming codec is not supported (application/connect+proto or application/connect+json)");
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        send_unary_error(req, r, 405, GRPC_CODE_UNIMPLEMENTED, "Connect streaming calls use POST");
        return 0;
    }
    util_error_t err = {0};
    int64_t client_ms = 0;
    int code = check_common(req, 1, &client_ms, &err);
    if (code != 0) {
        send_stream_error(req, r, codec, code, err.message);
        return 0;
    }
    size_t count = 0;
    size_t max_message = (size_t)t->g->config->limits.max_request_body_bytes;
    const uint8_t *body = (const uint8_t *)req->entity.base;
    code = grpcweb_body_scan(body, req->entity.len, max_message, NULL, NULL, &count, &err);
    if (code == GRPC_CODE_OK && !t->method->client_streaming && count != 1) {
        code = GRPC_CODE_INVALID_ARGUMENT;
        util_error_set(&err, -1, "%s takes exactly one request message, the request has %zu", t->method->full_name, count);
    }
    if (code != GRPC_CODE_OK) {
        send_stream_error(req, r, codec, code, err.message);
        return 0;
    }
    util_buf_t frames = UTIL_BUF_INIT;
    convert_ctx_t cc = {t, codec, &frames, &err, 0};
    grpcweb_body_scan(body, req->entity.len, max_message, convert_one, &cc, &count, &err);
    if (cc.failed || util_buf_failed(&frames)) {
        util_buf_dispose(&frames);
        send_stream_error(req, r, codec, cc.failed ? GRPC_CODE_INVALID_ARGUMENT : GRPC_CODE_RESOURCE_EXHAUSTED,
                          cc.failed ? err.message : "out of memory");
        return 0;
    }
    connect_call_t *c = call_new(req, t, codec, 1);
    start_call(c, frames.data, frames.len, client_ms);
    util_buf_dispose(&frames);
    return 0;
}
