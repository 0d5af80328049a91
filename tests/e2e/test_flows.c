/*
 * test_flows.c: end-to-end tests of job dependencies and flows (docs/api.md,
 * "Dependencies and flows") against a real batond: a diamond flow that runs
 * in order (d only after b and c, b and c only after a) with the parents'
 * results on each claim; a dead parent cancelling child and grandchild with
 * parent_failed; the "run" policy; depends_on validation (bound, unknown and
 * other-tenant ids naming depends_on[i]); flow atomicity (a cycle or an
 * unknown ref stores nothing: the job count is the same before and after);
 * GET /v1/flows/{id}; tenant isolation and the scopes of the routes. One
 * server for the file; each test uses its own queues.
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

static const char *jstr(json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static void assert_state(const char *id, const char *want)
{
        char st[32];

        harness_http_state(srv.url, NULL, id, st, NULL);
        assert_string_equal(st, want);
}

/* A parents entry's result member for parent id, as compact text. */
static char *parent_result(json_t *job, const char *id)
{
        json_t *ps = json_object_get(job, "parents");

        assert_true(json_is_array(ps));
        for (size_t i = 0; i < json_array_size(ps); i++) {
                json_t *p = json_array_get(ps, i);
                if (strcmp(jstr(p, "id"), id) == 0)
                        return json_dumps(json_object_get(p, "result"),
                                          JSON_COMPACT | JSON_ENCODE_ANY);
        }
        fail_msg("parent %s not in the claim", id);
        return NULL;
}

static void diamond_flow_in_order(void **state)
{
        char q[64], body[1024], ids[4][32];
        const char *refs[4] = {"a", "b", "c", "d"};
        struct http_res r;
        json_t *j, *flow;
        char *s;

        (void)state;
        harness_unique("dia", q, sizeof(q));
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"ref\":\"d\",\"queue\":\"%s\",\"type\":\"t\","
                 "\"depends_on\":[\"b\",\"c\"]},"
                 "{\"ref\":\"b\",\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"a\"]},"
                 "{\"ref\":\"c\",\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"a\"]},"
                 "{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"}]}",
                 q, q, q, q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/flows", body, &r), 0);
        if (r.status != 201)
                fprintf(stderr, "%s\n", r.body);
        assert_int_equal(r.status, 201);
        flow = json_incref(json_object_get(r.json, "flow"));
        http_res_free(&r);
        assert_non_null(jstr(flow, "id"));
        json_t *jobs = json_object_get(flow, "jobs");
        assert_int_equal(json_array_size(jobs), 4);
        for (int i = 0; i < 4; i++) {
                json_t *x = json_array_get(jobs, (size_t)i);
                int k = jstr(x, "ref")[0] - 'a';
                assert_string_equal(jstr(x, "ref"), refs[k]);
                assert_string_equal(jstr(x, "flow_id"), jstr(flow, "id"));
                snprintf(ids[k], 32, "%s", jstr(x, "id"));
        }
        assert_state(ids[0], "queued");
        assert_state(ids[1], "pending");
        assert_state(ids[3], "pending");

        j = harness_http_claim(srv.url, NULL, q, NULL, NULL);
        assert_non_null(j);
        assert_string_equal(jstr(j, "id"), ids[0]);
        assert_null(harness_http_claim(srv.url, NULL, q, NULL, NULL)); /* b and c wait for a */
        harness_http_complete(srv.url, NULL, j, "{\"from\":\"a\"}", NULL);

        json_t *first = harness_http_claim(srv.url, NULL, q, NULL, NULL),
               *second = harness_http_claim(srv.url, NULL, q, NULL, NULL);
        assert_non_null(first);
        assert_non_null(second);
        assert_null(harness_http_claim(srv.url, NULL, q, NULL, NULL)); /* d waits for both */
        s = parent_result(first, ids[0]);
        assert_string_equal(s, "{\"from\":\"a\"}");
        free(s);
        harness_http_complete(srv.url, NULL, first, "1", NULL);
        assert_null(harness_http_claim(srv.url, NULL, q, NULL, NULL));
        assert_state(ids[3], "pending");
        harness_http_complete(srv.url, NULL, second, "2", NULL);

        j = harness_http_claim(srv.url, NULL, q, NULL, NULL);
        assert_non_null(j);
        assert_string_equal(jstr(j, "id"), ids[3]);
        assert_int_equal(json_array_size(json_object_get(j, "depends_on")), 2);
        s = parent_result(j, ids[1]);
        assert_true(strcmp(s, "1") == 0 || strcmp(s, "2") == 0);
        free(s);
        harness_http_complete(srv.url, NULL, j, "null", NULL);

        char path[128];
        snprintf(path, sizeof(path), "/v1/flows/%s", jstr(flow, "id"));
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        json_t *f = json_object_get(r.json, "flow");
        assert_string_equal(jstr(f, "state"), "completed");
        assert_int_equal(json_array_size(json_object_get(f, "jobs")), 4);
        for (int i = 0; i < 4; i++) {
                json_t *x = json_array_get(json_object_get(f, "jobs"), (size_t)i);
                assert_string_equal(jstr(x, "state"), "completed");
                assert_non_null(jstr(x, "ref"));
        }
        http_res_free(&r);
        json_decref(flow);
}

