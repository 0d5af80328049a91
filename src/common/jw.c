/*
 * jw.c: JSON writer and RFC 3339 time helpers. Strings are escaped per RFC 8259;
 * bytes >= 0x80 pass through (inputs were validated as UTF-8 by jansson).
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

static void put(struct jw *w, const char *s, size_t n)
{
        if (w->err)
                return;
        w->err = buf_add(w->b, s, n);
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

static void escaped(struct jw *w, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t i, start = 0;
        char esc[7];

        put(w, "\"", 1);
        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                const char *rep = NULL;
                size_t rn = 2;

                if (c == '"')
                        rep = "\\\"";
                else if (c == '\\')
                        rep = "\\\\";
                else if (c == '\n')
                        rep = "\\n";
                else if (c == '\r')
                        rep = "\\r";
                else if (c == '\t')
                        rep = "\\t";
                else if (c < 0x20) {
                        esc[0] = '\\';
                        esc[1] = 'u';
                        esc[2] = '0';
                        esc[3] = '0';
                        esc[4] = hex[c >> 4];
                        esc[5] = hex[c & 15];
                        rep = esc;
                        rn = 6;
                }
                if (rep) {
                        put(w, s + start, i - start);
                        put(w, rep, rn);
                        start = i + 1;
                }
        }
        put(w, s + start, n - start);
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

void jw_int(struct jw *w, int64_t v)
{
        char tmp[24];
        int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

        sep(w);
        put(w, tmp, (size_t)n);
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

void time_format_ms(int64_t ms, char *out, size_t out_len)
{
        time_t secs = (time_t)(ms / 1000);
        int frac = (int)(ms % 1000);
        struct tm tm;

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
        jw_str(w, tmp);
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
