/*
 * test_find.c: end-to-end tests of finding jobs (GET /v1/jobs with every
 * filter of docs/api.md, alone and combined, order=desc and its cursor over
 * several pages, tenant isolation, each refusal) and of POST /v1/jobs/bulk
 * (retry, cancel, promote and purge, each with jobs it does not apply to,
 * the limit and next continuation, the audit row, and every refusal leaving
 * the jobs as they were). Each test that reads a whole tenant works in a
 * tenant of its own (a key made for it), so the tests of one server do not
 * see each other's jobs. Registered also as e2e_find_pg (PostgreSQL).
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

/* Enqueues body (a job object) as key (NULL: admin) with X-Request-Id rid
 * (NULL: none); returns the new job's id in id (cap 24) and, when created is
 * not NULL, its created_at. */
static void enq(const char *key, const char *rid, const char *body, char *id, char *created)
{
        char auth[160], rh[96];
        const char *hdrs[3] = {NULL, NULL, NULL};
        struct http_res r;
        int n = 0;

        if (key) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
                hdrs[n++] = auth;
        }
        if (rid) {
                snprintf(rh, sizeof(rh), "X-Request-Id: %s", rid);
                hdrs[n++] = rh;
        }
        assert_int_equal(http_raw(srv.url, "POST", "/v1/jobs", hdrs, body, strlen(body), &r), 0);
        if (r.status != 201)
                print_error("enqueue %s: %d %s\n", body, r.status, r.body);
        assert_int_equal(r.status, 201);
        snprintf(id, 24, "%s", jpath_str(r.json, "job.id"));
        if (created)
                snprintf(created, 40, "%s", jpath_str(r.json, "job.created_at"));
        http_res_free(&r);
}

/* GET path as key: asserts 200 and returns the page's ids joined by commas
 * into out (cap 512), its next cursor into next (cap 24, "" for null). */
static void page(const char *key, const char *path, char *out, char *next)
{
        struct http_res r;
        json_t *jobs, *v;
        size_t i;

        harness_expect(srv.url, key, "GET", path, NULL, 200, &r);
        out[0] = 0;
        jobs = jpath(r.json, "jobs");
        assert_non_null(jobs);
        json_array_foreach(jobs, i, v)
        {
                size_t n = strlen(out);
                snprintf(out + n, 512 - n, "%s%s", n ? "," : "", jpath_str(v, "id"));
        }
        snprintf(next, 24, "%s", jpath_str(r.json, "next") ? jpath_str(r.json, "next") : "");
        http_res_free(&r);
}

/* Asserts that GET path as key lists exactly want (ids joined by commas) on
 * one page. */
static void expect_ids(const char *key, const char *path, const char *want)
{
        char got[512], next[24];

        page(key, path, got, next);
        if (strcmp(got, want) != 0)
                print_error("%s: want [%s], got [%s]\n", path, want, got);
        assert_string_equal(got, want);
        assert_string_equal(next, "");
}

/* "a,b,c" from up to four ids (NULL ends the list). */
static const char *ids(char *buf, const char *a, const char *b, const char *c, const char *d)
{
        const char *v[] = {a, b, c, d};

        buf[0] = 0;
        for (int i = 0; i < 4 && v[i]; i++)
                snprintf(buf + strlen(buf), 256 - strlen(buf), "%s%s", i ? "," : "", v[i]);
        return buf;
}

/* The state of job id, read as the admin of tenant default (key NULL) or as
 * key. */
static void expect_state(const char *key, const char *id, const char *state)
{
        char path[64];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        harness_expect(srv.url, key, "GET", path, NULL, 200, &r);
        if (strcmp(jpath_str(r.json, "job.state"), state) != 0)
                print_error("job %s: want %s, got %s\n", id, state, jpath_str(r.json, "job.state"));
        assert_string_equal(jpath_str(r.json, "job.state"), state);
        http_res_free(&r);
}

/* Claims one job of queue q as worker w (key NULL: admin); the lease into
 * lease (cap 128) and the id into id (cap 24). */
