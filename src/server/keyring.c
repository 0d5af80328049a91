/*
 * keyring.c: the in-memory key table (a chained hash on the key id that
 * doubles when it fills) and the per-key token bucket, plus the start-up
 * steps that fill it: bootstrap of the first admin key and the load of every
 * key, both run synchronously before the loop starts.
 *
 * Workload: one lookup and one bucket update per request; a few updates per
 * day. Assumes a few thousand keys at most (each costs ~200 bytes), and that
 * keys are never deleted from the store, only revoked.
 *
 * The bucket holds at most max tokens and gains max tokens every per_ms; a
 * request costs one. To stay in integers the level is kept in units of
 * 1/per_ms token: capacity max * per_ms, one request per_ms, one elapsed ms
 * adds max. max <= 1e9 and per_ms <= 8.64e7 (config and API bounds) keep the
 * products below 2^63.
 */
#include "server/keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/keys.h"
#include "server/server.h"

#define KEYRING_CAP0 64
#define KEYRING_LOAD_PAGE 500

struct keyring {
        struct keyring_entry **slots;
        size_t cap; /* power of two */
        int n;
};

static size_t slot_of(const struct keyring *kr, const char *id)
{
        uint64_t h = 1469598103934665603ULL;

        for (const char *p = id; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        return (size_t)h & (kr->cap - 1);
}

int keyring_new(struct keyring **out)
{
        struct keyring *kr = calloc(1, sizeof(*kr));

        if (!kr)
                return BATON_ENOMEM;
        kr->cap = KEYRING_CAP0;
        kr->slots = calloc(kr->cap, sizeof(*kr->slots));
        if (!kr->slots) {
                free(kr);
                return BATON_ENOMEM;
        }
        *out = kr;
        return 0;
}

void keyring_free(struct keyring *kr)
{
        if (!kr)
                return;
        for (size_t i = 0; i < kr->cap; i++) {
                struct keyring_entry *e = kr->slots[i];
                while (e) {
                        struct keyring_entry *next = e->next;
                        key_rec_free(&e->rec);
                        free(e);
                        e = next;
                }
        }
        free(kr->slots);
        free(kr);
}

struct keyring_entry *keyring_get(const struct keyring *kr, const char *id)
{
        struct keyring_entry *e = kr->slots[slot_of(kr, id)];

        while (e && strcmp(e->rec.id, id) != 0)
                e = e->next;
        return e;
}

int keyring_count(const struct keyring *kr)
{
        return kr->n;
}

/* Doubles the table when it holds more keys than slots. */
static int grow(struct keyring *kr)
{
        size_t old_cap = kr->cap;
        struct keyring_entry **old = kr->slots;
        struct keyring_entry **slots = calloc(old_cap * 2, sizeof(*slots));

        if (!slots)
                return BATON_ENOMEM;
        kr->slots = slots;
        kr->cap = old_cap * 2;
        for (size_t i = 0; i < old_cap; i++) {
                struct keyring_entry *e = old[i];
                while (e) {
                        struct keyring_entry *next = e->next;
                        size_t s = slot_of(kr, e->rec.id);
                        e->next = kr->slots[s];
                        kr->slots[s] = e;
                        e = next;
                }
        }
        free(old);
        return 0;
}

/* Replaces every field of e->rec but id and tenant with k's; k is emptied. */
static void update(struct keyring_entry *e, struct key_rec *k)
{
        char *id = e->rec.id, *tenant = e->rec.tenant;

        e->rec.id = k->id;
        e->rec.tenant = k->tenant;
        key_rec_free(&e->rec);
        e->rec = *k;
        e->rec.id = id;
        e->rec.tenant = tenant;
        memset(k, 0, sizeof(*k));
}

int keyring_put(struct keyring *kr, struct key_rec *k)
{
        struct keyring_entry *e;
        size_t s;

        if (!k->id || !k->tenant)
                return BATON_EINVAL;
        e = keyring_get(kr, k->id);
        if (e) {
                update(e, k);
                return 0;
        }
        if ((size_t)kr->n >= kr->cap && grow(kr) != 0)
                return BATON_ENOMEM;
        e = calloc(1, sizeof(*e));
        if (!e)
                return BATON_ENOMEM;
        e->rec = *k;
        memset(k, 0, sizeof(*k));
        s = slot_of(kr, e->rec.id);
        e->next = kr->slots[s];
        kr->slots[s] = e;
        kr->n++;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int keyring_tenants(const struct keyring *kr, const char ***out, int *n_out)
{
        const char **v = malloc(((size_t)kr->n + 1) * sizeof(*v));
        int n = 0, k = 0;

        if (!v)
                return BATON_ENOMEM;
        v[n++] = SERVER_TENANT;
        for (size_t i = 0; i < kr->cap; i++)
                for (struct keyring_entry *e = kr->slots[i]; e; e = e->next)
                        v[n++] = e->rec.tenant;
        qsort(v, (size_t)n, sizeof(*v), cmp_str);
        for (int i = 0; i < n; i++)
                if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
                        v[k++] = v[i];
        *out = v;
        *n_out = k;
        return 0;
}

bool keyring_take(struct keyring_entry *e, int64_t max, int64_t per_ms, int64_t now_ms,
                  int64_t *retry_after_ms)
{
        int64_t cap = max * per_ms;
        int64_t elapsed;

        if (e->filled_ms == 0) {
                e->level = cap;
                e->filled_ms = now_ms;
        }
        elapsed = now_ms - e->filled_ms;
        if (elapsed > 0) {
                /* After per_ms the bucket is full whatever it held. */
                e->level = elapsed >= per_ms ? cap : e->level + elapsed * max;
                if (e->level > cap)
                        e->level = cap;
                e->filled_ms = now_ms;
        }
        if (e->level > cap) /* the limit shrank */
                e->level = cap;
        if (e->level >= per_ms) {
                e->level -= per_ms;
                return true;
        }
        *retry_after_ms = (per_ms - e->level + max - 1) / max;
        return false;
}

/* ---- start-up ---- */

struct boot_op {
        struct exec_op op;
        char *token;
};

static int boot_fn(struct txn *tx, struct exec_op *op)
{
        struct boot_op *b = container_of(op, struct boot_op, op);

        return keys_bootstrap(tx, &b->token);
}

int keyring_bootstrap(struct server *srv, char **token_out)
{
        struct boot_op b;
        int rc;

        memset(&b, 0, sizeof(b));
        b.op.fn = boot_fn;
        rc = exec_run_sync(srv->st, srv->ops, srv->clock, srv->limits, &b.op, NULL);
        if (rc) {
                free(b.token);
                return rc;
        }
        *token_out = b.token;
        return 0;
}

struct load_op {
        struct exec_op op;
        char after[KEY_ID_LEN + 1];
        struct key_rec *page;
        int n;
};

static int load_fn(struct txn *tx, struct exec_op *op)
{
        struct load_op *l = container_of(op, struct load_op, op);

        return keys_load(tx, l->after[0] ? l->after : NULL, KEYRING_LOAD_PAGE, &l->page, &l->n);
}

/* Moves one page into the table; remembers its last id as the cursor. */
static int load_page(struct keyring *kr, struct load_op *l)
{
        int rc = 0;

        for (int i = 0; i < l->n; i++) {
                if (i == l->n - 1 && l->page[i].id)
                        snprintf(l->after, sizeof(l->after), "%s", l->page[i].id);
                if (!rc)
                        rc = keyring_put(kr, &l->page[i]);
        }
        key_recs_free(l->page, l->n);
        l->page = NULL;
        return rc;
}

int keyring_load(struct server *srv)
{
        struct load_op l;
        int rc = 0, n;

        memset(&l, 0, sizeof(l));
        l.op.fn = load_fn;
        do {
                l.n = 0;
                rc = exec_run_sync(srv->st, srv->ops, srv->clock, srv->limits, &l.op, NULL);
                n = l.n;
                if (rc) {
                        key_recs_free(l.page, l.n);
                        goto out;
                }
                rc = load_page(srv->keyring, &l);
        } while (!rc && n == KEYRING_LOAD_PAGE);
out:
        return rc;
}
