/*
 * ingress_client.c — the native gRPC ingress tests' client, on grpc core's C API: real gRPC
 * calls through portico's `"protocol": "grpc"` listener to the example shop (unary, server
 * streaming, metadata, status details, test hooks, deadlines, cancellation) and to an echo
 * backend that this program serves itself (echo.proto: client streaming, bidi, request and
 * response flow control), so that a test sees both ends of the hop: what the client got and
 * what the backend received, when.
 *
 *   ingress-client --target HOST:PORT --echo-listen HOST:PORT [--shop-log FILE]
 *                  [--tls-target HOST:PORT --ca FILE] [--portico-pid PID] [--only NAME]
 *
 * gRPC→REST (each run on its own with --only, against a portico whose services are on HTTP
 * upstreams): "rest" calls shop.v1.ReviewsService (the REST reviews-backend, whose request log
 * is --reviews-log) through portico's translation: answers, mapped HTTP errors, deadlines,
 * cancellation seen by the backend; "rest-shapes" calls portico.reversetest.* on
 * tests/integration/reverse/rest_backend.py: server streaming, stream errors, metadata as
 * headers, methods that cannot be translated, calls without exactly one request message;
 * "rest-down" runs once the reviews backend is gone.
 *
 * Each test is one row of the table at the end; the program prints "N passed, N failed".
 * --only shutdown (SIGTERMs portico mid-call) is run on its own, last, by ingress.test.sh.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "test.h"

static const char *target, *echo_listen, *shop_log, *tls_target, *ca_file, *only, *reviews_log;
static long portico_pid;
static grpc_channel *channel;

static double now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0;
}

static gpr_timespec deadline_in(int ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

/* ---- protobuf bits (hand-encoded: the tests only need strings, ints and bytes) ------------ */

typedef struct msg {
    uint8_t *data;
    size_t len, cap;
} msg_t;

static void msg_put(msg_t *m, const void *p, size_t n)
{
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2 + 64;
        m->data = realloc(m->data, m->cap);
    }
    memcpy(m->data + m->len, p, n);
    m->len += n;
}

static void msg_varint(msg_t *m, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    msg_put(m, b, n);
}

static void msg_string(msg_t *m, int field, const void *s, size_t len)
{
    msg_varint(m, (uint64_t)field << 3 | 2);
    msg_varint(m, len);
    msg_put(m, s, len);
}

static void msg_int(msg_t *m, int field, int64_t v)
{
    msg_varint(m, (uint64_t)field << 3);
    msg_varint(m, (uint64_t)v);
}

/* ---- calls -------------------------------------------------------------------------------- */

typedef struct kv {
    const char *key;
    const char *value;
} kv_t;

typedef struct result {
    grpc_status_code status;
    char message[1024];
    char initial[4096];  /* "key=value\n", binary values with non-printables as '.' */
    char trailing[8192]; /* same */
    msg_t *msgs;
    size_t n_msgs;
    double elapsed_ms;
    int timed_out; /* a batch did not complete in time (the test fails) */
} result_t;

static void result_free(result_t *r)
{
    for (size_t i = 0; i < r->n_msgs; i++)
        free(r->msgs[i].data);
    free(r->msgs);
    memset(r, 0, sizeof(*r));
}

static void md_text(char *out, size_t size, const grpc_metadata_array *a)
{
    size_t used = strlen(out);
    for (size_t i = 0; i < a->count && used + 4 < size; i++) {
        const grpc_metadata *m = &a->metadata[i];
        size_t kl = GRPC_SLICE_LENGTH(m->key), vl = GRPC_SLICE_LENGTH(m->value);
        const uint8_t *v = GRPC_SLICE_START_PTR(m->value);
        int n = snprintf(out + used, size - used, "%.*s=", (int)kl, (const char *)GRPC_SLICE_START_PTR(m->key));
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
        for (size_t k = 0; k < vl && used + 2 < size; k++)
            out[used++] = v[k] >= 0x20 && v[k] < 0x7f ? (char)v[k] : '.';
        out[used++] = '\n';
        out[used] = '\0';
    }
}

static void bb_to_msg(grpc_byte_buffer *bb, msg_t *m)
{
    grpc_byte_buffer_reader reader;
    grpc_slice s;
    memset(m, 0, sizeof(*m));
    grpc_byte_buffer_reader_init(&reader, bb);
    while (grpc_byte_buffer_reader_next(&reader, &s)) {
        msg_put(m, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
        grpc_slice_unref(s);
    }
    grpc_byte_buffer_reader_destroy(&reader);
}

static grpc_byte_buffer *bb_from(const void *p, size_t len)
{
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)p, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* Runs one batch and waits for it. Returns ev.success, or -1 on timeout. */
static int batch(grpc_call *call, grpc_completion_queue *cq, grpc_op *ops, size_t n, void *tag, int wait_ms)
{
    if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK)
        return 0;
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, deadline_in(wait_ms), NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return -1;
    return ev.success;
}

typedef struct call_spec {
    const char *method;
    const kv_t *md;
    size_t n_md;
    const msg_t *reqs;
    size_t n_reqs;
    int deadline_ms;           /* 0: none */
    int cancel_after;          /* > 0: cancel after this many response messages */
    int read_delay_ms;         /* wait this long before reading the response (slow client) */
    grpc_channel *ch;          /* NULL: the default channel */
    atomic_size_t *sent_bytes; /* counts request bytes whose send completed */
} call_spec_t;