static void parent_dead_cancels_descendants(void **state)
{
        char q[64], body[512], a[32], b[32], c[32], run[32], st[32], why[64];
        json_t *j;

        (void)state;
        harness_unique("dead", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"max_attempts\":1}", q);
        harness_http_enqueue(srv.url, NULL, body, a, sizeof(a));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"%s\"]}", q,
                 a);
        harness_http_enqueue(srv.url, NULL, body, b, sizeof(b));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[%s]}", q,
                 b); /* an integer id works too */
        harness_http_enqueue(srv.url, NULL, body, c, sizeof(c));
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"%s\"],"
                 "\"on_parent_failure\":\"run\"}",
                 q, a);
        harness_http_enqueue(srv.url, NULL, body, run, sizeof(run));
        assert_state(b, "pending");

        j = harness_http_claim(srv.url, NULL, q, NULL, NULL);
        assert_string_equal(jstr(j, "id"), a);
        harness_http_fail(srv.url, NULL, j, "\"error\":\"boom\",\"retryable\":false", NULL);
        assert_state(a, "dead");
        harness_http_state(srv.url, NULL, b, st, why);
        assert_string_equal(st, "cancelled");
        assert_string_equal(why, "parent_failed");
        harness_http_state(srv.url, NULL, c, st, why);
        assert_string_equal(st, "cancelled");
        assert_string_equal(why, "parent_failed");
        /* The run policy: it runs once its parent is terminal, and sees no result. */
        j = harness_http_claim(srv.url, NULL, q, NULL, NULL);
        assert_non_null(j);
        assert_string_equal(jstr(j, "id"), run);
        char *s = parent_result(j, a);
        assert_string_equal(s, "null");
        free(s);
        harness_http_complete(srv.url, NULL, j, "true", NULL);
}

static void cancel_parent_with_run_policy_waits_for_all(void **state)
{
        char q[64], body[512], a[32], b[32], child[32], path[64];
        struct http_res r;

        (void)state;
        harness_unique("runp", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"}", q);
        harness_http_enqueue(srv.url, NULL, body, a, sizeof(a));
        harness_http_enqueue(srv.url, NULL, body, b, sizeof(b));
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"%s\",\"%s\"],"
                 "\"on_parent_failure\":\"run\"}",
                 q, a, b);
        harness_http_enqueue(srv.url, NULL, body, child, sizeof(child));
        snprintf(path, sizeof(path), "/v1/jobs/%s", a);
        assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_state(child, "pending");
        json_t *j = harness_http_claim(srv.url, NULL, q, NULL, NULL);
        assert_string_equal(jstr(j, "id"), b);
        harness_http_complete(srv.url, NULL, j, "3", NULL);
        assert_state(child, "queued");
}

static void depends_on_validation(void **state)
{
        char q[64], body[4096], a[32], other[128];
        struct http_res r;
        size_t len;

        (void)state;
        harness_unique("val", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"}", q);
        harness_http_enqueue(srv.url, NULL, body, a, sizeof(a));
        /* Too many parents. */
        len = (size_t)snprintf(body, sizeof(body),
                               "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[", q);
        for (int i = 0; i < 101; i++)
                len += (size_t)snprintf(body + len, sizeof(body) - len, "%s\"%d\"", i ? "," : "",
                                        i + 1);
        snprintf(body + len, sizeof(body) - len, "]}");
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_http_error(&r, 400, "too_many_dependencies", "depends_on");
        http_res_free(&r);
        /* Unknown id at index 1. */
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"%s\",\"999999999\"]}", q, a);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_http_error(&r, 400, "unknown_dependency", "depends_on[1]");
        http_res_free(&r);
        /* Not an id (test_ids.c has every form); a bad policy. */
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"x\"]}", q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_http_error(&r, 400, "invalid_id", "depends_on[0]");
        http_res_free(&r);
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"on_parent_failure\":\"maybe\"}", q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_http_error(&r, 400, "invalid_field", "on_parent_failure");
        http_res_free(&r);
        /* Another tenant's job is unknown to this one. */
        harness_make_key(&srv, "tenant-b", "[\"jobs:write\",\"jobs:read\"]", NULL, other, NULL);
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"%s\"]}", q,
                 a);
        assert_int_equal(http_json_as(srv.url, other, "POST", "/v1/jobs", body, &r), 0);
        assert_http_error(&r, 400, "unknown_dependency", "depends_on[0]");
        http_res_free(&r);
        /* A parent completed before the child: the child is ready at once. */
        json_t *j = harness_http_claim(srv.url, NULL, q, NULL, NULL);
        assert_string_equal(jstr(j, "id"), a);
        harness_http_complete(srv.url, NULL, j, "7", NULL);
        char child[32];
        harness_http_enqueue(srv.url, NULL, body, child, sizeof(child));
        assert_state(child, "queued");
}

