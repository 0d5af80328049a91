/*
 * http_conn.c: the sockets of batond's HTTP front. Accepts connections on
 * the listening socket, reads into one buffer per connection, hands whole
 * heads and bodies to http.c, writes answers without ever blocking the loop,
 * and enforces the connection limits: at most connections_max open (at the
 * limit the oldest idle connection makes room, and only when none is idle
 * is the new one refused with 503 too_many_connections), a head timeout, a
 * body timeout and an idle timeout, checked by one sweep timer.
 *
 * Workload: thousands of requests per second on one loop thread, a few
 * thousand connections, some of them parked long-polls, some of them hostile
 * (idle, slow, oversized). The read event of a connection is added once and
 * stays (no epoll_ctl per request); the write event only while the socket is
 * full. Assumptions: answers are written in request order, one request per
 * connection is handled at a time (pipelined ones wait in the buffer), and
 * the buffer of a connection never grows past its head or body limit.
 */
#include "server/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/jw.h"
#include "common/rand.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/server.h"

#define HTTP_OUT_MAX ((size_t)1 << 30)
#define HTTP_IN_MIN 16384
#define HTTP_SWEEP_MS 250
#define HTTP_LINGER_MS 2000
#define HTTP_LINGER_MAX_BYTES (1u << 20)
#define HTTP_OUT_HIGH (1u << 20) /* pending answer bytes that pause pipelining */
#define HTTP_ACCEPT_BURST 64

static void on_resume(evutil_socket_t fd, short what, void *arg);

int64_t http_now_ms(const struct http *h)
{
        return clock_mono_ns(h->srv->clock) / 1000000;
}

const char *http_reason(int status)
{
        switch (status) {
        case 100:
                return "Continue";
        case 200:
                return "OK";
        case 201:
                return "Created";
        case 202:
                return "Accepted";
        case 204:
                return "No Content";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 409:
                return "Conflict";
        case 413:
                return "Content Too Large";
        case 415:
                return "Unsupported Media Type";
        case 417:
                return "Expectation Failed";
        case 429:
                return "Too Many Requests";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 503:
                return "Service Unavailable";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Server Error";
        }
}

/* v as 16 lowercase hex digits at out. */
static void hex16(uint64_t v, char *out)
{
        static const char hex[] = "0123456789abcdef";

        for (int i = 15; i >= 0; i--, v >>= 4)
                out[i] = hex[v & 15];
}

void http_new_request_id(struct http *h, char out[33])
{
        /* "%016llx%016llx" of the prefix and the counter, without stdio: most
         * clients send no X-Request-Id, so this runs per request. */
        hex16(h->reqid_prefix, out);
        hex16(++h->reqid_seq, out + 16);
        out[32] = '\0';
}

const char *http_date(struct http *h)
{
        int64_t s = clock_wall_ms(h->srv->clock) / 1000;
        time_t t = (time_t)s;
        struct tm tm;

        if (s != h->date_s) {
                gmtime_r(&t, &tm);
                strftime(h->date, sizeof(h->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
                h->date_s = s;
        }
        return h->date;
}

/* recv(2) or SSL_read: >0 bytes, 0 at the end of the stream, -1 with errno
 * (EAGAIN when nothing is there yet). */
static ssize_t conn_recv(struct http_conn *c, void *buf, size_t n)
{
        int r, e;

        if (!c->ssl)
                return recv(c->fd, buf, n, 0);
        r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r > 0)
                return r;
        e = SSL_get_error(c->ssl, r);
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                /* A handshake message waits for room in the socket. */
                if (e == SSL_ERROR_WANT_WRITE && !c->writing) {
                        c->tls_read_wants_write = true;
                        event_add(c->wev, NULL);
                        c->writing = true;
                }
                errno = EAGAIN;
                return -1;
        }
        errno = ECONNRESET; /* a failed handshake or a broken record */
        return -1;
}

