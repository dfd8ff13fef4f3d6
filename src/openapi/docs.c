/*
 * docs.c — the openapi_docs_t index: for every message, field, enum, enum value, service
 * and method of a FileDescriptorSet, its cleaned comment, its source position and its
 * flags (google.api.field_behavior, proto2 `required`, `deprecated`); see openapi.h.
 *
 * The registry drops source info and unknown options on purpose (the request path never
 * needs them), so the set is walked here a second time with the protobuf-c types of
 * descriptor.proto. SourceCodeInfo locations are addressed by paths of field numbers and
 * indexes (FileDescriptorProto.message_type = 4, DescriptorProto.field = 2, ...); each
 * file's locations are put in a hash map by path, then every element looks its path up.
 *
 * google.api.field_behavior is extension 1052 of FieldOptions, which protobuf-c keeps among
 * the options' unknown fields: as varints (the extension is declared [packed = false]), or
 * as one packed length-delimited blob when another protoc packs it.
 */
#include "openapi/openapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "proto/wire.h"
#include "util/arena.h"
#include "util/strmap.h"

#define FIELD_BEHAVIOR_EXTENSION 1052
#define HTTP_RULE_EXTENSION 72295728

/* FieldBehavior values (google/api/field_behavior.proto). */
enum { FB_REQUIRED = 2, FB_OUTPUT_ONLY = 3, FB_INPUT_ONLY = 4, FB_IMMUTABLE = 5 };

/* Field numbers used in SourceCodeInfo paths. */
enum {
    FILE_MESSAGE_TYPE = 4,
    FILE_ENUM_TYPE = 5,
    FILE_SERVICE = 6,
    MESSAGE_FIELD = 2,
    MESSAGE_NESTED_TYPE = 3,
    MESSAGE_ENUM_TYPE = 4,
    ENUM_VALUE = 2,
    SERVICE_METHOD = 2,
    METHOD_OPTIONS = 4,
};

#define MAX_PATH 64

struct openapi_docs {
    util_arena_t arena;
    util_strmap_t elements; /* "<kind letter>:<full name>" -> openapi_element_doc_t */
    util_strmap_t files;    /* file name -> (void *)1 */
};

/* State while one file is walked. */
typedef struct walker {
    openapi_docs_t *d;
    const char *file;        /* arena copy of the file name */
    util_strmap_t locations; /* path key -> Location */
    char **keys;             /* the path keys (freed with the walk) */
    size_t n_keys, cap_keys;
    int32_t path[MAX_PATH];
    size_t depth;
} walker_t;

openapi_docs_t *openapi_docs_new(void)
{
    openapi_docs_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    util_arena_init(&d->arena);
    util_strmap_init(&d->elements);
    util_strmap_init(&d->files);
    return d;
}

void openapi_docs_free(openapi_docs_t *d)
{
    if (d == NULL)
        return;
    util_strmap_dispose(&d->elements);
    util_strmap_dispose(&d->files);
    util_arena_dispose(&d->arena);
    free(d);
}

static const char kind_letter[] = {'m', 'f', 'e', 'v', 's', 'r'};

const openapi_element_doc_t *openapi_docs_find(const openapi_docs_t *d, openapi_element_kind_t kind, const char *full_name)
{
    if (d == NULL || full_name == NULL || (unsigned)kind >= sizeof(kind_letter))
        return NULL;
    char stack[256], *key = stack;
    size_t n = strlen(full_name);
    if (n + 3 > sizeof(stack) && (key = malloc(n + 3)) == NULL)
        return NULL;
    key[0] = kind_letter[kind];
    key[1] = ':';
    memcpy(key + 2, full_name, n + 1);
    const openapi_element_doc_t *doc = util_strmap_get(&d->elements, key, n + 2);
    if (key != stack)
        free(key);
    return doc;
}

/* Renders path[0..depth) as "4.0.2.1" into |out| (room for MAX_PATH * 12 bytes). */
static size_t path_key(const int32_t *path, size_t depth, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < depth; i++)
        n += (size_t)sprintf(out + n, i ? ".%d" : "%d", (int)path[i]);
    out[n] = '\0';
    return n;
}

