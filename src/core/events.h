/*
 * events.h: the event log (issue 18). Every change a consumer may want to
 * hear of (a job's states, its progress, a cron schedule's outcomes, a
 * timer's firing, a queue's pause and settings) is written as an event in
 * the same transaction as the change, so an event exists exactly when its
 * change committed: an operation that rolls back takes its events with it,
 * and kill -9 after an answer keeps them. GET /v1/events reads the log in
 * id order (JSON pages with long-polls, or Server-Sent Events).
 *
 * Workload: a few events per job on the hot path. Operations do not write
 * them one by one: each appends a note to its transaction (events_note*,
 * in txn_effects like the worker notes, truncated when the operation rolls
 * back), and just before the commit events_flush writes all of the
 * transaction's events in one store call (store_ops.event_insert: one
 * prepared insert per event on SQLite, a multi-row insert that travels
 * with the commit on PostgreSQL). A queue whose settings say
 * "job_events": false writes no per-job events (its queue events stay).
 * Retention (a count and an age bound) is a duty of the leader's tick.
 * Assumptions: these run on the store thread inside a transaction.
 */
#ifndef BATON_CORE_EVENTS_H
#define BATON_CORE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/txn.h"
#include "store/job.h"
#include "store/store.h"

/* The event types (docs/api.md "Events"), in the order of their names. */
enum event_type {
        EVT_JOB_ENQUEUED = 0,
        EVT_JOB_STARTED,
        EVT_JOB_COMPLETED,
        EVT_JOB_RETRYING,
        EVT_JOB_DEAD,
        EVT_JOB_CANCELLED,
        EVT_JOB_PROGRESS,
        EVT_CRON_FIRED,
        EVT_CRON_SKIPPED,
        EVT_CRON_MISSED,
        EVT_CRON_RUN_FAILED,
        EVT_TIMER_FIRED,
        EVT_QUEUE_PAUSED,
        EVT_QUEUE_RESUMED,
        EVT_QUEUE_SETTINGS_CHANGED,
        EVT_COUNT
};

/* All types, as a set (bit 1 << type). */
#define EVENTS_ALL ((1u << EVT_COUNT) - 1)
/* The event readers of a tenant wait as the claims of a queue named "" do
 * (no queue has that name: validate_name refuses it), so a commit that
 * wrote events wakes them locally and on every other node through the "r"
 * notification (txn.h) with no machinery of their own. */
#define EVENTS_WAIT_QUEUE ""
/* Events one transaction may write: PostgreSQL's ids leave 24 bits for the
 * index of an event in its transaction (store.h). An operation past it
 * fails alone (BATON_ELIMIT). */
#define EVENTS_TXN_MAX ((1 << 24) - 1)
/* The longest data object of one event; a longer error text is cut. */
#define EVENTS_ERROR_MAX 1024
/* Patterns one type filter may list. */
#define EVENTS_PATTERNS_MAX 32
/* Rows one read looks at, at most, to fill its page (filters may skip
 * most of them); the page then ends there and its cursor moves past them. */
#define EVENTS_SCAN_MAX 1000
#define EVENTS_READ_SCAN_MAX 20000
/* How often the leader applies the retention bounds: at most once a second,
 * and on a shared store the count bound (a walk of the newest
 * --events-max-count ids on PostgreSQL) at most every ten. */
#define EVENTS_PURGE_EVERY_MS 1000
#define EVENTS_COUNT_EVERY_MS 10000

/* One event noted by an operation, written by events_flush. type indexes
 * the names; kind is a static string; the others are owned by the note. */
struct event_note {
        char *tenant;
        int type;
        const char *kind;
        char *subject;
        char *queue;
        char *data;
};

/* "job.enqueued"...; NULL for a value out of range. */
const char *events_type_name(int type);
/* The type of a name, -1 when there is none. */
int events_type_parse(const char *name);
/* Parses a type filter: comma-separated patterns, each a type name, a
 * category with ".*" ("cron.*") or "*". *mask gets the set of types (bit 1
 * << type). Returns 0, or BATON_EINVAL naming the first bad pattern in bad
 * (bad_n bytes). */
int events_types_parse(const char *csv, uint32_t *mask, char *bad, size_t bad_n);

/* Notes an event of tenant about subject (kind "job", "cron", "timer",
 * "queue"; queue NULL when it has none) with data (a JSON object text;
 * NULL: {}). The strings are copied. */
int events_note(struct txn *tx, const char *tenant, int type, const char *kind, const char *subject,
                const char *queue, const char *data);
/* The per-job events (EVT_JOB_*) of j, with the members each type carries
 * (docs/api.md): nothing when j's queue has them off. extra: JSON members
 * text without braces to add (NULL: none), e.g. "\"reason\":\"parent_failed\"". */
int events_note_job(struct txn *tx, int type, const struct job *j, const char *extra);
/* job.progress of j (a heartbeat reported progress, or step: the step it
 * began, NULL when none). */
int events_note_progress(struct txn *tx, const struct job *j, const char *step);
/* cron.run_failed of the schedule whose run j is (j->cron), which ended
 * dead. */
int events_note_cron_run_failed(struct txn *tx, const struct job *j);
/* cron.fired, cron.skipped or cron.missed of run r (its reason, for the
 * two last) of a schedule whose jobs go to queue. */
int events_note_cron(struct txn *tx, int type, const struct cron_run *r, const char *queue);
/* queue.settings_changed of queue: mask is the set of settings changed
 * (enum queue_setting of core/groups.h, paused left out). */
int events_note_settings(struct txn *tx, const char *tenant, const char *queue, unsigned mask);
/* timer.fired of t, which has just fired (t->job_id, t->fired_at_ms set). */
int events_note_timer(struct txn *tx, const struct timer_rec *t);
/* Writes the transaction's events and drops the notes; exec.c calls it
 * before the commit. */
int events_flush(struct txn *tx);
/* Frees the notes of fx from index from on (txn.c: truncation and reset). */
void events_notes_drop(struct txn_effects *fx, int from);
/* Forgets the job_events setting fx remembers (a rollback, or a change of
 * a queue's settings). */
void events_forget_queue(struct txn_effects *fx);

/* A read of the log (GET /v1/events). */
struct events_query {
        const char *tenant;
        int64_t after;     /* cursor: events with a greater id; 0 = from the oldest */
        uint32_t types;    /* set of enum event_type; EVENTS_ALL = any */
        const char *queue; /* NULL = any */
        int limit;
};

/* A page: the events (a malloc'd array owned by the page), the cursor to
 * read on from (past every event looked at, not only those kept), whether
 * more are readable now (the page is full, or the read stopped at its scan
 * bound) and whether committed events wait for a transaction that began
 * before them to end (PostgreSQL): a read a few ms later finds them. */
struct events_page {
        struct event_rec *v;
        int n;
        int64_t next;
        bool more;
        bool waiting;
};

int events_read(struct txn *tx, const struct events_query *q, struct events_page *out);
void events_page_free(struct events_page *p);

/* The leader's retention (job_tick.c): deletes up to batch events older
 * than --events-max-age-ms or beyond the newest --events-max-count, at
 * most every EVENTS_PURGE_EVERY_MS (the count bound every
 * EVENTS_COUNT_EVERY_MS; the instants are kept in tx); *n_out deleted. */
int events_purge(struct txn *tx, int batch, int *n_out);
/* The next instant events_purge has something to do (0: the log is
 * empty): the oldest event's end of age, or the next count check. */
int events_deadline(struct txn *tx, int64_t *at_ms);

#endif
