/*
 * api_cron.c: the /v1/cron routes: create or update, read, list, delete,
 * pause and resume schedules, preview an expression, run a schedule now, and
 * its run history.
 *
 * Workload: operator and deployment traffic, far from the hot path. Every
 * definition is validated on the loop thread (expression, zone, the server's
 * interval floor, the job template through the enqueue rules) before an op
 * reaches the store, so a refused one changes nothing. Writes and manual runs
 * write their audit row in their own transaction. Preview never touches the
 * store. Loop thread except the fn callbacks.
 *
 * PUT /v1/cron applies a whole registry document: every entry is checked as
 * PUT /v1/cron/{key} checks one (errors name "schedules[i].field") before a
 * single op creates, updates and, with "prune", deletes in one savepoint, so
 * the document applies entirely or not at all. batond --cron-file reuses the
 * same parser (api_cron_registry_parse) at start. GET /v1/scheduler reports
 * the next-deadline timer's heartbeat and counts the caller's schedules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "core/cron.h"
#include "core/leader.h"
#include "server/api_internal.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/sched.h"

enum cron_op_kind {
        C_PUT,
        C_GET,
        C_LIST,
        C_DELETE,
        C_PAUSE,
        C_RESUME,
        C_RUN,
        C_RUNS,
        C_APPLY,
        C_SCHED
};

struct cron_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct cron_spec spec;
        char *note;
        char *run_payload; /* C_RUN: the payload members given (JSON object text) */
        bool force;
        bool created;
        const char *after;
        int64_t before;
        int limit;
        struct cron_info info;
        struct cron_info *infos;
        int infos_n;
        bool cut; /* the list read stopped at the byte budget */
        struct cron_run_info run;
        struct cron_run_info *runs;
        int runs_n;
        struct cron_registry reg;  /* C_APPLY */
        struct cron_apply_res res; /* C_APPLY */
        int64_t n_sched, n_due;    /* C_SCHED: the tenant's schedules, those due now */
        int64_t next_due_ms;       /* C_SCHED: the earliest due_at of the tenant's schedules */
        struct leader_rec leader;  /* C_SCHED: the leader lease as stored */
};

/* api_ctx_def.clear: what the context holds. */
static void ctx_clear(struct api_ctx *base)
{
        struct cron_ctx *c = container_of(base, struct cron_ctx, base);

        cron_spec_free(&c->spec);
        free(c->note);
        free(c->run_payload);
        cron_info_free(&c->info);
        cron_infos_free(c->infos, c->infos_n);
        cron_run_info_free(&c->run);
        cron_run_infos_free(c->runs, c->runs_n);
        cron_registry_free(&c->reg);
        cron_apply_res_free(&c->res);
}

/* The tenant's schedule counts and the lease, for GET /v1/cron/scheduler. */
static int sched_counts(struct txn *tx, struct cron_ctx *c)
{
        struct cron_counts cc;
        int rc;

        rc = cron_count(tx, c->base.hr->tenant, &cc);
        c->n_sched = cc.n;
        c->n_due = cc.due;
        c->next_due_ms = cc.next_due_ms;
        if (!rc)
                rc = leader_read(tx, &c->leader);
        return rc;
}

