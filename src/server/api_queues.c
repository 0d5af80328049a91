/*
 * api_queues.c: the /v1/queues routes: list and read queues with their counts,
 * pause and resume, and the dead-letter list, replay and purge of a queue.
 *
 * All of them share one context type whose kind selects the core call, since
 * each is a single core function and a small answer. Workload: operator and
 * dashboard traffic, far from the hot path; changes (pause, replay, purge)
 * write their audit row in their own transaction; a list page reads at most list_max
 * queues (one count query each) and a replay or purge touches at most
 * replay_max jobs in one transaction. Loop thread except the fn callbacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/groups.h"
#include "server/api_internal.h"

enum queue_op_kind { Q_LIST, Q_GET, Q_PATCH, Q_DEAD_LIST, Q_DEAD_REPLAY, Q_DEAD_PURGE };

struct queue_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct queue_update upd;
        char *detail; /* PATCH: the settings changed, as JSON text for the audit row */
        /* Lists. */
        const char *after; /* queue name cursor, owned by hr */
        int limit;
        struct queue_info *infos;
        int infos_n;
        struct job_filter f;
        struct job_vec jobs;
        /* One queue. */
        struct queue_info info;
        /* Replay and purge. */
        int64_t *ids;
        int ids_n;
        bool all;
        int count;
};

static int queue_apply(struct txn *tx, struct queue_ctx *c);

/* api_ctx_def.clear: what the context holds. */
static void queue_ctx_clear(struct api_ctx *base)
{
        struct queue_ctx *c = container_of(base, struct queue_ctx, base);

        for (int i = 0; i < c->infos_n; i++)
                queue_info_free(&c->infos[i]);
        free(c->infos);
        queue_info_free(&c->info);
        job_vec_free(&c->jobs);
        free(c->ids);
        free(c->detail);
}

/* The audit row of a change that succeeded, in its transaction. */
static int queue_audit(struct txn *tx, const struct queue_ctx *c)
{
        char detail[96];

        if (c->base.kind == Q_PATCH)
                return api_audit_success(tx, c->base.hr, 200, c->base.param, c->detail);
        if (c->base.kind == Q_DEAD_REPLAY && c->all)
                snprintf(detail, sizeof(detail), "{\"all\":true,\"replayed\":%d}", c->count);
        else if (c->base.kind == Q_DEAD_REPLAY)
                snprintf(detail, sizeof(detail), "{\"ids\":%d,\"replayed\":%d}", c->ids_n,
                         c->count);
        else
                snprintf(detail, sizeof(detail), "{\"purged\":%d}", c->count);
        return api_audit_success(tx, c->base.hr, 200, c->base.param, detail);
}

static int queue_fn(struct txn *tx, struct exec_op *op)
{
        struct queue_ctx *c = container_of(op, struct queue_ctx, base.op);
        int rc = queue_apply(tx, c);

        if (!rc && (c->base.kind == Q_PATCH || c->base.kind == Q_DEAD_REPLAY ||
                    c->base.kind == Q_DEAD_PURGE))
                rc = queue_audit(tx, c);
        return rc;
}

static int queue_apply(struct txn *tx, struct queue_ctx *c)
{
        const char *tenant = c->base.hr->tenant;

        switch (c->base.kind) {
        case Q_LIST:
                /* One row more than asked tells whether another page follows. */
                return queue_query(tx, tenant, c->after, c->limit + 1, &c->infos, &c->infos_n);
        case Q_GET:
                return queue_read(tx, tenant, c->base.param, &c->info);
        case Q_PATCH:
                return queue_update(tx, tenant, c->base.param, &c->upd, &c->info);
        case Q_DEAD_LIST:
                return job_query(tx, &c->f, &c->jobs);
        case Q_DEAD_REPLAY:
                return dead_replay(tx, tenant, c->base.param, c->ids, c->ids_n, c->all, &c->count);
        default:
                return dead_purge(tx, tenant, c->base.param, &c->count);
        }
}

/* What list_item reads: the queues, and the instant their ages count to. */
struct list_page {
        const struct queue_info *infos;
        int64_t now_ms;
};

static void list_item(struct jw *w, const void *arg, int i)
{
        const struct list_page *lp = arg;

        api_queue_json(w, &lp->infos[i], lp->now_ms);
}

