/*
 * sqlite_cron.c: the cron operations of the SQLite backend (struct store_ops,
 * version 3): schedules in cron_schedules, runs in cron_runs (schema migration
 * 3). Kept apart from sqlite.c so the job hot path stays readable.
 *
 * Workload: a handful of statements per schedule fire and per cron API call.
 * A tick that fires 10,000 schedules runs tens of thousands of them, so each
 * statement is prepared once, on first use, and kept with the store
 * (sqlite_cron_stmts; preparing them every time took more than half of a
 * tick); after each use it is reset and its bindings cleared, so no pointer
 * into a caller's strings outlives the call (sqlite.c's statement helpers,
 * sqlite_internal.h, do the binding, stepping and resetting). Assumptions: as for every store
 * operation, calls come from the store thread inside a transaction.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

#define SCHED_COLS                                                                                 \
        "tenant, key, spec, enabled, paused, pause_note, next_fire_at, due_at, buffered_at,"       \
        " buffered_run_id, last_run_id, last_job_id, version, created_at, updated_at"
#define RUN_COLS                                                                                   \
        "id, tenant, key, scheduled_at, fired_at, trigger, job_id, status, reason, requested_by"

/* Statement ids: one per SQL text below, index into sqlite_cron_stmts. */
enum {
        CS_PUT,
        CS_GET,
        CS_DELETE,
        CS_DELETE_RUNS,
        CS_LIST,
        CS_DUE,
        CS_NEXT_DUE,
        CS_RUN_INSERT,
        CS_RUN_UPDATE,
        CS_RUN_GET,
        CS_RUN_LIST,
        CS_RUN_COUNT,
        CS_RUN_TRIM,
        CS_SCHED_COUNT,
        CS_COUNT
};

_Static_assert(CS_COUNT <= SQLITE_CRON_STMT_MAX, "raise SQLITE_CRON_STMT_MAX");

/* The statement id (text sql), prepared on its first use. Return it with
 * sqlite_finish() after use. */
static int prep(struct store *st, int id, const char *sql, sqlite3_stmt **s)
{
        sqlite3_stmt **cache = sqlite_cron_stmts(st);
        int rc;

        if (!cache[id]) {
                rc = sqlite3_prepare_v3(sqlite_db(st), sql, -1, SQLITE_PREPARE_PERSISTENT,
                                        &cache[id], NULL);
                if (rc != SQLITE_OK)
                        return sqlite_fail(st, rc, "preparing a cron statement");
        }
        *s = cache[id];
        return 0;
}

static int read_sched(sqlite3_stmt *s, struct cron_rec *r)
{
        int rc = 0;

        memset(r, 0, sizeof(*r));
        rc = sqlite_read_text(s, 0, &r->tenant);
        if (!rc)
                rc = sqlite_read_text(s, 1, &r->key);
        if (!rc)
                rc = sqlite_read_text(s, 2, &r->spec);
        if (!rc)
                rc = sqlite_read_text(s, 5, &r->pause_note);
        r->enabled = sqlite3_column_int(s, 3) != 0;
        r->paused = sqlite3_column_int(s, 4) != 0;
        r->next_fire_at_ms = sqlite3_column_int64(s, 6);
        r->due_at_ms = sqlite3_column_int64(s, 7);
        r->buffered_at_ms = sqlite3_column_int64(s, 8);
        r->buffered_run_id = sqlite3_column_int64(s, 9);
        r->last_run_id = sqlite3_column_int64(s, 10);
        r->last_job_id = sqlite3_column_int64(s, 11);
        r->version = sqlite3_column_int64(s, 12);
        r->created_at_ms = sqlite3_column_int64(s, 13);
        r->updated_at_ms = sqlite3_column_int64(s, 14);
        if (rc)
                cron_rec_free(r);
        return rc;
}

