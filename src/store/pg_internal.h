/*
 * pg_internal.h: internals of the PostgreSQL backend shared by its files
 * (pg.c: connection, transactions, the pipeline, deferred writes, savepoints,
 * kept rows, the ops table; pg_rows.c: statement parameters and result rows;
 * pg_jobs.c: job rows, claims, purge, deadlines; pg_meta.c: idempotency,
 * queues, keys, tenants, audit; pg_timers.c; pg_deps.c: job dependencies,
 * flows and the cascade's work list; pg_plans.c: the plan checks; pg_cron.c;
 * pg_cluster.c; pg_groups.c; pg_schema.c: migrations) and by the PostgreSQL
 * section of the store conformance suite. Core and the server use only
 * store_postgres_ops.
 *
 * Statements are named (struct pg_stmt) and prepared once per connection, the
 * first time they run (pg_exec); parameters and results travel as text, which
 * keeps the binding helpers small (struct pg_params, pg_i64, pg_text); records
 * are bound and read through the column tables of store_cols.h.
 * Transaction control (BEGIN, SAVEPOINT, RELEASE, COMMIT) is deferred: it is
 * queued on the connection and sent in one pipeline with the next statement,
 * so an operation of a group commit costs one round trip per statement and a
 * savepoint that saw no statement costs nothing.
 */
#ifndef BATON_STORE_PG_INTERNAL_H
#define BATON_STORE_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store_cols.h"
#include "store/store_decl.h"

#define PG_PARAMS_MAX 48    /* the widest statement binds 2 + the job columns */
#define PG_PREPARED_MAX 256 /* distinct statements prepared on one connection */
#define PG_PENDING_MAX 256  /* deferred commands awaiting the next send */
#define PG_IDS_AHEAD 128    /* job ids reserved from the sequence at a time */
#define PG_BUILT_MAX 17     /* statements built at open (pg_jobs.c) */
#define PG_KEPT_MAX 8       /* results kept for job_get at once (pg.c) */
#define PG_QCACHE_MAX 8     /* queue_limits rows known in one transaction */
#define PG_SHARDS 64        /* shares of the queue counters (pg_groups.c) */
#define PG_SQL_MAX 8192     /* the longest statement text built or explained */

/* A named statement. The name is unique in the backend ("pg_job_get"); the
 * definition lives in static storage, and its address identifies it. */
struct pg_stmt {
        const char *name;
        const char *sql;
};

/* The name prefix of a statement sent with its text, never prepared: one
 * built for one call (job_list, whose filters combine too many ways to
 * prepare each); it lives only during the call. */
#define PG_ADHOC "adhoc:"

/* Parameters of one execution, as text (NULL = SQL NULL). Numbers are
 * formatted into num[], so the struct must outlive the call it is passed to. */
struct pg_params {
        int n;
        const char *v[PG_PARAMS_MAX];
        char num[PG_PARAMS_MAX][24];
};

enum pg_sp_state {
        PG_SP_NONE, /* no savepoint of the operation */
        PG_SP_WANT, /* asked for, not sent yet (sent when the operation sends) */
        PG_SP_OPEN, /* sent */
};

/* A deferred command: control text (sql), or a statement with its own copy
 * of the parameters (buf holds them; v points into it). op is the operation
 * that queued it (struct store op_seq), so that a failure can be blamed on
 * the operation running or on one already done. */
struct pg_pending {
        const char *sql;
        const struct pg_stmt *stmt;
        int n;
        const char *v[PG_PARAMS_MAX];
        char *buf;
        uint64_t op;
};

/* A result of job rows kept so that job_get answers from it (pg.c pg_kept_*):
 * ids[i] is row i's id, 0 once the job was written (the next read must see
 * the write). txn: kept to the end of the transaction (rows locked outside
 * any operation), else to the end of the operation. */
struct pg_kept {
        PGresult *res;
        int64_t *ids;
        int n, cap;
        bool txn;
};

