/*
 * test_tz.c: unit tests of the TZif time-zone module: calendar helpers, DST
 * gaps and folds under every policy (Berlin, New York, Lord Howe's 30-minute
 * shift, Kathmandu's +05:45, Apia's skipped day), the footer rule far beyond
 * the transition table, UTC, name validation, unknown zones, truncated and
 * corrupted TZif files, hourly round trips over a year, and a cross-check of
 * offsets against glibc reading the same files (the test may use libc's TZ
 * state; the module never does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/tz.h"

static struct tz *load(const char *name)
{
        struct tz *tz = NULL;
        char err[128] = "";

        assert_int_equal(tz_load(name, &tz, err, sizeof(err)), 0);
        assert_non_null(tz);
        return tz;
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
        return tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static struct tz_civil civ(int y, int mo, int d, int h, int mi, int s)
{
        struct tz_civil c = {y, mo, d, h, mi, s};

        return c;
}

/* Resolves c and checks the number of instants and the instants. */
static void expect(const struct tz *tz, struct tz_civil c, int gap, int fold, int n, int64_t a,
                   int64_t b)
{
        int64_t out[2] = {0, 0};
        int got = -1;

        assert_int_equal(tz_civil_to_utc(tz, &c, gap, fold, out, &got), 0);
        assert_int_equal(got, n);
        if (n >= 1)
                assert_int_equal(out[0], a);
        if (n == 2)
                assert_int_equal(out[1], b);
}

static void expect_offset(const struct tz *tz, int64_t t, int32_t off, bool dst)
{
        int32_t o = 0;
        bool d = !dst;

        assert_int_equal(tz_offset_at(tz, t, &o, &d), 0);
        assert_int_equal(o, off);
        assert_int_equal(d, dst);
}

static void calendar_helpers(void **state)
{
        int64_t y;
        int m, d;

        (void)state;
        assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
        assert_int_equal(tz_days_from_civil(2000, 3, 1), 11017);
        assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
        assert_int_equal(tz_weekday(0), 4);
        assert_int_equal(tz_weekday(-1), 3);
        assert_int_equal(tz_weekday(-7), 4);
        assert_int_equal(tz_weekday(tz_days_from_civil(2026, 3, 29)), 0);
        assert_int_equal(tz_days_in_month(2024, 2), 29);
        assert_int_equal(tz_days_in_month(2100, 2), 28);
        assert_int_equal(tz_days_in_month(2000, 2), 29);
        for (int64_t z = -1000000; z <= 1000000; z += 7) {
                tz_civil_from_days(z, &y, &m, &d);
                assert_true(m >= 1 && m <= 12 && d >= 1 && d <= tz_days_in_month(y, m));
                assert_int_equal(tz_days_from_civil(y, m, d), z);
                assert_int_equal(tz_weekday(z + 1), (tz_weekday(z) + 1) % 7);
        }
        struct tz_civil bad = civ(2026, 2, 29, 0, 0, 0);
        assert_int_equal(tz_civil_validate(&bad), BATON_EINVAL);
        bad = civ(2026, 1, 1, 24, 0, 0);
        assert_int_equal(tz_civil_validate(&bad), BATON_EINVAL);
}

