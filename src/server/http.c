/*
 * http.c: the requests of batond's HTTP front. Given a whole head by
 * http_conn.c, it parses it (http_parse.c), matches a route of api_routes on
 * the raw path and decodes each segment after the split (so "%2F" stays
 * inside a name and "%00" is refused), assigns a request id and authenticates
 * the caller (auth.c: 401, 403, 429) on the head, before a byte of the body is
 * read and before "100 Continue" is sent. Then it checks the body's size
 * against the body limit and against the budget that every body in flight
 * shares, reads it (Content-Length or chunked), parses it as JSON and calls
 * the route's handler. Every answer goes through http_reply_*, which adds
 * X-Request-Id, records the route's metrics, logs, and frees the request.
 *
 * Workload: thousands of small requests per second on one loop thread.
 * Assumptions: one request per connection at a time (http_conn.c); a request
 * refused before its body was read closes its connection unless the whole
 * body had already arrived (then it is dropped and the connection kept).
 */
#include "server/http.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/jw.h"
#include "common/log.h"
#include "common/names.h"
#include "common/rand.h"
#include "core/keys.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/http_internal.h"
#include "server/metrics.h"
#include "server/ui.h"

const char *http_method_name(int method)
{
        switch (method) {
        case HTTP_GET:
                return "GET";
        case HTTP_POST:
                return "POST";
        case HTTP_PUT:
                return "PUT";
        case HTTP_DELETE:
                return "DELETE";
        case HTTP_PATCH:
                return "PATCH";
        case HTTP_HEAD:
                return "HEAD";
        case HTTP_OPTIONS:
                return "OPTIONS";
        default:
                return "OTHER";
        }
}

void http_routes_print(FILE *f)
{
        for (int i = 0; i < api_routes_n; i++) {
                const char *q = api_routes[i].query;
                const char *scope = key_scope_name(api_routes[i].scope);

                /* An open route needs no key, so no scope: "none", as
                 * docs/openapi.json's x-baton-scope says it. */
                if (api_routes[i].auth == HTTP_AUTH_OPEN || !scope)
                        scope = "none";
                fprintf(f, "%s %s %s", http_method_name(api_routes[i].method),
                        api_routes[i].pattern, scope);
                if (q && *q) {
                        fputs(" query=", f);
                        for (; *q; q++)
                                fputc(*q == ' ' ? ',' : *q, f);
                }
                fputc('\n', f);
        }
}

const char *http_param(const struct http_req *hr, int i)
{
        BATON_ASSERT(i >= 0 && i < HTTP_PARAMS_MAX);
        return hr->params[i];
}

const char *http_query(const struct http_req *hr, const char *key)
{
        /* A parameter a handler reads is in its route's list (api.c), or
         * http.c would have refused every request that sends it. */
        BATON_ASSERTF(names_in_words(hr->route->query, key), "%s reads ?%s, not in its query list",
                      hr->route->name, key);
        for (int i = 0; i < hr->nquery; i++)
                if (strcmp(hr->query[i].key, key) == 0)
                        return hr->query[i].value;
        return NULL;
}

const char *http_header(const struct http_req *hr, const char *name)
{
        return http_head_get(&hr->head, name);
}

/* Does one Prefer value (a comma-separated list of preferences, each
 * "token [= word] *(; parameter)") hold return=minimal? The token is
 * compared without case, the value (a token or a quoted string) as sent, as
 * RFC 7240 §2 has it. */
static bool prefer_minimal(const char *v)
{
        while (*v) {
                size_t n;

                v += strspn(v, " \t,");
                n = strcspn(v, " \t=;,");
                if (n == 6 && strncasecmp(v, "return", 6) == 0) {
                        const char *p = v + n;

                        p += strspn(p, " \t");
                        if (*p == '=') {
                                p++;
                                p += strspn(p, " \t");
                                if (*p == '"')
                                        p++;
                                if (strncmp(p, "minimal", 7) == 0 &&
                                    strchr("\" \t;,", p[7] ? p[7] : ' '))
                                        return true;
                        }
                }
                /* On to the next preference: past a comma outside quotes. */
                for (bool q = false; *v && (q || *v != ','); v++)
                        if (*v == '"')
                                q = !q;
        }
        return false;
}

bool http_prefers_minimal(const struct http_req *hr)
{
        for (int i = 0; i < hr->head.nhdrs; i++)
                if (strcasecmp(hr->head.hdrs[i].name, "Prefer") == 0 &&
                    prefer_minimal(hr->head.hdrs[i].value))
                        return true;
        return false;
}

