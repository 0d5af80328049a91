/*
 * auth.h: authentication, scopes and per-key rate limits of batond's HTTP
 * front. http.c calls auth_request once per routed request, before the query
 * and body are read, so an unauthenticated caller learns nothing about input
 * validation.
 */
#ifndef BATON_SERVER_AUTH_H
#define BATON_SERVER_AUTH_H

#include <stdbool.h>

#include "server/http.h"

/* Authenticates hr (Authorization: Bearer <token>, or without that header the
 * dashboard's session cookie), checks the route's scope and takes one request
 * from the key's rate limit; sets hr->tenant, key_id, scopes and authed (and
 * session_id for the cookie). A request authenticated by the cookie acts as
 * the key that signed in (with the key's tenant and scopes now) while the
 * session lasts and the key still accepts the secret it signed in with (not
 * revoked, expired or rotated away); with any method but GET and HEAD it must
 * also carry its sign-in's X-CSRF-Token. Returns 0 when the handler may run;
 * otherwise it has answered 401 unauthenticated, 403 forbidden or
 * csrf_required, or 429 rate_limited (hr is freed) and returns -1. */
int auth_request(struct http_req *hr);

/* The name of the web dashboard's session cookie. */
#define AUTH_SESSION_COOKIE "baton_session"

/* Checks a key's token for a sign-in (POST /v1/sessions) as a Bearer token
 * is checked, and takes one request from its rate limit; sets hr->tenant,
 * key_id, scopes and authed, and copies the key's current digest into
 * digest (KEY_DIGEST_LEN + 1 bytes). Returns 0; otherwise it has answered
 * 401 unauthenticated or 429 rate_limited (hr is freed) and returns -1. */
int auth_sign_in(struct http_req *hr, const char *token, char *digest);

/* Checks hr's key again, for a request that waited (a parked long-poll) before
 * it acts: the key must still accept the request's secret (not revoked, not
 * expired, the secret not rotated away) and still hold the route's scope. No
 * rate limit is taken. Returns 0 when the request may go on; otherwise it has
 * answered 401 or 403 (hr is freed) and returns -1. A request that named no
 * key (open routes, --insecure-no-auth) always passes. */
int auth_recheck(struct http_req *hr);
/* auth_recheck without an answer, for a streamed request whose head is
 * already out: 0 when it may go on, -1 when its key stopped working or lost
 * the route's scope (the caller ends the stream). */
int auth_still_valid(struct http_req *hr);

/* True when the caller holds admin on tenant "default": it may act on other
 * tenants (create keys for them, list their keys and audit entries). */
bool auth_is_root(const struct http_req *hr);

/* True for the literal addresses 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104,
 * and for "localhost" when every address it resolves to is one of them. Any
 * other name (the machine's host name included) is false. */
bool auth_host_loopback(const char *host);

#endif
