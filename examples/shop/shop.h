/*
 * shop.h — internal interface of the example shop backend (examples/shop/shop-backend).
 *
 * The backend is a plain gRPC server on grpc core's C API: main.c accepts calls and hands
 * each one to an idle worker thread of its pool, or to a new one, so that calls never wait
 * for each other. The worker runs the call (call.c): reads the request, applies the test
 * hooks carried in request metadata, and runs the method's handler (price_service.c,
 * price_csv.c, stock_service.c) over the in-memory catalog (catalog.c). A handler only sees a
 * shop_call_t: it sends messages with shop_call_send() and ends with an error through
 * shop_call_fail*(); returning without a failure ends the call with OK. Nothing here is
 * portico code: the backend is what the gateway is tested against, so it shares no code
 * with it.
 */
#ifndef SHOP_SHOP_H
#define SHOP_SHOP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

#include "shop/v1/shop.pb-c.h"

/* ---- server-wide settings (main.c) -------------------------------------------------- */

typedef struct shop_config {
    int watch_interval_ms; /* WatchPrice default delay between updates */
    int grace_ms;          /* on SIGTERM, how long in-flight calls may run before cancel */
    int max_calls;         /* concurrent calls (each holds a worker thread); more get RESOURCE_EXHAUSTED */
    int quiet;             /* no per-call log lines */
} shop_config_t;

/* ---- one call (call.c) ---------------------------------------------------------------- */

typedef struct shop_call shop_call_t;

/* Kinds of google.rpc error detail attached as grpc-status-details-bin. */
typedef enum shop_detail_kind {
    SHOP_DETAIL_NONE = 0,
    SHOP_DETAIL_ERROR_INFO,  /* google.rpc.ErrorInfo{reason, domain, metadata{key: value}} */
    SHOP_DETAIL_BAD_REQUEST, /* google.rpc.BadRequest{field_violations[{field, description}]} */
} shop_detail_kind_t;

typedef void (*shop_handler_fn)(shop_call_t *call, const ProtobufCMessage *request);

typedef struct shop_method {
    const char *path; /* "/shop.v1.PriceService/GetPrice" */
    const ProtobufCMessageDescriptor *request_type;
    shop_handler_fn handler;
    int server_streaming;
} shop_method_t;

/* What grpc_server_request_call filled in. shop_call_run frees it all but |cq|, which stays
 * with main.c and is bound to a later call. */
typedef struct shop_call_start {
    grpc_call *call;
    grpc_completion_queue *cq; /* pluck queue bound to |call| */
    grpc_call_details details;
    grpc_metadata_array metadata;
} shop_call_start_t;

/* Runs one call to completion on the calling thread, releases the call and frees |start|'s
 * details and metadata. |start->cq| is left empty (every batch plucked), still owned by the
 * caller. */
void shop_call_run(shop_call_start_t *start, const shop_config_t *config);

/* Sends one response message (with the initial metadata before the first). Returns 0, or -1
 * when the call is over: the client went away, or the x-test-abort-after hook fired (the
 * call's status is then already set). A handler stops sending after -1. A unary method's
 * message is held and goes out with the status when the handler returns. */
int shop_call_send(shop_call_t *call, const ProtobufCMessage *message);

