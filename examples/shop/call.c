/*
 * call.c — one gRPC call of the shop backend, from the accepted call to its status.
 *
 * A call runs start to finish on one worker thread of main.c's pool, over a pluck completion
 * queue bound to it (the shape of grpc's own synchronous server), so a handler reads like
 * straight-line code and a slow call (x-test-delay-ms) never holds up another: no other call
 * waits for that thread. Waiting is always a pluck: on the batch just started, or on the
 * call's RECV_CLOSE_ON_SERVER with a deadline, which is how a delay ends early when the
 * client cancels or the server shuts down. Every batch started is plucked before
 * shop_call_run returns, so the queue is left empty for main.c to bind to a later call.
 * A unary method's response is held back and sent in one batch with the status, so that
 * headers, message and trailers leave in one write; a streaming method's messages go out
 * as they are sent.
 *
 * The test hooks live here, not in the handlers, because they apply to every method:
 *   x-test-delay-ms          sleep before running the handler
 *   x-test-status            end with this status (number or name) instead of running it
 *   x-test-status-message    the message for x-test-status / x-test-abort-after
 *   x-test-status-details    "error-info" or "bad-request": attach grpc-status-details-bin
 *   x-test-abort-after       end with an error after N response messages (ABORTED unless
 *                            x-test-status names another code)
 * Metadata echo: x-request-id and every x-echo-* key come back as initial metadata (or in
 * the trailers when the call fails before its first message: errors are sent
 * "trailers-only", as grpc's own servers do); x-served-by is always a trailer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "shop.h"

#define CALL_MAX_ECHO 16
#define CALL_DETAIL_DOMAIN "shop.example.com"

struct shop_call {
    shop_call_start_t start;
    const shop_config_t *config;
    const shop_method_t *method;
    char path[160];
    char request_id[128];
    char md_keys[512]; /* for the log line */

    /* hooks from request metadata; -1 when absent */
    int delay_ms;
    int hook_status;
    char hook_message[256];
    shop_detail_kind_t hook_detail;
    int abort_after;

    grpc_metadata echo[CALL_MAX_ECHO];
    size_t n_echo;

    int initial_sent;
    int messages_sent;
    grpc_byte_buffer *held; /* a unary method's response, sent in one batch with the status */
    int client_gone;
    int close_done;
    int close_cancelled;

    int failed;
    grpc_status_code code;
    char message[512];
    shop_detail_kind_t detail;
    char detail_a[128]; /* ErrorInfo reason or BadRequest field */
    char detail_b[128]; /* ErrorInfo metadata key ("" for none) */
    char detail_c[256]; /* ErrorInfo metadata value */

    char tag_batch, tag_close; /* addresses used as completion tags */
};

static const char *const status_names[] = {
    "OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED",
};
#define STATUS_NAME_COUNT ((int)(sizeof status_names / sizeof status_names[0]))

static const char *status_name(grpc_status_code code)
{
    return code >= 0 && (int)code < STATUS_NAME_COUNT ? status_names[code] : "?";
}

/* ---- method table ---------------------------------------------------------------------- */

const shop_method_t *shop_method_find(const char *path, size_t len)
{
    const shop_method_t *tables[] = {shop_price_methods, shop_stock_methods};
    const size_t counts[] = {shop_price_method_count, shop_stock_method_count};
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; i < counts[t]; i++)
            if (strlen(tables[t][i].path) == len && memcmp(tables[t][i].path, path, len) == 0)
                return &tables[t][i];
    return NULL;
}

/* ---- failures ---------------------------------------------------------------------------- */

static void call_fail_va(shop_call_t *c, grpc_status_code code, shop_detail_kind_t detail, const char *a, const char *b,
                         const char *v, const char *fmt, va_list ap)
{
    if (c->failed)
        return;
    c->failed = 1;
    c->code = code;
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    c->detail = detail;
    snprintf(c->detail_a, sizeof c->detail_a, "%s", a != NULL ? a : "");
    snprintf(c->detail_b, sizeof c->detail_b, "%s", b != NULL ? b : "");
    snprintf(c->detail_c, sizeof c->detail_c, "%s", v != NULL ? v : "");
}

void shop_call_fail(shop_call_t *call, grpc_status_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    call_fail_va(call, code, SHOP_DETAIL_NONE, NULL, NULL, NULL, fmt, ap);
    va_end(ap);
}

void shop_call_fail_field(shop_call_t *call, grpc_status_code code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    call_fail_va(call, code, SHOP_DETAIL_BAD_REQUEST, field, NULL, NULL, fmt, ap);
    va_end(ap);
}

