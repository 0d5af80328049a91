/*
 * cron.c: the cron manager (see cron.h): definitions, next fire instants
 * through the schedule's zone, and the transaction functions behind the
 * /v1/cron routes and the scheduler's tick.
 *
 * Workload: cron_tick runs in the timer's tick transaction and looks only at
 * schedules whose due_at has come (an indexed range); each fire writes a run
 * row (unique per tick), a job and the schedule row, in the same transaction,
 * so a crash leaves either all of a fire or none of it. Assumptions: the
 * definition (spec) was validated by the HTTP layer; zones are loaded from the
 * tz database when needed (no cache yet).
 *
 * Next fire in a zone: search civil time with cron_next_local, convert each
 * candidate with tz_civil_to_utc under the gap and fold policies, and keep the
 * first instant after the reference. Schedules whose hour field is a wildcard
 * or a step fire on every real instant: a wall time in a gap does not exist
 * (skip), and both copies of a repeated hour fire (fold both). Fixed-time
 * schedules use the schedule's policies (shift and first by default).
 */
#include "core/cron.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/baton.h"
#include "common/assert.h"
#include "common/log.h"
#include "core/jobs.h"

/* Candidates examined per next-fire search (a repeated hour of a seconds
 * schedule is 3,600 of them). */
#define SEARCH_MAX 20000
/* Due ticks enumerated per schedule and tick. */
#define SCAN_MAX 4096
/* Schedules handled per tick; more are handled by the next tick. */
#define CRON_TICK_BATCH 500

static const char *const overlap_names[] = {"skip", "allow", "buffer_one", "replace"};
static const char *const misfire_names[] = {"fire_once", "skip", "fire_all"};
static const char *const gap_names[] = {"shift", "skip"};
static const char *const fold_names[] = {"first", "last", "both"};

static const char *name_of(const char *const *names, int n, int v)
{
        return v >= 0 && v < n ? names[v] : "unknown";
}

static int name_parse(const char *const *names, int n, const char *s)
{
        for (int i = 0; s && i < n; i++)
                if (strcmp(names[i], s) == 0)
                        return i;
        return -1;
}

const char *cron_overlap_name(int v)
{
        return name_of(overlap_names, 4, v);
}

const char *cron_misfire_name(int v)
{
        return name_of(misfire_names, 3, v);
}

const char *cron_gap_name(int v)
{
        return name_of(gap_names, 2, v);
}

const char *cron_fold_name(int v)
{
        return name_of(fold_names, 3, v);
}

/* ---- definitions ---- */

void cron_spec_free(struct cron_spec *s)
{
        free(s->cron);
        free(s->timezone);
        free(s->owner);
        free(s->description);
        free(s->job.queue);
        free(s->job.type);
        free(s->job.payload);
        free(s->job.group);
        memset(s, 0, sizeof(*s));
}

static int oom(struct verr *e)
{
        return verr_set(e, BATON_ENOMEM, 500, "internal", "", "out of memory");
}

/* An optional string member; "" counts as given. */
static int get_str(json_t *obj, const char *name, const char *prefix, bool required, char **out,
                   struct verr *e)
{
        json_t *v = json_object_get(obj, name);
        char f[128];

        snprintf(f, sizeof(f), "%s%s%s", prefix, *prefix ? "." : "", name);
        if (!v || json_is_null(v)) {
                if (required)
                        return verr_set(e, BATON_EINVAL, 400, "missing_field", f, "%s is required",
                                        f);
                return 0;
        }
        if (!json_is_string(v))
                return verr_set(e, BATON_EINVAL, 400, "invalid_field", f, "%s must be a string", f);
        free(*out);
        *out = strdup(json_string_value(v));
        return *out ? 0 : oom(e);
}

static int get_int(json_t *obj, const char *name, const char *prefix, int64_t min, int64_t max,
                   int64_t *out, struct verr *e)
{
        json_t *v = json_object_get(obj, name);
        char f[128];

        snprintf(f, sizeof(f), "%s%s%s", prefix, *prefix ? "." : "", name);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return verr_set(e, BATON_ERANGE, 400, "out_of_range", f,
                                "%s must be an integer between %lld and %lld", f, (long long)min,
                                (long long)max);
        *out = json_integer_value(v);
        return 0;
}

static int get_choice(json_t *obj, const char *name, const char *const *names, int n, int *out,
                      struct verr *e)
{
        char *s = NULL;
        int rc = get_str(obj, name, "", false, &s, e);
        int v;

        if (rc || !s)
                return rc;
        v = name_parse(names, n, s);
        free(s);
        if (v < 0) {
                char list[96] = "";
                for (int i = 0; i < n; i++)
                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                                 i ? (i == n - 1 ? " or " : ", ") : "", names[i]);
                return verr_set(e, BATON_EINVAL, 400, "invalid_field", name, "%s must be %s", name,
                                list);
        }
        *out = v;
        return 0;
}

static int job_from_json(json_t *obj, struct cron_job_tmpl *t, struct verr *e)
{
        json_t *p, *b;
        char *prio = NULL, *btype = NULL;
        int64_t v;
        int rc;

        if (!json_is_object(obj))
                return verr_set(e, BATON_EINVAL, 400, obj ? "invalid_field" : "missing_field",
                                "job", "job must be an object with queue and type");
        t->priority = -1;
        rc = get_str(obj, "queue", "job", true, &t->queue, e);
        if (!rc)
                rc = get_str(obj, "type", "job", true, &t->type, e);
        if (!rc)
                rc = get_str(obj, "priority", "job", false, &prio, e);
        if (!rc && prio) {
                t->priority = job_priority_parse(prio);
                if (t->priority < 0)
                        rc = verr_set(e, BATON_EINVAL, 400, "invalid_field", "job.priority",
                                      "job.priority must be critical, high, normal or low");
        }
        free(prio);
        v = 0;
        if (!rc)
                rc = get_int(obj, "max_attempts", "job", 0, INT_MAX, &v, e);
        t->max_attempts = (int)v;
        if (!rc)
                rc = get_int(obj, "lease_ms", "job", 0, INT64_MAX, &t->lease_ms, e);
        if (!rc)
                rc = get_str(obj, "group", "job", false, &t->group, e);
        b = json_object_get(obj, "backoff");
        if (!rc && b && json_is_object(b)) {
                rc = get_str(b, "type", "job.backoff", false, &btype, e);
                if (!rc && btype) {
                        t->backoff.type = backoff_type_parse(btype);
                        if (t->backoff.type < 0)
                                rc = verr_set(e, BATON_EINVAL, 400, "invalid_field",
                                              "job.backoff.type", "unknown backoff type");
                }
                free(btype);
                if (!rc)
                        rc = get_int(b, "base_ms", "job.backoff", 0, INT64_MAX, &t->backoff.base_ms,
                                     e);
                if (!rc)
                        rc = get_int(b, "max_ms", "job.backoff", 0, INT64_MAX, &t->backoff.max_ms,
                                     e);
        }
        p = json_object_get(obj, "payload");
        if (!rc) {
                t->payload = p ? json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER)
                               : strdup("{}");
                if (!t->payload)
                        rc = oom(e);
        }
        return rc;
}

