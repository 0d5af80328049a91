/*
 * test_deps.c: job dependencies of core/deps.c and core/jobs.c on a real
 * SQLite store with a fake clock: the pure helpers (parent lists as JSON
 * text, the topological order of a flow with cycle detection), a diamond that
 * runs in order, a dead parent cancelling its child and grandchild with
 * parent_failed, the "run" policy, a parent completed before the child was
 * enqueued, an unknown parent refused with its index, a claim carrying the
 * parents' results, and a flow that rolls back as a whole. Large cascades:
 * cancelling the root of a chain of 10,000 and of a fan-out of 10,000 ends
 * every descendant (parent_failed) or releases it (policy "run"), without
 * recursion, in transactions that each take at most DEPS_CASCADE_STEP steps.
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
#include "core/deps.h"
#include "core/jobs.h"
#include "core/validate.h"
#include "store/store.h"
#include "support/unit_env.h"

#define T0 UNIT_ENV_T0_MS

static void fill_req(struct env *e, struct enqueue_req *req, const char *q, const int64_t *deps,
                     int n, int policy)
{
        struct verr verr;

        memset(req, 0, sizeof(*req));
        req->job.tenant = strdup("default");
        req->job.queue = strdup(q);
        req->job.type = strdup("t");
        req->job.payload = strdup("{}");
        req->job.priority = PRIO_NORMAL;
        req->job.max_attempts = 1;
        req->job.backoff.type = BACKOFF_NONE;
        req->job.on_parent_failure = policy;
        if (n) {
                req->depends_on = malloc((size_t)n * sizeof(*deps));
                memcpy(req->depends_on, deps, (size_t)n * sizeof(*deps));
                req->n_depends_on = n;
        }
        assert_int_equal(validate_enqueue(&e->limits, "", req, &verr), 0);
}

static void free_req(struct enqueue_req *req)
{
        job_free(&req->job);
        free(req->depends_on);
}

/* Enqueues on q with parents deps; returns the id (0 on error, *rc set). */
static int64_t enq(struct env *e, const char *q, const int64_t *deps, int n, int policy, int *rc,
                   int *bad)
{
        struct enqueue_req req;
        struct enqueue_res res;
        int64_t id = 0;
        int r;

        fill_req(e, &req, q, deps, n, policy);
        r = job_enqueue(unit_env_begin(e), &req, &res);
        unit_env_end(e, r);
        if (rc)
                *rc = r;
        else
                assert_int_equal(r, 0);
        if (bad)
                *bad = res.bad_dep;
        if (!r)
                id = res.job.id;
        job_free(&res.job);
        free_req(&req);
        return id;
}

static int state_of(struct env *e, int64_t id, char *reason, size_t cap)
{
        struct job j;
        int s;

        assert_int_equal(job_read(unit_env_begin(e), "default", id, &j), 0);
        unit_env_commit(e);
        s = j.state;
        if (reason)
                snprintf(reason, cap, "%s", j.cancel_reason ? j.cancel_reason : "");
        job_free(&j);
        return s;
}

/* Claims at most one job of q; returns its id (0 none), parents text copied. */
static int64_t claim1(struct env *e, const char *q, char *lease, char *parents, size_t cap)
{
        struct claim_req c = {"default", q, "w", 1, 0, NULL, NULL};
        struct job_vec jv = {0};
        int64_t id = 0;

        assert_int_equal(job_claim(unit_env_begin(e), &c, &jv), 0);
        unit_env_commit(e);
        if (jv.n == 1) {
                id = jv.v[0].id;
                snprintf(lease, 64, "%s", jv.v[0].lease);
                if (parents)
                        snprintf(parents, cap, "%s", jv.v[0].parents ? jv.v[0].parents : "");
        }
        job_vec_free(&jv);
        return id;
}

static void settle(struct env *e, int64_t id, const char *lease, bool ok, const char *result)
{
        struct settle_req s = {
            "default",          id,    lease, ok ? SETTLED_COMPLETE : SETTLED_FAIL, result,
            ok ? NULL : "boom", false, -1};
        struct settle_res r;

        assert_int_equal(job_settle(unit_env_begin(e), &s, &r), 0);
        unit_env_commit(e);
        job_free(&r.job);
}

