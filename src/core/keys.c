/*
 * keys.c: API keys, tenants and the audit log. Tokens are made and checked
 * here; the transaction functions compose the store's key, tenant and audit
 * operations with the rules of DESIGN §3 (tenant scoping, revocation,
 * rotation with a grace period, the first-start admin key).
 *
 * Workload: tiny. Keys change only through administrative calls, and the
 * server checks a request's token against its own in-memory copy of the keys
 * (loaded with keys_load), so nothing here is on the hot path except
 * key_token_id, key_digest and key_accepts, which are a parse, one SHA-256 and
 * two constant-time comparisons per request.
 *
 * Assumptions: the secret part of a token comes from OpenSSL's CSPRNG (128
 * bits), so a plain, unsalted SHA-256 is enough to store it: there is nothing
 * to brute-force that a salt or a slow hash would protect. The token carries
 * the key id, so a lookup never depends on the secret; the only comparison
 * that involves a secret is the digest one, done in constant time. Tokens and
 * secrets never reach a log from this file.
 */
#include "core/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/rand.h"

#define TOKEN_PREFIX "bk_"
#define TOKEN_PREFIX_LEN 3
#define KEY_ID_HEX 16     /* hex characters after the "k" of an id */
#define KEY_SECRET_HEX 32 /* hex characters of a token's secret */
/* Characters of a token as the format defines it: "bk_" + id + "_" + secret,
 * 3 + 17 + 1 + 32 = 53. Counted here rather than taken from KEY_TOKEN_LEN so
 * that a miscount there can only make buffers larger, never shift the format;
 * the buffers the caller passes must hold at least this many plus the NUL. */
#define TOKEN_CHARS (TOKEN_PREFIX_LEN + KEY_ID_LEN + 1 + KEY_SECRET_HEX)
_Static_assert(KEY_TOKEN_LEN >= TOKEN_CHARS, "KEY_TOKEN_LEN too small for the token format");

/* The names of the scope bits, in bit order (bit i is 1u << i). */
static const char *const scope_names[] = {
    "jobs:write", "jobs:read", "work",    "cron:read",   "cron:write",
    "cron:run",   "admin",     "metrics", "events:read",
};

const char *key_scope_name(uint32_t bit)
{
        for (size_t i = 0; i < BATON_ARRAY_LEN(scope_names); i++)
                if (bit == 1u << i)
                        return scope_names[i];
        return NULL;
}

uint32_t key_scope_parse(const char *name)
{
        if (!name)
                return 0;
        for (size_t i = 0; i < BATON_ARRAY_LEN(scope_names); i++)
                if (strcmp(name, scope_names[i]) == 0)
                        return 1u << i;
        return 0;
}

/* ---- tokens and digests ---- */

/* Lowercase hex only: tokens are generated that way, and accepting other
 * spellings would give one key several valid tokens. */
static bool is_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool id_valid(const char *id)
{
        return id && strlen(id) == KEY_ID_LEN && id[0] == 'k' && is_hex(id + 1, KEY_ID_HEX);
}

void key_digest(const char *token, char digest[KEY_DIGEST_LEN + 1])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;

        /* On a failure the digest is left empty, which key_digest_equal never
         * matches: a broken hash refuses every token instead of accepting one. */
        digest[0] = 0;
        if (!token || !EVP_Digest(token, strlen(token), md, &md_len, EVP_sha256(), NULL) ||
            md_len * 2 != KEY_DIGEST_LEN)
                return;
        for (unsigned int i = 0; i < md_len; i++) {
                digest[2 * i] = hex[md[i] >> 4];
                digest[2 * i + 1] = hex[md[i] & 15];
        }
        digest[KEY_DIGEST_LEN] = 0;
}

bool key_digest_equal(const char *a, const char *b)
{
        /* The lengths are public (every digest has 64 characters); only the
         * contents must be compared without an early exit. */
        if (!a || !b || strlen(a) != KEY_DIGEST_LEN || strlen(b) != KEY_DIGEST_LEN)
                return false;
        return CRYPTO_memcmp(a, b, KEY_DIGEST_LEN) == 0;
}

