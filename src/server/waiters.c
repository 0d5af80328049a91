/*
 * waiters.c: parked long-polls, kept in a fixed hash of FIFO lists (queue
 * waiters keyed by tenant and queue, job waiters by id). Waking first unlinks
 * every matching waiter into a private list and only then calls them, because
 * a callback may park its waiter again in the same bucket.
 *
 * Workload: at most one waiter per open connection (connections_max), woken
 * after commits; each wake is O(waiters in the bucket). Loop thread only.
 */
#include "server/waiters.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"

#define WAITERS_BUCKETS 1024

struct bucket {
        struct waiter *head;
        struct waiter *tail;
};

struct waiters {
        struct event_base *base;
        struct bucket queues[WAITERS_BUCKETS];
        struct bucket jobs[WAITERS_BUCKETS];
        int count;
};

static uint64_t hash_str(uint64_t h, const char *s)
{
        while (*s)
                h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
        return h;
}

static struct bucket *queue_bucket(struct waiters *ws, const char *tenant, const char *queue)
{
        uint64_t h = hash_str(hash_str(0xcbf29ce484222325ULL, tenant), queue);
        return &ws->queues[h % WAITERS_BUCKETS];
}

static struct bucket *job_bucket(struct waiters *ws, int64_t id)
{
        uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
        return &ws->jobs[(h >> 32) % WAITERS_BUCKETS];
}

static struct bucket *bucket_of(struct waiter *w)
{
        if (w->queue)
                return queue_bucket(w->owner, w->tenant, w->queue);
        return job_bucket(w->owner, w->job_id);
}

static void bucket_append(struct bucket *b, struct waiter *w)
{
        w->next = NULL;
        w->prev = b->tail;
        if (b->tail)
                b->tail->next = w;
        else
                b->head = w;
        b->tail = w;
}

static void bucket_remove(struct bucket *b, struct waiter *w)
{
        if (w->prev)
                w->prev->next = w->next;
        else
                b->head = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                b->tail = w->prev;
        w->prev = w->next = NULL;
}

/* Unlinks w from its bucket and frees its timer and key; w stays the caller's. */
static void unlink_waiter(struct waiter *w)
{
        BATON_ASSERT(w->parked);
        bucket_remove(bucket_of(w), w);
        if (w->timer)
                event_free(w->timer);
        w->timer = NULL;
        free(w->tenant);
        free(w->queue);
        w->tenant = w->queue = NULL;
        w->parked = false;
        w->owner->count--;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
        (void)fd, (void)what;
        waiter_wake(arg, WAKE_TIMEOUT);
}

/* Links a prepared waiter (key fields set) and arms its timeout. */
static int park(struct waiters *ws, struct waiter *w, int64_t timeout_ms)
{
        struct timeval tv;

        w->owner = ws;
        w->timer = event_new(ws->base, -1, 0, on_timeout, w);
        if (!w->timer) {
                free(w->tenant);
                free(w->queue);
                w->tenant = w->queue = NULL;
                return BATON_ENOMEM;
        }
        if (timeout_ms < 0)
                timeout_ms = 0;
        tv.tv_sec = (time_t)(timeout_ms / 1000);
        tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
        event_add(w->timer, &tv);
        w->parked = true;
        ws->count++;
        bucket_append(bucket_of(w), w);
        return 0;
}

int waiter_park_queue(struct waiters *ws, struct waiter *w, const char *tenant, const char *queue,
                      int64_t timeout_ms)
{
        BATON_ASSERT(!w->parked && w->wake);
        w->tenant = strdup(tenant);
        w->queue = strdup(queue);
        w->job_id = 0;
        if (!w->tenant || !w->queue) {
                free(w->tenant);
                free(w->queue);
                w->tenant = w->queue = NULL;
                return BATON_ENOMEM;
        }
        return park(ws, w, timeout_ms);
}

int waiter_park_job(struct waiters *ws, struct waiter *w, int64_t job_id, int64_t timeout_ms)
{
        BATON_ASSERT(!w->parked && w->wake);
        w->tenant = w->queue = NULL;
        w->job_id = job_id;
        return park(ws, w, timeout_ms);
}

