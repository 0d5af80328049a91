/*
 * sqlite_jobs.c: the job rows of the SQLite backend (struct store_ops): insert,
 * read, update and list jobs, the id lookups of the scheduler (ready, due,
 * expired, by state), purge and delete of finished jobs, and the deadlines the
 * store thread sleeps until. This is the hot path: every enqueue, claim and
 * settle runs a few of these statements inside the group-commit transaction.
 *
 * Jobs map to one row with a column per field of struct job (times in Unix ms,
 * SQL NULL for a NULL string). The column list of the job statements is built
 * from one table (store_job_cols) so that insert, update and reads cannot disagree;
 * sqlite.c prepares them at open through sqlite_build_job_sql. Assumptions: as
 * for every store operation, calls come from the store thread inside a
 * transaction, and the statements are those of sqlite_internal.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

/* ---- job rows ---- */

static void bind_job_cols(sqlite3_stmt *s, const struct job *j, int first)
{
        const char *base = (const char *)j;

        for (int c = 0; c < store_job_ncols; c++) {
                const void *p = base + store_job_cols[c].off;
                int i = first + c;

                switch (store_job_cols[c].kind) {
                case COL_TEXT:
                        sqlite_bind_text(s, i, *(char *const *)p);
                        break;
                case COL_I64:
                        sqlite3_bind_int64(s, i, *(const int64_t *)p);
                        break;
                case COL_INT:
                        sqlite3_bind_int(s, i, *(const int *)p);
                        break;
                default:
                        sqlite3_bind_int(s, i, *(const bool *)p ? 1 : 0);
                        break;
                }
        }
}

/* Fills *out from the current row of a job read. out must hold no strings; on
 * success the caller owns the new ones (job_free), on failure none are left. */
static int read_job(sqlite3_stmt *s, struct job *out)
{
        char *base = (char *)out;
        int rc;

        memset(out, 0, sizeof(*out));
        out->id = sqlite3_column_int64(s, 0);
        out->created_at_ms = sqlite3_column_int64(s, 2);
        rc = sqlite_read_text(s, 1, &out->tenant);
        for (int c = 0; c < store_job_ncols && !rc; c++) {
                void *p = base + store_job_cols[c].off;
                int i = STORE_JOB_READ_FIXED + c;

                switch (store_job_cols[c].kind) {
                case COL_TEXT:
                        rc = sqlite_read_text(s, i, (char **)p);
                        break;
                case COL_I64:
                        *(int64_t *)p = sqlite3_column_int64(s, i);
                        break;
                case COL_INT:
                        *(int *)p = sqlite3_column_int(s, i);
                        break;
                default:
                        *(bool *)p = sqlite3_column_int(s, i) != 0;
                        break;
                }
        }
        if (rc)
                job_free(out);
        return rc;
}

/* ---- job statements (prepared at open by sqlite.c) ---- */

/* The SQL of a job statement, built from store_job_cols: see sqlite_internal.h. */
int sqlite_build_job_sql(struct buf *b, int id)
{
        int rc = 0;

        if (id == S_JOB_INSERT) {
                rc = buf_adds(b, "INSERT INTO jobs (tenant, created_at");
                for (int c = 0; c < store_job_ncols && !rc; c++)
                        rc = buf_printf(b, ", %s", store_job_cols[c].name);
                if (!rc)
                        rc = buf_adds(b, ") VALUES (?1, ?2");
                for (int c = 0; c < store_job_ncols && !rc; c++)
                        rc = buf_printf(b, ", ?%d", c + 3);
                return rc ? rc : buf_adds(b, ")");
        }
        if (id == S_JOB_UPDATE) {
                rc = buf_adds(b, "UPDATE jobs SET ");
                for (int c = 0; c < store_job_ncols && !rc; c++)
                        rc = buf_printf(b, "%s%s = ?%d", c ? ", " : "", store_job_cols[c].name,
                                        c + 2);
                return rc ? rc : buf_adds(b, " WHERE id = ?1");
        }
        rc = buf_adds(b, "SELECT id, tenant, created_at");
        for (int c = 0; c < store_job_ncols && !rc; c++)
                rc = buf_printf(b, ", %s", store_job_cols[c].name);
        if (!rc)
                rc = buf_adds(b, " FROM jobs WHERE ");
        if (rc)
                return rc;
        if (id == S_JOB_GET)
                return buf_adds(b, "id = ?1 AND (?2 IS NULL OR tenant = ?2)");
        /* A job_list variant: the filter bits select the optional terms. */
        rc = buf_adds(b, "tenant = ?1");
        if (!rc && (id - S_LIST) & LF_QUEUE)
                rc = buf_adds(b, " AND queue = ?2");
        if (!rc && (id - S_LIST) & LF_STATE)
                rc = buf_adds(b, " AND state = ?3");
        if (!rc && (id - S_LIST) & LF_TYPE)
                rc = buf_adds(b, " AND type = ?4");
        return rc ? rc : buf_adds(b, " AND id > ?5 ORDER BY id LIMIT ?6");
}

