/*
 * test_workers.c: the worker registry's rules in core/workers.c on a real
 * SQLite store with a fake clock, with the store's worker_seen counted: what
 * the hot path costs (a claim or heartbeat that tells the registry nothing
 * new writes nothing within WORKER_SEEN_EVERY_MS; a batch of notes of one
 * worker is one write; a new queue, new info and any count are written at
 * once), that an operation rolled back takes its notes with it, that a failed
 * batch makes the cache forget, and health as of the transaction's now:
 * healthy within 2 lease periods, stale after, lost after --worker-lost-ms,
 * forgotten by the tick after --worker-retention-ms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/clock.h"
#include "core/jobs.h"
#include "core/workers.h"
#include "store/store.h"
#include "support/unit_env.h"

#define T0 UNIT_ENV_T0_MS

/* The store's worker_seen, counted. */
static const struct store_ops *real_ops;
static struct store_ops counting_ops;
static int writes;

static int counting_seen(struct store *st, const struct worker_note *n)
{
        writes++;
        return real_ops->worker_seen(st, n);
}

struct fixture {
        struct env *e;
        struct worker_cache *wkc;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->e = unit_env_open(T0);
        real_ops = f->e->ops;
        counting_ops = *real_ops;
        counting_ops.worker_seen = counting_seen;
        assert_int_equal(worker_cache_new(&f->wkc), 0);
        writes = 0;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        worker_cache_free(f->wkc);
        unit_env_close(f->e);
        free(f);
        return 0;
}

/* A transaction as the store thread runs one: the counting store, the
 * cache, and the notes flushed before the commit. */
static struct txn *begin(struct fixture *f)
{
        struct txn *tx = unit_env_begin(f->e);

        tx->ops = &counting_ops;
        tx->wkc = f->wkc;
        return tx;
}

static void commit(struct fixture *f)
{
        assert_int_equal(worker_flush(&f->e->tx), 0);
        unit_env_commit(f->e);
}

static void claim_note(struct fixture *f, const char *id, const char *info, const char *queue)
{
        struct txn *tx = begin(f);

        assert_int_equal(worker_note_claim(tx, "t1", id, info, queue, 1000), 0);
        commit(f);
}

static void seen_writes_at_most_once_a_second(void **state)
{
        struct fixture *f = *state;
        struct txn *tx;
        struct job j = {.tenant = "t1", .worker = "w1"};

        claim_note(f, "w1", "{\"host\":\"a\"}", "q");
        assert_int_equal(writes, 1);
        /* The same claim again, within the second: nothing to write. */
        clock_fake_advance_ms(&f->e->clock, 400);
        claim_note(f, "w1", NULL, "q");
        claim_note(f, "w1", "{\"host\":\"a\"}", "q");
        assert_int_equal(writes, 1);
        /* A new queue, new info: written at once. */
        claim_note(f, "w1", NULL, "q2");
        assert_int_equal(writes, 2);
        claim_note(f, "w1", "{\"host\":\"b\"}", "q");
        assert_int_equal(writes, 3);
        /* Another worker is another row. */
        claim_note(f, "w2", NULL, "q");
        assert_int_equal(writes, 4);
        /* A heartbeat is written once, then held back; a settle always. */
        tx = begin(f);
        assert_int_equal(worker_note_job(tx, &j, SETTLED_NONE, 1000), 0);
        commit(f);
        tx = begin(f);
        assert_int_equal(worker_note_job(tx, &j, SETTLED_NONE, 1000), 0);
        commit(f);
        assert_int_equal(writes, 5);
        tx = begin(f);
        assert_int_equal(worker_note_job(tx, &j, SETTLED_COMPLETE, 0), 0);
        commit(f);
        assert_int_equal(writes, 6);
        /* A second later the same claim is a sign of life to record. */
        clock_fake_advance_ms(&f->e->clock, WORKER_SEEN_EVERY_MS);
        claim_note(f, "w1", NULL, "q");
        assert_int_equal(writes, 7);
}

