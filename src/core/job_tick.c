/*
 * job_tick.c: the leader's timed duties in one transaction (job_tick): fire
 * due timers, resume cascades left in the store's work list, promote due
 * jobs, expire run-out leases (and attempts past their timeout_ms, whose
 * lease ends at the timeout), purge what the retentions let go (the server's,
 * each queue's own, idempotency records, audit rows, forgotten workers, the
 * event log's oldest), and
 * find the next instant a duty is due.
 *
 * Workload: one call per leader tick; each kind of duty handles at most
 * TICK_BATCH rows and reports more when it had as many, so one tick never
 * holds the store thread long. The steps on one job are jobs.c's.
 */
#include "core/jobs.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/deps.h"
#include "core/stats.h"
#include "core/events.h"
#include "core/timers.h"

/* Rows handled per kind of duty in one tick; more is done in the next tick. */
#define TICK_BATCH 2000

/* Runs fn over the ids a store query returns; *n_out is how many there were. */
static int each_id(struct txn *tx, int (*query)(struct store *, int64_t, int, int64_t *, int *),
                   int (*fn)(struct txn *, int64_t), int *n_out)
{
        int64_t *ids = malloc(TICK_BATCH * sizeof(*ids));
        int n = 0;
        int rc;

        if (!ids)
                return BATON_ENOMEM;
        rc = query(tx->st, tx->now_ms, TICK_BATCH, ids, &n);
        /* One read for the tick's jobs instead of a round trip per job on a
         * backend with round trips: 10,000 delayed jobs due at one instant
         * were 10,000 of them in the leader's ticks. */
        if (!rc && n > 0 && tx->ops->job_get_many)
                rc = tx->ops->job_get_many(tx->st, NULL, ids, n, NULL);
        for (int i = 0; i < n && !rc; i++)
                rc = fn(tx, ids[i]);
        free(ids);
        *n_out = n;
        return rc;
}

static int purge(struct txn *tx, struct tick_res *out)
{
        const struct limits *l = tx->limits;
        int batch = l->purge_batch;
        int n[10] = {0};
        int rc;

        rc = tx->ops->job_purge(tx->st, JOB_COMPLETED, tx->now_ms - l->completed_ttl_ms, batch,
                                &n[0]);
        if (!rc)
                rc =
                    tx->ops->job_purge(tx->st, JOB_DEAD, tx->now_ms - l->dead_ttl_ms, batch, &n[1]);
        if (!rc)
                rc = tx->ops->job_purge(tx->st, JOB_CANCELLED, tx->now_ms - l->dead_ttl_ms, batch,
                                        &n[2]);
        if (!rc)
                rc = tx->ops->idem_purge(tx->st, tx->now_ms, batch, &n[3]);
        if (!rc)
                rc = tx->ops->audit_purge(tx->st, tx->now_ms - l->audit_retention_ms, batch, &n[4]);
        /* Queues with a retention of their own (never longer than the
         * server's, so the purges above never keep what these remove). */
        static const int ended[] = {JOB_COMPLETED, JOB_DEAD, JOB_CANCELLED};
        for (int s = 0; s < 3 && !rc; s++)
                rc = tx->ops->job_purge_own(tx->st, ended[s], tx->now_ms, batch, &n[5 + s]);
        if (!rc)
                rc = tx->ops->worker_purge(tx->st, tx->now_ms - l->worker_retention_ms, batch,
                                           &n[8]);
        /* The event log's bounds (at most once a second, events.h). */
        if (!rc)
                rc = events_purge(tx, batch, &n[9]);
        for (int i = 0; i < 10; i++) {
                out->purged += n[i];
                if (n[i] >= batch)
                        out->more = true;
        }
        return rc;
}

static int64_t earliest(int64_t a, int64_t b)
{
        if (!a)
                return b;
        if (!b)
                return a;
        return a < b ? a : b;
}

static int next_deadline(struct txn *tx, int64_t *next_ms)
{
        const struct limits *l = tx->limits;
        struct store_deadlines d = {0};
        int64_t t = 0, own_ms = 0;
        int rc = tx->ops->deadlines(tx->st, &d);

        if (rc)
                return rc;
        t = earliest(t, d.run_at_ms);
        t = earliest(t, d.lease_until_ms);
        if (d.completed_min_ms)
                t = earliest(t, d.completed_min_ms + l->completed_ttl_ms);
        if (d.dead_min_ms)
                t = earliest(t, d.dead_min_ms + l->dead_ttl_ms);
        t = earliest(t, d.idem_min_ms);
        /* A cascade left in the store's work list goes on at once. */
        if (d.dep_work)
                t = earliest(t, tx->now_ms);
        /* An audit row is purged once it is older than the retention (the
         * purge deletes at < now - retention, so one ms after). */
        if (d.audit_min_ms)
                t = earliest(t, d.audit_min_ms + l->audit_retention_ms + 1);
        /* A worker is forgotten likewise (core/workers.h). */
        if (d.worker_min_ms)
                t = earliest(t, d.worker_min_ms + l->worker_retention_ms + 1);
        /* The purge by a queue's own retention deletes at < now - retention
         * too: one ms after the instant the store gives. */
        rc = tx->ops->job_own_deadline(tx->st, &own_ms);
        if (own_ms)
                t = earliest(t, own_ms + 1);
        if (!rc)
                rc = events_deadline(tx, &own_ms);
        if (!rc && own_ms)
                t = earliest(t, own_ms);
        *next_ms = t;
        return rc;
}

int job_tick(struct txn *tx, struct tick_res *out)
{
        bool more_timers = false;
        bool more_deps = false;
        int stats_purged = 0;
        int rc;

        memset(out, 0, sizeof(*out));
        /* Timers first: their lateness is a measured figure (DESIGN §9). */
        rc = timer_fire_due(tx, TIMER_FIRE_BATCH, &out->timers_fired, &more_timers);
        /* Cascades left by earlier transactions, before the promotions and
         * expiries whose own cascades would otherwise take the budget. */
        if (!rc)
                rc = deps_cascade_resume(tx, jobs_resolve_child, &out->cascaded, &more_deps);
        if (!rc)
                rc = each_id(tx, tx->ops->job_due_ids, jobs_promote_due, &out->promoted);
        if (!rc)
                rc = each_id(tx, tx->ops->job_expired_ids, jobs_expire_due, &out->expired);
        if (!rc)
                rc = purge(tx, out);
        if (!rc)
                rc = next_deadline(tx, &out->next_ms);
        if (!rc)
                rc = timer_next_deadline(tx, &out->next_ms);
        if (!rc)
                rc = stats_tick(tx, &stats_purged);
        /* A purge that hit its batch goes on at once, as the others do (its
         * rows are not jobs' and not counted in purged). */
        if (stats_purged >= tx->limits->purge_batch)
                out->more = true;
        if (out->promoted >= TICK_BATCH || out->expired >= TICK_BATCH || more_timers || more_deps)
                out->more = true;
        return rc;
}
