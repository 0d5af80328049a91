/*
 * test_stats.c: end-to-end tests of the stats series (docs/api.md "Stats")
 * against a real batond with --stats-sample-ms 1000: every counter counts
 * what happened to a queue's jobs (enqueued, started, completed, retried,
 * dead, failed, cancelled, expired); the gauges show the sampled depth and
 * running jobs, null before the first sample; the tenant-wide series sums
 * the queues and shows no other tenant's jobs; steps are aligned and the
 * window bounded; bad parameters and a key without jobs:read are refused;
 * the counts survive kill -9. On PostgreSQL (the _pg run) the counts two
 * nodes make add up in one series.
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

#define MINUTE_MS 60000

static struct harness srv;
static struct baton_client *cl;

/* Enqueues a job on queue q through url with max_attempts; its id in id (cap 24). */
static void enqueue(const char *url, const char *key, const char *q, int max_attempts, char *id)
{
        struct http_res r;
        char body[256];

        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":{},\"max_attempts\":%d}", q,
                 max_attempts);
        harness_expect(url, key, "POST", "/v1/jobs", body, 201, &r);
        if (id)
                snprintf(id, 24, "%s", jpath_str(r.json, "job.id"));
        http_res_free(&r);
}

/* Claims one job of q; its id and lease token into id (24) and lease (64). */
static void claim_one(const char *q, char *id, char *lease)
{
        struct http_res r;
        char path[160];

        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        harness_expect(srv.url, NULL, "POST", path, "{\"worker\":\"w\",\"max\":1}", 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "jobs")), 1);
        snprintf(id, 24, "%s", jpath_str(r.json, "jobs[0].id"));
        snprintf(lease, 64, "%s", jpath_str(r.json, "jobs[0].lease"));
        http_res_free(&r);
}

static void settle(const char *id, const char *lease, const char *how, const char *extra)
{
        struct http_res r;
        char path[96], body[256];

        snprintf(path, sizeof(path), "/v1/jobs/%s/%s", id, how);
        snprintf(body, sizeof(body), "{\"lease\":\"%s\"%s}", lease, extra);
        harness_expect(srv.url, NULL, "POST", path, body, 200, &r);
        http_res_free(&r);
}

/* GET /v1/stats?<query> as key (NULL: admin) on url; must answer 200. */
static void stats(const char *url, const char *key, const char *query, struct http_res *r)
{
        char path[512];

        snprintf(path, sizeof(path), "/v1/stats%s%s", query[0] ? "?" : "", query);
        harness_expect(url, key, "GET", path, NULL, 200, r);
}

/* The sum of counter name over every point of the answer. */
static int64_t total(const struct http_res *r, const char *name)
{
        json_t *points = jpath(r->json, "stats.points");
        int64_t sum = 0;
        size_t i;
        json_t *p;

        assert_non_null(points);
        json_array_foreach(points, i, p)
        {
                json_t *v = json_object_get(p, name);

                assert_true(json_is_integer(v));
                sum += json_integer_value(v);
        }
        return sum;
}

/* The last point's gauge name: its value, or -1 when it is null. */
static int64_t last_gauge(const struct http_res *r, const char *name)
{
        json_t *points = jpath(r->json, "stats.points");
        json_t *v = json_object_get(json_array_get(points, json_array_size(points) - 1), name);

        assert_non_null(v);
        return json_is_null(v) ? -1 : json_integer_value(v);
}

/* Polls until the last point's depth of queue q is want (the leader samples
 * every second), at most 10 s. */
static void wait_depth(const char *q, int64_t want)
{
        char query[160];
        int64_t got = -2;

        snprintf(query, sizeof(query), "queue=%s&window_ms=120000", q);
        for (int i = 0; i < 100 && got != want; i++) {
                struct http_res r;

                stats(srv.url, NULL, query, &r);
                got = last_gauge(&r, "depth");
                http_res_free(&r);
                if (got != want)
                        harness_sleep_ms(100);
        }
        assert_int_equal(got, want);
}

