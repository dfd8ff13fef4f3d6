/*
 * cors_test.c — the CORS decision (src/policy/cors.c): origin patterns, actual requests and
 * preflights under several policies, with the exact headers each answer carries, and the
 * origin entries the config accepts or refuses.
 */
#include <string.h>

#include "policy/cors.h"
#include "test.h"

/* ---- origin patterns ----------------------------------------------------------------------- */

static const struct {
    const char *pattern;
    const char *origin;
    int match;
} match_cases[] = {
    {"https://shop.example.com", "https://shop.example.com", 1},
    {"https://shop.example.com", "HTTPS://Shop.Example.COM", 1}, /* case-insensitive */
    {"https://shop.example.com", "http://shop.example.com", 0},  /* scheme matters */
    {"https://shop.example.com", "https://shop.example.com:8443", 0},
    {"https://shop.example.com", "https://shop.example.com.evil.io", 0},
    {"https://*.example.com", "https://a.example.com", 1},
    {"https://*.example.com", "https://a.b.example.com", 1},
    {"https://*.example.com", "https://example.com", 0},          /* '*' is one or more characters */
    {"https://*.example.com", "https://evilexample.com", 0},      /* the dot is literal */
    {"https://*.example.com", "https://a.example.com:444", 0},    /* no port in the pattern */
    {"https://*.example.com", "https://x:1@y.example.com", 0},    /* '*' cannot cross ':' */
    {"https://*.example.com", "https://evil.io/.example.com", 0}, /* nor '/' */
    {"https://*.example.com", "http://a.example.com", 0},
    {"http://localhost:*", "http://localhost:5173", 1},
    {"http://localhost:*", "http://localhost", 0},
    {"http://localhost:*", "http://localhost:80:80", 0},
    {"*", "https://anything.io", 1},
    {"*", "null", 1},
    {"null", "null", 1},
    {"https://a.example", "", 0},
    {"https://*.*.example", "https://a.b.example", 1},
    {"https://*.*.example", "https://a.example", 0},
};

static void test_match(void)
{
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        int got = cors_origin_match(match_cases[i].pattern, match_cases[i].origin, strlen(match_cases[i].origin));
        if (got != match_cases[i].match)
            TEST_FAIL_("match %s against %s: got %d", match_cases[i].pattern, match_cases[i].origin, got);
        else
            test_passed_++;
    }
    /* an absurdly long origin never matches, even "*" */
    char longo[700];
    memset(longo, 'a', sizeof(longo));
    memcpy(longo, "https://", 8);
    CHECK_INT_EQ(cors_origin_match("*", longo, sizeof(longo)), 0);
}

static const struct {
    const char *entry;
    const char *why; /* NULL: accepted; else a substring of the reason */
} check_cases[] = {
    {"*", NULL},
    {"null", NULL},
    {"https://shop.example.com", NULL},
    {"https://*.example.com", NULL},
    {"http://localhost:*", NULL},
    {"http://127.0.0.1:8080", NULL},
    {"http://[::1]:8080", NULL},
    {"chrome-extension://abcdef", NULL},
    {"https://a.example/", "slash"},
    {"https://a.example/x", "has a path"},
    {"a.example", "scheme://"},
    {"://a.example", "scheme://"},
    {"ht tp://a.example", "invalid scheme"},
    {"https://", "no host"},
    {"https://a.example:", "empty port"},
    {"https://a.example:8x", "port"},
    {"http://[::1]:8x", "port"},
    {"https://a:1:2", "more than one colon"},
    {"https://a b.example", "not allowed"},
    {"https://*.*.*.*.*.example", "too many wildcards"},
};

static void test_check(void)
{
    for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
        const char *why = cors_origin_pattern_check(check_cases[i].entry);
        if (check_cases[i].why == NULL) {
            if (why != NULL)
                TEST_FAIL_("%s refused: %s", check_cases[i].entry, why);
            else
                test_passed_++;
        } else {
            if (why == NULL)
                TEST_FAIL_("%s accepted, expected a reason with \"%s\"", check_cases[i].entry, check_cases[i].why);
            else
                CHECK_STR_HAS(why, check_cases[i].why);
        }
    }
}

/* ---- decisions ------------------------------------------------------------------------------ */

