/*
 * test_keys.c: API keys, tenants and the audit log of core/keys.c. The pure
 * parts (token format and parsing, digests, constant-time comparison, scope
 * names, key_accepts) are tested directly; the transaction functions run
 * through exec_run_sync, as the store thread runs them, on a real SQLite store
 * in a temporary directory with a fake clock, so instants (created_at,
 * revoked_at, the end of a rotation's grace period) are exact.
 *
 * Boundaries pinned here: a key with expires_at_ms = T is accepted up to T - 1
 * and refused from T on; a rotated-out digest with prev_until_ms = T likewise
 * (the grace period is exclusive of its end); a revoked key is refused at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/clock.h"
#include "core/exec.h"
#include "core/jobs.h"
#include "core/keys.h"
#include "store/store.h"
#include "support/unit_env.h"

#define T0 UNIT_ENV_T0_MS
/* "bk_" + "k" and 16 hex + "_" + 32 hex. keys.h's KEY_TOKEN_LEN (a buffer
 * size) must be at least this. */
#define TOKEN_CHARS 53
#define DIGEST_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIGEST_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* ======== tokens, digests, scopes ======== */

static bool all_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!strchr("0123456789abcdef", s[i]) || !s[i])
                        return false;
        return true;
}

static void token_new_has_the_documented_shape(void **state)
{
        char id[KEY_ID_LEN + 1], token[KEY_TOKEN_LEN + 1], digest[KEY_DIGEST_LEN + 1];
        char id2[KEY_ID_LEN + 1], token2[KEY_TOKEN_LEN + 1], digest2[KEY_DIGEST_LEN + 1];
        char parsed[KEY_ID_LEN + 1], want[KEY_DIGEST_LEN + 1];

        (void)state;
        assert_int_equal(key_token_new(id, token, digest), 0);
        assert_int_equal(strlen(id), KEY_ID_LEN);
        assert_int_equal(id[0], 'k');
        assert_true(all_hex(id + 1, 16));
        assert_int_equal(strlen(token), TOKEN_CHARS);
        assert_memory_equal(token, "bk_", 3);
        assert_memory_equal(token + 3, id, KEY_ID_LEN);
        assert_int_equal(token[3 + KEY_ID_LEN], '_');
        assert_true(all_hex(token + 4 + KEY_ID_LEN, 32));
        assert_int_equal(strlen(digest), KEY_DIGEST_LEN);
        key_digest(token, want);
        assert_string_equal(digest, want);
        assert_int_equal(key_token_id(token, parsed), 0);
        assert_string_equal(parsed, id);
        /* Fresh randomness every time. */
        assert_int_equal(key_token_new(id2, token2, digest2), 0);
        assert_string_not_equal(id, id2);
        assert_string_not_equal(token, token2);
        assert_string_not_equal(digest, digest2);
}

static void token_renew_keeps_the_id(void **state)
{
        char id[KEY_ID_LEN + 1], token[KEY_TOKEN_LEN + 1], digest[KEY_DIGEST_LEN + 1];
        char token2[KEY_TOKEN_LEN + 1], digest2[KEY_DIGEST_LEN + 1], parsed[KEY_ID_LEN + 1];

        (void)state;
        assert_int_equal(key_token_new(id, token, digest), 0);
        assert_int_equal(key_token_renew(id, token2, digest2), 0);
        assert_int_equal(key_token_id(token2, parsed), 0);
        assert_string_equal(parsed, id);
        assert_string_not_equal(token, token2);
        assert_string_not_equal(digest, digest2);
        assert_int_equal(key_token_renew(NULL, token2, digest2), BATON_EINVAL);
        assert_int_equal(key_token_renew("k123", token2, digest2), BATON_EINVAL);
        assert_int_equal(key_token_renew("x0123456789abcdef", token2, digest2), BATON_EINVAL);
        assert_int_equal(key_token_renew("k0123456789ABCDEF", token2, digest2), BATON_EINVAL);
}

