/*
 * test_cron_expr.c: unit tests of core/cron_expr: parsing of every syntax
 * element and every error message, next-fire sequences (leap years, L, W, #,
 * the Vixie day rule, seconds, @every), H stability, never-fires rejection,
 * English descriptions, minimum intervals, the civil calendar helpers, and a
 * comparison of the field-skipping search against a brute-force model that
 * walks day by day and minute by minute with its own calendar arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/errors.h"
#include "common/tz.h"
#include "core/cron_expr.h"

static struct cron_expr parse_ok(const char *text, uint64_t seed)
{
        struct cron_expr e;
        char err[256];
        int rc = cron_parse(text, seed, &e, err, sizeof(err));

        if (rc)
                fail_msg("cron_parse(\"%s\") failed: %s", text, err);
        return e;
}

static void expect_error(const char *text, const char *msg)
{
        struct cron_expr e;
        char err[256];
        int rc = cron_parse(text, 0, &e, err, sizeof(err));

        if (rc != BATON_EINVAL)
                fail_msg("cron_parse(\"%s\") returned %d, want BATON_EINVAL", text, rc);
        if (!strstr(err, msg))
                fail_msg("cron_parse(\"%s\"): message \"%s\" lacks \"%s\"", text, err, msg);
}

static struct civil civ(const char *s)
{
        struct civil c = {0};

        if (sscanf(s, "%d-%d-%d %d:%d:%d", &c.year, &c.month, &c.day, &c.hour, &c.min, &c.sec) < 5)
                fail_msg("bad civil literal %s", s);
        return c;
}

static void fmt_civ(const struct civil *c, char *buf, size_t cap)
{
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d", c->year, c->month, c->day, c->hour,
                 c->min, c->sec);
}

/* Checks the fires after start, in order. want is NULL-terminated. */
static void expect_fires(const char *text, const char *start, const char *const *want)
{
        struct cron_expr e = parse_ok(text, 0);
        struct civil c = civ(start), next;
        char got[32];

        for (int i = 0; want[i]; i++) {
                int rc = cron_next_local(&e, &c, &next);
                if (rc)
                        fail_msg("%s: fire %d after %s: rc %d", text, i, start, rc);
                fmt_civ(&next, got, sizeof(got));
                if (strcmp(got, want[i]) != 0)
                        fail_msg("%s: fire %d: got %s, want %s", text, i, got, want[i]);
                c = next;
        }
}

#define FIRES(text, start, ...)                                                                    \
        do {                                                                                       \
                static const char *const w_[] = {__VA_ARGS__, NULL};                               \
                expect_fires(text, start, w_);                                                     \
        } while (0)

static void expect_description(const char *text, const char *want)
{
        struct cron_expr e = parse_ok(text, 0);
        char buf[512];

        assert_int_equal(cron_describe(&e, buf, sizeof(buf)), 0);
        if (strcmp(buf, want) != 0)
                fail_msg("describe(\"%s\"): got \"%s\", want \"%s\"", text, buf, want);
}

static int64_t min_interval(const char *text)
{
        struct cron_expr e = parse_ok(text, 0);
        int64_t s = -1;

        assert_int_equal(cron_min_interval_s(&e, &s), 0);
        return s;
}

/* ---- civil helpers ---- */

static void civil_helpers(void **state)
{
        int64_t y;
        int m, d;

        (void)state;
        assert_int_equal(tz_days_in_month(2024, 2), 29);
        assert_int_equal(tz_days_in_month(2023, 2), 28);
        assert_int_equal(tz_days_in_month(1900, 2), 28);
        assert_int_equal(tz_days_in_month(2000, 2), 29);
        assert_int_equal(tz_days_in_month(2100, 2), 28);
        assert_int_equal(tz_days_in_month(2024, 4), 30);
        assert_int_equal(tz_days_in_month(2024, 12), 31);
        assert_int_equal(cron_weekday(1970, 1, 1), 4);
        assert_int_equal(cron_weekday(2024, 1, 1), 1);
        assert_int_equal(cron_weekday(2000, 2, 29), 2);
        assert_int_equal(cron_weekday(1969, 12, 31), 3);
        assert_int_equal(cron_weekday(1600, 3, 1), 3);
        assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
        assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
        assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
        for (int64_t n = -800000; n < 800000; n += 37) {
                tz_civil_from_days(n, &y, &m, &d);
                assert_true(m >= 1 && m <= 12 && d >= 1 && d <= tz_days_in_month(y, m));
                assert_int_equal(tz_days_from_civil(y, m, d), n);
        }
        struct civil a = civ("2024-01-01 00:00:00"), b = civ("2024-01-01 00:00:01");
        assert_true(cron_civil_cmp(&a, &b) < 0);
        assert_true(cron_civil_cmp(&b, &a) > 0);
        assert_int_equal(cron_civil_cmp(&a, &a), 0);
}

/* ---- parsing ---- */

