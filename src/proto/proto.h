/*
 * proto.h — public face of src/proto: the descriptor registry and the proto3 JSON codec.
 *
 * The registry loads FileDescriptorSets (protoc --include_imports --descriptor_set_out)
 * and turns them into the run-time type graph below: every message, field, enum, service
 * and method resolved by full name, with the google.api.http rule of each method. The
 * graph is read-only once loaded and is shared by all worker threads without locks.
 *
 * The codec converts between the protobuf wire format and JSON for any message of the
 * registry, following the proto3 JSON mapping (well-known types included). It works on the
 * wire format directly (no per-type generated code, no intermediate message object): JSON
 * is tokenized and written out as wire bytes, and wire bytes are scanned and printed as JSON.
 */
#ifndef PORTICO_PROTO_H
#define PORTICO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

/* Field types, numbered as google.protobuf.FieldDescriptorProto.Type. */
typedef enum proto_type {
    PROTO_TYPE_DOUBLE = 1,
    PROTO_TYPE_FLOAT = 2,
    PROTO_TYPE_INT64 = 3,
    PROTO_TYPE_UINT64 = 4,
    PROTO_TYPE_INT32 = 5,
    PROTO_TYPE_FIXED64 = 6,
    PROTO_TYPE_FIXED32 = 7,
    PROTO_TYPE_BOOL = 8,
    PROTO_TYPE_STRING = 9,
    PROTO_TYPE_GROUP = 10,
    PROTO_TYPE_MESSAGE = 11,
    PROTO_TYPE_BYTES = 12,
    PROTO_TYPE_UINT32 = 13,
    PROTO_TYPE_ENUM = 14,
    PROTO_TYPE_SFIXED32 = 15,
    PROTO_TYPE_SFIXED64 = 16,
    PROTO_TYPE_SINT32 = 17,
    PROTO_TYPE_SINT64 = 18,
} proto_type_t;

/* Well-known types that have a special JSON form. */
typedef enum proto_wkt {
    PROTO_WKT_NONE = 0,
    PROTO_WKT_ANY,
    PROTO_WKT_TIMESTAMP,
    PROTO_WKT_DURATION,
    PROTO_WKT_FIELD_MASK,
    PROTO_WKT_STRUCT,
    PROTO_WKT_VALUE,
    PROTO_WKT_LIST_VALUE,
    PROTO_WKT_EMPTY,
    PROTO_WKT_DOUBLE_VALUE,
    PROTO_WKT_FLOAT_VALUE,
    PROTO_WKT_INT64_VALUE,
    PROTO_WKT_UINT64_VALUE,
    PROTO_WKT_INT32_VALUE,
    PROTO_WKT_UINT32_VALUE,
    PROTO_WKT_BOOL_VALUE,
    PROTO_WKT_STRING_VALUE,
    PROTO_WKT_BYTES_VALUE,
} proto_wkt_t;

typedef struct proto_file proto_file_t;
typedef struct proto_message proto_message_t;
typedef struct proto_enum proto_enum_t;
typedef struct proto_service proto_service_t;

struct proto_file {
    const char *name;    /* "shop/v1/shop.proto" */
    const char *package; /* "shop.v1" or "" */
    int proto3;          /* syntax = "proto3" */
};

typedef struct proto_enum_value {
    const char *name;
    int32_t number;
} proto_enum_value_t;

struct proto_enum {
    const char *full_name; /* "shop.v1.Currency" */
    const proto_enum_value_t *values;
    size_t n_values; /* declaration order; the first value is the default */
    int closed;      /* proto2 enum (unknown numbers are unknown fields on the wire) */
    int null_value;  /* this is google.protobuf.NullValue ("null" in JSON) */
    const proto_file_t *file;
    /* private */
    const proto_enum_value_t **_by_number; /* sorted by number, first of equal numbers kept */
    size_t _n_by_number;
};

