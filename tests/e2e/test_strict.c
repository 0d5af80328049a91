/*
 * test_strict.c: end-to-end tests of docs/api.md's "Strict input": on every
 * route, a body member the route does not know (at the top and inside each
 * nested object the route parses) is 400 unknown_field with the member's
 * full path, and nothing changes; a query parameter the route does not read
 * is 400 unknown_parameter naming it; a body not sent as application/json is
 * 415 unsupported_media_type (a charset parameter and any case are
 * accepted); and the errors about a value name it and what is allowed
 * (invalid_state with the job's state and the states the action needs,
 * unknown_time_zone echoing the zone, a bad state filter listing the states).
 *
 * "Nothing changed" is checked by reading, before and after each refused
 * request, the objects it would have changed (the queue's job list, the job,
 * the queue, the schedule and its runs, the timer, the key list) and
 * comparing the answers byte for byte (a queue's oldest_ready_age_ms, which
 * moves with the clock, left out). One server for the file; every test uses
 * its own queue, keys and names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/harness.h"
#include "support/rawhttp.h"

static struct harness srv;
static struct baton_client *cl;

/* The members of v that move by themselves with the clock, removed so that
 * two reads of an unchanged object compare equal. */
static void drop_clock_members(json_t *v)
{
        const char *k;
        json_t *m;
        size_t i;

        if (json_is_object(v)) {
                json_object_del(v, "oldest_ready_age_ms");
                json_object_foreach(v, k, m) drop_clock_members(m);
        } else if (json_is_array(v)) {
                json_array_foreach(v, i, m) drop_clock_members(m);
        }
}

/* GET path as the admin: "<status> <body>" with the JSON compact, keys
 * sorted and the clock's members dropped. Caller frees. */
static char *snap(const char *path)
{
        struct http_res r;
        char *text, *out;
        size_t n;

        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        drop_clock_members(r.json);
        text = r.json ? json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS) : strdup(r.body);
        assert_non_null(text);
        n = strlen(text) + 16;
        out = malloc(n);
        assert_non_null(out);
        snprintf(out, n, "%d %s", r.status, text);
        free(text);
        http_res_free(&r);
        return out;
}

/* Sends method path with the body formatted from fmt (NULL: no body),
 * which must be refused with 400 code naming field, and asserts that what
 * probe (a GET path) reads did not change. */
static void refusedf(const char *method, const char *path, const char *code, const char *field,
                     const char *probe, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void refusedf(const char *method, const char *path, const char *code, const char *field,
                     const char *probe, const char *fmt, ...)
{
        char body[2048], *before = snap(probe), *after;
        struct http_res r;
        va_list ap;

        va_start(ap, fmt);
        if (fmt)
                vsnprintf(body, sizeof(body), fmt, ap);
        va_end(ap);
        assert_int_equal(http_json(srv.url, method, path, fmt ? body : NULL, &r), 0);
        assert_http_error(&r, 400, code, field);
        http_res_free(&r);
        after = snap(probe);
        if (strcmp(before, after) != 0)
                fprintf(stderr, "%s %s changed %s:\nbefore %s\nafter  %s\n", method, path, probe,
                        before, after);
        assert_string_equal(before, after);
        free(before);
        free(after);
}

/* An unknown member: 400 unknown_field naming it, nothing changed. */
#define unknownf(method, path, field, probe, ...)                                                  \
        refusedf((method), (path), "unknown_field", (field), (probe), __VA_ARGS__)
#define unknown(method, path, body, field, probe) unknownf(method, path, field, probe, "%s", body)

/* One request that must answer status; the answer is dropped. */
static void expect(const char *method, const char *path, const char *body, int status)
{
        struct http_res r;

        harness_expect(srv.url, NULL, method, path, body, status, &r);
        http_res_free(&r);
}

/* Enqueues one job on q (extra: more members, or "") and copies its id. */
static void enqueue(const char *q, const char *extra, char *id)
{
        char body[512];

        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"%s%s}", q, *extra ? "," : "",
                 extra);
        harness_http_enqueue(srv.url, NULL, body, id, 32);
}

/* A queue of its own named after prefix (into q, 64 bytes) and one job on
 * it (extra: more members, or ""), its id into id. */
static void fresh_job(const char *prefix, char *q, const char *extra, char *id)
{
        enqueue(harness_unique(prefix, q, 64), extra, id);
}

