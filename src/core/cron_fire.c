/*
 * cron_fire.c: the leader's firing of schedules: the due schedules of a tick
 * (cron_tick), the misfire and overlap policies, the run rows and their jobs,
 * buffered runs, ticks skipped because the job's queue is full (queue_full),
 * the ticks a paused schedule missed, and manual runs (cron_run_now).
 *
 * Workload: cron_tick runs in the timer's tick transaction and looks only at
 * schedules whose due_at has come (an indexed range, at most CRON_TICK_BATCH
 * per tick); each fire writes a run row (unique per tick), a job and the
 * schedule row in the same transaction, so a crash leaves either all of a
 * fire or none of it. Assumptions: definitions were validated when saved; a
 * long outage is scanned at most SCAN_MAX ticks per schedule and recorded in
 * at most CRON_SKIP_RECORD_MAX skipped rows.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/log.h"
#include "core/cron_internal.h"
#include "core/events.h"
#include "core/jobs.h"

/* Due ticks enumerated per schedule and tick. */
#define SCAN_MAX 4096
/* Schedules handled per tick; more are handled by the next tick. */
#define CRON_TICK_BATCH 500

/* ---- firing ---- */

/* Is the job of the schedule's latest run still going (not terminal)? */
static int run_going(struct txn *tx, const struct cron_rec *rec, bool *going)
{
        struct job j = {0};
        int rc;

        *going = false;
        if (!rec->last_job_id)
                return 0;
        rc = tx->ops->job_get(tx->st, rec->tenant, rec->last_job_id, &j);
        if (rc == BATON_ENOTFOUND)
                return 0;
        if (!rc)
                *going = !job_state_terminal(j.state);
        job_free(&j);
        return rc;
}

/* The job's "cron" member: {"key", "run"} (the run id as a decimal string,
 * as the API shows ids). Caller frees; NULL when out of memory. */
static char *marker_json(const char *key, int64_t run_id)
{
        json_t *o = json_object();
        char id[24];
        char *s = NULL;

        if (!o)
                return NULL;
        snprintf(id, sizeof(id), "%lld", (long long)run_id);
        if (json_object_set_new(o, "key", json_string(key)) == 0 &&
            json_object_set_new(o, "run", json_string(id)) == 0)
                s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}

/* Enqueues the job of run run_id of rec; *job_id gets its id. */
static int enqueue_for(struct txn *tx, const struct cron_rec *rec, const struct cron_spec *spec,
                       bool manual, const char *request_id, int64_t run_id, int64_t *job_id)
{
        struct enqueue_req req;
        struct enqueue_res res;
        struct verr e;
        int rc;

        memset(&req, 0, sizeof(req));
        memset(&res, 0, sizeof(res));
        req.job.priority = spec->job.priority >= 0 ? spec->job.priority
                           : manual                ? PRIO_HIGH
                                                   : PRIO_NORMAL;
        req.job.max_attempts = spec->job.max_attempts;
        req.job.backoff = spec->job.backoff;
        req.job.lease_ms = spec->job.lease_ms;
        req.job.timeout_ms = spec->job.timeout_ms;
        /* Without its own, the job takes its queue's default timeout. */
        req.dflt_timeout = spec->job.timeout_ms == 0;
        rc = str_set(&req.job.tenant, rec->tenant);
        if (!rc)
                rc = str_set(&req.job.queue, spec->job.queue);
        if (!rc)
                rc = str_set(&req.job.type, spec->job.type);
        if (!rc)
                rc = str_set(&req.job.payload, spec->job.payload ? spec->job.payload : "{}");
        if (!rc)
                rc = str_set(&req.job.request_id, request_id);
        if (!rc)
                rc = str_set(&req.job.group, spec->job.group);
        if (!rc && !(req.job.cron = marker_json(rec->key, run_id)))
                rc = BATON_ENOMEM;
        if (!rc && validate_enqueue(tx->limits, "job", &req, &e)) {
                log_warn("cron", "schedule %s/%s: job template refused: %s", rec->tenant, rec->key,
                         e.message);
                rc = BATON_EINVAL;
        }
        /* The queue's max_depth holds for cron as for any enqueue: a full
         * queue is BATON_EBUSY, refused before anything is written. */
        req.check_depth = true;
        if (!rc)
                rc = job_enqueue(tx, &req, &res);
        if (!rc)
                *job_id = res.job.id;
        job_free(&req.job);
        job_free(&res.job);
        return rc;
}

