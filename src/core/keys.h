/*
 * keys.h: API keys, tenants and the audit log as transaction functions, plus
 * the token format and scope names shared by the server and the tests.
 *
 * Token format: "bk_" + key id + "_" + 32 hex characters of secret, e.g.
 * "bk_k0123456789abcdef_9f...". The id inside the token lets the server find
 * the key without a lookup by secret; the whole token's SHA-256 digest is
 * compared in constant time. Only the digest is stored; the token is shown
 * once, in the answer that created or rotated it.
 *
 * Ownership: every struct key_rec / audit_rec filled here is owned by the
 * caller (key_rec_free, audit_rec_free, *_recs_free from store.h).
 */
#ifndef BATON_CORE_KEYS_H
#define BATON_CORE_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/txn.h"
#include "store/store.h"

enum key_scope {
        SCOPE_JOBS_WRITE = 1u << 0,
        SCOPE_JOBS_READ = 1u << 1,
        SCOPE_WORK = 1u << 2,
        SCOPE_CRON_READ = 1u << 3,
        SCOPE_CRON_WRITE = 1u << 4,
        SCOPE_CRON_RUN = 1u << 5,
        SCOPE_ADMIN = 1u << 6,
        /* GET /metrics: server-wide, so only on tenant "default" (admin there
         * implies it). After admin so stored masks keep their meaning. */
        SCOPE_METRICS = 1u << 7,
        /* GET /v1/events (core/events.h): the tenant's event log. */
        SCOPE_EVENTS_READ = 1u << 8,
        SCOPE_ALL = (1u << 9) - 1
};

#define KEY_ID_LEN 17     /* "k" + 16 hex */
#define KEY_TOKEN_LEN 53  /* "bk_" (3) + id (17) + "_" (1) + 32 hex */
#define KEY_DIGEST_LEN 64 /* hex SHA-256 */
#define KEY_BOOTSTRAP_FILE "admin.key"

/* "jobs:write" for SCOPE_JOBS_WRITE...; NULL for anything but one bit. */
const char *key_scope_name(uint32_t bit);
/* The bit for a name, or 0 when the name is unknown. */
uint32_t key_scope_parse(const char *name);

/* Makes a fresh id and token (CSPRNG) and the token's digest. */
int key_token_new(char id[KEY_ID_LEN + 1], char token[KEY_TOKEN_LEN + 1],
                  char digest[KEY_DIGEST_LEN + 1]);
/* A new token for an existing id (rotation). */
int key_token_renew(const char *id, char token[KEY_TOKEN_LEN + 1], char digest[KEY_DIGEST_LEN + 1]);
/* Extracts the id from a token; BATON_EAUTH when it is not shaped like one. */
int key_token_id(const char *token, char id[KEY_ID_LEN + 1]);
/* The hex SHA-256 of token. */
void key_digest(const char *token, char digest[KEY_DIGEST_LEN + 1]);
/* Constant-time comparison of two hex digests (NULL never matches). */
bool key_digest_equal(const char *a, const char *b);

/* Is k usable at now_ms with this digest? Checks revocation, expiry, the
 * current digest and, within the grace period, the previous one. */
bool key_accepts(const struct key_rec *k, const char *digest, int64_t now_ms);

/* Creates the tenant when missing, then inserts k (id, digest, scopes, name,
 * limits filled by the caller; created_at set here). */
int keys_create(struct txn *tx, struct key_rec *k);
/* Revokes key id of tenant (NULL = any tenant; another tenant's key is
 * BATON_ENOTFOUND). Revoking twice is not an error. *out: the key after. */
int keys_revoke(struct txn *tx, const char *tenant, const char *id, struct key_rec *out);
/* Replaces the digest; the old one stays valid for grace_ms (0 = not at all).
 * BATON_ECONFLICT: the key is revoked or has expired (a new secret would never
 * work); *out (when not NULL) then holds the key as it is, so the caller can
 * say which (409 key_revoked / key_expired). */
int keys_rotate(struct txn *tx, const char *tenant, const char *id, const char *new_digest,
                int64_t grace_ms, struct key_rec *out);
int keys_get(struct txn *tx, const char *tenant, const char *id, struct key_rec *out);
int keys_query(struct txn *tx, const char *tenant, const char *after, int limit,
               struct key_rec **out, int *n_out);
/* First start: when the store has no key at all, creates tenant "default" and
 * an admin key; *token_out (caller frees) receives its token, else NULL. */
int keys_bootstrap(struct txn *tx, char **token_out);
/* Every key (for the server's in-memory key table), pages of limit. */
int keys_load(struct txn *tx, const char *after, int limit, struct key_rec **out, int *n_out);

/* Appends an audit record (at_ms set here); r->id is set. */
int audit_write(struct txn *tx, struct audit_rec *r);
/* Refusals are counted, not appended one per call: every refusal of one key
 * (tenant, when no key) on one action with one status and code within one
 * clock minute (tx->now_ms / AUDIT_BUCKET_MS) adds 1 to the same row's n;
 * the row keeps the first refusal's time and shows the latest one's target
 * and request id. r->n is how many refusals r stands for (0 = 1). r->id and
 * r->n are set (r->bucket must be NULL; it is left NULL). */
#define AUDIT_BUCKET_MS 60000
int audit_refusal_write(struct txn *tx, struct audit_rec *r);
int audit_query(struct txn *tx, const struct audit_filter *f, struct audit_rec **out, int *n_out);

#endif
