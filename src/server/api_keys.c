/*
 * api_keys.c: the /v1/keys routes: create a key (its secret is in this answer
 * only), list keys (never secrets or digests), revoke and rotate. Each change
 * is applied in one transaction with its audit row, then copied into the
 * in-memory keyring by the done callback, so it takes effect on the next
 * request this node serves.
 *
 * Workload: administrative, a few calls per day. Assumptions: the caller holds
 * admin (the route table checks it); a key of tenant "default" with admin may
 * act on every tenant, any other only on its own, and another tenant's key is
 * 404 to it. Tokens are made here, on the loop thread, from the CSPRNG
 * (key_token_new); only their digests reach the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "core/keys.h"
#include "server/api_internal.h"
#include "server/auth.h"
#include "server/keyring.h"

/* Longest rotation grace period: 7 days. */
#define KEYS_GRACE_MAX_MS (7LL * 24 * 3600 * 1000)
/* Furthest expiry: 100 years. */
#define KEYS_EXPIRY_MAX_MS (36525LL * 24 * 3600 * 1000)
#define KEYS_RATE_MAX 1000000000LL
#define KEYS_RATE_PER_MS_MAX 86400000LL
#define KEYS_DETAIL_MAX (64 * 1024)

enum key_op_kind { K_CREATE, K_LIST, K_REVOKE, K_ROTATE };

struct key_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        const char *tenant;  /* tenant the call acts on; NULL = any (root) */
        struct key_rec key;  /* create: the new key; revoke, rotate: the key after */
        char token[KEY_TOKEN_LEN + 1];
        char digest[KEY_DIGEST_LEN + 1];
        int64_t grace_ms;
        char *detail; /* audit detail JSON, owned */
        /* List. */
        const char *after; /* key id cursor, owned by hr */
        int limit;
        struct key_rec *rows;
        int n;
};

/* api_ctx_def.clear: what the context holds. */
static void key_ctx_clear(struct api_ctx *base)
{
        struct key_ctx *c = container_of(base, struct key_ctx, base);

        key_rec_free(&c->key);
        key_recs_free(c->rows, c->n);
        /* The token never outlives the request. */
        explicit_bzero(c->token, sizeof(c->token));
        free(c->detail);
}

static int key_fn(struct txn *tx, struct exec_op *op)
{
        struct key_ctx *c = container_of(op, struct key_ctx, base.op);
        int rc;

        switch (c->base.kind) {
        case K_CREATE:
                rc = keys_create(tx, &c->key);
                rc = rc ? rc : api_audit_success(tx, c->base.hr, 201, c->key.id, c->detail);
                break;
        case K_LIST:
                return keys_query(tx, c->tenant, c->after, c->limit + 1, &c->rows, &c->n);
        case K_REVOKE:
                rc = keys_revoke(tx, c->tenant, c->base.param, &c->key);
                rc = rc ? rc : api_audit_success(tx, c->base.hr, 200, c->base.param, NULL);
                break;
        default:
                rc = keys_rotate(tx, c->tenant, c->base.param, c->digest, c->grace_ms, &c->key);
                rc = rc ? rc : api_audit_success(tx, c->base.hr, 200, c->base.param, c->detail);
                break;
        }
        /* Other nodes reload the key when this commits (txn_notify). */
        return rc ? rc : txn_note_key(tx, c->key.id);
}

static void scopes_json(struct jw *w, uint32_t scopes)
{
        jw_arr_open(w);
        for (uint32_t bit = 1; bit & SCOPE_ALL; bit <<= 1)
                if (scopes & bit)
                        jw_str(w, key_scope_name(bit));
        jw_arr_close(w);
}

static const char *key_state(const struct key_rec *k, int64_t now_ms)
{
        if (k->revoked_at_ms)
                return "revoked";
        if (k->expires_at_ms && k->expires_at_ms <= now_ms)
                return "expired";
        return "active";
}

/* The key object of docs/api.md (never its secret). */
static void key_json(struct jw *w, const struct key_rec *k, int64_t now_ms)
{
        jw_obj_open(w);
        jw_kstr(w, "id", k->id);
        jw_kstr(w, "name", k->name);
        jw_kstr(w, "tenant", k->tenant);
        jw_key(w, "scopes");
        scopes_json(w, k->scopes);
        jw_kstr(w, "state", key_state(k, now_ms));
        jw_ktime(w, "created_at", k->created_at_ms);
        jw_ktime(w, "expires_at", k->expires_at_ms);
        jw_ktime(w, "revoked_at", k->revoked_at_ms);
        jw_ktime(w, "rotated_at", k->rotated_at_ms);
        jw_ktime(w, "previous_valid_until",
                 k->prev_digest && k->prev_until_ms > now_ms ? k->prev_until_ms : 0);
        jw_key(w, "rate_limit");
        if (k->rate_max > 0) {
                jw_obj_open(w);
                jw_kint(w, "max", k->rate_max);
                jw_kint(w, "per_ms", k->rate_per_ms);
                jw_obj_close(w);
        } else {
                jw_null(w);
        }
        jw_kstr(w, "created_by", k->created_by);
        jw_obj_close(w);
}

