/*
 * store.c: helpers shared by every store backend: releasing the strings of the
 * records that store reads allocate. Each function frees only what the struct
 * points to (the struct itself may live on the stack or in an array) and clears
 * the pointers, so calling it twice is harmless. The *_recs_free helpers free
 * the records of an array and then the array. Also the rule of the leader
 * lease (store_leader_decide), so every backend takes and renews it alike.
 */
#include "store/store.h"

#include "common/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void idem_rec_free(struct idem_rec *r)
{
        free(r->tenant);
        free(r->key);
        free(r->payload_hash);
        r->tenant = NULL;
        r->key = NULL;
        r->payload_hash = NULL;
}

void queue_rec_free(struct queue_rec *q)
{
        free(q->tenant);
        free(q->name);
        q->tenant = NULL;
        q->name = NULL;
}

void qref_free(struct qref *q)
{
        free(q->tenant);
        free(q->queue);
        q->tenant = NULL;
        q->queue = NULL;
}

void key_rec_free(struct key_rec *k)
{
        free(k->id);
        free(k->tenant);
        free(k->name);
        free(k->digest);
        free(k->prev_digest);
        free(k->created_by);
        k->id = NULL;
        k->tenant = NULL;
        k->name = NULL;
        k->digest = NULL;
        k->prev_digest = NULL;
        k->created_by = NULL;
}

void key_recs_free(struct key_rec *v, int n)
{
        for (int i = 0; v && i < n; i++)
                key_rec_free(&v[i]);
        free(v);
}

void audit_rec_free(struct audit_rec *r)
{
        free(r->key_id);
        free(r->tenant);
        free(r->action);
        free(r->target);
        free(r->request_id);
        free(r->code);
        free(r->detail);
        free(r->bucket);
        r->bucket = NULL;
        r->key_id = NULL;
        r->tenant = NULL;
        r->action = NULL;
        r->target = NULL;
        r->request_id = NULL;
        r->code = NULL;
        r->detail = NULL;
}

void audit_recs_free(struct audit_rec *v, int n)
{
        for (int i = 0; v && i < n; i++)
                audit_rec_free(&v[i]);
        free(v);
}

void cron_rec_free(struct cron_rec *r)
{
        free(r->tenant);
        free(r->key);
        free(r->spec);
        free(r->pause_note);
        r->tenant = NULL;
        r->key = NULL;
        r->spec = NULL;
        r->pause_note = NULL;
}

void cron_recs_free(struct cron_rec *v, int n)
{
        for (int i = 0; v && i < n; i++)
                cron_rec_free(&v[i]);
        free(v);
}

void cron_run_free(struct cron_run *r)
{
        free(r->tenant);
        free(r->key);
        free(r->trigger);
        free(r->status);
        free(r->reason);
        free(r->requested_by);
        r->tenant = NULL;
        r->key = NULL;
        r->trigger = NULL;
        r->status = NULL;
        r->reason = NULL;
        r->requested_by = NULL;
}

void cron_runs_free(struct cron_run *v, int n)
{
        for (int i = 0; v && i < n; i++)
                cron_run_free(&v[i]);
        free(v);
}

void timer_rec_free(struct timer_rec *t)
{
        free(t->tenant);
        free(t->key);
        free(t->queue);
        free(t->type);
        free(t->payload);
        free(t->request_id);
        free(t->group);
        t->group = NULL;
        t->tenant = NULL;
        t->key = NULL;
        t->queue = NULL;
        t->type = NULL;
        t->payload = NULL;
        t->request_id = NULL;
}

void timer_recs_free(struct timer_rec *v, int n)
{
        for (int i = 0; v && i < n; i++)
                timer_rec_free(&v[i]);
        free(v);
}

void flow_rec_free(struct flow_rec *f)
{
        free(f->tenant);
        free(f->request_id);
        f->tenant = NULL;
        f->request_id = NULL;
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

void queue_limits_free(struct queue_limits *q)
{
        free(q->tenant);
        free(q->queue);
        q->tenant = NULL;
        q->queue = NULL;
}

void group_rec_free(struct group_rec *g)
{
        free(g->tenant);
        free(g->queue);
        free(g->grp);
        g->tenant = NULL;
        g->queue = NULL;
        g->grp = NULL;
}

void group_recs_free(struct group_rec *v, int n)
{
        for (int i = 0; v && i < n; i++)
                group_rec_free(&v[i]);
        free(v);
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
