/*
 * api_sessions.c: the /v1/sessions routes of the web dashboard (docs/api.md,
 * "Dashboard sessions"): sign in with an API key (POST /v1/sessions), read
 * the current session (GET /v1/sessions/current) and sign out (DELETE
 * /v1/sessions/current). A sign-in makes two secrets here, on the loop
 * thread, from the CSPRNG: the cookie (Set-Cookie baton_session, HttpOnly,
 * SameSite=Strict, Secure under TLS) and the CSRF token (in the answer's
 * body only); the store keeps the SHA-256 of each (core/sessions.h). Each
 * change is committed with its audit row, then copied into the in-memory
 * session table (sessring.h) by the done callback, so it takes effect on the
 * next request this node serves.
 *
 * Workload: a sign-in or sign-out per person per day or so. Assumptions: the
 * sign-in route is open (the key is in its body, checked like a Bearer token
 * by auth_sign_in); the current-session routes need a request that the
 * cookie authenticated (one with an Authorization header has no session:
 * 404 not_found).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "core/keys.h"
#include "core/sessions.h"
#include "server/api_internal.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/keyring.h"
#include "server/sessring.h"

enum session_op_kind { S_CREATE, S_DELETE };

struct session_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        struct session_rec rec;
        char cookie[SESSION_SECRET_LEN + 1];
        char csrf[SESSION_SECRET_LEN + 1];
        int dropped; /* sessions of the key the sign-in dropped (the limit) */
        /* The key's sessions after the change, as the store holds them: the
         * table takes them (sessions the limit dropped go with it). */
        struct session_rec *rows;
        int n;
};

static void session_ctx_clear(struct api_ctx *base)
{
        struct session_ctx *c = container_of(base, struct session_ctx, base);

        session_rec_free(&c->rec);
        session_recs_free(c->rows, c->n);
        /* The secrets never outlive the request. */
        explicit_bzero(c->cookie, sizeof(c->cookie));
        explicit_bzero(c->csrf, sizeof(c->csrf));
}

static int session_fn(struct txn *tx, struct exec_op *op)
{
        struct session_ctx *c = container_of(op, struct session_ctx, base.op);
        struct http_req *hr = c->base.hr;
        int rc;

        if (c->base.kind == S_DELETE) {
                rc = sessions_delete(tx, hr->key_id, hr->session_id);
                rc = rc ? rc : api_audit_success(tx, hr, 204, hr->key_id, NULL);
        } else {
                rc = sessions_create(tx, &c->rec, SESSIONS_PER_KEY_MAX, &c->dropped);
                rc = rc ? rc : api_audit_success(tx, hr, 201, hr->key_id, NULL);
        }
        return rc ? rc : sessions_of_key(tx, hr->key_id, &c->rows, &c->n);
}

static void scopes_json(struct jw *w, uint32_t scopes)
{
        jw_arr_open(w);
        for (uint32_t bit = 1; bit & SCOPE_ALL; bit <<= 1)
                if (scopes & bit)
                        jw_str(w, key_scope_name(bit));
        jw_arr_close(w);
}

/* {"expires_at", "key_id", "scopes", "tenant"} of a session acting as the
 * request's key. */
static void session_json(struct jw *w, const struct http_req *hr, int64_t expires_at_ms)
{
        jw_obj_open(w);
        jw_ktime(w, "expires_at", expires_at_ms);
        jw_kstr(w, "key_id", hr->key_id);
        jw_key(w, "scopes");
        scopes_json(w, hr->scopes);
        jw_kstr(w, "tenant", hr->tenant);
        jw_obj_close(w);
}

/* Set-Cookie of the session (value "" with Max-Age=0 clears it). */
static void set_cookie(struct http_req *hr, const char *value, int64_t max_age_s)
{
        char v[256];

        snprintf(v, sizeof(v), "%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%lld%s",
                 AUTH_SESSION_COOKIE, value, (long long)max_age_s,
                 http_tls_on(hr->srv->http) ? "; Secure" : "");
        http_set_header(hr, "Set-Cookie", v);
        http_set_header(hr, "Cache-Control", "no-store");
}

