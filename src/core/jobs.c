/*
 * jobs.c: the life of a job: enqueue (with idempotency keys and dedup keys),
 * claim with a lease token per attempt, heartbeat, fenced settlement, retries
 * with backoff, cancellation, replay of dead letters, and the steps of the
 * leader's timed duties on one job (promotion when due, lease expiry; the
 * tick that finds them is job_tick.c's). The attempt and
 * step logs a job carries are written by job_log.c, the queue records it
 * lives in by queues.c.
 *
 * Every function runs on the store thread inside a transaction (txn.h), so it
 * sees a consistent store and its writes commit or roll back together with the
 * rest of its operation. Workload: the hot paths are enqueue, claim and settle,
 * each a handful of indexed reads and writes per job; the logs are kept in
 * the job row, so a claim or a settle touches one row, written with
 * job_update_run (only the columns an attempt's run changes, so the
 * indexes over the job's fixed columns are left alone; a settle with
 * job_update_settle, which leaves the worker it keeps out as well).
 *
 * Effects: every state change goes through become_ready, become_terminal or
 * place, which report the change to the loop thread (txn.h): a job made ready
 * wakes its queue's claim waiters, a terminal job wakes its own waiters, and
 * every instant written that the leader must act on (run_at of a scheduled or
 * retrying job, lease_until, the retention purge of a finished job, the
 * expiry of an idempotency record) re-arms the next-deadline timer. Events and
 * duration samples for metrics are recorded next to the change they count;
 * when the op rolls back, exec.c drops them with it.
 */
#include "core/jobs.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/log.h"
#include "common/rand.h"
#include "core/deps.h"
#include "core/events.h"
#include "core/groups.h"
#include "core/job_log.h"
#include "core/queues.h"
#include "core/timers.h"

int64_t backoff_delay_ms(const struct backoff *b, int attempt, uint64_t (*rnd)(uint64_t bound))
{
        int64_t d;

        switch (b->type) {
        case BACKOFF_NONE:
                return -1;
        case BACKOFF_IMMEDIATE:
                return 0;
        case BACKOFF_FIXED:
                return b->base_ms;
        default:
                break;
        }
        d = b->base_ms;
        for (int i = 1; i < attempt && d < b->max_ms; i++)
                d *= 2;
        if (d > b->max_ms)
                d = b->max_ms;
        /* Equal jitter: at least half the delay, so retries never bunch at zero. */
        return d / 2 + (int64_t)rnd((uint64_t)(d - d / 2) + 1);
}

/* ---- state changes ---- */

/* The one assignment of a job's state in a change: a move the state machine
 * does not have (common/job_state.h) is a bug here, stopped before it is
 * written and counted. Callers have checked the state they move from (or
 * read it under the row's lock with the query that chose the job). */
static void move_to(struct job *j, int to)
{
        BATON_ASSERTF(job_state_moves(j->state, to), "job %lld: %s -> %s", (long long)j->id,
                      job_state_name(j->state), job_state_name(to));
        j->state = to;
}

/* Every move to a terminal state goes through here, so that each one wakes the
 * job's waiters, is counted (and so is the cron run it ends), and arms the
 * timer for the row's retention purge (the purge deadline is new whenever
 * nothing older is waiting for it). */
static int become_terminal(struct txn *tx, struct job *j, int state)
{
        const struct limits *l = tx->limits;
        bool was_running;
        int ev;
        int rc;

        BATON_ASSERTF(job_state_terminal(state), "job %lld: to %s", (long long)j->id,
                      job_state_name(state));
        ev = state == JOB_COMPLETED ? EV_COMPLETED : state == JOB_DEAD ? EV_DEAD : EV_CANCELLED;
        /* A running job's depth is counted by groups_on_leave_running. */
        was_running = j->state == JOB_RUNNING;
        move_to(j, state);
        j->finished_at_ms = tx->now_ms;
        rc = txn_note_terminal(tx, j->id);
        if (!rc)
                rc = txn_note_event(tx, j->tenant, j->queue, ev, 1);
        if (!rc)
                rc = events_note_job(tx,
                                     state == JOB_COMPLETED ? EVT_JOB_COMPLETED
                                     : state == JOB_DEAD    ? EVT_JOB_DEAD
                                                            : EVT_JOB_CANCELLED,
                                     j, NULL);
        /* A cron run that ends dead is an outcome of its schedule too. */
        if (!rc && j->cron && state == JOB_DEAD)
                rc = events_note_cron_run_failed(tx, j);
        if (!rc && !was_running)
                rc = groups_on_depth(tx, j, -1);
        /* A cron run's final status is its job's: counted here, from the
         * job's own marker, so other jobs cost nothing more. */
        if (j->cron)
                txn_note_cron_run(tx, state == JOB_COMPLETED ? CRUN_COMPLETED
                                      : state == JOB_DEAD    ? CRUN_DEAD
                                                             : CRUN_CANCELLED);
        txn_note_deadline(tx, j->finished_at_ms +
                                  (state == JOB_COMPLETED ? l->completed_ttl_ms : l->dead_ttl_ms));
        if (state == JOB_DEAD) {
                /* Dead letters need a person's attention: log them with the ids an
                 * operator searches by. Never the payload or the error text. */
                struct log_ctx lc = {j->request_id, j->queue, j->id};
                log_emit(LOG_INFO, "jobs", &lc, "job dead after %d of %d attempts", j->attempt,
                         j->max_attempts);
        }
        /* The one place a job ends is the one place its children learn of it:
         * through the cascade's work list, bounded per transaction (deps.h). */
        if (!rc)
                rc = deps_cascade(tx, j, jobs_resolve_child);
        return rc;
}

