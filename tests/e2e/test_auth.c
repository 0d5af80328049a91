/*
 * test_auth.c: end-to-end tests of API keys, scopes, tenants, rate limits and
 * the audit log (docs/api.md "Authentication", "Keys", "Audit"): every route's
 * auth matrix (no key 401, missing scope 403 naming it, right scope passes),
 * tenant isolation of every object, list and count, revocation effective on
 * the next request, rotation with a grace period, expiry, 429 with
 * Retry-After, an audit row for every audited action (success and refusal),
 * secrets absent from the server's log, the admin.key bootstrap (mode 0600,
 * printed once) and --insecure-no-auth (refused off loopback, working on it).
 *
 * One shared server (debug logging, so that every line a request can produce
 * is in the log the secrets check reads) plus short-lived ones for the
 * bootstrap and insecure-mode cases. Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/harness.h"
#include "support/rawhttp.h"

#define TOK 64
#define KID 24

static struct harness srv;

/* Tokens made by the tests, checked against the log at the end. */
static char made[64][TOK];
static int made_n;

/* Remembers a secret for the log check. */
static void remember(const char *tok)
{
        size_t n = tok ? strnlen(tok, TOK - 1) : 0;

        if (made_n >= 64 || n == 0)
                return;
        memcpy(made[made_n], tok, n);
        made[made_n++][n] = '\0';
}

/* Creates a key and remembers its secret for the log check. */
static void make_key(const char *tenant, const char *scopes, const char *extra, char *tok, char *id)
{
        harness_make_key(&srv, tenant, scopes, extra, tok, id);
        remember(tok);
}

/* One call as key (NULL = none); returns the status, res kept for the caller
 * when res is not NULL. */
static int call(const char *key, const char *method, const char *path, const char *body,
                struct http_res *res)
{
        struct http_res local;
        struct http_res *r = res ? res : &local;
        int status;

        assert_int_equal(http_json_as(srv.url, key, method, path, body, r), 0);
        status = r->status;
        if (!res)
                http_res_free(r);
        return status;
}

/* ---- the route matrix ---- */

struct route_case {
        const char *method;
        const char *path;
        const char *body;
        const char *scope;
};

static const struct route_case routes[] = {
    {"POST", "/v1/jobs", "{\"queue\": \"mq\", \"type\": \"t\"}", "jobs:write"},
    {"GET", "/v1/jobs", NULL, "jobs:read"},
    {"GET", "/v1/jobs/999999", NULL, "jobs:read"},
    {"DELETE", "/v1/jobs/999999", NULL, "jobs:write"},
    {"POST", "/v1/jobs/999999/retry", NULL, "jobs:write"},
    {"POST", "/v1/queues/mq/claim", "{\"worker\": \"w\"}", "work"},
    {"POST", "/v1/jobs/999999/heartbeat", "{\"lease\": \"x\"}", "work"},
    {"POST", "/v1/jobs/999999/complete", "{\"lease\": \"x\"}", "work"},
    {"POST", "/v1/jobs/999999/fail", "{\"lease\": \"x\", \"error\": \"e\"}", "work"},
    {"POST", "/v1/settle", "{\"items\": []}", "work"},
    {"GET", "/v1/queues", NULL, "jobs:read"},
    {"GET", "/v1/queues/mq", NULL, "jobs:read"},
    {"PATCH", "/v1/queues/mq", "{\"paused\": false}", "admin"},
    {"GET", "/v1/queues/mq/dead", NULL, "jobs:read"},
    {"POST", "/v1/queues/mq/dead/replay", "{\"ids\": [\"999999\"]}", "admin"},
    {"DELETE", "/v1/queues/mq/dead", NULL, "admin"},
    {"POST", "/v1/keys", "{\"name\": \"x\", \"scopes\": []}", "admin"},
    {"GET", "/v1/keys", NULL, "admin"},
    {"DELETE", "/v1/keys/k0000000000000000", NULL, "admin"},
    {"POST", "/v1/keys/k0000000000000000/rotate", NULL, "admin"},
    {"GET", "/v1/audit", NULL, "admin"},
    /* /metrics needs a key (issue 13: it published every tenant's queue
     * names to any loopback peer, e.g. a same-host TLS proxy). */
    {"GET", "/metrics", NULL, "metrics"},
};

#define ROUTES_N ((int)(sizeof(routes) / sizeof(routes[0])))

static void no_key_is_401(void **state)
{
        struct http_res r;
        char buf[128];

        (void)state;
        for (int i = 0; i < ROUTES_N; i++) {
                const struct route_case *rc = &routes[i];
                call(NULL, rc->method, rc->path, rc->body, &r);
                if (r.status != 401)
                        print_error("%s %s without a key\n", rc->method, rc->path);
                assert_http_error(&r, 401, "unauthenticated", NULL);
                assert_non_null(http_header(&r, "WWW-Authenticate", buf, sizeof(buf)));
                assert_non_null(strstr(buf, "Bearer"));
                http_res_free(&r);
                /* A token of the right shape but unknown, and garbage. */
                assert_int_equal(call("bk_k0123456789abcdef_0123456789abcdef0123456789abcdef",
                                      rc->method, rc->path, rc->body, NULL),
                                 401);
                assert_int_equal(call("nonsense", rc->method, rc->path, rc->body, NULL), 401);
        }
        /* Open routes. /metrics is not one, even on loopback (the routes
         * above have checked its 401). */
        assert_int_equal(call(NULL, "GET", "/healthz", NULL, NULL), 200);
        assert_int_equal(call(NULL, "GET", "/readyz", NULL, NULL), 200);
}

/* GET /metrics: 401 without a key, 403 with a key lacking the scope or of
 * another tenant, 200 with the metrics scope on tenant "default" and with
 * admin there (admin implies metrics). */
static void metrics_needs_its_scope(void **state)
{
        char mtok[TOK], rtok[TOK], otok[TOK], oadm[TOK];
        struct http_res r;

        (void)state;
        make_key(NULL, "[\"metrics\"]", NULL, mtok, NULL);
        make_key(NULL, "[\"jobs:read\", \"cron:read\"]", NULL, rtok, NULL);
        make_key("mt2", "[\"metrics\"]", NULL, otok, NULL);
        make_key("mt2", "[\"admin\"]", NULL, oadm, NULL);
        call(NULL, "GET", "/metrics", NULL, &r);
        assert_http_error(&r, 401, "unauthenticated", NULL);
        http_res_free(&r);
        call(rtok, "GET", "/metrics", NULL, &r);
        assert_http_error(&r, 403, "forbidden", NULL);
        assert_non_null(strstr(http_error_member(&r, "message"), "metrics"));
        http_res_free(&r);
        call(otok, "GET", "/metrics", NULL, &r);
        assert_http_error(&r, 403, "forbidden", NULL);
        http_res_free(&r);
        call(oadm, "GET", "/metrics", NULL, &r);
        assert_http_error(&r, 403, "forbidden", NULL);
        http_res_free(&r);
        call(mtok, "GET", "/metrics", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "baton_"));
        http_res_free(&r);
        assert_int_equal(call(srv.admin_key, "GET", "/metrics", NULL, NULL), 200);
        /* The metrics scope gives nothing else. */
        assert_int_equal(call(mtok, "GET", "/v1/jobs", NULL, NULL), 403);
        /* The key list names the scope. */
        call(srv.admin_key, "GET", "/v1/keys?limit=1000", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "\"metrics\""));
        http_res_free(&r);
}

