/*
 * test_jobs.c: the job semantics of core/jobs.c on a real SQLite store with a
 * fake clock, so time-dependent behaviour (backoff, lease expiry, delayed jobs,
 * retention, idempotency TTL) is tested exactly and instantly. Each test opens
 * a fresh store in a temporary directory.
 *
 * Most tests drive core directly inside begin..commit. The effect tests run
 * each operation through exec_run_sync, as the store thread does, and inspect
 * the effects it hands back (events and duration samples for metrics, ready
 * queues, terminal jobs, the next deadline), including that an op that rolls
 * back leaves no events behind. The lease tests pin the fencing rules: a stale
 * token, a repeated settle, expiry at the exact deadline and cancellation of a
 * running job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/errors.h"
#include "common/clock.h"
#include "common/jw.h"
#include "core/exec.h"
#include "core/job_log.h"
#include "core/limits.h"
#include "core/jobs.h"
#include "core/queues.h"
#include "core/validate.h"
#include "store/store.h"
#include "support/unit_env.h"

#define T0 UNIT_ENV_T0_MS

/* Enqueues a job on queue q with the given payload; returns its id. */
static int64_t enqueue_full(struct env *e, const char *q, int prio, int64_t delay_ms,
                            const char *idem, const char *key, bool replace, int *rc_out,
                            struct enqueue_res *res_out)
{
        struct enqueue_req req;
        struct enqueue_res res;
        struct verr verr;
        int64_t id = 0;
        int rc;

        memset(&req, 0, sizeof(req));
        req.job.tenant = strdup("default");
        req.job.queue = strdup(q);
        req.job.type = strdup("t");
        req.job.payload = strdup("{\"n\":1}");
        req.job.priority = prio;
        req.job.idempotency_key = idem ? strdup(idem) : NULL;
        req.job.key = key ? strdup(key) : NULL;
        req.job.backoff.type = BACKOFF_EXPONENTIAL;
        req.delay_ms = delay_ms;
        req.on_key_replace = replace;
        snprintf(req.payload_hash, sizeof(req.payload_hash), "%s", "h1");
        assert_int_equal(validate_enqueue(&e->limits, "", &req, &verr), 0);
        rc = job_enqueue(unit_env_begin(e), &req, &res);
        unit_env_commit(e);
        if (rc_out)
                *rc_out = rc;
        if (!rc)
                id = res.job.id;
        if (res_out && !rc)
                *res_out = res;
        else if (!rc)
                job_free(&res.job);
        job_free(&req.job);
        return id;
}

static int64_t enqueue(struct env *e, const char *q, int prio, int64_t delay_ms)
{
        return enqueue_full(e, q, prio, delay_ms, NULL, NULL, false, NULL, NULL);
}

static void claim(struct env *e, const char *q, int max, int64_t lease_ms, struct job_vec *out)
{
        struct claim_req c = {"default", q, "w1", max, lease_ms, NULL, NULL};

        memset(out, 0, sizeof(*out));
        assert_int_equal(job_claim(unit_env_begin(e), &c, out), 0);
        unit_env_commit(e);
}

static int settle(struct env *e, int64_t id, const char *lease, int outcome, bool retryable,
                  struct settle_res *res)
{
        struct settle_req s = {"default",       id,     lease,     outcome,
                               "{\"ok\":true}", "boom", retryable, -1};
        struct settle_res tmp;
        int rc = job_settle(unit_env_begin(e), &s, res ? res : &tmp);

        unit_env_end(e, rc);
        if (!res && !rc)
                job_free(&tmp.job);
        return rc;
}

static struct job get(struct env *e, int64_t id)
{
        struct job j = {0};

        assert_int_equal(job_read(unit_env_begin(e), "default", id, &j), 0);
        unit_env_commit(e);
        return j;
}

static struct tick_res tick(struct env *e)
{
        struct tick_res r;

        assert_int_equal(job_tick(unit_env_begin(e), &r), 0);
        unit_env_commit(e);
        return r;
}

static void complete_once_and_repeat(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct settle_res r;
        char lease[64];
        struct job j;

        claim(e, "q", 10, 0, &jv);
        assert_int_equal(jv.n, 1);
        assert_int_equal(jv.v[0].id, id);
        assert_int_equal(jv.v[0].state, JOB_RUNNING);
        assert_int_equal(jv.v[0].attempt, 1);
        assert_int_equal(jv.v[0].lease_until_ms, T0 + 30000);
        snprintf(lease, sizeof(lease), "%s", jv.v[0].lease);
        job_vec_free(&jv);

        assert_int_equal(settle(e, id, "not-the-lease", SETTLED_COMPLETE, true, NULL),
                         BATON_ELEASE);
        assert_int_equal(settle(e, id, lease, SETTLED_COMPLETE, true, &r), 0);
        assert_false(r.repeat);
        assert_int_equal(r.job.state, JOB_COMPLETED);
        job_free(&r.job);
        /* The same call again (a lost answer) gets the first answer. */
        assert_int_equal(settle(e, id, lease, SETTLED_COMPLETE, true, &r), 0);
        assert_true(r.repeat);
        job_free(&r.job);
        assert_int_equal(settle(e, id, lease, SETTLED_FAIL, true, NULL), BATON_ECONFLICT);

        j = get(e, id);
        assert_int_equal(j.state, JOB_COMPLETED);
        assert_string_equal(j.result, "{\"ok\":true}");
        assert_non_null(strstr(j.attempts, "\"outcome\":\"completed\""));
        job_free(&j);
}

static void fail_retries_with_backoff_then_dead(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct job j;
        char first[64];

        claim(e, "q", 1, 0, &jv);
        snprintf(first, sizeof(first), "%s", jv.v[0].lease);
        assert_int_equal(settle(e, id, first, SETTLED_FAIL, true, NULL), 0);
        job_vec_free(&jv);
        j = get(e, id);
        assert_int_equal(j.state, JOB_RETRYING);
        assert_true(j.run_at_ms >= T0 + 500 && j.run_at_ms <= T0 + 1000);
        assert_string_equal(j.last_error, "boom");
        job_free(&j);

        /* Not ready before its backoff has passed. */
        assert_int_equal(tick(e).promoted, 0);
        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.n, 0);
        job_vec_free(&jv);
        clock_fake_advance_ms(&e->clock, 1000);
        assert_int_equal(tick(e).promoted, 1);

        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.n, 1);
        assert_int_equal(jv.v[0].attempt, 2);
        assert_string_not_equal(jv.v[0].lease, first);
        /* The first attempt's token can no longer settle anything. */
        assert_int_equal(settle(e, id, first, SETTLED_COMPLETE, true, NULL), BATON_ELEASE);
        /* Not retryable: straight to dead. */
        assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_FAIL, false, NULL), 0);
        job_vec_free(&jv);
        j = get(e, id);
        assert_int_equal(j.state, JOB_DEAD);
        assert_int_equal(j.finished_at_ms, T0 + 1000);
        job_free(&j);
}

