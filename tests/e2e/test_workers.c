/*
 * test_workers.c: end-to-end tests of the worker registry (docs/api.md
 * "Workers") against a real batond: a claim registers its worker with its
 * info and queue; in_flight follows the leases it holds; completed and
 * failed count its settles (single and batch, a repeat not counted twice);
 * health goes healthy -> stale -> lost and the worker is then forgotten;
 * the list pages with its cursor and shows one tenant's workers only; bad
 * info (wrong type, unknown member, too many or too long labels, oversize)
 * and unknown claim members are refused with their field, registering
 * nothing and claiming nothing; heartbeat progress as a number; a retention
 * shorter than the lost time refused at start. On
 * PostgreSQL (the _pg run) a worker that claims on one node is listed by
 * another. The server runs with a short lost time and retention
 * (--worker-lost-ms, --worker-retention-ms) and --lease-min-ms 100 so the
 * transitions come within seconds. libbaton's baton_client_set_worker_info
 * sends its info with every later claim of the client; text that is not a
 * JSON object is refused before anything is sent; NULL stops sending it.
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

#define LOST_MS 3000
#define RETENTION_MS 5000

static struct harness srv;
static struct baton_client *cl;

/* Enqueues a job on queue through url (as key; NULL: the admin key) and
 * copies its id into id (cap 24). */
static void enqueue(const char *url, const char *key, const char *queue, char *id)
{
        struct http_res r;
        char body[256];

        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":{}}", queue);
        harness_expect(url, key, "POST", "/v1/jobs", body, 201, &r);
        snprintf(id, 24, "%s", jpath_str(r.json, "job.id"));
        http_res_free(&r);
}

/* POST /v1/queues/{queue}/claim with body; the answer in *r. */
static void claim(const char *url, const char *key, const char *queue, const char *body, int status,
                  struct http_res *r)
{
        char path[160];

        snprintf(path, sizeof(path), "/v1/queues/%s/claim", queue);
        harness_expect(url, key, "POST", path, body, status, r);
}

/* GET /v1/workers/{id}: the answer's status; *r holds it. */
static int get_worker(const char *url, const char *key, const char *id, struct http_res *r)
{
        char path[160];

        snprintf(path, sizeof(path), "/v1/workers/%s", id);
        assert_int_equal(http_json_as(url, key ? key : harness_key_for(url), "GET", path, NULL, r),
                         0);
        return r->status;
}

static const char *job_state(const char *id)
{
        static char state[32];
        struct http_res r;
        char path[64];

        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
        snprintf(state, sizeof(state), "%s", jpath_str(r.json, "job.state"));
        http_res_free(&r);
        return state;
}

