/*
 * api_internal.h: what the api_*.c files share and nothing outside them uses:
 * the handlers the route table points at, the submit and answer helpers, and
 * the request parsing helpers of api_parse.c.
 *
 * The parsing helpers follow one pattern: they read one field of a JSON object
 * (or one query argument), fill a struct verr naming the field with its full
 * path ("jobs[3].queue") when the value is unacceptable, and return 0 or the
 * verr's negative code. An absent optional field leaves *present false; JSON
 * null counts as absent for every optional field.
 */
#ifndef BATON_SERVER_API_INTERNAL_H
#define BATON_SERVER_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/jw.h"
#include "core/jobs.h"
#include "core/validate.h"
#include "server/api.h"
#include "server/http.h"

/* Longest decimal int64 plus sign and NUL. */
#define API_ID_LEN 24
/* The members of a job to enqueue (api_enqueue_parse; docs/api.md, "Enqueue"). */
#define API_JOB_FIELDS                                                                             \
        "queue type payload priority idempotency_key key on_key request_id execution_id "          \
        "traceparent group max_attempts lease_ms timeout_ms delay_ms run_at backoff depends_on "   \
        "on_parent_failure unique_while"
/* The members of the other request objects (docs/api.md, "Strict input"):
 * a claim, a heartbeat, a complete and a fail (a /v1/settle item takes its
 * outcome's members plus id and outcome), and a cron job template (what
 * core/cron_spec.c keeps of it). */
#define API_CLAIM_FIELDS "worker max wait_ms lease_ms info"
#define API_HEARTBEAT_FIELDS "lease extend_ms progress"
#define API_COMPLETE_FIELDS "lease result"
#define API_FAIL_FIELDS "lease error retryable retry_in_ms"
#define API_CRON_JOB_FIELDS                                                                        \
        "queue type payload priority max_attempts lease_ms timeout_ms backoff group"
/* Default page size of the lists (docs/api.md, "Pagination"). */
#define API_LIST_DEFAULT 100

/* ---- handlers (api_jobs.c, api_work.c, api_queues.c, api_ops.c) ---- */

void api_jobs_enqueue(struct http_req *hr);
void api_jobs_list(struct http_req *hr); /* api_find.c */
void api_jobs_bulk(struct http_req *hr); /* api_find.c */
/* 409 already_running for element failed of res (n elements, the jobs of one
 * atomic request; field prefix "jobs[3]" or ""), refused under unique_while
 * active: the error names the holder (res[failed].held_id). A holder among
 * the request's own elements (rolled back with it) is 400 invalid_field:
 * the request repeats the key. key: the element's key. */
void api_unique_reply(struct http_req *hr, const char *prefix, const struct enqueue_res *res, int n,
                      int failed, const char *key);
void api_jobs_get(struct http_req *hr);
void api_jobs_cancel(struct http_req *hr);
void api_jobs_retry(struct http_req *hr);
/* api_jobops.c */
void api_jobs_promote(struct http_req *hr);
void api_jobs_purge(struct http_req *hr);
void api_jobs_patch(struct http_req *hr);
void api_queues_drain(struct http_req *hr);
void api_queues_delete(struct http_req *hr);

void api_work_claim(struct http_req *hr);
void api_work_heartbeat(struct http_req *hr);
void api_work_complete(struct http_req *hr);
void api_work_fail(struct http_req *hr);
void api_work_settle(struct http_req *hr);

/* The worker registry (api_workers.c). api_worker_info_parse checks a
 * claim's info (NULL or null: none) and gives its JSON text in *out (caller
 * frees; NULL when none) or fills e. */
void api_workers_list(struct http_req *hr);
void api_workers_get(struct http_req *hr);
/* GET /v1/stats (api_stats.c). */
void api_stats_get(struct http_req *hr);
int api_worker_info_parse(json_t *info, char **out, struct verr *e);

void api_queues_list(struct http_req *hr);
void api_queues_get(struct http_req *hr);
void api_queues_patch(struct http_req *hr);
void api_queues_dead_list(struct http_req *hr);
void api_queues_dead_replay(struct http_req *hr);
void api_queues_dead_purge(struct http_req *hr);

void api_keys_create(struct http_req *hr);
void api_keys_list(struct http_req *hr);
void api_keys_revoke(struct http_req *hr);
void api_keys_rotate(struct http_req *hr);
void api_audit_list(struct http_req *hr);

