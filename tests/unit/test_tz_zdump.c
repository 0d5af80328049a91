/*
 * test_tz_zdump.c: every offset change common/tz.c finds between 1990 and
 * 2040 (tz_next_transition, tz_offset_at) checked against `zdump -v`, the tz
 * database's own dump tool (libc-bin on Debian), reading the same zone files:
 * the same instants, the same UTC offset and DST flag before and after each.
 * The zones include the ones cron schedules find hardest: Lord Howe's
 * 30-minute DST, Kathmandu's +05:45, Apia's skipped day, Dublin's negative
 * DST, Troll's two-hour DST, Casablanca's Ramadan changes, zones that
 * abolished DST (Sao Paulo, Tehran) and Moscow's 2011 and 2014 changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/tz.h"

#define TRANS_MAX 2048

struct change {
        int64_t at; /* first second of the new offset, UTC */
        int32_t off_before, off_after;
        bool dst_before, dst_after;
};

static const char *zdump_path(void)
{
        static const char *const paths[] = {"/usr/bin/zdump", "/usr/sbin/zdump", "/bin/zdump"};

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

/* One zdump -v line: "Zone  Sun Sep 26 10:59:59 2010 UT = Sat Sep 25
 * 23:59:59 2010 -11 isdst=0 gmtoff=-39600". false for the NULL lines. */
static bool parse_line(const char *line, int64_t *ut, int32_t *off, bool *dst)
{
        struct tm tm;
        const char *p = strchr(line, ' '), *q;
        int isdst;
        long gmtoff;

        if (!p || strstr(line, "= NULL"))
                return false;
        p += strspn(p, " ");
        memset(&tm, 0, sizeof(tm));
        q = strptime(p, "%a %b %d %H:%M:%S %Y UT", &tm);
        assert_non_null(q);
        *ut = (int64_t)timegm(&tm);
        p = strstr(q, "isdst=");
        assert_non_null(p);
        assert_int_equal(sscanf(p, "isdst=%d gmtoff=%ld", &isdst, &gmtoff), 2);
        *off = (int32_t)gmtoff;
        *dst = isdst != 0;
        return true;
}

/* The changes zdump reports for zone in [from, to): pairs of lines one
 * second apart. Changes of the abbreviation alone are left out (tz.c
 * reports offset and DST changes). */
static int zdump_changes(const char *zone, int y0, int y1, int64_t from, int64_t to,
                         struct change *out)
{
        char cmd[256], line[512];
        int64_t prev_ut = 0, ut;
        int32_t prev_off = 0, off;
        bool prev_dst = false, have = false, dst;
        int n = 0;
        FILE *f;

        snprintf(cmd, sizeof(cmd), "%s -v -c %d,%d %s", zdump_path(), y0, y1, zone);
        f = popen(cmd, "r");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
                if (!parse_line(line, &ut, &off, &dst)) {
                        have = false;
                        continue;
                }
                if (have && ut == prev_ut + 1 && (off != prev_off || dst != prev_dst) &&
                    ut >= from && ut < to) {
                        assert_true(n < TRANS_MAX);
                        out[n++] = (struct change){ut, prev_off, off, prev_dst, dst};
                }
                prev_ut = ut;
                prev_off = off;
                prev_dst = dst;
                have = true;
        }
        assert_int_equal(pclose(f), 0);
        return n;
}

static int tz_changes(const struct tz *tz, int64_t from, int64_t to, struct change *out)
{
        int64_t t = from - 1;
        int n = 0;

        while (tz_next_transition(tz, t, &t) == 0 && t < to) {
                struct change *c = &out[n];
                assert_true(n < TRANS_MAX);
                c->at = t;
                assert_int_equal(tz_offset_at(tz, t - 1, &c->off_before, &c->dst_before), 0);
                assert_int_equal(tz_offset_at(tz, t, &c->off_after, &c->dst_after), 0);
                n++;
        }
        return n;
}

static bool same(const struct change *a, const struct change *b)
{
        return a->at == b->at && a->off_before == b->off_before && a->off_after == b->off_after &&
               a->dst_before == b->dst_before && a->dst_after == b->dst_after;
}

