/*
 * api_jobs.c: the /v1/jobs routes: enqueue (one job or an atomic batch), read
 * (with an optional wait until the job is terminal), cancel and retry; the
 * list and the bulk actions by filter are api_find.c's.
 *
 * Each handler validates everything on the loop thread, then submits one exec
 * op whose fn calls core on the store thread and whose done answers after the
 * commit. A read with wait_ms parks a job waiter between reads; it is woken by
 * the commit that makes the job terminal, by its timeout, by shutdown or by the
 * client going away. Workload: enqueue is the hottest route (single jobs at
 * tens of thousands per second, batches up to batch_max), so it allocates one
 * context per request and nothing per job beyond the request itself; a
 * client that sends "Prefer: return=minimal" (RFC 7240) gets id, state and
 * version per job instead of the whole job object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "server/api_internal.h"
#include "server/auth.h"
#include "server/waiters.h"

/* ---- enqueue ---- */

struct enqueue_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        bool batch;
        bool minimal; /* "Prefer: return=minimal": id, state and version per job */
        int n;
        int failed;               /* index of the element core refused, -1 if none */
        struct enqueue_req *reqs; /* n, owned unless it is &one_req */
        struct enqueue_res *res;  /* n, owned unless it is &one_res */
        /* A single job (the common request) lives here: no allocation. */
        struct enqueue_req one_req;
        struct enqueue_res one_res;
};

/* api_ctx_def.clear: what the context holds. */
static void enqueue_clear(struct api_ctx *base)
{
        struct enqueue_ctx *c = container_of(base, struct enqueue_ctx, base);

        for (int i = 0; i < c->n; i++) {
                api_enqueue_req_free(&c->reqs[i]);
                job_free(&c->res[i].job);
        }
        if (c->reqs != &c->one_req)
                free(c->reqs);
        if (c->res != &c->one_res)
                free(c->res);
}

/* Every job of a batch in one op: the op's savepoint makes the batch atomic,
 * since any error returned here rolls back the jobs already inserted. */
static int enqueue_fn(struct txn *tx, struct exec_op *op)
{
        struct enqueue_ctx *c = container_of(op, struct enqueue_ctx, base.op);

        for (int i = 0; i < c->n; i++) {
                int rc = job_enqueue(tx, &c->reqs[i], &c->res[i]);
                if (rc) {
                        c->failed = i;
                        return rc;
                }
        }
        return 0;
}

void api_unique_reply(struct http_req *hr, const char *prefix, const struct enqueue_res *res, int n,
                      int failed, const char *key)
{
        int64_t held = res[failed].held_id;
        char f[64];

        api_field(f, sizeof(f), prefix, "key");
        for (int i = 0; i < n; i++)
                if (i != failed && res[i].job.id == held) {
                        http_reply_error(hr, 400, "invalid_field", f,
                                         "%s repeats the key of jobs[%d] under unique_while"
                                         " active; nothing was enqueued",
                                         f, i);
                        return;
                }
        http_reply_error_job(hr, 409, "already_running", f, held,
                             "job %lld with key %s has not ended (unique_while active);"
                             " nothing was enqueued",
                             (long long)held, key);
}