static void claim(const char *key, const char *q, const char *w, char *id, char *lease)
{
        char path[128], body[128];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        snprintf(body, sizeof(body), "{\"worker\":\"%s\"}", w);
        harness_expect(srv.url, key, "POST", path, body, 200, &r);
        assert_non_null(jpath_str(r.json, "jobs[0].id"));
        snprintf(id, 24, "%s", jpath_str(r.json, "jobs[0].id"));
        snprintf(lease, 128, "%s", jpath_str(r.json, "jobs[0].lease"));
        http_res_free(&r);
}

/* Settles job id: complete, or fail (retryable or not). finished (cap 40,
 * may be NULL) gets finished_at. */
static void settle(const char *key, const char *id, const char *lease, const char *how,
                   char *finished)
{
        char path[128], body[256];
        struct http_res r;
        bool complete = strcmp(how, "complete") == 0;

        snprintf(path, sizeof(path), "/v1/jobs/%s/%s", id, complete ? "complete" : "fail");
        snprintf(body, sizeof(body),
                 complete ? "{\"lease\":\"%s\",\"result\":1}"
                          : "{\"lease\":\"%s\",\"error\":\"x\",\"retryable\":%s}",
                 lease, strcmp(how, "retry") == 0 ? "true" : "false");
        harness_expect(srv.url, key, "POST", path, body, 200, &r);
        if (finished)
                snprintf(finished, 40, "%s", jpath_str(r.json, "job.finished_at"));
        http_res_free(&r);
}

/* ---- GET /v1/jobs ---- */

static void every_filter_alone_and_combined(void **state)
{
        char key[128], j1[24], j2[24], j3[24], j4[24], lease[128], got[24], b[256];
        char c3[40], f3[40], path[256];

        (void)state;
        harness_make_key(&srv, "find-a", "[\"jobs:read\",\"jobs:write\",\"work\"]", NULL, key,
                         NULL);
        enq(key, "r-find-1",
            "{\"queue\":\"qa\",\"type\":\"ta\",\"group\":\"g1\",\"key\":\"settle:match-9\","
            "\"idempotency_key\":\"i-1\",\"execution_id\":\"e-1\"}",
            j1, NULL);
        enq(key, NULL, "{\"queue\":\"qb\",\"type\":\"tb\",\"key\":\"k-2\"}", j2, NULL);
        harness_sleep_ms(20);
        enq(key, NULL, "{\"queue\":\"qc\",\"type\":\"tb\",\"group\":\"g1\"}", j3, c3);
        claim(key, "qc", "w-1", got, lease);
        assert_string_equal(got, j3);
        settle(key, j3, lease, "complete", f3);
        enq(key, NULL, "{\"queue\":\"qa\",\"type\":\"ta\",\"delay_ms\":60000}", j4, NULL);

        expect_ids(key, "/v1/jobs", ids(b, j1, j2, j3, j4));
        expect_ids(key, "/v1/jobs?queue=qa", ids(b, j1, j4, NULL, NULL));
        expect_ids(key, "/v1/jobs?state=completed", j3);
        expect_ids(key, "/v1/jobs?state=queued,scheduled", ids(b, j1, j2, j4, NULL));
        expect_ids(key, "/v1/jobs?state=scheduled,queued&order=desc", ids(b, j4, j2, j1, NULL));
        expect_ids(key, "/v1/jobs?type=tb", ids(b, j2, j3, NULL, NULL));
        expect_ids(key, "/v1/jobs?group=g1", ids(b, j1, j3, NULL, NULL));
        expect_ids(key, "/v1/jobs?key=settle:match-9", j1);
        expect_ids(key, "/v1/jobs?idempotency_key=i-1", j1);
        expect_ids(key, "/v1/jobs?request_id=r-find-1", j1);
        expect_ids(key, "/v1/jobs?execution_id=e-1", j1);
        expect_ids(key, "/v1/jobs?worker=w-1", j3);
        snprintf(path, sizeof(path), "/v1/jobs?created_after=%s", c3);
        expect_ids(key, path, ids(b, j3, j4, NULL, NULL));
        snprintf(path, sizeof(path), "/v1/jobs?created_before=%s", c3);
        expect_ids(key, path, ids(b, j1, j2, NULL, NULL));
        snprintf(path, sizeof(path), "/v1/jobs?finished_after=%s", f3);
        expect_ids(key, path, j3);
        snprintf(path, sizeof(path), "/v1/jobs?finished_before=%s", f3);
        expect_ids(key, path, "");
        expect_ids(key, "/v1/jobs?order=desc", ids(b, j4, j3, j2, j1));
        expect_ids(key, "/v1/jobs?order=asc", ids(b, j1, j2, j3, j4));
        /* Combined: every filter must hold. */
        expect_ids(key, "/v1/jobs?queue=qa&type=ta&state=scheduled", j4);
        expect_ids(key, "/v1/jobs?group=g1&state=completed&worker=w-1&type=tb", j3);
        expect_ids(key, "/v1/jobs?key=settle:match-9&queue=qb", "");
        expect_ids(key, "/v1/jobs?type=tb&state=queued", j2);
        snprintf(path, sizeof(path), "/v1/jobs?group=g1&created_before=%s&order=desc", c3);
        expect_ids(key, path, j1);
        snprintf(path, sizeof(path),
                 "/v1/jobs?queue=qc&type=tb&group=g1&worker=w-1&state=completed,dead"
                 "&created_after=%s&finished_after=%s&order=desc",
                 c3, f3);
        expect_ids(key, path, j3);
        expect_ids(key,
                   "/v1/jobs?queue=qa&type=ta&group=g1&key=settle:match-9&idempotency_key=i-1"
                   "&request_id=r-find-1&execution_id=e-1&state=queued",
                   j1);
}

