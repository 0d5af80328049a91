/*
 * auth.c: who is calling. Reads "Authorization: Bearer <token>", finds the key
 * by the id inside the token in the in-memory keyring, checks it with
 * key_accepts (the token's SHA-256 digest compared in constant time with the
 * current one, or with the previous one during a rotation's grace period;
 * revocation and expiry), then the route's scope, then the key's token bucket.
 *
 * Workload: every request, on the loop thread; a hash lookup and, unless the
 * connection's memo holds the token (the same key as its last request), one
 * SHA-256 of a 53-byte token; no store access. A request without an
 * Authorization header may instead carry the web dashboard's session cookie:
 * its SHA-256 is looked up in the in-memory session table (sessring.h) and the
 * session's key checked as a token's would be, with the digest of the secret
 * the session signed in with. Assumptions: the keyring holds every key
 * (loaded at start, updated by the key handlers on this node). Secrets are
 * never logged: only key ids appear in messages.
 */
#include "server/auth.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "core/keys.h"
#include "server/config.h"
#include "server/keyring.h"
#include "server/sessring.h"

_Static_assert(KEY_TOKEN_LEN < HTTP_AUTH_TOKEN_MAX, "a token fits the memo");
_Static_assert(KEY_DIGEST_LEN < HTTP_AUTH_DIGEST_MAX, "a digest fits the memo");

/* A literal address in 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. Strict
 * inet_pton forms only: "127.1" or "0x7f.1", which getaddrinfo would also
 * take, are not literals here. */
static bool literal_loopback(const char *host)
{
        struct in_addr a4;
        struct in6_addr a6;

        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, host, &a6) == 1) {
                if (IN6_IS_ADDR_LOOPBACK(&a6))
                        return true;
                return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
        }
        return false;
}

static bool sockaddr_loopback(const struct sockaddr *sa)
{
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
                return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
                if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
                        return true;
                return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127;
        }
        return false;
}

/* "localhost" counts only when every address it resolves to is loopback: a
 * hosts file that maps it elsewhere must not open the server. Any other name
 * is refused without a lookup, since what a name resolves to can change. */
bool auth_host_loopback(const char *host)
{
        struct addrinfo hints, *res = NULL;
        bool ok = true;

        if (literal_loopback(host))
                return true;
        if (strcasecmp(host, "localhost") != 0)
                return false;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
                return false;
        for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
                if (!ai->ai_addr || !sockaddr_loopback(ai->ai_addr))
                        ok = false;
        freeaddrinfo(res);
        return ok;
}

bool auth_is_root(const struct http_req *hr)
{
        return hr->authed && (hr->scopes & SCOPE_ADMIN) && strcmp(hr->tenant, SERVER_TENANT) == 0;
}

static void reply_401(struct http_req *hr, const char *why)
{
        http_set_header(hr, "WWW-Authenticate", "Bearer realm=\"baton\"");
        http_reply_error(hr, 401, "unauthenticated", NULL, "%s", why);
}

/* The token of "Authorization: Bearer <token>", copied into tok; NULL when the
 * header is absent; "" when it is there but not a bearer token. */
