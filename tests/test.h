/*
 * test.h — the tiny assertion kit shared by the unit test programs (after libuv's
 * test/task.h): typed checks that print both sides, a failure counter, and a closing
 * "N passed, N failed" line that ctest's log keeps.
 */
#ifndef PORTICO_TEST_H
#define PORTICO_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_passed_, test_failed_;

#define TEST_FAIL_(...)                                                                                                            \
    do {                                                                                                                           \
        test_failed_++;                                                                                                            \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                                                            \
        fprintf(stderr, __VA_ARGS__);                                                                                              \
        fputc('\n', stderr);                                                                                                       \
    } while (0)

#define CHECK(cond)                                                                                                                \
    do {                                                                                                                           \
        if (cond)                                                                                                                  \
            test_passed_++;                                                                                                        \
        else                                                                                                                       \
            TEST_FAIL_("CHECK(%s) failed", #cond);                                                                                 \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                                                         \
    do {                                                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                                                        \
        if (a_ == b_)                                                                                                              \
            test_passed_++;                                                                                                        \
        else                                                                                                                       \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                                                  \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                                                         \
    do {                                                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                                                           \
        if (a_ != NULL && b_ != NULL && strcmp(a_, b_) == 0)                                                                       \
            test_passed_++;                                                                                                        \
        else                                                                                                                       \
            TEST_FAIL_("%s == %s:\n  got:      %s\n  expected: %s", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");               \
    } while (0)

/* Checks that string |s| contains |needle|. */
#define CHECK_STR_HAS(s, needle)                                                                                                   \
    do {                                                                                                                           \
        const char *s_ = (s), *n_ = (needle);                                                                                      \
        if (s_ != NULL && strstr(s_, n_) != NULL)                                                                                  \
            test_passed_++;                                                                                                        \
        else                                                                                                                       \
            TEST_FAIL_("%s contains %s:\n  got: %s\n  missing: %s", #s, #needle, s_ ? s_ : "(null)", n_);                          \
    } while (0)

/* Ends main(): prints the summary and returns the exit status. */
static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed_, test_failed_);
    return test_failed_ == 0 ? 0 : 1;
}

/*
 * Compiles |proto_text| with protoc (imports from /usr/include, --include_imports) in a fresh
 * directory: *pb_path gets the descriptor set's path. Returns 0, or -1 (the failure counted).
 * Remove the directory with test_protoc_cleanup.
 */
static inline int test_protoc(const char *proto_text, char *pb_path, size_t pb_size)
{
    char dir[64], cmd[512];
    snprintf(dir, sizeof(dir), "/tmp/portico-test-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
    snprintf(pb_path, pb_size, "%s/t.proto", dir);
    FILE *f = system(cmd) == 0 ? fopen(pb_path, "w") : NULL;
    if (f == NULL) {
        TEST_FAIL_("cannot write %s", pb_path);
        return -1;
    }
    fputs(proto_text, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "protoc -I %s -I /usr/include --include_imports --descriptor_set_out=%s/t.pb %s/t.proto", dir, dir,
             dir);
    snprintf(pb_path, pb_size, "%s/t.pb", dir);
    if (system(cmd) != 0) {
        TEST_FAIL_("protoc failed: %s", cmd);
        return -1;
    }
    return 0;
}

static inline void test_protoc_cleanup(void)
{
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf /tmp/portico-test-%d", (int)getpid());
    CHECK_INT_EQ(system(cmd), 0);
}

/* Path of a built descriptor set (ctest passes PORTICO_DESC_DIR). */
static inline const char *test_desc_path(const char *name)
{
    static char path[4096];
    const char *dir = getenv("PORTICO_DESC_DIR");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "descriptors", name);
    return path;
}

#endif
