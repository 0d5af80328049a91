/*
 * queues.c: queue records (queues.h): making a queue within the tenant's
 * cap, pausing and resuming it, and reading one or a page of them with
 * their job counts and settings. Workload: a queue is made by the first
 * enqueue, timer or schedule that names it (one indexed read on the hot
 * path, spared when the caller has just seen the queue), and read by the
 * queue API and the metrics scrape (a count per state per queue).
 */
#include "core/queues.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"

void queue_info_free(struct queue_info *q)
{
        queue_rec_free(&q->rec);
        queue_limits_free(&q->lim);
}

int queue_read(struct txn *tx, const char *tenant, const char *name, struct queue_info *out)
{
        int rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->queue_get(tx->st, tenant, name, &out->rec);
        if (!rc)
                rc = tx->ops->queue_counts(tx->st, tenant, name, &out->counts);
        if (!rc)
                rc = tx->ops->qlim_get(tx->st, tenant, name, false, &out->lim);
        if (rc)
                queue_info_free(out);
        return rc;
}

int queue_query(struct txn *tx, const char *tenant, const char *after, int limit,
                struct queue_info **out, int *n_out)
{
        struct queue_rec *recs = NULL;
        struct queue_info *infos = NULL;
        int n = 0;
        int rc;

        *out = NULL;
        *n_out = 0;
        rc = tx->ops->queue_list(tx->st, tenant, after, limit, &recs, &n);
        if (rc)
                return rc;
        infos = calloc((size_t)(n ? n : 1), sizeof(*infos));
        if (!infos)
                rc = BATON_ENOMEM;
        for (int i = 0; i < n; i++) {
                if (!rc)
                        rc = tx->ops->queue_counts(tx->st, tenant, recs[i].name, &infos[i].counts);
                if (!rc)
                        rc = tx->ops->qlim_get(tx->st, tenant, recs[i].name, false, &infos[i].lim);
                if (infos)
                        infos[i].rec = recs[i];
                else
                        queue_rec_free(&recs[i]);
        }
        free(recs);
        if (rc) {
                for (int i = 0; infos && i < n; i++)
                        queue_info_free(&infos[i]);
                free(infos);
                return rc;
        }
        *out = infos;
        *n_out = n;
        return 0;
}

int queue_make(struct txn *tx, const char *tenant, const char *name, bool known)
{
        struct queue_rec q = {0};
        int64_t n = 0;
        int rc = 0;

        if (!known) {
                rc = tx->ops->queue_get(tx->st, tenant, name, &q);
                known = rc == 0;
                rc = rc == BATON_ENOTFOUND ? 0 : rc;
                queue_rec_free(&q);
        }
        if (!rc)
                rc = tx->ops->queue_ensure(tx->st, tenant, name, tx->now_ms);
        if (!rc && !known)
                rc = tx->ops->queue_total(tx->st, tenant, &n);
        if (!rc && !known && n > tx->limits->queues_max)
                rc = BATON_ETOOMANY;
        return rc;
}

int queue_set_paused(struct txn *tx, const char *tenant, const char *name, bool paused,
                     struct queue_info *out)
{
        int rc;

        memset(out, 0, sizeof(*out));
        rc = queue_make(tx, tenant, name, false);
        if (!rc)
                rc = tx->ops->queue_get(tx->st, tenant, name, &out->rec);
        if (rc)
                goto out;
        out->rec.paused = paused;
        out->rec.updated_at_ms = tx->now_ms;
        rc = tx->ops->queue_put(tx->st, &out->rec);
        if (!rc && !paused)
                rc = txn_note_ready(tx, tenant, name); /* parked claims may now get work */
        if (!rc)
                rc = tx->ops->queue_counts(tx->st, tenant, name, &out->counts);
out:
        if (rc)
                queue_info_free(out);
        return rc;
}
