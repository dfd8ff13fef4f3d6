/*
 * upstream_shop_test.c — src/upstream's gRPC client against the real backend: it starts
 * examples/shop's shop-backend (grpc core) on a random loopback port and drives an h2o loop:
 * a unary call (request and response through the JSON codec and shop.pb), 200 concurrent
 * calls on one pool, a 1.5 MiB message each way, a server-streaming call, a deadline shorter
 * than x-test-delay-ms, x-test-status with message and status details, x-test-abort-after,
 * cancellation, a backend that is down, and a backend killed mid-stream and restarted on the
 * same port (in-flight calls fail UNAVAILABLE; the pool recovers).
 *
 * The backend binary is looked up in $PORTICO_BUILD_DIR, else next to $PORTICO_BIN. Without it
 * (grpc not installed) the test prints SKIPPED and passes: upstream_grpc_client_test.c still
 * covers the client against a scripted server.
 */
#include "upstream/upstream.h"

#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/proto.h"
#include "test.h"

static h2o_loop_t *loop;
static proto_registry_t *registry;
static char backend_path[4096];
static char port_file[256];

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static int run_until(const int *done, uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (!*done && wall_ms() < end)
        h2o_evloop_run(loop, 10);
    return *done;
}

static void run_for(uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (wall_ms() < end)
        h2o_evloop_run(loop, 5);
}

/* ---- the backend process ------------------------------------------------------------------ */

