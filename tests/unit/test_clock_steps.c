/*
 * test_clock_steps.c: what a step of the wall clock (an NTP step, a VM
 * resume, an operator fixing the time) does to pending work, on a real SQLite
 * store with the fake clock stepped without its monotonic reading
 * (clock_fake_step_ms). The rules are docs/cron.md "When the clock jumps":
 * due times are wall-clock instants, so a forward step makes what it skipped
 * due at once (cron's misfire policy decides about skipped ticks) and a
 * backward step fires nothing twice; a lease is a duration and moves with the
 * step (jobs_clock_watch); a rate window never lasts longer than its own
 * length. Each test runs on a fresh store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/errors.h"
#include "core/cron.h"
#include "core/groups.h"
#include "core/jobs.h"
#include "core/limits.h"
#include "core/queues.h"
#include "core/timers.h"
#include "core/validate.h"
#include "store/store.h"
#include "support/unit_env.h"

/* 2026-01-05T00:00:00Z, a Monday. */
#define T0 1767571200000LL
#define SEC 1000LL
#define MIN 60000LL
#define HOUR 3600000LL

static int setup(void **state)
{
        *state = unit_env_open(T0);
        return 0;
}

static int teardown(void **state)
{
        return unit_env_teardown(state);
}

/* ---- driving core ---- */

static void cron(struct env *e, const char *key, const char *json)
{
        json_error_t je;
        json_t *o = json_loads(json, 0, &je);
        struct cron_spec spec = {0};
        struct verr v;
        bool created;

        assert_non_null(o);
        assert_int_equal(cron_spec_from_json(o, &spec, &v), 0);
        spec.job.max_attempts = 1;
        spec.job.lease_ms = 30000;
        spec.job.backoff.type = BACKOFF_NONE;
        assert_int_equal(cron_put(unit_env_begin(e), "default", key, &spec, &created, NULL), 0);
        unit_env_commit(e);
        cron_spec_free(&spec);
        json_decref(o);
}

static int64_t next_fire(struct env *e, const char *key)
{
        struct cron_info ci;
        int64_t at;

        assert_int_equal(cron_read(unit_env_begin(e), "default", key, &ci), 0);
        unit_env_commit(e);
        at = ci.rec.next_fire_at_ms;
        cron_info_free(&ci);
        return at;
}

static void pause_cron(struct env *e, const char *key, bool paused)
{
        struct cron_info ci;

        assert_int_equal(cron_set_paused(unit_env_begin(e), "default", key, paused, NULL, &ci), 0);
        unit_env_commit(e);
        cron_info_free(&ci);
}

/* Runs of key with status (NULL: any); each scheduled instant at most once. */
static int runs(struct env *e, const char *key, const char *status)
{
        struct cron_run_info *v = NULL;
        int n = 0, c = 0;

        assert_int_equal(cron_runs_query(unit_env_begin(e), "default", key, 0, 1000, &v, &n), 0);
        unit_env_commit(e);
        for (int i = 0; i < n; i++) {
                for (int k = 0; k < i; k++)
                        assert_false(v[i].run.scheduled_at_ms == v[k].run.scheduled_at_ms);
                if (!status || strcmp(v[i].run.status, status) == 0)
                        c++;
        }
        cron_run_infos_free(v, n);
        return c;
}

/* The leader's tick at the fake clock's time: timers, promotions, expiries,
 * purges (job_tick), then cron (cron_tick). */
struct ticked {
        struct tick_res jobs;
        struct cron_tick_res cron;
};

static struct ticked tick(struct env *e)
{
        struct ticked t;

        assert_int_equal(job_tick(unit_env_begin(e), &t.jobs), 0);
        unit_env_commit(e);
        assert_int_equal(cron_tick(unit_env_begin(e), &t.cron), 0);
        unit_env_commit(e);
        return t;
}

static int64_t enqueue(struct env *e, const char *q, int64_t delay_ms)
{
        struct enqueue_req req;
        struct enqueue_res res;
        struct verr verr;
        int64_t id;

        memset(&req, 0, sizeof(req));
        req.job.tenant = strdup("default");
        req.job.queue = strdup(q);
        req.job.type = strdup("t");
        req.job.payload = strdup("{}");
        req.job.backoff.type = BACKOFF_NONE;
        req.delay_ms = delay_ms;
        assert_int_equal(validate_enqueue(&e->limits, "", &req, &verr), 0);
        assert_int_equal(job_enqueue(unit_env_begin(e), &req, &res), 0);
        unit_env_commit(e);
        id = res.job.id;
        job_free(&res.job);
        job_free(&req.job);
        return id;
}

