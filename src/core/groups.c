/*
 * groups.c: queue limits, job groups and fair claims (see groups.h for the
 * semantics). Workload: every claim reads the queue's limits row (with a lock
 * on a shared store) and, when the queue has groups, one group row per job it
 * hands out; every enqueue, settle and terminal change adds to the row's
 * counters. Claims stay index-driven: the next group to serve is the first
 * entry of the group_pick index (best head priority, then served longest
 * ago), its next job the first entry of the job_group_ready index, so a
 * claim's cost does not grow with the number of ready jobs or of groups.
 *
 * Assumptions: a group row's head is a hint that is never worse than the
 * truth (become_ready lowers it; nothing raises it but a claim that looked),
 * so a claim that finds the hint stale repairs the row and picks again. The
 * counters (depth, running, per-group running) are exact: they change in the
 * same transaction as the jobs they count, on every path in and out of the
 * counted states (jobs.c calls the hooks below from its single places for
 * those changes).
 */
#include "core/groups.h"
#include "core/events.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/log.h"

/* Loads the queue's settings and counters (every one 0 for a queue with
 * none); lock takes its row, as groups.h says when. The caller frees *q. */
static int qlim_load(struct txn *tx, const char *tenant, const char *queue, bool lock,
                     struct queue_limits *q)
{
        memset(q, 0, sizeof(*q));
        return tx->ops->qlim_get(tx->st, tenant, queue, lock, q);
}

/* ---- rate windows ---- */

/* How many of want further starts the log of (queue, grp) allows now: start
 * number seq + i is allowed when start seq + i - max happened at or before
 * now - per_ms (or is not recorded: a start the log dropped is older than
 * the max-th latest, which bounded it when it was recorded). *roll_ms: when
 * the first refused start becomes allowed. */
static int rate_allow(struct txn *tx, const char *tenant, const char *queue, const char *grp,
                      int64_t seq, int64_t max, int64_t per_ms, int want, int *allowed,
                      int64_t *roll_ms)
{
        int rc = 0;
        int i;

        *roll_ms = 0;
        for (i = 0; i < want && !rc; i++) {
                int64_t n = seq + 1 + i - max;
                int64_t at = 0;

                if (i >= max) {
                        /* Its window would hold the starts of this very claim. */
                        *roll_ms = tx->now_ms + per_ms;
                        break;
                }
                if (n < 1)
                        continue;
                rc = tx->ops->rate_get(tx->st, tenant, queue, grp, n, &at);
                if (rc == BATON_ENOTFOUND) {
                        rc = 0;
                        continue;
                }
                /* A start recorded after now was recorded before the wall
                 * clock stepped back: the log's such starts become starts
                 * just now, so the window rolls per_ms from here, not per_ms
                 * after the clock is back where it was. */
                if (!rc && at > tx->now_ms) {
                        rc = tx->ops->rate_clamp(tx->st, tenant, queue, grp, tx->now_ms);
                        at = tx->now_ms;
                }
                if (!rc && at > tx->now_ms - per_ms) {
                        *roll_ms = at + per_ms;
                        break;
                }
        }
        BATON_ASSERT_INT(i, <=, want);
        *allowed = i;
        return rc;
}

/* Records start number seq at now, keeping the latest max starts. */
static int rate_record(struct txn *tx, const char *tenant, const char *queue, const char *grp,
                       int64_t seq, int64_t max)
{
        return tx->ops->rate_put(tx->st, tenant, queue, grp, seq, tx->now_ms, seq - max + 1);
}

/* ---- group rows ---- */

/* Writes g, or deletes it when nothing keeps it: no ready or running job and
 * no start still inside its rate window. */
static int group_save(struct txn *tx, const struct queue_limits *q, const struct group_rec *g)
{
        bool in_window =
            q->group_rate_max > 0 && g->last_start_ms > tx->now_ms - q->group_rate_per_ms;

        if (g->running == 0 && g->head < 0 && g->until_ms == 0 && !in_window)
                return tx->ops->group_delete(tx->st, g->tenant, g->queue, g->grp);
        return tx->ops->group_put(tx->st, g);
}

static bool group_full(const struct queue_limits *q, const struct group_rec *g)
{
        return q->group_concurrency > 0 && g->running >= q->group_concurrency;
}