/* Ends the call with |code| and a printf-style message; the first failure wins. */
void shop_call_fail(shop_call_t *call, grpc_status_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* As shop_call_fail, with a google.rpc.BadRequest detail naming |field|; the message is
 * also the violation's description. */
void shop_call_fail_field(shop_call_t *call, grpc_status_code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* As shop_call_fail, with a google.rpc.ErrorInfo detail {reason, domain "shop.example.com",
 * metadata {key: value}} (|key| may be NULL). */
void shop_call_fail_reason(shop_call_t *call, grpc_status_code code, const char *reason, const char *key, const char *value,
                           const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Waits |ms| milliseconds. Returns 0, or -1 if the call was cancelled meanwhile (client
 * gone, deadline passed, server shutting down). */
int shop_call_sleep_ms(shop_call_t *call, int ms);

const shop_config_t *shop_call_config(const shop_call_t *call);

/* The CSV price list of PriceService (price_csv.c): ExportPrices and ImportPrices, whose
 * file travels as a google.api.HttpBody. */
void shop_price_export(shop_call_t *call, const ProtobufCMessage *request);
void shop_price_import(shop_call_t *call, const ProtobufCMessage *request);

/* The method table: PriceService and StockService. */
const shop_method_t *shop_method_find(const char *path, size_t len);
extern const shop_method_t shop_price_methods[];
extern const size_t shop_price_method_count;
extern const shop_method_t shop_stock_methods[];
extern const size_t shop_stock_method_count;

/* ---- the catalog (catalog.c) ---------------------------------------------------------- */

#define SHOP_MAX_TAGS 8
#define SHOP_MAX_ATTRS 8
#define SHOP_TEXT_MAX 64
#define SHOP_WAREHOUSE_COUNT 5
#define SHOP_CATALOG_MAX 16                  /* products; the catalog holds 5 */
#define SHOP_MAX_UNIT_MICROS 1000000000000LL /* 1,000,000.00 USD */

typedef struct shop_product {
    char sku[32];
    char display_name[SHOP_TEXT_MAX];
    int64_t unit_usd_micros;
    Shop__V1__PriceKind kind;
    int64_t compare_at_usd_micros; /* 0: none */
    char tags[SHOP_MAX_TAGS][SHOP_TEXT_MAX];
    size_t n_tags;
    char attr_keys[SHOP_MAX_ATTRS][SHOP_TEXT_MAX];
    char attr_values[SHOP_MAX_ATTRS][SHOP_TEXT_MAX];
    size_t n_attrs;
    int64_t updated_at_s;
    int32_t updated_at_nanos;
    int64_t version;
    int32_t available[SHOP_WAREHOUSE_COUNT]; /* per shop_warehouses[] index */
    int32_t reserved;
    int discontinued;
    int64_t restock_at_s; /* 0: none */
} shop_product_t;

typedef struct shop_warehouse {
    const char *id;
    const char *display_name;
    const char *street, *city, *postal_code, *country;
    const char *region;
    Shop__V1__Warehouse__Kind kind;
    const char *capabilities[4];
    int active;
    int handling_days;
} shop_warehouse_t;

extern const shop_warehouse_t shop_warehouses[SHOP_WAREHOUSE_COUNT];

/* The catalog is shared by all call threads: hold the lock around find/modify. */
void shop_catalog_lock(void);
void shop_catalog_unlock(void);
/* Returns the stored product, or NULL for an unknown SKU. Caller holds the lock. */
shop_product_t *shop_catalog_find_locked(const char *sku);
/* Copies the product out under the lock. Returns 0, or -1 for an unknown SKU. */
int shop_catalog_get(const char *sku, shop_product_t *out);
/* Returns the index of warehouse |id| in shop_warehouses, or -1. */
int shop_warehouse_index(const char *id);
/* Copies at most |max| products out under the lock, in catalog order. Returns how many. */
size_t shop_catalog_snapshot(shop_product_t *out, size_t max);
/* Next reservation number (1, 2, ...). */
int64_t shop_catalog_next_reservation(void);

/* A supported currency: ppm is how many millionths of a unit one USD unit is worth,
 * minor is the smallest amount in micros (10000 for cents, 1000000 for yen). */
typedef struct shop_currency {
    const char *code;
    int64_t ppm;
    int64_t minor_micros;
} shop_currency_t;

/* Looks |code| up (empty means USD). Returns NULL for an unsupported currency. */
const shop_currency_t *shop_currency_find(const char *code);
/* Converts a USD amount to |currency|, rounded half away from zero to its minor unit. */
int64_t shop_currency_convert(int64_t usd_micros, const shop_currency_t *currency);

#endif