static void registered_on_claim_with_info(void **state)
{
        char q[64], q2[64], id1[24], id2[24];
        struct http_res r;
        int64_t t0 = harness_wall_ms();

        (void)state;
        harness_unique("wq", q, sizeof(q));
        harness_unique("wq", q2, sizeof(q2));
        enqueue(srv.url, NULL, q, id1);
        enqueue(srv.url, NULL, q, id2);
        claim(srv.url, NULL, q,
              "{\"worker\":\"reg-1\",\"max\":1,\"info\":{\"host\":\"box-7\",\"pid\":4242,"
              "\"version\":\"2.1.0\",\"labels\":{\"zone\":\"eu-1\",\"gpu\":\"yes\"}}}",
              200, &r);
        http_res_free(&r);

        assert_int_equal(get_worker(srv.url, NULL, "reg-1", &r), 200);
        assert_string_equal(jpath_str(r.json, "worker.id"), "reg-1");
        assert_string_equal(jpath_str(r.json, "worker.info.host"), "box-7");
        assert_int_equal(jpath_int(r.json, "worker.info.pid"), 4242);
        assert_string_equal(jpath_str(r.json, "worker.info.version"), "2.1.0");
        assert_string_equal(jpath_str(r.json, "worker.info.labels.zone"), "eu-1");
        assert_string_equal(jpath_str(r.json, "worker.info.labels.gpu"), "yes");
        assert_int_equal(json_array_size(jpath(r.json, "worker.queues")), 1);
        assert_string_equal(jpath_str(r.json, "worker.queues[0]"), q);
        assert_true(harness_parse_time(jpath_str(r.json, "worker.first_seen")) >= t0 - 5);
        assert_true(harness_parse_time(jpath_str(r.json, "worker.last_seen")) <=
                    harness_wall_ms() + 5);
        assert_int_equal(json_array_size(jpath(r.json, "worker.in_flight")), 1);
        /* Ids are strings, the job it holds. */
        assert_string_equal(jpath_str(r.json, "worker.in_flight[0]"), id1);
        assert_false(jpath_true(r.json, "worker.in_flight_truncated"));
        assert_int_equal(jpath_int(r.json, "worker.completed"), 0);
        assert_int_equal(jpath_int(r.json, "worker.failed"), 0);
        assert_string_equal(jpath_str(r.json, "worker.health"), "healthy");
        /* The claim named no lease: the job's default lease of 30 s. */
        assert_int_equal(jpath_int(r.json, "worker.lease_period_ms"), 30000);
        http_res_free(&r);

        /* A second queue is added at once; a claim without info keeps it. */
        claim(srv.url, NULL, q2, "{\"worker\":\"reg-1\"}", 200, &r);
        http_res_free(&r);
        assert_int_equal(get_worker(srv.url, NULL, "reg-1", &r), 200);
        assert_int_equal(json_array_size(jpath(r.json, "worker.queues")), 2);
        assert_string_equal(jpath_str(r.json, "worker.queues[1]"), q2);
        assert_string_equal(jpath_str(r.json, "worker.info.host"), "box-7");
        http_res_free(&r);

        /* New info replaces the old at once (not held back by the once-a-
         * second rule, which only spares writes that change nothing). */
        claim(srv.url, NULL, q, "{\"worker\":\"reg-1\",\"info\":{\"host\":\"box-8\"}}", 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "jobs")), 1);
        http_res_free(&r);
        assert_int_equal(get_worker(srv.url, NULL, "reg-1", &r), 200);
        assert_string_equal(jpath_str(r.json, "worker.info.host"), "box-8");
        assert_null(jpath(r.json, "worker.info.pid"));
        assert_int_equal(json_array_size(jpath(r.json, "worker.queues")), 2);
        assert_int_equal(json_array_size(jpath(r.json, "worker.in_flight")), 2);
        assert_string_equal(jpath_str(r.json, "worker.in_flight[1]"), id2);
        http_res_free(&r);

        /* A worker nobody has seen. */
        assert_int_equal(get_worker(srv.url, NULL, "reg-nobody", &r), 404);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
}

/* Claims max jobs of queue (enqueued first) as worker; ids and leases out. */
static void claim_n(const char *queue, const char *worker, int n, char ids[][24], char leases[][48])
{
        struct http_res r;
        char body[128];

        for (int i = 0; i < n; i++)
                enqueue(srv.url, NULL, queue, ids[i]);
        snprintf(body, sizeof(body), "{\"worker\":\"%s\",\"max\":%d}", worker, n);
        claim(srv.url, NULL, queue, body, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "jobs")), n);
        for (int i = 0; i < n; i++) {
                char p[32];
                snprintf(p, sizeof(p), "jobs[%d].id", i);
                snprintf(ids[i], 24, "%s", jpath_str(r.json, p));
                snprintf(p, sizeof(p), "jobs[%d].lease", i);
                snprintf(leases[i], 48, "%s", jpath_str(r.json, p));
        }
        http_res_free(&r);
}

