/*
 * response.c — rendering gRPC responses and error details for REST clients; see response.h.
 */
#include "transcode/response.h"

#include <jansson.h>
#include <string.h>

#include "proto/wire.h"
#include "util/base64.h"
#include "util/json_quote.h"

/* Skips one field value of |wire_type| at *p; returns 0 or -1 when malformed. */
static int skip_value(const uint8_t **p, const uint8_t *end, int wire_type)
{
    uint64_t v;
    switch (wire_type) {
    case WIRE_VARINT:
        return wire_read_varint(p, end, &v);
    case WIRE_I64:
        if (end - *p < 8)
            return -1;
        *p += 8;
        return 0;
    case WIRE_I32:
        if (end - *p < 4)
            return -1;
        *p += 4;
        return 0;
    case WIRE_LEN:
        if (wire_read_varint(p, end, &v) != 0 || v > (uint64_t)(end - *p))
            return -1;
        *p += v;
        return 0;
    default:
        return -1; /* groups are not expected in responses rendered here */
    }
}

/*
 * Concatenates the payloads of every length-delimited occurrence of field |number| in
 * [pb, pb+len) into |out| (protobuf merges repeated occurrences of a message field by
 * concatenation). Returns the number of occurrences, or -1 on malformed input.
 */
static int gather_field(const uint8_t *pb, size_t len, uint32_t number, util_buf_t *out)
{
    const uint8_t *p = pb, *end = pb + len;
    int n = 0;
    while (p < end) {
        uint64_t tag;
        if (wire_read_varint(&p, end, &tag) != 0)
            return -1;
        int wt = (int)(tag & 7);
        if ((tag >> 3) == number && wt == WIRE_LEN) {
            uint64_t l;
            if (wire_read_varint(&p, end, &l) != 0 || l > (uint64_t)(end - p))
                return -1;
            util_buf_append(out, p, (size_t)l);
            p += l;
            n++;
        } else if (skip_value(&p, end, wt) != 0) {
            return -1;
        }
    }
    return n;
}

/* Finds the last length-delimited value of field |number|; returns 1 with the span, 0 if absent, -1 malformed. */
static int last_bytes(const uint8_t *pb, size_t len, uint32_t number, const uint8_t **val, size_t *vlen)
{
    const uint8_t *p = pb, *end = pb + len;
    int found = 0;
    while (p < end) {
        uint64_t tag;
        if (wire_read_varint(&p, end, &tag) != 0)
            return -1;
        int wt = (int)(tag & 7);
        if ((tag >> 3) == number && wt == WIRE_LEN) {
            uint64_t l;
            if (wire_read_varint(&p, end, &l) != 0 || l > (uint64_t)(end - p))
                return -1;
            *val = p;
            *vlen = (size_t)l;
            p += l;
            found = 1;
        } else if (skip_value(&p, end, wt) != 0) {
            return -1;
        }
    }
    return found;
}

static int render_http_body(const uint8_t *pb, size_t len, util_buf_t *out, int *raw, util_buf_t *ct, util_error_t *err)
{
    const uint8_t *v = NULL;
    size_t vl = 0;
    int rc = last_bytes(pb, len, 1, &v, &vl);
    if (rc < 0)
        return util_error_set(err, CODEC_ERR_WIRE, "invalid google.api.HttpBody in the response");
    *raw = 1;
    if (rc)
        util_buf_append(ct, v, vl);
    /* data (field 2) is bytes: occurrences do not merge, the last one wins */
    rc = last_bytes(pb, len, 2, &v, &vl);
    if (rc < 0)
        return util_error_set(err, CODEC_ERR_WIRE, "invalid google.api.HttpBody in the response");
    if (rc)
        util_buf_append(out, v, vl);
    return 0;
}