static int find_backend(void)
{
    const char *dirs[2] = {getenv("PORTICO_BUILD_DIR"), NULL};
    char bin_dir[4096];
    const char *bin = getenv("PORTICO_BIN");
    if (bin != NULL) {
        snprintf(bin_dir, sizeof(bin_dir), "%s", bin);
        dirs[1] = dirname(bin_dir);
    }
    for (int i = 0; i < 2; i++) {
        if (dirs[i] == NULL)
            continue;
        snprintf(backend_path, sizeof(backend_path), "%s/examples/shop/shop-backend", dirs[i]);
        if (access(backend_path, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* Starts shop-backend on |port| (0: any) and returns its pid; *bound gets the port. */
static pid_t backend_start(uint16_t port, uint16_t *bound)
{
    char listen_arg[64];
    snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%u", port);
    unlink(port_file);
    pid_t pid = fork();
    if (pid == 0) {
        execl(backend_path, backend_path, "--listen", listen_arg, "--port-file", port_file, "--quiet", "--grace-ms", "0",
              "--watch-interval-ms", "20", (char *)NULL);
        _exit(127);
    }
    uint64_t end = wall_ms() + 10000;
    while (wall_ms() < end) {
        FILE *f = fopen(port_file, "r");
        unsigned p = 0;
        if (f != NULL) {
            int got = fscanf(f, "%u", &p);
            fclose(f);
            if (got == 1 && p != 0) {
                *bound = (uint16_t)p;
                return pid;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "shop-backend exited before listening (status %d)\n", status);
            return -1;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void backend_stop(pid_t pid, int sig)
{
    if (pid <= 0)
        return;
    kill(pid, sig);
    waitpid(pid, NULL, 0);
}

/* ---- codec helpers ---------------------------------------------------------------------------- */

static const proto_method_t *method(const char *path)
{
    const proto_method_t *m = proto_registry_find_method(registry, path);
    if (m == NULL)
        TEST_FAIL_("method %s is not in shop.pb", path);
    return m;
}

static void encode(const char *path, const char *json, util_buf_t *out)
{
    util_error_t err = {0};
    out->len = 0;
    if (codec_json_to_pb(registry, method(path)->input, json, strlen(json), NULL, out, &err) != 0)
        TEST_FAIL_("encoding %s request: %s", path, err.message);
}

/* ---- a recorder per call ------------------------------------------------------------------- */

typedef struct rec {
    const proto_message_t *output; /* decode responses into |json| */
    int closed, close_count, after_cancel, cancelled;
    int code;
    char message[512];
    int http_status, local;
    int n_messages;
    size_t bytes;
    util_buf_t json; /* responses as JSON, one per line */
    char header_text[1024], trailer_text[4096];
    uint64_t closed_at;
    upstream_grpc_call_t *call;
    int cancel_after; /* cancel from on_message once this many arrived (0: never) */
} rec_t;

static void list_headers(char *out, size_t size, const upstream_header_t *h, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        int k = snprintf(out + used, size - used, "%.*s: %.*s\n", (int)h[i].name_len, h[i].name, (int)h[i].value_len, h[i].value);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static void rec_on_headers(void *ctx, const upstream_header_t *h, size_t n)
{
    rec_t *r = ctx;
    r->after_cancel += r->cancelled;
    list_headers(r->header_text, sizeof(r->header_text), h, n);
}

static void rec_on_message(void *ctx, const uint8_t *data, size_t len)
{
    rec_t *r = ctx;
    r->after_cancel += r->cancelled;
    r->n_messages++;
    r->bytes += len;
    if (r->output != NULL && len < 4096) {
        util_error_t err = {0};
        if (codec_pb_to_json(registry, r->output, data, len, NULL, &r->json, &err) != 0)
            TEST_FAIL_("decoding a response: %s", err.message);
        util_buf_putc(&r->json, '\n');
    }
    if (r->cancel_after != 0 && r->n_messages == r->cancel_after) {
        upstream_grpc_call_cancel(r->call);
        r->cancelled = 1;
    }
}

static void rec_on_close(void *ctx, const upstream_grpc_result_t *res)
{
    rec_t *r = ctx;
    r->after_cancel += r->cancelled;
    r->closed = 1;
    r->close_count++;
    r->code = res->code;
    snprintf(r->message, sizeof(r->message), "%s", res->message);
    r->http_status = res->http_status;
    r->local = res->local;
    r->closed_at = wall_ms();
    list_headers(r->trailer_text, sizeof(r->trailer_text), res->trailers, res->n_trailers);
    util_buf_putc(&r->json, '\0');
    r->json.len--;
}

static const upstream_grpc_callbacks_t rec_cb = {rec_on_headers, rec_on_message, rec_on_close};

static void rec_init(rec_t *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    util_buf_init(&r->json);
    util_buf_putc(&r->json, '\0');
    r->json.len = 0;
    r->output = method(path) ? method(path)->output : NULL;
}

static const char *rec_json(rec_t *r)
{
    return r->json.data != NULL ? (const char *)r->json.data : "";
}

/* Starts |path| with |json| as the one request message, and half-closes. */
static upstream_grpc_call_t *start(upstream_grpc_pool_t *pool, rec_t *r, const char *path, const char *json,
                                   const upstream_header_t *md, size_t n_md, int64_t timeout_ms)
{
    util_buf_t req = UTIL_BUF_INIT;
    rec_init(r, path);
    encode(path, json, &req);
    util_error_t err = {0};
    upstream_grpc_call_t *call = upstream_grpc_call_start(pool, path, md, n_md, timeout_ms, &rec_cb, r, &err);
    if (call == NULL) {
        TEST_FAIL_("call_start(%s): %s", path, err.message);
        util_buf_dispose(&req);
        return NULL;
    }
    r->call = call;
    upstream_grpc_call_send(call, req.data, req.len);
    upstream_grpc_call_close_send(call);
    util_buf_dispose(&req);
    return call;
}

static upstream_grpc_pool_t *pool_for(uint16_t port, util_error_t *err)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%u", port);
    const char *targets[] = {target};
    upstream_grpc_config_t cfg = {0};
    cfg.targets = targets;
    cfg.n_targets = 1;
    cfg.max_connections_per_target = 2;
    cfg.backoff_initial_ms = 100;
    cfg.backoff_max_ms = 400;
    return upstream_grpc_pool_new(loop, &cfg, err);
}

#define GET_PRICE "/shop.v1.PriceService/GetPrice"
#define WATCH_PRICE "/shop.v1.PriceService/WatchPrice"
#define RESERVE "/shop.v1.StockService/ReserveStock"

/* ---- table: unary calls and what comes back ------------------------------------------------ */
typedef struct {
    const char *name;
    const char *path;
    const char *json;
    upstream_header_t md[4];
    size_t n_md;
    int code;
    const char *message_has;  /* fragment of the status message ("" for any) */
    const char *response_has; /* fragment of the JSON response (NULL: no response) */
    const char *headers_has;  /* fragment of the initial metadata */
    const char *trailers_has; /* fragment of the trailers */
} unary_case_t;

#define MD(k, v)                                                                                                                   \
    {                                                                                                                              \
        k, sizeof(k) - 1, v, sizeof(v) - 1                                                                                         \
    }

static const unary_case_t unary_cases[] = {
    {"get price",
     GET_PRICE,
     "{\"sku\":\"ABC-123\",\"quantity\":2}",
     {MD("x-request-id", "req-42")},
     1,
     GRPC_CODE_OK,
     "",
     "\"amountMicros\":\"39980000\"",
     "x-request-id: req-42",
     "x-served-by: "},
    {"unknown sku", GET_PRICE, "{\"sku\":\"NOPE-1\"}", {{0}}, 0, GRPC_CODE_NOT_FOUND, "NOPE-1", NULL, NULL, "x-served-by: "},
    {"utf-8 in the status message",
     GET_PRICE,
     "{\"sku\":\"caf\\u00e9\"}",
     {{0}},
     0,
     GRPC_CODE_NOT_FOUND,
     "caf\xc3\xa9",
     NULL,
     NULL,
     NULL},
    {"bad quantity",
     GET_PRICE,
     "{\"sku\":\"ABC-123\",\"quantity\":-4}",
     {{0}},
     0,
     GRPC_CODE_INVALID_ARGUMENT,
     "quantity",
     NULL,
     NULL,
     "grpc-status-details-bin: "},
    {"x-test-status by name",
     GET_PRICE,
     "{\"sku\":\"ABC-123\"}",
     {MD("x-test-status", "PERMISSION_DENIED"), MD("x-test-status-message", "not for you: caf\\u00e9 100%"),
      MD("x-test-status-details", "error-info")},
     3,
     GRPC_CODE_PERMISSION_DENIED,
     "not for you",
     NULL,
     NULL,
     "grpc-status-details-bin: "},
    {"x-test-status by number",
     GET_PRICE,
     "{\"sku\":\"ABC-123\"}",
     {MD("x-test-status", "14")},
     1,
     GRPC_CODE_UNAVAILABLE,
     "",
     NULL,
     NULL,
     "x-served-by: "},
    {"unknown method", "/shop.v1.PriceService/NoSuchMethod", NULL, {{0}}, 0, GRPC_CODE_UNIMPLEMENTED, "", NULL, NULL, NULL},
    {"stock",
     "/shop.v1.StockService/GetStock",
     "{\"sku\":\"ABC-123\",\"warehouse\":\"ams-1\"}",
     {{0}},
     0,
     GRPC_CODE_OK,
     "",
     "\"warehouse\":\"ams-1\"",
     NULL,
     NULL},
};

static void test_unary_table(upstream_grpc_pool_t *pool)
{
    for (size_t i = 0; i < sizeof(unary_cases) / sizeof(unary_cases[0]); i++) {
        const unary_case_t *c = &unary_cases[i];
        rec_t r;
        if (c->json != NULL) {
            start(pool, &r, c->path, c->json, c->md, c->n_md, 5000);
        } else {
            rec_init(&r, GET_PRICE);
            r.output = NULL;
            upstream_grpc_call_t *call = upstream_grpc_call_start(pool, c->path, c->md, c->n_md, 5000, &rec_cb, &r, NULL);
            upstream_grpc_call_close_send(call);
        }
        run_until(&r.closed, 5000);
        if (r.code != c->code)
            fprintf(stderr, "case \"%s\": code %d, message \"%s\"\n", c->name, r.code, r.message);
        CHECK_INT_EQ(r.close_count, 1);
        CHECK_INT_EQ(r.code, c->code);
        CHECK_STR_HAS(r.message, c->message_has);
        CHECK_INT_EQ(r.local, 0);
        CHECK_INT_EQ(r.http_status, 200);
        if (c->response_has != NULL) {
            CHECK_INT_EQ(r.n_messages, 1);
            CHECK_STR_HAS(rec_json(&r), c->response_has);
        } else {
            CHECK_INT_EQ(r.n_messages, 0);
        }
        if (c->headers_has != NULL)
            CHECK_STR_HAS(r.header_text, c->headers_has);
        if (c->trailers_has != NULL)
            CHECK_STR_HAS(r.trailer_text, c->trailers_has);
        util_buf_dispose(&r.json);
    }

    /* grpc-message arrives percent-decoded (grpc core encodes the UTF-8 and the '%'), and
     * grpc-status-details-bin decodes to a google.rpc.Status carrying the hook's ErrorInfo. */
    rec_t r;
    upstream_header_t md[] = {MD("x-test-status", "NOT_FOUND"), MD("x-test-status-message", "gone: 100% sure"),
                              MD("x-test-status-details", "error-info")};
    start(pool, &r, GET_PRICE, "{\"sku\":\"ABC-123\"}", md, 3, 5000);
    run_until(&r.closed, 5000);
    CHECK_INT_EQ(r.code, GRPC_CODE_NOT_FOUND);
    CHECK_STR_EQ(r.message, "gone: 100% sure");
    const char *d = strstr(r.trailer_text, "grpc-status-details-bin: ");
    CHECK(d != NULL);
    if (d != NULL) {
        d += strlen("grpc-status-details-bin: ");
        const char *end = strchr(d, '\n');
        util_buf_t bytes = UTIL_BUF_INIT, json = UTIL_BUF_INIT;
        CHECK_INT_EQ(grpc_metadata_bin_decode(&bytes, d, (size_t)(end - d), NULL), 0);
        const proto_message_t *status = proto_registry_find_message(registry, "google.rpc.Status");
        util_error_t err = {0};
        CHECK(status != NULL && codec_pb_to_json(registry, status, bytes.data, bytes.len, NULL, &json, &err) == 0);
        util_buf_putc(&json, 0);
        CHECK_STR_HAS((const char *)json.data, "\"code\":5");
        CHECK_STR_HAS((const char *)json.data, "TEST_HOOK");
        util_buf_dispose(&bytes);
        util_buf_dispose(&json);
    }
    util_buf_dispose(&r.json);
}

/* ---- 200 concurrent calls on one pool ---------------------------------------------------------- */
static void test_concurrent(upstream_grpc_pool_t *pool)
{
    enum { N = 200 };
    static rec_t r[N];
    static const char *skus[] = {"ABC-123", "XYZ-999"};
    for (int i = 0; i < N; i++) {
        char json[96];
        snprintf(json, sizeof(json), "{\"sku\":\"%s\",\"quantity\":%d}", skus[i % 2], 1 + i % 7);
        start(pool, &r[i], GET_PRICE, json, NULL, 0, 10000);
    }
    uint64_t end = wall_ms() + 15000;
    int done = 0;
    while (done < N && wall_ms() < end) {
        h2o_evloop_run(loop, 10);
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].closed;
    }
    int ok = 0, right = 0;
    for (int i = 0; i < N; i++) {
        ok += r[i].code == GRPC_CODE_OK && r[i].close_count == 1 && r[i].n_messages == 1;
        char want[64];
        snprintf(want, sizeof(want), "\"quantity\":%d", 1 + i % 7);
        right += strstr(rec_json(&r[i]), want) != NULL && strstr(rec_json(&r[i]), skus[i % 2]) != NULL;
        if (r[i].code != GRPC_CODE_OK && ok + 1 == i)
            fprintf(stderr, "call %d: code %d \"%s\"\n", i, r[i].code, r[i].message);
        util_buf_dispose(&r[i].json);
    }
    CHECK_INT_EQ(done, N);
    CHECK_INT_EQ(ok, N);
    CHECK_INT_EQ(right, N); /* each answer belongs to its own request */
    upstream_grpc_stats_t st;
    upstream_grpc_pool_stats(pool, &st);
    CHECK(st.connections >= 1 && st.connections <= 2);
    CHECK_INT_EQ(st.active_calls, 0);
    CHECK_INT_EQ(st.queued_calls, 0);
}

/* ---- a 1.5 MiB message each way (ReserveStock echoes its labels) -------------------------- */
static void test_large(upstream_grpc_pool_t *pool)
{
    size_t big = 1536 * 1024;
    util_buf_t json = UTIL_BUF_INIT;
    util_buf_puts(&json, "{\"sku\":\"ABC-123\",\"quantity\":1,\"orderId\":\"o-big\",\"labels\":{\"big\":\"");
    for (size_t i = 0; i < big; i++)
        util_buf_putc(&json, (uint8_t)('a' + i % 26));
    util_buf_puts(&json, "\"}}");
    util_buf_putc(&json, 0);
    rec_t r;
    start(pool, &r, RESERVE, (const char *)json.data, NULL, 0, 20000);
    r.output = NULL; /* too big for the JSON check; count bytes */
    run_until(&r.closed, 20000);
    if (r.code != GRPC_CODE_OK)
        fprintf(stderr, "large: code %d \"%s\"\n", r.code, r.message);
    CHECK_INT_EQ(r.code, GRPC_CODE_OK);
    CHECK_INT_EQ(r.n_messages, 1);
    CHECK(r.bytes > big);
    util_buf_dispose(&json);
    util_buf_dispose(&r.json);
}

/* ---- server streaming, deadline, abort-after, cancel --------------------------------------- */
static void test_streaming(upstream_grpc_pool_t *pool)
{
    rec_t r;
    start(pool, &r, WATCH_PRICE, "{\"sku\":\"ABC-123\",\"updates\":5,\"intervalMs\":10}", NULL, 0, 5000);
    run_until(&r.closed, 5000);
    CHECK_INT_EQ(r.code, GRPC_CODE_OK);
    CHECK_INT_EQ(r.n_messages, 5);
    CHECK_STR_HAS(rec_json(&r), "\"sequence\":1,");
    CHECK_STR_HAS(rec_json(&r), "\"sequence\":5,");
    util_buf_dispose(&r.json);

    /* The backend sleeps 1 s; the deadline is 150 ms. */
    upstream_header_t delay[] = {MD("x-test-delay-ms", "1000")};
    uint64_t t0 = wall_ms();
    start(pool, &r, GET_PRICE, "{\"sku\":\"ABC-123\"}", delay, 1, 150);
    run_until(&r.closed, 5000);
    CHECK_INT_EQ(r.code, GRPC_CODE_DEADLINE_EXCEEDED);
    CHECK(r.closed_at - t0 >= 140 && r.closed_at - t0 < 700);
    util_buf_dispose(&r.json);

    /* Two messages, then the hook aborts the stream with a status. */
    upstream_header_t abort_md[] = {MD("x-test-abort-after", "2"), MD("x-test-status", "DATA_LOSS")};
    start(pool, &r, WATCH_PRICE, "{\"sku\":\"ABC-123\",\"updates\":10,\"intervalMs\":5}", abort_md, 2, 5000);
    run_until(&r.closed, 5000);
    CHECK_INT_EQ(r.n_messages, 2);
    CHECK_INT_EQ(r.code, GRPC_CODE_DATA_LOSS);
    util_buf_dispose(&r.json);

    /* Cancel from on_message after 3 of 50: nothing after, and the pool carries on. */
    start(pool, &r, WATCH_PRICE, "{\"sku\":\"ABC-123\",\"updates\":50,\"intervalMs\":10}", NULL, 0, 0);
    r.cancel_after = 3;
    run_for(400);
    CHECK_INT_EQ(r.n_messages, 3);
    CHECK_INT_EQ(r.close_count, 0);
    CHECK_INT_EQ(r.after_cancel, 0);
    util_buf_dispose(&r.json);
    upstream_grpc_stats_t st;
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.active_calls, 0); /* the stream was reset and released */
}

/* ---- the backend goes away and comes back ----------------------------------------------------- */
static void test_backend_loss(uint16_t *port, pid_t *pid)
{
    util_error_t err = {0};
    upstream_grpc_pool_t *pool = pool_for(*port, &err);
    rec_t r;
    start(pool, &r, GET_PRICE, "{\"sku\":\"ABC-123\"}", NULL, 0, 5000);
    run_until(&r.closed, 5000);
    CHECK_INT_EQ(r.code, GRPC_CODE_OK);
    util_buf_dispose(&r.json);

    /* Killed mid-stream: the stream in flight fails UNAVAILABLE. */
    rec_t w;
    start(pool, &w, WATCH_PRICE, "{\"sku\":\"ABC-123\",\"updates\":1000,\"intervalMs\":20}", NULL, 0, 0);
    uint64_t end = wall_ms() + 5000;
    while (w.n_messages < 2 && wall_ms() < end)
        h2o_evloop_run(loop, 10);
    CHECK(w.n_messages >= 2);
    backend_stop(*pid, SIGKILL);
    *pid = -1;
    run_until(&w.closed, 5000);
    CHECK_INT_EQ(w.close_count, 1);
    CHECK_INT_EQ(w.code, GRPC_CODE_UNAVAILABLE);
    CHECK_STR_HAS(w.message, "lost");
    CHECK(w.local);
    util_buf_dispose(&w.json);

    /* Down: calls fail quickly with UNAVAILABLE, and the pool does not hammer the port. */
    upstream_grpc_stats_t before, after;
    upstream_grpc_pool_stats(pool, &before);
    uint64_t t0 = wall_ms();
    int unavailable = 0;
    for (int i = 0; i < 20; i++) {
        start(pool, &r, GET_PRICE, "{\"sku\":\"ABC-123\"}", NULL, 0, 5000);
        run_until(&r.closed, 2000);
        unavailable += r.code == GRPC_CODE_UNAVAILABLE;
        util_buf_dispose(&r.json);
    }
    uint64_t took = wall_ms() - t0;
    upstream_grpc_pool_stats(pool, &after);
    CHECK_INT_EQ(unavailable, 20);
    if (took > 1000)
        TEST_FAIL_("20 calls to a dead backend took %llu ms", (unsigned long long)took);
    else
        test_passed_++;
    CHECK(after.connects - before.connects <= 3); /* backoff: 20 calls, at most a few attempts */

    /* Restarted on the same port: the pool recovers after its backoff. */
    uint16_t again = 0;
    *pid = backend_start(*port, &again);
    CHECK(*pid > 0);
    CHECK_INT_EQ(again, *port);
    int recovered = 0;
    end = wall_ms() + 5000;
    while (!recovered && wall_ms() < end) {
        start(pool, &r, GET_PRICE, "{\"sku\":\"ABC-123\"}", NULL, 0, 5000);
        run_until(&r.closed, 5000);
        recovered = r.code == GRPC_CODE_OK;
        util_buf_dispose(&r.json);
        if (!recovered)
            run_for(50);
    }
    CHECK(recovered);
    upstream_grpc_pool_free(pool);
    run_for(10);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (find_backend() != 0) {
        printf("SKIPPED: shop-backend not built (needs grpc); see upstream_grpc_client_test\n");
        return test_summary();
    }
    snprintf(port_file, sizeof(port_file), "/tmp/portico-upstream-shop-%d.port", (int)getpid());
    registry = proto_registry_new();
    util_error_t err = {0};
    if (proto_registry_load_file(registry, test_desc_path("shop.pb"), &err) != 0 ||
        proto_registry_load_builtin(registry, &err) != 0) {
        TEST_FAIL_("loading shop.pb: %s", err.message);
        return test_summary();
    }
    uint16_t port = 0;
    pid_t pid = backend_start(0, &port);
    if (pid <= 0) {
        TEST_FAIL_("cannot start %s", backend_path);
        return test_summary();
    }
    loop = h2o_evloop_create();
    upstream_grpc_pool_t *pool = pool_for(port, &err);
    CHECK(pool != NULL);
    test_unary_table(pool);
    test_concurrent(pool);
    test_large(pool);
    test_streaming(pool);
    upstream_grpc_pool_free(pool);
    run_for(10);
    test_backend_loss(&port, &pid);
    backend_stop(pid, SIGTERM);
    unlink(port_file);
    run_for(10);
    h2o_evloop_destroy(loop);
    proto_registry_free(registry);
    return test_summary();
}