static void lease_expiry_counts_as_failure(void **state)
{
        struct env *e = *state;
        struct enqueue_res res;
        struct job_vec jv;
        char first[64];
        struct tick_res t;
        struct job j;
        int64_t id;

        id = enqueue_full(e, "q", PRIO_NORMAL, 0, NULL, NULL, false, NULL, &res);
        job_free(&res.job);
        claim(e, "q", 1, 1000, &jv);
        snprintf(first, sizeof(first), "%s", jv.v[0].lease);
        job_vec_free(&jv);

        t = tick(e);
        assert_int_equal(t.expired, 0);
        assert_int_equal(t.next_ms, T0 + 1000);
        clock_fake_advance_ms(&e->clock, 1000);
        /* At the deadline a settle is refused: the attempt belongs to the reaper. */
        assert_int_equal(settle(e, id, first, SETTLED_COMPLETE, true, NULL), BATON_EEXPIRED);
        t = tick(e);
        assert_int_equal(t.expired, 1);
        j = get(e, id);
        assert_int_equal(j.state, JOB_RETRYING);
        assert_string_equal(j.last_error, "lease expired");
        assert_non_null(strstr(j.attempts, "\"outcome\":\"lease_expired\""));
        job_free(&j);
        assert_int_equal(settle(e, id, first, SETTLED_COMPLETE, true, NULL), BATON_EEXPIRED);
}

static void lease_expiry_exhausts_attempts(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct job j;

        for (int attempt = 1; attempt <= 4; attempt++) {
                clock_fake_advance_ms(&e->clock, 400000);
                tick(e);
                claim(e, "q", 1, 1000, &jv);
                assert_int_equal(jv.n, 1);
                assert_int_equal(jv.v[0].attempt, attempt);
                job_vec_free(&jv);
                clock_fake_advance_ms(&e->clock, 1000);
                assert_int_equal(tick(e).expired, 1);
        }
        j = get(e, id);
        assert_int_equal(j.state, JOB_DEAD);
        assert_int_equal(j.attempt, 4);
        job_free(&j);
}

static void priority_then_fifo(void **state)
{
        struct env *e = *state;
        int64_t low = enqueue(e, "q", PRIO_LOW, 0);
        int64_t n1 = enqueue(e, "q", PRIO_NORMAL, 0);
        int64_t crit = enqueue(e, "q", PRIO_CRITICAL, 0);
        int64_t n2 = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;

        claim(e, "q", 10, 0, &jv);
        assert_int_equal(jv.n, 4);
        assert_int_equal(jv.v[0].id, crit);
        assert_int_equal(jv.v[1].id, n1);
        assert_int_equal(jv.v[2].id, n2);
        assert_int_equal(jv.v[3].id, low);
        job_vec_free(&jv);
}

static void delayed_job_becomes_ready_on_time(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 5000);
        struct job_vec jv;
        struct tick_res t;
        struct job j = get(e, id);

        assert_int_equal(j.state, JOB_SCHEDULED);
        assert_int_equal(j.run_at_ms, T0 + 5000);
        job_free(&j);
        t = tick(e);
        assert_int_equal(t.next_ms, T0 + 5000);
        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.n, 0);
        job_vec_free(&jv);
        clock_fake_advance_ms(&e->clock, 5000);
        assert_int_equal(job_tick(unit_env_begin(e), &t), 0);
        assert_int_equal(t.promoted, 1);
        assert_int_equal(e->tx.fx.ready_n, 1);
        assert_string_equal(e->tx.fx.ready[0].queue, "q");
        unit_env_commit(e);
        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.n, 1);
        job_vec_free(&jv);
}

static void idempotency_key(void **state)
{
        struct env *e = *state;
        struct enqueue_res res;
        int rc;
        int64_t a = enqueue_full(e, "q", PRIO_NORMAL, 0, "k1", NULL, false, &rc, NULL);
        int64_t b = enqueue_full(e, "q", PRIO_NORMAL, 0, "k1", NULL, false, &rc, &res);

        assert_int_equal(rc, 0);
        assert_int_equal(a, b);
        assert_true(res.duplicate);
        job_free(&res.job);

        /* The same key with another payload hash is a conflict. */
        {
                struct enqueue_req req;
                struct enqueue_res r2;
                struct verr v;
                memset(&req, 0, sizeof(req));
                req.job.tenant = strdup("default");
                req.job.queue = strdup("q");
                req.job.type = strdup("t");
                req.job.idempotency_key = strdup("k1");
                snprintf(req.payload_hash, sizeof(req.payload_hash), "h2");
                assert_int_equal(validate_enqueue(&e->limits, "", &req, &v), 0);
                assert_int_equal(job_enqueue(unit_env_begin(e), &req, &r2), BATON_EIDEM);
                unit_env_commit(e);
                job_free(&req.job);
        }
        /* After the TTL and a purge, the key creates a new job. */
        clock_fake_advance_ms(&e->clock, e->limits.idempotency_ttl_ms + 1);
        tick(e);
        b = enqueue_full(e, "q", PRIO_NORMAL, 0, "k1", NULL, false, &rc, NULL);
        assert_int_equal(rc, 0);
        assert_true(b != a);
}

static void dedup_key_keep_and_replace(void **state)
{
        struct env *e = *state;
        struct enqueue_res res;
        struct job_vec jv;
        int rc;
        int64_t a = enqueue_full(e, "q", PRIO_NORMAL, 60000, NULL, "match-7", false, &rc, NULL);
        int64_t b = enqueue_full(e, "q", PRIO_NORMAL, 60000, NULL, "match-7", false, &rc, &res);

        assert_int_equal(a, b);
        assert_true(res.duplicate);
        assert_int_equal(res.job.version, 1);
        job_free(&res.job);

        b = enqueue_full(e, "q", PRIO_HIGH, 0, NULL, "match-7", true, &rc, &res);
        assert_int_equal(a, b);
        assert_true(res.replaced);
        assert_int_equal(res.job.version, 2);
        assert_int_equal(res.job.state, JOB_QUEUED);
        assert_int_equal(res.job.priority, PRIO_HIGH);
        job_free(&res.job);

        /* Once running, the key is free for a new pending job. */
        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.n, 1);
        job_vec_free(&jv);
        b = enqueue_full(e, "q", PRIO_NORMAL, 0, NULL, "match-7", false, &rc, NULL);
        assert_int_equal(rc, 0);
        assert_true(b != a);
}