static void list_json(struct jw *w, const struct queue_ctx *c, int64_t now_ms)
{
        struct list_page lp = {c->infos, now_ms};
        int last;

        jw_obj_open(w);
        last = api_page_write(w, c->base.hr->srv->limits, "queues", c->infos_n, c->limit, false,
                              list_item, &lp);
        /* The cursor is the last name of the page: lists resume after it. */
        jw_kstr(w, "next", last >= 0 ? c->infos[last].rec.name : NULL);
        jw_obj_close(w);
}

static void answer_json(struct jw *w, const struct queue_ctx *c, int64_t now_ms)
{
        switch (c->base.kind) {
        case Q_LIST:
                list_json(w, c, now_ms);
                break;
        case Q_GET:
        case Q_PATCH:
                jw_obj_open(w);
                jw_key(w, "queue");
                api_queue_json(w, &c->info, now_ms);
                jw_obj_close(w);
                break;
        case Q_DEAD_LIST:
                api_job_page_json(w, &c->jobs, c->limit, c->base.hr->srv->limits);
                break;
        default:
                jw_obj_open(w);
                jw_kint(w, c->base.kind == Q_DEAD_REPLAY ? "replayed" : "purged", c->count);
                jw_obj_close(w);
                break;
        }
}

static void queue_done(struct exec_op *op)
{
        struct queue_ctx *c = container_of(op, struct queue_ctx, base.op);
        struct server *srv = c->base.hr->srv;
        struct jw w;

        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "queue");
        } else {
                jw_init(&w, http_out(srv));
                answer_json(&w, c, clock_wall_ms(srv->clock));
                api_reply_jw(c->base.hr, 200, &w);
        }
        api_ctx_free(&c->base);
}

static const struct api_ctx_def queue_def = {sizeof(struct queue_ctx), queue_fn, queue_done,
                                             queue_ctx_clear,          "queue",  validate_name};

void api_queues_list(struct http_req *hr)
{
        struct queue_ctx *c = api_ctx_new(hr, &queue_def, Q_LIST, false);
        struct verr e;

        if (c)
                api_ctx_submit(
                    &c->base, api_query_name_page(hr, validate_name, &c->limit, &c->after, &e), &e);
}

void api_queues_get(struct http_req *hr)
{
        struct queue_ctx *c = api_ctx_new(hr, &queue_def, Q_GET, true);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}

/* ---- PATCH: settings ---- */

/* A non-negative integer setting in [0, max] (null means 0: no limit). */
static int patch_int(json_t *v, const char *name, int64_t min, int64_t max, int64_t *out,
                     struct verr *e)
{
        if (json_is_null(v)) {
                *out = 0;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return verr_set(e, BATON_ERANGE, "setting_out_of_range", name,
                                "%s must be null or an integer between %lld and %lld", name,
                                (long long)min, (long long)max);
        *out = json_integer_value(v);
        return 0;
}

/* {"max": n, "per_ms": ms} or null (no limit). */
static int patch_rate(json_t *v, const char *name, int64_t max_max, int64_t *max, int64_t *per,
                      struct verr *e)
{
        char f[64];
        int rc;

        *max = *per = 0;
        if (json_is_null(v))
                return 0;
        if (json_is_object(v) && (rc = api_known_fields(v, name, "max per_ms", e)) != 0)
                return rc;
        if (!json_is_object(v) || !json_object_get(v, "max") || !json_object_get(v, "per_ms"))
                return verr_set(e, BATON_EINVAL, "invalid_field", name,
                                "%s must be null or {\"max\": n, \"per_ms\": ms}", name);
        snprintf(f, sizeof(f), "%s.max", name);
        rc = patch_int(json_object_get(v, "max"), f, 1, max_max, max, e);
        snprintf(f, sizeof(f), "%s.per_ms", name);
        if (!rc)
                rc = patch_int(json_object_get(v, "per_ms"), f, 1, QLIM_PER_MS_MAX, per, e);
        if (!rc && (*max == 0 || *per == 0))
                rc = verr_set(e, BATON_EINVAL, "invalid_field", name,
                              "%s.max and %s.per_ms must not be null", name, name);
        return rc;
}

static int patch_backoff(const struct limits *l, json_t *body, struct queue_limits *s,
                         struct verr *e)
{
        json_t *v = json_object_get(body, "backoff");
        int rc;

