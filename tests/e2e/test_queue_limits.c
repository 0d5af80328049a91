/*
 * test_queue_limits.c: end-to-end tests of queue limits, groups and fairness
 * (docs/api.md "Queue limits, groups and fairness"): PATCH settings and their
 * validation (nothing changes on a refusal), the audit entry, concurrency and
 * rate limits measured across several concurrent workers, group concurrency
 * 1, fair rotation of a small group against a huge one, max_depth refusals
 * (single and batch), queue defaults, and limited claims that wait for a
 * freed slot or a rolled rate window instead of spinning. Every path out of
 * running (complete, fail with retry, lease expiry, cancel) must free a slot,
 * and the counters must survive a kill -9 and a restart.
 *
 * Workers are threads with their own libbaton client. What a test measures
 * on its side (jobs held at once) is a lower bound of what the server counts
 * (a job is held from the claim's answer to the settle's request, inside the
 * server's running interval), so a limit broken by the server shows here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/harness.h"

static struct harness srv;
static struct baton_client *cl;

/* PATCHes settings (JSON text) on q and asserts 200. */
static void set_queue(const char *q, const char *settings)
{
        struct http_res r;
        char path[128];

        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        harness_expect(srv.url, NULL, "PATCH", path, settings, 200, &r);
        http_res_free(&r);
}

/* Enqueues n jobs of q in group g (NULL = none) with priority prio (NULL =
 * default), in batches. */
static void enqueue_n(const char *q, const char *g, const char *prio, int n)
{
        while (n > 0) {
                int k = n > 1000 ? 1000 : n;
                struct baton_enqueue_opts *o = calloc((size_t)k, sizeof(*o));

                assert_non_null(o);
                for (int i = 0; i < k; i++) {
                        o[i].queue = q;
                        o[i].type = "t";
                        o[i].group = g;
                        o[i].priority =
                            prio ? (strcmp(prio, "critical") == 0 ? BATON_PRIORITY_CRITICAL
                                                                  : BATON_PRIORITY_LOW)
                                 : BATON_PRIORITY_DEFAULT;
                }
                assert_ok(cl, baton_enqueue_batch(cl, o, (size_t)k, NULL));
                free(o);
                n -= k;
        }
}

/* ---- settings ---- */

