/*
 * harness_jobs.c: enqueue, claim, settle and read jobs for end-to-end and
 * fault tests (see harness_jobs.h), through libbaton and over plain HTTP.
 * The helpers assert as they go (cmocka), so a test reads as the steps it
 * takes; the claims here never wait longer than the wait_ms they send, and
 * listing stops after a bounded number of pages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/harness.h"

struct baton_job *harness_enqueue(struct baton_client *c, const char *queue, const char *type,
                                  const char *payload)
{
        struct baton_enqueue_opts o = {.queue = queue, .type = type, .payload = payload};
        struct baton_job *j = NULL;

        assert_ok(c, baton_enqueue(c, &o, &j));
        assert_non_null(j);
        return j;
}

enum baton_state harness_job_state(struct baton_client *c, const char *id)
{
        struct baton_job *j = NULL;
        enum baton_state s;

        assert_ok(c, baton_job_get(c, id, 0, &j));
        s = j->state;
        baton_job_free(j);
        return s;
}

int64_t harness_count_jobs(struct baton_client *c, const char *queue, const char *state)
{
        /* The server's default page size (100, or --list-max when smaller). */
        struct baton_list_opts o = {.queue = queue, .state = state};
        char *after = NULL;
        int64_t n = 0;
        int pages;

        /* Bounded: 2,000 pages is far more than any test enqueues. */
        for (pages = 0; pages < 2000; pages++) {
                struct baton_jobs *l = NULL;

                o.after = after;
                assert_ok(c, baton_job_list(c, &o, &l));
                n += (int64_t)l->n;
                free(after);
                after = l->next ? strdup(l->next) : NULL;
                baton_jobs_free(l);
                if (!after)
                        return n;
        }
        free(after);
        fail_msg("harness_count_jobs: more than 2000 pages");
        return -1;
}

json_t *harness_job_obj(struct baton_job *j)
{
        const char *text = baton_job_json(j);
        json_t *o = text ? json_loads(text, 0, NULL) : NULL;

        assert_non_null(o);
        return o;
}

struct baton_jobs *harness_claim(struct baton_client *c, const char *queue, int max,
                                 int64_t wait_ms, int64_t lease_ms)
{
        struct baton_claim_opts o = {
            .worker = "test-worker", .max = max, .wait_ms = wait_ms, .lease_ms = lease_ms};
        struct baton_jobs *l = NULL;

        assert_ok(c, baton_claim(c, queue, &o, &l));
        assert_non_null(l);
        return l;
}

struct baton_jobs *harness_enqueue_claim(struct baton_client *c, const struct baton_enqueue_opts *o,
                                         int64_t lease_ms)
{
        struct baton_job *j = NULL;
        struct baton_jobs *l;

        assert_ok(c, baton_enqueue(c, o, &j));
        l = harness_claim(c, o->queue, 1, 0, lease_ms);
        assert_int_equal(l->n, 1);
        assert_string_equal(l->v[0].id, j->id);
        baton_job_free(j);
        return l;
}

void harness_claim_complete(struct baton_client *c, const char *queue, const char *result)
{
        struct baton_jobs *l = harness_claim(c, queue, 1, 0, 0);

        assert_int_equal(l->n, 1);
        assert_ok(c, baton_complete(c, l->v[0].id, l->v[0].lease, result, NULL));
        baton_jobs_free(l);
}

/* ---- over HTTP ---- */

void harness_http_enqueue(const char *url, const char *key, const char *body, char *id, size_t cap)
{
        struct http_res r;

        harness_expect(url, key, "POST", "/v1/jobs", body, 201, &r);
        snprintf(id, cap, "%s", jpath_str(r.json, "job.id"));
        http_res_free(&r);
}

