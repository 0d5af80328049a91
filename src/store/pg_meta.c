/*
 * pg_meta.c: the records around jobs in the PostgreSQL backend (struct
 * store_ops): idempotency records (idem_take and idem_swap included), queues
 * and their per-tenant totals, tenants, API keys and the audit log. Split
 * from pg.c. Workload: an idempotent enqueue takes its key in the same batch
 * as the job insert, every enqueue ensures its queue and tenant, every
 * authenticated request reads its key, and audited routes insert audit rows;
 * the writes that cannot fail on data (upserts) are deferred into the next
 * round trip (pg_defer_write), so most of these cost no round trip of their
 * own. Assumes the single caller of the store interface (the store thread).
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "common/buf.h"
#include "common/job_state.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

static const struct pg_stmt
    S_IDEM_GET = {"pg_idem_get", "SELECT " STORE_IDEM_COLS " FROM idempotency"
                                 " WHERE tenant = $1 AND key = $2"},
    S_IDEM_PUT = {"pg_idem_put",
                  "INSERT INTO idempotency (" STORE_IDEM_COLS ")"
                  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, key) DO UPDATE SET"
                  " job_id = excluded.job_id, payload_hash = excluded.payload_hash,"
                  " expires_at = excluded.expires_at"},
    /* idem_take's pipeline: insert unless the key is held; else replace
     * a record that has expired (never this transaction's own placeholder,
     * job_id 0); then read what holds the key. In READ COMMITTED each
     * statement sees what committed before it began, so after the insert
     * waited for another transaction's record of the key, the read sees it. */
    S_IDEM_TAKE = {"pg_idem_take",
                   "INSERT INTO idempotency (" STORE_IDEM_COLS ")"
                   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, key) DO NOTHING RETURNING 1"},
    S_IDEM_RETAKE = {"pg_idem_retake",
                     "UPDATE idempotency SET job_id = $3, payload_hash = $4, expires_at = $5"
                     " WHERE tenant = $1 AND key = $2 AND job_id <> 0 AND expires_at <= $6"
                     " RETURNING 1"},
    S_IDEM_SWAP = {"pg_idem_swap",
                   "UPDATE idempotency SET job_id = $3, payload_hash = $4, expires_at = $5"
                   " WHERE tenant = $1 AND key = $2 AND job_id = $6 RETURNING 1"},
    S_IDEM_PURGE = {"pg_idem_purge",
                    "DELETE FROM idempotency WHERE (tenant, key) IN (SELECT tenant, key"
                    " FROM idempotency WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)"},
    /* A queue it makes counts in its tenant's total (store.h), in the same
     * statement, so the write can stay deferred. */
    S_QUEUE_ENSURE = {"pg_queue_ensure",
                      "WITH made AS (INSERT INTO queues (tenant, name, paused, created_at,"
                      " updated_at) VALUES ($1, $2, 0, $3, $3) ON CONFLICT (tenant, name)"
                      " DO NOTHING RETURNING tenant)"
                      " INSERT INTO queue_totals (tenant, n) SELECT tenant, 1 FROM made"
                      " ON CONFLICT (tenant) DO UPDATE SET n = queue_totals.n + 1"},
    /* One statement: the queue's row, its group rows and rate logs, and one
     * off its tenant's total; the count says whether the row was there. */
    S_QUEUE_DELETE = {"pg_queue_delete",
                      "WITH q AS (DELETE FROM queues WHERE tenant = $1 AND name = $2"
                      " RETURNING tenant),"
                      " t AS (UPDATE queue_totals SET n = n - 1 WHERE tenant = $1"
                      " AND EXISTS (SELECT 1 FROM q)),"
                      " g AS (DELETE FROM job_groups WHERE tenant = $1 AND queue = $2),"
                      " r AS (DELETE FROM rate_log WHERE tenant = $1 AND queue = $2)"
                      " SELECT COUNT(*) FROM q"},
    S_QUEUE_TOTAL = {"pg_queue_total", "SELECT n FROM queue_totals WHERE tenant = $1"},
    S_QUEUE_GET = {"pg_queue_get", "SELECT " STORE_QUEUE_COLS " FROM queues"
                                   " WHERE tenant = $1 AND name = $2"},
    S_QUEUE_PUT = {"pg_queue_put",
                   "INSERT INTO queues (" STORE_QUEUE_COLS ") VALUES ($1, $2, $3, $4, $5)"
                   " ON CONFLICT (tenant, name) DO UPDATE SET"
                   " paused = excluded.paused, updated_at = excluded.updated_at"},
    S_QUEUE_LIST = {"pg_queue_list", "SELECT " STORE_QUEUE_COLS " FROM queues"
                                     " WHERE tenant = $1 AND name > $2 ORDER BY name"
                                     " LIMIT $3"},
    S_QUEUE_COUNTS = {"pg_queue_counts",
                      "SELECT state, COUNT(*) FROM jobs WHERE tenant = $1 AND queue = $2"
                      " GROUP BY state"},
    S_QUEUE_OLDEST = {"pg_queue_oldest",
                      "SELECT MIN(ready_at) FROM jobs WHERE state = " JOB_SQL_QUEUED
                      " AND tenant = $1 AND queue = $2"},
    S_TENANT_ENSURE = {"pg_tenant_ensure", "INSERT INTO tenants (name, created_at) VALUES ($1, $2)"
                                           " ON CONFLICT (name) DO NOTHING"},
    S_KEY_INSERT = {"pg_key_insert", "INSERT INTO api_keys (" STORE_KEY_COLS
                                     ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                                     " $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING"},
    S_KEY_GET = {"pg_key_get", "SELECT " STORE_KEY_COLS " FROM api_keys WHERE id = $1"},
    S_KEY_UPDATE = {"pg_key_update",
                    "UPDATE api_keys SET name = $2, digest = $3, prev_digest = $4,"
                    " prev_until = $5, scopes = $6, expires_at = $7, revoked_at = $8,"
                    " rotated_at = $9, rate_max = $10, rate_per_ms = $11, created_by = $12"
                    " WHERE id = $1"},
    S_KEY_LIST_TENANT = {"pg_key_list_tenant", "SELECT " STORE_KEY_COLS " FROM api_keys WHERE"
                                               " tenant = $1 AND id > $2 ORDER BY id LIMIT $3"},
    S_KEY_LIST_ALL = {"pg_key_list_all",
                      "SELECT " STORE_KEY_COLS " FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2"},
    S_KEY_COUNT = {"pg_key_count", "SELECT COUNT(*) FROM api_keys"},
    S_AUDIT_INSERT = {"pg_audit_insert",
                      "INSERT INTO audit (at, key_id, tenant, action, target, request_id, status,"
                      " code, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"},
    /* A refusal adds to the row of its bucket (see sqlite.c, migration 10). */
    S_AUDIT_BUMP =
        {"pg_audit_bump",
         "INSERT INTO audit (at, key_id, tenant, action, target, request_id, status,"
         " code, detail, n, bucket) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11,"
         " $10)"
         " ON CONFLICT (bucket) WHERE bucket IS NOT NULL DO UPDATE SET n = audit.n + excluded.n,"
         " target = excluded.target, request_id = excluded.request_id"
         " RETURNING id, n"},
    S_AUDIT_PURGE = {"pg_audit_purge", "DELETE FROM audit WHERE id IN (SELECT id FROM audit"
                                       " WHERE at < $1 ORDER BY at LIMIT $2)"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {
    &S_IDEM_GET,     &S_IDEM_PURGE,  &S_QUEUE_GET,    &S_QUEUE_LIST,      &S_QUEUE_COUNTS,
    &S_QUEUE_OLDEST, &S_KEY_GET,     &S_KEY_UPDATE,   &S_KEY_LIST_TENANT, &S_KEY_LIST_ALL,
    &S_QUEUE_TOTAL,  &S_AUDIT_PURGE, &S_QUEUE_DELETE,
};
const struct pg_stmt_list pg_meta_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

/* ---- idempotency records ---- */

int pg_idem_get(struct store *st, const char *tenant, const char *key, struct idem_rec *out)
{
        return pg_get_one(st, &S_IDEM_GET, PG_ARGS(SA(tenant), SA(key)), &store_idem_row, out);
}

int pg_idem_put(struct store *st, const struct idem_rec *rec)
{
        return pg_defer_write(st, &S_IDEM_PUT, PG_ROW(&store_idem_row, rec));
}

/* The insert alone first: a new key, the common case, costs one statement
 * and one round trip, as the lookup it replaces did. When the key is held,
 * one more round trip sends S_IDEM_TAKE again with S_IDEM_RETAKE and
 * S_IDEM_GET (see there). The insert waits for a transaction that holds an
 * uncommitted record of the key and, once that committed, does nothing; the
 * update then finds the record live and the read returns it, so exactly one
 * taker wins. A record that vanished between the statements (a purge) is
 * taken again, a bounded number of times. */
int pg_idem_take(struct store *st, const struct idem_rec *rec, int64_t now_ms,
                 struct idem_rec *held)
{
        const struct pg_stmt *s[3] = {&S_IDEM_TAKE, &S_IDEM_RETAKE, &S_IDEM_GET};
        struct pg_params p = {0}, u = {0}, g = {0};
        const struct pg_params *pp[3] = {&p, &u, &g};
        int rc = BATON_EBUSY;

        memset(held, 0, sizeof(*held));
        pg_p_row(&p, &store_idem_row, rec);
        pg_p_i64(pg_p_row(&u, &store_idem_row, rec), now_ms);
        PG_ADD(&g, SA(rec->tenant), SA(rec->key));
        for (int i = 0; i < 4; i++) {
                PGresult *r[3] = {NULL, NULL, NULL};
                int k = i == 0 ? 1 : 3;
                struct store_row held_row;

                rc = pg_exec_n(st, s, pp, k, r);
                held_row = pg_row(r[2], 0);
                if (!rc && (PQntuples(r[0]) > 0 || (k > 1 && PQntuples(r[1]) > 0)))
                        rc = 0;
                else if (!rc && k > 1 && PQntuples(r[2]) > 0)
                        rc = store_read(&held_row, &store_idem_row, held) ? BATON_ENOMEM
                                                                          : BATON_ECONFLICT;
                else if (!rc)
                        rc = BATON_EBUSY; /* held, or purged in between: look again */
                for (int j = 0; j < k; j++)
                        PQclear(r[j]);
                if (rc != BATON_EBUSY)
                        break;
        }
        return rc;
}

/* A conditional update: it waits for a transaction that changes the same
 * record and then judges the record as that one left it. */
int pg_idem_swap(struct store *st, const struct idem_rec *rec, int64_t old_job_id)
{
        struct pg_params p = {0};
        int rc;

        pg_p_i64(pg_p_row(&p, &store_idem_row, rec), old_job_id);
        rc = pg_update(st, &S_IDEM_SWAP, &p);
        return rc == BATON_ENOTFOUND ? BATON_ECONFLICT : rc;
}

int pg_idem_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        return pg_purge(st, &S_IDEM_PURGE, PG_ARGS(SA(before_ms)), max, n_out);
}

