/*
 * pg.c: the PostgreSQL backend of struct store_ops, for one or several nodes
 * sharing a database. One connection, used only by the store thread (the store
 * interface guarantees a single caller). The workload is group commit: a batch
 * of short operations inside one transaction, each isolated by a savepoint, so
 * round trips are what an operation costs. Three things keep them down:
 * statements are prepared once per connection (on first use) and executed by
 * name; transaction control (BEGIN, SAVEPOINT, RELEASE, ROLLBACK TO, COMMIT) is
 * deferred and travels in one libpq pipeline with the next statement, so an
 * operation of one statement costs one round trip and one that touched nothing
 * costs none; and writes that may clash on a unique index (inserts) use ON
 * CONFLICT DO NOTHING, so a clash is an empty result rather than an error that
 * would abort the transaction. The one write that can still clash (a job
 * update taking a pending key) runs inside a savepoint of its own, as store.h
 * asks of a backend whose transaction aborts on any error.
 *
 * Claims lock what they return: job_ready_ids, the claim read of the jobs
 * without a group (group_ready_ids) and of several groups at once
 * (group_ready_many) select FOR UPDATE SKIP LOCKED, so two nodes claiming
 * from one queue at once get different jobs and a claim never waits for a
 * job row (see build_job_sql). The jobs a batch's operations name are read
 * ahead in one statement (job_get_many) and kept to the commit, and the
 * queue_limits rows the transaction holds are known to it (pg_groups.c), so
 * a batch of settles costs a few round trips, not some per job. Time comes
 * from the database (now_ms: clock_timestamp() in Unix ms, read once per batch
 * in the round trip that carries BEGIN), so the clocks of the nodes do not
 * matter for leases, timers and cron.
 *
 * A lost connection fails the batch in flight (BATON_ESTORE: HTTP 503
 * store_unavailable; a COMMIT whose answer was lost is reported as failed) and
 * marks the store broken; the next begin reconnects, with a backoff doubling
 * from 100 ms to 5 s between attempts, and fails fast in between.
 *
 * Jobs map to one row with a column per field of struct job (times in Unix ms,
 * SQL NULL for a NULL string); the column list of the job statements is built
 * from one table (job_cols), as in sqlite.c, so that insert, update and reads
 * cannot disagree.
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "baton/baton.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "store/pg_internal.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_S "5"
#define SQL_MAX 8192

/* The deferred COMMIT; judge() recognises it by address. */
static const char PG_COMMIT[] = "COMMIT";

/* ---- parameters and results ---- */

void pg_p_text(struct pg_params *p, const char *v)
{
        BATON_ASSERT(p->n < PG_PARAMS_MAX);
        p->v[p->n++] = v;
}

void pg_p_i64(struct pg_params *p, int64_t v)
{
        BATON_ASSERT(p->n < PG_PARAMS_MAX);
        snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
        p->v[p->n] = p->num[p->n];
        p->n++;
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
        if (PQgetisnull(r, row, col))
                return 0;
        return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pg_text(const PGresult *r, int row, int col, char **dst)
{
        *dst = NULL;
        if (PQgetisnull(r, row, col))
                return 0;
        *dst = strdup(PQgetvalue(r, row, col));
        return *dst ? 0 : BATON_ENOMEM;
}

int pg_grow(void **v, int n, int *cap, size_t sz)
{
        void *nv;
        int ncap;

        if (n < *cap)
                return 0;
        ncap = *cap ? *cap * 2 : 16;
        nv = realloc(*v, (size_t)ncap * sz);
        if (!nv)
                return BATON_ENOMEM;
        *v = nv;
        *cap = ncap;
        return 0;
}

/* ---- the pipeline ---- */

static void pending_free(struct pg_pending *e)
{
        free(e->buf);
        memset(e, 0, sizeof(*e));
}

static void clear_pending(struct store *st)
{
        for (int i = 0; i < st->n_pending; i++)
                pending_free(&st->pending[i]);
        st->n_pending = 0;
}

/* Makes room for one more deferred command, sending the queue if it is full.
 * The last slot stays free for the SAVEPOINT that pg_open_op_savepoint may
 * have to put in front of the running operation's commands (also when this
 * very send makes it). */
static int pending_slot(struct store *st, struct pg_pending **out)
{
        if (st->n_pending >= PG_PENDING_MAX - 1) {
                int rc = pg_flush(st);

                if (rc)
                        return rc;
        }
        *out = &st->pending[st->n_pending];
        memset(*out, 0, sizeof(**out));
        return 0;
}

int pg_defer(struct store *st, const char *sql)
{
        struct pg_pending *e;
        int rc = pending_slot(st, &e);

        if (rc)
                return rc;
        e->sql = sql;
        e->op = st->op_seq;
        st->n_pending++;
        return 0;
}

/* Defers s with a copy of p (the caller's strings may go before the send). */
static int defer_stmt(struct store *st, const struct pg_stmt *s, const struct pg_params *p)
{
        struct pg_pending *e;
        size_t len = 0, off = 0;
        int rc = pending_slot(st, &e);

        if (rc)
                return rc;
        for (int i = 0; i < p->n; i++)
                len += p->v[i] ? strlen(p->v[i]) + 1 : 0;
        e->buf = malloc(len ? len : 1);
        if (!e->buf)
                return BATON_ENOMEM;
        for (int i = 0; i < p->n; i++) {
                size_t n;

                if (!p->v[i])
                        continue;
                n = strlen(p->v[i]) + 1;
                memcpy(e->buf + off, p->v[i], n);
                e->v[i] = e->buf + off;
                off += n;
        }
        e->stmt = s;
        e->n = p->n;
        e->op = st->op_seq;
        st->n_pending++;
        return 0;
}

int pg_defer_stmt(struct store *st, const struct pg_stmt *s, const struct pg_params *p)
{
        return defer_stmt(st, s, p);
}

static bool is_prepared(const struct store *st, const struct pg_stmt *s)
{
        for (int i = 0; i < st->n_prepared; i++)
                if (st->prepared[i] == s)
                        return true;
        return false;
}

/* Marks the connection unusable; begin reconnects. */
static void set_broken(struct store *st)
{
        if (!st->broken)
                log_error("store", "the connection to PostgreSQL failed: %s",
                          st->conn ? PQerrorMessage(st->conn) : "no connection");
        st->broken = true;
        st->in_txn = false;
        clear_pending(st);
        st->sp = PG_SP_NONE;
}

/* The outcome of one command's result: 0, or the error it reports. A COMMIT
 * of a transaction that an error aborted answers "ROLLBACK" without an error:
 * that is a failed commit too. */
static int judge(PGresult *r, const char *what)
{
        const char *state;

        switch (PQresultStatus(r)) {
        case PGRES_COMMAND_OK:
                if (what == PG_COMMIT && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
                        log_error("store",
                                  "commit: the transaction had failed and was rolled back");
                        return BATON_ESTORE;
                }
                return 0;
        case PGRES_TUPLES_OK:
                return 0;
        case PGRES_PIPELINE_ABORTED:
                return BATON_ESTORE; /* an earlier command failed and said why */
        default:
                break;
        }
        state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "23505") == 0)
                return BATON_ECONFLICT;
        log_error("store", "%s: %s", what, PQresultErrorMessage(r));
        return BATON_ESTORE;
}

/* One command sent in a pipeline: what to call it in errors, the statement
 * it prepares (NULL unless it is a prepare), the operation that queued it,
 * and which result of the caller's it is (-1: none). */
struct sent {
        const char *label;
        const struct pg_stmt *prep;
        uint64_t op;
        int want;
};

#define SENT_MAX (2 * (PG_PENDING_MAX + 3))

/* Queues s for execution, preceded by its prepare when this connection has
 * none yet (and none is queued in this pipeline). */
static int send_stmt(struct store *st, const struct pg_stmt *s, int n_params,
                     const char *const *vals, uint64_t op, struct sent *sent, int *n)
{
        bool queued = false;

        for (int i = 0; i < *n; i++)
                queued = queued || sent[i].prep == s;
        if (!queued && !is_prepared(st, s)) {
                if (st->n_prepared == PG_PREPARED_MAX ||
                    !PQsendPrepare(st->conn, s->name, s->sql, 0, NULL))
                        return BATON_ESTORE;
                sent[(*n)++] = (struct sent){s->name, s, op, -1};
        }
        if (!PQsendQueryPrepared(st->conn, s->name, n_params, vals, NULL, NULL, 0))
                return BATON_ESTORE;
        sent[(*n)++] = (struct sent){s->name, NULL, op, -1};
        return 0;
}

/* Queues the deferred commands, then s[0..k). Fills sent[]; returns the
 * number of commands queued, or a negative error. */
static int send_all(struct store *st, const struct pg_stmt *const *s,
                    const struct pg_params *const *p, int k, struct sent *sent)
{
        int n = 0, rc = 0;

        for (int i = 0; i < st->n_pending && !rc; i++) {
                const struct pg_pending *e = &st->pending[i];

                if (e->stmt) {
                        rc = send_stmt(st, e->stmt, e->n, e->v, e->op, sent, &n);
                } else if (!PQsendQueryParams(st->conn, e->sql, 0, NULL, NULL, NULL, NULL, 0)) {
                        rc = BATON_ESTORE;
                } else {
                        sent[n++] = (struct sent){e->sql, NULL, e->op, -1};
                }
        }
        for (int i = 0; i < k && !rc; i++) {
                rc = send_stmt(st, s[i], p[i] ? p[i]->n : 0, p[i] ? p[i]->v : NULL, st->op_seq,
                               sent, &n);
                if (!rc)
                        sent[n - 1].want = i;
        }
        return rc ? rc : n;
}

/* Did r fail because its transaction was part of a lock cycle (deadlock
 * detected, serialization failure) or waited longer than lock_timeout for a
 * lock (55P03: another session holds the row, a stalled node perhaps)?
 * Rolling back only the failing operation's savepoint would keep the locks
 * the batch's earlier operations took, which are part of the same cycle (or
 * what the holder itself waits for): the next operation that needs such a
 * row meets it again, one deadlock_timeout or lock_timeout per operation,
 * while every answer of the batch waits. So the whole batch fails at once,
 * its locks go with the rollback and its clients get 503 with Retry-After
 * and retry; the store thread goes on with the next batch. */
static bool lock_cycle(const PGresult *r)
{
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

        return state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0 ||
                         strcmp(state, "55P03") == 0);
}

/* Reads the results of the n commands in sent[] and the sync, recording the
 * statements prepared. The result of each command the caller wants goes to
 * res[want] (if res is not NULL) when every command succeeded; the first
 * error is returned. A command of an operation other than the one running
 * (a write deferred by one already done, or its RELEASE) that fails leaves
 * the transaction unable to commit whole: the store is marked failed. */
static int read_all(struct store *st, const struct sent *sent, int n, PGresult **res)
{
        int rc = 0;

        for (int i = 0; i < n; i++) {
                PGresult *r = PQgetResult(st->conn), *extra;
                int one;

                if (!r)
                        return BATON_ESTORE;
                one = judge(r, sent[i].label);
                if (!one && sent[i].prep && st->n_prepared < PG_PREPARED_MAX)
                        st->prepared[st->n_prepared++] = sent[i].prep;
                if (one && PQresultStatus(r) != PGRES_PIPELINE_ABORTED &&
                    sent[i].op != st->op_seq) {
                        log_error("store", "a write of an earlier operation failed: %s",
                                  "the batch fails as a whole");
                        st->failed = true;
                }
                if (one && lock_cycle(r)) {
                        log_error("store", "%s: the batch fails as a whole",
                                  "lock cycle or lock timeout");
                        st->failed = true;
                }
                if (!rc)
                        rc = one;
                if (sent[i].want >= 0 && res)
                        res[sent[i].want] = r;
                else
                        PQclear(r);
                while ((extra = PQgetResult(st->conn)) != NULL)
                        PQclear(extra);
        }
        {
                PGresult *sync = PQgetResult(st->conn);
                bool ok = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;

                PQclear(sync);
                if (!ok && !rc)
                        rc = BATON_ESTORE;
        }
        return rc;
}

static void clear_results(PGresult **res, int k)
{
        for (int i = 0; res && i < k; i++) {
                PQclear(res[i]);
                res[i] = NULL;
        }
}

/* Sends the deferred commands and s[0..k) in one pipeline and reads every
 * answer; res[i] (res may be NULL) gets statement i's result when all went
 * well, and is NULL otherwise. */
static int roundtrip(struct store *st, const struct pg_stmt *const *s,
                     const struct pg_params *const *p, int k, PGresult **res)
{
        struct sent sent[SENT_MAX];
        int n, rc;

        BATON_ASSERT(k >= 0 && k <= 3);
        for (int i = 0; res && i < k; i++)
                res[i] = NULL;
        if (st->broken || !st->conn || st->failed)
                return BATON_ESTORE;
        if (!PQenterPipelineMode(st->conn)) {
                set_broken(st);
                return BATON_ESTORE;
        }
        n = send_all(st, s, p, k, sent);
        if (n >= 0 && !PQpipelineSync(st->conn))
                n = BATON_ESTORE;
        rc = n < 0 ? n : read_all(st, sent, n, res);
        if (PQstatus(st->conn) != CONNECTION_OK || !PQexitPipelineMode(st->conn)) {
                clear_results(res, k);
                set_broken(st);
                return BATON_ESTORE;
        }
        if (rc)
                clear_results(res, k);
        clear_pending(st);
        return rc;
}

/* Where the running operation's deferred commands begin in the queue: they
 * are its tail, the commands that carry its op_seq (savepoint_op numbers each
 * operation anew, so the commands before it carry smaller numbers). */
static int op_tail(const struct store *st)
{
        int i = st->n_pending;

        while (i > 0 && st->pending[i - 1].op == st->op_seq)
                i--;
        return i;
}