/* ---- jobs ---- */

int sqlite_job_insert(struct store *st, struct job *j)
{
        sqlite3_stmt *s = st->stmt[S_JOB_INSERT];
        int rc;

        sqlite_bind_text(s, 1, j->tenant);
        sqlite3_bind_int64(s, 2, j->created_at_ms);
        bind_job_cols(s, j, 3);
        rc = sqlite_run(st, s, "job_insert");
        if (!rc)
                j->id = sqlite3_last_insert_rowid(st->db);
        return rc;
}

/* On success the caller owns out's strings (job_free); out is untouched when
 * the job does not exist. */
int sqlite_job_get(struct store *st, const char *tenant, int64_t id, struct job *out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_GET];
        int rc;

        sqlite3_bind_int64(s, 1, id);
        sqlite_bind_text(s, 2, tenant);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_job(s, out);
        else if (rc == SQLITE_DONE)
                rc = BATON_ENOTFOUND;
        else
                rc = sqlite_fail(st, rc, "job_get");
        sqlite_finish(s);
        return rc;
}

int sqlite_job_update(struct store *st, const struct job *j)
{
        sqlite3_stmt *s = st->stmt[S_JOB_UPDATE];
        int rc;

        sqlite3_bind_int64(s, 1, j->id);
        bind_job_cols(s, j, 2);
        rc = sqlite_run(st, s, "job_update");
        if (!rc && sqlite3_changes(st->db) == 0)
                rc = BATON_ENOTFOUND;
        return rc;
}

int sqlite_job_find_key(struct store *st, const char *tenant, const char *queue, const char *key,
                        int64_t *id_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_FIND_KEY];
        int64_t id = 0;
        int n = 0;
        int rc;

        if (!key)
                return BATON_ENOTFOUND;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite_bind_text(s, 3, key);
        rc = sqlite_read_ids(st, s, 1, &id, &n, "job_find_key");
        if (!rc && n == 0)
                rc = BATON_ENOTFOUND;
        if (!rc)
                *id_out = id;
        return rc;
}

/* Appends the matching jobs to out. The caller owns out and frees it with
 * job_vec_free, also after a failure (which may leave some jobs in it). */
int sqlite_job_list(struct store *st, const struct job_filter *f, struct job_vec *out)
{
        int bits =
            (f->queue ? LF_QUEUE : 0) | (f->state >= 0 ? LF_STATE : 0) | (f->type ? LF_TYPE : 0);
        sqlite3_stmt *s = st->stmt[S_LIST + bits];
        size_t bytes = 0;
        int step, rc = 0;

        if (!f->tenant || f->limit <= 0)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, f->tenant);
        if (bits & LF_QUEUE)
                sqlite_bind_text(s, 2, f->queue);
        if (bits & LF_STATE)
                sqlite3_bind_int(s, 3, f->state);
        if (bits & LF_TYPE)
                sqlite_bind_text(s, 4, f->type);
        sqlite3_bind_int64(s, 5, f->after_id);
        sqlite3_bind_int(s, 6, f->limit);
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
                struct job *j = job_vec_push(out);

                rc = j ? read_job(s, j) : BATON_ENOMEM;
                if (rc && j)
                        out->n--; /* read_job left the slot empty */
                if (!rc && f->bytes_max && (bytes += job_wire_bytes(j)) > f->bytes_max) {
                        step = SQLITE_DONE; /* the page is full (store.h) */
                        break;
                }
        }
        if (!rc && step != SQLITE_DONE)
                rc = sqlite_fail(st, step, "job_list");
        sqlite_finish(s);
        return rc;
}

