/*
 * sqlite_groups.c: queue limits, job groups and rate windows of the SQLite
 * backend (struct store_ops, version 5 and 6): the queue_limits row with its
 * depth and running counters, one job_groups row per group that has ready jobs
 * (picked in head order for fair claims), and the rate_log of recent starts.
 * Workload: a claim reads the queue's limits, picks groups and reads each
 * group's ready ids; a settle adjusts the counters. Assumptions: calls come
 * from the store thread inside a transaction; there is one writer, so no group
 * is ever busy.
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

/* ---- version 5: queue limits and groups ---- */

/* Fills *out from the current row of a QLIM_READ; the caller
 * owns its strings on success, none are left on failure. */
static int read_qlim(sqlite3_stmt *s, struct queue_limits *out)
{
        struct queue_limits q = {0};
        int64_t *v[] = {&q.concurrency,       &q.rate_max,          &q.rate_per_ms,
                        &q.max_depth,         &q.group_concurrency, &q.group_rate_max,
                        &q.group_rate_per_ms, &q.def_max_attempts,  &q.def_lease_ms};
        int rc;

        for (int i = 0; i < (int)BATON_ARRAY_LEN(v); i++)
                *v[i] = sqlite3_column_int64(s, 2 + i);
        q.def_backoff.type = sqlite3_column_int(s, 11);
        q.def_backoff_set = q.def_backoff.type >= 0;
        q.def_backoff.base_ms = sqlite3_column_int64(s, 12);
        q.def_backoff.max_ms = sqlite3_column_int64(s, 13);
        q.start_seq = sqlite3_column_int64(s, 14);
        q.serve_seq = sqlite3_column_int64(s, 15);
        q.nogroup_served = sqlite3_column_int64(s, 16);
        q.updated_at_ms = sqlite3_column_int64(s, 17);
        q.depth = sqlite3_column_int64(s, 18);
        q.running = sqlite3_column_int64(s, 19);
        q.grouped = sqlite3_column_int(s, 20) != 0;
        q.known = sqlite3_column_int(s, 21) != 0;
        rc = sqlite_read_text(s, 0, &q.tenant);
        if (!rc)
                rc = sqlite_read_text(s, 1, &q.queue);
        if (rc)
                queue_limits_free(&q);
        else
                *out = q;
        return rc;
}

/* With lock the row is made first, as store.h asks, although one writer needs
 * no lock: both backends then answer alike. */
int sqlite_qlim_get(struct store *st, const char *tenant, const char *queue, bool lock,
                    struct queue_limits *out)
{
        sqlite3_stmt *s = st->stmt[S_QLIM_GET];
        int rc = 0;

        if (lock) {
                sqlite_bind_text(st->stmt[S_QLIM_MAKE], 1, tenant);
                sqlite_bind_text(st->stmt[S_QLIM_MAKE], 2, queue);
                rc = sqlite_run(st, st->stmt[S_QLIM_MAKE], "qlim_make");
        }
        if (rc)
                return rc;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        rc = sqlite3_step(s);
        rc = rc == SQLITE_ROW ? read_qlim(s, out) : sqlite_fail(st, rc, "qlim_get");
        sqlite_finish(s);
        return rc;
}

int sqlite_qlim_put(struct store *st, const struct queue_limits *q)
{
        sqlite3_stmt *s = st->stmt[S_QLIM_PUT];
        const int64_t v[] = {q->concurrency,         q->rate_max,
                             q->rate_per_ms,         q->max_depth,
                             q->group_concurrency,   q->group_rate_max,
                             q->group_rate_per_ms,   q->def_max_attempts,
                             q->def_lease_ms,        q->def_backoff_set ? q->def_backoff.type : -1,
                             q->def_backoff.base_ms, q->def_backoff.max_ms,
                             q->start_seq,           q->serve_seq,
                             q->nogroup_served,      q->updated_at_ms};

        if (!q->tenant || !q->queue)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, q->tenant);
        sqlite_bind_text(s, 2, q->queue);
        for (int i = 0; i < (int)BATON_ARRAY_LEN(v); i++)
                sqlite3_bind_int64(s, 3 + i, v[i]);
        return sqlite_run(st, s, "qlim_put");
}

