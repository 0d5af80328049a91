/*
 * test_events.c: end-to-end tests of the event log (docs/api.md "Events")
 * against a real batond, on SQLite and (the _pg run) PostgreSQL: each event
 * type appears after the change that causes it, with its subject and the
 * fields of its type (a job's whole life: enqueued, started, progress with
 * a step, retrying, completed; dead; cancelled; a cron run's fired and
 * run_failed; a timer's fired; a queue's paused, resumed and settings);
 * an operation that rolls back leaves no event; the feed is tenant-scoped
 * and needs events:read; the type and queue filters, the cursor and the
 * strict parameters; a long-poll wakes on a new event and times out empty;
 * Server-Sent Events stream new events, send heartbeats, resume after
 * Last-Event-ID and end cleanly when the server stops; retention by age and
 * count; a queue with job_events off writes no job events; kill -9 right
 * after an acknowledged change keeps its event. On PostgreSQL, two nodes
 * serve one feed: a reader that moves between them while the leader is
 * killed sees every acknowledged enqueue once, in increasing ids.
 *
 * Reads filter by a queue unique to each test (harness_unique), so tests
 * sharing the server do not see each other's events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "support/harness.h"
#include "support/rawhttp.h"

#define HEARTBEAT_MS 300

static struct harness srv;
static struct baton_client *cl;

/* GET /v1/events with query q through url as key (NULL: admin); asserts
 * status and returns the answer in *r. */
static void events_get(const char *url, const char *key, const char *q, int status,
                       struct http_res *r)
{
        char path[512];

        snprintf(path, sizeof(path), "/v1/events%s%s", q && *q ? "?" : "", q ? q : "");
        harness_expect(url, key, "GET", path, NULL, status, r);
}

/* events_get, once the answer holds at least want events (up to 10 s; see
 * queue_events_n for why a read may have to wait). */
static void events_get_n(const char *url, const char *key, const char *q, size_t want,
                         struct http_res *r)
{
        for (int i = 0; i < 100; i++) {
                events_get(url, key, q, 200, r);
                if (json_array_size(jpath(r->json, "events")) >= want || i == 99)
                        return;
                http_res_free(r);
                harness_sleep_ms(100);
        }
}

/* The events of queue q (every type), oldest first, as a new JSON array,
 * once at least want of them are readable (up to 10 s: on PostgreSQL an
 * event is readable once every transaction of the cluster that began before
 * its own has ended, which another test's open transaction can delay). */
static json_t *queue_events_n(const char *q, size_t want)
{
        struct http_res r;
        char query[200];
        json_t *v = NULL;

        snprintf(query, sizeof(query), "queue=%s&limit=1000", q);
        for (int i = 0; i < 100; i++) {
                events_get(srv.url, NULL, query, 200, &r);
                json_decref(v);
                v = json_incref(jpath(r.json, "events"));
                assert_non_null(v);
                http_res_free(&r);
                if (json_array_size(v) >= want)
                        break;
                harness_sleep_ms(100);
        }
        return v;
}

#define queue_events(q) queue_events_n((q), 0)

/* The types of a list of events joined by spaces, into out. */
static const char *types_of(const json_t *ev, char *out, size_t cap)
{
        size_t len = 0;

        out[0] = '\0';
        for (size_t i = 0; i < json_array_size(ev); i++)
                len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "",
                                        jpath_str(json_array_get(ev, i), "type"));
        return out;
}

static void enqueue(const char *url, const char *key, const char *queue, char *id)
{
        char body[256];

        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"ev\",\"payload\":{}}", queue);
        harness_http_enqueue(url, key, body, id, 24);
}

/* A job's whole life: enqueued, started, progress with a step, retrying,
 * started again, completed; and each event's subject and data. */
