/*
 * test_group_commit.c: group commit (core/exec.c) under injected store
 * failures, on a real SQLite store wrapped by the fault store
 * (support/store_fault.h). Each test runs batches of enqueues through the
 * store thread and its loop, makes one commit, statement or fsync of a chosen
 * batch fail, and checks what exec promises (exec.h): a failed commit (or
 * fsync, or a statement that takes the transaction down) answers every op of
 * the batch BATON_ESTORE, which the HTTP layer answers 503 store_unavailable,
 * and leaves the database exactly as it was; a statement that fails alone
 * fails only its op, rolled back to its savepoint, and the rest commits; the
 * next batch succeeds; every op acknowledged before the fault is still there
 * once the database is closed and opened again. "Nothing half applied" is
 * checked by comparing dumps of every table: after a failed batch with the
 * dump before it, after a partly failed one with the dump of a run that only
 * had the ops that succeeded. The last test makes every call of a batch fail
 * in turn, in both ways a statement can fail, as SQLite's own fault tests do.
 *
 * Batches are made deterministic by a gate: an op that holds the store
 * thread inside its own batch until the test has queued the next batch's
 * ops, so those are taken together. exec_start and the stand-in for the
 * server's loop (a condition variable the wake callback signals; the test
 * thread then calls exec_dispatch) are in one section only (exec_up, pump,
 * pump_now, exec_down).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/buf.h"
#include "common/clock.h"
#include "core/exec.h"
#include "core/jobs.h"
#include "core/validate.h"
#include "server/http.h"
#include "store/store.h"
#include "support/store_fault.h"
#include "support/unit_env.h"

#define TENANT "default"
#define BATCH_MAX 8
#define DUMP_MAX (1u << 22)

/* One store under test and the exec that runs batches on it. */
struct rig {
        char dir[64];
        char path[96]; /* the database file */
        struct store_fault *fault;
        struct clock_fake clock;
        struct limits limits;
        struct exec *ex;
        int done; /* ops whose done callback ran (loop thread) */
        /* The loop's side of exec's wake callback (exec_up): wakes counts
         * the calls not yet answered by an exec_dispatch. */
        pthread_mutex_t wake_mu;
        pthread_cond_t wake_cv;
        int wakes;
};

/* An enqueue submitted to exec: job (batch, i) of kind enq_kind, on a queue
 * of its own, so every write it makes is its own. */
enum enq_kind { ENQ_PLAIN, ENQ_IDEM, ENQ_KEYED, ENQ_DELAYED };

struct enq {
        struct exec_op op;
        struct rig *rig;
        struct enqueue_req req;
        struct enqueue_res res;
        char queue[32];
        char payload[64];
        int rc;
        bool done;
};

/* How a batch fails: nothing armed when NULL. */
struct plan {
        size_t op;
        int n;
        enum store_fault_how how;
        bool fsync; /* the nth fsync instead of a call */
};

/* Holds the store thread in a batch of its own (see the top of the file). */
struct gate {
        struct exec_op op;
        struct rig *rig;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        bool entered;
        bool open;
        bool done; /* loop thread */
        int rc;
};

/* ======== the loop: the one place that starts exec and runs libevent ======== */

/* Store thread: finished batches wait (struct exec_wake). */
static void wake_fn(void *ctx)
{
        struct rig *r = ctx;

        pthread_mutex_lock(&r->wake_mu);
        r->wakes++;
        pthread_cond_signal(&r->wake_cv);
        pthread_mutex_unlock(&r->wake_mu);
}

/* Starts exec on r's store; this thread plays the server's loop. */
static void exec_up(struct rig *r)
{
        struct exec_wake wake = {wake_fn, r};

        pthread_mutex_init(&r->wake_mu, NULL);
        pthread_cond_init(&r->wake_cv, NULL);
        r->wakes = 0;
        assert_int_equal(exec_start(&wake, store_fault_store(r->fault), store_fault_ops(r->fault),
                                    &r->clock.clock, &r->limits, NULL, &r->ex),
                         0);
}

/* Waits up to 100 ms for a wake, then delivers what is finished. */
static void pump_once(struct rig *r)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&r->wake_mu);
        if (r->wakes == 0)
                pthread_cond_timedwait(&r->wake_cv, &r->wake_mu, &ts);
        r->wakes = 0;
        pthread_mutex_unlock(&r->wake_mu);
        exec_dispatch(r->ex);
}

