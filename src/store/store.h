/*
 * store.h: the storage interface (struct store_ops), version 7 (1 + tenants,
 * API keys and the audit log, 3 + cron schedules and runs, 4 + the leader
 * lease and notifications between nodes, 5 + queue limits, job groups and rate
 * windows, 6 + the job's cron column, cron_count_add and reads of many jobs or
 * groups in one call, 7 qlim_add takes no lock and returns nothing, and
 * qlim_put leaves the counters alone, 8 the tenant's queue total kept by
 * queue_ensure and read by queue_total, and qlim_get's known, 9 + the
 * dependency cascade's work list, 10 timers deferred by a full queue, audit
 * refusals counted in one row and audit_purge, 11 + idem_take and idem_swap,
 * which decide the owner of an idempotency key atomically across nodes, 12 +
 * job_peek, a job read without a row lock, 13 - job_ready_ids, which nothing
 * called since version 5's claims by group), 14 + queue_delete, job_purge_own
 * and job_own_deadline (per-queue retention), and job_list reads every filter
 * of struct job_filter (group .. worker, the time bounds, desc),
 * and the worker registry, 15 + the dashboard's sessions, 16 + the event log
 * (event_insert, event_scan, event_purge).
 *
 * A backend (SQLite, PostgreSQL) implements these operations; core
 * composes them into transactions. All calls on one struct store come from one
 * thread (the store thread of core/exec.c), always inside begin..commit, so a
 * backend needs no locking of its own. Backends know nothing of HTTP or of job
 * semantics beyond what each operation states; they treat JSON columns as
 * opaque text. Every operation returns 0 or a negative enum baton_err:
 * BATON_ENOTFOUND for a missing row, BATON_ECONFLICT for a unique-constraint
 * clash, BATON_EINVAL for arguments the operation cannot take, BATON_ESTORE for
 * anything the database refused.
 *
 * A write refused with BATON_ECONFLICT changes nothing and leaves the
 * transaction usable: core goes on after it (a promotion whose dedup key is
 * taken cancels the job instead). SQLite gives this per statement; a backend
 * whose transaction aborts on any error (PostgreSQL) must wrap such writes in
 * a savepoint of its own. Ids are never reused once committed; the id of an
 * insert that was rolled back may be handed out again, since nobody saw it.
 * The conformance suite (tests/store) checks all of this for every backend.
 *
 * Reads that fill a struct job allocate its strings; the caller owns them and
 * frees them with job_free (or job_vec_free).
 */
#ifndef BATON_STORE_STORE_H
#define BATON_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/job.h"

#define STORE_OPS_VERSION 16

struct store; /* backend-private */

struct store_opts {
        const char *uri; /* SQLite: a directory (data dir) or a file path;
                            PostgreSQL: a libpq URI or connection string */
        bool sync_full;  /* fsync on every commit (SQLite synchronous=FULL,
                            PostgreSQL synchronous_commit=on) */
        int busy_timeout_ms;
        /* PostgreSQL: statement_timeout of the store's connection, in ms (0 =
         * none). A statement that runs longer is cancelled by the server and
         * fails (BATON_ESTORE). Migrations at open run without it. */
        int statement_timeout_ms;
        /* PostgreSQL: lock_timeout of the store's connection, in ms (0 =
         * none). A statement that waits longer for a lock another session
         * holds fails, and with it the whole transaction (commit fails):
         * the rows the batch's earlier operations locked may be what the
         * other session waits for. Migrations run without it. */
        int lock_timeout_ms;
        /* PostgreSQL: idle_in_transaction_session_timeout of the session, in
         * ms (0 = none): the database ends the session of a process that
         * stalls inside a transaction, so its row locks go. */
        int idle_tx_timeout_ms;
        /* PostgreSQL: a connection only for the leader lease (leader_*,
         * now_ms): no migrations, no share of the queue counters, commits
         * without waiting for the flush (a lease write lost in a database
         * crash only costs a take; the epoch still fences). */
        bool lease_conn;
        /* PostgreSQL: application_name of the sessions (pg_stat_activity),
         * so an operator sees which node holds what; NULL = "batond". */
        const char *app_name;
        /* SQLite: the name of a registered sqlite3 VFS to open the database
         * with; NULL = SQLite's default. The server never sets it: it is for
         * tests that inject I/O errors (tests/support/store_fault.c). The
         * store's WAL-gathering shim (sqlite_vfs.c) is stacked over it. */
        const char *vfs;
};

/* A job_list read (GET /v1/jobs). Every filter set is ANDed; each is served
 * by an index that ends in id (docs/api.md's table, store_list_samples), so
 * the order and the cursor come from the index. The sparse ones (group, key,
 * idempotency_key, request_id, execution_id, worker) are partial indexes of
 * the rows that have the column. Time bounds are row filters on the index
 * the other filters choose (the tenant's when alone). */
struct job_filter {
        const char *tenant; /* required */
        const char *queue;  /* NULL = any */
        int state;          /* -1 = any; one state (see states) */
        /* Core only (job_query): a set of states, bit 1 << state, 0 = any.
         * job_query reads each state with state set and merges the pages in
         * id order; the store reads state and ignores states. */
        unsigned states;
        const char *type; /* NULL = any; the strings below likewise */
        const char *group;
        const char *key; /* the dedup key (dkey) */
        const char *idempotency_key;
        const char *request_id;
        const char *execution_id;
        const char *worker; /* the worker of the current or last attempt */
        /* Half-open time bounds in Unix ms, 0 = no bound: after is
         * inclusive (>=), before exclusive (<). */
        int64_t created_after_ms, created_before_ms;
        int64_t finished_after_ms, finished_before_ms;
        bool desc;        /* newest first: ids < after_id */
        int64_t after_id; /* cursor: only ids past it in the order; 0 = from the start */
        int limit;        /* > 0 */
        /* 0, or the byte budget of the page: the read stops after the row
         * that takes the rows' job_wire_bytes past it (that row included),
         * so a page of big jobs is not read whole only to be cut. */
        size_t bytes_max;
};

struct idem_rec {
        char *tenant;
        char *key;
        int64_t job_id;
        char *payload_hash; /* hex SHA-256 of the canonical payload */
        int64_t expires_at_ms;
};

struct queue_rec {
        char *tenant;
        char *name;
        bool paused;
        int64_t created_at_ms;
        int64_t updated_at_ms;
};

struct queue_counts {
        int64_t by_state[JOB_STATE_COUNT];
        int64_t oldest_ready_ms; /* smallest ready_at of queued jobs; 0 if none */
};

