/*
 * workers.c: the worker registry (see workers.h for the rules): the notes
 * operations append to their transaction, their merged write before the
 * commit, the store thread's cache of recent writes that keeps claims and
 * heartbeats from writing a worker's row more than once a second, and the
 * reads of the registry routes with each worker's in_flight and health.
 * Workload: a note per claim, heartbeat and settle (small strdups); one
 * sort of a batch's notes per commit; reads are operator requests, one
 * index range of running jobs per worker answered.
 */
#include "core/workers.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"

/* Slots of the cache of recent writes: a power of two. */
#define WORKER_CACHE_SLOTS 4096

struct worker_slot {
        uint64_t key;  /* hash of (tenant, id, queue); 0 = empty */
        uint64_t info; /* hash of the info last written for it; 0 = none */
        int64_t at_ms; /* when it was written */
};

struct worker_cache {
        struct worker_slot slot[WORKER_CACHE_SLOTS];
};

const char *worker_health_name(int health)
{
        switch (health) {
        case WORKER_HEALTHY:
                return "healthy";
        case WORKER_STALE:
                return "stale";
        default:
                return "lost";
        }
}

void worker_view_free(struct worker_view *v)
{
        worker_rec_free(&v->rec);
        free(v->in_flight);
        memset(v, 0, sizeof(*v));
}

void worker_views_free(struct worker_view *v, int n)
{
        for (int i = 0; v && i < n; i++)
                worker_view_free(&v[i]);
        free(v);
}

/* ---- notes ---- */

static void note_free(struct worker_note *n)
{
        free(n->tenant);
        free(n->id);
        free(n->info);
        free(n->queue);
        memset(n, 0, sizeof(*n));
}

void worker_notes_drop(struct txn_effects *fx, int from)
{
        BATON_ASSERT_INT(from, <=, fx->workers_n);
        for (int i = from; i < fx->workers_n; i++)
                note_free(&fx->workers[i]);
        fx->workers_n = from;
}

static char *dup_or_null(const char *s, bool *failed)
{
        char *d;

        if (!s)
                return NULL;
        d = strdup(s);
        if (!d)
                *failed = true;
        return d;
}

/* Appends a note (its strings copied) to the transaction's. */
static int note_add(struct txn *tx, const struct worker_note *src)
{
        struct txn_effects *fx = &tx->fx;
        struct worker_note *n;
        bool failed = false;

        if (store_grow((void **)&fx->workers, fx->workers_n, &fx->workers_cap, sizeof(*n)))
                return BATON_ENOMEM;
        n = &fx->workers[fx->workers_n];
        *n = *src;
        n->tenant = dup_or_null(src->tenant, &failed);
        n->id = dup_or_null(src->id, &failed);
        n->info = dup_or_null(src->info, &failed);
        n->queue = dup_or_null(src->queue, &failed);
        if (failed) {
                note_free(n);
                return BATON_ENOMEM;
        }
        fx->workers_n++;
        return 0;
}

int worker_note_claim(struct txn *tx, const char *tenant, const char *id, const char *info,
                      const char *queue, int64_t period_ms)
{
        struct worker_note n = {
            (char *)tenant, (char *)id, (char *)info, (char *)queue, tx->now_ms, period_ms, 0, 0};

        if (!tenant || !id)
                return BATON_EINVAL;
        return note_add(tx, &n);
}

int worker_note_job(struct txn *tx, const struct job *j, int settled, int64_t period_ms)
{
        struct worker_note n = {j->tenant, j->worker, NULL, NULL, tx->now_ms, period_ms, 0, 0};

        if (!j->tenant || !j->worker)
                return 0;
        n.completed = settled == SETTLED_COMPLETE;
        n.failed = settled == SETTLED_FAIL;
        return note_add(tx, &n);
}

/* ---- the flush and its cache ---- */

/* FNV-1a over the strings, each with its terminating zero (NULL as ""). */
static uint64_t hash_strs(const char *a, const char *b, const char *c)
{
        const char *parts[3] = {a, b, c};
        uint64_t h = 1469598103934665603ULL;

        for (int i = 0; i < 3; i++) {
                const char *p = parts[i] ? parts[i] : "";
                do {
                        h ^= (unsigned char)*p;
                        h *= 1099511628211ULL;
                } while (*p++);
        }
        return h ? h : 1;
}

static struct worker_slot *cache_slot(struct worker_cache *c, uint64_t key)
{
        return &c->slot[key & (WORKER_CACHE_SLOTS - 1)];
}

/* True when n says nothing the store does not know since a write less than
 * WORKER_SEEN_EVERY_MS ago: same worker and queue, no count, no new info. */
static bool cache_fresh(struct worker_cache *c, const struct worker_note *n, uint64_t key)
{
        struct worker_slot *s;

        if (!c || n->completed || n->failed)
                return false;
        s = cache_slot(c, key);
        if (s->key != key || n->seen_ms - s->at_ms >= WORKER_SEEN_EVERY_MS || n->seen_ms < s->at_ms)
                return false;
        return !n->info || s->info == hash_strs(n->info, NULL, NULL);
}

static void cache_put(struct worker_cache *c, const struct worker_note *n, uint64_t key)
{
        struct worker_slot *s;

        if (!c)
                return;
        s = cache_slot(c, key);
        /* A write without info leaves the stored info as it was. */
        if (n->info)
                s->info = hash_strs(n->info, NULL, NULL);
        else if (s->key != key)
                s->info = 0;
        s->key = key;
        s->at_ms = n->seen_ms;
}