void http_set_header(struct http_req *hr, const char *name, const char *value)
{
        size_t room = sizeof(hr->out_hdrs) - hr->out_hdrs_len;
        int n = snprintf(hr->out_hdrs + hr->out_hdrs_len, room, "%s: %s\r\n", name, value);

        BATON_ASSERT(n > 0 && (size_t)n < room);
        if (n > 0 && (size_t)n < room)
                hr->out_hdrs_len += (size_t)n;
        else
                hr->out_hdrs[hr->out_hdrs_len] = '\0';
}

struct http_auth_memo *http_auth_memo(struct http_req *hr)
{
        return hr->conn ? &hr->conn->auth : NULL;
}

struct log_rate *http_refusal_log(struct http *h)
{
        return &h->refusals;
}

struct buf *http_out(struct server *srv)
{
        buf_reset(&srv->http->out);
        return &srv->http->out;
}

int http_port(const struct http *h)
{
        return h->port;
}

int http_connections(const struct http *h)
{
        return h->conns;
}

bool http_idle(const struct http *h)
{
        return h->active == 0;
}

void http_rc_status(int rc, int *status, const char **code)
{
        switch (rc) {
        case BATON_ENOTFOUND:
                *status = 404, *code = "not_found";
                break;
        case BATON_ELEASE:
                *status = 409, *code = "lease_mismatch";
                break;
        case BATON_EEXPIRED:
                *status = 409, *code = "lease_expired";
                break;
        case BATON_ECONFLICT:
                *status = 409, *code = "already_settled";
                break;
        case BATON_EIDEM:
                *status = 409, *code = "idempotency_conflict";
                break;
        case BATON_ESTATE:
                *status = 409, *code = "invalid_state";
                break;
        case BATON_ETOOBIG:
                *status = 413, *code = "too_large";
                break;
        case BATON_EAUTH:
                *status = 401, *code = "unauthenticated";
                break;
        case BATON_EFORBIDDEN:
                *status = 403, *code = "forbidden";
                break;
        case BATON_ERATE:
                *status = 429, *code = "rate_limited";
                break;
        case BATON_EINVAL:
                *status = 400, *code = "invalid_field";
                break;
        case BATON_ERANGE:
                *status = 400, *code = "out_of_range";
                break;
        case BATON_ESHUTDOWN:
                *status = 503, *code = "shutting_down";
                break;
        case BATON_ESTORE:
        case BATON_EBUSY:
        case BATON_ESCHEMA:
        case BATON_EIO:
                *status = 503, *code = "store_unavailable";
                break;
        default:
                *status = 500, *code = "internal";
                break;
        }
}

/* A request's block: the struct, the head's copy and its decoded path (no
 * longer than the head, plus a NUL per segment), in one allocation. A block
 * of up to REQ_SPARE_MAX bytes is kept by its connection for the next
 * request, so a keep-alive client's requests allocate nothing for this. */
/* The dashboard's pseudo-route (ui.c): not in the route table, which is the
 * API's (--routes, docs/openapi.json); it names the answers in the metrics
 * and the log. */
static const struct http_route ui_route = {HTTP_GET,       "/ui/", "ui", NULL, HTTP_BODY_NONE,
                                           HTTP_AUTH_OPEN, 0,      NULL, NULL};

#define REQ_BLOCK_MIN (sizeof(struct http_req) + 2048)
#define REQ_SPARE_MAX (sizeof(struct http_req) + 16384)

static size_t req_block_size(size_t head_len)
{
        return sizeof(struct http_req) + 2 * (head_len + 1) + HTTP_SEGS_MAX;
}

/* Releases everything the request owns and its share of the body budget;
 * its block goes back to its connection when that has none. */
static void req_free(struct http_req *hr)
{
        struct http *h = hr->srv->http;
        struct http_conn *c = hr->conn;

        if (c && c->hr == hr)
                c->hr = NULL;
        if (h && hr->body_budget) {
                BATON_ASSERT(h->body_inflight >= hr->body_budget);
                h->body_inflight -= hr->body_budget;
                if (hr->body_budget >= (1u << 20))
                        h->trim_pending = true;
        }
        if (hr->body)
                json_decref(hr->body);
        if (c && !c->spare && hr->block_cap <= REQ_SPARE_MAX)
                c->spare = hr;
        else
                free(hr);
}

void http_req_drop(struct http_req *hr)
{
        hr->conn = NULL;
        req_free(hr);
}

