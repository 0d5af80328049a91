/*
 * api_timers.c: the /v1/timers routes (docs/api.md, "Timers"): PUT creates or
 * moves a timer (compare-and-set with if_version), GET reads one or lists a
 * tenant's timers by key prefix with a cursor, DELETE cancels one.
 *
 * Each handler validates everything on the loop thread, then submits one exec
 * op whose fn calls core/timers.c on the store thread and whose done answers
 * after the commit. The job template of a PUT (queue, type, payload, priority,
 * max_attempts, backoff, lease_ms, delay_ms) is parsed by the enqueue parser,
 * so a timer's job obeys exactly the rules and defaults of POST /v1/jobs.
 * Workload: a draft service moves one timer per pick (thousands per second at
 * most); each call allocates one context. Assumes http.c has matched the route
 * and decoded the {key} path parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/timers.h"
#include "server/api_internal.h"

/* Members of a PUT body that are the job template, handed to the enqueue
 * parser; the others it knows (run_at, key, idempotency_key...) do not apply
 * to timers and are refused. */
static const char *const template_fields[] = {"queue",    "type",         "payload",
                                              "priority", "max_attempts", "backoff",
                                              "lease_ms", "delay_ms",     "group"};
static const char *const refused_fields[] = {"run_at", "key", "idempotency_key", "on_key"};
/* Every member a PUT may hold: the template's, the fire time, the
 * compare-and-set, and the refused ones (which get their own message). */
#define TIMER_PUT_FIELDS                                                                           \
        "queue type payload priority max_attempts backoff lease_ms delay_ms group fire_at "        \
        "if_version if_scheduled run_at key idempotency_key on_key"

enum timer_op_kind { TIMER_OP_PUT, TIMER_OP_GET, TIMER_OP_DELETE, TIMER_OP_LIST };

struct timer_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        int64_t if_version;  /* DELETE: -1 = any */
        struct timer_put_req put;
        struct timer_res res;
        /* List. prefix and after point into hr's query. */
        const char *prefix;
        const char *after;
        int limit;
        struct timer_rec *list;
        int n;
        bool cut; /* the read stopped at the byte budget: more may follow */
};

/* api_ctx_def.clear: what the context holds. */
static void ctx_clear(struct api_ctx *base)
{
        struct timer_ctx *c = container_of(base, struct timer_ctx, base);

        timer_rec_free(&c->put.t);
        timer_rec_free(&c->res.t);
        timer_recs_free(c->list, c->n);
}

/* ---- rendering ---- */

static void timer_members(struct jw *w, const struct timer_rec *t)
{

        jw_kstr(w, "key", t->key);
        jw_kint(w, "version", t->version);
        jw_kstr(w, "state", timer_state_name(t->state));
        jw_ktime(w, "fire_at", t->fire_at_ms);
        jw_kstr(w, "queue", t->queue);
        jw_kstr(w, "type", t->type);
        jw_kraw(w, "payload", t->payload ? t->payload : "null");
        jw_kstr(w, "priority", job_priority_name(t->priority));
        jw_kint(w, "max_attempts", t->max_attempts);
        api_backoff_json(w, &t->backoff);
        jw_kint(w, "lease_ms", t->lease_ms);
        jw_kstr(w, "group", t->group);
        /* The job of the latest firing (of this or an earlier version). */
        api_kid(w, "job_id", t->job_id);
        jw_ktime(w, "fired_at", t->fired_at_ms);
        /* A scheduled version held back because its queue is full. */
        if (t->state == TIMER_SCHEDULED && t->deferred > 0) {
                jw_key(w, "deferred");
                jw_obj_open(w);
                jw_kstr(w, "reason", "queue_full");
                jw_kint(w, "count", t->deferred);
                jw_ktime(w, "retry_at", t->due_at_ms);
                jw_obj_close(w);
        } else {
                jw_key(w, "deferred");
                jw_null(w);
        }
        jw_kstr(w, "request_id", t->request_id);
        jw_ktime(w, "created_at", t->created_at_ms);
        jw_ktime(w, "updated_at", t->updated_at_ms);
}

static void reply_timer(struct timer_ctx *c, int status)
{
        struct jw w;

        /* One object answers under its kind (docs/api.md, "Answer shapes"). */
        jw_init(&w, http_out(c->base.hr->srv));
        jw_obj_open(&w);
        jw_key(&w, "timer");
        jw_obj_open(&w);
        timer_members(&w, &c->res.t);
        jw_obj_close(&w);
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, status, &w);
}

static void list_item(struct jw *w, const void *arg, int i)
{
        const struct timer_rec *list = arg;

        jw_obj_open(w);
        timer_members(w, &list[i]);
        jw_obj_close(w);
}

static void reply_list(struct timer_ctx *c)
{
        struct jw w;
        int last;

        jw_init(&w, http_out(c->base.hr->srv));
        jw_obj_open(&w);
        last = api_page_write(&w, c->base.hr->srv->limits, "timers", c->n, c->limit, c->cut,
                              list_item, c->list);
        /* The cursor is the last key of the page; one row more than asked,
         * or the byte budget cutting the page, tells that another follows. */
        jw_kstr(&w, "next", last >= 0 ? c->list[last].key : NULL);
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, 200, &w);
}

