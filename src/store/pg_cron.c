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

#define SCHED_COLS                                                                                 \
        "tenant, key, spec, enabled, paused, pause_note, next_fire_at, due_at, buffered_at,"       \
        " buffered_run_id, last_run_id, last_job_id, version, created_at, updated_at"
#define RUN_COLS                                                                                   \
        "id, tenant, key, scheduled_at, fired_at, trigger, job_id, status, reason, requested_by"

static const struct pg_stmt
    S_PUT = {"pg_cron_put",
             "INSERT INTO cron_schedules (" SCHED_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
             " $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (tenant, key) DO UPDATE SET"
             " spec = excluded.spec, enabled = excluded.enabled, paused = excluded.paused,"
             " pause_note = excluded.pause_note, next_fire_at = excluded.next_fire_at,"
             " due_at = excluded.due_at, buffered_at = excluded.buffered_at,"
             " buffered_run_id = excluded.buffered_run_id, last_run_id = excluded.last_run_id,"
             " last_job_id = excluded.last_job_id, version = excluded.version,"
             " created_at = excluded.created_at, updated_at = excluded.updated_at"},
    S_GET = {"pg_cron_get",
             "SELECT " SCHED_COLS " FROM cron_schedules WHERE tenant = $1 AND key = $2"},
    S_DELETE = {"pg_cron_delete", "DELETE FROM cron_schedules WHERE tenant = $1 AND key = $2"},
    S_DELETE_RUNS = {"pg_cron_delete_runs", "DELETE FROM cron_runs WHERE tenant = $1 AND key = $2"},
    S_LIST = {"pg_cron_list", "SELECT " SCHED_COLS " FROM cron_schedules WHERE tenant = $1"
                              " AND key > $2 ORDER BY key LIMIT $3"},
    S_DUE = {"pg_cron_due", "SELECT " SCHED_COLS " FROM cron_schedules WHERE due_at > 0"
                            " AND due_at <= $1 ORDER BY due_at LIMIT $2"},
    S_NEXT = {"pg_cron_next_due",
              "SELECT due_at FROM cron_schedules WHERE due_at > 0 ORDER BY due_at LIMIT 1"},
    S_RUN_INSERT = {"pg_cron_run_insert",
                    "INSERT INTO cron_runs (tenant, key, scheduled_at, fired_at, trigger, job_id,"
                    " status, reason, requested_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    " ON CONFLICT DO NOTHING RETURNING id"},
    S_RUN_UPDATE = {"pg_cron_run_update",
                    "UPDATE cron_runs SET job_id = $3, status = $4, reason = $5, fired_at = $6"
                    " WHERE tenant = $1 AND id = $2"},
    S_RUN_GET = {"pg_cron_run_get",
                 "SELECT " RUN_COLS " FROM cron_runs WHERE tenant = $1 AND id = $2"},
    S_RUN_LIST = {"pg_cron_run_list", "SELECT " RUN_COLS " FROM cron_runs WHERE tenant = $1"
                                      " AND key = $2 AND id < $3 ORDER BY id DESC LIMIT $4"},
    S_RUN_COUNT = {"pg_cron_run_count",
                   "SELECT COUNT(*) FROM cron_runs WHERE tenant = $1 AND key = $2"
                   " AND trigger = $3 AND fired_at >= $4"},
    /* The upsert locks the tenant's row to the end of the transaction. */
    S_COUNT_ADD = {"pg_cron_count_add",
                   "INSERT INTO cron_counts (tenant, n) VALUES ($1, $2) ON CONFLICT (tenant)"
                   " DO UPDATE SET n = cron_counts.n + excluded.n RETURNING n"},
    /* The id of the keep-th newest run bounds what stays; older ones go. */
    S_RUN_TRIM = {"pg_cron_run_trim",
                  "DELETE FROM cron_runs WHERE tenant = $1 AND key = $2 AND id <= COALESCE(("
                  "SELECT id FROM cron_runs WHERE tenant = $1 AND key = $2"
                  " ORDER BY id DESC LIMIT 1 OFFSET $3), 0)"};

const struct pg_stmt *const pg_cron_stmts[] = {&S_GET,       &S_LIST,    &S_DUE,
                                               &S_NEXT,      &S_RUN_GET, &S_RUN_LIST,
                                               &S_RUN_COUNT, &S_DELETE,  &S_RUN_TRIM};
const int pg_cron_stmts_n = (int)(sizeof(pg_cron_stmts) / sizeof(pg_cron_stmts[0]));

static int rd_sched(const PGresult *res, int row, void *out)
{
        struct cron_rec *r = out;
        int rc;

        memset(r, 0, sizeof(*r));
        rc = pg_text(res, row, 0, &r->tenant);
        if (!rc)
                rc = pg_text(res, row, 1, &r->key);
        if (!rc)
                rc = pg_text(res, row, 2, &r->spec);
        if (!rc)
                rc = pg_text(res, row, 5, &r->pause_note);
        r->enabled = pg_i64(res, row, 3) != 0;
        r->paused = pg_i64(res, row, 4) != 0;
        r->next_fire_at_ms = pg_i64(res, row, 6);
        r->due_at_ms = pg_i64(res, row, 7);
        r->buffered_at_ms = pg_i64(res, row, 8);
        r->buffered_run_id = pg_i64(res, row, 9);
        r->last_run_id = pg_i64(res, row, 10);
        r->last_job_id = pg_i64(res, row, 11);
        r->version = pg_i64(res, row, 12);
        r->created_at_ms = pg_i64(res, row, 13);
        r->updated_at_ms = pg_i64(res, row, 14);
        if (rc)
                cron_rec_free(r);
        return rc;
}

static int rd_run(const PGresult *res, int row, void *out)
{
        struct cron_run *r = out;
        int rc;

        memset(r, 0, sizeof(*r));
        r->id = pg_i64(res, row, 0);
        r->scheduled_at_ms = pg_i64(res, row, 3); /* NULL (manual) reads as 0 */
        r->fired_at_ms = pg_i64(res, row, 4);
        r->job_id = pg_i64(res, row, 6);
        rc = pg_text(res, row, 1, &r->tenant);
        if (!rc)
                rc = pg_text(res, row, 2, &r->key);
        if (!rc)
                rc = pg_text(res, row, 5, &r->trigger);
        if (!rc)
                rc = pg_text(res, row, 7, &r->status);
        if (!rc)
                rc = pg_text(res, row, 8, &r->reason);
        if (!rc)
                rc = pg_text(res, row, 9, &r->requested_by);
        if (rc)
                cron_run_free(r);
        return rc;
}

static void rel_sched(void *r)
{
        cron_rec_free(r);
}

static void rel_run(void *r)
{
        cron_run_free(r);
}

/* The first column of the single row of s, 0 for no row or NULL. */
static int scalar(struct store *st, const struct pg_stmt *s, const struct pg_params *p,
                  int64_t *out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, s, p, &r);

        *out = 0;
        if (!rc && PQntuples(r) > 0)
                *out = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

static void bind_tk(struct pg_params *p, const char *tenant, const char *key)
{
        pg_p_text(p, tenant);
        pg_p_text(p, key);
}

int pg_cron_put(struct store *st, const struct cron_rec *r)
{
        struct pg_params p = {0};

        bind_tk(&p, r->tenant, r->key);
        pg_p_text(&p, r->spec ? r->spec : "{}");
        pg_p_i64(&p, r->enabled);
        pg_p_i64(&p, r->paused);
        pg_p_text(&p, r->pause_note);
        pg_p_i64(&p, r->next_fire_at_ms);
        pg_p_i64(&p, r->due_at_ms);
        pg_p_i64(&p, r->buffered_at_ms);
        pg_p_i64(&p, r->buffered_run_id);
        pg_p_i64(&p, r->last_run_id);
        pg_p_i64(&p, r->last_job_id);
        pg_p_i64(&p, r->version);
        pg_p_i64(&p, r->created_at_ms);
        pg_p_i64(&p, r->updated_at_ms);
        return pg_run(st, &S_PUT, &p, NULL);
}

int pg_cron_get(struct store *st, const char *tenant, const char *key, struct cron_rec *out)
{
        struct pg_params p = {0};

        bind_tk(&p, tenant, key);
        return pg_get_one(st, &S_GET, &p, rd_sched, out);
}

int pg_cron_delete(struct store *st, const char *tenant, const char *key)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        bind_tk(&p, tenant, key);
        rc = pg_run(st, &S_DELETE, &p, &n);
        if (!rc && n == 0)
                return BATON_ENOTFOUND;
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
        return pg_collect(st, &S_LIST, &p, sizeof(**out), rd_sched, rel_sched, (void **)out, n_out);
}

