/*
 * sched.h: the next-deadline timer. One libevent timer is armed for the
 * earliest instant at which something falls due (a scheduled job's run_at, a
 * lease's end, a retention deadline); when it fires, one job_tick transaction
 * promotes, expires and purges, and the timer is re-armed for the next
 * deadline the store reports. Commits that create an earlier deadline re-arm
 * it through sched_arm. There is no polling loop.
 *
 * Loop thread only. The struct sched is owned by the server.
 */
#ifndef BATON_SERVER_SCHED_H
#define BATON_SERVER_SCHED_H

#include <stdbool.h>
#include <stdint.h>

struct server;
struct sched;

/* *out owned by the caller, released with sched_free. Runs a first tick at
 * once (work that fell due while the server was down). */
int sched_start(struct server *srv, struct sched **out);
/* Makes sure the timer fires no later than at_ms (Unix ms). */
void sched_arm(struct sched *s, int64_t at_ms);
/* The heartbeat of the timer, for GET /v1/scheduler. */
struct sched_status {
        int64_t last_tick_ms; /* wall instant the last tick began; 0 = none yet */
        int64_t last_lag_ms;  /* how late it began after the instant it was armed for */
        int64_t armed_ms;     /* instant the timer is armed for; 0 = not armed */
        bool busy;            /* a tick transaction is in flight */
};
void sched_status(const struct sched *s, struct sched_status *out);
/* True while a tick transaction is in flight. */
int sched_busy(const struct sched *s);
void sched_free(struct sched *s);

#endif
