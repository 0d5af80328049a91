/*
 * test_timers.c: the timer semantics of core/timers.c on a real SQLite store
 * with a fake clock, so "fires at its instant and not before" is tested
 * exactly. Each test opens a fresh store in a temporary directory and drives
 * core inside begin..commit, as the store thread does; firing goes through
 * job_tick, the leader's tick, so the tests also pin the next-deadline
 * computation (a timer's fire_at is the tick's next_ms) and the batch bound.
 *
 * Covered: compare-and-set success and conflict (and create-only with
 * if_version 0), move before fire (the old version never fires), cancel before
 * fire, exactly one job per fired version carrying {"key","version","fire_at"},
 * PUT after fire (the next version), tenant isolation, list by prefix with a
 * cursor, the lateness sample, and a full batch setting `more`.
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

#include "common/errors.h"
#include "common/clock.h"
#include "core/jobs.h"
#include "core/timers.h"
#include "store/store.h"
#include "support/unit_env.h"

#define T0 UNIT_ENV_T0_MS

/* PUT key for tenant firing delay_ms from now (fire_at 0) or at fire_at_ms;
 * if_version < 0: no compare-and-set. Returns core's code; *res (may be NULL)
 * receives the answer, owned by the caller. */
static int put_full(struct env *e, const char *tenant, const char *key, int64_t delay_ms,
                    int64_t fire_at_ms, int64_t if_version, const char *payload,
                    struct timer_res *res)
{
        struct timer_put_req req;
        struct timer_res tmp;
        int64_t deadline;
        int rc;

        memset(&req, 0, sizeof(req));
        req.t.tenant = strdup(tenant);
        req.t.key = strdup(key);
        req.t.queue = strdup("tq");
        req.t.type = strdup("pick");
        req.t.payload = strdup(payload ? payload : "{\"n\":1}");
        req.t.priority = PRIO_HIGH;
        req.t.max_attempts = 3;
        req.t.backoff.type = BACKOFF_FIXED;
        req.t.backoff.base_ms = 1000;
        req.t.backoff.max_ms = 1000;
        req.t.lease_ms = 30000;
        req.t.fire_at_ms = fire_at_ms;
        req.delay_ms = delay_ms;
        req.has_if_version = if_version >= 0;
        req.if_version = if_version;
        rc = timer_put(unit_env_begin(e), &req, res ? res : &tmp);
        deadline = e->tx.fx.deadline_ms;
        unit_env_end(e, rc);
        if (!rc) {
                /* Every put reports its fire_at to the next-deadline timer. */
                assert_int_equal(deadline, (res ? res : &tmp)->t.fire_at_ms);
                if (!res)
                        timer_rec_free(&tmp.t);
        }
        timer_rec_free(&req.t);
        return rc;
}

static int put(struct env *e, const char *key, int64_t delay_ms, int64_t if_version)
{
        return put_full(e, "default", key, delay_ms, 0, if_version, NULL, NULL);
}

static struct timer_rec get(struct env *e, const char *tenant, const char *key, int *rc_out)
{
        struct timer_rec t = {0};
        int rc = timer_read(unit_env_begin(e), tenant, key, &t);

        unit_env_end(e, 0);
        if (rc_out)
                *rc_out = rc;
        else
                assert_int_equal(rc, 0);
        return t;
}

static struct tick_res tick(struct env *e)
{
        struct tick_res r;

        assert_int_equal(job_tick(unit_env_begin(e), &r), 0);
        unit_env_commit(e);
        return r;
}

/* Jobs of queue tq of tenant that a timer created, in id order. */
static void timer_jobs(struct env *e, const char *tenant, struct job_vec *out)
{
        struct job_filter f = {.tenant = tenant, .queue = "tq", .state = -1, .limit = 5000};

        memset(out, 0, sizeof(*out));
        assert_int_equal(job_query(unit_env_begin(e), &f, out), 0);
        unit_env_commit(e);
        for (int i = 0; i < out->n; i++)
                assert_non_null(out->v[i].timer);
}

static int count_jobs(struct env *e, const char *tenant)
{
        struct job_vec jv;
        int n;

        timer_jobs(e, tenant, &jv);
        n = jv.n;
        job_vec_free(&jv);
        return n;
}

