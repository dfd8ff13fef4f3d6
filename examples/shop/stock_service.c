/*
 * stock_service.c — shop.v1.StockService: GetStock, GetWarehouse, ListWarehouses (paged, no
 * HTTP binding) and ReserveStock, over the catalog in catalog.c.
 *
 * Availability is kept per product and warehouse; a reservation takes units out of one
 * warehouse for the life of the process (there is no expiry: tests want stable numbers).
 * Page tokens are "offset:N", opaque to clients but easy to read in a log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shop.h"

#define STOCK_LOW_THRESHOLD 5
#define STOCK_MAX_RESERVE 1000
#define STOCK_MAX_LABELS 16
#define STOCK_HOLD_SECONDS 900
#define STOCK_DEFAULT_PAGE 10
#define STOCK_MAX_PAGE 100

static void stock_get(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__GetStockRequest *req = (const Shop__V1__GetStockRequest *)request;
    if (req->sku[0] == '\0') {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "sku", "sku is required");
        return;
    }
    int only = -1;
    if (req->warehouse[0] != '\0') {
        only = shop_warehouse_index(req->warehouse);
        if (only < 0) {
            shop_call_fail_reason(call, GRPC_STATUS_NOT_FOUND, "WAREHOUSE_NOT_FOUND", "warehouse", req->warehouse,
                                  "warehouse \"%s\" not found", req->warehouse);
            return;
        }
    }
    shop_product_t p;
    if (shop_catalog_get(req->sku, &p) != 0) {
        shop_call_fail_reason(call, GRPC_STATUS_NOT_FOUND, "PRODUCT_NOT_FOUND", "sku", req->sku, "product \"%s\" not found",
                              req->sku);
        return;
    }

    Shop__V1__Stock stock = SHOP__V1__STOCK__INIT;
    Shop__V1__Stock__AvailableByWarehouseEntry entries[SHOP_WAREHOUSE_COUNT];
    Shop__V1__Stock__AvailableByWarehouseEntry *entry_ptrs[SHOP_WAREHOUSE_COUNT];
    Google__Protobuf__Timestamp restock = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    int best = -1;
    for (int i = 0; i < SHOP_WAREHOUSE_COUNT; i++) {
        if (only >= 0 ? i != only : !shop_warehouses[i].active)
            continue;
        Shop__V1__Stock__AvailableByWarehouseEntry *e = &entries[stock.n_available_by_warehouse];
        shop__v1__stock__available_by_warehouse_entry__init(e);
        e->key = (char *)shop_warehouses[i].id;
        e->value = p.available[i];
        entry_ptrs[stock.n_available_by_warehouse++] = e;
        stock.available += p.available[i];
        if (p.available[i] > 0 && (best < 0 || p.available[i] > p.available[best]))
            best = i;
    }
    stock.available_by_warehouse = entry_ptrs;
    stock.sku = p.sku;
    stock.warehouse = only >= 0 ? (char *)shop_warehouses[only].id : best >= 0 ? (char *)shop_warehouses[best].id : "";
    stock.reserved = p.reserved;
    if (p.discontinued)
        stock.status = SHOP__V1__STOCK_STATUS__STOCK_STATUS_DISCONTINUED;
    else if (stock.available == 0)
        stock.status = SHOP__V1__STOCK_STATUS__STOCK_STATUS_OUT_OF_STOCK;
    else if (stock.available < STOCK_LOW_THRESHOLD)
        stock.status = SHOP__V1__STOCK_STATUS__STOCK_STATUS_LOW_STOCK;
    else
        stock.status = SHOP__V1__STOCK_STATUS__STOCK_STATUS_IN_STOCK;
    if (stock.status == SHOP__V1__STOCK_STATUS__STOCK_STATUS_OUT_OF_STOCK && p.restock_at_s > 0) {
        restock.seconds = p.restock_at_s;
        stock.restock_at = &restock;
    }
    shop_call_send(call, &stock.base);
}

/* One Warehouse message with the storage its pointers refer to (as price_view_t does for
 * Price), filled from a catalog row. */
typedef struct warehouse_view {
    Shop__V1__Warehouse msg;
    Shop__V1__Warehouse__Address address;
    Google__Protobuf__Int32Value handling_days;
    char *capabilities[4];
} warehouse_view_t;

