/*
 * group_claim.c: claim throughput with many groups under fairness (issue 5:
 * "claim throughput with 1,000 groups under fairness"). Against a running
 * batond (--url, else $BATON_URL; key in $BATON_KEY):
 *
 *  1. on a fresh queue, optionally set group_concurrency (PATCH
 *     /v1/queues/{q}), then pre-load --jobs jobs spread over --groups groups
 *     (job i in group i % groups; with --huge N, N more jobs in one group
 *     "huge" loaded first), in batches of 1,000 (timed apart);
 *  2. --workers threads, each with its own client, loop: claim up to --max
 *     jobs, settle them all as completed in one POST /v1/settle, until every
 *     job is settled. It prints processed jobs/s (first claim to last settle)
 *     and the claim latency;
 *  3. fairness: every claimed job gets a position in the global claim order
 *     (claim answers in arrival order, jobs in answer order). For each group
 *     it takes the largest gap between two of its consecutive jobs while it
 *     still had jobs; with G groups holding ready jobs a fair rotation keeps
 *     that gap near G. It prints the largest gap of any group, and for --huge
 *     the position of the first job of each small group.
 *
 * --groups 0 runs the same load without groups, for comparison. Assumes the
 * leases (30 s default) outlast the run, so every job settles on its first
 * attempt.
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
        int64_t jobs; /* spread over groups */
        int64_t huge; /* extra jobs in one group */
        int64_t groups;
        int64_t max;
        atomic_int_fast64_t next;
        atomic_int_fast64_t settled;
        atomic_int_fast64_t order; /* next claim order position */
        atomic_int failed;
        atomic_int threads; /* client threads started: thread i uses node i of the --url list */
        int32_t *group_at;  /* group index (-1 huge, -2 none) of each order position */
};

struct worker {
        pthread_t tid;
        struct run *r;
        struct hist claim_lat;
        int64_t last_ns;
};

/* Group index of a job from its group name: "g<n>", "huge", or none. */
static int32_t group_index(const char *g)
{
        if (!g)
                return -2;
        if (g[0] == 'g')
                return (int32_t)atoi(g + 1);
        return -1;
}

static void *load_loop(void *arg)
{
        struct run *r = arg;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));
        static _Thread_local struct baton_enqueue_opts o[LOAD_BATCH];
        static _Thread_local char names[LOAD_BATCH][24];
        int64_t total = r->jobs + r->huge;

        for (;;) {
                int64_t first = atomic_fetch_add(&r->next, LOAD_BATCH), n;
                int rc;

                if (first >= total)
                        break;
                n = total - first < LOAD_BATCH ? total - first : LOAD_BATCH;
                for (int64_t k = 0; k < n; k++) {
                        int64_t i = first + k;

                        memset(&o[k], 0, sizeof(o[k]));
                        o[k].queue = r->queue;
                        o[k].type = "noop";
                        if (i < r->huge) {
                                o[k].group = "huge";
                        } else if (r->groups > 0) {
                                snprintf(names[k], sizeof(names[k]), "g%" PRId64,
                                         (i - r->huge) % r->groups);
                                o[k].group = names[k];
                        }
                }
                rc = baton_enqueue_batch(c, o, (size_t)n, NULL);
                if (rc) {
                        bench_report_error(c, "enqueue", rc);
                        atomic_store(&r->failed, 1);
                        break;
                }
        }
        baton_client_free(c);
        return NULL;
}

static void *work_loop(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->r;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));
        struct baton_claim_opts o = {.worker = "bench-groups", .max = (int)r->max};
        struct baton_settle_item *items = calloc(CLAIM_MAX, sizeof(*items));
        int64_t total = r->jobs + r->huge;
        int idle = 0;

        hist_init(&w->claim_lat);
        while (items && atomic_load(&r->settled) < total && !atomic_load(&r->failed)) {
                struct baton_jobs *l = NULL;
                int64_t t0 = now_ns(), pos;
                int rc = baton_claim(c, r->queue, &o, &l);

                if (rc) {
                        bench_report_error(c, "claim", rc);
                        atomic_store(&r->failed, 1);
                        break;
                }
                hist_add(&w->claim_lat, now_ns() - t0);
                if (l->n == 0) {
                        baton_jobs_free(l);
                        /* Others hold the rest; stop once everything is settled. */
                        if (++idle > 20000)
                                break;
                        sleep_ns(200000);
                        continue;
                }
                idle = 0;
                pos = atomic_fetch_add(&r->order, (int_fast64_t)l->n);
                for (size_t i = 0; i < l->n; i++) {
                        if (pos + (int64_t)i < total)
                                r->group_at[pos + (int64_t)i] = group_index(l->v[i].group);
                        items[i] = (struct baton_settle_item){.id = l->v[i].id,
                                                              .lease = l->v[i].lease,
                                                              .outcome = BATON_OUTCOME_COMPLETE,
                                                              .retry_in_ms = -1};
                }
                rc = baton_settle(c, items, l->n);
                if (rc) {
                        bench_report_error(c, "settle", rc);
                        atomic_store(&r->failed, 1);
                }
                atomic_fetch_add(&r->settled, (int_fast64_t)l->n);
                w->last_ns = now_ns();
                baton_jobs_free(l);
        }
        free(items);
        baton_client_free(c);
        return NULL;
}

/* The largest gap between consecutive positions of one group in the claim
 * order, over every group but "huge" and the ungrouped jobs. */
