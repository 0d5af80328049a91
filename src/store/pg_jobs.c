/*
 * pg_jobs.c: job rows in the PostgreSQL backend (struct store_ops): insert,
 * get, update, lists, the claim reads, the read of a batch's jobs ahead
 * (job_get_many), due and expired ids, purge, delete and the deadlines read.
 * Split from pg.c, which keeps the connection, transactions and pipeline.
 * Workload: every enqueue, claim, settle and expiry reads or writes job rows,
 * many of them in one group-commit batch, so the hot paths answer from rows
 * already read (the kept results of pg.c) and defer writes that cannot fail.
 *
 * Jobs map to one row with a column per field of struct job (times in Unix
 * ms, SQL NULL for a NULL string); the column list of the job statements is
 * built at open from one table (store_job_cols), as in sqlite.c, so that insert,
 * update and reads cannot disagree. Claims lock what they return (FOR UPDATE,
 * SKIP LOCKED where a skipped row cannot strand a job; see build_job_sql).
 * Assumes the single caller of the store interface (the store thread).
 */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/job_state.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

/* The job statements whose column lists come from store_job_cols are built when the
 * backend first opens (pg_build_stmts); these hold their text. */
static const struct pg_stmt
    S_JOB_IDS = {"pg_job_ids", "SELECT nextval(pg_get_serial_sequence('jobs', 'id'))"
                               " FROM generate_series(1, $1)"},
    S_JOB_FIND_KEY = {"pg_job_find_key",
                      "SELECT id FROM jobs WHERE tenant = $1 AND queue = $2 AND dkey = $3"
                      " AND dkey IS NOT NULL AND state IN " JOB_SQL_KEY_HOLDERS},
    S_JOB_FIND_ACTIVE = {"pg_job_find_active",
                         "SELECT id FROM jobs WHERE tenant = $1 AND queue = $2 AND dkey = $3"
                         " AND dkey IS NOT NULL AND state IN " JOB_SQL_ACTIVE " LIMIT 1"},
    S_JOB_DUE = {"pg_job_due_ids",
                 "SELECT id FROM jobs WHERE state IN " JOB_SQL_DUE " AND run_at <= $1"
                 " ORDER BY run_at LIMIT $2"},
    S_JOB_EXPIRED = {"pg_job_expired_ids",
                     "SELECT id FROM jobs WHERE state = " JOB_SQL_RUNNING " AND lease_until <= $1"
                     " ORDER BY lease_until LIMIT $2"},
    S_JOB_SHIFT_LEASES = {"pg_job_shift_leases",
                          "UPDATE jobs SET lease_until = lease_until + $1,"
                          " started_at = started_at + $1 WHERE state = " JOB_SQL_RUNNING},
    S_JOB_STATE_IDS = {"pg_job_state_ids",
                       "SELECT id FROM jobs WHERE tenant = $1 AND queue = $2 AND state = $3"
                       " AND id > $4 ORDER BY id LIMIT $5"},
    S_JOB_PURGE = {"pg_job_purge",
                   "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                   " WHERE state IN " JOB_SQL_TERMINAL " AND state = $1 AND finished_at < $2"
                   " AND NOT EXISTS (SELECT 1 FROM dep_work w"
                   " WHERE w.job_id = jobs.id)"
                   " ORDER BY finished_at LIMIT $3)"},
    S_JOB_DELETE = {"pg_job_delete",
                    "DELETE FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)"
                    " AND NOT EXISTS (SELECT 1 FROM dep_work w WHERE w.job_id = $1)"},
    /* Per-queue retention (see sqlite.c). */
    S_JOB_PURGE_OWN = {"pg_job_purge_own",
                       "DELETE FROM jobs WHERE id IN (SELECT j.id FROM queue_limits q"
                       " JOIN jobs j ON j.tenant = q.tenant AND j.queue = q.queue"
                       " AND j.state IN " JOB_SQL_TERMINAL " AND j.state = $1"
                       " AND j.finished_at < $2 - " STORE_RET_OF(
                           "$1") " WHERE " STORE_RET_ANY
                                 " AND " STORE_RET_OF(
                                     "$1") " > 0 AND NOT EXISTS (SELECT 1 FROM dep_work w"
                                           " WHERE w.job_id = j.id) LIMIT $3)"},
    S_JOB_OWN_DEADLINE = {"pg_job_own_deadline",
                          "SELECT MIN(at) FROM (SELECT (SELECT j.finished_at FROM jobs j"
                          " WHERE j.state IN " JOB_SQL_TERMINAL " AND j.tenant = q.tenant"
                          " AND j.queue = q.queue AND j.state = s.st ORDER BY j.finished_at"
                          " LIMIT 1) + " STORE_RET_OF(
                              "s.st") " AS at FROM queue_limits q"
                                      " CROSS JOIN (VALUES (" JOB_SQL_COMPLETED "), (" JOB_SQL_DEAD
                                      "), (" JOB_SQL_CANCELLED ")) s (st) WHERE " STORE_RET_ANY
                                      " AND " STORE_RET_OF("s.st") " > 0) m"},
    S_DEADLINES = {"pg_deadlines",
                   "SELECT"
                   " (SELECT run_at FROM jobs WHERE state IN " JOB_SQL_DUE
                   " ORDER BY run_at LIMIT 1),"
                   " (SELECT lease_until FROM jobs WHERE state = " JOB_SQL_RUNNING
                   " ORDER BY lease_until LIMIT 1),"
                   " (SELECT finished_at FROM jobs WHERE state IN " JOB_SQL_TERMINAL
                   " AND state = " JOB_SQL_COMPLETED "  ORDER BY state, finished_at LIMIT 1),"
                   " (SELECT finished_at FROM jobs WHERE state IN " JOB_SQL_TERMINAL
                   " AND state = " JOB_SQL_DEAD "  ORDER BY state, finished_at LIMIT 1),"
                   " (SELECT finished_at FROM jobs WHERE state IN " JOB_SQL_TERMINAL
                   " AND state = " JOB_SQL_CANCELLED "  ORDER BY state, finished_at LIMIT 1),"
                   " (SELECT expires_at FROM idempotency ORDER BY expires_at LIMIT 1),"
                   " (SELECT job_id FROM dep_work ORDER BY job_id LIMIT 1),"

                   " (SELECT at FROM audit ORDER BY at LIMIT 1),"
                   " (SELECT last_seen FROM workers ORDER BY last_seen LIMIT 1)"},
    /* Which of the jobs $1 are parents: one index probe each. */
    S_DEP_PARENTS = {"pg_dep_parents",
                     "SELECT d.parent_id FROM unnest($1::bigint[]) AS p(id) CROSS JOIN LATERAL"
                     " (SELECT parent_id FROM job_deps WHERE parent_id = p.id LIMIT 1) d"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {
    &S_JOB_FIND_KEY,  &S_JOB_DUE,          &S_JOB_EXPIRED,     &S_JOB_STATE_IDS,
    &S_JOB_PURGE,     &S_JOB_DELETE,       &S_DEADLINES,       &S_DEP_PARENTS,
    &S_JOB_PURGE_OWN, &S_JOB_OWN_DEADLINE, &S_JOB_FIND_ACTIVE,
};
const struct pg_stmt_list pg_jobs_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

static const char *const built_names[PG_B_COUNT] = {
    "pg_job_insert",      "pg_job_get",           "pg_job_update",   "pg_job_insert_id",
    "pg_group_ready_ids", "pg_nogroup_ready_ids", "pg_job_get_many", "pg_group_ready_many",
    "pg_job_peek",        "pg_audit_list_0",      "pg_audit_list_1", "pg_audit_list_2",
    "pg_audit_list_3",    "pg_audit_list_4",      "pg_audit_list_5", "pg_audit_list_6",
    "pg_audit_list_7",
};

/* group_ready_many: for each group of the array $3 (in order, ord), its
 * first $4 ready jobs that no other transaction holds (SKIP LOCKED: a claim
 * never waits on a job row, so it cannot join a cycle with an operation that
 * holds a job and waits for the queue row), whole rows as job_get reads
 * them, then ord and n: how many ready jobs the group shows at all (up to
 * $4), so that the caller can tell a skipped job from an empty group. A
 * group without a returned job comes as one row of NULL job columns. */
static int build_group_many_sql(struct buf *b)
{
        int rc = store_build_job_select(b, "j.");

        if (!rc)
                rc = buf_adds(b,
                              ", g.ord, c.n FROM unnest($3::text[]) WITH ORDINALITY AS g(name, ord)"
                              " CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM jobs"
                              " WHERE state = " JOB_SQL_QUEUED
                              " AND tenant = $1 AND queue = $2 AND grp = g.name"
                              " LIMIT $4) v) c LEFT JOIN LATERAL (SELECT * FROM jobs"
                              " WHERE state = " JOB_SQL_QUEUED
                              " AND tenant = $1 AND queue = $2 AND grp = g.name"
                              " ORDER BY priority, run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) j"
                              " ON true");
        return rc;
}

/* The job_list statement of f. The page stops after the row that takes the
 * rows' sizes past the byte budget, the last parameter (store.h's
 * bytes_max): each row's size is counted in the window below as
 * JOB_WIRE_FIXED_BYTES plus the octets of its text columns, never more than
 * core's job_wire_bytes, so core sees the same cut or a later one. */
int pg_build_job_list(struct buf *b, const struct job_filter *f)
{
        const char *dir = f->desc ? " DESC" : "";
        int n = 1;
        int rc = store_build_job_select(b, "");

        if (!rc)
                rc = buf_printf(b,
                                " FROM (SELECT *, sum(baton_sz) OVER (ORDER BY id%s) AS baton_run"
                                " FROM (",
                                dir);
        if (!rc)
                rc = store_build_job_select(b, "");
        if (!rc)
                rc = buf_printf(b, ", %d::bigint", JOB_WIRE_FIXED_BYTES);
        for (int c = 0; c < store_job_ncols && !rc; c++)
                if (store_job_cols[c].kind == COL_TEXT)
                        rc = buf_printf(b, " + coalesce(octet_length(%s), 4)",
                                        store_job_cols[c].name);
        if (!rc)
                rc = buf_adds(b, " AS baton_sz FROM jobs WHERE ");
        if (!rc)
                rc = store_build_job_where(b, f, '$', &n);
        return rc ? rc
                  : buf_printf(b, ") a) w WHERE baton_run - baton_sz <= $%d ORDER BY id%s", n, dir);
}

static int build_job_sql(struct buf *b, int id)
{
        int rc = 0;

        /* With an id taken from the sequence ahead, or from the table's
         * sequence; the pending-key index is the only one an insert can clash
         * on. */
        if (id == PG_B_INSERT_ID)
                return store_build_job_insert(b, '$', true);
        if (id == PG_B_INSERT) {
                rc = store_build_job_insert(b, '$', false);
                return rc ? rc : buf_adds(b, " ON CONFLICT DO NOTHING RETURNING id");
        }
        if (id == PG_B_GROUP_MANY)
                return build_group_many_sql(b);
        if (id == PG_B_UPDATE)
                return store_build_job_update(b, '$');
        rc = store_build_job_select(b, "");
        if (!rc)
                rc = buf_adds(b, " FROM jobs WHERE ");
        if (rc)
                return rc;
        /* job_get locks the row: core reads a job to change it (claim, settle,
         * expire, cancel), and with several nodes a read that does not lock
         * lets two of them each change the copy they read, the later write
         * undoing the earlier one. The lock makes the second reader wait for
         * the first's commit and read its result. */
        if (id == PG_B_GET)
                return buf_adds(b, "id = $1 AND ($2::text IS NULL OR tenant = $2) FOR UPDATE");
        /* A read only to answer (GET /v1/jobs/{id}) takes no lock: a lock
         * would make another node's claim (SKIP LOCKED) pass the job over. */
        if (id == PG_B_PEEK)
                return buf_adds(b, "id = $1 AND ($2::text IS NULL OR tenant = $2)");
        /* The jobs a batch's operations will read (job_get_many), locked as
         * job_get would. */
        if (id == PG_B_GET_MANY)
                return buf_adds(b, "id = ANY($1::bigint[]) AND ($2::text IS NULL OR tenant = $2)"
                                   " FOR UPDATE");
        /* The claims of version 5 (pg_groups.c): the same, one group at a time
         * (job_group_ready), but a group's jobs wait for a lock rather than
         * skip it. A group's claims already take turns on the queue row, and
         * the claim judges the group by what this read returns: had it
         * skipped the only ready job of a group (locked a moment by a read on
         * another node), it would find the group empty and drop its row,
         * stranding the job. The jobs without a group have no such row and
         * skip what another transaction holds. */
        if (id == PG_B_GROUP_READY)
                return buf_adds(b, "state = " JOB_SQL_QUEUED
                                   " AND tenant = $1 AND queue = $2 AND grp = $3"
                                   " ORDER BY priority, run_at, id LIMIT $4 FOR UPDATE");
        if (id == PG_B_NOGROUP_READY)
                return buf_adds(
                    b, "state = " JOB_SQL_QUEUED " AND tenant = $1 AND queue = $2 AND grp IS NULL"
                       " ORDER BY priority, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED");
        BATON_ASSERT(0 && "every job statement is built above");
        return BATON_EINVAL;
}

int pg_build_stmts(struct store *st)
{
        struct buf b;
        int rc = 0;

        _Static_assert(PG_B_COUNT <= PG_BUILT_MAX, "PG_BUILT_MAX too small");
        BATON_ASSERT(strcmp(store_job_cols[STORE_JOB_COL_PRIORITY].name, "priority") == 0);
        buf_init(&b, PG_SQL_MAX);
        for (int id = 0; id < PG_B_COUNT && !rc; id++) {
                buf_reset(&b);
                rc = id >= PG_B_AUDIT ? store_build_audit_list(&b, id - PG_B_AUDIT, '$')
                                      : build_job_sql(&b, id);
                if (!rc) {
                        st->built_sql[id] = strdup(b.ptr);
                        rc = st->built_sql[id] ? 0 : BATON_ENOMEM;
                }
                st->built[id].name = built_names[id];
                st->built[id].sql = st->built_sql[id];
        }
        buf_free(&b);
        return rc == BATON_ETOOBIG ? BATON_ESTORE : rc;
}

/* ---- jobs ---- */

/* A job whose insert may clash on a key: a pending key is unique among
 * scheduled and queued jobs, a key enqueued with unique_while "active" among
 * such jobs that have not ended. */
static bool key_pending(const struct job *j)
{
        return j->key && (j->unique_active || j->state == JOB_SCHEDULED || j->state == JOB_QUEUED);
}

/* The next job id reserved from the sequence, reserving PG_IDS_AHEAD more
 * when none is left: sequence values are never handed out twice, so an id
 * reserved and not used (rollback, restart) is simply skipped. */
static int take_id(struct store *st, int64_t *id_out)
{
        if (st->ids_pos == st->ids_n) {
                struct pg_params p = {0};
                PGresult *r = NULL;
                int rc;

                pg_p_i64(&p, PG_IDS_AHEAD);
                rc = pg_exec(st, &S_JOB_IDS, &p, &r);
                for (int i = 0; !rc && i < PQntuples(r) && i < PG_IDS_AHEAD; i++)
                        st->ids[i] = pg_i64(r, i, 0);
                st->ids_n = rc ? 0 : PQntuples(r);
                st->ids_pos = 0;
                PQclear(r);
                if (rc || st->ids_n == 0)
                        return rc ? rc : BATON_ESTORE;
        }
        *id_out = st->ids[st->ids_pos++];
        return 0;
}

/* A job without a pending key cannot clash with anything: its id is taken
 * ahead and the insert goes with the next round trip (so a batch of enqueues
 * costs one round trip per PG_IDS_AHEAD jobs). A keyed pending job needs the
 * answer (BATON_ECONFLICT when the key is taken), which ON CONFLICT DO
 * NOTHING gives without aborting the transaction. */
int pg_job_insert(struct store *st, struct job *j)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int64_t id = 0;
        int rc;

        if (!key_pending(j)) {
                rc = take_id(st, &id);
                if (rc)
                        return rc;
                pg_p_i64(&p, id);
        }
        pg_p_row(PG_ADD(&p, SA(j->tenant), SA(j->created_at_ms)), &store_job_row, j);
        if (id) {
                rc = pg_defer_write(st, &st->built[PG_B_INSERT_ID], &p);
                if (!rc)
                        j->id = id;
                return rc;
        }
        rc = pg_exec(st, &st->built[PG_B_INSERT], &p, &r);
        if (!rc && PQntuples(r) == 0)
                rc = BATON_ECONFLICT; /* the pending key is taken */
        if (!rc)
                j->id = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

/* The jobs this operation read with job_get hold a row lock until the
 * transaction ends: they exist, and nobody else can change or delete them. */
static int note_locked(struct store *st, int64_t id)
{
        return pg_idset_add(&st->locked, id);
}

static bool holds_lock(const struct store *st, int64_t id)
{
        return pg_idset_has(&st->locked, id) || pg_idset_has(&st->txn_locked, id);
}

static void forget_locked(struct store *st, int64_t id)
{
        pg_idset_del(&st->locked, id);
        pg_idset_del(&st->txn_locked, id);
}

/* A kept row of id no longer shows the job as it is. */
static void forget_ready(struct store *st, int64_t id)
{
        for (int i = 0; i < PG_KEPT_MAX; i++)
                for (int r = 0; st->kept[i].res && r < st->kept[i].n; r++)
                        if (st->kept[i].ids[r] == id)
                                st->kept[i].ids[r] = 0;
}

int pg_job_get(struct store *st, const char *tenant, int64_t id, struct job *out)
{
        struct job j;
        int rc;

        int row = 0;
        PGresult *kept = pg_kept_row(st, tenant, id, &row);

        if (kept) {
                struct store_row r = pg_row(kept, row);

                rc = store_read(&r, &store_job_row, &j);
                if (!rc)
                        *out = j;
                return rc;
        }
        rc = pg_get_one(st, &st->built[PG_B_GET], PG_ARGS(SA(id), SA(tenant)), &store_job_row, &j);
        if (!rc)
                rc = note_locked(st, id);
        if (!rc)
                *out = j;
        else if (rc == BATON_ENOMEM)
                job_free(&j);
        return rc;
}

int pg_job_peek(struct store *st, const char *tenant, int64_t id, struct job *out)
{
        struct job j;
        int row = 0, rc;
        PGresult *kept = pg_kept_row(st, tenant, id, &row);

        /* A row this transaction keeps (read ahead or written) is the truth;
         * anything else is read in the transaction, so it sees its writes. */
        if (kept)
                return pg_job_get(st, tenant, id, out);
        rc = pg_get_one(st, &st->built[PG_B_PEEK], PG_ARGS(SA(id), SA(tenant)), &store_job_row, &j);
        if (!rc)
                *out = j;
        else if (rc == BATON_ENOMEM)
                job_free(&j);
        return rc;
}

/* An update that makes a keyed job pending may clash on the pending-key index,
 * which aborts the statement; a savepoint of its own keeps the transaction
 * usable (store.h). Both commands are deferred into the update's round trip. */
int pg_job_update(struct store *st, const struct job *j)
{
        struct pg_params p = {0};
        bool guard = key_pending(j);
        int64_t n = 0;
        int rc = 0;

        forget_ready(st, j->id);
        pg_p_row(PG_ADD(&p, SA(j->id)), &store_job_row, j);
        /* The common case (claim, settle, expire) updates a job this operation
         * has just read and locked: the row exists and cannot clash, so the
         * update needs no answer of its own and travels with the next round
         * trip. A failure there (which only a lost connection or a broken
         * invariant causes) fails the rest of the transaction, so the commit
         * reports it for the whole batch. */
        if (!guard && holds_lock(st, j->id))
                return pg_defer_write(st, &st->built[PG_B_UPDATE], &p);
        if (guard)
                rc = pg_open_op_savepoint(st);
        if (!rc && guard)
                rc = pg_defer(st, "SAVEPOINT w");
        if (rc)
                return rc;
        rc = pg_run(st, &st->built[PG_B_UPDATE], &p, &n);
        if (guard && rc && !st->broken)
                pg_defer(st, "ROLLBACK TO SAVEPOINT w");
        if (guard && !st->broken) {
                int rc2 = pg_defer(st, "RELEASE SAVEPOINT w");

                rc = rc ? rc : rc2;
        }
        if (!rc && n == 0)
                rc = BATON_ENOTFOUND;
        return rc;
}

/* Writes every column: PostgreSQL writes a new version of the whole row
 * whatever the update names, and an update of the run columns changes
 * indexed columns, so a narrower statement would save little (store.h). */
int pg_job_update_run(struct store *st, const struct job *j)
{
        return pg_job_update(st, j);
}

/* The whole row as well, for the same reason (store.h). */
int pg_job_update_settle(struct store *st, const struct job *j)
{
        return pg_job_update(st, j);
}

/* The id statement stmt finds for (tenant, queue, key); BATON_ENOTFOUND for
 * none (or no key). */
static int find_by_key(struct store *st, const struct pg_stmt *stmt, const char *tenant,
                       const char *queue, const char *key, int64_t *id_out)
{
        int64_t id = 0;
        int n = 0, rc;

        if (!key)
                return BATON_ENOTFOUND;
        rc = pg_ids(st, stmt, PG_ARGS(SA(tenant), SA(queue), SA(key)), 1, &id, &n);
        if (!rc && n == 0)
                rc = BATON_ENOTFOUND;
        if (!rc)
                *id_out = id;
        return rc;
}

int pg_job_find_key(struct store *st, const char *tenant, const char *queue, const char *key,
                    int64_t *id_out)
{
        return find_by_key(st, &S_JOB_FIND_KEY, tenant, queue, key, id_out);
}

int pg_job_find_active(struct store *st, const char *tenant, const char *queue, const char *key,
                       int64_t *id_out)
{
        return find_by_key(st, &S_JOB_FIND_ACTIVE, tenant, queue, key, id_out);
}

/* Appends the matching jobs to out; the caller frees out with job_vec_free,
 * also after a failure. */
int pg_job_list(struct store *st, const struct job_filter *f, struct job_vec *out)
{
        struct pg_params p = {0};
        struct store_binder b = pg_binder(&p);
        struct store_jobs a = {out, 0, 0}; /* the statement keeps to bytes_max */
        struct pg_stmt s = {PG_ADHOC "pg_job_list", NULL};
        struct buf sql;
        int rc;

        if (!f->tenant || f->limit <= 0)
                return BATON_EINVAL;
        buf_init(&sql, PG_SQL_MAX);
        rc = pg_build_job_list(&sql, f);
        s.sql = sql.ptr;
        if (!rc) {
                store_bind_job_filter(&b, f);
                pg_p_i64(&p, f->bytes_max ? (int64_t)f->bytes_max : INT64_MAX);
                rc = pg_each(st, &s, &p, INT_MAX, store_row_job, &a, NULL);
        }
        buf_free(&sql);
        return rc == BATON_ETOOBIG ? BATON_ESTORE : rc;
}

/* A claim reads the ids and then each job (job_get) to lease it: the query
 * returns whole rows, locked, and keeps them until the operation ends, so
 * those job_get calls need no round trip. A row leaves the cache when the job
 * is written (the next read must see the write). prios (may be NULL) gets
 * each job's priority. */
static int keep_ready(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int max,
                      int64_t *ids, int *prios, int *n_out)
{
        PGresult *r = NULL;
        int rc, n = 0;

        *n_out = 0;
        if (max <= 0)
                return 0;
        rc = pg_exec(st, s, p, &r);
        for (int i = 0; !rc && i < PQntuples(r) && n < max; i++) {
                ids[n] = pg_i64(r, i, 0);
                if (prios)
                        prios[n] = (int)pg_i64(r, i, STORE_JOB_READ_FIXED + STORE_JOB_COL_PRIORITY);
                rc = note_locked(st, ids[n++]);
        }
        if (rc) {
                PQclear(r);
                return rc;
        }
        pg_kept_add(st, r, ids, n, false);
        *n_out = n;
        return 0;
}

int pg_group_ready_rows(struct store *st, const char *tenant, const char *queue, const char *grp,
                        int max, int64_t *ids, int *prios, int *n_out)
{
        struct pg_params p = {0};

        PG_ADD(&p, SA(tenant), SA(queue));
        if (grp)
                pg_p_text(&p, grp);
        pg_p_i64(&p, max);
        return keep_ready(st, &st->built[grp ? PG_B_GROUP_READY : PG_B_NOGROUP_READY], &p, max, ids,
                          prios, n_out);
}

/* ---- reads of many rows (version 6) ---- */

/* Writes the array literal of n ids ("{1,2,3}") into a malloc'd string
 * owned by the caller. */
static char *id_array(const int64_t *ids, int n)
{
        char *s = malloc((size_t)n * 21 + 3), *w = s;

        if (!s)
                return NULL;
        *w++ = '{';
        for (int i = 0; i < n; i++)
                w += sprintf(w, "%s%" PRId64, i ? "," : "", ids[i]);
        *w++ = '}';
        *w = 0;
        return s;
}

/* Writes the array literal of n texts, each quoted and escaped, into a
 * malloc'd string owned by the caller. */
static char *text_array(const char *const *v, int n)
{
        struct buf b;
        char *s = NULL;
        int rc;

        buf_init(&b, (size_t)1 << 24);
        rc = buf_adds(&b, "{");
        for (int i = 0; i < n && !rc; i++) {
                rc = buf_adds(&b, i ? ",\"" : "\"");
                for (const char *c = v[i]; *c && !rc; c++)
                        rc = buf_printf(&b, "%s%c", *c == '"' || *c == '\\' ? "\\" : "", *c);
                if (!rc)
                        rc = buf_adds(&b, "\"");
        }
        if (!rc)
                rc = buf_adds(&b, "}");
        if (!rc)
                s = strdup(b.ptr);
        buf_free(&b);
        return s;
}

static int cmp_job_id(const void *a, const void *b)
{
        int64_t x = ((const struct job *)a)->id, y = ((const struct job *)b)->id;

        return x < y ? -1 : x > y;
}

/* Notes the jobs of r (job_get_many's answer, locked outside any operation)
 * as held to the end of the transaction, and those not among the parents
 * of dr (the pg_dep_parents answer, read after the locks were taken) as
 * having no children. */
static int note_txn_rows(struct store *st, const PGresult *r, const PGresult *dr)
{
        int rc = 0;

        for (int i = 0; i < PQntuples(r) && !rc; i++) {
                int64_t id = pg_i64(r, i, 0);
                bool parent = false;

                for (int d = 0; d < PQntuples(dr) && !parent; d++)
                        parent = pg_i64(dr, d, 0) == id;
                rc = pg_idset_add(&st->txn_locked, id);
                if (!rc && !parent)
                        rc = pg_idset_add(&st->nochild, id);
        }
        return rc;
}

/* One round trip for the jobs and, outside an operation, which of them have
 * children: the second statement runs after the first has taken its locks
 * (a pipeline runs in order, each statement with a fresh snapshot), so it
 * sees every child added before; none can be added after without the lock. */
int pg_job_get_many(struct store *st, const char *tenant, const int64_t *ids, int n,
                    struct job_vec *out)
{
        const struct pg_stmt *s[2] = {&st->built[PG_B_GET_MANY], &S_DEP_PARENTS};
        struct pg_params p = {0}, dp = {0};
        const struct pg_params *pp[2] = {&p, &dp};
        PGresult *res[2] = {NULL, NULL};
        int64_t *row_ids = NULL;
        bool txn = st->sp == PG_SP_NONE;
        char *arr;
        int rc, k = txn ? 2 : 1, first = out ? out->n : 0;

        if (n < 0 || n > STORE_MANY_MAX)
                return BATON_EINVAL;
        if (n == 0)
                return 0;
        arr = id_array(ids, n);
        if (!arr)
                return BATON_ENOMEM;
        PG_ADD(&p, SA(arr), SA(tenant));
        pg_p_text(&dp, arr);
        rc = pg_exec_n(st, s, pp, k, res);
        if (!rc && txn)
                rc = note_txn_rows(st, res[0], res[1]);
        for (int i = 0; !rc && !txn && i < PQntuples(res[0]); i++)
                rc = note_locked(st, pg_i64(res[0], i, 0));
        if (!rc && out) {
                struct store_jobs a = {out, 0, 0};

                rc = pg_rows_each(res[0], INT_MAX, store_row_job, &a, NULL);
        }
        if (!rc && out)
                qsort(out->v + first, (size_t)(out->n - first), sizeof(*out->v), cmp_job_id);
        if (!rc && PQntuples(res[0]) > 0) {
                row_ids = malloc((size_t)PQntuples(res[0]) * sizeof(*row_ids));
                for (int i = 0; row_ids && i < PQntuples(res[0]); i++)
                        row_ids[i] = pg_i64(res[0], i, 0);
        }
        if (row_ids) {
                pg_kept_add(st, res[0], row_ids, PQntuples(res[0]), txn);
                res[0] = NULL;
        }
        free(row_ids);
        PQclear(res[0]);
        PQclear(res[1]);
        free(arr);
        return rc;
}

/* Row i of a group_ready_many answer: the column of ord and of n. */
#define GM_ORD (STORE_JOB_READ_FIXED + store_job_ncols)
#define GM_N (GM_ORD + 1)

int pg_group_ready_many(struct store *st, const char *tenant, const char *queue,
                        const char *const *grps, int n_grps, int per, int64_t *ids, int *prios,
                        int *n_out, bool *busy)
{
        PGresult *r = NULL;
        int64_t *row_ids = NULL;
        char *arr;
        int rc;

        if (n_grps < 0 || n_grps > STORE_MANY_MAX || per < 1 || per > STORE_READ_PER_MAX)
                return BATON_EINVAL;
        for (int i = 0; i < n_grps; i++) {
                if (!grps[i])
                        return BATON_EINVAL;
                n_out[i] = 0;
                busy[i] = false;
        }
        if (n_grps == 0)
                return 0;
        arr = text_array(grps, n_grps);
        if (!arr)
                return BATON_ENOMEM;
        rc = pg_exec(st, &st->built[PG_B_GROUP_MANY],
                     PG_ARGS(SA(tenant), SA(queue), SA(arr), SA(per)), &r);
        if (!rc && PQntuples(r) > 0) {
                row_ids = calloc((size_t)PQntuples(r), sizeof(*row_ids));
                rc = row_ids ? 0 : BATON_ENOMEM;
        }
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                int g = (int)pg_i64(r, i, GM_ORD) - 1, at;

                if (g < 0 || g >= n_grps)
                        continue;
                busy[g] = pg_i64(r, i, GM_N) > n_out[g];
                if (PQgetisnull(r, i, 0) || n_out[g] == per)
                        continue;
                at = g * per + n_out[g]++;
                ids[at] = row_ids[i] = pg_i64(r, i, 0);
                prios[at] = (int)pg_i64(r, i, STORE_JOB_READ_FIXED + STORE_JOB_COL_PRIORITY);
                rc = note_locked(st, ids[at]);
        }
        /* busy as the last row of each group left it: fewer jobs than the
         * group shows (up to per) means some were skipped. */
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                int g = (int)pg_i64(r, i, GM_ORD) - 1;

                if (g >= 0 && g < n_grps)
                        busy[g] = pg_i64(r, i, GM_N) > n_out[g];
        }
        if (!rc && row_ids) {
                pg_kept_add(st, r, row_ids, PQntuples(r), false);
                r = NULL;
        }
        PQclear(r);
        free(row_ids);
        free(arr);
        return rc;
}

