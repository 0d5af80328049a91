/*
 * test_groups.c: queue limits, groups and fair claims (core/groups.c) on a
 * real SQLite store with a fake clock, so rate windows are checked to the
 * millisecond: the sliding window's exact roll instants, the concurrency
 * count through every way out of running (complete, fail and retry, lease
 * expiry), group concurrency and group rate, the rotation across groups
 * (including the jobs without a group as one group, and a stale head
 * repaired), max_depth with the API check on and off, and queue defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/clock.h"
#include "core/groups.h"
#include "core/jobs.h"
#include "core/validate.h"
#include "store/store.h"
#include "support/unit_env.h"

#define T0 UNIT_ENV_T0_MS

/* Applies settings: mask bits of enum queue_setting with values in set. */
static void settings(struct env *e, unsigned mask, struct queue_limits set)
{
        struct queue_update u = {.mask = mask, .set = set};
        struct queue_info qi;

        assert_int_equal(queue_update(unit_env_begin(e), "default", "q", &u, &qi), 0);
        unit_env_commit(e);
        queue_info_free(&qi);
}

/* Enqueues one job of q in group g (NULL = none); returns its id, or 0 with
 * *rc_out set when refused. check_depth as an API enqueue does. */
static int64_t enqueue_g(struct env *e, const char *g, int prio, bool check_depth, int *rc_out)
{
        struct enqueue_req req;
        struct enqueue_res res;
        struct verr verr;
        int64_t id = 0;
        int rc;

        memset(&req, 0, sizeof(req));
        req.job.tenant = strdup("default");
        req.job.queue = strdup("q");
        req.job.type = strdup("t");
        req.job.group = g ? strdup(g) : NULL;
        req.job.priority = prio;
        req.job.backoff.type = BACKOFF_IMMEDIATE;
        req.check_depth = check_depth;
        assert_int_equal(validate_enqueue(&e->limits, "", &req, &verr), 0);
        rc = job_enqueue(unit_env_begin(e), &req, &res);
        if (rc) {
                unit_env_rollback(e);
        } else {
                unit_env_commit(e);
                id = res.job.id;
                job_free(&res.job);
        }
        if (rc_out)
                *rc_out = rc;
        else
                assert_int_equal(rc, 0);
        job_free(&req.job);
        return id;
}

static int64_t enqueue(struct env *e, const char *g)
{
        return enqueue_g(e, g, PRIO_NORMAL, true, NULL);
}

/* Claims up to max; *retry_at (may be NULL) receives the rate roll instant. */
static void claim(struct env *e, int max, struct job_vec *out, int64_t *retry_at)
{
        int64_t r = -1;
        struct claim_req c = {"default", "q", "w1", max, 0, &r, NULL};

        memset(out, 0, sizeof(*out));
        assert_int_equal(job_claim(unit_env_begin(e), &c, out), 0);
        unit_env_commit(e);
        if (retry_at)
                *retry_at = r;
}

static int claim_n(struct env *e, int max)
{
        struct job_vec jv;
        int n;

        claim(e, max, &jv, NULL);
        n = jv.n;
        job_vec_free(&jv);
        return n;
}

static void settle(struct env *e, const struct job *j, int outcome)
{
        struct settle_req s = {"default", j->id, j->lease, outcome, NULL, "boom", true, -1};
        struct settle_res r;

        assert_int_equal(job_settle(unit_env_begin(e), &s, &r), 0);
        unit_env_commit(e);
        job_free(&r.job);
}

static struct queue_limits limits_of(struct env *e)
{
        struct queue_info qi;
        struct queue_limits l;

        assert_int_equal(queue_read(unit_env_begin(e), "default", "q", &qi), 0);
        unit_env_commit(e);
        l = qi.lim;
        l.tenant = l.queue = NULL;
        assert_int_equal(l.running, qi.counts.by_state[JOB_RUNNING]);
        queue_info_free(&qi);
        return l;
}

