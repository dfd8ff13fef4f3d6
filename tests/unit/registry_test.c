/*
 * registry_test.c — the descriptor registry: lookups, field facts (json names, packing,
 * presence, oneofs, maps, well-known types, proto2 defaults), http rules, and every load
 * error (not a set, missing import, duplicates), plus "a failed load changes nothing".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/proto.h"
#include "test.h"

static proto_registry_t *load(const char *set)
{
    proto_registry_t *r = proto_registry_new();
    util_error_t err = {0};
    if (proto_registry_load_file(r, test_desc_path(set), &err) != 0) {
        fprintf(stderr, "cannot load %s: %s\n", set, err.message);
        exit(1);
    }
    return r;
}

static const proto_field_t *field(const proto_registry_t *r, const char *msg, const char *name)
{
    const proto_message_t *m = proto_registry_find_message(r, msg);
    if (m == NULL)
        return NULL;
    return proto_message_field_by_name(m, name, strlen(name));
}

/* Builds a descriptor set from |proto_text| with protoc; returns its path. */
static const char *make_set(const char *tag, const char *file_name, const char *proto_text, int include_imports)
{
    static char out[512];
    char dir[256], cmd[2048];
    snprintf(dir, sizeof(dir), "/tmp/portico-registry-test-%d-%s", (int)getpid(), tag);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
    if (system(cmd) != 0)
        return NULL;
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file_name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fputs(proto_text, f);
    fclose(f);
    snprintf(out, sizeof(out), "%s/set.pb", dir);
    snprintf(cmd, sizeof(cmd), "protoc %s -I %s -I /usr/include --descriptor_set_out=%s %s",
             include_imports ? "--include_imports" : "", dir, out, path);
    if (system(cmd) != 0)
        return NULL;
    return out;
}