static void token_id_refuses_bad_shapes(void **state)
{
        const char *good = "bk_k0123456789abcdef_0123456789abcdef0123456789abcdef";
        const char *bad[] = {
            "",
            "bk_",
            "bk_k0123456789abcdef",
            "bk_k0123456789abcdef_",
            /* one character short, one too long */
            "bk_k0123456789abcdef_0123456789abcdef0123456789abcde",
            "bk_k0123456789abcdef_0123456789abcdef0123456789abcdef0",
            /* wrong prefix */
            "bx_k0123456789abcdef_0123456789abcdef0123456789abcdef",
            "BK_k0123456789abcdef_0123456789abcdef0123456789abcdef",
            "xbk_0123456789abcdef_0123456789abcdef0123456789abcdef",
            /* the id must start with k and be lowercase hex */
            "bk_j0123456789abcdef_0123456789abcdef0123456789abcdef",
            "bk_k0123456789abcdeg_0123456789abcdef0123456789abcdef",
            "bk_k0123456789ABCDEF_0123456789abcdef0123456789abcdef",
            /* the separator */
            "bk_k0123456789abcdef-0123456789abcdef0123456789abcdef",
            "bk_k0123456789abcde__0123456789abcdef0123456789abcdef",
            /* the secret must be lowercase hex */
            "bk_k0123456789abcdef_0123456789abcdef0123456789abcdeF",
            "bk_k0123456789abcdef_0123456789abcdef0123456789abcde ",
            "bk_k0123456789abcdef_0123456789abcdef 123456789abcdef",
            "Bearer bk_k0123456789abcdef_0123456789abcdef0123456789",
        };
        char id[KEY_ID_LEN + 1];

        (void)state;
        assert_int_equal(strlen(good), TOKEN_CHARS);
        assert_true(KEY_TOKEN_LEN >= TOKEN_CHARS);
        assert_int_equal(key_token_id(good, id), 0);
        assert_string_equal(id, "k0123456789abcdef");
        assert_int_equal(key_token_id(NULL, id), BATON_EAUTH);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (key_token_id(bad[i], id) != BATON_EAUTH)
                        print_error("accepted: \"%s\"\n", bad[i]);
                assert_int_equal(key_token_id(bad[i], id), BATON_EAUTH);
        }
}