/* Earliest instants at which the leader has something to do; 0 = nothing. */
struct store_deadlines {
        int64_t run_at_ms;        /* earliest run_at of scheduled or retrying jobs */
        int64_t lease_until_ms;   /* earliest lease_until of running jobs */
        int64_t completed_min_ms; /* earliest finished_at of completed jobs */
        int64_t dead_min_ms;      /* earliest finished_at of dead or cancelled jobs */
        int64_t idem_min_ms;      /* earliest expires_at of idempotency records */
        bool dep_work;            /* a dep_work row exists: a cascade is not finished (v8) */
        int64_t audit_min_ms;     /* earliest at of audit rows (version 10) */
        int64_t worker_min_ms;    /* earliest last_seen of workers (version 14) */
};

/* A (tenant, queue) pair; strings owned by the struct holding the array. */
struct qref {
        char *tenant;
        char *queue;
};

/* An API key. The secret itself is never stored: digest is the hex SHA-256 of
 * the whole token the client sends. During a rotation's grace period the
 * previous digest stays valid until prev_until_ms. */
struct key_rec {
        char *id; /* public id, "k" + 16 hex; unique */
        char *tenant;
        char *name;
        char *digest;      /* 64 hex */
        char *prev_digest; /* NULL unless a rotation's grace period runs */
        int64_t prev_until_ms;
        uint32_t scopes; /* bit set of enum key_scope (core/keys.h) */
        int64_t created_at_ms;
        int64_t expires_at_ms; /* 0 = never */
        int64_t revoked_at_ms; /* 0 = not revoked */
        int64_t rotated_at_ms; /* 0 = never */
        int64_t rate_max;      /* requests per rate_per_ms; 0 = the server default */
        int64_t rate_per_ms;
        char *created_by; /* id of the key that created it, or "bootstrap" */
};

/* One audited call. detail is JSON text (never secrets or payloads) or NULL. */
struct audit_rec {
        int64_t id; /* ascending; the cursor of audit lists */
        int64_t at_ms;
        char *key_id; /* NULL when no key was given or auth is off */
        char *tenant;
        char *action; /* e.g. "keys.create", "queue.update", "dead.replay" */
        char *target; /* e.g. the key id, the queue name */
        char *request_id;
        int status; /* the HTTP status answered */
        char *code; /* the error code, NULL on success */
        char *detail;
        /* Calls the row stands for (version 10): 1 for a success; refusals
         * with the same bucket add to one row. */
        int64_t n;
        /* A refusal's identity (key, action, status, code, minute); NULL for
         * a success. audit_insert adds n (at least 1: refusals counted
         * together) to the row holding bucket, or inserts one with it, and
         * sets n to the row's count. */
        char *bucket;
};

struct audit_filter {
        const char *tenant; /* NULL = every tenant */
        const char *action; /* NULL = any */
        const char *key_id; /* NULL = any */
        int64_t after_id;   /* cursor; 0 = from the start */
        int limit;          /* > 0 */
        /* 0, or the byte budget of the page: the read stops after the row
         * that takes the rows' job_wire_bytes past it (that row included),
         * so a page of big jobs is not read whole only to be cut. */
        size_t bytes_max;
};

/* A cron schedule (core/cron.h). spec is the definition as JSON text (cron,
 * timezone, job template, policies), opaque to the store; the columns beside
 * it are what the scheduler queries or updates on every fire. */
struct cron_rec {
        char *tenant;
        char *key;
        char *spec; /* JSON object text */
        bool enabled;
        bool paused;
        char *pause_note;
        int64_t next_fire_at_ms; /* next scheduled instant (UTC); 0 = none */
        int64_t due_at_ms;       /* when the scheduler must look at it; 0 = never */
        int64_t buffered_at_ms;  /* buffer_one: scheduled instant of the waiting tick */
        int64_t buffered_run_id; /* its run row; 0 = none */
        int64_t last_run_id;     /* latest run that started a job; 0 = none */
        int64_t last_job_id;
        int64_t version; /* bumped on every definition change */
        int64_t created_at_ms;
        int64_t updated_at_ms;
};

/* One run (or skipped tick) of a schedule. (tenant, key, scheduled_at) is
 * unique, so a tick is recorded once; manual runs have scheduled_at 0 (NULL
 * in the store), which never clashes. */
struct cron_run {
        int64_t id;
        char *tenant;
        char *key;
        int64_t scheduled_at_ms; /* 0 for manual runs */
        int64_t fired_at_ms;
        char *trigger;  /* "schedule", "manual", "catchup" */
        int64_t job_id; /* 0 = no job (skipped, buffered) */
        char *status; /* "queued", "skipped", "buffered" (live job state is read at answer time) */
        char *reason; /* skipped: "overlap", "misfire"; NULL otherwise */
        char *requested_by; /* manual: the key id that asked */
        /* manual: the JSON object text of payload members the run was given
         * (merged into the template's payload for this run only), or NULL. */
        char *payload;
};

/* A durable timer (core/timers.h): one row per (tenant, key), holding the
 * current version and the template of the job its firing enqueues. A fired or
 * cancelled row stays, so the next PUT continues its version count. */
struct timer_rec {
        char *tenant;
        char *key;
        int64_t version; /* 1 for a new timer, +1 on every move */
        int state;       /* enum timer_state (core/timers.h) */
        int64_t fire_at_ms;
        char *queue;
        char *type;
        char *payload; /* JSON text */
        int priority;  /* enum job_priority */
        int max_attempts;
        struct backoff backoff;
        int64_t lease_ms;
        char *group;         /* group of the fired job, or NULL (version 5) */
        char *request_id;    /* of the PUT that set this version, or NULL */
        int64_t job_id;      /* job enqueued by the latest firing; 0 = none yet */
        int64_t fired_at_ms; /* when the latest firing happened; 0 = never */
        int64_t created_at_ms;
        int64_t updated_at_ms;
        /* When the leader next tries to fire it (version 10): fire_at_ms, or
         * later after deferrals; 0 on a put = fire_at_ms. deferred counts the
         * current version's deferrals (its queue was at max_depth). */
        int64_t due_at_ms;
        int deferred;
};

/* A flow (core/deps.h): a set of jobs enqueued together as one DAG. The jobs
 * carry its id (struct job flow_id) and their ref. */
struct flow_rec {
        int64_t id;
        char *tenant;
        int64_t created_at_ms;
        char *request_id;
};

/* Version 14: one worker of the registry (core/workers.h), unique per
 * (tenant, id). info is the JSON object text of its latest info (or NULL),
 * queues the JSON array text of the queue names it claimed from (at most
 * STORE_WORKER_QUEUES_MAX, the first ones). period_ms is the lease period
 * its latest claim asked for; completed and failed count its settles. */