static void enqueue_routes(void **state)
{
        char q[64], probe[128], id[32], path[128];

        (void)state;
        fresh_job("strict-enq", q, "", id);
        snprintf(probe, sizeof(probe), "/v1/jobs?queue=%s", q);
        /* BullMQ's options are not baton's: refused, not ignored. */
        unknownf("POST", "/v1/jobs", "attempts", probe,
                 "{\"queue\":\"%s\",\"type\":\"t\",\"attempts\":3}", q);
        unknownf("POST", "/v1/jobs", "backoff.jitter", probe,
                 "{\"queue\":\"%s\",\"type\":\"t\",\"backoff\":{\"type\":\"fixed\",\"jitter\":1}}",
                 q);
        /* A batch: the element's path, and the envelope's own members. */
        unknownf(
            "POST", "/v1/jobs", "jobs[3].delay", probe,
            "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\"},{\"queue\":\"%s\",\"type\":\"t\"},"
            "{\"queue\":\"%s\",\"type\":\"t\"},{\"queue\":\"%s\",\"type\":\"t\",\"delay\":5}]}",
            q, q, q, q);
        unknownf("POST", "/v1/jobs", "jobs[0].backoff.kind", probe,
                 "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\",\"backoff\":{\"kind\":\"x\"}}]}", q);
        unknownf("POST", "/v1/jobs", "queue", probe,
                 "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\"}],\"queue\":\"%s\"}", q, q);
        /* Flows: the envelope, a job, and a job's nested backoff. */
        unknownf("POST", "/v1/flows", "name", probe,
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"}],"
                 "\"name\":\"f\"}",
                 q);
        unknownf("POST", "/v1/flows", "jobs[1].parent", probe,
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},{\"ref\":\"b\","
                 "\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"a\"],\"parent\":\"a\"}]}",
                 q, q);
        unknownf(
            "POST", "/v1/flows", "jobs[0].backoff.x", probe,
            "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\",\"backoff\":{\"x\":1}}]}",
            q);
        /* Routes that take no body: an empty object is fine, a member is not. */
        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        unknown("DELETE", path, "{\"reason\":\"x\"}", "reason", probe);
        snprintf(path, sizeof(path), "/v1/jobs/%s/retry", id);
        unknown("POST", path, "{\"reset_attempts\":true}", "reset_attempts", probe);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 1);
        assert_int_equal(harness_count_jobs(cl, q, "queued"), 1);
}

static void work_routes(void **state)
{
        char q[64], id[32], probe[64], path[128];
        const char *lease;
        json_t *job;

        (void)state;
        fresh_job("strict-work", q, "", id);
        snprintf(probe, sizeof(probe), "/v1/jobs/%s", id);
        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        unknown("POST", path, "{\"worker\":\"w\",\"visibility_timeout\":1000}",
                "visibility_timeout", probe);
        job = harness_http_claim(srv.url, NULL, q, NULL, id);
        lease = jpath_str(job, "lease");
        assert_non_null(lease);
        snprintf(path, sizeof(path), "/v1/jobs/%s/heartbeat", id);
        unknownf("POST", path, "extend", probe, "{\"lease\":\"%s\",\"extend\":1000}", lease);
        snprintf(path, sizeof(path), "/v1/jobs/%s/complete", id);
        unknownf("POST", path, "output", probe, "{\"lease\":\"%s\",\"result\":1,\"output\":2}",
                 lease);
        /* A member of the other outcome is not this call's. */
        unknownf("POST", path, "error", probe, "{\"lease\":\"%s\",\"error\":\"boom\"}", lease);
        snprintf(path, sizeof(path), "/v1/jobs/%s/fail", id);
        unknownf("POST", path, "retry", probe, "{\"lease\":\"%s\",\"error\":\"x\",\"retry\":false}",
                 lease);
        unknownf("POST", path, "result", probe, "{\"lease\":\"%s\",\"result\":1}", lease);
        /* /v1/settle: the envelope, and each item by its outcome. */
        unknownf("POST", "/v1/settle", "atomic", probe,
                 "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\"}],"
                 "\"atomic\":true}",
                 id, lease);
        unknownf("POST", "/v1/settle", "items[0].error", probe,
                 "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\","
                 "\"error\":\"x\"}]}",
                 id, lease);
        unknownf("POST", "/v1/settle", "items[0].result", probe,
                 "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"fail\",\"result\":1}]}",
                 id, lease);
        /* The lease was never touched: it still completes the job. */
        harness_http_complete(srv.url, NULL, job, "1", "completed");
}