/* The run r of rec just recorded, as record_run answers it: out's strings
 * are owned by the caller (cron_run_free); r's are borrowed. */
static int run_copy(const struct cron_rec *rec, const struct cron_run *r, const char *trigger,
                    const char *status, const char *reason, const char *requested_by,
                    struct cron_run *out)
{
        int rc;

        out->id = r->id;
        out->scheduled_at_ms = r->scheduled_at_ms;
        out->fired_at_ms = r->fired_at_ms;
        out->job_id = r->job_id;
        rc = str_set(&out->tenant, rec->tenant);
        if (!rc)
                rc = str_set(&out->key, rec->key);
        if (!rc)
                rc = str_set(&out->trigger, trigger);
        if (!rc)
                rc = str_set(&out->status, status);
        if (!rc)
                rc = str_set(&out->reason, reason);
        if (!rc)
                rc = str_set(&out->requested_by, requested_by);
        return rc;
}

/* Records a run of rec (status given) and, for "queued", enqueues its job.
 * payload: the members a manual run was given (recorded in the run; spec's
 * payload already holds them merged), NULL otherwise. *dup: the tick was
 * already recorded (nothing done). */
static int record_run_with(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                           int64_t scheduled_at, const char *trigger, const char *status,
                           const char *reason, const char *requested_by, const char *request_id,
                           const char *payload, struct cron_run *out, bool *dup)
{
        struct cron_run r = {0};
        int rc;

        *dup = false;
        /* A run's identity in the store is (schedule, scheduled_at): every
         * tick names its instant, only a manual run has none. */
        BATON_ASSERTF((scheduled_at == 0) == (strcmp(trigger, "manual") == 0),
                      "schedule %s/%s: %s run at %lld", rec->tenant, rec->key, trigger,
                      (long long)scheduled_at);
        r.tenant = rec->tenant;
        r.key = rec->key;
        r.scheduled_at_ms = scheduled_at;
        r.fired_at_ms = tx->now_ms;
        r.trigger = (char *)trigger;
        r.status = (char *)status;
        r.reason = (char *)reason;
        r.requested_by = (char *)requested_by;
        r.payload = (char *)payload;
        /* The run row first: its unique tick identity decides whether this
         * tick fired already (then nothing else happens). */
        rc = tx->ops->cron_run_insert(tx->st, &r);
        if (rc == BATON_ECONFLICT) {
                *dup = true;
                return 0;
        }
        if (!rc && strcmp(status, "queued") == 0) {
                bool manual = strcmp(trigger, "manual") == 0;
                rc = enqueue_for(tx, rec, spec, manual, request_id, r.id, &r.job_id);
                /* A tick into a full queue is a skipped run (the schedule
                 * moves on; the next tick tries again). A manual run is
                 * refused instead (503 queue_full), like an enqueue. */
                if (rc == BATON_EBUSY && !manual) {
                        log_warn("cron",
                                 "schedule %s/%s: queue %s is at its max_depth; tick skipped "
                                 "(queue_full)",
                                 rec->tenant, rec->key, spec->job.queue);
                        status = "skipped";
                        reason = "queue_full";
                        r.status = (char *)status;
                        r.reason = (char *)reason;
                        r.job_id = 0;
                        rc = 0;
                }
                if (!rc)
                        rc = tx->ops->cron_run_update(tx->st, &r);
        }
        if (rc)
                return rc;
        /* A skipped run is final when recorded; a queued one is counted when
         * its job ends (jobs.c, become_terminal). */
        if (strcmp(status, "skipped") == 0)
                txn_note_cron_run(tx, CRUN_SKIPPED);
        /* Its event: a tick the schedule missed (the server was down, or the
         * schedule paused) is cron.missed, one passed over by the overlap
         * policy or a full queue cron.skipped. A buffered run has none until
         * it starts (release_buffer). */
        if (r.job_id)
                rc = events_note_cron(tx, EVT_CRON_FIRED, &r, spec->job.queue);
        else if (strcmp(status, "skipped") == 0)
                rc = events_note_cron(tx,
                                      strncmp(r.reason, "misfire", 7) == 0 ||
                                              strncmp(r.reason, "paused", 6) == 0
                                          ? EVT_CRON_MISSED
                                          : EVT_CRON_SKIPPED,
                                      &r, spec->job.queue);
        if (rc)
                return rc;
        if (r.job_id) {
                rec->last_run_id = r.id;
                rec->last_job_id = r.job_id;
        }
        if (strcmp(status, "buffered") == 0) {
                rec->buffered_run_id = r.id;
                rec->buffered_at_ms = scheduled_at;
        }
        if (out)
                rc = run_copy(rec, &r, trigger, status, reason, requested_by, out);
        if (!rc && out)
                rc = str_set(&out->payload, payload);
        return rc;
}

