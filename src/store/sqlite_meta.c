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
        sqlite3_stmt *s = st->stmt[S_IDEM_GET];
        struct idem_rec r = {0};
        int rc;

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, key);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                r.job_id = sqlite3_column_int64(s, 2);
                r.expires_at_ms = sqlite3_column_int64(s, 4);
                rc = sqlite_read_text(s, 0, &r.tenant);
                if (!rc)
                        rc = sqlite_read_text(s, 1, &r.key);
                if (!rc)
                        rc = sqlite_read_text(s, 3, &r.payload_hash);
        } else {
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : sqlite_fail(st, rc, "idem_get");
        }
        sqlite_finish(s);
        if (rc)
                idem_rec_free(&r);
        else
                *out = r;
        return rc;
}

int sqlite_idem_put(struct store *st, const struct idem_rec *rec)
{
        sqlite3_stmt *s = st->stmt[S_IDEM_PUT];

        sqlite_bind_text(s, 1, rec->tenant);
        sqlite_bind_text(s, 2, rec->key);
        sqlite3_bind_int64(s, 3, rec->job_id);
        sqlite_bind_text(s, 4, rec->payload_hash);
        sqlite3_bind_int64(s, 5, rec->expires_at_ms);
        return sqlite_run(st, s, "idem_put");
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
        sqlite3_stmt *s = st->stmt[S_IDEM_PURGE];
        int rc;

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int64(s, 1, before_ms);
        sqlite3_bind_int(s, 2, max);
        rc = sqlite_run(st, s, "idem_purge");
        if (!rc)
                *n_out = sqlite3_changes(st->db);
        return rc;
}

/* ---- queues ---- */

int sqlite_queue_ensure(struct store *st, const char *tenant, const char *name, int64_t now_ms)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_ENSURE];

        int rc;

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, name);
        sqlite3_bind_int64(s, 3, now_ms);
        rc = sqlite_run(st, s, "queue_ensure");
        /* A new queue counts in its tenant's total (store.h). */
        if (!rc && sqlite3_changes(st->db) == 1) {
                sqlite_bind_text(st->stmt[S_QUEUE_TOTAL_ADD], 1, tenant);
                rc = sqlite_run(st, st->stmt[S_QUEUE_TOTAL_ADD], "queue_total_add");
        }
        return rc;
}

int sqlite_queue_total(struct store *st, const char *tenant, int64_t *n_out)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_TOTAL];
        int rc;

        *n_out = 0;
        sqlite_bind_text(s, 1, tenant);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *n_out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = rc == SQLITE_DONE ? 0 : sqlite_fail(st, rc, "queue_total");
        }
        sqlite_finish(s);
        return rc;
}

/* Fills *out from the current queue row; the caller owns its strings. */
static int read_queue(sqlite3_stmt *s, struct queue_rec *out)
{
        struct queue_rec q = {0};
        int rc;

        q.paused = sqlite3_column_int(s, 2) != 0;
        q.created_at_ms = sqlite3_column_int64(s, 3);
        q.updated_at_ms = sqlite3_column_int64(s, 4);
        rc = sqlite_read_text(s, 0, &q.tenant);
        if (!rc)
                rc = sqlite_read_text(s, 1, &q.name);
        if (rc)
                queue_rec_free(&q);
        else
                *out = q;
        return rc;
}

int sqlite_queue_get(struct store *st, const char *tenant, const char *name, struct queue_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_GET];
        int rc;

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, name);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_queue(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : sqlite_fail(st, rc, "queue_get");
        sqlite_finish(s);
        return rc;
}

/* An existing queue keeps its created_at: only paused and updated_at change. */
int sqlite_queue_put(struct store *st, const struct queue_rec *q)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_PUT];

        sqlite_bind_text(s, 1, q->tenant);
        sqlite_bind_text(s, 2, q->name);
        sqlite3_bind_int(s, 3, q->paused ? 1 : 0);
        sqlite3_bind_int64(s, 4, q->created_at_ms);
        sqlite3_bind_int64(s, 5, q->updated_at_ms);
        return sqlite_run(st, s, "queue_put");
}

static int push_queue(sqlite3_stmt *s, struct queue_rec **v, int *n, int *cap)
{
        if (*n == *cap) {
                int ncap = *cap ? *cap * 2 : 16;
                struct queue_rec *nv = realloc(*v, (size_t)ncap * sizeof(*nv));

                if (!nv)
                        return BATON_ENOMEM;
                *v = nv;
                *cap = ncap;
        }
        if (read_queue(s, &(*v)[*n]))
                return BATON_ENOMEM;
        (*n)++;
        return 0;
}

