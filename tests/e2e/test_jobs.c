/*
 * test_jobs.c: end-to-end tests of the job endpoints of docs/api.md against a
 * real batond: enqueue (one and batch, every field, defaults), get (and its
 * wait_ms), list with filters and cursor pagination, cancel, retry, priority
 * order, delayed jobs (delay_ms and run_at) becoming ready on time, idempotency
 * (repeat, conflict, canonical payload, the N-thread race) and keys (keep,
 * replace), and Prefer: return=minimal. One server for the whole file; each test uses its own
 * queues. Timing bounds are generous enough for the ASan build on 2 cores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/harness.h"

static struct harness srv;
static struct baton_client *cl;

/* RFC 3339 UTC with milliseconds for a Unix ms instant. */
static void fmt_time(int64_t ms, char *buf, size_t cap)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
                 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
                 tm.tm_sec % 100, (int)(ms % 1000));
}

static bool is_rfc3339_ms(const char *s)
{
        /* 2026-11-23T09:00:52.123Z */
        return s && strlen(s) == 24 && s[10] == 'T' && s[19] == '.' && s[23] == 'Z' &&
               harness_parse_time(s) > 0;
}

static void enqueue_defaults(void **state)
{
        char q[64], path[128], hdr[160];
        struct http_res r;
        json_t *j;
        int64_t before = harness_wall_ms();

        (void)state;
        harness_unique("defaults", q, sizeof(q));
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"queue\":\"%s\",\"type\":\"welcome\",\"payload\":{\"user\":7}}", q);
        assert_int_equal(r.status, 201);
        j = jpath(r.json, "job");
        assert_non_null(j);
        assert_true(json_is_string(jpath(j, "id")));
        assert_string_equal(jpath_str(j, "queue"), q);
        assert_string_equal(jpath_str(j, "type"), "welcome");
        assert_int_equal(jpath_int(j, "payload.user"), 7);
        assert_string_equal(jpath_str(j, "priority"), "normal");
        assert_string_equal(jpath_str(j, "state"), "queued");
        assert_int_equal(jpath_int(j, "attempt"), 0);
        assert_int_equal(jpath_int(j, "max_attempts"), 4);
        assert_string_equal(jpath_str(j, "backoff.type"), "exponential");
        assert_int_equal(jpath_int(j, "backoff.base_ms"), 1000);
        assert_int_equal(jpath_int(j, "backoff.max_ms"), 300000);
        assert_int_equal(jpath_int(j, "lease_ms"), 30000);
        assert_int_equal(jpath_int(j, "version"), 1);
        assert_true(json_is_null(jpath(j, "idempotency_key")));
        assert_true(json_is_null(jpath(j, "key")));
        assert_true(json_is_null(jpath(j, "result")));
        assert_true(json_is_null(jpath(j, "last_error")));
        assert_true(json_is_null(jpath(j, "finished_at")));
        assert_true(json_is_null(jpath(j, "started_at")));
        assert_true(json_is_array(jpath(j, "attempts")));
        assert_int_equal(json_array_size(jpath(j, "attempts")), 0);
        assert_false(jpath_true(j, "cancel_requested"));
        assert_true(is_rfc3339_ms(jpath_str(j, "created_at")));
        assert_true(is_rfc3339_ms(jpath_str(j, "run_at")));
        /* Created now (same machine clock; 5 s of slack for a slow build). */
        assert_true(harness_parse_time(jpath_str(j, "created_at")) >= before - 5);
        assert_true(harness_parse_time(jpath_str(j, "created_at")) <= harness_wall_ms() + 5);
        /* The generated request id is echoed and stored on the job. */
        assert_non_null(http_header(&r, "X-Request-Id", hdr, sizeof(hdr)));
        assert_non_null(jpath_str(j, "request_id"));
        assert_string_equal(jpath_str(j, "request_id"), hdr);

        /* GET shows the same job, without a lease. */
        snprintf(path, sizeof(path), "/v1/jobs/%s", jpath_str(j, "id"));
        {
                struct http_res g;

                http_json(srv.url, "GET", path, NULL, &g);
                assert_int_equal(g.status, 200);
                assert_string_equal(jpath_str(g.json, "job.id"), jpath_str(j, "id"));
                assert_int_equal(jpath_int(g.json, "job.payload.user"), 7);
                assert_null(jpath(g.json, "job.lease"));
                http_res_free(&g);
        }
        http_res_free(&r);
}

