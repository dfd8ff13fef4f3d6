/*
 * config_test.c — the config loader (src/config): valid configs parse to the expected
 * values (defaults filled in, paths made absolute, globs expanded), every validation rule
 * rejects its bad input with a message naming the config and the JSON path, files are
 * read relative to their own directory, and no prefix of a valid config crashes the loader.
 *
 * The JSON in the tables is written with single quotes (q() turns them into double quotes)
 * and "$D" stands for the scratch directory holding the referenced files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config/config.h"
#include "test.h"

static char dir[256]; /* scratch directory: "$D" in the tables */

#define ROUTE_LINE "GET /v1/products/{sku}/price - - shop.v1.GetPriceRequest shop.v1.Price unary shop.v1.PriceService.GetPrice rule"

/* |s| with ' turned into " and "$D" into the scratch directory (static buffer, one at a time per slot). */
static const char *q_slot(const char *s, int slot)
{
    static char out[2][8192];
    char *o = out[slot];
    size_t n = 0, dl = strlen(dir);
    for (; *s && n + dl + 2 < sizeof(out[slot]); s++) {
        if (s[0] == '$' && s[1] == 'D') {
            memcpy(o + n, dir, dl);
            n += dl;
            s++;
        } else {
            o[n++] = *s == '\'' ? '"' : *s;
        }
    }
    o[n] = '\0';
    return o;
}
#define q(s) q_slot((s), 0)
#define q2(s) q_slot((s), 1)

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static void make_dir(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if (mkdir(path, 0755) != 0) {
        perror(path);
        exit(1);
    }
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/portico-config-test-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    write_file("cert.pem", "-----BEGIN CERTIFICATE-----\n");
    write_file("key.pem", "-----BEGIN PRIVATE KEY-----\n");
    write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    write_file("shop.pb", "not parsed here");
    write_file("other.pb", "not parsed here");
    make_dir("aggregations");
    write_file("aggregations/b.json", "{}");
    write_file("aggregations/a.json", "{}");
    write_file("aggregations/notes.txt", "not an aggregation");
    make_dir("aggregations/sub.json"); /* a directory the glob matches: skipped */
    make_dir("empty");
    make_dir("logs");
    make_dir("sub");
    /* transcoding tables ("routes"): one naming its descriptor set, one naming none, one naming a
       missing one, a malformed one, and one in a subdirectory whose set is relative to it */
    write_file("shop.routes", "#portico-routes v1\n# descriptor-set shop.pb\n" ROUTE_LINE "\n");
    write_file("noset.routes", "#portico-routes v1\n");
    write_file("missing.routes", "#portico-routes v1\n\n# descriptor-set gone.pb\n");
    write_file("bad.routes", "#portico-routes v1\n" ROUTE_LINE "\nGET /v1/x - -\n");
    write_file("sub/other.routes", "#portico-routes v1\n# descriptor-set ../other.pb\n# descriptor-set-like comment\n");
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* A readable rendering of a config, one fact per line, with the scratch directory shown as $D. */
static void dump_line(char *out, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void dump_line(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* replace the scratch directory with $D */
    size_t dl = strlen(dir);
    for (char *p = line; (p = strstr(p, dir)) != NULL;) {
        memmove(p + 2, p + dl, strlen(p + dl) + 1);
        memcpy(p, "$D", 2);
        p += 2;
    }
    int n = snprintf(out + *len, cap - *len, "%s\n", line);
    if (n > 0 && (size_t)n < cap - *len)
        *len += (size_t)n;
}

static const char *str(const char *s)
{
    return s ? s : "-";
}

/* "a,b,c" of a string list, "-" when empty. */
static const char *joined(const char *const *list, size_t n)
{
    static char out[4][512];
    static int slot;
    char *o = out[slot++ % 4];
    o[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(o, i ? "," : "", 511 - strlen(o));
        strncat(o, list[i], 511 - strlen(o));
    }
    return n ? o : "-";
}

static void dump_cors(char *out, size_t cap, size_t *len, const char *what, const cors_policy_t *p)
{
    dump_line(out, cap, len, "%s origins=%s methods=%s", what, joined(p->origins, p->n_origins), joined(p->methods, p->n_methods));
    dump_line(out, cap, len, "%s headers=%s expose=%s max_age=%u credentials=%d", what, joined(p->headers, p->n_headers),
              joined(p->expose_headers, p->n_expose_headers), p->max_age_s, p->allow_credentials);
}

static const char *dump(const config_t *c)
{
    static char out[16384];
    size_t len = 0;
    out[0] = '\n';
    len = 1;
    for (size_t i = 0; i < c->n_listen; i++) {
        const config_listen_t *l = &c->listen[i];
        char addr[64] = "?";
        unsigned port = 0;
        if (l->addr.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&l->addr;
            inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
            port = ntohs(a->sin_port);
            CHECK_INT_EQ(l->addr_len, sizeof(*a));
        } else if (l->addr.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&l->addr;
            inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
            port = ntohs(a->sin6_port);
            CHECK_INT_EQ(l->addr_len, sizeof(*a));
        }
        dump_line(out, sizeof(out), &len, "listen[%zu] %s port=%u %s bind=%s/%u", i, l->address, l->port,
                  config_listen_protocol_name(l->protocol), addr, port);
        if (l->tls != NULL)
            dump_line(out, sizeof(out), &len, "listen[%zu].tls %s %s %s", i, l->tls->certificate, l->tls->key,
                      str(l->tls->client_ca));
    }
    dump_line(out, sizeof(out), &len, "workers=%u", c->workers);
    for (size_t i = 0; i < c->n_descriptors; i++)
        dump_line(out, sizeof(out), &len, "descriptors[%zu] %s", i, c->descriptors[i]);
    for (size_t i = 0; i < c->n_upstreams; i++) {
        const config_upstream_t *u = &c->upstreams[i];
        dump_line(out, sizeof(out), &len, "upstream[%zu] %s %s timeout=%u connect=%u max_conn=%u", i, u->name,
                  config_upstream_protocol_name(u->protocol), u->timeout_ms, u->connect_timeout_ms, u->max_connections);
        for (size_t j = 0; j < u->n_targets; j++) {
            static const char *const kinds[] = {"name", "ipv4", "ipv6"};
            dump_line(out, sizeof(out), &len, "upstream[%zu].target[%zu] %s %s port=%u authority=%s", i, j,
                      kinds[u->targets[j].kind], u->targets[j].host, u->targets[j].port, u->targets[j].authority);
        }
        if (u->tls != NULL)
            dump_line(out, sizeof(out), &len, "upstream[%zu].tls ca=%s sni=%s cert=%s key=%s", i, str(u->tls->ca),
                      str(u->tls->server_name), str(u->tls->certificate), str(u->tls->key));
    }
    for (size_t i = 0; i < c->n_grpc_services; i++) {
        const config_grpc_service_t *s = &c->grpc_services[i];
        dump_line(out, sizeof(out), &len,
                  "service[%zu] %s -> %s emit_defaults=%d proto_names=%d enum_ints=%d ignore_unknown_fields=%d "
                  "ignore_unknown_query=%d auto_mapping=%d",
                  i, s->service, s->upstream->name, s->json.emit_defaults, s->json.proto_names, s->json.enum_ints,
                  s->json.ignore_unknown_fields, s->ignore_unknown_query_parameters, s->auto_mapping);
    }
    dump_line(out, sizeof(out), &len, "aggregations=%zu", c->n_aggregations);
    for (size_t i = 0; i < c->n_aggregations; i++)
        dump_line(out, sizeof(out), &len, "aggregations[%zu] %s", i, c->aggregations[i]);
    dump_line(out, sizeof(out), &len, "limits body=%llu header=%u depth=%u", (unsigned long long)c->limits.max_request_body_bytes,
              c->limits.max_header_bytes, c->limits.max_json_depth);
    char headers[512] = "";
    for (size_t i = 0; i < c->n_forward_headers; i++) {
        strncat(headers, i ? "," : "", sizeof(headers) - strlen(headers) - 1);
        strncat(headers, c->forward_headers[i], sizeof(headers) - strlen(headers) - 1);
    }
    dump_line(out, sizeof(out), &len, "forward_headers=%s", headers);
    dump_line(out, sizeof(out), &len, "shutdown_timeout_ms=%u", c->shutdown_timeout_ms);
    dump_line(out, sizeof(out), &len, "access_log=%s", c->access_log ? c->access_log : "(off)");
    if (c->cors != NULL)
        dump_cors(out, sizeof(out), &len, "cors", c->cors);
    else
        dump_line(out, sizeof(out), &len, "cors=(off)");
    for (size_t i = 0; i < c->n_route_tables; i++) {
        const routes_file_t *t = &c->route_tables[i];
        dump_line(out, sizeof(out), &len, "routes[%zu] %s entries=%zu set=%s", i, t->name, t->n_entries, str(t->descriptor_set));
        for (size_t k = 0; k < t->n_entries; k++)
            dump_line(out, sizeof(out), &len, "routes[%zu].entries[%zu] line %u %s %s -> %s", i, k, t->entries[k].line,
                      t->entries[k].verb, t->entries[k].path, t->entries[k].method);
    }
    if (c->openapi != NULL)
        dump_line(out, sizeof(out), &len, "openapi path=%s title=%s version=%s description=%s servers=%s", c->openapi->path,
                  str(c->openapi->title), str(c->openapi->version), str(c->openapi->description),
                  joined(c->openapi->servers, c->openapi->n_servers));
    else
        dump_line(out, sizeof(out), &len, "openapi=(off)");
    for (size_t i = 0; i < c->n_grpc_services; i++) {
        char what[64];
        snprintf(what, sizeof(what), "service[%zu].cors", i);
        if (c->grpc_services[i].cors != NULL)
            dump_cors(out, sizeof(out), &len, what, c->grpc_services[i].cors);
    }
    return out;
}

#define L "'listen': [{'port': 8080}]"
#define UP "'upstreams': {'price': {'protocol': 'grpc', 'targets': ['127.0.0.1:50051']}"
#define UPS UP ", 'reviews': {'protocol': 'http', 'targets': ['127.0.0.1:8081']}}"

static const char full_example[] =
    "{'listen': [{'address': '127.0.0.1', 'port': 8080},\n"
    "            {'port': 8443, 'tls': {'certificate': 'cert.pem', 'key': 'key.pem', 'client_ca': 'ca.pem'}},\n"
    "            {'port': 9090, 'protocol': 'grpc'}],\n"
    " 'workers': 4,\n"
    " 'descriptors': ['shop.pb'],\n"
    " 'upstreams': {\n"
    "   'price': {'protocol': 'grpc', 'targets': ['127.0.0.1:50051', 'price-2.internal:50051'], 'timeout_ms': 1000,\n"
    "             'connect_timeout_ms': 500, 'max_connections': 4,\n"
    "             'tls': {'ca': 'ca.pem', 'server_name': 'price.internal', 'certificate': 'cert.pem', 'key': 'key.pem'}},\n"
    "   'reviews': {'protocol': 'http', 'targets': ['[::1]:8081'], 'timeout_ms': 1500}},\n"
    " 'grpc_services': [{'service': 'shop.v1.PriceService', 'upstream': 'price',\n"
    "                    'json': {'emit_defaults': true, 'proto_names': true, 'enum_ints': true,\n"
    "                             'ignore_unknown_fields': true},\n"
    "                    'ignore_unknown_query_parameters': true, 'auto_mapping': false},\n"
    "                   {'service': 'shop.v1.StockService', 'upstream': 'price'}],\n"
    " 'aggregations': ['aggregations/*.json'],\n"
    " 'limits': {'max_request_body_bytes': 1048576, 'max_header_bytes': 8192, 'max_json_depth': 32},\n"
    " 'forward_headers': ['x-request-id', 'x-tenant'],\n"
    " 'shutdown_timeout_ms': 2500,\n"
    " 'routes': ['shop.routes'],\n"
    " 'openapi': {'path': '/docs.json', 'title': 'T', 'servers': ['https://a']},\n"
    " 'access_log': 'logs/access.log'}\n";

static const char *const full_expected[] = {
    "listen[0] 127.0.0.1 port=8080 http bind=127.0.0.1/8080",
    "listen[1] 0.0.0.0 port=8443 http bind=0.0.0.0/8443",
    "listen[1].tls $D/cert.pem $D/key.pem $D/ca.pem",
    "listen[2] 0.0.0.0 port=9090 grpc bind=0.0.0.0/9090",
    "workers=4",
    "descriptors[0] $D/shop.pb",
    "upstream[0] price grpc timeout=1000 connect=500 max_conn=4",
    "upstream[0].target[0] ipv4 127.0.0.1 port=50051 authority=127.0.0.1:50051",
    "upstream[0].target[1] name price-2.internal port=50051 authority=price-2.internal:50051",
    "upstream[0].tls ca=$D/ca.pem sni=price.internal cert=$D/cert.pem key=$D/key.pem",
    "upstream[1] reviews http timeout=1500 connect=2000 max_conn=1",
    "upstream[1].target[0] ipv6 ::1 port=8081 authority=[::1]:8081",
    "service[0] shop.v1.PriceService -> price emit_defaults=1 proto_names=1 enum_ints=1 ignore_unknown_fields=1 "
    "ignore_unknown_query=1 auto_mapping=0",
    "service[1] shop.v1.StockService -> price emit_defaults=0 proto_names=0 enum_ints=0 ignore_unknown_fields=0 "
    "ignore_unknown_query=0 auto_mapping=1",
    "aggregations=2",
    "aggregations[0] $D/aggregations/a.json",
    "aggregations[1] $D/aggregations/b.json",
    "limits body=1048576 header=8192 depth=32",
    "forward_headers=x-request-id,x-tenant",
    "shutdown_timeout_ms=2500",
    "access_log=$D/logs/access.log",
    "routes[0] $D/shop.routes entries=1 set=shop.pb",
    "openapi path=/docs.json title=T version=- description=- servers=https://a",
    NULL,
};

typedef struct valid_case {
    const char *json;
    const char *expected[12]; /* whole lines of dump(), NULL-terminated */
} valid_case_t;

static const valid_case_t valid_cases[] = {
    /* the smallest config: every default */
    {"{'listen': [{'port': 0}]}",
     {"listen[0] 0.0.0.0 port=0 http bind=0.0.0.0/0", "workers=0", "aggregations=0", "limits body=4194304 header=65536 depth=100",
      "forward_headers=x-request-id,authorization,traceparent,tracestate", "shutdown_timeout_ms=10000", "access_log=(off)"}},
    /* IPv6 listeners, with and without brackets; the same port on different addresses; port 0 twice */
    {"{'listen': [{'address': '::', 'port': 80}, {'address': '[::1]', 'port': 80}, {'address': '127.0.0.1', 'port': "
     "80}, {'port': 0}, {'port': 0}]}",
     {"listen[0] :: port=80 http bind=::/80", "listen[1] ::1 port=80 http bind=::1/80",
      "listen[2] 127.0.0.1 port=80 http bind=127.0.0.1/80", "listen[4] 0.0.0.0 port=0 http bind=0.0.0.0/0"}},
    /* target forms; upstream defaults; file order of upstreams kept */
    {"{" L ", 'upstreams': {'zeta': {'protocol': 'grpc', 'targets': ['my_svc:1', 'a-b.c.example:65535', "
     "'[2001:db8::7]:443', '10.0.0.1:80', 'localhost:8080']}, 'alpha': {'protocol': 'http', 'targets': "
     "['alpha:80']}}}",
     {"upstream[0] zeta grpc timeout=30000 connect=2000 max_conn=1", "upstream[0].target[0] name my_svc port=1 authority=my_svc:1",
      "upstream[0].target[1] name a-b.c.example port=65535 authority=a-b.c.example:65535",
      "upstream[0].target[2] ipv6 2001:db8::7 port=443 authority=[2001:db8::7]:443",
      "upstream[0].target[3] ipv4 10.0.0.1 port=80 authority=10.0.0.1:80",
      "upstream[0].target[4] name localhost port=8080 authority=localhost:8080",
      "upstream[1] alpha http"
      " timeout=30000 connect=2000 max_conn=1"}},
    /* upstream tls with only a CA; an empty tls object means TLS with the system trust store */
    {"{" L ", 'upstreams': {'a': {'protocol': 'grpc', 'targets': ['a:1'], 'tls': {'ca': './ca.pem'}}, 'b': "
     "{'protocol': 'grpc', 'targets': ['b:1'], 'tls': {}}}}",
     {"upstream[0].tls ca=$D/ca.pem sni=- cert=- key=-", "upstream[1].tls ca=- sni=- cert=- key=-"}},
    /* globs: sorted, deduplicated across patterns, directories skipped, no match is fine; absolute paths kept */
    {"{" L ", 'aggregations': ['aggregations/*.json', 'aggregations/a.json', 'empty/*.json', "
     "'$D/aggregations/b.*']}",
     {"aggregations=2", "aggregations[0] $D/aggregations/a.json", "aggregations[1] $D/aggregations/b.json"}},
    /* a literal aggregation path is taken as is */
    {"{" L ", 'aggregations': ['aggregations/b.json']}", {"aggregations=1", "aggregations[0] $D/aggregations/b.json"}},
    /* a gRPC service served by an HTTP/JSON upstream (gRPC→REST, docs/REVERSE.md) */
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 's.v1.R', 'upstream': 'reviews'}]}",
     {"upstream[1] reviews http timeout=30000 connect=2000 max_conn=1",
      "service[0] s.v1.R -> reviews emit_defaults=0 proto_names=0 enum_ints=0 ignore_unknown_fields=0 ignore_unknown_query=0 "
      "auto_mapping=1"}},
    /* descriptors: relative, ./relative and absolute */
    {"{" L ", 'descriptors': ['./shop.pb', '$D/other.pb']}", {"descriptors[0] $D/shop.pb", "descriptors[1] $D/other.pb"}},
    /* access_log: stdout, off */
    {"{" L ", 'access_log': '-'}", {"access_log=-"}},
    {"{" L ", 'access_log': null}", {"access_log=(off)"}},
    {"{" L ", 'access_log': '$D/logs/a.log'}", {"access_log=$D/logs/a.log"}},
    /* forward nothing; limits at their bounds */
    {"{" L ", 'forward_headers': []}", {"forward_headers="}},
    {"{" L ", 'forward_headers': ['x-b3-traceid', 'x-api-key', 'cookie']}", {"forward_headers=x-b3-traceid,x-api-key,cookie"}},
    {"{" L ", 'limits': {'max_request_body_bytes': 1, 'max_header_bytes': 1024, 'max_json_depth': 1000}}",
     {"limits body=1 header=1024 depth=1000"}},
    {"{" L ", 'limits': {}, 'workers': 256, 'shutdown_timeout_ms': 3600000}",
     {"limits body=4194304 header=65536 depth=100", "workers=256", "shutdown_timeout_ms=3600000"}},
    /* timeouts at their bounds */
    {"{" L ", 'upstreams': {'p': {'protocol': 'grpc', 'targets': ['p:1'], 'timeout_ms': 3600000, "
     "'connect_timeout_ms': 1, 'max_connections': 1024}}}",
     {"upstream[0] p grpc timeout=3600000 connect=1 max_conn=1024"}},
    /* cors: off by default; the smallest policy takes every default */
    {"{" L "}", {"cors=(off)"}},
    {"{" L ", 'cors': {'allowed_origins': ['https://shop.example.com']}}",
     {"cors origins=https://shop.example.com methods=-", "cors headers=- expose=- max_age=7200 credentials=0"}},
    /* every key; patterns, '*', 'null'; max_age 0 omits the header */
    {"{" L ", 'cors': {'allowed_origins': ['https://*.example.com', 'http://localhost:*', '*', 'null', "
     "'http://[::1]:8080'], 'allowed_methods': ['GET', 'POST'], 'allowed_headers': ['X-Api-Key', '*'], "
     "'exposed_headers': ['X-Trace'], 'max_age_s': 0, 'allow_credentials': true}}",
     {"cors origins=https://*.example.com,http://localhost:*,*,null,http://[::1]:8080 methods=GET,POST",
      "cors headers=X-Api-Key,* expose=X-Trace max_age=0 credentials=1"}},
    /* a service override inherits what it does not name from the global policy */
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'cors': {'allowed_origins': ['https://a.example'], 'max_age_s': 60}, "
     "'grpc_services': [{'service': 's.A', 'upstream': 'price'}, {'service': 's.B', 'upstream': 'price', 'cors': "
     "{'allowed_origins': ['https://b.example'], 'allow_credentials': true}}]}",
     {"cors origins=https://a.example methods=-", "service[1].cors origins=https://b.example methods=-",
      "service[1].cors headers=- expose=- max_age=60 credentials=1"}},
    /* openapi: off by default; {} serves /openapi.json with the renderer's defaults; every key */
    {"{" L "}", {"openapi=(off)"}},
    {"{" L ", 'openapi': {}}", {"openapi path=/openapi.json title=- version=- description=- servers=-"}},
    {"{" L ", 'openapi': {'path': '/docs/v1/openapi.json', 'title': 'Shop API', 'version': '1.2.0', 'description': "
     "'The shop.', 'servers': ['https://api.example.com', '/']}}",
     {"openapi path=/docs/v1/openapi.json title=Shop API version=1.2.0 description=The shop. "
      "servers=https://api.example.com,/"}},
    {"{" L ", 'openapi': {'path': '/api-docs/a_b~c.json;v=1@x:y!$&()*+,='}}",
     {"openapi path=/api-docs/a_b~c.json;v=1@x:y!$&()*+,= title=- version=- description=- servers=-"}},
    /* routes: the table's lines are kept; without "descriptors" its descriptor set is the descriptors */
    {"{" L ", 'routes': ['shop.routes']}",
     {"routes[0] $D/shop.routes entries=1 set=shop.pb",
      "routes[0].entries[0] line 3 GET /v1/products/{sku}/price -> shop.v1.PriceService.GetPrice", "descriptors[0] $D/shop.pb"}},
    /* ... so grpc_services need no "descriptors"; sets named twice load once; a set is relative to its table */
    {"{" L ", " UPS ", 'routes': ['./shop.routes', 'sub/other.routes', 'noset.routes'], 'grpc_services': [{'service': "
     "'shop.v1.PriceService', 'upstream': 'price'}]}",
     {"descriptors[0] $D/shop.pb", "descriptors[1] $D/sub/../other.pb", "routes[1] $D/sub/other.routes entries=0 set=../other.pb",
      "routes[2] $D/noset.routes entries=0 set=-"}},
    /* with "descriptors", they are the descriptors: the tables' sets are not loaded (not even checked) */
    {"{" L ", 'descriptors': ['other.pb'], 'routes': ['shop.routes', 'missing.routes']}",
     {"descriptors[0] $D/other.pb", "routes[1] $D/missing.routes entries=0 set=gone.pb"}},
    /* an override without a global policy */
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 's.B', 'upstream': 'price', 'cors': "
     "{'allowed_origins': ['https://b.example'], 'max_age_s': 86400}}]}",
     {"cors=(off)", "service[0].cors origins=https://b.example methods=-",
      "service[0].cors headers=- expose=- max_age=86400 credentials=0"}},
};

