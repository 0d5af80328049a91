/*
 * process.c: processing throughput of no-op jobs with batched claim and
 * batched settle (DESIGN §9 row "process no-op jobs", target >= 80,000
 * jobs/s). For each claim size in --claim-max it pre-loads --jobs jobs on a
 * fresh queue (batches of 1,000), then --workers threads, each with its own
 * client, loop: claim up to the claim size (POST /v1/queues/{q}/claim), settle
 * every claimed job as completed in one POST /v1/settle, until every job is
 * settled. It prints processed jobs/s (first claim to last settle) and the
 * claim and settle request latencies. --job-events 0 turns the queue's
 * per-job events off first (PATCH "job_events": false), for the A/B of the
 * event log's cost (docs/benchmarks.md).
 *
 * Assumes a running batond at --url / $BATON_URL; it does not start one. The
 * pre-load is timed separately and not part of the figure. Every job settles
 * on its first attempt: the leases (the jobs' default 30 s) outlast the run.
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
        int64_t jobs;
        int64_t claim_max;
        int64_t job_events; /* 0: the queue's per-job events off */
        int64_t deadline_ns;
        atomic_int_fast64_t next;    /* pre-load: jobs handed out */
        atomic_int_fast64_t settled; /* processing: jobs settled */
        atomic_int failed;
};

struct worker {
        pthread_t tid;
        int idx; /* thread number: talks to node idx of the --url list */
        struct run *run;
        struct hist claim_lat;
        struct hist settle_lat;
        int64_t last_settle_ns; /* when this worker's last settle was answered */
        int rc;
};

static void *load_loop(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->run;
        struct baton_client *c = bench_client_at(r->url, w->idx);
        struct baton_enqueue_opts o[LOAD_BATCH];
        char payload[LOAD_BATCH][32];

        memset(o, 0, sizeof(o));
        while (!atomic_load(&r->failed)) {
                int64_t first = atomic_fetch_add(&r->next, LOAD_BATCH), n;

                if (first >= r->jobs)
                        break;
                n = r->jobs - first < LOAD_BATCH ? r->jobs - first : LOAD_BATCH;
                for (int64_t i = 0; i < n; i++) {
                        snprintf(payload[i], sizeof(payload[i]), "{\"n\":%" PRId64 "}", first + i);
                        o[i].queue = r->queue;
                        o[i].type = "noop";
                        o[i].payload = payload[i];
                }
                w->rc = baton_enqueue_batch(c, o, (size_t)n, NULL);
                if (w->rc) {
                        bench_report_error(c, "pre-load", w->rc);
                        atomic_store(&r->failed, 1);
                }
        }
        baton_client_free(c);
        return NULL;
}

static void *work_loop(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->run;
        struct baton_client *c = bench_client_at(r->url, w->idx);
        struct baton_claim_opts co = {.worker = "bench", .max = (int)r->claim_max, .wait_ms = 20};
        struct baton_settle_item *items = calloc((size_t)r->claim_max, sizeof(*items));

        if (!items) {
                w->rc = BATON_ENOMEM;
                atomic_store(&r->failed, 1);
                goto out;
        }
        /* Ends when every job is settled, on the first failure, or at the
         * deadline; each pass is one claim and at most one settle. */
        while (atomic_load(&r->settled) < r->jobs && !atomic_load(&r->failed) &&
               now_ns() < r->deadline_ns) {
                struct baton_jobs *l = NULL;
                int64_t t0 = now_ns(), ok = 0;

                w->rc = baton_claim(c, r->queue, &co, &l);
                hist_add(&w->claim_lat, now_ns() - t0);
                if (w->rc) {
                        bench_report_error(c, "claim", w->rc);
                        atomic_store(&r->failed, 1);
                        break;
                }
                if (l->n == 0) {
                        baton_jobs_free(l);
                        continue;
                }
                for (size_t i = 0; i < l->n; i++) {
                        items[i] = (struct baton_settle_item){.id = l->v[i].id,
                                                              .lease = l->v[i].lease,
                                                              .outcome = BATON_OUTCOME_COMPLETE,
                                                              .retry_in_ms = -1};
                }
                t0 = now_ns();
                w->rc = baton_settle(c, items, l->n);
                hist_add(&w->settle_lat, now_ns() - t0);
                if (w->rc) {
                        bench_report_error(c, "settle", w->rc);
                        atomic_store(&r->failed, 1);
                } else {
                        for (size_t i = 0; i < l->n; i++) {
                                if (items[i].rc == 0) {
                                        ok++;
                                } else if (!atomic_exchange(&r->failed, 1)) {
                                        fprintf(stderr, "settle item %s: %s (%s)\n", items[i].id,
                                                baton_strerror(items[i].rc), items[i].code);
                                        w->rc = items[i].rc;
                                }
                        }
                        atomic_fetch_add(&r->settled, ok);
                        w->last_settle_ns = now_ns();
                }
                baton_jobs_free(l);
        }
out:
        free(items);
        baton_client_free(c);
        return NULL;
}

/* Starts n threads running fn over w[0..n) and joins them. Returns the first
 * thread's error or a creation failure. */