static void test_lookups(void)
{
    proto_registry_t *r = load("codec_test.pb");
    CHECK(proto_registry_find_message(r, "portico.test.Everything") != NULL);
    CHECK(proto_registry_find_message(r, ".portico.test.Everything") != NULL);
    CHECK(proto_registry_find_message(r, "portico.test.Nope") == NULL);
    CHECK(proto_registry_find_message(r, "portico.test") == NULL); /* a package is not a message */
    CHECK(proto_registry_find_enum(r, "portico.test.Color") != NULL);
    CHECK(proto_registry_find_enum(r, "portico.test.Everything") == NULL);
    CHECK(proto_registry_find_message(r, "google.protobuf.Timestamp") != NULL);

    const proto_message_t *m = proto_registry_find_message(r, "portico.test.Everything");
    CHECK_STR_EQ(m->name, "Everything");
    CHECK_INT_EQ(m->wkt, PROTO_WKT_NONE);
    CHECK_INT_EQ(m->n_oneofs, 1); /* proto3 optional's synthetic oneofs are not listed */
    CHECK_STR_EQ(m->oneof_names[0], "choice");
    CHECK(m->file->proto3);
    CHECK_STR_EQ(m->file->package, "portico.test");

    static const struct {
        const char *msg, *lookup, *name, *json_name;
        uint32_t number;
        proto_type_t type;
        int repeated, packed, is_map, has_presence, proto3_optional, oneof_index;
    } fields[] = {
        {"portico.test.Everything", "snake_case_name", "snake_case_name", "snakeCaseName", 31, PROTO_TYPE_STRING, 0, 0, 0, 0, 0, -1},
        {"portico.test.Everything", "snakeCaseName", "snake_case_name", "snakeCaseName", 31, PROTO_TYPE_STRING, 0, 0, 0, 0, 0, -1},
        {"portico.test.Everything", "renamed_Field", "custom_json", "renamed_Field", 30, PROTO_TYPE_INT32, 0, 0, 0, 0, 0, -1},
        {"portico.test.Everything", "custom_json", "custom_json", "renamed_Field", 30, PROTO_TYPE_INT32, 0, 0, 0, 0, 0, -1},
        {"portico.test.Everything", "fieldWith1Digit", "field_with_1_digit", "fieldWith1Digit", 32, PROTO_TYPE_INT32, 0, 0, 0, 0, 0, -1},
        {"portico.test.Everything", "scalars", "scalars", "scalars", 1, PROTO_TYPE_MESSAGE, 0, 0, 0, 1, 0, -1},
        {"portico.test.Everything", "choiceInt", "choice_int", "choiceInt", 11, PROTO_TYPE_INT32, 0, 0, 0, 1, 0, 0},
        {"portico.test.Everything", "optInt32", "opt_int32", "optInt32", 20, PROTO_TYPE_INT32, 0, 0, 0, 1, 1, -1},
        {"portico.test.Everything", "optEnum", "opt_enum", "optEnum", 22, PROTO_TYPE_ENUM, 0, 0, 0, 1, 1, -1},
        {"portico.test.Repeated", "rInt32", "r_int32", "rInt32", 5, PROTO_TYPE_INT32, 1, 1, 0, 0, 0, -1},
        {"portico.test.Repeated", "rUnpacked", "r_unpacked", "rUnpacked", 20, PROTO_TYPE_INT32, 1, 0, 0, 0, 0, -1},
        {"portico.test.Repeated", "rString", "r_string", "rString", 9, PROTO_TYPE_STRING, 1, 0, 0, 0, 0, -1},
        {"portico.test.Repeated", "rNested", "r_nested", "rNested", 19, PROTO_TYPE_MESSAGE, 1, 0, 0, 0, 0, -1},
        {"portico.test.Repeated", "rEnum", "r_enum", "rEnum", 14, PROTO_TYPE_ENUM, 1, 1, 0, 0, 0, -1},
        {"portico.test.Maps", "mInt64", "m_int64", "mInt64", 3, PROTO_TYPE_MESSAGE, 1, 0, 1, 0, 0, -1},
        {"portico.test.Scalars", "fSint64", "f_sint64", "fSint64", 18, PROTO_TYPE_SINT64, 0, 0, 0, 0, 0, -1},
        {"portico.test2.Legacy", "count", "count", "count", 1, PROTO_TYPE_INT32, 0, 0, 0, 1, 0, -1},
        {"portico.test2.Legacy", "packedNums", "packed_nums", "packedNums", 5, PROTO_TYPE_INT32, 1, 1, 0, 0, 0, -1},
        {"portico.test2.Legacy", "plainNums", "plain_nums", "plainNums", 6, PROTO_TYPE_INT32, 1, 0, 0, 0, 0, -1},
        {"portico.test2.Legacy", "grp", "grp", "grp", 9, PROTO_TYPE_GROUP, 0, 0, 0, 1, 0, -1},
    };
    util_error_t err = {0};
    CHECK_INT_EQ(proto_registry_load_file(r, test_desc_path("codec_proto2.pb"), &err), 0);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const proto_field_t *f = field(r, fields[i].msg, fields[i].lookup);
        if (f == NULL) {
            TEST_FAIL_("field %s.%s not found", fields[i].msg, fields[i].lookup);
            continue;
        }
        CHECK_STR_EQ(f->name, fields[i].name);
        CHECK_STR_EQ(f->json_name, fields[i].json_name);
        CHECK_INT_EQ(f->number, fields[i].number);
        CHECK_INT_EQ(f->type, fields[i].type);
        CHECK_INT_EQ(f->repeated, fields[i].repeated);
        CHECK_INT_EQ(f->packed, fields[i].packed);
        CHECK_INT_EQ(f->is_map, fields[i].is_map);
        CHECK_INT_EQ(f->has_presence, fields[i].has_presence);
        CHECK_INT_EQ(f->proto3_optional, fields[i].proto3_optional);
        CHECK_INT_EQ(f->oneof_index, fields[i].oneof_index);
        CHECK(proto_message_field_by_number(f->containing, f->number) == f);
        CHECK(&f->containing->fields[f->index] == f);
    }
    CHECK(field(r, "portico.test.Everything", "nope") == NULL);
    CHECK(field(r, "portico.test.Everything", "snake_case") == NULL);
    CHECK(proto_message_field_by_number(proto_registry_find_message(r, "portico.test.Everything"), 99) == NULL);
    CHECK(proto_message_field_by_number(proto_registry_find_message(r, "portico.test.Everything"), 0) == NULL);

    /* maps: the entry message, key and value */
    const proto_field_t *mf = field(r, "portico.test.Maps", "m_nested");
    CHECK(mf->message->map_entry);
    CHECK_INT_EQ(mf->message->fields[0].type, PROTO_TYPE_STRING);
    CHECK_STR_EQ(mf->message->fields[1].message->full_name, "portico.test.Nested");

    /* well-known types */
    static const struct {
        const char *field;
        proto_wkt_t wkt;
    } wkts[] = {{"any", PROTO_WKT_ANY},           {"timestamp", PROTO_WKT_TIMESTAMP},
                {"duration", PROTO_WKT_DURATION}, {"fieldMask", PROTO_WKT_FIELD_MASK},
                {"struct", PROTO_WKT_STRUCT},     {"value", PROTO_WKT_VALUE},
                {"listValue", PROTO_WKT_LIST_VALUE}, {"empty", PROTO_WKT_EMPTY},
                {"doubleValue", PROTO_WKT_DOUBLE_VALUE}, {"floatValue", PROTO_WKT_FLOAT_VALUE},
                {"int64Value", PROTO_WKT_INT64_VALUE}, {"uint64Value", PROTO_WKT_UINT64_VALUE},
                {"int32Value", PROTO_WKT_INT32_VALUE}, {"uint32Value", PROTO_WKT_UINT32_VALUE},
                {"boolValue", PROTO_WKT_BOOL_VALUE}, {"stringValue", PROTO_WKT_STRING_VALUE},
                {"bytesValue", PROTO_WKT_BYTES_VALUE}};
    for (size_t i = 0; i < sizeof(wkts) / sizeof(wkts[0]); i++) {
        const proto_field_t *f = field(r, "portico.test.WellKnown", wkts[i].field);
        CHECK(f != NULL && f->message != NULL && f->message->wkt == wkts[i].wkt);
    }
    const proto_field_t *nv = field(r, "portico.test.WellKnown", "nullValue");
    CHECK(nv->enum_type->null_value);
    CHECK(!field(r, "portico.test.Everything", "optEnum")->enum_type->null_value);

    /* enums */
    const proto_enum_t *color = proto_registry_find_enum(r, "portico.test.Color");
    CHECK(!color->closed);
    CHECK_INT_EQ(proto_enum_value_by_name(color, "BLUE", 4)->number, 3);
    CHECK(proto_enum_value_by_name(color, "BLU", 3) == NULL);
    CHECK_INT_EQ(proto_enum_value_by_number(color, -1)->number, -1);
    CHECK_STR_EQ(proto_enum_value_by_number(color, 2)->name, "GREEN");
    CHECK(proto_enum_value_by_number(color, 7) == NULL);
    CHECK(proto_registry_find_enum(r, "portico.test2.Size")->closed);

    /* proto2 defaults as written in the descriptor */
    CHECK_STR_EQ(field(r, "portico.test2.Legacy", "count")->default_value, "42");
    CHECK_STR_EQ(field(r, "portico.test2.Legacy", "label")->default_value, "none");
    CHECK_STR_EQ(field(r, "portico.test2.Legacy", "size")->default_value, "LARGE");
    CHECK_STR_EQ(field(r, "portico.test2.Legacy", "ratio")->default_value, "inf");
    CHECK(field(r, "portico.test2.Legacy", "id")->default_value == NULL);
    CHECK(!proto_registry_find_message(r, "portico.test2.Legacy")->file->proto3);

    /* Any type URLs */
    const char *url = "type.googleapis.com/portico.test.Small";
    CHECK(proto_registry_find_type_url(r, url, strlen(url)) == proto_registry_find_message(r, "portico.test.Small"));
    url = "example.com/a/b/google.protobuf.Duration";
    CHECK(proto_registry_find_type_url(r, url, strlen(url)) != NULL);
    CHECK(proto_registry_find_type_url(r, "portico.test.Small", 18) == NULL);
    CHECK(proto_registry_find_type_url(r, "x/", 2) == NULL);
    CHECK(proto_registry_find_type_url(r, "x/portico.test.Nope", 19) == NULL);

    /* loading the same set again is a no-op, not a duplicate */
    size_t n = proto_registry_n_messages(r);
    CHECK_INT_EQ(proto_registry_load_file(r, test_desc_path("codec_test.pb"), &err), 0);
    CHECK_INT_EQ(proto_registry_n_messages(r), n);
    proto_registry_free(r);
}