static void settings_roundtrip_and_errors(void **state)
{
        static const struct {
                const char *body, *code, *field;
        } bad[] = {
            {"{\"concurrency\": 0}", "setting_out_of_range", "concurrency"},
            {"{\"concurrency\": 1000001}", "setting_out_of_range", "concurrency"},
            {"{\"concurrency\": \"2\"}", "setting_out_of_range", "concurrency"},
            {"{\"rate\": 5}", "invalid_field", "rate"},
            {"{\"rate\": {\"max\": 5}}", "invalid_field", "rate"},
            {"{\"rate\": {\"max\": 0, \"per_ms\": 1000}}", "setting_out_of_range", "rate.max"},
            {"{\"rate\": {\"max\": 5, \"per_ms\": 86400001}}", "setting_out_of_range",
             "rate.per_ms"},
            {"{\"group_rate\": {\"max\": 10001, \"per_ms\": 1}}", "setting_out_of_range",
             "group_rate.max"},
            {"{\"max_depth\": -1}", "setting_out_of_range", "max_depth"},
            {"{\"group_concurrency\": 1.5}", "setting_out_of_range", "group_concurrency"},
            {"{\"max_attempts\": 0}", "setting_out_of_range", "max_attempts"},
            {"{\"lease_ms\": 5}", "setting_out_of_range", "lease_ms"},
            {"{\"backoff\": {\"type\": \"sometimes\"}}", "invalid_field", "backoff.type"},
            {"{\"paused\": 1}", "invalid_field", "paused"},
            {"{\"concurency\": 2}", "unknown_field", "concurency"},
            {"{}", "missing_field", NULL},
            /* One bad member refuses the whole change. */
            {"{\"concurrency\": 9, \"max_depth\": 0}", "setting_out_of_range", "max_depth"},
        };
        struct http_res r;
        char q[64], path[128];
        char *before;

        (void)state;
        harness_unique("settings", q, sizeof(q));
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        set_queue(q, "{\"concurrency\": 4, \"rate\": {\"max\": 5, \"per_ms\": 1000},"
                     " \"max_depth\": 100, \"group_concurrency\": 1,"
                     " \"group_rate\": {\"max\": 2, \"per_ms\": 500}, \"max_attempts\": 7,"
                     " \"lease_ms\": 4000, \"backoff\": {\"type\": \"fixed\", \"base_ms\": 250}}");
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(jpath_int(r.json, "queue.concurrency"), 4);
        assert_int_equal(jpath_int(r.json, "queue.rate.max"), 5);
        assert_int_equal(jpath_int(r.json, "queue.rate.per_ms"), 1000);
        assert_int_equal(jpath_int(r.json, "queue.max_depth"), 100);
        assert_int_equal(jpath_int(r.json, "queue.group_concurrency"), 1);
        assert_int_equal(jpath_int(r.json, "queue.group_rate.max"), 2);
        assert_int_equal(jpath_int(r.json, "queue.group_rate.per_ms"), 500);
        assert_int_equal(jpath_int(r.json, "queue.defaults.max_attempts"), 7);
        assert_int_equal(jpath_int(r.json, "queue.defaults.lease_ms"), 4000);
        assert_string_equal(jpath_str(r.json, "queue.defaults.backoff.type"), "fixed");
        assert_int_equal(jpath_int(r.json, "queue.defaults.backoff.base_ms"), 250);
        assert_int_equal(jpath_int(r.json, "queue.running"), 0);
        assert_int_equal(jpath_int(r.json, "queue.depth"), 0);
        before = json_dumps(jpath(r.json, "queue"), JSON_COMPACT | JSON_SORT_KEYS);
        http_res_free(&r);

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *after;
                assert_int_equal(http_json(srv.url, "PATCH", path, bad[i].body, &r), 0);
                assert_http_error(&r, 400, bad[i].code, bad[i].field);
                http_res_free(&r);
                assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
                after = json_dumps(jpath(r.json, "queue"), JSON_COMPACT | JSON_SORT_KEYS);
                assert_string_equal(before, after); /* nothing changed */
                free(after);
                http_res_free(&r);
        }
        free(before);

        /* null removes a limit or a default; other settings stay. */
        set_queue(q, "{\"rate\": null, \"max_attempts\": null, \"backoff\": null}");
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_true(json_is_null(jpath(r.json, "queue.rate")));
        assert_true(json_is_null(jpath(r.json, "queue.defaults.max_attempts")));
        assert_true(json_is_null(jpath(r.json, "queue.defaults.backoff")));
        assert_int_equal(jpath_int(r.json, "queue.concurrency"), 4);
        http_res_free(&r);
}

static void settings_audited(void **state)
{
        struct http_res r;
        char q[64], path[256];
        const char *detail;
        json_t *entries;

        (void)state;
        harness_unique("audited", q, sizeof(q));
        set_queue(q, "{\"concurrency\": 3, \"group_concurrency\": 1}");
        snprintf(path, sizeof(path), "/v1/audit?action=queue.update&limit=100");
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        entries = jpath(r.json, "entries");
        assert_true(json_is_array(entries));
        detail = NULL;
        for (size_t i = 0; i < json_array_size(entries); i++) {
                json_t *e = json_array_get(entries, i);
                if (jpath_str(e, "target") && strcmp(jpath_str(e, "target"), q) == 0) {
                        assert_int_equal(jpath_int(e, "status"), 200);
                        detail = json_string_value(json_object_get(e, "detail"))
                                     ? json_string_value(json_object_get(e, "detail"))
                                     : NULL;
                        if (!detail) {
                                char *d = json_dumps(json_object_get(e, "detail"), JSON_COMPACT);
                                assert_non_null(strstr(d, "\"concurrency\":3"));
                                assert_non_null(strstr(d, "\"group_concurrency\":1"));
                                free(d);
                                detail = "checked";
                        } else {
                                assert_non_null(strstr(detail, "\"concurrency\":3"));
                        }
                }
        }
        assert_non_null(detail);
        http_res_free(&r);
}