int cron_spec_from_json(json_t *obj, struct cron_spec *s, struct verr *e)
{
        int64_t v;
        json_t *en;
        int rc;

        s->enabled = true;
        s->overlap = CRON_OVERLAP_SKIP;
        s->misfire = CRON_MISFIRE_FIRE_ONCE;
        s->catchup_window_ms = CRON_CATCHUP_WINDOW_DEFAULT_MS;
        s->catchup_max = CRON_CATCHUP_MAX_DEFAULT;
        s->dst_gap = TZ_GAP_SHIFT;
        s->dst_fold = TZ_FOLD_FIRST;
        s->history_max = CRON_HISTORY_DEFAULT;
        rc = get_str(obj, "cron", "", true, &s->cron, e);
        if (!rc)
                rc = get_str(obj, "timezone", "", false, &s->timezone, e);
        if (!rc && !s->timezone && !(s->timezone = strdup("UTC")))
                rc = oom(e);
        if (!rc)
                rc = get_str(obj, "owner", "", false, &s->owner, e);
        if (!rc)
                rc = get_str(obj, "description", "", false, &s->description, e);
        en = json_object_get(obj, "enabled");
        if (!rc && en && !json_is_null(en)) {
                if (!json_is_boolean(en))
                        rc = verr_set(e, BATON_EINVAL, 400, "invalid_field", "enabled",
                                      "enabled must be true or false");
                else
                        s->enabled = json_is_true(en);
        }
        if (!rc)
                rc = get_choice(obj, "overlap", overlap_names, 4, &s->overlap, e);
        if (!rc)
                rc = get_choice(obj, "misfire", misfire_names, 3, &s->misfire, e);
        if (!rc)
                rc = get_choice(obj, "dst_gap", gap_names, 2, &s->dst_gap, e);
        if (!rc)
                rc = get_choice(obj, "dst_fold", fold_names, 3, &s->dst_fold, e);
        if (!rc)
                rc = get_int(obj, "catchup_window_ms", "", 0, 366LL * 86400000,
                             &s->catchup_window_ms, e);
        v = s->catchup_max;
        if (!rc)
                rc = get_int(obj, "catchup_max", "", 1, CRON_CATCHUP_MAX_MAX, &v, e);
        s->catchup_max = (int)v;
        v = s->history_max;
        if (!rc)
                rc = get_int(obj, "history_max", "", 1, CRON_HISTORY_MAX, &v, e);
        s->history_max = (int)v;
        if (!rc)
                rc = job_from_json(json_object_get(obj, "job"), &s->job, e);
        return rc;
}

/* One free-text field against its bound. */
int cron_text_check(const char *v, const char *field, size_t max, const char *code, struct verr *e)
{
        size_t n = v ? strlen(v) : 0;

        if (n <= max)
                return 0;
        return verr_set(e, BATON_EINVAL, 400, code, field,
                        "%s is %zu bytes; the limit is %zu bytes", field, n, max);
}

int cron_spec_check_text(const struct cron_spec *spec, struct verr *e)
{
        int rc = cron_text_check(spec->owner, "owner", CRON_OWNER_MAX_BYTES, "owner_too_long", e);

        if (!rc)
                rc = cron_text_check(spec->description, "description", CRON_DESCRIPTION_MAX_BYTES,
                                     "description_too_long", e);
        return rc;
}

int cron_note_check(const char *note, struct verr *e)
{
        return cron_text_check(note, "note", CRON_NOTE_MAX_BYTES, "note_too_long", e);
}

char *cron_spec_to_json(const struct cron_spec *s)
{
        json_t *o = json_object(), *job = json_object(), *payload;
        char *out = NULL;

        if (!o || !job)
                goto out;
        payload = json_loads(s->job.payload ? s->job.payload : "{}", JSON_DECODE_ANY, NULL);
        json_object_set_new(job, "queue", json_string(s->job.queue));
        json_object_set_new(job, "type", json_string(s->job.type));
        json_object_set_new(job, "payload", payload ? payload : json_object());
        json_object_set_new(job, "priority",
                            s->job.priority >= 0 ? json_string(job_priority_name(s->job.priority))
                                                 : json_null());
        json_object_set_new(job, "max_attempts", json_integer(s->job.max_attempts));
        json_object_set_new(job, "backoff",
                            json_pack("{s:s, s:I, s:I}", "type",
                                      backoff_type_name(s->job.backoff.type), "base_ms",
                                      (json_int_t)s->job.backoff.base_ms, "max_ms",
                                      (json_int_t)s->job.backoff.max_ms));
        json_object_set_new(job, "lease_ms", json_integer(s->job.lease_ms));
        /* Only when set, so the stored text of a schedule without a group is
         * what it was before groups (the registry compares texts). */
        if (s->job.group)
                json_object_set_new(job, "group", json_string(s->job.group));
        json_object_set_new(o, "cron", json_string(s->cron));
        json_object_set_new(o, "timezone", json_string(s->timezone));
        json_object_set_new(o, "enabled", json_boolean(s->enabled));
        json_object_set_new(o, "owner", s->owner ? json_string(s->owner) : json_null());
        json_object_set_new(o, "description",
                            s->description ? json_string(s->description) : json_null());
        json_object_set(o, "job", job);
        json_object_set_new(o, "overlap", json_string(cron_overlap_name(s->overlap)));
        json_object_set_new(o, "misfire", json_string(cron_misfire_name(s->misfire)));
        json_object_set_new(o, "catchup_window_ms", json_integer(s->catchup_window_ms));
        json_object_set_new(o, "catchup_max", json_integer(s->catchup_max));
        json_object_set_new(o, "dst_gap", json_string(cron_gap_name(s->dst_gap)));
        json_object_set_new(o, "dst_fold", json_string(cron_fold_name(s->dst_fold)));
        json_object_set_new(o, "history_max", json_integer(s->history_max));
        out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
        json_decref(job);
        json_decref(o);
        return out;
}

/* ---- expressions in a zone ---- */

