/*
 * main.c — the portico command line: `portico transcode` (JSON <-> protobuf with the
 * registry and codec), `portico version` and help. Server commands join here as the
 * gateway grows; everything below the CLI lives in the subsystem folders.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/gateway.h"
#include "proto/proto.h"

static const char usage_text[] =
    "usage: portico <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve       run the gateway:            portico serve -c portico.json\n"
    "  check       validate a config and print its routes: portico check -c portico.json\n"
    "  routes      same as check\n"
    "  transcode   convert one message between JSON and protobuf binary (stdin -> stdout)\n"
    "  version     print the version\n"
    "  help        print this help\n"
    "\n"
    "portico transcode -d SET.pb [-d SET.pb ...] -m FULL.MESSAGE.NAME --from json|binary --to json|binary\n"
    "                  [--emit-defaults] [--proto-names] [--enum-ints] [--ignore-unknown]\n"
    "                  [--max-depth N] [--max-input BYTES]\n"
    "  -d, --descriptor-set FILE  a FileDescriptorSet (protoc --include_imports --descriptor_set_out=FILE)\n"
    "  -m, --message NAME         the message type, e.g. shop.v1.Price\n"
    "  --from, --to               json or binary (protobuf wire format)\n"
    "  --emit-defaults            print fields that hold their default value\n"
    "  --proto-names              print proto field names instead of lowerCamelCase\n"
    "  --enum-ints                print enum values as numbers\n"
    "  --ignore-unknown           skip unknown JSON fields and enum names instead of failing\n"
    "exit status: 0 ok, 1 bad input, 2 usage error\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see portico --help)\n");
    return 2;
}

static int read_all(FILE *f, util_buf_t *b, size_t limit)
{
    for (;;) {
        if (util_buf_reserve(b, 65536) != 0)
            return -1;
        size_t n = fread(b->data + b->len, 1, b->cap - b->len, f);
        b->len += n;
        if (b->len > limit)
            return 1;
        if (n == 0)
            return ferror(f) ? -1 : 0;
    }
}

typedef enum { FMT_NONE, FMT_JSON, FMT_BINARY } format_t;

static format_t parse_format(const char *s)
{
    if (strcmp(s, "json") == 0)
        return FMT_JSON;
    if (strcmp(s, "binary") == 0 || strcmp(s, "proto") == 0 || strcmp(s, "pb") == 0)
        return FMT_BINARY;
    return FMT_NONE;
}

static int cmd_transcode(int argc, char **argv)
{
    const char *sets[64];
    size_t n_sets = 0;
    const char *message = NULL;
    format_t from = FMT_NONE, to = FMT_NONE;
    codec_options_t opt = {0};

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-d") == 0 || strcmp(a, "--descriptor-set") == 0) {
            if (val == NULL)
                return usage_error("%s needs a file", a);
            if (n_sets == sizeof(sets) / sizeof(sets[0]))
                return usage_error("too many descriptor sets (at most 64)%s", "");
            sets[n_sets++] = val;
            i++;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--message") == 0) {
            if (val == NULL)
                return usage_error("%s needs a message name", a);
            message = val;
            i++;
        } else if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) {
            if (val == NULL || parse_format(val) == FMT_NONE)
                return usage_error("%s takes json or binary", a);
            if (a[2] == 'f')
                from = parse_format(val);
            else
                to = parse_format(val);
            i++;
        } else if (strcmp(a, "--emit-defaults") == 0) {
            opt.emit_defaults = 1;
        } else if (strcmp(a, "--proto-names") == 0) {
            opt.proto_names = 1;
        } else if (strcmp(a, "--enum-ints") == 0) {
            opt.enum_ints = 1;
        } else if (strcmp(a, "--ignore-unknown") == 0) {
            opt.ignore_unknown = 1;
        } else if (strcmp(a, "--max-depth") == 0 || strcmp(a, "--max-input") == 0) {
            char *end;
            errno = 0;
            unsigned long long v = val ? strtoull(val, &end, 10) : 0;
            if (val == NULL || *val < '0' || *val > '9' || *end != '\0' || errno != 0 || v == 0)
                return usage_error("%s takes a positive number", a);
            if (a[6] == 'd')
                opt.max_depth = v > 10000 ? 10000 : (uint32_t)v;
            else
                opt.max_input = (size_t)v;
            i++;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else {
            return usage_error("unknown option \"%s\"", a);
        }
    }
    if (n_sets == 0)
        return usage_error("transcode needs at least one descriptor set (-d FILE)%s", "");
    if (message == NULL)
        return usage_error("transcode needs a message type (-m NAME)%s", "");
    if (from == FMT_NONE || to == FMT_NONE)
        return usage_error("transcode needs --from and --to (json or binary)%s", "");

    int rc = 1;
    util_error_t err = {0};
    util_buf_t in = UTIL_BUF_INIT, mid = UTIL_BUF_INIT, out = UTIL_BUF_INIT;
    proto_registry_t *r = proto_registry_new();
    if (r == NULL) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n_sets; i++) {
        if (proto_registry_load_file(r, sets[i], &err) != 0) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
    }
    const proto_message_t *m = proto_registry_find_message(r, message[0] == '.' ? message + 1 : message);
    if (m == NULL) {
        fprintf(stderr, "error: message type \"%s\" is not in the descriptor set%s\n", message, n_sets > 1 ? "s" : "");
        goto done;
    }
    size_t limit = opt.max_input ? opt.max_input : CODEC_DEFAULT_MAX_INPUT;
    int rd = read_all(stdin, &in, limit);
    if (rd < 0) {
        fprintf(stderr, "error: cannot read standard input\n");
        goto done;
    }
    if (rd > 0) {
        fprintf(stderr, "error: input is larger than the limit of %zu bytes\n", limit);
        goto done;
    }

    /* json -> json and binary -> binary go through the other form, which validates and normalizes */
    const uint8_t *pb = in.data;
    size_t pb_len = in.len;
    if (from == FMT_JSON) {
        if (codec_json_to_pb(r, m, (const char *)in.data, in.len, &opt, &mid, &err) != 0) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
        pb = mid.data;
        pb_len = mid.len;
    }
    if (to == FMT_JSON || from == FMT_BINARY) {
        if (codec_pb_to_json(r, m, pb, pb_len, &opt, &out, &err) != 0) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
    }
    if (to == FMT_JSON) {
        util_buf_putc(&out, '\n');
    } else if (from == FMT_BINARY) {
        util_buf_dispose(&mid);
        if (codec_json_to_pb(r, m, (const char *)out.data, out.len, &opt, &mid, &err) != 0) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
        util_buf_dispose(&out);
        util_buf_append(&out, mid.data, mid.len);
    } else {
        util_buf_append(&out, mid.data, mid.len);
    }
    if (util_buf_failed(&out) || util_buf_failed(&mid)) {
        fprintf(stderr, "error: out of memory\n");
        goto done;
    }
    if (out.len != 0 && fwrite(out.data, 1, out.len, stdout) != out.len) {
        fprintf(stderr, "error: cannot write standard output\n");
        goto done;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "error: cannot write standard output\n");
        goto done;
    }
    rc = 0;