static void parse_lists_ranges_steps(void **state)
{
        struct cron_expr e;

        (void)state;
        e = parse_ok("20 6,8,10 * * *", 0);
        assert_true(e.minutes == 1ULL << 20);
        assert_true(e.hours == ((1u << 6) | (1u << 8) | (1u << 10)));
        assert_true(e.seconds == 1);
        assert_false(e.has_seconds);
        assert_true(e.dom_star && e.dow_star);
        assert_true(e.months == 0x1ffe);
        assert_true(e.dow == 0x7f);
        assert_true(e.dom == 0xfffffffe);

        e = parse_ok("*/15 * * * *", 0);
        assert_true(e.minutes == ((1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45)));
        e = parse_ok("10-50/10 * * * *", 0);
        assert_true(e.minutes ==
                    ((1ULL << 10) | (1ULL << 20) | (1ULL << 30) | (1ULL << 40) | (1ULL << 50)));
        e = parse_ok("5/15 * * * *", 0);
        assert_true(e.minutes == ((1ULL << 5) | (1ULL << 20) | (1ULL << 35) | (1ULL << 50)));
        e = parse_ok("0-4,58 * * * *", 0);
        assert_true(e.minutes == (0x1fULL | (1ULL << 58)));
        e = parse_ok("  0   0\t1  1  *  ", 0);
        assert_true(e.minutes == 1 && e.hours == 1 && e.dom == 2 && e.months == 2);
        assert_false(e.dom_star);

        /* Six fields: seconds first. */
        e = parse_ok("*/20 0 9 * * *", 0);
        assert_true(e.has_seconds);
        assert_true(e.seconds == ((1ULL << 0) | (1ULL << 20) | (1ULL << 40)));
        assert_true(e.minutes == 1 && e.hours == 1u << 9);
        e = parse_ok("59 59 23 31 12 6", 0);
        assert_true(e.seconds == 1ULL << 59 && e.dom == 1u << 31 && e.months == 1u << 12);
}

static void parse_names_and_sunday(void **state)
{
        struct cron_expr e;

        (void)state;
        e = parse_ok("0 0 * JAN,mar,Dec *", 0);
        assert_true(e.months == ((1u << 1) | (1u << 3) | (1u << 12)));
        e = parse_ok("0 0 * FEB-APR mon-FRI", 0);
        assert_true(e.months == ((1u << 2) | (1u << 3) | (1u << 4)));
        assert_true(e.dow == 0x3e);
        assert_false(e.dow_star);
        e = parse_ok("0 0 * * 7", 0);
        assert_true(e.dow == 1);
        e = parse_ok("0 0 * * 0", 0);
        assert_true(e.dow == 1);
        e = parse_ok("0 0 * * 5-7", 0);
        assert_true(e.dow == ((1u << 5) | (1u << 6) | 1u));
        e = parse_ok("0 0 * * SUN,SAT", 0);
        assert_true(e.dow == ((1u << 6) | 1u));
        e = parse_ok("0 0 * * */2", 0);
        assert_true(e.dow == ((1u << 0) | (1u << 2) | (1u << 4) | (1u << 6)));
        e = parse_ok("0 0 ? * MON", 0);
        assert_true(e.dom_star && !e.dow_star);
        e = parse_ok("0 0 1 * ?", 0);
        assert_true(!e.dom_star && e.dow_star);
}

static void parse_special_days(void **state)
{
        struct cron_expr e;

        (void)state;
        e = parse_ok("0 0 L * *", 0);
        assert_true(e.dom_flags == CRON_DOM_LAST && e.dom == 0 && !e.dom_star);
        e = parse_ok("0 0 LW * *", 0);
        assert_true(e.dom_flags == CRON_DOM_LAST_WEEKDAY);
        e = parse_ok("0 0 15W * *", 0);
        assert_true(e.dom_w == 1u << 15 && e.dom == 0);
        e = parse_ok("0 0 1w,L,10 * *", 0);
        assert_true(e.dom_w == 1u << 1 && e.dom_flags == CRON_DOM_LAST && e.dom == 1u << 10);
        e = parse_ok("0 9 * * 5L", 0);
        assert_true(e.dow_last == 1u << 5 && e.dow == 0);
        e = parse_ok("0 9 * * FRIL", 0);
        assert_true(e.dow_last == 1u << 5);
        e = parse_ok("0 9 * * 7L", 0);
        assert_true(e.dow_last == 1u);
        e = parse_ok("0 9 * * MON#2", 0);
        assert_true(e.dow_nth[1] == 1u << 2 && e.dow == 0);
        e = parse_ok("0 9 * * 1#2,1#4,fri#5", 0);
        assert_true(e.dow_nth[1] == ((1u << 2) | (1u << 4)) && e.dow_nth[5] == 1u << 5);
}

