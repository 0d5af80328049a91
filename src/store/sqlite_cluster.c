/*
 * sqlite_cluster.c: the leader lease and notifications of the SQLite backend
 * (store.h, "cluster", schema migration 6). One process owns a SQLite store,
 * so that process always leads: leader_acquire grants the lease to whoever
 * asks (store_leader_decide with shared = false), bumping the epoch when the
 * node or its process changed, and renews it otherwise. The row still matters:
 * it is the scheduler's heartbeat (written every second, read by GET
 * /v1/scheduler) and its epoch fences duties exactly as on a shared store.
 * There is no other node to notify, so notify accepts and drops.
 *
 * Workload: one read and one write per second, plus one read per leader duty
 * transaction. Statements are prepared per call; at this rate caching them
 * would buy nothing.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "store/sqlite.h"
#include "store/store.h"

static int lfail(sqlite3 *db, int rc, const char *what)
{
        log_error("store", "%s: %s (sqlite %d)", what, sqlite3_errmsg(db), rc);
        return (rc & 0xff) == SQLITE_NOMEM ? BATON_ENOMEM : BATON_ESTORE;
}

int sqlite_leader_get(struct store *st, struct leader_rec *out)
{
        sqlite3 *db = sqlite_db(st);
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(
            db,
            "SELECT node, epoch, lease_until, heartbeat_at, lag_ms FROM leader_lease WHERE id = 1",
            -1, &s, NULL);

        memset(out, 0, sizeof(*out));
        if (rc != SQLITE_OK)
                return lfail(db, rc, "preparing the leader lease read");
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                const unsigned char *node = sqlite3_column_text(s, 0);
                snprintf(out->node, sizeof(out->node), "%s", node ? (const char *)node : "");
                out->epoch = sqlite3_column_int64(s, 1);
                out->lease_until_ms = sqlite3_column_int64(s, 2);
                out->heartbeat_at_ms = sqlite3_column_int64(s, 3);
                out->lag_ms = sqlite3_column_int64(s, 4);
                rc = 0;
        } else if (rc == SQLITE_DONE) {
                rc = 0;
        } else {
                rc = lfail(db, rc, "reading the leader lease");
        }
        sqlite3_finalize(s);
        return rc;
}

static int put(sqlite3 *db, const struct leader_rec *l)
{
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db,
                                    "INSERT INTO leader_lease (id, node, epoch, lease_until,"
                                    " heartbeat_at, lag_ms) VALUES (1, ?1, ?2, ?3, ?4, ?5)"
                                    " ON CONFLICT (id) DO UPDATE SET node = ?1, epoch = ?2,"
                                    " lease_until = ?3, heartbeat_at = ?4, lag_ms = ?5",
                                    -1, &s, NULL);

        if (rc != SQLITE_OK)
                return lfail(db, rc, "preparing the leader lease write");
        sqlite3_bind_text(s, 1, l->node, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, l->epoch);
        sqlite3_bind_int64(s, 3, l->lease_until_ms);
        sqlite3_bind_int64(s, 4, l->heartbeat_at_ms);
        sqlite3_bind_int64(s, 5, l->lag_ms);
        rc = sqlite3_step(s);
        rc = rc == SQLITE_DONE ? 0 : lfail(db, rc, "writing the leader lease");
        sqlite3_finalize(s);
        return rc;
}

int sqlite_leader_acquire(struct store *st, const char *node, int64_t held_epoch, int64_t now_ms,
                          int64_t ttl_ms, int64_t lag_ms, struct leader_rec *out)
{
        struct leader_rec cur, next;
        int rc;

        if (!node || !*node || strlen(node) > STORE_NODE_MAX || ttl_ms <= 0)
                return BATON_EINVAL;
        rc = sqlite_leader_get(st, &cur);
        if (rc)
                return rc;
        if (store_leader_decide(&cur, node, held_epoch, now_ms, ttl_ms, lag_ms, false, &next))
                rc = put(sqlite_db(st), &next);
        if (!rc)
                *out = next;
        return rc;
}

int sqlite_leader_check(struct store *st, const char *node, int64_t epoch)
{
        struct leader_rec cur;
        int rc = sqlite_leader_get(st, &cur);

        if (rc)
                return rc;
        return cur.epoch == epoch && epoch > 0 && strcmp(cur.node, node) == 0 ? 0 : BATON_ECONFLICT;
}

int sqlite_leader_release(struct store *st, const char *node, int64_t epoch)
{
        struct leader_rec cur;
        int rc = sqlite_leader_get(st, &cur);

        if (rc || cur.epoch != epoch || strcmp(cur.node, node) != 0)
                return rc;
        cur.lease_until_ms = 0;
        return put(sqlite_db(st), &cur);
}

int sqlite_notify(struct store *st, const char *const *payloads, int n)
{
        (void)st;
        for (int i = 0; i < n; i++)
                if (!payloads[i] || strlen(payloads[i]) > 7000)
                        return BATON_EINVAL;
        return n >= 0 ? 0 : BATON_EINVAL;
}
