/*
 * sqlite_stats.c: the stats series of the SQLite backend (struct store_ops,
 * version 19): one row per (tenant, queue, minute, node) with the minute's
 * counters, added to by every transaction that counted something on the
 * queue (core/stats.c), and the gauges (depth, running) the leader samples
 * from queue_limits. Workload: one upsert per queue per store-thread batch;
 * one sample a minute; reads are dashboard requests of at most a few
 * thousand minutes. Assumptions: calls come from the store thread inside a
 * transaction; tenant '' is the minutes' sample marks (no tenant has that
 * name).
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

int sqlite_stats_add(struct store *st, const char *tenant, const char *queue, const char *node,
                     int64_t at_ms, const int64_t *n)
{
        if (!tenant || !queue || !node)
                return BATON_EINVAL;
        if (!sqlite_txn_open(st)) {
                log_error("store", "stats_add: no transaction is open");
                return BATON_ESTORE;
        }
        return sqlite_run(st,
                          SQLITE_STMT(st, S_STATS_ADD, SA(tenant), SA(queue), SA(at_ms), SA(node),
                                      SA(n[STATS_ENQUEUED]), SA(n[STATS_CLAIMED]),
                                      SA(n[STATS_COMPLETED]), SA(n[STATS_RETRIED]),
                                      SA(n[STATS_DEAD]), SA(n[STATS_CANCELLED]),
                                      SA(n[STATS_EXPIRED])),
                          NULL);
}

int sqlite_stats_sample(struct store *st, const char *node, int64_t at_ms, int *n_out)
{
        int64_t n = 0;
        int rc = sqlite_run(st, SQLITE_STMT(st, S_STATS_UNSAMPLE, SA(at_ms), SA(node)), NULL);

        *n_out = 0;
        if (!rc)
                rc = sqlite_run(st, SQLITE_STMT(st, S_STATS_SAMPLE, SA(at_ms), SA(node)), &n);
        if (!rc)
                rc =
                    sqlite_run(st, SQLITE_STMT(st, S_STATS_MARK, SA(at_ms), SA(node), SA(n)), NULL);
        if (!rc)
                *n_out = (int)n;
        return rc;
}

int sqlite_stats_range(struct store *st, const char *tenant, const char *queue, int64_t from_ms,
                       int64_t step_ms, int n, struct stats_point *out)
{
        struct store_stats_read a = {from_ms, step_ms, n, out};
        int64_t to_ms = from_ms + step_ms * n;
        sqlite3_stmt *s;
        int rc;

        if (!tenant || n < 1 || step_ms < 1)
                return BATON_EINVAL;
        store_stats_init(&a);
        s = queue ? SQLITE_STMT(st, S_STATS_QUEUE, SA(tenant), SA(queue), SA(from_ms), SA(to_ms))
                  : SQLITE_STMT(st, S_STATS_TENANT, SA(tenant), SA(from_ms), SA(to_ms));
        rc = sqlite_each(st, s, INT_MAX, store_stats_minute, &a, NULL);
        if (!rc)
                rc = sqlite_each(st, SQLITE_STMT(st, S_STATS_MARKS, SA(from_ms), SA(to_ms)),
                                 INT_MAX, store_stats_mark, &a, NULL);
        return rc;
}

int sqlite_stats_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        return sqlite_purge(st, SQLITE_STMT(st, S_STATS_PURGE, SA(before_ms), SA(max)), max, n_out);
}