static int record_run(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                      int64_t scheduled_at, const char *trigger, const char *status,
                      const char *reason, const char *requested_by, const char *request_id,
                      struct cron_run *out, bool *dup)
{
        return record_run_with(tx, rec, spec, scheduled_at, trigger, status, reason, requested_by,
                               request_id, NULL, out, dup);
}

/* One fire of a tick under the overlap policy; going: a run was going
 * before this tick. */
static int fire(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                int64_t scheduled_at, const char *trigger, bool going, struct cron_tick_res *res)
{
        struct cron_run run = {0};
        struct job j = {0};
        bool dup = false;
        int rc;

        if (going && spec->overlap == CRON_OVERLAP_SKIP) {
                res->skipped++;
                return record_run(tx, rec, spec, scheduled_at, trigger, "skipped", "overlap", NULL,
                                  NULL, NULL, &dup);
        }
        if (going && spec->overlap == CRON_OVERLAP_BUFFER_ONE) {
                if (rec->buffered_run_id) {
                        res->skipped++;
                        return record_run(tx, rec, spec, scheduled_at, trigger, "skipped",
                                          "overlap", NULL, NULL, NULL, &dup);
                }
                return record_run(tx, rec, spec, scheduled_at, trigger, "buffered", NULL, NULL,
                                  NULL, NULL, &dup);
        }
        if (going && spec->overlap == CRON_OVERLAP_REPLACE) {
                rc = job_cancel(tx, rec->tenant, rec->last_job_id, &j);
                job_free(&j);
                if (rc && rc != BATON_ESTATE && rc != BATON_ENOTFOUND)
                        return rc;
        }
        rc = record_run(tx, rec, spec, scheduled_at, trigger, "queued", NULL, NULL, NULL, &run,
                        &dup);
        if (!rc && !dup && run.status && strcmp(run.status, "skipped") == 0)
                res->queue_full++;
        else if (!rc && !dup)
                res->fired++;
        cron_run_free(&run);
        return rc;
}

