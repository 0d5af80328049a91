/*
 * api_audit.c: the audit log's server side: the row of a successful audited
 * call (written inside the call's own transaction), the row of a refused one
 * (written by a separate op, since the call's transaction rolled back or never
 * ran) and GET /v1/audit.
 *
 * Workload: audited calls are administrative (keys, queue settings, dead
 * letters): a few per minute. Assumptions: rows hold ids, names, codes and
 * small detail objects, never secrets or payloads; the route table says which
 * routes are audited and under which action.
 */
#include <stdlib.h>
#include <string.h>

#include "baton/baton.h"
#include "common/log.h"
#include "core/keys.h"
#include "server/api_internal.h"
#include "server/auth.h"

#define AUDIT_ACTION_MAX 64

int api_audit_success(struct txn *tx, const struct http_req *hr, int status, const char *target,
                      const char *detail)
{
        struct audit_rec r;

        memset(&r, 0, sizeof(r));
        r.key_id = (char *)hr->key_id;
        r.tenant = (char *)hr->tenant;
        r.action = (char *)hr->route->audit;
        r.target = (char *)target;
        r.request_id = (char *)hr->request_id;
        r.status = status;
        r.detail = (char *)detail;
        return audit_write(tx, &r);
}

/* ---- refusals ---- */

struct refusal_op {
        struct exec_op op;
        struct audit_rec rec; /* strings owned here */
};

static void refusal_free(struct refusal_op *c)
{
        audit_rec_free(&c->rec);
        free(c);
}

static int refusal_fn(struct txn *tx, struct exec_op *op)
{
        struct refusal_op *c = container_of(op, struct refusal_op, op);

        return audit_refusal_write(tx, &c->rec);
}

static void refusal_done(struct exec_op *op)
{
        struct refusal_op *c = container_of(op, struct refusal_op, op);

        if (op->rc && op->rc != BATON_ESHUTDOWN)
                log_warn("audit", "could not record the refusal of %s (request %s): %s",
                         c->rec.action, c->rec.request_id, baton_strerror(op->rc));
        refusal_free(c);
}

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

void api_audit_refusal(const struct http_req *hr, int status, const char *code)
{
        struct refusal_op *c = calloc(1, sizeof(*c));
        const char *target =
            hr->route->pattern && strchr(hr->route->pattern, '{') ? http_param(hr, 0) : NULL;

        if (!c)
                goto fail;
        c->rec.key_id = dup_or_null(hr->key_id);
        c->rec.tenant = dup_or_null(hr->tenant);
        c->rec.action = dup_or_null(hr->route->audit);
        c->rec.target = dup_or_null(target);
        c->rec.request_id = dup_or_null(hr->request_id);
        c->rec.code = dup_or_null(code);
        c->rec.status = status;
        if ((hr->key_id && !c->rec.key_id) || !c->rec.tenant || !c->rec.action ||
            (target && !c->rec.target) || !c->rec.request_id || (code && !c->rec.code))
                goto fail;
        c->op.fn = refusal_fn;
        c->op.done = refusal_done;
        if (server_submit(hr->srv, &c->op) != 0)
                refusal_free(c);
        return;
fail:
        log_warn("audit", "out of memory recording the refusal of %s (request %s)",
                 hr->route->audit, hr->request_id);
        if (c)
                refusal_free(c);
}

/* ---- GET /v1/audit ---- */

struct audit_ctx {
        struct exec_op op;
        struct http_req *hr;
        struct audit_filter f;
        int limit;
        struct audit_rec *rows;
        int n;
};

static int audit_fn(struct txn *tx, struct exec_op *op)
{
        struct audit_ctx *c = container_of(op, struct audit_ctx, op);

        return audit_query(tx, &c->f, &c->rows, &c->n);
}