static void digest_is_hex_sha256(void **state)
{
        char d[KEY_DIGEST_LEN + 1];

        (void)state;
        /* FIPS 180-2 test vectors. */
        key_digest("abc", d);
        assert_string_equal(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        key_digest("", d);
        assert_string_equal(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void digest_equal_is_exact(void **state)
{
        char a[KEY_DIGEST_LEN + 1], b[KEY_DIGEST_LEN + 1];

        (void)state;
        key_digest("bk_one", a);
        memcpy(b, a, sizeof(a));
        assert_true(key_digest_equal(a, b));
        /* A difference in the first or the last character counts alike. */
        b[0] = b[0] == '0' ? '1' : '0';
        assert_false(key_digest_equal(a, b));
        memcpy(b, a, sizeof(a));
        b[KEY_DIGEST_LEN - 1] = b[KEY_DIGEST_LEN - 1] == '0' ? '1' : '0';
        assert_false(key_digest_equal(a, b));
        assert_false(key_digest_equal(a, NULL));
        assert_false(key_digest_equal(NULL, a));
        assert_false(key_digest_equal(NULL, NULL));
        /* A prefix is not a match, and neither are two empty digests (what a
         * failed hash leaves). */
        b[10] = 0;
        memcpy(b, a, 10);
        assert_false(key_digest_equal(a, b));
        assert_false(key_digest_equal(b, b));
        assert_false(key_digest_equal("", ""));
}

static void scope_names_round_trip(void **state)
{
        const char *names[] = {"jobs:write", "jobs:read", "work",    "cron:read",  "cron:write",
                               "cron:run",   "admin",     "metrics", "events:read"};
        uint32_t all = 0;

        (void)state;
        for (int i = 0; i < 9; i++) {
                uint32_t bit = 1u << i;

                assert_string_equal(key_scope_name(bit), names[i]);
                assert_int_equal(key_scope_parse(names[i]), bit);
                all |= bit;
        }
        assert_int_equal(all, SCOPE_ALL);
        assert_int_equal(key_scope_parse("jobs:write"), SCOPE_JOBS_WRITE);
        assert_int_equal(key_scope_parse("admin"), SCOPE_ADMIN);
        assert_int_equal(key_scope_parse("metrics"), SCOPE_METRICS);
        assert_null(key_scope_name(0));
        assert_null(key_scope_name(SCOPE_JOBS_WRITE | SCOPE_JOBS_READ));
        assert_null(key_scope_name(SCOPE_ALL));
        assert_null(key_scope_name(1u << 9));
        assert_int_equal(key_scope_parse(NULL), 0);
        assert_int_equal(key_scope_parse(""), 0);
        assert_int_equal(key_scope_parse("Admin"), 0);
        assert_int_equal(key_scope_parse("jobs"), 0);
        assert_int_equal(key_scope_parse("admin "), 0);
}

static void accepts_checks_revocation_and_expiry(void **state)
{
        struct key_rec k = {.digest = (char *)DIGEST_A};

        (void)state;
        assert_true(key_accepts(&k, DIGEST_A, T0));
        assert_false(key_accepts(&k, DIGEST_B, T0));
        assert_false(key_accepts(&k, NULL, T0));
        assert_false(key_accepts(NULL, DIGEST_A, T0));
        /* Expiry: valid up to expires_at - 1, refused from expires_at on. */
        k.expires_at_ms = T0 + 100;
        assert_true(key_accepts(&k, DIGEST_A, T0 + 99));
        assert_false(key_accepts(&k, DIGEST_A, T0 + 100));
        assert_false(key_accepts(&k, DIGEST_A, T0 + 101));
        k.expires_at_ms = 0;
        /* Revocation: refused at once, whatever the instant recorded. */
        k.revoked_at_ms = T0 + 1000;
        assert_false(key_accepts(&k, DIGEST_A, T0));
        assert_false(key_accepts(&k, DIGEST_A, T0 + 2000));
}

static void accepts_previous_digest_within_grace(void **state)
{
        struct key_rec k = {
            .digest = (char *)DIGEST_B, .prev_digest = (char *)DIGEST_A, .prev_until_ms = T0 + 500};

        (void)state;
        /* The new digest always; the old one strictly before prev_until. */
        assert_true(key_accepts(&k, DIGEST_B, T0));
        assert_true(key_accepts(&k, DIGEST_A, T0));
        assert_true(key_accepts(&k, DIGEST_A, T0 + 499));
        assert_false(key_accepts(&k, DIGEST_A, T0 + 500));
        assert_false(key_accepts(&k, DIGEST_A, T0 + 501));
        assert_true(key_accepts(&k, DIGEST_B, T0 + 501));
        assert_false(key_accepts(&k, DIGEST_C, T0));
        /* Expiry and revocation win over the grace period. */
        k.expires_at_ms = T0 + 100;
        assert_false(key_accepts(&k, DIGEST_A, T0 + 100));
        assert_false(key_accepts(&k, DIGEST_B, T0 + 100));
        k.expires_at_ms = 0;
        k.revoked_at_ms = T0;
        assert_false(key_accepts(&k, DIGEST_A, T0 + 1));
        assert_false(key_accepts(&k, DIGEST_B, T0 + 1));
        /* No previous digest: prev_until alone accepts nothing. */
        k.revoked_at_ms = 0;
        k.prev_digest = NULL;
        assert_false(key_accepts(&k, DIGEST_A, T0));
}

/* ======== transaction functions on a real store ======== */

/* The store of each test comes from support/unit_env.h (clock at T0). */

/* One operation run through exec_run_sync: body does the work with the
 * inputs below and leaves its results in the outputs. */
struct call {
        struct exec_op op;
        int (*body)(struct txn *tx, struct call *c);
        /* inputs */
        const char *tenant;
        const char *id;
        const char *digest;
        int64_t grace_ms;
        const char *after;
        int limit;
        struct key_rec in;
        struct audit_rec audit;
        struct audit_filter filter;
        /* outputs */
        struct key_rec out;
        struct key_rec *keys;
        struct audit_rec *audits;
        int n;
        char *token;
        struct tick_res tick;
};

static int call_fn(struct txn *tx, struct exec_op *op)
{
        struct call *c = (struct call *)op;

        return c->body(tx, c);
}

static void call_done(struct exec_op *op)
{
        (void)op;
}

/* Runs c in its own transaction (rolled back when body fails). */
static int run(struct env *e, struct call *c)
{
        c->op.fn = call_fn;
        c->op.done = call_done;
        return exec_run_sync(e->st, e->ops, &e->clock.clock, &e->limits, &c->op, NULL);
}

/* Frees the outputs and resets them, so a call can be run again. */
static void call_reset(struct call *c)
{
        key_rec_free(&c->out);
        key_recs_free(c->keys, c->n);
        audit_recs_free(c->audits, c->n);
        free(c->token);
        c->keys = NULL;
        c->audits = NULL;
        c->token = NULL;
        c->n = 0;
}

static int body_create(struct txn *tx, struct call *c)
{
        return keys_create(tx, &c->in);
}

static int body_get(struct txn *tx, struct call *c)
{
        return keys_get(tx, c->tenant, c->id, &c->out);
}

static int body_revoke(struct txn *tx, struct call *c)
{
        return keys_revoke(tx, c->tenant, c->id, &c->out);
}

static int body_rotate(struct txn *tx, struct call *c)
{
        return keys_rotate(tx, c->tenant, c->id, c->digest, c->grace_ms, &c->out);
}

static int body_query(struct txn *tx, struct call *c)
{
        return keys_query(tx, c->tenant, c->after, c->limit, &c->keys, &c->n);
}

static int body_load(struct txn *tx, struct call *c)
{
        return keys_load(tx, c->after, c->limit, &c->keys, &c->n);
}

static int body_bootstrap(struct txn *tx, struct call *c)
{
        return keys_bootstrap(tx, &c->token);
}

static int body_audit_write(struct txn *tx, struct call *c)
{
        return audit_write(tx, &c->audit);
}

static int body_audit_refusal(struct txn *tx, struct call *c)
{
        return audit_refusal_write(tx, &c->audit);
}

static int body_tick(struct txn *tx, struct call *c)
{
        return job_tick(tx, &c->tick);
}

static int body_audit_query(struct txn *tx, struct call *c)
{
        return audit_query(tx, &c->filter, &c->audits, &c->n);
}

/* Creates a key of tenant with a fresh token; id_out and token_out (either
 * may be NULL) receive them. */
static void create_key(struct env *e, const char *tenant, uint32_t scopes, char *id_out,
                       char *token_out)
{
        char id[KEY_ID_LEN + 1], token[KEY_TOKEN_LEN + 1], digest[KEY_DIGEST_LEN + 1];
        struct call c = {.body = body_create};

        assert_int_equal(key_token_new(id, token, digest), 0);
        c.in.id = id;
        c.in.tenant = (char *)tenant;
        c.in.name = (char *)"ci";
        c.in.digest = digest;
        c.in.scopes = scopes;
        c.in.created_by = (char *)"kcreator";
        assert_int_equal(run(e, &c), 0);
        if (id_out)
                memcpy(id_out, id, sizeof(id));
        if (token_out)
                memcpy(token_out, token, sizeof(token));
}

/* Reads key id of tenant into *out (key_rec_free) and returns the rc. */
static int get_key(struct env *e, const char *tenant, const char *id, struct key_rec *out)
{
        struct call c = {.body = body_get, .tenant = tenant, .id = id};
        int rc = run(e, &c);

        if (!rc)
                *out = c.out;
        return rc;
}

static void create_and_get(void **state)
{
        struct env *e = *state;
        char id[KEY_ID_LEN + 1], token[KEY_TOKEN_LEN + 1], digest[KEY_DIGEST_LEN + 1];
        struct call c = {.body = body_create};
        struct key_rec k = {0};

        assert_int_equal(key_token_new(id, token, digest), 0);
        c.in.id = id;
        c.in.tenant = (char *)"acme";
        c.in.name = (char *)"deploy bot";
        c.in.digest = digest;
        c.in.scopes = SCOPE_JOBS_WRITE | SCOPE_JOBS_READ;
        c.in.expires_at_ms = T0 + 86400000;
        c.in.rate_max = 10;
        c.in.rate_per_ms = 1000;
        c.in.created_by = (char *)"k0000000000000001";
        c.in.created_at_ms = 42; /* overwritten: created_at is the transaction's now */
        clock_fake_advance_ms(&e->clock, 7);
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.in.created_at_ms, T0 + 7);

        assert_int_equal(get_key(e, "acme", id, &k), 0);
        assert_string_equal(k.id, id);
        assert_string_equal(k.tenant, "acme");
        assert_string_equal(k.name, "deploy bot");
        assert_string_equal(k.digest, digest);
        assert_null(k.prev_digest);
        assert_int_equal(k.scopes, SCOPE_JOBS_WRITE | SCOPE_JOBS_READ);
        assert_int_equal(k.created_at_ms, T0 + 7);
        assert_int_equal(k.expires_at_ms, T0 + 86400000);
        assert_int_equal(k.revoked_at_ms, 0);
        assert_int_equal(k.rotated_at_ms, 0);
        assert_int_equal(k.rate_max, 10);
        assert_int_equal(k.rate_per_ms, 1000);
        assert_string_equal(k.created_by, "k0000000000000001");
        /* The token the caller got authenticates against the stored record. */
        key_digest(token, digest);
        assert_true(key_accepts(&k, digest, T0 + 7));
        key_rec_free(&k);
        /* Any tenant (NULL) sees it; another tenant does not. */
        assert_int_equal(get_key(e, NULL, id, &k), 0);
        key_rec_free(&k);
        assert_int_equal(get_key(e, "default", id, &k), BATON_ENOTFOUND);
        assert_int_equal(get_key(e, "acme", "k0000000000000404", &k), BATON_ENOTFOUND);

        /* The same id again: a conflict, and the op rolled back. */
        c.in.tenant = (char *)"fresh-tenant";
        assert_int_equal(run(e, &c), BATON_ECONFLICT);
        assert_int_equal(get_key(e, NULL, id, &k), 0);
        assert_string_equal(k.tenant, "acme");
        key_rec_free(&k);
}

static void create_refuses_malformed_records(void **state)
{
        struct env *e = *state;
        struct call c = {.body = body_create};

        c.in.id = (char *)"not-an-id";
        c.in.tenant = (char *)"acme";
        c.in.digest = (char *)DIGEST_A;
        assert_int_equal(run(e, &c), BATON_EINVAL);
        c.in.id = (char *)"k0123456789abcdef";
        c.in.tenant = NULL;
        assert_int_equal(run(e, &c), BATON_EINVAL);
        c.in.tenant = (char *)"";
        assert_int_equal(run(e, &c), BATON_EINVAL);
        c.in.tenant = (char *)"acme";
        c.in.digest = (char *)"abc";
        assert_int_equal(run(e, &c), BATON_EINVAL);
        c.in.digest = NULL;
        assert_int_equal(run(e, &c), BATON_EINVAL);
        c.in.digest = (char *)DIGEST_A;
        assert_int_equal(run(e, &c), 0);
}

static void revoke_is_scoped_and_idempotent(void **state)
{
        struct env *e = *state;
        char id[KEY_ID_LEN + 1], token[KEY_TOKEN_LEN + 1], digest[KEY_DIGEST_LEN + 1];
        struct call c = {.body = body_revoke, .tenant = "default"};
        struct key_rec k = {0};

        create_key(e, "acme", SCOPE_WORK, id, token);
        key_digest(token, digest);
        c.id = id;
        /* Another tenant's key: not found, and untouched. */
        assert_int_equal(run(e, &c), BATON_ENOTFOUND);
        assert_int_equal(get_key(e, NULL, id, &k), 0);
        assert_int_equal(k.revoked_at_ms, 0);
        key_rec_free(&k);
        c.id = "k0000000000000404";
        c.tenant = NULL;
        assert_int_equal(run(e, &c), BATON_ENOTFOUND);

        clock_fake_advance_ms(&e->clock, 10);
        c.id = id;
        c.tenant = "acme";
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.out.revoked_at_ms, T0 + 10);
        assert_false(key_accepts(&c.out, digest, T0 + 10));
        call_reset(&c);
        /* Again, later and with any tenant: still fine, and the first instant
         * stays. */
        clock_fake_advance_ms(&e->clock, 10);
        c.tenant = NULL;
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.out.revoked_at_ms, T0 + 10);
        call_reset(&c);
        assert_int_equal(get_key(e, "acme", id, &k), 0);
        assert_int_equal(k.revoked_at_ms, T0 + 10);
        key_rec_free(&k);
}

