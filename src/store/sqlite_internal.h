/*
 * sqlite_internal.h: what the files of the SQLite backend share and nothing
 * else includes: struct store, the ids and definitions of the statements that
 * sqlite.c prepares at open, the statement helpers (bind a statement's
 * arguments, run it, read its rows through the column tables of
 * store_cols.h), and the operations each per-domain file contributes to
 * store_sqlite_ops (assembled in sqlite.c). Assumptions: one connection used
 * only by the store thread (see sqlite.c).
 */
#ifndef BATON_STORE_SQLITE_INTERNAL_H
#define BATON_STORE_SQLITE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#include <sqlite3.h>

#include "store/sqlite.h"
#include "store/store.h"
#include "store/store_cols.h"
#include "store/store_decl.h"

enum stmt_id {
        S_BEGIN,
        S_COMMIT,
        S_ROLLBACK,
        S_SAVEPOINT,
        S_RELEASE,
        S_ROLLBACK_TO,
        S_VERSION,
        S_JOB_INSERT,
        S_JOB_GET,
        S_JOB_UPDATE,
        S_JOB_UPDATE_RUN,
        S_JOB_UPDATE_SETTLE,
        S_JOB_FIND_KEY,
        S_JOB_FIND_ACTIVE,
        S_JOB_DUE,
        S_JOB_EXPIRED,
        S_JOB_SHIFT_LEASES,
        S_JOB_STATE_IDS,
        S_JOB_RUNNING_IDS,
        S_JOB_PURGE,
        S_JOB_DELETE,
        S_JOB_PURGE_OWN,
        S_JOB_OWN_DEADLINE,
        S_DEADLINES,
        S_IDEM_GET,
        S_IDEM_PUT,
        S_IDEM_PURGE,
        S_QUEUE_ENSURE,
        S_QUEUE_TOTAL_ADD,
        S_QUEUE_DELETE,
        S_QUEUE_TOTAL_SUB,
        S_QUEUE_GROUPS_DELETE,
        S_QUEUE_RATES_DELETE,
        S_QUEUE_TOTAL,
        S_QUEUE_GET,
        S_QUEUE_PUT,
        S_QUEUE_LIST,
        S_QUEUE_COUNTS,
        S_QUEUE_OLDEST,
        S_TENANT_ENSURE,
        S_KEY_INSERT,
        S_KEY_GET,
        S_KEY_UPDATE,
        S_KEY_LIST_TENANT,
        S_KEY_LIST_ALL,
        S_KEY_COUNT,
        S_AUDIT_INSERT,
        S_AUDIT_BUMP,
        S_AUDIT_PURGE,
        S_TIMER_GET,
        S_TIMER_PUT,
        S_TIMER_LIST,
        S_TIMER_DUE,
        S_TIMER_NEXT,
        S_DEP_INSERT,
        S_DEP_CHILDREN,
        S_FLOW_INSERT,
        S_FLOW_GET,
        S_FLOW_JOBS,
        /* version 5: queue limits and groups */
        S_QLIM_GET,
        S_QLIM_PUT,
        S_QLIM_ADD,
        S_QLIM_MAKE,
        S_GROUP_GET,
        S_GROUP_PUT,
        S_GROUP_DELETE,
        S_GROUP_RATE_DELETE,
        S_GROUP_NOTE_READY,
        S_GROUP_PICK,
        S_GROUP_UNBLOCK,
        S_GROUP_UNBLOCK_ALL,
        S_GROUP_NEXT_UNTIL,
        S_GROUP_READY,
        S_NOGROUP_READY,
        S_RATE_GET,
        S_RATE_PUT,
        S_RATE_TRIM,
        S_RATE_CLAMP,
        /* version 9: the dependency cascade's work list */
        S_DEP_WORK_PUT,
        S_DEP_WORK_NEXT,
        S_DEP_WORK_ADVANCE,
        S_DEP_WORK_DONE,
        /* cron schedules and runs (sqlite_cron.c) */
        S_CRON_PUT,
        S_CRON_GET,
        S_CRON_DELETE,
        S_CRON_DELETE_RUNS,
        S_CRON_LIST,
        S_CRON_DUE,
        S_CRON_NEXT_DUE,
        S_CRON_RUN_INSERT,
        S_CRON_RUN_UPDATE,
        S_CRON_RUN_GET,
        S_CRON_RUN_LIST,
        S_CRON_RUN_COUNT,
        S_CRON_RUN_TRIM,
        S_CRON_LAST_TICK,
        S_CRON_COUNT_ADD,
        /* the leader lease (sqlite_cluster.c) */
        S_LEASE_GET,
        S_LEASE_PUT,
        /* version 14: the worker registry (sqlite_workers.c) */
        S_WORKER_SEEN,
        S_WORKER_GET,
        S_WORKER_LIST,
        S_WORKER_JOBS,
        S_WORKER_PURGE,
        /* version 19: the stats series (sqlite_stats.c) */
        S_STATS_ADD,
        S_STATS_UNSAMPLE,
        S_STATS_SAMPLE,
        S_STATS_MARK,
        S_STATS_QUEUE,
        S_STATS_TENANT,
        S_STATS_MARKS,
        S_STATS_PURGE,
        S_SESSION_INSERT,
        S_SESSION_DELETE,
        S_SESSION_LIST,
        /* version 16: the event log (sqlite_events.c) */
        S_EVENT_INSERT, /* one row; then 4, 16 and 64 rows (sqlite_events.c) */
        S_EVENT_INSERT4,
        S_EVENT_INSERT16,
        S_EVENT_INSERT64,
        S_EVENT_SCAN,
        S_EVENT_PURGE_AGE,
        S_EVENT_PURGE_COUNT,
        S_AUDIT_LIST, /* first of the audit_list variants */
        S_COUNT = S_AUDIT_LIST + STORE_LIST_VARIANTS
};

