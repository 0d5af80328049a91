/*
 * job_ops.c: an operator's changes to jobs and queues (job_ops.h): promote,
 * purge and edit one job, drain a queue, delete a queue. Workload: operator
 * and dashboard calls, far from the hot path; a drain or a queue delete
 * touches at most JOB_OPS_BATCH_MAX jobs in its transaction, one indexed read
 * and one write each, so one call cannot hold the store thread for long.
 *
 * Every state change goes through jobs.c's single places for it (become_ready
 * and place through jobs_become_ready and jobs_place, become_terminal through
 * job_cancel), so waiters, metrics, group heads and deadlines follow as they
 * do for the API's other changes.
 */
#include "core/job_ops.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"

#define IN(s) (1u << (s))
/* The states of a job that has not started: the ones PATCH and drain take. */
#define NOT_STARTED (IN(JOB_PENDING) | IN(JOB_SCHEDULED) | IN(JOB_QUEUED) | IN(JOB_RETRYING))
#define ENDED (IN(JOB_COMPLETED) | IN(JOB_DEAD) | IN(JOB_CANCELLED))

/* Reads job id into out (locked, as job_get does); BATON_ESTATE, with out
 * still holding it, unless its state is one of the states bits. */
static int load_in(struct txn *tx, const char *tenant, int64_t id, unsigned states, struct job *out)
{
        int rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->job_get(tx->st, tenant, id, out);
        if (!rc && !(states & IN(out->state)))
                rc = BATON_ESTATE;
        return rc;
}

int jobs_promote_one(struct txn *tx, const char *tenant, int64_t id, struct job *out)
{
        int rc = load_in(tx, tenant, id, IN(JOB_SCHEDULED) | IN(JOB_RETRYING), out);

        if (rc)
                return rc;
        out->run_at_ms = tx->now_ms;
        rc = jobs_become_ready(tx, out);
        /* BATON_ECONFLICT: a retrying job's key went to a newer pending job;
         * the refused write changed nothing (store.h). */
        if (!rc)
                rc = tx->ops->job_update(tx->st, out);
        return rc;
}

int jobs_purge_one(struct txn *tx, const char *tenant, int64_t id, struct job *out)
{
        int rc = load_in(tx, tenant, id, ENDED, out);

        if (rc)
                return rc;
        /* The row is all there is of the job: its attempts, progress and
         * steps are columns of it. A job whose dependants are still being
         * decided is kept, as by the retention purge: they must read it. */
        rc = tx->ops->job_delete(tx->st, tenant, id);
        return rc == BATON_ENOTFOUND ? BATON_EBUSY : rc;
}

/* Writes what ed changes into j (its state still to be placed). */
static int edit_fields(struct txn *tx, const struct job_edit *ed, struct job *j)
{
        if (ed->set_run_at) {
                if (ed->run_at_ms - tx->now_ms > tx->limits->delay_max_ms)
                        return BATON_ERANGE;
                j->run_at_ms = ed->run_at_ms < tx->now_ms ? tx->now_ms : ed->run_at_ms;
        }
        if (ed->set_priority)
                j->priority = ed->priority;
        if (ed->payload) {
                char *p = strdup(ed->payload);
                if (!p)
                        return BATON_ENOMEM;
                free(j->payload);
                j->payload = p;
        }
        j->version++;
        return 0;
}

int job_edit_apply(struct txn *tx, struct job_edit *ed, struct job *out)
{
        int rc = load_in(tx, ed->tenant, ed->id, NOT_STARTED, out);

        if (!rc)
                rc = edit_fields(tx, ed, out);
        if (rc)
                return rc;
        /* A scheduled or queued job is placed again, as a replacing enqueue
         * places it: queued when due (a better priority then reaches its
         * group's head), scheduled when later. A retrying job becomes queued
         * when its new run_at is due, else waits on (its deadline noted). A
         * pending one waits for its parents, whose release places it. */
        if (out->state == JOB_SCHEDULED || out->state == JOB_QUEUED)
                rc = jobs_place(tx, out, JOB_SCHEDULED);
        else if (out->state == JOB_RETRYING && out->run_at_ms <= tx->now_ms)
                rc = jobs_become_ready(tx, out);
        else if (out->state == JOB_RETRYING)
                txn_note_deadline(tx, out->run_at_ms);
        if (!rc)
                rc = tx->ops->job_update(tx->st, out);
        return rc;
}

/* Cancels job id if it has not started (on a shared store it may have been
 * claimed or ended since the query found it); *done tells whether it did. */