void cron_sched_free(struct cron_sched *s)
{
        tz_free(s->tz);
        s->tz = NULL;
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
                return verr_set(e, BATON_EINVAL, 400, "missing_field", "cron", "cron is required");
        rc = cron_parse(cron, cron_seed_from_key(key ? key : ""), &out->expr, err, sizeof(err));
        if (rc)
                return verr_set(e, BATON_EINVAL, 400, "invalid_cron", "cron", "%s", err);
        rc = cron_never_fires(&out->expr, err, sizeof(err));
        if (rc)
                return verr_set(e, BATON_EINVAL, 400, "cron_never_fires", "cron",
                                "the expression never fires: %s", err);
        rc = tz_load(timezone ? timezone : "UTC", &out->tz, err, sizeof(err));
        if (rc)
                return verr_set(e, BATON_EINVAL, 400, "invalid_timezone", "timezone", "%s",
                                err[0] ? err : "unknown time zone");
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
                return verr_set(e, BATON_ERANGE, 400, "cron_too_frequent", "cron",
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

/* Local wall seconds (seconds since 1970-01-01 00:00 of the local calendar)
 * as a civil time. */
static void wall_to_civil(int64_t wall_s, struct civil *c)
{
        int64_t days = wall_s >= 0 ? wall_s / 86400 : -((-wall_s + 86399) / 86400);
        int64_t sod = wall_s - days * 86400, y;
        int m, d;

        tz_civil_from_days(days, &y, &m, &d);
        *c = (struct civil){(int)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60)};
}

static int64_t civil_to_wall(const struct civil *c)
{
        return tz_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
               c->min * 60 + c->sec;
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
        wall_to_civil(wall, start);
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
        if (end > civil_to_wall(cur))
                wall_to_civil(end, cur);
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
                if (best && civil_to_wall(&nx) > best_wall + slack)
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

/* ---- reading and writing schedules ---- */

void cron_info_free(struct cron_info *ci)
{
        cron_rec_free(&ci->rec);
        cron_spec_free(&ci->spec);
        cron_run_free(&ci->last_run);
}

void cron_infos_free(struct cron_info *v, int n)
{
        for (int i = 0; v && i < n; i++)
                cron_info_free(&v[i]);
        free(v);
}

void cron_run_info_free(struct cron_run_info *ri)
{
        cron_run_free(&ri->run);
        job_free(&ri->job);
        ri->has_job = false;
}

void cron_run_infos_free(struct cron_run_info *v, int n)
{
        for (int i = 0; v && i < n; i++)
                cron_run_info_free(&v[i]);
        free(v);
}

static int spec_load(const char *text, struct cron_spec *spec)
{
        json_t *o = json_loads(text ? text : "{}", 0, NULL);
        struct verr e;
        int rc;

        if (!o)
                return BATON_ESTORE;
        rc = cron_spec_from_json(o, spec, &e);
        json_decref(o);
        return rc == BATON_ENOMEM ? rc : rc ? BATON_ESTORE : 0;
}

/* Moves rec into out and fills the rest of the answer. */
static int info_fill(struct txn *tx, struct cron_rec *rec, struct cron_info *out)
{
        struct job j = {0};
        int rc;

        memset(out, 0, sizeof(*out));
        out->rec = *rec;
        memset(rec, 0, sizeof(*rec));
        out->last_job_state = -1;
        rc = spec_load(out->rec.spec, &out->spec);
        if (!rc) {
                int64_t id = out->rec.last_run_id;
                rc = id ? tx->ops->cron_run_get(tx->st, out->rec.tenant, id, &out->last_run) : 0;
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        if (!rc && out->rec.last_job_id) {
                rc = tx->ops->job_get(tx->st, out->rec.tenant, out->rec.last_job_id, &j);
                if (!rc)
                        out->last_job_state = j.state;
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
                job_free(&j);
        }
        return rc;
}

/* The instant the scheduler must look at rec next; 0 = never. */
static int64_t due_of(const struct cron_rec *rec, int64_t now_ms)
{
        int64_t due = rec->enabled && !rec->paused ? rec->next_fire_at_ms : 0;

        if (rec->buffered_run_id) {
                int64_t poll = now_ms + CRON_BUFFER_POLL_MS;
                if (!due || poll < due)
                        due = poll;
        }
        return due;
}

static int write_rec(struct txn *tx, struct cron_rec *rec)
{
        rec->due_at_ms = due_of(rec, tx->now_ms);
        rec->updated_at_ms = tx->now_ms;
        txn_note_deadline(tx, rec->due_at_ms);
        return tx->ops->cron_put(tx->st, rec);
}

/* The schedule of a saved definition, to compute its fires inside tx: the
 * zone comes from the store thread's cache (tx->tzc, when there is one) and
 * none of the checks made when it was saved run again (never-fires, the
 * interval for the floor: a scan of the 400-year cycle), since a tick
 * compiles every due schedule. out is owned by the caller (cron_sched_free)
 * on success; on error e says why. */
static int expr_of(const char *key, const struct cron_spec *spec, struct cron_expr *out,
                   struct verr *e);
static int sched_from(struct txn *tx, const struct cron_spec *spec, const struct cron_expr *expr,
                      struct cron_sched *out, struct verr *e);

static int sched_of(struct txn *tx, const char *key, const struct cron_spec *spec,
                    struct cron_sched *out, struct verr *e)
{
        struct cron_expr expr;
        int rc = expr_of(key, spec, &expr, e);

        memset(out, 0, sizeof(*out));
        return rc ? rc : sched_from(tx, spec, &expr, out, e);
}

/* The expression of a saved definition, parsed (H hashed from key). */
static int expr_of(const char *key, const struct cron_spec *spec, struct cron_expr *out,
                   struct verr *e)
{
        char err[256] = "";

        if (!spec->cron || !*spec->cron)
                return verr_set(e, BATON_EINVAL, 400, "missing_field", "cron", "cron is required");
        if (cron_parse(spec->cron, cron_seed_from_key(key), out, err, sizeof(err)))
                return verr_set(e, BATON_EINVAL, 400, "invalid_cron", "cron", "%s", err);
        return 0;
}

/* The schedule of an expression already parsed: its zone and policies. */
static int sched_from(struct txn *tx, const struct cron_spec *spec, const struct cron_expr *expr,
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
                return verr_set(e, rc, 400, "invalid_timezone", "timezone", "%s",
                                err[0] ? err : "cannot load the time zone");
        return 0;
}

/* The first fire after from_ms, or 0 when the schedule never fires again or
 * cannot be compiled (logged). */
static int64_t next_after(struct txn *tx, const char *key, const struct cron_spec *spec,
                          int64_t from_ms)
{
        struct cron_sched cs;
        struct verr e;
        int64_t at = 0;

        if (sched_of(tx, key, spec, &cs, &e)) {
                log_warn("cron", "schedule %s: %s", key, e.message);
                return 0;
        }
        if (cron_sched_next(&cs, from_ms, &at))
                at = 0;
        cron_sched_free(&cs);
        return at;
}

enum put_outcome { PUT_CREATED, PUT_UPDATED, PUT_UNCHANGED };

/* Saves one schedule; *outcome tells whether it was created, changed or
 * already exactly so (then, with keep_same, the row is not written). */
static int put_one(struct txn *tx, const char *tenant, const char *key,
                   const struct cron_spec *spec, bool keep_same, int *outcome,
                   struct cron_info *out)
{
        struct cron_rec rec = {0};
        char *text = cron_spec_to_json(spec);
        bool changed = true;
        int rc;

        if (!text)
                return BATON_ENOMEM;
        rc = tx->ops->cron_get(tx->st, tenant, key, &rec);
        *outcome = rc == BATON_ENOTFOUND ? PUT_CREATED : PUT_UPDATED;
        if (rc == BATON_ENOTFOUND) {
                rc = 0;
                rec.tenant = strdup(tenant);
                rec.key = strdup(key);
                rec.created_at_ms = tx->now_ms;
                if (!rec.tenant || !rec.key)
                        rc = BATON_ENOMEM;
        } else if (!rc) {
                changed = strcmp(rec.spec, text) != 0 || rec.enabled != spec->enabled;
                if (!changed)
                        *outcome = PUT_UNCHANGED;
        }
        if (rc)
                goto out;
        free(rec.spec);
        rec.spec = text;
        text = NULL;
        rec.enabled = spec->enabled;
        if (changed) {
                rec.version++;
                rec.next_fire_at_ms = next_after(tx, key, spec, tx->now_ms);
        }
        /* PUT /v1/cron/{key} rewrites an unchanged row (updated_at moves);
         * the registry apply leaves it alone. */
        if (changed || !keep_same)
                rc = write_rec(tx, &rec);
        /* The job's queue is made with the schedule, within the tenant's cap,
         * so that a fire (a leader duty) never has to make one. */
        if (!rc && changed)
                rc = queue_make(tx, tenant, spec->job.queue, false);
        if (!rc && out)
                rc = info_fill(tx, &rec, out);
out:
        free(text);
        cron_rec_free(&rec);
        return rc;
}

/* Adds delta (schedules created minus deleted) to the tenant's count and,
 * when created, checks the cap on the count after: BATON_ECONFLICT makes the
 * caller's savepoint undo the writes and the count together. The count's row
 * serializes the transactions that change one tenant's schedules (store.h).
 * *total gets the count. */
static int count_add(struct txn *tx, const char *tenant, int64_t delta, bool created,
                     int64_t *total)
{
        int rc = tx->ops->cron_count_add(tx->st, tenant, delta, total);

        if (!rc && created && *total > tx->limits->cron_schedules_max)
                rc = BATON_ECONFLICT;
        return rc;
}

int cron_put(struct txn *tx, const char *tenant, const char *key, const struct cron_spec *spec,
             bool *created, struct cron_info *out)
{
        int outcome = PUT_UPDATED;
        int64_t total = 0;
        int rc = put_one(tx, tenant, key, spec, false, &outcome, out);

        *created = outcome == PUT_CREATED;
        if (!rc && *created)
                rc = count_add(tx, tenant, 1, true, &total);
        return rc;
}

/* ---- registry apply ---- */

void cron_registry_free(struct cron_registry *reg)
{
        for (int i = 0; i < reg->n; i++) {
                free(reg->v[i].key);
                cron_spec_free(&reg->v[i].spec);
        }
        free(reg->v);
        memset(reg, 0, sizeof(*reg));
}

static void keys_free(char **v, int n)
{
        for (int i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void cron_apply_res_free(struct cron_apply_res *res)
{
        keys_free(res->created, res->created_n);
        keys_free(res->updated, res->updated_n);
        keys_free(res->unchanged, res->unchanged_n);
        keys_free(res->deleted, res->deleted_n);
        memset(res, 0, sizeof(*res));
}

/* Appends a copy of key to the array *v of *n keys. */
static int key_push(char ***v, int *n, const char *key)
{
        char **nv = realloc(*v, (size_t)(*n + 1) * sizeof(**v));

        if (!nv)
                return BATON_ENOMEM;
        *v = nv;
        if (!(nv[*n] = strdup(key)))
                return BATON_ENOMEM;
        (*n)++;
        return 0;
}

static bool reg_has(const struct cron_registry *reg, const char *key)
{
        for (int i = 0; i < reg->n; i++)
                if (strcmp(reg->v[i].key, key) == 0)
                        return true;
        return false;
}

/* Schedules read per page while pruning. */
#define APPLY_PAGE 500

/* Deletes the tenant's schedules that reg does not name. The doomed keys are
 * gathered first so the listing never runs over rows it deleted. */
static int prune(struct txn *tx, const char *tenant, const struct cron_registry *reg,
                 struct cron_apply_res *res)
{
        char *after = NULL;
        int rc = 0, first = res->deleted_n;

        for (;;) {
                struct cron_rec *page = NULL;
                int n = 0;
                rc = tx->ops->cron_list(tx->st, tenant, after, APPLY_PAGE, &page, &n);
                for (int i = 0; !rc && i < n; i++)
                        if (!reg_has(reg, page[i].key))
                                rc = key_push(&res->deleted, &res->deleted_n, page[i].key);
                free(after);
                after = NULL;
                if (!rc && n == APPLY_PAGE && !(after = strdup(page[n - 1].key)))
                        rc = BATON_ENOMEM;
                cron_recs_free(page, n);
                if (rc || !after)
                        break;
        }
        free(after);
        for (int i = first; !rc && i < res->deleted_n; i++)
                rc = tx->ops->cron_delete(tx->st, tenant, res->deleted[i]);
        return rc;
}

int cron_apply(struct txn *tx, const char *tenant, const struct cron_registry *reg,
               struct cron_apply_res *res)
{
        int rc = 0, outcome;

        memset(res, 0, sizeof(*res));
        for (int i = 0; !rc && i < reg->n; i++) {
                const struct cron_entry *en = &reg->v[i];
                rc = put_one(tx, tenant, en->key, &en->spec, true, &outcome, NULL);
                if (rc)
                        break;
                if (outcome == PUT_CREATED)
                        rc = key_push(&res->created, &res->created_n, en->key);
                else if (outcome == PUT_UPDATED)
                        rc = key_push(&res->updated, &res->updated_n, en->key);
                else
                        rc = key_push(&res->unchanged, &res->unchanged_n, en->key);
        }
        if (!rc && reg->prune)
                rc = prune(tx, tenant, reg, res);
        /* Judged on the result, so a prune can make room for new keys. */
        if (!rc && (res->created_n > 0 || res->deleted_n > 0))
                rc = count_add(tx, tenant, (int64_t)res->created_n - res->deleted_n,
                               res->created_n > 0, &res->total);
        return rc;
}

int cron_delete(struct txn *tx, const char *tenant, const char *key)
{
        int64_t n;
        int rc = tx->ops->cron_delete(tx->st, tenant, key);

        return rc ? rc : count_add(tx, tenant, -1, false, &n);
}

int cron_read(struct txn *tx, const char *tenant, const char *key, struct cron_info *out)
{
        struct cron_rec rec = {0};
        int rc = tx->ops->cron_get(tx->st, tenant, key, &rec);

        memset(out, 0, sizeof(*out));
        if (!rc)
                rc = info_fill(tx, &rec, out);
        cron_rec_free(&rec);
        return rc;
}

int cron_query(struct txn *tx, const char *tenant, const char *after, int limit,
               struct cron_info **out, int *n_out)
{
        struct cron_rec *recs = NULL;
        struct cron_info *v = NULL;
        int n = 0, rc;

        *out = NULL;
        *n_out = 0;
        rc = tx->ops->cron_list(tx->st, tenant, after, limit, &recs, &n);
        if (!rc && n > 0 && !(v = calloc((size_t)n, sizeof(*v))))
                rc = BATON_ENOMEM;
        for (int i = 0; !rc && i < n; i++) {
                rc = info_fill(tx, &recs[i], &v[i]);
                *n_out = i + 1;
        }
        *out = v;
        cron_recs_free(recs, n);
        return rc;
}

size_t cron_rec_wire_bytes(const struct cron_rec *r)
{
        return CRON_WIRE_FIXED_BYTES + job_wire_str_bytes(r->key) + job_wire_str_bytes(r->spec) +
               job_wire_str_bytes(r->pause_note);
}

/* Fills v[*n...] from the pn rows of recs (moved; the array is freed) while
 * the budget lasts; the rows after the cut are freed unread. */
int cron_page_take(struct txn *tx, struct cron_rec *recs, int pn, size_t bytes_max, size_t *used,
                   bool *cut, struct cron_info *v, int *n)
{
        int rc = 0, i = 0;

        for (; i < pn && !rc && !*cut; i++) {
                *used += cron_rec_wire_bytes(&recs[i]);
                *cut = bytes_max && *used > bytes_max;
                rc = info_fill(tx, &recs[i], &v[*n]);
                (*n)++; /* filled, or cleared by info_fill: freed with v either way */
        }
        cron_recs_free(recs, pn); /* what info_fill moved out is cleared */
        return rc;
}

int cron_query_page(struct txn *tx, const char *tenant, const char *after, int limit,
                    size_t bytes_max, struct cron_info **out, int *n_out, bool *cut)
{
        struct cron_info *v = calloc((size_t)(limit > 0 ? limit : 1), sizeof(*v));
        size_t used = 0;
        int n = 0, rc = v ? 0 : BATON_ENOMEM;

        *cut = false;
        while (!rc && n < limit && !*cut) {
                struct cron_rec *recs = NULL;
                int want = limit - n < CRON_QUERY_CHUNK ? limit - n : CRON_QUERY_CHUNK, pn = 0;
                rc = tx->ops->cron_list(tx->st, tenant, n ? v[n - 1].rec.key : after, want, &recs,
                                        &pn);
                if (rc) {
                        cron_recs_free(recs, pn);
                        break;
                }
                BATON_ASSERT(pn <= want);
                rc = cron_page_take(tx, recs, pn, bytes_max, &used, cut, v, &n);
                if (pn < want)
                        break;
        }
        *out = v;
        *n_out = n;
        return rc;
}

static int record_paused(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec);

int cron_set_paused(struct txn *tx, const char *tenant, const char *key, bool paused,
                    const char *note, struct cron_info *out)
{
        struct cron_rec rec = {0};
        struct cron_spec spec = {0};
        int rc = tx->ops->cron_get(tx->st, tenant, key, &rec);

        if (rc)
                goto out;
        if (paused) {
                rc = str_set(&rec.pause_note, note);
        } else if (rec.paused) {
                /* Resume never bursts: ticks missed while paused are recorded
                 * as skipped (reason paused), not made up. */
                rc = spec_load(rec.spec, &spec);
                if (!rc)
                        rc = record_paused(tx, &rec, &spec);
                if (!rc)
                        rec.next_fire_at_ms = next_after(tx, key, &spec, tx->now_ms);
                if (!rc)
                        rc = str_set(&rec.pause_note, NULL);
                if (!rc)
                        rc = tx->ops->cron_run_trim(tx->st, rec.tenant, rec.key, spec.history_max);
        }
        rec.paused = paused;
        if (!rc)
                rc = write_rec(tx, &rec);
        if (!rc && out)
                rc = info_fill(tx, &rec, out);
out:
        cron_spec_free(&spec);
        cron_rec_free(&rec);
        return rc;
}

/* ---- firing ---- */

/* Is the job of the schedule's latest run still going (not terminal)? */
static int run_going(struct txn *tx, const struct cron_rec *rec, bool *going)
{
        struct job j = {0};
        int rc;

        *going = false;
        if (!rec->last_job_id)
                return 0;
        rc = tx->ops->job_get(tx->st, rec->tenant, rec->last_job_id, &j);
        if (rc == BATON_ENOTFOUND)
                return 0;
        if (!rc)
                *going = !job_state_terminal(j.state);
        job_free(&j);
        return rc;
}

/* The job's "cron" member: {"key", "run"} (the run id as a decimal string,
 * as the API shows ids). Caller frees; NULL when out of memory. */
static char *marker_json(const char *key, int64_t run_id)
{
        json_t *o = json_object();
        char id[24];
        char *s = NULL;

        if (!o)
                return NULL;
        snprintf(id, sizeof(id), "%lld", (long long)run_id);
        if (json_object_set_new(o, "key", json_string(key)) == 0 &&
            json_object_set_new(o, "run", json_string(id)) == 0)
                s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}

/* Enqueues the job of run run_id of rec; *job_id gets its id. */
static int enqueue_for(struct txn *tx, const struct cron_rec *rec, const struct cron_spec *spec,
                       bool manual, const char *request_id, int64_t run_id, int64_t *job_id)
{
        struct enqueue_req req;
        struct enqueue_res res;
        struct verr e;
        int rc;

        memset(&req, 0, sizeof(req));
        memset(&res, 0, sizeof(res));
        req.job.priority = spec->job.priority >= 0 ? spec->job.priority
                           : manual                ? PRIO_HIGH
                                                   : PRIO_NORMAL;
        req.job.max_attempts = spec->job.max_attempts;
        req.job.backoff = spec->job.backoff;
        req.job.lease_ms = spec->job.lease_ms;
        rc = str_set(&req.job.tenant, rec->tenant);
        if (!rc)
                rc = str_set(&req.job.queue, spec->job.queue);
        if (!rc)
                rc = str_set(&req.job.type, spec->job.type);
        if (!rc)
                rc = str_set(&req.job.payload, spec->job.payload ? spec->job.payload : "{}");
        if (!rc)
                rc = str_set(&req.job.request_id, request_id);
        if (!rc)
                rc = str_set(&req.job.group, spec->job.group);
        if (!rc && !(req.job.cron = marker_json(rec->key, run_id)))
                rc = BATON_ENOMEM;
        if (!rc && validate_enqueue(tx->limits, "job", &req, &e)) {
                log_warn("cron", "schedule %s/%s: job template refused: %s", rec->tenant, rec->key,
                         e.message);
                rc = BATON_EINVAL;
        }
        /* The queue's max_depth holds for cron as for any enqueue: a full
         * queue is BATON_EBUSY, refused before anything is written. */
        req.check_depth = true;
        if (!rc)
                rc = job_enqueue(tx, &req, &res);
        if (!rc)
                *job_id = res.job.id;
        job_free(&req.job);
        job_free(&res.job);
        return rc;
}

/* Records a run of rec (status given) and, for "queued", enqueues its job.
 * *dup: the tick was already recorded (nothing done). */
static int record_run(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                      int64_t scheduled_at, const char *trigger, const char *status,
                      const char *reason, const char *requested_by, const char *request_id,
                      struct cron_run *out, bool *dup)
{
        struct cron_run r = {0};
        int rc;

        *dup = false;
        r.tenant = rec->tenant;
        r.key = rec->key;
        r.scheduled_at_ms = scheduled_at;
        r.fired_at_ms = tx->now_ms;
        r.trigger = (char *)trigger;
        r.status = (char *)status;
        r.reason = (char *)reason;
        r.requested_by = (char *)requested_by;
        /* The run row first: its unique tick identity decides whether this
         * tick fired already (then nothing else happens). */
        rc = tx->ops->cron_run_insert(tx->st, &r);
        if (rc == BATON_ECONFLICT) {
                *dup = true;
                return 0;
        }
        if (!rc && strcmp(status, "queued") == 0) {
                bool manual = strcmp(trigger, "manual") == 0;
                rc = enqueue_for(tx, rec, spec, manual, request_id, r.id, &r.job_id);
                /* A tick into a full queue is a skipped run (the schedule
                 * moves on; the next tick tries again). A manual run is
                 * refused instead (503 queue_full), like an enqueue. */
                if (rc == BATON_EBUSY && !manual) {
                        log_warn("cron",
                                 "schedule %s/%s: queue %s is at its max_depth; tick skipped "
                                 "(queue_full)",
                                 rec->tenant, rec->key, spec->job.queue);
                        status = "skipped";
                        reason = "queue_full";
                        r.status = (char *)status;
                        r.reason = (char *)reason;
                        r.job_id = 0;
                        rc = 0;
                }
                if (!rc)
                        rc = tx->ops->cron_run_update(tx->st, &r);
        }
        if (rc)
                return rc;
        /* A skipped run is final when recorded; a queued one is counted when
         * its job ends (jobs.c, become_terminal). */
        if (strcmp(status, "skipped") == 0)
                txn_note_cron_run(tx, CRUN_SKIPPED);
        if (r.job_id) {
                rec->last_run_id = r.id;
                rec->last_job_id = r.job_id;
        }
        if (strcmp(status, "buffered") == 0) {
                rec->buffered_run_id = r.id;
                rec->buffered_at_ms = scheduled_at;
        }
        if (out) {
                out->id = r.id;
                out->scheduled_at_ms = r.scheduled_at_ms;
                out->fired_at_ms = r.fired_at_ms;
                out->job_id = r.job_id;
                rc = str_set(&out->tenant, rec->tenant);
                if (!rc)
                        rc = str_set(&out->key, rec->key);
                if (!rc)
                        rc = str_set(&out->trigger, trigger);
                if (!rc)
                        rc = str_set(&out->status, status);
                if (!rc)
                        rc = str_set(&out->reason, reason);
                if (!rc)
                        rc = str_set(&out->requested_by, requested_by);
        }
        return rc;
}

/* One fire of a tick under the overlap policy; going: a run was going
 * before this tick. */
static int fire(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                int64_t scheduled_at, const char *trigger, bool going, struct cron_tick_res *res)
{
        struct cron_run run = {0};
        struct job j = {0};
        bool dup = false;
        int rc;

        if (going && spec->overlap == CRON_OVERLAP_SKIP) {
                res->skipped++;
                return record_run(tx, rec, spec, scheduled_at, trigger, "skipped", "overlap", NULL,
                                  NULL, NULL, &dup);
        }
        if (going && spec->overlap == CRON_OVERLAP_BUFFER_ONE) {
                if (rec->buffered_run_id) {
                        res->skipped++;
                        return record_run(tx, rec, spec, scheduled_at, trigger, "skipped",
                                          "overlap", NULL, NULL, NULL, &dup);
                }
                return record_run(tx, rec, spec, scheduled_at, trigger, "buffered", NULL, NULL,
                                  NULL, NULL, &dup);
        }
        if (going && spec->overlap == CRON_OVERLAP_REPLACE) {
                rc = job_cancel(tx, rec->tenant, rec->last_job_id, &j);
                job_free(&j);
                if (rc && rc != BATON_ESTATE && rc != BATON_ENOTFOUND)
                        return rc;
        }
        rc = record_run(tx, rec, spec, scheduled_at, trigger, "queued", NULL, NULL, NULL, &run,
                        &dup);
        if (!rc && !dup && run.status && strcmp(run.status, "skipped") == 0)
                res->queue_full++;
        else if (!rc && !dup)
                res->fired++;
        cron_run_free(&run);
        return rc;
}

/* Starts the buffered run of rec once the run before it has ended. */
static int release_buffer(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                          struct cron_tick_res *res)
{
        struct cron_run r = {0};
        bool going;
        int rc = run_going(tx, rec, &going);

        if (rc || going)
                return rc;
        rc = tx->ops->cron_run_get(tx->st, rec->tenant, rec->buffered_run_id, &r);
        if (rc == BATON_ENOTFOUND) {
                rec->buffered_run_id = 0;
                rec->buffered_at_ms = 0;
                return 0;
        }
        if (!rc)
                rc = enqueue_for(tx, rec, spec, false, NULL, r.id, &r.job_id);
        /* The queue filled up meanwhile: the buffered run ends skipped. */
        if (rc == BATON_EBUSY) {
                free(r.status);
                free(r.reason);
                r.status = strdup("skipped");
                r.reason = strdup("queue_full");
                r.job_id = 0;
                r.fired_at_ms = tx->now_ms;
                rc = r.status && r.reason ? tx->ops->cron_run_update(tx->st, &r) : BATON_ENOMEM;
                if (!rc) {
                        txn_note_cron_run(tx, CRUN_SKIPPED);
                        rec->buffered_run_id = 0;
                        rec->buffered_at_ms = 0;
                        res->queue_full++;
                }
                cron_run_free(&r);
                return rc;
        }
        if (!rc) {
                free(r.status);
                r.status = strdup("queued");
                r.fired_at_ms = tx->now_ms;
                rc = r.status ? tx->ops->cron_run_update(tx->st, &r) : BATON_ENOMEM;
        }
        if (!rc) {
                rec->last_run_id = r.id;
                rec->last_job_id = r.job_id;
                rec->buffered_run_id = 0;
                rec->buffered_at_ms = 0;
                res->fired++;
        }
        cron_run_free(&r);
        return rc;
}

/* Due ticks that end as skipped runs: the newest CRON_SKIP_RECORD_MAX are
 * listed (a ring), the rest only counted. */
struct missed {
        int64_t ring[CRON_SKIP_RECORD_MAX];
        int64_t total; /* ticks added to the ring */
        int64_t lo;    /* the oldest still in the ring (older ones overwritten) */
        int64_t extra; /* ticks passed over without being listed */
        bool unknown;  /* the scan stopped early: more were passed over */
};

static void missed_add(struct missed *m, int64_t t)
{
        m->ring[m->total % CRON_SKIP_RECORD_MAX] = t;
        m->total++;
        if (m->total - m->lo > CRON_SKIP_RECORD_MAX)
                m->lo = m->total - CRON_SKIP_RECORD_MAX;
}

/* The newest listed tick, taken out of the ring (0 = none). */
static int64_t missed_pop(struct missed *m)
{
        if (m->total == m->lo)
                return 0;
        m->total--;
        return m->ring[m->total % CRON_SKIP_RECORD_MAX];
}

/* How many ticks m stands for. */
static int64_t missed_count(const struct missed *m)
{
        return m->total + m->extra;
}

/* Records the ticks of m as skipped runs with reason, oldest first: at most
 * CRON_SKIP_RECORD_MAX rows; the oldest row's reason says how many more were
 * not listed. */
static int missed_record(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                         const struct missed *m, const char *reason)
{
        int64_t n = m->total - m->lo, first = m->lo, more = m->lo + m->extra;
        char note[96];
        bool dup;
        int rc = 0;

        for (int64_t i = 0; !rc && i < n; i++) {
                const char *why = reason;
                if (i == 0 && (more > 0 || m->unknown)) {
                        snprintf(note, sizeof(note), "%s (%s%lld more missed)", reason,
                                 m->unknown ? "over " : "", (long long)more);
                        why = note;
                }
                rc = record_run(tx, rec, spec, m->ring[(first + i) % CRON_SKIP_RECORD_MAX],
                                "schedule", "skipped", why, NULL, NULL, NULL, &dup);
        }
        return rc;
}

/* The fires of the due ticks of rec (next_fire_at <= now) under the misfire
 * policy, then the schedule advanced past now. Every due tick ends in one
 * outcome: the newest tick inside the grace fires (schedule); the others are
 * missed and fire (catchup) or are recorded skipped (misfire) per the policy,
 * with at most catchup_max fires and CRON_SKIP_RECORD_MAX skipped rows. */
static int fire_due(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                    const struct cron_sched *cs, struct cron_tick_res *res)
{
        int64_t now = tx->now_ms, grace_from = now - CRON_MISFIRE_GRACE_MS;
        int64_t window_from = spec->catchup_window_ms ? now - spec->catchup_window_ms : INT64_MIN;
        int64_t t = rec->next_fire_at_ms, ontime = 0, late = 0, nx;
        int64_t catchup[CRON_CATCHUP_MAX_MAX];
        struct missed *m = calloc(1, sizeof(*m));
        bool all = spec->misfire == CRON_MISFIRE_FIRE_ALL;
        int n_catchup = 0, i;
        bool going = false;
        int rc = 0;

        if (!m)
                return BATON_ENOMEM;
        for (i = 0; t && t <= now && i < SCAN_MAX; i++) {
                /* The newest tick inside the grace is on time; a tick it
                 * supersedes is missed like an older one. */
                if (t > grace_from) {
                        late = ontime;
                        ontime = t;
                } else {
                        late = t;
                }
                if (late && all && late >= window_from && n_catchup < spec->catchup_max)
                        catchup[n_catchup++] = late;
                else if (late)
                        missed_add(m, late);
                late = 0;
                if (cron_sched_next(cs, t, &nx))
                        nx = 0;
                if (cs->expr.every_ms > 0 && !cs->expr.every_days && nx && nx <= grace_from &&
                    !all) {
                        /* Jump over a long outage of a short @every to the
                         * last ticks listed: those jumped over are counted. */
                        int64_t k =
                            (grace_from - nx) / cs->expr.every_ms - (CRON_SKIP_RECORD_MAX - 1);
                        if (k > 0) {
                                nx += k * cs->expr.every_ms;
                                m->extra += k;
                        }
                }
                t = nx;
        }
        if (i == SCAN_MAX && t && t <= now) {
                /* Too many missed ticks to list: continue from now. */
                int64_t at;
                m->unknown = true;
                if (cron_sched_next(cs, ontime ? ontime : grace_from, &at) || at > now)
                        at = 0;
                if (at && ontime)
                        missed_add(m, ontime);
                if (at)
                        ontime = at;
                if (cron_sched_next(cs, now, &t))
                        t = 0;
        }
        /* Only the overlap policies other than allow look at a going run. */
        if (spec->overlap != CRON_OVERLAP_ALLOW)
                rc = run_going(tx, rec, &going);
        for (i = 0; !rc && i < n_catchup; i++)
                rc = fire(tx, rec, spec, catchup[i], "catchup", going, res);
        if (!rc && spec->misfire == CRON_MISFIRE_FIRE_ONCE && !ontime && m->total > m->lo &&
            m->ring[(m->total - 1) % CRON_SKIP_RECORD_MAX] >= window_from)
                rc = fire(tx, rec, spec, missed_pop(m), "catchup", going, res);
        if (!rc && missed_count(m)) {
                res->misfired += (int)(missed_count(m) > INT_MAX ? INT_MAX : missed_count(m));
                rc = missed_record(tx, rec, spec, m, "misfire");
        }
        if (!rc && ontime) {
                rc = fire(tx, rec, spec, ontime, "schedule", going, res);
                if (!rc && res->late_n < CRON_LATE_SAMPLES)
                        res->late_ms[res->late_n++] = now - ontime;
        }
        rec->next_fire_at_ms = t;
        free(m);
        return rc;
}

/* On resume: the ticks that fell while rec was paused (from its next fire at
 * the pause up to now) recorded as skipped, reason paused, bounded like
 * misfires. Disabled schedules had no ticks. */
static int record_paused(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec)
{
        struct cron_sched cs = {0};
        struct missed *m = NULL;
        struct verr e;
        int64_t t = rec->next_fire_at_ms, nx;
        int i, rc = 0;

        if (!rec->enabled || !t || t > tx->now_ms)
                return 0;
        if (sched_of(tx, rec->key, spec, &cs, &e)) {
                log_warn("cron", "schedule %s/%s: %s", rec->tenant, rec->key, e.message);
                return 0;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                rc = BATON_ENOMEM;
                goto out;
        }
        for (i = 0; t && t <= tx->now_ms && i < SCAN_MAX; i++) {
                missed_add(m, t);
                if (cron_sched_next(&cs, t, &nx))
                        nx = 0;
                if (cs.expr.every_ms > 0 && !cs.expr.every_days && nx && nx <= tx->now_ms) {
                        int64_t k =
                            (tx->now_ms - nx) / cs.expr.every_ms - (CRON_SKIP_RECORD_MAX - 1);
                        if (k > 0) {
                                nx += k * cs.expr.every_ms;
                                m->extra += k;
                        }
                }
                t = nx;
        }
        if (t && t <= tx->now_ms)
                m->unknown = true;
        rc = missed_record(tx, rec, spec, m, "paused");
out:
        free(m);
        cron_sched_free(&cs);
        return rc;
}

/* rec's definition and expression: from the store thread's cache, or parsed
 * (then cached; own holds them when they cannot be). */
static int definition_of(struct txn *tx, const struct cron_rec *rec, struct cron_spec *own,
                         struct cron_expr *own_expr, const struct cron_spec **spec,
                         const struct cron_expr **expr, struct verr *e)
{
        int rc;

        if (tx->crc && cron_cache_get(tx->crc, rec, spec, expr))
                return 0;
        rc = spec_load(rec->spec, own);
        if (!rc)
                rc = expr_of(rec->key, own, own_expr, e);
        if (rc)
                return rc;
        *spec = own;
        *expr = own_expr;
        if (tx->crc)
                (void)cron_cache_put(tx->crc, rec, own, own_expr, spec, expr);
        return 0;
}

static int tick_one(struct txn *tx, struct cron_rec *rec, struct cron_tick_res *res)
{
        struct cron_spec own = {0};
        struct cron_expr own_expr;
        const struct cron_spec *spec = NULL;
        const struct cron_expr *expr = NULL;
        struct cron_sched cs = {0};
        struct verr e;
        int rc = definition_of(tx, rec, &own, &own_expr, &spec, &expr, &e);

        if (rc == BATON_EINVAL || (!rc && sched_from(tx, spec, expr, &cs, &e))) {
                /* Saved definitions were valid; a zone file may have gone. Look
                 * again in a minute rather than never. */
                log_warn("cron", "schedule %s/%s: %s", rec->tenant, rec->key, e.message);
                rec->next_fire_at_ms = tx->now_ms + 60000;
                rc = write_rec(tx, rec);
                goto out;
        }
        if (rc)
                goto out;
        if (rec->buffered_run_id)
                rc = release_buffer(tx, rec, spec, res);
        if (!rc && rec->enabled && !rec->paused && rec->next_fire_at_ms &&
            rec->next_fire_at_ms <= tx->now_ms)
                rc = fire_due(tx, rec, spec, &cs, res);
        if (!rc)
                rc = tx->ops->cron_run_trim(tx->st, rec->tenant, rec->key, spec->history_max);
        if (!rc)
                rc = write_rec(tx, rec);
out:
        cron_sched_free(&cs);
        cron_spec_free(&own);
        return rc;
}

int cron_tick(struct txn *tx, struct cron_tick_res *out)
{
        struct cron_rec *recs = NULL;
        int n = 0, rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->cron_due(tx->st, tx->now_ms, CRON_TICK_BATCH, &recs, &n);
        for (int i = 0; !rc && i < n; i++)
                rc = tick_one(tx, &recs[i], out);
        cron_recs_free(recs, n);
        if (!rc && n >= CRON_TICK_BATCH)
                out->more = true;
        if (!rc)
                rc = tx->ops->cron_next_due(tx->st, &out->next_ms);
        return rc;
}

/* ---- manual runs and history ---- */

int cron_run_now(struct txn *tx, const struct cron_run_req *req, struct cron_run_info *out)
{
        struct cron_rec rec = {0};
        struct cron_spec spec = {0};
        int64_t n = 0;
        bool going = false, dup = false;
        struct job j = {0};
        int rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->cron_get(tx->st, req->tenant, req->key, &rec);
        if (!rc)
                rc = spec_load(rec.spec, &spec);
        if (!rc)
                rc = tx->ops->cron_run_count(tx->st, req->tenant, req->key, "manual",
                                             tx->now_ms - 3600000, &n);
        if (!rc && n >= req->max_per_hour)
                rc = BATON_ERATE;
        if (!rc)
                rc = run_going(tx, &rec, &going);
        if (rc)
                goto out;
        if (going && !req->force) {
                if (spec.overlap == CRON_OVERLAP_SKIP) {
                        rc = BATON_ECONFLICT;
                        goto out;
                }
                if (spec.overlap == CRON_OVERLAP_REPLACE) {
                        rc = job_cancel(tx, rec.tenant, rec.last_job_id, &j);
                        job_free(&j);
                        if (rc == BATON_ESTATE || rc == BATON_ENOTFOUND)
                                rc = 0;
                }
        }
        if (!rc)
                rc = record_run(tx, &rec, &spec, 0, "manual", "queued", NULL, req->requested_by,
                                req->request_id, &out->run, &dup);
        if (!rc && out->run.job_id) {
                rc = tx->ops->job_get(tx->st, rec.tenant, out->run.job_id, &out->job);
                out->has_job = rc == 0;
        }
        if (!rc)
                rc = tx->ops->cron_run_trim(tx->st, rec.tenant, rec.key, spec.history_max);
        if (!rc)
                rc = write_rec(tx, &rec);
out:
        cron_spec_free(&spec);
        cron_rec_free(&rec);
        return rc;
}

int cron_runs_query(struct txn *tx, const char *tenant, const char *key, int64_t before, int limit,
                    struct cron_run_info **out, int *n_out)
{
        struct cron_rec rec = {0};
        struct cron_run *runs = NULL;
        struct cron_run_info *v = NULL;
        int n = 0, rc;

        *out = NULL;
        *n_out = 0;
        rc = tx->ops->cron_get(tx->st, tenant, key, &rec);
        cron_rec_free(&rec);
        if (!rc)
                rc = tx->ops->cron_run_list(tx->st, tenant, key, before, limit, &runs, &n);
        if (!rc && n > 0 && !(v = calloc((size_t)n, sizeof(*v))))
                rc = BATON_ENOMEM;
        for (int i = 0; !rc && i < n; i++) {
                v[i].run = runs[i];
                memset(&runs[i], 0, sizeof(runs[i]));
                *n_out = i + 1;
                if (!v[i].run.job_id)
                        continue;
                rc = tx->ops->job_get(tx->st, tenant, v[i].run.job_id, &v[i].job);
                v[i].has_job = rc == 0;
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        *out = v;
        cron_runs_free(runs, n);
        return rc;
}