        s->def_backoff_set = !json_is_null(v);
        if (!s->def_backoff_set)
                return 0;
        rc = api_backoff_parse(body, "", &s->def_backoff, e);
        return rc ? rc : validate_backoff(l, "", &s->def_backoff, e);
}

/* {"completed_ms", "dead_ms", "cancelled_ms"}, each null (the server's
 * retention) or between QLIM_RETENTION_MIN_MS and the server's own for that
 * state, since the server's purge would remove the jobs then anyway; null
 * clears all three. Members left out keep their value. */
static int patch_retention(const struct limits *l, json_t *v, struct queue_update *u,
                           struct verr *e)
{
        static const char *const names[] = {"retention.completed_ms", "retention.dead_ms",
                                            "retention.cancelled_ms"};
        static const unsigned bits[] = {QS_RET_COMPLETED, QS_RET_DEAD, QS_RET_CANCELLED};
        int64_t *dst[] = {&u->set.ret_completed_ms, &u->set.ret_dead_ms, &u->set.ret_cancelled_ms};
        int64_t max[] = {l->completed_ttl_ms, l->dead_ttl_ms, l->dead_ttl_ms};
        int rc = 0;

        if (json_is_null(v)) {
                u->mask |= QS_RET_COMPLETED | QS_RET_DEAD | QS_RET_CANCELLED;
                return 0;
        }
        if (!json_is_object(v) || json_object_size(v) == 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", "retention",
                                "retention must be null or an object with completed_ms, dead_ms"
                                " and/or cancelled_ms");
        rc = api_known_fields(v, "retention", "completed_ms dead_ms cancelled_ms", e);
        for (int i = 0; i < 3 && !rc; i++) {
                json_t *m = json_object_get(v, names[i] + strlen("retention."));
                if (!m)
                        continue;
                u->mask |= bits[i];
                rc = patch_int(m, names[i], QLIM_RETENTION_MIN_MS, max[i], dst[i], e);
        }
        return rc;
}

/* One member of the PATCH body into c->upd; unknown members are refused so
 * that a misspelt setting is not silently ignored. */
static int patch_member(const struct limits *l, json_t *body, const char *k, json_t *v,
                        struct queue_update *u, struct verr *e)
{
        struct queue_limits *s = &u->set;

