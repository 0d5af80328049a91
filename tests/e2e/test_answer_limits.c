/*
 * test_answer_limits.c: end-to-end tests of the bounds of issue 13's
 * "Answers and objects without a size bound" (docs/api.md "Limits and their
 * errors"): every answer has a byte budget (--max-response-bytes), so a list
 * of big jobs stops early with its cursor and the cursor reaches every job
 * exactly once, a claim hands out fewer jobs and leaves the others queued, a
 * flow's GET pages its jobs; a job bigger than the budget is still answered,
 * alone. Cron owner, description and the pause note are bounded (400, nothing
 * changed). Queues per tenant are capped (--max-queues, 409 too_many_queues
 * from every way of making one, nothing changed) and /metrics has per-queue
 * series for at most --metrics-max-queues queues, the rest under "_other".
 *
 * One server with a small budget (256 KiB) and a low queue cap for the most
 * of it, plus one for the metrics bound. Every loop is bounded by a count.
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

#define BUDGET 262144     /* --max-response-bytes of the shared server */
#define BIG_PAYLOAD 20000 /* bytes of the payload of most jobs below */
#define HUGE_PAYLOAD 300000
#define QUEUES_MAX 8

static struct harness srv;

/* A key of a fresh tenant with every scope a test here needs. */
static void fresh_tenant(char *tok)
{
        char t[48];

        harness_unique("al", t, sizeof(t));
        harness_make_key(&srv, t,
                         "[\"jobs:write\", \"jobs:read\", \"work\", \"cron:write\", \"cron:read\"]",
                         NULL, tok, NULL);
}

/* Enqueues n jobs on q as key with a payload string of size bytes; the ids go
 * to ids (n of them). Job huge_at (or -1) gets HUGE_PAYLOAD bytes instead. */
static void enqueue_big(const char *key, const char *q, int n, int huge_at, char ids[][24])
{
        char *pad = harness_repeat('x', BIG_PAYLOAD);
        char *hpad = harness_repeat('y', HUGE_PAYLOAD);
        size_t cap = HUGE_PAYLOAD + 256;
        char *body = malloc(cap);

        assert_non_null(body);
        for (int i = 0; i < n; i++) {
                snprintf(body, cap,
                         "{\"queue\": \"%s\", \"type\": \"t\", \"payload\": {\"p\": \"%s\"}}", q,
                         i == huge_at ? hpad : pad);
                harness_http_enqueue(srv.url, key, body, ids[i], 24);
        }
        free(body);
        free(pad);
        free(hpad);
}

/* Pages through path (the cursor joins its query, or starts one) as key with cursor "after",
 * checking each answer's size; collects the ids of member arr into got (at most cap). Returns the
 * number of pages. */
