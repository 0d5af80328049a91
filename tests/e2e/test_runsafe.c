/*
 * test_runsafe.c: end-to-end tests of "jobs that must not run twice or too
 * long" (docs/api.md): timeout_ms on a job and as a queue default (the
 * server fails an attempt that ran that long, heartbeats or not, with
 * "timeout"; the retry policy applies; the worker's token then gets 409
 * lease_mismatch), unique_while "active" (409 already_running with the
 * holder's job_id while a job with the key has not ended, also between
 * concurrent enqueues), and manual cron runs with payload members merged into
 * the template for that run only. Every refusal checks that nothing changed.
 * The server runs with --lease-min-ms 100 and --payload-max-bytes 4096, so
 * timeouts and payload limits are reached within a test; every wait is
 * bounded.
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

#include "support/harness.h"

static struct harness srv;
static struct baton_client *cl;

/* The request must answer status; the answer is freed. */
static void expect(const char *method, const char *path, const char *body, int status)
{
        struct http_res r;

        harness_expect(srv.url, NULL, method, path, body, status, &r);
        http_res_free(&r);
}

/* POST /v1/jobs/{id}/heartbeat with the job's lease; returns the status and
 * copies the answer's lease_until (ms) into *until when it is 200. */
static int heartbeat(json_t *job, int64_t extend_ms, int64_t *until)
{
        struct http_res r;
        char path[96];
        int status;

        snprintf(path, sizeof(path), "/v1/jobs/%s/heartbeat", jpath_str(job, "id"));
        assert_int_equal(http_jsonf(srv.url, "POST", path, &r,
                                    "{\"lease\":\"%s\",\"extend_ms\":%lld}",
                                    jpath_str(job, "lease"), (long long)extend_ms),
                         0);
        status = r.status;
        if (status == 200 && until)
                *until = harness_parse_time(jpath_str(r.json, "lease_until"));
        if (status != 200)
                assert_http_error(&r, 409, "lease_mismatch", NULL);
        http_res_free(&r);
        return status;
}

/* Heartbeats job every 100 ms (extending by 5 s each time) until one is
 * refused; returns the ms from the claim (started_at) to the refusal. Each
 * lease_until answered stays within the timeout. Bounded: 5 s. */
static int64_t heartbeat_until_refused(json_t *job, int64_t timeout_ms)
{
        int64_t started = harness_parse_time(jpath_str(job, "started_at"));
        int64_t until = 0;

        for (int i = 0; i < 50; i++) {
                if (heartbeat(job, 5000, &until) != 200)
                        return harness_wall_ms() - started;
                assert_true(until <= started + timeout_ms);
                harness_sleep_ms(100);
        }
        fail_msg("heartbeats were never refused");
        return -1;
}

/* GET /v1/jobs/{id}: the job object (new reference). */
static json_t *job_get(const char *id)
{
        struct http_res r;
        char path[64];
        json_t *j;

        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
        j = json_incref(jpath(r.json, "job"));
        http_res_free(&r);
        return j;
}

/* Complete with the stale token of job (a claimed job's object): 409
 * lease_mismatch and nothing changes. */
static void late_complete_refused(json_t *job)
{
        const char *id = jpath_str(job, "id");
        char *snap = harness_snapshot(srv.url, id);
        struct http_res r;
        char path[96];

        snprintf(path, sizeof(path), "/v1/jobs/%s/complete", id);
        http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"result\":1}",
                   jpath_str(job, "lease"));
        assert_http_error(&r, 409, "lease_mismatch", NULL);
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/jobs/%s/fail", id);
        http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"error\":\"late\"}",
                   jpath_str(job, "lease"));
        assert_http_error(&r, 409, "lease_mismatch", NULL);
        http_res_free(&r);
        assert_int_equal(heartbeat(job, 1000, NULL), 409);
        assert_unchanged(srv.url, id, snap);
        free(snap);
}

/* A worker that heartbeats beyond timeout_ms loses the attempt at the
 * timeout: it fails with "timeout" and retries; the second attempt times
 * out too and the job is dead. The late worker's token gets lease_mismatch. */