/* ---- the op ---- */

static int timer_fn(struct txn *tx, struct exec_op *op)
{
        struct timer_ctx *c = container_of(op, struct timer_ctx, base.op);
        const char *tenant = c->base.hr->tenant;

        switch (c->base.kind) {
        case TIMER_OP_PUT:
                return timer_put(tx, &c->put, &c->res);
        case TIMER_OP_DELETE:
                return timer_cancel(tx, tenant, c->base.param, c->if_version, &c->res);
        case TIMER_OP_LIST:
                /* One row more than asked tells whether another page follows. */
                return timer_query_page(tx, tenant, c->prefix, c->after, c->limit + 1,
                                        api_page_budget_bytes(c->base.hr->srv->limits), &c->list,
                                        &c->n, &c->cut);
        default:
                return timer_read(tx, tenant, c->base.param, &c->res.t);
        }
}

static void timer_done(struct exec_op *op)
{
        struct timer_ctx *c = container_of(op, struct timer_ctx, base.op);
        struct http_req *hr = c->base.hr;

        switch (op->rc) {
        case 0:
                if (c->base.kind == TIMER_OP_LIST)
                        reply_list(c);
                else
                        reply_timer(c, c->base.kind == TIMER_OP_PUT && c->res.created ? 201 : 200);
                break;
        case BATON_ECONFLICT:
                http_reply_error(hr, 409, "version_mismatch", "if_version",
                                 "the timer is at version %lld", (long long)c->res.current_version);
                break;
        case BATON_ESTATE:
                if (c->base.kind == TIMER_OP_PUT) {
                        http_reply_error(hr, 409, "invalid_state", "if_scheduled",
                                         "timer %s is %s (version %lld); if_scheduled needs its"
                                         " version scheduled",
                                         c->base.param, timer_state_name(c->res.current_state),
                                         (long long)c->res.current_version);
                        break;
                }
                /* timer_cancel leaves the version and state it found. */
                http_reply_error(hr, 409, "invalid_state", NULL,
                                 "timer %s is fired (version %lld); cancel needs scheduled or "
                                 "cancelled, and a PUT sets a new version",
                                 c->base.param, (long long)c->res.t.version);
                break;
        case BATON_ERANGE:
                http_reply_error(hr, 400, "delay_ms_out_of_range", "fire_at",
                                 "fire_at is more than %lld ms ahead (--delay-max-ms)",
                                 (long long)hr->srv->limits->delay_max_ms);
                break;
        default:
                api_reply_rc(hr, op->rc, "timer");
                break;
        }
        api_ctx_free(&c->base);
}

/* ---- PUT ---- */

/* fire_at or delay_ms (exactly one), checked against the loop's clock; core
 * checks the horizon again with the store thread's reading. */
static int parse_fire(const struct limits *l, json_t *body, int64_t now_ms, struct timer_put_req *p,
                      struct verr *e)
{
        json_t *delay = json_object_get(body, "delay_ms");
        bool has_delay = delay && !json_is_null(delay);
        const char *s;
        int64_t ms = 0;
        int rc = api_get_str(body, "", "fire_at", false, &s, e);

        if (rc)
                return rc;
        if (s && has_delay)
                return verr_set(e, BATON_EINVAL, "invalid_field", "fire_at",
                                "give fire_at or delay_ms, not both");
        if (!s && !has_delay)
                return verr_set(e, BATON_EINVAL, "missing_field", "fire_at",
                                "fire_at or delay_ms is required");
        if (!s)
                return 0; /* delay_ms was parsed and range-checked with the template */
        if (time_parse_ms(s, &ms) != 0)
                return verr_set(e, BATON_EINVAL, "invalid_time", "fire_at",
                                "fire_at is not an RFC 3339 date-time");
        rc = validate_run_at(l, "fire_at", ms, now_ms, e);
        /* 0 means "now + delay_ms" to core; an instant at or before the epoch
         * is in the past, which means now anyway. */
        p->t.fire_at_ms = ms > 0 ? ms : 1;
        return rc;
}

static int parse_if_version(json_t *body, struct timer_put_req *p, struct verr *e)
{
        int rc = api_get_int(body, "", "if_version", &p->has_if_version, &p->if_version, e);

        if (!rc && p->has_if_version && p->if_version < 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", "if_version",
                                "if_version must be 0 (create only) or a version >= 1");
        if (!rc)
                rc = api_get_bool(body, "", "if_scheduled", &p->if_scheduled, e);
        /* Creating only, the timer cannot be scheduled yet. */
        if (!rc && p->if_scheduled && p->has_if_version && p->if_version == 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", "if_scheduled",
                                "if_scheduled needs an existing timer; if_version 0 creates one");
        return rc;
}

/* The job template, through the enqueue parser on a copy of the template
 * members. Moves the parsed strings into p->t. */