static void scope_matrix(void **state)
{
        static const char *const scopes[] = {"jobs:write", "jobs:read", "work", "admin",
                                             "cron:read"};
        char tok[5][TOK];
        struct http_res r;

        (void)state;
        for (int k = 0; k < 5; k++) {
                char list[64];
                snprintf(list, sizeof(list), "[\"%s\"]", scopes[k]);
                make_key(NULL, list, NULL, tok[k], NULL);
        }
        for (int i = 0; i < ROUTES_N; i++) {
                const struct route_case *rc = &routes[i];
                for (int k = 0; k < 5; k++) {
                        bool allowed =
                            strcmp(scopes[k], rc->scope) == 0 || strcmp(scopes[k], "admin") == 0;
                        call(tok[k], rc->method, rc->path, rc->body, &r);
                        if (allowed && (r.status == 401 || r.status == 403))
                                fail_msg("%s %s with %s: %d %s", rc->method, rc->path, scopes[k],
                                         r.status, r.body);
                        if (!allowed) {
                                const char *msg = http_error_member(&r, "message");
                                assert_http_error(&r, 403, "forbidden", NULL);
                                assert_non_null(msg);
                                if (!strstr(msg, rc->scope))
                                        fail_msg("403 message does not name %s: %s", rc->scope,
                                                 msg);
                        }
                        http_res_free(&r);
                }
        }
}

/* ---- tenants ---- */

/* The job tenant_isolation enqueues, in each tenant. */
#define ISO_JOB "{\"queue\": \"iso\", \"type\": \"t\", \"max_attempts\": 1}"

/* Claims one job of q as key; copies its lease. */
static void claim_as(const char *key, const char *q, char *lease, size_t cap)
{
        json_t *j = harness_http_claim(srv.url, key, q, "{\"worker\": \"w\"}", NULL);

        assert_non_null(jpath_str(j, "lease"));
        snprintf(lease, cap, "%s", jpath_str(j, "lease"));
        json_decref(j);
}

/* Does the JSON array at path hold an object whose member equals value? */
static bool listed(const json_t *root, const char *array, const char *member, const char *value)
{
        json_t *a = jpath(root, array);
        size_t i;
        json_t *v;

        json_array_foreach(a, i, v)
        {
                const char *s = json_string_value(json_object_get(v, member));
                if (s && strcmp(s, value) == 0)
                        return true;
        }
        return false;
}

static void tenant_isolation(void **state)
{
        const char *admin = srv.admin_key;
        char other[TOK], other_id[KID], mine[32], dead[32], lease[128], path[256], body[512];
        struct http_res r;

        (void)state;
        make_key("t-other", "[\"admin\"]", NULL, other, other_id);
        /* Tenant default: a running job and a dead one on queue iso. */
        harness_http_enqueue(srv.url, admin, ISO_JOB, dead, sizeof(dead));
        claim_as(admin, "iso", lease, sizeof(lease));
        snprintf(path, sizeof(path), "/v1/jobs/%s/fail", dead);
        snprintf(body, sizeof(body), "{\"lease\": \"%s\", \"error\": \"x\", \"retryable\": false}",
                 lease);
        assert_int_equal(call(admin, "POST", path, body, NULL), 200);
        harness_http_enqueue(srv.url, admin, ISO_JOB, mine, sizeof(mine));
        claim_as(admin, "iso", lease, sizeof(lease));

        /* Every object of tenant default is 404 to t-other. */
        snprintf(path, sizeof(path), "/v1/jobs/%s", mine);
        call(other, "GET", path, NULL, &r);
        assert_http_error(&r, 404, "not_found", NULL);
        http_res_free(&r);
        assert_int_equal(call(other, "DELETE", path, NULL, NULL), 404);
        snprintf(path, sizeof(path), "/v1/jobs/%s/retry", dead);
        assert_int_equal(call(other, "POST", path, NULL, NULL), 404);
        snprintf(body, sizeof(body), "{\"lease\": \"%s\"}", lease);
        snprintf(path, sizeof(path), "/v1/jobs/%s/heartbeat", mine);
        assert_int_equal(call(other, "POST", path, body, NULL), 404);
        snprintf(path, sizeof(path), "/v1/jobs/%s/complete", mine);
        assert_int_equal(call(other, "POST", path, body, NULL), 404);
        snprintf(path, sizeof(path), "/v1/jobs/%s/fail", mine);
        assert_int_equal(call(other, "POST", path, body, NULL), 404);
        snprintf(body, sizeof(body),
                 "{\"items\": [{\"id\": \"%s\", \"lease\": \"%s\", \"outcome\": \"complete\"}]}",
                 mine, lease);
        call(other, "POST", "/v1/settle", body, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "items[0].error.code"), "not_found");
        http_res_free(&r);
        assert_int_equal(call(other, "GET", "/v1/queues/iso", NULL, NULL), 404);
        /* Our job is still running, untouched. */
        snprintf(path, sizeof(path), "/v1/jobs/%s", mine);
        call(admin, "GET", path, NULL, &r);
        assert_string_equal(jpath_str(r.json, "job.state"), "running");
        http_res_free(&r);

        /* Lists and counts: nothing of tenant default. */
        call(other, "GET", "/v1/jobs?limit=1000", NULL, &r);
        assert_int_equal(json_array_size(jpath(r.json, "jobs")), 0);
        http_res_free(&r);
        call(other, "GET", "/v1/queues", NULL, &r);
        assert_false(listed(r.json, "queues", "name", "iso"));
        http_res_free(&r);
        call(other, "GET", "/v1/queues/iso/dead", NULL, &r);
        assert_int_equal(json_array_size(jpath(r.json, "jobs")), 0);
        http_res_free(&r);
        snprintf(body, sizeof(body), "{\"ids\": [\"%s\"]}", dead);
        call(other, "POST", "/v1/queues/iso/dead/replay", body, &r);
        assert_int_equal(jpath_int(r.json, "replayed"), 0);
        http_res_free(&r);
        call(other, "POST", "/v1/queues/iso/dead/replay", "{\"all\": true}", &r);
        assert_int_equal(jpath_int(r.json, "replayed"), 0);
        http_res_free(&r);
        /* A queue of the same name in t-other counts only its own job. */
        harness_http_enqueue(srv.url, other, ISO_JOB, mine, sizeof(mine));
        call(other, "GET", "/v1/queues/iso", NULL, &r);
        assert_int_equal(jpath_int(r.json, "queue.counts.queued"), 1);
        assert_int_equal(jpath_int(r.json, "queue.counts.running"), 0);
        assert_int_equal(jpath_int(r.json, "queue.counts.dead"), 0);
        http_res_free(&r);
        call(other, "DELETE", "/v1/queues/iso/dead", NULL, &r);
        assert_int_equal(jpath_int(r.json, "purged"), 0);
        http_res_free(&r);
        call(admin, "GET", "/v1/queues/iso", NULL, &r);
        assert_int_equal(jpath_int(r.json, "queue.counts.dead"), 1);
        assert_int_equal(jpath_int(r.json, "queue.counts.queued"), 0);
        http_res_free(&r);

        /* Keys: t-other sees only its own, cannot touch the admin key (404),
         * nor list or create for other tenants (403). */
        call(other, "GET", "/v1/keys", NULL, &r);
        assert_true(listed(r.json, "keys", "id", other_id));
        assert_int_equal(json_array_size(jpath(r.json, "keys")), 1);
        assert_null(strstr(r.body, "digest"));
        http_res_free(&r);
        call(admin, "GET", "/v1/keys", NULL, &r);
        assert_false(listed(r.json, "keys", "id", other_id));
        {
                const char *admin_id = jpath_str(r.json, "keys[0].id");
                char p2[128];
                assert_non_null(admin_id);
                snprintf(p2, sizeof(p2), "/v1/keys/%s", admin_id);
                assert_int_equal(call(other, "DELETE", p2, NULL, NULL), 404);
                snprintf(p2, sizeof(p2), "/v1/keys/%s/rotate", admin_id);
                assert_int_equal(call(other, "POST", p2, NULL, NULL), 404);
        }
        http_res_free(&r);
        assert_int_equal(call(other, "GET", "/v1/keys?tenant=default", NULL, NULL), 403);
        assert_int_equal(call(other, "GET", "/v1/keys?tenant=*", NULL, NULL), 403);
        assert_int_equal(call(other, "GET", "/v1/audit?tenant=*", NULL, NULL), 403);
        call(other, "POST", "/v1/keys",
             "{\"name\": \"n\", \"tenant\": \"default\", \"scopes\": "
             "[\"admin\"]}",
             &r);
        assert_http_error(&r, 403, "forbidden", "tenant");
        http_res_free(&r);
        /* The root admin sees every tenant when it asks. */
        call(admin, "GET", "/v1/keys?tenant=*&limit=1000", NULL, &r);
        assert_true(listed(r.json, "keys", "id", other_id));
        http_res_free(&r);
        call(admin, "GET", "/v1/keys?tenant=t-other", NULL, &r);
        assert_true(listed(r.json, "keys", "id", other_id));
        http_res_free(&r);

        /* Audit: t-other's list holds only t-other rows. */
        call(other, "GET", "/v1/audit?limit=1000", NULL, &r);
        {
                size_t i;
                json_t *v;
                json_array_foreach(jpath(r.json, "entries"), i, v)
                    assert_string_equal(jpath_str(v, "tenant"), "t-other");
                assert_true(json_array_size(jpath(r.json, "entries")) > 0);
        }
        http_res_free(&r);
}