static int drain_one(struct txn *tx, const char *tenant, int64_t id, bool *done)
{
        struct job j = {0};
        int rc = load_in(tx, tenant, id, NOT_STARTED, &j);

        *done = false;
        if (rc == BATON_ESTATE)
                rc = 0; /* claimed or ended meanwhile: not drained */
        else if (!rc) {
                job_free(&j);
                rc = job_cancel(tx, tenant, id, &j);
                *done = rc == 0;
        }
        job_free(&j);
        return rc == BATON_ENOTFOUND ? 0 : rc;
}

/* Ids of the queue's jobs in the states of want (n_want of them), up to max
 * in all, into ids (room for max + 1); *more: more than max exist. One row
 * more than wanted is read to tell. */
static int ids_in_states(struct txn *tx, const char *tenant, const char *queue, const int *want,
                         int n_want, int max, int64_t *ids, int *n_out, bool *more)
{
        int n = 0, rc = 0;

        for (int s = 0; s < n_want && !rc && n <= max; s++) {
                int got = 0;
                rc = tx->ops->job_state_ids(tx->st, tenant, queue, want[s], 0, max + 1 - n, ids + n,
                                            &got);
                n += got;
        }
        *more = n > max;
        *n_out = n > max ? max : n;
        return rc;
}

/* BATON_ENOTFOUND unless the queue exists in the tenant. */
static int queue_exists(struct txn *tx, const char *tenant, const char *queue)
{
        struct queue_rec q = {0};
        int rc = tx->ops->queue_get(tx->st, tenant, queue, &q);

        queue_rec_free(&q);
        return rc;
}

int queue_drain(struct txn *tx, const char *tenant, const char *queue, int *cancelled, bool *more)
{
        static const int want[] = {JOB_PENDING, JOB_SCHEDULED, JOB_QUEUED, JOB_RETRYING};
        int64_t *ids = malloc((JOB_OPS_BATCH_MAX + 1) * sizeof(*ids));
        int n = 0;
        int rc;

        *cancelled = 0;
        *more = false;
        if (!ids)
                return BATON_ENOMEM;
        rc = queue_exists(tx, tenant, queue);
        if (!rc)
                rc = ids_in_states(tx, tenant, queue, want, 4, JOB_OPS_BATCH_MAX, ids, &n, more);
        for (int i = 0; i < n && !rc; i++) {
                bool done = false;
                rc = drain_one(tx, tenant, ids[i], &done);
                *cancelled += done;
        }
        free(ids);
        return rc;
}

/* The queue's jobs that have not ended. */
static int64_t active_jobs(const struct queue_counts *qc)
{
        int64_t n = 0;

        for (int s = 0; s < JOB_STATE_COUNT; s++)
                if (!job_state_terminal(s))
                        n += qc->by_state[s];
        return n;
}

/* Deletes the settings (a row of zeros is a queue without settings,
 * store.h) and the queue's row. */
static int queue_forget(struct txn *tx, const char *tenant, const char *queue)
{
        struct queue_limits q = {0};
        struct queue_limits zero = {.tenant = (char *)tenant, .queue = (char *)queue};
        int rc = tx->ops->qlim_get(tx->st, tenant, queue, true, &q);

        queue_limits_free(&q);
        if (!rc)
                rc = tx->ops->qlim_put(tx->st, &zero);
        return rc ? rc : tx->ops->queue_delete(tx->st, tenant, queue);
}

int queue_remove(struct txn *tx, const char *tenant, const char *queue, int *purged,
                 int64_t *active, bool *deleted)
{
        static const int ended[] = {JOB_COMPLETED, JOB_DEAD, JOB_CANCELLED};
        struct queue_counts qc;
        int64_t *ids = NULL;
        bool more = false;
        int n = 0;
        int rc;

        *purged = 0;
        *active = 0;
        *deleted = false;
        rc = queue_exists(tx, tenant, queue);
        if (!rc)
                rc = tx->ops->queue_counts(tx->st, tenant, queue, &qc);
        if (rc)
                return rc;
        *active = active_jobs(&qc);
        if (*active > 0)
                return BATON_ESTATE;
        ids = malloc((JOB_OPS_BATCH_MAX + 1) * sizeof(*ids));
        if (!ids)
                return BATON_ENOMEM;
        rc = ids_in_states(tx, tenant, queue, ended, 3, JOB_OPS_BATCH_MAX, ids, &n, &more);
        for (int i = 0; i < n && !rc; i++) {
                rc = tx->ops->job_delete(tx->st, tenant, ids[i]);
                *purged += rc == 0;
                /* Kept while its dependants are being decided (deps.h). */
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        free(ids);
        if (!rc)
                rc = tx->ops->queue_counts(tx->st, tenant, queue, &qc);
        if (rc)
                return rc;
        for (int s = 0; s < JOB_STATE_COUNT; s++)
                more = more || qc.by_state[s] > 0;
        if (!more) {
                rc = queue_forget(tx, tenant, queue);
                *deleted = rc == 0;
        }
        return rc;
}
