/*
 * latency.c: enqueue-to-worker latency with a waiting worker (DESIGN §9 row
 * "enqueue -> worker receives, 500 jobs/s", target p50 <= 0.3 ms, p99 <= 1
 * ms). One worker thread long-polls a fresh queue (claim with wait_ms) and
 * completes what it gets with a batched settle; the main thread enqueues one
 * job at a time at --rate jobs/s, each carrying the monotonic time at which
 * its request was sent ({"t": <ns>}). The worker subtracts that from the time
 * its claim answer arrived. Both clocks are CLOCK_MONOTONIC of this process,
 * so no clock skew enters the figure. The first --warmup jobs are left out
 * (connection set-up, cold caches).
 *
 * Assumes a running batond at --url / $BATON_URL; it does not start one. With
 * --worker-url the worker long-polls another node of the same cluster, so the
 * figure includes the wake-up between nodes (PostgreSQL LISTEN/NOTIFY); so
 * does a --url list of several nodes without --worker-url: the sender uses
 * the first, the worker the second. The pacing uses absolute deadlines, so a
 * slow request delays the next send but does not lower the rate over the run,
 * unless the one-in-flight sender cannot keep the rate at all (a loaded
 * machine): the first line then says the rate it achieved, and the worker
 * waits up to 5 s after the last send, whenever that is.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define CLAIM_BATCH 100

struct run {
        const char *url;
        const char *worker_url; /* where the worker claims; = url unless --worker-url */
        int worker_node;        /* the worker uses node worker_node of worker_url's list */
        char queue[128];
        int64_t expect; /* jobs the worker should receive */
        int64_t warmup; /* sequence numbers below this are not measured */
        /* The worker gives up after this instant: first a bound on the whole
         * run, then, once the sender is done, 5 s after its last send (a
         * loaded machine can make the sender late by seconds). */
        atomic_int_fast64_t stop_ns;
        atomic_int_fast64_t received;
        atomic_int failed;
        struct hist lat;
};

/* Reads the integer member name from compact or spaced JSON text; -1 when
 * absent. The payload is one this program wrote, so a scan is enough. */
static int64_t payload_int(const char *json, const char *name)
{
        char key[32];
        const char *p;

        snprintf(key, sizeof(key), "\"%s\"", name);
        p = json ? strstr(json, key) : NULL;
        if (!p)
                return -1;
        p = strchr(p + strlen(key), ':');
        return p ? strtoll(p + 1, NULL, 10) : -1;
}

static void *worker_loop(void *arg)
{
        struct run *r = arg;
        struct baton_client *c = bench_client_at(r->worker_url, r->worker_node);
        struct baton_claim_opts co = {
            .worker = "bench-latency", .max = CLAIM_BATCH, .wait_ms = 1000};
        struct baton_settle_item items[CLAIM_BATCH];

        /* Bounded by stop_ns: each pass waits at most wait_ms on the server. */
        while (atomic_load(&r->received) < r->expect && !atomic_load(&r->failed) &&
               now_ns() < atomic_load(&r->stop_ns)) {
                struct baton_jobs *l = NULL;
                int64_t got_ns;
                int rc = baton_claim(c, r->queue, &co, &l);

                got_ns = now_ns();
                if (rc) {
                        bench_report_error(c, "claim", rc);
                        atomic_store(&r->failed, 1);
                        break;
                }
                for (size_t i = 0; i < l->n; i++) {
                        int64_t sent_ns = payload_int(l->v[i].payload, "t");
                        int64_t seq = payload_int(l->v[i].payload, "seq");

                        if (sent_ns > 0 && seq >= r->warmup)
                                hist_add(&r->lat, got_ns - sent_ns);
                        items[i] = (struct baton_settle_item){.id = l->v[i].id,
                                                              .lease = l->v[i].lease,
                                                              .outcome = BATON_OUTCOME_COMPLETE,
                                                              .retry_in_ms = -1};
                }
                atomic_fetch_add(&r->received, (int64_t)l->n);
                if (l->n) {
                        rc = baton_settle(c, items, l->n);
                        if (rc) {
                                bench_report_error(c, "settle", rc);
                                atomic_store(&r->failed, 1);
                        }
                }
                baton_jobs_free(l);
        }
        baton_client_free(c);
        return NULL;
}

