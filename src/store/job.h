/*
 * job.h: the job record shared by store, core and the HTTP layer, and the small
 * enums that go with it. A struct job owns every string it points to; job_free
 * releases them. Times are Unix milliseconds (wall clock); 0 means "not set".
 * JSON-valued fields (payload, result, progress, attempts, steps) hold JSON text
 * exactly as stored: the store treats them as opaque strings.
 */
#ifndef BATON_STORE_JOB_H
#define BATON_STORE_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/job_state.h"

enum job_priority {
        PRIO_CRITICAL = 0,
        PRIO_HIGH = 1,
        PRIO_NORMAL = 2,
        PRIO_LOW = 3,
        PRIO_COUNT = 4
};

enum backoff_type {
        BACKOFF_EXPONENTIAL = 0,
        BACKOFF_FIXED = 1,
        BACKOFF_IMMEDIATE = 2,
        BACKOFF_NONE = 3
};

/* What the holder of the job's current lease token has done with it. */
enum lease_settled {
        SETTLED_NONE = 0,
        SETTLED_COMPLETE = 1,
        SETTLED_FAIL = 2,
        SETTLED_EXPIRED = 3, /* the lease ran out; the attempt failed with lease_expired */
        SETTLED_TIMEOUT = 4  /* timeout_ms passed; the attempt failed with timeout */
};

struct backoff {
        int type;        /* enum backoff_type */
        int64_t base_ms; /* first delay (exponential), the delay (fixed) */
        int64_t max_ms;  /* cap on any delay */
};

struct job {
        int64_t id;
        char *tenant;
        char *queue;
        char *type;
        char *payload; /* JSON text, never NULL once stored */
        int priority;  /* enum job_priority */
        int state;     /* enum job_state */
        int64_t run_at_ms;
        int attempt; /* attempts started so far */
        int max_attempts;
        struct backoff backoff;
        int64_t lease_ms; /* lease length for each claim */
        /* Longest an attempt may run from its claim, heartbeats or not; 0 =
         * no limit. A claim and every heartbeat cap lease_until at
         * started_at + timeout_ms, so the lease sweep ends the attempt. */
        int64_t timeout_ms;
        char *idempotency_key;
        char *key; /* dedup key: one pending job per tenant, queue and key */
        /* Enqueued with unique_while "active": no other such job with the key
         * while this one is not ended (a unique index of both stores). */
        bool unique_active;
        char *request_id;
        char *execution_id;
        char *traceparent;
        char *lease; /* current (or last settled) lease token; NULL before the first claim */
        int64_t lease_until_ms;
        char *worker;
        int settled; /* enum lease_settled, for the token in lease */
        bool cancel_requested;
        int64_t version; /* bumped on every replace of a keyed job */
        int64_t created_at_ms;
        int64_t started_at_ms; /* start of the latest attempt */
        int64_t finished_at_ms;
        int64_t ready_at_ms; /* when it last became ready (enqueue-to-claim wait) */
        char *result;        /* JSON text or NULL */
        char *last_error;    /* plain text or NULL */
        char *progress;      /* JSON object text or NULL */
        char *attempts;      /* JSON array text: [{attempt, worker, started_at, ...}] */
        char *steps;         /* JSON array text: [{step, started_at, finished_at}] */
        char *cancel_reason;
        /* Timers (core/timers.h): JSON object text {"key", "version", "fire_at"}
         * of the timer version whose firing created this job, or NULL. */
        char *timer;
        /* Dependencies (core/deps.h): JSON array text of the parent ids as
         * strings (["12","13"]) or NULL; on_parent_failure is enum
         * parent_policy. flow_id and ref name the flow that created the job
         * (0 / NULL when none). */
        char *depends_on;
        int on_parent_failure;
        int64_t flow_id;
        char *ref;
        /* Groups (core/groups.h): the job's group within its queue, or NULL. */
        char *group;
        /* Cron (core/cron.h): JSON object text {"key", "run"} of the cron run
         * that enqueued this job (run: the run's id), or NULL. become_terminal
         * counts a run's final status by it without a lookup. */
        char *cron;
        /* Not stored: filled by a claim of a job with parents, JSON array text
         * [{"id", "result"}]. */
        char *parents;
};

/* A growable array of jobs; owns the jobs and their strings. */
struct job_vec {
        struct job *v;
        int n;
        int cap;
};

/* Fixed part of job_wire_bytes: the member names, numbers, times and
 * punctuation of a job object, whatever its strings hold (an upper bound). */
#define JOB_WIRE_FIXED_BYTES 2048
/* An upper bound of the bytes of j's JSON object in an answer (docs/api.md's
 * job object, lease included): the fixed part, each stored JSON text as it
 * is and each string with its escapes. Answers and store reads compare it
 * with the --max-response-bytes budget. */
size_t job_wire_bytes(const struct job *j);
/* The bytes of s (NULL: null) as an escaped JSON string. */
size_t job_wire_str_bytes(const char *s);
void job_free(struct job *j);
/* Deep copy; dst must be uninitialised or freed. Caller owns dst's strings. */
int job_copy(struct job *dst, const struct job *src);
void job_vec_free(struct job_vec *jv);
/* Appends a zeroed job and returns it (owned by jv), or NULL on ENOMEM. */
struct job *job_vec_push(struct job_vec *jv);
/* Merges k pages of one list, each in id order (descending with desc), into
 * out: at most limit jobs, stopping after the one that takes their bytes past
 * bytes_max (0: no budget), as one read of the union would. Each page must
 * have been read with the same limit and budget, so it holds every row of the
 * merged page that is its own and the merge is exact. The jobs taken move
 * to out (their slots in pages are left zeroed); pages still own the rest. */
int job_pages_merge(struct job_vec *pages, int k, int limit, bool desc, size_t bytes_max,
                    struct job_vec *out);

const char *job_priority_name(int prio);
int job_priority_parse(const char *s);
const char *backoff_type_name(int type);
int backoff_type_parse(const char *s);

/* Replaces *dst with a copy of src (NULL allowed). Returns BATON_ENOMEM on failure. */
int str_set(char **dst, const char *src);

#endif
