/*
 * sqlite_groups.c: queue limits, job groups and rate windows of the SQLite
 * backend (struct store_ops, version 5 and 6): the queue_limits row with its
 * depth and running counters, one job_groups row per group that has ready jobs
 * (picked in head order for fair claims), and the rate_log of recent starts.
 * Workload: a claim reads the queue's limits, picks groups and reads each
 * group's ready ids; a settle adjusts the counters; every enqueue reads the
 * queue's limits and counts itself, which the transaction answers from its
 * copy of the row and sums in memory until its commit (below). Assumptions:
 * calls come from the store thread inside a transaction; there is one
 * writer, so no group is ever busy and what a transaction read stays true
 * until it writes it.
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

/* ---- queue rows known to the transaction ----
 *
 * A batch of single enqueues on one queue read its limits row once per job
 * and updated its counters once per job. There is one writer, so what the
 * transaction read stays true until it writes the row itself: qlim_get
 * answers from a copy after the first read, qlim_put updates the copy, and
 * the counts are summed in memory and written once per queue just before
 * COMMIT (as pg_groups.c does for its shares); a copy's counters include
 * them, so max_depth is judged on exact counts. grouped and known come with
 * the row: a write of the queue's group rows or of its queue row forgets
 * the copy (sqlite_qcache_forget). A rolled back op may have undone writes
 * a copy shows, so it forgets every copy and its own counts. Outside a
 * transaction (tests, tools) every call goes to the table as before. */

static struct sqlite_qent *qent_find(struct store *st, const char *tenant, const char *queue)
{
        for (int i = 0; i < st->n_qcache; i++)
                if (strcmp(st->qcache[i].queue, queue) == 0 &&
                    strcmp(st->qcache[i].tenant, tenant) == 0)
                        return &st->qcache[i];
        return NULL;
}

/* The entry of (tenant, queue), made when missing; NULL outside a
 * transaction, when the table is full or without memory (the caller then
 * goes to the table). */
static struct sqlite_qent *qent_get(struct store *st, const char *tenant, const char *queue)
{
        struct sqlite_qent *e = qent_find(st, tenant, queue);

        if (e || !st->in_txn || st->n_qcache == SQLITE_QCACHE_MAX)
                return e;
        e = &st->qcache[st->n_qcache];
        memset(e, 0, sizeof(*e));
        e->tenant = strdup(tenant);
        e->queue = strdup(queue);
        if (!e->tenant || !e->queue) {
                free(e->tenant);
                free(e->queue);
                return NULL;
        }
        st->n_qcache++;
        return e;
}

static void qent_uncache(struct sqlite_qent *e)
{
        if (e->cached)
                queue_limits_free(&e->q);
        e->cached = false;
}

/* *dst (freed by the caller) becomes a deep copy of *src. */
static int qlim_copy(struct queue_limits *dst, const struct queue_limits *src)
{
        *dst = *src;
        dst->tenant = strdup(src->tenant);
        dst->queue = strdup(src->queue);
        if (dst->tenant && dst->queue)
                return 0;
        queue_limits_free(dst);
        return BATON_ENOMEM;
}

void sqlite_qcache_clear(struct store *st)
{
        for (int i = 0; i < st->n_qcache; i++) {
                qent_uncache(&st->qcache[i]);
                free(st->qcache[i].tenant);
                free(st->qcache[i].queue);
        }
        st->n_qcache = 0;
}

int sqlite_qcache_flush(struct store *st)
{
        int rc = 0;

        for (int i = 0; i < st->n_qcache && !rc; i++) {
                struct sqlite_qent *e = &st->qcache[i];
                int64_t depth = e->depth + e->op_depth, running = e->running + e->op_running;

                if (depth == 0 && running == 0)
                        continue;
                rc = sqlite_run(st,
                                SQLITE_STMT(st, S_QLIM_ADD, SA(e->tenant), SA(e->queue), SA(depth),
                                            SA(running)),
                                NULL);
        }
        sqlite_qcache_clear(st);
        return rc;
}

void sqlite_qcache_end_op(struct store *st, bool keep)
{
        for (int i = 0; i < st->n_qcache; i++) {
                struct sqlite_qent *e = &st->qcache[i];

                if (keep) {
                        e->depth += e->op_depth;
                        e->running += e->op_running;
                } else {
                        qent_uncache(e);
                        e->made = false;
                }
                e->op_depth = e->op_running = 0;
        }
}