typedef struct proto_field {
    const char *name; /* proto name: "unit_price" */
    size_t name_len;
    const char *json_name; /* lowerCamelCase or the json_name option: "unitPrice" */
    size_t json_name_len;
    uint32_t number;
    uint32_t index; /* position in containing->fields */
    proto_type_t type;
    uint8_t repeated;     /* label REPEATED (maps too) */
    uint8_t packed;       /* repeated scalar written packed on output */
    uint8_t is_map;       /* repeated map-entry message */
    uint8_t has_presence; /* singular message, oneof member, proto3 optional, proto2 optional */
    uint8_t proto3_optional;
    int32_t oneof_index;            /* index into containing->oneof_names, -1 if none (proto3 optional excluded) */
    const proto_message_t *message; /* MESSAGE / GROUP */
    const proto_enum_t *enum_type;  /* ENUM */
    const char *default_value;      /* proto2 [default = ...] text as in the descriptor, or NULL */
    const proto_message_t *containing;
} proto_field_t;

struct proto_message {
    const char *full_name; /* "shop.v1.Price" */
    const char *name;      /* "Price" */
    proto_field_t *fields;
    size_t n_fields; /* declaration order */
    const char **oneof_names;
    size_t n_oneofs; /* real oneofs only (proto3 optional's synthetic oneofs are not listed) */
    proto_wkt_t wkt;
    int map_entry; /* fields[0] is the key (number 1), fields[1] the value (number 2) */
    const proto_file_t *file;
    /* private lookup tables */
    proto_field_t **_by_number; /* dense (index = number) when _dense, else sorted by number */
    uint32_t _n_by_number;
    int _dense;
    uint32_t *_name_hash; /* open addressing over proto and json names: (field index + 1), 0 = empty */
    uint32_t _name_hash_mask;
};

typedef struct proto_http_rule {
    const char *method;        /* "GET", "PUT", "POST", "DELETE", "PATCH", or the custom kind as written ("HEAD", "*") */
    const char *path;          /* path template */
    const char *body;          /* "" (no body), "*" or a top-level field name */
    const char *response_body; /* "" or a top-level field name */
    const struct proto_http_rule *additional; /* additional_bindings (one level deep) */
    size_t n_additional;
} proto_http_rule_t;

typedef enum proto_idempotency {
    PROTO_IDEMPOTENCY_UNKNOWN = 0,
    PROTO_NO_SIDE_EFFECTS = 1,
    PROTO_IDEMPOTENT = 2,
} proto_idempotency_t;

typedef struct proto_method {
    const char *name;      /* "GetPrice" */
    const char *full_name; /* "shop.v1.PriceService.GetPrice" */
    const char *grpc_path; /* "/shop.v1.PriceService/GetPrice" */
    const proto_message_t *input;
    const proto_message_t *output;
    int client_streaming;
    int server_streaming;
    proto_idempotency_t idempotency;
    const proto_http_rule_t *http; /* the google.api.http rule, NULL when the method has none */
    const proto_service_t *service;
} proto_method_t;

struct proto_service {
    const char *full_name; /* "shop.v1.PriceService" */
    const char *name;
    const proto_method_t *methods;
    size_t n_methods;
    const proto_file_t *file;
};

/* ---------------------------------------------------------------------------------------
 * Registry
 */
typedef struct proto_registry proto_registry_t;

enum {
    PROTO_ERR_IO = -600,      /* file cannot be read */
    PROTO_ERR_NOT_A_SET,      /* bytes are not a FileDescriptorSet */
    PROTO_ERR_MISSING_IMPORT, /* a dependency is not in the set (use --include_imports) */
    PROTO_ERR_DUPLICATE,      /* a symbol or file is defined twice, differently */
    PROTO_ERR_UNRESOLVED,     /* a type reference names nothing */
    PROTO_ERR_INVALID,        /* a descriptor is malformed (bad http rule, bad field, ...) */
    PROTO_ERR_NOMEM,
};

proto_registry_t *proto_registry_new(void);
void proto_registry_free(proto_registry_t *r);
/*
 * Loads one FileDescriptorSet file (or a buffer holding one). Files already loaded with
 * identical contents are skipped, so several sets may share the google/protobuf files.
 * Returns 0, or -1 with |err| set (code one of PROTO_ERR_*); on failure the registry is
 * left exactly as it was before the call.
 */
