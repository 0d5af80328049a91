/*
 * api_events.c: GET /v1/events, the tenant's event log (core/events.h), as
 * JSON pages that long-poll like claims, or, with Accept: text/event-stream,
 * as a stream of Server-Sent Events that resumes from Last-Event-ID.
 *
 * Both forms read the log the same way: one op on the store thread reads a
 * page after the cursor with the filters applied (type patterns, queue) and
 * the cursor moves past every event the read looked at. A JSON read that
 * finds nothing parks a waiter on the tenant's event readers (the queue
 * named EVENTS_WAIT_QUEUE), which the commit of any event of the tenant
 * wakes, here or on another node; it answers when something came or its
 * wait_ms ran out. A stream writes each page as it comes and parks between
 * pages, sending a comment every --events-heartbeat-ms so proxies and
 * clients see it alive, and ends (the last chunk) when the server stops,
 * the key stops working, or the client goes or stops reading.
 *
 * Workload: long-lived readers, one parked waiter each; a read looks at
 * EVENTS_SCAN_MAX rows a scan. While events wait for an older transaction
 * of another node to end (PostgreSQL, events.h) the reader looks again
 * every EVENTS_RECHECK_MS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/events.h"
#include "server/api_internal.h"
#include "server/auth.h"
#include "server/waiters.h"

/* How soon a reader looks again when events wait above the horizon, and
 * how many times a JSON read that found some of them looks again before it
 * answers (so that an event acknowledged before the read is in it). */
#define EVENTS_RECHECK_MS 20
#define EVENTS_RECHECKS_MAX 10

struct events_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct events_query q;
        char *queue;
        struct events_page page;
        int64_t deadline_ns; /* JSON: the end of wait_ms */
        int64_t written_ns;  /* stream: the last bytes sent (heartbeats) */
        struct waiter w;
        int rechecks; /* JSON: looks again for events above the horizon */
        bool recheck; /* the waiter is parked for such a look */
        bool sse;
        bool closed;
        bool watching;
};

static void events_clear(struct api_ctx *base)
{
        struct events_ctx *c = container_of(base, struct events_ctx, base);

        events_page_free(&c->page);
        free(c->queue);
}

static int events_fn(struct txn *tx, struct exec_op *op)
{
        struct events_ctx *c = container_of(op, struct events_ctx, base.op);

        events_page_free(&c->page);
        return events_read(tx, &c->q, &c->page);
}

/* docs/api.md's event object. */
static void event_json(struct jw *w, const struct event_rec *e)
{
        char id[JW_I64_LEN];

        jw_fmt_i64(e->id, id);
        jw_obj_open(w);
        jw_kstr(w, "id", id);
        jw_kstr(w, "type", e->type);
        jw_ktime(w, "at", e->at_ms);
        jw_key(w, "subject");
        jw_obj_open(w);
        jw_kstr(w, "kind", e->kind);
        if (strcmp(e->kind, "job") == 0) {
                jw_kstr(w, "id", e->subject);
                jw_kstr(w, "queue", e->queue);
        } else if (strcmp(e->kind, "queue") == 0) {
                jw_kstr(w, "name", e->subject);
        } else {
                jw_kstr(w, "key", e->subject);
        }
        jw_obj_close(w);
        jw_kraw(w, "data", e->data);
        jw_obj_close(w);
}

static void cursor_str(int64_t id, char out[JW_I64_LEN])
{
        jw_fmt_i64(id, out);
}

/* ---- JSON pages ---- */

static void page_item(struct jw *w, const void *arg, int i)
{
        const struct event_rec *v = arg;

        event_json(w, &v[i]);
}

static void json_reply(struct events_ctx *c)
{
        struct server *srv = c->base.hr->srv;
        char next[JW_I64_LEN];
        int64_t cursor = c->page.next;
        struct jw w;
        int last;

        jw_init(&w, http_out(srv));
        jw_obj_open(&w);
        /* Cut at --max-response-bytes like every list: the cursor is then
         * the last event written, so the next read starts with the first
         * one left out. */
        last = api_page_write(&w, srv->limits, "events", c->page.n, c->page.n, false, page_item,
                              c->page.v);
        if (last >= 0 && last < c->page.n - 1)
                cursor = c->page.v[last].id;
        cursor_str(cursor, next);
        jw_kstr(&w, "next", next);
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, 200, &w);
        api_ctx_free(&c->base);
}

static void on_close(struct http_req *hr, void *arg)
{
        struct events_ctx *c = arg;

        (void)hr;
        c->closed = true;
        waiter_wake(&c->w, WAKE_CLOSED);
}

/* Parks c for at most left ms (EVENTS_RECHECK_MS when events wait above
 * the horizon). False when it could not. */
