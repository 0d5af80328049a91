/*
 * test_ids.c: job ids on the wire (docs/api.md, "Answer shapes") against a
 * real batond. Every place a request body names a job id takes the decimal
 * string and the number alike ("7" and 7): depends_on of an enqueue, of each
 * job of a batch and of a flow job, the ids of a dead-letter replay and the
 * id of each /v1/settle item. Every other value (0, -1, "abc", 1.5, "0",
 * a string beyond int64, true, an object) is 400 invalid_id naming the
 * field's path, and nothing changes: the job count, the dead jobs and the
 * running jobs are as before. Every answer gives ids as strings: a walk over
 * the answers of the job, claim, settle, flow, dead-letter, timer, cron,
 * key and audit routes checks each "id", "*_id", "next", "run" marker and
 * depends_on entry. One server for the file (SQLite, and PostgreSQL in the
 * _pg variant); each test uses its own queues.
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

/* Values that are not job ids, as JSON text, and what each one is. */
static const char *const bad_ids[] = {
    "0",    "-1",   "\"abc\"", "1.5",     "\"0\"", "\"-1\"", "\"9223372036854775808\"",
    "\"\"", "true", "{}",      "\"12x\"",
};
#define N_BAD (sizeof(bad_ids) / sizeof(bad_ids[0]))

/* Enqueues a job on q (extra: more JSON members or NULL); copies its id. */
static void enqueue(const char *q, const char *extra, char *id)
{
        char body[1024];

        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"%s%s}", q, extra ? "," : "",
                 extra ? extra : "");
        harness_http_enqueue(srv.url, NULL, body, id, 32);
}

/* A job of q made dead: one attempt, failed not retryable. Copies its id. */
static void dead_job(const char *q, char *id)
{
        enqueue(q, "\"max_attempts\":1", id);
        harness_http_fail(srv.url, NULL, harness_http_claim(srv.url, NULL, q, NULL, id),
                          "\"error\":\"x\",\"retryable\":false", "dead");
}

/* The "depends_on" of the answer's job (member at path) as compact text. */
static char *deps_text(json_t *root, const char *path)
{
        char *s = json_dumps(jpath(root, path), JSON_COMPACT);

        assert_non_null(s);
        return s;
}

static void depends_on_takes_both_forms(void **state)
{
        char q[64], p[32], p2[32], body[1024], want[96], *got;
        struct http_res r;

        (void)state;
        harness_unique("dep", q, sizeof(q));
        enqueue(q, NULL, p);
        enqueue(q, NULL, p2);
        snprintf(want, sizeof(want), "[\"%s\",\"%s\"]", p, p2);
        /* One job: a number and a string; the answer lists strings. */
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[%s,\"%s\"]}",
                 q, p, p2);
        harness_expect(srv.url, NULL, "POST", "/v1/jobs", body, 201, &r);
        got = deps_text(r.json, "job.depends_on");
        assert_string_equal(got, want);
        assert_string_equal(jpath_str(r.json, "job.state"), "pending");
        free(got);
        http_res_free(&r);
        /* A batch: each element in the other form. */
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"%s\"]},"
                 "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[%s]}]}",
                 q, p, q, p);
        harness_expect(srv.url, NULL, "POST", "/v1/jobs", body, 201, &r);
        snprintf(want, sizeof(want), "[\"%s\"]", p);
        for (int i = 0; i < 2; i++) {
                char path[64];
                snprintf(path, sizeof(path), "jobs[%d].depends_on", i);
                got = deps_text(r.json, path);
                assert_string_equal(got, want);
                free(got);
        }
        http_res_free(&r);
        /* A flow: a ref, an existing job as a number and as a string. */
        snprintf(
            body, sizeof(body),
            "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},"
            "{\"ref\":\"b\",\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"a\",%s,\"%s\"]}]}",
            q, q, p, p2);
        harness_expect(srv.url, NULL, "POST", "/v1/flows", body, 201, &r);
        snprintf(want, sizeof(want), "[\"%s\",\"%s\",\"%s\"]", jpath_str(r.json, "flow.jobs[0].id"),
                 p, p2);
        got = deps_text(r.json, "flow.jobs[1].depends_on");
        assert_string_equal(got, want);
        free(got);
        http_res_free(&r);
}

/* POST body (made from fmt with the bad value) is refused with code at field,
 * and the tenant's job count is what it was. */
