/*
 * leader.h: the leader's transactions. The lease (take, renew, release, read)
 * and the duty transaction that promotes due jobs, expires leases, fires
 * timers and cron ticks, fenced by the lease epoch. server/sched.c decides
 * when these run; what they do to the store is here, so the server never
 * reaches the store itself.
 */
#ifndef BATON_CORE_LEADER_H
#define BATON_CORE_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/cron.h"
#include "core/jobs.h"
#include "core/txn.h"

/* Takes or renews the lease for node (store_ops leader_acquire: renewed when
 * node holds it at held_epoch, taken with a new epoch when it is free or
 * lapsed). *out is the lease after the call. */
int leader_take(struct txn *tx, const char *node, int64_t held_epoch, int64_t ttl_ms,
                int64_t lag_ms, struct leader_rec *out);
/* Ends the lease now if node holds it at epoch and, on a shared store, tells
 * the other nodes (an "l" notification) so one takes over at once. */
int leader_release(struct txn *tx, const char *node, int64_t epoch);
/* The lease as stored (zeroed if never taken). */
int leader_read(struct txn *tx, struct leader_rec *out);

/* What one duty transaction did. */
struct leader_duty_res {
        struct tick_res jobs;      /* job_tick; jobs.next_ms is the earliest of both */
        struct cron_tick_res cron; /* cron_tick */
        bool fenced;               /* node no longer holds the lease at epoch */
};

/* The leader's duty: checks that node still holds the lease at epoch (a
 * shared store also keeps the lease from changing hands until the
 * transaction ends), then runs job_tick and cron_tick in the same
 * transaction. A fenced duty returns BATON_ECONFLICT with out->fenced set and
 * nothing done. */
int leader_duty(struct txn *tx, const char *node, int64_t epoch, struct leader_duty_res *out);

#endif