void shop_call_fail_reason(shop_call_t *call, grpc_status_code code, const char *reason, const char *key, const char *value,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    call_fail_va(call, code, SHOP_DETAIL_ERROR_INFO, reason, key, value, fmt, ap);
    va_end(ap);
}

/* The status a test hook asks for: x-test-status (default |fallback|), its message, and the
 * detail kind from x-test-status-details. */
static void call_fail_hook(shop_call_t *c, grpc_status_code fallback, const char *default_message)
{
    grpc_status_code code = c->hook_status > 0 ? (grpc_status_code)c->hook_status : fallback;
    const char *message = c->hook_message[0] != '\0' ? c->hook_message : default_message;
    switch (c->hook_detail) {
    case SHOP_DETAIL_ERROR_INFO:
        shop_call_fail_reason(c, code, "TEST_HOOK", "method", c->path, "%s", message);
        break;
    case SHOP_DETAIL_BAD_REQUEST:
        shop_call_fail_field(c, code, "test_hook", "%s", message);
        break;
    default:
        shop_call_fail(c, code, "%s", message);
        break;
    }
}

/* ---- waiting ------------------------------------------------------------------------------ */

static gpr_timespec deadline_in_ms(int ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Runs one batch and waits for it. Returns 1 when it succeeded, 0 when it did not (the call
 * is dead), -1 when it could not even start. */
static int call_batch(shop_call_t *c, const grpc_op *ops, size_t n)
{
    grpc_call_error err = grpc_call_start_batch(c->start.call, ops, n, &c->tag_batch, NULL);
    if (err != GRPC_CALL_OK) {
        fprintf(stderr, "shop-backend: %s: grpc_call_start_batch failed (%d)\n", c->path, (int)err);
        return -1;
    }
    grpc_event ev = grpc_completion_queue_pluck(c->start.cq, &c->tag_batch, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success ? 1 : 0;
}

int shop_call_sleep_ms(shop_call_t *call, int ms)
{
    if (call->close_done)
        return -1;
    if (ms <= 0)
        return 0;
    grpc_event ev = grpc_completion_queue_pluck(call->start.cq, &call->tag_close, deadline_in_ms(ms), NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT)
        return 0;
    call->close_done = 1;
    return -1;
}

const shop_config_t *shop_call_config(const shop_call_t *call)
{
    return call->config;
}

/* ---- sending ------------------------------------------------------------------------------- */

static grpc_byte_buffer *call_pack(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        return NULL;
    protobuf_c_message_pack(m, buf);
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)buf, len);
    free(buf);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* Sends |bb| (with the initial metadata before the first message) and destroys it. Returns
 * 0, or -1 when the client went away. */
static int call_send_now(shop_call_t *c, grpc_byte_buffer *bb)
{
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->initial_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = c->n_echo;
        ops[n].data.send_initial_metadata.metadata = c->echo;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    n++;
    int rc = call_batch(c, ops, n);
    grpc_byte_buffer_destroy(bb);
    c->initial_sent = 1;
    if (rc != 1) {
        c->client_gone = 1;
        return -1;
    }
    return 0;
}

int shop_call_send(shop_call_t *c, const ProtobufCMessage *message)
{
    if (c->failed || c->client_gone || c->close_done)
        return -1;
    grpc_byte_buffer *bb = call_pack(message);
    if (bb == NULL) {
        shop_call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory packing the response");
        return -1;
    }
    /* A unary response waits for the status so that headers, message and trailers leave in
     * one write (one sendmsg instead of two, and one read for the client). */
    if (c->held != NULL) {
        grpc_byte_buffer *earlier = c->held;
        c->held = NULL;
        if (call_send_now(c, earlier) != 0) {
            c->messages_sent--;
            grpc_byte_buffer_destroy(bb);
            return -1;
        }
    }
    if (!c->method->server_streaming)
        c->held = bb;
    else if (call_send_now(c, bb) != 0)
        return -1;
    c->messages_sent++;
    if (c->abort_after >= 0 && c->messages_sent >= c->abort_after) {
        char text[96];
        snprintf(text, sizeof text, "test hook: stream aborted after %d messages", c->messages_sent);
        call_fail_hook(c, GRPC_STATUS_ABORTED, text);
        return -1;
    }
    return 0;
}

/* google.rpc.Status{code, message, details: [one Any]} for grpc-status-details-bin. */
static grpc_slice call_status_details(const shop_call_t *c)
{
    Google__Rpc__ErrorInfo info = GOOGLE__RPC__ERROR_INFO__INIT;
    Google__Rpc__ErrorInfo__MetadataEntry entry = GOOGLE__RPC__ERROR_INFO__METADATA_ENTRY__INIT;
    Google__Rpc__ErrorInfo__MetadataEntry *entries[1] = {&entry};
    Google__Rpc__BadRequest bad = GOOGLE__RPC__BAD_REQUEST__INIT;
    Google__Rpc__BadRequest__FieldViolation violation = GOOGLE__RPC__BAD_REQUEST__FIELD_VIOLATION__INIT;
    Google__Rpc__BadRequest__FieldViolation *violations[1] = {&violation};
    const ProtobufCMessage *detail;
    const char *type_url;

    if (c->detail == SHOP_DETAIL_ERROR_INFO) {
        info.reason = (char *)c->detail_a;
        info.domain = (char *)CALL_DETAIL_DOMAIN;
        if (c->detail_b[0] != '\0') {
            entry.key = (char *)c->detail_b;
            entry.value = (char *)c->detail_c;
            info.n_metadata = 1;
            info.metadata = entries;
        }
        detail = &info.base;
        type_url = "type.googleapis.com/google.rpc.ErrorInfo";
    } else {
        violation.field = (char *)c->detail_a;
        violation.description = (char *)c->message;
        bad.n_field_violations = 1;
        bad.field_violations = violations;
        detail = &bad.base;
        type_url = "type.googleapis.com/google.rpc.BadRequest";
    }

    size_t dlen = protobuf_c_message_get_packed_size(detail);
    uint8_t *dbuf = malloc(dlen > 0 ? dlen : 1);
    if (dbuf == NULL)
        return grpc_empty_slice();
    protobuf_c_message_pack(detail, dbuf);

    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    Google__Protobuf__Any *anys[1] = {&any};
    any.type_url = (char *)type_url;
    any.value.data = dbuf;
    any.value.len = dlen;
    Google__Rpc__Status status = GOOGLE__RPC__STATUS__INIT;
    status.code = (int32_t)c->code;
    status.message = (char *)c->message;
    status.n_details = 1;
    status.details = anys;

    size_t slen = protobuf_c_message_get_packed_size(&status.base);
    grpc_slice out = grpc_slice_malloc(slen);
    protobuf_c_message_pack(&status.base, GRPC_SLICE_START_PTR(out));
    free(dbuf);
    return out;
}

static void call_finish(shop_call_t *c)
{
    grpc_metadata trailers[CALL_MAX_ECHO + 2];
    size_t n_trailers = 0;
    grpc_slice details_bin = grpc_empty_slice();
    int has_details = 0;

    memset(trailers, 0, sizeof trailers);
    trailers[n_trailers].key = grpc_slice_from_static_string("x-served-by");
    trailers[n_trailers].value = grpc_slice_from_static_string("shop-backend");
    n_trailers++;
    if (c->failed && c->detail != SHOP_DETAIL_NONE) {
        details_bin = call_status_details(c);
        has_details = GRPC_SLICE_LENGTH(details_bin) > 0;
        if (has_details) {
            trailers[n_trailers].key = grpc_slice_from_static_string("grpc-status-details-bin");
            trailers[n_trailers].value = details_bin;
            n_trailers++;
        }
    }

    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (!c->initial_sent && (!c->failed || c->held != NULL)) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = c->n_echo;
        ops[n].data.send_initial_metadata.metadata = c->echo;
        n++;
    } else if (!c->initial_sent) {
        /* Empty initial metadata in the same batch as the status is what makes chttp2 send
         * a trailers-only response; the echoes travel with the status instead. */
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        for (size_t i = 0; i < c->n_echo; i++)
            trailers[n_trailers++] = c->echo[i];
    }
    if (c->held != NULL) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->held;
        n++;
    }
    grpc_slice message = grpc_slice_from_copied_string(c->failed ? c->message : "");
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = c->failed ? c->code : GRPC_STATUS_OK;
    ops[n].data.send_status_from_server.status_details = &message;
    ops[n].data.send_status_from_server.trailing_metadata = trailers;
    ops[n].data.send_status_from_server.trailing_metadata_count = n_trailers;
    n++;
    int sent = !c->close_done && !c->client_gone && call_batch(c, ops, n) == 1;
    if (c->held != NULL) {
        if (!sent)
            c->messages_sent--; /* the held response never left */
        grpc_byte_buffer_destroy(c->held);
        c->held = NULL;
    }
    grpc_slice_unref(message);
    grpc_slice_unref(details_bin);

    if (!c->close_done) {
        grpc_completion_queue_pluck(c->start.cq, &c->tag_close, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        c->close_done = 1;
    }
}

