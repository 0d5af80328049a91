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
 * Claims lock what they return: the claim read of the jobs
 * without a group (group_ready_ids) and of several groups at once
 * (group_ready_many) select FOR UPDATE SKIP LOCKED, so two nodes claiming
 * from one queue at once get different jobs and a claim never waits for a
 * job row (see build_job_sql in pg_jobs.c). The jobs a batch's operations name are read
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
 * This file holds the connection, transactions, the pipeline, deferred
 * writes, savepoints, the rows kept for job_get and the ops table; the
 * statement parameters and row helpers the other files share (pg_internal.h)
 * are in pg_rows.c. The operations live by domain beside it:
 * pg_jobs.c (job rows, claims, purge, deadlines; jobs map to one row with a
 * column per field of struct job, from one column table), pg_meta.c
 * (idempotency, queues, tenants, keys, audit), pg_timers.c, pg_deps.c (job
 * dependencies, flows, the cascade's work list), pg_groups.c, pg_cron.c,
 * pg_cluster.c, and the plan checks in pg_plans.c.
 */
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "store/pg_internal.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_S "5"

/* The deferred COMMIT; judge() recognises it by address. */
static const char PG_COMMIT[] = "COMMIT";

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
        if (strncmp(s->name, PG_ADHOC, strlen(PG_ADHOC)) == 0) {
                if (!PQsendQueryParams(st->conn, s->sql, n_params, NULL, vals, NULL, NULL, 0))
                        return BATON_ESTORE;
                sent[(*n)++] = (struct sent){s->name, NULL, op, -1};
                return 0;
        }
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

/* ---- statements ---- */

static const struct pg_stmt
    S_NOW = {"pg_now", "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint"},
    S_VERSION = {"pg_schema_version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"};

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
void pg_kept_add(struct store *st, PGresult *r, const int64_t *ids, int n, bool txn)
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
PGresult *pg_kept_row(const struct store *st, const char *tenant, int64_t id, int *row)
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

bool pg_idset_has(const struct pg_idset *s, int64_t id)
{
        for (int i = s->n - 1; i >= 0; i--)
                if (s->v[i] == id)
                        return true;
        return false;
}

int pg_idset_add(struct pg_idset *s, int64_t id)
{
        int rc = store_grow((void **)&s->v, s->n, &s->cap, sizeof(*s->v));

        if (!rc)
                s->v[s->n++] = id;
        return rc;
}

void pg_idset_del(struct pg_idset *s, int64_t id)
{
        for (int i = 0; i < s->n; i++)
                if (s->v[i] == id)
                        s->v[i--] = s->v[--s->n];
}

/* Forgets everything known of the transaction's rows: locks held outside
 * operations, jobs without children, kept results. */
void pg_txn_forget(struct store *st)
{
        kept_drop(st, true);
        st->txn_locked.n = 0;
        st->nochild.n = 0;
        st->locked.n = 0;
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
        pg_txn_forget(st);
        pg_qcache_clear(st);
        pg_qdelta_clear(st);
        free(st->qdelta);
        for (int i = 0; i < PG_KEPT_MAX; i++)
                free(st->kept[i].ids);
        free(st->txn_locked.v);
        free(st->nochild.v);
        free(st->locked.v);
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
        BATON_ASSERT(store_rowdefs_agree());
        if (!rc)
                rc = pg_build_stmts(st);
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
        int64_t v = 0;
        int rc = pg_int(st, &S_VERSION, NULL, &v, NULL);

        *out = (int)v;
        return rc;
}

static int now_ms(struct store *st, int64_t *out)
{
        return pg_int(st, &S_NOW, NULL, out, NULL);
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
        pg_txn_forget(st);
        pg_qcache_clear(st);
        pg_qdelta_clear(st);
        st->op_seq = 0;
        st->events_n = 0;
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
        pg_txn_forget(st);
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
        pg_txn_forget(st);
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
        st->locked.n = 0;
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

const struct store_ops store_postgres_ops = {
    .version = STORE_OPS_VERSION,
    .name = "postgres",
    .shared = true,
    .now_ms = now_ms,
    .job_peek = pg_job_peek,
    .group_ready_ids = pg_group_ready_rows,
    .listen_open = pg_listen_open,
    .listen_fd = pg_listen_fd,
    .listen_read = pg_listen_read,
    .listen_close = pg_listen_close,
    STORE_INIT_ALL(pg),
};