/* An id set (pg.c pg_idset_*). */
struct pg_idset {
        int64_t *v;
        int n, cap;
};

/* Statements built at open from job_cols (pg_jobs.c) (their text lives in struct store):
 * insert, get, update, the claim reads and the audit_list variants (one per
 * combination of filters); job_list is built per call (pg_build_job_list). Parameters are numbered
 * in the order they are bound, so a variant names only the ones it uses. */
enum {
        PG_B_INSERT,
        PG_B_GET,
        PG_B_UPDATE,
        PG_B_INSERT_ID,
        PG_B_GROUP_READY,   /* group_ready_ids of one group (pg_groups.c) */
        PG_B_NOGROUP_READY, /* group_ready_ids of the jobs without a group */
        PG_B_GET_MANY,      /* job_get_many */
        PG_B_GROUP_MANY,    /* group_ready_many */
        PG_B_PEEK,          /* job_peek: job_get without the lock */
        PG_B_AUDIT,
        PG_B_COUNT = PG_B_AUDIT + STORE_LIST_VARIANTS
};

struct queue_limits;

struct store {
        PGconn *conn;
        char *uri;
        bool in_txn;
        bool sync_full; /* synchronous_commit on (reapplied on reconnect) */
        /* The connection failed (or a result said it did): nothing more is
         * sent on it; begin reconnects, no sooner than retry_at_ns. */
        bool broken;
        int64_t retry_at_ns;
        int64_t backoff_ms;
        int sp;                                    /* enum pg_sp_state */
        struct pg_pending pending[PG_PENDING_MAX]; /* deferred commands, in order */
        int n_pending;
        /* Ids of the jobs the current operation read with job_get (which
         * locks them): job_update defers its write for these (pg_jobs.c). */
        struct pg_idset locked;
        /* The same for rows locked outside any operation (job_get_many
         * before a batch's operations run): held to the end of the
         * transaction, whatever an operation rolls back. */
        struct pg_idset txn_locked;
        /* Jobs among txn_locked that had no children once locked (nobody
         * adds one without locking the parent): dep_children answers for them
         * without a round trip, until dep_insert names them. */
        struct pg_idset nochild;
        int64_t ids[PG_IDS_AHEAD]; /* job ids reserved ahead (pg_jobs.c take_id) */
        int ids_n, ids_pos;
        /* Results of job rows kept for job_get: a claim's ready rows (to the
         * end of the operation), the jobs of a batch read ahead (to the end of
         * the transaction). */
        struct pg_kept kept[PG_KEPT_MAX];
        /* queue_limits rows this transaction knows (pg_groups.c): read or
         * written with a lock (qlocked[i]: exactly, to the commit) or read
         * without one (settings for the calls that need no lock). qlim calls
         * on them answer without a round trip. Forgotten when an operation
         * rolls back. */
        struct queue_limits *qcache[PG_QCACHE_MAX];
        bool qlocked[PG_QCACHE_MAX];
        /* Counts (qlim_add) summed per queue and written once per
         * transaction, just before COMMIT (pg_groups.c): one row version per
         * queue and batch instead of one per job. */
        struct pg_qdelta *qdelta;
        int n_qdelta, cap_qdelta;
        int n_qcache;
        /* Events this transaction has inserted (pg_events.c): the index of
         * the next one in its id. */
        int64_t events_n;
        /* Operations seen in this transaction (savepoint_op); 0 = outside any. */
        uint64_t op_seq;
        /* A command of an operation already done failed: the transaction can
         * no longer be committed whole (pg.c read_all), so nothing more is
         * sent and the commit fails. */
        bool failed;
        int statement_timeout_ms;
        int lock_timeout_ms;    /* store_opts; reapplied on reconnect */
        int idle_tx_timeout_ms; /* store_opts; reapplied on reconnect */
        bool lease_conn;        /* store_opts: the leader lease's own connection */
        char app_name[64];      /* application_name (store_opts) */
        /* This connection's share of the queue counters (queue_counts.shard,
         * pg_groups.c), held with a session advisory lock taken at connect so
         * that no other live connection writes it (pg.c take_shard). */
        int shard;
        const struct pg_stmt *prepared[PG_PREPARED_MAX];
        int n_prepared;
        /* Statements whose text is built at open (pg_jobs.c: job columns, list
         * variants); built_sql[i] is malloc'd and owned by the store. */
        struct pg_stmt built[PG_BUILT_MAX];
        char *built_sql[PG_BUILT_MAX];
};

