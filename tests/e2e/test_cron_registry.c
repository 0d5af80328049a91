/*
 * test_cron_registry.c: the cron registry and the scheduler heartbeat against
 * a real batond (--cron-min-interval-ms 1000): PUT /v1/cron creates, updates,
 * leaves unchanged and (with prune) deletes in one transaction; an invalid
 * entry refuses the whole document naming schedules[i].field and changes
 * nothing; the apply is audited and needs cron:write; GET /v1/scheduler
 * reports the heartbeat; /metrics has the cron series; batond --cron-file
 * applies a document at start and refuses to start (exit 2) on a bad one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/harness.h"

static struct harness srv;

static void req(const char *method, const char *path, const char *body, int status,
                struct http_res *res)
{
        harness_expect(srv.url, NULL, method, path, body, status, res);
}

#define JOB "\"job\":{\"queue\":\"rq\",\"type\":\"t\"}"

/* The keys of answer member name, joined with ",". */
static void keys_of(const json_t *ans, const char *name, char *out, size_t cap)
{
        json_t *v = json_object_get(ans, name), *it;
        size_t i;

        out[0] = '\0';
        assert_true(json_is_array(v));
        json_array_foreach(v, i, it)
        {
                size_t len = strlen(out);
                snprintf(out + len, cap - len, "%s%s", i ? "," : "", json_string_value(it));
        }
}

static void assert_keys(const json_t *ans, const char *name, const char *want)
{
        char got[256];

        keys_of(ans, name, got, sizeof(got));
        assert_string_equal(got, want);
}

static void test_apply_create_update_prune(void **state)
{
        struct http_res r;

        (void)state;
        req("PUT", "/v1/cron/old", "{\"cron\":\"0 * * * *\"," JOB "}", 201, &r);
        http_res_free(&r);
        req("PUT", "/v1/cron",
            "{\"schedules\":[{\"key\":\"a\",\"cron\":\"0 9 * * *\"," JOB "},"
            "{\"key\":\"b\",\"cron\":\"*/2 * * * * *\",\"timezone\":\"Europe/London\"," JOB "}]}",
            200, &r);
        assert_keys(r.json, "created", "a,b");
        assert_keys(r.json, "updated", "");
        assert_keys(r.json, "unchanged", "");
        assert_keys(r.json, "deleted", "");
        http_res_free(&r);
        /* Same document, b changed, prune: old goes. */
        req("PUT", "/v1/cron",
            "{\"prune\":true,\"schedules\":[{\"key\":\"a\",\"cron\":\"0 9 * * *\"," JOB "},"
            "{\"key\":\"b\",\"cron\":\"*/3 * * * * *\",\"timezone\":\"Europe/London\"," JOB "}]}",
            200, &r);
        assert_keys(r.json, "created", "");
        assert_keys(r.json, "updated", "b");
        assert_keys(r.json, "unchanged", "a");
        assert_keys(r.json, "deleted", "old");
        http_res_free(&r);
        req("GET", "/v1/cron/old", NULL, 404, &r);
        http_res_free(&r);
        req("GET", "/v1/cron/b", NULL, 200, &r);
        assert_string_equal(jpath_str(r.json, "schedule.cron"), "*/3 * * * * *");
        http_res_free(&r);
        /* The apply is audited. */
        req("GET", "/v1/audit?action=cron.apply", NULL, 200, &r);
        assert_true(strstr(r.body, "cron.apply") != NULL);
        http_res_free(&r);
}