/* *out is a malloc'd array of *n_out records owned by the caller, who frees
 * each with queue_rec_free and then the array with free. Names are never empty
 * (core validates them), so "" stands for "from the start". */
int sqlite_queue_list(struct store *st, const char *tenant, const char *after, int limit,
                      struct queue_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_LIST];
        struct queue_rec *v = NULL;
        int n = 0, cap = 0;
        int step, rc = 0;

        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, after ? after : "");
        sqlite3_bind_int(s, 3, limit);
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
                rc = push_queue(s, &v, &n, &cap);
        if (!rc && step != SQLITE_DONE)
                rc = sqlite_fail(st, step, "queue_list");
        sqlite_finish(s);
        if (rc) {
                for (int i = 0; i < n; i++)
                        queue_rec_free(&v[i]);
                free(v);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

int sqlite_queue_counts(struct store *st, const char *tenant, const char *name,
                        struct queue_counts *out)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_COUNTS];
        int rc;

        memset(out, 0, sizeof(*out));
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, name);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                int state = sqlite3_column_int(s, 0);

                if (state >= 0 && state < JOB_STATE_COUNT)
                        out->by_state[state] = sqlite3_column_int64(s, 1);
        }
        rc = rc == SQLITE_DONE ? 0 : sqlite_fail(st, rc, "queue_counts");
        sqlite_finish(s);
        if (rc)
                return rc;
        s = st->stmt[S_QUEUE_OLDEST];
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, name);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                out->oldest_ready_ms = sqlite_deadline_col(s, 0);
                rc = 0;
        } else {
                rc = sqlite_fail(st, rc, "queue_counts");
        }
        sqlite_finish(s);
        return rc;
}

/* ---- tenants ---- */

/* The first call for a name wins: its created_at is kept. */
int sqlite_tenant_ensure(struct store *st, const char *name, int64_t now_ms)
{
        sqlite3_stmt *s = st->stmt[S_TENANT_ENSURE];

        if (!name)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, name);
        sqlite3_bind_int64(s, 2, now_ms);
        return sqlite_run(st, s, "tenant_ensure");
}

/* ---- API keys ---- */

/* Fills *out from the current row of a key read (KEY_COLS order). On success
 * the caller owns the strings (key_rec_free); on failure none are left. */
static int read_key(sqlite3_stmt *s, struct key_rec *out)
{
        struct key_rec k = {0};
        int rc;

        k.prev_until_ms = sqlite3_column_int64(s, 5);
        k.scopes = (uint32_t)sqlite3_column_int64(s, 6);
        k.created_at_ms = sqlite3_column_int64(s, 7);
        k.expires_at_ms = sqlite3_column_int64(s, 8);
        k.revoked_at_ms = sqlite3_column_int64(s, 9);
        k.rotated_at_ms = sqlite3_column_int64(s, 10);
        k.rate_max = sqlite3_column_int64(s, 11);
        k.rate_per_ms = sqlite3_column_int64(s, 12);
        rc = sqlite_read_text(s, 0, &k.id);
        if (!rc)
                rc = sqlite_read_text(s, 1, &k.tenant);
        if (!rc)
                rc = sqlite_read_text(s, 2, &k.name);
        if (!rc)
                rc = sqlite_read_text(s, 3, &k.digest);
        if (!rc)
                rc = sqlite_read_text(s, 4, &k.prev_digest);
        if (!rc)
                rc = sqlite_read_text(s, 13, &k.created_by);
        if (rc)
                key_rec_free(&k);
        else
                *out = k;
        return rc;
}

/* BATON_EINVAL for a record the table cannot hold (the NOT NULL columns), so
 * that a caller's bug is not reported as a store failure. */