static void berlin_2026(void **state)
{
        struct tz *tz = load("Europe/Berlin");
        int64_t at = 0;
        struct tz_civil c;

        (void)state;
        /* Spring: 2026-03-29 01:00Z, 02:00 CET -> 03:00 CEST. */
        assert_int_equal(tz_next_transition(tz, utc(2026, 1, 1, 0, 0, 0), &at), 0);
        assert_int_equal(at, utc(2026, 3, 29, 1, 0, 0));
        expect_offset(tz, at - 1, 3600, false);
        expect_offset(tz, at, 7200, true);
        expect(tz, civ(2026, 3, 29, 2, 30, 0), TZ_GAP_SHIFT, TZ_FOLD_FIRST, 1,
               utc(2026, 3, 29, 1, 30, 0), 0);
        assert_int_equal(tz_utc_to_civil(tz, utc(2026, 3, 29, 1, 30, 0), &c), 0);
        assert_int_equal(c.hour, 3);
        assert_int_equal(c.min, 30);
        expect(tz, civ(2026, 3, 29, 2, 30, 0), TZ_GAP_SKIP, TZ_FOLD_FIRST, 0, 0, 0);
        expect(tz, civ(2026, 3, 29, 2, 0, 0), TZ_GAP_SKIP, TZ_FOLD_FIRST, 0, 0, 0);
        expect(tz, civ(2026, 3, 29, 1, 59, 59), TZ_GAP_SKIP, TZ_FOLD_FIRST, 1,
               utc(2026, 3, 29, 0, 59, 59), 0);
        expect(tz, civ(2026, 3, 29, 3, 0, 0), TZ_GAP_SKIP, TZ_FOLD_FIRST, 1,
               utc(2026, 3, 29, 1, 0, 0), 0);
        /* Fall: 2026-10-25 01:00Z, 03:00 CEST -> 02:00 CET. */
        assert_int_equal(tz_next_transition(tz, at, &at), 0);
        assert_int_equal(at, utc(2026, 10, 25, 1, 0, 0));
        expect(tz, civ(2026, 10, 25, 2, 30, 0), TZ_GAP_SHIFT, TZ_FOLD_FIRST, 1,
               utc(2026, 10, 25, 0, 30, 0), 0);
        expect(tz, civ(2026, 10, 25, 2, 30, 0), TZ_GAP_SHIFT, TZ_FOLD_LAST, 1,
               utc(2026, 10, 25, 1, 30, 0), 0);
        expect(tz, civ(2026, 10, 25, 2, 30, 0), TZ_GAP_SKIP, TZ_FOLD_BOTH, 2,
               utc(2026, 10, 25, 0, 30, 0), utc(2026, 10, 25, 1, 30, 0));
        expect(tz, civ(2026, 10, 25, 3, 0, 0), TZ_GAP_SHIFT, TZ_FOLD_BOTH, 1,
               utc(2026, 10, 25, 2, 0, 0), 0);
        expect(tz, civ(2026, 7, 1, 12, 0, 0), TZ_GAP_SHIFT, TZ_FOLD_BOTH, 1,
               utc(2026, 7, 1, 10, 0, 0), 0);
        tz_free(tz);
}

static void new_york_2026(void **state)
{
        struct tz *tz = load("America/New_York");
        int64_t at = 0;

        (void)state;
        assert_int_equal(tz_next_transition(tz, utc(2026, 1, 1, 0, 0, 0), &at), 0);
        assert_int_equal(at, utc(2026, 3, 8, 7, 0, 0));
        expect_offset(tz, at, -4 * 3600, true);
        assert_int_equal(tz_next_transition(tz, at, &at), 0);
        assert_int_equal(at, utc(2026, 11, 1, 6, 0, 0));
        expect_offset(tz, at, -5 * 3600, false);
        expect(tz, civ(2026, 3, 8, 2, 30, 0), TZ_GAP_SHIFT, TZ_FOLD_FIRST, 1,
               utc(2026, 3, 8, 7, 30, 0), 0);
        expect(tz, civ(2026, 3, 8, 2, 30, 0), TZ_GAP_SKIP, TZ_FOLD_FIRST, 0, 0, 0);
        expect(tz, civ(2026, 11, 1, 1, 30, 0), TZ_GAP_SHIFT, TZ_FOLD_BOTH, 2,
               utc(2026, 11, 1, 5, 30, 0), utc(2026, 11, 1, 6, 30, 0));
        tz_free(tz);
}