typedef struct invalid_case {
    const char *json;
    int code;
    const char *message; /* a substring of the error message (q() applied) */
} invalid_case_t;

static const invalid_case_t invalid_cases[] = {
    /* JSON itself */
    {"{'listen': [}", CONFIG_ERR_SYNTAX, "t.json:1:13: "},
    {"{'listen': [{'port': 1}],\n 'workers': 1,\n 'workers': 2}", CONFIG_ERR_SYNTAX, "t.json:3:"},
    {"", CONFIG_ERR_SYNTAX, "t.json:"},
    {"[1]", CONFIG_ERR_TYPE, "t.json: expected an object, got an array"},
    {"{" L ", 'listn': 1}", CONFIG_ERR_UNKNOWN_KEY,
     "t.json: unknown key 'listn' (expected one of: listen, workers, descriptors, upstreams, grpc_services, "
     "aggregations, limits, forward_headers, shutdown_timeout_ms, access_log, cors, routes, openapi)"},
    /* listen */
    {"{}", CONFIG_ERR_MISSING, "t.json: missing required key 'listen'"},
    {"{'listen': []}", CONFIG_ERR_MISSING, "t.json: listen: at least one listener is required"},
    {"{'listen': {'port': 80}}", CONFIG_ERR_TYPE, "t.json: listen: expected an array, got an object"},
    {"{'listen': [8080]}", CONFIG_ERR_TYPE, "t.json: listen[0]: expected an object, got 8080"},
    {"{'listen': [{'address': '127.0.0.1'}]}", CONFIG_ERR_MISSING, "t.json: listen[0]: missing required key 'port'"},
    {"{'listen': [{'port': '8080'}]}", CONFIG_ERR_TYPE, "t.json: listen[0].port: expected an integer, got '8080'"},
    {"{'listen': [{'port': 80.5}]}", CONFIG_ERR_TYPE, "t.json: listen[0].port: expected an integer, got 80.5"},
    {"{'listen': [{'port': 70000}]}", CONFIG_ERR_VALUE, "t.json: listen[0].port: 70000 is out of range (0 to 65535)"},
    {"{'listen': [{'port': 1}, {'port': -1}]}", CONFIG_ERR_VALUE, "t.json: listen[1].port: -1 is out of range"},
    {"{'listen': [{'port': 80, 'address': 'localhost'}]}", CONFIG_ERR_VALUE,
     "t.json: listen[0].address: 'localhost' is not an IPv4 or IPv6 address"},
    {"{'listen': [{'port': 80, 'address': '1.2.3.4.5'}]}", CONFIG_ERR_VALUE,
     "listen[0].address: '1.2.3.4.5' is not an IPv4 or IPv6 address"},
    {"{'listen': [{'port': 80, 'address': ''}]}", CONFIG_ERR_VALUE, "t.json: listen[0].address: must not be empty"},
    {"{'listen': [{'port': 80, 'protocol': 'h3'}]}", CONFIG_ERR_VALUE,
     "t.json: listen[0].protocol: unknown protocol 'h3' (expected one of: http, grpc)"},
    {"{'listen': [{'port': 80, 'ssl': true}]}", CONFIG_ERR_UNKNOWN_KEY,
     "t.json: listen[0]: unknown key 'ssl' (expected one of: address, port, protocol, tls)"},
    {"{'listen': [{'port': 80}, {'port': 443, 'tls': {'certfile': 'cert.pem'}}]}", CONFIG_ERR_UNKNOWN_KEY,
     "t.json: listen[1].tls: unknown key 'certfile' (expected one of: certificate, key, client_ca)"},
    {"{'listen': [{'port': 443, 'tls': {'certificate': 'cert.pem'}}]}", CONFIG_ERR_MISSING,
     "t.json: listen[0].tls: missing required key 'key'"},
    {"{'listen': [{'port': 443, 'tls': 'cert.pem'}]}", CONFIG_ERR_TYPE,
     "t.json: listen[0].tls: expected an object, got 'cert.pem'"},
    {"{'listen': [{'port': 443, 'tls': {'certificate': 'nope.pem', 'key': 'key.pem'}}]}", CONFIG_ERR_FILE,
     "t.json: listen[0].tls.certificate: cannot read '$D/nope.pem': No such file or directory"},
    {"{'listen': [{'port': 443, 'tls': {'certificate': 'cert.pem', 'key': 'key.pem', 'client_ca': 'logs'}}]}", CONFIG_ERR_FILE,
     "t.json: listen[0].tls.client_ca: '$D/logs' is not a regular file"},
    {"{'listen': [{'port': 8080, 'address': '127.0.0.1'}, {'port': 8080, 'address': '127.0.0.1'}]}", CONFIG_ERR_DUPLICATE,
     "t.json: listen[1]: 127.0.0.1:8080 is already used by listen[0]"},
    {"{'listen': [{'port': 8080}, {'port': 9090}, {'port': 8080, 'protocol': 'grpc'}]}", CONFIG_ERR_DUPLICATE,
     "t.json: listen[2]: 0.0.0.0:8080 is already used by listen[0]"},
    {"{'listen': [{'port': 8080, 'address': '::1'}, {'port': 8080, 'address': '[0:0::1]'}]}", CONFIG_ERR_DUPLICATE,
     "t.json: listen[1]: [0:0::1]:8080 is already used by listen[0]"},
    /* workers, shutdown_timeout_ms */
    {"{" L ", 'workers': 300}", CONFIG_ERR_VALUE, "t.json: workers: 300 is out of range (0 to 256)"},
    {"{" L ", 'workers': true}", CONFIG_ERR_TYPE, "t.json: workers: expected an integer, got true"},
    {"{" L ", 'shutdown_timeout_ms': 0}", CONFIG_ERR_VALUE, "t.json: shutdown_timeout_ms: 0 is out of range (1 to 3600000)"},
    {"{" L ", 'shutdown_timeout_ms': '10s'}", CONFIG_ERR_TYPE, "t.json: shutdown_timeout_ms: expected an integer, got '10s'"},
    /* descriptors */
    {"{" L ", 'descriptors': 'shop.pb'}", CONFIG_ERR_TYPE, "t.json: descriptors: expected an array, got 'shop.pb'"},
    {"{" L ", 'descriptors': ['shop.pb', 'missing.pb']}", CONFIG_ERR_FILE,
     "t.json: descriptors[1]: cannot read '$D/missing.pb': No such file or directory"},
    {"{" L ", 'descriptors': ['shop.pb', './shop.pb']}", CONFIG_ERR_DUPLICATE,
     "t.json: descriptors[1]: '$D/shop.pb' is already listed as descriptors[0]"},
    {"{" L ", 'descriptors': [null]}", CONFIG_ERR_TYPE, "t.json: descriptors[0]: expected a string, got null"},
    /* upstreams */
    {"{" L ", 'upstreams': []}", CONFIG_ERR_TYPE, "t.json: upstreams: expected an object, got an array"},
    {"{" L ", 'upstreams': {'a.b': {'protocol': 'grpc', 'targets': ['a:1']}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams: 'a.b' is not a valid upstream name"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'timeout': 5}}}", CONFIG_ERR_UNKNOWN_KEY,
     "t.json: upstreams.price: unknown key 'timeout' (expected one of: protocol, targets, timeout_ms, "
     "connect_timeout_ms, max_connections, tls)"},
    {"{" L ", 'upstreams': {'price': {'targets': ['a:1']}}}", CONFIG_ERR_MISSING,
     "t.json: upstreams.price: missing required key 'protocol'"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpcs', 'targets': ['a:1']}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.protocol: unknown protocol 'grpcs' (expected one of: grpc, http)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc'}}}", CONFIG_ERR_MISSING,
     "t.json: upstreams.price: missing required key 'targets'"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': []}}}", CONFIG_ERR_MISSING,
     "t.json: upstreams.price.targets: at least one target"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': '127.0.0.1:50051'}}}", CONFIG_ERR_TYPE,
     "t.json: upstreams.price.targets: expected an array, got '127.0.0.1:50051'"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['127.0.0.1']}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.targets[0]: '127.0.0.1' is not host:port (missing ':port')"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1', 'b:0']}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.targets[1]: 'b:0' is not host:port (port must be a number from 1 to 65535)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['b:65536']}}}", CONFIG_ERR_VALUE,
     "'b:65536' is not host:port (port must be a number from 1 to 65535)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['b:http']}}}", CONFIG_ERR_VALUE,
     "'b:http' is not host:port (port must be a number from 1 to 65535)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['10.0.0.256:80']}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.targets[0]: '10.0.0.256:80' is not host:port (not a valid IPv4 address)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['::1:50051']}}}", CONFIG_ERR_VALUE,
     "'::1:50051' is not host:port (an IPv6 address needs brackets, as in [::1]:50051)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['[::g]:80']}}}", CONFIG_ERR_VALUE,
     "'[::g]:80' is not host:port (not a valid IPv6 address)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['[::1]']}}}", CONFIG_ERR_VALUE,
     "'[::1]' is not host:port (missing ':port')"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['exa mple:80']}}}", CONFIG_ERR_VALUE,
     "'exa mple:80' is not host:port (not a valid host name)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['-bad.example:80']}}}", CONFIG_ERR_VALUE,
     "'-bad.example:80' is not host:port (not a valid host name)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a..b:80']}}}", CONFIG_ERR_VALUE,
     "'a..b:80' is not host:port (not a valid host name)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a\\nb:80']}}}", CONFIG_ERR_VALUE,
     "'a?b:80' is not host:port (not a valid host name)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': [':80']}}}", CONFIG_ERR_VALUE,
     "':80' is not host:port (missing host)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': [50051]}}}", CONFIG_ERR_TYPE,
     "t.json: upstreams.price.targets[0]: expected a string, got 50051"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['A:1', 'a:1']}}}", CONFIG_ERR_DUPLICATE,
     "t.json: upstreams.price.targets[1]: 'a:1' is already listed as targets[0]"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'timeout_ms': 0}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.timeout_ms: 0 is out of range (1 to 3600000)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'timeout_ms': 3600001}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.timeout_ms: 3600001 is out of range (1 to 3600000)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'connect_timeout_ms': -5}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.connect_timeout_ms: -5 is out of range (1 to 3600000)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'max_connections': 0}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.max_connections: 0 is out of range (1 to 1024)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'tls': {'cafile': 'ca.pem'}}}}",
     CONFIG_ERR_UNKNOWN_KEY,
     "t.json: upstreams.price.tls: unknown key 'cafile' (expected one of: ca, server_name, certificate, key)"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'tls': {'certificate': 'cert.pem'}}}}",
     CONFIG_ERR_MISSING, "t.json: upstreams.price.tls: 'certificate' needs 'key'"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'tls': {'key': 'key.pem'}}}}", CONFIG_ERR_MISSING,
     "t.json: upstreams.price.tls: 'key' needs 'certificate'"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'tls': {'ca': 'nope/ca.pem'}}}}", CONFIG_ERR_FILE,
     "t.json: upstreams.price.tls.ca: cannot read '$D/nope/ca.pem': No such file or directory"},
    {"{" L ", 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['a:1'], 'tls': {'server_name': 'a b'}}}}", CONFIG_ERR_VALUE,
     "t.json: upstreams.price.tls.server_name: 'a b' is not a valid host name"},
    /* grpc_services */
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 's.v1.S', 'upstream': 'prices'}]}",
     CONFIG_ERR_REFERENCE, "t.json: grpc_services[0].upstream: 'prices' is not a defined upstream (defined: price, reviews)"},
    {"{" L ", 'descriptors': ['shop.pb'], 'grpc_services': [{'service': 's.v1.S', 'upstream': 'price'}]}", CONFIG_ERR_REFERENCE,
     "t.json: grpc_services[0].upstream: 'price' is not a defined upstream (defined: none)"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 'shop.v1.PriceService', 'upstream': "
     "'price'}, {'service': 'shop.v1.PriceService', 'upstream': 'price'}]}",
     CONFIG_ERR_DUPLICATE, "t.json: grpc_services[1].service: 'shop.v1.PriceService' is already listed at grpc_services[0]"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'upstream': 'price'}]}", CONFIG_ERR_MISSING,
     "t.json: grpc_services[0]: missing required key 'service'"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 'shop..v1.S', 'upstream': 'price'}]}",
     CONFIG_ERR_VALUE, "t.json: grpc_services[0].service: 'shop..v1.S' is not a fully qualified service name"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': '/shop.v1.S', 'upstream': 'price'}]}",
     CONFIG_ERR_VALUE, "'/shop.v1.S' is not a fully qualified service name"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 's.S', 'upstream': 'price', "
     "'jsn': {}}]}",
     CONFIG_ERR_UNKNOWN_KEY,
     "t.json: grpc_services[0]: unknown key 'jsn' (expected one of: service, upstream, json, "
     "ignore_unknown_query_parameters, auto_mapping, cors)"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 's.S', 'upstream': 'price', "
     "'json': {'emitDefaults': true}}]}",
     CONFIG_ERR_UNKNOWN_KEY,
     "t.json: grpc_services[0].json: unknown key 'emitDefaults' (expected one of: emit_defaults, proto_names, "
     "enum_ints, ignore_unknown_fields)"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 's.S', 'upstream': 'price', "
     "'json': {'emit_defaults': 1}}]}",
     CONFIG_ERR_TYPE, "t.json: grpc_services[0].json.emit_defaults: expected a boolean, got 1"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 's.S', 'upstream': 'price', "
     "'auto_mapping': 'yes'}]}",
     CONFIG_ERR_TYPE, "t.json: grpc_services[0].auto_mapping: expected a boolean, got 'yes'"},
    {"{" L ", " UPS ", 'grpc_services': [{'service': 's.S', 'upstream': 'price'}]}", CONFIG_ERR_MISSING,
     "t.json: descriptors: grpc_services are configured but no descriptor set is listed"},
    {"{" L ", 'grpc_services': {}}", CONFIG_ERR_TYPE, "t.json: grpc_services: expected an array, got an object"},
    /* aggregations */
    {"{" L ", 'aggregations': 'aggregations/*.json'}", CONFIG_ERR_TYPE,
     "t.json: aggregations: expected an array, got 'aggregations/*.json'"},
    {"{" L ", 'aggregations': ['aggregations/nope.json']}", CONFIG_ERR_FILE,
     "t.json: aggregations[0]: cannot read '$D/aggregations/nope.json': No such file or directory"},
    {"{" L ", 'aggregations': ['aggregations/*.json', 1]}", CONFIG_ERR_TYPE, "t.json: aggregations[1]: expected a string, got 1"},
    /* limits */
    {"{" L ", 'limits': {'max_body': 1}}", CONFIG_ERR_UNKNOWN_KEY,
     "t.json: limits: unknown key 'max_body' (expected one of: max_request_body_bytes, max_header_bytes, "
     "max_json_depth)"},
    {"{" L ", 'limits': {'max_header_bytes': 100}}", CONFIG_ERR_VALUE,
     "t.json: limits.max_header_bytes: 100 is out of range (1024 to 1048576)"},
    {"{" L ", 'limits': {'max_json_depth': 0}}", CONFIG_ERR_VALUE, "t.json: limits.max_json_depth: 0 is out of range (1 to 1000)"},
    {"{" L ", 'limits': {'max_request_body_bytes': 2147483648}}", CONFIG_ERR_VALUE,
     "t.json: limits.max_request_body_bytes: 2147483648 is out of range (1 to 1073741824)"},
    {"{" L ", 'limits': []}", CONFIG_ERR_TYPE, "t.json: limits: expected an object, got an array"},
    /* forward_headers */
    {"{" L ", 'forward_headers': ['x-request-id', 'connection']}", CONFIG_ERR_VALUE,
     "t.json: forward_headers[1]: 'connection' is a hop-by-hop header and cannot be forwarded"},
    {"{" L ", 'forward_headers': ['te']}", CONFIG_ERR_VALUE, "forward_headers[0]: 'te' is a hop-by-hop header"},
    {"{" L ", 'forward_headers': ['host']}", CONFIG_ERR_VALUE, "forward_headers[0]: 'host' is a hop-by-hop header"},
    {"{" L ", 'forward_headers': ['transfer-encoding']}", CONFIG_ERR_VALUE,
     "forward_headers[0]: 'transfer-encoding' is a hop-by-hop header"},
    {"{" L ", 'forward_headers': ['keep-alive']}", CONFIG_ERR_VALUE, "'keep-alive' is a hop-by-hop header"},
    {"{" L ", 'forward_headers': ['proxy-connection']}", CONFIG_ERR_VALUE, "'proxy-connection' is a hop-by-hop header"},
    {"{" L ", 'forward_headers': ['upgrade']}", CONFIG_ERR_VALUE, "'upgrade' is a hop-by-hop header"},
    {"{" L ", 'forward_headers': ['X-Request-Id']}", CONFIG_ERR_VALUE,
     "t.json: forward_headers[0]: 'X-Request-Id' must be lowercase"},
    {"{" L ", 'forward_headers': ['x request']}", CONFIG_ERR_VALUE,
     "t.json: forward_headers[0]: 'x request' is not a valid header name"},
    {"{" L ", 'forward_headers': [':authority']}", CONFIG_ERR_VALUE, "':authority' is not a valid header name"},
    {"{" L ", 'forward_headers': ['grpc-timeout']}", CONFIG_ERR_VALUE,
     "t.json: forward_headers[0]: 'grpc-timeout' is set by the gateway itself and cannot be forwarded"},
    {"{" L ", 'forward_headers': ['content-type']}", CONFIG_ERR_VALUE, "'content-type' is set by the gateway itself"},
    {"{" L ", 'forward_headers': ['x-a', 'x-b', 'x-a']}", CONFIG_ERR_DUPLICATE,
     "t.json: forward_headers[2]: 'x-a' is already listed as forward_headers[0]"},
    {"{" L ", 'forward_headers': ['']}", CONFIG_ERR_VALUE, "t.json: forward_headers[0]: must not be empty"},
    {"{" L ", 'forward_headers': 'x-request-id'}", CONFIG_ERR_TYPE,
     "t.json: forward_headers: expected an array, got 'x-request-id'"},
    /* access_log */
    {"{" L ", 'access_log': 'nodir/access.log'}", CONFIG_ERR_FILE,
     "t.json: access_log: cannot use directory '$D/nodir' for the log: No such file or directory"},
    {"{" L ", 'access_log': 'shop.pb/access.log'}", CONFIG_ERR_FILE, "t.json: access_log: '$D/shop.pb' is not a directory"},
    {"{" L ", 'access_log': 'logs/'}", CONFIG_ERR_VALUE, "t.json: access_log: '$D/logs/' names a directory"},
    {"{" L ", 'access_log': ''}", CONFIG_ERR_VALUE, "t.json: access_log: must not be empty"},
    {"{" L ", 'access_log': false}", CONFIG_ERR_TYPE, "t.json: access_log: expected a string, got false"},
    /* cors */
    {"{" L ", 'cors': true}", CONFIG_ERR_TYPE, "t.json: cors: expected an object, got true"},
    {"{" L ", 'cors': {}}", CONFIG_ERR_MISSING, "t.json: cors: missing required key 'allowed_origins'"},
    {"{" L ", 'cors': {'allowed_origins': []}}", CONFIG_ERR_MISSING, "t.json: cors.allowed_origins: at least one origin"},
    {"{" L ", 'cors': {'allowed_origins': ['*'], 'allowed_origin': ['x']}}", CONFIG_ERR_UNKNOWN_KEY,
     "t.json: cors: unknown key 'allowed_origin' (expected one of: allowed_origins, allowed_methods, allowed_headers, "
     "exposed_headers, max_age_s, allow_credentials)"},
    {"{" L ", 'cors': {'allowed_origins': 'https://a.example'}}", CONFIG_ERR_TYPE,
     "t.json: cors.allowed_origins: expected an array, got 'https://a.example'"},
    {"{" L ", 'cors': {'allowed_origins': ['https://a.example/']}}", CONFIG_ERR_VALUE,
     "t.json: cors.allowed_origins[0]: 'https://a.example/' ends with a slash (an origin has no path)"},
    {"{" L ", 'cors': {'allowed_origins': ['*', 'https://a.example/app']}}", CONFIG_ERR_VALUE,
     "t.json: cors.allowed_origins[1]: 'https://a.example/app' has a path"},
    {"{" L ", 'cors': {'allowed_origins': ['a.example']}}", CONFIG_ERR_VALUE,
     "t.json: cors.allowed_origins[0]: 'a.example' is not scheme://host[:port]"},
    {"{" L ", 'cors': {'allowed_origins': ['http://a.example:80x']}}", CONFIG_ERR_VALUE,
     "cors.allowed_origins[0]: 'http://a.example:80x' has a port that is neither a number nor *"},
    {"{" L ", 'cors': {'allowed_origins': ['https://A.example', 'https://a.example']}}", CONFIG_ERR_DUPLICATE,
     "t.json: cors.allowed_origins[1]: 'https://a.example' is already listed as allowed_origins[0]"},
    {"{" L ", 'cors': {'allowed_origins': ['*'], 'allowed_methods': ['GET', 'PO ST']}}", CONFIG_ERR_VALUE,
     "t.json: cors.allowed_methods[1]: 'PO ST' is not an HTTP method"},
    {"{" L ", 'cors': {'allowed_origins': ['*'], 'allowed_methods': []}}", CONFIG_ERR_MISSING,
     "t.json: cors.allowed_methods: at least one method is required"},
    {"{" L ", 'cors': {'allowed_origins': ['*'], 'allowed_headers': ['X-Ok', 'X:Bad']}}", CONFIG_ERR_VALUE,
     "t.json: cors.allowed_headers[1]: 'X:Bad' is not a header name"},
    {"{" L ", 'cors': {'allowed_origins': ['*'], 'exposed_headers': ['*']}}", CONFIG_ERR_VALUE,
     "t.json: cors.exposed_headers[0]: '*' is not a header name"},
    {"{" L ", 'cors': {'allowed_origins': ['*'], 'max_age_s': 86401}}", CONFIG_ERR_VALUE,
     "t.json: cors.max_age_s: 86401 is out of range (0 to 86400)"},
    {"{" L ", 'cors': {'allowed_origins': ['*'], 'allow_credentials': 'yes'}}", CONFIG_ERR_TYPE,
     "t.json: cors.allow_credentials: expected a boolean, got 'yes'"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'grpc_services': [{'service': 's.B', 'upstream': 'price', 'cors': "
     "{'max_age_s': 5}}]}",
     CONFIG_ERR_MISSING, "t.json: grpc_services[0].cors: missing required key 'allowed_origins'"},
    {"{" L ", 'descriptors': ['shop.pb'], " UPS ", 'cors': {'allowed_origins': ['*']}, 'grpc_services': [{'service': "
     "'s.B', 'upstream': 'price', 'cors': {'allowed_origins': ['ftp:/x']}}]}",
     CONFIG_ERR_VALUE, "t.json: grpc_services[0].cors.allowed_origins[0]: 'ftp:/x' is not scheme://host[:port]"},
    /* openapi */
    {"{" L ", 'openapi': true}", CONFIG_ERR_TYPE, "t.json: openapi: expected an object, got true"},
    {"{" L ", 'openapi': {'url': '/openapi.json'}}", CONFIG_ERR_UNKNOWN_KEY,
     "t.json: openapi: unknown key \"url\" (expected one of: path, title, version, description, servers)"},
    {"{" L ", 'openapi': {'path': 'openapi.json'}}", CONFIG_ERR_VALUE,
     "t.json: openapi.path: \"openapi.json\" is not a literal request path"},
    {"{" L ", 'openapi': {'path': '/openapi.json?x=1'}}", CONFIG_ERR_VALUE, "t.json: openapi.path: \"/openapi.json?x=1\""},
    {"{" L ", 'openapi': {'path': '/v1/{name}'}}", CONFIG_ERR_VALUE, "t.json: openapi.path: \"/v1/{name}\" is not"},
    {"{" L ", 'openapi': {'path': '/open%20api'}}", CONFIG_ERR_VALUE, "t.json: openapi.path:"},
    {"{" L ", 'openapi': {'path': '/open api'}}", CONFIG_ERR_VALUE, "t.json: openapi.path:"},
    {"{" L ", 'openapi': {'path': ''}}", CONFIG_ERR_VALUE, "t.json: openapi.path: must not be empty"},
    {"{" L ", 'openapi': {'title': 7}}", CONFIG_ERR_TYPE, "t.json: openapi.title: expected a string, got 7"},
    {"{" L ", 'openapi': {'version': ''}}", CONFIG_ERR_VALUE, "t.json: openapi.version: must not be empty"},
    {"{" L ", 'openapi': {'servers': 'https://a'}}", CONFIG_ERR_TYPE, "t.json: openapi.servers: expected an array"},
    {"{" L ", 'openapi': {'servers': ['https://a', 'https://a']}}", CONFIG_ERR_DUPLICATE,
     "t.json: openapi.servers[1]: \"https://a\" is already listed as servers[0]"},
    {"{" L ", 'openapi': {'servers': ['https://a b']}}", CONFIG_ERR_VALUE,
     "t.json: openapi.servers[0]: \"https://a b\" is not a URL"},
    {"{" L ", 'openapi': {'servers': [null]}}", CONFIG_ERR_TYPE, "t.json: openapi.servers[0]: expected a string, got null"},
    /* routes */
    {"{" L ", 'routes': 'shop.routes'}", CONFIG_ERR_TYPE, "t.json: routes: expected an array, got \"shop.routes\""},
    {"{" L ", 'routes': ['nope.routes']}", CONFIG_ERR_FILE, "t.json: routes[0]: cannot read \"$D/nope.routes\""},
    {"{" L ", 'routes': ['shop.routes', '$D/shop.routes']}", CONFIG_ERR_DUPLICATE,
     "t.json: routes[1]: \"$D/shop.routes\" is already listed as routes[0]"},
    {"{" L ", 'routes': ['shop.routes', 'bad.routes']}", CONFIG_ERR_SYNTAX,
     "t.json: routes[1]: $D/bad.routes:3: 4 fields where 9 are expected"},
    {"{" L ", 'routes': ['shop.pb']}", CONFIG_ERR_SYNTAX, "t.json: routes[0]: $D/shop.pb:1: not a portico routes table"},
    {"{" L ", 'routes': ['shop.routes', 'missing.routes']}", CONFIG_ERR_FILE,
     "t.json: routes[1]: cannot read \"$D/gone.pb\": No such file or directory (the descriptor set named on line 3 of the "
     "table, loaded because the config lists no \"descriptors\")"},
    {"{" L ", " UPS ", 'routes': ['noset.routes'], 'grpc_services': [{'service': 's.A', 'upstream': 'price'}]}", CONFIG_ERR_MISSING,
     "t.json: descriptors: grpc_services are configured but no descriptor set is listed"},
};

static void test_valid(void)
{
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]) + 1; i++) {
        const valid_case_t *tc = i < sizeof(valid_cases) / sizeof(valid_cases[0]) ? &valid_cases[i] : NULL;
        const char *json = tc ? tc->json : full_example;
        util_error_t err = {0};
        config_t *c = config_load_string(q(json), dir, "t.json", &err);
        if (c == NULL) {
            TEST_FAIL_("valid case %zu rejected: %s", i, err.message);
            continue;
        }
        const char *text = dump(c);
        const char *const *expected = tc ? tc->expected : full_expected;
        for (size_t j = 0; (tc == NULL || j < 12) && expected[j] != NULL; j++) {
            char line[1024];
            snprintf(line, sizeof(line), "\n%s\n", expected[j]);
            CHECK_STR_HAS(text, line);
        }
        config_free(c);
    }
}