static void entry_json(struct jw *w, const struct audit_rec *r)
{
        char id[API_ID_LEN];

        api_id_format(r->id, id);
        jw_obj_open(w);
        jw_kstr(w, "id", id);
        jw_ktime(w, "at", r->at_ms);
        jw_kstr(w, "key_id", r->key_id);
        jw_kstr(w, "tenant", r->tenant);
        jw_kstr(w, "action", r->action);
        jw_kstr(w, "target", r->target);
        jw_kstr(w, "request_id", r->request_id);
        jw_kint(w, "status", r->status);
        jw_kstr(w, "code", r->code);
        jw_kint(w, "count", r->n > 0 ? r->n : 1);
        jw_kraw(w, "detail", r->detail);
        jw_obj_close(w);
}

static void audit_done(struct exec_op *op)
{
        struct audit_ctx *c = container_of(op, struct audit_ctx, op);
        int n = c->n > c->limit ? c->limit : c->n;
        char next[API_ID_LEN];
        struct jw w;

        if (op->rc) {
                api_reply_rc(c->hr, op->rc, NULL);
                goto out;
        }
        jw_init(&w, http_out(c->hr->srv));
        jw_obj_open(&w);
        jw_key(&w, "entries");
        jw_arr_open(&w);
        for (int i = 0; i < n; i++)
                entry_json(&w, &c->rows[i]);
        jw_arr_close(&w);
        if (c->n > c->limit)
                api_id_format(c->rows[c->limit - 1].id, next);
        jw_kstr(&w, "next", c->n > c->limit ? next : NULL);
        jw_obj_close(&w);
        api_reply_jw(c->hr, 200, &w);
out:
        audit_recs_free(c->rows, c->n);
        free(c);
}

/* A printable-ASCII query argument of at most max bytes; absent leaves *out. */
static int query_token(const struct http_req *hr, const char *key, size_t max, const char **out,
                       struct verr *e)
{
        const char *v = http_query(hr, key);

        if (!v)
                return 0;
        for (const char *p = v; *p; p++)
                if (*p <= 0x20 || *p >= 0x7f)
                        return verr_set(e, BATON_EINVAL, 400, "invalid_field", key,
                                        "%s must be printable ASCII without spaces", key);
        if (!*v || strlen(v) > max)
                return verr_set(e, BATON_EINVAL, 400, "invalid_field", key,
                                "%s must be 1-%zu characters", key, max);
        *out = v;
        return 0;
}

int api_query_tenant(const struct http_req *hr, const char **tenant, struct verr *e)
{
        const char *t = http_query(hr, "tenant");

        *tenant = hr->tenant;
        if (!t || strcmp(t, hr->tenant) == 0)
                return 0;
        if (!auth_is_root(hr))
                return verr_set(e, BATON_EFORBIDDEN, 403, "forbidden", "tenant",
                                "another tenant needs the scope \"admin\" on tenant \"%s\"",
                                SERVER_TENANT);
        if (strcmp(t, "*") == 0) {
                *tenant = NULL;
                return 0;
        }
        *tenant = t;
        return validate_name(hr->srv->limits, "tenant", t, e);
}

static int audit_parse(struct http_req *hr, struct audit_ctx *c, struct verr *e)
{
        int rc = api_query_limit(hr, &c->limit, e);

        if (!rc)
                rc = api_query_after_id(hr, &c->f.after_id, e);
        if (!rc)
                rc = query_token(hr, "action", AUDIT_ACTION_MAX, &c->f.action, e);
        if (!rc)
                rc = query_token(hr, "key_id", KEY_ID_LEN, &c->f.key_id, e);
        if (!rc)
                rc = api_query_tenant(hr, &c->f.tenant, e);
        c->f.limit = c->limit + 1;
        return rc;
}

void api_audit_list(struct http_req *hr)
{
        struct audit_ctx *c = calloc(1, sizeof(*c));
        struct verr e;

        if (!c) {
                http_reply_rc(hr, BATON_ENOMEM, NULL);
                return;
        }
        c->hr = hr;
        c->op.fn = audit_fn;
        c->op.done = audit_done;
        if (audit_parse(hr, c, &e)) {
                http_reply_verr(hr, &e);
                free(c);
                return;
        }
        if (api_submit(hr, &c->op))
                free(c);
}
