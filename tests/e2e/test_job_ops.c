/*
 * test_job_ops.c: end-to-end tests of docs/api.md "Operate on jobs and
 * queues": promote (scheduled and retrying jobs, a parked claim woken),
 * purge (ended jobs and their idempotency key; ?purge=false cancels, other
 * values are refused), PATCH of a job that has not started (priority, run_at
 * moving it between queued and scheduled, payload, version), drain (counts,
 * the batch bound, running and ended jobs untouched), queue delete (refused
 * while a job has not ended, then the settings, the jobs and the queue
 * gone), the admin scope and audit rows of the queue routes, and per-queue
 * retention (a server whose own retention is long, queues with a short one).
 * Every refusal checks that nothing changed. Runs on SQLite and, as
 * e2e_job_ops_pg, on PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/harness.h"

static struct harness srv;

/* One request that must answer status; the answer's JSON (a new reference,
 * json_decref) is returned. */
static json_t *call(const char *key, const char *method, const char *path, const char *body,
                    int status)
{
        struct http_res r;
        json_t *j;

        harness_expect(srv.url, key, method, path, body, status, &r);
        j = json_incref(r.json);
        http_res_free(&r);
        return j;
}

/* A refused request: status, code and field as docs/api.md gives them, and
 * the message contains want (NULL: not checked). */
static void refused(const char *key, const char *method, const char *path, const char *body,
                    int status, const char *code, const char *field, const char *want)
{
        struct http_res r;

        assert_int_equal(key ? http_json_as(srv.url, key, method, path, body, &r)
                             : http_json(srv.url, method, path, body, &r),
                         0);
        assert_http_error(&r, status, code, field);
        if (want)
                assert_contains(http_error_member(&r, "message"), want);
        http_res_free(&r);
}

static void job_path(char *buf, size_t cap, const char *id, const char *tail)
{
        snprintf(buf, cap, "/v1/jobs/%s%s", id, tail);
}

/* Enqueues {"queue": q, "type": "t", extra...}; copies the id. */
static void enqueue(const char *q, const char *extra, char *id)
{
        char body[512];

        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"%s%s}", q, extra ? "," : "",
                 extra ? extra : "");
        harness_http_enqueue(srv.url, NULL, body, id, 32);
}

/* The job no longer exists on the server at url. */
static void assert_gone_at(const char *url, const char *id)
{
        char *s = harness_snapshot(url, id);

        assert_string_equal(s, "404");
        free(s);
}
#define assert_gone(id) assert_gone_at(srv.url, (id))

static const char *state_of(const char *id, char *st)
{
        return harness_http_state(srv.url, NULL, id, st, NULL);
}

/* A job that failed once and waits a minute for its retry. */
static void make_retrying(const char *q, char *id)
{
        json_t *j;
        char st[32];

        enqueue(q, "\"backoff\":{\"type\":\"fixed\",\"base_ms\":60000,\"max_ms\":60000}", id);
        j = harness_http_claim(srv.url, NULL, q, NULL, id);
        harness_http_fail(srv.url, NULL, j, "\"error\":\"boom\"", "retrying");
        assert_string_equal(state_of(id, st), "retrying");
}

static void make_completed(const char *q, char *id)
{
        enqueue(q, NULL, id);
        harness_http_complete(srv.url, NULL, harness_http_claim(srv.url, NULL, q, NULL, id), NULL,
                              "completed");
}

/* Leaves the job running (claimed, lease of a minute). */
static void make_running(const char *q, char *id)
{
        enqueue(q, NULL, id);
        json_decref(harness_http_claim(srv.url, NULL, q,
                                       "{\"worker\":\"w\",\"max\":1,\"lease_ms\":60000}", id));
}

/* ---- promote ---- */

struct parked {
        char queue[64];
        struct http_res r;
};