static int read_run(sqlite3_stmt *s, struct cron_run *r)
{
        int rc;

        memset(r, 0, sizeof(*r));
        r->id = sqlite3_column_int64(s, 0);
        rc = sqlite_read_text(s, 1, &r->tenant);
        if (!rc)
                rc = sqlite_read_text(s, 2, &r->key);
        r->scheduled_at_ms = sqlite3_column_int64(s, 3);
        r->fired_at_ms = sqlite3_column_int64(s, 4);
        if (!rc)
                rc = sqlite_read_text(s, 5, &r->trigger);
        r->job_id = sqlite3_column_int64(s, 6);
        if (!rc)
                rc = sqlite_read_text(s, 7, &r->status);
        if (!rc)
                rc = sqlite_read_text(s, 8, &r->reason);
        if (!rc)
                rc = sqlite_read_text(s, 9, &r->requested_by);
        if (rc)
                cron_run_free(r);
        return rc;
}

/* Steps s and appends every row to a growing array of elem-sized records. */
static int collect(struct store *st, sqlite3_stmt *s, size_t elem,
                   int (*rd)(sqlite3_stmt *, void *), void **out, int *n_out)
{
        char *v = NULL;
        int n = 0, cap = 0, rc = 0, step;

        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = store_grow((void **)&v, n, &cap, elem);
                if (rc)
                        break;
                rc = rd(s, v + (size_t)n * elem);
                if (rc)
                        break;
                n++;
        }
        if (!rc && step != SQLITE_DONE)
                rc = sqlite_fail(st, step, "reading cron rows");
        sqlite_finish(s);
        *out = v;
        *n_out = n;
        return rc;
}

static int rd_sched(sqlite3_stmt *s, void *p)
{
        return read_sched(s, p);
}

static int rd_run(sqlite3_stmt *s, void *p)
{
        return read_run(s, p);
}

int sqlite_cron_put(struct store *st, const struct cron_rec *r)
{
        sqlite3_stmt *s = NULL;
        int rc = prep(st, CS_PUT,
                      "INSERT OR REPLACE INTO cron_schedules (" SCHED_COLS
                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                      &s);

        if (rc)
                return rc;
        sqlite_bind_text(s, 1, r->tenant);
        sqlite_bind_text(s, 2, r->key);
        sqlite_bind_text(s, 3, r->spec ? r->spec : "{}");
        sqlite3_bind_int(s, 4, r->enabled);
        sqlite3_bind_int(s, 5, r->paused);
        sqlite_bind_text(s, 6, r->pause_note);
        sqlite3_bind_int64(s, 7, r->next_fire_at_ms);
        sqlite3_bind_int64(s, 8, r->due_at_ms);
        sqlite3_bind_int64(s, 9, r->buffered_at_ms);
        sqlite3_bind_int64(s, 10, r->buffered_run_id);
        sqlite3_bind_int64(s, 11, r->last_run_id);
        sqlite3_bind_int64(s, 12, r->last_job_id);
        sqlite3_bind_int64(s, 13, r->version);
        sqlite3_bind_int64(s, 14, r->created_at_ms);
        sqlite3_bind_int64(s, 15, r->updated_at_ms);
        return sqlite_run(st, s, "writing a cron schedule");
}

int sqlite_cron_get(struct store *st, const char *tenant, const char *key, struct cron_rec *out)
{
        sqlite3_stmt *s = NULL;
        int rc =
            prep(st, CS_GET,
                 "SELECT " SCHED_COLS " FROM cron_schedules WHERE tenant = ?1 AND key = ?2", &s);

        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, key);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_sched(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND
                                       : sqlite_fail(st, rc, "reading a cron schedule");
        sqlite_finish(s);
        return rc;
}

int sqlite_cron_delete(struct store *st, const char *tenant, const char *key)
{
        sqlite3 *db = sqlite_db(st);
        sqlite3_stmt *s = NULL;
        int rc =
            prep(st, CS_DELETE, "DELETE FROM cron_schedules WHERE tenant = ?1 AND key = ?2", &s);

        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, key);
        rc = sqlite_run(st, s, "deleting a cron schedule");
        if (rc)
                return rc;
        if (sqlite3_changes(db) == 0)
                return BATON_ENOTFOUND;
        rc = prep(st, CS_DELETE_RUNS, "DELETE FROM cron_runs WHERE tenant = ?1 AND key = ?2", &s);
        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, key);
        return sqlite_run(st, s, "deleting cron runs");
}

