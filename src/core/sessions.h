/*
 * sessions.h: the web dashboard's sessions as transaction functions, and the
 * shape of their secrets. A session is made by signing in with an API key
 * (POST /v1/sessions): the browser holds a random cookie and a random CSRF
 * token, and the store holds the SHA-256 of each (struct session_rec), the
 * key it acts as and the digest of that key's secret at sign-in, so the
 * session works only while the key still accepts that secret (not revoked,
 * not expired, not rotated away). Each key keeps at most a bounded number of
 * live sessions: a new one drops the oldest.
 *
 * Every change notes the key (txn_note_key), so other nodes sharing the store
 * reload the key's sessions with the key (server/cluster.c).
 *
 * Ownership: every struct session_rec filled here is owned by the caller
 * (session_rec_free, session_recs_free from store.h).
 */
#ifndef BATON_CORE_SESSIONS_H
#define BATON_CORE_SESSIONS_H

#include <stdint.h>

#include "core/txn.h"
#include "store/store.h"

/* Hex characters of a cookie or a CSRF token: 256 random bits. */
#define SESSION_SECRET_LEN 64
/* Live sessions one key may hold; a new one beyond drops the oldest. */
#define SESSIONS_PER_KEY_MAX 100

/* A fresh secret (CSPRNG), SESSION_SECRET_LEN hex characters and a NUL. */
int session_secret_new(char out[SESSION_SECRET_LEN + 1]);

/* Inserts r (every field set by the caller; created_at_ms is set here to
 * the transaction's time), first deleting the key's expired sessions and its
 * oldest live ones beyond keep - 1, so that the key holds at most keep.
 * *dropped_out (may be NULL) counts the sessions deleted. */
int sessions_create(struct txn *tx, struct session_rec *r, int keep, int *dropped_out);
/* Deletes session id (the cookie's digest) of key_id; BATON_ENOTFOUND when
 * there is none. */
int sessions_delete(struct txn *tx, const char *key_id, const char *id);
/* Every session of key_id (at most SESSIONS_PER_KEY_MAX plus those that
 * expired since), oldest first. */
int sessions_of_key(struct txn *tx, const char *key_id, struct session_rec **out, int *n_out);
/* Every session, pages of limit after the cursor (the last record of the
 * previous page; NULL = from the start), for the server's in-memory table. */
int sessions_load(struct txn *tx, const struct session_rec *after, int limit,
                  struct session_rec **out, int *n_out);

#endif