static void *park_claim(void *arg)
{
        struct parked *p = arg;
        char path[128];

        snprintf(path, sizeof(path), "/v1/queues/%s/claim", p->queue);
        http_json(srv.url, "POST", path, "{\"worker\":\"w\",\"max\":1,\"wait_ms\":8000}", &p->r);
        return NULL;
}

static void promote_jobs(void **state)
{
        char q[64], id[32], rid[32], other[32], path[128], st[32], *before;
        struct parked p = {0};
        pthread_t t;
        int64_t t0;
        json_t *j;

        (void)state;
        harness_unique("promote", q, sizeof(q));
        enqueue(q, "\"delay_ms\":60000", id);
        /* A claim parked on the empty queue is woken by the promotion. */
        snprintf(p.queue, sizeof(p.queue), "%s", q);
        assert_int_equal(harness_thread(&t, park_claim, &p), 0);
        harness_sleep_ms(300);
        t0 = harness_now_ms();
        job_path(path, sizeof(path), id, "/promote");
        j = call(NULL, "POST", path, NULL, 200);
        assert_string_equal(jpath_str(j, "job.state"), "queued");
        assert_true(harness_parse_time(jpath_str(j, "job.run_at")) <= harness_wall_ms());
        assert_true(harness_parse_time(jpath_str(j, "job.run_at")) > harness_wall_ms() - 10000);
        assert_int_equal(jpath_int(j, "job.version"), 1);
        json_decref(j);
        harness_join(t);
        assert_int_equal(p.r.status, 200);
        assert_string_equal(jpath_str(p.r.json, "jobs[0].id"), id);
        assert_true(harness_now_ms() - t0 < 4000);
        http_res_free(&p.r);

        /* Running now: refused, naming its state and the ones it needs. */
        before = harness_snapshot(srv.url, id);
        refused(NULL, "POST", path, NULL, 409, "invalid_state", "state", "is running");
        refused(NULL, "POST", path, NULL, 409, "invalid_state", "state", "scheduled or retrying");
        assert_unchanged(srv.url, id, before);
        free(before);

        /* A retrying job is due at once. */
        make_retrying(q, rid);
        job_path(path, sizeof(path), rid, "/promote");
        json_decref(call(NULL, "POST", path, NULL, 200));
        assert_string_equal(state_of(rid, st), "queued");
        /* Queued and completed jobs are refused and stay as they are. */
        before = harness_snapshot(srv.url, rid);
        refused(NULL, "POST", path, NULL, 409, "invalid_state", "state", "is queued");
        assert_unchanged(srv.url, rid, before);
        free(before);
        make_completed(harness_unique("promoted", q, sizeof(q)), other);
        job_path(path, sizeof(path), other, "/promote");
        before = harness_snapshot(srv.url, other);
        refused(NULL, "POST", path, NULL, 409, "invalid_state", "state", "is completed");
        assert_unchanged(srv.url, other, before);
        free(before);
        refused(NULL, "POST", "/v1/jobs/999999999/promote", NULL, 404, "not_found", NULL, NULL);
        refused(NULL, "POST", "/v1/jobs/abc/promote", NULL, 400, "invalid_id", NULL, NULL);
}

/* ---- purge ---- */