/* ---- revocation, rotation, expiry ---- */

static void revocation_is_immediate(void **state)
{
        char tok[TOK], id[KID], path[128];
        struct http_res r;

        (void)state;
        make_key(NULL, "[\"jobs:read\"]", NULL, tok, id);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 200);
        snprintf(path, sizeof(path), "/v1/keys/%s", id);
        call(srv.admin_key, "DELETE", path, NULL, &r);
        assert_int_equal(r.status, 200);
        /* {"key": {...}}: the key object under its kind, never a secret. */
        assert_string_equal(jpath_str(r.json, "key.state"), "revoked");
        assert_string_equal(jpath_str(r.json, "key.id"), id);
        assert_null(jpath(r.json, "secret"));
        assert_null(jpath(r.json, "key.secret"));
        http_res_free(&r);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 401);
        /* Revoking twice is not an error; the key stays refused. */
        assert_int_equal(call(srv.admin_key, "DELETE", path, NULL, NULL), 200);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 401);
        /* Bad ids. */
        call(srv.admin_key, "DELETE", "/v1/keys/nope", NULL, &r);
        assert_http_error(&r, 400, "invalid_id", NULL);
        http_res_free(&r);
        assert_int_equal(call(srv.admin_key, "DELETE", "/v1/keys/k0000000000000000", NULL, NULL),
                         404);
}

static void rotation_with_grace(void **state)
{
        char old[TOK], id[KID], path[128], fresh[TOK], third[TOK];
        struct http_res r;

        (void)state;
        make_key(NULL, "[\"jobs:read\"]", NULL, old, id);
        snprintf(path, sizeof(path), "/v1/keys/%s/rotate", id);
        call(srv.admin_key, "POST", path, "{\"grace_ms\": 1500}", &r);
        assert_int_equal(r.status, 200);
        /* The secret beside the key object, not in it. */
        assert_string_equal(jpath_str(r.json, "key.id"), id);
        assert_non_null(jpath_str(r.json, "secret"));
        assert_null(jpath(r.json, "key.secret"));
        assert_non_null(jpath_str(r.json, "key.previous_valid_until"));
        snprintf(fresh, sizeof(fresh), "%s", jpath_str(r.json, "secret"));
        remember(fresh);
        assert_string_not_equal(fresh, old);
        http_res_free(&r);
        /* Both work within the grace period. */
        assert_int_equal(call(old, "GET", "/v1/queues", NULL, NULL), 200);
        assert_int_equal(call(fresh, "GET", "/v1/queues", NULL, NULL), 200);
        harness_sleep_ms(1700);
        assert_int_equal(call(old, "GET", "/v1/queues", NULL, NULL), 401);
        assert_int_equal(call(fresh, "GET", "/v1/queues", NULL, NULL), 200);
        /* Without grace the previous secret stops at once. */
        call(srv.admin_key, "POST", path, NULL, &r);
        assert_int_equal(r.status, 200);
        snprintf(third, sizeof(third), "%s", jpath_str(r.json, "secret"));
        remember(third);
        http_res_free(&r);
        assert_int_equal(call(fresh, "GET", "/v1/queues", NULL, NULL), 401);
        assert_int_equal(call(third, "GET", "/v1/queues", NULL, NULL), 200);
        /* Grace bounds. */
        call(srv.admin_key, "POST", path, "{\"grace_ms\": 604800001}", &r);
        assert_http_error(&r, 400, "grace_ms_out_of_range", "grace_ms");
        http_res_free(&r);
        call(srv.admin_key, "POST", path, "{\"grace_ms\": -1}", &r);
        assert_http_error(&r, 400, "grace_ms_out_of_range", "grace_ms");
        http_res_free(&r);
        assert_int_equal(call(third, "GET", "/v1/queues", NULL, NULL), 200);
}

