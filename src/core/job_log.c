/*
 * job_log.c: the attempt and step logs of a job (job_log.h). Workload: one
 * parse and one serialisation of a small array (at most history_max
 * entries) per claim, heartbeat with a new step, settle or expiry.
 * Assumptions: a stored log that no longer reads as an array starts afresh
 * (the log is informative; the job's state does not depend on it). Every
 * jansson allocation is checked (common/jsonx.h): a failure fails the
 * operation, which rolls back.
 */
#include "core/job_log.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/jsonx.h"
#include "common/jw.h"

/* The array in text, or a new empty one; NULL when out of memory. */
static json_t *load_array(const char *text)
{
        json_t *a = text ? json_loads(text, 0, NULL) : NULL;

        if (a && json_is_array(a))
                return a;
        json_decref(a);
        return json_array();
}

/* Replaces *text with the serialized array, dropping the oldest entries beyond
 * max, unless rc is already an error. Consumes the reference to a. */
static int store_array(int rc, char **text, json_t *a, int max)
{
        char *s = NULL;

        if (!a && !rc)
                rc = BATON_ENOMEM;
        while (!rc && max > 0 && json_array_size(a) > (size_t)max)
                json_array_remove(a, 0);
        jsonx_dumps(&rc, a, JSON_COMPACT, &s);
        json_decref(a);
        if (rc)
                return rc;
        free(*text);
        *text = s;
        return 0;
}

static json_t *time_json(int64_t ms)
{
        char tmp[40];

        if (!ms)
                return json_null();
        time_format_ms(ms, tmp, sizeof(tmp));
        return json_string(tmp);
}

/* The latest entry of a, or NULL for an empty log. */
static json_t *last_entry(json_t *a)
{
        size_t n = json_array_size(a);

        return n ? json_array_get(a, n - 1) : NULL;
}

static bool entry_open(json_t *e)
{
        return e && json_is_null(json_object_get(e, "finished_at"));
}

int job_log_attempt_open(const struct txn *tx, struct job *j)
{
        json_t *a = load_array(j->attempts);
        json_t *e = json_object();
        int rc = a && e ? 0 : BATON_ENOMEM;

        jsonx_set(&rc, e, "attempt", json_integer(j->attempt));
        jsonx_set(&rc, e, "worker", jsonx_str(j->worker));
        jsonx_set(&rc, e, "started_at", time_json(j->started_at_ms));
        jsonx_set(&rc, e, "finished_at", json_null());
        jsonx_set(&rc, e, "outcome", json_null());
        jsonx_set(&rc, e, "error", json_null());
        jsonx_append(&rc, a, e);
        return store_array(rc, &j->attempts, a, tx->limits->history_max);
}

int job_log_attempt_close(const struct txn *tx, struct job *j, const char *outcome,
                          const char *error)
{
        json_t *a = load_array(j->attempts);
        json_t *e = last_entry(a);
        int rc = 0;

        if (e) {
                jsonx_set(&rc, e, "finished_at", time_json(tx->now_ms));
                jsonx_set(&rc, e, "outcome", json_string(outcome));
                jsonx_set(&rc, e, "error", jsonx_str(error));
        }
        return store_array(rc, &j->attempts, a, tx->limits->history_max);
}

int job_log_step_change(const struct txn *tx, struct job *j, const char *step)
{
        json_t *a = load_array(j->steps);
        json_t *last = last_entry(a);
        json_t *e;
        int rc = 0;

        if (entry_open(last)) {
                const char *name = json_string_value(json_object_get(last, "step"));
                if (name && strcmp(name, step) == 0) {
                        json_decref(a);
                        return 0;
                }
                jsonx_set(&rc, last, "finished_at", time_json(tx->now_ms));
        }
        e = json_object();
        if (!e)
                rc = BATON_ENOMEM;
        jsonx_set(&rc, e, "step", json_string(step));
        jsonx_set(&rc, e, "attempt", json_integer(j->attempt));
        jsonx_set(&rc, e, "started_at", time_json(tx->now_ms));
        jsonx_set(&rc, e, "finished_at", json_null());
        jsonx_append(&rc, a, e);
        return store_array(rc, &j->steps, a, tx->limits->history_max);
}

int job_log_step_close(const struct txn *tx, struct job *j)
{
        json_t *a, *last;
        int rc = 0;

        if (!j->steps)
                return 0;
        a = load_array(j->steps);
        last = last_entry(a);
        if (a && !entry_open(last)) {
                json_decref(a);
                return 0;
        }
        jsonx_set(&rc, last, "finished_at", time_json(tx->now_ms));
        return store_array(rc, &j->steps, a, tx->limits->history_max);
}