/*
 * The savepoint of an operation is opened only when the operation sends
 * something: a statement of its own, or its deferred writes because the
 * queue is sent on its behalf. It then goes in front of the operation's
 * deferred writes. An operation that only deferred writes (a settle of a job
 * the batch read ahead: the job's update) ends with nothing sent and needs no
 * savepoint: released, its writes run at the top level of the transaction
 * with the next round trip; rolled back, they are dropped unsent (end_op).
 * Either way the database sees what a savepoint would have given it, with
 * one subtransaction and two commands fewer.
 *
 * Why subtransactions are worth avoiding: PostgreSQL keeps the row lock of
 * every subtransaction of a transaction until the transaction ends, and a
 * row that subtransaction after subtransaction upserts (an upsert locks the
 * row first) gets a multixact of all of them on each new version, read on
 * every visibility check of the row: when each settle upserted its queue's
 * counter row, a batch of 1,000 settles cost time quadratic in the batch
 * (docs/benchmarks.md). At the top level the writes all carry the
 * transaction's own id and no multixact is made.
 */
int pg_open_op_savepoint(struct store *st)
{
        int at;

        if (st->sp != PG_SP_WANT)
                return 0;
        BATON_ASSERT(st->n_pending < PG_PENDING_MAX);
        at = op_tail(st);
        memmove(&st->pending[at + 1], &st->pending[at],
                (size_t)(st->n_pending - at) * sizeof(st->pending[0]));
        memset(&st->pending[at], 0, sizeof(st->pending[at]));
        st->pending[at].sql = "SAVEPOINT op";
        st->pending[at].op = st->op_seq;
        st->n_pending++;
        st->sp = PG_SP_OPEN;
        return 0;
}

int pg_flush(struct store *st)
{
        int rc = 0;

        if (!st->n_pending)
                return 0;
        /* The running operation's writes go under its savepoint. */
        if (st->sp == PG_SP_WANT && op_tail(st) < st->n_pending)
                rc = pg_open_op_savepoint(st);
        return rc ? rc : roundtrip(st, NULL, NULL, 0, NULL);
}

/* Drops the running operation's deferred commands, which were never sent:
 * what rolling back to its savepoint would have undone. */
static void drop_op_tail(struct store *st)
{
        int at = op_tail(st);

        for (int i = at; i < st->n_pending; i++)
                pending_free(&st->pending[i]);
        st->n_pending = at;
}

int pg_exec_n(struct store *st, const struct pg_stmt *const *s, const struct pg_params *const *p,
              int k, PGresult **res)
{
        int rc = pg_open_op_savepoint(st);

        return rc ? rc : roundtrip(st, s, p, k, res);
}

int pg_exec(struct store *st, const struct pg_stmt *s, const struct pg_params *p, PGresult **res)
{
        PGresult *r = NULL;
        int rc = pg_exec_n(st, &s, &p, 1, &r);

        if (!rc && res)
                *res = r;
        else
                PQclear(r);
        return rc;
}

int pg_run(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int64_t *n_out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, s, p, &r);

        if (!rc && n_out)
                *n_out = strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        return rc;
}

int pg_ids(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int max,
           int64_t *ids, int *n_out)
{
        PGresult *r = NULL;
        int rc, n = 0;

        *n_out = 0;
        if (max <= 0)
                return 0;
        rc = pg_exec(st, s, p, &r);
        for (int i = 0; !rc && i < PQntuples(r) && n < max; i++)
                ids[n++] = pg_i64(r, i, 0);
        PQclear(r);
        if (!rc)
                *n_out = n;
        return rc;
}

/* ---- job rows ---- */

enum col_kind { COL_TEXT, COL_I64, COL_INT, COL_BOOL };

struct col {
        const char *name;
        int kind; /* enum col_kind */
        size_t off;
};

#define JCOL(name, kind, field)                                                                    \
        {                                                                                          \
                name, kind, offsetof(struct job, field)                                            \
        }

/* The columns job_update writes, in binding order; job_insert writes tenant
 * and created_at first, reads return id, tenant, created_at, then these. */
static const struct col job_cols[] = {
    JCOL("queue", COL_TEXT, queue),
    JCOL("type", COL_TEXT, type),
    JCOL("payload", COL_TEXT, payload),
    JCOL("priority", COL_INT, priority),
    JCOL("state", COL_INT, state),
    JCOL("run_at", COL_I64, run_at_ms),
    JCOL("attempt", COL_INT, attempt),
    JCOL("max_attempts", COL_INT, max_attempts),
    JCOL("backoff_type", COL_INT, backoff.type),
    JCOL("backoff_base_ms", COL_I64, backoff.base_ms),
    JCOL("backoff_max_ms", COL_I64, backoff.max_ms),
    JCOL("lease_ms", COL_I64, lease_ms),
    JCOL("idempotency_key", COL_TEXT, idempotency_key),
    JCOL("dkey", COL_TEXT, key),
    JCOL("request_id", COL_TEXT, request_id),
    JCOL("execution_id", COL_TEXT, execution_id),
    JCOL("traceparent", COL_TEXT, traceparent),
    JCOL("lease", COL_TEXT, lease),
    JCOL("lease_until", COL_I64, lease_until_ms),
    JCOL("worker", COL_TEXT, worker),
    JCOL("settled", COL_INT, settled),
    JCOL("cancel_requested", COL_BOOL, cancel_requested),
    JCOL("version", COL_I64, version),
    JCOL("started_at", COL_I64, started_at_ms),
    JCOL("finished_at", COL_I64, finished_at_ms),
    JCOL("ready_at", COL_I64, ready_at_ms),
    JCOL("result", COL_TEXT, result),
    JCOL("last_error", COL_TEXT, last_error),
    JCOL("progress", COL_TEXT, progress),
    JCOL("attempts", COL_TEXT, attempts),
    JCOL("steps", COL_TEXT, steps),
    JCOL("cancel_reason", COL_TEXT, cancel_reason),
    JCOL("timer", COL_TEXT, timer),
    JCOL("depends_on", COL_TEXT, depends_on),
    JCOL("on_parent_failure", COL_INT, on_parent_failure),
    JCOL("flow_id", COL_I64, flow_id),
    JCOL("ref", COL_TEXT, ref),
    JCOL("grp", COL_TEXT, group), /* migration 7 */
    JCOL("cron", COL_TEXT, cron), /* migration 8 */
};

#define JOB_NCOLS ((int)BATON_ARRAY_LEN(job_cols))
#define JOB_READ_FIXED 3
#define JOB_COL_PRIORITY 3 /* job_cols[3] */

static void bind_job_cols(struct pg_params *p, const struct job *j)
{
        const char *base = (const char *)j;

        for (int c = 0; c < JOB_NCOLS; c++) {
                const void *f = base + job_cols[c].off;

                switch (job_cols[c].kind) {
                case COL_TEXT:
                        pg_p_text(p, *(char *const *)f);
                        break;
                case COL_I64:
                        pg_p_i64(p, *(const int64_t *)f);
                        break;
                case COL_INT:
                        pg_p_i64(p, *(const int *)f);
                        break;
                default:
                        pg_p_i64(p, *(const bool *)f ? 1 : 0);
                        break;
                }
        }
}

/* Fills *out from row of a job read. On success the caller owns the strings
 * (job_free); on failure none are left. */
static int read_job(const PGresult *r, int row, struct job *out)
{
        char *base = (char *)out;
        int rc;

        memset(out, 0, sizeof(*out));
        out->id = pg_i64(r, row, 0);
        out->created_at_ms = pg_i64(r, row, 2);
        rc = pg_text(r, row, 1, &out->tenant);
        for (int c = 0; c < JOB_NCOLS && !rc; c++) {
                void *f = base + job_cols[c].off;
                int i = JOB_READ_FIXED + c;

                switch (job_cols[c].kind) {
                case COL_TEXT:
                        rc = pg_text(r, row, i, (char **)f);
                        break;
                case COL_I64:
                        *(int64_t *)f = pg_i64(r, row, i);
                        break;
                case COL_INT:
                        *(int *)f = (int)pg_i64(r, row, i);
                        break;
                default:
                        *(bool *)f = pg_i64(r, row, i) != 0;
                        break;
                }
        }
        if (rc)
                job_free(out);
        return rc;
}

/* ---- statements ---- */

#define KEY_COLS                                                                                   \
        "id, tenant, name, digest, prev_digest, prev_until, scopes, created_at, expires_at,"       \
        " revoked_at, rotated_at, rate_max, rate_per_ms, created_by"
#define AUDIT_COLS "id, at, key_id, tenant, action, target, request_id, status, code, detail, n"
#define TIMER_COLS                                                                                 \
        "tenant, key, version, state, fire_at, queue, type, payload, priority, max_attempts,"      \
        " backoff_type, backoff_base_ms, backoff_max_ms, lease_ms, request_id, job_id, fired_at,"  \
        " created_at, updated_at, grp, due_at, deferred"

/* The job statements whose column lists come from job_cols are built when the
 * backend first opens (job_sql); these hold their text. */
enum { LF_QUEUE = 1, LF_STATE = 2, LF_TYPE = 4 };
enum { AF_TENANT = 1, AF_ACTION = 2, AF_KEY = 4 };