/* The status line and headers of an answer, into c's output: appended piece
 * by piece, without stdio, as this runs once per request. */
static void reply_head(struct http_conn *c, struct http_req *hr, int status,
                       const char *content_type, size_t len, bool close)
{
        struct buf *o = &c->out;
        char st[JW_I64_LEN], cl[JW_I64_LEN];
        size_t st_n = jw_fmt_i64(status, st), cl_n = jw_fmt_i64((int64_t)len, cl);

        buf_add(o, "HTTP/1.1 ", 9);
        buf_add(o, st, st_n);
        buf_addc(o, ' ');
        buf_adds(o, http_reason(status));
        buf_add(o, "\r\nDate: ", 8);
        buf_adds(o, http_date(c->h));
        buf_add(o, "\r\nContent-Type: ", 16);
        buf_adds(o, content_type);
        /* A 304 has no body, and a length would have to be the 200's. */
        if (status != 304) {
                buf_add(o, "\r\nContent-Length: ", 18);
                buf_add(o, cl, cl_n);
        }
        buf_add(o, "\r\nX-Request-Id: ", 16);
        buf_adds(o, hr->request_id);
        buf_add(o, "\r\n", 2);
        if (hr->out_hdrs_len)
                buf_add(o, hr->out_hdrs, hr->out_hdrs_len);
        if (status == 503 && !strstr(hr->out_hdrs, "Retry-After:"))
                buf_adds(o, "Retry-After: 1\r\n");
        if (close)
                buf_adds(o, "Connection: close\r\n");
        else if (hr->head.minor == 0)
                buf_adds(o, "Connection: keep-alive\r\n");
        buf_adds(o, "\r\n");
}

static void reply_send(struct http_req *hr, int status, const char *content_type, const char *body,
                       size_t len)
{
        struct http *h = hr->srv->http;
        struct http_conn *c = hr->conn;
        int64_t dur_ns = clock_mono_ns(hr->srv->clock) - hr->start_ns;
        const char *route = hr->route ? hr->route->name : "unmatched";
        struct log_ctx lc = {hr->request_id, NULL, 0};
        bool close = hr->close_after || !hr->head.keep_alive || hr->srv->stopping;

        BATON_ASSERT(!hr->streaming);
        if (c) {
                BATON_ASSERT(c->hr == hr);
                reply_head(c, hr, status, content_type, len, close);
                if (len && hr->method != HTTP_HEAD)
                        buf_add(&c->out, body, len);
        }
        if (hr->srv->metrics)
                metrics_http(hr->srv->metrics, route, status, dur_ns);
        log_emit(status >= 500 ? LOG_WARN : LOG_DEBUG, "http", &lc, "%s %s -> %d (%lld us)",
                 http_method_name(hr->method), route, status, (long long)(dur_ns / 1000));
        if (hr->route_idx >= 0)
                h->active--;
        req_free(hr);
        if (c)
                conn_answered(c, close);
}

/* The error object; job_id > 0 adds the job the refusal is about, as a
 * string id (409 already_running). */
static void error_json(struct buf *b, const char *code, const char *field, const char *msg,
                       int64_t job_id)
{
        struct jw w;

        jw_init(&w, b);
        jw_obj_open(&w);
        jw_key(&w, "error");
        jw_obj_open(&w);
        jw_kstr(&w, "code", code);
        jw_kstr(&w, "message", msg);
        if (field && *field)
                jw_kstr(&w, "field", field);
        if (job_id > 0) {
                char id[24];
                snprintf(id, sizeof(id), "%lld", (long long)job_id);
                jw_kstr(&w, "job_id", id);
        }
        jw_obj_close(&w);
        jw_obj_close(&w);
}

void http_error_json(struct buf *b, const char *code, const char *field, const char *msg)
{
        error_json(b, code, field, msg, 0);
}

void http_reply_raw(struct http_req *hr, int status, const char *content_type, const char *body,
                    size_t len)
{
        reply_send(hr, status, content_type, body, len);
}

/* ---- streamed answers (Server-Sent Events) ---- */