/* Every move to queued goes through here: claim waiters of the queue must be
 * woken after the commit, and ready_at starts the enqueue-to-claim wait. */
static int become_ready(struct txn *tx, struct job *j)
{
        int rc;

        move_to(j, JOB_QUEUED);
        j->ready_at_ms = tx->now_ms;
        rc = txn_note_ready(tx, j->tenant, j->queue);
        /* Its group (if any) must be found by the next claim's group pick. */
        if (!rc && j->group)
                rc = groups_on_ready(tx, j);
        return rc;
}

/* Schedules the job at run_at_ms: ready now or scheduled for later. */
static int place(struct txn *tx, struct job *j, int later_state)
{
        if (j->run_at_ms <= tx->now_ms)
                return become_ready(tx, j);
        move_to(j, later_state);
        j->ready_at_ms = 0;
        txn_note_deadline(tx, j->run_at_ms);
        return 0;
}

/* For job_ops.c, whose operator changes move jobs the same ways. */
int jobs_become_ready(struct txn *tx, struct job *j)
{
        return become_ready(tx, j);
}

int jobs_place(struct txn *tx, struct job *j, int later_state)
{
        return place(tx, j, later_state);
}

/* ---- dependencies (core/deps.h) ---- */

/* Decides a pending child's fate from its parents' stored states; *changed
 * tells whether it left pending (the caller writes it). A parent that is gone
 * was purged after it ended, which only happens to a completed or failed job
 * whose children were resolved then; it counts as completed. The parent
 * known_id is known to be in known_state (>= 0; the cascade's ended parent,
 * written in this transaction), so it is not read again. */
static int deps_evaluate(struct txn *tx, struct job *c, bool *changed, int64_t known_id,
                         int known_state)
{
        bool all_done = true, all_terminal = true, failed = false;
        int64_t *ids = NULL;
        int n = 0;
        int rc;

        *changed = false;
        rc = deps_ids_parse(c->depends_on, &ids, &n);
        for (int i = 0; i < n && !rc; i++) {
                struct job p = {0};
                if (ids[i] == known_id && known_state >= 0)
                        p.state = known_state;
                else
                        rc = tx->ops->job_get(tx->st, c->tenant, ids[i], &p);
                if (rc == BATON_ENOTFOUND) {
                        rc = 0;
                        continue;
                }
                if (rc)
                        break;
                all_terminal = all_terminal && job_state_terminal(p.state);
                all_done = all_done && p.state == JOB_COMPLETED;
                failed = failed || p.state == JOB_DEAD || p.state == JOB_CANCELLED;
                job_free(&p);
        }
        free(ids);
        if (rc)
                return rc;
        if (failed && c->on_parent_failure != PARENT_FAIL_RUN) {
                *changed = true;
                rc = str_set(&c->cancel_reason, "parent_failed");
                return rc ? rc : become_terminal(tx, c, JOB_CANCELLED);
        }
        if (all_done || (all_terminal && c->on_parent_failure == PARENT_FAIL_RUN)) {
                *changed = true;
                return place(tx, c, JOB_SCHEDULED);
        }
        return 0;
}

/* Writes a job its parents or the clock just let go. When another pending
 * job holds its dedup key the write is refused (changing nothing, store.h)
 * and the job ends cancelled instead, that job standing for it: a keyed
 * child or retry whose key a newer job took meanwhile. */
static int write_released(struct txn *tx, struct job *j, bool run_only)
{
        /* A promotion changes only run columns and keeps the worker, so it
         * writes those alone (job_update_settle): about half the index
         * entries of a whole-row write, 10,000 times when 10,000 delayed
         * jobs come due at once. */
        int (*write)(struct store *, const struct job *) =
            run_only ? tx->ops->job_update_settle : tx->ops->job_update;
        int rc = write(tx->st, j);

        if (rc != BATON_ECONFLICT)
                return rc;
        rc = str_set(&j->cancel_reason, "superseded_by_key");
        if (!rc)
                rc = become_terminal(tx, j, JOB_CANCELLED);
        if (!rc)
                rc = write(tx->st, j);
        return rc;
}

int jobs_resolve_child(struct txn *tx, int64_t id, int64_t parent_id, int parent_state)
{
        struct job c = {0};
        bool changed = false;
        int rc = tx->ops->job_get(tx->st, NULL, id, &c);

        if (rc == BATON_ENOTFOUND)
                return 0; /* purged */
        if (rc || c.state != JOB_PENDING)
                goto out;
        rc = deps_evaluate(tx, &c, &changed, parent_id, parent_state);
        if (!rc && changed)
                rc = write_released(tx, &c, false);
out:
        job_free(&c);
        return rc;
}

/* Checks that every parent is a job of the tenant and records the list in
 * the job. BATON_EINVAL with res->bad_dep naming the first that is not. */