int sqlite_qlim_add(struct store *st, const char *tenant, const char *queue, int64_t depth_delta,
                    int64_t running_delta)
{
        sqlite3_stmt *s = st->stmt[S_QLIM_ADD];

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite3_bind_int64(s, 3, depth_delta);
        sqlite3_bind_int64(s, 4, running_delta);
        return sqlite_run(st, s, "qlim_add");
}

/* Fills *g from the current job_groups row (GROUP_COLS order); the caller
 * owns its strings on success, none are left on failure. */
static int read_group(sqlite3_stmt *s, struct group_rec *out)
{
        struct group_rec g = {0};
        int rc;

        g.running = sqlite3_column_int64(s, 3);
        g.head = sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 4);
        g.served = sqlite3_column_int64(s, 5);
        g.blocked = sqlite3_column_int(s, 6) != 0;
        g.until_ms = sqlite3_column_int64(s, 7);
        g.start_seq = sqlite3_column_int64(s, 8);
        g.last_start_ms = sqlite3_column_int64(s, 9);
        rc = sqlite_read_text(s, 0, &g.tenant);
        if (!rc)
                rc = sqlite_read_text(s, 1, &g.queue);
        if (!rc)
                rc = sqlite_read_text(s, 2, &g.grp);
        if (rc)
                group_rec_free(&g);
        else
                *out = g;
        return rc;
}

int sqlite_group_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                     bool lock, struct group_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_GET];
        int rc;

        (void)lock;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite_bind_text(s, 3, grp);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_group(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : sqlite_fail(st, rc, "group_get");
        sqlite_finish(s);
        return rc;
}

int sqlite_group_put(struct store *st, const struct group_rec *g)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_PUT];

        if (!g->tenant || !g->queue || !g->grp)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, g->tenant);
        sqlite_bind_text(s, 2, g->queue);
        sqlite_bind_text(s, 3, g->grp);
        sqlite3_bind_int64(s, 4, g->running);
        if (g->head >= 0)
                sqlite3_bind_int(s, 5, g->head);
        else
                sqlite3_bind_null(s, 5);
        sqlite3_bind_int64(s, 6, g->served);
        sqlite3_bind_int(s, 7, g->blocked ? 1 : 0);
        sqlite3_bind_int64(s, 8, g->until_ms);
        sqlite3_bind_int64(s, 9, g->start_seq);
        sqlite3_bind_int64(s, 10, g->last_start_ms);
        return sqlite_run(st, s, "group_put");
}

int sqlite_group_delete(struct store *st, const char *tenant, const char *queue, const char *grp)
{
        int ids[] = {S_GROUP_DELETE, S_GROUP_RATE_DELETE};
        int rc = 0;

        for (int i = 0; i < 2 && !rc; i++) {
                sqlite3_stmt *s = st->stmt[ids[i]];
                sqlite_bind_text(s, 1, tenant);
                sqlite_bind_text(s, 2, queue);
                sqlite_bind_text(s, 3, grp);
                rc = sqlite_run(st, s, "group_delete");
        }
        return rc;
}

int sqlite_group_note_ready(struct store *st, const char *tenant, const char *queue,
                            const char *grp, int prio)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_NOTE_READY];

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite_bind_text(s, 3, grp);
        sqlite3_bind_int(s, 4, prio);
        return sqlite_run(st, s, "group_note_ready");
}

