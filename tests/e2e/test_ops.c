/*
 * test_ops.c: end-to-end tests of the operations side of batond: /healthz,
 * /readyz, /metrics (the series docs/api.md and the issue require, with values
 * that follow the work done), X-Request-Id (honoured, generated, echoed on
 * errors, stored on jobs; the exact rules of docs/api.md "Request ids"),
 * graceful stop (SIGTERM during a long-poll claim: the claim is answered, the
 * process exits 0 within a bounded time, and what was acknowledged is there
 * after a restart) and libbaton's transport error when nothing listens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support/harness.h"

static struct harness srv;
static struct baton_client *cl;

static void health_and_ready(void **state)
{
        struct http_res r;
        char ct[128];

        (void)state;
        assert_ok(cl, baton_health(cl));
        assert_ok(cl, baton_ready(cl));
        http_json(srv.url, "GET", "/healthz", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "status"), "ok");
        assert_non_null(http_header(&r, "Content-Type", ct, sizeof(ct)));
        assert_non_null(strstr(ct, "application/json"));
        http_res_free(&r);
        /* The lease is taken on its own connection just after the start: a
         * node may say "starting" for its first moments (bounded: 5 s). */
        for (int i = 0; i < 100; i++) {
                http_json(srv.url, "GET", "/readyz", NULL, &r);
                if (!jpath_str(r.json, "role") || strcmp(jpath_str(r.json, "role"), "starting"))
                        break;
                http_res_free(&r);
                harness_sleep_ms(50);
        }
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "status"), "ready");
        /* The store the harness chose (BATON_TEST_STORE, support/harness.h). */
        assert_string_equal(jpath_str(r.json, "store"), srv.pg.scope[0] ? "postgres" : "sqlite");
        assert_string_equal(jpath_str(r.json, "role"), "leader");
        http_res_free(&r);
}

/* The value of the first sample line that starts with name and contains every
 * label of labels (comma-separated 'k="v"' pairs); -1 when there is none. */
static double metric(const char *text, const char *name, const char *labels)
{
        const char *p = text;
        size_t n = strlen(name);

        while (p && *p) {
                const char *eol = strchr(p, '\n');
                size_t len = eol ? (size_t)(eol - p) : strlen(p);
                char line[1024];

                if (len < sizeof(line) && strncmp(p, name, n) == 0 &&
                    (p[n] == '{' || p[n] == ' ')) {
                        bool all = true;
                        char want[256];
                        const char *l = labels;

                        memcpy(line, p, len);
                        line[len] = '\0';
                        while (l && *l && all) {
                                size_t k = strcspn(l, ",");

                                snprintf(want, sizeof(want), "%.*s", (int)k, l);
                                all = strstr(line, want) != NULL;
                                l += k;
                                if (*l == ',')
                                        l++;
                        }
                        if (all) {
                                const char *v = strrchr(line, ' ');

                                return v ? strtod(v + 1, NULL) : -1;
                        }
                }
                p = eol ? eol + 1 : NULL;
        }
        return -1;
}

