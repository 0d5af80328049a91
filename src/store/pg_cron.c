/*
 * pg_cron.c: the cron operations of the PostgreSQL backend (struct store_ops,
 * version 3): schedules in cron_schedules, runs in cron_runs (migration 3).
 * Kept apart from pg.c so the job hot path stays readable. Workload: a few
 * statements per schedule fire and per cron API call; they are prepared once
 * per connection like every statement of the backend (pg_exec). A tick
 * recorded twice is the expected outcome of a duplicate fire, so the run insert
 * uses ON CONFLICT DO NOTHING and reports BATON_ECONFLICT without aborting the
 * transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

static const struct pg_stmt
    S_PUT = {"pg_cron_put",
             "INSERT INTO cron_schedules (" STORE_SCHED_COLS
             ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
             " $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (tenant, key) DO UPDATE SET"
             " spec = excluded.spec, enabled = excluded.enabled, paused = excluded.paused,"
             " pause_note = excluded.pause_note, next_fire_at = excluded.next_fire_at,"
             " due_at = excluded.due_at, buffered_at = excluded.buffered_at,"
             " buffered_run_id = excluded.buffered_run_id, last_run_id = excluded.last_run_id,"
             " last_job_id = excluded.last_job_id, version = excluded.version,"
             " created_at = excluded.created_at, updated_at = excluded.updated_at"},
    S_GET = {"pg_cron_get",
             "SELECT " STORE_SCHED_COLS " FROM cron_schedules WHERE tenant = $1 AND key = $2"},
    S_DELETE = {"pg_cron_delete", "DELETE FROM cron_schedules WHERE tenant = $1 AND key = $2"},
    S_DELETE_RUNS = {"pg_cron_delete_runs", "DELETE FROM cron_runs WHERE tenant = $1 AND key = $2"},
    S_LIST = {"pg_cron_list", "SELECT " STORE_SCHED_COLS " FROM cron_schedules WHERE tenant = $1"
                              " AND key > $2 ORDER BY key LIMIT $3"},
    S_DUE = {"pg_cron_due", "SELECT " STORE_SCHED_COLS " FROM cron_schedules WHERE due_at > 0"
                            " AND due_at <= $1 ORDER BY due_at LIMIT $2"},
    S_NEXT = {"pg_cron_next_due",
              "SELECT due_at FROM cron_schedules WHERE due_at > 0 ORDER BY due_at LIMIT 1"},
    S_RUN_INSERT = {"pg_cron_run_insert",
                    "INSERT INTO cron_runs (tenant, key, scheduled_at, fired_at, trigger, job_id,"
                    " status, reason, requested_by, payload) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                    " $8, $9, $10)"
                    " ON CONFLICT DO NOTHING RETURNING id"},
    S_RUN_UPDATE = {"pg_cron_run_update",
                    "UPDATE cron_runs SET job_id = $3, status = $4, reason = $5, fired_at = $6"
                    " WHERE tenant = $1 AND id = $2"},
    S_RUN_GET = {"pg_cron_run_get",
                 "SELECT " STORE_RUN_COLS " FROM cron_runs WHERE tenant = $1 AND id = $2"},
    S_RUN_LIST = {"pg_cron_run_list", "SELECT " STORE_RUN_COLS " FROM cron_runs WHERE tenant = $1"
                                      " AND key = $2 AND id < $3 ORDER BY id DESC LIMIT $4"},
    S_RUN_COUNT = {"pg_cron_run_count",
                   "SELECT COUNT(*) FROM cron_runs WHERE tenant = $1 AND key = $2"
                   " AND trigger = $3 AND fired_at >= $4"},
    S_LAST_TICK = {"pg_cron_last_tick", "SELECT COALESCE(MAX(scheduled_at), 0) FROM cron_runs"
                                        " WHERE tenant = $1 AND key = $2"},
    /* The upsert locks the tenant's row to the end of the transaction. */
    S_COUNT_ADD = {"pg_cron_count_add",
                   "INSERT INTO cron_counts (tenant, n) VALUES ($1, $2) ON CONFLICT (tenant)"
                   " DO UPDATE SET n = cron_counts.n + excluded.n RETURNING n"},
    /* The id of the keep-th newest run bounds what stays; older ones go. */
    S_RUN_TRIM = {"pg_cron_run_trim",
                  "DELETE FROM cron_runs WHERE tenant = $1 AND key = $2 AND id <= COALESCE(("
                  "SELECT id FROM cron_runs WHERE tenant = $1 AND key = $2"
                  " ORDER BY id DESC LIMIT 1 OFFSET $3), 0)"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {&S_GET,       &S_LIST,    &S_DUE,
                                              &S_NEXT,      &S_RUN_GET, &S_RUN_LIST,
                                              &S_RUN_COUNT, &S_DELETE,  &S_RUN_TRIM};
const struct pg_stmt_list pg_cron_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

static void bind_tk(struct pg_params *p, const char *tenant, const char *key)
{
        PG_ADD(p, SA(tenant), SA(key));
}

int pg_cron_put(struct store *st, const struct cron_rec *r)
{
        return pg_run(st, &S_PUT, PG_ROW(&store_cron_row, r), NULL);
}

int pg_cron_get(struct store *st, const char *tenant, const char *key, struct cron_rec *out)
{
        struct pg_params p = {0};

        bind_tk(&p, tenant, key);
        return pg_get_one(st, &S_GET, &p, &store_cron_row, out);
}

/* The schedule and its runs. */
int pg_cron_delete(struct store *st, const char *tenant, const char *key)
{
        struct pg_params p = {0};
        int rc;

        bind_tk(&p, tenant, key);
        rc = pg_update(st, &S_DELETE, &p);
        return rc ? rc : pg_run(st, &S_DELETE_RUNS, &p, NULL);
}

int pg_cron_list(struct store *st, const char *tenant, const char *after, int limit,
                 struct cron_rec **out, int *n_out)
{
        struct pg_params p = {0};

        *out = NULL;
        *n_out = 0;
        if (limit < 1 || !tenant)
                return BATON_EINVAL;
        bind_tk(&p, tenant, after ? after : "");
        pg_p_i64(&p, limit);
        return pg_collect(st, &S_LIST, &p, &store_cron_row, out, n_out);
}

int pg_cron_due(struct store *st, int64_t now_ms, int max, struct cron_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (max < 1)
                return BATON_EINVAL;
        return pg_collect(st, &S_DUE, PG_ARGS(SA(now_ms), SA(max)), &store_cron_row, out, n_out);
}

int pg_cron_next_due(struct store *st, int64_t *at_ms)
{
        return pg_int(st, &S_NEXT, NULL, at_ms, NULL);
}

int pg_cron_count_add(struct store *st, const char *tenant, int64_t delta, int64_t *n_out)
{
        return pg_int(st, &S_COUNT_ADD, PG_ARGS(SA(tenant), SA(delta)), n_out, NULL);
}

/* No row back: the tick is already recorded (ON CONFLICT DO NOTHING). */
int pg_cron_run_insert(struct store *st, struct cron_run *r)
{
        struct pg_params p = {0};
        struct store_binder b = pg_binder(&p);
        bool found = false;
        int64_t id = 0;
        int rc;

        store_bind_cols(&b, &store_run_row, 1, store_run_row.ncols, r);
        rc = pg_int(st, &S_RUN_INSERT, &p, &id, &found);
        if (!rc && !found)
                rc = BATON_ECONFLICT;
        if (!rc)
                r->id = id;
        return rc;
}

int pg_cron_run_update(struct store *st, const struct cron_run *r)
{
        struct pg_params p = {0};
        struct store_binder b = pg_binder(&p);

        store_bind_run_update(&b, r);
        return pg_update(st, &S_RUN_UPDATE, &p);
}

int pg_cron_run_get(struct store *st, const char *tenant, int64_t id, struct cron_run *out)
{
        return pg_get_one(st, &S_RUN_GET, PG_ARGS(SA(tenant), SA(id)), &store_run_row, out);
}

int pg_cron_run_list(struct store *st, const char *tenant, const char *key, int64_t before_id,
                     int limit, struct cron_run **out, int *n_out)
{
        struct pg_params p = {0};

        *out = NULL;
        *n_out = 0;
        if (limit < 1 || !tenant || !key)
                return BATON_EINVAL;
        bind_tk(&p, tenant, key);
        PG_ADD(&p, SA(before_id > 0 ? before_id : INT64_MAX), SA(limit));
        return pg_collect(st, &S_RUN_LIST, &p, &store_run_row, out, n_out);
}

int pg_cron_run_count(struct store *st, const char *tenant, const char *key, const char *trigger,
                      int64_t since_ms, int64_t *n_out)
{
        struct pg_params p = {0};

        bind_tk(&p, tenant, key);
        PG_ADD(&p, SA(trigger), SA(since_ms));
        return pg_int(st, &S_RUN_COUNT, &p, n_out, NULL);
}

int pg_cron_last_tick(struct store *st, const char *tenant, const char *key, int64_t *at_ms)
{
        struct pg_params p = {0};

        *at_ms = 0;
        bind_tk(&p, tenant, key);
        return pg_int(st, &S_LAST_TICK, &p, at_ms, NULL);
}

int pg_cron_run_trim(struct store *st, const char *tenant, const char *key, int keep)
{
        struct pg_params p = {0};

        if (keep < 0)
                return BATON_EINVAL;
        bind_tk(&p, tenant, key);
        pg_p_i64(&p, keep);
        return pg_run(st, &S_RUN_TRIM, &p, NULL);
}
