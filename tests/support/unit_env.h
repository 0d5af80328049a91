/*
 * unit_env.h: the store every core unit test runs on (test_jobs, test_timers,
 * test_groups, test_deps, test_cron): a fresh SQLite store in a temporary
 * directory, a fake clock that moves only when the test moves it, and the
 * default limits. Tests drive core inside unit_env_begin..unit_env_commit, as
 * the store thread does, so time-dependent behaviour is checked exactly and
 * instantly. Assumes cmocka: failures to set up or tear down are assertions.
 * Linked into the unit tests only (tests/CMakeLists.txt); the e2e support
 * library does not carry the server's libraries it needs.
 */
#ifndef BATON_TESTS_UNIT_ENV_H
#define BATON_TESTS_UNIT_ENV_H

#include <stdint.h>

#include "common/clock.h"
#include "core/txn.h"
#include "store/store.h"

/* 2026-11-23T09:00:52Z, the fake clock's start unless a test asks for another. */
#define UNIT_ENV_T0_MS 1795424452000LL

struct env {
        char dir[64]; /* the temporary directory holding the store */
        struct store *st;
        const struct store_ops *ops;
        struct clock_fake clock;
        struct limits limits;
        struct txn tx;          /* the transaction unit_env_begin starts */
        struct tz_cache *tzc;   /* handed to every transaction when set; owned by the test */
        struct cron_cache *crc; /* likewise */
};

/* Opens a fresh store in a new temporary directory with the fake clock at
 * t0_ms. The env is owned by the caller: unit_env_close. */
struct env *unit_env_open(int64_t t0_ms);
/* Closes the store, removes its directory and frees e. */
void unit_env_close(struct env *e);

/* cmocka setup and teardown: *state receives unit_env_open(UNIT_ENV_T0_MS),
 * which the teardown closes. */
int unit_env_setup(void **state);
int unit_env_teardown(void **state);

/* A cmocka test of function f on a fresh unit_env. */
#define UNIT_ENV_TEST(f) cmocka_unit_test_setup_teardown(f, unit_env_setup, unit_env_teardown)

/* Starts a transaction at the fake clock's time; returns e->tx. */
struct txn *unit_env_begin(struct env *e);
/* Commits (or rolls back) the transaction and frees its effects. */
void unit_env_commit(struct env *e);
void unit_env_rollback(struct env *e);
/* Ends the transaction as core's return code rc says: rolled back when it
 * failed (rc != 0), committed when it succeeded. */
void unit_env_end(struct env *e, int rc);

#endif
