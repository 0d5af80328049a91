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
 * transaction, through the statements sqlite.c prepares at open.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "common/errors.h"
#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

/* A missing row reads as zero: nobody ever held the lease. */
int sqlite_leader_get(struct store *st, struct leader_rec *out)
{
        int rc = sqlite_one(st, st->stmt[S_LEASE_GET], &store_lease_row, out);

        if (rc == BATON_ENOTFOUND) {
                memset(out, 0, sizeof(*out));
                rc = 0;
        }
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
                rc = sqlite_put(st, S_LEASE_PUT, &store_lease_row, &next);
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
        return sqlite_put(st, S_LEASE_PUT, &store_lease_row, &cur);
}

int sqlite_notify(struct store *st, const char *const *payloads, int n)
{
        (void)st;
        for (int i = 0; i < n; i++)
                if (!payloads[i] || strlen(payloads[i]) > 7000)
                        return BATON_EINVAL;
        return n >= 0 ? 0 : BATON_EINVAL;
}
