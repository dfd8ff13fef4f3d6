/*
 * main.c — shop-backend: the example shop's gRPC server (shop.v1.PriceService and
 * shop.v1.StockService) on grpc core's C API.
 *
 *   shop-backend [--listen HOST:PORT] [--port-file PATH] [--watch-interval-ms N]
 *                [--grace-ms N] [--max-calls N] [--quiet]
 *
 * The main thread keeps a few grpc_server_request_call requests outstanding on one
 * notification queue, each bound to its own pluck queue, and hands every accepted call to a
 * pool of worker threads that run one call at a time, start to finish (call.c). This is
 * grpc's synchronous-server shape, chosen over one async loop because a test backend must
 * never let a deliberately slow call delay the others (grpc_alarm is C++ only): so a call
 * never waits in a queue. It goes to the worker that went idle last, or, when none is idle,
 * to a new worker; --max-calls caps the calls running, and calls beyond it are refused with
 * RESOURCE_EXHAUSTED. Workers outlive their calls because a thread per call cost more than
 * the call itself; past SHOP_IDLE_KEEP idle ones, a worker idle for SHOP_IDLE_EXIT_MS exits.
 * Pluck queues are kept and bound to later calls for the same reason.
 *
 * SIGTERM/SIGINT: a signal thread (sigwait) raises a flag; the main loop then stops
 * accepting (grpc_server_shutdown_and_notify), lets in-flight calls run for --grace-ms,
 * cancels what is left, waits for every call to end and every worker to exit, tears grpc
 * down and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "shop.h"

#define SHOP_SLOTS 16
#define SHOP_IDLE_KEEP 4       /* idle workers that stay however long they wait */
#define SHOP_IDLE_EXIT_MS 5000 /* an idle worker beyond those exits after this long without a call */
#define SHOP_SPARE_CQS 64      /* pluck queues kept for reuse */

typedef struct shop_slot {
    shop_call_start_t start;
} shop_slot_t;

/* A pool thread. It is either running a call, or idle on the idle list waiting on |wake|
 * until dispatch() hands it the next one through |start|. When its thread exits the struct
 * goes on the spare list for the next worker_spawn(), and is freed only by pool_stop(): so
 * dispatch() may signal |wake| after letting go of the mutex (signalling under it makes the
 * woken thread, which shares the CPU, run at once only to block on the mutex: two context
 * switches per call for nothing). */
typedef struct shop_worker {
    struct shop_worker *idle_prev, *idle_next; /* idle list, or (idle_next only) spare list */
    pthread_cond_t wake;
    int has_call; /* |start| holds a call this worker has not picked up yet */
    shop_call_start_t start;
    const shop_config_t *config;
} shop_worker_t;

/* Everything below is guarded by |mutex|. The idle list is a stack: dispatch() takes the
 * worker that went idle last, so under a steady load the same few threads stay warm and the
 * ones at the bottom are left alone long enough to time out. */
