/*
 * api_find.c: finding jobs by filter, GET /v1/jobs (the filters as query
 * parameters), and acting on what a filter finds, POST /v1/jobs/bulk (the
 * same filters as the members of "filter"). One parser reads both forms, so
 * a filter means the same thing in either and is refused the same way:
 * unknown members (unknown_field, with their path), bad states (the valid
 * ones listed), bad times (invalid_time, naming the field).
 *
 * Workload: operators' and dashboards' reads, and bulk calls of at most
 * BULK_LIMIT_MAX jobs. Loop thread for parsing; the reads and the actions run
 * as one op on the store thread (core/jobs_find.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/errors.h"
#include "common/jw.h"
#include "core/jobs.h"
#include "core/validate.h"
#include "server/api_internal.h"

/* The filter members of a bulk body, the same names as the query's. */
#define FIND_FIELDS                                                                                \
        "queue state type group key idempotency_key request_id execution_id worker "               \
        "created_after created_before finished_after finished_before order"

/* Where a filter comes from: the query of hr, or the members of obj (with
 * prefix for the paths in errors). */
struct find_src {
        const struct http_req *hr;
        json_t *obj;
        const char *prefix;
};

/* A string filter: from the query, empty is absent; from JSON, a member that
 * is not a string is refused. *field gets its path. */
static int src_str(const struct find_src *s, const char *name, const char **out, char *field,
                   size_t field_len, struct verr *e)
{
        api_field(field, field_len, s->prefix, name);
        if (s->obj)
                return api_get_str(s->obj, s->prefix, name, false, out, e);
        *out = http_query(s->hr, name);
        if (*out && !**out)
                *out = NULL;
        return 0;
}

/* Adds one state name (len bytes of name) to *mask. */
static int add_state(const char *name, size_t len, const char *field, unsigned *mask,
                     struct verr *e)
{
        char one[32];
        int st;

        snprintf(one, sizeof(one), "%.*s", (int)len, name);
        st = len < sizeof(one) ? job_state_parse(one) : -1;
        if (st < 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", field,
                                "%s holds \"%.*s\"; the states are pending, scheduled, queued, "
                                "running, retrying, completed, dead and cancelled",
                                field, (int)(len < 64 ? len : 64), name);
        *mask |= 1u << st;
        return 0;
}

/* A comma list of states ("dead,retrying"). */
static int parse_states(const char *list, const char *field, unsigned *mask, struct verr *e)
{
        int rc = 0;

        for (const char *p = list; !rc;) {
                size_t n = strcspn(p, ",");

                rc = add_state(p, n, field, mask, e);
                if (!p[n])
                        break;
                p += n + 1;
        }
        return rc;
}

/* state: a comma list, or (JSON) an array of state names. */
static int find_states(const struct find_src *s, struct job_filter *f, struct verr *e)
{
        json_t *v = s->obj ? json_object_get(s->obj, "state") : NULL;
        const char *list = NULL;
        char field[96];
        int rc;

        if (json_is_array(v)) {
                size_t i;
                json_t *x;

                api_field(field, sizeof(field), s->prefix, "state");
                json_array_foreach(v, i, x)
                {
                        const char *name = json_is_string(x) ? json_string_value(x) : "";

                        rc = add_state(name, strlen(name), field, &f->states, e);
                        if (rc)
                                return rc;
                }
                if (i == 0)
                        return verr_set(e, BATON_EINVAL, "invalid_field", field,
                                        "%s is an empty list", field);
                return 0;
        }
        rc = src_str(s, "state", &list, field, sizeof(field), e);
        return rc || !list ? rc : parse_states(list, field, &f->states, e);
}

/* The name filters (checked as names) and the id-like ones (checked as
 * keys). */
static int find_names(const struct find_src *s, const struct limits *l, struct job_filter *f,
                      struct verr *e)
{
        const char *names[] = {"queue", "type"};
        const char **nv[] = {&f->queue, &f->type};
        const char *keys[] = {"group",      "key",          "idempotency_key",
                              "request_id", "execution_id", "worker"};
        const char **kv[] = {&f->group,      &f->key,          &f->idempotency_key,
                             &f->request_id, &f->execution_id, &f->worker};
        char field[96];
        int rc = 0;