/* The job_list statement of f (pg_jobs.c), for pg_job_list and the plan
 * checks. */
int pg_build_job_list(struct buf *b, const struct job_filter *f);

/* Parameter binding (pg_rows.c); each appends to p: one parameter
 * (pg_p_text, pg_p_i64), a typed argument list (pg_args, PG_ADD(&p, SA(x),
 * ...)) or a record's write (pg_p_row, store_bind_row); the last two return
 * p. pg_binder binds what follows p's parameters (store_cols.h). PG_ARGS(SA(x),
 * ...) and PG_ROW(d, rec) are new parameter lists of their own, which live
 * to the end of the enclosing block. */
void pg_p_text(struct pg_params *p, const char *v);
void pg_p_i64(struct pg_params *p, int64_t v);
struct pg_params *pg_args(struct pg_params *p, int n, const struct store_arg *a);
struct pg_params *pg_p_row(struct pg_params *p, const struct store_rowdef *d, const void *rec);
struct store_binder pg_binder(struct pg_params *p);
#define PG_ADD(p, ...) pg_args((p), STORE_ARGS(__VA_ARGS__))
#define PG_ARGS(...) pg_args(&(struct pg_params){0}, STORE_ARGS(__VA_ARGS__))
#define PG_ROW(d, rec) pg_p_row(&(struct pg_params){0}, (d), (rec))

/* Runs s with p (NULL = no parameters) after any deferred commands, in one
 * round trip, preparing s first if this connection has not. On success *res
 * (when res is not NULL) holds the result, owned by the caller (PQclear).
 * Errors: BATON_ECONFLICT for a unique violation, BATON_ESTORE for any other
 * refusal or a lost connection (which also marks the store broken). */
int pg_exec(struct store *st, const struct pg_stmt *s, const struct pg_params *p, PGresult **res);
/* pg_exec for a statement without rows; *n_out (if not NULL) gets the count
 * of rows it changed (pg_rows.c). pg_update: BATON_ENOTFOUND when it changed
 * none. */
int pg_run(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int64_t *n_out);
int pg_update(struct store *st, const struct pg_stmt *s, const struct pg_params *p);
/* Defers the operation's savepoint if it was asked for and not yet sent, in
 * front of the writes the operation deferred so far; pg_exec (and a send of
 * the full queue) does this itself, a caller that defers its own control
 * commands (a nested savepoint) calls it before them. An operation that
 * never sends anything never gets its savepoint (pg.c). */
int pg_open_op_savepoint(struct store *st);
/* Reads every row of s as records of d into a malloc'd array owned by the
 * caller (*out, *n_out; the type's *_recs_free); nothing on failure. */
int pg_collect(struct store *st, const struct pg_stmt *s, const struct pg_params *p,
               const struct store_rowdef *d, void *out, int *n_out);
/* Calls fn(ctx, row, i) for row i of up to max rows of s (pg_each) or of r
 * (pg_rows_each); fn returns 0 to go on, 1 to stop after that row, or an
 * error, which ends the read. *n_out (if not NULL) gets the rows read, 0
 * after an error. */
int pg_each(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int max,
            int (*fn)(void *ctx, const struct store_row *r, int i), void *ctx, int *n_out);
int pg_rows_each(const PGresult *r, int max, int (*fn)(void *ctx, const struct store_row *r, int i),
                 void *ctx, int *n_out);
