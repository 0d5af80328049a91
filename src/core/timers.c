/*
 * timers.c: durable timers (see timers.h): create, move and cancel with an
 * optional compare-and-set on the version, reads and lists, and the firing of
 * due timers by the leader's tick.
 *
 * Workload: puts and cancels touch one row by its primary key (tenant, key);
 * the tick reads due timers through the partial index over scheduled rows and,
 * for each, enqueues one job through job_enqueue (so a timer's job is created
 * exactly like any other: queue row, ready wake-up, enqueued count) and
 * rewrites the timer row as fired, all in the tick's transaction. A timer whose
 * queue is at its max_depth is rewritten as deferred instead (due_at moved by
 * a backoff, the version unchanged), so the queue's limit holds and the fire
 * is not lost. Assumptions:
 * inputs were validated by the HTTP layer; every call runs on the store thread,
 * so the read-check-write of a compare-and-set cannot interleave with a firing.
 */
#include "core/timers.h"
#include "core/events.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/jw.h"
#include "core/jobs.h"
#include "core/queues.h"

static const char *const state_names[TIMER_STATE_COUNT] = {"scheduled", "fired", "cancelled"};

const char *timer_state_name(int state)
{
        if (state < 0 || state >= TIMER_STATE_COUNT)
                return "unknown";
        return state_names[state];
}

/* Moves src's strings and fields into dst (src is left empty). */
static void move_timer(struct timer_rec *dst, struct timer_rec *src)
{
        *dst = *src;
        memset(src, 0, sizeof(*src));
}

int timer_put(struct txn *tx, struct timer_put_req *req, struct timer_res *res)
{
        struct timer_rec old = {0};
        struct timer_rec *t = &res->t;
        bool exists;
        int64_t fire;
        int rc;

        memset(res, 0, sizeof(*res));
        fire = req->t.fire_at_ms ? req->t.fire_at_ms : tx->now_ms + req->delay_ms;
        if (fire - tx->now_ms > tx->limits->delay_max_ms)
                return BATON_ERANGE;
        /* A past instant fires at once; the recorded fire_at says when it was
         * due to fire, so lateness is measured from now and not from the past. */
        if (fire < tx->now_ms)
                fire = tx->now_ms;
        rc = tx->ops->timer_get(tx->st, req->t.tenant, req->t.key, &old);
        if (rc && rc != BATON_ENOTFOUND)
                goto out;
        exists = rc == 0;
        rc = 0;
        if (req->has_if_version && !exists && req->if_version >= 1) {
                rc = BATON_ENOTFOUND;
                goto out;
        }
        if (req->has_if_version && exists && old.version != req->if_version) {
                res->current_version = old.version;
                rc = BATON_ECONFLICT;
                goto out;
        }
        if (req->if_scheduled && !exists) {
                rc = BATON_ENOTFOUND;
                goto out;
        }
        if (req->if_scheduled && old.state != TIMER_SCHEDULED) {
                res->current_version = old.version;
                res->current_state = old.state;
                rc = BATON_ESTATE;
                goto out;
        }
        move_timer(t, &req->t);
        t->version = exists ? old.version + 1 : 1;
        t->state = TIMER_SCHEDULED;
        t->fire_at_ms = fire;
        t->job_id = exists ? old.job_id : 0;
        t->fired_at_ms = exists ? old.fired_at_ms : 0;
        t->created_at_ms = exists ? old.created_at_ms : tx->now_ms;
        t->updated_at_ms = tx->now_ms;
        rc = tx->ops->timer_put(tx->st, t);
        /* The timer's queue is made now, within the tenant's cap, so that its
         * fire (a leader duty) never has to make one. */
        if (!rc)
                rc = queue_make(tx, t->tenant, t->queue, false);
        if (!rc) {
                res->created = !exists;
                txn_note_deadline(tx, fire);
        }
out:
        timer_rec_free(&old);
        if (rc)
                timer_rec_free(&res->t);
        return rc;
}

int timer_cancel(struct txn *tx, const char *tenant, const char *key, int64_t if_version,
                 struct timer_res *res)
{
        struct timer_rec *t = &res->t;
        int rc;