static void purge_jobs(void **state)
{
        char q[64], done[32], again[32], queued[32], run[32], path[128], st[32], *before;
        json_t *j;

        (void)state;
        harness_unique("purge", q, sizeof(q));
        enqueue(q, "\"idempotency_key\":\"purge-me\",\"payload\":{\"v\":1}", done);
        harness_http_complete(srv.url, NULL, harness_http_claim(srv.url, NULL, q, NULL, done),
                              "{\"ok\":true}", "completed");
        job_path(path, sizeof(path), done, "?purge=true");
        j = call(NULL, "DELETE", path, NULL, 200);
        assert_true(jpath_true(j, "purged"));
        assert_string_equal(jpath_str(j, "job.id"), done);
        assert_string_equal(jpath_str(j, "job.state"), "completed");
        json_decref(j);
        assert_gone(done);
        refused(NULL, "DELETE", path, NULL, 404, "not_found", NULL, NULL);
        /* Its idempotency key went with it: the same request makes a new job. */
        enqueue(q, "\"idempotency_key\":\"purge-me\",\"payload\":{\"v\":1}", again);
        assert_string_not_equal(again, done);

        /* Dead and cancelled jobs are purged alike. */
        job_path(path, sizeof(path), again, "");
        json_decref(call(NULL, "DELETE", path, NULL, 200)); /* cancels */
        job_path(path, sizeof(path), again, "?purge=true");
        json_decref(call(NULL, "DELETE", path, NULL, 200));
        assert_gone(again);
        enqueue(q, "\"max_attempts\":1", done);
        harness_http_fail(srv.url, NULL, harness_http_claim(srv.url, NULL, q, NULL, done),
                          "\"error\":\"x\"", "dead");
        job_path(path, sizeof(path), done, "?purge=true");
        json_decref(call(NULL, "DELETE", path, NULL, 200));
        assert_gone(done);

        /* Jobs that have not ended are refused, unchanged (not cancelled). */
        make_running(q, run);
        enqueue(q, NULL, queued);
        before = harness_snapshot(srv.url, queued);
        job_path(path, sizeof(path), queued, "?purge=true");
        refused(NULL, "DELETE", path, NULL, 409, "invalid_state", "state", "is queued");
        refused(NULL, "DELETE", path, NULL, 409, "invalid_state", "state",
                "completed, dead or cancelled");
        job_path(path, sizeof(path), queued, "?purge=yes");
        refused(NULL, "DELETE", path, NULL, 400, "invalid_field", "purge", "true or false");
        job_path(path, sizeof(path), queued, "?purge=");
        refused(NULL, "DELETE", path, NULL, 400, "invalid_field", "purge", NULL);
        job_path(path, sizeof(path), queued, "?purg=true");
        refused(NULL, "DELETE", path, NULL, 400, "unknown_parameter", NULL, NULL);
        assert_unchanged(srv.url, queued, before);
        free(before);
        before = harness_snapshot(srv.url, run);
        job_path(path, sizeof(path), run, "?purge=true");
        refused(NULL, "DELETE", path, NULL, 409, "invalid_state", "state", "is running");
        assert_unchanged(srv.url, run, before);
        free(before);
        /* purge=false is the cancel it always was. */
        job_path(path, sizeof(path), queued, "?purge=false");
        json_decref(call(NULL, "DELETE", path, NULL, 200));
        assert_string_equal(state_of(queued, st), "cancelled");
}

/* ---- PATCH ---- */

static json_t *patch(const char *id, const char *body, int status)
{
        char path[128];

        job_path(path, sizeof(path), id, "");
        return call(NULL, "PATCH", path, body, status);
}

static void patch_refused(const char *id, const char *body, int status, const char *code,
                          const char *field, const char *want)
{
        char path[128], *before = harness_snapshot(srv.url, id);

        job_path(path, sizeof(path), id, "");
        refused(NULL, "PATCH", path, body, status, code, field, want);
        assert_unchanged(srv.url, id, before);
        free(before);
}

