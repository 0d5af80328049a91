/*
 * cron_lateness.c: cron tick lateness with many schedules (DESIGN §9 row
 * "cron tick lateness, 10,000 schedules": p99 <= 10 ms). Against a running
 * batond (--url, else $BATON_URL; key in $BATON_KEY, else $BATON_API_KEY):
 *
 *  1. create --schedules schedules (PUT /v1/cron/{key}, --threads client
 *     threads), all due at once: "* * * * *" (every minute, the default
 *     --cron-min-interval-ms floor allows it) or, with --every-s N, the
 *     6-field "* /N * * * * *" (without the space; the server's floor must be
 *     N s or less); or, with --spread 1, every minute at a second spread by
 *     the key's hash ("H * * * * *", the way H is meant to be used), so about
 *     a sixtieth of them fall due each second; --spread 1 with --every-s N
 *     gives "H/N * * * * *", every N s at a second spread over the N. The
 *     threads spread round-robin over the nodes of a comma-separated --url
 *     list. overlap "allow", so the jobs
 *     nobody claims never turn a tick into a skipped one;
 *  2. wait until --ticks ticks have passed after the creation ended;
 *  3. read every schedule's runs (GET /v1/cron/{key}/runs) and take, per run
 *     of trigger "schedule" scheduled inside the observed ticks, fired_at
 *     minus scheduled_at: lateness p50, p99 and max, ticks missed (an
 *     observed tick with no run), duplicated (two runs for one tick) and runs
 *     that were not on-time fires (catchup, skipped);
 *  4. delete the schedules (their jobs stay in the queue).
 *
 * fired_at is the clock reading of the transaction that fired the tick (one
 * per batch of due schedules), so the figure is the lateness of the start of
 * the fire; the commit that makes it durable follows. Server timestamps have
 * millisecond resolution. Assumes the server and this program share the
 * machine's clock.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define RUNS_PAGE 1000

struct run {
        const char *url;
        const char *prefix; /* schedule keys are <prefix>-<i>, the queue is <prefix> */
        int64_t schedules;
        int64_t every_s; /* 0: every minute (5 fields) */
        int64_t spread;  /* 1: "H * * * * *" */
        int64_t from_ms; /* observed ticks: scheduled_at in [from_ms, to_ms] */
        int64_t to_ms;
        int64_t period_ms; /* time between ticks */
        atomic_llong next; /* next schedule index to work on */
        atomic_int failed;
        atomic_int threads; /* threads started: thread i uses node i of the list */
        /* Filled by collect_fn. */
        int64_t *late; /* one sample per on-time run, schedules * ticks at most */
        atomic_llong n_late;
        atomic_llong missed, duplicated, other_runs;
        int64_t late_cap;
};

static void *create_fn(void *arg)
{
        struct run *r = arg;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));
        char path[256], body[512], expr[32];

        if (r->spread && r->every_s)
                snprintf(expr, sizeof(expr), "H/%lld * * * * *", (long long)r->every_s);
        else if (r->spread)
                snprintf(expr, sizeof(expr), "H * * * * *");
        else if (r->every_s)
                snprintf(expr, sizeof(expr), "*/%lld * * * * *", (long long)r->every_s);
        else
                snprintf(expr, sizeof(expr), "* * * * *");
        for (;;) {
                int64_t i = atomic_fetch_add(&r->next, 1);
                int status = 0;
                int rc;

                if (i >= r->schedules)
                        break;
                snprintf(path, sizeof(path), "/v1/cron/%s-%lld", r->prefix, (long long)i);
                snprintf(body, sizeof(body),
                         "{\"cron\":\"%s\",\"overlap\":\"allow\",\"job\":{\"queue\":\"%s\","
                         "\"type\":\"tick\",\"payload\":{\"i\":%lld}}}",
                         expr, r->prefix, (long long)i);
                rc = baton_request(c, "PUT", path, body, &status, NULL);
                if (rc || status != 201) {
                        if (atomic_fetch_add(&r->failed, 1) < 5)
                                bench_report_error(c, "PUT schedule", rc ? rc : BATON_EPROTO);
                }
        }
        baton_client_free(c);
        return NULL;
}

