/*
 * harness.h: test support for end-to-end and fault tests. Starts a real batond
 * ($BATOND) on a free 127.0.0.1 port with a fresh temporary data directory,
 * waits until /healthz answers, stops it by pid (SIGTERM, then SIGKILL after a
 * bounded wait), kills it with SIGKILL, restarts it on the same data directory,
 * and captures its stdout and stderr into a log file the test can read. Also a
 * raw HTTP helper that returns status, headers and parsed JSON, for checking
 * error paths exactly as a client sees them.
 *
 * Every wait here is bounded in count and time. Every server started is
 * recorded, and an exit handler kills (by pid) any the test left running, so a
 * failed assertion cannot leak a process; the server also receives SIGKILL if
 * the test process dies (PR_SET_PDEATHSIG).
 */
#ifndef BATON_TESTS_HARNESS_H
#define BATON_TESTS_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/errors.h"
#include "support/pgtest.h"

#define HARNESS_ARGS_MAX 32

struct harness {
        pid_t pid; /* 0 when not running */
        int port;
        char url[64];                 /* http://127.0.0.1:PORT */
        char root[256];               /* temporary directory holding data/ and batond.log */
        char data_dir[300];           /* root/data: the server's data directory */
        char log_path[300];           /* root/batond.log: the server's stdout and stderr */
        char *args[HARNESS_ARGS_MAX]; /* extra arguments, kept for restarts */
        int n_args;
        int exit_status; /* wait status of the last stop, kill or crash */
        /* The bootstrap admin key, read from data_dir/admin.key after the start
         * ("" when the server wrote none). harness_client and http_raw/http_json
         * on h->url send it unless told otherwise. */
        char admin_key[128];
        /* With "--tls-cert FILE" among the arguments: FILE, trusted by every
         * client the harness makes (h->url is then https://). */
        char ca_file[300];
        /* With BATON_TEST_STORE=postgres: the fresh schema batond runs on
         * (--store pg.uri), kept across restarts, dropped by harness_stop. */
        struct pgtest pg;
};

/* Milliseconds of a monotonic clock, for measuring waits in tests. */
int64_t harness_now_ms(void);
void harness_sleep_ms(int64_t ms);

/*
 * Starts batond with a new temporary root, extra arguments args (NULL-terminated
 * list, may be NULL) after the harness's own, and waits up to 5 s for /healthz.
 * Retries with another port (at most 5 times) when the server exits early, as it
 * does when another process took the port. Returns 0, or -1 with a message on
 * stderr (the log's tail included). On failure nothing is left running.
 * Then reads the admin key (see admin_key).
 *
 * With BATON_TEST_STORE=postgres (ctest registers every e2e and fault test a
 * second time, named <test>_pg, with it), the server runs on a fresh
 * PostgreSQL schema (pgtest.h) instead of SQLite, unless args name a --store
 * of their own; without BATON_TEST_PG_URI the test process exits with
 * PGTEST_SKIP_CODE, which ctest reports as skipped.
 */
int harness_start(struct harness *h, const char *const *args);
/* Starts batond again on the same data directory and arguments, on the same
 * port when it is still free, else on a new one (h->url changes). */
int harness_restart(struct harness *h);
/* Sends sig and waits up to timeout_ms for the process to exit; returns 0 with
 * its wait status in h->exit_status, or -1 if it is still running (left
 * running). elapsed_ms (may be NULL) receives the time it took. */
int harness_signal_wait(struct harness *h, int sig, int64_t timeout_ms, int64_t *elapsed_ms);
/* SIGKILL and reap; keeps the data directory. */
int harness_kill9(struct harness *h);
/* SIGTERM, then SIGKILL after 10 s; reaps. Keeps the data directory. Returns 0
 * when the server exited on its own with status 0. */
int harness_shutdown(struct harness *h);
/* harness_shutdown, then removes the temporary root and frees the arguments.
 * Safe to call twice and on a harness that never started. With
 * BATON_TEST_KEEP_LOG set, the log's tail is printed first. */
int harness_stop(struct harness *h);

/* The log (stdout and stderr of every run of this harness) as a NUL-terminated
 * string owned by the caller (free), or NULL. */
char *harness_read_log(const struct harness *h);
/* Prints the last max_bytes of the log to stderr, for failure messages. */
void harness_dump_log(const struct harness *h, size_t max_bytes);