static void timeout_retries_then_dead(void **state)
{
        char q[64], id[32], body[256];
        json_t *c1, *c2, *j;
        int64_t ran;

        (void)state;
        harness_unique("timeout", q, sizeof(q));
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"timeout_ms\":600,\"lease_ms\":300,"
                 "\"max_attempts\":2,\"backoff\":{\"type\":\"immediate\"}}",
                 q);
        harness_http_enqueue(srv.url, NULL, body, id, sizeof(id));
        j = job_get(id);
        assert_int_equal(jpath_int(j, "timeout_ms"), 600);
        json_decref(j);

        c1 = harness_http_claim(srv.url, NULL, q, NULL, id);
        /* The claim's lease (300 ms) ends before the timeout; heartbeats
         * extend it, never past started_at + 600. */
        ran = heartbeat_until_refused(c1, 600);
        print_message("attempt 1 refused %lld ms after its claim (timeout 600 ms)\n",
                      (long long)ran);
        assert_true(ran >= 550 && ran <= 2000);
        j = job_get(id);
        assert_string_equal(jpath_str(j, "last_error"), "timeout");
        assert_string_equal(jpath_str(j, "attempts[0].outcome"), "timeout");
        assert_string_equal(jpath_str(j, "attempts[0].error"), "timeout");
        /* Retried at once (immediate backoff): queued for attempt 2. */
        assert_string_equal(jpath_str(j, "state"), "queued");
        assert_int_equal(jpath_int(j, "attempt"), 1);
        json_decref(j);
        late_complete_refused(c1);

        c2 = harness_http_claim(srv.url, NULL, q, NULL, id);
        assert_int_equal(jpath_int(c2, "attempt"), 2);
        ran = heartbeat_until_refused(c2, 600);
        assert_true(ran >= 550 && ran <= 2000);
        j = job_get(id);
        assert_string_equal(jpath_str(j, "state"), "dead");
        assert_string_equal(jpath_str(j, "last_error"), "timeout");
        assert_string_equal(jpath_str(j, "attempts[1].outcome"), "timeout");
        json_decref(j);
        late_complete_refused(c2);
        late_complete_refused(c1);
        json_decref(c1);
        json_decref(c2);
}

/* The queue's default timeout applies to jobs that give none; a job's own
 * value wins; a job without heartbeats and with a longer lease still ends at
 * its timeout. Out-of-range values are refused and change nothing. */
static void queue_default_and_own_value(void **state)
{
        char q[64], path[128], a[32], b[32], body[256];
        struct http_res r;
        json_t *ca, *j;
        int64_t total, t0;

        (void)state;
        harness_unique("tdefault", q, sizeof(q));
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        expect("PATCH", path, "{\"timeout_ms\":400}", 200);
        harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
        assert_int_equal(jpath_int(r.json, "queue.defaults.timeout_ms"), 400);
        http_res_free(&r);

        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"lease_ms\":5000,\"max_attempts\":1}", q);
        harness_http_enqueue(srv.url, NULL, body, a, sizeof(a));
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"timeout_ms\":2000,\"max_attempts\":1}", q);
        harness_http_enqueue(srv.url, NULL, body, b, sizeof(b));
        j = job_get(a);
        assert_int_equal(jpath_int(j, "timeout_ms"), 400);
        json_decref(j);
        j = job_get(b);
        assert_int_equal(jpath_int(j, "timeout_ms"), 2000);
        json_decref(j);

        /* No heartbeat, a 5 s lease: the 400 ms timeout ends the attempt. */
        t0 = harness_now_ms();
        ca = harness_http_claim(srv.url, NULL, q, NULL, a);
        assert_true(harness_parse_time(jpath_str(ca, "lease_until")) <=
                    harness_parse_time(jpath_str(ca, "started_at")) + 400);
        snprintf(path, sizeof(path), "/v1/jobs/%s?wait_ms=3000", a);
        harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
        assert_string_equal(jpath_str(r.json, "job.state"), "dead");
        assert_string_equal(jpath_str(r.json, "job.last_error"), "timeout");
        http_res_free(&r);
        print_message("default timeout ended the attempt after %lld ms\n",
                      (long long)(harness_now_ms() - t0));
        assert_true(harness_now_ms() - t0 < 2500);
        late_complete_refused(ca);
        json_decref(ca);

        /* Refusals: the queue and the jobs stay as they were. */
        total = harness_total_jobs(cl);
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        harness_expect(srv.url, NULL, "PATCH", path, "{\"timeout_ms\":50}", 400, &r);
        assert_http_error(&r, 400, "setting_out_of_range", "timeout_ms");
        http_res_free(&r);
        harness_expect(srv.url, NULL, "PATCH", path, "{\"timeout_ms\":604800001}", 400, &r);
        assert_http_error(&r, 400, "setting_out_of_range", "timeout_ms");
        http_res_free(&r);
        harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
        assert_int_equal(jpath_int(r.json, "queue.defaults.timeout_ms"), 400);
        http_res_free(&r);
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"queue\":\"%s\",\"type\":\"t\",\"timeout_ms\":99}", q);
        assert_http_error(&r, 400, "timeout_ms_out_of_range", "timeout_ms");
        http_res_free(&r);
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\"},"
                   "{\"queue\":\"%s\",\"type\":\"t\",\"timeout_ms\":604800001}]}",
                   q, q);
        assert_http_error(&r, 400, "timeout_ms_out_of_range", "jobs[1].timeout_ms");
        http_res_free(&r);
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"queue\":\"%s\",\"type\":\"t\",\"timeout_ms\":\"500\"}", q);
        assert_http_error(&r, 400, "invalid_field", "timeout_ms");
        http_res_free(&r);
        assert_int_equal(harness_total_jobs(cl), total);

        /* null clears the default. */
        expect("PATCH", path, "{\"timeout_ms\":null}", 200);
        harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
        assert_null(jpath_str(r.json, "queue.defaults.timeout_ms"));
        assert_true(json_is_null(jpath(r.json, "queue.defaults.timeout_ms")));
        http_res_free(&r);
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"}", q);
        harness_http_enqueue(srv.url, NULL, body, a, sizeof(a));
        j = job_get(a);
        assert_true(json_is_null(jpath(j, "timeout_ms")));
        json_decref(j);
}