static void job_lifecycle(void **state)
{
        struct http_res r;
        char q[64], id[24], body[256], path[96], types[512];
        json_t *job, *ev, *e;
        int64_t last = 0;

        (void)state;
        harness_unique("life", q, sizeof(q));
        enqueue(srv.url, NULL, q, id);
        job = harness_http_claim(srv.url, NULL, q, "{\"worker\":\"w-life\",\"max\":1}", id);
        snprintf(path, sizeof(path), "/v1/jobs/%s/heartbeat", id);
        snprintf(body, sizeof(body),
                 "{\"lease\":\"%s\",\"progress\":{\"percent\":40,\"step\":\"fetch\"}}",
                 jpath_str(job, "lease"));
        harness_expect(srv.url, NULL, "POST", path, body, 200, &r);
        http_res_free(&r);
        /* Retried at once: the job is queued again, its event job.retrying. */
        harness_http_fail(srv.url, NULL, job, "\"error\":\"flaky\",\"retry_in_ms\":0", "queued");
        job = harness_http_claim(srv.url, NULL, q, "{\"worker\":\"w-life\",\"max\":1}", id);
        harness_http_complete(srv.url, NULL, job, "{\"rows\":12}", "completed");

        ev = queue_events_n(q, 6);
        assert_string_equal(types_of(ev, types, sizeof(types)),
                            "job.enqueued job.started job.progress job.retrying job.started "
                            "job.completed");
        for (size_t i = 0; i < json_array_size(ev); i++) {
                e = json_array_get(ev, i);
                /* Ids increase, and every event names the job. */
                assert_true(strtoll(jpath_str(e, "id"), NULL, 10) > last);
                last = strtoll(jpath_str(e, "id"), NULL, 10);
                assert_string_equal(jpath_str(e, "subject.kind"), "job");
                assert_string_equal(jpath_str(e, "subject.id"), id);
                assert_string_equal(jpath_str(e, "subject.queue"), q);
                assert_string_equal(jpath_str(e, "data.type"), "ev");
                assert_true(harness_parse_time(jpath_str(e, "at")) > 0);
        }
        e = json_array_get(ev, 0);
        assert_string_equal(jpath_str(e, "data.state"), "queued");
        assert_string_equal(jpath_str(e, "data.priority"), "normal");
        e = json_array_get(ev, 1);
        assert_int_equal(jpath_int(e, "data.attempt"), 1);
        assert_string_equal(jpath_str(e, "data.worker"), "w-life");
        assert_true(jpath_int(e, "data.wait_ms") >= 0);
        e = json_array_get(ev, 2);
        assert_int_equal(jpath_int(e, "data.progress.percent"), 40);
        e = json_array_get(ev, 3);
        assert_int_equal(jpath_int(e, "data.attempt"), 1);
        assert_string_equal(jpath_str(e, "data.error"), "flaky");
        assert_non_null(jpath_str(e, "data.retry_at"));
        e = json_array_get(ev, 4);
        assert_int_equal(jpath_int(e, "data.attempt"), 2);
        e = json_array_get(ev, 5);
        assert_int_equal(jpath_int(e, "data.attempt"), 2);
        assert_int_equal(jpath_int(e, "data.result_bytes"), (int64_t)strlen("{\"rows\":12}"));
        assert_true(jpath_int(e, "data.duration_ms") >= 0);
        json_decref(ev);
}

/* job.dead with the attempt and error; job.cancelled with its reason. */
static void dead_and_cancelled(void **state)
{
        struct http_res r;
        char q[64], id[24], id2[24], path[96], types[256];
        json_t *job, *ev;

        (void)state;
        harness_unique("dead", q, sizeof(q));
        enqueue(srv.url, NULL, q, id);
        job = harness_http_claim(srv.url, NULL, q, NULL, id);
        harness_http_fail(srv.url, NULL, job, "\"error\":\"bad input\",\"retryable\":false",
                          "dead");
        enqueue(srv.url, NULL, q, id2);
        snprintf(path, sizeof(path), "/v1/jobs/%s", id2);
        harness_expect(srv.url, NULL, "DELETE", path, NULL, 200, &r);
        http_res_free(&r);
        ev = queue_events_n(q, 5);
        assert_string_equal(types_of(ev, types, sizeof(types)),
                            "job.enqueued job.started job.dead job.enqueued job.cancelled");
        assert_string_equal(jpath_str(json_array_get(ev, 2), "data.error"), "bad input");
        assert_int_equal(jpath_int(json_array_get(ev, 2), "data.attempt"), 1);
        assert_int_equal(jpath_int(json_array_get(ev, 2), "data.max_attempts"), 4);
        assert_string_equal(jpath_str(json_array_get(ev, 4), "subject.id"), id2);
        assert_non_null(jpath_str(json_array_get(ev, 4), "data.reason"));
        json_decref(ev);
}

/* A batch enqueue whose second job repeats the first's active key fails
 * whole: the first job's insert and its event are rolled back together. */
static void rolled_back_op_leaves_no_event(void **state)
{
        struct http_res r;
        char q[64], body[512], id[24];
        json_t *ev;

        (void)state;
        harness_unique("rb", q, sizeof(q));
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"ev\",\"key\":\"k\","
                 "\"unique_while\":\"active\"},{\"queue\":\"%s\",\"type\":\"ev\",\"key\":\"k\","
                 "\"unique_while\":\"active\"}]}",
                 q, q);
        harness_expect(srv.url, NULL, "POST", "/v1/jobs", body, 400, &r);
        http_res_free(&r);
        ev = queue_events(q);
        assert_int_equal(json_array_size(ev), 0);
        json_decref(ev);
        /* The same queue writes events once an enqueue commits. */
        enqueue(srv.url, NULL, q, id);
        ev = queue_events_n(q, 1);
        assert_int_equal(json_array_size(ev), 1);
        json_decref(ev);
}

/* Another tenant's key sees only its own events; jobs:read is not enough. */
static void tenants_and_scope(void **state)
{
        char tok[128], tok_jobs[128], q[64], id[24], query[160];
        struct http_res r;

        (void)state;
        harness_make_key(&srv, "evt2", "[\"events:read\",\"jobs:write\"]", NULL, tok, NULL);
        harness_make_key(&srv, "evt2", "[\"jobs:read\",\"jobs:write\"]", NULL, tok_jobs, NULL);
        harness_unique("ten", q, sizeof(q));
        enqueue(srv.url, NULL, q, id); /* tenant default */
        snprintf(query, sizeof(query), "queue=%s", q);
        events_get(srv.url, tok, query, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 0);
        http_res_free(&r);
        enqueue(srv.url, tok, q, id); /* tenant evt2, same queue name */
        events_get_n(srv.url, tok, query, 1, &r);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 1);
        assert_string_equal(jpath_str(r.json, "events[0].subject.id"), id);
        http_res_free(&r);
        /* The default tenant still sees its one event, not evt2's. */
        events_get_n(srv.url, NULL, query, 1, &r);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 1);
        assert_string_not_equal(jpath_str(r.json, "events[0].subject.id"), id);
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, tok_jobs, "GET", "/v1/events", NULL, &r), 0);
        assert_http_error(&r, 403, "forbidden", NULL);
        assert_contains(http_error_member(&r, "message"), "events:read");
        http_res_free(&r);
        assert_int_equal(http_json_as(srv.url, NULL, "GET", "/v1/events", NULL, &r), 0);
        assert_http_error(&r, 401, "unauthenticated", NULL);
        http_res_free(&r);
}