static void counts_after_settles(void **state)
{
        char q[64], ids[4][24], leases[4][48], path[96], body[512];
        struct http_res r;
        int64_t seen0;

        (void)state;
        harness_unique("wc", q, sizeof(q));
        claim_n(q, "cnt-1", 4, ids, leases);
        assert_int_equal(get_worker(srv.url, NULL, "cnt-1", &r), 200);
        assert_int_equal(json_array_size(jpath(r.json, "worker.in_flight")), 4);
        seen0 = harness_parse_time(jpath_str(r.json, "worker.last_seen"));
        http_res_free(&r);

        snprintf(path, sizeof(path), "/v1/jobs/%s/complete", ids[0]);
        http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"result\":1}", leases[0]);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        /* A repeat of the same settle is not counted again. */
        http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"result\":1}", leases[0]);
        assert_int_equal(r.status, 200);
        assert_true(jpath_true(r.json, "repeat"));
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/jobs/%s/fail", ids[1]);
        http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"error\":\"x\"}", leases[1]);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        snprintf(body, sizeof(body),
                 "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\"},"
                 "{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"fail\",\"error\":\"y\"}]}",
                 ids[2], leases[2], ids[3], leases[3]);
        harness_expect(srv.url, NULL, "POST", "/v1/settle", body, 200, &r);
        assert_true(jpath_true(r.json, "items[0].ok"));
        assert_true(jpath_true(r.json, "items[1].ok"));
        http_res_free(&r);

        assert_int_equal(get_worker(srv.url, NULL, "cnt-1", &r), 200);
        assert_int_equal(jpath_int(r.json, "worker.completed"), 2);
        assert_int_equal(jpath_int(r.json, "worker.failed"), 2);
        assert_int_equal(json_array_size(jpath(r.json, "worker.in_flight")), 0);
        /* Settles count as seen (they always write). */
        assert_true(harness_parse_time(jpath_str(r.json, "worker.last_seen")) >= seen0);
        http_res_free(&r);

        /* A heartbeat is a sign of life too, written once a second at most. */
        claim_n(q, "cnt-1", 1, ids, leases);
        assert_int_equal(get_worker(srv.url, NULL, "cnt-1", &r), 200);
        seen0 = harness_parse_time(jpath_str(r.json, "worker.last_seen"));
        http_res_free(&r);
        harness_sleep_ms(1100);
        snprintf(path, sizeof(path), "/v1/jobs/%s/heartbeat", ids[0]);
        http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\"}", leases[0]);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(get_worker(srv.url, NULL, "cnt-1", &r), 200);
        assert_true(harness_parse_time(jpath_str(r.json, "worker.last_seen")) >= seen0 + 1000);
        assert_int_equal(json_array_size(jpath(r.json, "worker.in_flight")), 1);
        http_res_free(&r);
}

/* Waits (bounded) until worker id's health is want; returns the ms waited
 * since from_ms, or -1 if it never was. */
static int64_t wait_health(const char *id, const char *want, int64_t from_ms, int64_t bound_ms)
{
        for (int i = 0; i < 200; i++) {
                struct http_res r;
                bool ok;

                assert_int_equal(get_worker(srv.url, NULL, id, &r), 200);
                ok = strcmp(jpath_str(r.json, "worker.health"), want) == 0;
                http_res_free(&r);
                if (ok)
                        return harness_wall_ms() - from_ms;
                if (harness_wall_ms() - from_ms > bound_ms)
                        return -1;
                harness_sleep_ms(100);
        }
        return -1;
}

static void health_transitions_and_forgetting(void **state)
{
        char q[64];
        struct http_res r;
        int64_t t0, stale_ms, lost_ms;

        (void)state;
        harness_unique("wh", q, sizeof(q));
        /* lease_ms 500, no job: its lease period is 500 ms. */
        t0 = harness_wall_ms();
        claim(srv.url, NULL, q, "{\"worker\":\"hl-1\",\"lease_ms\":500}", 200, &r);
        http_res_free(&r);
        assert_int_equal(get_worker(srv.url, NULL, "hl-1", &r), 200);
        assert_string_equal(jpath_str(r.json, "worker.health"), "healthy");
        assert_int_equal(jpath_int(r.json, "worker.lease_period_ms"), 500);
        http_res_free(&r);
        /* Stale from 2 periods (1 s) until lost (LOST_MS). */
        stale_ms = wait_health("hl-1", "stale", t0, LOST_MS);
        assert_true(stale_ms >= 1000 && stale_ms < LOST_MS);
        lost_ms = wait_health("hl-1", "lost", t0, LOST_MS + 2000);
        assert_true(lost_ms >= LOST_MS && lost_ms < LOST_MS + 2000);
        /* Forgotten after the retention, by the scheduler's sweep. */
        for (int i = 0; i < 100; i++) {
                int st = get_worker(srv.url, NULL, "hl-1", &r);
                http_res_free(&r);
                if (st == 404)
                        break;
                assert_int_equal(st, 200);
                assert_true(harness_wall_ms() - t0 < RETENTION_MS + 3000);
                harness_sleep_ms(100);
        }
        assert_true(harness_wall_ms() - t0 >= RETENTION_MS);
        assert_int_equal(get_worker(srv.url, NULL, "hl-1", &r), 404);
        http_res_free(&r);

        /* A long poll counts as its lease period: wait_ms 200 is the period
         * of a claim whose lease is 100 ms. */
        t0 = harness_wall_ms();
        claim(srv.url, NULL, q, "{\"worker\":\"hl-2\",\"lease_ms\":100,\"wait_ms\":200}", 200, &r);
        http_res_free(&r);
        assert_int_equal(get_worker(srv.url, NULL, "hl-2", &r), 200);
        assert_int_equal(jpath_int(r.json, "worker.lease_period_ms"), 200);
        http_res_free(&r);
}

