/*
 * http.c: batond's HTTP front on libevent's evhttp. Matches each request to a
 * route of api_routes, enforces the body limit, parses the JSON body and the
 * query, assigns a request id, authenticates the caller (auth.c: 401, 403,
 * 429 before the body is read) and gives the handler a struct http_req. Every
 * answer goes through http_reply_*, which adds X-Request-Id, records the
 * route's metrics, logs, and frees the request.
 *
 * Workload: thousands of small requests per second on one loop thread, up to
 * connections_max open connections, some of them parked long-polls.
 * Assumptions: libevent 2.1 (no per-connection accept hook), so connections are
 * tracked from their first request (a pointer hash on the evhttp connection),
 * and the connection limit is enforced there with a 503 and a close. Bodies
 * above the limit but below twice the limit get our JSON 413; larger ones are
 * refused by libevent itself before being read, so memory per connection stays
 * bounded.
 */
#include "server/http.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "baton/baton.h"
#include "common/assert.h"
#include "common/jw.h"
#include "common/log.h"
#include "common/rand.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/metrics.h"

#define HTTP_OUT_MAX ((size_t)1 << 30)
#define HTTP_SEGS_MAX 8
#define HTTP_TIMEOUT_S 120

/* One open connection, known from its first request until libevent closes it. */
struct http_conn {
        struct http *h;
        struct evhttp_connection *evcon;
        struct http_req *watching; /* a parked request on this connection, or NULL */
        struct http_conn *next;    /* hash chain */
};

struct http {
        struct server *srv;
        struct evhttp *eh;
        struct evhttp_bound_socket *sock;
        int port;
        int conns;
        int active; /* requests handed to a handler and not yet answered */
        struct http_conn **table;
        size_t table_cap; /* power of two */
        struct buf out;
};

static size_t conn_slot(const struct http *h, const void *evcon)
{
        uintptr_t x = (uintptr_t)evcon;

        x ^= x >> 17;
        x *= 0x9e3779b97f4a7c15ULL;
        return (size_t)(x >> 20) & (h->table_cap - 1);
}

static struct http_conn *conn_find(struct http *h, struct evhttp_connection *evcon)
{
        struct http_conn *c = h->table[conn_slot(h, evcon)];

        while (c && c->evcon != evcon)
                c = c->next;
        return c;
}

static void conn_unlink(struct http *h, struct http_conn *c)
{
        struct http_conn **pp = &h->table[conn_slot(h, c->evcon)];

        while (*pp && *pp != c)
                pp = &(*pp)->next;
        if (*pp)
                *pp = c->next;
        h->conns--;
}

/* libevent frees a connection: the client went away or the exchange ended. A
 * parked request on it is told, so its waiter can give up without claiming. */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
        struct http_conn *c = arg;
        struct http_req *hr = c->watching;

        (void)evcon;
        conn_unlink(c->h, c);
        if (hr) {
                hr->conn = NULL;
                c->watching = NULL;
                if (hr->on_close)
                        hr->on_close(hr, hr->on_close_arg);
        }
        free(c);
}

/* Answers larger than one segment must not wait for the client's delayed
 * ACK (Nagle): without this a kept-alive connection stalls ~40 ms per batch
 * answer. libevent 2.1 gives no accept hook, so it is set at the first
 * request, before any answer is written. */
