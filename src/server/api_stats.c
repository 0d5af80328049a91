/*
 * api_stats.c: GET /v1/stats, the stats series of one queue or of all the
 * tenant's queues (core/stats.h): per step, the jobs enqueued, started,
 * completed, retried, dead, cancelled and expired, and the largest depth and
 * running count the leader sampled. The dashboard's charts read it.
 *
 * Workload: dashboard refreshes, at most STATS_POINTS_MAX steps, each of
 * whole minutes. Assumptions: the window reaches no further back than the
 * series is kept (--stats-retention-ms), so every answer is bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/stats.h"
#include "core/validate.h"
#include "server/api_internal.h"

#define STATS_WINDOW_DEFAULT_MS 3600000LL
#define STATS_STEP_MAX_MS (24LL * 3600 * 1000)

struct stats_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        const char *queue;   /* owned by hr; NULL: every queue */
        int64_t window_ms;
        int64_t step_ms;
        int n;
        int64_t from_ms;
        struct stats_point *points;
};

static void stats_clear(struct api_ctx *base)
{
        struct stats_ctx *c = container_of(base, struct stats_ctx, base);

        free(c->points);
}

static int stats_fn(struct txn *tx, struct exec_op *op)
{
        struct stats_ctx *c = container_of(op, struct stats_ctx, base.op);

        /* The steps' array is the op's (freed with the context). */
        c->points = calloc((size_t)c->n, sizeof(*c->points));
        if (!c->points)
                return BATON_ENOMEM;
        return stats_query(tx, c->base.hr->tenant, c->queue, c->step_ms, c->n, c->points,
                           &c->from_ms);
}

/* A gauge: null for a step in which no minute was sampled. */
static void gauge(struct jw *w, const char *k, int64_t v)
{
        if (v == STATS_UNSAMPLED)
                jw_kraw(w, k, "null");
        else
                jw_kint(w, k, v);
}

static void point_json(struct jw *w, const struct stats_point *p, int64_t at_ms)
{
        jw_obj_open(w);
        jw_ktime(w, "at", at_ms);
        jw_kint(w, "enqueued", p->n[STATS_ENQUEUED]);
        jw_kint(w, "started", p->n[STATS_CLAIMED]);
        jw_kint(w, "completed", p->n[STATS_COMPLETED]);
        jw_kint(w, "failed", p->n[STATS_RETRIED] + p->n[STATS_DEAD]);
        jw_kint(w, "retried", p->n[STATS_RETRIED]);
        jw_kint(w, "dead", p->n[STATS_DEAD]);
        jw_kint(w, "cancelled", p->n[STATS_CANCELLED]);
        jw_kint(w, "expired", p->n[STATS_EXPIRED]);
        gauge(w, "depth", p->depth);
        gauge(w, "running", p->running);
        jw_obj_close(w);
}

static void stats_done(struct exec_op *op)
{
        struct stats_ctx *c = container_of(op, struct stats_ctx, base.op);
        struct jw w;

        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "queue");
                api_ctx_free(&c->base);
                return;
        }
        jw_init(&w, http_out(c->base.hr->srv));
        jw_obj_open(&w);
        jw_key(&w, "stats");
        jw_obj_open(&w);
        jw_kstr(&w, "queue", c->queue);
        jw_kint(&w, "window_ms", c->window_ms);
        jw_kint(&w, "step_ms", c->step_ms);
        jw_ktime(&w, "from", c->from_ms);
        jw_ktime(&w, "to", c->from_ms + c->step_ms * c->n);
        jw_kint(&w, "sample_ms", c->base.hr->srv->limits->stats_sample_ms);
        jw_key(&w, "points");
        jw_arr_open(&w);
        for (int i = 0; i < c->n; i++)
                point_json(&w, &c->points[i], c->from_ms + c->step_ms * i);
        jw_arr_close(&w);
        jw_obj_close(&w);
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, 200, &w);
        api_ctx_free(&c->base);
}

static const struct api_ctx_def stats_def = {
    sizeof(struct stats_ctx), stats_fn, stats_done, stats_clear, NULL, NULL};

/* step_ms: whole minutes, 1 minute to 1 day (default 1 minute); window_ms:
 * whole steps, at most STATS_POINTS_MAX of them and no further back than the
 * series is kept (default 1 hour, or one step if that is longer). */
static int parse(struct stats_ctx *c, struct verr *e)
{
        const struct limits *l = c->base.hr->srv->limits;
        const char *q = http_query(c->base.hr, "queue");
        int64_t step = STATS_MINUTE_MS, window = 0;
        int rc = 0;

        if (q && *q) {
                rc = validate_name(l, "queue", q, e);
                c->queue = q;
        }
        if (!rc)
                rc = api_query_int(c->base.hr, "step_ms", &step, e);
        if (!rc && (step < STATS_MINUTE_MS || step > STATS_STEP_MAX_MS || step % STATS_MINUTE_MS))
                rc = verr_set(e, BATON_ERANGE, "step_ms_out_of_range", "step_ms",
                              "step_ms must be a whole number of minutes (a multiple of 60000)"
                              " from 60000 to %lld",
                              STATS_STEP_MAX_MS);
        if (!rc)
                rc = api_query_int(c->base.hr, "window_ms", &window, e);
        if (!rc && !http_query(c->base.hr, "window_ms"))
                window = step > STATS_WINDOW_DEFAULT_MS ? step : STATS_WINDOW_DEFAULT_MS;
        if (!rc && (window < step || window % step || window / step > STATS_POINTS_MAX ||
                    window > l->stats_retention_ms))
                rc = verr_set(e, BATON_ERANGE, "window_ms_out_of_range", "window_ms",
                              "window_ms must be a whole number of steps (step_ms %lld), at most"
                              " %d of them and at most the stats retention (%lld ms)",
                              (long long)step, STATS_POINTS_MAX, (long long)l->stats_retention_ms);
        if (rc)
                return rc;
        c->step_ms = step;
        c->window_ms = window;
        c->n = (int)(window / step);
        return 0;
}

void api_stats_get(struct http_req *hr)
{
        struct stats_ctx *c = api_ctx_new(hr, &stats_def, 0, false);
        struct verr e;

        if (c)
                api_ctx_submit(&c->base, parse(c, &e), &e);
}
