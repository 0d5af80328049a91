/*
 * test_queues.c: end-to-end tests of the queue endpoints of docs/api.md: queue
 * get (counts per state, oldest ready age), list with pagination, PATCH
 * creating a queue, the dead letters (list, replay by ids and all, purge) and
 * retention (completed, dead and cancelled jobs and idempotency records purged
 * after their TTLs, in small batches). Two servers: one with the default
 * retention, one with TTLs of a few hundred milliseconds and a purge batch of 2.
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

/* Enqueues a job, claims it and fails it without retry: a dead job. Returns
 * its id (caller frees). */
static char *make_dead(struct baton_client *c, const char *q, const char *why)
{
        struct baton_enqueue_opts o = {.queue = q, .type = "t", .max_attempts = 1};
        struct baton_jobs *l = harness_enqueue_claim(c, &o, 0);
        struct baton_job *f = NULL;
        char *id;

        assert_ok(c, baton_fail(c, l->v[0].id, l->v[0].lease, why, true, -1, &f));
        assert_int_equal(f->state, BATON_STATE_DEAD);
        id = strdup(l->v[0].id);
        baton_job_free(f);
        baton_jobs_free(l);
        return id;
}

static void queue_counts(void **state)
{
        char q[64];
        struct baton_enqueue_opts o = {0};
        struct baton_queue *qu = NULL;
        struct baton_job *j = NULL;
        struct baton_jobs *l;
        struct http_res r;
        char path[128], *dead;

        (void)state;
        o.queue = harness_unique("counts", q, sizeof(q));
        o.type = "t";
        /* completed */
        baton_job_free(harness_enqueue(cl, q, "t", NULL));
        harness_claim_complete(cl, q, "1");
        /* dead */
        dead = make_dead(cl, q, "x");
        free(dead);
        /* retrying */
        o.backoff = "{\"type\":\"fixed\",\"base_ms\":60000,\"max_ms\":60000}";
        assert_ok(cl, baton_enqueue(cl, &o, &j));
        l = harness_claim(cl, q, 1, 0, 0);
        assert_ok(cl, baton_fail(cl, l->v[0].id, l->v[0].lease, "x", true, -1, NULL));
        baton_jobs_free(l);
        baton_job_free(j);
        /* running */
        baton_job_free(harness_enqueue(cl, q, "t", NULL));
        l = harness_claim(cl, q, 1, 0, 0);
        assert_int_equal(l->n, 1);
        baton_jobs_free(l);
        /* cancelled */
        j = harness_enqueue(cl, q, "t", NULL);
        assert_ok(cl, baton_job_cancel(cl, j->id, NULL));
        baton_job_free(j);
        /* scheduled */
        o.backoff = NULL;
        o.delay_ms = 60000;
        assert_ok(cl, baton_enqueue(cl, &o, &j));
        baton_job_free(j);
        /* 2 queued */
        baton_job_free(harness_enqueue(cl, q, "t", NULL));
        harness_sleep_ms(50);
        baton_job_free(harness_enqueue(cl, q, "t", NULL));

        assert_ok(cl, baton_queue_get(cl, q, &qu));
        assert_string_equal(qu->name, q);
        assert_false(qu->paused);
        assert_int_equal(qu->counts.pending, 0);
        assert_int_equal(qu->counts.scheduled, 1);
        assert_int_equal(qu->counts.queued, 2);
        assert_int_equal(qu->counts.running, 1);
        assert_int_equal(qu->counts.retrying, 1);
        assert_int_equal(qu->counts.completed, 1);
        assert_int_equal(qu->counts.dead, 1);
        assert_int_equal(qu->counts.cancelled, 1);
        assert_true(qu->oldest_ready_age_ms >= 40);
        assert_true(qu->oldest_ready_age_ms < 60000);
        baton_queue_free(qu);

        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        http_json(srv.url, "GET", path, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "queue.name"), q);
        assert_non_null(jpath_str(r.json, "queue.created_at"));
        assert_non_null(jpath_str(r.json, "queue.updated_at"));
        http_res_free(&r);

        /* Unknown and invalid queues. */
        assert_err(cl, baton_queue_get(cl, "no-such-queue-here", &qu), BATON_ENOTFOUND, 404,
                   "not_found", NULL);
        http_json(srv.url, "GET", "/v1/queues/bad%20name", NULL, &r);
        assert_http_error(&r, 400, "name_invalid", "queue");
        http_res_free(&r);
        /* An empty queue shows zero counts and no ready age. */
        {
                char e[64];

                assert_ok(
                    cl, baton_queue_pause(cl, harness_unique("empty", e, sizeof(e)), false, NULL));
                snprintf(path, sizeof(path), "/v1/queues/%s", e);
                http_json(srv.url, "GET", path, NULL, &r);
                assert_int_equal(r.status, 200);
                assert_int_equal(jpath_int(r.json, "queue.counts.queued"), 0);
                /* Nothing is ready: no age (null), or 0. */
                assert_true(json_is_null(jpath(r.json, "queue.oldest_ready_age_ms")) ||
                            jpath_int(r.json, "queue.oldest_ready_age_ms") == 0);
                http_res_free(&r);
        }
}

