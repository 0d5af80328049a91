/*
 * rand.h: randomness from OpenSSL's CSPRNG: lease tokens (unguessable, unique
 * per attempt), request ids, and jitter for retry backoff.
 */
#ifndef BATON_COMMON_RAND_H
#define BATON_COMMON_RAND_H

#include <stddef.h>
#include <stdint.h>

#define RAND_TOKEN_LEN 32 /* hex characters in a token */

/* Fills out with RAND_TOKEN_LEN lowercase hex characters and a NUL. */
int rand_token(char out[RAND_TOKEN_LEN + 1]);
/* A uniformly distributed value in [0, bound); bound must be > 0. */
uint64_t rand_below(uint64_t bound);

/* CSPRNG output drawn a block at a time, for one thread that makes many
 * tokens (the store thread leases up to tens of thousands of jobs a second):
 * one RAND_bytes call per 256 tokens instead of one per token, which was 3 %
 * of the store thread's time per processed job. The bytes are as good as
 * RAND_bytes's; each is handed out once. Not thread-safe: one per thread. */
#define RAND_POOL_BYTES 4096
struct rand_pool {
        unsigned char buf[RAND_POOL_BYTES];
        size_t used; /* bytes handed out; RAND_POOL_BYTES = empty */
};
/* An empty pool, owned by the caller (free). NULL without memory. */
struct rand_pool *rand_pool_new(void);
/* rand_token from pool p's bytes, refilling it when they run out; with p
 * NULL, rand_token itself. */
int rand_pool_token(struct rand_pool *p, char out[RAND_TOKEN_LEN + 1]);

#endif