/* ---- request metadata --------------------------------------------------------------------- */

static int slice_eq(grpc_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return GRPC_SLICE_LENGTH(s) == n && memcmp(GRPC_SLICE_START_PTR(s), lit, n) == 0;
}

static void slice_copy(grpc_slice s, char *out, size_t size)
{
    size_t n = GRPC_SLICE_LENGTH(s);
    if (n >= size)
        n = size - 1;
    memcpy(out, GRPC_SLICE_START_PTR(s), n);
    out[n] = '\0';
}

/* Parses a decimal in [lo, hi]. Returns 0, or -1 when |text| is anything else. */
static int parse_int(const char *text, long lo, long hi, int *out)
{
    char *end;
    if (text[0] == '\0')
        return -1;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_status(const char *text, int *out)
{
    if (parse_int(text, 0, STATUS_NAME_COUNT - 1, out) == 0)
        return 0;
    for (int i = 0; i < STATUS_NAME_COUNT; i++)
        if (strcasecmp(text, status_names[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

static void call_read_metadata(shop_call_t *c)
{
    const grpc_metadata_array *md = &c->start.metadata;
    char value[256];
    size_t keys_len = 0;

    for (size_t i = 0; i < md->count; i++) {
        grpc_slice key = md->metadata[i].key;
        grpc_slice val = md->metadata[i].value;
        size_t klen = GRPC_SLICE_LENGTH(key);
        if (keys_len + klen + 2 < sizeof c->md_keys) {
            if (keys_len > 0)
                c->md_keys[keys_len++] = ',';
            memcpy(c->md_keys + keys_len, GRPC_SLICE_START_PTR(key), klen);
            keys_len += klen;
            c->md_keys[keys_len] = '\0';
        }
        int echo = slice_eq(key, "x-request-id") || (klen > 7 && memcmp(GRPC_SLICE_START_PTR(key), "x-echo-", 7) == 0);
        if (echo && c->n_echo < CALL_MAX_ECHO)
            c->echo[c->n_echo++] = md->metadata[i];
        slice_copy(val, value, sizeof value);
        if (slice_eq(key, "x-request-id")) {
            slice_copy(val, c->request_id, sizeof c->request_id);
        } else if (slice_eq(key, "x-test-delay-ms")) {
            if (parse_int(value, 0, 600000, &c->delay_ms) != 0)
                shop_call_fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "x-test-delay-ms",
                                     "metadata x-test-delay-ms must be a number of milliseconds from 0 to 600000, got \"%s\"",
                                     value);
        } else if (slice_eq(key, "x-test-status")) {
            if (parse_status(value, &c->hook_status) != 0)
                shop_call_fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "x-test-status",
                                     "metadata x-test-status must be a gRPC status code (0-16 or a name like "
                                     "UNAVAILABLE), got \"%s\"",
                                     value);
        } else if (slice_eq(key, "x-test-status-message")) {
            slice_copy(val, c->hook_message, sizeof c->hook_message);
        } else if (slice_eq(key, "x-test-status-details")) {
            if (strcasecmp(value, "error-info") == 0)
                c->hook_detail = SHOP_DETAIL_ERROR_INFO;
            else if (strcasecmp(value, "bad-request") == 0)
                c->hook_detail = SHOP_DETAIL_BAD_REQUEST;
            else
                shop_call_fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "x-test-status-details",
                                     "metadata x-test-status-details must be \"error-info\" or \"bad-request\", got \"%s\"", value);
        } else if (slice_eq(key, "x-test-abort-after")) {
            if (parse_int(value, 0, 1000000, &c->abort_after) != 0)
                shop_call_fail_field(c, GRPC_STATUS_INVALID_ARGUMENT, "x-test-abort-after",
                                     "metadata x-test-abort-after must be a message count from 0 to 1000000, got \"%s\"", value);
        }
    }
}

/* ---- the call --------------------------------------------------------------------------- */

static ProtobufCMessage *call_read_request(shop_call_t *c)
{
    grpc_byte_buffer *payload = NULL;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &payload;
    int rc = call_batch(c, &op, 1);
    if (rc != 1 || payload == NULL) {
        if (payload != NULL)
            grpc_byte_buffer_destroy(payload);
        if (rc == 1)
            shop_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s expects one request message, got none", c->path);
        else
            c->client_gone = 1;
        return NULL;
    }
    if (c->failed || c->method == NULL) {
        grpc_byte_buffer_destroy(payload);
        return NULL;
    }
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, payload)) {
        grpc_byte_buffer_destroy(payload);
        shop_call_fail(c, GRPC_STATUS_INTERNAL, "could not read the request message of %s", c->path);
        return NULL;
    }
    grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    grpc_byte_buffer_destroy(payload);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(c->method->request_type, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    if (m == NULL)
        shop_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "the request of %s is not a valid %s message (%zu bytes)", c->path,
                       c->method->request_type->name, (size_t)GRPC_SLICE_LENGTH(all));
    grpc_slice_unref(all);
    return m;
}

