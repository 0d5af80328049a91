/*
 * test_work.c: end-to-end tests of the worker side of docs/api.md against a
 * real batond: claim (fields, max, lease_ms), heartbeat (lease extension,
 * progress, step log, cancel_requested), complete and fail with every retry
 * rule, repeat semantics (same outcome 200 "repeat", other outcome 409
 * already_settled), stale leases (409 lease_mismatch, nothing changed), lease
 * expiry -> retry -> dead (lease_expired), cancel of a running job, batch
 * settle, long-poll wake-up and the empty wait, a parked claim leasing its
 * job in the enqueue's transaction, pause and resume. The server runs
 * with --lease-min-ms 100 so leases can expire within a test.
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

static void claim_fields(void **state)
{
        char q[64];
        struct baton_job *j = harness_enqueue(cl, harness_unique("claim", q, sizeof(q)), "t", "{}");
        struct http_res r;
        json_t *job;
        int64_t t0 = harness_wall_ms(), lu;

        (void)state;
        http_json(srv.url, "POST", "/v1/queues/nothing-here/claim", "{\"worker\":\"w-1\"}", &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(jpath(r.json, "jobs")), 0);
        http_res_free(&r);

        {
                char path[128];

                snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
                http_json(srv.url, "POST", path, "{\"worker\":\"w-1\",\"max\":5}", &r);
        }
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(jpath(r.json, "jobs")), 1);
        job = jpath(r.json, "jobs[0]");
        assert_string_equal(jpath_str(job, "id"), j->id);
        assert_string_equal(jpath_str(job, "state"), "running");
        assert_int_equal(jpath_int(job, "attempt"), 1);
        assert_string_equal(jpath_str(job, "worker"), "w-1");
        assert_non_null(jpath_str(job, "lease"));
        assert_true(strlen(jpath_str(job, "lease")) >= 16);
        lu = harness_parse_time(jpath_str(job, "lease_until"));
        /* Default lease 30 s from the claim. */
        assert_true(lu >= t0 + 30000 - 5 && lu <= harness_wall_ms() + 30000 + 5);
        assert_true(harness_parse_time(jpath_str(job, "started_at")) >= t0 - 5);
        assert_int_equal(json_array_size(jpath(job, "attempts")), 1);
        assert_int_equal(jpath_int(job, "attempts[0].attempt"), 1);
        assert_string_equal(jpath_str(job, "attempts[0].worker"), "w-1");
        assert_true(json_is_null(jpath(job, "attempts[0].outcome")));
        assert_true(json_is_null(jpath(job, "attempts[0].finished_at")));
        http_res_free(&r);

        /* The token appears only in the claim's answer. */
        {
                char path[128];

                snprintf(path, sizeof(path), "/v1/jobs/%s", j->id);
                http_json(srv.url, "GET", path, NULL, &r);
                assert_int_equal(r.status, 200);
                assert_null(jpath(r.json, "job.lease"));
                assert_string_equal(jpath_str(r.json, "job.state"), "running");
                http_res_free(&r);
        }
        baton_job_free(j);
}

static void claim_max_and_lease(void **state)
{
        char q[64];
        struct baton_jobs *l;
        int i;
        int64_t t0;

        (void)state;
        harness_unique("claimmax", q, sizeof(q));
        for (i = 0; i < 5; i++)
                baton_job_free(harness_enqueue(cl, q, "t", NULL));
        t0 = harness_wall_ms();
        l = harness_claim(cl, q, 3, 0, 2000);
        assert_int_equal(l->n, 3);
        for (i = 0; i < 3; i++) {
                assert_true(l->v[i].lease_until_ms >= t0 + 2000 - 5);
                assert_true(l->v[i].lease_until_ms <= harness_wall_ms() + 2000 + 5);
                assert_non_null(l->v[i].lease);
                if (i)
                        assert_string_not_equal(l->v[i].lease, l->v[i - 1].lease);
        }
        baton_jobs_free(l);
        l = harness_claim(cl, q, 3, 0, 0);
        assert_int_equal(l->n, 2);
        baton_jobs_free(l);
        l = harness_claim(cl, q, 3, 0, 0);
        assert_int_equal(l->n, 0);
        baton_jobs_free(l);
}

