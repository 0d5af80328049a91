/*
 * job_log.c: the attempt and step logs of a job (job_log.h). Workload: one
 * parse and one serialisation of a small array (at most history_max
 * entries) per claim, heartbeat with a new step, settle or expiry -- but
 * not on the processing path's common cases: a job's first attempt entry
 * is written directly, and an attempt closed without an error has the
 * open entry's tail replaced in its text (OPEN_TAIL), so the claim and the
 * settle of a job completed on its first attempt parse no log.
 * Assumptions: a stored log that no longer reads as an array starts afresh
 * (the log is informative; the job's state does not depend on it). Every
 * jansson allocation is checked (common/jsonx.h): a failure fails the
 * operation, which rolls back.
 */
#include "core/job_log.h"

#include <stdint.h>
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

/* How an open attempt entry ends, in the compact text both the writer
 * below and jansson's (JSON_COMPACT, members in insertion order) give it:
 * the tail that job_log_attempt_close replaces without parsing the log. */
#define OPEN_TAIL "\"finished_at\":null,\"outcome\":null,\"error\":null}]"

/* Ends a rewrite of j's attempt log into b: on rc 0 the text in b replaces
 * the log (b's memory is then the job's), else b is freed and the log
 * stays. Returns rc. */
static int attempts_take(struct job *j, struct buf *b, int rc)
{
        if (rc) {
                buf_free(b);
                return rc;
        }
        free(j->attempts);
        j->attempts = b->ptr;
        return 0;
}

/* A job's first attempt (an empty log, the common case): the log of one
 * entry written directly, without building and printing a jansson tree. */
static int attempt_open_first(struct job *j)
{
        struct buf b;
        struct jw w;

        buf_init(&b, SIZE_MAX); /* the log's size is the job's */
        jw_init(&w, &b);
        jw_arr_open(&w);
        jw_obj_open(&w);
        jw_kint(&w, "attempt", j->attempt);
        jw_kstr(&w, "worker", j->worker);
        jw_ktime(&w, "started_at", j->started_at_ms);
        jw_key(&w, "finished_at");
        jw_null(&w);
        jw_key(&w, "outcome");
        jw_null(&w);
        jw_key(&w, "error");
        jw_null(&w);
        jw_obj_close(&w);
        jw_arr_close(&w);
        return attempts_take(j, &b, w.err);
}

int job_log_attempt_open(const struct txn *tx, struct job *j)
{
        if (!j->attempts || strcmp(j->attempts, "[]") == 0)
                return attempt_open_first(j);

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

/* Whether s needs no escape in a JSON string. */
static bool plain(const char *s)
{
        for (; *s; s++)
                if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
                        return false;
        return true;
}

/* The close of an entry without an error (a completed attempt, the common
 * case) whose log ends with the open entry's OPEN_TAIL: the tail rewritten
 * in place of parsing and printing the whole log. *done false when the
 * log does not end so (the caller takes the general path). A close adds no
 * entry, so it drops none: the open before it kept the log within
 * history_max. */
static int attempt_close_tail(const struct txn *tx, struct job *j, const char *outcome, bool *done)
{
        size_t n = j->attempts ? strlen(j->attempts) : 0, tail = sizeof(OPEN_TAIL) - 1;
        char at[40];
        struct buf b;
        int rc;

        *done = false;
        if (n < tail || memcmp(j->attempts + n - tail, OPEN_TAIL, tail) != 0 || !plain(outcome))
                return 0;
        time_format_ms(tx->now_ms, at, sizeof(at));
        buf_init(&b, SIZE_MAX); /* the log's size is the job's */
        rc = buf_add(&b, j->attempts, n - tail);
        if (!rc)
                rc = buf_printf(&b, "\"finished_at\":\"%s\",\"outcome\":\"%s\",\"error\":null}]",
                                at, outcome);
        rc = attempts_take(j, &b, rc);
        *done = !rc;
        return rc;
}

int job_log_attempt_close(const struct txn *tx, struct job *j, const char *outcome,
                          const char *error)
{
        bool done = false;

        if (!error) {
                int rc = attempt_close_tail(tx, j, outcome, &done);

                if (rc || done)
                        return rc;
        }

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
