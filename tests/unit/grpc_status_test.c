/*
 * grpc_status_test.c — src/grpc/status.c: every code's names and HTTP status, name and
 * grpc-status parsing, and the three HTTP mappings (REST backends, the gRPC spec's mapping
 * for non-200 responses, HTTP/2 error codes).
 */
#include "grpc/grpc.h"

#include "test.h"

typedef struct {
    int code;
    const char *name;
    const char *connect_name;
    int http;
} code_case_t;

static const code_case_t code_cases[] = {
    {0, "OK", "ok", 200},
    {1, "CANCELLED", "canceled", 499},
    {2, "UNKNOWN", "unknown", 500},
    {3, "INVALID_ARGUMENT", "invalid_argument", 400},
    {4, "DEADLINE_EXCEEDED", "deadline_exceeded", 504},
    {5, "NOT_FOUND", "not_found", 404},
    {6, "ALREADY_EXISTS", "already_exists", 409},
    {7, "PERMISSION_DENIED", "permission_denied", 403},
    {8, "RESOURCE_EXHAUSTED", "resource_exhausted", 429},
    {9, "FAILED_PRECONDITION", "failed_precondition", 400},
    {10, "ABORTED", "aborted", 409},
    {11, "OUT_OF_RANGE", "out_of_range", 400},
    {12, "UNIMPLEMENTED", "unimplemented", 501},
    {13, "INTERNAL", "internal", 500},
    {14, "UNAVAILABLE", "unavailable", 503},
    {15, "DATA_LOSS", "data_loss", 500},
    {16, "UNAUTHENTICATED", "unauthenticated", 401},
};

typedef struct {
    const char *text;
    int ok;
    int code;
} parse_case_t;

static const parse_case_t name_cases[] = {
    {"NOT_FOUND", 1, GRPC_CODE_NOT_FOUND},
    {"not_found", 1, GRPC_CODE_NOT_FOUND},
    {"canceled", 1, GRPC_CODE_CANCELLED},
    {"cancelled", 1, GRPC_CODE_CANCELLED},
    {"CANCELLED", 1, GRPC_CODE_CANCELLED},
    {"OK", 1, GRPC_CODE_OK},
    {"UNAUTHENTICATED", 1, GRPC_CODE_UNAUTHENTICATED},
    {"Not_Found", 0, 0},
    {"NOT_FOUNDX", 0, 0},
    {"NOT_FOUN", 0, 0},
    {"", 0, 0},
    {"5", 0, 0},
};

static const parse_case_t status_cases[] = {
    {"0", 1, GRPC_CODE_OK},
    {"5", 1, GRPC_CODE_NOT_FOUND},
    {"16", 1, GRPC_CODE_UNAUTHENTICATED},
    {"016", 1, GRPC_CODE_UNAUTHENTICATED},
    {"17", 1, GRPC_CODE_UNKNOWN},                   /* unknown numbers are UNKNOWN */
    {"99999999999999999999", 1, GRPC_CODE_UNKNOWN}, /* no overflow */
    {"", 0, 0},
    {"-1", 0, 0},
    {" 5", 0, 0},
    {"5 ", 0, 0},
    {"x", 0, 0},
};

typedef struct {
    int http;
    int rest; /* grpc_code_from_http */
    int spec; /* grpc_code_from_http_transport */
} http_case_t;

static const http_case_t http_cases[] = {
    {200, GRPC_CODE_OK, GRPC_CODE_UNKNOWN},
    {204, GRPC_CODE_OK, GRPC_CODE_UNKNOWN},
    {301, GRPC_CODE_UNKNOWN, GRPC_CODE_UNKNOWN},
    {400, GRPC_CODE_INVALID_ARGUMENT, GRPC_CODE_INTERNAL},
    {401, GRPC_CODE_UNAUTHENTICATED, GRPC_CODE_UNAUTHENTICATED},
    {403, GRPC_CODE_PERMISSION_DENIED, GRPC_CODE_PERMISSION_DENIED},
    {404, GRPC_CODE_NOT_FOUND, GRPC_CODE_UNIMPLEMENTED},
    {405, GRPC_CODE_FAILED_PRECONDITION, GRPC_CODE_UNKNOWN},
    {409, GRPC_CODE_ABORTED, GRPC_CODE_UNKNOWN},
    {412, GRPC_CODE_FAILED_PRECONDITION, GRPC_CODE_UNKNOWN},
    {429, GRPC_CODE_RESOURCE_EXHAUSTED, GRPC_CODE_UNAVAILABLE},
    {499, GRPC_CODE_FAILED_PRECONDITION, GRPC_CODE_UNKNOWN},
    {500, GRPC_CODE_INTERNAL, GRPC_CODE_UNKNOWN},
    {501, GRPC_CODE_UNIMPLEMENTED, GRPC_CODE_UNKNOWN},
    {502, GRPC_CODE_INTERNAL, GRPC_CODE_UNAVAILABLE},
    {503, GRPC_CODE_UNAVAILABLE, GRPC_CODE_UNAVAILABLE},
    {504, GRPC_CODE_DEADLINE_EXCEEDED, GRPC_CODE_UNAVAILABLE},
    {599, GRPC_CODE_INTERNAL, GRPC_CODE_UNKNOWN},
    {600, GRPC_CODE_UNKNOWN, GRPC_CODE_UNKNOWN},
    {0, GRPC_CODE_UNKNOWN, GRPC_CODE_UNKNOWN},
    {-1, GRPC_CODE_UNKNOWN, GRPC_CODE_UNKNOWN},
};

