/*
 * baton.h: the public API of baton, the one installed header.
 *
 * It holds libbaton, the C client library that talks HTTP/JSON to batond, and
 * the error codes its calls return (0 or a negative value of enum baton_err).
 * The client is synchronous: one struct baton_client per thread; each call
 * performs one HTTP request. libbaton exports only the baton_* names declared
 * here. (The server uses the same codes and a few of its own, -12, -13 and
 * -21, which no client call returns; they are in its internal headers.)
 */
#ifndef BATON_BATON_H
#define BATON_BATON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of baton this header belongs to: batond, libbaton and the
 * baton command are released together (`batond --version`, `baton
 * --version`). */
#define BATON_VERSION "0.1.0"

/* libbaton is built with hidden visibility: what is declared here, and
 * nothing else, is exported. */
#pragma GCC visibility push(default)

/* Every function in baton returns 0 or one of these negative codes. */
enum baton_err {
        BATON_OK = 0,
        BATON_ENOMEM = -1,    /* allocation failed */
        BATON_EINVAL = -2,    /* invalid argument or input (HTTP 400) */
        BATON_ENOTFOUND = -3, /* no such object in this tenant (HTTP 404) */
        BATON_ECONFLICT = -4, /* generic conflict (HTTP 409) */
        BATON_ELEASE = -5,    /* lease token is not the current one: lease_mismatch (409) */
        BATON_EEXPIRED = -6,  /* the lease expired before the call: lease_expired (409) */
        BATON_EIDEM = -7,     /* idempotency key reused with another payload (409) */
        BATON_ESTATE = -8,    /* operation not allowed in the job's state (409) */
        BATON_ETOOBIG = -9,   /* input over a size limit (HTTP 413) */
        BATON_ESTORE = -10,   /* the store failed; nothing was applied (HTTP 503) */
        BATON_EBUSY = -11,    /* unavailable or overloaded, retry later (HTTP 503) */
        /* -12 and -13 are the server's own (never returned by libbaton). */
        BATON_ESHUTDOWN = -14,  /* the server is shutting down */
        BATON_EHTTP = -15,      /* transport failure talking to the server (client) */
        BATON_EPROTO = -16,     /* unexpected answer from the server (client) */
        BATON_EAUTH = -17,      /* missing or unknown API key (HTTP 401) */
        BATON_EFORBIDDEN = -18, /* missing scope (HTTP 403) */
        BATON_ERATE = -19,      /* rate limited (HTTP 429) */
        BATON_ERANGE = -20,     /* numeric value out of its allowed range (HTTP 400) */
};

/* Returns a static, human-readable description of an error code. */
const char *baton_strerror(int rc);

/* ---- libbaton: client API (below this line) ---- */

/*
 * libbaton in brief. A struct baton_client holds one libcurl easy handle, so the
 * connection to batond is kept alive and reused from call to call; it is not
 * thread-safe: use one client per thread. Every call performs one HTTP request
 * and returns 0 or a negative enum baton_err; the details of the last failure
 * (HTTP status, the API's error code, message, field, Retry-After) are kept in
 * the client until its next call (baton_client_last_error).
 *
 * Ownership: every object handed out through an out-parameter (struct baton_job,
 * struct baton_jobs, struct baton_queue, struct baton_queues, struct baton_key,
 * struct baton_keys, struct baton_audit, response bodies of baton_request, the
 * JSON answers of the cron, timer and flow calls) belongs to the caller and is
 * released with the matching *_free function (free() for response bodies and
 * JSON answers); all strings inside such an object belong to it and stay
 * valid until it is freed. Input strings are only read during the call.
 * JSON-valued inputs (payload, result, progress, backoff, extra) are JSON text
 * that is sent as given: the library does not parse it, the server validates it
 * (invalid text is refused with 400 invalid_json / BATON_EINVAL).
 */

#include <stdbool.h>

struct baton_client;

/* Creates a client for the server at url ("http://127.0.0.1:7700", without a
 * trailing /v1). api_key may be NULL (no Authorization header); otherwise it is
 * sent as "Authorization: Bearer <api_key>". *out is owned by the caller and
 * freed with baton_client_free. */
int baton_client_new(const char *url, const char *api_key, struct baton_client **out);
/* Closes the connection and frees the client. NULL is a no-op. */
void baton_client_free(struct baton_client *c);

