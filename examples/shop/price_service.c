/*
 * price_service.c — shop.v1.PriceService: GetPrice, BatchGetPrices, UpdatePrice and the
 * server-streaming WatchPrice, over the catalog in catalog.c (ExportPrices and ImportPrices,
 * the CSV price list, are in price_csv.c).
 *
 * Quotes are computed in USD micros and converted once at the end: subtotal = unit price x
 * quantity, then a 5% bulk discount from 10 units, then the promotion code (SAVE10: 10%
 * off; WELCOME5: 5.00 USD off). A price_view_t holds one Price message together with the
 * storage its pointers refer to, so a handler builds replies on its stack without any
 * allocation to free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shop.h"

#define PRICE_MAX_QUANTITY 10000
#define PRICE_MAX_BATCH 100
#define PRICE_MAX_UPDATES 1000
#define PRICE_MAX_INTERVAL_MS 60000
#define PRICE_BULK_QUANTITY 10

typedef struct price_view {
    shop_product_t product; /* the snapshot the message points into */
    Shop__V1__Price msg;
    Google__Protobuf__Timestamp updated_at;
    Google__Protobuf__Int64Value compare_at;
    Shop__V1__Discount discounts[2];
    Shop__V1__Discount *discount_ptrs[2];
    Shop__V1__Price__AttributesEntry attrs[SHOP_MAX_ATTRS];
    Shop__V1__Price__AttributesEntry *attr_ptrs[SHOP_MAX_ATTRS];
    char *tag_ptrs[SHOP_MAX_TAGS];
} price_view_t;

/* Fills |v| from product |p|: everything but the quote (quantity 1, no discounts). */
static void price_view_init(price_view_t *v, const shop_product_t *p, const shop_currency_t *cur)
{
    memset(v, 0, sizeof *v);
    v->product = *p;
    shop_product_t *q = &v->product;
    shop__v1__price__init(&v->msg);
    v->msg.sku = q->sku;
    v->msg.display_name = q->display_name;
    v->msg.currency = (char *)cur->code;
    v->msg.kind = q->kind;
    v->msg.version = q->version;
    v->msg.quantity = 1;
    v->msg.unit_amount_micros = shop_currency_convert(q->unit_usd_micros, cur);
    v->msg.amount_micros = v->msg.unit_amount_micros;
    google__protobuf__timestamp__init(&v->updated_at);
    v->updated_at.seconds = q->updated_at_s;
    v->updated_at.nanos = q->updated_at_nanos;
    v->msg.updated_at = &v->updated_at;
    if (q->compare_at_usd_micros > 0) {
        google__protobuf__int64_value__init(&v->compare_at);
        v->compare_at.value = shop_currency_convert(q->compare_at_usd_micros, cur);
        v->msg.compare_at_micros = &v->compare_at;
    }
    for (size_t i = 0; i < q->n_tags; i++)
        v->tag_ptrs[i] = q->tags[i];
    v->msg.n_tags = q->n_tags;
    v->msg.tags = v->tag_ptrs;
    for (size_t i = 0; i < q->n_attrs; i++) {
        shop__v1__price__attributes_entry__init(&v->attrs[i]);
        v->attrs[i].key = q->attr_keys[i];
        v->attrs[i].value = q->attr_values[i];
        v->attr_ptrs[i] = &v->attrs[i];
    }
    v->msg.n_attributes = q->n_attrs;
    v->msg.attributes = v->attr_ptrs;
    v->msg.discounts = v->discount_ptrs;
}

static Shop__V1__Discount *price_add_discount(price_view_t *v, Shop__V1__Discount__Type type, const char *code,
                                              const char *description)
{
    Shop__V1__Discount *d = &v->discounts[v->msg.n_discounts];
    shop__v1__discount__init(d);
    d->type = type;
    d->code = (char *)code;
    d->description = (char *)description;
    v->discount_ptrs[v->msg.n_discounts++] = d;
    return d;
}

/* |bps| basis points of |amount|, in 128 bits: the largest quote (10000 units of a
 * 1,000,000 USD product) times 1000 bps does not fit in 64. */
static int64_t price_percent_of(int64_t amount, int32_t bps)
{
    return (int64_t)((__int128)amount * bps / 10000);
}

/* Validates the quantity, currency and promotion code of one quote and fills |v|. |field|
 * prefixes the names of offending fields ("" or "items[2]."). Returns 0, or -1 after
 * failing the call. */
