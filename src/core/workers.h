/*
 * workers.h: the worker registry (DESIGN §3). A worker names itself on every
 * claim (`worker`, plus optional info: host, pid, version, labels); the
 * registry keeps, per tenant and worker id, its info, the queues it claimed
 * from, when it was first and last seen, its lease period and the counts of
 * its settles. What it holds now (in_flight) is read from the jobs it leases,
 * never stored twice, and its health is judged at read time.
 *
 * Workload: claims, heartbeats and settles are the hot path, so they do not
 * write the registry one by one: each operation appends a note to its
 * transaction (worker_note_*), and just before the commit worker_flush
 * merges the notes per worker and queue and writes each once, in (tenant,
 * id) order. A note that only says "seen" (a claim from a queue already
 * recorded, with the same info, or a heartbeat) is skipped when this store
 * thread wrote that worker and queue less than WORKER_SEEN_EVERY_MS ago, so
 * a worker that claims a thousand times a second costs one registry write
 * per second; settles change the counts and are written with their
 * transaction (one write per worker and batch). last_seen is therefore
 * exact to WORKER_SEEN_EVERY_MS. Assumptions: these run on the store thread
 * inside a transaction (struct txn).
 */
#ifndef BATON_CORE_WORKERS_H
#define BATON_CORE_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/txn.h"
#include "store/job.h"
#include "store/store.h"

/* A "seen" note is written at most this often per worker and queue (per
 * node). */
#define WORKER_SEEN_EVERY_MS 1000
/* in_flight lists at most this many job ids (in_flight_more says there are
 * more). */
#define WORKER_IN_FLIGHT_MAX 1000
/* The bounds of a claim's info (docs/api.md "Workers"). */
#define WORKER_HOST_MAX 255
#define WORKER_VERSION_MAX 128
#define WORKER_PID_MAX 2147483647LL
#define WORKER_LABELS_MAX 32
#define WORKER_LABEL_KEY_MAX 64
#define WORKER_LABEL_VALUE_MAX 256
#define WORKER_INFO_MAX_BYTES 4096

enum worker_health { WORKER_HEALTHY = 0, WORKER_STALE = 1, WORKER_LOST = 2 };

/* "healthy", "stale" or "lost". */
const char *worker_health_name(int health);

/* A worker as the registry routes answer it. */
struct worker_view {
        struct worker_rec rec;
        int64_t *in_flight; /* malloc'd: ids of the jobs it holds leases on now */
        int n_in_flight;
        bool in_flight_more; /* it holds more than WORKER_IN_FLIGHT_MAX */
        /* The lease period its health is judged by: the lease last granted
         * to it (by a claim, at least that claim's wait_ms, or by a
         * heartbeat); without one the longest lease_ms of the jobs it holds,
         * else --lease-default-ms. */
        int64_t period_ms;
        int health; /* enum worker_health */
};

void worker_view_free(struct worker_view *v);
/* Frees n views and the array. */
void worker_views_free(struct worker_view *v, int n);

/* A claim by worker id of tenant from queue, with info (JSON object text,
 * NULL: none given) and the lease period it asked for (period_ms > 0). The
 * strings are copied. */
int worker_note_claim(struct txn *tx, const char *tenant, const char *id, const char *info,
                      const char *queue, int64_t period_ms);
/* A heartbeat (settled SETTLED_NONE, period_ms the lease it granted) or a
 * settle (SETTLED_COMPLETE, SETTLED_FAIL; period_ms 0) of job j by the
 * worker that holds it (j->worker; nothing when it has none). */
int worker_note_job(struct txn *tx, const struct job *j, int settled, int64_t period_ms);
/* Writes the transaction's notes (see above) and drops them; exec.c calls it
 * before the commit. */
int worker_flush(struct txn *tx);
/* Frees the notes of fx from index from on (txn.c: truncation and reset). */
void worker_notes_drop(struct txn_effects *fx, int from);

/* Reads worker id of tenant with its in_flight and health as of tx->now_ms;
 * BATON_ENOTFOUND. The caller owns *out (worker_view_free). */
int worker_read(struct txn *tx, const char *tenant, const char *id, struct worker_view *out);
/* Up to limit workers of tenant with ids > after (NULL: from the start), in
 * id order; *out is owned by the caller (worker_views_free). */
int worker_query(struct txn *tx, const char *tenant, const char *after, int limit,
                 struct worker_view **out, int *n_out);

/* The store thread's record of its recent registry writes (a fixed table; a
 * collision only costs a write). */
struct worker_cache;
int worker_cache_new(struct worker_cache **out);
void worker_cache_free(struct worker_cache *c);
/* Forgets every write (a batch whose commit failed wrote nothing). */
void worker_cache_clear(struct worker_cache *c);

#endif
