/*
 * test_stats.c: the stats series (core/stats.c) on a real SQLite store with
 * the fake clock: a batch's counts land in their queue's minute, summed per
 * queue and per tenant; steps of several minutes add the counters up and take
 * the largest gauge; a sampled minute without a queue's row counts 0, an
 * unsampled one null; steps are aligned to multiples of the step; minutes
 * older than the retention are purged. PostgreSQL's statements are tested end to end
 * (tests/e2e/test_stats.c, _pg).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/errors.h"
#include "core/jobs.h"
#include "core/stats.h"
#include "core/validate.h"
#include "store/store.h"
#include "support/unit_env.h"

/* 2026-01-05T00:00:00Z: a whole day, so steps start at T0. */
#define T0 1767571200000LL
#define MIN 60000LL

static int setup(void **state)
{
        *state = unit_env_open(T0);
        return 0;
}

static int teardown(void **state)
{
        return unit_env_teardown(state);
}

/* Notes n events ev on queue q of tenant t and flushes them, as a batch. */
static void count(struct env *e, const char *t, const char *q, int ev, int64_t n)
{
        struct txn *tx = unit_env_begin(e);

        assert_int_equal(txn_note_event(tx, t, q, ev, n), 0);
        assert_int_equal(stats_flush(tx), 0);
        unit_env_commit(e);
}

static void query(struct env *e, const char *t, const char *q, int64_t step_ms, int n,
                  struct stats_point *out, int64_t *from_ms)
{
        assert_int_equal(stats_query(unit_env_begin(e), t, q, step_ms, n, out, from_ms), 0);
        unit_env_commit(e);
}

/* The leader's stats duty; returns the rows it purged. */
static int tick(struct env *e)
{
        int purged = 0;

        assert_int_equal(stats_tick(unit_env_begin(e), &purged), 0);
        unit_env_commit(e);
        return purged;
}

static void enqueue(struct env *e, const char *q)
{
        struct enqueue_req req;
        struct enqueue_res res;
        struct verr verr;

        memset(&req, 0, sizeof(req));
        req.job.tenant = strdup("default");
        req.job.queue = strdup(q);
        req.job.type = strdup("t");
        req.job.payload = strdup("{}");
        assert_int_equal(validate_enqueue(&e->limits, "", &req, &verr), 0);
        assert_int_equal(job_enqueue(unit_env_begin(e), &req, &res), 0);
        unit_env_commit(e);
        job_free(&res.job);
        job_free(&req.job);
}

static void counts_per_queue_and_tenant(void **state)
{
        struct env *e = *state;
        struct stats_point p[3];
        int64_t from;

        e->clock.wall_ms = T0 + 2 * MIN + 5000;
        count(e, "default", "q", EV_ENQUEUED, 3);
        count(e, "default", "q", EV_COMPLETED, 1);
        count(e, "default", "q2", EV_ENQUEUED, 2);
        count(e, "other", "q", EV_ENQUEUED, 7);
        /* One batch with counts of two queues and two kinds. */
        {
                struct txn *tx = unit_env_begin(e);

                assert_int_equal(txn_note_event(tx, "default", "q2", EV_DEAD, 1), 0);
                assert_int_equal(txn_note_event(tx, "default", "q", EV_RETRIED, 2), 0);
                assert_int_equal(txn_note_event(tx, "default", "q2", EV_DEAD, 1), 0);
                assert_int_equal(stats_flush(tx), 0);
                unit_env_commit(e);
        }
        query(e, "default", "q", MIN, 3, p, &from);
        assert_int_equal(from, T0);
        assert_int_equal(p[2].n[STATS_ENQUEUED], 3);
        assert_int_equal(p[2].n[STATS_COMPLETED], 1);
        assert_int_equal(p[2].n[STATS_RETRIED], 2);
        assert_int_equal(p[0].n[STATS_ENQUEUED] + p[1].n[STATS_ENQUEUED], 0);
        /* Never sampled: no gauges. */
        assert_int_equal(p[2].depth, STATS_UNSAMPLED);
        query(e, "default", NULL, MIN, 3, p, &from);
        assert_int_equal(p[2].n[STATS_ENQUEUED], 5);
        assert_int_equal(p[2].n[STATS_DEAD], 2);
        query(e, "other", NULL, MIN, 3, p, &from);
        assert_int_equal(p[2].n[STATS_ENQUEUED], 7);
}