static void cas_success_and_conflict(void **state)
{
        struct env *e = *state;
        struct timer_res r;

        assert_int_equal(put_full(e, "default", "d1", 5000, 0, -1, NULL, &r), 0);
        assert_true(r.created);
        assert_int_equal(r.t.version, 1);
        assert_int_equal(r.t.state, TIMER_SCHEDULED);
        assert_int_equal(r.t.fire_at_ms, T0 + 5000);
        timer_rec_free(&r.t);

        /* The right version moves it. */
        assert_int_equal(put_full(e, "default", "d1", 7000, 0, 1, NULL, &r), 0);
        assert_false(r.created);
        assert_int_equal(r.t.version, 2);
        assert_int_equal(r.t.fire_at_ms, T0 + 7000);
        assert_int_equal(r.t.created_at_ms, T0);
        timer_rec_free(&r.t);

        /* A stale version changes nothing and reports the current one. */
        assert_int_equal(put_full(e, "default", "d1", 1000, 0, 1, NULL, &r), BATON_ECONFLICT);
        assert_int_equal(r.current_version, 2);
        assert_int_equal(put(e, "d1", 1000, 0), BATON_ECONFLICT); /* create-only */
        {
                struct timer_rec t = get(e, "default", "d1", NULL);
                assert_int_equal(t.version, 2);
                assert_int_equal(t.fire_at_ms, T0 + 7000);
                timer_rec_free(&t);
        }

        /* if_version on a missing timer: 404; 0 creates it. */
        assert_int_equal(put(e, "nope", 1000, 3), BATON_ENOTFOUND);
        assert_int_equal(put(e, "fresh", 1000, 0), 0);

        /* Cancel with CAS. */
        assert_int_equal(timer_cancel(unit_env_begin(e), "default", "d1", 1, &r), BATON_ECONFLICT);
        assert_int_equal(r.current_version, 2);
        unit_env_end(e, BATON_ECONFLICT);
        assert_int_equal(timer_cancel(unit_env_begin(e), "default", "d1", 2, &r), 0);
        unit_env_end(e, 0);
        assert_int_equal(r.t.state, TIMER_CANCELLED);
        timer_rec_free(&r.t);

        /* Beyond the horizon. */
        assert_int_equal(put(e, "far", e->limits.delay_max_ms + 1, -1), BATON_ERANGE);
}

static void move_before_fire(void **state)
{
        struct env *e = *state;
        struct tick_res tr;
        struct job_vec jv;

        assert_int_equal(put_full(e, "default", "m", 1000, 0, -1, "{\"v\":1}", NULL), 0);
        /* The tick reports the timer as the next deadline. */
        tr = tick(e);
        assert_int_equal(tr.timers_fired, 0);
        assert_int_equal(tr.next_ms, T0 + 1000);
        clock_fake_advance_ms(&e->clock, 500);
        assert_int_equal(put_full(e, "default", "m", 2000, 0, 1, "{\"v\":2}", NULL), 0);

        /* Version 1's instant passes: nothing fires. */
        clock_fake_advance_ms(&e->clock, 600);
        tr = tick(e);
        assert_int_equal(tr.timers_fired, 0);
        assert_int_equal(tr.next_ms, T0 + 2500);
        assert_int_equal(count_jobs(e, "default"), 0);

        /* Version 2 fires at its instant, once. */
        clock_fake_advance_ms(&e->clock, 1400);
        assert_int_equal(tick(e).timers_fired, 1);
        assert_int_equal(tick(e).timers_fired, 0);
        timer_jobs(e, "default", &jv);
        assert_int_equal(jv.n, 1);
        assert_string_equal(jv.v[0].payload, "{\"v\":2}");
        assert_string_equal(
            jv.v[0].timer,
            "{\"key\":\"m\",\"version\":2,\"fire_at\":\"2026-11-23T09:00:54.500Z\"}");
        assert_int_equal(jv.v[0].state, JOB_QUEUED);
        assert_int_equal(jv.v[0].priority, PRIO_HIGH);
        assert_int_equal(jv.v[0].max_attempts, 3);
        job_vec_free(&jv);
}

