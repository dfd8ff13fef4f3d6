/*
 * reverse_call_test.c — gRPC calls served by REST backends (src/transcode/reverse_call.c over
 * the upstream HTTP client), against real servers in their own processes:
 * tests/integration/reverse/rest_backend.py (Python's http.server, HTTP/1.1 keep-alive) and,
 * when it is built, the example shop's reviews-backend (libh2o).
 *
 * Checked through the gRPC client's callback contract: what the backend received (method,
 * path, query, body, forwarded metadata), the messages delivered (printed back as JSON), every
 * HTTP error status mapped to its gRPC code with the body as the message, backend replies that
 * do not parse, deadlines, connect failures, server streaming in all its formats (and that
 * messages arrive before the stream ends), request messages that cannot be mapped (failed
 * from the loop, never inside start), and cancellation from every callback.
 */
#include "transcode/reverse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <h2o/socket/evloop.h>

#include "test.h"

static h2o_loop_t *loop;
static proto_registry_t *registry;
static char rest_target[64];

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

/* Runs the loop until |cond(arg)| holds or |ms| pass. */
static int wait_for(int (*cond)(const void *), const void *arg, uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (!cond(arg) && wall_ms() < end)
        h2o_evloop_run(loop, 10);
    return cond(arg);
}

static void run_for(uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (wall_ms() < end)
        h2o_evloop_run(loop, 5);
}

static proto_registry_t *load_registry(void)
{
    const char *src = getenv("PORTICO_SOURCE_DIR");
    if (src == NULL)
        src = ".";
    char out[] = "/tmp/portico-reverse-call-XXXXXX";
    int fd = mkstemp(out);
    if (fd < 0)
        return NULL;
    close(fd);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "protoc --include_imports -I %s/descriptors -I /usr/include -I %s/tests/integration/reverse --descriptor_set_out=%s "
             "%s/tests/integration/reverse/reverse_test.proto",
             src, src, out, src);
    proto_registry_t *r = NULL;
    if (system(cmd) == 0) {
        r = proto_registry_new();
        util_error_t err;
        if (proto_registry_load_file(r, out, &err) != 0 || proto_registry_load_builtin(r, &err) != 0) {
            fprintf(stderr, "cannot load the descriptors: %s\n", err.message);
            proto_registry_free(r);
            r = NULL;
        }
    }
    unlink(out);
    return r;
}

/* Starts |argv| and waits for the port it writes to its --port-file. Returns the pid (port in *port). */
static pid_t spawn_backend(char *const argv[], const char *port_file, unsigned *port)
{
    unlink(port_file);
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    *port = 0;
    for (int i = 0; i < 500 && *port == 0; i++) {
        FILE *f = fopen(port_file, "r");
        if (f != NULL) {
            if (fscanf(f, "%u", port) != 1)
                *port = 0;
            fclose(f);
        }
        if (*port == 0)
            usleep(20000);
    }
    return pid;
}

static void stop_backend(pid_t pid, const char *port_file)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(port_file);
}

/* =========================================================================================
 * A recorder with the gRPC client's callbacks
 */
typedef struct rec {
    const proto_method_t *m;
    int closed, close_count, headers_count, n_messages;
    int code;
    char message[1024];
    int http_status;
    int local;
    char headers[2048];
    char trailers[2048];
    util_buf_t messages; /* each output message as JSON, joined by '|' */
    uint64_t first_message_at, closed_at;
    int cancel_in; /* 1: on_headers, 2: first on_message, 3: on_close */
    reverse_call_t *call;
} rec_t;

static void rec_init(rec_t *r, const proto_method_t *m)
{
    memset(r, 0, sizeof(*r));
    r->m = m;
    util_buf_init(&r->messages);
}

static void print_headers(char *out, size_t cap, const upstream_header_t *h, size_t n)
{
    size_t off = strlen(out);
    for (size_t i = 0; i < n && off < cap; i++)
        off +=
            (size_t)snprintf(out + off, cap - off, "%.*s: %.*s\n", (int)h[i].name_len, h[i].name, (int)h[i].value_len, h[i].value);
}

static void rec_on_headers(void *ctx, const upstream_header_t *h, size_t n)
{
    rec_t *r = ctx;
    r->headers_count++;
    print_headers(r->headers, sizeof(r->headers), h, n);
    if (r->cancel_in == 1)
        reverse_call_cancel(r->call);
}