struct worker_rec {
        char *tenant;
        char *id;
        char *info;
        char *queues;
        int64_t first_seen_ms;
        int64_t last_seen_ms;
        int64_t period_ms;
        int64_t completed;
        int64_t failed;
};

/* A dashboard session (version 15, core/sessions.h). id and csrf are the
 * hex SHA-256 of the cookie and of the CSRF token (the secrets themselves are
 * never stored); key_digest is the digest of the key's secret it signed in
 * with (struct key_rec's digest then). */
struct session_rec {
        char *id;
        char *csrf;
        char *key_id;
        char *key_digest;
        char *tenant;
        int64_t created_at_ms;
        int64_t expires_at_ms;
};

/* What one transaction learnt of a worker (worker_seen): it was seen at
 * seen_ms; info (NULL: unchanged) is its new info; queue (NULL: none) is a
 * queue it claimed from; period_ms (0: unchanged) its new lease period;
 * completed and failed are added to its counts. Strings owned by whoever
 * made the note. */
/* ---- stats (version 19, core/stats.h) ---- */

/* The counters of a stats minute, in the order of core's enum txn_event
 * (core/stats.c asserts it): jobs enqueued, attempts started, jobs
 * completed, failed attempts that will run again, jobs dead, jobs
 * cancelled, leases that ran out. */
enum stats_counter {
        STATS_ENQUEUED = 0,
        STATS_CLAIMED = 1,
        STATS_COMPLETED = 2,
        STATS_RETRIED = 3,
        STATS_DEAD = 4,
        STATS_CANCELLED = 5,
        STATS_EXPIRED = 6,
        STATS_COUNTERS = 7
};
/* A gauge of a step in which no minute was sampled. */
#define STATS_UNSAMPLED (-1)
/* One step of a stats series: counters summed, gauges at their largest. */
struct stats_point {
        int64_t n[STATS_COUNTERS];
        int64_t depth;   /* jobs not yet ended; STATS_UNSAMPLED */
        int64_t running; /* running jobs; STATS_UNSAMPLED */
};

struct worker_note {
        char *tenant;
        char *id;
        char *info;
        char *queue;
        int64_t seen_ms;
        int64_t period_ms;
        int64_t completed;
        int64_t failed;
};

#define STORE_WORKER_QUEUES_MAX 64

/* Version 15: one event of the event log (core/events.h). id is the feed's
 * order and its cursor: increasing in the order in which readers may see
 * events, never reused. subject is the subject's id or key (kind says which:
 * "job", "cron", "timer", "queue"); queue is NULL for a subject without one.
 * data is a JSON object text. Strings owned by the record (event_rec_free). */
struct event_rec {
        int64_t id;
        char *tenant;
        char *type;
        int64_t at_ms;
        char *kind;
        char *subject;
        char *queue;
        char *data;
};

/* ---- cluster: leader lease and notifications (version 4) ---- */

/* Longest node id (config --node-id). */
#define STORE_NODE_MAX 128

/* The leader lease: one row per store. The epoch is the fencing token: it
 * grows by one every time the lease changes hands (or is taken again after
 * it lapsed), so a duty transaction that checks its epoch (leader_check)
 * cannot commit once another node has taken over. */
struct leader_rec {
        char node[STORE_NODE_MAX + 1]; /* the holder; "" when nobody ever held it */
        int64_t epoch;                 /* 0 = never held */
        int64_t lease_until_ms;        /* the lease lapses then (store clock); 0 = released */
        int64_t heartbeat_at_ms;       /* the holder's last take or renewal */
        int64_t lag_ms;                /* the holder's scheduler lag as it last reported it */
};

/* A connection that receives the notifications of every node (see
 * listen_open); backend-private. */
struct store_listener;
/* Version 5: the settings and counters of one queue (core/groups.h). A queue
 * without a row has every setting 0 (no limit, server defaults) and no jobs.
 * Counters are kept by core in the same transaction as the job change they
 * count, so a claim that holds the row (lock) sees exact numbers. */
struct queue_limits {
        char *tenant;
        char *queue;
        int64_t concurrency; /* max running jobs; 0 = no limit */
        int64_t rate_max;    /* max starts per rate_per_ms; 0 = no limit */
        int64_t rate_per_ms;
        int64_t max_depth;         /* max non-terminal jobs; 0 = no limit */
        int64_t group_concurrency; /* max running jobs per group; 0 = no limit */
        int64_t group_rate_max;    /* max starts per group per group_rate_per_ms; 0 = none */
        int64_t group_rate_per_ms;
        int64_t def_max_attempts; /* defaults for jobs that do not say; 0 = server default */
        int64_t def_lease_ms;
        int64_t def_timeout_ms;     /* 0 = jobs that do not say have no timeout */
        struct backoff def_backoff; /* used when def_backoff_set */
        bool def_backoff_set;
        int64_t depth;          /* non-terminal jobs (pending .. running, retrying) */
        int64_t running;        /* running jobs */
        int64_t start_seq;      /* starts recorded in the queue's rate window log */
        int64_t serve_seq;      /* fairness clock: bumped on every grouped pick */
        int64_t nogroup_served; /* serve_seq when jobs without a group were last served */
        int64_t updated_at_ms;  /* last settings change; 0 = never */
        /* Version 14: the queue's own retention of its ended jobs, 0 = the
         * server's (job_purge_own). */
        int64_t ret_completed_ms;
        int64_t ret_dead_ms;
        int64_t ret_cancelled_ms;
        /* Version 15: the queue's jobs write no per-job events
         * ("job_events": false, core/events.h). */
        bool job_events_off;
        bool grouped; /* read only: the queue has a group row (qlim_get) */
        bool known;   /* read only: the queue has its queues row (qlim_get) */
};

/* Version 5: one group of a queue, present while it has ready or running jobs
 * or a start still inside its rate window. head is the best (lowest) priority
 * among its ready jobs, or -1 when it has none; it may be stale in one
 * direction only (no better than the truth), which claims repair. */
struct group_rec {
        char *tenant;
        char *queue;
        char *grp;
        int64_t running;
        int head;         /* enum job_priority, or -1 */
        int64_t served;   /* the queue's serve_seq when last served */
        bool blocked;     /* at group_concurrency, or rate-limited until until_ms */
        int64_t until_ms; /* rate window roll that unblocks it; 0 = none */
        int64_t start_seq;
        int64_t last_start_ms;
};

struct store_ops {
        int version; /* STORE_OPS_VERSION */
        const char *name;

        /* Opens (creating if needed) and migrates the store. BATON_ESCHEMA if the
         * stored schema is newer than this binary knows. *out is owned by the caller
         * and released with close. */
        int (*open)(const struct store_opts *opts, struct store **out);
        void (*close)(struct store *st);
        int (*schema_version)(struct store *st, int *out);