static int page_all(const char *key, const char *path, const char *arr, char got[][24], int cap,
                    int *n_got, int *biggest_page)
{
        char next[64] = "", url[512];
        int pages = 0;

        *n_got = 0;
        *biggest_page = 0;
        for (; pages < 200; pages++) {
                struct http_res r;
                json_t *items;
                const char *nx;

                snprintf(url, sizeof(url), "%s%s%s", path,
                         *next ? (strchr(path, '?') ? "&after=" : "?after=") : "", next);
                assert_int_equal(http_json_as(srv.url, key, "GET", url, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                items = jpath(r.json, arr);
                assert_true(json_is_array(items));
                /* The budget holds unless one item alone is bigger. */
                if (json_array_size(items) > 1)
                        assert_true(r.body_len <= BUDGET);
                if ((int)json_array_size(items) > *biggest_page)
                        *biggest_page = (int)json_array_size(items);
                for (size_t i = 0; i < json_array_size(items); i++) {
                        assert_true(*n_got < cap);
                        snprintf(
                            got[(*n_got)++], 24, "%s",
                            json_string_value(json_object_get(json_array_get(items, i), "id")));
                }
                nx = jpath_str(r.json, strchr(arr, '.') ? "flow.next" : "next");
                if (!nx) {
                        http_res_free(&r);
                        return pages + 1;
                }
                /* A cursor always moves forward. */
                assert_true(json_array_size(items) > 0);
                snprintf(next, sizeof(next), "%s", nx);
                http_res_free(&r);
        }
        fail_msg("%s did not end in 200 pages", path);
        return pages;
}

/* ---- lists ---- */

/* 40 jobs of ~20 KB (800 KB) and one of 300 KB, over a 256 KiB budget: the
 * list of 1,000 stops early with a cursor each time, the cursor reaches every
 * job exactly once in order, and the 300 KB job comes alone. */
static void list_stops_early_with_cursor(void **state)
{
        char key[64], q[48], path[160];
        char ids[41][24], got[64][24];
        int n_got = 0, biggest = 0, pages;

        (void)state;
        fresh_tenant(key);
        harness_unique("lq", q, sizeof(q));
        enqueue_big(key, q, 41, 20, ids);
        snprintf(path, sizeof(path), "/v1/jobs?queue=%s&limit=1000", q);
        pages = page_all(key, path, "jobs", got, 64, &n_got, &biggest);
        assert_int_equal(n_got, 41);
        for (int i = 0; i < 41; i++)
                assert_string_equal(got[i], ids[i]);
        /* 800 KB cannot come in fewer than 4 pages of 256 KiB (plus the big
         * one alone); a page never holds more than fits. */
        assert_true(pages >= 5);
        assert_true(biggest < 41);
        assert_true(biggest * BIG_PAYLOAD <= BUDGET);
        /* The dead-letter list pages the same way (nothing dead: empty). */
        snprintf(path, sizeof(path), "/v1/queues/%s/dead?limit=1000", q);
        pages = page_all(key, path, "jobs", got, 64, &n_got, &biggest);
        assert_int_equal(n_got, 0);
        assert_int_equal(pages, 1);
}

/* Timers with big payloads: the timer list pages under the budget too. */
static void timer_list_pages(void **state)
{
        char key[64], q[48], path[160], body[BIG_PAYLOAD + 256], tk[64];
        char got[64][24];
        char *pad = harness_repeat('z', BIG_PAYLOAD);
        int n_got = 0, biggest = 0;
        struct http_res r;

        (void)state;
        fresh_tenant(key);
        harness_unique("tq", q, sizeof(q));
        for (int i = 0; i < 30; i++) {
                snprintf(tk, sizeof(tk), "/v1/timers/tk%02d", i);
                snprintf(body, sizeof(body),
                         "{\"delay_ms\": 3600000, \"queue\": \"%s\", \"type\": \"t\","
                         " \"payload\": {\"p\": \"%s\"}}",
                         q, pad);
                assert_int_equal(http_json_as(srv.url, key, "PUT", tk, body, &r), 0);
                if (r.status != 201)
                        fprintf(stderr, "%s\n", r.body);
                assert_int_equal(r.status, 201);
                http_res_free(&r);
        }
        free(pad);
        snprintf(path, sizeof(path), "/v1/timers?limit=1000");
        /* Timers are listed by key; their objects carry "key", not "id". */
        {
                char next[64] = "", url[256];
                int total = 0, pages = 0;
                for (; pages < 50; pages++) {
                        const char *nx;
                        snprintf(url, sizeof(url), "%s%s%s", path,
                                 *next ? (strchr(path, '?') ? "&after=" : "?after=") : "", next);
                        assert_int_equal(http_json_as(srv.url, key, "GET", url, NULL, &r), 0);
                        assert_int_equal(r.status, 200);
                        assert_true(r.body_len <= BUDGET);
                        total += (int)json_array_size(jpath(r.json, "timers"));
                        if ((int)json_array_size(jpath(r.json, "timers")) > biggest)
                                biggest = (int)json_array_size(jpath(r.json, "timers"));
                        nx = jpath_str(r.json, "next");
                        if (!nx) {
                                http_res_free(&r);
                                break;
                        }
                        snprintf(next, sizeof(next), "%s", nx);
                        http_res_free(&r);
                }
                assert_int_equal(total, 30);
                assert_true(pages >= 2);
                assert_true(biggest < 30);
        }
        (void)got;
        (void)n_got;
}

/* A flow of 30 jobs of 20 KB: GET /v1/flows/{id} answers a page with
 * flow.next, and ?after= reaches every job exactly once; the flow's state is
 * judged on all of them. */
static void flow_get_pages(void **state)
{
        char key[64], q[48], path[160];
        char *pad = harness_repeat('w', BIG_PAYLOAD);
        size_t cap = 30 * (BIG_PAYLOAD + 128) + 64;
        char *body = malloc(cap);
        char got[64][24];
        int n_got = 0, biggest = 0, pages;
        size_t len;
        struct http_res r;

        (void)state;
        assert_non_null(body);
        fresh_tenant(key);
        harness_unique("fq", q, sizeof(q));
        len = (size_t)snprintf(body, cap, "{\"jobs\": [");
        for (int i = 0; i < 30; i++)
                len += (size_t)snprintf(body + len, cap - len,
                                        "%s{\"ref\": \"j%d\", \"queue\": \"%s\", \"type\": \"t\","
                                        " \"payload\": {\"p\": \"%s\"}}",
                                        i ? ", " : "", i, q, pad);
        snprintf(body + len, cap - len, "]}");
        assert_int_equal(http_json_as(srv.url, key, "POST", "/v1/flows", body, &r), 0);
        assert_int_equal(r.status, 201);
        snprintf(path, sizeof(path), "/v1/flows/%s", jpath_str(r.json, "flow.id"));
        http_res_free(&r);
        free(body);
        free(pad);
        pages = page_all(key, path, "flow.jobs", got, 64, &n_got, &biggest);
        assert_int_equal(n_got, 30);
        for (int i = 1; i < n_got; i++)
                assert_true(strtoll(got[i], NULL, 10) > strtoll(got[i - 1], NULL, 10));
        assert_true(pages >= 2);
}

/* 20 schedules whose job templates hold 20 KB payloads: the cron list pages
 * under the budget and its cursor reaches every schedule once. */
static void cron_list_pages(void **state)
{
        char key[64], path[64], next[64] = "", url[160];
        char *pad = harness_repeat('c', BIG_PAYLOAD);
        char *body = malloc(BIG_PAYLOAD + 512);
        int total = 0, pages = 0, biggest = 0;
        struct http_res r;

        (void)state;
        assert_non_null(body);
        fresh_tenant(key);
        for (int i = 0; i < 20; i++) {
                snprintf(path, sizeof(path), "/v1/cron/big%02d", i);
                snprintf(
                    body, BIG_PAYLOAD + 512,
                    "{\"cron\": \"0 3 * * *\", \"job\": {\"queue\": \"cronq\", \"type\": \"t\","
                    " \"payload\": {\"p\": \"%s\"}}}",
                    pad);
                assert_int_equal(http_json_as(srv.url, key, "PUT", path, body, &r), 0);
                assert_int_equal(r.status, 201);
                http_res_free(&r);
        }
        free(body);
        free(pad);
        for (; pages < 50; pages++) {
                const char *nx;
                size_t n;
                snprintf(url, sizeof(url), "/v1/cron?limit=1000%s%s", *next ? "&after=" : "", next);
                assert_int_equal(http_json_as(srv.url, key, "GET", url, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                assert_true(r.body_len <= BUDGET);
                n = json_array_size(jpath(r.json, "schedules"));
                for (size_t i = 0; i < n; i++) {
                        char want[16];
                        snprintf(want, sizeof(want), "big%02d", total + (int)i);
                        assert_string_equal(
                            json_string_value(json_object_get(
                                json_array_get(jpath(r.json, "schedules"), i), "key")),
                            want);
                }
                total += (int)n;
                biggest = (int)n > biggest ? (int)n : biggest;
                nx = jpath_str(r.json, "next");
                if (!nx) {
                        http_res_free(&r);
                        break;
                }
                snprintf(next, sizeof(next), "%s", nx);
                http_res_free(&r);
        }
        assert_int_equal(total, 20);
        assert_true(pages >= 1);
        assert_true(biggest < 20);
}

/* ---- claims ---- */

/* A claim of 1,000 over 40 jobs of 20 KB returns what fits in the budget;
 * the others stay queued, untouched, and later claims get each exactly once.
 * A job bigger than the budget is handed out alone. */
static void claim_returns_fewer(void **state)
{
        char key[64], q[48], path[160];
        char ids[41][24];
        int seen[41] = {0};
        int claimed = 0, calls = 0;
        struct http_res r;

        (void)state;
        fresh_tenant(key);
        harness_unique("cq", q, sizeof(q));
        enqueue_big(key, q, 41, 40, ids);
        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        while (claimed < 41 && calls < 100) {
                json_t *jobs;
                int64_t queued;
                calls++;
                assert_int_equal(http_json_as(srv.url, key, "POST", path,
                                              "{\"worker\": \"w\", \"max\": 1000}", &r),
                                 0);
                assert_int_equal(r.status, 200);
                jobs = jpath(r.json, "jobs");
                assert_true(json_array_size(jobs) > 0);
                if (json_array_size(jobs) > 1)
                        assert_true(r.body_len <= BUDGET);
                for (size_t i = 0; i < json_array_size(jobs); i++) {
                        const char *id =
                            json_string_value(json_object_get(json_array_get(jobs, i), "id"));
                        int k = -1;
                        for (int j = 0; j < 41; j++)
                                if (strcmp(ids[j], id) == 0)
                                        k = j;
                        assert_true(k >= 0);
                        assert_int_equal(seen[k], 0);
                        seen[k] = 1;
                        /* The huge one (last enqueued, so last claimed) is alone. */
                        if (k == 40)
                                assert_int_equal(json_array_size(jobs), 1);
                }
                claimed += (int)json_array_size(jobs);
                http_res_free(&r);
                /* What this claim did not return is still queued. */
                snprintf(path, sizeof(path), "/v1/jobs?queue=%s&state=queued&limit=1", q);
                assert_int_equal(http_json_as(srv.url, key, "GET", path, NULL, &r), 0);
                queued = (int64_t)json_array_size(jpath(r.json, "jobs"));
                assert_int_equal(queued, claimed < 41 ? 1 : 0);
                http_res_free(&r);
                snprintf(path, sizeof(path), "/v1/queues/%s", q);
                assert_int_equal(http_json_as(srv.url, key, "GET", path, NULL, &r), 0);
                assert_int_equal(jpath_int(r.json, "queue.counts.queued"), 41 - claimed);
                assert_int_equal(jpath_int(r.json, "queue.counts.running"), claimed);
                http_res_free(&r);
                snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        }
        assert_int_equal(claimed, 41);
        /* 800 KB over 256 KiB answers: more than three claims. */
        assert_true(calls >= 5);
}

/* ---- cron text fields ---- */

static void put_cron(const char *key, const char *path, const char *owner, const char *desc,
                     struct http_res *r)
{
        char *body = malloc(8192);

        assert_non_null(body);
        snprintf(body, 8192,
                 "{\"cron\": \"0 3 * * *\", \"owner\": \"%s\", \"description\": \"%s\","
                 " \"job\": {\"queue\": \"cronq\", \"type\": \"t\"}}",
                 owner, desc);
        assert_int_equal(http_json_as(srv.url, key, "PUT", path, body, r), 0);
        free(body);
}

static void cron_text_limits(void **state)
{
        char key[64];
        char *d1000 = harness_repeat('d', 1000), *d1001 = harness_repeat('d', 1001);
        char *o200 = harness_repeat('o', 200), *o201 = harness_repeat('o', 201);
        char *n1001 = harness_repeat('n', 1001), *n1000 = harness_repeat('n', 1000);
        char *body = malloc(16384);
        struct http_res r;

        (void)state;
        assert_non_null(body);
        fresh_tenant(key);
        /* At the limits: accepted. */
        put_cron(key, "/v1/cron/ok", o200, d1000, &r);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        /* One byte over: refused, and nothing is made or changed. */
        put_cron(key, "/v1/cron/bad", "team", d1001, &r);
        assert_http_error(&r, 400, "description_too_long", "description");
        http_res_free(&r);
        put_cron(key, "/v1/cron/bad", o201, "d", &r);
        assert_http_error(&r, 400, "owner_too_long", "owner");
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/cron/bad", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_res_free(&r);
        put_cron(key, "/v1/cron/ok", "team", d1001, &r);
        assert_http_error(&r, 400, "description_too_long", "description");
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/cron/ok", NULL, &r), 0);
        assert_string_equal(jpath_str(r.json, "schedule.owner"), o200);
        assert_string_equal(jpath_str(r.json, "schedule.description"), d1000);
        http_res_free(&r);
        /* The registry apply: the second definition is refused, so the first
         * is not applied either. */
        snprintf(body, 16384,
                 "{\"schedules\": [{\"key\": \"reg1\", \"cron\": \"0 4 * * *\", \"job\":"
                 " {\"queue\": \"cronq\", \"type\": \"t\"}}, {\"key\": \"reg2\", \"cron\":"
                 " \"0 5 * * *\", \"description\": \"%s\", \"job\": {\"queue\": \"cronq\","
                 " \"type\": \"t\"}}]}",
                 d1001);
        assert_int_equal(http_json_as(srv.url, key, "PUT", "/v1/cron", body, &r), 0);
        assert_http_error(&r, 400, "description_too_long", "schedules[1].description");
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/cron/reg1", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_res_free(&r);
        /* The pause note. */
        snprintf(body, 16384, "{\"note\": \"%s\"}", n1001);
        assert_int_equal(http_json_as(srv.url, key, "POST", "/v1/cron/ok/pause", body, &r), 0);
        assert_http_error(&r, 400, "note_too_long", "note");
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/cron/ok", NULL, &r), 0);
        assert_true(jpath_true(r.json, "schedule.enabled"));
        http_res_free(&r);
        snprintf(body, 16384, "{\"note\": \"%s\"}", n1000);
        assert_int_equal(http_json_as(srv.url, key, "POST", "/v1/cron/ok/pause", body, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        free(body);
        free(d1000);
        free(d1001);
        free(o200);
        free(o201);
        free(n1000);
        free(n1001);
}

/* ---- queues per tenant ---- */

static int enqueue_on(const char *key, const char *q)
{
        struct http_res r;
        int status;

        char body[256];

        snprintf(body, sizeof(body), "{\"queue\": \"%s\", \"type\": \"t\"}", q);
        assert_int_equal(http_json_as(srv.url, key, "POST", "/v1/jobs", body, &r), 0);
        status = r.status;
        if (status == 409)
                assert_http_error(&r, 409, "too_many_queues", "queue");
        http_res_free(&r);
        return status;
}

/* --max-queues 8: a tenant makes 8 queues (one of them by the cron put, one
 * by a timer); every way of making a ninth answers 409 too_many_queues and
 * changes nothing; existing queues keep working; another tenant has its own
 * allowance; the count survives a restart. */
static void queues_capped_per_tenant(void **state)
{
        char key[64], other[64], admin[64], t[48], body[512];
        struct http_res r;
        int64_t before;

        (void)state;
        harness_unique("qc", t, sizeof(t));
        harness_make_key(&srv, t,
                         "[\"jobs:write\", \"jobs:read\", \"work\", \"cron:write\", \"cron:read\"]",
                         NULL, key, NULL);
        harness_make_key(&srv, t, "[\"admin\"]", NULL, admin, NULL);
        fresh_tenant(other);
        for (int i = 0; i < 6; i++) {
                char q[16];
                snprintf(q, sizeof(q), "q%d", i);
                assert_int_equal(enqueue_on(key, q), 201);
        }
        put_cron(key, "/v1/cron/c7", "o", "d", &r); /* queue "cronq": the 7th */
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "PUT", "/v1/timers/t8",
                                      "{\"delay_ms\": 3600000, \"queue\": \"tq8\","
                                      " \"type\": \"t\"}",
                                      &r),
                         0);
        assert_int_equal(r.status, 201); /* "tq8": the 8th */
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/queues?limit=100", NULL, &r), 0);
        assert_int_equal(json_array_size(jpath(r.json, "queues")), QUEUES_MAX);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/jobs?limit=1000", NULL, &r), 0);
        before = (int64_t)json_array_size(jpath(r.json, "jobs"));
        http_res_free(&r);

        /* A ninth: by enqueue, batch enqueue, flow, timer, cron, settings. */
        assert_int_equal(enqueue_on(key, "q9"), 409);
        assert_int_equal(http_json_as(srv.url, key, "POST", "/v1/jobs",
                                      "{\"jobs\": [{\"queue\": \"q0\", \"type\": \"t\"},"
                                      " {\"queue\": \"q9\", \"type\": \"t\"}]}",
                                      &r),
                         0);
        assert_http_error(&r, 409, "too_many_queues", "queue");
        http_res_free(&r);
        assert_int_equal(
            http_json_as(srv.url, key, "POST", "/v1/flows",
                         "{\"jobs\": [{\"ref\": \"a\", \"queue\": \"q1\", \"type\":"
                         " \"t\"}, {\"ref\": \"b\", \"queue\": \"q9\", \"type\": \"t\","
                         " \"depends_on\": [\"a\"]}]}",
                         &r),
            0);
        assert_http_error(&r, 409, "too_many_queues", "queue");
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "PUT", "/v1/timers/t9",
                                      "{\"delay_ms\": 1000, \"queue\": \"q9\","
                                      " \"type\": \"t\"}",
                                      &r),
                         0);
        assert_http_error(&r, 409, "too_many_queues", "queue");
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/timers/t9", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_res_free(&r);
        snprintf(body, sizeof(body),
                 "{\"cron\": \"0 3 * * *\", \"job\": {\"queue\": \"q9\", \"type\": \"t\"}}");
        assert_int_equal(http_json_as(srv.url, key, "PUT", "/v1/cron/c9", body, &r), 0);
        assert_http_error(&r, 409, "too_many_queues", "queue");
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/cron/c9", NULL, &r), 0);
        assert_int_equal(r.status, 404);
        http_res_free(&r);
        assert_int_equal(
            http_json_as(srv.url, admin, "PATCH", "/v1/queues/q9", "{\"paused\": true}", &r), 0);
        assert_http_error(&r, 409, "too_many_queues", "queue");
        http_res_free(&r);
        /* Nothing changed. */
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/queues?limit=100", NULL, &r), 0);
        assert_int_equal(json_array_size(jpath(r.json, "queues")), QUEUES_MAX);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, key, "GET", "/v1/jobs?limit=1000", NULL, &r), 0);
        assert_int_equal((int64_t)json_array_size(jpath(r.json, "jobs")), before);
        http_res_free(&r);
        /* Existing queues still take jobs and settings; another tenant has
         * its own allowance. */
        assert_int_equal(enqueue_on(key, "q0"), 201);
        assert_int_equal(enqueue_on(key, "tq8"), 201);
        assert_int_equal(
            http_json_as(srv.url, admin, "PATCH", "/v1/queues/q1", "{\"paused\": true}", &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(enqueue_on(other, "q9"), 201);
        /* The count is stored: after a restart the cap still holds. */
        assert_int_equal(harness_shutdown(&srv), 0);
        assert_int_equal(harness_restart(&srv), 0);
        assert_int_equal(enqueue_on(key, "q9"), 409);
        assert_int_equal(enqueue_on(key, "q2"), 201);
}

/* ---- metrics ---- */

/* Number of lines of text starting with prefix. */
static int count_lines(const char *text, const char *prefix)
{
        int n = 0;
        size_t len = strlen(prefix);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, prefix, len) == 0)
                        n++;
        return n;
}

