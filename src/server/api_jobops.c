/*
 * api_jobops.c: an operator's changes to one job and to a whole queue
 * (docs/api.md, "Operate on jobs and queues"): POST /v1/jobs/{id}/promote,
 * DELETE /v1/jobs/{id}?purge=true, PATCH /v1/jobs/{id}, POST
 * /v1/queues/{queue}/drain and DELETE /v1/queues/{queue}, over core's
 * job_ops.h.
 *
 * One context type serves them all; its kind selects the core call and the
 * answer. Workload: operator and dashboard traffic, far from the hot path; a
 * drain or a queue delete touches at most JOB_OPS_BATCH_MAX jobs per call.
 * The queue routes write their audit row in their own transaction. Loop
 * thread except the fn callbacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/errors.h"
#include "core/job_ops.h"
#include "server/api_internal.h"

enum jobop_kind { OP_PROMOTE, OP_PURGE, OP_EDIT, OP_DRAIN, OP_QDELETE };

struct jobop_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        int64_t id;
        struct job job;
        struct job_edit ed;
        /* Queue routes. */
        int count; /* cancelled (drain) or purged (delete) */
        bool more; /* drain: jobs remain that have not started */
        bool deleted;
        int64_t active; /* delete refused: jobs not ended */
};

/* api_ctx_def.clear: what the context holds. */
static void jobop_clear(struct api_ctx *base)
{
        struct jobop_ctx *c = container_of(base, struct jobop_ctx, base);

        job_free(&c->job);
        free(c->ed.payload);
}

/* The audit row of a queue change, in its transaction. */
static int queue_audit(struct txn *tx, const struct jobop_ctx *c)
{
        char detail[96];

        if (c->base.kind == OP_DRAIN)
                snprintf(detail, sizeof(detail), "{\"cancelled\":%d,\"more\":%s}", c->count,
                         c->more ? "true" : "false");
        else
                snprintf(detail, sizeof(detail), "{\"purged\":%d,\"deleted\":%s}", c->count,
                         c->deleted ? "true" : "false");
        return api_audit_success(tx, c->base.hr, 200, c->base.param, detail);
}

static int jobop_fn(struct txn *tx, struct exec_op *op)
{
        struct jobop_ctx *c = container_of(op, struct jobop_ctx, base.op);
        const char *tenant = c->base.hr->tenant;
        int rc;

        switch (c->base.kind) {
        case OP_PROMOTE:
                return jobs_promote_one(tx, tenant, c->id, &c->job);
        case OP_PURGE:
                return jobs_purge_one(tx, tenant, c->id, &c->job);
        case OP_EDIT:
                return job_edit_apply(tx, &c->ed, &c->job);
        case OP_DRAIN:
                rc = queue_drain(tx, tenant, c->base.param, &c->count, &c->more);
                break;
        default:
                rc = queue_remove(tx, tenant, c->base.param, &c->count, &c->active, &c->deleted);
                break;
        }
        return rc ? rc : queue_audit(tx, c);
}

/* 409 invalid_state naming the job's state and the states the action takes. */
static void reply_state(struct jobop_ctx *c)
{
        static const char *const needs[] = {
            [OP_PROMOTE] = "promote needs a scheduled or retrying job",
            [OP_PURGE] = "purge needs a completed, dead or cancelled job",
            [OP_EDIT] = "an edit needs a pending, scheduled, queued or retrying job",
        };

        http_reply_error(c->base.hr, 409, "invalid_state", "state", "job %lld is %s; %s",
                         (long long)c->id, job_state_name(c->job.state), needs[c->base.kind]);
}

static void reply_error(struct jobop_ctx *c, int rc)
{
        struct http_req *hr = c->base.hr;

        if (rc == BATON_ESTATE && c->base.kind == OP_QDELETE)
                http_reply_error(hr, 409, "queue_not_empty", "queue",
                                 "queue %s holds %lld jobs that have not ended; cancel them (baton"
                                 " queue drain) or let them finish first; nothing was changed",
                                 c->base.param, (long long)c->active);
        else if (rc == BATON_ESTATE)
                reply_state(c);
        else if (rc == BATON_EBUSY)
                http_reply_error(hr, 409, "invalid_state", "state",
                                 "job %lld is %s, but the jobs that depend on it are still being"
                                 " decided; try again in a moment",
                                 (long long)c->id, job_state_name(c->job.state));
        else if (rc == BATON_ECONFLICT)
                http_reply_error(hr, 409, "key_conflict", "key",
                                 "another pending job of this queue holds the job's key");
        else if (rc == BATON_ERANGE)
                http_reply_error(hr, 400, "delay_ms_out_of_range", "run_at",
                                 "run_at is further ahead than the delay limit");
        else
                api_reply_rc(hr, rc, c->base.kind >= OP_DRAIN ? "queue" : "job");
}