/* ---- workers ---- */

struct pool {
        const char *queue;
        int total;        /* jobs to process in all */
        int max;          /* claim size */
        int64_t hold_ms;  /* time a worker holds each job */
        atomic_int done;  /* jobs completed */
        atomic_int held;  /* jobs held right now */
        atomic_int peak;  /* most held at once */
        atomic_int calls; /* claim requests made */
        /* Per group ("g0".."g9") held counts and peaks. */
        atomic_int g_held[10];
        atomic_int g_peak[10];
        atomic_int overlap; /* a group held twice at once */
        /* Start instants (server's started_at) of every job, in claim order. */
        int64_t starts[512];
        atomic_int n_starts;
};

static void peak_max(atomic_int *peak, int v)
{
        int p = atomic_load(peak);

        while (v > p && !atomic_compare_exchange_weak(peak, &p, v))
                ;
}

static int group_index(const struct baton_job *j)
{
        return j->group && j->group[0] == 'g' && j->group[1] >= '0' && j->group[1] <= '9'
                   ? j->group[1] - '0'
                   : -1;
}

static void *worker(void *arg)
{
        struct pool *p = arg;
        struct baton_client *c = harness_client(&srv);
        struct baton_claim_opts o = {.worker = "limits-worker", .max = p->max, .wait_ms = 2000};
        int64_t give_up = harness_now_ms() + 60000;

        while (atomic_load(&p->done) < p->total && harness_now_ms() < give_up) {
                struct baton_jobs *l = NULL;
                int rc = baton_claim(c, p->queue, &o, &l);

                atomic_fetch_add(&p->calls, 1);
                if (rc != 0) {
                        harness_sleep_ms(10);
                        continue;
                }
                for (size_t i = 0; i < l->n; i++) {
                        int g = group_index(&l->v[i]);
                        int k = atomic_fetch_add(&p->n_starts, 1);
                        if (k < 512)
                                p->starts[k] = l->v[i].started_at_ms;
                        peak_max(&p->peak, atomic_fetch_add(&p->held, 1) + 1);
                        if (g >= 0) {
                                int h = atomic_fetch_add(&p->g_held[g], 1) + 1;
                                peak_max(&p->g_peak[g], h);
                        }
                }
                if (p->hold_ms)
                        harness_sleep_ms(p->hold_ms);
                for (size_t i = 0; i < l->n; i++) {
                        int g = group_index(&l->v[i]);
                        if (g >= 0)
                                atomic_fetch_sub(&p->g_held[g], 1);
                        atomic_fetch_sub(&p->held, 1);
                        if (baton_complete(c, l->v[i].id, l->v[i].lease, NULL, NULL) == 0)
                                atomic_fetch_add(&p->done, 1);
                }
                baton_jobs_free(l);
        }
        baton_client_free(c);
        return NULL;
}

static void run_pool(struct pool *p, int workers)
{
        pthread_t t[8];

        assert_true(workers <= 8);
        for (int i = 0; i < workers; i++)
                assert_int_equal(harness_thread(&t[i], worker, p), 0);
        for (int i = 0; i < workers; i++)
                harness_join(t[i]);
        assert_int_equal(atomic_load(&p->done), p->total);
}

/* ---- limits across workers ---- */