static void test_ids_text(void **state)
{
        int64_t ids[] = {12, 7, 900000000000LL};
        int64_t *back = NULL;
        char *text = NULL;
        int n = 0;

        (void)state;
        assert_int_equal(deps_ids_format(ids, 3, &text), 0);
        assert_string_equal(text, "[\"12\",\"7\",\"900000000000\"]");
        assert_int_equal(deps_ids_parse(text, &back, &n), 0);
        assert_int_equal(n, 3);
        assert_memory_equal(back, ids, sizeof(ids));
        free(back);
        free(text);
        assert_int_equal(deps_ids_parse(NULL, &back, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(parent_policy_parse("run"), PARENT_FAIL_RUN);
        assert_int_equal(parent_policy_parse("cancel"), PARENT_FAIL_CANCEL);
        assert_int_equal(parent_policy_parse("other"), -1);
}

static void test_order(void **state)
{
        /* d(3) <- b(1), c(2) <- a(0), listed children first. */
        int pa[1] = {0}, pd[2] = {1, 2}, none[1] = {0};
        int *parents[4] = {none, pa, pa, pd};
        int np[4] = {0, 1, 1, 2};
        int order[4];
        bool cyc[4];
        int pos[4];

        (void)state;
        assert_int_equal(deps_order(4, parents, np, order, cyc), 0);
        for (int i = 0; i < 4; i++)
                pos[order[i]] = i;
        assert_true(pos[0] < pos[1] && pos[0] < pos[2] && pos[1] < pos[3] && pos[2] < pos[3]);
        /* a -> b -> c -> b: b and c are on the cycle, d (behind it) too. */
        int pb[2] = {0, 2}, pc[1] = {1}, pd2[1] = {2};
        int *p2[4] = {none, pb, pc, pd2};
        int np2[4] = {0, 2, 1, 1};
        assert_int_equal(deps_order(4, p2, np2, order, cyc), BATON_EINVAL);
        assert_false(cyc[0]);
        assert_true(cyc[1] && cyc[2] && cyc[3]);
}

static void test_diamond(void **state)
{
        struct env *e = *state;
        char lease[64], parents[512];
        int64_t a = enq(e, "q", NULL, 0, 0, NULL, NULL);
        int64_t ab[1] = {a};
        int64_t b = enq(e, "q", ab, 1, 0, NULL, NULL);
        int64_t c = enq(e, "q", ab, 1, 0, NULL, NULL);
        int64_t bc[2] = {b, c};
        int64_t d = enq(e, "q", bc, 2, 0, NULL, NULL);

        assert_int_equal(state_of(e, b, NULL, 0), JOB_PENDING);
        assert_int_equal(state_of(e, d, NULL, 0), JOB_PENDING);
        assert_int_equal(claim1(e, "q", lease, NULL, 0), a);
        assert_int_equal(claim1(e, "q", lease + 32, NULL, 0), 0); /* b, c wait */
        settle(e, a, lease, true, "{\"v\":\"a\"}");
        assert_int_equal(state_of(e, b, NULL, 0), JOB_QUEUED);
        assert_int_equal(state_of(e, c, NULL, 0), JOB_QUEUED);
        assert_int_equal(claim1(e, "q", lease, parents, sizeof(parents)), b);
        assert_non_null(strstr(parents, "\"result\":{\"v\":\"a\"}"));
        settle(e, b, lease, true, "1");
        assert_int_equal(state_of(e, d, NULL, 0), JOB_PENDING); /* c not done yet */
        assert_int_equal(claim1(e, "q", lease, NULL, 0), c);
        settle(e, c, lease, true, "2");
        assert_int_equal(claim1(e, "q", lease, parents, sizeof(parents)), d);
        assert_non_null(strstr(parents, "\"result\":1"));
        assert_non_null(strstr(parents, "\"result\":2"));
        settle(e, d, lease, true, NULL);
        /* A parent completed before the child arrives counts as satisfied. */
        int64_t dd[1] = {d};
        int64_t late = enq(e, "q", dd, 1, 0, NULL, NULL);
        assert_int_equal(state_of(e, late, NULL, 0), JOB_QUEUED);
}

static void test_parent_dead(void **state)
{
        struct env *e = *state;
        char lease[64], why[64];
        int64_t a = enq(e, "q", NULL, 0, 0, NULL, NULL);
        int64_t pa[1] = {a};
        int64_t child = enq(e, "q", pa, 1, PARENT_FAIL_CANCEL, NULL, NULL);
        int64_t pc[1] = {child};
        int64_t grand = enq(e, "q", pc, 1, PARENT_FAIL_CANCEL, NULL, NULL);
        int64_t runner = enq(e, "q", pa, 1, PARENT_FAIL_RUN, NULL, NULL);

        assert_int_equal(claim1(e, "q", lease, NULL, 0), a);
        settle(e, a, lease, false, NULL);
        assert_int_equal(state_of(e, a, NULL, 0), JOB_DEAD);
        assert_int_equal(state_of(e, child, why, sizeof(why)), JOB_CANCELLED);
        assert_string_equal(why, "parent_failed");
        assert_int_equal(state_of(e, grand, why, sizeof(why)), JOB_CANCELLED);
        assert_string_equal(why, "parent_failed");
        assert_int_equal(state_of(e, runner, NULL, 0), JOB_QUEUED);
        /* Enqueued after the parent died: cancelled at once, or run. */
        int64_t late = enq(e, "q", pa, 1, PARENT_FAIL_CANCEL, NULL, NULL);
        assert_int_equal(state_of(e, late, why, sizeof(why)), JOB_CANCELLED);
        int64_t late_run = enq(e, "q", pa, 1, PARENT_FAIL_RUN, NULL, NULL);
        assert_int_equal(state_of(e, late_run, NULL, 0), JOB_QUEUED);
}

static void test_run_policy_waits_for_all(void **state)
{
        struct env *e = *state;
        int64_t a = enq(e, "q", NULL, 0, 0, NULL, NULL);
        int64_t b = enq(e, "q", NULL, 0, 0, NULL, NULL);
        int64_t ab[2] = {a, b};
        int64_t child = enq(e, "q", ab, 2, PARENT_FAIL_RUN, NULL, NULL);
        struct job j;

        assert_int_equal(job_cancel(unit_env_begin(e), "default", a, &j), 0);
        unit_env_commit(e);
        job_free(&j);
        assert_int_equal(state_of(e, child, NULL, 0), JOB_PENDING); /* b still queued */
        assert_int_equal(job_cancel(unit_env_begin(e), "default", b, &j), 0);
        unit_env_commit(e);
        job_free(&j);
        assert_int_equal(state_of(e, child, NULL, 0), JOB_QUEUED);
}

static void test_unknown_parent(void **state)
{
        struct env *e = *state;
        int64_t a = enq(e, "q", NULL, 0, 0, NULL, NULL);
        int64_t bad[2] = {a, a + 1000};
        int rc = 0, idx = -1;

        assert_int_equal(enq(e, "q", bad, 2, 0, &rc, &idx), 0);
        assert_int_equal(rc, BATON_EINVAL);
        assert_int_equal(idx, 1);
}

static void test_flow_rolls_back(void **state)
{
        struct env *e = *state;
        struct flow_item items[2];
        struct enqueue_res res[2];
        int order[2] = {0, 1};
        struct flow_req req = {"default", NULL, 2, items, order};
        struct flow_res out = {.jobs = res};
        struct job_filter f = {.tenant = "default", .queue = "fq", .state = -1, .limit = 100};
        struct job_vec jv = {0};
        int rc;

        memset(items, 0, sizeof(items));
        memset(res, 0, sizeof(res));
        for (int i = 0; i < 2; i++) {
                fill_req(e, &items[i].req, "fq", NULL, 0, 0);
                items[i].ref = strdup(i ? "b" : "a");
                items[i].dep_ref = calloc(1, sizeof(int));
                items[i].dep_id = calloc(1, sizeof(int64_t));
        }
        items[1].n_deps = 1;
        items[1].dep_ref[0] = -1;
        items[1].dep_id[0] = 999999; /* no such job */
        rc = flow_create(unit_env_begin(e), &req, &out);
        assert_int_equal(rc, BATON_EINVAL);
        assert_int_equal(out.failed, 1);
        assert_int_equal(out.bad_dep, 0);
        unit_env_rollback(e);
        assert_int_equal(job_query(unit_env_begin(e), &f, &jv), 0);
        unit_env_commit(e);
        assert_int_equal(jv.n, 0);
        job_vec_free(&jv);
        for (int i = 0; i < 2; i++) {
                job_free(&res[i].job);
                flow_item_free(&items[i]);
        }
}

/* ---- large cascades (core/deps.h): iterative, bounded per transaction ---- */

#define BIG 10000

/* Enqueues n jobs on q in one transaction: a chain (each job depends on the
 * one before, the first on nothing) or, with fan, n - 1 children of the
 * first. Fills ids[0..n). */
static void enq_many(struct env *e, const char *q, int n, bool fan, int policy, int64_t *ids)
{
        struct txn *tx = unit_env_begin(e);

        for (int i = 0; i < n; i++) {
                struct enqueue_req req;
                struct enqueue_res res;
                int64_t parent = i == 0 ? 0 : fan ? ids[0] : ids[i - 1];

                fill_req(e, &req, q, &parent, i == 0 ? 0 : 1, policy);
                assert_int_equal(job_enqueue(tx, &req, &res), 0);
                ids[i] = res.job.id;
                job_free(&res.job);
                free_req(&req);
        }
        unit_env_commit(e);
}

static void counts_of(struct env *e, const char *q, struct queue_counts *c)
{
        memset(c, 0, sizeof(*c));
        assert_int_equal(e->ops->queue_counts(unit_env_begin(e)->st, "default", q, c), 0);
        unit_env_commit(e);
}

/* Runs leader ticks until one says nothing is left (at most max of them);
 * returns how many ran. */
static int tick_until_done(struct env *e, int max)
{
        int n = 0;

        for (bool more = true; more && n < max; n++) {
                struct tick_res r;
                assert_int_equal(job_tick(unit_env_begin(e), &r), 0);
                unit_env_commit(e);
                more = r.more;
        }
        return n;
}

/* Every cancelled job of q says why: root "cancelled", the others
 * parent_failed; returns how many there are. */
static int check_reasons(struct env *e, const char *q, int64_t root)
{
        struct job_filter f = {
            .tenant = "default", .queue = q, .state = JOB_CANCELLED, .limit = 500};
        int total = 0;

        for (int page = 0; page < 100; page++) {
                struct job_vec jv = {0};
                assert_int_equal(job_query(unit_env_begin(e), &f, &jv), 0);
                unit_env_commit(e);
                for (int i = 0; i < jv.n; i++)
                        assert_string_equal(jv.v[i].cancel_reason,
                                            jv.v[i].id == root ? "cancelled" : "parent_failed");
                total += jv.n;
                if (jv.n > 0)
                        f.after_id = jv.v[jv.n - 1].id;
                job_vec_free(&jv);
                if (f.after_id == 0 || total % 500 != 0)
                        break;
        }
        return total;
}

static void cancel_root(struct env *e, int64_t id)
{
        struct job j;

        assert_int_equal(job_cancel(unit_env_begin(e), "default", id, &j), 0);
        unit_env_commit(e);
        job_free(&j);
}

/* A chain of 10,000 (the probe's crash: the cascade recursed once per link and
 * overflowed the stack). Cancelling its root ends every link, parent_failed. */
static void test_cancel_chain_10000(void **state)
{
        struct env *e = *state;
        int64_t *ids = malloc(BIG * sizeof(*ids));
        struct queue_counts c;

        enq_many(e, "chain", BIG, false, PARENT_FAIL_CANCEL, ids);
        cancel_root(e, ids[0]);
        tick_until_done(e, 200);
        counts_of(e, "chain", &c);
        assert_int_equal(c.by_state[JOB_CANCELLED], BIG);
        assert_int_equal(check_reasons(e, "chain", ids[0]), BIG);
        free(ids);
}

/* A fan-out of 10,000 children of one root: all cancelled, parent_failed. */
static void test_cancel_fanout_10000(void **state)
{
        struct env *e = *state;
        int64_t *ids = malloc((BIG + 1) * sizeof(*ids));
        struct queue_counts c;

        enq_many(e, "fan", BIG + 1, true, PARENT_FAIL_CANCEL, ids);
        cancel_root(e, ids[0]);
        tick_until_done(e, 200);
        counts_of(e, "fan", &c);
        assert_int_equal(c.by_state[JOB_CANCELLED], BIG + 1);
        assert_int_equal(check_reasons(e, "fan", ids[0]), BIG + 1);
        free(ids);
}

/* on_parent_failure "run": the 10,000 children are released (queued), not
 * cancelled; in a chain of "run" jobs the first link runs and the next waits
 * for it. */
static void test_cancel_releases_run_children(void **state)
{
        struct env *e = *state;
        int64_t *ids = malloc((BIG + 1) * sizeof(*ids));
        struct queue_counts c;

        enq_many(e, "runfan", BIG + 1, true, PARENT_FAIL_RUN, ids);
        cancel_root(e, ids[0]);
        tick_until_done(e, 200);
        counts_of(e, "runfan", &c);
        assert_int_equal(c.by_state[JOB_CANCELLED], 1);
        assert_int_equal(c.by_state[JOB_QUEUED], BIG);
        enq_many(e, "runchain", 3000, false, PARENT_FAIL_RUN, ids);
        cancel_root(e, ids[0]);
        tick_until_done(e, 200);
        assert_int_equal(state_of(e, ids[1], NULL, 0), JOB_QUEUED);
        assert_int_equal(state_of(e, ids[2], NULL, 0), JOB_PENDING);
        free(ids);
}

/* One transaction takes at most DEPS_CASCADE_STEP steps of a cascade, so it
 * ends fewer descendants than that; the rest is left for the leader's ticks,
 * each bounded the same way, which finish it. */
static void test_cascade_is_bounded_per_transaction(void **state)
{
        struct env *e = *state;
        int n = 5 * DEPS_CASCADE_STEP;
        int64_t *ids = malloc((size_t)(n + 1) * sizeof(*ids));
        struct queue_counts c;
        int64_t before;
        struct tick_res r;

        enq_many(e, "fan", n + 1, true, PARENT_FAIL_CANCEL, ids);
        cancel_root(e, ids[0]);
        counts_of(e, "fan", &c);
        assert_true(c.by_state[JOB_CANCELLED] > 1);
        assert_true(c.by_state[JOB_CANCELLED] <= 1 + DEPS_CASCADE_STEP);
        assert_int_equal(c.by_state[JOB_CANCELLED] + c.by_state[JOB_PENDING], n + 1);
        /* The leader is due at once, and its tick is bounded too. */
        assert_int_equal(job_tick(unit_env_begin(e), &r), 0);
        unit_env_commit(e);
        assert_true(r.more);
        before = c.by_state[JOB_CANCELLED];
        counts_of(e, "fan", &c);
        assert_true(c.by_state[JOB_CANCELLED] > before);
        assert_true(c.by_state[JOB_CANCELLED] - before <= DEPS_CASCADE_STEP);
        assert_true(c.by_state[JOB_PENDING] > 0);
        assert_true(tick_until_done(e, 100) < 100);
        counts_of(e, "fan", &c);
        assert_int_equal(c.by_state[JOB_CANCELLED], n + 1);
        /* Nothing is left to do: the next deadline is not "now". */
        assert_int_equal(job_tick(unit_env_begin(e), &r), 0);
        unit_env_commit(e);
        assert_false(r.more);
        assert_true(r.next_ms == 0 || r.next_ms > e->tx.now_ms);
        free(ids);
}

/* A dead parent whose cascade is still in the work list is kept by the
 * dead-letter purge: its children must find it dead (and be cancelled), not
 * find it gone (which counts as completed and would run them). Once the
 * cascade is done, the purge takes it. */
static void test_dead_purge_waits_for_the_cascade(void **state)
{
        struct env *e = *state;
        int n = 3 * DEPS_CASCADE_STEP;
        int64_t *ids = malloc((size_t)(n + 1) * sizeof(*ids));
        struct queue_counts c;
        char lease[64];
        int purged = -1;

        enq_many(e, "dl", n + 1, true, PARENT_FAIL_CANCEL, ids);
        assert_int_equal(claim1(e, "dl", lease, NULL, 0), ids[0]);
        settle(e, ids[0], lease, false, NULL);
        assert_int_equal(state_of(e, ids[0], NULL, 0), JOB_DEAD);
        assert_int_equal(dead_purge(unit_env_begin(e), "default", "dl", &purged), 0);
        unit_env_commit(e);
        assert_int_equal(purged, 0);
        assert_int_equal(state_of(e, ids[0], NULL, 0), JOB_DEAD);
        tick_until_done(e, 100);
        counts_of(e, "dl", &c);
        assert_int_equal(c.by_state[JOB_CANCELLED], n);
        assert_int_equal(c.by_state[JOB_QUEUED], 0);
        assert_int_equal(dead_purge(unit_env_begin(e), "default", "dl", &purged), 0);
        unit_env_commit(e);
        assert_int_equal(purged, 1);
        free(ids);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ids_text),
            cmocka_unit_test(test_order),
            UNIT_ENV_TEST(test_diamond),
            UNIT_ENV_TEST(test_parent_dead),
            UNIT_ENV_TEST(test_run_policy_waits_for_all),
            UNIT_ENV_TEST(test_unknown_parent),
            UNIT_ENV_TEST(test_flow_rolls_back),
            UNIT_ENV_TEST(test_cancel_chain_10000),
            UNIT_ENV_TEST(test_cancel_fanout_10000),
            UNIT_ENV_TEST(test_cancel_releases_run_children),
            UNIT_ENV_TEST(test_cascade_is_bounded_per_transaction),
            UNIT_ENV_TEST(test_dead_purge_waits_for_the_cascade),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
