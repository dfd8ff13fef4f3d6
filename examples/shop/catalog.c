/*
 * catalog.c — the shop backend's in-memory data: five products, five warehouses and fixed
 * exchange rates.
 *
 * The data is deterministic (same answers after every start) so that integration tests can
 * compare exact values; UpdatePrice and ReserveStock change it for the life of the process.
 * One mutex guards it: call threads are few and the critical sections tiny.
 */
#include <stdlib.h>
#include <string.h>

#include "shop.h"

/* One warehouse per row reads better than clang-format's one field per line. */
/* clang-format off */
const shop_warehouse_t shop_warehouses[SHOP_WAREHOUSE_COUNT] = {
    {"ams-1", "Amsterdam Fulfillment Center", "Havenstraat 12", "Amsterdam", "1013 AB", "NL", "eu-west",
     SHOP__V1__WAREHOUSE__KIND__KIND_FULFILLMENT, {"same-day", "returns", "bulky"}, 1, 1},
    {"ber-1", "Berlin Mitte Store", "Friedrichstrasse 100", "Berlin", "10117", "DE", "eu-west",
     SHOP__V1__WAREHOUSE__KIND__KIND_STORE, {"pickup"}, 1, 0},
    {"nyc-1", "New York Fulfillment Center", "500 Pier Ave", "New York", "10014", "US", "us-east",
     SHOP__V1__WAREHOUSE__KIND__KIND_FULFILLMENT, {"same-day", "returns"}, 1, 1},
    {"sfo-1", "Bay Area Dropship", "1 Market St", "San Francisco", "94105", "US", "us-west",
     SHOP__V1__WAREHOUSE__KIND__KIND_DROPSHIP, {"digital"}, 1, 3},
    {"lon-1", "London Docklands (closed)", "2 Dock Rd", "London", "E16 1AA", "GB", "eu-west",
     SHOP__V1__WAREHOUSE__KIND__KIND_FULFILLMENT, {"returns"}, 0, 2},
};
/* clang-format on */

/* Stock columns follow shop_warehouses: ams-1, ber-1, nyc-1, sfo-1, lon-1. */
static const shop_product_t initial_catalog[] = {
    {.sku = "ABC-123",
     .display_name = "Classic Widget",
     .unit_usd_micros = 19990000,
     .kind = SHOP__V1__PRICE_KIND__PRICE_KIND_LIST,
     .tags = {"widget", "hardware"},
     .n_tags = 2,
     .attr_keys = {"color", "material"},
     .attr_values = {"blue", "steel"},
     .n_attrs = 2,
     .updated_at_s = 1714564800, /* 2024-05-01T12:00:00Z */
     .version = 1,
     .available = {25, 3, 14, 0, 0}},
    {.sku = "XYZ-999",
     .display_name = "Gadget Pro",
     .unit_usd_micros = 249500000,
     .kind = SHOP__V1__PRICE_KIND__PRICE_KIND_SALE,
     .compare_at_usd_micros = 299000000,
     .tags = {"gadget", "electronics", "sale"},
     .n_tags = 3,
     .attr_keys = {"color", "warranty"},
     .attr_values = {"black", "2y"},
     .n_attrs = 2,
     .updated_at_s = 1714568400, /* 2024-05-01T13:00:00Z */
     .updated_at_nanos = 500000000,
     .version = 4,
     .available = {0, 0, 2, 1, 0}},
    {.sku = "DEF-456",
     .display_name = "Spare Gear",
     .unit_usd_micros = 450000,
     .kind = SHOP__V1__PRICE_KIND__PRICE_KIND_LIST,
     .tags = {"parts"},
     .n_tags = 1,
     .attr_keys = {"pack"},
     .attr_values = {"1"},
     .n_attrs = 1,
     .updated_at_s = 1714572000, /* 2024-05-01T14:00:00Z */
     .version = 2,
     .available = {0, 0, 0, 0, 0},
     .restock_at_s = 1906444800}, /* 2030-06-01T08:00:00Z */
    {.sku = "OLD-001",
     .display_name = "Retro Widget",
     .unit_usd_micros = 5000000,
     .kind = SHOP__V1__PRICE_KIND__PRICE_KIND_CLEARANCE,
     .compare_at_usd_micros = 12000000,
     .tags = {"widget", "clearance"},
     .n_tags = 2,
     .updated_at_s = 1714575600, /* 2024-05-01T15:00:00Z */
     .version = 7,
     .available = {0, 1, 0, 0, 0},
     .discontinued = 1},
    {.sku = "GIFT-50",
     .display_name = "Gift Card 50",
     .unit_usd_micros = 50000000,
     .kind = SHOP__V1__PRICE_KIND__PRICE_KIND_LIST,
     .tags = {"gift-card", "digital"},
     .n_tags = 2,
     .attr_keys = {"delivery"},
     .attr_values = {"email"},
     .n_attrs = 1,
     .updated_at_s = 1714579200, /* 2024-05-01T16:00:00Z */
     .version = 1,
     .available = {0, 0, 0, 1000, 0}},
};

