/*
 * registry.c — the descriptor registry: loads FileDescriptorSets (parsed with the
 * protobuf-c code generated from descriptor.proto) and builds the run-time type graph of
 * proto.h. Each load is staged: new files are checked (imports present, no duplicate
 * symbols), linked against what is already loaded plus themselves, and only then merged
 * into the registry, so a failed load leaves the registry as it was.
 *
 * The google.api.http rule of a method is extension 72295728 of MethodOptions; protobuf-c
 * keeps extensions it does not know among the options' unknown fields, from where it is
 * unpacked with the code generated from google/api/http.proto.
 */
#include "proto/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/api/http.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "proto/wire.h"
#include "util/arena.h"
#include "util/strmap.h"

#define HTTP_RULE_EXTENSION 72295728

typedef enum sym_kind { SYM_MESSAGE = 1, SYM_ENUM, SYM_SERVICE, SYM_METHOD, SYM_PACKAGE } sym_kind_t;

typedef struct sym {
    sym_kind_t kind;
    const char *file; /* defining file name, for duplicate messages */
    void *ptr;
} sym_t;

typedef struct ptr_vec {
    void **items;
    size_t n, cap;
} ptr_vec_t;

/* One successful load: the unpacked set (its strings are referenced by the graph). */
typedef struct layer {
    Google__Protobuf__FileDescriptorSet *set;
    struct layer *next;
} layer_t;

struct proto_registry {
    util_arena_t arena;
    util_strmap_t symbols; /* full name -> sym_t */
    util_strmap_t files;   /* file name -> loaded FileDescriptorProto */
    ptr_vec_t messages, services;
    layer_t *layers;
};

/* State of one load in progress. */
typedef struct loader {
    proto_registry_t *r;
    util_arena_t arena;
    util_strmap_t symbols, files;
    ptr_vec_t messages, services, enums;
    const char *source;
    util_error_t *err;
} loader_t;

static int vec_push(ptr_vec_t *v, void *p)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 32;
        void **items = realloc(v->items, cap * sizeof(*items));
        if (items == NULL)
            return -1;
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = p;
    return 0;
}

static int vec_append(ptr_vec_t *to, const ptr_vec_t *from)
{
    for (size_t i = 0; i < from->n; i++)
        if (vec_push(to, from->items[i]) != 0)
            return -1;
    return 0;
}

proto_registry_t *proto_registry_new(void)
{
    proto_registry_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    util_arena_init(&r->arena);
    util_strmap_init(&r->symbols);
    util_strmap_init(&r->files);
    return r;
}

void proto_registry_free(proto_registry_t *r)
{
    if (r == NULL)
        return;
    for (layer_t *l = r->layers, *next; l != NULL; l = next) {
        next = l->next;
        google__protobuf__file_descriptor_set__free_unpacked(l->set, NULL);
        free(l);
    }
    util_strmap_dispose(&r->symbols);
    util_strmap_dispose(&r->files);
    free(r->messages.items);
    free(r->services.items);
    util_arena_dispose(&r->arena);
    free(r);
}

/* ------------------------------------------------------------------------------------- */

static const sym_t *sym_lookup(const loader_t *ld, const char *name, size_t len)
{
    const sym_t *s = util_strmap_get(&ld->symbols, name, len);
    if (s == NULL)
        s = util_strmap_get(&ld->r->symbols, name, len);
    return s;
}

static char *join_name(loader_t *ld, const char *scope, const char *name)
{
    size_t a = strlen(scope), b = strlen(name);
    char *s = util_arena_alloc(&ld->arena, a + b + 2);
    if (s == NULL)
        return NULL;
    if (a != 0) {
        memcpy(s, scope, a);
        s[a++] = '.';
    }
    memcpy(s + a, name, b + 1);
    return s;
}

static int nomem(loader_t *ld)
{
    return util_error_set(ld->err, PROTO_ERR_NOMEM, "out of memory loading %s", ld->source);
}

static int sym_define(loader_t *ld, const char *full_name, sym_kind_t kind, const char *file, void *ptr)
{
    const sym_t *old = sym_lookup(ld, full_name, strlen(full_name));
    if (old != NULL) {
        if (kind == SYM_PACKAGE && old->kind == SYM_PACKAGE)
            return 0;
        return util_error_set(ld->err, PROTO_ERR_DUPLICATE, "%s: \"%s\" is defined twice (in %s and in %s)", ld->source,
                              full_name, old->file, file);
    }
    sym_t *s = util_arena_alloc(&ld->arena, sizeof(*s));
    if (s == NULL)
        return nomem(ld);
    s->kind = kind;
    s->file = file;
    s->ptr = ptr;
    if (util_strmap_put(&ld->symbols, full_name, s) != 0)
        return nomem(ld);
    return 0;
}

