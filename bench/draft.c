/*
 * draft.c: the fantasy-draft pattern (seed 002; issue 5: "10,000 drafts, each
 * with a timer moved on every pick and a group of concurrency 1: timers
 * fired, double fires = 0, lateness p50/p99"). Against a running batond
 * (--url, else $BATON_URL; key in $BATON_KEY):
 *
 *  - one queue with group_concurrency 1; draft d's jobs are in group "d<d>";
 *  - each draft makes --picks picks. Every pick is on the clock: the draft's
 *    timer (PUT /v1/timers/<queue>-d<d>, group "d<d>") is due --pick-ms after
 *    the pick started. A share of picks (--manual-pct) is made by a "user"
 *    before the deadline: the user thread enqueues a "pick" job and moves the
 *    timer to the next pick's deadline with compare-and-set on its version.
 *    The others are made by the timer: its "autopick" job's worker fences on
 *    the pick number (payload.pick must still be the draft's current pick,
 *    else it is a stale fire and does nothing) and moves the timer on;
 *  - --workers threads claim from the queue and complete every job; each
 *    checks that no other job of the same draft is held at that moment (the
 *    server must never run two jobs of one group).
 *
 * It prints the timers fired, double fires (two jobs for one timer key and
 * version; must be 0), stale fires fenced by the handler (a user's pick that
 * raced the timer), group violations (must be 0), and the timer lateness
 * (job created_at minus timer.fire_at, server timestamps in ms) p50, p99 and
 * max. Timers are created with --lead-ms to spare, spread over one pick
 * period, so the first fires come after the creation. Assumes the server and
 * this program share the machine's clock.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define MAX_VERSIONS 64
#define THREADS_MAX 64

struct draft {
        pthread_mutex_t mu;
        int pick;                         /* current pick number; == picks when done */
        int64_t version;                  /* the timer's current version */
        int64_t pick_start;               /* wall ms the current pick started */
        atomic_int held;                  /* jobs of this draft held by workers now */
        atomic_uchar fired[MAX_VERSIONS]; /* autopick jobs seen per timer version */
};

struct run {
        const char *url;
        char queue[96];
        int64_t drafts, picks, pick_ms, manual_pct, lead_ms, users;
        struct draft *d;
        atomic_llong picks_done, manual, autopicks, stale, doubles, violations, failed;
        atomic_llong jobs_done, jobs_expected;
        int64_t *late; /* lateness samples (ms), one per autopick */
        atomic_llong n_late;
        atomic_int stop;
        atomic_int threads; /* client threads started: thread i uses node i of the --url list */
};

/* Whether pick p of draft d is made by the user (else by the timer), and
 * when in the pick period: a fixed pseudo-random choice per (d, p). */
static bool manual_pick(const struct run *r, int64_t d, int p, int64_t *offset_ms)
{
        uint64_t h = (uint64_t)d * 2654435761u + (uint64_t)p * 40503u + 17;

        h ^= h >> 13;
        h *= 0x5bd1e995u;
        h ^= h >> 15;
        *offset_ms = r->pick_ms / 5 + (int64_t)(h % (uint64_t)(r->pick_ms * 3 / 5 + 1));
        return (int64_t)((h >> 20) % 100) < r->manual_pct;
}

/* PUTs draft d's timer for pick p due at fire_ms. if_version < 0: none.
 * Returns the HTTP status (0 on a transport failure). */
static int put_timer(struct baton_client *c, const struct run *r, int64_t d, int p, int64_t fire_ms,
                     int64_t if_version)
{
        char path[160], body[512], at[40], cas[40] = "";
        int status = 0;

        fmt_time(fire_ms, at, sizeof(at));
        if (if_version >= 0)
                snprintf(cas, sizeof(cas), ",\"if_version\":%lld", (long long)if_version);
        snprintf(path, sizeof(path), "/v1/timers/%s-d%lld", r->queue, (long long)d);
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"autopick\",\"group\":\"d%lld\","
                 "\"payload\":{\"draft\":%lld,\"pick\":%d},\"fire_at\":\"%s\"%s}",
                 r->queue, (long long)d, (long long)d, p, at, cas);
        if (baton_request(c, "PUT", path, body, &status, NULL) != 0)
                return 0;
        return status;
}

