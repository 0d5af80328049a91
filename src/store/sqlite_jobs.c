/*
 * sqlite_jobs.c: the job rows of the SQLite backend (struct store_ops): insert,
 * read, update (the whole row, or only the run columns a claim or settle
 * changes, a settle without the worker it keeps) and list jobs, the id
 * lookups of the scheduler (ready, due, expired, by state), purge and delete
 * of finished jobs, and the deadlines the store thread sleeps until. This is
 * the hot path: every enqueue, claim and settle runs a few of these
 * statements inside the group-commit transaction.
 *
 * Jobs map to one row with a column per field of struct job (times in Unix ms,
 * SQL NULL for a NULL string). The column list of the job statements is built
 * from one table (store_job_cols) so that insert, update and reads cannot disagree;
 * sqlite.c prepares them at open through sqlite_build_job_sql. A list of a
 * tenant's or a queue's jobs in any state reads each state and merges the
 * pages (migration 17 dropped the indexes that read them in one range, to
 * save an enqueue two index entries). Assumptions: as
 * for every store operation, calls come from the store thread inside a
 * transaction, and the statements are those of sqlite_internal.h.
 */
#include <stdbool.h>
#include <limits.h>
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

/* ---- job statements (prepared at open by sqlite.c) ---- */

/* The SQL of a job statement, built from store_job_cols: see sqlite_internal.h. */
int sqlite_build_job_sql(struct buf *b, int id)
{
        int rc;

        if (id == S_JOB_INSERT)
                return store_build_job_insert(b, '?', false);
        if (id == S_JOB_UPDATE)
                return store_build_job_update(b, '?');
        if (id == S_JOB_UPDATE_RUN)
                return store_build_job_update_run(b, '?', true);
        if (id == S_JOB_UPDATE_SETTLE)
                return store_build_job_update_run(b, '?', false);
        BATON_ASSERT(id == S_JOB_GET);
        rc = store_build_job_select(b, "");
        if (!rc)
                rc = buf_adds(b, " FROM jobs WHERE ");
        return rc ? rc : buf_adds(b, "id = ?1 AND (?2 IS NULL OR tenant = ?2)");
}

/* Migration 17 dropped job_tenant and job_tq, two index entries written by
 * every enqueue: a list of a tenant's or a queue's jobs in any state reads
 * each state through job_tstate or job_tqs, whose entries end in the id too,
 * and merges the pages (sqlite_job_list). */
static bool list_by_state(const struct job_filter *f)
{
        const char *ix = store_job_list_index(f);

        return f->state < 0 && (strcmp(ix, "job_tenant") == 0 || strcmp(ix, "job_tq") == 0);
}

/* Whether a list of one state reads job_tqs or job_tstate, which since
 * migration 18 hold every state but running. */
static bool by_state_index(const char *ix)
{
        return strcmp(ix, "job_tqs") == 0 || strcmp(ix, "job_tstate") == 0;
}

const char *sqlite_list_index(const char *ix)
{
        if (ix && strcmp(ix, "job_tenant") == 0)
                return "job_tstate";
        if (ix && strcmp(ix, "job_tq") == 0)
                return "job_tqs";
        return ix;
}

/* The filters a client may combine are too many for a statement each, so
 * the list is built per call; INDEXED BY names the index of the most
 * selective filter, so the planner cannot pick the primary key's walk (or
 * an index that needs a sort) on a store without statistics. A list read
 * state by state has the SQL of one state's read (the state is bound). */
int sqlite_build_job_list(struct buf *b, const struct job_filter *f)
{
        struct job_filter g = *f;
        const char *ix;
        int n = 0;
        int rc = store_build_job_select(b, "");

        if (list_by_state(f))
                g.state = JOB_PENDING;
        ix = store_job_list_index(&g);
        /* The running jobs are read through job_lease and sorted by id: a
         * set as small as the workers' concurrency (migration 18). */
        if (!rc && by_state_index(ix) && g.state == JOB_RUNNING)
                rc = buf_adds(b, " FROM jobs INDEXED BY job_lease WHERE state = " JOB_SQL_RUNNING
                                 " AND ");
        else if (!rc && by_state_index(ix))
                rc = buf_printf(
                    b, " FROM jobs INDEXED BY %s WHERE state <> " JOB_SQL_RUNNING " AND ", ix);
        else if (!rc)
                rc = buf_printf(b, " FROM jobs INDEXED BY %s WHERE ", ix);
        return rc ? rc : store_build_job_where(b, &g, '?', &n);
}

/* ---- jobs ---- */

