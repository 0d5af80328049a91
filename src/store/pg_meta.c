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

#define KEY_COLS                                                                                   \
        "id, tenant, name, digest, prev_digest, prev_until, scopes, created_at, expires_at,"       \
        " revoked_at, rotated_at, rate_max, rate_per_ms, created_by"
#define AUDIT_COLS "id, at, key_id, tenant, action, target, request_id, status, code, detail, n"
enum { AF_TENANT = 1, AF_ACTION = 2, AF_KEY = 4 };

static const struct pg_stmt
    S_IDEM_GET = {"pg_idem_get", "SELECT tenant, key, job_id, payload_hash, expires_at FROM"
                                 " idempotency WHERE tenant = $1 AND key = $2"},
    S_IDEM_PUT = {"pg_idem_put",
                  "INSERT INTO idempotency (tenant, key, job_id, payload_hash, expires_at)"
                  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, key) DO UPDATE SET"
                  " job_id = excluded.job_id, payload_hash = excluded.payload_hash,"
                  " expires_at = excluded.expires_at"},
    /* idem_take's pipeline: insert unless the key is held; else replace
     * a record that has expired (never this transaction's own placeholder,
     * job_id 0); then read what holds the key. In READ COMMITTED each
     * statement sees what committed before it began, so after the insert
     * waited for another transaction's record of the key, the read sees it. */
    S_IDEM_TAKE = {"pg_idem_take",
                   "INSERT INTO idempotency (tenant, key, job_id, payload_hash, expires_at)"
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
    S_QUEUE_TOTAL = {"pg_queue_total", "SELECT n FROM queue_totals WHERE tenant = $1"},
    S_QUEUE_GET = {"pg_queue_get", "SELECT tenant, name, paused, created_at, updated_at FROM"
                                   " queues WHERE tenant = $1 AND name = $2"},
    S_QUEUE_PUT = {"pg_queue_put",
                   "INSERT INTO queues (tenant, name, paused, created_at, updated_at)"
                   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, name) DO UPDATE SET"
                   " paused = excluded.paused, updated_at = excluded.updated_at"},
    S_QUEUE_LIST = {"pg_queue_list", "SELECT tenant, name, paused, created_at, updated_at FROM"
                                     " queues WHERE tenant = $1 AND name > $2 ORDER BY name"
                                     " LIMIT $3"},
    S_QUEUE_COUNTS = {"pg_queue_counts",
                      "SELECT state, COUNT(*) FROM jobs WHERE tenant = $1 AND queue = $2"
                      " GROUP BY state"},
    S_QUEUE_OLDEST = {"pg_queue_oldest",
                      "SELECT MIN(ready_at) FROM jobs WHERE state = " JOB_SQL_QUEUED
                      " AND tenant = $1 AND queue = $2"},
    S_TENANT_ENSURE = {"pg_tenant_ensure", "INSERT INTO tenants (name, created_at) VALUES ($1, $2)"
                                           " ON CONFLICT (name) DO NOTHING"},
    S_KEY_INSERT = {"pg_key_insert",
                    "INSERT INTO api_keys (" KEY_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                    " $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING"},
    S_KEY_GET = {"pg_key_get", "SELECT " KEY_COLS " FROM api_keys WHERE id = $1"},
    S_KEY_UPDATE = {"pg_key_update",
                    "UPDATE api_keys SET name = $2, digest = $3, prev_digest = $4,"
                    " prev_until = $5, scopes = $6, expires_at = $7, revoked_at = $8,"
                    " rotated_at = $9, rate_max = $10, rate_per_ms = $11, created_by = $12"
                    " WHERE id = $1"},
    S_KEY_LIST_TENANT = {"pg_key_list_tenant", "SELECT " KEY_COLS " FROM api_keys WHERE"
                                               " tenant = $1 AND id > $2 ORDER BY id LIMIT $3"},
    S_KEY_LIST_ALL = {"pg_key_list_all",
                      "SELECT " KEY_COLS " FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2"},
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
const struct pg_stmt *const pg_meta_stmts[] = {
    &S_IDEM_GET,        &S_IDEM_PURGE,   &S_QUEUE_GET,   &S_QUEUE_LIST,
    &S_QUEUE_COUNTS,    &S_QUEUE_OLDEST, &S_KEY_GET,     &S_KEY_UPDATE,
    &S_KEY_LIST_TENANT, &S_KEY_LIST_ALL, &S_QUEUE_TOTAL, &S_AUDIT_PURGE,
};
const int pg_meta_stmts_n = (int)(sizeof(pg_meta_stmts) / sizeof(pg_meta_stmts[0]));