/* The pick is made (by the user or the timer): advance the draft and move its
 * timer to the next pick's deadline. Called with the draft locked. */
static void advance(struct run *r, struct baton_client *c, int64_t d)
{
        struct draft *x = &r->d[d];
        int64_t now = wall_ms();

        x->pick++;
        x->pick_start = now;
        atomic_fetch_add(&r->picks_done, 1);
        if (x->pick >= r->picks)
                return; /* the last pick: the fired (or moved-past) timer stays */
        if (put_timer(c, r, d, x->pick, now + r->pick_ms, -1) == 200)
                x->version++;
        else
                atomic_fetch_add(&r->failed, 1);
}

/* Users: each thread owns drafts d with d % users == k and makes their manual
 * picks when due. */
struct user {
        pthread_t tid;
        struct run *r;
        int k;
};

static void *user_loop(void *arg)
{
        struct user *u = arg;
        struct run *r = u->r;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));
        char body[256];

        while (!atomic_load(&r->stop)) {
                int64_t now = wall_ms();

                for (int64_t d = u->k; d < r->drafts; d += r->users) {
                        struct draft *x = &r->d[d];
                        int64_t off;
                        int p, st;

                        pthread_mutex_lock(&x->mu);
                        p = x->pick;
                        /* A user who comes back after the deadline is too late:
                         * the timer makes that pick. */
                        if (p >= r->picks || !manual_pick(r, d, p, &off) ||
                            now < x->pick_start + off || now >= x->pick_start + r->pick_ms) {
                                pthread_mutex_unlock(&x->mu);
                                continue;
                        }
                        /* The user's pick moves the clock first (compare-and-set on
                         * the version this draft knows), then records the pick. */
                        if (p + 1 < r->picks) {
                                st = put_timer(c, r, d, p + 1, now + r->pick_ms, x->version);
                        } else {
                                char path[160];
                                snprintf(path, sizeof(path), "/v1/timers/%s-d%lld?if_version=%lld",
                                         r->queue, (long long)d, (long long)x->version);
                                st = 0;
                                baton_request(c, "DELETE", path, NULL, &st, NULL);
                        }
                        if (st != 200) {
                                /* The timer fired first (a DELETE of a fired version is
                                 * refused): the autopick makes this pick. */
                                pthread_mutex_unlock(&x->mu);
                                continue;
                        }
                        x->version++;
                        snprintf(body, sizeof(body),
                                 "{\"queue\":\"%s\",\"type\":\"pick\",\"group\":\"d%lld\","
                                 "\"payload\":{\"draft\":%lld,\"pick\":%d}}",
                                 r->queue, (long long)d, (long long)d, p);
                        st = 0;
                        if (baton_request(c, "POST", "/v1/jobs", body, &st, NULL) || st != 201)
                                atomic_fetch_add(&r->failed, 1);
                        atomic_fetch_add(&r->jobs_expected, 1);
                        atomic_fetch_add(&r->manual, 1);
                        x->pick++;
                        x->pick_start = now;
                        atomic_fetch_add(&r->picks_done, 1);
                        pthread_mutex_unlock(&x->mu);
                }
                sleep_ns(5000000);
        }
        baton_client_free(c);
        return NULL;
}

static void on_autopick(struct run *r, struct baton_client *c, struct baton_job *j)
{
        json_t *o = json_loads(baton_job_json(j), 0, NULL);
        json_t *t = json_object_get(o, "timer");
        json_t *p = json_object_get(o, "payload");
        int64_t d = json_integer_value(json_object_get(p, "draft"));
        int pick = (int)json_integer_value(json_object_get(p, "pick"));
        int64_t ver = json_integer_value(json_object_get(t, "version"));
        int64_t fire = parse_time(json_string_value(json_object_get(t, "fire_at")));
        int64_t made = parse_time(json_string_value(json_object_get(o, "created_at")));
        struct draft *x;

        atomic_fetch_add(&r->autopicks, 1);
        if (d < 0 || d >= r->drafts || !t) {
                json_decref(o);
                return;
        }
        x = &r->d[d];
        if (ver >= 0 && ver < MAX_VERSIONS && atomic_fetch_add(&x->fired[ver], 1) > 0)
                atomic_fetch_add(&r->doubles, 1);
        if (fire > 0 && made > 0) {
                int64_t k = atomic_fetch_add(&r->n_late, 1);
                if (k < r->drafts * r->picks)
                        r->late[k] = made - fire;
        }
        pthread_mutex_lock(&x->mu);
        if (pick == x->pick)
                advance(r, c, d);
        else
                atomic_fetch_add(&r->stale, 1); /* fenced: the user picked first */
        pthread_mutex_unlock(&x->mu);
        json_decref(o);
}