static const struct pg_stmt
    S_NOW = {"pg_now", "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint"},
    S_VERSION = {"pg_schema_version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"},
    S_JOB_IDS = {"pg_job_ids", "SELECT nextval(pg_get_serial_sequence('jobs', 'id'))"
                               " FROM generate_series(1, $1)"},
    S_JOB_FIND_KEY = {"pg_job_find_key",
                      "SELECT id FROM jobs WHERE tenant = $1 AND queue = $2 AND dkey = $3"
                      " AND dkey IS NOT NULL AND state IN (1, 2)"},
    S_JOB_DUE = {"pg_job_due_ids", "SELECT id FROM jobs WHERE state IN (1, 4) AND run_at <= $1"
                                   " ORDER BY run_at LIMIT $2"},
    S_JOB_EXPIRED = {"pg_job_expired_ids",
                     "SELECT id FROM jobs WHERE state = 3 AND lease_until <= $1"
                     " ORDER BY lease_until LIMIT $2"},
    S_JOB_STATE_IDS = {"pg_job_state_ids",
                       "SELECT id FROM jobs WHERE tenant = $1 AND queue = $2 AND state = $3"
                       " AND id > $4 ORDER BY id LIMIT $5"},
    S_JOB_PURGE = {"pg_job_purge", "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                                   " WHERE state IN (5, 6, 7) AND state = $1 AND finished_at < $2"
                                   " AND NOT EXISTS (SELECT 1 FROM dep_work w"
                                   " WHERE w.job_id = jobs.id)"
                                   " ORDER BY finished_at LIMIT $3)"},
    S_JOB_DELETE = {"pg_job_delete",
                    "DELETE FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)"
                    " AND NOT EXISTS (SELECT 1 FROM dep_work w WHERE w.job_id = $1)"},
    S_DEADLINES = {"pg_deadlines",
                   "SELECT"
                   " (SELECT run_at FROM jobs WHERE state IN (1, 4) ORDER BY run_at LIMIT 1),"
                   " (SELECT lease_until FROM jobs WHERE state = 3 ORDER BY lease_until LIMIT 1),"
                   " (SELECT finished_at FROM jobs WHERE state IN (5, 6, 7) AND state = 5"
                   "  ORDER BY state, finished_at LIMIT 1),"
                   " (SELECT finished_at FROM jobs WHERE state IN (5, 6, 7) AND state = 6"
                   "  ORDER BY state, finished_at LIMIT 1),"
                   " (SELECT finished_at FROM jobs WHERE state IN (5, 6, 7) AND state = 7"
                   "  ORDER BY state, finished_at LIMIT 1),"
                   " (SELECT expires_at FROM idempotency ORDER BY expires_at LIMIT 1),"
                   " (SELECT job_id FROM dep_work ORDER BY job_id LIMIT 1),"

                   " (SELECT at FROM audit ORDER BY at LIMIT 1)"},
    S_IDEM_GET = {"pg_idem_get", "SELECT tenant, key, job_id, payload_hash, expires_at FROM"
                                 " idempotency WHERE tenant = $1 AND key = $2"},
    S_IDEM_PUT = {"pg_idem_put",
                  "INSERT INTO idempotency (tenant, key, job_id, payload_hash, expires_at)"
                  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, key) DO UPDATE SET"
                  " job_id = excluded.job_id, payload_hash = excluded.payload_hash,"
                  " expires_at = excluded.expires_at"},
    /* idem_take's pipeline: insert unless the key is held; else replace
     * a record that has expired (never this transaction's own placeholder,
     * job_id 0); then read what holds the key. In READ COMMITTED each
     * statement sees what committed before it began, so after the insert
     * waited for another transaction's record of the key, the read sees it. */
    S_IDEM_TAKE = {"pg_idem_take",
                   "INSERT INTO idempotency (tenant, key, job_id, payload_hash, expires_at)"
                   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, key) DO NOTHING RETURNING 1"},
    S_IDEM_RETAKE = {"pg_idem_retake",
                     "UPDATE idempotency SET job_id = $3, payload_hash = $4, expires_at = $5"
                     " WHERE tenant = $1 AND key = $2 AND job_id <> 0 AND expires_at <= $6"
                     " RETURNING 1"},
    S_IDEM_SWAP = {"pg_idem_swap",
                   "UPDATE idempotency SET job_id = $3, payload_hash = $4, expires_at = $5"
                   " WHERE tenant = $1 AND key = $2 AND job_id = $6 RETURNING 1"},
    S_IDEM_PURGE = {"pg_idem_purge",
                    "DELETE FROM idempotency WHERE (tenant, key) IN (SELECT tenant, key"
                    " FROM idempotency WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)"},
    /* A queue it makes counts in its tenant's total (store.h), in the same
     * statement, so the write can stay deferred. */
    S_QUEUE_ENSURE = {"pg_queue_ensure",
                      "WITH made AS (INSERT INTO queues (tenant, name, paused, created_at,"
                      " updated_at) VALUES ($1, $2, 0, $3, $3) ON CONFLICT (tenant, name)"
                      " DO NOTHING RETURNING tenant)"
                      " INSERT INTO queue_totals (tenant, n) SELECT tenant, 1 FROM made"
                      " ON CONFLICT (tenant) DO UPDATE SET n = queue_totals.n + 1"},
    S_QUEUE_TOTAL = {"pg_queue_total", "SELECT n FROM queue_totals WHERE tenant = $1"},
    S_QUEUE_GET = {"pg_queue_get", "SELECT tenant, name, paused, created_at, updated_at FROM"
                                   " queues WHERE tenant = $1 AND name = $2"},
    S_QUEUE_PUT = {"pg_queue_put",
                   "INSERT INTO queues (tenant, name, paused, created_at, updated_at)"
                   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, name) DO UPDATE SET"
                   " paused = excluded.paused, updated_at = excluded.updated_at"},
    S_QUEUE_LIST = {"pg_queue_list", "SELECT tenant, name, paused, created_at, updated_at FROM"
                                     " queues WHERE tenant = $1 AND name > $2 ORDER BY name"
                                     " LIMIT $3"},
    S_QUEUE_COUNTS = {"pg_queue_counts",
                      "SELECT state, COUNT(*) FROM jobs WHERE tenant = $1 AND queue = $2"
                      " GROUP BY state"},
    S_QUEUE_OLDEST = {"pg_queue_oldest", "SELECT MIN(ready_at) FROM jobs WHERE state = 2"
                                         " AND tenant = $1 AND queue = $2"},
    S_TENANT_ENSURE = {"pg_tenant_ensure", "INSERT INTO tenants (name, created_at) VALUES ($1, $2)"
                                           " ON CONFLICT (name) DO NOTHING"},
    S_KEY_INSERT = {"pg_key_insert",
                    "INSERT INTO api_keys (" KEY_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                    " $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING"},
    S_KEY_GET = {"pg_key_get", "SELECT " KEY_COLS " FROM api_keys WHERE id = $1"},
    S_KEY_UPDATE = {"pg_key_update",
                    "UPDATE api_keys SET name = $2, digest = $3, prev_digest = $4,"
                    " prev_until = $5, scopes = $6, expires_at = $7, revoked_at = $8,"
                    " rotated_at = $9, rate_max = $10, rate_per_ms = $11, created_by = $12"
                    " WHERE id = $1"},
    S_KEY_LIST_TENANT = {"pg_key_list_tenant", "SELECT " KEY_COLS " FROM api_keys WHERE"
                                               " tenant = $1 AND id > $2 ORDER BY id LIMIT $3"},
    S_KEY_LIST_ALL = {"pg_key_list_all",
                      "SELECT " KEY_COLS " FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2"},
    S_KEY_COUNT = {"pg_key_count", "SELECT COUNT(*) FROM api_keys"},
    S_AUDIT_INSERT = {"pg_audit_insert",
                      "INSERT INTO audit (at, key_id, tenant, action, target, request_id, status,"
                      " code, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"},
    /* A refusal adds to the row of its bucket (see sqlite.c, migration 10). */
    S_AUDIT_BUMP =
        {"pg_audit_bump",
         "INSERT INTO audit (at, key_id, tenant, action, target, request_id, status,"
         " code, detail, n, bucket) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11,"
         " $10)"
         " ON CONFLICT (bucket) WHERE bucket IS NOT NULL DO UPDATE SET n = audit.n + excluded.n,"
         " target = excluded.target, request_id = excluded.request_id"
         " RETURNING id, n"},
    S_AUDIT_PURGE = {"pg_audit_purge", "DELETE FROM audit WHERE id IN (SELECT id FROM audit"
                                       " WHERE at < $1 ORDER BY at LIMIT $2)"},
    S_TIMER_GET = {"pg_timer_get",
                   "SELECT " TIMER_COLS " FROM timers WHERE tenant = $1 AND key = $2"},
    S_TIMER_PUT = {"pg_timer_put",
                   "INSERT INTO timers (" TIMER_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
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
                    "SELECT " TIMER_COLS " FROM timers WHERE tenant = $1 AND key > $2"
                    " AND key >= $3 AND key < $4 ORDER BY key LIMIT $5"},
    S_TIMER_DUE = {"pg_timer_due", "SELECT " TIMER_COLS " FROM timers WHERE state = 0"
                                   " AND due_at <= $1 ORDER BY due_at LIMIT $2"},
    S_TIMER_NEXT = {"pg_timer_next",
                    "SELECT due_at FROM timers WHERE state = 0 ORDER BY due_at LIMIT 1"},
    S_DEP_INSERT = {"pg_dep_insert", "INSERT INTO job_deps (parent_id, child_id, tenant)"
                                     " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"},
    S_DEP_CHILDREN = {"pg_dep_children",
                      "SELECT child_id FROM job_deps WHERE parent_id = $1 AND child_id > $2"
                      " ORDER BY child_id LIMIT $3"},
    /* Which of the jobs $1 are parents: one index probe each. */
    S_DEP_PARENTS = {"pg_dep_parents",
                     "SELECT d.parent_id FROM unnest($1::bigint[]) AS p(id) CROSS JOIN LATERAL"
                     " (SELECT parent_id FROM job_deps WHERE parent_id = p.id LIMIT 1) d"},
    /* Version 8: the dependency cascade's work list (store.h). */
    S_DEP_WORK_PUT = {"pg_dep_work_put",
                      "INSERT INTO dep_work (job_id, after_id) VALUES ($1, $2)"
                      " ON CONFLICT (job_id) DO UPDATE SET after_id = excluded.after_id"},
    S_DEP_WORK_NEXT = {"pg_dep_work_next",
                       "SELECT job_id, after_id FROM dep_work ORDER BY job_id LIMIT $1"},
    S_DEP_WORK_ADVANCE = {"pg_dep_work_advance",
                          "UPDATE dep_work SET after_id = $3 WHERE job_id = $1 AND after_id = $2"},
    S_DEP_WORK_DONE = {"pg_dep_work_done",
                       "DELETE FROM dep_work WHERE job_id = $1 AND after_id = $2"},
    S_FLOW_INSERT = {"pg_flow_insert", "INSERT INTO flows (tenant, created_at, request_id)"
                                       " VALUES ($1, $2, $3) RETURNING id"},
    S_FLOW_GET = {"pg_flow_get", "SELECT id, tenant, created_at, request_id FROM flows"
                                 " WHERE id = $1 AND tenant = $2"},
    S_FLOW_JOBS = {"pg_flow_job_ids",
                   "SELECT id FROM jobs WHERE flow_id > 0 AND flow_id = $2 AND tenant = $1"
                   " AND id > $3 ORDER BY id LIMIT $4"};

/* Statements built at open from job_cols (their text lives in struct store):
 * insert, get, update, the job_list variants (one per combination of
 * filters) and the audit_list variants, likewise. Parameters are numbered in
 * the order they are bound, so a variant names only the ones it uses. */
enum {
        B_INSERT,
        B_GET,
        B_UPDATE,
        B_READY,
        B_INSERT_ID,
        B_GROUP_READY,   /* group_ready_ids of one group (pg_groups.c) */
        B_NOGROUP_READY, /* group_ready_ids of the jobs without a group */
        B_GET_MANY,      /* job_get_many */
        B_GROUP_MANY,    /* group_ready_many */
        B_LIST,
        B_AUDIT = B_LIST + 8,
        B_COUNT = B_AUDIT + 8
};

static const char *const built_names[B_COUNT] = {
    "pg_job_insert",       "pg_job_get",         "pg_job_update",        "pg_job_ready_ids",
    "pg_job_insert_id",    "pg_group_ready_ids", "pg_nogroup_ready_ids", "pg_job_get_many",
    "pg_group_ready_many", "pg_job_list_0",      "pg_job_list_1",        "pg_job_list_2",
    "pg_job_list_3",       "pg_job_list_4",      "pg_job_list_5",        "pg_job_list_6",
    "pg_job_list_7",       "pg_audit_list_0",    "pg_audit_list_1",      "pg_audit_list_2",
    "pg_audit_list_3",     "pg_audit_list_4",    "pg_audit_list_5",      "pg_audit_list_6",
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
        int rc = buf_adds(b, "SELECT j.id, j.tenant, j.created_at");

        for (int c = 0; c < JOB_NCOLS && !rc; c++)
                rc = buf_printf(b, ", j.%s", job_cols[c].name);
        if (!rc)
                rc = buf_adds(b,
                              ", g.ord, c.n FROM unnest($3::text[]) WITH ORDINALITY AS g(name, ord)"
                              " CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM jobs"
                              " WHERE state = 2 AND tenant = $1 AND queue = $2 AND grp = g.name"
                              " LIMIT $4) v) c LEFT JOIN LATERAL (SELECT * FROM jobs"
                              " WHERE state = 2 AND tenant = $1 AND queue = $2 AND grp = g.name"
                              " ORDER BY priority, run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) j"
                              " ON true");
        return rc;
}

/* A job_list variant (bits: its filters). The page stops after the row that
 * takes the rows' sizes past the byte budget, the last parameter (store.h's
 * bytes_max): each row's size is counted in the window below as
 * JOB_WIRE_FIXED_BYTES plus the octets of its text columns, never more than
 * core's job_wire_bytes, so core sees the same cut or a later one. */
static int build_list_sql(struct buf *b, int bits)
{
        int n = 1;
        int rc = buf_adds(b, "SELECT id, tenant, created_at");

        for (int c = 0; c < JOB_NCOLS && !rc; c++)
                rc = buf_printf(b, ", %s", job_cols[c].name);
        if (!rc)
                rc = buf_adds(b, " FROM (SELECT *, sum(baton_sz) OVER (ORDER BY id) AS baton_run"
                                 " FROM (SELECT id, tenant, created_at");
        for (int c = 0; c < JOB_NCOLS && !rc; c++)
                rc = buf_printf(b, ", %s", job_cols[c].name);
        if (!rc)
                rc = buf_printf(b, ", %d::bigint", JOB_WIRE_FIXED_BYTES);
        for (int c = 0; c < JOB_NCOLS && !rc; c++)
                if (job_cols[c].kind == COL_TEXT)
                        rc = buf_printf(b, " + coalesce(octet_length(%s), 4)", job_cols[c].name);
        if (!rc)
                rc = buf_printf(b, " AS baton_sz FROM jobs WHERE tenant = $%d", n++);
        if (!rc && bits & LF_QUEUE)
                rc = buf_printf(b, " AND queue = $%d", n++);
        if (!rc && bits & LF_STATE)
                rc = buf_printf(b, " AND state = $%d", n++);
        if (!rc && bits & LF_TYPE)
                rc = buf_printf(b, " AND type = $%d", n++);
        return rc ? rc
                  : buf_printf(b,
                               " AND id > $%d ORDER BY id LIMIT $%d) a) w"
                               " WHERE baton_run - baton_sz <= $%d ORDER BY id",
                               n, n + 1, n + 2);
}

static int build_job_sql(struct buf *b, int id)
{
        int bits = id - B_LIST;
        int rc = 0;

        if (id == B_INSERT) {
                rc = buf_adds(b, "INSERT INTO jobs (tenant, created_at");
                for (int c = 0; c < JOB_NCOLS && !rc; c++)
                        rc = buf_printf(b, ", %s", job_cols[c].name);
                if (!rc)
                        rc = buf_adds(b, ") VALUES ($1, $2");
                for (int c = 0; c < JOB_NCOLS && !rc; c++)
                        rc = buf_printf(b, ", $%d", c + 3);
                /* The pending-key index is the only one an insert can clash on. */
                return rc ? rc : buf_adds(b, ") ON CONFLICT DO NOTHING RETURNING id");
        }
        if (id == B_INSERT_ID) { /* with an id taken from the sequence ahead */
                rc = buf_adds(b, "INSERT INTO jobs (id, tenant, created_at");
                for (int c = 0; c < JOB_NCOLS && !rc; c++)
                        rc = buf_printf(b, ", %s", job_cols[c].name);
                if (!rc)
                        rc = buf_adds(b, ") VALUES ($1, $2, $3");
                for (int c = 0; c < JOB_NCOLS && !rc; c++)
                        rc = buf_printf(b, ", $%d", c + 4);
                return rc ? rc : buf_adds(b, ")");
        }
        if (id == B_GROUP_MANY)
                return build_group_many_sql(b);
        if (id == B_UPDATE) {
                rc = buf_adds(b, "UPDATE jobs SET ");
                for (int c = 0; c < JOB_NCOLS && !rc; c++)
                        rc = buf_printf(b, "%s%s = $%d", c ? ", " : "", job_cols[c].name, c + 2);
                return rc ? rc : buf_adds(b, " WHERE id = $1");
        }
        if (id >= B_LIST)
                return build_list_sql(b, bits);
        rc = buf_adds(b, "SELECT id, tenant, created_at");
        for (int c = 0; c < JOB_NCOLS && !rc; c++)
                rc = buf_printf(b, ", %s", job_cols[c].name);
        if (!rc)
                rc = buf_adds(b, " FROM jobs WHERE ");
        if (rc)
                return rc;
        /* job_get locks the row: core reads a job to change it (claim, settle,
         * expire, cancel), and with several nodes a read that does not lock
         * lets two of them each change the copy they read, the later write
         * undoing the earlier one. The lock makes the second reader wait for
         * the first's commit and read its result. */
        if (id == B_GET)
                return buf_adds(b, "id = $1 AND ($2::text IS NULL OR tenant = $2) FOR UPDATE");
        /* The jobs a batch's operations will read (job_get_many), locked as
         * job_get would. */
        if (id == B_GET_MANY)
                return buf_adds(b, "id = ANY($1::bigint[]) AND ($2::text IS NULL OR tenant = $2)"
                                   " FOR UPDATE");
        /* Claims: the ready jobs in claim order, whole rows (job_get then takes
         * them from this result, see ready_ids), locked. SKIP LOCKED: a job
         * another node's transaction is claiming is passed over, not waited
         * for. */
        if (id == B_READY)
                return buf_adds(b,
                                "state = 2 AND tenant = $1 AND queue = $2"
                                " ORDER BY priority, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED");
        /* The claims of version 5 (pg_groups.c): the same, one group at a time
         * (job_group_ready), but a group's jobs wait for a lock rather than
         * skip it. A group's claims already take turns on the queue row, and
         * the claim judges the group by what this read returns: had it
         * skipped the only ready job of a group (locked a moment by a read on
         * another node), it would find the group empty and drop its row,
         * stranding the job. The jobs without a group have no such row and
         * skip as job_ready_ids does. */
        if (id == B_GROUP_READY)
                return buf_adds(b, "state = 2 AND tenant = $1 AND queue = $2 AND grp = $3"
                                   " ORDER BY priority, run_at, id LIMIT $4 FOR UPDATE");
        if (id == B_NOGROUP_READY)
                return buf_adds(b,
                                "state = 2 AND tenant = $1 AND queue = $2 AND grp IS NULL"
                                " ORDER BY priority, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED");
        BATON_ASSERT(0 && "every job statement is built above");
        return BATON_EINVAL;
}