static void test_http_rules(void)
{
    proto_registry_t *r = load("http_test.pb");
    const proto_service_t *s = proto_registry_find_service(r, "portico.httptest.Things");
    CHECK(s != NULL);
    CHECK_INT_EQ(s->n_methods, 5);
    CHECK_INT_EQ(proto_registry_n_services(r), 1);
    CHECK(proto_registry_service_at(r, 0) == s);

    const proto_method_t *get = proto_registry_find_method(r, "portico.httptest.Things.GetThing");
    CHECK(get != NULL);
    CHECK(proto_registry_find_method(r, "portico.httptest.Things/GetThing") == get);
    CHECK(proto_registry_find_method(r, "/portico.httptest.Things/GetThing") == get);
    CHECK(proto_registry_find_method(r, "portico.httptest.Things/Nope") == NULL);
    CHECK_STR_EQ(get->grpc_path, "/portico.httptest.Things/GetThing");
    CHECK_STR_EQ(get->input->full_name, "portico.httptest.GetThingRequest");
    CHECK_STR_EQ(get->output->full_name, "portico.httptest.Thing");
    CHECK_INT_EQ(get->idempotency, PROTO_NO_SIDE_EFFECTS);
    CHECK(get->service == s);
    CHECK_STR_EQ(get->http->method, "GET");
    CHECK_STR_EQ(get->http->path, "/v1/{name=things/*}");
    CHECK_STR_EQ(get->http->body, "");
    CHECK_INT_EQ(get->http->n_additional, 2);
    CHECK_STR_EQ(get->http->additional[0].method, "GET");
    CHECK_STR_EQ(get->http->additional[0].path, "/v1/thingsByName/{name}");
    CHECK_STR_EQ(get->http->additional[1].method, "POST");
    CHECK_STR_EQ(get->http->additional[1].body, "*");

    const proto_method_t *upd = proto_registry_find_method(r, "portico.httptest.Things.UpdateThing");
    CHECK_STR_EQ(upd->http->method, "PATCH");
    CHECK_STR_EQ(upd->http->body, "thing");
    CHECK_STR_EQ(upd->http->response_body, "sub");
    CHECK_INT_EQ(upd->idempotency, PROTO_IDEMPOTENCY_UNKNOWN);

    const proto_method_t *head = proto_registry_find_method(r, "portico.httptest.Things.HeadThing");
    CHECK_STR_EQ(head->http->method, "HEAD");
    CHECK_STR_EQ(head->output->full_name, "google.protobuf.Empty");
    CHECK_INT_EQ(head->output->wkt, PROTO_WKT_EMPTY);

    CHECK(proto_registry_find_method(r, "portico.httptest.Things.NoRule")->http == NULL);
    const proto_method_t *watch = proto_registry_find_method(r, "portico.httptest.Things.Watch");
    CHECK(watch->server_streaming);
    CHECK(!watch->client_streaming);
    CHECK_STR_EQ(watch->http->path, "/v1/{name=things/*}:watch");
    proto_registry_free(r);
}