/* Core's refusals that docs/api.md ties to a field of the element. */
static void enqueue_reply_error(struct enqueue_ctx *c, int rc)
{
        char prefix[32] = "", f[64];

        if (c->batch && c->failed >= 0)
                snprintf(prefix, sizeof(prefix), "jobs[%d]", c->failed);
        if (rc == BATON_EINVAL && c->failed >= 0 && c->res[c->failed].bad_dep >= 0) {
                char d[32];
                snprintf(d, sizeof(d), "depends_on[%d]", c->res[c->failed].bad_dep);
                api_field(f, sizeof(f), prefix, d);
                http_reply_error(c->base.hr, 400, "unknown_dependency", f,
                                 "%s is not a job of this tenant", f);
        } else if (rc == BATON_ERANGE) {
                api_field(f, sizeof(f), prefix, "run_at");
                http_reply_error(c->base.hr, 400, "delay_ms_out_of_range", f,
                                 "%s is more than %lld ms ahead (--delay-max-ms)", f,
                                 (long long)c->base.hr->srv->limits->delay_max_ms);
        } else if (rc == BATON_EBUSY) {
                /* Nothing of the request was stored (a batch is one op). */
                http_reply_error(c->base.hr, 503, "queue_full", prefix,
                                 "queue %s is at its max_depth; nothing was enqueued",
                                 c->reqs[c->failed >= 0 ? c->failed : 0].job.queue);
        } else if (rc == BATON_ECONFLICT && c->failed >= 0 && c->res[c->failed].held_id > 0) {
                api_unique_reply(c->base.hr, prefix, c->res, c->n, c->failed,
                                 c->reqs[c->failed].job.key);
        } else if (rc == BATON_EIDEM) {
                api_field(f, sizeof(f), prefix, "idempotency_key");
                http_reply_error(c->base.hr, 409, "idempotency_conflict", f,
                                 "%s \"%s\" was used before with a different payload", f,
                                 c->reqs[c->failed >= 0 ? c->failed : 0].job.idempotency_key);
        } else {
                api_reply_rc(c->base.hr, rc, "job");
        }
}

static void enqueue_flags(struct jw *w, const struct enqueue_res *r)
{
        if (r->duplicate)
                jw_kbool(w, "duplicate", true);
        if (r->replaced)
                jw_kbool(w, "replaced", true);
}

static void enqueue_done(struct exec_op *op)
{
        struct enqueue_ctx *c = container_of(op, struct enqueue_ctx, base.op);
        struct jw w;
        bool created = false;

        if (op->rc) {
                enqueue_reply_error(c, op->rc);
                api_ctx_free(&c->base);
                return;
        }
        jw_init(&w, http_out(c->base.hr->srv));
        jw_obj_open(&w);
        if (c->batch) {
                jw_key(&w, "jobs");
                jw_arr_open(&w);
        } else {
                jw_key(&w, "job");
        }
        for (int i = 0; i < c->n; i++) {
                const struct enqueue_res *r = &c->res[i];
                created = created || (!r->duplicate && !r->replaced);
                jw_obj_open(&w);
                if (c->minimal)
                        api_job_minimal_members(&w, &r->job);
                else
                        api_job_members(&w, &r->job, false);
                if (c->batch)
                        enqueue_flags(&w, r);
                jw_obj_close(&w);
        }
        if (c->batch)
                jw_arr_close(&w);
        else
                enqueue_flags(&w, &c->res[0]);
        jw_obj_close(&w);
        if (c->minimal && !w.err)
                http_set_header(c->base.hr, "Preference-Applied", "return=minimal");
        api_reply_jw(c->base.hr, created ? 201 : 200, &w);
        api_ctx_free(&c->base);
}

/* Finds the job objects of the body: the body itself, or its "jobs" array. */
static int enqueue_items(struct http_req *hr, json_t **items, int *n, struct verr *e)
{
        json_t *jobs = json_object_get(hr->body, "jobs");
        const struct limits *l = hr->srv->limits;

        int rc;

        if (!jobs || json_is_null(jobs)) {
                *items = NULL;
                *n = 1;
                return 0;
        }
        /* A batch is the envelope alone: a job member beside "jobs" would
         * otherwise be silently dropped. */
        rc = api_known_fields(hr->body, "", "jobs", e);
        if (rc)
                return rc;
        if (!json_is_array(jobs))
                return verr_set(e, BATON_EINVAL, "invalid_field", "jobs",
                                "jobs must be an array of job objects");
        if (json_array_size(jobs) == 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", "jobs",
                                "jobs must hold at least one job");
        if (json_array_size(jobs) > (size_t)l->batch_max)
                return verr_set(e, BATON_ETOOBIG, "batch_too_large", "jobs",
                                "jobs holds %zu jobs; the limit is %d", json_array_size(jobs),
                                l->batch_max);
        *items = jobs;
        *n = (int)json_array_size(jobs);
        return 0;
}