static proto_wkt_t wkt_of(const char *full_name)
{
    static const struct {
        const char *name;
        proto_wkt_t wkt;
    } table[] = {
        {"google.protobuf.Any", PROTO_WKT_ANY},
        {"google.protobuf.Timestamp", PROTO_WKT_TIMESTAMP},
        {"google.protobuf.Duration", PROTO_WKT_DURATION},
        {"google.protobuf.FieldMask", PROTO_WKT_FIELD_MASK},
        {"google.protobuf.Struct", PROTO_WKT_STRUCT},
        {"google.protobuf.Value", PROTO_WKT_VALUE},
        {"google.protobuf.ListValue", PROTO_WKT_LIST_VALUE},
        {"google.protobuf.Empty", PROTO_WKT_EMPTY},
        {"google.protobuf.DoubleValue", PROTO_WKT_DOUBLE_VALUE},
        {"google.protobuf.FloatValue", PROTO_WKT_FLOAT_VALUE},
        {"google.protobuf.Int64Value", PROTO_WKT_INT64_VALUE},
        {"google.protobuf.UInt64Value", PROTO_WKT_UINT64_VALUE},
        {"google.protobuf.Int32Value", PROTO_WKT_INT32_VALUE},
        {"google.protobuf.UInt32Value", PROTO_WKT_UINT32_VALUE},
        {"google.protobuf.BoolValue", PROTO_WKT_BOOL_VALUE},
        {"google.protobuf.StringValue", PROTO_WKT_STRING_VALUE},
        {"google.protobuf.BytesValue", PROTO_WKT_BYTES_VALUE},
    };
    if (strncmp(full_name, "google.protobuf.", 16) != 0)
        return PROTO_WKT_NONE;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(full_name, table[i].name) == 0)
            return table[i].wkt;
    return PROTO_WKT_NONE;
}

/* protoc's ToJsonName: drop '_' and upper-case the letter after it. */
static char *json_name_of(loader_t *ld, const char *name)
{
    size_t n = strlen(name);
    char *s = util_arena_alloc(&ld->arena, n + 1);
    if (s == NULL)
        return NULL;
    size_t j = 0;
    int upper = 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '_') {
            upper = 1;
        } else {
            s[j++] = upper && name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 32) : name[i];
            upper = 0;
        }
    }
    s[j] = '\0';
    return s;
}

/* Phase 1: create the objects of one file and define their names. */

static int declare_enum(loader_t *ld, const proto_file_t *file, const char *scope, Google__Protobuf__EnumDescriptorProto *ep)
{
    proto_enum_t *e = util_arena_alloc(&ld->arena, sizeof(*e));
    if (e == NULL || (e->full_name = join_name(ld, scope, ep->name)) == NULL)
        return nomem(ld);
    e->file = file;
    e->closed = !file->proto3;
    e->null_value = strcmp(e->full_name, "google.protobuf.NullValue") == 0;
    if (ep->n_value == 0)
        return util_error_set(ld->err, PROTO_ERR_INVALID, "%s: enum %s has no values", ld->source, e->full_name);
    proto_enum_value_t *values = util_arena_alloc(&ld->arena, ep->n_value * sizeof(*values));
    const proto_enum_value_t **by_number = util_arena_alloc(&ld->arena, ep->n_value * sizeof(*by_number));
    if (values == NULL || by_number == NULL)
        return nomem(ld);
    for (size_t i = 0; i < ep->n_value; i++) {
        values[i].name = ep->value[i]->name;
        values[i].number = ep->value[i]->number;
        /* insertion sort by number, keeping the first of equal numbers (aliases) */
        size_t j = e->_n_by_number;
        while (j > 0 && by_number[j - 1]->number > values[i].number)
            j--;
        if (j > 0 && by_number[j - 1]->number == values[i].number)
            continue;
        memmove(by_number + j + 1, by_number + j, (e->_n_by_number - j) * sizeof(*by_number));
        by_number[j] = &values[i];
        e->_n_by_number++;
    }
    e->values = values;
    e->n_values = ep->n_value;
    e->_by_number = by_number;
    if (vec_push(&ld->enums, e) != 0)
        return nomem(ld);
    return sym_define(ld, e->full_name, SYM_ENUM, file->name, e);
}

static int declare_message(loader_t *ld, const proto_file_t *file, const char *scope, Google__Protobuf__DescriptorProto *dp)
{
    proto_message_t *m = util_arena_alloc(&ld->arena, sizeof(*m));
    if (m == NULL || (m->full_name = join_name(ld, scope, dp->name)) == NULL)
        return nomem(ld);
    m->name = dp->name;
    m->file = file;
    m->wkt = wkt_of(m->full_name);
    m->map_entry = dp->options != NULL && dp->options->has_map_entry && dp->options->map_entry;
    /* the descriptor is kept in the slot for fields until phase 2 links it */
    m->fields = (proto_field_t *)(void *)dp;
    if (vec_push(&ld->messages, m) != 0)
        return nomem(ld);
    if (sym_define(ld, m->full_name, SYM_MESSAGE, file->name, m) != 0)
        return -1;
    for (size_t i = 0; i < dp->n_nested_type; i++)
        if (declare_message(ld, file, m->full_name, dp->nested_type[i]) != 0)
            return -1;
    for (size_t i = 0; i < dp->n_enum_type; i++)
        if (declare_enum(ld, file, m->full_name, dp->enum_type[i]) != 0)
            return -1;
    return 0;
}

