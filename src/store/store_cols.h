/*
 * store_cols.h: what the SQLite and PostgreSQL backends share about rows,
 * written once: the columns of every record the store reads and writes (the
 * job row and the small records of store.h), their SQL column lists, the
 * generic reading of a row into a record and binding of a record's fields, and
 * the typed argument lists of statements. Each backend supplies only how it
 * reads one column of its current row (struct store_row) and binds the next
 * parameter (struct store_binder); everything above that is here, so that a
 * column is added in one table, in both migrations, and nowhere else.
 *
 * Workload: every statement of both backends binds and reads through these,
 * the job row on the hot path (an indirect call per column, small beside the
 * statement itself). Assumptions: the SQL column lists below are in the order
 * of the tables (store_rowdefs_agree checks it), reads return a record's
 * columns from column 0, and a record's text fields are malloc'd strings owned
 * by the record (freed by its *_free function of store.h).
 */
#ifndef BATON_STORE_STORE_COLS_H
#define BATON_STORE_STORE_COLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct buf;

/* How a field is stored. The _OPT kinds store a "none" value as SQL NULL. */
enum store_col_kind {
        COL_TEXT,    /* char *; NULL as SQL NULL */
        COL_I64,     /* int64_t */
        COL_INT,     /* int */
        COL_BOOL,    /* bool, stored 0 or 1 */
        COL_U32,     /* uint32_t (a key's scopes) */
        COL_INT_OPT, /* int; -1 as SQL NULL (a group's head) */
        COL_I64_OPT, /* int64_t; 0 as SQL NULL (a manual run's scheduled_at) */
        COL_NODE,    /* char[STORE_NODE_MAX + 1] (the lease holder); "" for NULL */
};

struct store_col {
        const char *name;
        int kind;   /* enum store_col_kind */
        size_t off; /* of the field in its record */
};

/* The columns job_update writes, in binding order; job_insert writes tenant
 * and created_at first, then these. */
extern const struct store_col store_job_cols[];
extern const int store_job_ncols;

/* How many columns job_update_run writes (store_cols.c names them: the
 * fields an attempt's run changes). */
extern const int store_job_nrun;
/* The name of a column outside the run columns that differs between the
 * stored row and j, NULL when none does: what a job_update_run would lose
 * (the debug builds' check of every such write). */
const char *store_job_run_only(const struct job *stored, const struct job *j, bool with_worker);

#define STORE_JOB_READ_FIXED 3   /* id, tenant, created_at precede the columns in reads */
#define STORE_JOB_COL_PRIORITY 3 /* store_job_cols[3] is "priority" */

/* ---- the backends' side: reading a column, binding a parameter ---- */

/* The current row of a backend's result: res and row are the backend's
 * (a sqlite3_stmt, or a PGresult and a row number). i64 reads SQL NULL as 0;
 * text copies a column into *dst (NULL for SQL NULL), owned by the caller. */
struct store_row {
        const void *res;
        int row;
        int64_t (*i64)(const struct store_row *r, int col);
        bool (*is_null)(const struct store_row *r, int col);
        int (*text)(const struct store_row *r, int col, char **dst);
};

/* Binds the next parameter of a statement (dst: the backend's statement or
 * parameter list; next: the parameter's number, from 1). text binds SQL NULL
 * for NULL. The strings must outlive the statement's execution. */
struct store_binder {
        void *dst;
        int next;
        void (*text)(struct store_binder *b, const char *v);
        void (*i64)(struct store_binder *b, int64_t v);
};

/* ---- statement arguments ---- */

/* One argument of a statement: text (NULL: SQL NULL) or an integer. */
struct store_arg {
        const char *text;
        int64_t i64;
        bool is_text;
};

static inline struct store_arg store_arg_text(const char *v)
{
        return (struct store_arg){v, 0, true};
}

static inline struct store_arg store_arg_i64(int64_t v)
{
        return (struct store_arg){NULL, v, false};
}