/* Pages of limit 2 over seven jobs, both orders, with a state list whose
 * states interleave (one store read per state, merged). */
static void desc_cursor_over_pages(void **state)
{
        char key[128], id[7][24], got[512], next[24], path[128], b[256];

        (void)state;
        harness_make_key(&srv, "find-b", "[\"jobs:read\",\"jobs:write\"]", NULL, key, NULL);
        for (int i = 0; i < 7; i++)
                enq(key, NULL, "{\"queue\":\"qd\",\"type\":\"t\"}", id[i], NULL);
        for (int i = 1; i < 7; i += 2) {
                struct http_res r;

                snprintf(path, sizeof(path), "/v1/jobs/%s", id[i]);
                harness_expect(srv.url, key, "DELETE", path, NULL, 200, &r);
                http_res_free(&r);
        }
        page(key, "/v1/jobs?order=desc&limit=3", got, next);
        assert_string_equal(got, ids(b, id[6], id[5], id[4], NULL));
        assert_string_equal(next, id[4]);
        snprintf(path, sizeof(path), "/v1/jobs?order=desc&limit=3&after=%s", next);
        page(key, path, got, next);
        assert_string_equal(got, ids(b, id[3], id[2], id[1], NULL));
        assert_string_equal(next, id[1]);
        snprintf(path, sizeof(path), "/v1/jobs?order=desc&limit=3&after=%s", next);
        page(key, path, got, next);
        assert_string_equal(got, id[0]);
        assert_string_equal(next, "");
        /* Ascending from the middle. */
        snprintf(path, sizeof(path), "/v1/jobs?limit=3&after=%s", id[2]);
        page(key, path, got, next);
        assert_string_equal(got, ids(b, id[3], id[4], id[5], NULL));
        assert_string_equal(next, id[5]);
        /* A state list merged, descending, across pages. */
        page(key, "/v1/jobs?state=queued,cancelled&order=desc&limit=2", got, next);
        assert_string_equal(got, ids(b, id[6], id[5], NULL, NULL));
        snprintf(path, sizeof(path), "/v1/jobs?state=queued,cancelled&order=desc&limit=2&after=%s",
                 next);
        page(key, path, got, next);
        assert_string_equal(got, ids(b, id[4], id[3], NULL, NULL));
        snprintf(path, sizeof(path), "/v1/jobs?state=cancelled,queued&order=desc&limit=4&after=%s",
                 next);
        page(key, path, got, next);
        assert_string_equal(got, ids(b, id[2], id[1], id[0], NULL));
        assert_string_equal(next, "");
        page(key, "/v1/jobs?state=cancelled&order=desc&limit=2", got, next);
        assert_string_equal(got, ids(b, id[5], id[3], NULL, NULL));
        assert_string_equal(next, id[3]);
}

