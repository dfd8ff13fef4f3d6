/*
 * main.c — protoc-gen-portico, the protoc plugin: reads a CodeGeneratorRequest on stdin and
 * writes a CodeGeneratorResponse on stdout with, for the files protoc was asked to compile:
 *
 *   <name>.routes        the transcoding table (one route per line; docs/CODEGEN.md)
 *   <name>.pb            the FileDescriptorSet the gateway loads: every file of the request,
 *                        imports included, with source info (what --include_imports
 *                        --include_source_info gives)
 *   <name>.openapi.json  the OpenAPI 3.1 document (src/openapi)
 *
 * <name> is the `name` parameter, by default the first file's base name ("shop" for
 * shop/v1/shop.proto). Parameters (--portico_opt=a=b,c=d):
 *   name=NAME  routes=BOOL  descriptor_set=BOOL  openapi=BOOL  auto_mapping=BOOL
 *   title=TEXT  version=TEXT  server=URL (repeatable)  proto_names=BOOL
 *
 * Problems (bad templates, unknown fields, colliding routes) go back in
 * CodeGeneratorResponse.error, one "file.proto:line:col: ..." per line, so protoc prints them
 * and fails; the plugin itself exits 0 unless stdin/stdout fail.
 *
 * The request is unpacked with protobuf-c (plugin.proto), but the response is encoded by
 * hand: CodeGeneratorResponse.File.content is a proto2 `string`, which protobuf-c treats as
 * a NUL-terminated C string, and the .pb output is binary. The descriptor set is likewise
 * cut from the request's wire bytes (each proto_file, field 15, becomes a
 * FileDescriptorSet.file, field 1) so it holds exactly what protoc sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "google/protobuf/compiler/plugin.pb-c.h"
#include "openapi/openapi.h"
#include "proto/proto.h"
#include "proto/wire.h"

#define MAX_REQUEST ((size_t)1 << 30)
#define MAX_SERVERS 16

typedef struct options {
    const char *name;
    int routes, descriptor_set, openapi, auto_mapping, proto_names;
    const char *title, *version;
    const char *servers[MAX_SERVERS];
    size_t n_servers;
} options_t;

typedef struct output_file {
    char *name;
    util_buf_t content;
} output_file_t;

static int read_all(FILE *f, util_buf_t *b)
{
    for (;;) {
        if (util_buf_reserve(b, 65536) != 0)
            return -1;
        size_t n = fread(b->data + b->len, 1, b->cap - b->len, f);
        b->len += n;
        if (b->len > MAX_REQUEST)
            return -1;
        if (n == 0)
            return ferror(f) ? -1 : 0;
    }
}

static int parse_bool(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* Parses "k=v,k=v" in place (|param| is modified). Returns 0, or -1 with |errors| filled. */
static int parse_options(char *param, options_t *o, util_buf_t *errors)
{
    o->routes = o->descriptor_set = o->openapi = o->auto_mapping = 1;
    if (param == NULL || param[0] == '\0')
        return 0;
    for (char *save = NULL, *item = strtok_r(param, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        const char *key = item, *val = eq ? eq + 1 : "true";
        if (eq != NULL)
            *eq = '\0';
        int *flag = NULL;
        if (strcmp(key, "routes") == 0)
            flag = &o->routes;
        else if (strcmp(key, "descriptor_set") == 0)
            flag = &o->descriptor_set;
        else if (strcmp(key, "openapi") == 0)
            flag = &o->openapi;
        else if (strcmp(key, "auto_mapping") == 0)
            flag = &o->auto_mapping;
        else if (strcmp(key, "proto_names") == 0)
            flag = &o->proto_names;
        if (flag != NULL) {
            if (parse_bool(val, flag) != 0) {
                util_buf_printf(errors, "protoc-gen-portico: parameter %s=%s: expected true or false\n", key, val);
                return -1;
            }
        } else if (strcmp(key, "name") == 0 && eq != NULL && val[0] != '\0') {
            o->name = val;
        } else if (strcmp(key, "title") == 0 && eq != NULL) {
            o->title = val;
        } else if (strcmp(key, "version") == 0 && eq != NULL) {
            o->version = val;
        } else if (strcmp(key, "server") == 0 && eq != NULL && o->n_servers < MAX_SERVERS) {
            o->servers[o->n_servers++] = val;
        } else {
            util_buf_printf(errors,
                            "protoc-gen-portico: unknown or incomplete parameter \"%s\" (known: name=, routes=, "
                            "descriptor_set=, openapi=, auto_mapping=, proto_names=, title=, version=, server=)\n",
                            key);
            return -1;
        }
    }
    return 0;
}

/* Cuts the proto_file entries (field 15) of the raw request into a FileDescriptorSet. */
static int extract_set(const uint8_t *p, size_t len, util_buf_t *set)
{
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t tag, v;
        if (wire_read_varint(&p, end, &tag) != 0)
            return -1;
        switch (tag & 7) {
        case WIRE_VARINT:
            if (wire_read_varint(&p, end, &v) != 0)
                return -1;
            break;
        case WIRE_I64:
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case WIRE_I32:
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        case WIRE_LEN:
            if (wire_read_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p))
                return -1;
            if ((tag >> 3) == 15) {
                wire_put_tag(set, 1, WIRE_LEN);
                wire_put_varint(set, v);
                util_buf_append(set, p, (size_t)v);
            }
            p += v;
            break;
        default:
            return -1;
        }
    }
    return util_buf_failed(set) ? -1 : 0;
}

