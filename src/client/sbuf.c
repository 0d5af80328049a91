/*
 * sbuf.c: the growable string builder of libbaton and the few JSON writing
 * helpers requests need. Requests are small and built once per call into a
 * buffer the client keeps, so the builder grows geometrically and never
 * shrinks; a hard cap turns runaway input into BATON_ETOOBIG.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

void sbuf_init(struct sbuf *b, size_t max)
{
        b->p = NULL;
        b->len = 0;
        b->cap = 0;
        b->max = max;
}

void sbuf_free(struct sbuf *b)
{
        free(b->p);
        b->p = NULL;
        b->len = 0;
        b->cap = 0;
}

void sbuf_reset(struct sbuf *b)
{
        b->len = 0;
        if (b->p)
                b->p[0] = '\0';
}

/* Makes room for n more bytes plus the terminator. */
static int reserve(struct sbuf *b, size_t n)
{
        size_t need, cap;
        char *p;

        if (n > b->max || b->len > b->max - n)
                return BATON_ETOOBIG;
        need = b->len + n + 1;
        if (need <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 256;
        while (cap < need)
                cap *= 2;
        p = realloc(b->p, cap);
        if (!p)
                return BATON_ENOMEM;
        b->p = p;
        b->cap = cap;
        return 0;
}

int sbuf_add(struct sbuf *b, const void *p, size_t n)
{
        int rc = reserve(b, n);

        if (rc)
                return rc;
        if (n)
                memcpy(b->p + b->len, p, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
}

int sbuf_adds(struct sbuf *b, const char *s)
{
        return sbuf_add(b, s, strlen(s));
}

int sbuf_addc(struct sbuf *b, char c)
{
        return sbuf_add(b, &c, 1);
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
        va_list ap;
        int n, rc;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return BATON_EINVAL;
        rc = reserve(b, (size_t)n);
        if (rc)
                return rc;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return 0;
}

int sbuf_json_str(struct sbuf *b, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *)s;
        const unsigned char *run = p;
        int rc;

        rc = sbuf_addc(b, '"');
        /* Copy runs of plain bytes at once; escape quotes, backslashes and control
         * characters. Bytes >= 0x80 pass through: the text is taken to be UTF-8. */
        for (; *p; p++) {
                char esc[7];
                size_t esc_len = 2;

                if (*p >= 0x20 && *p != '"' && *p != '\\')
                        continue;
                if (rc == 0)
                        rc = sbuf_add(b, run, (size_t)(p - run));
                esc[0] = '\\';
                switch (*p) {
                case '"':
                        esc[1] = '"';
                        break;
                case '\\':
                        esc[1] = '\\';
                        break;
                case '\n':
                        esc[1] = 'n';
                        break;
                case '\r':
                        esc[1] = 'r';
                        break;
                case '\t':
                        esc[1] = 't';
                        break;
                default:
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hex[*p >> 4];
                        esc[5] = hex[*p & 15];
                        esc_len = 6;
                        break;
                }
                if (rc == 0)
                        rc = sbuf_add(b, esc, esc_len);
                run = p + 1;
        }
        if (rc == 0)
                rc = sbuf_add(b, run, (size_t)(p - run));
        if (rc == 0)
                rc = sbuf_addc(b, '"');
        return rc;
}

int sbuf_url_escape(struct sbuf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        int rc = 0;

        for (; *s && rc == 0; s++) {
                unsigned char ch = (unsigned char)*s;

                /* RFC 3986 unreserved characters (and ':', legal in a path segment and
                 * common in queue names) go as they are; everything else is encoded. */
                if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
                    ch == ':') {
                        rc = sbuf_addc(b, (char)ch);
                } else {
                        char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};

                        rc = sbuf_add(b, enc, 3);
                }
        }
        return rc;
}

int jo_sep(struct sbuf *b)
{
        char last = b->len ? b->p[b->len - 1] : '{';

        if (last == '{' || last == '[')
                return 0;
        return sbuf_addc(b, ',');
}

/* Writes the separator and "key": */
static int key(struct sbuf *b, const char *k)
{
        int rc = jo_sep(b);

        if (rc == 0)
                rc = sbuf_json_str(b, k);
        if (rc == 0)
                rc = sbuf_addc(b, ':');
        return rc;
}

int jo_str(struct sbuf *b, const char *k, const char *v)
{
        int rc = key(b, k);

        return rc ? rc : sbuf_json_str(b, v);
}

int jo_i64(struct sbuf *b, const char *k, int64_t v)
{
        int rc = key(b, k);

        return rc ? rc : sbuf_printf(b, "%lld", (long long)v);
}

int jo_bool(struct sbuf *b, const char *k, bool v)
{
        int rc = key(b, k);

        return rc ? rc : sbuf_adds(b, v ? "true" : "false");
}

int jo_raw(struct sbuf *b, const char *k, const char *v)
{
        int rc = key(b, k);

        return rc ? rc : sbuf_adds(b, v);
}
