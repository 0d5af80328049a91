/*
 * test_timers.c: end-to-end tests of the /v1/timers routes of docs/api.md
 * against a real batond: create, move, compare-and-set, read, list with prefix
 * and cursor, cancel, every validation error; firing on time in real time
 * (lateness measured from the fired job's created_at against the timer's
 * fire_at); many threads moving one timer while it falls due (each version
 * fires at most once, counted from the jobs' "timer" members); a restart with
 * overdue timers (each fires exactly once, at start); tenant isolation and the
 * scopes of the routes. One server for the file; each test uses its own keys
 * and queues. Time bounds leave room for the ASan build on 2 cores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/harness.h"

/* Largest lateness accepted for a timer on loopback (DESIGN §9 asks p99 <= 5
 * ms; this bound only catches a timer that waited for something else, such as
 * a polling interval). 250 ms, not 50: under ASan on a loaded machine, with
 * the PostgreSQL copy of the suite running beside it, 51 ms was seen. */
#define LATE_MAX_MS 250
#define RACE_THREADS 8
#define RACE_MS 1500

static struct harness srv;

/* RFC 3339 UTC with milliseconds for a Unix ms instant. */
static void fmt_time(int64_t ms, char *buf, size_t cap)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
                 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
                 tm.tm_sec % 100, (int)(ms % 1000));
}

/* PUT /v1/timers/key with body fmt; answers into r. */
static void put_timer(const char *key, struct http_res *r, const char *body)
{
        char path[2048];

        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        assert_int_equal(http_json(srv.url, "PUT", path, body, r), 0);
}

/* The jobs of queue q (every page), as a new JSON array. */
static json_t *queue_jobs(const char *q)
{
        json_t *all = json_array();
        char path[512], after[64] = "";
        struct http_res r;

        for (int page = 0; page < 1000; page++) {
                json_t *jobs;
                const char *next;

                snprintf(path, sizeof(path), "/v1/jobs?queue=%s&limit=1000%s%s", q,
                         *after ? "&after=" : "", after);
                assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                jobs = jpath(r.json, "jobs");
                assert_non_null(jobs);
                json_array_extend(all, jobs);
                next = jpath_str(r.json, "next");
                if (!next) {
                        http_res_free(&r);
                        break;
                }
                snprintf(after, sizeof(after), "%s", next);
                http_res_free(&r);
        }
        return all;
}

/* Waits (bounded) until timer key is in state want; returns its version. */
static int64_t wait_state(const char *key, const char *want, int64_t timeout_ms)
{
        int64_t until = harness_now_ms() + timeout_ms;
        char path[512];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        for (;;) {
                assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                if (strcmp(jpath_str(r.json, "timer.state"), want) == 0) {
                        int64_t v = jpath_int(r.json, "timer.version");
                        http_res_free(&r);
                        return v;
                }
                http_res_free(&r);
                if (harness_now_ms() > until)
                        fail_msg("timer %s never became %s", key, want);
                harness_sleep_ms(10);
        }
}