static void conn_nodelay(struct evhttp_connection *evcon)
{
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
        evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
        int one = 1;

        if (fd >= 0)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Finds or registers the request's connection. Returns NULL when the request
 * has no connection (cannot happen for an incoming request) or on ENOMEM. */
static struct http_conn *conn_get(struct http *h, struct evhttp_request *req)
{
        struct evhttp_connection *evcon = evhttp_request_get_connection(req);
        struct http_conn *c;
        size_t slot;

        if (!evcon)
                return NULL;
        c = conn_find(h, evcon);
        if (c)
                return c;
        c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->h = h;
        c->evcon = evcon;
        slot = conn_slot(h, evcon);
        c->next = h->table[slot];
        h->table[slot] = c;
        h->conns++;
        evhttp_connection_set_closecb(evcon, conn_closed, c);
        conn_nodelay(evcon);
        return c;
}

const char *http_method_name(int method)
{
        switch (method) {
        case EVHTTP_REQ_GET:
                return "GET";
        case EVHTTP_REQ_POST:
                return "POST";
        case EVHTTP_REQ_PUT:
                return "PUT";
        case EVHTTP_REQ_DELETE:
                return "DELETE";
        case EVHTTP_REQ_PATCH:
                return "PATCH";
        case EVHTTP_REQ_HEAD:
                return "HEAD";
        case EVHTTP_REQ_OPTIONS:
                return "OPTIONS";
        default:
                return "OTHER";
        }
}

void http_routes_print(FILE *f)
{
        for (int i = 0; i < api_routes_n; i++)
                fprintf(f, "%s %s\n", http_method_name(api_routes[i].method),
                        api_routes[i].pattern);
}

const char *http_param(const struct http_req *hr, int i)
{
        BATON_ASSERT(i >= 0 && i < HTTP_PARAMS_MAX);
        return hr->params[i];
}

const char *http_query(const struct http_req *hr, const char *key)
{
        return evhttp_find_header(&hr->query, key);
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

/* Releases everything the request owns and detaches it from its connection. */
static void req_free(struct http_req *hr)
{
        if (hr->conn && hr->conn->watching == hr)
                hr->conn->watching = NULL;
        for (int i = 0; i < HTTP_PARAMS_MAX; i++)
                free(hr->params[i]);
        evhttp_clear_headers(&hr->query);
        if (hr->body)
                json_decref(hr->body);
        free(hr);
}

static void reply_send(struct http_req *hr, int status, const char *content_type, const char *body,
                       size_t len)
{
        struct http *h = hr->srv->http;
        struct evkeyvalq *oh = evhttp_request_get_output_headers(hr->req);
        struct evbuffer *eb = evhttp_request_get_output_buffer(hr->req);
        int64_t dur_ns = clock_mono_ns(hr->srv->clock) - hr->start_ns;
        const char *route = hr->route ? hr->route->name : "unmatched";
        struct log_ctx lc = {hr->request_id, NULL, 0};

        evhttp_add_header(oh, "Content-Type", content_type);
        evhttp_add_header(oh, "X-Request-Id", hr->request_id);
        if (status == 503)
                evhttp_add_header(oh, "Retry-After", "1");
        if (hr->srv->stopping)
                evhttp_add_header(oh, "Connection", "close");
        if (len)
                evbuffer_add(eb, body, len);
        /* A request whose client has gone is detached by libevent; sending on it
         * only frees it. */
        evhttp_send_reply(hr->req, status, NULL, NULL);
        if (hr->srv->metrics)
                metrics_http(hr->srv->metrics, route, status, dur_ns);
        log_emit(status >= 500 ? LOG_WARN : LOG_DEBUG, "http", &lc, "%s %s -> %d (%lld us)",
                 http_method_name(evhttp_request_get_command(hr->req)), route, status,
                 (long long)(dur_ns / 1000));
        if (hr->route_idx >= 0)
                h->active--;
        req_free(hr);
}

void http_reply_raw(struct http_req *hr, int status, const char *content_type, const char *body,
                    size_t len)
{
        reply_send(hr, status, content_type, body, len);
}

void http_reply_json(struct http_req *hr, int status, const struct buf *body)
{
        reply_send(hr, status, "application/json", body->ptr ? body->ptr : "", body->len);
}

static void reply_error_v(struct http_req *hr, int status, const char *code, const char *field,
                          const char *fmt, va_list ap)
{
        char msg[512];
        struct buf b;
        struct jw w;

        vsnprintf(msg, sizeof(msg), fmt, ap);
        buf_init(&b, 64 * 1024);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_key(&w, "error");
        jw_obj_open(&w);
        jw_kstr(&w, "code", code);
        jw_kstr(&w, "message", msg);
        if (field && *field)
                jw_kstr(&w, "field", field);
        jw_obj_close(&w);
        jw_obj_close(&w);
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
        reply_error_v(hr, status, code, field, fmt, ap);
        va_end(ap);
}

void http_reply_verr(struct http_req *hr, const struct verr *e)
{
        http_reply_error(hr, e->status, e->code, e->field, "%s", e->message);
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
        if (hr->conn)
                hr->conn->watching = hr;
}

bool http_client_gone(const struct http_req *hr)
{
        struct evhttp_connection *evcon;
        struct bufferevent *bev;
        evutil_socket_t fd;
        char c;
        ssize_t n;

        if (!hr->conn)
                return true;
        evcon = evhttp_request_get_connection(hr->req);
        if (!evcon)
                return true;
        bev = evhttp_connection_get_bufferevent(evcon);
        fd = bev ? bufferevent_getfd(bev) : -1;
        if (fd < 0)
                return true;
        /* A closed peer reads as end of file; data or EAGAIN mean it is there. */
        n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0;
}

/* X-Request-Id: 1..128 printable ASCII characters, honoured; else generated. */
static void req_set_id(struct http_req *hr)
{
        const char *id =
            evhttp_find_header(evhttp_request_get_input_headers(hr->req), "X-Request-Id");
        size_t n = id ? strlen(id) : 0;
        bool ok = n > 0 && n <= HTTP_REQID_MAX;

        for (size_t i = 0; ok && i < n; i++)
                ok = id[i] > 0x20 && id[i] < 0x7f;
        if (ok) {
                memcpy(hr->request_id, id, n + 1);
                return;
        }
        rand_token(hr->request_id);
}

/* Splits a decoded path into segments; returns the count, or -1 when there
 * are too many or the path is not absolute. Segments point into path. */
static int path_split(char *path, char **segs)
{
        int n = 0;
        char *p = path;

        if (*p != '/')
                return -1;
        while (*p == '/') {
                *p++ = '\0'; /* ends the previous segment */
                if (n == HTTP_SEGS_MAX)
                        return -1;
                segs[n++] = p;
                p = strchrnul(p, '/');
        }
        return n;
}

/* Does the route's pattern match segs? Fills params with copies on success. */
static bool route_match(const char *pattern, char **segs, int n, char **params)
{
        char pat[256];
        char *psegs[HTTP_SEGS_MAX];
        int pn, k = 0;

        snprintf(pat, sizeof(pat), "%s", pattern);
        pn = path_split(pat, psegs);
        if (pn != n)
                return false;
        for (int i = 0; i < n; i++) {
                if (psegs[i][0] == '{')
                        continue;
                if (strcmp(psegs[i], segs[i]) != 0)
                        return false;
        }
        if (!params)
                return true;
        for (int i = 0; i < n && k < HTTP_PARAMS_MAX; i++)
                if (psegs[i][0] == '{')
                        params[k++] = strdup(segs[i]);
        return true;
}

/* Finds the route for method and path. Returns its index, -1 when no route has
 * this path (404), -2 when the path exists for other methods (405). */
static int route_find(int method, const char *raw_path, char **params, char *allow,
                      size_t allow_cap)
{
        char *path = evhttp_uridecode(raw_path, 0, NULL);
        char *segs[HTTP_SEGS_MAX];
        int n, found = -1;

        if (!path)
                return -1;
        /* A trailing slash names the same resource. */
        if (strlen(path) > 1 && path[strlen(path) - 1] == '/')
                path[strlen(path) - 1] = '\0';
        n = path_split(path, segs);
        for (int i = 0; n > 0 && i < api_routes_n; i++) {
                if (!route_match(api_routes[i].pattern, segs, n, NULL))
                        continue;
                if (api_routes[i].method == method) {
                        route_match(api_routes[i].pattern, segs, n, params);
                        found = i;
                        break;
                }
                found = -2;
                /* Collects the methods this path does allow, for 405's Allow. */
                size_t used = strlen(allow);
                snprintf(allow + used, allow_cap - used, "%s%s", used ? ", " : "",
                         http_method_name(api_routes[i].method));
        }
        free(path);
        return found;
}

/* Reads and parses the body per the route's rule. Returns 0, or answers the
 * request with the error and returns -1 (hr is then freed). */
static int req_body(struct http_req *hr, size_t body_max)
{
        struct evbuffer *in = evhttp_request_get_input_buffer(hr->req);
        size_t len = evbuffer_get_length(in);
        json_error_t jerr;
        const char *data;

        if (len > body_max) {
                http_reply_error(hr, 413, "body_too_large", NULL,
                                 "request body of %zu bytes exceeds the limit of %zu bytes", len,
                                 body_max);
                return -1;
        }
        if (hr->route->body == HTTP_BODY_NONE)
                return 0;
        if (len == 0) {
                if (hr->route->body == HTTP_BODY_OPTIONAL)
                        return 0;
                http_reply_error(hr, 400, "invalid_json", NULL, "a JSON object body is required");
                return -1;
        }
        data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
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

/* Answers requests that never reach a handler: over the connection limit,
 * during shutdown, unknown routes and methods, bad bodies and queries. Returns
 * true when it answered. */
static bool req_refuse(struct http *h, struct http_req *hr, const char *raw_path, int idx,
                       const char *allow)
{
        const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(hr->req));

        if (h->conns > h->srv->limits->connections_max) {
                evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Connection",
                                  "close");
                http_reply_error(hr, 503, "too_many_connections", NULL,
                                 "the server has %d open connections (limit %d)", h->conns,
                                 h->srv->limits->connections_max);
                return true;
        }
        if (idx == -1) {
                http_reply_error(hr, 404, "route_not_found", NULL, "no route for %s %s",
                                 http_method_name(evhttp_request_get_command(hr->req)), raw_path);
                return true;
        }
        if (idx == -2) {
                evhttp_add_header(evhttp_request_get_output_headers(hr->req), "Allow", allow);
                http_reply_error(hr, 405, "method_not_allowed", NULL, "%s is not allowed on %s",
                                 http_method_name(evhttp_request_get_command(hr->req)), raw_path);
                return true;
        }
        hr->route = &api_routes[idx];
        if (auth_request(hr) != 0)
                return true;
        if (q && evhttp_parse_query_str(q, &hr->query) != 0) {
                http_reply_error(hr, 400, "invalid_field", "query",
                                 "the query string is malformed");
                return true;
        }
        return req_body(hr, h->srv->limits->body_max_bytes) != 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
        struct http *h = arg;
        struct http_req *hr = calloc(1, sizeof(*hr));
        const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
        const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
        char allow[128] = "";
        int idx;

        if (!hr) {
                evhttp_send_error(req, 500, "out of memory");
                return;
        }
        hr->srv = h->srv;
        hr->req = req;
        hr->route_idx = -1;
        hr->tenant = SERVER_TENANT;
        hr->start_ns = clock_mono_ns(h->srv->clock);
        TAILQ_INIT(&hr->query);
        req_set_id(hr);
        hr->conn = conn_get(h, req);
        if (!raw_path || !*raw_path)
                raw_path = "/";
        idx =
            route_find(evhttp_request_get_command(req), raw_path, hr->params, allow, sizeof(allow));
        if (idx >= 0)
                hr->route = &api_routes[idx];
        if (req_refuse(h, hr, raw_path, idx, allow))
                return;
        hr->route_idx = idx;
        h->active++;
        hr->route->fn(hr);
}

int http_start(struct server *srv, const char *host, int port, struct http **out)
{
        struct http *h = calloc(1, sizeof(*h));
        size_t body_cap = srv->limits->body_max_bytes;
        int rc = BATON_ENOMEM;

        if (!h)
                goto out;
        h->srv = srv;
        buf_init(&h->out, HTTP_OUT_MAX);
        h->table_cap = 1024;
        while (h->table_cap < (size_t)srv->limits->connections_max * 2)
                h->table_cap *= 2;
        h->table = calloc(h->table_cap, sizeof(*h->table));
        h->eh = evhttp_new(srv->base);
        if (!h->table || !h->eh)
                goto out;
        /* Bodies up to twice the limit are read so the client gets our JSON 413;
         * beyond that libevent refuses before reading. */
        evhttp_set_max_body_size(h->eh, (ev_ssize_t)(body_cap * 2 + 1024));
        evhttp_set_max_headers_size(h->eh, 64 * 1024);
        evhttp_set_timeout(h->eh, HTTP_TIMEOUT_S);
        evhttp_set_allowed_methods(h->eh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                              EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
        evhttp_set_gencb(h->eh, on_request, h);
        h->sock = evhttp_bind_socket_with_handle(h->eh, host, (ev_uint16_t)port);
        if (!h->sock) {
                log_error("http", "cannot listen on %s:%d", host, port);
                rc = BATON_EIO;
                goto out;
        }
        h->port = port;
        if (port == 0) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                evutil_socket_t fd = evhttp_bound_socket_get_fd(h->sock);

                if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
                        h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
        *out = h;
        h = NULL;
        rc = 0;
out:
        if (h)
                http_free(h);
        return rc;
}

void http_stop_accepting(struct http *h)
{
        if (h->sock) {
                evhttp_del_accept_socket(h->eh, h->sock);
                h->sock = NULL;
        }
}

void http_free(struct http *h)
{
        if (!h)
                return;
        /* evhttp_free closes every connection; their close callbacks free our
         * records. */
        if (h->eh)
                evhttp_free(h->eh);
        for (size_t i = 0; h->table && i < h->table_cap; i++) {
                struct http_conn *c = h->table[i];
                while (c) {
                        struct http_conn *next = c->next;
                        free(c);
                        c = next;
                }
        }
        free(h->table);
        buf_free(&h->out);
        free(h);
}