/* Transport timeout of each call (default 30,000 ms). Calls that wait on the
 * server (claim and get with wait_ms) add their wait to it, so a long poll is
 * never cut short by the client. */
void baton_client_set_timeout_ms(struct baton_client *c, int64_t timeout_ms);
/* Time allowed to establish a connection (default 5,000 ms). */
void baton_client_set_connect_timeout_ms(struct baton_client *c, int64_t timeout_ms);
/* For an https:// url: the PEM file of the certificate authorities to trust
 * (a self-signed server certificate is its own), instead of the system's.
 * NULL restores the system's. The path is copied. Returns 0 or BATON_ENOMEM. */
int baton_client_set_ca_file(struct baton_client *c, const char *path);
/* X-Request-Id sent with every following call (1-128 printable ASCII), or NULL
 * to send none (the server then generates one). The string is copied. */
int baton_client_set_request_id(struct baton_client *c, const char *request_id);
/* The worker's `info` (docs/api.md "Workers": host, pid, version, labels) sent
 * with every following baton_claim of this client, as JSON object text
 * ("{\"host\":\"box-7\",\"pid\":4242,\"labels\":{\"zone\":\"eu-1\"}}"); NULL
 * sends none again (the registry then keeps the info it has). The text is
 * checked to be one JSON object (no duplicate member) and copied; its members
 * and their bounds are the server's to judge, on the next claim. Returns 0,
 * BATON_EINVAL (not a JSON object; the reason in baton_client_last_error,
 * the info set before kept) or BATON_ENOMEM. Added in libbaton 0.1.1 (the
 * SONAME stays libbaton.so.1). */
int baton_client_set_worker_info(struct baton_client *c, const char *info_json);

/* What the last call learned about its failure (or success: status and
 * request_id are filled for every answer). */
struct baton_error {
        int rc;                /* the call's return value (0 or enum baton_err) */
        int http_status;       /* 0 when no HTTP answer arrived (transport error) */
        char code[64];         /* the API's error code ("lease_mismatch"), "" if none */
        char message[512];     /* the server's message, or the transport error text */
        char field[128];       /* the offending field ("jobs[3].queue"), "" if none */
        int64_t retry_after_s; /* Retry-After in seconds, -1 when absent */
        char request_id[132];  /* X-Request-Id of the answer, "" if none */
};
/* Points into the client: valid until its next call; never NULL. */
const struct baton_error *baton_client_last_error(const struct baton_client *c);

/* Maps an API error code (and the HTTP status when the code is unknown) to
 * enum baton_err, as every call of this library does: lease_mismatch ->
 * BATON_ELEASE, lease_expired -> BATON_EEXPIRED, idempotency_conflict ->
 * BATON_EIDEM, invalid_state -> BATON_ESTATE, already_settled and other 409s ->
 * BATON_ECONFLICT, 404 -> BATON_ENOTFOUND, 413 -> BATON_ETOOBIG,
 * *_out_of_range -> BATON_ERANGE, other 400s and 405 -> BATON_EINVAL, 401 ->
 * BATON_EAUTH (unauthenticated), 403 -> BATON_EFORBIDDEN (forbidden: the
 * message names the missing scope), 429 -> BATON_ERATE (rate_limited: wait
 * retry_after_s of baton_client_last_error before calling again), 503
 * store_unavailable -> BATON_ESTORE, shutting_down -> BATON_ESHUTDOWN, other
 * 503s -> BATON_EBUSY. code may be NULL. */
int baton_err_from_api(int http_status, const char *code);

/*
 * Raw call: method ("GET", "POST", "PATCH", "DELETE"), path with query
 * ("/v1/jobs?queue=a"), body JSON text or NULL. Returns 0 whenever the server
 * answered, whatever the status (*status holds it, and for 4xx/5xx the error
 * details are in baton_client_last_error), or a negative code when no answer
 * arrived (BATON_EHTTP). *body_out (may be NULL to discard) receives the answer
 * body, NUL-terminated, owned by the caller and released with free().
 */
int baton_request(struct baton_client *c, const char *method, const char *path, const char *body,
                  int *status, char **body_out);

/* ---- jobs ---- */

enum baton_state {
        BATON_STATE_UNKNOWN = 0, /* a state this library does not know */
        BATON_STATE_PENDING,
        BATON_STATE_SCHEDULED,
        BATON_STATE_QUEUED,
        BATON_STATE_RUNNING,
        BATON_STATE_RETRYING,
        BATON_STATE_COMPLETED,
        BATON_STATE_DEAD,
        BATON_STATE_CANCELLED
};