void api_sessions_create(struct http_req *hr);
void api_sessions_current(struct http_req *hr);
void api_sessions_delete(struct http_req *hr);

void api_flows_create(struct http_req *hr);
void api_flows_get(struct http_req *hr);

void api_events_list(struct http_req *hr); /* api_events.c */

void api_timers_put(struct http_req *hr);
void api_timers_get(struct http_req *hr);
void api_timers_list(struct http_req *hr);
void api_timers_delete(struct http_req *hr);

void api_ops_healthz(struct http_req *hr);
void api_ops_readyz(struct http_req *hr);
void api_ops_metrics(struct http_req *hr);

void api_cron_put(struct http_req *hr);
void api_cron_list(struct http_req *hr);
void api_cron_get(struct http_req *hr);
void api_cron_delete(struct http_req *hr);
void api_cron_pause(struct http_req *hr);
void api_cron_resume(struct http_req *hr);
void api_cron_run(struct http_req *hr);
void api_cron_runs(struct http_req *hr);
void api_cron_preview(struct http_req *hr);
void api_cron_apply(struct http_req *hr);
void api_scheduler_get(struct http_req *hr);

/* ---- submitting and answering (api.c) ---- */

/* Submits op for hr. On success returns 0 and op->done will answer. When the
 * exec has stopped it answers 503 shutting_down itself (hr is then freed) and
 * returns nonzero: the caller frees its context and must not touch hr. */
int api_submit(struct http_req *hr, struct exec_op *op);
/*
 * The skeleton every handler follows: parse and validate on the loop thread,
 * submit one op, answer from its done callback after the commit. Every
 * handler's context begins with a struct api_ctx (member base), so its fn and
 * done callbacks find it with container_of(op, struct x_ctx, base.op).
 */
struct api_ctx;

/* What api_ctx_new needs to know of one kind of context. */
struct api_ctx_def {
        size_t size; /* of the whole context */
        int (*fn)(struct txn *tx, struct exec_op *op);
        void (*done)(struct exec_op *op);
        /* Releases what the context holds (not the context itself); NULL when
         * it holds nothing of its own. */
        void (*clear)(struct api_ctx *c);
        /* The first path parameter: its name in errors and its check
         * (validate_name, validate_key or the file's own); NULL when the
         * context's routes have none. */
        const char *param;
        int (*check)(const struct limits *l, const char *field, const char *s, struct verr *e);
};

struct api_ctx {
        struct exec_op op;
        struct http_req *hr; /* the request the op answers */
        const struct api_ctx_def *def;
        int kind;          /* which of the routes sharing the context (the file's enum) */
        const char *param; /* the checked path parameter (owned by hr), or NULL */
};

/* Allocates a zeroed context of def->size bytes for hr and kind, with the
 * op's fn and done set and, when with_param, the first path parameter checked
 * and kept in param. Owned by the handler until api_ctx_submit hands it to the
 * op. Answers (400 for a bad parameter, 500 when memory is short) and returns
 * NULL on failure. */
void *api_ctx_new(struct http_req *hr, const struct api_ctx_def *def, int kind, bool with_param);
/* Ends a handler: rc is what parsing and validating returned, with e filled
 * when it is not 0. Answers e, or submits c's op as api_submit does (its done
 * callback then answers and frees c); c is freed when it was not submitted. */
void api_ctx_submit(struct api_ctx *c, int rc, const struct verr *e);
/* Frees c and what it holds (def->clear). */
void api_ctx_free(struct api_ctx *c);
/* Answers with the JSON built in w (over http_out), or 500 when building it
 * failed (the buffer cap was hit). */
void api_reply_jw(struct http_req *hr, int status, const struct jw *w);
/* The sentence for a core error in an answer. */
const char *api_rc_message(int rc);
/* Answers a core error of an operation on a job or queue (what: "job"). */
void api_reply_rc(struct http_req *hr, int rc, const char *what);
/* Answers 409 invalid_state for job id in state when action needs one of
 * the states of the mask needs (JOB_STATE_BIT): "job 12 is completed; retry
 * needs dead or cancelled". */
void api_reply_state(struct http_req *hr, int64_t id, int state, const char *action,
                     unsigned needs);
/* Answers a waiting request whose client has gone (499; nobody reads it). */
void api_reply_closed(struct http_req *hr);
/* Remaining wait until deadline_ns in whole ms (rounded up), 0 if passed. */
int64_t api_remaining_ms(const struct server *srv, int64_t deadline_ns);