int groups_on_ready(struct txn *tx, const struct job *j)
{
        struct queue_limits q;
        int rc;

        if (!j->group)
                return 0;
        /* Lock order: the queue's limits row, then its group rows, as claims
         * and settles take them (a retry made ready by a settle comes here
         * before the settle counts its slot). */
        rc = qlim_load(tx, j->tenant, j->queue, true, &q);
        queue_limits_free(&q);
        /* A group that appears joins the rotation now, behind the groups
         * already waiting (store.h), so that fresh groups cannot starve a busy
         * one. */
        if (!rc)
                rc = tx->ops->group_note_ready(tx->st, j->tenant, j->queue, j->group, j->priority);
        return rc;
}

/* Takes j's slot back from its group's running count. The count is stored
 * data: one already at 0 (a row repaired by hand, or lost and made again)
 * is logged and stays at 0 rather than stop the server, and the next claims
 * count from there. */
static void group_leave(const struct job *j, struct group_rec *g)
{
        if (g->running > 0) {
                g->running--;
                return;
        }
        struct log_ctx lc = {j->request_id, j->queue, j->id};
        log_emit(LOG_WARN, "groups", &lc,
                 "group %s counted %lld running jobs when one left; kept at 0", g->grp,
                 (long long)g->running);
        g->running = 0;
}

/* A job that just ended in a queue with a retention of its own: the purge
 * (job_purge_own, at < now - retention) is due one ms after finished_at +
 * that retention, earlier than the server's that become_terminal noted. */
static void note_own_purge(struct txn *tx, const struct queue_limits *q, const struct job *j)
{
        int64_t ret = j->state == JOB_COMPLETED ? q->ret_completed_ms
                      : j->state == JOB_DEAD    ? q->ret_dead_ms
                                                : q->ret_cancelled_ms;

        if (job_state_terminal(j->state) && ret > 0)
                txn_note_deadline(tx, j->finished_at_ms + ret + 1);
}

int groups_on_leave_running(struct txn *tx, const struct job *j, int64_t depth_delta)
{
        struct queue_limits q = {0};
        struct group_rec g = {0};
        bool wake;
        int rc;

        /* The job leaves the depth too when it ended (-1), not when it goes
         * back to waiting (0). */
        BATON_ASSERT_INT(depth_delta, <=, 0);
        BATON_ASSERT_INT(depth_delta, >=, -1);
        rc = tx->ops->qlim_add(tx->st, j->tenant, j->queue, depth_delta, -1);

        /* The settings say whom the freed slot may wake; a grouped job's group
         * row is written under the queue's row (lock order). */
        if (!rc)
                rc = qlim_load(tx, j->tenant, j->queue, j->group != NULL, &q);
        if (!rc && j->group) {
                rc = tx->ops->group_get(tx->st, j->tenant, j->queue, j->group, true, &g);
                if (!rc) {
                        group_leave(j, &g);
                        g.blocked = group_full(&q, &g) || g.until_ms > 0;
                        rc = group_save(tx, &q, &g);
                } else if (rc == BATON_ENOTFOUND) {
                        rc = 0; /* a row lost with a store from before groups */
                }
        }
        if (!rc && depth_delta < 0)
                note_own_purge(tx, &q, j);
        /* A freed slot lets a parked claim through: wake the queue's waiters. */
        wake = q.concurrency > 0 || (j->group && q.group_concurrency > 0);
        if (!rc && wake)
                rc = txn_note_ready(tx, j->tenant, j->queue);
        group_rec_free(&g);
        queue_limits_free(&q);
        return rc;
}

int groups_on_depth(struct txn *tx, const struct job *j, int64_t delta)
{
        /* One job enters or leaves the count at a time. */
        struct queue_limits q;
        int rc;

        BATON_ASSERTF(delta == 1 || delta == -1, "job %lld: depth delta %lld", (long long)j->id,
                      (long long)delta);
        rc = tx->ops->qlim_add(tx->st, j->tenant, j->queue, delta, 0);
        /* Ended without running (cancelled, or dead as a pending child): the
         * queue's own retention, if any, says when it goes. Off the settle
         * path, which learns it from groups_on_leave_running's read. */
        if (!rc && delta < 0) {
                rc = qlim_load(tx, j->tenant, j->queue, false, &q);
                if (!rc)
                        note_own_purge(tx, &q, j);
                queue_limits_free(&q);
        }
        return rc;
}

