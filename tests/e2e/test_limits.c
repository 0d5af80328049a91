/*
 * test_limits.c: every limit and input error of docs/api.md ("Limits and their
 * errors", "Other 400 codes") against a batond started with small limits, so
 * that each can be hit with a small request. Each case asserts the status, the
 * code and the field of the answer AND that nothing changed: the number of jobs
 * stays the same and the job a refused call names is byte-for-byte the same
 * (GET before and after).
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
static char q[64];

/* The running job every settle case aims at. */
static struct baton_jobs *running;
static char *snap;
static int64_t total;

static int setup(void **state)
{
        static const char *const args[] = {"--body-max-bytes",
                                           "65536",
                                           "--payload-max-bytes",
                                           "1024",
                                           "--result-max-bytes",
                                           "1024",
                                           "--error-max-bytes",
                                           "256",
                                           "--progress-max-bytes",
                                           "256",
                                           "--batch-max",
                                           "10",
                                           "--name-max",
                                           "32",
                                           "--key-max",
                                           "64",
                                           "--claim-max",
                                           "10",
                                           "--list-max",
                                           "50",
                                           "--wait-max-ms",
                                           "2000",
                                           "--max-attempts-max",
                                           "10",
                                           "--backoff-max-ms",
                                           "60000",
                                           "--backoff-default-max-ms",
                                           "60000",
                                           "--delay-max-ms",
                                           "86400000",
                                           NULL};

        (void)state;
        if (harness_start(&srv, args) != 0)
                return -1;
        cl = harness_client(&srv);
        harness_unique("lim", q, sizeof(q));
        baton_job_free(harness_enqueue(cl, q, "t", NULL));
        running = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(running->n, 1);
        snap = harness_snapshot(srv.url, running->v[0].id);
        total = harness_total_jobs(cl);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        baton_jobs_free(running);
        free(snap);
        baton_client_free(cl);
        cl = NULL;
        return harness_stop(&srv);
}

/* Sends body to method path and checks the error and that nothing changed. */
static void expect(const char *method, const char *path, const char *body, int status,
                   const char *code, const char *field)
{
        struct http_res r;

        assert_int_equal(http_json(srv.url, method, path, body, &r), 0);
        assert_http_error(&r, status, code, field);
        http_res_free(&r);
        assert_int_equal(harness_total_jobs(cl), total);
        assert_unchanged(srv.url, running->v[0].id, snap);
}

