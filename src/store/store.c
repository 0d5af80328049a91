/*
 * store.c: helpers shared by every store backend: releasing the strings of the
 * records that store reads allocate. Each function frees only what the struct
 * points to (the struct itself may live on the stack or in an array) and clears
 * the pointers, so calling it twice is harmless. The *_recs_free helpers free
 * the records of an array and then the array. Also the rule of the leader
 * lease (store_leader_decide), so every backend takes and renews it alike, and
 * store_grow, the growth of the arrays reads return.
 */
#include "store/store.h"

#include "common/errors.h"
#include "store/store_cols.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frees the strings *v[0..n) and clears them. */
static void free_strs(char **const *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(*v[i]);
                *v[i] = NULL;
        }
}

/* Frees the n records of v (of d's type) and then v. */
static void free_recs(void *v, int n, const struct store_rowdef *d)
{
        for (int i = 0; v && i < n; i++)
                d->release((char *)v + (size_t)i * d->size);
        free(v);
}

#define FREE_STRS(...)                                                                             \
        free_strs((char **const[]){__VA_ARGS__},                                                   \
                  sizeof((char **const[]){__VA_ARGS__}) / sizeof(char **))

void idem_rec_free(struct idem_rec *r)
{
        FREE_STRS(&r->tenant, &r->key, &r->payload_hash);
}

void queue_rec_free(struct queue_rec *q)
{
        FREE_STRS(&q->tenant, &q->name);
}

void qref_free(struct qref *q)
{
        FREE_STRS(&q->tenant, &q->queue);
}

void key_rec_free(struct key_rec *k)
{
        FREE_STRS(&k->id, &k->tenant, &k->name, &k->digest, &k->prev_digest, &k->created_by);
}

void key_recs_free(struct key_rec *v, int n)
{
        free_recs(v, n, &store_key_row);
}

void audit_rec_free(struct audit_rec *r)
{
        FREE_STRS(&r->key_id, &r->tenant, &r->action, &r->target, &r->request_id, &r->code,
                  &r->detail, &r->bucket);
}

void audit_recs_free(struct audit_rec *v, int n)
{
        free_recs(v, n, &store_audit_row);
}

void cron_rec_free(struct cron_rec *r)
{
        FREE_STRS(&r->tenant, &r->key, &r->spec, &r->pause_note);
}

void cron_recs_free(struct cron_rec *v, int n)
{
        free_recs(v, n, &store_cron_row);
}

void cron_run_free(struct cron_run *r)
{
        FREE_STRS(&r->tenant, &r->key, &r->trigger, &r->status, &r->reason, &r->requested_by,
                  &r->payload);
}

void cron_runs_free(struct cron_run *v, int n)
{
        free_recs(v, n, &store_run_row);
}

void timer_rec_free(struct timer_rec *t)
{
        FREE_STRS(&t->tenant, &t->key, &t->queue, &t->type, &t->payload, &t->request_id, &t->group);
}

void timer_recs_free(struct timer_rec *v, int n)
{
        free_recs(v, n, &store_timer_row);
}

void flow_rec_free(struct flow_rec *f)
{
        FREE_STRS(&f->tenant, &f->request_id);
}

void worker_rec_free(struct worker_rec *w)
{
        FREE_STRS(&w->tenant, &w->id, &w->info, &w->queues);
}

void worker_recs_free(struct worker_rec *v, int n)
{
        free_recs(v, n, &store_worker_row);
}

void session_rec_free(struct session_rec *r)
{
        FREE_STRS(&r->id, &r->csrf, &r->key_id, &r->key_digest, &r->tenant);
}

void session_recs_free(struct session_rec *v, int n)
{
        free_recs(v, n, &store_session_row);
}

void event_rec_free(struct event_rec *e)
{
        FREE_STRS(&e->tenant, &e->type, &e->kind, &e->subject, &e->queue, &e->data);
}

void event_recs_free(struct event_rec *v, int n)
{
        free_recs(v, n, &store_event_row);
}

void queue_limits_free(struct queue_limits *q)
{
        FREE_STRS(&q->tenant, &q->queue);
}

void group_rec_free(struct group_rec *g)
{
        FREE_STRS(&g->tenant, &g->queue, &g->grp);
}

void group_recs_free(struct group_rec *v, int n)
{
        free_recs(v, n, &store_group_row);
}

bool store_leader_decide(const struct leader_rec *cur, const char *node, int64_t held_epoch,
                         int64_t now_ms, int64_t ttl_ms, int64_t lag_ms, bool shared,
                         struct leader_rec *next)
{
        bool mine = strcmp(cur->node, node) == 0;
        bool live = cur->epoch > 0 && cur->lease_until_ms > now_ms;

        *next = *cur;
        if (shared && live && !mine)
                return false; /* another node leads */
        if (!(mine && live && held_epoch == cur->epoch)) {
                /* A take: free, lapsed, an earlier process of this node id, or
                 * (one process owns the store) whatever was recorded before. */
                snprintf(next->node, sizeof(next->node), "%s", node);
                next->epoch = cur->epoch + 1;
        }
        next->lease_until_ms = now_ms + ttl_ms;
        next->heartbeat_at_ms = now_ms;
        next->lag_ms = lag_ms;
        return true;
}

int store_grow(void **v, int n, int *cap, size_t sz)
{
        void *nv;
        int ncap;

        if (n < *cap)
                return 0;
        ncap = *cap ? *cap * 2 : 16;
        nv = realloc(*v, (size_t)ncap * sz);
        if (!nv)
                return BATON_ENOMEM;
        *v = nv;
        *cap = ncap;
        return 0;
}