static void test_invalid(void)
{
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const invalid_case_t *tc = &invalid_cases[i];
        util_error_t err = {0};
        config_t *c = config_load_string(q(tc->json), dir, "t.json", &err);
        if (c != NULL) {
            TEST_FAIL_("invalid case %zu accepted: %s", i, q(tc->json));
            config_free(c);
            continue;
        }
        if (err.code != tc->code)
            TEST_FAIL_("invalid case %zu: code %d, expected %d (%s)", i, err.code, tc->code, err.message);
        else
            test_passed_++;
        CHECK_STR_HAS(err.message, q2(tc->message));
        CHECK(strchr(err.message, '\n') == NULL);
    }
}

/* The structures themselves, beyond the dump: lookups, pointers between sections, a NULL error sink. */
static void test_structure(void)
{
    util_error_t err = {0};
    config_t *c = config_load_string(q(full_example), dir, "t.json", &err);
    if (c == NULL) {
        TEST_FAIL_("full example rejected: %s", err.message);
        return;
    }
    CHECK_STR_EQ(c->name, "t.json");
    CHECK(c->path == NULL);
    CHECK_STR_EQ(c->base_dir, dir);
    CHECK_INT_EQ(c->n_listen, 3);
    CHECK_INT_EQ(c->n_upstreams, 2);
    CHECK(config_upstream_find(c, "reviews") == &c->upstreams[1]);
    CHECK(config_upstream_find(c, "nope") == NULL);
    CHECK(config_grpc_service_find(c, "shop.v1.StockService") == &c->grpc_services[1]);
    CHECK(config_grpc_service_find(c, "shop.v1.Nope") == NULL);
    CHECK(c->grpc_services[0].upstream == &c->upstreams[0]);
    CHECK(c->listen[0].tls == NULL);
    CHECK(c->upstreams[1].tls == NULL);
    CHECK_INT_EQ(c->listen[2].protocol, CONFIG_LISTEN_GRPC);
    CHECK_INT_EQ(c->upstreams[1].protocol, CONFIG_UPSTREAM_HTTP);
    config_free(c);

    config_free(NULL);
    CHECK(config_load_string("{", dir, NULL, NULL) == NULL); /* no error sink: still no crash */
    CHECK(config_load_string(q("{'listen': [{'port': 'x'}]}"), dir, NULL, &err) == NULL);
    CHECK_STR_HAS(err.message, "config: listen[0].port:");
    CHECK(config_load_string(q("{'listen': [{'port': 1}]}"), "/nonexistent-portico-dir", "t.json", &err) == NULL);
    CHECK_INT_EQ(err.code, CONFIG_ERR_IO);
    CHECK_STR_HAS(err.message, "t.json: base directory \"/nonexistent-portico-dir\": No such file or directory");
}

