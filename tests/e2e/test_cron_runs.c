/*
 * test_cron_runs.c: cron run outcomes and the schedule cap against a real
 * batond started with --cron-min-interval-ms 1000 and --max-cron-schedules 3:
 * baton_cron_runs_total counts each run once at its final status (completed,
 * dead, cancelled, skipped; a failed attempt that will retry counts nothing),
 * the job JSON names the cron run that enqueued it, and the per-tenant cap
 * refuses a PUT or a registry apply over it (409 too_many_schedules) without
 * changing anything, while updates at the cap and a prune that makes room
 * work. The server is this file's own, so the counters start at zero.
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

/* One request as key (NULL = the admin key) that must answer status. */
static void req_as(const char *key, const char *method, const char *path, const char *body,
                   int status, struct http_res *res)
{
        harness_expect(srv.url, key, method, path, body, status, res);
}

static void req(const char *method, const char *path, const char *body, int status,
                struct http_res *res)
{
        harness_expect(srv.url, NULL, method, path, body, status, res);
}

/* The value of baton_cron_runs_total{status="..."} in /metrics. */
static long long runs_total(const char *status)
{
        char want[96];
        struct http_res r;
        const char *p;
        long long v;

        snprintf(want, sizeof(want), "baton_cron_runs_total{status=\"%s\"} ", status);
        req("GET", "/metrics", NULL, 200, &r);
        p = strstr(r.body, want);
        if (!p)
                fprintf(stderr, "no %s in /metrics\n", want);
        assert_non_null(p);
        v = atoll(p + strlen(want));
        http_res_free(&r);
        return v;
}

static void assert_totals(long long completed, long long dead, long long cancelled,
                          long long skipped)
{
        assert_int_equal(runs_total("completed"), completed);
        assert_int_equal(runs_total("dead"), dead);
        assert_int_equal(runs_total("cancelled"), cancelled);
        assert_int_equal(runs_total("skipped"), skipped);
}

/* Runs schedule key by hand; copies the job id and the run id. */
static void run_now(const char *key, char *job_id, char *run_id)
{
        char path[128];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/cron/%s/run", key);
        req("POST", path, NULL, 202, &r);
        snprintf(job_id, 32, "%s", jpath_str(r.json, "run.job_id"));
        snprintf(run_id, 32, "%s", jpath_str(r.json, "run.id"));
        http_res_free(&r);
}

/* Claims the one job of mq, waiting up to 5 s for it. */
#define CLAIM_WAIT "{\"worker\":\"w\",\"max\":1,\"wait_ms\":5000}"
/* The result of a completion, and a failure that may retry at once. */
#define OK_RESULT "{\"ok\":true}"
#define BOOM "\"error\":\"boom\",\"retry_in_ms\":0"

/* Statuses of key's runs: how many are skipped; *first_job gets the job id
 * of the oldest run with a job (cap 32). */
static int skipped_runs(const char *key, char *first_job)
{
        char path[128];
        struct http_res r;
        json_t *runs;
        size_t i;
        int n = 0;

        snprintf(path, sizeof(path), "/v1/cron/%s/runs?limit=1000", key);
        req("GET", path, NULL, 200, &r);
        runs = json_object_get(r.json, "runs");
        for (i = 0; i < json_array_size(runs); i++) {
                json_t *run = json_array_get(runs, i);
                const char *job = json_string_value(json_object_get(run, "job_id"));
                if (strcmp(json_string_value(json_object_get(run, "status")), "skipped") == 0)
                        n++;
                if (job && first_job)
                        snprintf(first_job, 32, "%s", job);
        }
        http_res_free(&r);
        return n;
}

/* Manual runs driven to completed, dead (after a retry that counts nothing)
 * and cancelled; scheduled ticks skipped under overlap skip. Each run counts
 * once, when it is final; the jobs carry the cron marker. */
