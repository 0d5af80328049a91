/*
 * pg_cluster.c: the leader lease, notifications and the notification
 * listener of the PostgreSQL backend (store.h, "cluster"; schema migration 6).
 *
 * The lease is one row (leader_lease, id 1, present from the migration on).
 * No lease call ever waits for a row lock, so the lease row can never take
 * part in a deadlock with the job rows a group-commit batch holds:
 *  - leader_acquire reads the row without a lock and decides
 *    (store_leader_decide). A take locks it FOR UPDATE SKIP LOCKED, a
 *    renewal FOR NO KEY UPDATE SKIP LOCKED; either decides again on the
 *    locked row and writes. If the row is locked (another node is taking a
 *    lapsed lease, or, for a take, a leader is inside a duty it checked), the
 *    call changes nothing this time and the next beat tries again.
 *  - leader_check locks the row FOR KEY SHARE SKIP LOCKED and compares node
 *    and epoch. Key-share locks conflict neither with each other nor with a
 *    renewal's FOR NO KEY UPDATE (the update changes no key column), only
 *    with a take's FOR UPDATE: duties never wait on one another, the holder
 *    renews its lease (on a connection of its own, server/sched.c) while its
 *    duties run, and a row locked for update means the lease is changing
 *    hands, so the duty is refused (BATON_ECONFLICT). The lock, held to the
 *    end of the duty's transaction, keeps any other node from taking the
 *    lease until the duty has committed or rolled back: this is the fencing.
 *    (FOR SHARE, used up to 85d7779, also blocks the renewal: with renewals
 *    on their own connection, a long tick would have cost the leader its
 *    lease.)
 * Instants are the batch's now (the database's clock, store_ops.now_ms).
 *
 * notify is pg_notify over the array of a batch's payloads, deferred so that
 * it travels with the commit; PostgreSQL delivers the notifications at commit
 * and drops them on rollback. The channel is "baton:<schema>" (the connection's current
 * schema): NOTIFY reaches every session of the database, and deployments that
 * share a database in separate schemas must not wake each other. The listener
 * is a connection of its own in non-blocking mode: it reads its schema,
 * LISTENs once, then the loop watches its socket and listen_read drains
 * PQnotifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/buf.h"
#include "common/log.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

static const struct pg_stmt S_LEASE_GET = {"pg_leader_get", "SELECT " STORE_LEASE_COLS
                                                            " FROM leader_lease WHERE id = 1"};
static const struct pg_stmt S_LEASE_LOCK = {
    "pg_leader_lock",
    "SELECT " STORE_LEASE_COLS " FROM leader_lease WHERE id = 1 FOR UPDATE SKIP LOCKED"};
static const struct pg_stmt S_LEASE_RENEW = {
    "pg_leader_renew",
    "SELECT " STORE_LEASE_COLS " FROM leader_lease WHERE id = 1 FOR NO KEY UPDATE SKIP LOCKED"};
static const struct pg_stmt S_LEASE_SHARE = {
    "pg_leader_share",
    "SELECT " STORE_LEASE_COLS " FROM leader_lease WHERE id = 1 FOR KEY SHARE SKIP LOCKED"};
static const struct pg_stmt S_LEASE_PUT = {"pg_leader_put",
                                           "UPDATE leader_lease SET node = $1, epoch = $2,"
                                           " lease_until = $3, heartbeat_at = $4, lag_ms = $5"
                                           " WHERE id = 1"};
static const struct pg_stmt S_NOTIFY = {"pg_notify",
                                        "SELECT pg_notify('" PG_NOTIFY_CHANNEL
                                        ":' || current_schema(), p) FROM unnest($1::text[]) AS p"};

#define NOTE_MAX 7000 /* below PostgreSQL's 8000-byte payload limit */

/* Runs a lease read; a missing row reads as zero, and *found (if not NULL)
 * says whether the row came back. */
static int lease_read(struct store *st, const struct pg_stmt *s, struct leader_rec *out,
                      bool *found)
{
        int rc = pg_get_one(st, s, NULL, &store_lease_row, out);

        if (found)
                *found = rc == 0;
        if (rc == BATON_ENOTFOUND) {
                memset(out, 0, sizeof(*out));
                rc = 0;
        }
        return rc;
}

int pg_leader_get(struct store *st, struct leader_rec *out)
{
        return lease_read(st, &S_LEASE_GET, out, NULL);
}

static int lease_put(struct store *st, const struct leader_rec *l)
{
        return pg_run(st, &S_LEASE_PUT, PG_ROW(&store_lease_row, l), NULL);
}

int pg_leader_acquire(struct store *st, const char *node, int64_t held_epoch, int64_t now_ms,
                      int64_t ttl_ms, int64_t lag_ms, struct leader_rec *out)
{
        struct leader_rec cur, next;
        bool found = false, renew;
        int rc;

        if (!node || !*node || strlen(node) > STORE_NODE_MAX || ttl_ms <= 0)
                return BATON_EINVAL;
        rc = lease_read(st, &S_LEASE_GET, &cur, NULL);
        if (rc)
                return rc;
        if (!store_leader_decide(&cur, node, held_epoch, now_ms, ttl_ms, lag_ms, true, &next)) {
                *out = cur;
                return 0;
        }
        /* A renewal keeps node and epoch, so it need not exclude the duties
         * that hold the row (key share); a take must. */
        renew = next.epoch == cur.epoch && strcmp(next.node, cur.node) == 0;
        rc = lease_read(st, renew ? &S_LEASE_RENEW : &S_LEASE_LOCK, &cur, &found);
        if (rc)
                return rc;
        if (!found) {
                /* Locked by a node in the middle of a take, or by a duty of
                 * the holder: leave it; the next beat asks again. */
                rc = lease_read(st, &S_LEASE_GET, out, NULL);
                return rc;
        }
        if (store_leader_decide(&cur, node, held_epoch, now_ms, ttl_ms, lag_ms, true, &next) &&
            (!renew || (next.epoch == cur.epoch && strcmp(next.node, cur.node) == 0)))
                rc = lease_put(st, &next);
        else
                next = cur;
        if (!rc)
                *out = next;
        return rc;
}