static const char *const exact_origins[] = {"https://shop.example.com", "https://*.example.org", "http://localhost:*"};
static const char *const any_origin[] = {"*"};
static const char *const post_only[] = {"POST"};
static const char *const api_key[] = {"X-Api-Key"};
static const char *const any_header[] = {"*"};
static const char *const trace[] = {"X-Trace", "X-Request-Id"};

static const cors_policy_t policies[] = {
    /* 0: exact origins and patterns, defaults otherwise */
    {exact_origins, 3, NULL, 0, NULL, 0, NULL, 0, 600, 0},
    /* 1: any origin, no credentials */
    {any_origin, 1, NULL, 0, NULL, 0, NULL, 0, 7200, 0},
    /* 2: any origin with credentials: the origin is echoed, never "*" */
    {any_origin, 1, NULL, 0, NULL, 0, NULL, 0, 7200, 1},
    /* 3: everything custom, no max-age */
    {exact_origins, 3, post_only, 1, api_key, 1, trace, 2, 0, 1},
    /* 4: any request header */
    {exact_origins, 1, NULL, 0, any_header, 1, NULL, 0, 60, 0},
};

#define VARY "vary: Origin\n"
#define VARY_PF "vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\n"
#define EXPOSE "access-control-expose-headers: Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin\n"
#define ALLOW_H "access-control-allow-headers: " CORS_DEFAULT_ALLOW_HEADERS "\n"
#define ALLOW_M "access-control-allow-methods: GET, POST, PUT, PATCH, DELETE\n"

typedef struct decision_case {
    int policy;
    const char *method;
    const char *origin; /* NULL: absent */
    const char *acrm;
    const char *acrh;
    cors_verdict_t verdict;
    const char *headers; /* exactly what is emitted, "name: value\n" each */
    const char *why;     /* substring of the denial reason */
} decision_case_t;