static void rec_on_message(void *ctx, const uint8_t *data, size_t len)
{
    rec_t *r = ctx;
    if (r->n_messages++ == 0)
        r->first_message_at = wall_ms();
    else
        util_buf_putc(&r->messages, '|');
    util_error_t err;
    if (codec_pb_to_json(registry, r->m->output, data, len, NULL, &r->messages, &err) != 0)
        util_buf_printf(&r->messages, "<%s>", err.message);
    if (r->cancel_in == 2)
        reverse_call_cancel(r->call);
}

static void rec_on_close(void *ctx, const upstream_grpc_result_t *res)
{
    rec_t *r = ctx;
    r->closed = 1;
    r->close_count++;
    r->closed_at = wall_ms();
    r->code = res->code;
    snprintf(r->message, sizeof(r->message), "%.*s", (int)res->message_len, res->message);
    r->http_status = res->http_status;
    r->local = res->local;
    print_headers(r->trailers, sizeof(r->trailers), res->trailers, res->n_trailers);
    if (r->cancel_in == 3)
        reverse_call_cancel(r->call); /* a no-op */
}

static const upstream_grpc_callbacks_t rec_cb = {rec_on_headers, rec_on_message, rec_on_close};

static int rec_got_headers(const void *arg)
{
    return ((const rec_t *)arg)->headers_count != 0;
}

static int rec_got_message(const void *arg)
{
    return ((const rec_t *)arg)->n_messages != 0;
}

static int rec_closed(const void *arg)
{
    return ((const rec_t *)arg)->closed;
}

static const char *rec_messages(rec_t *r)
{
    util_buf_putc(&r->messages, 0);
    r->messages.len--;
    return (const char *)r->messages.data;
}

typedef struct rules {
    reverse_rule_t *list[32];
    size_t n;
} rules_t;

static rules_t rules;

static const reverse_rule_t *rule_for(const char *name)
{
    char full[256];
    snprintf(full, sizeof(full), "portico.reversetest.%s", name);
    const proto_method_t *m = proto_registry_find_method(registry, full);
    for (size_t i = 0; i < rules.n; i++)
        if (reverse_rule_method(rules.list[i]) == m)
            return rules.list[i];
    util_error_t err;
    reverse_rule_t *r = reverse_rule_new(registry, m, NULL, NULL, &err);
    if (r == NULL) {
        TEST_FAIL_("rule %s: %s", name, err.message);
        return NULL;
    }
    rules.list[rules.n++] = r;
    return r;
}

/* Starts |method| with the request given as JSON and metadata "name: value\n..." text. */
static reverse_call_t *start(upstream_http_pool_t *pool, rec_t *r, const char *name, const char *request, const char *md_text,
                             int64_t timeout_ms)
{
    const reverse_rule_t *rule = rule_for(name);
    if (rule == NULL)
        return NULL;
    rec_init(r, reverse_rule_method(rule));
    util_buf_t pb = UTIL_BUF_INIT;
    util_error_t err;
    if (codec_json_to_pb(registry, r->m->input, request, strlen(request), NULL, &pb, &err) != 0) {
        TEST_FAIL_("%s request: %s", name, err.message);
        return NULL;
    }
    upstream_header_t md[8];
    size_t n_md = 0;
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", md_text != NULL ? md_text : "");
    for (char *line = strtok(copy, "\n"); line != NULL && n_md < 8; line = strtok(NULL, "\n")) {
        char *colon = strstr(line, ": ");
        if (colon == NULL)
            continue;
        *colon = 0;
        md[n_md++] = (upstream_header_t){line, strlen(line), colon + 2, strlen(colon + 2)};
    }
    r->call = reverse_call_start(pool, rule, pb.data, pb.len, md, n_md, timeout_ms, &rec_cb, r, &err);
    util_buf_dispose(&pb);
    if (r->call == NULL)
        TEST_FAIL_("%s start: %s", name, err.message);
    return r->call;
}

static void call(upstream_http_pool_t *pool, rec_t *r, const char *name, const char *request, const char *md_text,
                 int64_t timeout_ms)
{
    if (start(pool, r, name, request, md_text, timeout_ms) != NULL)
        run_until(&r->closed, 5000);
}