static int deps_check(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res)
{
        struct job *j = &req->job;
        int rc = 0;

        for (int i = 0; i < req->n_depends_on && !rc; i++) {
                struct job p = {0};
                rc = tx->ops->job_get(tx->st, j->tenant, req->depends_on[i], &p);
                if (rc == BATON_ENOTFOUND) {
                        res->bad_dep = i;
                        rc = BATON_EINVAL;
                }
                job_free(&p);
        }
        free(j->depends_on);
        j->depends_on = NULL;
        if (!rc)
                rc = deps_ids_format(req->depends_on, req->n_depends_on, &j->depends_on);
        j->state = JOB_PENDING;
        j->ready_at_ms = 0;
        return rc;
}

/* Records the edges of a just inserted job and decides at once whether its
 * parents already let it run (a completed parent counts as satisfied). */
static int deps_link(struct txn *tx, struct enqueue_req *req)
{
        struct job *j = &req->job;
        bool changed = false;
        int rc = 0;

        for (int i = 0; i < req->n_depends_on && !rc; i++)
                rc = tx->ops->dep_insert(tx->st, j->tenant, req->depends_on[i], j->id);
        if (!rc)
                rc = deps_evaluate(tx, j, &changed, 0, -1);
        if (!rc && changed)
                rc = tx->ops->job_update(tx->st, j);
        return rc;
}

/* After a failed attempt: retry per policy, or dead, or cancelled if asked. */
static int after_failure(struct txn *tx, struct job *j, bool retryable, int64_t retry_in_ms)
{
        int64_t delay;
        int rc;

        if (j->cancel_requested) {
                rc = str_set(&j->cancel_reason, "cancelled");
                return rc ? rc : become_terminal(tx, j, JOB_CANCELLED);
        }
        delay = backoff_delay_ms(&j->backoff, j->attempt, rand_below);
        if (!retryable || j->attempt >= j->max_attempts || delay < 0)
                return become_terminal(tx, j, JOB_DEAD);
        if (retry_in_ms >= 0)
                delay = retry_in_ms;
        j->run_at_ms = tx->now_ms + delay;
        /* Counted as a retry even when the delay is zero and the job is ready at
         * once: it is another attempt of the same job. */
        rc = txn_note_event(tx, j->tenant, j->queue, EV_RETRIED, 1);
        if (!rc)
                rc = place(tx, j, JOB_RETRYING);
        return rc ? rc : events_note_job(tx, EVT_JOB_RETRYING, j, NULL);
}

/* The instant the running attempt of j reaches its timeout_ms, 0 if none. */
static int64_t attempt_deadline_ms(const struct job *j)
{
        return j->timeout_ms > 0 ? j->started_at_ms + j->timeout_ms : 0;
}

/* now_ms + ms, but never past the attempt's timeout: a lease is capped at
 * the deadline so that the lease sweep (job_expired_ids over the lease
 * index) ends a timed-out attempt, heartbeats or not. */
static int64_t lease_end_ms(const struct job *j, int64_t now_ms, int64_t ms)
{
        int64_t end = now_ms + ms, deadline = attempt_deadline_ms(j);

        return deadline > 0 && deadline < end ? deadline : end;
}

/* Whether the running attempt of j has run for its timeout_ms at now_ms. */
static bool timed_out(const struct job *j, int64_t now_ms)
{
        int64_t deadline = attempt_deadline_ms(j);

        return deadline > 0 && deadline <= now_ms;
}

/* The lease ran out: the attempt fails with lease_expired, or with timeout
 * when it has run for its timeout_ms (its lease was capped there). */
static int expire_lease(struct txn *tx, struct job *j)
{
        bool timeout = timed_out(j, tx->now_ms);
        const char *err = timeout ? "timeout" : "lease expired";
        int rc;

        BATON_ASSERT_INT(j->state, ==, JOB_RUNNING);
        rc = job_log_attempt_close(tx, j, timeout ? "timeout" : "lease_expired", err);
        if (!rc)
                rc = job_log_step_close(tx, j);
        if (!rc)
                rc = str_set(&j->last_error, err);
        if (rc)
                return rc;
        j->settled = timeout ? SETTLED_TIMEOUT : SETTLED_EXPIRED;
        struct log_ctx lc = {j->request_id, j->queue, j->id};
        if (timeout)
                log_emit(LOG_INFO, "jobs", &lc, "attempt %d timed out after %lld ms (worker %s)",
                         j->attempt, (long long)j->timeout_ms, j->worker ? j->worker : "?");
        else
                log_emit(LOG_INFO, "jobs", &lc, "lease of attempt %d expired (worker %s)",
                         j->attempt, j->worker ? j->worker : "?");
        free(j->worker);
        j->worker = NULL;
        rc = txn_note_event(tx, j->tenant, j->queue, EV_EXPIRED, 1);
        if (!rc)
                rc = after_failure(tx, j, true, -1);
        /* Its slots free (and its depth, if the job ended). */
        if (!rc)
                rc = groups_on_leave_running(tx, j, job_state_terminal(j->state) ? -1 : 0);
        return rc;
}

/* ---- enqueue ---- */

/* Moves req->job into res->job (the request no longer owns the strings). */
static void move_job(struct job *dst, struct job *src)
{
        *dst = *src;
        memset(src, 0, sizeof(*src));
}

/* How many times an enqueue tries to take its idempotency key when the
 * record it met changed under it (see enqueue_idempotent). Each retry means
 * another transaction replaced or purged that record in between, so a few
 * are plenty; beyond them the request gets 503 and its client retries. */