int pg_build_audit_sql(struct buf *b, int bits)
{
        int n = 1;
        int rc = buf_adds(b, "SELECT " AUDIT_COLS " FROM audit WHERE ");

        if (!rc && bits & AF_TENANT)
                rc = buf_printf(b, "tenant = $%d AND ", n++);
        if (!rc && bits & AF_ACTION)
                rc = buf_printf(b, "action = $%d AND ", n++);
        if (!rc && bits & AF_KEY)
                rc = buf_printf(b, "key_id = $%d AND ", n++);
        return rc ? rc : buf_printf(b, "id > $%d ORDER BY id LIMIT $%d", n, n + 1);
}

/* ---- idempotency records ---- */

static int rd_idem(const PGresult *r, int row, void *out)
{
        struct idem_rec *rec = out;
        int rc;

        memset(rec, 0, sizeof(*rec));
        rec->job_id = pg_i64(r, row, 2);
        rec->expires_at_ms = pg_i64(r, row, 4);
        rc = pg_text(r, row, 0, &rec->tenant);
        if (!rc)
                rc = pg_text(r, row, 1, &rec->key);
        if (!rc)
                rc = pg_text(r, row, 3, &rec->payload_hash);
        if (rc)
                idem_rec_free(rec);
        return rc;
}

int pg_idem_get(struct store *st, const char *tenant, const char *key, struct idem_rec *out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, key);
        return pg_get_one(st, &S_IDEM_GET, &p, rd_idem, out);
}

int pg_idem_put(struct store *st, const struct idem_rec *rec)
{
        struct pg_params p = {0};

        pg_p_text(&p, rec->tenant);
        pg_p_text(&p, rec->key);
        pg_p_i64(&p, rec->job_id);
        pg_p_text(&p, rec->payload_hash);
        pg_p_i64(&p, rec->expires_at_ms);
        return pg_defer_write(st, &S_IDEM_PUT, &p);
}

/* The record's five columns, then extra when has_extra. */
static void idem_params(struct pg_params *p, const struct idem_rec *rec, bool has_extra,
                        int64_t extra)
{
        pg_p_text(p, rec->tenant);
        pg_p_text(p, rec->key);
        pg_p_i64(p, rec->job_id);
        pg_p_text(p, rec->payload_hash);
        pg_p_i64(p, rec->expires_at_ms);
        if (has_extra)
                pg_p_i64(p, extra);
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
        idem_params(&p, rec, false, 0);
        idem_params(&u, rec, true, now_ms);
        pg_p_text(&g, rec->tenant);
        pg_p_text(&g, rec->key);
        for (int i = 0; i < 4; i++) {
                PGresult *r[3] = {NULL, NULL, NULL};
                int k = i == 0 ? 1 : 3;

                rc = pg_exec_n(st, s, pp, k, r);
                if (!rc && (PQntuples(r[0]) > 0 || (k > 1 && PQntuples(r[1]) > 0)))
                        rc = 0;
                else if (!rc && k > 1 && PQntuples(r[2]) > 0)
                        rc = rd_idem(r[2], 0, held) ? BATON_ENOMEM : BATON_ECONFLICT;
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
        int64_t n = 0;
        int rc;

        idem_params(&p, rec, true, old_job_id);
        rc = pg_run(st, &S_IDEM_SWAP, &p, &n);
        return rc ? rc : n > 0 ? 0 : BATON_ECONFLICT;
}

int pg_idem_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        struct pg_params p = {0};

        pg_p_i64(&p, before_ms);
        return pg_purge(st, &S_IDEM_PURGE, &p, max, n_out);
}

/* ---- queues and tenants ---- */

int pg_queue_ensure(struct store *st, const char *tenant, const char *name, int64_t now)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, name);
        pg_p_i64(&p, now);
        return pg_defer_write(st, &S_QUEUE_ENSURE, &p);
}

int pg_queue_total(struct store *st, const char *tenant, int64_t *n_out)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int rc;

        *n_out = 0;
        pg_p_text(&p, tenant);
        rc = pg_exec(st, &S_QUEUE_TOTAL, &p, &r);
        if (!rc && PQntuples(r) == 1)
                *n_out = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

static int rd_queue(const PGresult *r, int row, void *out)
{
        struct queue_rec *q = out;
        int rc;

        memset(q, 0, sizeof(*q));
        q->paused = pg_i64(r, row, 2) != 0;
        q->created_at_ms = pg_i64(r, row, 3);
        q->updated_at_ms = pg_i64(r, row, 4);
        rc = pg_text(r, row, 0, &q->tenant);
        if (!rc)
                rc = pg_text(r, row, 1, &q->name);
        if (rc)
                queue_rec_free(q);
        return rc;
}

static void rel_queue(void *q)
{
        queue_rec_free(q);
}

int pg_queue_get(struct store *st, const char *tenant, const char *name, struct queue_rec *out)
{
        struct pg_params p = {0};

        pg_p_text(&p, tenant);
        pg_p_text(&p, name);
        return pg_get_one(st, &S_QUEUE_GET, &p, rd_queue, out);
}