static int declare_service(loader_t *ld, const proto_file_t *file, Google__Protobuf__ServiceDescriptorProto *sp)
{
    proto_service_t *s = util_arena_alloc(&ld->arena, sizeof(*s));
    if (s == NULL || (s->full_name = join_name(ld, file->package, sp->name)) == NULL)
        return nomem(ld);
    s->name = sp->name;
    s->file = file;
    proto_method_t *methods = util_arena_alloc(&ld->arena, (sp->n_method ? sp->n_method : 1) * sizeof(*methods));
    if (methods == NULL)
        return nomem(ld);
    s->methods = methods;
    s->n_methods = sp->n_method;
    for (size_t i = 0; i < sp->n_method; i++) {
        proto_method_t *mt = &methods[i];
        mt->name = sp->method[i]->name;
        mt->service = s;
        if ((mt->full_name = join_name(ld, s->full_name, mt->name)) == NULL)
            return nomem(ld);
        size_t a = strlen(s->full_name), b = strlen(mt->name);
        char *path = util_arena_alloc(&ld->arena, a + b + 3);
        if (path == NULL)
            return nomem(ld);
        snprintf(path, a + b + 3, "/%s/%s", s->full_name, mt->name);
        mt->grpc_path = path;
        /* linked in phase 2; keep the descriptor meanwhile */
        mt->input = (const proto_message_t *)(void *)sp->method[i];
        if (sym_define(ld, mt->full_name, SYM_METHOD, file->name, mt) != 0)
            return -1;
    }
    if (vec_push(&ld->services, s) != 0)
        return nomem(ld);
    return sym_define(ld, s->full_name, SYM_SERVICE, file->name, s);
}

static int declare_file(loader_t *ld, Google__Protobuf__FileDescriptorProto *fp)
{
    proto_file_t *file = util_arena_alloc(&ld->arena, sizeof(*file));
    if (file == NULL)
        return nomem(ld);
    file->name = fp->name;
    file->package = fp->package != NULL ? fp->package : "";
    file->proto3 = fp->syntax != NULL && strcmp(fp->syntax, "proto3") == 0;
    /* each prefix of the package is a namespace (so a message can't be named like a package) */
    if (file->package[0] != '\0') {
        char *pkg = util_arena_strdup(&ld->arena, file->package);
        if (pkg == NULL)
            return nomem(ld);
        for (char *dot = pkg;; dot++) {
            if (*dot == '.' || *dot == '\0') {
                char c = *dot;
                char *prefix = util_arena_strndup(&ld->arena, pkg, (size_t)(dot - pkg));
                if (prefix == NULL)
                    return nomem(ld);
                if (sym_define(ld, prefix, SYM_PACKAGE, file->name, NULL) != 0)
                    return -1;
                if (c == '\0')
                    break;
            }
        }
    }
    for (size_t i = 0; i < fp->n_message_type; i++)
        if (declare_message(ld, file, file->package, fp->message_type[i]) != 0)
            return -1;
    for (size_t i = 0; i < fp->n_enum_type; i++)
        if (declare_enum(ld, file, file->package, fp->enum_type[i]) != 0)
            return -1;
    for (size_t i = 0; i < fp->n_service; i++)
        if (declare_service(ld, file, fp->service[i]) != 0)
            return -1;
    return 0;
}

/* Phase 2: resolve type names and build fields, lookup tables and http rules. */

/* Resolves |name| as protoc does: absolute when it starts with '.', else from the innermost scope outwards. */
static const sym_t *resolve(loader_t *ld, const char *scope, const char *name)
{
    if (name[0] == '.')
        return sym_lookup(ld, name + 1, strlen(name + 1));
    size_t slen = strlen(scope), nlen = strlen(name);
    char buf[1024];
    if (slen + nlen + 2 > sizeof(buf))
        return NULL;
    for (;;) {
        size_t n = 0;
        if (slen != 0) {
            memcpy(buf, scope, slen);
            buf[slen] = '.';
            n = slen + 1;
        }
        memcpy(buf + n, name, nlen);
        const sym_t *s = sym_lookup(ld, buf, n + nlen);
        if (s != NULL && s->kind != SYM_PACKAGE)
            return s;
        if (slen == 0)
            return NULL;
        while (slen > 0 && scope[slen - 1] != '.')
            slen--;
        if (slen > 0)
            slen--;
    }
}