/* POST /v1/jobs with a keyed job under unique_while active: asserts 409
 * already_running naming holder (field: key under prefix). */
static void expect_already_running(const char *body, const char *field, const char *holder)
{
        struct http_res r;

        harness_expect(srv.url, NULL, "POST", "/v1/jobs", body, 409, &r);
        assert_http_error(&r, 409, "already_running", field);
        assert_string_equal(http_error_member(&r, "job_id"), holder);
        http_res_free(&r);
}

/* unique_while active refuses a second job of the key while the first is
 * queued and while it runs, allows one after it completed; pending (the
 * default) keeps today's rules. Every refusal leaves the jobs as they were. */
static void unique_active_while_queued_and_running(void **state)
{
        static const char *const refused[] = {
            "\"unique_while\":\"active\"", "\"key\":\"x\",\"unique_while\":\"running\"",
            "\"key\":\"x\",\"unique_while\":\"active\",\"on_key\":\"replace\""};
        char q[64], a[32], b[32], body[320], batch[640], *snap;
        struct http_res r;
        json_t *claimed, *j;
        int64_t total;

        (void)state;
        harness_unique("unique", q, sizeof(q));
        snprintf(
            body, sizeof(body),
            "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"nightly\",\"unique_while\":\"active\"}", q);
        harness_http_enqueue(srv.url, NULL, body, a, sizeof(a));
        j = job_get(a);
        assert_string_equal(jpath_str(j, "unique_while"), "active");
        json_decref(j);

        /* While it is queued. */
        total = harness_total_jobs(cl);
        snap = harness_snapshot(srv.url, a);
        expect_already_running(body, "key", a);
        snprintf(batch, sizeof(batch), "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\"},%s]}", q,
                 body);
        expect_already_running(batch, "jobs[1].key", a);
        assert_int_equal(harness_total_jobs(cl), total);
        assert_unchanged(srv.url, a, snap);
        free(snap);

        /* While it runs. */
        claimed = harness_http_claim(srv.url, NULL, q, NULL, a);
        snap = harness_snapshot(srv.url, a);
        expect_already_running(body, "key", a);
        assert_int_equal(harness_total_jobs(cl), total);
        assert_unchanged(srv.url, a, snap);
        free(snap);

        /* Refused requests: unique_while without a key, a value that is not
         * pending or active, active beside on_key replace, and a batch that
         * repeats an active key. Nothing is stored. */
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                http_jsonf(srv.url, "POST", "/v1/jobs", &r, "{\"queue\":\"%s\",\"type\":\"t\",%s}",
                           q, refused[i]);
                assert_http_error(&r, 400, "invalid_field", "unique_while");
                http_res_free(&r);
        }
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"y\","
                   "\"unique_while\":\"active\"},{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"y\","
                   "\"unique_while\":\"active\"}]}",
                   q, q);
        assert_http_error(&r, 400, "invalid_field", "jobs[1].key");
        assert_null(http_error_member(&r, "job_id"));
        http_res_free(&r);
        assert_int_equal(harness_total_jobs(cl), total);

        /* Once it completed, the key is free. */
        harness_http_complete(srv.url, NULL, claimed, "1", "completed");
        harness_http_enqueue(srv.url, NULL, body, b, sizeof(b));
        assert_string_not_equal(a, b);
        /* The default ("pending") is today's rule: a queued job of the key
         * is returned as a duplicate, whatever the other asked for. */
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"nightly\"}", q);
        harness_expect(srv.url, NULL, "POST", "/v1/jobs", body, 200, &r);
        assert_string_equal(jpath_str(r.json, "job.id"), b);
        assert_true(jpath_true(r.json, "duplicate"));
        http_res_free(&r);
        /* A flow is refused whole, naming its element. */
        total = harness_total_jobs(cl);
        snprintf(batch, sizeof(batch),
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},"
                 "{\"ref\":\"b\",\"queue\":\"%s\",\"type\":\"t\",\"key\":\"nightly\","
                 "\"unique_while\":\"active\",\"depends_on\":[\"a\"]}]}",
                 q, q);
        harness_expect(srv.url, NULL, "POST", "/v1/flows", batch, 409, &r);
        assert_http_error(&r, 409, "already_running", "jobs[1].key");
        assert_string_equal(http_error_member(&r, "job_id"), b);
        http_res_free(&r);
        assert_int_equal(harness_total_jobs(cl), total);

        /* A job enqueued without unique_while holds the key for "active" too
         * while it runs, though it lets another "pending" job in. */
        harness_unique("unique-mixed", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"k\"}", q);
        harness_http_enqueue(srv.url, NULL, body, a, sizeof(a));
        claimed = harness_http_claim(srv.url, NULL, q, NULL, a);
        total = harness_total_jobs(cl);
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"k\",\"unique_while\":\"active\"}", q);
        expect_already_running(body, "key", a);
        assert_int_equal(harness_total_jobs(cl), total);
        harness_http_complete(srv.url, NULL, claimed, "1", "completed");
}

