/*
 * sched.c: the next-deadline timer (see sched.h). At most one tick op is in
 * flight; a deadline that arrives meanwhile is remembered and honoured when
 * the op completes. A tick that hit a batch limit (tick_res.more) runs again
 * at once, yielding to the loop in between so requests are not starved.
 * Each tick leaves a heartbeat (when it began, how late) for GET
 * /v1/scheduler, and its committed cron outcomes feed the metrics.
 *
 * Assumptions: deadlines are wall-clock instants (what the store holds) and
 * the timer is a relative timeout computed from the injected clock; a wall
 * clock step only makes a tick early or late, and every tick re-reads the
 * store's deadlines, so nothing is missed.
 */
#include "server/sched.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "baton/baton.h"
#include "common/log.h"
#include "core/cron.h"
#include "core/jobs.h"
#include "server/metrics.h"
#include "server/server.h"

struct sched {
        struct server *srv;
        struct event *timer;
        int64_t armed_ms;          /* instant the timer is set for; 0 = not armed */
        int64_t want_ms;           /* deadline noted while a tick was in flight; 0 = none */
        int64_t due_ms;            /* instant the running tick was due, for lateness */
        int64_t last_tick_ms;      /* wall instant the last tick began; 0 = none */
        int64_t last_lag_ms;       /* its lateness */
        struct cron_tick_res cron; /* the cron part of the running tick */
        struct exec_op op;
        struct tick_res res;
        int busy;
};

static int tick_fn(struct txn *tx, struct exec_op *op)
{
        struct sched *s = container_of(op, struct sched, op);
        struct cron_tick_res *cr = &s->cron;
        int rc;

        s->res = (struct tick_res){0};
        memset(cr, 0, sizeof(*cr));
        rc = job_tick(tx, &s->res);
        /* Cron ticks share the tick's transaction and its next deadline. */
        if (!rc)
                rc = cron_tick(tx, cr);
        if (!rc && cr->next_ms && (!s->res.next_ms || cr->next_ms < s->res.next_ms))
                s->res.next_ms = cr->next_ms;
        if (cr->more)
                s->res.more = true;
        return rc;
}

static void set_timer(struct sched *s, int64_t at_ms)
{
        int64_t now_ms = clock_wall_ms(s->srv->clock);
        int64_t d = at_ms > now_ms ? at_ms - now_ms : 0;
        struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000};

        s->armed_ms = at_ms;
        event_add(s->timer, &tv);
}

static void tick_done(struct exec_op *op)
{
        struct sched *s = container_of(op, struct sched, op);
        int64_t next = s->res.next_ms;

        s->busy = 0;
        if (op->rc) {
                /* The store refused; try again shortly rather than never. */
                log_warn("sched", "tick failed: %s", baton_strerror(op->rc));
                next = clock_wall_ms(s->srv->clock) + 1000;
        } else {
                /* Committed: the cron outcomes count now. */
                metrics_cron(s->srv->metrics, s->cron.fired, s->cron.skipped, s->cron.misfired,
                             s->cron.late_ms, s->cron.late_n);
                if (s->res.more)
                        next = clock_wall_ms(s->srv->clock);
        }
        if (s->res.expired || s->res.promoted || s->res.purged || s->res.timers_fired)
                log_debug("sched", "tick: %d promoted, %d expired, %d purged, %d timers fired",
                          s->res.promoted, s->res.expired, s->res.purged, s->res.timers_fired);
        if (s->want_ms && (!next || s->want_ms < next))
                next = s->want_ms;
        s->want_ms = 0;
        if (next && !s->srv->stopping)
                set_timer(s, next);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
        struct sched *s = arg;
        int64_t now_ms = clock_wall_ms(s->srv->clock);

        (void)fd, (void)what;
        if (s->srv->stopping)
                return;
        if (s->armed_ms)
                metrics_tick(s->srv->metrics, now_ms - s->armed_ms);
        s->last_tick_ms = now_ms;
        s->last_lag_ms = s->armed_ms && now_ms > s->armed_ms ? now_ms - s->armed_ms : 0;
        s->due_ms = s->armed_ms;
        s->armed_ms = 0;
        s->busy = 1;
        s->op.fn = tick_fn;
        s->op.done = tick_done;
        if (server_submit(s->srv, &s->op) != 0)
                s->busy = 0;
}

void sched_arm(struct sched *s, int64_t at_ms)
{
        if (at_ms <= 0 || s->srv->stopping)
                return;
        if (s->busy) {
                if (!s->want_ms || at_ms < s->want_ms)
                        s->want_ms = at_ms;
                return;
        }
        if (s->armed_ms && s->armed_ms <= at_ms)
                return;
        set_timer(s, at_ms);
}

void sched_status(const struct sched *s, struct sched_status *out)
{
        memset(out, 0, sizeof(*out));
        if (!s)
                return;
        out->last_tick_ms = s->last_tick_ms;
        out->last_lag_ms = s->last_lag_ms;
        out->armed_ms = s->armed_ms;
        out->busy = s->busy != 0;
}

int sched_busy(const struct sched *s)
{
        return s->busy;
}

int sched_start(struct server *srv, struct sched **out)
{
        struct sched *s = calloc(1, sizeof(*s));

        if (!s)
                return BATON_ENOMEM;
        s->srv = srv;
        s->timer = evtimer_new(srv->base, on_timer, s);
        if (!s->timer) {
                free(s);
                return BATON_ENOMEM;
        }
        set_timer(s, clock_wall_ms(srv->clock));
        *out = s;
        return 0;
}

void sched_free(struct sched *s)
{
        if (!s)
                return;
        event_free(s->timer);
        free(s);
}