/* send(2) or SSL_write, as conn_recv. */
static ssize_t conn_send(struct http_conn *c, const void *buf, size_t n)
{
        int r, e;

        if (!c->ssl)
                return send(c->fd, buf, n, MSG_NOSIGNAL);
        r = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r > 0)
                return r;
        e = SSL_get_error(c->ssl, r);
        ERR_clear_error();
        errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : EPIPE;
        return -1;
}

static void conn_set_reading(struct http_conn *c, bool on)
{
        /* TLS may hold decrypted bytes the socket no longer signals. */
        if (on && c->ssl && SSL_pending(c->ssl) > 0)
                event_active(c->rev, EV_READ, 0);
        if (on == c->reading)
                return;
        if (on)
                event_add(c->rev, NULL);
        else
                event_del(c->rev);
        c->reading = on;
}

static void conn_unlink(struct http_conn *c)
{
        struct http *h = c->h;

        if (c->prev)
                c->prev->next = c->next;
        else
                h->all = c->next;
        if (c->next)
                c->next->prev = c->prev;
        h->conns--;
}

void conn_free(struct http_conn *c)
{
        struct http_req *hr = c->hr;

        conn_unlink(c);
        event_free(c->rev);
        event_free(c->wev);
        event_free(c->resume);
        if (c->ssl)
                SSL_free(c->ssl);
        close(c->fd);
        c->hr = NULL;
        if (hr && c->state == CS_HANDLE) {
                /* Its handler still owns it: the answer frees it. */
                hr->conn = NULL;
                if (hr->watching && hr->on_close)
                        hr->on_close(hr, hr->on_close_arg);
        } else if (hr) {
                http_req_drop(hr);
        }
        free(c->in);
        free(c->chunk_buf);
        buf_free(&c->out);
        explicit_bzero(&c->auth, sizeof(c->auth));
        free(c->spare);
        free(c);
}

/* Gives back what a burst of big bodies or answers left behind. */
static void conn_shrink(struct http_conn *c)
{
        if (c->in_cap > 4 * HTTP_IN_MIN && c->in_len <= HTTP_IN_MIN) {
                char *p = realloc(c->in, HTTP_IN_MIN);
                if (p) {
                        c->in = p;
                        c->in_cap = HTTP_IN_MIN;
                }
        }
        if (c->out.cap > HTTP_OUT_HIGH && c->out.len == 0) {
                buf_free(&c->out);
                buf_init(&c->out, HTTP_OUT_MAX);
        }
}

int conn_flush(struct http_conn *c)
{
        while (c->out_off < c->out.len) {
                ssize_t n = conn_send(c, c->out.ptr + c->out_off, c->out.len - c->out_off);
                if (n > 0) {
                        c->out_off += (size_t)n;
                        c->wrote_ms = http_now_ms(c->h);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        if (!c->writing) {
                                c->wrote_ms = http_now_ms(c->h); /* the stall starts */
                                event_add(c->wev, NULL);
                                c->writing = true;
                        }
                        return 0;
                }
                return -1;
        }
        buf_reset(&c->out);
        c->out_off = 0;
        if (c->writing) {
                event_del(c->wev);
                c->writing = false;
        }
        if (c->close_when_flushed && c->state != CS_LINGER) {
                /* The answer is out: no more writes, then drain what the
                 * client still sends until it closes or the linger ends. */
                if (c->ssl && SSL_is_init_finished(c->ssl))
                        SSL_shutdown(c->ssl); /* close_notify; no wait for the peer's */
                shutdown(c->fd, SHUT_WR);
                c->state = CS_LINGER;
                c->since_ms = http_now_ms(c->h);
                conn_set_reading(c, true);
        }
        conn_shrink(c);
        return 0;
}

