/*
 * http_parse.c: the request parser of http_parse.h. Workload: every request
 * head and chunked body batond reads, on the loop thread, so it makes one pass
 * over the bytes and allocates nothing. Assumptions: the caller bounds the
 * head's size before calling (http_head_end scans at most what it was given)
 * and keeps the head's bytes alive while it uses the parsed pointers.
 */
#include "server/http_parse.h"

#include <string.h>
#include <strings.h>

#include "common/assert.h"

#define CHUNK_DIGITS_MAX 15 /* 2^60 bytes: far past any body limit, no overflow */
#define CHUNK_LINE_MAX 4096 /* size line with extensions, or one trailer line */
#define TRAILERS_MAX 16384

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LF };

size_t http_head_end(const char *buf, size_t len)
{
        size_t i = 0;

        /* RFC 9112 §2.2: empty lines before a request line are ignored. */
        while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n')
                i += 2;
        for (; i + 3 < len; i++) {
                const char *p = memchr(buf + i, '\r', len - i - 3);

                if (!p)
                        return 0;
                i = (size_t)(p - buf);
                if (p[1] == '\n' && p[2] == '\r' && p[3] == '\n')
                        return i + 4;
        }
        return 0;
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                return true;
        return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int method_of(const char *m)
{
        static const struct {
                const char *name;
                int bit;
        } tab[] = {{"GET", HTTP_GET},        {"POST", HTTP_POST},   {"PUT", HTTP_PUT},
                   {"DELETE", HTTP_DELETE},  {"PATCH", HTTP_PATCH}, {"HEAD", HTTP_HEAD},
                   {"OPTIONS", HTTP_OPTIONS}};

        for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
                if (strcmp(m, tab[i].name) == 0)
                        return tab[i].bit;
        return HTTP_OTHER;
}

/* Cuts the next line (ending in CRLF) off *p, which must stay inside end.
 * Returns the line, NUL-terminated, or NULL when a bare CR or LF is found. */
static char *next_line(char **p, char *end)
{
        char *s = *p, *q = s;

        while (q < end && *q != '\r' && *q != '\n')
                q++;
        if (q + 1 >= end || q[0] != '\r' || q[1] != '\n')
                return NULL;
        *q = '\0';
        *p = q + 2;
        return s;
}

/* "GET /path?q HTTP/1.1" */
static int parse_request_line(char *line, struct http_head *h)
{
        char *sp1 = strchr(line, ' '), *sp2, *target, *q;

        if (!sp1 || sp1 == line)
                return HTTP_PERR_LINE;
        *sp1 = '\0';
        for (const char *m = line; *m; m++)
                if (!is_tchar((unsigned char)*m))
                        return HTTP_PERR_LINE;
        target = sp1 + 1;
        sp2 = strchr(target, ' ');
        if (!sp2 || sp2 == target || strchr(sp2 + 1, ' '))
                return HTTP_PERR_LINE;
        *sp2 = '\0';
        if (strncmp(sp2 + 1, "HTTP/", 5) != 0)
                return HTTP_PERR_LINE;
        if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
                h->minor = 1;
        else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
                h->minor = 0;
        else
                return HTTP_PERR_VERSION;
        for (const char *t = target; *t; t++)
                if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
                        return HTTP_PERR_TARGET;
        /* absolute-form (RFC 9112 §3.2.2): the path starts after the authority. */
        if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
                char *slash = strchr(strstr(target, "//") + 2, '/');
                if (!slash)
                        return HTTP_PERR_TARGET;
                target = slash;
        }
        if (target[0] != '/')
                return HTTP_PERR_TARGET;
        q = strchr(target, '?');
        if (q)
                *q++ = '\0';
        if (strchr(target, '#') || (q && strchr(q, '#')))
                return HTTP_PERR_TARGET;
        h->method_name = line;
        h->method = method_of(line);
        h->path = target;
        h->query = q;
        return 0;
}

/* Content-Length: 1*DIGIT, nothing else (no sign, no list, no blanks inside). */
static int parse_length(const char *v, int64_t *out)
{
        int64_t n = 0;

        if (!*v)
                return -1;
        for (; *v; v++) {
                if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10)
                        return -1;
                n = n * 10 + (*v - '0');
        }
        *out = n;
        return 0;
}

/* Does a comma list contain token (case-insensitive)? */
static bool list_has(const char *v, const char *token)
{
        size_t n = strlen(token);

        while (*v) {
                while (*v == ' ' || *v == '\t' || *v == ',')
                        v++;
                if (strncasecmp(v, token, n) == 0 &&
                    (v[n] == '\0' || v[n] == ',' || v[n] == ' ' || v[n] == '\t'))
                        return true;
                while (*v && *v != ',')
                        v++;
        }
        return false;
}

/* "Name: value": the name a token right before the colon, the value with
 * blanks around it removed and no control character but HTAB inside. */