/* --metrics-max-queues 3 with 10 queues of one tenant: counters for 3 queues
 * plus one "_other" series holding the rest, depth gauges for 3 queues, and
 * baton_queues_unreported says how many were left out. */
static void metrics_series_bounded(void **state)
{
        static const char *const args[] = {"--metrics-max-queues", "3", NULL};
        struct harness h;
        struct http_res r;
        char line[128];

        (void)state;
        assert_int_equal(harness_start(&h, args), 0);
        for (int i = 0; i < 10; i++) {
                char body[128];
                snprintf(body, sizeof(body), "{\"queue\": \"mq%d\", \"type\": \"t\"}", i);
                assert_int_equal(http_json(h.url, "POST", "/v1/jobs", body, &r), 0);
                assert_int_equal(r.status, 201);
                http_res_free(&r);
        }
        assert_int_equal(http_json(h.url, "GET", "/metrics", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(count_lines(r.body, "baton_jobs_enqueued_total{"), 4);
        assert_non_null(
            strstr(r.body, "baton_jobs_enqueued_total{tenant=\"_other\",queue=\"_other\"} 7\n"));
        /* 3 queues x 8 states. */
        assert_int_equal(count_lines(r.body, "baton_queue_depth{"), 24);
        assert_int_equal(count_lines(r.body, "baton_queue_paused{"), 3);
        snprintf(line, sizeof(line), "baton_queues_unreported 7\n");
        assert_non_null(strstr(r.body, line));
        http_res_free(&r);
        assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
        static const char *const args[] = {"--max-response-bytes",
                                           "262144",
                                           "--payload-max-bytes",
                                           "400000",
                                           "--max-queues",
                                           "8",
                                           "--lease-min-ms",
                                           "100",
                                           NULL};
        const struct CMUnitTest shared[] = {
            cmocka_unit_test(list_stops_early_with_cursor),
            cmocka_unit_test(timer_list_pages),
            cmocka_unit_test(flow_get_pages),
            cmocka_unit_test(cron_list_pages),
            cmocka_unit_test(claim_returns_fewer),
            cmocka_unit_test(cron_text_limits),
            cmocka_unit_test(queues_capped_per_tenant),
        };
        const struct CMUnitTest alone[] = {
            cmocka_unit_test(metrics_series_bounded),
        };
        int failed;

        harness_group(&srv, args, NULL);
        failed = cmocka_run_group_tests_name("answer_limits", shared, harness_group_up,
                                             harness_group_down);

        failed += cmocka_run_group_tests_name("answer_limits_alone", alone, NULL, NULL);
        return failed ? 1 : 0;
}