/* 200 with the answer of c's kind. */
static void reply_ok(struct jobop_ctx *c)
{
        struct jw w;

        jw_init(&w, http_out(c->base.hr->srv));
        jw_obj_open(&w);
        if (c->base.kind == OP_DRAIN) {
                jw_kint(&w, "cancelled", c->count);
                jw_kbool(&w, "more", c->more);
        } else if (c->base.kind == OP_QDELETE) {
                jw_kbool(&w, "deleted", c->deleted);
                jw_kint(&w, "purged", c->count);
        } else {
                jw_key(&w, "job");
                api_job_json(&w, &c->job, false);
                if (c->base.kind == OP_PURGE)
                        jw_kbool(&w, "purged", true);
        }
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, 200, &w);
}

static void jobop_done(struct exec_op *op)
{
        struct jobop_ctx *c = container_of(op, struct jobop_ctx, base.op);

        if (op->rc)
                reply_error(c, op->rc);
        else
                reply_ok(c);
        api_ctx_free(&c->base);
}

static const struct api_ctx_def job_def = {
    sizeof(struct jobop_ctx), jobop_fn, jobop_done, jobop_clear, NULL, NULL};
static const struct api_ctx_def queue_def = {
    sizeof(struct jobop_ctx), jobop_fn, jobop_done, jobop_clear, "queue", validate_name};

/* A context for a job route, with the path's id; NULL when answered. */
static struct jobop_ctx *job_ctx(struct http_req *hr, int kind)
{
        struct jobop_ctx *c;
        struct verr e;
        int64_t id;

        if (api_path_id(hr, 0, &id, &e)) {
                http_reply_verr(hr, &e);
                return NULL;
        }
        c = api_ctx_new(hr, &job_def, kind, false);
        if (c)
                c->id = id;
        return c;
}

/* The routes without a body: the path says it all. */
static void start_plain(struct http_req *hr, int kind)
{
        struct jobop_ctx *c =
            kind >= OP_DRAIN ? api_ctx_new(hr, &queue_def, kind, true) : job_ctx(hr, kind);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}

void api_jobs_promote(struct http_req *hr)
{
        start_plain(hr, OP_PROMOTE);
}

void api_jobs_purge(struct http_req *hr)
{
        start_plain(hr, OP_PURGE);
}

/* run_at: an RFC 3339 instant no further ahead than enqueue allows. */
static int edit_run_at(struct http_req *hr, json_t *v, struct job_edit *ed, struct verr *e)
{
        const struct limits *l = hr->srv->limits;
        int64_t ms = 0;

        if (!json_is_string(v) || time_parse_ms(json_string_value(v), &ms) != 0)
                return verr_set(e, BATON_EINVAL, "invalid_time", "run_at",
                                "run_at must be an RFC 3339 date-time string");
        if (ms - clock_wall_ms(hr->srv->clock) > l->delay_max_ms)
                return verr_set(e, BATON_ERANGE, "delay_ms_out_of_range", "run_at",
                                "run_at is more than %lld ms ahead", (long long)l->delay_max_ms);
        ed->set_run_at = true;
        ed->run_at_ms = ms;
        return 0;
}

/* {"priority", "run_at", "payload"}: at least one; null priority or run_at
 * leaves it as it is, while a null payload is the payload null. */
static int edit_parse(struct http_req *hr, struct job_edit *ed, struct verr *e)
{
        json_t *body = hr->body, *v;
        int rc;

        if (!json_is_object(body))
                return verr_set(e, BATON_EINVAL, "invalid_field", "",
                                "the body must be an object with priority, run_at or payload");
        rc = api_known_fields(body, "", "priority run_at payload", e);
        if (rc)
                return rc;
        v = json_object_get(body, "priority");
        if (v && !json_is_null(v)) {
                ed->set_priority = true;
                if (!json_is_string(v) ||
                    (ed->priority = job_priority_parse(json_string_value(v))) < 0)
                        return verr_set(e, BATON_EINVAL, "invalid_field", "priority",
                                        "priority must be critical, high, normal or low");
        }
        v = json_object_get(body, "run_at");
        if (v && !json_is_null(v) && (rc = edit_run_at(hr, v, ed, e)) != 0)
                return rc;
        v = json_object_get(body, "payload");
        if (v && (rc = api_dump_max(v, hr->srv->limits->payload_max_bytes, "payload_too_large",
                                    "payload", &ed->payload, e)) != 0)
                return rc;
        if (!ed->set_priority && !ed->set_run_at && !ed->payload)
                return verr_set(e, BATON_EINVAL, "missing_field", "",
                                "give at least one of priority, run_at and payload to change");
        return 0;
}

void api_jobs_patch(struct http_req *hr)
{
        struct jobop_ctx *c = job_ctx(hr, OP_EDIT);
        struct verr e;

        if (!c)
                return;
        c->ed.tenant = hr->tenant;
        c->ed.id = c->id;
        api_ctx_submit(&c->base, edit_parse(hr, &c->ed, &e), &e);
}

void api_queues_drain(struct http_req *hr)
{
        start_plain(hr, OP_DRAIN);
}

void api_queues_delete(struct http_req *hr)
{
        start_plain(hr, OP_QDELETE);
}
