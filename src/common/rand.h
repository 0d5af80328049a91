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

#endif
