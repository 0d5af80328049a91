/*
 * http.h: batond's HTTP front: an HTTP/1.1 server of its own on the libevent
 * loop (http.c, parser in http_parse.c) with a route table, a request context
 * per request, JSON body and query parsing, request ids, connection limits and
 * timeouts, and the reply helpers every handler uses.
 *
 * Lifecycle of a request: http.c reads the head, matches the route on the raw
 * path, authenticates the caller (before any of the body is read), reads and
 * checks the body, allocates a struct http_req and calls the route's handler.
 * The handler either answers at once (an http_reply_* call) or submits an exec
 * op whose done callback answers later. Every http_reply_* call sends the
 * answer and frees the struct http_req, exactly once per request. If the
 * client goes away first, the request stays valid until that reply (it is
 * detached from its connection and freed when it is answered), so a handler
 * never has to cancel an op in flight; a parked waiter asks to be told
 * (http_watch). Requests pipelined on one connection are handled one at a
 * time and answered in order.
 */
#ifndef BATON_SERVER_HTTP_H
#define BATON_SERVER_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "core/validate.h"
#include "server/http_parse.h"
#include "server/server.h"

#define HTTP_REQID_MAX 128
#define HTTP_PARAMS_MAX 2
#define HTTP_OUT_HDRS_MAX 1024
#define HTTP_SESSION_ID_MAX 72

struct http_conn;
struct http_req;

typedef void (*http_handler_fn)(struct http_req *hr);

/* What a route does with the request body. */
enum http_body {
        HTTP_BODY_NONE = 0,     /* ignored */
        HTTP_BODY_OPTIONAL = 1, /* empty, or a JSON object */
        HTTP_BODY_REQUIRED = 2  /* a JSON object */
};

/* Who may call a route (auth.c). */
enum http_auth {
        HTTP_AUTH_KEY = 0, /* a valid key holding the route's scope */
        HTTP_AUTH_OPEN = 1 /* anyone (/healthz, /readyz) */
};

struct http_route {
        int method;          /* enum http_method */
        const char *pattern; /* "/v1/jobs/{id}": literal and {param} segments */
        const char *name;    /* metrics label, e.g. "jobs_get" */
        http_handler_fn fn;
        int body;          /* enum http_body */
        int auth;          /* enum http_auth */
        uint32_t scope;    /* enum key_scope bit the key needs; 0 = none */
        const char *audit; /* audit action ("queue.update") or NULL: not audited */
        /* The query parameters the route reads, space-separated ("limit after");
         * NULL: none. Any other is refused with 400 unknown_parameter before the
         * handler runs (docs/api.md, "Strict input"). */
        const char *query;
};

struct http_req {
        struct server *srv;
        int method;                     /* enum http_method */
        struct http_head head;          /* parsed head; points into head_buf */
        char *head_buf;                 /* the head's copy, in this struct's block */
        char *path_buf;                 /* decoded path segments, in this struct's block */
        size_t block_cap;               /* bytes of the one allocation hr starts */
        const struct http_route *route; /* NULL when no route matched */
        int route_idx;                  /* index in the route table; -1 if none */
        struct http_conn *conn;         /* NULL once the client has gone */
        /* Who is calling (auth.c). tenant and key_id point into the keyring (or
         * at SERVER_TENANT), valid for the server's lifetime; key_id is NULL
         * without a key (open routes, --insecure-no-auth). */
        const char *tenant;
        const char *key_id;
        uint32_t scopes; /* enum key_scope bits of the key */
        /* The digest of the dashboard's session cookie when the cookie, not
         * an Authorization header, authenticated the request (auth.c); ""
         * otherwise. */
        char session_id[HTTP_SESSION_ID_MAX];
        bool authed; /* a key (or insecure mode) was accepted: refusals are audited */
        char request_id[HTTP_REQID_MAX + 1];
        int64_t start_ns;
        char *params[HTTP_PARAMS_MAX];         /* decoded path parameters, point into path_buf */
        struct http_arg query[HTTP_QUERY_MAX]; /* decoded query arguments, in head_buf */
        int nquery;
        json_t *body;       /* parsed body (a JSON object) or NULL, owned */
        size_t body_budget; /* bytes of the in-flight body budget this request holds */
        bool close_after;   /* the connection closes after this answer */
        /* Extra answer headers ("Name: value\r\n" lines) set by http_set_header. */
        char out_hdrs[HTTP_OUT_HDRS_MAX];
        size_t out_hdrs_len;
        /* Set by http_watch while a request is parked: called on the loop thread
         * when the client disconnects. */
        void (*on_close)(struct http_req *hr, void *arg);
        void *on_close_arg;
        bool watching;
        bool streaming; /* http_stream_begin was called: only stream calls answer */
};

/* Starts serving on host:port with the route table of api.h. *out is owned by
 * the caller and released with http_free. */
int http_start(struct server *srv, const char *host, int port, struct http **out);
/* True when the listener serves HTTPS (--tls-cert). */
bool http_tls_on(const struct http *h);
/* SIGHUP: reads the certificate and key again (new connections use them,
 * open ones keep theirs). Returns 0, or BATON_EINVAL with the old pair kept. */