static void test_errors(void)
{
    static const struct {
        const char *name;
        const char *content; /* written to a file and loaded */
        size_t len;
        int code;
        const char *message;
    } bad_files[] = {
        {"empty", "", 0, PROTO_ERR_NOT_A_SET, "is not a protobuf descriptor set"},
        {"json", "{\"file\": []}\n", 13, PROTO_ERR_NOT_A_SET, "is not a protobuf descriptor set"},
        {"garbage", "\xff\xff\xff\xff\xff\xff", 6, PROTO_ERR_NOT_A_SET, "is not a protobuf descriptor set"},
        {"nameless", "\x0a\x02\x12\x00", 4, PROTO_ERR_NOT_A_SET, "has no name"},
    };
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/tmp/portico-registry-test-%d-%s.pb", (int)getpid(), bad_files[i].name);
        FILE *f = fopen(path, "wb");
        fwrite(bad_files[i].content, 1, bad_files[i].len, f);
        fclose(f);
        proto_registry_t *r = proto_registry_new();
        util_error_t err = {0};
        CHECK_INT_EQ(proto_registry_load_file(r, path, &err), -1);
        CHECK_INT_EQ(err.code, bad_files[i].code);
        CHECK_STR_HAS(err.message, bad_files[i].message);
        CHECK_STR_HAS(err.message, path);
        proto_registry_free(r);
        remove(path);
    }

    proto_registry_t *r = proto_registry_new();
    util_error_t err = {0};
    CHECK_INT_EQ(proto_registry_load_file(r, "/nonexistent/x.pb", &err), -1);
    CHECK_INT_EQ(err.code, PROTO_ERR_IO);
    CHECK_STR_HAS(err.message, "/nonexistent/x.pb");

    /* a set built without --include_imports */
    const char *set = make_set("noimports", "a.proto",
                               "syntax = \"proto3\"; package a; import \"google/protobuf/timestamp.proto\";\n"
                               "message A { google.protobuf.Timestamp t = 1; }\n",
                               0);
    CHECK(set != NULL);
    CHECK_INT_EQ(proto_registry_load_file(r, set, &err), -1);
    CHECK_INT_EQ(err.code, PROTO_ERR_MISSING_IMPORT);
    CHECK_STR_HAS(err.message, "--include_imports");
    CHECK_STR_HAS(err.message, "google/protobuf/timestamp.proto");
    CHECK_INT_EQ(proto_registry_n_messages(r), 0);
    /* ... but fine once the import is loaded from another set */
    CHECK_INT_EQ(proto_registry_load_file(r, test_desc_path("codec_test.pb"), &err), 0);
    CHECK_INT_EQ(proto_registry_load_file(r, set, &err), 0);
    CHECK(proto_registry_find_message(r, "a.A") != NULL);
    CHECK(field(r, "a.A", "t")->message == proto_registry_find_message(r, "google.protobuf.Timestamp"));

    /* the same symbol in another file */
    size_t before = proto_registry_n_messages(r);
    set = make_set("dupsym", "b.proto", "syntax = \"proto3\"; package a; message A { int32 x = 1; } message B {}\n", 1);
    CHECK_INT_EQ(proto_registry_load_file(r, set, &err), -1);
    CHECK_INT_EQ(err.code, PROTO_ERR_DUPLICATE);
    CHECK_STR_HAS(err.message, "\"a.A\" is defined twice");
    CHECK_INT_EQ(proto_registry_n_messages(r), before);
    CHECK(proto_registry_find_message(r, "a.B") == NULL); /* nothing of the failed set was kept */

    /* the same file name with other contents */
    set = make_set("dupfile", "a.proto", "syntax = \"proto3\"; package a2; message Other {}\n", 1);
    CHECK_INT_EQ(proto_registry_load_file(r, set, &err), -1);
    CHECK_INT_EQ(err.code, PROTO_ERR_DUPLICATE);
    CHECK_STR_HAS(err.message, "a.proto was already loaded with different contents");
    CHECK(proto_registry_find_message(r, "a2.Other") == NULL);
    proto_registry_free(r);
}

static void test_builtin(void)
{
    /* after a user set that already has google/protobuf/any.proto etc. */
    proto_registry_t *r = load("codec_test.pb");
    util_error_t err = {0};
    CHECK_INT_EQ(proto_registry_load_builtin(r, &err), 0);
    CHECK(proto_registry_find_message(r, "google.rpc.Status") != NULL);
    CHECK(proto_registry_find_message(r, "google.rpc.BadRequest.FieldViolation") != NULL);
    CHECK(proto_registry_find_message(r, "google.api.HttpBody") != NULL);
    CHECK(proto_registry_find_enum(r, "google.rpc.Code") != NULL);
    CHECK(proto_registry_find_message(r, "portico.test.Everything") != NULL);
    /* twice is harmless */
    CHECK_INT_EQ(proto_registry_load_builtin(r, &err), 0);
    proto_registry_free(r);
}

int main(void)
{
    test_builtin();
    test_lookups();
    test_http_rules();
    test_errors();
    return test_summary();
}