static void steps_fold_minutes(void **state)
{
        struct env *e = *state;
        struct stats_point p[2];
        int64_t from;

        for (int m = 0; m < 10; m++) {
                e->clock.wall_ms = T0 + m * MIN + 1000;
                count(e, "default", "q", EV_ENQUEUED, m + 1);
        }
        /* Now at T0 + 9 min: steps of 5 minutes, aligned: [0, 5) and [5, 10). */
        query(e, "default", "q", 5 * MIN, 2, p, &from);
        assert_int_equal(from, T0);
        assert_int_equal(p[0].n[STATS_ENQUEUED], 1 + 2 + 3 + 4 + 5);
        assert_int_equal(p[1].n[STATS_ENQUEUED], 6 + 7 + 8 + 9 + 10);
        /* Aligned to the step, not to now: at T0 + 9 min, 3-minute steps
         * are [3, 6) and [6, 9) and [9, 12). */
        {
                struct stats_point q[3];

                query(e, "default", "q", 3 * MIN, 3, q, &from);
                assert_int_equal(from, T0 + 3 * MIN);
                assert_int_equal(q[0].n[STATS_ENQUEUED], 4 + 5 + 6);
                assert_int_equal(q[2].n[STATS_ENQUEUED], 10);
        }
}

static void gauges_sampled_once_per_slot(void **state)
{
        struct env *e = *state;
        struct stats_point p[3];
        int64_t from;

        e->clock.wall_ms = T0 + 30000;
        for (int i = 0; i < 3; i++)
                enqueue(e, "g");
        assert_int_equal(tick(e), 0);
        /* Depth peaks at 4 within the second minute, then 1. */
        e->clock.wall_ms = T0 + MIN + 1000;
        enqueue(e, "g");
        tick(e);
        e->clock.wall_ms = T0 + 2 * MIN + 1000;
        query(e, "default", "g", MIN, 3, p, &from);
        assert_int_equal(p[0].depth, 3);
        assert_int_equal(p[0].running, 0);
        assert_int_equal(p[1].depth, 4);
        /* The third minute has no sample yet. */
        assert_int_equal(p[2].depth, STATS_UNSAMPLED);
        /* Sampled, but queue h has no jobs: 0, not null. */
        tick(e);
        query(e, "default", "h", MIN, 3, p, &from);
        assert_int_equal(p[2].depth, 0);
        assert_int_equal(p[2].running, 0);
        assert_int_equal(p[0].depth, 0);
        /* A two-minute step takes the larger of its minutes. */
        {
                struct stats_point q[2];

                query(e, "default", "g", 2 * MIN, 2, q, &from);
                assert_int_equal(from, T0);
                assert_int_equal(q[0].depth, 4);
                assert_int_equal(q[1].depth, 4);
        }
}

static void old_minutes_purged(void **state)
{
        struct env *e = *state;
        struct stats_point p[180];
        int64_t from, sum = 0;

        e->limits.stats_retention_ms = 3600000;
        e->clock.wall_ms = T0 + 1000;
        count(e, "default", "q", EV_ENQUEUED, 4);
        e->clock.wall_ms = T0 + 90 * MIN;
        count(e, "default", "q", EV_ENQUEUED, 1);
        /* The minute's row and the gauges' mark of the sample before. */
        assert_int_equal(tick(e), 1);
        query(e, "default", "q", MIN, 180, p, &from);
        for (int i = 0; i < 180; i++)
                sum += p[i].n[STATS_ENQUEUED];
        assert_int_equal(sum, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(counts_per_queue_and_tenant, setup, teardown),
            cmocka_unit_test_setup_teardown(steps_fold_minutes, setup, teardown),
            cmocka_unit_test_setup_teardown(gauges_sampled_once_per_slot, setup, teardown),
            cmocka_unit_test_setup_teardown(old_minutes_purged, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