/* Runs the loop until want done callbacks have run (30 s at most). */
static void pump(struct rig *r, int want)
{
        time_t end = time(NULL) + 30;

        while (r->done < want && time(NULL) < end)
                pump_once(r);
        assert_int_equal(r->done, want);
}

/* Runs what is ready on the loop, without waiting. */
static void pump_now(struct rig *r)
{
        exec_dispatch(r->ex);
}

static void exec_down(struct rig *r)
{
        exec_stop(r->ex);
        r->ex = NULL;
        pthread_cond_destroy(&r->wake_cv);
        pthread_mutex_destroy(&r->wake_mu);
}

/* ======== the store ======== */

static struct store_opts rig_opts(struct rig *r)
{
        /* fsync at every commit, as the server does by default: the fsync
         * fault needs it. */
        struct store_opts o = {.uri = r->dir, .sync_full = true, .busy_timeout_ms = 1000};

        return o;
}

/* A fresh store in a new directory, wrapped, with exec running on it. */
static void rig_open(struct rig *r)
{
        struct store_opts o;

        memset(r, 0, sizeof(*r));
        snprintf(r->dir, sizeof(r->dir), "/tmp/baton-gc-XXXXXX");
        assert_non_null(mkdtemp(r->dir));
        snprintf(r->path, sizeof(r->path), "%s/baton.db", r->dir);
        o = rig_opts(r);
        assert_int_equal(store_fault_open(&store_sqlite_ops, &o, &r->fault), 0);
        clock_fake_init(&r->clock, UNIT_ENV_T0_MS);
        limits_default(&r->limits);
        exec_up(r);
}

/* Stops exec and closes the store (the directory stays: rig_remove). */
static void rig_close(struct rig *r)
{
        exec_down(r);
        store_fault_close(r->fault);
        r->fault = NULL;
}

static void rig_remove(struct rig *r)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
        assert_int_equal(system(cmd), 0);
}

/* Every row of every table of the database at path, one line each, read on
 * a connection of its own (owned by the caller: free). schema_migrations is
 * left out: it holds the real time the store was made. */
static char *dump(const char *path)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *tabs = NULL, *rows = NULL;
        struct buf b;

        buf_init(&b, DUMP_MAX);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT name FROM sqlite_schema WHERE type = 'table'"
                                            " AND name != 'schema_migrations' ORDER BY name",
                                            -1, &tabs, NULL),
                         SQLITE_OK);
        while (sqlite3_step(tabs) == SQLITE_ROW) {
                char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", sqlite3_column_text(tabs, 0));

                assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
                sqlite3_free(sql);
                while (sqlite3_step(rows) == SQLITE_ROW) {
                        assert_int_equal(buf_printf(&b, "%s:", sqlite3_column_text(tabs, 0)), 0);
                        for (int i = 0; i < sqlite3_column_count(rows); i++) {
                                const unsigned char *v = sqlite3_column_text(rows, i);
                                assert_int_equal(buf_printf(&b, " %s", v ? (const char *)v : "-"),
                                                 0);
                        }
                        assert_int_equal(buf_addc(&b, '\n'), 0);
                }
                sqlite3_finalize(rows);
        }
        sqlite3_finalize(tabs);
        sqlite3_close(db);
        assert_int_equal(buf_addc(&b, '\0'), 0);
        return buf_take(&b);
}

/* Fails with the first line where got differs from want. */
static void assert_same_dump(const char *want, const char *got, const char *what)
{
        size_t at = 0;
        int line = 1;

        if (strcmp(want, got) == 0)
                return;
        while (want[at] && want[at] == got[at])
                if (want[at++] == '\n')
                        line++;
        while (at > 0 && want[at - 1] != '\n')
                at--;
        fail_msg("%s: the database differs from line %d\n--- expected:\n%.*s\n--- found:\n%.*s",
                 what, line, (int)strcspn(want + at, "\n"), want + at, (int)strcspn(got + at, "\n"),
                 got + at);
}

/* ======== batches ======== */

static int enq_fn(struct txn *tx, struct exec_op *op)
{
        struct enq *e = (struct enq *)op;

        return job_enqueue(tx, &e->req, &e->res);
}

static void enq_done(struct exec_op *op)
{
        struct enq *e = (struct enq *)op;

        e->rc = op->rc;
        e->done = true;
        e->rig->done++;
}

