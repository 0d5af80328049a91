/*
 * jobs.h: job semantics as transaction functions. Each runs on the store thread
 * inside a struct txn (see exec.h), reads and writes through store_ops, and
 * records its effects (ready queues, terminal jobs, deadlines, counted events
 * and duration samples for metrics). None of them knows about HTTP. Inputs are
 * assumed already validated (validate.h); the functions still refuse states
 * that make an operation meaningless.
 *
 * Errors: every function returns 0 or a negative enum baton_err, and on an
 * error the op's writes must be rolled back (exec.c does so). Any function may
 * also return BATON_ENOMEM or BATON_ESTORE (the store failed); the codes
 * particular to each are listed at its declaration.
 *
 * Ownership: every struct job / job_vec filled here is owned by the caller,
 * who frees it with job_free / job_vec_free. On an
 * error it is left empty (freeing it again is harmless), so a caller may free
 * it unconditionally. A job_vec passed to job_claim or job_query must be empty
 * (zeroed) on entry.
 */
#ifndef BATON_CORE_JOBS_H
#define BATON_CORE_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/job.h"
#include "core/txn.h"

#define PAYLOAD_HASH_LEN 64

struct enqueue_req {
        /* tenant, queue, type, payload (JSON text), priority, max_attempts, backoff,
         * lease_ms, idempotency_key, key, request_id, execution_id, traceparent are
         * taken from job; run_at_ms 0 means "now + delay_ms". The request owns job's
         * strings. */
        struct job job;
        int64_t delay_ms;
        bool on_key_replace;
        char payload_hash[PAYLOAD_HASH_LEN + 1]; /* hex SHA-256 of canonical payload */
        /* Parent job ids (core/deps.h), at most DEPS_MAX, no repeats; the
         * request owns the array. job.on_parent_failure is the policy. */
        int64_t *depends_on;
        int n_depends_on;
        /* Queue limits (core/groups.h): check_depth refuses the job when the
         * queue is at max_depth (API enqueues and flows; timer and cron fires
         * too, which then defer the timer or skip the tick). dflt_*: the request did not give that
         * field, so the queue's default (if any) replaces the server default in job. */
        bool check_depth;
        /* check_queues: a new queue counts against --max-queues (enqueues
         * and flows over HTTP; a timer or cron fire's queue was made when
         * the timer or schedule was set, and a leader duty never fails on
         * it). queue_known is set by groups_on_enqueue: the queue exists. */
        bool check_queues;
        bool queue_known;
        bool dflt_max_attempts;
        bool dflt_backoff;
        bool dflt_lease;
        bool dflt_timeout;
};

struct enqueue_res {
        struct job job;
        bool duplicate; /* an idempotent repeat or a key clash under on_key keep */
        bool replaced;  /* a key clash under on_key replace moved the pending job */
        int bad_dep;    /* BATON_EINVAL: the depends_on entry refused, else -1 */
        /* BATON_ECONFLICT under unique_while "active" (job.unique_active):
         * the id of a job with the key that has not ended, else 0. */
        int64_t held_id;
};

/* The byte budget of a claim's answer (--max-response-bytes): jobs are
 * counted at job_wire_bytes as they are leased; the first job that would
 * take the total past max_bytes is not leased (it stays queued) and ends the
 * claim, unless it is the first one, so a claim always makes progress. The
 * caller zeroes used_bytes and full before each run of the claim. */
struct claim_budget {
        size_t max_bytes;
        size_t used_bytes;
        bool full; /* a job was left queued because it did not fit */
};

struct claim_req {
        const char *tenant;
        const char *queue;
        const char *worker;
        int max;
        int64_t lease_ms; /* 0 = each job's own lease_ms */
        /* Out, may be NULL: when the claim leased nothing because a rate
         * window is full, the instant it rolls; 0 otherwise. */
        int64_t *retry_at_ms;
        struct claim_budget *budget; /* NULL = no byte budget */
};

/* True when req's byte budget has stopped the claim. */
bool job_claim_full(const struct claim_req *req);
/* Counts j in b (NULL = no budget); false, with b marked full, when it does
 * not fit. first: the claim's first job, which always fits. */
bool job_budget_take(struct claim_budget *b, const struct job *j, bool first);

struct heartbeat_req {
        const char *tenant;
        int64_t id;
        const char *lease;
        int64_t extend_ms;    /* 0 = the job's lease_ms */
        const char *progress; /* JSON object text {percent, step, message} or NULL */
        const char *step;     /* progress.step, or NULL */
};