#define IDEM_TAKE_TRIES 3

/* Answers req from a live record of its key that another enqueue holds: the
 * same payload gets that job (a duplicate), another payload BATON_EIDEM. A
 * record whose job no longer exists (purged) is taken over (idem_swap):
 * *mine then says the key is this transaction's, and *retry that the record
 * changed meanwhile and the take must run again. */
static int idem_answer(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res,
                       const struct idem_rec *want, const struct idem_rec *held, bool *mine,
                       bool *retry)
{
        int rc;

        *mine = false;
        *retry = false;
        if (strcmp(held->payload_hash, req->payload_hash) != 0)
                return BATON_EIDEM;
        rc = tx->ops->job_get(tx->st, req->job.tenant, held->job_id, &res->job);
        if (!rc) {
                res->duplicate = true;
                return 0;
        }
        if (rc != BATON_ENOTFOUND)
                return rc;
        /* The job was purged: the key starts afresh, unless someone else
         * restarted it first. */
        rc = tx->ops->idem_swap(tx->st, want, held->job_id);
        if (rc == BATON_ECONFLICT) {
                *retry = true;
                return 0;
        }
        if (!rc)
                *mine = true;
        return rc;
}

/* Takes req's idempotency key before anything is inserted: with several
 * nodes on one store, idem_take is what decides which of the concurrent
 * enqueues of one key creates the job (the others wait for its commit and
 * then answer with its job); a lookup followed by a write would let every
 * node find the key free and create a job of its own. The record is written
 * with job id 0 and completed by remember_idem once the job exists, in the
 * same operation, so no other transaction ever sees the placeholder, and a
 * rollback of the operation gives the key back. *handled: res already holds
 * the answer (a duplicate). */
static int enqueue_idempotent(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res,
                              bool *handled)
{
        const struct job *j = &req->job;
        struct idem_rec want = {.tenant = j->tenant,
                                .key = j->idempotency_key,
                                .job_id = 0,
                                .payload_hash = (char *)req->payload_hash,
                                .expires_at_ms = tx->now_ms + tx->limits->idempotency_ttl_ms};
        int rc = BATON_EBUSY;

        *handled = false;
        for (int i = 0; i < IDEM_TAKE_TRIES; i++) {
                struct idem_rec held = {0};
                bool mine = false, retry = false;

                rc = tx->ops->idem_take(tx->st, &want, tx->now_ms, &held);
                if (rc == BATON_ECONFLICT)
                        rc = idem_answer(tx, req, res, &want, &held, &mine, &retry);
                else
                        mine = !rc;
                idem_rec_free(&held);
                if (rc || !retry) {
                        *handled = !rc && !mine;
                        return rc;
                }
                rc = BATON_EBUSY;
        }
        return rc;
}

/* Records req's idempotency key for job_id, so that a repeat within the TTL
 * answers with that job. The record's expiry is a new purge deadline. */
static int remember_idem(struct txn *tx, const struct enqueue_req *req, int64_t job_id)
{
        const struct job *j = &req->job;
        struct idem_rec rec = {.tenant = j->tenant,
                               .key = j->idempotency_key,
                               .job_id = job_id,
                               .payload_hash = (char *)req->payload_hash,
                               .expires_at_ms = tx->now_ms + tx->limits->idempotency_ttl_ms};
        int rc = tx->ops->idem_put(tx->st, &rec);

        if (!rc)
                txn_note_deadline(tx, rec.expires_at_ms);
        return rc;
}

/* Replaces the pending job that holds req's key with req's contents. */
static int enqueue_replace(struct txn *tx, struct enqueue_req *req, struct job *old)
{
        struct job *n = &req->job;
        int rc;

        rc = str_set(&old->type, n->type);
        if (!rc) {
                free(old->payload);
                old->payload = n->payload;
                n->payload = NULL;
        }
        if (rc)
                return rc;
        old->priority = n->priority;
        old->run_at_ms = n->run_at_ms;
        old->max_attempts = n->max_attempts;
        old->backoff = n->backoff;
        old->lease_ms = n->lease_ms;
        old->timeout_ms = n->timeout_ms;
        free(old->group);
        old->group = n->group;
        n->group = NULL;
        old->version++;
        rc = place(tx, old, JOB_SCHEDULED);
        if (!rc)
                rc = tx->ops->job_update(tx->st, old);
        return rc;
}

static int enqueue_keyed(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res,
                         bool *handled)
{
        int64_t id = 0;
        int rc;

        *handled = false;
        rc = tx->ops->job_find_key(tx->st, req->job.tenant, req->job.queue, req->job.key, &id);
        if (rc == BATON_ENOTFOUND)
                return 0;
        if (rc)
                return rc;
        rc = tx->ops->job_get(tx->st, req->job.tenant, id, &res->job);
        if (rc)
                return rc;
        /* On a shared store the holder may have been claimed or ended by
         * another node since the lookup: then the key is free. */
        if (res->job.state != JOB_SCHEDULED && res->job.state != JOB_QUEUED) {
                job_free(&res->job);
                memset(&res->job, 0, sizeof(res->job));
                return 0;
        }
        *handled = true;
        if (!req->on_key_replace) {
                res->duplicate = true;
                return 0;
        }
        res->replaced = true;
        return enqueue_replace(tx, req, &res->job);
}