int pg_cron_due(struct store *st, int64_t now_ms, int max, struct cron_rec **out, int *n_out)
{
        struct pg_params p = {0};

        *out = NULL;
        *n_out = 0;
        if (max < 1)
                return BATON_EINVAL;
        pg_p_i64(&p, now_ms);
        pg_p_i64(&p, max);
        return pg_collect(st, &S_DUE, &p, sizeof(**out), rd_sched, rel_sched, (void **)out, n_out);
}

int pg_cron_next_due(struct store *st, int64_t *at_ms)
{
        return scalar(st, &S_NEXT, NULL, at_ms);
}

int pg_cron_count_add(struct store *st, const char *tenant, int64_t delta, int64_t *n_out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_i64(&p, delta);
        return scalar(st, &S_COUNT_ADD, &p, n_out);
}

int pg_cron_run_insert(struct store *st, struct cron_run *r)
{
        struct pg_params p = {0};
        PGresult *res = NULL;
        int rc;

        bind_tk(&p, r->tenant, r->key);
        if (r->scheduled_at_ms)
                pg_p_i64(&p, r->scheduled_at_ms);
        else
                pg_p_text(&p, NULL);
        pg_p_i64(&p, r->fired_at_ms);
        pg_p_text(&p, r->trigger);
        pg_p_i64(&p, r->job_id);
        pg_p_text(&p, r->status);
        pg_p_text(&p, r->reason);
        pg_p_text(&p, r->requested_by);
        rc = pg_exec(st, &S_RUN_INSERT, &p, &res);
        if (!rc && PQntuples(res) == 0)
                rc = BATON_ECONFLICT; /* the tick is already recorded */
        if (!rc)
                r->id = pg_i64(res, 0, 0);
        PQclear(res);
        return rc;
}