static void queue_routes(void **state)
{
        char q[64], probe[128], path[128], dead[32];
        json_t *job;

        (void)state;
        fresh_job("strict-queue", q, "\"max_attempts\":1", dead);
        /* The queue's path is the request's and the probe's. */
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        unknown("PATCH", path, "{\"paused\":true,\"colour\":\"red\"}", "colour", path);
        unknown("PATCH", path, "{\"rate\":{\"max\":1,\"per_ms\":1000,\"burst\":2}}", "rate.burst",
                path);
        unknown("PATCH", path, "{\"group_rate\":{\"max\":1,\"per_ms\":1000,\"x\":1}}",
                "group_rate.x", path);
        unknown("PATCH", path, "{\"backoff\":{\"type\":\"fixed\",\"jitter\":true}}",
                "backoff.jitter", path);
        /* The dead letters: a dead job, a replay with a foreign option. */
        job = harness_http_claim(srv.url, NULL, q, NULL, dead);
        harness_http_fail(srv.url, NULL, job, "\"error\":\"x\",\"retryable\":false", "dead");
        snprintf(probe, sizeof(probe), "/v1/jobs/%s", dead);
        snprintf(path, sizeof(path), "/v1/queues/%s/dead/replay", q);
        unknownf("POST", path, "force", probe, "{\"ids\":[\"%s\"],\"force\":true}", dead);
        /* What clients send to a route without options is accepted. */
        snprintf(path, sizeof(path), "/v1/jobs/%s/retry", dead);
        expect("POST", path, "{}", 200);
}

static void cron_routes(void **state)
{
        char q[64], key[64], probe[160], runs[160], path[160], body[1024], job[128];

        (void)state;
        snprintf(job, sizeof(job), "\"job\":{\"queue\":\"%s\",\"type\":\"t\"}",
                 harness_unique("strict-cron", q, sizeof(q)));
        /* The schedule's path is the request's and the probe's. */
        snprintf(path, sizeof(path), "/v1/cron/%s", harness_unique("strict-k", key, sizeof(key)));
        snprintf(probe, sizeof(probe), "%s", path);
        /* "tz" for "timezone" would run the schedule in UTC. */
        unknownf("PUT", path, "tz", probe, "{\"cron\":\"0 3 * * *\",\"tz\":\"Europe/London\",%s}",
                 job);
        unknownf("PUT", path, "job.tz", probe,
                 "{\"cron\":\"0 3 * * *\",\"job\":{\"queue\":\"%s\",\"type\":\"t\","
                 "\"tz\":\"Europe/London\"}}",
                 q);
        /* An enqueue member a template does not keep. */
        unknownf("PUT", path, "job.delay_ms", probe,
                 "{\"cron\":\"0 3 * * *\",\"job\":{\"queue\":\"%s\",\"type\":\"t\","
                 "\"delay_ms\":1000}}",
                 q);
        unknownf("PUT", path, "job.backoff.typ", probe,
                 "{\"cron\":\"0 3 * * *\",\"job\":{\"queue\":\"%s\",\"type\":\"t\","
                 "\"backoff\":{\"typ\":\"fixed\"}}}",
                 q);
        /* The time zone's name is echoed. */
        snprintf(body, sizeof(body), "{\"cron\":\"0 3 * * *\",\"timezone\":\"Mars/Olympus\",%s}",
                 job);
        refusedf("PUT", path, "unknown_time_zone", "timezone", probe, "%s", body);
        {
                struct http_res r;
                assert_int_equal(http_json(srv.url, "PUT", path, body, &r), 0);
                assert_contains(http_error_member(&r, "message"), "\"Mars/Olympus\"");
                http_res_free(&r);
                assert_int_equal(http_json(srv.url, "POST", "/v1/cron/preview",
                                           "{\"cron\":\"0 3 * * *\",\"timezone\":\"Mars/Olympus\"}",
                                           &r),
                                 0);
                assert_int_equal(r.status, 200);
                assert_string_equal(jpath_str(r.json, "error.code"), "unknown_time_zone");
                assert_contains(jpath_str(r.json, "error.message"), "\"Mars/Olympus\"");
                http_res_free(&r);
        }
        /* Now the schedule exists: a refused update leaves it as it was. */
        snprintf(body, sizeof(body), "{\"cron\":\"0 3 * * *\",%s}", job);
        expect("PUT", path, body, 201);
        unknownf("PUT", path, "paused", probe, "{\"cron\":\"0 4 * * *\",\"paused\":true,%s}", job);
        /* The registry: the document, an entry, an entry's template. */
        unknownf("PUT", "/v1/cron", "schedules[2].job.x", "/v1/cron",
                 "{\"schedules\":[{\"key\":\"%s-a\",\"cron\":\"0 1 * * *\",%s},"
                 "{\"key\":\"%s-b\",\"cron\":\"0 2 * * *\",%s},"
                 "{\"key\":\"%s-c\",\"cron\":\"0 3 * * *\",\"job\":{\"queue\":\"%s\","
                 "\"type\":\"t\",\"x\":1}}],\"prune\":false}",
                 key, job, key, job, key, q);
        unknownf("PUT", "/v1/cron", "schedules[0].tz", "/v1/cron",
                 "{\"schedules\":[{\"key\":\"%s\",\"cron\":\"0 5 * * *\",\"tz\":\"UTC\",%s}]}", key,
                 job);
        unknownf("PUT", "/v1/cron", "dry_run", "/v1/cron",
                 "{\"schedules\":[{\"key\":\"%s\",\"cron\":\"0 5 * * *\",%s}],\"dry_run\":true}",
                 key, job);
        /* Pause, resume, run, preview. */
        snprintf(path, sizeof(path), "/v1/cron/%s/pause", key);
        unknown("POST", path, "{\"note\":\"n\",\"until\":\"tomorrow\"}", "until", probe);
        snprintf(path, sizeof(path), "/v1/cron/%s/resume", key);
        unknown("POST", path, "{\"catch_up\":true}", "catch_up", probe);
        snprintf(runs, sizeof(runs), "/v1/cron/%s/runs", key);
        snprintf(path, sizeof(path), "/v1/cron/%s/run", key);
        unknown("POST", path, "{\"force\":true,\"delay_ms\":1}", "delay_ms", runs);
        snprintf(probe, sizeof(probe), "/v1/jobs?queue=%s", q);
        unknown("POST", path, "{\"priority\":\"high\"}", "priority", probe);
        unknown("POST", "/v1/cron/preview", "{\"cron\":\"0 3 * * *\",\"tz\":\"UTC\"}", "tz",
                "/v1/cron");
}