void sqlite_qcache_forget(struct store *st, const char *tenant, const char *queue)
{
        struct sqlite_qent *e = qent_find(st, tenant, queue);

        if (e)
                qent_uncache(e);
}

/* The queue has a group row now (group_note_ready, group_put). */
static void qcache_grouped(struct store *st, const char *tenant, const char *queue)
{
        struct sqlite_qent *e = qent_find(st, tenant, queue);

        if (e && e->cached)
                e->q.grouped = true;
}

bool sqlite_qcache_known(struct store *st, const char *tenant, const char *queue)
{
        struct sqlite_qent *e = qent_find(st, tenant, queue);

        return e && e->cached && e->q.known;
}

void sqlite_qcache_made_queue(struct store *st, const char *tenant, const char *queue)
{
        struct sqlite_qent *e = qent_find(st, tenant, queue);

        if (e && e->cached)
                e->q.known = true;
}

/* With lock the row is made first, as store.h asks, although one writer needs
 * no lock: both backends then answer alike. The caller owns out's strings. */
int sqlite_qlim_get(struct store *st, const char *tenant, const char *queue, bool lock,
                    struct queue_limits *out)
{
        struct sqlite_qent *e = qent_get(st, tenant, queue);
        int rc = 0;

        if (lock && !(e && e->made))
                rc = sqlite_run(st, SQLITE_STMT(st, S_QLIM_MAKE, SA(tenant), SA(queue)), NULL);
        if (!rc && lock && e)
                e->made = true;
        if (rc)
                return rc;
        if (e && e->cached)
                return qlim_copy(out, &e->q);
        rc = sqlite_one(st, SQLITE_STMT(st, S_QLIM_GET, SA(tenant), SA(queue)), &store_qlim_row,
                        out);
        /* The aggregate always gives a row. */
        if (rc == BATON_ENOTFOUND)
                return sqlite_fail(st, SQLITE_DONE, "qlim_get");
        /* The table has not seen this transaction's counts yet. */
        if (!rc && e) {
                out->depth += e->depth + e->op_depth;
                out->running += e->running + e->op_running;
                e->cached = qlim_copy(&e->q, out) == 0;
        }
        return rc;
}

/* The copy takes q's settings and sequence fields; its counters, grouped and
 * known stay, since a put writes none of them. */
int sqlite_qlim_put(struct store *st, const struct queue_limits *q)
{
        struct sqlite_qent *e;
        struct queue_limits tmp;
        int rc;

        if (!q->tenant || !q->queue)
                return BATON_EINVAL;
        rc = sqlite_put(st, S_QLIM_PUT, &store_qlim_row, q);
        e = rc ? NULL : qent_find(st, q->tenant, q->queue);
        if (e)
                e->made = true;
        if (e && e->cached) {
                tmp = *q;
                tmp.tenant = e->q.tenant;
                tmp.queue = e->q.queue;
                tmp.depth = e->q.depth;
                tmp.running = e->q.running;
                tmp.grouped = e->q.grouped;
                tmp.known = e->q.known;
                e->q = tmp;
        }
        return rc;
}

int sqlite_qlim_add(struct store *st, const char *tenant, const char *queue, int64_t depth_delta,
                    int64_t running_delta)
{
        struct sqlite_qent *e = qent_get(st, tenant, queue);
        sqlite3_stmt *s;

        if (e) {
                if (st->in_op) {
                        e->op_depth += depth_delta;
                        e->op_running += running_delta;
                } else {
                        e->depth += depth_delta;
                        e->running += running_delta;
                }
                if (e->cached) {
                        e->q.depth += depth_delta;
                        e->q.running += running_delta;
                }
                return 0;
        }
        s = SQLITE_STMT(st, S_QLIM_ADD, SA(tenant), SA(queue), SA(depth_delta), SA(running_delta));
        return sqlite_run(st, s, NULL);
}

/* One writer: nothing to lock. */
int sqlite_group_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                     bool lock, struct group_rec *out)
{
        (void)lock;
        return sqlite_one(st, SQLITE_STMT(st, S_GROUP_GET, SA(tenant), SA(queue), SA(grp)),
                          &store_group_row, out);
}

