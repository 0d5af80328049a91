/*
 * sched.c: leadership and the next-deadline timer (see sched.h).
 *
 * Two timers run on the loop thread. The beat fires every ttl/4 (sched_beat_ms)
 * and submits one lease op (take or renew: the heartbeat write); at most one
 * lease op is in flight, so a slow store delays renewals rather than piling
 * them up, and a leader whose renewal has not come back within the lease's
 * length stops leading on its own. On a shared store lease ops go to an
 * executor and a database connection of their own (server_submit_lease), so
 * a renewal never waits behind the data batches or the row locks they wait
 * for: a node whose batches are stuck behind a stalled peer's locks keeps
 * its lease. A follower that saw the lease about to lapse tries again right
 * after it lapses rather than at its next beat, and one that hears an "l"
 * notification (a leader released the lease at shutdown) tries at once.
 *
 * The duty timer runs only while leading. At most one tick op is in flight;
 * a deadline that arrives meanwhile is remembered and honoured when the op
 * completes. A tick that hit a batch limit (tick_res.more) runs again at
 * once, yielding to the loop in between so requests are not starved. Each
 * tick records when it began and how late, and its committed cron outcomes
 * feed the metrics.
 *
 * Fencing lives in the store, not here: every tick transaction
 * (core/leader.c leader_duty) starts with leader_check(node, epoch). What this file decides in
 * memory (whether to arm the timer) only avoids useless work; a paused or partitioned ex-leader
 * that still believes it leads is refused by the store.
 *
 * Assumptions: deadlines are wall-clock instants (what the store holds) and
 * the timer is a relative timeout computed from the injected clock; a wall
 * clock step only makes a tick early or late, and every tick re-reads the
 * store's deadlines, so nothing is missed. Lease validity is measured on the
 * monotonic clock.
 */
#include "server/sched.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "core/cron.h"
#include "core/jobs.h"
#include "core/leader.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/server.h"

enum lop_kind { LOP_ACQUIRE = 0, LOP_RELEASE = 1 };

struct sched {
        struct server *srv;
        const char *node; /* srv->node_id */
        int64_t ttl_ms;
        /* The duty timer and its tick. */
        struct event *timer;
        int64_t armed_ms;     /* instant the timer is set for; 0 = not armed */
        int64_t want_ms;      /* deadline noted while a tick was in flight; 0 = none */
        int64_t last_tick_ms; /* wall instant the last tick began; 0 = none */
        int64_t last_lag_ms;  /* its lateness */
        int64_t tick_epoch;   /* the epoch the running tick checks */
        /* The running tick's outcome, written on the store thread. */
        struct leader_duty_res duty;
        struct exec_op op;
        int busy;
        /* Leadership. */
        struct event *beat;
        struct exec_op lop; /* the lease op */
        int lop_kind;       /* enum lop_kind */
        bool lop_busy;
        int64_t lop_sent_ns;     /* monotonic instant it was submitted */
        int64_t lop_epoch;       /* the epoch it renews or releases */
        int64_t lop_lag_ms;      /* the lag it reports */
        int64_t lop_now_ms;      /* the store's now in its transaction */
        int64_t beat_ms;         /* interval of the beat: ttl / 4 */
        struct leader_rec lease; /* its answer (store thread writes, loop reads in done) */
        struct leader_rec seen;  /* the lease as last seen */
        int role;                /* enum sched_role */
        int64_t epoch;           /* the epoch this node leads under; 0 = not leading */
        int64_t valid_until_ns;  /* monotonic: leads until then unless renewed */
        int64_t last_beat_ms;
        int64_t leader_changes;
        int64_t fenced;
        bool releasing; /* sched_release was called */
};

int64_t sched_beat_ms(int64_t ttl_ms)
{
        return ttl_ms / 4 > 0 ? ttl_ms / 4 : 1;
}

const char *sched_role_name(int role)
{
        static const char *const names[] = {"starting", "leader", "follower", "disconnected",
                                            "stopped"};

        return role >= 0 && role <= SCHED_STOPPED ? names[role] : "unknown";
}

