/*
 * txn.h: the context a core operation runs in. The store thread (exec.c) opens
 * one transaction per batch and hands every operation a struct txn with the
 * store, the clock reading for the batch and a set of effects. Effects are what
 * the loop thread must do after the commit: wake claim waiters of queues that
 * gained ready jobs, wake waiters of jobs that became terminal, and re-arm the
 * next-deadline timer. They are hints: a spurious wake-up is harmless, a missed
 * one is a bug.
 */
#ifndef BATON_CORE_TXN_H
#define BATON_CORE_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"
#include "core/limits.h"
#include "store/store.h"

/* Job events counted per queue for metrics (enqueued_total and friends). */
enum txn_event {
        EV_ENQUEUED = 0,
        EV_CLAIMED = 1,
        EV_COMPLETED = 2,
        EV_RETRIED = 3, /* a failed attempt that will run again */
        EV_DEAD = 4,
        EV_CANCELLED = 5,
        EV_EXPIRED = 6, /* a lease that ran out */
        EV_COUNT = 7
};

/* Durations observed inside a transaction, for the metrics histograms. */
enum txn_obs {
        OBS_WAIT = 0,       /* enqueue-to-claim: claim time minus ready_at */
        OBS_RUN = 1,        /* claim-to-settle: settle time minus started_at */
        OBS_TIMER_LATE = 2, /* timer lateness: enqueue of its job minus fire_at (timers.h) */
        OBS_COUNT = 3
};

/* Final statuses of cron runs, counted once each (core/cron.h): a run's
 * job became completed, dead or cancelled, or the run was recorded skipped. */
enum txn_cron_run {
        CRUN_COMPLETED = 0,
        CRUN_DEAD = 1,
        CRUN_CANCELLED = 2,
        CRUN_SKIPPED = 3,
        CRUN_COUNT = 4
};

/* One counted event; entries are appended, not merged, so the entries of an
 * op that rolls back can be dropped by truncation (txn_effects_truncate). */
struct txn_count {
        struct qref q;
        int ev; /* enum txn_event */
        int64_t n;
};

/* Lengths of the count and sample logs at an op's start. */
struct txn_mark {
        int counts_n;
        int samples_n;
        int workers_n;
        int events_n;
        int64_t cron_runs[CRUN_COUNT];
};

struct txn_sample {
        int kind; /* enum txn_obs */
        int64_t ms;
};

struct txn_effects {
        struct txn_count *counts; /* event log, in order */
        int counts_n;
        int counts_cap;
        struct txn_sample *samples;
        int samples_n;
        int samples_cap;
        struct qref *ready; /* queues that gained ready jobs (deduplicated) */
        int ready_n;
        int ready_cap;
        int64_t *terminal; /* ids of jobs that became terminal */
        int terminal_n;
        int terminal_cap;
        int64_t deadline_ms; /* earliest new deadline; 0 = none */
        /* The event log's retention wants a leader tick by then (0 = no):
         * armed and notified like deadline_ms, but kept apart from it, which
         * is the deadlines of the data written (core/events.h). */
        int64_t retain_ms;
        char **keys; /* ids of API keys created or changed (other nodes reload them) */
        int keys_n;
        int keys_cap;
        /* Cron runs that reached their final status (enum txn_cron_run). */
        int64_t cron_runs[CRUN_COUNT];
        /* What the operations learnt of workers (core/workers.h), appended
         * like counts and written by worker_flush before the commit. */
        struct worker_note *workers;
        int workers_n;
        int workers_cap;
        /* The events the operations noted (core/events.h), appended like
         * counts and written by events_flush before the commit, which
         * counts them in events_written. */
        struct event_note *events;
        int events_n;
        int events_cap;
        int64_t events_written;
        /* The job_events setting of the queue last asked (events.c), so that
         * the events of a batch of one queue's jobs read it once; NULL when
         * none is known. Forgotten when an op rolls back or changes it. */
        char *evq_tenant;
        char *evq_queue;
        bool evq_on;
};