static int cron_fn(struct txn *tx, struct exec_op *op)
{
        struct cron_ctx *c = container_of(op, struct cron_ctx, base.op);
        const char *t = c->base.hr->tenant;
        struct cron_run_req rr;
        char detail[160];
        int rc;

        switch (c->base.kind) {
        case C_PUT:
                rc = cron_put(tx, t, c->base.param, &c->spec, &c->created, &c->info);
                snprintf(detail, sizeof(detail), "{\"created\":%s}", c->created ? "true" : "false");
                if (!rc)
                        rc = api_audit_success(tx, c->base.hr, c->created ? 201 : 200,
                                               c->base.param, detail);
                return rc;
        case C_GET:
                return cron_read(tx, t, c->base.param, &c->info);
        case C_LIST:
                return cron_query_page(tx, t, c->after, c->limit + 1,
                                       api_page_budget_bytes(c->base.hr->srv->limits), &c->infos,
                                       &c->infos_n, &c->cut);
        case C_DELETE:
                rc = cron_delete(tx, t, c->base.param);
                return rc ? rc : api_audit_success(tx, c->base.hr, 200, c->base.param, NULL);
        case C_PAUSE:
        case C_RESUME:
                rc = cron_set_paused(tx, t, c->base.param, c->base.kind == C_PAUSE, c->note,
                                     &c->info);
                return rc ? rc : api_audit_success(tx, c->base.hr, 200, c->base.param, NULL);
        case C_RUN:
                memset(&rr, 0, sizeof(rr));
                rr.tenant = t;
                rr.key = c->base.param;
                rr.force = c->force;
                rr.payload = c->run_payload;
                rr.requested_by = c->base.hr->key_id;
                rr.request_id = c->base.hr->request_id;
                rr.max_per_hour = c->base.hr->srv->cfg->cron_run_max_per_hour;
                rc = cron_run_now(tx, &rr, &c->run);
                snprintf(detail, sizeof(detail), "{\"force\":%s,\"job_id\":%lld,\"payload\":%s}",
                         c->force ? "true" : "false", (long long)c->run.run.job_id,
                         c->run_payload ? "true" : "false");
                return rc ? rc : api_audit_success(tx, c->base.hr, 202, c->base.param, detail);
        case C_APPLY:
                rc = cron_apply(tx, t, &c->reg, &c->res);
                snprintf(detail, sizeof(detail),
                         "{\"created\":%d,\"updated\":%d,\"unchanged\":%d,\"deleted\":%d,"
                         "\"prune\":%s}",
                         c->res.created_n, c->res.updated_n, c->res.unchanged_n, c->res.deleted_n,
                         c->reg.prune ? "true" : "false");
                return rc ? rc : api_audit_success(tx, c->base.hr, 200, NULL, detail);
        case C_SCHED:
                return sched_counts(tx, c);
        default:
                return cron_runs_query(tx, t, c->base.param, c->before, c->limit + 1, &c->runs,
                                       &c->runs_n);
        }
}

static const char *run_status(const struct cron_run_info *ri)
{
        if (ri->has_job)
                return job_state_name(ri->job.state);
        return ri->run.status;
}

static void run_json(struct jw *w, const struct cron_run_info *ri)
{
        const struct cron_run *r = &ri->run;

        jw_obj_open(w);
        api_kid(w, "id", r->id);
        jw_kstr(w, "key", r->key);
        jw_ktime(w, "scheduled_at", r->scheduled_at_ms);
        jw_ktime(w, "fired_at", r->fired_at_ms);
        jw_kstr(w, "trigger", r->trigger);
        api_kid(w, "job_id", r->job_id);
        jw_kstr(w, "status", run_status(ri));
        jw_kstr(w, "reason", r->reason);
        jw_kstr(w, "requested_by", r->requested_by);
        jw_kraw(w, "payload", r->payload);
        jw_ktime(w, "started_at", ri->has_job ? ri->job.started_at_ms : 0);
        jw_ktime(w, "finished_at", ri->has_job ? ri->job.finished_at_ms : 0);
        if (ri->has_job && ri->job.started_at_ms && ri->job.finished_at_ms)
                jw_kint(w, "duration_ms", ri->job.finished_at_ms - ri->job.started_at_ms);
        else
                jw_kraw(w, "duration_ms", NULL);
        if (ri->has_job && ri->job.result && strlen(ri->job.result) > 256) {
                jw_key(w, "summary");
                jw_strn(w, ri->job.result, 256);
        } else {
                jw_kstr(w, "summary", ri->has_job ? ri->job.result : NULL);
        }
        jw_kstr(w, "error", ri->has_job ? ri->job.last_error : NULL);
        jw_obj_close(w);
}

