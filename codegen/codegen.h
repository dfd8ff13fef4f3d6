/*
 * codegen.h — the pieces of protoc-gen-portico below its main(): collecting the HTTP
 * bindings of the generated files into checked routes (routes.c), and writing the
 * transcoding table (the .routes file). The plugin's protocol (CodeGeneratorRequest in,
 * CodeGeneratorResponse out) is in main.c; the OpenAPI document comes from src/openapi,
 * which the gateway shares.
 */
#ifndef PORTICO_CODEGEN_H
#define PORTICO_CODEGEN_H

#include <stddef.h>

#include "openapi/openapi.h"
#include "proto/proto.h"
#include "transcode/binding.h"
#include "transcode/routes_file.h"
#include "util/buf.h"

typedef struct codegen_route {
    binding_rule_t binding; /* resolved against the descriptors */
    const proto_http_rule_t *rule;
    int origin;               /* ROUTES_FILE_ORIGIN_* or the index of the additional binding */
    openapi_location_t where; /* the method's `option (google.api.http)`, for messages */
} codegen_route_t;

typedef struct codegen_routes {
    codegen_route_t *items;
    size_t n, cap;
    proto_http_rule_t *auto_rules; /* storage of the auto-mapped rules */
    size_t n_auto;
} codegen_routes_t;

/*
 * Collects the routes of every method of every service defined in |files| (in declaration
 * order: services, methods, the rule, then its additional bindings), checking each against
 * the descriptors: template syntax ("**" last, verb last, ...), path variables naming
 * singular scalar fields, body and response_body naming top-level fields, and no two routes
 * that a request cannot tell apart. With |auto_mapping|, methods without a rule get
 * POST /pkg.Service/Method, as the gateway does by default.
 *
 * Every problem is appended to |errors| as one line "file.proto:line:col: method X: ...".
 * Returns the number of problems (0: |out| holds every route), or -1 when out of memory.
 */
int codegen_routes_collect(codegen_routes_t *out, const proto_registry_t *r, const openapi_docs_t *docs, const char *const *files,
                           size_t n_files, int auto_mapping, util_buf_t *errors);
void codegen_routes_dispose(codegen_routes_t *routes);

/*
 * Writes the transcoding table (format in docs/CODEGEN.md, defined by
 * transcode/routes_file.h): a header naming |files| and the descriptor set |set_name| beside
 * it, then one route per line (routes_file_write_entry):
 *   VERB PATH BODY RESPONSE_BODY INPUT OUTPUT STREAMING METHOD ORIGIN
 */
void codegen_routes_write(const codegen_routes_t *routes, const char *const *files, size_t n_files, const char *set_name,
                          util_buf_t *out);

#endif