int sqlite_group_pick(struct store *st, const char *tenant, const char *queue, int max,
                      struct group_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_PICK];
        struct group_rec *v = NULL;
        int n = 0, cap = 0;
        int rc = 0, step;

        *out = NULL;
        *n_out = 0;
        if (max < 1)
                return BATON_EINVAL;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite3_bind_int(s, 3, max);
        while (!rc && n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = store_grow((void **)&v, n, &cap, sizeof(*v));
                if (!rc)
                        rc = read_group(s, &v[n]);
                if (!rc)
                        n++;
        }
        if (!rc && n < max && step != SQLITE_DONE)
                rc = sqlite_fail(st, step, "group_pick");
        sqlite_finish(s);
        if (rc) {
                group_recs_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

int sqlite_group_unblock(struct store *st, const char *tenant, const char *queue, int64_t now_ms,
                         int64_t gc, bool all)
{
        sqlite3_stmt *s = st->stmt[all ? S_GROUP_UNBLOCK_ALL : S_GROUP_UNBLOCK];

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        if (all) {
                sqlite3_bind_int64(s, 3, gc);
        } else {
                sqlite3_bind_int64(s, 3, now_ms);
                sqlite3_bind_int64(s, 4, gc);
        }
        return sqlite_run(st, s, "group_unblock");
}

int sqlite_group_next_until(struct store *st, const char *tenant, const char *queue, int64_t *at_ms)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_NEXT_UNTIL];
        int n = 0;

        *at_ms = 0;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        return sqlite_read_ids(st, s, 1, at_ms, &n, "group_next_until");
}

int sqlite_group_ready_ids(struct store *st, const char *tenant, const char *queue, const char *grp,
                           int max, int64_t *ids, int *prios, int *n_out)
{
        sqlite3_stmt *s = st->stmt[grp ? S_GROUP_READY : S_NOGROUP_READY];
        int n = 0;
        int rc = SQLITE_DONE;

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        if (grp)
                sqlite_bind_text(s, 3, grp);
        sqlite3_bind_int(s, 4, max);
        while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                ids[n] = sqlite3_column_int64(s, 0);
                prios[n] = sqlite3_column_int(s, 1);
                n++;
        }
        rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : sqlite_fail(st, rc, "group_ready_ids");
        sqlite_finish(s);
        *n_out = rc ? 0 : n;
        return rc;
}

/* group_ready_ids of each group; nothing is ever locked by another writer,
 * so no group is busy. */
int sqlite_group_ready_many(struct store *st, const char *tenant, const char *queue,
                            const char *const *grps, int n_grps, int per, int64_t *ids, int *prios,
                            int *n_out, bool *busy)
{
        int rc = 0;

        if (n_grps < 0 || n_grps > STORE_MANY_MAX || per < 1 || per > STORE_READ_PER_MAX)
                return BATON_EINVAL;
        for (int i = 0; i < n_grps && !rc; i++) {
                if (!grps[i])
                        return BATON_EINVAL;
                busy[i] = false;
                rc = sqlite_group_ready_ids(st, tenant, queue, grps[i], per, ids + (size_t)i * per,
                                            prios + (size_t)i * per, &n_out[i]);
        }
        return rc;
}

int sqlite_rate_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                    int64_t seq, int64_t *at_ms)
{
        sqlite3_stmt *s = st->stmt[S_RATE_GET];
        int n = 0;
        int rc;

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite_bind_text(s, 3, grp);
        sqlite3_bind_int64(s, 4, seq);
        rc = sqlite_read_ids(st, s, 1, at_ms, &n, "rate_get");
        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

int sqlite_rate_put(struct store *st, const char *tenant, const char *queue, const char *grp,
                    int64_t seq, int64_t at_ms, int64_t keep_from)
{
        sqlite3_stmt *s = st->stmt[S_RATE_PUT];
        int rc;

        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite_bind_text(s, 3, grp);
        sqlite3_bind_int64(s, 4, seq);
        sqlite3_bind_int64(s, 5, at_ms);
        rc = sqlite_run(st, s, "rate_put");
        if (rc)
                return rc;
        s = st->stmt[S_RATE_TRIM];
        sqlite_bind_text(s, 1, tenant);
        sqlite_bind_text(s, 2, queue);
        sqlite_bind_text(s, 3, grp);
        sqlite3_bind_int64(s, 4, keep_from);
        return sqlite_run(st, s, "rate_trim");
}
