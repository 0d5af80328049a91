/*
 * cron_describe.c: English text about cron expressions: the description a
 * schedule answers with ("At 06:20, 08:20 and 10:20 on Monday through
 * Friday"), and why an expression never fires ("day 30 never occurs in
 * February"). Workload: once per save, preview or answer of a schedule, on
 * a parsed expression (struct cron_expr's bitsets); every text goes into a
 * caller's buffer, bounded, so nothing here allocates. Assumptions: the
 * expression came from cron_parse (bits only inside each field's range).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/errors.h"
#include "common/tz.h"
#include "core/cron_expr.h"

static const char *const month_names[13] = {
    "",     "January", "February",  "March",   "April",    "May",     "June",
    "July", "August",  "September", "October", "November", "December"};
static const char *const day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char *const ordinals[6] = {"", "first", "second", "third", "fourth", "fifth"};

/* ---- bounded text ----------------------------------------------------- */

struct sb {
        char *buf;
        size_t cap, len;
        bool over;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sb *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (b->over || b->cap == 0) {
                b->over = true;
                return;
        }
        va_start(ap, fmt);
        n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= b->cap - b->len) {
                b->over = true;
                b->len = b->cap - 1;
                return;
        }
        b->len += (size_t)n;
}

typedef void (*fmt_fn)(struct sb *b, int v);

static void fmt_num(struct sb *b, int v)
{
        sb_add(b, "%d", v);
}

static void fmt_ordinal(struct sb *b, int v)
{
        sb_add(b, "%s", ordinals[v]);
}

static void fmt_month(struct sb *b, int v)
{
        sb_add(b, "%s", month_names[v]);
}

static void fmt_day(struct sb *b, int v)
{
        sb_add(b, "%s", day_names[v]);
}

/* Writes the set bits lo..hi as "a, b and c"; runs of three or more as
 * "a through b". conj is "and" or "or". */
static void add_list(struct sb *b, uint64_t bits, int lo, int hi, fmt_fn f, const char *conj)
{
        int items[64][2], n = 0;

        for (int v = lo; v <= hi; v++) {
                if (!((bits >> v) & 1))
                        continue;
                int r = v;
                while (r + 1 <= hi && ((bits >> (r + 1)) & 1))
                        r++;
                if (r - v >= 2) {
                        items[n][0] = v;
                        items[n++][1] = r;
                        v = r;
                } else {
                        items[n][0] = items[n][1] = v;
                        n++;
                }
        }
        for (int i = 0; i < n; i++) {
                if (i > 0 && i == n - 1)
                        sb_add(b, " %s ", conj);
                else if (i > 0)
                        sb_add(b, ", ");
                f(b, items[i][0]);
                if (items[i][1] != items[i][0]) {
                        sb_add(b, " through ");
                        f(b, items[i][1]);
                }
        }
}

static int count_bits(uint64_t bits)
{
        return __builtin_popcountll(bits);
}

/* The plain and W days that fall in none of the selected months, as a message. */
static bool explain_missing_days(const struct cron_expr *e, struct sb *b)
{
        uint64_t days = (uint64_t)(e->dom | e->dom_w);
        uint64_t months = 0;
        int longest = 0;

        if (e->dom_star || !e->dow_star || (e->dom_flags & (CRON_DOM_LAST | CRON_DOM_LAST_WEEKDAY)))
                return false;
        for (int m = 1; m <= 12; m++)
                if ((e->months >> m) & 1) {
                        int dim = m == 2 ? 29 : tz_days_in_month(2001, m);
                        longest = dim > longest ? dim : longest;
                        months |= 1ULL << m;
                }
        if (!days || cron_next_bit(days, 1, longest) >= 0)
                return false;
        sb_add(b, count_bits(days) == 1 ? "day " : "days ");
        add_list(b, days, 1, 31, fmt_num, "and");
        sb_add(b, count_bits(days) == 1 ? " never occurs in " : " never occur in ");
        add_list(b, months, 1, 12, fmt_month, "or");
        return true;
}

void cron_describe_never(const struct cron_expr *e, char *err, size_t errcap)
{
        struct sb b = {err, errcap, 0, false};

        if (err && errcap)
                err[0] = 0;
        if (!explain_missing_days(e, &b))
                sb_add(&b, "no date matches the day-of-month, day-of-week and month fields");
}

/* ---- description ------------------------------------------------------- */

/* True when bits are start, start+step, ... to the field's end, read as "every
 * step": at least three values, or two when the step divides the range evenly. */