static void lord_howe_half_hour(void **state)
{
        struct tz *tz = load("Australia/Lord_Howe");
        int64_t at = 0;

        (void)state;
        assert_int_equal(tz_next_transition(tz, utc(2026, 1, 1, 0, 0, 0), &at), 0);
        assert_int_equal(at, 1775314800); /* 2026-04-04 15:00Z: +11 -> +10:30 */
        expect_offset(tz, at - 1, 39600, true);
        expect_offset(tz, at, 37800, false);
        assert_int_equal(tz_next_transition(tz, at, &at), 0);
        assert_int_equal(at, 1791041400); /* 2026-10-03 15:30Z: +10:30 -> +11 */
        /* 01:45 on Apr 5 happens twice, 30 minutes apart. */
        expect(tz, civ(2026, 4, 5, 1, 45, 0), TZ_GAP_SHIFT, TZ_FOLD_BOTH, 2,
               utc(2026, 4, 4, 14, 45, 0), utc(2026, 4, 4, 15, 15, 0));
        /* 02:15 on Oct 4 does not exist; shifted by the 30-minute gap to 02:45. */
        expect(tz, civ(2026, 10, 4, 2, 15, 0), TZ_GAP_SHIFT, TZ_FOLD_FIRST, 1,
               utc(2026, 10, 3, 15, 45, 0), 0);
        expect(tz, civ(2026, 10, 4, 2, 15, 0), TZ_GAP_SKIP, TZ_FOLD_FIRST, 0, 0, 0);
        expect(tz, civ(2026, 10, 4, 2, 30, 0), TZ_GAP_SKIP, TZ_FOLD_FIRST, 1,
               utc(2026, 10, 3, 15, 30, 0), 0);
        tz_free(tz);
}

static void kathmandu_fixed(void **state)
{
        struct tz *tz = load("Asia/Kathmandu");
        int64_t at = 0;
        struct tz_civil c;

        (void)state;
        expect_offset(tz, utc(2026, 6, 1, 0, 0, 0), 20700, false);
        expect_offset(tz, utc(2200, 6, 1, 0, 0, 0), 20700, false);
        assert_int_equal(tz_next_transition(tz, utc(2026, 1, 1, 0, 0, 0), &at), BATON_ENOTFOUND);
        /* 1986-01-01 moved from +05:30 to +05:45. */
        assert_int_equal(tz_next_transition(tz, utc(1985, 1, 1, 0, 0, 0), &at), 0);
        assert_int_equal(at, utc(1985, 12, 31, 18, 30, 0));
        expect(tz, civ(2026, 6, 1, 12, 0, 0), TZ_GAP_SHIFT, TZ_FOLD_FIRST, 1,
               utc(2026, 6, 1, 6, 15, 0), 0);
        assert_int_equal(tz_utc_to_civil(tz, utc(2026, 12, 31, 18, 15, 0), &c), 0);
        assert_int_equal(c.year, 2027);
        assert_int_equal(c.month, 1);
        assert_int_equal(c.day, 1);
        assert_int_equal(c.hour, 0);
        assert_int_equal(c.min, 0);
        tz_free(tz);
}

static void apia_skipped_day(void **state)
{
        struct tz *tz = load("Pacific/Apia");
        int64_t at = 0;
        struct tz_civil c;

        (void)state;
        assert_int_equal(tz_next_transition(tz, utc(2011, 12, 1, 0, 0, 0), &at), 0);
        assert_int_equal(at, utc(2011, 12, 30, 10, 0, 0));
        expect_offset(tz, at - 1, -36000, true);
        expect_offset(tz, at, 50400, true);
        expect(tz, civ(2011, 12, 29, 23, 59, 59), TZ_GAP_SKIP, TZ_FOLD_FIRST, 1, at - 1, 0);
        expect(tz, civ(2011, 12, 31, 0, 0, 0), TZ_GAP_SKIP, TZ_FOLD_FIRST, 1, at, 0);
        /* Every hour of 2011-12-30 is missing; shifted, each lands a day later. */
        for (int h = 0; h < 24; h++) {
                expect(tz, civ(2011, 12, 30, h, 0, 0), TZ_GAP_SKIP, TZ_FOLD_FIRST, 0, 0, 0);
                expect(tz, civ(2011, 12, 30, h, 0, 0), TZ_GAP_SHIFT, TZ_FOLD_FIRST, 1,
                       utc(2011, 12, 30, h + 10, 0, 0), 0);
        }
        assert_int_equal(tz_utc_to_civil(tz, utc(2011, 12, 30, 22, 0, 0), &c), 0);
        assert_int_equal(c.day, 31);
        assert_int_equal(c.hour, 12);
        tz_free(tz);
}

