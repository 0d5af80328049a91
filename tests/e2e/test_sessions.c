/*
 * test_sessions.c: the web dashboard's sessions (docs/api.md, "Dashboard
 * sessions"): POST /v1/sessions exchanges an API key for a cookie
 * (HttpOnly, SameSite=Strict, Path=/, Max-Age of --session-ttl-s) and a
 * CSRF token; a request with the cookie acts as the key (its tenant and
 * scopes), one that changes anything needs the token (403 csrf_required
 * without it or with another), the session dies with its key (revoked,
 * rotated away) and at its expiry, survives a restart (it is in the
 * store), is signed out by DELETE /v1/sessions/current, and a key keeps at
 * most 100 (the oldest dropped). Bad input is 400, a wrong key 401, as the
 * API answers them; sign-in and sign-out are audited.
 *
 * Runs on SQLite and on PostgreSQL (tests/CMakeLists.txt). Every wait is
 * bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/harness.h"

#define TOK 64
#define KID 24
#define SECRET 65

static struct harness srv;   /* default TTL (12 h) */
static struct harness brief; /* --session-ttl-s 1 */

static int setup(void **state)
{
        static const char *const brief_args[] = {"--session-ttl-s", "1", NULL};

        (void)state;
        if (harness_start(&srv, NULL) != 0)
                return -1;
        return harness_start(&brief, brief_args);
}

static int teardown(void **state)
{
        (void)state;
        harness_stop(&brief);
        return harness_stop(&srv);
}