static void expired_key(void **state)
{
        char tok[TOK], extra[128], when[40];
        int64_t at = harness_wall_ms() + 1200;
        time_t s = (time_t)(at / 1000);
        struct tm tm;

        (void)state;
        gmtime_r(&s, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(extra, sizeof(extra), "\"expires_at\": \"%s.%03dZ\"", when, (int)(at % 1000));
        make_key(NULL, "[\"jobs:read\"]", extra, tok, NULL);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 200);
        harness_sleep_ms(1400);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 401);
}

/* GET /v1/queues with tok on the open connection rd; returns the status. */
static int raw_get(struct raw_reader *rd, const char *tok)
{
        struct raw_res res;
        char req[256];
        int status;

        snprintf(req, sizeof(req),
                 "GET /v1/queues HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                 tok);
        if (raw_sends(rd->fd, req) != 0 || raw_read_res(rd, 5000, &res) != 0)
                return -1;
        status = res.status;
        raw_res_free(&res);
        return status;
}

/* A keep-alive connection remembers the digest of the token that last
 * authenticated on it (auth.c); the key's record is still checked on every
 * request, so rotation, revocation and expiry refuse the very next request on
 * that connection, and a wrong secret under the same key id never rides on
 * the memo. */
static void key_changes_seen_on_open_connection(void **state)
{
        char tok[TOK], id[KID], path[128], fresh[TOK], wrong[TOK], extra[128], when[40];
        struct raw_reader *rd = calloc(1, sizeof(*rd));
        struct http_res r;
        int64_t at = harness_wall_ms() + 1200;
        time_t s = (time_t)(at / 1000);
        struct tm tm;

        (void)state;
        assert_non_null(rd);
        make_key(NULL, "[\"jobs:read\"]", NULL, tok, id);
        rd->fd = raw_connect(srv.port);
        assert_true(rd->fd >= 0);
        assert_int_equal(raw_get(rd, tok), 200);
        assert_int_equal(raw_get(rd, tok), 200);
        /* The same key id with another secret. */
        snprintf(wrong, sizeof(wrong), "%s", tok);
        wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == '0' ? '1' : '0';
        assert_int_equal(raw_get(rd, wrong), 401);
        assert_int_equal(raw_get(rd, tok), 200);
        /* Rotated without grace: the old secret stops at once. */
        snprintf(path, sizeof(path), "/v1/keys/%s/rotate", id);
        call(srv.admin_key, "POST", path, NULL, &r);
        assert_int_equal(r.status, 200);
        snprintf(fresh, sizeof(fresh), "%s", jpath_str(r.json, "secret"));
        remember(fresh);
        http_res_free(&r);
        assert_int_equal(raw_get(rd, tok), 401);
        assert_int_equal(raw_get(rd, fresh), 200);
        assert_int_equal(raw_get(rd, fresh), 200);
        /* Revoked: refused on the next request of the same connection. */
        snprintf(path, sizeof(path), "/v1/keys/%s", id);
        assert_int_equal(call(srv.admin_key, "DELETE", path, NULL, NULL), 200);
        assert_int_equal(raw_get(rd, fresh), 401);
        close(rd->fd);
        /* Expired while the connection stays open. */
        gmtime_r(&s, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(extra, sizeof(extra), "\"expires_at\": \"%s.%03dZ\"", when, (int)(at % 1000));
        make_key(NULL, "[\"jobs:read\"]", extra, tok, NULL);
        memset(rd, 0, sizeof(*rd));
        rd->fd = raw_connect(srv.port);
        assert_true(rd->fd >= 0);
        assert_int_equal(raw_get(rd, tok), 200);
        harness_sleep_ms(1400);
        assert_int_equal(raw_get(rd, tok), 401);
        close(rd->fd);
        free(rd);
}

/* A revoked key cannot be rotated back to life and an expired one would get a
 * secret that never works: 409 key_revoked / key_expired, nothing changes. */
static void rotate_revoked_or_expired(void **state)
{
        char tok[TOK], id[KID], path[128], extra[128], when[40];
        int64_t at = harness_wall_ms() + 1000;
        time_t s = (time_t)(at / 1000);
        struct http_res r;
        struct tm tm;

        (void)state;
        make_key(NULL, "[\"jobs:read\"]", NULL, tok, id);
        snprintf(path, sizeof(path), "/v1/keys/%s", id);
        assert_int_equal(call(srv.admin_key, "DELETE", path, NULL, NULL), 200);
        snprintf(path, sizeof(path), "/v1/keys/%s/rotate", id);
        call(srv.admin_key, "POST", path, NULL, &r);
        assert_http_error(&r, 409, "key_revoked", "id");
        http_res_free(&r);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 401);

        gmtime_r(&s, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(extra, sizeof(extra), "\"expires_at\": \"%s.%03dZ\"", when, (int)(at % 1000));
        make_key(NULL, "[\"jobs:read\"]", extra, tok, id);
        harness_sleep_ms(1200);
        snprintf(path, sizeof(path), "/v1/keys/%s/rotate", id);
        call(srv.admin_key, "POST", path, NULL, &r);
        assert_http_error(&r, 409, "key_expired", "id");
        assert_null(jpath(r.json, "secret"));
        http_res_free(&r);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 401);
}

static void create_validation(void **state)
{
        static const struct {
                const char *body;
                const char *code;
                const char *field;
        } bad[] = {
            {"{\"scopes\": [\"work\"]}", "missing_field", "name"},
            {"{\"name\": \"n\"}", "missing_field", "scopes"},
            {"{\"name\": \"n\", \"scopes\": []}", "invalid_field", "scopes"},
            {"{\"name\": \"n\", \"scopes\": [\"root\"]}", "invalid_scope", "scopes[0]"},
            {"{\"name\": \"n\", \"scopes\": [\"work\", 3]}", "invalid_scope", "scopes[1]"},
            {"{\"name\": \"n\", \"scopes\": [\"work\"], \"tenant\": \"a b\"}", "name_invalid",
             "tenant"},
            {"{\"name\": \"n\", \"scopes\": [\"work\"], \"expires_at\": \"soon\"}", "invalid_time",
             "expires_at"},
            {"{\"name\": \"n\", \"scopes\": [\"work\"], \"expires_at\": "
             "\"2001-01-01T00:00:00Z\"}",
             "expires_at_out_of_range", "expires_at"},
            {"{\"name\": \"n\", \"scopes\": [\"work\"], \"rate_limit\": {\"max\": 0, "
             "\"per_ms\": 1000}}",
             "rate_limit_out_of_range", "rate_limit.max"},
            {"{\"name\": \"n\", \"scopes\": [\"work\"], \"rate_limit\": {\"max\": 5, "
             "\"per_ms\": 86400001}}",
             "rate_limit_out_of_range", "rate_limit.per_ms"},
            {"{\"name\": \"n\", \"scopes\": [\"work\"], \"rate_limit\": {\"max\": 5}}",
             "missing_field", "rate_limit.per_ms"},
            {"{\"name\": \"n\", \"scopes\": [\"work\"], \"rate_limit\": 5}", "invalid_field",
             "rate_limit"},
        };
        struct http_res r;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                call(srv.admin_key, "POST", "/v1/keys", bad[i].body, &r);
                assert_http_error(&r, 400, bad[i].code, bad[i].field);
                http_res_free(&r);
        }
        /* A new tenant is created by naming it; the key works there. */
        {
                char tok[TOK];
                make_key("t-new", "[\"jobs:write\", \"jobs:read\"]", NULL, tok, NULL);
                assert_int_equal(call(tok, "POST", "/v1/jobs",
                                      "{\"queue\": \"q\", \"type\": "
                                      "\"t\"}",
                                      NULL),
                                 201);
                call(tok, "GET", "/v1/jobs", NULL, &r);
                assert_int_equal(json_array_size(jpath(r.json, "jobs")), 1);
                http_res_free(&r);
        }
}