static void cancel_paths(void **state)
{
        struct env *e = *state;
        int64_t queued = enqueue(e, "q", PRIO_LOW, 0);
        int64_t running = enqueue(e, "q", PRIO_CRITICAL, 0);
        struct job_vec jv;
        struct job j = {0};

        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.v[0].id, running);

        assert_int_equal(job_cancel(unit_env_begin(e), "default", queued, &j), 0);
        unit_env_commit(e);
        assert_int_equal(j.state, JOB_CANCELLED);
        assert_string_equal(j.cancel_reason, "cancelled");
        job_free(&j);
        assert_int_equal(job_cancel(unit_env_begin(e), "default", queued, &j), BATON_ESTATE);
        unit_env_commit(e);
        job_free(&j);

        assert_int_equal(job_cancel(unit_env_begin(e), "default", running, &j), 0);
        unit_env_commit(e);
        assert_int_equal(j.state, JOB_RUNNING);
        assert_true(j.cancel_requested);
        job_free(&j);

        /* The worker hears of it on heartbeat, then its failure cancels the job. */
        {
                struct heartbeat_req h = {"default", running, jv.v[0].lease, 0, NULL, NULL};
                assert_int_equal(job_heartbeat(unit_env_begin(e), &h, &j), 0);
                unit_env_commit(e);
                assert_true(j.cancel_requested);
                job_free(&j);
        }
        assert_int_equal(settle(e, running, jv.v[0].lease, SETTLED_FAIL, true, NULL), 0);
        job_vec_free(&jv);
        j = get(e, running);
        assert_int_equal(j.state, JOB_CANCELLED);
        job_free(&j);

        assert_int_equal(job_cancel(unit_env_begin(e), "other-tenant", running, &j),
                         BATON_ENOTFOUND);
        unit_env_commit(e);
}

static void retry_and_replay(void **state)
{
        struct env *e = *state;
        int64_t a = enqueue(e, "q", PRIO_NORMAL, 0);
        int64_t b = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct job j = {0};
        int count = 0;

        claim(e, "q", 2, 0, &jv);
        for (int i = 0; i < 2; i++)
                assert_int_equal(settle(e, jv.v[i].id, jv.v[i].lease, SETTLED_FAIL, false, NULL),
                                 0);
        job_vec_free(&jv);

        assert_int_equal(job_retry(unit_env_begin(e), "default", a, &j), 0);
        unit_env_commit(e);
        assert_int_equal(j.state, JOB_QUEUED);
        assert_int_equal(j.attempt, 0);
        assert_null(j.lease);
        job_free(&j);
        assert_int_equal(job_retry(unit_env_begin(e), "default", a, &j), BATON_ESTATE);
        unit_env_commit(e);
        job_free(&j);

        /* Replay by id ignores jobs that are not dead in this queue. */
        {
                int64_t ids[] = {a, b, 999};
                assert_int_equal(
                    dead_replay(unit_env_begin(e), "default", "q", ids, 3, false, &count), 0);
                unit_env_commit(e);
                assert_int_equal(count, 1);
        }
        claim(e, "q", 2, 0, &jv);
        assert_int_equal(jv.n, 2);
        for (int i = 0; i < 2; i++)
                assert_int_equal(settle(e, jv.v[i].id, jv.v[i].lease, SETTLED_FAIL, false, NULL),
                                 0);
        job_vec_free(&jv);
        assert_int_equal(dead_replay(unit_env_begin(e), "default", "q", NULL, 0, true, &count), 0);
        unit_env_commit(e);
        assert_int_equal(count, 2);
        claim(e, "q", 2, 0, &jv);
        for (int i = 0; i < jv.n; i++)
                assert_int_equal(settle(e, jv.v[i].id, jv.v[i].lease, SETTLED_FAIL, false, NULL),
                                 0);
        job_vec_free(&jv);
        assert_int_equal(dead_purge(unit_env_begin(e), "default", "q", &count), 0);
        unit_env_commit(e);
        assert_int_equal(count, 2);
        assert_int_equal(job_read(unit_env_begin(e), "default", a, &j), BATON_ENOTFOUND);
        unit_env_commit(e);
}

static void heartbeat_extends_and_logs_steps(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct job j = {0};
        json_t *steps;

        claim(e, "q", 1, 2000, &jv);
        {
                struct heartbeat_req h = {
                    "default", id, jv.v[0].lease, 5000, "{\"percent\":10,\"step\":\"fetch\"}",
                    "fetch"};
                clock_fake_advance_ms(&e->clock, 1500);
                assert_int_equal(job_heartbeat(unit_env_begin(e), &h, &j), 0);
                unit_env_commit(e);
                assert_int_equal(j.lease_until_ms, T0 + 1500 + 5000);
                job_free(&j);
                h.step = "render";
                h.progress = "{\"percent\":60,\"step\":\"render\"}";
                clock_fake_advance_ms(&e->clock, 1000);
                assert_int_equal(job_heartbeat(unit_env_begin(e), &h, &j), 0);
                unit_env_commit(e);
                job_free(&j);
                /* Past the lease, the heartbeat is refused. */
                clock_fake_advance_ms(&e->clock, 6000);
                assert_int_equal(job_heartbeat(unit_env_begin(e), &h, &j), BATON_EEXPIRED);
                unit_env_commit(e);
                job_free(&j);
        }
        job_vec_free(&jv);
        j = get(e, id);
        assert_string_equal(j.progress, "{\"percent\":60,\"step\":\"render\"}");
        steps = json_loads(j.steps, 0, NULL);
        assert_int_equal(json_array_size(steps), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 0), "step")),
                            "fetch");
        assert_true(json_is_string(json_object_get(json_array_get(steps, 0), "finished_at")));
        assert_true(json_is_null(json_object_get(json_array_get(steps, 1), "finished_at")));
        json_decref(steps);
        job_free(&j);
}

static void retention_purges_finished_jobs(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct tick_res t;
        struct job j = {0};

        claim(e, "q", 1, 0, &jv);
        assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_COMPLETE, true, NULL), 0);
        job_vec_free(&jv);
        t = tick(e);
        assert_int_equal(t.purged, 0);
        assert_int_equal(t.next_ms, T0 + e->limits.completed_ttl_ms);
        clock_fake_advance_ms(&e->clock, e->limits.completed_ttl_ms + 1);
        t = tick(e);
        assert_int_equal(t.purged, 1);
        assert_int_equal(job_read(unit_env_begin(e), "default", id, &j), BATON_ENOTFOUND);
        unit_env_commit(e);
}

static void paused_queue_hands_out_nothing(void **state)
{
        struct env *e = *state;
        struct queue_info qi;
        struct job_vec jv;

        enqueue(e, "q", PRIO_NORMAL, 0);
        assert_int_equal(queue_set_paused(unit_env_begin(e), "default", "q", true, &qi), 0);
        unit_env_commit(e);
        assert_true(qi.rec.paused);
        assert_int_equal(qi.counts.by_state[JOB_QUEUED], 1);
        queue_info_free(&qi);
        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.n, 0);
        job_vec_free(&jv);
        assert_int_equal(queue_set_paused(unit_env_begin(e), "default", "q", false, &qi), 0);
        assert_int_equal(e->tx.fx.ready_n, 1);
        unit_env_commit(e);
        queue_info_free(&qi);
        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.n, 1);
        job_vec_free(&jv);
}

/* ======== database time (store_ops.now_ms) ======== */

#define DB_NOW 1900000000123LL /* what the fake database clock says */

static int db_now(struct store *st, int64_t *out)
{
        (void)st;
        *out = DB_NOW;
        return 0;
}

static int db_now_fails(struct store *st, int64_t *out)
{
        (void)st;
        (void)out;
        return BATON_ESTORE;
}