static void tenants_stay_apart(void **state)
{
        char ka[128], kb[128], ja[24], jb[24], got[512], next[24];
        struct http_res r;

        (void)state;
        harness_make_key(&srv, "find-c1", "[\"jobs:read\",\"jobs:write\"]", NULL, ka, NULL);
        harness_make_key(&srv, "find-c2", "[\"jobs:read\",\"jobs:write\"]", NULL, kb, NULL);
        enq(ka, "r-iso", "{\"queue\":\"qi\",\"type\":\"t\",\"key\":\"k-iso\"}", ja, NULL);
        enq(kb, NULL, "{\"queue\":\"qi\",\"type\":\"t\"}", jb, NULL);
        expect_ids(ka, "/v1/jobs?key=k-iso", ja);
        expect_ids(kb, "/v1/jobs?key=k-iso", "");
        expect_ids(kb, "/v1/jobs?request_id=r-iso", "");
        page(kb, "/v1/jobs?queue=qi&order=desc", got, next);
        assert_string_equal(got, jb);
        /* A bulk of the other tenant finds nothing of this one. */
        harness_expect(srv.url, kb, "POST", "/v1/jobs/bulk",
                       "{\"action\":\"cancel\",\"filter\":{\"key\":\"k-iso\"}}", 200, &r);
        assert_int_equal(jpath_int(r.json, "matched"), 0);
        http_res_free(&r);
        harness_expect(srv.url, kb, "POST", "/v1/jobs/bulk",
                       "{\"action\":\"cancel\",\"filter\":{}}", 200, &r);
        assert_int_equal(jpath_int(r.json, "matched"), 1);
        http_res_free(&r);
        expect_state(ka, ja, "queued");
        expect_state(kb, jb, "cancelled");
}

static void list_refusals(void **state)
{
        struct {
                const char *query, *code, *field, *says;
        } bad[] = {
            {"state=bogus", "invalid_field", "state", "pending, scheduled, queued"},
            {"state=queued,,dead", "invalid_field", "state", "retrying"},
            {"created_after=yesterday", "invalid_time", "created_after", "RFC 3339"},
            {"created_before=2026-13-01T00:00:00Z", "invalid_time", "created_before", NULL},
            {"finished_after=1700000000", "invalid_time", "finished_after", NULL},
            {"finished_before=x", "invalid_time", "finished_before", NULL},
            {"order=up", "invalid_field", "order", "asc or desc"},
            {"queue=bad%20name", "name_invalid", "queue", NULL},
            {"sate=dead", "unknown_parameter", "sate", NULL},
            {"after=x", "invalid_cursor", "after", NULL},
        };
        char path[128];

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct http_res r;

                snprintf(path, sizeof(path), "/v1/jobs?%s", bad[i].query);
                http_json(srv.url, "GET", path, NULL, &r);
                assert_http_error(&r, 400, bad[i].code, bad[i].field);
                if (bad[i].says)
                        assert_contains(http_error_member(&r, "message"), bad[i].says);
                http_res_free(&r);
        }
}

/* ---- POST /v1/jobs/bulk ---- */

/* POST /v1/jobs/bulk with body as key; asserts 200 and the counts, and
 * copies next (cap 24, "" for null). */
static void bulk(const char *key, const char *body, int matched, int changed, char *next)
{
        struct http_res r;

        harness_expect(srv.url, key, "POST", "/v1/jobs/bulk", body, 200, &r);
        if (jpath_int(r.json, "matched") != matched || jpath_int(r.json, "changed") != changed)
                print_error("%s: %s\n", body, r.body);
        assert_int_equal(jpath_int(r.json, "matched"), matched);
        assert_int_equal(jpath_int(r.json, "changed"), changed);
        if (next)
                snprintf(next, 24, "%s",
                         jpath_str(r.json, "next") ? jpath_str(r.json, "next") : "");
        http_res_free(&r);
}

/* A job of queue q that ends dead, completed or retrying (claimed as w). */
static void make_settled(const char *key, const char *q, const char *how, char *id)
{
        char body[256], lease[128], got[24];

        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"max_attempts\":2,"
                 "\"backoff\":{\"type\":\"fixed\",\"base_ms\":60000,\"max_ms\":60000}}",
                 q);
        enq(key, NULL, body, id, NULL);
        claim(key, q, "w-bulk", got, lease);
        assert_string_equal(got, id);
        settle(key, id, lease, how, NULL);
}

