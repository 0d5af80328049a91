/*
 * sessring.c: the in-memory session table (a chained hash on the cookie's
 * digest that doubles when it fills) and its load at start.
 *
 * Workload: one lookup per request that carries the dashboard's cookie; a few
 * changes per person per day. Assumes at most SESSIONS_PER_KEY_MAX sessions
 * per key (core/sessions.h), so a few hundred bytes times that per key, and
 * that dropping a key's entries (a scan of the table) is rare: it happens
 * only when another node changed that key's sessions.
 */
#include "server/sessring.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/exec.h"
#include "core/sessions.h"
#include "server/server.h"

#define SESSRING_CAP0 64
#define SESSRING_LOAD_PAGE 500

struct sessring {
        struct sessring_entry **slots;
        size_t cap; /* power of two */
        int n;
};

/* The id is a hex SHA-256: its first 16 digits are as good as any hash. */
static size_t slot_of(const struct sessring *sr, const char *id)
{
        uint64_t h = 1469598103934665603ULL;

        for (const char *p = id; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        return (size_t)h & (sr->cap - 1);
}

int sessring_new(struct sessring **out)
{
        struct sessring *sr = calloc(1, sizeof(*sr));

        if (!sr)
                return BATON_ENOMEM;
        sr->cap = SESSRING_CAP0;
        sr->slots = calloc(sr->cap, sizeof(*sr->slots));
        if (!sr->slots) {
                free(sr);
                return BATON_ENOMEM;
        }
        *out = sr;
        return 0;
}

static void entry_free(struct sessring_entry *e)
{
        session_rec_free(&e->rec);
        free(e);
}

void sessring_free(struct sessring *sr)
{
        if (!sr)
                return;
        for (size_t i = 0; i < sr->cap; i++) {
                struct sessring_entry *e = sr->slots[i];
                while (e) {
                        struct sessring_entry *next = e->next;
                        entry_free(e);
                        e = next;
                }
        }
        free(sr->slots);
        free(sr);
}

const struct sessring_entry *sessring_get(const struct sessring *sr, const char *id)
{
        for (const struct sessring_entry *e = sr->slots[slot_of(sr, id)]; e; e = e->next)
                if (strcmp(e->rec.id, id) == 0)
                        return e;
        return NULL;
}

/* Doubles the table; on failure it stays as it is (only slower). */
static void grow(struct sessring *sr)
{
        size_t old_cap = sr->cap;
        struct sessring_entry **old = sr->slots;
        struct sessring_entry **slots = calloc(old_cap * 2, sizeof(*slots));

        if (!slots)
                return;
        sr->slots = slots;
        sr->cap = old_cap * 2;
        for (size_t i = 0; i < old_cap; i++) {
                struct sessring_entry *e = old[i];
                while (e) {
                        struct sessring_entry *next = e->next;
                        size_t s = slot_of(sr, e->rec.id);
                        e->next = sr->slots[s];
                        sr->slots[s] = e;
                        e = next;
                }
        }
        free(old);
}

void sessring_drop(struct sessring *sr, const char *id)
{
        struct sessring_entry **pp = &sr->slots[slot_of(sr, id)];

        for (; *pp; pp = &(*pp)->next) {
                if (strcmp((*pp)->rec.id, id) == 0) {
                        struct sessring_entry *e = *pp;
                        *pp = e->next;
                        entry_free(e);
                        sr->n--;
                        return;
                }
        }
}

int sessring_put(struct sessring *sr, struct session_rec *r)
{
        struct sessring_entry *e;
        size_t s;

        if (!r->id)
                return BATON_EINVAL;
        sessring_drop(sr, r->id);
        e = calloc(1, sizeof(*e));
        if (!e)
                return BATON_ENOMEM;
        if ((size_t)sr->n >= sr->cap)
                grow(sr);
        e->rec = *r;
        memset(r, 0, sizeof(*r));
        s = slot_of(sr, e->rec.id);
        e->next = sr->slots[s];
        sr->slots[s] = e;
        sr->n++;
        return 0;
}

int sessring_replace_key(struct sessring *sr, const char *key_id, struct session_rec *v, int n)
{
        int rc = 0;

        for (size_t i = 0; i < sr->cap; i++) {
                struct sessring_entry **pp = &sr->slots[i];
                while (*pp) {
                        struct sessring_entry *e = *pp;
                        if (strcmp(e->rec.key_id, key_id) == 0) {
                                *pp = e->next;
                                entry_free(e);
                                sr->n--;
                        } else {
                                pp = &e->next;
                        }
                }
        }
        for (int i = 0; i < n && !rc; i++)
                rc = sessring_put(sr, &v[i]);
        return rc;
}

int sessring_count(const struct sessring *sr)
{
        return sr->n;
}

struct load_op {
        struct exec_op op;
        struct session_rec last; /* the cursor: the previous page's last row */
        bool have_last;
        struct session_rec *page;
        int n;
};

static int load_fn(struct txn *tx, struct exec_op *op)
{
        struct load_op *l = container_of(op, struct load_op, op);

        return sessions_load(tx, l->have_last ? &l->last : NULL, SESSRING_LOAD_PAGE, &l->page,
                             &l->n);
}

/* Moves one page into the table; keeps a copy of its last row's cursor. */
static int load_page(struct sessring *sr, struct load_op *l)
{
        int rc = 0;

        if (l->n > 0) {
                const struct session_rec *z = &l->page[l->n - 1];
                session_rec_free(&l->last);
                l->last.key_id = strdup(z->key_id);
                l->last.id = strdup(z->id);
                l->last.created_at_ms = z->created_at_ms;
                l->have_last = true;
                if (!l->last.key_id || !l->last.id)
                        rc = BATON_ENOMEM;
        }
        for (int i = 0; i < l->n && !rc; i++)
                rc = sessring_put(sr, &l->page[i]);
        session_recs_free(l->page, l->n);
        l->page = NULL;
        return rc;
}

int sessring_load(struct server *srv)
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
                        session_recs_free(l.page, l.n);
                        goto out;
                }
                rc = load_page(srv->sessring, &l);
        } while (!rc && n == SESSRING_LOAD_PAGE);
out:
        session_rec_free(&l.last);
        return rc;
}