static void list_pages_and_tenants(void **state)
{
        char tenant[48], token[128], rd[128], ids[5][64], q[64], jid[24];
        struct http_res r;
        const char *next;

        (void)state;
        harness_unique("wt", tenant, sizeof(tenant));
        harness_make_key(&srv, tenant, "[\"work\",\"jobs:read\",\"jobs:write\"]", NULL, token,
                         NULL);
        harness_unique("wl", q, sizeof(q));
        enqueue(srv.url, token, q, jid);
        for (int i = 0; i < 5; i++) {
                char body[400];
                snprintf(ids[i], sizeof(ids[i]), "%s-w%d", tenant, i);
                snprintf(body, sizeof(body), "{\"worker\":\"%s\"}", ids[i]);
                claim(srv.url, token, q, body, 200, &r);
                http_res_free(&r);
        }
        harness_expect(srv.url, token, "GET", "/v1/workers?limit=2", NULL, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "workers")), 2);
        assert_string_equal(jpath_str(r.json, "workers[0].id"), ids[0]);
        assert_string_equal(jpath_str(r.json, "workers[1].id"), ids[1]);
        assert_string_equal(jpath_str(r.json, "next"), ids[1]);
        /* The first one holds the job. */
        assert_string_equal(jpath_str(r.json, "workers[0].in_flight[0]"), jid);
        http_res_free(&r);
        {
                char path[200];
                snprintf(path, sizeof(path), "/v1/workers?limit=2&after=%s", ids[1]);
                harness_expect(srv.url, token, "GET", path, NULL, 200, &r);
                assert_int_equal(json_array_size(jpath(r.json, "workers")), 2);
                assert_string_equal(jpath_str(r.json, "workers[0].id"), ids[2]);
                next = jpath_str(r.json, "next");
                assert_string_equal(next, ids[3]);
                http_res_free(&r);
                snprintf(path, sizeof(path), "/v1/workers?limit=2&after=%s", ids[3]);
                harness_expect(srv.url, token, "GET", path, NULL, 200, &r);
                assert_int_equal(json_array_size(jpath(r.json, "workers")), 1);
                assert_string_equal(jpath_str(r.json, "workers[0].id"), ids[4]);
                assert_true(json_is_null(jpath(r.json, "next")));
                http_res_free(&r);
        }
        /* Another tenant sees none of them. */
        harness_expect(srv.url, NULL, "GET", "/v1/workers?limit=1000", NULL, 200, &r);
        for (size_t i = 0; i < json_array_size(jpath(r.json, "workers")); i++)
                assert_null(strstr(json_string_value(json_object_get(
                                       json_array_get(jpath(r.json, "workers"), i), "id")),
                                   tenant));
        http_res_free(&r);
        assert_int_equal(get_worker(srv.url, NULL, ids[0], &r), 404);
        http_res_free(&r);
        assert_int_equal(get_worker(srv.url, token, ids[0], &r), 200);
        http_res_free(&r);
        /* jobs:read is the scope; a work-only key is refused. */
        harness_make_key(&srv, tenant, "[\"work\"]", NULL, rd, NULL);
        harness_expect(srv.url, rd, "GET", "/v1/workers", NULL, 403, &r);
        http_res_free(&r);
        /* Strict queries. */
        harness_expect(srv.url, token, "GET", "/v1/workers?order=desc", NULL, 400, &r);
        assert_http_error(&r, 400, "unknown_parameter", "order");
        http_res_free(&r);
}