json_t *harness_http_claim(const char *url, const char *key, const char *queue, const char *body,
                           const char *want_id)
{
        struct http_res r;
        char path[256];
        json_t *jobs, *first;

        snprintf(path, sizeof(path), "/v1/queues/%s/claim", queue);
        harness_expect(url, key, "POST", path, body ? body : HARNESS_CLAIM_ONE, 200, &r);
        jobs = json_object_get(r.json, "jobs");
        if (want_id) {
                assert_int_equal(json_array_size(jobs), 1);
                assert_string_equal(jpath_str(json_array_get(jobs, 0), "id"), want_id);
        }
        first = json_incref(json_array_get(jobs, 0));
        http_res_free(&r);
        return first;
}

/* POST /v1/jobs/{id}/{verb} for job with {"lease": ..., members}; as
 * harness_http_complete says. */
static void settle(const char *url, const char *key, json_t *job, const char *verb,
                   const char *members, const char *want_state)
{
        struct http_res r;
        char path[256], *body = NULL;

        assert_non_null(job);
        snprintf(path, sizeof(path), "/v1/jobs/%s/%s", jpath_str(job, "id"), verb);
        if (asprintf(&body, "{\"lease\":\"%s\"%s%s}", jpath_str(job, "lease"), members ? "," : "",
                     members ? members : "") < 0)
                abort();
        harness_expect(url, key, "POST", path, body, 200, &r);
        free(body);
        if (want_state)
                assert_string_equal(jpath_str(r.json, "job.state"), want_state);
        http_res_free(&r);
        json_decref(job);
}

void harness_http_complete(const char *url, const char *key, json_t *job, const char *result,
                           const char *want_state)
{
        char *members = NULL;

        if (result && asprintf(&members, "\"result\":%s", result) < 0)
                abort();
        settle(url, key, job, "complete", members, want_state);
        free(members);
}

void harness_http_fail(const char *url, const char *key, json_t *job, const char *members,
                       const char *want_state)
{
        settle(url, key, job, "fail", members, want_state);
}

const char *harness_http_state(const char *url, const char *key, const char *id, char *state,
                               char *why)
{
        struct http_res r;
        char path[256];
        const char *reason;

        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        harness_expect(url, key, "GET", path, NULL, 200, &r);
        snprintf(state, 32, "%s", jpath_str(r.json, "job.state"));
        reason = jpath_str(r.json, "job.cancel_reason");
        if (why)
                snprintf(why, 64, "%s", reason ? reason : "");
        http_res_free(&r);
        return state;
}

/* ---- snapshots ---- */

char *harness_snapshot(const char *url, const char *id)
{
        struct http_res r;
        char path[512];
        char *text;

        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        if (http_json(url, "GET", path, NULL, &r) != 0)
                fail_msg("snapshot of job %s: no answer", id);
        if (r.status == 404) {
                http_res_free(&r);
                return strdup("404");
        }
        if (r.status != 200 || !json_is_object(jpath(r.json, "job")))
                fail_msg("snapshot of job %s: HTTP %d %s", id, r.status, r.body);
        text = json_dumps(jpath(r.json, "job"), JSON_COMPACT | JSON_SORT_KEYS);
        http_res_free(&r);
        if (!text)
                abort();
        return text;
}

void harness_assert_unchanged(const char *url, const char *id, const char *before, const char *file,
                              int line)
{
        char *now = harness_snapshot(url, id);
        bool same = strcmp(now, before) == 0;

        if (!same)
                print_error("%s:%d: job %s changed:\n before: %s\n after:  %s\n", file, line, id,
                            before, now);
        free(now);
        if (!same)
                _fail(file, line);
}

int64_t harness_total_jobs(struct baton_client *c)
{
        return harness_count_jobs(c, NULL, NULL);
}

/* ---- dependency chains ---- */

/* The key these helpers send: h's admin key (set by the test for a node that
 * shares another node's store), none when it has none. */
static const char *harness_chain_key(const struct harness *h)
{
        return h->admin_key[0] ? h->admin_key : NULL;
}

/* The body of one flow of the chain: per_flow jobs r0..r<n-1>, r0 on
 * parent (an id, or "" for none) with extra members; owned by the caller. */