/* A libbaton client for h->url, owned by the caller (baton_client_free).
 * Aborts the test program when it cannot be made (out of memory). */
struct baton_client *harness_client(const struct harness *h);
/* The admin key of the running harness serving url (for clients made on other
 * threads from a url alone), or NULL. */
const char *harness_key_for(const char *url);
/* The same with another key (NULL: no Authorization header at all). */
struct baton_client *harness_client_key(const struct harness *h, const char *key);

/* cmocka group setup and teardown of a test file that shares one server and
 * one client: starts h with args (as harness_start) and sets *cl to its
 * client (harness_client; owned by the test file until the teardown).
 * Returns 0, or -1 when the server did not start. The teardown frees *cl,
 * sets it to NULL and stops h (harness_stop's result). */
int harness_group_setup(struct harness *h, const char *const *args, struct baton_client **cl);
int harness_group_teardown(struct harness *h, struct baton_client **cl);

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

/* Enqueues one job with queue, type and payload (JSON text or NULL) and returns
 * it (owned by the caller); fails the test on error. */
struct baton_job *harness_enqueue(struct baton_client *c, const char *queue, const char *type,
                                  const char *payload);
/* Reads a job's current state; fails the test on error. */
enum baton_state harness_job_state(struct baton_client *c, const char *id);
/* Counts jobs of queue in the given state (NULL = all) by listing every page;
 * fails the test on error. */
int64_t harness_count_jobs(struct baton_client *c, const char *queue, const char *state);
/* Unix time in milliseconds (the server's clock is the same machine's). */
int64_t harness_wall_ms(void);
/* The whole job object parsed (new reference: json_decref); fails the test when
 * it cannot be parsed. */
json_t *harness_job_obj(struct baton_job *j);
/* Claims up to max jobs of queue as worker "test-worker" (lease_ms 0 = each
 * job's own); fails the test on error. The list is owned by the caller. */
struct baton_jobs *harness_claim(struct baton_client *c, const char *queue, int max,
                                 int64_t wait_ms, int64_t lease_ms);
/* A queue name unique within this process, so tests sharing a server do not see
 * each other's jobs: prefix + "-" + a counter. Returns buf. */
const char *harness_unique(const char *prefix, char *buf, size_t cap);

/* ---- JSON and snapshots ---- */

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

/* The job as GET /v1/jobs/{id} shows it now, as compact JSON text with sorted
 * keys (or "404" when it does not exist), owned by the caller (free). Two equal
 * snapshots mean nothing about the job changed. */
char *harness_snapshot(const char *url, const char *id);
/* Asserts that the job's snapshot still equals before (and frees nothing). */
#define assert_unchanged(url, id, before)                                                          \
        harness_assert_unchanged((url), (id), (before), __FILE__, __LINE__)
void harness_assert_unchanged(const char *url, const char *id, const char *before, const char *file,
                              int line);
/* Number of jobs of every queue (all states), by listing every page. */
int64_t harness_total_jobs(struct baton_client *c);
/* Parses RFC 3339 text to Unix ms; -1 when it cannot. */
int64_t harness_parse_time(const char *s);
/* Runs fn(arg) on a new thread; harness_join waits for it (bounded by the
 * test's own timeouts: the threads make bounded calls). */
#include <pthread.h>
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

/* ---- dependency chains (docs/api.md, "Dependencies and flows") ---- */

/* Builds one chain of n_flows * per_flow jobs on queue with n_flows POST
 * /v1/flows: in each flow job i depends on job i - 1, and a flow's first job
 * on the previous flow's last; the root (the first flow's first job) depends
 * on nothing and gets the JSON members root_extra (NULL: none, e.g.
 * "\"max_attempts\":1"). Copies out the root's id, the last job's id and each
 * flow's id (flow_ids: n_flows entries). Fails the test on error. */
void harness_flow_chain(const struct harness *h, const char *queue, int n_flows, int per_flow,
                        const char *root_extra, char *root_id, char *last_id, char (*flow_ids)[32]);
/* GET /v1/flows/{id}: the flow's state ("running", "completed", "failed")
 * copied into state (32 bytes), or "" without an answer. With check_reason,
 * asserts that every job is cancelled with cancel_reason check_reason, except
 * the job except_id (may be NULL). Returns the HTTP status (0: no answer). */
int harness_flow_state(const struct harness *h, const char *flow_id, char *state,
                       const char *check_reason, const char *except_id);

#endif