static int price_quote(shop_call_t *call, price_view_t *v, const char *field, const char *sku, int32_t quantity,
                       const char *currency, const char *promo)
{
    char name[64];
    if (sku == NULL || sku[0] == '\0') {
        snprintf(name, sizeof name, "%ssku", field);
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, name, "%s is required", name);
        return -1;
    }
    if (quantity == 0)
        quantity = 1;
    if (quantity < 0 || quantity > PRICE_MAX_QUANTITY) {
        snprintf(name, sizeof name, "%squantity", field);
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, name, "%s must be between 1 and %d, got %d", name,
                             PRICE_MAX_QUANTITY, (int)quantity);
        return -1;
    }
    const shop_currency_t *cur = shop_currency_find(currency);
    if (cur == NULL) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "currency",
                             "currency \"%s\" is not supported; use USD, EUR, GBP or JPY", currency);
        return -1;
    }
    if (promo != NULL && promo[0] != '\0' && strcmp(promo, "SAVE10") != 0 && strcmp(promo, "WELCOME5") != 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "promo_code", "promo code \"%s\" is not valid", promo);
        return -1;
    }
    shop_product_t p;
    if (shop_catalog_get(sku, &p) != 0) {
        shop_call_fail_reason(call, GRPC_STATUS_NOT_FOUND, "PRODUCT_NOT_FOUND", "sku", sku, "product \"%s\" not found", sku);
        return -1;
    }

    price_view_init(v, &p, cur);
    int64_t total = p.unit_usd_micros * quantity;
    if (quantity >= PRICE_BULK_QUANTITY) {
        Shop__V1__Discount *d = price_add_discount(v, SHOP__V1__DISCOUNT__TYPE__TYPE_BULK, "BULK10", "5% off 10 units or more");
        d->value_case = SHOP__V1__DISCOUNT__VALUE_PERCENT_OFF_BPS;
        d->percent_off_bps = 500;
        total -= price_percent_of(total, 500);
    }
    if (promo != NULL && strcmp(promo, "SAVE10") == 0) {
        Shop__V1__Discount *d = price_add_discount(v, SHOP__V1__DISCOUNT__TYPE__TYPE_PROMO, "SAVE10", "10% off with SAVE10");
        d->value_case = SHOP__V1__DISCOUNT__VALUE_PERCENT_OFF_BPS;
        d->percent_off_bps = 1000;
        total -= price_percent_of(total, 1000);
    } else if (promo != NULL && strcmp(promo, "WELCOME5") == 0) {
        int64_t off = total < 5000000 ? total : 5000000;
        Shop__V1__Discount *d =
            price_add_discount(v, SHOP__V1__DISCOUNT__TYPE__TYPE_PROMO, "WELCOME5", "5.00 USD off your first order");
        d->value_case = SHOP__V1__DISCOUNT__VALUE_AMOUNT_OFF_MICROS;
        d->amount_off_micros = shop_currency_convert(off, cur);
        total -= off;
    }
    v->msg.quantity = quantity;
    v->msg.amount_micros = shop_currency_convert(total, cur);
    return 0;
}

static void price_get(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__GetPriceRequest *req = (const Shop__V1__GetPriceRequest *)request;
    price_view_t v;
    const char *promo = req->promo_code != NULL ? req->promo_code->value : NULL;
    if (price_quote(call, &v, "", req->sku, req->quantity, req->currency, promo) == 0)
        shop_call_send(call, &v.msg.base);
}

