/*
 * gateway_tables.h — the gateway's HTTP bindings taken from transcoding tables (the config's
 * "routes": NAME.routes files written by protoc-gen-portico, docs/CODEGEN.md) instead of the
 * google.api.http annotations of the descriptors. The config loader has parsed the tables;
 * this resolves each line against the descriptor registry and the configured services, with
 * every error naming the table's file and line.
 */
#ifndef PORTICO_HTTP_GATEWAY_TABLES_H
#define PORTICO_HTTP_GATEWAY_TABLES_H

#include <stddef.h>

#include "config/config.h"
#include "proto/proto.h"
#include "transcode/routes_file.h"
#include "util/arena.h"
#include "util/error.h"

typedef struct gateway_table_route {
    const config_grpc_service_t *service;
    const proto_method_t *method;
    proto_http_rule_t rule; /* points into the config's copy of the table */
    int auto_mapped;        /* ORIGIN "auto" */
    const routes_file_t *table;
    const routes_file_entry_t *entry;
} gateway_table_route_t;

/*
 * The routes of every line of |cfg|'s tables whose method belongs to one of its grpc_services
 * (lines of other services are skipped: a table may cover more than one gateway serves), in
 * table and line order. Each line is checked as the annotations would be: the method must be
 * in |r| with the INPUT, OUTPUT and STREAMING the table says, binding_rule_init must accept
 * the binding, the template must compile, and no two lines may be ambiguous. A configured
 * service without any line gets a warning on stderr (it stays reachable over gRPC, gRPC-Web
 * and Connect). Returns 0 with *out (allocated in |arena|) and *n, or -1 with |err| set:
 * "TABLE:LINE: what is wrong".
 */
int gateway_tables_resolve(const config_t *cfg, const proto_registry_t *r, util_arena_t *arena, gateway_table_route_t **out,
                           size_t *n, util_error_t *err);

#endif