int groups_on_enqueue(struct txn *tx, struct enqueue_req *req)
{
        struct job *j = &req->job;
        struct queue_limits q = {0};
        int rc = qlim_load(tx, j->tenant, j->queue, false, &q);

        /* max_depth is judged on exact counts: under the queue's row, which
         * every enqueue that judges it takes too. */
        if (!rc && req->check_depth && q.max_depth > 0) {
                queue_limits_free(&q);
                rc = qlim_load(tx, j->tenant, j->queue, true, &q);
                if (!rc && q.max_depth > 0 && q.depth >= q.max_depth)
                        rc = BATON_EBUSY;
        }
        if (!rc)
                rc = tx->ops->qlim_add(tx->st, j->tenant, j->queue, 1, 0);
        if (rc)
                goto out;
        req->queue_known = q.known;
        if (req->dflt_max_attempts && q.def_max_attempts > 0)
                j->max_attempts = (int)q.def_max_attempts;
        if (req->dflt_lease && q.def_lease_ms > 0)
                j->lease_ms = q.def_lease_ms;
        if (req->dflt_timeout && q.def_timeout_ms > 0)
                j->timeout_ms = q.def_timeout_ms;
        if (req->dflt_backoff && q.def_backoff_set)
                j->backoff = q.def_backoff;
out:
        queue_limits_free(&q);
        return rc;
}

/* ---- claims ---- */

/* Leases one job and counts it in *got; a job the claim's byte budget has
 * no room for is not leased nor counted (job_claim_full then stops every
 * loop below). */
static int lease(struct txn *tx, const struct claim_req *req, int64_t id, struct job_vec *out,
                 int *got)
{
        int rc = job_lease(tx, req, id, out);

        if (!rc && !job_claim_full(req))
                (*got)++;
        return rc;
}

/* The next two ready jobs of each group of one pick, read in one call
 * (group_ready_many): group i's are ids[2i], ids[2i + 1] (n[i] of them).
 * busy[i]: some of its ready jobs are held by another transaction a moment
 * (a shared store skips them), so what was read does not show the group. */
struct nexts {
        int64_t *ids;
        int *prios;
        int *n;
        bool *busy;
};

static void nexts_free(struct nexts *x)
{
        free(x->ids);
        free(x->prios);
        free(x->n);
        free(x->busy);
}

/* Reads the next jobs of the ng groups of g into *x (freed by the caller
 * with nexts_free, also on failure). */
static int nexts_read(struct txn *tx, const struct claim_req *req, const struct group_rec *g,
                      int ng, struct nexts *x)
{
        const char **names = malloc((size_t)ng * sizeof(*names));
        int rc;

        x->ids = malloc((size_t)ng * 2 * sizeof(*x->ids));
        x->prios = malloc((size_t)ng * 2 * sizeof(*x->prios));
        x->n = malloc((size_t)ng * sizeof(*x->n));
        x->busy = malloc((size_t)ng * sizeof(*x->busy));
        rc = names && x->ids && x->prios && x->n && x->busy ? 0 : BATON_ENOMEM;
        for (int i = 0; !rc && i < ng; i++)
                names[i] = g[i].grp;
        if (!rc)
                rc = tx->ops->group_ready_many(tx->st, req->tenant, req->queue, names, ng, 2,
                                               x->ids, x->prios, x->n, x->busy);
        free(names);
        return rc;
}

/* The outcome of serving one group. */
enum served { SERVED_SKIPPED, SERVED_DONE, SERVED_REPAIRED };

/* Serves group g (entry i of x) once: leases its next job if its limits
 * allow, else records why not (a full rate window). SERVED_REPAIRED: its
 * head was stale and has been repaired, so the order the caller picked
 * groups in may be wrong. SERVED_SKIPPED: a job of it is held elsewhere for
 * a moment, so it is neither served nor judged now (nothing is written; it
 * keeps its place in the rotation). */
static int serve_group(struct txn *tx, const struct claim_req *req, struct queue_limits *q,
                       struct group_rec *g, const struct nexts *x, int i, struct job_vec *out,
                       int *got, int *how)
{
        const int64_t *ids = x->ids + 2 * i;
        const int *prios = x->prios + 2 * i;
        int64_t roll = 0;
        int n = x->n[i], ok = 1;
        int rc = 0;

        *how = SERVED_SKIPPED;
        if (x->busy[i])
                return 0;
        *how = SERVED_DONE;
        if (n == 0 || prios[0] != g->head) {
                g->head = n ? prios[0] : -1; /* the hint was stale: repair, pick again */
                *how = SERVED_REPAIRED;
                return group_save(tx, q, g);
        }
        if (q->group_rate_max > 0)
                rc = rate_allow(tx, req->tenant, req->queue, g->grp, g->start_seq,
                                q->group_rate_max, q->group_rate_per_ms, 1, &ok, &roll);
        if (!rc && !ok) {
                g->blocked = true;
                g->until_ms = roll;
                return group_save(tx, q, g);
        }
        if (!rc)
                rc = lease(tx, req, ids[0], out, got);
        if (!rc && job_claim_full(req))
                return 0; /* not leased: the group keeps its place */
        if (!rc && q->group_rate_max > 0) {
                g->start_seq++;
                g->last_start_ms = tx->now_ms;
                rc = rate_record(tx, req->tenant, req->queue, g->grp, g->start_seq,
                                 q->group_rate_max);
        }
        if (rc)
                return rc;
        g->running++;
        g->served = ++q->serve_seq;
        g->head = n > 1 ? prios[1] : -1;
        g->blocked = group_full(q, g);
        return group_save(tx, q, g);
}