static int build_audit_sql(struct buf *b, int bits)
{
        int n = 1;
        int rc = buf_adds(b, "SELECT " AUDIT_COLS " FROM audit WHERE ");

        if (!rc && bits & AF_TENANT)
                rc = buf_printf(b, "tenant = $%d AND ", n++);
        if (!rc && bits & AF_ACTION)
                rc = buf_printf(b, "action = $%d AND ", n++);
        if (!rc && bits & AF_KEY)
                rc = buf_printf(b, "key_id = $%d AND ", n++);
        return rc ? rc : buf_printf(b, "id > $%d ORDER BY id LIMIT $%d", n, n + 1);
}

static int build_stmts(struct store *st)
{
        struct buf b;
        int rc = 0;

        _Static_assert(B_COUNT <= PG_BUILT_MAX, "PG_BUILT_MAX too small");
        BATON_ASSERT(strcmp(job_cols[JOB_COL_PRIORITY].name, "priority") == 0);
        buf_init(&b, SQL_MAX);
        for (int id = 0; id < B_COUNT && !rc; id++) {
                buf_reset(&b);
                rc = id >= B_AUDIT ? build_audit_sql(&b, id - B_AUDIT) : build_job_sql(&b, id);
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

/* Queues a write whose only possible outcome is success (an upsert, an
 * insert that ignores a duplicate): it goes with the next round trip, under
 * the operation's savepoint if the operation sends anything before it ends,
 * else at the top level (pg_open_op_savepoint). Were it to fail anyway (a
 * lost connection), the rest of the transaction fails with it and the commit
 * reports the failure for the whole batch. */
static int defer_write(struct store *st, const struct pg_stmt *s, const struct pg_params *p)
{
        return defer_stmt(st, s, p);
}

int pg_defer_write(struct store *st, const struct pg_stmt *s, const struct pg_params *p)
{
        return defer_write(st, s, p);
}

/* ---- rows kept for job_get ---- */

/* Drops the kept results: those of the operation, or (all) every one. */
static void kept_drop(struct store *st, bool all)
{
        for (int i = 0; i < PG_KEPT_MAX; i++) {
                struct pg_kept *k = &st->kept[i];

                if (k->res && (all || !k->txn)) {
                        PQclear(k->res);
                        k->res = NULL;
                        k->n = 0;
                }
        }
}

/* Keeps r (owned by the store from now on, also on failure), whose row i is
 * job ids[i] (0: no job), for job_get. With every slot taken it takes the
 * place of an operation's result, or is not kept (job_get then reads). */
static void kept_add(struct store *st, PGresult *r, const int64_t *ids, int n, bool txn)
{
        struct pg_kept *k = NULL;

        if (n == 0) {
                PQclear(r);
                return;
        }
        for (int i = 0; i < PG_KEPT_MAX && !k; i++)
                if (!st->kept[i].res)
                        k = &st->kept[i];
        for (int i = 0; i < PG_KEPT_MAX && !k; i++)
                if (!st->kept[i].txn) {
                        k = &st->kept[i];
                        PQclear(k->res);
                        k->res = NULL;
                }
        if (k && n > k->cap) {
                int64_t *v = realloc(k->ids, (size_t)n * sizeof(*v));

                if (v) {
                        k->ids = v;
                        k->cap = n;
                }
        }
        if (!k || n > k->cap) {
                PQclear(r);
                return;
        }
        memcpy(k->ids, ids, (size_t)n * sizeof(*ids));
        k->res = r;
        k->n = n;
        k->txn = txn;
}

/* The kept result and row of job id, if any (its tenant, unless NULL, must
 * match); NULL when none holds it. */
static PGresult *kept_row(const struct store *st, const char *tenant, int64_t id, int *row)
{
        for (int i = 0; i < PG_KEPT_MAX; i++) {
                const struct pg_kept *k = &st->kept[i];

                for (int r = 0; k->res && r < k->n; r++) {
                        if (k->ids[r] != id)
                                continue;
                        if (tenant && strcmp(PQgetvalue(k->res, r, 1), tenant) != 0)
                                return NULL;
                        *row = r;
                        return k->res;
                }
        }
        return NULL;
}

/* ---- id sets ---- */

static bool ids_has(const struct pg_idset *s, int64_t id)
{
        for (int i = s->n - 1; i >= 0; i--)
                if (s->v[i] == id)
                        return true;
        return false;
}

static int ids_add(struct pg_idset *s, int64_t id)
{
        int rc = pg_grow((void **)&s->v, s->n, &s->cap, sizeof(*s->v));

        if (!rc)
                s->v[s->n++] = id;
        return rc;
}

static void ids_del(struct pg_idset *s, int64_t id)
{
        for (int i = 0; i < s->n; i++)
                if (s->v[i] == id)
                        s->v[i--] = s->v[--s->n];
}

/* Forgets everything known of the transaction's rows: locks held outside
 * operations, jobs without children, kept results. */
static void txn_forget(struct store *st)
{
        kept_drop(st, true);
        st->txn_locked.n = 0;
        st->nochild.n = 0;
        st->n_locked = 0;
}

/* ---- open, close, reconnect ---- */

/* Server notices (such as those of DROP ... CASCADE) go to the log at debug
 * level instead of libpq's default, stderr. */
static void notice_to_log(void *arg, const char *msg)
{
        (void)arg;
        log_debug("store", "postgres: %s", msg);
}

/* The first key of the session advisory locks that hold shares of the queue
 * counters ("bntq"); the second is the share. */
#define SHARD_LOCK_KEY 1651405937

/* Takes a share of the queue counters that no other live connection holds:
 * the first free one of the PG_SHARDS session advisory locks, trying from
 * the backend's pid on so that nodes connecting together spread. The lock
 * ends with the session, so a reconnect takes a share again. With every
 * share held (more than PG_SHARDS connections) the connection writes one
 * that another also writes: counts stay exact, only such writes may wait. */
static int take_shard(struct store *st)
{
        int start = PQbackendPID(st->conn) % PG_SHARDS;
        char sql[256];
        PGresult *r;
        int rc = 0;

        snprintf(sql, sizeof(sql),
                 "SELECT s FROM (SELECT (%d + i) %% %d AS s FROM generate_series(0, %d) i) x"
                 " WHERE pg_try_advisory_lock(%d, s) LIMIT 1",
                 start, PG_SHARDS, PG_SHARDS - 1, SHARD_LOCK_KEY);
        r = PQexec(st->conn, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                log_error("store", "taking a share of the counters: %s", PQerrorMessage(st->conn));
                rc = BATON_ESTORE;
        } else {
                st->shard = PQntuples(r) > 0 ? atoi(PQgetvalue(r, 0, 0)) : start;
        }
        PQclear(r);
        return rc;
}

/* Connects to st->uri. connect_timeout and keepalives come first so that the
 * URI's own settings override them; a dead server is noticed within seconds
 * rather than at the kernel's TCP timeouts. */
static int connect_db(struct store *st, bool sync_full)
{
        const char *keys[] = {"connect_timeout",
                              "keepalives_idle",
                              "keepalives_interval",
                              "keepalives_count",
                              "application_name",
                              "dbname",
                              NULL};
        const char *vals[] = {CONNECT_TIMEOUT_S, "10", "5", "3", st->app_name, st->uri, NULL};
        PGresult *r;

        st->conn = PQconnectdbParams(keys, vals, 1);
        if (!st->conn)
                return BATON_ENOMEM;
        if (PQstatus(st->conn) != CONNECTION_OK) {
                log_error("store", "connecting to PostgreSQL: %s", PQerrorMessage(st->conn));
                PQfinish(st->conn);
                st->conn = NULL;
                return BATON_ESTORE;
        }
        PQsetNoticeProcessor(st->conn, notice_to_log, NULL);
        st->n_prepared = 0;
        /* synchronous_commit off is the relaxed durability mode (--sync normal):
         * a commit may be lost if the database server crashes, never half of it. */
        r = PQexec(st->conn,
                   sync_full ? "SET synchronous_commit = on" : "SET synchronous_commit = off");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                log_error("store", "configuring the session: %s", PQerrorMessage(st->conn));
                PQclear(r);
                PQfinish(st->conn);
                st->conn = NULL;
                return BATON_ESTORE;
        }
        PQclear(r);
        if (!st->lease_conn && take_shard(st)) {
                PQfinish(st->conn);
                st->conn = NULL;
                return BATON_ESTORE;
        }
        return 0;
}

/* Sets the session's timeouts (ms, 0 = none). statement_timeout: a
 * statement that runs longer fails (57014), which fails its operation or
 * batch instead of stalling the store thread. lock_timeout: a statement
 * that waits longer for a lock fails (55P03) and fails its batch (see
 * lock_cycle). idle_in_transaction_session_timeout: the database ends this
 * session if it sits inside a transaction that long without sending
 * anything, so that a stalled node (SIGSTOP, a frozen VM) cannot hold its
 * row locks, and with them the other nodes, for as long as it is stalled.
 * Set after the migrations, which may wait for locks and run long. */
static int set_limits(struct store *st)
{
        const char *names[3] = {"statement_timeout", "lock_timeout",
                                "idle_in_transaction_session_timeout"};
        int ms[3] = {st->statement_timeout_ms, st->lock_timeout_ms, st->idle_tx_timeout_ms};
        int rc = 0;

        for (int i = 0; i < 3 && !rc; i++) {
                char sql[96];
                PGresult *r;

                if (!ms[i])
                        continue;
                snprintf(sql, sizeof(sql), "SET %s = %d", names[i], ms[i]);
                r = PQexec(st->conn, sql);
                if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                        log_error("store", "setting %s: %s", names[i], PQerrorMessage(st->conn));
                        rc = BATON_ESTORE;
                }
                PQclear(r);
        }
        return rc;
}

static void close_store(struct store *st)
{
        if (!st)
                return;
        /* Closing with a transaction open rolls it back on the server. */
        if (st->conn)
                PQfinish(st->conn);
        clear_pending(st);
        txn_forget(st);
        pg_qcache_clear(st);
        pg_qdelta_clear(st);
        free(st->qdelta);
        for (int i = 0; i < PG_KEPT_MAX; i++)
                free(st->kept[i].ids);
        free(st->txn_locked.v);
        free(st->nochild.v);
        free(st->locked);
        for (int i = 0; i < PG_BUILT_MAX; i++)
                free(st->built_sql[i]);
        free(st->uri);
        free(st);
}

/* *out is owned by the caller and released with close_store. */
static int open_store(const struct store_opts *opts, struct store **out)
{
        struct store *st;
        int rc;

        *out = NULL;
        if (!opts->uri || !*opts->uri)
                return BATON_EINVAL;
        st = calloc(1, sizeof(*st));
        if (!st)
                return BATON_ENOMEM;
        /* A lease write lost in a database crash costs a take, not a job. */
        st->sync_full = opts->sync_full && !opts->lease_conn;
        st->statement_timeout_ms = opts->statement_timeout_ms > 0 ? opts->statement_timeout_ms : 0;
        st->lock_timeout_ms = opts->lock_timeout_ms > 0 ? opts->lock_timeout_ms : 0;
        st->idle_tx_timeout_ms = opts->idle_tx_timeout_ms > 0 ? opts->idle_tx_timeout_ms : 0;
        st->lease_conn = opts->lease_conn;
        snprintf(st->app_name, sizeof(st->app_name), "%s",
                 opts->app_name && *opts->app_name ? opts->app_name : "batond");
        st->uri = strdup(opts->uri);
        rc = st->uri ? connect_db(st, st->sync_full) : BATON_ENOMEM;
        /* Migrations may rewrite big tables: they run without the timeouts.
         * A lease connection is opened after the store's, which migrated. */
        if (!rc && !st->lease_conn)
                rc = pg_migrate_to(st->conn, pg_schema_newest());
        if (!rc)
                rc = set_limits(st);
        if (!rc)
                rc = build_stmts(st);
        if (rc) {
                close_store(st);
                return rc;
        }
        *out = st;
        return 0;
}

/* Reconnects a broken store, at most once per backoff period; in between it
 * fails at once so that requests get their 503 without waiting. */
static int reconnect(struct store *st)
{
        int64_t now_ns = clock_mono_ns(clock_system());
        int rc;

        if (now_ns < st->retry_at_ns)
                return BATON_ESTORE;
        if (st->conn)
                PQfinish(st->conn);
        st->conn = NULL;
        rc = connect_db(st, st->sync_full);
        if (!rc)
                rc = set_limits(st);
        if (rc) {
                st->backoff_ms = st->backoff_ms ? st->backoff_ms * 2 : BACKOFF_MIN_MS;
                if (st->backoff_ms > BACKOFF_MAX_MS)
                        st->backoff_ms = BACKOFF_MAX_MS;
                st->retry_at_ns = now_ns + st->backoff_ms * 1000000LL;
                return rc;
        }
        log_info("store", "reconnected to PostgreSQL");
        st->broken = false;
        st->backoff_ms = 0;
        st->retry_at_ns = 0;
        return 0;
}

static int schema_version(struct store *st, int *out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, &S_VERSION, NULL, &r);

        if (!rc)
                *out = (int)pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

static int now_ms(struct store *st, int64_t *out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, &S_NOW, NULL, &r);

        if (!rc)
                *out = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

/* ---- transactions ---- */

/* BEGIN is deferred: it travels with the batch's first statement (now_ms). */
static int begin_txn(struct store *st)
{
        if (st->conn && PQstatus(st->conn) != CONNECTION_OK)
                set_broken(st);
        if (st->broken || !st->conn) {
                int rc = reconnect(st);

                if (rc)
                        return rc;
        }
        if (st->in_txn) {
                log_error("store", "begin: a transaction is already open");
                return BATON_ESTORE;
        }
        clear_pending(st);
        txn_forget(st);
        pg_qcache_clear(st);
        pg_qdelta_clear(st);
        st->op_seq = 0;
        st->failed = false;
        st->sp = PG_SP_NONE;
        st->in_txn = true;
        return pg_defer(st, "BEGIN");
}