static int str_cmp_null(const char *a, const char *b)
{
        if (!a || !b)
                return a ? 1 : (b ? -1 : 0);
        return strcmp(a, b);
}

static int note_cmp(const void *pa, const void *pb)
{
        const struct worker_note *a = pa, *b = pb;
        int c = strcmp(a->tenant, b->tenant);

        if (!c)
                c = strcmp(a->id, b->id);
        if (!c)
                c = str_cmp_null(a->queue, b->queue);
        return c;
}

/* Folds src (the same worker and queue as m) into m; m's strings stay
 * owned by the notes array. */
static void note_merge(struct worker_note *m, const struct worker_note *src)
{
        m->completed += src->completed;
        m->failed += src->failed;
        if (src->period_ms > m->period_ms)
                m->period_ms = src->period_ms;
        if (src->seen_ms > m->seen_ms)
                m->seen_ms = src->seen_ms;
        if (src->info)
                m->info = src->info;
}

int worker_flush(struct txn *tx)
{
        struct txn_effects *fx = &tx->fx;
        int n = fx->workers_n, rc = 0;

        if (n == 0)
                return 0;
        /* One order for every transaction: two nodes writing the same
         * workers never wait on each other's rows in opposite orders. */
        qsort(fx->workers, (size_t)n, sizeof(fx->workers[0]), note_cmp);
        for (int i = 0, j; i < n && !rc; i = j) {
                struct worker_note m = fx->workers[i];
                uint64_t key;

                for (j = i + 1; j < n && note_cmp(&fx->workers[j], &m) == 0; j++)
                        note_merge(&m, &fx->workers[j]);
                key = hash_strs(m.tenant, m.id, m.queue);
                if (cache_fresh(tx->wkc, &m, key))
                        continue;
                rc = tx->ops->worker_seen(tx->st, &m);
                if (!rc)
                        cache_put(tx->wkc, &m, key);
        }
        worker_notes_drop(fx, 0);
        return rc;
}

int worker_cache_new(struct worker_cache **out)
{
        *out = calloc(1, sizeof(**out));
        return *out ? 0 : BATON_ENOMEM;
}

void worker_cache_free(struct worker_cache *c)
{
        free(c);
}

void worker_cache_clear(struct worker_cache *c)
{
        if (c)
                memset(c, 0, sizeof(*c));
}

/* ---- reads ---- */

/* healthy: seen within 2 lease periods; lost: not seen for worker_lost_ms
 * and more than 2 lease periods; stale in between. */
static int judge(const struct limits *l, int64_t now_ms, int64_t last_seen_ms, int64_t period_ms)
{
        int64_t age = now_ms - last_seen_ms;

        if (age <= 2 * period_ms)
                return WORKER_HEALTHY;
        return age >= l->worker_lost_ms ? WORKER_LOST : WORKER_STALE;
}

/* Fills v's in_flight, period and health from its record. */
static int view_fill(struct txn *tx, struct worker_view *v)
{
        int64_t *lease = malloc((WORKER_IN_FLIGHT_MAX + 1) * sizeof(*lease));
        int n = 0, rc;

        v->in_flight = malloc((WORKER_IN_FLIGHT_MAX + 1) * sizeof(*v->in_flight));
        if (!lease || !v->in_flight) {
                rc = BATON_ENOMEM;
                goto out;
        }
        rc = tx->ops->worker_jobs(tx->st, v->rec.tenant, v->rec.id, tx->now_ms,
                                  WORKER_IN_FLIGHT_MAX + 1, v->in_flight, lease, &n);
        if (rc)
                goto out;
        v->in_flight_more = n > WORKER_IN_FLIGHT_MAX;
        v->n_in_flight = v->in_flight_more ? WORKER_IN_FLIGHT_MAX : n;
        v->period_ms = v->rec.period_ms;
        for (int i = 0; v->rec.period_ms <= 0 && i < n; i++)
                if (lease[i] > v->period_ms)
                        v->period_ms = lease[i];
        if (v->period_ms <= 0)
                v->period_ms = tx->limits->lease_default_ms;
        v->health = judge(tx->limits, tx->now_ms, v->rec.last_seen_ms, v->period_ms);
out:
        free(lease);
        return rc;
}

int worker_read(struct txn *tx, const char *tenant, const char *id, struct worker_view *out)
{
        int rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->worker_get(tx->st, tenant, id, &out->rec);
        if (!rc)
                rc = view_fill(tx, out);
        if (rc)
                worker_view_free(out);
        return rc;
}

int worker_query(struct txn *tx, const char *tenant, const char *after, int limit,
                 struct worker_view **out, int *n_out)
{
        struct worker_rec *recs = NULL;
        struct worker_view *v = NULL;
        int n = 0, rc;

        *out = NULL;
        *n_out = 0;
        rc = tx->ops->worker_list(tx->st, tenant, after, limit, &recs, &n);
        if (!rc && n > 0 && !(v = calloc((size_t)n, sizeof(*v))))
                rc = BATON_ENOMEM;
        for (int i = 0; !rc && i < n; i++) {
                /* The view takes the record's strings. */
                v[i].rec = recs[i];
                memset(&recs[i], 0, sizeof(recs[i]));
                rc = view_fill(tx, &v[i]);
        }
        worker_recs_free(recs, n);
        if (rc) {
                worker_views_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}