static void heartbeat_progress_steps(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {.queue = harness_unique("hb", q, sizeof(q)), .type = "t"};
        struct baton_jobs *l = harness_enqueue_claim(cl, &o, 0);
        struct baton_heartbeat_res hb;
        struct baton_job *g = NULL;
        json_t *obj;
        int64_t t0;

        (void)state;
        t0 = harness_wall_ms();
        assert_ok(cl, baton_heartbeat(cl, l->v[0].id, l->v[0].lease, 5000,
                                      "{\"percent\":10,\"step\":\"fetch\",\"message\":\"start\"}",
                                      &hb));
        assert_false(hb.cancel_requested);
        assert_true(hb.lease_until_ms >= t0 + 5000 - 5 &&
                    hb.lease_until_ms <= harness_wall_ms() + 5005);
        assert_ok(cl, baton_heartbeat(cl, l->v[0].id, l->v[0].lease, 0,
                                      "{\"percent\":40,\"step\":\"render\",\"message\":\"page 2\"}",
                                      &hb));
        /* extend_ms 0 = the job's own lease_ms (30 s). */
        assert_true(hb.lease_until_ms >= harness_wall_ms() + 29000);
        /* Same step again: no new step entry. */
        assert_ok(cl, baton_heartbeat(cl, l->v[0].id, l->v[0].lease, 0,
                                      "{\"percent\":60,\"step\":\"render\",\"message\":\"page 3\"}",
                                      NULL));
        assert_ok(cl, baton_job_get(cl, l->v[0].id, 0, &g));
        obj = harness_job_obj(g);
        assert_int_equal(jpath_int(obj, "progress.percent"), 60);
        assert_string_equal(jpath_str(obj, "progress.step"), "render");
        assert_string_equal(jpath_str(obj, "progress.message"), "page 3");
        assert_int_equal(json_array_size(jpath(obj, "steps")), 2);
        assert_string_equal(jpath_str(obj, "steps[0].step"), "fetch");
        assert_non_null(jpath_str(obj, "steps[0].finished_at"));
        assert_string_equal(jpath_str(obj, "steps[1].step"), "render");
        assert_true(json_is_null(jpath(obj, "steps[1].finished_at")));
        assert_true(g->lease_until_ms >= harness_wall_ms() + 29000);
        json_decref(obj);
        baton_job_free(g);

        /* Bad progress. */
        {
                struct http_res r;
                char path[128];
                char *snap = harness_snapshot(srv.url, l->v[0].id);

                snprintf(path, sizeof(path), "/v1/jobs/%s/heartbeat", l->v[0].id);
                http_jsonf(srv.url, "POST", path, &r,
                           "{\"lease\":\"%s\",\"progress\":{\"percent\":101}}", l->v[0].lease);
                assert_http_error(&r, 400, "invalid_field", "progress.percent");
                http_res_free(&r);
                http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"progress\":\"half\"}",
                           l->v[0].lease);
                assert_http_error(&r, 400, "invalid_field", "progress");
                http_res_free(&r);
                http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"extend_ms\":50}",
                           l->v[0].lease);
                assert_http_error(&r, 400, "lease_ms_out_of_range", "extend_ms");
                http_res_free(&r);
                http_json(srv.url, "POST", path, "{}", &r);
                assert_http_error(&r, 400, "missing_field", "lease");
                http_res_free(&r);
                assert_unchanged(srv.url, l->v[0].id, snap);
                free(snap);
        }
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, NULL, NULL));
        /* Heartbeat after the settle is refused. */
        assert_int_equal(baton_heartbeat(cl, l->v[0].id, l->v[0].lease, 0, NULL, NULL) < 0, 1);
        assert_int_equal(baton_client_last_error(cl)->http_status, 409);
        baton_jobs_free(l);
}

static void complete_and_repeat(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {.queue = harness_unique("complete", q, sizeof(q)),
                                       .type = "t"};
        struct baton_jobs *l = harness_enqueue_claim(cl, &o, 0);
        struct baton_job *c = NULL;
        json_t *obj;
        char *snap;
        const char *id = l->v[0].id, *lease = l->v[0].lease;

        (void)state;
        assert_ok(cl, baton_complete(cl, id, lease, "{\"rank\":[3,1,2]}", &c));
        assert_int_equal(baton_client_last_error(cl)->http_status, 200);
        assert_int_equal(c->state, BATON_STATE_COMPLETED);
        assert_false(c->repeat);
        assert_string_equal(c->result, "{\"rank\":[3,1,2]}");
        assert_true(c->finished_at_ms > 0);
        obj = harness_job_obj(c);
        assert_string_equal(jpath_str(obj, "attempts[0].outcome"), "completed");
        assert_non_null(jpath_str(obj, "attempts[0].finished_at"));
        json_decref(obj);
        baton_job_free(c);

        /* Same outcome again (a retry after a lost answer): 200 repeat, nothing
         * changes even when the retry carries another result. */
        snap = harness_snapshot(srv.url, id);
        assert_ok(cl, baton_complete(cl, id, lease, "{\"other\":1}", &c));
        assert_int_equal(baton_client_last_error(cl)->http_status, 200);
        assert_true(c->repeat);
        assert_string_equal(c->result, "{\"rank\":[3,1,2]}");
        baton_job_free(c);
        assert_unchanged(srv.url, id, snap);
        /* The other outcome with that lease: 409 already_settled. */
        assert_err(cl, baton_fail(cl, id, lease, "boom", true, -1, NULL), BATON_ECONFLICT, 409,
                   "already_settled", NULL);
        assert_unchanged(srv.url, id, snap);
        /* Raw: the repeat flag beside the job. */
        {
                struct http_res r;
                char path[128];

                snprintf(path, sizeof(path), "/v1/jobs/%s/complete", id);
                http_jsonf(srv.url, "POST", path, &r, "{\"lease\":\"%s\",\"result\":null}", lease);
                assert_int_equal(r.status, 200);
                assert_true(jpath_true(r.json, "repeat"));
                assert_string_equal(jpath_str(r.json, "job.state"), "completed");
                http_res_free(&r);
        }
        assert_unchanged(srv.url, id, snap);
        free(snap);
        baton_jobs_free(l);
}