/* Claims up to max jobs of q with a lease; returns how many; out may be NULL. */
static int claim(struct env *e, const char *q, int max, int64_t lease_ms, struct job_vec *out)
{
        struct claim_req c = {"default", q, "w1", max, lease_ms, NULL, NULL};
        struct job_vec tmp;
        struct job_vec *v = out ? out : &tmp;
        int n;

        memset(v, 0, sizeof(*v));
        assert_int_equal(job_claim(unit_env_begin(e), &c, v), 0);
        unit_env_commit(e);
        n = v->n;
        if (!out)
                job_vec_free(v);
        return n;
}

static struct job get(struct env *e, int64_t id)
{
        struct job j = {0};

        assert_int_equal(job_read(unit_env_begin(e), "default", id, &j), 0);
        unit_env_commit(e);
        return j;
}

static int state_of(struct env *e, int64_t id)
{
        struct job j = get(e, id);
        int s = j.state;

        job_free(&j);
        return s;
}

static void timer(struct env *e, const char *key, int64_t delay_ms)
{
        struct timer_put_req req;
        struct timer_res res;

        memset(&req, 0, sizeof(req));
        req.t.tenant = strdup("default");
        req.t.key = strdup(key);
        req.t.queue = strdup("tq");
        req.t.type = strdup("fire");
        req.t.payload = strdup("{}");
        req.t.max_attempts = 1;
        req.t.backoff.type = BACKOFF_NONE;
        req.t.lease_ms = 30000;
        req.delay_ms = delay_ms;
        assert_int_equal(timer_put(unit_env_begin(e), &req, &res), 0);
        unit_env_commit(e);
        timer_rec_free(&res.t);
        timer_rec_free(&req.t);
}

/* Jobs in queue q in a state, all states when state < 0. */
static int jobs_in(struct env *e, const char *q, int state)
{
        struct job_filter f = {.tenant = "default", .queue = q, .state = state, .limit = 1000};
        struct job_vec v = {0};
        int n;

        assert_int_equal(e->ops->job_list(e->st, &f, &v), 0);
        n = v.n;
        job_vec_free(&v);
        return n;
}

/* The store thread's per-batch watch (core/exec.c): *offset and *known are
 * what the thread keeps between its committed batches. */
static void watch(struct env *e, int64_t *offset, bool *known)
{
        struct txn *tx = unit_env_begin(e);
        int64_t now_offset;

        tx->clock_offset_ms = *offset;
        tx->clock_known = *known;
        assert_int_equal(jobs_clock_watch(tx, &now_offset), 0);
        unit_env_commit(e);
        *offset = now_offset;
        *known = true;
}

#define EVERY_MIN                                                                                  \
        "{\"cron\":\"* * * * *\",\"overlap\":\"allow\",\"job\":{\"queue\":\"cq\",\"type\":\"t\"}}"

/* ---- forward ---- */

/* An hour forward: the ticks it skipped are misfires (one fired, the rest
 * recorded skipped, under the default "once"), the timer and the delayed job
 * due inside it fire once, the one due after it waits for its instant. */
static void forward_hour(void **state)
{
        struct env *e = *state;
        struct ticked t;
        int64_t d30, d90;

        cron(e, "m", EVERY_MIN);
        cron(e, "s",
             "{\"cron\":\"* * * * *\",\"misfire\":\"skip\",\"overlap\":\"allow\","
             "\"job\":{\"queue\":\"cq\",\"type\":\"t\"}}");
        timer(e, "t30", 30 * MIN);
        d30 = enqueue(e, "dq", 30 * MIN);
        d90 = enqueue(e, "dq", 90 * MIN);
        e->clock.wall_ms = T0 + MIN;
        t = tick(e);
        assert_int_equal(t.cron.fired, 2);

        clock_fake_step_ms(&e->clock, HOUR + 30 * SEC);
        t = tick(e);
        /* 60 ticks skipped (T0+2 min .. T0+61 min): "once" fires the newest. */
        assert_int_equal(t.cron.fired, 1);
        assert_int_equal(t.cron.misfired, 59 + 60);
        assert_int_equal(t.jobs.timers_fired, 1);
        assert_int_equal(t.jobs.promoted, 1);
        /* The misfires beyond the recorded ones are counted (test_cron). */
        assert_int_equal(runs(e, "m", "queued"), 2);
        assert_int_equal(runs(e, "s", "queued"), 1);
        assert_int_equal(jobs_in(e, "cq", -1), 3);
        assert_int_equal(next_fire(e, "m"), T0 + 62 * MIN);
        assert_int_equal(state_of(e, d30), JOB_QUEUED);
        assert_int_equal(state_of(e, d90), JOB_SCHEDULED);
        assert_int_equal(jobs_in(e, "tq", -1), 1);

        /* Ticking again at the same instant fires nothing more. */
        t = tick(e);
        assert_int_equal(t.cron.fired + t.jobs.timers_fired + t.jobs.promoted, 0);
        /* The later job keeps its instant: due at T0 + 90 min, not earlier. */
        e->clock.wall_ms = T0 + 90 * MIN - 1;
        tick(e);
        assert_int_equal(state_of(e, d90), JOB_SCHEDULED);
        e->clock.wall_ms = T0 + 90 * MIN;
        tick(e);
        assert_int_equal(state_of(e, d90), JOB_QUEUED);
        assert_int_equal(jobs_in(e, "tq", -1), 1);
}