/* Sends the deferred commands now (commit, and tests). */
int pg_flush(struct store *st);
/* Queues a control command (static text) to go before the next statement. */
int pg_defer(struct store *st, const char *sql);
/* Queues a write whose only possible outcome is success (an upsert, a delete
 * or update by key) with a copy of p: it travels with the next round trip,
 * under the operation's savepoint if the operation sends anything before it
 * ends, else at the top level (and dropped if the operation rolls back); a
 * failure there (a lost connection) fails the rest of the transaction and
 * its commit. */
int pg_defer_write(struct store *st, const struct pg_stmt *s, const struct pg_params *p);
/* The claim read of version 5 (pg_jobs.c): the ready jobs of one group of a queue
 * (grp NULL: the jobs without a group) in claim order (priority, run_at, id),
 * at most max, as ids and priorities. It locks the rows
 * and keeps them for the job_get calls of the claim. The jobs without a group
 * skip rows locked elsewhere (SKIP LOCKED); a group's jobs wait for them, so
 * the read never shows a group as empty while it has a ready job. */
int pg_group_ready_rows(struct store *st, const char *tenant, const char *queue, const char *grp,
                        int max, int64_t *ids, int *prios, int *n_out);
/* Runs statements s[0..k) with p[0..k) after any deferred commands, in one
 * round trip (a pipeline); res[i] gets statement i's result (owned by the
 * caller, PQclear) when every command succeeded. pg_exec is this with k 1. */
int pg_exec_n(struct store *st, const struct pg_stmt *const *s, const struct pg_params *const *p,
              int k, PGresult **res);
/* Forgets the queue_limits rows known to this transaction (pg_groups.c). */
void pg_qcache_clear(struct store *st);
/* The counts of the transaction not written yet (pg_groups.c): end_op keeps
 * (keep) or drops those of the operation that ends; flush defers one write
 * per queue (before COMMIT); clear drops them all (begin, rollback). */
void pg_qdelta_end_op(struct store *st, bool keep);
int pg_qdelta_flush(struct store *st);
void pg_qdelta_clear(struct store *st);
/* Queues statement s with a copy of p to go before the next statement (or
 * with the commit); its error, if any, is the error of that send. */
int pg_defer_stmt(struct store *st, const struct pg_stmt *s, const struct pg_params *p);

/* Result reading (pg_rows.c): pg_i64 gives 0 for SQL NULL; pg_text copies
 * into *dst (NULL for SQL NULL), owned by the caller, BATON_ENOMEM on failure;
 * pg_row is row of r for store_cols.h. */
int64_t pg_i64(const PGresult *r, int row, int col);
int pg_text(const PGresult *r, int row, int col, char **dst);
struct store_row pg_row(const PGresult *r, int row);
/* Collects column 0 of up to max rows of a statement as ids (max <= 0: none,
 * and no round trip). */
int pg_ids(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int max,
           int64_t *ids, int *n_out);
/* pg_get_one reads the first row of s as a record of d (owned by the
 * caller), BATON_ENOTFOUND when there is none; pg_int reads its column 0 (0
 * for SQL NULL or no row; *found, if not NULL, says whether there was one). */
int pg_get_one(struct store *st, const struct pg_stmt *s, const struct pg_params *p,
               const struct store_rowdef *d, void *out);
int pg_int(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int64_t *out,
           bool *found);
/* pg_purge runs a DELETE of at most max rows (p gets max as its last
 * parameter) and reports how many went; max <= 0 sends nothing. */
int pg_purge(struct store *st, const struct pg_stmt *s, struct pg_params *p, int max, int *n_out);
/* Job rows kept for job_get (pg.c): pg_kept_add keeps r (owned by the store
 * from then on, also on failure), whose row i is job ids[i]; pg_kept_row
 * finds the kept row of a job (NULL when none holds it). */
void pg_kept_add(struct store *st, PGresult *r, const int64_t *ids, int n, bool txn);
PGresult *pg_kept_row(const struct store *st, const char *tenant, int64_t id, int *row);
/* Forgets everything known of the transaction's rows (pg.c): locks held
 * outside operations, jobs without children, kept results. */
