/*
 * pgtest.h: PostgreSQL scratch space for tests. BATON_TEST_PG_URI (exported
 * by scripts/test.sh, which starts a throwaway server with
 * scripts/pg_server.sh) names a database the tests may write to; each test
 * store lives in a schema of its own, created by pgtest_create and dropped with
 * everything in it by pgtest_drop. The URI handed to the store (or to batond's
 * --store) selects the schema through options=-csearch_path, so a backend that
 * passes its URI to libpq unchanged works in it without knowing.
 *
 * Used by the store conformance suite, the e2e harness (BATON_TEST_STORE=
 * postgres runs every harness-started batond on a fresh schema) and
 * multi-node tests, which point several servers at one schema.
 */
#ifndef BATON_TESTS_PGTEST_H
#define BATON_TESTS_PGTEST_H

#include <stdbool.h>

/* ctest's skip code: a test that needs PostgreSQL exits with it when
 * BATON_TEST_PG_URI is unset, and ctest reports it as skipped. */
#define PGTEST_SKIP_CODE 77

struct pgtest {
        char scope[64]; /* the schema's name; "" when none was created */
        char uri[4096]; /* the base URI plus options=-csearch_path%3D<scope> */
};

/* True when BATON_TEST_PG_URI is set and not empty. */
bool pgtest_available(void);
/* Creates a fresh, empty schema and fills t. Returns 0, or -1 with a message
 * on stderr (t->scope is then ""). */
int pgtest_create(struct pgtest *t);
/* Drops the schema and everything in it; safe on a t that has none. */
void pgtest_drop(struct pgtest *t);
/* Runs sql (no parameters, no rows wanted) on the database of
 * BATON_TEST_PG_URI in a connection of its own. 0 or -1 (message on stderr). */
int pgtest_exec(const char *sql);

#endif