static void test_apply_invalid_changes_nothing(void **state)
{
        struct http_res r;

        (void)state;
        /* The second entry is invalid: the first is not created either. */
        req("PUT", "/v1/cron",
            "{\"prune\":true,\"schedules\":[{\"key\":\"fresh\",\"cron\":\"0 9 * * *\"," JOB "},"
            "{\"key\":\"broken\",\"cron\":\"0 0 30 2 *\"," JOB "}]}",
            400, &r);
        assert_http_error(&r, 400, "cron_never_fires", "schedules[1].cron");
        http_res_free(&r);
        req("GET", "/v1/cron/fresh", NULL, 404, &r);
        http_res_free(&r);
        req("GET", "/v1/cron/a", NULL, 200, &r); /* prune did not run */
        http_res_free(&r);
        req("PUT", "/v1/cron", "{\"schedules\":[{\"key\":\"x\",\"cron\":\"0 9 * * *\"}]}", 400, &r);
        assert_http_error(&r, 400, "missing_field", "schedules[0].job");
        http_res_free(&r);
        req("PUT", "/v1/cron", "{\"schedules\":[{\"cron\":\"0 9 * * *\"," JOB "}]}", 400, &r);
        assert_http_error(&r, 400, "missing_field", "schedules[0].key");
        http_res_free(&r);
        req("PUT", "/v1/cron",
            "{\"schedules\":[{\"key\":\"d\",\"cron\":\"0 9 * * *\"," JOB "},"
            "{\"key\":\"d\",\"cron\":\"0 9 * * *\"," JOB "}]}",
            400, &r);
        assert_http_error(&r, 400, "duplicate_key", "schedules[1].key");
        http_res_free(&r);
        req("PUT", "/v1/cron",
            "{\"schedules\":[{\"key\":\"f\",\"cron\":\"* * * * * *\",\"timezone\":\"UTC\"," JOB
            "},{\"key\":\"g\",\"cron\":\"*/1 * * * * *\",\"overlap\":\"sometimes\"," JOB "}]}",
            400, &r);
        assert_http_error(&r, 400, "invalid_field", "schedules[1].overlap");
        http_res_free(&r);
        req("PUT", "/v1/cron", "{\"schedules\":{}}", 400, &r);
        assert_http_error(&r, 400, "invalid_field", "schedules");
        http_res_free(&r);
        req("PUT", "/v1/cron", "{\"schedules\":[],\"prune\":\"yes\"}", 400, &r);
        assert_http_error(&r, 400, "invalid_field", "prune");
        http_res_free(&r);
}

static void test_apply_needs_cron_write(void **state)
{
        char token[128];
        struct http_res r;

        (void)state;
        harness_make_key(&srv, NULL, "[\"cron:read\"]", NULL, token, NULL);
        assert_int_equal(http_json_as(srv.url, token, "PUT", "/v1/cron", "{\"schedules\":[]}", &r),
                         0);
        assert_int_equal(r.status, 403);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, token, "GET", "/v1/scheduler", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
}

/* next_due_at is the caller's own: tenant t-sa's schedule fires every
 * second, t-sb's once a year, t-sc has none; each sees only its own, and only
 * the root admin sees the duty timer's next_deadline_at (every tenant's). */