static void concurrency_limit(void **state)
{
        struct pool *p = calloc(1, sizeof(*p));
        char q[64];
        struct baton_queue *qu = NULL;

        (void)state;
        harness_unique("conc", q, sizeof(q));
        set_queue(q, "{\"concurrency\": 3}");
        enqueue_n(q, NULL, NULL, 30);
        p->queue = q;
        p->total = 30;
        p->max = 2;
        p->hold_ms = 30;
        run_pool(p, 6);
        /* Six workers asking for two each would hold up to twelve. */
        assert_true(atomic_load(&p->peak) <= 3);
        assert_int_equal(atomic_load(&p->peak), 3);
        assert_ok(cl, baton_queue_get(cl, q, &qu));
        assert_int_equal(qu->running, 0); /* every complete freed its slot */
        assert_int_equal(qu->depth, 0);
        baton_queue_free(qu);
        free(p);
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

/* The most starts in any window [t, t + per_ms) of the sorted starts. */
static int max_in_window(int64_t *v, int n, int64_t per_ms)
{
        int best = 0;

        qsort(v, (size_t)n, sizeof(*v), cmp_i64);
        for (int i = 0, j = 0; i < n; i++) {
                while (v[j] <= v[i] - per_ms)
                        j++;
                if (i - j + 1 > best)
                        best = i - j + 1;
        }
        return best;
}

static void rate_limit_across_workers(void **state)
{
        struct pool *p = calloc(1, sizeof(*p));
        int64_t t0, elapsed;
        char q[64];
        int n;

        (void)state;
        harness_unique("rate", q, sizeof(q));
        set_queue(q, "{\"rate\": {\"max\": 5, \"per_ms\": 400}}");
        enqueue_n(q, NULL, NULL, 30);
        p->queue = q;
        p->total = 30;
        p->max = 3;
        t0 = harness_now_ms();
        run_pool(p, 4);
        elapsed = harness_now_ms() - t0;
        n = atomic_load(&p->n_starts);
        assert_int_equal(n, 30);
        /* Strict: no window of 400 ms holds more than 5 starts, measured from
         * the server's own start instants. */
        assert_true(max_in_window(p->starts, n, 400) <= 5);
        /* 30 starts at 5 per 400 ms take at least 5 full windows. */
        assert_true(elapsed >= 5 * 400 - 50);
        /* Limited claims park until the window rolls: a spinning claim loop
         * would make thousands of calls in these two seconds. */
        assert_true(atomic_load(&p->calls) < 120);
        free(p);
}

static void group_concurrency_one(void **state)
{
        struct pool *p = calloc(1, sizeof(*p));
        char q[64], g[8];

        (void)state;
        harness_unique("gc1", q, sizeof(q));
        set_queue(q, "{\"group_concurrency\": 1}");
        for (int i = 0; i < 5; i++) {
                snprintf(g, sizeof(g), "g%d", i);
                enqueue_n(q, g, NULL, 8);
        }
        p->queue = q;
        p->total = 40;
        p->max = 4;
        p->hold_ms = 20;
        run_pool(p, 6);
        for (int i = 0; i < 5; i++)
                assert_int_equal(atomic_load(&p->g_peak[i]), 1);
        /* Groups still ran side by side. */
        assert_true(atomic_load(&p->peak) > 1);
        free(p);
}

/* ---- fairness ---- */

/* Claims one job of q and completes it; returns its group (static buffer). */
static const char *claim_one_group(const char *q)
{
        static char group[64];
        struct baton_jobs *l = harness_claim(cl, q, 1, 0, 0);

        assert_int_equal(l->n, 1);
        snprintf(group, sizeof(group), "%s", l->v[0].group ? l->v[0].group : "-");
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
        baton_jobs_free(l);
        return group;
}

static void fairness_small_group_within_one_rotation(void **state)
{
        char q[64];
        int at = -1;

        (void)state;
        harness_unique("fair", q, sizeof(q));
        enqueue_n(q, "huge", NULL, 5000);
        enqueue_n(q, "g1", NULL, 20);
        enqueue_n(q, "g2", NULL, 20);
        enqueue_n(q, NULL, NULL, 20); /* jobs without a group */
        for (int i = 0; i < 10; i++)
                (void)claim_one_group(q);
        /* A group that arrives now, behind 5,000 jobs of "huge": four groups
         * (huge, g1, g2 and the ungrouped jobs) have ready jobs, so one
         * rotation is four claims at most, plus its own. */
        enqueue_n(q, "small", NULL, 1);
        for (int i = 0; i < 5 && at < 0; i++)
                if (strcmp(claim_one_group(q), "small") == 0)
                        at = i;
        assert_true(at >= 0);
        assert_true(at <= 4);
}

static void fairness_rotates_and_keeps_priority(void **state)
{
        char q[64];
        int seen[3] = {0};

        (void)state;
        harness_unique("rot", q, sizeof(q));
        enqueue_n(q, "g0", NULL, 300);
        enqueue_n(q, "g1", NULL, 3);
        enqueue_n(q, "g2", NULL, 3);
        /* Nine claims serve each group three times: no group twice in a row
         * while the others wait. */
        for (int i = 0; i < 9; i++) {
                const char *g = claim_one_group(q);
                assert_true(g[0] == 'g');
                seen[g[1] - '0']++;
        }
        assert_int_equal(seen[0], 3);
        assert_int_equal(seen[1], 3);
        assert_int_equal(seen[2], 3);
        /* A critical job goes first whatever its group's turn. */
        enqueue_n(q, "g0", "critical", 1);
        {
                struct baton_jobs *l = harness_claim(cl, q, 1, 0, 0);
                assert_int_equal(l->n, 1);
                assert_int_equal(l->v[0].priority, BATON_PRIORITY_CRITICAL);
                assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
                baton_jobs_free(l);
        }
}

/* ---- max_depth ---- */

static void max_depth_refuses_and_stores_nothing(void **state)
{
        struct baton_enqueue_opts two[2] = {{.queue = NULL, .type = "t"}, {.type = "t"}};
        struct http_res r;
        char q[64], path[128], body[256], ra[16];
        struct baton_jobs *l;

        (void)state;
        harness_unique("depth", q, sizeof(q));
        set_queue(q, "{\"max_depth\": 3}");
        enqueue_n(q, NULL, NULL, 2);
        /* A batch of two with one place left: refused whole. */
        two[0].queue = two[1].queue = q;
        assert_err(cl, baton_enqueue_batch(cl, two, 2, NULL), BATON_EBUSY, 503, "queue_full", NULL);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 2);
        enqueue_n(q, NULL, NULL, 1);
        snprintf(body, sizeof(body), "{\"queue\": \"%s\", \"type\": \"t\"}", q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_http_error(&r, 503, "queue_full", NULL);
        assert_non_null(http_header(&r, "Retry-After", ra, sizeof(ra)));
        http_res_free(&r);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 3);
        /* Running jobs still count; a finished one frees its place. */
        l = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(l->n, 1);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_int_equal(r.status, 503);
        http_res_free(&r);
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
        baton_jobs_free(l);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        /* Removing the limit lets everything in. */
        set_queue(q, "{\"max_depth\": null}");
        enqueue_n(q, NULL, NULL, 5);
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(jpath_int(r.json, "queue.depth"), 8);
        http_res_free(&r);
}