static bool as_step(uint64_t bits, int lo, int hi, int *start, int *step)
{
        int f = cron_next_bit(bits, lo, hi), s, n = 0, v;

        if (f < 0 || (s = cron_next_bit(bits, f + 1, hi)) < 0)
                return false;
        *start = f;
        *step = s - f;
        if (*step < 2 || f - lo >= *step)
                return false;
        for (v = f; v <= hi; v += *step, n++)
                if (!((bits >> v) & 1))
                        return false;
        if (count_bits(bits) != n)
                return false;
        return n >= 3 || (hi - lo + 1) % *step == 0;
}

static bool all_set(uint64_t bits, int lo, int hi)
{
        for (int v = lo; v <= hi; v++)
                if (!((bits >> v) & 1))
                        return false;
        return true;
}

/* Runs of consecutive hours: 0-7,19-23 has two. */
static int hour_runs(uint32_t hours)
{
        int n = 0;

        for (int h = 0; h < 24; h++)
                if (((hours >> h) & 1) && (h == 0 || !((hours >> (h - 1)) & 1)))
                        n++;
        return n;
}

/* "between 00:00 and 07:59 and between 19:00 and 23:59" */
static void add_hour_ranges(struct sb *b, uint32_t hours)
{
        int n = 0, total = hour_runs(hours);

        for (int h = 0; h < 24; h++) {
                if (!((hours >> h) & 1))
                        continue;
                int r = h;
                while (r < 23 && ((hours >> (r + 1)) & 1))
                        r++;
                if (n > 0)
                        sb_add(b, "%s", n == total - 1 ? " and " : ", ");
                sb_add(b, "between %02d:00 and %02d:59", h, r);
                n++;
                h = r;
        }
}

static void add_every(struct sb *b, int n, const char *unit)
{
        if (n == 1)
                sb_add(b, "Every %s", unit);
        else
                sb_add(b, "Every %d %ss", n, unit);
}

/* Every listed time: "At 06:20, 08:20 and 10:20". */
static void add_times(const struct cron_expr *e, struct sb *b, int sec)
{
        int total = count_bits(e->hours) * count_bits(e->minutes), n = 0;

        sb_add(b, "At ");
        for (int h = 0; h < 24; h++) {
                for (int m = 0; m < 60; m++) {
                        if (!((e->hours >> h) & 1) || !((e->minutes >> m) & 1))
                                continue;
                        if (n > 0)
                                sb_add(b, "%s", n == total - 1 ? " and " : ", ");
                        n++;
                        if (sec)
                                sb_add(b, "%02d:%02d:%02d", h, m, sec);
                        else
                                sb_add(b, "%02d:%02d", h, m);
                }
        }
}

/* A field of 0..59 (minutes of an hour, seconds of a minute): "Every 15
 * minutes", "Every minute", "At minutes 0 and 30". */
static void add_sixty(struct sb *b, uint64_t bits, const char *unit)
{
        int start, step;

        if (all_set(bits, 0, 59)) {
                sb_add(b, "Every %s", unit);
        } else if (as_step(bits, 0, 59, &start, &step)) {
                add_every(b, step, unit);
                if (start)
                        sb_add(b, ", starting at %s %d", unit, start);
        } else {
                sb_add(b, count_bits(bits) == 1 ? "At %s " : "At %ss ", unit);
                add_list(b, bits, 0, 59, fmt_num, "and");
        }
}

static void add_minutes(const struct cron_expr *e, struct sb *b)
{
        add_sixty(b, e->minutes, "minute");
}

static void add_clock(const struct cron_expr *e, struct sb *b, int sec)
{
        bool all_hours = all_set(e->hours, 0, 23), all_min = all_set(e->minutes, 0, 59);
        bool fixed_min = count_bits(e->minutes) == 1;
        int start, step, m = cron_next_bit(e->minutes, 0, 59);

        if (all_hours && fixed_min && m == 0 && sec == 0) {
                sb_add(b, "Every hour");
        } else if (all_hours) {
                add_minutes(e, b);
                if (!all_min && (fixed_min || !as_step(e->minutes, 0, 59, &start, &step)))
                        sb_add(b, " of every hour");
        } else if (fixed_min && as_step(e->hours, 0, 23, &start, &step) && start == 0 &&
                   count_bits(e->hours) > 6) {
                add_every(b, step, "hour");
                if (m)
                        sb_add(b, " at minute %d", m);
        } else if (fixed_min && count_bits(e->hours) > 6 && hour_runs(e->hours) <= 2) {
                /* "Every hour between 09:00 and 17:59" reads better than nine times. */
                if (m)
                        sb_add(b, "At minute %d of every hour ", m);
                else
                        sb_add(b, "Every hour ");
                add_hour_ranges(b, e->hours);
        } else if (fixed_min && count_bits(e->hours) <= 12) {
                add_times(e, b, sec);
                return;
        } else {
                add_minutes(e, b);
                if (!all_min && !as_step(e->minutes, 0, 59, &start, &step))
                        sb_add(b, " of every hour");
                sb_add(b, " ");
                add_hour_ranges(b, e->hours);
        }
        if (sec)
                sb_add(b, ", at second %d", sec);
}