typedef struct {
    uint32_t h2;
    int code;
} h2_case_t;

static const h2_case_t h2_cases[] = {
    {0x0, GRPC_CODE_INTERNAL},           {0x1, GRPC_CODE_INTERNAL},          {0x2, GRPC_CODE_INTERNAL},
    {0x3, GRPC_CODE_INTERNAL},           {0x7, GRPC_CODE_UNAVAILABLE},       {0x8, GRPC_CODE_CANCELLED},
    {0xb, GRPC_CODE_RESOURCE_EXHAUSTED}, {0xc, GRPC_CODE_PERMISSION_DENIED}, {0xd, GRPC_CODE_INTERNAL},
    {0xffff, GRPC_CODE_INTERNAL},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(code_cases) / sizeof(code_cases[0]); i++) {
        const code_case_t *c = &code_cases[i];
        CHECK_STR_EQ(grpc_code_name(c->code), c->name);
        CHECK_STR_EQ(grpc_code_connect_name(c->code), c->connect_name);
        CHECK_INT_EQ(grpc_code_to_http(c->code), c->http);
        CHECK_INT_EQ(grpc_code_normalize(c->code), c->code);
        /* Both spellings parse back to the number. */
        grpc_code_t back = GRPC_CODE_COUNT;
        CHECK_INT_EQ(grpc_code_from_name(c->name, strlen(c->name), &back, NULL), 0);
        CHECK_INT_EQ(back, c->code);
        back = GRPC_CODE_COUNT;
        CHECK_INT_EQ(grpc_code_from_name(c->connect_name, strlen(c->connect_name), &back, NULL), 0);
        CHECK_INT_EQ(back, c->code);
    }
    CHECK(grpc_code_name(17) == NULL);
    CHECK(grpc_code_name(-1) == NULL);
    CHECK(grpc_code_connect_name(17) == NULL);
    CHECK_INT_EQ(grpc_code_to_http(17), 500);
    CHECK_INT_EQ(grpc_code_to_http(-3), 500);
    CHECK_INT_EQ(grpc_code_normalize(17), GRPC_CODE_UNKNOWN);
    CHECK_INT_EQ(grpc_code_normalize(-1), GRPC_CODE_UNKNOWN);

    for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
        const parse_case_t *c = &name_cases[i];
        grpc_code_t code = GRPC_CODE_COUNT;
        util_error_t err = {0};
        int rv = grpc_code_from_name(c->text, strlen(c->text), &code, &err);
        CHECK_INT_EQ(rv, c->ok ? 0 : -1);
        if (c->ok) {
            CHECK_INT_EQ(code, c->code);
        } else {
            CHECK_INT_EQ(err.code, GRPC_ERR_STATUS);
            CHECK_STR_HAS(err.message, c->text);
        }
    }

    for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
        const parse_case_t *c = &status_cases[i];
        grpc_code_t code = GRPC_CODE_COUNT;
        util_error_t err = {0};
        int rv = grpc_code_parse(c->text, strlen(c->text), &code, &err);
        CHECK_INT_EQ(rv, c->ok ? 0 : -1);
        if (c->ok)
            CHECK_INT_EQ(code, c->code);
        else
            CHECK_STR_HAS(err.message, "grpc-status");
    }

    for (size_t i = 0; i < sizeof(http_cases) / sizeof(http_cases[0]); i++) {
        const http_case_t *c = &http_cases[i];
        if ((int)grpc_code_from_http(c->http) != c->rest)
            fprintf(stderr, "REST mapping of HTTP %d\n", c->http);
        CHECK_INT_EQ(grpc_code_from_http(c->http), c->rest);
        if ((int)grpc_code_from_http_transport(c->http) != c->spec)
            fprintf(stderr, "gRPC transport mapping of HTTP %d\n", c->http);
        CHECK_INT_EQ(grpc_code_from_http_transport(c->http), c->spec);
    }

    for (size_t i = 0; i < sizeof(h2_cases) / sizeof(h2_cases[0]); i++)
        CHECK_INT_EQ(grpc_code_from_h2_error(h2_cases[i].h2), h2_cases[i].code);

    return test_summary();
}