/* ---- defaults ---- */

static void queue_defaults_apply(void **state)
{
        struct baton_enqueue_opts o = {.type = "t"};
        struct baton_job *j = NULL;
        json_t *obj;
        char q[64];

        (void)state;
        harness_unique("defaults", q, sizeof(q));
        set_queue(q, "{\"max_attempts\": 9, \"lease_ms\": 2500,"
                     " \"backoff\": {\"type\": \"fixed\", \"base_ms\": 700}}");
        o.queue = q;
        assert_ok(cl, baton_enqueue(cl, &o, &j));
        assert_int_equal(j->max_attempts, 9);
        assert_int_equal(j->lease_ms, 2500);
        obj = harness_job_obj(j);
        assert_string_equal(jpath_str(obj, "backoff.type"), "fixed");
        assert_int_equal(jpath_int(obj, "backoff.base_ms"), 700);
        json_decref(obj);
        baton_job_free(j);
        /* What the job says wins over the queue's default. */
        o.max_attempts = 2;
        o.lease_ms = 1000;
        o.backoff = "{\"type\": \"immediate\"}";
        assert_ok(cl, baton_enqueue(cl, &o, &j));
        assert_int_equal(j->max_attempts, 2);
        assert_int_equal(j->lease_ms, 1000);
        obj = harness_job_obj(j);
        assert_string_equal(jpath_str(obj, "backoff.type"), "immediate");
        json_decref(obj);
        baton_job_free(j);
}

/* ---- limited claims wait ---- */