void conn_error(struct http_conn *c, int status, const char *code, const char *fmt, ...)
{
        struct http *h = c->h;
        char msg[512], id[33];
        struct buf b;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        http_new_request_id(h, id);
        buf_init(&b, 4096);
        http_error_json(&b, code, NULL, msg);
        buf_printf(&c->out,
                   "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nX-Request-Id: %s\r\n%sConnection: close\r\n\r\n",
                   status, http_reason(status), http_date(h), b.len, id,
                   status == 503 ? "Retry-After: 1\r\n" : "");
        if (b.len)
                buf_add(&c->out, b.ptr, b.len);
        buf_free(&b);
        if (h->srv->metrics)
                metrics_http(h->srv->metrics, "unmatched", status, 0);
        log_emit(LOG_DEBUG, "http", NULL, "refused a connection's input: %d %s", status, code);
        c->close_when_flushed = true;
        if (c->state != CS_LINGER)
                c->state = CS_HANDLE; /* nothing more is parsed */
}

void conn_answered(struct http_conn *c, bool close)
{
        BATON_ASSERT(c->consume <= c->in_len);
        memmove(c->in, c->in + c->consume, c->in_len - c->consume);
        c->in_len -= c->consume;
        c->consume = 0;
        c->head_len = 0;
        c->hr = NULL;
        c->served++;
        c->since_ms = http_now_ms(c->h);
        if (close) {
                c->close_when_flushed = true;
                c->state = CS_HANDLE; /* until flushed, then LINGER */
        } else {
                c->state = CS_HEAD;
        }
        if (c->in_process)
                return; /* conn_process goes on and writes at its end */
        if (conn_flush(c) != 0) {
                conn_free(c);
                return;
        }
        if (c->state == CS_HEAD) {
                conn_set_reading(c, true);
                /* A pipelined request waits in the buffer: handled from the
                 * loop, not from inside this answer's caller. */
                if (c->in_len)
                        event_active(c->resume, 0, 0);
        }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
        struct http_conn *c = arg;

        (void)fd, (void)what;
        conn_process(c);
        if (conn_flush(c) != 0) {
                conn_free(c);
                return;
        }
        if (c->state == CS_HEAD || c->state == CS_BODY)
                conn_set_reading(c, true);
}

/* Grows c->in so that at least want bytes fit. */
static int in_reserve(struct http_conn *c, size_t want)
{
        size_t cap = c->in_cap ? c->in_cap : HTTP_IN_MIN;
        char *p;

        if (want <= c->in_cap)
                return 0;
        while (cap < want)
                cap *= 2;
        p = realloc(c->in, cap);
        if (!p)
                return BATON_ENOMEM;
        c->in = p;
        c->in_cap = cap;
        return 0;
}

/* How far c->in may grow in the current state. */
static size_t in_limit(const struct http_conn *c)
{
        const struct limits *l = c->h->srv->limits;

        if (c->state == CS_BODY && c->hr && c->hr->head.content_length >= 0)
                return c->head_len + (size_t)c->hr->head.content_length + HTTP_IN_MIN;
        if (c->state == CS_BODY)
                return c->head_len + HTTP_IN_MIN * 4; /* chunked: decoded as it comes */
        return l->header_max_bytes + HTTP_IN_MIN;
}

void conn_process(struct http_conn *c)
{
        const struct limits *l = c->h->srv->limits;

        c->in_process = true;
        for (;;) {
                if (c->state == CS_HEAD) {
                        size_t scan = c->in_len, end;

                        if (c->out.len - c->out_off > HTTP_OUT_HIGH)
                                break; /* let the client read its answers first */
                        if (scan > l->header_max_bytes)
                                scan = l->header_max_bytes;
                        end = http_head_end(c->in, scan);
                        if (end) {
                                http_begin(c, end);
                                continue;
                        }
                        if (c->in_len > l->header_max_bytes)
                                conn_error(c, 431, "header_too_large",
                                           "the request head exceeds %zu bytes",
                                           l->header_max_bytes);
                        break;
                }
                if (c->state == CS_BODY) {
                        int st = c->state;
                        size_t len = c->in_len;

                        http_body_step(c);
                        if (c->state == st && c->in_len == len)
                                break; /* waits for more of the body */
                        continue;
                }
                break;
        }
        c->in_process = false;
}