static upstream_http_pool_t *pool_to(const char *target)
{
    const char *targets[] = {target};
    upstream_http_config_t cfg = {.targets = targets, .n_targets = 1, .backoff_initial_ms = 50};
    util_error_t err;
    upstream_http_pool_t *p = upstream_http_pool_new(loop, &cfg, &err);
    if (p == NULL)
        TEST_FAIL_("pool: %s", err.message);
    return p;
}

/* =========================================================================================
 * Unary calls against rest_backend.py
 */
typedef struct {
    const char *method;
    const char *request;
    const char *md;
    int code;
    const char *messages_has[4]; /* each must be in the messages' JSON (NULL-terminated) */
    const char *message_has;     /* in the status message */
    int http_status;
    int local;
    const char *trailers_has;
    const char *headers_has;
} unary_case_t;

static const unary_case_t unary_cases[] = {
    /* what the backend received */
    {"Library.Echo",
     "{\"id\":\"e 1\"}",
     "x-trace: t1\ngrpc-timeout: 5S\ncontent-type: application/grpc\nx-bin-bin: AAE",
     GRPC_CODE_OK,
     {"\"method\":\"GET\"", "\"path\":\"/echo/e%201\"", "\"x-trace\":\"t1\"", "\"accept\":\"application/json\""},
     "",
     200,
     0,
     NULL,
     "x-backend: rest_backend.py\n"},
    {"Library.Echo",
     "{\"id\":\"q\",\"delayMs\":1}",
     NULL,
     GRPC_CODE_OK,
     {"\"query\":\"delay_ms=1\"", "\"id\":\"q\""},
     "",
     200,
     0,
     NULL,
     NULL},
    {"Library.EchoPost",
     "{\"id\":\"p1\"}",
     NULL,
     GRPC_CODE_OK,
     {"\"method\":\"POST\"", "\"body\":\"{}\"", "\"content-type\":\"application/json\"", "\"content-length\":\"2\""},
     "",
     200,
     0,
     NULL,
     NULL},
    /* replies mapped to messages */
    {"Library.GetBook",
     "{\"name\":\"shelves/1/books/2\"}",
     NULL,
     GRPC_CODE_OK,
     {"{\"name\":\"shelves/1/books/2\",\"title\":\"T\",\"pages\":3,\"published\":\"2024-05-06T07:08:09Z\"}"},
     "",
     200,
     0,
     NULL,
     NULL},
    {"Library.ListBooks",
     "{\"parent\":\"shelves/9\"}",
     NULL,
     GRPC_CODE_OK,
     {"{\"books\":[{\"name\":\"shelves/9/books/1\",\"title\":\"One\",\"pages\":10},{\"name\":\"shelves/9/books/"
      "2\",\"title\":\"Two\"}]}"},
     "",
     200,
     0,
     NULL,
     NULL},
    {"Library.Download",
     "{\"path\":\"pic\"}",
     NULL,
     GRPC_CODE_OK,
     {"{\"contentType\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}"},
     "",
     200,
     0,
     NULL,
     NULL},
    {"Library.Upload",
     "{\"name\":\"u\",\"file\":{\"contentType\":\"text/plain\",\"data\":\"aGVsbG8=\"}}",
     NULL,
     GRPC_CODE_OK,
     {"{\"name\":\"u\",\"title\":\"text/plain\",\"pages\":5}"},
     "",
     200,
     0,
     NULL,
     NULL},
    /* error statuses: the code of the inverse google.rpc.Code table, the body as the message */
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":404,\"body\":\"{\\\"message\\\":\\\"no such thing\\\"}\\n\"}",
     NULL,
     GRPC_CODE_NOT_FOUND,
     {NULL},
     "{\"message\":\"no such thing\"}",
     404,
     0,
     "x-backend: rest_backend.py\n",
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":400,\"body\":\"bad\"}",
     NULL,
     GRPC_CODE_INVALID_ARGUMENT,
     {NULL},
     "bad",
     400,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":401,\"body\":\"who\"}",
     NULL,
     GRPC_CODE_UNAUTHENTICATED,
     {NULL},
     "who",
     401,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":403,\"body\":\"no\"}",
     NULL,
     GRPC_CODE_PERMISSION_DENIED,
     {NULL},
     "no",
     403,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":409,\"body\":\"\"}",
     NULL,
     GRPC_CODE_ABORTED,
     {NULL},
     "HTTP 409 from 127.0.0.1:",
     409,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":429,\"body\":\"slow down\"}",
     NULL,
     GRPC_CODE_RESOURCE_EXHAUSTED,
     {NULL},
     "slow down",
     429,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":418,\"body\":\"teapot\"}",
     NULL,
     GRPC_CODE_FAILED_PRECONDITION,
     {NULL},
     "teapot",
     418,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":500,\"body\":\"boom\"}",
     NULL,
     GRPC_CODE_INTERNAL,
     {NULL},
     "boom",
     500,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":501,\"body\":\"nope\"}",
     NULL,
     GRPC_CODE_UNIMPLEMENTED,
     {NULL},
     "nope",
     501,
     0,
     NULL,
     NULL},
    {"Library.Echo", "{\"id\":\"x\",\"status\":502,\"body\":\"gw\"}", NULL, GRPC_CODE_INTERNAL, {NULL}, "gw", 502, 0, NULL, NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":503,\"body\":\"down\"}",
     NULL,
     GRPC_CODE_UNAVAILABLE,
     {NULL},
     "down",
     503,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":504,\"body\":\"late\"}",
     NULL,
     GRPC_CODE_DEADLINE_EXCEEDED,
     {NULL},
     "late",
     504,
     0,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":302,\"body\":\"moved\"}",
     NULL,
     GRPC_CODE_UNKNOWN,
     {NULL},
     "moved",
     302,
     0,
     NULL,
     NULL},
    /* replies that do not fit */
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":200,\"body\":\"not json\"}",
     NULL,
     GRPC_CODE_INTERNAL,
     {NULL},
     "the response is not a valid portico.reversetest.EchoReply",
     200,
     1,
     NULL,
     NULL},
    {"Library.Echo",
     "{\"id\":\"x\",\"status\":200,\"body\":\"{\\\"method\\\":7}\"}",
     NULL,
     GRPC_CODE_INTERNAL,
     {NULL},
     "method",
     200,
     1,
     NULL,
     NULL},
    {"Library.Echo", "{\"id\":\"x\",\"status\":200,\"body\":\"\"}", NULL, GRPC_CODE_OK, {"{}"}, "", 200, 0, NULL, NULL},
    /* requests that cannot be mapped: from the loop, INVALID_ARGUMENT */
    {"Library.GetBook",
     "{\"name\":\"bad\"}",
     NULL,
     GRPC_CODE_INVALID_ARGUMENT,
     {NULL},
     "portico.reversetest.Library.GetBook: path variable \"name\": \"bad\" does not match",
     0,
     1,
     NULL,
     NULL},
    {"Library.Echo", "{}", NULL, GRPC_CODE_INVALID_ARGUMENT, {NULL}, "path variable \"id\" is empty", 0, 1, NULL, NULL},
    /* a deadline */
    {"Library.Echo",
     "{\"id\":\"slow\",\"delayMs\":600}",
     NULL,
     GRPC_CODE_DEADLINE_EXCEEDED,
     {NULL},
     "within 150 ms",
     0,
     1,
     NULL,
     NULL},
};