/* A claim with body is refused with status, code and field; no worker is
 * registered and the queued job is still queued. */
static void refused(const char *queue, const char *jid, const char *worker, const char *body,
                    int status, const char *code, const char *field)
{
        struct http_res r;

        claim(srv.url, NULL, queue, body, status, &r);
        assert_http_error(&r, status, code, field);
        http_res_free(&r);
        assert_int_equal(get_worker(srv.url, NULL, worker, &r), 404);
        http_res_free(&r);
        assert_string_equal(job_state(jid), "queued");
}

static void bad_info_refused(void **state)
{
        char q[64], jid[24], body[16384];
        char *big = harness_repeat('x', 256), *huge = harness_repeat('h', 256);
        int n;

        (void)state;
        harness_unique("wr", q, sizeof(q));
        enqueue(srv.url, NULL, q, jid);
        refused(q, jid, "bad-1", "{\"worker\":\"bad-1\",\"info\":\"box\"}", 400, "invalid_field",
                "info");
        refused(q, jid, "bad-1", "{\"worker\":\"bad-1\",\"info\":{\"x\":1}}", 400, "unknown_field",
                "info.x");
        refused(q, jid, "bad-1", "{\"worker\":\"bad-1\",\"attempts\":3}", 400, "unknown_field",
                "attempts");
        refused(q, jid, "bad-1", "{\"worker\":\"bad-1\",\"info\":{\"pid\":0}}", 400,
                "invalid_field", "info.pid");
        refused(q, jid, "bad-1", "{\"worker\":\"bad-1\",\"info\":{\"pid\":\"12\"}}", 400,
                "invalid_field", "info.pid");
        refused(q, jid, "bad-1", "{\"worker\":\"bad-1\",\"info\":{\"host\":7}}", 400,
                "invalid_field", "info.host");
        snprintf(body, sizeof(body), "{\"worker\":\"bad-1\",\"info\":{\"host\":\"%s\"}}", huge);
        refused(q, jid, "bad-1", body, 400, "info_value_too_long", "info.host");
        refused(q, jid, "bad-1", "{\"worker\":\"bad-1\",\"info\":{\"labels\":[\"a\"]}}", 400,
                "invalid_field", "info.labels");
        refused(q, jid, "bad-1", "{\"worker\":\"bad-1\",\"info\":{\"labels\":{\"a\":1}}}", 400,
                "invalid_field", "info.labels.a");
        snprintf(body, sizeof(body), "{\"worker\":\"bad-1\",\"info\":{\"labels\":{\"a\":\"%sx\"}}}",
                 big);
        refused(q, jid, "bad-1", body, 400, "info_value_too_long", "info.labels.a");
        n = snprintf(body, sizeof(body), "{\"worker\":\"bad-1\",\"info\":{\"labels\":{");
        for (int i = 0; i < 33; i++)
                n += snprintf(body + n, sizeof(body) - (size_t)n, "%s\"k%d\":\"v\"", i ? "," : "",
                              i);
        snprintf(body + n, sizeof(body) - (size_t)n, "}}}");
        refused(q, jid, "bad-1", body, 400, "too_many_labels", "info.labels");
        /* 32 labels of 256-byte values: each within its bounds, the whole
         * over 4 KiB. */
        n = snprintf(body, sizeof(body), "{\"worker\":\"bad-1\",\"info\":{\"labels\":{");
        for (int i = 0; i < 32; i++)
                n += snprintf(body + n, sizeof(body) - (size_t)n, "%s\"k%d\":\"%s\"", i ? "," : "",
                              i, big);
        snprintf(body + n, sizeof(body) - (size_t)n, "}}}");
        refused(q, jid, "bad-1", body, 413, "info_too_large", "info");
        free(big);
        free(huge);
}