static void enqueue_all_fields(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {0};
        struct baton_job *j = NULL;
        json_t *obj;

        (void)state;
        o.queue = harness_unique("fields", q, sizeof(q));
        o.type = "report.render";
        o.payload = "[1,\"two\",{\"three\":3.5},null,true]";
        o.priority = BATON_PRIORITY_HIGH;
        o.max_attempts = 7;
        o.backoff = "{\"type\":\"fixed\",\"base_ms\":2500,\"max_ms\":5000}";
        o.lease_ms = 5000;
        o.idempotency_key = "idem-all-fields";
        o.key = "key all fields";
        o.request_id = "req-own";
        o.execution_id = "exec-1";
        o.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assert_ok(cl, baton_enqueue(cl, &o, &j));
        assert_int_equal(baton_client_last_error(cl)->http_status, 201);
        assert_false(j->duplicate);
        assert_string_equal(j->queue, q);
        assert_string_equal(j->type, "report.render");
        assert_int_equal(j->priority, BATON_PRIORITY_HIGH);
        assert_int_equal(j->max_attempts, 7);
        assert_int_equal(j->lease_ms, 5000);
        assert_string_equal(j->idempotency_key, "idem-all-fields");
        assert_string_equal(j->key, "key all fields");
        assert_string_equal(j->request_id, "req-own");
        assert_string_equal(j->execution_id, "exec-1");
        assert_string_equal(j->traceparent, o.traceparent);
        assert_string_equal(j->payload, "[1,\"two\",{\"three\":3.5},null,true]");
        obj = harness_job_obj(j);
        assert_string_equal(jpath_str(obj, "backoff.type"), "fixed");
        assert_int_equal(jpath_int(obj, "backoff.base_ms"), 2500);
        assert_int_equal(jpath_int(obj, "backoff.max_ms"), 5000);
        json_decref(obj);
        baton_job_free(j);

        /* Scalars and null are payloads too. */
        {
                static const char *const payloads[] = {"\"text\"", "42", "null", "false", "{}"};
                size_t i;

                for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
                        struct baton_enqueue_opts p = {
                            .queue = q, .type = "t", .payload = payloads[i]};

                        assert_ok(cl, baton_enqueue(cl, &p, &j));
                        assert_string_equal(j->payload, payloads[i]);
                        baton_job_free(j);
                }
        }
}

static void enqueue_batch(void **state)
{
        char q[64];
        struct baton_enqueue_opts o[3] = {0};
        struct baton_jobs *l = NULL;
        struct http_res r;
        int64_t before;
        size_t i;

        (void)state;
        harness_unique("batch", q, sizeof(q));
        for (i = 0; i < 3; i++) {
                o[i].queue = q;
                o[i].type = i == 1 ? "second" : "other";
        }
        o[0].payload = "{\"n\":0}";
        o[1].payload = "{\"n\":1}";
        o[2].payload = "{\"n\":2}";
        o[2].idempotency_key = "batch-idem-1";
        assert_ok(cl, baton_enqueue_batch(cl, o, 3, &l));
        assert_int_equal(baton_client_last_error(cl)->http_status, 201);
        assert_int_equal(l->n, 3);
        for (i = 0; i < 3; i++) {
                char want[16];

                snprintf(want, sizeof(want), "{\"n\":%zu}", i);
                assert_string_equal(l->v[i].payload, want);
                assert_int_equal(l->v[i].state, BATON_STATE_QUEUED);
                assert_false(l->v[i].duplicate);
                if (i)
                        assert_string_not_equal(l->v[i].id, l->v[i - 1].id);
        }
        assert_string_equal(l->v[1].type, "second");
        assert_int_equal(harness_count_jobs(cl, q, NULL), 3);

        /* A batch of only repeats creates nothing: 200, each marked. */
        {
                char *id2 = strdup(l->v[2].id);
                struct baton_jobs *l2 = NULL;

                baton_jobs_free(l);
                assert_ok(cl, baton_enqueue_batch(cl, &o[2], 1, &l2));
                assert_int_equal(baton_client_last_error(cl)->http_status, 200);
                assert_int_equal(l2->n, 1);
                assert_true(l2->v[0].duplicate);
                assert_string_equal(l2->v[0].id, id2);
                baton_jobs_free(l2);
                /* One new and one repeat: 201, the repeat marked inside its element. */
                o[0].idempotency_key = "batch-idem-new";
                assert_ok(cl, baton_enqueue_batch(cl, &o[0], 3, &l2));
                assert_int_equal(baton_client_last_error(cl)->http_status, 201);
                assert_int_equal(l2->n, 3);
                assert_false(l2->v[0].duplicate);
                assert_false(l2->v[1].duplicate);
                assert_true(l2->v[2].duplicate);
                assert_string_equal(l2->v[2].id, id2);
                baton_jobs_free(l2);
                free(id2);
        }
        assert_int_equal(harness_count_jobs(cl, q, NULL), 5);

        /* Atomic: one bad element refuses the whole batch and names it. */
        before = harness_total_jobs(cl);
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"a\"},{\"queue\":\"%s\",\"type\":\"b\"},"
                   "{\"queue\":\"%s\",\"type\":\"c\"},{\"queue\":\"bad queue\",\"type\":\"d\"}]}",
                   q, q, q);
        assert_http_error(&r, 400, "name_invalid", "jobs[3].queue");
        http_res_free(&r);
        /* An idempotency conflict inside a batch refuses it too. */
        http_jsonf(
            srv.url, "POST", "/v1/jobs", &r,
            "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"a\"},{\"queue\":\"%s\",\"type\":\"other\","
            "\"payload\":{\"n\":99},\"idempotency_key\":\"batch-idem-1\"}]}",
            q, q);
        assert_http_error(&r, 409, "idempotency_conflict", "jobs[1].idempotency_key");
        http_res_free(&r);
        /* Empty batch and a non-array are invalid. */
        http_json(srv.url, "POST", "/v1/jobs", "{\"jobs\":[]}", &r);
        assert_int_equal(r.status, 400);
        assert_string_equal(http_error_member(&r, "field"), "jobs");
        http_res_free(&r);
        http_json(srv.url, "POST", "/v1/jobs", "{\"jobs\":{}}", &r);
        assert_http_error(&r, 400, "invalid_field", "jobs");
        http_res_free(&r);
        http_json(srv.url, "POST", "/v1/jobs", "{\"jobs\":[1]}", &r);
        assert_http_error(&r, 400, "invalid_field", "jobs[0]");
        http_res_free(&r);
        assert_int_equal(harness_total_jobs(cl), before);
}