static void edit_jobs(void **state)
{
        char q[64], id[32], rid[32], child[32], run[32], done[32], extra[128], body[256], st[32];
        char *big, *pbody;
        json_t *j;

        (void)state;
        harness_unique("edit", q, sizeof(q));
        enqueue(q, "\"delay_ms\":60000", id);
        j = patch(id, "{\"priority\":\"high\",\"payload\":{\"v\":2}}", 200);
        assert_string_equal(jpath_str(j, "job.priority"), "high");
        assert_int_equal(jpath_int(j, "job.payload.v"), 2);
        assert_int_equal(jpath_int(j, "job.version"), 2);
        assert_string_equal(jpath_str(j, "job.state"), "scheduled");
        json_decref(j);
        /* run_at in the past: queued now, as an enqueue would place it. */
        j = patch(id, "{\"run_at\":\"2020-01-01T00:00:00Z\"}", 200);
        assert_string_equal(jpath_str(j, "job.state"), "queued");
        assert_int_equal(jpath_int(j, "job.version"), 3);
        json_decref(j);
        /* ... and back to scheduled with a later one. */
        snprintf(body, sizeof(body), "{\"run_at\":\"2099-01-01T00:00:00Z\"}");
        patch_refused(id, body, 400, "delay_ms_out_of_range", "run_at", NULL);
        {
                char at[40];
                int64_t ms = harness_wall_ms() + 3600 * 1000;
                time_t s = (time_t)(ms / 1000);
                struct tm tm;

                gmtime_r(&s, &tm);
                strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
                snprintf(body, sizeof(body), "{\"run_at\":\"%s\",\"payload\":null}", at);
        }
        j = patch(id, body, 200);
        assert_string_equal(jpath_str(j, "job.state"), "scheduled");
        assert_int_equal(jpath_int(j, "job.version"), 4);
        assert_true(json_is_null(jpath(j, "job.payload")));
        json_decref(j);

        /* Refusals change nothing. */
        patch_refused(id, "{}", 400, "missing_field", NULL, "priority, run_at and payload");
        patch_refused(id, "{\"priority\":null}", 400, "missing_field", NULL, NULL);
        patch_refused(id, "{\"queue\":\"x\"}", 400, "unknown_field", "queue", NULL);
        patch_refused(id, "{\"priority\":\"urgent\"}", 400, "invalid_field", "priority",
                      "critical, high, normal or low");
        patch_refused(id, "{\"run_at\":\"tomorrow\"}", 400, "invalid_time", "run_at", NULL);
        patch_refused(id, "[1]", 400, "invalid_json", NULL, NULL);
        big = harness_repeat('x', 2000);
        pbody = malloc(strlen(big) + 32);
        assert_non_null(pbody);
        sprintf(pbody, "{\"payload\":\"%s\"}", big);
        patch_refused(id, pbody, 413, "payload_too_large", "payload", NULL);
        free(pbody);
        free(big);

        /* A retrying job due now becomes queued; a pending one stays pending. */
        make_retrying(q, rid);
        j = patch(rid, "{\"run_at\":\"2020-01-01T00:00:00Z\"}", 200);
        assert_string_equal(jpath_str(j, "job.state"), "queued");
        json_decref(j);
        snprintf(extra, sizeof(extra), "\"depends_on\":[\"%s\"]", id);
        enqueue(q, extra, child);
        assert_string_equal(state_of(child, st), "pending");
        j = patch(child, "{\"priority\":\"low\"}", 200);
        assert_string_equal(jpath_str(j, "job.state"), "pending");
        assert_string_equal(jpath_str(j, "job.priority"), "low");
        assert_int_equal(jpath_int(j, "job.version"), 2);
        json_decref(j);

        /* Started or ended: refused. */
        harness_unique("edited", q, sizeof(q));
        make_running(q, run);
        patch_refused(run, "{\"priority\":\"low\"}", 409, "invalid_state", "state", "is running");
        make_completed(q, done);
        patch_refused(done, "{\"priority\":\"low\"}", 409, "invalid_state", "state",
                      "pending, scheduled, queued or retrying");
        refused(NULL, "PATCH", "/v1/jobs/999999999", "{\"priority\":\"low\"}", 404, "not_found",
                NULL, NULL);
}

/* ---- drain and delete ---- */

static int64_t count_of(const char *q, const char *st)
{
        char path[128], k[64];
        json_t *j;
        int64_t n;

        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        snprintf(k, sizeof(k), "queue.counts.%s", st);
        j = call(NULL, "GET", path, NULL, 200);
        n = jpath_int(j, k);
        json_decref(j);
        return n;
}