static void cancel_before_fire(void **state)
{
        struct env *e = *state;
        struct timer_res r;

        assert_int_equal(put(e, "c", 1000, -1), 0);
        assert_int_equal(timer_cancel(unit_env_begin(e), "default", "c", -1, &r), 0);
        unit_env_end(e, 0);
        assert_int_equal(r.t.state, TIMER_CANCELLED);
        assert_int_equal(r.t.version, 1);
        timer_rec_free(&r.t);
        /* A repeat answers the same, changing nothing. */
        assert_int_equal(timer_cancel(unit_env_begin(e), "default", "c", -1, &r), 0);
        unit_env_end(e, 0);
        assert_int_equal(r.t.state, TIMER_CANCELLED);
        timer_rec_free(&r.t);

        clock_fake_advance_ms(&e->clock, 5000);
        assert_int_equal(tick(e).timers_fired, 0);
        assert_int_equal(count_jobs(e, "default"), 0);
        assert_int_equal(tick(e).next_ms, 0);
}

static void fires_once_per_version_and_put_after_fire(void **state)
{
        struct env *e = *state;
        struct timer_res r;
        struct timer_rec t;
        struct tick_res tr;
        struct job_vec jv;

        assert_int_equal(put(e, "f", 1000, -1), 0);
        /* Not before its instant, not even by a millisecond. */
        clock_fake_advance_ms(&e->clock, 999);
        tr = tick(e);
        assert_int_equal(tr.timers_fired, 0);
        assert_int_equal(tr.next_ms, T0 + 1000);
        clock_fake_advance_ms(&e->clock, 1);
        unit_env_begin(e);
        assert_int_equal(job_tick(&e->tx, &tr), 0);
        assert_int_equal(tr.timers_fired, 1);
        /* The fired job woke its queue and the lateness was sampled (0 ms). */
        assert_int_equal(e->tx.fx.ready_n, 1);
        assert_int_equal(e->tx.fx.samples_n, 1);
        assert_int_equal(e->tx.fx.samples[0].kind, OBS_TIMER_LATE);
        assert_int_equal(e->tx.fx.samples[0].ms, 0);
        unit_env_commit(e);
        for (int i = 0; i < 3; i++) {
                clock_fake_advance_ms(&e->clock, 1000);
                assert_int_equal(tick(e).timers_fired, 0);
        }
        t = get(e, "default", "f", NULL);
        assert_int_equal(t.state, TIMER_FIRED);
        assert_true(t.job_id > 0);
        assert_int_equal(t.fired_at_ms, T0 + 1000);
        timer_rec_free(&t);

        /* Cancelling a fired version is refused. */
        assert_int_equal(timer_cancel(unit_env_begin(e), "default", "f", -1, &r), BATON_ESTATE);
        unit_env_end(e, BATON_ESTATE);

        /* PUT after fire: version 2, scheduled again, fires again once. */
        assert_int_equal(put_full(e, "default", "f", 500, 0, 1, NULL, &r), 0);
        assert_int_equal(r.t.version, 2);
        assert_int_equal(r.t.state, TIMER_SCHEDULED);
        assert_false(r.created);
        timer_rec_free(&r.t);
        clock_fake_advance_ms(&e->clock, 700);
        tr = tick(e);
        assert_int_equal(tr.timers_fired, 1);
        assert_int_equal(tick(e).timers_fired, 0);
        timer_jobs(e, "default", &jv);
        assert_int_equal(jv.n, 2);
        assert_non_null(strstr(jv.v[0].timer, "\"version\":1"));
        assert_non_null(strstr(jv.v[1].timer, "\"version\":2"));
        job_vec_free(&jv);
}

static void past_fire_at_fires_at_once(void **state)
{
        struct env *e = *state;
        struct timer_res r;

        assert_int_equal(put_full(e, "default", "p", 0, T0 - 60000, -1, NULL, &r), 0);
        assert_int_equal(r.t.fire_at_ms, T0);
        timer_rec_free(&r.t);
        assert_int_equal(tick(e).timers_fired, 1);
        assert_int_equal(count_jobs(e, "default"), 1);
}

static void tenant_isolation(void **state)
{
        struct env *e = *state;
        struct timer_rec *v = NULL;
        struct timer_rec t;
        int n = 0, rc;

        assert_int_equal(put_full(e, "acme", "k", 100, 0, -1, NULL, NULL), 0);
        t = get(e, "default", "k", &rc);
        assert_int_equal(rc, BATON_ENOTFOUND);
        /* The same key in another tenant is another timer. */
        assert_int_equal(put_full(e, "default", "k", 100, 0, 5, NULL, NULL), BATON_ENOTFOUND);
        assert_int_equal(put_full(e, "default", "k", 100, 0, -1, NULL, NULL), 0);
        t = get(e, "acme", "k", NULL);
        assert_int_equal(t.version, 1);
        timer_rec_free(&t);
        assert_int_equal(timer_query(unit_env_begin(e), "acme", NULL, NULL, 10, &v, &n), 0);
        unit_env_end(e, 0);
        assert_int_equal(n, 1);
        timer_recs_free(v, n);
        clock_fake_advance_ms(&e->clock, 100);
        assert_int_equal(tick(e).timers_fired, 2);
        assert_int_equal(count_jobs(e, "acme"), 1);
        assert_int_equal(count_jobs(e, "default"), 1);
}

