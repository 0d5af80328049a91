/*
 * timers.h: durable timers as transaction functions. A timer is a keyed,
 * versioned, scheduled job: PUT sets a key to fire at an instant (creating
 * version 1, or moving it to version + 1), DELETE cancels it, and the leader's
 * tick fires the timers that fell due, each in the same transaction that
 * enqueues its job. The fired job carries {"key", "version", "fire_at"} of the
 * version that fired, so a handler can fence against its own state.
 *
 * Guarantees: each version fires at most once (firing moves the row out of
 * the scheduled state in the transaction that enqueues the job, and every
 * transaction runs on the one store thread); a move or a cancel before the
 * firing means the old version never fires (the row holds only the current
 * version). Workload: a draft service moves one timer per pick, so put is a
 * read and a write of one row; firing reads due rows through a partial index
 * in bounded batches. Functions run on the store thread inside a struct txn
 * and return 0 or a negative enum baton_err, as jobs.h's do.
 *
 * Ownership: a struct timer_rec filled here is owned by the caller
 * (timer_rec_free), left empty on error; arrays are freed with
 * timer_recs_free.
 */
#ifndef BATON_CORE_TIMERS_H
#define BATON_CORE_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/txn.h"

/* Due timers fired per tick; a fuller tick sets tick_res.more. */
#define TIMER_FIRE_BATCH 1000
/* A timer due while its queue is at max_depth is deferred: tried again after
 * TIMER_DEFER_MIN_MS, doubling per deferral up to TIMER_DEFER_MAX_MS. */
#define TIMER_DEFER_MIN_MS 100
#define TIMER_DEFER_MAX_MS 5000

enum timer_state {
        TIMER_SCHEDULED = 0,
        TIMER_FIRED = 1,
        TIMER_CANCELLED = 2,
        TIMER_STATE_COUNT = 3
};

struct timer_put_req {
        /* tenant, key, queue, type, payload (JSON text), priority, max_attempts,
         * backoff, lease_ms and request_id are taken from t; fire_at_ms 0 means
         * "now + delay_ms". The request owns t's strings. */
        struct timer_rec t;
        int64_t delay_ms;
        bool has_if_version;
        int64_t if_version; /* 0: the timer must not exist yet */
        /* The timer must exist with its current version still scheduled (not
         * fired, not cancelled): a move that must not come after the fire,
         * such as a user's pick before the pick clock runs out. */
        bool if_scheduled;
};

struct timer_res {
        struct timer_rec t; /* the timer as it is after the call */
        bool created;       /* version 1 of a new key */
        int64_t
            current_version; /* on BATON_ECONFLICT and BATON_ESTATE: the version the timer has */
        int current_state;   /* on BATON_ESTATE from timer_put: its state */
};

const char *timer_state_name(int state);

/* Creates the timer (version 1) or moves it (version + 1, state scheduled, new
 * template and fire time), whatever its state. A fire_at in the past fires at
 * once (fire_at becomes now). BATON_ECONFLICT: if_version differs from the
 * timer's version, or is 0 for an existing timer (res->current_version holds
 * it; 409 version_mismatch). BATON_ENOTFOUND: if_version >= 1 for a timer that
 * does not exist (404). BATON_ERANGE: fire_at further than delay_max_ms ahead
 * (400 delay_ms_out_of_range). */
int timer_put(struct txn *tx, struct timer_put_req *req, struct timer_res *res);
/* Cancels the scheduled version. if_version < 0: any version. A cancelled
 * timer answers as it is (a repeat changes nothing). BATON_ENOTFOUND (404),
 * BATON_ECONFLICT: version mismatch (res->current_version), BATON_ESTATE: the
 * version already fired (409 invalid_state; res->t.version is then the
 * fired version, its strings freed). */
int timer_cancel(struct txn *tx, const char *tenant, const char *key, int64_t if_version,
                 struct timer_res *res);
/* BATON_ENOTFOUND (404). */
int timer_read(struct txn *tx, const char *tenant, const char *key, struct timer_rec *out);
/* Timers of tenant whose key starts with prefix (NULL = any), keys > after
 * (NULL = from the start), in key order. BATON_EINVAL: limit < 1. */
/* Rows read per store call by timer_query_page. */
#define TIMER_QUERY_CHUNK 64
/* Fixed part of timer_wire_bytes (member names, numbers, times). */
#define TIMER_WIRE_FIXED_BYTES 1024
/* An estimate of the bytes of t's object in an answer. */
size_t timer_wire_bytes(const struct timer_rec *t);
/* For timer_query_page: moves page's rows into v while the budget lasts. */
void timer_page_take(struct timer_rec *v, int *n, struct timer_rec *page, int pn, size_t bytes_max,
                     size_t *used, bool *cut);
/* timer_query under a byte budget (bytes_max, 0 = none): reads
 * TIMER_QUERY_CHUNK rows at a time and stops after the row whose
 * timer_wire_bytes take the total past bytes_max (*cut then), so a list of
 * big timers is never read whole. */
int timer_query_page(struct txn *tx, const char *tenant, const char *prefix, const char *after,
                     int limit, size_t bytes_max, struct timer_rec **out, int *n_out, bool *cut);
int timer_query(struct txn *tx, const char *tenant, const char *prefix, const char *after,
                int limit, struct timer_rec **out, int *n_out);
/* Fires up to max scheduled timers with due_at <= tx->now_ms, earliest
 * first: each becomes fired and enqueues its job, ready at once. A timer whose
 * queue is at its max_depth is not fired: it stays scheduled at its version,
 * its deferred count grows and due_at moves timer_defer_ms later (the queue
 * gets no job). *fired is the number fired; *more is set when the batch was
 * full. */
int timer_fire_due(struct txn *tx, int max, int *fired, bool *more);
/* Lowers *next_ms (0 = nothing due) to the earliest scheduled due_at. */
int timer_next_deadline(struct txn *tx, int64_t *next_ms);
/* The backoff of a timer deferred `deferred` times before. */
int64_t timer_defer_ms(int deferred);

#endif
