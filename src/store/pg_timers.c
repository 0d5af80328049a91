/*
 * pg_timers.c: durable timers in the PostgreSQL backend (struct store_ops:
 * timer_get, timer_put, timer_list, timer_due, timer_next). Split from pg.c.
 * Workload: a timer is written when it is set or fires (an upsert deferred
 * into the next round trip, so it never waits for an answer), and the leader
 * reads the due timers by due_at through an index. Times come from the
 * database clock (pg.c now_ms), so the clocks of the nodes do not matter.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

static const struct pg_stmt
    S_TIMER_GET = {"pg_timer_get",
                   "SELECT " STORE_TIMER_COLS " FROM timers WHERE tenant = $1 AND key = $2"},
    S_TIMER_PUT = {"pg_timer_put",
                   "INSERT INTO timers (" STORE_TIMER_COLS
                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                   " $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
                   " ON CONFLICT (tenant, key) DO UPDATE SET version = excluded.version,"
                   " state = excluded.state, fire_at = excluded.fire_at, queue = excluded.queue,"
                   " type = excluded.type, payload = excluded.payload,"
                   " priority = excluded.priority, max_attempts = excluded.max_attempts,"
                   " backoff_type = excluded.backoff_type,"
                   " backoff_base_ms = excluded.backoff_base_ms,"
                   " backoff_max_ms = excluded.backoff_max_ms, lease_ms = excluded.lease_ms,"
                   " request_id = excluded.request_id, job_id = excluded.job_id,"
                   " fired_at = excluded.fired_at, created_at = excluded.created_at,"
                   " updated_at = excluded.updated_at, grp = excluded.grp,"
                   " due_at = excluded.due_at, deferred = excluded.deferred"},
    S_TIMER_LIST = {"pg_timer_list",
                    "SELECT " STORE_TIMER_COLS " FROM timers WHERE tenant = $1 AND key > $2"
                    " AND key >= $3 AND key < $4 ORDER BY key LIMIT $5"},
    S_TIMER_DUE = {"pg_timer_due", "SELECT " STORE_TIMER_COLS " FROM timers WHERE state = 0"
                                   " AND due_at <= $1 ORDER BY due_at LIMIT $2"},
    S_TIMER_NEXT = {"pg_timer_next",
                    "SELECT due_at FROM timers WHERE state = 0 ORDER BY due_at LIMIT 1"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {
    &S_TIMER_GET,
    &S_TIMER_LIST,
    &S_TIMER_DUE,
    &S_TIMER_NEXT,
};
const struct pg_stmt_list pg_timers_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

/* ---- timers ---- */

int pg_timer_get(struct store *st, const char *tenant, const char *key, struct timer_rec *out)
{
        return pg_get_one(st, &S_TIMER_GET, PG_ARGS(SA(tenant), SA(key)), &store_timer_row, out);
}

/* An upsert whose values core has validated (state, priority), so it is
 * deferred: a leader tick that fires 1,000 timers sends their updates with
 * the next round trip instead of waiting for 1,000 round trips of its own. */
int pg_timer_put(struct store *st, const struct timer_rec *t)
{
        if (!t->tenant || !t->key || !t->queue || !t->type || !t->payload)
                return BATON_EINVAL;
        return pg_defer_write(st, &S_TIMER_PUT, PG_ROW(&store_timer_row, t));
}

int pg_timer_list(struct store *st, const char *tenant, const char *prefix, const char *after,
                  int limit, struct timer_rec **out, int *n_out)
{
        char *hi;
        int rc;

        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        prefix = prefix ? prefix : "";
        /* Keys are printable ASCII: every key that starts with prefix sorts
         * before prefix + 0x7f (the column's collation is "C"). */
        if (asprintf(&hi, "%s\x7f", prefix) < 0)
                return BATON_ENOMEM;

        rc = pg_collect(st, &S_TIMER_LIST,
                        PG_ARGS(SA(tenant), SA(after ? after : ""), SA(prefix), SA(hi), SA(limit)),
                        &store_timer_row, out, n_out);
        free(hi);
        return rc;
}

int pg_timer_due(struct store *st, int64_t now, int max, struct timer_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (max <= 0)
                return BATON_EINVAL;
        return pg_collect(st, &S_TIMER_DUE, PG_ARGS(SA(now), SA(max)), &store_timer_row, out,
                          n_out);
}

int pg_timer_next(struct store *st, int64_t *at_ms_out)
{
        return pg_int(st, &S_TIMER_NEXT, NULL, at_ms_out, NULL);
}