/* A job of queue q in state kind: "queued", "scheduled", "cancelled", or
 * one settled by make_settled ("dead", "complete", "retry"; those must be
 * made before the queue holds a queued job, which their claim would take). */
static void make_job(const char *key, const char *q, const char *kind, char *id)
{
        char body[256], path[128];
        struct http_res r;

        if (strcmp(kind, "dead") == 0 || strcmp(kind, "complete") == 0 ||
            strcmp(kind, "retry") == 0) {
                make_settled(key, q, kind, id);
                return;
        }
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"%s}", q,
                 strcmp(kind, "scheduled") == 0 ? ",\"delay_ms\":60000" : "");
        enq(key, NULL, body, id, NULL);
        if (strcmp(kind, "cancelled") != 0)
                return;
        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        harness_expect(srv.url, key, "DELETE", path, NULL, 200, &r);
        http_res_free(&r);
}

/* Three jobs of their own queue made as kinds say; the bulk action over the
 * queue matches the three and changes the given number; each job then is in
 * state after[i] ("gone": purged, 404). */
static void act_on_three(const char *key, const char *action, const char *const kinds[3],
                         int changed, const char *const after[3])
{
        char q[64], id[3][24], body[256], path[128], next[24];

        harness_unique(action, q, sizeof(q));
        for (int i = 0; i < 3; i++)
                make_job(key, q, kinds[i], id[i]);
        snprintf(body, sizeof(body), "{\"action\":\"%s\",\"filter\":{\"queue\":\"%s\"}}", action,
                 q);
        bulk(key, body, 3, changed, next);
        assert_string_equal(next, "");
        for (int i = 0; i < 3; i++) {
                struct http_res r;

                if (strcmp(after[i], "gone") != 0) {
                        expect_state(key, id[i], after[i]);
                        continue;
                }
                snprintf(path, sizeof(path), "/v1/jobs/%s", id[i]);
                harness_expect(srv.url, key, "GET", path, NULL, 404, &r);
                http_res_free(&r);
        }
}

/* A dead job whose key a newer pending job holds is not retried (the
 * single-job retry is 409 key_conflict) nor replayed; the bulk goes on with
 * the rest, and the skipped job is not counted into the queue's depth
 * (max_depth 3: the pending job and the retried one, and room for one more). */
static void retry_skips_a_taken_key(const char *key)
{
        char lease[128], got[24], dead[24], pending[24], other[24], path[128], admin[128];
        struct http_res r;

        harness_make_key(&srv, "find-d", "[\"admin\"]", NULL, admin, NULL);
        harness_expect(srv.url, admin, "PATCH", "/v1/queues/q-key", "{\"max_depth\":3}", 200, &r);
        http_res_free(&r);
        enq(key, NULL,
            "{\"queue\":\"q-key\",\"type\":\"t\",\"key\":\"k-taken\",\"max_attempts\":1}", dead,
            NULL);
        claim(key, "q-key", "w-key", got, lease);
        assert_string_equal(got, dead);
        settle(key, dead, lease, "dead", NULL);
        enq(key, NULL, "{\"queue\":\"q-key\",\"type\":\"t\",\"key\":\"k-taken\"}", pending, NULL);
        make_job(key, "q-key", "cancelled", other);
        snprintf(path, sizeof(path), "/v1/jobs/%s/retry", dead);
        harness_expect(srv.url, key, "POST", path, NULL, 409, &r);
        http_res_free(&r);
        bulk(key, "{\"action\":\"retry\",\"filter\":{\"queue\":\"q-key\"}}", 3, 1, NULL);
        expect_state(key, dead, "dead");
        expect_state(key, pending, "queued");
        expect_state(key, other, "queued");
        /* A dead-letter replay of it is skipped the same way, counting
         * nothing into the depth either (it did before: one too many). */
        snprintf(path, sizeof(path), "{\"ids\":[\"%s\"]}", dead);
        harness_expect(srv.url, admin, "POST", "/v1/queues/q-key/dead/replay", path, 200, &r);
        assert_int_equal(json_integer_value(json_object_get(r.json, "replayed")), 0);
        http_res_free(&r);
        expect_state(key, dead, "dead");
        enq(key, NULL, "{\"queue\":\"q-key\",\"type\":\"t\"}", got, NULL);
        http_json_as(srv.url, key, "POST", "/v1/jobs", "{\"queue\":\"q-key\",\"type\":\"t\"}", &r);
        assert_http_error(&r, 503, "queue_full", NULL);
        http_res_free(&r);
}