/* ---- queues and tenants ---- */

int pg_queue_ensure(struct store *st, const char *tenant, const char *name, int64_t now)
{
        return pg_defer_write(st, &S_QUEUE_ENSURE, PG_ARGS(SA(tenant), SA(name), SA(now)));
}

int pg_queue_delete(struct store *st, const char *tenant, const char *name)
{
        int64_t gone = 0;
        int rc = pg_int(st, &S_QUEUE_DELETE, PG_ARGS(SA(tenant), SA(name)), &gone, NULL);

        return !rc && gone == 0 ? BATON_ENOTFOUND : rc;
}

int pg_queue_total(struct store *st, const char *tenant, int64_t *n_out)
{
        return pg_int(st, &S_QUEUE_TOTAL, PG_ARGS(SA(tenant)), n_out, NULL);
}

int pg_queue_get(struct store *st, const char *tenant, const char *name, struct queue_rec *out)
{
        return pg_get_one(st, &S_QUEUE_GET, PG_ARGS(SA(tenant), SA(name)), &store_queue_row, out);
}

/* An existing queue keeps its created_at: only paused and updated_at change. */
int pg_queue_put(struct store *st, const struct queue_rec *q)
{
        return pg_run(st, &S_QUEUE_PUT, PG_ROW(&store_queue_row, q), NULL);
}