/* Concurrent enqueues of one key under unique_while active. */
struct racer {
        const char *queue;
        int status;
        char id[32]; /* the job made (201) or named as holder (409) */
};

static void *race_one(void *arg)
{
        struct racer *rc = arg;
        struct http_res r;

        if (http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                       "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"once\","
                       "\"unique_while\":\"active\"}",
                       rc->queue) == 0) {
                rc->status = r.status;
                if (r.status == 201)
                        snprintf(rc->id, sizeof(rc->id), "%s", jpath_str(r.json, "job.id"));
                else if (r.status == 409 && http_error_member(&r, "job_id"))
                        snprintf(rc->id, sizeof(rc->id), "%s", http_error_member(&r, "job_id"));
        }
        http_res_free(&r);
        return NULL;
}

static void unique_active_concurrent(void **state)
{
        enum { N = 8 };
        struct racer rs[N];
        pthread_t t[N];
        char q[64];
        const char *winner = NULL;
        int created = 0;

        (void)state;
        harness_unique("race", q, sizeof(q));
        memset(rs, 0, sizeof(rs));
        for (int i = 0; i < N; i++) {
                rs[i].queue = q;
                assert_int_equal(harness_thread(&t[i], race_one, &rs[i]), 0);
        }
        for (int i = 0; i < N; i++)
                harness_join(t[i]);
        for (int i = 0; i < N; i++)
                if (rs[i].status == 201) {
                        created++;
                        winner = rs[i].id;
                }
        assert_int_equal(created, 1);
        for (int i = 0; i < N; i++) {
                if (rs[i].status == 201)
                        continue;
                assert_int_equal(rs[i].status, 409);
                assert_string_equal(rs[i].id, winner);
        }
        assert_int_equal(harness_count_jobs(cl, q, NULL), 1);
}

/* A manual cron run's payload members are merged into the template's payload
 * for that run only and recorded in the run; the schedule is unchanged. */