static void rotate_with_and_without_grace(void **state)
{
        struct env *e = *state;
        char id[KEY_ID_LEN + 1], token[KEY_TOKEN_LEN + 1];
        char old_d[KEY_DIGEST_LEN + 1], new_t[KEY_TOKEN_LEN + 1], new_d[KEY_DIGEST_LEN + 1];
        char third_t[KEY_TOKEN_LEN + 1], third_d[KEY_DIGEST_LEN + 1];
        struct call c = {.body = body_rotate, .tenant = "acme", .grace_ms = 60000};
        struct key_rec k = {0};

        create_key(e, "acme", SCOPE_ADMIN, id, token);
        key_digest(token, old_d);
        assert_int_equal(key_token_renew(id, new_t, new_d), 0);
        c.id = id;
        c.digest = new_d;

        /* Another tenant cannot rotate it; bad inputs are refused. */
        c.tenant = "other";
        assert_int_equal(run(e, &c), BATON_ENOTFOUND);
        c.tenant = "acme";
        c.grace_ms = -1;
        assert_int_equal(run(e, &c), BATON_EINVAL);
        c.grace_ms = 60000;
        c.digest = "short";
        assert_int_equal(run(e, &c), BATON_EINVAL);
        c.digest = new_d;
        c.id = "k0000000000000404";
        assert_int_equal(run(e, &c), BATON_ENOTFOUND);
        c.id = id;

        clock_fake_advance_ms(&e->clock, 1000);
        assert_int_equal(run(e, &c), 0);
        assert_string_equal(c.out.digest, new_d);
        assert_string_equal(c.out.prev_digest, old_d);
        assert_int_equal(c.out.prev_until_ms, T0 + 1000 + 60000);
        assert_int_equal(c.out.rotated_at_ms, T0 + 1000);
        call_reset(&c);
        /* What the store holds: both tokens until the grace period ends. */
        assert_int_equal(get_key(e, "acme", id, &k), 0);
        assert_true(key_accepts(&k, new_d, T0 + 1000));
        assert_true(key_accepts(&k, old_d, T0 + 1000));
        assert_true(key_accepts(&k, old_d, T0 + 60999));
        assert_false(key_accepts(&k, old_d, T0 + 61000));
        assert_true(key_accepts(&k, new_d, T0 + 61000));
        key_rec_free(&k);

        /* A second rotation without grace: only the newest token works, the
         * one in its grace period is dropped at once. */
        assert_int_equal(key_token_renew(id, third_t, third_d), 0);
        clock_fake_advance_ms(&e->clock, 1000);
        c.digest = third_d;
        c.grace_ms = 0;
        assert_int_equal(run(e, &c), 0);
        assert_string_equal(c.out.digest, third_d);
        assert_null(c.out.prev_digest);
        assert_int_equal(c.out.prev_until_ms, 0);
        assert_int_equal(c.out.rotated_at_ms, T0 + 2000);
        call_reset(&c);
        assert_int_equal(get_key(e, NULL, id, &k), 0);
        assert_true(key_accepts(&k, third_d, T0 + 2000));
        assert_false(key_accepts(&k, new_d, T0 + 2000));
        assert_false(key_accepts(&k, old_d, T0 + 2000));
        /* Unchanged by rotation: the rest of the record. */
        assert_int_equal(k.created_at_ms, T0);
        assert_int_equal(k.scopes, SCOPE_ADMIN);
        key_rec_free(&k);

        /* A revoked key cannot be rotated back to life. */
        c.body = body_revoke;
        assert_int_equal(run(e, &c), 0);
        call_reset(&c);
        c.body = body_rotate;
        c.digest = new_d;
        assert_int_equal(run(e, &c), BATON_ECONFLICT);
        /* The refusal hands the key as it is, so the caller can say why. */
        assert_true(c.out.revoked_at_ms > 0);
        call_reset(&c);
        assert_int_equal(get_key(e, NULL, id, &k), 0);
        assert_string_equal(k.digest, third_d);
        key_rec_free(&k);
}