enum baton_priority {
        BATON_PRIORITY_DEFAULT = 0, /* in requests: let the server choose (normal) */
        BATON_PRIORITY_CRITICAL,
        BATON_PRIORITY_HIGH,
        BATON_PRIORITY_NORMAL,
        BATON_PRIORITY_LOW
};

/* Static names ("queued", "critical"); "unknown" / "default" for 0. */
const char *baton_state_name(enum baton_state s);
const char *baton_priority_name(enum baton_priority p);
/* Parses a name; returns BATON_STATE_UNKNOWN / BATON_PRIORITY_DEFAULT when
 * the name is not one of the API's. */
enum baton_state baton_state_parse(const char *name);
enum baton_priority baton_priority_parse(const char *name);
/* True for completed, dead and cancelled. */
bool baton_state_terminal(enum baton_state s);

/*
 * A job as the server described it. Strings are NULL when the server sent null
 * or nothing. JSON-valued members (payload, result, progress) are compact JSON
 * text. Times are Unix milliseconds, 0 when unset; the RFC 3339 text of any
 * other field is in the whole object (baton_job_json).
 */
struct baton_job {
        const char *id;
        const char *queue;
        const char *type;
        enum baton_state state;
        enum baton_priority priority;
        int attempt;
        int max_attempts;
        int64_t version;
        int64_t lease_ms;
        int64_t run_at_ms;
        int64_t created_at_ms;
        int64_t started_at_ms;
        int64_t finished_at_ms;
        const char *lease; /* only in the answer to the claim that created it */
        int64_t lease_until_ms;
        const char *worker;
        const char *payload;  /* JSON text; "null" when the job has none */
        const char *result;   /* JSON text or NULL */
        const char *progress; /* JSON text or NULL */
        const char *last_error;
        const char *idempotency_key;
        const char *key;
        const char *request_id;
        const char *execution_id;
        const char *traceparent;
        const char *group; /* NULL when the job has none */
        bool cancel_requested;
        const char *cancel_reason;
        /* How the answer qualified this job: an idempotent or keyed repeat of an
         * enqueue (duplicate), a keyed replace (replaced), a settle already applied
         * with this lease (repeat). */
        bool duplicate;
        bool replaced;
        bool repeat;
        struct baton_job_priv *priv; /* library-internal */
};

/* The whole job object as compact JSON text (every field, including attempts,
 * steps, backoff and timestamps). Built on first use; owned by the job. NULL
 * only when memory runs out. */
const char *baton_job_json(struct baton_job *j);
/* Frees a job returned on its own. NULL is a no-op. Never call it on an element
 * of struct baton_jobs. */
void baton_job_free(struct baton_job *j);

/* A list of jobs (claim, batch enqueue, list, dead list). */
struct baton_jobs {
        size_t n;
        struct baton_job *v; /* n jobs, owned by the list */
        char *next;          /* cursor of the next page, NULL on the last one */
};
/* Frees the list and every job in it. NULL is a no-op. */
void baton_jobs_free(struct baton_jobs *l);

/* Enqueue options. A zeroed struct plus queue and type is a valid request: every
 * zero or NULL member is left out and takes the server's default. Negative
 * numbers are sent as given (the server refuses them). */
struct baton_enqueue_opts {
        const char *queue;   /* required */
        const char *type;    /* required */
        const char *payload; /* JSON text; NULL = null */
        enum baton_priority priority;
        int64_t delay_ms;
        const char *run_at; /* RFC 3339; not with delay_ms */
        int max_attempts;
        const char *backoff; /* JSON object text, e.g. {"type":"immediate"} */
        int64_t lease_ms;
        const char *idempotency_key;
        const char *key;
        const char *on_key; /* "keep" (server default) or "replace" */
        const char *request_id;
        const char *execution_id;
        const char *traceparent;
        /* Parent job ids (docs/api.md "Dependencies and flows"): the job stays
         * pending until every parent completed. n_depends_on 0 = none (the
         * array is then not read); the server allows up to 100. */
        const char *const *depends_on;
        size_t n_depends_on;
        const char *on_parent_failure; /* "cancel" (server default) or "run" */
        /* JSON object text whose members are added to the job as they are, for
         * fields this struct does not name. NULL = none. */
        const char *extra;
        /* The job's group within its queue (docs/api.md "Queue limits, groups
         * and fairness"); NULL = none. */
        const char *group;
};