/* Same, with a printf-built body. */
static void expectf(const char *method, const char *path, int status, const char *code,
                    const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void expectf(const char *method, const char *path, int status, const char *code,
                    const char *field, const char *fmt, ...)
{
        va_list ap;
        char *body = NULL;

        va_start(ap, fmt);
        if (vasprintf(&body, fmt, ap) < 0)
                abort();
        va_end(ap);
        expect(method, path, body, status, code, field);
        free(body);
}

static const char *job_path(const char *suffix, char *buf, size_t cap)
{
        snprintf(buf, cap, "/v1/jobs/%s%s", running->v[0].id, suffix);
        return buf;
}

static void body_limits(void **state)
{
        size_t n = 70000;
        char *big = harness_repeat(' ', n);
        struct http_res r;

        (void)state;
        /* A body over --body-max-bytes (valid JSON padded with spaces). */
        memcpy(big, "{\"queue\":\"a\",\"type\":\"b\"}", 24);
        http_raw(srv.url, "POST", "/v1/jobs", NULL, big, n, &r);
        assert_http_error(&r, 413, "body_too_large", NULL);
        http_res_free(&r);
        free(big);
        assert_int_equal(harness_total_jobs(cl), total);
        /* Not JSON, not an object, empty. */
        expect("POST", "/v1/jobs", "{\"queue\":", 400, "invalid_json", NULL);
        expect("POST", "/v1/jobs", "[1,2]", 400, "invalid_json", NULL);
        expect("POST", "/v1/jobs", "\"text\"", 400, "invalid_json", NULL);
        expect("POST", "/v1/jobs", "", 400, "invalid_json", NULL);
        expect("POST", "/v1/settle", "nope", 400, "invalid_json", NULL);
        {
                char p[128];

                expect("POST", job_path("/complete", p, sizeof(p)), "{\"lease\":", 400,
                       "invalid_json", NULL);
        }
}

static void enqueue_inputs(void **state)
{
        char *s;

        (void)state;
        /* payload */
        s = harness_repeat('x', 1100);
        expectf("POST", "/v1/jobs", 413, "payload_too_large", "payload",
                "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":\"%s\"}", q, s);
        expectf("POST", "/v1/jobs", 413, "payload_too_large", "jobs[1].payload",
                "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\"},{\"queue\":\"%s\",\"type\":\"t\","
                "\"payload\":\"%s\"}]}",
                q, q, s);
        free(s);
        /* batch */
        {
                char body[4096];
                size_t len;
                int i;

                len = (size_t)snprintf(body, sizeof(body), "{\"jobs\":[");
                for (i = 0; i < 11; i++)
                        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                                "%s{\"queue\":\"%s\",\"type\":\"t\"}", i ? "," : "",
                                                q);
                snprintf(body + len, sizeof(body) - len, "]}");
                expect("POST", "/v1/jobs", body, 413, "batch_too_large", "jobs");
        }
        /* names */
        s = harness_repeat('n', 33);
        expectf("POST", "/v1/jobs", 400, "name_too_long", "queue",
                "{\"queue\":\"%s\",\"type\":\"t\"}", s);
        expectf("POST", "/v1/jobs", 400, "name_too_long", "type",
                "{\"queue\":\"%s\",\"type\":\"%s\"}", q, s);
        free(s);
        expect("POST", "/v1/jobs", "{\"queue\":\"a b\",\"type\":\"t\"}", 400, "name_invalid",
               "queue");
        expect("POST", "/v1/jobs", "{\"queue\":\"a/b\",\"type\":\"t\"}", 400, "name_invalid",
               "queue");
        expect("POST", "/v1/jobs", "{\"queue\":\"\",\"type\":\"t\"}", 400, "name_invalid", "queue");
        expectf("POST", "/v1/jobs", 400, "name_invalid", "type",
                "{\"queue\":\"%s\",\"type\":\"caf\\u00e9\"}", q);
        /* keys */
        s = harness_repeat('k', 65);
        expectf("POST", "/v1/jobs", 400, "key_too_long", "idempotency_key",
                "{\"queue\":\"%s\",\"type\":\"t\",\"idempotency_key\":\"%s\"}", q, s);
        expectf("POST", "/v1/jobs", 400, "key_too_long", "key",
                "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"%s\"}", q, s);
        expectf("POST", "/v1/jobs", 400, "key_too_long", "request_id",
                "{\"queue\":\"%s\",\"type\":\"t\",\"request_id\":\"%s\"}", q, s);
        expectf("POST", "/v1/jobs", 400, "key_too_long", "execution_id",
                "{\"queue\":\"%s\",\"type\":\"t\",\"execution_id\":\"%s\"}", q, s);
        free(s);
        expectf("POST", "/v1/jobs", 400, "key_invalid", "key",
                "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"a\\u0001b\"}", q);
        expectf("POST", "/v1/jobs", 400, "key_invalid", "idempotency_key",
                "{\"queue\":\"%s\",\"type\":\"t\",\"idempotency_key\":\"\"}", q);
        /* numbers out of range */
        expectf("POST", "/v1/jobs", 400, "lease_ms_out_of_range", "lease_ms",
                "{\"queue\":\"%s\",\"type\":\"t\",\"lease_ms\":999}", q);
        expectf("POST", "/v1/jobs", 400, "lease_ms_out_of_range", "lease_ms",
                "{\"queue\":\"%s\",\"type\":\"t\",\"lease_ms\":43200001}", q);
        expectf("POST", "/v1/jobs", 400, "delay_ms_out_of_range", "delay_ms",
                "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":86400001}", q);
        expectf("POST", "/v1/jobs", 400, "delay_ms_out_of_range", "delay_ms",
                "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":-1}", q);
        expectf("POST", "/v1/jobs", 400, "delay_ms_out_of_range", "run_at",
                "{\"queue\":\"%s\",\"type\":\"t\",\"run_at\":\"2999-01-01T00:00:00Z\"}", q);
        expectf("POST", "/v1/jobs", 400, "max_attempts_out_of_range", "max_attempts",
                "{\"queue\":\"%s\",\"type\":\"t\",\"max_attempts\":0}", q);
        expectf("POST", "/v1/jobs", 400, "max_attempts_out_of_range", "max_attempts",
                "{\"queue\":\"%s\",\"type\":\"t\",\"max_attempts\":11}", q);
        expectf(
            "POST", "/v1/jobs", 400, "backoff_out_of_range", "backoff.base_ms",
            "{\"queue\":\"%s\",\"type\":\"t\",\"backoff\":{\"type\":\"fixed\",\"base_ms\":60001}}",
            q);
        expectf("POST", "/v1/jobs", 400, "backoff_out_of_range", "backoff.max_ms",
                "{\"queue\":\"%s\",\"type\":\"t\",\"backoff\":{\"type\":\"exponential\","
                "\"base_ms\":10,\"max_ms\":-5}}",
                q);
        /* An explicit 0 of a waiting backoff would otherwise become the
         * default 1000 ms without a word. */
        expectf("POST", "/v1/jobs", 400, "backoff_out_of_range", "backoff.base_ms",
                "{\"queue\":\"%s\",\"type\":\"t\",\"backoff\":{\"type\":\"fixed\","
                "\"base_ms\":0}}",
                q);
        expectf("POST", "/v1/jobs", 400, "backoff_out_of_range", "jobs[0].backoff.max_ms",
                "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\",\"backoff\":{\"type\":"
                "\"exponential\",\"base_ms\":5,\"max_ms\":0}}]}",
                q);
        expectf("POST", "/v1/jobs", 400, "lease_ms_out_of_range", "jobs[0].lease_ms",
                "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\",\"lease_ms\":1}]}", q);
        /* missing and invalid fields */
        expect("POST", "/v1/jobs", "{\"type\":\"t\"}", 400, "missing_field", "queue");
        expectf("POST", "/v1/jobs", 400, "missing_field", "type", "{\"queue\":\"%s\"}", q);
        expect("POST", "/v1/jobs", "{\"queue\":7,\"type\":\"t\"}", 400, "invalid_field", "queue");
        expectf("POST", "/v1/jobs", 400, "invalid_field", "priority",
                "{\"queue\":\"%s\",\"type\":\"t\",\"priority\":\"urgent\"}", q);
        expectf("POST", "/v1/jobs", 400, "invalid_field", "max_attempts",
                "{\"queue\":\"%s\",\"type\":\"t\",\"max_attempts\":\"3\"}", q);
        expectf("POST", "/v1/jobs", 400, "invalid_field", "max_attempts",
                "{\"queue\":\"%s\",\"type\":\"t\",\"max_attempts\":2.5}", q);
        expectf("POST", "/v1/jobs", 400, "invalid_field", "backoff.type",
                "{\"queue\":\"%s\",\"type\":\"t\",\"backoff\":{\"type\":\"linear\"}}", q);
        expectf("POST", "/v1/jobs", 400, "invalid_field", "backoff",
                "{\"queue\":\"%s\",\"type\":\"t\",\"backoff\":\"fixed\"}", q);
        expectf("POST", "/v1/jobs", 400, "invalid_time", "run_at",
                "{\"queue\":\"%s\",\"type\":\"t\",\"run_at\":\"tomorrow\"}", q);
        expectf("POST", "/v1/jobs", 400, "invalid_time", "run_at",
                "{\"queue\":\"%s\",\"type\":\"t\",\"run_at\":\"2026-13-01T00:00:00Z\"}", q);
        expectf("POST", "/v1/jobs", 400, "invalid_field", "run_at",
                "{\"queue\":\"%s\",\"type\":\"t\",\"run_at\":12}", q);
        expectf("POST", "/v1/jobs", 400, "invalid_field", "jobs[2].priority",
                "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\"},{\"queue\":\"%s\",\"type\":\"t\"},"
                "{\"queue\":\"%s\",\"type\":\"t\",\"priority\":1}]}",
                q, q, q);
}