int sqlite_job_due_ids(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_DUE];

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int(s, 2, max);
        return sqlite_read_ids(st, s, max, ids, n_out, "job_due_ids");
}

int sqlite_job_expired_ids(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_EXPIRED];

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int(s, 2, max);
        return sqlite_read_ids(st, s, max, ids, n_out, "job_expired_ids");
}

int sqlite_job_state_ids(struct store *st, const char *tenant, const char *queue, int state,
                         int64_t after_id, int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_STATE_IDS];

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite3_bind_int(s, 3, state);
        sqlite3_bind_int64(s, 4, after_id);
        sqlite3_bind_int(s, 5, max);
        return sqlite_read_ids(st, s, max, ids, n_out, "job_state_ids");
}

/* Only terminal states (completed, dead, cancelled) have finished jobs to
 * purge; any other state deletes nothing. */
int sqlite_job_purge(struct store *st, int state, int64_t before_ms, int max, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_PURGE];
        int rc;

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int(s, 1, state);
        sqlite3_bind_int64(s, 2, before_ms);
        sqlite3_bind_int(s, 3, max);
        rc = sqlite_run(st, s, "job_purge");
        if (!rc)
                *n_out = sqlite3_changes(st->db);
        return rc;
}

/* tenant NULL deletes the job whatever its tenant, as job_get reads it. */
int sqlite_job_delete(struct store *st, const char *tenant, int64_t id)
{
        sqlite3_stmt *s = st->stmt[S_JOB_DELETE];
        int rc;

        sqlite3_bind_int64(s, 1, id);
        sqlite_bind_text(s, 2, tenant);
        rc = sqlite_run(st, s, "job_delete");
        if (!rc && sqlite3_changes(st->db) == 0)
                rc = BATON_ENOTFOUND;
        return rc;
}

static int64_t min_nonzero(int64_t a, int64_t b)
{
        if (!a || !b)
                return a ? a : b;
        return a < b ? a : b;
}

int sqlite_deadlines(struct store *st, struct store_deadlines *out)
{
        sqlite3_stmt *s = st->stmt[S_DEADLINES];
        int rc = sqlite3_step(s);

        memset(out, 0, sizeof(*out));
        if (rc == SQLITE_ROW) {
                out->run_at_ms = sqlite_deadline_col(s, 0);
                out->lease_until_ms = sqlite_deadline_col(s, 1);
                out->completed_min_ms = sqlite_deadline_col(s, 2);
                out->dead_min_ms =
                    min_nonzero(sqlite_deadline_col(s, 3), sqlite_deadline_col(s, 4));
                out->idem_min_ms = sqlite_deadline_col(s, 5);
                out->dep_work = sqlite3_column_type(s, 6) != SQLITE_NULL;
                out->audit_min_ms = sqlite_deadline_col(s, 7);
                rc = 0;
        } else {
                rc = sqlite_fail(st, rc, "deadlines");
        }
        sqlite_finish(s);
        return rc;
}

/* ---- version 6: many rows per call ---- */

static int cmp_id(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

/* A call costs no round trip here, so this is job_get for each id, in
 * ascending order, each once. out NULL reads nothing: the single writer
 * already holds the whole store, and there is no cache to fill. */
int sqlite_job_get_many(struct store *st, const char *tenant, const int64_t *ids, int n,
                        struct job_vec *out)
{
        int64_t *v;
        int rc = 0;

        if (n < 0 || n > STORE_MANY_MAX)
                return BATON_EINVAL;
        if (!out || n == 0)
                return 0;
        v = malloc((size_t)n * sizeof(*v));
        if (!v)
                return BATON_ENOMEM;
        memcpy(v, ids, (size_t)n * sizeof(*v));
        qsort(v, (size_t)n, sizeof(*v), cmp_id);
        for (int i = 0; i < n && !rc; i++) {
                struct job *j;

                if (i > 0 && v[i] == v[i - 1])
                        continue;
                j = job_vec_push(out);
                rc = j ? sqlite_job_get(st, tenant, v[i], j) : BATON_ENOMEM;
                if (rc && j)
                        out->n--; /* get_job left the slot empty */
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        free(v);
        return rc;
}