static bool park(struct events_ctx *c, int64_t left)
{
        struct server *srv = c->base.hr->srv;

        if (c->closed || srv->stopping || left <= 0)
                return false;
        if (c->page.waiting && left > EVENTS_RECHECK_MS)
                left = EVENTS_RECHECK_MS;
        if (waiter_park_queue(srv->waiters, &c->w, c->q.tenant, EVENTS_WAIT_QUEUE, left) != 0)
                return false;
        if (!c->watching) {
                c->watching = true;
                http_watch(c->base.hr, on_close, c);
        }
        return true;
}

/* ---- Server-Sent Events ---- */

/* Ends the stream and frees c. */
static void sse_end(struct events_ctx *c)
{
        http_stream_end(c->base.hr);
        c->base.hr = NULL;
        api_ctx_free(&c->base);
}

/* Sends the page as SSE events ("id", "event", "data" lines); moves the
 * cursor on. Returns 0 or -1 (the client is gone or not reading). */
static int sse_write_page(struct events_ctx *c)
{
        struct server *srv = c->base.hr->srv;
        int rc = 0;

        for (int i = 0; i < c->page.n && !rc; i++) {
                const struct event_rec *e = &c->page.v[i];
                struct buf *b = http_out(srv);
                char id[JW_I64_LEN];
                struct jw w;

                cursor_str(e->id, id);
                buf_adds(b, "id: ");
                buf_adds(b, id);
                buf_adds(b, "\nevent: ");
                buf_adds(b, e->type);
                buf_adds(b, "\ndata: ");
                /* The JSON text is one line (jw writes no newline, and
                 * escapes those inside strings). */
                jw_init(&w, b);
                event_json(&w, e);
                if (w.err || buf_adds(b, "\n\n"))
                        rc = -1;
                if (!rc)
                        rc = http_stream_write(c->base.hr, b->ptr, b->len);
        }
        if (!rc && c->page.n)
                c->written_ns = clock_mono_ns(srv->clock);
        c->q.after = c->page.next;
        return rc;
}

/* Reads the next page of a stream; a stopping server ends it instead (its
 * answer cannot be the 503 of api_submit: the head is already out). */
static void sse_submit(struct events_ctx *c)
{
        struct server *srv = c->base.hr->srv;

        if (srv->stopping || server_submit(srv, &c->base.op) != 0)
                sse_end(c);
}

/* Parks the stream until the next event, the next heartbeat or a recheck. */
static void sse_wait(struct events_ctx *c)
{
        struct server *srv = c->base.hr->srv;
        int64_t since = (clock_mono_ns(srv->clock) - c->written_ns) / 1000000;
        int64_t left = srv->limits->events_heartbeat_ms - since;

        if (left < 1)
                left = 1;
        if (!park(c, left))
                sse_end(c);
}

static void sse_done(struct events_ctx *c, int rc)
{
        if (c->closed || rc || sse_write_page(c) != 0) {
                sse_end(c);
                return;
        }
        /* A page cut by its limit or scan bound goes on at once. */
        if (c->page.n >= c->q.limit || c->page.more) {
                sse_submit(c);
                return;
        }
        sse_wait(c);
}

static void sse_wake(struct events_ctx *c, int why)
{
        struct server *srv = c->base.hr->srv;

        if (why == WAKE_CLOSED || c->closed || why == WAKE_SHUTDOWN || srv->stopping ||
            http_client_gone(c->base.hr)) {
                sse_end(c);
                return;
        }
        /* A key revoked, expired or rotated away while the stream was open
         * ends it (the reconnect is refused with 401). */
        if (auth_still_valid(c->base.hr) != 0) {
                sse_end(c);
                return;
        }
        if (why == WAKE_TIMEOUT && (clock_mono_ns(srv->clock) - c->written_ns) / 1000000 >=
                                       srv->limits->events_heartbeat_ms) {
                static const char beat[] = ": heartbeat\n\n";
                if (http_stream_write(c->base.hr, beat, sizeof(beat) - 1) != 0) {
                        sse_end(c);
                        return;
                }
                c->written_ns = clock_mono_ns(srv->clock);
        }
        sse_submit(c);
}

/* ---- both ---- */

static void events_done(struct exec_op *op)
{
        struct events_ctx *c = container_of(op, struct events_ctx, base.op);
        struct server *srv = c->base.hr->srv;

        if (c->sse) {
                sse_done(c, op->rc);
                return;
        }
        if (c->closed) {
                api_reply_closed(c->base.hr);
                api_ctx_free(&c->base);
                return;
        }
        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "event");
                api_ctx_free(&c->base);
                return;
        }
        /* Events committed before the read may still wait for an older
         * transaction to end (PostgreSQL): a page that has room looks again
         * a few times, so that what was acknowledged before it is in it. */
        c->recheck = c->page.waiting && c->page.n < c->q.limit && c->rechecks < EVENTS_RECHECKS_MAX;
        if (c->page.n == 0) {
                int64_t left = api_remaining_ms(srv, c->deadline_ns);

                /* Nothing yet: the cursor has moved past what was looked at,
                 * so the next read starts there; a read cut by its scan
                 * bound goes on at once. */
                c->q.after = c->page.next;
                if (c->page.more && left > 0) {
                        api_ctx_submit(&c->base, 0, NULL);
                        return;
                }
                if (c->recheck && left < EVENTS_RECHECK_MS)
                        left = EVENTS_RECHECK_MS;
                c->rechecks += c->recheck;
                if (park(c, left))
                        return;
        } else if (c->recheck) {
                /* The same cursor: the page is read again whole. */
                c->rechecks++;
                if (park(c, EVENTS_RECHECK_MS))
                        return;
        }
        json_reply(c);
}

