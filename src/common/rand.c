/*
 * rand.c: thin wrappers over RAND_bytes, which is thread-safe and reseeds
 * itself; a failure there is treated as fatal for the token (BATON_EIO). A
 * rand_pool draws a block at a time for the store thread's lease tokens.
 */
#include "common/rand.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>

#include "common/errors.h"

static void to_hex(const unsigned char *raw, size_t n, char *out)
{
        static const char hex[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[2 * n] = 0;
}

int rand_token(char out[RAND_TOKEN_LEN + 1])
{
        unsigned char raw[RAND_TOKEN_LEN / 2];

        if (RAND_bytes(raw, (int)sizeof(raw)) != 1)
                return BATON_EIO;
        to_hex(raw, sizeof(raw), out);
        return 0;
}

struct rand_pool *rand_pool_new(void)
{
        struct rand_pool *p = malloc(sizeof(*p));

        if (p)
                p->used = RAND_POOL_BYTES;
        return p;
}

int rand_pool_token(struct rand_pool *p, char out[RAND_TOKEN_LEN + 1])
{
        const size_t n = RAND_TOKEN_LEN / 2;

        if (!p)
                return rand_token(out);
        if (p->used + n > RAND_POOL_BYTES) {
                if (RAND_bytes(p->buf, RAND_POOL_BYTES) != 1)
                        return BATON_EIO;
                p->used = 0;
        }
        to_hex(p->buf + p->used, n, out);
        /* Handed out once: a leaked pool never repeats a token. */
        OPENSSL_cleanse(p->buf + p->used, n);
        p->used += n;
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
