/*
 * sqlite_cron.c: the cron operations of the SQLite backend (struct store_ops,
 * version 3): schedules in cron_schedules, runs in cron_runs (schema migration
 * 3). Kept apart from sqlite.c so the job hot path stays readable.
 *
 * Workload: a handful of statements per schedule fire and per cron API call.
 * A tick that fires 10,000 schedules runs tens of thousands of them, so they
 * are prepared once, at open, with every other statement of the backend
 * (sqlite_stmt_defs; preparing them every time took more than half of a
 * tick), and run through sqlite.c's statement helpers, which bind, step and
 * reset them, so no pointer into a caller's strings outlives the call.
 * Assumptions: as for every store operation, calls come from the store thread
 * inside a transaction.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

int sqlite_cron_put(struct store *st, const struct cron_rec *r)
{
        return sqlite_put(st, S_CRON_PUT, &store_cron_row, r);
}

int sqlite_cron_get(struct store *st, const char *tenant, const char *key, struct cron_rec *out)
{
        return sqlite_one(st, SQLITE_STMT(st, S_CRON_GET, SA(tenant), SA(key)), &store_cron_row,
                          out);
}

/* The schedule and its runs. */
int sqlite_cron_delete(struct store *st, const char *tenant, const char *key)
{
        int rc = sqlite_update(st, SQLITE_STMT(st, S_CRON_DELETE, SA(tenant), SA(key)));

        return rc ? rc
                  : sqlite_run(st, SQLITE_STMT(st, S_CRON_DELETE_RUNS, SA(tenant), SA(key)), NULL);
}

/* *out is a malloc'd array owned by the caller (cron_recs_free). */
int sqlite_cron_list(struct store *st, const char *tenant, const char *after, int limit,
                     struct cron_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (limit < 1 || !tenant)
                return BATON_EINVAL;
        return sqlite_rows(
            st, SQLITE_STMT(st, S_CRON_LIST, SA(tenant), SA(after ? after : ""), SA(limit)), limit,
            &store_cron_row, out, n_out);
}

int sqlite_cron_due(struct store *st, int64_t now_ms, int max, struct cron_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (max < 1)
                return BATON_EINVAL;
        return sqlite_rows(st, SQLITE_STMT(st, S_CRON_DUE, SA(now_ms), SA(max)), max,
                           &store_cron_row, out, n_out);
}

int sqlite_cron_next_due(struct store *st, int64_t *at_ms)
{
        return sqlite_int(st, st->stmt[S_CRON_NEXT_DUE], at_ms, NULL);
}

/* A manual run (scheduled_at 0) is stored with a NULL scheduled_at, which
 * never clashes with a tick. */
int sqlite_cron_run_insert(struct store *st, struct cron_run *r)
{
        sqlite3_stmt *s = st->stmt[S_CRON_RUN_INSERT];
        struct store_binder b = sqlite_binder(s, 1);

        store_bind_cols(&b, &store_run_row, 1, store_run_row.ncols, r);
        return sqlite_insert(st, s, &r->id);
}

int sqlite_cron_run_update(struct store *st, const struct cron_run *r)
{
        sqlite3_stmt *s = st->stmt[S_CRON_RUN_UPDATE];
        struct store_binder b = sqlite_binder(s, 1);

        store_bind_run_update(&b, r);
        return sqlite_update(st, s);
}

int sqlite_cron_run_get(struct store *st, const char *tenant, int64_t id, struct cron_run *out)
{
        return sqlite_one(st, SQLITE_STMT(st, S_CRON_RUN_GET, SA(tenant), SA(id)), &store_run_row,
                          out);
}

/* *out is a malloc'd array owned by the caller (cron_runs_free), newest
 * first; before_id 0 starts from the newest. */
int sqlite_cron_run_list(struct store *st, const char *tenant, const char *key, int64_t before_id,
                         int limit, struct cron_run **out, int *n_out)
{
        sqlite3_stmt *s;

        *out = NULL;
        *n_out = 0;
        if (limit < 1 || !tenant || !key)
                return BATON_EINVAL;
        s = SQLITE_STMT(st, S_CRON_RUN_LIST, SA(tenant), SA(key),
                        SA(before_id > 0 ? before_id : INT64_MAX), SA(limit));
        return sqlite_rows(st, s, limit, &store_run_row, out, n_out);
}

int sqlite_cron_run_count(struct store *st, const char *tenant, const char *key,
                          const char *trigger, int64_t since_ms, int64_t *n_out)
{
        sqlite3_stmt *s =
            SQLITE_STMT(st, S_CRON_RUN_COUNT, SA(tenant), SA(key), SA(trigger), SA(since_ms));

        return sqlite_int(st, s, n_out, NULL);
}

/* The upsert returns the tenant's count after it. */
int sqlite_cron_count_add(struct store *st, const char *tenant, int64_t delta, int64_t *n_out)
{
        return sqlite_int(st, SQLITE_STMT(st, S_CRON_COUNT_ADD, SA(tenant), SA(delta)), n_out,
                          NULL);
}

int sqlite_cron_last_tick(struct store *st, const char *tenant, const char *key, int64_t *at_ms)
{
        *at_ms = 0;
        return sqlite_int(st, SQLITE_STMT(st, S_CRON_LAST_TICK, SA(tenant), SA(key)), at_ms, NULL);
}

int sqlite_cron_run_trim(struct store *st, const char *tenant, const char *key, int keep)
{
        if (keep < 0)
                return BATON_EINVAL;
        return sqlite_run(st, SQLITE_STMT(st, S_CRON_RUN_TRIM, SA(tenant), SA(key), SA(keep)),
                          NULL);
}