static void expect_refused(const char *path, const char *body, const char *code, const char *field,
                           int64_t jobs_before)
{
        struct http_res r;

        assert_int_equal(http_json(srv.url, "POST", path, body, &r), 0);
        if (r.status != 400 || strcmp(http_error_member(&r, "code"), code) != 0)
                fprintf(stderr, "%s %s -> %d %s\n", path, body, r.status, r.body);
        assert_http_error(&r, 400, code, field);
        http_res_free(&r);
        assert_int_equal(harness_total_jobs(cl), jobs_before);
}

static void depends_on_refusals(void **state)
{
        char q[64], p[32], body[1024], field[64];
        int64_t before;

        (void)state;
        harness_unique("depbad", q, sizeof(q));
        enqueue(q, NULL, p);
        before = harness_total_jobs(cl);
        for (size_t i = 0; i < N_BAD; i++) {
                snprintf(body, sizeof(body),
                         "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"%s\",%s]}", q, p,
                         bad_ids[i]);
                expect_refused("/v1/jobs", body, "invalid_id", "depends_on[1]", before);
                snprintf(body, sizeof(body),
                         "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\"},"
                         "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[%s]}]}",
                         q, q, bad_ids[i]);
                expect_refused("/v1/jobs", body, "invalid_id", "jobs[1].depends_on[0]", before);
                /* In a flow a string may be a ref: one that is neither a ref
                 * nor an id is unknown_ref; any other value invalid_id. */
                snprintf(body, sizeof(body),
                         "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\","
                         "\"depends_on\":[%s,%s]}]}",
                         q, p, bad_ids[i]);
                snprintf(field, sizeof(field), "jobs[0].depends_on[1]");
                expect_refused("/v1/flows", body,
                               bad_ids[i][0] == '"' ? "unknown_ref" : "invalid_id", field, before);
        }
        /* A number too large for any integer does not parse as JSON: 400 too. */
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[9223372036854775808]}", q);
        expect_refused("/v1/jobs", body, "invalid_json", NULL, before);
        /* The largest id parses and is simply not a job of this tenant. */
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[9223372036854775807]}", q);
        expect_refused("/v1/jobs", body, "unknown_dependency", "depends_on[0]", before);
}

static void replay_ids_take_both_forms(void **state)
{
        char q[64], a[32], b[32], c[32], path[128], body[256], *snap_a, *snap_b;
        struct http_res r;

        (void)state;
        harness_unique("rep", q, sizeof(q));
        dead_job(q, a);
        dead_job(q, b);
        dead_job(q, c);
        snprintf(path, sizeof(path), "/v1/queues/%s/dead/replay", q);
        snap_a = harness_snapshot(srv.url, a);
        snap_b = harness_snapshot(srv.url, b);
        /* Refusals first: a valid id before the bad one, nothing replayed. */
        for (size_t i = 0; i < N_BAD; i++) {
                snprintf(body, sizeof(body), "{\"ids\":[\"%s\",%s]}", a, bad_ids[i]);
                expect_refused(path, body, "invalid_id", "ids[1]", harness_total_jobs(cl));
                assert_unchanged(srv.url, a, snap_a);
                assert_unchanged(srv.url, b, snap_b);
        }
        free(snap_a);
        free(snap_b);
        /* A number and a string: both replayed. */
        snprintf(body, sizeof(body), "{\"ids\":[%s,\"%s\"]}", a, b);
        harness_expect(srv.url, NULL, "POST", path, body, 200, &r);
        assert_int_equal(jpath_int(r.json, "replayed"), 2);
        http_res_free(&r);
        assert_string_equal(harness_http_state(srv.url, NULL, a, (char[32]){0}, NULL), "queued");
        assert_string_equal(harness_http_state(srv.url, NULL, b, (char[32]){0}, NULL), "queued");
        assert_string_equal(harness_http_state(srv.url, NULL, c, (char[32]){0}, NULL), "dead");
}