struct now_call {
        struct exec_op op;
        int64_t seen_ms;
        bool ran;
};

static int now_fn(struct txn *tx, struct exec_op *op)
{
        struct now_call *c = (struct now_call *)op;

        c->ran = true;
        c->seen_ms = tx->now_ms;
        return tx->ops->queue_ensure(tx->st, "t1", "dbtime", tx->now_ms);
}

static void now_done(struct exec_op *op)
{
        (void)op;
}

/* A backend with a clock of its own sets the batch's now (the injected clock
 * is ignored); when that clock cannot be read the batch fails as a whole,
 * nothing runs, and the transaction just begun is ended, so the next batch
 * works. */
static void batch_now_comes_from_the_store(void **state)
{
        struct env *e = *state;
        struct store_ops ops = store_sqlite_ops;
        struct now_call c = {.op = {.fn = now_fn, .done = now_done}};
        struct queue_rec q;

        ops.now_ms = db_now_fails;
        assert_int_equal(exec_run_sync(e->st, &ops, &e->clock.clock, &e->limits, &c.op, NULL),
                         BATON_ESTORE);
        assert_false(c.ran);
        ops.now_ms = db_now;
        assert_int_equal(exec_run_sync(e->st, &ops, &e->clock.clock, &e->limits, &c.op, NULL), 0);
        assert_true(c.ran);
        assert_int_equal(c.seen_ms, DB_NOW);
        /* SQLite itself has no database clock: the injected one is used. */
        assert_null(store_sqlite_ops.now_ms);
        c.ran = false;
        assert_int_equal(exec_run_sync(e->st, e->ops, &e->clock.clock, &e->limits, &c.op, NULL), 0);
        assert_int_equal(c.seen_ms, T0);
        unit_env_begin(e);
        assert_int_equal(e->ops->queue_get(e->st, "t1", "dbtime", &q), 0);
        assert_int_equal(q.created_at_ms, DB_NOW);
        queue_rec_free(&q);
        assert_int_equal(e->ops->commit(e->st), 0);
}

/* ======== effects: events, samples, wake-ups and deadlines ======== */

/* An operation run through exec_run_sync: body does the work, and a non-zero
 * force_rc then fails the op so that exec rolls it back. */
struct call {
        struct exec_op op;
        int (*body)(struct txn *tx, struct call *c);
        int force_rc;
        struct enqueue_req enq;
        struct enqueue_res enq_res;
        struct claim_req claim;
        struct job_vec jobs;
        struct settle_req settle;
        struct settle_res settle_res;
        int64_t id;
        struct job job;
        struct tick_res tick;
};

static int call_fn(struct txn *tx, struct exec_op *op)
{
        struct call *c = (struct call *)op;
        int rc = c->body(tx, c);

        return rc ? rc : c->force_rc;
}

static void call_done(struct exec_op *op)
{
        (void)op;
}

/* Runs c in its own transaction; *fx receives the effects (txn_effects_free). */
static int run_call(struct env *e, struct call *c, struct txn_effects *fx)
{
        c->op.fn = call_fn;
        c->op.done = call_done;
        return exec_run_sync(e->st, e->ops, &e->clock.clock, &e->limits, &c->op, fx);
}

static void call_free(struct call *c)
{
        job_free(&c->enq.job);
        job_free(&c->enq_res.job);
        job_vec_free(&c->jobs);
        job_free(&c->settle_res.job);
        job_free(&c->job);
}

static int body_enqueue(struct txn *tx, struct call *c)
{
        return job_enqueue(tx, &c->enq, &c->enq_res);
}

static int body_claim(struct txn *tx, struct call *c)
{
        return job_claim(tx, &c->claim, &c->jobs);
}

static int body_settle(struct txn *tx, struct call *c)
{
        return job_settle(tx, &c->settle, &c->settle_res);
}

static int body_cancel(struct txn *tx, struct call *c)
{
        return job_cancel(tx, "default", c->id, &c->job);
}

static int body_retry(struct txn *tx, struct call *c)
{
        return job_retry(tx, "default", c->id, &c->job);
}

static int body_tick(struct txn *tx, struct call *c)
{
        return job_tick(tx, &c->tick);
}

/* Sum of the counted events of kind ev on queue q. */
static int64_t events(const struct txn_effects *fx, int ev, const char *q)
{
        int64_t n = 0;

        for (int i = 0; i < fx->counts_n; i++) {
                if (fx->counts[i].ev != ev)
                        continue;
                assert_string_equal(fx->counts[i].q.tenant, "default");
                if (strcmp(fx->counts[i].q.queue, q) == 0)
                        n += fx->counts[i].n;
        }
        return n;
}

/* Number of counted events of any kind. */
static int64_t events_all(const struct txn_effects *fx)
{
        int64_t n = 0;

        for (int i = 0; i < fx->counts_n; i++)
                n += fx->counts[i].n;
        return n;
}

/* The samples of kind, in order, into out; returns how many. */
static int samples(const struct txn_effects *fx, int kind, int64_t *out, int max)
{
        int n = 0;

        for (int i = 0; i < fx->samples_n && n < max; i++)
                if (fx->samples[i].kind == kind)
                        out[n++] = fx->samples[i].ms;
        return n;
}

static bool ready_has(const struct txn_effects *fx, const char *q)
{
        for (int i = 0; i < fx->ready_n; i++)
                if (strcmp(fx->ready[i].queue, q) == 0)
                        return true;
        return false;
}

static bool terminal_has(const struct txn_effects *fx, int64_t id)
{
        for (int i = 0; i < fx->terminal_n; i++)
                if (fx->terminal[i] == id)
                        return true;
        return false;
}

static void enq_init(struct call *c, const char *q, int64_t delay_ms, const char *idem,
                     const char *key, bool replace, struct env *e)
{
        struct verr verr;

        memset(c, 0, sizeof(*c));
        c->body = body_enqueue;
        c->enq.job.tenant = strdup("default");
        c->enq.job.queue = strdup(q);
        c->enq.job.type = strdup("t");
        c->enq.job.payload = strdup("{\"n\":1}");
        c->enq.job.priority = PRIO_NORMAL;
        c->enq.job.idempotency_key = idem ? strdup(idem) : NULL;
        c->enq.job.key = key ? strdup(key) : NULL;
        c->enq.delay_ms = delay_ms;
        c->enq.on_key_replace = replace;
        snprintf(c->enq.payload_hash, sizeof(c->enq.payload_hash), "h1");
        assert_int_equal(validate_enqueue(&e->limits, "", &c->enq, &verr), 0);
}

