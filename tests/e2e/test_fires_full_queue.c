/*
 * test_fires_full_queue.c: a queue's max_depth holds for timer fires, cron
 * fires and flows, not only for POST /v1/jobs (docs/api.md "Queue limits" and
 * "Timers", docs/cron.md "A full queue"):
 * - timers due into a full queue do not fire: they stay scheduled at their
 *   version with deferred {reason: queue_full} and fire, each exactly once,
 *   as the queue gets room (20 timers with delay_ms 0 into max_depth 5 never
 *   make the depth pass 5);
 * - a deferred version that is moved fires only at its new version; one that
 *   is cancelled never fires;
 * - a cron tick into a full queue is a skipped run with reason queue_full, and
 *   a manual run is 503 queue_full;
 * - a flow that would pass max_depth is refused whole with 503 queue_full.
 *
 * One shared server (cron floor 1 s so a schedule can tick every second).
 * Every wait is bounded in count and time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/harness.h"

static struct harness srv;
static struct baton_client *cl;

static void set_depth(const char *q, int max_depth)
{
        char path[128], body[64];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        snprintf(body, sizeof(body), "{\"max_depth\": %d}", max_depth);
        assert_int_equal(http_json(srv.url, "PATCH", path, body, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
}

static int64_t depth_of(const char *q)
{
        struct baton_queue *qu = NULL;
        int64_t d;

        assert_ok(cl, baton_queue_get(cl, q, &qu));
        d = qu->depth;
        baton_queue_free(qu);
        return d;
}

static void put_timer(const char *key, const char *q, const char *extra, int status)
{
        char path[160], body[256];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        snprintf(body, sizeof(body), "{\"queue\": \"%s\", \"type\": \"fire\", \"delay_ms\": 0%s%s}",
                 q, extra ? ", " : "", extra ? extra : "");
        harness_expect(srv.url, NULL, "PUT", path, body, status, &r);
        http_res_free(&r);
}

/* GET /v1/timers/{key}, owned by the caller (http_res_free). */
static void get_timer(const char *key, struct http_res *r)
{
        char path[160];

        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, r), 0);
        assert_int_equal(r->status, 200);
}

/* Claims and completes every queued job of q; returns how many. */
static int drain(const char *q)
{
        struct baton_jobs *l = harness_claim(cl, q, 100, 0, 0);
        int n = (int)l->n;

        for (size_t i = 0; i < l->n; i++)
                assert_ok(cl, baton_complete(cl, l->v[i].id, l->v[i].lease, NULL, NULL));
        baton_jobs_free(l);
        return n;
}

/* Waits up to ms for q to hold want queued jobs; returns the count seen. */
static int64_t wait_queued(const char *q, int64_t want, int64_t ms)
{
        int64_t give_up = harness_now_ms() + ms, n = 0;

        while (harness_now_ms() < give_up) {
                n = harness_count_jobs(cl, q, "queued");
                if (n >= want)
                        break;
                harness_sleep_ms(25);
        }
        return n;
}

static void timers_respect_max_depth(void **state)
{
        char q[64], key[96];
        struct http_res r;
        int fired = 0, deferred = 0;

        (void)state;
        harness_unique("tfull", q, sizeof(q));
        set_depth(q, 5);
        for (int i = 0; i < 20; i++) {
                snprintf(key, sizeof(key), "%s-%02d", q, i);
                put_timer(key, q, NULL, 201);
        }
        /* Five fire; the other fifteen wait. */
        assert_int_equal(wait_queued(q, 5, 5000), 5);
        harness_sleep_ms(400); /* several leader ticks and retries */
        assert_int_equal(harness_count_jobs(cl, q, NULL), 5);
        assert_int_equal(depth_of(q), 5);
        for (int i = 0; i < 20; i++) {
                snprintf(key, sizeof(key), "%s-%02d", q, i);
                get_timer(key, &r);
                if (strcmp(jpath_str(r.json, "timer.state"), "fired") == 0) {
                        fired++;
                        assert_true(json_is_null(jpath(r.json, "timer.deferred")));
                } else {
                        assert_string_equal(jpath_str(r.json, "timer.state"), "scheduled");
                        assert_string_equal(jpath_str(r.json, "timer.deferred.reason"),
                                            "queue_full");
                        assert_true(jpath_int(r.json, "timer.deferred.count") >= 1);
                        assert_non_null(jpath_str(r.json, "timer.deferred.retry_at"));
                        assert_int_equal(jpath_int(r.json, "timer.version"), 1);
                        deferred++;
                }
                http_res_free(&r);
        }
        assert_int_equal(fired, 5);
        assert_int_equal(deferred, 15);

        /* Room for five more, three times: each round fires five, never more. */
        for (int round = 0; round < 3; round++) {
                assert_int_equal(drain(q), 5);
                assert_int_equal(wait_queued(q, 5, 8000), 5);
                harness_sleep_ms(200);
                assert_int_equal(depth_of(q), 5);
                assert_int_equal(harness_count_jobs(cl, q, "queued"), 5);
        }
        assert_int_equal(drain(q), 5);
        harness_sleep_ms(300);
        /* Every timer fired exactly once: 20 jobs, each version 1. */
        assert_int_equal(harness_count_jobs(cl, q, NULL), 20);
        assert_int_equal(harness_count_jobs(cl, q, "completed"), 20);
        for (int i = 0; i < 20; i++) {
                snprintf(key, sizeof(key), "%s-%02d", q, i);
                get_timer(key, &r);
                assert_string_equal(jpath_str(r.json, "timer.state"), "fired");
                assert_non_null(jpath_str(r.json, "timer.job_id"));
                http_res_free(&r);
        }
}

