/*
 * jw.h: a streaming JSON writer into a bounded struct buf. The server builds
 * every answer with it so stored JSON texts (payloads, results, attempt logs)
 * are embedded as they are with jw_raw, never parsed and printed again. Errors
 * are sticky: the first failed append is kept in w->err and later calls do
 * nothing, so callers check once at the end.
 */
#ifndef BATON_COMMON_JW_H
#define BATON_COMMON_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define JW_DEPTH_MAX 32

struct jw {
        struct buf *b;
        int depth;
        int err;
        bool first[JW_DEPTH_MAX];
        bool after_key;
};

void jw_init(struct jw *w, struct buf *b);
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s); /* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
/* Room for an int64 in decimal: a sign, 19 digits and a NUL. */
#define JW_I64_LEN 21
/* Writes v in decimal (as "%lld" does) into out; returns its length. */
size_t jw_fmt_i64(int64_t v, char out[JW_I64_LEN]);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
void jw_raw(struct jw *w, const char *json); /* a JSON text as is; NULL writes null */
void jw_time_ms(struct jw *w, int64_t ms);   /* RFC 3339 UTC with ms; 0 writes null */

void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_kint(struct jw *w, const char *k, int64_t v);
void jw_kbool(struct jw *w, const char *k, bool v);
void jw_kraw(struct jw *w, const char *k, const char *json);
void jw_ktime(struct jw *w, const char *k, int64_t ms);

/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 32 bytes). */
void time_format_ms(int64_t ms, char *out, size_t out_len);
/* Parses an RFC 3339 date-time (any offset, optional fraction) to ms since the epoch. */
int time_parse_ms(const char *s, int64_t *ms_out);

#endif