static void effects_of_enqueue(void **state)
{
        struct env *e = *state;
        struct txn_effects fx = {0};
        struct call c;
        int64_t id;

        /* A new ready job: counted, and its queue's waiters woken. */
        enq_init(&c, "q", 0, "i1", NULL, false, e);
        assert_int_equal(run_call(e, &c, &fx), 0);
        id = c.enq_res.job.id;
        assert_int_equal(events(&fx, EV_ENQUEUED, "q"), 1);
        assert_int_equal(events_all(&fx), 1);
        assert_true(ready_has(&fx, "q"));
        /* The idempotency record's expiry is a purge deadline. */
        assert_int_equal(fx.deadline_ms, T0 + e->limits.idempotency_ttl_ms);
        call_free(&c);
        txn_effects_free(&fx);

        /* An idempotent repeat creates nothing and counts nothing. */
        enq_init(&c, "q", 0, "i1", NULL, false, e);
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_true(c.enq_res.duplicate);
        assert_int_equal(c.enq_res.job.id, id);
        assert_int_equal(events_all(&fx), 0);
        call_free(&c);
        txn_effects_free(&fx);

        /* A delayed job: counted, nobody woken, the timer armed for run_at. */
        enq_init(&c, "later", 5000, NULL, "k", false, e);
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_int_equal(events(&fx, EV_ENQUEUED, "later"), 1);
        assert_false(ready_has(&fx, "later"));
        assert_int_equal(fx.deadline_ms, T0 + 5000);
        call_free(&c);
        txn_effects_free(&fx);

        /* A key clash under keep counts nothing. */
        enq_init(&c, "later", 5000, NULL, "k", false, e);
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_true(c.enq_res.duplicate);
        assert_int_equal(events_all(&fx), 0);
        call_free(&c);
        txn_effects_free(&fx);

        /* Neither does a replace, but the moved job is ready now: wake-up. */
        enq_init(&c, "later", 0, NULL, "k", true, e);
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_true(c.enq_res.replaced);
        assert_int_equal(events_all(&fx), 0);
        assert_true(ready_has(&fx, "later"));
        call_free(&c);
        txn_effects_free(&fx);
}

static void effects_of_claim_and_complete(void **state)
{
        struct env *e = *state;
        struct txn_effects fx = {0};
        int64_t ms[8];
        struct call c;
        int64_t a, b;

        a = enqueue(e, "q", PRIO_NORMAL, 0);
        clock_fake_advance_ms(&e->clock, 100);
        b = enqueue(e, "q", PRIO_NORMAL, 0);
        clock_fake_advance_ms(&e->clock, 250);

        memset(&c, 0, sizeof(c));
        c.body = body_claim;
        c.claim = (struct claim_req){"default", "q", "w1", 10, 2000, NULL, NULL};
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_int_equal(c.jobs.n, 2);
        assert_int_equal(events(&fx, EV_CLAIMED, "q"), 2);
        assert_int_equal(events_all(&fx), 2);
        /* One enqueue-to-claim wait per job: 350 ms and 250 ms. */
        assert_int_equal(samples(&fx, OBS_WAIT, ms, 8), 2);
        assert_int_equal(ms[0], 350);
        assert_int_equal(ms[1], 250);
        assert_int_equal(samples(&fx, OBS_RUN, ms, 8), 0);
        assert_int_equal(fx.deadline_ms, T0 + 350 + 2000);
        txn_effects_free(&fx);

        clock_fake_advance_ms(&e->clock, 400);
        {
                struct call s;

                memset(&s, 0, sizeof(s));
                s.body = body_settle;
                s.settle = (struct settle_req){
                    "default", a, c.jobs.v[0].lease, SETTLED_COMPLETE, "1", NULL, true, -1};
                assert_int_equal(run_call(e, &s, &fx), 0);
                assert_int_equal(events(&fx, EV_COMPLETED, "q"), 1);
                assert_int_equal(events_all(&fx), 1);
                assert_int_equal(samples(&fx, OBS_RUN, ms, 8), 1);
                assert_int_equal(ms[0], 400);
                assert_true(terminal_has(&fx, a));
                /* The completed row's retention purge is the next thing to do. */
                assert_int_equal(fx.deadline_ms, T0 + 750 + e->limits.completed_ttl_ms);
                call_free(&s);
                txn_effects_free(&fx);

                /* A repeat changes nothing and counts nothing. */
                memset(&s, 0, sizeof(s));
                s.body = body_settle;
                s.settle = (struct settle_req){
                    "default", a, c.jobs.v[0].lease, SETTLED_COMPLETE, "1", NULL, true, -1};
                assert_int_equal(run_call(e, &s, &fx), 0);
                assert_true(s.settle_res.repeat);
                assert_int_equal(events_all(&fx), 0);
                assert_int_equal(fx.samples_n, 0);
                assert_int_equal(fx.terminal_n, 0);
                call_free(&s);
                txn_effects_free(&fx);
        }
        (void)b;
        call_free(&c);
}

static void effects_of_failures(void **state)
{
        struct env *e = *state;
        struct txn_effects fx = {0};
        struct job_vec jv;
        struct call c;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
        int64_t ms[4];

        /* A retryable failure: a retry, the timer armed for its run_at. */
        claim(e, "q", 1, 0, &jv);
        clock_fake_advance_ms(&e->clock, 30);
        memset(&c, 0, sizeof(c));
        c.body = body_settle;
        c.settle =
            (struct settle_req){"default", id, jv.v[0].lease, SETTLED_FAIL, NULL, "x", true, 5000};
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_int_equal(c.settle_res.job.state, JOB_RETRYING);
        assert_int_equal(events(&fx, EV_RETRIED, "q"), 1);
        assert_int_equal(events_all(&fx), 1);
        assert_int_equal(samples(&fx, OBS_RUN, ms, 4), 1);
        assert_int_equal(ms[0], 30);
        assert_int_equal(fx.terminal_n, 0);
        assert_int_equal(fx.deadline_ms, T0 + 30 + 5000);
        call_free(&c);
        txn_effects_free(&fx);
        job_vec_free(&jv);

        /* The promotion wakes the queue and counts nothing. */
        clock_fake_advance_ms(&e->clock, 5000);
        memset(&c, 0, sizeof(c));
        c.body = body_tick;
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_int_equal(c.tick.promoted, 1);
        assert_true(ready_has(&fx, "q"));
        assert_int_equal(events_all(&fx), 0);
        call_free(&c);
        txn_effects_free(&fx);

        /* A failure that is not retryable: dead, terminal, purge deadline. */
        claim(e, "q", 1, 0, &jv);
        memset(&c, 0, sizeof(c));
        c.body = body_settle;
        c.settle =
            (struct settle_req){"default", id, jv.v[0].lease, SETTLED_FAIL, NULL, "x", false, -1};
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_int_equal(c.settle_res.job.state, JOB_DEAD);
        assert_int_equal(events(&fx, EV_DEAD, "q"), 1);
        assert_int_equal(events_all(&fx), 1);
        assert_true(terminal_has(&fx, id));
        assert_int_equal(fx.deadline_ms, T0 + 5030 + e->limits.dead_ttl_ms);
        call_free(&c);
        txn_effects_free(&fx);
        job_vec_free(&jv);

        /* Running it again makes it ready: a wake-up, not an enqueue. */
        memset(&c, 0, sizeof(c));
        c.body = body_retry;
        c.id = id;
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_true(ready_has(&fx, "q"));
        assert_int_equal(events_all(&fx), 0);
        call_free(&c);
        txn_effects_free(&fx);
}

