/*
 * waiters.h: requests parked until something changes: claims long-polling a
 * queue (woken when a commit makes a job of that queue ready) and job reads
 * with wait_ms (woken when the job becomes terminal). There is no polling
 * loop: the exec's effects hook calls waiters_wake_queue / waiters_wake_job
 * after each commit, and each waiter has its own timeout event.
 *
 * Workload: up to connections_max waiters, a handful per queue. Waiters of one
 * queue are kept in FIFO order so the longest-waiting claim is served first.
 * Loop thread only. The struct waiter is owned by the caller (embedded in its
 * request struct); the module only links it and owns its timer event.
 */
#ifndef BATON_SERVER_WAITERS_H
#define BATON_SERVER_WAITERS_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct event;
struct waiters;
struct waiter;

/* Why a waiter's callback runs. */
enum waiter_why {
        WAKE_CHANGED = 0,  /* the queue gained ready jobs / the job became terminal */
        WAKE_TIMEOUT = 1,  /* its time is up */
        WAKE_SHUTDOWN = 2, /* the server is stopping: answer now */
        WAKE_CLOSED = 3    /* the client went away: free, do not answer */
};

struct waiter {
        /* Called once per park, on the loop thread, after the waiter has been
         * unlinked; the callback may park it again. */
        void (*wake)(struct waiter *w, int why);
        void *arg;
        /* Private to waiters.c. */
        struct waiters *owner;
        struct event *timer;
        char *tenant; /* queue waiters */
        char *queue;
        int64_t job_id; /* job waiters */
        struct waiter *prev;
        struct waiter *next;
        bool parked;
};

/* *out owned by the caller, released with waiters_free (which wakes every
 * parked waiter with WAKE_SHUTDOWN first). */
int waiters_new(struct event_base *base, struct waiters **out);
void waiters_free(struct waiters *ws);

/* Parks w until a job of (tenant, queue) becomes ready or timeout_ms passes. */
int waiter_park_queue(struct waiters *ws, struct waiter *w, const char *tenant, const char *queue,
                      int64_t timeout_ms);
/* Parks w until job id becomes terminal or timeout_ms passes. */
int waiter_park_job(struct waiters *ws, struct waiter *w, int64_t job_id, int64_t timeout_ms);
/* Unlinks w without calling it (no-op if not parked). */
void waiter_cancel(struct waiter *w);
/* Wakes with why the waiter (unlinks it first). No-op if not parked. */
void waiter_wake(struct waiter *w, int why);

void waiters_wake_queue(struct waiters *ws, const char *tenant, const char *queue);
/* Unlinks up to max waiters of (tenant, queue), the longest-waiting first,
 * into out without calling them; returns how many. Each is then woken with
 * waiter_fire, before control returns to the loop. */
int waiters_take_queue(struct waiters *ws, const char *tenant, const char *queue,
                       struct waiter **out, int max);
/* Calls the callback of a waiter taken by waiters_take_queue. */
void waiter_fire(struct waiter *w, int why);
void waiters_wake_job(struct waiters *ws, int64_t job_id);
/* Wakes every parked waiter with WAKE_SHUTDOWN. */
void waiters_wake_all(struct waiters *ws);
/* Wakes every parked waiter once with WAKE_CHANGED, so each reads its queue or
 * job again (after notifications from other nodes may have been missed). */
void waiters_recheck_all(struct waiters *ws);
/* Parked waiters, for metrics. */
int waiters_count(const struct waiters *ws);

#endif