static int enqueue_parse_all(struct http_req *hr, struct enqueue_ctx *c, json_t *items,
                             struct verr *e)
{
        int64_t now_ms = clock_wall_ms(hr->srv->clock);
        char prefix[32] = "";

        for (int i = 0; i < c->n; i++) {
                json_t *obj = items ? json_array_get(items, (size_t)i) : hr->body;
                int rc;

                /* "jobs[<i>]" without stdio: it names every job of a batch. */
                if (items) {
                        size_t k = jw_fmt_i64(i, prefix + 5);

                        memcpy(prefix, "jobs[", 5);
                        prefix[5 + k] = ']';
                        prefix[6 + k] = '\0';
                }
                if (!json_is_object(obj))
                        return verr_set(e, BATON_EINVAL, "invalid_field", prefix,
                                        "%s must be a job object", prefix);
                rc = api_enqueue_parse(hr->srv->limits, obj, prefix, hr->tenant, hr->request_id,
                                       now_ms, &c->reqs[i], e);
                if (rc)
                        return rc;
        }
        return 0;
}

static const struct api_ctx_def enqueue_def = {
    sizeof(struct enqueue_ctx), enqueue_fn, enqueue_done, enqueue_clear, NULL, NULL};

/* The parked claims one enqueue request takes at most (see enqueue_submit). */
#define ENQUEUE_TAKE_MAX 8

/* How many of the request's jobs are ready the moment they are stored (no
 * run_at, no delay, no parents), with the first of them in *first; 0 when
 * there are none or when they are not all of one queue. */
static int enqueue_ready_now(const struct enqueue_ctx *c, const struct job **first)
{
        int n = 0;

        *first = NULL;
        for (int i = 0; i < c->n; i++) {
                const struct enqueue_req *r = &c->reqs[i];

                if (r->job.run_at_ms != 0 || r->delay_ms != 0 || r->n_depends_on > 0)
                        continue;
                if (*first && strcmp((*first)->queue, r->job.queue) != 0)
                        return 0;
                if (!*first)
                        *first = &r->job;
                n++;
        }
        return n;
}

/* Submits a parsed enqueue. Claims parked on the queue its ready jobs go to
 * are unlinked before and woken right after the submission, with the store
 * thread held (server_hold), so their claims run in the enqueue's
 * transaction, after it, and lease its jobs under its one commit: a waiting
 * worker gets its job one fsync sooner than if the enqueue's commit woke it.
 * A claim that finds nothing (a limit holds the job back, another claim took
 * it, the enqueue failed) parks again, as after any wake-up. */
static void enqueue_submit(struct http_req *hr, struct enqueue_ctx *c)
{
        struct server *srv = hr->srv;
        struct waiter *taken[ENQUEUE_TAKE_MAX];
        const struct job *j = NULL;
        int ready = 0, n = 0;

        /* Most enqueues find no claim parked anywhere: no scan of their jobs. */
        if (srv->waiters && waiters_count(srv->waiters) > 0)
                ready = enqueue_ready_now(c, &j);
        if (ready > 0)
                n = waiters_take_queue(srv->waiters, j->tenant, j->queue, taken,
                                       ready < ENQUEUE_TAKE_MAX ? ready : ENQUEUE_TAKE_MAX);
        if (n)
                server_hold(srv);
        /* c and hr may be gone after this call; taken and srv are not. */
        api_ctx_submit(&c->base, 0, NULL);
        for (int i = 0; i < n; i++)
                waiter_fire(taken[i], WAKE_CHANGED);
        if (n)
                server_release(srv);
}