/* The newest audit row of action has the target and detail member. */
static void audited(const char *action, const char *target, const char *member, int64_t value)
{
        char path[128], k[64];
        json_t *j, *e;
        size_t n;

        snprintf(path, sizeof(path), "/v1/audit?action=%s&limit=100", action);
        j = call(NULL, "GET", path, NULL, 200);
        n = json_array_size(json_object_get(j, "entries"));
        assert_true(n > 0);
        e = json_array_get(json_object_get(j, "entries"), n - 1);
        assert_string_equal(jpath_str(e, "target"), target);
        snprintf(k, sizeof(k), "detail.%s", member);
        assert_int_equal(jpath_int(e, k), value);
        json_decref(j);
}

static void drain_queue(void **state)
{
        char q[64], path[128], ids[6][32], run[32], done[32], extra[64], st[32], tok[64];
        char *before;
        json_t *j;

        (void)state;
        harness_unique("drain", q, sizeof(q));
        /* Claimed ones first, so that the claims take them. */
        make_retrying(q, ids[4]);
        make_running(q, run);
        make_completed(q, done);
        enqueue(q, "\"delay_ms\":60000", ids[0]);
        snprintf(extra, sizeof(extra), "\"depends_on\":[\"%s\"]", ids[0]);
        enqueue(q, extra, ids[1]);
        enqueue(q, NULL, ids[2]);
        enqueue(q, NULL, ids[3]);
        snprintf(path, sizeof(path), "/v1/queues/%s/drain", q);

        /* Not for a key without admin; nothing changed. */
        harness_make_key(&srv, NULL, "[\"jobs:write\",\"jobs:read\"]", NULL, tok, NULL);
        before = harness_snapshot(srv.url, ids[2]);
        refused(tok, "POST", path, NULL, 403, "forbidden", NULL, NULL);
        assert_unchanged(srv.url, ids[2], before);
        free(before);
        refused(NULL, "POST", "/v1/queues/no-such-drain/drain", NULL, 404, "not_found", NULL, NULL);

        j = call(NULL, "POST", path, NULL, 200);
        assert_int_equal(jpath_int(j, "cancelled"), 5);
        assert_false(jpath_true(j, "more"));
        json_decref(j);
        for (int i = 0; i < 5; i++)
                assert_string_equal(state_of(ids[i], st), "cancelled");
        assert_string_equal(state_of(run, st), "running");
        assert_string_equal(state_of(done, st), "completed");
        audited("queue.drain", q, "cancelled", 5);
        j = call(NULL, "POST", path, NULL, 200);
        assert_int_equal(jpath_int(j, "cancelled"), 0);
        json_decref(j);

        /* More than one call's bound: 1,000, then the rest. */
        harness_unique("drainbig", q, sizeof(q));
        for (int b = 0; b < 2; b++) {
                int n = b == 0 ? 1000 : 1;
                size_t cap = (size_t)n * 64 + 32, len;
                char *body = malloc(cap);
                assert_non_null(body);
                len = (size_t)snprintf(body, cap, "{\"jobs\":[");
                for (int i = 0; i < n; i++)
                        len += (size_t)snprintf(body + len, cap - len,
                                                "%s{\"queue\":\"%s\",\"type\":\"t\"}", i ? "," : "",
                                                q);
                snprintf(body + len, cap - len, "]}");
                json_decref(call(NULL, "POST", "/v1/jobs", body, 201));
                free(body);
        }
        snprintf(path, sizeof(path), "/v1/queues/%s/drain", q);
        j = call(NULL, "POST", path, NULL, 200);
        assert_int_equal(jpath_int(j, "cancelled"), 1000);
        assert_true(jpath_true(j, "more"));
        json_decref(j);
        assert_int_equal(count_of(q, "queued"), 1);
        j = call(NULL, "POST", path, NULL, 200);
        assert_int_equal(jpath_int(j, "cancelled"), 1);
        assert_false(jpath_true(j, "more"));
        json_decref(j);
        assert_int_equal(count_of(q, "cancelled"), 1001);
}