static int parse_header(char *line, struct http_hdr *out)
{
        char *colon = strchr(line, ':'), *v, *e;

        if (!colon || colon == line)
                return HTTP_PERR_HEADER;
        for (char *n = line; n < colon; n++)
                if (!is_tchar((unsigned char)*n))
                        return HTTP_PERR_HEADER;
        *colon = '\0';
        v = colon + 1;
        while (*v == ' ' || *v == '\t')
                v++;
        e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                *--e = '\0';
        for (const char *c = v; *c; c++)
                if (((unsigned char)*c < 0x20 && *c != '\t') || (unsigned char)*c == 0x7f)
                        return HTTP_PERR_HEADER;
        out->name = line;
        out->value = v;
        return 0;
}

/* The headers with a meaning for framing or for us, checked once each. */
static int apply_header(struct http_head *h, const struct http_hdr *hd, int *hosts, int *auths)
{
        if (strcasecmp(hd->name, "Content-Length") == 0) {
                if (h->content_length >= 0 || parse_length(hd->value, &h->content_length) != 0)
                        return HTTP_PERR_LENGTH;
        } else if (strcasecmp(hd->name, "Transfer-Encoding") == 0) {
                if (h->chunked || strcasecmp(hd->value, "chunked") != 0)
                        return HTTP_PERR_TE;
                h->chunked = true;
        } else if (strcasecmp(hd->name, "Host") == 0) {
                (*hosts)++;
        } else if (strcasecmp(hd->name, "Authorization") == 0) {
                if (++*auths > 1)
                        return HTTP_PERR_DUP_AUTH;
        } else if (strcasecmp(hd->name, "Connection") == 0) {
                if (list_has(hd->value, "close"))
                        h->keep_alive = false;
                else if (list_has(hd->value, "keep-alive"))
                        h->keep_alive = true;
        } else if (strcasecmp(hd->name, "Expect") == 0) {
                if (strcasecmp(hd->value, "100-continue") != 0)
                        return HTTP_PERR_EXPECT;
                h->expect_continue = h->minor >= 1;
        }
        return 0;
}

int http_parse_head(char *buf, size_t len, struct http_head *h)
{
        char *p = buf, *end = buf + len, *line;
        int rc, hosts = 0, auths = 0;

        memset(h, 0, sizeof(*h));
        h->content_length = -1;
        /* A NUL would end a C string early and hide what follows it from
         * every check below ("Bearer <key>\0garbage"). */
        if (memchr(buf, '\0', len))
                return HTTP_PERR_HEADER;
        while (p + 1 < end && p[0] == '\r' && p[1] == '\n')
                p += 2;
        line = next_line(&p, end);
        if (!line)
                return HTTP_PERR_LINE;
        rc = parse_request_line(line, h);
        if (rc)
                return rc;
        h->keep_alive = h->minor >= 1;
        for (;;) {
                line = next_line(&p, end);
                if (!line)
                        return HTTP_PERR_HEADER;
                if (!*line)
                        break;
                if (*line == ' ' || *line == '\t') /* obs-fold */
                        return HTTP_PERR_HEADER;
                if (h->nhdrs == HTTP_HDRS_MAX)
                        return HTTP_PERR_TOO_MANY;
                rc = parse_header(line, &h->hdrs[h->nhdrs]);
                if (!rc)
                        rc = apply_header(h, &h->hdrs[h->nhdrs], &hosts, &auths);
                if (rc)
                        return rc;
                h->nhdrs++;
        }
        if (h->chunked && h->content_length >= 0)
                return HTTP_PERR_TE;
        if (h->chunked && h->minor == 0)
                return HTTP_PERR_TE;
        if (h->minor >= 1 && hosts != 1)
                return HTTP_PERR_HOST;
        if (hosts > 1)
                return HTTP_PERR_HOST;
        return 0;
}

const char *http_head_get(const struct http_head *h, const char *name)
{
        for (int i = 0; i < h->nhdrs; i++)
                if (strcasecmp(h->hdrs[i].name, name) == 0)
                        return h->hdrs[i].value;
        return NULL;
}

static int hex_val(unsigned char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* One byte of the size line, extension or trailer part. Returns 1 when the
 * body ended, 0 to go on, -1 when malformed. */
static int chunk_meta(struct http_chunked *st, unsigned char c)
{
        if (++st->line > CHUNK_LINE_MAX)
                return -1;
        switch (st->state) {
        case CH_SIZE:
                if (hex_val(c) >= 0) {
                        if (++st->digits > CHUNK_DIGITS_MAX)
                                return -1;
                        st->left = st->left * 16 + (uint64_t)hex_val(c);
                        return 0;
                }
                if (st->digits == 0)
                        return -1;
                if (c == ';' || c == ' ' || c == '\t') {
                        st->state = CH_EXT;
                        return 0;
                }
                if (c != '\r')
                        return -1;
                st->state = CH_SIZE_LF;
                return 0;
        case CH_EXT:
                if (c == '\r')
                        st->state = CH_SIZE_LF;
                else if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f)
                        return -1;
                return 0;
        case CH_SIZE_LF:
                if (c != '\n')
                        return -1;
                st->line = 0;
                st->state = st->left ? CH_DATA : CH_TRAILER;
                return 0;
        case CH_DATA_CR:
                if (c != '\r')
                        return -1;
                st->state = CH_DATA_LF;
                return 0;
        case CH_DATA_LF:
                if (c != '\n')
                        return -1;
                st->state = CH_SIZE;
                st->line = 0;
                st->digits = 0;
                return 0;
        case CH_TRAILER:
                if (++st->trailers > TRAILERS_MAX)
                        return -1;
                if (c == '\r') {
                        st->state = CH_TRAILER_LF;
                        return 0;
                }
                if (c == '\n' || c == 0)
                        return -1;
                return 0;
        case CH_TRAILER_LF:
                if (c != '\n')
                        return -1;
                /* An empty line ends the trailers, and the body. */
                if (st->line == 2)
                        return 1;
                st->line = 0;
                st->state = CH_TRAILER;
                return 0;
        default:
                return -1;
        }
}

