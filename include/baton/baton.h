/*
 * baton.h: the public API of baton, the one installed header.
 *
 * It holds the error codes shared by the whole code base (server, store, core and
 * client all return 0 or a negative value of enum baton_err) and libbaton, the C
 * client library that talks HTTP/JSON to batond. The client is synchronous: one
 * struct baton_client per thread; each call performs one HTTP request.
 */
#ifndef BATON_BATON_H
#define BATON_BATON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function in baton returns 0 or one of these negative codes. */
enum baton_err {
	BATON_OK = 0,
	BATON_ENOMEM = -1,      /* allocation failed */
	BATON_EINVAL = -2,      /* invalid argument or input (HTTP 400) */
	BATON_ENOTFOUND = -3,   /* no such object in this tenant (HTTP 404) */
	BATON_ECONFLICT = -4,   /* generic conflict (HTTP 409) */
	BATON_ELEASE = -5,      /* lease token is not the current one: lease_mismatch (409) */
	BATON_EEXPIRED = -6,    /* the lease expired before the call: lease_expired (409) */
	BATON_EIDEM = -7,       /* idempotency key reused with another payload (409) */
	BATON_ESTATE = -8,      /* operation not allowed in the job's state (409) */
	BATON_ETOOBIG = -9,     /* input over a size limit (HTTP 413) */
	BATON_ESTORE = -10,     /* the store failed; nothing was applied (HTTP 503) */
	BATON_EBUSY = -11,      /* unavailable or overloaded, retry later (HTTP 503) */
	BATON_ESCHEMA = -12,    /* the store has a newer schema than this binary */
	BATON_EIO = -13,        /* I/O or system call failure */
	BATON_ESHUTDOWN = -14,  /* the server is shutting down */
	BATON_EHTTP = -15,      /* transport failure talking to the server (client) */
	BATON_EPROTO = -16,     /* unexpected answer from the server (client) */
	BATON_EAUTH = -17,      /* missing or unknown API key (HTTP 401) */
	BATON_EFORBIDDEN = -18, /* missing scope (HTTP 403) */
	BATON_ERATE = -19,      /* rate limited (HTTP 429) */
	BATON_ERANGE = -20,     /* numeric value out of its allowed range (HTTP 400) */
	BATON_ERR_MIN = -20
};

/* Returns a static, human-readable description of an error code. */
const char *baton_strerror(int rc);

/* ---- libbaton: client API (below this line) ---- */

#ifdef __cplusplus
}
#endif
#endif