static void test_scheduler_per_tenant(void **state)
{
        char a[128], b[128], cc[128];
        struct http_res r;
        int64_t now = harness_wall_ms(), due_a, due_b;

        (void)state;
        harness_make_key(&srv, "t-sa", "[\"cron:read\", \"cron:write\"]", NULL, a, NULL);
        harness_make_key(&srv, "t-sb", "[\"cron:read\", \"cron:write\"]", NULL, b, NULL);
        harness_make_key(&srv, "t-sc", "[\"cron:read\"]", NULL, cc, NULL);
        assert_int_equal(http_json_as(srv.url, a, "PUT", "/v1/cron/fast",
                                      "{\"cron\":\"* * * * * *\"," JOB "}", &r),
                         0);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, b, "PUT", "/v1/cron/yearly",
                                      "{\"cron\":\"@yearly\"," JOB "}", &r),
                         0);
        assert_int_equal(r.status, 201);
        http_res_free(&r);

        assert_int_equal(http_json_as(srv.url, a, "GET", "/v1/scheduler", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        due_a = harness_parse_time(jpath_str(r.json, "next_due_at"));
        assert_true(due_a > 0 && due_a < now + 60000);
        assert_null(jpath_str(r.json, "next_deadline_at"));
        assert_int_equal(jpath_int(r.json, "schedules"), 1);
        http_res_free(&r);

        assert_int_equal(http_json_as(srv.url, b, "GET", "/v1/scheduler", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        due_b = harness_parse_time(jpath_str(r.json, "next_due_at"));
        /* The first instant of next year, not t-sa's next second. */
        if (due_b < now + 60000)
                fprintf(stderr, "t-sb sees next_due_at %s\n", jpath_str(r.json, "next_due_at"));
        assert_true(due_b > now + 60000);
        assert_non_null(strstr(jpath_str(r.json, "next_due_at"), "-01-01T00:00:00.000Z"));
        assert_null(jpath_str(r.json, "next_deadline_at"));
        assert_int_equal(jpath_int(r.json, "schedules"), 1);
        http_res_free(&r);

        assert_int_equal(http_json_as(srv.url, cc, "GET", "/v1/scheduler", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_true(json_is_null(jpath(r.json, "next_due_at")));
        assert_int_equal(jpath_int(r.json, "schedules"), 0);
        http_res_free(&r);

        /* Clean up so that the shared server's other tests see no extra
         * ticks. */
        assert_int_equal(http_json_as(srv.url, a, "DELETE", "/v1/cron/fast", NULL, &r), 0);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, b, "DELETE", "/v1/cron/yearly", NULL, &r), 0);
        http_res_free(&r);
}

static void test_scheduler_and_metrics(void **state)
{
        struct http_res r;

        (void)state;
        req("PUT", "/v1/cron/every-second",
            "{\"cron\":\"* * * * * *\",\"overlap\":\"skip\"," JOB "}", 201, &r);
        http_res_free(&r);
        harness_sleep_ms(2500);
        req("GET", "/v1/scheduler", NULL, 200, &r);
        assert_non_null(jpath_str(r.json, "node"));
        assert_string_equal(jpath_str(r.json, "node"), jpath_str(r.json, "leader"));
        assert_string_equal(jpath_str(r.json, "role"), "leader");
        assert_int_equal(jpath_int(r.json, "epoch"), 1);
        assert_non_null(jpath_str(r.json, "last_tick_at"));
        assert_true(harness_parse_time(jpath_str(r.json, "last_tick_at")) > 0);
        assert_true(jpath_int(r.json, "tick_lag_ms") >= 0);
        assert_non_null(jpath_str(r.json, "next_deadline_at"));
        assert_true(jpath_int(r.json, "schedules") >= 1);
        assert_true(jpath_int(r.json, "due") >= 0);
        /* The names the issue and docs/api.md give: the heartbeat, its lag
         * and the next due schedule. */
        assert_true(harness_parse_time(jpath_str(r.json, "heartbeat_at")) > 0);
        assert_true(jpath_int(r.json, "lag_ms") >= 0);
        assert_true(harness_parse_time(jpath_str(r.json, "next_due_at")) > 0);
        assert_true(jpath_int(r.json, "skipped.overlap") >= 1);
        assert_int_equal(jpath_int(r.json, "skipped.misfire"), 0);
        http_res_free(&r);
        req("GET", "/metrics", NULL, 200, &r);
        {
                /* The lateness histogram holds the ticks that fired on time. */
                const char *c = strstr(r.body, "baton_cron_tick_lateness_seconds_count ");
                assert_non_null(c);
                assert_true(atoll(c + strlen("baton_cron_tick_lateness_seconds_count ")) >= 1);
        }
        assert_non_null(strstr(r.body, "baton_cron_fires_total{outcome=\"fired\"}"));
        assert_non_null(strstr(r.body, "baton_cron_fires_total{outcome=\"skipped\"}"));
        assert_non_null(strstr(r.body, "baton_cron_fires_total{outcome=\"misfire\"}"));
        /* One fired, then skipped (nobody runs the job; overlap skip). */
        assert_null(strstr(r.body, "baton_cron_fires_total{outcome=\"fired\"} 0\n"));
        assert_null(strstr(r.body, "baton_cron_fires_total{outcome=\"skipped\"} 0\n"));
        http_res_free(&r);
}

/* docs/cron.md's worked example (seed 004): the registry in the first json
 * block after its heading applies as the page says (12 created, then 12
 * unchanged), and its DST claims hold in preview. */
static void test_docs_worked_example(void **state)
{
        char *doc = harness_read_doc("docs/cron.md");
        char *registry = harness_doc_block(doc, "### Worked example", "json", "docs/cron.md");
        struct http_res r;

        (void)state;
        req("PUT", "/v1/cron", registry, 200, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "created")), 12);
        http_res_free(&r);
        req("PUT", "/v1/cron", registry, 200, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "unchanged")), 12);
        assert_int_equal(json_array_size(json_object_get(r.json, "created")), 0);
        http_res_free(&r);
        free(registry);
        free(doc);
        /* picks-processing goes from 00:55 GMT straight to 02:00 BST. */
        req("POST", "/v1/cron/preview",
            "{\"cron\":\"*/5 0-4,18-23 * * *\",\"timezone\":\"Europe/London\","
            "\"from\":\"2026-03-29T00:50:00Z\",\"count\":3}",
            200, &r);
        assert_string_equal(jpath_str(r.json, "fires[0]"), "2026-03-29T00:55:00.000Z");
        assert_string_equal(jpath_str(r.json, "fires[1]"), "2026-03-29T01:00:00.000Z");
        assert_string_equal(jpath_str(r.json, "fires[2]"), "2026-03-29T01:05:00.000Z");
        http_res_free(&r);
        /* points-race-update keeps 06:20 local: 05:20Z in BST. */
        req("POST", "/v1/cron/preview",
            "{\"cron\":\"20 6,8,10 * * *\",\"timezone\":\"Europe/London\","
            "\"from\":\"2026-03-29T00:00:00Z\",\"count\":1}",
            200, &r);
        assert_string_equal(jpath_str(r.json, "fires[0]"), "2026-03-29T05:20:00.000Z");
        http_res_free(&r);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_cron_file_at_start(void **state)
{
        struct harness h;
        char path[400], dir[400], *args[4];
        /* A bad --cron-file on a fresh data dir: batond must exit by itself
         * within 10 s. */
        const char *const bad_args[] = {"--listen", "127.0.0.1:0", "--data", dir, "--cron-file",
                                        path,       "--log-level", "error",  NULL};
        struct harness_run bad = {.args = bad_args, .timeout_ms = 10000};
        struct http_res r;
        int status;

        (void)state;
        snprintf(path, sizeof(path), "%s/bad-cron.json", srv.root);
        snprintf(dir, sizeof(dir), "%s/bad-data", srv.root);
        write_file(path, "{\"schedules\":[{\"key\":\"x\",\"cron\":\"0 0 30 2 *\"," JOB "}]}");
        harness_run(&bad);
        status = bad.status;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        write_file(path, "{\"schedules\": [");
        harness_run(&bad);
        status = bad.status;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        /* A valid file over --max-cron-schedules (here from its variable)
         * is refused too. */
        write_file(path, "{\"schedules\":[{\"key\":\"c1\",\"cron\":\"@daily\"," JOB "},"
                         "{\"key\":\"c2\",\"cron\":\"@daily\"," JOB "}]}");
        assert_int_equal(setenv("BATON_MAX_CRON_SCHEDULES", "1", 1), 0);
        harness_run(&bad);
        status = bad.status;
        assert_int_equal(unsetenv("BATON_MAX_CRON_SCHEDULES"), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        harness_run_free(&bad);

        snprintf(path, sizeof(path), "%s/good-cron.json", srv.root);
        write_file(path, "{\"schedules\":[{\"key\":\"from-file\",\"cron\":\"0 6 * * *\","
                         "\"timezone\":\"Europe/Berlin\"," JOB "}]}");
        args[0] = "--cron-file";
        args[1] = path;
        args[2] = NULL;
        assert_int_equal(harness_start(&h, (const char *const *)args), 0);
        assert_int_equal(http_json(h.url, "GET", "/v1/cron/from-file", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "schedule.timezone"), "Europe/Berlin");
        http_res_free(&r);
        /* A restart applies it again: unchanged. */
        assert_int_equal(harness_shutdown(&h), 0);
        assert_int_equal(harness_restart(&h), 0);
        assert_int_equal(http_json(h.url, "GET", "/v1/cron/from-file", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(jpath_int(r.json, "schedule.version"), 1);
        http_res_free(&r);
        assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
        static const char *const args[] = {"--cron-min-interval-ms", "1000", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_apply_create_update_prune),
            cmocka_unit_test(test_apply_invalid_changes_nothing),
            cmocka_unit_test(test_apply_needs_cron_write),
            cmocka_unit_test(test_scheduler_per_tenant),
            cmocka_unit_test(test_scheduler_and_metrics),
            cmocka_unit_test(test_docs_worked_example),
            cmocka_unit_test(test_cron_file_at_start),
        };

        harness_group(&srv, args, NULL);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