int http_chunked_step(struct http_chunked *st, const char *in, size_t len, char *out,
                      size_t *out_len, size_t out_cap, size_t *used)
{
        size_t i = 0;
        int rc = 0;

        while (i < len) {
                if (st->state == CH_DATA) {
                        size_t n = len - i;

                        if (n > st->left)
                                n = (size_t)st->left;
                        if (*out_len + n > out_cap) {
                                rc = -2;
                                break;
                        }
                        memcpy(out + *out_len, in + i, n);
                        *out_len += n;
                        st->left -= n;
                        i += n;
                        if (st->left == 0)
                                st->state = CH_DATA_CR;
                        continue;
                }
                if (st->state == CH_SIZE && st->digits > 0 && st->left > out_cap) {
                        rc = -2;
                        break;
                }
                rc = chunk_meta(st, (unsigned char)in[i++]);
                if (rc != 0)
                        break;
        }
        *used = i;
        return rc;
}

bool http_utf8_valid(const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *)s, *e = p + n;

        while (p < e) {
                unsigned c = *p;
                size_t k;
                unsigned cp;

                if (c < 0x80) {
                        p++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        k = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        k = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        k = 3, cp = c & 0x07;
                else
                        return false;
                if ((size_t)(e - p) <= k)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((p[j] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[j] & 0x3f);
                }
                if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
                        return false;
                p += k + 1;
        }
        return true;
}

/* Percent-decodes s[0..n) into out (NUL-terminated); plus_space turns '+'
 * into ' ' (queries). Returns the decoded length, or -1 for a malformed
 * escape, an encoded NUL or invalid UTF-8. */
static long pct_decode(const char *s, size_t n, char *out, bool plus_space)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '%') {
                        if (i + 2 >= n)
                                return -1;
                        if (hex_val((unsigned char)s[i + 1]) < 0 ||
                            hex_val((unsigned char)s[i + 2]) < 0)
                                return -1;
                        c = (unsigned char)(hex_val((unsigned char)s[i + 1]) * 16 +
                                            hex_val((unsigned char)s[i + 2]));
                        i += 2;
                } else if (c == '+' && plus_space) {
                        c = ' ';
                }
                /* A NUL would cut the name short in C and skip the check of
                 * the rest; other control characters are the handlers' to
                 * refuse with the field's own error. */
                if (c == 0)
                        return -1;
                out[o++] = (char)c;
        }
        out[o] = '\0';
        if (!http_utf8_valid(out, o))
                return -1;
        return (long)o;
}

int http_path_split(const char *path, char *out, char **segs)
{
        size_t len = strlen(path);
        int n = 0;
        const char *p = path;

        if (*p != '/')
                return -1;
        /* A trailing slash names the same resource. */
        if (len > 1 && path[len - 1] == '/')
                len--;
        while (p < path + len) {
                const char *s = p + 1, *e = memchr(s, '/', (size_t)(path + len - s));
                long dn;

                if (!e)
                        e = path + len;
                if (n == HTTP_SEGS_MAX)
                        return -1;
                dn = pct_decode(s, (size_t)(e - s), out, false);
                if (dn < 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
                        return -1;
                segs[n++] = out;
                out += dn + 1;
                p = e;
        }
        if (n == 0) /* "/" */
                segs[n++] = strcpy(out, "");
        return n;
}

int http_query_parse(char *q, struct http_arg *args)
{
        int n = 0;
        char *p = q;

        while (p && *p) {
                char *amp = strchr(p, '&'), *eq;
                long kn, vn;

                if (amp)
                        *amp = '\0';
                if (*p) {
                        if (n == HTTP_QUERY_MAX)
                                return -1;
                        eq = strchr(p, '=');
                        if (eq)
                                *eq = '\0';
                        /* Decoding never makes a string longer: in place. */
                        kn = pct_decode(p, strlen(p), p, true);
                        vn = eq ? pct_decode(eq + 1, strlen(eq + 1), eq + 1, true) : 0;
                        if (kn <= 0 || vn < 0)
                                return -1;
                        for (int i = 0; i < n; i++)
                                if (strcmp(args[i].key, p) == 0)
                                        return -1;
                        args[n].key = p;
                        args[n].value = eq ? eq + 1 : p + kn; /* "" without '=' */
                        n++;
                }
                p = amp ? amp + 1 : NULL;
        }
        return n;
}