static void test_runs_by_status(void **state)
{
        char job[32], run[32], path[128], first[32] = "";
        struct http_res r;
        json_t *claimed;
        int skipped = 0;

        (void)state;
        assert_totals(0, 0, 0, 0);
        req("PUT", "/v1/cron/m",
            "{\"cron\":\"0 0 1 1 *\",\"job\":{\"queue\":\"mq\",\"type\":\"t\",\"max_attempts\":2}}",
            201, &r);
        http_res_free(&r);

        /* completed; the job names its run. */
        run_now("m", job, run);
        snprintf(path, sizeof(path), "/v1/jobs/%s", job);
        req("GET", path, NULL, 200, &r);
        assert_string_equal(jpath_str(r.json, "job.cron.key"), "m");
        assert_string_equal(jpath_str(r.json, "job.cron.run"), run);
        http_res_free(&r);
        assert_totals(0, 0, 0, 0);
        claimed = harness_http_claim(srv.url, NULL, "mq", CLAIM_WAIT, job);
        harness_http_complete(srv.url, NULL, claimed, OK_RESULT, "completed");
        assert_totals(1, 0, 0, 0);

        /* dead: the first failure retries (not final, not counted). */
        run_now("m", job, run);
        claimed = harness_http_claim(srv.url, NULL, "mq", CLAIM_WAIT, job);
        /* retry_in_ms 0: ready again at once */
        harness_http_fail(srv.url, NULL, claimed, BOOM, "queued");
        assert_totals(1, 0, 0, 0);
        claimed = harness_http_claim(srv.url, NULL, "mq", CLAIM_WAIT, job);
        harness_http_fail(srv.url, NULL, claimed, BOOM, "dead");
        assert_totals(1, 1, 0, 0);

        /* cancelled. */
        run_now("m", job, run);
        snprintf(path, sizeof(path), "/v1/jobs/%s", job);
        req("DELETE", path, NULL, 200, &r);
        http_res_free(&r);
        assert_totals(1, 1, 1, 0);

        /* skipped: every second, nobody runs sq's job, overlap skip. */
        req("PUT", "/v1/cron/s",
            "{\"cron\":\"* * * * * *\",\"job\":{\"queue\":\"sq\",\"type\":\"t\"}}", 201, &r);
        http_res_free(&r);
        for (int i = 0; i < 100 && skipped < 2; i++) {
                harness_sleep_ms(100);
                skipped = skipped_runs("s", NULL);
        }
        assert_true(skipped >= 2);
        req("POST", "/v1/cron/s/pause", NULL, 200, &r);
        http_res_free(&r);
        skipped = skipped_runs("s", first);
        assert_true(first[0] != '\0');
        assert_totals(1, 1, 1, skipped);
        /* The run that fired ends cancelled: counted once more. */
        snprintf(path, sizeof(path), "/v1/jobs/%s", first);
        req("GET", path, NULL, 200, &r);
        assert_string_equal(jpath_str(r.json, "job.cron.key"), "s");
        http_res_free(&r);
        req("DELETE", path, NULL, 200, &r);
        http_res_free(&r);
        assert_totals(1, 1, 2, skipped);
        /* Jobs not enqueued by cron carry no marker and count nothing. */
        req("POST", "/v1/jobs", "{\"queue\":\"plain\",\"type\":\"t\"}", 201, &r);
        snprintf(job, sizeof(job), "%s", jpath_str(r.json, "job.id"));
        assert_true(json_is_null(jpath(r.json, "job.cron")));
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/jobs/%s", job);
        req("DELETE", path, NULL, 200, &r);
        http_res_free(&r);
        assert_totals(1, 1, 2, skipped);
        req("DELETE", "/v1/cron/m", NULL, 200, &r);
        http_res_free(&r);
        req("DELETE", "/v1/cron/s", NULL, 200, &r);
        http_res_free(&r);
}

#define CJOB "\"job\":{\"queue\":\"q\",\"type\":\"t\"}"

/* Keys of the caller's schedules, comma-joined into out. */
static const char *keys_of(const char *key, char *out, size_t cap)
{
        struct http_res r;
        json_t *v;
        size_t i, len = 0;

        req_as(key, "GET", "/v1/cron", NULL, 200, &r);
        v = json_object_get(r.json, "schedules");
        out[0] = '\0';
        for (i = 0; i < json_array_size(v); i++)
                len += (size_t)snprintf(
                    out + len, cap - len, "%s%s", i ? "," : "",
                    json_string_value(json_object_get(json_array_get(v, i), "key")));
        http_res_free(&r);
        return out;
}