        memset(res, 0, sizeof(*res));
        rc = tx->ops->timer_get(tx->st, tenant, key, t);
        if (rc)
                goto out;
        if (if_version >= 0 && t->version != if_version) {
                res->current_version = t->version;
                rc = BATON_ECONFLICT;
                goto out;
        }
        if (t->state == TIMER_FIRED) {
                rc = BATON_ESTATE;
                goto out;
        }
        if (t->state == TIMER_CANCELLED)
                goto out; /* a repeat: nothing to change */
        t->state = TIMER_CANCELLED;
        t->updated_at_ms = tx->now_ms;
        rc = tx->ops->timer_put(tx->st, t);
out:
        if (rc)
                timer_rec_free(t);
        return rc;
}

int timer_read(struct txn *tx, const char *tenant, const char *key, struct timer_rec *out)
{
        memset(out, 0, sizeof(*out));
        return tx->ops->timer_get(tx->st, tenant, key, out);
}

int timer_query(struct txn *tx, const char *tenant, const char *prefix, const char *after,
                int limit, struct timer_rec **out, int *n_out)
{
        return tx->ops->timer_list(tx->st, tenant, prefix, after, limit, out, n_out);
}

size_t timer_wire_bytes(const struct timer_rec *t)
{
        const char *strs[] = {t->key, t->queue, t->type, t->payload, t->group, t->request_id};
        size_t n = TIMER_WIRE_FIXED_BYTES;

        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
                n += job_wire_str_bytes(strs[i]);
        return n;
}

/* Moves the rows of page (pn of them) to the end of v (room for them is
 * there) while the budget lasts; frees the rest and page itself. */
void timer_page_take(struct timer_rec *v, int *n, struct timer_rec *page, int pn, size_t bytes_max,
                     size_t *used, bool *cut)
{
        int i = 0;

        for (; i < pn && !*cut; i++) {
                v[(*n)++] = page[i];
                *used += timer_wire_bytes(&page[i]);
                *cut = bytes_max && *used > bytes_max;
        }
        for (; i < pn; i++)
                timer_rec_free(&page[i]);
        free(page);
}

int timer_query_page(struct txn *tx, const char *tenant, const char *prefix, const char *after,
                     int limit, size_t bytes_max, struct timer_rec **out, int *n_out, bool *cut)
{
        struct timer_rec *v = calloc((size_t)(limit > 0 ? limit : 1), sizeof(*v));
        size_t used = 0;
        int n = 0, rc = v ? 0 : BATON_ENOMEM;

        *cut = false;
        while (!rc && n < limit && !*cut) {
                struct timer_rec *page = NULL;
                int want = limit - n < TIMER_QUERY_CHUNK ? limit - n : TIMER_QUERY_CHUNK, pn = 0;
                rc = tx->ops->timer_list(tx->st, tenant, prefix, n ? v[n - 1].key : after, want,
                                         &page, &pn);
                if (rc) {
                        timer_recs_free(page, pn);
                        break;
                }
                BATON_ASSERT(pn <= want);
                timer_page_take(v, &n, page, pn, bytes_max, &used, cut);
                if (pn < want)
                        break;
        }
        if (rc) {
                timer_recs_free(v, n);
                v = NULL;
                n = 0;
        }
        *out = v;
        *n_out = n;
        return rc;
}

/* The job's "timer" member: {"key", "version", "fire_at"}. Caller frees. */
static char *timer_json(const struct timer_rec *t)
{
        char at[40];
        json_t *o = json_object();
        char *s = NULL;

        if (!o)
                return NULL;
        time_format_ms(t->fire_at_ms, at, sizeof(at));
        if (json_object_set_new(o, "key", json_string(t->key)) == 0 &&
            json_object_set_new(o, "version", json_integer(t->version)) == 0 &&
            json_object_set_new(o, "fire_at", json_string(at)) == 0)
                s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}

/* The wait before a deferred timer is tried again: TIMER_DEFER_MIN_MS,
 * doubling with each deferral of the version, at most TIMER_DEFER_MAX_MS. */