/* Beyond the table (2037 in "fat" files, earlier in "slim" ones) the footer
 * rule decides: Berlin changes on the last Sundays of March and October at
 * 01:00Z, New York on the second Sunday of March and first of November. */
static void far_future_rule(void **state)
{
        struct tz *b = load("Europe/Berlin");
        struct tz *ny = load("America/New_York");
        struct tz *lh = load("Australia/Lord_Howe");
        int64_t at = 0, y;
        int m, d;

        (void)state;
        assert_int_equal(tz_next_transition(b, utc(2100, 1, 1, 0, 0, 0), &at), 0);
        assert_int_equal(at, 4109878800); /* 2100-03-28 01:00Z */
        assert_int_equal(tz_next_transition(b, at, &at), 0);
        assert_int_equal(at, 4128627600); /* 2100-10-31 01:00Z */
        assert_int_equal(tz_next_transition(ny, utc(2100, 1, 1, 0, 0, 0), &at), 0);
        assert_int_equal(at, 4108690800);
        assert_int_equal(tz_next_transition(ny, at, &at), 0);
        assert_int_equal(at, 4129250400);
        assert_int_equal(tz_next_transition(lh, utc(2100, 1, 1, 0, 0, 0), &at), 0);
        assert_int_equal(at, 4110447600);
        assert_int_equal(tz_next_transition(lh, at, &at), 0);
        assert_int_equal(at, 4126174200);
        expect(b, civ(2100, 3, 28, 2, 30, 0), TZ_GAP_SHIFT, TZ_FOLD_FIRST, 1,
               utc(2100, 3, 28, 1, 30, 0), 0);
        expect(b, civ(2100, 10, 31, 2, 30, 0), TZ_GAP_SHIFT, TZ_FOLD_BOTH, 2,
               utc(2100, 10, 31, 0, 30, 0), utc(2100, 10, 31, 1, 30, 0));
        for (int year = 2030; year <= 2500; year++) {
                assert_int_equal(tz_next_transition(b, utc(year, 1, 1, 0, 0, 0), &at), 0);
                assert_int_equal(at % 86400, 3600);
                tz_civil_from_days(at / 86400, &y, &m, &d);
                assert_int_equal(y, year);
                assert_int_equal(m, 3);
                assert_true(d + 7 > 31);
                assert_int_equal(tz_weekday(at / 86400), 0);
                expect_offset(b, at, 7200, true);
        }
        tz_free(b);
        tz_free(ny);
        tz_free(lh);
}

static void utc_zone(void **state)
{
        const char *names[] = {"UTC", "Etc/UTC"};
        struct tz *tz = NULL;
        int64_t at = 0;
        struct tz_civil c;
        int32_t off;
        bool dst;

        (void)state;
        for (size_t i = 0; i < 2; i++) {
                tz = load(names[i]);
                assert_string_equal(tz_name(tz), names[i]);
                expect_offset(tz, utc(2026, 3, 29, 1, 0, 0), 0, false);
                expect_offset(tz, -5000000000LL, 0, false);
                assert_int_equal(tz_next_transition(tz, 0, &at), BATON_ENOTFOUND);
                assert_int_equal(tz_utc_to_civil(tz, -1, &c), 0);
                assert_int_equal(c.year, 1969);
                assert_int_equal(c.hour, 23);
                assert_int_equal(c.sec, 59);
                expect(tz, civ(2026, 10, 25, 2, 30, 0), TZ_GAP_SHIFT, TZ_FOLD_BOTH, 1,
                       utc(2026, 10, 25, 2, 30, 0), 0);
                tz_free(tz);
        }
        /* Works without tzdata too. */
        assert_int_equal(tz_load_dir("/nonexistent-tzdir", "UTC", &tz, NULL, 0), 0);
        expect_offset(tz, 0, 0, false);
        tz_free(tz);
        tz = load("UTC");
        assert_int_equal(tz_offset_at(tz, TZ_MAX_S + 1, &off, &dst), BATON_ERANGE);
        tz_free(tz);
}

