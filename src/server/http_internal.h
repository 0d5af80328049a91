/*
 * http_internal.h: what http.c (requests, routing, answers) and http_conn.c
 * (sockets, buffers, timeouts) share. Nothing outside those two files
 * includes it.
 *
 * A connection moves through these states, one request at a time:
 *   HEAD   reading a request head (idle when nothing of it has arrived yet);
 *   BODY   the head was accepted (route, key, limits): reading its body;
 *   HANDLE the request is with its handler until it is answered;
 *   LINGER an answer that closes the connection is being written, then the
 *          write side is shut and what the client still sends is read and
 *          dropped for a moment, so the answer is not lost to a reset.
 */
#ifndef BATON_SERVER_HTTP_INTERNAL_H
#define BATON_SERVER_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/log.h"
#include "server/http.h"
#include "server/http_tls.h"

enum http_conn_state { CS_HEAD, CS_BODY, CS_HANDLE, CS_LINGER };

struct event;

struct http_conn {
        struct http *h;
        int fd;
        struct event *rev;         /* read, persistent, added once (deleted only to pause) */
        struct event *wev;         /* write, added only while an answer waits for the socket */
        struct event *resume;      /* activated to handle a pipelined request from the loop */
        bool reading;              /* rev is added */
        bool writing;              /* wev is added */
        SSL *ssl;                  /* with --tls-cert: the connection's TLS state, owned */
        bool tls_read_wants_write; /* a TLS read waits for the socket to take bytes */
        int state;                 /* enum http_conn_state */
        char *in;                  /* bytes read and not yet consumed, owned */
        size_t in_len, in_cap;
        struct buf out;      /* answers not yet written */
        size_t out_off;      /* bytes of out already written */
        struct http_req *hr; /* the request being read or handled, or NULL */
        size_t head_len;     /* its head's bytes at the start of in */
        size_t consume;      /* bytes of in that its answer consumes */
        /* Chunked body being decoded (state BODY with a chunked request). */
        struct http_chunked ch;
        char *chunk_buf; /* owned */
        size_t chunk_len, chunk_cap;
        int64_t since_ms; /* monotonic ms when the current state began */
        int64_t wrote_ms; /* last time the socket took answer bytes */
        int served;       /* requests answered on this connection */
        bool in_process;  /* inside conn_process: answers are flushed at its end */
        bool close_when_flushed;
        size_t lingered;               /* bytes dropped while lingering */
        struct http_auth_memo auth;    /* auth.c's memo; wiped in conn_free */
        struct http_req *spare;        /* a finished request's block for the next, owned */
        struct http_conn *prev, *next; /* every connection of h */
};

struct http {
        struct server *srv;
        int listen_fd;
        struct event *accept_ev;
        struct event *accept_retry; /* re-enables accepting after EMFILE */
        struct event *sweep;        /* timeouts, every HTTP_SWEEP_MS */
        int port;
        int conns;
        int active;            /* requests handed to a handler and not yet answered */
        size_t body_inflight;  /* bytes of request bodies held now (budget) */
        bool trim_pending;     /* a large body was released: give memory back */
        struct http_conn *all; /* every open connection, newest first */
        struct http_tls *tls;  /* NULL without --tls-cert */
        struct buf out;        /* http_out's scratch buffer */
        char date[40];         /* IMF-fixdate of date_s */
        int64_t date_s;
        struct log_rate refusals; /* bounded logging of refused requests */
        /* Generated request ids: a random prefix drawn at start and a
         * counter, so an id costs no system call (they need to be unique,
         * not secret). */
        uint64_t reqid_prefix;
        uint64_t reqid_seq;
};

/* http_conn.c */
int64_t http_now_ms(const struct http *h);
/* Writes what is pending in c->out. Returns 0, or -1 when the connection
 * failed (the caller frees it). */
int conn_flush(struct http_conn *c);
/* Handles every whole request in c->in that can be handled now, then writes
 * the answers. Never frees c. */
void conn_process(struct http_conn *c);
/* Closes the socket and frees c; its request, if handled, is detached
 * (hr->conn = NULL, on_close called) and freed later by its answer; a request
 * still being read is freed here. */
void conn_free(struct http_conn *c);
/* Answers on c without a request (a head that could not be parsed, a head
 * timeout) with the JSON error shape, then closes after writing. */
void conn_error(struct http_conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* After an answer: drops c->consume bytes of input and goes on with the next
 * request, or lingers and closes. Outside conn_process it writes at once and
 * may free c (a failed write): the caller must not use c after. */
void conn_answered(struct http_conn *c, bool close);
/* The JSON error shape {"error": {"code", "message", "field"?}} into b. */
void http_error_json(struct buf *b, const char *code, const char *field, const char *msg);
/* The Date header's value for now. */
const char *http_date(struct http *h);
/* A new request id: 32 lowercase hex characters and a NUL. */
void http_new_request_id(struct http *h, char out[33]);
/* The reason phrase of a status. */
const char *http_reason(int status);

/* http.c */
/* A whole head is at the start of c->in (head_len bytes): parses it, routes,
 * authenticates and checks the limits. Either answers at once, or leaves c
 * in state BODY with c->hr set. */
void http_begin(struct http_conn *c, size_t head_len);
/* In state BODY: reads what has arrived of the body; when it is whole,
 * parses it and hands the request to its handler. */
void http_body_step(struct http_conn *c);
/* Frees a request that never reached an answer (its connection closed while
 * its body was being read). */
void http_req_drop(struct http_req *hr);

#endif