static void cron_run_payload_merge(void **state)
{
        char *big, body[8192];
        struct http_res r, s0;
        int64_t total;
        const char *cron_path = "/v1/cron/with-args";
        json_t *run, *job;
        size_t n_runs;

        (void)state;
        expect("PUT", cron_path,
               "{\"cron\":\"0 0 1 1 *\",\"job\":{\"queue\":\"cronq\",\"type\":\"t\","
               "\"payload\":{\"a\":1,\"b\":{\"x\":1}}}}",
               201);
        harness_expect(srv.url, NULL, "GET", cron_path, NULL, 200, &s0);

        harness_expect(srv.url, NULL, "POST", "/v1/cron/with-args/run",
                       "{\"payload\":{\"b\":2,\"c\":\"three\"}}", 202, &r);
        run = json_incref(jpath(r.json, "run"));
        http_res_free(&r);
        assert_int_equal(jpath_int(run, "payload.b"), 2);
        assert_string_equal(jpath_str(run, "payload.c"), "three");
        job = job_get(jpath_str(run, "job_id"));
        assert_int_equal(jpath_int(job, "payload.a"), 1);
        assert_int_equal(jpath_int(job, "payload.b"), 2);
        assert_string_equal(jpath_str(job, "payload.c"), "three");
        json_decref(job);

        /* Recorded in the run; a run without members (forced past the first,
         * still going) records null. */
        expect("POST", "/v1/cron/with-args/run", "{\"force\":true}", 202);
        harness_expect(srv.url, NULL, "GET", "/v1/cron/with-args/runs", NULL, 200, &r);
        n_runs = json_array_size(jpath(r.json, "runs"));
        assert_int_equal(n_runs, 2);
        assert_true(json_is_null(jpath(r.json, "runs[0].payload")));
        assert_string_equal(jpath_str(r.json, "runs[1].id"), jpath_str(run, "id"));
        assert_int_equal(jpath_int(r.json, "runs[1].payload.b"), 2);
        http_res_free(&r);
        json_decref(run);

        /* The schedule itself is unchanged (its template and version). */
        harness_expect(srv.url, NULL, "GET", cron_path, NULL, 200, &r);
        assert_true(json_equal(jpath(r.json, "schedule.job"), jpath(s0.json, "schedule.job")));
        assert_int_equal(jpath_int(r.json, "schedule.version"),
                         jpath_int(s0.json, "schedule.version"));
        assert_int_equal(jpath_int(r.json, "schedule.job.payload.b.x"), 1);
        http_res_free(&r);
        http_res_free(&s0);

        /* Refusals: not an object, an unknown member, over the payload
         * limit, and a merge over the limit. Nothing is run or recorded. */
        total = harness_total_jobs(cl);
        harness_expect(srv.url, NULL, "POST", "/v1/cron/with-args/run", "{\"payload\":[1]}", 400,
                       &r);
        assert_http_error(&r, 400, "invalid_field", "payload");
        http_res_free(&r);
        harness_expect(srv.url, NULL, "POST", "/v1/cron/with-args/run", "{\"payload\":\"x\"}", 400,
                       &r);
        assert_http_error(&r, 400, "invalid_field", "payload");
        http_res_free(&r);
        harness_expect(srv.url, NULL, "POST", "/v1/cron/with-args/run", "{\"args\":{}}", 400, &r);
        assert_http_error(&r, 400, "unknown_field", "args");
        http_res_free(&r);
        big = harness_repeat('x', 5000);
        snprintf(body, sizeof(body), "{\"payload\":{\"big\":\"%s\"}}", big);
        harness_expect(srv.url, NULL, "POST", "/v1/cron/with-args/run", body, 413, &r);
        assert_http_error(&r, 413, "payload_too_large", "payload");
        http_res_free(&r);
        free(big);
        /* Each fits alone; together they do not. */
        big = harness_repeat('y', 2500);
        snprintf(body, sizeof(body),
                 "{\"cron\":\"0 0 1 1 *\",\"job\":{\"queue\":\"cronq\",\"type\":\"t\","
                 "\"payload\":{\"t\":\"%s\"}}}",
                 big);
        expect("PUT", "/v1/cron/merge-big", body, 201);
        snprintf(body, sizeof(body), "{\"payload\":{\"u\":\"%s\"}}", big);
        harness_expect(srv.url, NULL, "POST", "/v1/cron/merge-big/run", body, 413, &r);
        assert_http_error(&r, 413, "payload_too_large", "payload");
        http_res_free(&r);
        free(big);
        harness_expect(srv.url, NULL, "GET", "/v1/cron/merge-big/runs", NULL, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "runs")), 0);
        http_res_free(&r);
        harness_expect(srv.url, NULL, "GET", "/v1/cron/with-args/runs", NULL, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "runs")), n_runs);
        http_res_free(&r);
        assert_int_equal(harness_total_jobs(cl), total);

        /* A template payload that is not an object takes no members. */
        expect("PUT", "/v1/cron/scalar",
               "{\"cron\":\"0 0 1 1 *\",\"job\":{\"queue\":\"cronq\",\"type\":\"t\","
               "\"payload\":[1,2]}}",
               201);
        harness_expect(srv.url, NULL, "POST", "/v1/cron/scalar/run", "{\"payload\":{\"a\":1}}", 400,
                       &r);
        assert_http_error(&r, 400, "invalid_field", "payload");
        http_res_free(&r);
        harness_expect(srv.url, NULL, "GET", "/v1/cron/scalar/runs", NULL, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "runs")), 0);
        http_res_free(&r);
        assert_int_equal(harness_total_jobs(cl), total);
}