static void invalid_names(void **state)
{
        const char *bad[] = {"",
                             "/etc/passwd",
                             "../etc/passwd",
                             "Europe/../../etc/passwd",
                             "Europe//Berlin",
                             "Europe/Berlin/",
                             "Europe/Berl.in",
                             "Europe Berlin",
                             "Europe/Berlin\n",
                             "Europe\\Berlin",
                             "Europe/Berlin;rm"};
        char longname[400];
        struct tz *tz = (struct tz *)1;
        char err[128];

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = 0;
                assert_int_equal(tz_load(bad[i], &tz, err, sizeof(err)), BATON_EINVAL);
                assert_null(tz);
                assert_string_equal(err, "invalid time zone name");
        }
        memset(longname, 'A', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        assert_int_equal(tz_load(longname, &tz, err, sizeof(err)), BATON_EINVAL);
        assert_int_equal(tz_load(NULL, &tz, NULL, 0), BATON_EINVAL);
        assert_int_equal(tz_name_validate("America/Argentina/Buenos_Aires"), 0);
        assert_int_equal(tz_name_validate("Etc/GMT+5"), 0);
}

static void unknown_zone(void **state)
{
        struct tz *tz = NULL;
        char err[128];

        (void)state;
        assert_int_equal(tz_load("Mars/Olympus_Mons", &tz, err, sizeof(err)), BATON_ENOTFOUND);
        assert_string_equal(err, "unknown time zone");
        assert_null(tz);
        /* A directory is not a zone. */
        assert_int_equal(tz_load("Europe", &tz, err, sizeof(err)), BATON_ENOTFOUND);
        assert_int_equal(tz_load("Europe/Berlin/x", &tz, err, sizeof(err)), BATON_ENOTFOUND);
        /* TZDIR is honoured. */
        setenv("TZDIR", "/nonexistent-tzdir", 1);
        assert_int_equal(tz_load("Europe/Berlin", &tz, err, sizeof(err)), BATON_ENOTFOUND);
        unsetenv("TZDIR");
}

/* ---- corrupt files ---- */

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
        FILE *f = fopen(path, "rb");
        size_t n;

        assert_non_null(f);
        n = fread(buf, 1, cap, f);
        fclose(f);
        assert_true(n > 0 && n < cap);
        return n;
}

static void spit(const char *dir, const uint8_t *buf, size_t n)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/Test", dir);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, n, f), n);
        fclose(f);
}

/* Loads dir/Test; whatever happens, it must be 0 or EINVAL, and a zone that
 * loads must answer queries without crashing. */
static int try_load(const char *dir)
{
        struct tz *tz = NULL;
        char err[128];
        int64_t out[2], at;
        int32_t off;
        bool dst;
        int n, rc;
        struct tz_civil c = civ(2026, 3, 29, 2, 30, 0);

        rc = tz_load_dir(dir, "Test", &tz, err, sizeof(err));
        if (rc) {
                assert_int_equal(rc, BATON_EINVAL);
                assert_null(tz);
                assert_true(strlen(err) > 0);
                return rc;
        }
        for (int64_t t = -4000000000LL; t < 8000000000LL; t += 97 * 86400 + 3601) {
                assert_int_equal(tz_offset_at(tz, t, &off, &dst), 0);
                (void)tz_next_transition(tz, t, &at);
        }
        (void)tz_civil_to_utc(tz, &c, TZ_GAP_SHIFT, TZ_FOLD_BOTH, out, &n);
        tz_free(tz);
        return 0;
}

