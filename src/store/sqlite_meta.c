/*
 * sqlite_meta.c: the small tables next to the jobs in the SQLite backend
 * (struct store_ops): idempotency records, queues and the per-tenant queue
 * totals, tenants, API keys and the audit log. Idempotency records are read and
 * written on enqueue; the rest is cold: keys are read once at start (the server
 * keeps them in memory) and on every key change, and audit rows are appended by
 * administrative calls and by refusals, counted per bucket. Assumptions: calls
 * come from the store thread inside a transaction.
 */
#include <stdbool.h>
#include <limits.h>
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

/* ---- idempotency records ---- */

/* On success the caller owns out's strings (idem_rec_free). */
int sqlite_idem_get(struct store *st, const char *tenant, const char *key, struct idem_rec *out)
{
        return sqlite_one(st, SQLITE_STMT(st, S_IDEM_GET, SA(tenant), SA(key)), &store_idem_row,
                          out);
}

int sqlite_idem_put(struct store *st, const struct idem_rec *rec)
{
        return sqlite_put(st, S_IDEM_PUT, &store_idem_row, rec);
}

/* SQLite has one writer, whose transaction (BEGIN IMMEDIATE) holds the whole
 * store: a read then a write cannot race with another taker. */
int sqlite_idem_take(struct store *st, const struct idem_rec *rec, int64_t now_ms,
                     struct idem_rec *held)
{
        int rc = sqlite_idem_get(st, rec->tenant, rec->key, held);

        if (rc == BATON_ENOTFOUND) {
                memset(held, 0, sizeof(*held));
                return sqlite_idem_put(st, rec);
        }
        if (rc)
                return rc;
        if (held->job_id == 0 || held->expires_at_ms > now_ms)
                return BATON_ECONFLICT; /* live, or this transaction's placeholder */
        idem_rec_free(held);
        return sqlite_idem_put(st, rec);
}

int sqlite_idem_swap(struct store *st, const struct idem_rec *rec, int64_t old_job_id)
{
        struct idem_rec cur = {0};
        int rc = sqlite_idem_get(st, rec->tenant, rec->key, &cur);

        if (!rc)
                rc = cur.job_id == old_job_id ? sqlite_idem_put(st, rec) : BATON_ECONFLICT;
        else if (rc == BATON_ENOTFOUND)
                rc = BATON_ECONFLICT;
        idem_rec_free(&cur);
        return rc;
}

/* Deletes records that have expired at before_ms (expires_at <= before_ms):
 * core treats a record as expired from its expires_at on, and the idem_min_ms
 * deadline must be cleared by the purge it triggers. */
int sqlite_idem_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        return sqlite_purge(st, SQLITE_STMT(st, S_IDEM_PURGE, SA(before_ms), SA(max)), max, n_out);
}

/* ---- queues ---- */

int sqlite_queue_ensure(struct store *st, const char *tenant, const char *name, int64_t now_ms)
{
        int64_t made = 0;
        int rc;

        /* An enqueue ensures its queue every time; the transaction may know
         * it is there already (sqlite_groups.c). */
        if (sqlite_qcache_known(st, tenant, name))
                return 0;
        rc = sqlite_run(st, SQLITE_STMT(st, S_QUEUE_ENSURE, SA(tenant), SA(name), SA(now_ms)),
                        &made);
        /* A new queue counts in its tenant's total (store.h). */
        if (!rc && made == 1)
                rc = sqlite_run(st, SQLITE_STMT(st, S_QUEUE_TOTAL_ADD, SA(tenant)), NULL);
        if (!rc)
                sqlite_qcache_made_queue(st, tenant, name);
        return rc;
}

/* The queue's row, its group rows and rate logs; its tenant's total loses it. */
int sqlite_queue_delete(struct store *st, const char *tenant, const char *name)
{
        int64_t gone = 0;
        int rc = sqlite_run(st, SQLITE_STMT(st, S_QUEUE_DELETE, SA(tenant), SA(name)), &gone);

        sqlite_qcache_forget(st, tenant, name); /* known and grouped change */

        if (!rc && gone == 0)
                return BATON_ENOTFOUND;
        if (!rc)
                rc = sqlite_run(st, SQLITE_STMT(st, S_QUEUE_TOTAL_SUB, SA(tenant)), NULL);
        if (!rc)
                rc = sqlite_run(st, SQLITE_STMT(st, S_QUEUE_GROUPS_DELETE, SA(tenant), SA(name)),
                                NULL);
        if (!rc)
                rc = sqlite_run(st, SQLITE_STMT(st, S_QUEUE_RATES_DELETE, SA(tenant), SA(name)),
                                NULL);
        return rc;
}

int sqlite_queue_total(struct store *st, const char *tenant, int64_t *n_out)
{
        return sqlite_int(st, SQLITE_STMT(st, S_QUEUE_TOTAL, SA(tenant)), n_out, NULL);
}

int sqlite_queue_get(struct store *st, const char *tenant, const char *name, struct queue_rec *out)
{
        return sqlite_one(st, SQLITE_STMT(st, S_QUEUE_GET, SA(tenant), SA(name)), &store_queue_row,
                          out);
}

/* An existing queue keeps its created_at: only paused and updated_at change. */
int sqlite_queue_put(struct store *st, const struct queue_rec *q)
{
        int rc = sqlite_put(st, S_QUEUE_PUT, &store_queue_row, q);

        if (!rc)
                sqlite_qcache_made_queue(st, q->tenant, q->name);
        return rc;
}

/* *out is a malloc'd array of *n_out records owned by the caller, who frees
 * each with queue_rec_free and then the array with free. Names are never empty
 * (core validates them), so "" stands for "from the start". */