/* type patterns, the cursor and the parameters' errors. */
static void filters_cursor_and_errors(void **state)
{
        struct http_res r;
        char q[64], id[24], query[256], types[256], next[32];
        json_t *job;

        (void)state;
        harness_unique("flt", q, sizeof(q));
        enqueue(srv.url, NULL, q, id);
        job = harness_http_claim(srv.url, NULL, q, NULL, id);
        harness_http_fail(srv.url, NULL, job, "\"error\":\"x\",\"retryable\":false", "dead");
        snprintf(query, sizeof(query), "queue=%s&type=job.dead,job.enqueued", q);
        events_get_n(srv.url, NULL, query, 2, &r);
        assert_string_equal(types_of(jpath(r.json, "events"), types, sizeof(types)),
                            "job.enqueued job.dead");
        http_res_free(&r);
        snprintf(query, sizeof(query), "queue=%s&type=job.*", q);
        events_get(srv.url, NULL, query, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 3);
        http_res_free(&r);
        snprintf(query, sizeof(query), "queue=%s&type=cron.*,timer.fired", q);
        events_get(srv.url, NULL, query, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 0);
        http_res_free(&r);
        /* Pages of one, each resuming after the last. */
        snprintf(query, sizeof(query), "queue=%s&limit=1", q);
        events_get(srv.url, NULL, query, 200, &r);
        assert_string_equal(jpath_str(r.json, "events[0].type"), "job.enqueued");
        snprintf(next, sizeof(next), "%s", jpath_str(r.json, "next"));
        assert_string_equal(next, jpath_str(r.json, "events[0].id"));
        http_res_free(&r);
        snprintf(query, sizeof(query), "queue=%s&limit=1&after=%s", q, next);
        events_get(srv.url, NULL, query, 200, &r);
        assert_string_equal(jpath_str(r.json, "events[0].type"), "job.started");
        http_res_free(&r);
        /* Errors. */
        events_get(srv.url, NULL, "type=job.nope", 400, &r);
        assert_http_error(&r, 400, "invalid_type_pattern", "type");
        http_res_free(&r);
        events_get(srv.url, NULL, "type=", 200, &r);
        http_res_free(&r);
        events_get(srv.url, NULL, "type=job.dead,,", 400, &r);
        assert_http_error(&r, 400, "invalid_type_pattern", "type");
        http_res_free(&r);
        events_get(srv.url, NULL, "after=abc", 400, &r);
        assert_http_error(&r, 400, "invalid_cursor", "after");
        http_res_free(&r);
        events_get(srv.url, NULL, "limit=0", 400, &r);
        assert_http_error(&r, 400, "limit_out_of_range", "limit");
        http_res_free(&r);
        events_get(srv.url, NULL, "wait_ms=99999999", 400, &r);
        assert_http_error(&r, 400, "wait_ms_out_of_range", "wait_ms");
        http_res_free(&r);
        events_get(srv.url, NULL, "queue=a%20b", 400, &r);
        assert_http_error(&r, 400, "name_invalid", "queue");
        http_res_free(&r);
        events_get(srv.url, NULL, "state=dead", 400, &r);
        assert_http_error(&r, 400, "unknown_parameter", "state");
        http_res_free(&r);
}

struct later {
        char url[64];
        char queue[64];
        int64_t delay_ms;
};

static void *enqueue_later(void *arg)
{
        struct later *l = arg;
        char id[24];

        harness_sleep_ms(l->delay_ms);
        enqueue(l->url, NULL, l->queue, id);
        return NULL;
}

/* The head of the feed: the next of a read from the start. */
static void feed_head(char *next, size_t cap)
{
        struct http_res r;
        char query[64];

        snprintf(query, sizeof(query), "limit=1000");
        for (int i = 0; i < 1000; i++) {
                char after[32];
                events_get(srv.url, NULL, query, 200, &r);
                snprintf(after, sizeof(after), "%s", jpath_str(r.json, "next"));
                bool more = json_array_size(jpath(r.json, "events")) > 0;
                http_res_free(&r);
                snprintf(next, cap, "%s", after);
                if (!more)
                        return;
                snprintf(query, sizeof(query), "limit=1000&after=%s", after);
        }
        fail_msg("the feed did not end within 1000 pages");
}