/* SA(x): the argument x, text for a string and an integer for anything else
 * (a pointer that is not a string does not compile). SA_NULL: SQL NULL. */
#define SA(x)                                                                                      \
        _Generic((x), char *: store_arg_text, const char *: store_arg_text,                        \
                 default: store_arg_i64)(x)
#define SA_NULL store_arg_text(NULL)
/* STORE_ARGS(SA(a), SA(b), ...): the count and the array of a statement's
 * arguments, for the backends' bind helpers (sqlite_stmt, pg_args). */
#define STORE_ARGS(...)                                                                            \
        (int)(sizeof((struct store_arg[]){__VA_ARGS__}) / sizeof(struct store_arg)),               \
            (const struct store_arg[])                                                             \
        {                                                                                          \
                __VA_ARGS__                                                                        \
        }

/* Binds a[0..n) as the next parameters. */
void store_bind_args(struct store_binder *b, int n, const struct store_arg *a);

/* ---- records ---- */

/* How a record maps onto the columns of a row: cols[0..ncols) are read from
 * column 0 on and bound in that order, unless read reads the record itself
 * or bind binds its write (where that is not simply every column). release
 * frees the strings of a record (store.h's *_free). sql is the column list of
 * the statements, in table order. */
struct store_rowdef {
        const struct store_col *cols;
        int ncols;
        size_t size;
        const char *sql;
        int (*read)(const struct store_row *r, void *rec);
        void (*bind)(struct store_binder *b, const void *rec);
        void (*release)(void *rec);
};

extern const struct store_rowdef store_job_row, store_idem_row, store_queue_row, store_key_row,
    store_audit_row, store_timer_row, store_flow_row, store_cron_row, store_run_row,
    store_group_row, store_qlim_row, store_lease_row, store_worker_row, store_session_row,
    store_event_row;

/* Fills *rec (size d->size; its old content is not freed) from the current
 * row of r. On success the caller owns the record's strings (d->release);
 * on failure none are left and *rec is zeroed. */
int store_read(const struct store_row *r, const struct store_rowdef *d, void *rec);
/* Binds the fields of columns from..to-1 of d of rec as the next parameters. */
void store_bind_cols(struct store_binder *b, const struct store_rowdef *d, int from, int to,
                     const void *rec);
/* Binds rec's write: d->bind, or every column of d. The writes that bind
 * themselves: a job's (the columns of store_job_cols, without id, tenant or
 * created_at), a timer's (a due_at of 0 is its fire_at), a schedule's (a
 * NULL spec is "{}"), and queue limits' (the settings: every column before
 * the counters, the backoff type -1 when unset). */
void store_bind_row(struct store_binder *b, const struct store_rowdef *d, const void *rec);
/* Binds j's run columns (store_job_nrun of them, one fewer without the
 * worker: job_update_settle) as the next parameters. */
void store_bind_job_run(struct store_binder *b, const struct job *j, bool with_worker);
/* True when every rowdef's sql names its columns in table order, and the
 * run columns of job_update_run are where their names say (asserted when a
 * backend opens). */
bool store_rowdefs_agree(void);

/* Binds the writes that are neither one record's columns nor a range of
 * them: an audit row (at .. detail, then for a refusal its bucket and n, at
 * least 1); a key's update (id, then what may change: from name to scopes and
 * from expires_at on); a run's update (tenant, id, job_id, status, reason,
 * fired_at). */
void store_bind_audit(struct store_binder *b, const struct audit_rec *a);
void store_bind_key_update(struct store_binder *b, const struct key_rec *k);
void store_bind_run_update(struct store_binder *b, const struct cron_run *r);

/* ---- list filters and the job statements' SQL ----
 *
 * The list statements of both backends number their parameters in binding
 * order: a statement names only the filters it uses. mark is the dialect's
 * parameter sign ('?' SQLite, '$' PostgreSQL). The builders append to b and
 * return 0 or BATON_ETOOBIG. */

