/*
 * cron_zone.c: fire instants in a schedule's time zone: an expression bound
 * to its zone and DST policies (struct cron_sched), the next fire instant
 * after a reference (civil search with cron_next_local, each candidate
 * converted local -> UTC under the gap and fold policies), and the schedule
 * of a saved definition as a transaction computes its fires.
 *
 * Workload: cron_sched_next runs once per fire and per save (a few for a
 * misfire scan), each a bounded civil search (SEARCH_MAX candidates). Zones
 * come from the tz database, through the store thread's cache (tx->tzc) when
 * a transaction has one.
 *
 * Schedules whose hour field is a wildcard or a step fire on every real
 * instant: a wall time in a gap does not exist (skip), and both copies of a
 * repeated hour fire (fold both). Fixed-time schedules use the schedule's
 * policies (shift and first by default).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "core/cron_internal.h"

/* Candidates examined per next-fire search (a repeated hour of a seconds
 * schedule is 3,600 of them). */
#define SEARCH_MAX 20000

/* ---- expressions in a zone ---- */

void cron_sched_free(struct cron_sched *s)
{
        tz_free(s->tz);
        s->tz = NULL;
}

/* The refusal of a zone tz_load could not load (rc, its message err): a
 * name that is not in the time zone database (or cannot be one) is
 * unknown_time_zone, echoing the name; a zone file that cannot be read or
 * parsed is invalid_timezone. */
static int zone_error(const char *zone, int rc, const char *err, struct verr *e)
{
        if (rc == BATON_ENOTFOUND || tz_name_validate(zone) != 0)
                return verr_set(e, BATON_EINVAL, "unknown_time_zone", "timezone",
                                "timezone \"%s\" is not a time zone of the IANA database; use "
                                "a name such as UTC, Europe/Berlin or America/New_York",
                                zone);
        return verr_set(e, BATON_EINVAL, "invalid_timezone", "timezone", "timezone \"%s\": %s",
                        zone, err[0] ? err : "the zone cannot be loaded");
}

int cron_sched_build(const char *key, const char *cron, const char *timezone, int gap, int fold,
                     int64_t floor_ms, struct cron_sched *out, int64_t *interval_ms, struct verr *e)
{
        char err[256] = "";
        int64_t iv_s = 0, iv_ms;
        int rc;

        memset(out, 0, sizeof(*out));
        out->gap = gap;
        out->fold = fold;
        if (!cron || !*cron)
                return verr_set(e, BATON_EINVAL, "missing_field", "cron", "cron is required");
        rc = cron_parse(cron, cron_seed_from_key(key ? key : ""), &out->expr, err, sizeof(err));
        if (rc)
                return verr_set(e, BATON_EINVAL, "invalid_cron", "cron", "%s", err);
        rc = cron_never_fires(&out->expr, err, sizeof(err));
        if (rc)
                return verr_set(e, BATON_EINVAL, "cron_never_fires", "cron",
                                "the expression never fires: %s", err);
        rc = tz_load(timezone ? timezone : "UTC", &out->tz, err, sizeof(err));
        if (rc)
                return zone_error(timezone ? timezone : "UTC", rc, err, e);
        if (!interval_ms && floor_ms <= 0)
                return 0; /* the interval is a scan of the 400-year cycle: only on demand */
        if (out->expr.every_ms > 0) {
                iv_ms = out->expr.every_ms;
        } else {
                rc = cron_min_interval_s(&out->expr, &iv_s);
                iv_ms = rc ? INT64_MAX : (iv_s >= INT64_MAX / 1000 ? INT64_MAX : iv_s * 1000);
        }
        if (interval_ms)
                *interval_ms = iv_ms;
        if (floor_ms > 0 && iv_ms < floor_ms) {
                cron_sched_free(out);
                return verr_set(e, BATON_ERANGE, "cron_too_frequent", "cron",
                                "the expression fires every %lld ms at the most; the server "
                                "floor is %lld ms",
                                (long long)iv_ms, (long long)floor_ms);
        }
        return 0;
}

int cron_preview_build(const char *key, const char *cron, const char *timezone, int gap, int fold,
                       struct cron_sched *out, int64_t *interval_ms, bool *keyed, struct verr *e)
{
        *keyed = key && *key;
        return cron_sched_build(*keyed ? key : "", cron, timezone, gap, fold, 0, out, interval_ms,
                                e);
}

static void to_civil(const struct tz_civil *t, struct civil *c)
{
        *c = (struct civil){t->year, t->month, t->day, t->hour, t->min, t->sec};
}

static void to_tz_civil(const struct civil *c, struct tz_civil *t)
{
        *t = (struct tz_civil){c->year, c->month, c->day, c->hour, c->min, c->sec};
}