static void parse_macros(void **state)
{
        static const char *const pairs[][2] = {
            {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
            {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
            {"@hourly", "0 * * * *"}, {" @DAILY ", "0 0 * * *"},
        };

        (void)state;
        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
                struct cron_expr a = parse_ok(pairs[i][0], 0), b = parse_ok(pairs[i][1], 0);
                assert_memory_equal(&a, &b, sizeof(a));
        }
}

static void parse_every(void **state)
{
        struct cron_expr e;

        (void)state;
        e = parse_ok("@every 90s", 0);
        assert_int_equal(e.every_ms, 90000);
        assert_false(e.every_days);
        e = parse_ok("@every 1h30m", 0);
        assert_int_equal(e.every_ms, 5400000);
        e = parse_ok("@every 1d", 0);
        assert_int_equal(e.every_ms, 86400000);
        assert_true(e.every_days);
        e = parse_ok("@every 2d", 0);
        assert_true(e.every_days);
        e = parse_ok("@every 1d12h", 0);
        assert_int_equal(e.every_ms, 129600000);
        assert_false(e.every_days);
        e = parse_ok("@every 24h", 0);
        assert_true(e.every_days);
        e = parse_ok("@every   1s  ", 0);
        assert_int_equal(e.every_ms, 1000);
        e = parse_ok("@every 2d3h4m5s", 0);
        assert_int_equal(e.every_ms, (2 * 86400 + 3 * 3600 + 4 * 60 + 5) * 1000LL);
        e = parse_ok("@every 366d", 0);
        assert_int_equal(e.every_ms, 366 * 86400000LL);

        expect_error("@every", "@every needs a duration");
        expect_error("@every ", "@every needs a duration");
        expect_error("@every 0s", "interval must be at least 1s");
        expect_error("@every 500ms", "unit ms is not supported");
        expect_error("@every 1.5h", "fractions are not supported");
        expect_error("@every 90", "missing unit after 90");
        expect_error("@every 30m1h", "repeated or out of order");
        expect_error("@every 1m1m", "repeated or out of order");
        expect_error("@every 5x", "unknown unit 'x'");
        expect_error("@every h", "expected a number, got 'h'");
        expect_error("@every 367d", "longer than 366d");
        expect_error("@every 99999999999999s", "longer than 366d");
        expect_error("@every 1h 2m", "unexpected text after the duration");
}

static void parse_errors(void **state)
{
        static const char *const cases[][2] = {
            {"", "expected 5 or 6 fields (or a macro such as @daily), got 0"},
            {"* * * *", "expected 5 or 6 fields (or a macro such as @daily), got 4"},
            {"* * * * * * *",
             "column 1: expected 5 or 6 fields (or a macro such as @daily), got 7"},
            {"1 2 3 4 5 6 7 8 9", "got 9"},
            {"60 * * * *", "minute field, column 1: 60 is out of range 0-59"},
            {"0 24 * * *", "hour field, column 3: 24 is out of range 0-23"},
            {"0 0 0 * *", "day-of-month field, column 5: 0 is out of range 1-31"},
            {"0 0 32 * *", "day-of-month field, column 5: 32 is out of range 1-31"},
            {"0 0 * 13 *", "month field, column 7: 13 is out of range 1-12"},
            {"0 0 * 0 *", "month field, column 7: 0 is out of range 1-12"},
            {"0 0 * * 8", "day-of-week field, column 9: 8 is out of range 0-7"},
            {"60 0 0 * * *", "second field, column 1: 60 is out of range 0-59"},
            {"99999999 * * * *", "minute field, column 1: 99999999 is out of range 0-59"},
            {"*/99999999999 * * * *", "step 99999999999 is out of range 1-60"},
            {"*/0 * * * *", "minute field, column 3: step 0 is out of range 1-60"},
            {"*/61 * * * *", "step 61 is out of range 1-60"},
            {"50-10 * * * *", "minute field, column 3: range 50-10 is backwards"},
            {"1-2-3 * * * *", "minute field, column 4: unexpected '-'"},
            {"0 0 * FOO *", "month field, column 7: unknown month name 'FOO'"},
            {"0 0 * JA *", "unknown month name 'JA'"},
            {"0 0 * * FUN", "day-of-week field, column 9: unknown day name 'FUN'"},
            {"MON * * * *", "minute field, column 1: names are only allowed in month and "
                            "day-of-week, got 'MON'"},
            {"? * * * *", "minute field, column 1: '?' is only allowed in day-of-month and "
                          "day-of-week"},
            {"1,,2 * * * *", "minute field, column 3: empty list item"},
            {"1, * * * *", "minute field, column 3: empty list item"},
            {",1 * * * *", "minute field, column 1: empty list item"},
            {"*x * * * *", "minute field, column 2: unexpected 'x'"},
            {"0 0 * * L", "day-of-week field, column 9: L in day-of-week needs a day"},
            {"0 0 * * MON#6", "occurrence after # 6 is out of range 1-5"},
            {"0 0 * * MON#0", "occurrence after # 0 is out of range 1-5"},
            {"0 0 * * MON#", "expected occurrence after #, got end of field"},
            {"0 0 * * 5L/2", "unexpected '/'"},
            {"0 0 L/2 * *", "day-of-month field, column 6: L cannot take a step"},
            {"0 0 LX * *", "unexpected 'X'"},
            {"0 0 15W-20 * *", "unexpected '-'"},
            {"0 0 1-5/ * *", "expected step, got end of field"},
            {"H(5-1) * * * *", "minute field, column 2: range 5-1 is backwards"},
            {"H(0-29 * * * *", "expected ')' to close H(, got end of field"},
            {"H(0 * * * *", "expected '-' in H(a-b), got end of field"},
            {"H(0-60) * * * *", "60 is out of range 0-59"},
            {"@foo", "column 1: unknown macro '@foo'"},
            {"@reboot", "@reboot is not supported"},
            {"@daily 0", "column 8: unexpected text after @daily"},
        };
        struct cron_expr e;

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                expect_error(cases[i][0], cases[i][1]);
        /* NULL buffers and NULL input are safe. */
        assert_int_equal(cron_parse("60 * * * *", 0, &e, NULL, 0), BATON_EINVAL);
        assert_int_equal(cron_parse(NULL, 0, &e, NULL, 0), BATON_EINVAL);
        char big[CRON_TEXT_MAX + 10];
        memset(big, ' ', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        expect_error(big, "expression is longer than 1024 bytes");
        /* A short buffer truncates, never overflows. */
        char small[8];
        assert_int_equal(cron_parse("60 * * * *", 0, &e, small, sizeof(small)), BATON_EINVAL);
        assert_string_equal(small, "minute ");
}

/* ---- next fire ---- */

static void next_issue_examples(void **state)
{
        (void)state;
        FIRES("20 6,8,10 * * *", "2024-01-01 00:00:00", "2024-01-01 06:20:00",
              "2024-01-01 08:20:00", "2024-01-01 10:20:00", "2024-01-02 06:20:00");
        FIRES("* 0-7,19-23 * * *", "2024-01-01 07:58:00", "2024-01-01 07:59:00",
              "2024-01-01 19:00:00", "2024-01-01 19:01:00");
        FIRES("* 0-7,19-23 * * *", "2024-12-31 23:59:00", "2025-01-01 00:00:00");
        FIRES("*/15 * * * *", "2024-01-01 00:00:00", "2024-01-01 00:15:00", "2024-01-01 00:30:00",
              "2024-01-01 00:45:00", "2024-01-01 01:00:00");
        FIRES("*/15 * * * *", "2024-01-01 00:14:59", "2024-01-01 00:15:00");
        FIRES("5/15 * * * *", "2024-01-01 00:50:00", "2024-01-01 01:05:00");
        FIRES("0 9 15W * *", "2024-05-20 00:00:00", "2024-06-14 09:00:00", "2024-07-15 09:00:00",
              "2024-08-15 09:00:00", "2024-09-16 09:00:00");
        FIRES("@hourly", "2024-02-29 23:30:00", "2024-03-01 00:00:00");
        FIRES("@yearly", "2024-06-01 00:00:00", "2025-01-01 00:00:00", "2026-01-01 00:00:00");
        FIRES("@weekly", "2024-01-01 00:00:00", "2024-01-07 00:00:00", "2024-01-14 00:00:00");
}

static void next_last_and_nth_weekday(void **state)
{
        (void)state;
        /* 2024: Jan and Feb have four Fridays, March five. */
        FIRES("0 9 * * 5L", "2024-01-01 00:00:00", "2024-01-26 09:00:00", "2024-02-23 09:00:00",
              "2024-03-29 09:00:00", "2024-04-26 09:00:00", "2024-05-31 09:00:00");
        FIRES("0 9 * * FRIL", "2024-01-26 09:00:00", "2024-02-23 09:00:00");
        FIRES("0 9 * * MON#2", "2024-01-01 00:00:00", "2024-01-08 09:00:00", "2024-02-12 09:00:00",
              "2024-03-11 09:00:00", "2024-04-08 09:00:00");
        FIRES("0 9 * * 1#2", "2024-01-08 09:00:00", "2024-02-12 09:00:00");
        /* #5 skips the months without a fifth Friday. */
        FIRES("0 0 * * FRI#5", "2024-01-01 00:00:00", "2024-03-29 00:00:00", "2024-05-31 00:00:00",
              "2024-08-30 00:00:00", "2024-11-29 00:00:00");
        /* A fifth Monday in February needs a leap year starting on a Monday. */
        FIRES("0 0 * 2 MON#5", "2000-01-01 00:00:00", "2016-02-29 00:00:00", "2044-02-29 00:00:00");
        FIRES("0 0 * * 0#1", "2024-09-01 00:00:00", "2024-10-06 00:00:00");
        FIRES("0 0 * * 7#1", "2024-08-31 00:00:00", "2024-09-01 00:00:00");
}

static void next_last_day_and_leap(void **state)
{
        (void)state;
        FIRES("0 0 29 2 *", "2024-03-01 00:00:00", "2028-02-29 00:00:00", "2032-02-29 00:00:00");
        /* 2100 is not a leap year: eight years between two Feb 29ths. */
        FIRES("0 0 29 2 *", "2096-03-01 00:00:00", "2104-02-29 00:00:00");
        FIRES("0 0 L 2 *", "2023-06-01 00:00:00", "2024-02-29 00:00:00", "2025-02-28 00:00:00",
              "2026-02-28 00:00:00");
        FIRES("0 0 L * *", "2024-01-15 00:00:00", "2024-01-31 00:00:00", "2024-02-29 00:00:00",
              "2024-03-31 00:00:00", "2024-04-30 00:00:00");
        FIRES("0 0 LW * *", "2024-03-01 00:00:00", "2024-03-29 00:00:00", "2024-04-30 00:00:00",
              "2024-05-31 00:00:00", "2024-06-28 00:00:00");
        FIRES("0 0 L,15 * *", "2024-02-01 00:00:00", "2024-02-15 00:00:00", "2024-02-29 00:00:00",
              "2024-03-15 00:00:00");
        FIRES("0 0 31 * *", "2024-01-31 00:00:00", "2024-03-31 00:00:00", "2024-05-31 00:00:00");
}

static void next_nearest_weekday(void **state)
{
        (void)state;
        /* June 1st 2024 is a Saturday: Monday the 3rd, never May 31st. */
        FIRES("0 0 1W * *", "2024-05-02 00:00:00", "2024-06-03 00:00:00", "2024-07-01 00:00:00",
              "2024-08-01 00:00:00", "2024-09-02 00:00:00");
        /* 15th on a Saturday (2025-02) -> Friday 14th; on a Sunday (2024-09) -> Monday 16th. */
        FIRES("0 0 15W * *", "2025-02-01 00:00:00", "2025-02-14 00:00:00", "2025-03-14 00:00:00",
              "2025-04-15 00:00:00");
        /* 31W: Sunday 31st (2024-03) -> Friday 29th; months without a 31st are skipped. */
        FIRES("0 0 31W * *", "2024-03-01 00:00:00", "2024-03-29 00:00:00", "2024-05-31 00:00:00",
              "2024-07-31 00:00:00", "2024-08-30 00:00:00");
        /* 30W in a 30-day month ending on Sunday moves back two days (2024-06-30). */
        FIRES("0 0 30W 6 *", "2024-01-01 00:00:00", "2024-06-28 00:00:00");
}

static void next_vixie_day_rule(void **state)
{
        (void)state;
        /* Both restricted: the 13th OR any Friday. */
        FIRES("0 0 13 * FRI", "2024-09-01 00:00:00", "2024-09-06 00:00:00", "2024-09-13 00:00:00",
              "2024-09-20 00:00:00", "2024-09-27 00:00:00", "2024-10-04 00:00:00",
              "2024-10-11 00:00:00", "2024-10-13 00:00:00");
        /* Only one restricted: the other does not widen it. */
        FIRES("0 0 13 * *", "2024-09-01 00:00:00", "2024-09-13 00:00:00", "2024-10-13 00:00:00");
        FIRES("0 0 ? * FRI", "2024-09-01 00:00:00", "2024-09-06 00:00:00", "2024-09-13 00:00:00");
        FIRES("0 0 * * FRI", "2024-09-01 00:00:00", "2024-09-06 00:00:00", "2024-09-13 00:00:00");
        /* A step in day-of-month restricts it, so the OR rule applies. */
        FIRES("0 0 */10 * MON", "2024-09-01 00:00:00", "2024-09-02 00:00:00", "2024-09-09 00:00:00",
              "2024-09-11 00:00:00", "2024-09-16 00:00:00");
        /* L and #: the last day OR the first Monday. */
        FIRES("0 0 L * MON#1", "2024-09-01 00:00:00", "2024-09-02 00:00:00", "2024-09-30 00:00:00",
              "2024-10-07 00:00:00", "2024-10-31 00:00:00");
}

static void next_seconds_and_edges(void **state)
{
        struct cron_expr e = parse_ok("* * * * *", 0);
        struct civil bad = civ("2023-02-29 00:00:00"), out;

        (void)state;
        FIRES("*/20 * * * * *", "2024-12-31 23:59:45", "2025-01-01 00:00:00",
              "2025-01-01 00:00:20");
        FIRES("30 0 9 * * *", "2024-01-01 09:00:30", "2024-01-02 09:00:30");
        FIRES("* * * * * *", "2024-02-28 23:59:59", "2024-02-29 00:00:00", "2024-02-29 00:00:01");
        /* Strictly after: a matching start is skipped. */
        FIRES("0 12 * * *", "2024-01-01 12:00:00", "2024-01-02 12:00:00");
        FIRES("0 12 * * *", "2024-01-01 11:59:59", "2024-01-01 12:00:00");
        FIRES("59 23 31 12 *", "2024-12-31 23:59:00", "2025-12-31 23:59:00");
        FIRES("0 0 * * *", "9998-12-31 12:00:00", "9999-01-01 00:00:00");
        assert_int_equal(cron_next_local(&e, &bad, &out), BATON_EINVAL);
        bad = civ("2024-01-01 24:00:00");
        assert_int_equal(cron_next_local(&e, &bad, &out), BATON_EINVAL);
        bad = civ("2024-13-01 00:00:00");
        assert_int_equal(cron_next_local(&e, &bad, &out), BATON_EINVAL);
        bad = civ("2024-01-01 00:60:00");
        assert_int_equal(cron_next_local(&e, &bad, &out), BATON_EINVAL);
}

static void next_every(void **state)
{
        (void)state;
        FIRES("@every 90s", "2024-01-01 23:59:00", "2024-01-02 00:00:30", "2024-01-02 00:02:00");
        FIRES("@every 1d", "2024-02-28 09:30:00", "2024-02-29 09:30:00", "2024-03-01 09:30:00");
        FIRES("@every 1h30m", "2024-12-31 23:00:00", "2025-01-01 00:30:00");
}

static void never_fires(void **state)
{
        static const char *const bad[][2] = {
            {"0 0 30 2 *", "day 30 never occurs in February"},
            {"0 0 31 2 *", "day 31 never occurs in February"},
            {"0 0 30,31 2 *", "days 30 and 31 never occur in February"},
            {"0 0 31 4,6,9,11 *", "day 31 never occurs in April, June, September or November"},
            {"0 0 31 APR *", "day 31 never occurs in April"},
            {"0 0 30W 2 *", "day 30 never occurs in February"},
        };
        static const char *const good[] = {"0 0 29 2 *",   "0 0 31 2 MON",  "0 0 L 2 *",
                                           "0 0 31 1-4 *", "0 0 * 2 MON#5", "@every 1s",
                                           "0 0 31W * *",  "* * * * *"};
        struct civil from = civ("2024-01-01 00:00:00"), out;
        char err[256];

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct cron_expr e = parse_ok(bad[i][0], 0);
                assert_int_equal(cron_never_fires(&e, err, sizeof(err)), BATON_EINVAL);
                assert_string_equal(err, bad[i][1]);
                assert_int_equal(cron_next_local(&e, &from, &out), BATON_ERANGE);
                int64_t s;
                assert_int_equal(cron_min_interval_s(&e, &s), BATON_ERANGE);
                assert_int_equal(cron_never_fires(&e, NULL, 0), BATON_EINVAL);
        }
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct cron_expr e = parse_ok(good[i], 0);
                assert_int_equal(cron_never_fires(&e, err, sizeof(err)), 0);
        }
}