/* Enqueues one job. *out (may be NULL when the caller does not need the job) is
 * owned by the caller; out->duplicate / out->replaced tell a repeat from a new
 * job. With out NULL the call sends "Prefer: return=minimal" (docs/api.md): the
 * server answers id, state and version only, which nothing reads. */
int baton_enqueue(struct baton_client *c, const struct baton_enqueue_opts *o,
                  struct baton_job **out);
/* Enqueues n jobs (1 ... the server's batch max) atomically: all or none. *out
 * (may be NULL, which asks for the short answer as baton_enqueue does) holds
 * them in request order, owned by the caller. When one is
 * refused, baton_client_last_error names it in field ("jobs[3].queue"). */
int baton_enqueue_batch(struct baton_client *c, const struct baton_enqueue_opts *o, size_t n,
                        struct baton_jobs **out);

/* Reads a job. With wait_ms > 0 the server answers when the job is terminal or
 * the time is up, whichever is first. *out owned by the caller. */
int baton_job_get(struct baton_client *c, const char *id, int64_t wait_ms, struct baton_job **out);

struct baton_list_opts {
        const char *queue; /* NULL = every queue */
        const char *state; /* state name; NULL = any */
        const char *type;
        int limit;         /* 0 = server default (100) */
        const char *after; /* cursor from the previous page's next; NULL = first */
};
/* Lists jobs ascending by id. opts may be NULL. *out owned by the caller. */
int baton_job_list(struct baton_client *c, const struct baton_list_opts *opts,
                   struct baton_jobs **out);
/* Cancels a job (a running one is only marked cancel_requested). *out may be
 * NULL; otherwise owned by the caller. */
int baton_job_cancel(struct baton_client *c, const char *id, struct baton_job **out);
/* Runs a dead or cancelled job again. *out may be NULL; owned by the caller. */
int baton_job_retry(struct baton_client *c, const char *id, struct baton_job **out);

/* ---- work ---- */

struct baton_claim_opts {
        const char *worker; /* required */
        int max;            /* 0 = server default (1) */
        int64_t wait_ms;    /* 0 = answer at once */
        int64_t lease_ms;   /* 0 = each job's own */
};
/* Leases up to max queued jobs of queue; each carries its lease token. An
 * empty list (n == 0) means nothing was ready within wait_ms. *out owned by the
 * caller. */
int baton_claim(struct baton_client *c, const char *queue, const struct baton_claim_opts *o,
                struct baton_jobs **out);

struct baton_heartbeat_res {
        int64_t lease_until_ms;
        bool cancel_requested;
};
/* Extends the lease by extend_ms (0 = the job's lease_ms) and stores progress
 * (JSON object text {percent, step, message}, or NULL). res may be NULL. */
int baton_heartbeat(struct baton_client *c, const char *id, const char *lease, int64_t extend_ms,
                    const char *progress, struct baton_heartbeat_res *res);
/* Completes the attempt holding lease with result (JSON text, NULL = null).
 * *out may be NULL; owned by the caller; out->repeat marks a repeated call. */
int baton_complete(struct baton_client *c, const char *id, const char *lease, const char *result,
                   struct baton_job **out);
/* Fails the attempt holding lease. retryable false sends the job to dead;
 * retry_in_ms >= 0 overrides the backoff, < 0 uses it. *out as for complete. */
int baton_fail(struct baton_client *c, const char *id, const char *lease, const char *error,
               bool retryable, int64_t retry_in_ms, struct baton_job **out);

enum baton_outcome { BATON_OUTCOME_COMPLETE = 0, BATON_OUTCOME_FAIL = 1 };

/* One attempt to settle in a batch. Inputs first; rc and code are filled by
 * baton_settle with the item's own answer. */
struct baton_settle_item {
        const char *id;
        const char *lease;
        enum baton_outcome outcome;
        const char *result;  /* complete: JSON text, NULL = null */
        const char *error;   /* fail: text */
        bool not_retryable;  /* fail: go straight to dead */
        int64_t retry_in_ms; /* fail: >= 0 overrides the backoff; set -1 for the policy */
        int rc;              /* out: 0 or enum baton_err */
        char code[64];       /* out: the API error code, "" when settled */
};
/* Settles n attempts in one request. Returns 0 when the server answered every
 * item (each item's rc says how it went), or a negative code when the request as
 * a whole was refused. */