/* ---- backward ---- */

/* An hour back after three minutes of ticks: nothing fires again, not by
 * ticking, not by editing the schedule, not by pausing and resuming it; the
 * next fire is the first tick after the ones recorded; a timer keeps its
 * instant and fires once when the clock reaches it again. */
static void backward_hour_fires_nothing_twice(void **state)
{
        struct env *e = *state;
        struct ticked t;

        cron(e, "m", EVERY_MIN);
        timer(e, "t5", 5 * MIN);
        for (int i = 1; i <= 3; i++) {
                e->clock.wall_ms = T0 + i * MIN;
                t = tick(e);
                assert_int_equal(t.cron.fired, 1);
        }
        clock_fake_step_ms(&e->clock, -HOUR);
        for (int i = 0; i < 10; i++) {
                t = tick(e);
                assert_int_equal(t.cron.fired + t.jobs.timers_fired, 0);
                clock_fake_advance_ms(&e->clock, 30 * SEC);
        }
        /* An edit recomputes the next fire: after the recorded ticks, not
         * from now (T0 - 52 min), which would fire T0 + 1..3 min again. */
        cron(e, "m",
             "{\"cron\":\"*/1 * * * *\",\"overlap\":\"allow\","
             "\"job\":{\"queue\":\"cq\",\"type\":\"t\",\"payload\":{\"v\":2}}}");
        assert_int_equal(next_fire(e, "m"), T0 + 4 * MIN);
        pause_cron(e, "m", true);
        pause_cron(e, "m", false);
        assert_int_equal(next_fire(e, "m"), T0 + 4 * MIN);
        t = tick(e);
        assert_int_equal(t.cron.fired, 0);
        assert_int_equal(runs(e, "m", NULL), 3);

        /* Back at the recorded instants: each tick fires once, in order. */
        e->clock.wall_ms = T0 + 4 * MIN;
        t = tick(e);
        assert_int_equal(t.cron.fired, 1);
        assert_int_equal(t.jobs.timers_fired, 0);
        e->clock.wall_ms = T0 + 5 * MIN;
        t = tick(e);
        assert_int_equal(t.cron.fired, 1);
        assert_int_equal(t.jobs.timers_fired, 1);
        assert_int_equal(runs(e, "m", NULL), 5);
        assert_int_equal(jobs_in(e, "cq", -1), 5);
        assert_int_equal(jobs_in(e, "tq", -1), 1);
}

/* A rate window recorded before an hour's step back still rolls after its
 * own length: the queue is not held for the hour. */
static void backward_hour_rate_window(void **state)
{
        struct env *e = *state;
        struct queue_update u = {.mask = QS_RATE,
                                 .set = (struct queue_limits){.rate_max = 2, .rate_per_ms = SEC}};
        struct queue_info qi;

        assert_int_equal(queue_update(unit_env_begin(e), "default", "rq", &u, &qi), 0);
        unit_env_commit(e);
        queue_info_free(&qi);
        for (int i = 0; i < 6; i++)
                enqueue(e, "rq", 0);
        assert_int_equal(claim(e, "rq", 10, 30000, NULL), 2);
        clock_fake_step_ms(&e->clock, -HOUR);
        /* Inside the window just recorded (counted from the step): refused. */
        assert_int_equal(claim(e, "rq", 10, 30000, NULL), 0);
        clock_fake_advance_ms(&e->clock, SEC);
        assert_int_equal(claim(e, "rq", 10, 30000, NULL), 2);
        clock_fake_advance_ms(&e->clock, SEC / 2);
        assert_int_equal(claim(e, "rq", 10, 30000, NULL), 0);
        clock_fake_advance_ms(&e->clock, SEC / 2);
        assert_int_equal(claim(e, "rq", 10, 30000, NULL), 2);
}