int pg_job_due_ids(struct store *st, int64_t now, int max, int64_t *ids, int *n_out)
{
        return pg_ids(st, &S_JOB_DUE, PG_ARGS(SA(now), SA(max)), max, ids, n_out);
}

int pg_job_expired_ids(struct store *st, int64_t now, int max, int64_t *ids, int *n_out)
{
        return pg_ids(st, &S_JOB_EXPIRED, PG_ARGS(SA(now), SA(max)), max, ids, n_out);
}

int pg_job_shift_leases(struct store *st, int64_t delta_ms, int *n_out)
{
        int64_t n = 0;
        int rc = pg_run(st, &S_JOB_SHIFT_LEASES, PG_ARGS(SA(delta_ms)), &n);

        *n_out = rc ? 0 : (int)n;
        return rc;
}

int pg_job_state_ids(struct store *st, const char *tenant, const char *queue, int state,
                     int64_t after_id, int max, int64_t *ids, int *n_out)
{
        return pg_ids(st, &S_JOB_STATE_IDS,
                      PG_ARGS(SA(tenant), SA(queue), SA(state), SA(after_id), SA(max)), max, ids,
                      n_out);
}

/* Only terminal states have finished jobs to purge; others delete nothing. */
int pg_job_purge(struct store *st, int state, int64_t before_ms, int max, int *n_out)
{
        pg_txn_forget(st); /* it may delete rows read before */
        return pg_purge(st, &S_JOB_PURGE, PG_ARGS(SA(state), SA(before_ms)), max, n_out);
}

int pg_job_delete(struct store *st, const char *tenant, int64_t id)
{
        forget_locked(st, id);
        forget_ready(st, id);
        return pg_update(st, &S_JOB_DELETE, PG_ARGS(SA(id), SA(tenant)));
}

int pg_job_purge_own(struct store *st, int state, int64_t now_ms, int max, int *n_out)
{
        pg_txn_forget(st); /* it may delete rows read before */
        return pg_purge(st, &S_JOB_PURGE_OWN, PG_ARGS(SA(state), SA(now_ms)), max, n_out);
}

int pg_job_own_deadline(struct store *st, int64_t *at_ms)
{
        *at_ms = 0;
        return pg_int(st, &S_JOB_OWN_DEADLINE, NULL, at_ms, NULL);
}

static int read_deadlines(void *ctx, const struct store_row *r, int i)
{
        (void)i;
        store_read_deadlines(r, ctx);
        return 0;
}

int pg_deadlines(struct store *st, struct store_deadlines *out)
{
        memset(out, 0, sizeof(*out));
        return pg_each(st, &S_DEADLINES, NULL, 1, read_deadlines, out, NULL);
}
