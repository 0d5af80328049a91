/*
 * sqlite_internal.h: what the files of the SQLite backend share and nothing
 * else includes: struct store, the ids and definitions of the statements that
 * sqlite.c prepares at open, the statement helpers, and the operations each
 * per-domain file contributes to store_sqlite_ops (assembled in sqlite.c).
 * Assumptions: one connection used only by the store thread (see sqlite.c).
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
        S_JOB_FIND_KEY,
        S_JOB_DUE,
        S_JOB_EXPIRED,
        S_JOB_STATE_IDS,
        S_JOB_PURGE,
        S_JOB_DELETE,
        S_DEADLINES,
        S_IDEM_GET,
        S_IDEM_PUT,
        S_IDEM_PURGE,
        S_QUEUE_ENSURE,
        S_QUEUE_TOTAL_ADD,
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
        /* version 9: the dependency cascade's work list */
        S_DEP_WORK_PUT,
        S_DEP_WORK_NEXT,
        S_DEP_WORK_ADVANCE,
        S_DEP_WORK_DONE,
        S_LIST, /* first of the job_list variants, one per combination of filters */
        S_AUDIT_LIST = S_LIST + 8, /* first of the audit_list variants, likewise */
        S_COUNT = S_AUDIT_LIST + 8
};

/* job_list filter bits; a variant's statement is S_LIST + bits. */
enum { LF_QUEUE = 1, LF_STATE = 2, LF_TYPE = 4 };
/* audit_list filter bits; a variant's statement is S_AUDIT_LIST + bits. */
enum { AF_TENANT = 1, AF_ACTION = 2, AF_KEY = 4 };

struct stmt_def {
        const char *name;
        const char *sql; /* NULL: built at open from job_cols */
        bool plan;       /* a query whose plan sqlite_check_plans verifies */
        /* Space-separated indexes the plan must use ("rowid" for the primary
         * key). A plan may walk (SCAN) only these, and only in their order under
         * a LIMIT, as the deadline lookups do. NULL: any index, no SCAN. */
        const char *uses;
};

/* Every fixed statement (indexed by enum stmt_id below S_LIST), in sqlite.c. */
extern const struct stmt_def sqlite_stmt_defs[S_LIST];

struct store {
        sqlite3 *db;
        /* begin succeeded and no commit or rollback has ended the transaction. If
         * SQLite rolled it back on its own (I/O error, disk full), later savepoints
         * and the commit must fail rather than run in autocommit mode. */
        bool in_txn;
        sqlite3_stmt *stmt[S_COUNT];
        sqlite3_stmt *cron_stmt[SQLITE_CRON_STMT_MAX]; /* sqlite_cron.c's, NULL until used */
};

/* ---- errors and statement helpers (sqlite.c; each is described at its
 * definition) ---- */

int sqlite_fail(struct store *st, int rc, const char *what);
void sqlite_finish(sqlite3_stmt *s);
int sqlite_run(struct store *st, sqlite3_stmt *s, const char *what);
void sqlite_bind_text(sqlite3_stmt *s, int i, const char *v);
int sqlite_read_text(sqlite3_stmt *s, int i, char **dst);
int sqlite_read_ids(struct store *st, sqlite3_stmt *s, int max, int64_t *ids, int *n_out,
                    const char *what);
int64_t sqlite_deadline_col(sqlite3_stmt *s, int i);

/* ---- job rows (sqlite_jobs.c) ---- */

/* Appends the SQL of a job statement (S_JOB_INSERT, S_JOB_UPDATE, S_JOB_GET or
 * a job_list variant from S_LIST) to b. */
int sqlite_build_job_sql(struct buf *b, int id);
int sqlite_job_insert(struct store *st, struct job *j);
int sqlite_job_get(struct store *st, const char *tenant, int64_t id, struct job *out);
int sqlite_job_update(struct store *st, const struct job *j);
int sqlite_job_find_key(struct store *st, const char *tenant, const char *queue, const char *key,
                        int64_t *id_out);
int sqlite_job_list(struct store *st, const struct job_filter *f, struct job_vec *out);
int sqlite_job_due_ids(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out);
int sqlite_job_expired_ids(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out);
int sqlite_job_state_ids(struct store *st, const char *tenant, const char *queue, int state,
                         int64_t after_id, int max, int64_t *ids, int *n_out);
int sqlite_job_purge(struct store *st, int state, int64_t before_ms, int max, int *n_out);
int sqlite_job_delete(struct store *st, const char *tenant, int64_t id);
int sqlite_deadlines(struct store *st, struct store_deadlines *out);
int sqlite_job_get_many(struct store *st, const char *tenant, const int64_t *ids, int n,
                        struct job_vec *out);

/* The operations below are those of store_sqlite_ops under the same name
 * without the sqlite_ prefix; store.h describes each. */

/* ---- idempotency, queues, tenants, keys, audit (sqlite_meta.c) ---- */

