/*
 * sqlite.h: internals of the SQLite backend shared by its files (the schema
 * migrations live in sqlite_schema.c) and by the SQLite-specific section of the
 * store conformance suite. Core and the server use only store_sqlite_ops.
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
 * "job_list/<filter bits>". BATON_ENOTFOUND for an unknown name. */
int sqlite_explain(struct store *st, const char *name, char *out, size_t out_len);

/* Reads an integer pragma of the store's own connection ("synchronous",
 * "journal_size_limit", ...), for tests of per-connection settings. */
int sqlite_pragma_int(struct store *st, const char *name, int64_t *out);

/* The connection of a store, for the backend's other files (sqlite_cron.c). */
struct sqlite3 *sqlite_db(struct store *st);

/* Prepared statements of sqlite_cron.c, kept with the store (prepared on
 * first use, finalized when the store closes): a cron tick runs several per
 * schedule it fires, and preparing them each time cost more than running
 * them. Indexed by sqlite_cron.c's own statement ids. */
#define SQLITE_CRON_STMT_MAX 16
struct sqlite3_stmt;
struct sqlite3_stmt **sqlite_cron_stmts(struct store *st);

/* Cron operations of store_sqlite_ops (sqlite_cron.c); see store.h. */
struct cron_rec;
struct cron_run;
int sqlite_cron_put(struct store *st, const struct cron_rec *r);
int sqlite_cron_get(struct store *st, const char *tenant, const char *key, struct cron_rec *out);
int sqlite_cron_delete(struct store *st, const char *tenant, const char *key);
int sqlite_cron_list(struct store *st, const char *tenant, const char *after, int limit,
                     struct cron_rec **out, int *n_out);
int sqlite_cron_due(struct store *st, int64_t now_ms, int max, struct cron_rec **out, int *n_out);
int sqlite_cron_next_due(struct store *st, int64_t *at_ms);
int sqlite_cron_count_add(struct store *st, const char *tenant, int64_t delta, int64_t *n_out);
int sqlite_cron_run_insert(struct store *st, struct cron_run *r);
int sqlite_cron_run_update(struct store *st, const struct cron_run *r);
int sqlite_cron_run_get(struct store *st, const char *tenant, int64_t id, struct cron_run *out);
int sqlite_cron_run_list(struct store *st, const char *tenant, const char *key, int64_t before_id,
                         int limit, struct cron_run **out, int *n_out);
int sqlite_cron_run_count(struct store *st, const char *tenant, const char *key,
                          const char *trigger, int64_t since_ms, int64_t *n_out);
int sqlite_cron_run_trim(struct store *st, const char *tenant, const char *key, int keep);

/* Leader lease and notifications of store_sqlite_ops (sqlite_cluster.c). */
struct leader_rec;
int sqlite_leader_acquire(struct store *st, const char *node, int64_t held_epoch, int64_t now_ms,
                          int64_t ttl_ms, int64_t lag_ms, struct leader_rec *out);
int sqlite_leader_check(struct store *st, const char *node, int64_t epoch);
int sqlite_leader_release(struct store *st, const char *node, int64_t epoch);
int sqlite_leader_get(struct store *st, struct leader_rec *out);
int sqlite_notify(struct store *st, const char *const *payloads, int n);

#endif