        /* Transactions. savepoint/release/rollback_to nest one level inside a
         * transaction so one operation of a group commit can fail alone. */
        int (*begin)(struct store *st);
        int (*commit)(struct store *st);
        int (*rollback)(struct store *st);
        int (*savepoint)(struct store *st);
        int (*release)(struct store *st);
        int (*rollback_to)(struct store *st);

        /* Inserts j with every column as given and sets j->id. BATON_ECONFLICT if
         * a pending job (scheduled or queued) with the same tenant, queue and key
         * exists. */
        int (*job_insert)(struct store *st, struct job *j);
        /* Reads job id; tenant NULL matches any tenant (internal duties). *out is
         * left untouched on BATON_ENOTFOUND. */
        int (*job_get)(struct store *st, const char *tenant, int64_t id, struct job *out);
        /* job_get for a read that only answers (GET /v1/jobs/{id}), version 12:
         * it takes no row lock, so another node's claim (SKIP LOCKED) does
         * not pass the job over while the read's transaction is open. */
        int (*job_peek)(struct store *st, const char *tenant, int64_t id, struct job *out);
        /* Writes every mutable column of j (all but id, tenant, created_at). */
        int (*job_update)(struct store *st, const struct job *j);
        /* job_update for a change of the run of an attempt (a claim, a
         * heartbeat, a settle, a lease expiry): writes only the columns those
         * change (store_cols.c's run columns: state, run_at, attempt, lease,
         * lease_until, worker, settled, cancel_requested, started_at,
         * finished_at, ready_at, result, last_error, progress, attempts,
         * steps, cancel_reason), so that the indexes over the other columns
         * are not rewritten. Every other field of j must hold what the row
         * holds (j was read in this transaction); debug builds of SQLite's
         * check it. A backend may write every column instead. */
        int (*job_update_run)(struct store *st, const struct job *j);
        /* job_update_run for a settle or a promotion: j->worker must hold
         * what the row holds too (the attempt's worker stays), and the
         * worker column is not written, so that SQLite does not rewrite the
         * job's job_tworker entry. A backend may write more columns. */
        int (*job_update_settle)(struct store *st, const struct job *j);
        /* Finds the pending (scheduled or queued) job with this key. */
        int (*job_find_key)(struct store *st, const char *tenant, const char *queue,
                            const char *key, int64_t *id_out);
        /* Appends the jobs matching f to out in ascending id order (f->desc:
         * descending), at most f->limit. BATON_EINVAL without a tenant or with
         * limit < 1. On an error out may hold some jobs: the caller frees it
         * with job_vec_free anyway. The SQL is built per call from the filters
         * set (store_build_job_list); each is served by an index ending in id
         * (store_list_samples, checked by the plan checks). */
        int (*job_list)(struct store *st, const struct job_filter *f, struct job_vec *out);
        /* Ids of scheduled or retrying jobs with run_at <= now_ms, at most max. */
        int (*job_due_ids)(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out);
        /* Ids of running jobs with lease_until <= now_ms, at most max. */
        int (*job_expired_ids)(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out);
        /* Moves every running job's lease_until and started_at by delta_ms
         * (a wall clock step, core/jobs.h jobs_clock_watch); *n_out moved. */
        int (*job_shift_leases)(struct store *st, int64_t delta_ms, int *n_out);
        /* Ids of jobs of a tenant and queue in a state, ascending, at most max, id > after. */
        int (*job_state_ids)(struct store *st, const char *tenant, const char *queue, int state,
                             int64_t after_id, int max, int64_t *ids, int *n_out);
        /* Deletes up to max jobs in state whose finished_at < before_ms, oldest
         * first; *n_out deleted. Only terminal states have rows to purge. A job
         * with a dep_work row is kept (version 9). */
        int (*job_purge)(struct store *st, int state, int64_t before_ms, int max, int *n_out);
        /* Deletes one job by id; tenant NULL matches any tenant. A job with a
         * dep_work row is kept, as by job_purge: BATON_ENOTFOUND (version 9). */
        int (*job_delete)(struct store *st, const char *tenant, int64_t id);
        /* Version 14: per-queue retention. Deletes up to max jobs in ended
         * state of queues with a retention of their own for it (queue_limits
         * ret_*_ms > 0) whose finished_at < now_ms - that retention; *n_out
         * deleted. A job with a dep_work row is kept, as by job_purge.
         * job_own_deadline: the earliest finished_at + own retention of such
         * a job, over the three ended states, 0 if none. */
        int (*job_purge_own)(struct store *st, int state, int64_t now_ms, int max, int *n_out);
        int (*job_own_deadline)(struct store *st, int64_t *at_ms);
        int (*deadlines)(struct store *st, struct store_deadlines *out);

        /* Idempotency records, unique per (tenant, key). idem_put inserts or
         * replaces without looking: core uses it only on a record this
         * transaction already owns (idem_take). */
        int (*idem_get)(struct store *st, const char *tenant, const char *key,
                        struct idem_rec *out);
        int (*idem_put)(struct store *st, const struct idem_rec *rec); /* insert or replace */
        /* Deletes up to max records with expires_at <= before_ms (a record has
         * expired at its expires_at), oldest first; *n_out deleted. */
        int (*idem_purge)(struct store *st, int64_t before_ms, int max, int *n_out);

        /* Queues. queue_ensure inserts the row if missing and leaves it
         * otherwise; a row it inserts adds 1 to the tenant's queue total
         * (version 8), which locks that total to the end of the transaction
         * on a shared store, so the cap on it (--max-queues) stays exact
         * across nodes. queue_delete (version 14) removes the queue's row,
         * its group rows and rate window logs, and takes 1 off the tenant's
         * total; BATON_ENOTFOUND when the queue has no row. It leaves jobs and
         * the settings row alone: core deletes the jobs and clears the
         * settings first (core/job_ops.h). */
        int (*queue_ensure)(struct store *st, const char *tenant, const char *name, int64_t now_ms);
        int (*queue_delete)(struct store *st, const char *tenant, const char *name);
        int (*queue_get)(struct store *st, const char *tenant, const char *name,
                         struct queue_rec *out);
        int (*queue_put)(struct store *st, const struct queue_rec *q); /* insert or update */
        /* Queues of a tenant in name order, names > after (NULL = from start).
         * *out is a malloc'd array of *n_out records owned by the caller (free
         * each with queue_rec_free, then the array). BATON_EINVAL: limit < 1. */
        int (*queue_list)(struct store *st, const char *tenant, const char *after, int limit,
                          struct queue_rec **out, int *n_out);
        /* Jobs of the queue per state and the oldest ready_at; all zero for a
         * queue without jobs (whether or not its row exists). */
        int (*queue_counts)(struct store *st, const char *tenant, const char *name,
                            struct queue_counts *out);