/* A read with wait_ms answers when an event comes, and empty at its end. */
static void long_poll(void **state)
{
        struct later l = {{0}, {0}, 300};
        char head[32], query[160];
        struct http_res r;
        pthread_t t;

        (void)state;
        feed_head(head, sizeof(head));
        snprintf(l.url, sizeof(l.url), "%s", srv.url);
        harness_unique("lp", l.queue, sizeof(l.queue));
        assert_int_equal(harness_thread(&t, enqueue_later, &l), 0);
        snprintf(query, sizeof(query), "after=%s&queue=%s&wait_ms=10000", head, l.queue);
        events_get(srv.url, NULL, query, 200, &r);
        harness_join(t);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 1);
        assert_string_equal(jpath_str(r.json, "events[0].type"), "job.enqueued");
        assert_true(r.elapsed_ms >= 200);
        assert_true(r.elapsed_ms < 5000);
        http_res_free(&r);
        /* Nothing more of that queue: empty after wait_ms, next unchanged or
         * further on (past events of other queues). */
        feed_head(head, sizeof(head));
        snprintf(query, sizeof(query), "after=%s&queue=%s&wait_ms=400", head, l.queue);
        events_get(srv.url, NULL, query, 200, &r);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 0);
        assert_true(r.elapsed_ms >= 380);
        assert_true(strtoll(jpath_str(r.json, "next"), NULL, 10) >= strtoll(head, NULL, 10));
        http_res_free(&r);
}

/* ---- Server-Sent Events over a raw socket ---- */

struct sse {
        int fd;
        char buf[1 << 16];
        size_t len;
};

/* Opens a stream of the events of queue after cursor after (NULL: none),
 * with Last-Event-ID last (NULL: none); reads the head and checks it. */
static void sse_open(struct sse *s, const struct harness *h, const char *queue, const char *after,
                     const char *last)
{
        char req[1024];

        memset(s, 0, sizeof(*s));
        s->fd = raw_connect(h->port);
        assert_true(s->fd >= 0);
        snprintf(req, sizeof(req),
                 "GET /v1/events?queue=%s%s%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Accept: text/event-stream\r\n%s%s%s\r\n",
                 queue, after ? "&after=" : "", after ? after : "", h->admin_key,
                 last ? "Last-Event-ID: " : "", last ? last : "", last ? "\r\n" : "");
        assert_int_equal(raw_sends(s->fd, req), 0);
}

/* Reads until the stream holds needle (after from), within timeout_ms.
 * Returns the offset just past it, or -1. */
static long sse_until(struct sse *s, const char *needle, size_t from, int64_t timeout_ms)
{
        int64_t end = harness_now_ms() + timeout_ms;

        for (;;) {
                char *p;
                s->buf[s->len] = '\0';
                if (from <= s->len && (p = strstr(s->buf + from, needle)))
                        return (long)(p - s->buf) + (long)strlen(needle);
                if (harness_now_ms() >= end || s->len >= sizeof(s->buf) - 1)
                        return -1;
                struct timeval tv = {0, 50000};
                setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
                if (n == 0)
                        return -1;
                if (n > 0)
                        s->len += (size_t)n;
        }
}

/* The stream sends new events as they commit, with id and event lines,
 * heartbeats between them, and resumes after Last-Event-ID. */
static void sse_stream_and_resume(void **state)
{
        char q[64], id1[24], id2[24], evid[32], line[64];
        struct sse s;
        long at, at2;

        (void)state;
        harness_unique("sse", q, sizeof(q));
        sse_open(&s, &srv, q, NULL, NULL);
        at = sse_until(&s, "\r\n\r\n", 0, 10000);
        assert_true(at > 0);
        assert_non_null(strstr(s.buf, "HTTP/1.1 200"));
        assert_non_null(strstr(s.buf, "Content-Type: text/event-stream"));
        assert_non_null(strstr(s.buf, "Transfer-Encoding: chunked"));
        enqueue(srv.url, NULL, q, id1);
        at2 = sse_until(&s, "event: job.enqueued\ndata: ", (size_t)at, 10000);
        assert_true(at2 > 0);
        /* The id line comes first: the event's id, the cursor to resume from. */
        {
                char *idl = strstr(s.buf + at, "id: ");
                assert_non_null(idl);
                sscanf(idl, "id: %31s", evid);
        }
        snprintf(line, sizeof(line), "\"subject\":{\"kind\":\"job\",\"id\":\"%s\"", id1);
        assert_true(sse_until(&s, line, (size_t)at, 1000) > 0);
        /* Nothing for a while: a heartbeat comment. */
        assert_true(sse_until(&s, ": heartbeat\n\n", (size_t)at2, 3000) > 0);
        close(s.fd);

        /* A second job while no stream is open; the reconnect with the
         * first's id gets the second only. */
        enqueue(srv.url, NULL, q, id2);
        sse_open(&s, &srv, q, "0", evid);
        snprintf(line, sizeof(line), "\"subject\":{\"kind\":\"job\",\"id\":\"%s\"", id2);
        at = sse_until(&s, line, 0, 10000);
        assert_true(at > 0);
        snprintf(line, sizeof(line), "\"subject\":{\"kind\":\"job\",\"id\":\"%s\"", id1);
        assert_null(strstr(s.buf, line));
        close(s.fd);

        /* wait_ms has no meaning for a stream. */
        s.fd = raw_connect(srv.port);
        {
                struct raw_reader rd = {.fd = s.fd};
                struct raw_res res = {0};
                char req[512];
                snprintf(req, sizeof(req),
                         "GET /v1/events?wait_ms=10 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         "%s\r\nAccept: text/event-stream\r\n\r\n",
                         srv.admin_key);
                assert_int_equal(raw_sends(s.fd, req), 0);
                assert_int_equal(raw_read_res(&rd, 3000, &res), 0);
                assert_int_equal(res.status, 400);
                assert_non_null(strstr(res.body, "invalid_parameter"));
                raw_res_free(&res);
        }
        close(s.fd);
}

