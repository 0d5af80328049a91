/*
 * queues.h: queue records as transaction functions: a queue exists once a
 * job, timer or schedule names it or its settings change, counts against
 * the tenant's cap (limits.queues_max), can be paused (claims then get
 * nothing), and is read with its job counts per state and its settings and
 * counters (core/groups.h). Every function runs on the store thread inside
 * a struct txn and returns 0 or a negative enum baton_err, as jobs.h's do.
 *
 * Ownership: a struct queue_info filled here is owned by the caller, who
 * frees it with queue_info_free; on an error it is left empty.
 */
#ifndef BATON_CORE_QUEUES_H
#define BATON_CORE_QUEUES_H

#include <stdbool.h>

#include "core/txn.h"

struct queue_info {
        struct queue_rec rec;
        struct queue_counts counts;
        struct queue_limits lim; /* settings and counters (core/groups.h) */
};

/* BATON_ENOTFOUND: the queue does not exist in the tenant (404). */
int queue_read(struct txn *tx, const char *tenant, const char *name, struct queue_info *out);
/* *out is a malloc'd array of *n_out entries: free each with queue_info_free,
 * then the array with free. BATON_EINVAL: limit < 1. */
int queue_query(struct txn *tx, const char *tenant, const char *after, int limit,
                struct queue_info **out, int *n_out);
/* Makes queue name of tenant when it is missing. A queue it makes counts
 * against the tenant's cap (limits.queues_max): one more is BATON_ETOOMANY
 * (409 too_many_queues) and the caller's savepoint undoes it. known: the
 * caller has just read that the queue exists (qlim_get's known), which
 * spares the check's reads on the hot path of enqueues. The check is read
 * after the insert and passes while the total is at most the cap, so it
 * never refuses a queue that was already there. */
int queue_make(struct txn *tx, const char *tenant, const char *name, bool known);
/* Pauses or resumes the queue (made when missing, as by queue_make); a
 * resume wakes the claims parked on it. out: the queue after the change. */
int queue_set_paused(struct txn *tx, const char *tenant, const char *name, bool paused,
                     struct queue_info *out);
void queue_info_free(struct queue_info *q);

#endif