/* ---- rate limits ---- */

static void rate_limited(void **state)
{
        char tok[TOK], ra[32];
        struct http_res r;
        int64_t before, after;

        (void)state;
        make_key(NULL, "[\"jobs:write\", \"jobs:read\"]",
                 "\"rate_limit\": {\"max\": 3, \"per_ms\": 60000}", tok, NULL);
        call(tok, "GET", "/v1/jobs?queue=rl&limit=1000", NULL, &r);
        before = (int64_t)json_array_size(jpath(r.json, "jobs"));
        http_res_free(&r);
        assert_int_equal(
            call(tok, "POST", "/v1/jobs", "{\"queue\": \"rl\", \"type\": \"t\"}", NULL), 201);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 200);
        call(tok, "POST", "/v1/jobs", "{\"queue\": \"rl\", \"type\": \"t\"}", &r);
        assert_http_error(&r, 429, "rate_limited", NULL);
        assert_non_null(http_header(&r, "Retry-After", ra, sizeof(ra)));
        assert_true(atoi(ra) >= 1 && atoi(ra) <= 60);
        http_res_free(&r);
        /* Nothing was done: one job only (counted with the admin key). */
        call(srv.admin_key, "GET", "/v1/jobs?queue=rl&limit=1000", NULL, &r);
        after = (int64_t)json_array_size(jpath(r.json, "jobs"));
        http_res_free(&r);
        assert_int_equal(after, before + 1);
        /* Other keys are not affected. */
        assert_int_equal(call(srv.admin_key, "GET", "/v1/queues", NULL, NULL), 200);
}

/* ---- audit ---- */

/* Finds an audit entry of action with status (and code, target when given). */
static json_t *audit_find(const char *action, int status, const char *code, const char *target,
                          json_t **holder)
{
        struct http_res r;
        char path[256];
        size_t i;
        json_t *v;

        snprintf(path, sizeof(path), "/v1/audit?tenant=*&action=%s&limit=1000", action);
        assert_int_equal(call(srv.admin_key, "GET", path, NULL, &r), 200);
        *holder = json_incref(r.json);
        http_res_free(&r);
        json_array_foreach(jpath(*holder, "entries"), i, v)
        {
                const char *c = jpath_str(v, "code");
                if (jpath_int(v, "status") != status)
                        continue;
                if (code ? (!c || strcmp(c, code) != 0) : c != NULL)
                        continue;
                if (target &&
                    (!jpath_str(v, "target") || strcmp(jpath_str(v, "target"), target) != 0))
                        continue;
                assert_non_null(jpath_str(v, "request_id"));
                assert_non_null(jpath_str(v, "at"));
                assert_string_equal(jpath_str(v, "action"), action);
                return v;
        }
        print_error("no audit entry %s %d %s %s\n", action, status, code ? code : "-",
                    target ? target : "-");
        return NULL;
}

static void expect_audit(const char *action, int status, const char *code, const char *target)
{
        json_t *holder = NULL;
        json_t *e = audit_find(action, status, code, target, &holder);

        assert_non_null(e);
        json_decref(holder);
}