struct waiter_arg {
        const char *queue;
        int64_t wait_ms;
        int64_t elapsed_ms;
        int got;
        char group[32];
};

static void *wait_claim(void *arg)
{
        struct waiter_arg *w = arg;
        struct baton_client *c = harness_client(&srv);
        struct baton_claim_opts o = {.worker = "waiter", .max = 1, .wait_ms = w->wait_ms};
        struct baton_jobs *l = NULL;
        int64_t t0 = harness_now_ms();

        if (baton_claim(c, w->queue, &o, &l) == 0) {
                w->got = (int)l->n;
                if (l->n && l->v[0].group)
                        snprintf(w->group, sizeof(w->group), "%s", l->v[0].group);
                for (size_t i = 0; i < l->n; i++)
                        baton_complete(c, l->v[i].id, l->v[i].lease, NULL, NULL);
                baton_jobs_free(l);
        }
        w->elapsed_ms = harness_now_ms() - t0;
        baton_client_free(c);
        return NULL;
}

static void limited_claim_waits_for_a_slot(void **state)
{
        struct waiter_arg w = {0};
        struct baton_jobs *l;
        pthread_t t;
        char q[64];

        (void)state;
        harness_unique("slot", q, sizeof(q));
        set_queue(q, "{\"concurrency\": 1}");
        enqueue_n(q, NULL, NULL, 2);
        l = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(l->n, 1);
        /* At the limit a claim without wait gets nothing at once. */
        {
                struct baton_jobs *none = harness_claim(cl, q, 1, 0, 0);
                assert_int_equal(none->n, 0);
                baton_jobs_free(none);
        }
        w.queue = q;
        w.wait_ms = 10000;
        assert_int_equal(harness_thread(&t, wait_claim, &w), 0);
        harness_sleep_ms(300);
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
        harness_join(t);
        baton_jobs_free(l);
        assert_int_equal(w.got, 1);
        /* Woken by the settle, not by its 10 s timeout. */
        assert_true(w.elapsed_ms >= 250);
        assert_true(w.elapsed_ms < 5000);
}

static void limited_claim_waits_for_the_window(void **state)
{
        struct waiter_arg w = {0};
        struct baton_jobs *l;
        char q[64];
        pthread_t t;

        (void)state;
        harness_unique("roll", q, sizeof(q));
        set_queue(q, "{\"rate\": {\"max\": 1, \"per_ms\": 1000}}");
        enqueue_n(q, NULL, NULL, 2);
        l = harness_claim(cl, q, 2, 0, 0);
        assert_int_equal(l->n, 1); /* the window holds one start */
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
        baton_jobs_free(l);
        w.queue = q;
        w.wait_ms = 10000;
        assert_int_equal(harness_thread(&t, wait_claim, &w), 0);
        harness_join(t);
        assert_int_equal(w.got, 1);
        /* Woken when the window rolled, about a second after the first start. */
        assert_true(w.elapsed_ms >= 700);
        assert_true(w.elapsed_ms < 5000);
}

/* ---- every path out of running frees the group's slot ---- */

