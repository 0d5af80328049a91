/*
 * enqueue_single.c: enqueue throughput and latency with one job per request
 * (DESIGN §9 rows "one job per request, 1 in flight" and "32-64 in flight").
 * For each level in --inflight, that many threads, each with its own libbaton
 * client and kept-alive connection, send POST /v1/jobs with one small job
 * ({"n": <sequence>}) back to back for --duration-ms, so exactly that many
 * requests are in flight. It prints jobs/s and the request latency p50/p99
 * (send to acknowledged, which includes the server's commit).
 *
 * Assumes a running batond at --url / $BATON_URL; it does not start one. With
 * 32 or 64 threads on a 2-core machine the client threads compete with the
 * server for the cores, which the figure includes (wrk_enqueue.lua measures
 * the same row with a lighter client).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define THREADS_MAX 1024

struct run {
        const char *url;
        char queue[128];
        int64_t deadline_ns;
        atomic_int_fast64_t seq;
        atomic_int failed;
};

struct worker {
        pthread_t tid;
        int idx; /* thread number: talks to node idx of the --url list */
        struct run *run;
        struct hist lat;
        int rc;
};

static void *enqueue_loop(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->run;
        struct baton_client *c = bench_client_at(r->url, w->idx);
        struct baton_enqueue_opts o = {.queue = r->queue, .type = "bench"};
        char payload[48];
        int64_t t0;

        /* Bounded by the deadline: each pass is one request of at most the
         * client's timeout. */
        while ((t0 = now_ns()) < r->deadline_ns && !atomic_load(&r->failed)) {
                snprintf(payload, sizeof(payload), "{\"n\":%" PRId64 "}",
                         (int64_t)atomic_fetch_add(&r->seq, 1));
                o.payload = payload;
                w->rc = baton_enqueue(c, &o, NULL);
                if (w->rc) {
                        bench_report_error(c, "enqueue", w->rc);
                        atomic_store(&r->failed, 1);
                        break;
                }
                hist_add(&w->lat, now_ns() - t0);
        }
        baton_client_free(c);
        return NULL;
}

static int run_level(const char *url, int64_t inflight, int64_t duration_ms)
{
        struct run r = {.url = url};
        struct worker *w = calloc((size_t)inflight, sizeof(*w));
        struct hist lat;
        int64_t t0, elapsed_ns;
        int started = 0, rc = 0;

        if (!w)
                return BATON_ENOMEM;
        bench_queue("bench-single", r.queue, sizeof(r.queue));
        atomic_init(&r.seq, 0);
        atomic_init(&r.failed, 0);
        hist_init(&lat);
        t0 = now_ns();
        r.deadline_ns = t0 + duration_ms * 1000000;
        for (; started < inflight; started++) {
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
                if (w[i].rc && !rc)
                        rc = w[i].rc;
        }
        elapsed_ns = now_ns() - t0;
        if (rc == 0) {
                char label[128];

                printf("enqueue_single inflight=%" PRId64 " jobs=%" PRIu64
                       " elapsed=%.3f s throughput=%.0f jobs/s\n",
                       inflight, lat.n, (double)elapsed_ns / 1e9,
                       (double)lat.n * 1e9 / (double)elapsed_ns);
                snprintf(label, sizeof(label), "enqueue_single inflight=%" PRId64 " latency",
                         inflight);
                hist_print(label, &lat);
        }
        free(w);
        return rc;
}

int main(int argc, char **argv)
{
        const char *url = NULL, *levels = "1,32,64";
        int64_t duration_ms = 5000, inflight[8];
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url,
             "server URL (else $BATON_URL); comma-separated: threads round-robin"},
            {"--inflight", FLAG_STR, &levels, "requests in flight, comma-separated levels"},
            {"--duration-ms", FLAG_I64, &duration_ms, "duration of each level"},
        };
        int n, rc = 0;

        if (flags_parse(argc, argv, "enqueue throughput, one job per request", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))))
                return 2;
        n = parse_list(levels, inflight, 8);
        if (n <= 0 || duration_ms <= 0 || duration_ms > 600000) {
                fprintf(stderr, "enqueue_single: invalid --inflight or --duration-ms\n");
                return 2;
        }
        url = bench_url(url);
        for (int i = 0; i < n && rc == 0; i++) {
                if (inflight[i] > THREADS_MAX) {
                        fprintf(stderr, "enqueue_single: at most %d in flight\n", THREADS_MAX);
                        return 2;
                }
                rc = run_level(url, inflight[i], duration_ms);
        }
        return rc ? 1 : 0;
}
