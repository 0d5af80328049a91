/*
 * api_work.c: the worker routes: claim (with long-poll), heartbeat, complete,
 * fail and the batch settle of /v1/settle.
 *
 * A claim that finds nothing and may wait parks a queue waiter; the commit
 * that makes a job of the queue ready wakes it and the claim runs again, until
 * it gets jobs or its deadline passes. A claim never runs again for a client
 * that has gone, so no job is leased to nobody (one already in flight when the
 * client goes is answered into the void; its lease simply expires). A batch
 * settle submits one op per item so that each item has the exec's savepoint to
 * itself and succeeds or fails alone; the answer goes out when the last item's
 * op is done. Workload: claims and settles are the hot path of every worker,
 * so the contexts are single allocations per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/workers.h"
#include "server/api_internal.h"
#include "server/auth.h"
#include "server/waiters.h"

/* Answers a refused heartbeat or settle: the lease errors name the lease as
 * the field at fault (docs/api.md's example), the others are mapped as usual. */
static void work_reply_rc(struct http_req *hr, int rc)
{
        int status;
        const char *code;

        if (rc != BATON_ELEASE && rc != BATON_EEXPIRED && rc != BATON_ECONFLICT) {
                api_reply_rc(hr, rc, "job");
                return;
        }
        http_rc_status(rc, &status, &code);
        http_reply_error(hr, status, code, "lease", "%s", api_rc_message(rc));
}

/* ---- claim ---- */

struct claim_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct claim_req req;
        char *queue;
        char *worker;
        char *info; /* the worker's info as JSON text, or NULL (core/workers.h) */
        int64_t wait_ms;
        struct job_vec out;
        struct claim_budget budget; /* reset before each run of the claim */
        struct waiter w;
        int64_t deadline_ns;
        int64_t retry_at_ms; /* a full rate window rolls then (wall ms); 0 = none */
        bool closed;
        bool watching;
};

/* api_ctx_def.clear: what the context holds. */
static void claim_clear(struct api_ctx *base)
{
        struct claim_ctx *c = container_of(base, struct claim_ctx, base);

        job_vec_free(&c->out);
        free(c->queue);
        free(c->worker);
        free(c->info);
}

/* The lease period the worker's health is judged by (core/workers.h): the
 * longest lease the claim granted (its lease_ms when it got nothing; 0, the
 * registry keeping what it had, when it named none), and at least its
 * wait_ms, since a worker waiting in a long poll is not silent. */
static int64_t claim_period_ms(const struct claim_ctx *c, int64_t now_ms)
{
        int64_t p = c->req.lease_ms;

        for (int i = 0; i < c->out.n; i++)
                if (c->out.v[i].lease_until_ms - now_ms > p)
                        p = c->out.v[i].lease_until_ms - now_ms;
        return c->wait_ms > p ? c->wait_ms : p;
}

static int claim_fn(struct txn *tx, struct exec_op *op)
{
        struct claim_ctx *c = container_of(op, struct claim_ctx, base.op);
        int rc;

        /* A claim runs again after a wake-up; each run answers alone. */
        c->budget.used_bytes = 0;
        c->budget.full = false;
        rc = job_claim(tx, &c->req, &c->out);
        /* Every run is a sign of life, jobs or not (core/workers.h). */
        if (!rc)
                rc = worker_note_claim(tx, c->req.tenant, c->worker, c->info, c->queue,
                                       claim_period_ms(c, tx->now_ms));
        return rc;
}

static void claim_reply(struct claim_ctx *c)
{
        struct jw w;

        jw_init(&w, http_out(c->base.hr->srv));
        jw_obj_open(&w);
        jw_key(&w, "jobs");
        jw_arr_open(&w);
        for (int i = 0; i < c->out.n; i++)
                api_job_json(&w, &c->out.v[i], true);
        jw_arr_close(&w);
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, 200, &w);
        api_ctx_free(&c->base);
}

static void claim_on_close(struct http_req *hr, void *arg)
{
        struct claim_ctx *c = arg;

        (void)hr;
        c->closed = true;
        waiter_wake(&c->w, WAKE_CLOSED);
}

