/*
 * delayed.c: start lateness of many delayed jobs due at one instant (DESIGN
 * §9 row "10,000 delayed jobs due at one instant: start lateness", target p99
 * <= 150 ms). Against a running batond (--url, else $BATON_URL; a
 * comma-separated list spreads the client threads round-robin over the
 * nodes; key in $BATON_KEY):
 *
 *  1. enqueue --jobs jobs on a fresh queue, in batches of 1,000, every one
 *     with the same run_at: --lead-ms after the start (the program says how
 *     many were stored after that instant, which would make the figure
 *     meaningless);
 *  2. --workers threads long-poll the queue from before that instant, claim
 *     up to --claim-max jobs at a time and settle them as completed in one
 *     request, until every job is settled;
 *  3. per job, the start lateness: when the claim's answer reached the worker
 *     (this machine's wall clock) minus run_at; and the server's own view,
 *     started_at - run_at. p50, p99 and max of both, and the time from run_at
 *     to the last job received.
 *
 * Assumes the server and this program share the machine's clock (run_at is
 * wall-clock time). Server timestamps have millisecond resolution.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define LOAD_BATCH 1000
#define THREADS_MAX 64
#define CLAIM_MAX 1000

struct run {
        const char *url;
        char queue[128];
        char run_at[40]; /* RFC 3339 of due_ms */
        int64_t due_ms;  /* Unix ms at which every job falls due */
        int64_t jobs;
        int64_t claim_max;
        int64_t stop_ms; /* the workers give up at this Unix ms */
        atomic_int_fast64_t next;
        atomic_int_fast64_t late_stored; /* jobs whose enqueue was answered after due_ms */
        atomic_int_fast64_t received;
        atomic_int failed;
};

struct worker {
        pthread_t tid;
        int idx; /* thread number: talks to node idx of the --url list */
        struct run *run;
        struct hist got;    /* received - run_at, ns */
        struct hist server; /* started_at - run_at, ns (ms resolution) */
        int64_t last_ms;    /* when this worker received its last job */
};

static int64_t wall_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *load_fn(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->run;
        struct baton_client *c = bench_client_at(r->url, w->idx);
        struct baton_enqueue_opts *o = calloc(LOAD_BATCH, sizeof(*o));
        char(*payload)[32] = calloc(LOAD_BATCH, 32);

        if (!o || !payload) {
                atomic_store(&r->failed, 1);
                goto out;
        }
        /* Each pass hands out one batch, so at most jobs / LOAD_BATCH + 1. */
        while (!atomic_load(&r->failed)) {
                int64_t first = atomic_fetch_add(&r->next, LOAD_BATCH), n;
                int rc;

                if (first >= r->jobs)
                        break;
                n = r->jobs - first < LOAD_BATCH ? r->jobs - first : LOAD_BATCH;
                for (int64_t i = 0; i < n; i++) {
                        snprintf(payload[i], 32, "{\"n\":%" PRId64 "}", first + i);
                        o[i] = (struct baton_enqueue_opts){.queue = r->queue,
                                                           .type = "delayed",
                                                           .payload = payload[i],
                                                           .run_at = r->run_at};
                }
                rc = baton_enqueue_batch(c, o, (size_t)n, NULL);
                if (rc) {
                        bench_report_error(c, "enqueue", rc);
                        atomic_store(&r->failed, 1);
                } else if (wall_ns() / 1000000 >= r->due_ms) {
                        atomic_fetch_add(&r->late_stored, n);
                }
        }
out:
        free(o);
        free(payload);
        baton_client_free(c);
        return NULL;
}

static void *work_fn(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->run;
        struct baton_client *c = bench_client_at(r->url, w->idx);
        struct baton_claim_opts co = {
            .worker = "bench-delayed", .max = (int)r->claim_max, .wait_ms = 1000};
        struct baton_settle_item *items = calloc((size_t)r->claim_max, sizeof(*items));

        if (!items) {
                atomic_store(&r->failed, 1);
                goto out;
        }
        /* Bounded by stop_ms: each pass waits at most wait_ms on the server. */
        while (atomic_load(&r->received) < r->jobs && !atomic_load(&r->failed) &&
               wall_ns() / 1000000 < r->stop_ms) {
                struct baton_jobs *l = NULL;
                int64_t got_ns;
                int rc = baton_claim(c, r->queue, &co, &l);

                got_ns = wall_ns();
                if (rc) {
                        bench_report_error(c, "claim", rc);
                        atomic_store(&r->failed, 1);
                        break;
                }
                for (size_t i = 0; i < l->n; i++) {
                        hist_add(&w->got, got_ns - r->due_ms * 1000000);
                        hist_add(&w->server, (l->v[i].started_at_ms - r->due_ms) * 1000000);
                        items[i] = (struct baton_settle_item){.id = l->v[i].id,
                                                              .lease = l->v[i].lease,
                                                              .outcome = BATON_OUTCOME_COMPLETE,
                                                              .retry_in_ms = -1};
                }
                if (l->n) {
                        w->last_ms = got_ns / 1000000;
                        atomic_fetch_add(&r->received, (int64_t)l->n);
                        rc = baton_settle(c, items, l->n);
                        if (rc) {
                                bench_report_error(c, "settle", rc);
                                atomic_store(&r->failed, 1);
                        }
                }
                baton_jobs_free(l);
        }
out:
        free(items);
        baton_client_free(c);
        return NULL;
}