static int commit_txn(struct store *st)
{
        int rc;

        if (!st->in_txn) {
                log_error("store", "commit: no transaction is open");
                return BATON_ESTORE;
        }
        txn_forget(st);
        pg_qcache_clear(st);
        /* A failed command of a finished operation: the caller rolls back. */
        rc = st->failed ? BATON_ESTORE : pg_qdelta_flush(st);
        if (!rc)
                rc = pg_defer(st, PG_COMMIT);
        if (!rc)
                rc = pg_flush(st);
        st->in_txn = false;
        st->sp = PG_SP_NONE;
        return rc;
}

static int rollback_txn(struct store *st)
{
        PGresult *r;
        int rc = 0;

        clear_pending(st);
        txn_forget(st);
        pg_qcache_clear(st);
        pg_qdelta_clear(st);
        st->failed = false;
        st->in_txn = false;
        st->sp = PG_SP_NONE;
        if (st->broken || !st->conn || PQtransactionStatus(st->conn) == PQTRANS_IDLE)
                return 0;
        r = PQexec(st->conn, "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = BATON_ESTORE;
                set_broken(st);
        }
        PQclear(r);
        return rc;
}

static int savepoint_op(struct store *st)
{
        if (!st->in_txn || st->broken) {
                log_error("store", "savepoint: no transaction is open");
                return BATON_ESTORE;
        }
        BATON_ASSERT(st->sp == PG_SP_NONE);
        st->sp = PG_SP_WANT;
        st->op_seq++;
        kept_drop(st, false);
        /* Row locks taken inside a savepoint that is rolled back are lost, so
         * what an operation may rely on is what it locked itself. */
        st->n_locked = 0;
        return 0;
}

/* A savepoint that no statement followed was never sent: nothing to undo
 * but the operation's deferred writes, which were not sent either. */
static int end_op(struct store *st, bool keep)
{
        int rc = 0;

        kept_drop(st, false);
        /* What the operation wrote to the queue rows it knew is undone. */
        if (!keep)
                pg_qcache_clear(st);
        pg_qdelta_end_op(st, keep);
        if (!st->in_txn || st->broken)
                return BATON_ESTORE;
        if (st->sp == PG_SP_WANT && !keep)
                drop_op_tail(st);
        if (st->sp == PG_SP_OPEN && !keep)
                rc = pg_defer(st, "ROLLBACK TO SAVEPOINT op");
        if (st->sp == PG_SP_OPEN && !rc)
                rc = pg_defer(st, "RELEASE SAVEPOINT op");
        st->sp = PG_SP_NONE;
        return rc;
}

static int release_op(struct store *st)
{
        return end_op(st, true);
}

static int rollback_to_op(struct store *st)
{
        return end_op(st, false);
}

/* ---- jobs ---- */

/* Job states a pending key is unique among (scheduled, queued). */
static bool key_pending(const struct job *j)
{
        return j->key && (j->state == JOB_SCHEDULED || j->state == JOB_QUEUED);
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
static int insert_job(struct store *st, struct job *j)
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
        pg_p_text(&p, j->tenant);
        pg_p_i64(&p, j->created_at_ms);
        bind_job_cols(&p, j);
        if (id) {
                rc = defer_write(st, &st->built[B_INSERT_ID], &p);
                if (!rc)
                        j->id = id;
                return rc;
        }
        rc = pg_exec(st, &st->built[B_INSERT], &p, &r);
        if (!rc && PQntuples(r) == 0)
                rc = BATON_ECONFLICT; /* the pending key is taken */
        if (!rc)
                j->id = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

/* Reads one row of a single-row statement with read(); BATON_ENOTFOUND when
 * there is none. The caller owns what read() allocates. */
static int get_one(struct store *st, const struct pg_stmt *s, const struct pg_params *p,
                   int (*read)(const PGresult *, int, void *), void *out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, s, p, &r);

        if (!rc)
                rc = PQntuples(r) > 0 ? read(r, 0, out) : BATON_ENOTFOUND;
        PQclear(r);
        return rc;
}

/* Reads every row of s into a malloc'd array of elem-sized records owned by
 * the caller (*out, *n_out; free with the record type's *_recs_free). */
int pg_collect(struct store *st, const struct pg_stmt *s, const struct pg_params *p, size_t elem,
               int (*read)(const PGresult *, int, void *), void (*release)(void *), void **out,
               int *n_out)
{
        PGresult *r = NULL;
        char *v = NULL;
        int rc, n = 0;

        *out = NULL;
        *n_out = 0;
        rc = pg_exec(st, s, p, &r);
        if (!rc && PQntuples(r) > 0) {
                v = calloc((size_t)PQntuples(r), elem);
                rc = v ? 0 : BATON_ENOMEM;
        }
        for (int i = 0; !rc && i < PQntuples(r); i++, n++)
                rc = read(r, i, v + (size_t)i * elem);
        PQclear(r);
        if (rc) {
                for (int i = 0; i < n; i++)
                        release(v + (size_t)i * elem);
                free(v);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

static int rd_job(const PGresult *r, int row, void *out)
{
        return read_job(r, row, out);
}

/* The jobs this operation read with job_get hold a row lock until the
 * transaction ends: they exist, and nobody else can change or delete them. */
static int note_locked(struct store *st, int64_t id)
{
        if (st->n_locked == st->cap_locked) {
                int cap = st->cap_locked ? st->cap_locked * 2 : 64;
                int64_t *v = realloc(st->locked, (size_t)cap * sizeof(*v));

                if (!v)
                        return BATON_ENOMEM;
                st->locked = v;
                st->cap_locked = cap;
        }
        st->locked[st->n_locked++] = id;
        return 0;
}

static bool holds_lock(const struct store *st, int64_t id)
{
        for (int i = st->n_locked - 1; i >= 0; i--)
                if (st->locked[i] == id)
                        return true;
        return ids_has(&st->txn_locked, id);
}

static void forget_locked(struct store *st, int64_t id)
{
        for (int i = 0; i < st->n_locked; i++)
                if (st->locked[i] == id)
                        st->locked[i] = 0; /* ids start at 1 */
        ids_del(&st->txn_locked, id);
}

/* A kept row of id no longer shows the job as it is. */
static void forget_ready(struct store *st, int64_t id)
{
        for (int i = 0; i < PG_KEPT_MAX; i++)
                for (int r = 0; st->kept[i].res && r < st->kept[i].n; r++)
                        if (st->kept[i].ids[r] == id)
                                st->kept[i].ids[r] = 0;
}

static int get_job(struct store *st, const char *tenant, int64_t id, struct job *out)
{
        struct pg_params p = {0};
        struct job j;
        int rc;

        int row = 0;
        PGresult *kept = kept_row(st, tenant, id, &row);

        if (kept) {
                rc = read_job(kept, row, &j);
                if (!rc)
                        *out = j;
                return rc;
        }
        pg_p_i64(&p, id);
        pg_p_text(&p, tenant);
        rc = get_one(st, &st->built[B_GET], &p, rd_job, &j);
        if (!rc)
                rc = note_locked(st, id);
        if (!rc)
                *out = j;
        else if (rc == BATON_ENOMEM)
                job_free(&j);
        return rc;
}

/* An update that makes a keyed job pending may clash on the pending-key index,
 * which aborts the statement; a savepoint of its own keeps the transaction
 * usable (store.h). Both commands are deferred into the update's round trip. */
static int update_job(struct store *st, const struct job *j)
{
        struct pg_params p = {0};
        bool guard = key_pending(j);
        int64_t n = 0;
        int rc = 0;

        forget_ready(st, j->id);
        pg_p_i64(&p, j->id);
        bind_job_cols(&p, j);
        /* The common case (claim, settle, expire) updates a job this operation
         * has just read and locked: the row exists and cannot clash, so the
         * update needs no answer of its own and travels with the next round
         * trip. A failure there (which only a lost connection or a broken
         * invariant causes) fails the rest of the transaction, so the commit
         * reports it for the whole batch. */
        if (!guard && holds_lock(st, j->id))
                return defer_write(st, &st->built[B_UPDATE], &p);
        if (guard)
                rc = pg_open_op_savepoint(st);
        if (!rc && guard)
                rc = pg_defer(st, "SAVEPOINT w");
        if (rc)
                return rc;
        rc = pg_run(st, &st->built[B_UPDATE], &p, &n);
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

static int find_key(struct store *st, const char *tenant, const char *queue, const char *key,
                    int64_t *id_out)
{
        struct pg_params p = {0};
        int64_t id = 0;
        int n = 0, rc;

        if (!key)
                return BATON_ENOTFOUND;
        pg_p_text(&p, tenant);
        pg_p_text(&p, queue);
        pg_p_text(&p, key);
        rc = pg_ids(st, &S_JOB_FIND_KEY, &p, 1, &id, &n);
        if (!rc && n == 0)
                rc = BATON_ENOTFOUND;
        if (!rc)
                *id_out = id;
        return rc;
}

/* Appends the matching jobs to out; the caller frees out with job_vec_free,
 * also after a failure. */
static int list_jobs(struct store *st, const struct job_filter *f, struct job_vec *out)
{
        int bits =
            (f->queue ? LF_QUEUE : 0) | (f->state >= 0 ? LF_STATE : 0) | (f->type ? LF_TYPE : 0);
        struct pg_params p = {0};
        PGresult *r = NULL;
        int rc;

        if (!f->tenant || f->limit <= 0)
                return BATON_EINVAL;
        pg_p_text(&p, f->tenant);
        if (bits & LF_QUEUE)
                pg_p_text(&p, f->queue);
        if (bits & LF_STATE)
                pg_p_i64(&p, f->state);
        if (bits & LF_TYPE)
                pg_p_text(&p, f->type);
        pg_p_i64(&p, f->after_id);
        pg_p_i64(&p, f->limit);
        pg_p_i64(&p, f->bytes_max ? (int64_t)f->bytes_max : INT64_MAX);
        rc = pg_exec(st, &st->built[B_LIST + bits], &p, &r);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                struct job *j = job_vec_push(out);

                rc = j ? read_job(r, i, j) : BATON_ENOMEM;
                if (rc && j)
                        out->n--; /* read_job left the slot empty */
        }
        PQclear(r);
        return rc;
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
                        prios[n] = (int)pg_i64(r, i, JOB_READ_FIXED + JOB_COL_PRIORITY);
                rc = note_locked(st, ids[n++]);
        }
        if (rc) {
                PQclear(r);
                return rc;
        }
        kept_add(st, r, ids, n, false);
        *n_out = n;
        return 0;
}

static int ready_ids(struct store *st, const char *tenant, const char *queue, int max, int64_t *ids,
                     int *n_out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, queue);
        pg_p_i64(&p, max);
        return keep_ready(st, &st->built[B_READY], &p, max, ids, NULL, n_out);
}

int pg_group_ready_rows(struct store *st, const char *tenant, const char *queue, const char *grp,
                        int max, int64_t *ids, int *prios, int *n_out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, queue);
        if (grp)
                pg_p_text(&p, grp);
        pg_p_i64(&p, max);
        return keep_ready(st, &st->built[grp ? B_GROUP_READY : B_NOGROUP_READY], &p, max, ids,
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
                rc = ids_add(&st->txn_locked, id);
                if (!rc && !parent)
                        rc = ids_add(&st->nochild, id);
        }
        return rc;
}

/* One round trip for the jobs and, outside an operation, which of them have
 * children: the second statement runs after the first has taken its locks
 * (a pipeline runs in order, each statement with a fresh snapshot), so it
 * sees every child added before; none can be added after without the lock. */
static int get_jobs_many(struct store *st, const char *tenant, const int64_t *ids, int n,
                         struct job_vec *out)
{
        const struct pg_stmt *s[2] = {&st->built[B_GET_MANY], &S_DEP_PARENTS};
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
        pg_p_text(&p, arr);
        pg_p_text(&p, tenant);
        pg_p_text(&dp, arr);
        rc = pg_exec_n(st, s, pp, k, res);
        if (!rc && txn)
                rc = note_txn_rows(st, res[0], res[1]);
        for (int i = 0; !rc && !txn && i < PQntuples(res[0]); i++)
                rc = note_locked(st, pg_i64(res[0], i, 0));
        for (int i = 0; !rc && out && i < PQntuples(res[0]); i++) {
                struct job *j = job_vec_push(out);

                rc = j ? read_job(res[0], i, j) : BATON_ENOMEM;
                if (rc && j)
                        out->n--;
        }
        if (!rc && out)
                qsort(out->v + first, (size_t)(out->n - first), sizeof(*out->v), cmp_job_id);
        if (!rc && PQntuples(res[0]) > 0) {
                row_ids = malloc((size_t)PQntuples(res[0]) * sizeof(*row_ids));
                for (int i = 0; row_ids && i < PQntuples(res[0]); i++)
                        row_ids[i] = pg_i64(res[0], i, 0);
        }
        if (row_ids) {
                kept_add(st, res[0], row_ids, PQntuples(res[0]), txn);
                res[0] = NULL;
        }
        free(row_ids);
        PQclear(res[0]);
        PQclear(res[1]);
        free(arr);
        return rc;
}

/* Row i of a group_ready_many answer: the column of ord and of n. */
#define GM_ORD (JOB_READ_FIXED + JOB_NCOLS)
#define GM_N (GM_ORD + 1)

int pg_group_ready_many(struct store *st, const char *tenant, const char *queue,
                        const char *const *grps, int n_grps, int per, int64_t *ids, int *prios,
                        int *n_out, bool *busy)
{
        struct pg_params p = {0};
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
        pg_p_text(&p, tenant);
        pg_p_text(&p, queue);
        pg_p_text(&p, arr);
        pg_p_i64(&p, per);
        rc = pg_exec(st, &st->built[B_GROUP_MANY], &p, &r);
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
                prios[at] = (int)pg_i64(r, i, JOB_READ_FIXED + JOB_COL_PRIORITY);
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
                kept_add(st, r, row_ids, PQntuples(r), false);
                r = NULL;
        }
        PQclear(r);
        free(row_ids);
        free(arr);
        return rc;
}