int http_stream_begin(struct http_req *hr, const char *content_type)
{
        struct http_conn *c = hr->conn;
        struct buf *o;
        int64_t dur_ns = clock_mono_ns(hr->srv->clock) - hr->start_ns;

        BATON_ASSERT(!hr->streaming);
        hr->streaming = true;
        if (hr->srv->metrics)
                metrics_http(hr->srv->metrics, hr->route ? hr->route->name : "unmatched", 200,
                             dur_ns);
        if (!c)
                return -1;
        BATON_ASSERT(c->hr == hr);
        o = &c->out;
        buf_adds(o, "HTTP/1.1 200 OK\r\nDate: ");
        buf_adds(o, http_date(c->h));
        buf_adds(o, "\r\nContent-Type: ");
        buf_adds(o, content_type);
        buf_adds(o, "\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nX-Request-Id: ");
        buf_adds(o, hr->request_id);
        buf_adds(o, "\r\n");
        if (hr->out_hdrs_len)
                buf_add(o, hr->out_hdrs, hr->out_hdrs_len);
        /* The stream ends only with the connection's use: nothing pipelined
         * behind it is read, and the connection closes after it. */
        buf_adds(o, "Connection: close\r\n\r\n");
        if (conn_flush(c) != 0) {
                conn_free(c); /* detaches hr (hr->conn NULL, on_close) */
                return -1;
        }
        return 0;
}

int http_stream_write(struct http_req *hr, const char *data, size_t len)
{
        struct http_conn *c = hr->conn;
        char size[24];
        int n;

        BATON_ASSERT(hr->streaming);
        if (!c)
                return -1;
        /* A reader that does not keep up is let go rather than buffered
         * without end (its client reconnects with Last-Event-ID). */
        if (c->out.len - c->out_off > HTTP_STREAM_BACKLOG_MAX)
                return -1;
        if (len == 0)
                return 0;
        n = snprintf(size, sizeof(size), "%zx\r\n", len);
        if (buf_add(&c->out, size, (size_t)n) || buf_add(&c->out, data, len) ||
            buf_add(&c->out, "\r\n", 2))
                return -1;
        if (conn_flush(c) != 0) {
                conn_free(c);
                return -1;
        }
        return 0;
}

void http_stream_end(struct http_req *hr)
{
        struct http *h = hr->srv->http;
        struct http_conn *c = hr->conn;

        BATON_ASSERT(hr->streaming);
        if (c) {
                BATON_ASSERT(c->hr == hr);
                buf_add(&c->out, "0\r\n\r\n", 5);
        }
        if (hr->route_idx >= 0)
                h->active--;
        req_free(hr);
        if (c)
                conn_answered(c, true);
}

void http_reply_json(struct http_req *hr, int status, const struct buf *body)
{
        reply_send(hr, status, "application/json", body->ptr ? body->ptr : "", body->len);
}

static void reply_error_v(struct http_req *hr, int status, const char *code, const char *field,
                          int64_t job_id, const char *fmt, va_list ap)
{
        char msg[512];
        struct buf b;

        vsnprintf(msg, sizeof(msg), fmt, ap);
        buf_init(&b, 64 * 1024);
        error_json(&b, code, field, msg, job_id);
        /* A refused call of an audited route is recorded (its own op: the
         * handler's transaction, if any, was rolled back). */
        if (hr->authed && hr->route && hr->route->audit && status >= 400 && status < 500 &&
            status != 499)
                api_audit_refusal(hr, status, code);
        reply_send(hr, status, "application/json", b.ptr ? b.ptr : "", b.len);
        buf_free(&b);
}

void http_reply_error(struct http_req *hr, int status, const char *code, const char *field,
                      const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        reply_error_v(hr, status, code, field, 0, fmt, ap);
        va_end(ap);
}

void http_reply_error_job(struct http_req *hr, int status, const char *code, const char *field,
                          int64_t job_id, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        reply_error_v(hr, status, code, field, job_id, fmt, ap);
        va_end(ap);
}

void http_reply_verr(struct http_req *hr, const struct verr *e)
{
        int status;
        const char *code;

        /* The status comes from the one rc table; the verr's own code is
         * more precise than the table's generic one and is the one sent. */
        http_rc_status(e->rc, &status, &code);
        http_reply_error(hr, status, e->code, e->field, "%s", e->message);
}

void http_reply_rc(struct http_req *hr, int rc, const char *what)
{
        int status;
        const char *code;

        http_rc_status(rc, &status, &code);
        if (rc == BATON_ENOTFOUND)
                http_reply_error(hr, status, code, NULL, "%s not found", what ? what : "object");
        else
                http_reply_error(hr, status, code, NULL, "%s", baton_strerror(rc));
}

void http_watch(struct http_req *hr, void (*on_close)(struct http_req *, void *), void *arg)
{
        hr->on_close = on_close;
        hr->on_close_arg = arg;
        hr->watching = true;
}