int response_render(const proto_registry_t *r, const binding_rule_t *b, const uint8_t *pb, size_t len,
                    const codec_options_t *opt, util_buf_t *out, int *raw, util_buf_t *content_type, util_error_t *err)
{
    *raw = 0;
    const proto_field_t *f = b->response_field;
    if (f == NULL) {
        if (b->response_http_body)
            return render_http_body(pb, len, out, raw, content_type, err);
        return codec_pb_to_json(r, b->method->output, pb, len, opt, out, err);
    }
    if (!f->repeated && f->message != NULL) {
        util_buf_t sub = UTIL_BUF_INIT;
        int n = gather_field(pb, len, f->number, &sub);
        int rc;
        if (n < 0)
            rc = util_error_set(err, CODEC_ERR_WIRE, "invalid protobuf in the response");
        else if (b->response_http_body)
            rc = render_http_body(sub.data, sub.len, out, raw, content_type, err);
        else if (n == 0 && f->message->wkt == PROTO_WKT_NONE)
            rc = (util_buf_puts(out, "{}"), 0); /* an absent message field renders as its empty message */
        else if (n == 0)
            rc = (util_buf_puts(out, "null"), 0);
        else
            rc = codec_pb_to_json(r, f->message, sub.data, sub.len, opt, out, err);
        util_buf_dispose(&sub);
        return rc;
    }
    /* a scalar or repeated field: print the message with defaults and take the one member */
    codec_options_t o = *opt;
    o.emit_defaults = 1;
    util_buf_t whole = UTIL_BUF_INIT;
    if (codec_pb_to_json(r, b->method->output, pb, len, &o, &whole, err) != 0) {
        util_buf_dispose(&whole);
        return -1;
    }
    json_t *doc = json_loadb((const char *)whole.data, whole.len, 0, NULL);
    util_buf_dispose(&whole);
    json_t *v = json_object_get(doc, o.proto_names ? f->name : f->json_name);
    char *s = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (s == NULL) {
        json_decref(doc);
        return util_error_set(err, CODEC_ERR_WIRE, "cannot render response field %s", f->name);
    }
    util_buf_puts(out, s);
    free(s);
    json_decref(doc);
    return 0;
}

void response_status_details(const proto_registry_t *r, const uint8_t *status_pb, size_t len, util_buf_t *out)
{
    const proto_message_t *any = proto_registry_find_message(r, "google.protobuf.Any");
    size_t start = out->len;
    util_buf_putc(out, '[');
    const uint8_t *p = status_pb, *end = status_pb + len;
    int first = 1;
    codec_options_t opt = {0};
    while (p < end) {
        uint64_t tag;
        if (wire_read_varint(&p, end, &tag) != 0)
            goto bad;
        int wt = (int)(tag & 7);
        if ((tag >> 3) != 3 || wt != WIRE_LEN) {
            if (skip_value(&p, end, wt) != 0)
                goto bad;
            continue;
        }
        uint64_t l;
        if (wire_read_varint(&p, end, &l) != 0 || l > (uint64_t)(end - p))
            goto bad;
        const uint8_t *d = p;
        p += l;
        if (!first)
            util_buf_putc(out, ',');
        first = 0;
        size_t mark = out->len;
        util_error_t err;
        if (any != NULL && codec_pb_to_json(r, any, d, (size_t)l, &opt, out, &err) == 0)
            continue;
        /* fallback: {"@type": url, "value": base64 of the payload} */
        out->len = mark;
        const uint8_t *url = NULL, *val = NULL;
        size_t url_len = 0, val_len = 0;
        if (last_bytes(d, (size_t)l, 1, &url, &url_len) < 0 || last_bytes(d, (size_t)l, 2, &val, &val_len) < 0)
            goto bad;
        util_buf_puts(out, "{\"@type\":");
        util_json_quote(out, (const char *)url, url_len);
        util_buf_puts(out, ",\"value\":\"");
        util_base64_encode(out, val, val_len, 0);
        util_buf_puts(out, "\"}");
    }
    util_buf_putc(out, ']');
    return;
bad:
    out->len = start;
    util_buf_puts(out, "[]");
}