static void group_slot_freed_on_every_exit(void **state)
{
        struct baton_enqueue_opts o = {.type = "t", .group = "g0"};
        struct waiter_arg w = {0};
        struct baton_job *f = NULL, *c = NULL;
        struct baton_jobs *l;
        pthread_t t;
        char q[64];

        (void)state;
        harness_unique("exits", q, sizeof(q));
        set_queue(q, "{\"group_concurrency\": 1}");
        o.queue = q;
        o.max_attempts = 3;
        o.backoff = "{\"type\": \"immediate\"}";
        assert_ok(cl, baton_enqueue(cl, &o, NULL));
        assert_ok(cl, baton_enqueue(cl, &o, NULL));

        /* Fail with a retry: the slot frees and the job is ready again. */
        l = harness_claim(cl, q, 5, 0, 0);
        assert_int_equal(l->n, 1);
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "boom", true, -1, &f));
        assert_int_equal(f->state, BATON_STATE_QUEUED);
        baton_job_free(f);
        baton_jobs_free(l);

        /* Cancel while running: it ends at its failure, freeing the slot. */
        l = harness_claim(cl, q, 5, 0, 0);
        assert_int_equal(l->n, 1);
        assert_ok(cl, baton_job_cancel(cl, l->v[0].id, &c));
        baton_job_free(c);
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "stop", true, -1, &f));
        assert_int_equal(f->state, BATON_STATE_CANCELLED);
        baton_job_free(f);
        baton_jobs_free(l);

        /* Lease expiry: a waiting claim gets the group's next job once the
         * reaper has failed the held attempt. */
        l = harness_claim(cl, q, 5, 0, 300);
        assert_int_equal(l->n, 1);
        w.queue = q;
        w.wait_ms = 10000;
        assert_int_equal(harness_thread(&t, wait_claim, &w), 0);
        harness_join(t);
        assert_int_equal(w.got, 1);
        assert_string_equal(w.group, "g0");
        assert_true(w.elapsed_ms >= 200);
        assert_true(w.elapsed_ms < 5000);
        baton_jobs_free(l);
}

/* ---- libbaton ---- */

static void client_queue_set(void **state)
{
        struct baton_queue *qu = NULL;
        char q[64];

        (void)state;
        harness_unique("client", q, sizeof(q));
        assert_ok(cl, baton_queue_set(cl, q,
                                      "{\"concurrency\": 2, \"rate\": {\"max\": 10, \"per_ms\": "
                                      "1000}, \"group_concurrency\": 1, \"max_depth\": 50}",
                                      &qu));
        assert_int_equal(qu->concurrency, 2);
        assert_int_equal(qu->rate_max, 10);
        assert_int_equal(qu->rate_per_ms, 1000);
        assert_int_equal(qu->group_concurrency, 1);
        assert_int_equal(qu->max_depth, 50);
        assert_int_equal(qu->group_rate_max, 0);
        assert_non_null(strstr(baton_queue_json(qu), "\"defaults\""));
        baton_queue_free(qu);
        qu = NULL;
        assert_err(cl, baton_queue_set(cl, q, "{\"group_rate\": {\"max\": 0, \"per_ms\": 5}}", &qu),
                   BATON_ERANGE, 400, "setting_out_of_range", "group_rate.max");
        assert_null(qu);
}

/* ---- timers and cron carry the group (max_depth for them: test_fires_full_queue.c) ---- */

static void timer_and_cron_jobs_carry_their_group(void **state)
{
        struct http_res r;
        char q[64], path[160], body[512];
        const char *job_id;
        int64_t give_up;
        struct baton_jobs *l;

        (void)state;
        harness_unique("tmpl", q, sizeof(q));
        set_queue(q, "{\"max_depth\": 3}");
        enqueue_n(q, NULL, NULL, 1); /* room for the two fires below */

        /* A cron schedule's manual run. */
        snprintf(path, sizeof(path), "/v1/cron/%s", q);
        snprintf(body, sizeof(body),
                 "{\"cron\": \"0 0 1 1 *\", \"job\": {\"queue\": \"%s\", \"type\": \"t\","
                 " \"group\": \"draft-9\"}}",
                 q);
        assert_int_equal(http_json(srv.url, "PUT", path, body, &r), 0);
        assert_int_equal(r.status, 201);
        assert_string_equal(jpath_str(r.json, "schedule.job.group"), "draft-9");
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/cron/%s/run", q);
        assert_int_equal(http_json(srv.url, "POST", path, NULL, &r), 0);
        assert_int_equal(r.status, 202);
        job_id = jpath_str(r.json, "run.job_id");
        assert_non_null(job_id);
        snprintf(path, sizeof(path), "/v1/jobs/%s", job_id);
        http_res_free(&r);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "job.group"), "draft-9");
        http_res_free(&r);

        /* A timer's firing. */
        snprintf(path, sizeof(path), "/v1/timers/%s", q);
        snprintf(body, sizeof(body),
                 "{\"queue\": \"%s\", \"type\": \"autopick\", \"group\": \"draft-9\","
                 " \"delay_ms\": 0}",
                 q);
        assert_int_equal(http_json(srv.url, "PUT", path, body, &r), 0);
        assert_int_equal(r.status, 201);
        assert_string_equal(jpath_str(r.json, "timer.group"), "draft-9");
        http_res_free(&r);
        give_up = harness_now_ms() + 5000;
        while (harness_count_jobs(cl, q, NULL) < 3 && harness_now_ms() < give_up)
                harness_sleep_ms(20);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 3); /* at max_depth */

        /* Both are jobs of group draft-9: with group_concurrency 1, one at a time. */
        set_queue(q, "{\"group_concurrency\": 1}");
        l = harness_claim(cl, q, 10, 0, 0);
        assert_int_equal(l->n, 2); /* the ungrouped job and one of draft-9 */
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].group)
                        assert_string_equal(l->v[i].group, "draft-9");
        baton_jobs_free(l);
}