static void query_and_load_page_through_keys(void **state)
{
        struct env *e = *state;
        char ids[5][KEY_ID_LEN + 1];
        const char *tenants[] = {"acme", "default", "acme", "acme", "globex"};
        struct call c = {.body = body_query, .tenant = "acme", .limit = 2};
        char last[KEY_ID_LEN + 1];
        int total = 0;

        for (int i = 0; i < 5; i++)
                create_key(e, tenants[i], SCOPE_JOBS_READ, ids[i], NULL);
        /* acme's three keys, two at a time, in id order. */
        last[0] = 0;
        for (int page = 0; page < 3; page++) {
                c.after = last[0] ? last : NULL;
                assert_int_equal(run(e, &c), 0);
                for (int i = 0; i < c.n; i++) {
                        assert_string_equal(c.keys[i].tenant, "acme");
                        assert_true(strcmp(c.keys[i].id, last) > 0);
                        snprintf(last, sizeof(last), "%s", c.keys[i].id);
                }
                total += c.n;
                call_reset(&c);
        }
        assert_int_equal(total, 3);
        c.tenant = "nobody";
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.n, 0);
        call_reset(&c);
        c.limit = 0;
        assert_int_equal(run(e, &c), BATON_EINVAL);

        /* keys_load: every tenant's keys. */
        c.body = body_load;
        c.after = NULL;
        c.limit = 100;
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.n, 5);
        for (int i = 1; i < c.n; i++)
                assert_true(strcmp(c.keys[i - 1].id, c.keys[i].id) < 0);
        call_reset(&c);
        /* tenant NULL in keys_query means every tenant too. */
        c.body = body_query;
        c.tenant = NULL;
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.n, 5);
        call_reset(&c);
}

