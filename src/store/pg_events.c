/*
 * pg_events.c: the event log of the PostgreSQL backend (struct store_ops,
 * version 16), shared by every node. Ids from a sequence would be handed
 * out in one order and committed in another, so a reader could pass id 12
 * while the transaction holding 11 is still open and never see 11. Here an
 * event's id is its transaction's id (pg_current_xact_id(), an xid8 that
 * never wraps) shifted left by 24 bits plus the event's index in the
 * transaction, and event_scan reads only ids below the oldest transaction
 * still running (pg_snapshot_xmin of the statement's snapshot): every
 * transaction below that horizon has ended, and every one still to commit
 * is above it, so what a reader has passed never changes. Ids then increase
 * in the feed's order, on every node, across leader changes (no node
 * numbers them). The price: an event becomes readable once every
 * transaction that began before its own has ended, a few ms on a store whose
 * transactions are batches of short operations.
 *
 * Workload: core inserts a transaction's events as deferred writes of
 * EVENTS_PER_INSERT rows each (a JSON array unpacked by the server), so they
 * travel with the commit and cost no round trip of their own; a read is one
 * round trip of two statements (the page, and whether events wait above the
 * horizon). Assumes the single caller of the store interface (the store
 * thread) and fewer than 2^24 events per transaction (core/events.h caps it).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/jw.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

/* Events per INSERT statement (a JSON array parameter). */
#define EVENTS_PER_INSERT 1000
/* Bytes of one INSERT's parameter at most; a longer array is cut into more
 * statements. */
#define EVENTS_INSERT_BYTES (4u << 20)
/* The horizon: ids below it belong to transactions that have ended. */
#define PG_EVENT_HORIZON "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 24)"

/* $1: a JSON array of {tenant, type, at, kind, subject, queue, data}; $2:
 * the index in the transaction of its first event. */
