/*
 * pg_groups.c: queue limits, job groups and rate window logs in the
 * PostgreSQL backend (struct store_ops, version 5; tables of migration 7,
 * pg_schema.c). Kept apart from pg.c like pg_cron.c. Workload: every claim
 * reads its queue's queue_limits row and, for a queue with groups, the next
 * groups (group_pick) and one group's next jobs; every enqueue, settle and
 * terminal change adds to the queue's counters (qlim_add).
 *
 * Several nodes share the tables, so what a claim reads must stay true until
 * it commits: qlim_get and group_get with lock take the row lock (SELECT ...
 * FOR UPDATE), which makes the claims of one queue take turns on its
 * queue_limits row whatever node they run on; group_pick locks the groups it
 * returns, so a group row a claim is about to rewrite cannot be changed
 * meanwhile (a job becoming ready elsewhere waits and then lowers the head the
 * claim wrote, instead of being overwritten by it). Writes that cannot fail
 * on data (upserts, deletes, updates by key) are deferred into the next round
 * trip (pg_defer_write), as pg.c does for its own; a failure there (a lost
 * connection) fails the batch at its commit. The ready jobs of a group come
 * from pg_jobs.c (pg_group_ready_rows, and pg_group_ready_many for the groups of
 * one pick at once): whole rows, locked (SKIP LOCKED, except the single-group
 * read, which waits), kept for the claim's job_get calls. Core takes a queue's queue_limits row
 * before any of its group rows in every operation (store.h), so operations on one queue do not
 * deadlock.
 */
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

/* The counters of a queue are the base kept in queue_limits (what migration
 * 7 counted, and what nodes older than migration 9 add) plus the shares in
 * queue_counts, one per connection (pg_qlim_add). */
/* blocked as group_unblock recomputes it from the gc parameter $N. */
#define BLOCKED_BY(n) "CASE WHEN $" n "::bigint > 0 AND running >= $" n "::bigint THEN 1 ELSE 0 END"