/* ---- H ---- */

static int lowest(uint64_t bits)
{
        for (int i = 0; i < 64; i++)
                if ((bits >> i) & 1)
                        return i;
        return -1;
}

static void hash_is_stable_and_spread(void **state)
{
        uint64_t seen_min = 0;
        uint32_t seen_hour = 0, seen_dom = 0;
        char key[32];

        (void)state;
        assert_true(cron_seed_from_key("") == 0xcbf29ce484222325ULL);
        assert_true(cron_seed_from_key("a") == 0xaf63dc4c8601ec8cULL);
        for (int i = 0; i < 200; i++) {
                snprintf(key, sizeof(key), "schedule-%d", i);
                uint64_t seed = cron_seed_from_key(key);
                struct cron_expr a = parse_ok("H H H * *", seed), b = parse_ok("H H H * *", seed);
                assert_memory_equal(&a, &b, sizeof(a));
                assert_int_equal(__builtin_popcountll(a.minutes), 1);
                assert_int_equal(__builtin_popcount(a.hours), 1);
                assert_int_equal(__builtin_popcount(a.dom), 1);
                assert_true(lowest(a.dom) >= 1 && lowest(a.dom) <= 28);
                assert_false(a.hour_wild);
                seen_min |= a.minutes;
                seen_hour |= a.hours;
                seen_dom |= a.dom;

                struct cron_expr s = parse_ok("H(0-29)/10 * * * *", seed);
                int lo = lowest(s.minutes);
                assert_true(lo >= 0 && lo <= 9);
                assert_true(s.minutes ==
                            ((1ULL << lo) | (1ULL << (lo + 10)) | (1ULL << (lo + 20))));

                struct cron_expr q = parse_ok("H/15 * * * *", seed);
                lo = lowest(q.minutes);
                assert_true(lo >= 0 && lo <= 14);
                assert_int_equal(__builtin_popcountll(q.minutes), 4);

                struct cron_expr w = parse_ok("0 0 * * H", seed);
                assert_int_equal(__builtin_popcount(w.dow), 1);
                assert_true(w.dow < 0x80);
                struct cron_expr r = parse_ok("H(10-12) * * * *", seed);
                assert_true(lowest(r.minutes) >= 10 && lowest(r.minutes) <= 12);
                assert_int_equal(__builtin_popcountll(r.minutes), 1);
        }
        /* 200 keys spread over most of the range. */
        assert_true(__builtin_popcountll(seen_min) >= 45);
        assert_true(__builtin_popcount(seen_hour) >= 20);
        assert_true(__builtin_popcount(seen_dom) >= 24);
        /* Two H in one field, or in two fields, are not forced to be equal. */
        int differ = 0;
        for (int i = 0; i < 20; i++) {
                struct cron_expr e = parse_ok("H H * * *", (uint64_t)i * 7919);
                differ += lowest(e.minutes) != lowest(e.hours);
        }
        assert_true(differ > 10);
}