        for (size_t i = 0; i < BATON_ARRAY_LEN(names) && !rc; i++) {
                rc = src_str(s, names[i], nv[i], field, sizeof(field), e);
                if (!rc && *nv[i])
                        rc = validate_name(l, field, *nv[i], e);
        }
        for (size_t i = 0; i < BATON_ARRAY_LEN(keys) && !rc; i++) {
                rc = src_str(s, keys[i], kv[i], field, sizeof(field), e);
                if (!rc && *kv[i])
                        rc = validate_key(l, field, *kv[i], e);
        }
        return rc;
}

/* The time bounds (RFC 3339) and the order. */
static int find_times(const struct find_src *s, struct job_filter *f, struct verr *e)
{
        const char *names[] = {"created_after", "created_before", "finished_after",
                               "finished_before"};
        int64_t *out[] = {&f->created_after_ms, &f->created_before_ms, &f->finished_after_ms,
                          &f->finished_before_ms};
        const char *v = NULL;
        char field[96];
        int rc = 0;

        for (size_t i = 0; i < BATON_ARRAY_LEN(names) && !rc; i++) {
                int64_t ms = 0;

                rc = src_str(s, names[i], &v, field, sizeof(field), e);
                if (rc || !v)
                        continue;
                if (time_parse_ms(v, &ms) != 0)
                        return verr_set(e, BATON_EINVAL, "invalid_time", field,
                                        "%s is not an RFC 3339 date-time (2026-01-31T12:00:00Z)",
                                        field);
                /* 0 is "no bound" to the store: a lower bound at or before
                 * the epoch is none anyway, an upper one there leaves nothing. */
                *out[i] = i % 2 ? (ms > 0 ? ms : 1) : (ms > 0 ? ms : 0);
        }
        if (!rc)
                rc = src_str(s, "order", &v, field, sizeof(field), e);
        if (!rc && v && strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0)
                rc = verr_set(e, BATON_EINVAL, "invalid_field", field,
                              "%s must be asc or desc, not \"%.32s\"", field, v);
        if (!rc && v)
                f->desc = strcmp(v, "desc") == 0;
        return rc;
}

/* Reads every filter of s into f (tenant, cursor and limit are the
 * caller's). The strings point into the query or the body. */
static int find_parse(const struct find_src *s, const struct limits *l, struct job_filter *f,
                      struct verr *e)
{
        int rc = 0;

        f->state = -1;
        if (s->obj)
                rc = api_known_fields(s->obj, s->prefix, FIND_FIELDS, e);
        if (!rc)
                rc = find_names(s, l, f, e);
        if (!rc)
                rc = find_states(s, f, e);
        return rc ? rc : find_times(s, f, e);
}

/* ---- GET /v1/jobs ---- */

struct list_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct job_filter f;
        int limit;
        struct job_vec out;
};

static int list_fn(struct txn *tx, struct exec_op *op)
{
        struct list_ctx *c = container_of(op, struct list_ctx, base.op);

        return job_query(tx, &c->f, &c->out);
}

static void list_done(struct exec_op *op)
{
        struct list_ctx *c = container_of(op, struct list_ctx, base.op);
        struct jw w;

        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "job");
        } else {
                jw_init(&w, http_out(c->base.hr->srv));
                api_job_page_json(&w, &c->out, c->limit, c->base.hr->srv->limits);
                api_reply_jw(c->base.hr, 200, &w);
        }
        job_vec_free(&c->out);
        free(c);
}

static int list_filters(struct http_req *hr, struct job_filter *f, int *limit, struct verr *e)
{
        const struct find_src s = {hr, NULL, ""};
        int rc = find_parse(&s, hr->srv->limits, f, e);

        f->tenant = hr->tenant;
        if (!rc)
                rc = api_query_limit(hr, limit, e);
        if (!rc)
                rc = api_query_after_id(hr, &f->after_id, e);
        /* One row more than asked tells whether another page follows. */
        f->limit = *limit + 1;
        f->bytes_max = api_page_budget_bytes(hr->srv->limits);
        return rc;
}

static const struct api_ctx_def list_def = {
    sizeof(struct list_ctx), list_fn, list_done, NULL, NULL, NULL};

void api_jobs_list(struct http_req *hr)
{
        struct list_ctx *c = api_ctx_new(hr, &list_def, 0, false);
        struct verr e;

        if (!c)
                return;
        api_ctx_submit(&c->base, list_filters(hr, &c->f, &c->limit, &e), &e);
}

/* ---- POST /v1/jobs/bulk ---- */

struct bulk_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct bulk_req req;
        struct bulk_res res;
        char *filter; /* the filter as sent, JSON text, for the audit row */
};