/* Parks an empty claim on its queue. Returns false when it should answer now.
 * A claim held back by a full rate window also wakes when the window rolls
 * (its timer is armed for that instant; claim_wake then claims again), and
 * one held back by a concurrency limit is woken by the settle that frees a
 * slot, like any other change of the queue. */
static bool claim_park(struct claim_ctx *c)
{
        struct server *srv = c->base.hr->srv;
        int64_t left = api_remaining_ms(srv, c->deadline_ns);

        if (c->closed || srv->stopping || left <= 0)
                return false;
        if (c->retry_at_ms > 0) {
                int64_t roll = c->retry_at_ms - clock_wall_ms(srv->clock);
                if (roll < 1)
                        roll = 1;
                if (roll < left)
                        left = roll;
        }
        if (waiter_park_queue(srv->waiters, &c->w, c->req.tenant, c->queue, left) != 0)
                return false;
        if (!c->watching) {
                c->watching = true;
                http_watch(c->base.hr, claim_on_close, c);
        }
        return true;
}

static void claim_done(struct exec_op *op)
{
        struct claim_ctx *c = container_of(op, struct claim_ctx, base.op);

        if (c->closed) {
                api_reply_closed(c->base.hr);
                api_ctx_free(&c->base);
                return;
        }
        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "queue");
                api_ctx_free(&c->base);
                return;
        }
        if (c->out.n == 0 && claim_park(c))
                return;
        claim_reply(c);
}

static void claim_wake(struct waiter *w, int why)
{
        struct claim_ctx *c = w->arg;

        /* libevent may not have noticed a close yet; the peek is exact, and a
         * claim must not lease jobs to a client that is gone. */
        if (why == WAKE_CLOSED || c->closed || http_client_gone(c->base.hr)) {
                api_reply_closed(c->base.hr);
                api_ctx_free(&c->base);
                return;
        }
        /* A timer armed for a rate window's roll, with time left: claim again. */
        if (why == WAKE_TIMEOUT && c->retry_at_ms > 0 && !c->base.hr->srv->stopping &&
            api_remaining_ms(c->base.hr->srv, c->deadline_ns) > 0)
                why = WAKE_CHANGED;
        /* Out of time or stopping: answer empty without claiming, so nothing is
         * leased by a request that is being wound up. */
        if (why != WAKE_CHANGED || c->base.hr->srv->stopping) {
                claim_reply(c);
                return;
        }
        /* The key may have been revoked (or has expired, or lost its secret
         * to a rotation) while the claim waited: it must not lease a job. */
        if (auth_recheck(c->base.hr) != 0) {
                api_ctx_free(&c->base);
                return;
        }
        api_ctx_submit(&c->base, 0, NULL);
}

static int claim_parse(struct http_req *hr, struct claim_ctx *c, int64_t *wait_ms, struct verr *e)
{
        const struct limits *l = hr->srv->limits;
        const char *worker;
        int64_t max = 1, lease_ms = 0;
        bool has_max, has_lease, has_wait;
        int rc;

        rc = validate_name(l, "queue", http_param(hr, 0), e);
        if (!rc)
                rc = api_known_fields(hr->body, "", API_CLAIM_FIELDS, e);
        if (!rc)
                rc = api_get_str(hr->body, "", "worker", true, &worker, e);
        if (!rc)
                rc = validate_key(l, "worker", worker, e);
        if (!rc)
                rc = api_get_int(hr->body, "", "max", &has_max, &max, e);
        if (!rc && (max < 1 || max > l->claim_max))
                rc = verr_set(e, BATON_ERANGE, "max_out_of_range", "max",
                              "max must be between 1 and %d", l->claim_max);
        if (!rc)
                rc = api_get_int(hr->body, "", "wait_ms", &has_wait, wait_ms, e);
        if (!rc)
                rc = validate_wait_ms(l, "wait_ms", *wait_ms, e);
        if (!rc)
                rc = api_get_int(hr->body, "", "lease_ms", &has_lease, &lease_ms, e);
        if (!rc && has_lease)
                rc = validate_lease_ms(l, "lease_ms", lease_ms, e);
        if (!rc)
                rc = api_worker_info_parse(json_object_get(hr->body, "info"), &c->info, e);
        if (rc)
                return rc;
        c->wait_ms = *wait_ms;
        c->queue = strdup(http_param(hr, 0));
        c->worker = strdup(worker);
        if (!c->queue || !c->worker)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        c->req = (struct claim_req){.tenant = hr->tenant,
                                    .queue = c->queue,
                                    .worker = c->worker,
                                    .max = (int)max,
                                    .lease_ms = lease_ms,
                                    .retry_at_ms = &c->retry_at_ms,
                                    .budget = &c->budget};
        /* The answer's envelope ({"jobs": [...]}) is counted once here. */
        c->budget.max_bytes = api_page_budget_bytes(hr->srv->limits);
        return 0;
}

