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
 * A zone carries a reference count (tz_ref adds one, tz_free drops one) that
 * is not atomic: references are taken and dropped on one thread, which is
 * how struct tz_cache hands zones out.
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
/* Drops a reference to a zone, freeing it with the last one. NULL is a no-op. */
void tz_free(struct tz *tz);
/* Adds a reference (released with tz_free); returns tz. Same thread only. */
struct tz *tz_ref(struct tz *tz);
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

/*
 * A bounded cache of loaded zones for one thread. Workload: the store thread
 * computes fire times for thousands of schedules per tick, most of them in a
 * handful of zones; reading and validating a TZif file for each would cost
 * more than the computation. At most max zones are kept (least recently used
 * evicted first), each reloaded from disk once it is older than ttl_ms, so a
 * tzdata upgrade reaches a running server without a restart. The cache is
 * confined to the thread that created it (asserted): it is the context of
 * that thread (the store thread's struct txn), never a global.
 */
struct tz_cache;

struct tz_cache_stats {
        uint64_t hits, misses, evictions;
        size_t zones;
};

/* 0 or BATON_ENOMEM; *out is owned by the caller (tz_cache_free). dir: as
 * tz_load_dir (NULL: $TZDIR or /usr/share/zoneinfo). */
int tz_cache_new(const char *dir, size_t max, int64_t ttl_ms, struct tz_cache **out);
/* Drops the cache's references; zones still held elsewhere stay valid until
 * their holders tz_free them. NULL is a no-op. */
void tz_cache_free(struct tz_cache *c);
/* The zone name, from the cache or loaded (errors as tz_load, which are not
 * cached). now_ms decides the age of entries. *out is a new reference: the
 * caller releases it with tz_free, and it stays valid when evicted. */
int tz_cache_get(struct tz_cache *c, const char *name, int64_t now_ms, struct tz **out, char *err,
                 size_t cap);
void tz_cache_stats(const struct tz_cache *c, struct tz_cache_stats *out);

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