/* Starts the buffered run of rec once the run before it has ended. */
static int release_buffer(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                          struct cron_tick_res *res)
{
        struct cron_run r = {0};
        bool going;
        int rc = run_going(tx, rec, &going);

        if (rc || going)
                return rc;
        rc = tx->ops->cron_run_get(tx->st, rec->tenant, rec->buffered_run_id, &r);
        if (rc == BATON_ENOTFOUND) {
                rec->buffered_run_id = 0;
                rec->buffered_at_ms = 0;
                return 0;
        }
        if (!rc)
                rc = enqueue_for(tx, rec, spec, false, NULL, r.id, &r.job_id);
        /* The queue filled up meanwhile: the buffered run ends skipped. */
        if (rc == BATON_EBUSY) {
                free(r.status);
                free(r.reason);
                r.status = strdup("skipped");
                r.reason = strdup("queue_full");
                r.job_id = 0;
                r.fired_at_ms = tx->now_ms;
                rc = r.status && r.reason ? tx->ops->cron_run_update(tx->st, &r) : BATON_ENOMEM;
                if (!rc)
                        rc = events_note_cron(tx, EVT_CRON_SKIPPED, &r, spec->job.queue);
                if (!rc) {
                        txn_note_cron_run(tx, CRUN_SKIPPED);
                        rec->buffered_run_id = 0;
                        rec->buffered_at_ms = 0;
                        res->queue_full++;
                }
                cron_run_free(&r);
                return rc;
        }
        if (!rc) {
                free(r.status);
                r.status = strdup("queued");
                r.fired_at_ms = tx->now_ms;
                rc = r.status ? tx->ops->cron_run_update(tx->st, &r) : BATON_ENOMEM;
        }
        if (!rc)
                rc = events_note_cron(tx, EVT_CRON_FIRED, &r, spec->job.queue);
        if (!rc) {
                rec->last_run_id = r.id;
                rec->last_job_id = r.job_id;
                rec->buffered_run_id = 0;
                rec->buffered_at_ms = 0;
                res->fired++;
        }
        cron_run_free(&r);
        return rc;
}

/* Due ticks that end as skipped runs: the newest CRON_SKIP_RECORD_MAX are
 * listed (a ring), the rest only counted. */
struct missed {
        int64_t ring[CRON_SKIP_RECORD_MAX];
        int64_t total; /* ticks added to the ring */
        int64_t lo;    /* the oldest still in the ring (older ones overwritten) */
        int64_t extra; /* ticks passed over without being listed */
        bool unknown;  /* the scan stopped early: more were passed over */
};

static void missed_add(struct missed *m, int64_t t)
{
        m->ring[m->total % CRON_SKIP_RECORD_MAX] = t;
        m->total++;
        if (m->total - m->lo > CRON_SKIP_RECORD_MAX)
                m->lo = m->total - CRON_SKIP_RECORD_MAX;
}

/* The newest listed tick, taken out of the ring (0 = none). */
static int64_t missed_pop(struct missed *m)
{
        if (m->total == m->lo)
                return 0;
        m->total--;
        return m->ring[m->total % CRON_SKIP_RECORD_MAX];
}

/* How many ticks m stands for. */
static int64_t missed_count(const struct missed *m)
{
        return m->total + m->extra;
}

/* Records the ticks of m as skipped runs with reason, oldest first: at most
 * CRON_SKIP_RECORD_MAX rows; the oldest row's reason says how many more were
 * not listed. */
static int missed_record(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                         const struct missed *m, const char *reason)
{
        int64_t n = m->total - m->lo, first = m->lo, more = m->lo + m->extra;
        char note[96];
        bool dup;
        int rc = 0;

        for (int64_t i = 0; !rc && i < n; i++) {
                const char *why = reason;
                if (i == 0 && (more > 0 || m->unknown)) {
                        snprintf(note, sizeof(note), "%s (%s%lld more missed)", reason,
                                 m->unknown ? "over " : "", (long long)more);
                        why = note;
                }
                rc = record_run(tx, rec, spec, m->ring[(first + i) % CRON_SKIP_RECORD_MAX],
                                "schedule", "skipped", why, NULL, NULL, NULL, &dup);
        }
        return rc;
}

/* The tick after a due tick nx of a short @every, when nx is at or before
 * until_ms: jumps over a long outage to the last ticks listed; those jumped
 * over are counted in m. Other schedules: nx. */
static int64_t every_jump(const struct cron_sched *cs, int64_t nx, int64_t until_ms,
                          struct missed *m)
{
        if (cs->expr.every_ms > 0 && !cs->expr.every_days && nx && nx <= until_ms) {
                int64_t k = (until_ms - nx) / cs->expr.every_ms - (CRON_SKIP_RECORD_MAX - 1);
                if (k > 0) {
                        nx += k * cs->expr.every_ms;
                        m->extra += k;
                }
        }
        return nx;
}