int baton_settle(struct baton_client *c, struct baton_settle_item *items, size_t n);

/* ---- queues and dead letters ---- */

struct baton_queue_counts {
        int64_t pending, scheduled, queued, running, retrying, completed, dead, cancelled;
};

struct baton_queue {
        const char *name;
        bool paused;
        struct baton_queue_counts counts;
        int64_t oldest_ready_age_ms; /* -1 when the server sent null */
        /* Settings (docs/api.md "Queue settings"): 0 when the queue has no such
         * limit. */
        int64_t concurrency;
        int64_t rate_max, rate_per_ms;
        int64_t max_depth;
        int64_t group_concurrency;
        int64_t group_rate_max, group_rate_per_ms;
        int64_t running;               /* running jobs, as the limits count them */
        int64_t depth;                 /* jobs not yet terminal, as max_depth counts them */
        struct baton_queue_priv *priv; /* library-internal */
};
/* The whole queue object as compact JSON text (defaults included); owned by
 * the queue. NULL only when memory runs out. */
const char *baton_queue_json(struct baton_queue *q);
/* Frees a queue returned on its own. NULL is a no-op. */
void baton_queue_free(struct baton_queue *q);

struct baton_queues {
        size_t n;
        struct baton_queue *v;
        char *next; /* NULL on the last page */
};
void baton_queues_free(struct baton_queues *l);

/* *out owned by the caller. */
int baton_queue_get(struct baton_client *c, const char *name, struct baton_queue **out);
/* limit 0 = server default; after NULL = first page. *out owned by the caller. */
int baton_queue_list(struct baton_client *c, int limit, const char *after,
                     struct baton_queues **out);
/* Pauses (paused true) or resumes a queue. *out may be NULL; owned by the caller. */
int baton_queue_pause(struct baton_client *c, const char *name, bool paused,
                      struct baton_queue **out);
/* Changes queue settings: settings is the JSON object text of PATCH
 * /v1/queues/{queue}, e.g. {"concurrency": 4, "rate": {"max": 5, "per_ms":
 * 1000}, "group_concurrency": 1}; null removes a limit or a default. Nothing
 * changes when one setting is refused (BATON_EINVAL / BATON_ERANGE with the
 * setting in the error's field). *out may be NULL; owned by the caller. */
int baton_queue_set(struct baton_client *c, const char *name, const char *settings,
                    struct baton_queue **out);

/* Dead jobs of a queue, a page at a time. *out owned by the caller. */
int baton_dead_list(struct baton_client *c, const char *queue, int limit, const char *after,
                    struct baton_jobs **out);
/* Replays the n given dead jobs, or every one with all (ids ignored). *replayed
 * (may be NULL) receives how many became queued. */
int baton_dead_replay(struct baton_client *c, const char *queue, const char *const *ids, size_t n,
                      bool all, int64_t *replayed);
/* Deletes the dead jobs of a queue (up to the server's replay max per call). */
int baton_dead_purge(struct baton_client *c, const char *queue, int64_t *purged);

/* ---- API keys and the audit log ---- */

/*
 * An API key as the server described it (GET /v1/keys never includes the
 * secret). Strings are NULL when the server sent null or nothing; times are Unix
 * milliseconds, 0 when unset. scopes holds n_scopes scope names ("jobs:write",
 * "admin", ...). The whole object, with members this struct does not name, is
 * available as JSON text through baton_key_json.
 *
 * Ownership: a struct baton_key returned on its own is owned by the caller and
 * freed with baton_key_free; every string and the scopes array belong to it.
 */
struct baton_key {
        const char *id;
        /* The secret token: only from create and rotate (the answer's "secret",
         * beside the key object; baton_key_json never holds it). */
        const char *key;
        const char *name;
        const char *tenant;
        const char *state;      /* "active", "revoked" or "expired" */
        const char *created_by; /* id of the key that created it, or "bootstrap" */
        const char *const *scopes;
        size_t n_scopes;
        int64_t created_at_ms;
        int64_t expires_at_ms;           /* 0 = never */
        int64_t revoked_at_ms;           /* 0 = not revoked */
        int64_t rotated_at_ms;           /* 0 = never rotated */
        int64_t previous_valid_until_ms; /* end of a rotation's grace period, 0 = none */
        int64_t rate_max;                /* rate_limit.max; 0 = the server's default */
        int64_t rate_per_ms;             /* rate_limit.per_ms */
        struct baton_key_priv *priv;     /* library-internal */
};
/* The whole key object as compact JSON text, owned by the key. NULL only when
 * memory runs out. */