/* Builds the token for id with a fresh secret and its digest. */
static int make_token(const char *id, char token[KEY_TOKEN_LEN + 1],
                      char digest[KEY_DIGEST_LEN + 1])
{
        char secret[RAND_TOKEN_LEN + 1];
        int rc;

        BATON_ASSERT(RAND_TOKEN_LEN == KEY_SECRET_HEX);
        rc = rand_token(secret);
        if (rc)
                goto out;
        memcpy(token, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
        memcpy(token + TOKEN_PREFIX_LEN, id, KEY_ID_LEN);
        token[TOKEN_PREFIX_LEN + KEY_ID_LEN] = '_';
        memcpy(token + TOKEN_PREFIX_LEN + KEY_ID_LEN + 1, secret, KEY_SECRET_HEX);
        token[TOKEN_CHARS] = 0;
        key_digest(token, digest);
        if (!digest[0])
                rc = BATON_EIO;
out:
        OPENSSL_cleanse(secret, sizeof(secret));
        if (rc)
                OPENSSL_cleanse(token, KEY_TOKEN_LEN + 1);
        return rc;
}

int key_token_new(char id[KEY_ID_LEN + 1], char token[KEY_TOKEN_LEN + 1],
                  char digest[KEY_DIGEST_LEN + 1])
{
        char raw[RAND_TOKEN_LEN + 1];
        int rc;

        /* 64 random bits make an id: ids are public, they only need to be
         * unique, and key_insert refuses the (negligible) clash. */
        rc = rand_token(raw);
        if (rc)
                return rc;
        id[0] = 'k';
        memcpy(id + 1, raw, KEY_ID_HEX);
        id[KEY_ID_LEN] = 0;
        return make_token(id, token, digest);
}

int key_token_renew(const char *id, char token[KEY_TOKEN_LEN + 1], char digest[KEY_DIGEST_LEN + 1])
{
        if (!id_valid(id))
                return BATON_EINVAL;
        return make_token(id, token, digest);
}

int key_token_id(const char *token, char id[KEY_ID_LEN + 1])
{
        const char *p = token;

        if (!token || strlen(token) != TOKEN_CHARS || strncmp(p, TOKEN_PREFIX, TOKEN_PREFIX_LEN))
                return BATON_EAUTH;
        p += TOKEN_PREFIX_LEN;
        if (p[0] != 'k' || !is_hex(p + 1, KEY_ID_HEX) || p[KEY_ID_LEN] != '_' ||
            !is_hex(p + KEY_ID_LEN + 1, KEY_SECRET_HEX))
                return BATON_EAUTH;
        memcpy(id, p, KEY_ID_LEN);
        id[KEY_ID_LEN] = 0;
        return 0;
}

/* Expiry and the grace period both end at their instant: a key with
 * expires_at_ms = T is refused from T on, and a previous digest with
 * prev_until_ms = T is accepted up to T - 1 and refused at T. This matches the
 * rest of baton, where a record has expired at its expires_at. Revocation has
 * no instant to wait for: a revoked key is refused at once. Both digests are
 * always compared, so the time taken does not tell which one matched. */
bool key_accepts(const struct key_rec *k, const char *digest, int64_t now_ms)
{
        bool cur, prev;

        if (!k || !digest)
                return false;
        cur = key_digest_equal(k->digest, digest);
        prev = key_digest_equal(k->prev_digest, digest);
        if (k->revoked_at_ms != 0)
                return false;
        if (k->expires_at_ms != 0 && now_ms >= k->expires_at_ms)
                return false;
        return cur || (prev && now_ms < k->prev_until_ms);
}

/* ---- transaction functions ---- */

int keys_create(struct txn *tx, struct key_rec *k)
{
        int rc;

        if (!id_valid(k->id) || !k->tenant || !*k->tenant || !k->digest ||
            strlen(k->digest) != KEY_DIGEST_LEN)
                return BATON_EINVAL;
        rc = tx->ops->tenant_ensure(tx->st, k->tenant, tx->now_ms);
        if (rc)
                return rc;
        k->created_at_ms = tx->now_ms;
        /* A duplicate id is BATON_ECONFLICT; the op's savepoint undoes the
         * tenant it may have created. */
        return tx->ops->key_insert(tx->st, k);
}

int keys_get(struct txn *tx, const char *tenant, const char *id, struct key_rec *out)
{
        struct key_rec k = {0};
        int rc;

        rc = tx->ops->key_get(tx->st, id, &k);
        if (rc)
                return rc;
        /* Another tenant's key does not exist for the caller (DESIGN §3). */
        if (tenant && strcmp(k.tenant, tenant) != 0) {
                key_rec_free(&k);
                return BATON_ENOTFOUND;
        }
        *out = k;
        return 0;
}

/* Hands k to *out, or frees it when the caller does not want it. */
static void give(struct key_rec *k, struct key_rec *out)
{
        if (out)
                *out = *k;
        else
                key_rec_free(k);
}

/* Writes k and hands it to *out as give does; on an error k is freed. */
static int save(struct txn *tx, struct key_rec *k, struct key_rec *out)
{
        int rc = tx->ops->key_update(tx->st, k);

        if (rc) {
                key_rec_free(k);
                return rc;
        }
        give(k, out);
        return 0;
}

int keys_revoke(struct txn *tx, const char *tenant, const char *id, struct key_rec *out)
{
        struct key_rec k = {0};
        int rc;

        rc = keys_get(tx, tenant, id, &k);
        if (rc)
                return rc;
        /* Revoking again keeps the first instant, so the record tells when the
         * key actually stopped working. */
        if (k.revoked_at_ms != 0) {
                give(&k, out);
                return 0;
        }
        k.revoked_at_ms = tx->now_ms;
        return save(tx, &k, out);
}

int keys_rotate(struct txn *tx, const char *tenant, const char *id, const char *new_digest,
                int64_t grace_ms, struct key_rec *out)
{
        struct key_rec k = {0};
        char *digest = NULL;
        int rc;

        if (!new_digest || strlen(new_digest) != KEY_DIGEST_LEN || grace_ms < 0)
                return BATON_EINVAL;
        rc = keys_get(tx, tenant, id, &k);
        if (rc)
                return rc;
        /* A revoked key stays revoked: rotation must not bring it back. An
         * expired key would get a secret that never works, so it is refused
         * too. The caller reads which from *out. */
        if (k.revoked_at_ms != 0 || (k.expires_at_ms != 0 && tx->now_ms >= k.expires_at_ms)) {
                give(&k, out);
                return BATON_ECONFLICT;
        }
        digest = strdup(new_digest);
        if (!digest) {
                key_rec_free(&k);
                return BATON_ENOMEM;
        }
        /* One previous digest at most: rotating during a grace period ends the
         * older secret's grace at once, which is what a second rotation (often
         * after a leak) wants. */
        free(k.prev_digest);
        k.prev_digest = NULL;
        k.prev_until_ms = 0;
        if (grace_ms > 0) {
                k.prev_digest = k.digest;
                k.prev_until_ms = tx->now_ms + grace_ms;
        } else {
                free(k.digest);
        }
        k.digest = digest;
        k.rotated_at_ms = tx->now_ms;
        return save(tx, &k, out);
}

int keys_query(struct txn *tx, const char *tenant, const char *after, int limit,
               struct key_rec **out, int *n_out)
{
        return tx->ops->key_list(tx->st, tenant, after, limit, out, n_out);
}

int keys_load(struct txn *tx, const char *after, int limit, struct key_rec **out, int *n_out)
{
        return tx->ops->key_list(tx->st, NULL, after, limit, out, n_out);
}

int keys_bootstrap(struct txn *tx, char **token_out)
{
        char id[KEY_ID_LEN + 1], token[KEY_TOKEN_LEN + 1], digest[KEY_DIGEST_LEN + 1];
        char tenant[] = "default", name[] = "bootstrap admin", by[] = "bootstrap";
        struct key_rec k = {0};
        int64_t n = 0;
        int rc;

        *token_out = NULL;
        /* Any key at all, even a revoked one, means the operator has been here:
         * a second admin key must never appear behind their back. */
        rc = tx->ops->key_count(tx->st, &n);
        if (rc || n > 0)
                return rc;
        rc = key_token_new(id, token, digest);
        if (rc)
                goto out;
        k.id = id;
        k.tenant = tenant;
        k.name = name;
        k.digest = digest;
        k.scopes = SCOPE_ALL;
        k.created_by = by;
        rc = keys_create(tx, &k);
        if (rc)
                goto out;
        *token_out = strdup(token);
        if (!*token_out)
                rc = BATON_ENOMEM;
out:
        OPENSSL_cleanse(token, sizeof(token));
        return rc;
}

int audit_write(struct txn *tx, struct audit_rec *r)
{
        if (!r->action)
                return BATON_EINVAL;
        r->at_ms = tx->now_ms;
        return tx->ops->audit_insert(tx->st, r);
}

/* A refusal's bucket: "<minute>|<tenant>|<key id>|<action>|<status>|<code>".
 * Tenant and key id cannot hold "|" (names and ids are checked), and an
 * action or code is one of the server's own words; "-" stands for none. */
int audit_refusal_write(struct txn *tx, struct audit_rec *r)
{
        char *bucket = NULL;
        int rc;

        if (!r->action || r->bucket)
                return BATON_EINVAL;
        if (asprintf(&bucket, "%lld|%s|%s|%s|%d|%s", (long long)(tx->now_ms / AUDIT_BUCKET_MS),
                     r->tenant ? r->tenant : "-", r->key_id ? r->key_id : "-", r->action, r->status,
                     r->code ? r->code : "-") < 0)
                return BATON_ENOMEM;
        r->bucket = bucket;
        rc = audit_write(tx, r);
        /* The bucket is this call's: the record goes back as it came. */
        free(r->bucket);
        r->bucket = NULL;
        return rc;
}

int audit_query(struct txn *tx, const struct audit_filter *f, struct audit_rec **out, int *n_out)
{
        return tx->ops->audit_list(tx->st, f, out, n_out);
}