static void sched_json(struct jw *w, const struct cron_info *ci)
{
        const struct cron_spec *s = &ci->spec;
        struct cron_run_info ri = {0};

        jw_obj_open(w);
        jw_kstr(w, "key", ci->rec.key);
        jw_kstr(w, "cron", s->cron);
        jw_kstr(w, "timezone", s->timezone);
        jw_kbool(w, "enabled", s->enabled);
        jw_kstr(w, "owner", s->owner);
        jw_kstr(w, "description", s->description);
        jw_key(w, "job");
        jw_obj_open(w);
        jw_kstr(w, "queue", s->job.queue);
        jw_kstr(w, "type", s->job.type);
        jw_kraw(w, "payload", s->job.payload);
        jw_kstr(w, "priority", s->job.priority >= 0 ? job_priority_name(s->job.priority) : NULL);
        jw_kint(w, "max_attempts", s->job.max_attempts);
        jw_kint(w, "lease_ms", s->job.lease_ms);
        if (s->job.timeout_ms > 0)
                jw_kint(w, "timeout_ms", s->job.timeout_ms);
        else
                jw_kraw(w, "timeout_ms", "null");
        jw_kstr(w, "group", s->job.group);
        api_backoff_json(w, &s->job.backoff);
        jw_obj_close(w);
        jw_kstr(w, "overlap", cron_overlap_name(s->overlap));
        jw_kstr(w, "misfire", cron_misfire_name(s->misfire));
        jw_kint(w, "catchup_window_ms", s->catchup_window_ms);
        jw_kint(w, "catchup_max", s->catchup_max);
        jw_kstr(w, "dst_gap", cron_gap_name(s->dst_gap));
        jw_kstr(w, "dst_fold", cron_fold_name(s->dst_fold));
        jw_kint(w, "history_max", s->history_max);
        jw_kbool(w, "paused", ci->rec.paused);
        jw_kstr(w, "pause_note", ci->rec.pause_note);
        jw_ktime(w, "next_fire_at", s->enabled && !ci->rec.paused ? ci->rec.next_fire_at_ms : 0);
        jw_kint(w, "version", ci->rec.version);
        jw_ktime(w, "created_at", ci->rec.created_at_ms);
        jw_ktime(w, "updated_at", ci->rec.updated_at_ms);
        jw_key(w, "last_run");
        if (ci->last_run.id) {
                ri.run = ci->last_run;
                ri.has_job = false;
                run_json(w, &ri);
        } else {
                jw_null(w);
        }
        jw_kstr(w, "last_status",
                ci->last_job_state >= 0 ? job_state_name(ci->last_job_state)
                : ci->last_run.id       ? ci->last_run.status
                                        : NULL);
        jw_obj_close(w);
}

static void keys_json(struct jw *w, const char *name, char **v, int n)
{
        jw_key(w, name);
        jw_arr_open(w);
        for (int i = 0; i < n; i++)
                jw_str(w, v[i]);
        jw_arr_close(w);
}

/* GET /v1/scheduler: leadership and the heartbeat (sched.h, the lease as
 * stored, read in this request's transaction so every node answers alike)
 * and the caller's schedules. */
static void scheduler_json(struct jw *w, const struct cron_ctx *c)
{
        struct server *srv = c->base.hr->srv;
        const struct leader_rec *l = &c->leader;
        int64_t now_ms = clock_wall_ms(srv->clock);
        bool live = l->epoch > 0 && l->lease_until_ms > now_ms;
        struct sched_status st;
        uint64_t totals[3];

        sched_status(srv->sched, &st);
        jw_kstr(w, "node", srv->node_id);
        jw_kstr(w, "role", sched_role_name(st.role));
        /* The holder of a live lease; null while nobody leads (a leader died
         * and no node has taken over yet). */
        jw_kstr(w, "leader", live ? l->node : NULL);
        jw_kint(w, "epoch", l->epoch);
        jw_ktime(w, "lease_until", l->lease_until_ms);
        jw_ktime(w, "heartbeat_at", l->heartbeat_at_ms);
        jw_kint(w, "heartbeat_age_ms",
                l->heartbeat_at_ms && now_ms > l->heartbeat_at_ms ? now_ms - l->heartbeat_at_ms
                                                                  : 0);
        jw_kint(w, "lag_ms", l->lag_ms);
        jw_ktime(w, "last_tick_at", st.last_tick_ms);
        jw_kint(w, "tick_lag_ms", st.last_lag_ms);
        /* The duty timer's instant is the earliest deadline of every tenant:
         * only the operator (the root admin) sees it. */
        jw_ktime(w, "next_deadline_at", auth_is_root(c->base.hr) ? st.armed_ms : 0);
        jw_ktime(w, "next_due_at", c->next_due_ms);
        jw_kbool(w, "tick_running", st.busy);
        jw_kint(w, "fenced", st.fenced);
        /* Notifications from other nodes (cluster.h): "listening", or
         * "reconnecting" while the listener is down; "none" on a store one
         * process owns. */
        if (srv->cluster) {
                struct cluster_status cs;
                cluster_status(srv->cluster, &cs);
                jw_kstr(w, "notifications", cs.listening ? "listening" : "reconnecting");
        } else {
                jw_kstr(w, "notifications", "none");
        }
        jw_kint(w, "schedules", c->n_sched);
        jw_kint(w, "due", c->n_due);
        /* Ticks not fired since this process started, by reason. */
        metrics_cron_totals(srv->metrics, totals);
        jw_key(w, "skipped");
        jw_obj_open(w);
        jw_kint(w, "overlap", (int64_t)totals[1]);
        jw_kint(w, "misfire", (int64_t)totals[2]);
        jw_obj_close(w);
}