static void routes_and_errors(void **state)
{
        char q[64], key[96], path[512], body[512], next[300];
        struct http_res r;
        char *longkey;

        (void)state;
        harness_unique("tq", q, sizeof(q));
        snprintf(key, sizeof(key), "%s:draft:1", q);
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"pick\",\"payload\":{\"pick\":1},"
                 "\"delay_ms\":60000,\"priority\":\"high\",\"max_attempts\":2}",
                 q);
        put_timer(key, &r, body);
        assert_int_equal(r.status, 201);
        assert_string_equal(jpath_str(r.json, "timer.key"), key);
        assert_int_equal(jpath_int(r.json, "timer.version"), 1);
        assert_string_equal(jpath_str(r.json, "timer.state"), "scheduled");
        assert_string_equal(jpath_str(r.json, "timer.priority"), "high");
        assert_int_equal(jpath_int(r.json, "timer.max_attempts"), 2);
        assert_true(harness_parse_time(jpath_str(r.json, "timer.fire_at")) >
                    harness_wall_ms() + 50000);
        http_res_free(&r);

        /* Move with the right version, then a stale one. */
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"pick\",\"payload\":{\"pick\":2},"
                 "\"delay_ms\":50000,\"if_version\":1}",
                 q);
        put_timer(key, &r, body);
        assert_int_equal(r.status, 200);
        assert_int_equal(jpath_int(r.json, "timer.version"), 2);
        assert_int_equal(jpath_int(r.json, "timer.payload.pick"), 2);
        http_res_free(&r);
        put_timer(key, &r, body);
        assert_http_error(&r, 409, "version_mismatch", "if_version");
        assert_non_null(strstr(http_error_member(&r, "message"), "version 2"));
        http_res_free(&r);
        /* Create-only on an existing key; a version on a missing one. */
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"pick\",\"delay_ms\":1000,\"if_version\":0}", q);
        put_timer(key, &r, body);
        assert_http_error(&r, 409, "version_mismatch", "if_version");
        http_res_free(&r);
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"pick\",\"delay_ms\":1000,\"if_version\":4}", q);
        put_timer("no-such-timer", &r, body);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);

        /* GET and list. */
        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(jpath_int(r.json, "timer.version"), 2);
        assert_true(json_is_null(jpath(r.json, "timer.job_id")));
        http_res_free(&r);
        for (int i = 2; i <= 3; i++) {
                char k2[80];
                snprintf(k2, sizeof(k2), "%s:draft:%d", q, i);
                snprintf(body, sizeof(body),
                         "{\"queue\":\"%s\",\"type\":\"pick\",\"delay_ms\":60000}", q);
                put_timer(k2, &r, body);
                assert_int_equal(r.status, 201);
                http_res_free(&r);
        }
        snprintf(path, sizeof(path), "/v1/timers?prefix=%s:draft:&limit=2", q);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(jpath(r.json, "timers")), 2);
        assert_non_null(jpath_str(r.json, "next"));
        snprintf(next, sizeof(next), "%s", jpath_str(r.json, "next"));
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/timers?prefix=%s:draft:&limit=2&after=%s", q, next);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(json_array_size(jpath(r.json, "timers")), 1);
        assert_true(json_is_null(jpath(r.json, "next")));
        http_res_free(&r);

        /* Cancel: stale version, then right, then again (unchanged). */
        snprintf(path, sizeof(path), "/v1/timers/%s?if_version=1", key);
        assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
        assert_http_error(&r, 409, "version_mismatch", "if_version");
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/timers/%s?if_version=2", key);
        assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "timer.state"), "cancelled");
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(http_json(srv.url, "DELETE", "/v1/timers/absent", NULL, &r), 0);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
        assert_int_equal(http_json(srv.url, "GET", "/v1/timers/absent", NULL, &r), 0);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/timers/%s?if_version=0", key);
        assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
        assert_http_error(&r, 400, "invalid_field", "if_version");
        http_res_free(&r);

        /* Validation. */
        put_timer("v1", &r,
                  "{\"queue\":\"q\",\"type\":\"t\",\"delay_ms\":1,"
                  "\"fire_at\":\"2030-01-01T00:00:00Z\"}");
        assert_http_error(&r, 400, "invalid_field", "fire_at");
        http_res_free(&r);
        put_timer("v1", &r, "{\"queue\":\"q\",\"type\":\"t\"}");
        assert_http_error(&r, 400, "missing_field", "fire_at");
        http_res_free(&r);
        put_timer("v1", &r, "{\"queue\":\"q\",\"type\":\"t\",\"fire_at\":\"tomorrow\"}");
        assert_http_error(&r, 400, "invalid_time", "fire_at");
        http_res_free(&r);
        put_timer("v1", &r,
                  "{\"queue\":\"q\",\"type\":\"t\",\"fire_at\":\"2999-01-01T00:00:00Z\"}");
        assert_http_error(&r, 400, "delay_ms_out_of_range", "fire_at");
        http_res_free(&r);
        put_timer("v1", &r, "{\"queue\":\"q\",\"type\":\"t\",\"delay_ms\":-5}");
        assert_http_error(&r, 400, "delay_ms_out_of_range", "delay_ms");
        http_res_free(&r);
        put_timer("v1", &r, "{\"type\":\"t\",\"delay_ms\":5}");
        assert_http_error(&r, 400, "missing_field", "queue");
        http_res_free(&r);
        put_timer("v1", &r, "{\"queue\":\"bad queue\",\"type\":\"t\",\"delay_ms\":5}");
        assert_http_error(&r, 400, "name_invalid", "queue");
        http_res_free(&r);
        put_timer("v1", &r, "{\"queue\":\"q\",\"type\":\"t\",\"run_at\":\"2030-01-01T00:00:00Z\"}");
        assert_http_error(&r, 400, "invalid_field", "run_at");
        http_res_free(&r);
        put_timer("v1", &r, "{\"queue\":\"q\",\"type\":\"t\",\"delay_ms\":5,\"if_version\":-1}");
        assert_http_error(&r, 400, "invalid_field", "if_version");
        http_res_free(&r);
        put_timer("v1", &r, "{\"queue\":\"q\",\"type\":\"t\",\"delay_ms\":5,\"lease_ms\":1}");
        assert_http_error(&r, 400, "lease_ms_out_of_range", "lease_ms");
        http_res_free(&r);
        longkey = harness_repeat('k', 257);
        put_timer(longkey, &r, "{\"queue\":\"q\",\"type\":\"t\",\"delay_ms\":5}");
        assert_http_error(&r, 400, "key_too_long", "key");
        http_res_free(&r);
        free(longkey);
        put_timer("%01bad", &r, "{\"queue\":\"q\",\"type\":\"t\",\"delay_ms\":5}");
        assert_http_error(&r, 400, "key_invalid", "key");
        http_res_free(&r);
        assert_int_equal(http_json(srv.url, "PUT", "/v1/timers/v1", "[1]", &r), 0);
        assert_int_equal(r.status, 400);
        http_res_free(&r);
        assert_int_equal(http_json(srv.url, "GET", "/v1/timers?limit=0", NULL, &r), 0);
        assert_http_error(&r, 400, "limit_out_of_range", "limit");
        http_res_free(&r);
        /* Nothing of the refused calls was stored. */
        assert_int_equal(http_json(srv.url, "GET", "/v1/timers/v1", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_res_free(&r);
}

/* if_scheduled: a move only while the version is still scheduled, the way a
 * draft's user pick must not land after its pick clock fired (seed 002);
 * if_version alone accepts a fired version (a worker re-arms the clock). */
static void if_scheduled_refuses_a_fired_version(void **state)
{
        char key[64], body[512], q[64];
        struct http_res r;
        int64_t v;

        (void)state;
        harness_unique("ifs", key, sizeof(key));
        harness_unique("ifsq", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"clock\",\"delay_ms\":60000}", q);
        put_timer(key, &r, body);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        /* Still scheduled: the move is taken. */
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"clock\",\"delay_ms\":0,\"if_version\":1,"
                 "\"if_scheduled\":true}",
                 q);
        put_timer(key, &r, body);
        assert_int_equal(r.status, 200);
        assert_int_equal(jpath_int(r.json, "timer.version"), 2);
        http_res_free(&r);
        v = wait_state(key, "fired", 10000);
        assert_int_equal(v, 2);
        /* Fired: refused, with the state and version, and nothing changes. */
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"pick\",\"delay_ms\":0,\"if_version\":2,"
                 "\"if_scheduled\":true}",
                 q);
        put_timer(key, &r, body);
        assert_http_error(&r, 409, "invalid_state", "if_scheduled");
        assert_non_null(strstr(http_error_member(&r, "message"), "fired (version 2)"));
        http_res_free(&r);
        assert_int_equal(wait_state(key, "fired", 1000), 2);
        /* Without it, the same compare-and-set re-arms the fired clock. */
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"clock\",\"delay_ms\":60000,\"if_version\":2}", q);
        put_timer(key, &r, body);
        assert_int_equal(r.status, 200);
        assert_int_equal(jpath_int(r.json, "timer.version"), 3);
        http_res_free(&r);
        /* Cancelled counts as not scheduled; a missing key is 404; a create
         * (if_version 0) cannot be scheduled yet; not a boolean: 400. */
        {
                char path[128];

                snprintf(path, sizeof(path), "/v1/timers/%s", key);
                assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                http_res_free(&r);
        }
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"pick\",\"delay_ms\":0,\"if_scheduled\":true}", q);
        put_timer(key, &r, body);
        assert_http_error(&r, 409, "invalid_state", "if_scheduled");
        assert_non_null(strstr(http_error_member(&r, "message"), "cancelled"));
        http_res_free(&r);
        put_timer("ifs-missing-key", &r, body);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"pick\",\"delay_ms\":0,\"if_version\":0,"
                 "\"if_scheduled\":true}",
                 q);
        put_timer("ifs-new-key", &r, body);
        assert_http_error(&r, 400, "invalid_field", "if_scheduled");
        http_res_free(&r);
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"pick\",\"delay_ms\":0,\"if_scheduled\":1}", q);
        put_timer(key, &r, body);
        assert_http_error(&r, 400, "invalid_field", "if_scheduled");
        http_res_free(&r);
}

