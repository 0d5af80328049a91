/*
 * tz.h: IANA time zones read straight from TZif files (RFC 8536, versions 1-4),
 * without libc's TZ machinery, so that many zones can be used at once from any
 * thread. Workload: the cron scheduler loads one struct tz per distinct
 * schedule zone and asks, many times per schedule, for UTC <-> local civil
 * conversions and for the next offset change. Assumptions: times are Unix
 * seconds (no leap seconds; "right/" zone files are refused), UTC offsets stay
 * within RFC 8536's -89999..93599 s, and the supported range of instants is
 * TZ_MIN_S..TZ_MAX_S (about years -29000..33000); outside it functions
 * return BATON_ERANGE. A struct tz is immutable after tz_load, owned by the
 * caller, freed with tz_free, and may be shared read-only between threads.
 */
#ifndef BATON_COMMON_TZ_H
#define BATON_COMMON_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TZ_MIN_S (-1000000000000LL)
#define TZ_MAX_S (1000000000000LL)
#define TZ_NAME_MAX 255

/* Local wall-clock time: month 1-12, day 1-31, hour 0-23, min 0-59, sec 0-59. */
struct tz_civil {
        int year, month, day, hour, min, sec;
};

/* What to do with a wall time that does not exist (clocks jump forward). */
enum tz_gap {
        TZ_GAP_SHIFT = 0, /* move it forward by the gap's length (02:30 -> 03:30) */
        TZ_GAP_SKIP = 1,  /* no instant */
};

/* What to do with a wall time that occurs twice (clocks fall back). */
enum tz_fold {
        TZ_FOLD_FIRST = 0, /* the earlier instant */
        TZ_FOLD_LAST = 1,  /* the later instant */
        TZ_FOLD_BOTH = 2,  /* both, ascending */
};

struct tz;

/*
 * Loads zone name ("Europe/Berlin", "UTC") from $TZDIR or /usr/share/zoneinfo.
 * Returns 0 and *out (owned by the caller, freed with tz_free), or
 * BATON_EINVAL (bad name, or a corrupt/unsupported file), BATON_ENOTFOUND
 * ("unknown time zone"), BATON_ENOMEM, BATON_EIO; on error err (cap bytes, may
 * be NULL) holds a message and *out is NULL.
 */
int tz_load(const char *name, struct tz **out, char *err, size_t cap);
/* As tz_load, from directory dir (NULL: $TZDIR or /usr/share/zoneinfo). */
int tz_load_dir(const char *dir, const char *name, struct tz **out, char *err, size_t cap);
/* Frees a zone. NULL is a no-op. */
void tz_free(struct tz *tz);
/* The name the zone was loaded with; points into tz. */
const char *tz_name(const struct tz *tz);
/* 0 when name is a syntactically valid zone name, else BATON_EINVAL. */
int tz_name_validate(const char *name);

/* UTC offset (seconds east of Greenwich) and DST flag in effect at utc_s. */
int tz_offset_at(const struct tz *tz, int64_t utc_s, int32_t *offset_s, bool *is_dst);
/* Local civil time at utc_s. */
int tz_utc_to_civil(const struct tz *tz, int64_t utc_s, struct tz_civil *out);
/*
 * The instants at which the local clock reads c, after the gap and fold
 * policies: *n_out is 1 normally, 0 for a skipped gap, 2 for TZ_FOLD_BOTH in
 * a fold (out ascending). BATON_EINVAL when c is not a valid civil time or a
 * policy is unknown.
 */
int tz_civil_to_utc(const struct tz *tz, const struct tz_civil *c, int gap_policy, int fold_policy,
                    int64_t out[2], int *n_out);
/*
 * The first instant > utc_s at which the offset or DST flag changes (so
 * *at_s is the first second of the new offset). BATON_ENOTFOUND when the zone
 * never changes again (UTC, fixed-offset zones).
 */
int tz_next_transition(const struct tz *tz, int64_t utc_s, int64_t *at_s);

/* Civil calendar arithmetic (proleptic Gregorian, after Howard Hinnant). */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 0 = Sunday .. 6 = Saturday, for days since 1970-01-01. */
int tz_weekday(int64_t days);
bool tz_is_leap(int64_t y);
int tz_days_in_month(int64_t y, int m);
/* 0 when c is a valid civil time inside the supported range, else BATON_EINVAL. */
int tz_civil_validate(const struct tz_civil *c);

#endif
