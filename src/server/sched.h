/*
 * sched.h: leadership and the next-deadline timer.
 *
 * Leadership: every quarter of the lease (sched_beat_ms: 500 ms with the
 * default --leader-ttl-ms of 2 s) the node takes or renews the store's
 * leader lease (store_ops.leader_acquire); on a shared store through an
 * executor and connection of their own (server_submit_lease), elsewhere
 * through the store thread. That write is the scheduler's heartbeat. The node leads while the store
 * says it holds the lease and its last renewal was submitted less than the
 * lease's length ago (--leader-ttl-ms, measured on the monotonic clock from
 * the submission, so the node stops before the store would let another node
 * in). It stops leading at once when a renewal finds another holder, when the
 * store cannot be reached, or when a duty transaction is fenced. On a store
 * one process owns (SQLite) the node always leads.
 *
 * Duties: only while leading, one libevent timer is armed for the earliest
 * instant at which something falls due (a scheduled job's run_at, a lease's
 * end, a retention deadline, a cron tick, a timer); when it fires, one
 * transaction checks the lease's epoch (store_ops.leader_check: the fencing
 * token, so a deposed leader's duty commits nothing), then promotes, expires,
 * purges, fires timers and cron ticks, and the timer is re-armed for the next
 * deadline the store reports. Commits that create an earlier deadline re-arm
 * it through sched_arm (on other nodes through a "d" notification). On a
 * shared store the leader also sweeps at least every SCHED_SWEEP_MS, in case
 * a notification was lost. There is no polling loop on one node.
 *
 * Loop thread only. The struct sched is owned by the server.
 */
#ifndef BATON_SERVER_SCHED_H
#define BATON_SERVER_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define SCHED_SWEEP_MS 5000
/* A follower that saw the lease about to lapse tries to take it this long
 * after the instant it lapses (the store's clock; the follower's timer runs
 * on its own clock, which may run a little fast). */
#define SCHED_TAKE_MARGIN_MS 25

struct server;
struct sched;

/* *out owned by the caller, released with sched_free. Takes the lease at
 * once; the first tick runs as soon as the node leads (work that fell due
 * while no node led). */
int sched_start(struct server *srv, struct sched **out);
/* Makes sure the timer fires no later than at_ms (Unix ms); ignored unless
 * this node leads. */
void sched_arm(struct sched *s, int64_t at_ms);
/* The renewal interval for a lease of ttl_ms: a quarter of it, so a leader
 * keeps its lease through a stall (of its lease connection, its process or
 * the database) of up to three quarters of the lease. */
int64_t sched_beat_ms(int64_t ttl_ms);
/* A leader released the lease (an "l" notification): a follower tries to take
 * it now instead of at its next beat. */
void sched_poke(struct sched *s);
/* Stops the heartbeat and gives the lease up (SIGTERM), so another node takes
 * over at once; sched_busy stays true until the release has committed. */
void sched_release(struct sched *s);

/* This node's role. */
enum sched_role {
        SCHED_STARTING = 0,     /* no answer from the store yet */
        SCHED_LEADER = 1,       /* holds the lease: runs the duties */
        SCHED_FOLLOWER = 2,     /* another node holds it (or nobody, until the next beat) */
        SCHED_DISCONNECTED = 3, /* the last lease call failed: the store is unreachable */
        SCHED_STOPPED = 4       /* shutting down, lease released */
};
const char *sched_role_name(int role);

/* The heartbeat and leadership, for GET /v1/scheduler and /readyz. */
struct sched_status {
        int role;               /* enum sched_role */
        int64_t epoch;          /* the epoch this node leads under; 0 when not leading */
        struct leader_rec seen; /* the lease as this node last saw it */
        int64_t last_beat_ms;   /* wall instant of this node's last successful lease call */
        int64_t last_tick_ms;   /* wall instant the last tick began; 0 = none yet */
        int64_t last_lag_ms;    /* how late it began after the instant it was armed for */
        int64_t armed_ms;       /* instant the timer is armed for; 0 = not armed */
        bool busy;              /* a tick transaction is in flight */
        int64_t leader_changes; /* times this node started leading */
        int64_t fenced;         /* duty transactions refused by the epoch check */
};
void sched_status(const struct sched *s, struct sched_status *out);
/* True while a tick or lease transaction is in flight. */
int sched_busy(const struct sched *s);
void sched_free(struct sched *s);

#endif