static int index_locations(walker_t *w, const Google__Protobuf__SourceCodeInfo *sci)
{
    if (sci == NULL)
        return 0;
    if (util_strmap_reserve(&w->locations, sci->n_location) != 0)
        return -1;
    w->keys = calloc(sci->n_location ? sci->n_location : 1, sizeof(*w->keys));
    if (w->keys == NULL)
        return -1;
    for (size_t i = 0; i < sci->n_location; i++) {
        const Google__Protobuf__SourceCodeInfo__Location *loc = sci->location[i];
        if (loc->n_path > MAX_PATH || loc->n_span < 3)
            continue;
        char buf[MAX_PATH * 12];
        path_key(loc->path, loc->n_path, buf);
        if (util_strmap_get(&w->locations, buf, strlen(buf)) != NULL)
            continue; /* the first location of a path is the whole element */
        char *key = strdup(buf);
        if (key == NULL)
            return -1;
        w->keys[w->n_keys++] = key;
        if (util_strmap_put(&w->locations, key, (void *)loc) != 0)
            return -1;
    }
    return 0;
}

static const Google__Protobuf__SourceCodeInfo__Location *location_at(const walker_t *w, size_t depth)
{
    char buf[MAX_PATH * 12];
    size_t n = path_key(w->path, depth, buf);
    return util_strmap_get(&w->locations, buf, n);
}

/* Strips the one space protoc leaves after "//" on each line and the trailing blank lines. */
static char *clean_comment(util_arena_t *a, const char *c)
{
    if (c == NULL)
        return NULL;
    size_t len = strlen(c);
    char *out = util_arena_alloc(a, len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    int line_start = 1;
    for (size_t i = 0; i < len; i++) {
        if (line_start && c[i] == ' ') {
            line_start = 0;
            continue;
        }
        line_start = c[i] == '\n';
        out[o++] = c[i];
    }
    while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' ' || out[o - 1] == '\t' || out[o - 1] == '\r'))
        o--;
    out[o] = '\0';
    return o != 0 ? out : NULL;
}

static void set_location(openapi_location_t *l, const char *file, const Google__Protobuf__SourceCodeInfo__Location *loc)
{
    l->file = file;
    if (loc != NULL) {
        l->line = loc->span[0] + 1;
        l->col = loc->span[1] + 1;
    }
}

/* Adds the doc of the element at the walker's current path. Returns it, or NULL on allocation failure. */
static openapi_element_doc_t *add_element(walker_t *w, openapi_element_kind_t kind, const char *full_name, int *failed)
{
    size_t n = strlen(full_name);
    char *key = util_arena_alloc(&w->d->arena, n + 3);
    openapi_element_doc_t *doc = util_arena_alloc(&w->d->arena, sizeof(*doc));
    if (key == NULL || doc == NULL) {
        *failed = 1;
        return NULL;
    }
    key[0] = kind_letter[kind];
    key[1] = ':';
    memcpy(key + 2, full_name, n + 1);
    const Google__Protobuf__SourceCodeInfo__Location *loc = location_at(w, w->depth);
    set_location(&doc->where, w->file, loc);
    doc->http = doc->where;
    if (loc != NULL) {
        const char *c =
            loc->leading_comments != NULL && loc->leading_comments[0] != '\0' ? loc->leading_comments : loc->trailing_comments;
        doc->comment = clean_comment(&w->d->arena, c);
    }
    if (util_strmap_get(&w->d->elements, key, n + 2) != NULL)
        return doc; /* defined twice: keep the first (the registry rejects real duplicates) */
    if (util_strmap_put(&w->d->elements, key, doc) != 0) {
        *failed = 1;
        return NULL;
    }
    return doc;
}

static char *join_name(walker_t *w, const char *scope, const char *name)
{
    if (name == NULL)
        name = "";
    if (scope == NULL || scope[0] == '\0')
        return util_arena_strdup(&w->d->arena, name);
    size_t a = strlen(scope), b = strlen(name);
    char *s = util_arena_alloc(&w->d->arena, a + b + 2);
    if (s != NULL) {
        memcpy(s, scope, a);
        s[a] = '.';
        memcpy(s + a + 1, name, b + 1);
    }
    return s;
}

static unsigned field_flags(const Google__Protobuf__FieldDescriptorProto *fp)
{
    unsigned flags = 0;
    if (fp->has_label && fp->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED)
        flags |= OPENAPI_FLAG_REQUIRED;
    const Google__Protobuf__FieldOptions *o = fp->options;
    if (o == NULL)
        return flags;
    if (o->has_deprecated && o->deprecated)
        flags |= OPENAPI_FLAG_DEPRECATED;
    for (unsigned i = 0; i < o->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &o->base.unknown_fields[i];
        if (u->tag != FIELD_BEHAVIOR_EXTENSION)
            continue;
        const uint8_t *p = u->data, *end = u->data + u->len;
        uint64_t v, n;
        if (u->wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
            if (wire_read_varint(&p, end, &n) != 0 || n != (uint64_t)(end - p))
                continue; /* malformed: ignore the annotation rather than fail the document */
        } else if (u->wire_type != PROTOBUF_C_WIRE_TYPE_VARINT) {
            continue;
        }
        while (p < end && wire_read_varint(&p, end, &v) == 0) {
            switch (v) {
            case FB_REQUIRED:
                flags |= OPENAPI_FLAG_REQUIRED;
                break;
            case FB_OUTPUT_ONLY:
                flags |= OPENAPI_FLAG_OUTPUT_ONLY;
                break;
            case FB_INPUT_ONLY:
                flags |= OPENAPI_FLAG_INPUT_ONLY;
                break;
            case FB_IMMUTABLE:
                flags |= OPENAPI_FLAG_IMMUTABLE;
                break;
            default:
                break;
            }
        }
    }
    return flags;
}

