/*
 * buf.h: a growable byte buffer with a hard cap (after curl's dynbuf). Appends
 * past the cap fail with BATON_ETOOBIG and leave the buffer unchanged, so a
 * caller building an answer can never grow without bound. The buffer is always
 * NUL-terminated when len > 0.
 */
#ifndef BATON_COMMON_BUF_H
#define BATON_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
        char *ptr;
        size_t len;
        size_t cap;
        size_t max; /* hard cap on len */
};

void buf_init(struct buf *b, size_t max);
/* Frees the memory; the buffer can be reused after buf_init. */
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the contents to the caller (who frees them with free()) and resets b. */
char *buf_take(struct buf *b);

#endif
