/*
 * stats.h: the stats series behind GET /v1/stats and the dashboard's charts:
 * per queue and minute, how many jobs were enqueued, started, completed,
 * retried, went dead, were cancelled and had their lease run out, and the
 * queue's depth (jobs not yet ended) and running jobs as the leader sampled
 * them. Counts are written in the transaction that made them, so they are
 * exact and durable like the jobs; gauges are samples (--stats-sample-ms).
 * Kept --stats-retention-ms, purged by the leader.
 */
#ifndef BATON_CORE_STATS_H
#define BATON_CORE_STATS_H

#include <stdint.h>

#include "core/txn.h"
#include "store/store.h"

/* The stats minute: the series' resolution. */
#define STATS_MINUTE_MS 60000
/* At most this many steps in one answer. */
#define STATS_POINTS_MAX 1440

/* Adds the counts the batch's operations noted (tx->fx.counts, the same the
 * metrics read) to their queues' current minute, one write per queue; the
 * store thread calls it before the commit. */
int stats_flush(struct txn *tx);

/* The leader's duty (core/job_tick.c): samples the gauges once per
 * --stats-sample-ms slot and purges up to --purge-batch rows of minutes
 * older than the retention (*purged). The leader ticks at least once per
 * slot for it (server/sched.c). */
int stats_tick(struct txn *tx, int *purged);

/* The series of one queue (queue NULL: all of the tenant's) in n steps of
 * step_ms, the last one holding now: out[0..n) (caller's array) and
 * *from_ms, the first step's start. */
int stats_query(struct txn *tx, const char *tenant, const char *queue, int64_t step_ms, int n,
                struct stats_point *out, int64_t *from_ms);

#endif