static char *chain_body(const char *queue, int per_flow, const char *parent, const char *extra)
{
        size_t cap = (size_t)per_flow * (strlen(queue) + 96) + 256 + (extra ? strlen(extra) : 0);
        char *b = malloc(cap);
        size_t len = 0;

        assert_non_null(b);
        len += (size_t)snprintf(b + len, cap - len, "{\"jobs\":[");
        for (int i = 0; i < per_flow; i++) {
                char dep[48] = "";
                if (i > 0)
                        snprintf(dep, sizeof(dep), ",\"depends_on\":[\"r%d\"]", i - 1);
                else if (parent[0])
                        snprintf(dep, sizeof(dep), ",\"depends_on\":[\"%s\"]", parent);
                len += (size_t)snprintf(b + len, cap - len,
                                        "%s{\"ref\":\"r%d\",\"queue\":\"%s\",\"type\":\"t\"%s%s%s}",
                                        i ? "," : "", i, queue, dep, i == 0 && extra ? "," : "",
                                        i == 0 && extra ? extra : "");
                assert_true(len < cap);
        }
        len += (size_t)snprintf(b + len, cap - len, "]}");
        assert_true(len < cap);
        return b;
}

void harness_flow_chain(const struct harness *h, const char *queue, int n_flows, int per_flow,
                        const char *root_extra, char *root_id, char *last_id, char (*flow_ids)[32])
{
        char parent[32] = "";

        for (int k = 0; k < n_flows; k++) {
                char *body = chain_body(queue, per_flow, parent, k == 0 ? root_extra : NULL);
                struct http_res r;
                json_t *jobs;

                assert_int_equal(
                    http_json_as(h->url, harness_chain_key(h), "POST", "/v1/flows", body, &r), 0);
                free(body);
                if (r.status != 201)
                        fprintf(stderr, "flow %d: %d %.300s\n", k, r.status, r.body);
                assert_int_equal(r.status, 201);
                jobs = jpath(r.json, "flow.jobs");
                assert_int_equal(json_array_size(jobs), (size_t)per_flow);
                snprintf(flow_ids[k], 32, "%s", jpath_str(r.json, "flow.id"));
                if (k == 0)
                        snprintf(root_id, 32, "%s", jpath_str(json_array_get(jobs, 0), "id"));
                snprintf(parent, sizeof(parent), "%s",
                         jpath_str(json_array_get(jobs, (size_t)per_flow - 1), "id"));
                http_res_free(&r);
        }
        snprintf(last_id, 32, "%s", parent);
}

int harness_flow_state(const struct harness *h, const char *flow_id, char *state,
                       const char *check_reason, const char *except_id)
{
        char path[96];
        struct http_res r;
        int status;

        state[0] = 0;
        snprintf(path, sizeof(path), "/v1/flows/%s", flow_id);
        if (http_json_as(h->url, harness_chain_key(h), "GET", path, NULL, &r) != 0)
                return 0;
        status = r.status;
        if (status == 200)
                snprintf(state, 32, "%s",
                         jpath_str(r.json, "flow.state") ? jpath_str(r.json, "flow.state") : "");
        for (size_t i = 0;
             status == 200 && check_reason && i < json_array_size(jpath(r.json, "flow.jobs"));
             i++) {
                json_t *j = json_array_get(jpath(r.json, "flow.jobs"), i);
                const char *why = jpath_str(j, "cancel_reason");
                if (except_id && strcmp(jpath_str(j, "id"), except_id) == 0)
                        continue;
                if (strcmp(jpath_str(j, "state"), "cancelled") != 0 || !why ||
                    strcmp(why, check_reason) != 0)
                        fail_msg("flow %s job %s: state %s, cancel_reason %s", flow_id,
                                 jpath_str(j, "id"), jpath_str(j, "state"), why ? why : "null");
        }
        http_res_free(&r);
        return status;
}