static int due_ids(struct store *st, int64_t now, int max, int64_t *ids, int *n_out)
{
        struct pg_params p = {0};

        pg_p_i64(&p, now);
        pg_p_i64(&p, max);
        return pg_ids(st, &S_JOB_DUE, &p, max, ids, n_out);
}

static int expired_ids(struct store *st, int64_t now, int max, int64_t *ids, int *n_out)
{
        struct pg_params p = {0};

        pg_p_i64(&p, now);
        pg_p_i64(&p, max);
        return pg_ids(st, &S_JOB_EXPIRED, &p, max, ids, n_out);
}

static int state_ids(struct store *st, const char *tenant, const char *queue, int state,
                     int64_t after_id, int max, int64_t *ids, int *n_out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, queue);
        pg_p_i64(&p, state);
        pg_p_i64(&p, after_id);
        pg_p_i64(&p, max);
        return pg_ids(st, &S_JOB_STATE_IDS, &p, max, ids, n_out);
}

/* Runs a DELETE of at most max rows and reports how many went. */
static int purge(struct store *st, const struct pg_stmt *s, struct pg_params *p, int max,
                 int *n_out)
{
        int64_t n = 0;
        int rc;

        *n_out = 0;
        if (max <= 0)
                return 0;
        pg_p_i64(p, max);
        rc = pg_run(st, s, p, &n);
        if (!rc)
                *n_out = (int)n;
        return rc;
}

/* Only terminal states have finished jobs to purge; others delete nothing. */
static int purge_jobs(struct store *st, int state, int64_t before_ms, int max, int *n_out)
{
        struct pg_params p = {0};

        pg_p_i64(&p, state);
        pg_p_i64(&p, before_ms);
        txn_forget(st); /* it may delete rows read before */
        return purge(st, &S_JOB_PURGE, &p, max, n_out);
}

static int delete_job(struct store *st, const char *tenant, int64_t id)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        pg_p_i64(&p, id);
        pg_p_text(&p, tenant);
        forget_locked(st, id);
        forget_ready(st, id);
        rc = pg_run(st, &S_JOB_DELETE, &p, &n);
        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

/* A deadline column: 0 when there is no row; a stored instant of 0 or less is
 * still something to do, so it is reported as 1 (long past). */
static int64_t deadline_col(const PGresult *r, int i)
{
        int64_t t;

        if (PQgetisnull(r, 0, i))
                return 0;
        t = pg_i64(r, 0, i);
        return t > 0 ? t : 1;
}

static int64_t min_nonzero(int64_t a, int64_t b)
{
        if (!a || !b)
                return a ? a : b;
        return a < b ? a : b;
}

static int read_deadlines(struct store *st, struct store_deadlines *out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, &S_DEADLINES, NULL, &r);

        memset(out, 0, sizeof(*out));
        if (!rc) {
                out->run_at_ms = deadline_col(r, 0);
                out->lease_until_ms = deadline_col(r, 1);
                out->completed_min_ms = deadline_col(r, 2);
                out->dead_min_ms = min_nonzero(deadline_col(r, 3), deadline_col(r, 4));
                out->idem_min_ms = deadline_col(r, 5);
                out->dep_work = !PQgetisnull(r, 0, 6);
                out->audit_min_ms = deadline_col(r, 7);
        }
        PQclear(r);
        return rc;
}

/* ---- idempotency records ---- */

static int rd_idem(const PGresult *r, int row, void *out)
{
        struct idem_rec *rec = out;
        int rc;

        memset(rec, 0, sizeof(*rec));
        rec->job_id = pg_i64(r, row, 2);
        rec->expires_at_ms = pg_i64(r, row, 4);
        rc = pg_text(r, row, 0, &rec->tenant);
        if (!rc)
                rc = pg_text(r, row, 1, &rec->key);
        if (!rc)
                rc = pg_text(r, row, 3, &rec->payload_hash);
        if (rc)
                idem_rec_free(rec);
        return rc;
}

static int get_idem(struct store *st, const char *tenant, const char *key, struct idem_rec *out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, key);
        return get_one(st, &S_IDEM_GET, &p, rd_idem, out);
}

static int put_idem(struct store *st, const struct idem_rec *rec)
{
        struct pg_params p = {0};

        pg_p_text(&p, rec->tenant);
        pg_p_text(&p, rec->key);
        pg_p_i64(&p, rec->job_id);
        pg_p_text(&p, rec->payload_hash);
        pg_p_i64(&p, rec->expires_at_ms);
        return defer_write(st, &S_IDEM_PUT, &p);
}

/* The record's five columns, then extra when has_extra. */
static void idem_params(struct pg_params *p, const struct idem_rec *rec, bool has_extra,
                        int64_t extra)
{
        pg_p_text(p, rec->tenant);
        pg_p_text(p, rec->key);
        pg_p_i64(p, rec->job_id);
        pg_p_text(p, rec->payload_hash);
        pg_p_i64(p, rec->expires_at_ms);
        if (has_extra)
                pg_p_i64(p, extra);
}

/* The insert alone first: a new key, the common case, costs one statement
 * and one round trip, as the lookup it replaces did. When the key is held,
 * one more round trip sends S_IDEM_TAKE again with S_IDEM_RETAKE and
 * S_IDEM_GET (see there). The insert waits for a transaction that holds an
 * uncommitted record of the key and, once that committed, does nothing; the
 * update then finds the record live and the read returns it, so exactly one
 * taker wins. A record that vanished between the statements (a purge) is
 * taken again, a bounded number of times. */
static int take_idem(struct store *st, const struct idem_rec *rec, int64_t now_ms,
                     struct idem_rec *held)
{
        const struct pg_stmt *s[3] = {&S_IDEM_TAKE, &S_IDEM_RETAKE, &S_IDEM_GET};
        struct pg_params p = {0}, u = {0}, g = {0};
        const struct pg_params *pp[3] = {&p, &u, &g};
        int rc = BATON_EBUSY;

        memset(held, 0, sizeof(*held));
        idem_params(&p, rec, false, 0);
        idem_params(&u, rec, true, now_ms);
        pg_p_text(&g, rec->tenant);
        pg_p_text(&g, rec->key);
        for (int i = 0; i < 4; i++) {
                PGresult *r[3] = {NULL, NULL, NULL};
                int k = i == 0 ? 1 : 3;

                rc = pg_exec_n(st, s, pp, k, r);
                if (!rc && (PQntuples(r[0]) > 0 || (k > 1 && PQntuples(r[1]) > 0)))
                        rc = 0;
                else if (!rc && k > 1 && PQntuples(r[2]) > 0)
                        rc = rd_idem(r[2], 0, held) ? BATON_ENOMEM : BATON_ECONFLICT;
                else if (!rc)
                        rc = BATON_EBUSY; /* held, or purged in between: look again */
                for (int j = 0; j < k; j++)
                        PQclear(r[j]);
                if (rc != BATON_EBUSY)
                        break;
        }
        return rc;
}

/* A conditional update: it waits for a transaction that changes the same
 * record and then judges the record as that one left it. */
static int swap_idem(struct store *st, const struct idem_rec *rec, int64_t old_job_id)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        idem_params(&p, rec, true, old_job_id);
        rc = pg_run(st, &S_IDEM_SWAP, &p, &n);
        return rc ? rc : n > 0 ? 0 : BATON_ECONFLICT;
}

static int purge_idem(struct store *st, int64_t before_ms, int max, int *n_out)
{
        struct pg_params p = {0};

        pg_p_i64(&p, before_ms);
        return purge(st, &S_IDEM_PURGE, &p, max, n_out);
}

/* ---- queues and tenants ---- */

static int ensure_queue(struct store *st, const char *tenant, const char *name, int64_t now)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, name);
        pg_p_i64(&p, now);
        return defer_write(st, &S_QUEUE_ENSURE, &p);
}

static int total_queues(struct store *st, const char *tenant, int64_t *n_out)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int rc;

        *n_out = 0;
        pg_p_text(&p, tenant);
        rc = pg_exec(st, &S_QUEUE_TOTAL, &p, &r);
        if (!rc && PQntuples(r) == 1)
                *n_out = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

static int rd_queue(const PGresult *r, int row, void *out)
{
        struct queue_rec *q = out;
        int rc;

        memset(q, 0, sizeof(*q));
        q->paused = pg_i64(r, row, 2) != 0;
        q->created_at_ms = pg_i64(r, row, 3);
        q->updated_at_ms = pg_i64(r, row, 4);
        rc = pg_text(r, row, 0, &q->tenant);
        if (!rc)
                rc = pg_text(r, row, 1, &q->name);
        if (rc)
                queue_rec_free(q);
        return rc;
}

static void rel_queue(void *q)
{
        queue_rec_free(q);
}

static int get_queue(struct store *st, const char *tenant, const char *name, struct queue_rec *out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, name);
        return get_one(st, &S_QUEUE_GET, &p, rd_queue, out);
}

/* An existing queue keeps its created_at: only paused and updated_at change. */
static int put_queue(struct store *st, const struct queue_rec *q)
{
        struct pg_params p = {0};

        pg_p_text(&p, q->tenant);
        pg_p_text(&p, q->name);
        pg_p_i64(&p, q->paused ? 1 : 0);
        pg_p_i64(&p, q->created_at_ms);
        pg_p_i64(&p, q->updated_at_ms);
        return pg_run(st, &S_QUEUE_PUT, &p, NULL);
}

/* Names are never empty (core validates them): "" stands for the start. */
static int list_queues(struct store *st, const char *tenant, const char *after, int limit,
                       struct queue_rec **out, int *n_out)
{
        struct pg_params p = {0};

        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        pg_p_text(&p, tenant);
        pg_p_text(&p, after ? after : "");
        pg_p_i64(&p, limit);
        return pg_collect(st, &S_QUEUE_LIST, &p, sizeof(**out), rd_queue, rel_queue, (void **)out,
                          n_out);
}

static int count_queue(struct store *st, const char *tenant, const char *name,
                       struct queue_counts *out)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int rc;

        memset(out, 0, sizeof(*out));
        pg_p_text(&p, tenant);
        pg_p_text(&p, name);
        rc = pg_exec(st, &S_QUEUE_COUNTS, &p, &r);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                int64_t state = pg_i64(r, i, 0);

                if (state >= 0 && state < JOB_STATE_COUNT)
                        out->by_state[state] = pg_i64(r, i, 1);
        }
        PQclear(r);
        r = NULL;
        if (!rc)
                rc = pg_exec(st, &S_QUEUE_OLDEST, &p, &r);
        if (!rc)
                out->oldest_ready_ms = deadline_col(r, 0);
        PQclear(r);
        return rc;
}

/* The first call for a name wins: its created_at is kept. */
static int ensure_tenant(struct store *st, const char *name, int64_t now)
{
        struct pg_params p = {0};

        if (!name)
                return BATON_EINVAL;
        pg_p_text(&p, name);
        pg_p_i64(&p, now);
        return defer_write(st, &S_TENANT_ENSURE, &p);
}

/* ---- API keys ---- */

static int rd_key(const PGresult *r, int row, void *out)
{
        struct key_rec *k = out;
        int rc;

        memset(k, 0, sizeof(*k));
        k->prev_until_ms = pg_i64(r, row, 5);
        k->scopes = (uint32_t)pg_i64(r, row, 6);
        k->created_at_ms = pg_i64(r, row, 7);
        k->expires_at_ms = pg_i64(r, row, 8);
        k->revoked_at_ms = pg_i64(r, row, 9);
        k->rotated_at_ms = pg_i64(r, row, 10);
        k->rate_max = pg_i64(r, row, 11);
        k->rate_per_ms = pg_i64(r, row, 12);
        rc = pg_text(r, row, 0, &k->id);
        if (!rc)
                rc = pg_text(r, row, 1, &k->tenant);
        if (!rc)
                rc = pg_text(r, row, 2, &k->name);
        if (!rc)
                rc = pg_text(r, row, 3, &k->digest);
        if (!rc)
                rc = pg_text(r, row, 4, &k->prev_digest);
        if (!rc)
                rc = pg_text(r, row, 13, &k->created_by);
        if (rc)
                key_rec_free(k);
        return rc;
}

static void rel_key(void *k)
{
        key_rec_free(k);
}

/* The columns key_update writes, from name on ($2..$12 of key_update). */
static void bind_key_mutable(struct pg_params *p, const struct key_rec *k)
{
        pg_p_text(p, k->name);
        pg_p_text(p, k->digest);
        pg_p_text(p, k->prev_digest);
        pg_p_i64(p, k->prev_until_ms);
        pg_p_i64(p, (int64_t)k->scopes);
}

static void bind_key_times(struct pg_params *p, const struct key_rec *k)
{
        pg_p_i64(p, k->expires_at_ms);
        pg_p_i64(p, k->revoked_at_ms);
        pg_p_i64(p, k->rotated_at_ms);
        pg_p_i64(p, k->rate_max);
        pg_p_i64(p, k->rate_per_ms);
        pg_p_text(p, k->created_by);
}

static int insert_key(struct store *st, const struct key_rec *k)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        if (!k->id || !k->tenant || !k->digest)
                return BATON_EINVAL;
        pg_p_text(&p, k->id);
        pg_p_text(&p, k->tenant);
        bind_key_mutable(&p, k);
        pg_p_i64(&p, k->created_at_ms);
        bind_key_times(&p, k);
        rc = pg_run(st, &S_KEY_INSERT, &p, &n);
        return !rc && n == 0 ? BATON_ECONFLICT : rc;
}

static int get_key(struct store *st, const char *id, struct key_rec *out)
{
        struct pg_params p = {0};

        if (!id)
                return BATON_ENOTFOUND;
        pg_p_text(&p, id);
        return get_one(st, &S_KEY_GET, &p, rd_key, out);
}

/* id, tenant and created_at never change: a key cannot move between tenants. */
static int update_key(struct store *st, const struct key_rec *k)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        if (!k->id || !k->digest)
                return BATON_EINVAL;
        pg_p_text(&p, k->id);
        bind_key_mutable(&p, k);
        bind_key_times(&p, k);
        rc = pg_run(st, &S_KEY_UPDATE, &p, &n);
        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

static int list_keys(struct store *st, const char *tenant, const char *after, int limit,
                     struct key_rec **out, int *n_out)
{
        struct pg_params p = {0};

