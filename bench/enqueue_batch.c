/*
 * enqueue_batch.c: enqueue throughput with batched requests (DESIGN §9, row
 * "enqueue, batches of 100-1,000", target >= 150,000 jobs/s with an fsync per
 * commit). For each batch size in --batches, --threads client threads (each
 * with its own libbaton client and kept-alive connection) enqueue --jobs jobs
 * in total on a fresh queue, as POST /v1/jobs {"jobs": [...]}, and the program
 * prints jobs/s and the request latency. Payloads are small distinct objects
 * ({"n": <sequence>}), as a producer of real work would send.
 *
 * Assumes a running batond at --url / $BATON_URL; it does not start one. The
 * client threads share the machine's cores with the server, as the target
 * row's setup says.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define BATCH_MAX 1000
#define THREADS_MAX 256
#define PAYLOAD_BYTES 32

struct run {
        const char *url;
        char queue[128];
        int64_t batch;
        int64_t jobs;
        atomic_int_fast64_t next; /* jobs handed out to threads so far */
        atomic_int failed;
};

struct worker {
        pthread_t tid;
        int idx; /* thread number: talks to node idx of the --url list */
        struct run *run;
        struct hist lat;
        int64_t jobs_done;
        int rc;
};

static void *enqueue_loop(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->run;
        struct baton_client *c = bench_client_at(r->url, w->idx);
        struct baton_enqueue_opts *o = calloc((size_t)r->batch, sizeof(*o));
        char(*payload)[PAYLOAD_BYTES] = calloc((size_t)r->batch, PAYLOAD_BYTES);

        if (!o || !payload) {
                w->rc = BATON_ENOMEM;
                goto out;
        }
        /* The loop ends when every job is handed out or another thread failed;
         * each pass takes at least one job, so it runs at most jobs times. */
        while (!atomic_load(&r->failed)) {
                int64_t first = atomic_fetch_add(&r->next, r->batch), n, t0;

                if (first >= r->jobs)
                        break;
                n = r->jobs - first < r->batch ? r->jobs - first : r->batch;
                for (int64_t i = 0; i < n; i++) {
                        snprintf(payload[i], PAYLOAD_BYTES, "{\"n\":%" PRId64 "}", first + i);
                        o[i].queue = r->queue;
                        o[i].type = "bench";
                        o[i].payload = payload[i];
                }
                t0 = now_ns();
                w->rc = baton_enqueue_batch(c, o, (size_t)n, NULL);
                hist_add(&w->lat, now_ns() - t0);
                if (w->rc) {
                        bench_report_error(c, "enqueue batch", w->rc);
                        atomic_store(&r->failed, 1);
                        break;
                }
                w->jobs_done += n;
        }
out:
        free(o);
        free(payload);
        baton_client_free(c);
        return NULL;
}

/* Runs one batch size; prints its figures. Returns 0 or the first error. */
static int run_batch(const char *url, int64_t batch, int64_t jobs, int64_t threads)
{
        struct run r = {.url = url, .batch = batch, .jobs = jobs};
        struct worker *w = calloc((size_t)threads, sizeof(*w));
        struct hist lat;
        int64_t t0, elapsed_ns, done = 0;
        int started = 0, rc = 0;

        if (!w)
                return BATON_ENOMEM;
        bench_queue("bench-batch", r.queue, sizeof(r.queue));
        atomic_init(&r.next, 0);
        atomic_init(&r.failed, 0);
        hist_init(&lat);
        t0 = now_ns();
        for (; started < threads; started++) {
                w[started].idx = started;
                w[started].run = &r;
                hist_init(&w[started].lat);
                if (pthread_create(&w[started].tid, NULL, enqueue_loop, &w[started])) {
                        atomic_store(&r.failed, 1);
                        rc = BATON_ENOMEM;
                        break;
                }
        }
        for (int i = 0; i < started; i++) {
                pthread_join(w[i].tid, NULL);
                hist_merge(&lat, &w[i].lat);
                done += w[i].jobs_done;
                if (w[i].rc && !rc)
                        rc = w[i].rc;
        }
        elapsed_ns = now_ns() - t0;
        if (rc == 0) {
                char label[160];

                printf("enqueue_batch batch=%" PRId64 " threads=%" PRId64 " jobs=%" PRId64
                       " elapsed=%.3f s throughput=%.0f jobs/s requests=%.0f req/s\n",
                       batch, threads, done, (double)elapsed_ns / 1e9,
                       (double)done * 1e9 / (double)elapsed_ns,
                       (double)lat.n * 1e9 / (double)elapsed_ns);
                snprintf(label, sizeof(label), "enqueue_batch batch=%" PRId64 " request latency",
                         batch);
                hist_print(label, &lat);
        }
        free(w);
        return rc;
}

int main(int argc, char **argv)
{
        const char *url = NULL, *batches = "100,1000";
        int64_t jobs = 200000, threads = 4, sizes[8];
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url,
             "server URL (else $BATON_URL); comma-separated: threads round-robin"},
            {"--jobs", FLAG_I64, &jobs, "jobs per batch size"},
            {"--threads", FLAG_I64, &threads, "client threads, one connection each"},
            {"--batches", FLAG_STR, &batches, "batch sizes to run, comma-separated"},
        };
        int n, rc = 0;

        if (flags_parse(argc, argv, "enqueue throughput with batched requests", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))))
                return 2;
        n = parse_list(batches, sizes, 8);
        if (n <= 0 || jobs <= 0 || threads <= 0 || threads > THREADS_MAX) {
                fprintf(stderr, "enqueue_batch: invalid --batches, --jobs or --threads\n");
                return 2;
        }
        url = bench_url(url);
        for (int i = 0; i < n && rc == 0; i++) {
                if (sizes[i] > BATCH_MAX) {
                        fprintf(stderr, "enqueue_batch: batch %" PRId64 " is over %d\n", sizes[i],
                                BATCH_MAX);
                        return 2;
                }
                rc = run_batch(url, sizes[i], jobs, threads);
        }
        return rc ? 1 : 0;
}