static uint32_t name_hash_slot(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static int name_hash_insert(proto_message_t *m, const char *name, size_t len, uint32_t value)
{
    for (uint32_t i = name_hash_slot(name, len) & m->_name_hash_mask;; i = (i + 1) & m->_name_hash_mask) {
        uint32_t v = m->_name_hash[i];
        if (v == 0) {
            m->_name_hash[i] = value;
            return 0;
        }
        const proto_field_t *f = &m->fields[v - 1];
        if ((f->name_len == len && memcmp(f->name, name, len) == 0) ||
            (f->json_name_len == len && memcmp(f->json_name, name, len) == 0))
            return v == value ? 0 : -1;
    }
}

static int link_message(loader_t *ld, proto_message_t *m)
{
    Google__Protobuf__DescriptorProto *dp = (Google__Protobuf__DescriptorProto *)(void *)m->fields;
    size_t n = dp->n_field;
    proto_field_t *fields = util_arena_alloc(&ld->arena, (n ? n : 1) * sizeof(*fields));
    if (fields == NULL)
        return nomem(ld);
    m->fields = fields;
    m->n_fields = n;

    /* real oneofs: those with a member that is not proto3 optional */
    int32_t *oneof_map = util_arena_alloc(&ld->arena, (dp->n_oneof_decl + 1) * sizeof(*oneof_map));
    m->oneof_names = util_arena_alloc(&ld->arena, (dp->n_oneof_decl + 1) * sizeof(*m->oneof_names));
    if (oneof_map == NULL || m->oneof_names == NULL)
        return nomem(ld);
    for (size_t i = 0; i < dp->n_oneof_decl; i++)
        oneof_map[i] = -1;
    for (size_t i = 0; i < n; i++) {
        Google__Protobuf__FieldDescriptorProto *fp = dp->field[i];
        if (fp->has_oneof_index && !(fp->has_proto3_optional && fp->proto3_optional)) {
            if (fp->oneof_index < 0 || (size_t)fp->oneof_index >= dp->n_oneof_decl)
                return util_error_set(ld->err, PROTO_ERR_INVALID, "%s: field %s.%s has a bad oneof index", ld->source,
                                      m->full_name, fp->name);
            if (oneof_map[fp->oneof_index] < 0) {
                oneof_map[fp->oneof_index] = (int32_t)m->n_oneofs;
                m->oneof_names[m->n_oneofs++] = dp->oneof_decl[fp->oneof_index]->name;
            }
        }
    }

    uint32_t max_number = 0;
    for (size_t i = 0; i < n; i++) {
        Google__Protobuf__FieldDescriptorProto *fp = dp->field[i];
        proto_field_t *f = &fields[i];
        if (fp->name == NULL || !fp->has_number || fp->number <= 0 || fp->number > 536870911)
            return util_error_set(ld->err, PROTO_ERR_INVALID, "%s: field %u of %s has no valid name or number", ld->source,
                                  (unsigned)i, m->full_name);
        f->name = fp->name;
        f->name_len = strlen(fp->name);
        f->json_name = fp->json_name != NULL ? fp->json_name : json_name_of(ld, fp->name);
        if (f->json_name == NULL)
            return nomem(ld);
        f->json_name_len = strlen(f->json_name);
        f->number = (uint32_t)fp->number;
        f->index = (uint32_t)i;
        f->containing = m;
        f->repeated = fp->has_label && fp->label == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
        f->proto3_optional = fp->has_proto3_optional && fp->proto3_optional;
        f->oneof_index = fp->has_oneof_index && !f->proto3_optional ? oneof_map[fp->oneof_index] : -1;
        f->default_value = fp->default_value;
        if (f->number > max_number)
            max_number = f->number;

        proto_type_t type = fp->has_type ? (proto_type_t)fp->type : 0;
        if (fp->type_name != NULL && fp->type_name[0] != '\0') {
            const sym_t *s = resolve(ld, m->full_name, fp->type_name);
            if (s == NULL || (s->kind != SYM_MESSAGE && s->kind != SYM_ENUM))
                return util_error_set(ld->err, PROTO_ERR_UNRESOLVED,
                                      "%s: field %s.%s has type \"%s\", which is not defined in the loaded descriptors",
                                      ld->source, m->full_name, f->name, fp->type_name);
            if (s->kind == SYM_ENUM) {
                f->enum_type = s->ptr;
                type = PROTO_TYPE_ENUM;
            } else {
                f->message = s->ptr;
                if (type != PROTO_TYPE_GROUP)
                    type = PROTO_TYPE_MESSAGE;
            }
        }
        if (type < PROTO_TYPE_DOUBLE || type > PROTO_TYPE_SINT64 ||
            ((type == PROTO_TYPE_MESSAGE || type == PROTO_TYPE_GROUP) && f->message == NULL) ||
            (type == PROTO_TYPE_ENUM && f->enum_type == NULL))
            return util_error_set(ld->err, PROTO_ERR_INVALID, "%s: field %s.%s has no valid type", ld->source, m->full_name,
                                  f->name);
        f->type = type;
        int scalar = type != PROTO_TYPE_STRING && type != PROTO_TYPE_BYTES && type != PROTO_TYPE_MESSAGE &&
                     type != PROTO_TYPE_GROUP;
        if (f->repeated && scalar) {
            if (fp->options != NULL && fp->options->has_packed)
                f->packed = fp->options->packed;
            else
                f->packed = m->file->proto3;
        }
        f->is_map = f->repeated && f->message != NULL && f->message->map_entry;
        f->has_presence = !f->repeated && (f->message != NULL || f->oneof_index >= 0 || f->proto3_optional ||
                                           !m->file->proto3);
    }

    /* lookup by number: dense when the numbers are compact, else sorted for binary search */
    if (max_number <= 2 * n + 32) {
        m->_dense = 1;
        m->_n_by_number = max_number + 1;
        m->_by_number = util_arena_alloc(&ld->arena, (max_number + 1) * sizeof(*m->_by_number));
        if (m->_by_number == NULL)
            return nomem(ld);
        for (size_t i = 0; i < n; i++) {
            if (m->_by_number[fields[i].number] != NULL)
                return util_error_set(ld->err, PROTO_ERR_DUPLICATE, "%s: %s uses field number %u twice", ld->source,
                                      m->full_name, fields[i].number);
            m->_by_number[fields[i].number] = &fields[i];
        }
    } else {
        m->_n_by_number = (uint32_t)n;
        m->_by_number = util_arena_alloc(&ld->arena, n * sizeof(*m->_by_number));
        if (m->_by_number == NULL)
            return nomem(ld);
        for (size_t i = 0; i < n; i++) {
            size_t j = i;
            while (j > 0 && m->_by_number[j - 1]->number > fields[i].number)
                j--;
            if (j > 0 && m->_by_number[j - 1]->number == fields[i].number)
                return util_error_set(ld->err, PROTO_ERR_DUPLICATE, "%s: %s uses field number %u twice", ld->source,
                                      m->full_name, fields[i].number);
            memmove(m->_by_number + j + 1, m->_by_number + j, (i - j) * sizeof(*m->_by_number));
            m->_by_number[j] = &fields[i];
        }
    }

    /* names: proto and json names in one table */
    uint32_t cap = 8;
    while (cap < 4 * n)
        cap *= 2;
    m->_name_hash = util_arena_alloc(&ld->arena, cap * sizeof(*m->_name_hash));
    if (m->_name_hash == NULL)
        return nomem(ld);
    m->_name_hash_mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        if (name_hash_insert(m, fields[i].name, fields[i].name_len, (uint32_t)i + 1) != 0 ||
            name_hash_insert(m, fields[i].json_name, fields[i].json_name_len, (uint32_t)i + 1) != 0)
            return util_error_set(ld->err, PROTO_ERR_DUPLICATE, "%s: %s has two fields named \"%s\" (proto or JSON name)",
                                  ld->source, m->full_name, fields[i].name);
    }
    if (m->map_entry && (n != 2 || fields[0].number != 1 || fields[1].number != 2))
        return util_error_set(ld->err, PROTO_ERR_INVALID, "%s: map entry %s must have fields key = 1 and value = 2",
                              ld->source, m->full_name);
    return 0;
}

