/*
 * grpc_ingress_rules.c — the native gRPC ingress's pure decisions, kept apart from its I/O so
 * that unit tests can table them: which request headers become upstream metadata, which
 * upstream headers and trailers reach the client, which content types pass, the deadline of
 * the upstream call, and the header block that ends a call (trailers, or a trailers-only
 * answer). See grpc_ingress_int.h.
 */
#include "http/grpc_ingress_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int name_is(const char *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && strncasecmp(name, lit, n) == 0;
}

int ingress_content_type_kind(const char *value, size_t len)
{
    static const char base[] = "application/grpc";
    size_t bl = sizeof(base) - 1;
    if (len < bl || strncasecmp(value, base, bl) != 0)
        return -1;
    if (len == bl || value[bl] == ';')
        return 0;
    if (value[bl] != '+')
        return -1; /* application/grpcfoo, application/grpc-web ... */
    const char *codec = value + bl + 1;
    size_t clen = len - bl - 1;
    const char *semi = memchr(codec, ';', clen);
    if (semi != NULL)
        clen = (size_t)(semi - codec);
    while (clen > 0 && codec[clen - 1] == ' ')
        clen--;
    return name_is(codec, clen, "proto") ? 0 : 1;
}

int ingress_request_header_forwarded(const char *name, size_t name_len, const char *value, size_t value_len)
{
    if (grpc_metadata_is_hop_by_hop(name, name_len, value, value_len))
        return 0;
    /* pseudo-headers, te, host, content-type/-length, grpc-* (grpc-timeout is turned into the
       call's deadline; grpc-encoding is checked) except the tracing -bin headers */
    return !grpc_metadata_is_reserved(name, name_len);
}

int ingress_response_header_forwarded(const char *name, size_t name_len)
{
    if (name_len == 0 || name[0] == ':')
        return 0;
    /* the ingress writes content-type and the status itself; it offers no compression */
    if (name_len >= 5 && strncasecmp(name, "grpc-", 5) == 0)
        return name_is(name, name_len, "grpc-status-details-bin") || name_is(name, name_len, "grpc-trace-bin") ||
               name_is(name, name_len, "grpc-tags-bin");
    return !grpc_metadata_is_reserved(name, name_len);
}

int64_t ingress_deadline_ms(int64_t client_ms, uint32_t route_ms)
{
    if (client_ms <= 0)
        return route_ms;
    if (route_ms == 0 || client_ms < (int64_t)route_ms)
        return client_ms;
    return route_ms;
}

nghttp2_nv *ingress_status_block(int http_status, grpc_code_t code, const char *message, size_t message_len,
                                 const upstream_header_t *md, size_t n_md, int accept_encoding, size_t *n_out)
{
    char status_text[4], code_text[12];
    util_buf_t enc = UTIL_BUF_INIT;
    *n_out = 0;
    if (message_len > 8192)
        message_len = 8192; /* a status line, not a document: keep header blocks sane */
    if (message_len != 0) {
        grpc_message_percent_encode(&enc, message, message_len);
        if (util_buf_failed(&enc))
            return NULL;
    }
    if (http_status < 100 || http_status > 999)
        http_status = http_status != 0 ? 500 : 0;
    snprintf(status_text, sizeof(status_text), "%d", http_status);
    int code_len = snprintf(code_text, sizeof(code_text), "%d", (int)code);

    size_t n = 1 + (http_status != 0 ? 2 : 0) + (enc.len != 0) + (accept_encoding != 0), bytes = enc.len + (size_t)code_len + 4;
    for (size_t i = 0; i < n_md; i++)
        if (ingress_response_header_forwarded(md[i].name, md[i].name_len)) {
            n++;
            bytes += md[i].name_len + md[i].value_len;
        }
    nghttp2_nv *nva = malloc(n * sizeof(*nva) + bytes);
    if (nva == NULL) {
        util_buf_dispose(&enc);
        return NULL;
    }
    char *p = (char *)(nva + n);
    size_t k = 0;
#define NV_LIT(nm, val, vlen)                                                                                                      \
    nva[k++] = (nghttp2_nv)                                                                                                        \
    {                                                                                                                              \
        (uint8_t *)(nm), (uint8_t *)(val), sizeof(nm) - 1, (vlen), NGHTTP2_NV_FLAG_NO_COPY_NAME                                    \
    }
    if (http_status != 0) {
        memcpy(p, status_text, 4);
        NV_LIT(":status", p, 3);
        p += 4;
        NV_LIT("content-type", "application/grpc", 16);
    }
    memcpy(p, code_text, (size_t)code_len);
    NV_LIT("grpc-status", p, (size_t)code_len);
    p += code_len;
    if (enc.len != 0) {
        memcpy(p, enc.data, enc.len);
        NV_LIT("grpc-message", p, enc.len);
        p += enc.len;
    }
    if (accept_encoding)
        NV_LIT("grpc-accept-encoding", "identity", 8);
#undef NV_LIT
    for (size_t i = 0; i < n_md; i++) {
        if (!ingress_response_header_forwarded(md[i].name, md[i].name_len))
            continue;
        nghttp2_nv *e = &nva[k++];
        memcpy(p, md[i].name, md[i].name_len);
        e->name = (uint8_t *)p;
        e->namelen = md[i].name_len;
        p += md[i].name_len;
        if (md[i].value_len != 0)
            memcpy(p, md[i].value, md[i].value_len);
        e->value = (uint8_t *)p;
        e->valuelen = md[i].value_len;
        p += md[i].value_len;
        e->flags = NGHTTP2_NV_FLAG_NONE;
    }
    util_buf_dispose(&enc);
    *n_out = k;
    return nva;
}