static void page_sched(struct jw *w, const void *arg, int i)
{
        const struct cron_info *infos = arg;

        sched_json(w, &infos[i]);
}

static void page_run(struct jw *w, const void *arg, int i)
{
        const struct cron_run_info *runs = arg;

        run_json(w, &runs[i]);
}

static void answer(struct jw *w, struct cron_ctx *c)
{
        const struct limits *l = c->base.hr->srv->limits;
        int last;

        jw_obj_open(w);
        switch (c->base.kind) {
        case C_APPLY:
                keys_json(w, "created", c->res.created, c->res.created_n);
                keys_json(w, "updated", c->res.updated, c->res.updated_n);
                keys_json(w, "unchanged", c->res.unchanged, c->res.unchanged_n);
                keys_json(w, "deleted", c->res.deleted, c->res.deleted_n);
                break;
        case C_SCHED:
                scheduler_json(w, c);
                break;
        case C_LIST:
                last = api_page_write(w, l, "schedules", c->infos_n, c->limit, c->cut, page_sched,
                                      c->infos);
                jw_kstr(w, "next", last >= 0 ? c->infos[last].rec.key : NULL);
                break;
        case C_DELETE:
                jw_kbool(w, "deleted", true);
                break;
        case C_RUN:
                jw_key(w, "run");
                run_json(w, &c->run);
                break;
        case C_RUNS:
                last = api_page_write(w, l, "runs", c->runs_n, c->limit, false, page_run, c->runs);
                api_kid(w, "next", last >= 0 ? c->runs[last].run.id : 0);
                break;
        default:
                jw_key(w, "schedule");
                sched_json(w, &c->info);
                if (c->base.kind == C_PUT)
                        jw_kbool(w, "created", c->created);
                break;
        }
        jw_obj_close(w);
}

static void cron_done(struct exec_op *op)
{
        struct cron_ctx *c = container_of(op, struct cron_ctx, base.op);
        struct server *srv = c->base.hr->srv;
        struct jw w;
        int status = 200;

        if (op->rc == BATON_ECONFLICT && c->base.kind == C_RUN) {
                http_reply_error_job(c->base.hr, 409, "already_running", NULL, c->run.going_job_id,
                                     "a run of %s is still going (job %lld); \"force\": true"
                                     " starts another",
                                     c->base.param, (long long)c->run.going_job_id);
        } else if (op->rc == BATON_ETOOBIG && c->base.kind == C_RUN) {
                http_reply_error(c->base.hr, 413, "payload_too_large", "payload",
                                 "the template's payload of %s merged with payload is over"
                                 " %zu bytes; nothing was run",
                                 c->base.param, srv->limits->payload_max_bytes);
        } else if (op->rc == BATON_EINVAL && c->base.kind == C_RUN && c->run_payload) {
                http_reply_error(c->base.hr, 400, "invalid_field", "payload",
                                 "the job template of %s has a payload that is not an object;"
                                 " payload members cannot be merged into it",
                                 c->base.param);
        } else if (op->rc == BATON_ERATE && c->base.kind == C_RUN) {
                http_set_header(c->base.hr, "Retry-After", "60");
                http_reply_error(c->base.hr, 429, "cron_run_cooldown", NULL,
                                 "%s was run by hand %lld times in the last hour", c->base.param,
                                 (long long)srv->cfg->cron_run_max_per_hour);
        } else if (op->rc == BATON_EBUSY && c->base.kind == C_RUN) {
                http_set_header(c->base.hr, "Retry-After", "1");
                http_reply_error(c->base.hr, 503, "queue_full", NULL,
                                 "the queue of %s is at its max_depth; nothing was run",
                                 c->base.param);
        } else if (op->rc == BATON_ECONFLICT && c->base.kind == C_PUT) {
                http_reply_error(c->base.hr, 409, "too_many_schedules", NULL,
                                 "a tenant may have at most %lld cron schedules"
                                 " (--max-cron-schedules); %s was not created",
                                 (long long)srv->limits->cron_schedules_max, c->base.param);
        } else if (op->rc == BATON_ECONFLICT && c->base.kind == C_APPLY) {
                http_reply_error(c->base.hr, 409, "too_many_schedules", NULL,
                                 "the registry would leave this tenant %lld cron schedules, over"
                                 " the cap of %lld (--max-cron-schedules); nothing was applied",
                                 (long long)c->res.total,
                                 (long long)srv->limits->cron_schedules_max);
        } else if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "cron schedule");
        } else {
                if (c->base.kind == C_PUT && c->created)
                        status = 201;
                if (c->base.kind == C_RUN)
                        status = 202;
                jw_init(&w, http_out(srv));
                answer(&w, c);
                api_reply_jw(c->base.hr, status, &w);
        }
        api_ctx_free(&c->base);
}

