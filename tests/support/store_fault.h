/*
 * store_fault.h: a fault-injecting store for tests, after SQLite's test VFS.
 * It wraps a real backend (its store and struct store_ops) and forwards every
 * call, until a test arms it to make the Nth call of an operation fail (a
 * commit, a savepoint, a job_insert, or any data statement) or the Nth fsync
 * of the database's files (SQLite only: a VFS that wraps the default one and
 * fails xSync). An injected failure returns what a real one would
 * (BATON_ESTORE) and leaves the backend as a real one would: the call did
 * nothing, and, when asked, the transaction is rolled back as SQLite does
 * after an I/O error.
 *
 * Workload: group-commit tests, a few batches each. Assumptions: the store
 * thread makes the calls while the test thread arms and reads the counters,
 * so those are behind a mutex; one fault store at a time uses the fsync
 * fault (the VFS's counter is the process's).
 */
#ifndef BATON_TESTS_STORE_FAULT_H
#define BATON_TESTS_STORE_FAULT_H

#include <stddef.h>

#include "store/store.h"

struct store_fault;

/* Names an operation of struct store_ops for store_fault_arm. */
#define STORE_FAULT_OP(name) offsetof(struct store_ops, name)
/* Any data statement: every operation but begin, commit, rollback,
 * savepoint, release and rollback_to, and but the batch's stats write
 * (stats_add), which belongs to the batch like its commit (a test names it
 * with STORE_FAULT_OP(stats_add)). */
#define STORE_FAULT_ANY ((size_t)-1)

/* What an injected failure leaves behind. */
enum store_fault_how {
        /* The call alone failed and did nothing; the transaction stays open
         * and usable, as after a constraint failure in SQLite (a failed
         * commit stays open like SQLITE_BUSY: the caller must roll back). */
        STORE_FAULT_CALL,
        /* The transaction is rolled back as well, as SQLite does after an
         * I/O error, a full disk or no memory: on SQLite behind the
         * backend's back (a raw ROLLBACK on its connection), elsewhere
         * through the backend's rollback. A failed rollback or rollback_to
         * always does this: a real one fails only with the disk. */
        STORE_FAULT_TXN,
};

/* Opens the store of opts with real_ops (on SQLite through the fault VFS)
 * and wraps it. *out is owned by the caller: store_fault_close. */
int store_fault_open(const struct store_ops *real_ops, const struct store_opts *opts,
                     struct store_fault **out);
/* Closes the real store and frees f. */
void store_fault_close(struct store_fault *f);
/* What to hand to core and exec in place of the real store and ops. The
 * ops table is the real one with each operation that takes the store
 * wrapped (an operation the backend lacks stays NULL); its open is NULL
 * (use store_fault_open) and its close is store_fault_close. */
struct store *store_fault_store(struct store_fault *f);
const struct store_ops *store_fault_ops(struct store_fault *f);

/* Makes the nth call (1 = the first) of operation op (STORE_FAULT_OP or
 * STORE_FAULT_ANY) fail as how says. Counting starts at the next begin, so
 * a test can arm while the store thread is inside another transaction.
 * One fault at a time: arming replaces an earlier one; it fires once. */
void store_fault_arm(struct store_fault *f, size_t op, int n, enum store_fault_how how);
/* Makes the nth xSync of the database's files, counted from the next
 * begin, fail with SQLITE_IOERR_FSYNC without syncing (SQLite only). */
void store_fault_arm_fsync(struct store_fault *f, int n);
/* Cancels what is armed and has not fired. */
void store_fault_disarm(struct store_fault *f);
/* Failures injected so far (calls and fsyncs). */
int store_fault_fired(struct store_fault *f);

#endif