/* An audit_list variant's statement is S_AUDIT_LIST + its bits (STORE_AF_*,
 * store_cols.h). job_list has no prepared statement: its SQL is built per
 * call from the filters set (sqlite_jobs.c). */

struct stmt_def {
        const char *name;
        const char *sql; /* NULL: built at open from job_cols */
        bool plan;       /* a query whose plan sqlite_check_plans verifies */
        /* Space-separated indexes the plan must use ("rowid" for the primary
         * key). A plan may walk (SCAN) only these, and only in their order under
         * a LIMIT, as the deadline lookups do. NULL: any index, no SCAN. */
        const char *uses;
};

/* Every fixed statement (indexed by enum stmt_id below S_AUDIT_LIST), in sqlite.c. */
extern const struct stmt_def sqlite_stmt_defs[S_AUDIT_LIST];

/* What the open transaction knows of one queue's limits row
 * (sqlite_groups.c): a copy of what qlim_get answers (when cached) and the
 * counts added and not written yet, those of ops already released and those
 * of the op still open. */
struct sqlite_qent {
        char *tenant;
        char *queue;
        bool cached; /* q holds the row as this transaction sees it */
        bool made;   /* the row exists (qlim_make or qlim_put ran) */
        struct queue_limits q;
        int64_t depth, running;
        int64_t op_depth, op_running;
};

/* At most this many queues per transaction are remembered; the others are
 * read and counted as they come, as before the cache. */
#define SQLITE_QCACHE_MAX 64

struct store {
        sqlite3 *db;
        /* begin succeeded and no commit or rollback has ended the transaction. If
         * SQLite rolled it back on its own (I/O error, disk full), later savepoints
         * and the commit must fail rather than run in autocommit mode. */
        bool in_txn;
        /* An op's savepoint is open (savepoint_op to release or rollback_to). */
        bool in_op;
        sqlite3_stmt *stmt[S_COUNT];
        /* The queues the open transaction has read or counted (sqlite_groups.c). */
        struct sqlite_qent qcache[SQLITE_QCACHE_MAX];
        int n_qcache;
};

