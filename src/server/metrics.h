/*
 * metrics.h: batond's counters and histograms, rendered in the Prometheus text
 * format by GET /metrics. Job events arrive per batch from the exec's effects
 * (txn_effects counts and samples), HTTP figures from http.c, store figures
 * from the exec's batch hook. Depth per queue and state is read from the store
 * when /metrics is asked for and passed to metrics_render.
 *
 * Loop thread only; no locks. Queue series are kept in a small hash table keyed
 * by (tenant, queue); their number is bounded by the queues that exist.
 */
#ifndef BATON_SERVER_METRICS_H
#define BATON_SERVER_METRICS_H

#include <stdint.h>

#include "common/buf.h"
#include "common/clock.h"
#include "core/jobs.h"
#include "core/queues.h"
#include "core/txn.h"

struct metrics;

/* *out owned by the caller; metrics_free releases it. clock (for ages) must
 * outlive it. */
int metrics_new(const struct clock *clock, struct metrics **out);
void metrics_free(struct metrics *m);

/* The counts and samples of one committed batch. */
void metrics_effects(struct metrics *m, const struct txn_effects *fx);
/* One store batch: its size and its commit duration. */
void metrics_batch(struct metrics *m, int ops, int64_t commit_ns);
/* One HTTP answer: route name ("unmatched" when none), status, duration. */
void metrics_http(struct metrics *m, const char *route, int status, int64_t dur_ns);
/* A timer firing of the scheduler and how late it ran. */
void metrics_tick(struct metrics *m, int64_t late_ms);

/* The committed outcome of one scheduler tick's cron part: ticks that fired a
 * job, were skipped (overlap) or recorded as misfires, and the lateness
 * (fired minus scheduled instant, ms) of its on-time fires. */
void metrics_cron(struct metrics *m, int fired, int skipped, int misfired, const int64_t *late_ms,
                  int late_n);

/* The cron totals since start: [0] fired, [1] skipped (overlap), [2] misfire. */
void metrics_cron_totals(const struct metrics *m, uint64_t out[3]);

/* The label value (tenant and queue) of the series that sums the queues
 * beyond --metrics-max-queues. */
#define METRICS_OTHER "_other"
/* At most max queues get counter series of their own (default: no bound). */
void metrics_queues_max(struct metrics *m, int max);
/* Appends the text exposition to out. queues/n: the current per-queue counts
 * (depth gauges); omitted: the queues the scrape left out of them (beyond
 * --metrics-max-queues); conns and waiters are gauges too. */
int metrics_render(const struct metrics *m, const struct queue_info *queues, int n, int64_t omitted,
                   int conns, int waiters, struct buf *out);

#endif
