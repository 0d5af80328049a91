/*
 * stats.c: the stats series (see stats.h). The counts come from the effects
 * every operation already notes for the metrics (txn_note_event), so no
 * state change pays for the series but its batch's one upsert per queue.
 *
 * Workload: stats_flush once per store-thread batch (a few to a few thousand
 * counts, usually one or two queues); stats_tick once per leader tick;
 * stats_query per dashboard refresh. Assumptions: enum txn_event and enum
 * stats_counter list the same counters in the same order (asserted below).
 */
#include "core/stats.h"

#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/errors.h"

#define STATS_SAME(ev, st) ((int)(ev) == (int)(st))
_Static_assert(STATS_SAME(EV_COUNT, STATS_COUNTERS), "a stats counter per counted event");
_Static_assert(STATS_SAME(EV_ENQUEUED, STATS_ENQUEUED) && STATS_SAME(EV_CLAIMED, STATS_CLAIMED) &&
                   STATS_SAME(EV_COMPLETED, STATS_COMPLETED) &&
                   STATS_SAME(EV_RETRIED, STATS_RETRIED) && STATS_SAME(EV_DEAD, STATS_DEAD) &&
                   STATS_SAME(EV_CANCELLED, STATS_CANCELLED) &&
                   STATS_SAME(EV_EXPIRED, STATS_EXPIRED),
               "enum txn_event and enum stats_counter in one order");

static int count_cmp(const void *a, const void *b)
{
        const struct txn_count *x = *(const struct txn_count *const *)a;
        const struct txn_count *y = *(const struct txn_count *const *)b;
        int c = strcmp(x->q.tenant, y->q.tenant);

        return c ? c : strcmp(x->q.queue, y->q.queue);
}

static const char *node_of(const struct txn *tx)
{
        return tx->origin ? tx->origin : "-";
}

/* The counts of v[0..n) sorted by queue, one write per queue. */
static int flush_sorted(struct txn *tx, struct txn_count **v, int n, int64_t minute_ms)
{
        int rc = 0;

        for (int i = 0, j; i < n && !rc; i = j) {
                int64_t sum[STATS_COUNTERS] = {0};

                for (j = i; j < n && count_cmp(&v[i], &v[j]) == 0; j++)
                        sum[v[j]->ev] += v[j]->n;
                rc = tx->ops->stats_add(tx->st, v[i]->q.tenant, v[i]->q.queue, node_of(tx),
                                        minute_ms, sum);
        }
        return rc;
}

/* The batch's counts are not consumed: the metrics read them after the
 * commit. Only a pointer array is made, sorted so that every transaction
 * writes its queues' rows in one order (no two nodes wait on each other's
 * rows in opposite orders). */
int stats_flush(struct txn *tx)
{
        const struct txn_effects *fx = &tx->fx;
        struct txn_count **v;
        int rc;

        if (fx->counts_n == 0)
                return 0;
        v = malloc((size_t)fx->counts_n * sizeof(*v));
        if (!v)
                return BATON_ENOMEM;
        for (int i = 0; i < fx->counts_n; i++) {
                BATON_ASSERT(fx->counts[i].ev >= 0 && fx->counts[i].ev < STATS_COUNTERS);
                v[i] = &fx->counts[i];
        }
        qsort(v, (size_t)fx->counts_n, sizeof(*v), count_cmp);
        rc = flush_sorted(tx, v, fx->counts_n, tx->now_ms - tx->now_ms % STATS_MINUTE_MS);
        free(v);
        return rc;
}

int stats_tick(struct txn *tx, int *purged)
{
        const struct limits *l = tx->limits;
        int64_t slot_ms = tx->now_ms - tx->now_ms % l->stats_sample_ms;
        int sampled = 0;
        int rc = 0;

        /* One sample per slot from this thread; a new leader samples at its
         * first tick (a second sample of a minute replaces the first). */
        if (slot_ms != tx->stats_slot_ms) {
                rc = tx->ops->stats_sample(tx->st, node_of(tx),
                                           tx->now_ms - tx->now_ms % STATS_MINUTE_MS, &sampled);
                if (!rc)
                        tx->stats_slot_ms = slot_ms;
        }
        *purged = 0;
        if (!rc)
                rc = tx->ops->stats_purge(tx->st, tx->now_ms - l->stats_retention_ms,
                                          l->purge_batch, purged);
        return rc;
}

int stats_query(struct txn *tx, const char *tenant, const char *queue, int64_t step_ms, int n,
                struct stats_point *out, int64_t *from_ms)
{
        int64_t last_ms;

        BATON_ASSERT(step_ms >= STATS_MINUTE_MS && step_ms % STATS_MINUTE_MS == 0);
        BATON_ASSERT_INT(n, >=, 1);
        BATON_ASSERT_INT(n, <=, STATS_POINTS_MAX);
        /* Steps are aligned to multiples of step_ms, so a refresh shows the
         * same steps with the last one grown. */
        last_ms = tx->now_ms - tx->now_ms % step_ms;
        *from_ms = last_ms - (int64_t)(n - 1) * step_ms;
        return tx->ops->stats_range(tx->st, tenant, queue, *from_ms, step_ms, n, out);
}
