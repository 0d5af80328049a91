/*
 * groups.h: queue limits, job groups and fair claims (DESIGN §3 "Queues,
 * groups and fairness"). A queue's settings (concurrency, rate, max_depth,
 * group_concurrency, group_rate and the defaults for max_attempts, backoff
 * and lease_ms) live in the store's queue_limits row, its counters (depth,
 * running) beside it (on a shared store, as one share per connection); each
 * group with ready or running jobs has a job_groups row. All are written in
 * the same transaction as the job changes they count. Operations that judge
 * a limit hold the queue's row (qlim_get with lock): claims of a queue with
 * concurrency, a rate or groups, and enqueues of a queue with max_depth, so
 * the limits hold across every worker (and, on a shared store, every node).
 * Claims of a plain queue, and every count, take no row of the queue, so
 * nodes sharing a busy queue do not queue up behind one another; a setting
 * changed meanwhile applies from the next claim or enqueue that reads it.
 *
 * Semantics (docs/api.md "Queue settings"):
 * - concurrency: running jobs of the queue never exceed it.
 * - rate {max, per_ms}: a sliding window. A start is allowed when the
 *   max-th most recent start happened at least per_ms ago, so any interval
 *   of per_ms holds at most max starts. Each queue keeps its latest max
 *   start instants (rate_log); group_rate does the same per group.
 * - max_depth: jobs not yet terminal (pending, scheduled, queued, running,
 *   retrying). An enqueue that would exceed it is refused (BATON_EBUSY,
 *   503 queue_full), API, flow, timer and cron alike: a timer's fire is
 *   deferred and retried (core/timers.h), a cron tick is a skipped run with
 *   reason queue_full (core/cron.c).
 * - fairness: inside a priority level, claims serve the group served longest
 *   ago, then its oldest ready job. Jobs without a group take turns as one
 *   group of their own, and group limits do not apply to them.
 *
 * Every function runs on the store thread inside a transaction (txn.h).
 */
#ifndef BATON_CORE_GROUPS_H
#define BATON_CORE_GROUPS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/jobs.h"
#include "core/queues.h"
#include "core/txn.h"

/* Bounds of the settings (docs/api.md); the API refuses values outside. */
#define QLIM_CONCURRENCY_MAX 1000000
#define QLIM_RATE_MAX 100000
#define QLIM_GROUP_RATE_MAX 10000
#define QLIM_PER_MS_MAX 86400000 /* one day */
#define QLIM_DEPTH_MAX 100000000

/* Which settings a queue update changes (bits of struct queue_update.mask). */
enum queue_setting {
        QS_PAUSED = 1 << 0,
        QS_CONCURRENCY = 1 << 1,
        QS_RATE = 1 << 2,
        QS_MAX_DEPTH = 1 << 3,
        QS_GROUP_CONCURRENCY = 1 << 4,
        QS_GROUP_RATE = 1 << 5,
        QS_MAX_ATTEMPTS = 1 << 6,
        QS_BACKOFF = 1 << 7,
        QS_LEASE = 1 << 8,
        /* A queue's own retention of its ended jobs (0 = the server's). */
        QS_RET_COMPLETED = 1 << 9,
        QS_RET_DEAD = 1 << 10,
        QS_RET_CANCELLED = 1 << 11,
        QS_TIMEOUT = 1 << 12,
        /* Whether the queue's jobs write per-job events (core/events.h). */
        QS_JOB_EVENTS = 1 << 13
};

/* The shortest retention a queue may set; the longest is the server's
 * (--completed-ttl-ms, --dead-ttl-ms for dead and cancelled jobs). */
#define QLIM_RETENTION_MIN_MS 1000

/* A validated change of settings: the fields named by mask are copied from
 * set (0 clears a limit or a default; def_backoff_set false clears it). */
struct queue_update {
        unsigned mask;
        bool paused;
        struct queue_limits set; /* strings unused */
};

/* Applies u to the queue (creating it if needed) and reads it back into out.
 * Groups are re-judged against a new group_concurrency or group_rate, and
 * parked claims are woken since a limit may have risen. */
int queue_update(struct txn *tx, const char *tenant, const char *name, const struct queue_update *u,
                 struct queue_info *out);

/* Called by jobs.c at the matching changes of a job (see jobs.c). */
/* Before the insert of a new job: applies the queue's defaults to the fields
 * req leaves to them, refuses with BATON_EBUSY when req->check_depth and the
 * queue is at max_depth, and counts the job. */
int groups_on_enqueue(struct txn *tx, struct enqueue_req *req);
/* j became queued: its group's head may have improved. */
int groups_on_ready(struct txn *tx, const struct job *j);
/* j left running (settled or its lease expired): frees its slots, adds
 * depth_delta to the queue's depth (-1 when the attempt ended the job: then
 * become_terminal leaves the count to this call, one statement instead of
 * two on the settle path) and wakes the queue's parked claims when a
 * concurrency limit may have held them. Called after the job's new state is
 * decided. */
int groups_on_leave_running(struct txn *tx, const struct job *j, int64_t depth_delta);
/* j became terminal (delta -1) or was revived from a terminal state (+1);
 * not for a job leaving running (see above). */
int groups_on_depth(struct txn *tx, const struct job *j, int64_t delta);

/* Leases up to req->max ready jobs of the queue within its limits, in fair
 * order. When it leases nothing because a rate window is full,
 * *retry_at_ms is the instant the earliest window rolls (0 otherwise). */
int groups_claim(struct txn *tx, const struct claim_req *req, struct job_vec *out,
                 int64_t *retry_at_ms);

#endif