static void timer_and_key_routes(void **state)
{
        char q[64], key[64], timer[160], path[160], body[512], kid[32], tok[128];

        (void)state;
        harness_unique("strict-timer", q, sizeof(q));
        /* The timer's path is both the request's and the probe's. */
        snprintf(timer, sizeof(timer), "/v1/timers/%s",
                 harness_unique("strict-t", key, sizeof(key)));
        /* A timer's request id is the request's: the enqueue member is not its. */
        unknownf("PUT", timer, "request_id", timer,
                 "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":600000,\"request_id\":\"r\"}", q);
        unknownf("PUT", timer, "fire_in", timer,
                 "{\"queue\":\"%s\",\"type\":\"t\",\"fire_in\":600000}", q);
        unknownf("PUT", timer, "backoff.y", timer,
                 "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":600000,\"backoff\":{\"y\":1}}", q);
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":600000}", q);
        expect("PUT", timer, body, 201);
        unknownf("PUT", timer, "version", timer,
                 "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":1000,\"version\":1}", q);
        /* Keys: create (and its rate_limit), rotate. */
        unknown("POST", "/v1/keys", "{\"name\":\"n\",\"scopes\":[\"jobs:read\"],\"role\":\"x\"}",
                "role", "/v1/keys");
        unknown("POST", "/v1/keys",
                "{\"name\":\"n\",\"scopes\":[\"jobs:read\"],\"rate_limit\":{\"max\":1,"
                "\"per_ms\":1000,\"burst\":5}}",
                "rate_limit.burst", "/v1/keys");
        harness_make_key(&srv, NULL, "[\"jobs:read\"]", NULL, tok, kid);
        snprintf(path, sizeof(path), "/v1/keys/%s/rotate", kid);
        unknown("POST", path, "{\"grace_ms\":0,\"revoke_old\":true}", "revoke_old", "/v1/keys");
}