static void fires_on_time(void **state)
{
        enum { N = 20 };
        char q[64], key[N][80], body[512], at[40];
        int64_t fire[N], worst = 0;
        struct http_res r;
        json_t *jobs;
        size_t i;

        (void)state;
        harness_unique("ontime", q, sizeof(q));
        for (int k = 0; k < N; k++) {
                snprintf(key[k], sizeof(key[k]), "%s-%d", q, k);
                fire[k] = harness_wall_ms() + 300 + k * 37;
                fmt_time(fire[k], at, sizeof(at));
                snprintf(body, sizeof(body),
                         "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":{\"k\":%d},"
                         "\"fire_at\":\"%s\"}",
                         q, k, at);
                put_timer(key[k], &r, body);
                assert_int_equal(r.status, 201);
                http_res_free(&r);
        }
        for (int k = 0; k < N; k++)
                assert_int_equal(wait_state(key[k], "fired", 5000), 1);
        jobs = queue_jobs(q);
        assert_int_equal(json_array_size(jobs), N);
        for (i = 0; i < json_array_size(jobs); i++) {
                json_t *j = json_array_get(jobs, i);
                int k = (int)jpath_int(j, "payload.k");
                int64_t created = harness_parse_time(jpath_str(j, "created_at"));
                int64_t t_fire = harness_parse_time(jpath_str(j, "timer.fire_at"));

                assert_true(k >= 0 && k < N);
                assert_string_equal(jpath_str(j, "timer.key"), key[k]);
                assert_int_equal(jpath_int(j, "timer.version"), 1);
                assert_int_equal(t_fire, fire[k]);
                assert_string_equal(jpath_str(j, "state"), "queued");
                /* Never early; late by less than LATE_MAX_MS. */
                assert_true(created >= t_fire);
                if (created - t_fire > worst)
                        worst = created - t_fire;
        }
        fprintf(stderr, "timer lateness over %d timers: max %lld ms\n", N, (long long)worst);
        assert_true(worst < LATE_MAX_MS);
        json_decref(jobs);
        /* The metric saw them. */
        assert_int_equal(http_json(srv.url, "GET", "/metrics", NULL, &r), 0);
        assert_non_null(strstr(r.body, "baton_timer_lateness_seconds_count"));
        http_res_free(&r);
}

struct racer {
        const char *key;
        const char *q;
        int64_t until_ms;
        int puts;
};

static void *race_fn(void *arg)
{
        struct racer *rc = arg;
        unsigned seed = (unsigned)(uintptr_t)arg;
        char path[256], body[256];

        snprintf(path, sizeof(path), "/v1/timers/%s", rc->key);
        while (harness_now_ms() < rc->until_ms) {
                struct http_res r;

                /* Due within a few ms: most versions fall due while others move
                 * the timer, so firing and moving race for real. */
                snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":%d}",
                         rc->q, (int)(rand_r(&seed) % 4));
                if (http_json(srv.url, "PUT", path, body, &r) == 0 &&
                    (r.status == 200 || r.status == 201))
                        rc->puts++;
                http_res_free(&r);
        }
        return NULL;
}