static void enq_init(struct rig *r, struct enq *e, int batch, int i, enum enq_kind kind)
{
        char s[48];
        struct verr verr;

        memset(e, 0, sizeof(*e));
        e->rig = r;
        e->op.fn = enq_fn;
        e->op.done = enq_done;
        snprintf(e->queue, sizeof(e->queue), "q%d-%d", batch, i);
        snprintf(e->payload, sizeof(e->payload), "{\"batch\":%d,\"i\":%d}", batch, i);
        e->req.job.tenant = strdup(TENANT);
        e->req.job.queue = strdup(e->queue);
        e->req.job.type = strdup("t");
        e->req.job.payload = strdup(e->payload);
        snprintf(s, sizeof(s), "k-%d-%d", batch, i);
        if (kind == ENQ_IDEM)
                e->req.job.idempotency_key = strdup(s);
        if (kind == ENQ_KEYED)
                e->req.job.key = strdup(s);
        if (kind == ENQ_DELAYED)
                e->req.delay_ms = 60000;
        e->req.check_depth = true;
        e->req.check_queues = true;
        snprintf(e->req.payload_hash, sizeof(e->req.payload_hash), "h-%d-%d", batch, i);
        assert_int_equal(validate_enqueue(&r->limits, "", &e->req, &verr), 0);
}

static void enq_free(struct enq *v, int n)
{
        for (int i = 0; i < n; i++) {
                job_free(&v[i].req.job);
                job_free(&v[i].res.job);
        }
}

static int gate_fn(struct txn *tx, struct exec_op *op)
{
        struct gate *g = (struct gate *)op;

        (void)tx;
        pthread_mutex_lock(&g->mu);
        g->entered = true;
        pthread_cond_broadcast(&g->cv);
        while (!g->open)
                pthread_cond_wait(&g->cv, &g->mu);
        pthread_mutex_unlock(&g->mu);
        return 0;
}

static void gate_done(struct exec_op *op)
{
        struct gate *g = (struct gate *)op;

        g->done = true;
        g->rc = op->rc;
        g->rig->done++;
}

/* Waits until the store thread holds g. Its batch can also fail before g
 * runs (a BEGIN refused because the batch before left its transaction
 * open): the loop runs meanwhile to hear of it, and the test fails. */
static void gate_wait(struct rig *r, struct gate *g)
{
        time_t end = time(NULL) + 30;
        bool entered;

        pthread_mutex_lock(&g->mu);
        while (!g->entered && !g->done && time(NULL) < end) {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 10 * 1000 * 1000;
                if (ts.tv_nsec >= 1000 * 1000 * 1000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000 * 1000 * 1000;
                }
                pthread_cond_timedwait(&g->cv, &g->mu, &ts);
                pthread_mutex_unlock(&g->mu);
                pump_now(r);
                pthread_mutex_lock(&g->mu);
        }
        entered = g->entered;
        pthread_mutex_unlock(&g->mu);
        if (!entered) {
                exec_down(r);
                fail_msg("the batch before this one left the store unusable: %s",
                         g->done ? baton_strerror(g->rc) : "no answer in 30 s");
        }
}

static void arm(struct rig *r, const struct plan *p)
{
        if (!p)
                return;
        if (p->fsync)
                store_fault_arm_fsync(r->fault, p->n);
        else
                store_fault_arm(r->fault, p->op, p->n, p->how);
}

/* Runs ops as one batch with plan p armed for it, and waits for every
 * answer. The fault store starts counting at the batch's begin. */
static void run_batch(struct rig *r, struct enq *ops, int n, const struct plan *p)
{
        struct gate g = {.op = {.fn = gate_fn, .done = gate_done}, .rig = r};
        int want = r->done + n + 1;

        pthread_mutex_init(&g.mu, NULL);
        pthread_cond_init(&g.cv, NULL);
        exec_submit(r->ex, &g.op);
        gate_wait(r, &g);
        for (int i = 0; i < n; i++)
                exec_submit(r->ex, &ops[i].op);
        arm(r, p);
        pthread_mutex_lock(&g.mu);
        g.open = true;
        pthread_cond_broadcast(&g.cv);
        pthread_mutex_unlock(&g.mu);
        pump(r, want);
        assert_int_equal(g.rc, 0);
        pthread_cond_destroy(&g.cv);
        pthread_mutex_destroy(&g.mu);
        store_fault_disarm(r->fault);
        for (int i = 0; i < n; i++)
                assert_true(ops[i].done);
}