/* ---- kill -9 ---- */

/* The counters are store rows written with the jobs they count: a kill -9
 * and a restart keep every limit exact, and the running job whose lease
 * then expires frees its slot. */
static void counters_survive_kill9(void **state)
{
        struct waiter_arg w = {0};
        struct baton_queue *qu = NULL;
        struct http_res r;
        struct baton_jobs *l;
        char q[64], body[256];
        pthread_t t;

        (void)state;
        harness_unique("kill9", q, sizeof(q));
        set_queue(q, "{\"concurrency\": 1, \"group_concurrency\": 1, \"max_depth\": 3}");
        enqueue_n(q, "g0", NULL, 3);
        l = harness_claim(cl, q, 3, 0, 1500);
        assert_int_equal(l->n, 1);
        baton_jobs_free(l);
        assert_int_equal(harness_kill9(&srv), 0);
        assert_int_equal(harness_restart(&srv), 0);
        baton_client_free(cl);
        cl = harness_client(&srv);

        assert_ok(cl, baton_queue_get(cl, q, &qu));
        assert_int_equal(qu->running, 1);
        assert_int_equal(qu->depth, 3);
        assert_int_equal(qu->concurrency, 1);
        baton_queue_free(qu);
        snprintf(body, sizeof(body), "{\"queue\": \"%s\", \"type\": \"t\"}", q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_http_error(&r, 503, "queue_full", NULL);
        http_res_free(&r);
        l = harness_claim(cl, q, 3, 0, 0);
        assert_int_equal(l->n, 0); /* the slot is still held */
        baton_jobs_free(l);
        /* The held lease expires; the waiting claim then gets the next job. */
        w.queue = q;
        w.wait_ms = 10000;
        assert_int_equal(harness_thread(&t, wait_claim, &w), 0);
        harness_join(t);
        assert_int_equal(w.got, 1);
        assert_string_equal(w.group, "g0");
        assert_ok(cl, baton_queue_get(cl, q, &qu));
        assert_int_equal(qu->running, 0); /* wait_claim completed its job */
        assert_int_equal(qu->depth, 2);   /* the expired one waits for its retry */
        baton_queue_free(qu);
}

int main(void)
{
        static const char *const args[] = {"--lease-min-ms", "100", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(settings_roundtrip_and_errors),
            cmocka_unit_test(settings_audited),
            cmocka_unit_test(concurrency_limit),
            cmocka_unit_test(rate_limit_across_workers),
            cmocka_unit_test(group_concurrency_one),
            cmocka_unit_test(fairness_small_group_within_one_rotation),
            cmocka_unit_test(fairness_rotates_and_keeps_priority),
            cmocka_unit_test(max_depth_refuses_and_stores_nothing),
            cmocka_unit_test(queue_defaults_apply),
            cmocka_unit_test(limited_claim_waits_for_a_slot),
            cmocka_unit_test(limited_claim_waits_for_the_window),
            cmocka_unit_test(group_slot_freed_on_every_exit),
            cmocka_unit_test(client_queue_set),
            cmocka_unit_test(timer_and_cron_jobs_carry_their_group),
            cmocka_unit_test(counters_survive_kill9),
        };

        harness_group(&srv, args, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