static void get_and_errors(void **state)
{
        char q[64];
        struct baton_job *j = harness_enqueue(cl, harness_unique("get", q, sizeof(q)), "t", "1");
        struct baton_job *g = NULL;
        struct http_res r;

        (void)state;
        assert_ok(cl, baton_job_get(cl, j->id, 0, &g));
        assert_string_equal(g->id, j->id);
        assert_int_equal(g->state, BATON_STATE_QUEUED);
        baton_job_free(g);
        assert_err(cl, baton_job_get(cl, "987654321", 0, &g), BATON_ENOTFOUND, 404, "not_found",
                   NULL);
        assert_null(g);
        http_json(srv.url, "GET", "/v1/jobs/not-a-number", NULL, &r);
        assert_http_error(&r, 400, "invalid_id", "id");
        http_res_free(&r);
        http_json(srv.url, "GET", "/v1/jobs/-5", NULL, &r);
        assert_true(r.status == 400 || r.status == 404);
        http_res_free(&r);
        baton_job_free(j);
}

static void list_filters_and_pages(void **state)
{
        char q[64], q2[64], *ids[7];
        struct baton_list_opts o = {0};
        struct baton_jobs *l = NULL;
        struct http_res r;
        int i, seen = 0, pages;
        char *after = NULL;

        (void)state;
        harness_unique("list", q, sizeof(q));
        harness_unique("list-other", q2, sizeof(q2));
        for (i = 0; i < 7; i++) {
                struct baton_job *j = harness_enqueue(cl, q, i % 2 ? "odd" : "even", NULL);

                ids[i] = strdup(j->id);
                baton_job_free(j);
        }
        baton_job_free(harness_enqueue(cl, q2, "even", NULL));
        assert_ok(cl, baton_job_cancel(cl, ids[6], NULL));

        /* Pages of 3, ascending by id, cursor until null. */
        o.queue = q;
        o.limit = 3;
        for (pages = 0; pages < 10; pages++) {
                size_t k;

                o.after = after;
                assert_ok(cl, baton_job_list(cl, &o, &l));
                assert_true(l->n <= 3);
                for (k = 0; k < l->n; k++) {
                        assert_true(seen < 7);
                        assert_string_equal(l->v[k].id, ids[seen]);
                        assert_string_equal(l->v[k].queue, q);
                        seen++;
                }
                free(after);
                after = l->next ? strdup(l->next) : NULL;
                baton_jobs_free(l);
                if (!after)
                        break;
        }
        assert_int_equal(seen, 7);
        assert_true(pages <= 3);

        /* Filters. */
        assert_int_equal(harness_count_jobs(cl, q, "queued"), 6);
        assert_int_equal(harness_count_jobs(cl, q, "cancelled"), 1);
        o.after = NULL;
        o.limit = 0;
        o.type = "odd";
        assert_ok(cl, baton_job_list(cl, &o, &l));
        assert_int_equal(l->n, 3);
        for (i = 0; i < (int)l->n; i++)
                assert_string_equal(l->v[i].type, "odd");
        assert_null(l->next);
        baton_jobs_free(l);
        o.queue = NULL;
        o.type = "even";
        assert_ok(cl, baton_job_list(cl, &o, &l));
        assert_true(l->n >= 5); /* 4 in q, 1 in q2, maybe others */
        baton_jobs_free(l);

        /* Bad parameters. */
        http_json(srv.url, "GET", "/v1/jobs?after=zzz-not-a-cursor", NULL, &r);
        assert_http_error(&r, 400, "invalid_cursor", "after");
        http_res_free(&r);
        http_json(srv.url, "GET", "/v1/jobs?state=sleeping", NULL, &r);
        assert_http_error(&r, 400, "invalid_field", "state");
        http_res_free(&r);
        http_json(srv.url, "GET", "/v1/jobs?limit=abc", NULL, &r);
        assert_int_equal(r.status, 400);
        assert_string_equal(http_error_member(&r, "field"), "limit");
        http_res_free(&r);
        http_json(srv.url, "GET", "/v1/jobs?limit=1001", NULL, &r);
        assert_http_error(&r, 400, "limit_out_of_range", "limit");
        http_res_free(&r);
        http_json(srv.url, "GET", "/v1/jobs?queue=bad%20queue", NULL, &r);
        assert_http_error(&r, 400, "name_invalid", "queue");
        http_res_free(&r);
        for (i = 0; i < 7; i++)
                free(ids[i]);
}