int sqlite_cron_list(struct store *st, const char *tenant, const char *after, int limit,
                     struct cron_rec **out, int *n_out)
{
        sqlite3_stmt *s = NULL;
        int rc;

        *out = NULL;
        *n_out = 0;
        if (limit < 1 || !tenant)
                return BATON_EINVAL;
        rc = prep(st, CS_LIST,
                  "SELECT " SCHED_COLS " FROM cron_schedules WHERE tenant = ?1 AND key > ?2"
                  " ORDER BY key LIMIT ?3",
                  &s);
        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, after ? after : "");
        sqlite3_bind_int(s, 3, limit);
        return collect(st, s, sizeof(struct cron_rec), rd_sched, (void **)out, n_out);
}

int sqlite_cron_due(struct store *st, int64_t now_ms, int max, struct cron_rec **out, int *n_out)
{
        sqlite3_stmt *s = NULL;
        int rc;

        *out = NULL;
        *n_out = 0;
        if (max < 1)
                return BATON_EINVAL;
        rc = prep(st, CS_DUE,
                  "SELECT " SCHED_COLS " FROM cron_schedules WHERE due_at > 0 AND due_at <= ?1"
                  " ORDER BY due_at LIMIT ?2",
                  &s);
        if (rc)
                return rc;
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int(s, 2, max);
        return collect(st, s, sizeof(struct cron_rec), rd_sched, (void **)out, n_out);
}

int sqlite_cron_next_due(struct store *st, int64_t *at_ms)
{
        sqlite3_stmt *s = NULL;
        int rc =
            prep(st, CS_NEXT_DUE, "SELECT MIN(due_at) FROM cron_schedules WHERE due_at > 0", &s);

        *at_ms = 0;
        if (rc)
                return rc;
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *at_ms = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = sqlite_fail(st, rc, "reading the next cron deadline");
        }
        sqlite_finish(s);
        return rc;
}