static void fmt(const struct change *c, char *buf, size_t cap)
{
        time_t t = (time_t)c->at;
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ %+d%s -> %+d%s", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, c->off_before,
                 c->dst_before ? " dst" : "", c->off_after, c->dst_after ? " dst" : "");
}

/* Compares one zone over the years [y0, y1); returns how many changes. The
 * first and last day are left out on both sides: zdump's cut-off years
 * need not fall on the same second as ours. */
static int check_zone(const char *zone, int y0, int y1)
{
        static struct change want[TRANS_MAX], got[TRANS_MAX];
        struct tm a = {.tm_year = y0 - 1900, .tm_mday = 2};
        struct tm b = {.tm_year = y1 - 1900 - 1, .tm_mon = 11, .tm_mday = 31};
        int64_t from = (int64_t)timegm(&a), to = (int64_t)timegm(&b);
        struct tz *tz = NULL;
        char err[128], w[96], g[96];
        int nw, ng;

        assert_int_equal(tz_load(zone, &tz, err, sizeof(err)), 0);
        nw = zdump_changes(zone, y0, y1, from, to, want);
        ng = tz_changes(tz, from, to, got);
        tz_free(tz);
        for (int i = 0; i < nw || i < ng; i++) {
                if (i < nw && i < ng && same(&want[i], &got[i]))
                        continue;
                snprintf(w, sizeof(w), "nothing");
                snprintf(g, sizeof(g), "nothing");
                if (i < nw)
                        fmt(&want[i], w, sizeof(w));
                if (i < ng)
                        fmt(&got[i], g, sizeof(g));
                fail_msg("%s change %d: zdump says %s, tz.c says %s", zone, i, w, g);
        }
        return nw;
}

static void zones_match_zdump(void **state)
{
        static const char *const zones[] = {
            "Europe/London",     "America/New_York", "Australia/Lord_Howe",
            "Asia/Kathmandu",    "Pacific/Apia",     "Europe/Berlin",
            "Europe/Dublin",     "Antarctica/Troll", "Africa/Casablanca",
            "America/Sao_Paulo", "Asia/Tehran",      "Europe/Moscow",
            "Pacific/Chatham",   "America/St_Johns", "Australia/Adelaide",
            "America/Santiago",  "Asia/Gaza",        "UTC",
        };
        int total = 0, n;

        (void)state;
        if (!zdump_path())
                fail_msg("zdump not found: install libc-bin (scripts/deps.sh)");
        for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
                n = check_zone(zones[i], 1990, 2040);
                /* Zones that change twice a year must show it. */
                if (strcmp(zones[i], "Europe/London") == 0 ||
                    strcmp(zones[i], "America/New_York") == 0 ||
                    strcmp(zones[i], "Australia/Lord_Howe") == 0)
                        assert_true(n >= 98);
                total += n;
        }
        print_message("%d transitions between 1990 and 2040 agree with zdump\n", total);
        assert_true(total > 1000);
}

/* Kathmandu's one modern change, 1986 (+05:30 -> +05:45), and Apia's
 * skipped day, checked by name. */
static void named_changes(void **state)
{
        static struct change c[TRANS_MAX];
        struct tm a = {.tm_year = 80, .tm_mday = 2},
                  b = {.tm_year = 89, .tm_mon = 11, .tm_mday = 31};

        (void)state;
        if (!zdump_path())
                fail_msg("zdump not found: install libc-bin (scripts/deps.sh)");
        assert_int_equal(check_zone("Asia/Kathmandu", 1980, 1990), 1);
        assert_int_equal(zdump_changes("Asia/Kathmandu", 1980, 1990, (int64_t)timegm(&a),
                                       (int64_t)timegm(&b), c),
                         1);
        assert_int_equal(c[0].off_before, 19800);
        assert_int_equal(c[0].off_after, 20700);
        assert_true(check_zone("Pacific/Apia", 2011, 2012) >= 3);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(zones_match_zdump),
            cmocka_unit_test(named_changes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
