/*
 * job_ops.h: an operator's changes to jobs and queues (docs/api.md, "Operate
 * on jobs and queues"): promote a waiting job, purge an ended one, edit a job
 * that has not started, drain a queue of the jobs that have not started, and
 * delete a queue that holds only ended jobs. Each is a transaction function
 * like those of jobs.h (store thread, 0 or a negative enum baton_err, writes
 * rolled back by the caller's savepoint on an error).
 *
 * Ownership: a struct job filled here is the caller's (job_free), also on an
 * error; on BATON_ESTATE it still holds the job as read, so that the answer
 * can name the state the job is in.
 */
#ifndef BATON_CORE_JOB_OPS_H
#define BATON_CORE_JOB_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/jobs.h"

/* Jobs a drain cancels, and ended jobs a queue delete removes, in one call;
 * beyond it the answer says more and the caller calls again. */
#define JOB_OPS_BATCH_MAX 1000

/* Makes a scheduled or retrying job queued now (run_at now; claim waiters
 * are woken as for an enqueue). BATON_ENOTFOUND (404), BATON_ESTATE: any
 * other state (409 invalid_state), BATON_ECONFLICT: a retrying job's dedup
 * key is held by another pending job (409 key_conflict). */
int jobs_promote_one(struct txn *tx, const char *tenant, int64_t id, struct job *out);
/* Deletes a completed, dead or cancelled job, with what its row carries
 * (attempts, progress, steps). out: the job as it was. BATON_ENOTFOUND (404),
 * BATON_ESTATE: not terminal (409 invalid_state), BATON_EBUSY: its
 * dependants are still being decided (deps.h), so it is kept for now. */
int jobs_purge_one(struct txn *tx, const char *tenant, int64_t id, struct job *out);

/* A validated change of a job that has not started (PATCH /v1/jobs/{id}). */
struct job_edit {
        const char *tenant;
        int64_t id;
        bool set_priority;
        int priority; /* enum job_priority */
        bool set_run_at;
        int64_t run_at_ms;
        char *payload; /* JSON text, owned by the caller; NULL = unchanged */
};

/* Applies ed to a pending, scheduled, queued or retrying job; its version
 * increases. A new run_at places the job as an enqueue would: queued when
 * due, scheduled (retrying: still retrying) when later; a pending job keeps
 * waiting for its parents and runs at the new run_at. BATON_ENOTFOUND (404),
 * BATON_ESTATE: running or ended (409 invalid_state), BATON_ERANGE: run_at
 * beyond delay_max_ms (400 delay_ms_out_of_range). */
int job_edit_apply(struct txn *tx, struct job_edit *ed, struct job *out);

/* Cancels up to JOB_OPS_BATCH_MAX jobs of the queue that have not started
 * (pending, scheduled, queued, retrying), oldest ids first per state;
 * *more: some remain. BATON_ENOTFOUND: no such queue (404). */
int queue_drain(struct txn *tx, const char *tenant, const char *queue, int *cancelled, bool *more);
/* Deletes a queue that holds no job that has not ended: up to
 * JOB_OPS_BATCH_MAX of its ended jobs, then, once none is left, its settings
 * and its row (*deleted). BATON_ENOTFOUND (404), BATON_ESTATE with *active
 * the number of jobs not ended (409 queue_not_empty). */
int queue_remove(struct txn *tx, const char *tenant, const char *queue, int *purged,
                 int64_t *active, bool *deleted);

#endif