/* A queue with job_events false writes no job events; its settings change
 * and pause are events of their own. */
static void queue_events_and_switch(void **state)
{
        struct http_res r;
        char q[64], id[24], path[96], types[256];
        json_t *ev;

        (void)state;
        harness_unique("off", q, sizeof(q));
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        harness_expect(srv.url, NULL, "PATCH", path, "{\"job_events\":false,\"concurrency\":5}",
                       200, &r);
        assert_false(jpath_true(r.json, "queue.job_events"));
        http_res_free(&r);
        enqueue(srv.url, NULL, q, id);
        harness_expect(srv.url, NULL, "PATCH", path, "{\"paused\":true}", 200, &r);
        http_res_free(&r);
        harness_expect(srv.url, NULL, "PATCH", path, "{\"paused\":true}", 200, &r);
        http_res_free(&r);
        harness_expect(srv.url, NULL, "PATCH", path, "{\"paused\":false}", 200, &r);
        http_res_free(&r);
        ev = queue_events_n(q, 3);
        /* A pause of a paused queue changes nothing and has no event. */
        assert_string_equal(types_of(ev, types, sizeof(types)),
                            "queue.settings_changed queue.paused queue.resumed");
        assert_string_equal(jpath_str(json_array_get(ev, 0), "subject.kind"), "queue");
        assert_string_equal(jpath_str(json_array_get(ev, 0), "subject.name"), q);
        assert_string_equal(jpath_str(json_array_get(ev, 0), "data.changed[0]"), "concurrency");
        assert_string_equal(jpath_str(json_array_get(ev, 0), "data.changed[1]"), "job_events");
        json_decref(ev);
        /* Back on: the next job's events are written. */
        harness_expect(srv.url, NULL, "PATCH", path, "{\"job_events\":true}", 200, &r);
        assert_true(jpath_true(r.json, "queue.job_events"));
        http_res_free(&r);
        enqueue(srv.url, NULL, q, id);
        ev = queue_events_n(q, 5);
        assert_string_equal(types_of(ev, types, sizeof(types)),
                            "queue.settings_changed queue.paused queue.resumed "
                            "queue.settings_changed job.enqueued");
        json_decref(ev);
        harness_expect(srv.url, NULL, "PATCH", path, "{\"job_events\":1}", 400, &r);
        assert_http_error(&r, 400, "invalid_field", "job_events");
        http_res_free(&r);
}

/* The events of a cron schedule (kind cron, key) whose key is unique, once
 * at least want are readable (up to 10 s, as queue_events_n). */
static json_t *cron_events(const char *key, size_t want)
{
        json_t *out = NULL;

        for (int i = 0; i < 100; i++) {
                struct http_res r;

                json_decref(out);
                out = json_array();
                events_get(srv.url, NULL, "type=cron.*&limit=1000", 200, &r);
                for (size_t k = 0; k < json_array_size(jpath(r.json, "events")); k++) {
                        json_t *e = json_array_get(jpath(r.json, "events"), k);
                        if (strcmp(jpath_str(e, "subject.key"), key) == 0)
                                json_array_append(out, e);
                }
                http_res_free(&r);
                if (json_array_size(out) >= want)
                        break;
                harness_sleep_ms(100);
        }
        return out;
}

/* A manual cron run: cron.fired; its job dead: cron.run_failed. A timer's
 * firing: timer.fired, then its job's events. */
static void cron_and_timer_events(void **state)
{
        struct http_res r;
        char key[64], q[64], path[128], body[512], types[256];
        json_t *ev, *job;

        (void)state;
        harness_unique("evcron", key, sizeof(key));
        harness_unique("cq", q, sizeof(q));
        snprintf(path, sizeof(path), "/v1/cron/%s", key);
        snprintf(body, sizeof(body),
                 "{\"cron\":\"0 0 1 1 *\",\"job\":{\"queue\":\"%s\",\"type\":\"ev\","
                 "\"max_attempts\":1}}",
                 q);
        harness_expect(srv.url, NULL, "PUT", path, body, 201, &r);
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/cron/%s/run", key);
        harness_expect(srv.url, NULL, "POST", path, NULL, 202, &r);
        http_res_free(&r);
        job = harness_http_claim(srv.url, NULL, q, NULL, NULL);
        assert_non_null(job);
        harness_http_fail(srv.url, NULL, job, "\"error\":\"cron boom\"", "dead");
        ev = cron_events(key, 2);
        assert_string_equal(types_of(ev, types, sizeof(types)), "cron.fired cron.run_failed");
        assert_string_equal(jpath_str(json_array_get(ev, 0), "subject.kind"), "cron");
        assert_string_equal(jpath_str(json_array_get(ev, 0), "data.trigger"), "manual");
        assert_string_equal(jpath_str(json_array_get(ev, 0), "data.queue"), q);
        assert_non_null(jpath_str(json_array_get(ev, 0), "data.job_id"));
        assert_string_equal(jpath_str(json_array_get(ev, 1), "data.error"), "cron boom");
        assert_string_equal(jpath_str(json_array_get(ev, 1), "data.job_id"),
                            jpath_str(json_array_get(ev, 0), "data.job_id"));
        json_decref(ev);

        /* A timer due in 100 ms. */
        harness_unique("tq", q, sizeof(q));
        harness_unique("evtimer", key, sizeof(key));
        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        snprintf(body, sizeof(body), "{\"delay_ms\":100,\"queue\":\"%s\",\"type\":\"ev\"}", q);
        harness_expect(srv.url, NULL, "PUT", path, body, 201, &r);
        http_res_free(&r);
        for (int i = 0; i < 100; i++) {
                char query[160];
                snprintf(query, sizeof(query), "type=timer.fired&limit=1000");
                events_get(srv.url, NULL, query, 200, &r);
                json_t *found = NULL;
                for (size_t k = 0; k < json_array_size(jpath(r.json, "events")); k++) {
                        json_t *e = json_array_get(jpath(r.json, "events"), k);
                        if (strcmp(jpath_str(e, "subject.key"), key) == 0)
                                found = e;
                }
                if (found) {
                        assert_string_equal(jpath_str(found, "subject.kind"), "timer");
                        assert_int_equal(jpath_int(found, "data.version"), 1);
                        assert_string_equal(jpath_str(found, "data.queue"), q);
                        assert_true(jpath_int(found, "data.late_ms") >= 0);
                        http_res_free(&r);
                        ev = queue_events_n(q, 1);
                        assert_string_equal(types_of(ev, types, sizeof(types)), "job.enqueued");
                        json_decref(ev);
                        return;
                }
                http_res_free(&r);
                harness_sleep_ms(50);
        }
        fail_msg("no timer.fired within 5 s");
}