static void work_inputs(void **state)
{
        char p[160], claim[128], *s;
        const char *lease = running->v[0].lease;

        (void)state;
        snprintf(claim, sizeof(claim), "/v1/queues/%s/claim", q);
        /* claim */
        expect("POST", claim, "{\"worker\":\"w\",\"max\":11}", 400, "max_out_of_range", "max");
        expect("POST", claim, "{\"worker\":\"w\",\"wait_ms\":2001}", 400, "wait_ms_out_of_range",
               "wait_ms");
        expect("POST", claim, "{\"worker\":\"w\",\"wait_ms\":-1}", 400, "wait_ms_out_of_range",
               "wait_ms");
        expect("POST", claim, "{\"worker\":\"w\",\"lease_ms\":10}", 400, "lease_ms_out_of_range",
               "lease_ms");
        s = harness_repeat('w', 65);
        expectf("POST", claim, 400, "key_too_long", "worker", "{\"worker\":\"%s\"}", s);
        free(s);
        expect("POST", claim, "{\"worker\":\"\"}", 400, "key_invalid", "worker");
        s = harness_repeat('n', 33);
        {
                char longq[128];

                snprintf(longq, sizeof(longq), "/v1/queues/%s/claim", s);
                expect("POST", longq, "{\"worker\":\"w\"}", 400, "name_too_long", "queue");
        }
        free(s);
        /* complete / fail / heartbeat */
        s = harness_repeat('r', 1100);
        expectf("POST", job_path("/complete", p, sizeof(p)), 413, "result_too_large", "result",
                "{\"lease\":\"%s\",\"result\":\"%s\"}", lease, s);
        free(s);
        s = harness_repeat('e', 300);
        expectf("POST", job_path("/fail", p, sizeof(p)), 413, "error_too_large", "error",
                "{\"lease\":\"%s\",\"error\":\"%s\"}", lease, s);
        free(s);
        s = harness_repeat('m', 300);
        expectf("POST", job_path("/heartbeat", p, sizeof(p)), 413, "progress_too_large", "progress",
                "{\"lease\":\"%s\",\"progress\":{\"message\":\"%s\"}}", lease, s);
        free(s);
        expectf("POST", job_path("/fail", p, sizeof(p)), 400, "backoff_out_of_range", "retry_in_ms",
                "{\"lease\":\"%s\",\"error\":\"x\",\"retry_in_ms\":60001}", lease);
        expectf("POST", job_path("/fail", p, sizeof(p)), 400, "backoff_out_of_range", "retry_in_ms",
                "{\"lease\":\"%s\",\"error\":\"x\",\"retry_in_ms\":-1}", lease);
        expectf("POST", job_path("/fail", p, sizeof(p)), 400, "invalid_field", "retryable",
                "{\"lease\":\"%s\",\"error\":\"x\",\"retryable\":\"no\"}", lease);
        expectf("POST", job_path("/fail", p, sizeof(p)), 400, "invalid_field", "error",
                "{\"lease\":\"%s\",\"error\":{\"a\":1}}", lease);
        expectf("POST", job_path("/heartbeat", p, sizeof(p)), 400, "lease_ms_out_of_range",
                "extend_ms", "{\"lease\":\"%s\",\"extend_ms\":999}", lease);
        expect("POST", job_path("/complete", p, sizeof(p)), "{\"result\":1}", 400, "missing_field",
               "lease");
        expect("POST", job_path("/complete", p, sizeof(p)), "{\"lease\":5}", 400, "invalid_field",
               "lease");
        /* A token that is not the current one, whatever its length: 409. */
        s = harness_repeat('l', 65);
        expectf("POST", job_path("/complete", p, sizeof(p)), 409, "lease_mismatch", NULL,
                "{\"lease\":\"%s\"}", s);
        free(s);
        /* ids */
        expect("POST", "/v1/jobs/abc/complete", "{\"lease\":\"x\"}", 400, "invalid_id", "id");
        expect("POST", "/v1/jobs/12x/heartbeat", "{\"lease\":\"x\"}", 400, "invalid_id", "id");
        expect("GET", "/v1/jobs/1.5", NULL, 400, "invalid_id", "id");
        expect("DELETE", "/v1/jobs/abc", NULL, 400, "invalid_id", "id");
        expect("POST", "/v1/jobs/abc/retry", "{}", 400, "invalid_id", "id");
        /* settle */
        {
                char body[8192];
                size_t len;
                int i;

                len = (size_t)snprintf(body, sizeof(body), "{\"items\":[");
                for (i = 0; i < 11; i++)
                        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                                "%s{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":"
                                                "\"complete\"}",
                                                i ? "," : "", running->v[0].id, lease);
                snprintf(body + len, sizeof(body) - len, "]}");
                expect("POST", "/v1/settle", body, 413, "batch_too_large", "items");
        }
        expectf("POST", "/v1/settle", 400, "invalid_id", "items[0].id",
                "{\"items\":[{\"id\":\"abc\",\"lease\":\"%s\",\"outcome\":\"complete\"}]}", lease);
        expectf("POST", "/v1/settle", 400, "invalid_id", "items[0].id",
                "{\"items\":[{\"id\":1.5,\"lease\":\"%s\",\"outcome\":\"complete\"}]}", lease);
        expectf("POST", "/v1/settle", 400, "missing_field", "items[0].outcome",
                "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\"}]}", running->v[0].id, lease);
        s = harness_repeat('r', 1100);
        expectf("POST", "/v1/settle", 413, "result_too_large", "items[0].result",
                "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\","
                "\"result\":\"%s\"}]}",
                running->v[0].id, lease, s);
        free(s);
        s = harness_repeat('e', 300);
        expectf("POST", "/v1/settle", 413, "error_too_large", "items[0].error",
                "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"fail\","
                "\"error\":\"%s\"}]}",
                running->v[0].id, lease, s);
        free(s);
        expectf("POST", "/v1/settle", 400, "backoff_out_of_range", "items[0].retry_in_ms",
                "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"fail\","
                "\"retry_in_ms\":60001}]}",
                running->v[0].id, lease);
}