static void fail_rules(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {0};
        struct baton_jobs *l;
        struct baton_job *f = NULL;
        json_t *obj;
        char *snap;
        int64_t t0;

        (void)state;
        o.queue = harness_unique("fail", q, sizeof(q));
        o.type = "t";

        /* Retryable with a fixed backoff: retrying, run_at = now + base_ms. */
        o.backoff = "{\"type\":\"fixed\",\"base_ms\":60000,\"max_ms\":60000}";
        l = harness_enqueue_claim(cl, &o, 0);
        t0 = harness_wall_ms();
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "db down", true, -1, &f));
        assert_int_equal(f->state, BATON_STATE_RETRYING);
        assert_string_equal(f->last_error, "db down");
        assert_true(f->run_at_ms >= t0 + 60000 - 5 && f->run_at_ms <= harness_wall_ms() + 60005);
        obj = harness_job_obj(f);
        assert_string_equal(jpath_str(obj, "attempts[0].outcome"), "failed");
        assert_string_equal(jpath_str(obj, "attempts[0].error"), "db down");
        json_decref(obj);
        baton_job_free(f);
        /* Repeat fail: 200 repeat; complete with that lease: 409 already_settled. */
        snap = harness_snapshot(srv.url, l->v[0].id);
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "db down", true, -1, &f));
        assert_true(f->repeat);
        assert_int_equal(f->state, BATON_STATE_RETRYING);
        baton_job_free(f);
        assert_err(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, "1", NULL), BATON_ECONFLICT,
                   409, "already_settled", NULL);
        assert_unchanged(srv.url, l->v[0].id, snap);
        free(snap);
        /* A retrying job is not claimable before its time. */
        {
                struct baton_jobs *none = harness_claim(cl, q, 1, 0, 0);

                assert_int_equal(none->n, 0);
                baton_jobs_free(none);
        }
        /* Cancel of a retrying job: cancelled at once. */
        assert_ok(cl, baton_job_cancel(cl, l->v[0].id, &f));
        assert_int_equal(f->state, BATON_STATE_CANCELLED);
        baton_job_free(f);
        baton_jobs_free(l);

        /* retry_in_ms overrides the backoff: ready again after it. */
        l = harness_enqueue_claim(cl, &o, 0);
        t0 = harness_now_ms();
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "later", true, 300, &f));
        assert_int_equal(f->state, BATON_STATE_RETRYING);
        baton_job_free(f);
        {
                struct baton_jobs *again = harness_claim(cl, q, 1, 5000, 0);
                int64_t took = harness_now_ms() - t0;

                print_message("retry_in_ms=300: claimable again after %lld ms\n", (long long)took);
                assert_int_equal(again->n, 1);
                assert_string_equal(again->v[0].id, l->v[0].id);
                assert_int_equal(again->v[0].attempt, 2);
                assert_true(took >= 250 && took <= 1500);
                /* Not retryable: dead at once, whatever the budget. */
                assert_ok(cl, baton_fail(cl, again->v[0].id, again->v[0].lease, "bad input", false,
                                         -1, &f));
                assert_int_equal(f->state, BATON_STATE_DEAD);
                assert_string_equal(f->last_error, "bad input");
                obj = harness_job_obj(f);
                assert_int_equal(json_array_size(jpath(obj, "attempts")), 2);
                json_decref(obj);
                baton_job_free(f);
                baton_jobs_free(again);
        }
        baton_jobs_free(l);

        /* Backoff none: dead after one failure. */
        o.backoff = "{\"type\":\"none\"}";
        l = harness_enqueue_claim(cl, &o, 0);
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "x", true, -1, &f));
        assert_int_equal(f->state, BATON_STATE_DEAD);
        baton_job_free(f);
        baton_jobs_free(l);

        /* Immediate: claimable again at once; attempts used up: dead. */
        o.backoff = "{\"type\":\"immediate\"}";
        o.max_attempts = 2;
        l = harness_enqueue_claim(cl, &o, 0);
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "first", true, -1, &f));
        assert_true(f->state == BATON_STATE_QUEUED || f->state == BATON_STATE_RETRYING);
        baton_job_free(f);
        {
                struct baton_jobs *again = harness_claim(cl, q, 1, 2000, 0);

                assert_int_equal(again->n, 1);
                assert_int_equal(again->v[0].attempt, 2);
                assert_ok(
                    cl, baton_fail(cl, again->v[0].id, again->v[0].lease, "second", true, -1, &f));
                assert_int_equal(f->state, BATON_STATE_DEAD);
                assert_string_equal(f->last_error, "second");
                baton_job_free(f);
                baton_jobs_free(again);
        }
        baton_jobs_free(l);

        /* Exponential: base * 2^(attempt-1) with equal jitter, capped at max_ms. */
        o.backoff = "{\"type\":\"exponential\",\"base_ms\":40000,\"max_ms\":50000}";
        o.max_attempts = 5;
        l = harness_enqueue_claim(cl, &o, 0);
        t0 = harness_wall_ms();
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "x", true, -1, &f));
        assert_true(f->run_at_ms >= t0 + 20000 - 5);
        assert_true(f->run_at_ms <= harness_wall_ms() + 40000 + 5);
        baton_job_free(f);
        baton_jobs_free(l);
}