static const struct api_ctx_def cron_def = {
    sizeof(struct cron_ctx), cron_fn, cron_done, ctx_clear, "key", validate_key};

/* Checks the job template (obj's "job", fields named under prefix, "" or
 * "schedules[3]") with the enqueue rules and keeps the defaults they fill in. */
static int check_job(const struct server *srv, json_t *obj, const char *prefix, const char *tenant,
                     struct cron_spec *s, struct verr *e)
{
        struct enqueue_req req;
        json_t *job = json_object_get(obj, "job");
        char f[96];
        int rc;

        api_field(f, sizeof(f), prefix, "job");
        if (!json_is_object(job))
                return verr_set(e, BATON_EINVAL, job ? "invalid_field" : "missing_field", f,
                                "%s must be an object with queue and type", f);
        memset(&req, 0, sizeof(req));
        /* unique_while is about enqueues of a key; a cron run's overlap
         * policy is what keeps its runs apart. */
        if (json_object_get(job, "unique_while")) {
                api_field(f, sizeof(f), prefix, "job.unique_while");
                return verr_set(e, BATON_EINVAL, "unknown_field", f,
                                "%s does not apply to a cron job template (see overlap)", f);
        }
        rc = api_enqueue_parse(srv->limits, job, f, tenant, NULL, clock_wall_ms(srv->clock), &req,
                               e);
        if (!rc) {
                s->job.max_attempts = req.job.max_attempts;
                s->job.lease_ms = req.job.lease_ms;
                s->job.backoff = req.job.backoff;
        }
        api_enqueue_req_free(&req);
        return rc;
}

/* The members of a definition (docs/api.md, "PUT /v1/cron/{key}"); a
 * registry entry adds its key. */
#define CRON_SPEC_FIELDS                                                                           \
        "cron timezone enabled owner description overlap misfire catchup_window_ms catchup_max "   \
        "dst_gap dst_fold history_max job"

/* Refuses a member of the definition obj, or of its job template, that is
 * not one of known (or API_CRON_JOB_FIELDS): core reads only the members it
 * knows, so "tz" or "job.delay_ms" would be dropped without a word. */
static int spec_known(json_t *obj, const char *prefix, const char *known, struct verr *e)
{
        json_t *job = json_object_get(obj, "job");
        char f[96];
        int rc = api_known_fields(obj, prefix, known, e);

        api_field(f, sizeof(f), prefix, "job");
        if (!rc && json_is_object(job))
                rc = api_known_fields(job, f, API_CRON_JOB_FIELDS, e);
        return rc;
}

/* Validates one definition as PUT /v1/cron/{key} does; prefix names it in
 * errors ("" or "schedules[3]"). */