/* Names are never empty (core validates them): "" stands for the start. */
int pg_queue_list(struct store *st, const char *tenant, const char *after, int limit,
                  struct queue_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        return pg_collect(st, &S_QUEUE_LIST, PG_ARGS(SA(tenant), SA(after ? after : ""), SA(limit)),
                          &store_queue_row, out, n_out);
}

int pg_queue_counts(struct store *st, const char *tenant, const char *name,
                    struct queue_counts *out)
{
        struct pg_params p = {0};
        int rc;

        memset(out, 0, sizeof(*out));
        PG_ADD(&p, SA(tenant), SA(name));
        rc = pg_each(st, &S_QUEUE_COUNTS, &p, INT_MAX, store_row_state, out, NULL);
        return rc ? rc
                  : pg_each(st, &S_QUEUE_OLDEST, &p, 1, store_row_instant, &out->oldest_ready_ms,
                            NULL);
}

/* The first call for a name wins: its created_at is kept. */
int pg_tenant_ensure(struct store *st, const char *name, int64_t now)
{
        if (!name)
                return BATON_EINVAL;
        return pg_defer_write(st, &S_TENANT_ENSURE, PG_ARGS(SA(name), SA(now)));
}

/* ---- API keys ---- */

int pg_key_insert(struct store *st, const struct key_rec *k)
{
        int rc;

        if (!k->id || !k->tenant || !k->digest)
                return BATON_EINVAL;
        rc = pg_update(st, &S_KEY_INSERT, PG_ROW(&store_key_row, k));
        return rc == BATON_ENOTFOUND ? BATON_ECONFLICT : rc; /* the id is taken */
}