static void stale_lease_refused(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {.queue = harness_unique("stale", q, sizeof(q)), .type = "t"};
        struct baton_jobs *l1, *l2;
        struct baton_job *f = NULL;
        char *snap;

        (void)state;
        o.backoff = "{\"type\":\"immediate\"}";
        l1 = harness_enqueue_claim(cl, &o, 0);
        assert_ok(cl, baton_fail(cl, l1->v[0].id, l1->v[0].lease, "first", true, -1, &f));
        baton_job_free(f);
        l2 = harness_claim(cl, q, 1, 2000, 0);
        assert_int_equal(l2->n, 1);
        assert_string_not_equal(l2->v[0].lease, l1->v[0].lease);

        snap = harness_snapshot(srv.url, l1->v[0].id);
        assert_err(cl, baton_complete(cl, l1->v[0].id, l1->v[0].lease, "1", NULL), BATON_ELEASE,
                   409, "lease_mismatch", NULL);
        assert_err(cl, baton_fail(cl, l1->v[0].id, l1->v[0].lease, "e", true, -1, NULL),
                   BATON_ELEASE, 409, "lease_mismatch", NULL);
        assert_err(cl, baton_heartbeat(cl, l1->v[0].id, l1->v[0].lease, 0, NULL, NULL),
                   BATON_ELEASE, 409, "lease_mismatch", NULL);
        assert_err(cl, baton_complete(cl, l1->v[0].id, "not-a-lease", "1", NULL), BATON_ELEASE, 409,
                   "lease_mismatch", NULL);
        assert_unchanged(srv.url, l1->v[0].id, snap);
        free(snap);
        /* Unknown job: 404. */
        assert_err(cl, baton_complete(cl, "987654321", "x", "1", NULL), BATON_ENOTFOUND, 404,
                   "not_found", NULL);
        /* The current holder still settles. */
        assert_ok(cl, baton_complete(cl, l2->v[0].id, l2->v[0].lease, "2", &f));
        assert_int_equal(f->state, BATON_STATE_COMPLETED);
        assert_string_equal(f->result, "2");
        baton_job_free(f);
        /* docs/api.md's example of the error shape: lease_mismatch names the field
         * "lease". Checked last so the rules above are reported on their own. */
        assert_err(cl, baton_complete(cl, l1->v[0].id, l1->v[0].lease, "1", NULL), BATON_ELEASE,
                   409, "lease_mismatch", "lease");
        baton_jobs_free(l1);
        baton_jobs_free(l2);
}

static void lease_expiry_retry_dead(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {.queue = harness_unique("expiry", q, sizeof(q)),
                                       .type = "t"};
        struct baton_jobs *l1, *l2;
        struct baton_job *g = NULL;
        json_t *obj;
        char *snap;
        int64_t t0;

        (void)state;
        o.lease_ms = 300;
        o.max_attempts = 2;
        o.backoff = "{\"type\":\"immediate\"}";
        l1 = harness_enqueue_claim(cl, &o, 0);
        assert_true(l1->v[0].lease_until_ms <= harness_wall_ms() + 300 + 5);
        t0 = harness_now_ms();
        /* The expired attempt fails at its deadline and the job comes back. */
        l2 = harness_claim(cl, q, 1, 5000, 0);
        print_message("expired lease re-claimed after %lld ms (lease 300 ms)\n",
                      (long long)(harness_now_ms() - t0));
        assert_int_equal(l2->n, 1);
        assert_string_equal(l2->v[0].id, l1->v[0].id);
        assert_int_equal(l2->v[0].attempt, 2);
        assert_true(harness_now_ms() - t0 >= 200);
        assert_true(harness_now_ms() - t0 <= 1500);
        /* The first lease is stale now. */
        assert_err(cl, baton_complete(cl, l1->v[0].id, l1->v[0].lease, "1", NULL), BATON_ELEASE,
                   409, "lease_mismatch", NULL);
        /* Second attempt expires too: attempts used up, dead. */
        t0 = harness_now_ms();
        assert_ok(cl, baton_job_get(cl, l1->v[0].id, 5000, &g));
        print_message("second expiry made the job %s after %lld ms\n", baton_state_name(g->state),
                      (long long)(harness_now_ms() - t0));
        assert_int_equal(g->state, BATON_STATE_DEAD);
        assert_true(harness_now_ms() - t0 <= 1500);
        obj = harness_job_obj(g);
        assert_int_equal(json_array_size(jpath(obj, "attempts")), 2);
        assert_string_equal(jpath_str(obj, "attempts[0].outcome"), "lease_expired");
        assert_string_equal(jpath_str(obj, "attempts[1].outcome"), "lease_expired");
        assert_non_null(jpath_str(obj, "attempts[1].finished_at"));
        json_decref(obj);
        baton_job_free(g);
        /* Settling with the expired lease: 409 lease_expired, nothing changes. */
        snap = harness_snapshot(srv.url, l1->v[0].id);
        assert_err(cl, baton_complete(cl, l2->v[0].id, l2->v[0].lease, "1", NULL), BATON_EEXPIRED,
                   409, "lease_expired", NULL);
        assert_err(cl, baton_fail(cl, l2->v[0].id, l2->v[0].lease, "late", true, -1, NULL),
                   BATON_EEXPIRED, 409, "lease_expired", NULL);
        assert_err(cl, baton_heartbeat(cl, l2->v[0].id, l2->v[0].lease, 0, NULL, NULL),
                   BATON_EEXPIRED, 409, "lease_expired", NULL);
        assert_unchanged(srv.url, l1->v[0].id, snap);
        free(snap);
        baton_jobs_free(l1);
        baton_jobs_free(l2);

        /* Heartbeats keep a short lease alive; a claim's lease_ms overrides the
         * job's. */
        o.lease_ms = 30000;
        o.max_attempts = 1;
        l1 = harness_enqueue_claim(cl, &o, 300);
        {
                int i;

                for (i = 0; i < 8; i++) {
                        harness_sleep_ms(100);
                        assert_ok(
                            cl, baton_heartbeat(cl, l1->v[0].id, l1->v[0].lease, 300, NULL, NULL));
                }
        }
        assert_int_equal(harness_job_state(cl, l1->v[0].id), BATON_STATE_RUNNING);
        assert_ok(cl, baton_complete(cl, l1->v[0].id, l1->v[0].lease, "\"ok\"", &g));
        assert_int_equal(g->state, BATON_STATE_COMPLETED);
        baton_job_free(g);
        baton_jobs_free(l1);

        /* An expired lease on a job without retries left: dead, with the outcome. */
        o.lease_ms = 200;
        l1 = harness_enqueue_claim(cl, &o, 0);
        assert_ok(cl, baton_job_get(cl, l1->v[0].id, 5000, &g));
        assert_int_equal(g->state, BATON_STATE_DEAD);
        baton_job_free(g);
        baton_jobs_free(l1);
}