static const struct api_ctx_def claim_def = {
    sizeof(struct claim_ctx), claim_fn, claim_done, claim_clear, NULL, NULL};

void api_work_claim(struct http_req *hr)
{
        struct claim_ctx *c = api_ctx_new(hr, &claim_def, 0, false);
        int64_t wait_ms = 0;
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = claim_parse(hr, c, &wait_ms, &e);
        c->deadline_ns = clock_mono_ns(hr->srv->clock) + wait_ms * 1000000;
        c->w.wake = claim_wake;
        c->w.arg = c;
        api_ctx_submit(&c->base, rc, &e);
}

/* ---- heartbeat ---- */

struct heartbeat_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct heartbeat_req req;
        char *lease;
        char *progress;
        char *step;
        struct job job;
};

/* api_ctx_def.clear: what the context holds. */
static void heartbeat_clear(struct api_ctx *base)
{
        struct heartbeat_ctx *c = container_of(base, struct heartbeat_ctx, base);

        job_free(&c->job);
        free(c->lease);
        free(c->progress);
        free(c->step);
}

static int heartbeat_fn(struct txn *tx, struct exec_op *op)
{
        struct heartbeat_ctx *c = container_of(op, struct heartbeat_ctx, base.op);
        int rc = job_heartbeat(tx, &c->req, &c->job);

        /* The lease it just granted is the worker's lease period. */
        if (!rc)
                rc = worker_note_job(tx, &c->job, SETTLED_NONE, c->job.lease_until_ms - tx->now_ms);
        return rc;
}

/* The end of a heartbeat's or a settle's op: the refusal (work_reply_rc), or
 * 200 with the object whose members members writes from c; frees c. */
static void work_done(struct api_ctx *c, int rc, void (*members)(struct jw *w, const void *c))
{
        struct jw w;

        if (rc) {
                work_reply_rc(c->hr, rc);
        } else {
                jw_init(&w, http_out(c->hr->srv));
                jw_obj_open(&w);
                members(&w, c);
                jw_obj_close(&w);
                api_reply_jw(c->hr, 200, &w);
        }
        api_ctx_free(c);
}

static void heartbeat_members(struct jw *w, const void *arg)
{
        const struct heartbeat_ctx *c = arg;

        jw_ktime(w, "lease_until", c->job.lease_until_ms);
        jw_kbool(w, "cancel_requested", c->job.cancel_requested);
}

static void heartbeat_done(struct exec_op *op)
{
        struct heartbeat_ctx *c = container_of(op, struct heartbeat_ctx, base.op);

        work_done(&c->base, op->rc, heartbeat_members);
}

/* progress given as a number n (0..100) stands for the object {"percent": n}:
 * *out is that object (the caller decrefs it). */
static int progress_number(json_t *p, json_t **out, struct verr *e)
{
        double v = json_number_value(p);

        if (!(v >= 0 && v <= 100))
                return verr_set(e, BATON_EINVAL, "invalid_field", "progress",
                                "progress as a number is a percent from 0 to 100; %g is not", v);
        *out = json_object();
        if (!*out || json_object_set(*out, "percent", p))
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        return 0;
}