static void audit_entries(void **state)
{
        const char *admin = srv.admin_key;
        char reader[TOK], reader_id[KID], victim[TOK], victim_id[KID], path[128], q[64];
        char tiny[TOK];
        json_t *holder = NULL, *e;
        const char *hdr[] = {"X-Request-Id: audit-req-1", NULL};
        struct http_res r;

        (void)state;
        harness_unique("aud", q, sizeof(q));
        make_key(NULL, "[\"jobs:read\"]", NULL, reader, reader_id);
        make_key(NULL, "[\"jobs:read\"]", NULL, victim, victim_id);
        make_key(NULL, "[\"admin\"]", "\"rate_limit\": {\"max\": 1, \"per_ms\": 60000}", tiny,
                 NULL);

        /* queue.update: success (with the caller's request id) and refusals. */
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        http_raw(srv.url, "PATCH", path, hdr, "{\"paused\": true}", 16, &r);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        e = audit_find("queue.update", 200, NULL, q, &holder);
        assert_non_null(e);
        assert_string_equal(jpath_str(e, "request_id"), "audit-req-1");
        assert_true(jpath_true(e, "detail.paused"));
        assert_non_null(jpath_str(e, "key_id"));
        assert_string_equal(jpath_str(e, "tenant"), "default");
        json_decref(holder);
        assert_int_equal(call(admin, "PATCH", path, "{\"paused\": 1}", NULL), 400);
        expect_audit("queue.update", 400, "invalid_field", q);
        assert_int_equal(call(reader, "PATCH", path, "{\"paused\": false}", NULL), 403);
        e = audit_find("queue.update", 403, "forbidden", q, &holder);
        assert_non_null(e);
        assert_string_equal(jpath_str(e, "key_id"), reader_id);
        json_decref(holder);
        /* 429 on an audited route: the second call of a 1-per-minute key. */
        assert_int_equal(call(tiny, "GET", "/v1/keys", NULL, NULL), 200);
        assert_int_equal(call(tiny, "PATCH", path, "{\"paused\": false}", NULL), 429);
        expect_audit("queue.update", 429, "rate_limited", q);
        /* Not audited: reads and unauthenticated calls. */
        assert_int_equal(call(NULL, "PATCH", path, "{\"paused\": false}", NULL), 401);
        assert_null(audit_find("queue.update", 401, "unauthenticated", q, &holder));
        json_decref(holder);

        /* dead.replay and dead.purge. */
        snprintf(path, sizeof(path), "/v1/queues/%s/dead/replay", q);
        assert_int_equal(call(admin, "POST", path, "{\"all\": true}", NULL), 200);
        expect_audit("dead.replay", 200, NULL, q);
        assert_int_equal(call(admin, "POST", path, "{\"ids\": [\"x\"]}", NULL), 400);
        expect_audit("dead.replay", 400, "invalid_id", q);
        assert_int_equal(call(reader, "POST", path, "{\"all\": true}", NULL), 403);
        expect_audit("dead.replay", 403, "forbidden", q);
        snprintf(path, sizeof(path), "/v1/queues/%s/dead", q);
        assert_int_equal(call(admin, "DELETE", path, NULL, NULL), 200);
        expect_audit("dead.purge", 200, NULL, q);
        assert_int_equal(call(reader, "DELETE", path, NULL, NULL), 403);
        expect_audit("dead.purge", 403, "forbidden", q);

        /* keys.create, keys.revoke, keys.rotate. */
        e = audit_find("keys.create", 201, NULL, reader_id, &holder);
        assert_non_null(e);
        assert_non_null(jpath(e, "detail.scopes"));
        json_decref(holder);
        assert_int_equal(
            call(admin, "POST", "/v1/keys", "{\"name\": \"n\", \"scopes\": [\"x\"]}", NULL), 400);
        expect_audit("keys.create", 400, "invalid_scope", NULL);
        snprintf(path, sizeof(path), "/v1/keys/%s/rotate", victim_id);
        call(admin, "POST", path, "{\"grace_ms\": 10}", &r);
        assert_int_equal(r.status, 200);
        remember(jpath_str(r.json, "secret"));
        http_res_free(&r);
        e = audit_find("keys.rotate", 200, NULL, victim_id, &holder);
        assert_non_null(e);
        assert_int_equal(jpath_int(e, "detail.grace_ms"), 10);
        json_decref(holder);
        assert_int_equal(call(admin, "POST", path, "{\"grace_ms\": -5}", NULL), 400);
        expect_audit("keys.rotate", 400, "grace_ms_out_of_range", victim_id);
        snprintf(path, sizeof(path), "/v1/keys/%s", victim_id);
        assert_int_equal(call(admin, "DELETE", path, NULL, NULL), 200);
        expect_audit("keys.revoke", 200, NULL, victim_id);
        assert_int_equal(call(admin, "DELETE", "/v1/keys/k00000000000000ff", NULL, NULL), 404);
        expect_audit("keys.revoke", 404, "not_found", "k00000000000000ff");

        /* Filters and pagination: pages of one add up to the whole list. */
        call(admin, "GET", "/v1/audit?action=keys.revoke&limit=1000", NULL, &r);
        {
                size_t total = json_array_size(jpath(r.json, "entries")), seen = 0;
                char p2[128] = "/v1/audit?action=keys.revoke&limit=1";
                http_res_free(&r);
                assert_true(total >= 3);
                for (int page = 0; page < 100; page++) {
                        call(admin, "GET", p2, NULL, &r);
                        assert_int_equal(r.status, 200);
                        assert_int_equal(json_array_size(jpath(r.json, "entries")), 1);
                        assert_string_equal(jpath_str(r.json, "entries[0].action"), "keys.revoke");
                        seen++;
                        if (!jpath_str(r.json, "next"))
                                break;
                        snprintf(p2, sizeof(p2), "/v1/audit?action=keys.revoke&limit=1&after=%s",
                                 jpath_str(r.json, "next"));
                        http_res_free(&r);
                }
                assert_int_equal(seen, total);
        }
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/audit?key_id=%s", reader_id);
        call(admin, "GET", path, NULL, &r);
        {
                size_t i;
                json_t *v;
                assert_true(json_array_size(jpath(r.json, "entries")) >= 3);
                json_array_foreach(jpath(r.json, "entries"), i, v)
                    assert_string_equal(jpath_str(v, "key_id"), reader_id);
        }
        http_res_free(&r);
        call(admin, "GET", "/v1/audit?after=abc", NULL, &r);
        assert_int_equal(r.status, 400);
        http_res_free(&r);
}

/* ---- secrets and the bootstrap ---- */

static int count_of(const char *hay, const char *needle)
{
        int n = 0;

        for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
                n++;
        return n;
}

/* The audit rows of key_id as JSON (new reference), waiting up to 5 s until
 * their counts add up to want (refusal rows are written after the answer). */
static json_t *audit_rows_of(const char *key_id, int64_t want)
{
        char path[160];
        int64_t give_up = harness_now_ms() + 5000, sum = 0;
        json_t *rows = NULL;

        snprintf(path, sizeof(path), "/v1/audit?key_id=%s&limit=1000", key_id);
        while (harness_now_ms() < give_up) {
                struct http_res r;
                size_t i;
                json_t *v;

                json_decref(rows);
                assert_int_equal(call(srv.admin_key, "GET", path, NULL, &r), 200);
                rows = json_incref(jpath(r.json, "entries"));
                http_res_free(&r);
                sum = 0;
                json_array_foreach(rows, i, v) sum += jpath_int(v, "count");
                if (sum >= want)
                        break;
                harness_sleep_ms(50);
        }
        return rows;
}

/* 100 refused calls of one key in one minute leave one audit row with count
 * 100, for 403 and for 429 alike, instead of a row per call. */