/* The number of events of the feed of h (at most 100), and the last one's
 * subject id into last (cap 24). */
static int feed_count(const struct harness *h, char *last)
{
        struct http_res r;
        int n;

        events_get(h->url, NULL, "limit=100", 200, &r);
        n = (int)json_array_size(jpath(r.json, "events"));
        if (n > 0)
                snprintf(last, 24, "%s",
                         jpath_str(json_array_get(jpath(r.json, "events"), (size_t)n - 1),
                                   "subject.id"));
        http_res_free(&r);
        return n;
}

/* Retention by count, then by age (servers of their own with small bounds;
 * the count bound is applied every second on SQLite, every ten on
 * PostgreSQL, where finding the keep-th newest id walks the index). */
static void retention(void **state)
{
        static const char *const by_count[] = {"--events-max-count", "3", NULL};
        static const char *const by_age[] = {"--events-max-age-ms", "1500", NULL};
        struct harness h = {0};
        struct http_res r;
        char q[64], id[24], last[24] = "";
        int n = -1;

        (void)state;
        assert_int_equal(harness_start(&h, by_count), 0);
        harness_unique("ret", q, sizeof(q));
        for (int i = 0; i < 6; i++)
                enqueue(h.url, NULL, q, id);
        for (int i = 0; i < 300 && n != 3; i++) {
                n = feed_count(&h, last);
                if (n != 3)
                        harness_sleep_ms(100);
        }
        assert_int_equal(n, 3);
        assert_string_equal(last, id);
        assert_int_equal(harness_stop(&h), 0);

        memset(&h, 0, sizeof(h));
        assert_int_equal(harness_start(&h, by_age), 0);
        for (int i = 0; i < 2; i++)
                enqueue(h.url, NULL, q, id);
        events_get_n(h.url, NULL, "limit=100", 2, &r);
        http_res_free(&r);
        for (int i = 0; i < 60 && n != 0; i++) {
                n = feed_count(&h, last);
                if (n != 0)
                        harness_sleep_ms(100);
        }
        assert_int_equal(n, 0);
        /* A new event after an empty log: ids never go back. */
        enqueue(h.url, NULL, q, id);
        events_get_n(h.url, NULL, "limit=100", 1, &r);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 1);
        assert_string_equal(jpath_str(r.json, "events[0].subject.id"), id);
        assert_true(strtoll(jpath_str(r.json, "events[0].id"), NULL, 10) > 2);
        http_res_free(&r);
        assert_int_equal(harness_stop(&h), 0);
}

/* A page is cut at --max-response-bytes (64 KiB here) like every list: its
 * next is the last event it holds, and reading on from it gets the rest,
 * each event once. 100 jobs fail with an error of 1,000 bytes: 100 events
 * of about 1.3 KB (job.dead), more than one page's budget. */