/* The smallest offset in effect between after_s - 26 h and after_s. Under
 * gap shift a wall time W that the clock jumped over fires at W minus the
 * offset before the jump, which can be later than after_s although W is
 * earlier than the local time of after_s (02:00 and 02:30 both skipped, the
 * first fired, the second still to come): a search for the instants after
 * after_s must start at after_s read with that earlier offset. A jump is
 * shorter than 26 h (RFC 8536 offsets), so older ones cannot matter. */
static int min_offset_since(const struct cron_sched *s, int64_t after_s, int32_t *min_off)
{
        int64_t t = after_s - 26 * 3600;
        int32_t off;
        bool dst;
        int rc = tz_offset_at(s->tz, t, min_off, &dst);

        /* Bounded: a zone changes its offset at most a few times a day. */
        for (int i = 0; !rc && i < 16 && tz_next_transition(s->tz, t, &t) == 0 && t <= after_s;
             i++) {
                rc = tz_offset_at(s->tz, t, &off, &dst);
                if (!rc && off < *min_off)
                        *min_off = off;
        }
        return rc;
}

/* Where a civil search must start to find every instant after after_s: the
 * local time of after_s, moved back by the length of a fold near after_s
 * (within 6 hours either side), since in a fold the second copy of a wall
 * time earlier than the local time of after_s can still be a later instant;
 * and, when gaps shift, no later than after_s read with the offset before a
 * recent jump (min_offset_since). */
static int search_start(const struct cron_sched *s, int gap, int64_t after_s, struct civil *start)
{
        int32_t off_now = 0, off_before = 0, off_after = 0, off_min = 0;
        int64_t wall;
        bool dst;
        int rc = tz_offset_at(s->tz, after_s, &off_now, &dst);

        if (!rc)
                rc = tz_offset_at(s->tz, after_s - 6 * 3600, &off_before, &dst);
        if (!rc)
                rc = tz_offset_at(s->tz, after_s + 6 * 3600, &off_after, &dst);
        if (!rc && gap == TZ_GAP_SHIFT)
                rc = min_offset_since(s, after_s, &off_min);
        if (rc)
                return rc;
        wall = after_s + off_now - (off_before > off_after ? off_before - off_after : 0);
        if (gap == TZ_GAP_SHIFT && after_s + off_min < wall)
                wall = after_s + off_min;
        cron_wall_to_civil(wall, start);
        return 0;
}

/* How far the clock is set back within 6 hours either side of at_s (0 when
 * it is not): the length of a fold near that instant. */
static int64_t fold_length(const struct cron_sched *s, int64_t at_s)
{
        int32_t before = 0, after = 0;
        bool dst;

        if (tz_offset_at(s->tz, at_s - 6 * 3600, &before, &dst) ||
            tz_offset_at(s->tz, at_s + 6 * 3600, &after, &dst))
                return 0;
        return before > after ? before - after : 0;
}

/* A skipped wall time w lies in a gap: *cur becomes the last second before
 * the gap's end (when the search is behind it), so a search for every second
 * of a day-long gap (Apia, 2011-12-30) does not walk through all of it. */
static int gap_end(const struct cron_sched *s, const struct civil *w, struct civil *cur)
{
        struct tz_civil tc;
        int64_t utc[2], t, last = INT64_MIN, end;
        int32_t off;
        bool dst;
        int n, rc;

        /* Shifted, w's instant lies after the jump and within a day of it. */
        to_tz_civil(w, &tc);
        rc = tz_civil_to_utc(s->tz, &tc, TZ_GAP_SHIFT, TZ_FOLD_FIRST, utc, &n);
        if (rc || n != 1)
                return rc;
        t = utc[0] - 26 * 3600;
        for (int i = 0; i < 16 && tz_next_transition(s->tz, t, &t) == 0 && t <= utc[0]; i++)
                last = t;
        if (last == INT64_MIN || (rc = tz_offset_at(s->tz, last, &off, &dst)))
                return rc;
        end = last + off - 1;
        if (end > cron_civil_to_wall(cur))
                cron_wall_to_civil(end, cur);
        return 0;
}