/* ---- leases ---- */

/* A lease keeps the time it had left across a step either way; without the
 * watch (a step the store thread did not see, like one while batond was
 * down) a forward step would have expired it at once. */
static void leases_move_with_the_step(void **state)
{
        struct env *e = *state;
        int64_t offset = 0;
        bool known = false;
        struct job_vec v;
        int64_t a, b, lease_a;
        struct job j;

        a = enqueue(e, "q", 0);
        b = enqueue(e, "q", 0);
        watch(e, &offset, &known);
        assert_int_equal(claim(e, "q", 1, 60 * SEC, &v), 1);
        assert_int_equal(v.v[0].id, a);
        lease_a = v.v[0].lease_until_ms;
        job_vec_free(&v);
        clock_fake_advance_ms(&e->clock, 20 * SEC);
        watch(e, &offset, &known);
        j = get(e, a);
        assert_int_equal(j.lease_until_ms, lease_a);
        job_free(&j);

        /* Forward an hour: 40 s of the lease are left, as before the step. */
        clock_fake_step_ms(&e->clock, HOUR);
        watch(e, &offset, &known);
        j = get(e, a);
        assert_int_equal(j.lease_until_ms, lease_a + HOUR);
        assert_int_equal(j.started_at_ms, T0 + HOUR);
        job_free(&j);
        tick(e);
        assert_int_equal(state_of(e, a), JOB_RUNNING);
        clock_fake_advance_ms(&e->clock, 40 * SEC - 1);
        watch(e, &offset, &known);
        tick(e);
        assert_int_equal(state_of(e, a), JOB_RUNNING);
        clock_fake_advance_ms(&e->clock, 1);
        watch(e, &offset, &known);
        tick(e);
        assert_int_not_equal(state_of(e, a), JOB_RUNNING);

        /* Back an hour: the lease ends 60 s later, not an hour and 60 s. */
        assert_int_equal(claim(e, "q", 1, 60 * SEC, &v), 1);
        assert_int_equal(v.v[0].id, b);
        job_vec_free(&v);
        clock_fake_step_ms(&e->clock, -HOUR);
        watch(e, &offset, &known);
        clock_fake_advance_ms(&e->clock, 60 * SEC - 1);
        watch(e, &offset, &known);
        tick(e);
        assert_int_equal(state_of(e, b), JOB_RUNNING);
        clock_fake_advance_ms(&e->clock, 1);
        watch(e, &offset, &known);
        tick(e);
        assert_int_not_equal(state_of(e, b), JOB_RUNNING);
}

/* Steps under CLOCK_STEP_MIN_MS and a first batch move nothing; neither does
 * a step with no running job (and it is not an error). */
static void small_steps_move_nothing(void **state)
{
        struct env *e = *state;
        int64_t offset = 0, lease;
        bool known = false;
        struct job_vec v;
        struct job j;

        watch(e, &offset, &known);
        clock_fake_step_ms(&e->clock, HOUR);
        watch(e, &offset, &known);
        enqueue(e, "q", 0);
        assert_int_equal(claim(e, "q", 1, 60 * SEC, &v), 1);
        lease = v.v[0].lease_until_ms;
        clock_fake_step_ms(&e->clock, CLOCK_STEP_MIN_MS - 1);
        watch(e, &offset, &known);
        clock_fake_step_ms(&e->clock, -(CLOCK_STEP_MIN_MS - 1));
        watch(e, &offset, &known);
        j = get(e, v.v[0].id);
        assert_int_equal(j.lease_until_ms, lease);
        job_free(&j);
        clock_fake_step_ms(&e->clock, CLOCK_STEP_MIN_MS);
        watch(e, &offset, &known);
        j = get(e, v.v[0].id);
        assert_int_equal(j.lease_until_ms, lease + CLOCK_STEP_MIN_MS);
        job_free(&j);
        job_vec_free(&v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(forward_hour, setup, teardown),
            cmocka_unit_test_setup_teardown(backward_hour_fires_nothing_twice, setup, teardown),
            cmocka_unit_test_setup_teardown(backward_hour_rate_window, setup, teardown),
            cmocka_unit_test_setup_teardown(leases_move_with_the_step, setup, teardown),
            cmocka_unit_test_setup_teardown(small_steps_move_nothing, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