/* Reads what the socket has. Returns 1 on data, 0 when nothing was there,
 * -1 when the peer closed or the connection failed. */
static int conn_read(struct http_conn *c)
{
        size_t limit = in_limit(c);
        ssize_t n;

        if (c->state == CS_LINGER) {
                char scratch[16384];
                n = recv(c->fd, scratch, sizeof(scratch), 0);
                if (n > 0)
                        c->lingered += (size_t)n;
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
                    c->lingered > HTTP_LINGER_MAX_BYTES)
                        return -1;
                return 0;
        }
        if (c->in_len >= limit) {
                /* Full for now (a pipelined request behind one being handled,
                 * or a head at its limit): stop reading until it is consumed. */
                conn_set_reading(c, false);
                return 0;
        }
        if (in_reserve(c, c->in_len + HTTP_IN_MIN < limit ? c->in_len + HTTP_IN_MIN : limit) != 0)
                return -1;
        n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (n > 0) {
                c->in_len += (size_t)n;
                if (c->state == CS_HEAD && c->in_len == (size_t)n)
                        c->since_ms = http_now_ms(c->h); /* a new head starts */
                /* The rest of a TLS record already read from the socket. */
                while (c->ssl && SSL_pending(c->ssl) > 0 && c->in_len < c->in_cap) {
                        n = conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
                        if (n <= 0)
                                break;
                        c->in_len += (size_t)n;
                }
                return 1;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return 0;
        return -1;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
        struct http_conn *c = arg;
        int rc;

        (void)fd, (void)what;
        rc = conn_read(c);
        if (rc < 0) {
                conn_free(c);
                return;
        }
        if (rc > 0 && c->state != CS_LINGER) {
                conn_process(c);
                if (conn_flush(c) != 0)
                        conn_free(c);
                else if (c->state == CS_HEAD || c->state == CS_BODY)
                        conn_set_reading(c, true);
        }
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
        struct http_conn *c = arg;

        (void)fd, (void)what;
        if (c->tls_read_wants_write) {
                /* The handshake can go on: read (and answer) as on_read does. */
                c->tls_read_wants_write = false;
                on_read(fd, EV_READ, c);
                return;
        }
        if (conn_flush(c) != 0) {
                conn_free(c);
                return;
        }
        /* Pipelined requests paused behind a full socket go on now. */
        on_resume(fd, what, c);
}

/* An idle connection (no request in progress, nothing unanswered) is the
 * cheapest to lose: its client reconnects when it has something to say. */
static bool conn_idle(const struct http_conn *c)
{
        return c->state == CS_HEAD && c->in_len == 0 && c->out.len == c->out_off;
}

/* At the limit: closes the connection idle for the longest, if any. */
static bool evict_idle(struct http *h)
{
        struct http_conn *victim = NULL;

        for (struct http_conn *c = h->all; c; c = c->next)
                if (conn_idle(c) && (!victim || c->since_ms <= victim->since_ms))
                        victim = c;
        if (!victim)
                return false;
        log_emit(LOG_DEBUG, "http", NULL, "closed an idle connection to make room");
        conn_free(victim);
        return true;
}