static void hour_wildcard(void **state)
{
        static const char *const wild[] = {"0 * * * *",      "30 */2 * * *", "0 H/3 * * *",
                                           "0 0-23/4 * * *", "@hourly",      "@every 90s",
                                           "* * * * *",      "0 0 * * * *",  "0 0-23 * * *"};
        static const char *const fixed[] = {"0 9 * * *",   "0 H * * *",      "0 1-5 * * *",
                                            "0 1,2 * * *", "0 0-22/2 * * *", "@daily",
                                            "0 *,5 * * *", "0 1/2 * * *"};

        (void)state;
        for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
                struct cron_expr e = parse_ok(wild[i], 0);
                if (!cron_hour_is_wildcard(&e))
                        fail_msg("%s should be an hour wildcard", wild[i]);
        }
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
                struct cron_expr e = parse_ok(fixed[i], 0);
                if (cron_hour_is_wildcard(&e))
                        fail_msg("%s should not be an hour wildcard", fixed[i]);
        }
}

/* ---- description ---- */

static void describe(void **state)
{
        (void)state;
        expect_description("20 6,8,10 * * *", "At 06:20, 08:20 and 10:20");
        expect_description("* 0-7,19-23 * * *",
                           "Every minute between 00:00 and 07:59 and between 19:00 and 23:59");
        expect_description("0 9 * * 5L", "At 09:00 on the last Friday of the month");
        expect_description("0 9 * * MON#2", "At 09:00 on the second Monday of the month");
        expect_description("*/15 * * * *", "Every 15 minutes");
        expect_description("@every 90s", "Every 90 seconds");
        expect_description("@every 1h30m", "Every 90 minutes");
        expect_description("@every 1d", "Every day");
        expect_description("@every 2h", "Every 2 hours");
        expect_description("@every 1s", "Every second");
        expect_description("0 9 * * 1,5", "At 09:00 on Monday and Friday");
        expect_description("0 9 * * MON-FRI", "At 09:00 on Monday through Friday");
        expect_description("0 0 1 1 *", "At 00:00 on day 1 of the month in January");
        expect_description("0 12 15 * *", "At 12:00 on day 15 of the month");
        expect_description("0 12 1,15 * *", "At 12:00 on days 1 and 15 of the month");
        expect_description("0 12 * 1,7 *", "At 12:00 in January and July");
        expect_description("0 12 * 3-5 *", "At 12:00 in March through May");
        expect_description("* * * * *", "Every minute");
        expect_description("0 * * * *", "Every hour");
        expect_description("30 * * * *", "At minute 30 of every hour");
        expect_description("0,10,40 * * * *", "At minutes 0, 10 and 40 of every hour");
        expect_description("5/15 * * * *", "Every 15 minutes, starting at minute 5");
        expect_description("0 */2 * * *", "Every 2 hours");
        expect_description("30 */2 * * *", "Every 2 hours at minute 30");
        expect_description("*/15 9-17 * * 1-5",
                           "Every 15 minutes between 09:00 and 17:59 on Monday through Friday");
        expect_description("0 0 L * *", "At 00:00 on the last day of the month");
        expect_description("0 0 LW * *", "At 00:00 on the last weekday of the month");
        expect_description("0 9 15W * *", "At 09:00 on the weekday nearest day 15 of the month");
        expect_description("0 0 13 * FRI", "At 00:00 on day 13 of the month or on Friday");
        expect_description("0 9 * * 1#1,1#3",
                           "At 09:00 on the first and third Monday of the month");
        expect_description("0 0 */2 * *", "At 00:00 on every 2nd day of the month");
        expect_description("*/10 * * * * *", "Every 10 seconds");
        expect_description("* * * * * *", "Every second");
        expect_description("30 0 9 * * *", "At 09:00:30");
        expect_description("*/30 * 9 * * *", "Every 30 seconds, every minute between 09:00 and "
                                             "09:59");
        expect_description("@weekly", "At 00:00 on Sunday");
        expect_description("0 9-17 * * *", "Every hour between 09:00 and 17:59");
        expect_description("15 0-6,20-23 * * *",
                           "At minute 15 of every hour between 00:00 and 06:59 and between "
                           "20:00 and 23:59");
        expect_description("0 9-12 * * *", "At 09:00, 10:00, 11:00 and 12:00");
        expect_description("0 0 1,15 * 3",
                           "At 00:00 on days 1 and 15 of the month or on Wednesday");
        expect_description("0 12 ? * 2L,4#3", "At 12:00 on the last Tuesday of the month and on "
                                              "the third Thursday of the month");
        expect_description("0 0 L,15W * *", "At 00:00 on the last day of the month and on the "
                                            "weekday nearest day 15 of the month");
        expect_description("0 0 * 1/3 *", "At 00:00 in January, April, July and October");
        expect_description("1-5 * * * *", "At minutes 1 through 5 of every hour");
        expect_description("@hourly", "Every hour");

        /* A short buffer reports ETOOBIG and stays terminated. */
        struct cron_expr e = parse_ok("20 6,8,10 * * *", 0);
        char small[10];
        assert_int_equal(cron_describe(&e, small, sizeof(small)), BATON_ETOOBIG);
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_int_equal(cron_describe(&e, small, 0), BATON_ETOOBIG);
}