static void run_call(const call_spec_t *spec, result_t *r)
{
    memset(r, 0, sizeof(*r));
    double t0 = now_ms();
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice method = grpc_slice_from_static_string(spec->method);
    gpr_timespec deadline = spec->deadline_ms > 0 ? deadline_in(spec->deadline_ms) : gpr_inf_future(GPR_CLOCK_REALTIME);
    grpc_call *call =
        grpc_channel_create_call(spec->ch ? spec->ch : channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL, deadline, NULL);
    grpc_metadata md[16];
    for (size_t i = 0; i < spec->n_md && i < 16; i++) {
        memset(&md[i], 0, sizeof(md[i]));
        md[i].key = grpc_slice_from_static_string(spec->md[i].key);
        md[i].value = grpc_slice_from_static_string(spec->md[i].value);
    }
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_slice details = grpc_empty_slice();
    grpc_op op;
    int ok;

    /* the status op goes first so it completes whatever happens in between */
    grpc_op status_op;
    memset(&status_op, 0, sizeof(status_op));
    status_op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    status_op.data.recv_status_on_client.trailing_metadata = &trailing;
    status_op.data.recv_status_on_client.status = &r->status;
    status_op.data.recv_status_on_client.status_details = &details;
    grpc_call_start_batch(call, &status_op, 1, (void *)99, NULL);

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    op.data.send_initial_metadata.count = spec->n_md < 16 ? spec->n_md : 16;
    op.data.send_initial_metadata.metadata = md;
    if ((ok = batch(call, cq, &op, 1, (void *)1, 10000)) < 0)
        r->timed_out = 1;
    for (size_t i = 0; i < spec->n_reqs && ok > 0; i++) {
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_SEND_MESSAGE;
        op.data.send_message.send_message = bb_from(spec->reqs[i].data, spec->reqs[i].len);
        ok = batch(call, cq, &op, 1, (void *)2, 30000);
        grpc_byte_buffer_destroy(op.data.send_message.send_message);
        if (ok < 0)
            r->timed_out = 1;
        else if (ok > 0 && spec->sent_bytes != NULL)
            atomic_fetch_add(spec->sent_bytes, spec->reqs[i].len);
    }
    if (ok > 0) {
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        if (batch(call, cq, &op, 1, (void *)3, 10000) < 0)
            r->timed_out = 1;
    }
    if (spec->read_delay_ms > 0)
        sleep_ms(spec->read_delay_ms);
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_INITIAL_METADATA;
    op.data.recv_initial_metadata.recv_initial_metadata = &initial;
    if (batch(call, cq, &op, 1, (void *)4, 30000) < 0)
        r->timed_out = 1;
    for (;;) {
        if (spec->cancel_after > 0 && r->n_msgs == (size_t)spec->cancel_after) {
            grpc_call_cancel(call, NULL);
            break;
        }
        grpc_byte_buffer *bb = NULL;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &bb;
        int rv = batch(call, cq, &op, 1, (void *)5, 30000);
        if (rv < 0)
            r->timed_out = 1;
        if (rv <= 0 || bb == NULL)
            break;
        r->msgs = realloc(r->msgs, (r->n_msgs + 1) * sizeof(*r->msgs));
        bb_to_msg(bb, &r->msgs[r->n_msgs++]);
        grpc_byte_buffer_destroy(bb);
    }
    grpc_event ev = grpc_completion_queue_pluck(cq, (void *)99, deadline_in(30000), NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
        r->timed_out = 1;
        grpc_call_cancel(call, NULL);
        grpc_completion_queue_pluck(cq, (void *)99, deadline_in(5000), NULL);
    }
    snprintf(r->message, sizeof(r->message), "%.*s", (int)GRPC_SLICE_LENGTH(details), (const char *)GRPC_SLICE_START_PTR(details));
    md_text(r->initial, sizeof(r->initial), &initial);
    md_text(r->trailing, sizeof(r->trailing), &trailing);
    r->elapsed_ms = now_ms() - t0;
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

static void unary(const char *method, const kv_t *md, size_t n_md, const msg_t *req, int deadline_ms, result_t *r)
{
    call_spec_t spec = {.method = method, .md = md, .n_md = n_md, .reqs = req, .n_reqs = req ? 1 : 0, .deadline_ms = deadline_ms};
    run_call(&spec, r);
}

static int msg_has_bytes(const msg_t *m, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= m->len; i++)
        if (memcmp(m->data + i, needle, n) == 0)
            return 1;
    return 0;
}

static int msg_has(const msg_t *m, const char *needle)
{
    return msg_has_bytes(m, needle, strlen(needle));
}

#define CHECK_STATUS(r, code)                                                                                                      \
    do {                                                                                                                           \
        if ((r)->status != (code))                                                                                                 \
            fprintf(stderr, "  status %d (%s), expected %d\n", (int)(r)->status, (r)->message, (int)(code));                       \
        CHECK_INT_EQ((r)->status, (code));                                                                                         \
        CHECK(!(r)->timed_out);                                                                                                    \
    } while (0)

/* ---- the echo backend (served in this process) ------------------------------------------- */

static grpc_server *echo_server;
static grpc_completion_queue *echo_cq;
static atomic_size_t echo_received_bytes, echo_sent_bytes, client_sent_bytes;
static atomic_size_t echo_client_sent_at_stall_end = ATOMIC_VAR_INIT(SIZE_MAX);
static atomic_int echo_cancelled, echo_calls;

typedef struct echo_call {
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_completion_queue *cq;
} echo_call_t;

static const char *md_get(const grpc_metadata_array *a, const char *key, char *buf, size_t size)
{
    for (size_t i = 0; i < a->count; i++)
        if (grpc_slice_str_cmp(a->metadata[i].key, key) == 0) {
            snprintf(buf, size, "%.*s", (int)GRPC_SLICE_LENGTH(a->metadata[i].value),
                     (const char *)GRPC_SLICE_START_PTR(a->metadata[i].value));
            return buf;
        }
    return NULL;
}

static int echo_recv(echo_call_t *c, msg_t *m)
{
    grpc_byte_buffer *bb = NULL;
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &bb;
    if (batch(c->call, c->cq, &op, 1, (void *)2, 60000) <= 0 || bb == NULL)
        return 0;
    bb_to_msg(bb, m);
    grpc_byte_buffer_destroy(bb);
    atomic_fetch_add(&echo_received_bytes, m->len);
    return 1;
}

static int echo_send(echo_call_t *c, const void *p, size_t len)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb_from(p, len);
    int ok = batch(c->call, c->cq, &op, 1, (void *)3, 60000);
    grpc_byte_buffer_destroy(op.data.send_message.send_message);
    if (ok > 0)
        atomic_fetch_add(&echo_sent_bytes, len);
    return ok > 0;
}