/* Fills and runs batch number batch of n enqueues of the given kinds
 * (ENQ_PLAIN when kinds is NULL), skipping those whose bit is clear in mask. */
static int make_batch(struct rig *r, struct enq *ops, int batch, int n, const int *kinds,
                      unsigned mask, const struct plan *p)
{
        int m = 0;

        for (int i = 0; i < n; i++)
                if (mask & (1u << i))
                        enq_init(r, &ops[m++], batch, i, kinds ? kinds[i] : ENQ_PLAIN);
        run_batch(r, ops, m, p);
        return m;
}

static void assert_all(const struct enq *ops, int n, int rc)
{
        for (int i = 0; i < n; i++)
                assert_int_equal(ops[i].rc, rc);
}

/* Every op of a failed batch is answered 503 store_unavailable. */
static void assert_all_unavailable(const struct enq *ops, int n)
{
        for (int i = 0; i < n; i++) {
                int status;
                const char *code;

                assert_int_equal(ops[i].rc, BATON_ESTORE);
                http_rc_status(ops[i].rc, &status, &code);
                assert_int_equal(status, 503);
                assert_string_equal(code, "store_unavailable");
        }
}

/* ======== reading back, after the store was closed ======== */

/* Opens r's database again with the plain SQLite backend and checks that
 * each acknowledged op's job is there as it was enqueued, and that a failed
 * op left neither a job nor its queue. */
static void check_reopened(struct rig *r, const struct enq *ops, int n)
{
        struct store_opts o = rig_opts(r);
        const struct store_ops *so = &store_sqlite_ops;
        struct store *st;

        assert_int_equal(so->open(&o, &st), 0);
        assert_int_equal(so->begin(st), 0);
        for (int i = 0; i < n; i++) {
                const struct enq *e = &ops[i];
                struct queue_counts qc;
                struct queue_rec q;
                struct job j;

                if (e->rc == 0) {
                        assert_int_equal(so->job_get(st, TENANT, e->res.job.id, &j), 0);
                        assert_string_equal(j.payload, e->payload);
                        assert_string_equal(j.queue, e->queue);
                        job_free(&j);
                        continue;
                }
                assert_int_equal(so->queue_get(st, TENANT, e->queue, &q), BATON_ENOTFOUND);
                assert_int_equal(so->queue_counts(st, TENANT, e->queue, &qc), 0);
                for (int s = 0; s < JOB_STATE_COUNT; s++)
                        assert_int_equal(qc.by_state[s], 0);
        }
        assert_int_equal(so->rollback(st), 0);
        so->close(st);
}

/* ======== tests ======== */

#define N_OPS 4

/* Runs batch 3 into v[2] (it must succeed), closes the store, checks that
 * the acknowledged ops of the three batches are there, and nothing of those
 * that failed, once it is opened again; then removes it. */
static void finish(struct rig *r, struct enq v[3][N_OPS])
{
        make_batch(r, v[2], 3, N_OPS, NULL, ~0u, NULL);
        assert_all(v[2], N_OPS, 0);
        rig_close(r);
        check_reopened(r, &v[0][0], 3 * N_OPS);
        enq_free(&v[0][0], 3 * N_OPS);
        rig_remove(r);
}

/* Batch 1 succeeds, batch 2 fails as the plan in *state says (as a
 * whole), batch 3 succeeds; the database after batch 2 is the one before
 * it, and after a reopen batches 1 and 3 are there and batch 2 is not. */
static void whole_batch_fails(void **state)
{
        const struct plan *p = *state;
        struct enq v[3][N_OPS];
        struct rig r;
        char *before, *after;

        rig_open(&r);
        make_batch(&r, v[0], 1, N_OPS, NULL, ~0u, NULL);
        assert_all(v[0], N_OPS, 0);
        before = dump(r.path);
        make_batch(&r, v[1], 2, N_OPS, NULL, ~0u, p);
        assert_int_equal(store_fault_fired(r.fault), 1);
        assert_all_unavailable(v[1], N_OPS);
        after = dump(r.path);
        assert_same_dump(before, after, "after the failed batch");
        finish(&r, v);
        free(before);
        free(after);
}