static void bootstrap_only_once(void **state)
{
        struct env *e = *state;
        struct call c = {.body = body_bootstrap};
        char id[KEY_ID_LEN + 1], digest[KEY_DIGEST_LEN + 1];
        struct key_rec k = {0};
        char *token;

        assert_int_equal(run(e, &c), 0);
        assert_non_null(c.token);
        token = c.token;
        c.token = NULL;
        assert_int_equal(strlen(token), TOKEN_CHARS);
        assert_int_equal(key_token_id(token, id), 0);
        assert_int_equal(get_key(e, "default", id, &k), 0);
        assert_string_equal(k.tenant, "default");
        assert_string_equal(k.name, "bootstrap admin");
        assert_string_equal(k.created_by, "bootstrap");
        assert_int_equal(k.scopes, SCOPE_ALL);
        assert_int_equal(k.expires_at_ms, 0);
        assert_int_equal(k.created_at_ms, T0);
        key_digest(token, digest);
        assert_true(key_accepts(&k, digest, T0 + 1));
        key_rec_free(&k);

        /* A second start finds a key and makes none. */
        c.token = (char *)"stale";
        assert_int_equal(run(e, &c), 0);
        assert_null(c.token);
        /* Even when the only key is revoked: the operator has been here. */
        c.body = body_revoke;
        c.id = id;
        assert_int_equal(run(e, &c), 0);
        call_reset(&c);
        c.body = body_bootstrap;
        assert_int_equal(run(e, &c), 0);
        assert_null(c.token);
        c.body = body_load;
        c.limit = 10;
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.n, 1);
        call_reset(&c);
        free(token);
}

