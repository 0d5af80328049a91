/*
 * sqlite_events.c: the event log of the SQLite backend (struct store_ops,
 * version 16): one events row per event, appended by core once per
 * transaction just before its commit (core/events.c), read in id order by
 * GET /v1/events and deleted from the oldest by the leader's retention.
 * Workload: a few events per job (enqueued, started, completed), so on the
 * processing benchmark tens of thousands of inserts a second, made by
 * prepared statements of 64, 16, 4 and 1 rows (a statement's step, reset and
 * AUTOINCREMENT bookkeeping are paid once for its rows: 100 events cost
 * 4 statements, docs/benchmarks.md); reads are long-polls that look at a
 * bounded window of rows from their cursor.
 * Assumptions: calls come from the store thread inside a transaction, the
 * only writer of the database, so ids are in commit order.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

/* The multi-row insert statements, the most rows first. */
static const struct {
        int id;
        int rows;
} inserts[] = {
    {S_EVENT_INSERT64, 64}, {S_EVENT_INSERT16, 16}, {S_EVENT_INSERT4, 4}, {S_EVENT_INSERT, 1}};

#define EVENT_PARAMS 7

int sqlite_event_insert(struct store *st, const struct event_rec *v, int n)
{
        struct store_arg a[64 * EVENT_PARAMS];
        int rc = 0, done = 0;

        if (n > 0 && !sqlite_txn_open(st)) {
                log_error("store", "event_insert: no transaction is open");
                return BATON_ESTORE;
        }
        for (int i = 0; i < n; i++)
                if (!v[i].tenant || !v[i].type || !v[i].kind || !v[i].subject || !v[i].data)
                        return BATON_EINVAL;
        /* The largest statement that fits what is left, until nothing is. */
        for (size_t k = 0; k < sizeof(inserts) / sizeof(inserts[0]) && !rc; k++) {
                while (!rc && n - done >= inserts[k].rows) {
                        for (int r = 0; r < inserts[k].rows; r++) {
                                const struct event_rec *e = &v[done + r];
                                struct store_arg *p = &a[r * EVENT_PARAMS];

                                p[0] = SA(e->tenant);
                                p[1] = SA(e->type);
                                p[2] = SA(e->at_ms);
                                p[3] = SA(e->kind);
                                p[4] = SA(e->subject);
                                p[5] = SA(e->queue);
                                p[6] = SA(e->data);
                        }
                        rc = sqlite_run(
                            st, sqlite_stmt(st, inserts[k].id, inserts[k].rows * EVENT_PARAMS, a),
                            NULL);
                        done += inserts[k].rows;
                }
        }
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

/* Reads a row's id and tenant first, and the rest only for the tenant's
 * events (the others are only stepped over). */
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

int sqlite_event_scan(struct store *st, const char *tenant, int64_t after_id, int max,
                      struct event_rec **out, int *n_out, int64_t *last_id, bool *full,
                      bool *waiting)
{
        struct scan_ctx c = {tenant, NULL, 0, 0, after_id};
        int seen = 0, rc;

        *out = NULL;
        *n_out = 0;
        *last_id = after_id;
        *full = false;
        /* One writer commits in id order: nothing waits above what is read. */
        *waiting = false;
        if (max <= 0)
                return BATON_EINVAL;
        rc = sqlite_each(st, SQLITE_STMT(st, S_EVENT_SCAN, SA(after_id), SA(max)), max, scan_row,
                         &c, &seen);
        if (rc) {
                event_recs_free(c.v, c.n);
                return rc;
        }
        *out = c.v;
        *n_out = c.n;
        *last_id = c.last_id;
        *full = seen == max;
        return 0;
}

int sqlite_event_purge(struct store *st, int64_t before_ms, int64_t keep, int max, int *n_out)
{
        int n_age = 0, n_count = 0, rc;

        *n_out = 0;
        rc = sqlite_purge(st, SQLITE_STMT(st, S_EVENT_PURGE_AGE, SA(before_ms), SA(max)), max,
                          &n_age);
        if (!rc && keep > 0)
                rc = sqlite_purge(st,
                                  SQLITE_STMT(st, S_EVENT_PURGE_COUNT, SA(keep), SA(max - n_age)),
                                  max - n_age, &n_count);
        if (!rc)
                *n_out = n_age + n_count;
        return rc;
}
