/*
 * cron_expr.h: cron expressions: parsing, next fire time in local civil time,
 * never-fires detection, minimum interval and an English description.
 *
 * Workload: a schedule is parsed when it is saved or previewed and its next
 * fire time is computed once per tick, so parsing favours clear error messages
 * over speed and the next-fire search moves field by field (month, day, hour,
 * minute, second) instead of second by second.
 *
 * Assumptions: everything here works on local wall-clock time (struct civil)
 * in the proleptic Gregorian calendar, with no time zone and no DST; the
 * scheduler converts to and from UTC with common/tz.h and applies the DST gap
 * and fold rules (DESIGN §3), using cron_hour_is_wildcard() to tell fixed-time
 * schedules from those that fire on every real instant.
 *
 * Ownership: struct cron_expr is a plain value with no heap memory; copy it
 * freely. Error messages go to a caller buffer (err, errcap), which may be NULL.
 */
#ifndef BATON_CORE_CRON_EXPR_H
#define BATON_CORE_CRON_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A local wall-clock time. common/tz.h uses the same definition under the same
 * guard, so both headers can be included together. */
#ifndef BATON_CIVIL_DEFINED
#define BATON_CIVIL_DEFINED
struct civil {
        int year;  /* e.g. 2024 */
        int month; /* 1-12 */
        int day;   /* 1-31 */
        int hour;  /* 0-23 */
        int min;   /* 0-59 */
        int sec;   /* 0-59 */
};
#endif

#define CRON_TEXT_MAX 1024               /* longest accepted expression, in bytes */
#define CRON_EVERY_MAX_S (366LL * 86400) /* longest @every interval */

enum cron_dom_flag {
        CRON_DOM_LAST = 1u << 0,         /* L: the last day of the month */
        CRON_DOM_LAST_WEEKDAY = 1u << 1, /* LW: the last Monday-Friday of the month */
};

struct cron_expr {
        uint64_t seconds;   /* bit n: second n (0-59); only bit 0 without a seconds field */
        uint64_t minutes;   /* bit n: minute n (0-59) */
        uint32_t hours;     /* bit n: hour n (0-23) */
        uint32_t dom;       /* bit n: day n of the month (1-31) */
        uint32_t dom_w;     /* bit n: the weekday nearest day n (nW), within the month */
        uint8_t dom_flags;  /* enum cron_dom_flag */
        uint16_t months;    /* bit n: month n (1-12) */
        uint8_t dow;        /* bit n: weekday n (0 = Sunday .. 6) */
        uint8_t dow_last;   /* bit n: the last weekday n of the month (5L, FRIL) */
        uint8_t dow_nth[7]; /* dow_nth[w] bit k: the k-th (1-5) weekday w of the month (MON#2) */
        bool dom_star;      /* day-of-month was * or ?: it does not restrict (Vixie rule) */
        bool dow_star;      /* day-of-week was * or ? */
        bool hour_wild;     /* hour field was * or a step over all hours */
        bool has_seconds;   /* six fields, seconds first */
        int64_t every_ms;   /* @every: the interval; 0 for calendar expressions */
        bool every_days;    /* @every is whole days: move by calendar days in the zone */
};

/* Weekday of a date: 0 = Sunday .. 6 = Saturday. The calendar arithmetic
 * (days in a month, days since the epoch and back) is common/tz.h's. */
int cron_weekday(int year, int month, int day);
/* A civil time as seconds since 1970-01-01 00:00 of the same (local)
 * calendar, and back. */
int64_t cron_civil_to_wall(const struct civil *c);
void cron_wall_to_civil(int64_t wall_s, struct civil *c);
/* <0, 0, >0 as a is before, equal to or after b. */
int cron_civil_cmp(const struct civil *a, const struct civil *b);

/* A 64-bit seed for H from a schedule key (FNV-1a; stable across versions). */
uint64_t cron_seed_from_key(const char *key);

/* Parses text into *out. seed picks the values of H fields (cron_seed_from_key).
 * Returns 0, or BATON_EINVAL with "<field> field, column N: why" (or a message
 * about the whole expression) in err. Does not check that the expression can
 * fire: see cron_never_fires. */
int cron_parse(const char *text, uint64_t seed, struct cron_expr *out, char *err, size_t errcap);

/* The first matching local time strictly after *after. @every adds its interval
 * to *after (whole days keep the wall time). 0, BATON_EINVAL for an invalid
 * *after, or BATON_ERANGE when nothing matches within a 400-year Gregorian cycle,
 * i.e. the expression never fires. */
int cron_next_local(const struct cron_expr *e, const struct civil *after, struct civil *out);

/* 0 when e fires at some date, BATON_EINVAL with the reason in err when it
 * never does ("day 30 never occurs in February"). Called when a schedule is saved. */
int cron_never_fires(const struct cron_expr *e, char *err, size_t errcap);

/* True when the hour field is * or a step over all hours (or @every): such a
 * schedule fires on every real instant, in both copies of a repeated hour. */
bool cron_hour_is_wildcard(const struct cron_expr *e);

/* The smallest gap in seconds between two consecutive fires, exact over the
 * 400-year Gregorian cycle (local time, no DST). INT64_MAX when the expression
 * fires once per cycle. 0 or BATON_ERANGE when it never fires. */
int cron_min_interval_s(const struct cron_expr *e, int64_t *out_s);

/* The lowest set bit of bits in from..max, or -1. */
int cron_next_bit(uint64_t bits, int from, int max);

/* cron_describe.c: an English description ("At 06:20, 08:20 and 10:20") into
 * buf. 0 or BATON_ETOOBIG when cap is too small (buf then holds a truncated
 * text). */
int cron_describe(const struct cron_expr *e, char *buf, size_t cap);
/* cron_describe.c: why e never fires, into err (for cron_never_fires). */
void cron_describe_never(const struct cron_expr *e, char *err, size_t errcap);

#endif