void api_jobs_enqueue(struct http_req *hr)
{
        struct enqueue_ctx *c;
        json_t *items = NULL;
        struct verr e;
        int n = 0, rc;

        if (enqueue_items(hr, &items, &n, &e)) {
                http_reply_verr(hr, &e);
                return;
        }
        c = api_ctx_new(hr, &enqueue_def, 0, false);
        if (!c)
                return;
        c->reqs = n == 1 ? &c->one_req : calloc((size_t)n, sizeof(*c->reqs));
        c->res = n == 1 ? &c->one_res : calloc((size_t)n, sizeof(*c->res));
        if (!c->reqs || !c->res) {
                api_ctx_free(&c->base);
                http_reply_rc(hr, BATON_ENOMEM, NULL);
                return;
        }
        c->n = n;
        c->batch = items != NULL;
        c->minimal = http_prefers_minimal(hr);
        c->failed = -1;
        rc = enqueue_parse_all(hr, c, items, &e);
        if (rc) {
                api_ctx_submit(&c->base, rc, &e);
                return;
        }
        enqueue_submit(hr, c);
}

/* ---- read (with wait), cancel, retry ---- */

enum job_op_kind { JOB_OP_READ, JOB_OP_CANCEL, JOB_OP_RETRY };

/* The states a cancel acts on: every one that has not ended. */
#define JOBS_CANCELLABLE                                                                           \
        (JOB_STATES_ALL &                                                                          \
         ~(JOB_STATE_BIT(JOB_COMPLETED) | JOB_STATE_BIT(JOB_DEAD) | JOB_STATE_BIT(JOB_CANCELLED)))

struct job_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        int kind;            /* enum job_op_kind */
        int64_t id;
        struct job job;
        /* Waiting reads only. */
        struct waiter w;
        int64_t deadline_ns;
        bool final;    /* the wait is over: answer with whatever the read finds */
        bool closed;   /* the client went away */
        bool watching; /* http_watch has been asked */
};

/* api_ctx_def.clear: what the context holds. */
static void job_ctx_clear(struct api_ctx *base)
{
        struct job_ctx *c = container_of(base, struct job_ctx, base);

        job_free(&c->job);
}

static int job_fn(struct txn *tx, struct exec_op *op)
{
        struct job_ctx *c = container_of(op, struct job_ctx, base.op);

        switch (c->base.kind) {
        case JOB_OP_CANCEL:
                return job_cancel(tx, c->base.hr->tenant, c->id, &c->job);
        case JOB_OP_RETRY:
                return job_retry(tx, c->base.hr->tenant, c->id, &c->job);
        default:
                return job_read(tx, c->base.hr->tenant, c->id, &c->job);
        }
}

static void job_reply(struct job_ctx *c)
{
        struct jw w;

        jw_init(&w, http_out(c->base.hr->srv));
        jw_obj_open(&w);
        jw_key(&w, "job");
        api_job_json(&w, &c->job, false);
        jw_obj_close(&w);
        api_reply_jw(c->base.hr, 200, &w);
        api_ctx_free(&c->base);
}

static void job_on_close(struct http_req *hr, void *arg)
{
        struct job_ctx *c = arg;

        (void)hr;
        c->closed = true;
        waiter_wake(&c->w, WAKE_CLOSED);
}

/* Parks a read until the job is terminal. Returns false when it should answer
 * now instead (no time left, stopping, or the park failed). */
static bool job_park(struct job_ctx *c)
{
        struct server *srv = c->base.hr->srv;
        int64_t left = api_remaining_ms(srv, c->deadline_ns);

        if (c->final || c->closed || srv->stopping || left <= 0 || job_state_terminal(c->job.state))
                return false;
        if (waiter_park_job(srv->waiters, &c->w, c->id, left) != 0)
                return false;
        /* Nothing of the job is kept while parked; the wake-up reads it again. */
        job_free(&c->job);
        if (!c->watching) {
                c->watching = true;
                http_watch(c->base.hr, job_on_close, c);
        }
        return true;
}