static void bulk_clear(struct api_ctx *base)
{
        struct bulk_ctx *c = container_of(base, struct bulk_ctx, base);

        free(c->filter);
}

/* The change and its audit row commit together. */
static int bulk_fn(struct txn *tx, struct exec_op *op)
{
        struct bulk_ctx *c = container_of(op, struct bulk_ctx, base.op);
        const char *action = bulk_action_name(c->req.action);
        char *detail = NULL;
        int rc = job_bulk(tx, &c->req, &c->res);

        if (rc)
                return rc;
        if (asprintf(&detail, "{\"action\":\"%s\",\"filter\":%s,\"matched\":%d,\"changed\":%d}",
                     action, c->filter, c->res.matched, c->res.changed) < 0)
                return BATON_ENOMEM;
        rc = api_audit_success(tx, c->base.hr, 200, action, detail);
        free(detail);
        return rc;
}

static void bulk_done(struct exec_op *op)
{
        struct bulk_ctx *c = container_of(op, struct bulk_ctx, base.op);
        struct jw w;

        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "job");
        } else {
                jw_init(&w, http_out(c->base.hr->srv));
                jw_obj_open(&w);
                jw_kint(&w, "matched", c->res.matched);
                jw_kint(&w, "changed", c->res.changed);
                api_kid(&w, "next", c->res.next);
                jw_obj_close(&w);
                api_reply_jw(c->base.hr, 200, &w);
        }
        api_ctx_free(&c->base);
}

/* action, limit (1..BULK_LIMIT_MAX, default the maximum) and the cursor
 * after (a job id, as a string or a number). */
static int bulk_top(json_t *body, struct bulk_req *r, struct verr *e)
{
        const char *action = NULL;
        json_t *after = json_object_get(body, "after");
        int64_t limit = BULK_LIMIT_MAX;
        bool has_limit = false;
        int rc = api_get_str(body, "", "action", true, &action, e);

        if (!rc && (r->action = bulk_action_parse(action)) < 0)
                rc = verr_set(e, BATON_EINVAL, "invalid_field", "action",
                              "action must be retry, cancel, promote or purge, not \"%.32s\"",
                              action);
        if (!rc)
                rc = api_get_int(body, "", "limit", &has_limit, &limit, e);
        if (!rc && (limit < 1 || limit > BULK_LIMIT_MAX))
                rc = verr_set(e, BATON_ERANGE, "bulk_limit_exceeded", "limit",
                              "limit must be between 1 and %d", BULK_LIMIT_MAX);
        r->f.limit = (int)limit;
        if (rc || !after || json_is_null(after))
                return rc;
        if (json_is_integer(after) && json_integer_value(after) > 0)
                r->f.after_id = json_integer_value(after);
        else if (!json_is_string(after) || api_id_parse(json_string_value(after), &r->f.after_id))
                rc = verr_set(e, BATON_EINVAL, "invalid_cursor", "after",
                              "after is not a cursor this server handed out");
        return rc;
}

static int bulk_parse(struct http_req *hr, struct bulk_ctx *c, struct verr *e)
{
        json_t *filter = json_object_get(hr->body, "filter");
        const struct find_src s = {hr, filter, "filter"};
        int rc = api_known_fields(hr->body, "", "action filter limit after", e);

        c->req.f.tenant = hr->tenant;
        c->req.f.bytes_max = api_page_budget_bytes(hr->srv->limits);
        if (!rc)
                rc = bulk_top(hr->body, &c->req, e);
        if (!rc && !filter)
                rc = verr_set(e, BATON_EINVAL, "missing_field", "filter",
                              "filter is required ({} for every job of the tenant)");
        if (!rc && !json_is_object(filter))
                rc = verr_set(e, BATON_EINVAL, "invalid_field", "filter",
                              "filter must be an object of GET /v1/jobs filters");
        if (!rc)
                rc = find_parse(&s, hr->srv->limits, &c->req.f, e);
        if (!rc && !(c->filter = api_dump(filter)))
                rc = verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        return rc;
}

static const struct api_ctx_def bulk_def = {
    sizeof(struct bulk_ctx), bulk_fn, bulk_done, bulk_clear, NULL, NULL};

void api_jobs_bulk(struct http_req *hr)
{
        struct bulk_ctx *c = api_ctx_new(hr, &bulk_def, 0, false);
        struct verr e;

        if (c)
                api_ctx_submit(&c->base, bulk_parse(hr, c, &e), &e);
}