/* progress: an object of at most progress_max_bytes; percent 0..100, step and
 * message strings. The step is passed on separately for the step log. */
static int progress_parse(const struct limits *l, json_t *p, struct heartbeat_ctx *c,
                          struct verr *e)
{
        json_t *pct;
        const char *step, *msg;
        int rc;

        if (!p || json_is_null(p))
                return 0;
        if (!json_is_object(p))
                return verr_set(e, BATON_EINVAL, "invalid_field", "progress",
                                "progress must be an object or a number from 0 to 100");
        rc = api_dump_max(p, l->progress_max_bytes, "progress_too_large", "progress", &c->progress,
                          e);
        if (rc)
                return rc;
        pct = json_object_get(p, "percent");
        if (pct && !json_is_null(pct) &&
            (!json_is_number(pct) || json_number_value(pct) < 0 || json_number_value(pct) > 100))
                return verr_set(e, BATON_EINVAL, "invalid_field", "progress.percent",
                                "progress.percent must be a number from 0 to 100");
        rc = api_get_str(p, "progress", "step", false, &step, e);
        if (!rc)
                rc = api_get_str(p, "progress", "message", false, &msg, e);
        if (!rc && step && !(c->step = strdup(step)))
                rc = verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        return rc;
}

static int heartbeat_parse(struct http_req *hr, struct heartbeat_ctx *c, struct verr *e)
{
        const struct limits *l = hr->srv->limits;
        json_t *progress = json_object_get(hr->body, "progress"), *wrapped = NULL;
        const char *lease;
        int64_t extend_ms = 0;
        bool has_extend;
        int rc;

        rc = api_path_id(hr, 0, &c->req.id, e);
        if (!rc)
                rc = api_known_fields(hr->body, "", API_HEARTBEAT_FIELDS, e);
        if (!rc)
                rc = api_get_str(hr->body, "", "lease", true, &lease, e);
        if (!rc)
                rc = api_get_int(hr->body, "", "extend_ms", &has_extend, &extend_ms, e);
        if (!rc && has_extend)
                rc = validate_lease_ms(l, "extend_ms", extend_ms, e);
        if (!rc && json_is_number(progress))
                rc = progress_number(progress, &wrapped, e);
        if (!rc)
                rc = progress_parse(l, wrapped ? wrapped : progress, c, e);
        json_decref(wrapped);
        if (rc)
                return rc;
        c->lease = strdup(lease);
        if (!c->lease)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        c->req.tenant = hr->tenant;
        c->req.lease = c->lease;
        c->req.extend_ms = extend_ms;
        c->req.progress = c->progress;
        c->req.step = c->step;
        return 0;
}

static const struct api_ctx_def heartbeat_def = {
    sizeof(struct heartbeat_ctx), heartbeat_fn, heartbeat_done, heartbeat_clear, NULL, NULL};

void api_work_heartbeat(struct http_req *hr)
{
        struct heartbeat_ctx *c = api_ctx_new(hr, &heartbeat_def, 0, false);
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = heartbeat_parse(hr, c, &e);
        c->base.op.job_id = c->req.id; /* read ahead with its batch (exec.h) */
        c->base.op.tenant = c->req.tenant;
        api_ctx_submit(&c->base, rc, &e);
}

/* ---- complete and fail ---- */

struct settle_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct api_settle s;
        struct settle_res res;
};

/* api_ctx_def.clear: what the context holds. */
static void settle_ctx_clear(struct api_ctx *base)
{
        struct settle_ctx *c = container_of(base, struct settle_ctx, base);

        api_settle_free(&c->s);
        job_free(&c->res.job);
}

static int settle_fn(struct txn *tx, struct exec_op *op)
{
        struct settle_ctx *c = container_of(op, struct settle_ctx, base.op);
        int rc = job_settle(tx, &c->s.req, &c->res);

        /* A repeat was counted the first time; it is only a sign of life. */
        if (!rc)
                rc = worker_note_job(tx, &c->res.job,
                                     c->res.repeat ? SETTLED_NONE : c->s.req.outcome, 0);
        return rc;
}