static const char *http_pattern(const Google__Api__HttpRule *hr, const char **method)
{
    switch (hr->pattern_case) {
    case GOOGLE__API__HTTP_RULE__PATTERN_GET:
        *method = "GET";
        return hr->get;
    case GOOGLE__API__HTTP_RULE__PATTERN_PUT:
        *method = "PUT";
        return hr->put;
    case GOOGLE__API__HTTP_RULE__PATTERN_POST:
        *method = "POST";
        return hr->post;
    case GOOGLE__API__HTTP_RULE__PATTERN_DELETE:
        *method = "DELETE";
        return hr->delete_;
    case GOOGLE__API__HTTP_RULE__PATTERN_PATCH:
        *method = "PATCH";
        return hr->patch;
    case GOOGLE__API__HTTP_RULE__PATTERN_CUSTOM:
        if (hr->custom == NULL || hr->custom->kind == NULL || hr->custom->kind[0] == '\0')
            return NULL;
        *method = hr->custom->kind;
        return hr->custom->path;
    default:
        return NULL;
    }
}

static int copy_http_rule(loader_t *ld, const proto_method_t *mt, const Google__Api__HttpRule *hr, proto_http_rule_t *out,
                          int top)
{
    const char *method = NULL, *path = http_pattern(hr, &method);
    if (path == NULL || path[0] == '\0')
        return util_error_set(ld->err, PROTO_ERR_INVALID, "%s: method %s: google.api.http rule has no path pattern",
                              ld->source, mt->full_name);
    if (!top && hr->n_additional_bindings != 0)
        return util_error_set(ld->err, PROTO_ERR_INVALID,
                              "%s: method %s: additional_bindings may not contain additional_bindings", ld->source,
                              mt->full_name);
    out->method = util_arena_strdup(&ld->arena, method);
    out->path = util_arena_strdup(&ld->arena, path);
    out->body = util_arena_strdup(&ld->arena, hr->body != NULL ? hr->body : "");
    out->response_body = util_arena_strdup(&ld->arena, hr->response_body != NULL ? hr->response_body : "");
    if (out->method == NULL || out->path == NULL || out->body == NULL || out->response_body == NULL)
        return nomem(ld);
    if (hr->n_additional_bindings != 0) {
        proto_http_rule_t *add = util_arena_alloc(&ld->arena, hr->n_additional_bindings * sizeof(*add));
        if (add == NULL)
            return nomem(ld);
        for (size_t i = 0; i < hr->n_additional_bindings; i++)
            if (copy_http_rule(ld, mt, hr->additional_bindings[i], &add[i], 0) != 0)
                return -1;
        out->additional = add;
        out->n_additional = hr->n_additional_bindings;
    }
    return 0;
}