/* One schedule's runs: lateness of its on-time fires in the observed ticks,
 * and the ticks it missed or fired twice. */
static int collect_one(struct run *r, struct baton_client *c, int64_t i, unsigned char *seen,
                       int64_t ticks)
{
        char path[512], after[64] = "";
        int rc = 0;

        memset(seen, 0, (size_t)ticks);
        for (;;) {
                char *body = NULL;
                int status = 0;
                json_t *doc, *runs;
                const char *next;

                snprintf(path, sizeof(path), "/v1/cron/%s-%lld/runs?limit=%d%s%s", r->prefix,
                         (long long)i, RUNS_PAGE, *after ? "&after=" : "", after);
                rc = baton_request(c, "GET", path, NULL, &status, &body);
                if (rc || status != 200) {
                        free(body);
                        return rc ? rc : BATON_EPROTO;
                }
                doc = json_loads(body, 0, NULL);
                free(body);
                runs = json_object_get(doc, "runs");
                for (size_t k = 0; k < json_array_size(runs); k++) {
                        json_t *run = json_array_get(runs, k);
                        const char *trig = json_string_value(json_object_get(run, "trigger"));
                        int64_t sched =
                            parse_time(json_string_value(json_object_get(run, "scheduled_at")));
                        int64_t fired =
                            parse_time(json_string_value(json_object_get(run, "fired_at")));
                        int64_t t;

                        if (sched < r->from_ms || sched >= r->to_ms)
                                continue;
                        t = (sched - r->from_ms) / r->period_ms;
                        if (!trig || strcmp(trig, "schedule") != 0 || fired < 0) {
                                atomic_fetch_add(&r->other_runs, 1);
                                continue;
                        }
                        if (seen[t]++) {
                                atomic_fetch_add(&r->duplicated, 1);
                                continue;
                        }
                        int64_t at = atomic_fetch_add(&r->n_late, 1);
                        if (at < r->late_cap)
                                r->late[at] = fired - sched;
                }
                next = json_string_value(json_object_get(doc, "next"));
                if (next)
                        snprintf(after, sizeof(after), "%s", next);
                json_decref(doc);
                if (!next)
                        break;
        }
        for (int64_t t = 0; t < ticks; t++)
                if (!seen[t])
                        atomic_fetch_add(&r->missed, 1);
        return 0;
}

static void *collect_fn(void *arg)
{
        struct run *r = arg;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));
        int64_t ticks = (r->to_ms - r->from_ms) / r->period_ms;
        unsigned char *seen = malloc((size_t)ticks);

        for (;;) {
                int64_t i = atomic_fetch_add(&r->next, 1);
                int rc;

                if (i >= r->schedules || !seen)
                        break;
                rc = collect_one(r, c, i, seen, ticks);
                if (rc && atomic_fetch_add(&r->failed, 1) < 5)
                        bench_report_error(c, "GET runs", rc);
        }
        free(seen);
        baton_client_free(c);
        return NULL;
}

static void *delete_fn(void *arg)
{
        struct run *r = arg;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));
        char path[256];

        for (;;) {
                int64_t i = atomic_fetch_add(&r->next, 1);
                int status = 0;

                if (i >= r->schedules)
                        break;
                snprintf(path, sizeof(path), "/v1/cron/%s-%lld", r->prefix, (long long)i);
                if ((baton_request(c, "DELETE", path, NULL, &status, NULL) || status != 200) &&
                    atomic_fetch_add(&r->failed, 1) < 5)
                        bench_report_error(c, "DELETE schedule", BATON_EPROTO);
        }
        baton_client_free(c);
        return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

static void run_threads(struct run *r, int64_t threads, void *(*fn)(void *))
{
        pthread_t th[256];

        atomic_store(&r->next, 0);
        for (int i = 0; i < threads; i++)
                pthread_create(&th[i], NULL, fn, r);
        for (int i = 0; i < threads; i++)
                pthread_join(th[i], NULL);
}