/* ---- audit (api_audit.c) ---- */

/* Appends the audit row of a successful call of hr's route (its audit action)
 * inside the op's transaction, so the row commits with the change. target and
 * detail (JSON text, never secrets or payloads) may be NULL. Store thread. */
int api_audit_success(struct txn *tx, const struct http_req *hr, int status, const char *target,
                      const char *detail);

/* ?tenant= of the key and audit lists: absent or the caller's own gives the
 * caller's tenant; another name, or "*" (every tenant: *tenant = NULL), needs
 * admin on tenant "default" (403 forbidden otherwise). */
int api_query_tenant(const struct http_req *hr, const char **tenant, struct verr *e);

/* ---- rendering (api_json.c, besides api.h's) ---- */

/* Room kept in every answer's byte budget (--max-response-bytes) for what
 * follows a list's last item: the closing brackets and the cursor. */
#define API_PAGE_TAIL_BYTES 4096

/* The bytes a list's items (and a claim's jobs) may fill: the budget less
 * the tail. */
size_t api_page_budget_bytes(const struct limits *l);

/* A list written under the answer's byte budget: api_page_mark before each
 * item, api_page_keep after it. An item that takes the answer past the
 * budget is taken back out (the writer and its buffer roll back to the mark)
 * and the page is full: it ends before that item, and its cursor is the last
 * item kept, so the next page starts with the one taken out. The first item
 * is always kept, whatever its size, so a client paging through always
 * makes progress. */
struct api_page {
        struct jw *w;
        size_t max_bytes; /* the answer's length the items may reach */
        int n;            /* items kept */
        bool full;        /* an item was taken back out */
        struct jw mark;
        size_t mark_len;
};

void api_page_init(struct api_page *p, struct jw *w, const struct limits *l);
/* False when the page is already full (write no more items). */
bool api_page_mark(struct api_page *p);
/* True when the item written since the mark stays in the page. */
bool api_page_keep(struct api_page *p);

/* Writes the member "name": [...] of a list page: of the rows a read returned
 * (limit + 1 when another page follows), the first ones up to limit that fit
 * the answer's byte budget, each written by item(w, arg, i). cut: the read
 * itself stopped at the budget. Returns the index of the last item written
 * when the page needs a cursor (the budget or the read cut it, or another page
 * follows), else -1. */
int api_page_write(struct jw *w, const struct limits *l, const char *name, int rows, int limit,
                   bool cut, void (*item)(struct jw *w, const void *arg, int i), const void *arg);

/* Writes member "backoff": {type, base_ms, max_ms}. */
void api_backoff_json(struct jw *w, const struct backoff *b);

/* The members of a job object without its braces, so a caller can add its
 * own flags ("duplicate") inside the object. */
void api_job_members(struct jw *w, const struct job *j, bool with_lease);
/* The members of a job under "Prefer: return=minimal" (docs/api.md): id,
 * state and version only. */
void api_job_minimal_members(struct jw *w, const struct job *j);
/* Writes {"jobs": [...], "next": cursor|null} for a page of a list fetched
 * with limit + 1 rows: the extra row only says that another page exists. */
void api_job_page_json(struct jw *w, const struct job_vec *jv, int limit, const struct limits *l);

/* ---- parsing (api_parse.c) ---- */

/* Formats an id as its decimal string (API_ID_LEN bytes). */
void api_id_format(int64_t id, char *out);
/* Writes member k as the id's decimal string, or null when id is 0 (none). */
void api_kid(struct jw *w, const char *k, int64_t id);
/* Parses a job id: decimal digits only, > 0, fits int64. Returns 0 or -1. */
int api_id_parse(const char *s, int64_t *out);
/* The path parameter i as a job id; on failure fills e (400 invalid_id). */
int api_path_id(const struct http_req *hr, int i, int64_t *out, struct verr *e);

/* Joins prefix and name into out ("jobs[3]" + "queue" -> "jobs[3].queue"). */
void api_field(char *out, size_t n, const char *prefix, const char *name);

/* A string member. Required: absent gives missing_field. Not a string gives
 * invalid_field. *out points into obj (valid while obj lives) or is NULL. */
int api_get_str(json_t *obj, const char *prefix, const char *name, bool required, const char **out,
                struct verr *e);