static void warehouse_view_init(warehouse_view_t *v, const shop_warehouse_t *src)
{
    Shop__V1__Warehouse *w = &v->msg;
    shop__v1__warehouse__init(w);
    w->id = (char *)src->id;
    w->display_name = (char *)src->display_name;
    w->kind = src->kind;
    w->region = (char *)src->region;
    w->active = src->active;
    shop__v1__warehouse__address__init(&v->address);
    v->address.street = (char *)src->street;
    v->address.city = (char *)src->city;
    v->address.postal_code = (char *)src->postal_code;
    v->address.country = (char *)src->country;
    w->address = &v->address;
    google__protobuf__int32_value__init(&v->handling_days);
    v->handling_days.value = src->handling_days;
    w->handling_days = &v->handling_days;
    w->capabilities = v->capabilities;
    for (size_t c = 0; c < 4 && src->capabilities[c] != NULL; c++)
        v->capabilities[w->n_capabilities++] = (char *)src->capabilities[c];
}

static void stock_get_warehouse(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__GetWarehouseRequest *req = (const Shop__V1__GetWarehouseRequest *)request;
    if (req->id[0] == '\0') {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "id", "id is required");
        return;
    }
    int i = shop_warehouse_index(req->id);
    if (i < 0) {
        shop_call_fail_reason(call, GRPC_STATUS_NOT_FOUND, "WAREHOUSE_NOT_FOUND", "warehouse", req->id,
                              "warehouse \"%s\" not found", req->id);
        return;
    }
    warehouse_view_t v;
    warehouse_view_init(&v, &shop_warehouses[i]);
    shop_call_send(call, &v.msg.base);
}

/* Parses "offset:N". Returns N, or -1 when |token| is not one of ours. */
static int stock_parse_token(const char *token)
{
    if (strncmp(token, "offset:", 7) != 0 || token[7] < '0' || token[7] > '9')
        return -1;
    char *end;
    long v = strtol(token + 7, &end, 10);
    return *end == '\0' && v >= 0 && v <= 1000000 ? (int)v : -1;
}

static void stock_list_warehouses(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__ListWarehousesRequest *req = (const Shop__V1__ListWarehousesRequest *)request;
    if (req->page_size < 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "page_size", "page_size must not be negative, got %d",
                             (int)req->page_size);
        return;
    }
    int page_size = req->page_size == 0 ? STOCK_DEFAULT_PAGE : req->page_size > STOCK_MAX_PAGE ? STOCK_MAX_PAGE : req->page_size;
    int offset = 0;
    if (req->page_token[0] != '\0' && (offset = stock_parse_token(req->page_token)) < 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "page_token",
                             "page_token \"%s\" is not valid; pass next_page_token from the previous page", req->page_token);
        return;
    }

    int matching[SHOP_WAREHOUSE_COUNT], n_matching = 0;
    for (int i = 0; i < SHOP_WAREHOUSE_COUNT; i++) {
        const shop_warehouse_t *w = &shop_warehouses[i];
        if ((req->region[0] == '\0' || strcmp(req->region, w->region) == 0) && (w->active || req->show_inactive))
            matching[n_matching++] = i;
    }
    if (offset > n_matching) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "page_token",
                             "page_token \"%s\" is past the end of the %d matching warehouses", req->page_token, n_matching);
        return;
    }

    Shop__V1__ListWarehousesResponse resp = SHOP__V1__LIST_WAREHOUSES_RESPONSE__INIT;
    warehouse_view_t views[SHOP_WAREHOUSE_COUNT];
    Shop__V1__Warehouse *w_ptrs[SHOP_WAREHOUSE_COUNT];
    char next_token[32];
    resp.warehouses = w_ptrs;
    resp.total_size = n_matching;
    for (int k = offset; k < n_matching && (int)resp.n_warehouses < page_size; k++) {
        warehouse_view_init(&views[resp.n_warehouses], &shop_warehouses[matching[k]]);
        w_ptrs[resp.n_warehouses] = &views[resp.n_warehouses].msg;
        resp.n_warehouses++;
    }
    if (offset + (int)resp.n_warehouses < n_matching) {
        snprintf(next_token, sizeof next_token, "offset:%d", offset + (int)resp.n_warehouses);
        resp.next_page_token = next_token;
    }
    shop_call_send(call, &resp.base);
}