struct settle_req {
        const char *tenant;
        int64_t id;
        const char *lease;
        int outcome;         /* SETTLED_COMPLETE or SETTLED_FAIL */
        const char *result;  /* JSON text or NULL (complete) */
        const char *error;   /* plain text or NULL (fail) */
        bool retryable;      /* fail: false sends the job straight to dead */
        int64_t retry_in_ms; /* fail: < 0 uses the backoff policy */
};

struct settle_res {
        struct job job;
        bool repeat; /* the same settle was already applied; nothing changed */
};

struct tick_res {
        int promoted;     /* scheduled/retrying jobs made ready */
        int expired;      /* leases that expired */
        int purged;       /* rows removed by retention */
        bool more;        /* a batch limit was hit: run again soon */
        int64_t next_ms;  /* next instant something is due; 0 = nothing */
        int timers_fired; /* due timers fired (core/timers.h) */
        int cascaded;     /* rows of the cascade work list taken up (core/deps.h) */
};

/* Creates a job, or answers a repeat: res->duplicate for an idempotency key
 * seen within its TTL with the same payload hash, or for a dedup key held by a
 * pending job under on_key keep; res->replaced when on_key replace moved that
 * pending job (its version increases). Moves req->job's strings into res->job.
 * BATON_EIDEM: the idempotency key was seen with another payload hash (409
 * idempotency_conflict). BATON_ECONFLICT with res->held_id: req->job asks for
 * unique_while "active" and a job with its key has not ended (409
 * already_running; nothing is written). A job's timeout_ms bounds each
 * attempt from its claim: the lease sweep fails the attempt with "timeout"
 * and the token then answers BATON_ELEASE. BATON_ERANGE: run_at is more than delay_max_ms ahead
 * of tx->now_ms (400 delay_ms_out_of_range). BATON_EBUSY: req->check_depth
 * and the queue is at its max_depth (503 queue_full). With depends_on the new job is
 * pending until its parents allow it to run (core/deps.h); BATON_EINVAL with
 * res->bad_dep: that parent is not a job of the tenant (400). */
int job_enqueue(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res);
/* Leases up to req->max queued jobs of the queue within its limits, in fair
 * order across groups (core/groups.h), by (priority, run_at, id) inside a
 * group; none from a paused or unknown queue (0 with out empty).
 * BATON_EINVAL: req->max < 1. */
int job_claim(struct txn *tx, const struct claim_req *req, struct job_vec *out);
/* Leases the queued job id to req's worker and appends it to out; for
 * groups.c, which chooses the jobs. When req's budget has no room for it, it
 * leaves the job as it is, appends nothing, sets the budget full and returns
 * 0 (groups.c stops at job_claim_full). */
int job_lease(struct txn *tx, const struct claim_req *req, int64_t id, struct job_vec *out);
/* Extends the lease and stores progress; out->cancel_requested tells the
 * worker to stop. BATON_ENOTFOUND: no such job in the tenant (404).
 * BATON_ELEASE: lease is not the job's current token (409 lease_mismatch).
 * BATON_EEXPIRED: the lease has run out, whether or not the reaper has failed
 * the attempt yet (409 lease_expired). BATON_ECONFLICT: the attempt was
 * already settled with this token (409 already_settled). */
int job_heartbeat(struct txn *tx, const struct heartbeat_req *req, struct job *out);
/* Completes or fails the attempt holding req->lease. A settle repeated with
 * the same token and outcome succeeds with res->repeat set and changes
 * nothing (200 "repeat": true). BATON_ENOTFOUND (404), BATON_ELEASE (409
 * lease_mismatch), BATON_EEXPIRED (409 lease_expired: the lease ran out,
 * including a settle that arrives after expiry), BATON_ECONFLICT: the token
 * was settled with the other outcome (409 already_settled). */
int job_settle(struct txn *tx, const struct settle_req *req, struct settle_res *res);
/* Cancels a pending, scheduled, queued or retrying job at once; a running one
 * gets cancel_requested and ends cancelled when its attempt fails or expires
 * (a complete still completes it). BATON_ENOTFOUND (404), BATON_ESTATE: the
 * job is already terminal (409 invalid_state; out->id and out->state are
 * then the job's, for the message, and its strings are freed). */
int job_cancel(struct txn *tx, const char *tenant, int64_t id, struct job *out);
/* Makes a dead or cancelled job queued again with attempt 0. BATON_ENOTFOUND
 * (404), BATON_ESTATE: any other state (409 invalid_state; out->id and
 * out->state as for job_cancel), BATON_ECONFLICT:
 * the job's dedup key is held by another pending job (409). */
