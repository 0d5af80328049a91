/*
 * internal.h: what the files of libbaton share and the public header does not
 * show: the client struct, the request-body helpers over common/jw.c, the
 * transport call every endpoint goes through, and the parsers that turn answers
 * into struct baton_job / struct baton_queue. Workload: one request per call on
 * a kept-alive connection, up to tens of thousands per second from one thread,
 * so buffers live in the client and are reused instead of allocated per call.
 */
#ifndef BATON_CLIENT_INTERNAL_H
#define BATON_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton/baton.h"
#include "common/buf.h"
#include "common/jw.h"

/* Caps that keep a misbehaving server or caller from growing memory without
 * bound. Requests are bounded by what the server accepts anyway (16 MiB body by
 * default), answers by a generous multiple of the largest list page. */
#define CLIENT_REQUEST_MAX_BYTES ((size_t)1 << 30)
#define CLIENT_RESPONSE_MAX_BYTES ((size_t)1 << 30)
#define CLIENT_DEFAULT_TIMEOUT_MS 30000
#define CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 5000

/* Request bodies are written with common/jw.c into the client's struct buf
 * (common/buf.c); these add the members a request leaves out when the
 * caller gave no value: v NULL, or 0 for integers. */
void client_kstr(struct jw *w, const char *key, const char *v);
void client_kraw(struct jw *w, const char *key, const char *json);
void client_kint(struct jw *w, const char *key, int64_t v);
/* Appends s percent-encoded for use as one path segment or query value. */
int client_url_escape(struct buf *b, const char *s);

struct baton_client {
        CURL *h;
        char *base; /* server URL without a trailing slash */
        char *api_key;
        char *request_id;
        char *worker_info;          /* compact JSON object sent as every claim's info, or NULL */
        struct curl_slist *headers; /* rebuilt when the request id changes */
        /* headers plus "Prefer: return=minimal", for the calls whose caller
         * takes nothing of the answer (an enqueue with no out-parameter). */
        struct curl_slist *headers_minimal;
        bool prefer_minimal; /* the call being made sends headers_minimal */
        int64_t timeout_ms;
        int64_t connect_timeout_ms;
        struct buf url;  /* the URL of the call being made */
        struct buf req;  /* its body */
        struct buf resp; /* the answer's body */
        struct baton_error err;
        char curl_err[CURL_ERROR_SIZE];
        bool custom_method; /* CURLOPT_CUSTOMREQUEST is set and must be cleared */
};

/* Starts c->url as base + path; the caller appends escaped segments and query
 * parameters with client_query. */
int client_url(struct baton_client *c, const char *path);
/* Starts c->url as base + prefix + escaped seg + suffix (seg and suffix may
 * be NULL). */
int client_url_seg(struct baton_client *c, const char *prefix, const char *seg, const char *suffix);
/* Appends "?name=value" or "&name=value" to c->url with value escaped; a NULL
 * value appends nothing. */
int client_query(struct baton_client *c, const char *name, const char *value);
int client_query_i64(struct baton_client *c, const char *name, int64_t v);
/* client_query for each name/value pair of kv (name, value, name, value, ...,
 * NULL): a NULL value is left out. */
int client_queries(struct baton_client *c, const char *const *kv);
/* GETs the URL built so far and finds the list of its answer: *arr is the
 * array member of the answer, *next its "next". BATON_EPROTO ("answer holds
 * no <what>") when member is not an array. *root is the caller's
 * (json_decref), also on failure. */
int client_get_list(struct baton_client *c, const char *member, const char *what, json_t **root,
                    json_t **arr, json_t **next);
/* Appends a list page's parameters: limit when not 0, after when not NULL. */
int client_query_page(struct baton_client *c, int64_t limit, const char *after);

/*
 * Performs one request: method, the URL in c->url, body (NULL for none) of
 * body_len bytes; wait_ms extends the transport timeout for long polls. Fills
 * c->err. On a 2xx answer and when root is not NULL, *root receives the parsed
 * body, which must be a JSON object (owned by the caller: json_decref). Returns
 * 0, BATON_EHTTP (no answer), BATON_EPROTO (unexpected answer) or the code
 * mapped from the API error.
 */
