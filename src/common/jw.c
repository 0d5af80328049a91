/*
 * jw.c: JSON writer and RFC 3339 time helpers. Strings are escaped per RFC 8259;
 * bytes >= 0x80 pass through (inputs were validated as UTF-8 by jansson).
 *
 * Workload: every answer, dozens of members per job, on the loop thread; so
 * numbers and times are formatted without stdio, plain runs of a string are
 * copied whole, and an append into room already there makes no call.
 */
#include "common/jw.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"

void jw_init(struct jw *w, struct buf *b)
{
        w->b = b;
        w->depth = 0;
        w->err = 0;
        w->first[0] = true;
        w->after_key = false;
}

/* Appends n bytes. The common case, room already there, is a copy and no
 * call: an answer makes dozens of small appends into a buffer that is reused
 * from one answer to the next, so it rarely grows. */
static inline void put(struct jw *w, const char *s, size_t n)
{
        struct buf *b = w->b;

        if (w->err)
                return;
        if (b->ptr && b->len + n < b->cap && b->len + n <= b->max) {
                memcpy(b->ptr + b->len, s, n);
                b->len += n;
                b->ptr[b->len] = '\0';
                return;
        }
        w->err = buf_add(b, s, n);
}

/* Writes the comma that separates values, unless a key was just written. */
static void sep(struct jw *w)
{
        if (w->after_key) {
                w->after_key = false;
                return;
        }
        if (!w->first[w->depth])
                put(w, ",", 1);
        w->first[w->depth] = false;
}

static void open(struct jw *w, char c)
{
        sep(w);
        put(w, &c, 1);
        if (w->depth + 1 >= JW_DEPTH_MAX) {
                w->err = BATON_ETOOBIG;
                return;
        }
        w->depth++;
        w->first[w->depth] = true;
}

static void close_(struct jw *w, char c)
{
        if (w->depth > 0)
                w->depth--;
        put(w, &c, 1);
}

void jw_obj_open(struct jw *w)
{
        open(w, '{');
}
void jw_obj_close(struct jw *w)
{
        close_(w, '}');
}
void jw_arr_open(struct jw *w)
{
        open(w, '[');
}
void jw_arr_close(struct jw *w)
{
        close_(w, ']');
}

/* Does byte c need an escape inside a JSON string (RFC 8259 §7)? */
static inline bool needs_escape(unsigned char c)
{
        return c < 0x20 || c == '"' || c == '\\';
}

/* The string in quotes. Runs of plain bytes (nearly every string) are copied
 * in one append; only the bytes that need it are escaped one at a time. */
static void escaped(struct jw *w, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t i = 0;

        put(w, "\"", 1);
        while (i < n) {
                size_t start = i;
                unsigned char c;
                char esc[6] = {'\\', 'u', '0', '0', 0, 0};

                while (i < n && !needs_escape((unsigned char)s[i]))
                        i++;
                put(w, s + start, i - start);
                if (i == n)
                        break;
                c = (unsigned char)s[i++];
                if (c == '"')
                        put(w, "\\\"", 2);
                else if (c == '\\')
                        put(w, "\\\\", 2);
                else if (c == '\n')
                        put(w, "\\n", 2);
                else if (c == '\r')
                        put(w, "\\r", 2);
                else if (c == '\t')
                        put(w, "\\t", 2);
                else {
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 15];
                        put(w, esc, 6);
                }
        }
        put(w, "\"", 1);
}

void jw_key(struct jw *w, const char *k)
{
        sep(w);
        escaped(w, k, strlen(k));
        put(w, ":", 1);
        w->after_key = true;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
        sep(w);
        escaped(w, s, n);
}

void jw_str(struct jw *w, const char *s)
{
        if (!s) {
                jw_null(w);
                return;
        }
        jw_strn(w, s, strlen(s));
}