static void counters_count_what_happened(void **state)
{
        char q[64], query[160], id[24], lease[64], ids[5][24];
        struct http_res r;

        (void)state;
        harness_unique("st", q, sizeof(q));
        for (int i = 0; i < 5; i++)
                enqueue(srv.url, NULL, q, 2, ids[i]);
        claim_one(q, id, lease);
        settle(id, lease, "complete", "");
        claim_one(q, id, lease);
        settle(id, lease, "fail", ",\"error\":\"later\"");
        claim_one(q, id, lease);
        settle(id, lease, "fail", ",\"error\":\"never\",\"retryable\":false");
        {
                char path[64];

                snprintf(path, sizeof(path), "/v1/jobs/%s", ids[4]);
                harness_expect(srv.url, NULL, "DELETE", path, NULL, 200, &r);
                http_res_free(&r);
        }
        /* Two minutes: the counts land in the current one, which may have
         * just begun. */
        snprintf(query, sizeof(query), "queue=%s&window_ms=120000", q);
        stats(srv.url, NULL, query, &r);
        assert_string_equal(jpath_str(r.json, "stats.queue"), q);
        assert_int_equal(jpath_int(r.json, "stats.step_ms"), MINUTE_MS);
        assert_int_equal(jpath_int(r.json, "stats.window_ms"), 2 * MINUTE_MS);
        assert_int_equal(jpath_int(r.json, "stats.sample_ms"), 1000);
        assert_int_equal(json_array_size(jpath(r.json, "stats.points")), 2);
        assert_int_equal(total(&r, "enqueued"), 5);
        assert_int_equal(total(&r, "started"), 3);
        assert_int_equal(total(&r, "completed"), 1);
        assert_int_equal(total(&r, "retried"), 1);
        assert_int_equal(total(&r, "dead"), 1);
        assert_int_equal(total(&r, "failed"), 2);
        assert_int_equal(total(&r, "cancelled"), 1);
        assert_int_equal(total(&r, "expired"), 0);
        http_res_free(&r);
        /* Not yet ended: one queued, one retrying. */
        wait_depth(q, 2);
}

static void lease_expiry_is_counted(void **state)
{
        char q[64], query[160], id[24];
        struct http_res r;

        (void)state;
        harness_unique("sx", q, sizeof(q));
        enqueue(srv.url, NULL, q, 1, id);
        {
                char path[160];

                snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
                harness_expect(srv.url, NULL, "POST", path,
                               "{\"worker\":\"w\",\"max\":1,\"lease_ms\":200}", 200, &r);
                http_res_free(&r);
        }
        snprintf(query, sizeof(query), "queue=%s&window_ms=120000", q);
        for (int i = 0; i < 50; i++) {
                stats(srv.url, NULL, query, &r);
                if (total(&r, "expired") == 1)
                        break;
                http_res_free(&r);
                harness_sleep_ms(100);
        }
        assert_int_equal(total(&r, "expired"), 1);
        assert_int_equal(total(&r, "dead"), 1);
        http_res_free(&r);
}

static void gauges_and_alignment(void **state)
{
        char q[64], query[160], id[24], lease[64];
        struct http_res r;
        json_t *points;

        (void)state;
        harness_unique("sg", q, sizeof(q));
        for (int i = 0; i < 3; i++)
                enqueue(srv.url, NULL, q, 1, NULL);
        claim_one(q, id, lease);
        wait_depth(q, 3);
        snprintf(query, sizeof(query), "queue=%s&window_ms=120000", q);
        stats(srv.url, NULL, query, &r);
        assert_int_equal(last_gauge(&r, "running"), 1);
        http_res_free(&r);

        /* A day in hours: 24 steps aligned to whole hours, the first long
         * before the server started (no sample: null). */
        snprintf(query, sizeof(query), "queue=%s&window_ms=86400000&step_ms=3600000", q);
        stats(srv.url, NULL, query, &r);
        points = jpath(r.json, "stats.points");
        assert_int_equal(json_array_size(points), 24);
        assert_true(json_is_null(json_object_get(json_array_get(points, 0), "depth")));
        assert_int_equal(last_gauge(&r, "depth"), 3);
        assert_non_null(strstr(jpath_str(r.json, "stats.from"), ":00:00.000Z"));
        assert_non_null(strstr(jpath_str(r.json, "stats.points[23].at"), ":00:00.000Z"));
        assert_int_equal(total(&r, "enqueued"), 3);
        http_res_free(&r);
        settle(id, lease, "complete", "");
}