static int64_t max_gap(const struct run *r, int64_t n, int64_t *worst_group)
{
        int64_t *last = calloc((size_t)r->groups + 1, sizeof(*last));
        int64_t gap = 0;

        if (!last)
                return -1;
        for (int64_t i = 0; i < r->groups; i++)
                last[i] = -1;
        for (int64_t p = 0; p < n; p++) {
                int32_t g = r->group_at[p];

                if (g < 0 || g >= r->groups)
                        continue;
                if (last[g] >= 0 && p - last[g] > gap) {
                        gap = p - last[g];
                        *worst_group = g;
                }
                last[g] = p;
        }
        free(last);
        return gap;
}

int main(int argc, char **argv)
{
        const char *url = NULL;
        int64_t jobs = 100000, groups = 1000, workers = 4, max = 100, gc = 0, huge = 0;
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url, "server URL; comma-separated: threads round-robin"},
            {"--jobs", FLAG_I64, &jobs, "jobs spread over the groups"},
            {"--groups", FLAG_I64, &groups, "groups (0 = jobs without a group)"},
            {"--huge", FLAG_I64, &huge, "extra jobs in one group \"huge\", loaded first"},
            {"--workers", FLAG_I64, &workers, "worker threads"},
            {"--max", FLAG_I64, &max, "jobs per claim"},
            {"--group-concurrency", FLAG_I64, &gc, "the queue's group_concurrency (0 = none)"},
        };
        struct worker w[THREADS_MAX];
        pthread_t lt[8];
        struct baton_client *c;
        struct hist all;
        struct run r;
        int64_t t0, t1, end = 0, n, worst = -1, gap;
        char body[128];
        int status = 0;

        if (flags_parse(argc, argv, "claim throughput with many groups under fairness", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))) != 0)
                return 2;
        if (jobs < 1 || groups < 0 || huge < 0 || workers < 1 || workers > THREADS_MAX || max < 1 ||
            max > CLAIM_MAX) {
                fprintf(stderr, "bad flags\n");
                return 2;
        }
        memset(&r, 0, sizeof(r));
        r.url = bench_url(url);
        bench_queue("groups", r.queue, sizeof(r.queue));
        r.jobs = jobs;
        r.huge = huge;
        r.groups = groups;
        r.max = max;
        r.group_at = calloc((size_t)(jobs + huge), sizeof(*r.group_at));
        if (!r.group_at)
                return 1;
        c = bench_client(r.url);
        if (gc > 0) {
                char path[256];
                snprintf(path, sizeof(path), "/v1/queues/%s", r.queue);
                snprintf(body, sizeof(body), "{\"group_concurrency\":%" PRId64 "}", gc);
                if (baton_request(c, "PATCH", path, body, &status, NULL) || status != 200) {
                        fprintf(stderr, "PATCH %s: HTTP %d\n", path, status);
                        return 1;
                }
        }
        t0 = now_ns();
        for (int i = 0; i < 4; i++)
                pthread_create(&lt[i], NULL, load_loop, &r);
        for (int i = 0; i < 4; i++)
                pthread_join(lt[i], NULL);
        t1 = now_ns();
        if (atomic_load(&r.failed))
                return 1;
        printf("queue %s: loaded %" PRId64 " jobs (%" PRId64 " groups, huge %" PRId64
               ") in %.2f s\n",
               r.queue, jobs + huge, groups, huge, (double)(t1 - t0) / 1e9);
        t0 = now_ns();
        for (int i = 0; i < workers; i++) {
                w[i].r = &r;
                w[i].last_ns = t0;
                pthread_create(&w[i].tid, NULL, work_loop, &w[i]);
        }
        hist_init(&all);
        for (int i = 0; i < workers; i++) {
                pthread_join(w[i].tid, NULL);
                hist_merge(&all, &w[i].claim_lat);
                if (w[i].last_ns > end)
                        end = w[i].last_ns;
        }
        n = atomic_load(&r.settled);
        printf("processed %" PRId64 " jobs in %.2f s: %.0f jobs/s (%" PRId64
               " workers, claim max %" PRId64 ", group_concurrency %" PRId64 ")%s\n",
               n, (double)(end - t0) / 1e9, (double)n * 1e9 / (double)(end - t0), workers, max, gc,
               atomic_load(&r.failed) ? " FAILED" : "");
        hist_print("claim request", &all);
        if (groups > 0) {
                gap = max_gap(&r, n, &worst);
                printf("fairness: largest gap between two jobs of one group %" PRId64
                       " claimed jobs (group g%" PRId64 "; %" PRId64
                       " groups rotate, so a fair rotation keeps it near %" PRId64 ")\n",
                       gap, worst, groups + (huge ? 1 : 0), groups + (huge ? 1 : 0));
        }
        if (huge > 0 && groups > 0) {
                int64_t last_first = 0;
                bool *seen = calloc((size_t)groups, 1);
                for (int64_t p = 0; seen && p < n; p++) {
                        int32_t g = r.group_at[p];
                        if (g >= 0 && g < groups && !seen[g]) {
                                seen[g] = true;
                                last_first = p;
                        }
                }
                printf("every small group had its first job claimed by position %" PRId64
                       " (of %" PRId64 "), behind %" PRId64 " jobs of \"huge\"\n",
                       last_first, n, huge);
                free(seen);
        }
        baton_client_free(c);
        free(r.group_at);
        return atomic_load(&r.failed) ? 1 : 0;
}