static void settle_members(struct jw *w, const void *arg)
{
        const struct settle_ctx *c = arg;

        jw_key(w, "job");
        api_job_json(w, &c->res.job, false);
        if (c->res.repeat)
                jw_kbool(w, "repeat", true);
}

static void settle_done(struct exec_op *op)
{
        struct settle_ctx *c = container_of(op, struct settle_ctx, base.op);

        work_done(&c->base, op->rc, settle_members);
}

static const struct api_ctx_def settle_def = {sizeof(struct settle_ctx), settle_fn, settle_done,
                                              settle_ctx_clear,          NULL,      NULL};

static void settle_one(struct http_req *hr, int outcome)
{
        struct settle_ctx *c = api_ctx_new(hr, &settle_def, 0, false);
        struct verr e;
        int64_t id;
        int rc;

        if (!c)
                return;
        rc = api_path_id(hr, 0, &id, &e);
        if (!rc)
                rc = api_known_fields(
                    hr->body, "",
                    outcome == SETTLED_COMPLETE ? API_COMPLETE_FIELDS : API_FAIL_FIELDS, &e);
        if (!rc)
                rc = api_settle_parse(hr->srv->limits, hr->body, "", outcome, hr->tenant, id, &c->s,
                                      &e);
        c->base.op.job_id = c->s.req.id;
        c->base.op.tenant = c->s.req.tenant;
        api_ctx_submit(&c->base, rc, &e);
}

void api_work_complete(struct http_req *hr)
{
        settle_one(hr, SETTLED_COMPLETE);
}

void api_work_fail(struct http_req *hr)
{
        settle_one(hr, SETTLED_FAIL);
}

/* ---- batch settle ---- */

struct batch_ctx;

struct batch_item {
        struct exec_op op;
        struct batch_ctx *b;
        struct api_settle s;
        int rc;
};

struct batch_ctx {
        struct http_req *hr;
        int n;
        int pending; /* items whose op has not finished, plus one while submitting */
        struct batch_item *items;
};

static void batch_free(struct batch_ctx *b)
{
        for (int i = 0; b->items && i < b->n; i++)
                api_settle_free(&b->items[i].s);
        free(b->items);
        free(b);
}

static int batch_item_fn(struct txn *tx, struct exec_op *op)
{
        struct batch_item *it = container_of(op, struct batch_item, op);
        struct settle_res res;
        int rc = job_settle(tx, &it->s.req, &res);

        if (!rc) {
                rc =
                    worker_note_job(tx, &res.job, res.repeat ? SETTLED_NONE : it->s.req.outcome, 0);
                job_free(&res.job);
        }
        return rc;
}

static void batch_item_json(struct jw *w, const struct batch_item *it)
{
        const char *code;
        int status;

        jw_obj_open(w);
        api_kid(w, "id", it->s.req.id);
        jw_kbool(w, "ok", it->rc == 0);
        if (it->rc) {
                http_rc_status(it->rc, &status, &code);
                jw_key(w, "error");
                jw_obj_open(w);
                jw_kstr(w, "code", code);
                jw_kstr(w, "message",
                        it->rc == BATON_ENOTFOUND ? "job not found" : api_rc_message(it->rc));
                jw_obj_close(w);
        }
        jw_obj_close(w);
}

/* Drops one reference; the last one answers with every item's outcome. */
static void batch_release(struct batch_ctx *b)
{
        struct jw w;

        if (--b->pending > 0)
                return;
        jw_init(&w, http_out(b->hr->srv));
        jw_obj_open(&w);
        jw_key(&w, "items");
        jw_arr_open(&w);
        for (int i = 0; i < b->n; i++)
                batch_item_json(&w, &b->items[i]);
        jw_arr_close(&w);
        jw_obj_close(&w);
        api_reply_jw(b->hr, 200, &w);
        batch_free(b);
}

static void batch_item_done(struct exec_op *op)
{
        struct batch_item *it = container_of(op, struct batch_item, op);

        it->rc = op->rc;
        batch_release(it->b);
}