void waiter_cancel(struct waiter *w)
{
        if (w->parked)
                unlink_waiter(w);
}

void waiter_wake(struct waiter *w, int why)
{
        if (!w->parked)
                return;
        unlink_waiter(w);
        w->wake(w, why);
}

/* Moves the matching waiters of b to a private list, then wakes them. */
static void wake_matching(struct bucket *b, const char *tenant, const char *queue, int64_t id)
{
        struct bucket mine = {NULL, NULL};
        struct waiter *w = b->head;

        while (w) {
                struct waiter *next = w->next;
                bool match = queue ? (w->queue && strcmp(w->queue, queue) == 0 &&
                                      strcmp(w->tenant, tenant) == 0)
                                   : (!w->queue && w->job_id == id);
                if (match) {
                        bucket_remove(b, w);
                        bucket_append(&mine, w);
                }
                w = next;
        }
        while ((w = mine.head)) {
                bucket_remove(&mine, w);
                /* unlink_waiter removes from bucket_of(w): put it back first so
                 * the bookkeeping stays in one place. */
                bucket_append(b, w);
                waiter_wake(w, WAKE_CHANGED);
        }
}

int waiters_take_queue(struct waiters *ws, const char *tenant, const char *queue,
                       struct waiter **out, int max)
{
        struct bucket *b = queue_bucket(ws, tenant, queue);
        struct waiter *w = b->head;
        int n = 0;

        while (w && n < max) {
                struct waiter *next = w->next;

                if (w->queue && strcmp(w->queue, queue) == 0 && strcmp(w->tenant, tenant) == 0) {
                        unlink_waiter(w);
                        out[n++] = w;
                }
                w = next;
        }
        return n;
}

void waiter_fire(struct waiter *w, int why)
{
        BATON_ASSERT(!w->parked);
        w->wake(w, why);
}

void waiters_wake_queue(struct waiters *ws, const char *tenant, const char *queue)
{
        wake_matching(queue_bucket(ws, tenant, queue), tenant, queue, 0);
}

void waiters_wake_job(struct waiters *ws, int64_t job_id)
{
        wake_matching(job_bucket(ws, job_id), NULL, NULL, job_id);
}

static void wake_bucket_all(struct bucket *b, int bound, int why)
{
        struct waiter *w;

        /* Each wake unlinks the head. Handlers do not park again while the
         * server stops, but the loop is bounded by the count regardless. */
        while (bound-- > 0 && (w = b->head))
                waiter_wake(w, why);
}

void waiters_wake_all(struct waiters *ws)
{
        int bound = ws->count;

        for (int i = 0; i < WAITERS_BUCKETS; i++) {
                wake_bucket_all(&ws->queues[i], bound, WAKE_SHUTDOWN);
                wake_bucket_all(&ws->jobs[i], bound, WAKE_SHUTDOWN);
        }
}

void waiters_recheck_all(struct waiters *ws)
{
        struct bucket mine = {0};
        struct waiter *w;

        /* A woken waiter re-reads and usually parks again, possibly in the
         * bucket being walked: move every waiter out first, then wake each
         * once (as wake_matching does). */
        for (int i = 0; i < WAITERS_BUCKETS; i++) {
                struct bucket *bs[2] = {&ws->queues[i], &ws->jobs[i]};
                for (int k = 0; k < 2; k++)
                        while ((w = bs[k]->head)) {
                                bucket_remove(bs[k], w);
                                bucket_append(&mine, w);
                        }
        }
        while ((w = mine.head)) {
                bucket_remove(&mine, w);
                bucket_append(bucket_of(w), w);
                waiter_wake(w, WAKE_CHANGED);
        }
}

int waiters_count(const struct waiters *ws)
{
        return ws->count;
}

int waiters_new(struct event_base *base, struct waiters **out)
{
        struct waiters *ws = calloc(1, sizeof(*ws));

        if (!ws)
                return BATON_ENOMEM;
        ws->base = base;
        *out = ws;
        return 0;
}

void waiters_free(struct waiters *ws)
{
        if (!ws)
                return;
        waiters_wake_all(ws);
        free(ws);
}
