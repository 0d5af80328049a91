/*
 * exec.c: the store thread and group commit (see exec.h for the contract).
 *
 * Workload: tens of thousands of small operations per second from the loop
 * thread. Submission is a mutex-protected list; the store thread takes the whole
 * list at once, so under load a batch holds everything that arrived during the
 * previous commit and one fsync covers all of it. Finished batches go back to
 * the loop thread through a second list; the store thread then calls the wake
 * callback the caller gave (the server makes it activate a libevent user event,
 * so core knows no event loop), and the loop thread calls exec_dispatch.
 */
#include "core/exec.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/log.h"
#include "common/rand.h"
#include "common/tz.h"
#include "core/cron.h"
#include "core/jobs.h"
#include "core/stats.h"
#include "core/events.h"
#include "core/workers.h"

/* A batch bigger than this is split, bounding the latency of its first op. */
#define EXEC_BATCH_MAX 4096
/* The store thread's zone cache (cron fire times): distinct zones kept, and
 * how long before a zone is read from disk again (a tzdata upgrade). */
#define EXEC_TZ_CACHE_MAX 64
#define EXEC_TZ_CACHE_TTL_MS (3600LL * 1000)
/* Cron definitions kept parsed by the store thread (cron_cache.c). */
#define EXEC_CRON_CACHE_MAX 16384

struct done_batch {
        struct exec_op *ops;
        int n;
        int64_t commit_ns;
        int64_t batch_ns;
        struct txn_effects fx;
        struct done_batch *next;
};

struct exec {
        struct exec_wake wake;
        struct store *st;
        const struct store_ops *ops;
        const struct clock *clock;
        const struct limits *limits;
        struct exec_hooks hooks;
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct exec_op *in_head;
        struct exec_op *in_tail;
        struct done_batch *done_head;
        struct done_batch *done_tail;
        bool stopping;
        bool started;
        /* exec_hold: the store thread takes no batch while it is above 0, so
         * ops submitted together land in one batch (under mu). */
        int held;
        int inflight; /* loop thread only */
};

/* Runs one op inside the open transaction, isolated by a savepoint. */
/* Runs op in a savepoint. Returns 0, or the store's error when the op's
 * writes could not be taken back out of the transaction (a failed RELEASE
 * followed by a failed ROLLBACK TO, or a failed ROLLBACK TO): the
 * transaction then holds writes of an op answered as failed, and only
 * failing the whole batch keeps them from committing. */
static int run_one(struct txn *tx, struct exec_op *op)
{
        struct txn_mark mark = txn_effects_mark(&tx->fx);
        int rc = tx->ops->savepoint(tx->st);

        if (rc) {
                op->rc = rc;
                return 0;
        }
        op->rc = op->fn(tx, op);
        if (!op->rc) {
                rc = tx->ops->release(tx->st);
                if (!rc)
                        return 0;
                /* The savepoint is still open: its writes must go, since the
                 * op is answered with the failure. */
                op->rc = rc;
        }
        rc = tx->ops->rollback_to(tx->st);
        txn_effects_truncate(&tx->fx, mark);
        return rc;
}

/* Reads ahead, in one call per tenant, the jobs the batch's ops name
 * (exec_op job_id), outside any op so that the rows stay locked and kept
 * whatever an op rolls back. A failure fails the batch, as a failed BEGIN. */
static int read_ahead(struct txn *tx, struct exec_op *head)
{
        int64_t ids[EXEC_BATCH_MAX];
        struct exec_op *op, *o;
        int rc = 0;

        if (!tx->ops->job_get_many)
                return 0;
        for (op = head; op && !rc; op = op->next) {
                int n = 0;

                if (!op->job_id || !op->tenant)
                        continue;
                /* The first op of each tenant gathers its tenant's ids. */
                for (o = head;
                     o != op && (!o->job_id || !o->tenant || strcmp(o->tenant, op->tenant) != 0);
                     o = o->next)
                        ;
                if (o != op)
                        continue;
                for (o = op; o; o = o->next)
                        if (o->job_id && o->tenant && strcmp(o->tenant, op->tenant) == 0) {
                                BATON_ASSERT_INT(n, <, EXEC_BATCH_MAX);
                                ids[n++] = o->job_id;
                        }
                rc = tx->ops->job_get_many(tx->st, op->tenant, ids, n, NULL);
        }
        return rc;
}