static void refusals_counted_per_minute(void **state)
{
        char tok[TOK], id[KID], path[128];
        int64_t sec = (harness_wall_ms() / 1000) % 60;
        json_t *rows;

        (void)state;
        /* 200 calls take well under 10 s: start them early in a minute. */
        if (sec >= 45)
                harness_sleep_ms((60 - sec) * 1000 + 200);
        make_key(NULL, "[\"jobs:read\"]", NULL, tok, id);
        snprintf(path, sizeof(path), "/v1/queues/%s", id);
        for (int i = 0; i < 100; i++)
                assert_int_equal(call(tok, "PATCH", path, "{\"paused\": true}", NULL), 403);
        rows = audit_rows_of(id, 100);
        if (json_array_size(rows) != 1)
                fprintf(stderr, "%zu rows for 100 refusals\n", json_array_size(rows));
        assert_int_equal(json_array_size(rows), 1);
        assert_int_equal(jpath_int(json_array_get(rows, 0), "count"), 100);
        assert_int_equal(jpath_int(json_array_get(rows, 0), "status"), 403);
        assert_string_equal(jpath_str(json_array_get(rows, 0), "code"), "forbidden");
        json_decref(rows);

        /* Over its rate limit: the first call is a 403, the next 100 are 429. */
        make_key(NULL, "[\"jobs:read\"]", "\"rate_limit\": {\"max\": 1, \"per_ms\": 600000}", tok,
                 id);
        assert_int_equal(call(tok, "PATCH", path, "{\"paused\": true}", NULL), 403);
        for (int i = 0; i < 100; i++)
                assert_int_equal(call(tok, "PATCH", path, "{\"paused\": true}", NULL), 429);
        rows = audit_rows_of(id, 101);
        assert_int_equal(json_array_size(rows), 2);
        for (size_t i = 0; i < 2; i++) {
                json_t *v = json_array_get(rows, i);
                if (jpath_int(v, "status") == 429) {
                        assert_int_equal(jpath_int(v, "count"), 100);
                        assert_string_equal(jpath_str(v, "code"), "rate_limited");
                } else {
                        assert_int_equal(jpath_int(v, "status"), 403);
                        assert_int_equal(jpath_int(v, "count"), 1);
                }
        }
        json_decref(rows);
}

/* Operations the store has run (baton_store_batch_size_sum of /metrics). */
static int64_t store_ops(void)
{
        struct http_res r;
        const char *line;
        int64_t n = -1;

        assert_int_equal(call(srv.admin_key, "GET", "/metrics", NULL, &r), 200);
        line = strstr(r.body, "\nbaton_store_batch_size_sum ");
        if (line)
                n = (int64_t)strtod(line + strlen("\nbaton_store_batch_size_sum "), NULL);
        http_res_free(&r);
        assert_true(n >= 0);
        return n;
}

struct flood {
        const char *key;
        const char *path;
        int n;
        int wrong;
};

static void *flood_thread(void *arg)
{
        struct flood *f = arg;

        for (int i = 0; i < f->n; i++)
                if (call(f->key, "PATCH", f->path, "{\"paused\": true}", NULL) != 429)
                        f->wrong++;
        return NULL;
}

/* A key flooding an audited route at its rate limit: every 429 is counted,
 * yet the refusals of one identity in flight share a store op, so 800 calls
 * cost far fewer than 800 writes. */
static void refusal_flood_costs_few_store_ops(void **state)
{
        char tok[TOK], id[KID];
        struct flood f[8];
        pthread_t t[8];
        int64_t sec = (harness_wall_ms() / 1000) % 60, before, ops;
        json_t *rows;
        size_t i;
        json_t *v;
        int64_t sum = 0;

        (void)state;
        if (sec >= 45)
                harness_sleep_ms((60 - sec) * 1000 + 200);
        make_key(NULL, "[\"jobs:read\"]", "\"rate_limit\": {\"max\": 1, \"per_ms\": 600000}", tok,
                 id);
        assert_int_equal(call(tok, "GET", "/v1/queues", NULL, NULL), 200); /* the one token */
        before = store_ops();
        for (int k = 0; k < 8; k++) {
                f[k] = (struct flood){tok, "/v1/queues/flooded", 100, 0};
                harness_thread(&t[k], flood_thread, &f[k]);
        }
        for (int k = 0; k < 8; k++) {
                harness_join(t[k]);
                assert_int_equal(f[k].wrong, 0);
        }
        rows = audit_rows_of(id, 800);
        ops = store_ops() - before;
        json_array_foreach(rows, i, v) sum += jpath_int(v, "count");
        print_message("800 refused calls: %zu audit row(s), count %lld, %lld store ops\n",
                      json_array_size(rows), (long long)sum, (long long)ops);
        assert_int_equal(sum, 800);
        assert_int_equal(json_array_size(rows), 1);
        /* Without coalescing the refusals alone would be 800 ops (measured
         * here: about 10 on SQLite, 200 on PostgreSQL, whose commits are
         * quicker); the audit reads of audit_rows_of are ops too. */
        assert_true(ops < 640);
        json_decref(rows);
}

static void secrets_not_logged(void **state)
{
        char *log = harness_read_log(&srv);

        (void)state;
        assert_non_null(log);
        assert_true(made_n > 5);
        for (int i = 0; i < made_n; i++)
                if (strstr(log, made[i]))
                        fail_msg("the log holds the secret of a created key");
        /* The admin key: printed once at the first start, nowhere else. */
        assert_int_equal(count_of(log, srv.admin_key), 1);
        free(log);
}

/* GET /v1/queues on h with its admin key; the status. */
static int call_on(const struct harness *h)
{
        struct http_res r;
        int status;

        assert_int_equal(http_json_as(h->url, h->admin_key, "GET", "/v1/queues", NULL, &r), 0);
        status = r.status;
        http_res_free(&r);
        return status;
}

static void bootstrap_file(void **state)
{
        struct harness h;
        char path[400], *log;
        struct stat st;

        (void)state;
        assert_int_equal(harness_start(&h, NULL), 0);
        snprintf(path, sizeof(path), "%s/admin.key", h.data_dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal((int)strlen(h.admin_key), 53);
        assert_int_equal(harness_shutdown(&h), 0);
        assert_int_equal(harness_restart(&h), 0);
        assert_int_equal(call_on(&h), 200);
        log = harness_read_log(&h);
        assert_int_equal(count_of(log, h.admin_key), 1);
        assert_int_equal(count_of(log, "admin key (shown once"), 1);
        assert_true(count_of(log, "admin key file:") >= 1);
        free(log);
        assert_int_equal(harness_stop(&h), 0);
}

/* ---- --insecure-no-auth ---- */

/* True when every address localhost resolves to here is loopback (the rule
 * batond applies to it). */
static bool localhost_all_loopback(void)
{
        struct addrinfo hints = {0}, *res = NULL;
        bool ok = true;

        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo("localhost", NULL, &hints, &res) != 0 || !res)
                return false;
        for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                if (ai->ai_family == AF_INET)
                        ok = ok && (ntohl(((const struct sockaddr_in *)(const void *)ai->ai_addr)
                                              ->sin_addr.s_addr) >>
                                    24) == 127;
                else if (ai->ai_family == AF_INET6)
                        ok = ok && IN6_IS_ADDR_LOOPBACK(
                                       &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)
                                            ->sin6_addr);
                else
                        ok = false;
        }
        freeaddrinfo(res);
        return ok;
}

/* Every --listen form with --insecure-no-auth: the refused ones exit 2 with
 * the message, before the data directory exists (so before any bind); the
 * accepted ones pass the check and stop later, at the data directory that
 * cannot be made (exit 1). */