static void events_wake(struct waiter *w, int why)
{
        struct events_ctx *c = w->arg;
        struct server *srv = c->base.hr->srv;

        if (c->sse) {
                sse_wake(c, why);
                return;
        }
        if (why == WAKE_CLOSED || c->closed || http_client_gone(c->base.hr)) {
                api_reply_closed(c->base.hr);
                api_ctx_free(&c->base);
                return;
        }
        /* Out of time or stopping: the empty page, with its cursor. A
         * recheck's timer (events above the horizon) reads again. */
        if (why == WAKE_SHUTDOWN || srv->stopping ||
            (why == WAKE_TIMEOUT && !c->recheck && api_remaining_ms(srv, c->deadline_ns) <= 0)) {
                json_reply(c);
                return;
        }
        if (auth_recheck(c->base.hr) != 0) {
                api_ctx_free(&c->base);
                return;
        }
        api_ctx_submit(&c->base, 0, NULL);
}

/* A cursor: the decimal id of an event (0: from the oldest). */
static int cursor_parse(const char *s, const char *field, int64_t *out, struct verr *e)
{
        int64_t v = 0;

        *out = 0;
        if (!s || !*s)
                return 0;
        if (strcmp(s, "0") != 0 && api_id_parse(s, &v) != 0)
                return verr_set(e, BATON_EINVAL, "invalid_cursor", field,
                                "%s is not a cursor this server handed out", field);
        *out = v;
        return 0;
}

static int events_parse(struct http_req *hr, struct events_ctx *c, int64_t *wait_ms, struct verr *e)
{
        const struct limits *l = hr->srv->limits;
        const char *accept = http_header(hr, "Accept");
        const char *types = http_query(hr, "type");
        const char *queue = http_query(hr, "queue");
        const char *last = http_header(hr, "Last-Event-ID");
        char bad[80];
        int rc;

        c->sse = accept && strstr(accept, "text/event-stream") != NULL;
        c->q.tenant = hr->tenant;
        c->q.types = EVENTS_ALL;
        rc = cursor_parse(http_query(hr, "after"), "after", &c->q.after, e);
        /* A reconnecting stream resumes after the last event it received,
         * whatever the URL it first opened said. */
        if (!rc && c->sse && last && *last)
                rc = cursor_parse(last, "Last-Event-ID", &c->q.after, e);
        if (!rc && types && *types && events_types_parse(types, &c->q.types, bad, sizeof(bad)) != 0)
                rc = verr_set(e, BATON_EINVAL, "invalid_type_pattern", "type",
                              "type pattern \"%s\" names no event type: use a type (job.dead), "
                              "a category with .* (cron.*) or *, comma-separated, at most %d",
                              bad, EVENTS_PATTERNS_MAX);
        if (!rc && queue && *queue) {
                rc = validate_name(l, "queue", queue, e);
                if (!rc && !(c->queue = strdup(queue)))
                        rc = verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
                c->q.queue = c->queue;
        }
        if (!rc)
                rc = api_query_limit(hr, &c->q.limit, e);
        if (!rc)
                rc = api_query_int(hr, "wait_ms", wait_ms, e);
        if (!rc)
                rc = validate_wait_ms(l, "wait_ms", *wait_ms, e);
        if (!rc && c->sse && http_query(hr, "wait_ms"))
                rc = verr_set(e, BATON_EINVAL, "invalid_parameter", "wait_ms",
                              "wait_ms is for JSON pages; a stream waits until it is closed");
        return rc;
}

static const struct api_ctx_def events_def = {
    sizeof(struct events_ctx), events_fn, events_done, events_clear, NULL, NULL};

void api_events_list(struct http_req *hr)
{
        struct events_ctx *c = api_ctx_new(hr, &events_def, 0, false);
        int64_t wait_ms = 0;
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = events_parse(hr, c, &wait_ms, &e);
        c->deadline_ns = clock_mono_ns(hr->srv->clock) + wait_ms * 1000000;
        c->w.wake = events_wake;
        c->w.arg = c;
        if (!rc && c->sse) {
                /* The head goes out now; the events follow as they come. */
                c->written_ns = clock_mono_ns(hr->srv->clock);
                if (http_stream_begin(hr, "text/event-stream") != 0) {
                        sse_end(c);
                        return;
                }
                c->watching = true;
                http_watch(hr, on_close, c);
                sse_submit(c);
                return;
        }
        api_ctx_submit(&c->base, rc, &e);
}