int job_retry(struct txn *tx, const char *tenant, int64_t id, struct job *out);
/* BATON_ENOTFOUND (404). */
int job_read(struct txn *tx, const char *tenant, int64_t id, struct job *out);
/* Jobs matching f in ascending id order (f->desc: descending), at most
 * f->limit and within f->bytes_max as job_list reads them. f->states (more
 * than one state) is read one state at a time and merged (jobs_find.c).
 * BATON_EINVAL: no tenant or limit < 1. */
int job_query(struct txn *tx, const struct job_filter *f, struct job_vec *out);

/* ---- bulk actions by filter (POST /v1/jobs/bulk, jobs_find.c) ---- */

enum bulk_action { BULK_RETRY, BULK_CANCEL, BULK_PROMOTE, BULK_PURGE, BULK_ACTION_COUNT };

#define BULK_LIMIT_MAX 1000

/* f: the filter (its limit the number of jobs to act on, 1..BULK_LIMIT_MAX;
 * its bytes_max the budget of the rows read at once, 0 = none). */
struct bulk_req {
        int action; /* enum bulk_action */
        struct job_filter f;
};

struct bulk_res {
        int matched;  /* jobs the filter matched on this page */
        int changed;  /* of them, those the action applied to */
        int64_t next; /* the cursor of the next page (after), 0 = none */
};

/* Applies req->action to the jobs matching req->f, in the filter's order, each
 * exactly as its single-job function does (job_retry, job_cancel,
 * jobs_promote_one, jobs_purge_one). A job the action does not apply to (its
 * state, or a dedup key another job holds) counts in matched, not changed.
 * Any other error fails the whole operation. */
int job_bulk(struct txn *tx, const struct bulk_req *req, struct bulk_res *res);
const char *bulk_action_name(int action);
int bulk_action_parse(const char *s); /* -1 if unknown */

/* Replays dead jobs of a queue: the given ids (n > 0) or, with all, every one
 * up to limits->replay_max. *count is the number made ready again; ids that
 * are not dead jobs of this queue, or whose dedup key another pending job
 * holds, are skipped and not counted. */
int dead_replay(struct txn *tx, const char *tenant, const char *queue, const int64_t *ids, int n,
                bool all, int *count);
/* Deletes up to limits->replay_max dead jobs of the queue; *count deleted. */
int dead_purge(struct txn *tx, const char *tenant, const char *queue, int *count);

/* Leader duties due at tx->now_ms: fire due timers (TIMER_FIRE_BATCH at
 * most), promote due jobs, expire leases (each failing its attempt with
 * lease_expired), purge retention in batches of limits->purge_batch; then
 * compute the next deadline (timers' fire_at included). */
int job_tick(struct txn *tx, struct tick_res *out);

/* The steps of job_tick (job_tick.c) on one job, in jobs.c beside the state
 * changes they make. jobs_promote_due: a scheduled or retrying job whose
 * run_at has come becomes ready; jobs_expire_due: a running job whose lease
 * has run out fails its attempt (expired); each does nothing when the job
 * changed since the query found it. jobs_resolve_child: the cascade's step
 * for child id after parent_id ended in parent_state (deps.h). */
/* Whether j's dedup key is held by another pending job of its queue (so
 * reviving or promoting j would be refused when written); *held false for a
 * job without a key. */
int jobs_key_held(struct txn *tx, const struct job *j, bool *held);
int jobs_promote_due(struct txn *tx, int64_t id);
int jobs_expire_due(struct txn *tx, int64_t id);

/* A lease is a duration, every other due time an instant (docs/cron.md "When
 * the clock jumps"). The store thread calls this once per batch on a store
 * only it writes: when the wall clock moved by CLOCK_STEP_MIN_MS or more
 * against the monotonic one since tx's last committed batch
 * (tx->clock_offset_ms), the running jobs' leases and start times move by
 * the same step, so a lease keeps the time it had left and an attempt's
 * timeout_ms its elapsed time. *offset_ms receives the batch's offset, which
 * the caller keeps in tx once the batch commits. */
int jobs_clock_watch(struct txn *tx, int64_t *offset_ms);
int jobs_resolve_child(struct txn *tx, int64_t id, int64_t parent_id, int parent_state);

/* The single places of jobs.c's state changes, for core/job_ops.c: a move
 * to queued (claim waiters woken, the group's head noted), and a placement
 * at run_at_ms (queued when due, else later_state with its deadline). */
int jobs_become_ready(struct txn *tx, struct job *j);
int jobs_place(struct txn *tx, struct job *j, int later_state);

/* Backoff: the delay before attempt number attempt+1 after attempt failed. rnd
 * returns a value in [0, bound) (rand_below in production). Returns -1 when the
 * policy allows no retry (BACKOFF_NONE). */
int64_t backoff_delay_ms(const struct backoff *b, int attempt, uint64_t (*rnd)(uint64_t bound));

#endif