int pg_leader_check(struct store *st, const char *node, int64_t epoch)
{
        struct leader_rec cur;
        bool found = false;
        int rc = lease_read(st, &S_LEASE_SHARE, &cur, &found);

        if (rc)
                return rc;
        if (!found)
                return BATON_ECONFLICT; /* the lease is changing hands */
        return epoch > 0 && cur.epoch == epoch && strcmp(cur.node, node) == 0 ? 0 : BATON_ECONFLICT;
}

int pg_leader_release(struct store *st, const char *node, int64_t epoch)
{
        struct leader_rec cur;
        bool found = false;
        /* Node and epoch stay: like a renewal, the release need not wait
         * for the holder's own duty to end (key share). */
        int rc = lease_read(st, &S_LEASE_RENEW, &cur, &found);

        if (rc || !found || cur.epoch != epoch || strcmp(cur.node, node) != 0)
                return rc;
        cur.lease_until_ms = 0;
        return lease_put(st, &cur);
}

/* Appends v to the array literal in b as a quoted element ("..." with " and \\
 * escaped). */
static int array_elem(struct buf *b, const char *v, bool first)
{
        int rc = buf_adds(b, first ? "\"" : ",\"");

        for (const char *p = v; !rc && *p; p++) {
                if (*p == '"' || *p == '\\')
                        rc = buf_addc(b, '\\');
                if (!rc)
                        rc = buf_addc(b, *p);
        }
        return rc ? rc : buf_addc(b, '"');
}

int pg_notify(struct store *st, const char *const *payloads, int n)
{
        struct pg_params p = {0};
        struct buf b;
        int rc = 0;

        if (n < 0)
                return BATON_EINVAL;
        for (int i = 0; i < n; i++)
                if (!payloads[i] || strlen(payloads[i]) > NOTE_MAX)
                        return BATON_EINVAL;
        if (n == 0)
                return 0;
        buf_init(&b, (size_t)n * (2 * NOTE_MAX + 3) + 3);
        rc = buf_addc(&b, '{');
        for (int i = 0; !rc && i < n; i++)
                rc = array_elem(&b, payloads[i], i == 0);
        if (!rc)
                rc = buf_addc(&b, '}');
        if (!rc) {
                pg_p_text(&p, b.ptr);
                /* Sent with the next statement or the commit: no round trip
                 * of its own. */
                rc = pg_defer_stmt(st, &S_NOTIFY, &p);
        }
        buf_free(&b);
        return rc;
}

/* ---- the listener ---- */

struct store_listener {
        PGconn *conn;
};

void pg_listen_close(struct store_listener *l)
{
        if (!l)
                return;
        if (l->conn)
                PQfinish(l->conn);
        free(l);
}

int pg_listen_open(const struct store_opts *opts, struct store_listener **out)
{
        struct store_listener *l = calloc(1, sizeof(*l));
        char channel[160], sql[400], *quoted;
        PGresult *r = NULL;
        int rc = BATON_ESTORE;

        *out = NULL;
        if (!l)
                return BATON_ENOMEM;
        l->conn = PQconnectdb(opts->uri);
        if (PQstatus(l->conn) != CONNECTION_OK) {
                log_warn("store", "listener: cannot connect: %s", PQerrorMessage(l->conn));
                goto out;
        }
        r = PQexec(l->conn, "SELECT current_schema()");
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
                log_warn("store", "listener: reading the schema failed: %s",
                         PQerrorMessage(l->conn));
                goto out;
        }
        snprintf(channel, sizeof(channel), "%s:%s", PG_NOTIFY_CHANNEL, PQgetvalue(r, 0, 0));
        PQclear(r);
        r = NULL;
        quoted = PQescapeIdentifier(l->conn, channel, strlen(channel));
        if (!quoted)
                goto out;
        snprintf(sql, sizeof(sql), "LISTEN %s", quoted);
        PQfreemem(quoted);
        r = PQexec(l->conn, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                log_warn("store", "listener: LISTEN failed: %s", PQerrorMessage(l->conn));
                goto out;
        }
        if (PQsetnonblocking(l->conn, 1) != 0)
                goto out;
        rc = 0;
out:
        PQclear(r);
        if (rc)
                pg_listen_close(l);
        else
                *out = l;
        return rc;
}

int pg_listen_fd(struct store_listener *l)
{
        return PQsocket(l->conn);
}

int pg_listen_read(struct store_listener *l, void (*fn)(void *ctx, const char *payload), void *ctx)
{
        PGnotify *n;

        if (!PQconsumeInput(l->conn) || PQstatus(l->conn) != CONNECTION_OK) {
                log_warn("store", "listener: connection lost: %s", PQerrorMessage(l->conn));
                return BATON_ESTORE;
        }
        while ((n = PQnotifies(l->conn))) {
                fn(ctx, n->extra);
                PQfreemem(n);
        }
        return 0;
}