static void effects_of_lease_expiry(void **state)
{
        struct env *e = *state;
        struct txn_effects fx = {0};
        struct job_vec jv;
        struct call c;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);

        for (int attempt = 1; attempt <= 4; attempt++) {
                struct job j = get(e, id);

                if (j.state != JOB_QUEUED) {
                        job_free(&j);
                        break;
                }
                job_free(&j);
                claim(e, "q", 1, 1000, &jv);
                assert_int_equal(jv.n, 1);
                job_vec_free(&jv);
                clock_fake_advance_ms(&e->clock, 1000);
                memset(&c, 0, sizeof(c));
                c.body = body_tick;
                assert_int_equal(run_call(e, &c, &fx), 0);
                assert_int_equal(c.tick.expired, 1);
                assert_int_equal(events(&fx, EV_EXPIRED, "q"), 1);
                if (attempt < 4) {
                        /* Attempts 1-3 of the default 4 go to retrying. */
                        assert_int_equal(events(&fx, EV_RETRIED, "q"), 1);
                        assert_int_equal(events(&fx, EV_DEAD, "q"), 0);
                        assert_int_equal(fx.terminal_n, 0);
                } else {
                        assert_int_equal(events(&fx, EV_RETRIED, "q"), 0);
                        assert_int_equal(events(&fx, EV_DEAD, "q"), 1);
                        assert_true(terminal_has(&fx, id));
                }
                /* Expiry is not a settle: no claim-to-settle sample. */
                assert_int_equal(samples(&fx, OBS_RUN, (int64_t[4]){0}, 4), 0);
                call_free(&c);
                txn_effects_free(&fx);
                clock_fake_advance_ms(&e->clock, 400000);
                tick(e);
        }
        {
                struct job j = get(e, id);
                assert_int_equal(j.state, JOB_DEAD);
                assert_int_equal(j.attempt, 4);
                job_free(&j);
        }
}

static void effects_of_cancel(void **state)
{
        struct env *e = *state;
        struct txn_effects fx = {0};
        struct job_vec jv;
        struct call c;
        int64_t queued = enqueue(e, "q", PRIO_LOW, 0);
        int64_t running = enqueue(e, "q", PRIO_CRITICAL, 0);

        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.v[0].id, running);

        memset(&c, 0, sizeof(c));
        c.body = body_cancel;
        c.id = queued;
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_int_equal(events(&fx, EV_CANCELLED, "q"), 1);
        assert_true(terminal_has(&fx, queued));
        call_free(&c);
        txn_effects_free(&fx);

        /* A running job is only marked: nothing ends yet. */
        memset(&c, 0, sizeof(c));
        c.body = body_cancel;
        c.id = running;
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_true(c.job.cancel_requested);
        assert_int_equal(events_all(&fx), 0);
        assert_int_equal(fx.terminal_n, 0);
        call_free(&c);
        txn_effects_free(&fx);

        /* Its failure ends it as cancelled, not retried. */
        memset(&c, 0, sizeof(c));
        c.body = body_settle;
        c.settle = (struct settle_req){"default", running, jv.v[0].lease, SETTLED_FAIL,
                                       NULL,      "x",     true,          -1};
        assert_int_equal(run_call(e, &c, &fx), 0);
        assert_int_equal(c.settle_res.job.state, JOB_CANCELLED);
        assert_int_equal(events(&fx, EV_CANCELLED, "q"), 1);
        assert_int_equal(events(&fx, EV_RETRIED, "q"), 0);
        assert_true(terminal_has(&fx, running));
        call_free(&c);
        txn_effects_free(&fx);
        job_vec_free(&jv);
}

static void effects_of_rolled_back_op_are_dropped(void **state)
{
        struct env *e = *state;
        struct txn_effects fx = {0};
        struct job_vec jv;
        struct call c;

        /* The op enqueues, then fails: exec rolls it back, and its events and
         * samples must not reach the metrics. */
        enq_init(&c, "q", 0, NULL, NULL, false, e);
        c.force_rc = BATON_ECONFLICT;
        assert_int_equal(run_call(e, &c, &fx), BATON_ECONFLICT);
        assert_int_equal(fx.counts_n, 0);
        assert_int_equal(fx.samples_n, 0);
        call_free(&c);
        txn_effects_free(&fx);
        claim(e, "q", 10, 0, &jv);
        assert_int_equal(jv.n, 0);
        job_vec_free(&jv);

        /* The same for a claim: the jobs stay queued and nothing is counted. */
        enqueue(e, "q", PRIO_NORMAL, 0);
        memset(&c, 0, sizeof(c));
        c.body = body_claim;
        c.claim = (struct claim_req){"default", "q", "w1", 10, 0, NULL, NULL};
        c.force_rc = BATON_ESTORE;
        assert_int_equal(run_call(e, &c, &fx), BATON_ESTORE);
        assert_int_equal(fx.counts_n, 0);
        assert_int_equal(fx.samples_n, 0);
        call_free(&c);
        txn_effects_free(&fx);
        claim(e, "q", 10, 0, &jv);
        assert_int_equal(jv.n, 1);
        assert_int_equal(jv.v[0].attempt, 1);
        job_vec_free(&jv);
}

/* ======== leases and fencing ======== */

static int heartbeat(struct env *e, int64_t id, const char *lease, struct job *out)
{
        struct heartbeat_req h = {"default", id, lease, 0, NULL, NULL};
        int rc = job_heartbeat(unit_env_begin(e), &h, out);

        unit_env_end(e, rc);
        return rc;
}

static void stale_and_settled_leases(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct settle_res r;
        struct job j;

        claim(e, "q", 1, 0, &jv);
        /* Any token but the current one is refused, and the job left alone. */
        assert_int_equal(heartbeat(e, id, "stale", &j), BATON_ELEASE);
        assert_null(j.queue); /* nothing handed back on an error */
        assert_int_equal(settle(e, id, "stale", SETTLED_FAIL, true, NULL), BATON_ELEASE);
        assert_int_equal(heartbeat(e, id + 100, jv.v[0].lease, &j), BATON_ENOTFOUND);
        j = get(e, id);
        assert_int_equal(j.state, JOB_RUNNING);
        assert_int_equal(j.attempt, 1);
        job_free(&j);

        /* A fail repeated after a lost answer: the first answer again. */
        assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_FAIL, true, &r), 0);
        assert_false(r.repeat);
        assert_int_equal(r.job.state, JOB_RETRYING);
        job_free(&r.job);
        assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_FAIL, true, &r), 0);
        assert_true(r.repeat);
        assert_int_equal(r.job.attempt, 1);
        job_free(&r.job);
        /* The other outcome, or a heartbeat, with that token: already settled. */
        assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_COMPLETE, true, NULL),
                         BATON_ECONFLICT);
        assert_int_equal(heartbeat(e, id, jv.v[0].lease, &j), BATON_ECONFLICT);
        j = get(e, id);
        assert_int_equal(j.state, JOB_RETRYING);
        assert_null(j.result);
        job_free(&j);
        job_vec_free(&jv);
}

