/*
 * data.c — the reviews service's data: a few fixed reviews for the products of the example
 * shop's catalog (examples/shop/catalog.c uses the same SKUs), so that answers are the same
 * after every start and tests can compare exact values. GIFT-50 has no reviews on purpose.
 */
#include <string.h>

#include "reviews.h"

static const reviews_review_t abc_123[] = {
    {"ana", 5, "Does exactly what a widget should."},
    {"bram", 4, "Solid, a little heavy."},
};

static const reviews_review_t xyz_999[] = {
    {"chen", 5, "Worth the sale price."},
    {"dana", 3, "Battery could be better."},
    {"eli", 4, "Fast and well built."},
    {"fay", 4, "Good, but the manual is thin."},
};

static const reviews_review_t def_456[] = {
    {"gus", 2, "Fits, but wore out quickly."},
};

static const reviews_review_t old_001[] = {
    {"hana", 4, "A classic, glad I got one before they were gone."},
    {"ivo", 5, "Better than the new model."},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const reviews_product_t products[] = {
    {"ABC-123", abc_123, N(abc_123)},
    {"XYZ-999", xyz_999, N(xyz_999)},
    {"DEF-456", def_456, N(def_456)},
    {"OLD-001", old_001, N(old_001)},
    {"GIFT-50", NULL, 0},
};

const reviews_product_t *reviews_find(const char *sku, size_t len)
{
    for (size_t i = 0; i < N(products); i++)
        if (strlen(products[i].sku) == len && memcmp(products[i].sku, sku, len) == 0)
            return &products[i];
    return NULL;
}