static void cancel_and_retry(void **state)
{
        char q[64];
        struct baton_job *j =
            harness_enqueue(cl, harness_unique("cancel", q, sizeof(q)), "t", NULL);
        struct baton_job *c = NULL, *s = NULL;
        struct baton_enqueue_opts o = {.queue = q, .type = "later", .delay_ms = 60000};
        json_t *obj;
        char *snap;

        (void)state;
        /* Queued -> cancelled at once. */
        assert_ok(cl, baton_job_cancel(cl, j->id, &c));
        assert_int_equal(c->state, BATON_STATE_CANCELLED);
        assert_string_equal(c->cancel_reason, "cancelled");
        assert_true(c->finished_at_ms > 0);
        baton_job_free(c);
        /* Terminal: 409 invalid_state, nothing changes. */
        snap = harness_snapshot(srv.url, j->id);
        assert_err(cl, baton_job_cancel(cl, j->id, &c), BATON_ESTATE, 409, "invalid_state", NULL);
        assert_unchanged(srv.url, j->id, snap);
        free(snap);
        /* Retry: queued again, fresh budget. */
        assert_ok(cl, baton_job_retry(cl, j->id, &c));
        assert_int_equal(c->state, BATON_STATE_QUEUED);
        assert_int_equal(c->attempt, 0);
        assert_null(c->cancel_reason);
        baton_job_free(c);
        /* Retry of a queued job: 409. */
        snap = harness_snapshot(srv.url, j->id);
        assert_err(cl, baton_job_retry(cl, j->id, &c), BATON_ESTATE, 409, "invalid_state", NULL);
        assert_unchanged(srv.url, j->id, snap);
        free(snap);
        /* The retried job can be claimed. */
        {
                struct baton_jobs *l = harness_claim(cl, q, 1, 0, 0);

                assert_int_equal(l->n, 1);
                assert_string_equal(l->v[0].id, j->id);
                assert_int_equal(l->v[0].attempt, 1);
                baton_jobs_free(l);
        }

        /* Scheduled -> cancelled. */
        assert_ok(cl, baton_enqueue(cl, &o, &s));
        assert_int_equal(s->state, BATON_STATE_SCHEDULED);
        assert_ok(cl, baton_job_cancel(cl, s->id, &c));
        assert_int_equal(c->state, BATON_STATE_CANCELLED);
        obj = harness_job_obj(c);
        assert_string_equal(jpath_str(obj, "cancel_reason"), "cancelled");
        json_decref(obj);
        baton_job_free(c);
        /* Retry of a cancelled scheduled job makes it queued now. */
        assert_ok(cl, baton_job_retry(cl, s->id, &c));
        assert_int_equal(c->state, BATON_STATE_QUEUED);
        assert_true(c->run_at_ms <= harness_wall_ms() + 1000);
        baton_job_free(c);

        /* Unknown ids. */
        assert_err(cl, baton_job_cancel(cl, "987654321", NULL), BATON_ENOTFOUND, 404, "not_found",
                   NULL);
        assert_err(cl, baton_job_retry(cl, "987654321", NULL), BATON_ENOTFOUND, 404, "not_found",
                   NULL);
        baton_job_free(s);
        baton_job_free(j);
}

static void priority_order(void **state)
{
        static const enum baton_priority order_in[] = {
            BATON_PRIORITY_LOW,  BATON_PRIORITY_NORMAL,  BATON_PRIORITY_CRITICAL,
            BATON_PRIORITY_HIGH, BATON_PRIORITY_DEFAULT, BATON_PRIORITY_CRITICAL,
            BATON_PRIORITY_LOW,  BATON_PRIORITY_HIGH,
        };
        /* Expected claim order as indexes into order_in. */
        static const int want[] = {2, 5, 3, 7, 1, 4, 0, 6};
        char q[64], *ids[8];
        struct baton_jobs *l;
        size_t i;

        (void)state;
        harness_unique("prio", q, sizeof(q));
        for (i = 0; i < 8; i++) {
                struct baton_enqueue_opts o = {.queue = q, .type = "t", .priority = order_in[i]};
                struct baton_job *j = NULL;

                assert_ok(cl, baton_enqueue(cl, &o, &j));
                ids[i] = strdup(j->id);
                baton_job_free(j);
        }
        /* The first three one at a time, the rest in one claim. */
        for (i = 0; i < 3; i++) {
                l = harness_claim(cl, q, 1, 0, 0);
                assert_int_equal(l->n, 1);
                assert_string_equal(l->v[0].id, ids[want[i]]);
                baton_jobs_free(l);
        }
        l = harness_claim(cl, q, 10, 0, 0);
        assert_int_equal(l->n, 5);
        for (i = 0; i < 5; i++) {
                assert_string_equal(l->v[i].id, ids[want[i + 3]]);
                assert_int_equal(l->v[i].state, BATON_STATE_RUNNING);
        }
        baton_jobs_free(l);
        for (i = 0; i < 8; i++)
                free(ids[i]);
}

/* Claims with a long poll until the job arrives; returns the wall time it
 * arrived, or -1. */
static int64_t claim_arrival(const char *q, const char *id)
{
        struct baton_jobs *l = harness_claim(cl, q, 1, 5000, 0);
        int64_t at = harness_wall_ms();
        bool ok = l->n == 1 && strcmp(l->v[0].id, id) == 0;

        baton_jobs_free(l);
        return ok ? at : -1;
}