/* ---- minimum interval ---- */

static void min_intervals(void **state)
{
        (void)state;
        assert_int_equal(min_interval("* * * * *"), 60);
        assert_int_equal(min_interval("*/15 * * * *"), 900);
        assert_int_equal(min_interval("0,59 * * * *"), 60);
        assert_int_equal(min_interval("20 6,8,10 * * *"), 7200);
        assert_int_equal(min_interval("0 1,23 * * *"), 7200);
        assert_int_equal(min_interval("0 0 * * *"), 86400);
        assert_int_equal(min_interval("0 0 1 * *"), 28 * 86400);
        assert_int_equal(min_interval("0 0 L * *"), 28 * 86400);
        assert_int_equal(min_interval("0 9 * * 5L"), 28 * 86400);
        assert_int_equal(min_interval("0 0 29 2 *"), 1461 * 86400LL);
        assert_int_equal(min_interval("0 0 1 * MON"), 86400);
        assert_int_equal(min_interval("*/10 * * * * *"), 10);
        assert_int_equal(min_interval("@every 90s"), 90);
        assert_int_equal(min_interval("@every 1d"), 86400);
        assert_int_equal(min_interval("59 23 * * *"), 86400);
        assert_int_equal(min_interval("0 0 * * 1-5"), 86400);
        assert_int_equal(min_interval("0 0 * * 6"), 7 * 86400);
        /* Fridays with the 13th as OR: Thu 12th... the 13th then Friday the 14th. */
        assert_int_equal(min_interval("0 0 13 * FRI"), 86400);
}