static void concurrent_move_vs_fire(void **state)
{
        struct racer racers[RACE_THREADS];
        pthread_t th[RACE_THREADS];
        char q[64], key[80];
        int64_t last_version, total_puts = 0;
        json_t *jobs;
        int64_t *seen;
        size_t n;

        (void)state;
        harness_unique("race", q, sizeof(q));
        snprintf(key, sizeof(key), "%s-timer", q);
        for (int i = 0; i < RACE_THREADS; i++) {
                racers[i] = (struct racer){key, q, harness_now_ms() + RACE_MS, 0};
                assert_int_equal(harness_thread(&th[i], race_fn, &racers[i]), 0);
        }
        for (int i = 0; i < RACE_THREADS; i++) {
                harness_join(th[i]);
                total_puts += racers[i].puts;
        }
        /* The last version falls due within a few ms and fires. */
        last_version = wait_state(key, "fired", 5000);
        assert_int_equal(last_version, total_puts);
        jobs = queue_jobs(q);
        n = json_array_size(jobs);
        seen = calloc((size_t)last_version + 1, sizeof(*seen));
        assert_non_null(seen);
        for (size_t i = 0; i < n; i++) {
                json_t *j = json_array_get(jobs, i);
                int64_t v = jpath_int(j, "timer.version");

                assert_string_equal(jpath_str(j, "timer.key"), key);
                assert_true(v >= 1 && v <= last_version);
                /* Each version fires at most once. */
                assert_int_equal(seen[v], 0);
                seen[v]++;
        }
        assert_int_equal(seen[last_version], 1);
        fprintf(stderr, "race: %lld versions, %zu fired, no version twice\n",
                (long long)last_version, n);
        assert_true(n >= 1);
        free(seen);
        json_decref(jobs);
}

