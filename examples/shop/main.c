/*
 * main.c — shop-backend: the example shop's gRPC server (shop.v1.PriceService and
 * shop.v1.StockService) on grpc core's C API.
 *
 *   shop-backend [--listen HOST:PORT] [--port-file PATH] [--watch-interval-ms N]
 *                [--grace-ms N] [--max-calls N] [--quiet]
 *
 * The main thread keeps a few grpc_server_request_call requests outstanding on one
 * notification queue; each accepted call gets a fresh pluck queue and a thread of its own
 * (call.c). This is grpc's synchronous-server shape, chosen over one async loop because a
 * test backend must never let a deliberately slow call delay the others, and a thread per
 * call is the simplest way to get that in C (grpc_alarm is C++ only).
 *
 * SIGTERM/SIGINT: a signal thread (sigwait) raises a flag; the main loop then stops
 * accepting (grpc_server_shutdown_and_notify), lets in-flight calls run for --grace-ms,
 * cancels what is left, waits for every call thread, tears grpc down and exits 0.
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

typedef struct shop_slot {
    shop_call_start_t start;
} shop_slot_t;

typedef struct shop_worker {
    shop_call_start_t start;
    const shop_config_t *config;
} shop_worker_t;

static atomic_int stop_requested;
static pthread_mutex_t active_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_cond = PTHREAD_COND_INITIALIZER;
static int active_calls;

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

static void *worker_main(void *arg)
{
    shop_worker_t *w = arg;
    shop_call_run(&w->start, w->config);
    free(w);
    pthread_mutex_lock(&active_mutex);
    active_calls--;
    pthread_cond_broadcast(&active_cond);
    pthread_mutex_unlock(&active_mutex);
    return NULL;
}

static void start_free(shop_call_start_t *s)
{
    grpc_call_details_destroy(&s->details);
    grpc_metadata_array_destroy(&s->metadata);
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_pluck(s->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(s->cq);
    memset(s, 0, sizeof *s);
}

static int slot_arm(shop_slot_t *slot, grpc_server *server, grpc_completion_queue *notify)
{
    memset(&slot->start, 0, sizeof slot->start);
    slot->start.cq = grpc_completion_queue_create_for_pluck(NULL);
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

/* Hands an accepted call to a new thread, or refuses it when too many are running. */
static void dispatch(shop_slot_t *slot, const shop_config_t *config)
{
    pthread_mutex_lock(&active_mutex);
    int admitted = active_calls < config->max_calls;
    if (admitted)
        active_calls++;
    pthread_mutex_unlock(&active_mutex);

    shop_worker_t *w = admitted ? malloc(sizeof *w) : NULL;
    pthread_t tid;
    pthread_attr_t attr;
    if (w != NULL) {
        w->start = slot->start;
        w->config = config;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&tid, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return;
        free(w);
    }
    if (admitted) {
        pthread_mutex_lock(&active_mutex);
        active_calls--;
        pthread_mutex_unlock(&active_mutex);
    }
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
            pthread_mutex_lock(&active_mutex);
            int left = active_calls;
            pthread_mutex_unlock(&active_mutex);
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

    pthread_mutex_lock(&active_mutex);
    while (active_calls > 0)
        pthread_cond_wait(&active_cond, &active_mutex);
    pthread_mutex_unlock(&active_mutex);
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