/* Asserts a sample's value, printing what the server said when it differs. */
#define assert_metric(body, name, labels, cmp, want)                                               \
        do {                                                                                       \
                const char *labels_ = (labels);                                                    \
                double got_ = metric((body), (name), labels_);                                     \
                if (!(got_ cmp(want))) {                                                           \
                        print_error("%s{%s} = %g, want %s %g\n", (name), labels_ ? labels_ : "",   \
                                    got_, #cmp, (double)(want));                                   \
                        fail();                                                                    \
                }                                                                                  \
        } while (0)

static void metrics_follow_work(void **state)
{
        char q[64], lq[128], ql[160];
        struct baton_enqueue_opts o = {0};
        struct baton_jobs *l;
        struct http_res r;
        char ct[128];
        int i;

        (void)state;
        harness_unique("metrics", q, sizeof(q));
        snprintf(lq, sizeof(lq), "queue=\"%s\"", q);
        /* 5 enqueued; 2 completed; 1 failed and retried; 1 dead; 1 cancelled;
         * 1 scheduled. */
        for (i = 0; i < 4; i++)
                baton_job_free(harness_enqueue(cl, q, "t", NULL));
        o.queue = q;
        o.type = "t";
        o.delay_ms = 60000;
        assert_ok(cl, baton_enqueue(cl, &o, NULL));
        l = harness_claim(cl, q, 4, 0, 0);
        assert_int_equal(l->n, 4);
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
        assert_ok(cl, baton_complete(cl, l->v[1].id, l->v[1].lease, NULL, NULL));
        assert_ok(cl, baton_fail(cl, l->v[2].id, l->v[2].lease, "again", true, 60000, NULL));
        assert_ok(cl, baton_fail(cl, l->v[3].id, l->v[3].lease, "fatal", false, -1, NULL));
        baton_jobs_free(l);

        http_json(srv.url, "GET", "/metrics", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(http_header(&r, "Content-Type", ct, sizeof(ct)));
        assert_non_null(strstr(ct, "text/plain"));
        /* Counters per queue. */
        assert_metric(r.body, "baton_jobs_enqueued_total", lq, ==, 5);
        assert_metric(r.body, "baton_jobs_completed_total", lq, ==, 2);
        assert_metric(r.body, "baton_jobs_retried_total", lq, ==, 1);
        assert_metric(r.body, "baton_jobs_dead_total", lq, ==, 1);
        assert_metric(r.body, "baton_jobs_claimed_total", lq, ==, 4);
        /* Depth per queue and state. */
        snprintf(ql, sizeof(ql), "%s,state=\"scheduled\"", lq);
        assert_metric(r.body, "baton_queue_depth", ql, ==, 1);
        snprintf(ql, sizeof(ql), "%s,state=\"retrying\"", lq);
        assert_metric(r.body, "baton_queue_depth", ql, ==, 1);
        snprintf(ql, sizeof(ql), "%s,state=\"queued\"", lq);
        assert_metric(r.body, "baton_queue_depth", ql, ==, 0);
        /* Histograms: claim-to-settle, enqueue-to-claim, store commits. */
        assert_metric(r.body, "baton_job_run_seconds_count", NULL, >=, 4);
        assert_metric(r.body, "baton_job_wait_seconds_count", NULL, >=, 4);
        assert_non_null(strstr(r.body, "baton_job_run_seconds_bucket{"));
        assert_non_null(strstr(r.body, "baton_job_wait_seconds_bucket{"));
        assert_non_null(strstr(r.body, "baton_store_commit_seconds_bucket{"));
        assert_non_null(strstr(r.body, "le=\"+Inf\""));
        assert_metric(r.body, "baton_store_commit_seconds_count", NULL, >=, 1);
        assert_metric(r.body, "baton_store_batch_size_count", NULL, >=, 1);
        /* HTTP requests per route and status. */
        assert_metric(r.body, "baton_http_requests_total", "status=\"201\"", >=, 5);
        assert_metric(r.body, "baton_http_requests_total", "status=\"200\"", >=, 1);
        /* Type lines. */
        assert_non_null(strstr(r.body, "# TYPE baton_jobs_enqueued_total counter"));
        assert_non_null(strstr(r.body, "# TYPE baton_job_run_seconds histogram"));
        assert_non_null(strstr(r.body, "# TYPE baton_queue_depth gauge"));
        http_res_free(&r);

        /* A 404 is counted under its status. */
        http_json(srv.url, "GET", "/v1/jobs/987654321", NULL, &r);
        http_res_free(&r);
        http_json(srv.url, "GET", "/metrics", NULL, &r);
        assert_metric(r.body, "baton_http_requests_total", "status=\"404\"", >=, 1);
        http_res_free(&r);
}

static void request_ids(void **state)
{
        char q[64], hdr[200], body[256];
        const char *const mine[] = {"X-Request-Id: trace-abc-123", NULL};
        struct http_res r;
        char *longid, line[300];

        (void)state;
        harness_unique("reqid", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"}", q);
        /* Honoured, echoed, stored. */
        http_raw(srv.url, "POST", "/v1/jobs", mine, body, strlen(body), &r);
        assert_int_equal(r.status, 201);
        assert_non_null(http_header(&r, "X-Request-Id", hdr, sizeof(hdr)));
        assert_string_equal(hdr, "trace-abc-123");
        assert_string_equal(jpath_str(r.json, "job.request_id"), "trace-abc-123");
        http_res_free(&r);
        /* The job's own request_id wins over the header. */
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"request_id\":\"own\"}", q);
        http_raw(srv.url, "POST", "/v1/jobs", mine, body, strlen(body), &r);
        assert_int_equal(r.status, 201);
        assert_string_equal(jpath_str(r.json, "job.request_id"), "own");
        http_res_free(&r);
        /* Generated when absent, different each time, echoed on errors too. */
        {
                char a[200], b[200];

                http_json(srv.url, "GET", "/v1/jobs/987654321", NULL, &r);
                assert_int_equal(r.status, 404);
                assert_non_null(http_header(&r, "X-Request-Id", a, sizeof(a)));
                assert_true(strlen(a) >= 1 && strlen(a) <= 128);
                http_res_free(&r);
                http_json(srv.url, "GET", "/v1/nothing", NULL, &r);
                assert_int_equal(r.status, 404);
                assert_non_null(http_header(&r, "X-Request-Id", b, sizeof(b)));
                assert_string_not_equal(a, b);
                http_res_free(&r);
        }
        http_raw(srv.url, "GET", "/v1/nothing", mine, NULL, 0, &r);
        assert_non_null(http_header(&r, "X-Request-Id", hdr, sizeof(hdr)));
        assert_string_equal(hdr, "trace-abc-123");
        http_res_free(&r);
        /* Too long: replaced by a generated one. */
        longid = harness_repeat('r', 129);
        snprintf(line, sizeof(line), "X-Request-Id: %s", longid);
        {
                const char *const bad[] = {line, NULL};

                http_raw(srv.url, "GET", "/healthz", bad, NULL, 0, &r);
                assert_int_equal(r.status, 200);
                assert_non_null(http_header(&r, "X-Request-Id", hdr, sizeof(hdr)));
                assert_string_not_equal(hdr, longid);
                assert_true(strlen(hdr) >= 1 && strlen(hdr) <= 128);
                http_res_free(&r);
        }
        free(longid);
        /* Through libbaton. */
        assert_ok(cl, baton_client_set_request_id(cl, "lib-req-9"));
        {
                struct baton_job *j = harness_enqueue(cl, q, "t", NULL);

                assert_string_equal(j->request_id, "lib-req-9");
                assert_string_equal(baton_client_last_error(cl)->request_id, "lib-req-9");
                baton_job_free(j);
        }
        assert_int_equal(baton_client_set_request_id(cl, "bad id"), BATON_EINVAL);
        assert_ok(cl, baton_client_set_request_id(cl, NULL));
        /* The server's log carries the request id. */
        {
                char *log = harness_read_log(&srv);

                assert_non_null(log);
                assert_non_null(strstr(log, "trace-abc-123"));
                free(log);
        }
}

/* GET /healthz with extra header lines; copies the answer's X-Request-Id
 * into id (cap bytes) and returns the status. */
static int reqid_of(const char *const *headers, char *id, size_t cap)
{
        struct http_res r;
        int status;

        assert_int_equal(http_raw(srv.url, "GET", "/healthz", headers, NULL, 0, &r), 0);
        assert_non_null(http_header(&r, "X-Request-Id", id, cap));
        status = r.status;
        http_res_free(&r);
        return status;
}

/* A generated id: 32 lowercase hex characters. */
static bool generated_id(const char *id)
{
        if (strlen(id) != 32)
                return false;
        for (const char *p = id; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

/* The rules of docs/api.md "Request ids": 1-128 characters of 0x21-0x7e are
 * honoured (blanks around them dropped, the header's name in any case, the
 * first of two); anything else is replaced by a generated id, not refused; a
 * control character refuses the request before it is read (400 bad_header),
 * with a generated id. */
static void request_id_rules(void **state)
{
        char id[300], line[300];
        char *max = harness_repeat('~', 128);

        (void)state;
        max[0] = '!';
        snprintf(line, sizeof(line), "X-Request-Id: %s", max);
        {
                const char *const h[] = {line, NULL};
                assert_int_equal(reqid_of(h, id, sizeof(id)), 200);
                assert_string_equal(id, max);
        }
        {
                const char *const h[] = {"x-request-id: lower-1", NULL};
                assert_int_equal(reqid_of(h, id, sizeof(id)), 200);
                assert_string_equal(id, "lower-1");
        }
        {
                const char *const h[] = {"X-Request-Id: \t  padded-1  \t", NULL};
                assert_int_equal(reqid_of(h, id, sizeof(id)), 200);
                assert_string_equal(id, "padded-1");
        }
        {
                const char *const h[] = {"X-Request-Id: first-1", "X-Request-Id: second-1", NULL};
                assert_int_equal(reqid_of(h, id, sizeof(id)), 200);
                assert_string_equal(id, "first-1");
        }
        /* Not refused, replaced: a space, a tab, a UTF-8 character. */
        {
                const char *const bad[] = {"X-Request-Id: a b", "X-Request-Id: a\tb",
                                           "X-Request-Id: caf\xc3\xa9"};
                for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                        const char *const h[] = {bad[i], NULL};
                        assert_int_equal(reqid_of(h, id, sizeof(id)), 200);
                        if (!generated_id(id))
                                fprintf(stderr, "%s -> %s\n", bad[i], id);
                        assert_true(generated_id(id));
                }
        }
        {
                const char *const h[] = {NULL};
                assert_int_equal(reqid_of(h, id, sizeof(id)), 200);
                assert_true(generated_id(id));
        }
        /* A control character refuses the head: the client's id is not read. */
        {
                const char *const h[] = {"X-Request-Id: mine-1", "X-Note: a\x01b", NULL};
                assert_int_equal(reqid_of(h, id, sizeof(id)), 400);
                assert_true(generated_id(id));
        }
        free(max);
}

struct poller {
        const char *url;
        const char *queue;
        int status;
        char body[512];
        int64_t done_ms;
};

static void *poll_raw(void *arg)
{
        struct poller *p = arg;
        struct http_res r;
        char path[128];

        snprintf(path, sizeof(path), "/v1/queues/%s/claim", p->queue);
        if (http_json(p->url, "POST", path, "{\"worker\":\"w\",\"wait_ms\":30000}", &r) == 0) {
                p->status = r.status;
                snprintf(p->body, sizeof(p->body), "%s", r.body);
        }
        p->done_ms = harness_now_ms();
        http_res_free(&r);
        return NULL;
}

static void sigterm_during_long_poll(void **state)
{
        static const char *const args[] = {"--shutdown-timeout-ms", "5000", NULL};
        struct harness h;
        struct baton_client *c;
        struct poller p = {0};
        pthread_t t;
        char *ids[20];
        int64_t sent, elapsed = 0;
        int i;

        (void)state;
        assert_int_equal(harness_start(&h, args), 0);
        c = harness_client(&h);
        for (i = 0; i < 20; i++) {
                struct baton_job *j = harness_enqueue(c, "durable", "t", "{\"i\":1}");

                ids[i] = strdup(j->id);
                baton_job_free(j);
        }
        p.url = h.url;
        p.queue = "empty-queue";
        harness_thread(&t, poll_raw, &p);
        harness_sleep_ms(300);
        sent = harness_now_ms();
        assert_int_equal(harness_signal_wait(&h, SIGTERM, 8000, &elapsed), 0);
        harness_join(t);
        print_message("SIGTERM: exit after %lld ms, parked claim answered after %lld ms: %d %s\n",
                      (long long)elapsed, (long long)(p.done_ms - sent), p.status, p.body);
        assert_true(WIFEXITED(h.exit_status));
        assert_int_equal(WEXITSTATUS(h.exit_status), 0);
        assert_true(elapsed < 3000);
        /* The claim got an answer: an empty list or 503 shutting_down. */
        assert_true(p.status == 200 || p.status == 503);
        if (p.status == 200)
                assert_non_null(strstr(p.body, "\"jobs\""));
        else
                assert_non_null(strstr(p.body, "shutting_down"));
        assert_true(p.done_ms - sent < 3000);
        /* The log says it stopped. */
        {
                char *log = harness_read_log(&h);

                assert_non_null(log);
                assert_non_null(strstr(log, "\"level\""));
                free(log);
        }
        /* Nothing acknowledged is lost across the restart. */
        baton_client_free(c);
        assert_int_equal(harness_restart(&h), 0);
        c = harness_client(&h);
        for (i = 0; i < 20; i++) {
                assert_int_equal(harness_job_state(c, ids[i]), BATON_STATE_QUEUED);
                free(ids[i]);
        }
        assert_int_equal(harness_count_jobs(c, "durable", NULL), 20);
        /* And new ids do not collide with old ones. */
        {
                struct baton_job *j = harness_enqueue(c, "durable", "t", NULL);

                assert_int_equal(harness_count_jobs(c, "durable", NULL), 21);
                baton_job_free(j);
        }
        baton_client_free(c);
        assert_int_equal(harness_stop(&h), 0);
        /* The transport error when nothing listens. */
        {
                struct baton_client *dead = NULL;
                char url[64];

                snprintf(url, sizeof(url), "http://127.0.0.1:%d", h.port);
                assert_int_equal(baton_client_new(url, NULL, &dead), 0);
                baton_client_set_connect_timeout_ms(dead, 1000);
                assert_int_equal(baton_health(dead), BATON_EHTTP);
                assert_int_equal(baton_client_last_error(dead)->http_status, 0);
                assert_true(strlen(baton_client_last_error(dead)->message) > 0);
                baton_client_free(dead);
        }
}

int main(void)
{
        /* debug: the log line of every request, with its request id. */
        static const char *const args[] = {"--log-level", "debug", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(health_and_ready),
            cmocka_unit_test(metrics_follow_work),
            cmocka_unit_test(request_ids),
            cmocka_unit_test(request_id_rules),
            cmocka_unit_test(sigterm_during_long_poll),
        };

        harness_group(&srv, args, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