const char *baton_key_json(struct baton_key *k);
/* Frees a key returned on its own (never an element of struct baton_keys).
 * NULL is a no-op. */
void baton_key_free(struct baton_key *k);

struct baton_keys {
        size_t n;
        struct baton_key *v; /* owned by the list */
        char *next;          /* NULL on the last page */
};
/* Frees the list and every key in it. NULL is a no-op. */
void baton_keys_free(struct baton_keys *l);

/* Key creation. A zeroed struct plus name is a request for a key of the
 * caller's own tenant with no scopes; NULL / 0 members are left out. */
struct baton_key_opts {
        const char *name;          /* required */
        const char *tenant;        /* NULL = the caller's tenant */
        const char *const *scopes; /* n_scopes scope names */
        size_t n_scopes;
        const char *expires_at;        /* RFC 3339; NULL = never */
        int64_t rate_max, rate_per_ms; /* both 0 = the server's default */
};

/* POST /v1/keys. *out (owned by the caller) carries the secret in out->key: it
 * is shown only in this answer. Keys for a tenant other than the caller's need
 * admin on tenant default. */
int baton_key_create(struct baton_client *c, const struct baton_key_opts *o,
                     struct baton_key **out);
/* GET /v1/keys: tenant NULL = the caller's (the root admin may name one, or
 * "*" for every tenant), limit 0 =
 * server default, after NULL = first page. *out owned by the caller. */
int baton_key_list(struct baton_client *c, const char *tenant, int limit, const char *after,
                   struct baton_keys **out);
/* DELETE /v1/keys/{id}: revokes the key, effective on the next request. *out
 * may be NULL; otherwise owned by the caller. */
int baton_key_revoke(struct baton_client *c, const char *id, struct baton_key **out);
/* POST /v1/keys/{id}/rotate: a new secret (in (*out)->key); the old one stays
 * valid for grace_ms (0 = not at all, < 0 = the server's default). *out owned
 * by the caller. */
int baton_key_rotate(struct baton_client *c, const char *id, int64_t grace_ms,
                     struct baton_key **out);

/* One audit log entry. Strings NULL when absent; detail is JSON text or NULL. */
struct baton_audit_entry {
        const char *id;
        int64_t at_ms;
        const char *key_id;
        const char *tenant;
        const char *action; /* "keys.create", "queue.update", "dead.replay", ... */
        const char *target;
        const char *request_id;
        int status;         /* the HTTP status the audited call was answered with */
        const char *code;   /* its error code, NULL on success */
        const char *detail; /* JSON text or NULL */
};

struct baton_audit {
        size_t n;
        struct baton_audit_entry *v;   /* owned by the list, strings too */
        char *next;                    /* NULL on the last page */
        struct baton_audit_priv *priv; /* library-internal */
};
void baton_audit_free(struct baton_audit *l);

struct baton_audit_filter {
        const char *action; /* NULL = any */
        const char *key_id; /* NULL = any */
        const char *tenant; /* NULL = the caller's (admin may name any) */
        int limit;          /* 0 = server default */
        const char *after;  /* cursor; NULL = first page */
};
/* GET /v1/audit (admin). f may be NULL. *out owned by the caller. */
int baton_audit_list(struct baton_client *c, const struct baton_audit_filter *f,
                     struct baton_audit **out);

/* ---- operations ---- */

/* 0 when GET /healthz answers 200 {"status": "ok"}. */
int baton_health(struct baton_client *c);
/* 0 when GET /readyz answers 200; 503 gives BATON_EBUSY (or the mapped code). */
int baton_ready(struct baton_client *c);

/* ---- cron schedules ----
 *
 * JSON pass-through calls: the schedule definition, registry and preview
 * request are JSON text sent as given (docs/api.md "Cron" lists the members);
 * every answer is handed back as the server's JSON object in *answer
 * (NUL-terminated, owned by the caller, released with free(); NULL on failure;
 * answer may be NULL to discard it). key is a schedule key. */