done:
    util_buf_dispose(&in);
    util_buf_dispose(&mid);
    util_buf_dispose(&out);
    proto_registry_free(r);
    return rc;
}

static int cmd_gateway(int argc, char **argv, int serve)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else {
            return usage_error("unknown option \"%s\"", argv[i]);
        }
    }
    if (path == NULL)
        return usage_error("%s needs a config file (-c portico.json)", serve ? "serve" : "check");
    util_error_t err = {0};
    config_t *cfg = config_load_file(path, &err);
    if (cfg == NULL) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    gateway_t *g = gateway_build(cfg, &err);
    if (g == NULL) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    int rc = 0;
    if (serve) {
        if (gateway_serve(g, &err) != 0) {
            fprintf(stderr, "error: %s\n", err.message);
            rc = 1;
        }
    } else {
        printf("%s: ok, %zu route%s\n", path, g->n_routes, g->n_routes == 1 ? "" : "s");
        gateway_print_routes(g, stdout);
    }
    gateway_free(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cmd_gateway(argc - 2, argv + 2, 1);
    if (strcmp(cmd, "check") == 0 || strcmp(cmd, "routes") == 0)
        return cmd_gateway(argc - 2, argv + 2, 0);
    if (strcmp(cmd, "transcode") == 0)
        return cmd_transcode(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("portico %s\n", PORTICO_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    return usage_error("unknown command \"%s\"", cmd);
}
