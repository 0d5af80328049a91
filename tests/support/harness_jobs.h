/*
 * harness_jobs.h: the jobs a test makes and works, in one place: enqueue,
 * claim, settle and read jobs through libbaton (harness_enqueue and the like,
 * on a client) and over plain HTTP (harness_http_*, on a url and any key, for
 * tests that check the wire form or act as several tenants), snapshots of a
 * job for "nothing changed" checks, and chains of flows.
 *
 * Every helper fails the test (cmocka), with the answer printed, when the
 * server does not answer as it says; claims wait no longer than the wait_ms
 * they send. Include it through support/harness.h.
 */
#ifndef BATON_TESTS_HARNESS_JOBS_H
#define BATON_TESTS_HARNESS_JOBS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "support/harness.h"

/* ---- through libbaton ---- */

/* Enqueues one job with queue, type and payload (JSON text or NULL) and returns
 * it (owned by the caller); fails the test on error. */
struct baton_job *harness_enqueue(struct baton_client *c, const char *queue, const char *type,
                                  const char *payload);
/* Reads a job's current state; fails the test on error. */
enum baton_state harness_job_state(struct baton_client *c, const char *id);
/* Counts jobs of queue in the given state (NULL = all) by listing every page;
 * fails the test on error. */
int64_t harness_count_jobs(struct baton_client *c, const char *queue, const char *state);
/* The whole job object parsed (new reference: json_decref); fails the test when
 * it cannot be parsed. */
json_t *harness_job_obj(struct baton_job *j);
/* Claims up to max jobs of queue as worker "test-worker" (lease_ms 0 = each
 * job's own); fails the test on error. The list is owned by the caller. */
struct baton_jobs *harness_claim(struct baton_client *c, const char *queue, int max,
                                 int64_t wait_ms, int64_t lease_ms);
/* Enqueues one job with o and claims it (max 1, no wait, lease_ms 0 = the
 * job's own); asserts that exactly that job came. The list (of one) is owned
 * by the caller (baton_jobs_free). */
struct baton_jobs *harness_enqueue_claim(struct baton_client *c, const struct baton_enqueue_opts *o,
                                         int64_t lease_ms);
/* Claims the one job ready on queue and completes it with result (JSON text,
 * NULL: none); fails the test unless exactly one came and it completed. */
void harness_claim_complete(struct baton_client *c, const char *queue, const char *result);
/* Number of jobs of every queue (all states), by listing every page. */
int64_t harness_total_jobs(struct baton_client *c);

/* ---- over HTTP ----
 *
 * key NULL means the admin key of the harness serving url (as http_json
 * sends it). */

/* POST /v1/jobs with body (JSON text) as key; asserts 201 and copies the new
 * job's id into id (cap bytes). */
void harness_http_enqueue(const char *url, const char *key, const char *body, char *id, size_t cap);

/* The claim body harness_http_claim sends when given none. */
#define HARNESS_CLAIM_ONE "{\"worker\":\"w\",\"max\":1}"

/* POST /v1/queues/{queue}/claim with body (NULL: HARNESS_CLAIM_ONE) as key;
 * asserts 200 and, with want_id, that exactly one job came and that it is
 * want_id. Returns the first job as the answer shows it (its "id", "lease",
 * "parents", ...; a new reference: json_decref, or harness_http_complete or
 * _fail takes it), or NULL when none came. */
json_t *harness_http_claim(const char *url, const char *key, const char *queue, const char *body,
                           const char *want_id);

/* POST /v1/jobs/{id}/complete for job, a claimed job's object (its "id" and
 * "lease"), with result (JSON text; NULL: none) as key; asserts 200 and, with
 * want_state, that the job's state after it is want_state. Takes job
 * (json_decref): its lease is spent. */
void harness_http_complete(const char *url, const char *key, json_t *job, const char *result,
                           const char *want_state);
/* The same with POST /v1/jobs/{id}/fail and the body's other members
 * (members: JSON members text after the lease, such as
 * "\"error\":\"boom\",\"retryable\":false"; NULL: none). */
void harness_http_fail(const char *url, const char *key, json_t *job, const char *members,
                       const char *want_state);
/* GET /v1/jobs/{id} as key; asserts 200, copies the job's state into state
 * (cap 32) and, when why is not NULL, its cancel_reason into why (cap 64; ""
 * when it has none). Returns state. */
const char *harness_http_state(const char *url, const char *key, const char *id, char *state,
                               char *why);

/* ---- snapshots ---- */

/* The job as GET /v1/jobs/{id} shows it now, as compact JSON text with sorted
 * keys (or "404" when it does not exist), owned by the caller (free). Two equal
 * snapshots mean nothing about the job changed. */
char *harness_snapshot(const char *url, const char *id);
/* Asserts that the job's snapshot still equals before (and frees nothing). */
#define assert_unchanged(url, id, before)                                                          \
        harness_assert_unchanged((url), (id), (before), __FILE__, __LINE__)
void harness_assert_unchanged(const char *url, const char *id, const char *before, const char *file,
                              int line);

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
