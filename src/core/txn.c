/*
 * txn.c: recording the effects of a transaction. The ready-queue set stays
 * small (a batch touches a handful of queues), so a linear scan deduplicates.
 * On a store that several nodes share, the effects also become notifications
 * (txn_notify): terminal job ids are packed many to a note so a batch of
 * thousands of settles costs a few notes, not thousands, and all the notes of
 * a batch go to the store in one call (PostgreSQL sends them with the commit,
 * so they cost no round trip of their own).
 */
#include "core/txn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "core/events.h"
#include "core/workers.h"

int txn_note_ready(struct txn *tx, const char *tenant, const char *queue)
{
        struct txn_effects *fx = &tx->fx;
        struct qref *q;

        for (int i = 0; i < fx->ready_n; i++)
                if (strcmp(fx->ready[i].queue, queue) == 0 &&
                    strcmp(fx->ready[i].tenant, tenant) == 0)
                        return 0;
        if (store_grow((void **)&fx->ready, fx->ready_n, &fx->ready_cap, sizeof(*fx->ready)))
                return BATON_ENOMEM;
        q = &fx->ready[fx->ready_n];
        q->tenant = strdup(tenant);
        q->queue = strdup(queue);
        if (!q->tenant || !q->queue) {
                qref_free(q);
                return BATON_ENOMEM;
        }
        fx->ready_n++;
        return 0;
}

int txn_note_terminal(struct txn *tx, int64_t job_id)
{
        struct txn_effects *fx = &tx->fx;

        if (store_grow((void **)&fx->terminal, fx->terminal_n, &fx->terminal_cap,
                       sizeof(*fx->terminal)))
                return BATON_ENOMEM;
        fx->terminal[fx->terminal_n++] = job_id;
        return 0;
}

int txn_note_event(struct txn *tx, const char *tenant, const char *queue, int ev, int64_t n)
{
        struct txn_effects *fx = &tx->fx;
        struct txn_count *c;

        BATON_ASSERT(ev >= 0 && ev < EV_COUNT);
        if (store_grow((void **)&fx->counts, fx->counts_n, &fx->counts_cap, sizeof(*fx->counts)))
                return BATON_ENOMEM;
        c = &fx->counts[fx->counts_n];
        c->q.tenant = strdup(tenant);
        c->q.queue = strdup(queue);
        if (!c->q.tenant || !c->q.queue) {
                qref_free(&c->q);
                return BATON_ENOMEM;
        }
        c->ev = ev;
        c->n = n;
        fx->counts_n++;
        return 0;
}

int txn_note_sample(struct txn *tx, int kind, int64_t ms)
{
        struct txn_effects *fx = &tx->fx;

        BATON_ASSERT(kind >= 0 && kind < OBS_COUNT);
        if (ms < 0)
                return 0;
        if (store_grow((void **)&fx->samples, fx->samples_n, &fx->samples_cap,
                       sizeof(*fx->samples)))
                return BATON_ENOMEM;
        fx->samples[fx->samples_n].kind = kind;
        fx->samples[fx->samples_n].ms = ms;
        fx->samples_n++;
        return 0;
}

void txn_note_deadline(struct txn *tx, int64_t at_ms)
{
        if (at_ms <= 0)
                return;
        if (tx->fx.deadline_ms == 0 || at_ms < tx->fx.deadline_ms)
                tx->fx.deadline_ms = at_ms;
}

void txn_note_cron_run(struct txn *tx, int status)
{
        BATON_ASSERT(status >= 0 && status < CRUN_COUNT);
        tx->fx.cron_runs[status]++;
}

int txn_note_key(struct txn *tx, const char *id)
{
        struct txn_effects *fx = &tx->fx;
        char *dup;

        if (store_grow((void **)&fx->keys, fx->keys_n, &fx->keys_cap, sizeof(*fx->keys)))
                return BATON_ENOMEM;
        dup = strdup(id);
        if (!dup)
                return BATON_ENOMEM;
        fx->keys[fx->keys_n++] = dup;
        return 0;
}

/* The notes of one batch, sent with one store call. */
struct notes {
        char **v;
        int n;
        int cap;
};