/* ---- brute force ---- */

/* The model: its own weekday formula (Zeller) and a literal reading of the
 * rules, checked minute by minute. */
static int bf_weekday(int y, int m, int d)
{
        if (m < 3) {
                m += 12;
                y--;
        }
        int h =
            (d + 13 * (m + 1) / 5 + y % 100 + (y % 100) / 4 + (y / 100) / 4 + 5 * (y / 100)) % 7;
        return (h + 6) % 7; /* Zeller: 0 = Saturday */
}

static int bf_dim(int y, int m)
{
        static const int t[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return m == 2 && leap ? 29 : t[m - 1];
}

static bool bf_is_weekday(int y, int m, int d)
{
        int w = bf_weekday(y, m, d);
        return w >= 1 && w <= 5;
}

static bool bf_dom(const struct cron_expr *e, int y, int m, int d)
{
        int dim = bf_dim(y, m);

        if ((e->dom >> d) & 1)
                return true;
        if ((e->dom_flags & CRON_DOM_LAST) && d == dim)
                return true;
        if (e->dom_flags & CRON_DOM_LAST_WEEKDAY) {
                int lw = dim;
                while (!bf_is_weekday(y, m, lw))
                        lw--;
                if (d == lw)
                        return true;
        }
        for (int w = 1; w <= dim; w++) {
                if (!((e->dom_w >> w) & 1))
                        continue;
                /* Saturday -> Friday before, Sunday -> Monday after, unless that
                 * leaves the month: then the Monday after or Friday before. */
                int wd = bf_weekday(y, m, w), best = w;
                if (wd == 6)
                        best = w > 1 ? w - 1 : w + 2;
                else if (wd == 0)
                        best = w < dim ? w + 1 : w - 2;
                if (best == d)
                        return true;
        }
        return false;
}

static bool bf_dow(const struct cron_expr *e, int y, int m, int d)
{
        int w = bf_weekday(y, m, d), n = 0, later = 0;

        for (int i = 1; i <= d; i++)
                n += bf_weekday(y, m, i) == w;
        for (int i = d + 1; i <= bf_dim(y, m); i++)
                later += bf_weekday(y, m, i) == w;
        return ((e->dow >> w) & 1) || (((e->dow_last >> w) & 1) && later == 0) ||
               ((e->dow_nth[w] >> n) & 1);
}

static bool bf_day(const struct cron_expr *e, int y, int m, int d)
{
        if (!((e->months >> m) & 1))
                return false;
        if (e->dom_star && e->dow_star)
                return true;
        if (e->dom_star)
                return bf_dow(e, y, m, d);
        if (e->dow_star)
                return bf_dom(e, y, m, d);
        return bf_dom(e, y, m, d) || bf_dow(e, y, m, d);
}

/* The first match after c, scanning day by day and minute by minute. */
static bool bf_next(const struct cron_expr *e, struct civil c, struct civil *out, int days_max)
{
        int y = c.year, m = c.month, d = c.day, t0 = c.hour * 60 + c.min + 1;

        for (int i = 0; i < days_max; i++) {
                if (bf_day(e, y, m, d)) {
                        for (int t = t0; t < 1440; t++) {
                                if (((e->hours >> (t / 60)) & 1) &&
                                    ((e->minutes >> (t % 60)) & 1)) {
                                        *out = (struct civil){y, m, d, t / 60, t % 60, 0};
                                        return true;
                                }
                        }
                }
                t0 = 0;
                if (++d > bf_dim(y, m)) {
                        d = 1;
                        if (++m > 12) {
                                m = 1;
                                y++;
                        }
                }
        }
        return false;
}

static uint64_t rng_next(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static void random_field(char *buf, size_t cap, uint64_t *s, int lo, int hi, int kind)
{
        int a = lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1));
        int b = lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1));
        int lo2 = a < b ? a : b, hi2 = a < b ? b : a;
        static const char *const dom_special[] = {"L", "LW", "1W", "15W", "31W", "30W"};

        switch (rng_next(s) % 7) {
        case 0:
                snprintf(buf, cap, "*");
                break;
        case 1:
                snprintf(buf, cap, "%d", a);
                break;
        case 2:
                snprintf(buf, cap, "%d-%d", lo2, hi2);
                break;
        case 3:
                snprintf(buf, cap, "*/%d", 1 + (int)(rng_next(s) % 7));
                break;
        case 4:
                snprintf(buf, cap, "%d,%d", a, b);
                break;
        case 5:
                snprintf(buf, cap, "%d-%d/%d", lo2, hi2, 1 + (int)(rng_next(s) % 4));
                break;
        default:
                if (kind == 1)
                        snprintf(buf, cap, "%s", dom_special[rng_next(s) % 6]);
                else if (kind == 2 && rng_next(s) % 2)
                        snprintf(buf, cap, "%dL", a);
                else if (kind == 2)
                        snprintf(buf, cap, "%d#%d", a, 1 + (int)(rng_next(s) % 5));
                else
                        snprintf(buf, cap, "%d", a);
        }
}

