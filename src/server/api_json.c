/*
 * api_json.c: the job and queue objects of docs/api.md, written with jw. The
 * JSON-valued columns (payload, result, progress, attempts, steps) are stored
 * as JSON text and embedded as they are, never parsed again, so rendering a
 * job costs one pass over its bytes.
 *
 * Workload: every answer that carries a job or a queue; a list page renders up
 * to list_max jobs. Assumes the stored JSON texts are valid (core and the
 * handlers write them from jansson's own output).
 */
#include <stdio.h>
#include <string.h>

#include "common/assert.h"

#include "core/deps.h"
#include "server/api_internal.h"

void api_backoff_json(struct jw *w, const struct backoff *b)
{
        jw_key(w, "backoff");
        jw_obj_open(w);
        jw_kstr(w, "type", backoff_type_name(b->type));
        jw_kint(w, "base_ms", b->base_ms);
        jw_kint(w, "max_ms", b->max_ms);
        jw_obj_close(w);
}

/* A stored JSON array, or [] when the job has none yet. */
static void array_json(struct jw *w, const char *k, const char *text)
{
        jw_kraw(w, k, text ? text : "[]");
}

static void job_head(struct jw *w, const struct job *j)
{

        api_kid(w, "id", j->id);
        jw_kstr(w, "queue", j->queue);
        jw_kstr(w, "type", j->type);
        jw_kraw(w, "payload", j->payload ? j->payload : "null");
        jw_kstr(w, "priority", job_priority_name(j->priority));
        jw_kstr(w, "state", job_state_name(j->state));
        jw_ktime(w, "run_at", j->run_at_ms);
        jw_kint(w, "attempt", j->attempt);
        jw_kint(w, "max_attempts", j->max_attempts);
        api_backoff_json(w, &j->backoff);
        jw_kint(w, "lease_ms", j->lease_ms);
        if (j->timeout_ms > 0)
                jw_kint(w, "timeout_ms", j->timeout_ms);
        else
                jw_kraw(w, "timeout_ms", "null");
        jw_kstr(w, "idempotency_key", j->idempotency_key);
        jw_kstr(w, "key", j->key);
        jw_kstr(w, "unique_while", j->unique_active ? "active" : "pending");
        jw_kstr(w, "group", j->group);
        jw_kint(w, "version", j->version);
        jw_kstr(w, "request_id", j->request_id);
        jw_kstr(w, "execution_id", j->execution_id);
        jw_kstr(w, "traceparent", j->traceparent);
}

static void job_tail(struct jw *w, const struct job *j)
{
        jw_ktime(w, "created_at", j->created_at_ms);
        jw_ktime(w, "started_at", j->started_at_ms);
        jw_ktime(w, "finished_at", j->finished_at_ms);
        jw_kraw(w, "result", j->result);
        jw_kstr(w, "last_error", j->last_error);
        jw_kraw(w, "progress", j->progress);
        array_json(w, "steps", j->steps);
        array_json(w, "attempts", j->attempts);
        jw_kstr(w, "worker", j->worker);
        jw_ktime(w, "lease_until", j->lease_until_ms);
        jw_kbool(w, "cancel_requested", j->cancel_requested);
        jw_kstr(w, "cancel_reason", j->cancel_reason);
        /* {"key", "version", "fire_at"} of the timer that enqueued it, or null. */
        jw_kraw(w, "timer", j->timer);
        /* {"key", "run"} of the cron run that enqueued it, or null. */
        jw_kraw(w, "cron", j->cron);
        /* Dependencies and flows (core/deps.h). */
        jw_kraw(w, "depends_on", j->depends_on ? j->depends_on : "[]");
        jw_kstr(w, "on_parent_failure", parent_policy_name(j->on_parent_failure));
        api_kid(w, "flow_id", j->flow_id);
        jw_kstr(w, "ref", j->ref);
        if (j->parents)
                jw_kraw(w, "parents", j->parents);
}

void api_job_members(struct jw *w, const struct job *j, bool with_lease)
{
        job_head(w, j);
        job_tail(w, j);
        if (with_lease)
                jw_kstr(w, "lease", j->lease);
}

void api_job_minimal_members(struct jw *w, const struct job *j)
{
        api_kid(w, "id", j->id);
        jw_kstr(w, "state", job_state_name(j->state));
        jw_kint(w, "version", j->version);
}

void api_job_json(struct jw *w, const struct job *j, bool with_lease)
{
        jw_obj_open(w);
        api_job_members(w, j, with_lease);
        jw_obj_close(w);
}

void api_queue_json(struct jw *w, const struct queue_info *q, int64_t now_ms)
{
        int64_t oldest = q->counts.oldest_ready_ms;
        int64_t age = oldest && now_ms > oldest ? now_ms - oldest : 0;

        jw_obj_open(w);
        jw_kstr(w, "name", q->rec.name);
        jw_kbool(w, "paused", q->rec.paused);
        jw_key(w, "counts");
        jw_obj_open(w);
        for (int s = 0; s < JOB_STATE_COUNT; s++)
                jw_kint(w, job_state_name(s), q->counts.by_state[s]);
        jw_obj_close(w);
        /* null when nothing is ready, so "no backlog" and "just arrived" differ. */
        if (oldest)
                jw_kint(w, "oldest_ready_age_ms", age);
        else
                jw_kraw(w, "oldest_ready_age_ms", "null");
        jw_ktime(w, "created_at", q->rec.created_at_ms);
        jw_ktime(w, "updated_at", q->rec.updated_at_ms);
        api_queue_settings_json(w, &q->lim);
        jw_obj_close(w);
}