static void cancel_running(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {.queue = harness_unique("cancelrun", q, sizeof(q)),
                                       .type = "t"};
        struct baton_jobs *l;
        struct baton_job *c = NULL;
        struct baton_heartbeat_res hb;

        (void)state;
        /* Cancel, learn it on heartbeat, fail: cancelled (not retried). */
        l = harness_enqueue_claim(cl, &o, 0);
        assert_ok(cl, baton_job_cancel(cl, l->v[0].id, &c));
        assert_int_equal(c->state, BATON_STATE_RUNNING);
        assert_true(c->cancel_requested);
        baton_job_free(c);
        assert_ok(cl, baton_heartbeat(cl, l->v[0].id, l->v[0].lease, 0, NULL, &hb));
        assert_true(hb.cancel_requested);
        /* A second cancel is accepted and changes nothing visible. */
        assert_ok(cl, baton_job_cancel(cl, l->v[0].id, &c));
        assert_int_equal(c->state, BATON_STATE_RUNNING);
        baton_job_free(c);
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "stopped", true, -1, &c));
        assert_int_equal(c->state, BATON_STATE_CANCELLED);
        assert_non_null(c->cancel_reason);
        baton_job_free(c);
        baton_jobs_free(l);

        /* Cancel then complete: a complete still completes. */
        l = harness_enqueue_claim(cl, &o, 0);
        assert_ok(cl, baton_job_cancel(cl, l->v[0].id, NULL));
        assert_ok(cl, baton_complete(cl, l->v[0].id, l->v[0].lease, "1", &c));
        assert_int_equal(c->state, BATON_STATE_COMPLETED);
        baton_job_free(c);
        baton_jobs_free(l);

        /* Cancel then the lease expires: cancelled. */
        o.lease_ms = 200;
        l = harness_enqueue_claim(cl, &o, 0);
        assert_ok(cl, baton_job_cancel(cl, l->v[0].id, NULL));
        assert_ok(cl, baton_job_get(cl, l->v[0].id, 5000, &c));
        assert_int_equal(c->state, BATON_STATE_CANCELLED);
        baton_job_free(c);
        {
                struct baton_jobs *none = harness_claim(cl, q, 1, 0, 0);

                assert_int_equal(none->n, 0);
                baton_jobs_free(none);
        }
        /* Retry of a cancelled job runs it again. */
        assert_ok(cl, baton_job_retry(cl, l->v[0].id, &c));
        assert_int_equal(c->state, BATON_STATE_QUEUED);
        assert_false(c->cancel_requested);
        baton_job_free(c);
        baton_jobs_free(l);
        l = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(l->n, 1);
        assert_int_equal(l->v[0].attempt, 1);
        assert_false(l->v[0].cancel_requested);
        baton_jobs_free(l);
}