static void *worker_loop(void *arg)
{
        struct run *r = arg;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));
        struct baton_claim_opts o = {.worker = "bench-draft", .max = 50, .wait_ms = 500};

        while (!atomic_load(&r->stop)) {
                struct baton_jobs *l = NULL;

                if (baton_claim(c, r->queue, &o, &l) != 0) {
                        atomic_fetch_add(&r->failed, 1);
                        sleep_ns(10000000);
                        continue;
                }
                for (size_t i = 0; i < l->n; i++) {
                        struct baton_job *j = &l->v[i];
                        const char *g = j->group;
                        int64_t d = g && g[0] == 'd' ? atoll(g + 1) : -1;

                        if (d >= 0 && d < r->drafts && atomic_fetch_add(&r->d[d].held, 1) > 0)
                                atomic_fetch_add(&r->violations, 1);
                        if (strcmp(j->type, "autopick") == 0)
                                on_autopick(r, c, j);
                        if (d >= 0 && d < r->drafts)
                                atomic_fetch_sub(&r->d[d].held, 1);
                        if (baton_complete(c, j->id, j->lease, NULL, NULL) != 0)
                                atomic_fetch_add(&r->failed, 1);
                        atomic_fetch_add(&r->jobs_done, 1);
                }
                baton_jobs_free(l);
        }
        baton_client_free(c);
        return NULL;
}

/* Creates the timers of pick 0 for drafts d with d % n == k. */
struct creator {
        pthread_t tid;
        struct run *r;
        int64_t base, k, n;
        int failed;
};