static int link_http_rule(loader_t *ld, proto_method_t *mt, const Google__Protobuf__MethodOptions *opts)
{
    const ProtobufCMessage *base = &opts->base;
    for (unsigned i = 0; i < base->n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &base->unknown_fields[i];
        if (u->tag != HTTP_RULE_EXTENSION)
            continue;
        if (u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
            return util_error_set(ld->err, PROTO_ERR_INVALID, "%s: method %s: google.api.http option is malformed",
                                  ld->source, mt->full_name);
        /* protobuf-c keeps an unknown length-delimited field with its length prefix */
        const uint8_t *p = u->data, *end = u->data + u->len;
        uint64_t n = 0;
        Google__Api__HttpRule *hr = NULL;
        if (wire_read_varint(&p, end, &n) == 0 && n == (uint64_t)(end - p))
            hr = google__api__http_rule__unpack(NULL, (size_t)n, p);
        if (hr == NULL)
            return util_error_set(ld->err, PROTO_ERR_INVALID, "%s: method %s: google.api.http option cannot be parsed",
                                  ld->source, mt->full_name);
        proto_http_rule_t *rule = util_arena_alloc(&ld->arena, sizeof(*rule));
        int rc = rule == NULL ? nomem(ld) : copy_http_rule(ld, mt, hr, rule, 1);
        google__api__http_rule__free_unpacked(hr, NULL);
        if (rc != 0)
            return -1;
        mt->http = rule; /* a repeated extension field: the last one wins, as in protobuf */
    }
    return 0;
}

static int link_service(loader_t *ld, proto_service_t *s)
{
    for (size_t i = 0; i < s->n_methods; i++) {
        proto_method_t *mt = (proto_method_t *)&s->methods[i];
        const Google__Protobuf__MethodDescriptorProto *mp = (const void *)mt->input;
        const sym_t *in = mp->input_type ? resolve(ld, s->full_name, mp->input_type) : NULL;
        const sym_t *out = mp->output_type ? resolve(ld, s->full_name, mp->output_type) : NULL;
        if (in == NULL || in->kind != SYM_MESSAGE || out == NULL || out->kind != SYM_MESSAGE)
            return util_error_set(ld->err, PROTO_ERR_UNRESOLVED,
                                  "%s: method %s has input or output type \"%s\" / \"%s\", not defined in the loaded descriptors",
                                  ld->source, mt->full_name, mp->input_type ? mp->input_type : "",
                                  mp->output_type ? mp->output_type : "");
        mt->input = in->ptr;
        mt->output = out->ptr;
        mt->client_streaming = mp->has_client_streaming && mp->client_streaming;
        mt->server_streaming = mp->has_server_streaming && mp->server_streaming;
        if (mp->options != NULL) {
            if (mp->options->has_idempotency_level)
                mt->idempotency = (proto_idempotency_t)mp->options->idempotency_level;
            if (link_http_rule(ld, mt, mp->options) != 0)
                return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------- */

static int same_file(const Google__Protobuf__FileDescriptorProto *a, const Google__Protobuf__FileDescriptorProto *b)
{
    /* source_code_info may differ between two sets of the same file (--include_source_info or not): compare without it */
    Google__Protobuf__FileDescriptorProto ca = *a, cb = *b;
    ca.source_code_info = cb.source_code_info = NULL;
    size_t la = protobuf_c_message_get_packed_size(&ca.base), lb = protobuf_c_message_get_packed_size(&cb.base);
    if (la != lb)
        return 0;
    uint8_t *pa = malloc(la + 1), *pb = malloc(lb + 1);
    int same = 0;
    if (pa != NULL && pb != NULL) {
        protobuf_c_message_pack(&ca.base, pa);
        protobuf_c_message_pack(&cb.base, pb);
        same = memcmp(pa, pb, la) == 0;
    }
    free(pa);
    free(pb);
    return same;
}

static void loader_dispose(loader_t *ld)
{
    util_strmap_dispose(&ld->symbols);
    util_strmap_dispose(&ld->files);
    free(ld->messages.items);
    free(ld->services.items);
    free(ld->enums.items);
    util_arena_dispose(&ld->arena);
}

static int load_set(proto_registry_t *r, const uint8_t *data, size_t len, const char *source_name, int lenient,
                    util_error_t *err)
{
    Google__Protobuf__FileDescriptorSet *set = google__protobuf__file_descriptor_set__unpack(NULL, len, data);
    if (set == NULL || set->n_file == 0) {
        if (set != NULL)
            google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
        return util_error_set(err, PROTO_ERR_NOT_A_SET,
                              "%s is not a protobuf descriptor set (make one with protoc --include_imports "
                              "--descriptor_set_out=FILE)",
                              source_name);
    }
    for (size_t i = 0; i < set->n_file; i++) {
        if (set->file[i]->name == NULL || set->file[i]->name[0] == '\0') {
            google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
            return util_error_set(err, PROTO_ERR_NOT_A_SET, "%s is not a protobuf descriptor set (file %zu has no name)",
                                  source_name, i);
        }
    }

    loader_t ld = {.r = r, .source = source_name, .err = err};
    util_arena_init(&ld.arena);
    util_strmap_init(&ld.symbols);
    util_strmap_init(&ld.files);
    int used = 0;

    /* which files are new; identical repeats are skipped, different ones are an error */
    for (size_t i = 0; i < set->n_file; i++) {
        Google__Protobuf__FileDescriptorProto *fp = set->file[i];
        const Google__Protobuf__FileDescriptorProto *old = util_strmap_get(&r->files, fp->name, strlen(fp->name));
        if (old == NULL)
            old = util_strmap_get(&ld.files, fp->name, strlen(fp->name));
        if (old != NULL) {
            if (!lenient && !same_file(old, fp)) {
                util_error_set(err, PROTO_ERR_DUPLICATE, "%s: file %s was already loaded with different contents",
                               source_name, fp->name);
                goto fail;
            }
            continue; /* a repeat: skipped below, since ld.files does not map its name to it */
        }
        if (util_strmap_put(&ld.files, fp->name, fp) != 0) {
            nomem(&ld);
            goto fail;
        }
    }
    for (size_t i = 0; i < set->n_file; i++) {
        Google__Protobuf__FileDescriptorProto *fp = set->file[i];
        if (util_strmap_get(&ld.files, fp->name, strlen(fp->name)) != fp)
            continue; /* already loaded before */
        for (size_t d = 0; d < fp->n_dependency; d++) {
            const char *dep = fp->dependency[d];
            if (util_strmap_get(&ld.files, dep, strlen(dep)) == NULL && util_strmap_get(&r->files, dep, strlen(dep)) == NULL) {
                util_error_set(err, PROTO_ERR_MISSING_IMPORT,
                               "%s: %s imports %s, which is not in the descriptor set (build the set with protoc "
                               "--include_imports)",
                               source_name, fp->name, dep);
                goto fail;
            }
        }
        used = 1;
        if (declare_file(&ld, fp) != 0)
            goto fail;
    }
    for (size_t i = 0; i < ld.messages.n; i++)
        if (link_message(&ld, ld.messages.items[i]) != 0)
            goto fail;
    for (size_t i = 0; i < ld.services.n; i++)
        if (link_service(&ld, ld.services.items[i]) != 0)
            goto fail;

    /* commit */
    if (!used) {
        loader_dispose(&ld);
        google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
        return 0;
    }
    /* everything that can fail is done before the first change to |r| */
    size_t n_messages = r->messages.n, n_services = r->services.n;
    layer_t *layer = malloc(sizeof(*layer));
    if (layer == NULL || util_strmap_reserve(&r->symbols, r->symbols.count + ld.symbols.count) != 0 ||
        util_strmap_reserve(&r->files, r->files.count + ld.files.count) != 0 ||
        vec_append(&r->messages, &ld.messages) != 0 || vec_append(&r->services, &ld.services) != 0) {
        free(layer);
        r->messages.n = n_messages;
        r->services.n = n_services;
        nomem(&ld);
        goto fail;
    }
    for (size_t i = 0; ld.symbols.slots != NULL && i <= ld.symbols.mask; i++) {
        util_strmap_entry_t *e = &ld.symbols.slots[i];
        if (e->key != NULL)
            util_strmap_put(&r->symbols, e->key, e->value); /* cannot fail: reserved */
    }
    for (size_t i = 0; ld.files.slots != NULL && i <= ld.files.mask; i++) {
        util_strmap_entry_t *e = &ld.files.slots[i];
        if (e->key != NULL)
            util_strmap_put(&r->files, e->key, e->value);
    }
    util_arena_merge(&r->arena, &ld.arena);
    layer->set = set;
    layer->next = r->layers;
    r->layers = layer;
    loader_dispose(&ld);
    return 0;

fail:
    loader_dispose(&ld);
    google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
    return -1;
}

int proto_registry_load_buffer(proto_registry_t *r, const uint8_t *data, size_t len, const char *source_name,
                               util_error_t *err)
{
    return load_set(r, data, len, source_name, 0, err);
}

extern const unsigned char portico_builtin_descriptors[];
extern const unsigned long portico_builtin_descriptors_len;

int proto_registry_load_builtin(proto_registry_t *r, util_error_t *err)
{
    return load_set(r, portico_builtin_descriptors, portico_builtin_descriptors_len, "(built-in google.rpc/google.api types)",
                    1, err);
}

int proto_registry_load_file(proto_registry_t *r, const char *path, util_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return util_error_set(err, PROTO_ERR_IO, "cannot open descriptor set %s: %s", path, strerror(errno));
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *p = realloc(data, cap);
            if (p == NULL) {
                free(data);
                fclose(f);
                return util_error_set(err, PROTO_ERR_NOMEM, "out of memory reading %s", path);
            }
            data = p;
        }
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        free(data);
        return util_error_set(err, PROTO_ERR_IO, "cannot read descriptor set %s", path);
    }
    int rc = proto_registry_load_buffer(r, data, len, path, err);
    free(data);
    return rc;
}

/* ------------------------------------------------------------------------------------- */

static void *find_kind(const proto_registry_t *r, const char *name, size_t len, sym_kind_t kind)
{
    if (len > 0 && name[0] == '.') {
        name++;
        len--;
    }
    const sym_t *s = util_strmap_get(&r->symbols, name, len);
    return s != NULL && s->kind == kind ? s->ptr : NULL;
}

const proto_message_t *proto_registry_find_message(const proto_registry_t *r, const char *full_name)
{
    return find_kind(r, full_name, strlen(full_name), SYM_MESSAGE);
}

const proto_enum_t *proto_registry_find_enum(const proto_registry_t *r, const char *full_name)
{
    return find_kind(r, full_name, strlen(full_name), SYM_ENUM);
}

const proto_service_t *proto_registry_find_service(const proto_registry_t *r, const char *full_name)
{
    return find_kind(r, full_name, strlen(full_name), SYM_SERVICE);
}

const proto_method_t *proto_registry_find_method(const proto_registry_t *r, const char *name)
{
    char buf[1024];
    size_t len = strlen(name);
    if (len > 0 && name[0] == '/') {
        name++;
        len--;
    }
    if (len >= sizeof(buf))
        return NULL;
    memcpy(buf, name, len + 1);
    char *slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '.';
    return find_kind(r, buf, len, SYM_METHOD);
}

const proto_message_t *proto_registry_find_type_url(const proto_registry_t *r, const char *url, size_t len)
{
    size_t start = len;
    while (start > 0 && url[start - 1] != '/')
        start--;
    if (start == 0 || start == len)
        return NULL; /* a type URL must have a '/' and a name after it */
    return find_kind(r, url + start, len - start, SYM_MESSAGE);
}

size_t proto_registry_n_services(const proto_registry_t *r)
{
    return r->services.n;
}

const proto_service_t *proto_registry_service_at(const proto_registry_t *r, size_t i)
{
    return i < r->services.n ? r->services.items[i] : NULL;
}

size_t proto_registry_n_messages(const proto_registry_t *r)
{
    return r->messages.n;
}

const proto_message_t *proto_registry_message_at(const proto_registry_t *r, size_t i)
{
    return i < r->messages.n ? r->messages.items[i] : NULL;
}

int proto_message_is_text_wkt(const proto_message_t *m)
{
    switch (m->wkt) {
    case PROTO_WKT_TIMESTAMP:
    case PROTO_WKT_DURATION:
    case PROTO_WKT_FIELD_MASK:
    case PROTO_WKT_DOUBLE_VALUE:
    case PROTO_WKT_FLOAT_VALUE:
    case PROTO_WKT_INT64_VALUE:
    case PROTO_WKT_UINT64_VALUE:
    case PROTO_WKT_INT32_VALUE:
    case PROTO_WKT_UINT32_VALUE:
    case PROTO_WKT_BOOL_VALUE:
    case PROTO_WKT_STRING_VALUE:
    case PROTO_WKT_BYTES_VALUE:
        return 1;
    default:
        return 0;
    }
}

const proto_field_t *proto_message_field_by_number(const proto_message_t *m, uint32_t number)
{
    if (m->_dense)
        return number < m->_n_by_number ? m->_by_number[number] : NULL;
    uint32_t lo = 0, hi = m->_n_by_number;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        uint32_t n = m->_by_number[mid]->number;
        if (n == number)
            return m->_by_number[mid];
        if (n < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const proto_field_t *proto_message_field_by_name(const proto_message_t *m, const char *name, size_t len)
{
    if (m->_name_hash == NULL)
        return NULL;
    for (uint32_t i = name_hash_slot(name, len) & m->_name_hash_mask;; i = (i + 1) & m->_name_hash_mask) {
        uint32_t v = m->_name_hash[i];
        if (v == 0)
            return NULL;
        const proto_field_t *f = &m->fields[v - 1];
        if ((f->json_name_len == len && memcmp(f->json_name, name, len) == 0) ||
            (f->name_len == len && memcmp(f->name, name, len) == 0))
            return f;
    }
}

const proto_enum_value_t *proto_enum_value_by_name(const proto_enum_t *e, const char *name, size_t len)
{
    for (size_t i = 0; i < e->n_values; i++) {
        const char *v = e->values[i].name;
        if (strlen(v) == len && memcmp(v, name, len) == 0)
            return &e->values[i];
    }
    return NULL;
}

const proto_enum_value_t *proto_enum_value_by_number(const proto_enum_t *e, int32_t number)
{
    size_t lo = 0, hi = e->_n_by_number;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int32_t n = e->_by_number[mid]->number;
        if (n == number)
            return e->_by_number[mid];
        if (n < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *codec_type_name(proto_type_t t)
{
    static const char *names[] = {"",        "double", "float",  "int64",  "uint64",   "int32",    "fixed64",
                                  "fixed32", "bool",   "string", "group",  "message",  "bytes",    "uint32",
                                  "enum",    "sfixed32", "sfixed64", "sint32", "sint64"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}