static void lease_expires_exactly_at_its_deadline(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct tick_res t;
        struct job j;

        claim(e, "q", 1, 1000, &jv);
        clock_fake_advance_ms(&e->clock, 999);
        /* One millisecond before: still the worker's; a heartbeat extends. */
        t = tick(e);
        assert_int_equal(t.expired, 0);
        assert_int_equal(t.next_ms, T0 + 1000);
        assert_int_equal(heartbeat(e, id, jv.v[0].lease, &j), 0);
        assert_int_equal(j.lease_until_ms, T0 + 999 + 30000);
        job_free(&j);
        clock_fake_advance_ms(&e->clock, 30000);
        /* At the deadline: the settle is refused and the tick fails the attempt. */
        assert_int_equal(heartbeat(e, id, jv.v[0].lease, &j), BATON_EEXPIRED);
        assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_COMPLETE, true, NULL),
                         BATON_EEXPIRED);
        t = tick(e);
        assert_int_equal(t.expired, 1);
        j = get(e, id);
        assert_int_equal(j.state, JOB_RETRYING);
        assert_int_equal(j.settled, SETTLED_EXPIRED);
        assert_null(j.worker);
        job_free(&j);
        /* Afterwards the old token stays refused as expired. */
        assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_FAIL, true, NULL), BATON_EEXPIRED);
        assert_int_equal(heartbeat(e, id, jv.v[0].lease, &j), BATON_EEXPIRED);
        job_vec_free(&jv);
}

static void cancel_of_running_job_ends_it_at_expiry(void **state)
{
        struct env *e = *state;
        int64_t a = enqueue(e, "q", PRIO_NORMAL, 0);
        int64_t b = enqueue(e, "q", PRIO_NORMAL, 0);
        struct job_vec jv;
        struct job j = {0};

        claim(e, "q", 2, 1000, &jv);
        assert_int_equal(jv.n, 2);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(job_cancel(unit_env_begin(e), "default", jv.v[i].id, &j), 0);
                unit_env_commit(e);
                assert_true(j.cancel_requested);
                assert_int_equal(j.state, JOB_RUNNING);
                job_free(&j);
        }
        /* Cancelling again is allowed while it runs; terminal jobs refuse. */
        assert_int_equal(job_cancel(unit_env_begin(e), "default", a, &j), 0);
        unit_env_commit(e);
        job_free(&j);
        /* The worker of b completes anyway: a complete still completes. */
        assert_int_equal(settle(e, b, jv.v[1].lease, SETTLED_COMPLETE, true, NULL), 0);
        j = get(e, b);
        assert_int_equal(j.state, JOB_COMPLETED);
        job_free(&j);
        /* a's worker vanishes: at its lease's end the job is cancelled. */
        clock_fake_advance_ms(&e->clock, 1000);
        assert_int_equal(tick(e).expired, 1);
        j = get(e, a);
        assert_int_equal(j.state, JOB_CANCELLED);
        assert_string_equal(j.cancel_reason, "cancelled");
        assert_non_null(strstr(j.attempts, "\"outcome\":\"lease_expired\""));
        job_free(&j);
        assert_int_equal(job_cancel(unit_env_begin(e), "default", a, &j), BATON_ESTATE);
        unit_env_commit(e);
        assert_null(j.queue);
        job_vec_free(&jv);
}

/* ======== idempotency together with keys; replay and claim edges ======== */

static void idempotency_key_on_a_key_clash_sticks(void **state)
{
        struct env *e = *state;
        struct enqueue_res res;
        struct job_vec jv;
        int rc;
        int64_t a = enqueue_full(e, "q", PRIO_NORMAL, 0, NULL, "match-1", false, &rc, NULL);
        int64_t b = enqueue_full(e, "q", PRIO_NORMAL, 0, "idem-1", "match-1", false, &rc, &res);

        /* The key clash answers with a... */
        assert_int_equal(b, a);
        assert_true(res.duplicate);
        job_free(&res.job);
        /* ...and once a runs, the key is free; the idempotency key still names
         * a, so its repeat creates nothing. */
        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.n, 1);
        job_vec_free(&jv);
        b = enqueue_full(e, "q", PRIO_NORMAL, 0, "idem-1", "match-1", false, &rc, &res);
        assert_int_equal(rc, 0);
        assert_int_equal(b, a);
        assert_true(res.duplicate);
        assert_int_equal(res.job.state, JOB_RUNNING);
        job_free(&res.job);
}

static void replay_skips_a_job_whose_key_is_taken(void **state)
{
        struct env *e = *state;
        struct job_vec jv;
        struct job j = {0};
        int count = -1;
        int rc;
        int64_t a = enqueue_full(e, "q", PRIO_NORMAL, 0, NULL, "k", false, &rc, NULL);
        int64_t b, c;

        claim(e, "q", 1, 0, &jv);
        assert_int_equal(settle(e, a, jv.v[0].lease, SETTLED_FAIL, false, NULL), 0);
        job_vec_free(&jv);
        b = enqueue_full(e, "q", PRIO_NORMAL, 60000, NULL, "k", false, &rc, NULL);
        c = enqueue(e, "q", PRIO_NORMAL, 0);
        claim(e, "q", 1, 0, &jv);
        assert_int_equal(jv.v[0].id, c);
        assert_int_equal(settle(e, c, jv.v[0].lease, SETTLED_FAIL, false, NULL), 0);
        job_vec_free(&jv);

        /* b holds the key now: a cannot be pending beside it. The replay skips
         * it and still replays c; a direct retry says why. */
        assert_int_equal(dead_replay(unit_env_begin(e), "default", "q", NULL, 0, true, &count), 0);
        unit_env_commit(e);
        assert_int_equal(count, 1);
        j = get(e, a);
        assert_int_equal(j.state, JOB_DEAD);
        job_free(&j);
        j = get(e, c);
        assert_int_equal(j.state, JOB_QUEUED);
        job_free(&j);
        assert_int_equal(job_retry(unit_env_begin(e), "default", a, &j), BATON_ECONFLICT);
        unit_env_rollback(e);
        assert_null(j.queue);
        (void)b;
}

static void claim_edges(void **state)
{
        struct env *e = *state;
        struct claim_req c = {"default", "q", "w1", 0, 0, NULL, NULL};
        struct job_vec jv = {0};

        enqueue(e, "q", PRIO_NORMAL, 0);
        assert_int_equal(job_claim(unit_env_begin(e), &c, &jv), BATON_EINVAL);
        unit_env_commit(e);
        assert_int_equal(jv.n, 0);
        /* An unknown queue has nothing to hand out. */
        c.max = 5;
        c.queue = "nope";
        assert_int_equal(job_claim(unit_env_begin(e), &c, &jv), 0);
        unit_env_commit(e);
        assert_int_equal(jv.n, 0);
        /* Another tenant's queue of the same name neither. */
        c.queue = "q";
        c.tenant = "other";
        assert_int_equal(job_claim(unit_env_begin(e), &c, &jv), 0);
        unit_env_commit(e);
        assert_int_equal(jv.n, 0);
        job_vec_free(&jv);
}

