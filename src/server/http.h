/*
 * http.h: batond's HTTP front: an evhttp server with a route table, a request
 * context per request, JSON body and query parsing, request ids, connection
 * counting and the reply helpers every handler uses.
 *
 * Lifecycle of a request: http.c matches the route, reads and checks the body,
 * allocates a struct http_req and calls the route's handler. The handler
 * either answers at once (an http_reply_* call) or submits an exec op whose
 * done callback answers later. Every http_reply_* call sends the answer and
 * frees the struct http_req, exactly once per request. If the client goes
 * away first, the request stays valid until that reply (libevent detaches it
 * from the connection and frees it when it is answered), so a handler never
 * has to cancel an op in flight; a parked waiter asks to be told (http_watch).
 */
#ifndef BATON_SERVER_HTTP_H
#define BATON_SERVER_HTTP_H

#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "core/validate.h"
#include "server/server.h"

#define HTTP_REQID_MAX 128
#define HTTP_PARAMS_MAX 2

struct evhttp_request;
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
        HTTP_AUTH_KEY = 0,  /* a valid key holding the route's scope */
        HTTP_AUTH_OPEN = 1, /* anyone (/healthz, /readyz) */
        HTTP_AUTH_LOCAL = 2 /* anyone on a loopback connection; elsewhere a key of
                             * tenant "default" holding the route's scope */
};

struct http_route {
        int method;          /* enum evhttp_cmd_type */
        const char *pattern; /* "/v1/jobs/{id}": literal and {param} segments */
        const char *name;    /* metrics label, e.g. "jobs_get" */
        http_handler_fn fn;
        int body;          /* enum http_body */
        int auth;          /* enum http_auth */
        uint32_t scope;    /* enum key_scope bit the key needs; 0 = none */
        const char *audit; /* audit action ("queue.update") or NULL: not audited */
};

struct http_req {
        struct server *srv;
        struct evhttp_request *req;
        const struct http_route *route; /* NULL when no route matched */
        int route_idx;                  /* index in the route table; -1 if none */
        struct http_conn *conn;         /* NULL once the client has gone */
        /* Who is calling (auth.c). tenant and key_id point into the keyring (or
         * at SERVER_TENANT), valid for the server's lifetime; key_id is NULL
         * without a key (open routes, --insecure-no-auth). */
        const char *tenant;
        const char *key_id;
        uint32_t scopes; /* enum key_scope bits of the key */
        bool authed;     /* a key (or insecure mode) was accepted: refusals are audited */
        char request_id[HTTP_REQID_MAX + 1];
        int64_t start_ns;
        char *params[HTTP_PARAMS_MAX]; /* decoded path parameters, owned */
        struct evkeyvalq query;        /* decoded query arguments, owned */
        json_t *body;                  /* parsed body (a JSON object) or NULL, owned */
        /* Set by http_watch while a request is parked: called on the loop thread
         * when the client disconnects. */
        void (*on_close)(struct http_req *hr, void *arg);
        void *on_close_arg;
        bool watching;
};

/* Starts serving on host:port with the route table of api.h. *out is owned by
 * the caller and released with http_free. */
int http_start(struct server *srv, const char *host, int port, struct http **out);
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
/* Prints the route table as "METHOD /path/{param}" lines. */
void http_routes_print(FILE *f);
/* Name of an evhttp method, "GET"... */
const char *http_method_name(int method);

/* Accessors. */
const char *http_param(const struct http_req *hr, int i);
const char *http_query(const struct http_req *hr, const char *key);

/* Asks for on_close when the client disconnects while hr waits (long-poll).
 * Also stops libevent from parsing a pipelined request meanwhile, which its
 * 2.1 server does not support. Undone by the reply. */
void http_watch(struct http_req *hr, void (*on_close)(struct http_req *, void *), void *arg);

/* True when the client of a parked request has closed its connection (checked
 * with a non-blocking peek, so it is exact even when libevent has not yet
 * noticed). A claim woken for a gone client must not lease jobs. */
bool http_client_gone(const struct http_req *hr);

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
void http_reply_verr(struct http_req *hr, const struct verr *e);
/* Maps an enum baton_err to its status and code (docs/api.md). what names the
 * object for not_found ("job", "queue"). */
void http_reply_rc(struct http_req *hr, int rc, const char *what);
/* The status and code http_reply_rc would use. */
void http_rc_status(int rc, int *status, const char **code);

#endif
