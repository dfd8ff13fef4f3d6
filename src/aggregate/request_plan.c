/*
 * request_plan.c — gRPC requests of composite calls encoded straight into protobuf, for the
 * common templates such as {"sku": "{id}", "currency": "{query.currency}", "quantity": 1}:
 * constants are encoded once at load, and each reference's string is written as its field.
 * The general path renders the template to a value, writes it as JSON text and encodes that
 * with the codec; for these templates it gives the same message, at several times the cost.
 * See aggregate_int.h for which templates qualify.
 */
#include "aggregate/aggregate_int.h"

#include <string.h>

#include "proto/wire.h"
#include "util/utf8.h"

/* The field a template key names (JSON or proto name), if it is one the plan can fill. */
static const proto_field_t *plain_field(const proto_message_t *m, const char *key)
{
    const proto_field_t *f = proto_message_field_by_name(m, key, strlen(key));
    return f != NULL && !f->repeated && f->oneof_index < 0 ? f : NULL;
}

/* Encodes {"key": value} (or |value| itself, an object, when |key| is NULL) with the codec
 * (constants are checked against the message already). Returns 0, 1 when the codec refuses it,
 * -1 when out of memory. */
static int encode_constant(aggregate_ctx_t *ctx, const proto_registry_t *r, const proto_message_t *m, const char *key,
                           const aggregate_value_t *value, aggregate_request_piece_t *piece)
{
    util_buf_t json = UTIL_BUF_INIT, pb = UTIL_BUF_INIT;
    util_error_t err = {0};
    aggregate_value_t *obj = key != NULL ? aggregate_value_object(ctx->arena, 1) : NULL;
    const aggregate_value_t *doc = key != NULL ? obj : value;
    int rc = -1;
    if (key == NULL || (obj != NULL && aggregate_value_add(ctx->arena, obj, key, strlen(key), value) == 0)) {
        aggregate_value_write(&json, doc);
        codec_options_t opt = {0};
        if (!util_buf_failed(&json) && codec_json_to_pb(r, m, (const char *)json.data, json.len, &opt, &pb, &err) == 0) {
            uint8_t *bytes = util_arena_alloc(ctx->arena, pb.len ? pb.len : 1);
            if (bytes != NULL) {
                if (pb.len != 0)
                    memcpy(bytes, pb.data, pb.len);
                *piece = (aggregate_request_piece_t){bytes, pb.len, NULL, 0};
                rc = 0;
            }
        } else if (!util_buf_failed(&json) && err.code != CODEC_ERR_NOMEM) {
            rc = 1; /* cannot happen for a checked constant; the JSON path will say why */
        }
    }
    util_buf_dispose(&json);
    util_buf_dispose(&pb);
    return rc;
}

int aggregate_request_plan_build(aggregate_ctx_t *ctx, aggregate_call_t *c, const proto_registry_t *r)
{
    const aggregate_tpl_t *t = c->message;
    if (c->kind != AGGREGATE_CALL_GRPC || c->grpc_method == NULL || r == NULL || c->cache_ttl_ms != 0 || t == NULL)
        return 0;
    const proto_message_t *m = c->grpc_method->input;
    if (t->kind == AGGREGATE_TPL_CONST && aggregate_value_is(t->value, AGGREGATE_VALUE_OBJECT)) {
        /* no reference at all: the whole message, once */
        aggregate_request_piece_t *piece = util_arena_alloc(ctx->arena, sizeof(*piece));
        aggregate_request_plan_t *plan = util_arena_alloc(ctx->arena, sizeof(*plan));
        int rc = piece != NULL && plan != NULL ? encode_constant(ctx, r, m, NULL, t->value, piece) : -1;
        if (rc < 0)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
        if (rc == 0) {
            *plan = (aggregate_request_plan_t){piece, 1};
            c->request_plan = plan;
        }
        return 0;
    }
    if (t->kind != AGGREGATE_TPL_OBJECT)
        return 0;
    aggregate_request_piece_t *pieces = util_arena_alloc(ctx->arena, (t->n_children ? t->n_children : 1) * sizeof(*pieces));
    const proto_field_t **seen = util_arena_alloc(ctx->arena, (t->n_children ? t->n_children : 1) * sizeof(*seen));
    if (pieces == NULL || seen == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < t->n_children; i++) {
        const aggregate_tpl_t *child = t->children[i];
        const proto_field_t *f = plain_field(m, t->keys[i]);
        if (f == NULL)
            return 0;
        for (size_t k = 0; k < i; k++)
            if (seen[k] == f)
                return 0; /* one field under both its names: the codec's error, on the JSON path */
        seen[i] = f;
        if (child->kind == AGGREGATE_TPL_CONST) {
            int rc = encode_constant(ctx, r, m, t->keys[i], child->value, &pieces[i]);
            if (rc != 0)
                return rc < 0 ? aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory") : 0;
            continue;
        }
        if (child->kind != AGGREGATE_TPL_REF || f->type != PROTO_TYPE_STRING ||
            (child->want != AGGREGATE_WANT_ANY && child->want != AGGREGATE_WANT_STRING) ||
            (child->ref->source != AGGREGATE_SRC_PATH && child->ref->source != AGGREGATE_SRC_QUERY &&
             child->ref->source != AGGREGATE_SRC_HEADER))
            return 0;
        pieces[i] = (aggregate_request_piece_t){NULL, 0, child, f->number};
    }
    aggregate_request_plan_t *plan = util_arena_alloc(ctx->arena, sizeof(*plan));
    if (plan == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    *plan = (aggregate_request_plan_t){pieces, t->n_children};
    c->request_plan = plan;
    return 0;
}

int aggregate_request_plan_encode(const aggregate_request_plan_t *plan, const aggregate_tpl_input_t *in, util_arena_t *a,
                                  util_buf_t *out)
{
    for (size_t i = 0; i < plan->n; i++) {
        const aggregate_request_piece_t *p = &plan->pieces[i];
        if (p->ref == NULL) {
            util_buf_append(out, p->bytes, p->len);
            continue;
        }
        const aggregate_value_t *v = NULL;
        if (aggregate_tpl_render(p->ref, in, a, &v, NULL) != 0)
            return -1;
        if (v == NULL)
            continue; /* absent: the member is left out, as from the JSON */
        /* an empty string is proto3's default, which the codec leaves off the wire */
        if (v->kind != AGGREGATE_VALUE_STRING || v->len == 0 || !util_utf8_valid((const uint8_t *)v->u.text, v->len))
            return 1;
        wire_put_tag(out, p->number, WIRE_LEN);
        wire_put_varint(out, v->len);
        util_buf_append(out, v->u.text, v->len);
    }
    return util_buf_failed(out) ? -1 : 0;
}