/* The plans of whole_batch_fails, one test each (main). A COMMIT that fails
 * and leaves the transaction open (SQLITE_BUSY): exec must roll it back, or
 * the next batch's BEGIN fails. */
static const struct plan commit_left_open = {STORE_FAULT_OP(commit), 1, STORE_FAULT_CALL, false};
/* A COMMIT that fails having rolled back (an I/O error). */
static const struct plan commit_rolled_back = {STORE_FAULT_OP(commit), 1, STORE_FAULT_TXN, false};
/* The commit's fsync of the log fails: SQLite fails the COMMIT, and the
 * frames it wrote to the log are past the log's end for every reader. (A
 * crash before the next commit overwrites them would leave them there, and
 * recovery would replay the batch every op of which was answered 503: a
 * failed fsync cannot say what reached the disk. Not tested here.) */
static const struct plan fsync_fails = {0, 1, STORE_FAULT_CALL, true};
/* A statement of the third op fails and takes the transaction with it (as
 * SQLite does on an I/O error): the ops before it, whose savepoints were
 * released, are lost with it, and every op is answered 503. */
static const struct plan statement_ends_txn = {STORE_FAULT_OP(job_insert), 3, STORE_FAULT_TXN,
                                               false};

/* The dump of a store that ran batch 1 and then only the ops of batch 2
 * whose bit is set in mask, without any fault. Owned by the caller. */
static char *reference_dump(int n_b, const int *kinds, unsigned mask)
{
        struct enq a[N_OPS], b[BATCH_MAX];
        struct rig r;
        char *d;
        int m;

        rig_open(&r);
        make_batch(&r, a, 1, N_OPS, NULL, ~0u, NULL);
        m = make_batch(&r, b, 2, n_b, kinds, mask, NULL);
        rig_close(&r);
        d = dump(r.path);
        enq_free(a, N_OPS);
        enq_free(b, m);
        rig_remove(&r);
        return d;
}

/* A statement of the third op fails alone (the transaction stays usable):
 * exec rolls that op back to its savepoint, answers it 503, and commits the
 * others; the store is then the one a batch without that op leaves. */
static void statement_failure_fails_only_its_op(void **state)
{
        struct plan p = {STORE_FAULT_OP(job_insert), 3, STORE_FAULT_CALL, false};
        struct enq v[3][N_OPS];
        char *want, *got;
        struct rig r;

        (void)state;
        want = reference_dump(N_OPS, NULL, ~0u & ~(1u << 2));
        rig_open(&r);
        make_batch(&r, v[0], 1, N_OPS, NULL, ~0u, NULL);
        make_batch(&r, v[1], 2, N_OPS, NULL, ~0u, &p);
        assert_int_equal(store_fault_fired(r.fault), 1);
        for (int i = 0; i < N_OPS; i++)
                if (i != 2)
                        assert_int_equal(v[1][i].rc, 0);
        assert_all_unavailable(&v[1][2], 1);
        got = dump(r.path);
        assert_same_dump(want, got, "after the batch with one failed op");
        finish(&r, v);
        free(want);
        free(got);
}

/* ---- every call in turn ---- */

#define SWEEP_OPS 4
static const int sweep_kinds[SWEEP_OPS] = {ENQ_PLAIN, ENQ_IDEM, ENQ_KEYED, ENQ_DELAYED};

/* One sweep: the calls of op that fail in turn, how, whether such a
 * failure fails only the op that made the call (else the whole batch), and
 * how many such calls batch 2 makes (0: more than two per op). A RELEASE
 * that fails alone, the transaction still usable, fails only its op: exec's
 * run_one rolls the op back to its savepoint, so none of its writes commit
 * with the answer 503 (no backend fails that way today; the sweep makes sure
 * that one which did would not commit a refused op). */
struct sweep {
        size_t op;
        enum store_fault_how how;
        bool alone;
        int calls;
        const char *name;
};