static int walk_enum(walker_t *w, const char *scope, const Google__Protobuf__EnumDescriptorProto *ep)
{
    int failed = 0;
    const char *full = join_name(w, scope, ep->name);
    if (full == NULL)
        return -1;
    openapi_element_doc_t *doc = add_element(w, OPENAPI_ELEMENT_ENUM, full, &failed);
    if (doc != NULL && ep->options != NULL && ep->options->has_deprecated && ep->options->deprecated)
        doc->flags |= OPENAPI_FLAG_DEPRECATED;
    if (w->depth + 2 > MAX_PATH)
        return failed ? -1 : 0;
    for (size_t i = 0; i < ep->n_value && !failed; i++) {
        w->path[w->depth] = ENUM_VALUE;
        w->path[w->depth + 1] = (int32_t)i;
        w->depth += 2;
        const char *vn = join_name(w, full, ep->value[i]->name);
        openapi_element_doc_t *vd = vn != NULL ? add_element(w, OPENAPI_ELEMENT_VALUE, vn, &failed) : NULL;
        if (vn == NULL)
            failed = 1;
        if (vd != NULL && ep->value[i]->options != NULL && ep->value[i]->options->has_deprecated &&
            ep->value[i]->options->deprecated)
            vd->flags |= OPENAPI_FLAG_DEPRECATED;
        w->depth -= 2;
    }
    return failed ? -1 : 0;
}

static int walk_message(walker_t *w, const char *scope, const Google__Protobuf__DescriptorProto *mp)
{
    int failed = 0;
    const char *full = join_name(w, scope, mp->name);
    if (full == NULL)
        return -1;
    openapi_element_doc_t *doc = add_element(w, OPENAPI_ELEMENT_MESSAGE, full, &failed);
    if (doc != NULL && mp->options != NULL && mp->options->has_deprecated && mp->options->deprecated)
        doc->flags |= OPENAPI_FLAG_DEPRECATED;
    if (failed)
        return -1;
    if (w->depth + 2 > MAX_PATH)
        return 0; /* absurdly deep nesting: no docs below, not an error */
    size_t d = w->depth;
    for (size_t i = 0; i < mp->n_field && !failed; i++) {
        w->path[d] = MESSAGE_FIELD;
        w->path[d + 1] = (int32_t)i;
        w->depth = d + 2;
        const char *fn = join_name(w, full, mp->field[i]->name);
        openapi_element_doc_t *fd = fn != NULL ? add_element(w, OPENAPI_ELEMENT_FIELD, fn, &failed) : NULL;
        if (fn == NULL)
            failed = 1;
        if (fd != NULL)
            fd->flags |= field_flags(mp->field[i]);
    }
    for (size_t i = 0; i < mp->n_nested_type && !failed; i++) {
        w->path[d] = MESSAGE_NESTED_TYPE;
        w->path[d + 1] = (int32_t)i;
        w->depth = d + 2;
        if (walk_message(w, full, mp->nested_type[i]) != 0)
            failed = 1;
    }
    for (size_t i = 0; i < mp->n_enum_type && !failed; i++) {
        w->path[d] = MESSAGE_ENUM_TYPE;
        w->path[d + 1] = (int32_t)i;
        w->depth = d + 2;
        if (walk_enum(w, full, mp->enum_type[i]) != 0)
            failed = 1;
    }
    w->depth = d;
    return failed ? -1 : 0;
}