static int check_spec(const struct server *srv, json_t *obj, const char *prefix, const char *tenant,
                      const char *key, struct cron_spec *spec, struct verr *e)
{
        struct cron_sched cs;
        char f[128];
        int rc = cron_spec_from_json(obj, spec, e);

        if (!rc)
                rc = cron_spec_check_text(spec, e);
        if (rc && *prefix) {
                /* cron_spec_from_json names fields from the definition's root. */
                api_field(f, sizeof(f), prefix, e->field);
                snprintf(e->field, sizeof(e->field), "%s", f);
        }
        if (!rc)
                rc = check_job(srv, obj, prefix, tenant, spec, e);
        if (!rc) {
                rc = cron_sched_build(key, spec->cron, spec->timezone, spec->dst_gap,
                                      spec->dst_fold, srv->cfg->cron_min_interval_ms, &cs, NULL, e);
                if (rc && *prefix) {
                        api_field(f, sizeof(f), prefix, *e->field ? e->field : "cron");
                        snprintf(e->field, sizeof(e->field), "%s", f);
                }
        }
        if (!rc)
                cron_sched_free(&cs);
        return rc;
}

int api_cron_registry_parse(const struct server *srv, json_t *doc, const char *tenant,
                            struct cron_registry *out, struct verr *e)
{
        json_t *list, *item, *prune;
        const char *key = NULL;
        char prefix[64];
        size_t i;
        int rc = 0;

        memset(out, 0, sizeof(*out));
        if (!json_is_object(doc))
                return verr_set(e, BATON_EINVAL, "invalid_field", "",
                                "the registry must be a JSON object with a schedules array");
        rc = api_known_fields(doc, "", "schedules prune", e);
        if (rc)
                return rc;
        prune = json_object_get(doc, "prune");
        if (prune && !json_is_null(prune) && !json_is_boolean(prune))
                return verr_set(e, BATON_EINVAL, "invalid_field", "prune",
                                "prune must be a boolean");
        out->prune = json_is_true(prune);
        list = json_object_get(doc, "schedules");
        if (!list)
                return verr_set(e, BATON_EINVAL, "missing_field", "schedules",
                                "schedules is required (an array of schedules, each with a key)");
        if (!json_is_array(list))
                return verr_set(e, BATON_EINVAL, "invalid_field", "schedules",
                                "schedules must be an array");
        if (json_array_size(list) > 0 && !(out->v = calloc(json_array_size(list), sizeof(*out->v))))
                return verr_set(e, BATON_ENOMEM, "internal", "", "out of memory");
        json_array_foreach(list, i, item)
        {
                char f[96];
                snprintf(prefix, sizeof(prefix), "schedules[%zu]", i);
                api_field(f, sizeof(f), prefix, "key");
                if (!json_is_object(item)) {
                        rc = verr_set(e, BATON_EINVAL, "invalid_field", prefix,
                                      "%s must be an object", prefix);
                        break;
                }
                rc = spec_known(item, prefix, "key " CRON_SPEC_FIELDS, e);
                if (!rc)
                        rc = api_get_str(item, prefix, "key", true, &key, e);
                if (!rc)
                        rc = validate_key(srv->limits, f, key, e);
                for (int j = 0; !rc && j < out->n; j++)
                        if (strcmp(out->v[j].key, key) == 0)
                                rc = verr_set(e, BATON_EINVAL, "duplicate_key", f,
                                              "%s: %s is also schedules[%d]", f, key, j);
                if (rc)
                        break;
                out->n++;
                if (!(out->v[i].key = strdup(key))) {
                        rc = verr_set(e, BATON_ENOMEM, "internal", "", "out of memory");
                        break;
                }
                rc = check_spec(srv, item, prefix, tenant, key, &out->v[i].spec, e);
                if (rc)
                        break;
        }
        if (rc)
                cron_registry_free(out);
        return rc;
}

void api_cron_put(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_PUT, true);
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = spec_known(hr->body, "", CRON_SPEC_FIELDS, &e);
        if (!rc)
                rc = check_spec(hr->srv, hr->body, "", hr->tenant, c->base.param, &c->spec, &e);
        api_ctx_submit(&c->base, rc, &e);
}

/* PUT /v1/cron: the whole registry, validated here entry by entry, applied
 * in one op (one savepoint: all or nothing). */