static void price_batch_get(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__BatchGetPricesRequest *req = (const Shop__V1__BatchGetPricesRequest *)request;
    if (req->n_items == 0 || req->n_items > PRICE_MAX_BATCH) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "items", "items must hold 1 to %d entries, got %zu",
                             PRICE_MAX_BATCH, req->n_items);
        return;
    }
    Shop__V1__BatchGetPricesResponse resp = SHOP__V1__BATCH_GET_PRICES_RESPONSE__INIT;
    price_view_t *views = calloc(req->n_items, sizeof *views);
    Shop__V1__Price **prices = calloc(req->n_items, sizeof *prices);
    char **missing = calloc(req->n_items, sizeof *missing);
    if (views == NULL || prices == NULL || missing == NULL) {
        shop_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory for %zu items", req->n_items);
        goto out;
    }
    const shop_currency_t *cur = shop_currency_find(req->currency);
    resp.currency = cur != NULL ? (char *)cur->code : req->currency;
    resp.prices = prices;
    resp.missing_skus = missing;
    for (size_t i = 0; i < req->n_items; i++) {
        const Shop__V1__BatchGetPricesRequest__Item *item = req->items[i];
        char field[32];
        snprintf(field, sizeof field, "items[%zu].", i);
        shop_product_t probe;
        if (req->allow_missing && item->sku[0] != '\0' && shop_catalog_get(item->sku, &probe) != 0) {
            missing[resp.n_missing_skus++] = item->sku;
            continue;
        }
        if (price_quote(call, &views[resp.n_prices], field, item->sku, item->quantity, req->currency, NULL) != 0)
            goto out;
        prices[resp.n_prices] = &views[resp.n_prices].msg;
        if (__builtin_add_overflow(resp.total_amount_micros, views[resp.n_prices].msg.amount_micros, &resp.total_amount_micros)) {
            shop_call_fail_field(call, GRPC_STATUS_OUT_OF_RANGE, "items",
                                 "the total of these items does not fit in int64 micros of %s", resp.currency);
            goto out;
        }
        resp.n_prices++;
    }
    shop_call_send(call, &resp.base);
out:
    free(views);
    free(prices);
    free(missing);
}

/* ---- UpdatePrice ---------------------------------------------------------------------- */

enum {
    UPD_UNIT = 1 << 0,
    UPD_AMOUNT = 1 << 1,
    UPD_KIND = 1 << 2,
    UPD_COMPARE_AT = 1 << 3,
    UPD_TAGS = 1 << 4,
    UPD_ATTRS = 1 << 5,
    UPD_NAME = 1 << 6,
};

static const struct {
    const char *path;
    unsigned bit;
} update_paths[] = {
    {"unit_amount_micros", UPD_UNIT},
    {"amount_micros", UPD_AMOUNT},
    {"kind", UPD_KIND},
    {"compare_at_micros", UPD_COMPARE_AT},
    {"tags", UPD_TAGS},
    {"attributes", UPD_ATTRS},
    {"display_name", UPD_NAME},
};

/* The fields an empty mask means: the updatable ones that are set in |p|. */
static unsigned update_implicit_mask(const Shop__V1__Price *p)
{
    unsigned m = 0;
    if (p->unit_amount_micros != 0)
        m |= UPD_UNIT;
    if (p->amount_micros != 0)
        m |= UPD_AMOUNT;
    if (p->kind != SHOP__V1__PRICE_KIND__PRICE_KIND_UNSPECIFIED)
        m |= UPD_KIND;
    if (p->compare_at_micros != NULL)
        m |= UPD_COMPARE_AT;
    if (p->n_tags > 0)
        m |= UPD_TAGS;
    if (p->n_attributes > 0)
        m |= UPD_ATTRS;
    if (p->display_name[0] != '\0')
        m |= UPD_NAME;
    return m;
}

static int update_text_ok(shop_call_t *call, const char *field, const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || n >= SHOP_TEXT_MAX) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, field, "%s must be 1 to %d characters, got %zu", field,
                             SHOP_TEXT_MAX - 1, n);
        return 0;
    }
    return 1;
}