/* --max-cron-schedules 3, in a tenant of its own. */
static void test_schedule_cap(void **state)
{
        char key[128], keys[256];
        struct http_res r;
        const char *p;

        (void)state;
        harness_make_key(&srv, "capped", "[\"cron:read\",\"cron:write\"]", NULL, key, NULL);
        req_as(key, "PUT", "/v1/cron/a", "{\"cron\":\"@daily\"," CJOB "}", 201, &r);
        http_res_free(&r);
        req_as(key, "PUT", "/v1/cron/b", "{\"cron\":\"@daily\"," CJOB "}", 201, &r);
        http_res_free(&r);
        req_as(key, "PUT", "/v1/cron/c", "{\"cron\":\"@daily\"," CJOB "}", 201, &r);
        http_res_free(&r);
        /* A fourth key is refused and not created. */
        req_as(key, "PUT", "/v1/cron/d", "{\"cron\":\"@daily\"," CJOB "}", 409, &r);
        assert_http_error(&r, 409, "too_many_schedules", NULL);
        p = http_error_member(&r, "message");
        assert_non_null(p);
        assert_non_null(strstr(p, "at most 3"));
        http_res_free(&r);
        req_as(key, "GET", "/v1/cron/d", NULL, 404, &r);
        http_res_free(&r);
        /* Updating a key at the cap works. */
        req_as(key, "PUT", "/v1/cron/a", "{\"cron\":\"@hourly\"," CJOB "}", 200, &r);
        http_res_free(&r);
        /* A registry whose result is over the cap changes nothing, not even
         * the entries that would only update. */
        req_as(key, "PUT", "/v1/cron",
               "{\"schedules\":[{\"key\":\"a\",\"cron\":\"@weekly\"," CJOB "},"
               "{\"key\":\"d\",\"cron\":\"@daily\"," CJOB "}]}",
               409, &r);
        assert_http_error(&r, 409, "too_many_schedules", NULL);
        p = http_error_member(&r, "message");
        assert_non_null(p);
        assert_non_null(strstr(p, "4 cron schedules"));
        assert_non_null(strstr(p, "cap of 3"));
        http_res_free(&r);
        assert_string_equal(keys_of(key, keys, sizeof(keys)), "a,b,c");
        req_as(key, "GET", "/v1/cron/a", NULL, 200, &r);
        assert_string_equal(jpath_str(r.json, "schedule.cron"), "@hourly");
        http_res_free(&r);
        /* The same with prune: a, d, e, f is still four. */
        req_as(key, "PUT", "/v1/cron",
               "{\"prune\":true,\"schedules\":[{\"key\":\"a\",\"cron\":\"@hourly\"," CJOB "},"
               "{\"key\":\"d\",\"cron\":\"@daily\"," CJOB "},"
               "{\"key\":\"e\",\"cron\":\"@daily\"," CJOB "},"
               "{\"key\":\"f\",\"cron\":\"@daily\"," CJOB "}]}",
               409, &r);
        assert_http_error(&r, 409, "too_many_schedules", NULL);
        http_res_free(&r);
        assert_string_equal(keys_of(key, keys, sizeof(keys)), "a,b,c");
        /* A prune that makes room: a, d, e is three. */
        req_as(key, "PUT", "/v1/cron",
               "{\"prune\":true,\"schedules\":[{\"key\":\"a\",\"cron\":\"@hourly\"," CJOB "},"
               "{\"key\":\"d\",\"cron\":\"@daily\"," CJOB "},"
               "{\"key\":\"e\",\"cron\":\"@daily\"," CJOB "}]}",
               200, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "created")), 2);
        assert_int_equal(json_array_size(json_object_get(r.json, "deleted")), 2);
        http_res_free(&r);
        assert_string_equal(keys_of(key, keys, sizeof(keys)), "a,d,e");
        /* The cap is per tenant: the admin's tenant still creates. */
        req("PUT", "/v1/cron/other", "{\"cron\":\"@daily\"," CJOB "}", 201, &r);
        http_res_free(&r);
        req("DELETE", "/v1/cron/other", NULL, 200, &r);
        http_res_free(&r);
        /* A delete makes room for a new key. */
        req_as(key, "DELETE", "/v1/cron/e", NULL, 200, &r);
        http_res_free(&r);
        req_as(key, "PUT", "/v1/cron/g", "{\"cron\":\"@daily\"," CJOB "}", 201, &r);
        http_res_free(&r);
}

struct put_arg {
        const char *token;
        char key[16];
        int status;
};

static void *put_one(void *arg)
{
        struct put_arg *a = arg;
        char path[64];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/cron/%s", a->key);
        if (http_json_as(srv.url, a->token, "PUT", path, "{\"cron\":\"@daily\"," CJOB "}", &r) == 0)
                a->status = r.status;
        http_res_free(&r);
        return NULL;
}

/* Eight new keys at once against a cap of three: exactly three are created,
 * whichever commit first; the others answer 409. */
static void test_schedule_cap_concurrent(void **state)
{
        struct put_arg args[8];
        pthread_t th[8];
        char key[128], keys[256];
        int created = 0, refused = 0;

        (void)state;
        harness_make_key(&srv, "racing", "[\"cron:read\",\"cron:write\"]", NULL, key, NULL);
        for (int i = 0; i < 8; i++) {
                args[i].token = key;
                snprintf(args[i].key, sizeof(args[i].key), "k%d", i);
                args[i].status = 0;
                assert_int_equal(harness_thread(&th[i], put_one, &args[i]), 0);
        }
        for (int i = 0; i < 8; i++)
                harness_join(th[i]);
        for (int i = 0; i < 8; i++) {
                created += args[i].status == 201;
                refused += args[i].status == 409;
        }
        assert_int_equal(created, 3);
        assert_int_equal(refused, 5);
        keys_of(key, keys, sizeof(keys));
        assert_int_equal(strlen(keys), strlen("k0,k1,k2"));
}

int main(void)
{
        static const char *const args[] = {"--cron-min-interval-ms", "1000", "--max-cron-schedules",
                                           "3", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_runs_by_status),
            cmocka_unit_test(test_schedule_cap),
            cmocka_unit_test(test_schedule_cap_concurrent),
        };

        harness_group(&srv, args, NULL);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