void api_cron_apply(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_APPLY, false);
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = api_cron_registry_parse(hr->srv, hr->body, hr->tenant, &c->reg, &e);
        api_ctx_submit(&c->base, rc, &e);
}

void api_scheduler_get(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_SCHED, false);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}

void api_cron_list(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_LIST, false);
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = api_query_limit(hr, &c->limit, &e);
        c->after = http_query(hr, "after");
        api_ctx_submit(&c->base, rc, &e);
}

void api_cron_get(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_GET, true);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}

void api_cron_delete(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_DELETE, true);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}

void api_cron_pause(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_PAUSE, true);
        const char *note = NULL;
        struct verr e;
        int rc = 0;

        if (!c)
                return;
        /* The body is optional (NULL here): api_known_fields and api_get_str
         * read no member of NULL. */
        rc = api_known_fields(hr->body, "", "note", &e);
        if (!rc)
                rc = api_get_str(hr->body, "", "note", false, &note, &e);
        if (!rc)
                rc = cron_note_check(note, &e);
        if (!rc && note && !(c->note = strdup(note)))
                rc = verr_set(&e, BATON_ENOMEM, "internal", "", "out of memory");
        api_ctx_submit(&c->base, rc, &e);
}

void api_cron_resume(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_RESUME, true);
        struct verr e;

        /* The body is optional and takes no member. */
        if (c)
                api_ctx_submit(&c->base, api_known_fields(hr->body, "", "", &e), &e);
}

/* The payload members of a manual run: an object (null or absent: none),
 * within the payload limit. Merged into the template's payload in core. */
static int run_payload_parse(struct http_req *hr, struct cron_ctx *c, struct verr *e)
{
        json_t *v = json_object_get(hr->body, "payload");

        if (!v || json_is_null(v))
                return 0;
        if (!json_is_object(v))
                return verr_set(e, BATON_EINVAL, "invalid_field", "payload",
                                "payload must be an object whose members are merged into the"
                                " template's payload");
        return api_dump_max(v, hr->srv->limits->payload_max_bytes, "payload_too_large", "payload",
                            &c->run_payload, e);
}

void api_cron_run(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_RUN, true);
        struct verr e;
        int rc;

        if (!c)
                return;
        /* No body is no member (api_known_fields and api_get_bool take NULL). */
        rc = api_known_fields(hr->body, "", "force payload", &e);
        if (!rc)
                rc = api_get_bool(hr->body, "", "force", &c->force, &e);
        if (!rc && hr->body)
                rc = run_payload_parse(hr, c, &e);
        api_ctx_submit(&c->base, rc, &e);
}

void api_cron_runs(struct http_req *hr)
{
        struct cron_ctx *c = api_ctx_new(hr, &cron_def, C_RUNS, true);
        struct verr e;

        if (c)
                api_ctx_submit(&c->base, api_query_page(hr, &c->limit, &c->before, &e), &e);
}

/* The request of POST /v1/cron/preview. */
struct preview_req {
        const char *cron, *zone, *key;
        int64_t count, from_ms;
        int gap, fold;
};

/* One of the words of a DST policy member: its value, or -1. */
static int policy_word(const char *s, const char *const *words, const int *values, int n)
{
        for (int i = 0; i < n; i++)
                if (strcmp(s, words[i]) == 0)
                        return values[i];
        return -1;
}