static void settle_batch(void **state)
{
        char q[64];
        struct baton_jobs *l;
        struct baton_settle_item it[5];
        struct http_res r;
        char *snap;
        int i;

        (void)state;
        harness_unique("settle", q, sizeof(q));
        for (i = 0; i < 4; i++)
                baton_job_free(harness_enqueue(cl, q, "t", NULL));
        l = harness_claim(cl, q, 4, 0, 0);
        assert_int_equal(l->n, 4);
        memset(it, 0, sizeof(it));
        for (i = 0; i < 4; i++) {
                it[i].id = l->v[i].id;
                it[i].lease = l->v[i].lease;
                it[i].retry_in_ms = -1;
        }
        it[0].outcome = BATON_OUTCOME_COMPLETE;
        it[0].result = "{\"n\":0}";
        it[1].outcome = BATON_OUTCOME_FAIL;
        it[1].error = "fatal";
        it[1].not_retryable = true;
        it[2].outcome = BATON_OUTCOME_COMPLETE;
        it[2].lease = "wrong-lease";
        it[3].outcome = BATON_OUTCOME_FAIL;
        it[3].error = "soon";
        it[3].retry_in_ms = 60000;
        it[4].id = "987654321";
        it[4].lease = "x";
        it[4].retry_in_ms = -1;
        assert_ok(cl, baton_settle(cl, it, 5));
        assert_int_equal(it[0].rc, 0);
        assert_int_equal(it[1].rc, 0);
        assert_int_equal(it[2].rc, BATON_ELEASE);
        assert_string_equal(it[2].code, "lease_mismatch");
        assert_int_equal(it[3].rc, 0);
        assert_int_equal(it[4].rc, BATON_ENOTFOUND);
        assert_string_equal(it[4].code, "not_found");
        assert_int_equal(harness_job_state(cl, l->v[0].id), BATON_STATE_COMPLETED);
        assert_int_equal(harness_job_state(cl, l->v[1].id), BATON_STATE_DEAD);
        assert_int_equal(harness_job_state(cl, l->v[2].id), BATON_STATE_RUNNING);
        assert_int_equal(harness_job_state(cl, l->v[3].id), BATON_STATE_RETRYING);
        {
                struct baton_job *g = NULL;

                assert_ok(cl, baton_job_get(cl, l->v[0].id, 0, &g));
                assert_string_equal(g->result, "{\"n\":0}");
                baton_job_free(g);
        }

        /* Repeats: same outcome ok, other outcome already_settled. */
        it[0].outcome = BATON_OUTCOME_COMPLETE;
        it[1].outcome = BATON_OUTCOME_COMPLETE;
        it[2].lease = l->v[2].lease;
        it[2].outcome = BATON_OUTCOME_COMPLETE;
        assert_ok(cl, baton_settle(cl, it, 3));
        assert_int_equal(it[0].rc, 0);
        assert_int_equal(it[1].rc, BATON_ECONFLICT);
        assert_string_equal(it[1].code, "already_settled");
        assert_int_equal(it[2].rc, 0);
        assert_int_equal(harness_job_state(cl, l->v[2].id), BATON_STATE_COMPLETED);
        assert_int_equal(harness_job_state(cl, l->v[1].id), BATON_STATE_DEAD);

        /* A malformed item refuses the whole request with its path. */
        baton_jobs_free(l);
        baton_job_free(harness_enqueue(cl, q, "t", NULL));
        l = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(l->n, 1);
        snap = harness_snapshot(srv.url, l->v[0].id);
        http_jsonf(srv.url, "POST", "/v1/settle", &r,
                   "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\"},"
                   "{\"id\":\"%s\",\"outcome\":\"complete\"}]}",
                   l->v[0].id, l->v[0].lease, l->v[0].id);
        assert_http_error(&r, 400, "missing_field", "items[1].lease");
        http_res_free(&r);
        http_jsonf(srv.url, "POST", "/v1/settle", &r,
                   "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\"},7]}",
                   l->v[0].id, l->v[0].lease);
        assert_http_error(&r, 400, "invalid_field", "items[1]");
        http_res_free(&r);
        http_jsonf(srv.url, "POST", "/v1/settle", &r,
                   "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"maybe\"}]}",
                   l->v[0].id, l->v[0].lease);
        assert_http_error(&r, 400, "invalid_field", "items[0].outcome");
        http_res_free(&r);
        http_json(srv.url, "POST", "/v1/settle", "{\"items\":{}}", &r);
        assert_http_error(&r, 400, "invalid_field", "items");
        http_res_free(&r);
        http_json(srv.url, "POST", "/v1/settle", "{}", &r);
        assert_http_error(&r, 400, "missing_field", "items");
        http_res_free(&r);
        assert_unchanged(srv.url, l->v[0].id, snap);
        free(snap);
        /* Raw answer shape. */
        http_jsonf(srv.url, "POST", "/v1/settle", &r,
                   "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\","
                   "\"result\":5},{\"id\":\"%s\",\"lease\":\"nope\",\"outcome\":\"fail\","
                   "\"error\":\"x\"}]}",
                   l->v[0].id, l->v[0].lease, l->v[0].id);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "items[0].id"), l->v[0].id);
        assert_true(jpath_true(r.json, "items[0].ok"));
        assert_false(jpath_true(r.json, "items[1].ok"));
        assert_string_equal(jpath_str(r.json, "items[1].error.code"), "lease_mismatch");
        assert_non_null(jpath_str(r.json, "items[1].error.message"));
        http_res_free(&r);
        baton_jobs_free(l);
}

struct poller {
        const char *url;
        const char *queue;
        int64_t wait_ms;
        int rc;
        size_t n;
        char id[64];
        int64_t done_ms; /* monotonic time of the answer */
        int64_t took_ms;
};

static void *poll_thread(void *arg)
{
        struct poller *p = arg;
        struct baton_client *c = NULL;
        struct baton_claim_opts o = {.worker = "poller", .max = 1, .wait_ms = p->wait_ms};
        struct baton_jobs *l = NULL;
        int64_t t0;

        p->rc = baton_client_new(p->url, harness_key_for(p->url), &c);
        if (p->rc)
                return NULL;
        t0 = harness_now_ms();
        p->rc = baton_claim(c, p->queue, &o, &l);
        p->done_ms = harness_now_ms();
        p->took_ms = p->done_ms - t0;
        if (!p->rc) {
                p->n = l->n;
                if (l->n)
                        snprintf(p->id, sizeof(p->id), "%s", l->v[0].id);
        }
        baton_jobs_free(l);
        baton_client_free(c);
        return NULL;
}

static void long_poll_wakeup(void **state)
{
        char q[64];
        struct poller p = {.url = srv.url, .wait_ms = 5000};
        struct baton_job *j;
        struct http_res r;
        pthread_t t;
        int64_t acked, t0;
        int round;

        (void)state;
        p.queue = harness_unique("poll", q, sizeof(q));
        for (round = 0; round < 3; round++) {
                harness_thread(&t, poll_thread, &p);
                harness_sleep_ms(300); /* let the claim park */
                j = harness_enqueue(cl, q, "t", NULL);
                acked = harness_now_ms();
                harness_join(t);
                assert_int_equal(p.rc, 0);
                assert_int_equal(p.n, 1);
                assert_string_equal(p.id, j->id);
                print_message("long-poll answered %lld ms after the enqueue was acknowledged\n",
                              (long long)(p.done_ms - acked));
                assert_true(p.done_ms - acked <= 100);
                assert_true(p.took_ms < 2000);
                baton_job_free(j);
        }

        /* The empty wait answers {"jobs": []} after about wait_ms. */
        {
                char path[128];

                snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
                t0 = harness_now_ms();
                http_json(srv.url, "POST", path, "{\"worker\":\"w\",\"wait_ms\":600}", &r);
                t0 = harness_now_ms() - t0;
                print_message("empty wait of 600 ms answered after %lld ms\n", (long long)t0);
                assert_int_equal(r.status, 200);
                assert_true(json_is_array(jpath(r.json, "jobs")));
                assert_int_equal(json_array_size(jpath(r.json, "jobs")), 0);
                assert_true(t0 >= 550 && t0 <= 2500);
                http_res_free(&r);
        }

        /* A job enqueued on another queue does not answer this one. */
        {
                char other[64];

                p.wait_ms = 800;
                harness_thread(&t, poll_thread, &p);
                harness_sleep_ms(150);
                j = harness_enqueue(cl, harness_unique("poll-other", other, sizeof(other)), "t",
                                    NULL);
                harness_join(t);
                assert_int_equal(p.rc, 0);
                assert_int_equal(p.n, 0);
                assert_true(p.took_ms >= 750);
                baton_job_free(j);
        }
}

