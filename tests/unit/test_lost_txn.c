/*
 * test_lost_txn.c: the writes core makes outside every operation, just
 * before the commit (the worker registry's worker_seen, the event log's
 * event_insert), on a SQLite transaction that SQLite has already rolled back
 * by itself (an I/O error or a full disk does that; here a ROLLBACK on the
 * store's own connection behind the backend's back, as
 * tests/support/store_fault.c does). Run in autocommit mode such a write
 * would commit on its own, half a batch whose operations are all answered
 * 503; both must refuse (BATON_ESTORE) and leave nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <string.h>

#include "common/errors.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support/unit_env.h"

/* Rolls back the open transaction as SQLite does after an I/O error. */
static void lose_txn(struct env *e)
{
        assert_int_equal(sqlite3_exec(sqlite_db(e->st), "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
}

static void worker_seen_refused(void **state)
{
        struct env *e = *state;
        struct worker_note n = {"default", "w1", NULL, "q", UNIT_ENV_T0_MS, 1000, 1, 0};
        struct worker_rec w = {0};

        assert_int_equal(e->ops->begin(e->st), 0);
        lose_txn(e);
        assert_int_equal(e->ops->worker_seen(e->st, &n), BATON_ESTORE);
        assert_int_not_equal(e->ops->commit(e->st), 0);
        e->ops->rollback(e->st);
        assert_int_equal(e->ops->begin(e->st), 0);
        assert_int_equal(e->ops->worker_get(e->st, "default", "w1", &w), BATON_ENOTFOUND);
        assert_int_equal(e->ops->commit(e->st), 0);
}

static void event_insert_refused(void **state)
{
        struct env *e = *state;
        struct event_rec ev = {0, "default", "job.enqueued", UNIT_ENV_T0_MS, "job", "1", "q", "{}"};
        struct event_rec *v = NULL;
        int64_t last = 0;
        bool more = false, waiting = false;
        int n = -1;

        assert_int_equal(e->ops->begin(e->st), 0);
        lose_txn(e);
        assert_int_equal(e->ops->event_insert(e->st, &ev, 1), BATON_ESTORE);
        assert_int_not_equal(e->ops->commit(e->st), 0);
        e->ops->rollback(e->st);
        assert_int_equal(e->ops->begin(e->st), 0);
        assert_int_equal(e->ops->event_scan(e->st, NULL, 0, 10, &v, &n, &last, &more, &waiting), 0);
        assert_int_equal(n, 0);
        event_recs_free(v, n);
        /* And in a transaction that is open, the write is made. */
        assert_int_equal(e->ops->event_insert(e->st, &ev, 1), 0);
        assert_int_equal(e->ops->commit(e->st), 0);
        assert_int_equal(e->ops->begin(e->st), 0);
        assert_int_equal(
            e->ops->event_scan(e->st, "default", 0, 10, &v, &n, &last, &more, &waiting), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].type, "job.enqueued");
        assert_int_equal(last, v[0].id);
        event_recs_free(v, n);
        assert_int_equal(e->ops->commit(e->st), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            UNIT_ENV_TEST(worker_seen_refused),
            UNIT_ENV_TEST(event_insert_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