static void deferred_version_moved_or_cancelled(void **state)
{
        char q[64], moved[96], gone[96], path[160];
        struct baton_job *filler;
        struct baton_jobs *l;
        struct http_res r;
        json_t *job;

        (void)state;
        harness_unique("tmove", q, sizeof(q));
        set_depth(q, 1);
        filler = harness_enqueue(cl, q, "filler", NULL);
        snprintf(moved, sizeof(moved), "%s-moved", q);
        snprintf(gone, sizeof(gone), "%s-gone", q);
        put_timer(moved, q, NULL, 201);
        put_timer(gone, q, NULL, 201);
        harness_sleep_ms(500);
        get_timer(moved, &r);
        assert_string_equal(jpath_str(r.json, "timer.deferred.reason"), "queue_full");
        http_res_free(&r);
        /* Move one (compare-and-set on version 1), cancel the other. */
        /* The answer shows the new version as put: not deferred (the next
         * tick may defer it again at once, the queue still being full). */
        snprintf(path, sizeof(path), "/v1/timers/%s", moved);
        assert_int_equal(http_jsonf(srv.url, "PUT", path, &r,
                                    "{\"queue\": \"%s\", \"type\": \"fire\", \"delay_ms\": 0,"
                                    " \"if_version\": 1, \"payload\": {\"v\": 2}}",
                                    q),
                         0);
        assert_int_equal(r.status, 200);
        assert_int_equal(jpath_int(r.json, "timer.version"), 2);
        assert_string_equal(jpath_str(r.json, "timer.state"), "scheduled");
        assert_true(json_is_null(jpath(r.json, "timer.deferred")));
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/timers/%s", gone);
        assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        harness_sleep_ms(300);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 1);

        /* Room: the moved timer fires at version 2, the cancelled one never. */
        l = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(l->n, 1);
        assert_string_equal(l->v[0].id, filler->id);
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
        baton_jobs_free(l);
        baton_job_free(filler);
        assert_int_equal(wait_queued(q, 1, 8000), 1);
        l = harness_claim(cl, q, 10, 0, 0);
        assert_int_equal(l->n, 1);
        job = harness_job_obj(&l->v[0]);
        assert_string_equal(jpath_str(job, "timer.key"), moved);
        assert_int_equal(jpath_int(job, "timer.version"), 2);
        assert_string_equal(l->v[0].payload, "{\"v\":2}");
        json_decref(job);
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
        baton_jobs_free(l);
        harness_sleep_ms(600);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 2);
        get_timer(gone, &r);
        assert_string_equal(jpath_str(r.json, "timer.state"), "cancelled");
        assert_true(json_is_null(jpath(r.json, "timer.job_id")));
        http_res_free(&r);
}

/* Counts the schedule's runs with status and reason (reason NULL: any). */
static int runs_with(const char *key, const char *status, const char *reason)
{
        char path[160];
        struct http_res r;
        size_t i;
        json_t *v;
        int n = 0;

        snprintf(path, sizeof(path), "/v1/cron/%s/runs?limit=100", key);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        json_array_foreach(jpath(r.json, "runs"), i, v)
        {
                const char *s = jpath_str(v, "status"), *why = jpath_str(v, "reason");
                if (s && strcmp(s, status) == 0 && (!reason || (why && strcmp(why, reason) == 0)))
                        n++;
        }
        http_res_free(&r);
        return n;
}