int pg_key_get(struct store *st, const char *id, struct key_rec *out)
{
        if (!id)
                return BATON_ENOTFOUND;
        return pg_get_one(st, &S_KEY_GET, PG_ARGS(SA(id)), &store_key_row, out);
}

/* id, tenant and created_at never change: a key cannot move between tenants. */
int pg_key_update(struct store *st, const struct key_rec *k)
{
        struct pg_params p = {0};
        struct store_binder b = pg_binder(&p);

        if (!k->id || !k->digest)
                return BATON_EINVAL;
        store_bind_key_update(&b, k);
        return pg_update(st, &S_KEY_UPDATE, &p);
}

int pg_key_list(struct store *st, const char *tenant, const char *after, int limit,
                struct key_rec **out, int *n_out)
{
        struct pg_params p = {0};

        *out = NULL;
        *n_out = 0;
        if (limit <= 0)
                return BATON_EINVAL;
        if (tenant)
                pg_p_text(&p, tenant);
        PG_ADD(&p, SA(after ? after : ""), SA(limit));
        return pg_collect(st, tenant ? &S_KEY_LIST_TENANT : &S_KEY_LIST_ALL, &p, &store_key_row,
                          out, n_out);
}

int pg_key_count(struct store *st, int64_t *n_out)
{
        return pg_int(st, &S_KEY_COUNT, NULL, n_out, NULL);
}

/* ---- audit log ---- */

static int read_inserted(void *ctx, const struct store_row *r, int i)
{
        struct audit_rec *a = ctx;

        (void)i;
        a->id = r->i64(r, 0);
        a->n = a->bucket ? r->i64(r, 1) : 1;
        return 0;
}

/* An identity column: an audit id is never handed out twice, so a reader's
 * cursor never skips a later entry. A refusal (bucket) adds to its bucket's
 * row (at least 1), or makes it, and a->n becomes the row's count. */
int pg_audit_insert(struct store *st, struct audit_rec *a)
{
        struct pg_params p = {0};
        struct store_binder b = pg_binder(&p);

        if (!a->action)
                return BATON_EINVAL;
        store_bind_audit(&b, a);
        return pg_each(st, a->bucket ? &S_AUDIT_BUMP : &S_AUDIT_INSERT, &p, 1, read_inserted, a,
                       NULL);
}

int pg_audit_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        return pg_purge(st, &S_AUDIT_PURGE, PG_ARGS(SA(before_ms)), max, n_out);
}

int pg_audit_list(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                  int *n_out)
{
        struct pg_params p = {0};
        struct store_binder b = pg_binder(&p);

        *out = NULL;
        *n_out = 0;
        if (!f || f->limit <= 0)
                return BATON_EINVAL;
        store_bind_audit_filter(&b, f);
        return pg_collect(st, &st->built[PG_B_AUDIT + store_audit_filter_bits(f)], &p,
                          &store_audit_row, out, n_out);
}