void pg_txn_forget(struct store *st);
/* Id sets (pg.c). */
bool pg_idset_has(const struct pg_idset *s, int64_t id);
int pg_idset_add(struct pg_idset *s, int64_t id);
void pg_idset_del(struct pg_idset *s, int64_t id);

/* ---- the operations of the per-domain files ----
 *
 * Those of store_postgres_ops under the same name without the pg_ prefix
 * (store.h describes each), declared by domain through store_decl.h: job
 * rows, claims, purge and deadlines (pg_jobs.c), idempotency, queues,
 * tenants, keys and audit (pg_meta.c), timers (pg_timers.c), dependencies,
 * flows and the cascade's work list (pg_deps.c), queue limits, groups and
 * rate window logs (pg_groups.c), cron (pg_cron.c), the leader lease,
 * notifications and the listener (pg_cluster.c). */
STORE_JOB_OPS(STORE_DECLARE, pg)
STORE_META_OPS(STORE_DECLARE, pg)
STORE_TIMER_OPS(STORE_DECLARE, pg)
STORE_DEP_OPS(STORE_DECLARE, pg)
STORE_GROUP_OPS(STORE_DECLARE, pg)
STORE_CRON_OPS(STORE_DECLARE, pg)
STORE_CLUSTER_OPS(STORE_DECLARE, pg)
STORE_WORKER_OPS(STORE_DECLARE, pg)
STORE_STATS_OPS(STORE_DECLARE, pg)
STORE_SESSION_OPS(STORE_DECLARE, pg)
STORE_EVENT_OPS(STORE_DECLARE, pg)
STORE_DECLARE(pg, job_peek)
STORE_DECLARE(pg, listen_open)
STORE_DECLARE(pg, listen_fd)
STORE_DECLARE(pg, listen_read)
STORE_DECLARE(pg, listen_close)

/* Builds the statements whose text comes from the job columns (and the
 * audit_list variants) into st->built at open (pg_jobs.c). */
int pg_build_stmts(struct store *st);
/* The channel every node listens on is this + ":" + its schema. */
#define PG_NOTIFY_CHANNEL "baton"

/* The counts of one queue that the transaction has not written yet: those of
 * finished operations, and those of the running one (op_*). */
struct pg_qdelta {
        char *tenant;
        char *queue;
        int64_t depth, running, op_depth, op_running;
};

/* The read statements of a file of the backend, for the plan checks
 * (pg_plans.c): those of pg_jobs.c, pg_meta.c, pg_timers.c, pg_deps.c,
 * pg_groups.c and pg_cron.c. */
struct pg_stmt_list {
        const struct pg_stmt *const *v;
        int n;
};
extern const struct pg_stmt_list pg_jobs_stmts, pg_meta_stmts, pg_timers_stmts, pg_deps_stmts,
    pg_groups_stmts, pg_cron_stmts, pg_workers_stmts, pg_stats_stmts, pg_events_stmts;

/* Schema (pg_schema.c). The newest version this binary knows; migrating up
 * to target (at most the newest, else BATON_EINVAL), each migration in its own
 * transaction under an advisory lock so that nodes starting together apply
 * it once; BATON_ESCHEMA if the database is newer than this binary. */
int pg_schema_newest(void);
int pg_migrate_to(PGconn *c, int target);
int pg_schema_read(PGconn *c, int *out);

/* Checks the plan of every read statement (see pg_check_plans in pg_plans.c): each
 * must find its rows through an index, with no sequential scan and no sort,
 * even with a tiny table. BATON_ESTORE and the statement's name and plan in
 * why on a bad plan. pg_explain writes one statement's plan into out. */
int pg_check_plans(struct store *st, char *why, size_t why_len);
int pg_explain(struct store *st, const char *name, char *out, size_t out_len);
/* pg_explain with the planner's own choices (sequential scans and sorts
 * allowed): the plan it prefers on the tables as they are. */
int pg_explain_free(struct store *st, const char *name, char *out, size_t out_len);

#endif