static void queue_list_pages(void **state)
{
        char q[3][64];
        struct baton_queues *l = NULL;
        char *after = NULL;
        int i, found = 0, pages;
        size_t total = 0;
        struct http_res r;

        (void)state;
        for (i = 0; i < 3; i++)
                baton_job_free(
                    harness_enqueue(cl, harness_unique("qlist", q[i], sizeof(q[i])), "t", NULL));
        for (pages = 0; pages < 200; pages++) {
                size_t k;

                assert_ok(cl, baton_queue_list(cl, 2, after, &l));
                assert_true(l->n <= 2);
                for (k = 0; k < l->n; k++)
                        for (i = 0; i < 3; i++)
                                if (strcmp(l->v[k].name, q[i]) == 0) {
                                        found++;
                                        assert_int_equal(l->v[k].counts.queued, 1);
                                }
                total += l->n;
                free(after);
                after = l->next ? strdup(l->next) : NULL;
                baton_queues_free(l);
                if (!after)
                        break;
        }
        assert_int_equal(found, 3);
        assert_true(total >= 3);
        http_json(srv.url, "GET", "/v1/queues?after=bad%20cursor%21", NULL, &r);
        assert_http_error(&r, 400, "invalid_cursor", "after");
        http_res_free(&r);
        http_json(srv.url, "GET", "/v1/queues?limit=0", NULL, &r);
        assert_http_error(&r, 400, "limit_out_of_range", "limit");
        http_res_free(&r);
        http_json(srv.url, "GET", "/v1/queues", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_true(json_is_array(jpath(r.json, "queues")));
        assert_true(json_is_null(jpath(r.json, "next")));
        http_res_free(&r);
}

static void dead_letters(void **state)
{
        char q[64], other[64];
        char *ids[4], *other_id;
        struct baton_jobs *l = NULL;
        struct baton_job *g = NULL, *live;
        int64_t n = -1;
        json_t *obj;
        int i;

        (void)state;
        harness_unique("dlq", q, sizeof(q));
        harness_unique("dlq-other", other, sizeof(other));
        for (i = 0; i < 4; i++) {
                char why[16];

                snprintf(why, sizeof(why), "why-%d", i);
                ids[i] = make_dead(cl, q, why);
        }
        other_id = make_dead(cl, other, "elsewhere");
        live = harness_enqueue(cl, q, "t", NULL);

        /* List: the dead jobs of this queue only, ascending, with their errors. */
        assert_ok(cl, baton_dead_list(cl, q, 0, NULL, &l));
        assert_int_equal(l->n, 4);
        for (i = 0; i < 4; i++) {
                char why[16];

                snprintf(why, sizeof(why), "why-%d", i);
                assert_string_equal(l->v[i].id, ids[i]);
                assert_int_equal(l->v[i].state, BATON_STATE_DEAD);
                assert_string_equal(l->v[i].last_error, why);
        }
        assert_null(l->next);
        baton_jobs_free(l);
        /* Paged. */
        assert_ok(cl, baton_dead_list(cl, q, 3, NULL, &l));
        assert_int_equal(l->n, 3);
        assert_non_null(l->next);
        {
                struct baton_jobs *l2 = NULL;

                assert_ok(cl, baton_dead_list(cl, q, 3, l->next, &l2));
                assert_int_equal(l2->n, 1);
                assert_string_equal(l2->v[0].id, ids[3]);
                assert_null(l2->next);
                baton_jobs_free(l2);
        }
        baton_jobs_free(l);

        /* Replay by ids: dead jobs of this queue count; others are ignored. */
        {
                const char *const replay[] = {ids[0], "987654321", live->id, other_id};

                assert_ok(cl, baton_dead_replay(cl, q, replay, 4, false, &n));
                assert_int_equal(n, 1);
        }
        assert_ok(cl, baton_job_get(cl, ids[0], 0, &g));
        assert_int_equal(g->state, BATON_STATE_QUEUED);
        assert_int_equal(g->attempt, 0);
        obj = harness_job_obj(g);
        assert_int_equal(json_array_size(jpath(obj, "attempts")), 1); /* history kept */
        json_decref(obj);
        baton_job_free(g);
        assert_int_equal(harness_job_state(cl, other_id), BATON_STATE_DEAD);
        assert_int_equal(harness_job_state(cl, live->id), BATON_STATE_QUEUED);
        /* The replayed job runs again with a fresh budget. */
        l = harness_claim(cl, q, 10, 0, 0);
        assert_int_equal(l->n, 2); /* live and ids[0] */
        for (i = 0; i < 2; i++)
                assert_int_equal(l->v[i].attempt, 1);
        baton_jobs_free(l);

        /* Replay all: the remaining three. */
        assert_ok(cl, baton_dead_replay(cl, q, NULL, 0, true, &n));
        assert_int_equal(n, 3);
        assert_ok(cl, baton_dead_list(cl, q, 0, NULL, &l));
        assert_int_equal(l->n, 0);
        baton_jobs_free(l);
        for (i = 1; i < 4; i++)
                assert_int_equal(harness_job_state(cl, ids[i]), BATON_STATE_QUEUED);
        assert_int_equal(harness_job_state(cl, other_id), BATON_STATE_DEAD);

        /* Bad replay bodies change nothing. */
        {
                struct http_res r;
                char path[128];

                snprintf(path, sizeof(path), "/v1/queues/%s/dead/replay", other);
                http_json(srv.url, "POST", path, "{}", &r);
                assert_int_equal(r.status, 400);
                assert_string_equal(http_error_member(&r, "code"), "missing_field");
                http_res_free(&r);
                http_json(srv.url, "POST", path, "{\"ids\":\"1\"}", &r);
                assert_http_error(&r, 400, "invalid_field", "ids");
                http_res_free(&r);
                /* 1 and "1" are ids alike (test_ids.c); 0 is none. */
                http_json(srv.url, "POST", path, "{\"ids\":[0]}", &r);
                assert_http_error(&r, 400, "invalid_id", "ids[0]");
                http_res_free(&r);
                http_json(srv.url, "POST", path, "{\"all\":\"yes\"}", &r);
                assert_http_error(&r, 400, "invalid_field", "all");
                http_res_free(&r);
                assert_int_equal(harness_job_state(cl, other_id), BATON_STATE_DEAD);
        }

        /* Purge: the dead jobs of this queue are deleted. */
        free(ids[0]);
        ids[0] = make_dead(cl, other, "again");
        assert_ok(cl, baton_dead_purge(cl, other, &n));
        assert_int_equal(n, 2);
        assert_err(cl, baton_job_get(cl, other_id, 0, &g), BATON_ENOTFOUND, 404, "not_found", NULL);
        assert_err(cl, baton_job_get(cl, ids[0], 0, &g), BATON_ENOTFOUND, 404, "not_found", NULL);
        assert_ok(cl, baton_dead_purge(cl, other, &n));
        assert_int_equal(n, 0);
        /* q's jobs were not dead: untouched. */
        assert_ok(cl, baton_dead_purge(cl, q, &n));
        assert_int_equal(n, 0);
        for (i = 1; i < 4; i++)
                assert_int_equal(harness_job_state(cl, ids[i]), BATON_STATE_QUEUED);
        /* An unknown queue has no dead jobs (or does not exist). */
        {
                struct http_res r;

                http_json(srv.url, "GET", "/v1/queues/never-used-queue/dead", NULL, &r);
                assert_true(r.status == 200 || r.status == 404);
                if (r.status == 200)
                        assert_int_equal(json_array_size(jpath(r.json, "jobs")), 0);
                http_res_free(&r);
        }
        for (i = 0; i < 4; i++)
                free(ids[i]);
        free(other_id);
        baton_job_free(live);
}

/* Polls (bounded) until GET of id answers 404; returns the ms it took or -1. */
static int64_t wait_gone(struct baton_client *c, const char *id, int64_t limit_ms)
{
        int64_t t0 = harness_now_ms();
        int i;

        for (i = 0; i < 1000 && harness_now_ms() - t0 < limit_ms; i++) {
                struct baton_job *g = NULL;
                int rc = baton_job_get(c, id, 0, &g);

                baton_job_free(g);
                if (rc == BATON_ENOTFOUND)
                        return harness_now_ms() - t0;
                assert_int_equal(rc, 0);
                harness_sleep_ms(50);
        }
        return -1;
}

static void retention_purge(void **state)
{
        static const char *const args[] = {"--completed-ttl-ms",
                                           "400",
                                           "--dead-ttl-ms",
                                           "800",
                                           "--idempotency-ttl-ms",
                                           "400",
                                           "--purge-batch",
                                           "2",
                                           NULL};
        struct harness rs;
        struct baton_client *c;
        char q[64];
        char *done[7], *dead, *cancelled, *keep;
        struct baton_enqueue_opts o = {0};
        struct baton_job *j = NULL;
        int64_t t0, took;
        int i;

        (void)state;
        assert_int_equal(harness_start(&rs, args), 0);
        c = harness_client(&rs);
        harness_unique("ret", q, sizeof(q));
        o.queue = q;
        o.type = "t";
        o.idempotency_key = "ret-key";
        o.payload = "{\"v\":1}";
        assert_ok(c, baton_enqueue(c, &o, &j));
        done[0] = strdup(j->id);
        baton_job_free(j);
        harness_claim_complete(c, q, "1");
        /* Within the idempotency TTL the key still answers duplicate, also
         * once its job has completed. Checked at once: the TTL is short, and
         * on a loaded machine the rest of the setup can outlast it. */
        assert_ok(c, baton_enqueue(c, &o, &j));
        assert_true(j->duplicate);
        baton_job_free(j);
        for (i = 1; i < 7; i++) {
                j = harness_enqueue(c, q, "t", NULL);
                done[i] = strdup(j->id);
                baton_job_free(j);
                harness_claim_complete(c, q, "1");
        }
        t0 = harness_now_ms();
        dead = make_dead(c, q, "x");
        j = harness_enqueue(c, q, "t", NULL);
        assert_ok(c, baton_job_cancel(c, j->id, NULL));
        cancelled = strdup(j->id);
        baton_job_free(j);
        j = harness_enqueue(c, q, "t", NULL);
        keep = strdup(j->id);
        baton_job_free(j);

        /* Right after they finish they are still there. */
        assert_int_equal(harness_job_state(c, done[6]), BATON_STATE_COMPLETED);
        assert_int_equal(harness_job_state(c, dead), BATON_STATE_DEAD);

        /* Completed: purged after ~400 ms, 7 jobs in batches of 2. */
        for (i = 0; i < 7; i++) {
                took = wait_gone(c, done[i], 5000);
                assert_true(took >= 0);
        }
        print_message("7 completed jobs purged %lld ms after the first finished\n",
                      (long long)(harness_now_ms() - t0));
        /* Dead and cancelled after ~800 ms, not before ~400. */
        took = wait_gone(c, dead, 5000);
        assert_true(took >= 0);
        assert_true(harness_now_ms() - t0 >= 700);
        assert_true(wait_gone(c, cancelled, 5000) >= 0);
        /* Queued jobs are never purged. */
        assert_int_equal(harness_job_state(c, keep), BATON_STATE_QUEUED);
        /* The idempotency record is gone too: the key makes a new job, even with
         * another payload. */
        o.payload = "{\"v\":2}";
        assert_ok(c, baton_enqueue(c, &o, &j));
        assert_int_equal(baton_client_last_error(c)->http_status, 201);
        assert_false(j->duplicate);
        assert_string_not_equal(j->id, done[0]);
        baton_job_free(j);
        {
                struct baton_queue *qu = NULL;

                assert_ok(c, baton_queue_get(c, q, &qu));
                assert_int_equal(qu->counts.completed, 0);
                assert_int_equal(qu->counts.dead, 0);
                assert_int_equal(qu->counts.cancelled, 0);
                assert_int_equal(qu->counts.queued, 2);
                baton_queue_free(qu);
        }
        for (i = 0; i < 7; i++)
                free(done[i]);
        free(dead);
        free(cancelled);
        free(keep);
        baton_client_free(c);
        assert_int_equal(harness_stop(&rs), 0);
}

int main(void)
{
        static const char *const args[] = {"--lease-min-ms", "100", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(queue_counts),
            cmocka_unit_test(queue_list_pages),
            cmocka_unit_test(dead_letters),
            cmocka_unit_test(retention_purge),
        };

        harness_group(&srv, args, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