static const struct sweep sweeps[] = {
    {STORE_FAULT_ANY, STORE_FAULT_CALL, true, 0, "data statement alone"},
    {STORE_FAULT_ANY, STORE_FAULT_TXN, false, 0, "data statement, transaction lost"},
    {STORE_FAULT_OP(savepoint), STORE_FAULT_CALL, true, SWEEP_OPS, "savepoint alone"},
    {STORE_FAULT_OP(savepoint), STORE_FAULT_TXN, false, SWEEP_OPS, "savepoint, transaction lost"},
    {STORE_FAULT_OP(release), STORE_FAULT_CALL, true, SWEEP_OPS, "release alone"},
    {STORE_FAULT_OP(release), STORE_FAULT_TXN, false, SWEEP_OPS, "release, transaction lost"},
    {STORE_FAULT_OP(begin), STORE_FAULT_CALL, false, 1, "begin"},
    /* The batch's stats writes (core/stats.c, one per queue: each op of
     * batch 2 has its own) come after every op: when one fails, the batch
     * fails as if its commit had, and nothing of it stays. */
    {STORE_FAULT_OP(stats_add), STORE_FAULT_CALL, false, SWEEP_OPS, "stats write"},
    /* The batch's events are written once, before the commit: a failure
     * there fails the whole batch, events and changes alike. */
    {STORE_FAULT_OP(event_insert), STORE_FAULT_CALL, false, 1, "event_insert"},
    {STORE_FAULT_OP(event_insert), STORE_FAULT_TXN, false, 1, "event_insert, transaction lost"},
};

/* Runs batch 1, then batch 2 of sweep_kinds with the nth call of sw's op
 * failing. Returns false when batch 2 makes fewer such calls than n
 * (nothing fired); else checks the answers, and the store against the
 * reference of the ops that succeeded (refs caches one per mask). */
static bool sweep_one(const struct sweep *sw, int n, char **refs)
{
        struct plan p = {sw->op, n, sw->how, false};
        struct enq a[N_OPS], b[SWEEP_OPS];
        unsigned ok = 0;
        bool fired;
        char *got, what[96];
        struct rig r;

        rig_open(&r);
        make_batch(&r, a, 1, N_OPS, NULL, ~0u, NULL);
        make_batch(&r, b, 2, SWEEP_OPS, sweep_kinds, ~0u, &p);
        fired = store_fault_fired(r.fault) == 1;
        rig_close(&r);
        for (int i = 0; i < SWEEP_OPS; i++) {
                if (b[i].rc == 0)
                        ok |= 1u << i;
                else
                        assert_all_unavailable(&b[i], 1);
        }
        snprintf(what, sizeof(what), "%s, call %d failing", sw->name, n);
        if (fired) {
                if (sw->alone)
                        assert_int_equal(__builtin_popcount(ok), SWEEP_OPS - 1);
                else
                        assert_int_equal(ok, 0);
                if (!refs[ok])
                        refs[ok] = reference_dump(SWEEP_OPS, sweep_kinds, ok);
                got = dump(r.path);
                assert_same_dump(refs[ok], got, what);
                free(got);
        } else {
                assert_int_equal(ok, (1u << SWEEP_OPS) - 1);
        }
        enq_free(a, N_OPS);
        enq_free(b, SWEEP_OPS);
        rig_remove(&r);
        return fired;
}

static void every_call_failing_in_turn(void **state)
{
        char *refs[1u << SWEEP_OPS] = {0};

        (void)state;
        for (size_t k = 0; k < sizeof(sweeps) / sizeof(sweeps[0]); k++) {
                const struct sweep *sw = &sweeps[k];
                int n = 1;

                while (sweep_one(sw, n, refs))
                        n++;
                if (sw->calls)
                        assert_int_equal(n - 1, sw->calls);
                else
                        assert_true(n - 1 > 2 * SWEEP_OPS);
                print_message("%s: %d calls failed in turn\n", sw->name, n - 1);
        }
        for (unsigned i = 0; i < 1u << SWEEP_OPS; i++)
                free(refs[i]);
}

/* A test of whole_batch_fails with plan p, named name. */
#define WHOLE_BATCH(name, p)                                                                       \
        {                                                                                          \
                name, whole_batch_fails, NULL, NULL, (void *)&(p)                                  \
        }

int main(void)
{
        const struct CMUnitTest tests[] = {
            WHOLE_BATCH("commit_failure_left_open", commit_left_open),
            WHOLE_BATCH("commit_failure_rolled_back", commit_rolled_back),
            WHOLE_BATCH("fsync_failure", fsync_fails),
            WHOLE_BATCH("statement_failure_ending_the_transaction", statement_ends_txn),
            cmocka_unit_test(statement_failure_fails_only_its_op),
            cmocka_unit_test(every_call_failing_in_turn),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