/* unique_while "active": refused while any job with the key has not ended,
 * whatever it was enqueued with. The lookup alone would let two enqueues on
 * two nodes both find the key free; the unique index over the jobs that ask
 * for it (store.h job_find_active) refuses the second insert, and
 * active_holder then finds the job that won. */
static int enqueue_unique(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res)
{
        const struct job *j = &req->job;
        int rc = tx->ops->job_find_active(tx->st, j->tenant, j->queue, j->key, &res->held_id);

        if (rc == BATON_ENOTFOUND)
                return 0;
        return rc ? rc : BATON_ECONFLICT;
}

/* After an insert refused with BATON_ECONFLICT under unique_while "active":
 * the holder, committed meanwhile by another transaction. */
static void active_holder(struct txn *tx, const struct enqueue_req *req, struct enqueue_res *res)
{
        const struct job *j = &req->job;

        if (tx->ops->job_find_active(tx->st, j->tenant, j->queue, j->key, &res->held_id))
                res->held_id = 0;
}

static int enqueue_new(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res)
{
        struct job *j = &req->job;
        int rc;

        j->attempt = 0;
        j->version = 1;
        j->created_at_ms = tx->now_ms;
        j->settled = SETTLED_NONE;
        /* Queue defaults, max_depth and the depth count, before anything else. */
        rc = groups_on_enqueue(tx, req);
        if (!rc && !j->payload)
                rc = str_set(&j->payload, "null");
        if (!rc && req->n_depends_on > 0)
                rc = deps_check(tx, req, res);
        else if (!rc)
                rc = place(tx, j, JOB_SCHEDULED);
        if (!rc)
                rc = queue_make(tx, j->tenant, j->queue, req->queue_known || !req->check_queues);
        if (!rc)
                rc = tx->ops->job_insert(tx->st, j);
        if (!rc && req->n_depends_on > 0)
                rc = deps_link(tx, req);
        if (!rc && j->idempotency_key)
                rc = remember_idem(tx, req, j->id);
        if (!rc)
                rc = txn_note_event(tx, j->tenant, j->queue, EV_ENQUEUED, 1);
        if (!rc)
                rc = events_note_job(tx, EVT_JOB_ENQUEUED, j, NULL);
        if (!rc)
                move_job(&res->job, j);
        return rc;
}

int job_enqueue(struct txn *tx, struct enqueue_req *req, struct enqueue_res *res)
{
        struct job *j = &req->job;
        bool handled = false;
        int rc = 0;

        memset(res, 0, sizeof(*res));
        res->bad_dep = -1;
        if (j->run_at_ms) {
                if (j->run_at_ms - tx->now_ms > tx->limits->delay_max_ms)
                        return BATON_ERANGE;
                if (j->run_at_ms < tx->now_ms)
                        j->run_at_ms = tx->now_ms;
        } else {
                j->run_at_ms = tx->now_ms + req->delay_ms;
        }
        if (j->idempotency_key)
                rc = enqueue_idempotent(tx, req, res, &handled);
        if (!rc && !handled && j->key && j->unique_active) {
                rc = enqueue_unique(tx, req, res);
        } else if (!rc && !handled && j->key) {
                rc = enqueue_keyed(tx, req, res, &handled);
                /* A repeat of this idempotency key must answer with the job the key
                 * clash returned, even after that job has left the pending states
                 * and the dedup key would no longer find it. */
                if (!rc && handled && j->idempotency_key)
                        rc = remember_idem(tx, req, res->job.id);
        }
        if (!rc && !handled) {
                rc = enqueue_new(tx, req, res);
                if (rc == BATON_ECONFLICT && j->unique_active)
                        active_holder(tx, req, res);
        }
        if (rc)
                job_free(&res->job);
        return rc;
}

/* ---- claim, heartbeat, settle ---- */

bool job_claim_full(const struct claim_req *req)
{
        return req->budget && req->budget->full;
}

/* Counts j (as the answer will render it, lease and worker included) in the
 * budget b (NULL = none). Returns false, and marks b full, when it does not
 * fit; the first job of a claim always fits, so a job bigger than the budget
 * is still handed out alone rather than never. */
bool job_budget_take(struct claim_budget *b, const struct job *j, bool first)
{
        size_t n;

        if (!b)
                return true;
        BATON_ASSERT(!b->full);
        n = job_wire_bytes(j);
        if (!first && (b->used_bytes + n > b->max_bytes || b->used_bytes + n < n)) {
                b->full = true;
                return false;
        }
        b->used_bytes += n;
        return true;
}