static void delayed_jobs(void **state)
{
        char q[64], when[96];
        struct baton_enqueue_opts o = {0};
        struct baton_job *j = NULL;
        struct baton_jobs *l;
        int64_t t0, due, got;

        (void)state;
        /* delay_ms */
        o.queue = harness_unique("delay", q, sizeof(q));
        o.type = "t";
        o.delay_ms = 800;
        t0 = harness_wall_ms();
        assert_ok(cl, baton_enqueue(cl, &o, &j));
        assert_int_equal(j->state, BATON_STATE_SCHEDULED);
        due = j->run_at_ms;
        assert_true(due >= t0 + 800 - 5);
        assert_true(due <= harness_wall_ms() + 800 + 5);
        l = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(l->n, 0);
        baton_jobs_free(l);
        got = claim_arrival(q, j->id);
        assert_true(got > 0);
        print_message("delay_ms job ready %lld ms after run_at\n", (long long)(got - due));
        assert_true(got >= due - 5);
        assert_true(got <= due + 300);
        baton_job_free(j);

        /* run_at in the future, with another offset than Z. */
        {
                int64_t at = harness_wall_ms() + 900;
                time_t t = (time_t)(at / 1000) + 3600;
                struct tm tm;

                gmtime_r(&t, &tm);
                snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03d+01:00",
                         (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
                         tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, (int)(at % 1000));
                memset(&o, 0, sizeof(o));
                o.queue = q;
                o.type = "t";
                o.run_at = when;
                assert_ok(cl, baton_enqueue(cl, &o, &j));
                assert_int_equal(j->state, BATON_STATE_SCHEDULED);
                assert_true(j->run_at_ms == at);
                got = claim_arrival(q, j->id);
                assert_true(got > 0);
                print_message("run_at job ready %lld ms after run_at\n", (long long)(got - at));
                assert_true(got >= at - 5);
                assert_true(got <= at + 300);
                baton_job_free(j);
        }

        /* run_at in the past means now. */
        fmt_time(harness_wall_ms() - 3600 * 1000, when, sizeof(when));
        memset(&o, 0, sizeof(o));
        o.queue = q;
        o.type = "t";
        o.run_at = when;
        assert_ok(cl, baton_enqueue(cl, &o, &j));
        assert_int_equal(j->state, BATON_STATE_QUEUED);
        l = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(l->n, 1);
        assert_string_equal(l->v[0].id, j->id);
        baton_jobs_free(l);
        baton_job_free(j);

        /* A scheduled job of higher priority does not block a ready one. */
        {
                struct baton_enqueue_opts a = {.queue = q,
                                               .type = "t",
                                               .delay_ms = 60000,
                                               .priority = BATON_PRIORITY_CRITICAL};
                struct baton_job *late = NULL, *now = NULL;

                assert_ok(cl, baton_enqueue(cl, &a, &late));
                now = harness_enqueue(cl, q, "t", NULL);
                l = harness_claim(cl, q, 5, 0, 0);
                assert_int_equal(l->n, 1);
                assert_string_equal(l->v[0].id, now->id);
                baton_jobs_free(l);
                assert_int_equal(harness_job_state(cl, late->id), BATON_STATE_SCHEDULED);
                baton_job_free(late);
                baton_job_free(now);
        }

        /* delay_ms together with run_at is refused. */
        {
                struct http_res r;
                int64_t before = harness_total_jobs(cl);

                fmt_time(harness_wall_ms() + 5000, when, sizeof(when));
                http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                           "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":10,\"run_at\":\"%s\"}", q,
                           when);
                assert_int_equal(r.status, 400);
                assert_string_equal(http_error_member(&r, "code"), "invalid_field");
                http_res_free(&r);
                assert_int_equal(harness_total_jobs(cl), before);
        }
}

static void idempotency_repeat_and_conflict(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {0};
        struct baton_job *a = NULL, *b = NULL;
        struct http_res r;
        int64_t before;

        (void)state;
        o.queue = harness_unique("idem", q, sizeof(q));
        o.type = "t";
        o.payload = "{\"a\":1,\"b\":[1,2]}";
        o.idempotency_key = "order-1";
        assert_ok(cl, baton_enqueue(cl, &o, &a));
        assert_int_equal(baton_client_last_error(cl)->http_status, 201);
        assert_false(a->duplicate);
        before = harness_total_jobs(cl);
        /* Same payload: 200, the original, duplicate. */
        assert_ok(cl, baton_enqueue(cl, &o, &b));
        assert_int_equal(baton_client_last_error(cl)->http_status, 200);
        assert_true(b->duplicate);
        assert_string_equal(b->id, a->id);
        baton_job_free(b);
        /* The same JSON with members in another order and other spacing is the same
         * payload. */
        o.payload = "{ \"b\": [1, 2], \"a\": 1 }";
        assert_ok(cl, baton_enqueue(cl, &o, &b));
        assert_true(b->duplicate);
        assert_string_equal(b->id, a->id);
        baton_job_free(b);
        /* The duplicate answer is 200 with "duplicate": true beside the job. */
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":{\"a\":1,\"b\":[1,2]},"
                   "\"idempotency_key\":\"order-1\"}",
                   q);
        assert_int_equal(r.status, 200);
        assert_true(jpath_true(r.json, "duplicate"));
        assert_string_equal(jpath_str(r.json, "job.id"), a->id);
        http_res_free(&r);
        /* Another payload: 409, nothing created. */
        o.payload = "{\"a\":2}";
        assert_err(cl, baton_enqueue(cl, &o, &b), BATON_EIDEM, 409, "idempotency_conflict",
                   "idempotency_key");
        assert_null(b);
        /* The key is per tenant, not per queue: another queue with the same key and
         * payload is the same job. */
        {
                char q2[64];

                o.queue = harness_unique("idem-other", q2, sizeof(q2));
                o.payload = "{\"a\":1,\"b\":[1,2]}";
                assert_ok(cl, baton_enqueue(cl, &o, &b));
                assert_true(b->duplicate);
                assert_string_equal(b->id, a->id);
                assert_string_equal(b->queue, q);
                baton_job_free(b);
        }
        assert_int_equal(harness_total_jobs(cl), before);
        /* Still a duplicate after the job completed. */
        {
                struct baton_jobs *l = harness_claim(cl, q, 1, 0, 0);

                assert_int_equal(l->n, 1);
                assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, "1", NULL));
                baton_jobs_free(l);
                o.queue = q;
                assert_ok(cl, baton_enqueue(cl, &o, &b));
                assert_true(b->duplicate);
                assert_int_equal(b->state, BATON_STATE_COMPLETED);
                baton_job_free(b);
        }
        baton_job_free(a);
}