/* An existing queue keeps its created_at: only paused and updated_at change. */
int pg_queue_put(struct store *st, const struct queue_rec *q)
{
        struct pg_params p = {0};

        pg_p_text(&p, q->tenant);
        pg_p_text(&p, q->name);
        pg_p_i64(&p, q->paused ? 1 : 0);
        pg_p_i64(&p, q->created_at_ms);
        pg_p_i64(&p, q->updated_at_ms);
        return pg_run(st, &S_QUEUE_PUT, &p, NULL);
}

/* Names are never empty (core validates them): "" stands for the start. */
int pg_queue_list(struct store *st, const char *tenant, const char *after, int limit,
                  struct queue_rec **out, int *n_out)
{
        struct pg_params p = {0};

        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        pg_p_text(&p, tenant);
        pg_p_text(&p, after ? after : "");
        pg_p_i64(&p, limit);
        return pg_collect(st, &S_QUEUE_LIST, &p, sizeof(**out), rd_queue, rel_queue, (void **)out,
                          n_out);
}

int pg_queue_counts(struct store *st, const char *tenant, const char *name,
                    struct queue_counts *out)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int rc;

        memset(out, 0, sizeof(*out));
        pg_p_text(&p, tenant);
        pg_p_text(&p, name);
        rc = pg_exec(st, &S_QUEUE_COUNTS, &p, &r);
        for (int i = 0; !rc && i < PQntuples(r); i++) {
                int64_t state = pg_i64(r, i, 0);

                if (state >= 0 && state < JOB_STATE_COUNT)
                        out->by_state[state] = pg_i64(r, i, 1);
        }
        PQclear(r);
        r = NULL;
        if (!rc)
                rc = pg_exec(st, &S_QUEUE_OLDEST, &p, &r);
        if (!rc)
                out->oldest_ready_ms = pg_deadline_col(r, 0);
        PQclear(r);
        return rc;
}

/* The first call for a name wins: its created_at is kept. */
int pg_tenant_ensure(struct store *st, const char *name, int64_t now)
{
        struct pg_params p = {0};

        if (!name)
                return BATON_EINVAL;
        pg_p_text(&p, name);
        pg_p_i64(&p, now);
        return pg_defer_write(st, &S_TENANT_ENSURE, &p);
}

/* ---- API keys ---- */

static int rd_key(const PGresult *r, int row, void *out)
{
        struct key_rec *k = out;
        int rc;

        memset(k, 0, sizeof(*k));
        k->prev_until_ms = pg_i64(r, row, 5);
        k->scopes = (uint32_t)pg_i64(r, row, 6);
        k->created_at_ms = pg_i64(r, row, 7);
        k->expires_at_ms = pg_i64(r, row, 8);
        k->revoked_at_ms = pg_i64(r, row, 9);
        k->rotated_at_ms = pg_i64(r, row, 10);
        k->rate_max = pg_i64(r, row, 11);
        k->rate_per_ms = pg_i64(r, row, 12);
        rc = pg_text(r, row, 0, &k->id);
        if (!rc)
                rc = pg_text(r, row, 1, &k->tenant);
        if (!rc)
                rc = pg_text(r, row, 2, &k->name);
        if (!rc)
                rc = pg_text(r, row, 3, &k->digest);
        if (!rc)
                rc = pg_text(r, row, 4, &k->prev_digest);
        if (!rc)
                rc = pg_text(r, row, 13, &k->created_by);
        if (rc)
                key_rec_free(k);
        return rc;
}

static void rel_key(void *k)
{
        key_rec_free(k);
}

/* The columns key_update writes, from name on ($2..$12 of key_update). */
static void bind_key_mutable(struct pg_params *p, const struct key_rec *k)
{
        pg_p_text(p, k->name);
        pg_p_text(p, k->digest);
        pg_p_text(p, k->prev_digest);
        pg_p_i64(p, k->prev_until_ms);
        pg_p_i64(p, (int64_t)k->scopes);
}

static void bind_key_times(struct pg_params *p, const struct key_rec *k)
{
        pg_p_i64(p, k->expires_at_ms);
        pg_p_i64(p, k->revoked_at_ms);
        pg_p_i64(p, k->rotated_at_ms);
        pg_p_i64(p, k->rate_max);
        pg_p_i64(p, k->rate_per_ms);
        pg_p_text(p, k->created_by);
}

int pg_key_insert(struct store *st, const struct key_rec *k)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        if (!k->id || !k->tenant || !k->digest)
                return BATON_EINVAL;
        pg_p_text(&p, k->id);
        pg_p_text(&p, k->tenant);
        bind_key_mutable(&p, k);
        pg_p_i64(&p, k->created_at_ms);
        bind_key_times(&p, k);
        rc = pg_run(st, &S_KEY_INSERT, &p, &n);
        return !rc && n == 0 ? BATON_ECONFLICT : rc;
}