int client_call(struct baton_client *c, const char *method, const char *body, size_t body_len,
                int64_t wait_ms, json_t **root);

/*
 * Reads what a caller wants from a 2xx answer: root is the answer's JSON
 * object, owned by client_request (which releases it after the call; a parser
 * that keeps part of it takes its own reference, as job_from_json does), and
 * dst is the public function's out-parameter, whose allocations belong to
 * that function's caller. Returns 0 or a code recorded with client_fail.
 */
typedef int (*client_answer_fn)(struct baton_client *c, json_t *root, void *dst);

/*
 * The call the typed endpoints make: method on the URL in c->url, with the
 * body in c->req when with_body (none otherwise); wait_ms extends the
 * transport timeout for long polls. On a 2xx answer and when parse is given,
 * parse reads the answer into dst; without parse the answer is not parsed.
 * Returns 0 or the code recorded in c->err.
 */
int client_request(struct baton_client *c, const char *method, bool with_body, int64_t wait_ms,
                   client_answer_fn parse, void *dst);
/* client_request without a parser, asking for the short answer ("Prefer:
 * return=minimal", docs/api.md): for a call whose caller takes nothing of the
 * answer but its status. */
int client_request_minimal(struct baton_client *c, const char *method);

/* Starts c->req as a JSON object written through w; client_body_end closes
 * it and returns 0 or the first error writing it met (BATON_ETOOBIG). */
void client_body(struct baton_client *c, struct jw *w);
int client_body_end(struct jw *w);

/* client_call for the JSON pass-through calls (cron, timers, flows): body is
 * the caller's JSON text (NULL for none) and, when answer is not NULL, the
 * answer comes back as compact JSON text in *answer, owned by the caller
 * (free). */
int client_call_text(struct baton_client *c, const char *method, const char *body, char **answer);

/* client_call_text for a call whose body is required: a NULL body is refused
 * (BATON_EINVAL) with the message what. */
int client_call_body(struct baton_client *c, const char *method, const char *body, const char *what,
                     char **answer);
/* client_call_text of GET for a page: the URL in c->url gets the page's
 * parameters first (client_query_page). */
int client_call_page(struct baton_client *c, int64_t limit, const char *after, char **answer);

/* Records an error found by the library itself (no HTTP exchange, or an answer
 * of the wrong shape) in c->err and returns rc. */
int client_fail(struct baton_client *c, int rc, const char *message);

/* Builds a job from obj (a JSON object of the answer). The job takes a reference
 * to obj; its strings point into it. Returns 0 or BATON_ENOMEM / BATON_EPROTO;
 * on failure nothing needs freeing. */
int job_from_json(json_t *obj, struct baton_job *j);
/* Releases what job_from_json took, leaving the struct baton_job zeroed
 * (void *, so that client_page_free can clear any page's items). */
void job_clear(void *job);
/* Builds a list from the array arr (NULL or not an array: BATON_EPROTO) and the
 * cursor next (JSON null, string or NULL). *out owned by the caller. */
int jobs_from_json(json_t *arr, json_t *next, struct baton_jobs **out);

int queue_from_json(json_t *obj, struct baton_queue *q);
void queue_clear(void *queue);
/* Frees a page answer: clear() on each of its n items (size bytes apart, from
 * v), then v, the cursor next and the page itself. page NULL: nothing. */
void client_page_free(void *page, void *v, size_t n, size_t size, void (*clear)(void *item),
                      char *next);

/* RFC 3339 text to Unix milliseconds. Returns 0 or BATON_EINVAL. */
int client_parse_time_ms(const char *s, int64_t *out_ms);

/* Helpers to read members of an answer without a cascade of type checks. */
const char *jstr(const json_t *obj, const char *key);
int64_t jint(const json_t *obj, const char *key, int64_t dflt);
bool jbool(const json_t *obj, const char *key);

#endif
