/*
 * sessring.h: the server's in-memory table of dashboard sessions (core/
 * sessions.h), hashed by the cookie's digest, so authenticating a cookie
 * costs a hash and a lookup and no store access, as a key does (keyring.h).
 *
 * The table is loaded from the store before the loop starts
 * (sessring_load), updated on the loop thread by the done callbacks of
 * sign-in and sign-out, and on a node sharing its store by the key reloads
 * of server/cluster.c, which replace a key's sessions with what the store
 * holds (sessring_replace_key). Loop thread only.
 */
#ifndef BATON_SERVER_SESSRING_H
#define BATON_SERVER_SESSRING_H

#include <stdint.h>

#include "store/store.h"

struct sessring;
struct server;

/* A session of the table; rec is owned by the table (read only outside it).
 * An entry may be freed by any change of its key's sessions: a request keeps
 * a copy of what it needs, never the pointer. */
struct sessring_entry {
        struct session_rec rec;
        struct sessring_entry *next;
};

int sessring_new(struct sessring **out);
void sessring_free(struct sessring *sr);

/* Takes r's strings (r is zeroed afterwards): a new entry, or the entry with
 * the same id replaced. */
int sessring_put(struct sessring *sr, struct session_rec *r);
/* The entry whose id is the digest id, or NULL. */
const struct sessring_entry *sessring_get(const struct sessring *sr, const char *id);
/* Drops the entry of id, if any. */
void sessring_drop(struct sessring *sr, const char *id);
/* Drops every entry of key_id, then takes v[0..n) (strings taken, v's
 * records zeroed; the array stays the caller's). */
int sessring_replace_key(struct sessring *sr, const char *key_id, struct session_rec *v, int n);
/* Number of sessions. */
int sessring_count(const struct sessring *sr);

/* Before the loop runs: loads every session into srv->sessring (through
 * exec_run_sync, on the calling thread). */
int sessring_load(struct server *srv);

#endif