static void test_unary(upstream_http_pool_t *pool)
{
    for (size_t i = 0; i < sizeof(unary_cases) / sizeof(unary_cases[0]); i++) {
        const unary_case_t *c = &unary_cases[i];
        rec_t r;
        reverse_call_t *rc = start(pool, &r, c->method, c->request, c->md, strstr(c->request, "600") ? 150 : 3000);
        if (rc == NULL)
            continue;
        CHECK_INT_EQ(r.close_count, 0); /* never from inside start */
        run_until(&r.closed, 5000);
        const char *msgs = rec_messages(&r);
        if (r.code != c->code)
            fprintf(stderr, "case %zu %s %s: code %d \"%s\" messages %s\n", i, c->method, c->request, r.code, r.message, msgs);
        CHECK_INT_EQ(r.close_count, 1);
        CHECK_INT_EQ(r.code, c->code);
        CHECK_STR_HAS(r.message, c->message_has);
        CHECK_INT_EQ(r.http_status, c->http_status);
        CHECK_INT_EQ(r.local, c->local);
        for (int k = 0; k < 4 && c->messages_has[k] != NULL; k++)
            CHECK_STR_HAS(msgs, c->messages_has[k]);
        CHECK_INT_EQ(r.n_messages, c->code == GRPC_CODE_OK ? 1 : 0);
        if (c->code == GRPC_CODE_OK || (c->http_status >= 200 && c->http_status < 300))
            CHECK_INT_EQ(r.headers_count, 1);
        else
            CHECK_INT_EQ(r.headers_count, 0); /* an error is trailers-only */
        if (c->trailers_has != NULL)
            CHECK_STR_HAS(r.trailers, c->trailers_has);
        if (c->headers_has != NULL)
            CHECK_STR_HAS(r.headers, c->headers_has);
        /* metadata only: no reserved or connection-level names pass either way */
        CHECK(strstr(r.headers, "content-type") == NULL && strstr(r.headers, "content-length") == NULL);
        CHECK(strstr(r.trailers, "content-type") == NULL);
        if (c->md != NULL)
            CHECK(strstr(msgs, "grpc-timeout") == NULL && strstr(msgs, "application/grpc") == NULL &&
                  strstr(msgs, "x-bin-bin") != NULL);
        util_buf_dispose(&r.messages);
    }
}