/* The value of an unlabelled metric line "<name> <value>" in /metrics. */
static double metric(const char *name)
{
        struct http_res r;
        char pat[128];
        const char *at;
        double v = -1;

        assert_int_equal(http_json(srv.url, "GET", "/metrics", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        snprintf(pat, sizeof(pat), "\n%s ", name);
        at = strstr(r.body, pat);
        assert_non_null(at);
        v = strtod(at + strlen(pat), NULL);
        http_res_free(&r);
        return v;
}

/* A claim parked on the queue an enqueue makes a job ready in runs in the
 * enqueue's transaction, after it, and leases the job under its one commit:
 * the store shows a transaction of more than one op for the pair, where a
 * claim woken by the enqueue's commit would make two transactions of one op
 * each. Three rounds, each of which must show it, so a background tick that
 * happens to share a transaction cannot pass the test alone. */
static void handoff_one_commit(void **state)
{
        char q[64];
        struct poller p = {.url = srv.url, .wait_ms = 5000};
        pthread_t t;

        (void)state;
        p.queue = harness_unique("handoff", q, sizeof(q));
        for (int round = 0; round < 3; round++) {
                struct baton_job *j;
                double sum0, n0, sum1, n1;

                harness_thread(&t, poll_thread, &p);
                harness_sleep_ms(300); /* let the claim park */
                sum0 = metric("baton_store_batch_size_sum");
                n0 = metric("baton_store_batch_size_count");
                j = harness_enqueue(cl, q, "t", NULL);
                harness_join(t);
                sum1 = metric("baton_store_batch_size_sum");
                n1 = metric("baton_store_batch_size_count");
                assert_int_equal(p.rc, 0);
                assert_int_equal(p.n, 1);
                assert_string_equal(p.id, j->id);
                print_message("round %d: %.0f ops in %.0f transactions\n", round, sum1 - sum0,
                              n1 - n0);
                /* The two metric reads are ops of their own only if they touch
                 * the store; either way the pair must have shared one. */
                assert_true(sum1 - sum0 >= 2);
                assert_true((sum1 - sum0) - (n1 - n0) >= 1);
                baton_job_free(j);
        }
}

/* A raw claim with its own key, on a thread: status and jobs answered. */
struct keyed_poll {
        const char *url;
        const char *key;
        char path[128];
        int status;
        size_t jobs;
        char code[64];
};

static void *keyed_poll_thread(void *arg)
{
        struct keyed_poll *p = arg;
        struct http_res r;

        p->status = 0;
        if (http_json_as(p->url, p->key, "POST", p->path, "{\"worker\":\"w\",\"wait_ms\":5000}",
                         &r) != 0)
                return NULL;
        p->status = r.status;
        p->jobs = json_array_size(jpath(r.json, "jobs"));
        snprintf(p->code, sizeof(p->code), "%s",
                 http_error_member(&r, "code") ? http_error_member(&r, "code") : "");
        http_res_free(&r);
        return NULL;
}

/* Parks a claim with key, then runs change (revokes or lets the key expire),
 * then enqueues a job: the claim is answered 401 and the job stays queued. */
static void parked_claim_refused(const char *key, const char *revoke_id, int64_t sleep_ms)
{
        char q[64], path[128];
        struct keyed_poll p = {.url = srv.url, .key = key};
        struct baton_job *j;
        pthread_t t;

        harness_unique("revoked-poll", q, sizeof(q));
        snprintf(p.path, sizeof(p.path), "/v1/queues/%s/claim", q);
        harness_thread(&t, keyed_poll_thread, &p);
        harness_sleep_ms(300); /* let the claim park */
        if (revoke_id) {
                struct http_res r;
                snprintf(path, sizeof(path), "/v1/keys/%s", revoke_id);
                assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                http_res_free(&r);
        }
        harness_sleep_ms(sleep_ms);
        j = harness_enqueue(cl, q, "t", NULL);
        harness_join(t);
        if (p.status != 401)
                fprintf(stderr, "parked claim answered %d (%zu jobs)\n", p.status, p.jobs);
        assert_int_equal(p.status, 401);
        assert_string_equal(p.code, "unauthenticated");
        /* Nothing was leased: the job is still there for a live worker. */
        assert_int_equal(harness_job_state(cl, j->id), BATON_STATE_QUEUED);
        baton_job_free(j);
}

static void parked_claim_of_revoked_key(void **state)
{
        char tok[128], id[32], extra[128], when[40];
        int64_t at;
        time_t sec;
        struct tm tm;

        (void)state;
        harness_make_key(&srv, NULL, "[\"work\"]", NULL, tok, id);
        parked_claim_refused(tok, id, 100);
        /* A key that expires while its claim waits. */
        at = harness_wall_ms() + 1000;
        sec = (time_t)(at / 1000);
        gmtime_r(&sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(extra, sizeof(extra), "\"expires_at\": \"%s.%03dZ\"", when, (int)(at % 1000));
        harness_make_key(&srv, NULL, "[\"work\"]", extra, tok, id);
        parked_claim_refused(tok, NULL, 1000);
}

static void pause_resume(void **state)
{
        char q[64], path[128];
        struct baton_queue *qu = NULL;
        struct baton_jobs *l;
        struct baton_job *j;
        struct poller p = {.url = srv.url, .wait_ms = 5000};
        struct http_res r;
        pthread_t t;
        int64_t resumed;

        (void)state;
        p.queue = harness_unique("pause", q, sizeof(q));
        assert_ok(cl, baton_queue_pause(cl, q, true, &qu));
        assert_true(qu->paused);
        assert_string_equal(qu->name, q);
        baton_queue_free(qu);
        /* Enqueues still succeed; claims get nothing. */
        j = harness_enqueue(cl, q, "t", NULL);
        l = harness_claim(cl, q, 5, 0, 0);
        assert_int_equal(l->n, 0);
        baton_jobs_free(l);
        assert_ok(cl, baton_queue_get(cl, q, &qu));
        assert_true(qu->paused);
        assert_int_equal(qu->counts.queued, 1);
        baton_queue_free(qu);
        /* A waiting claim is woken by the resume. */
        harness_thread(&t, poll_thread, &p);
        harness_sleep_ms(300);
        assert_ok(cl, baton_queue_pause(cl, q, false, &qu));
        resumed = harness_now_ms();
        assert_false(qu->paused);
        baton_queue_free(qu);
        harness_join(t);
        assert_int_equal(p.rc, 0);
        assert_int_equal(p.n, 1);
        assert_string_equal(p.id, j->id);
        print_message("claim woken %lld ms after resume\n", (long long)(p.done_ms - resumed));
        /* Woken by the resume, not by the end of its 5000 ms wait: nothing else
         * wakes a parked claim on one node. The margin is for a loaded machine
         * (116 ms seen with 100 ms under the full suite). */
        assert_true(p.done_ms - resumed <= 1000);
        baton_job_free(j);

        /* PATCH validation. */
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        http_json(srv.url, "PATCH", path, "{\"paused\":\"yes\"}", &r);
        assert_http_error(&r, 400, "invalid_field", "paused");
        http_res_free(&r);
        http_json(srv.url, "PATCH", path, "[true]", &r);
        assert_http_error(&r, 400, "invalid_json", NULL);
        http_res_free(&r);
        assert_ok(cl, baton_queue_get(cl, q, &qu));
        assert_false(qu->paused);
        baton_queue_free(qu);
}

static void claim_validation(void **state)
{
        struct http_res r;
        char q[64], path[128];
        int64_t before = harness_total_jobs(cl);

        (void)state;
        harness_unique("claimval", q, sizeof(q));
        baton_job_free(harness_enqueue(cl, q, "t", NULL));
        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        http_json(srv.url, "POST", path, "{}", &r);
        assert_http_error(&r, 400, "missing_field", "worker");
        http_res_free(&r);
        http_json(srv.url, "POST", path, "{\"worker\":\"w\",\"max\":0}", &r);
        assert_http_error(&r, 400, "max_out_of_range", "max");
        http_res_free(&r);
        http_json(srv.url, "POST", path, "{\"worker\":\"w\",\"max\":1001}", &r);
        assert_http_error(&r, 400, "max_out_of_range", "max");
        http_res_free(&r);
        http_json(srv.url, "POST", path, "{\"worker\":\"w\",\"wait_ms\":60001}", &r);
        assert_http_error(&r, 400, "wait_ms_out_of_range", "wait_ms");
        http_res_free(&r);
        http_json(srv.url, "POST", path, "{\"worker\":\"w\",\"lease_ms\":99}", &r);
        assert_http_error(&r, 400, "lease_ms_out_of_range", "lease_ms");
        http_res_free(&r);
        http_json(srv.url, "POST", path, "{\"worker\":\"w\",\"max\":\"2\"}", &r);
        assert_http_error(&r, 400, "invalid_field", "max");
        http_res_free(&r);
        http_json(srv.url, "POST", path, "{\"worker\":7}", &r);
        assert_http_error(&r, 400, "invalid_field", "worker");
        http_res_free(&r);
        http_json(srv.url, "POST", "/v1/queues/bad%20name/claim", "{\"worker\":\"w\"}", &r);
        assert_http_error(&r, 400, "name_invalid", "queue");
        http_res_free(&r);
        /* Nothing was claimed. */
        assert_int_equal(harness_count_jobs(cl, q, "queued"), 1);
        assert_int_equal(harness_total_jobs(cl), before + 1);
}

int main(void)
{
        static const char *const args[] = {"--lease-min-ms", "100", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(claim_fields),
            cmocka_unit_test(claim_max_and_lease),
            cmocka_unit_test(heartbeat_progress_steps),
            cmocka_unit_test(complete_and_repeat),
            cmocka_unit_test(fail_rules),
            cmocka_unit_test(stale_lease_refused),
            cmocka_unit_test(lease_expiry_retry_dead),
            cmocka_unit_test(cancel_running),
            cmocka_unit_test(settle_batch),
            cmocka_unit_test(long_poll_wakeup),
            cmocka_unit_test(handoff_one_commit),
            cmocka_unit_test(parked_claim_of_revoked_key),
            cmocka_unit_test(pause_resume),
            cmocka_unit_test(claim_validation),
        };

        harness_group(&srv, args, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