int main(int argc, char **argv)
{
        const char *url = NULL;
        int64_t schedules = 10000, ticks = 3, every_s = 0, threads = 8, keep = 0, spread = 0;
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url, "server URL; comma-separated: threads round-robin"},
            {"--schedules", FLAG_I64, &schedules, "schedules, all due at the same instants"},
            {"--ticks", FLAG_I64, &ticks, "ticks observed after the creation"},
            {"--every-s", FLAG_I64, &every_s,
             "0: \"* * * * *\"; N: \"*/N * * * * *\" (needs --cron-min-interval-ms <= N s)"},
            {"--spread", FLAG_I64, &spread,
             "1: \"H * * * * *\" (every minute, seconds spread by key); with --every-s N: "
             "\"H/N * * * * *\""},
            {"--threads", FLAG_I64, &threads, "client threads"},
            {"--keep", FLAG_I64, &keep, "1: leave the schedules in place"},
        };
        struct run r;
        char q[64];
        int64_t t0, t1, created_ms, n;

        if (flags_parse(argc, argv, "cron tick lateness with many schedules", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))) != 0)
                return 2;
        if (schedules < 1 || ticks < 1 || threads < 1 || threads > 256 || every_s < 0 ||
            every_s > 59 || (every_s && 60 % every_s != 0)) {
                fprintf(stderr, "bad flags (--every-s must divide 60)\n");
                return 2;
        }
        memset(&r, 0, sizeof(r));
        r.url = bench_url(url);
        r.prefix = bench_queue("cronlate", q, sizeof(q));
        r.schedules = schedules;
        r.every_s = every_s;
        r.spread = spread;
        r.period_ms = every_s ? every_s * 1000 : 60000;
        r.late_cap = schedules * ticks;
        r.late = malloc((size_t)r.late_cap * sizeof(*r.late));
        if (!r.late)
                return 1;
        t0 = now_ns();
        run_threads(&r, threads, create_fn);
        t1 = now_ns();
        created_ms = wall_ms();
        printf("created %lld schedules (%s) in %.1f s, %d failed\n", (long long)schedules,
               spread && every_s ? "H/N * * * * *"
               : spread          ? "H * * * * *"
               : every_s         ? "6 fields"
                                 : "* * * * *",
               (double)(t1 - t0) / 1e9, atomic_load(&r.failed));
        /* Observe the first tick at least a second after the creation. */
        r.from_ms = (created_ms + 1000 + r.period_ms - 1) / r.period_ms * r.period_ms;
        r.to_ms = r.from_ms + ticks * r.period_ms;
        printf("observing %lld ticks from %lld to %lld (Unix ms)\n", (long long)ticks,
               (long long)r.from_ms, (long long)r.to_ms);
        while (wall_ms() < r.to_ms + 5000)
                sleep_ns(200000000);
        t0 = now_ns();
        run_threads(&r, threads, collect_fn);
        printf("read the runs in %.1f s\n", (double)(now_ns() - t0) / 1e9);
        n = atomic_load(&r.n_late);
        if (n > r.late_cap)
                n = r.late_cap;
        qsort(r.late, (size_t)n, sizeof(*r.late), cmp_i64);
        printf("schedules %lld, ticks %lld: on-time fires %lld of %lld, missed %lld, "
               "duplicated %lld, other runs (catchup/skipped) %lld\n",
               (long long)schedules, (long long)ticks, (long long)n, (long long)(schedules * ticks),
               (long long)atomic_load(&r.missed), (long long)atomic_load(&r.duplicated),
               (long long)atomic_load(&r.other_runs));
        if (n > 0)
                printf("lateness (fired_at - scheduled_at): p50 %lld ms, p99 %lld ms, max %lld "
                       "ms, min %lld ms\n",
                       (long long)r.late[(n - 1) / 2], (long long)r.late[(n * 99 - 1) / 100],
                       (long long)r.late[n - 1], (long long)r.late[0]);
        if (!keep) {
                run_threads(&r, threads, delete_fn);
                printf("deleted the schedules\n");
        }
        free(r.late);
        return atomic_load(&r.duplicated) ? 1 : 0;
}