static void session_done(struct exec_op *op)
{
        struct session_ctx *c = container_of(op, struct session_ctx, base.op);
        struct http_req *hr = c->base.hr;
        struct server *srv = hr->srv;
        int64_t expires_at_ms = c->rec.expires_at_ms, max_age_s;
        struct jw w;

        if (op->rc == BATON_ENOTFOUND && c->base.kind == S_DELETE) {
                /* Signed out on another node whose note has not arrived yet:
                 * this node's copy goes now. */
                sessring_drop(srv->sessring, hr->session_id);
                http_reply_error(hr, 404, "not_found", NULL, "the session was already signed out");
                goto out;
        }
        if (op->rc) {
                api_reply_rc(hr, op->rc, "session");
                goto out;
        }
        /* The change is committed: the table follows before the answer. */
        if (sessring_replace_key(srv->sessring, hr->key_id, c->rows, c->n) != 0)
                log_error("sessions",
                          "the sessions of key %s changed in the store but not in "
                          "memory (out of memory)",
                          hr->key_id);
        if (c->base.kind == S_DELETE) {
                set_cookie(hr, "", 0);
                http_reply_raw(hr, 204, "application/json", "", 0);
                goto out;
        }
        if (c->dropped)
                log_info("sessions", "key %s signed in beyond %d sessions: %d older dropped",
                         hr->key_id, SESSIONS_PER_KEY_MAX, c->dropped);
        max_age_s = (expires_at_ms - c->rec.created_at_ms + 999) / 1000;
        set_cookie(hr, c->cookie, max_age_s);
        jw_init(&w, http_out(srv));
        jw_obj_open(&w);
        jw_key(&w, "session");
        session_json(&w, hr, expires_at_ms);
        jw_kstr(&w, "csrf_token", c->csrf);
        jw_obj_close(&w);
        api_reply_jw(hr, 201, &w);
out:
        api_ctx_free(&c->base);
}

static const struct api_ctx_def session_def = {sizeof(struct session_ctx), session_fn, session_done,
                                               session_ctx_clear,          NULL,       NULL};

/* The session's expiry: --session-ttl-s from now, but not after the key's
 * own expiry (the session would stop working then anyway). */
static int64_t session_expiry(const struct http_req *hr, int64_t now_ms)
{
        const struct keyring_entry *e = keyring_get(hr->srv->keyring, hr->key_id);
        int64_t at = now_ms + hr->srv->cfg->session_ttl_s * 1000;

        if (e && e->rec.expires_at_ms > 0 && e->rec.expires_at_ms < at)
                at = e->rec.expires_at_ms;
        return at;
}

static int create_parse(struct http_req *hr, struct session_ctx *c, const char *digest,
                        struct verr *e)
{
        struct session_rec *r = &c->rec;
        char hash[KEY_DIGEST_LEN + 1];
        int rc = session_secret_new(c->cookie);

        if (!rc)
                rc = session_secret_new(c->csrf);
        if (rc)
                return verr_set(e, rc, "internal", NULL, "no session could be made: %s",
                                baton_strerror(rc));
        key_digest(c->cookie, hash);
        r->id = strdup(hash);
        key_digest(c->csrf, hash);
        r->csrf = strdup(hash);
        r->key_id = strdup(hr->key_id);
        r->key_digest = strdup(digest);
        r->tenant = strdup(hr->tenant);
        if (!r->id || !r->csrf || !r->key_id || !r->key_digest || !r->tenant)
                return verr_set(e, BATON_ENOMEM, "internal", NULL, "out of memory");
        r->expires_at_ms = session_expiry(hr, clock_wall_ms(hr->srv->clock));
        return 0;
}

void api_sessions_create(struct http_req *hr)
{
        char digest[KEY_DIGEST_LEN + 1];
        const char *token = NULL;
        struct session_ctx *c;
        struct verr e;
        int rc;

        rc = api_known_fields(hr->body, "", "key", &e);
        if (!rc)
                rc = api_get_str(hr->body, "", "key", true, &token, &e);
        if (rc) {
                http_reply_verr(hr, &e);
                return;
        }
        /* The key is checked as a Bearer token would be (401 when it is
         * not one that works). */
        if (auth_sign_in(hr, token, digest) != 0)
                return;
        c = api_ctx_new(hr, &session_def, S_CREATE, false);
        if (!c)
                return;
        rc = create_parse(hr, c, digest, &e);
        explicit_bzero(digest, sizeof(digest));
        api_ctx_submit(&c->base, rc, &e);
}

/* The current-session routes need a request the cookie authenticated. */
static bool has_session(struct http_req *hr)
{
        if (hr->session_id[0])
                return true;
        http_reply_error(hr, 404, "not_found", NULL,
                         "this request carries no dashboard session (it was authenticated by "
                         "an Authorization header, or by none)");
        return false;
}

void api_sessions_current(struct http_req *hr)
{
        const struct sessring_entry *s;
        struct jw w;

        if (!has_session(hr))
                return;
        s = sessring_get(hr->srv->sessring, hr->session_id);
        if (!s) {
                http_reply_error(hr, 404, "not_found", NULL, "the session was signed out");
                return;
        }
        jw_init(&w, http_out(hr->srv));
        jw_obj_open(&w);
        jw_key(&w, "session");
        session_json(&w, hr, s->rec.expires_at_ms);
        jw_obj_close(&w);
        http_set_header(hr, "Cache-Control", "no-store");
        api_reply_jw(hr, 200, &w);
}

void api_sessions_delete(struct http_req *hr)
{
        struct session_ctx *c;

        if (!has_session(hr))
                return;
        c = api_ctx_new(hr, &session_def, S_DELETE, false);
        if (c)
                api_ctx_submit(&c->base, 0, NULL);
}
