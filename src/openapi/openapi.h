/*
 * openapi.h — OpenAPI 3.1 documents of the gateway's REST surface, rendered from the
 * descriptor registry and the resolved HTTP bindings (binding_rule_t), plus any composite
 * endpoints (aggregations). One renderer serves two callers: protoc-gen-portico writes the
 * document at build time, and the gateway can render the same document at run time from
 * the routes it actually serves (e.g. for GET /openapi.json).
 *
 * Schemas follow the proto3 JSON mapping, as the codec speaks it: lowerCamelCase property
 * names, 64-bit integers as strings, enums as string enums, bytes as base64, well-known
 * types in their JSON forms (Timestamp a date-time string, Duration "1.5s", FieldMask a
 * comma-separated string, Struct an object, Value anything, wrappers nullable scalars, Any
 * an object with "@type"), maps as additionalProperties, and oneofs as at-most-one-of.
 *
 * The registry keeps no comments, source positions or google.api.field_behavior: those come
 * from an openapi_docs_t built from the same FileDescriptorSet bytes (with source info, as
 * `protoc --include_source_info` or a protoc plugin request gives them). Without docs the
 * document is still complete, only without descriptions, `required` and `readOnly`.
 */
#ifndef PORTICO_OPENAPI_H
#define PORTICO_OPENAPI_H

#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"
#include "transcode/binding.h"
#include "util/buf.h"
#include "util/error.h"

/* ---------------------------------------------------------------------------------------
 * Docs: comments, source positions and field behaviours, by element full name
 */
typedef struct openapi_docs openapi_docs_t;

typedef enum openapi_element_kind {
    OPENAPI_ELEMENT_MESSAGE, /* "pkg.Msg", "pkg.Msg.Nested" */
    OPENAPI_ELEMENT_FIELD,   /* "pkg.Msg.field_name" (proto name) */
    OPENAPI_ELEMENT_ENUM,    /* "pkg.Enum" */
    OPENAPI_ELEMENT_VALUE,   /* "pkg.Enum.VALUE_NAME" (under the enum's name, not its scope) */
    OPENAPI_ELEMENT_SERVICE, /* "pkg.Service" */
    OPENAPI_ELEMENT_METHOD,  /* "pkg.Service.Method" */
} openapi_element_kind_t;

/* Bits of openapi_element_doc_t.flags. */
enum {
    OPENAPI_FLAG_REQUIRED = 1 << 0,    /* google.api.field_behavior REQUIRED, or proto2 `required` */
    OPENAPI_FLAG_OUTPUT_ONLY = 1 << 1, /* field_behavior OUTPUT_ONLY */
    OPENAPI_FLAG_INPUT_ONLY = 1 << 2,  /* field_behavior INPUT_ONLY */
    OPENAPI_FLAG_IMMUTABLE = 1 << 3,   /* field_behavior IMMUTABLE */
    OPENAPI_FLAG_DEPRECATED = 1 << 4,  /* [deprecated = true] on the element */
};

typedef struct openapi_location {
    const char *file; /* "shop/v1/shop.proto"; NULL when unknown */
    int line;         /* 1-based; 0 when the set carries no source info for the element */
    int col;          /* 1-based */
} openapi_location_t;

typedef struct openapi_element_doc {
    const char *comment;      /* leading comment (the trailing one when there is none), cleaned; NULL if none */
    openapi_location_t where; /* the element's declaration */
    openapi_location_t http;  /* methods: the `option (google.api.http)` statement (else the declaration) */
    unsigned flags;           /* OPENAPI_FLAG_* */
} openapi_element_doc_t;

openapi_docs_t *openapi_docs_new(void);
void openapi_docs_free(openapi_docs_t *d);

/*
 * Indexes a serialized google.protobuf.FileDescriptorSet. A file already indexed (by name)
 * is skipped. Returns 0, or -1 with |err| set when the bytes are not a descriptor set.
 */
int openapi_docs_add_set(openapi_docs_t *d, const uint8_t *data, size_t len, util_error_t *err);
/* Same for a descriptor set file. Returns 0, or -1 with |err| naming the file. */
int openapi_docs_add_file(openapi_docs_t *d, const char *path, util_error_t *err);

/* The doc of one element, or NULL when the element is unknown. |d| may be NULL. */
const openapi_element_doc_t *openapi_docs_find(const openapi_docs_t *d, openapi_element_kind_t kind, const char *full_name);

/* ---------------------------------------------------------------------------------------
 * Rendering
 */

/* A composite endpoint (aggregation) to document beside the transcoded methods. */
typedef struct openapi_composite {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* google.api.http style template: "/v1/products/{sku}/summary" */
    const char *operation_id; /* NULL: derived from the method and path */
    const char *summary;      /* may be NULL */
    const char *description;  /* may be NULL */
    const char *tag;          /* NULL: "aggregations" */
    /* JSON Schema text (one JSON object) of the 200 response body; NULL: any JSON object. It may
     * refer to messages as {"$ref": "#/components/schemas/<full name>"}: those are emitted. */
    const char *response_schema;
    const char *request_schema;      /* JSON Schema text of the request body; NULL: no body */
    const char *const *query_params; /* names of string query parameters passed through */
    size_t n_query_params;
} openapi_composite_t;

typedef struct openapi_options {
    const char *title;          /* info.title; NULL: "portico API" */
    const char *version;        /* info.version; NULL: "0.0.0" */
    const char *description;    /* info.description; may be NULL */
    const char *const *servers; /* servers[].url; may be NULL */
    size_t n_servers;
    int proto_names; /* property and query names are proto field names (the codec's proto_names), not lowerCamelCase */
} openapi_options_t;

enum {
    OPENAPI_ERR_INVALID = -950, /* a binding or composite that cannot be rendered (bad template, bad schema JSON) */
    OPENAPI_ERR_NOMEM,
};

/*
 * Renders the OpenAPI 3.1 document (JSON, two-space indent, keys in a stable order, trailing
 * newline) of |bindings| (as resolved by binding_rule_init, in the order given: operations
 * appear in that order) and |composites|, appended to |out|. |docs| and |opt| may be NULL.
 *
 * Operations are named Service_Method (a second binding of the same method gets a "2"
 * suffix, and so on). Templates become OpenAPI paths: a variable with a sub-pattern becomes "{name}" with a
 * `pattern`, and when two bindings of one HTTP method would get the same OpenAPI path, the
 * later one's parameters are renamed "{name_1}" (as grpc-gateway does).
 *
 * Returns 0, or -1 with |err| (OPENAPI_ERR_*) naming the binding or composite at fault.
 */
int openapi_render(const proto_registry_t *r, const openapi_docs_t *docs, const binding_rule_t *const *bindings, size_t n_bindings,
                   const openapi_composite_t *composites, size_t n_composites, const openapi_options_t *opt, util_buf_t *out,
                   util_error_t *err);

#endif