        *out = NULL;
        *n_out = 0;
        if (limit <= 0)
                return BATON_EINVAL;
        if (tenant)
                pg_p_text(&p, tenant);
        pg_p_text(&p, after ? after : "");
        pg_p_i64(&p, limit);
        return pg_collect(st, tenant ? &S_KEY_LIST_TENANT : &S_KEY_LIST_ALL, &p, sizeof(**out),
                          rd_key, rel_key, (void **)out, n_out);
}

static int count_keys(struct store *st, int64_t *n_out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, &S_KEY_COUNT, NULL, &r);

        if (!rc)
                *n_out = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

/* ---- audit log ---- */

/* An identity column: an audit id is never handed out twice, so a reader's
 * cursor never skips a later entry. */
static int insert_audit(struct store *st, struct audit_rec *a)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int rc;

        if (!a->action)
                return BATON_EINVAL;
        pg_p_i64(&p, a->at_ms);
        pg_p_text(&p, a->key_id);
        pg_p_text(&p, a->tenant);
        pg_p_text(&p, a->action);
        pg_p_text(&p, a->target);
        pg_p_text(&p, a->request_id);
        pg_p_i64(&p, a->status);
        pg_p_text(&p, a->code);
        pg_p_text(&p, a->detail);
        if (a->bucket) {
                pg_p_text(&p, a->bucket);
                pg_p_i64(&p, a->n > 0 ? a->n : 1);
        }
        rc = pg_exec(st, a->bucket ? &S_AUDIT_BUMP : &S_AUDIT_INSERT, &p, &r);
        if (!rc) {
                a->id = pg_i64(r, 0, 0);
                a->n = a->bucket ? pg_i64(r, 0, 1) : 1;
        }
        PQclear(r);
        return rc;
}

static int purge_audit(struct store *st, int64_t before_ms, int max, int *n_out)
{
        struct pg_params p = {0};

        pg_p_i64(&p, before_ms);
        return purge(st, &S_AUDIT_PURGE, &p, max, n_out);
}

static int rd_audit(const PGresult *r, int row, void *out)
{
        struct audit_rec *a = out;
        int rc;

        memset(a, 0, sizeof(*a));
        a->id = pg_i64(r, row, 0);
        a->at_ms = pg_i64(r, row, 1);
        a->status = (int)pg_i64(r, row, 7);
        a->n = pg_i64(r, row, 10);
        rc = pg_text(r, row, 2, &a->key_id);
        if (!rc)
                rc = pg_text(r, row, 3, &a->tenant);
        if (!rc)
                rc = pg_text(r, row, 4, &a->action);
        if (!rc)
                rc = pg_text(r, row, 5, &a->target);
        if (!rc)
                rc = pg_text(r, row, 6, &a->request_id);
        if (!rc)
                rc = pg_text(r, row, 8, &a->code);
        if (!rc)
                rc = pg_text(r, row, 9, &a->detail);
        if (rc)
                audit_rec_free(a);
        return rc;
}

static void rel_audit(void *a)
{
        audit_rec_free(a);
}

static int list_audit(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                      int *n_out)
{
        struct pg_params p = {0};
        int bits;

        *out = NULL;
        *n_out = 0;
        if (!f || f->limit <= 0)
                return BATON_EINVAL;
        bits = (f->tenant ? AF_TENANT : 0) | (f->action ? AF_ACTION : 0) | (f->key_id ? AF_KEY : 0);
        if (bits & AF_TENANT)
                pg_p_text(&p, f->tenant);
        if (bits & AF_ACTION)
                pg_p_text(&p, f->action);
        if (bits & AF_KEY)
                pg_p_text(&p, f->key_id);
        pg_p_i64(&p, f->after_id);
        pg_p_i64(&p, f->limit);
        return pg_collect(st, &st->built[B_AUDIT + bits], &p, sizeof(**out), rd_audit, rel_audit,
                          (void **)out, n_out);
}

/* ---- timers ---- */

static int rd_timer(const PGresult *r, int row, void *out)
{
        struct timer_rec *t = out;
        int rc;

        memset(t, 0, sizeof(*t));
        t->version = pg_i64(r, row, 2);
        t->state = (int)pg_i64(r, row, 3);
        t->fire_at_ms = pg_i64(r, row, 4);
        t->priority = (int)pg_i64(r, row, 8);
        t->max_attempts = (int)pg_i64(r, row, 9);
        t->backoff.type = (int)pg_i64(r, row, 10);
        t->backoff.base_ms = pg_i64(r, row, 11);
        t->backoff.max_ms = pg_i64(r, row, 12);
        t->lease_ms = pg_i64(r, row, 13);
        t->job_id = pg_i64(r, row, 15);
        t->fired_at_ms = pg_i64(r, row, 16);
        t->created_at_ms = pg_i64(r, row, 17);
        t->updated_at_ms = pg_i64(r, row, 18);
        t->due_at_ms = pg_i64(r, row, 20);
        t->deferred = (int)pg_i64(r, row, 21);
        rc = pg_text(r, row, 0, &t->tenant);
        if (!rc)
                rc = pg_text(r, row, 1, &t->key);
        if (!rc)
                rc = pg_text(r, row, 5, &t->queue);
        if (!rc)
                rc = pg_text(r, row, 6, &t->type);
        if (!rc)
                rc = pg_text(r, row, 7, &t->payload);
        if (!rc)
                rc = pg_text(r, row, 14, &t->request_id);
        if (!rc)
                rc = pg_text(r, row, 19, &t->group);
        if (rc)
                timer_rec_free(t);
        return rc;
}

static void rel_timer(void *t)
{
        timer_rec_free(t);
}

static int get_timer(struct store *st, const char *tenant, const char *key, struct timer_rec *out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, key);
        return get_one(st, &S_TIMER_GET, &p, rd_timer, out);
}

/* An upsert whose values core has validated (state, priority), so it is
 * deferred: a leader tick that fires 1,000 timers sends their updates with
 * the next round trip instead of waiting for 1,000 round trips of its own. */
static int put_timer(struct store *st, const struct timer_rec *t)
{
        struct pg_params p = {0};

        if (!t->tenant || !t->key || !t->queue || !t->type || !t->payload)
                return BATON_EINVAL;
        pg_p_text(&p, t->tenant);
        pg_p_text(&p, t->key);
        pg_p_i64(&p, t->version);
        pg_p_i64(&p, t->state);
        pg_p_i64(&p, t->fire_at_ms);
        pg_p_text(&p, t->queue);
        pg_p_text(&p, t->type);
        pg_p_text(&p, t->payload);
        pg_p_i64(&p, t->priority);
        pg_p_i64(&p, t->max_attempts);
        pg_p_i64(&p, t->backoff.type);
        pg_p_i64(&p, t->backoff.base_ms);
        pg_p_i64(&p, t->backoff.max_ms);
        pg_p_i64(&p, t->lease_ms);
        pg_p_text(&p, t->request_id);
        pg_p_i64(&p, t->job_id);
        pg_p_i64(&p, t->fired_at_ms);
        pg_p_i64(&p, t->created_at_ms);
        pg_p_i64(&p, t->updated_at_ms);
        pg_p_text(&p, t->group);
        pg_p_i64(&p, t->due_at_ms > 0 ? t->due_at_ms : t->fire_at_ms);
        pg_p_i64(&p, t->deferred);
        return defer_write(st, &S_TIMER_PUT, &p);
}

static int list_timers(struct store *st, const char *tenant, const char *prefix, const char *after,
                       int limit, struct timer_rec **out, int *n_out)
{
        struct pg_params p = {0};
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
        pg_p_text(&p, tenant);
        pg_p_text(&p, after ? after : "");
        pg_p_text(&p, prefix);
        pg_p_text(&p, hi);
        pg_p_i64(&p, limit);
        rc = pg_collect(st, &S_TIMER_LIST, &p, sizeof(**out), rd_timer, rel_timer, (void **)out,
                        n_out);
        free(hi);
        return rc;
}

static int due_timers(struct store *st, int64_t now, int max, struct timer_rec **out, int *n_out)
{
        struct pg_params p = {0};

        *out = NULL;
        *n_out = 0;
        if (max <= 0)
                return BATON_EINVAL;
        pg_p_i64(&p, now);
        pg_p_i64(&p, max);
        return pg_collect(st, &S_TIMER_DUE, &p, sizeof(**out), rd_timer, rel_timer, (void **)out,
                          n_out);
}

static int next_timer(struct store *st, int64_t *at_ms_out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, &S_TIMER_NEXT, NULL, &r);

        *at_ms_out = 0;
        if (!rc && PQntuples(r) > 0)
                *at_ms_out = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

/* ---- dependencies and flows ---- */

static int insert_dep(struct store *st, const char *tenant, int64_t parent_id, int64_t child_id)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        pg_p_i64(&p, parent_id);
        pg_p_i64(&p, child_id);
        pg_p_text(&p, tenant);
        ids_del(&st->nochild, parent_id);
        rc = pg_run(st, &S_DEP_INSERT, &p, &n);
        return !rc && n == 0 ? BATON_ECONFLICT : rc;
}

static int dep_children(struct store *st, int64_t parent_id, int64_t after_id, int max,
                        int64_t *ids, int *n_out)
{
        struct pg_params p = {0};

        /* Known to have none (job_get_many): nobody adds one without the
         * parent's row lock, which this transaction holds. */
        if (ids_has(&st->nochild, parent_id)) {
                *n_out = 0;
                return 0;
        }
        pg_p_i64(&p, parent_id);
        pg_p_i64(&p, after_id);
        pg_p_i64(&p, max);
        return pg_ids(st, &S_DEP_CHILDREN, &p, max, ids, n_out);
}

/* ---- the dependency cascade's work list (version 9) ---- */

/* Writes whose only outcome is success travel with the next round trip
 * (pg_defer_write), so a cascade that spills a thousand rows adds no round
 * trip of its own. */
static int dep_work_put(struct store *st, int64_t job_id, int64_t after_id)
{
        struct pg_params p = {0};

        pg_p_i64(&p, job_id);
        pg_p_i64(&p, after_id);
        return pg_defer_write(st, &S_DEP_WORK_PUT, &p);
}

static int dep_work_next(struct store *st, int max, int64_t *ids, int64_t *afters, int *n_out)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int n = 0;
        int rc;

        pg_p_i64(&p, max);
        rc = pg_exec(st, &S_DEP_WORK_NEXT, &p, &r);
        for (int i = 0; !rc && i < PQntuples(r) && n < max; i++, n++) {
                ids[n] = pg_i64(r, i, 0);
                afters[n] = pg_i64(r, i, 1);
        }
        PQclear(r);
        *n_out = rc ? 0 : n;
        return rc;
}

static int dep_work_move(struct store *st, int64_t job_id, int64_t from_after, int64_t to_after)
{
        struct pg_params p = {0};

        pg_p_i64(&p, job_id);
        pg_p_i64(&p, from_after);
        if (to_after < 0)
                return pg_defer_write(st, &S_DEP_WORK_DONE, &p);
        pg_p_i64(&p, to_after);
        return pg_defer_write(st, &S_DEP_WORK_ADVANCE, &p);
}

static int insert_flow(struct store *st, struct flow_rec *f)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int rc;

        pg_p_text(&p, f->tenant);
        pg_p_i64(&p, f->created_at_ms);
        pg_p_text(&p, f->request_id);
        rc = pg_exec(st, &S_FLOW_INSERT, &p, &r);
        if (!rc)
                f->id = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

static int rd_flow(const PGresult *r, int row, void *out)
{
        struct flow_rec *f = out;
        int rc;

        memset(f, 0, sizeof(*f));
        f->id = pg_i64(r, row, 0);
        f->created_at_ms = pg_i64(r, row, 2);
        rc = pg_text(r, row, 1, &f->tenant);
        if (!rc)
                rc = pg_text(r, row, 3, &f->request_id);
        if (rc)
                flow_rec_free(f);
        return rc;
}

static int get_flow(struct store *st, const char *tenant, int64_t id, struct flow_rec *out)
{
        struct pg_params p = {0};

        pg_p_i64(&p, id);
        pg_p_text(&p, tenant);
        return get_one(st, &S_FLOW_GET, &p, rd_flow, out);
}

static int flow_job_ids(struct store *st, const char *tenant, int64_t flow_id, int64_t after_id,
                        int max, int64_t *ids, int *n_out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_i64(&p, flow_id);
        pg_p_i64(&p, after_id);
        pg_p_i64(&p, max);
        return pg_ids(st, &S_FLOW_JOBS, &p, max, ids, n_out);
}

/* ---- query plans ---- */

/* The statements of this file that pg_check_plans looks at, by name. */
static const struct pg_stmt *const plain_stmts[] = {
    &S_JOB_FIND_KEY,    &S_JOB_DUE,          &S_JOB_EXPIRED,   &S_JOB_STATE_IDS, &S_JOB_PURGE,
    &S_JOB_DELETE,      &S_DEADLINES,        &S_IDEM_GET,      &S_IDEM_PURGE,    &S_QUEUE_GET,
    &S_QUEUE_LIST,      &S_QUEUE_COUNTS,     &S_QUEUE_OLDEST,  &S_KEY_GET,       &S_KEY_UPDATE,
    &S_KEY_LIST_TENANT, &S_KEY_LIST_ALL,     &S_TIMER_GET,     &S_TIMER_LIST,    &S_TIMER_DUE,
    &S_TIMER_NEXT,      &S_DEP_CHILDREN,     &S_FLOW_GET,      &S_FLOW_JOBS,     &S_DEP_PARENTS,
    &S_DEP_WORK_NEXT,   &S_DEP_WORK_ADVANCE, &S_DEP_WORK_DONE, &S_QUEUE_TOTAL,   &S_AUDIT_PURGE,
};

/* What a statement's plan must look like: sample parameters (space
 * separated; "-" for none) and the indexes it must use (space separated;
 * NULL = any index). Every plan is also refused if it scans a table
 * sequentially or sorts. */
struct plan_want {
        const char *name;
        const char *params;
        const char *uses;
};