static void add_time_part(const struct cron_expr *e, struct sb *b)
{
        size_t mark;

        if (count_bits(e->seconds) == 1) {
                add_clock(e, b, cron_next_bit(e->seconds, 0, 59));
                return;
        }
        add_sixty(b, e->seconds, "second");
        if (all_set(e->minutes, 0, 59) && all_set(e->hours, 0, 23))
                return;
        sb_add(b, ", ");
        mark = b->len;
        add_clock(e, b, 0);
        if (!b->over && b->len > mark)
                b->buf[mark] = (char)tolower((unsigned char)b->buf[mark]);
}

static const char *ord_suffix(int n)
{
        if (n % 100 >= 11 && n % 100 <= 13)
                return "th";
        return n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
}

static void add_dom_part(const struct cron_expr *e, struct sb *b)
{
        int n = 0, start, step;

        if (e->dom) {
                if (as_step(e->dom, 1, 31, &start, &step) && count_bits(e->dom) >= 3) {
                        sb_add(b, "on every %d%s day of the month", step, ord_suffix(step));
                        if (start != 1)
                                sb_add(b, " starting on day %d", start);
                } else {
                        sb_add(b, count_bits(e->dom) == 1 ? "on day " : "on days ");
                        add_list(b, e->dom, 1, 31, fmt_num, "and");
                        sb_add(b, " of the month");
                }
                n++;
        }
        if (e->dom_flags & CRON_DOM_LAST)
                sb_add(b, "%son the last day of the month", n++ ? " and " : "");
        if (e->dom_flags & CRON_DOM_LAST_WEEKDAY)
                sb_add(b, "%son the last weekday of the month", n++ ? " and " : "");
        if (e->dom_w) {
                sb_add(b, "%son the weekday nearest day%s ", n++ ? " and " : "",
                       count_bits(e->dom_w) == 1 ? "" : "s");
                add_list(b, e->dom_w, 1, 31, fmt_num, "and");
                sb_add(b, " of the month");
        }
}

static void add_dow_part(const struct cron_expr *e, struct sb *b)
{
        int n = 0;

        if (e->dow) {
                sb_add(b, "on ");
                add_list(b, e->dow, 0, 6, fmt_day, "and");
                n++;
        }
        for (int w = 0; w < 7; w++) {
                if (e->dow_nth[w]) {
                        sb_add(b, "%son the ", n++ ? " and " : "");
                        add_list(b, e->dow_nth[w], 1, 5, fmt_ordinal, "and");
                        sb_add(b, " %s of the month", day_names[w]);
                }
                if ((e->dow_last >> w) & 1)
                        sb_add(b, "%son the last %s of the month", n++ ? " and " : "",
                               day_names[w]);
        }
}

static void add_every_interval(const struct cron_expr *e, struct sb *b)
{
        int64_t s = e->every_ms / 1000;

        if (s % 86400 == 0)
                add_every(b, (int)(s / 86400), "day");
        else if (s % 3600 == 0)
                add_every(b, (int)(s / 3600), "hour");
        else if (s % 60 == 0)
                add_every(b, (int)(s / 60), "minute");
        else
                add_every(b, (int)s, "second");
}

int cron_describe(const struct cron_expr *e, char *buf, size_t cap)
{
        struct sb b = {buf, cap, 0, false};

        if (cap)
                buf[0] = 0;
        if (e->every_ms > 0) {
                add_every_interval(e, &b);
                return b.over ? BATON_ETOOBIG : 0;
        }
        add_time_part(e, &b);
        if (!e->dom_star) {
                sb_add(&b, " ");
                add_dom_part(e, &b);
        }
        if (!e->dow_star) {
                sb_add(&b, e->dom_star ? " " : " or ");
                add_dow_part(e, &b);
        }
        if (!all_set(e->months, 1, 12)) {
                sb_add(&b, " in ");
                add_list(&b, e->months, 1, 12, fmt_month, "and");
        }
        return b.over ? BATON_ETOOBIG : 0;
}