static void delete_queue(void **state)
{
        char q[64], path[128], qpath[128], a[32], b[32], c[32], tok[64], st[32], *before;
        json_t *j;

        (void)state;
        harness_unique("qdel", q, sizeof(q));
        snprintf(qpath, sizeof(qpath), "/v1/queues/%s", q);
        make_completed(q, a);
        enqueue(q, NULL, b);
        json_decref(call(NULL, "PATCH", qpath, "{\"concurrency\":5,\"paused\":true}", 200));

        /* A job that has not ended: refused with the count; nothing changed. */
        before = harness_snapshot(srv.url, b);
        refused(NULL, "DELETE", qpath, NULL, 409, "queue_not_empty", "queue", "holds 1 jobs");
        assert_unchanged(srv.url, b, before);
        free(before);
        assert_string_equal(state_of(a, st), "completed");
        j = call(NULL, "GET", qpath, NULL, 200);
        assert_int_equal(jpath_int(j, "queue.concurrency"), 5);
        json_decref(j);
        harness_make_key(&srv, NULL, "[\"jobs:write\",\"jobs:read\"]", NULL, tok, NULL);
        refused(tok, "DELETE", qpath, NULL, 403, "forbidden", NULL, NULL);
        refused(NULL, "DELETE", "/v1/queues/no-such-qdel", NULL, 404, "not_found", NULL, NULL);
        assert_string_equal(state_of(a, st), "completed");

        /* Once every job has ended: the jobs, the settings and the queue go. */
        snprintf(path, sizeof(path), "/v1/queues/%s/drain", q);
        json_decref(call(NULL, "POST", path, NULL, 200));
        j = call(NULL, "DELETE", qpath, NULL, 200);
        assert_true(jpath_true(j, "deleted"));
        assert_int_equal(jpath_int(j, "purged"), 2);
        json_decref(j);
        audited("queue.delete", q, "purged", 2);
        refused(NULL, "GET", qpath, NULL, 404, "not_found", NULL, NULL);
        assert_gone(a);
        assert_gone(b);
        refused(NULL, "DELETE", qpath, NULL, 404, "not_found", NULL, NULL);
        /* The name can be used again, from scratch. */
        enqueue(q, NULL, c);
        j = call(NULL, "GET", qpath, NULL, 200);
        assert_true(json_is_null(jpath(j, "queue.concurrency")));
        assert_false(jpath_true(j, "queue.paused"));
        assert_int_equal(jpath_int(j, "queue.counts.queued"), 1);
        assert_int_equal(jpath_int(j, "queue.counts.completed"), 0);
        json_decref(j);
}

/* ---- per-queue retention ---- */

/* Waits (bounded) until the job is gone; the time it took, or -1. */
static int64_t wait_gone(const struct harness *h, const char *id, int64_t limit_ms)
{
        int64_t t0 = harness_now_ms();

        for (int i = 0; i < 400 && harness_now_ms() - t0 < limit_ms; i++) {
                char *s = harness_snapshot(h->url, id);
                bool gone = strcmp(s, "404") == 0;
                free(s);
                if (gone)
                        return harness_now_ms() - t0;
                harness_sleep_ms(50);
        }
        return -1;
}

