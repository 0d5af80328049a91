/*
 * api_workers.c: the worker registry's routes (GET /v1/workers and
 * GET /v1/workers/{id}) and the parser of the `info` a claim may carry.
 *
 * The registry itself is core's (core/workers.h): claims, heartbeats and
 * settles note what they see of their worker in their own transaction, and
 * these routes read it, in_flight and health included, as of the store's
 * now. Workload: operator requests, a page of at most --list-max workers,
 * each with one index range of its running jobs; the answer is cut at the
 * --max-response-bytes budget like every list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/workers.h"
#include "server/api_internal.h"

/* ---- info of a claim ---- */

/* A string member of info no longer than max bytes. */
static int info_str(json_t *info, const char *name, size_t max, struct verr *e)
{
        const char *s;
        char f[32];
        int rc = api_get_str(info, "info", name, false, &s, e);

        if (rc || !s || strlen(s) <= max)
                return rc;
        api_field(f, sizeof(f), "info", name);
        return verr_set(e, BATON_EINVAL, "info_value_too_long", f,
                        "%s is %zu bytes long; the limit is %zu", f, strlen(s), max);
}

/* labels: an object of at most WORKER_LABELS_MAX string members, names of
 * 1..WORKER_LABEL_KEY_MAX bytes, values of at most WORKER_LABEL_VALUE_MAX. */
static int info_labels(json_t *labels, struct verr *e)
{
        const char *k;
        json_t *v;
        char f[WORKER_LABEL_KEY_MAX + 32];

        if (!labels || json_is_null(labels))
                return 0;
        if (!json_is_object(labels))
                return verr_set(e, BATON_EINVAL, "invalid_field", "info.labels",
                                "info.labels must be an object of string values");
        if (json_object_size(labels) > WORKER_LABELS_MAX)
                return verr_set(e, BATON_EINVAL, "too_many_labels", "info.labels",
                                "info.labels has %zu members; the limit is %d",
                                json_object_size(labels), WORKER_LABELS_MAX);
        json_object_foreach(labels, k, v)
        {
                if (strlen(k) == 0 || strlen(k) > WORKER_LABEL_KEY_MAX)
                        return verr_set(e, BATON_EINVAL, "info_value_too_long", "info.labels",
                                        "a label name must be 1 to %d bytes long; one is %zu",
                                        WORKER_LABEL_KEY_MAX, strlen(k));
                snprintf(f, sizeof(f), "info.labels.%s", k);
                if (!json_is_string(v))
                        return verr_set(e, BATON_EINVAL, "invalid_field", f, "%s must be a string",
                                        f);
                if (json_string_length(v) > WORKER_LABEL_VALUE_MAX)
                        return verr_set(e, BATON_EINVAL, "info_value_too_long", f,
                                        "%s is %zu bytes long; the limit is %d", f,
                                        json_string_length(v), WORKER_LABEL_VALUE_MAX);
        }
        return 0;
}

int api_worker_info_parse(json_t *info, char **out, struct verr *e)
{
        int64_t pid = 0;
        bool has_pid = false;
        int rc;

        *out = NULL;
        if (!info || json_is_null(info))
                return 0;
        if (!json_is_object(info))
                return verr_set(e, BATON_EINVAL, "invalid_field", "info",
                                "info must be an object (host, pid, version, labels)");
        rc = api_known_fields(info, "info", "host pid version labels", e);
        if (!rc)
                rc = info_str(info, "host", WORKER_HOST_MAX, e);
        if (!rc)
                rc = info_str(info, "version", WORKER_VERSION_MAX, e);
        if (!rc)
                rc = api_get_int(info, "info", "pid", &has_pid, &pid, e);
        if (!rc && has_pid && (pid < 1 || pid > WORKER_PID_MAX))
                rc = verr_set(e, BATON_EINVAL, "invalid_field", "info.pid",
                              "info.pid must be an integer from 1 to %lld; it is %lld",
                              WORKER_PID_MAX, (long long)pid);
        if (!rc)
                rc = info_labels(json_object_get(info, "labels"), e);
        if (!rc)
                rc = api_dump_max(info, WORKER_INFO_MAX_BYTES, "info_too_large", "info", out, e);
        return rc;
}

