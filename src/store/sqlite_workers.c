/*
 * sqlite_workers.c: the worker registry of the SQLite backend (struct
 * store_ops, version 14): one workers row per (tenant, worker id), upserted
 * by what transactions learn of the worker (worker_seen), read by the
 * registry routes, and purged by the leader's retention. Workload: core
 * writes a row at most once per second per worker and queue on claims and
 * heartbeats, and once per transaction when its counts change; reads are
 * operator requests. Assumptions: calls come from the store thread inside a
 * transaction.
 */
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

int sqlite_worker_seen(struct store *st, const struct worker_note *n)
{
        if (!n->tenant || !n->id)
                return BATON_EINVAL;
        /* worker_flush writes outside every operation: after SQLite rolled
         * the transaction back on its own, autocommit would commit this row
         * alone, for a batch answered 503. */
        if (!sqlite_txn_open(st)) {
                log_error("store", "worker_seen: no transaction is open");
                return BATON_ESTORE;
        }
        return sqlite_run(st,
                          SQLITE_STMT(st, S_WORKER_SEEN, SA(n->tenant), SA(n->id), SA(n->info),
                                      SA(n->queue), SA(n->seen_ms), SA(n->period_ms),
                                      SA(n->completed), SA(n->failed),
                                      SA((int64_t)STORE_WORKER_QUEUES_MAX)),
                          NULL);
}

/* The caller owns out's strings (worker_rec_free). */
int sqlite_worker_get(struct store *st, const char *tenant, const char *id, struct worker_rec *out)
{
        return sqlite_one(st, SQLITE_STMT(st, S_WORKER_GET, SA(tenant), SA(id)), &store_worker_row,
                          out);
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (worker_recs_free). Ids are never empty, so "" stands for "from the start". */
int sqlite_worker_list(struct store *st, const char *tenant, const char *after, int limit,
                       struct worker_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        return sqlite_rows(
            st, SQLITE_STMT(st, S_WORKER_LIST, SA(tenant), SA(after ? after : ""), SA(limit)),
            limit, &store_worker_row, out, n_out);
}

int sqlite_worker_jobs(struct store *st, const char *tenant, const char *worker, int64_t now_ms,
                       int max, int64_t *ids, int64_t *lease_ms, int *n_out)
{
        struct store_ids a = {ids, lease_ms, NULL};

        *n_out = 0;
        if (max <= 0)
                return 0;
        return sqlite_each(
            st, SQLITE_STMT(st, S_WORKER_JOBS, SA(tenant), SA(worker), SA(now_ms), SA(max)), max,
            store_row_ids, &a, n_out);
}

int sqlite_worker_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        return sqlite_purge(st, SQLITE_STMT(st, S_WORKER_PURGE, SA(before_ms), SA(max)), max,
                            n_out);
}