struct tz_cache;
struct rand_pool;
struct cron_cache;
struct deps_work;
struct worker_cache;
struct event_note;

struct txn {
        struct store *st;
        const struct store_ops *ops;
        const struct clock *clock;
        const struct limits *limits;
        int64_t now_ms;     /* one wall-clock reading per batch */
        const char *origin; /* node id for notifications; NULL = "-" */
        struct txn_effects fx;
        /* Time zones loaded on this thread (common/tz.h), kept across batches
         * by the store thread that owns them; NULL: load each time. */
        struct tz_cache *tzc;
        /* Cron definitions parsed on this thread (core/cron.h); NULL: parse
         * at each fire. */
        struct cron_cache *crc;
        /* The dependency cascade (core/deps.h): the work list being drained
         * (NULL outside one) and the steps this transaction has taken, at
         * most DEPS_CASCADE_STEP. Both are zero when a transaction begins. */
        struct deps_work *deps_work;
        int deps_steps;
        /* The worker registry's writes kept by this thread (core/workers.h),
         * so claims and heartbeats write a worker's row at most once per
         * second; NULL: write every time. */
        struct worker_cache *wkc;
        /* The wall clock's offset from the monotonic one (clock_offset_ms)
         * at the store thread's last committed batch, for jobs_clock_watch;
         * clock_known is false before the first. */
        int64_t clock_offset_ms;
        bool clock_known;
        /* The store thread's lease tokens (common/rand.h); NULL: one
         * RAND_bytes call per token. */
        struct rand_pool *rnd;
        /* The --stats-sample-ms slot this thread last sampled the gauges in
         * (core/stats.h); 0: none yet. */
        int64_t stats_slot_ms;
        /* When this store thread last applied the event log's retention,
         * and its count bound (core/events.h); 0 = never. */
        int64_t events_purged_ms;
        int64_t events_counted_ms;
        int64_t events_noted_ms; /* last retention deadline events_flush noted */
};

int txn_note_ready(struct txn *tx, const char *tenant, const char *queue);
int txn_note_terminal(struct txn *tx, int64_t job_id);
/* Counts n events of kind ev (enum txn_event) on a queue. */
int txn_note_event(struct txn *tx, const char *tenant, const char *queue, int ev, int64_t n);
/* Records one duration sample (enum txn_obs); negative values are ignored. */
int txn_note_sample(struct txn *tx, int kind, int64_t ms);
void txn_note_deadline(struct txn *tx, int64_t at_ms);
/* Counts one cron run that reached its final status (enum txn_cron_run). */
void txn_note_cron_run(struct txn *tx, int status);
/* Records that API key id was created or changed, so every node reloads it. */
int txn_note_key(struct txn *tx, const char *id);

/* Notifications between nodes sharing a store (store_ops.notify), one line
 * of tab-separated fields each, the second the sending node (tx->origin):
 *   "r\t<node>\t<tenant>\t<queue>"  the queue gained ready jobs (wake its claims)
 *   "t\t<node>\t<id>,<id>,..."       these jobs became terminal (wake job waiters)
 *   "d\t<node>\t<unix ms>"           a new deadline (the leader arms its timer)
 *   "k\t<node>\t<key id>"            an API key was created or changed (reload it)
 * txn_notify sends the notes of tx's effects, before its commit (a shared
 * store delivers them at commit); a no-op on a store only one process uses. */
#define TXN_NOTE_MAX 7000
int txn_notify(struct txn *tx);
void txn_effects_reset(struct txn_effects *fx);
struct txn_mark txn_effects_mark(const struct txn_effects *fx);
/* Drops the counts, samples, worker and event notes and cron run counts recorded after mark (an op
 * rolled back). Ready and terminal hints are kept: a spurious wake-up is
 * harmless. */
void txn_effects_truncate(struct txn_effects *fx, struct txn_mark mark);
void txn_effects_free(struct txn_effects *fx);

#endif
