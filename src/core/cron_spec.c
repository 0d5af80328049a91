/*
 * cron_spec.c: a schedule's definition (struct cron_spec, cron.h): reading it
 * from JSON (a PUT body or the stored text), the bounds of its free-text
 * fields, and writing it back as the JSON text the store keeps and the
 * registry compares.
 *
 * Workload: a definition is read when a schedule is saved, answered or fired
 * (the store thread keeps the parsed ones it fires, cron_cache.c), so these
 * run once per request or cache miss. Assumptions: the job template's fields
 * are validated by the HTTP layer (validate.c), not here; a stored text was
 * valid when saved, so a failure to read it back is a store error.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/jsonx.h"
#include "common/names.h"
#include "core/cron_internal.h"

static const char *const overlap_names[] = {"skip", "allow", "buffer_one", "replace"};
static const char *const misfire_names[] = {"fire_once", "skip", "fire_all"};
static const char *const gap_names[] = {"shift", "skip"};
static const char *const fold_names[] = {"first", "last", "both"};

const char *cron_overlap_name(int v)
{
        return names_get(overlap_names, 4, v);
}

const char *cron_misfire_name(int v)
{
        return names_get(misfire_names, 3, v);
}

const char *cron_gap_name(int v)
{
        return names_get(gap_names, 2, v);
}

const char *cron_fold_name(int v)
{
        return names_get(fold_names, 3, v);
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
        return verr_set(e, BATON_ENOMEM, "internal", "", "out of memory");
}

/* An optional string member; "" counts as given. *out is replaced by a copy
 * (the caller frees it) when the member is present, and kept otherwise. */
static int get_str(json_t *obj, const char *name, const char *prefix, bool required, char **out,
                   struct verr *e)
{
        const char *s = NULL;
        int rc = validate_json_str(obj, prefix, name, required, &s, e);

        if (rc || !s)
                return rc;
        free(*out);
        *out = strdup(s);
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
                return verr_set(e, BATON_ERANGE, "out_of_range", f,
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
        v = names_find(names, n, s);
        free(s);
        if (v < 0) {
                char list[96] = "";
                for (int i = 0; i < n; i++)
                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                                 i ? (i == n - 1 ? " or " : ", ") : "", names[i]);
                return verr_set(e, BATON_EINVAL, "invalid_field", name, "%s must be %s", name,
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
                return verr_set(e, BATON_EINVAL, obj ? "invalid_field" : "missing_field", "job",
                                "job must be an object with queue and type");
        t->priority = -1;
        rc = get_str(obj, "queue", "job", true, &t->queue, e);
        if (!rc)
                rc = get_str(obj, "type", "job", true, &t->type, e);
        if (!rc)
                rc = get_str(obj, "priority", "job", false, &prio, e);
        if (!rc && prio) {
                t->priority = job_priority_parse(prio);
                if (t->priority < 0)
                        rc = verr_set(e, BATON_EINVAL, "invalid_field", "job.priority",
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
                rc = get_int(obj, "timeout_ms", "job", 0, INT64_MAX, &t->timeout_ms, e);
        if (!rc)
                rc = get_str(obj, "group", "job", false, &t->group, e);
        b = json_object_get(obj, "backoff");
        if (!rc && b && json_is_object(b)) {
                rc = get_str(b, "type", "job.backoff", false, &btype, e);
                if (!rc && btype) {
                        t->backoff.type = backoff_type_parse(btype);
                        if (t->backoff.type < 0)
                                rc = verr_set(e, BATON_EINVAL, "invalid_field", "job.backoff.type",
                                              "job.backoff.type must be exponential, fixed, "
                                              "immediate or none");
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
                        rc = verr_set(e, BATON_EINVAL, "invalid_field", "enabled",
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
        return verr_set(e, BATON_EINVAL, code, field, "%s is %zu bytes; the limit is %zu bytes",
                        field, n, max);
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

/* The job template's member of the stored text. */
static json_t *job_to_json(const struct cron_job_tmpl *t, int *rc)
{
        json_t *job = json_object();
        json_t *payload = json_loads(t->payload ? t->payload : "{}", JSON_DECODE_ANY, NULL);

        if (!job)
                *rc = BATON_ENOMEM;
        jsonx_set(rc, job, "queue", json_string(t->queue));
        jsonx_set(rc, job, "type", json_string(t->type));
        jsonx_set(rc, job, "payload", payload ? payload : json_object());
        jsonx_set(rc, job, "priority",
                  t->priority >= 0 ? json_string(job_priority_name(t->priority)) : json_null());
        jsonx_set(rc, job, "max_attempts", json_integer(t->max_attempts));
        jsonx_set(rc, job, "backoff",
                  json_pack("{s:s, s:I, s:I}", "type", backoff_type_name(t->backoff.type),
                            "base_ms", (json_int_t)t->backoff.base_ms, "max_ms",
                            (json_int_t)t->backoff.max_ms));
        jsonx_set(rc, job, "lease_ms", json_integer(t->lease_ms));
        /* Only when set, so the stored text of a schedule without a group is
         * what it was before groups (the registry compares texts). */
        if (t->group)
                jsonx_set(rc, job, "group", json_string(t->group));
        /* The same for a timeout. */
        if (t->timeout_ms > 0)
                jsonx_set(rc, job, "timeout_ms", json_integer(t->timeout_ms));
        return job;
}

char *cron_spec_to_json(const struct cron_spec *s)
{
        json_t *o = json_object();
        char *out = NULL;
        int rc = o ? 0 : BATON_ENOMEM;

        jsonx_set(&rc, o, "cron", json_string(s->cron));
        jsonx_set(&rc, o, "timezone", json_string(s->timezone));
        jsonx_set(&rc, o, "enabled", json_boolean(s->enabled));
        jsonx_set(&rc, o, "owner", jsonx_str(s->owner));
        jsonx_set(&rc, o, "description", jsonx_str(s->description));
        jsonx_set(&rc, o, "job", job_to_json(&s->job, &rc));
        jsonx_set(&rc, o, "overlap", json_string(cron_overlap_name(s->overlap)));
        jsonx_set(&rc, o, "misfire", json_string(cron_misfire_name(s->misfire)));
        jsonx_set(&rc, o, "catchup_window_ms", json_integer(s->catchup_window_ms));
        jsonx_set(&rc, o, "catchup_max", json_integer(s->catchup_max));
        jsonx_set(&rc, o, "dst_gap", json_string(cron_gap_name(s->dst_gap)));
        jsonx_set(&rc, o, "dst_fold", json_string(cron_fold_name(s->dst_fold)));
        jsonx_set(&rc, o, "history_max", json_integer(s->history_max));
        jsonx_dumps(&rc, o, JSON_COMPACT | JSON_PRESERVE_ORDER, &out);
        json_decref(o);
        return out;
}

/* A stored definition read back (cron_internal.h): a text that was valid
 * when saved and no longer reads is a store error. */
int cron_spec_load(const char *text, struct cron_spec *spec)
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