static int preview_parse(struct http_req *hr, struct preview_req *p, struct verr *e)
{
        static const char *const gaps[] = {"shift", "skip"}, *const folds[] = {"first", "last",
                                                                               "both"};
        static const int gap_v[] = {TZ_GAP_SHIFT, TZ_GAP_SKIP},
                         fold_v[] = {TZ_FOLD_FIRST, TZ_FOLD_LAST, TZ_FOLD_BOTH};
        const char *from = NULL, *gap_s = NULL, *fold_s = NULL;
        bool present = false;
        int rc;

        rc = api_known_fields(hr->body, "", "cron timezone from dst_gap dst_fold key count", e);
        if (!rc)
                rc = api_get_str(hr->body, "", "cron", true, &p->cron, e);
        if (!rc)
                rc = api_get_str(hr->body, "", "timezone", false, &p->zone, e);
        if (!rc)
                rc = api_get_str(hr->body, "", "from", false, &from, e);
        if (!rc)
                rc = api_get_str(hr->body, "", "dst_gap", false, &gap_s, e);
        if (!rc)
                rc = api_get_str(hr->body, "", "dst_fold", false, &fold_s, e);
        if (!rc)
                rc = api_get_str(hr->body, "", "key", false, &p->key, e);
        if (!rc && p->key)
                rc = validate_key(hr->srv->limits, "key", p->key, e);
        if (!rc)
                rc = api_get_int(hr->body, "", "count", &present, &p->count, e);
        if (!rc && (p->count < 1 || p->count > CRON_PREVIEW_MAX))
                rc = verr_set(e, BATON_ERANGE, "out_of_range", "count",
                              "count must be between 1 and %d", CRON_PREVIEW_MAX);
        if (!rc && from && time_parse_ms(from, &p->from_ms) != 0)
                rc = verr_set(e, BATON_EINVAL, "invalid_field", "from",
                              "from must be an RFC 3339 instant");
        if (!rc && gap_s && (p->gap = policy_word(gap_s, gaps, gap_v, 2)) < 0)
                rc = verr_set(e, BATON_EINVAL, "invalid_field", "dst_gap",
                              "dst_gap must be shift or skip");
        if (!rc && fold_s && (p->fold = policy_word(fold_s, folds, fold_v, 3)) < 0)
                rc = verr_set(e, BATON_EINVAL, "invalid_field", "dst_fold",
                              "dst_fold must be first, last or both");
        return rc;
}

/* The answer of a valid expression: its description and next fires. */
static void preview_json(struct jw *w, const struct preview_req *p, const struct cron_sched *cs,
                         bool keyed, int64_t interval, int64_t floor_ms)
{
        char desc[512] = "";
        int64_t at = p->from_ms;

        jw_kraw(w, "error", NULL);
        cron_describe(&cs->expr, desc, sizeof(desc));
        jw_kstr(w, "description", desc);
        /* Whose H values the fires are: the key's, or an unnamed schedule's. */
        jw_kstr(w, "h_seed", keyed ? "key" : "none");
        jw_key(w, "fires");
        jw_arr_open(w);
        for (int64_t i = 0; i < p->count; i++) {
                if (cron_sched_next(cs, at, &at))
                        break;
                jw_time_ms(w, at);
        }
        jw_arr_close(w);
        if (interval == INT64_MAX)
                jw_kraw(w, "min_interval_ms", NULL);
        else
                jw_kint(w, "min_interval_ms", interval);
        jw_kint(w, "floor_ms", floor_ms);
        jw_kbool(w, "below_floor", floor_ms > 0 && interval < floor_ms);
}

/* POST /v1/cron/preview: answered on the loop thread; nothing is stored. */
void api_cron_preview(struct http_req *hr)
{
        struct preview_req p = {.count = 5,
                                .from_ms = clock_wall_ms(hr->srv->clock),
                                .gap = TZ_GAP_SHIFT,
                                .fold = TZ_FOLD_FIRST};
        int64_t floor_ms = hr->srv->cfg->cron_min_interval_ms, interval = 0;
        struct cron_sched cs;
        bool keyed = false, ok;
        struct verr e, bad;
        struct jw w;

        if (preview_parse(hr, &p, &e)) {
                http_reply_verr(hr, &e);
                return;
        }
        /* The floor is reported, not enforced: build without it. H is
         * hashed from key as saving it does. */
        ok = cron_preview_build(p.key, p.cron, p.zone ? p.zone : "UTC", p.gap, p.fold, &cs,
                                &interval, &keyed, &bad) == 0;
        jw_init(&w, http_out(hr->srv));
        jw_obj_open(&w);
        jw_kbool(&w, "valid", ok);
        if (ok) {
                preview_json(&w, &p, &cs, keyed, interval, floor_ms);
                cron_sched_free(&cs);
        } else {
                jw_key(&w, "error");
                jw_obj_open(&w);
                jw_kstr(&w, "code", bad.code);
                jw_kstr(&w, "message", bad.message);
                jw_kstr(&w, "field", bad.field);
                jw_obj_close(&w);
        }
        jw_obj_close(&w);
        api_reply_jw(hr, 200, &w);
}