/* Applies a list of ops in one transaction. On a failed BEGIN or COMMIT every
 * op gets BATON_ESTORE and the effects are dropped. Returns the commit time. */
static int64_t apply_batch(struct txn *tx, struct exec_op *head)
{
        int64_t t0, t1, offset_ms = 0;
        struct exec_op *op;
        int rc;

        tx->now_ms = clock_wall_ms(tx->clock);
        /* Each transaction has its own cascade budget (core/deps.h). */
        BATON_ASSERT(!tx->deps_work);
        tx->deps_steps = 0;
        rc = tx->ops->begin(tx->st);
        /* A shared database's clock is the batch's now (store.h now_ms). If
         * it cannot be read, the transaction just begun is ended here: no op
         * runs and the commit below is skipped. */
        if (!rc && tx->ops->now_ms) {
                rc = tx->ops->now_ms(tx->st, &tx->now_ms);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        /* A step of the wall clock moves the running leases with it, on a
         * store only this thread writes (a shared one keeps the database's
         * clock: store.h now_ms). */
        if (!rc && !tx->ops->now_ms) {
                rc = jobs_clock_watch(tx, &offset_ms);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        if (!rc) {
                rc = read_ahead(tx, head);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        if (!rc) {
                for (op = head; op && !rc; op = op->next)
                        rc = run_one(tx, op);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        if (!rc) {
                /* The registry learns what the batch's ops saw of workers in
                 * one write per worker (core/workers.h). */
                rc = worker_flush(tx);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        if (!rc) {
                /* The stats series counts what the metrics count, in the
                 * same transaction (core/stats.h). */
                rc = stats_flush(tx);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        if (!rc) {
                /* The batch's events, in one write (core/events.h); it also
                 * notes the wake-up of their readers, so before txn_notify. */
                rc = events_flush(tx);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        if (!rc) {
                /* Other nodes hear of the batch's effects at its commit. */
                rc = txn_notify(tx);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        t0 = clock_mono_ns(tx->clock);
        if (!rc) {
                rc = tx->ops->commit(tx->st);
                if (rc)
                        tx->ops->rollback(tx->st);
        }
        t1 = clock_mono_ns(tx->clock);
        if (!rc && !tx->ops->now_ms) {
                tx->clock_offset_ms = offset_ms;
                tx->clock_known = true;
        }
        if (rc) {
                log_error("exec", "transaction failed (%s); %s", baton_strerror(rc),
                          "failing every operation of the batch");
                for (op = head; op; op = op->next)
                        op->rc = BATON_ESTORE;
                txn_effects_reset(&tx->fx);
                /* Nothing of the batch was written, its worker rows neither. */
                worker_cache_clear(tx->wkc);
        }
        return t1 - t0;
}

/* Takes up to EXEC_BATCH_MAX submitted ops; called with the mutex held. */
static struct exec_op *take_batch(struct exec *ex, int *n_out)
{
        struct exec_op *head = ex->in_head, *op = head;
        int n = 1;

        while (op->next && n < EXEC_BATCH_MAX) {
                op = op->next;
                n++;
        }
        ex->in_head = op->next;
        if (!ex->in_head)
                ex->in_tail = NULL;
        op->next = NULL;
        BATON_ASSERT_INT(n, <=, EXEC_BATCH_MAX);
        *n_out = n;
        return head;
}

static void hand_back(struct exec *ex, struct done_batch *db)
{
        pthread_mutex_lock(&ex->mu);
        if (ex->done_tail)
                ex->done_tail->next = db;
        else
                ex->done_head = db;
        ex->done_tail = db;
        pthread_mutex_unlock(&ex->mu);
        ex->wake.fn(ex->wake.ctx);
}

static void *store_main(void *arg)
{
        struct exec *ex = arg;
        struct txn tx;

        memset(&tx, 0, sizeof(tx));
        tx.st = ex->st;
        tx.ops = ex->ops;
        tx.clock = ex->clock;
        tx.limits = ex->limits;
        /* Without memory for it, zones are loaded each time instead. */
        if (tz_cache_new(NULL, EXEC_TZ_CACHE_MAX, EXEC_TZ_CACHE_TTL_MS, &tx.tzc))
                tx.tzc = NULL;
        if (cron_cache_new(EXEC_CRON_CACHE_MAX, &tx.crc))
                tx.crc = NULL;
        if (worker_cache_new(&tx.wkc))
                tx.wkc = NULL;
        tx.rnd = rand_pool_new();
        tx.origin = ex->hooks.origin;
        for (;;) {
                struct done_batch *db;
                struct exec_op *head;
                int64_t start_ns;
                int n;

                pthread_mutex_lock(&ex->mu);
                while ((!ex->in_head || ex->held > 0) && !ex->stopping)
                        pthread_cond_wait(&ex->cv, &ex->mu);
                if (!ex->in_head) {
                        pthread_mutex_unlock(&ex->mu);
                        break;
                }
                head = take_batch(ex, &n);
                pthread_mutex_unlock(&ex->mu);

                db = calloc(1, sizeof(*db));
                start_ns = clock_mono_ns(ex->clock);
                if (!db) {
                        /* Without memory for the batch record the ops cannot be answered
                         * in order; fail them the same way a failed commit would. */
                        log_error("exec", "out of memory for a batch record");
                        abort();
                }
                db->ops = head;
                db->n = n;
                db->commit_ns = apply_batch(&tx, head);
                db->batch_ns = clock_mono_ns(ex->clock) - start_ns;
                db->fx = tx.fx;
                memset(&tx.fx, 0, sizeof(tx.fx));
                hand_back(ex, db);
        }
        txn_effects_free(&tx.fx);
        tz_cache_free(tx.tzc);
        cron_cache_free(tx.crc);
        worker_cache_free(tx.wkc);
        free(tx.rnd);
        return NULL;
}

/* Loop thread: delivers finished batches (each op's done callback, then the
 * batch's effects; see the comment inside for why in that order). */
static void dispatch(struct exec *ex)
{
        for (;;) {
                struct done_batch *db;

                pthread_mutex_lock(&ex->mu);
                db = ex->done_head;
                ex->done_head = NULL;
                ex->done_tail = NULL;
                pthread_mutex_unlock(&ex->mu);
                if (!db)
                        return;
                while (db) {
                        struct done_batch *next_db = db->next;
                        struct exec_op *op = db->ops;
                        int answered = 0;

                        if (ex->hooks.on_batch)
                                ex->hooks.on_batch(ex->hooks.ctx, db->n, db->commit_ns,
                                                   db->batch_ns);
                        /* Done callbacks run before the effects: a claim that found
                         * nothing parks its waiter in its callback, and must still be
                         * woken by a job made ready later in the same batch. */
                        while (op) {
                                struct exec_op *next = op->next;
                                ex->inflight--;
                                answered++;
                                op->next = NULL;
                                op->done(op);
                                op = next;
                        }
                        /* Group commit answers every op of the batch, once. */
                        BATON_ASSERT_INT(answered, ==, db->n);
                        BATON_ASSERT_INT(ex->inflight, >=, 0);
                        if (ex->hooks.on_effects)
                                ex->hooks.on_effects(ex->hooks.ctx, &db->fx);
                        txn_effects_free(&db->fx);
                        free(db);
                        db = next_db;
                }
        }
}

void exec_dispatch(struct exec *ex)
{
        dispatch(ex);
}

int exec_start(const struct exec_wake *wake, struct store *st, const struct store_ops *ops,
               const struct clock *clock, const struct limits *limits,
               const struct exec_hooks *hooks, struct exec **out)
{
        struct exec *ex = calloc(1, sizeof(*ex));
        int rc = 0;

        if (!ex)
                return BATON_ENOMEM;
        BATON_ASSERT(wake && wake->fn);
        ex->wake = *wake;
        ex->st = st;
        ex->ops = ops;
        ex->clock = clock;
        ex->limits = limits;
        if (hooks)
                ex->hooks = *hooks;
        pthread_mutex_init(&ex->mu, NULL);
        pthread_cond_init(&ex->cv, NULL);
        if (pthread_create(&ex->thread, NULL, store_main, ex) != 0) {
                rc = BATON_EIO;
                goto out;
        }
        ex->started = true;
        *out = ex;
out:
        if (rc) {
                pthread_cond_destroy(&ex->cv);
                pthread_mutex_destroy(&ex->mu);
                free(ex);
        }
        return rc;
}

void exec_submit(struct exec *ex, struct exec_op *op)
{
        op->next = NULL;
        op->rc = 0;
        op->submit_ns = clock_mono_ns(ex->clock);
        ex->inflight++;
        pthread_mutex_lock(&ex->mu);
        if (ex->stopping) {
                /* Answered by the loop thread like any finished op, never inline, so
                 * a done callback that submits again cannot recurse. */
                struct done_batch *db = calloc(1, sizeof(*db));
                pthread_mutex_unlock(&ex->mu);
                if (!db)
                        abort();
                op->rc = BATON_ESHUTDOWN;
                db->ops = op;
                db->n = 1;
                hand_back(ex, db);
                return;
        }
        if (ex->in_tail)
                ex->in_tail->next = op;
        else
                ex->in_head = op;
        ex->in_tail = op;
        pthread_cond_signal(&ex->cv);
        pthread_mutex_unlock(&ex->mu);
}

void exec_hold(struct exec *ex)
{
        pthread_mutex_lock(&ex->mu);
        ex->held++;
        pthread_mutex_unlock(&ex->mu);
}

void exec_release(struct exec *ex)
{
        pthread_mutex_lock(&ex->mu);
        BATON_ASSERT_INT(ex->held, >, 0);
        ex->held--;
        if (ex->held == 0 && ex->in_head)
                pthread_cond_signal(&ex->cv);
        pthread_mutex_unlock(&ex->mu);
}

int exec_run_sync(struct store *st, const struct store_ops *ops, const struct clock *clock,
                  const struct limits *limits, struct exec_op *op, struct txn_effects *fx_out)
{
        struct txn tx;

        memset(&tx, 0, sizeof(tx));
        tx.st = st;
        tx.ops = ops;
        tx.clock = clock;
        tx.limits = limits;
        op->next = NULL;
        apply_batch(&tx, op);
        if (fx_out)
                *fx_out = tx.fx;
        else
                txn_effects_free(&tx.fx);
        return op->rc;
}

int exec_inflight(struct exec *ex)
{
        return ex->inflight;
}

void exec_stop(struct exec *ex)
{
        if (!ex)
                return;
        pthread_mutex_lock(&ex->mu);
        ex->stopping = true;
        pthread_cond_signal(&ex->cv);
        pthread_mutex_unlock(&ex->mu);
        if (ex->started)
                pthread_join(ex->thread, NULL);
        /* Done callbacks may submit again; those come back as ESHUTDOWN and are
         * delivered by the next round, so this ends once nobody resubmits. */
        for (int round = 0; round < 1000; round++) {
                dispatch(ex);
                pthread_mutex_lock(&ex->mu);
                bool empty = !ex->done_head;
                pthread_mutex_unlock(&ex->mu);
                if (empty)
                        break;
        }
        BATON_ASSERT(ex->inflight == 0);
        pthread_cond_destroy(&ex->cv);
        pthread_mutex_destroy(&ex->mu);
        free(ex);
}