/* =========================================================================================
 * Server streaming
 */
typedef struct {
    const char *request;
    int code;
    int n_messages;
    const char *messages;
    const char *message_has;
} stream_case_t;

static const stream_case_t stream_cases[] = {
    {"{\"sku\":\"S\",\"count\":3}", GRPC_CODE_OK, 3, "{\"n\":1,\"sku\":\"S\"}|{\"n\":2,\"sku\":\"S\"}|{\"n\":3,\"sku\":\"S\"}", ""},
    {"{\"sku\":\"S\",\"count\":3,\"format\":\"array\"}", GRPC_CODE_OK, 3,
     "{\"n\":1,\"sku\":\"S\"}|{\"n\":2,\"sku\":\"S\"}|{\"n\":3,\"sku\":\"S\"}", ""},
    {"{\"sku\":\"S\",\"count\":2,\"format\":\"wrapped\"}", GRPC_CODE_OK, 2, "{\"n\":1,\"sku\":\"S\"}|{\"n\":2,\"sku\":\"S\"}", ""},
    {"{\"sku\":\"S\",\"count\":5,\"format\":\"error\"}", GRPC_CODE_NOT_FOUND, 2, "{\"n\":1,\"sku\":\"S\"}|{\"n\":2,\"sku\":\"S\"}",
     "gone"},
    {"{\"sku\":\"S\",\"count\":5,\"format\":\"bad\"}", GRPC_CODE_INTERNAL, 1, "{\"n\":1,\"sku\":\"S\"}",
     "not a valid portico.reversetest.Event"},
    {"{\"sku\":\"S\"}", GRPC_CODE_OK, 0, "", ""},
    {"{\"sku\":\"S\",\"count\":0,\"format\":\"array\"}", GRPC_CODE_OK, 0, "", ""},
};

static void test_streaming(upstream_http_pool_t *pool)
{
    for (size_t i = 0; i < sizeof(stream_cases) / sizeof(stream_cases[0]); i++) {
        const stream_case_t *c = &stream_cases[i];
        rec_t r;
        call(pool, &r, "Reviews.WatchReviews", c->request, NULL, 5000);
        const char *msgs = rec_messages(&r);
        if (r.code != c->code)
            fprintf(stderr, "stream case %zu: code %d \"%s\" messages %s\n", i, r.code, r.message, msgs);
        CHECK_INT_EQ(r.close_count, 1);
        CHECK_INT_EQ(r.code, c->code);
        CHECK_INT_EQ(r.n_messages, c->n_messages);
        CHECK_STR_EQ(msgs, c->messages);
        CHECK_STR_HAS(r.message, c->message_has);
        CHECK_INT_EQ(r.headers_count, 1);
        CHECK_STR_HAS(r.headers, "x-stream-format: ");
        util_buf_dispose(&r.messages);
    }
    /* messages are delivered as they arrive, not at the end (events are 100 ms apart) */
    rec_t r;
    call(pool, &r, "Reviews.WatchReviews", "{\"sku\":\"T\",\"count\":3}", NULL, 5000);
    CHECK_INT_EQ(r.n_messages, 3);
    CHECK(r.closed_at - r.first_message_at >= 150);
    util_buf_dispose(&r.messages);
    /* a deadline in the middle of a stream */
    call(pool, &r, "Reviews.WatchReviews", "{\"sku\":\"T\",\"count\":10}", NULL, 250);
    CHECK_INT_EQ(r.code, GRPC_CODE_DEADLINE_EXCEEDED);
    CHECK(r.n_messages >= 1 && r.n_messages <= 4);
    CHECK_INT_EQ(r.local, 1);
    util_buf_dispose(&r.messages);
}