/* Starts n threads of fn, numbered from first; returns how many started. */
static int start_threads(struct worker *w, int first, int n, struct run *r, void *(*fn)(void *))
{
        int i;

        for (i = first; i < first + n; i++) {
                w[i].idx = i - first;
                w[i].run = r;
                hist_init(&w[i].got);
                hist_init(&w[i].server);
                if (pthread_create(&w[i].tid, NULL, fn, &w[i])) {
                        atomic_store(&r->failed, 1);
                        break;
                }
        }
        return i - first;
}

int main(int argc, char **argv)
{
        const char *url = NULL;
        int64_t jobs = 10000, lead_ms = 5000, workers = 4, claim_max = 100, threads = 2;
        int64_t timeout_ms = 120000;
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url, "server URL (else $BATON_URL); comma-separated: round-robin"},
            {"--jobs", FLAG_I64, &jobs, "delayed jobs, all due at one instant"},
            {"--lead-ms", FLAG_I64, &lead_ms, "the instant is this long after the start"},
            {"--threads", FLAG_I64, &threads, "client threads enqueueing"},
            {"--workers", FLAG_I64, &workers, "worker threads, one connection each"},
            {"--claim-max", FLAG_I64, &claim_max, "jobs per claim"},
            {"--timeout-ms", FLAG_I64, &timeout_ms, "give up this long after the instant"},
        };
        struct worker *w;
        struct run r;
        struct hist got, server;
        int64_t t0, max_last_ms = 0;
        int loaders, started;

        if (flags_parse(argc, argv, "start lateness of delayed jobs due at one instant", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))))
                return 2;
        if (jobs <= 0 || lead_ms < 100 || workers <= 0 || workers > THREADS_MAX || threads <= 0 ||
            threads > THREADS_MAX || claim_max <= 0 || claim_max > CLAIM_MAX || timeout_ms <= 0) {
                fprintf(stderr, "delayed: invalid flags\n");
                return 2;
        }
        w = calloc((size_t)(threads + workers), sizeof(*w));
        if (!w)
                return 1;
        memset(&r, 0, sizeof(r));
        r.url = bench_url(url);
        r.jobs = jobs;
        r.claim_max = claim_max;
        bench_queue("bench-delayed", r.queue, sizeof(r.queue));
        r.due_ms = wall_ns() / 1000000 + lead_ms;
        r.stop_ms = r.due_ms + timeout_ms;
        fmt_time(r.due_ms, r.run_at, sizeof(r.run_at));
        /* The workers park their claims before the instant (they start with
         * the enqueue), so the figure is the server's, not the time a worker
         * needs to connect. */
        t0 = now_ns();
        started = start_threads(w, (int)threads, (int)workers, &r, work_fn);
        loaders = start_threads(w, 0, (int)threads, &r, load_fn);
        for (int i = 0; i < loaders; i++)
                pthread_join(w[i].tid, NULL);
        printf("delayed enqueued %" PRId64 " jobs due at %s in %.3f s, %" PRId64
               " stored after that instant\n",
               jobs, r.run_at, (double)(now_ns() - t0) / 1e9, (int64_t)atomic_load(&r.late_stored));
        for (int i = 0; i < started; i++)
                pthread_join(w[threads + i].tid, NULL);
        hist_init(&got);
        hist_init(&server);
        for (int i = 0; i < started; i++) {
                hist_merge(&got, &w[threads + i].got);
                hist_merge(&server, &w[threads + i].server);
                if (w[threads + i].last_ms > max_last_ms)
                        max_last_ms = w[threads + i].last_ms;
        }
        free(w);
        if (atomic_load(&r.failed) || atomic_load(&r.received) < jobs) {
                fprintf(stderr, "delayed: received %" PRId64 " of %" PRId64 " jobs\n",
                        (int64_t)atomic_load(&r.received), jobs);
                return 1;
        }
        printf("delayed jobs=%" PRId64 " workers=%" PRId64 " claim_max=%" PRId64
               " all received %.1f ms after the instant\n",
               jobs, workers, claim_max, (double)(max_last_ms - r.due_ms));
        hist_print("delayed start lateness (received - run_at)", &got);
        hist_print("delayed start lateness (server started_at - run_at)", &server);
        return 0;
}