int sqlite_group_put(struct store *st, const struct group_rec *g)
{
        int rc;

        if (!g->tenant || !g->queue || !g->grp)
                return BATON_EINVAL;
        rc = sqlite_put(st, S_GROUP_PUT, &store_group_row, g);
        if (!rc)
                qcache_grouped(st, g->tenant, g->queue);
        return rc;
}

/* The group's row and its rate window log. */
int sqlite_group_delete(struct store *st, const char *tenant, const char *queue, const char *grp)
{
        int rc =
            sqlite_run(st, SQLITE_STMT(st, S_GROUP_DELETE, SA(tenant), SA(queue), SA(grp)), NULL);

        /* It may have been the queue's last group. */
        sqlite_qcache_forget(st, tenant, queue);
        return rc ? rc
                  : sqlite_run(st,
                               SQLITE_STMT(st, S_GROUP_RATE_DELETE, SA(tenant), SA(queue), SA(grp)),
                               NULL);
}

int sqlite_group_note_ready(struct store *st, const char *tenant, const char *queue,
                            const char *grp, int prio)
{
        sqlite3_stmt *s =
            SQLITE_STMT(st, S_GROUP_NOTE_READY, SA(tenant), SA(queue), SA(grp), SA(prio));
        int rc = sqlite_run(st, s, NULL);

        if (!rc)
                qcache_grouped(st, tenant, queue);
        return rc;
}

/* *out is a malloc'd array owned by the caller (group_recs_free). */
int sqlite_group_pick(struct store *st, const char *tenant, const char *queue, int max,
                      struct group_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (max < 1)
                return BATON_EINVAL;
        return sqlite_rows(st, SQLITE_STMT(st, S_GROUP_PICK, SA(tenant), SA(queue), SA(max)), max,
                           &store_group_row, out, n_out);
}

int sqlite_group_unblock(struct store *st, const char *tenant, const char *queue, int64_t now_ms,
                         int64_t gc, bool all)
{
        sqlite3_stmt *s =
            all ? SQLITE_STMT(st, S_GROUP_UNBLOCK_ALL, SA(tenant), SA(queue), SA(gc))
                : SQLITE_STMT(st, S_GROUP_UNBLOCK, SA(tenant), SA(queue), SA(now_ms), SA(gc));

        return sqlite_run(st, s, NULL);
}

int sqlite_group_next_until(struct store *st, const char *tenant, const char *queue, int64_t *at_ms)
{
        return sqlite_int(st, SQLITE_STMT(st, S_GROUP_NEXT_UNTIL, SA(tenant), SA(queue)), at_ms,
                          NULL);
}

/* The jobs without a group (grp NULL) have a statement of their own, whose
 * ?3 is unused. */
int sqlite_group_ready_ids(struct store *st, const char *tenant, const char *queue, const char *grp,
                           int max, int64_t *ids, int *prios, int *n_out)
{
        sqlite3_stmt *s = SQLITE_STMT(st, grp ? S_GROUP_READY : S_NOGROUP_READY, SA(tenant),
                                      SA(queue), SA(grp), SA(max));
        struct store_ids a = {ids, NULL, prios};

        return sqlite_each(st, s, max, store_row_ids, &a, n_out);
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
        bool found = false;
        int rc =
            sqlite_int(st, SQLITE_STMT(st, S_RATE_GET, SA(tenant), SA(queue), SA(grp), SA(seq)),
                       at_ms, &found);

        return !rc && !found ? BATON_ENOTFOUND : rc;
}

int sqlite_rate_clamp(struct store *st, const char *tenant, const char *queue, const char *grp,
                      int64_t now_ms)
{
        return sqlite_run(
            st, SQLITE_STMT(st, S_RATE_CLAMP, SA(tenant), SA(queue), SA(grp), SA(now_ms)), NULL);
}

/* Records a start, then trims the log below keep_from. */
int sqlite_rate_put(struct store *st, const char *tenant, const char *queue, const char *grp,
                    int64_t seq, int64_t at_ms, int64_t keep_from)
{
        int rc = sqlite_run(
            st, SQLITE_STMT(st, S_RATE_PUT, SA(tenant), SA(queue), SA(grp), SA(seq), SA(at_ms)),
            NULL);

        if (rc)
                return rc;
        return sqlite_run(
            st, SQLITE_STMT(st, S_RATE_TRIM, SA(tenant), SA(queue), SA(grp), SA(keep_from)), NULL);
}