static bool leading(const struct sched *s)
{
        return s->epoch > 0;
}

/* ---- the duty timer ---- */

static int tick_fn(struct txn *tx, struct exec_op *op)
{
        struct sched *s = container_of(op, struct sched, op);

        return leader_duty(tx, s->node, s->tick_epoch, &s->duty);
}

static void set_timer(struct sched *s, int64_t at_ms)
{
        int64_t now_ms = clock_wall_ms(s->srv->clock);
        int64_t d = at_ms > now_ms ? at_ms - now_ms : 0;
        struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000};

        s->armed_ms = at_ms;
        event_add(s->timer, &tv);
}

/* Stops the duties at once: no timer, no remembered deadline. A tick already
 * in flight is fenced by the store if another node has taken over. */
static void step_down(struct sched *s, int role, const char *why)
{
        if (leading(s) && role == SCHED_STOPPED)
                log_info("sched", "node %s stops leading (epoch %lld): %s", s->node,
                         (long long)s->epoch, why);
        else if (leading(s))
                log_warn("sched", "node %s stops leading (epoch %lld): %s", s->node,
                         (long long)s->epoch, why);
        s->epoch = 0;
        s->role = role;
        event_del(s->timer);
        s->armed_ms = 0;
        s->want_ms = 0;
}

/* Leading, but is the last renewal recent enough? A renewal that has not come
 * back within the lease's length means another node may lead by now. */
static bool still_valid(struct sched *s)
{
        if (!leading(s))
                return false;
        /* One process owns the store (SQLite): nobody else can lead, so a
         * slow renewal (behind a long batch on the one store thread) must
         * not pause the duties. */
        if (!s->srv->ops->shared || clock_mono_ns(s->srv->clock) < s->valid_until_ns)
                return true;
        step_down(s, SCHED_FOLLOWER, "the lease was not renewed in time");
        return false;
}

static void tick_done(struct exec_op *op)
{
        struct sched *s = container_of(op, struct sched, op);
        int64_t now_ms = clock_wall_ms(s->srv->clock);
        int64_t next = s->duty.jobs.next_ms;

        s->busy = 0;
        if (s->duty.fenced) {
                s->fenced++;
                /* A tick of an earlier epoch may be refused after this node took
                 * the lease again; only a refusal of the current epoch deposes. */
                if (s->tick_epoch == s->epoch)
                        step_down(s, SCHED_FOLLOWER, "the store refused a duty (fenced)");
                else if (leading(s) && !s->srv->stopping)
                        set_timer(s, now_ms);
                return;
        }
        if (op->rc) {
                /* The store refused; try again shortly rather than never. */
                log_warn("sched", "tick failed: %s", baton_strerror(op->rc));
                next = now_ms + 1000;
        } else {
                /* Committed: the cron outcomes count now. */
                metrics_cron(s->srv->metrics, s->duty.cron.fired, s->duty.cron.skipped,
                             s->duty.cron.misfired, s->duty.cron.late_ms, s->duty.cron.late_n);
                if (s->duty.jobs.more)
                        next = now_ms;
        }
        if (s->duty.jobs.expired || s->duty.jobs.promoted || s->duty.jobs.purged ||
            s->duty.jobs.timers_fired || s->duty.jobs.cascaded)
                log_debug("sched",
                          "tick: %d promoted, %d expired, %d purged, %d timers fired,"
                          " %d cascade rows taken up",
                          s->duty.jobs.promoted, s->duty.jobs.expired, s->duty.jobs.purged,
                          s->duty.jobs.timers_fired, s->duty.jobs.cascaded);
        if (s->want_ms && (!next || s->want_ms < next))
                next = s->want_ms;
        s->want_ms = 0;
        /* Several nodes: a deadline written by another node reaches this one
         * as a notification, which can be lost while the listener reconnects;
         * a sweep every few seconds bounds the delay that would cause. */
        if (s->srv->ops->shared && (!next || next > now_ms + SCHED_SWEEP_MS))
                next = now_ms + SCHED_SWEEP_MS;
        /* The stats series' gauges are sampled once per --stats-sample-ms
         * slot (core/stats.h): the leader looks at least that often. */
        {
                int64_t sample_ms = s->srv->limits->stats_sample_ms;
                int64_t slot_end_ms = now_ms - now_ms % sample_ms + sample_ms;

                if (!next || next > slot_end_ms)
                        next = slot_end_ms;
        }
        if (next && !s->srv->stopping && leading(s))
                set_timer(s, next);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
        struct sched *s = arg;
        int64_t now_ms = clock_wall_ms(s->srv->clock);

        (void)fd, (void)what;
        if (s->srv->stopping || !still_valid(s))
                return;
        if (s->armed_ms)
                metrics_tick(s->srv->metrics, now_ms - s->armed_ms);
        s->last_tick_ms = now_ms;
        s->last_lag_ms = s->armed_ms && now_ms > s->armed_ms ? now_ms - s->armed_ms : 0;
        s->armed_ms = 0;
        s->tick_epoch = s->epoch;
        s->busy = 1;
        s->op.fn = tick_fn;
        s->op.done = tick_done;
        if (server_submit(s->srv, &s->op) != 0)
                s->busy = 0;
}

