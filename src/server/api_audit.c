/*
 * api_audit.c: the audit log's server side: the row of a successful audited
 * call (written inside the call's own transaction), the count of refused ones
 * (written by a separate op, since the call's transaction rolled back or never
 * ran; refusals of one identity are coalesced while an op of it is in flight)
 * and GET /v1/audit.
 *
 * Workload: audited calls are administrative (keys, queue settings, dead
 * letters): a few per minute. Assumptions: rows hold ids, names, codes and
 * small detail objects, never secrets or payloads; the route table says which
 * routes are audited and under which action.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
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

/*
 * Refusals are counted per key, action, status and code in one row a minute
 * (core/keys.h audit_refusal_write). A key refused in a loop (at its rate
 * limit, 429, for one) must not cost a store write per call either: while a
 * refusal's op is in flight, later refusals of the same identity only count
 * here, and the op's done callback sends their count in one op. So a flood
 * costs at most one op per identity per commit. Loop thread only; at most
 * AUDIT_PENDING_MAX identities are coalesced at once (beyond, each refusal
 * is an op of its own, as before).
 */
#define AUDIT_PENDING_MAX 256

struct audit_slot {
        char *ident;           /* tenant|key|action|status|code; NULL = free */
        int64_t more;          /* refusals seen while the op was in flight */
        struct audit_rec last; /* the latest of them (strings owned), for the next op */
};

struct audit_pending {
        struct audit_slot v[AUDIT_PENDING_MAX];
};

struct refusal_op {
        struct exec_op op;
        struct server *srv;
        struct audit_rec rec; /* strings owned here */
        int slot;             /* its audit_slot, or -1 */
};

static void refusal_free(struct refusal_op *c)
{
        audit_rec_free(&c->rec);
        free(c);
}

static void slot_clear(struct audit_slot *s)
{
        free(s->ident);
        audit_rec_free(&s->last);
        memset(s, 0, sizeof(*s));
}

void api_audit_free(struct server *srv)
{
        if (!srv->audit_pending)
                return;
        for (int i = 0; i < AUDIT_PENDING_MAX; i++)
                slot_clear(&srv->audit_pending->v[i]);
        free(srv->audit_pending);
        srv->audit_pending = NULL;
}

static int refusal_fn(struct txn *tx, struct exec_op *op)
{
        struct refusal_op *c = container_of(op, struct refusal_op, op);

        return audit_refusal_write(tx, &c->rec);
}

static void refusal_done(struct exec_op *op);

/* Submits c (its rec.n refusals); frees it (and its slot) when the server no
 * longer takes ops. */
static void refusal_submit(struct refusal_op *c)
{
        c->op.fn = refusal_fn;
        c->op.done = refusal_done;
        if (server_submit(c->srv, &c->op) == 0)
                return;
        if (c->slot >= 0 && c->srv->audit_pending)
                slot_clear(&c->srv->audit_pending->v[c->slot]);
        refusal_free(c);
}

/* The refusals counted while op was in flight go out in the next op, which
 * keeps the slot; with none, the slot is free again. */
static void refusal_done(struct exec_op *op)
{
        struct refusal_op *c = container_of(op, struct refusal_op, op);
        struct audit_slot *s =
            c->slot >= 0 && c->srv->audit_pending ? &c->srv->audit_pending->v[c->slot] : NULL;

        if (op->rc && op->rc != BATON_ESHUTDOWN)
                log_warn("audit", "could not record %lld refusal(s) of %s (request %s): %s",
                         (long long)c->rec.n, c->rec.action, c->rec.request_id,
                         baton_strerror(op->rc));
        audit_rec_free(&c->rec);
        if (!s || s->more == 0 || op->rc) {
                if (s)
                        slot_clear(s);
                free(c);
                return;
        }
        /* The op is reused for the next batch of this identity. */
        memset(&c->op, 0, sizeof(c->op));
        c->rec = s->last;
        memset(&s->last, 0, sizeof(s->last));
        c->rec.n = s->more;
        s->more = 0;
        refusal_submit(c);
}

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

/* The slot of ident with an op in flight (-1: none); *free_out gets a free
 * slot (-1: none). */
static int slot_find(struct audit_pending *ap, const char *ident, int *free_out)
{
        *free_out = -1;
        for (int i = 0; i < AUDIT_PENDING_MAX; i++) {
                if (!ap->v[i].ident) {
                        if (*free_out < 0)
                                *free_out = i;
                } else if (strcmp(ap->v[i].ident, ident) == 0) {
                        return i;
                }
        }
        return -1;
}

/* Counts c's refusal in the slot of its identity when an op of it is in
 * flight (c is then freed, true); otherwise takes a free slot for c (or none)
 * and returns false: c is to be submitted. */