/* fire_due's scan stopped at SCAN_MAX with ticks still due: too many missed
 * ticks to list, so continue from now. *ontime becomes the newest tick inside
 * the grace (the one it held is missed), *t the first tick after now. */
static void scan_cut(const struct cron_sched *cs, int64_t now, int64_t grace_from, struct missed *m,
                     int64_t *ontime, int64_t *t)
{
        int64_t at;

        m->unknown = true;
        if (cron_sched_next(cs, *ontime ? *ontime : grace_from, &at) || at > now)
                at = 0;
        if (at && *ontime)
                missed_add(m, *ontime);
        if (at)
                *ontime = at;
        if (cron_sched_next(cs, now, t))
                *t = 0;
}

/* The fires of the due ticks of rec (next_fire_at <= now) under the misfire
 * policy, then the schedule advanced past now. Every due tick ends in one
 * outcome: the newest tick inside the grace fires (schedule); the others are
 * missed and fire (catchup) or are recorded skipped (misfire) per the policy,
 * with at most catchup_max fires and CRON_SKIP_RECORD_MAX skipped rows. */
static int fire_due(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec,
                    const struct cron_sched *cs, struct cron_tick_res *res)
{
        int64_t now = tx->now_ms, grace_from = now - CRON_MISFIRE_GRACE_MS;
        int64_t window_from = spec->catchup_window_ms ? now - spec->catchup_window_ms : INT64_MIN;
        int64_t t = rec->next_fire_at_ms, ontime = 0, late = 0, nx;
        int64_t catchup[CRON_CATCHUP_MAX_MAX];
        struct missed *m = calloc(1, sizeof(*m));
        bool all = spec->misfire == CRON_MISFIRE_FIRE_ALL;
        int n_catchup = 0, i;
        bool going = false;
        int rc = 0;

        if (!m)
                return BATON_ENOMEM;
        for (i = 0; t && t <= now && i < SCAN_MAX; i++) {
                /* The newest tick inside the grace is on time; a tick it
                 * supersedes is missed like an older one. */
                if (t > grace_from) {
                        late = ontime;
                        ontime = t;
                } else {
                        late = t;
                }
                if (late && all && late >= window_from && n_catchup < spec->catchup_max)
                        catchup[n_catchup++] = late;
                else if (late)
                        missed_add(m, late);
                late = 0;
                if (cron_sched_next(cs, t, &nx))
                        nx = 0;
                /* Ticks strictly increase, so none is seen twice. */
                if (nx)
                        BATON_ASSERT_INT(nx, >, t);
                if (!all)
                        nx = every_jump(cs, nx, grace_from, m);
                t = nx;
        }
        if (i == SCAN_MAX && t && t <= now)
                scan_cut(cs, now, grace_from, m, &ontime, &t);
        /* Only the overlap policies other than allow look at a going run. */
        if (spec->overlap != CRON_OVERLAP_ALLOW)
                rc = run_going(tx, rec, &going);
        for (i = 0; !rc && i < n_catchup; i++)
                rc = fire(tx, rec, spec, catchup[i], "catchup", going, res);
        if (!rc && spec->misfire == CRON_MISFIRE_FIRE_ONCE && !ontime && m->total > m->lo &&
            m->ring[(m->total - 1) % CRON_SKIP_RECORD_MAX] >= window_from)
                rc = fire(tx, rec, spec, missed_pop(m), "catchup", going, res);
        if (!rc && missed_count(m)) {
                res->misfired += (int)(missed_count(m) > INT_MAX ? INT_MAX : missed_count(m));
                rc = missed_record(tx, rec, spec, m, "misfire");
        }
        if (!rc && ontime) {
                rc = fire(tx, rec, spec, ontime, "schedule", going, res);
                if (!rc && res->late_n < CRON_LATE_SAMPLES)
                        res->late_ms[res->late_n++] = now - ontime;
        }
        /* Every due tick has its outcome now: the schedule is past now, so
         * the next tick cannot fire one of them again. */
        BATON_ASSERTF(t == 0 || t > now, "schedule %s/%s: next fire %lld, now %lld", rec->tenant,
                      rec->key, (long long)t, (long long)now);
        rec->next_fire_at_ms = t;
        free(m);
        return rc;
}

