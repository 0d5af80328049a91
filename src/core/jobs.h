/*
 * jobs.h: job semantics as transaction functions. Each runs on the store thread
 * inside a struct txn (see exec.h), reads and writes through store_ops, and
 * records its effects (ready queues, terminal jobs, deadlines). None of them
 * knows about HTTP. Inputs are assumed already validated (validate.h); the
 * functions still refuse states that make an operation meaningless.
 *
 * Ownership: every struct job / job_vec / queue_info filled here is owned by the
 * caller, who frees it with job_free / job_vec_free / queue_info_free.
 */
#ifndef BATON_CORE_JOBS_H
#define BATON_CORE_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/job.h"
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
};

struct enqueue_res {
	struct job job;
	bool duplicate; /* an idempotent repeat or a key clash under on_key keep */
	bool replaced;  /* a key clash under on_key replace moved the pending job */
};

struct claim_req {
	const char *tenant;
	const char *queue;
	const char *worker;
	int max;
	int64_t lease_ms; /* 0 = each job's own lease_ms */
};

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
	int outcome;        /* SETTLED_COMPLETE or SETTLED_FAIL */
	const char *result; /* JSON text or NULL (complete) */
	const char *error;  /* plain text or NULL (fail) */
	bool retryable;     /* fail: false sends the job straight to dead */
	int64_t retry_in_ms; /* fail: < 0 uses the backoff policy */
};

struct settle_res {
	struct job job;
	bool repeat; /* the same settle was already applied; nothing changed */
};

struct queue_info {
	struct queue_rec rec;
	struct queue_counts counts;
};

struct tick_res {
	int promoted; /* scheduled/retrying jobs made ready */
	int expired;  /* leases that expired */
	int purged;   /* rows removed by retention */
	bool more;    /* a batch limit was hit: run again soon */
	int64_t next_ms; /* next instant something is due; 0 = nothing */
};

int job_enqueue(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res);
int job_claim(struct txn *tx, const struct claim_req *req, struct job_vec *out);
int job_heartbeat(struct txn *tx, const struct heartbeat_req *req, struct job *out);
int job_settle(struct txn *tx, const struct settle_req *req, struct settle_res *res);
int job_cancel(struct txn *tx, const char *tenant, int64_t id, struct job *out);
int job_retry(struct txn *tx, const char *tenant, int64_t id, struct job *out);
int job_read(struct txn *tx, const char *tenant, int64_t id, struct job *out);
int job_query(struct txn *tx, const struct job_filter *f, struct job_vec *out);

int queue_read(struct txn *tx, const char *tenant, const char *name, struct queue_info *out);
int queue_query(struct txn *tx, const char *tenant, const char *after, int limit,
		struct queue_info **out, int *n_out);
int queue_set_paused(struct txn *tx, const char *tenant, const char *name, bool paused,
		     struct queue_info *out);
/* Replays dead jobs of a queue: the given ids (n > 0) or, with all, every one
 * up to limits->replay_max. *count is the number made ready again. */
int dead_replay(struct txn *tx, const char *tenant, const char *queue, const int64_t *ids, int n,
		bool all, int *count);
int dead_purge(struct txn *tx, const char *tenant, const char *queue, int *count);

/* Leader duties due at tx->now_ms: promote due jobs, expire leases, purge
 * retention; then compute the next deadline. */
int job_tick(struct txn *tx, struct tick_res *out);

void queue_info_free(struct queue_info *q);

/* Backoff: the delay before attempt number attempt+1 after attempt failed. rnd
 * returns a value in [0, bound) (rand_below in production). Returns -1 when the
 * policy allows no retry (BACKOFF_NONE). */
int64_t backoff_delay_ms(const struct backoff *b, int attempt, uint64_t (*rnd)(uint64_t bound));

#endif
