/*
 * unit_env.c: the temporary SQLite store with a fake clock that the core unit
 * tests share (unit_env.h). One store per test, in its own directory under
 * /tmp, removed with everything in it by the teardown.
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

#include "support/unit_env.h"

struct env *unit_env_open(int64_t t0_ms)
{
        struct env *e = calloc(1, sizeof(*e));
        struct store_opts o = {0};

        assert_non_null(e);
        snprintf(e->dir, sizeof(e->dir), "/tmp/baton-unit-XXXXXX");
        assert_non_null(mkdtemp(e->dir));
        o.uri = e->dir;
        /* The store is thrown away after the test: no fsync per commit. */
        o.sync_full = false;
        o.busy_timeout_ms = 1000;
        e->ops = &store_sqlite_ops;
        assert_int_equal(e->ops->open(&o, &e->st), 0);
        clock_fake_init(&e->clock, t0_ms);
        limits_default(&e->limits);
        return e;
}

void unit_env_close(struct env *e)
{
        char cmd[128];

        e->ops->close(e->st);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
        assert_int_equal(system(cmd), 0);
        free(e);
}

int unit_env_setup(void **state)
{
        *state = unit_env_open(UNIT_ENV_T0_MS);
        return 0;
}

int unit_env_teardown(void **state)
{
        unit_env_close(*state);
        return 0;
}

struct txn *unit_env_begin(struct env *e)
{
        memset(&e->tx, 0, sizeof(e->tx));
        e->tx.st = e->st;
        e->tx.ops = e->ops;
        e->tx.clock = &e->clock.clock;
        e->tx.limits = &e->limits;
        e->tx.now_ms = clock_wall_ms(&e->clock.clock);
        e->tx.tzc = e->tzc;
        e->tx.crc = e->crc;
        assert_int_equal(e->ops->begin(e->st), 0);
        return &e->tx;
}

void unit_env_commit(struct env *e)
{
        assert_int_equal(e->ops->commit(e->st), 0);
        txn_effects_free(&e->tx.fx);
}

void unit_env_rollback(struct env *e)
{
        assert_int_equal(e->ops->rollback(e->st), 0);
        txn_effects_free(&e->tx.fx);
}

void unit_env_end(struct env *e, int rc)
{
        if (rc)
                unit_env_rollback(e);
        else
                unit_env_commit(e);
}