static void bulk_each_action(void **state)
{
        char key[128];

        (void)state;
        harness_make_key(&srv, "find-d", "[\"jobs:read\",\"jobs:write\",\"work\"]", NULL, key,
                         NULL);
        /* Each action with two jobs it applies to and one it does not. */
        act_on_three(key, "retry", (const char *[]){"dead", "dead", "queued"}, 2,
                     (const char *[]){"queued", "queued", "queued"});
        act_on_three(key, "cancel", (const char *[]){"complete", "queued", "scheduled"}, 2,
                     (const char *[]){"completed", "cancelled", "cancelled"});
        act_on_three(key, "promote", (const char *[]){"retry", "scheduled", "queued"}, 2,
                     (const char *[]){"queued", "queued", "queued"});
        act_on_three(key, "purge", (const char *[]){"complete", "cancelled", "queued"}, 2,
                     (const char *[]){"gone", "gone", "queued"});
        act_on_three(key, "retry", (const char *[]){"complete", "cancelled", "scheduled"}, 1,
                     (const char *[]){"completed", "queued", "scheduled"});
        retry_skips_a_taken_key(key);
}

static void bulk_limit_next_and_audit(void **state)
{
        char key[128], id[5][24], next[24], body[256];
        struct http_res r;
        json_t *e;
        size_t n;

        (void)state;
        harness_make_key(&srv, "find-e", "[\"jobs:read\",\"jobs:write\"]", NULL, key, NULL);
        for (int i = 0; i < 5; i++)
                enq(key, NULL, "{\"queue\":\"q-limit\",\"type\":\"t\"}", id[i], NULL);
        bulk(key, "{\"action\":\"cancel\",\"filter\":{\"queue\":\"q-limit\"},\"limit\":2}", 2, 2,
             next);
        assert_string_equal(next, id[1]);
        expect_state(key, id[2], "queued");
        snprintf(body, sizeof(body),
                 "{\"action\":\"cancel\",\"filter\":{\"queue\":\"q-limit\"},\"limit\":2,"
                 "\"after\":\"%s\"}",
                 next);
        bulk(key, body, 2, 2, next);
        assert_string_equal(next, id[3]);
        snprintf(body, sizeof(body),
                 "{\"action\":\"cancel\",\"filter\":{\"queue\":\"q-limit\"},\"limit\":2,"
                 "\"after\":%s}",
                 next);
        bulk(key, body, 1, 1, next);
        assert_string_equal(next, "");
        for (int i = 0; i < 5; i++)
                expect_state(key, id[i], "cancelled");
        /* Descending, newest first: the cursor gives the older ones. */
        bulk(key,
             "{\"action\":\"purge\",\"filter\":{\"queue\":\"q-limit\",\"order\":\"desc\"},"
             "\"limit\":3}",
             3, 3, next);
        assert_string_equal(next, id[2]);
        expect_ids(key, "/v1/jobs?queue=q-limit", ids(body, id[0], id[1], NULL, NULL));

        /* The audit rows (tenant find-e, read by the root admin). */
        harness_expect(srv.url, NULL, "GET", "/v1/audit?action=jobs.bulk&tenant=find-e", NULL, 200,
                       &r);
        e = jpath(r.json, "entries");
        n = json_array_size(e);
        assert_int_equal(n, 4);
        assert_string_equal(jpath_str(json_array_get(e, 0), "target"), "cancel");
        assert_string_equal(jpath_str(json_array_get(e, 0), "detail.filter.queue"), "q-limit");
        assert_int_equal(jpath_int(json_array_get(e, 0), "detail.matched"), 2);
        assert_int_equal(jpath_int(json_array_get(e, 0), "detail.changed"), 2);
        assert_string_equal(jpath_str(json_array_get(e, 3), "detail.action"), "purge");
        assert_string_equal(jpath_str(json_array_get(e, 3), "detail.filter.order"), "desc");
        http_res_free(&r);
}