/* ---- the routes ---- */

enum worker_op_kind { WK_LIST, WK_GET };

struct workers_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        const char *after;   /* worker id cursor, owned by hr */
        int limit;
        struct worker_view *views;
        int views_n;
        struct worker_view one;
};

/* api_ctx_def.clear: what the context holds. */
static void workers_clear(struct api_ctx *base)
{
        struct workers_ctx *c = container_of(base, struct workers_ctx, base);

        worker_views_free(c->views, c->views_n);
        worker_view_free(&c->one);
}

static int workers_fn(struct txn *tx, struct exec_op *op)
{
        struct workers_ctx *c = container_of(op, struct workers_ctx, base.op);
        const char *tenant = c->base.hr->tenant;

        if (c->base.kind == WK_GET)
                return worker_read(tx, tenant, c->base.param, &c->one);
        /* One row more than asked tells whether another page follows. */
        return worker_query(tx, tenant, c->after, c->limit + 1, &c->views, &c->views_n);
}

/* docs/api.md's worker object. */
static void worker_json(struct jw *w, const struct worker_view *v)
{
        jw_obj_open(w);
        jw_kstr(w, "id", v->rec.id);
        jw_kraw(w, "info", v->rec.info);
        jw_kraw(w, "queues", v->rec.queues ? v->rec.queues : "[]");
        jw_ktime(w, "first_seen", v->rec.first_seen_ms);
        jw_ktime(w, "last_seen", v->rec.last_seen_ms);
        jw_key(w, "in_flight");
        jw_arr_open(w);
        for (int i = 0; i < v->n_in_flight; i++) {
                char id[24];
                snprintf(id, sizeof(id), "%lld", (long long)v->in_flight[i]);
                jw_str(w, id);
        }
        jw_arr_close(w);
        jw_kbool(w, "in_flight_truncated", v->in_flight_more);
        jw_kint(w, "completed", v->rec.completed);
        jw_kint(w, "failed", v->rec.failed);
        jw_kstr(w, "health", worker_health_name(v->health));
        jw_kint(w, "lease_period_ms", v->period_ms);
        jw_obj_close(w);
}

static void list_item(struct jw *w, const void *arg, int i)
{
        const struct worker_view *v = arg;

        worker_json(w, &v[i]);
}

static void workers_done(struct exec_op *op)
{
        struct workers_ctx *c = container_of(op, struct workers_ctx, base.op);
        struct server *srv = c->base.hr->srv;
        struct jw w;
        int last;

        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "worker");
                api_ctx_free(&c->base);
                return;
        }
        jw_init(&w, http_out(srv));
        jw_obj_open(&w);
        if (c->base.kind == WK_GET) {
                jw_key(&w, "worker");
                worker_json(&w, &c->one);
        } else {
                last = api_page_write(&w, srv->limits, "workers", c->views_n, c->limit, false,
                                      list_item, c->views);
                /* The cursor is the last id of the page: lists resume after it. */
                jw_kstr(&w, "next", last >= 0 ? c->views[last].rec.id : NULL);
        }
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, 200, &w);
        api_ctx_free(&c->base);
}

static const struct api_ctx_def workers_def = {
    sizeof(struct workers_ctx), workers_fn, workers_done, workers_clear, "worker", validate_key};

void api_workers_list(struct http_req *hr)
{
        struct workers_ctx *c = api_ctx_new(hr, &workers_def, WK_LIST, false);
        struct verr e;

        /* A worker id is a key: the cursor is checked as one. */
        if (c)
                api_ctx_submit(&c->base,
                               api_query_name_page(hr, validate_key, &c->limit, &c->after, &e), &e);
}

void api_workers_get(struct http_req *hr)
{
        struct workers_ctx *c = api_ctx_new(hr, &workers_def, WK_GET, true);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}