static const struct plan_want plan_wants[] = {
    {"pg_job_get", "1 t1", NULL},
    {"pg_job_find_key", "t1 q1 k1", "job_key"},
    /* The claim path of version 5 (pg_groups.c). job_ready_ids is off it and
     * has no index since migration 7 (store.h). */
    {"pg_group_ready_ids", "t1 q1 g1 10", "job_group_ready"},
    {"pg_nogroup_ready_ids", "t1 q1 10", "job_nogroup_ready"},
    {"pg_qlim_get", "t1 q1", "queue_limits_pkey queue_counts_pkey job_groups_pkey"},
    {"pg_qlim_lock", "t1 q1", "queue_limits_pkey"},
    {"pg_group_get", "t1 q1 g1", "job_groups_pkey"},
    {"pg_group_get_lock", "t1 q1 g1", "job_groups_pkey"},
    {"pg_group_delete", "t1 q1 g1", "job_groups_pkey rate_log_pkey"},
    {"pg_group_pick", "t1 q1 10", "group_pick"},
    {"pg_group_unblock", "t1 q1 1 0", "group_until"},
    {"pg_group_unblock_all", "t1 q1 0", "job_groups_pkey"},
    {"pg_group_next_until", "t1 q1", "group_until"},
    {"pg_rate_get", "t1 q1 g1 1", "rate_log_pkey"},
    {"pg_job_due_ids", "1 10", "job_due"},
    {"pg_job_expired_ids", "1 10", "job_lease"},
    {"pg_job_state_ids", "t1 q1 2 0 10", "job_tqs"},
    {"pg_job_purge", "5 1 10", "job_finished"},
    {"pg_job_delete", "1 t1", NULL},
    {"pg_deadlines", "-", "job_due job_lease job_finished idem_expiry dep_work_pkey audit_at"},
    {"pg_audit_purge", "1 10", "audit_at"},
    {"pg_idem_get", "t1 k1", "idempotency_pkey"},
    {"pg_idem_purge", "1 10", "idem_expiry"},
    {"pg_queue_get", "t1 q1", "queues_pkey"},
    {"pg_queue_total", "t1", "queue_totals_pkey"},
    {"pg_queue_list", "t1 a 10", "queues_pkey"},
    {"pg_queue_counts", "t1 q1", NULL},
    {"pg_queue_oldest", "t1 q1", NULL},
    {"pg_key_get", "k1", "api_keys_pkey"},
    {"pg_key_update", "k1 n d p 0 0 0 0 0 0 0 c", "api_keys_pkey"},
    {"pg_key_list_tenant", "t1 a 10", "key_tenant"},
    {"pg_key_list_all", "a 10", "api_keys_pkey"},
    {"pg_timer_get", "t1 k1", "timers_pkey"},
    {"pg_timer_list", "t1 a a b 10", "timers_pkey"},
    {"pg_timer_due", "1 10", "timer_due"},
    {"pg_timer_next", "-", "timer_due"},
    {"pg_dep_children", "1 0 10", "job_deps_pkey"},
    {"pg_dep_parents", "{1,2}", "job_deps_pkey"},
    {"pg_dep_work_next", "10", "dep_work_pkey"},
    {"pg_dep_work_advance", "1 0 5", "dep_work_pkey"},
    {"pg_dep_work_done", "1 0", "dep_work_pkey"},
    {"pg_job_get_many", "{1,2} t1", NULL},
    {"pg_group_ready_many", "t1 q1 {g1,g2} 2", "job_group_ready"},
    {"pg_flow_get", "1 t1", "flows_pkey"},
    {"pg_flow_job_ids", "t1 1 0 10", "job_flow"},
    {"pg_job_list_0", "t1 0 10 100", NULL},
    {"pg_job_list_1", "t1 q1 0 10 100", "job_tq"},
    {"pg_job_list_2", "t1 2 0 10 100", NULL},
    {"pg_job_list_3", "t1 q1 2 0 10 100", "job_tqs"},
    {"pg_job_list_4", "t1 x 0 10 100", NULL},
    {"pg_job_list_5", "t1 q1 x 0 10 100", "job_tq"},
    {"pg_job_list_6", "t1 2 x 0 10 100", NULL},
    {"pg_job_list_7", "t1 q1 2 x 0 10 100", "job_tqs"},
    {"pg_audit_list_0", "0 10", "audit_pkey"},
    {"pg_audit_list_1", "t1 0 10", "audit_tenant"},
    {"pg_audit_list_2", "a 0 10", "audit_action"},
    {"pg_audit_list_3", "t1 a 0 10", NULL},
    {"pg_audit_list_4", "k1 0 10", "audit_key"},
    {"pg_audit_list_5", "t1 k1 0 10", NULL},
    {"pg_audit_list_6", "a k1 0 10", NULL},
    {"pg_audit_list_7", "t1 a k1 0 10", NULL},
    {"pg_cron_get", "t1 k1", "cron_schedules_pkey"},
    {"pg_cron_list", "t1 a 10", "cron_schedules_pkey"},
    {"pg_cron_due", "1 10", "cron_due"},
    {"pg_cron_next_due", "-", "cron_due"},
    {"pg_cron_delete", "t1 k1", "cron_schedules_pkey"},
    {"pg_cron_run_get", "t1 1", "cron_runs_pkey"},
    {"pg_cron_run_list", "t1 k1 100 10", "cron_run_key"},
    {"pg_cron_run_count", "t1 k1 schedule 0", "cron_run_trigger"},
    {"pg_cron_run_trim", "t1 k1 5", "cron_run_key"},
};

static const struct pg_stmt *stmt_by_name(const struct store *st, const char *name)
{
        for (size_t i = 0; i < BATON_ARRAY_LEN(plain_stmts); i++)
                if (strcmp(plain_stmts[i]->name, name) == 0)
                        return plain_stmts[i];
        for (int i = 0; i < B_COUNT; i++)
                if (strcmp(st->built[i].name, name) == 0)
                        return &st->built[i];
        for (int i = 0; i < pg_cron_stmts_n; i++)
                if (strcmp(pg_cron_stmts[i]->name, name) == 0)
                        return pg_cron_stmts[i];
        for (int i = 0; i < pg_groups_stmts_n; i++)
                if (strcmp(pg_groups_stmts[i]->name, name) == 0)
                        return pg_groups_stmts[i];
        return NULL;
}

/* Runs EXPLAIN of s with the sample parameters and writes the plan's lines
 * into out (truncated to out_len). The planner is told to avoid sequential
 * scans and sorts (SET LOCAL, in a transaction rolled back afterwards) when
 * forced: on a test's near-empty tables it would rightly prefer them, so this
 * asks whether an index path exists at all. A plan that still scans or sorts
 * has none. Not forced, it is the plan the planner prefers on the data as it
 * is (for tests on populated, analyzed tables). */
static int explain_text(struct store *st, const struct pg_stmt *s, const char *params, bool forced,
                        char *out, size_t out_len)
{
        struct pg_params p = {0};
        char buf[256], *save = NULL, *tok, sql[SQL_MAX];
        PGresult *r;
        size_t used = 0;
        int rc = 0;

        out[0] = 0;
        snprintf(buf, sizeof(buf), "%s", params);
        for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                if (strcmp(tok, "-") != 0)
                        pg_p_text(&p, tok);
        snprintf(sql, sizeof(sql), "EXPLAIN %s", s->sql);
        PQclear(PQexec(st->conn, forced ? "BEGIN; SET LOCAL enable_seqscan = off;"
                                          " SET LOCAL enable_sort = off"
                                        : "BEGIN"));
        r = PQexecParams(st->conn, sql, p.n, NULL, p.v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                log_error("store", "explain %s: %s", s->name, PQresultErrorMessage(r));
                rc = BATON_ESTORE;
        }
        for (int i = 0; !rc && i < PQntuples(r) && used < out_len; i++) {
                int w = snprintf(out + used, out_len - used, "%s\n", PQgetvalue(r, i, 0));
                used += w > 0 ? (size_t)w : 0;
        }
        PQclear(r);
        PQclear(PQexec(st->conn, "ROLLBACK"));
        return rc;
}

/* True if plan reads through index name (an index or bitmap index scan). */
static bool plan_uses(const char *plan, const char *name, size_t len)
{
        char a[96], b[96];

        snprintf(a, sizeof(a), " using %.*s ", (int)len, name);
        snprintf(b, sizeof(b), " on %.*s ", (int)len, name);
        return strstr(plan, a) || strstr(plan, b);
}

/* Judges one plan; a reason when it is bad, NULL otherwise. */
static const char *plan_verdict(const char *plan, const char *uses, char *miss, size_t miss_len)
{
        if (strstr(plan, "Seq Scan"))
                return "scans a table sequentially";
        if (strstr(plan, "Sort  (") || strstr(plan, "Sort Key"))
                return "sorts";
        if (!strstr(plan, "Index"))
                return "uses no index";
        for (const char *w = uses; w && *w;) {
                size_t n = strcspn(w, " ");

                if (!plan_uses(plan, w, n)) {
                        snprintf(miss, miss_len, "does not use %.*s", (int)n, w);
                        return miss;
                }
                w += n + (w[n] == ' ');
        }
        return NULL;
}

int pg_check_plans(struct store *st, char *why, size_t why_len)
{
        char plan[4096], miss[128];

        if (why_len)
                why[0] = 0;
        if (st->in_txn || st->broken)
                return BATON_ESTORE;
        for (size_t i = 0; i < BATON_ARRAY_LEN(plan_wants); i++) {
                const struct plan_want *w = &plan_wants[i];
                const struct pg_stmt *s = stmt_by_name(st, w->name);
                const char *bad;
                int rc;

                if (!s) {
                        snprintf(why, why_len, "%s: no such statement", w->name);
                        return BATON_ESTORE;
                }
                rc = explain_text(st, s, w->params, true, plan, sizeof(plan));
                if (rc)
                        return rc;
                bad = plan_verdict(plan, w->uses, miss, sizeof(miss));
                if (bad) {
                        snprintf(why, why_len, "%s %s:\n%s", w->name, bad, plan);
                        return BATON_ESTORE;
                }
        }
        return 0;
}

static int explain_one(struct store *st, const char *name, bool forced, char *out, size_t out_len)
{
        for (size_t i = 0; i < BATON_ARRAY_LEN(plan_wants); i++)
                if (strcmp(plan_wants[i].name, name) == 0)
                        return explain_text(st, stmt_by_name(st, name), plan_wants[i].params,
                                            forced, out, out_len);
        return BATON_ENOTFOUND;
}

int pg_explain(struct store *st, const char *name, char *out, size_t out_len)
{
        return explain_one(st, name, true, out, out_len);
}

int pg_explain_free(struct store *st, const char *name, char *out, size_t out_len)
{
        return explain_one(st, name, false, out, out_len);
}

const struct store_ops store_postgres_ops = {
    .version = STORE_OPS_VERSION,
    .name = "postgres",
    .open = open_store,
    .close = close_store,
    .schema_version = schema_version,
    .begin = begin_txn,
    .commit = commit_txn,
    .rollback = rollback_txn,
    .savepoint = savepoint_op,
    .release = release_op,
    .rollback_to = rollback_to_op,
    .job_insert = insert_job,
    .job_get = get_job,
    .job_update = update_job,
    .job_find_key = find_key,
    .job_list = list_jobs,
    .job_ready_ids = ready_ids,
    .job_due_ids = due_ids,
    .job_expired_ids = expired_ids,
    .job_state_ids = state_ids,
    .job_purge = purge_jobs,
    .job_delete = delete_job,
    .deadlines = read_deadlines,
    .idem_get = get_idem,
    .idem_put = put_idem,
    .idem_purge = purge_idem,
    .idem_take = take_idem,
    .idem_swap = swap_idem,
    .queue_ensure = ensure_queue,
    .queue_total = total_queues,
    .queue_get = get_queue,
    .queue_put = put_queue,
    .queue_list = list_queues,
    .queue_counts = count_queue,
    .tenant_ensure = ensure_tenant,
    .key_insert = insert_key,
    .key_get = get_key,
    .key_update = update_key,
    .key_list = list_keys,
    .key_count = count_keys,
    .audit_insert = insert_audit,
    .audit_purge = purge_audit,
    .audit_list = list_audit,
    .cron_put = pg_cron_put,
    .cron_get = pg_cron_get,
    .cron_delete = pg_cron_delete,
    .cron_list = pg_cron_list,
    .cron_due = pg_cron_due,
    .cron_next_due = pg_cron_next_due,
    .cron_run_insert = pg_cron_run_insert,
    .cron_run_update = pg_cron_run_update,
    .cron_run_get = pg_cron_run_get,
    .cron_run_list = pg_cron_run_list,
    .cron_run_count = pg_cron_run_count,
    .cron_count_add = pg_cron_count_add,
    .cron_run_trim = pg_cron_run_trim,
    .timer_get = get_timer,
    .timer_put = put_timer,
    .timer_list = list_timers,
    .timer_due = due_timers,
    .timer_next = next_timer,
    .dep_insert = insert_dep,
    .dep_children = dep_children,
    .dep_work_put = dep_work_put,
    .dep_work_next = dep_work_next,
    .dep_work_move = dep_work_move,
    .flow_insert = insert_flow,
    .flow_get = get_flow,
    .flow_job_ids = flow_job_ids,
    .now_ms = now_ms,
    .shared = true,
    .leader_acquire = pg_leader_acquire,
    .leader_check = pg_leader_check,
    .leader_release = pg_leader_release,
    .leader_get = pg_leader_get,
    .notify = pg_notify,
    .listen_open = pg_listen_open,
    .listen_fd = pg_listen_fd,
    .listen_read = pg_listen_read,
    .listen_close = pg_listen_close,
    /* version 5 (pg_groups.c) */
    .qlim_get = pg_qlim_get,
    .qlim_put = pg_qlim_put,
    .qlim_add = pg_qlim_add,
    .group_get = pg_group_get,
    .group_put = pg_group_put,
    .group_delete = pg_group_delete,
    .group_note_ready = pg_group_note_ready,
    .group_pick = pg_group_pick,
    .group_unblock = pg_group_unblock,
    .group_next_until = pg_group_next_until,
    .group_ready_ids = pg_group_ready_rows,
    .rate_get = pg_rate_get,
    .rate_put = pg_rate_put,
    /* version 6 */
    .job_get_many = get_jobs_many,
    .group_ready_many = pg_group_ready_many,
};