/* On resume: the ticks that fell while rec was paused (from its next fire at
 * the pause up to now) recorded as skipped, reason paused, bounded like
 * misfires. Disabled schedules had no ticks. */
int cron_record_paused(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec)
{
        struct cron_sched cs = {0};
        struct missed *m = NULL;
        struct verr e;
        int64_t t = rec->next_fire_at_ms, nx;
        int i, rc = 0;

        if (!rec->enabled || !t || t > tx->now_ms)
                return 0;
        if (cron_sched_of(tx, rec->key, spec, &cs, &e)) {
                log_warn("cron", "schedule %s/%s: %s", rec->tenant, rec->key, e.message);
                return 0;
        }
        m = calloc(1, sizeof(*m));
        if (!m) {
                rc = BATON_ENOMEM;
                goto out;
        }
        for (i = 0; t && t <= tx->now_ms && i < SCAN_MAX; i++) {
                missed_add(m, t);
                if (cron_sched_next(&cs, t, &nx))
                        nx = 0;
                t = every_jump(&cs, nx, tx->now_ms, m);
        }
        if (t && t <= tx->now_ms)
                m->unknown = true;
        rc = missed_record(tx, rec, spec, m, "paused");
out:
        free(m);
        cron_sched_free(&cs);
        return rc;
}

/* rec's definition and expression: from the store thread's cache, or parsed
 * (then cached; own holds them when they cannot be). */
static int definition_of(struct txn *tx, const struct cron_rec *rec, struct cron_spec *own,
                         struct cron_expr *own_expr, const struct cron_spec **spec,
                         const struct cron_expr **expr, struct verr *e)
{
        int rc;

        if (tx->crc && cron_cache_get(tx->crc, rec, spec, expr))
                return 0;
        rc = cron_spec_load(rec->spec, own);
        if (!rc)
                rc = cron_spec_expr(rec->key, own, own_expr, e);
        if (rc)
                return rc;
        *spec = own;
        *expr = own_expr;
        if (tx->crc)
                (void)cron_cache_put(tx->crc, rec, own, own_expr, spec, expr);
        return 0;
}

static int tick_one(struct txn *tx, struct cron_rec *rec, struct cron_tick_res *res)
{
        struct cron_spec own = {0};
        struct cron_expr own_expr;
        const struct cron_spec *spec = NULL;
        const struct cron_expr *expr = NULL;
        struct cron_sched cs = {0};
        struct verr e;
        int rc = definition_of(tx, rec, &own, &own_expr, &spec, &expr, &e);

        if (rc == BATON_EINVAL || (!rc && cron_sched_from(tx, spec, expr, &cs, &e))) {
                /* Saved definitions were valid; a zone file may have gone. Look
                 * again in a minute rather than never. */
                log_warn("cron", "schedule %s/%s: %s", rec->tenant, rec->key, e.message);
                rec->next_fire_at_ms = tx->now_ms + 60000;
                rc = cron_write_rec(tx, rec);
                goto out;
        }
        if (rc)
                goto out;
        if (rec->buffered_run_id)
                rc = release_buffer(tx, rec, spec, res);
        if (!rc && rec->enabled && !rec->paused && rec->next_fire_at_ms &&
            rec->next_fire_at_ms <= tx->now_ms)
                rc = fire_due(tx, rec, spec, &cs, res);
        if (!rc)
                rc = tx->ops->cron_run_trim(tx->st, rec->tenant, rec->key, spec->history_max);
        if (!rc)
                rc = cron_write_rec(tx, rec);
out:
        cron_sched_free(&cs);
        cron_spec_free(&own);
        return rc;
}