static void *echo_handle(void *arg)
{
    echo_call_t *c = arg;
    char method[128], buf[64];
    snprintf(method, sizeof(method), "%.*s", (int)GRPC_SLICE_LENGTH(c->details.method),
             (const char *)GRPC_SLICE_START_PTR(c->details.method));
    atomic_fetch_add(&echo_calls, 1);
    int cancelled = 0;
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &cancelled;
    grpc_call_start_batch(c->call, &op, 1, (void *)9, NULL);

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    batch(c->call, c->cq, &op, 1, (void *)1, 10000);

    grpc_metadata trailers[2];
    size_t n_trailers = 0;
    char seen[1024] = "";
    grpc_status_code code = GRPC_STATUS_OK;
    const char *text = "";
    msg_t m = {0};
    if (strcmp(method, "/test.ingress.v1.Echo/Unary") == 0) {
        for (size_t i = 0; i < c->md.count; i++) {
            size_t used = strlen(seen);
            snprintf(seen + used, sizeof(seen) - used, "%s%.*s", used ? "," : "", (int)GRPC_SLICE_LENGTH(c->md.metadata[i].key),
                     (const char *)GRPC_SLICE_START_PTR(c->md.metadata[i].key));
        }
        memset(trailers, 0, sizeof(trailers));
        trailers[n_trailers].key = grpc_slice_from_static_string("x-seen-keys");
        trailers[n_trailers++].value = grpc_slice_from_copied_string(seen);
        trailers[n_trailers].key = grpc_slice_from_static_string("x-bin-bin");
        trailers[n_trailers++].value = grpc_slice_from_static_buffer("\x00\x01\xfe\xff", 4);
        if (echo_recv(c, &m))
            echo_send(c, m.data, m.len);
        else
            code = GRPC_STATUS_INVALID_ARGUMENT, text = "no request message";
    } else if (strcmp(method, "/test.ingress.v1.Echo/Collect") == 0) {
        if (md_get(&c->md, "x-stall-ms", buf, sizeof(buf)) != NULL) {
            sleep_ms(atoi(buf));
            atomic_store(&echo_client_sent_at_stall_end, atomic_load(&client_sent_bytes));
        }
        size_t count = 0, bytes = 0;
        uint32_t sum = 2166136261u;
        while (echo_recv(c, &m)) {
            count++;
            bytes += m.len;
            for (size_t i = 0; i < m.len; i++)
                sum = (sum ^ m.data[i]) * 16777619u;
            free(m.data);
            memset(&m, 0, sizeof(m));
        }
        char out[128];
        int n = snprintf(out, sizeof(out), "count=%zu bytes=%zu sum=%08x", count, bytes, sum);
        echo_send(c, out, (size_t)n);
    } else if (strcmp(method, "/test.ingress.v1.Echo/Chat") == 0) {
        while (echo_recv(c, &m)) {
            echo_send(c, m.data, m.len);
            free(m.data);
            memset(&m, 0, sizeof(m));
        }
    } else if (strcmp(method, "/test.ingress.v1.Echo/Flood") == 0) {
        if (echo_recv(c, &m)) {
            char req[64];
            snprintf(req, sizeof(req), "%.*s", (int)m.len, (const char *)m.data);
            long count = 0, size = 0;
            sscanf(req, "%ld %ld", &count, &size);
            uint8_t *chunk = malloc(size > 0 ? (size_t)size : 1);
            for (long i = 0; i < size; i++)
                chunk[i] = (uint8_t)(i * 7);
            for (long i = 0; i < count; i++) {
                chunk[0] = (uint8_t)i;
                if (!echo_send(c, chunk, (size_t)size))
                    break;
            }
            free(chunk);
        }
    } else {
        code = GRPC_STATUS_UNIMPLEMENTED, text = "echo backend: no such method";
    }
    free(m.data);

    grpc_slice details = grpc_slice_from_static_string(text);
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op.data.send_status_from_server.status = code;
    op.data.send_status_from_server.status_details = &details;
    op.data.send_status_from_server.trailing_metadata_count = n_trailers;
    op.data.send_status_from_server.trailing_metadata = trailers;
    batch(c->call, c->cq, &op, 1, (void *)4, 10000);
    grpc_completion_queue_pluck(c->cq, (void *)9, deadline_in(10000), NULL);
    if (cancelled)
        atomic_fetch_add(&echo_cancelled, 1);
    for (size_t i = 0; i < n_trailers; i++)
        grpc_slice_unref(trailers[i].value);
    grpc_call_unref(c->call);
    grpc_completion_queue_shutdown(c->cq);
    while (grpc_completion_queue_pluck(c->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(c->cq);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    free(c);
    return NULL;
}

static void *echo_accept(void *arg)
{
    for (;;) {
        echo_call_t *c = calloc(1, sizeof(*c));
        grpc_call_details_init(&c->details);
        grpc_metadata_array_init(&c->md);
        c->cq = grpc_completion_queue_create_for_pluck(NULL); /* the call's own queue, for its ops */
        if (grpc_server_request_call(echo_server, &c->call, &c->details, &c->md, c->cq, echo_cq, c) != GRPC_CALL_OK)
            break;
        grpc_event ev = grpc_completion_queue_next(echo_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE || !ev.success)
            break;
        pthread_t t;
        pthread_create(&t, NULL, echo_handle, c);
        pthread_detach(t);
    }
    return NULL;
}

static int echo_start(const char *addr)
{
    grpc_arg arg = {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = 64 << 20};
    grpc_channel_args args = {1, &arg};
    echo_server = grpc_server_create(&args, NULL);
    echo_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(echo_server, echo_cq, NULL);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(echo_server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port == 0)
        return -1;
    grpc_server_start(echo_server);
    pthread_t t;
    pthread_create(&t, NULL, echo_accept, NULL);
    pthread_detach(t);
    return 0;
}

/* ---- the tests ------------------------------------------------------------------------------ */

static msg_t get_price_req(const char *sku, int quantity)
{
    msg_t m = {0};
    msg_string(&m, 1, sku, strlen(sku));
    if (quantity)
        msg_int(&m, 2, quantity);
    return m;
}

static void test_unary(void)
{
    msg_t req = get_price_req("ABC-123", 2);
    result_t r;
    unary("/shop.v1.PriceService/GetPrice", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK_INT_EQ(r.n_msgs, 1);
    CHECK(r.n_msgs == 1 && msg_has(&r.msgs[0], "ABC-123") && msg_has(&r.msgs[0], "Classic Widget"));
    CHECK_STR_HAS(r.trailing, "x-served-by=shop-backend");
    result_free(&r);
    /* StockService goes to another upstream entry (same backend) */
    msg_t stock = {0};
    msg_string(&stock, 1, "ABC-123", 7);
    unary("/shop.v1.StockService/GetStock", NULL, 0, &stock, 5000, &r);
    free(stock.data);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK(r.n_msgs == 1 && msg_has(&r.msgs[0], "ABC-123"));
    result_free(&r);
    free(req.data);
}

static void test_errors_and_details(void)
{
    msg_t req = get_price_req("NOPE-1", 1);
    result_t r;
    unary("/shop.v1.PriceService/GetPrice", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_NOT_FOUND);
    CHECK_STR_HAS(r.message, "NOPE-1");
    /* google.rpc.Status with an ErrorInfo, decoded by grpc core from base64 */
    CHECK_STR_HAS(r.trailing, "grpc-status-details-bin=");
    CHECK_STR_HAS(r.trailing, "PRODUCT_NOT_FOUND");
    CHECK_STR_HAS(r.trailing, "x-served-by=shop-backend");
    result_free(&r);
    free(req.data);

    /* test hooks: status, message with a '%' (percent-encoded on both hops), details */
    req = get_price_req("ABC-123", 1);
    kv_t md[] = {{"x-test-status", "FAILED_PRECONDITION"},
                 {"x-test-status-message", "precondition failed: 100% sure"},
                 {"x-test-status-details", "error-info"}};
    unary("/shop.v1.PriceService/GetPrice", md, 3, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_FAILED_PRECONDITION);
    CHECK_STR_EQ(r.message, "precondition failed: 100% sure");
    CHECK_STR_HAS(r.trailing, "TEST_HOOK");
    CHECK_INT_EQ(r.n_msgs, 0);
    result_free(&r);

    /* an error after the response message: headers, message, then error trailers */
    kv_t md2[] = {{"x-test-abort-after", "1"}, {"x-test-status", "DATA_LOSS"}, {"x-test-status-message", "late failure"}};
    unary("/shop.v1.PriceService/GetPrice", md2, 3, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_DATA_LOSS);
    CHECK_STR_EQ(r.message, "late failure");
    CHECK_INT_EQ(r.n_msgs, 1);
    result_free(&r);

    /* a request that does not parse: the backend's INVALID_ARGUMENT passes through */
    msg_t junk = {0};
    msg_put(&junk, "\xff\xff\xff", 3);
    unary("/shop.v1.PriceService/GetPrice", NULL, 0, &junk, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_INVALID_ARGUMENT);
    result_free(&r);
    free(junk.data);
    free(req.data);
}

static void test_metadata(void)
{
    msg_t req = get_price_req("ABC-123", 1);
    result_t r;
    kv_t md[] = {{"x-request-id", "ing-md-1"}, {"x-echo-color", "blue"}};
    unary("/shop.v1.PriceService/GetPrice", md, 2, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK_STR_HAS(r.initial, "x-request-id=ing-md-1");
    CHECK_STR_HAS(r.initial, "x-echo-color=blue");
    CHECK_STR_HAS(r.trailing, "x-served-by=shop-backend");
    result_free(&r);
    /* a trailers-only answer carries the echoed metadata in its single header block */
    kv_t md2[] = {{"x-request-id", "ing-md-2"}, {"x-test-status", "NOT_FOUND"}};
    unary("/shop.v1.PriceService/GetPrice", md2, 2, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_NOT_FOUND);
    {
        char both[sizeof(r.initial) + sizeof(r.trailing)];
        snprintf(both, sizeof(both), "%s%s", r.initial, r.trailing);
        CHECK_STR_HAS(both, "x-request-id=ing-md-2");
    }
    result_free(&r);
    free(req.data);

    /* what the backend received: custom and binary metadata yes, transport headers no */
    msg_t ping = {0};
    msg_put(&ping, "ping", 4);
    kv_t md3[] = {{"x-custom", "1"}, {"x-raw-bin", "\x01\x02"}};
    unary("/test.ingress.v1.Echo/Unary", md3, 2, &ping, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK(r.n_msgs == 1 && r.msgs[0].len == 4 && memcmp(r.msgs[0].data, "ping", 4) == 0);
    CHECK_STR_HAS(r.trailing, "x-seen-keys=");
    CHECK_STR_HAS(r.trailing, "x-custom");
    CHECK_STR_HAS(r.trailing, "x-raw-bin");
    CHECK_STR_HAS(r.trailing, "user-agent");
    CHECK_STR_HAS(r.trailing, "x-bin-bin=....\n"); /* 4 bytes, none printable: a -bin trailer passes through */
    result_free(&r);
    free(ping.data);
}

static void test_server_streaming(void)
{
    msg_t req = {0};
    msg_string(&req, 1, "ABC-123", 7);
    msg_int(&req, 2, 5);  /* updates */
    msg_int(&req, 3, 10); /* interval_ms */
    result_t r;
    unary("/shop.v1.PriceService/WatchPrice", NULL, 0, &req, 10000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK_INT_EQ(r.n_msgs, 5);
    result_free(&r);
    /* cut after 2 messages: the messages, then the error */
    kv_t md[] = {{"x-test-abort-after", "2"}};
    unary("/shop.v1.PriceService/WatchPrice", md, 1, &req, 10000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_ABORTED);
    CHECK_INT_EQ(r.n_msgs, 2);
    result_free(&r);
    free(req.data);
}

static void test_client_streaming(void)
{
    enum { N = 50 };
    msg_t reqs[N];
    uint32_t sum = 2166136261u;
    size_t bytes = 0;
    for (int i = 0; i < N; i++) {
        memset(&reqs[i], 0, sizeof(reqs[i]));
        size_t len = (size_t)(1 + i * 997);
        reqs[i].data = malloc(len);
        reqs[i].len = reqs[i].cap = len;
        for (size_t k = 0; k < len; k++) {
            reqs[i].data[k] = (uint8_t)(k * 31 + i);
            sum = (sum ^ reqs[i].data[k]) * 16777619u;
        }
        bytes += len;
    }
    call_spec_t spec = {.method = "/test.ingress.v1.Echo/Collect", .reqs = reqs, .n_reqs = N, .deadline_ms = 20000};
    result_t r;
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    char expect[128];
    snprintf(expect, sizeof(expect), "count=%d bytes=%zu sum=%08x", N, bytes, sum);
    CHECK(r.n_msgs == 1);
    if (r.n_msgs == 1) {
        char got[128];
        snprintf(got, sizeof(got), "%.*s", (int)r.msgs[0].len, (const char *)r.msgs[0].data);
        CHECK_STR_EQ(got, expect);
    }
    result_free(&r);
    /* zero messages is a valid client stream too */
    spec.n_reqs = 0;
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK(r.n_msgs == 1 && msg_has(&r.msgs[0], "count=0 bytes=0"));
    result_free(&r);
    for (int i = 0; i < N; i++)
        free(reqs[i].data);
}

/* Bidi ping-pong: each answer must arrive before the next message is sent, so nothing may
 * wait for the end of the request stream. */
static void test_bidi(void)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call =
        grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                 grpc_slice_from_static_string("/test.ingress.v1.Echo/Chat"), NULL, deadline_in(20000), NULL);
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &trailing;
    op.data.recv_status_on_client.status = &status;
    op.data.recv_status_on_client.status_details = &details;
    grpc_call_start_batch(call, &op, 1, (void *)99, NULL);
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    CHECK(batch(call, cq, &op, 1, (void *)1, 5000) == 1);
    int echoed = 0;
    for (int i = 0; i < 20; i++) {
        char text[32];
        int n = snprintf(text, sizeof(text), "ping %d", i);
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_SEND_MESSAGE;
        op.data.send_message.send_message = bb_from(text, (size_t)n);
        int ok = batch(call, cq, &op, 1, (void *)2, 5000);
        grpc_byte_buffer_destroy(op.data.send_message.send_message);
        if (i == 0) {
            memset(&op, 0, sizeof(op));
            op.op = GRPC_OP_RECV_INITIAL_METADATA;
            op.data.recv_initial_metadata.recv_initial_metadata = &initial;
            batch(call, cq, &op, 1, (void *)3, 5000);
        }
        grpc_byte_buffer *bb = NULL;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &bb;
        if (ok == 1 && batch(call, cq, &op, 1, (void *)4, 5000) == 1 && bb != NULL) {
            msg_t m;
            bb_to_msg(bb, &m);
            if (m.len == (size_t)n && memcmp(m.data, text, m.len) == 0)
                echoed++;
            free(m.data);
            grpc_byte_buffer_destroy(bb);
        }
    }
    CHECK_INT_EQ(echoed, 20);
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    batch(call, cq, &op, 1, (void *)5, 5000);
    grpc_byte_buffer *bb = NULL;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &bb;
    batch(call, cq, &op, 1, (void *)6, 5000);
    CHECK(bb == NULL); /* end of the response stream */
    if (bb != NULL)
        grpc_byte_buffer_destroy(bb);
    grpc_event ev = grpc_completion_queue_pluck(cq, (void *)99, deadline_in(5000), NULL);
    CHECK(ev.type == GRPC_OP_COMPLETE);
    CHECK_INT_EQ(status, GRPC_STATUS_OK);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

static void test_deadlines(void)
{
    msg_t req = get_price_req("ABC-123", 1);
    result_t r;
    /* the client's deadline (300 ms) is shorter than the upstream's (5 s) */
    kv_t md[] = {{"x-test-delay-ms", "3000"}};
    unary("/shop.v1.PriceService/GetPrice", md, 1, &req, 300, &r);
    CHECK_STATUS(&r, GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(r.elapsed_ms < 1500);
    result_free(&r);
    /* no client deadline: the upstream's timeout_ms (stock: 700 ms) ends it, from portico */
    msg_t stock = {0};
    msg_string(&stock, 1, "ABC-123", 7);
    unary("/shop.v1.StockService/GetStock", md, 1, &stock, 0, &r);
    CHECK_STATUS(&r, GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(r.elapsed_ms >= 600 && r.elapsed_ms < 2500);
    if (!(r.elapsed_ms >= 600 && r.elapsed_ms < 2500))
        fprintf(stderr, "  upstream deadline took %.0f ms\n", r.elapsed_ms);
    result_free(&r);
    /* a client deadline longer than the upstream's is capped by it */
    unary("/shop.v1.StockService/GetStock", md, 1, &stock, 10000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(r.elapsed_ms < 2500);
    result_free(&r);
    free(stock.data);
    /* a delay within the deadline is fine */
    kv_t md2[] = {{"x-test-delay-ms", "100"}};
    unary("/shop.v1.PriceService/GetPrice", md2, 1, &req, 3000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    result_free(&r);
    free(req.data);
}

static int log_has_line(const char *path, const char *a, const char *b)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, a) != NULL && strstr(line, b) != NULL;
    fclose(f);
    return found;
}

static void test_cancellation(void)
{
    /* the shop: cancel a long WatchPrice after 2 messages; the backend logs the call as cancelled */
    msg_t req = {0};
    msg_string(&req, 1, "ABC-123", 7);
    msg_int(&req, 2, 1000);
    msg_int(&req, 3, 50);
    kv_t md[] = {{"x-request-id", "ing-cancel-1"}};
    call_spec_t spec = {.method = "/shop.v1.PriceService/WatchPrice",
                        .md = md,
                        .n_md = 1,
                        .reqs = &req,
                        .n_reqs = 1,
                        .deadline_ms = 20000,
                        .cancel_after = 2};
    result_t r;
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_CANCELLED);
    CHECK_INT_EQ(r.n_msgs, 2);
    CHECK(r.elapsed_ms < 5000);
    result_free(&r);
    free(req.data);
    if (shop_log != NULL) {
        int seen = 0;
        for (int i = 0; i < 60 && !seen; i++, sleep_ms(50))
            seen = log_has_line(shop_log, "request-id=ing-cancel-1", "call cancelled");
        CHECK(seen);
        if (!seen)
            fprintf(stderr, "  the shop backend did not log ing-cancel-1 as cancelled\n");
    }

    /* the echo backend: a bidi call cancelled mid-stream is seen cancelled by the backend */
    int before = atomic_load(&echo_cancelled);
    /* Flood keeps sending until the client goes away */
    msg_t flood = {0};
    msg_put(&flood, "100000 1000", 11);
    call_spec_t fs = {
        .method = "/test.ingress.v1.Echo/Flood", .reqs = &flood, .n_reqs = 1, .deadline_ms = 20000, .cancel_after = 3};
    run_call(&fs, &r);
    CHECK_STATUS(&r, GRPC_STATUS_CANCELLED);
    result_free(&r);
    int seen = 0;
    for (int i = 0; i < 100 && !seen; i++, sleep_ms(20))
        seen = atomic_load(&echo_cancelled) > before;
    CHECK(seen);
    free(flood.data);
}

static void test_unknown_and_unavailable(void)
{
    msg_t req = get_price_req("ABC-123", 1);
    result_t r;
    unary("/shop.v1.PriceService/NoSuchMethod", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNIMPLEMENTED);
    CHECK_STR_HAS(r.message, "unknown method /shop.v1.PriceService/NoSuchMethod");
    result_free(&r);
    unary("/nope.v1.Missing/Call", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNIMPLEMENTED);
    CHECK_STR_HAS(r.message, "no such service");
    result_free(&r);
    /* the Dead service's upstream is a closed port */
    double t0 = now_ms();
    unary("/test.ingress.v1.Dead/Unary", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNAVAILABLE);
    CHECK(now_ms() - t0 < 4000);
    result_free(&r);
    /* and again: now failing fast while the target backs off */
    unary("/test.ingress.v1.Dead/Unary", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNAVAILABLE);
    result_free(&r);
    /* the good services are not affected */
    unary("/shop.v1.PriceService/GetPrice", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    result_free(&r);
    free(req.data);
}

static void test_large_messages(void)
{
    /* 3 MiB each way: larger than every HTTP/2 window on the path */
    msg_t big = {0};
    big.len = big.cap = 3 << 20;
    big.data = malloc(big.len);
    for (size_t i = 0; i < big.len; i++)
        big.data[i] = (uint8_t)(i * 13 + (i >> 12));
    result_t r;
    unary("/test.ingress.v1.Echo/Unary", NULL, 0, &big, 20000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK(r.n_msgs == 1 && r.msgs[0].len == big.len && memcmp(r.msgs[0].data, big.data, big.len) == 0);
    result_free(&r);
    free(big.data);
    /* over portico's request message limit (4 MiB): RESOURCE_EXHAUSTED from portico */
    big.len = big.cap = (5 << 20);
    big.data = calloc(1, big.len);
    unary("/test.ingress.v1.Echo/Unary", NULL, 0, &big, 20000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_RESOURCE_EXHAUSTED);
    CHECK_STR_HAS(r.message, "larger than 4194304 bytes");
    result_free(&r);
    free(big.data);
}

static void *concurrent_worker(void *arg)
{
    int *ok = arg;
    msg_t req = get_price_req("XYZ-999", 3);
    for (int i = 0; i < 20; i++) {
        result_t r;
        unary("/shop.v1.PriceService/GetPrice", NULL, 0, &req, 10000, &r);
        if (r.status == GRPC_STATUS_OK && r.n_msgs == 1 && msg_has(&r.msgs[0], "XYZ-999"))
            (*ok)++;
        result_free(&r);
    }
    free(req.data);
    return NULL;
}

static void test_concurrency(void)
{
    /* 200 calls from 10 threads on one channel (one HTTP/2 connection) */
    pthread_t t[10];
    int ok[10] = {0};
    for (int i = 0; i < 10; i++)
        pthread_create(&t[i], NULL, concurrent_worker, &ok[i]);
    int total = 0;
    for (int i = 0; i < 10; i++) {
        pthread_join(t[i], NULL);
        total += ok[i];
    }
    CHECK_INT_EQ(total, 200);
}

/* A fast client streaming to a backend that reads nothing for 1.5 s: HTTP/2 flow control must
 * hold the client back (portico may not soak the upload up), and every byte arrives. */
static void test_request_flow_control(void)
{
    enum { N = 512, SIZE = 64 * 1024 }; /* 32 MiB */
    msg_t *reqs = calloc(N, sizeof(*reqs));
    uint8_t *chunk = malloc(SIZE);
    for (size_t k = 0; k < SIZE; k++)
        chunk[k] = (uint8_t)(k * 5);
    for (int i = 0; i < N; i++) {
        reqs[i].data = chunk;
        reqs[i].len = SIZE;
    }
    atomic_store(&client_sent_bytes, 0);
    atomic_store(&echo_client_sent_at_stall_end, SIZE_MAX);
    kv_t md[] = {{"x-stall-ms", "1500"}};
    call_spec_t spec = {.method = "/test.ingress.v1.Echo/Collect",
                        .md = md,
                        .n_md = 1,
                        .reqs = reqs,
                        .n_reqs = N,
                        .deadline_ms = 60000,
                        .sent_bytes = &client_sent_bytes};
    result_t r;
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK(r.n_msgs == 1 && msg_has(&r.msgs[0], "count=512 bytes=33554432"));
    size_t during = atomic_load(&echo_client_sent_at_stall_end);
    printf("  request flow control: the client got %.1f MiB out while the backend read nothing (total 32 MiB)\n",
           during / 1048576.0);
    CHECK(during < ((size_t)12 << 20));
    result_free(&r);
    free(chunk);
    free(reqs);
}

/* A backend that sends fast to a client that reads nothing for 1.5 s. A moderate stream
 * (8 MiB) is absorbed and delivered whole; a large one (128 MiB) must not be soaked up by
 * portico: it either arrives whole or ends RESOURCE_EXHAUSTED from portico's per-stream cap,
 * and in both cases the backend could not get far ahead of the client. */
static void test_response_flow_control(void)
{
    msg_t req = {0};
    msg_put(&req, "128 65536", 9);
    call_spec_t spec = {
        .method = "/test.ingress.v1.Echo/Flood", .reqs = &req, .n_reqs = 1, .deadline_ms = 60000, .read_delay_ms = 1500};
    result_t r;
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK_INT_EQ(r.n_msgs, 128);
    int intact = r.n_msgs == 128;
    for (size_t i = 0; intact && i < r.n_msgs; i++)
        intact = r.msgs[i].len == 65536 && r.msgs[i].data[0] == (uint8_t)i && r.msgs[i].data[65535] == (uint8_t)(65535 * 7);
    CHECK(intact);
    result_free(&r);
    free(req.data);

    memset(&req, 0, sizeof(req));
    msg_put(&req, "2048 65536", 10);
    size_t before = atomic_load(&echo_sent_bytes);
    /* hand-rolled: sample the backend's progress while the client sleeps */
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call =
        grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                 grpc_slice_from_static_string("/test.ingress.v1.Echo/Flood"), NULL, deadline_in(60000), NULL);
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb_from(req.data, req.len);
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    CHECK(batch(call, cq, ops, 3, (void *)1, 5000) == 1);
    grpc_byte_buffer_destroy(ops[1].data.send_message.send_message);
    sleep_ms(1500);
    size_t ahead = atomic_load(&echo_sent_bytes) - before;
    printf("  response flow control: the backend got %.1f MiB out while the client read nothing (total 128 MiB)\n",
           ahead / 1048576.0);
    CHECK(ahead < ((size_t)48 << 20));
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_status_code status;
    grpc_slice details;
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[0].data.recv_initial_metadata.recv_initial_metadata = &initial;
    batch(call, cq, ops, 1, (void *)2, 10000);
    size_t got = 0, n = 0;
    for (;;) {
        grpc_byte_buffer *bb = NULL;
        memset(ops, 0, sizeof(ops));
        ops[0].op = GRPC_OP_RECV_MESSAGE;
        ops[0].data.recv_message.recv_message = &bb;
        if (batch(call, cq, ops, 1, (void *)3, 30000) != 1 || bb == NULL)
            break;
        got += grpc_byte_buffer_length(bb);
        n++;
        grpc_byte_buffer_destroy(bb);
    }
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[0].data.recv_status_on_client.status = &status;
    ops[0].data.recv_status_on_client.status_details = &details;
    CHECK(batch(call, cq, ops, 1, (void *)4, 30000) == 1);
    char text[512];
    snprintf(text, sizeof(text), "%.*s", (int)GRPC_SLICE_LENGTH(details), (const char *)GRPC_SLICE_START_PTR(details));
    printf("  large stream to a stalled client: status %d, %zu messages (%.1f MiB) delivered%s%s\n", (int)status, n,
           got / 1048576.0, status != GRPC_STATUS_OK ? ": " : "", status != GRPC_STATUS_OK ? text : "");
    CHECK((status == GRPC_STATUS_OK && n == 2048) ||
          (status == GRPC_STATUS_RESOURCE_EXHAUSTED && strstr(text, "too slowly") != NULL));
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    free(req.data);

    /* portico still serves */
    msg_t ping = {0};
    msg_put(&ping, "after", 5);
    unary("/test.ingress.v1.Echo/Unary", NULL, 0, &ping, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    result_free(&r);
    free(ping.data);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

static void test_tls(void)
{
    if (tls_target == NULL || ca_file == NULL) {
        printf("  (no --tls-target: TLS skipped)\n");
        return;
    }
    char *ca = read_file(ca_file);
    CHECK(ca != NULL);
    grpc_channel_credentials *creds = grpc_ssl_credentials_create(ca, NULL, NULL, NULL);
    grpc_arg arg = {.type = GRPC_ARG_STRING, .key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG, .value.string = "localhost"};
    grpc_channel_args args = {1, &arg};
    grpc_channel *tls = grpc_channel_create(tls_target, creds, &args);
    grpc_channel_credentials_release(creds);
    msg_t req = get_price_req("ABC-123", 2);
    kv_t md[] = {{"x-request-id", "ing-tls-1"}};
    call_spec_t spec = {.method = "/shop.v1.PriceService/GetPrice",
                        .md = md,
                        .n_md = 1,
                        .reqs = &req,
                        .n_reqs = 1,
                        .deadline_ms = 10000,
                        .ch = tls};
    result_t r;
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK(r.n_msgs == 1 && msg_has(&r.msgs[0], "Classic Widget"));
    CHECK_STR_HAS(r.initial, "x-request-id=ing-tls-1");
    result_free(&r);
    /* server streaming over TLS too */
    msg_t w = {0};
    msg_string(&w, 1, "ABC-123", 7);
    msg_int(&w, 2, 4);
    msg_int(&w, 3, 5);
    spec.method = "/shop.v1.PriceService/WatchPrice";
    spec.reqs = &w;
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK_INT_EQ(r.n_msgs, 4);
    result_free(&r);
    free(w.data);
    free(req.data);
    grpc_channel_destroy(tls);
    free(ca);
}

/* SIGTERM with a call in flight: the call completes, then portico stops accepting. */
static void test_shutdown(void)
{
    if (portico_pid <= 0) {
        printf("  (no --portico-pid: shutdown skipped)\n");
        return;
    }
    msg_t req = get_price_req("ABC-123", 1);
    result_t warm;
    unary("/shop.v1.PriceService/GetPrice", NULL, 0, &req, 5000, &warm);
    CHECK_STATUS(&warm, GRPC_STATUS_OK);
    result_free(&warm);

    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call =
        grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                 grpc_slice_from_static_string("/shop.v1.PriceService/GetPrice"), NULL, deadline_in(10000), NULL);
    grpc_metadata md = {0};
    md.key = grpc_slice_from_static_string("x-test-delay-ms");
    md.value = grpc_slice_from_static_string("1000");
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_byte_buffer *resp = NULL;
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb_from(req.data, req.len);
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    CHECK(grpc_call_start_batch(call, ops, 6, (void *)1, NULL) == GRPC_CALL_OK);
    sleep_ms(300);
    CHECK(kill((pid_t)portico_pid, SIGTERM) == 0);
    grpc_event ev = grpc_completion_queue_pluck(cq, (void *)1, deadline_in(10000), NULL);
    CHECK(ev.type == GRPC_OP_COMPLETE && ev.success);
    CHECK_INT_EQ(status, GRPC_STATUS_OK);
    CHECK(resp != NULL);
    if (resp != NULL)
        grpc_byte_buffer_destroy(resp);
    grpc_byte_buffer_destroy(ops[1].data.send_message.send_message);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);

    /* portico exits once the call is done */
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++, sleep_ms(50))
        gone = kill((pid_t)portico_pid, 0) != 0 && errno == ESRCH;
    CHECK(gone);
    free(req.data);
}

/* ---- gRPC→REST ------------------------------------------------------------------------------ */

#define REVIEWS "/shop.v1.ReviewsService/GetReviews"

static msg_t sku_req(const char *sku)
{
    msg_t m = {0};
    msg_string(&m, 1, sku, strlen(sku));
    return m;
}

/* Non-zero when the log has a line with |needle| (the reviews backend logs each answered request). */
static int log_has(const char *path, const char *needle)
{
    return log_has_line(path, needle, needle);
}

static void test_rest(void)
{
    /* OK: the REST JSON answer as a shop.v1.ProductReviews */
    msg_t req = sku_req("ABC-123");
    result_t r;
    unary(REVIEWS, NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK_INT_EQ(r.n_msgs, 1);
    if (r.n_msgs == 1) {
        static const uint8_t average[] = {0x11, 0, 0, 0, 0, 0, 0, 0x12, 0x40}; /* average = 4.5 (double) */
        static const uint8_t count[] = {0x18, 0x02};                           /* count = 2 */
        CHECK(msg_has(&r.msgs[0], "\x0a\x07"
                                  "ABC-123")); /* sku */
        CHECK(msg_has_bytes(&r.msgs[0], average, sizeof(average)));
        CHECK(msg_has_bytes(&r.msgs[0], count, sizeof(count)));
        CHECK(msg_has(&r.msgs[0], "\x0a\x03"
                                  "ana") &&
              msg_has(&r.msgs[0], "\x0a\x04"
                                  "bram")); /* reviews[].author */
        CHECK(msg_has(&r.msgs[0], "Does exactly what a widget should."));
    }
    result_free(&r);
    free(req.data);

    /* HTTP errors back as gRPC codes, the REST error body as the message */
    typedef struct {
        const char *sku, *status_hook, *body_hook;
        grpc_status_code code;
        const char *message;
    } rest_error_case_t;
    static const rest_error_case_t cases[] = {
        {"NOPE-1", NULL, NULL, GRPC_STATUS_NOT_FOUND, "no product with SKU"},
        {"ABC-123", "409", NULL, GRPC_STATUS_ABORTED, "status 409 requested by x-test-status"},
        {"ABC-123", "503", NULL, GRPC_STATUS_UNAVAILABLE, "status 503"},
        {"ABC-123", "400", NULL, GRPC_STATUS_INVALID_ARGUMENT, "status 400"},
        {"ABC-123", "500", NULL, GRPC_STATUS_INTERNAL, "status 500"},
        {"ABC-123", "418", NULL, GRPC_STATUS_FAILED_PRECONDITION, "status 418"},
        {"ABC-123", NULL, "not json", GRPC_STATUS_INTERNAL, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const rest_error_case_t *c = &cases[i];
        kv_t md[2];
        size_t n = 0;
        if (c->status_hook != NULL)
            md[n++] = (kv_t){"x-test-status", c->status_hook};
        if (c->body_hook != NULL)
            md[n++] = (kv_t){"x-test-body", c->body_hook};
        req = sku_req(c->sku);
        unary(REVIEWS, md, n, &req, 5000, &r);
        if (r.status != c->code)
            fprintf(stderr, "  case %zu (%s %s)\n", i, c->sku, c->status_hook ? c->status_hook : "");
        CHECK_STATUS(&r, c->code);
        CHECK_STR_HAS(r.message, c->message);
        CHECK_INT_EQ(r.n_msgs, 0);
        result_free(&r);
        free(req.data);
    }

    /* deadlines: the client's (300 ms) and the upstream's timeout_ms (1000 ms) */
    req = sku_req("ABC-123");
    kv_t slow[] = {{"x-test-delay-ms", "3000"}};
    unary(REVIEWS, slow, 1, &req, 300, &r);
    CHECK_STATUS(&r, GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(r.elapsed_ms < 1500);
    result_free(&r);
    unary(REVIEWS, slow, 1, &req, 0, &r);
    CHECK_STATUS(&r, GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(r.elapsed_ms >= 900 && r.elapsed_ms < 2500);
    if (!(r.elapsed_ms >= 900 && r.elapsed_ms < 2500))
        fprintf(stderr, "  upstream deadline took %.0f ms\n", r.elapsed_ms);
    result_free(&r);
    kv_t fine[] = {{"x-test-delay-ms", "100"}};
    unary(REVIEWS, fine, 1, &req, 3000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK_INT_EQ(r.n_msgs, 1);
    result_free(&r);
    free(req.data);

    /* cancellation: the client gives up on a call the backend holds for 1200 ms; portico must
       abandon the HTTP request (closing its connection). The upstream has max_connections 1,
       so a call right after the cancellation is only quick when that connection was given up;
       an HTTP request left running would hold it ~900 ms more */
    req = sku_req("DEF-456");
    kv_t delay[] = {{"x-test-delay-ms", "1200"}};
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_call *call = grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, grpc_slice_from_static_string(REVIEWS),
                                               NULL, deadline_in(10000), NULL);
    grpc_metadata md;
    memset(&md, 0, sizeof(md));
    md.key = grpc_slice_from_static_string(delay[0].key);
    md.value = grpc_slice_from_static_string(delay[0].value);
    grpc_status_code status = GRPC_STATUS_OK;
    grpc_slice details = grpc_empty_slice();
    grpc_metadata_array trailing;
    grpc_metadata_array_init(&trailing);
    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb_from(req.data, req.len);
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[3].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[3].data.recv_status_on_client.status = &status;
    ops[3].data.recv_status_on_client.status_details = &details;
    double t0 = now_ms();
    CHECK(grpc_call_start_batch(call, ops, 4, (void *)7, NULL) == GRPC_CALL_OK);
    sleep_ms(300); /* the request is at the backend, waiting on its timer */
    grpc_call_cancel(call, NULL);
    grpc_event ev = grpc_completion_queue_pluck(cq, (void *)7, deadline_in(5000), NULL);
    CHECK(ev.type == GRPC_OP_COMPLETE);
    CHECK_INT_EQ(status, GRPC_STATUS_CANCELLED);
    CHECK(now_ms() - t0 < 1000);
    grpc_byte_buffer_destroy(ops[1].data.send_message.send_message);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    free(req.data);
    req = sku_req("XYZ-999");
    unary(REVIEWS, NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK(r.n_msgs == 1 && msg_has(&r.msgs[0], "Worth the sale price."));
    CHECK(r.elapsed_ms < 500);
    if (r.elapsed_ms >= 500)
        fprintf(stderr, "  the call after a cancelled one took %.0f ms: the HTTP request was not abandoned\n", r.elapsed_ms);
    result_free(&r);
    free(req.data);
    if (reviews_log != NULL) {
        /* the cancelled request had reached the backend (it logs a request when its delay ends) */
        int seen = 0;
        for (int i = 0; i < 60 && !seen; i++, sleep_ms(50))
            seen = log_has(reviews_log, "/reviews/DEF-456");
        CHECK(seen);
    }
    /* and portico serves on */
    req = sku_req("XYZ-999");
    unary(REVIEWS, NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    CHECK(r.n_msgs == 1 && msg_has(&r.msgs[0], "Worth the sale price."));
    result_free(&r);
    free(req.data);

    /* concurrent translated calls on one connection */
    const msg_t many_req = sku_req("OLD-001");
    call_spec_t spec = {.method = REVIEWS, .reqs = &many_req, .n_reqs = 1, .deadline_ms = 5000};
    int ok = 0;
    for (int i = 0; i < 20; i++) {
        run_call(&spec, &r);
        ok += r.status == GRPC_STATUS_OK && r.n_msgs == 1 && msg_has(&r.msgs[0], "hana");
        result_free(&r);
    }
    CHECK_INT_EQ(ok, 20);
    free(many_req.data);
}

static void test_rest_shapes(void)
{
    result_t r;
    /* server streaming: NDJSON and a JSON array, one message per element */
    static const char *const formats[] = {"ndjson", "array", "wrapped"};
    for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        msg_t req = {0};
        msg_string(&req, 1, "S-1", 3);
        msg_int(&req, 2, 3);
        msg_string(&req, 3, formats[f], strlen(formats[f]));
        call_spec_t spec = {.method = "/portico.reversetest.Reviews/WatchReviews", .reqs = &req, .n_reqs = 1, .deadline_ms = 5000};
        run_call(&spec, &r);
        CHECK_STATUS(&r, GRPC_STATUS_OK);
        CHECK_INT_EQ(r.n_msgs, 3);
        for (size_t i = 0; i < r.n_msgs && i < 3; i++) {
            uint8_t n[2] = {0x08, (uint8_t)(i + 1)}; /* Event.n = i + 1 */
            CHECK(msg_has_bytes(&r.msgs[i], n, 2) && msg_has(&r.msgs[i], "\x12\x03"
                                                                         "S-1"));
        }
        CHECK_STR_HAS(r.initial, "x-stream-format="); /* backend headers become initial metadata */
        result_free(&r);
        free(req.data);
    }
    /* a stream that fails after two messages: the messages, then the error's status */
    msg_t req = {0};
    msg_string(&req, 1, "S-2", 3);
    msg_int(&req, 2, 5);
    msg_string(&req, 3, "error", 5);
    call_spec_t spec = {.method = "/portico.reversetest.Reviews/WatchReviews", .reqs = &req, .n_reqs = 1, .deadline_ms = 5000};
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_NOT_FOUND);
    CHECK_INT_EQ(r.n_msgs, 2);
    CHECK_STR_HAS(r.message, "gone");
    result_free(&r);
    free(req.data);
    /* a client that cancels a stream after one message */
    req = (msg_t){0};
    msg_string(&req, 1, "S-3", 3);
    msg_int(&req, 2, 20);
    spec = (call_spec_t){
        .method = "/portico.reversetest.Reviews/WatchReviews", .reqs = &req, .n_reqs = 1, .deadline_ms = 10000, .cancel_after = 1};
    run_call(&spec, &r);
    CHECK_STATUS(&r, GRPC_STATUS_CANCELLED);
    CHECK_INT_EQ(r.n_msgs, 1);
    CHECK(r.elapsed_ms < 1500);
    result_free(&r);
    free(req.data);

    /* metadata becomes request headers; the message becomes the path and query */
    req = (msg_t){0};
    msg_string(&req, 1, "id 7", 4);
    kv_t md[] = {{"x-trace-me", "yes"}, {"authorization", "Bearer t0k"}};
    unary("/portico.reversetest.Library/Echo", md, 2, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    if (r.n_msgs == 1) {
        CHECK(msg_has(&r.msgs[0], "/echo/id%207"));
        CHECK(msg_has(&r.msgs[0], "x-trace-me") && msg_has(&r.msgs[0], "yes"));
        CHECK(msg_has(&r.msgs[0], "Bearer t0k"));
    } else
        CHECK_INT_EQ(r.n_msgs, 1);
    result_free(&r);
    /* an empty path variable: INVALID_ARGUMENT from the mapping, nothing sent */
    msg_t empty = {0};
    unary("/portico.reversetest.Library/Echo", NULL, 0, &empty, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_INVALID_ARGUMENT);
    CHECK_STR_HAS(r.message, "path variable");
    result_free(&r);

    /* not exactly one request message */
    call_spec_t none = {.method = "/portico.reversetest.Library/Echo", .deadline_ms = 5000};
    run_call(&none, &r);
    CHECK_STATUS(&r, GRPC_STATUS_INTERNAL);
    CHECK_STR_HAS(r.message, "without a message");
    result_free(&r);
    msg_t two[2] = {req, req};
    call_spec_t twice = {.method = "/portico.reversetest.Library/Echo", .reqs = two, .n_reqs = 2, .deadline_ms = 5000};
    run_call(&twice, &r);
    CHECK_STATUS(&r, GRPC_STATUS_INTERNAL);
    CHECK_STR_HAS(r.message, "second message");
    result_free(&r);

    /* methods that cannot be translated */
    call_spec_t up = {.method = "/portico.reversetest.Library/Upstream", .reqs = two, .n_reqs = 2, .deadline_ms = 5000};
    run_call(&up, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNIMPLEMENTED);
    CHECK_STR_HAS(r.message, "streams requests");
    result_free(&r);
    unary("/portico.reversetest.Library/NoRule", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNIMPLEMENTED);
    CHECK_STR_HAS(r.message, "no google.api.http rule");
    result_free(&r);
    unary("/portico.reversetest.Library/Wild", NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNIMPLEMENTED);
    result_free(&r);
    free(req.data);

    /* a request message over the limit (max_request_body_bytes: 65536): RESOURCE_EXHAUSTED */
    msg_t big = {0};
    char *blob = malloc(100000);
    memset(blob, 'x', 100000);
    msg_string(&big, 1, blob, 100000);
    free(blob);
    unary("/portico.reversetest.Library/Echo", NULL, 0, &big, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_RESOURCE_EXHAUSTED);
    result_free(&r);
    free(big.data);
    /* a message under it, sent in many DATA frames (the window is given back as it is read) */
    big = (msg_t){0};
    blob = malloc(60000);
    memset(blob, 'y', 60000);
    msg_string(&big, 3, blob, 60000); /* EchoRequest.body: "answer this body" */
    msg_string(&big, 1, "big", 3);
    free(blob);
    unary("/portico.reversetest.Library/EchoPost", NULL, 0, &big, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_OK);
    result_free(&r);
    free(big.data);
}

static void test_rest_down(void)
{
    msg_t req = sku_req("ABC-123");
    result_t r;
    double t0 = now_ms();
    unary(REVIEWS, NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNAVAILABLE);
    CHECK(now_ms() - t0 < 3000);
    result_free(&r);
    unary(REVIEWS, NULL, 0, &req, 5000, &r);
    CHECK_STATUS(&r, GRPC_STATUS_UNAVAILABLE);
    result_free(&r);
    free(req.data);
}

typedef struct test_case {
    const char *name;
    void (*fn)(void);
    int alone; /* run only when named with --only */
} test_case_t;

static const test_case_t tests[] = {
    {"unary", test_unary, 0},
    {"errors", test_errors_and_details, 0},
    {"metadata", test_metadata, 0},
    {"server-streaming", test_server_streaming, 0},
    {"client-streaming", test_client_streaming, 0},
    {"bidi", test_bidi, 0},
    {"deadlines", test_deadlines, 0},
    {"cancellation", test_cancellation, 0},
    {"unknown-unavailable", test_unknown_and_unavailable, 0},
    {"large-messages", test_large_messages, 0},
    {"concurrency", test_concurrency, 0},
    {"request-flow-control", test_request_flow_control, 0},
    {"response-flow-control", test_response_flow_control, 0},
    {"tls", test_tls, 0},
    {"shutdown", test_shutdown, 1}, /* it stops portico */
    {"rest", test_rest, 1},
    {"rest-shapes", test_rest_shapes, 1},
    {"rest-down", test_rest_down, 1},
};

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--target") == 0)
            target = v;
        else if (strcmp(k, "--echo-listen") == 0)
            echo_listen = v;
        else if (strcmp(k, "--shop-log") == 0)
            shop_log = v;
        else if (strcmp(k, "--tls-target") == 0)
            tls_target = v;
        else if (strcmp(k, "--ca") == 0)
            ca_file = v;
        else if (strcmp(k, "--portico-pid") == 0)
            portico_pid = atol(v);
        else if (strcmp(k, "--reviews-log") == 0)
            reviews_log = v;
        else if (strcmp(k, "--only") == 0)
            only = v;
        else {
            fprintf(stderr, "ingress-client: unknown option %s\n", k);
            return 2;
        }
    }
    if (target == NULL) {
        fprintf(stderr, "usage: ingress-client --target HOST:PORT [--echo-listen HOST:PORT] [--shop-log FILE]\n"
                        "       [--tls-target HOST:PORT --ca FILE] [--portico-pid PID] [--reviews-log FILE] [--only NAME]\n");
        return 2;
    }
    grpc_init();
    if (echo_listen != NULL && echo_start(echo_listen) != 0) {
        fprintf(stderr, "ingress-client: cannot listen on %s\n", echo_listen);
        return 2;
    }
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_arg arg = {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = 64 << 20};
    grpc_channel_args args = {1, &arg};
    channel = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (only != NULL ? strcmp(only, tests[i].name) != 0 : tests[i].alone)
            continue;
        int failed_before = test_failed_;
        double t0 = now_ms();
        tests[i].fn();
        printf("%s %s (%.0f ms)\n", test_failed_ == failed_before ? "ok  " : "FAIL", tests[i].name, now_ms() - t0);
        fflush(stdout);
    }
    int rc = test_summary();
    fflush(stdout);
    /* grpc's threads and the echo server's call threads are not joined: exit directly */
    _exit(rc);
}
