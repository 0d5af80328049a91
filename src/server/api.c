/*
 * api.c: the route table of batond (every path of docs/api.md, in step with
 * docs/openapi.json, each with the scope it needs and its audit action) and the small helpers all
 * handlers share: submitting an op with the shutdown answer, answering with a built JSON text, and
 * the time left before a long-poll deadline.
 *
 * Workload: every request passes through here once to be answered. Loop
 * thread only. Assumes http.c matches routes in table order and hands each
 * handler a request it has already checked for size and JSON syntax.
 */

#include <stdlib.h>

#include "common/errors.h"
#include "core/keys.h"
#include "server/api_internal.h"

#define W SCOPE_JOBS_WRITE
#define R SCOPE_JOBS_READ
#define K SCOPE_WORK
#define A SCOPE_ADMIN
#define KEY HTTP_AUTH_KEY

const struct http_route api_routes[] = {
    {HTTP_POST, "/v1/jobs", "jobs_enqueue", api_jobs_enqueue, HTTP_BODY_REQUIRED, KEY, W, NULL,
     NULL},
    {HTTP_GET, "/v1/jobs", "jobs_list", api_jobs_list, HTTP_BODY_NONE, KEY, R, NULL,
     "queue state type group key idempotency_key request_id execution_id worker created_after "
     "created_before finished_after finished_before order limit after"},
    {HTTP_POST, "/v1/jobs/bulk", "jobs_bulk", api_jobs_bulk, HTTP_BODY_REQUIRED, KEY, W,
     "jobs.bulk", NULL},
    {HTTP_GET, "/v1/jobs/{id}", "jobs_get", api_jobs_get, HTTP_BODY_NONE, KEY, R, NULL, "wait_ms"},
    {HTTP_DELETE, "/v1/jobs/{id}", "jobs_cancel", api_jobs_cancel, HTTP_BODY_NONE, KEY, W, NULL,
     "purge"},
    {HTTP_PATCH, "/v1/jobs/{id}", "jobs_patch", api_jobs_patch, HTTP_BODY_REQUIRED, KEY, W, NULL,
     NULL},
    {HTTP_POST, "/v1/jobs/{id}/promote", "jobs_promote", api_jobs_promote, HTTP_BODY_NONE, KEY, W,
     NULL, NULL},
    {HTTP_POST, "/v1/jobs/{id}/retry", "jobs_retry", api_jobs_retry, HTTP_BODY_NONE, KEY, W, NULL,
     NULL},
    {HTTP_POST, "/v1/queues/{queue}/claim", "queues_claim", api_work_claim, HTTP_BODY_REQUIRED, KEY,
     K, NULL, NULL},
    {HTTP_POST, "/v1/jobs/{id}/heartbeat", "jobs_heartbeat", api_work_heartbeat, HTTP_BODY_REQUIRED,
     KEY, K, NULL, NULL},
    {HTTP_POST, "/v1/jobs/{id}/complete", "jobs_complete", api_work_complete, HTTP_BODY_REQUIRED,
     KEY, K, NULL, NULL},
    {HTTP_POST, "/v1/jobs/{id}/fail", "jobs_fail", api_work_fail, HTTP_BODY_REQUIRED, KEY, K, NULL,
     NULL},
    {HTTP_POST, "/v1/settle", "settle", api_work_settle, HTTP_BODY_REQUIRED, KEY, K, NULL, NULL},
    {HTTP_GET, "/v1/workers", "workers_list", api_workers_list, HTTP_BODY_NONE, KEY, R, NULL,
     "limit after"},
    {HTTP_GET, "/v1/workers/{id}", "workers_get", api_workers_get, HTTP_BODY_NONE, KEY, R, NULL,
     NULL},
    {HTTP_GET, "/v1/stats", "stats_get", api_stats_get, HTTP_BODY_NONE, KEY, R, NULL,
     "queue window_ms step_ms"},
    {HTTP_GET, "/v1/queues", "queues_list", api_queues_list, HTTP_BODY_NONE, KEY, R, NULL,
     "limit after"},
    {HTTP_GET, "/v1/queues/{queue}", "queues_get", api_queues_get, HTTP_BODY_NONE, KEY, R, NULL,
     NULL},
    {HTTP_PATCH, "/v1/queues/{queue}", "queues_patch", api_queues_patch, HTTP_BODY_REQUIRED, KEY, A,
     "queue.update", NULL},
    {HTTP_DELETE, "/v1/queues/{queue}", "queues_delete", api_queues_delete, HTTP_BODY_NONE, KEY, A,
     "queue.delete", NULL},
    {HTTP_POST, "/v1/queues/{queue}/drain", "queues_drain", api_queues_drain, HTTP_BODY_NONE, KEY,
     A, "queue.drain", NULL},
    {HTTP_GET, "/v1/queues/{queue}/dead", "dead_list", api_queues_dead_list, HTTP_BODY_NONE, KEY, R,
     NULL, "limit after"},
    {HTTP_POST, "/v1/queues/{queue}/dead/replay", "dead_replay", api_queues_dead_replay,
     HTTP_BODY_REQUIRED, KEY, A, "dead.replay", NULL},
    {HTTP_DELETE, "/v1/queues/{queue}/dead", "dead_purge", api_queues_dead_purge, HTTP_BODY_NONE,
     KEY, A, "dead.purge", NULL},
    {HTTP_POST, "/v1/keys", "keys_create", api_keys_create, HTTP_BODY_REQUIRED, KEY, A,
     "keys.create", NULL},
    {HTTP_GET, "/v1/keys", "keys_list", api_keys_list, HTTP_BODY_NONE, KEY, A, NULL,
     "limit after tenant"},
    {HTTP_DELETE, "/v1/keys/{id}", "keys_revoke", api_keys_revoke, HTTP_BODY_NONE, KEY, A,
     "keys.revoke", NULL},
    {HTTP_POST, "/v1/keys/{id}/rotate", "keys_rotate", api_keys_rotate, HTTP_BODY_OPTIONAL, KEY, A,
     "keys.rotate", NULL},
    {HTTP_GET, "/v1/audit", "audit_list", api_audit_list, HTTP_BODY_NONE, KEY, A, NULL,
     "limit after tenant action key_id"},
    {HTTP_POST, "/v1/sessions", "sessions_create", api_sessions_create, HTTP_BODY_REQUIRED,
     HTTP_AUTH_OPEN, 0, "session.create", NULL},
    {HTTP_GET, "/v1/sessions/current", "sessions_current", api_sessions_current, HTTP_BODY_NONE,
     KEY, 0, NULL, NULL},
    {HTTP_DELETE, "/v1/sessions/current", "sessions_delete", api_sessions_delete, HTTP_BODY_NONE,
     KEY, 0, "session.delete", NULL},
    {HTTP_GET, "/healthz", "healthz", api_ops_healthz, HTTP_BODY_NONE, HTTP_AUTH_OPEN, 0, NULL,
     NULL},
    {HTTP_GET, "/readyz", "readyz", api_ops_readyz, HTTP_BODY_NONE, HTTP_AUTH_OPEN, 0, NULL, NULL},
    {HTTP_GET, "/metrics", "metrics", api_ops_metrics, HTTP_BODY_NONE, KEY, SCOPE_METRICS, NULL,
     NULL},
    {HTTP_POST, "/v1/cron/preview", "cron_preview", api_cron_preview, HTTP_BODY_REQUIRED, KEY,
     SCOPE_CRON_READ, NULL, NULL},
    {HTTP_GET, "/v1/cron", "cron_list", api_cron_list, HTTP_BODY_NONE, KEY, SCOPE_CRON_READ, NULL,
     "limit after"},
    {HTTP_PUT, "/v1/cron", "cron_apply", api_cron_apply, HTTP_BODY_REQUIRED, KEY, SCOPE_CRON_WRITE,
     "cron.apply", NULL},
    {HTTP_GET, "/v1/scheduler", "scheduler_get", api_scheduler_get, HTTP_BODY_NONE, KEY,
     SCOPE_CRON_READ, NULL, NULL},
    {HTTP_PUT, "/v1/cron/{key}", "cron_put", api_cron_put, HTTP_BODY_REQUIRED, KEY,
     SCOPE_CRON_WRITE, "cron.put", NULL},
    {HTTP_GET, "/v1/cron/{key}", "cron_get", api_cron_get, HTTP_BODY_NONE, KEY, SCOPE_CRON_READ,
     NULL, NULL},
    {HTTP_DELETE, "/v1/cron/{key}", "cron_delete", api_cron_delete, HTTP_BODY_NONE, KEY,
     SCOPE_CRON_WRITE, "cron.delete", NULL},
    {HTTP_POST, "/v1/cron/{key}/pause", "cron_pause", api_cron_pause, HTTP_BODY_OPTIONAL, KEY,
     SCOPE_CRON_WRITE, "cron.pause", NULL},
    {HTTP_POST, "/v1/cron/{key}/resume", "cron_resume", api_cron_resume, HTTP_BODY_OPTIONAL, KEY,
     SCOPE_CRON_WRITE, "cron.resume", NULL},
    {HTTP_POST, "/v1/cron/{key}/run", "cron_run", api_cron_run, HTTP_BODY_OPTIONAL, KEY,
     SCOPE_CRON_RUN, "cron.run", NULL},
    {HTTP_GET, "/v1/cron/{key}/runs", "cron_runs", api_cron_runs, HTTP_BODY_NONE, KEY,
     SCOPE_CRON_READ, NULL, "limit after"},
    {HTTP_POST, "/v1/flows", "flows_create", api_flows_create, HTTP_BODY_REQUIRED, KEY, W, NULL,
     NULL},
    {HTTP_GET, "/v1/flows/{id}", "flows_get", api_flows_get, HTTP_BODY_NONE, KEY, R, NULL, "after"},
    {HTTP_PUT, "/v1/timers/{key}", "timers_put", api_timers_put, HTTP_BODY_REQUIRED, KEY, W, NULL,
     NULL},
    {HTTP_GET, "/v1/timers", "timers_list", api_timers_list, HTTP_BODY_NONE, KEY, R, NULL,
     "prefix after limit"},
    {HTTP_GET, "/v1/timers/{key}", "timers_get", api_timers_get, HTTP_BODY_NONE, KEY, R, NULL,
     NULL},
    {HTTP_DELETE, "/v1/timers/{key}", "timers_cancel", api_timers_delete, HTTP_BODY_NONE, KEY, W,
     NULL, "if_version"},
    {HTTP_GET, "/v1/events", "events_list", api_events_list, HTTP_BODY_NONE, KEY, SCOPE_EVENTS_READ,
     NULL, "after type queue limit wait_ms"},
};

