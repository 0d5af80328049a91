/*
 * api_ops.c: the operations endpoints: /healthz (the process answers),
 * /readyz (the store answers a query through the exec, so a stuck store
 * thread shows as not ready) and /metrics (the counters of metrics.c plus the
 * depth of every queue, read from the store at scrape time).
 *
 * Workload: probes every few seconds and one scrape every 15-60 s; a scrape
 * reads every queue of every tenant known to the keyring (a tenant exists
 * once a key names it) in pages inside one op. The metrics are operator-level
 * (labelled by tenant), so the route is open on loopback only and otherwise
 * needs admin on tenant "default" (auth.c). /readyz also names this node and
 * its role (leader, follower, disconnected: sched.h); a follower is ready, it
 * serves every request but the leader's duties.
 */
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/ops.h"
#include "server/api_internal.h"
#include "server/keyring.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/sched.h"
#include "server/waiters.h"

/* Queues read per store call while gathering the metrics. */
#define OPS_QUEUE_PAGE 500

void api_ops_healthz(struct http_req *hr)
{
        static const char body[] = "{\"status\":\"ok\"}";

        http_reply_raw(hr, 200, "application/json", body, sizeof(body) - 1);
}

/* ---- readyz ---- */

struct ready_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
};

static int ready_fn(struct txn *tx, struct exec_op *op)
{
        (void)op;
        return ops_store_ready(tx);
}

static void ready_reply(struct http_req *hr, int status, const char *state)
{
        struct sched_status ss;
        struct jw w;

        sched_status(hr->srv->sched, &ss);
        jw_init(&w, http_out(hr->srv));
        jw_obj_open(&w);
        jw_kstr(&w, "status", state);
        jw_kstr(&w, "store", hr->srv->ops->name);
        jw_kstr(&w, "node", hr->srv->node_id);
        jw_kstr(&w, "role", sched_role_name(ss.role));
        jw_kstr(&w, "leader", ss.seen.epoch ? ss.seen.node : NULL);
        jw_kint(&w, "epoch", ss.seen.epoch);
        jw_obj_close(&w);
        api_reply_jw(hr, status, &w);
}

static void ready_done(struct exec_op *op)
{
        struct ready_ctx *c = container_of(op, struct ready_ctx, base.op);

        if (op->rc == BATON_ESHUTDOWN)
                ready_reply(c->base.hr, 503, "stopping");
        else if (op->rc)
                http_reply_error(c->base.hr, 503, "store_unavailable", NULL,
                                 "the store did not answer: %s", baton_strerror(op->rc));
        else
                ready_reply(c->base.hr, 200, "ready");
        free(c);
}

static const struct api_ctx_def ready_def = {
    sizeof(struct ready_ctx), ready_fn, ready_done, NULL, NULL, NULL};

void api_ops_readyz(struct http_req *hr)
{
        struct ready_ctx *c;

        if (hr->srv->stopping) {
                ready_reply(hr, 503, "stopping");
                return;
        }
        c = api_ctx_new(hr, &ready_def, 0, false);
        if (!c)
                return;
        if (server_submit(hr->srv, &c->base.op) != 0) {
                ready_reply(hr, 503, "stopping");
                free(c);
        }
}

/* ---- metrics ---- */

struct metrics_ctx {
        struct api_ctx base;  /* first (api_ctx_new) */
        const char **tenants; /* every tenant with a key (pointers into the keyring) */
        int tenants_n;
        struct queue_info *queues;
        int n;
        int cap;
        int max;         /* queues with gauges of their own (--metrics-max-queues) */
        int64_t omitted; /* queues beyond max: counted, not read */
};

/* api_ctx_def.clear: what the context holds. */
static void metrics_ctx_clear(struct api_ctx *base)
{
        struct metrics_ctx *c = container_of(base, struct metrics_ctx, base);

        for (int i = 0; i < c->n; i++)
                queue_info_free(&c->queues[i]);
        free(c->queues);
        free(c->tenants);
}

/* Moves a page of queues to the end of c->queues; the page array is freed. */
static int metrics_append(struct metrics_ctx *c, struct queue_info *page, int n)
{
        if (c->n + n > c->cap) {
                int cap = c->cap ? c->cap : OPS_QUEUE_PAGE;
                struct queue_info *v;
                while (cap < c->n + n)
                        cap *= 2;
                v = realloc(c->queues, (size_t)cap * sizeof(*v));
                if (!v) {
                        for (int i = 0; i < n; i++)
                                queue_info_free(&page[i]);
                        free(page);
                        return BATON_ENOMEM;
                }
                c->queues = v;
                c->cap = cap;
        }
        if (n > 0)
                memcpy(&c->queues[c->n], page, (size_t)n * sizeof(*page));
        c->n += n;
        free(page);
        return 0;
}

/* The queues of one tenant, in pages, while the scrape has room for them
 * (c->max in all); the rest are only counted (one row per tenant), so a
 * scrape reads at most c->max queues whatever the store holds. */
static int metrics_tenant(struct txn *tx, struct metrics_ctx *c, const char *tenant)
{
        const char *after = NULL;
        int64_t total = 0, read = 0;
        int rc = 0;

        while (c->n < c->max) {
                struct queue_info *page = NULL;
                int want = c->max - c->n < OPS_QUEUE_PAGE ? c->max - c->n : OPS_QUEUE_PAGE;
                int n = 0;
                rc = queue_query(tx, tenant, after, want, &page, &n);
                if (!rc)
                        rc = metrics_append(c, page, n);
                if (rc)
                        return rc;
                read += n;
                if (n < want)
                        return 0; /* every queue of the tenant was read */
                after = c->queues[c->n - 1].rec.name;
        }
        rc = ops_queue_total(tx, tenant, &total);
        if (!rc && total > read)
                c->omitted += total - read;
        return rc;
}

static int metrics_fn(struct txn *tx, struct exec_op *op)
{
        struct metrics_ctx *c = container_of(op, struct metrics_ctx, base.op);
        int rc = 0;

        for (int i = 0; !rc && i < c->tenants_n; i++)
                rc = metrics_tenant(tx, c, c->tenants[i]);
        return rc;
}

static void metrics_done(struct exec_op *op)
{
        struct metrics_ctx *c = container_of(op, struct metrics_ctx, base.op);
        struct server *srv = c->base.hr->srv;
        struct buf *out;

        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, NULL);
                api_ctx_free(&c->base);
                return;
        }
        out = http_out(srv);
        if (metrics_render(srv->metrics, c->queues, c->n, c->omitted, http_connections(srv->http),
                           waiters_count(srv->waiters), out) != 0)
                http_reply_error(c->base.hr, 500, "internal", NULL,
                                 "the metrics could not be rendered");
        else
                http_reply_raw(c->base.hr, 200, "text/plain; version=0.0.4",
                               out->ptr ? out->ptr : "", out->len);
        api_ctx_free(&c->base);
}

static const struct api_ctx_def metrics_def = {sizeof(struct metrics_ctx), metrics_fn, metrics_done,
                                               metrics_ctx_clear,          NULL,       NULL};

void api_ops_metrics(struct http_req *hr)
{
        struct metrics_ctx *c = api_ctx_new(hr, &metrics_def, 0, false);

        if (!c)
                return;
        c->max = hr->srv->limits->metrics_queues_max;
        if (keyring_tenants(hr->srv->keyring, &c->tenants, &c->tenants_n) != 0) {
                http_reply_rc(hr, BATON_ENOMEM, NULL);
                api_ctx_free(&c->base);
                return;
        }
        api_ctx_submit(&c->base, 0, NULL);
}