static void settle_ids_take_both_forms(void **state)
{
        char q[64], a[32], b[32], body[1024], *snap_a, *snap_b;
        json_t *ja, *jb;
        struct http_res r;

        (void)state;
        harness_unique("set", q, sizeof(q));
        enqueue(q, NULL, a);
        ja = harness_http_claim(srv.url, NULL, q, NULL, a);
        enqueue(q, NULL, b);
        jb = harness_http_claim(srv.url, NULL, q, NULL, b);
        snap_a = harness_snapshot(srv.url, a);
        snap_b = harness_snapshot(srv.url, b);
        for (size_t i = 0; i < N_BAD; i++) {
                snprintf(body, sizeof(body),
                         "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\"},"
                         "{\"id\":%s,\"lease\":\"x\",\"outcome\":\"complete\"}]}",
                         a, jpath_str(ja, "lease"), bad_ids[i]);
                expect_refused("/v1/settle", body, "invalid_id", "items[1].id",
                               harness_total_jobs(cl));
                assert_unchanged(srv.url, a, snap_a);
                assert_unchanged(srv.url, b, snap_b);
        }
        snprintf(body, sizeof(body), "{\"items\":[{\"lease\":\"x\",\"outcome\":\"complete\"}]}");
        expect_refused("/v1/settle", body, "missing_field", "items[0].id", harness_total_jobs(cl));
        assert_unchanged(srv.url, a, snap_a);
        free(snap_a);
        free(snap_b);
        /* A number and a string: both settled; the answer's ids are strings. */
        snprintf(body, sizeof(body),
                 "{\"items\":[{\"id\":%s,\"lease\":\"%s\",\"outcome\":\"complete\"},"
                 "{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"fail\",\"error\":\"e\","
                 "\"retryable\":false}]}",
                 a, jpath_str(ja, "lease"), b, jpath_str(jb, "lease"));
        harness_expect(srv.url, NULL, "POST", "/v1/settle", body, 200, &r);
        assert_string_equal(jpath_str(r.json, "items[0].id"), a);
        assert_true(jpath_true(r.json, "items[0].ok"));
        assert_string_equal(jpath_str(r.json, "items[1].id"), b);
        assert_true(jpath_true(r.json, "items[1].ok"));
        http_res_free(&r);
        json_decref(ja);
        json_decref(jb);
        assert_string_equal(harness_http_state(srv.url, NULL, a, (char[32]){0}, NULL), "completed");
        assert_string_equal(harness_http_state(srv.url, NULL, b, (char[32]){0}, NULL), "dead");
}

/* ---- every id of every answer is a string ---- */

static bool is_id_member(const char *k)
{
        size_t n = strlen(k);

        return strcmp(k, "id") == 0 || strcmp(k, "next") == 0 ||
               (n > 3 && strcmp(k + n - 3, "_id") == 0);
}

/* Walks v (path names it in messages) and counts the ids that are not
 * strings: members named id, *_id and next (string or null), depends_on
 * entries and a job's cron.run. The user's own JSON (payload, result,
 * progress, audit detail) is not the server's and is skipped. */
static int count_bad_ids(const json_t *v, const char *path)
{
        const char *k;
        json_t *x;
        size_t i;
        int bad = 0;
        char sub[512];

        if (json_is_array(v)) {
                json_array_foreach(v, i, x)
                {
                        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                        bad += count_bad_ids(x, sub);
                }
                return bad;
        }
        json_object_foreach((json_t *)v, k, x)
        {
                snprintf(sub, sizeof(sub), "%s.%s", path, k);
                if (!strcmp(k, "payload") || !strcmp(k, "result") || !strcmp(k, "progress") ||
                    !strcmp(k, "detail"))
                        continue;
                if (is_id_member(k) && !json_is_string(x) && !json_is_null(x)) {
                        fprintf(stderr, "%s is not a string\n", sub);
                        bad++;
                }
                if (!strcmp(k, "depends_on") || !strcmp(k, "run")) {
                        json_t *e;
                        json_array_foreach(x, i, e) bad += !json_is_string(e);
                        if (!strcmp(k, "run") && !json_is_object(x) && !json_is_string(x) &&
                            !json_is_null(x)) {
                                fprintf(stderr, "%s is not a string\n", sub);
                                bad++;
                        }
                }
                if (json_is_object(x) || json_is_array(x))
                        bad += count_bad_ids(x, sub);
        }
        return bad;
}

/* method path (body) answers 2xx, and every id in the answer is a string.
 * Returns the answer (the caller frees it) for what the test reads next. */
static void answer_ids(const char *method, const char *path, const char *body, struct http_res *r)
{
        assert_int_equal(http_json(srv.url, method, path, body, r), 0);
        if (r->status < 200 || r->status > 299)
                fail_msg("%s %s: HTTP %d %s", method, path, r->status, r->body);
        assert_non_null(r->json);
        if (count_bad_ids(r->json, path) != 0)
                fail_msg("%s %s answers ids that are not strings: %s", method, path, r->body);
}