#undef W
#undef R
#undef K
#undef A
#undef KEY

const int api_routes_n = (int)(sizeof(api_routes) / sizeof(api_routes[0]));

int api_submit(struct http_req *hr, struct exec_op *op)
{
        int rc = server_submit(hr->srv, op);

        if (rc)
                http_reply_error(hr, 503, "shutting_down", NULL, "the server is shutting down");
        return rc;
}

void *api_ctx_new(struct http_req *hr, const struct api_ctx_def *def, int kind, bool with_param)
{
        const char *param = with_param ? http_param(hr, 0) : NULL;
        struct api_ctx *c;
        struct verr e;

        if (with_param && def->check(hr->srv->limits, def->param, param, &e)) {
                http_reply_verr(hr, &e);
                return NULL;
        }
        c = calloc(1, def->size);
        if (!c) {
                http_reply_rc(hr, BATON_ENOMEM, NULL);
                return NULL;
        }
        c->hr = hr;
        c->def = def;
        c->kind = kind;
        c->param = param;
        c->op.fn = def->fn;
        c->op.done = def->done;
        return c;
}

void api_ctx_submit(struct api_ctx *c, int rc, const struct verr *e)
{
        if (rc)
                http_reply_verr(c->hr, e);
        else if (api_submit(c->hr, &c->op) == 0)
                return;
        api_ctx_free(c);
}