/* PUT /v1/cron/{key} with the template members job_members beside type:
 * the schedule shows job.timeout_ms shown (-1: null), and a manual run's job
 * has timeout_ms job_timeout. */
static void schedule_timeout(const char *key, const char *job_members, int64_t shown,
                             int64_t job_timeout)
{
        struct http_res r;
        char path[96];
        json_t *job;

        snprintf(path, sizeof(path), "/v1/cron/%s", key);
        assert_int_equal(http_jsonf(srv.url, "PUT", path, &r,
                                    "{\"cron\":\"0 0 1 1 *\",\"job\":{\"type\":\"t\",%s}}",
                                    job_members),
                         0);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
        if (shown < 0)
                assert_true(json_is_null(jpath(r.json, "schedule.job.timeout_ms")));
        else
                assert_int_equal(jpath_int(r.json, "schedule.job.timeout_ms"), shown);
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/cron/%s/run", key);
        harness_expect(srv.url, NULL, "POST", path, NULL, 202, &r);
        job = job_get(jpath_str(r.json, "run.job_id"));
        http_res_free(&r);
        assert_int_equal(jpath_int(job, "timeout_ms"), job_timeout);
        json_decref(job);
}

/* A cron template's timeout_ms goes to the jobs it enqueues; without one
 * they take their queue's default. unique_while has no place there. */
static void cron_template_timeout(void **state)
{
        static const struct {
                const char *members, *code, *field;
        } bad[] = {
            {"\"timeout_ms\":10", "timeout_ms_out_of_range", "job.timeout_ms"},
            {"\"unique_while\":\"active\"", "unknown_field", "job.unique_while"},
        };
        struct http_res r;

        (void)state;
        /* Its own value, then a queue default. */
        schedule_timeout("timed", "\"queue\":\"cront\",\"timeout_ms\":700", 700, 700);
        expect("PATCH", "/v1/queues/cront2", "{\"timeout_ms\":900}", 200);
        schedule_timeout("untimed", "\"queue\":\"cront2\"", -1, 900);

        /* Refused, and nothing is saved. */
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char path[64];

                snprintf(path, sizeof(path), "/v1/cron/bad-%zu", i);
                http_jsonf(
                    srv.url, "PUT", path, &r,
                    "{\"cron\":\"0 0 1 1 *\",\"job\":{\"queue\":\"cront\",\"type\":\"t\",%s}}",
                    bad[i].members);
                assert_http_error(&r, 400, bad[i].code, bad[i].field);
                http_res_free(&r);
                expect("GET", path, NULL, 404);
        }
}

int main(void)
{
        static const char *const args[] = {"--lease-min-ms", "100", "--payload-max-bytes", "4096",
                                           NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(timeout_retries_then_dead),
            cmocka_unit_test(queue_default_and_own_value),
            cmocka_unit_test(unique_active_while_queued_and_running),
            cmocka_unit_test(unique_active_concurrent),
            cmocka_unit_test(cron_run_payload_merge),
            cmocka_unit_test(cron_template_timeout),
        };

        harness_group(&srv, args, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