enum { STORE_AF_TENANT = 1, STORE_AF_ACTION = 2, STORE_AF_KEY = 4 };
#define STORE_LIST_VARIANTS 8 /* filter bit combinations of the audit list */

/* Binds a job_list filter: tenant, each filter set (in the order of
 * store_build_job_where), the cursor and limit. */
void store_bind_job_filter(struct store_binder *b, const struct job_filter *f);
/* The index that serves f's job_list: the most selective filter's (one
 * that ends in id, so the order and the cursor come from it; the other
 * filters are checked row by row), job_tenant when only time bounds or
 * nothing is set. SQLite reads through it (INDEXED BY); the plan checks of
 * both backends expect it. */
const char *store_job_list_index(const struct job_filter *f);
/* The bits of an audit_list filter; binds tenant, action and key_id (those
 * set), after_id and limit. */
int store_audit_filter_bits(const struct audit_filter *f);
void store_bind_audit_filter(struct store_binder *b, const struct audit_filter *f);
/* The audit_list variant of bits: the filters' equality terms, each served
 * by an index that ends in id, so the cursor and the order come from it. */
int store_build_audit_list(struct buf *b, int bits, char mark);
/* The job_list WHERE terms after "WHERE ": tenant, the filters f sets, the
 * cursor (id > or, desc, id <), then " ORDER BY id[ DESC] LIMIT <mark>n";
 * *n gets the number of the next parameter (the limit's + 1). */
int store_build_job_where(struct buf *b, const struct job_filter *f, char mark, int *n);

/* Sample filters of job_list for the plan checks of both backends: each
 * filter alone, in both orders, and combinations. uses: the index the plan
 * must read through on every backend, NULL when a backend may choose among
 * the filters' indexes (then it must still search one, never scan or sort). */
struct store_list_sample {
        const char *name;
        struct job_filter f;
        const char *uses;
};
extern const struct store_list_sample store_list_samples[];
extern const int store_list_nsamples;

/* The job statements' common parts: "SELECT id, tenant, created_at, <the
 * columns>" (each name after prefix, "" or a table alias such as "j.");
 * ", <the columns>" alone; the insert of tenant, created_at and the columns
 * (with_id: id first), "INSERT INTO jobs (...) VALUES (...)"; the update of
 * the columns, "UPDATE jobs SET ... WHERE id = <mark>1". */
int store_build_job_select(struct buf *b, const char *prefix);
int store_build_job_cols(struct buf *b, const char *prefix);
int store_build_job_insert(struct buf *b, char mark, bool with_id);
int store_build_job_update(struct buf *b, char mark);
/* "UPDATE jobs SET <the run columns> WHERE id = <mark>1" (job_update_run);
 * without worker among them when !with_worker (job_update_settle). */
int store_build_job_update_run(struct buf *b, char mark, bool with_worker);

/* ---- per-row callbacks of the backends' row loops (sqlite_each, pg_each) ----
 *
 * Each takes its ctx and row i of a read, and returns 0 to go on, 1 to stop
 * after this row, or an error. */

/* The first row: a record of d into out, or (d NULL) its column 0 into the
 * int64_t out. */
struct store_first {
        const struct store_rowdef *d;
        void *out;
};
int store_row_first(void *ctx, const struct store_row *r, int i);

/* Row i's column 0 goes to ids[i], column 1 to second[i] or prios[i] (when
 * set). */
struct store_ids {
        int64_t *ids;
        int64_t *second;
        int *prios;
};
int store_row_ids(void *ctx, const struct store_row *r, int i);

/* Appends the row as a record of d to a growing array; store_recs_end hands
 * the array to *out and *n_out (owned by the caller, freed with the type's
 * *_recs_free) when rc is 0, and frees it otherwise (*out NULL, *n_out 0). */
struct store_recs {
        const struct store_rowdef *d;
        char *v;
        int n, cap;
};
int store_row_rec(void *ctx, const struct store_row *r, int i);
int store_recs_end(struct store_recs *a, int rc, void *out, int *n_out);

