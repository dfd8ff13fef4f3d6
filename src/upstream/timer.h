/*
 * timer.h — exact-deadline timers for src/upstream on top of h2o 2.2.5's timeouts (internal).
 *
 * An h2o 2.2.5 timeout (h2o_timeout_t) has one fixed duration shared by all its entries, but
 * call deadlines and connect timeouts come in any length. Rather than one h2o_timeout_t per
 * call (each is scanned by the loop on every iteration), a timer set keeps one timeout per
 * power of two (1, 2, 4 ... 2^31 ms, made on first use) and a timer rides the largest step
 * that does not overshoot, re-linking itself on the way: a 1000 ms deadline fires after
 * 512 + 256 + 128 + 64 + 32 + 8 ms, exactly, with at most ~30 h2o timeouts per set. The set
 * also owns the zero-delay timeout that runs work at the end of the current loop iteration.
 */
#ifndef PORTICO_UPSTREAM_TIMER_H
#define PORTICO_UPSTREAM_TIMER_H

#include <stdint.h>

#include <h2o/socket.h>
#include <h2o/timeout.h>

#define UPSTREAM_TIMER_LEVELS 32

typedef struct upstream_timers {
    h2o_loop_t *loop;
    h2o_timeout_t zero; /* fires in the current (or next) loop iteration */
    h2o_timeout_t levels[UPSTREAM_TIMER_LEVELS];
    uint32_t levels_inited; /* bit k: levels[k] is initialised */
} upstream_timers_t;

typedef struct upstream_timer upstream_timer_t;
typedef void (*upstream_timer_cb)(upstream_timer_t *timer);

struct upstream_timer {
    h2o_timeout_entry_t _entry;
    uint64_t at; /* absolute, in h2o_now() milliseconds */
    upstream_timers_t *_timers;
    upstream_timer_cb _cb;
};

void upstream_timers_init(upstream_timers_t *timers, h2o_loop_t *loop);
/* Every timer and zero-delay entry must have been stopped / unlinked before. */
void upstream_timers_dispose(upstream_timers_t *timers);
/* Links |entry| (with its cb set) to run at the end of the current loop iteration; no-op when already linked. */
void upstream_timers_defer(upstream_timers_t *timers, h2o_timeout_entry_t *entry);

void upstream_timer_init(upstream_timer_t *timer, upstream_timers_t *timers, upstream_timer_cb cb);
/* (Re)arms |timer| to fire at |at| (h2o_now() milliseconds); a past |at| fires this iteration. */
void upstream_timer_set(upstream_timer_t *timer, uint64_t at);
void upstream_timer_stop(upstream_timer_t *timer);
int upstream_timer_is_set(const upstream_timer_t *timer);

#endif