int cron_sched_next(const struct cron_sched *s, int64_t after_ms, int64_t *out_ms)
{
        int64_t after_s = after_ms >= 0 ? after_ms / 1000 : -((-after_ms + 999) / 1000);
        int64_t best = 0, utc[2];
        bool wild = cron_hour_is_wildcard(&s->expr);
        int gap = wild ? TZ_GAP_SKIP : s->gap, fold = wild ? TZ_FOLD_BOTH : s->fold;
        struct civil cur, nx;
        struct tz_civil tc;
        int64_t best_wall = 0, slack = 0;
        int n, rc;

        if (s->expr.every_ms > 0 && !s->expr.every_days) {
                /* Sub-day @every runs on elapsed time, whatever the zone does. */
                *out_ms = after_ms + s->expr.every_ms;
                return 0;
        }
        rc = search_start(s, gap, after_s, &cur);
        if (rc)
                return rc;
        if (s->expr.every_days) {
                rc = tz_utc_to_civil(s->tz, after_s, &tc);
                if (rc)
                        return rc;
                to_civil(&tc, &cur);
        }
        for (int i = 0; i < SEARCH_MAX; i++) {
                rc = cron_next_local(&s->expr, &cur, &nx);
                if (rc == BATON_ERANGE)
                        break;
                if (rc)
                        return rc;
                /* A later wall time can still be an earlier instant: a shifted
                 * gap time, or the first copy of a later wall time inside a
                 * fold. Stop only once the wall time passes the best instant's
                 * own wall time by more than the fold around it. */
                if (best && cron_civil_to_wall(&nx) > best_wall + slack)
                        break;
                to_tz_civil(&nx, &tc);
                rc = tz_civil_to_utc(s->tz, &tc, gap, fold, utc, &n);
                if (rc)
                        return rc;
                for (int k = 0; k < n; k++) {
                        int64_t ms = utc[k] * 1000;
                        if (ms > after_ms && (!best || ms < best)) {
                                int32_t off = 0;
                                bool dst;
                                best = ms;
                                tz_offset_at(s->tz, utc[k], &off, &dst);
                                best_wall = utc[k] + off;
                                slack = fold_length(s, utc[k]);
                        }
                }
                cur = nx;
                if (n == 0 && (rc = gap_end(s, &nx, &cur)))
                        return rc;
        }
        if (!best)
                return BATON_ENOTFOUND;
        *out_ms = best;
        return 0;
}

/* ---- the schedule of a saved definition ---- */

/* The expression of a saved definition, parsed (H hashed from key). */
int cron_spec_expr(const char *key, const struct cron_spec *spec, struct cron_expr *out,
                   struct verr *e)
{
        char err[256] = "";

        if (!spec->cron || !*spec->cron)
                return verr_set(e, BATON_EINVAL, "missing_field", "cron", "cron is required");
        if (cron_parse(spec->cron, cron_seed_from_key(key), out, err, sizeof(err)))
                return verr_set(e, BATON_EINVAL, "invalid_cron", "cron", "%s", err);
        return 0;
}

/* The schedule of an expression already parsed: its zone and policies. */
int cron_sched_from(struct txn *tx, const struct cron_spec *spec, const struct cron_expr *expr,
                    struct cron_sched *out, struct verr *e)
{
        const char *zone = spec->timezone ? spec->timezone : "UTC";
        char err[256] = "";
        int rc;

        memset(out, 0, sizeof(*out));
        out->expr = *expr;
        out->gap = spec->dst_gap;
        out->fold = spec->dst_fold;
        rc = tx->tzc ? tz_cache_get(tx->tzc, zone, tx->now_ms, &out->tz, err, sizeof(err))
                     : tz_load(zone, &out->tz, err, sizeof(err));
        if (rc)
                return verr_set(e, rc, "invalid_timezone", "timezone", "timezone \"%s\": %s", zone,
                                err[0] ? err : "cannot load the time zone");
        return 0;
}

/* The schedule of a saved definition, to compute its fires inside tx: the
 * zone comes from the store thread's cache (tx->tzc, when there is one) and
 * none of the checks made when it was saved run again (never-fires, the
 * interval for the floor: a scan of the 400-year cycle), since a tick
 * compiles every due schedule. out is owned by the caller (cron_sched_free)
 * on success; on error e says why. */
int cron_sched_of(struct txn *tx, const char *key, const struct cron_spec *spec,
                  struct cron_sched *out, struct verr *e)
{
        struct cron_expr expr;
        int rc = cron_spec_expr(key, spec, &expr, e);

        memset(out, 0, sizeof(*out));
        return rc ? rc : cron_sched_from(tx, spec, &expr, out, e);
}

/* The first fire after from_ms, or 0 when the schedule never fires again or
 * cannot be compiled (logged). */
int64_t cron_next_after(struct txn *tx, const char *key, const struct cron_spec *spec,
                        int64_t from_ms)
{
        struct cron_sched cs;
        struct verr e;
        int64_t at = 0;

        if (cron_sched_of(tx, key, spec, &cs, &e)) {
                log_warn("cron", "schedule %s: %s", key, e.message);
                return 0;
        }
        if (cron_sched_next(&cs, from_ms, &at))
                at = 0;
        cron_sched_free(&cs);
        return at;
}