int job_lease(struct txn *tx, const struct claim_req *req, int64_t id, struct job_vec *out)
{
        struct job *j = job_vec_push(out);
        char token[RAND_TOKEN_LEN + 1];
        int rc;

        if (!j)
                return BATON_ENOMEM;
        rc = tx->ops->job_get(tx->st, req->tenant, id, j);
        if (!rc)
                rc = rand_pool_token(tx->rnd, token);
        /* Fencing rests on each attempt's token being new: a worker still
         * holding the last one must not settle this attempt. */
        if (!rc)
                BATON_ASSERTF(!j->lease || strcmp(j->lease, token) != 0,
                              "job %lld: the new lease token repeats the last one",
                              (long long)j->id);
        if (!rc)
                rc = str_set(&j->lease, token);
        if (!rc)
                rc = str_set(&j->worker, req->worker);
        if (rc)
                return rc;
        if (!job_budget_take(req->budget, j, out->n == 1)) {
                /* Not leased: nothing was written, the job stays queued for
                 * the next claim. */
                job_free(j);
                out->n--;
                return 0;
        }
        move_to(j, JOB_RUNNING);
        j->attempt++;
        j->settled = SETTLED_NONE;
        j->started_at_ms = tx->now_ms;
        j->lease_until_ms =
            lease_end_ms(j, tx->now_ms, req->lease_ms > 0 ? req->lease_ms : j->lease_ms);
        rc = job_log_attempt_open(tx, j);
        if (!rc)
                rc = tx->ops->job_update_run(tx->st, j);
        if (!rc)
                rc = events_note_job(tx, EVT_JOB_STARTED, j, NULL);
        if (!rc && j->depends_on)
                rc = deps_parents_json(tx, j);
        /* ready_at is always set for a queued job; 0 would only come from a row
         * written by hand and must not count as a wait of 55 years. */
        if (!rc && j->ready_at_ms > 0)
                rc = txn_note_sample(tx, OBS_WAIT, tx->now_ms - j->ready_at_ms);
        if (!rc)
                txn_note_deadline(tx, j->lease_until_ms);
        return rc;
}

int job_claim(struct txn *tx, const struct claim_req *req, struct job_vec *out)
{
        struct queue_rec q = {0};
        int64_t retry_at = 0;
        int rc;

        if (req->retry_at_ms)
                *req->retry_at_ms = 0;
        if (req->max <= 0)
                return BATON_EINVAL;
        rc = tx->ops->queue_get(tx->st, req->tenant, req->queue, &q);
        if (rc == BATON_ENOTFOUND)
                return 0; /* no such queue yet: nothing to hand out */
        if (rc || q.paused)
                goto out;
        rc = groups_claim(tx, req, out, &retry_at);
        if (!rc && out->n > 0)
                rc = txn_note_event(tx, req->tenant, req->queue, EV_CLAIMED, out->n);
        if (!rc && req->retry_at_ms)
                *req->retry_at_ms = retry_at;
out:
        if (rc)
                job_vec_free(out); /* the op rolls back: no job was handed out */
        queue_rec_free(&q);
        return rc;
}

/* Loads a job and checks that lease is its live lease. */
static int load_leased(struct txn *tx, const char *tenant, int64_t id, const char *lease,
                       struct job *j)
{
        int rc = tx->ops->job_get(tx->st, tenant, id, j);

        if (rc)
                return rc;
        /* A timed-out attempt's token no longer holds the job (docs/api.md,
         * timeout_ms): the same answer as a token that never did. */
        if (!lease || !j->lease || strcmp(j->lease, lease) != 0 || j->settled == SETTLED_TIMEOUT)
                return BATON_ELEASE;
        if (j->settled == SETTLED_EXPIRED)
                return BATON_EEXPIRED;
        return 0;
}

/* BATON_EEXPIRED once the lease has run out, whether or not the reaper has
 * failed the attempt yet: it owns the attempt now, so it is made to run
 * promptly. BATON_ELEASE instead when the attempt has reached its timeout,
 * as after the reaper failed it with timeout. */
static int lease_live(struct txn *tx, const struct job *j)
{
        if (j->lease_until_ms > tx->now_ms)
                return 0;
        txn_note_deadline(tx, tx->now_ms);
        return timed_out(j, tx->now_ms) ? BATON_ELEASE : BATON_EEXPIRED;
}

int job_heartbeat(struct txn *tx, const struct heartbeat_req *req, struct job *out)
{
        int rc;

        memset(out, 0, sizeof(*out));
        rc = load_leased(tx, req->tenant, req->id, req->lease, out);
        if (rc)
                goto out;
        if (out->settled != SETTLED_NONE || out->state != JOB_RUNNING) {
                rc = BATON_ECONFLICT;
                goto out;
        }
        rc = lease_live(tx, out);
        if (rc)
                goto out;
        out->lease_until_ms =
            lease_end_ms(out, tx->now_ms, req->extend_ms > 0 ? req->extend_ms : out->lease_ms);
        if (req->progress)
                rc = str_set(&out->progress, req->progress);
        if (!rc && req->step)
                rc = job_log_step_change(tx, out, req->step);
        if (!rc)
                rc = tx->ops->job_update_run(tx->st, out);
        if (!rc && (req->progress || req->step))
                rc = events_note_progress(tx, out, req->step);
        /* The timer may be armed for the old lease_until only; that wake-up finds
         * nothing to expire and re-arms for this one, but noting it keeps the
         * rule simple: every deadline written is reported. */
        if (!rc)
                txn_note_deadline(tx, out->lease_until_ms);
out:
        if (rc)
                job_free(out);
        return rc;
}

/* Only the live attempt is settled, once: job_settle has matched the token
 * and found it unsettled on a running job. */
static void assert_live_attempt(const struct job *j)
{
        BATON_ASSERT_INT(j->settled, ==, SETTLED_NONE);
        BATON_ASSERT_INT(j->state, ==, JOB_RUNNING);
}