int sqlite_key_insert(struct store *st, const struct key_rec *k)
{
        sqlite3_stmt *s = st->stmt[S_KEY_INSERT];

        if (!k->id || !k->tenant || !k->digest)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, k->id);
        sqlite_bind_text(s, 2, k->tenant);
        sqlite_bind_text(s, 3, k->name);
        sqlite_bind_text(s, 4, k->digest);
        sqlite_bind_text(s, 5, k->prev_digest);
        sqlite3_bind_int64(s, 6, k->prev_until_ms);
        sqlite3_bind_int64(s, 7, (int64_t)k->scopes);
        sqlite3_bind_int64(s, 8, k->created_at_ms);
        sqlite3_bind_int64(s, 9, k->expires_at_ms);
        sqlite3_bind_int64(s, 10, k->revoked_at_ms);
        sqlite3_bind_int64(s, 11, k->rotated_at_ms);
        sqlite3_bind_int64(s, 12, k->rate_max);
        sqlite3_bind_int64(s, 13, k->rate_per_ms);
        sqlite_bind_text(s, 14, k->created_by);
        return sqlite_run(st, s, "key_insert");
}

/* On success the caller owns out's strings (key_rec_free); out is untouched
 * when the key does not exist. */
int sqlite_key_get(struct store *st, const char *id, struct key_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_KEY_GET];
        int rc;

        if (!id)
                return BATON_ENOTFOUND;
        sqlite_bind_text(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_key(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : sqlite_fail(st, rc, "key_get");
        sqlite_finish(s);
        return rc;
}

/* id, tenant and created_at never change: a key cannot move between tenants. */
int sqlite_key_update(struct store *st, const struct key_rec *k)
{
        sqlite3_stmt *s = st->stmt[S_KEY_UPDATE];
        int rc;

        if (!k->id || !k->digest)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, k->id);
        sqlite_bind_text(s, 2, k->name);
        sqlite_bind_text(s, 3, k->digest);
        sqlite_bind_text(s, 4, k->prev_digest);
        sqlite3_bind_int64(s, 5, k->prev_until_ms);
        sqlite3_bind_int64(s, 6, (int64_t)k->scopes);
        sqlite3_bind_int64(s, 7, k->expires_at_ms);
        sqlite3_bind_int64(s, 8, k->revoked_at_ms);
        sqlite3_bind_int64(s, 9, k->rotated_at_ms);
        sqlite3_bind_int64(s, 10, k->rate_max);
        sqlite3_bind_int64(s, 11, k->rate_per_ms);
        sqlite_bind_text(s, 12, k->created_by);
        rc = sqlite_run(st, s, "key_update");
        if (!rc && sqlite3_changes(st->db) == 0)
                rc = BATON_ENOTFOUND;
        return rc;
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (key_recs_free). Ids are never empty, so "" stands for "from the start". */
int sqlite_key_list(struct store *st, const char *tenant, const char *after, int limit,
                    struct key_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[tenant ? S_KEY_LIST_TENANT : S_KEY_LIST_ALL];
        struct key_rec *v = NULL;
        int n = 0, cap = 0, i = 1;
        int step = SQLITE_DONE, rc = 0;

        *out = NULL;
        *n_out = 0;
        if (limit <= 0)
                return BATON_EINVAL;
        if (tenant)
                sqlite_bind_text(s, i++, tenant);
        sqlite_bind_text(s, i++, after ? after : "");
        sqlite3_bind_int(s, i, limit);
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = store_grow((void **)&v, n, &cap, sizeof(*v));
                if (!rc)
                        rc = read_key(s, &v[n]);
                if (!rc)
                        n++;
        }
        if (!rc && step != SQLITE_DONE)
                rc = sqlite_fail(st, step, "key_list");
        sqlite_finish(s);
        if (rc) {
                key_recs_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

int sqlite_key_count(struct store *st, int64_t *n_out)
{
        sqlite3_stmt *s = st->stmt[S_KEY_COUNT];
        int rc = sqlite3_step(s);

        if (rc == SQLITE_ROW) {
                *n_out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = sqlite_fail(st, rc, "key_count");
        }
        sqlite_finish(s);
        return rc;
}

/* ---- audit log ---- */

/* Binds the columns audit_insert and audit_bump share (?1 ... ?9). */
static void bind_audit(sqlite3_stmt *s, const struct audit_rec *r)
{
        sqlite3_bind_int64(s, 1, r->at_ms);
        sqlite_bind_text(s, 2, r->key_id);
        sqlite_bind_text(s, 3, r->tenant);
        sqlite_bind_text(s, 4, r->action);
        sqlite_bind_text(s, 5, r->target);
        sqlite_bind_text(s, 6, r->request_id);
        sqlite3_bind_int(s, 7, r->status);
        sqlite_bind_text(s, 8, r->code);
        sqlite_bind_text(s, 9, r->detail);
}

/* Refusals: the row of r->bucket gains r->n (at least 1), or is made with it;
 * r->n becomes the row's count. */
static int bump_audit(struct store *st, sqlite3_stmt *s, struct audit_rec *r)
{
        int rc;

        bind_audit(s, r);
        sqlite_bind_text(s, 10, r->bucket);
        sqlite3_bind_int64(s, 11, r->n > 0 ? r->n : 1);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                r->id = sqlite3_column_int64(s, 0);
                r->n = sqlite3_column_int64(s, 1);
                rc = 0;
        } else {
                rc = sqlite_fail(st, rc, "audit_bump");
        }
        sqlite_finish(s);
        return rc;
}

int sqlite_audit_purge(struct store *st, int64_t before_ms, int max, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_AUDIT_PURGE];
        int rc;

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int64(s, 1, before_ms);
        sqlite3_bind_int(s, 2, max);
        rc = sqlite_run(st, s, "audit_purge");
        if (!rc)
                *n_out = sqlite3_changes(st->db);
        return rc;
}