static void corrupt_files(void **state)
{
        static uint8_t orig[65536], buf[65536];
        char dir[] = "/tmp/baton-tz-XXXXXX", path[512];
        const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80};
        size_t n, v1_end;
        uint32_t cnt[6];

        (void)state;
        assert_non_null(mkdtemp(dir));
        n = slurp("/usr/share/zoneinfo/Europe/Berlin", orig, sizeof(orig));
        /* The intact copy loads. */
        spit(dir, orig, n);
        assert_int_equal(try_load(dir), 0);
        /* Every strict prefix is refused. */
        for (size_t len = 0; len < n; len++) {
                spit(dir, orig, len);
                assert_int_equal(try_load(dir), BATON_EINVAL);
        }
        /* Any single corrupted byte is refused or yields a usable zone. */
        for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < sizeof(vals); k++) {
                        memcpy(buf, orig, n);
                        buf[i] = vals[k];
                        spit(dir, buf, n);
                        (void)try_load(dir);
                }
        }
        /* Specific damage: magic, version, huge count, bad footer. */
        memcpy(buf, orig, n);
        buf[0] = 'X';
        spit(dir, buf, n);
        assert_int_equal(try_load(dir), BATON_EINVAL);
        memcpy(buf, orig, n);
        buf[4] = '9';
        spit(dir, buf, n);
        assert_int_equal(try_load(dir), BATON_EINVAL);
        memcpy(buf, orig, n);
        buf[32] = buf[33] = buf[34] = buf[35] = 0xff;
        spit(dir, buf, n);
        assert_int_equal(try_load(dir), BATON_EINVAL);
        memcpy(buf, orig, n);
        memcpy(buf + n - 8, "XYZ9ZZ\n", 7); /* footer "CET-1CEST,M3.5.0,M1XYZ9ZZ" */
        spit(dir, buf, n - 1);
        assert_int_equal(try_load(dir), BATON_EINVAL);
        /* A version 1 file (the 32-bit block only) still works. */
        for (int i = 0; i < 6; i++)
                cnt[i] = (uint32_t)orig[20 + 4 * i] << 24 | (uint32_t)orig[21 + 4 * i] << 16 |
                         (uint32_t)orig[22 + 4 * i] << 8 | orig[23 + 4 * i];
        v1_end = 44 + cnt[3] * 5 + cnt[4] * 6 + cnt[5] + cnt[2] * 8 + cnt[1] + cnt[0];
        assert_true(v1_end < n);
        memcpy(buf, orig, v1_end);
        buf[4] = 0;
        spit(dir, buf, v1_end);
        {
                struct tz *tz = NULL;

                assert_int_equal(tz_load_dir(dir, "Test", &tz, NULL, 0), 0);
                expect_offset(tz, utc(2026, 7, 1, 0, 0, 0), 7200, true);
                expect_offset(tz, utc(2026, 1, 1, 0, 0, 0), 3600, false);
                tz_free(tz);
        }
        snprintf(path, sizeof(path), "%s/Test", dir);
        unlink(path);
        rmdir(dir);
}

/* ---- round trips and a cross-check against glibc ---- */

static const char *const zones[] = {"Europe/Berlin",       "America/New_York", "Europe/London",
                                    "Australia/Lord_Howe", "Asia/Kathmandu",   "Pacific/Apia",
                                    "Australia/Sydney",    "America/St_Johns"};

/* Every hour of 2026 (and every quarter hour for 30/45-minute zones): UTC ->
 * civil -> UTC returns the instant (one of two in a fold); and every civil
 * hour resolves to an instant that reads back as itself unless it is in a gap. */