static void insecure_listen_rule(void **state)
{
        char host[256] = "", hostarg[300], root[] = "/tmp/baton-insecure-XXXXXX", data[64];
        struct harness_run run = {.timeout_ms = 5000};
        struct {
                const char *listen;
                bool allowed;
        } cases[] = {
            {"0.0.0.0:0", false},
            {"[::]:0", false},
            {":::0", false},
            {"127.0.0.1:0", true},
            {"127.0.0.2:0", true},
            {"127.255.255.254:0", true},
            {"[::1]:0", true},
            {"[::ffff:127.0.0.1]:0", true},
            {"[::ffff:10.0.0.1]:0", false},
            {"[::127.0.0.1]:0", false},
            {"127.1:0", false},
            {"0x7f.0.0.1:0", false},
            {"2130706433:0", false},
            {"128.0.0.1:0", false},
            {"10.0.0.1:0", false},
            {"localhost.:0", false},
            {"localhost.localdomain:0", false},
            {"ip6-localhost:0", false},
            {"[fe80::1%lo]:0", false},
            {"localhost:0", localhost_all_loopback()},
            {"LocalHost:0", localhost_all_loopback()},
            {hostarg, false},
        };

        (void)state;
        assert_non_null(mkdtemp(root));
        gethostname(host, sizeof(host) - 1);
        snprintf(hostarg, sizeof(hostarg), "%s:0", host[0] ? host : "example.com");
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const char *fail_data = "/nonexistent/never-created";
                const char *args[] = {
                    "--listen", cases[i].listen, "--insecure-no-auth", "--data", data, NULL};
                struct stat st;
                const char *err;
                int code;

                snprintf(data, sizeof(data), "%s/data", root);
                if (cases[i].allowed)
                        args[4] = fail_data;
                run.args = args;
                code = harness_run(&run);
                err = run.err;
                if (cases[i].allowed) {
                        if (code != 1 || strstr(err, "refused"))
                                fprintf(stderr, "--listen %s: exit %d, stderr: %s\n",
                                        cases[i].listen, code, err);
                        assert_int_equal(code, 1);
                        assert_null(strstr(err, "--insecure-no-auth is refused"));
                } else {
                        if (code != 2 || !strstr(err, "--insecure-no-auth is refused"))
                                fprintf(stderr, "--listen %s: exit %d, stderr: %s\n",
                                        cases[i].listen, code, err);
                        assert_int_equal(code, 2);
                        assert_non_null(strstr(err, "--insecure-no-auth is refused"));
                        /* Refused before anything else: no data directory. */
                        assert_int_not_equal(stat(data, &st), 0);
                }
        }
        harness_run_free(&run);
        rmdir(root);
}

static void insecure_refused_off_loopback(void **state)
{
        static const char *const flag[] = {
            "--listen", "0.0.0.0:0", "--insecure-no-auth", "--data", "/nonexistent/never-created",
            NULL};
        static const char *const v6[] = {
            "--listen", "[::]:0", "--insecure-no-auth", "--data", "/nonexistent/never-created",
            NULL};
        static const char *const env[] = {"--listen", "0.0.0.0:0", "--data",
                                          "/nonexistent/never-created", NULL};
        static const char *const no_auth[] = {"BATON_INSECURE_NO_AUTH=1", NULL};
        struct harness_run run = {.args = flag, .timeout_ms = 5000};

        (void)state;
        assert_int_equal(harness_run(&run), 2);
        run.args = v6;
        assert_int_equal(harness_run(&run), 2);
        run.args = env;
        run.env = no_auth;
        assert_int_equal(harness_run(&run), 2);
        harness_run_free(&run);
}

/* --metrics-public: /metrics answers without a key; nothing else opens. */
static void metrics_public_flag(void **state)
{
        static const char *const args[] = {"--metrics-public", NULL};
        struct harness h;
        struct http_res r;

        (void)state;
        assert_int_equal(harness_start(&h, args), 0);
        assert_int_equal(http_json_as(h.url, NULL, "GET", "/metrics", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "baton_"));
        http_res_free(&r);
        assert_int_equal(http_json_as(h.url, NULL, "GET", "/v1/queues", NULL, &r), 0);
        assert_int_equal(r.status, 401);
        http_res_free(&r);
        assert_int_equal(harness_stop(&h), 0);
}

static void insecure_on_loopback(void **state)
{
        static const char *const args[] = {"--insecure-no-auth", NULL};
        struct harness h;
        struct http_res r;
        char *log;

        (void)state;
        assert_int_equal(harness_start(&h, args), 0);
        assert_int_equal(http_json_as(h.url, NULL, "POST", "/v1/jobs",
                                      "{\"queue\": \"q\", \"type\": \"t\"}", &r),
                         0);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        assert_int_equal(http_json_as(h.url, NULL, "GET", "/v1/keys", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        /* Audited calls still leave a row, without a key id. */
        assert_int_equal(
            http_json_as(h.url, NULL, "PATCH", "/v1/queues/q", "{\"paused\": true}", &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_int_equal(http_json_as(h.url, NULL, "GET", "/v1/audit", NULL, &r), 0);
        assert_string_equal(jpath_str(r.json, "entries[0].action"), "queue.update");
        assert_null(jpath_str(r.json, "entries[0].key_id"));
        http_res_free(&r);
        log = harness_read_log(&h);
        assert_non_null(strstr(log, "AUTHENTICATION IS OFF"));
        free(log);
        assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
        static const char *const args[] = {"--log-level", "debug", NULL};
        const struct CMUnitTest shared[] = {
            cmocka_unit_test(no_key_is_401),
            cmocka_unit_test(scope_matrix),
            cmocka_unit_test(tenant_isolation),
            cmocka_unit_test(revocation_is_immediate),
            cmocka_unit_test(rotation_with_grace),
            cmocka_unit_test(expired_key),
            cmocka_unit_test(rotate_revoked_or_expired),
            cmocka_unit_test(key_changes_seen_on_open_connection),
            cmocka_unit_test(create_validation),
            cmocka_unit_test(rate_limited),
            cmocka_unit_test(audit_entries),
            cmocka_unit_test(refusals_counted_per_minute),
            cmocka_unit_test(refusal_flood_costs_few_store_ops),
            cmocka_unit_test(metrics_needs_its_scope),
            cmocka_unit_test(secrets_not_logged),
        };
        const struct CMUnitTest alone[] = {
            cmocka_unit_test(bootstrap_file),       cmocka_unit_test(insecure_refused_off_loopback),
            cmocka_unit_test(insecure_listen_rule), cmocka_unit_test(insecure_on_loopback),
            cmocka_unit_test(metrics_public_flag),
        };
        int failed;

        harness_group(&srv, args, NULL);
        failed = cmocka_run_group_tests_name("auth", shared, harness_group_up, harness_group_down);

        failed += cmocka_run_group_tests_name("auth_alone", alone, NULL, NULL);
        return failed ? 1 : 0;
}