#define CATALOG_SIZE (sizeof initial_catalog / sizeof initial_catalog[0])
_Static_assert(CATALOG_SIZE <= SHOP_CATALOG_MAX, "SHOP_CATALOG_MAX must hold the whole catalog");

static pthread_mutex_t catalog_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t catalog_once = PTHREAD_ONCE_INIT;
static shop_product_t catalog[CATALOG_SIZE];
static int64_t reservation_counter;

static void catalog_init(void)
{
    memcpy(catalog, initial_catalog, sizeof catalog);
}

void shop_catalog_lock(void)
{
    pthread_once(&catalog_once, catalog_init);
    pthread_mutex_lock(&catalog_mutex);
}

void shop_catalog_unlock(void)
{
    pthread_mutex_unlock(&catalog_mutex);
}

shop_product_t *shop_catalog_find_locked(const char *sku)
{
    for (size_t i = 0; i < CATALOG_SIZE; i++)
        if (strcmp(catalog[i].sku, sku) == 0)
            return &catalog[i];
    return NULL;
}

int shop_catalog_get(const char *sku, shop_product_t *out)
{
    shop_catalog_lock();
    const shop_product_t *p = shop_catalog_find_locked(sku);
    if (p != NULL)
        *out = *p;
    shop_catalog_unlock();
    return p != NULL ? 0 : -1;
}

size_t shop_catalog_snapshot(shop_product_t *out, size_t max)
{
    shop_catalog_lock();
    size_t n = CATALOG_SIZE < max ? CATALOG_SIZE : max;
    memcpy(out, catalog, n * sizeof *out);
    shop_catalog_unlock();
    return n;
}

int64_t shop_catalog_next_reservation(void)
{
    shop_catalog_lock();
    int64_t n = ++reservation_counter;
    shop_catalog_unlock();
    return n;
}

int shop_warehouse_index(const char *id)
{
    for (int i = 0; i < SHOP_WAREHOUSE_COUNT; i++)
        if (strcmp(shop_warehouses[i].id, id) == 0)
            return i;
    return -1;
}

static const shop_currency_t currencies[] = {
    {"USD", 1000000, 10000},
    {"EUR", 920000, 10000},
    {"GBP", 790000, 10000},
    {"JPY", 150000000, 1000000},
};

const shop_currency_t *shop_currency_find(const char *code)
{
    if (code == NULL || code[0] == '\0')
        return &currencies[0];
    for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++)
        if (strcmp(currencies[i].code, code) == 0)
            return &currencies[i];
    return NULL;
}

int64_t shop_currency_convert(int64_t usd_micros, const shop_currency_t *currency)
{
    /* 128-bit: a 10000-unit quote of the dearest allowed product times the yen rate
     * does not fit in 64 bits before the division. */
    __int128 v = (__int128)usd_micros * currency->ppm;
    __int128 unit = (__int128)1000000 * currency->minor_micros;
    __int128 q = v / unit, r = v % unit;
    if (r * 2 >= unit)
        q++;
    else if (r * 2 <= -unit)
        q--;
    return (int64_t)(q * currency->minor_micros);
}