/* answer_ids on the path made from fmt, for an answer nothing else reads. */
static void check_answer(const char *method, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check_answer(const char *method, const char *body, const char *fmt, ...)
{
        char path[512];
        struct http_res r;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(path, sizeof(path), fmt, ap);
        va_end(ap);
        answer_ids(method, path, body, &r);
        http_res_free(&r);
}

/* Waits (bounded) until timer key has fired. */
static void wait_fired(const char *key)
{
        int64_t until = harness_now_ms() + 10000;
        char path[512];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        for (;;) {
                answer_ids("GET", path, NULL, &r);
                if (jpath_str(r.json, "timer.job_id")) {
                        http_res_free(&r);
                        return;
                }
                http_res_free(&r);
                if (harness_now_ms() > until)
                        fail_msg("timer %s never fired", key);
                harness_sleep_ms(20);
        }
}

static void job_answers(const char *q)
{
        char path[256], body[512], p[32];
        struct http_res r;
        json_t *job;

        enqueue(q, NULL, p);
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[%s]},"
                 "{\"queue\":\"%s\",\"type\":\"t\"}]}",
                 q, p, q);
        check_answer("POST", body, "/v1/jobs");
        snprintf(path, sizeof(path), "/v1/jobs?queue=%s&limit=1", q);
        answer_ids("GET", path, NULL, &r);
        assert_non_null(jpath_str(r.json, "next"));
        http_res_free(&r);
        /* The parent completes; the claim of its child carries parents[]. */
        job = harness_http_claim(srv.url, NULL, q, NULL, p);
        harness_http_complete(srv.url, NULL, job, "{\"n\":1}", "completed");
        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        answer_ids("POST", path, "{\"worker\":\"w\",\"max\":10}", &r);
        job = NULL;
        for (size_t i = 0; i < json_array_size(jpath(r.json, "jobs")); i++)
                if (json_object_get(json_array_get(jpath(r.json, "jobs"), i), "parents"))
                        job = json_array_get(jpath(r.json, "jobs"), i);
        assert_non_null(job);
        assert_string_equal(jpath_str(job, "parents[0].id"), p);
        snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"error\":\"e\",\"retryable\":false}",
                 jpath_str(job, "lease"));
        snprintf(path, sizeof(path), "/v1/jobs/%s/fail", jpath_str(job, "id"));
        http_res_free(&r);
        check_answer("POST", body, "%s", path);
        check_answer("GET", NULL, "/v1/queues/%s/dead", q);
        check_answer("GET", NULL, "/v1/jobs/%s", p);
}

static void other_answers(const char *q)
{
        char path[256], body[512];
        struct http_res r;

        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},"
                 "{\"ref\":\"b\",\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"a\"]}]}",
                 q, q);
        answer_ids("POST", "/v1/flows", body, &r);
        snprintf(path, sizeof(path), "/v1/flows/%s", jpath_str(r.json, "flow.id"));
        http_res_free(&r);
        check_answer("GET", NULL, "%s", path);
        /* A timer that fires at once: its job_id and its job's timer member. */
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":0}", q);
        check_answer("PUT", body, "/v1/timers/%s-t", q);
        snprintf(path, sizeof(path), "%s-t", q);
        wait_fired(path);
        check_answer("GET", NULL, "/v1/timers?prefix=%s", q);
        /* A cron run: the run's id and job_id, the job's cron.run. */
        snprintf(body, sizeof(body),
                 "{\"cron\":\"0 3 * * *\",\"job\":{\"queue\":\"%s\",\"type\":\"t\"}}", q);
        check_answer("PUT", body, "/v1/cron/%s-c", q);
        check_answer("POST", "{}", "/v1/cron/%s-c/run", q);
        check_answer("GET", NULL, "/v1/cron/%s-c/runs", q);
        check_answer("GET", NULL, "/v1/jobs?queue=%s&limit=1000", q);
        answer_ids("POST", "/v1/keys", "{\"name\":\"ids\",\"scopes\":[\"jobs:read\"]}", &r);
        assert_non_null(jpath_str(r.json, "key.id"));
        assert_non_null(jpath_str(r.json, "secret"));
        http_res_free(&r);
        check_answer("GET", NULL, "/v1/keys?limit=1000");
        check_answer("GET", NULL, "/v1/audit?limit=1000");
}

static void answers_give_ids_as_strings(void **state)
{
        char q[64];

        (void)state;
        harness_unique("ans", q, sizeof(q));
        job_answers(q);
        other_answers(q);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(depends_on_takes_both_forms),
            cmocka_unit_test(depends_on_refusals),
            cmocka_unit_test(replay_ids_take_both_forms),
            cmocka_unit_test(settle_ids_take_both_forms),
            cmocka_unit_test(answers_give_ids_as_strings),
        };
        harness_group(&srv, NULL, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