#define RACE_THREADS 8

struct race {
        const char *url;
        const char *queue;
        const char *key;
        pthread_barrier_t *barrier;
        int rc;
        int status;
        bool duplicate;
        char id[64];
};

static void *race_thread(void *arg)
{
        struct race *r = arg;
        struct baton_client *c = NULL;
        struct baton_enqueue_opts o = {0};
        struct baton_job *j = NULL;

        r->rc = baton_client_new(r->url, harness_key_for(r->url), &c);
        if (r->rc) {
                pthread_barrier_wait(r->barrier);
                return NULL;
        }
        baton_health(c); /* open the connection before the start line */
        o.queue = r->queue;
        o.type = "race";
        o.payload = "{\"same\":true}";
        o.idempotency_key = r->key;
        pthread_barrier_wait(r->barrier);
        r->rc = baton_enqueue(c, &o, &j);
        r->status = baton_client_last_error(c)->http_status;
        if (j) {
                r->duplicate = j->duplicate;
                snprintf(r->id, sizeof(r->id), "%s", j->id);
        }
        baton_job_free(j);
        baton_client_free(c);
        return NULL;
}

static void idempotency_race(void **state)
{
        char q[64], key[64];
        int round;

        (void)state;
        harness_unique("race", q, sizeof(q));
        /* A few rounds, each with a fresh key, to give the race a chance. */
        for (round = 0; round < 5; round++) {
                struct race r[RACE_THREADS];
                pthread_t t[RACE_THREADS];
                pthread_barrier_t barrier;
                int i, created = 0;

                snprintf(key, sizeof(key), "race-key-%d", round);
                pthread_barrier_init(&barrier, NULL, RACE_THREADS);
                for (i = 0; i < RACE_THREADS; i++) {
                        memset(&r[i], 0, sizeof(r[i]));
                        r[i].url = srv.url;
                        r[i].queue = q;
                        r[i].key = key;
                        r[i].barrier = &barrier;
                        harness_thread(&t[i], race_thread, &r[i]);
                }
                for (i = 0; i < RACE_THREADS; i++)
                        harness_join(t[i]);
                pthread_barrier_destroy(&barrier);
                for (i = 0; i < RACE_THREADS; i++) {
                        if (r[i].rc)
                                print_error("thread %d: rc %d status %d\n", i, r[i].rc,
                                            r[i].status);
                        assert_int_equal(r[i].rc, 0);
                        if (r[i].status == 201) {
                                assert_false(r[i].duplicate);
                                created++;
                        } else {
                                assert_int_equal(r[i].status, 200);
                                assert_true(r[i].duplicate);
                        }
                        assert_string_equal(r[i].id, r[0].id);
                }
                assert_int_equal(created, 1);
        }
        assert_int_equal(harness_count_jobs(cl, q, NULL), 5);
}

static void keys_keep_and_replace(void **state)
{
        char q[64], q2[64];
        struct baton_enqueue_opts o = {0};
        struct baton_job *a = NULL, *b = NULL;
        struct http_res r;

        (void)state;
        o.queue = harness_unique("keys", q, sizeof(q));
        o.type = "t";
        o.key = "draft-7";
        o.payload = "{\"v\":1}";
        o.delay_ms = 30000;
        assert_ok(cl, baton_enqueue(cl, &o, &a));
        assert_int_equal(baton_client_last_error(cl)->http_status, 201);
        assert_int_equal(a->version, 1);
        /* keep (default): 200, the existing job unchanged, duplicate. */
        o.payload = "{\"v\":2}";
        assert_ok(cl, baton_enqueue(cl, &o, &b));
        assert_int_equal(baton_client_last_error(cl)->http_status, 200);
        assert_true(b->duplicate);
        assert_false(b->replaced);
        assert_string_equal(b->id, a->id);
        assert_string_equal(b->payload, "{\"v\":1}");
        assert_int_equal(b->version, 1);
        baton_job_free(b);
        /* explicit keep */
        o.on_key = "keep";
        assert_ok(cl, baton_enqueue(cl, &o, &b));
        assert_true(b->duplicate);
        assert_string_equal(b->payload, "{\"v\":1}");
        baton_job_free(b);
        /* replace: moves the pending job to the new payload, run_at and priority. */
        o.on_key = "replace";
        o.payload = "{\"v\":3}";
        o.delay_ms = 0;
        o.priority = BATON_PRIORITY_HIGH;
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"draft-7\",\"on_key\":\"replace\","
                   "\"payload\":{\"v\":3},\"priority\":\"high\"}",
                   q);
        assert_int_equal(r.status, 200);
        assert_true(jpath_true(r.json, "replaced"));
        assert_string_equal(jpath_str(r.json, "job.id"), a->id);
        assert_int_equal(jpath_int(r.json, "job.version"), 2);
        assert_int_equal(jpath_int(r.json, "job.payload.v"), 3);
        assert_string_equal(jpath_str(r.json, "job.priority"), "high");
        assert_string_equal(jpath_str(r.json, "job.state"), "queued");
        http_res_free(&r);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 1);
        /* The same key in another queue is another job. */
        o.queue = harness_unique("keys-other", q2, sizeof(q2));
        o.on_key = NULL;
        assert_ok(cl, baton_enqueue(cl, &o, &b));
        assert_int_equal(baton_client_last_error(cl)->http_status, 201);
        assert_string_not_equal(b->id, a->id);
        baton_job_free(b);
        /* Once the job runs it is no longer pending: the key is free again. */
        {
                struct baton_jobs *l = harness_claim(cl, q, 1, 0, 0);

                assert_int_equal(l->n, 1);
                assert_string_equal(l->v[0].id, a->id);
                baton_jobs_free(l);
        }
        o.queue = q;
        o.on_key = "replace";
        assert_ok(cl, baton_enqueue(cl, &o, &b));
        assert_int_equal(baton_client_last_error(cl)->http_status, 201);
        assert_false(b->replaced);
        assert_string_not_equal(b->id, a->id);
        assert_int_equal(harness_job_state(cl, a->id), BATON_STATE_RUNNING);
        baton_job_free(b);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 2);
        /* An invalid on_key. */
        http_jsonf(srv.url, "POST", "/v1/jobs", &r,
                   "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"k\",\"on_key\":\"merge\"}", q);
        assert_http_error(&r, 400, "invalid_field", "on_key");
        http_res_free(&r);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 2);
        baton_job_free(a);
}