static void restart_with_overdue_timers(void **state)
{
        enum { N = 25 };
        char q[64], key[80], body[512], at[40];
        int64_t fire = harness_wall_ms() + 1500;
        struct http_res r;
        json_t *jobs;
        int seen[N] = {0};

        (void)state;
        harness_unique("restart", q, sizeof(q));
        fmt_time(fire, at, sizeof(at));
        for (int k = 0; k < N; k++) {
                snprintf(key, sizeof(key), "%s-%d", q, k);
                snprintf(body, sizeof(body),
                         "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":{\"k\":%d},"
                         "\"fire_at\":\"%s\"}",
                         q, k, at);
                put_timer(key, &r, body);
                assert_int_equal(r.status, 201);
                http_res_free(&r);
        }
        /* One of them is cancelled and must never fire, even overdue. */
        snprintf(key, sizeof(key), "/v1/timers/%s-0", q);
        assert_int_equal(http_json(srv.url, "DELETE", key, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(harness_shutdown(&srv), 0);
        while (harness_wall_ms() < fire + 500)
                harness_sleep_ms(50);
        assert_int_equal(harness_restart(&srv), 0);
        for (int k = 1; k < N; k++) {
                snprintf(key, sizeof(key), "%s-%d", q, k);
                assert_int_equal(wait_state(key, "fired", 5000), 1);
        }
        /* Give a double fire time to show, then count. */
        harness_sleep_ms(300);
        jobs = queue_jobs(q);
        assert_int_equal(json_array_size(jobs), N - 1);
        for (size_t i = 0; i < json_array_size(jobs); i++) {
                int k = (int)jpath_int(json_array_get(jobs, i), "payload.k");
                assert_true(k >= 1 && k < N);
                assert_int_equal(seen[k], 0);
                seen[k] = 1;
        }
        json_decref(jobs);
        snprintf(key, sizeof(key), "%s-0", q);
        assert_int_equal(wait_state(key, "cancelled", 1000), 1);
}

static void tenant_isolation_and_scopes(void **state)
{
        char other[128], ro[128], worker[128], q[64], key[80], path[200], body[256];
        struct http_res r;

        (void)state;
        harness_unique("iso", q, sizeof(q));
        snprintf(key, sizeof(key), "%s-k", q);
        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":60000}", q);
        harness_make_key(&srv, "tenant-b", "[\"jobs:write\",\"jobs:read\"]", NULL, other, NULL);
        harness_make_key(&srv, NULL, "[\"jobs:read\"]", NULL, ro, NULL);
        harness_make_key(&srv, NULL, "[\"work\"]", NULL, worker, NULL);

        put_timer(key, &r, body);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        /* Another tenant sees nothing of it and has its own key space. */
        assert_int_equal(http_json_as(srv.url, other, "GET", path, NULL, &r), 0);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, other, "DELETE", path, NULL, &r), 0);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, other, "GET", "/v1/timers", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(jpath(r.json, "timers")), 0);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, other, "PUT", path, body, &r), 0);
        assert_int_equal(r.status, 201);
        assert_int_equal(jpath_int(r.json, "timer.version"), 1);
        http_res_free(&r);

        /* Scopes: PUT and DELETE need jobs:write, reads jobs:read. */
        assert_int_equal(http_json_as(srv.url, ro, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, ro, "GET", "/v1/timers", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, ro, "PUT", path, body, &r), 0);
        assert_http_error(&r, 403, "forbidden", NULL);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, ro, "DELETE", path, NULL, &r), 0);
        assert_http_error(&r, 403, "forbidden", NULL);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, worker, "GET", path, NULL, &r), 0);
        assert_http_error(&r, 403, "forbidden", NULL);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, NULL, "GET", path, NULL, &r), 0);
        assert_http_error(&r, 401, "unauthenticated", NULL);
        http_res_free(&r);
        /* The refused calls changed nothing. */
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(jpath_int(r.json, "timer.version"), 1);
        assert_string_equal(jpath_str(r.json, "timer.state"), "scheduled");
        http_res_free(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(routes_and_errors),
            cmocka_unit_test(fires_on_time),
            cmocka_unit_test(if_scheduled_refuses_a_fired_version),
            cmocka_unit_test(concurrent_move_vs_fire),
            cmocka_unit_test(tenant_isolation_and_scopes),
            cmocka_unit_test(restart_with_overdue_timers),
        };

        harness_group(&srv, NULL, NULL);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