/* ---- errors and statement helpers (sqlite.c) ----
 *
 * A statement is taken with its arguments bound (sqlite_stmt), then one
 * helper steps it, reads what it returns and finishes it (reset, bindings
 * cleared), whatever the outcome; a failure is logged under the statement's
 * name. */

/* Maps a SQLite result code to enum baton_err and logs what is not an
 * expected outcome. Call it before resetting the statement. */
int sqlite_fail(struct store *st, int rc, const char *what);
/* Returns a statement to its idle state: no read transaction held, no
 * pointer into the caller's strings kept. */
void sqlite_finish(sqlite3_stmt *s);
/* Statement id with a[0..n) bound from ?1 (text with SQLITE_STATIC: the
 * caller's strings must outlive the step). SQLITE_STMT(st, id, SA(x), ...). */
sqlite3_stmt *sqlite_stmt(struct store *st, int id, int n, const struct store_arg *a);
#define SQLITE_STMT(st, id, ...) sqlite_stmt((st), (id), STORE_ARGS(__VA_ARGS__))
/* Binds s's parameters from ?first on (store_bind_*). */
struct store_binder sqlite_binder(sqlite3_stmt *s, int first);
/* The current row of s, read through store_cols.h. */
struct store_row sqlite_row(sqlite3_stmt *s);
/* Steps a statement that returns no rows; *changes (if not NULL) gets the
 * rows it changed. sqlite_update: BATON_ENOTFOUND when it changed none.
 * sqlite_insert: *id_out gets the new row's id. */
int sqlite_run(struct store *st, sqlite3_stmt *s, int64_t *changes);
/* Runs statement id with rec's write bound from ?1 (store_bind_row). */
int sqlite_put(struct store *st, int id, const struct store_rowdef *d, const void *rec);
int sqlite_update(struct store *st, sqlite3_stmt *s);
int sqlite_insert(struct store *st, sqlite3_stmt *s, int64_t *id_out);
/* sqlite_run of a DELETE of at most max rows (bound by the caller), which
 * reports in *n_out how many went; max <= 0 deletes nothing. */
int sqlite_purge(struct store *st, sqlite3_stmt *s, int max, int *n_out);
/* Reads the first row with store_read (the caller owns what it allocates);
 * BATON_ENOTFOUND when there is none. */
int sqlite_one(struct store *st, sqlite3_stmt *s, const struct store_rowdef *d, void *out);
/* Column 0 of the first row into *out: 0 for SQL NULL or no row; *found
 * (if not NULL) says whether there was a row. */
int sqlite_int(struct store *st, sqlite3_stmt *s, int64_t *out, bool *found);
/* Steps s for up to max rows, calling fn(ctx, row, i) for row i; fn returns
 * 0 to go on, 1 to stop after that row, or an error, which ends the read.
 * *n_out (if not NULL) gets the rows read (0 after an error). */
int sqlite_each(struct store *st, sqlite3_stmt *s, int max,
                int (*fn)(void *ctx, const struct store_row *r, int i), void *ctx, int *n_out);
/* Up to max rows as records of d, in a malloc'd array owned by the caller
 * (*out, *n_out; freed with the type's *_recs_free); nothing on failure. */
int sqlite_rows(struct store *st, sqlite3_stmt *s, int max, const struct store_rowdef *d, void *out,
                int *n_out);
/* Column 0 of up to max rows as ids. */
int sqlite_ids(struct store *st, sqlite3_stmt *s, int max, int64_t *ids, int *n_out);
/* Whether a transaction begun with begin is still open (a failed statement
 * can end it): the batch's own writes after its ops (the stats series, the
 * worker registry, the event log) check it, since outside a transaction
 * they would commit on their own while the batch fails. */