bool http_client_gone(const struct http_req *hr)
{
        char c;
        ssize_t n;

        if (!hr->conn)
                return true;
        /* A closed peer reads as end of file; data or EAGAIN mean it is there. */
        n = recv(hr->conn->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0;
}

/* X-Request-Id: 1..128 printable ASCII characters, honoured; else generated. */
static void req_set_id(struct http_req *hr)
{
        const char *id = http_header(hr, "X-Request-Id");
        size_t n = id ? strlen(id) : 0;
        bool ok = n > 0 && n <= HTTP_REQID_MAX;

        for (size_t i = 0; ok && i < n; i++)
                ok = id[i] > 0x20 && id[i] < 0x7f;
        if (ok) {
                memcpy(hr->request_id, id, n + 1);
                return;
        }
        http_new_request_id(hr->srv->http, hr->request_id);
}

/* Splits a route pattern ("/v1/jobs/{id}") into segments, in pat. */
static int pattern_split(const char *pattern, char *pat, size_t cap, char **segs)
{
        int n = 0;
        char *p = pat;

        snprintf(pat, cap, "%s", pattern);
        if (*p != '/')
                return -1;
        while (*p == '/') {
                *p++ = '\0';
                if (n == HTTP_SEGS_MAX)
                        return -1;
                segs[n++] = p;
                p = strchrnul(p, '/');
        }
        return n;
}

/* Does the route's pattern match segs? Points params at segs on success. */
static bool route_match(const char *pattern, char **segs, int n, char **params)
{
        char pat[256];
        char *psegs[HTTP_SEGS_MAX];
        int k = 0;

        if (pattern_split(pattern, pat, sizeof(pat), psegs) != n)
                return false;
        for (int i = 0; i < n; i++) {
                if (psegs[i][0] == '{')
                        continue;
                if (strcmp(psegs[i], segs[i]) != 0)
                        return false;
        }
        for (int i = 0; params && i < n && k < HTTP_PARAMS_MAX; i++)
                if (psegs[i][0] == '{')
                        params[k++] = segs[i];
        return true;
}

/* Finds the route for the request's method and decoded segments. Returns its
 * index, -1 when no route has this path (404), -2 when the path exists for
 * other methods (405; allow lists them). */
static int route_find(struct http_req *hr, char **segs, int n, char *allow, size_t allow_cap)
{
        int found = -1;

        for (int i = 0; i < api_routes_n; i++) {
                if (!route_match(api_routes[i].pattern, segs, n, NULL))
                        continue;
                if (api_routes[i].method == hr->method) {
                        route_match(api_routes[i].pattern, segs, n, hr->params);
                        return i;
                }
                found = -2;
                size_t used = strlen(allow);
                snprintf(allow + used, allow_cap - used, "%s%s", used ? ", " : "",
                         http_method_name(api_routes[i].method));
        }
        return found;
}

/* The raw path as it may appear in a message: printable ASCII, other bytes
 * as %XX, at most out_cap - 1 characters, so an answer is always valid
 * UTF-8 and never echoes control bytes. */
static void path_printable(const char *raw, char *out, size_t out_cap)
{
        size_t o = 0;

        for (; *raw && o + 4 < out_cap; raw++) {
                unsigned char c = (unsigned char)*raw;
                if (c > 0x20 && c < 0x7f && c != '"' && c != '\\')
                        out[o++] = (char)c;
                else
                        o += (size_t)snprintf(out + o, out_cap - o, "%%%02X", c);
        }
        out[o] = '\0';
}

/* The status and code of a head the parser refused. */
static void perr_status(int perr, int *status, const char **code, const char **msg)
{
        switch (perr) {
        case HTTP_PERR_VERSION:
                *status = 505, *code = "version_not_supported", *msg = "only HTTP/1.0 and 1.1";
                break;
        case HTTP_PERR_TOO_MANY:
                *status = 431, *code = "header_too_large", *msg = "too many header fields";
                break;
        case HTTP_PERR_LENGTH:
                *status = 400, *code = "bad_content_length",
                *msg = "Content-Length must be one decimal number, sent once";
                break;
        case HTTP_PERR_TE:
                *status = 400, *code = "bad_transfer_encoding",
                *msg = "only \"Transfer-Encoding: chunked\", on HTTP/1.1, without Content-Length";
                break;
        case HTTP_PERR_DUP_AUTH:
                *status = 400, *code = "bad_header", *msg = "Authorization is sent more than once";
                break;
        case HTTP_PERR_EXPECT:
                *status = 417, *code = "expectation_failed",
                *msg = "the only expectation served is 100-continue";
                break;
        case HTTP_PERR_TARGET:
                *status = 400, *code = "bad_request", *msg = "the request target is malformed";
                break;
        case HTTP_PERR_HOST:
                *status = 400, *code = "bad_request",
                *msg = "an HTTP/1.1 request needs exactly one Host header";
                break;
        case HTTP_PERR_HEADER:
                *status = 400, *code = "bad_header",
                *msg = "a header field is malformed or holds a control character";
                break;
        default:
                *status = 400, *code = "bad_request", *msg = "the request line is malformed";
                break;
        }
}

/* Does the whole body already sit in the buffer (so a refusal can drop it
 * and keep the connection)? Sets c->consume accordingly. */
static bool body_present(struct http_conn *c, const struct http_head *hd)
{
        size_t have = c->in_len - c->head_len;

        c->consume = c->head_len;
        if (hd->chunked)
                return false;
        if (hd->content_length <= 0)
                return true;
        if ((uint64_t)hd->content_length > have)
                return false;
        c->consume += (size_t)hd->content_length;
        return true;
}

/* Refuses a query parameter the route does not read (a typo such as
 * ?order=desc would otherwise be ignored and return everything). Returns 0, or
 * -1 after answering. */
static int query_check(struct http_req *hr)
{
        const char *known = hr->route->query;

        for (int i = 0; i < hr->nquery; i++) {
                if (names_in_words(known, hr->query[i].key))
                        continue;
                if (known)
                        http_reply_error(hr, 400, "unknown_parameter", hr->query[i].key,
                                         "unknown query parameter \"%s\"; this route takes: %s",
                                         hr->query[i].key, known);
                else
                        http_reply_error(hr, 400, "unknown_parameter", hr->query[i].key,
                                         "unknown query parameter \"%s\"; this route takes none",
                                         hr->query[i].key);
                return -1;
        }
        return 0;
}

/* Refuses a body that is not declared JSON. The media type is compared
 * without case and without its parameters ("; charset=utf-8"), as RFC 9110
 * §8.3.1 has it. A route that takes no body ignores the header. Returns 0, or
 * -1 after answering. */
static int media_check(struct http_req *hr)
{
        static const char json_type[] = "application/json";
        const struct http_head *hd = &hr->head;
        const char *ct = http_head_get(hd, "Content-Type");
        size_t n = sizeof(json_type) - 1;

        if (hr->route->body == HTTP_BODY_NONE || (!hd->chunked && hd->content_length <= 0))
                return 0;
        if (ct && strncasecmp(ct, json_type, n) == 0 &&
            (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t'))
                return 0;
        http_reply_error(hr, 415, "unsupported_media_type", "Content-Type",
                         "the body must be sent as Content-Type: application/json (got %s%s%s)",
                         ct ? "\"" : "", ct ? ct : "no Content-Type", ct ? "\"" : "");
        return -1;
}

/* Checks the route, the key, the query and the body's size on the head.
 * Returns 0 when the body may be read, -1 after answering. */
static int begin_checks(struct http_conn *c, struct http_req *hr, char **segs, int nsegs)
{
        const struct limits *l = c->h->srv->limits;
        const struct http_head *hd = &hr->head;
        char allow[128] = "", shown[256];
        int idx = route_find(hr, segs, nsegs, allow, sizeof(allow));

        if (idx < 0) {
                path_printable(hd->path, shown, sizeof(shown));
                if (idx == -2)
                        http_set_header(hr, "Allow", allow);
                http_reply_error(hr, idx == -1 ? 404 : 405,
                                 idx == -1 ? "route_not_found" : "method_not_allowed", NULL,
                                 idx == -1 ? "no route for %s %s" : "%s is not allowed on %s",
                                 hd->method_name, shown);
                return -1;
        }
        hr->route = &api_routes[idx];
        if (auth_request(hr) != 0)
                return -1;
        if (hd->query && (hr->nquery = http_query_parse((char *)hd->query, hr->query)) < 0) {
                hr->nquery = 0;
                http_reply_error(hr, 400, "invalid_field", "query",
                                 "the query string is malformed (a bad escape, an encoded "
                                 "NUL, invalid UTF-8, a parameter given twice, or more than "
                                 "%d)",
                                 HTTP_QUERY_MAX);
                return -1;
        }
        if (query_check(hr) != 0 || media_check(hr) != 0)
                return -1;
        if (hd->content_length > 0 && (uint64_t)hd->content_length > l->body_max_bytes) {
                hr->close_after = true;
                http_reply_error(hr, 413, "body_too_large", NULL,
                                 "request body of %lld bytes exceeds the limit of %zu bytes",
                                 (long long)hd->content_length, l->body_max_bytes);
                return -1;
        }
        return 0;
}

/* Takes the body's bytes from the budget all bodies in flight share. */
static int budget_take(struct http_req *hr, size_t n)
{
        struct http *h = hr->srv->http;
        size_t max = hr->srv->limits->body_memory_max_bytes;

        if (n == 0)
                return 0;
        if (h->body_inflight + n > max) {
                hr->close_after = true;
                http_reply_error(hr, 503, "server_busy", NULL,
                                 "request bodies in flight hold %zu of the server's %zu-byte "
                                 "budget; retry shortly",
                                 h->body_inflight, max);
                return -1;
        }
        h->body_inflight += n;
        hr->body_budget += n;
        return 0;
}

/* A request for the head at the start of c->in: the connection's spare
 * block when it is big enough, else a new one (owned by the request, freed
 * or kept by req_free). */
static struct http_req *req_new(struct http_conn *c, size_t head_len)
{
        size_t need = req_block_size(head_len), cap = need;
        struct http_req *hr = c->spare;

        if (hr && hr->block_cap >= need) {
                cap = hr->block_cap;
                c->spare = NULL;
        } else {
                if (cap < REQ_BLOCK_MIN)
                        cap = REQ_BLOCK_MIN;
                hr = malloc(cap);
                if (!hr)
                        return NULL;
        }
        memset(hr, 0, sizeof(*hr));
        hr->block_cap = cap;
        hr->head_buf = (char *)(hr + 1);
        hr->path_buf = hr->head_buf + head_len + 1;
        memcpy(hr->head_buf, c->in, head_len);
        hr->head_buf[head_len] = '\0';
        hr->srv = c->h->srv;
        hr->conn = c;
        hr->route_idx = -1;
        hr->tenant = SERVER_TENANT;
        hr->start_ns = clock_mono_ns(hr->srv->clock);
        return hr;
}

void http_begin(struct http_conn *c, size_t head_len)
{
        struct http_req *hr = req_new(c, head_len);
        char *segs[HTTP_SEGS_MAX];
        int perr, nsegs, status;
        const char *code, *msg;
        bool present;

        if (!hr) {
                conn_error(c, 503, "out_of_memory", "the server is out of memory");
                return;
        }
        perr = http_parse_head(hr->head_buf, head_len, &hr->head);
        if (perr) {
                http_req_drop(hr);
                perr_status(perr, &status, &code, &msg);
                conn_error(c, status, code, "%s", msg);
                return;
        }
        hr->method = hr->head.method;
        c->hr = hr;
        c->head_len = head_len;
        c->state = CS_HANDLE; /* until the head's checks pass */
        req_set_id(hr);
        present = body_present(c, &hr->head);
        hr->close_after = !present;
        /* path_buf has head_len + 1 + HTTP_SEGS_MAX bytes: enough. */
        nsegs = http_path_split(hr->head.path, hr->path_buf, segs);
        if (nsegs < 0) {
                http_reply_error(hr, 400, "invalid_path", NULL,
                                 "the path has a malformed escape, an encoded NUL, invalid "
                                 "UTF-8, a dot segment, or more than %d segments",
                                 HTTP_SEGS_MAX);
                return;
        }
        /* The dashboard's files are open (the page signs in with the API),
         * read only, and answered here: they take no body and no route. */
        if (ui_path(hr->head.path)) {
                hr->route = &ui_route;
                ui_serve(hr);
                return;
        }
        if (begin_checks(c, hr, segs, nsegs) != 0)
                return;
        if (!hr->head.chunked && hr->head.content_length > 0 &&
            budget_take(hr, (size_t)hr->head.content_length) != 0)
                return;
        /* The head is accepted: now the body may come. */
        hr->close_after = false;
        c->consume = c->head_len;
        c->state = CS_BODY;
        /* The body's timeout starts now: the request's start is as good, and
         * saves reading the clock again. */
        c->since_ms = hr->start_ns / 1000000;
        memset(&c->ch, 0, sizeof(c->ch));
        if (hr->head.expect_continue && !present)
                buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* The body of a route that takes none: nothing, or an empty object (what
 * clients send with a POST that carries no options). Anything else would be
 * ignored, so a member is 400 unknown_field (and any other body
 * invalid_json). Returns 0, or -1 after answering. */
static int none_body(struct http_req *hr, const char *data, size_t len)
{
        json_t *v;
        const char *k = NULL;
        int rc = 0;

        if (len == 0)
                return 0;
        v = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(v) && json_object_size(v) == 0)
                goto out;
        rc = -1;
        if (json_is_object(v)) {
                k = json_object_iter_key(json_object_iter(v));
                http_reply_error(hr, 400, "unknown_field", k,
                                 "unknown field \"%s\"; this route takes no body", k);
        } else {
                http_reply_error(hr, 400, "invalid_json", NULL,
                                 "this route takes no body (or an empty JSON object)");
        }
out:
        json_decref(v);
        return rc;
}

/* Parses the body per the route's rule. Returns 0, or answers the request
 * with the error and returns -1 (hr is then freed). */
static int req_body(struct http_req *hr, const char *data, size_t len)
{
        json_error_t jerr;

        if (hr->route->body == HTTP_BODY_NONE)
                return none_body(hr, data, len);
        if (len == 0) {
                if (hr->route->body == HTTP_BODY_OPTIONAL)
                        return 0;
                http_reply_error(hr, 400, "invalid_json", NULL, "a JSON object body is required");
                return -1;
        }
        hr->body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!hr->body || !json_is_object(hr->body)) {
                if (hr->body)
                        http_reply_error(hr, 400, "invalid_json", NULL,
                                         "the body must be a JSON object");
                else
                        http_reply_error(hr, 400, "invalid_json", NULL,
                                         "the body is not valid JSON: %s (line %d, column %d)",
                                         jerr.text, jerr.line, jerr.column);
                return -1;
        }
        return 0;
}

/* Decodes what has arrived of a chunked body. Returns 1 when it is whole, 0
 * for more, -1 after answering an error. The decoded input is removed from
 * c->in so the buffer stays small. */
static int chunked_step(struct http_conn *c, struct http_req *hr)
{
        size_t max = hr->srv->limits->body_max_bytes, used = 0;
        size_t avail = c->in_len - c->head_len;
        int rc;

        if (c->chunk_cap - c->chunk_len < avail && c->chunk_cap < max) {
                size_t cap = c->chunk_cap ? c->chunk_cap : 16384;
                char *p;

                while (cap - c->chunk_len < avail && cap < max)
                        cap *= 2;
                if (cap > max)
                        cap = max;
                if (budget_take(hr, cap - c->chunk_cap) != 0)
                        return -1;
                p = realloc(c->chunk_buf, cap);
                if (!p) {
                        hr->close_after = true;
                        http_reply_error(hr, 503, "out_of_memory", NULL, "out of memory");
                        return -1;
                }
                c->chunk_buf = p;
                c->chunk_cap = cap;
        }
        rc = http_chunked_step(&c->ch, c->in + c->head_len, avail, c->chunk_buf, &c->chunk_len,
                               c->chunk_cap, &used);
        memmove(c->in + c->head_len, c->in + c->head_len + used, avail - used);
        c->in_len -= used;
        if (rc == -2 || (rc == 0 && used < avail && c->chunk_len == c->chunk_cap)) {
                hr->close_after = true;
                http_reply_error(hr, 413, "body_too_large", NULL,
                                 "the chunked request body exceeds the limit of %zu bytes", max);
                return -1;
        }
        if (rc == -1) {
                hr->close_after = true;
                http_reply_error(hr, 400, "bad_chunked_body", NULL,
                                 "the chunked request body is malformed");
                return -1;
        }
        return rc;
}

void http_body_step(struct http_conn *c)
{
        struct http_req *hr = c->hr;
        struct http *h = c->h;
        const char *data;
        size_t len;
        int rc;

        BATON_ASSERT(hr && c->state == CS_BODY);
        if (hr->head.chunked) {
                rc = chunked_step(c, hr);
                if (rc <= 0)
                        return;
                data = c->chunk_buf;
                len = c->chunk_len;
        } else {
                len = hr->head.content_length > 0 ? (size_t)hr->head.content_length : 0;
                if (c->in_len - c->head_len < len)
                        return;
                data = c->in + c->head_len;
        }
        c->consume = c->head_len + (hr->head.chunked ? 0 : len);
        c->state = CS_HANDLE;
        if (req_body(hr, data, len) != 0)
                goto out;
        hr->route_idx = (int)(hr->route - api_routes);
        h->active++;
        hr->route->fn(hr);
out:
        free(c->chunk_buf);
        c->chunk_buf = NULL;
        c->chunk_len = c->chunk_cap = 0;
}