static void matches_brute_force(void **state)
{
        uint64_t s = 0x9e3779b97f4a7c15ULL;
        char f[5][32], text[200], want[32], got[32];
        int checked = 0;

        (void)state;
        for (int i = 0; i < 400; i++) {
                random_field(f[0], 32, &s, 0, 59, 0);
                random_field(f[1], 32, &s, 0, 23, 0);
                random_field(f[2], 32, &s, 1, 31, 1);
                random_field(f[3], 32, &s, 1, 12, 0);
                random_field(f[4], 32, &s, 0, 7, 2);
                snprintf(text, sizeof(text), "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
                struct cron_expr e;
                char err[256];
                if (cron_parse(text, 0, &e, err, sizeof(err)) != 0)
                        fail_msg("generated %s: %s", text, err);
                struct civil c = {2020 + (int)(rng_next(&s) % 10), 1 + (int)(rng_next(&s) % 12),
                                  1 + (int)(rng_next(&s) % 28),    (int)(rng_next(&s) % 24),
                                  (int)(rng_next(&s) % 60),        0};
                for (int k = 0; k < 5; k++) {
                        struct civil a, b;
                        bool found = bf_next(&e, c, &b, 366 * 9);
                        int rc = cron_next_local(&e, &c, &a);
                        if (!found) {
                                /* Beyond the model's window: the search must still be later. */
                                if (rc == 0)
                                        assert_true(a.year > c.year + 8);
                                break;
                        }
                        fmt_civ(&b, want, sizeof(want));
                        if (rc != 0)
                                fail_msg("%s after fire %d: rc %d, model says %s", text, k, rc,
                                         want);
                        fmt_civ(&a, got, sizeof(got));
                        if (strcmp(got, want) != 0)
                                fail_msg("%s: got %s, model says %s", text, got, want);
                        c = a;
                        checked++;
                }
        }
        assert_true(checked > 1000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(civil_helpers),
            cmocka_unit_test(parse_lists_ranges_steps),
            cmocka_unit_test(parse_names_and_sunday),
            cmocka_unit_test(parse_special_days),
            cmocka_unit_test(parse_macros),
            cmocka_unit_test(parse_every),
            cmocka_unit_test(parse_errors),
            cmocka_unit_test(next_issue_examples),
            cmocka_unit_test(next_last_and_nth_weekday),
            cmocka_unit_test(next_last_day_and_leap),
            cmocka_unit_test(next_nearest_weekday),
            cmocka_unit_test(next_vixie_day_rule),
            cmocka_unit_test(next_seconds_and_edges),
            cmocka_unit_test(next_every),
            cmocka_unit_test(never_fires),
            cmocka_unit_test(hash_is_stable_and_spread),
            cmocka_unit_test(hour_wildcard),
            cmocka_unit_test(describe),
            cmocka_unit_test(min_intervals),
            cmocka_unit_test(matches_brute_force),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