bool sqlite_txn_open(struct store *st);
/* The name of statement id, for errors and plan checks. */
const char *sqlite_stmt_name(int id);
/* Prepares the SQL that fmt makes (sqlite3_mprintf) into *s, which the
 * caller finalizes: for statements run once (pragmas, plans). */
int sqlite_prepare_adhoc(struct store *st, sqlite3_stmt **s, const char *what, const char *fmt,
                         ...);

/* ---- the operations of the per-domain files ----
 *
 * Those of store_sqlite_ops under the same name without the sqlite_ prefix
 * (store.h describes each), declared by domain through store_decl.h: job rows
 * (sqlite_jobs.c), idempotency, queues, tenants, keys and audit
 * (sqlite_meta.c), timers (sqlite_timers.c), dependencies, flows and the
 * dependency work list (sqlite_deps.c), queue limits, groups and rate
 * windows (sqlite_groups.c), cron schedules and runs (sqlite_cron.c), the
 * leader lease and notifications (sqlite_cluster.c). */
STORE_JOB_OPS(STORE_DECLARE, sqlite)
STORE_META_OPS(STORE_DECLARE, sqlite)
STORE_TIMER_OPS(STORE_DECLARE, sqlite)
STORE_DEP_OPS(STORE_DECLARE, sqlite)
STORE_GROUP_OPS(STORE_DECLARE, sqlite)
STORE_CRON_OPS(STORE_DECLARE, sqlite)
STORE_CLUSTER_OPS(STORE_DECLARE, sqlite)
STORE_WORKER_OPS(STORE_DECLARE, sqlite)
STORE_STATS_OPS(STORE_DECLARE, sqlite)
STORE_SESSION_OPS(STORE_DECLARE, sqlite)
STORE_EVENT_OPS(STORE_DECLARE, sqlite)
/* The claim read of one group (sqlite_groups.c): store_ops.group_ready_ids. */
STORE_DECLARE(sqlite, group_ready_ids)

/* The per-transaction queue rows (sqlite_groups.c). sqlite_qcache_flush
 * writes the counts not written yet (before COMMIT) and forgets everything;
 * sqlite_qcache_clear forgets everything unwritten (ROLLBACK, BEGIN);
 * sqlite_qcache_end_op keeps (release) or drops (rollback to) the open op's
 * counts, and on a drop forgets the copies, which may show its writes;
 * sqlite_qcache_forget drops the copy of one queue whose groups or queue row
 * changed (grouped and known are read with the row). */
int sqlite_qcache_flush(struct store *st);
void sqlite_qcache_clear(struct store *st);
void sqlite_qcache_end_op(struct store *st, bool keep);
void sqlite_qcache_forget(struct store *st, const char *tenant, const char *queue);
/* Whether the transaction has seen the queue's row in queues (then
 * queue_ensure has nothing to do); sqlite_qcache_made_queue: it has made it. */
bool sqlite_qcache_known(struct store *st, const char *tenant, const char *queue);
void sqlite_qcache_made_queue(struct store *st, const char *tenant, const char *queue);

/* Appends the SQL of a job statement (S_JOB_INSERT, S_JOB_UPDATE,
 * S_JOB_UPDATE_RUN or S_JOB_GET) to b (sqlite_jobs.c). */
int sqlite_build_job_sql(struct buf *b, int id);
/* The job_list statement of f (sqlite_jobs.c), read through
 * store_job_list_index(f); for the plan checks too. */
int sqlite_build_job_list(struct buf *b, const struct job_filter *f);

/* The VFS the store opens its database with (sqlite_vfs.c): the VFS named
 * below_name (NULL = SQLite's default) with the WAL's frames written once per
 * commit. Writes its name to out (n bytes), registering it on first use;
 * BATON_EINVAL when below_name names no VFS. */
#define SQLITE_VFS_NAME_MAX 128
int sqlite_vfs_get(const char *below_name, char *out, size_t n);

#endif