static void page_cut_at_the_byte_budget(void **state)
{
        static const char *const args[] = {"--max-response-bytes", "65536", NULL};
        struct harness h = {0};
        struct http_res r;
        char q[64], query[256], after[32] = "0";
        char *err = harness_repeat('e', 1000);
        struct buf b;
        json_t *jobs;
        int pages = 0, total = 0;

        (void)state;
        assert_int_equal(harness_start(&h, args), 0);
        harness_unique("cut", q, sizeof(q));
        buf_init(&b, 1u << 22);
        buf_printf(&b, "{\"jobs\":[");
        for (int i = 0; i < 100; i++)
                buf_printf(&b, "%s{\"queue\":\"%s\",\"type\":\"ev\",\"max_attempts\":1}",
                           i ? "," : "", q);
        buf_printf(&b, "]}");
        assert_int_equal(buf_addc(&b, '\0'), 0);
        harness_expect(h.url, NULL, "POST", "/v1/jobs", b.ptr, 201, &r);
        http_res_free(&r);
        /* Claims are cut at the budget too: claim until all 100 failed. */
        for (int round = 0, failed = 0; round < 50 && failed < 100; round++) {
                snprintf(query, sizeof(query), "/v1/queues/%s/claim", q);
                harness_expect(h.url, NULL, "POST", query, "{\"worker\":\"w\",\"max\":100}", 200,
                               &r);
                jobs = json_incref(jpath(r.json, "jobs"));
                http_res_free(&r);
                assert_true(json_array_size(jobs) > 0);
                buf_reset(&b);
                buf_printf(&b, "{\"items\":[");
                for (size_t i = 0; i < json_array_size(jobs); i++) {
                        json_t *j = json_array_get(jobs, i);
                        buf_printf(&b,
                                   "%s{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"fail\","
                                   "\"error\":\"%s\"}",
                                   i ? "," : "", jpath_str(j, "id"), jpath_str(j, "lease"), err);
                }
                buf_printf(&b, "]}");
                assert_int_equal(buf_addc(&b, '\0'), 0);
                harness_expect(h.url, NULL, "POST", "/v1/settle", b.ptr, 200, &r);
                http_res_free(&r);
                failed += (int)json_array_size(jobs);
                json_decref(jobs);
        }
        buf_free(&b);
        free(err);
        /* Every job.dead once, over more than one page. */
        for (int i = 0; i < 50 && total < 100; i++) {
                snprintf(query, sizeof(query), "type=job.dead&limit=1000&after=%s", after);
                events_get_n(h.url, NULL, query, 1, &r);
                assert_true(r.body_len <= 65536);
                total += (int)json_array_size(jpath(r.json, "events"));
                if (json_array_size(jpath(r.json, "events")) > 0) {
                        pages++;
                        assert_string_equal(
                            jpath_str(r.json, "next"),
                            jpath_str(json_array_get(jpath(r.json, "events"),
                                                     json_array_size(jpath(r.json, "events")) - 1),
                                      "id"));
                }
                snprintf(after, sizeof(after), "%s", jpath_str(r.json, "next"));
                http_res_free(&r);
        }
        assert_int_equal(total, 100);
        assert_true(pages >= 2);
        assert_int_equal(harness_stop(&h), 0);
}

/* kill -9 right after an acknowledged enqueue: its event is there after the
 * restart; an open stream ends cleanly when the server stops. */
static void crash_keeps_event_and_stop_ends_stream(void **state)
{
        struct harness h = {0};
        struct http_res r;
        char q[64], id[24], query[128];
        struct sse s;

        (void)state;
        assert_int_equal(harness_start(&h, NULL), 0);
        harness_unique("k9", q, sizeof(q));
        enqueue(h.url, NULL, q, id);
        assert_int_equal(harness_kill9(&h), 0);
        assert_int_equal(harness_restart(&h), 0);
        snprintf(query, sizeof(query), "queue=%s", q);
        events_get_n(h.url, NULL, query, 1, &r);
        assert_int_equal(json_array_size(jpath(r.json, "events")), 1);
        assert_string_equal(jpath_str(r.json, "events[0].subject.id"), id);
        http_res_free(&r);

        sse_open(&s, &h, q, NULL, NULL);
        assert_true(sse_until(&s, "event: job.enqueued", 0, 10000) > 0);
        assert_int_equal(harness_shutdown(&h), 0);
        /* The last chunk, then the close. */
        assert_true(sse_until(&s, "\r\n0\r\n\r\n", 0, 1000) > 0);
        assert_true(raw_wait_closed(s.fd, 3000));
        close(s.fd);
        assert_int_equal(harness_stop(&h), 0);
}

/* ---- PostgreSQL: several nodes ---- */

struct reader {
        struct harness_cluster *fx;
        char queue[64];
        volatile int stop;
        json_t *seen; /* job ids in the order their job.enqueued came */
        volatile int n_seen;
        int64_t last_id;
        bool out_of_order;
        int switches;
};

/* Long-polls the feed, moving to the other node whenever a read fails (its
 * node was killed) and every few reads, so the cursor crosses nodes. */
static void *read_feed(void *arg)
{
        struct reader *rd = arg;
        char after[32] = "0";
        int node = 0;

        for (int i = 0; i < 20000; i++) {
                struct http_res r;
                char path[256];
                const char *url = rd->fx->n[node].url;
                int stop = rd->stop;

                snprintf(path, sizeof(path), "/v1/events?queue=%s&after=%s&wait_ms=200&limit=50",
                         rd->queue, after);
                if (http_json_as(url, rd->fx->admin, "GET", path, NULL, &r) != 0 ||
                    r.status != 200) {
                        http_res_free(&r);
                        node = 1 - node;
                        rd->switches++;
                        harness_sleep_ms(50);
                        continue;
                }
                json_t *ev = jpath(r.json, "events");
                for (size_t k = 0; k < json_array_size(ev); k++) {
                        json_t *e = json_array_get(ev, k);
                        int64_t id = strtoll(jpath_str(e, "id"), NULL, 10);
                        if (id <= rd->last_id)
                                rd->out_of_order = true;
                        rd->last_id = id;
                        json_array_append_new(rd->seen, json_string(jpath_str(e, "subject.id")));
                        rd->n_seen++;
                }
                snprintf(after, sizeof(after), "%s", jpath_str(r.json, "next"));
                bool empty = json_array_size(ev) == 0;
                http_res_free(&r);
                if (i % 7 == 6) {
                        node = 1 - node;
                        rd->switches++;
                }
                /* Stopped and drained: an empty read after the stop. */
                if (stop && empty)
                        return NULL;
        }
        return NULL;
}