static void enqueue_run_at_bounds(void **state)
{
        struct env *e = *state;
        struct enqueue_req req;
        struct enqueue_res res;
        struct verr v;

        memset(&req, 0, sizeof(req));
        req.job.tenant = strdup("default");
        req.job.queue = strdup("q");
        req.job.type = strdup("t");
        snprintf(req.payload_hash, sizeof(req.payload_hash), "h");
        assert_int_equal(validate_enqueue(&e->limits, "", &req, &v), 0);
        req.job.run_at_ms = T0 + e->limits.delay_max_ms + 1;
        assert_int_equal(job_enqueue(unit_env_begin(e), &req, &res), BATON_ERANGE);
        unit_env_commit(e);
        assert_null(res.job.queue);
        /* A past instant means now. */
        req.job.run_at_ms = T0 - 5000;
        assert_int_equal(job_enqueue(unit_env_begin(e), &req, &res), 0);
        unit_env_commit(e);
        assert_int_equal(res.job.state, JOB_QUEUED);
        assert_int_equal(res.job.run_at_ms, T0);
        assert_string_equal(res.job.payload, "null");
        job_free(&res.job);
        job_free(&req.job);
}

/* The attempt log's entry at i as parsed JSON (owned by the caller). */
static json_t *log_entry(const char *text, size_t i)
{
        json_t *a = json_loads(text, 0, NULL), *e;

        assert_non_null(a);
        assert_true(json_is_array(a));
        e = json_array_get(a, i);
        assert_non_null(e);
        json_incref(e);
        json_decref(a);
        return e;
}

static void assert_entry(const char *text, size_t n, size_t i, int attempt, const char *worker,
                         const char *outcome, const char *error)
{
        json_t *a = json_loads(text, 0, NULL), *e = log_entry(text, i);
        char start[40], end[40];

        time_format_ms(T0, start, sizeof(start));
        time_format_ms(T0 + 1000, end, sizeof(end));

        assert_int_equal(json_array_size(a), n);
        assert_int_equal(json_integer_value(json_object_get(e, "attempt")), attempt);
        assert_string_equal(json_string_value(json_object_get(e, "worker")), worker);
        assert_string_equal(json_string_value(json_object_get(e, "started_at")), start);
        if (outcome) {
                assert_string_equal(json_string_value(json_object_get(e, "outcome")), outcome);
                assert_string_equal(json_string_value(json_object_get(e, "finished_at")), end);
        } else {
                assert_true(json_is_null(json_object_get(e, "outcome")));
                assert_true(json_is_null(json_object_get(e, "finished_at")));
        }
        if (error)
                assert_string_equal(json_string_value(json_object_get(e, "error")), error);
        else
                assert_true(json_is_null(json_object_get(e, "error")));
        json_decref(e);
        json_decref(a);
}

/* The attempt log's direct writes (a first attempt's entry, the close of an
 * attempt without an error) give the entries the parsed path gives, with a
 * worker that needs escapes, and the later attempts' entries follow. */
static void attempt_log_first_and_later_attempts(void **state)
{
        struct limits l;
        struct txn tx = {0};
        struct job j = {0};
        const char *w = "w\"1\\\n";

        (void)state;
        limits_default(&l);
        tx.limits = &l;
        tx.now_ms = T0;
        j.attempt = 1;
        j.worker = strdup(w);
        j.started_at_ms = T0;
        assert_int_equal(job_log_attempt_open(&tx, &j), 0);
        assert_entry(j.attempts, 1, 0, 1, w, NULL, NULL);
        tx.now_ms = T0 + 1000;
        assert_int_equal(job_log_attempt_close(&tx, &j, "failed", "boom"), 0);
        assert_entry(j.attempts, 1, 0, 1, w, "failed", "boom");
        /* The second attempt is appended by the parsed path; its close
         * without an error replaces the open entry's tail. */
        j.attempt = 2;
        tx.now_ms = T0;
        assert_int_equal(job_log_attempt_open(&tx, &j), 0);
        assert_entry(j.attempts, 2, 1, 2, w, NULL, NULL);
        tx.now_ms = T0 + 1000;
        assert_int_equal(job_log_attempt_close(&tx, &j, "completed", NULL), 0);
        assert_entry(j.attempts, 2, 0, 1, w, "failed", "boom");
        assert_entry(j.attempts, 2, 1, 2, w, "completed", NULL);
        job_free(&j);

        /* An empty log written by an older version, and a first attempt
         * closed without an error. */
        memset(&j, 0, sizeof(j));
        j.attempts = strdup("[]");
        j.attempt = 1;
        j.worker = strdup("w2");
        j.started_at_ms = T0;
        tx.now_ms = T0;
        assert_int_equal(job_log_attempt_open(&tx, &j), 0);
        tx.now_ms = T0 + 1000;
        assert_int_equal(job_log_attempt_close(&tx, &j, "completed", NULL), 0);
        assert_entry(j.attempts, 1, 0, 1, "w2", "completed", NULL);
        job_free(&j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(attempt_log_first_and_later_attempts),
            UNIT_ENV_TEST(complete_once_and_repeat),
            UNIT_ENV_TEST(fail_retries_with_backoff_then_dead),
            UNIT_ENV_TEST(lease_expiry_counts_as_failure),
            UNIT_ENV_TEST(lease_expiry_exhausts_attempts),
            UNIT_ENV_TEST(priority_then_fifo),
            UNIT_ENV_TEST(delayed_job_becomes_ready_on_time),
            UNIT_ENV_TEST(idempotency_key),
            UNIT_ENV_TEST(dedup_key_keep_and_replace),
            UNIT_ENV_TEST(cancel_paths),
            UNIT_ENV_TEST(retry_and_replay),
            UNIT_ENV_TEST(heartbeat_extends_and_logs_steps),
            UNIT_ENV_TEST(retention_purges_finished_jobs),
            UNIT_ENV_TEST(paused_queue_hands_out_nothing),
            UNIT_ENV_TEST(effects_of_enqueue),
            UNIT_ENV_TEST(effects_of_claim_and_complete),
            UNIT_ENV_TEST(effects_of_failures),
            UNIT_ENV_TEST(effects_of_lease_expiry),
            UNIT_ENV_TEST(effects_of_cancel),
            UNIT_ENV_TEST(effects_of_rolled_back_op_are_dropped),
            UNIT_ENV_TEST(stale_and_settled_leases),
            UNIT_ENV_TEST(lease_expires_exactly_at_its_deadline),
            UNIT_ENV_TEST(cancel_of_running_job_ends_it_at_expiry),
            UNIT_ENV_TEST(idempotency_key_on_a_key_clash_sticks),
            UNIT_ENV_TEST(replay_skips_a_job_whose_key_is_taken),
            UNIT_ENV_TEST(claim_edges),
            UNIT_ENV_TEST(enqueue_run_at_bounds),
            UNIT_ENV_TEST(batch_now_comes_from_the_store),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