/* =========================================================================================
 * Cancellation, connect failure, pool shutdown
 */
static void test_cancel(upstream_http_pool_t *pool)
{
    rec_t r;
    /* at once, a mapped request and one that fails from the loop */
    start(pool, &r, "Library.Echo", "{\"id\":\"c\"}", NULL, 2000);
    reverse_call_cancel(r.call);
    start(pool, &r, "Library.Echo", "{}", NULL, 2000);
    reverse_call_cancel(r.call);
    run_for(200);
    CHECK_INT_EQ(r.close_count, 0);

    /* from on_headers, from the first streamed message, and (a no-op) from on_close */
    for (int where = 1; where <= 3; where++) {
        start(pool, &r, where == 2 ? "Reviews.WatchReviews" : "Library.Echo",
              where == 2 ? "{\"sku\":\"S\",\"count\":3}" : "{\"id\":\"c\"}", NULL, 2000);
        r.cancel_in = where;
        CHECK(wait_for(where == 1 ? rec_got_headers : where == 2 ? rec_got_message : rec_closed, &r, 3000));
        run_for(where == 2 ? 250 : 100); /* nothing more may come (stream events are 100 ms apart) */
        CHECK_INT_EQ(r.headers_count, 1);
        CHECK_INT_EQ(r.n_messages, where == 1 ? 0 : 1);
        CHECK_INT_EQ(r.close_count, where == 3 ? 1 : 0);
        util_buf_dispose(&r.messages);
    }
    /* the pool still serves */
    call(pool, &r, "Library.Echo", "{\"id\":\"after\"}", NULL, 2000);
    CHECK_INT_EQ(r.code, GRPC_CODE_OK);
    util_buf_dispose(&r.messages);
}

static void test_failures(void)
{
    /* nobody listens */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    close(fd);
    char dead[64];
    snprintf(dead, sizeof(dead), "127.0.0.1:%u", ntohs(sin.sin_port));
    upstream_http_pool_t *pool = pool_to(dead);
    rec_t r;
    call(pool, &r, "Library.Echo", "{\"id\":\"x\"}", NULL, 2000);
    CHECK_INT_EQ(r.code, GRPC_CODE_UNAVAILABLE);
    CHECK_INT_EQ(r.local, 1);
    CHECK_INT_EQ(r.http_status, 0);
    CHECK_STR_HAS(r.message, "connect to 127.0.0.1:");
    util_buf_dispose(&r.messages);

    /* freeing the pool ends the calls in it, a deferred failure included */
    rec_t a, b;
    start(pool, &a, "Library.Echo", "{}", NULL, 2000);
    start(pool, &b, "Library.Echo", "{\"id\":\"x\"}", NULL, 2000);
    upstream_http_pool_free(pool);
    CHECK_INT_EQ(a.close_count, 1);
    CHECK_INT_EQ(a.code, GRPC_CODE_INVALID_ARGUMENT);
    CHECK_INT_EQ(b.close_count, 1);
    CHECK_INT_EQ(b.code, GRPC_CODE_UNAVAILABLE);
    CHECK_STR_HAS(b.message, "shut down");
    util_buf_dispose(&a.messages);
    util_buf_dispose(&b.messages);
    run_for(10);

    /* argument checks */
    util_error_t err;
    upstream_grpc_callbacks_t no_close = {NULL, NULL, NULL};
    pool = pool_to(dead);
    CHECK(reverse_call_start(pool, rule_for("Library.Echo"), NULL, 0, NULL, 0, 0, &no_close, NULL, &err) == NULL);
    CHECK_STR_HAS(err.message, "on_close");
    CHECK(reverse_call_start(NULL, rule_for("Library.Echo"), NULL, 0, NULL, 0, 0, &rec_cb, NULL, &err) == NULL);
    upstream_http_pool_free(pool);
    run_for(10);
}