static void bootstrap_skips_a_store_with_keys(void **state)
{
        struct env *e = *state;
        struct call c = {.body = body_bootstrap};

        create_key(e, "acme", SCOPE_WORK, NULL, NULL);
        assert_int_equal(run(e, &c), 0);
        assert_null(c.token);
}

static void audit_write_and_query(void **state)
{
        struct env *e = *state;
        struct call c = {.body = body_audit_write};
        int64_t ids[4];
        const char *tenants[] = {"acme", "default", "acme", "acme"};
        const char *actions[] = {"keys.create", "keys.create", "keys.revoke", "keys.create"};

        for (int i = 0; i < 4; i++) {
                memset(&c.audit, 0, sizeof(c.audit));
                c.audit.at_ms = 1; /* overwritten: the transaction's now */
                c.audit.key_id = (char *)"k0000000000000001";
                c.audit.tenant = (char *)tenants[i];
                c.audit.action = (char *)actions[i];
                c.audit.target = (char *)"k0000000000000002";
                c.audit.request_id = (char *)"req-1";
                c.audit.status = i == 2 ? 404 : 201;
                c.audit.code = i == 2 ? (char *)"not_found" : NULL;
                assert_int_equal(run(e, &c), 0);
                assert_int_equal(c.audit.at_ms, T0 + i);
                ids[i] = c.audit.id;
                assert_true(i == 0 || ids[i] > ids[i - 1]);
                clock_fake_advance_ms(&e->clock, 1);
        }
        memset(&c.audit, 0, sizeof(c.audit));
        assert_int_equal(run(e, &c), BATON_EINVAL); /* no action */

        c.body = body_audit_query;
        c.filter = (struct audit_filter){.tenant = "acme", .action = "keys.create", .limit = 10};
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.n, 2);
        assert_int_equal(c.audits[0].id, ids[0]);
        assert_int_equal(c.audits[1].id, ids[3]);
        assert_int_equal(c.audits[1].at_ms, T0 + 3);
        assert_string_equal(c.audits[1].request_id, "req-1");
        call_reset(&c);
        c.filter = (struct audit_filter){.tenant = "acme", .after_id = ids[0], .limit = 1};
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.n, 1);
        assert_int_equal(c.audits[0].id, ids[2]);
        assert_int_equal(c.audits[0].status, 404);
        assert_string_equal(c.audits[0].code, "not_found");
        call_reset(&c);
        c.filter = (struct audit_filter){.limit = 0};
        assert_int_equal(run(e, &c), BATON_EINVAL);
}

/* A refusal of key on action with status and code, through audit_refusal_write. */
static void refuse(struct env *e, struct call *c, const char *key, const char *action, int status,
                   const char *code, const char *target)
{
        c->body = body_audit_refusal;
        memset(&c->audit, 0, sizeof(c->audit));
        c->audit.key_id = (char *)key;
        c->audit.tenant = (char *)"acme";
        c->audit.action = (char *)action;
        c->audit.target = (char *)target;
        c->audit.request_id = (char *)target;
        c->audit.status = status;
        c->audit.code = (char *)code;
        assert_int_equal(run(e, c), 0);
        assert_null(c->audit.bucket);
}

/* Every audit row, oldest first (at most 100). */
static void all_audit(struct env *e, struct call *c)
{
        call_reset(c);
        c->body = body_audit_query;
        c->filter = (struct audit_filter){.limit = 100};
        assert_int_equal(run(e, c), 0);
}

/* 100 refusals of one key, action and outcome in one clock minute are one row
 * with n = 100; another minute, key, action or status makes another row. */