int sqlite_queue_list(struct store *st, const char *tenant, const char *after, int limit,
                      struct queue_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        return sqlite_rows(
            st, SQLITE_STMT(st, S_QUEUE_LIST, SA(tenant), SA(after ? after : ""), SA(limit)), limit,
            &store_queue_row, out, n_out);
}

int sqlite_queue_counts(struct store *st, const char *tenant, const char *name,
                        struct queue_counts *out)
{
        sqlite3_stmt *s = SQLITE_STMT(st, S_QUEUE_COUNTS, SA(tenant), SA(name));
        int n = 0;
        int rc;

        memset(out, 0, sizeof(*out));
        rc = sqlite_each(st, s, INT_MAX, store_row_state, out, NULL);
        if (!rc)
                rc = sqlite_each(st, SQLITE_STMT(st, S_QUEUE_OLDEST, SA(tenant), SA(name)), 1,
                                 store_row_instant, &out->oldest_ready_ms, &n);
        return !rc && n == 0 ? sqlite_fail(st, SQLITE_DONE, "queue_counts") : rc;
}

/* ---- tenants ---- */

/* The first call for a name wins: its created_at is kept. */
int sqlite_tenant_ensure(struct store *st, const char *name, int64_t now_ms)
{
        if (!name)
                return BATON_EINVAL;
        return sqlite_run(st, SQLITE_STMT(st, S_TENANT_ENSURE, SA(name), SA(now_ms)), NULL);
}

/* ---- API keys ---- */

/* BATON_EINVAL for a record the table cannot hold (the NOT NULL columns), so
 * that a caller's bug is not reported as a store failure. */
int sqlite_key_insert(struct store *st, const struct key_rec *k)
{
        if (!k->id || !k->tenant || !k->digest)
                return BATON_EINVAL;
        return sqlite_put(st, S_KEY_INSERT, &store_key_row, k);
}

/* On success the caller owns out's strings (key_rec_free); out is untouched
 * when the key does not exist. */
int sqlite_key_get(struct store *st, const char *id, struct key_rec *out)
{
        if (!id)
                return BATON_ENOTFOUND;
        return sqlite_one(st, SQLITE_STMT(st, S_KEY_GET, SA(id)), &store_key_row, out);
}

/* id, tenant and created_at never change: a key cannot move between tenants. */
int sqlite_key_update(struct store *st, const struct key_rec *k)
{
        sqlite3_stmt *s = st->stmt[S_KEY_UPDATE];
        struct store_binder b = sqlite_binder(s, 1);

        if (!k->id || !k->digest)
                return BATON_EINVAL;
        store_bind_key_update(&b, k);
        return sqlite_update(st, s);
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (key_recs_free). Ids are never empty, so "" stands for "from the start". */
int sqlite_key_list(struct store *st, const char *tenant, const char *after, int limit,
                    struct key_rec **out, int *n_out)
{
        sqlite3_stmt *s;

        *out = NULL;
        *n_out = 0;
        if (limit <= 0)
                return BATON_EINVAL;
        after = after ? after : "";
        s = tenant ? SQLITE_STMT(st, S_KEY_LIST_TENANT, SA(tenant), SA(after), SA(limit))
                   : SQLITE_STMT(st, S_KEY_LIST_ALL, SA(after), SA(limit));
        return sqlite_rows(st, s, limit, &store_key_row, out, n_out);
}

int sqlite_key_count(struct store *st, int64_t *n_out)
{
        return sqlite_int(st, st->stmt[S_KEY_COUNT], n_out, NULL);
}

/* ---- audit log ---- */

int sqlite_audit_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        return sqlite_purge(st, SQLITE_STMT(st, S_AUDIT_PURGE, SA(before_ms), SA(max)), max, n_out);
}

static int read_bump(void *ctx, const struct store_row *r, int i)
{
        struct audit_rec *a = ctx;

        (void)i;
        a->id = r->i64(r, 0);
        a->n = r->i64(r, 1);
        return 0;
}

/* AUTOINCREMENT: an audit id is never handed out twice, even after the newest
 * rows were deleted, so a reader's cursor never skips a later entry. A
 * refusal (bucket) adds to its bucket's row (at least 1), or makes it, and
 * r->n becomes the row's count. */
int sqlite_audit_insert(struct store *st, struct audit_rec *r)
{
        sqlite3_stmt *s = st->stmt[r->bucket ? S_AUDIT_BUMP : S_AUDIT_INSERT];
        struct store_binder b = sqlite_binder(s, 1);
        int n = 0;
        int rc;

        if (!r->action)
                return BATON_EINVAL;
        store_bind_audit(&b, r);
        if (r->bucket) {
                rc = sqlite_each(st, s, 1, read_bump, r, &n);
                return !rc && n == 0 ? sqlite_fail(st, SQLITE_DONE, "audit_bump") : rc;
        }
        rc = sqlite_insert(st, s, &r->id);
        if (!rc)
                r->n = 1;
        return rc;
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (audit_recs_free). BATON_EINVAL: no filter or limit < 1. */
int sqlite_audit_list(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                      int *n_out)
{
        struct store_binder b;
        sqlite3_stmt *s;

        *out = NULL;
        *n_out = 0;
        if (!f || f->limit <= 0)
                return BATON_EINVAL;
        s = st->stmt[S_AUDIT_LIST + store_audit_filter_bits(f)];
        b = sqlite_binder(s, 1);
        store_bind_audit_filter(&b, f);
        return sqlite_rows(st, s, f->limit, &store_audit_row, out, n_out);
}