static void list_inputs(void **state)
{
        char p[160];

        (void)state;
        expect("GET", "/v1/jobs?limit=51", NULL, 400, "limit_out_of_range", "limit");
        expect("GET", "/v1/jobs?limit=0", NULL, 400, "limit_out_of_range", "limit");
        expect("GET", "/v1/jobs?limit=-3", NULL, 400, "limit_out_of_range", "limit");
        expect("GET", "/v1/jobs?after=nope", NULL, 400, "invalid_cursor", "after");
        expect("GET", "/v1/jobs?state=done", NULL, 400, "invalid_field", "state");
        snprintf(p, sizeof(p), "/v1/queues/%s/dead?limit=51", q);
        expect("GET", p, NULL, 400, "limit_out_of_range", "limit");
        snprintf(p, sizeof(p), "/v1/queues/%s/dead?after=nope", q);
        expect("GET", p, NULL, 400, "invalid_cursor", "after");
        expect("GET", "/v1/queues?limit=51", NULL, 400, "limit_out_of_range", "limit");
        snprintf(p, sizeof(p), "/v1/jobs/%s?wait_ms=2001", running->v[0].id);
        expect("GET", p, NULL, 400, "wait_ms_out_of_range", "wait_ms");
        snprintf(p, sizeof(p), "/v1/jobs/%s?wait_ms=soon", running->v[0].id);
        expect("GET", p, NULL, 400, "invalid_field", "wait_ms");
}

