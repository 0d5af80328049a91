/*
 * buf.c: bounded growable buffer. Growth doubles capacity; every append checks
 * the hard cap first so a failed append changes nothing.
 */
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"

void buf_init(struct buf *b, size_t max)
{
        b->ptr = NULL;
        b->len = 0;
        b->cap = 0;
        b->max = max;
}

void buf_free(struct buf *b)
{
        free(b->ptr);
        b->ptr = NULL;
        b->len = 0;
        b->cap = 0;
}

void buf_reset(struct buf *b)
{
        b->len = 0;
        if (b->ptr)
                b->ptr[0] = 0;
}

static int grow(struct buf *b, size_t need)
{
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        if (need > b->max)
                return BATON_ETOOBIG;
        while (cap < need + 1)
                cap *= 2;
        if (cap == b->cap)
                return 0;
        p = realloc(b->ptr, cap);
        if (!p)
                return BATON_ENOMEM;
        b->ptr = p;
        b->cap = cap;
        return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
        int rc;

        if (b->len + n + 1 > b->cap || !b->ptr) {
                rc = grow(b, b->len + n);
                if (rc)
                        return rc;
        } else if (b->len + n > b->max) {
                return BATON_ETOOBIG;
        }
        if (n)
                memcpy(b->ptr + b->len, p, n);
        b->len += n;
        b->ptr[b->len] = 0;
        return 0;
}

int buf_adds(struct buf *b, const char *s)
{
        return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
        return buf_add(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
        char small[256];
        va_list cp;
        int n;
        int rc;
        char *big;

        va_copy(cp, ap);
        n = vsnprintf(small, sizeof(small), fmt, cp);
        va_end(cp);
        if (n < 0)
                return BATON_EINVAL;
        if ((size_t)n < sizeof(small))
                return buf_add(b, small, (size_t)n);
        big = malloc((size_t)n + 1);
        if (!big)
                return BATON_ENOMEM;
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        rc = buf_add(b, big, (size_t)n);
        free(big);
        return rc;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
        va_list ap;
        int rc;

        va_start(ap, fmt);
        rc = buf_vprintf(b, fmt, ap);
        va_end(ap);
        return rc;
}

char *buf_take(struct buf *b)
{
        char *p = b->ptr;

        if (!p)
                p = calloc(1, 1);
        b->ptr = NULL;
        b->len = 0;
        b->cap = 0;
        return p;
}