int sqlite_idem_get(struct store *st, const char *tenant, const char *key, struct idem_rec *out);
int sqlite_idem_put(struct store *st, const struct idem_rec *rec);
int sqlite_idem_take(struct store *st, const struct idem_rec *rec, int64_t now_ms,
                     struct idem_rec *held);
int sqlite_idem_swap(struct store *st, const struct idem_rec *rec, int64_t old_job_id);
int sqlite_idem_purge(struct store *st, int64_t before_ms, int max, int *n_out);
int sqlite_queue_ensure(struct store *st, const char *tenant, const char *name, int64_t now_ms);
int sqlite_queue_total(struct store *st, const char *tenant, int64_t *n_out);
int sqlite_queue_get(struct store *st, const char *tenant, const char *name, struct queue_rec *out);
int sqlite_queue_put(struct store *st, const struct queue_rec *q);
int sqlite_queue_list(struct store *st, const char *tenant, const char *after, int limit,
                      struct queue_rec **out, int *n_out);
int sqlite_queue_counts(struct store *st, const char *tenant, const char *name,
                        struct queue_counts *out);
int sqlite_tenant_ensure(struct store *st, const char *name, int64_t now_ms);
int sqlite_key_insert(struct store *st, const struct key_rec *k);
int sqlite_key_get(struct store *st, const char *id, struct key_rec *out);
int sqlite_key_update(struct store *st, const struct key_rec *k);
int sqlite_key_list(struct store *st, const char *tenant, const char *after, int limit,
                    struct key_rec **out, int *n_out);
int sqlite_key_count(struct store *st, int64_t *n_out);
int sqlite_audit_purge(struct store *st, int64_t before_ms, int max, int *n_out);
int sqlite_audit_insert(struct store *st, struct audit_rec *r);
int sqlite_audit_list(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                      int *n_out);

/* ---- timers (sqlite_timers.c) ---- */

int sqlite_timer_get(struct store *st, const char *tenant, const char *key, struct timer_rec *out);
int sqlite_timer_put(struct store *st, const struct timer_rec *t);
int sqlite_timer_list(struct store *st, const char *tenant, const char *prefix, const char *after,
                      int limit, struct timer_rec **out, int *n_out);
int sqlite_timer_due(struct store *st, int64_t now_ms, int max, struct timer_rec **out, int *n_out);
int sqlite_timer_next(struct store *st, int64_t *at_ms_out);

/* ---- dependencies, flows, the dependency work list (sqlite_deps.c) ---- */

int sqlite_dep_insert(struct store *st, const char *tenant, int64_t parent_id, int64_t child_id);
int sqlite_dep_children(struct store *st, int64_t parent_id, int64_t after_id, int max,
                        int64_t *ids, int *n_out);
int sqlite_dep_work_put(struct store *st, int64_t job_id, int64_t after_id);
int sqlite_dep_work_next(struct store *st, int max, int64_t *ids, int64_t *afters, int *n_out);
int sqlite_dep_work_move(struct store *st, int64_t job_id, int64_t from_after, int64_t to_after);
int sqlite_flow_insert(struct store *st, struct flow_rec *f);
int sqlite_flow_get(struct store *st, const char *tenant, int64_t id, struct flow_rec *out);
int sqlite_flow_job_ids(struct store *st, const char *tenant, int64_t flow_id, int64_t after_id,
                        int max, int64_t *ids, int *n_out);

/* ---- queue limits, groups, rate windows (sqlite_groups.c) ---- */

int sqlite_qlim_get(struct store *st, const char *tenant, const char *queue, bool lock,
                    struct queue_limits *out);
int sqlite_qlim_put(struct store *st, const struct queue_limits *q);
int sqlite_qlim_add(struct store *st, const char *tenant, const char *queue, int64_t depth_delta,
                    int64_t running_delta);
int sqlite_group_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                     bool lock, struct group_rec *out);
int sqlite_group_put(struct store *st, const struct group_rec *g);
int sqlite_group_delete(struct store *st, const char *tenant, const char *queue, const char *grp);
int sqlite_group_note_ready(struct store *st, const char *tenant, const char *queue,
                            const char *grp, int prio);
int sqlite_group_pick(struct store *st, const char *tenant, const char *queue, int max,
                      struct group_rec **out, int *n_out);
int sqlite_group_unblock(struct store *st, const char *tenant, const char *queue, int64_t now_ms,
                         int64_t gc, bool all);
int sqlite_group_next_until(struct store *st, const char *tenant, const char *queue,
                            int64_t *at_ms);
int sqlite_group_ready_ids(struct store *st, const char *tenant, const char *queue, const char *grp,
                           int max, int64_t *ids, int *prios, int *n_out);
int sqlite_group_ready_many(struct store *st, const char *tenant, const char *queue,
                            const char *const *grps, int n_grps, int per, int64_t *ids, int *prios,
                            int *n_out, bool *busy);
int sqlite_rate_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                    int64_t seq, int64_t *at_ms);
int sqlite_rate_put(struct store *st, const char *tenant, const char *queue, const char *grp,
                    int64_t seq, int64_t at_ms, int64_t keep_from);

#endif