int64_t timer_defer_ms(int deferred)
{
        int64_t ms = TIMER_DEFER_MIN_MS;

        for (int i = 0; i < deferred && ms < TIMER_DEFER_MAX_MS; i++)
                ms *= 2;
        return ms < TIMER_DEFER_MAX_MS ? ms : TIMER_DEFER_MAX_MS;
}

/* The timer's queue is at its max_depth: the version stays scheduled, not
 * fired, and the leader tries it again after a backoff (due_at moves; fire_at
 * keeps the instant the version was due). Nothing was enqueued. */
static int defer_one(struct txn *tx, struct timer_rec *t)
{
        t->due_at_ms = tx->now_ms + timer_defer_ms(t->deferred);
        t->deferred++;
        txn_note_deadline(tx, t->due_at_ms);
        return tx->ops->timer_put(tx->st, t);
}

/* Enqueues the job of one due timer and marks the timer fired, in the tick's
 * transaction: either both happen or neither. The enqueue respects the
 * queue's max_depth like an API enqueue: a full queue defers the timer
 * (*deferred set) instead. */
static int fire_one(struct txn *tx, struct timer_rec *t, bool *deferred)
{
        struct enqueue_req req;
        struct enqueue_res res;
        struct job *j = &req.job;
        const int64_t version = t->version;
        int rc = 0;

        memset(&req, 0, sizeof(req));
        memset(&res, 0, sizeof(res));
        j->tenant = strdup(t->tenant);
        j->queue = strdup(t->queue);
        j->type = strdup(t->type);
        j->payload = strdup(t->payload);
        j->request_id = t->request_id ? strdup(t->request_id) : NULL;
        j->group = t->group ? strdup(t->group) : NULL;
        j->timer = timer_json(t);
        if (!j->tenant || !j->queue || !j->type || !j->payload || !j->timer ||
            (t->request_id && !j->request_id) || (t->group && !j->group)) {
                rc = BATON_ENOMEM;
                goto out;
        }
        j->priority = t->priority;
        j->max_attempts = t->max_attempts;
        j->backoff = t->backoff;
        j->lease_ms = t->lease_ms;
        j->run_at_ms = tx->now_ms;
        req.check_depth = true;
        *deferred = false;
        rc = job_enqueue(tx, &req, &res);
        /* A full queue refuses before anything is written (groups.c). */
        if (rc == BATON_EBUSY) {
                *deferred = true;
                rc = defer_one(tx, t);
                goto out;
        }
        if (rc)
                goto out;
        /* The version fired is the one the job's marker names: enqueueing
         * does not touch the timer, so it is the version that was due. */
        BATON_ASSERT_INT(t->version, ==, version);
        t->state = TIMER_FIRED;
        t->job_id = res.job.id;
        t->fired_at_ms = tx->now_ms;
        rc = tx->ops->timer_put(tx->st, t);
        if (!rc)
                rc = txn_note_sample(tx, OBS_TIMER_LATE, tx->now_ms - t->fire_at_ms);
        if (!rc)
                rc = events_note_timer(tx, t);
out:
        job_free(&req.job);
        job_free(&res.job);
        return rc;
}

int timer_fire_due(struct txn *tx, int max, int *fired, bool *more)
{
        struct timer_rec *v = NULL;
        int n = 0;
        int rc;

        *fired = 0;
        *more = false;
        rc = tx->ops->timer_due(tx->st, tx->now_ms, max, &v, &n);
        for (int i = 0; i < n && !rc; i++) {
                bool deferred = false;
                rc = fire_one(tx, &v[i], &deferred);
                if (!rc && !deferred)
                        (*fired)++;
        }
        if (!rc && n >= max)
                *more = true;
        timer_recs_free(v, n);
        return rc;
}

int timer_next_deadline(struct txn *tx, int64_t *next_ms)
{
        int64_t at = 0;
        int rc = tx->ops->timer_next(tx->st, &at);

        if (!rc && at && (!*next_ms || at < *next_ms))
                *next_ms = at;
        return rc;
}