static int settle_complete(struct txn *tx, const struct settle_req *req, struct job *j)
{
        int rc;

        assert_live_attempt(j);
        rc = str_set(&j->result, req->result ? req->result : "null");

        if (!rc)
                rc = txn_note_sample(tx, OBS_RUN, tx->now_ms - j->started_at_ms);
        if (!rc)
                rc = job_log_attempt_close(tx, j, "completed", NULL);
        if (!rc)
                rc = job_log_step_close(tx, j);
        if (rc)
                return rc;
        j->settled = SETTLED_COMPLETE;
        return become_terminal(tx, j, JOB_COMPLETED);
}

static int settle_fail(struct txn *tx, const struct settle_req *req, struct job *j)
{
        const char *err = req->error ? req->error : "failed";
        int rc;

        assert_live_attempt(j);
        /* A failure is a settle too: claim-to-settle covers every outcome a
         * worker reports, so slow failures show in the histogram. */
        rc = txn_note_sample(tx, OBS_RUN, tx->now_ms - j->started_at_ms);

        if (!rc)
                rc = job_log_attempt_close(tx, j, "failed", err);
        if (!rc)
                rc = job_log_step_close(tx, j);
        if (!rc)
                rc = str_set(&j->last_error, err);
        if (rc)
                return rc;
        j->settled = SETTLED_FAIL;
        return after_failure(tx, j, req->retryable, req->retry_in_ms);
}

int job_settle(struct txn *tx, const struct settle_req *req, struct settle_res *res)
{
        struct job *j = &res->job;
        int rc;

        memset(res, 0, sizeof(*res));
        rc = load_leased(tx, req->tenant, req->id, req->lease, j);
        if (rc)
                goto out;
        if (j->settled != SETTLED_NONE) {
                /* A retry after a lost answer gets the first answer again. */
                if (j->settled == req->outcome)
                        res->repeat = true;
                else
                        rc = BATON_ECONFLICT;
                goto out;
        }
        if (j->state != JOB_RUNNING) {
                /* An unsettled live token on a job that is not running: the row
                 * was not written by this code. Refused, not asserted. */
                struct log_ctx lc = {j->request_id, j->queue, j->id};
                log_emit(LOG_ERROR, "jobs", &lc, "unsettled lease on a job in state %s",
                         job_state_name(j->state));
                rc = BATON_ESTORE;
                goto out;
        }
        rc = lease_live(tx, j);
        if (rc)
                goto out;
        if (req->outcome == SETTLED_COMPLETE)
                rc = settle_complete(tx, req, j);
        else
                rc = settle_fail(tx, req, j);
        /* The attempt's slots free (and its depth, if the job ended). */
        if (!rc)
                rc = groups_on_leave_running(tx, j, job_state_terminal(j->state) ? -1 : 0);
        /* The attempt's worker stays on the row: job_update_settle leaves the
         * worker column (and its index entry) alone. */
        if (!rc)
                rc = tx->ops->job_update_settle(tx->st, j);
out:
        if (rc)
                job_free(j);
        return rc;
}

/* ---- cancel, retry, reads ---- */

int job_cancel(struct txn *tx, const char *tenant, int64_t id, struct job *out)
{
        int rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->job_get(tx->st, tenant, id, out);
        if (rc)
                goto out;
        if (job_state_terminal(out->state)) {
                rc = BATON_ESTATE;
                goto out;
        }
        if (out->state == JOB_RUNNING) {
                /* The worker holds the attempt; it learns of the request on its next
                 * heartbeat, and its settle or lease expiry ends the job. */
                out->cancel_requested = true;
        } else {
                rc = str_set(&out->cancel_reason, "cancelled");
                if (!rc)
                        rc = become_terminal(tx, out, JOB_CANCELLED);
        }
        if (!rc)
                rc = tx->ops->job_update(tx->st, out);
out:
        if (rc)
                job_free(out);
        return rc;
}

/* Makes a dead or cancelled job ready again with a fresh attempt budget. */
static int revive(struct txn *tx, struct job *j)
{
        int rc;

        if (j->state != JOB_DEAD && j->state != JOB_CANCELLED)
                return BATON_ESTATE;
        j->attempt = 0;
        j->run_at_ms = tx->now_ms;
        j->finished_at_ms = 0;
        j->cancel_requested = false;
        j->settled = SETTLED_NONE;
        free(j->cancel_reason);
        j->cancel_reason = NULL;
        free(j->lease);
        j->lease = NULL;
        j->lease_until_ms = 0;
        /* It counts towards the queue's depth again. */
        rc = groups_on_depth(tx, j, 1);
        return rc ? rc : become_ready(tx, j);
}

int job_retry(struct txn *tx, const char *tenant, int64_t id, struct job *out)
{
        int rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->job_get(tx->st, tenant, id, out);
        if (!rc)
                rc = revive(tx, out);
        /* BATON_ECONFLICT here: the job has a dedup key that another pending
         * job holds now, and two pending jobs may not share it. */
        if (!rc)
                rc = tx->ops->job_update(tx->st, out);
        if (rc)
                job_free(out);
        return rc;
}

int job_read(struct txn *tx, const char *tenant, int64_t id, struct job *out)
{
        memset(out, 0, sizeof(*out));
        /* Only to answer: no lock (store.h job_peek). */
        return tx->ops->job_peek(tx->st, tenant, id, out);
}

/* ---- dead letters ---- */