/* Claims one job of queue through libbaton as worker; *n: the jobs got. */
static int lib_claim_rc(struct baton_client *c, const char *queue, const char *worker, size_t *n)
{
        struct baton_claim_opts o = {.worker = worker, .max = 1};
        struct baton_jobs *jobs = NULL;
        int rc = baton_claim(c, queue, &o, &jobs);

        *n = jobs ? jobs->n : 0;
        baton_jobs_free(jobs);
        return rc;
}

/* lib_claim_rc that must succeed; returns the number of jobs got. */
static size_t lib_claim(struct baton_client *c, const char *queue, const char *worker)
{
        size_t n = 0;

        assert_ok(c, lib_claim_rc(c, queue, worker, &n));
        return n;
}

static void client_worker_info(void **state)
{
        static const char *const bad[] = {"[1]", "\"box\"", "{\"host\":", "{\"a\":1,\"a\":2}",
                                          "",    "null"};
        char q[64], id[24], id2[24];
        struct baton_client *c = NULL;
        size_t got = 9;
        const struct baton_error *e;
        struct http_res r;

        (void)state;
        harness_unique("wl", q, sizeof(q));
        assert_int_equal(baton_client_new(srv.url, harness_key_for(srv.url), &c), 0);
        /* Set, sent with the claim, shown by the registry (spaces as given are
         * fine: the text is sent compact). */
        assert_int_equal(baton_client_set_worker_info(
                             c, "{ \"host\": \"lib-box\", \"pid\": 31337, \"version\": \"9.9\", "
                                "\"labels\": {\"zone\": \"eu-2\"} }"),
                         0);
        enqueue(srv.url, NULL, q, id);
        assert_int_equal(lib_claim(c, q, "lib-1"), 1);
        assert_int_equal(get_worker(srv.url, NULL, "lib-1", &r), 200);
        assert_string_equal(jpath_str(r.json, "worker.info.host"), "lib-box");
        assert_int_equal(jpath_int(r.json, "worker.info.pid"), 31337);
        assert_string_equal(jpath_str(r.json, "worker.info.version"), "9.9");
        assert_string_equal(jpath_str(r.json, "worker.info.labels.zone"), "eu-2");
        http_res_free(&r);

        /* Not a JSON object: BATON_EINVAL locally, the reason kept, the info
         * set before still in force, nothing sent (no HTTP status). */
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(baton_client_set_worker_info(c, bad[i]), BATON_EINVAL);
                e = baton_client_last_error(c);
                assert_int_equal(e->rc, BATON_EINVAL);
                assert_int_equal(e->http_status, 0);
                assert_non_null(strstr(e->message, "worker info"));
        }
        assert_int_equal(lib_claim(c, q, "lib-2"), 0);
        assert_int_equal(get_worker(srv.url, NULL, "lib-2", &r), 200);
        assert_string_equal(jpath_str(r.json, "worker.info.host"), "lib-box");
        http_res_free(&r);

        /* Members the server refuses are refused on the claim, with its field. */
        assert_int_equal(baton_client_set_worker_info(c, "{\"pid\":0}"), 0);
        enqueue(srv.url, NULL, q, id2);
        assert_err(c, lib_claim_rc(c, q, "lib-3", &got), BATON_EINVAL, 400, "invalid_field",
                   "info.pid");
        assert_int_equal(got, 0);
        assert_int_equal(get_worker(srv.url, NULL, "lib-3", &r), 404);
        http_res_free(&r);
        assert_string_equal(job_state(id2), "queued");

        /* NULL stops sending it: a new worker has none, an old one keeps its own. */
        assert_int_equal(baton_client_set_worker_info(c, NULL), 0);
        assert_int_equal(lib_claim(c, q, "lib-4"), 1);
        assert_int_equal(get_worker(srv.url, NULL, "lib-4", &r), 200);
        assert_true(json_is_null(jpath(r.json, "worker.info")));
        http_res_free(&r);
        assert_int_equal(lib_claim(c, q, "lib-1"), 0);
        assert_int_equal(get_worker(srv.url, NULL, "lib-1", &r), 200);
        assert_string_equal(jpath_str(r.json, "worker.info.host"), "lib-box");
        http_res_free(&r);
        baton_client_free(c);
}