static const struct pg_stmt
    /* A queue without a settings row reads as zeros; the counters are summed
     * in the same statement (the aggregate always gives one row). grouped
     * reads the first group in key order, which keeps the planner on the
     * primary key even where one queue holds most groups. */
    S_QLIM_GET = {"pg_qlim_get",
                  "SELECT $1::text, $2::text, COALESCE(l.concurrency, 0), COALESCE(l.rate_max, 0),"
                  " COALESCE(l.rate_per_ms, 0), COALESCE(l.max_depth, 0),"
                  " COALESCE(l.group_concurrency, 0), COALESCE(l.group_rate_max, 0),"
                  " COALESCE(l.group_rate_per_ms, 0), COALESCE(l.def_max_attempts, 0),"
                  " COALESCE(l.def_lease_ms, 0), COALESCE(l.def_backoff_type, -1),"
                  " COALESCE(l.def_backoff_base_ms, 0), COALESCE(l.def_backoff_max_ms, 0),"
                  " COALESCE(l.start_seq, 0), COALESCE(l.serve_seq, 0),"
                  " COALESCE(l.nogroup_served, 0), COALESCE(l.updated_at, 0),"
                  " COALESCE(l.ret_completed_ms, 0), COALESCE(l.ret_dead_ms, 0),"
                  " COALESCE(l.ret_cancelled_ms, 0),"
                  " COALESCE(l.def_timeout_ms, 0), COALESCE(l.events_off, 0),"
                  " (COALESCE(l.depth, 0) + COALESCE(c.depth, 0))::bigint,"
                  " (COALESCE(l.running, 0) + COALESCE(c.running, 0))::bigint,"
                  " ((SELECT grp FROM job_groups g WHERE g.tenant = $1 AND g.queue = $2"
                  " ORDER BY g.tenant, g.queue, g.grp LIMIT 1) IS NOT NULL)::int,"
                  " (EXISTS (SELECT 1 FROM queues k WHERE k.tenant = $1 AND k.name = $2))::int"
                  " FROM (SELECT SUM(depth) AS depth, SUM(running) AS running FROM queue_counts"
                  " WHERE tenant = $1 AND queue = $2) c"
                  " LEFT JOIN queue_limits l ON l.tenant = $1 AND l.queue = $2"},
    /* qlim_get with lock: the row made when missing, then locked; both go
     * deferred ahead of S_QLIM_GET, whose snapshot is then taken once the
     * lock is held. */
    S_QLIM_MAKE = {"pg_qlim_make", "INSERT INTO queue_limits (tenant, queue) VALUES ($1, $2)"
                                   " ON CONFLICT (tenant, queue) DO NOTHING"},
    S_QLIM_LOCK = {"pg_qlim_lock", "SELECT 1 FROM queue_limits WHERE tenant = $1 AND queue = $2"
                                   " FOR UPDATE"},
    S_QLIM_PUT = {"pg_qlim_put", "INSERT INTO queue_limits (" STORE_QLIM_SET_COLS
                                 ") VALUES ($1, $2, $3, $4, $5, $6,"
                                 " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "
                                 "$20, $21, $22, $23)" STORE_QLIM_UPSERT},
    /* This connection's share of the counters (st->shard). */
    S_QLIM_ADD = {"pg_qlim_add",
                  "INSERT INTO queue_counts (tenant, queue, shard, depth, running)"
                  " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, queue, shard) DO UPDATE SET"
                  " depth = queue_counts.depth + excluded.depth,"
                  " running = queue_counts.running + excluded.running"},
    S_GROUP_GET = {"pg_group_get", "SELECT " STORE_GROUP_COLS " FROM job_groups WHERE tenant = $1"
                                   " AND queue = $2 AND grp = $3"},
    S_GROUP_GET_LOCK = {"pg_group_get_lock", "SELECT " STORE_GROUP_COLS " FROM job_groups"
                                             " WHERE tenant = $1 AND queue = $2 AND grp = $3"
                                             " FOR UPDATE"},
    S_GROUP_PUT = {"pg_group_put",
                   "INSERT INTO job_groups (" STORE_GROUP_COLS
                   ") VALUES ($1, $2, $3, $4, $5, $6, $7,"
                   " $8, $9, $10) ON CONFLICT (tenant, queue, grp) DO UPDATE SET"
                   " running = excluded.running, head = excluded.head, served = excluded.served,"
                   " blocked = excluded.blocked, until_at = excluded.until_at,"
                   " start_seq = excluded.start_seq, last_start = excluded.last_start"},
    /* The group's row and its rate window log, in one statement. */
    S_GROUP_DELETE = {"pg_group_delete",
                      "WITH r AS (DELETE FROM rate_log WHERE tenant = $1 AND queue = $2"
                      " AND grp = $3) DELETE FROM job_groups WHERE tenant = $1 AND queue = $2"
                      " AND grp = $3"},
    /* A new group is served after those already waiting: served = the
     * queue's serve_seq, read in the same statement. */
    S_GROUP_NOTE_READY = {"pg_group_note_ready",
                          "INSERT INTO job_groups (" STORE_GROUP_COLS ") VALUES ($1, $2, $3, 0, $4,"
                          " COALESCE((SELECT serve_seq FROM queue_limits WHERE tenant = $1"
                          " AND queue = $2), 0), 0, 0, 0, 0) ON CONFLICT (tenant, queue, grp)"
                          " DO UPDATE SET head = excluded.head"
                          " WHERE job_groups.head IS NULL OR job_groups.head > excluded.head"},
    S_GROUP_PICK = {"pg_group_pick",
                    "SELECT " STORE_GROUP_COLS " FROM job_groups WHERE head IS NOT NULL"
                    " AND tenant = $1 AND queue = $2 AND blocked = 0"
                    " ORDER BY head, served, grp LIMIT $3 FOR UPDATE"},
    S_GROUP_UNBLOCK =
        {"pg_group_unblock",
         "UPDATE job_groups SET blocked = " BLOCKED_BY(
             "4") ", until_at = 0"
                  " WHERE until_at > 0 AND tenant = $1 AND queue = $2 AND until_at <= $3"},
    S_GROUP_UNBLOCK_ALL = {"pg_group_unblock_all", "UPDATE job_groups SET blocked = " BLOCKED_BY(
                                                       "3") ", until_at = 0"
                                                            " WHERE tenant = $1 AND queue = $2"},
    S_GROUP_NEXT_UNTIL = {"pg_group_next_until",
                          "SELECT until_at FROM job_groups WHERE until_at > 0 AND tenant = $1"
                          " AND queue = $2 AND head IS NOT NULL ORDER BY until_at LIMIT 1"},
    S_RATE_GET = {"pg_rate_get", "SELECT at FROM rate_log WHERE tenant = $1 AND queue = $2"
                                 " AND grp = $3 AND seq = $4"},
    /* Records a start and trims the log in one statement. Both parts see the
     * log as it was, so a start numbered below keep_from (which the trim would
     * remove right after an insert) is simply not inserted. */
    S_RATE_PUT = {"pg_rate_put",
                  "WITH t AS (DELETE FROM rate_log WHERE tenant = $1 AND queue = $2 AND grp = $3"
                  " AND seq < $6) INSERT INTO rate_log (tenant, queue, grp, seq, at)"
                  " SELECT $1, $2, $3, $4::bigint, $5::bigint WHERE $4::bigint >= $6::bigint"
                  " ON CONFLICT (tenant, queue, grp, seq) DO UPDATE SET at = excluded.at"},
    S_RATE_CLAMP = {"pg_rate_clamp", "UPDATE rate_log SET at = $4 WHERE tenant = $1 AND queue = $2"
                                     " AND grp = $3 AND at > $4"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {
    &S_QLIM_GET,   &S_QLIM_LOCK,     &S_GROUP_GET,         &S_GROUP_GET_LOCK,   &S_GROUP_DELETE,
    &S_GROUP_PICK, &S_GROUP_UNBLOCK, &S_GROUP_UNBLOCK_ALL, &S_GROUP_NEXT_UNTIL, &S_RATE_GET,
};
const struct pg_stmt_list pg_groups_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

/* ---- queue limits ---- */

/* ---- queue rows known to the transaction ----
 *
 * A qlim_get with lock (and a qlim_put, an upsert) locks the settings row
 * until the transaction ends, so once it has read or written the row nobody
 * else can change its settings: the transaction knows them exactly and later
 * calls answer from that copy. A read without lock is remembered too, for
 * the calls of the same batch that need no lock (a batch of enqueues on one
 * queue costs one read of its settings, not one per job); a call with lock
 * replaces it. The counters in a copy are what this transaction read plus
 * what it added since. A rolled back operation may have undone writes the
 * copy shows: end_op (pg.c) then forgets every copy. */

void pg_qcache_clear(struct store *st)
{
        for (int i = 0; i < st->n_qcache; i++) {
                queue_limits_free(st->qcache[i]);
                free(st->qcache[i]);
        }
        st->n_qcache = 0;
}

/* The copy of (tenant, queue), or NULL; *slot gets its index. */
static struct queue_limits *qcache_find(const struct store *st, const char *tenant,
                                        const char *queue, int *slot)
{
        for (int i = 0; i < st->n_qcache; i++)
                if (strcmp(st->qcache[i]->tenant, tenant) == 0 &&
                    strcmp(st->qcache[i]->queue, queue) == 0) {
                        *slot = i;
                        return st->qcache[i];
                }
        return NULL;
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

/* Remembers q as the row's content, locked or not by this transaction.
 * Without memory or room it is simply not remembered: the next call reads. */
static void qcache_put(struct store *st, const struct queue_limits *q, bool locked)
{
        int i = st->n_qcache;
        struct queue_limits *c = qcache_find(st, q->tenant, q->queue, &i), tmp;

        if (qlim_copy(&tmp, q))
                return;
        if (!c && st->n_qcache < PG_QCACHE_MAX) {
                c = calloc(1, sizeof(*c));
                if (c)
                        st->qcache[st->n_qcache++] = c;
        } else if (c) {
                queue_limits_free(c);
        }
        if (c) {
                *c = tmp;
                st->qlocked[i] = locked;
        } else {
                queue_limits_free(&tmp);
        }
}

/* After qlim_put of q: the copy of its row, if any, takes q's settings and
 * sequence fields and is now locked (the upsert locked the row); its counters
 * stay, since a put does not write them. Without a copy nothing is known of
 * the counters, so none is made: the next qlim_get reads them. */
static void qcache_settle(struct store *st, const struct queue_limits *q)
{
        int i = 0;
        struct queue_limits *c = qcache_find(st, q->tenant, q->queue, &i);
        struct queue_limits tmp;

        if (!c)
                return;
        tmp = *q;
        tmp.tenant = c->tenant;
        tmp.queue = c->queue;
        tmp.depth = c->depth;
        tmp.running = c->running;
        tmp.grouped = c->grouped;
        *c = tmp;
        st->qlocked[i] = true;
}

/* ---- counts not written yet ----
 *
 * A batch of 100 settles on one queue would update its counter share 100
 * times, and every update leaves a row version that the sums of qlim_get and
 * the next updates must step over until vacuum. So counts are summed per
 * queue in memory, per operation (dropped if it rolls back) and per
 * transaction, and written once, just before COMMIT, to this connection's
 * share, which no other connection writes (pg.c takes it with an advisory
 * lock at connect): the write never waits. */

static struct pg_qdelta *qdelta_find(struct store *st, const char *tenant, const char *queue)
{
        for (int i = 0; i < st->n_qdelta; i++)
                if (strcmp(st->qdelta[i].tenant, tenant) == 0 &&
                    strcmp(st->qdelta[i].queue, queue) == 0)
                        return &st->qdelta[i];
        return NULL;
}

/* The entry of (tenant, queue), made when missing; NULL without memory. */
static struct pg_qdelta *qdelta_get(struct store *st, const char *tenant, const char *queue)
{
        struct pg_qdelta *d = qdelta_find(st, tenant, queue);

        if (d)
                return d;
        if (store_grow((void **)&st->qdelta, st->n_qdelta, &st->cap_qdelta, sizeof(*d)))
                return NULL;
        d = &st->qdelta[st->n_qdelta];
        *d = (struct pg_qdelta){strdup(tenant), strdup(queue), 0, 0, 0, 0};
        if (!d->tenant || !d->queue) {
                free(d->tenant);
                free(d->queue);
                return NULL;
        }
        st->n_qdelta++;
        return d;
}

void pg_qdelta_end_op(struct store *st, bool keep)
{
        for (int i = 0; i < st->n_qdelta; i++) {
                struct pg_qdelta *d = &st->qdelta[i];

                if (keep) {
                        d->depth += d->op_depth;
                        d->running += d->op_running;
                }
                d->op_depth = d->op_running = 0;
        }
}

void pg_qdelta_clear(struct store *st)
{
        for (int i = 0; i < st->n_qdelta; i++) {
                free(st->qdelta[i].tenant);
                free(st->qdelta[i].queue);
        }
        st->n_qdelta = 0;
}

int pg_qdelta_flush(struct store *st)
{
        int rc = 0;

        for (int i = 0; i < st->n_qdelta && !rc; i++) {
                struct pg_qdelta *d = &st->qdelta[i];

                /* An operation still open at commit is one that succeeded. */
                d->depth += d->op_depth;
                d->running += d->op_running;
                if (d->depth == 0 && d->running == 0)
                        continue;

                rc = pg_defer_write(st, &S_QLIM_ADD,
                                    PG_ARGS(SA(d->tenant), SA(d->queue), SA(st->shard),
                                            SA(d->depth), SA(d->running)));
        }
        pg_qdelta_clear(st);
        return rc;
}

int pg_qlim_add(struct store *st, const char *tenant, const char *queue, int64_t depth_delta,
                int64_t running_delta)
{
        int i = 0;
        struct queue_limits *c = qcache_find(st, tenant, queue, &i);
        struct pg_qdelta *d = qdelta_get(st, tenant, queue);

        if (!d)
                return BATON_ENOMEM;
        if (st->sp != PG_SP_NONE) {
                d->op_depth += depth_delta;
                d->op_running += running_delta;
        } else {
                d->depth += depth_delta;
                d->running += running_delta;
        }
        if (c) {
                c->depth += depth_delta;
                c->running += running_delta;
        }
        return 0;
}

/* With lock, the row is made and locked by two writes deferred ahead of the
 * read: one round trip, and the read's snapshot is taken after the lock is
 * granted, so its sums include the counts of whoever held the row before. */
int pg_qlim_get(struct store *st, const char *tenant, const char *queue, bool lock,
                struct queue_limits *out)
{
        struct pg_params p = {0};
        int i = 0;
        const struct queue_limits *c = qcache_find(st, tenant, queue, &i);
        const struct pg_qdelta *d;
        int rc = 0;

        if (c && (st->qlocked[i] || !lock))
                return qlim_copy(out, c);
        PG_ADD(&p, SA(tenant), SA(queue));
        if (lock)
                rc = pg_defer_write(st, &S_QLIM_MAKE, &p);
        if (!rc && lock)
                rc = pg_defer_write(st, &S_QLIM_LOCK, &p);
        if (!rc)
                rc = pg_get_one(st, &S_QLIM_GET, &p, &store_qlim_row, out);
        /* The database has not seen this transaction's counts yet. */
        d = rc ? NULL : qdelta_find(st, tenant, queue);
        if (d) {
                out->depth += d->depth + d->op_depth;
                out->running += d->running + d->op_running;
        }
        if (!rc)
                qcache_put(st, out, lock);
        return rc;
}

int pg_qlim_put(struct store *st, const struct queue_limits *q)
{
        int rc;

        if (!q->tenant || !q->queue)
                return BATON_EINVAL;
        rc = pg_defer_write(st, &S_QLIM_PUT, PG_ROW(&store_qlim_row, q));
        if (!rc)
                qcache_settle(st, q);
        return rc;
}

/* ---- groups ---- */

int pg_group_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                 bool lock, struct group_rec *out)
{
        return pg_get_one(st, lock ? &S_GROUP_GET_LOCK : &S_GROUP_GET,
                          PG_ARGS(SA(tenant), SA(queue), SA(grp)), &store_group_row, out);
}

int pg_group_put(struct store *st, const struct group_rec *g)
{
        if (!g->tenant || !g->queue || !g->grp)
                return BATON_EINVAL;
        return pg_defer_write(st, &S_GROUP_PUT, PG_ROW(&store_group_row, g));
}

/* The group's row and its rate window log, in one statement. */
int pg_group_delete(struct store *st, const char *tenant, const char *queue, const char *grp)
{
        return pg_defer_write(st, &S_GROUP_DELETE, PG_ARGS(SA(tenant), SA(queue), SA(grp)));
}

int pg_group_note_ready(struct store *st, const char *tenant, const char *queue, const char *grp,
                        int prio)
{
        return pg_defer_write(st, &S_GROUP_NOTE_READY,
                              PG_ARGS(SA(tenant), SA(queue), SA(grp), SA(prio)));
}

/* *out is a malloc'd array owned by the caller (group_recs_free). */
int pg_group_pick(struct store *st, const char *tenant, const char *queue, int max,
                  struct group_rec **out, int *n_out)
{
        *out = NULL;
        *n_out = 0;
        if (max < 1)
                return BATON_EINVAL;
        return pg_collect(st, &S_GROUP_PICK, PG_ARGS(SA(tenant), SA(queue), SA(max)),
                          &store_group_row, out, n_out);
}

int pg_group_unblock(struct store *st, const char *tenant, const char *queue, int64_t now_ms,
                     int64_t gc, bool all)
{
        struct pg_params p = {0};

        PG_ADD(&p, SA(tenant), SA(queue));
        if (!all)
                pg_p_i64(&p, now_ms);
        pg_p_i64(&p, gc);
        return pg_defer_write(st, all ? &S_GROUP_UNBLOCK_ALL : &S_GROUP_UNBLOCK, &p);
}

int pg_group_next_until(struct store *st, const char *tenant, const char *queue, int64_t *at_ms)
{
        return pg_int(st, &S_GROUP_NEXT_UNTIL, PG_ARGS(SA(tenant), SA(queue)), at_ms, NULL);
}

/* ---- rate window logs ---- */

int pg_rate_get(struct store *st, const char *tenant, const char *queue, const char *grp,
                int64_t seq, int64_t *at_ms)
{
        int n = 0;
        int rc;

        rc =
            pg_ids(st, &S_RATE_GET, PG_ARGS(SA(tenant), SA(queue), SA(grp), SA(seq)), 1, at_ms, &n);
        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

int pg_rate_clamp(struct store *st, const char *tenant, const char *queue, const char *grp,
                  int64_t now_ms)
{
        return pg_run(st, &S_RATE_CLAMP, PG_ARGS(SA(tenant), SA(queue), SA(grp), SA(now_ms)), NULL);
}

/* Records a start and trims the log, in one statement (S_RATE_PUT). */
int pg_rate_put(struct store *st, const char *tenant, const char *queue, const char *grp,
                int64_t seq, int64_t at_ms, int64_t keep_from)
{
        return pg_defer_write(
            st, &S_RATE_PUT,
            PG_ARGS(SA(tenant), SA(queue), SA(grp), SA(seq), SA(at_ms), SA(keep_from)));
}