        /* Tenants: inserted once, never changed (name is the key). */
        int (*tenant_ensure)(struct store *st, const char *name, int64_t now_ms);
        /* API keys. key_insert: BATON_ECONFLICT on a duplicate id. key_get by id
         * (BATON_ENOTFOUND). key_update writes every column but id, tenant and
         * created_at. key_list: keys of tenant (NULL = all) with id > after (NULL =
         * from the start), in id order. key_count counts every key, revoked too. */
        int (*key_insert)(struct store *st, const struct key_rec *k);
        int (*key_get)(struct store *st, const char *id, struct key_rec *out);
        int (*key_update)(struct store *st, const struct key_rec *k);
        int (*key_list)(struct store *st, const char *tenant, const char *after, int limit,
                        struct key_rec **out, int *n_out);
        int (*key_count)(struct store *st, int64_t *n_out);
        /* Audit log: audit_insert sets r->id and r->n (an existing refusal row
         * of r->bucket gains 1, else a row is appended). audit_list in id order. */
        int (*audit_insert)(struct store *st, struct audit_rec *r);
        /* Deletes up to max audit rows with at < before_ms, oldest first;
         * *n_out deleted (version 10). */
        int (*audit_purge)(struct store *st, int64_t before_ms, int max, int *n_out);
        int (*audit_list)(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                          int *n_out);
        /* Cron schedules (version 3). cron_put inserts or replaces the row of
         * (tenant, key). cron_get: BATON_ENOTFOUND. cron_delete deletes the
         * schedule and its runs (BATON_ENOTFOUND when there is none). cron_list:
         * keys > after (NULL = from the start) in key order. cron_due: schedules
         * of every tenant with 0 < due_at <= now_ms, earliest first, at most max.
         * cron_next_due: the smallest due_at > 0, or 0. Arrays are owned by the
         * caller (cron_recs_free). */
        int (*cron_put)(struct store *st, const struct cron_rec *r);
        int (*cron_get)(struct store *st, const char *tenant, const char *key,
                        struct cron_rec *out);
        int (*cron_delete)(struct store *st, const char *tenant, const char *key);
        int (*cron_list)(struct store *st, const char *tenant, const char *after, int limit,
                         struct cron_rec **out, int *n_out);
        int (*cron_due)(struct store *st, int64_t now_ms, int max, struct cron_rec **out,
                        int *n_out);
        int (*cron_next_due)(struct store *st, int64_t *at_ms);
        /* Version 6: adds delta to the tenant's count of schedules (a row of
         * its own, created at 0) and reads the count after into *n_out (delta
         * 0: only reads it). Core adds 1 per schedule created and -1 per
         * schedule deleted. The write locks the row to the end of the
         * transaction on a shared store, so two transactions that change one
         * tenant's schedules count one after the other and each sees the
         * other's committed change (the cap of core/cron.h stays exact across
         * nodes). */
        int (*cron_count_add)(struct store *st, const char *tenant, int64_t delta, int64_t *n_out);
        /* ---- version 8 ---- the tenant's number of queues, as of this
         * transaction (0 for a tenant without any). */
        int (*queue_total)(struct store *st, const char *tenant, int64_t *n_out);
        /* Runs. cron_run_insert sets r->id; BATON_ECONFLICT when the tick
         * (tenant, key, scheduled_at) is already recorded. cron_run_update writes
         * job_id, status and reason. cron_run_list: newest first, ids < before
         * (0 = from the newest). cron_run_count: runs of a trigger fired at or
         * after since_ms. cron_run_trim keeps the newest keep runs. */
        int (*cron_run_insert)(struct store *st, struct cron_run *r);
        int (*cron_run_update)(struct store *st, const struct cron_run *r);
        int (*cron_run_get)(struct store *st, const char *tenant, int64_t id, struct cron_run *out);
        int (*cron_run_list)(struct store *st, const char *tenant, const char *key,
                             int64_t before_id, int limit, struct cron_run **out, int *n_out);
        int (*cron_run_count)(struct store *st, const char *tenant, const char *key,
                              const char *trigger, int64_t since_ms, int64_t *n_out);
        int (*cron_run_trim)(struct store *st, const char *tenant, const char *key, int keep);
        /* The latest scheduled instant recorded for the schedule (fired,
         * skipped or buffered; manual runs have none), 0 when none is. */
        int (*cron_last_tick)(struct store *st, const char *tenant, const char *key,
                              int64_t *at_ms);

        /* Timers (core/timers.h), unique per (tenant, key). timer_get:
         * BATON_ENOTFOUND when missing. timer_put inserts or overwrites the row of
         * (t->tenant, t->key) with every column as given. timer_list: timers of
         * tenant whose key starts with prefix ("" = any) and is > after (NULL or
         * "" = from the start), in key order, at most limit. timer_due: scheduled
         * timers of every tenant with fire_at <= now_ms, earliest first, at most
         * max. timer_next: the earliest fire_at of a scheduled timer, 0 if none.
         * Arrays are malloc'd and owned by the caller (timer_recs_free). */
        int (*timer_get)(struct store *st, const char *tenant, const char *key,
                         struct timer_rec *out);
        int (*timer_put)(struct store *st, const struct timer_rec *t);
        int (*timer_list)(struct store *st, const char *tenant, const char *prefix,
                          const char *after, int limit, struct timer_rec **out, int *n_out);
        int (*timer_due)(struct store *st, int64_t now_ms, int max, struct timer_rec **out,
                         int *n_out);
        int (*timer_next)(struct store *st, int64_t *at_ms_out);

        /* Dependencies and flows (core/deps.h). dep_insert records that child
         * waits on parent (BATON_ECONFLICT for an edge already recorded).
         * dep_children: ids of parent's children > after_id, ascending, at
         * most max. flow_insert sets f->id. flow_get: BATON_ENOTFOUND unless
         * the flow exists in tenant. flow_job_ids: ids of the flow's jobs in
         * tenant > after_id, ascending, at most max. */
        int (*dep_insert)(struct store *st, const char *tenant, int64_t parent_id,
                          int64_t child_id);
        int (*dep_children)(struct store *st, int64_t parent_id, int64_t after_id, int max,
                            int64_t *ids, int *n_out);
        int (*flow_insert)(struct store *st, struct flow_rec *f);
        int (*flow_get)(struct store *st, const char *tenant, int64_t id, struct flow_rec *out);
        int (*flow_job_ids)(struct store *st, const char *tenant, int64_t flow_id, int64_t after_id,
                            int max, int64_t *ids, int *n_out);

