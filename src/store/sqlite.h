/*
 * sqlite.h: internals of the SQLite backend shared by its files (the schema
 * migrations live in sqlite_schema.c) and by the SQLite-specific section of the
 * store conformance suite. Core and the server use only store_sqlite_ops; the
 * backend's own files share sqlite_internal.h besides.
 */
#ifndef BATON_STORE_SQLITE_H
#define BATON_STORE_SQLITE_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct store;

/* The newest schema version this binary knows. */
int sqlite_schema_newest(void);

/* Creates schema_migrations if needed and applies every missing migration,
 * each in its own transaction. BATON_ESCHEMA if the stored version is newer
 * than sqlite_schema_newest(), BATON_ESTORE if SQLite refused a step. */
int sqlite_migrate(struct sqlite3 *db);

/* The same, applying migrations only up to version target (at most
 * sqlite_schema_newest(), else BATON_EINVAL), so tests can make a store as an
 * older binary left it and check that opening it migrates the rest. */
int sqlite_migrate_to(struct sqlite3 *db, int target);

/* Reads the applied schema version (0 for an empty database) into *out. */
int sqlite_schema_read(struct sqlite3 *db, int *out);

/* Runs EXPLAIN QUERY PLAN on every statement that reads and checks that each
 * one reads through the index it was written for (see sqlite_stmt_defs in sqlite.c),
 * with no full table scan and no temporary sort. On a
 * bad plan it returns BATON_ESTORE and writes the statement's name and the plan
 * line into why (truncated to why_len). */
int sqlite_check_plans(struct store *st, char *why, size_t why_len);

/* Writes the EXPLAIN QUERY PLAN lines of one prepared statement into out (one
 * per line, truncated to out_len), for tests that look at a plan themselves.
 * name is a statement's name ("job_due_ids", "deadlines", ...) or
 * "job_list:<sample name>" (store_list_samples). BATON_ENOTFOUND for an unknown name. */
int sqlite_explain(struct store *st, const char *name, char *out, size_t out_len);

/* Reads an integer pragma of the store's own connection ("synchronous",
 * "journal_size_limit", ...), for tests of per-connection settings. */
int sqlite_pragma_int(struct store *st, const char *name, int64_t *out);

/* The connection of a store, for tests that act on it behind the backend's
 * back (tests/support/store_fault.c ends a transaction as SQLite itself
 * does after an I/O error). */
struct sqlite3 *sqlite_db(struct store *st);
/* The index SQLite reads for a list that store_job_list_index says ix
 * serves: job_tenant and job_tq are read state by state through job_tstate
 * and job_tqs (migration 17). */
const char *sqlite_list_index(const char *ix);

#endif