struct completer {
        const char *url;
        const char *queue;
        int64_t delay_ms;
        int rc;
};

/* Claims one job of the queue after a delay and completes it. */
static void *complete_later(void *arg)
{
        struct completer *w = arg;
        struct baton_client *c = NULL;
        struct baton_claim_opts o = {.worker = "later", .max = 1};
        struct baton_jobs *l = NULL;

        w->rc = baton_client_new(w->url, harness_key_for(w->url), &c);
        if (w->rc)
                return NULL;
        harness_sleep_ms(w->delay_ms);
        w->rc = baton_claim(c, w->queue, &o, &l);
        if (!w->rc && l->n == 1)
                w->rc = baton_complete(c, l->v[0].id, l->v[0].lease, "{\"done\":true}", NULL);
        else if (!w->rc)
                w->rc = -1000;
        baton_jobs_free(l);
        baton_client_free(c);
        return NULL;
}

static void get_wait_ms(void **state)
{
        char q[64];
        struct baton_job *j =
            harness_enqueue(cl, harness_unique("getwait", q, sizeof(q)), "t", NULL);
        struct baton_job *g = NULL;
        struct completer w = {.url = srv.url, .queue = q, .delay_ms = 300};
        pthread_t t;
        int64_t t0, took;

        (void)state;
        /* Not terminal: the answer comes after about wait_ms with the job as it is. */
        t0 = harness_now_ms();
        assert_ok(cl, baton_job_get(cl, j->id, 500, &g));
        took = harness_now_ms() - t0;
        print_message("GET wait_ms=500 on a queued job took %lld ms\n", (long long)took);
        assert_int_equal(g->state, BATON_STATE_QUEUED);
        assert_true(took >= 450 && took <= 2500);
        baton_job_free(g);

        /* Woken when the job completes. */
        harness_thread(&t, complete_later, &w);
        t0 = harness_now_ms();
        assert_ok(cl, baton_job_get(cl, j->id, 10000, &g));
        took = harness_now_ms() - t0;
        harness_join(t);
        assert_int_equal(w.rc, 0);
        print_message("GET wait_ms woken after %lld ms (completion at ~300 ms)\n", (long long)took);
        assert_int_equal(g->state, BATON_STATE_COMPLETED);
        assert_string_equal(g->result, "{\"done\":true}");
        assert_true(took >= 250 && took <= 2000);
        baton_job_free(g);

        /* Terminal already: at once. */
        t0 = harness_now_ms();
        assert_ok(cl, baton_job_get(cl, j->id, 10000, &g));
        assert_true(harness_now_ms() - t0 < 1000);
        baton_job_free(g);

        /* Bounds. */
        {
                struct http_res r;
                char path[128];

                snprintf(path, sizeof(path), "/v1/jobs/%s?wait_ms=60001", j->id);
                http_json(srv.url, "GET", path, NULL, &r);
                assert_http_error(&r, 400, "wait_ms_out_of_range", "wait_ms");
                http_res_free(&r);
                snprintf(path, sizeof(path), "/v1/jobs/%s?wait_ms=-1", j->id);
                http_json(srv.url, "GET", path, NULL, &r);
                assert_http_error(&r, 400, "wait_ms_out_of_range", "wait_ms");
                http_res_free(&r);
        }
        baton_job_free(j);
}

/* POST /v1/jobs with prefer (a Prefer header line, or NULL); returns the
 * answer's status, r owned by the caller. */
static int enqueue_prefer(const char *prefer, const char *body, struct http_res *r)
{
        const char *hdrs[] = {prefer, NULL};

        assert_int_equal(
            http_raw(srv.url, "POST", "/v1/jobs", prefer ? hdrs : NULL, body, strlen(body), r), 0);
        return r->status;
}

/* The members of object o, sorted and space-separated, into out. */
static const char *members(const json_t *o, char *out, size_t cap)
{
        const char *k;
        json_t *v;
        size_t n = 0;

        out[0] = '\0';
        json_object_foreach((json_t *)o, k, v)
        {
                (void)v;
                n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", k);
        }
        return out;
}

/* Prefer: return=minimal (RFC 7240) answers id, state and version per job,
 * with Preference-Applied; the duplicate and replaced flags stay; the job
 * stored is the same; any other preference (or none) gets the whole job. */