static void rate_window_rolls_exactly(void **state)
{
        struct env *e = *state;
        struct job_vec jv;
        int64_t at = 0;

        settings(e, QS_RATE, (struct queue_limits){.rate_max = 3, .rate_per_ms = 1000});
        for (int i = 0; i < 10; i++)
                enqueue(e, NULL);
        claim(e, 10, &jv, &at);
        assert_int_equal(jv.n, 3);
        assert_int_equal(at, 0);
        job_vec_free(&jv);
        claim(e, 10, &jv, &at);
        assert_int_equal(jv.n, 0);
        assert_int_equal(at, T0 + 1000); /* when the first start leaves the window */
        clock_fake_advance_ms(&e->clock, 999);
        assert_int_equal(claim_n(e, 10), 0);
        clock_fake_advance_ms(&e->clock, 1); /* T0 + 1000 */
        assert_int_equal(claim_n(e, 1), 1);
        clock_fake_advance_ms(&e->clock, 200); /* T0 + 1200: the window holds one start */
        assert_int_equal(claim_n(e, 10), 2);
        clock_fake_advance_ms(&e->clock, 100);
        claim(e, 10, &jv, &at);
        assert_int_equal(jv.n, 0);
        assert_int_equal(at, T0 + 2000); /* the start of T0 + 1000 rolls out then */
        job_vec_free(&jv);
        /* Removing the limit lets the rest through. */
        settings(e, QS_RATE, (struct queue_limits){0});
        assert_int_equal(claim_n(e, 10), 4);
}

static void concurrency_freed_on_every_exit(void **state)
{
        struct env *e = *state;
        struct job_vec a, b;
        struct tick_res t;

        settings(e, QS_CONCURRENCY, (struct queue_limits){.concurrency = 2});
        for (int i = 0; i < 6; i++)
                enqueue(e, NULL);
        claim(e, 5, &a, NULL);
        assert_int_equal(a.n, 2);
        assert_int_equal(limits_of(e).running, 2);
        assert_int_equal(claim_n(e, 5), 0);
        /* Complete. */
        settle(e, &a.v[0], SETTLED_COMPLETE);
        assert_int_equal(limits_of(e).running, 1);
        claim(e, 5, &b, NULL);
        assert_int_equal(b.n, 1);
        /* Fail with a retry (immediate backoff: queued again at once). */
        settle(e, &b.v[0], SETTLED_FAIL);
        assert_int_equal(limits_of(e).running, 1);
        job_vec_free(&b);
        claim(e, 5, &b, NULL);
        assert_int_equal(b.n, 1);
        job_vec_free(&b);
        assert_int_equal(limits_of(e).running, 2);
        /* Lease expiry frees both slots. */
        clock_fake_advance_ms(&e->clock, 31000);
        assert_int_equal(job_tick(unit_env_begin(e), &t), 0);
        unit_env_commit(e);
        assert_int_equal(t.expired, 2);
        assert_int_equal(limits_of(e).running, 0);
        assert_int_equal(claim_n(e, 5), 2);
        assert_int_equal(limits_of(e).depth, 5); /* one completed */
        job_vec_free(&a);
}

static void group_concurrency_and_group_rate(void **state)
{
        struct env *e = *state;
        struct job_vec jv, more;
        int64_t at = 0;

        settings(e, QS_GROUP_CONCURRENCY, (struct queue_limits){.group_concurrency = 1});
        for (int i = 0; i < 3; i++)
                enqueue(e, "a");
        enqueue(e, "b");
        enqueue(e, NULL);
        enqueue(e, NULL);
        /* One job of a, one of b; the jobs without a group are not limited. */
        claim(e, 10, &jv, NULL);
        assert_int_equal(jv.n, 4);
        assert_int_equal(claim_n(e, 10), 0);
        for (int i = 0; i < jv.n; i++)
                if (jv.v[i].group && strcmp(jv.v[i].group, "a") == 0)
                        settle(e, &jv.v[i], SETTLED_COMPLETE);
        claim(e, 10, &more, NULL);
        assert_int_equal(more.n, 1);
        assert_string_equal(more.v[0].group, "a");
        job_vec_free(&more);
        job_vec_free(&jv);

        /* Group rate: one start per group and second. */
        settings(e, QS_GROUP_CONCURRENCY | QS_GROUP_RATE,
                 (struct queue_limits){.group_rate_max = 1, .group_rate_per_ms = 1000});
        enqueue(e, "c");
        enqueue(e, "c");
        claim(e, 10, &jv, &at);
        assert_int_equal(jv.n, 2); /* the last of a, and c */
        job_vec_free(&jv);
        claim(e, 10, &jv, &at);
        assert_int_equal(jv.n, 0);
        assert_int_equal(at, T0 + 1000);
        clock_fake_advance_ms(&e->clock, 1000);
        claim(e, 10, &jv, &at);
        assert_int_equal(jv.n, 1);
        assert_string_equal(jv.v[0].group, "c");
        job_vec_free(&jv);
}

