/*
 * reviews.h — internal interface of the example shop's reviews service
 * (examples/shop/reviews/reviews-backend), a REST/JSON backend on libh2o (evloop flavour).
 *
 * main.c owns the process: command line, the listening socket, the event loop and the
 * SIGTERM shutdown. handler.c answers requests (GET /reviews/{sku}, GET /healthz) and applies
 * the test hooks carried in request headers. data.c holds the fixed review data. Nothing here
 * is portico code: the service is what the gateway's aggregation is tested against, so it
 * shares no code with it.
 */
#ifndef REVIEWS_REVIEWS_H
#define REVIEWS_REVIEWS_H

#include <stddef.h>

#include <h2o.h>

/* ---- the data (data.c) ------------------------------------------------------------------ */

typedef struct reviews_review {
    const char *author;
    int rating; /* 1..5 */
    const char *text;
} reviews_review_t;

typedef struct reviews_product {
    const char *sku;
    const reviews_review_t *reviews;
    size_t n_reviews;
} reviews_product_t;

/* The product with this SKU (exact match), or NULL. */
const reviews_product_t *reviews_find(const char *sku, size_t len);

/* ---- requests (handler.c) ------------------------------------------------------------------ */

typedef struct reviews_server {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_evloop_t *loop;
    int quiet;
    size_t pending; /* responses waiting for their x-test-delay-ms */
} reviews_server_t;

/* Registers the request handler on |s|'s config (before the context is created). */
void reviews_handler_register(reviews_server_t *s);

/* Releases the handler's timers (after the loop has stopped serving). */
void reviews_handler_dispose(reviews_server_t *s);

#endif
