/*
 * pg_sessions.c: the dashboard's sessions in the PostgreSQL backend (struct
 * store_ops, version 15), shared by every node: a session made on one node
 * works on all of them (each node keeps a copy in memory, reloaded per key
 * on the key's notification, server/sessions.h). Workload: a few writes per
 * person per day; reads at start and on changes. Assumes the single caller of
 * the store interface (the store thread).
 */
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

static const struct pg_stmt S_SESSION_INSERT = {"pg_session_insert",
                                                "INSERT INTO sessions (" STORE_SESSION_COLS
                                                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
                                                " ON CONFLICT DO NOTHING"},
                            S_SESSION_DELETE = {"pg_session_delete",
                                                "DELETE FROM sessions WHERE id = $1"},
                            S_SESSION_LIST = {
                                "pg_session_list",
                                "SELECT " STORE_SESSION_COLS " FROM sessions"
                                " WHERE ($1::text IS NULL OR key_id = $1::text)"
                                " AND (key_id, created_at, id) > ($2::text, $3::bigint, $4::text)"
                                " ORDER BY key_id, created_at, id LIMIT $5"};

int pg_session_insert(struct store *st, const struct session_rec *r)
{
        int rc;

        if (!r->id || !r->csrf || !r->key_id || !r->key_digest || !r->tenant)
                return BATON_EINVAL;
        rc = pg_update(st, &S_SESSION_INSERT, PG_ROW(&store_session_row, r));
        return rc == BATON_ENOTFOUND ? BATON_ECONFLICT : rc; /* the id is taken */
}

int pg_session_delete(struct store *st, const char *id)
{
        if (!id)
                return BATON_ENOTFOUND;
        return pg_update(st, &S_SESSION_DELETE, PG_ARGS(SA(id)));
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (session_recs_free). */
int pg_session_list(struct store *st, const char *key_id, const char *after_key_id,
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
        return pg_collect(
            st, &S_SESSION_LIST,
            PG_ARGS(SA(key_id), SA(after_key_id), SA(after_created_ms), SA(after_id), SA(limit)),
            &store_session_row, out, n_out);
}