/* Leases up to want jobs without a group, in (priority, run_at, id) order:
 * the path of a queue with no group waiting. */
static int serve_ungrouped(struct txn *tx, const struct claim_req *req, int want,
                           struct job_vec *out, int *got)
{
        int64_t *ids = malloc((size_t)want * sizeof(*ids));
        int *prios = malloc((size_t)want * sizeof(*prios));
        int n = 0;
        int rc = ids && prios ? 0 : BATON_ENOMEM;

        if (!rc)
                rc = tx->ops->group_ready_ids(tx->st, req->tenant, req->queue, NULL, want, ids,
                                              prios, &n);
        for (int i = 0; i < n && !rc && !job_claim_full(req); i++)
                rc = lease(tx, req, ids[i], out, got);
        free(ids);
        free(prios);
        return rc;
}

/* The jobs without a group, as one more member of the rotation: the next
 * ones in claim order, read when first needed (as many as the claim may
 * still lease, in one read) and taken one per turn from pos. */
struct ungrouped {
        bool known;
        bool more; /* the read was full: there may be more after them */
        int n, pos;
        int64_t *ids;
        int *prios;
};

static int ungrouped_peek(struct txn *tx, const struct claim_req *req, int want,
                          struct ungrouped *u)
{
        if (u->known && (u->pos < u->n || !u->more))
                return 0;
        free(u->ids);
        free(u->prios);
        u->ids = malloc((size_t)want * sizeof(*u->ids));
        u->prios = malloc((size_t)want * sizeof(*u->prios));
        u->known = true;
        u->n = u->pos = 0;
        if (!u->ids || !u->prios)
                return BATON_ENOMEM;
        int rc = tx->ops->group_ready_ids(tx->st, req->tenant, req->queue, NULL, want, u->ids,
                                          u->prios, &u->n);
        u->more = !rc && u->n == want;
        return rc;
}

/* Whether the jobs without a group come before group g. */
static bool ungrouped_first(const struct queue_limits *q, const struct ungrouped *u,
                            const struct group_rec *g)
{
        int prio;

        if (u->pos >= u->n)
                return false;
        prio = u->prios[u->pos];
        return prio < g->head || (prio == g->head && q->nogroup_served <= g->served);
}

/* The rotation: the next groups to serve come from one read of the
 * group_pick index, in (head, served) order, and their next jobs from one
 * read of all of them; serving each once in that order is the rotation,
 * since a served group goes to the back. The jobs without a group take
 * their turn between them. A stale head repaired makes it read the order
 * again. Every round leases a job or writes a row that misled it, or ends
 * the claim (only groups held elsewhere were left); the bound is a
 * backstop. */
static int serve(struct txn *tx, const struct claim_req *req, struct queue_limits *q, int budget,
                 struct job_vec *out, int *got)
{
        struct ungrouped u = {0};
        int steps = 4 * budget + 16;
        int rc = 0;