static void bulk_refusals_change_nothing(void **state)
{
        struct {
                const char *body, *code, *field;
                int status;
        } bad[] = {
            {"{\"action\":\"cancel\",\"filter\":{},\"limit\":1001}", "bulk_limit_exceeded", "limit",
             400},
            {"{\"action\":\"cancel\",\"filter\":{},\"limit\":0}", "bulk_limit_exceeded", "limit",
             400},
            {"{\"action\":\"zap\",\"filter\":{}}", "invalid_field", "action", 400},
            {"{\"filter\":{}}", "missing_field", "action", 400},
            {"{\"action\":\"cancel\"}", "missing_field", "filter", 400},
            {"{\"action\":\"cancel\",\"filter\":[]}", "invalid_field", "filter", 400},
            {"{\"action\":\"cancel\",\"filter\":{\"sate\":\"queued\"}}", "unknown_field",
             "filter.sate", 400},
            {"{\"action\":\"cancel\",\"filter\":{},\"force\":true}", "unknown_field", "force", 400},
            {"{\"action\":\"cancel\",\"filter\":{\"state\":\"queued,bogus\"}}", "invalid_field",
             "filter.state", 400},
            {"{\"action\":\"cancel\",\"filter\":{\"state\":[\"queued\",7]}}", "invalid_field",
             "filter.state", 400},
            {"{\"action\":\"cancel\",\"filter\":{\"created_after\":\"soon\"}}", "invalid_time",
             "filter.created_after", 400},
            {"{\"action\":\"cancel\",\"filter\":{\"order\":\"sideways\"}}", "invalid_field",
             "filter.order", 400},
            {"{\"action\":\"cancel\",\"filter\":{\"queue\":7}}", "invalid_field", "filter.queue",
             400},
            {"{\"action\":\"cancel\",\"filter\":{},\"after\":\"x\"}", "invalid_cursor", "after",
             400},
        };
        char key[128], ro[128], a[24], b[24];
        struct http_res r;

        (void)state;
        harness_make_key(&srv, "find-f", "[\"jobs:read\",\"jobs:write\"]", NULL, key, NULL);
        harness_make_key(&srv, "find-f", "[\"jobs:read\"]", NULL, ro, NULL);
        enq(key, NULL, "{\"queue\":\"q-refuse\",\"type\":\"t\"}", a, NULL);
        enq(key, NULL, "{\"queue\":\"q-refuse\",\"type\":\"t\",\"delay_ms\":60000}", b, NULL);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                http_json_as(srv.url, key, "POST", "/v1/jobs/bulk", bad[i].body, &r);
                assert_http_error(&r, bad[i].status, bad[i].code, bad[i].field);
                http_res_free(&r);
        }
        /* The scope is jobs:write. */
        http_json_as(srv.url, ro, "POST", "/v1/jobs/bulk", "{\"action\":\"cancel\",\"filter\":{}}",
                     &r);
        assert_http_error(&r, 403, "forbidden", NULL);
        http_res_free(&r);
        expect_state(key, a, "queued");
        expect_state(key, b, "scheduled");
        /* The refusals were audited, and no success was. */
        harness_expect(srv.url, NULL, "GET", "/v1/audit?action=jobs.bulk&tenant=find-f", NULL, 200,
                       &r);
        assert_true(json_array_size(jpath(r.json, "entries")) >= 1);
        for (size_t i = 0; i < json_array_size(jpath(r.json, "entries")); i++)
                assert_true(jpath_int(json_array_get(jpath(r.json, "entries"), i), "status") >=
                            400);
        http_res_free(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(every_filter_alone_and_combined),
            cmocka_unit_test(desc_cursor_over_pages),
            cmocka_unit_test(tenants_stay_apart),
            cmocka_unit_test(list_refusals),
            cmocka_unit_test(bulk_each_action),
            cmocka_unit_test(bulk_limit_next_and_audit),
            cmocka_unit_test(bulk_refusals_change_nothing),
        };

        harness_group(&srv, NULL, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