static struct {
    pthread_mutex_t mutex;
    pthread_cond_t changed;       /* a call ended or a worker exited (main waits on it at shutdown) */
    pthread_condattr_t wake_attr; /* CLOCK_MONOTONIC, for the idle timeout */
    shop_worker_t *idle_head;
    shop_worker_t *spare; /* structs of workers that exited */
    /* Pluck queues of finished calls, for slot_arm() to bind the next call to: creating and
     * destroying one per call cost about 4% of the backend's CPU. */
    grpc_completion_queue *spare_cqs[SHOP_SPARE_CQS];
    int n_spare_cqs;
    int idle;         /* workers on the idle list */
    int threads;      /* workers alive */
    int active_calls; /* calls admitted and not yet finished: what --max-calls caps */
    int stopping;     /* set once no call is left: idle workers exit */
} pool = {.mutex = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static atomic_int stop_requested;

static void usage(FILE *out)
{
    fprintf(out, "usage: shop-backend [--listen HOST:PORT] [--port-file PATH] [--watch-interval-ms N]\n"
                 "                    [--grace-ms N] [--max-calls N] [--quiet]\n"
                 "Serves shop.v1.PriceService and shop.v1.StockService over gRPC (h2c).\n"
                 "  --listen HOST:PORT      address to listen on (default 127.0.0.1:50051; port 0 picks a free one)\n"
                 "  --port-file PATH        write the bound port number to PATH once listening\n"
                 "  --watch-interval-ms N   WatchPrice's default delay between updates (default 100)\n"
                 "  --grace-ms N            on SIGTERM, time in-flight calls get before being cancelled (default 2000)\n"
                 "  --max-calls N           concurrent calls; beyond it calls fail RESOURCE_EXHAUSTED (default 1000)\n"
                 "  --quiet                 no per-call log lines on stderr\n");
}

static int parse_number(const char *flag, const char *text, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = text != NULL ? strtol(text, &end, 10) : 0;
    if (text == NULL || text[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr, "shop-backend: %s needs a number from %ld to %ld, got \"%s\"\n", flag, lo, hi, text != NULL ? text : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig;
    while (sigwait(set, &sig) == 0) {
        fprintf(stderr, "shop-backend: %s received, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        atomic_store(&stop_requested, 1);
    }
    return NULL;
}

/* ---- the worker pool -------------------------------------------------------------------- */

/* Caller holds pool.mutex. */
static void idle_push(shop_worker_t *w)
{
    w->idle_prev = NULL;
    w->idle_next = pool.idle_head;
    if (pool.idle_head != NULL)
        pool.idle_head->idle_prev = w;
    pool.idle_head = w;
    pool.idle++;
}

/* Caller holds pool.mutex. */
static void idle_remove(shop_worker_t *w)
{
    if (w->idle_prev != NULL)
        w->idle_prev->idle_next = w->idle_next;
    else
        pool.idle_head = w->idle_next;
    if (w->idle_next != NULL)
        w->idle_next->idle_prev = w->idle_prev;
    w->idle_prev = w->idle_next = NULL;
    pool.idle--;
}

static struct timespec deadline_after_ms(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

/* Shuts an empty pluck queue down and destroys it. */
static void cq_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* A pluck queue for the next call: a spare one, or a new one. */
static grpc_completion_queue *cq_take(void)
{
    grpc_completion_queue *cq = NULL;
    pthread_mutex_lock(&pool.mutex);
    if (pool.n_spare_cqs > 0)
        cq = pool.spare_cqs[--pool.n_spare_cqs];
    pthread_mutex_unlock(&pool.mutex);
    return cq != NULL ? cq : grpc_completion_queue_create_for_pluck(NULL);
}

/* Runs the call it was created with, then every call dispatch() hands it, until it has been
 * idle for SHOP_IDLE_EXIT_MS while SHOP_IDLE_KEEP others are idle too, or the pool stops. */
static void *worker_main(void *arg)
{
    shop_worker_t *w = arg;
    pthread_mutex_lock(&pool.mutex);
    for (;;) {
        if (w->has_call) {
            shop_call_start_t start = w->start;
            w->has_call = 0;
            pthread_mutex_unlock(&pool.mutex);
            shop_call_run(&start, w->config);
            grpc_completion_queue *extra = NULL;
            pthread_mutex_lock(&pool.mutex);
            if (pool.n_spare_cqs < SHOP_SPARE_CQS)
                pool.spare_cqs[pool.n_spare_cqs++] = start.cq;
            else
                extra = start.cq;
            pool.active_calls--;
            pthread_cond_broadcast(&pool.changed);
            if (extra != NULL) {
                pthread_mutex_unlock(&pool.mutex);
                cq_destroy(extra);
                pthread_mutex_lock(&pool.mutex);
            }
            continue;
        }
        if (pool.stopping)
            break;
        idle_push(w);
        struct timespec deadline = deadline_after_ms(SHOP_IDLE_EXIT_MS);
        int timed_out = 0;
        while (!w->has_call && !pool.stopping && !timed_out)
            timed_out = pthread_cond_timedwait(&w->wake, &pool.mutex, &deadline) == ETIMEDOUT;
        if (w->has_call)
            continue; /* dispatch() took it off the idle list */
        idle_remove(w);
        if (!pool.stopping && pool.idle < SHOP_IDLE_KEEP)
            continue;
        break;
    }
    w->idle_next = pool.spare;
    pool.spare = w;
    pool.threads--;
    pthread_cond_broadcast(&pool.changed);
    pthread_mutex_unlock(&pool.mutex);
    return NULL;
}

/* Starts a worker whose first call is |start|. Caller holds pool.mutex. Returns 0, or -1
 * when no thread could be made. */
static int worker_spawn(const shop_call_start_t *start, const shop_config_t *config)
{
    shop_worker_t *w = pool.spare;
    if (w != NULL) {
        pool.spare = w->idle_next;
    } else {
        w = calloc(1, sizeof *w);
        if (w == NULL)
            return -1;
        if (pthread_cond_init(&w->wake, &pool.wake_attr) != 0) {
            free(w);
            return -1;
        }
    }
    w->idle_prev = w->idle_next = NULL;
    w->start = *start;
    w->has_call = 1;
    w->config = config;
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        w->has_call = 0;
        w->idle_next = pool.spare;
        pool.spare = w;
        return -1;
    }
    pool.threads++;
    return 0;
}

/* Waits until every call has ended, then makes every worker exit and waits for them. */
static void pool_stop(void)
{
    pthread_mutex_lock(&pool.mutex);
    while (pool.active_calls > 0)
        pthread_cond_wait(&pool.changed, &pool.mutex);
    pool.stopping = 1;
    for (shop_worker_t *w = pool.idle_head; w != NULL; w = w->idle_next)
        pthread_cond_signal(&w->wake);
    while (pool.threads > 0)
        pthread_cond_wait(&pool.changed, &pool.mutex);
    while (pool.spare != NULL) {
        shop_worker_t *w = pool.spare;
        pool.spare = w->idle_next;
        pthread_cond_destroy(&w->wake);
        free(w);
    }
    while (pool.n_spare_cqs > 0)
        cq_destroy(pool.spare_cqs[--pool.n_spare_cqs]);
    pthread_mutex_unlock(&pool.mutex);
}

static void start_free(shop_call_start_t *s)
{
    grpc_call_details_destroy(&s->details);
    grpc_metadata_array_destroy(&s->metadata);
    cq_destroy(s->cq);
    memset(s, 0, sizeof *s);
}

static int slot_arm(shop_slot_t *slot, grpc_server *server, grpc_completion_queue *notify)
{
    memset(&slot->start, 0, sizeof slot->start);
    slot->start.cq = cq_take();
    grpc_call_details_init(&slot->start.details);
    grpc_metadata_array_init(&slot->start.metadata);
    grpc_call_error err = grpc_server_request_call(server, &slot->start.call, &slot->start.details, &slot->start.metadata,
                                                   slot->start.cq, notify, slot);
    if (err != GRPC_CALL_OK) {
        fprintf(stderr, "shop-backend: grpc_server_request_call failed (%d)\n", (int)err);
        start_free(&slot->start);
        return -1;
    }
    return 0;
}

/* Hands an accepted call to the idle worker that went idle last, or to a new worker when none
 * is idle (a call never waits behind another), or refuses it when --max-calls are running. */
static void dispatch(shop_slot_t *slot, const shop_config_t *config)
{
    pthread_mutex_lock(&pool.mutex);
    int admitted = pool.active_calls < config->max_calls;
    if (admitted) {
        pool.active_calls++;
        shop_worker_t *w = pool.idle_head;
        if (w != NULL) {
            idle_remove(w);
            w->start = slot->start;
            w->has_call = 1;
            pthread_mutex_unlock(&pool.mutex);
            pthread_cond_signal(&w->wake);
            return;
        }
        if (worker_spawn(&slot->start, config) == 0) {
            pthread_mutex_unlock(&pool.mutex);
            return;
        }
        pool.active_calls--;
    }
    pthread_mutex_unlock(&pool.mutex);
    fprintf(stderr, "shop-backend: refusing a call: %d calls already running\n", config->max_calls);
    grpc_call_cancel_with_status(slot->start.call, GRPC_STATUS_RESOURCE_EXHAUSTED, "shop-backend: too many concurrent calls", NULL);
    grpc_call_unref(slot->start.call);
    start_free(&slot->start);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "shop-backend: cannot write the port file %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_addr = "127.0.0.1:50051";
    const char *port_file = NULL;
    static shop_config_t config = {.watch_interval_ms = 100, .grace_ms = 2000, .max_calls = 1000};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            config.quiet = 1;
            continue;
        } else if (next == NULL) {
            fprintf(stderr, "shop-backend: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            if (strchr(next, ':') == NULL) {
                fprintf(stderr, "shop-backend: --listen needs HOST:PORT, got \"%s\"\n", next);
                return 2;
            }
            listen_addr = next;
        } else if (strcmp(a, "--port-file") == 0) {
            port_file = next;
        } else if (strcmp(a, "--watch-interval-ms") == 0) {
            if (parse_number(a, next, 0, 60000, &config.watch_interval_ms) != 0)
                return 2;
        } else if (strcmp(a, "--grace-ms") == 0) {
            if (parse_number(a, next, 0, 600000, &config.grace_ms) != 0)
                return 2;
        } else if (strcmp(a, "--max-calls") == 0) {
            if (parse_number(a, next, 1, 100000, &config.max_calls) != 0)
                return 2;
        } else {
            fprintf(stderr, "shop-backend: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }

    /* Block the signals before grpc starts its threads, so only signal_thread sees them. */
    static sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t sig_tid;
    if (pthread_create(&sig_tid, NULL, signal_thread, &sigs) != 0) {
        fprintf(stderr, "shop-backend: cannot start the signal thread\n");
        return 1;
    }
    pthread_detach(sig_tid);

    pthread_condattr_init(&pool.wake_attr);
    pthread_condattr_setclock(&pool.wake_attr, CLOCK_MONOTONIC);
    grpc_init();
    grpc_server *server = grpc_server_create(NULL, NULL);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(server, cq, NULL);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(server, listen_addr, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        fprintf(stderr, "shop-backend: cannot listen on %s\n", listen_addr);
        grpc_server_destroy(server);
        grpc_completion_queue_shutdown(cq);
        while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(cq);
        grpc_shutdown();
        return 1;
    }
    grpc_server_start(server);

    static shop_slot_t slots[SHOP_SLOTS];
    for (int i = 0; i < SHOP_SLOTS; i++)
        slot_arm(&slots[i], server, cq);
    char host[256];
    snprintf(host, sizeof host, "%s", listen_addr);
    *strrchr(host, ':') = '\0';
    fprintf(stderr, "shop-backend: listening on %s:%d (shop.v1.PriceService, shop.v1.StockService), grpc %s\n", host, port,
            grpc_version_string());
    if (port_file != NULL && write_port_file(port_file, port) != 0)
        atomic_store(&stop_requested, 1);

    static char shutdown_tag;
    int shutting_down = 0, cancelled = 0;
    int64_t shutdown_at = 0;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(
            cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(100, GPR_TIMESPAN)), NULL);
        if (atomic_load(&stop_requested) && !shutting_down) {
            shutting_down = 1;
            shutdown_at = now_ms();
            grpc_server_shutdown_and_notify(server, cq, &shutdown_tag);
        }
        if (shutting_down && !cancelled && now_ms() - shutdown_at >= config.grace_ms) {
            pthread_mutex_lock(&pool.mutex);
            int left = pool.active_calls;
            pthread_mutex_unlock(&pool.mutex);
            fprintf(stderr, "shop-backend: grace period over, cancelling %d calls\n", left);
            grpc_server_cancel_all_calls(server);
            cancelled = 1;
        }
        if (ev.type == GRPC_QUEUE_TIMEOUT)
            continue;
        if (ev.type == GRPC_QUEUE_SHUTDOWN || ev.tag == &shutdown_tag)
            break;
        shop_slot_t *slot = ev.tag;
        if (ev.success)
            dispatch(slot, &config);
        else
            start_free(&slot->start);
        if (!shutting_down)
            slot_arm(slot, server, cq);
    }

    pool_stop();
    grpc_server_destroy(server);
    grpc_completion_queue_shutdown(cq);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag != &shutdown_tag) {
            shop_slot_t *slot = ev.tag;
            if (ev.success) {
                grpc_call_cancel(slot->start.call, NULL);
                grpc_call_unref(slot->start.call);
            }
            start_free(&slot->start);
        }
    }
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
    fprintf(stderr, "shop-backend: stopped\n");
    return 0;
}