static int run_threads(struct worker *w, int64_t n, struct run *r, void *(*fn)(void *))
{
        int started = 0, rc = 0;

        for (; started < n; started++) {
                w[started].idx = started;
                w[started].run = r;
                w[started].rc = 0;
                hist_init(&w[started].claim_lat);
                hist_init(&w[started].settle_lat);
                if (pthread_create(&w[started].tid, NULL, fn, &w[started])) {
                        atomic_store(&r->failed, 1);
                        rc = BATON_ENOMEM;
                        break;
                }
        }
        for (int i = 0; i < started; i++) {
                pthread_join(w[i].tid, NULL);
                if (w[i].rc && !rc)
                        rc = w[i].rc;
        }
        return rc;
}

static int run_size(const char *url, int64_t jobs, int64_t claim_max, int64_t workers,
                    int64_t timeout_ms, int64_t job_events)
{
        struct run r = {.url = url, .jobs = jobs, .claim_max = claim_max, .job_events = job_events};
        struct worker *w = calloc((size_t)(workers > 2 ? workers : 2), sizeof(*w));
        struct hist claim_lat, settle_lat;
        int64_t t0, load_ns, work_ns, end_ns, settled;
        int rc;

        if (!w)
                return BATON_ENOMEM;
        bench_queue("bench-process", r.queue, sizeof(r.queue));
        atomic_init(&r.next, 0);
        atomic_init(&r.settled, 0);
        atomic_init(&r.failed, 0);
        if (!job_events) {
                struct baton_client *c = bench_client_at(url, 0);
                rc =
                    c ? baton_queue_set(c, r.queue, "{\"job_events\": false}", NULL) : BATON_ENOMEM;
                baton_client_free(c);
                if (rc) {
                        fprintf(stderr, "process: could not turn job_events off: %s\n",
                                baton_strerror(rc));
                        goto out;
                }
        }
        t0 = now_ns();
        rc = run_threads(w, 2, &r, load_loop);
        load_ns = now_ns() - t0;
        if (rc)
                goto out;
        printf("process preload jobs=%" PRId64 " elapsed=%.3f s (%.0f jobs/s, batches of %d)\n",
               jobs, (double)load_ns / 1e9, (double)jobs * 1e9 / (double)load_ns, LOAD_BATCH);

        t0 = now_ns();
        r.deadline_ns = t0 + timeout_ms * 1000000;
        rc = run_threads(w, workers, &r, work_loop);
        work_ns = now_ns() - t0;
        settled = atomic_load(&r.settled);
        if (rc)
                goto out;
        if (settled < jobs) {
                fprintf(stderr,
                        "process: only %" PRId64 " of %" PRId64 " jobs settled in %" PRId64 " ms\n",
                        settled, jobs, timeout_ms);
                rc = BATON_EBUSY;
                goto out;
        }
        hist_init(&claim_lat);
        hist_init(&settle_lat);
        /* The figure ends at the last settle, not when the idle workers noticed
         * the end (each may wait out one empty long-poll claim). */
        end_ns = t0;
        for (int i = 0; i < workers; i++) {
                hist_merge(&claim_lat, &w[i].claim_lat);
                hist_merge(&settle_lat, &w[i].settle_lat);
                if (w[i].last_settle_ns > end_ns)
                        end_ns = w[i].last_settle_ns;
        }
        if (end_ns > t0)
                work_ns = end_ns - t0;
        printf("process claim_max=%" PRId64 " workers=%" PRId64 " jobs=%" PRId64
               " job_events=%s elapsed=%.3f s throughput=%.0f jobs/s\n",
               claim_max, workers, settled, job_events ? "on" : "off", (double)work_ns / 1e9,
               (double)settled * 1e9 / (double)work_ns);
        hist_print("process claim latency", &claim_lat);
        hist_print("process settle latency", &settle_lat);
out:
        free(w);
        return rc;
}

int main(int argc, char **argv)
{
        const char *url = NULL, *sizes_text = "100,1000";
        int64_t jobs = 100000, workers = 2, timeout_ms = 120000, job_events = 1, sizes[8];
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url,
             "server URL (else $BATON_URL); comma-separated: threads round-robin"},
            {"--jobs", FLAG_I64, &jobs, "jobs pre-loaded and processed per claim size"},
            {"--workers", FLAG_I64, &workers, "worker threads, one connection each"},
            {"--claim-max", FLAG_STR, &sizes_text, "claim sizes to run, comma-separated"},
            {"--timeout-ms", FLAG_I64, &timeout_ms, "give up processing after this long"},
            {"--job-events", FLAG_I64, &job_events,
             "1: the queue writes per-job events (default); 0: turned off first"},
        };
        int n, rc = 0;

        if (flags_parse(argc, argv, "no-op job processing with batched claim and settle", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))))
                return 2;
        n = parse_list(sizes_text, sizes, 8);
        if (n <= 0 || jobs <= 0 || workers <= 0 || workers > THREADS_MAX || timeout_ms <= 0) {
                fprintf(stderr, "process: invalid flags\n");
                return 2;
        }
        url = bench_url(url);
        for (int i = 0; i < n && rc == 0; i++) {
                if (sizes[i] > CLAIM_MAX) {
                        fprintf(stderr, "process: claim size %" PRId64 " is over %d\n", sizes[i],
                                CLAIM_MAX);
                        return 2;
                }
                rc = run_size(url, jobs, sizes[i], workers, timeout_ms, job_events);
        }
        return rc ? 1 : 0;
}