/* Refuses a connection over the limit: a short JSON 503, then close. */
static void refuse(struct http *h, int fd)
{
        char body[256], msg[512];
        int n, m;

        n = snprintf(body, sizeof(body),
                     "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the server "
                     "has %d open connections (limit %d)\"}}",
                     h->conns, h->srv->limits->connections_max);
        m = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                     n, body);
        if (send(fd, msg, (size_t)m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                log_emit(LOG_DEBUG, "http", NULL, "refused connection gone before its 503");
        if (h->srv->metrics)
                metrics_http(h->srv->metrics, "unmatched", 503, 0);
        close(fd);
}

static void conn_new(struct http *h, int fd)
{
        struct http_conn *c = calloc(1, sizeof(*c));
        int one = 1;

        if (!c) {
                close(fd);
                return;
        }
        /* Answers must not wait for the client's delayed ACK (Nagle). */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->h = h;
        c->fd = fd;
        if (h->tls && !(c->ssl = http_tls_accept(h->tls, fd))) {
                close(fd);
                free(c);
                return;
        }
        c->state = CS_HEAD;
        c->since_ms = http_now_ms(h);
        buf_init(&c->out, HTTP_OUT_MAX);
        c->rev = event_new(h->srv->base, fd, EV_READ | EV_PERSIST, on_read, c);
        c->wev = event_new(h->srv->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
        c->resume = event_new(h->srv->base, -1, 0, on_resume, c);
        if (!c->rev || !c->wev || !c->resume) {
                server_event_drop(&c->rev);
                server_event_drop(&c->wev);
                server_event_drop(&c->resume);
                if (c->ssl)
                        SSL_free(c->ssl);
                close(fd);
                free(c);
                return;
        }
        c->next = h->all;
        if (h->all)
                h->all->prev = c;
        h->all = c;
        h->conns++;
        conn_set_reading(c, true);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
        struct http *h = arg;

        (void)fd, (void)what;
        if (h->accept_ev)
                event_add(h->accept_ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
        struct http *h = arg;

        (void)what;
        for (int i = 0; i < HTTP_ACCEPT_BURST; i++) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM) {
                                /* Out of descriptors: pause accepting for a moment
                                 * instead of spinning on the ready socket. */
                                struct timeval tv = {0, 100 * 1000};
                                log_warn("http", "accept: %s; pausing 100 ms", strerror(errno));
                                event_del(h->accept_ev);
                                event_add(h->accept_retry, &tv);
                        }
                        return;
                }
                if (h->conns >= h->srv->limits->connections_max && !evict_idle(h)) {
                        refuse(h, fd);
                        continue;
                }
                conn_new(h, fd);
        }
}

/* Closes what has overstayed: a head not whole within head_timeout_ms, a body
 * not whole within body_timeout_ms, an idle connection after idle_timeout_ms,
 * an answer the client does not read for idle_timeout_ms, a linger. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
        struct http *h = arg;
        const struct limits *l = h->srv->limits;
        int64_t now = http_now_ms(h);
        struct http_conn *c = h->all, *next;
        struct timeval tv = {0, HTTP_SWEEP_MS * 1000};

        (void)fd, (void)what;
        for (; c; c = next) {
                int64_t age = now - c->since_ms;
                bool stalled = c->out.len > c->out_off && now - c->wrote_ms > l->idle_timeout_ms;

                next = c->next;
                if (stalled || (c->state == CS_LINGER && age > HTTP_LINGER_MS) ||
                    (conn_idle(c) && c->served > 0 && age > l->idle_timeout_ms) ||
                    (conn_idle(c) && c->served == 0 && age > l->head_timeout_ms)) {
                        conn_free(c);
                        continue;
                }
                if ((c->state == CS_HEAD && c->in_len > 0 && age > l->head_timeout_ms) ||
                    (c->state == CS_BODY && age > l->body_timeout_ms)) {
                        bool head = c->state == CS_HEAD;
                        if (c->hr) {
                                http_req_drop(c->hr);
                                c->hr = NULL;
                        }
                        conn_error(c, 408, "request_timeout",
                                   "the request %s did not arrive within %lld ms",
                                   head ? "head" : "body",
                                   (long long)(head ? l->head_timeout_ms : l->body_timeout_ms));
                        if (conn_flush(c) != 0)
                                conn_free(c);
                }
        }
        if (h->trim_pending && h->body_inflight == 0) {
                /* Large bodies come and go in bursts; hand the pages back. */
                malloc_trim(0);
                h->trim_pending = false;
        }
        event_add(h->sweep, &tv);
}