static void tenant_series_sums_queues(void **state)
{
        char a[64], b[64], token[128];
        struct http_res r;
        int64_t before;

        (void)state;
        stats(srv.url, NULL, "window_ms=120000", &r);
        before = total(&r, "enqueued");
        assert_true(json_is_null(jpath(r.json, "stats.queue")));
        http_res_free(&r);
        harness_unique("sa", a, sizeof(a));
        harness_unique("sb", b, sizeof(b));
        enqueue(srv.url, NULL, a, 1, NULL);
        enqueue(srv.url, NULL, b, 1, NULL);
        enqueue(srv.url, NULL, b, 1, NULL);
        stats(srv.url, NULL, "window_ms=120000", &r);
        assert_int_equal(total(&r, "enqueued"), before + 3);
        http_res_free(&r);

        /* Another tenant sees none of it, and its own enqueue only. */
        harness_make_key(&srv, "stats-other", "[\"jobs:read\",\"jobs:write\"]", NULL, token, NULL);
        stats(srv.url, token, "window_ms=120000", &r);
        assert_int_equal(total(&r, "enqueued"), 0);
        http_res_free(&r);
        enqueue(srv.url, token, a, 1, NULL);
        stats(srv.url, token, "window_ms=120000", &r);
        assert_int_equal(total(&r, "enqueued"), 1);
        http_res_free(&r);
}

static void bad_parameters_refused(void **state)
{
        static const struct {
                const char *query;
                const char *code;
                const char *field;
        } bad[] = {
            {"step_ms=1000", "step_ms_out_of_range", "step_ms"},
            {"step_ms=90000", "step_ms_out_of_range", "step_ms"},
            {"step_ms=172800000", "step_ms_out_of_range", "step_ms"},
            {"step_ms=x", "invalid_field", "step_ms"},
            {"window_ms=0", "window_ms_out_of_range", "window_ms"},
            {"window_ms=90000", "window_ms_out_of_range", "window_ms"},
            {"window_ms=86460000", "window_ms_out_of_range", "window_ms"},
            {"window_ms=691200000&step_ms=3600000", "window_ms_out_of_range", "window_ms"},
            {"queue=a%20b", "name_invalid", "queue"},
            {"since=1", "unknown_parameter", "since"},
        };
        char token[128];
        struct http_res r;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char path[256];

                snprintf(path, sizeof(path), "/v1/stats?%s", bad[i].query);
                assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
                assert_http_error(&r, 400, bad[i].code, bad[i].field);
                http_res_free(&r);
        }
        harness_make_key(&srv, NULL, "[\"work\"]", NULL, token, NULL);
        assert_int_equal(http_json_as(srv.url, token, "GET", "/v1/stats", NULL, &r), 0);
        assert_http_error(&r, 403, "forbidden", NULL);
        http_res_free(&r);
}

static void counts_survive_kill9(void **state)
{
        char q[64], query[160];
        struct http_res r;

        (void)state;
        harness_unique("sk", q, sizeof(q));
        for (int i = 0; i < 4; i++)
                enqueue(srv.url, NULL, q, 1, NULL);
        assert_int_equal(harness_kill9(&srv), 0);
        assert_int_equal(harness_restart(&srv), 0);
        snprintf(query, sizeof(query), "queue=%s&window_ms=120000", q);
        stats(srv.url, NULL, query, &r);
        assert_int_equal(total(&r, "enqueued"), 4);
        http_res_free(&r);
}

static void nodes_add_up(void **state)
{
        struct harness_cluster *fx = *state;
        char q[64], query[160];
        struct http_res r;

        assert_non_null(fx);
        harness_unique("sn", q, sizeof(q));
        enqueue(fx->n[0].url, fx->admin, q, 1, NULL);
        enqueue(fx->n[1].url, fx->admin, q, 1, NULL);
        enqueue(fx->n[1].url, fx->admin, q, 1, NULL);
        snprintf(query, sizeof(query), "queue=%s&window_ms=120000", q);
        for (int i = 0; i < 2; i++) {
                stats(fx->n[i].url, fx->admin, query, &r);
                assert_int_equal(total(&r, "enqueued"), 3);
                http_res_free(&r);
        }
}

static int cluster_up(void **state)
{
        return harness_cluster_up(state, 2, "sn", NULL);
}

int main(void)
{
        static const char *const args[] = {"--stats-sample-ms", "1000", "--lease-min-ms", "100",
                                           NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(counters_count_what_happened),
            cmocka_unit_test(lease_expiry_is_counted),
            cmocka_unit_test(gauges_and_alignment),
            cmocka_unit_test(tenant_series_sums_queues),
            cmocka_unit_test(bad_parameters_refused),
            cmocka_unit_test(counts_survive_kill9),
        };
        const struct CMUnitTest pg_tests[] = {
            cmocka_unit_test_setup_teardown(nodes_add_up, cluster_up, harness_cluster_down),
        };
        const char *store = getenv("BATON_TEST_STORE");
        int rc;

        harness_group(&srv, args, &cl);
        rc = cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
        if (!rc && store && strcmp(store, "postgres") == 0)
                rc = cmocka_run_group_tests(pg_tests, NULL, NULL);
        return rc;
}