int pg_cron_run_update(struct store *st, const struct cron_run *r)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        pg_p_text(&p, r->tenant);
        pg_p_i64(&p, r->id);
        pg_p_i64(&p, r->job_id);
        pg_p_text(&p, r->status);
        pg_p_text(&p, r->reason);
        pg_p_i64(&p, r->fired_at_ms);
        rc = pg_run(st, &S_RUN_UPDATE, &p, &n);
        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

int pg_cron_run_get(struct store *st, const char *tenant, int64_t id, struct cron_run *out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_i64(&p, id);
        return pg_get_one(st, &S_RUN_GET, &p, rd_run, out);
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
        pg_p_i64(&p, before_id > 0 ? before_id : INT64_MAX);
        pg_p_i64(&p, limit);
        return pg_collect(st, &S_RUN_LIST, &p, sizeof(**out), rd_run, rel_run, (void **)out, n_out);
}

int pg_cron_run_count(struct store *st, const char *tenant, const char *key, const char *trigger,
                      int64_t since_ms, int64_t *n_out)
{
        struct pg_params p = {0};

        bind_tk(&p, tenant, key);
        pg_p_text(&p, trigger);
        pg_p_i64(&p, since_ms);
        return scalar(st, &S_RUN_COUNT, &p, n_out);
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