        /* Database time (optional; NULL for a backend without a shared clock,
         * whose caller uses its injected clock). The store thread calls it right
         * after begin, once per batch, and uses the answer as the batch's now:
         * nodes sharing one database then agree on lease, timer and cron
         * instants whatever their own clocks say. Unix ms. */
        int (*now_ms)(struct store *st, int64_t *now_ms_out);

        /* ---- cluster: leader lease and notifications (version 4) ----
         *
         * shared: several processes may use the store at once (PostgreSQL).
         * When false (SQLite) one process owns the store: leader_acquire always
         * grants the lease (the caller is the only node), notify has nobody to
         * tell, and the listen ops are NULL.
         *
         * leader_acquire: takes or renews the lease for node, in the open
         * transaction. If node holds it at held_epoch and it has not lapsed, it
         * is renewed (lease_until = now + ttl_ms, heartbeat_at = now, lag_ms
         * recorded; the epoch stays). Otherwise, if the lease is free, lapsed,
         * or recorded for node under another epoch (an earlier process of the
         * same node id), node takes it with epoch + 1. Otherwise it is left to
         * its holder. In every case *out is the lease after the call (the
         * caller leads if out->node is node). "now" is the store's own clock
         * when shared (PostgreSQL: the database server's, so nodes whose clocks
         * disagree still agree on expiry), else now_ms.
         * leader_check: 0 if node holds the lease at epoch, BATON_ECONFLICT if
         * not. A shared backend also locks the lease row until the end of the
         * transaction, so no other node can take the lease before the duty
         * that checked commits: every leader duty calls it inside its own
         * transaction (fencing).
         * leader_release: ends the lease now if node holds it at epoch (clean
         * shutdown, so another node takes over at once); 0 otherwise too.
         * leader_get: the lease as stored (a zeroed record if never taken).
         * notify: queues n payloads (text, each at most 7,000 bytes;
         * BATON_EINVAL otherwise, and nothing is queued) for every node's
         * listener; delivered at commit, dropped on rollback. A backend may
         * hold them back and send them with the commit.
         * listen_open: opens a connection of its own (not the store's) that
         * receives every notify; *out owned by the caller (listen_close).
         * listen_fd: its socket, to watch for reading. listen_read: calls fn
         * once per notification received so far, payload valid during the
         * call; never blocks; BATON_ESTORE once the connection is lost (close
         * it and open another). Listener calls come from one thread, which
         * need not be the store thread. */
        bool shared;
        int (*leader_acquire)(struct store *st, const char *node, int64_t held_epoch,
                              int64_t now_ms, int64_t ttl_ms, int64_t lag_ms,
                              struct leader_rec *out);
        int (*leader_check)(struct store *st, const char *node, int64_t epoch);
        int (*leader_release)(struct store *st, const char *node, int64_t epoch);
        int (*leader_get)(struct store *st, struct leader_rec *out);
        int (*notify)(struct store *st, const char *const *payloads, int n);
        int (*listen_open)(const struct store_opts *opts, struct store_listener **out);
        int (*listen_fd)(struct store_listener *l);
        int (*listen_read)(struct store_listener *l, void (*fn)(void *ctx, const char *payload),
                           void *ctx);
        void (*listen_close)(struct store_listener *l);
        /* ---- version 5: queue limits and groups (core/groups.h) ----
         *
         * Claims of a queue with limits or groups read the queue's row with
         * lock set; a backend shared by several nodes takes a row lock there
         * (SELECT ... FOR UPDATE), so that those claims serialize on it and the
         * counters, rate windows and group rows they read stay exact until the
         * commit. SQLite needs no lock (one writer). Group rows are read with lock too. Core always
         * takes a queue's limits row (qlim_get with lock) before any of its group rows, in every
         * operation, so two operations cannot wait on each other's rows of one queue.
         *
         * qlim_get: the queue's settings and counters (depth and running are
         * totals); a queue with neither reads as every field 0, not as an
         * error. With lock the settings row is made first when missing, so
         * the lock holds; the counters are
         * read once the lock is held, so they include every count committed
         * before it. grouped is read, never written: whether the queue has a
         * group row (a group with ready or running jobs) at the time of the
         * read. qlim_put inserts or overwrites the settings and the sequence
         * fields (start_seq, serve_seq, nogroup_served, updated_at_ms), never
         * the counters: those change only through qlim_add.
         *
         * qlim_add (version 7) adds to depth and running. It takes no lock on
         * the settings row: a backend shared by several nodes keeps the
         * counters as shares, one per connection, that qlim_get sums, so the
         * nodes that enqueue, claim and settle on one queue never wait for
         * each other's counts. A limit is exact where core holds the settings
         * row (claims of a queue with concurrency or groups, enqueues of a
         * queue with max_depth); a count that drops without it (a settle)
         * makes the next check at most more cautious than needed. */
        int (*qlim_get)(struct store *st, const char *tenant, const char *queue, bool lock,
                        struct queue_limits *out);
        int (*qlim_put)(struct store *st, const struct queue_limits *q);
        int (*qlim_add)(struct store *st, const char *tenant, const char *queue,
                        int64_t depth_delta, int64_t running_delta);
        /* Groups. group_get: BATON_ENOTFOUND. group_put inserts or overwrites.
         * group_delete removes the row and its rate window log (no error when
         * absent). group_note_ready: the group gained a ready job of priority
         * prio: head becomes min(head, prio) (no write when that changes
         * nothing); a missing row is inserted with nothing running and served
         * = the queue's serve_seq (0 when the queue has no limits row), so a
         * new group joins the rotation behind the groups already waiting. */
        int (*group_get)(struct store *st, const char *tenant, const char *queue, const char *grp,
                         bool lock, struct group_rec *out);
        int (*group_put)(struct store *st, const struct group_rec *g);
        int (*group_delete)(struct store *st, const char *tenant, const char *queue,
                            const char *grp);
        int (*group_note_ready)(struct store *st, const char *tenant, const char *queue,
                                const char *grp, int prio);
        /* group_pick: up to max groups of the queue that are not blocked and
         * have a head, ordered by (head, served, grp): the next groups to serve.
         * *out is a malloc'd array owned by the caller (group_recs_free). */
        int (*group_pick)(struct store *st, const char *tenant, const char *queue, int max,
                          struct group_rec **out, int *n_out);
        /* group_unblock: every group of the queue whose until is in (0, now_ms]
         * gets until 0 and blocked = (gc > 0 and running >= gc). With all set,
         * every group of the queue gets that (after a change of settings).
         * group_next_until: the smallest until > 0 among the queue's groups
         * that have a head, 0 if none. */
        int (*group_unblock)(struct store *st, const char *tenant, const char *queue,
                             int64_t now_ms, int64_t gc, bool all);
        int (*group_next_until)(struct store *st, const char *tenant, const char *queue,
                                int64_t *at_ms);
        /* Ready jobs of one group (grp NULL: the jobs without a group) in claim
         * order (priority, run_at, id), at most max: ids and priorities. */
        int (*group_ready_ids)(struct store *st, const char *tenant, const char *queue,
                               const char *grp, int max, int64_t *ids, int *prios, int *n_out);
        /* Rate window logs: start number seq of (tenant, queue, grp) happened at
         * at_ms; grp "" is the queue's own log. rate_get: BATON_ENOTFOUND when
         * that start is not (or no longer) recorded. rate_put records a start
         * and deletes the starts numbered below keep_from. */
        int (*rate_get)(struct store *st, const char *tenant, const char *queue, const char *grp,
                        int64_t seq, int64_t *at_ms);
        int (*rate_put)(struct store *st, const char *tenant, const char *queue, const char *grp,
                        int64_t seq, int64_t at_ms, int64_t keep_from);
        /* Sets every start of (tenant, queue, grp) recorded after now_ms to
         * now_ms: starts the wall clock has stepped back past (core/groups.c). */
        int (*rate_clamp)(struct store *st, const char *tenant, const char *queue, const char *grp,
                          int64_t now_ms);