/* Appends the row as a job to vec (owned by the caller, job_vec_free, also
 * after a failure); with bytes_max, stops after the row that takes the jobs'
 * job_wire_bytes past it (store.h, job_filter). */
struct store_jobs {
        struct job_vec *vec;
        size_t bytes_max, bytes;
};
int store_row_job(void *ctx, const struct store_row *r, int i);

/* A (state, count) row of the queue_counts statement, added to the struct
 * queue_counts ctx. */
int store_row_state(void *ctx, const struct store_row *r, int i);
/* Column 0 as an instant (store_deadline_col) into the int64_t ctx. */
int store_row_instant(void *ctx, const struct store_row *r, int i);

/* Reading a stats series (store_ops.stats_range) in both backends: the
 * steps out[0..n) from from_ms, step_ms apart. store_stats_minute folds one
 * row (at_ms, STORE_STATS_SUMS) into its step, store_stats_mark one sampled
 * minute (at_ms) whose queues had no gauge row: those count 0. */
struct store_stats_read {
        int64_t from_ms;
        int64_t step_ms;
        int n;
        struct stats_point *out;
};
void store_stats_init(struct store_stats_read *a);
int store_stats_minute(void *ctx, const struct store_row *r, int i);
int store_stats_mark(void *ctx, const struct store_row *r, int i);

/* ---- reads both backends answer alike ---- */

/* Column i of row r as an instant to act on: 0 for SQL NULL (nothing to do);
 * a stored instant of 0 or less is still something to do, so it reads as 1
 * (long past) rather than "nothing". */
int64_t store_deadline_col(const struct store_row *r, int i);
/* Fills *out from the row of the deadlines statement (the same columns in
 * both backends: run_at, lease_until, completed, dead, cancelled, idempotency
 * expiry, a dep_work row, audit, workers' last_seen). */
void store_read_deadlines(const struct store_row *r, struct store_deadlines *out);

/* ---- SQL column lists (both dialects use the same names) ---- */

/* An idempotency record, a queue and a flow, in the order of reads and of
 * their writes' binds (a flow's insert: all but id). */
#define STORE_IDEM_COLS "tenant, key, job_id, payload_hash, expires_at"
#define STORE_QUEUE_COLS "tenant, name, paused, created_at, updated_at"
#define STORE_FLOW_COLS "id, tenant, created_at, request_id"
/* A worker row (version 14) in the order of reads. */
#define STORE_WORKER_COLS                                                                          \
        "tenant, id, info, queues, first_seen, last_seen, period_ms, completed, failed"
/* A session row (version 15) in the order of reads and of session_insert's
 * binds. */
#define STORE_SESSION_COLS "id, csrf, key_id, key_digest, tenant, created_at, expires_at"
/* An event row (version 16) in the order of reads; inserts bind all but id. */
#define STORE_EVENT_COLS "id, tenant, type, at, kind, subject, queue, data"
/* A key row in the order of reads and of key_insert's binds. */
#define STORE_KEY_COLS                                                                             \
        "id, tenant, name, digest, prev_digest, prev_until, scopes, created_at, expires_at,"       \
        " revoked_at, rotated_at, rate_max, rate_per_ms, created_by"
/* An audit row in the order of reads; audit_insert writes all but id and n. */
#define STORE_AUDIT_COLS                                                                           \
        "id, at, key_id, tenant, action, target, request_id, status, code, detail, n"
/* A timer row in the order of reads and of timer_put's binds. */
#define STORE_TIMER_COLS                                                                           \
        "tenant, key, version, state, fire_at, queue, type, payload, priority, max_attempts,"      \
        " backoff_type, backoff_base_ms, backoff_max_ms, lease_ms, request_id, job_id, fired_at,"  \
        " created_at, updated_at, grp, due_at, deferred"
/* The columns of a queue_limits row that qlim_put writes, in the order of its
 * binds and of reads: everything but the counters. */