static bool refusal_coalesce(struct refusal_op *c)
{
        struct server *srv = c->srv;
        struct audit_slot *s;
        char *ident = NULL;
        int i, free_i;

        c->slot = -1;
        if (!srv->audit_pending && !(srv->audit_pending = calloc(1, sizeof(*srv->audit_pending))))
                return false;
        if (asprintf(&ident, "%s|%s|%s|%d|%s", c->rec.tenant ? c->rec.tenant : "-",
                     c->rec.key_id ? c->rec.key_id : "-", c->rec.action, c->rec.status,
                     c->rec.code ? c->rec.code : "-") < 0)
                return false;
        i = slot_find(srv->audit_pending, ident, &free_i);
        if (i < 0) {
                if (free_i >= 0) {
                        srv->audit_pending->v[free_i].ident = ident;
                        c->slot = free_i;
                } else {
                        free(ident);
                }
                return false;
        }
        free(ident);
        s = &srv->audit_pending->v[i];
        s->more++;
        /* The row shows the latest refusal's target and request id. */
        audit_rec_free(&s->last);
        s->last = c->rec;
        memset(&c->rec, 0, sizeof(c->rec));
        free(c);
        return true;
}

void api_audit_refusal(const struct http_req *hr, int status, const char *code)
{
        struct refusal_op *c = calloc(1, sizeof(*c));
        const char *target =
            hr->route->pattern && strchr(hr->route->pattern, '{') ? http_param(hr, 0) : NULL;

        if (!c)
                goto fail;
        c->srv = hr->srv;
        c->rec.key_id = dup_or_null(hr->key_id);
        c->rec.tenant = dup_or_null(hr->tenant);
        c->rec.action = dup_or_null(hr->route->audit);
        c->rec.target = dup_or_null(target);
        c->rec.request_id = dup_or_null(hr->request_id);
        c->rec.code = dup_or_null(code);
        c->rec.status = status;
        c->rec.n = 1;
        if ((hr->key_id && !c->rec.key_id) || !c->rec.tenant || !c->rec.action ||
            (target && !c->rec.target) || !c->rec.request_id || (code && !c->rec.code))
                goto fail;
        if (refusal_coalesce(c))
                return;
        refusal_submit(c);
        return;
fail:
        log_warn("audit", "out of memory recording the refusal of %s (request %s)",
                 hr->route->audit, hr->request_id);
        if (c)
                refusal_free(c);
}

/* ---- GET /v1/audit ---- */

struct audit_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct audit_filter f;
        int limit;
        struct audit_rec *rows;
        int n;
};

static int audit_fn(struct txn *tx, struct exec_op *op)
{
        struct audit_ctx *c = container_of(op, struct audit_ctx, base.op);

        return audit_query(tx, &c->f, &c->rows, &c->n);
}

static void entry_json(struct jw *w, const struct audit_rec *r)
{
        jw_obj_open(w);
        api_kid(w, "id", r->id);
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

static void page_entry(struct jw *w, const void *arg, int i)
{
        const struct audit_rec *rows = arg;

        entry_json(w, &rows[i]);
}

static void audit_done(struct exec_op *op)
{
        struct audit_ctx *c = container_of(op, struct audit_ctx, base.op);
        struct jw w;
        int last;

        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, NULL);
                goto out;
        }
        jw_init(&w, http_out(c->base.hr->srv));
        jw_obj_open(&w);
        last = api_page_write(&w, c->base.hr->srv->limits, "entries", c->n, c->limit, false,
                              page_entry, c->rows);
        /* The cursor is the last entry answered: a page cut by the byte
         * budget resumes at the first entry it left out. */
        api_kid(&w, "next", last >= 0 ? c->rows[last].id : 0);
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, 200, &w);
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
                        return verr_set(e, BATON_EINVAL, "invalid_field", key,
                                        "%s must be printable ASCII without spaces", key);
        if (!*v || strlen(v) > max)
                return verr_set(e, BATON_EINVAL, "invalid_field", key,
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
                return verr_set(e, BATON_EFORBIDDEN, "forbidden", "tenant",
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
        int rc = api_query_page(hr, &c->limit, &c->f.after_id, e);

        if (!rc)
                rc = query_token(hr, "action", AUDIT_ACTION_MAX, &c->f.action, e);
        if (!rc)
                rc = query_token(hr, "key_id", KEY_ID_LEN, &c->f.key_id, e);
        if (!rc)
                rc = api_query_tenant(hr, &c->f.tenant, e);
        c->f.limit = c->limit + 1;
        return rc;
}

static const struct api_ctx_def audit_def = {
    sizeof(struct audit_ctx), audit_fn, audit_done, NULL, NULL, NULL};

void api_audit_list(struct http_req *hr)
{
        struct audit_ctx *c = api_ctx_new(hr, &audit_def, 0, false);
        struct verr e;

        if (!c)
                return;
        api_ctx_submit(&c->base, audit_parse(hr, c, &e), &e);
}
