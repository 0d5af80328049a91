/*
 * harness.h: test support for end-to-end and fault tests, and the one header
 * they include. Starting and stopping batond is harness_batond.h; jobs,
 * claims, settles and flows over HTTP and libbaton are harness_jobs.h; this
 * file has the raw HTTP helper that returns status, headers and parsed JSON
 * (for checking error paths exactly as a client sees them), the assertions
 * on those answers and on libbaton results, JSON paths and small utilities.
 *
 * Every wait here is bounded in count and time.
 */
#ifndef BATON_TESTS_HARNESS_H
#define BATON_TESTS_HARNESS_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errors.h"
#include "support/harness_batond.h"

/* Milliseconds of a monotonic clock, for measuring waits in tests. */
int64_t harness_now_ms(void);
void harness_sleep_ms(int64_t ms);

/* The admin key of the running harness serving url (for clients made on other
 * threads from a url alone), or NULL. */
const char *harness_key_for(const char *url);
/* The table behind harness_key_for and http_raw's default Authorization
 * header and CA file: harness_batond.c registers each server's url as it
 * starts (key and ca copied; "" for none) and forgets it as it stops. */
void harness_url_register(const char *url, const char *key, const char *ca);
void harness_url_forget(const char *url);

/* ---- raw HTTP ---- */

struct http_res {
        int status;    /* 0 when no answer arrived */
        char *headers; /* the raw header block */
        char *body;    /* NUL-terminated */
        size_t body_len;
        json_t *json; /* parsed body, NULL when it is not JSON */
        int64_t elapsed_ms;
};

/*
 * One request on a fresh connection: method, base url + path, extra header lines
 * (NULL-terminated, may be NULL; "Content-Type: application/json" is always
 * sent), a body of body_len bytes (NULL = none). Returns 0 when an answer
 * arrived, -1 otherwise. res is owned by the caller: http_res_free.
 * Authorization: when url is a running harness's, its admin key is sent as
 * "Authorization: Bearer <key>" unless headers hold an "Authorization:" line
 * (that line is sent instead; "Authorization:" alone sends no such header).
 */
int http_raw(const char *url, const char *method, const char *path, const char *const *headers,
             const char *body, size_t body_len, struct http_res *res);
/* http_raw with a NUL-terminated body and no extra headers. */
int http_json(const char *url, const char *method, const char *path, const char *body,
              struct http_res *res);
/* http_json with an explicit key: NULL sends no Authorization header. */
int http_json_as(const char *url, const char *key, const char *method, const char *path,
                 const char *body, struct http_res *res);
void http_res_free(struct http_res *res);
/* One request as key (NULL: the admin key of the harness serving url, as
 * http_json) that must answer status: fails the test, printing method, path,
 * status and body, when no answer came or another status did. res is the
 * answer, owned by the caller (http_res_free) as with http_raw. */
void harness_expect(const char *url, const char *key, const char *method, const char *path,
                    const char *body, int status, struct http_res *res);

/* Creates a key through POST /v1/keys with the admin key: tenant (NULL = the
 * admin's), scopes a JSON array text ("[\"work\"]"), extra members text to add
 * to the body (NULL or e.g. "\"rate_limit\": {...}"). Copies the secret into
 * token (cap >= 64) and the id into id (cap >= 24, may be NULL); fails the test
 * unless the answer is 201. */
void harness_make_key(const struct harness *h, const char *tenant, const char *scopes,
                      const char *extra, char *token, char *id);
/* Copies the value of header name (case-insensitive) into buf; returns buf, or
 * NULL when the answer has no such header. */
const char *http_header(const struct http_res *res, const char *name, char *buf, size_t cap);
/* The error object's member ("code", "message", "field") or NULL. */
const char *http_error_member(const struct http_res *res, const char *member);

/* Asserts (cmocka) status, error code and, when field is not NULL, the field;
 * prints the answer when they differ. */
void assert_http_error(const struct http_res *res, int status, const char *code, const char *field);

/* ---- small helpers for tests ---- */

/* Asserts rc == 0 and prints the client's last error when it is not. */
#define assert_ok(c, expr) harness_assert_ok((c), (expr), #expr, __FILE__, __LINE__)
void harness_assert_ok(struct baton_client *c, int rc, const char *what, const char *file,
                       int line);
/* Asserts that the last call failed with rc, HTTP status and API code. */
void harness_assert_err(struct baton_client *c, int got_rc, int rc, int status, const char *code,
                        const char *field, const char *file, int line);
#define assert_err(c, expr, rc, status, code, field)                                               \
        harness_assert_err((c), (expr), (rc), (status), (code), (field), __FILE__, __LINE__)

/* Unix time in milliseconds (the server's clock is the same machine's). */
int64_t harness_wall_ms(void);
/* A queue name unique within this process, so tests sharing a server do not see
 * each other's jobs: prefix + "-" + a counter. Returns buf. */
const char *harness_unique(const char *prefix, char *buf, size_t cap);

/* Asserts that text (may be NULL) contains needle; prints both when it does
 * not. */
#define assert_contains(text, needle) harness_assert_contains((text), (needle), __FILE__, __LINE__)
void harness_assert_contains(const char *text, const char *needle, const char *file, int line);

/* ---- JSON ---- */

/* Follows a dotted path with indexes ("job.attempts[0].outcome") from root;
 * returns the borrowed value or NULL. */
json_t *jpath(const json_t *root, const char *path);
/* jpath's value as a string / integer / boolean; NULL, -1 and false when the
 * value is missing or of another type. */
const char *jpath_str(const json_t *root, const char *path);
int64_t jpath_int(const json_t *root, const char *path);
bool jpath_true(const json_t *root, const char *path);

/* http_json with a body built from a printf format. */
int http_jsonf(const char *url, const char *method, const char *path, struct http_res *res,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Parses RFC 3339 text to Unix ms; -1 when it cannot. */
int64_t harness_parse_time(const char *s);
/* Runs fn(arg) on a new thread; harness_join waits for it (bounded by the
 * test's own timeouts: the threads make bounded calls). */
int harness_thread(pthread_t *t, void *(*fn)(void *), void *arg);
void harness_join(pthread_t t);
/* A string of n copies of ch, owned by the caller (free). */
char *harness_repeat(char ch, size_t n);

/* ---- the documents (tests that keep a document true) ---- */

/* The text of $BATON_SRC/rel ("docs/api.md", "README.md"), NUL-terminated,
 * owned by the caller (free). Fails the test when it cannot be read. */
char *harness_read_doc(const char *rel);
/* The body of the first fenced block "```lang" after marker in text (without
 * its fence lines), a copy owned by the caller (free). Fails the test, naming
 * what, when marker or the block is missing. */
char *harness_doc_block(const char *text, const char *marker, const char *lang, const char *what);

#include "support/harness_jobs.h"

#endif