        if (strcmp(k, "paused") == 0) {
                u->mask |= QS_PAUSED;
                u->paused = json_is_true(v);
                return json_is_boolean(v) ? 0
                                          : verr_set(e, BATON_EINVAL, "invalid_field", k,
                                                     "paused must be true or false");
        }
        if (strcmp(k, "concurrency") == 0 && (u->mask |= QS_CONCURRENCY))
                return patch_int(v, k, 1, QLIM_CONCURRENCY_MAX, &s->concurrency, e);
        if (strcmp(k, "rate") == 0 && (u->mask |= QS_RATE))
                return patch_rate(v, k, QLIM_RATE_MAX, &s->rate_max, &s->rate_per_ms, e);
        if (strcmp(k, "max_depth") == 0 && (u->mask |= QS_MAX_DEPTH))
                return patch_int(v, k, 1, QLIM_DEPTH_MAX, &s->max_depth, e);
        if (strcmp(k, "group_concurrency") == 0 && (u->mask |= QS_GROUP_CONCURRENCY))
                return patch_int(v, k, 1, QLIM_CONCURRENCY_MAX, &s->group_concurrency, e);
        if (strcmp(k, "group_rate") == 0 && (u->mask |= QS_GROUP_RATE))
                return patch_rate(v, k, QLIM_GROUP_RATE_MAX, &s->group_rate_max,
                                  &s->group_rate_per_ms, e);
        if (strcmp(k, "max_attempts") == 0 && (u->mask |= QS_MAX_ATTEMPTS))
                return patch_int(v, k, 1, l->max_attempts_max, &s->def_max_attempts, e);
        if (strcmp(k, "lease_ms") == 0 && (u->mask |= QS_LEASE))
                return patch_int(v, k, l->lease_min_ms, l->lease_max_ms, &s->def_lease_ms, e);
        if (strcmp(k, "timeout_ms") == 0 && (u->mask |= QS_TIMEOUT))
                return patch_int(v, k, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &s->def_timeout_ms, e);
        if (strcmp(k, "backoff") == 0 && (u->mask |= QS_BACKOFF))
                return patch_backoff(l, body, s, e);
        if (strcmp(k, "retention") == 0)
                return patch_retention(l, v, u, e);
        if (strcmp(k, "job_events") == 0) {
                u->mask |= QS_JOB_EVENTS;
                s->job_events_off = json_is_false(v);
                return json_is_boolean(v) ? 0
                                          : verr_set(e, BATON_EINVAL, "invalid_field", k,
                                                     "job_events must be true or false");
        }
        return verr_set(e, BATON_EINVAL, "unknown_field", k,
                        "%s is not a queue setting (paused, concurrency, rate, max_depth,"
                        " group_concurrency, group_rate, max_attempts, backoff, lease_ms,"
                        " retention, timeout_ms, job_events)",
                        k);
}

static int patch_parse(struct http_req *hr, struct queue_ctx *c, struct verr *e)
{
        const char *k;
        json_t *v;
        int rc = 0;

        if (!json_is_object(hr->body) || json_object_size(hr->body) == 0)
                return verr_set(e, BATON_EINVAL, "missing_field", "",
                                "give at least one setting to change");
        json_object_foreach(hr->body, k, v)
        {
                rc = patch_member(hr->srv->limits, hr->body, k, v, &c->upd, e);
                if (rc)
                        return rc;
        }
        /* The audit row records the settings as asked (no secrets in them). */
        c->detail = json_dumps(hr->body, JSON_COMPACT | JSON_SORT_KEYS);
        if (!c->detail)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        return 0;
}

void api_queues_patch(struct http_req *hr)
{
        struct queue_ctx *c = api_ctx_new(hr, &queue_def, Q_PATCH, true);
        struct verr e;

        if (c)
                api_ctx_submit(&c->base, patch_parse(hr, c, &e), &e);
}

void api_queues_dead_list(struct http_req *hr)
{
        struct queue_ctx *c = api_ctx_new(hr, &queue_def, Q_DEAD_LIST, true);
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = api_query_page(hr, &c->limit, &c->f.after_id, &e);
        c->f.tenant = hr->tenant;
        c->f.queue = c->base.param;
        c->f.state = JOB_DEAD;
        c->f.limit = c->limit + 1;
        c->f.bytes_max = api_page_budget_bytes(hr->srv->limits);
        api_ctx_submit(&c->base, rc, &e);
}

/* {"ids": ["1", 2]} (at most replay_max; strings or numbers) or {"all": true}. */
static int replay_parse(struct http_req *hr, struct queue_ctx *c, struct verr *e)
{
        json_t *ids = json_object_get(hr->body, "ids");
        int max = hr->srv->limits->replay_max;
        char f[32];
        int rc;

        rc = api_known_fields(hr->body, "", "ids all", e);
        if (!rc)
                rc = api_get_bool(hr->body, "", "all", &c->all, e);
        if (rc || c->all)
                return rc;
        if (!ids || json_is_null(ids))
                return verr_set(e, BATON_EINVAL, "missing_field", "ids",
                                "give ids or \"all\": true");
        if (!json_is_array(ids))
                return verr_set(e, BATON_EINVAL, "invalid_field", "ids",
                                "ids must be an array of job ids");
        if (json_array_size(ids) > (size_t)max)
                return verr_set(e, BATON_ETOOBIG, "batch_too_large", "ids",
                                "ids holds %zu ids; the limit is %d", json_array_size(ids), max);
        c->ids_n = (int)json_array_size(ids);
        c->ids = calloc((size_t)(c->ids_n ? c->ids_n : 1), sizeof(*c->ids));
        if (!c->ids)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        for (int i = 0; i < c->ids_n; i++) {
                snprintf(f, sizeof(f), "ids[%d]", i);
                rc = api_body_id(json_array_get(ids, (size_t)i), f, &c->ids[i], e);
                if (rc)
                        return rc;
        }
        return 0;
}

void api_queues_dead_replay(struct http_req *hr)
{
        struct queue_ctx *c = api_ctx_new(hr, &queue_def, Q_DEAD_REPLAY, true);
        struct verr e;

        if (c)
                api_ctx_submit(&c->base, replay_parse(hr, c, &e), &e);
}

void api_queues_dead_purge(struct http_req *hr)
{
        struct queue_ctx *c = api_ctx_new(hr, &queue_def, Q_DEAD_PURGE, true);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}