/* What list_item reads: the keys, and the instant their states are taken at. */
struct list_page {
        const struct key_rec *rows;
        int64_t now_ms;
};

static void list_item(struct jw *w, const void *arg, int i)
{
        const struct list_page *lp = arg;

        key_json(w, &lp->rows[i], lp->now_ms);
}

static void list_json(struct jw *w, const struct key_ctx *c, int64_t now_ms)
{
        struct list_page lp = {c->rows, now_ms};
        int last;

        jw_obj_open(w);
        last = api_page_write(w, c->base.hr->srv->limits, "keys", c->n, c->limit, false, list_item,
                              &lp);
        jw_kstr(w, "next", last >= 0 ? c->rows[last].id : NULL);
        jw_obj_close(w);
}

/* {"key": {...}} under its kind (docs/api.md, "Answer shapes"), and beside it
 * the secret of a creation or rotation ("secret"), which is not a member of the
 * key object: it appears in this answer only. */
static void key_answer_json(struct jw *w, const struct key_rec *k, const char *secret,
                            int64_t now_ms)
{
        jw_obj_open(w);
        jw_key(w, "key");
        key_json(w, k, now_ms);
        if (secret)
                jw_kstr(w, "secret", secret);
        jw_obj_close(w);
}

/* A rotation keys_rotate refused: the key is revoked or has expired. */
static void reply_rotate_refused(struct key_ctx *c)
{
        if (c->key.revoked_at_ms)
                http_reply_error(c->base.hr, 409, "key_revoked", "id",
                                 "key %s is revoked: a revoked key cannot be rotated (create a "
                                 "new key)",
                                 c->base.param);
        else
                http_reply_error(c->base.hr, 409, "key_expired", "id",
                                 "key %s has expired: an expired key cannot be rotated (create a "
                                 "new key)",
                                 c->base.param);
}

static void key_done(struct exec_op *op)
{
        struct key_ctx *c = container_of(op, struct key_ctx, base.op);
        struct server *srv = c->base.hr->srv;
        int64_t now = clock_wall_ms(srv->clock);
        bool secret = c->base.kind == K_CREATE || c->base.kind == K_ROTATE;
        struct jw w;

        if (op->rc == BATON_ECONFLICT && c->base.kind == K_ROTATE) {
                reply_rotate_refused(c);
                goto out;
        }
        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "key");
                goto out;
        }
        jw_init(&w, http_out(srv));
        if (c->base.kind == K_LIST)
                list_json(&w, c, now);
        else
                key_answer_json(&w, &c->key, secret ? c->token : NULL, now);
        /* The change is committed: the keyring follows before the answer. */
        if (c->base.kind != K_LIST && keyring_put(srv->keyring, &c->key) != 0)
                log_error("keys", "key %s changed in the store but not in memory (out of memory)",
                          c->base.param ? c->base.param : "(new)");
        api_reply_jw(c->base.hr, c->base.kind == K_CREATE ? 201 : 200, &w);
out:
        api_ctx_free(&c->base);
}