/* =========================================================================================
 * The example shop's reviews-backend (libh2o), when built
 */
static void test_reviews_backend(void)
{
    const char *dir = getenv("PORTICO_BUILD_DIR");
    char bin[4096];
    snprintf(bin, sizeof(bin), "%s/examples/shop/reviews/reviews-backend", dir ? dir : ".");
    if (access(bin, X_OK) != 0) {
        printf("reviews-backend not built (%s): skipping its cases\n", bin);
        return;
    }
    char port_file[128];
    snprintf(port_file, sizeof(port_file), "/tmp/portico-reverse-call-reviews-%d.port", (int)getpid());
    char *argv[] = {bin, "--listen", "127.0.0.1:0", "--port-file", port_file, "--quiet", NULL};
    unsigned port;
    pid_t pid = spawn_backend(argv, port_file, &port);
    CHECK(port != 0);
    if (port != 0) {
        char target[64];
        snprintf(target, sizeof(target), "127.0.0.1:%u", port);
        upstream_http_pool_t *pool = pool_to(target);
        rec_t r;
        call(pool, &r, "Reviews.GetReviews", "{\"sku\":\"ABC-123\"}", NULL, 3000);
        CHECK_INT_EQ(r.code, GRPC_CODE_OK);
        CHECK_STR_HAS(rec_messages(&r), "\"sku\":\"ABC-123\"");
        CHECK_STR_HAS(rec_messages(&r), "\"count\":2");
        CHECK_STR_HAS(rec_messages(&r), "\"author\":\"ana\"");
        util_buf_dispose(&r.messages);
        call(pool, &r, "Reviews.GetReviews", "{\"sku\":\"NOPE-0\"}", NULL, 3000);
        CHECK_INT_EQ(r.code, GRPC_CODE_NOT_FOUND);
        CHECK_STR_HAS(r.message, "NOPE-0");
        CHECK_INT_EQ(r.http_status, 404);
        util_buf_dispose(&r.messages);
        call(pool, &r, "Reviews.GetReviews", "{\"sku\":\"ABC-123\"}", "x-test-status: 503", 3000);
        CHECK_INT_EQ(r.code, GRPC_CODE_UNAVAILABLE);
        util_buf_dispose(&r.messages);
        call(pool, &r, "Reviews.GetReviews", "{\"sku\":\"ABC-123\"}", "x-test-body: <html>", 3000);
        CHECK_INT_EQ(r.code, GRPC_CODE_INTERNAL);
        CHECK_STR_HAS(r.message, "not a valid portico.reversetest.ProductReviews");
        util_buf_dispose(&r.messages);
        call(pool, &r, "Reviews.GetReviews", "{\"sku\":\"ABC-123\"}", "x-test-delay-ms: 500", 100);
        CHECK_INT_EQ(r.code, GRPC_CODE_DEADLINE_EXCEEDED);
        util_buf_dispose(&r.messages);
        upstream_http_pool_free(pool);
        run_for(10);
    }
    stop_backend(pid, port_file);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    registry = load_registry();
    if (registry == NULL) {
        TEST_FAIL_("no registry");
        return test_summary();
    }
    loop = h2o_evloop_create();

    const char *src = getenv("PORTICO_SOURCE_DIR");
    char script[4096];
    snprintf(script, sizeof(script), "%s/tests/integration/reverse/rest_backend.py", src ? src : ".");
    char port_file[128];
    snprintf(port_file, sizeof(port_file), "/tmp/portico-reverse-call-rest-%d.port", (int)getpid());
    char *argv[] = {"python3", script, "--port-file", port_file, NULL};
    unsigned port;
    pid_t pid = spawn_backend(argv, port_file, &port);
    CHECK(port != 0);
    if (port != 0) {
        snprintf(rest_target, sizeof(rest_target), "127.0.0.1:%u", port);
        upstream_http_pool_t *pool = pool_to(rest_target);
        test_unary(pool);
        test_streaming(pool);
        test_cancel(pool);
        upstream_http_pool_free(pool);
        run_for(10);
    }
    stop_backend(pid, port_file);
    test_failures();
    test_reviews_backend();

    for (size_t i = 0; i < rules.n; i++)
        reverse_rule_free(rules.list[i]);
    run_for(20);
    h2o_evloop_destroy(loop);
    proto_registry_free(registry);
    return test_summary();
}