        /* ---- version 6: many rows in one call, for backends where each call
         * costs a round trip ----
         *
         * job_get_many: job_get of each of n ids (tenant NULL = any tenant),
         * in one statement where the backend can: the jobs found are appended
         * to out in ascending id order, those missing are skipped, and each
         * is locked like job_get's for the rest of the transaction. out NULL
         * reads only to lock and to keep: a backend with round trips may keep
         * the rows it read so that the job_get calls of the same transaction
         * answer from them until the job is written (core's store thread does
         * this for the jobs a batch's operations name, before they run); one
         * without (SQLite, whose single writer holds the whole store) then
         * does nothing. At most STORE_MANY_MAX ids; BATON_EINVAL beyond.
         *
         * group_ready_many: group_ready_ids of each of n_grps groups (no NULL
         * among them), at most per jobs each: group i's jobs are ids[i * per
         * ...] and prios[i * per ...], n_out[i] of them, in claim order. A
         * shared backend skips a ready job that another transaction holds
         * (SKIP LOCKED) instead of waiting for it, so a claim never waits on a
         * job row; busy[i] then says that group i has ready jobs this call
         * did not return although it asked for them, so the caller must not
         * judge the group by what it got (it is not empty, and a skipped job
         * may come first). Locks and keeps the rows like group_ready_ids.
         * At most STORE_MANY_MAX groups, per in 1..STORE_READ_PER_MAX. */
        int (*job_get_many)(struct store *st, const char *tenant, const int64_t *ids, int n,
                            struct job_vec *out);
        int (*group_ready_many)(struct store *st, const char *tenant, const char *queue,
                                const char *const *grps, int n_grps, int per, int64_t *ids,
                                int *prios, int *n_out, bool *busy);

        /* ---- version 9: the dependency cascade's work list (core/deps.h) ----
         *
         * A row (job_id, after_id) says: job job_id has ended and its children
         * with ids > after_id have not been resolved yet. Core writes one when
         * a cascade is larger than one transaction may handle, and the
         * leader's ticks continue from it, so that no ending is forgotten
         * across a crash. dep_work_put inserts or overwrites the row of job_id.
         * dep_work_next: up to max rows, ascending job_id (ids[i], afters[i]).
         * dep_work_move: if job_id's row has after_id from_after, sets it to
         * to_after, or deletes it when to_after < 0; a row that another
         * transaction rewrote meanwhile is left alone (no error), so a
         * cascade restarted for a job that ended again is not lost. job_purge
         * keeps every job that has a row (its children must still read its
         * final state), and deadlines says whether any row exists. */
        int (*dep_work_put)(struct store *st, int64_t job_id, int64_t after_id);
        int (*dep_work_next)(struct store *st, int max, int64_t *ids, int64_t *afters, int *n_out);
        int (*dep_work_move)(struct store *st, int64_t job_id, int64_t from_after,
                             int64_t to_after);
        /* ---- version 11: idempotency keys decided atomically ----
         *
         * idem_take: writes rec (its job_id may be 0, a placeholder that the
         * same transaction replaces with idem_put before it commits) if no
         * record holds (tenant, key), or if the record there has expired at
         * now_ms (expires_at <= now_ms) and is not a placeholder of this
         * transaction's; 0 then, and the key is this transaction's: a
         * concurrent idem_take of the same key on another connection waits
         * for this transaction to end, and then sees its record (or, after a
         * rollback, takes the key itself). Otherwise BATON_ECONFLICT and
         * *held (owned by the caller, idem_rec_free) is the live record,
         * committed by another transaction or written earlier by this one.
         * Exactly one of any number of concurrent takes of a key wins.
         *
         * idem_swap: replaces the record of (rec->tenant, rec->key) with rec
         * only if its job_id is still old_job_id (a record whose job no
         * longer exists, seen by idem_take); 0 when it did, BATON_ECONFLICT
         * when the record changed or went meanwhile. */
        int (*idem_take)(struct store *st, const struct idem_rec *rec, int64_t now_ms,
                         struct idem_rec *held);
        int (*idem_swap)(struct store *st, const struct idem_rec *rec, int64_t old_job_id);

        /* ---- version 14: the worker registry (core/workers.h) ----
         *
         * worker_seen: inserts the worker of n (first_seen = last_seen =
         * seen_ms, queues [queue] or [], its counts) or updates its row in
         * one statement: last_seen becomes the later of the two, info and
         * period_ms are replaced when given, queue is appended to queues
         * unless present or queues holds STORE_WORKER_QUEUES_MAX already,
         * and the counts are added. It cannot fail on data, so a backend
         * with round trips may defer it. worker_get: BATON_ENOTFOUND.
         * worker_list: workers of tenant with id > after (NULL = from the
         * start), in id order, at most limit; *out is a malloc'd array owned
         * by the caller (worker_recs_free). worker_jobs: ids (ascending) and
         * lease_ms of the tenant's running jobs leased to
         * worker whose lease_until is after now_ms, at most max.
         * worker_purge: deletes up to max workers whose last_seen < before_ms,
         * oldest first; *n_out deleted. */
        int (*worker_seen)(struct store *st, const struct worker_note *n);
        int (*worker_get)(struct store *st, const char *tenant, const char *id,
                          struct worker_rec *out);
        int (*worker_list)(struct store *st, const char *tenant, const char *after, int limit,
                           struct worker_rec **out, int *n_out);
        int (*worker_jobs)(struct store *st, const char *tenant, const char *worker, int64_t now_ms,
                           int max, int64_t *ids, int64_t *lease_ms, int *n_out);
        int (*worker_purge)(struct store *st, int64_t before_ms, int max, int *n_out);