static void *create_loop(void *arg)
{
        struct creator *cr = arg;
        struct run *r = cr->r;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));

        for (int64_t d = cr->k; d < r->drafts; d += cr->n) {
                r->d[d].pick_start = cr->base + d * r->pick_ms / r->drafts - r->pick_ms;
                if (put_timer(c, r, d, 0, r->d[d].pick_start + r->pick_ms, -1) != 201) {
                        cr->failed = 1;
                        break;
                }
                r->d[d].version = 1;
        }
        baton_client_free(c);
        return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
        const char *url = NULL;
        int64_t drafts = 10000, picks = 3, pick_ms = 3000, manual_pct = 50, lead_ms = 10000;
        int64_t workers = 4, users = 8, timeout_s = 300;
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url, "server URL; comma-separated: threads round-robin"},
            {"--drafts", FLAG_I64, &drafts, "concurrent drafts"},
            {"--picks", FLAG_I64, &picks, "picks per draft"},
            {"--pick-ms", FLAG_I64, &pick_ms, "time on the clock per pick"},
            {"--manual-pct", FLAG_I64, &manual_pct, "share of picks users make in time"},
            {"--lead-ms", FLAG_I64, &lead_ms, "first deadlines start this long after start"},
            {"--workers", FLAG_I64, &workers, "worker threads"},
            {"--users", FLAG_I64, &users, "user threads making manual picks"},
            {"--timeout-s", FLAG_I64, &timeout_s, "give up after this long"},
        };
        pthread_t wt[THREADS_MAX];
        struct user us[THREADS_MAX];
        struct creator cr[8];
        struct baton_client *c;
        struct run r;
        char path[160], body[64];
        int64_t t0, t1, base, n;
        int status = 0;

        if (flags_parse(argc, argv, "the draft pattern: timers moved per pick, groups of 1", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))) != 0)
                return 2;
        if (drafts < 1 || picks < 1 || picks > MAX_VERSIONS / 2 || pick_ms < 100 || workers < 1 ||
            workers > THREADS_MAX || users < 1 || users > THREADS_MAX) {
                fprintf(stderr, "bad flags\n");
                return 2;
        }
        memset(&r, 0, sizeof(r));
        r.url = bench_url(url);
        bench_queue("drafts", r.queue, sizeof(r.queue));
        r.drafts = drafts;
        r.picks = picks;
        r.pick_ms = pick_ms;
        r.manual_pct = manual_pct;
        r.lead_ms = lead_ms;
        r.users = users;
        r.d = calloc((size_t)drafts, sizeof(*r.d));
        r.late = calloc((size_t)(drafts * picks), sizeof(*r.late));
        if (!r.d || !r.late)
                return 1;
        c = bench_client(r.url);
        snprintf(path, sizeof(path), "/v1/queues/%s", r.queue);
        snprintf(body, sizeof(body), "{\"group_concurrency\":1}");
        if (baton_request(c, "PATCH", path, body, &status, NULL) || status != 200) {
                fprintf(stderr, "PATCH %s: HTTP %d\n", path, status);
                return 1;
        }
        /* Pick 0 of every draft: deadlines spread over one pick period. */
        base = wall_ms() + lead_ms;
        t0 = now_ns();
        for (int64_t d = 0; d < drafts; d++)
                pthread_mutex_init(&r.d[d].mu, NULL);
        for (int i = 0; i < 8; i++) {
                cr[i] = (struct creator){.r = &r, .base = base, .k = i, .n = 8};
                pthread_create(&cr[i].tid, NULL, create_loop, &cr[i]);
        }
        for (int i = 0; i < 8; i++) {
                pthread_join(cr[i].tid, NULL);
                if (cr[i].failed) {
                        fprintf(stderr, "creating the timers failed\n");
                        return 1;
                }
        }
        t1 = now_ns();
        printf("queue %s: %lld drafts, %lld picks each, %lld ms per pick, %lld%% manual; "
               "timers created in %.1f s%s\n",
               r.queue, (long long)drafts, (long long)picks, (long long)pick_ms,
               (long long)manual_pct, (double)(t1 - t0) / 1e9,
               wall_ms() > base ? " (AFTER the first deadline: raise --lead-ms)" : "");
        for (int i = 0; i < workers; i++)
                pthread_create(&wt[i], NULL, worker_loop, &r);
        for (int i = 0; i < users; i++) {
                us[i].r = &r;
                us[i].k = i;
                pthread_create(&us[i].tid, NULL, user_loop, &us[i]);
        }
        t0 = now_ns();
        while (now_ns() - t0 < timeout_s * 1000000000LL) {
                int64_t done = atomic_load(&r.picks_done);
                if (done >= drafts * picks &&
                    atomic_load(&r.jobs_done) >=
                        atomic_load(&r.autopicks) + atomic_load(&r.jobs_expected) &&
                    wall_ms() > base + pick_ms * (picks + 1))
                        break;
                sleep_ns(100000000);
        }
        /* Let fires of timers moved at the very end (none expected) show up. */
        sleep_ns(1000000000);
        atomic_store(&r.stop, 1);
        for (int i = 0; i < workers; i++)
                pthread_join(wt[i], NULL);
        for (int i = 0; i < users; i++)
                pthread_join(us[i].tid, NULL);
        t1 = now_ns();
        n = atomic_load(&r.n_late);
        if (n > drafts * picks)
                n = drafts * picks;
        qsort(r.late, (size_t)n, sizeof(*r.late), cmp_i64);
        printf("picks made %lld of %lld: by users %lld, by timers %lld; run %.1f s\n",
               (long long)atomic_load(&r.picks_done), (long long)(drafts * picks),
               (long long)atomic_load(&r.manual),
               (long long)(atomic_load(&r.autopicks) - atomic_load(&r.stale)),
               (double)(t1 - t0) / 1e9);
        printf("timers fired %lld, double fires %lld, stale fires fenced %lld, group violations "
               "%lld, request failures %lld\n",
               (long long)atomic_load(&r.autopicks), (long long)atomic_load(&r.doubles),
               (long long)atomic_load(&r.stale), (long long)atomic_load(&r.violations),
               (long long)atomic_load(&r.failed));
        if (n > 0)
                printf("timer lateness (job created_at - fire_at): p50 %lld ms, p99 %lld ms, "
                       "max %lld ms, early %s\n",
                       (long long)r.late[(n - 1) / 2], (long long)r.late[(n * 99 - 1) / 100],
                       (long long)r.late[n - 1], r.late[0] < 0 ? "YES" : "none");
        baton_client_free(c);
        return atomic_load(&r.doubles) || atomic_load(&r.violations) ? 1 : 0;
}