int sqlite_job_insert(struct store *st, struct job *j)
{
        sqlite3_stmt *s = SQLITE_STMT(st, S_JOB_INSERT, SA(j->tenant), SA(j->created_at_ms));
        struct store_binder b = sqlite_binder(s, 3);

        store_bind_row(&b, &store_job_row, j);
        return sqlite_insert(st, s, &j->id);
}

/* On success the caller owns out's strings (job_free); out is untouched when
 * the job does not exist. */
int sqlite_job_get(struct store *st, const char *tenant, int64_t id, struct job *out)
{
        return sqlite_one(st, SQLITE_STMT(st, S_JOB_GET, SA(id), SA(tenant)), &store_job_row, out);
}

int sqlite_job_update(struct store *st, const struct job *j)
{
        sqlite3_stmt *s = SQLITE_STMT(st, S_JOB_UPDATE, SA(j->id));
        struct store_binder b = sqlite_binder(s, 2);

        store_bind_row(&b, &store_job_row, j);
        return sqlite_update(st, s);
}

#ifndef NDEBUG
/* Debug builds: every column job_update_run leaves out holds in j what the
 * row holds, or the write would lose a change (store.h). */
static void check_run_only(struct store *st, const struct job *j, bool with_worker)
{
        struct job stored = {0};
        const char *col;

        if (sqlite_job_get(st, NULL, j->id, &stored))
                return; /* the update answers BATON_ENOTFOUND */
        col = store_job_run_only(&stored, j, with_worker);
        BATON_ASSERTF(!col, "job %lld: job_update_run would not write its changed %s",
                      (long long)j->id, col);
        job_free(&stored);
}
#endif

/* Writes the run columns (without worker when !with_worker) with stmt. */
static int update_run(struct store *st, int stmt, const struct job *j, bool with_worker)
{
        sqlite3_stmt *s;
        struct store_binder b;

#ifndef NDEBUG
        check_run_only(st, j, with_worker);
#endif
        s = SQLITE_STMT(st, stmt, SA(j->id));
        b = sqlite_binder(s, 2);
        store_bind_job_run(&b, j, with_worker);
        return sqlite_update(st, s);
}

/* Writes the run columns only: a claim rewrites the entries of the indexes
 * over them and no others (store.h). */
int sqlite_job_update_run(struct store *st, const struct job *j)
{
        return update_run(st, S_JOB_UPDATE_RUN, j, true);
}

/* The run columns but worker: SQLite rewrites an index's entry whenever the
 * SET list names one of its columns, same value or not, so naming worker
 * would delete and insert the settled job's job_tworker entry unchanged
 * (store.h). */
int sqlite_job_update_settle(struct store *st, const struct job *j)
{
        return update_run(st, S_JOB_UPDATE_SETTLE, j, false);
}

/* The id statement stmt finds for (tenant, queue, key); BATON_ENOTFOUND for
 * none (or no key). */
static int find_by_key(struct store *st, int stmt, const char *tenant, const char *queue,
                       const char *key, int64_t *id_out)
{
        bool found = false;
        int64_t id = 0;
        int rc;

        if (!key)
                return BATON_ENOTFOUND;
        rc = sqlite_int(st, SQLITE_STMT(st, stmt, SA(tenant), SA(queue), SA(key)), &id, &found);
        if (!rc && !found)
                rc = BATON_ENOTFOUND;
        if (!rc)
                *id_out = id;
        return rc;
}

int sqlite_job_find_key(struct store *st, const char *tenant, const char *queue, const char *key,
                        int64_t *id_out)
{
        return find_by_key(st, S_JOB_FIND_KEY, tenant, queue, key, id_out);
}

int sqlite_job_find_active(struct store *st, const char *tenant, const char *queue, const char *key,
                           int64_t *id_out)
{
        return find_by_key(st, S_JOB_FIND_ACTIVE, tenant, queue, key, id_out);
}

/* Reads the rows of f (of state g->state when by state) with s, the
 * statement of sqlite_build_job_list, into out. */
static int list_read(struct store *st, sqlite3_stmt *s, const struct job_filter *g,
                     struct job_vec *out)
{
        struct store_jobs a = {out, g->bytes_max, 0};
        struct store_binder b = sqlite_binder(s, 1);

        store_bind_job_filter(&b, g);
        return sqlite_each(st, s, INT_MAX, store_row_job, &a, NULL);
}

/* Appends the matching jobs to out. The caller owns out and frees it with
 * job_vec_free, also after a failure (which may leave some jobs in it). A
 * list read state by state reads a page of each state with one statement
 * and merges them in id order (job_pages_merge). */