static void audit_refusals_counted_per_minute(void **state)
{
        struct env *e = *state;
        struct call c = {0};
        char rq[32];
        int64_t first_id = 0;

        /* T0 is 09:00:52: 7,999 ms of this minute are left. */
        assert_int_equal(T0 % 60000, 52000);
        for (int i = 0; i < 100; i++) {
                snprintf(rq, sizeof(rq), "req-%d", i);
                refuse(e, &c, "k0000000000000001", "queue.update", 403, "forbidden", rq);
                assert_int_equal(c.audit.n, i + 1);
                if (i == 0)
                        first_id = c.audit.id;
                assert_int_equal(c.audit.id, first_id);
                clock_fake_advance_ms(&e->clock, i < 99 ? 80 : 0); /* 7,920 ms in all */
        }
        all_audit(e, &c);
        assert_int_equal(c.n, 1);
        assert_int_equal(c.audits[0].n, 100);
        assert_int_equal(c.audits[0].at_ms, T0);               /* the first refusal's time */
        assert_string_equal(c.audits[0].request_id, "req-99"); /* the latest's */
        assert_string_equal(c.audits[0].code, "forbidden");

        /* Same minute, other status / action / key: rows of their own. */
        refuse(e, &c, "k0000000000000001", "queue.update", 429, "rate_limited", "x");
        refuse(e, &c, "k0000000000000001", "keys.create", 403, "forbidden", "x");
        refuse(e, &c, "k0000000000000002", "queue.update", 403, "forbidden", "x");
        refuse(e, &c, NULL, "queue.update", 403, "forbidden", "x");
        all_audit(e, &c);
        assert_int_equal(c.n, 5);
        /* The next minute starts a new row. */
        clock_fake_advance_ms(&e->clock, 80); /* 09:01:00.000 */
        refuse(e, &c, "k0000000000000001", "queue.update", 403, "forbidden", "next");
        assert_int_equal(c.audit.n, 1);
        assert_true(c.audit.id != first_id);
        all_audit(e, &c);
        assert_int_equal(c.n, 6);
        /* A success is a row per call, n = 1. */
        c.body = body_audit_write;
        for (int i = 0; i < 2; i++) {
                memset(&c.audit, 0, sizeof(c.audit));
                c.audit.key_id = (char *)"k0000000000000001";
                c.audit.tenant = (char *)"acme";
                c.audit.action = (char *)"queue.update";
                c.audit.status = 200;
                assert_int_equal(run(e, &c), 0);
                assert_int_equal(c.audit.n, 1);
        }
        all_audit(e, &c);
        assert_int_equal(c.n, 8);
        assert_int_equal(c.audits[7].n, 1);
        call_reset(&c);
}

/* The leader's tick deletes audit rows older than --audit-retention-ms
 * (default 90 days) and arms its next deadline for the oldest row's purge. */
static void audit_retention_purges_old_rows(void **state)
{
        struct env *e = *state;
        struct call c = {0};
        const int64_t day_ms = 24LL * 3600 * 1000;

        assert_int_equal(e->limits.audit_retention_ms, 90 * day_ms);
        refuse(e, &c, "k0000000000000001", "queue.update", 403, "forbidden", "old");
        clock_fake_advance_ms(&e->clock, day_ms);
        refuse(e, &c, "k0000000000000001", "queue.update", 403, "forbidden", "newer");
        /* Nothing is due but the first row's purge. */
        c.body = body_tick;
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.tick.purged, 0);
        assert_int_equal(c.tick.next_ms, T0 + 90 * day_ms + 1);
        /* 90 days after the first row: still kept (it is not older). */
        clock_fake_advance_ms(&e->clock, 89 * day_ms);
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.tick.purged, 0);
        all_audit(e, &c);
        assert_int_equal(c.n, 2);
        /* One ms later it goes; the newer one stays a day longer. */
        clock_fake_advance_ms(&e->clock, 1);
        c.body = body_tick;
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.tick.purged, 1);
        assert_int_equal(c.tick.next_ms, T0 + 91 * day_ms + 1);
        all_audit(e, &c);
        assert_int_equal(c.n, 1);
        assert_string_equal(c.audits[0].target, "newer");
        /* A shorter retention applies from the next tick. */
        e->limits.audit_retention_ms = 60000;
        c.body = body_tick;
        assert_int_equal(run(e, &c), 0);
        assert_int_equal(c.tick.purged, 1);
        assert_int_equal(c.tick.next_ms, 0);
        all_audit(e, &c);
        assert_int_equal(c.n, 0);
        call_reset(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(token_new_has_the_documented_shape),
            cmocka_unit_test(token_renew_keeps_the_id),
            cmocka_unit_test(token_id_refuses_bad_shapes),
            cmocka_unit_test(digest_is_hex_sha256),
            cmocka_unit_test(digest_equal_is_exact),
            cmocka_unit_test(scope_names_round_trip),
            cmocka_unit_test(accepts_checks_revocation_and_expiry),
            cmocka_unit_test(accepts_previous_digest_within_grace),
            UNIT_ENV_TEST(create_and_get),
            UNIT_ENV_TEST(create_refuses_malformed_records),
            UNIT_ENV_TEST(revoke_is_scoped_and_idempotent),
            UNIT_ENV_TEST(rotate_with_and_without_grace),
            UNIT_ENV_TEST(query_and_load_page_through_keys),
            UNIT_ENV_TEST(bootstrap_only_once),
            UNIT_ENV_TEST(bootstrap_skips_a_store_with_keys),
            UNIT_ENV_TEST(audit_write_and_query),
            UNIT_ENV_TEST(audit_refusals_counted_per_minute),
            UNIT_ENV_TEST(audit_retention_purges_old_rows),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
