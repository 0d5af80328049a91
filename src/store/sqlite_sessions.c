/*
 * sqlite_sessions.c: the dashboard's sessions in the SQLite backend (struct
 * store_ops, version 15): one sessions row per signed-in browser, inserted
 * at sign-in, deleted at sign-out, past the per-key limit or once expired,
 * and read whole at start and per key when one changes (core/sessions.h).
 * Workload: a few writes per person per day; reads at start and on changes.
 * Assumptions: calls come from the store thread inside a transaction.
 */
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

/* BATON_EINVAL for a record the table cannot hold (the NOT NULL columns), so
 * that a caller's bug is not reported as a store failure. */
int sqlite_session_insert(struct store *st, const struct session_rec *r)
{
        if (!r->id || !r->csrf || !r->key_id || !r->key_digest || !r->tenant)
                return BATON_EINVAL;
        return sqlite_put(st, S_SESSION_INSERT, &store_session_row, r);
}

int sqlite_session_delete(struct store *st, const char *id)
{
        if (!id)
                return BATON_ENOTFOUND;
        return sqlite_update(st, SQLITE_STMT(st, S_SESSION_DELETE, SA(id)));
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (session_recs_free). Key ids are never empty, so "" stands for "from the
 * start". */
int sqlite_session_list(struct store *st, const char *key_id, const char *after_key_id,
                        int64_t after_created_ms, const char *after_id, int limit,
                        struct session_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (limit <= 0)
                return BATON_EINVAL;
        if (!after_id) {
                after_key_id = "";
                after_created_ms = INT64_MIN;
                after_id = "";
        }
        return sqlite_rows(st,
                           SQLITE_STMT(st, S_SESSION_LIST, SA(key_id), SA(after_key_id),
                                       SA(after_created_ms), SA(after_id), SA(limit)),
                           limit, &store_session_row, out, n_out);
}