struct writer {
        struct harness_cluster *fx;
        const char *queue;
        int node;           /* the node it enqueues on; moves on when that one fails */
        volatile int *done; /* enqueues made so far, for the killer */
        json_t *acked;      /* ids of the jobs whose enqueue was acknowledged */
};

static void *write_jobs(void *arg)
{
        struct writer *w = arg;

        for (int i = 0; i < 80; i++) {
                struct http_res r;
                char body[200];

                snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"ev\"}", w->queue);
                if (http_json_as(w->fx->n[w->node].url, w->fx->admin, "POST", "/v1/jobs", body,
                                 &r) == 0 &&
                    r.status == 201)
                        json_array_append_new(w->acked, json_string(jpath_str(r.json, "job.id")));
                else
                        w->node = 1; /* node 1 was killed (node 2 is never) */
                http_res_free(&r);
                (*w->done)++;
        }
        return NULL;
}

/* Two writers enqueue at once, one on each node, while a reader follows the
 * feed moving between the nodes; the leader (node 1, which starts first) is
 * killed with kill -9 midway and its writer goes on with the other node:
 * every acknowledged job's job.enqueued is read exactly once, in increasing
 * ids. Commits of the two nodes interleave, so ids from a sequence (or a
 * read that ignored the horizon) would let the reader pass an event that
 * commits later. */
static void no_loss_across_leader_kill(void **state)
{
        struct harness_cluster *fx = *state;
        struct reader rd = {0};
        volatile int done[2] = {0, 0};
        struct writer w[2];
        pthread_t t, wt[2];
        size_t n_acked;

        assert_non_null(fx);
        rd.fx = fx;
        rd.seen = json_array();
        harness_unique("nl", rd.queue, sizeof(rd.queue));
        assert_int_equal(harness_thread(&t, read_feed, &rd), 0);
        for (int i = 0; i < 2; i++) {
                w[i] = (struct writer){fx, rd.queue, i, &done[i], json_array()};
                assert_int_equal(harness_thread(&wt[i], write_jobs, &w[i]), 0);
        }
        for (int i = 0; i < 400 && done[0] < 30; i++)
                harness_sleep_ms(10);
        assert_int_equal(harness_kill9(&fx->n[0]), 0);
        for (int i = 0; i < 2; i++)
                harness_join(wt[i]);
        n_acked = json_array_size(w[0].acked) + json_array_size(w[1].acked);
        /* The survivor takes the lead and the reader catches up (bounded:
         * a missing event fails below). */
        for (int i = 0; i < 200 && rd.n_seen < (int)n_acked; i++)
                harness_sleep_ms(100);
        harness_sleep_ms(500);
        rd.stop = 1;
        harness_join(t);
        assert_false(rd.out_of_order);
        assert_true(n_acked >= 150);
        /* Exactly once each: the seen list has no repeat, and every
         * acknowledged id is in it. */
        for (size_t i = 0; i < json_array_size(rd.seen); i++)
                for (size_t k = i + 1; k < json_array_size(rd.seen); k++)
                        assert_string_not_equal(json_string_value(json_array_get(rd.seen, i)),
                                                json_string_value(json_array_get(rd.seen, k)));
        for (int wi = 0; wi < 2; wi++)
                for (size_t i = 0; i < json_array_size(w[wi].acked); i++) {
                        const char *id = json_string_value(json_array_get(w[wi].acked, i));
                        bool found = false;
                        for (size_t k = 0; k < json_array_size(rd.seen) && !found; k++)
                                found =
                                    strcmp(id, json_string_value(json_array_get(rd.seen, k))) == 0;
                        if (!found)
                                fail_msg("job %s was acknowledged but its event never read", id);
                }
        print_message("events read %zu, acknowledged %zu, node switches %d\n",
                      json_array_size(rd.seen), n_acked, rd.switches);
        json_decref(w[0].acked);
        json_decref(w[1].acked);
        json_decref(rd.seen);
}

static int cluster_up(void **state)
{
        return harness_cluster_up(state, 2, "ev", NULL);
}

int main(void)
{
        static const char *const args[] = {"--events-heartbeat-ms", "300", NULL};
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(job_lifecycle),
            cmocka_unit_test(dead_and_cancelled),
            cmocka_unit_test(rolled_back_op_leaves_no_event),
            cmocka_unit_test(tenants_and_scope),
            cmocka_unit_test(filters_cursor_and_errors),
            cmocka_unit_test(long_poll),
            cmocka_unit_test(sse_stream_and_resume),
            cmocka_unit_test(queue_events_and_switch),
            cmocka_unit_test(cron_and_timer_events),
            cmocka_unit_test(retention),
            cmocka_unit_test(page_cut_at_the_byte_budget),
            cmocka_unit_test(crash_keeps_event_and_stop_ends_stream),
        };
        const struct CMUnitTest pg_tests[] = {
            cmocka_unit_test_setup_teardown(no_loss_across_leader_kill, cluster_up,
                                            harness_cluster_down),
        };
        const char *store = getenv("BATON_TEST_STORE");
        int rc;

        harness_group(&srv, args, &cl);
        rc = cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
        if (!rc && store && strcmp(store, "postgres") == 0)
                rc = cmocka_run_group_tests(pg_tests, NULL, NULL);
        return rc;
}