static void call_log(shop_call_t *c, const struct timespec *t0)
{
    if (c->config->quiet)
        return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
    char *peer = grpc_call_get_peer(c->start.call);
    int cancelled = c->close_cancelled || c->client_gone;
    gpr_timespec deadline = c->start.details.deadline;
    int expired = gpr_time_cmp(gpr_now(deadline.clock_type), deadline) >= 0;
    grpc_status_code code = c->failed    ? c->code
                            : !cancelled ? GRPC_STATUS_OK
                            : expired    ? GRPC_STATUS_DEADLINE_EXCEEDED
                                         : GRPC_STATUS_CANCELLED;
    const char *outcome = !cancelled ? "" : expired ? " (deadline passed)" : " (call cancelled: client gone or server stopping)";
    fprintf(stderr, "shop-backend: %s status=%d %s%s msgs=%d %.1fms request-id=%s peer=%s md=[%s]%s%s\n", c->path, (int)code,
            status_name(code), outcome, c->messages_sent, ms, c->request_id[0] != '\0' ? c->request_id : "-",
            peer != NULL ? peer : "?", c->md_keys, c->failed ? " message=" : "", c->failed ? c->message : "");
    gpr_free(peer);
}

void shop_call_run(shop_call_start_t *start, const shop_config_t *config)
{
    shop_call_t *c = calloc(1, sizeof *c);
    struct timespec t0 = {0};
    if (!config->quiet) /* only the log line needs it */
        clock_gettime(CLOCK_MONOTONIC, &t0);
    if (c == NULL) {
        grpc_call_cancel_with_status(start->call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL);
        grpc_call_unref(start->call);
        goto free_start;
    }
    c->start = *start;
    c->config = config;
    c->delay_ms = 0;
    c->hook_status = -1;
    c->abort_after = -1;
    slice_copy(start->details.method, c->path, sizeof c->path);

    grpc_op close_op;
    memset(&close_op, 0, sizeof close_op);
    close_op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    close_op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    if (grpc_call_start_batch(start->call, &close_op, 1, &c->tag_close, NULL) != GRPC_CALL_OK) {
        fprintf(stderr, "shop-backend: %s: could not start RECV_CLOSE_ON_SERVER\n", c->path);
        grpc_call_cancel(start->call, NULL);
        grpc_call_unref(start->call);
        free(c);
        goto free_start;
    }

    call_read_metadata(c);
    c->method =
        shop_method_find((const char *)GRPC_SLICE_START_PTR(start->details.method), GRPC_SLICE_LENGTH(start->details.method));
    ProtobufCMessage *request = NULL;
    if (c->method == NULL) {
        /* the metadata error (if any) is less useful than this one */
        c->failed = 0;
        shop_call_fail(c, GRPC_STATUS_UNIMPLEMENTED,
                       "unknown method %s: this backend serves shop.v1.PriceService and "
                       "shop.v1.StockService",
                       c->path);
    }
    /* Read the request even when the call is already failed: answering before the client's
     * half-close makes chttp2 reset the stream, which some clients report as an error. */
    request = call_read_request(c);
    if (!c->failed && !c->client_gone && c->delay_ms > 0 && shop_call_sleep_ms(c, c->delay_ms) != 0)
        c->client_gone = 1;
    if (!c->failed && !c->client_gone) {
        if (c->abort_after == 0)
            call_fail_hook(c, GRPC_STATUS_ABORTED, "test hook: stream aborted after 0 messages");
        else if (c->hook_status > 0 && c->abort_after < 0)
            call_fail_hook(c, GRPC_STATUS_UNKNOWN, "test hook: injected status");
        else if (c->hook_status < 0 && c->hook_detail != SHOP_DETAIL_NONE && c->abort_after < 0)
            call_fail_hook(c, GRPC_STATUS_INVALID_ARGUMENT, "test hook: injected status");
        else
            c->method->handler(c, request);
    }
    if (request != NULL)
        protobuf_c_message_free_unpacked(request, NULL);

    call_finish(c);
    call_log(c, &t0);
    grpc_call_unref(c->start.call);
    free(c);

free_start:
    grpc_call_details_destroy(&start->details);
    grpc_metadata_array_destroy(&start->metadata);
}