int pg_key_get(struct store *st, const char *id, struct key_rec *out)
{
        struct pg_params p = {0};

        if (!id)
                return BATON_ENOTFOUND;
        pg_p_text(&p, id);
        return pg_get_one(st, &S_KEY_GET, &p, rd_key, out);
}

/* id, tenant and created_at never change: a key cannot move between tenants. */
int pg_key_update(struct store *st, const struct key_rec *k)
{
        struct pg_params p = {0};
        int64_t n = 0;
        int rc;

        if (!k->id || !k->digest)
                return BATON_EINVAL;
        pg_p_text(&p, k->id);
        bind_key_mutable(&p, k);
        bind_key_times(&p, k);
        rc = pg_run(st, &S_KEY_UPDATE, &p, &n);
        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
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
        pg_p_text(&p, after ? after : "");
        pg_p_i64(&p, limit);
        return pg_collect(st, tenant ? &S_KEY_LIST_TENANT : &S_KEY_LIST_ALL, &p, sizeof(**out),
                          rd_key, rel_key, (void **)out, n_out);
}

int pg_key_count(struct store *st, int64_t *n_out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, &S_KEY_COUNT, NULL, &r);

        if (!rc)
                *n_out = pg_i64(r, 0, 0);
        PQclear(r);
        return rc;
}

/* ---- audit log ---- */

/* An identity column: an audit id is never handed out twice, so a reader's
 * cursor never skips a later entry. */
int pg_audit_insert(struct store *st, struct audit_rec *a)
{
        struct pg_params p = {0};
        PGresult *r = NULL;
        int rc;

        if (!a->action)
                return BATON_EINVAL;
        pg_p_i64(&p, a->at_ms);
        pg_p_text(&p, a->key_id);
        pg_p_text(&p, a->tenant);
        pg_p_text(&p, a->action);
        pg_p_text(&p, a->target);
        pg_p_text(&p, a->request_id);
        pg_p_i64(&p, a->status);
        pg_p_text(&p, a->code);
        pg_p_text(&p, a->detail);
        if (a->bucket) {
                pg_p_text(&p, a->bucket);
                pg_p_i64(&p, a->n > 0 ? a->n : 1);
        }
        rc = pg_exec(st, a->bucket ? &S_AUDIT_BUMP : &S_AUDIT_INSERT, &p, &r);
        if (!rc) {
                a->id = pg_i64(r, 0, 0);
                a->n = a->bucket ? pg_i64(r, 0, 1) : 1;
        }
        PQclear(r);
        return rc;
}

int pg_audit_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        struct pg_params p = {0};

        pg_p_i64(&p, before_ms);
        return pg_purge(st, &S_AUDIT_PURGE, &p, max, n_out);
}

static int rd_audit(const PGresult *r, int row, void *out)
{
        struct audit_rec *a = out;
        int rc;

        memset(a, 0, sizeof(*a));
        a->id = pg_i64(r, row, 0);
        a->at_ms = pg_i64(r, row, 1);
        a->status = (int)pg_i64(r, row, 7);
        a->n = pg_i64(r, row, 10);
        rc = pg_text(r, row, 2, &a->key_id);
        if (!rc)
                rc = pg_text(r, row, 3, &a->tenant);
        if (!rc)
                rc = pg_text(r, row, 4, &a->action);
        if (!rc)
                rc = pg_text(r, row, 5, &a->target);
        if (!rc)
                rc = pg_text(r, row, 6, &a->request_id);
        if (!rc)
                rc = pg_text(r, row, 8, &a->code);
        if (!rc)
                rc = pg_text(r, row, 9, &a->detail);
        if (rc)
                audit_rec_free(a);
        return rc;
}

static void rel_audit(void *a)
{
        audit_rec_free(a);
}

int pg_audit_list(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                  int *n_out)
{
        struct pg_params p = {0};
        int bits;

        *out = NULL;
        *n_out = 0;
        if (!f || f->limit <= 0)
                return BATON_EINVAL;
        bits = (f->tenant ? AF_TENANT : 0) | (f->action ? AF_ACTION : 0) | (f->key_id ? AF_KEY : 0);
        if (bits & AF_TENANT)
                pg_p_text(&p, f->tenant);
        if (bits & AF_ACTION)
                pg_p_text(&p, f->action);
        if (bits & AF_KEY)
                pg_p_text(&p, f->key_id);
        pg_p_i64(&p, f->after_id);
        pg_p_i64(&p, f->limit);
        return pg_collect(st, &st->built[PG_B_AUDIT + bits], &p, sizeof(**out), rd_audit, rel_audit,
                          (void **)out, n_out);
}