static const struct pg_stmt
    S_EVENT_INSERT = {"pg_event_insert",
                      "INSERT INTO events (" STORE_EVENT_COLS ")"
                      " SELECT (pg_current_xact_id()::text::bigint << 24) + $2 + e.ord - 1,"
                      " e.v->>'tenant', e.v->>'type', (e.v->>'at')::bigint, e.v->>'kind',"
                      " e.v->>'subject', e.v->>'queue', (e.v->'data')::text"
                      " FROM json_array_elements($1::json) WITH ORDINALITY AS e(v, ord)"},
    S_EVENT_SCAN = {"pg_event_scan",
                    "SELECT " STORE_EVENT_COLS " FROM events"
                    " WHERE id > $1 AND id < " PG_EVENT_HORIZON " ORDER BY id LIMIT $2"},
    S_EVENT_WAITING = {"pg_event_waiting",
                       "SELECT EXISTS (SELECT 1 FROM events WHERE id >= " PG_EVENT_HORIZON ")"},
    /* Oldest first, among the max oldest (at grows with id, up to the
     * clock differences of concurrent transactions). */
    S_EVENT_PURGE_AGE = {"pg_event_purge_age",
                         "DELETE FROM events WHERE id IN (SELECT id FROM (SELECT id, at FROM events"
                         " ORDER BY id LIMIT $2) o WHERE at < $1)"},
    /* Ids have gaps, so the keep-th newest is found by walking the index
     * from the newest (core runs this seldom, events.h). */
    S_EVENT_PURGE_COUNT = {"pg_event_purge_count",
                           "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= ("
                           "SELECT id FROM events ORDER BY id DESC OFFSET $1 LIMIT 1)"
                           " ORDER BY id LIMIT $2)"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {
    &S_EVENT_SCAN,
    &S_EVENT_PURGE_AGE,
    &S_EVENT_PURGE_COUNT,
};
const struct pg_stmt_list pg_events_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

/* Defers the insert of the array in b (k events). */
static int insert_chunk(struct store *st, struct buf *b, int k)
{
        int rc;

        if (buf_addc(b, ']') || buf_addc(b, '\0'))
                return BATON_ENOMEM;
        rc = pg_defer_write(st, &S_EVENT_INSERT,
                            PG_ARGS(SA((const char *)b->ptr), SA(st->events_n)));
        if (!rc)
                st->events_n += k;
        buf_reset(b);
        return rc;
}

int pg_event_insert(struct store *st, const struct event_rec *v, int n)
{
        struct buf b;
        struct jw w;
        int k = 0, rc = 0;

        buf_init(&b, EVENTS_INSERT_BYTES + (64u << 10));
        for (int i = 0; i < n && !rc; i++) {
                const struct event_rec *e = &v[i];

                if (!e->tenant || !e->type || !e->kind || !e->subject || !e->data) {
                        rc = BATON_EINVAL;
                        break;
                }
                if (k == 0 && buf_addc(&b, '[')) {
                        rc = BATON_ENOMEM;
                        break;
                }
                if (k > 0 && buf_addc(&b, ',')) {
                        rc = BATON_ENOMEM;
                        break;
                }
                jw_init(&w, &b);
                jw_obj_open(&w);
                jw_kstr(&w, "tenant", e->tenant);
                jw_kstr(&w, "type", e->type);
                jw_kint(&w, "at", e->at_ms);
                jw_kstr(&w, "kind", e->kind);
                jw_kstr(&w, "subject", e->subject);
                jw_kstr(&w, "queue", e->queue);
                jw_kraw(&w, "data", e->data);
                jw_obj_close(&w);
                if (w.err) {
                        rc = BATON_ENOMEM;
                        break;
                }
                k++;
                if (k == EVENTS_PER_INSERT || b.len >= EVENTS_INSERT_BYTES || i == n - 1) {
                        rc = insert_chunk(st, &b, k);
                        k = 0;
                }
        }
        buf_free(&b);
        return rc;
}

/* What event_scan collects: the tenant's rows and the last id looked at. */
struct scan_ctx {
        const char *tenant;
        struct event_rec *v;
        int n;
        int cap;
        int64_t last_id;
};

static int scan_row(void *arg, const struct store_row *r, int i)
{
        struct scan_ctx *c = arg;
        char *tenant = NULL;
        int rc;

        (void)i;
        c->last_id = r->i64(r, 0);
        rc = r->text(r, 1, &tenant);
        if (rc)
                return rc;
        if (c->tenant && (!tenant || strcmp(tenant, c->tenant) != 0)) {
                free(tenant);
                return 0;
        }
        free(tenant);
        if (store_grow((void **)&c->v, c->n, &c->cap, sizeof(*c->v)))
                return BATON_ENOMEM;
        rc = store_read(r, &store_event_row, &c->v[c->n]);
        if (!rc)
                c->n++;
        return rc;
}

int pg_event_scan(struct store *st, const char *tenant, int64_t after_id, int max,
                  struct event_rec **out, int *n_out, int64_t *last_id, bool *full, bool *waiting)
{
        const struct pg_stmt *const s[2] = {&S_EVENT_SCAN, &S_EVENT_WAITING};
        const struct pg_params *p[2] = {PG_ARGS(SA(after_id), SA(max)), NULL};
        struct scan_ctx c = {tenant, NULL, 0, 0, after_id};
        PGresult *res[2] = {NULL, NULL};
        int seen = 0, rc;

        *out = NULL;
        *n_out = 0;
        *last_id = after_id;
        *full = false;
        *waiting = false;
        if (max <= 0)
                return BATON_EINVAL;
        rc = pg_exec_n(st, s, p, 2, res);
        if (!rc)
                rc = pg_rows_each(res[0], max, scan_row, &c, &seen);
        if (!rc) {
                *out = c.v;
                *n_out = c.n;
                *last_id = c.last_id;
                *full = seen == max;
                *waiting = PQntuples(res[1]) == 1 && strcmp(PQgetvalue(res[1], 0, 0), "t") == 0;
        } else {
                event_recs_free(c.v, c.n);
        }
        PQclear(res[0]);
        PQclear(res[1]);
        return rc;
}

int pg_event_purge(struct store *st, int64_t before_ms, int64_t keep, int max, int *n_out)
{
        int n_age = 0, n_count = 0, rc;

        *n_out = 0;
        rc = pg_purge(st, &S_EVENT_PURGE_AGE, PG_ARGS(SA(before_ms)), max, &n_age);
        if (!rc && keep > 0)
                rc = pg_purge(st, &S_EVENT_PURGE_COUNT, PG_ARGS(SA(keep)), max - n_age, &n_count);
        if (!rc)
                *n_out = n_age + n_count;
        return rc;
}
