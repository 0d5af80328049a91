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

#define PG_PARAMS_MAX 48    /* the widest statement binds 2 + the job columns */
#define PG_PREPARED_MAX 256 /* distinct statements prepared on one connection */
#define PG_PENDING_MAX 256  /* deferred commands awaiting the next send */
#define PG_IDS_AHEAD 128    /* job ids reserved from the sequence at a time */
#define PG_BUILT_MAX 25     /* statements built at open (pg_jobs.c) */
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
 * insert, get, update, the job_list variants (one per combination of
 * filters) and the audit_list variants, likewise. Parameters are numbered in
 * the order they are bound, so a variant names only the ones it uses. */
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
        PG_B_LIST,
        PG_B_AUDIT = PG_B_LIST + STORE_LIST_VARIANTS,
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

/* Parameter binding (pg_rows.c); each appends to p: one parameter
 * (pg_p_text, pg_p_i64), a typed argument list (pg_args, PG_ARGS(&p, SA(x),
 * ...)) or a record's write (pg_p_row, store_bind_row); the last two return
 * p. pg_binder binds what follows p's parameters (store_cols.h). */
void pg_p_text(struct pg_params *p, const char *v);
void pg_p_i64(struct pg_params *p, int64_t v);
struct pg_params *pg_args(struct pg_params *p, int n, const struct store_arg *a);
#define PG_ARGS(p, ...) pg_args((p), STORE_ARGS(__VA_ARGS__))
struct pg_params *pg_p_row(struct pg_params *p, const struct store_rowdef *d, const void *rec);
struct store_binder pg_binder(struct pg_params *p);

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

/* Job rows, claims, purge and deadlines (pg_jobs.c); see store.h.
 * pg_build_stmts builds the statements whose text comes from the job
 * columns (and the audit_list variants) into st->built at open. */
struct job;
struct job_filter;
struct job_vec;
struct store_deadlines;
int pg_build_stmts(struct store *st);
int pg_job_insert(struct store *st, struct job *j);
int pg_job_get(struct store *st, const char *tenant, int64_t id, struct job *out);
int pg_job_peek(struct store *st, const char *tenant, int64_t id, struct job *out);
int pg_job_update(struct store *st, const struct job *j);
int pg_job_find_key(struct store *st, const char *tenant, const char *queue, const char *key,
                    int64_t *id_out);
int pg_job_list(struct store *st, const struct job_filter *f, struct job_vec *out);
int pg_job_get_many(struct store *st, const char *tenant, const int64_t *ids, int n,
                    struct job_vec *out);
int pg_job_due_ids(struct store *st, int64_t now, int max, int64_t *ids, int *n_out);
int pg_job_expired_ids(struct store *st, int64_t now, int max, int64_t *ids, int *n_out);
int pg_job_state_ids(struct store *st, const char *tenant, const char *queue, int state,
                     int64_t after_id, int max, int64_t *ids, int *n_out);
int pg_job_purge(struct store *st, int state, int64_t before_ms, int max, int *n_out);
int pg_job_delete(struct store *st, const char *tenant, int64_t id);
int pg_deadlines(struct store *st, struct store_deadlines *out);

/* Idempotency, queues, tenants, keys and audit (pg_meta.c); see store.h. */
struct buf;
struct idem_rec;
struct queue_rec;
struct queue_counts;
struct key_rec;
struct audit_rec;
struct audit_filter;
int pg_idem_get(struct store *st, const char *tenant, const char *key, struct idem_rec *out);
int pg_idem_put(struct store *st, const struct idem_rec *rec);
int pg_idem_take(struct store *st, const struct idem_rec *rec, int64_t now_ms,
                 struct idem_rec *held);
