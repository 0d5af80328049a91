/*
 * cron_cache.c: saved cron definitions kept parsed on the store thread (see
 * cron.h, struct cron_cache), so that a tick does not parse the same JSON and
 * expression again at every fire of a schedule.
 *
 * Workload: one lookup per due schedule per tick; 10,000 schedules due at
 * one instant are 10,000 lookups. An entry is found by (tenant, key) through
 * a hash and is valid while the stored definition text is the same (compared
 * in full, so an update, or a delete and a new schedule under the same key,
 * never reuses a stale entry). The table is bounded: when it holds max
 * entries it is emptied and fills again from the schedules that fire. Only
 * the store thread that owns it uses it (like the zone cache, common/tz.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/cron.h"

struct cc_entry {
        char *tenant;
        char *key;
        char *text; /* the stored definition (cron_rec.spec) */
        struct cron_spec spec;
        struct cron_expr expr;
        int next; /* next entry of the bucket's chain; -1 = end */
};

struct cron_cache {
        struct cc_entry *v;
        int n;
        int max;
        int nbuckets; /* a power of two */
        int *head;    /* first entry of each bucket; -1 = empty */
};

static uint64_t hash_of(const char *tenant, const char *key)
{
        uint64_t h = 1469598103934665603ULL;

        for (const char *p = tenant; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
        for (const char *p = key; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        return h;
}

int cron_cache_new(int max, struct cron_cache **out)
{
        struct cron_cache *c = calloc(1, sizeof(*c));
        int nb = 16;

        *out = NULL;
        if (max < 1)
                return BATON_EINVAL;
        while (nb < max)
                nb *= 2;
        if (!c)
                return BATON_ENOMEM;
        c->v = calloc((size_t)max, sizeof(*c->v));
        c->head = malloc((size_t)nb * sizeof(*c->head));
        if (!c->v || !c->head) {
                free(c->v);
                free(c->head);
                free(c);
                return BATON_ENOMEM;
        }
        c->max = max;
        c->nbuckets = nb;
        memset(c->head, 0xff, (size_t)nb * sizeof(*c->head));
        *out = c;
        return 0;
}

static void entry_free(struct cc_entry *e)
{
        free(e->tenant);
        free(e->key);
        free(e->text);
        cron_spec_free(&e->spec);
        memset(e, 0, sizeof(*e));
}

static void clear(struct cron_cache *c)
{
        for (int i = 0; i < c->n; i++)
                entry_free(&c->v[i]);
        c->n = 0;
        memset(c->head, 0xff, (size_t)c->nbuckets * sizeof(*c->head));
}

void cron_cache_free(struct cron_cache *c)
{
        if (!c)
                return;
        clear(c);
        free(c->v);
        free(c->head);
        free(c);
}

static struct cc_entry *find(struct cron_cache *c, const char *tenant, const char *key)
{
        int i = c->head[hash_of(tenant, key) & (uint64_t)(c->nbuckets - 1)];

        for (; i >= 0; i = c->v[i].next)
                if (strcmp(c->v[i].key, key) == 0 && strcmp(c->v[i].tenant, tenant) == 0)
                        return &c->v[i];
        return NULL;
}

bool cron_cache_get(struct cron_cache *c, const struct cron_rec *rec, const struct cron_spec **spec,
                    const struct cron_expr **expr)
{
        struct cc_entry *e = find(c, rec->tenant, rec->key);

        if (!e || !e->text || !rec->spec || strcmp(e->text, rec->spec) != 0)
                return false;
        *spec = &e->spec;
        *expr = &e->expr;
        return true;
}

/* Replaces the definition of an entry found again with another text. */
static int refill(struct cc_entry *e, const char *text, struct cron_spec *spec,
                  const struct cron_expr *expr)
{
        char *t = strdup(text);

        if (!t)
                return BATON_ENOMEM;
        free(e->text);
        e->text = t;
        cron_spec_free(&e->spec);
        e->spec = *spec;
        memset(spec, 0, sizeof(*spec));
        e->expr = *expr;
        return 0;
}

int cron_cache_put(struct cron_cache *c, const struct cron_rec *rec, struct cron_spec *spec,
                   const struct cron_expr *expr, const struct cron_spec **out_spec,
                   const struct cron_expr **out_expr)
{
        struct cc_entry *e = find(c, rec->tenant, rec->key);
        int rc;

        if (!rec->spec)
                return BATON_EINVAL;
        if (!e) {
                int b;
                if (c->n == c->max)
                        clear(c);
                e = &c->v[c->n];
                e->tenant = strdup(rec->tenant);
                e->key = strdup(rec->key);
                if (!e->tenant || !e->key) {
                        entry_free(e);
                        return BATON_ENOMEM;
                }
                b = (int)(hash_of(rec->tenant, rec->key) & (uint64_t)(c->nbuckets - 1));
                e->next = c->head[b];
                c->head[b] = c->n++;
        }
        rc = refill(e, rec->spec, spec, expr);
        if (!rc) {
                *out_spec = &e->spec;
                *out_expr = &e->expr;
        }
        return rc;
}