int proto_registry_load_file(proto_registry_t *r, const char *path, util_error_t *err);
int proto_registry_load_buffer(proto_registry_t *r, const uint8_t *data, size_t len, const char *source_name, util_error_t *err);

/*
 * Loads the types the gateway itself needs (google.rpc.Status, google.rpc error details,
 * google.api.HttpBody, google.api annotations, with their imports), compiled in. Files the
 * registry already has by name are kept as they are. Call it after the user's sets.
 * Returns 0, or -1 when the user's sets define the same symbols in other files.
 */
int proto_registry_load_builtin(proto_registry_t *r, util_error_t *err);

const proto_message_t *proto_registry_find_message(const proto_registry_t *r, const char *full_name);
const proto_enum_t *proto_registry_find_enum(const proto_registry_t *r, const char *full_name);
const proto_service_t *proto_registry_find_service(const proto_registry_t *r, const char *full_name);
/* Accepts "pkg.Service.Method", "pkg.Service/Method" and "/pkg.Service/Method". */
const proto_method_t *proto_registry_find_method(const proto_registry_t *r, const char *name);
/* Resolves an Any type URL ("type.googleapis.com/pkg.Msg": the part after the last '/'). */
const proto_message_t *proto_registry_find_type_url(const proto_registry_t *r, const char *url, size_t len);

/* Iteration over everything loaded, in load order. */
size_t proto_registry_n_services(const proto_registry_t *r);
const proto_service_t *proto_registry_service_at(const proto_registry_t *r, size_t i);
size_t proto_registry_n_messages(const proto_registry_t *r);
const proto_message_t *proto_registry_message_at(const proto_registry_t *r, size_t i);

/* Non-zero for the well-known types whose JSON form is one string or bare scalar (Timestamp,
   Duration, FieldMask, the wrappers): settable from one URL path or query value. */
int proto_message_is_text_wkt(const proto_message_t *m);

const proto_field_t *proto_message_field_by_number(const proto_message_t *m, uint32_t number);
/* Looks a field up by its JSON name or its proto name (the JSON parser accepts both). */
const proto_field_t *proto_message_field_by_name(const proto_message_t *m, const char *name, size_t len);
const proto_enum_value_t *proto_enum_value_by_name(const proto_enum_t *e, const char *name, size_t len);
const proto_enum_value_t *proto_enum_value_by_number(const proto_enum_t *e, int32_t number);

/* ---------------------------------------------------------------------------------------
 * Codec
 */
typedef struct codec_options {
    uint8_t emit_defaults;  /* print fields that hold their default value (not for oneofs/optional/messages) */
    uint8_t proto_names;    /* print proto field names instead of lowerCamelCase json names */
    uint8_t enum_ints;      /* print enums as numbers */
    uint8_t ignore_unknown; /* JSON input: skip unknown fields and unknown enum names instead of failing */
    uint32_t max_depth;     /* nesting limit; 0 = CODEC_DEFAULT_MAX_DEPTH, at most CODEC_MAX_DEPTH_LIMIT. Printing counts
                               nested messages; parsing counts nested JSON objects and arrays, so a printed document
                               can nest up to 2 * max_depth + 1 containers (repeated and map fields add one each) */
    size_t max_input;       /* input size limit in bytes; 0 = CODEC_DEFAULT_MAX_INPUT */
    /* pb_to_json only: when non-NULL, the printer also appends the outline of what it prints
     * here (codec_outline_event_t entries, see below). */
    util_buf_t *outline;
    /* pb_to_json only: when non-NULL, only the fields i of the printed message (not of the
     * messages inside it) with only_fields[i] != 0 are printed, as if the others were absent
     * (a oneof's member is still chosen among all). A composite call whose reply is cut down
     * to a few members anyway prints just those. */
    const uint8_t *only_fields;
} codec_options_t;

