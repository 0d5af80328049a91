/*
 * rawhttp.c: the plain-socket HTTP helpers of rawhttp.h. Blocking sockets
 * with poll(2) deadlines; no retries, since the tests are about exactly what
 * the server does with each byte.
 */
#include "support/rawhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int raw_connect(int port)
{
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
                close(fd);
                return -1;
        }
        return fd;
}

int raw_send(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int raw_sends(int fd, const char *s)
{
        return raw_send(fd, s, strlen(s));
}

/* Reads more into rd->buf before the deadline. Returns bytes read, 0 at end
 * of file, -1 on timeout or error. */
static ssize_t fill(struct raw_reader *rd, int64_t deadline)
{
        struct pollfd p = {rd->fd, POLLIN, 0};
        int64_t left = deadline - now_ms();
        ssize_t n;

        if (rd->len == sizeof(rd->buf) || left <= 0)
                return -1;
        if (poll(&p, 1, (int)left) != 1)
                return -1;
        n = recv(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len, 0);
        if (n > 0)
                rd->len += (size_t)n;
        return n < 0 ? -1 : n;
}

const char *raw_res_header(const struct raw_res *res, const char *name, char *out, size_t cap)
{
        size_t n = strlen(name);

        for (const char *p = strstr(res->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
                const char *line = p + 2, *end = strstr(line, "\r\n");
                if (!end || strncasecmp(line, name, n) != 0 || line[n] != ':')
                        continue;
                line += n + 1;
                while (*line == ' ')
                        line++;
                snprintf(out, cap, "%.*s", (int)(end - line), line);
                return out;
        }
        return NULL;
}

int raw_read_res(struct raw_reader *rd, int64_t timeout_ms, struct raw_res *res)
{
        int64_t deadline = now_ms() + timeout_ms;
        char *end = NULL, cl[32];
        size_t head_len, body_len = 0;

        memset(res, 0, sizeof(*res));
        while (!(end = memmem(rd->buf, rd->len, "\r\n\r\n", 4)))
                if (fill(rd, deadline) <= 0)
                        return -1;
        head_len = (size_t)(end - rd->buf) + 4;
        if (head_len >= sizeof(res->head) || sscanf(rd->buf, "HTTP/1.%*d %d", &res->status) != 1)
                return -1;
        memcpy(res->head, rd->buf, head_len);
        res->head[head_len] = '\0';
        if (raw_res_header(res, "Content-Length", cl, sizeof(cl)))
                body_len = strtoul(cl, NULL, 10);
        if (res->status == 100 || res->status == 204)
                body_len = 0;
        while (rd->len < head_len + body_len)
                if (fill(rd, deadline) <= 0)
                        return -1;
        res->body = malloc(body_len + 1);
        if (!res->body)
                return -1;
        memcpy(res->body, rd->buf + head_len, body_len);
        res->body[body_len] = '\0';
        res->body_len = body_len;
        memmove(rd->buf, rd->buf + head_len + body_len, rd->len - head_len - body_len);
        rd->len -= head_len + body_len;
        return 0;
}

void raw_res_free(struct raw_res *res)
{
        free(res->body);
        res->body = NULL;
}

bool raw_wait_closed(int fd, int64_t timeout_ms)
{
        int64_t deadline = now_ms() + timeout_ms;
        char scratch[4096];

        for (;;) {
                struct pollfd p = {fd, POLLIN, 0};
                int64_t left = deadline - now_ms();
                ssize_t n;

                if (left <= 0 || poll(&p, 1, (int)left) != 1)
                        return false;
                n = recv(fd, scratch, sizeof(scratch), 0);
                if (n <= 0)
                        return true;
        }
}

long raw_rss_kib(int pid)
{
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}