static void job_done(struct exec_op *op)
{
        struct job_ctx *c = container_of(op, struct job_ctx, base.op);

        if (c->closed) {
                api_reply_closed(c->base.hr);
                api_ctx_free(&c->base);
                return;
        }
        if (op->rc == BATON_ECONFLICT && c->base.kind == JOB_OP_RETRY) {
                http_reply_error(c->base.hr, 409, "key_conflict", "key",
                                 "another pending job of this queue holds the job's key");
                api_ctx_free(&c->base);
                return;
        }
        if (op->rc == BATON_ESTATE && c->base.kind != JOB_OP_READ) {
                /* job_cancel and job_retry leave the state they found. */
                if (c->base.kind == JOB_OP_CANCEL)
                        api_reply_state(c->base.hr, c->id, c->job.state, "cancel",
                                        JOBS_CANCELLABLE);
                else
                        api_reply_state(c->base.hr, c->id, c->job.state, "retry",
                                        JOB_STATE_BIT(JOB_DEAD) | JOB_STATE_BIT(JOB_CANCELLED));
                api_ctx_free(&c->base);
                return;
        }
        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "job");
                api_ctx_free(&c->base);
                return;
        }
        if (c->base.kind == JOB_OP_READ && job_park(c))
                return;
        job_reply(c);
}

static void job_wake(struct waiter *w, int why)
{
        struct job_ctx *c = w->arg;

        if (why == WAKE_CLOSED || c->closed || http_client_gone(c->base.hr)) {
                api_reply_closed(c->base.hr);
                api_ctx_free(&c->base);
                return;
        }
        /* A change is read again and may park again; after a timeout or at
         * shutdown the read that follows is the answer. */
        if (why != WAKE_CHANGED)
                c->final = true;
        /* A key revoked (or expired) while the read waited reads nothing. */
        if (auth_recheck(c->base.hr) != 0) {
                api_ctx_free(&c->base);
                return;
        }
        api_ctx_submit(&c->base, 0, NULL);
}

static const struct api_ctx_def job_def = {sizeof(struct job_ctx), job_fn, job_done,
                                           job_ctx_clear,          NULL,   NULL};

static void job_start(struct http_req *hr, int kind, int64_t wait_ms)
{
        struct job_ctx *c;
        struct verr e;
        int64_t id;

        if (api_path_id(hr, 0, &id, &e)) {
                http_reply_verr(hr, &e);
                return;
        }
        c = api_ctx_new(hr, &job_def, kind, false);
        if (!c)
                return;
        c->id = id;
        c->final = wait_ms <= 0;
        c->deadline_ns = clock_mono_ns(hr->srv->clock) + wait_ms * 1000000;
        c->w.wake = job_wake;
        c->w.arg = c;
        api_ctx_submit(&c->base, 0, NULL);
}

void api_jobs_get(struct http_req *hr)
{
        int64_t wait_ms = 0;
        struct verr e;

        if (api_query_int(hr, "wait_ms", &wait_ms, &e) ||
            validate_wait_ms(hr->srv->limits, "wait_ms", wait_ms, &e)) {
                http_reply_verr(hr, &e);
                return;
        }
        job_start(hr, JOB_OP_READ, wait_ms);
}

/* ?purge=true removes an ended job (api_jobops.c); absent or false cancels.
 * Any other value is refused, so that a misspelt purge never cancels. */
void api_jobs_cancel(struct http_req *hr)
{
        const char *purge = http_query(hr, "purge");

        if (purge && strcmp(purge, "true") == 0) {
                api_jobs_purge(hr);
                return;
        }
        if (purge && strcmp(purge, "false") != 0) {
                http_reply_error(hr, 400, "invalid_field", "purge", "purge must be true or false");
                return;
        }
        job_start(hr, JOB_OP_CANCEL, 0);
}

void api_jobs_retry(struct http_req *hr)
{
        job_start(hr, JOB_OP_RETRY, 0);
}