/* AUTOINCREMENT: an audit id is never handed out twice, even after the newest
 * rows were deleted, so a reader's cursor never skips a later entry. */
int sqlite_audit_insert(struct store *st, struct audit_rec *r)
{
        sqlite3_stmt *s = st->stmt[r->bucket ? S_AUDIT_BUMP : S_AUDIT_INSERT];
        int rc;

        if (!r->action)
                return BATON_EINVAL;
        if (r->bucket)
                return bump_audit(st, s, r);
        bind_audit(s, r);
        rc = sqlite_run(st, s, "audit_insert");
        if (!rc) {
                r->id = sqlite3_last_insert_rowid(st->db);
                r->n = 1;
        }
        return rc;
}

/* Fills *out from the current audit row (AUDIT_COLS order); the caller owns
 * its strings (audit_rec_free), none are left on failure. */
static int read_audit(sqlite3_stmt *s, struct audit_rec *out)
{
        struct audit_rec r = {0};
        int rc;

        r.id = sqlite3_column_int64(s, 0);
        r.at_ms = sqlite3_column_int64(s, 1);
        r.status = sqlite3_column_int(s, 7);
        r.n = sqlite3_column_int64(s, 10);
        rc = sqlite_read_text(s, 2, &r.key_id);
        if (!rc)
                rc = sqlite_read_text(s, 3, &r.tenant);
        if (!rc)
                rc = sqlite_read_text(s, 4, &r.action);
        if (!rc)
                rc = sqlite_read_text(s, 5, &r.target);
        if (!rc)
                rc = sqlite_read_text(s, 6, &r.request_id);
        if (!rc)
                rc = sqlite_read_text(s, 8, &r.code);
        if (!rc)
                rc = sqlite_read_text(s, 9, &r.detail);
        if (rc)
                audit_rec_free(&r);
        else
                *out = r;
        return rc;
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (audit_recs_free). BATON_EINVAL: no filter or limit < 1. */
int sqlite_audit_list(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                      int *n_out)
{
        struct audit_rec *v = NULL;
        sqlite3_stmt *s;
        int n = 0, cap = 0, bits;
        int step = SQLITE_DONE, rc = 0;

        *out = NULL;
        *n_out = 0;
        if (!f || f->limit <= 0)
                return BATON_EINVAL;
        bits = (f->tenant ? AF_TENANT : 0) | (f->action ? AF_ACTION : 0) | (f->key_id ? AF_KEY : 0);
        s = st->stmt[S_AUDIT_LIST + bits];
        if (bits & AF_TENANT)
                sqlite_bind_text(s, 1, f->tenant);
        if (bits & AF_ACTION)
                sqlite_bind_text(s, 2, f->action);
        if (bits & AF_KEY)
                sqlite_bind_text(s, 3, f->key_id);
        sqlite3_bind_int64(s, 4, f->after_id);
        sqlite3_bind_int(s, 5, f->limit);
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = store_grow((void **)&v, n, &cap, sizeof(*v));
                if (!rc)
                        rc = read_audit(s, &v[n]);
                if (!rc)
                        n++;
        }
        if (!rc && step != SQLITE_DONE)
                rc = sqlite_fail(st, step, "audit_list");
        sqlite_finish(s);
        if (rc) {
                audit_recs_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}