size_t jw_fmt_i64(int64_t v, char out[JW_I64_LEN])
{
        char tmp[JW_I64_LEN];
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        size_t n = 0, len = 0;

        do {
                tmp[n++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                out[len++] = '-';
        while (n)
                out[len++] = tmp[--n];
        out[len] = '\0';
        return len;
}

void jw_int(struct jw *w, int64_t v)
{
        char tmp[JW_I64_LEN];
        size_t n = jw_fmt_i64(v, tmp);

        sep(w);
        put(w, tmp, n);
}

void jw_bool(struct jw *w, bool v)
{
        sep(w);
        if (v)
                put(w, "true", 4);
        else
                put(w, "false", 5);
}

void jw_null(struct jw *w)
{
        sep(w);
        put(w, "null", 4);
}

void jw_raw(struct jw *w, const char *json)
{
        if (!json) {
                jw_null(w);
                return;
        }
        sep(w);
        put(w, json, strlen(json));
}

/* The year, month and day of a count of days since 1970-01-01 (proleptic
 * Gregorian; the inverse of days_from_civil below, after H. Hinnant). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
        int64_t era, doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
}

/* Two decimal digits of v (0..99) at p. */
static void put2(char *p, int v)
{
        p[0] = (char)('0' + v / 10);
        p[1] = (char)('0' + v % 10);
}

/* Times from 1970 to the end of year 9999, every one a job can carry, are
 * written by hand (this runs several times per job in every answer); any
 * other goes through gmtime_r and snprintf, with the same output. */
#define TIME_FAST_MAX_MS 253402300800000LL /* 10000-01-01T00:00:00Z */

void time_format_ms(int64_t ms, char *out, size_t out_len)
{
        time_t secs = (time_t)(ms / 1000);
        int frac = (int)(ms % 1000);
        struct tm tm;

        if (ms >= 0 && ms < TIME_FAST_MAX_MS && out_len >= 25) {
                int64_t days = ms / 86400000, y;
                int64_t rem = (ms % 86400000) / 1000;
                int mo, d;

                civil_from_days(days, &y, &mo, &d);
                out[0] = (char)('0' + y / 1000);
                out[1] = (char)('0' + y / 100 % 10);
                put2(out + 2, (int)(y % 100));
                out[4] = '-';
                put2(out + 5, mo);
                out[7] = '-';
                put2(out + 8, d);
                out[10] = 'T';
                put2(out + 11, (int)(rem / 3600));
                out[13] = ':';
                put2(out + 14, (int)(rem / 60 % 60));
                out[16] = ':';
                put2(out + 17, (int)(rem % 60));
                out[19] = '.';
                out[20] = (char)('0' + frac / 100);
                put2(out + 21, frac % 100);
                out[23] = 'Z';
                out[24] = '\0';
                return;
        }
        if (frac < 0) {
                frac += 1000;
                secs -= 1;
        }
        gmtime_r(&secs, &tm);
        snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void jw_time_ms(struct jw *w, int64_t ms)
{
        char tmp[40];

        if (ms == 0) {
                jw_null(w);
                return;
        }
        time_format_ms(ms, tmp, sizeof(tmp));
        /* Its characters never need an escape. */
        sep(w);
        put(w, "\"", 1);
        put(w, tmp, strlen(tmp));
        put(w, "\"", 1);
}

void jw_kstr(struct jw *w, const char *k, const char *s)
{
        jw_key(w, k);
        jw_str(w, s);
}
void jw_kint(struct jw *w, const char *k, int64_t v)
{
        jw_key(w, k);
        jw_int(w, v);
}
void jw_kbool(struct jw *w, const char *k, bool v)
{
        jw_key(w, k);
        jw_bool(w, v);
}
void jw_kraw(struct jw *w, const char *k, const char *json)
{
        jw_key(w, k);
        jw_raw(w, json);
}
void jw_ktime(struct jw *w, const char *k, int64_t ms)
{
        jw_key(w, k);
        jw_time_ms(w, ms);
}

static int digits(const char **p, int n, int *out)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)**p))
                        return BATON_EINVAL;
                v = v * 10 + (**p - '0');
                (*p)++;
        }
        *out = v;
        return 0;
}

static int expect(const char **p, char c)
{
        if (**p != c)
                return BATON_EINVAL;
        (*p)++;
        return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
        int64_t era;
        int64_t yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

int time_parse_ms(const char *s, int64_t *ms_out)
{
        const char *p = s;
        int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0;
        int rc;

        rc = digits(&p, 4, &y);
        rc = rc ? rc : expect(&p, '-');
        rc = rc ? rc : digits(&p, 2, &mo);
        rc = rc ? rc : expect(&p, '-');
        rc = rc ? rc : digits(&p, 2, &d);
        if (!rc && *p != 'T' && *p != 't' && *p != ' ')
                rc = BATON_EINVAL;
        if (!rc)
                p++;
        rc = rc ? rc : digits(&p, 2, &h);
        rc = rc ? rc : expect(&p, ':');
        rc = rc ? rc : digits(&p, 2, &mi);
        rc = rc ? rc : expect(&p, ':');
        rc = rc ? rc : digits(&p, 2, &sec);
        if (rc)
                return rc;
        if (*p == '.') {
                int scale = 100;
                p++;
                if (!isdigit((unsigned char)*p))
                        return BATON_EINVAL;
                while (isdigit((unsigned char)*p)) {
                        ms += (*p - '0') * scale;
                        scale /= 10;
                        p++;
                }
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                sign = *p == '-' ? -1 : 1;
                p++;
                rc = digits(&p, 2, &oh);
                rc = rc ? rc : expect(&p, ':');
                rc = rc ? rc : digits(&p, 2, &om);
                if (rc)
                        return rc;
        } else {
                return BATON_EINVAL;
        }
        if (*p)
                return BATON_EINVAL;
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 23 ||
            om > 59)
                return BATON_EINVAL;
        {
                static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
                int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
                if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
                        return BATON_EINVAL;
        }
        if (sec == 60)
                sec = 59; /* a leap second is read as the last second of its minute */
        *ms_out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
                   (int64_t)sign * (oh * 3600 + om * 60)) *
                      1000 +
                  ms;
        return 0;
}