static void stock_reserve(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__ReserveStockRequest *req = (const Shop__V1__ReserveStockRequest *)request;
    if (req->sku[0] == '\0') {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "sku", "sku is required");
        return;
    }
    if (req->quantity < 1 || req->quantity > STOCK_MAX_RESERVE) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "quantity", "quantity must be between 1 and %d, got %d",
                             STOCK_MAX_RESERVE, (int)req->quantity);
        return;
    }
    if (req->n_labels > STOCK_MAX_LABELS) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "labels", "labels holds at most %d entries, got %zu",
                             STOCK_MAX_LABELS, req->n_labels);
        return;
    }
    int wanted = -1;
    if (req->warehouse[0] != '\0') {
        wanted = shop_warehouse_index(req->warehouse);
        if (wanted < 0) {
            shop_call_fail_reason(call, GRPC_STATUS_NOT_FOUND, "WAREHOUSE_NOT_FOUND", "warehouse", req->warehouse,
                                  "warehouse \"%s\" not found", req->warehouse);
            return;
        }
        if (!shop_warehouses[wanted].active) {
            shop_call_fail_reason(call, GRPC_STATUS_FAILED_PRECONDITION, "WAREHOUSE_INACTIVE", "warehouse", req->warehouse,
                                  "warehouse \"%s\" is closed", req->warehouse);
            return;
        }
    }

    shop_catalog_lock();
    shop_product_t *p = shop_catalog_find_locked(req->sku);
    if (p == NULL) {
        shop_catalog_unlock();
        shop_call_fail_reason(call, GRPC_STATUS_NOT_FOUND, "PRODUCT_NOT_FOUND", "sku", req->sku, "product \"%s\" not found",
                              req->sku);
        return;
    }
    if (p->discontinued) {
        shop_catalog_unlock();
        shop_call_fail_reason(call, GRPC_STATUS_FAILED_PRECONDITION, "PRODUCT_DISCONTINUED", "sku", req->sku,
                              "product \"%s\" is discontinued and cannot be reserved", req->sku);
        return;
    }
    int w = wanted;
    if (w < 0)
        for (int i = 0; i < SHOP_WAREHOUSE_COUNT; i++)
            if (shop_warehouses[i].active && (w < 0 || p->available[i] > p->available[w]))
                w = i;
    int32_t have = p->available[w];
    if (have < req->quantity) {
        shop_catalog_unlock();
        char text[16];
        snprintf(text, sizeof text, "%d", (int)have);
        shop_call_fail_reason(call, GRPC_STATUS_FAILED_PRECONDITION, "INSUFFICIENT_STOCK", "available", text,
                              "only %d units of \"%s\" available in %s, asked for %d", (int)have, req->sku, shop_warehouses[w].id,
                              (int)req->quantity);
        return;
    }
    p->available[w] -= req->quantity;
    p->reserved += req->quantity;
    int32_t remaining = p->available[w];
    shop_catalog_unlock();

    char id[32];
    snprintf(id, sizeof id, "res-%06lld", (long long)shop_catalog_next_reservation());
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    Google__Protobuf__Timestamp expires = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    expires.seconds = now.tv_sec + STOCK_HOLD_SECONDS;
    Shop__V1__Reservation__LabelsEntry labels[STOCK_MAX_LABELS];
    Shop__V1__Reservation__LabelsEntry *label_ptrs[STOCK_MAX_LABELS];
    Shop__V1__Reservation r = SHOP__V1__RESERVATION__INIT;
    for (size_t i = 0; i < req->n_labels; i++) {
        shop__v1__reservation__labels_entry__init(&labels[i]);
        labels[i].key = req->labels[i]->key;
        labels[i].value = req->labels[i]->value;
        label_ptrs[i] = &labels[i];
    }
    r.n_labels = req->n_labels;
    r.labels = label_ptrs;
    r.reservation_id = id;
    r.sku = req->sku;
    r.quantity = req->quantity;
    r.warehouse = (char *)shop_warehouses[w].id;
    r.order_id = req->order_id;
    r.state = SHOP__V1__RESERVATION__STATE__STATE_HELD;
    r.expires_at = &expires;
    r.remaining = remaining;
    shop_call_send(call, &r.base);
}

const shop_method_t shop_stock_methods[] = {
    {"/shop.v1.StockService/GetStock", &shop__v1__get_stock_request__descriptor, stock_get, 0},
    {"/shop.v1.StockService/GetWarehouse", &shop__v1__get_warehouse_request__descriptor, stock_get_warehouse, 0},
    {"/shop.v1.StockService/ListWarehouses", &shop__v1__list_warehouses_request__descriptor, stock_list_warehouses, 0},
    {"/shop.v1.StockService/ReserveStock", &shop__v1__reserve_stock_request__descriptor, stock_reserve, 0},
};
const size_t shop_stock_method_count = sizeof shop_stock_methods / sizeof shop_stock_methods[0];
