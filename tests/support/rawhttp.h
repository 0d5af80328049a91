/*
 * rawhttp.h: HTTP over a plain socket, for tests of the HTTP layer itself:
 * malformed, pipelined, slow, oversized and idle requests that no client
 * library would send. Connects to 127.0.0.1 only. Every read is bounded by a
 * deadline, so a server that does not answer fails the test instead of
 * hanging it.
 */
#ifndef BATON_TESTS_RAWHTTP_H
#define BATON_TESTS_RAWHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A connected socket to 127.0.0.1:port, or -1. */
int raw_connect(int port);
/* Sends all of buf (blocking, MSG_NOSIGNAL). Returns 0, or -1 when the
 * connection failed (the server closed it, say). */
int raw_send(int fd, const void *buf, size_t len);
int raw_sends(int fd, const char *s);

/* One answer read from fd. */
struct raw_res {
        int status;      /* 0 when none arrived */
        char head[8192]; /* status line and headers, NUL-terminated */
        char *body;      /* NUL-terminated, owned (raw_res_free) */
        size_t body_len;
};

/* Reads one answer (head, then Content-Length bytes of body) within
 * timeout_ms. Bytes read past it stay in the reader's buffer for the next
 * call: r is per connection and must start zeroed. Returns 0, or -1 on
 * timeout, end of file or a malformed answer. */
struct raw_reader {
        int fd;
        char buf[1 << 16];
        size_t len;
};
int raw_read_res(struct raw_reader *rd, int64_t timeout_ms, struct raw_res *res);
void raw_res_free(struct raw_res *res);
/* The value of a header in res->head (case-insensitive), copied to out, or
 * NULL. */
const char *raw_res_header(const struct raw_res *res, const char *name, char *out, size_t cap);

/* Waits up to timeout_ms for the server to close fd (read returns 0 or an
 * error), dropping what it sends. True when it closed. */
bool raw_wait_closed(int fd, int64_t timeout_ms);

/* The resident set of a process in KiB (VmRSS of /proc/<pid>/status), or -1. */
long raw_rss_kib(int pid);

#endif