static int walk_service(walker_t *w, const char *scope, const Google__Protobuf__ServiceDescriptorProto *sp)
{
    int failed = 0;
    const char *full = join_name(w, scope, sp->name);
    if (full == NULL)
        return -1;
    openapi_element_doc_t *doc = add_element(w, OPENAPI_ELEMENT_SERVICE, full, &failed);
    if (doc != NULL && sp->options != NULL && sp->options->has_deprecated && sp->options->deprecated)
        doc->flags |= OPENAPI_FLAG_DEPRECATED;
    size_t d = w->depth;
    for (size_t i = 0; i < sp->n_method && !failed; i++) {
        const Google__Protobuf__MethodDescriptorProto *mp = sp->method[i];
        w->path[d] = SERVICE_METHOD;
        w->path[d + 1] = (int32_t)i;
        w->depth = d + 2;
        const char *mn = join_name(w, full, mp->name);
        openapi_element_doc_t *md = mn != NULL ? add_element(w, OPENAPI_ELEMENT_METHOD, mn, &failed) : NULL;
        if (mn == NULL)
            failed = 1;
        if (md == NULL)
            continue;
        if (mp->options != NULL && mp->options->has_deprecated && mp->options->deprecated)
            md->flags |= OPENAPI_FLAG_DEPRECATED;
        /* the http option: [.., 4 (options), 72295728], else the options statement */
        w->path[d + 2] = METHOD_OPTIONS;
        w->path[d + 3] = HTTP_RULE_EXTENSION;
        const Google__Protobuf__SourceCodeInfo__Location *loc = location_at(w, d + 4);
        if (loc == NULL)
            loc = location_at(w, d + 3);
        if (loc != NULL)
            set_location(&md->http, w->file, loc);
    }
    w->depth = d;
    return failed ? -1 : 0;
}

static int walk_file(openapi_docs_t *d, const Google__Protobuf__FileDescriptorProto *fp)
{
    if (fp->name == NULL || util_strmap_get(&d->files, fp->name, strlen(fp->name)) != NULL)
        return 0;
    walker_t w = {.d = d};
    util_strmap_init(&w.locations);
    int rc = -1;
    if ((w.file = util_arena_strdup(&d->arena, fp->name)) == NULL || index_locations(&w, fp->source_code_info) != 0)
        goto done;
    const char *pkg = fp->package != NULL ? fp->package : "";
    for (size_t i = 0; i < fp->n_message_type; i++) {
        w.path[0] = FILE_MESSAGE_TYPE;
        w.path[1] = (int32_t)i;
        w.depth = 2;
        if (walk_message(&w, pkg, fp->message_type[i]) != 0)
            goto done;
    }
    for (size_t i = 0; i < fp->n_enum_type; i++) {
        w.path[0] = FILE_ENUM_TYPE;
        w.path[1] = (int32_t)i;
        w.depth = 2;
        if (walk_enum(&w, pkg, fp->enum_type[i]) != 0)
            goto done;
    }
    for (size_t i = 0; i < fp->n_service; i++) {
        w.path[0] = FILE_SERVICE;
        w.path[1] = (int32_t)i;
        w.depth = 2;
        if (walk_service(&w, pkg, fp->service[i]) != 0)
            goto done;
    }
    rc = util_strmap_put(&d->files, w.file, (void *)1);
done:
    for (size_t i = 0; i < w.n_keys; i++)
        free(w.keys[i]);
    free(w.keys);
    util_strmap_dispose(&w.locations);
    return rc;
}

int openapi_docs_add_set(openapi_docs_t *d, const uint8_t *data, size_t len, util_error_t *err)
{
    Google__Protobuf__FileDescriptorSet *set = google__protobuf__file_descriptor_set__unpack(NULL, len, data);
    if (set == NULL)
        return util_error_set(err, OPENAPI_ERR_INVALID, "%zu bytes are not a serialized google.protobuf.FileDescriptorSet", len);
    int rc = 0;
    for (size_t i = 0; i < set->n_file && rc == 0; i++)
        if (walk_file(d, set->file[i]) != 0)
            rc = util_error_set(err, OPENAPI_ERR_NOMEM, "out of memory indexing %s", set->file[i]->name);
    google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
    return rc;
}

int openapi_docs_add_file(openapi_docs_t *d, const char *path, util_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return util_error_set(err, OPENAPI_ERR_INVALID, "%s: cannot open the descriptor set", path);
    util_buf_t b = UTIL_BUF_INIT;
    size_t n;
    do {
        if (util_buf_reserve(&b, 65536) != 0)
            break;
        n = fread(b.data + b.len, 1, b.cap - b.len, f);
        b.len += n;
    } while (n != 0);
    int bad = ferror(f) || util_buf_failed(&b);
    fclose(f);
    int rc = bad ? util_error_set(err, OPENAPI_ERR_INVALID, "%s: cannot read the descriptor set", path)
                 : openapi_docs_add_set(d, b.data, b.len, err);
    if (rc != 0 && !bad)
        util_error_prefix(err, "%s", path);
    util_buf_dispose(&b);
    return rc;
}