static void list_prefix_and_cursor(void **state)
{
        struct env *e = *state;
        const char *keys[] = {"a:1", "b:1", "b:2", "b:3", "b~", "c"};
        struct timer_rec *v = NULL;
        int n = 0;

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                assert_int_equal(put(e, keys[i], 1000, -1), 0);
        assert_int_equal(timer_query(unit_env_begin(e), "default", "b:", NULL, 2, &v, &n), 0);
        unit_env_end(e, 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].key, "b:1");
        assert_string_equal(v[1].key, "b:2");
        timer_recs_free(v, n);
        assert_int_equal(timer_query(unit_env_begin(e), "default", "b:", "b:2", 2, &v, &n), 0);
        unit_env_end(e, 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].key, "b:3");
        timer_recs_free(v, n);
        assert_int_equal(timer_query(unit_env_begin(e), "default", "b", NULL, 10, &v, &n), 0);
        unit_env_end(e, 0);
        assert_int_equal(n, 4); /* b:1 b:2 b:3 b~ */
        timer_recs_free(v, n);
        assert_int_equal(timer_query(unit_env_begin(e), "default", NULL, "b~", 10, &v, &n), 0);
        unit_env_end(e, 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].key, "c");
        timer_recs_free(v, n);
}

static void batch_bound_sets_more(void **state)
{
        struct env *e = *state;
        int total = TIMER_FIRE_BATCH + 5;
        struct tick_res tr;
        char key[32];
        int fired;
        bool more;

        /* Small batches through timer_fire_due directly. */
        for (int i = 0; i < 5; i++) {
                snprintf(key, sizeof(key), "s%d", i);
                assert_int_equal(put(e, key, 10 + i, -1), 0);
        }
        clock_fake_advance_ms(&e->clock, 100);
        assert_int_equal(timer_fire_due(unit_env_begin(e), 3, &fired, &more), 0);
        unit_env_commit(e);
        assert_int_equal(fired, 3);
        assert_true(more);
        assert_int_equal(timer_fire_due(unit_env_begin(e), 3, &fired, &more), 0);
        unit_env_commit(e);
        assert_int_equal(fired, 2);
        assert_false(more);

        /* The tick's own bound. */
        unit_env_begin(e);
        for (int i = 0; i < total; i++) {
                struct timer_put_req req;
                struct timer_res r;

                memset(&req, 0, sizeof(req));
                snprintf(key, sizeof(key), "b%05d", i);
                req.t.tenant = strdup("default");
                req.t.key = strdup(key);
                req.t.queue = strdup("tq");
                req.t.type = strdup("t");
                req.t.payload = strdup("null");
                req.t.max_attempts = 1;
                req.t.lease_ms = 30000;
                req.delay_ms = 50;
                assert_int_equal(timer_put(&e->tx, &req, &r), 0);
                timer_rec_free(&r.t);
                timer_rec_free(&req.t);
        }
        unit_env_commit(e);
        clock_fake_advance_ms(&e->clock, 50);
        tr = tick(e);
        assert_int_equal(tr.timers_fired, TIMER_FIRE_BATCH);
        assert_true(tr.more);
        tr = tick(e);
        assert_int_equal(tr.timers_fired, 5);
        assert_false(tr.more);
        assert_int_equal(tick(e).timers_fired, 0);
        assert_int_equal(count_jobs(e, "default"), total + 5);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            UNIT_ENV_TEST(cas_success_and_conflict),
            UNIT_ENV_TEST(move_before_fire),
            UNIT_ENV_TEST(cancel_before_fire),
            UNIT_ENV_TEST(fires_once_per_version_and_put_after_fire),
            UNIT_ENV_TEST(past_fire_at_fires_at_once),
            UNIT_ENV_TEST(tenant_isolation),
            UNIT_ENV_TEST(list_prefix_and_cursor),
            UNIT_ENV_TEST(batch_bound_sets_more),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