static void put_string_field(util_buf_t *b, uint32_t number, const void *data, size_t len)
{
    wire_put_tag(b, number, WIRE_LEN);
    wire_put_varint(b, len);
    util_buf_append(b, data, len);
}

/* Encodes and writes the CodeGeneratorResponse. Returns 0, or -1 when stdout fails. */
static int write_response(const util_buf_t *errors, const output_file_t *files, size_t n_files)
{
    util_buf_t b = UTIL_BUF_INIT;
    if (errors->len != 0) {
        size_t n = errors->len;
        while (n > 0 && errors->data[n - 1] == '\n')
            n--; /* protoc adds its own newline */
        put_string_field(&b, 1, errors->data, n);
    }
    wire_put_tag(&b, 2, WIRE_VARINT); /* supported_features: FEATURE_PROTO3_OPTIONAL */
    wire_put_varint(&b, 1);
    for (size_t i = 0; errors->len == 0 && i < n_files; i++) {
        util_buf_t f = UTIL_BUF_INIT;
        put_string_field(&f, 1, files[i].name, strlen(files[i].name));
        put_string_field(&f, 15, files[i].content.data, files[i].content.len);
        if (util_buf_failed(&f)) {
            util_buf_dispose(&f);
            util_buf_dispose(&b);
            return -1;
        }
        put_string_field(&b, 15, f.data, f.len);
        util_buf_dispose(&f);
    }
    int rc = util_buf_failed(&b) || fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0 ? -1 : 0;
    util_buf_dispose(&b);
    return rc;
}

/* "shop/v1/shop.proto" -> "shop" (caller frees). */
static char *default_name(const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t n = strlen(base);
    if (n > 6 && strcmp(base + n - 6, ".proto") == 0)
        n -= 6;
    return strndup(base, n);
}

static char *joined(const char *name, const char *ext)
{
    size_t n = strlen(name) + strlen(ext) + 1;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%s%s", name, ext);
    return s;
}

static const char *file_package(const proto_registry_t *r, const char *file)
{
    for (size_t i = 0; i < proto_registry_n_services(r); i++) {
        const proto_service_t *s = proto_registry_service_at(r, i);
        if (strcmp(s->file->name, file) == 0)
            return s->file->package;
    }
    for (size_t i = 0; i < proto_registry_n_messages(r); i++) {
        const proto_message_t *m = proto_registry_message_at(r, i);
        if (strcmp(m->file->name, file) == 0)
            return m->file->package;
    }
    return "";
}

/*
 * Reports a registry load error. The registry names the method ("method pkg.Svc.M: google.api.http
 * rule has no path pattern") but knows no source positions; when the docs know that method, the
 * error is put at its http option like the other annotation errors.
 */
static void registry_error(const openapi_docs_t *docs, const char *message, util_buf_t *errors)
{
    for (const char *p = strstr(message, "method "); p != NULL; p = strstr(p + 1, "method ")) {
        const char *name = p + strlen("method ");
        size_t n = strcspn(name, ": ");
        char full[512];
        if (n == 0 || n >= sizeof(full))
            continue;
        memcpy(full, name, n);
        full[n] = '\0';
        const openapi_element_doc_t *d = openapi_docs_find(docs, OPENAPI_ELEMENT_METHOD, full);
        if (d != NULL && d->http.file != NULL && d->http.line > 0) {
            const char *rest = p;
            util_buf_printf(errors, "%s:%d:%d: %s\n", d->http.file, d->http.line, d->http.col, rest);
            return;
        }
    }
    util_buf_printf(errors, "%s\n", message);
}

