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

/* With lock the row is made first, as store.h asks, although one writer needs
 * no lock: both backends then answer alike. The caller owns out's strings. */
int sqlite_qlim_get(struct store *st, const char *tenant, const char *queue, bool lock,
                    struct queue_limits *out)
{
        int rc = 0;

        if (lock)
                rc = sqlite_run(st, SQLITE_STMT(st, S_QLIM_MAKE, SA(tenant), SA(queue)), NULL);
        if (rc)
                return rc;
        rc = sqlite_one(st, SQLITE_STMT(st, S_QLIM_GET, SA(tenant), SA(queue)), &store_qlim_row,
                        out);
        /* The aggregate always gives a row. */
        return rc == BATON_ENOTFOUND ? sqlite_fail(st, SQLITE_DONE, "qlim_get") : rc;
}

int sqlite_qlim_put(struct store *st, const struct queue_limits *q)
{
        if (!q->tenant || !q->queue)
                return BATON_EINVAL;
        return sqlite_put(st, S_QLIM_PUT, &store_qlim_row, q);
}

int sqlite_qlim_add(struct store *st, const char *tenant, const char *queue, int64_t depth_delta,
                    int64_t running_delta)
{
        sqlite3_stmt *s =
            SQLITE_STMT(st, S_QLIM_ADD, SA(tenant), SA(queue), SA(depth_delta), SA(running_delta));

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
        if (!g->tenant || !g->queue || !g->grp)
                return BATON_EINVAL;
        return sqlite_put(st, S_GROUP_PUT, &store_group_row, g);
}

/* The group's row and its rate window log. */
int sqlite_group_delete(struct store *st, const char *tenant, const char *queue, const char *grp)
{
        int rc =
            sqlite_run(st, SQLITE_STMT(st, S_GROUP_DELETE, SA(tenant), SA(queue), SA(grp)), NULL);

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

        return sqlite_run(st, s, NULL);
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