static const char *bearer(const struct http_req *hr, char *tok, size_t cap)
{
        const char *v = http_header(hr, "Authorization");
        size_t n;

        if (!v)
                return NULL;
        tok[0] = '\0';
        while (*v == ' ' || *v == '\t')
                v++;
        if (strncasecmp(v, "Bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t'))
                return tok;
        v += 6;
        while (*v == ' ' || *v == '\t')
                v++;
        n = strcspn(v, " \t\r\n");
        if (n >= cap || v[n] != '\0')
                return tok;
        memcpy(tok, v, n);
        tok[n] = '\0';
        return tok;
}

/* Logs a refused key, at most a few lines per window (a client can send
 * refused requests as fast as it likes): the lines left out are counted and
 * the next line logged says how many. Every refusal also counts in the
 * route's 401 series of baton_http_requests_total. */
static void log_refusal(struct http_req *hr, const char *id)
{
        struct log_rate *r = http_refusal_log(hr->srv->http);
        struct log_ctx lc = {hr->request_id, NULL, 0};
        int64_t left_out = 0;

        if (!log_rate_take(r, clock_mono_ns(hr->srv->clock) / 1000000, &left_out))
                return;
        if (left_out)
                log_emit(LOG_INFO, "auth", &lc,
                         "refused key %s: unknown, revoked, expired or wrong secret (%lld "
                         "refusals not logged before this one; %lld in all)",
                         id, (long long)left_out, (long long)r->total);
        else
                log_emit(LOG_INFO, "auth", &lc,
                         "refused key %s: unknown, revoked, expired or wrong secret", id);
}

/* The digest of token t into digest: the connection's memo when t is the
 * token that last authenticated there (compared in constant time), else one
 * SHA-256. *memo_hit says which. */
static void token_digest(struct http_req *hr, const char *t, char *digest, bool *memo_hit)
{
        const struct http_auth_memo *m = http_auth_memo(hr);
        size_t n = strlen(t);

        *memo_hit = m && m->token[0] && n == strlen(m->token) && CRYPTO_memcmp(m->token, t, n) == 0;
        if (*memo_hit)
                memcpy(digest, m->digest, KEY_DIGEST_LEN + 1);
        else
                key_digest(t, digest);
}

/* Remembers t and its digest on the connection, once they authenticated. */
static void token_remember(struct http_req *hr, const char *t, const char *digest)
{
        struct http_auth_memo *m = http_auth_memo(hr);
        size_t n = strlen(t);

        if (!m || n >= sizeof(m->token))
                return;
        memcpy(m->token, t, n + 1);
        memcpy(m->digest, digest, KEY_DIGEST_LEN + 1);
}

/* The keyring entry of the request's token when the key accepts it now
 * (known, secret current or in its grace period, not revoked, not expired);
 * else NULL with *why the message of the 401 and *id the key id (or "").
 * The record is checked on every call, memo or not: what the memo saves is
 * only the hash of a token seen before. */
static struct keyring_entry *key_of(struct http_req *hr, char *id, const char **why)
{
        char tok[KEY_TOKEN_LEN + 2];
        char digest[KEY_DIGEST_LEN + 1];
        const char *t = bearer(hr, tok, sizeof(tok));
        struct keyring_entry *e;
        bool memo_hit = false;

        id[0] = '\0';
        if (!t) {
                *why = "an API key is required: send \"Authorization: Bearer <key>\"";
                return NULL;
        }
        if (!*t || key_token_id(t, id) != 0) {
                id[0] = '\0';
                *why = "the Authorization header does not hold a baton API key";
                return NULL;
        }
        e = keyring_get(hr->srv->keyring, id);
        token_digest(hr, t, digest, &memo_hit);
        if (!e || !key_accepts(&e->rec, digest, clock_wall_ms(hr->srv->clock))) {
                explicit_bzero(tok, sizeof(tok));
                *why = "the API key is unknown, revoked or expired";
                return NULL;
        }
        if (!memo_hit)
                token_remember(hr, t, digest);
        explicit_bzero(tok, sizeof(tok));
        return e;
}

/* Finds and checks the key of the request's token. Returns the entry, or NULL
 * after answering 401. */
static struct keyring_entry *authenticate(struct http_req *hr)
{
        char id[KEY_ID_LEN + 1];
        const char *why = NULL;
        struct keyring_entry *e = key_of(hr, id, &why);

        if (!e) {
                if (id[0])
                        log_refusal(hr, id);
                reply_401(hr, why);
        }
        return e;
}

/* Takes one request from the key's bucket; answers 429 when it is empty. */
static int rate_check(struct http_req *hr, struct keyring_entry *e)
{
        const struct config *cfg = hr->srv->cfg;
        int64_t max = e->rec.rate_max > 0 ? e->rec.rate_max : cfg->rate_limit_max;
        int64_t per = e->rec.rate_max > 0 ? e->rec.rate_per_ms : cfg->rate_limit_per_ms;
        /* The request's start (read once per request, in http.c) is the
         * instant it takes its token at. */
        int64_t now = hr->start_ns / 1000000 + 1;
        int64_t wait_ms = 0, wait_s;
        char ra[24];

        if (per <= 0 || keyring_take(e, max, per, now, &wait_ms))
                return 0;
        /* Retry-After is in whole seconds, rounded up, at least 1. */
        wait_s = (wait_ms + 999) / 1000;
        snprintf(ra, sizeof(ra), "%lld", (long long)(wait_s > 0 ? wait_s : 1));
        http_set_header(hr, "Retry-After", ra);
        http_reply_error(hr, 429, "rate_limited", NULL,
                         "key %s is over its rate limit of %lld requests per %lld ms; retry in "
                         "%lld ms",
                         e->rec.id, (long long)max, (long long)per, (long long)wait_ms);
        return -1;
}

static int scope_check(struct http_req *hr)
{
        const struct http_route *r = hr->route;

        /* admin holds every scope of its tenant. */
        if (r->scope && !(hr->scopes & (r->scope | SCOPE_ADMIN))) {
                http_reply_error(hr, 403, "forbidden", NULL, "this call needs the scope \"%s\"",
                                 key_scope_name(r->scope));
                return -1;
        }
        /* /metrics shows every tenant's queues: only the operator's tenant may
         * read it, with the metrics scope or admin. */
        if (r->scope == SCOPE_METRICS && strcmp(hr->tenant, SERVER_TENANT) != 0) {
                http_reply_error(hr, 403, "forbidden", NULL,
                                 "this call needs the scope \"%s\" on tenant \"%s\"",
                                 key_scope_name(r->scope), SERVER_TENANT);
                return -1;
        }
        return 0;
}

/* The value of cookie name in the request's Cookie header ("a=1; b=2"),
 * copied into out; NULL when it is absent, empty or does not fit. */
static const char *cookie_value(const struct http_req *hr, const char *name, char *out, size_t cap)
{
        const char *v = http_header(hr, "Cookie");
        size_t name_n = strlen(name);

        while (v && *v) {
                size_t n;
                while (*v == ' ' || *v == '\t' || *v == ';')
                        v++;
                n = strcspn(v, ";");
                if (n > name_n && strncmp(v, name, name_n) == 0 && v[name_n] == '=') {
                        size_t len = n - name_n - 1;
                        while (len &&
                               (v[name_n + 1 + len - 1] == ' ' || v[name_n + 1 + len - 1] == '\t'))
                                len--;
                        if (len == 0 || len >= cap)
                                return NULL;
                        memcpy(out, v + name_n + 1, len);
                        out[len] = '\0';
                        return out;
                }
                v += n;
        }
        return NULL;
}

/* The session of the request's cookie and its key, both still good at now;
 * else NULL after answering 401. */
static const struct sessring_entry *session_of(struct http_req *hr, const char *cookie,
                                               struct keyring_entry **key_out)
{
        char digest[KEY_DIGEST_LEN + 1];
        int64_t now = clock_wall_ms(hr->srv->clock);
        const struct sessring_entry *s;
        struct keyring_entry *e;

        key_digest(cookie, digest);
        s = sessring_get(hr->srv->sessring, digest);
        if (!s || s->rec.expires_at_ms <= now) {
                reply_401(hr, "the dashboard session is unknown, expired or signed out: sign in "
                              "again");
                return NULL;
        }
        e = keyring_get(hr->srv->keyring, s->rec.key_id);
        if (!e || !key_accepts(&e->rec, s->rec.key_digest, now)) {
                reply_401(hr, "the API key this session signed in with was revoked, expired or "
                              "rotated: sign in again");
                return NULL;
        }
        *key_out = e;
        return s;
}

/* A request the cookie authenticated that may change something (any method
 * but GET and HEAD) must carry its sign-in's CSRF token: a page of another
 * site can make the browser send the cookie, but cannot read the token. */
static int csrf_check(struct http_req *hr, const struct sessring_entry *s)
{
        const char *t = http_header(hr, "X-CSRF-Token");
        char digest[KEY_DIGEST_LEN + 1];

        if (hr->method == HTTP_GET || hr->method == HTTP_HEAD)
                return 0;
        if (t && *t) {
                key_digest(t, digest);
                if (key_digest_equal(digest, s->rec.csrf))
                        return 0;
        }
        http_reply_error(hr, 403, "csrf_required", "X-CSRF-Token",
                         "a request signed in by the dashboard's cookie that changes anything "
                         "must send the X-CSRF-Token header its sign-in answered");
        return -1;
}

/* Authenticates hr by the session cookie (no Authorization header). */
static int session_request(struct http_req *hr, const char *cookie)
{
        struct keyring_entry *e = NULL;
        const struct sessring_entry *s = session_of(hr, cookie, &e);

        if (!s)
                return -1;
        hr->tenant = e->rec.tenant;
        hr->key_id = e->rec.id;
        hr->scopes = e->rec.scopes;
        hr->authed = true;
        snprintf(hr->session_id, sizeof(hr->session_id), "%s", s->rec.id);
        if (csrf_check(hr, s) != 0 || rate_check(hr, e) != 0)
                return -1;
        return scope_check(hr);
}

int auth_sign_in(struct http_req *hr, const char *token, char *digest)
{
        char id[KEY_ID_LEN + 1];
        struct keyring_entry *e;

        id[0] = '\0';
        if (strlen(token) != KEY_TOKEN_LEN || key_token_id(token, id) != 0) {
                reply_401(hr, "\"key\" does not hold a baton API key");
                return -1;
        }
        e = keyring_get(hr->srv->keyring, id);
        key_digest(token, digest);
        if (!e || !key_accepts(&e->rec, digest, clock_wall_ms(hr->srv->clock))) {
                log_refusal(hr, id);
                reply_401(hr, "the API key is unknown, revoked or expired");
                return -1;
        }
        hr->tenant = e->rec.tenant;
        hr->key_id = e->rec.id;
        hr->scopes = e->rec.scopes;
        hr->authed = true;
        return rate_check(hr, e);
}

/* The key hr was authenticated by, if it still works: through the
 * session's cookie when a session signed the request in, else the
 * Authorization header. NULL when it stopped working. */
static struct keyring_entry *still_key(struct http_req *hr)
{
        char id[KEY_ID_LEN + 1];
        const char *why = NULL;
        struct keyring_entry *e;

        if (hr->session_id[0]) {
                const struct sessring_entry *se = sessring_get(hr->srv->sessring, hr->session_id);
                int64_t now = clock_wall_ms(hr->srv->clock);

                e = se ? keyring_get(hr->srv->keyring, se->rec.key_id) : NULL;
                if (!se || se->rec.expires_at_ms <= now || !e ||
                    !key_accepts(&e->rec, se->rec.key_digest, now))
                        return NULL;
                return e;
        }
        e = key_of(hr, id, &why);
        return e && strcmp(e->rec.id, hr->key_id) == 0 ? e : NULL;
}

int auth_still_valid(struct http_req *hr)
{
        struct keyring_entry *e;

        if (!hr->authed || !hr->key_id)
                return 0;
        e = still_key(hr);
        if (!e)
                return -1;
        hr->scopes = e->rec.scopes;
        return hr->route->scope && !(hr->scopes & (hr->route->scope | SCOPE_ADMIN)) ? -1 : 0;
}

int auth_recheck(struct http_req *hr)
{
        struct keyring_entry *e;

        /* Open routes, loopback-only routes and --insecure-no-auth name no key:
         * nothing can have changed. */
        if (!hr->authed || !hr->key_id)
                return 0;
        e = still_key(hr);
        if (!e && hr->session_id[0]) {
                reply_401(hr, "the dashboard session ended (signed out, expired, or its "
                              "key revoked or rotated) while the request waited");
                return -1;
        }
        if (!e) {
                struct log_ctx lc = {hr->request_id, NULL, 0};
                log_emit(LOG_INFO, "auth", &lc,
                         "key %s stopped working while its request waited (revoked, expired "
                         "or rotated): refused",
                         hr->key_id);
                reply_401(hr, "the API key was revoked, expired or rotated while the request "
                              "waited");
                return -1;
        }
        hr->scopes = e->rec.scopes;
        return scope_check(hr);
}

int auth_request(struct http_req *hr)
{
        const struct http_route *r = hr->route;
        struct keyring_entry *e;

        hr->tenant = SERVER_TENANT;
        if (r->auth == HTTP_AUTH_OPEN)
                return 0;
        /* --metrics-public: the operator chose to publish the metrics routes
         * without a key (a scraper that cannot send one). */
        if (r->scope == SCOPE_METRICS && hr->srv->cfg->metrics_public)
                return 0;
        if (hr->srv->cfg->insecure_no_auth) {
                hr->scopes = SCOPE_ALL;
                hr->authed = true;
                return 0;
        }
        if (!http_header(hr, "Authorization")) {
                char cookie[KEY_DIGEST_LEN + 2];
                if (cookie_value(hr, AUTH_SESSION_COOKIE, cookie, sizeof(cookie)))
                        return session_request(hr, cookie);
        }
        e = authenticate(hr);
        if (!e)
                return -1;
        hr->tenant = e->rec.tenant;
        hr->key_id = e->rec.id;
        hr->scopes = e->rec.scopes;
        hr->authed = true;
        if (rate_check(hr, e) != 0)
                return -1;
        return scope_check(hr);
}
