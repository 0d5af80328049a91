/*
 * pg_workers.c: the worker registry of the PostgreSQL backend (struct
 * store_ops, version 14): one workers row per (tenant, worker id), shared by
 * every node, so a worker that claims on one node is listed by all of them.
 * Workload: core upserts a row at most once per second per worker and queue
 * on claims and heartbeats, and once per transaction when its counts change,
 * always as a deferred write (it cannot fail on data), so it costs no round
 * trip of its own; core writes a transaction's workers in (tenant, id) order,
 * so two nodes never wait on each other's worker rows in opposite orders.
 * Reads are operator requests. Assumes the single caller of the store
 * interface (the store thread).
 */
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "common/job_state.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

/* $4 is the queue claimed from (NULL: none), appended to the JSON array of
 * queues unless present or full ($9 names). */
static const struct pg_stmt
    S_WORKER_SEEN = {"pg_worker_seen",
                     "INSERT INTO workers (" STORE_WORKER_COLS ") VALUES ($1, $2, $3,"
                     " CASE WHEN $4::text IS NULL THEN '[]' ELSE jsonb_build_array($4::text)::text"
                     " END, $5, $5, $6, $7, $8)"
                     " ON CONFLICT (tenant, id) DO UPDATE SET"
                     " info = COALESCE(excluded.info, workers.info),"
                     " queues = CASE WHEN $4::text IS NULL"
                     " OR jsonb_array_length(workers.queues::jsonb) >= $9"
                     " OR workers.queues::jsonb ? $4::text THEN workers.queues"
                     " ELSE (workers.queues::jsonb || jsonb_build_array($4::text))::text END,"
                     " last_seen = GREATEST(workers.last_seen, excluded.last_seen),"
                     " period_ms = CASE WHEN excluded.period_ms > 0 THEN excluded.period_ms"
                     " ELSE workers.period_ms END,"
                     " completed = workers.completed + excluded.completed,"
                     " failed = workers.failed + excluded.failed"},
    S_WORKER_GET = {"pg_worker_get",
                    "SELECT " STORE_WORKER_COLS " FROM workers WHERE tenant = $1 AND id = $2"},
    S_WORKER_LIST = {"pg_worker_list", "SELECT " STORE_WORKER_COLS " FROM workers"
                                       " WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3"},
    S_WORKER_JOBS = {"pg_worker_jobs",
                     "SELECT id, lease_ms FROM jobs WHERE state = " JOB_SQL_RUNNING
                     " AND tenant = $1 AND worker = $2 AND lease_until > $3 ORDER BY id LIMIT $4"},
    S_WORKER_PURGE = {"pg_worker_purge",
                      "DELETE FROM workers WHERE (tenant, id) IN (SELECT tenant, id FROM workers"
                      " WHERE last_seen < $1 ORDER BY last_seen LIMIT $2)"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {
    &S_WORKER_GET,
    &S_WORKER_LIST,
    &S_WORKER_JOBS,
    &S_WORKER_PURGE,
};
const struct pg_stmt_list pg_workers_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

int pg_worker_seen(struct store *st, const struct worker_note *n)
{
        if (!n->tenant || !n->id)
                return BATON_EINVAL;
        return pg_defer_write(st, &S_WORKER_SEEN,
                              PG_ARGS(SA(n->tenant), SA(n->id), SA(n->info), SA(n->queue),
                                      SA(n->seen_ms), SA(n->period_ms), SA(n->completed),
                                      SA(n->failed), SA((int64_t)STORE_WORKER_QUEUES_MAX)));
}

/* The caller owns out's strings (worker_rec_free). */
int pg_worker_get(struct store *st, const char *tenant, const char *id, struct worker_rec *out)
{
        return pg_get_one(st, &S_WORKER_GET, PG_ARGS(SA(tenant), SA(id)), &store_worker_row, out);
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (worker_recs_free). Ids are never empty, so "" stands for "from the start". */
int pg_worker_list(struct store *st, const char *tenant, const char *after, int limit,
                   struct worker_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        return pg_collect(st, &S_WORKER_LIST,
                          PG_ARGS(SA(tenant), SA(after ? after : ""), SA(limit)), &store_worker_row,
                          out, n_out);
}

int pg_worker_jobs(struct store *st, const char *tenant, const char *worker, int64_t now_ms,
                   int max, int64_t *ids, int64_t *lease_ms, int *n_out)
{
        struct store_ids a = {ids, lease_ms, NULL};

        *n_out = 0;
        if (max <= 0)
                return 0;
        return pg_each(st, &S_WORKER_JOBS, PG_ARGS(SA(tenant), SA(worker), SA(now_ms), SA(max)),
                       max, store_row_ids, &a, n_out);
}

int pg_worker_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        return pg_purge(st, &S_WORKER_PURGE, PG_ARGS(SA(before_ms)), max, n_out);
}