/* Raises the soft limit on open files to what --connections-max needs (plus
 * room for the store, logs and listeners), as far as the hard limit allows:
 * Debian's default soft limit of 1024 would otherwise refuse connections
 * long before the documented 4,096. */
static void raise_fd_limit(int connections_max)
{
        struct rlimit rl;
        rlim_t want = (rlim_t)connections_max + 256;

        if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
                return;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
                want = rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || want < (rlim_t)connections_max + 256)
                log_warn("http",
                         "open-file limit %llu is below --connections-max %d plus 256; raise "
                         "the hard limit (ulimit -Hn, LimitNOFILE)",
                         (unsigned long long)want, connections_max);
}

static int listen_on(struct http *h, const char *host, int port)
{
        struct addrinfo hints = {0}, *res = NULL;
        char ps[16];
        int fd = -1, one = 1, rc;

        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(ps, sizeof(ps), "%d", port);
        rc = getaddrinfo(host, ps, &hints, &res);
        if (rc != 0) {
                log_error("http", "cannot resolve %s: %s", host, gai_strerror(rc));
                return BATON_EIO;
        }
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0)
                        break;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
                log_error("http", "cannot listen on %s:%d: %s", host, port, strerror(errno));
                return BATON_EIO;
        }
        h->listen_fd = fd;
        h->port = port;
        if (port == 0) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);

                if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
                        h->port = ntohs(ss.ss_family == AF_INET6
                                            ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)(void *)&ss)->sin_port);
        }
        return 0;
}

int http_start(struct server *srv, const char *host, int port, struct http **out)
{
        struct http *h = calloc(1, sizeof(*h));
        struct timeval tv = {0, HTTP_SWEEP_MS * 1000};
        int rc = BATON_ENOMEM;

        if (!h)
                goto out;
        h->srv = srv;
        h->listen_fd = -1;
        h->date_s = -1;
        h->refusals.per_window = 10;
        h->refusals.window_ms = 10000;
        h->reqid_prefix = rand_below(UINT64_MAX);
        buf_init(&h->out, HTTP_OUT_MAX);
        /* A fixed mmap threshold: glibc otherwise raises it after the first
         * large body is freed, and later bodies then stay in the heap for good. */
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        raise_fd_limit(srv->limits->connections_max);
        if (srv->cfg->tls_cert[0]) {
                rc = http_tls_new(srv->cfg->tls_cert, srv->cfg->tls_key, &h->tls);
                if (rc)
                        goto out;
        }
        rc = listen_on(h, host, port);
        if (rc)
                goto out;
        rc = BATON_ENOMEM;
        h->accept_ev = event_new(srv->base, h->listen_fd, EV_READ | EV_PERSIST, on_accept, h);
        h->accept_retry = evtimer_new(srv->base, on_accept_retry, h);
        h->sweep = evtimer_new(srv->base, on_sweep, h);
        if (!h->accept_ev || !h->accept_retry || !h->sweep)
                goto out;
        event_add(h->accept_ev, NULL);
        event_add(h->sweep, &tv);
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
        server_event_drop(&h->accept_ev);
        if (h->listen_fd >= 0) {
                close(h->listen_fd);
                h->listen_fd = -1;
        }
}

void http_free(struct http *h)
{
        if (!h)
                return;
        http_stop_accepting(h);
        while (h->all)
                conn_free(h->all);
        server_event_drop(&h->accept_retry);
        server_event_drop(&h->sweep);
        http_tls_free(h->tls);
        buf_free(&h->out);
        free(h);
}

bool http_tls_on(const struct http *h)
{
        return h->tls != NULL;
}

int http_reload_tls(struct http *h)
{
        if (!h->tls) {
                log_info("tls", "SIGHUP: no --tls-cert, nothing to reload");
                return 0;
        }
        return http_tls_reload(h->tls);
}