        /* ---- version 14 also: unique_while "active" ----
         *
         * job_find_active: the id of a job of (tenant, queue) with this key
         * that has not ended (pending, scheduled, queued, running or
         * retrying; the lowest id if several), BATON_ENOTFOUND if none. Jobs
         * enqueued with unique_while "active" (job.unique_active) are unique
         * among these by a unique index, so job_insert and job_update answer
         * BATON_ECONFLICT for a second one, as for a pending key. */
        int (*job_find_active)(struct store *st, const char *tenant, const char *queue,
                               const char *key, int64_t *id_out);

        /* ---- version 19: the stats series (core/stats.h) ----
         *
         * stats_add adds n to the minute at_ms of (tenant, queue) as counted
         * by node (each node its own row, so nodes never wait on each other's
         * counts). stats_sample records each queue's depth and running
         * counters (queue_limits) as the gauges of minute at_ms by node, for
         * every queue with either above 0, and marks the minute sampled
         * (*n_out: the queues recorded). stats_range sums the minutes of
         * [from_ms, from_ms + step_ms * n) of one queue (queue NULL: every
         * queue of the tenant) into out[(at - from_ms) / step_ms]: the
         * counters added up, the gauges the largest of the sampled minutes
         * (STATS_UNSAMPLED where no minute was sampled; a queue with no gauge
         * row in a sampled minute counts 0). stats_purge deletes up to max
         * rows of minutes before before_ms. */
        int (*stats_add)(struct store *st, const char *tenant, const char *queue, const char *node,
                         int64_t at_ms, const int64_t *n);
        int (*stats_sample)(struct store *st, const char *node, int64_t at_ms, int *n_out);
        int (*stats_range)(struct store *st, const char *tenant, const char *queue, int64_t from_ms,
                           int64_t step_ms, int n, struct stats_point *out);
        int (*stats_purge)(struct store *st, int64_t before_ms, int max, int *n_out);

        /* ---- version 15: dashboard sessions ----
         *
         * session_insert: BATON_ECONFLICT on a duplicate id. session_delete:
         * BATON_ENOTFOUND when no row has id. session_list: the sessions of
         * key_id (NULL = every key) after the cursor (after_key_id,
         * after_created_ms, after_id; NULL after_id = from the start), in
         * (key_id, created_at, id) order, at most limit; *out is owned by the
         * caller (session_recs_free). */
        int (*session_insert)(struct store *st, const struct session_rec *r);
        int (*session_delete)(struct store *st, const char *id);
        int (*session_list)(struct store *st, const char *key_id, const char *after_key_id,
                            int64_t after_created_ms, const char *after_id, int limit,
                            struct session_rec **out, int *n_out);

        /* ---- version 16: the event log (core/events.h) ----
         *
         * event_insert appends the n events of v (their id is the store's:
         * v[i].id is ignored) as one write, once per transaction, just
         * before the commit. Readers must never see an event appear behind
         * one they have read: SQLite has one writer, so ids in commit order
         * are its rowids; PostgreSQL's are made of the transaction's id
         * (xid8 << 24, plus the event's index in its transaction), read only
         * below the oldest transaction still running (pg_events.c).
         *
         * event_scan looks at the events with id > after_id in id order, at
         * most max of them; those of tenant (NULL: every tenant) are
         * appended to *out (a malloc'd array owned by the caller,
         * event_recs_free; *n_out of them). *last_id gets the id of the last
         * event looked at (after_id when none); *full is true when the scan
         * stopped at max; *waiting when committed events past the readable
         * horizon exist (PostgreSQL: a transaction that began earlier is
         * still running), so that a look a few ms later finds more.
         *
         * event_purge deletes up to max events, oldest first, of those with
         * at < before_ms or beyond the newest keep (keep 0: no count bound);
         * *n_out deleted. */
        int (*event_insert)(struct store *st, const struct event_rec *v, int n);
        int (*event_scan)(struct store *st, const char *tenant, int64_t after_id, int max,
                          struct event_rec **out, int *n_out, int64_t *last_id, bool *full,
                          bool *waiting);
        int (*event_purge)(struct store *st, int64_t before_ms, int64_t keep, int max, int *n_out);
};

#define STORE_MANY_MAX 4096
#define STORE_READ_PER_MAX 8

/* Grows *v (an array of *cap records of size sz, owned by the caller) so that
 * it holds one more than n: doubles, from 16. 0 or BATON_ENOMEM (*v kept). */
int store_grow(void **v, int n, int *cap, size_t sz);
void idem_rec_free(struct idem_rec *r);
void queue_rec_free(struct queue_rec *q);
void qref_free(struct qref *q);
void key_rec_free(struct key_rec *k);
/* Frees n records and the array. */
void key_recs_free(struct key_rec *v, int n);
void audit_rec_free(struct audit_rec *r);
void audit_recs_free(struct audit_rec *v, int n);
void cron_rec_free(struct cron_rec *r);
void cron_recs_free(struct cron_rec *v, int n);
void cron_run_free(struct cron_run *r);
void cron_runs_free(struct cron_run *v, int n);

void timer_rec_free(struct timer_rec *t);
void queue_limits_free(struct queue_limits *q);
void group_rec_free(struct group_rec *g);
/* Frees n records and the array. */
void group_recs_free(struct group_rec *v, int n);
void flow_rec_free(struct flow_rec *f);
void worker_rec_free(struct worker_rec *w);
/* Frees n records and the array. */
void worker_recs_free(struct worker_rec *v, int n);
void event_rec_free(struct event_rec *e);
/* Frees n records and the array. */
void event_recs_free(struct event_rec *v, int n);
/* Frees n records and the array. */
void timer_recs_free(struct timer_rec *v, int n);
void session_rec_free(struct session_rec *r);
/* Frees n records and the array. */
void session_recs_free(struct session_rec *v, int n);

/* The rule of leader_acquire (see store_ops), shared by the backends: given
 * the lease as stored (cur) and the call's arguments, fills *next with the
 * lease after the call and returns true when it must be written (a take or a
 * renewal), false when it stays with another holder. shared says whether other
 * processes may hold it (when not, the caller always gets it). */
bool store_leader_decide(const struct leader_rec *cur, const char *node, int64_t held_epoch,
                         int64_t now_ms, int64_t ttl_ms, int64_t lag_ms, bool shared,
                         struct leader_rec *next);

/* Backends. */
extern const struct store_ops store_sqlite_ops;
#ifdef BATON_HAVE_POSTGRES
extern const struct store_ops store_postgres_ops;
#endif

#endif