        while (!rc && *got < budget && !job_claim_full(req) && steps-- > 0) {
                struct group_rec *g = NULL;
                struct nexts x = {0};
                bool moved = false;
                int ng = 0, how = SERVED_DONE;

                rc = tx->ops->group_pick(tx->st, req->tenant, req->queue, budget - *got, &g, &ng);
                if (!rc && ng == 0) {
                        rc = serve_ungrouped(tx, req, budget - *got, out, got);
                        group_recs_free(g, ng);
                        break;
                }
                if (!rc)
                        rc = nexts_read(tx, req, g, ng, &x);
                for (int i = 0; !rc && how != SERVED_REPAIRED && i < ng && *got < budget &&
                                !job_claim_full(req);
                     i++) {
                        rc = ungrouped_peek(tx, req, budget - *got, &u);
                        if (!rc && ungrouped_first(q, &u, &g[i])) {
                                rc = lease(tx, req, u.ids[u.pos++], out, got);
                                if (!job_claim_full(req))
                                        q->nogroup_served = ++q->serve_seq;
                                moved = true;
                                i--; /* g[i] still waits for its turn */
                        } else if (!rc) {
                                rc = serve_group(tx, req, q, &g[i], &x, i, out, got, &how);
                                moved = moved || how != SERVED_SKIPPED;
                        }
                }
                nexts_free(&x);
                group_recs_free(g, ng);
                if (!moved)
                        break;
        }
        free(u.ids);
        free(u.prios);
        return rc;
}

/* How many jobs the queue's own limits let this claim start, and when a
 * full rate window rolls. */
static int queue_budget(struct txn *tx, const struct claim_req *req, const struct queue_limits *q,
                        int *budget, int64_t *roll_ms)
{
        int64_t b = req->max;

        *roll_ms = 0;
        if (q->concurrency > 0 && q->concurrency - q->running < b)
                b = q->concurrency - q->running;
        *budget = b > 0 ? (int)b : 0;
        if (*budget > 0 && q->rate_max > 0)
                return rate_allow(tx, req->tenant, req->queue, "", q->start_seq, q->rate_max,
                                  q->rate_per_ms, *budget, budget, roll_ms);
        return 0;
}

/* Whether a claim must hold the queue's row: its counters or rate window
 * decide how many jobs it may start, or it serves groups (whose rows are
 * taken after the queue's). A plain queue's claims take no row but the jobs
 * they lease, so nodes claiming from it at once never wait on each other. */
static bool claim_locks(const struct queue_limits *q)
{
        return q->concurrency > 0 || q->rate_max > 0 || q->grouped;
}

int groups_claim(struct txn *tx, const struct claim_req *req, struct job_vec *out,
                 int64_t *retry_at_ms)
{
        struct queue_limits q;
        int64_t roll = 0, groll = 0;
        int budget = 0, got = 0, n0 = out->n;
        bool locked = false;
        int rc = qlim_load(tx, req->tenant, req->queue, false, &q);

        *retry_at_ms = 0;
        if (!rc && claim_locks(&q)) {
                queue_limits_free(&q);
                locked = true;
                rc = qlim_load(tx, req->tenant, req->queue, true, &q);
        }
        if (!rc)
                rc = queue_budget(tx, req, &q, &budget, &roll);
        if (!rc && budget > 0 && q.group_rate_max > 0)
                rc = tx->ops->group_unblock(tx->st, req->tenant, req->queue, tx->now_ms,
                                            q.group_concurrency, false);
        /* Without the row the claim serves only jobs without a group: a group
         * that appeared since the read waits for the next claim. */
        if (!rc && budget > 0)
                rc = locked ? serve(tx, req, &q, budget, out, &got)
                            : serve_ungrouped(tx, req, budget, out, &got);
        /* The counters below add got: exactly the jobs leased into out, and
         * never more than the queue's limits allowed. */
        if (!rc) {
                BATON_ASSERT_INT(got, ==, out->n - n0);
                BATON_ASSERT_INT(got, <=, budget);
        }
        for (int i = 1; !rc && q.rate_max > 0 && i <= got; i++)
                rc = rate_record(tx, req->tenant, req->queue, "", q.start_seq + i, q.rate_max);
        if (!rc && got > 0)
                rc = tx->ops->qlim_add(tx->st, req->tenant, req->queue, 0, got);
        if (!rc && got > 0 && locked) {
                if (q.rate_max > 0)
                        q.start_seq += got;
                q.running += got;
                rc = tx->ops->qlim_put(tx->st, &q); /* start_seq and the fairness clock */
        }
        /* Groups' windows matter only when the queue itself let the claim start
         * jobs: then group_unblock has just cleared every roll up to now, so
         * what is left lies ahead (a past instant would make the claim spin). */
        if (!rc && got == 0 && budget > 0 && q.group_rate_max > 0)
                rc = tx->ops->group_next_until(tx->st, req->tenant, req->queue, &groll);
        if (!rc && got == 0)
                *retry_at_ms = roll && (!groll || roll < groll) ? roll : groll;
        queue_limits_free(&q);
        return rc;
}

/* ---- settings ---- */