int pg_idem_swap(struct store *st, const struct idem_rec *rec, int64_t old_job_id);
int pg_idem_purge(struct store *st, int64_t before_ms, int max, int *n_out);
int pg_queue_ensure(struct store *st, const char *tenant, const char *name, int64_t now);
int pg_queue_total(struct store *st, const char *tenant, int64_t *n_out);
int pg_queue_get(struct store *st, const char *tenant, const char *name, struct queue_rec *out);
int pg_queue_put(struct store *st, const struct queue_rec *q);
int pg_queue_list(struct store *st, const char *tenant, const char *after, int limit,
                  struct queue_rec **out, int *n_out);
int pg_queue_counts(struct store *st, const char *tenant, const char *name,
                    struct queue_counts *out);
int pg_tenant_ensure(struct store *st, const char *name, int64_t now);
int pg_key_insert(struct store *st, const struct key_rec *k);
int pg_key_get(struct store *st, const char *id, struct key_rec *out);
int pg_key_update(struct store *st, const struct key_rec *k);
int pg_key_list(struct store *st, const char *tenant, const char *after, int limit,
                struct key_rec **out, int *n_out);
int pg_key_count(struct store *st, int64_t *n_out);
int pg_audit_insert(struct store *st, struct audit_rec *a);
int pg_audit_purge(struct store *st, int64_t before_ms, int max, int *n_out);
int pg_audit_list(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                  int *n_out);

/* Timers (pg_timers.c); see store.h. */
struct timer_rec;
int pg_timer_get(struct store *st, const char *tenant, const char *key, struct timer_rec *out);
int pg_timer_put(struct store *st, const struct timer_rec *t);
int pg_timer_list(struct store *st, const char *tenant, const char *prefix, const char *after,
                  int limit, struct timer_rec **out, int *n_out);
int pg_timer_due(struct store *st, int64_t now, int max, struct timer_rec **out, int *n_out);
int pg_timer_next(struct store *st, int64_t *at_ms_out);

/* Job dependencies, flows and the cascade's work list (pg_deps.c); see
 * store.h. */
struct flow_rec;
int pg_dep_insert(struct store *st, const char *tenant, int64_t parent_id, int64_t child_id);
int pg_dep_children(struct store *st, int64_t parent_id, int64_t after_id, int max, int64_t *ids,
                    int *n_out);
int pg_dep_work_put(struct store *st, int64_t job_id, int64_t after_id);
int pg_dep_work_next(struct store *st, int max, int64_t *ids, int64_t *afters, int *n_out);
int pg_dep_work_move(struct store *st, int64_t job_id, int64_t from_after, int64_t to_after);
int pg_flow_insert(struct store *st, struct flow_rec *f);
int pg_flow_get(struct store *st, const char *tenant, int64_t id, struct flow_rec *out);
int pg_flow_job_ids(struct store *st, const char *tenant, int64_t flow_id, int64_t after_id,
                    int max, int64_t *ids, int *n_out);

/* The read statements of pg_jobs.c, pg_meta.c, pg_timers.c and pg_deps.c,
 * for the plan checks (pg_plans.c). */
extern const struct pg_stmt *const pg_jobs_stmts[];
extern const int pg_jobs_stmts_n;
extern const struct pg_stmt *const pg_meta_stmts[];
extern const int pg_meta_stmts_n;
extern const struct pg_stmt *const pg_timers_stmts[];
extern const int pg_timers_stmts_n;
extern const struct pg_stmt *const pg_deps_stmts[];
extern const int pg_deps_stmts_n;

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

/* Cron operations (pg_cron.c); see store.h. */
struct cron_rec;
struct cron_run;
int pg_cron_put(struct store *st, const struct cron_rec *r);
int pg_cron_get(struct store *st, const char *tenant, const char *key, struct cron_rec *out);
int pg_cron_delete(struct store *st, const char *tenant, const char *key);
int pg_cron_list(struct store *st, const char *tenant, const char *after, int limit,
                 struct cron_rec **out, int *n_out);