static int note_add(struct notes *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one note (at most TXN_NOTE_MAX bytes; names are bounded far below
 * that by limits.h, so a longer one is a bug in the caller: BATON_EINVAL). */
static int note_add(struct notes *ns, const char *fmt, ...)
{
        char buf[TXN_NOTE_MAX + 1];
        va_list ap;
        int len;

        va_start(ap, fmt);
        len = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (len < 0 || (size_t)len >= sizeof(buf))
                return BATON_EINVAL;
        if (store_grow((void **)&ns->v, ns->n, &ns->cap, sizeof(*ns->v)))
                return BATON_ENOMEM;
        if (!(ns->v[ns->n] = strdup(buf)))
                return BATON_ENOMEM;
        ns->n++;
        return 0;
}

/* The terminal ids, packed as many to a note as fit. */
static int note_terminal(const struct txn_effects *fx, const char *origin, struct notes *ns)
{
        char ids[TXN_NOTE_MAX - 200];
        size_t len = 0;
        int rc = 0;

        for (int i = 0; !rc && i < fx->terminal_n; i++) {
                len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s%lld", len ? "," : "",
                                        (long long)fx->terminal[i]);
                if (len > sizeof(ids) - 24 || i == fx->terminal_n - 1) {
                        rc = note_add(ns, "t\t%s\t%s", origin, ids);
                        len = 0;
                }
        }
        return rc;
}

int txn_notify(struct txn *tx)
{
        const struct txn_effects *fx = &tx->fx;
        const char *origin = tx->origin ? tx->origin : "-";
        struct notes ns = {0};
        int rc = 0;

        if (!tx->ops->shared)
                return 0;
        for (int i = 0; !rc && i < fx->ready_n; i++)
                rc =
                    note_add(&ns, "r\t%s\t%s\t%s", origin, fx->ready[i].tenant, fx->ready[i].queue);
        if (!rc)
                rc = note_terminal(fx, origin, &ns);
        if (!rc && (fx->deadline_ms || fx->retain_ms)) {
                int64_t d = fx->deadline_ms;
                if (!d || (fx->retain_ms && fx->retain_ms < d))
                        d = fx->retain_ms;
                rc = note_add(&ns, "d\t%s\t%lld", origin, (long long)d);
        }
        for (int i = 0; !rc && i < fx->keys_n; i++)
                rc = note_add(&ns, "k\t%s\t%s", origin, fx->keys[i]);
        if (!rc && ns.n)
                rc = tx->ops->notify(tx->st, (const char *const *)ns.v, ns.n);
        for (int i = 0; i < ns.n; i++)
                free(ns.v[i]);
        free(ns.v);
        return rc;
}

void txn_effects_reset(struct txn_effects *fx)
{
        for (int i = 0; i < fx->keys_n; i++)
                free(fx->keys[i]);
        fx->keys_n = 0;
        for (int i = 0; i < fx->ready_n; i++)
                qref_free(&fx->ready[i]);
        fx->ready_n = 0;
        for (int i = 0; i < fx->counts_n; i++)
                qref_free(&fx->counts[i].q);
        fx->counts_n = 0;
        fx->samples_n = 0;
        worker_notes_drop(fx, 0);
        events_notes_drop(fx, 0);
        events_forget_queue(fx);
        fx->events_written = 0;
        fx->terminal_n = 0;
        memset(fx->cron_runs, 0, sizeof(fx->cron_runs));
        fx->deadline_ms = 0;
        fx->retain_ms = 0;
}

struct txn_mark txn_effects_mark(const struct txn_effects *fx)
{
        struct txn_mark m = {fx->counts_n, fx->samples_n, fx->workers_n, fx->events_n, {0}};

        memcpy(m.cron_runs, fx->cron_runs, sizeof(m.cron_runs));
        return m;
}

void txn_effects_truncate(struct txn_effects *fx, struct txn_mark mark)
{
        BATON_ASSERT(mark.counts_n <= fx->counts_n && mark.samples_n <= fx->samples_n);
        for (int i = mark.counts_n; i < fx->counts_n; i++)
                qref_free(&fx->counts[i].q);
        fx->counts_n = mark.counts_n;
        fx->samples_n = mark.samples_n;
        worker_notes_drop(fx, mark.workers_n);
        events_notes_drop(fx, mark.events_n);
        events_forget_queue(fx);
        memcpy(fx->cron_runs, mark.cron_runs, sizeof(fx->cron_runs));
}

void txn_effects_free(struct txn_effects *fx)
{
        txn_effects_reset(fx);
        free(fx->ready);
        free(fx->terminal);
        free(fx->counts);
        free(fx->samples);
        free(fx->keys);
        free(fx->workers);
        free(fx->events);
        memset(fx, 0, sizeof(*fx));
}