void api_ctx_free(struct api_ctx *c)
{
        if (c && c->def->clear)
                c->def->clear(c);
        free(c);
}

void api_reply_jw(struct http_req *hr, int status, const struct jw *w)
{
        if (w->err) {
                http_reply_error(hr, 500, "internal", NULL, "the answer could not be built: %s",
                                 baton_strerror(w->err));
                return;
        }
        http_reply_json(hr, status, w->b);
}

const char *api_rc_message(int rc)
{
        /* baton_strerror says "conflict" for this one, which does not tell a
         * worker what happened to its attempt. */
        if (rc == BATON_ECONFLICT)
                return "the attempt holding this lease was already settled";
        if (rc == BATON_EEXPIRED)
                return "the lease expired before this call; the attempt has counted as failed";
        return baton_strerror(rc);
}

void api_reply_rc(struct http_req *hr, int rc, const char *what)
{
        int status;
        const char *code;

        if (rc == BATON_ENOTFOUND) {
                http_reply_rc(hr, rc, what);
                return;
        }
        /* Only a new queue beyond --max-queues answers it (core/jobs.h). */
        if (rc == BATON_ETOOMANY) {
                http_reply_error(hr, 409, "too_many_queues", "queue",
                                 "this would make a new queue, and the tenant has the %lld queues "
                                 "--max-queues allows; nothing was changed",
                                 (long long)hr->srv->limits->queues_max);
                return;
        }
        http_rc_status(rc, &status, &code);
        http_reply_error(hr, status, code, NULL, "%s", api_rc_message(rc));
}

void api_reply_state(struct http_req *hr, int64_t id, int state, const char *action, unsigned needs)
{
        char list[160];

        http_reply_error(hr, 409, "invalid_state", NULL, "job %lld is %s; %s needs %s",
                         (long long)id, job_state_name(state), action,
                         job_state_list(needs, list, sizeof(list)));
}

void api_reply_closed(struct http_req *hr)
{
        /* 499 is nginx's "client closed request": the answer is never written,
         * but the metrics and the log still show how the request ended. */
        http_reply_error(hr, 499, "client_closed", NULL, "the client went away");
}

int64_t api_remaining_ms(const struct server *srv, int64_t deadline_ns)
{
        int64_t left = deadline_ns - clock_mono_ns(srv->clock);

        if (left <= 0)
                return 0;
        return (left + 999999) / 1000000;
}