static void round_trips(void **state)
{
        (void)state;
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
                struct tz *tz = load(zones[z]);
                int64_t t0 = utc(2026, 1, 1, 0, 0, 0), out[2];
                int folds = 0, gaps = 0, n;
                struct tz_civil c, back;

                for (int64_t t = t0; t < t0 + 365 * 86400; t += 900) {
                        assert_int_equal(tz_utc_to_civil(tz, t, &c), 0);
                        assert_int_equal(
                            tz_civil_to_utc(tz, &c, TZ_GAP_SKIP, TZ_FOLD_BOTH, out, &n), 0);
                        assert_true(n == 1 || n == 2);
                        assert_true(out[0] == t || (n == 2 && out[1] == t));
                        folds += n == 2;
                }
                for (int64_t day = 0; day < 365; day++) {
                        for (int h = 0; h < 24; h++) {
                                int64_t y;

                                tz_civil_from_days(tz_days_from_civil(2026, 1, 1) + day, &y,
                                                   &c.month, &c.day);
                                c.year = (int)y;
                                c.hour = h;
                                c.min = 15;
                                c.sec = 0;
                                assert_int_equal(
                                    tz_civil_to_utc(tz, &c, TZ_GAP_SKIP, TZ_FOLD_LAST, out, &n), 0);
                                if (n == 0) {
                                        gaps++;
                                        continue;
                                }
                                assert_int_equal(tz_utc_to_civil(tz, out[0], &back), 0);
                                assert_memory_equal(&back, &c, sizeof(c));
                        }
                }
                /* One 1-hour (or 30-minute) DST change each way where DST is kept. */
                if (strcmp(zones[z], "Asia/Kathmandu") == 0 ||
                    strcmp(zones[z], "Pacific/Apia") == 0) {
                        assert_int_equal(folds, 0);
                        assert_int_equal(gaps, 0);
                } else if (strcmp(zones[z], "Australia/Lord_Howe") == 0) {
                        assert_int_equal(folds, 4); /* 2 quarter hours, twice */
                        assert_int_equal(gaps, 1);
                } else {
                        assert_int_equal(folds, 8); /* 4 quarter hours, twice */
                        assert_int_equal(gaps, 1);
                }
                tz_free(tz);
        }
}

/* "Slim" TZif files (zic -b slim) stop their tables early and leave the rest
 * to the footer rule: compiled from the installed tzdata.zi, they must give
 * the same offsets and transitions as the installed "fat" files. */
static void slim_files_match_fat(void **state)
{
        char dir[] = "/tmp/baton-tzslim-XXXXXX", cmd[512];

        (void)state;
        if (access("/usr/sbin/zic", X_OK) != 0 ||
            access("/usr/share/zoneinfo/tzdata.zi", R_OK) != 0)
                skip();
        assert_non_null(mkdtemp(dir));
        snprintf(cmd, sizeof(cmd), "/usr/sbin/zic -b slim -d %s /usr/share/zoneinfo/tzdata.zi",
                 dir);
        assert_int_equal(system(cmd), 0);
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
                struct tz *fat = load(zones[z]), *slim = NULL;
                int64_t a = utc(1970, 1, 1, 0, 0, 0), b = a;
                int32_t o1, o2;
                bool d1, d2;

                assert_int_equal(tz_load_dir(dir, zones[z], &slim, NULL, 0), 0);
                for (int64_t t = a; t < utc(2200, 1, 1, 0, 0, 0); t += 4020) {
                        assert_int_equal(tz_offset_at(fat, t, &o1, &d1), 0);
                        assert_int_equal(tz_offset_at(slim, t, &o2, &d2), 0);
                        assert_int_equal(o1, o2);
                        assert_int_equal(d1, d2);
                }
                for (int i = 0; i < 600; i++) {
                        int r1 = tz_next_transition(fat, a, &a);
                        int r2 = tz_next_transition(slim, b, &b);

                        assert_int_equal(r1, r2);
                        if (r1)
                                break;
                        assert_int_equal(a, b);
                }
                tz_free(fat);
                tz_free(slim);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void matches_glibc(void **state)
{
        (void)state;
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
                struct tz *tz = load(zones[z]);
                char env[128];

                snprintf(env, sizeof(env), ":%s", zones[z]);
                setenv("TZ", env, 1);
                tzset();
                /* 1850..2140 every 5 h 7 min: hits every hour of the day over time. */
                for (int64_t t = -3786825600LL; t < 5364662400LL; t += 18420) {
                        struct tm tm;
                        time_t tt = (time_t)t;
                        int32_t off;
                        bool dst;

                        assert_non_null(localtime_r(&tt, &tm));
                        assert_int_equal(tz_offset_at(tz, t, &off, &dst), 0);
                        if (off != tm.tm_gmtoff || dst != (tm.tm_isdst > 0))
                                fail_msg("%s at %lld: ours %d/%d, glibc %ld/%d", zones[z],
                                         (long long)t, off, dst, tm.tm_gmtoff, tm.tm_isdst);
                }
                tz_free(tz);
        }
        unsetenv("TZ");
        tzset();
}