static void retention_per_queue(void **state)
{
        static const char *const args[] = {"--completed-ttl-ms", "600000", "--dead-ttl-ms",
                                           "600000", NULL};
        struct harness rs, keep = srv;
        char q[64], other[64], late[64], qpath[128], a[32], b[32], c[32], d[32], e[32], *before;
        json_t *j;

        (void)state;
        assert_int_equal(harness_start(&rs, args), 0);
        srv = rs; /* the helpers above talk to srv */
        harness_unique("retq", q, sizeof(q));
        harness_unique("reto", other, sizeof(other));
        harness_unique("retl", late, sizeof(late));
        snprintf(qpath, sizeof(qpath), "/v1/queues/%s", q);
        j = call(NULL, "PATCH", qpath,
                 "{\"retention\":{\"completed_ms\":1000,\"cancelled_ms\":1000}}", 200);
        assert_int_equal(jpath_int(j, "queue.retention.completed_ms"), 1000);
        assert_int_equal(jpath_int(j, "queue.retention.cancelled_ms"), 1000);
        assert_true(json_is_null(jpath(j, "queue.retention.dead_ms")));
        json_decref(j);
        /* Refusals: unknown member, bounds, shape; the settings stay. */
        before = json_dumps(jpath(j = call(NULL, "GET", qpath, NULL, 200), "queue.retention"),
                            JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        refused(NULL, "PATCH", qpath, "{\"retention\":{\"completed_ms\":2000,\"x\":1}}", 400,
                "unknown_field", "retention.x", NULL);
        refused(NULL, "PATCH", qpath, "{\"retention\":{\"completed_ms\":999}}", 400,
                "setting_out_of_range", "retention.completed_ms", "between 1000 and 600000");
        refused(NULL, "PATCH", qpath, "{\"retention\":{\"dead_ms\":600001}}", 400,
                "setting_out_of_range", "retention.dead_ms", NULL);
        refused(NULL, "PATCH", qpath, "{\"retention\":7}", 400, "invalid_field", "retention", NULL);
        refused(NULL, "PATCH", qpath, "{\"retention\":{}}", 400, "invalid_field", "retention",
                NULL);
        j = call(NULL, "GET", qpath, NULL, 200);
        {
                char *now = json_dumps(jpath(j, "queue.retention"), JSON_COMPACT | JSON_SORT_KEYS);
                assert_string_equal(now, before);
                free(now);
        }
        json_decref(j);
        free(before);

        make_completed(q, a);
        make_completed(other, b);
        enqueue(q, "\"max_attempts\":1", c);
        harness_http_fail(srv.url, NULL, harness_http_claim(srv.url, NULL, q, NULL, c),
                          "\"error\":\"x\"", "dead");
        enqueue(q, NULL, d);
        {
                char path[128];
                job_path(path, sizeof(path), d, "");
                json_decref(call(NULL, "DELETE", path, NULL, 200));
        }
        /* A queue given its retention after its job ended. */
        make_completed(late, e);

        assert_true(wait_gone(&rs, a, 8000) >= 0);
        assert_true(wait_gone(&rs, d, 8000) >= 0);
        snprintf(qpath, sizeof(qpath), "/v1/queues/%s", late);
        json_decref(call(NULL, "PATCH", qpath, "{\"retention\":{\"completed_ms\":1000}}", 200));
        assert_true(wait_gone(&rs, e, 8000) >= 0);
        /* The server's retention (ten minutes) keeps the others. */
        {
                char *s = harness_snapshot(rs.url, b);
                assert_string_not_equal(s, "404");
                free(s);
                s = harness_snapshot(rs.url, c);
                assert_string_not_equal(s, "404");
                free(s);
        }
        /* null gives the queue the server's retention again. */
        snprintf(qpath, sizeof(qpath), "/v1/queues/%s", q);
        j = call(NULL, "PATCH", qpath, "{\"retention\":null}", 200);
        assert_true(json_is_null(jpath(j, "queue.retention.completed_ms")));
        assert_true(json_is_null(jpath(j, "queue.retention.cancelled_ms")));
        json_decref(j);
        srv = keep;
        assert_int_equal(harness_stop(&rs), 0);
}

int main(void)
{
        static const char *const args[] = {"--payload-max-bytes", "1024", "--batch-max", "1000",
                                           NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(promote_jobs), cmocka_unit_test(purge_jobs),
            cmocka_unit_test(edit_jobs),    cmocka_unit_test(drain_queue),
            cmocka_unit_test(delete_queue), cmocka_unit_test(retention_per_queue),
        };

        harness_group(&srv, args, NULL);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