static int parse_template(struct http_req *hr, int64_t now_ms, struct timer_put_req *p,
                          struct verr *e)
{
        struct enqueue_req req;
        json_t *tmpl = json_object();
        struct job *j = &req.job;
        int rc;

        memset(&req, 0, sizeof(req));
        if (!tmpl)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        for (size_t i = 0; i < sizeof(template_fields) / sizeof(template_fields[0]); i++) {
                json_t *v = json_object_get(hr->body, template_fields[i]);
                if (v && json_object_set(tmpl, template_fields[i], v) != 0) {
                        json_decref(tmpl);
                        return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
                }
        }
        rc = api_enqueue_parse(hr->srv->limits, tmpl, "", hr->tenant, hr->request_id, now_ms, &req,
                               e);
        json_decref(tmpl);
        if (rc)
                goto out;
        p->t.tenant = j->tenant;
        p->t.queue = j->queue;
        p->t.type = j->type;
        p->t.payload = j->payload;
        p->t.request_id = j->request_id;
        p->t.group = j->group;
        j->tenant = j->queue = j->type = j->payload = j->request_id = j->group = NULL;
        p->t.priority = j->priority;
        p->t.max_attempts = j->max_attempts;
        p->t.backoff = j->backoff;
        p->t.lease_ms = j->lease_ms;
        p->delay_ms = req.delay_ms;
out:
        api_enqueue_req_free(&req);
        return rc;
}

static int parse_put(struct http_req *hr, struct timer_ctx *c, struct verr *e)
{
        int64_t now_ms = clock_wall_ms(hr->srv->clock);
        int rc;

        for (size_t i = 0; i < sizeof(refused_fields) / sizeof(refused_fields[0]); i++) {
                json_t *v = json_object_get(hr->body, refused_fields[i]);
                if (v && !json_is_null(v))
                        return verr_set(e, BATON_EINVAL, "invalid_field", refused_fields[i],
                                        "%s does not apply to timers (use fire_at or delay_ms)",
                                        refused_fields[i]);
        }
        rc = api_known_fields(hr->body, "", TIMER_PUT_FIELDS, e);
        if (!rc)
                rc = parse_template(hr, now_ms, &c->put, e);
        if (!rc)
                rc = parse_fire(hr->srv->limits, hr->body, now_ms, &c->put, e);
        if (!rc)
                rc = parse_if_version(hr->body, &c->put, e);
        if (!rc && !(c->put.t.key = strdup(c->base.param)))
                rc = verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        return rc;
}

/* api_ctx_def.check of the {key} path parameter: 1..key_max printable ASCII
 * characters. */
static int check_key(const struct limits *l, const char *field, const char *key, struct verr *e)
{
        if (!key || !*key)
                return verr_set(e, BATON_EINVAL, "key_invalid", field, "key must not be empty");
        return validate_key(l, field, key, e);
}

static const struct api_ctx_def timer_def = {
    sizeof(struct timer_ctx), timer_fn, timer_done, ctx_clear, "key", check_key};

/* The context of kind; with_key: its route has the {key} parameter. */
static struct timer_ctx *ctx_new(struct http_req *hr, int kind, bool with_key)
{
        struct timer_ctx *c = api_ctx_new(hr, &timer_def, kind, with_key);

        if (c)
                c->if_version = -1;
        return c;
}

void api_timers_put(struct http_req *hr)
{
        struct timer_ctx *c = ctx_new(hr, TIMER_OP_PUT, true);
        struct verr e;

        if (c)
                api_ctx_submit(&c->base, parse_put(hr, c, &e), &e);
}

/* ---- GET, DELETE, list ---- */

void api_timers_get(struct http_req *hr)
{
        struct timer_ctx *c = ctx_new(hr, TIMER_OP_GET, true);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}

void api_timers_delete(struct http_req *hr)
{
        struct timer_ctx *c = ctx_new(hr, TIMER_OP_DELETE, true);
        const char *v = http_query(hr, "if_version");
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = 0;
        if (v && *v) {
                rc = api_query_int(hr, "if_version", &c->if_version, &e);
                if (!rc && c->if_version < 1)
                        rc = verr_set(&e, BATON_EINVAL, "invalid_field", "if_version",
                                      "if_version must be a version >= 1");
        }
        api_ctx_submit(&c->base, rc, &e);
}

void api_timers_list(struct http_req *hr)
{
        struct timer_ctx *c = ctx_new(hr, TIMER_OP_LIST, false);
        const struct limits *l = hr->srv->limits;
        struct verr e;
        int rc;

        if (!c)
                return;
        c->prefix = http_query(hr, "prefix");
        c->after = http_query(hr, "after");
        if (c->prefix && !*c->prefix)
                c->prefix = NULL;
        if (c->after && !*c->after)
                c->after = NULL;
        rc = validate_key(l, "prefix", c->prefix, &e);
        if (!rc && c->after && validate_key(l, "after", c->after, &e))
                rc = verr_set(&e, BATON_EINVAL, "invalid_cursor", "after",
                              "after is not a cursor this server handed out");
        if (!rc)
                rc = api_query_limit(hr, &c->limit, &e);
        api_ctx_submit(&c->base, rc, &e);
}