static void one_write_per_worker_and_batch(void **state)
{
        struct fixture *f = *state;
        struct worker_view v;
        struct job j = {.tenant = "t1", .worker = "w1"};
        struct txn *tx = begin(f);

        /* 100 claims and 100 settles of one worker in one transaction. */
        for (int i = 0; i < 100; i++) {
                assert_int_equal(worker_note_claim(tx, "t1", "w1", NULL, "q", 1000), 0);
                assert_int_equal(
                    worker_note_job(tx, &j, i % 4 == 0 ? SETTLED_FAIL : SETTLED_COMPLETE, 0), 0);
        }
        commit(f);
        /* One for the claims (queue q), one for the settles (no queue). */
        assert_int_equal(writes, 2);
        tx = begin(f);
        assert_int_equal(worker_read(tx, "t1", "w1", &v), 0);
        assert_int_equal(v.rec.completed, 75);
        assert_int_equal(v.rec.failed, 25);
        worker_view_free(&v);
        unit_env_commit(f->e);
}

static void rollback_drops_notes_and_failure_forgets(void **state)
{
        struct fixture *f = *state;
        struct txn *tx = begin(f);
        struct txn_mark m = txn_effects_mark(&tx->fx);
        struct worker_view v;

        /* An operation rolled back (exec.c truncates to its mark). */
        assert_int_equal(worker_note_claim(tx, "t1", "w1", NULL, "q", 1000), 0);
        txn_effects_truncate(&tx->fx, m);
        commit(f);
        assert_int_equal(writes, 0);
        tx = begin(f);
        assert_int_equal(worker_read(tx, "t1", "w1", &v), BATON_ENOTFOUND);
        unit_env_commit(f->e);

        /* Written, then the batch's commit failed: the cache must forget, or
         * the next claim within the second would not write the lost row. */
        tx = begin(f);
        assert_int_equal(worker_note_claim(tx, "t1", "w1", NULL, "q", 1000), 0);
        assert_int_equal(worker_flush(tx), 0);
        unit_env_rollback(f->e);
        worker_cache_clear(f->wkc);
        claim_note(f, "w1", NULL, "q");
        assert_int_equal(writes, 2);
        tx = begin(f);
        assert_int_equal(worker_read(tx, "t1", "w1", &v), 0);
        worker_view_free(&v);
        unit_env_commit(f->e);
}

static const char *health_at(struct fixture *f, const char *id, int64_t at_ms)
{
        struct worker_view v;
        struct txn *tx;
        int rc;
        const char *h;

        clock_fake_advance_ms(&f->e->clock, at_ms - clock_wall_ms(&f->e->clock.clock));
        tx = begin(f);
        rc = worker_read(tx, "t1", id, &v);
        unit_env_commit(f->e);
        if (rc == BATON_ENOTFOUND)
                return "forgotten";
        assert_int_equal(rc, 0);
        h = worker_health_name(v.health);
        worker_view_free(&v);
        return h;
}

static void health_by_lease_period(void **state)
{
        struct fixture *f = *state;
        struct tick_res tr;
        struct txn *tx;

        f->e->limits.worker_lost_ms = 60000;
        f->e->limits.worker_retention_ms = 120000;
        claim_note(f, "w1", NULL, "q"); /* period 1000 */
        assert_string_equal(health_at(f, "w1", T0 + 2000), "healthy");
        assert_string_equal(health_at(f, "w1", T0 + 2001), "stale");
        assert_string_equal(health_at(f, "w1", T0 + 59999), "stale");
        assert_string_equal(health_at(f, "w1", T0 + 60000), "lost");
        /* A lease period longer than the lost time: healthy until 2 periods
         * have passed, then lost at once. */
        tx = begin(f);
        assert_int_equal(worker_note_claim(tx, "t1", "w2", NULL, "q", 40000), 0);
        commit(f);
        assert_string_equal(health_at(f, "w2", T0 + 60000 + 80000), "healthy");
        assert_string_equal(health_at(f, "w2", T0 + 60000 + 80001), "lost");
        /* The tick forgets a worker once the retention has passed. */
        clock_fake_advance_ms(&f->e->clock, T0 + 120001 - clock_wall_ms(&f->e->clock.clock));
        tx = begin(f);
        assert_int_equal(job_tick(tx, &tr), 0);
        unit_env_commit(f->e);
        assert_true(tr.purged >= 1);
        assert_string_equal(health_at(f, "w1", T0 + 120001), "forgotten");
        assert_string_equal(health_at(f, "w2", T0 + 120001), "healthy");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(seen_writes_at_most_once_a_second, setup, teardown),
            cmocka_unit_test_setup_teardown(one_write_per_worker_and_batch, setup, teardown),
            cmocka_unit_test_setup_teardown(rollback_drops_notes_and_failure_forgets, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(health_by_lease_period, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