/* A claim held by the queue's concurrency reports no rate roll, even when a
 * group's old roll lies in the past: it waits for a settle, not a timer (a
 * past instant would make a waiting claim spin). */
static void no_roll_when_concurrency_holds(void **state)
{
        struct env *e = *state;
        struct job_vec jv;
        int64_t at = -1;

        settings(e, QS_CONCURRENCY | QS_GROUP_RATE,
                 (struct queue_limits){
                     .concurrency = 2, .group_rate_max = 1, .group_rate_per_ms = 1000});
        enqueue(e, "a");
        enqueue(e, "a");
        claim(e, 5, &jv, &at); /* a's first job; a is then rate-blocked */
        assert_int_equal(jv.n, 1);
        job_vec_free(&jv);
        claim(e, 5, &jv, &at);
        assert_int_equal(jv.n, 0);
        assert_int_equal(at, T0 + 1000); /* a's window rolls then */
        job_vec_free(&jv);
        enqueue(e, NULL);
        assert_int_equal(claim_n(e, 5), 1); /* concurrency 2 is now full */
        clock_fake_advance_ms(&e->clock, 2000);
        claim(e, 5, &jv, &at);
        assert_int_equal(jv.n, 0);
        assert_int_equal(at, 0); /* a settle will wake it; a's old roll is past */
        job_vec_free(&jv);
}

/* Claims one job at a time; returns the group letters in order ('-' none). */
static void order(struct env *e, int n, char *out)
{
        for (int i = 0; i < n; i++) {
                struct job_vec jv;
                claim(e, 1, &jv, NULL);
                assert_int_equal(jv.n, 1);
                out[i] = jv.v[0].group ? jv.v[0].group[0] : '-';
                job_vec_free(&jv);
        }
        out[n] = 0;
}

static void rotation_is_fair(void **state)
{
        struct env *e = *state;
        char got[16];

        for (int i = 0; i < 200; i++)
                enqueue(e, "big");
        for (int i = 0; i < 3; i++)
                enqueue(e, "x");
        enqueue(e, NULL);
        enqueue(e, NULL);
        order(e, 6, got);
        /* big, x and the ungrouped jobs (one group of their own) take turns. */
        assert_int_equal(strchr(got, 'b') != NULL, 1);
        assert_int_equal(got[0] != got[1] && got[1] != got[2] && got[0] != got[2], 1);
        assert_int_equal(got[3], got[0]);
        assert_int_equal(got[4], got[1]);
        assert_int_equal(got[5], got[2]);
        /* A newcomer behind 200 jobs of big is served within one rotation. */
        enqueue(e, "small");
        order(e, 4, got);
        assert_non_null(strchr(got, 's'));
        /* Strict priority across groups. */
        enqueue_g(e, "big", PRIO_CRITICAL, true, NULL);
        order(e, 1, got);
        assert_int_equal(got[0], 'b');
}

static void stale_head_is_repaired(void **state)
{
        struct env *e = *state;
        int64_t id = enqueue_g(e, "a", PRIO_CRITICAL, true, NULL);
        struct job_vec jv;
        struct job j;
        struct group_rec g = {0};

        enqueue(e, "a");
        enqueue(e, "b");
        /* Cancelling a's critical job leaves a's head at critical: a hint. */
        assert_int_equal(job_cancel(unit_env_begin(e), "default", id, &j), 0);
        unit_env_commit(e);
        job_free(&j);
        /* a is picked first on its stale head, found to hold a normal job only,
         * repaired, and the rotation then serves by served order. */
        claim(e, 2, &jv, NULL);
        assert_int_equal(jv.n, 2);
        assert_string_not_equal(jv.v[0].group, jv.v[1].group);
        job_vec_free(&jv);
        assert_int_equal(e->ops->begin(e->st), 0);
        assert_int_equal(e->ops->group_get(e->st, "default", "q", "a", false, &g), 0);
        assert_int_equal(g.head, -1);
        assert_int_equal(g.running, 1);
        assert_int_equal(e->ops->commit(e->st), 0);
        group_rec_free(&g);
}

/* A group row's running count is stored data: one that says 0 while a job
 * of the group runs (a row written by hand) does not stop the server when
 * the job settles; the settle succeeds and the count stays at 0. */