#define STORE_QLIM_SET_COLS                                                                        \
        "tenant, queue, concurrency, rate_max, rate_per_ms, max_depth, group_concurrency,"         \
        " group_rate_max, group_rate_per_ms, def_max_attempts, def_lease_ms, def_backoff_type,"    \
        " def_backoff_base_ms, def_backoff_max_ms, start_seq, serve_seq, nogroup_served,"          \
        " updated_at, ret_completed_ms, ret_dead_ms, ret_cancelled_ms, def_timeout_ms,"            \
        " events_off"
/* qlim_put's upsert: every setting of the row it finds is replaced. */
#define STORE_QLIM_UPSERT                                                                          \
        " ON CONFLICT (tenant, queue) DO UPDATE SET concurrency = excluded.concurrency,"           \
        " rate_max = excluded.rate_max, rate_per_ms = excluded.rate_per_ms,"                       \
        " max_depth = excluded.max_depth, group_concurrency = excluded.group_concurrency,"         \
        " group_rate_max = excluded.group_rate_max,"                                               \
        " group_rate_per_ms = excluded.group_rate_per_ms,"                                         \
        " def_max_attempts = excluded.def_max_attempts, def_lease_ms = excluded.def_lease_ms,"     \
        " def_backoff_type = excluded.def_backoff_type,"                                           \
        " def_backoff_base_ms = excluded.def_backoff_base_ms,"                                     \
        " def_backoff_max_ms = excluded.def_backoff_max_ms,"                                       \
        " start_seq = excluded.start_seq, serve_seq = excluded.serve_seq,"                         \
        " nogroup_served = excluded.nogroup_served, updated_at = excluded.updated_at,"             \
        " ret_completed_ms = excluded.ret_completed_ms, ret_dead_ms = excluded.ret_dead_ms,"       \
        " ret_cancelled_ms = excluded.ret_cancelled_ms,"                                           \
        " def_timeout_ms = excluded.def_timeout_ms, events_off = excluded.events_off"
/* A queue_limits row with a retention of its own (the qlim_retention index's
 * term, which the statements over it repeat). */
#define STORE_RET_ANY "(ret_completed_ms > 0 OR ret_dead_ms > 0 OR ret_cancelled_ms > 0)"
/* The queue's own retention of ended state ?1 or $1 (0 = none), in a
 * statement that names the queue_limits row q. */
#define STORE_RET_OF(p)                                                                            \
        "(CASE " p " WHEN " JOB_SQL_COMPLETED " THEN q.ret_completed_ms WHEN " JOB_SQL_DEAD        \
        " THEN q.ret_dead_ms ELSE q.ret_cancelled_ms END)"
/* A job_groups row in the order of reads and of group_put's binds. */
#define STORE_GROUP_COLS                                                                           \
        "tenant, queue, grp, running, head, served, blocked, until_at, start_seq, last_start"
/* A cron schedule in the order of reads and of cron_put's binds. */
#define STORE_SCHED_COLS                                                                           \
        "tenant, key, spec, enabled, paused, pause_note, next_fire_at, due_at, buffered_at,"       \
        " buffered_run_id, last_run_id, last_job_id, version, created_at, updated_at"
/* A cron run in the order of reads; run_insert writes all but id. */
#define STORE_RUN_COLS                                                                             \
        "id, tenant, key, scheduled_at, fired_at, trigger, job_id, status, reason, requested_by,"  \
        " payload"
/* The lease row in the order of reads and of the lease write's binds. */
#define STORE_LEASE_COLS "node, epoch, lease_until, heartbeat_at, lag_ms"

/* The stats table's counters, in enum stats_counter's order, and their
 * per-minute sums (every node's row of a queue, or every queue's of a
 * tenant) with the gauges summed likewise. */
#define STORE_STATS_COLS "enqueued, claimed, completed, retried, dead, cancelled, expired"
#define STORE_STATS_SUMS                                                                           \
        "SUM(enqueued), SUM(claimed), SUM(completed), SUM(retried), SUM(dead), SUM(cancelled),"    \
        " SUM(expired), SUM(depth), SUM(running)"

#endif