int main(int argc, char **argv)
{
        const char *url = NULL, *worker_url = NULL;
        int64_t rate = 500, duration_ms = 10000, warmup = 100;
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url,
             "server URL (else $BATON_URL); a list a,b: enqueue on a, the worker on b"},
            {"--worker-url", FLAG_STR, &worker_url,
             "the worker claims on this node of the cluster (default: --url)"},
            {"--rate", FLAG_I64, &rate, "jobs enqueued per second"},
            {"--duration-ms", FLAG_I64, &duration_ms, "how long to enqueue"},
            {"--warmup", FLAG_I64, &warmup, "first jobs left out of the figures"},
        };
        struct run r = {0};
        struct baton_client *c = NULL;
        struct hist enq_lat, late;
        pthread_t tid;
        int64_t interval_ns, start_ns, total, sent_ns = 0;
        int rc = 0;

        if (flags_parse(argc, argv, "enqueue to worker latency with a waiting worker", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))))
                return 2;
        if (rate <= 0 || rate > 100000 || duration_ms <= 0 || duration_ms > 600000 || warmup < 0) {
                fprintf(stderr, "latency: invalid flags\n");
                return 2;
        }
        r.url = bench_url(url);
        r.worker_url = worker_url ? worker_url : r.url;
        r.worker_node = worker_url ? 0 : 1;
        bench_queue("bench-latency", r.queue, sizeof(r.queue));
        total = rate * duration_ms / 1000;
        r.expect = total;
        r.warmup = warmup;
        atomic_init(&r.received, 0);
        atomic_init(&r.failed, 0);
        hist_init(&r.lat);
        hist_init(&enq_lat);
        hist_init(&late);
        c = bench_client(r.url);
        start_ns = now_ns();
        /* The worker stops at the latest a few seconds after the last send. */
        atomic_init(&r.stop_ns, start_ns + (duration_ms * 10 + 60000) * 1000000);
        if (pthread_create(&tid, NULL, worker_loop, &r)) {
                fprintf(stderr, "latency: cannot start the worker\n");
                baton_client_free(c);
                return 1;
        }
        /* Give the worker time to park its first claim before the first send. */
        sleep_ns(100 * 1000000);
        interval_ns = 1000000000 / rate;
        start_ns = now_ns();
        for (int64_t i = 0; i < total && !atomic_load(&r.failed); i++) {
                char payload[96];
                struct baton_enqueue_opts o = {.queue = r.queue, .type = "latency"};
                int64_t due_ns = start_ns + i * interval_ns, t0;

                sleep_ns(due_ns - now_ns());
                t0 = now_ns();
                if (i >= warmup)
                        hist_add(&late, t0 - due_ns);
                snprintf(payload, sizeof(payload), "{\"t\":%" PRId64 ",\"seq\":%" PRId64 "}", t0,
                         i);
                o.payload = payload;
                rc = baton_enqueue(c, &o, NULL);
                if (rc) {
                        bench_report_error(c, "enqueue", rc);
                        atomic_store(&r.failed, 1);
                        break;
                }
                if (i >= warmup)
                        hist_add(&enq_lat, now_ns() - t0);
        }
        sent_ns = now_ns() - start_ns;
        atomic_store(&r.stop_ns, now_ns() + (int64_t)5000 * 1000000);
        pthread_join(tid, NULL);
        if (rc == 0 && atomic_load(&r.failed))
                rc = BATON_EPROTO;
        if (rc == 0 && atomic_load(&r.received) < total) {
                fprintf(stderr, "latency: the worker received %" PRId64 " of %" PRId64 " jobs\n",
                        (int64_t)atomic_load(&r.received), total);
                rc = BATON_EBUSY;
        }
        if (rc == 0) {
                printf("latency rate=%" PRId64 " jobs/s (sent at %.0f jobs/s) jobs=%" PRId64
                       " measured=%" PRIu64 "\n",
                       rate, sent_ns > 0 ? (double)total * 1e9 / (double)sent_ns : 0.0, total,
                       r.lat.n);
                hist_print("latency enqueue->worker", &r.lat);
                hist_print("latency enqueue request", &enq_lat);
                hist_print("latency sender lateness", &late);
        }
        baton_client_free(c);
        return rc ? 1 : 0;
}