/* Prepares the list statement of f into *s. */
static int list_prepare(struct store *st, const struct job_filter *f, sqlite3_stmt **s)
{
        struct buf sql;
        int rc;

        buf_init(&sql, 8192);
        rc = sqlite_build_job_list(&sql, f);
        if (!rc)
                rc = sqlite_prepare_adhoc(st, s, "job_list", "%s", sql.ptr);
        buf_free(&sql);
        return rc;
}

int sqlite_job_list(struct store *st, const struct job_filter *f, struct job_vec *out)
{
        struct job_vec pages[JOB_STATE_COUNT];
        struct job_filter g = *f;
        sqlite3_stmt *s = NULL, *running = NULL;
        bool split = list_by_state(f);
        int rc;

        if (!f->tenant || f->limit <= 0)
                return BATON_EINVAL;
        memset(pages, 0, sizeof(pages));
        rc = list_prepare(st, f, &s);
        /* Read state by state: the running jobs' page has a statement of
         * its own (sqlite_build_job_list). */
        if (!rc && split) {
                g.state = JOB_RUNNING;
                rc = list_prepare(st, &g, &running);
        }
        if (!rc && !split)
                rc = list_read(st, s, f, out);
        for (int i = 0; !rc && split && i < JOB_STATE_COUNT; i++) {
                g.state = i;
                rc = list_read(st, i == JOB_RUNNING ? running : s, &g, &pages[i]);
        }
        if (!rc && split)
                rc = job_pages_merge(pages, JOB_STATE_COUNT, f->limit, f->desc, f->bytes_max, out);
        for (int i = 0; i < JOB_STATE_COUNT; i++)
                job_vec_free(&pages[i]);
        sqlite3_finalize(s);
        sqlite3_finalize(running);
        return rc == BATON_ETOOBIG ? BATON_ESTORE : rc;
}

int sqlite_job_due_ids(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out)
{
        return sqlite_ids(st, SQLITE_STMT(st, S_JOB_DUE, SA(now_ms), SA(max)), max, ids, n_out);
}

int sqlite_job_expired_ids(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out)
{
        return sqlite_ids(st, SQLITE_STMT(st, S_JOB_EXPIRED, SA(now_ms), SA(max)), max, ids, n_out);
}

int sqlite_job_shift_leases(struct store *st, int64_t delta_ms, int *n_out)
{
        int64_t n = 0;
        int rc = sqlite_run(st, SQLITE_STMT(st, S_JOB_SHIFT_LEASES, SA(delta_ms)), &n);

        *n_out = rc ? 0 : (int)n;
        return rc;
}

int sqlite_job_state_ids(struct store *st, const char *tenant, const char *queue, int state,
                         int64_t after_id, int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s =
            state == JOB_RUNNING
                ? SQLITE_STMT(st, S_JOB_RUNNING_IDS, SA(tenant), SA(queue), SA(after_id), SA(max))
                : SQLITE_STMT(st, S_JOB_STATE_IDS, SA(tenant), SA(queue), SA(state), SA(after_id),
                              SA(max));

        return sqlite_ids(st, s, max, ids, n_out);
}

/* Only terminal states (completed, dead, cancelled) have finished jobs to
 * purge; any other state deletes nothing. */
int sqlite_job_purge(struct store *st, int state, int64_t before_ms, int max, int *n_out)
{
        return sqlite_purge(st, SQLITE_STMT(st, S_JOB_PURGE, SA(state), SA(before_ms), SA(max)),
                            max, n_out);
}

/* tenant NULL deletes the job whatever its tenant, as job_get reads it. */
int sqlite_job_delete(struct store *st, const char *tenant, int64_t id)
{
        return sqlite_update(st, SQLITE_STMT(st, S_JOB_DELETE, SA(id), SA(tenant)));
}

int sqlite_job_purge_own(struct store *st, int state, int64_t now_ms, int max, int *n_out)
{
        return sqlite_purge(st, SQLITE_STMT(st, S_JOB_PURGE_OWN, SA(state), SA(now_ms), SA(max)),
                            max, n_out);
}

int sqlite_job_own_deadline(struct store *st, int64_t *at_ms)
{
        *at_ms = 0;
        return sqlite_int(st, st->stmt[S_JOB_OWN_DEADLINE], at_ms, NULL);
}

static int read_deadlines(void *ctx, const struct store_row *r, int i)
{
        (void)i;
        store_read_deadlines(r, ctx);
        return 0;
}

int sqlite_deadlines(struct store *st, struct store_deadlines *out)
{
        int n = 0;
        int rc;

        memset(out, 0, sizeof(*out));
        rc = sqlite_each(st, st->stmt[S_DEADLINES], 1, read_deadlines, out, &n);
        return !rc && n == 0 ? sqlite_fail(st, SQLITE_DONE, "deadlines") : rc;
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