int cron_tick(struct txn *tx, struct cron_tick_res *out)
{
        struct cron_rec *recs = NULL;
        int n = 0, rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->cron_due(tx->st, tx->now_ms, CRON_TICK_BATCH, &recs, &n);
        for (int i = 0; !rc && i < n; i++)
                rc = tick_one(tx, &recs[i], out);
        cron_recs_free(recs, n);
        if (!rc && n >= CRON_TICK_BATCH)
                out->more = true;
        if (!rc)
                rc = tx->ops->cron_next_due(tx->st, &out->next_ms);
        return rc;
}

/* ---- manual runs ---- */

/* Merges the members of the JSON object text add into spec's payload (its
 * top-level members; add's win), for one manual run: spec is the run's own
 * copy, so the schedule keeps its template. BATON_EINVAL when the template's
 * payload is not an object (null counts as {}), BATON_ETOOBIG when the merge
 * is over the payload limit. */
static int merge_payload(const struct limits *l, struct cron_spec *spec, const char *add)
{
        json_t *base = spec->job.payload ? json_loads(spec->job.payload, JSON_DECODE_ANY, NULL)
                                         : json_object();
        json_t *more = json_loads(add, 0, NULL);
        char *s = NULL;
        int rc = 0;

        if (base && json_is_null(base)) {
                json_decref(base);
                base = json_object();
        }
        if (!base || !more)
                rc = base && !more ? BATON_EINVAL : BATON_ENOMEM;
        else if (!json_is_object(base) || !json_is_object(more))
                rc = BATON_EINVAL;
        else if (json_object_update(base, more) != 0 ||
                 !(s = json_dumps(base, JSON_COMPACT | JSON_PRESERVE_ORDER)))
                rc = BATON_ENOMEM;
        if (!rc && strlen(s) > l->payload_max_bytes)
                rc = BATON_ETOOBIG;
        if (!rc) {
                free(spec->job.payload);
                spec->job.payload = s;
                s = NULL;
        }
        free(s);
        json_decref(base);
        json_decref(more);
        return rc;
}

int cron_run_now(struct txn *tx, const struct cron_run_req *req, struct cron_run_info *out)
{
        struct cron_rec rec = {0};
        struct cron_spec spec = {0};
        int64_t n = 0;
        bool going = false, dup = false;
        struct job j = {0};
        int rc;

        memset(out, 0, sizeof(*out));
        rc = tx->ops->cron_get(tx->st, req->tenant, req->key, &rec);
        if (!rc)
                rc = cron_spec_load(rec.spec, &spec);
        if (!rc)
                rc = tx->ops->cron_run_count(tx->st, req->tenant, req->key, "manual",
                                             tx->now_ms - 3600000, &n);
        if (!rc && n >= req->max_per_hour)
                rc = BATON_ERATE;
        if (!rc)
                rc = run_going(tx, &rec, &going);
        if (rc)
                goto out;
        if (going && !req->force) {
                if (spec.overlap == CRON_OVERLAP_SKIP) {
                        out->going_job_id = rec.last_job_id;
                        rc = BATON_ECONFLICT;
                        goto out;
                }
                if (spec.overlap == CRON_OVERLAP_REPLACE) {
                        rc = job_cancel(tx, rec.tenant, rec.last_job_id, &j);
                        job_free(&j);
                        if (rc == BATON_ESTATE || rc == BATON_ENOTFOUND)
                                rc = 0;
                }
        }
        if (!rc && req->payload)
                rc = merge_payload(tx->limits, &spec, req->payload);
        if (!rc)
                rc =
                    record_run_with(tx, &rec, &spec, 0, "manual", "queued", NULL, req->requested_by,
                                    req->request_id, req->payload, &out->run, &dup);
        if (!rc && out->run.job_id) {
                rc = tx->ops->job_get(tx->st, rec.tenant, out->run.job_id, &out->job);
                out->has_job = rc == 0;
        }
        if (!rc)
                rc = tx->ops->cron_run_trim(tx->st, rec.tenant, rec.key, spec.history_max);
        if (!rc)
                rc = cron_write_rec(tx, &rec);
out:
        cron_spec_free(&spec);
        cron_rec_free(&rec);
        return rc;
}
