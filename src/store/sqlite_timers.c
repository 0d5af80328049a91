/*
 * sqlite_timers.c: the timers of the SQLite backend (struct store_ops): one row
 * per (tenant, key) with its version, state and due time (timer_due index), put
 * whole on every change. Workload: one put per timer API call, and one due read
 * per store-thread wake-up that fires timers. Assumptions: calls come from the
 * store thread inside a transaction.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

/* ---- timers ---- */

/* Fills *out from the current timer row (TIMER_COLS order). On success the
 * caller owns the strings (timer_rec_free); on failure none are left. */
static int read_timer(sqlite3_stmt *s, struct timer_rec *out)
{
        struct timer_rec t = {0};
        int rc;

        t.version = sqlite3_column_int64(s, 2);
        t.state = sqlite3_column_int(s, 3);
        t.fire_at_ms = sqlite3_column_int64(s, 4);
        t.priority = sqlite3_column_int(s, 8);
        t.max_attempts = sqlite3_column_int(s, 9);
        t.backoff.type = sqlite3_column_int(s, 10);
        t.backoff.base_ms = sqlite3_column_int64(s, 11);
        t.backoff.max_ms = sqlite3_column_int64(s, 12);
        t.lease_ms = sqlite3_column_int64(s, 13);
        t.job_id = sqlite3_column_int64(s, 15);
        t.fired_at_ms = sqlite3_column_int64(s, 16);
        t.created_at_ms = sqlite3_column_int64(s, 17);
        t.updated_at_ms = sqlite3_column_int64(s, 18);
        t.due_at_ms = sqlite3_column_int64(s, 20);
        t.deferred = sqlite3_column_int(s, 21);
        rc = sqlite_read_text(s, 0, &t.tenant);
        if (!rc)
                rc = sqlite_read_text(s, 1, &t.key);
        if (!rc)
                rc = sqlite_read_text(s, 5, &t.queue);
        if (!rc)
                rc = sqlite_read_text(s, 6, &t.type);
        if (!rc)
                rc = sqlite_read_text(s, 7, &t.payload);
        if (!rc)
                rc = sqlite_read_text(s, 14, &t.request_id);
        if (!rc)
                rc = sqlite_read_text(s, 19, &t.group);
        if (rc)
                timer_rec_free(&t);
        else
                *out = t;
        return rc;
}

/* On success the caller owns out's strings; out is untouched otherwise. */
int sqlite_timer_get(struct store *st, const char *tenant, const char *key, struct timer_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_GET];
        int rc;

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, key);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_timer(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : sqlite_fail(st, rc, "timer_get");
        sqlite_finish(s);
        return rc;
}

int sqlite_timer_put(struct store *st, const struct timer_rec *t)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_PUT];

        if (!t->tenant || !t->key || !t->queue || !t->type || !t->payload)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, t->tenant);
        sqlite_bind_text(s, 2, t->key);
        sqlite3_bind_int64(s, 3, t->version);
        sqlite3_bind_int(s, 4, t->state);
        sqlite3_bind_int64(s, 5, t->fire_at_ms);
        sqlite_bind_text(s, 6, t->queue);
        sqlite_bind_text(s, 7, t->type);
        sqlite_bind_text(s, 8, t->payload);
        sqlite3_bind_int(s, 9, t->priority);
        sqlite3_bind_int(s, 10, t->max_attempts);
        sqlite3_bind_int(s, 11, t->backoff.type);
        sqlite3_bind_int64(s, 12, t->backoff.base_ms);
        sqlite3_bind_int64(s, 13, t->backoff.max_ms);
        sqlite3_bind_int64(s, 14, t->lease_ms);
        sqlite_bind_text(s, 15, t->request_id);
        sqlite3_bind_int64(s, 16, t->job_id);
        sqlite3_bind_int64(s, 17, t->fired_at_ms);
        sqlite3_bind_int64(s, 18, t->created_at_ms);
        sqlite3_bind_int64(s, 19, t->updated_at_ms);
        sqlite_bind_text(s, 20, t->group);
        sqlite3_bind_int64(s, 21, t->due_at_ms > 0 ? t->due_at_ms : t->fire_at_ms);
        sqlite3_bind_int(s, 22, t->deferred);
        return sqlite_run(st, s, "timer_put");
}

/* Steps s (already bound) and collects at most max timer rows into a malloc'd
 * array owned by the caller (timer_recs_free); finishes s. */
static int read_timers(struct store *st, sqlite3_stmt *s, int max, struct timer_rec **out,
                       int *n_out, const char *what)
{
        struct timer_rec *v = NULL;
        int n = 0, cap = 0;
        int step = SQLITE_DONE, rc = 0;

        while (!rc && n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = store_grow((void **)&v, n, &cap, sizeof(*v));
                if (!rc)
                        rc = read_timer(s, &v[n]);
                if (!rc)
                        n++;
        }
        if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
                rc = sqlite_fail(st, step, what);
        sqlite_finish(s);
        if (rc) {
                timer_recs_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

int sqlite_timer_list(struct store *st, const char *tenant, const char *prefix, const char *after,
                      int limit, struct timer_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_LIST];
        char *hi;
        int rc;

        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        prefix = prefix ? prefix : "";
        /* Every key that starts with prefix sorts before prefix + 0x7f. */
        hi = sqlite3_mprintf("%s\x7f", prefix);
        if (!hi)
                return BATON_ENOMEM;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, after ? after : "");
        sqlite_bind_text(s, 3, prefix);
        sqlite_bind_text(s, 4, hi);
        sqlite3_bind_int(s, 5, limit);
        rc = read_timers(st, s, limit, out, n_out, "timer_list");
        sqlite3_free(hi);
        return rc;
}

int sqlite_timer_due(struct store *st, int64_t now_ms, int max, struct timer_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_DUE];

        *out = NULL;
        *n_out = 0;
        if (max <= 0)
                return BATON_EINVAL;
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int(s, 2, max);
        return read_timers(st, s, max, out, n_out, "timer_due");
}

int sqlite_timer_next(struct store *st, int64_t *at_ms_out)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_NEXT];
        int rc = sqlite3_step(s);

        *at_ms_out = 0;
        if (rc == SQLITE_ROW) {
                *at_ms_out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = rc == SQLITE_DONE ? 0 : sqlite_fail(st, rc, "timer_next");
        }
        sqlite_finish(s);
        return rc;
}