static void unknown_query_parameters(void **state)
{
        char q[64], id[32], path[160], probe[128], body[256];
        struct http_res r;

        (void)state;
        fresh_job("strict-query", q, "", id);
        snprintf(probe, sizeof(probe), "/v1/jobs/%s", id);
        /* A parameter no route reads, on a list. */
        refusedf("GET", "/v1/jobs?bogus=1", "unknown_parameter", "bogus", probe, NULL);
        assert_int_equal(http_json(srv.url, "GET", "/v1/jobs?bogus=1", NULL, &r), 0);
        assert_contains(http_error_member(&r, "message"), "limit");
        http_res_free(&r);
        /* On a route that reads none: the message says so. */
        snprintf(path, sizeof(path), "/v1/queues/%s?limit=1", q);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_http_error(&r, 400, "unknown_parameter", "limit");
        assert_contains(http_error_member(&r, "message"), "none");
        http_res_free(&r);
        /* On changes: nothing is done. */
        snprintf(path, sizeof(path), "/v1/jobs/%s?bogus=1", id);
        refusedf("DELETE", path, "unknown_parameter", "bogus", probe, NULL);
        snprintf(probe, sizeof(probe), "/v1/jobs?queue=%s", q);
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"}", q);
        refusedf("POST", "/v1/jobs?bogus=1", "unknown_parameter", "bogus", probe, "%s", body);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 1);
}

/* POST /v1/jobs over a raw socket with the Content-Type line ct (NULL:
 * none); returns the status and copies the error code (or "") into code. */
static int post_as(const char *ct, const char *body, char *code)
{
        struct raw_reader *rd = calloc(1, sizeof(*rd));
        struct raw_res res = {0};
        char req[1024], ctl[128] = "";
        json_t *j;
        int n, status;

        assert_non_null(rd);
        if (ct)
                snprintf(ctl, sizeof(ctl), "Content-Type: %s\r\n", ct);
        n = snprintf(req, sizeof(req),
                     "POST /v1/jobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n%s"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     srv.admin_key, ctl, strlen(body), body);
        rd->fd = raw_connect(srv.port);
        assert_true(rd->fd >= 0);
        assert_int_equal(raw_send(rd->fd, req, (size_t)n), 0);
        assert_int_equal(raw_read_res(rd, 5000, &res), 0);
        j = json_loadb(res.body, res.body_len, 0, NULL);
        snprintf(code, 64, "%s", jpath_str(j, "error.code") ? jpath_str(j, "error.code") : "");
        status = res.status;
        json_decref(j);
        raw_res_free(&res);
        close(rd->fd);
        free(rd);
        return status;
}

static void media_types(void **state)
{
        char q[64], body[256], code[64];

        (void)state;
        harness_unique("strict-media", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"}", q);
        assert_int_equal(post_as("text/plain", body, code), 415);
        assert_string_equal(code, "unsupported_media_type");
        assert_int_equal(post_as(NULL, body, code), 415);
        assert_string_equal(code, "unsupported_media_type");
        assert_int_equal(post_as("application/jsonx", body, code), 415);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 0);
        assert_int_equal(post_as("application/json; charset=utf-8", body, code), 201);
        assert_int_equal(post_as("Application/JSON", body, code), 201);
        assert_int_equal(harness_count_jobs(cl, q, NULL), 2);
}

/* The answer's state of a timer, whether it is bare or under "timer". */
static const char *timer_state(const struct http_res *r)
{
        const char *s = jpath_str(r->json, "timer.state");

        return s ? s : jpath_str(r->json, "state");
}

/* method path (no body) must answer status with code (and field, unless
 * NULL) and a message containing text. */
static void answers(const char *method, const char *path, int status, const char *code,
                    const char *field, const char *text)
{
        struct http_res r;

        assert_int_equal(http_json(srv.url, method, path, NULL, &r), 0);
        assert_http_error(&r, status, code, field);
        assert_contains(http_error_member(&r, "message"), text);
        http_res_free(&r);
}