/* Validates the update and writes it into |out| (a copy of the stored product). */
static int update_apply(shop_call_t *call, const Shop__V1__Price *p, unsigned mask, shop_product_t *out)
{
    if (mask & (UPD_UNIT | UPD_AMOUNT)) {
        int64_t unit = (mask & UPD_UNIT) ? p->unit_amount_micros : p->amount_micros;
        const char *field = (mask & UPD_UNIT) ? "price.unit_amount_micros" : "price.amount_micros";
        if (unit <= 0 || unit > SHOP_MAX_UNIT_MICROS) {
            shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, field, "%s must be between 1 and %lld micros, got %lld", field,
                                 (long long)SHOP_MAX_UNIT_MICROS, (long long)unit);
            return -1;
        }
        out->unit_usd_micros = unit;
    }
    if (mask & UPD_KIND) {
        if (p->kind < SHOP__V1__PRICE_KIND__PRICE_KIND_LIST || p->kind > SHOP__V1__PRICE_KIND__PRICE_KIND_CLEARANCE) {
            shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "price.kind",
                                 "price.kind must be PRICE_KIND_LIST, PRICE_KIND_SALE or PRICE_KIND_CLEARANCE, got %d",
                                 (int)p->kind);
            return -1;
        }
        out->kind = p->kind;
    }
    if (mask & UPD_COMPARE_AT) {
        int64_t c = p->compare_at_micros != NULL ? p->compare_at_micros->value : 0;
        if (c < 0 || c > SHOP_MAX_UNIT_MICROS) {
            shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "price.compare_at_micros",
                                 "price.compare_at_micros must be between 0 and %lld micros, got %lld",
                                 (long long)SHOP_MAX_UNIT_MICROS, (long long)c);
            return -1;
        }
        out->compare_at_usd_micros = c;
    }
    if (mask & UPD_TAGS) {
        if (p->n_tags > SHOP_MAX_TAGS) {
            shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "price.tags", "price.tags holds at most %d tags, got %zu",
                                 SHOP_MAX_TAGS, p->n_tags);
            return -1;
        }
        for (size_t i = 0; i < p->n_tags; i++) {
            char field[48];
            snprintf(field, sizeof field, "price.tags[%zu]", i);
            if (!update_text_ok(call, field, p->tags[i]))
                return -1;
            snprintf(out->tags[i], sizeof out->tags[i], "%s", p->tags[i]);
        }
        out->n_tags = p->n_tags;
    }
    if (mask & UPD_ATTRS) {
        if (p->n_attributes > SHOP_MAX_ATTRS) {
            shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "price.attributes",
                                 "price.attributes holds at most %d entries, got %zu", SHOP_MAX_ATTRS, p->n_attributes);
            return -1;
        }
        for (size_t i = 0; i < p->n_attributes; i++) {
            if (!update_text_ok(call, "price.attributes key", p->attributes[i]->key) ||
                strlen(p->attributes[i]->value) >= SHOP_TEXT_MAX) {
                shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "price.attributes",
                                     "price.attributes keys must be 1 to %d characters and values at most %d", SHOP_TEXT_MAX - 1,
                                     SHOP_TEXT_MAX - 1);
                return -1;
            }
            snprintf(out->attr_keys[i], sizeof out->attr_keys[i], "%s", p->attributes[i]->key);
            snprintf(out->attr_values[i], sizeof out->attr_values[i], "%s", p->attributes[i]->value);
        }
        out->n_attrs = p->n_attributes;
    }
    if (mask & UPD_NAME) {
        if (!update_text_ok(call, "price.display_name", p->display_name))
            return -1;
        snprintf(out->display_name, sizeof out->display_name, "%s", p->display_name);
    }
    return 0;
}

static void price_update(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__UpdatePriceRequest *req = (const Shop__V1__UpdatePriceRequest *)request;
    const Shop__V1__Price *p = req->price;
    if (p == NULL) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "price", "price is required");
        return;
    }
    if (p->sku[0] == '\0') {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "price.sku", "price.sku is required");
        return;
    }
    if (p->currency[0] != '\0' && strcmp(p->currency, "USD") != 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "price.currency",
                             "prices are stored in USD; price.currency must be empty or USD, got \"%s\"", p->currency);
        return;
    }
    unsigned mask = 0;
    if (req->update_mask == NULL || req->update_mask->n_paths == 0) {
        mask = update_implicit_mask(p);
    } else {
        for (size_t i = 0; i < req->update_mask->n_paths; i++) {
            const char *path = req->update_mask->paths[i];
            unsigned bit = 0;
            for (size_t k = 0; k < sizeof update_paths / sizeof update_paths[0]; k++)
                if (strcmp(update_paths[k].path, path) == 0)
                    bit = update_paths[k].bit;
            if (bit == 0) {
                shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "update_mask",
                                     "update_mask path \"%s\" is not updatable; use unit_amount_micros, amount_micros, kind, "
                                     "compare_at_micros, tags, attributes or display_name",
                                     path);
                return;
            }
            mask |= bit;
        }
    }
    if (mask == 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "update_mask",
                             "nothing to update: update_mask is empty and price sets no updatable field");
        return;
    }

    shop_catalog_lock();
    shop_product_t *stored = shop_catalog_find_locked(p->sku);
    if (stored == NULL) {
        shop_catalog_unlock();
        shop_call_fail_reason(call, GRPC_STATUS_NOT_FOUND, "PRODUCT_NOT_FOUND", "sku", p->sku, "product \"%s\" not found", p->sku);
        return;
    }
    if (req->expected_version != NULL && req->expected_version->value != stored->version) {
        char current[32];
        snprintf(current, sizeof current, "%lld", (long long)stored->version);
        long long expected = (long long)req->expected_version->value;
        shop_catalog_unlock();
        shop_call_fail_reason(call, GRPC_STATUS_ABORTED, "VERSION_MISMATCH", "version", current,
                              "product \"%s\" is at version %s, not %lld", p->sku, current, expected);
        return;
    }
    shop_product_t updated = *stored;
    if (update_apply(call, p, mask, &updated) != 0) {
        shop_catalog_unlock();
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    updated.version++;
    updated.updated_at_s = now.tv_sec;
    updated.updated_at_nanos = (int32_t)now.tv_nsec;
    *stored = updated;
    shop_catalog_unlock();

    price_view_t v;
    price_view_init(&v, &updated, shop_currency_find("USD"));
    shop_call_send(call, &v.msg.base);
}