/* config_load_file: the file's own directory is the base; messages use the path as given. */
static void test_file(void)
{
    write_file("sub/portico.json", q("{'listen': [{'port': 0}], 'descriptors': ['../shop.pb', 'local.pb'],\n"
                                     " 'aggregations': ['../aggregations/*.json']}"));
    write_file("sub/local.pb", "x");
    write_file("sub/broken.json", q("{'listen': [{'port': 0}],\n  'workers': 2,\n  'x': }"));
    write_file("sub/bad.json", q("{'listen': [{'port': 0}], 'descriptors': ['nope.pb']}"));

    char path[512];
    util_error_t err = {0};
    snprintf(path, sizeof(path), "%s/sub/portico.json", dir);
    config_t *c = config_load_file(path, &err);
    if (c == NULL) {
        TEST_FAIL_("load_file: %s", err.message);
    } else {
        char expect[512];
        CHECK_STR_EQ(c->path, path);
        snprintf(expect, sizeof(expect), "%s/sub", dir);
        CHECK_STR_EQ(c->base_dir, expect);
        snprintf(expect, sizeof(expect), "%s/sub/../shop.pb", dir);
        CHECK_STR_EQ(c->descriptors[0], expect);
        snprintf(expect, sizeof(expect), "%s/sub/local.pb", dir);
        CHECK_STR_EQ(c->descriptors[1], expect);
        CHECK_INT_EQ(c->n_aggregations, 2);
        CHECK_STR_HAS(c->aggregations[1], "/sub/../aggregations/b.json");
        config_free(c);
    }

    /* relative to the working directory: the name in messages is the path as given */
    char cwd[512];
    if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(dir) != 0) {
        TEST_FAIL_("chdir");
        return;
    }
    static const struct {
        const char *path;
        int code;
        const char *message;
    } cases[] = {
        {"sub/broken.json", CONFIG_ERR_SYNTAX, "sub/broken.json:3:8: unexpected token"},
        {"sub/bad.json", CONFIG_ERR_FILE, "sub/bad.json: descriptors[0]: cannot read \"$D/sub/nope.pb\""},
        {"sub/missing.json", CONFIG_ERR_IO, "sub/missing.json: cannot read: No such file or directory"},
        {"sub", CONFIG_ERR_IO, "sub: cannot read: Is a directory"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = config_load_file(cases[i].path, &err);
        CHECK(c == NULL);
        config_free(c);
        CHECK_INT_EQ(err.code, cases[i].code);
        CHECK_STR_HAS(err.message, q2(cases[i].message));
    }
    c = config_load_file("sub/portico.json", &err);
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK_STR_EQ(c->name, "sub/portico.json");
        CHECK(c->path != NULL && c->path[0] == '/');
        config_free(c);
    }
    if (chdir(cwd) != 0)
        TEST_FAIL_("chdir back");
}

/* Every prefix of a valid config is rejected cleanly (the sanitizers watch for the rest). */
static void test_prefixes(void)
{
    char text[sizeof(full_example)];
    snprintf(text, sizeof(text), "%s", q(full_example));
    size_t n = strlen(text), rejected = 0;
    for (size_t i = 0; i < n - 1; i++) {
        char saved = text[i];
        text[i] = '\0';
        util_error_t err = {0};
        config_t *c = config_load_string(text, dir, "t.json", &err);
        rejected += c == NULL && err.message[0] != '\0';
        config_free(c);
        text[i] = saved;
    }
    CHECK_INT_EQ(rejected, n - 1);
}

int main(void)
{
    setup();
    test_valid();
    test_invalid();
    test_structure();
    test_file();
    test_prefixes();
    teardown();
    return test_summary();
}