static void cron_into_full_queue(void **state)
{
        char q[64], path[160], body[256], ra[16];
        struct baton_job *filler;
        struct http_res r;
        int64_t give_up;

        (void)state;
        harness_unique("cfull", q, sizeof(q));
        set_depth(q, 1);
        filler = harness_enqueue(cl, q, "filler", NULL);
        snprintf(path, sizeof(path), "/v1/cron/%s", q);
        snprintf(body, sizeof(body),
                 "{\"cron\": \"* * * * * *\", \"overlap\": \"allow\","
                 " \"job\": {\"queue\": \"%s\", \"type\": \"tick\"}}",
                 q);
        assert_int_equal(http_json(srv.url, "PUT", path, body, &r), 0);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        give_up = harness_now_ms() + 6000;
        while (runs_with(q, "skipped", "queue_full") < 2 && harness_now_ms() < give_up)
                harness_sleep_ms(100);
        assert_true(runs_with(q, "skipped", "queue_full") >= 2);
        assert_int_equal(runs_with(q, "queued", NULL), 0);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 1);
        assert_int_equal(depth_of(q), 1);

        /* A manual run is refused like an enqueue, and records nothing. */
        snprintf(path, sizeof(path), "/v1/cron/%s/run", q);
        assert_int_equal(http_json(srv.url, "POST", path, NULL, &r), 0);
        assert_http_error(&r, 503, "queue_full", NULL);
        assert_non_null(http_header(&r, "Retry-After", ra, sizeof(ra)));
        http_res_free(&r);
        assert_int_equal(runs_with(q, "queued", NULL), 0);

        /* With room, the next tick runs again. */
        set_depth(q, 10);
        give_up = harness_now_ms() + 6000;
        while (runs_with(q, "queued", NULL) + runs_with(q, "running", NULL) +
                       runs_with(q, "completed", NULL) <
                   1 &&
               harness_now_ms() < give_up)
                harness_sleep_ms(100);
        assert_true(harness_count_jobs(cl, q, NULL) >= 2);
        snprintf(path, sizeof(path), "/v1/cron/%s", q);
        assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
        http_res_free(&r);
        baton_job_free(filler);
}

/* A flow of n jobs of queue q; returns the status. */
static int post_flow(const char *q, int n)
{
        char *body = malloc(64 + (size_t)n * 96);
        size_t len = 0;
        struct http_res r;
        int status;

        assert_non_null(body);
        len += (size_t)sprintf(body + len, "{\"jobs\": [");
        for (int i = 0; i < n; i++)
                len += (size_t)sprintf(body + len,
                                       "%s{\"ref\": \"j%d\", \"queue\": \"%s\", \"type\": \"t\"%s}",
                                       i ? ", " : "", i, q, i ? ", \"depends_on\": [\"j0\"]" : "");
        sprintf(body + len, "]}");
        assert_int_equal(http_json(srv.url, "POST", "/v1/flows", body, &r), 0);
        status = r.status;
        if (status == 503)
                assert_http_error(&r, 503, "queue_full", NULL);
        http_res_free(&r);
        free(body);
        return status;
}

static void flow_past_max_depth_refused_whole(void **state)
{
        char q[64];

        (void)state;
        harness_unique("ffull", q, sizeof(q));
        set_depth(q, 5);
        assert_int_equal(post_flow(q, 6), 503);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 0);
        assert_int_equal(post_flow(q, 3), 201);
        assert_int_equal(post_flow(q, 3), 503);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 3);
        assert_int_equal(post_flow(q, 2), 201);
        assert_int_equal(post_flow(q, 1), 503);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 5);
        assert_int_equal(depth_of(q), 5);
}

int main(void)
{
        static const char *const args[] = {"--cron-min-interval-ms", "1000", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(timers_respect_max_depth),
            cmocka_unit_test(deferred_version_moved_or_cancelled),
            cmocka_unit_test(cron_into_full_queue),
            cmocka_unit_test(flow_past_max_depth_refused_whole),
        };

        harness_group(&srv, args, &cl);
        return cmocka_run_group_tests_name("fires_full_queue", tests, harness_group_up,
                                           harness_group_down);
}
