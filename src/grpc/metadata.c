/*
 * metadata.c — the rules for gRPC metadata (PROTOCOL-HTTP2.md "Custom-Metadata"): which header
 * names belong to the transport rather than the application, what a valid name and value look
 * like on the wire, and the base64 form of -bin values (util/base64 does the coding). Used by
 * the upstream client to vet what it sends and by the front doors to decide what to copy
 * between client and backend. See grpc.h.
 */
#include "grpc/grpc.h"

#include <strings.h>

#include "util/base64.h"

static int name_is(const char *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && strncasecmp(name, lit, n) == 0;
}

static const char *const hop_by_hop[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"};

int grpc_metadata_is_hop_by_hop(const char *name, size_t name_len, const char *value, size_t value_len)
{
    if (name_is(name, name_len, "te"))
        return !(value_len == 8 && strncasecmp(value, "trailers", 8) == 0);
    for (size_t i = 0; i + 1 < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
        if (name_is(name, name_len, hop_by_hop[i]))
            return 1;
    return 0;
}

int grpc_metadata_is_reserved(const char *name, size_t len)
{
    static const char *const others[] = {"host", "content-length", "content-type"};
    if (len == 0 || name[0] == ':')
        return 1;
    for (size_t i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
        if (name_is(name, len, hop_by_hop[i]))
            return 1;
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (name_is(name, len, others[i]))
            return 1;
    if (len >= 5 && strncasecmp(name, "grpc-", 5) == 0)
        return !(name_is(name, len, "grpc-trace-bin") || name_is(name, len, "grpc-tags-bin"));
    return 0;
}

int grpc_metadata_is_binary(const char *name, size_t len)
{
    return len >= 4 && strncasecmp(name + len - 4, "-bin", 4) == 0;
}

int grpc_metadata_check(const char *name, size_t name_len, const char *value, size_t value_len, util_error_t *err)
{
    int shown = (int)(name_len > 64 ? 64 : name_len);
    if (name_len == 0)
        return util_error_set(err, GRPC_ERR_METADATA, "metadata name is empty");
    for (size_t i = 0; i < name_len; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.'))
            return util_error_set(err, GRPC_ERR_METADATA, "metadata name \"%.*s\" has character 0x%02x (allowed: 0-9 a-z _ - .)",
                                  shown, name, (unsigned)(uint8_t)c);
    }
    if (grpc_metadata_is_binary(name, name_len)) {
        for (size_t i = 0; i < value_len; i++) {
            char c = value[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' || c == '/' || c == '-' ||
                  c == '_' || c == '='))
                return util_error_set(err, GRPC_ERR_METADATA, "value of binary metadata \"%.*s\" is not base64", shown, name);
        }
        return 0;
    }
    for (size_t i = 0; i < value_len; i++) {
        uint8_t c = (uint8_t)value[i];
        if (c < 0x20 || c > 0x7e)
            return util_error_set(err, GRPC_ERR_METADATA,
                                  "value of metadata \"%.*s\" has byte 0x%02x at offset %zu (only printable ASCII is "
                                  "allowed; use a -bin key for binary data)",
                                  shown, name, c, i);
    }
    return 0;
}

void grpc_metadata_bin_encode(util_buf_t *out, const uint8_t *data, size_t len)
{
    size_t before = out->len;
    util_base64_encode(out, data, len, 0);
    if (util_buf_failed(out))
        return;
    while (out->len > before && out->data[out->len - 1] == '=')
        out->len--;
}

int grpc_metadata_bin_decode(util_buf_t *out, const char *value, size_t len, util_error_t *err)
{
    if (util_base64_decode(out, value, len) != 0)
        return util_error_set(err, GRPC_ERR_METADATA, "binary metadata value \"%.*s\" is not valid base64",
                              (int)(len > 64 ? 64 : len), value);
    return 0;
}