static void routes_and_methods(void **state)
{
        char p[160];

        (void)state;
        expect("GET", "/v1/nothing", NULL, 404, "route_not_found", NULL);
        expect("GET", "/v2/jobs", NULL, 404, "route_not_found", NULL);
        expect("POST", "/v1/jobs/1/explode", "{}", 404, "route_not_found", NULL);
        expect("GET", "/", NULL, 404, "route_not_found", NULL);
        expect("PUT", "/v1/jobs", "{}", 405, "method_not_allowed", NULL);
        expect("DELETE", "/v1/settle", NULL, 405, "method_not_allowed", NULL);
        expect("GET", "/v1/settle", NULL, 405, "method_not_allowed", NULL);
        expect("POST", "/healthz", "{}", 405, "method_not_allowed", NULL);
        expect("GET", job_path("/complete", p, sizeof(p)), NULL, 405, "method_not_allowed", NULL);
        snprintf(p, sizeof(p), "/v1/queues/%s/claim", q);
        expect("GET", p, NULL, 405, "method_not_allowed", NULL);
        /* 405 names the allowed methods. */
        {
                struct http_res r;
                char allow[128];

                http_json(srv.url, "PUT", "/v1/jobs", "{}", &r);
                assert_int_equal(r.status, 405);
                assert_non_null(http_header(&r, "Allow", allow, sizeof(allow)));
                assert_non_null(strstr(allow, "POST"));
                assert_non_null(strstr(allow, "GET"));
                http_res_free(&r);
        }
        /* The limits leave the job that every case aimed at running and unchanged;
         * the lease still settles it. */
        assert_ok(cl,
                  baton_complete(cl, running->v[0].id, running->v[0].lease, "{\"ok\":1}", NULL));
        free(snap);
        snap = harness_snapshot(srv.url, running->v[0].id);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(body_limits),        cmocka_unit_test(enqueue_inputs),
            cmocka_unit_test(work_inputs),        cmocka_unit_test(list_inputs),
            cmocka_unit_test(routes_and_methods),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
