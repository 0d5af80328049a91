/*
 * rand.c: thin wrappers over RAND_bytes, which is thread-safe and reseeds
 * itself; a failure there is treated as fatal for the token (BATON_EIO).
 */
#include "common/rand.h"

#include <openssl/rand.h>

#include "common/errors.h"

int rand_token(char out[RAND_TOKEN_LEN + 1])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[RAND_TOKEN_LEN / 2];

        if (RAND_bytes(raw, (int)sizeof(raw)) != 1)
                return BATON_EIO;
        for (size_t i = 0; i < sizeof(raw); i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[RAND_TOKEN_LEN] = 0;
        return 0;
}

uint64_t rand_below(uint64_t bound)
{
        uint64_t v = 0;

        if (bound <= 1)
                return 0;
        if (RAND_bytes((unsigned char *)&v, (int)sizeof(v)) != 1)
                return bound / 2;
        return v % bound;
}