static void progress_number(void **state)
{
        char q[64], ids[1][24], leases[1][48], path[96], job[96];
        struct http_res r;

        (void)state;
        harness_unique("wp", q, sizeof(q));
        claim_n(q, "prog-1", 1, ids, leases);
        snprintf(path, sizeof(path), "/v1/jobs/%s/heartbeat", ids[0]);
        snprintf(job, sizeof(job), "/v1/jobs/%s", ids[0]);
        http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"progress\":42}", leases[0]);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        harness_expect(srv.url, NULL, "GET", job, NULL, 200, &r);
        assert_int_equal(jpath_int(r.json, "job.progress.percent"), 42);
        http_res_free(&r);
        http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"progress\":12.5}", leases[0]);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        /* Out of range or of another type: refused, the progress kept. */
        for (int i = 0; i < 3; i++) {
                static const char *const bad[] = {"100.5", "-1", "true"};
                http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"progress\":%s}",
                           leases[0], bad[i]);
                assert_http_error(&r, 400, "invalid_field", "progress");
                http_res_free(&r);
                harness_expect(srv.url, NULL, "GET", job, NULL, 200, &r);
                assert_true(json_number_value(jpath(r.json, "job.progress.percent")) == 12.5);
                http_res_free(&r);
        }
}

/* A retention shorter than the lost time is refused at start (exit 2), before
 * anything is opened. */
static void retention_below_lost_refused(void **state)
{
        static const char *const args[] = {
            "--worker-lost-ms",           "5000", "--worker-retention-ms", "4000", "--data",
            "/nonexistent/never-created", NULL};
        struct harness_run run = {.args = args, .timeout_ms = 5000};

        (void)state;
        assert_int_equal(harness_run(&run), 2);
        assert_contains(run.err, "worker-lost-ms <= worker-retention-ms");
        harness_run_free(&run);
}

/* Two nodes on one PostgreSQL schema: a worker that claims on one is listed
 * by the other. */
static void seen_on_every_node(void **state)
{
        struct harness_cluster *fx = *state;
        struct http_res r;
        char q[64], jid[24];

        assert_non_null(fx);
        harness_unique("wn", q, sizeof(q));
        enqueue(fx->n[0].url, fx->admin, q, jid);
        claim(fx->n[1].url, fx->admin, q, "{\"worker\":\"node-w\",\"info\":{\"host\":\"n2\"}}", 200,
              &r);
        http_res_free(&r);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(get_worker(fx->n[i].url, fx->admin, "node-w", &r), 200);
                assert_string_equal(jpath_str(r.json, "worker.info.host"), "n2");
                assert_string_equal(jpath_str(r.json, "worker.in_flight[0]"), jid);
                http_res_free(&r);
        }
        harness_expect(fx->n[0].url, fx->admin, "GET", "/v1/workers", NULL, 200, &r);
        assert_string_equal(jpath_str(r.json, "workers[0].id"), "node-w");
        http_res_free(&r);
}

static int cluster_up(void **state)
{
        return harness_cluster_up(state, 2, "wn", NULL);
}

int main(void)
{
        static const char *const args[] = {
            "--lease-min-ms", "100", "--worker-lost-ms", "3000", "--worker-retention-ms",
            "5000",           NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(registered_on_claim_with_info),
            cmocka_unit_test(counts_after_settles),
            cmocka_unit_test(health_transitions_and_forgetting),
            cmocka_unit_test(list_pages_and_tenants),
            cmocka_unit_test(bad_info_refused),
            cmocka_unit_test(client_worker_info),
            cmocka_unit_test(progress_number),
            cmocka_unit_test(retention_below_lost_refused),
        };
        const struct CMUnitTest pg_tests[] = {
            cmocka_unit_test_setup_teardown(seen_on_every_node, cluster_up, harness_cluster_down),
        };
        const char *store = getenv("BATON_TEST_STORE");
        int rc;

        harness_group(&srv, args, &cl);
        rc = cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
        if (!rc && store && strcmp(store, "postgres") == 0)
                rc = cmocka_run_group_tests(pg_tests, NULL, NULL);
        return rc;
}
