/*
 * sessions.c: sign-in sessions of the web dashboard (sessions.h) over the
 * store's sessions table.
 *
 * Workload: a sign-in or sign-out per person per working day or so; a key's
 * sessions are read whole (a few rows) on every change. Assumes the per-key
 * limit keeps a key's rows few: sessions_create reads them all, and expired
 * or revoked-key rows are deleted there (a revoked key's rows stay until
 * then, bounded by the limit, and never work again).
 */
#include "core/sessions.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/rand.h"

/* Rows of one key read per page; a key holds at most SESSIONS_PER_KEY_MAX
 * live ones, so a page or two. */
#define SESSIONS_PAGE 128
/* A key's rows read at most (live ones and those that expired since the
 * last sign-in): bounds the loop below whatever the table holds. */
#define SESSIONS_KEY_ROWS_MAX 100000

_Static_assert(2 * RAND_TOKEN_LEN == SESSION_SECRET_LEN, "a secret is two tokens");

int session_secret_new(char out[SESSION_SECRET_LEN + 1])
{
        char a[RAND_TOKEN_LEN + 1], b[RAND_TOKEN_LEN + 1];
        int rc = rand_token(a);

        if (!rc)
                rc = rand_token(b);
        if (!rc) {
                memcpy(out, a, RAND_TOKEN_LEN);
                memcpy(out + RAND_TOKEN_LEN, b, RAND_TOKEN_LEN + 1);
        }
        explicit_bzero(a, sizeof(a));
        explicit_bzero(b, sizeof(b));
        return rc;
}

/* Appends a page to *v (the page array is freed). */
static int append(struct session_rec **v, int *n, struct session_rec *page, int k)
{
        struct session_rec *grown = realloc(*v, (size_t)(*n + k + 1) * sizeof(*grown));

        if (!grown) {
                session_recs_free(page, k);
                return BATON_ENOMEM;
        }
        if (k > 0)
                memcpy(&grown[*n], page, (size_t)k * sizeof(*page));
        *v = grown;
        *n += k;
        free(page);
        return 0;
}

/* Reads every row of key_id (NULL: every key) after the cursor, in pages,
 * at most max rows. */
static int read_all(struct txn *tx, const char *key_id, int max, struct session_rec **out,
                    int *n_out)
{
        const struct session_rec *last = NULL;
        int rc = 0;

        *out = NULL;
        *n_out = 0;
        for (;;) {
                struct session_rec *page = NULL;
                int k = 0;

                rc = tx->ops->session_list(tx->st, key_id, last ? last->key_id : NULL,
                                           last ? last->created_at_ms : 0, last ? last->id : NULL,
                                           SESSIONS_PAGE, &page, &k);
                if (!rc)
                        rc = append(out, n_out, page, k);
                else
                        session_recs_free(page, k);
                if (rc || k < SESSIONS_PAGE || *n_out >= max)
                        break;
                last = &(*out)[*n_out - 1];
        }
        if (rc) {
                session_recs_free(*out, *n_out);
                *out = NULL;
                *n_out = 0;
        }
        return rc;
}

int sessions_of_key(struct txn *tx, const char *key_id, struct session_rec **out, int *n_out)
{
        if (!key_id)
                return BATON_EINVAL;
        return read_all(tx, key_id, SESSIONS_KEY_ROWS_MAX, out, n_out);
}

int sessions_create(struct txn *tx, struct session_rec *r, int keep, int *dropped_out)
{
        struct session_rec *v = NULL;
        int n = 0, live = 0, dropped = 0;
        int rc;

        if (keep < 1 || !r->key_id)
                return BATON_EINVAL;
        r->created_at_ms = tx->now_ms;
        rc = sessions_of_key(tx, r->key_id, &v, &n);
        if (rc)
                goto out;
        for (int i = 0; i < n; i++)
                if (v[i].expires_at_ms > tx->now_ms)
                        live++;
        /* Oldest first: the expired ones, and the live ones until keep - 1
         * are left for the new one to make keep. */
        for (int i = 0; i < n && !rc; i++) {
                bool expired = v[i].expires_at_ms <= tx->now_ms;
                if (!expired && live < keep)
                        continue;
                rc = tx->ops->session_delete(tx->st, v[i].id);
                if (!rc) {
                        dropped++;
                        if (!expired)
                                live--;
                }
        }
        if (!rc)
                rc = tx->ops->session_insert(tx->st, r);
        if (!rc)
                rc = txn_note_key(tx, r->key_id);
out:
        session_recs_free(v, n);
        if (dropped_out)
                *dropped_out = dropped;
        return rc;
}

int sessions_delete(struct txn *tx, const char *key_id, const char *id)
{
        int rc = tx->ops->session_delete(tx->st, id);

        return rc ? rc : txn_note_key(tx, key_id);
}

int sessions_load(struct txn *tx, const struct session_rec *after, int limit,
                  struct session_rec **out, int *n_out)
{
        return tx->ops->session_list(tx->st, NULL, after ? after->key_id : NULL,
                                     after ? after->created_at_ms : 0, after ? after->id : NULL,
                                     limit, out, n_out);
}