static bool hex64(const char *s)
{
        if (!s || strlen(s) != 64)
                return false;
        for (int i = 0; i < 64; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* POST /v1/sessions with body (no Authorization header). */
static void post_session(const struct harness *h, const char *body, struct http_res *res)
{
        static const char *const no_auth[] = {"Authorization:", NULL};

        assert_int_equal(http_raw(h->url, "POST", "/v1/sessions", no_auth, body, strlen(body), res),
                         0);
}

/* Signs in with key (NULL: the admin key): the cookie's value and the CSRF
 * token into cookie and csrf (SECRET bytes each); res (may be NULL) gets the
 * answer, owned by the caller. */
static void sign_in(const struct harness *h, const char *key, char *cookie, char *csrf,
                    struct http_res *out)
{
        char body[200], sc[512];
        struct http_res res;
        const char *v, *end;

        snprintf(body, sizeof(body), "{\"key\": \"%s\"}", key ? key : h->admin_key);
        post_session(h, body, &res);
        if (res.status != 201)
                fprintf(stderr, "sign-in: %d %s\n", res.status, res.body);
        assert_int_equal(res.status, 201);
        assert_non_null(http_header(&res, "Set-Cookie", sc, sizeof(sc)));
        assert_true(strncmp(sc, "baton_session=", 14) == 0);
        v = sc + 14;
        end = strchr(v, ';');
        assert_non_null(end);
        assert_true((size_t)(end - v) < SECRET);
        memcpy(cookie, v, (size_t)(end - v));
        cookie[end - v] = '\0';
        assert_true(hex64(cookie));
        v = jpath_str(res.json, "csrf_token");
        assert_true(hex64(v));
        snprintf(csrf, SECRET, "%s", v);
        if (out)
                *out = res;
        else
                http_res_free(&res);
}

/* A request with the cookie only (no Authorization header), and the CSRF
 * token when csrf is not NULL. */
static void as_session(const struct harness *h, const char *cookie, const char *csrf,
                       const char *method, const char *path, const char *body, struct http_res *res)
{
        char c[128], t[128];
        const char *hdrs[4] = {"Authorization:", c, NULL, NULL};

        snprintf(c, sizeof(c), "Cookie: theme=dark; baton_session=%s; other=1", cookie);
        if (csrf) {
                snprintf(t, sizeof(t), "X-CSRF-Token: %s", csrf);
                hdrs[2] = t;
        }
        assert_int_equal(http_raw(h->url, method, path, hdrs, body, body ? strlen(body) : 0, res),
                         0);
}

static int status_of(const struct harness *h, const char *cookie, const char *csrf,
                     const char *method, const char *path, const char *body)
{
        struct http_res res;
        int status;

        as_session(h, cookie, csrf, method, path, body, &res);
        status = res.status;
        http_res_free(&res);
        return status;
}

static void cookie_and_answer(void **state)
{
        char cookie[SECRET], csrf[SECRET], sc[512], v[64];
        struct http_res res, cur;
        int64_t exp, now = harness_wall_ms();

        (void)state;
        sign_in(&srv, NULL, cookie, csrf, &res);
        assert_non_null(http_header(&res, "Set-Cookie", sc, sizeof(sc)));
        assert_contains(sc, "; HttpOnly");
        assert_contains(sc, "; SameSite=Strict");
        assert_contains(sc, "; Path=/");
        assert_contains(sc, "; Max-Age=43200");
        /* Plain HTTP here: no Secure (test_tls checks it under TLS). */
        assert_null(strstr(sc, "Secure"));
        assert_non_null(http_header(&res, "Cache-Control", v, sizeof(v)));
        assert_string_equal(v, "no-store");
        assert_string_equal(jpath_str(res.json, "session.tenant"), "default");
        assert_non_null(jpath_str(res.json, "session.key_id"));
        assert_string_equal(jpath_str(res.json, "session.scopes[0]"), "jobs:write");
        exp = harness_parse_time(jpath_str(res.json, "session.expires_at"));
        assert_true(exp >= now + 43200000 - 5000 && exp <= now + 43200000 + 5000);
        /* The cookie and the token are different secrets. */
        assert_string_not_equal(cookie, csrf);

        as_session(&srv, cookie, NULL, "GET", "/v1/sessions/current", NULL, &cur);
        assert_int_equal(cur.status, 200);
        assert_string_equal(jpath_str(cur.json, "session.key_id"),
                            jpath_str(res.json, "session.key_id"));
        assert_string_equal(jpath_str(cur.json, "session.expires_at"),
                            jpath_str(res.json, "session.expires_at"));
        assert_null(jpath(cur.json, "csrf_token"));
        http_res_free(&cur);
        /* The cookie acts as the key on the API. */
        assert_int_equal(status_of(&srv, cookie, NULL, "GET", "/v1/queues", NULL), 200);
        /* An Authorization header wins over the cookie; with it there is no
         * session to read. */
        assert_int_equal(http_json(srv.url, "GET", "/v1/sessions/current", NULL, &cur), 0);
        assert_http_error(&cur, 404, "not_found", NULL);
        http_res_free(&cur);
        /* A cookie that is no session is 401. */
        assert_int_equal(status_of(&srv, "00ff", NULL, "GET", "/v1/queues", NULL), 401);
        http_res_free(&res);
}

static void csrf_required_for_changes(void **state)
{
        static const char job[] = "{\"queue\": \"sess-csrf\", \"type\": \"t\", \"payload\": {}}";
        char cookie[SECRET], csrf[SECRET], other[SECRET], other_csrf[SECRET];
        struct http_res res;

        (void)state;
        sign_in(&srv, NULL, cookie, csrf, NULL);
        sign_in(&srv, NULL, other, other_csrf, NULL);
        as_session(&srv, cookie, NULL, "POST", "/v1/jobs", job, &res);
        assert_http_error(&res, 403, "csrf_required", "X-CSRF-Token");
        http_res_free(&res);
        /* Another session's token is not this one's. */
        as_session(&srv, cookie, other_csrf, "POST", "/v1/jobs", job, &res);
        assert_http_error(&res, 403, "csrf_required", "X-CSRF-Token");
        http_res_free(&res);
        as_session(&srv, cookie, "", "PATCH", "/v1/queues/sess-csrf", "{\"paused\": true}", &res);
        assert_http_error(&res, 403, "csrf_required", "X-CSRF-Token");
        http_res_free(&res);
        /* Nothing was made by the refused calls. */
        assert_int_equal(http_json(srv.url, "GET", "/v1/jobs?queue=sess-csrf", NULL, &res), 0);
        assert_int_equal(res.status, 200);
        assert_int_equal(json_array_size(jpath(res.json, "jobs")), 0);
        http_res_free(&res);
        as_session(&srv, cookie, csrf, "POST", "/v1/jobs", job, &res);
        assert_int_equal(res.status, 201);
        http_res_free(&res);
        assert_int_equal(http_json(srv.url, "GET", "/v1/jobs?queue=sess-csrf", NULL, &res), 0);
        assert_int_equal(json_array_size(jpath(res.json, "jobs")), 1);
        http_res_free(&res);
        /* Reads need no token. */
        assert_int_equal(status_of(&srv, cookie, NULL, "GET", "/v1/jobs?queue=sess-csrf", NULL),
                         200);
}

static void session_has_the_keys_scopes_and_tenant(void **state)
{
        char tok[TOK], cookie[SECRET], csrf[SECRET];
        struct http_res res;

        (void)state;
        harness_make_key(&srv, "sess-t2", "[\"jobs:read\", \"cron:read\"]", NULL, tok, NULL);
        sign_in(&srv, tok, cookie, csrf, &res);
        assert_string_equal(jpath_str(res.json, "session.tenant"), "sess-t2");
        assert_string_equal(jpath_str(res.json, "session.scopes[0]"), "jobs:read");
        assert_string_equal(jpath_str(res.json, "session.scopes[1]"), "cron:read");
        assert_null(jpath(res.json, "session.scopes[2]"));
        http_res_free(&res);
        as_session(&srv, cookie, csrf, "POST", "/v1/jobs",
                   "{\"queue\": \"q\", \"type\": \"t\", \"payload\": {}}", &res);
        assert_http_error(&res, 403, "forbidden", NULL);
        http_res_free(&res);
        /* The default tenant's queue from the test above is not this
         * tenant's. */
        as_session(&srv, cookie, NULL, "GET", "/v1/queues/sess-csrf", NULL, &res);
        assert_int_equal(res.status, 404);
        http_res_free(&res);
}

static void session_dies_with_its_key(void **state)
{
        char tok[TOK], id[KID], cookie[SECRET], csrf[SECRET], path[128];
        char tok2[TOK], id2[KID], cookie2[SECRET], csrf2[SECRET];
        struct http_res res;

        (void)state;
        harness_make_key(&srv, NULL, "[\"jobs:read\"]", NULL, tok, id);
        sign_in(&srv, tok, cookie, csrf, NULL);
        assert_int_equal(status_of(&srv, cookie, NULL, "GET", "/v1/queues", NULL), 200);
        snprintf(path, sizeof(path), "/v1/keys/%s", id);
        harness_expect(srv.url, NULL, "DELETE", path, NULL, 200, &res);
        http_res_free(&res);
        as_session(&srv, cookie, NULL, "GET", "/v1/queues", NULL, &res);
        assert_http_error(&res, 401, "unauthenticated", NULL);
        assert_contains(http_error_member(&res, "message"), "revoked, expired or rotated");
        http_res_free(&res);
        /* A revoked key cannot sign in either. */
        snprintf(path, sizeof(path), "{\"key\": \"%s\"}", tok);
        post_session(&srv, path, &res);
        assert_http_error(&res, 401, "unauthenticated", NULL);
        http_res_free(&res);

        /* Rotated without grace: the old secret's session ends. */
        harness_make_key(&srv, NULL, "[\"jobs:read\"]", NULL, tok2, id2);
        sign_in(&srv, tok2, cookie2, csrf2, NULL);
        assert_int_equal(status_of(&srv, cookie2, NULL, "GET", "/v1/queues", NULL), 200);
        snprintf(path, sizeof(path), "/v1/keys/%s/rotate", id2);
        harness_expect(srv.url, NULL, "POST", path, "{\"grace_ms\": 0}", 200, &res);
        http_res_free(&res);
        assert_int_equal(status_of(&srv, cookie2, NULL, "GET", "/v1/queues", NULL), 401);
}

static void sign_out(void **state)
{
        char cookie[SECRET], csrf[SECRET], sc[256];
        struct http_res res;

        (void)state;
        sign_in(&srv, NULL, cookie, csrf, NULL);
        /* Signing out changes something: the token is needed. */
        as_session(&srv, cookie, NULL, "DELETE", "/v1/sessions/current", NULL, &res);
        assert_http_error(&res, 403, "csrf_required", "X-CSRF-Token");
        http_res_free(&res);
        as_session(&srv, cookie, csrf, "DELETE", "/v1/sessions/current", NULL, &res);
        assert_int_equal(res.status, 204);
        assert_non_null(http_header(&res, "Set-Cookie", sc, sizeof(sc)));
        assert_contains(sc, "baton_session=;");
        assert_contains(sc, "Max-Age=0");
        http_res_free(&res);
        as_session(&srv, cookie, csrf, "GET", "/v1/sessions/current", NULL, &res);
        assert_http_error(&res, 401, "unauthenticated", NULL);
        http_res_free(&res);
        assert_int_equal(status_of(&srv, cookie, csrf, "DELETE", "/v1/sessions/current", NULL),
                         401);
        /* With a key, not a cookie, there is nothing to sign out. */
        assert_int_equal(http_json(srv.url, "DELETE", "/v1/sessions/current", NULL, &res), 0);
        assert_http_error(&res, 404, "not_found", NULL);
        http_res_free(&res);
}

static void expiry(void **state)
{
        char cookie[SECRET], csrf[SECRET], sc[256];
        struct http_res res;
        int64_t start = harness_now_ms();
        int status = 200;

        (void)state;
        sign_in(&brief, NULL, cookie, csrf, &res);
        assert_non_null(http_header(&res, "Set-Cookie", sc, sizeof(sc)));
        assert_contains(sc, "Max-Age=1");
        http_res_free(&res);
        assert_int_equal(status_of(&brief, cookie, NULL, "GET", "/v1/queues", NULL), 200);
        /* Dead within a second and a bit; polled, bounded. */
        while (status == 200 && harness_now_ms() - start < 5000) {
                harness_sleep_ms(100);
                status = status_of(&brief, cookie, NULL, "GET", "/v1/queues", NULL);
        }
        assert_int_equal(status, 401);
        assert_true(harness_now_ms() - start >= 900);
}

static void survives_restart(void **state)
{
        char cookie[SECRET], csrf[SECRET];

        (void)state;
        sign_in(&srv, NULL, cookie, csrf, NULL);
        assert_int_equal(harness_shutdown(&srv), 0);
        assert_int_equal(harness_restart(&srv), 0);
        assert_int_equal(status_of(&srv, cookie, NULL, "GET", "/v1/sessions/current", NULL), 200);
        assert_int_equal(status_of(&srv, cookie, csrf, "POST", "/v1/queues/sess-csrf/drain", NULL),
                         200);
}

static void oldest_dropped_beyond_100(void **state)
{
        char tok[TOK], first[SECRET], second[SECRET], cookie[SECRET], csrf[SECRET];

        (void)state;
        harness_make_key(&srv, NULL, "[\"jobs:read\"]", NULL, tok, NULL);
        sign_in(&srv, tok, first, csrf, NULL);
        /* "Oldest" is by the sign-in's millisecond (then by the cookie's
         * digest, which is random): the first must be alone in its own. */
        harness_sleep_ms(5);
        sign_in(&srv, tok, second, csrf, NULL);
        for (int i = 0; i < 98; i++)
                sign_in(&srv, tok, cookie, csrf, NULL);
        /* 100 live: all work. */
        assert_int_equal(status_of(&srv, first, NULL, "GET", "/v1/queues", NULL), 200);
        sign_in(&srv, tok, cookie, csrf, NULL);
        assert_int_equal(status_of(&srv, first, NULL, "GET", "/v1/queues", NULL), 401);
        assert_int_equal(status_of(&srv, second, NULL, "GET", "/v1/queues", NULL), 200);
        assert_int_equal(status_of(&srv, cookie, NULL, "GET", "/v1/queues", NULL), 200);
        /* The table drops them too after a restart (the store did). */
        assert_int_equal(harness_shutdown(&srv), 0);
        assert_int_equal(harness_restart(&srv), 0);
        assert_int_equal(status_of(&srv, first, NULL, "GET", "/v1/queues", NULL), 401);
        assert_int_equal(status_of(&srv, second, NULL, "GET", "/v1/queues", NULL), 200);
}

static void bad_input(void **state)
{
        static const struct {
                const char *body;
                int status;
                const char *code;
                const char *field;
        } cases[] = {
            {"{}", 400, "missing_field", "key"},
            {"{\"key\": 5}", 400, "invalid_field", "key"},
            {"{\"key\": \"bk_x\", \"scopes\": []}", 400, "unknown_field", "scopes"},
            {"[1]", 400, "invalid_json", NULL},
            {"{\"key\": \"not a key\"}", 401, "unauthenticated", NULL},
            /* Shaped like a key, wrong secret. */
            {"{\"key\": \"bk_k0123456789abcdef_0123456789abcdef0123456789abcdef\"}", 401,
             "unauthenticated", NULL},
        };
        struct http_res res;

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                post_session(&srv, cases[i].body, &res);
                assert_http_error(&res, cases[i].status, cases[i].code, cases[i].field);
                assert_null(strstr(res.headers, "Set-Cookie"));
                http_res_free(&res);
        }
        /* The wrong secret of a real key. */
        {
                char body[200];
                snprintf(body, sizeof(body), "{\"key\": \"%.*s0000\"}",
                         (int)strlen(srv.admin_key) - 4, srv.admin_key);
                post_session(&srv, body, &res);
                assert_http_error(&res, 401, "unauthenticated", NULL);
                http_res_free(&res);
        }
}

static void audited(void **state)
{
        char cookie[SECRET], csrf[SECRET];
        struct http_res res;

        (void)state;
        sign_in(&srv, NULL, cookie, csrf, NULL);
        assert_int_equal(status_of(&srv, cookie, csrf, "DELETE", "/v1/sessions/current", NULL),
                         204);
        harness_expect(srv.url, NULL, "GET", "/v1/audit?action=session.create", NULL, 200, &res);
        assert_string_equal(jpath_str(res.json, "entries[0].action"), "session.create");
        assert_int_equal(jpath_int(res.json, "entries[0].status"), 201);
        http_res_free(&res);
        harness_expect(srv.url, NULL, "GET", "/v1/audit?action=session.delete", NULL, 200, &res);
        assert_string_equal(jpath_str(res.json, "entries[0].action"), "session.delete");
        http_res_free(&res);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(cookie_and_answer),
            cmocka_unit_test(csrf_required_for_changes),
            cmocka_unit_test(session_has_the_keys_scopes_and_tenant),
            cmocka_unit_test(session_dies_with_its_key),
            cmocka_unit_test(sign_out),
            cmocka_unit_test(expiry),
            cmocka_unit_test(survives_restart),
            cmocka_unit_test(oldest_dropped_beyond_100),
            cmocka_unit_test(bad_input),
            cmocka_unit_test(audited),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