/* "k" + 16 lowercase hex: the shape of every key id. */
static bool id_shaped(const char *s)
{
        if (!s || s[0] != 'k' || strlen(s) != KEY_ID_LEN)
                return false;
        for (int i = 1; i < KEY_ID_LEN; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* api_ctx_def.check of the {id} path parameter (400 invalid_id). */
static int check_id(const struct limits *l, const char *field, const char *id, struct verr *e)
{
        (void)l;
        if (!id_shaped(id))
                return verr_set(e, BATON_EINVAL, "invalid_id", field,
                                "a key id is \"k\" followed by 16 hex digits");
        return 0;
}

static const struct api_ctx_def key_def = {sizeof(struct key_ctx), key_fn, key_done,
                                           key_ctx_clear,          "id",   check_id};

/* The context of kind, acting on the caller's tenant (any, for root); with_id:
 * its route has the {id} parameter. */
static struct key_ctx *key_ctx_new(struct http_req *hr, int kind, bool with_id)
{
        struct key_ctx *c = api_ctx_new(hr, &key_def, kind, with_id);

        if (c)
                c->tenant = auth_is_root(hr) ? NULL : hr->tenant;
        return c;
}

/* ---- create ---- */

static int parse_scopes(json_t *body, uint32_t *out, struct verr *e)
{
        json_t *v = json_object_get(body, "scopes");
        char f[32];
        size_t i;
        json_t *s;

        if (!v || json_is_null(v))
                return verr_set(e, BATON_EINVAL, "missing_field", "scopes",
                                "scopes is required: a list such as [\"jobs:write\"]");
        if (!json_is_array(v) || json_array_size(v) == 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", "scopes",
                                "scopes must be a non-empty array of scope names");
        *out = 0;
        json_array_foreach(v, i, s)
        {
                uint32_t bit = json_is_string(s) ? key_scope_parse(json_string_value(s)) : 0;
                if (!bit) {
                        snprintf(f, sizeof(f), "scopes[%zu]", i);
                        return verr_set(e, BATON_EINVAL, "invalid_scope", f,
                                        "%s is not a scope: use jobs:write, jobs:read, work, "
                                        "cron:read, cron:write, cron:run, admin, metrics or "
                                        "events:read",
                                        f);
                }
                *out |= bit;
        }
        return 0;
}

static int parse_expiry(json_t *body, int64_t now_ms, int64_t *out, struct verr *e)
{
        const char *s = NULL;
        int rc = api_get_str(body, "", "expires_at", false, &s, e);

        if (rc || !s)
                return rc;
        if (time_parse_ms(s, out) != 0)
                return verr_set(e, BATON_EINVAL, "invalid_time", "expires_at",
                                "expires_at must be an RFC 3339 time");
        if (*out <= now_ms || *out > now_ms + KEYS_EXPIRY_MAX_MS)
                return verr_set(e, BATON_ERANGE, "expires_at_out_of_range", "expires_at",
                                "expires_at must be in the future (and within 100 years)");
        return 0;
}

static int parse_rate_member(json_t *rl, const char *name, int64_t max, int64_t *out,
                             struct verr *e)
{
        bool present = false;
        char f[40];
        int rc = api_get_int(rl, "rate_limit", name, &present, out, e);

        snprintf(f, sizeof(f), "rate_limit.%s", name);
        if (rc)
                return rc;
        if (!present)
                return verr_set(e, BATON_EINVAL, "missing_field", f, "%s is required", f);
        if (*out < 1 || *out > max)
                return verr_set(e, BATON_ERANGE, "rate_limit_out_of_range", f,
                                "%s must be 1 ... %lld", f, (long long)max);
        return 0;
}

static int parse_rate(json_t *body, struct key_rec *k, struct verr *e)
{
        json_t *rl = json_object_get(body, "rate_limit");
        int rc;

        if (!rl || json_is_null(rl))
                return 0;
        if (!json_is_object(rl))
                return verr_set(e, BATON_EINVAL, "invalid_field", "rate_limit",
                                "rate_limit must be an object {\"max\", \"per_ms\"}");
        rc = api_known_fields(rl, "rate_limit", "max per_ms", e);
        if (!rc)
                rc = parse_rate_member(rl, "max", KEYS_RATE_MAX, &k->rate_max, e);
        if (!rc)
                rc = parse_rate_member(rl, "per_ms", KEYS_RATE_PER_MS_MAX, &k->rate_per_ms, e);
        return rc;
}

/* name and tenant; another tenant than the caller's needs root. */
static int parse_names(struct http_req *hr, const char **name, const char **tenant, struct verr *e)
{
        const struct limits *l = hr->srv->limits;
        int rc = api_known_fields(hr->body, "", "name tenant scopes expires_at rate_limit", e);

        if (!rc)
                rc = api_get_str(hr->body, "", "name", true, name, e);
        if (!rc)
                rc = validate_key(l, "name", *name, e);
        if (!rc)
                rc = api_get_str(hr->body, "", "tenant", false, tenant, e);
        if (rc)
                return rc;
        if (!*tenant)
                *tenant = hr->tenant;
        rc = validate_name(l, "tenant", *tenant, e);
        if (!rc && strcmp(*tenant, hr->tenant) != 0 && !auth_is_root(hr))
                rc = verr_set(e, BATON_EFORBIDDEN, "forbidden", "tenant",
                              "keys for another tenant need the scope \"admin\" on tenant "
                              "\"%s\"",
                              SERVER_TENANT);
        return rc;
}

/* The audit detail of a creation: what was granted, never the secret. */
static char *create_detail(const struct key_rec *k)
{
        struct buf b;
        struct jw w;

        buf_init(&b, KEYS_DETAIL_MAX);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_kstr(&w, "tenant", k->tenant);
        jw_kstr(&w, "name", k->name);
        jw_key(&w, "scopes");
        scopes_json(&w, k->scopes);
        jw_ktime(&w, "expires_at", k->expires_at_ms);
        if (k->rate_max > 0) {
                jw_kint(&w, "rate_max", k->rate_max);
                jw_kint(&w, "rate_per_ms", k->rate_per_ms);
        }
        jw_obj_close(&w);
        if (w.err) {
                buf_free(&b);
                return NULL;
        }
        return buf_take(&b);
}

static int create_parse(struct http_req *hr, struct key_ctx *c, struct verr *e)
{
        struct key_rec *k = &c->key;
        const char *name = NULL, *tenant = NULL;
        int rc = parse_names(hr, &name, &tenant, e);

        if (!rc)
                rc = parse_scopes(hr->body, &k->scopes, e);
        if (!rc)
                rc = parse_expiry(hr->body, clock_wall_ms(hr->srv->clock), &k->expires_at_ms, e);
        if (!rc)
                rc = parse_rate(hr->body, k, e);
        if (rc)
                return rc;
        k->id = calloc(1, KEY_ID_LEN + 1);
        k->digest = calloc(1, KEY_DIGEST_LEN + 1);
        k->name = strdup(name);
        k->tenant = strdup(tenant);
        k->created_by = strdup(hr->key_id ? hr->key_id : "insecure-no-auth");
        if (!k->id || !k->digest || !k->name || !k->tenant || !k->created_by)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        rc = key_token_new(k->id, c->token, k->digest);
        if (rc)
                return verr_set(e, rc, "internal", NULL, "no key could be made: %s",
                                baton_strerror(rc));
        c->detail = create_detail(k);
        if (!c->detail)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        return 0;
}

void api_keys_create(struct http_req *hr)
{
        struct key_ctx *c = key_ctx_new(hr, K_CREATE, false);
        struct verr e;

        if (c)
                api_ctx_submit(&c->base, create_parse(hr, c, &e), &e);
}

/* ---- list ---- */

void api_keys_list(struct http_req *hr)
{
        struct key_ctx *c = key_ctx_new(hr, K_LIST, false);
        const char *after = http_query(hr, "after");
        struct verr e;
        int rc;

        if (!c)
                return;
        rc = api_query_limit(hr, &c->limit, &e);
        if (!rc)
                rc = api_query_tenant(hr, &c->tenant, &e);
        if (!rc && after && *after) {
                if (!id_shaped(after))
                        rc = verr_set(&e, BATON_EINVAL, "invalid_cursor", "after",
                                      "after is not a cursor this server handed out");
                c->after = after;
        }
        api_ctx_submit(&c->base, rc, &e);
}

/* ---- revoke and rotate ---- */

void api_keys_revoke(struct http_req *hr)
{
        struct key_ctx *c = key_ctx_new(hr, K_REVOKE, true);

        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}

static int rotate_parse(struct http_req *hr, struct key_ctx *c, struct verr *e)
{
        bool present = false;
        char detail[64];
        int rc = 0;

        rc = api_known_fields(hr->body, "", "grace_ms", e);
        if (!rc && hr->body)
                rc = api_get_int(hr->body, "", "grace_ms", &present, &c->grace_ms, e);
        if (rc)
                return rc;
        if (c->grace_ms < 0 || c->grace_ms > KEYS_GRACE_MAX_MS)
                return verr_set(e, BATON_ERANGE, "grace_ms_out_of_range", "grace_ms",
                                "grace_ms must be 0 ... %lld (7 days)",
                                (long long)KEYS_GRACE_MAX_MS);
        rc = key_token_renew(c->base.param, c->token, c->digest);
        if (rc)
                return verr_set(e, rc, "internal", NULL, "no key could be made: %s",
                                baton_strerror(rc));
        snprintf(detail, sizeof(detail), "{\"grace_ms\":%lld}", (long long)c->grace_ms);
        c->detail = strdup(detail);
        if (!c->detail)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        return 0;
}

void api_keys_rotate(struct http_req *hr)
{
        struct key_ctx *c = key_ctx_new(hr, K_ROTATE, true);
        struct verr e;

        if (c)
                api_ctx_submit(&c->base, rotate_parse(hr, c, &e), &e);
}
