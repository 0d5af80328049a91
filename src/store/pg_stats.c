/*
 * pg_stats.c: the stats series of the PostgreSQL backend (struct store_ops,
 * version 19), shared by every node: each node adds its transactions'
 * counts to rows of its own (tenant, queue, minute, node), so nodes never
 * wait on each other's counters, and the leader samples the gauges. The
 * additions are deferred writes (an upsert cannot fail on data), so they
 * cost no round trip of their own. Workload and layout as sqlite_stats.c.
 * Assumes the single caller of the store interface (the store thread).
 */
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

static const struct pg_stmt
    S_STATS_ADD = {"pg_stats_add",
                   "INSERT INTO stats (tenant, queue, at_ms, node, " STORE_STATS_COLS ")"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                   " ON CONFLICT (tenant, queue, at_ms, node) DO UPDATE SET"
                   " enqueued = stats.enqueued + excluded.enqueued,"
                   " claimed = stats.claimed + excluded.claimed,"
                   " completed = stats.completed + excluded.completed,"
                   " retried = stats.retried + excluded.retried,"
                   " dead = stats.dead + excluded.dead,"
                   " cancelled = stats.cancelled + excluded.cancelled,"
                   " expired = stats.expired + excluded.expired"},
    S_STATS_UNSAMPLE = {"pg_stats_unsample",
                        "UPDATE stats SET depth = NULL, running = NULL"
                        " WHERE at_ms = $1 AND node = $2 AND depth IS NOT NULL"},
    /* One statement: the queues' gauges (their counters are spread over
     * queue_counts' shards) and the minute's mark (with how many queues had
     * gauges). */
    S_STATS_SAMPLE = {"pg_stats_sample",
                      "WITH g AS (INSERT INTO stats (tenant, queue, at_ms, node, depth, running)"
                      " SELECT tenant, queue, $1, $2, SUM(depth), SUM(running) FROM queue_counts"
                      " GROUP BY tenant, queue HAVING SUM(depth) > 0 OR SUM(running) > 0"
                      " ON CONFLICT (tenant, queue, at_ms, node) DO UPDATE SET"
                      " depth = excluded.depth, running = excluded.running RETURNING 1)"
                      " INSERT INTO stats (tenant, queue, at_ms, node, depth, running)"
                      " SELECT '', '', $1, $2, COUNT(*), 0 FROM g"
                      " ON CONFLICT (tenant, queue, at_ms, node) DO UPDATE SET"
                      " depth = excluded.depth RETURNING depth"},
    S_STATS_QUEUE = {"pg_stats_queue",
                     "SELECT at_ms, " STORE_STATS_SUMS " FROM stats WHERE tenant = $1"
                     " AND queue = $2 AND at_ms >= $3 AND at_ms < $4 GROUP BY at_ms"},
    S_STATS_TENANT = {"pg_stats_tenant",
                      "SELECT at_ms, " STORE_STATS_SUMS " FROM stats"
                      " WHERE tenant = $1 AND at_ms >= $2 AND at_ms < $3 GROUP BY at_ms"},
    S_STATS_MARKS = {"pg_stats_marks",
                     "SELECT DISTINCT at_ms FROM stats WHERE tenant = '' AND queue = ''"
                     " AND at_ms >= $1 AND at_ms < $2"},
    S_STATS_PURGE = {"pg_stats_purge",
                     "DELETE FROM stats WHERE (tenant, queue, at_ms, node) IN (SELECT tenant,"
                     " queue, at_ms, node FROM stats WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {
    &S_STATS_QUEUE,
    &S_STATS_TENANT,
    &S_STATS_MARKS,
    &S_STATS_PURGE,
};
const struct pg_stmt_list pg_stats_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

int pg_stats_add(struct store *st, const char *tenant, const char *queue, const char *node,
                 int64_t at_ms, const int64_t *n)
{
        if (!tenant || !queue || !node)
                return BATON_EINVAL;
        return pg_defer_write(
            st, &S_STATS_ADD,
            PG_ARGS(SA(tenant), SA(queue), SA(at_ms), SA(node), SA(n[STATS_ENQUEUED]),
                    SA(n[STATS_CLAIMED]), SA(n[STATS_COMPLETED]), SA(n[STATS_RETRIED]),
                    SA(n[STATS_DEAD]), SA(n[STATS_CANCELLED]), SA(n[STATS_EXPIRED])));
}

int pg_stats_sample(struct store *st, const char *node, int64_t at_ms, int *n_out)
{
        int64_t n = 0;
        int rc = pg_run(st, &S_STATS_UNSAMPLE, PG_ARGS(SA(at_ms), SA(node)), NULL);

        *n_out = 0;
        if (!rc)
                rc = pg_int(st, &S_STATS_SAMPLE, PG_ARGS(SA(at_ms), SA(node)), &n, NULL);
        if (!rc)
                *n_out = (int)n;
        return rc;
}

int pg_stats_range(struct store *st, const char *tenant, const char *queue, int64_t from_ms,
                   int64_t step_ms, int n, struct stats_point *out)
{
        struct store_stats_read a = {from_ms, step_ms, n, out};
        int64_t to_ms = from_ms + step_ms * n;
        int rc;

        if (!tenant || n < 1 || step_ms < 1)
                return BATON_EINVAL;
        store_stats_init(&a);
        if (queue)
                rc = pg_each(st, &S_STATS_QUEUE,
                             PG_ARGS(SA(tenant), SA(queue), SA(from_ms), SA(to_ms)), INT32_MAX,
                             store_stats_minute, &a, NULL);
        else
                rc = pg_each(st, &S_STATS_TENANT, PG_ARGS(SA(tenant), SA(from_ms), SA(to_ms)),
                             INT32_MAX, store_stats_minute, &a, NULL);
        if (!rc)
                rc = pg_each(st, &S_STATS_MARKS, PG_ARGS(SA(from_ms), SA(to_ms)), INT32_MAX,
                             store_stats_mark, &a, NULL);
        return rc;
}

int pg_stats_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        int64_t n = 0;
        int rc = max > 0 ? pg_run(st, &S_STATS_PURGE, PG_ARGS(SA(before_ms), SA(max)), &n) : 0;

        *n_out = rc ? 0 : (int)n;
        return rc;
}
