/*
 * keyring.h: the server's in-memory table of API keys, hashed by key id, and
 * the per-key request rate limit (a token bucket) kept beside each key.
 *
 * The table is loaded from the store before the loop starts (keyring_load)
 * and updated on the loop thread from the done callbacks of key creation,
 * revocation and rotation, so a revoked key is refused on the very next
 * request this node serves. Loop thread only.
 *
 * Entries are never removed (a revoked key stays, with revoked_at set) and a
 * key's id and tenant never change, so the id and tenant strings of an entry
 * stay valid until keyring_free: a request may point at them (hr->tenant,
 * hr->key_id) and an op on the store thread may read them.
 */
#ifndef BATON_SERVER_KEYRING_H
#define BATON_SERVER_KEYRING_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct keyring;
struct server;

/* A key of the table; rec is owned by the table (read only outside it). */
struct keyring_entry {
        struct key_rec rec;
        int64_t level;     /* token bucket level, in tokens * per_ms units */
        int64_t filled_ms; /* monotonic ms of the last refill; 0 = never used */
        struct keyring_entry *next;
};

int keyring_new(struct keyring **out);
void keyring_free(struct keyring *kr);

/* Takes k's strings (k is zeroed afterwards): a new entry, or an update of the
 * entry with the same id (its bucket and its id and tenant strings kept). */
int keyring_put(struct keyring *kr, struct key_rec *k);
/* The entry of id, or NULL. */
struct keyring_entry *keyring_get(const struct keyring *kr, const char *id);
/* Number of keys. */
int keyring_count(const struct keyring *kr);

/* Distinct tenant names of every key, "default" included, sorted. *out is a
 * malloc'd array (caller frees the array only) of pointers into the table. */
int keyring_tenants(const struct keyring *kr, const char ***out, int *n_out);

/* Takes one request from e's bucket at now_ms (monotonic). max and per_ms
 * are the key's own limit or the server default. Returns true when allowed;
 * otherwise *retry_after_ms says when one token will be there again. */
bool keyring_take(struct keyring_entry *e, int64_t max, int64_t per_ms, int64_t now_ms,
                  int64_t *retry_after_ms);

/* Before the loop runs: creates tenant "default" and the first admin key when
 * the store has none (the token, caller frees, in *token_out, else NULL), then
 * loads every key into srv->keyring. Runs on the calling thread through
 * exec_run_sync. */
int keyring_bootstrap(struct server *srv, char **token_out);
int keyring_load(struct server *srv);

#endif
