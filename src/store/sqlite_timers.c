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

/* On success the caller owns out's strings; out is untouched otherwise. */
int sqlite_timer_get(struct store *st, const char *tenant, const char *key, struct timer_rec *out)
{
        return sqlite_one(st, SQLITE_STMT(st, S_TIMER_GET, SA(tenant), SA(key)), &store_timer_row,
                          out);
}

int sqlite_timer_put(struct store *st, const struct timer_rec *t)
{
        if (!t->tenant || !t->key || !t->queue || !t->type || !t->payload)
                return BATON_EINVAL;
        return sqlite_put(st, S_TIMER_PUT, &store_timer_row, t);
}

/* *out is a malloc'd array owned by the caller (timer_recs_free). */
int sqlite_timer_list(struct store *st, const char *tenant, const char *prefix, const char *after,
                      int limit, struct timer_rec **out, int *n_out)
{
        sqlite3_stmt *s;
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
        s = SQLITE_STMT(st, S_TIMER_LIST, SA(tenant), SA(after ? after : ""), SA(prefix), SA(hi),
                        SA(limit));
        rc = sqlite_rows(st, s, limit, &store_timer_row, out, n_out);
        sqlite3_free(hi);
        return rc;
}

int sqlite_timer_due(struct store *st, int64_t now_ms, int max, struct timer_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (max <= 0)
                return BATON_EINVAL;
        return sqlite_rows(st, SQLITE_STMT(st, S_TIMER_DUE, SA(now_ms), SA(max)), max,
                           &store_timer_row, out, n_out);
}

int sqlite_timer_next(struct store *st, int64_t *at_ms_out)
{
        return sqlite_int(st, st->stmt[S_TIMER_NEXT], at_ms_out, NULL);
}
