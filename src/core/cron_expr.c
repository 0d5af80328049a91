/*
 * cron_expr.c: cron expression parsing, next fire time in local civil time,
 * never-fires detection and minimum interval. The English text about an
 * expression (its description, why it never fires) is cron_describe.c's.
 *
 * Workload: parsing runs when a schedule is saved or previewed; the next-fire
 * search runs once per tick and skips whole months, days, hours and minutes
 * through the bitsets, so its cost is a few hundred steps even for sparse
 * expressions. Never-fires and minimum-interval checks scan one 400-year
 * Gregorian cycle day by day (146097 days), which is exact because the
 * calendar (leap years and weekdays) repeats after it; they run at save time.
 *
 * Assumptions: local wall-clock time without DST (the scheduler handles zones),
 * proleptic Gregorian calendar, ASCII input.
 */
#include "core/cron_expr.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/tz.h"

#define CYCLE_YEARS 400
#define CYCLE_DAYS 146097 /* days in 400 Gregorian years: a multiple of 7 */

enum field_id { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

struct field_spec {
        const char *name;
        int lo, hi;           /* accepted values (7 = Sunday in day-of-week) */
        int hash_lo, hash_hi; /* range of a bare H: day 1-28 exists in every month */
};

static const struct field_spec fspec[F_COUNT] = {
    {"second", 0, 59, 0, 59},       {"minute", 0, 59, 0, 59}, {"hour", 0, 23, 0, 23},
    {"day-of-month", 1, 31, 1, 28}, {"month", 1, 12, 1, 12},  {"day-of-week", 0, 7, 0, 6},
};

/* ---- civil calendar (the arithmetic is common/tz.h's) ------------------ */

int cron_weekday(int year, int month, int day)
{
        return tz_weekday(tz_days_from_civil(year, month, day));
}

int64_t cron_civil_to_wall(const struct civil *c)
{
        return tz_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
               c->min * 60 + c->sec;
}

void cron_wall_to_civil(int64_t wall_s, struct civil *c)
{
        int64_t days = wall_s >= 0 ? wall_s / 86400 : -((-wall_s + 86399) / 86400);
        int64_t sod = wall_s - days * 86400, y;
        int m, d;

        tz_civil_from_days(days, &y, &m, &d);
        *c = (struct civil){(int)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60)};
}

int cron_civil_cmp(const struct civil *a, const struct civil *b)
{
        const int av[6] = {a->year, a->month, a->day, a->hour, a->min, a->sec};
        const int bv[6] = {b->year, b->month, b->day, b->hour, b->min, b->sec};

        for (int i = 0; i < 6; i++)
                if (av[i] != bv[i])
                        return av[i] < bv[i] ? -1 : 1;
        return 0;
}

uint64_t cron_seed_from_key(const char *key)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (const unsigned char *p = (const unsigned char *)key; p && *p; p++) {
                h ^= *p;
                h *= 0x100000001b3ULL;
        }
        return h;
}

/* splitmix64 finaliser: spreads nearby seeds (similar keys) over the range. */
static uint64_t mix64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

/* ---- parser ------------------------------------------------------------ */

struct pctx {
        const char *text; /* the whole expression, for columns */
        const char *p;    /* cursor */
        const char *end;  /* end of the current field */
        int field;        /* enum field_id, or -1 outside fields */
        uint64_t seed;
        unsigned hash_n; /* H occurrences so far, so two H in one field differ */
        struct cron_expr *e;
        uint64_t bits;  /* the current field's plain values */
        bool item_full; /* the last item covered the field's whole range */
        char *err;
        size_t errcap;
};

__attribute__((format(printf, 3, 4))) static int fail(struct pctx *c, const char *at,
                                                      const char *fmt, ...)
{
        char why[160];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        if (c->err && c->errcap) {
                if (c->field >= 0)
                        snprintf(c->err, c->errcap, "%s field, column %d: %s", fspec[c->field].name,
                                 (int)(at - c->text) + 1, why);
                else
                        snprintf(c->err, c->errcap, "column %d: %s", (int)(at - c->text) + 1, why);
        }
        return BATON_EINVAL;
}