int jobs_key_held(struct txn *tx, const struct job *j, bool *held)
{
        int64_t holder = 0;
        int rc = 0;

        *held = false;
        /* A job enqueued with unique_while "active" is refused by any job of
         * its key that has not ended (job_ukey), the others by a pending one. */
        if (j->key && j->unique_active)
                rc = tx->ops->job_find_active(tx->st, j->tenant, j->queue, j->key, &holder);
        else if (j->key)
                rc = tx->ops->job_find_key(tx->st, j->tenant, j->queue, j->key, &holder);
        if (j->key) {
                *held = !rc && holder != j->id;
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        return rc;
}

/* Revives one dead job if it belongs to the queue; *ok tells whether it did. */
static int replay_one(struct txn *tx, const char *tenant, const char *queue, int64_t id, bool *ok)
{
        struct job j = {0};
        int rc = tx->ops->job_get(tx->st, tenant, id, &j);
        bool held = false;

        *ok = false;
        if (rc == BATON_ENOTFOUND)
                return 0;
        if (!rc && (j.state != JOB_DEAD || strcmp(j.queue, queue) != 0))
                goto out;
        /* Its dedup key is held by another pending job: that job stands for
         * it, so this one stays dead. Asked before revive counts it back into
         * its queue, since the refused write below would leave that count. */
        if (!rc)
                rc = jobs_key_held(tx, &j, &held);
        if (!rc && held)
                goto out;
        if (!rc)
                rc = revive(tx, &j);
        if (!rc)
                rc = tx->ops->job_update(tx->st, &j);
        /* BATON_ECONFLICT now: the key was taken between the check and the
         * write, by another node on a shared store. The replay fails as a
         * whole (409, rolled back with revive's count) and may be repeated. */
        if (!rc)
                *ok = true;
out:
        job_free(&j);
        return rc;
}

int dead_replay(struct txn *tx, const char *tenant, const char *queue, const int64_t *ids, int n,
                bool all, int *count)
{
        int64_t *found = NULL;
        int rc = 0;
        bool ok;

        *count = 0;
        if (all) {
                int max = tx->limits->replay_max;
                found = malloc((size_t)max * sizeof(*found));
                if (!found)
                        return BATON_ENOMEM;
                rc = tx->ops->job_state_ids(tx->st, tenant, queue, JOB_DEAD, 0, max, found, &n);
                ids = found;
        }
        for (int i = 0; i < n && !rc; i++) {
                rc = replay_one(tx, tenant, queue, ids[i], &ok);
                *count += ok;
        }
        free(found);
        return rc;
}

int dead_purge(struct txn *tx, const char *tenant, const char *queue, int *count)
{
        int max = tx->limits->replay_max;
        int64_t *ids = malloc((size_t)max * sizeof(*ids));
        int n = 0;
        int rc;

        *count = 0;
        if (!ids)
                return BATON_ENOMEM;
        rc = tx->ops->job_state_ids(tx->st, tenant, queue, JOB_DEAD, 0, max, ids, &n);
        for (int i = 0; i < n && !rc; i++) {
                rc = tx->ops->job_delete(tx->st, tenant, ids[i]);
                *count += !rc;
                /* Kept while its dependants are still being decided (deps.h):
                 * they must read it dead, not find it gone. */
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        free(ids);
        return rc;
}

/* ---- leader duties ---- */

int jobs_promote_due(struct txn *tx, int64_t id)
{
        struct job j = {0};
        int rc = tx->ops->job_get(tx->st, NULL, id, &j);

        /* On a shared store the row may have changed between the query that
         * found it due and the read that locks it (cancelled, or replaced
         * with a later run_at, by another node): nothing to promote then. */
        if (!rc &&
            ((j.state != JOB_SCHEDULED && j.state != JOB_RETRYING) || j.run_at_ms > tx->now_ms))
                goto out;
        if (!rc)
                rc = become_ready(tx, &j);
        if (!rc)
                rc = write_released(tx, &j, true);
out:
        job_free(&j);
        return rc;
}

int jobs_clock_watch(struct txn *tx, int64_t *offset_ms)
{
        int64_t step_ms;
        int n = 0;
        int rc;

        *offset_ms = clock_offset_ms(tx->clock, tx->now_ms);
        if (!tx->clock_known)
                return 0;
        step_ms = *offset_ms - tx->clock_offset_ms;
        if (step_ms > -CLOCK_STEP_MIN_MS && step_ms < CLOCK_STEP_MIN_MS)
                return 0;
        rc = tx->ops->job_shift_leases(tx->st, step_ms, &n);
        if (rc)
                return rc;
        log_warn("jobs",
                 "the wall clock stepped by %+lld ms; the leases of %d running jobs moved with it",
                 (long long)step_ms, n);
        /* The leader's timer was armed for the old lease ends: it looks again. */
        if (n > 0)
                txn_note_deadline(tx, tx->now_ms);
        return 0;
}

int jobs_expire_due(struct txn *tx, int64_t id)
{
        struct job j = {0};
        int rc = tx->ops->job_get(tx->st, NULL, id, &j);

        /* As in jobs_promote_due: settled or heartbeaten on another node since
         * the query found the lease run out. */
        if (!rc && (j.state != JOB_RUNNING || j.lease_until_ms > tx->now_ms))
                goto out;
        if (!rc)
                rc = expire_lease(tx, &j);
        if (!rc)
                rc = tx->ops->job_update_run(tx->st, &j);
out:
        job_free(&j);
        return rc;
}