/* PUT /v1/cron/{key}: creates (201, "created": true) or updates a schedule. */
int baton_cron_put(struct baton_client *c, const char *key, const char *definition, char **answer);
/* GET /v1/cron/{key}: {"schedule": {...}}; BATON_ENOTFOUND when absent. */
int baton_cron_get(struct baton_client *c, const char *key, char **answer);
/* GET /v1/cron: {"schedules": [...], "next"}; limit 0 = server default,
 * after = the previous page's "next" or NULL. */
int baton_cron_list(struct baton_client *c, int limit, const char *after, char **answer);
/* DELETE /v1/cron/{key}. */
int baton_cron_delete(struct baton_client *c, const char *key);
/* POST /v1/cron/{key}/pause with an optional note (may be NULL). */
int baton_cron_pause(struct baton_client *c, const char *key, const char *note, char **answer);
/* POST /v1/cron/{key}/resume. */
int baton_cron_resume(struct baton_client *c, const char *key, char **answer);
/* POST /v1/cron/{key}/run: {"run": {...}} (202). BATON_ECONFLICT when a run is
 * still going (already_running; force starts another), BATON_ERATE when the
 * manual-run cooldown refuses it. */
int baton_cron_run(struct baton_client *c, const char *key, bool force, char **answer);
/* GET /v1/cron/{key}/runs: {"runs": [...], "next"}, newest first. */
int baton_cron_runs(struct baton_client *c, const char *key, int limit, const char *after,
                    char **answer);
/* POST /v1/cron/preview: request is {"cron", "timezone", "count", "from",
 * "dst_gap", "dst_fold"}; the answer says valid or not and lists "fires". */
int baton_cron_preview(struct baton_client *c, const char *request, char **answer);
/* PUT /v1/cron: applies a registry {"schedules": [...], "prune": bool}. Needs
 * a server with the registry route (older ones answer 404/405). */
int baton_cron_apply(struct baton_client *c, const char *registry, char **answer);

/* ---- durable timers and flows ----
 *
 * JSON pass-through calls like the cron ones (docs/api.md "Timers" and
 * "Dependencies and flows" list the members): a timer definition and a flow
 * are JSON text sent as given; every answer is the server's JSON object,
 * handed back in *answer (NUL-terminated, owned by the caller, released with
 * free(); NULL on failure; answer may be NULL to discard it). key is a timer
 * key (percent-encoded by the library); id a flow id. */

/* PUT /v1/timers/{key}: creates (version 1) or moves a timer. definition is
 * {"queue", "type", "payload", "fire_at" | "delay_ms", "if_version",
 * "priority", "max_attempts", "backoff", "lease_ms"}; the answer is
 * {"timer": {...}}. BATON_ECONFLICT (code version_mismatch) when if_version does not
 * match, BATON_ENOTFOUND when if_version >= 1 names a missing key. */
int baton_timer_put(struct baton_client *c, const char *key, const char *definition, char **answer);
/* GET /v1/timers/{key}: {"timer": {...}}; BATON_ENOTFOUND when absent. */
int baton_timer_get(struct baton_client *c, const char *key, char **answer);
/* GET /v1/timers: {"timers": [...], "next"} in key order, every state.
 * prefix NULL = all, limit 0 = server default, after = the previous page's
 * "next" or NULL. */
int baton_timer_list(struct baton_client *c, const char *prefix, int limit, const char *after,
                     char **answer);
/* DELETE /v1/timers/{key}[?if_version=N]: cancels the scheduled version; the
 * answer is {"timer": {...}}. if_version 0 = no check; otherwise the timer must be at
 * that version (BATON_ECONFLICT, code version_mismatch). A timer whose current
 * version already fired gives BATON_ESTATE (invalid_state). */
int baton_timer_cancel(struct baton_client *c, const char *key, int64_t if_version, char **answer);
/* POST /v1/flows: flow is {"jobs": [{"ref", "queue", "type", "depends_on":
 * [refs or ids], ...}, ...]}, inserted atomically; the answer is {"flow": {"id",
 * "state", "created_at", "jobs": [...], "next": null}}. Errors name the field
 * (jobs[i].depends_on[k]) in baton_client_last_error. */
int baton_flow_create(struct baton_client *c, const char *flow, char **answer);
/* GET /v1/flows/{id}: {"flow": {...}} with every job's current state; "state"
 * is running, completed or failed. BATON_ENOTFOUND when absent. */
int baton_flow_get(struct baton_client *c, const char *id, char **answer);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif
