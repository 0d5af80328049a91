/*
 * exec.h: the store thread and group commit.
 *
 * The loop thread submits operations; the store thread takes every operation
 * queued since its last commit and applies them in one transaction: BEGIN; for
 * each op SAVEPOINT, run, RELEASE (or ROLLBACK TO on error); COMMIT. Then it
 * hands the whole batch back to the loop thread, which runs each op's done
 * callback and then the effects hook once. A reply is therefore only ever sent after
 * its commit. If COMMIT fails, every op of the batch gets BATON_ESTORE and
 * the store reads as if the batch never ran. (After a failed fsync that
 * holds while the process runs; the pages may still have reached the disk,
 * so a crash can bring such a batch back: 503 means "not known to be
 * applied", and clients retry with their idempotency keys.) An op whose
 * writes cannot be taken back out of the transaction fails the whole batch
 * the same way. There is no artificial delay: while one batch
 * commits, the next one gathers.
 *
 * The caller owns each struct exec_op (usually embedded in a request struct)
 * and must keep it alive until done has run.
 */
#ifndef BATON_CORE_EXEC_H
#define BATON_CORE_EXEC_H

#include <stdint.h>

#include "core/txn.h"

struct exec;

struct exec_op {
        /* Runs on the store thread inside the transaction. Return 0 to keep the
         * op's writes, a negative code to roll them back. */
        int (*fn)(struct txn *tx, struct exec_op *op);
        /* Runs on the loop thread after the commit; rc holds the outcome. */
        void (*done)(struct exec_op *op);
        int rc;
        int64_t submit_ns; /* set by exec_submit, for latency metrics */
        struct exec_op *next;
        /* The job the op will read first (0 = none), of tenant: before a
         * batch's ops run, the store thread reads the jobs they name in one
         * call (store_ops.job_get_many), so that a backend with round trips
         * answers their reads from what it kept. A hint: a wrong one costs a
         * read, never a wrong answer. tenant must live as long as the op. */
        int64_t job_id;
        const char *tenant;
};

struct exec_stats {
        uint64_t batches;
        uint64_t ops;
        uint64_t commit_failures;
        /* Histograms are kept by the hook below; exec reports each batch. */
};

struct exec_hooks {
        /* Loop thread, once per batch after the done callbacks (a claim that
         * found nothing parks its waiter in its callback and must still be woken
         * by a job this batch made ready). Counts and samples of ops that rolled
         * back are not in fx. */
        void (*on_effects)(void *ctx, const struct txn_effects *fx);
        /* Loop thread, once per batch: size and commit duration, for metrics. */
        void (*on_batch)(void *ctx, int ops, int64_t commit_ns, int64_t batch_ns);
        void *ctx;
        /* This node's id, stamped on the notifications other nodes receive
         * (txn_notify), so a node can skip its own; NULL = "-". */
        const char *origin;
};

/* How the store thread tells the loop thread that finished batches wait: fn
 * runs on the store thread, must be thread-safe and must not block; the loop
 * thread answers by calling exec_dispatch. (The server activates a libevent
 * user event; core knows no event loop.) */
struct exec_wake {
        void (*fn)(void *ctx);
        void *ctx;
};

/* Starts the store thread. wake is copied; the store, ops, clock, limits and
 * whatever wake->ctx points to must outlive the exec. *out is owned by the
 * caller and freed by exec_stop. */
int exec_start(const struct exec_wake *wake, struct store *st, const struct store_ops *ops,
               const struct clock *clock, const struct limits *limits,
               const struct exec_hooks *hooks, struct exec **out);
/* Queues op; thread-safe. After exec_stop has begun, op->done runs with
 * BATON_ESHUTDOWN. */
void exec_submit(struct exec *ex, struct exec_op *op);
/* Between exec_hold and exec_release the store thread starts no batch, so
 * the ops submitted in between run in one transaction, in submission order,
 * and share its commit (a claim submitted right after the enqueue that makes
 * its job ready leases that job under the enqueue's fsync). Holds nest; keep
 * one short, as the store thread waits for it. Thread-safe. */
void exec_hold(struct exec *ex);
void exec_release(struct exec *ex);
/* Runs op synchronously on the caller's thread in its own transaction, for use
 * before the store thread starts or in tests without a loop. */
int exec_run_sync(struct store *st, const struct store_ops *ops, const struct clock *clock,
                  const struct limits *limits, struct exec_op *op, struct txn_effects *fx_out);
/* Loop thread: runs the done callbacks and effects hooks of every finished
 * batch, in order. Call it whenever wake->fn has run. */
void exec_dispatch(struct exec *ex);
/* Number of ops submitted and not yet completed (loop thread). */
int exec_inflight(struct exec *ex);
/* Finishes the batch in flight and every op already queued, then joins the
 * thread and frees ex. Call from the loop thread; it dispatches the remaining
 * done callbacks before returning. */
void exec_stop(struct exec *ex);

#endif