/* A limit: its value, or null when the queue has none. */
static void limit_json(struct jw *w, const char *name, int64_t v)
{
        if (v > 0)
                jw_kint(w, name, v);
        else
                jw_kraw(w, name, "null");
}

static void rate_json(struct jw *w, const char *name, int64_t max, int64_t per_ms)
{
        if (max <= 0) {
                jw_kraw(w, name, "null");
                return;
        }
        jw_key(w, name);
        jw_obj_open(w);
        jw_kint(w, "max", max);
        jw_kint(w, "per_ms", per_ms);
        jw_obj_close(w);
}

void api_queue_settings_json(struct jw *w, const struct queue_limits *q)
{
        limit_json(w, "concurrency", q->concurrency);
        rate_json(w, "rate", q->rate_max, q->rate_per_ms);
        limit_json(w, "max_depth", q->max_depth);
        limit_json(w, "group_concurrency", q->group_concurrency);
        rate_json(w, "group_rate", q->group_rate_max, q->group_rate_per_ms);
        jw_key(w, "defaults");
        jw_obj_open(w);
        limit_json(w, "max_attempts", q->def_max_attempts);
        if (q->def_backoff_set)
                api_backoff_json(w, &q->def_backoff);
        else
                jw_kraw(w, "backoff", "null");
        limit_json(w, "lease_ms", q->def_lease_ms);
        limit_json(w, "timeout_ms", q->def_timeout_ms);
        jw_obj_close(w);
        /* The queue's own retention; null where the server's applies. */
        jw_key(w, "retention");
        jw_obj_open(w);
        limit_json(w, "completed_ms", q->ret_completed_ms);
        limit_json(w, "dead_ms", q->ret_dead_ms);
        limit_json(w, "cancelled_ms", q->ret_cancelled_ms);
        jw_obj_close(w);
        /* Whether its jobs write per-job events (GET /v1/events). */
        jw_kbool(w, "job_events", !q->job_events_off);
        /* The counters the limits are checked against. */
        jw_kint(w, "running", q->running);
        jw_kint(w, "depth", q->depth);
        jw_ktime(w, "settings_updated_at", q->updated_at_ms);
}

size_t api_page_budget_bytes(const struct limits *l)
{
        BATON_ASSERT(l->response_max_bytes > API_PAGE_TAIL_BYTES);
        return l->response_max_bytes - API_PAGE_TAIL_BYTES;
}

void api_page_init(struct api_page *p, struct jw *w, const struct limits *l)
{
        memset(p, 0, sizeof(*p));
        p->w = w;
        p->max_bytes = api_page_budget_bytes(l);
}

bool api_page_mark(struct api_page *p)
{
        if (p->full)
                return false;
        p->mark = *p->w;
        p->mark_len = p->w->b->len;
        return true;
}

bool api_page_keep(struct api_page *p)
{
        struct buf *b = p->w->b;

        if (p->n == 0 || (b->len <= p->max_bytes && !p->w->err)) {
                p->n++;
                return true;
        }
        /* Back to the mark: the item's bytes go, the buffer keeps its NUL. */
        *p->w = p->mark;
        b->len = p->mark_len;
        if (b->ptr)
                b->ptr[b->len] = '\0';
        p->full = true;
        return false;
}

int api_page_write(struct jw *w, const struct limits *l, const char *name, int rows, int limit,
                   bool cut, void (*item)(struct jw *w, const void *arg, int i), const void *arg)
{
        int n = rows > limit ? limit : rows;
        struct api_page p;

        api_page_init(&p, w, l);
        jw_key(w, name);
        jw_arr_open(w);
        for (int i = 0; i < n && api_page_mark(&p); i++) {
                item(w, arg, i);
                api_page_keep(&p);
        }
        jw_arr_close(w);
        return p.n > 0 && (p.full || rows > limit || cut) ? p.n - 1 : -1;
}

static void page_job(struct jw *w, const void *arg, int i)
{
        const struct job_vec *jv = arg;

        api_job_json(w, &jv->v[i], false);
}

void api_job_page_json(struct jw *w, const struct job_vec *jv, int limit, const struct limits *l)
{
        size_t est = 0;
        int last;

        /* The store stops reading a page once its rows' job_wire_bytes pass
         * the budget (job_filter.bytes_max); the rows it returned then add up
         * to more than the budget even when they all fit here, and another
         * page may follow. */
        for (int i = 0; i < jv->n && jv->n <= limit; i++)
                est += job_wire_bytes(&jv->v[i]);
        jw_obj_open(w);
        last = api_page_write(w, l, "jobs", jv->n, limit, est > api_page_budget_bytes(l), page_job,
                              jv);
        api_kid(w, "next", last >= 0 ? jv->v[last].id : 0);
        jw_obj_close(w);
}