/* Does the work between request and response; problems go to |errors|. */
static int generate(const uint8_t *raw, size_t raw_len, Google__Protobuf__Compiler__CodeGeneratorRequest *req, util_buf_t *errors,
                    output_file_t *outs, size_t *n_outs)
{
    options_t o = {0};
    char *param = req->parameter != NULL ? strdup(req->parameter) : NULL;
    char *name = NULL;
    util_buf_t set = UTIL_BUF_INIT;
    proto_registry_t *r = NULL;
    openapi_docs_t *docs = NULL;
    codegen_routes_t routes = {0};
    const binding_rule_t **bindings = NULL;
    int rc = -1;
    util_error_t err = {0};

    if ((req->parameter != NULL && param == NULL) || parse_options(param, &o, errors) != 0)
        goto done;
    if (req->n_file_to_generate == 0) {
        util_buf_puts(errors, "protoc-gen-portico: no files to generate\n");
        goto done;
    }
    const char *const *files = (const char *const *)req->file_to_generate;
    size_t n_files = req->n_file_to_generate;
    if ((name = o.name != NULL ? strdup(o.name) : default_name(files[0])) == NULL)
        goto nomem;
    if (extract_set(raw, raw_len, &set) != 0) {
        util_buf_puts(errors, "protoc-gen-portico: the CodeGeneratorRequest is malformed\n");
        goto done;
    }
    if ((r = proto_registry_new()) == NULL || (docs = openapi_docs_new()) == NULL)
        goto nomem;
    if (openapi_docs_add_set(docs, set.data, set.len, &err) != 0) {
        util_buf_printf(errors, "%s\n", err.message);
        goto done;
    }
    if (proto_registry_load_buffer(r, set.data, set.len, files[0], &err) != 0) {
        registry_error(docs, err.message, errors);
        goto done;
    }
    int n_errors = codegen_routes_collect(&routes, r, docs, files, n_files, o.auto_mapping, errors);
    if (n_errors < 0)
        goto nomem;
    if (n_errors > 0)
        goto done;

    if (o.routes) {
        output_file_t *f = &outs[(*n_outs)++];
        char *set_name = joined(name, ".pb");
        const char *slash = set_name != NULL ? strrchr(set_name, '/') : NULL;
        f->name = joined(name, ".routes");
        if (f->name != NULL && set_name != NULL)
            codegen_routes_write(&routes, files, n_files, slash ? slash + 1 : set_name, &f->content);
        free(set_name);
        if (f->name == NULL || util_buf_failed(&f->content))
            goto nomem;
    }
    if (o.descriptor_set) {
        output_file_t *f = &outs[(*n_outs)++];
        if ((f->name = joined(name, ".pb")) == NULL)
            goto nomem;
        util_buf_append(&f->content, set.data, set.len);
        if (util_buf_failed(&f->content))
            goto nomem;
    }
    if (o.openapi) {
        output_file_t *f = &outs[(*n_outs)++];
        if ((f->name = joined(name, ".openapi.json")) == NULL)
            goto nomem;
        if ((bindings = calloc(routes.n + 1, sizeof(*bindings))) == NULL)
            goto nomem;
        for (size_t i = 0; i < routes.n; i++)
            bindings[i] = &routes.items[i].binding;
        const char *pkg = file_package(r, files[0]);
        openapi_options_t opt = {
            .title = o.title != NULL ? o.title : (pkg[0] ? pkg : name),
            .version = o.version,
            .servers = o.servers,
            .n_servers = o.n_servers,
            .proto_names = o.proto_names,
        };
        if (openapi_render(r, docs, bindings, routes.n, NULL, 0, &opt, &f->content, &err) != 0) {
            util_buf_printf(errors, "protoc-gen-portico: %s\n", err.message);
            goto done;
        }
    }
    rc = 0;
    goto done;
nomem:
    util_buf_puts(errors, "protoc-gen-portico: out of memory\n");
done:
    free(bindings);
    codegen_routes_dispose(&routes);
    openapi_docs_free(docs);
    proto_registry_free(r);
    util_buf_dispose(&set);
    free(name);
    free(param);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr,
                "protoc-gen-portico is a protoc plugin: run it through protoc, e.g.\n"
                "  protoc --plugin=protoc-gen-portico=%s --portico_out=OUT -I DIR file.proto\n"
                "(see docs/CODEGEN.md)\n",
                argv[0]);
        return 2;
    }
    util_buf_t raw = UTIL_BUF_INIT, errors = UTIL_BUF_INIT;
    if (read_all(stdin, &raw) != 0) {
        fprintf(stderr, "protoc-gen-portico: cannot read the request on stdin: %s\n", errno ? strerror(errno) : "too large");
        util_buf_dispose(&raw);
        return 1;
    }
    output_file_t outs[3];
    size_t n_outs = 0;
    memset(outs, 0, sizeof(outs));
    Google__Protobuf__Compiler__CodeGeneratorRequest *req =
        google__protobuf__compiler__code_generator_request__unpack(NULL, raw.len, raw.data);
    if (req == NULL)
        util_buf_puts(&errors, "protoc-gen-portico: stdin does not hold a CodeGeneratorRequest (run the plugin through protoc)\n");
    else
        generate(raw.data, raw.len, req, &errors, outs, &n_outs);
    int rc = write_response(&errors, outs, n_outs) == 0 ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "protoc-gen-portico: cannot write the response on stdout\n");
    for (size_t i = 0; i < n_outs; i++) {
        free(outs[i].name);
        util_buf_dispose(&outs[i].content);
    }
    if (req != NULL)
        google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
    util_buf_dispose(&raw);
    util_buf_dispose(&errors);
    return rc;
}
