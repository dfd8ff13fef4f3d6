/*
 * bench_portico.c — times portico's codec (codec_pb_to_json / codec_json_to_pb) on one input,
 * and converts or cross-checks inputs for bench/codec/run.sh, which runs it beside
 * bench_libprotobuf.cc on identical bytes and prints the ratio.
 *
 *   convert SET.pb MESSAGE p2j|j2p INPUT OUTPUT   one conversion, written to OUTPUT
 *   check   SET.pb MESSAGE IN.pb LIB.json        portico must read libprotobuf's JSON of IN.pb back to
 *                                                the same message: pb_to_json(IN.pb) must equal
 *                                                pb_to_json(json_to_pb(LIB.json))
 *   time    SET.pb MESSAGE p2j|j2p INPUT MIN_MS [ITERS]
 *                                                prints "ITERATIONS NANOSECONDS"; with ITERS it runs exactly
 *                                                that many in bench_loop() (for callgrind's --toggle-collect)
 *
 * The output buffer is reused across iterations (its length reset), as a server reusing a
 * per-connection buffer would; libprotobuf's side likewise reuses its output string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/proto.h"

typedef struct bench_job {
    const proto_registry_t *reg;
    const proto_message_t *msg;
    int to_json;
    uint8_t *input;
    size_t input_len;
    util_buf_t out;
    codec_options_t opt;
} bench_job_t;

static void bench_die(const char *fmt, const char *arg)
{
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static uint8_t *bench_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        bench_die("cannot read %s", path);
    util_buf_t b = UTIL_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        util_buf_append(&b, chunk, n);
    if (ferror(f) || util_buf_failed(&b))
        bench_die("cannot read %s", path);
    fclose(f);
    util_buf_putc(&b, 0); /* NUL after the data, not counted */
    uint8_t *data = util_buf_release(&b, len);
    *len -= 1;
    return data;
}

static int bench_convert(bench_job_t *j, util_error_t *err)
{
    j->out.len = 0;
    if (j->to_json)
        return codec_pb_to_json(j->reg, j->msg, j->input, j->input_len, &j->opt, &j->out, err);
    return codec_json_to_pb(j->reg, j->msg, (const char *)j->input, j->input_len, &j->opt, &j->out, err);
}

/* Kept out of line so callgrind can collect exactly this loop (--toggle-collect=bench_loop). */
__attribute__((noinline)) void bench_loop(bench_job_t *j, long n);
__attribute__((noinline)) void bench_loop(bench_job_t *j, long n)
{
    util_error_t err;
    for (long i = 0; i < n; i++)
        if (bench_convert(j, &err) != 0)
            bench_die("conversion failed: %s", err.message);
}

static long long bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void bench_setup(bench_job_t *j, proto_registry_t *reg, const char *set, const char *message, const char *dir,
                        const char *input)
{
    util_error_t err;
    memset(j, 0, sizeof(*j));
    if (proto_registry_load_file(reg, set, &err) != 0)
        bench_die("%s", err.message);
    j->reg = reg;
    j->msg = proto_registry_find_message(reg, message);
    if (j->msg == NULL)
        bench_die("no message %s in the descriptor set", message);
    if (strcmp(dir, "p2j") != 0 && strcmp(dir, "j2p") != 0)
        bench_die("direction must be p2j or j2p, not %s", dir);
    j->to_json = strcmp(dir, "p2j") == 0;
    j->input = bench_read_file(input, &j->input_len);
}

static void bench_write_file(const char *path, const util_buf_t *b)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0)
        bench_die("cannot write %s", path);
}

static int bench_usage(void)
{
    fprintf(stderr, "usage: bench_portico convert SET.pb MESSAGE p2j|j2p INPUT OUTPUT\n"
                    "       bench_portico check SET.pb MESSAGE IN.pb LIBPROTOBUF.json\n"
                    "       bench_portico time SET.pb MESSAGE p2j|j2p INPUT MIN_MS [ITERS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return bench_usage();
    const char *cmd = argv[1];
    proto_registry_t *reg = proto_registry_new();
    bench_job_t j;
    util_error_t err;
    if (reg == NULL)
        bench_die("%s", "out of memory");
    if (strcmp(cmd, "convert") == 0 && argc == 7) {
        bench_setup(&j, reg, argv[2], argv[3], argv[4], argv[5]);
        if (bench_convert(&j, &err) != 0)
            bench_die("%s", err.message);
        bench_write_file(argv[6], &j.out);
    } else if (strcmp(cmd, "check") == 0 && argc == 6) {
        bench_job_t lib;
        util_buf_t again = UTIL_BUF_INIT;
        bench_setup(&j, reg, argv[2], argv[3], "p2j", argv[4]);
        if (bench_convert(&j, &err) != 0)
            bench_die("portico cannot print the input: %s", err.message);
        /* The registry is loaded once; the second job only reads its input. */
        memset(&lib, 0, sizeof(lib));
        lib.reg = reg;
        lib.msg = j.msg;
        lib.input = bench_read_file(argv[5], &lib.input_len);
        if (bench_convert(&lib, &err) != 0)
            bench_die("portico cannot parse libprotobuf's JSON: %s", err.message);
        if (codec_pb_to_json(reg, j.msg, lib.out.data, lib.out.len, &j.opt, &again, &err) != 0)
            bench_die("portico cannot print what it parsed: %s", err.message);
        if (again.len != j.out.len || memcmp(again.data, j.out.data, again.len) != 0)
            bench_die("portico reads libprotobuf's JSON %s as a different message", argv[5]);
        util_buf_dispose(&again);
        util_buf_dispose(&lib.out);
        free(lib.input);
    } else if (strcmp(cmd, "time") == 0 && (argc == 7 || argc == 8)) {
        long min_ms = atol(argv[6]), iters = argc == 8 ? atol(argv[7]) : 0;
        bench_setup(&j, reg, argv[2], argv[3], argv[4], argv[5]);
        if (iters > 0) {
            if (bench_convert(&j, &err) != 0) /* warm-up outside the collected loop */
                bench_die("conversion failed: %s", err.message);
            bench_loop(&j, iters);
            printf("%ld 0\n", iters);
        } else {
            long long t0 = bench_now_ns();
            while (bench_now_ns() - t0 < min_ms * 100000LL) /* warm up for a tenth of the time */
                bench_loop(&j, 1);
            long long start = bench_now_ns(), elapsed = 0;
            long total = 0, n = 1;
            while (elapsed < min_ms * 1000000LL) {
                bench_loop(&j, n);
                total += n;
                elapsed = bench_now_ns() - start;
                if (n < (1L << 20))
                    n *= 2;
            }
            printf("%ld %lld\n", total, elapsed);
        }
    } else {
        proto_registry_free(reg);
        return bench_usage();
    }
    util_buf_dispose(&j.out);
    free(j.input);
    proto_registry_free(reg);
    return 0;
}