static void flow_atomicity(void **state)
{
        char q[64], body[1024];
        struct http_res r;
        int64_t before;
        struct baton_client *c = harness_client(&srv);

        (void)state;
        harness_unique("atom", q, sizeof(q));
        before = harness_count_jobs(c, q, NULL);
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},"
                 "{\"ref\":\"b\",\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"a\",\"c\"]},"
                 "{\"ref\":\"c\",\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"b\"]}]}",
                 q, q, q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/flows", body, &r), 0);
        assert_http_error(&r, 400, "dependency_cycle", "jobs");
        assert_non_null(strstr(http_error_member(&r, "message"), "b, c"));
        http_res_free(&r);
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},"
                 "{\"ref\":\"b\",\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"a\",\"zz\"]}]}",
                 q, q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/flows", body, &r), 0);
        assert_http_error(&r, 400, "unknown_ref", "jobs[1].depends_on[1]");
        http_res_free(&r);
        /* An unknown job id is found only in the store: the jobs before it
         * were inserted, and roll back. */
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},"
                 "{\"ref\":\"b\",\"queue\":\"%s\",\"type\":\"t\","
                 "\"depends_on\":[\"a\",\"999999999\"]}]}",
                 q, q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/flows", body, &r), 0);
        assert_http_error(&r, 400, "unknown_dependency", "jobs[1].depends_on[1]");
        http_res_free(&r);
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},"
                 "{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"}]}",
                 q, q);
        assert_int_equal(http_json(srv.url, "POST", "/v1/flows", body, &r), 0);
        assert_http_error(&r, 400, "duplicate_ref", "jobs[1].ref");
        http_res_free(&r);
        assert_int_equal(harness_count_jobs(c, q, NULL), before);
        baton_client_free(c);
}

static void flow_with_existing_parent_and_isolation(void **state)
{
        char q[64], body[1024], a[32], other[128], ro[128], path[128];
        struct http_res r;

        (void)state;
        harness_unique("iso", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"}", q);
        harness_http_enqueue(srv.url, NULL, body, a, sizeof(a));
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"ref\":\"x\",\"queue\":\"%s\",\"type\":\"t\","
                 "\"depends_on\":[\"%s\"]}]}",
                 q, a);
        assert_int_equal(http_json(srv.url, "POST", "/v1/flows", body, &r), 0);
        assert_int_equal(r.status, 201);
        json_t *f = json_object_get(r.json, "flow");
        snprintf(path, sizeof(path), "/v1/flows/%s", jstr(f, "id"));
        json_t *x = json_array_get(json_object_get(f, "jobs"), 0);
        assert_string_equal(jstr(x, "state"), "pending");
        assert_string_equal(json_string_value(json_array_get(json_object_get(x, "depends_on"), 0)),
                            a);
        http_res_free(&r);

        harness_make_key(&srv, "tenant-c", "[\"jobs:write\",\"jobs:read\"]", NULL, other, NULL);
        assert_int_equal(http_json_as(srv.url, other, "GET", path, NULL, &r), 0);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, other, "POST", "/v1/flows", body, &r), 0);
        assert_http_error(&r, 400, "unknown_dependency", "jobs[0].depends_on[0]");
        http_res_free(&r);
        /* Scopes: reading needs jobs:read, creating jobs:write. */
        harness_make_key(&srv, NULL, "[\"jobs:read\"]", NULL, ro, NULL);
        assert_int_equal(http_json_as(srv.url, ro, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, ro, "POST", "/v1/flows", body, &r), 0);
        assert_http_error(&r, 403, "forbidden", NULL);
        http_res_free(&r);
        assert_int_equal(http_json(srv.url, "GET", "/v1/flows/999999999", NULL, &r), 0);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(diamond_flow_in_order),
            cmocka_unit_test(parent_dead_cancels_descendants),
            cmocka_unit_test(cancel_parent_with_run_policy_waits_for_all),
            cmocka_unit_test(depends_on_validation),
            cmocka_unit_test(flow_atomicity),
            cmocka_unit_test(flow_with_existing_parent_and_isolation),
        };
        harness_group(&srv, NULL, NULL);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