int pg_cron_due(struct store *st, int64_t now_ms, int max, struct cron_rec **out, int *n_out);
int pg_cron_next_due(struct store *st, int64_t *at_ms);
int pg_cron_count_add(struct store *st, const char *tenant, int64_t delta, int64_t *n_out);
int pg_cron_run_insert(struct store *st, struct cron_run *r);
int pg_cron_run_update(struct store *st, const struct cron_run *r);
int pg_cron_run_get(struct store *st, const char *tenant, int64_t id, struct cron_run *out);
int pg_cron_run_list(struct store *st, const char *tenant, const char *key, int64_t before_id,
                     int limit, struct cron_run **out, int *n_out);
int pg_cron_run_count(struct store *st, const char *tenant, const char *key, const char *trigger,
                      int64_t since_ms, int64_t *n_out);
int pg_cron_run_trim(struct store *st, const char *tenant, const char *key, int keep);

/* Leader lease, notifications and the listener (pg_cluster.c); see store.h. */
struct leader_rec;
struct store_listener;
struct store_opts;
int pg_leader_acquire(struct store *st, const char *node, int64_t held_epoch, int64_t now_ms,
                      int64_t ttl_ms, int64_t lag_ms, struct leader_rec *out);
int pg_leader_check(struct store *st, const char *node, int64_t epoch);
int pg_leader_release(struct store *st, const char *node, int64_t epoch);
int pg_leader_get(struct store *st, struct leader_rec *out);
int pg_notify(struct store *st, const char *const *payloads, int n);
int pg_listen_open(const struct store_opts *opts, struct store_listener **out);
int pg_listen_fd(struct store_listener *l);
int pg_listen_read(struct store_listener *l, void (*fn)(void *ctx, const char *payload), void *ctx);
void pg_listen_close(struct store_listener *l);
/* The channel every node listens on is this + ":" + its schema. */
#define PG_NOTIFY_CHANNEL "baton"

/* Queue limits, groups and rate window logs (pg_groups.c); see store.h. */
struct queue_limits;
struct group_rec;
/* The counts of one queue that the transaction has not written yet: those of
 * finished operations, and those of the running one (op_*). */
struct pg_qdelta {
        char *tenant;
        char *queue;
        int64_t depth, running, op_depth, op_running;
};
int pg_qlim_get(struct store *st, const char *tenant, const char *queue, bool lock,
                struct queue_limits *out);
int pg_qlim_put(struct store *st, const struct queue_limits *q);
int pg_qlim_add(struct store *st, const char *tenant, const char *queue, int64_t depth_delta,
                int64_t running_delta);
int pg_group_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                 bool lock, struct group_rec *out);
int pg_group_put(struct store *st, const struct group_rec *g);
int pg_group_delete(struct store *st, const char *tenant, const char *queue, const char *grp);
int pg_group_note_ready(struct store *st, const char *tenant, const char *queue, const char *grp,
                        int prio);
int pg_group_pick(struct store *st, const char *tenant, const char *queue, int max,
                  struct group_rec **out, int *n_out);
int pg_group_unblock(struct store *st, const char *tenant, const char *queue, int64_t now_ms,
                     int64_t gc, bool all);
int pg_group_next_until(struct store *st, const char *tenant, const char *queue, int64_t *at_ms);
int pg_group_ready_many(struct store *st, const char *tenant, const char *queue,
                        const char *const *grps, int n_grps, int per, int64_t *ids, int *prios,
                        int *n_out, bool *busy);
int pg_rate_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                int64_t seq, int64_t *at_ms);
int pg_rate_put(struct store *st, const char *tenant, const char *queue, const char *grp,
                int64_t seq, int64_t at_ms, int64_t keep_from);
/* The statements of pg_groups.c, for the plan checks. */
extern const struct pg_stmt *const pg_groups_stmts[];
extern const int pg_groups_stmts_n;

/* The cron statements, for the plan checks. */
extern const struct pg_stmt *const pg_cron_stmts[];
extern const int pg_cron_stmts_n;

#endif