static const decision_case_t decision_cases[] = {
    /* not a CORS request: Vary only, so caches keep origins apart */
    {0, "GET", NULL, NULL, NULL, CORS_NOT_CORS, VARY, NULL},
    {0, "OPTIONS", NULL, "POST", NULL, CORS_NOT_CORS, VARY, NULL},
    /* actual requests */
    {0, "POST", "https://shop.example.com", NULL, NULL, CORS_ALLOWED,
     VARY "access-control-allow-origin: https://shop.example.com\n" EXPOSE, NULL},
    {0, "GET", "https://www.example.org", NULL, NULL, CORS_ALLOWED,
     VARY "access-control-allow-origin: https://www.example.org\n" EXPOSE, NULL},
    {0, "GET", "https://evil.io", NULL, NULL, CORS_DENIED, VARY, "origin \"https://evil.io\" is not allowed"},
    {0, "GET", "null", NULL, NULL, CORS_DENIED, VARY, NULL},
    {1, "GET", "https://evil.io", NULL, NULL, CORS_ALLOWED, VARY "access-control-allow-origin: *\n" EXPOSE, NULL},
    {2, "GET", "https://evil.io", NULL, NULL, CORS_ALLOWED,
     VARY "access-control-allow-origin: https://evil.io\naccess-control-allow-credentials: true\n" EXPOSE, NULL},
    {3, "POST", "http://localhost:3000", NULL, NULL, CORS_ALLOWED,
     VARY "access-control-allow-origin: http://localhost:3000\naccess-control-allow-credentials: true\n"
          "access-control-expose-headers: Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, X-Trace, X-Request-Id\n",
     NULL},
    /* an OPTIONS without Access-Control-Request-Method is an ordinary request */
    {0, "OPTIONS", "https://shop.example.com", NULL, NULL, CORS_ALLOWED,
     VARY "access-control-allow-origin: https://shop.example.com\n" EXPOSE, NULL},
    /* preflights */
    {0, "OPTIONS", "https://shop.example.com", "POST", "content-type,x-grpc-web,x-user-agent", CORS_PREFLIGHT_OK,
     VARY_PF "access-control-allow-origin: https://shop.example.com\n" ALLOW_M ALLOW_H "access-control-max-age: 600\n", NULL},
    {0, "OPTIONS", "https://shop.example.com", "POST", " Content-Type , Connect-Protocol-Version,connect-timeout-ms ",
     CORS_PREFLIGHT_OK,
     VARY_PF "access-control-allow-origin: https://shop.example.com\n" ALLOW_M ALLOW_H "access-control-max-age: 600\n", NULL},
    {0, "OPTIONS", "https://shop.example.com", "GET", NULL, CORS_PREFLIGHT_OK,
     VARY_PF "access-control-allow-origin: https://shop.example.com\n" ALLOW_M ALLOW_H "access-control-max-age: 600\n", NULL},
    {0, "OPTIONS", "https://evil.io", "POST", "content-type", CORS_PREFLIGHT_DENIED, VARY_PF, "origin \"https://evil.io\""},
    {0, "OPTIONS", "https://shop.example.com", "TRACE", NULL, CORS_PREFLIGHT_DENIED, VARY_PF, "method \"TRACE\""},
    {0, "OPTIONS", "https://shop.example.com", "POST", "content-type, x-secret", CORS_PREFLIGHT_DENIED, VARY_PF,
     "request header \"x-secret\""},
    {0, "OPTIONS", "https://shop.example.com", "POST", "content-type, bad header", CORS_PREFLIGHT_DENIED, VARY_PF,
     "request header \"bad header\""},
    {1, "OPTIONS", "https://any.io", "DELETE", "authorization", CORS_PREFLIGHT_OK,
     VARY_PF "access-control-allow-origin: *\n" ALLOW_M ALLOW_H "access-control-max-age: 7200\n", NULL},
    {2, "OPTIONS", "https://any.io", "PATCH", NULL, CORS_PREFLIGHT_OK,
     VARY_PF "access-control-allow-origin: https://any.io\naccess-control-allow-credentials: true\n" ALLOW_M ALLOW_H
             "access-control-max-age: 7200\n",
     NULL},
    /* custom lists: configured methods replace the defaults, configured headers add to them; no max-age */
    {3, "OPTIONS", "https://shop.example.com", "POST", "x-api-key, grpc-timeout", CORS_PREFLIGHT_OK,
     VARY_PF "access-control-allow-origin: https://shop.example.com\naccess-control-allow-credentials: true\n"
             "access-control-allow-methods: POST\naccess-control-allow-headers: " CORS_DEFAULT_ALLOW_HEADERS ", X-Api-Key\n",
     NULL},
    {3, "OPTIONS", "https://shop.example.com", "GET", NULL, CORS_PREFLIGHT_DENIED, VARY_PF, "method \"GET\""},
    /* "*" headers: the requested list is echoed */
    {4, "OPTIONS", "https://shop.example.com", "POST", "x-anything, x-other", CORS_PREFLIGHT_OK,
     VARY_PF "access-control-allow-origin: https://shop.example.com\n" ALLOW_M
             "access-control-allow-headers: x-anything, x-other\naccess-control-max-age: 60\n",
     NULL},
};

static void collect(void *ctx, const char *name, const char *value, size_t value_len)
{
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 4096 - n, "%s: %.*s\n", name, (int)value_len, value);
}

static void test_decisions(void)
{
    for (size_t i = 0; i < sizeof(decision_cases) / sizeof(decision_cases[0]); i++) {
        const decision_case_t *tc = &decision_cases[i];
        cors_request_t req = {
            .method = tc->method,
            .method_len = strlen(tc->method),
            .origin = tc->origin,
            .origin_len = tc->origin ? strlen(tc->origin) : 0,
            .request_method = tc->acrm,
            .request_method_len = tc->acrm ? strlen(tc->acrm) : 0,
            .request_headers = tc->acrh,
            .request_headers_len = tc->acrh ? strlen(tc->acrh) : 0,
        };
        char out[4096] = "", why[256];
        cors_verdict_t v = cors_evaluate(&policies[tc->policy], &req, collect, out, why, sizeof(why));
        if (v != tc->verdict)
            TEST_FAIL_("case %zu: verdict %d, expected %d", i, v, tc->verdict);
        else
            test_passed_++;
        CHECK_STR_EQ(out, tc->headers);
        if (tc->why != NULL)
            CHECK_STR_HAS(why, tc->why);
    }
}

int main(void)
{
    test_match();
    test_check();
    test_decisions();
    return test_summary();
}