static void value_messages(void **state)
{
        static const char *const names[] = {"pending",  "scheduled", "queued", "running",
                                            "retrying", "completed", "dead",   "cancelled"};
        char q[64], id[32], qid[32], path[160], msg[256];

        (void)state;
        fresh_job("strict-msg", q, "", id);
        harness_http_complete(srv.url, NULL, harness_http_claim(srv.url, NULL, q, NULL, id), NULL,
                              "completed");
        snprintf(path, sizeof(path), "/v1/jobs/%s/retry", id);
        snprintf(msg, sizeof(msg), "job %s is completed; retry needs dead or cancelled", id);
        answers("POST", path, 409, "invalid_state", NULL, msg);
        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        snprintf(msg, sizeof(msg),
                 "job %s is completed; cancel needs pending, scheduled, queued, "
                 "running or retrying",
                 id);
        answers("DELETE", path, 409, "invalid_state", NULL, msg);
        enqueue(q, "", qid);
        snprintf(path, sizeof(path), "/v1/jobs/%s/retry", qid);
        snprintf(msg, sizeof(msg), "job %s is queued; retry needs dead or cancelled", qid);
        answers("POST", path, 409, "invalid_state", NULL, msg);
        /* A bad state filter echoes the value and lists every state. */
        answers("GET", "/v1/jobs?state=finished", 400, "invalid_field", "state", "\"finished\"");
        for (int i = 0; i < 8; i++)
                answers("GET", "/v1/jobs?state=finished", 400, "invalid_field", "state", names[i]);
        /* A path id that is not one is echoed. */
        answers("GET", "/v1/jobs/abc", 400, "invalid_id", "id", "\"abc\"");
}

/* A fired timer cannot be cancelled: its state and version are named. */
/* A member another job system would send names ours: BullMQ's attempts and
 * delay, a cron tz, a lease without its unit. */
static void refusals_name_the_member_meant(void **state)
{
        static const struct {
                const char *method, *path, *body, *field, *meant;
        } cases[] = {
            {"POST", "/v1/jobs", "{\"queue\":\"hint-q\",\"type\":\"t\",\"attempts\":3}", "attempts",
             "\"max_attempts\""},
            {"POST", "/v1/jobs", "{\"queue\":\"hint-q\",\"type\":\"t\",\"delay\":5000}", "delay",
             "\"delay_ms\""},
            {"PUT", "/v1/cron/hint-s",
             "{\"cron\":\"0 3 * * *\",\"tz\":\"Europe/London\",\"job\":{\"queue\":\"hint-q\","
             "\"type\":\"t\"}}",
             "tz", "\"timezone\""},
            {"POST", "/v1/queues/hint-q/claim", "{\"worker\":\"w\",\"lease\":1000}", "lease",
             "\"lease_ms\""},
        };

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct http_res r;

                assert_int_equal(
                    http_json(srv.url, cases[i].method, cases[i].path, cases[i].body, &r), 0);
                assert_int_equal(r.status, 400);
                assert_string_equal(http_error_member(&r, "code"), "unknown_field");
                assert_string_equal(http_error_member(&r, "field"), cases[i].field);
                assert_contains(http_error_member(&r, "message"), "did you mean");
                assert_contains(http_error_member(&r, "message"), cases[i].meant);
                http_res_free(&r);
        }
        /* Nothing was made by any of them. */
        expect("GET", "/v1/cron/hint-s", NULL, 404);
        expect("GET", "/v1/queues/hint-q", NULL, 404);
}

static void fired_timer_message(void **state)
{
        char q[64], key[64], path[160], msg[256], body[256];
        struct http_res r;
        int i;

        (void)state;
        harness_unique("strict-fq", q, sizeof(q));
        snprintf(path, sizeof(path), "/v1/timers/%s", harness_unique("strict-fired", key, 64));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\",\"delay_ms\":0}", q);
        expect("PUT", path, body, 201);
        for (i = 0; i < 100; i++) {
                bool fired;
                harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
                fired = timer_state(&r) && strcmp(timer_state(&r), "fired") == 0;
                http_res_free(&r);
                if (fired)
                        break;
                harness_sleep_ms(50);
        }
        assert_true(i < 100);
        snprintf(msg, sizeof(msg), "timer %s is fired (version 1)", key);
        answers("DELETE", path, 409, "invalid_state", NULL, msg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(enqueue_routes),
            cmocka_unit_test(work_routes),
            cmocka_unit_test(queue_routes),
            cmocka_unit_test(cron_routes),
            cmocka_unit_test(timer_and_key_routes),
            cmocka_unit_test(unknown_query_parameters),
            cmocka_unit_test(media_types),
            cmocka_unit_test(value_messages),
            cmocka_unit_test(fired_timer_message),
            cmocka_unit_test(refusals_name_the_member_meant),
        };

        harness_group(&srv, NULL, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