/* ---- WatchPrice ------------------------------------------------------------------------- */

/* The deterministic walk of the unit price: +0.10, +0.20, -0.30, +0.40, +0.50, -0.60, ...
 * (USD), so it never drops below where it started. */
static int64_t watch_delta(int sequence)
{
    int k = sequence - 1;
    if (k <= 0)
        return 0;
    return (k % 3 == 0 ? -(int64_t)k : (int64_t)k) * 100000;
}

static void price_watch(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__WatchPriceRequest *req = (const Shop__V1__WatchPriceRequest *)request;
    int updates = req->updates == 0 ? 3 : req->updates;
    if (updates < 0 || updates > PRICE_MAX_UPDATES) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "updates", "updates must be between 1 and %d, got %d",
                             PRICE_MAX_UPDATES, (int)req->updates);
        return;
    }
    int interval = req->interval_ms == 0 ? shop_call_config(call)->watch_interval_ms : req->interval_ms;
    if (interval < 0 || interval > PRICE_MAX_INTERVAL_MS) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "interval_ms", "interval_ms must be between 0 and %d, got %d",
                             PRICE_MAX_INTERVAL_MS, (int)req->interval_ms);
        return;
    }
    price_view_t v;
    if (price_quote(call, &v, "", req->sku, 1, req->currency, NULL) != 0)
        return;
    const shop_currency_t *cur = shop_currency_find(req->currency);
    shop_product_t base = v.product;
    int64_t unit = base.unit_usd_micros;

    for (int seq = 1; seq <= updates; seq++) {
        if (seq > 1 && shop_call_sleep_ms(call, interval) != 0)
            return;
        int64_t delta = watch_delta(seq);
        unit += delta;
        shop_product_t p = base;
        p.unit_usd_micros = unit;
        p.updated_at_s = base.updated_at_s + (seq - 1);
        price_view_init(&v, &p, cur);
        Shop__V1__PriceUpdate update = SHOP__V1__PRICE_UPDATE__INIT;
        update.sequence = seq;
        update.price = &v.msg;
        update.delta_micros = shop_currency_convert(delta, cur);
        update.reason = seq == 1    ? SHOP__V1__PRICE_UPDATE__REASON__REASON_SNAPSHOT
                        : delta < 0 ? SHOP__V1__PRICE_UPDATE__REASON__REASON_DECREASE
                                    : SHOP__V1__PRICE_UPDATE__REASON__REASON_INCREASE;
        if (shop_call_send(call, &update.base) != 0)
            return;
    }
}

const shop_method_t shop_price_methods[] = {
    {"/shop.v1.PriceService/GetPrice", &shop__v1__get_price_request__descriptor, price_get, 0},
    {"/shop.v1.PriceService/BatchGetPrices", &shop__v1__batch_get_prices_request__descriptor, price_batch_get, 0},
    {"/shop.v1.PriceService/UpdatePrice", &shop__v1__update_price_request__descriptor, price_update, 0},
    {"/shop.v1.PriceService/WatchPrice", &shop__v1__watch_price_request__descriptor, price_watch, 1},
    {"/shop.v1.PriceService/ExportPrices", &shop__v1__export_prices_request__descriptor, shop_price_export, 0},
    {"/shop.v1.PriceService/ImportPrices", &shop__v1__import_prices_request__descriptor, shop_price_import, 0},
};
const size_t shop_price_method_count = sizeof shop_price_methods / sizeof shop_price_methods[0];