static void apply_update(struct queue_limits *q, const struct queue_update *u)
{
        const struct queue_limits *s = &u->set;

        if (u->mask & QS_CONCURRENCY)
                q->concurrency = s->concurrency;
        if (u->mask & QS_RATE) {
                q->rate_max = s->rate_max;
                q->rate_per_ms = s->rate_max > 0 ? s->rate_per_ms : 0;
        }
        if (u->mask & QS_MAX_DEPTH)
                q->max_depth = s->max_depth;
        if (u->mask & QS_GROUP_CONCURRENCY)
                q->group_concurrency = s->group_concurrency;
        if (u->mask & QS_GROUP_RATE) {
                q->group_rate_max = s->group_rate_max;
                q->group_rate_per_ms = s->group_rate_max > 0 ? s->group_rate_per_ms : 0;
        }
        if (u->mask & QS_MAX_ATTEMPTS)
                q->def_max_attempts = s->def_max_attempts;
        if (u->mask & QS_LEASE)
                q->def_lease_ms = s->def_lease_ms;
        if (u->mask & QS_TIMEOUT)
                q->def_timeout_ms = s->def_timeout_ms;
        if (u->mask & QS_BACKOFF) {
                q->def_backoff_set = s->def_backoff_set;
                q->def_backoff = s->def_backoff;
        }
        if (u->mask & QS_RET_COMPLETED)
                q->ret_completed_ms = s->ret_completed_ms;
        if (u->mask & QS_RET_DEAD)
                q->ret_dead_ms = s->ret_dead_ms;
        if (u->mask & QS_RET_CANCELLED)
                q->ret_cancelled_ms = s->ret_cancelled_ms;
        if (u->mask & QS_JOB_EVENTS)
                q->job_events_off = s->job_events_off;
}

int queue_update(struct txn *tx, const char *tenant, const char *name, const struct queue_update *u,
                 struct queue_info *out)
{
        struct queue_limits q = {0};
        int rc;

        memset(out, 0, sizeof(*out));
        rc = queue_make(tx, tenant, name, false);
        if (!rc)
                rc = tx->ops->queue_get(tx->st, tenant, name, &out->rec);
        if (!rc && (u->mask & QS_PAUSED)) {
                bool was = out->rec.paused;
                out->rec.paused = u->paused;
                out->rec.updated_at_ms = tx->now_ms;
                rc = tx->ops->queue_put(tx->st, &out->rec);
                /* A pause or resume that changes nothing has no event. */
                if (!rc && was != u->paused)
                        rc = events_note(tx, tenant,
                                         u->paused ? EVT_QUEUE_PAUSED : EVT_QUEUE_RESUMED, "queue",
                                         name, name, NULL);
        }
        if (!rc && (u->mask & ~(unsigned)QS_PAUSED))
                rc = events_note_settings(tx, tenant, name, u->mask & ~(unsigned)QS_PAUSED);
        /* Later events of this transaction read the new job_events. */
        if (u->mask & QS_JOB_EVENTS)
                events_forget_queue(&tx->fx);
        /* The row is made (if missing) and locked before it is read, so that
         * two changes of settings at once cannot undo each other. */
        if (!rc)
                rc = qlim_load(tx, tenant, name, true, &q);
        if (rc)
                goto out;
        apply_update(&q, u);
        if (u->mask & ~(unsigned)QS_PAUSED)
                q.updated_at_ms = tx->now_ms;
        rc = tx->ops->qlim_put(tx->st, &q);
        /* Every group is judged again against the new group limits; a rate
         * window is checked again at the group's next pick. */
        if (!rc && (u->mask & (QS_GROUP_CONCURRENCY | QS_GROUP_RATE)))
                rc = tx->ops->group_unblock(tx->st, tenant, name, tx->now_ms, q.group_concurrency,
                                            true);
        /* A limit may have risen or the queue resumed: parked claims try again. */
        if (!rc)
                rc = txn_note_ready(tx, tenant, name);
        /* A shorter retention may make ended jobs due now: the leader's next
         * tick purges them and works out the deadline that follows. */
        if (u->mask & (QS_RET_COMPLETED | QS_RET_DEAD | QS_RET_CANCELLED))
                txn_note_deadline(tx, tx->now_ms);
        if (!rc)
                rc = tx->ops->queue_counts(tx->st, tenant, name, &out->counts);
        if (!rc) {
                out->lim = q;
                memset(&q, 0, sizeof(q));
        }
out:
        queue_limits_free(&q);
        if (rc)
                queue_info_free(out);
        return rc;
}
