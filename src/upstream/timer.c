/*
 * timer.c — exact deadlines from power-of-two h2o timeouts; see timer.h for why.
 */
#include "upstream/timer.h"

#include <string.h>

void upstream_timers_init(upstream_timers_t *timers, h2o_loop_t *loop)
{
    memset(timers, 0, sizeof(*timers));
    timers->loop = loop;
    h2o_timeout_init(loop, &timers->zero, 0);
}

void upstream_timers_dispose(upstream_timers_t *timers)
{
    for (int k = 0; k < UPSTREAM_TIMER_LEVELS; k++)
        if (timers->levels_inited & (1u << k))
            h2o_timeout_dispose(timers->loop, &timers->levels[k]);
    timers->levels_inited = 0;
    h2o_timeout_dispose(timers->loop, &timers->zero);
}

void upstream_timers_defer(upstream_timers_t *timers, h2o_timeout_entry_t *entry)
{
    if (!h2o_timeout_is_linked(entry))
        h2o_timeout_link(timers->loop, &timers->zero, entry);
}

static void link_for(upstream_timer_t *timer)
{
    upstream_timers_t *timers = timer->_timers;
    uint64_t now = h2o_now(timers->loop);
    if (timer->at <= now) {
        h2o_timeout_link(timers->loop, &timers->zero, &timer->_entry);
        return;
    }
    uint64_t remaining = timer->at - now;
    int k = 63 - __builtin_clzll(remaining); /* largest 2^k <= remaining */
    if (k >= UPSTREAM_TIMER_LEVELS)
        k = UPSTREAM_TIMER_LEVELS - 1;
    if (!(timers->levels_inited & (1u << k))) {
        h2o_timeout_init(timers->loop, &timers->levels[k], (uint64_t)1 << k);
        timers->levels_inited |= 1u << k;
    }
    h2o_timeout_link(timers->loop, &timers->levels[k], &timer->_entry);
}

static void on_step(h2o_timeout_entry_t *entry)
{
    upstream_timer_t *timer = H2O_STRUCT_FROM_MEMBER(upstream_timer_t, _entry, entry);
    if (h2o_now(timer->_timers->loop) < timer->at) {
        link_for(timer);
        return;
    }
    timer->_cb(timer);
}

void upstream_timer_init(upstream_timer_t *timer, upstream_timers_t *timers, upstream_timer_cb cb)
{
    memset(timer, 0, sizeof(*timer));
    timer->_entry.cb = on_step;
    timer->_timers = timers;
    timer->_cb = cb;
}

void upstream_timer_set(upstream_timer_t *timer, uint64_t at)
{
    upstream_timer_stop(timer);
    timer->at = at;
    link_for(timer);
}

void upstream_timer_stop(upstream_timer_t *timer)
{
    if (h2o_timeout_is_linked(&timer->_entry))
        h2o_timeout_unlink(&timer->_entry);
}

int upstream_timer_is_set(const upstream_timer_t *timer)
{
    return h2o_timeout_is_linked((h2o_timeout_entry_t *)&timer->_entry);
}