/* Describes the character at p for messages: "'x'" or "end of field". */
static const char *what(struct pctx *c, const char *p, char tmp[8])
{
        if (p >= c->end || !*p)
                return "end of field";
        snprintf(tmp, 8, "'%c'", *p);
        return tmp;
}

static int lookup_name(struct pctx *c, const char *s, size_t n, int *v)
{
        static const char *const mon[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
        static const char *const dow[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
        bool month = c->field == F_MON;

        if (c->field != F_MON && c->field != F_DOW)
                return fail(c, s, "names are only allowed in month and day-of-week, got '%.*s'",
                            (int)n, s);
        for (int i = 0; n == 3 && i < (month ? 12 : 7); i++)
                if (strncasecmp(s, month ? mon[i] : dow[i], 3) == 0) {
                        *v = month ? i + 1 : i;
                        return 0;
                }
        return fail(c, s, "unknown %s name '%.*s'", month ? "month" : "day", (int)n, s);
}

/* A number, or a three-letter month or day name. Checks the field's range. */
static int parse_value(struct pctx *c, int *v)
{
        const char *s = c->p;
        char tmp[8];
        int rc;

        if (c->p < c->end && isdigit((unsigned char)*c->p)) {
                long n = 0;
                /* Saturate instead of overflowing; the message quotes the digits. */
                for (; c->p < c->end && isdigit((unsigned char)*c->p); c->p++)
                        n = n < 100000 ? n * 10 + (*c->p - '0') : n;
                if (n > fspec[c->field].hi || n < fspec[c->field].lo)
                        return fail(c, s, "%.*s is out of range %d-%d", (int)(c->p - s), s,
                                    fspec[c->field].lo, fspec[c->field].hi);
                *v = (int)n;
                return 0;
        }
        if (c->p < c->end && isalpha((unsigned char)*c->p)) {
                /* Names are three letters; a suffix (FRIL, MON#2) follows directly. */
                while (c->p < c->end && isalpha((unsigned char)*c->p) && c->p - s < 3)
                        c->p++;
                rc = lookup_name(c, s, (size_t)(c->p - s), v);
                return rc;
        }
        return fail(c, s, "expected a number, got %s", what(c, s, tmp));
}

static int parse_number(struct pctx *c, int lo, int hi, const char *name, int *v)
{
        const char *s = c->p;
        char tmp[8];
        long n = 0;

        if (c->p >= c->end || !isdigit((unsigned char)*c->p))
                return fail(c, s, "expected %s, got %s", name, what(c, s, tmp));
        for (; c->p < c->end && isdigit((unsigned char)*c->p); c->p++)
                n = n < 100000 ? n * 10 + (*c->p - '0') : n;
        if (n < lo || n > hi)
                return fail(c, s, "%s %.*s is out of range %d-%d", name, (int)(c->p - s), s, lo,
                            hi);
        *v = (int)n;
        return 0;
}

static int end_item(struct pctx *c)
{
        char tmp[8];

        if (c->p < c->end && *c->p != ',')
                return fail(c, c->p, "unexpected %s", what(c, c->p, tmp));
        return 0;
}

/* L or LW in day-of-month. */
static int parse_dom_last(struct pctx *c)
{
        c->p++;
        if (c->p < c->end && (*c->p == 'W' || *c->p == 'w')) {
                c->p++;
                c->e->dom_flags |= CRON_DOM_LAST_WEEKDAY;
        } else {
                c->e->dom_flags |= CRON_DOM_LAST;
        }
        if (c->p < c->end && *c->p == '/')
                return fail(c, c->p, "L cannot take a step");
        return end_item(c);
}

/* nW (day-of-month), nL and n#k (day-of-week) after the value v. 1 when none applies. */
static int parse_suffix(struct pctx *c, int v)
{
        int k, rc;

        if (c->p >= c->end)
                return 1;
        if (c->field == F_DOM && (*c->p == 'W' || *c->p == 'w')) {
                c->p++;
                c->e->dom_w |= 1u << v;
                return end_item(c);
        }
        if (c->field == F_DOW && (*c->p == 'L' || *c->p == 'l')) {
                c->p++;
                c->e->dow_last |= (uint8_t)(1u << (v % 7));
                return end_item(c);
        }
        if (c->field == F_DOW && *c->p == '#') {
                c->p++;
                rc = parse_number(c, 1, 5, "occurrence after #", &k);
                if (rc)
                        return rc;
                c->e->dow_nth[v % 7] |= (uint8_t)(1u << k);
                return end_item(c);
        }
        return 1;
}

/* A value, then the character ch (passed over); where says where ch belongs
 * in the message when it is missing. */
static int value_then(struct pctx *c, int *v, char ch, const char *where)
{
        char tmp[8];
        int rc = parse_value(c, v);

        if (rc)
                return rc;
        if (c->p >= c->end || *c->p != ch)
                return fail(c, c->p, "expected '%c' %s, got %s", ch, where, what(c, c->p, tmp));
        c->p++;
        return 0;
}

/* H or H(a-b): the range the hash picks from. */
static int parse_hash(struct pctx *c, int *lo, int *hi)
{
        const char *open;
        int rc;

        c->p++;
        *lo = fspec[c->field].hash_lo;
        *hi = fspec[c->field].hash_hi;
        if (c->p >= c->end || *c->p != '(')
                return 0;
        open = c->p++;
        rc = value_then(c, lo, '-', "in H(a-b)");
        if (!rc)
                rc = value_then(c, hi, ')', "to close H(");
        if (rc)
                return rc;
        if (*lo > *hi)
                return fail(c, open, "range %d-%d is backwards", *lo, *hi);
        return 0;
}

static uint64_t next_hash(struct pctx *c)
{
        c->hash_n++;
        return mix64(c->seed ^ mix64(((uint64_t)c->field << 32) | c->hash_n));
}

static void set_range(struct pctx *c, int lo, int hi, int step)
{
        for (int v = lo; v <= hi; v += step)
                c->bits |= 1ULL << (c->field == F_DOW ? v % 7 : v);
}

/* The base of an item: *, ?, H, L, a value with a suffix, a value or a range.
 * Sets *lo, *hi; *single when a lone value (a step then runs to the field's end);
 * returns 1 when a suffix form consumed the whole item. */
static int parse_base(struct pctx *c, int *lo, int *hi, bool *single, bool *hash)
{
        const struct field_spec *fs = &fspec[c->field];
        char ch = *c->p;
        int rc;

        if (ch == '*' || ch == '?') {
                if (ch == '?' && c->field != F_DOM && c->field != F_DOW)
                        return fail(c, c->p, "'?' is only allowed in day-of-month and day-of-week");
                c->p++;
                *lo = fs->lo;
                *hi = c->field == F_DOW ? 6 : fs->hi;
                return 0;
        }
        if (ch == 'H' || ch == 'h') {
                *hash = true;
                return parse_hash(c, lo, hi);
        }
        if (c->field == F_DOM && (ch == 'L' || ch == 'l')) {
                rc = parse_dom_last(c);
                return rc ? rc : 1;
        }
        if (c->field == F_DOW && (ch == 'L' || ch == 'l'))
                return fail(c, c->p, "L in day-of-week needs a day before it, e.g. 5L or FRIL");
        rc = parse_value(c, lo);
        if (rc)
                return rc;
        rc = parse_suffix(c, *lo);
        if (rc <= 0)
                return rc ? rc : 1;
        *hi = *lo;
        *single = true;
        if (c->p < c->end && *c->p == '-') {
                const char *dash = c->p++;
                *single = false;
                rc = parse_value(c, hi);
                if (rc)
                        return rc;
                if (*hi < *lo)
                        return fail(c, dash, "range %d-%d is backwards", *lo, *hi);
        }
        return 0;
}

static int parse_item(struct pctx *c)
{
        const struct field_spec *fs = &fspec[c->field];
        int lo = 0, hi = 0, step = 0, rc;
        bool single = false, hash = false;
        uint64_t h;

        if (c->p >= c->end || *c->p == ',')
                return fail(c, c->p, "empty list item");
        rc = parse_base(c, &lo, &hi, &single, &hash);
        if (rc)
                return rc < 0 ? rc : 0;
        if (c->p < c->end && *c->p == '/') {
                c->p++;
                rc = parse_number(c, 1, fs->hi - fs->lo + 1, "step", &step);
                if (rc)
                        return rc;
                if (single)
                        hi = c->field == F_DOW ? 6 : fs->hi;
        }
        c->item_full = (lo == fs->lo && hi >= fs->hi - (c->field == F_DOW)) && (step > 0 || !hash);
        if (hash) {
                /* A hashed start stays within the first step so every step still fires. */
                int span = hi - lo + 1;
                h = next_hash(c);
                lo += (int)(h % (uint64_t)(step > 0 && step < span ? step : span));
                if (step == 0)
                        hi = lo;
        }
        set_range(c, lo, hi, step > 0 ? step : 1);
        return end_item(c);
}

static void store_field(struct pctx *c, const char *s, size_t n, int nitems)
{
        struct cron_expr *e = c->e;
        bool star = n == 1 && (*s == '*' || *s == '?');

        switch (c->field) {
        case F_SEC:
                e->seconds = c->bits;
                break;
        case F_MIN:
                e->minutes = c->bits;
                break;
        case F_HOUR:
                e->hours = (uint32_t)c->bits;
                e->hour_wild = nitems == 1 && c->item_full;
                break;
        case F_DOM:
                e->dom = (uint32_t)c->bits;
                e->dom_star = star;
                break;
        case F_MON:
                e->months = (uint16_t)c->bits;
                break;
        default:
                e->dow = (uint8_t)c->bits;
                e->dow_star = star;
                break;
        }
}

static int parse_field(struct pctx *c, int field, const char *s, size_t n)
{
        int rc, nitems = 0;

        c->field = field;
        c->p = s;
        c->end = s + n;
        c->bits = 0;
        c->hash_n = 0;
        for (;;) {
                rc = parse_item(c);
                if (rc)
                        return rc;
                nitems++;
                if (c->p >= c->end)
                        break;
                c->p++; /* ',' */
                if (c->p >= c->end)
                        return fail(c, c->p, "empty list item");
        }
        store_field(c, s, n, nitems);
        return 0;
}

/* One unit of a duration: its length in seconds and its rank (d > h > m > s),
 * which must fall from one unit to the next so "1h30m" reads one way only. */
static int duration_unit(struct pctx *c, char u, int64_t *mult, int *rank)
{
        switch (tolower((unsigned char)u)) {
        case 'd':
                *mult = 86400;
                *rank = 4;
                return 0;
        case 'h':
                *mult = 3600;
                *rank = 3;
                return 0;
        case 'm':
                *mult = 60;
                *rank = 2;
                return 0;
        case 's':
                *mult = 1;
                *rank = 1;
                return 0;
        default:
                return fail(c, c->p, "unknown unit '%c' (use s, m, h or d)", u);
        }
}

static int parse_duration(struct pctx *c, int64_t *total_s)
{
        const char *num;
        char tmp[8];
        int64_t n, mult = 0;
        int rank = 0, last_rank = 5, rc;

        *total_s = 0;
        if (c->p >= c->end)
                return fail(c, c->p, "@every needs a duration, e.g. @every 90s or @every 1h30m");
        while (c->p < c->end) {
                num = c->p;
                n = 0;
                if (!isdigit((unsigned char)*c->p))
                        return fail(c, c->p, "expected a number, got %s", what(c, c->p, tmp));
                while (c->p < c->end && isdigit((unsigned char)*c->p) && n <= CRON_EVERY_MAX_S)
                        n = n * 10 + (*c->p++ - '0');
                if (n > CRON_EVERY_MAX_S)
                        return fail(c, num, "interval is longer than 366d");
                if (c->p < c->end && *c->p == '.')
                        return fail(c, c->p,
                                    "fractions are not supported; use a smaller unit "
                                    "(90m, not 1.5h)");
                if (c->p >= c->end)
                        return fail(c, c->p, "missing unit after %.*s (use s, m, h or d)",
                                    (int)(c->p - num), num);
                if ((*c->p == 'm' || *c->p == 'M') && c->p + 1 < c->end &&
                    (c->p[1] == 's' || c->p[1] == 'S'))
                        return fail(c, c->p, "unit ms is not supported; the smallest unit is s");
                rc = duration_unit(c, *c->p, &mult, &rank);
                if (rc)
                        return rc;
                if (rank >= last_rank)
                        return fail(c, c->p,
                                    "unit '%c' repeated or out of order (write d, h, "
                                    "m, s in that order, e.g. 1h30m)",
                                    *c->p);
                last_rank = rank;
                c->p++;
                *total_s += n * mult;
                if (*total_s > CRON_EVERY_MAX_S)
                        return fail(c, num, "interval is longer than 366d");
        }
        if (*total_s < 1)
                return fail(c, c->end, "interval must be at least 1s");
        return 0;
}

static int parse_every(struct pctx *c, const char *rest)
{
        int64_t s;
        int rc;

        if (*rest != ' ' && *rest != '\t')
                return fail(c, rest, "@every needs a duration, e.g. @every 90s or @every 1h30m");
        while (*rest == ' ' || *rest == '\t')
                rest++;
        c->p = rest;
        c->end = rest + strcspn(rest, " \t");
        if (c->end[strspn(c->end, " \t")])
                return fail(c, c->end + strspn(c->end, " \t"),
                            "unexpected text after the duration");
        rc = parse_duration(c, &s);
        if (rc)
                return rc;
        c->e->every_ms = s * 1000;
        c->e->every_days = s % 86400 == 0;
        c->e->hour_wild = true;
        return 0;
}

static int parse_fields(struct pctx *c, const char *text);

static int parse_macro(struct pctx *c, const char *s)
{
        static const char *const macros[][2] = {
            {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
            {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
            {"@hourly", "0 * * * *"},
        };
        size_t n = strcspn(s, " \t");
        const char *rest = s + n;

        if (n == 6 && strncasecmp(s, "@every", 6) == 0)
                return parse_every(c, rest);
        if (rest[strspn(rest, " \t")])
                return fail(c, rest + strspn(rest, " \t"), "unexpected text after %.*s", (int)n, s);
        for (size_t i = 0; i < BATON_ARRAY_LEN(macros); i++)
                if (strlen(macros[i][0]) == n && strncasecmp(s, macros[i][0], n) == 0)
                        return parse_fields(c, macros[i][1]);
        if (n == 7 && strncasecmp(s, "@reboot", 7) == 0)
                return fail(c, s, "@reboot is not supported");
        return fail(c, s,
                    "unknown macro '%.*s' (use @yearly, @annually, @monthly, @weekly, "
                    "@daily, @midnight, @hourly or @every)",
                    (int)n, s);
}

static int parse_fields(struct pctx *c, const char *text)
{
        const char *start[7], *p = text;
        size_t len[7];
        int n = 0, rc, first;

        c->text = text;
        while (*p) {
                p += strspn(p, " \t");
                if (!*p)
                        break;
                /* Keep counting past six so the message gives the real count. */
                if (n < 7) {
                        start[n] = p;
                        len[n] = strcspn(p, " \t");
                }
                p += strcspn(p, " \t");
                n++;
        }
        if (n != 5 && n != 6)
                return fail(c, text, "expected 5 or 6 fields (or a macro such as @daily), got %d",
                            n);
        c->e->has_seconds = n == 6;
        c->e->seconds = 1; /* second 0 when there is no seconds field */
        first = n == 6 ? F_SEC : F_MIN;
        for (int i = 0; i < n; i++) {
                rc = parse_field(c, first + i, start[i], len[i]);
                if (rc)
                        return rc;
        }
        c->field = -1;
        return 0;
}

int cron_parse(const char *text, uint64_t seed, struct cron_expr *out, char *err, size_t errcap)
{
        struct pctx c = {.text = text, .field = -1, .seed = seed, .err = err, .errcap = errcap};
        struct cron_expr e;
        const char *s;
        int rc;

        memset(&e, 0, sizeof(e));
        c.e = &e;
        if (err && errcap)
                err[0] = 0;
        if (!text || !out) {
                if (err && errcap)
                        snprintf(err, errcap, "no expression");
                return BATON_EINVAL;
        }
        if (strlen(text) > CRON_TEXT_MAX)
                return fail(&c, text, "expression is longer than %d bytes", CRON_TEXT_MAX);
        s = text + strspn(text, " \t");
        if (*s == '@')
                rc = parse_macro(&c, s);
        else
                rc = parse_fields(&c, text);
        if (rc)
                return rc;
        *out = e;
        return 0;
}

/* ---- matching and the next fire ------------------------------------------ */

/* The Monday-Friday nearest day d, never leaving the month (1W on a Saturday
 * the 1st is Monday the 3rd, not Friday in the month before). */
static int nearest_weekday(int y, int m, int d, int dim)
{
        int wd = cron_weekday(y, m, d);

        if (wd == 6)
                return d == 1 ? 3 : d - 1;
        if (wd == 0)
                return d == dim ? d - 2 : d + 1;
        return d;
}

static bool dom_matches(const struct cron_expr *e, int y, int m, int d, int dim, int wd)
{
        if (e->dom & (1u << d))
                return true;
        if ((e->dom_flags & CRON_DOM_LAST) && d == dim)
                return true;
        if ((e->dom_flags & CRON_DOM_LAST_WEEKDAY) && d == nearest_weekday(y, m, dim, dim))
                return true;
        if (!e->dom_w || wd == 0 || wd == 6)
                return false;
        /* A W day moves at most two days (1W -> 3rd, 31W -> 29th). */
        for (int w = d - 2 < 1 ? 1 : d - 2; w <= d + 2 && w <= dim; w++)
                if ((e->dom_w & (1u << w)) && nearest_weekday(y, m, w, dim) == d)
                        return true;
        return false;
}

static bool dow_matches(const struct cron_expr *e, int d, int dim, int wd)
{
        if (e->dow & (1u << wd))
                return true;
        if ((e->dow_last & (1u << wd)) && d + 7 > dim)
                return true;
        return (e->dow_nth[wd] >> ((d - 1) / 7 + 1)) & 1;
}

/* Vixie cron: when both day fields restrict, either may match. */
static bool day_matches(const struct cron_expr *e, int y, int m, int d)
{
        int dim = tz_days_in_month(y, m);
        int wd = cron_weekday(y, m, d);

        if (e->dom_star && e->dow_star)
                return true;
        if (e->dom_star)
                return dow_matches(e, d, dim, wd);
        if (e->dow_star)
                return dom_matches(e, y, m, d, dim, wd);
        return dom_matches(e, y, m, d, dim, wd) || dow_matches(e, d, dim, wd);
}

int cron_next_bit(uint64_t bits, int from, int max)
{
        for (int i = from; i <= max; i++)
                if ((bits >> i) & 1)
                        return i;
        return -1;
}

static bool civil_valid(const struct civil *c)
{
        return c->year >= 1 && c->year <= 99999 && c->month >= 1 && c->month <= 12 && c->day >= 1 &&
               c->day <= tz_days_in_month(c->year, c->month) && c->hour >= 0 && c->hour <= 23 &&
               c->min >= 0 && c->min <= 59 && c->sec >= 0 && c->sec <= 59;
}

static void civil_add_seconds(struct civil *c, int64_t s)
{
        cron_wall_to_civil(cron_civil_to_wall(c) + s, c);
}

static void next_day(struct civil *c)
{
        if (++c->day > tz_days_in_month(c->year, c->month)) {
                c->day = 1;
                if (++c->month > 12) {
                        c->month = 1;
                        c->year++;
                }
        }
        c->hour = c->min = c->sec = 0;
}

/* One step of the search: moves *c to the next candidate; 1 when *c matches. */
static int search_step(const struct cron_expr *e, struct civil *c)
{
        int v = cron_next_bit(e->months, c->month, 12);

        if (v < 0) {
                *c = (struct civil){c->year + 1, 1, 1, 0, 0, 0};
                return 0;
        }
        if (v != c->month) {
                *c = (struct civil){c->year, v, 1, 0, 0, 0};
                return 0;
        }
        if (!day_matches(e, c->year, c->month, c->day) ||
            (v = cron_next_bit(e->hours, c->hour, 23)) < 0) {
                next_day(c);
                return 0;
        }
        if (v != c->hour)
                *c = (struct civil){c->year, c->month, c->day, v, 0, 0};
        if ((v = cron_next_bit(e->minutes, c->min, 59)) < 0) {
                c->min = 59;
                c->sec = 59;
                civil_add_seconds(c, 1);
                return 0;
        }
        if (v != c->min) {
                c->min = v;
                c->sec = 0;
        }
        if ((v = cron_next_bit(e->seconds, c->sec, 59)) < 0) {
                c->sec = 59;
                civil_add_seconds(c, 1);
                return 0;
        }
        c->sec = v;
        return 1;
}

int cron_next_local(const struct cron_expr *e, const struct civil *after, struct civil *out)
{
        struct civil c;
        int limit;

        if (!e || !after || !out || !civil_valid(after))
                return BATON_EINVAL;
        c = *after;
        if (e->every_ms > 0) {
                civil_add_seconds(&c, e->every_ms / 1000);
                *out = c;
                return 0;
        }
        /* A full Gregorian cycle: if nothing matches in it, nothing ever will. */
        limit = after->year + CYCLE_YEARS;
        civil_add_seconds(&c, 1);
        while (c.year <= limit) {
                if (search_step(e, &c)) {
                        *out = c;
                        return 0;
                }
        }
        return BATON_ERANGE;
}

bool cron_hour_is_wildcard(const struct cron_expr *e)
{
        return e->hour_wild;
}

/* ---- never fires ------------------------------------------------------- */

int cron_never_fires(const struct cron_expr *e, char *err, size_t errcap)
{
        struct civil from = {1999, 12, 31, 23, 59, 59}, out;

        if (err && errcap)
                err[0] = 0;
        if (e->every_ms > 0 || cron_next_local(e, &from, &out) == 0)
                return 0;
        if (!err)
                return BATON_EINVAL;
        cron_describe_never(e, err, errcap);
        return BATON_EINVAL;
}

/* ---- minimum interval ---------------------------------------------------- */

/* First and last second of the day that fire, and the smallest gap between two
 * fires on the same day (INT64_MAX with one fire a day). */
static void day_times(const struct cron_expr *e, int64_t *first, int64_t *last, int64_t *gap)
{
        *first = *last = -1;
        *gap = INT64_MAX;
        for (int h = 0; h < 24; h++) {
                if (!((e->hours >> h) & 1))
                        continue;
                for (int m = 0; m < 60; m++) {
                        if (!((e->minutes >> m) & 1))
                                continue;
                        for (int s = 0; s < 60; s++) {
                                int64_t t = h * 3600 + m * 60 + s;
                                if (!((e->seconds >> s) & 1))
                                        continue;
                                if (*last >= 0 && t - *last < *gap)
                                        *gap = t - *last;
                                if (*first < 0)
                                        *first = t;
                                *last = t;
                        }
                }
        }
}

int cron_min_interval_s(const struct cron_expr *e, int64_t *out_s)
{
        int64_t first, last, gap, prev = -1, first_day = -1, dgap = INT64_MAX;

        if (e->every_ms > 0) {
                *out_s = e->every_ms / 1000;
                return 0;
        }
        day_times(e, &first, &last, &gap);
        if (first < 0)
                return BATON_ERANGE;
        for (int y = 2000; y < 2000 + CYCLE_YEARS; y++) {
                for (int m = cron_next_bit(e->months, 1, 12); m > 0;
                     m = cron_next_bit(e->months, m + 1, 12)) {
                        int dim = tz_days_in_month(y, m);
                        for (int d = 1; d <= dim; d++) {
                                if (!day_matches(e, y, m, d))
                                        continue;
                                int64_t idx = tz_days_from_civil(y, m, d);
                                if (prev >= 0 && idx - prev < dgap)
                                        dgap = idx - prev;
                                if (first_day < 0)
                                        first_day = idx;
                                prev = idx;
                                /* Two days in a row: no gap can be shorter,
                                 * and the rest of the cycle need not be read
                                 * (saving a schedule is on the loop thread). */
                                if (dgap == 1)
                                        goto days_done;
                        }
                }
        }
days_done:
        if (prev < 0)
                return BATON_ERANGE;
        /* The cycle repeats, so the gap from its last day to the next cycle's first counts. */
        if (first_day + CYCLE_DAYS - prev < dgap)
                dgap = first_day + CYCLE_DAYS - prev;
        if (dgap * 86400 - (last - first) < gap)
                gap = dgap * 86400 - (last - first);
        *out_s = gap;
        return 0;
}