int http_reload_tls(struct http *h);
/* The port actually bound (useful with port 0). */
int http_port(const struct http *h);
/* Closes the listening socket; open connections stay until answered. */
void http_stop_accepting(struct http *h);
/* True when no request is being handled and every answer has been written. */
bool http_idle(const struct http *h);
/* Open connections, for metrics. */
int http_connections(const struct http *h);
/* Closes every connection and frees h. */
void http_free(struct http *h);
/* Prints the route table as "METHOD /path/{param} scope" lines: the scope a
 * key needs ("jobs:read"), "none" for an open route; each followed by
 * " query=a,b" when the route reads query parameters (tests/e2e/test_openapi.c
 * compares all three with docs/openapi.json). */
void http_routes_print(FILE *f);
/* Name of an enum http_method, "GET"... */
const char *http_method_name(int method);

/* Accessors. */
const char *http_param(const struct http_req *hr, int i);
/* A query argument's value or NULL. key must be in the route's query list
 * (asserted: a handler reading an unlisted parameter is a bug in api.c). */
const char *http_query(const struct http_req *hr, const char *key);
/* A request header's value (the first if repeated) or NULL. */
const char *http_header(const struct http_req *hr, const char *name);
/* True when the request asks for "Prefer: return=minimal" (RFC 7240 §4.2):
 * a preference "return" (any case) with the value minimal, in any Prefer
 * header, among other preferences or with parameters. */
bool http_prefers_minimal(const struct http_req *hr);
/* Adds an answer header; value must be one line of printable text. Headers
 * beyond HTTP_OUT_HDRS_MAX bytes in all are dropped (asserted in tests). */
void http_set_header(struct http_req *hr, const char *name, const char *value);
/* The bound on logging refused keys (auth.c), one per server. */
struct log_rate *http_refusal_log(struct http *h);

/* Asks for on_close when the client disconnects while hr waits (long-poll).
 * Undone by the reply. */
void http_watch(struct http_req *hr, void (*on_close)(struct http_req *, void *), void *arg);

/* True when the client of a parked request has closed its connection (checked
 * with a non-blocking peek, so it is exact even when the loop has not yet
 * noticed). A claim woken for a gone client must not lease jobs. */
bool http_client_gone(const struct http_req *hr);

/* The bearer token that last authenticated on a connection and its SHA-256
 * digest (auth.c), so a client that sends the same key on every request of a
 * keep-alive connection pays the hash once. Only the digest, a pure function
 * of the token, is remembered: the key's record is checked on every request,
 * so a revoked, expired or rotated key is refused at once. token is a secret:
 * the connection wipes it when it closes. */
#define HTTP_AUTH_TOKEN_MAX 64
#define HTTP_AUTH_DIGEST_MAX 72
struct http_auth_memo {
        char token[HTTP_AUTH_TOKEN_MAX]; /* "" when none */
        char digest[HTTP_AUTH_DIGEST_MAX];
};
/* hr's connection's memo, or NULL when the client has gone. */
struct http_auth_memo *http_auth_memo(struct http_req *hr);

/* A streamed answer (GET /v1/events with Accept: text/event-stream): 200
 * with Transfer-Encoding: chunked and Connection: close. http_stream_begin
 * sends the head; the request stays with its handler, which sends chunks
 * with http_stream_write and ends with http_stream_end (the last chunk;
 * frees hr, and the connection closes once it is written). Both return 0,
 * or -1 when the client has gone (hr->conn is then NULL, and on_close was
 * called if the request watches) or leaves more than
 * HTTP_STREAM_BACKLOG_MAX bytes unread: the handler then ends the stream.
 * A stream is never answered with http_reply_*. */
#define HTTP_STREAM_BACKLOG_MAX ((size_t)1 << 20)
int http_stream_begin(struct http_req *hr, const char *content_type);
int http_stream_write(struct http_req *hr, const char *data, size_t len);
void http_stream_end(struct http_req *hr);

/* The loop thread's scratch buffer for building an answer; reset on each call.
 * Owned by the http module; valid until the next http_out call. */
struct buf *http_out(struct server *srv);

/* Replies. Each sends the answer and frees hr (which must not be used after).
 * body is copied. */
void http_reply_json(struct http_req *hr, int status, const struct buf *body);
void http_reply_raw(struct http_req *hr, int status, const char *content_type, const char *body,
                    size_t len);
void http_reply_error(struct http_req *hr, int status, const char *code, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* http_reply_error whose error object also names a job ("job_id": "12"). */
void http_reply_error_job(struct http_req *hr, int status, const char *code, const char *field,
                          int64_t job_id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void http_reply_verr(struct http_req *hr, const struct verr *e);
/* Maps an enum baton_err to its status and code (docs/api.md). what names the
 * object for not_found ("job", "queue"). */
void http_reply_rc(struct http_req *hr, int rc, const char *what);
/* The status and code http_reply_rc would use. */
void http_rc_status(int rc, int *status, const char **code);

#endif