int sqlite_cron_run_insert(struct store *st, struct cron_run *r)
{
        sqlite3 *db = sqlite_db(st);
        sqlite3_stmt *s = NULL;
        int rc = prep(st, CS_RUN_INSERT,
                      "INSERT INTO cron_runs (tenant, key, scheduled_at, fired_at, trigger, job_id,"
                      " status, reason, requested_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                      &s);

        if (rc)
                return rc;
        sqlite_bind_text(s, 1, r->tenant);
        sqlite_bind_text(s, 2, r->key);
        if (r->scheduled_at_ms)
                sqlite3_bind_int64(s, 3, r->scheduled_at_ms);
        else
                sqlite3_bind_null(s, 3);
        sqlite3_bind_int64(s, 4, r->fired_at_ms);
        sqlite_bind_text(s, 5, r->trigger);
        sqlite3_bind_int64(s, 6, r->job_id);
        sqlite_bind_text(s, 7, r->status);
        sqlite_bind_text(s, 8, r->reason);
        sqlite_bind_text(s, 9, r->requested_by);
        rc = sqlite_run(st, s, "recording a cron run");
        if (!rc)
                r->id = sqlite3_last_insert_rowid(db);
        return rc;
}

int sqlite_cron_run_update(struct store *st, const struct cron_run *r)
{
        sqlite3 *db = sqlite_db(st);
        sqlite3_stmt *s = NULL;
        int rc = prep(st, CS_RUN_UPDATE,
                      "UPDATE cron_runs SET job_id = ?3, status = ?4, reason = ?5, fired_at = ?6"
                      " WHERE tenant = ?1 AND id = ?2",
                      &s);

        if (rc)
                return rc;
        sqlite_bind_text(s, 1, r->tenant);
        sqlite3_bind_int64(s, 2, r->id);
        sqlite3_bind_int64(s, 3, r->job_id);
        sqlite_bind_text(s, 4, r->status);
        sqlite_bind_text(s, 5, r->reason);
        sqlite3_bind_int64(s, 6, r->fired_at_ms);
        rc = sqlite_run(st, s, "updating a cron run");
        if (!rc && sqlite3_changes(db) == 0)
                rc = BATON_ENOTFOUND;
        return rc;
}

int sqlite_cron_run_get(struct store *st, const char *tenant, int64_t id, struct cron_run *out)
{
        sqlite3_stmt *s = NULL;
        int rc = prep(st, CS_RUN_GET,
                      "SELECT " RUN_COLS " FROM cron_runs WHERE tenant = ?1 AND id = ?2", &s);

        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite3_bind_int64(s, 2, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_run(s, out);
        else
                rc =
                    rc == SQLITE_DONE ? BATON_ENOTFOUND : sqlite_fail(st, rc, "reading a cron run");
        sqlite_finish(s);
        return rc;
}

int sqlite_cron_run_list(struct store *st, const char *tenant, const char *key, int64_t before_id,
                         int limit, struct cron_run **out, int *n_out)
{
        sqlite3_stmt *s = NULL;
        int rc;

        *out = NULL;
        *n_out = 0;
        if (limit < 1 || !tenant || !key)
                return BATON_EINVAL;
        rc = prep(st, CS_RUN_LIST,
                  "SELECT " RUN_COLS " FROM cron_runs WHERE tenant = ?1 AND key = ?2 AND id < ?3"
                  " ORDER BY id DESC LIMIT ?4",
                  &s);
        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, key);
        sqlite3_bind_int64(s, 3, before_id > 0 ? before_id : INT64_MAX);
        sqlite3_bind_int(s, 4, limit);
        return collect(st, s, sizeof(struct cron_run), rd_run, (void **)out, n_out);
}

int sqlite_cron_run_count(struct store *st, const char *tenant, const char *key,
                          const char *trigger, int64_t since_ms, int64_t *n_out)
{
        sqlite3_stmt *s = NULL;
        int rc = prep(st, CS_RUN_COUNT,
                      "SELECT COUNT(*) FROM cron_runs WHERE tenant = ?1 AND key = ?2"
                      " AND trigger = ?3 AND fired_at >= ?4",
                      &s);

        *n_out = 0;
        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, key);
        sqlite_bind_text(s, 3, trigger);
        sqlite3_bind_int64(s, 4, since_ms);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *n_out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = sqlite_fail(st, rc, "counting cron runs");
        }
        sqlite_finish(s);
        return rc;
}

int sqlite_cron_count_add(struct store *st, const char *tenant, int64_t delta, int64_t *n_out)
{
        sqlite3_stmt *s = NULL;
        int rc = prep(st, CS_SCHED_COUNT,
                      "INSERT INTO cron_counts (tenant, n) VALUES (?1, ?2) ON CONFLICT (tenant)"
                      " DO UPDATE SET n = n + excluded.n RETURNING n",
                      &s);

        *n_out = 0;
        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite3_bind_int64(s, 2, delta);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *n_out = sqlite3_column_int64(s, 0);
                rc = sqlite3_step(s);
                rc = rc == SQLITE_DONE ? 0 : sqlite_fail(st, rc, "counting cron schedules");
        } else {
                rc = sqlite_fail(st, rc, "counting cron schedules");
        }
        sqlite_finish(s);
        return rc;
}

int sqlite_cron_run_trim(struct store *st, const char *tenant, const char *key, int keep)
{
        sqlite3_stmt *s = NULL;
        int rc;

        if (keep < 0)
                return BATON_EINVAL;
        /* The id of the keep-th newest run bounds what stays; older ones go. */
        rc = prep(st, CS_RUN_TRIM,
                  "DELETE FROM cron_runs WHERE tenant = ?1 AND key = ?2 AND id <= COALESCE(("
                  "SELECT id FROM cron_runs WHERE tenant = ?1 AND key = ?2"
                  " ORDER BY id DESC LIMIT 1 OFFSET ?3), 0)",
                  &s);
        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, key);
        sqlite3_bind_int(s, 3, keep);
        return sqlite_run(st, s, "trimming cron runs");
}