/*
 * The outline of a printed JSON document: its structure as events, in document order, with
 * the byte offsets of keys and values in the printed text (from where printing started), so
 * that a caller who wants the document as a tree (the composite engine) builds it without
 * lexing the text again. OBJECT and ARRAY open a container and END closes it; an object holds
 * KEY, value pairs. KEY and SCALAR cover a quoted key or a scalar value as printed (a string
 * with its quotes); RAW covers a value printed by a well-known type's own rules (Timestamp,
 * Struct, Any ...), whose text the caller parses. Offsets fit in 32 bits; a longer output
 * marks the outline buffer failed, and so does running out of memory.
 */
enum {
    CODEC_OUTLINE_OBJECT = 1,
    CODEC_OUTLINE_ARRAY,
    CODEC_OUTLINE_END,
    CODEC_OUTLINE_KEY,
    CODEC_OUTLINE_SCALAR,
    CODEC_OUTLINE_RAW,
};

/* Flag on a KEY, SCALAR or RAW event whose text is a string: the printer escaped nothing in it. */
#define CODEC_OUTLINE_NO_ESCAPES 0x100u

typedef struct codec_outline_event {
    uint32_t kind; /* CODEC_OUTLINE_*, with CODEC_OUTLINE_NO_ESCAPES */
    uint32_t off;  /* KEY, SCALAR, RAW: first byte in the printed text */
    uint32_t len;  /* KEY, SCALAR, RAW: bytes */
} codec_outline_event_t;

#define CODEC_DEFAULT_MAX_DEPTH 100
/* Both directions recurse once per level: a larger max_depth is clamped to this, which keeps a
   worst-case document well inside a worker thread's stack (sanitizer builds included). */
#define CODEC_MAX_DEPTH_LIMIT 1000
#define CODEC_DEFAULT_MAX_INPUT ((size_t)64 << 20)

enum {
    CODEC_ERR_SYNTAX = -700, /* malformed JSON */
    CODEC_ERR_TYPE,          /* a JSON value of the wrong kind for the field */
    CODEC_ERR_RANGE,         /* a number out of the field's range, bad timestamp/duration value */
    CODEC_ERR_UNKNOWN_FIELD, /* unknown JSON field or enum name */
    CODEC_ERR_ONEOF,         /* two members of one oneof set */
    CODEC_ERR_DEPTH,         /* nesting deeper than max_depth */
    CODEC_ERR_SIZE,          /* input larger than max_input */
    CODEC_ERR_UTF8,          /* invalid UTF-8 in a JSON document or a string field */
    CODEC_ERR_WIRE,          /* malformed protobuf wire data */
    CODEC_ERR_ANY,           /* Any with a missing or unresolvable type URL */
    CODEC_ERR_NOMEM,
};

/*
 * Parses JSON text for message |m| and appends its wire encoding to |out|.
 * Returns 0, or -1 with |err| naming the field path and the problem, e.g.
 * `field "items[1].quantity": 1.5 is not an integer`. On failure |out| may hold partial
 * output past its original length; the caller discards it.
 */
int codec_json_to_pb(const proto_registry_t *r, const proto_message_t *m, const char *json, size_t len, const codec_options_t *opt,
                     util_buf_t *out, util_error_t *err);

/*
 * Prints the wire bytes of message |m| as JSON, appended to |out|. Unknown fields are
 * skipped. Returns 0, or -1 with |err| set (CODEC_ERR_WIRE naming the byte offset).
 */
int codec_pb_to_json(const proto_registry_t *r, const proto_message_t *m, const uint8_t *pb, size_t len, const codec_options_t *opt,
                     util_buf_t *out, util_error_t *err);

/*
 * Encodes one value of field |f| given in its text form, as found in URL path variables
 * and query parameters: strings raw, numbers/bools/enums as in JSON without quotes, bytes
 * as base64, and Timestamp, Duration, FieldMask and wrapper fields in their JSON string
 * forms. Appends tag + value to |out|. Returns 0, or -1 with |err| set.
 */
int codec_text_to_pb(const proto_registry_t *r, const proto_field_t *f, const char *text, size_t len, util_buf_t *out,
                     util_error_t *err);

const char *codec_type_name(proto_type_t t); /* "int32", "string", ... */

#endif