static int batch_parse_item(struct http_req *hr, json_t *obj, int i, struct batch_item *it,
                            struct verr *e)
{
        char prefix[32], f[64];
        const char *outcome_s;
        json_t *id_v;
        int64_t id;
        int outcome;
        int rc;

        snprintf(prefix, sizeof(prefix), "items[%d]", i);
        if (!json_is_object(obj))
                return verr_set(e, BATON_EINVAL, "invalid_field", prefix, "%s must be an object",
                                prefix);
        api_field(f, sizeof(f), prefix, "id");
        id_v = json_object_get(obj, "id");
        if (!id_v || json_is_null(id_v))
                return verr_set(e, BATON_EINVAL, "missing_field", f, "%s is required", f);
        rc = api_body_id(id_v, f, &id, e);
        if (!rc)
                rc = api_get_str(obj, prefix, "outcome", true, &outcome_s, e);
        if (rc)
                return rc;
        if (strcmp(outcome_s, "complete") == 0) {
                outcome = SETTLED_COMPLETE;
        } else if (strcmp(outcome_s, "fail") == 0) {
                outcome = SETTLED_FAIL;
        } else {
                api_field(f, sizeof(f), prefix, "outcome");
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "%s is \"%s\"; it must be complete or fail", f, outcome_s);
        }
        /* An item takes the members of its outcome's call, besides id and
         * outcome: a result on a fail item would otherwise be dropped. */
        rc = api_known_fields(obj, prefix,
                              outcome == SETTLED_COMPLETE ? "id outcome " API_COMPLETE_FIELDS
                                                          : "id outcome " API_FAIL_FIELDS,
                              e);
        if (rc)
                return rc;
        return api_settle_parse(hr->srv->limits, obj, prefix, outcome, hr->tenant, id, &it->s, e);
}

static int batch_parse(struct http_req *hr, struct batch_ctx *b, struct verr *e)
{
        json_t *items = json_object_get(hr->body, "items");
        int batch_max = hr->srv->limits->batch_max;
        int rc = api_known_fields(hr->body, "", "items", e);

        if (rc)
                return rc;
        if (!items || json_is_null(items))
                return verr_set(e, BATON_EINVAL, "missing_field", "items", "items is required");
        if (!json_is_array(items) || json_array_size(items) == 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", "items",
                                "items must be a non-empty array");
        if (json_array_size(items) > (size_t)batch_max)
                return verr_set(e, BATON_ETOOBIG, "batch_too_large", "items",
                                "items holds %zu entries; the limit is %d", json_array_size(items),
                                batch_max);
        b->n = (int)json_array_size(items);
        b->items = calloc((size_t)b->n, sizeof(*b->items));
        if (!b->items)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        for (int i = 0; i < b->n; i++) {
                rc = batch_parse_item(hr, json_array_get(items, (size_t)i), i, &b->items[i], e);
                if (rc)
                        return rc;
        }
        return 0;
}

void api_work_settle(struct http_req *hr)
{
        struct batch_ctx *b = calloc(1, sizeof(*b));
        struct verr e;

        if (!b) {
                http_reply_rc(hr, BATON_ENOMEM, NULL);
                return;
        }
        if (batch_parse(hr, b, &e)) {
                http_reply_verr(hr, &e);
                batch_free(b);
                return;
        }
        b->hr = hr;
        /* The extra reference keeps the batch alive until every item is
         * submitted, whatever order the done callbacks run in. */
        b->pending = b->n + 1;
        for (int i = 0; i < b->n; i++) {
                struct batch_item *it = &b->items[i];
                it->b = b;
                it->op.fn = batch_item_fn;
                it->op.job_id = it->s.req.id; /* the items are read in one call */
                it->op.tenant = it->s.req.tenant;
                it->op.done = batch_item_done;
                if (server_submit(hr->srv, &it->op) != 0) {
                        it->rc = BATON_ESHUTDOWN;
                        b->pending--;
                }
        }
        batch_release(b);
}