static void bad_stored_group_count_is_not_fatal(void **state)
{
        struct env *e = *state;
        struct group_rec g = {0};
        struct job_vec jv;

        enqueue(e, "a");
        claim(e, 1, &jv, NULL);
        assert_int_equal(jv.n, 1);
        assert_int_equal(e->ops->begin(e->st), 0);
        assert_int_equal(e->ops->group_get(e->st, "default", "q", "a", true, &g), 0);
        assert_int_equal(g.running, 1);
        g.running = 0;
        assert_int_equal(e->ops->group_put(e->st, &g), 0);
        assert_int_equal(e->ops->commit(e->st), 0);
        group_rec_free(&g);
        settle(e, &jv.v[0], SETTLED_COMPLETE);
        job_vec_free(&jv);
        memset(&g, 0, sizeof(g));
        assert_int_equal(e->ops->begin(e->st), 0);
        if (e->ops->group_get(e->st, "default", "q", "a", false, &g) == 0)
                assert_int_equal(g.running, 0);
        assert_int_equal(e->ops->commit(e->st), 0);
        group_rec_free(&g);
}

static void max_depth_and_defaults(void **state)
{
        struct env *e = *state;
        struct job_vec jv;
        struct job j;
        int64_t id;
        int rc = 0;

        settings(e, QS_MAX_DEPTH, (struct queue_limits){.max_depth = 2});
        id = enqueue(e, NULL);
        enqueue(e, NULL);
        assert_int_equal(enqueue_g(e, NULL, PRIO_NORMAL, true, &rc), 0);
        assert_int_equal(rc, BATON_EBUSY);
        assert_int_equal(limits_of(e).depth, 2);
        /* Timer and cron fires do not check. */
        assert_true(enqueue_g(e, NULL, PRIO_NORMAL, false, &rc) > 0);
        assert_int_equal(limits_of(e).depth, 3);
        /* A cancelled job leaves the count; a retried one comes back. */
        assert_int_equal(job_cancel(unit_env_begin(e), "default", id, &j), 0);
        unit_env_commit(e);
        job_free(&j);
        assert_int_equal(limits_of(e).depth, 2);
        assert_int_equal(job_retry(unit_env_begin(e), "default", id, &j), 0);
        unit_env_commit(e);
        job_free(&j);
        assert_int_equal(limits_of(e).depth, 3);
        claim(e, 1, &jv, NULL);
        settle(e, &jv.v[0], SETTLED_COMPLETE);
        job_vec_free(&jv);
        assert_int_equal(limits_of(e).depth, 2);

        /* Defaults replace what the request left to them, nothing else. */
        {
                struct queue_limits d = {.def_max_attempts = 9, .def_lease_ms = 2500};
                struct enqueue_req req;
                struct enqueue_res res;
                struct verr verr;

                d.def_backoff_set = true;
                d.def_backoff = (struct backoff){BACKOFF_FIXED, 700, 700};
                settings(e, QS_MAX_DEPTH | QS_MAX_ATTEMPTS | QS_LEASE | QS_BACKOFF, d);
                memset(&req, 0, sizeof(req));
                req.job.tenant = strdup("default");
                req.job.queue = strdup("q");
                req.job.type = strdup("t");
                req.job.max_attempts = 2;
                req.dflt_lease = req.dflt_backoff = true;
                assert_int_equal(validate_enqueue(&e->limits, "", &req, &verr), 0);
                assert_int_equal(job_enqueue(unit_env_begin(e), &req, &res), 0);
                unit_env_commit(e);
                assert_int_equal(res.job.max_attempts, 2);
                assert_int_equal(res.job.lease_ms, 2500);
                assert_int_equal(res.job.backoff.type, BACKOFF_FIXED);
                assert_int_equal(res.job.backoff.base_ms, 700);
                job_free(&res.job);
                job_free(&req.job);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            UNIT_ENV_TEST(rate_window_rolls_exactly),
            UNIT_ENV_TEST(concurrency_freed_on_every_exit),
            UNIT_ENV_TEST(group_concurrency_and_group_rate),
            UNIT_ENV_TEST(no_roll_when_concurrency_holds),
            UNIT_ENV_TEST(rotation_is_fair),
            UNIT_ENV_TEST(stale_head_is_repaired),
            UNIT_ENV_TEST(bad_stored_group_count_is_not_fatal),
            UNIT_ENV_TEST(max_depth_and_defaults),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