/* An integer member (JSON integer only); absent leaves *present false. */
int api_get_int(json_t *obj, const char *prefix, const char *name, bool *present, int64_t *out,
                struct verr *e);
/* A boolean member; absent leaves *out unchanged. */
int api_get_bool(json_t *obj, const char *prefix, const char *name, bool *out, struct verr *e);
/* Refuses a member of obj that is not one of the space-separated words of
 * known: 400 unknown_field with the member's path under prefix ("jobs[3].delay")
 * and the allowed names in the message. Every parser of a request object calls
 * it, so a misspelt or foreign option (BullMQ's "attempts") is never ignored.
 * obj NULL (an optional body not sent) has no member. */
int api_known_fields(json_t *obj, const char *prefix, const char *known, struct verr *e);

/* Serializes any JSON value compactly (member order kept). Caller frees. */
char *api_dump(const json_t *v);
/* Serializes v (NULL = null) compactly and checks it against max bytes; over
 * it fills e with 413 code naming field. *out is the text, caller frees. */
int api_dump_max(const json_t *v, size_t max, const char *code, const char *field, char **out,
                 struct verr *e);

/* Query arguments. limit: 1..list_max, default API_LIST_DEFAULT (or list_max
 * if smaller). after: a job id cursor, 0 when absent. */
int api_query_limit(const struct http_req *hr, int *out, struct verr *e);
int api_query_after_id(const struct http_req *hr, int64_t *out, struct verr *e);
/* Both of a page of rows by id: limit, then the after cursor. */
int api_query_page(const struct http_req *hr, int *limit, int64_t *after, struct verr *e);
/* api_query_limit, and after as the name or key a list resumes after
 * (check: validate_name or validate_key; one it refuses is 400
 * invalid_cursor), NULL when absent or empty; *after points into hr. */
int api_query_name_page(const struct http_req *hr,
                        int (*check)(const struct limits *l, const char *field, const char *s,
                                     struct verr *e),
                        int *limit, const char **after, struct verr *e);
/* A non-negative integer query argument; absent leaves *out unchanged. */
int api_query_int(const struct http_req *hr, const char *key, int64_t *out, struct verr *e);

/* Fills req from one enqueue object (prefix "" or "jobs[3]"), applies the
 * defaults, checks it with validate_enqueue and the run_at horizon against
 * now_ms. req must be zeroed; on success and on failure it owns what it holds
 * (free with api_enqueue_req_free). */
int api_enqueue_parse(const struct limits *l, json_t *obj, const char *prefix, const char *tenant,
                      const char *request_id, int64_t now_ms, struct enqueue_req *req,
                      struct verr *e);
void api_enqueue_req_free(struct enqueue_req *req);
/* Dependencies (core/deps.h): a depends_on entry as a job id (a decimal
 * string or a positive integer; 0 or -1); the depends_on value's shape and
 * bound (400 invalid_field, too_many_dependencies); on_parent_failure
 * (default cancel). */
int api_dep_id(json_t *v, int64_t *out);
/* A job id in a request body (depends_on, dead replay ids, settle items...):
 * "42" and 42 alike, as api_dep_id reads them; anything else (0, -1, "abc",
 * 1.5, beyond int64, absent) is 400 invalid_id naming field. */
int api_body_id(json_t *v, const char *field, int64_t *out, struct verr *e);
int api_deps_check_array(json_t *v, const char *prefix, struct verr *e);
/* The optional "backoff" object of obj into *b (type exponential when absent). */
int api_backoff_parse(json_t *obj, const char *prefix, struct backoff *b, struct verr *e);
int api_parent_policy_parse(json_t *obj, const char *prefix, int *out, struct verr *e);

/* A settle request and the strings it points to, owned here. */
struct api_settle {
        struct settle_req req;
        char *lease;
        char *result; /* JSON text (complete) or NULL */
        char *error;  /* plain text (fail) or NULL */
};

/* Parses the settle fields common to complete, fail and /v1/settle items from
 * obj (lease, result or error, retryable, retry_in_ms) into s for job id of
 * tenant. outcome is SETTLED_COMPLETE or SETTLED_FAIL. s must be zeroed; free
 * it with api_settle_free whatever the outcome. */
int api_settle_parse(const struct limits *l, json_t *obj, const char *prefix, int outcome,
                     const char *tenant, int64_t id, struct api_settle *s, struct verr *e);
void api_settle_free(struct api_settle *s);

#endif
