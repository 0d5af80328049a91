/*
 * leader.c: the leader's transactions (see leader.h). Runs on the store
 * thread inside a batch's transaction; each function is one step of that
 * transaction. Fencing is the store's: every duty starts with leader_check.
 */
#include "core/leader.h"

#include <stdio.h>
#include <string.h>

#include "common/errors.h"

int leader_take(struct txn *tx, const char *node, int64_t held_epoch, int64_t ttl_ms,
                int64_t lag_ms, struct leader_rec *out)
{
        return tx->ops->leader_acquire(tx->st, node, held_epoch, tx->now_ms, ttl_ms, lag_ms, out);
}

int leader_release(struct txn *tx, const char *node, int64_t epoch)
{
        char note[STORE_NODE_MAX + 32];
        const char *notes[1] = {note};
        int rc;

        rc = tx->ops->leader_release(tx->st, node, epoch);
        /* The followers learn that the lease is free (server/cluster.c "l"),
         * so one takes over now rather than at its next beat. */
        snprintf(note, sizeof(note), "l\t%s\t%lld", node, (long long)epoch);
        if (!rc && tx->ops->shared)
                rc = tx->ops->notify(tx->st, notes, 1);
        return rc;
}

int leader_read(struct txn *tx, struct leader_rec *out)
{
        return tx->ops->leader_get(tx->st, out);
}

int leader_duty(struct txn *tx, const char *node, int64_t epoch, struct leader_duty_res *out)
{
        struct cron_tick_res *cr = &out->cron;
        int rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->leader_check(tx->st, node, epoch);
        if (rc == BATON_ECONFLICT)
                out->fenced = true;
        if (!rc)
                rc = job_tick(tx, &out->jobs);
        /* Cron ticks share the duty's transaction and its next deadline. */
        if (!rc)
                rc = cron_tick(tx, cr);
        if (!rc && cr->next_ms && (!out->jobs.next_ms || cr->next_ms < out->jobs.next_ms))
                out->jobs.next_ms = cr->next_ms;
        if (cr->more)
                out->jobs.more = true;
        return rc;
}