/* The per-thread cache: hits share one zone, the least recently used zone
 * goes when it is full (and stays valid for whoever still holds it), stale
 * entries are read again, and failed loads are not kept. */
static void zone_cache(void **state)
{
        struct tz_cache *c = NULL;
        struct tz_cache_stats st;
        struct tz *london, *again, *berlin, *apia, *x;
        char err[128];
        int32_t off;
        bool dst;

        (void)state;
        assert_int_equal(tz_cache_new(NULL, 0, 1000, &c), BATON_EINVAL);
        assert_int_equal(tz_cache_new(NULL, 2, 1000, &c), 0);
        assert_int_equal(tz_cache_get(c, "Europe/London", 0, &london, err, sizeof(err)), 0);
        assert_int_equal(tz_cache_get(c, "Europe/London", 10, &again, err, sizeof(err)), 0);
        assert_ptr_equal(london, again);
        tz_free(again);
        assert_int_equal(tz_cache_get(c, "Europe/Berlin", 20, &berlin, err, sizeof(err)), 0);
        tz_free(berlin);
        /* Full: London (last used before Berlin) is evicted, but this holder's
         * reference keeps it usable (ASan would see a use after free). */
        assert_int_equal(tz_cache_get(c, "Pacific/Apia", 30, &apia, err, sizeof(err)), 0);
        tz_free(apia);
        assert_int_equal(tz_offset_at(london, utc(2026, 7, 1, 12, 0, 0), &off, &dst), 0);
        assert_int_equal(off, 3600);
        assert_string_equal(tz_name(london), "Europe/London");
        tz_free(london);
        tz_cache_stats(c, &st);
        assert_int_equal(st.hits, 1);
        assert_int_equal(st.misses, 3);
        assert_int_equal(st.evictions, 1);
        assert_int_equal(st.zones, 2);
        /* Unknown zones are refused each time and take no slot. */
        assert_int_equal(tz_cache_get(c, "Mars/Olympus", 40, &x, err, sizeof(err)),
                         BATON_ENOTFOUND);
        assert_null(x);
        assert_string_equal(err, "unknown time zone");
        tz_cache_stats(c, &st);
        assert_int_equal(st.zones, 2);
        /* The failed load counted as a miss. Berlin, loaded at 20, is fresh
         * at 500 (a hit) and stale at 1020 (read again). */
        assert_int_equal(tz_cache_get(c, "Europe/Berlin", 500, &x, err, sizeof(err)), 0);
        tz_free(x);
        tz_cache_stats(c, &st);
        assert_int_equal(st.misses, 4);
        assert_int_equal(tz_cache_get(c, "Europe/Berlin", 1020, &x, err, sizeof(err)), 0);
        tz_free(x);
        tz_cache_stats(c, &st);
        assert_int_equal(st.misses, 5);
        assert_int_equal(st.hits, 2);
        tz_cache_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(calendar_helpers),     cmocka_unit_test(berlin_2026),
            cmocka_unit_test(new_york_2026),        cmocka_unit_test(lord_howe_half_hour),
            cmocka_unit_test(kathmandu_fixed),      cmocka_unit_test(apia_skipped_day),
            cmocka_unit_test(far_future_rule),      cmocka_unit_test(utc_zone),
            cmocka_unit_test(invalid_names),        cmocka_unit_test(unknown_zone),
            cmocka_unit_test(corrupt_files),        cmocka_unit_test(round_trips),
            cmocka_unit_test(slim_files_match_fat), cmocka_unit_test(matches_glibc),
            cmocka_unit_test(zone_cache),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