void sched_arm(struct sched *s, int64_t at_ms)
{
        if (at_ms <= 0 || s->srv->stopping || !leading(s))
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

/* ---- the lease ---- */

static int lease_fn(struct txn *tx, struct exec_op *op)
{
        struct sched *s = container_of(op, struct sched, lop);

        s->lop_now_ms = tx->now_ms;
        if (s->lop_kind != LOP_RELEASE)
                return leader_take(tx, s->node, s->lop_epoch, s->ttl_ms, s->lop_lag_ms, &s->lease);
        return leader_release(tx, s->node, s->lop_epoch);
}

static void submit_lease(struct sched *s, int kind, int64_t epoch)
{
        s->lop_kind = kind;
        s->lop_epoch = epoch;
        s->lop_lag_ms = s->last_lag_ms;
        s->lop_sent_ns = clock_mono_ns(s->srv->clock);
        s->lop_busy = true;
        if (server_submit_lease(s->srv, &s->lop) != 0)
                s->lop_busy = false;
}

/* Shutting down: stop the duties and end the lease held at epoch, so another
 * node takes over at its next beat instead of after the lease lapses. */
static void release_at(struct sched *s, int64_t epoch)
{
        step_down(s, SCHED_STOPPED, "shutting down");
        submit_lease(s, LOP_RELEASE, epoch);
}

/* Another node holds l: if it lapses before the next beat (its holder
 * stopped renewing), try to take it right after it lapses, so a dead
 * leader's duties wait the lease's length and not up to a beat more. */
static void follow_lapse(struct sched *s, const struct leader_rec *l)
{
        int64_t wait_ms = l->lease_until_ms - s->lop_now_ms + SCHED_TAKE_MARGIN_MS;
        struct timeval tv = {(time_t)(wait_ms / 1000), (suseconds_t)(wait_ms % 1000) * 1000};

        if (l->epoch > 0 && wait_ms > 0 && wait_ms < s->beat_ms && !s->releasing)
                event_add(s->beat, &tv);
}

/* A take or renewal came back: lead, go on leading, or follow. */
static void lease_answer(struct sched *s)
{
        const struct leader_rec *l = &s->lease;

        s->seen = *l;
        if (strcmp(l->node, s->node) != 0) {
                if (leading(s))
                        step_down(s, SCHED_FOLLOWER, "another node holds the lease");
                s->role = SCHED_FOLLOWER;
                follow_lapse(s, l);
                return;
        }
        s->last_beat_ms = l->heartbeat_at_ms;
        s->valid_until_ns = s->lop_sent_ns + s->ttl_ms * 1000000LL;
        s->role = SCHED_LEADER;
        if (s->epoch == l->epoch)
                return;
        if (leading(s))
                step_down(s, SCHED_LEADER, "the lease was taken again at a new epoch");
        s->epoch = l->epoch;
        s->leader_changes++;
        log_info("sched", "node %s leads (epoch %lld)", s->node, (long long)s->epoch);
        /* Take over the duties at once: whatever fell due while nobody led. */
        if (!s->busy)
                set_timer(s, clock_wall_ms(s->srv->clock));
        else
                s->want_ms = clock_wall_ms(s->srv->clock);
}

static void lease_done(struct exec_op *op)
{
        struct sched *s = container_of(op, struct sched, lop);

        s->lop_busy = false;
        if (s->lop_kind == LOP_RELEASE) {
                if (op->rc)
                        log_warn("sched", "releasing the lease failed (%s); it lapses on its own",
                                 baton_strerror(op->rc));
                s->role = SCHED_STOPPED;
                return;
        }
        if (op->rc) {
                /* No store, no leadership: another node may take over meanwhile. */
                if (op->rc != BATON_ESHUTDOWN)
                        log_warn("sched", "lease call failed: %s", baton_strerror(op->rc));
                step_down(s, s->releasing ? SCHED_STOPPED : SCHED_DISCONNECTED,
                          "the store cannot be reached");
                return;
        }
        if (!s->releasing)
                lease_answer(s);
        else if (strcmp(s->lease.node, s->node) == 0)
                release_at(s, s->lease.epoch); /* the renewal in flight at SIGTERM */
        else
                s->role = SCHED_STOPPED;
}

static void on_beat(evutil_socket_t fd, short what, void *arg)
{
        struct sched *s = arg;
        struct timeval tv = {(time_t)(s->beat_ms / 1000), (suseconds_t)(s->beat_ms % 1000) * 1000};

        (void)fd, (void)what;
        if (s->releasing)
                return;
        event_add(s->beat, &tv);
        if (leading(s))
                still_valid(s);
        if (!s->lop_busy)
                submit_lease(s, LOP_ACQUIRE, s->epoch);
}

void sched_poke(struct sched *s)
{
        if (!s || s->releasing || s->lop_busy || leading(s))
                return;
        submit_lease(s, LOP_ACQUIRE, s->epoch);
}

void sched_release(struct sched *s)
{
        if (!s || s->releasing)
                return;
        s->releasing = true;
        event_del(s->beat);
        if (s->lop_busy)
                return; /* lease_done releases once the call in flight is back */
        if (leading(s))
                release_at(s, s->epoch);
        else
                s->role = SCHED_STOPPED;
}

void sched_status(const struct sched *s, struct sched_status *out)
{
        memset(out, 0, sizeof(*out));
        if (!s)
                return;
        out->role = s->role;
        out->epoch = s->epoch;
        out->seen = s->seen;
        out->last_beat_ms = s->last_beat_ms;
        out->last_tick_ms = s->last_tick_ms;
        out->last_lag_ms = s->last_lag_ms;
        out->armed_ms = s->armed_ms;
        out->busy = s->busy != 0;
        out->leader_changes = s->leader_changes;
        out->fenced = s->fenced;
}

int sched_busy(const struct sched *s)
{
        return s->busy || s->lop_busy;
}

int sched_start(struct server *srv, struct sched **out)
{
        struct sched *s = calloc(1, sizeof(*s));

        if (!s)
                return BATON_ENOMEM;
        s->srv = srv;
        s->node = srv->node_id;
        s->ttl_ms = srv->cfg->leader_ttl_ms;
        s->beat_ms = sched_beat_ms(s->ttl_ms);
        s->role = SCHED_STARTING;
        s->lop.fn = lease_fn;
        s->lop.done = lease_done;
        s->timer = evtimer_new(srv->base, on_timer, s);
        s->beat = evtimer_new(srv->base, on_beat, s);
        if (!s->timer || !s->beat) {
                sched_free(s);
                return BATON_ENOMEM;
        }
        /* The first beat at once: take the lease and, leading, tick. */
        event_active(s->beat, EV_TIMEOUT, 0);
        *out = s;
        return 0;
}

void sched_free(struct sched *s)
{
        if (!s)
                return;
        server_event_drop(&s->timer);
        server_event_drop(&s->beat);
        free(s);
}