static void enqueue_prefer_return_minimal_is_short(void **state)
{
        const char *asks[] = {"Prefer: return=minimal", "Prefer: RETURN = \"minimal\"",
                              "Prefer: respond-async, return=minimal; x=1",
                              "Prefer: wait=5,return=minimal"};
        const char *not_minimal[] = {NULL, "Prefer: return=representation",
                                     "Prefer: return=minimalist", "Prefer: x=\"return=minimal\""};
        char q[64], body[512], m[512], hdr[64], path[128];
        struct http_res r, g;

        (void)state;
        harness_unique("minimal", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":{\"a\":1}}", q);
        for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
                assert_int_equal(enqueue_prefer(asks[i], body, &r), 201);
                assert_string_equal(members(r.json, m, sizeof(m)), "job");
                assert_string_equal(members(jpath(r.json, "job"), m, sizeof(m)),
                                    "id state version");
                assert_string_equal(jpath_str(r.json, "job.state"), "queued");
                assert_int_equal(jpath_int(r.json, "job.version"), 1);
                assert_non_null(http_header(&r, "Preference-Applied", hdr, sizeof(hdr)));
                assert_string_equal(hdr, "return=minimal");
                /* The job itself is whole. */
                snprintf(path, sizeof(path), "/v1/jobs/%s", jpath_str(r.json, "job.id"));
                harness_expect(srv.url, NULL, "GET", path, NULL, 200, &g);
                assert_int_equal(jpath_int(g.json, "job.payload.a"), 1);
                http_res_free(&g);
                http_res_free(&r);
        }
        for (size_t i = 0; i < sizeof(not_minimal) / sizeof(not_minimal[0]); i++) {
                assert_int_equal(enqueue_prefer(not_minimal[i], body, &r), 201);
                assert_non_null(jpath(r.json, "job.payload"));
                assert_non_null(jpath(r.json, "job.created_at"));
                assert_null(http_header(&r, "Preference-Applied", hdr, sizeof(hdr)));
                http_res_free(&r);
        }
        /* An idempotent repeat keeps its flag. */
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"idempotency_key\":\"mi\"}",
                 q);
        assert_int_equal(enqueue_prefer(asks[0], body, &r), 201);
        http_res_free(&r);
        assert_int_equal(enqueue_prefer(asks[0], body, &r), 200);
        assert_string_equal(members(r.json, m, sizeof(m)), "job duplicate");
        assert_true(json_is_true(jpath(r.json, "duplicate")));
        assert_string_equal(members(jpath(r.json, "job"), m, sizeof(m)), "id state version");
        http_res_free(&r);
        /* A batch: each element short, in request order, its flags kept. */
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\",\"idempotency_key\":\"mi\"},"
                 "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":60000}]}",
                 q, q);
        assert_int_equal(enqueue_prefer(asks[0], body, &r), 201);
        assert_string_equal(members(r.json, m, sizeof(m)), "jobs");
        assert_string_equal(members(jpath(r.json, "jobs[0]"), m, sizeof(m)),
                            "id state version duplicate");
        assert_string_equal(members(jpath(r.json, "jobs[1]"), m, sizeof(m)), "id state version");
        assert_string_equal(jpath_str(r.json, "jobs[1].state"), "scheduled");
        assert_non_null(http_header(&r, "Preference-Applied", hdr, sizeof(hdr)));
        http_res_free(&r);
        /* Errors are the same either way. */
        assert_int_equal(enqueue_prefer(asks[0], "{\"type\":\"t\"}", &r), 400);
        assert_string_equal(jpath_str(r.json, "error.code"), "missing_field");
        assert_null(http_header(&r, "Preference-Applied", hdr, sizeof(hdr)));
        http_res_free(&r);
        /* libbaton asks for the short answer when its caller takes no job:
         * the calls succeed, the jobs are stored, refusals still come back. */
        {
                struct baton_enqueue_opts o[2] = {{.queue = q, .type = "lib"},
                                                  {.queue = q, .type = "lib"}};
                int64_t n = harness_count_jobs(cl, q, NULL);

                assert_ok(cl, baton_enqueue(cl, &o[0], NULL));
                assert_int_equal(baton_client_last_error(cl)->http_status, 201);
                assert_ok(cl, baton_enqueue_batch(cl, o, 2, NULL));
                assert_int_equal(baton_client_last_error(cl)->http_status, 201);
                assert_int_equal(harness_count_jobs(cl, q, NULL), n + 3);
                o[0].extra = "{\"bogus\":1}";
                assert_int_not_equal(baton_enqueue(cl, &o[0], NULL), 0);
                assert_int_equal(baton_client_last_error(cl)->http_status, 400);
                assert_string_equal(baton_client_last_error(cl)->code, "unknown_field");
        }
}

int main(void)
{
        static const char *const args[] = {"--lease-min-ms", "100", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(enqueue_defaults),
            cmocka_unit_test(enqueue_all_fields),
            cmocka_unit_test(enqueue_batch),
            cmocka_unit_test(enqueue_prefer_return_minimal_is_short),
            cmocka_unit_test(get_and_errors),
            cmocka_unit_test(list_filters_and_pages),
            cmocka_unit_test(cancel_and_retry),
            cmocka_unit_test(priority_order),
            cmocka_unit_test(delayed_jobs),
            cmocka_unit_test(idempotency_repeat_and_conflict),
            cmocka_unit_test(idempotency_race),
            cmocka_unit_test(keys_keep_and_replace),
            cmocka_unit_test(get_wait_ms),
        };

        harness_group(&srv, args, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
