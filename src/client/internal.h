/*
 * internal.h: what the files of libbaton share and the public header does not
 * show: the client struct, a growable string builder with JSON helpers, the
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

/* Caps that keep a misbehaving server or caller from growing memory without
 * bound. Requests are bounded by what the server accepts anyway (16 MiB body by
 * default), answers by a generous multiple of the largest list page. */
#define CLIENT_REQUEST_MAX_BYTES ((size_t)1 << 30)
#define CLIENT_RESPONSE_MAX_BYTES ((size_t)1 << 30)
#define CLIENT_DEFAULT_TIMEOUT_MS 30000
#define CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 5000

/* A growable, NUL-terminated string. len excludes the terminator. */
struct sbuf {
        char *p;
        size_t len;
        size_t cap;
        size_t max;
};

void sbuf_init(struct sbuf *b, size_t max);
void sbuf_free(struct sbuf *b);
void sbuf_reset(struct sbuf *b);
int sbuf_add(struct sbuf *b, const void *p, size_t n);
int sbuf_adds(struct sbuf *b, const char *s);
int sbuf_addc(struct sbuf *b, char c);
int sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes and escapes included). */
int sbuf_json_str(struct sbuf *b, const char *s);
/* Appends s percent-encoded for use as one path segment or query value. */
int sbuf_url_escape(struct sbuf *b, const char *s);

/* JSON object members. Each appends ',' first unless the previous character
 * opened the object or array, so callers write members in any order without
 * tracking commas. raw appends v verbatim (JSON text given by the caller). */
int jo_str(struct sbuf *b, const char *key, const char *v);
int jo_i64(struct sbuf *b, const char *key, int64_t v);
int jo_bool(struct sbuf *b, const char *key, bool v);
int jo_raw(struct sbuf *b, const char *key, const char *v);
/* Appends the separator a new array element or member needs. */
int jo_sep(struct sbuf *b);

struct baton_client {
        CURL *h;
        char *base; /* server URL without a trailing slash */
        char *api_key;
        char *request_id;
        struct curl_slist *headers; /* rebuilt when the request id changes */
        int64_t timeout_ms;
        int64_t connect_timeout_ms;
        struct sbuf url;  /* the URL of the call being made */
        struct sbuf req;  /* its body */
        struct sbuf resp; /* the answer's body */
        struct baton_error err;
        char curl_err[CURL_ERROR_SIZE];
        bool custom_method; /* CURLOPT_CUSTOMREQUEST is set and must be cleared */
};

/* Starts c->url as base + path; the caller appends escaped segments and query
 * parameters with sbuf_*. */
int client_url(struct baton_client *c, const char *path);
/* Starts c->url as base + prefix + escaped seg + suffix (seg and suffix may
 * be NULL). */
int client_url_seg(struct baton_client *c, const char *prefix, const char *seg, const char *suffix);
/* Appends "?name=value" or "&name=value" to c->url with value escaped; a NULL
 * value appends nothing. */
int client_query(struct baton_client *c, const char *name, const char *value);
int client_query_i64(struct baton_client *c, const char *name, int64_t v);
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

/* client_call for the JSON pass-through calls (cron, timers, flows): body is
 * the caller's JSON text (NULL for none) and, when answer is not NULL, the
 * answer comes back as compact JSON text in *answer, owned by the caller
 * (free). */
int client_call_text(struct baton_client *c, const char *method, const char *body, char **answer);

/* Records an error found by the library itself (no HTTP exchange, or an answer
 * of the wrong shape) in c->err and returns rc. */
int client_fail(struct baton_client *c, int rc, const char *message);

/* Builds a job from obj (a JSON object of the answer). The job takes a reference
 * to obj; its strings point into it. Returns 0 or BATON_ENOMEM / BATON_EPROTO;
 * on failure nothing needs freeing. */
int job_from_json(json_t *obj, struct baton_job *j);
/* Releases what job_from_json took, leaving j zeroed. */
void job_clear(struct baton_job *j);
/* Builds a list from the array arr (NULL or not an array: BATON_EPROTO) and the
 * cursor next (JSON null, string or NULL). *out owned by the caller. */
int jobs_from_json(json_t *arr, json_t *next, struct baton_jobs **out);

int queue_from_json(json_t *obj, struct baton_queue *q);
void queue_clear(struct baton_queue *q);

/* RFC 3339 text to Unix milliseconds. Returns 0 or BATON_EINVAL. */
int client_parse_time_ms(const char *s, int64_t *out_ms);

/* Helpers to read members of an answer without a cascade of type checks. */
const char *jstr(const json_t *obj, const char *key);
int64_t jint(const json_t *obj, const char *key, int64_t dflt);
bool jbool(const json_t *obj, const char *key);

#endif
