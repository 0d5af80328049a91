/*
 * test_jobs.c: the job semantics of core/jobs.c on a real SQLite store with a
 * fake clock, so time-dependent behaviour (backoff, lease expiry, delayed jobs,
 * retention, idempotency TTL) is tested exactly and instantly. Each test opens
 * a fresh store in a temporary directory.
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

#include <jansson.h>

#include "baton/baton.h"
#include "common/clock.h"
#include "core/jobs.h"
#include "core/validate.h"
#include "store/store.h"

#define T0 1795424452000LL

struct env {
	char dir[64];
	struct store *st;
	const struct store_ops *ops;
	struct clock_fake clock;
	struct limits limits;
	struct txn tx;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct store_opts o = {0};

	snprintf(e->dir, sizeof(e->dir), "/tmp/baton-unit-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	o.uri = e->dir;
	o.sync_full = false;
	o.busy_timeout_ms = 1000;
	e->ops = &store_sqlite_ops;
	assert_int_equal(e->ops->open(&o, &e->st), 0);
	clock_fake_init(&e->clock, T0);
	limits_default(&e->limits);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	e->ops->close(e->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

static struct txn *begin(struct env *e)
{
	memset(&e->tx, 0, sizeof(e->tx));
	e->tx.st = e->st;
	e->tx.ops = e->ops;
	e->tx.clock = &e->clock.clock;
	e->tx.limits = &e->limits;
	e->tx.now_ms = clock_wall_ms(&e->clock.clock);
	assert_int_equal(e->ops->begin(e->st), 0);
	return &e->tx;
}

static void commit(struct env *e)
{
	assert_int_equal(e->ops->commit(e->st), 0);
	txn_effects_free(&e->tx.fx);
}

/* Enqueues a job on queue q with the given payload; returns its id. */
static int64_t enqueue_full(struct env *e, const char *q, int prio, int64_t delay_ms,
			    const char *idem, const char *key, bool replace, int *rc_out,
			    struct enqueue_res *res_out)
{
	struct enqueue_req req;
	struct enqueue_res res;
	struct verr verr;
	int64_t id = 0;
	int rc;

	memset(&req, 0, sizeof(req));
	req.job.tenant = strdup("default");
	req.job.queue = strdup(q);
	req.job.type = strdup("t");
	req.job.payload = strdup("{\"n\":1}");
	req.job.priority = prio;
	req.job.idempotency_key = idem ? strdup(idem) : NULL;
	req.job.key = key ? strdup(key) : NULL;
	req.job.backoff.type = BACKOFF_EXPONENTIAL;
	req.delay_ms = delay_ms;
	req.on_key_replace = replace;
	snprintf(req.payload_hash, sizeof(req.payload_hash), "%s", "h1");
	assert_int_equal(validate_enqueue(&e->limits, "", &req, &verr), 0);
	rc = job_enqueue(begin(e), &req, &res);
	commit(e);
	if (rc_out)
		*rc_out = rc;
	if (!rc)
		id = res.job.id;
	if (res_out && !rc)
		*res_out = res;
	else if (!rc)
		job_free(&res.job);
	job_free(&req.job);
	return id;
}

static int64_t enqueue(struct env *e, const char *q, int prio, int64_t delay_ms)
{
	return enqueue_full(e, q, prio, delay_ms, NULL, NULL, false, NULL, NULL);
}

static void claim(struct env *e, const char *q, int max, int64_t lease_ms, struct job_vec *out)
{
	struct claim_req c = {"default", q, "w1", max, lease_ms};

	memset(out, 0, sizeof(*out));
	assert_int_equal(job_claim(begin(e), &c, out), 0);
	commit(e);
}

static int settle(struct env *e, int64_t id, const char *lease, int outcome, bool retryable,
		  struct settle_res *res)
{
	struct settle_req s = {"default", id, lease, outcome, "{\"ok\":true}", "boom", retryable, -1};
	struct settle_res tmp;
	int rc = job_settle(begin(e), &s, res ? res : &tmp);

	if (rc) {
		assert_int_equal(e->ops->rollback(e->st), 0);
		txn_effects_free(&e->tx.fx);
	} else {
		commit(e);
	}
	if (!res && !rc)
		job_free(&tmp.job);
	return rc;
}

static struct job get(struct env *e, int64_t id)
{
	struct job j = {0};

	assert_int_equal(job_read(begin(e), "default", id, &j), 0);
	commit(e);
	return j;
}

static struct tick_res tick(struct env *e)
{
	struct tick_res r;

	assert_int_equal(job_tick(begin(e), &r), 0);
	commit(e);
	return r;
}

static void complete_once_and_repeat(void **state)
{
	struct env *e = *state;
	int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
	struct job_vec jv;
	struct settle_res r;
	char lease[64];
	struct job j;

	claim(e, "q", 10, 0, &jv);
	assert_int_equal(jv.n, 1);
	assert_int_equal(jv.v[0].id, id);
	assert_int_equal(jv.v[0].state, JOB_RUNNING);
	assert_int_equal(jv.v[0].attempt, 1);
	assert_int_equal(jv.v[0].lease_until_ms, T0 + 30000);
	snprintf(lease, sizeof(lease), "%s", jv.v[0].lease);
	job_vec_free(&jv);

	assert_int_equal(settle(e, id, "not-the-lease", SETTLED_COMPLETE, true, NULL), BATON_ELEASE);
	assert_int_equal(settle(e, id, lease, SETTLED_COMPLETE, true, &r), 0);
	assert_false(r.repeat);
	assert_int_equal(r.job.state, JOB_COMPLETED);
	job_free(&r.job);
	/* The same call again (a lost answer) gets the first answer. */
	assert_int_equal(settle(e, id, lease, SETTLED_COMPLETE, true, &r), 0);
	assert_true(r.repeat);
	job_free(&r.job);
	assert_int_equal(settle(e, id, lease, SETTLED_FAIL, true, NULL), BATON_ECONFLICT);

	j = get(e, id);
	assert_int_equal(j.state, JOB_COMPLETED);
	assert_string_equal(j.result, "{\"ok\":true}");
	assert_non_null(strstr(j.attempts, "\"outcome\":\"completed\""));
	job_free(&j);
}

static void fail_retries_with_backoff_then_dead(void **state)
{
	struct env *e = *state;
	int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
	struct job_vec jv;
	struct job j;
	char first[64];

	claim(e, "q", 1, 0, &jv);
	snprintf(first, sizeof(first), "%s", jv.v[0].lease);
	assert_int_equal(settle(e, id, first, SETTLED_FAIL, true, NULL), 0);
	job_vec_free(&jv);
	j = get(e, id);
	assert_int_equal(j.state, JOB_RETRYING);
	assert_true(j.run_at_ms >= T0 + 500 && j.run_at_ms <= T0 + 1000);
	assert_string_equal(j.last_error, "boom");
	job_free(&j);

	/* Not ready before its backoff has passed. */
	assert_int_equal(tick(e).promoted, 0);
	claim(e, "q", 1, 0, &jv);
	assert_int_equal(jv.n, 0);
	job_vec_free(&jv);
	clock_fake_advance_ms(&e->clock, 1000);
	assert_int_equal(tick(e).promoted, 1);

	claim(e, "q", 1, 0, &jv);
	assert_int_equal(jv.n, 1);
	assert_int_equal(jv.v[0].attempt, 2);
	assert_string_not_equal(jv.v[0].lease, first);
	/* The first attempt's token can no longer settle anything. */
	assert_int_equal(settle(e, id, first, SETTLED_COMPLETE, true, NULL), BATON_ELEASE);
	/* Not retryable: straight to dead. */
	assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_FAIL, false, NULL), 0);
	job_vec_free(&jv);
	j = get(e, id);
	assert_int_equal(j.state, JOB_DEAD);
	assert_int_equal(j.finished_at_ms, T0 + 1000);
	job_free(&j);
}

static void lease_expiry_counts_as_failure(void **state)
{
	struct env *e = *state;
	struct enqueue_res res;
	struct job_vec jv;
	char first[64];
	struct tick_res t;
	struct job j;
	int64_t id;

	id = enqueue_full(e, "q", PRIO_NORMAL, 0, NULL, NULL, false, NULL, &res);
	job_free(&res.job);
	claim(e, "q", 1, 1000, &jv);
	snprintf(first, sizeof(first), "%s", jv.v[0].lease);
	job_vec_free(&jv);

	t = tick(e);
	assert_int_equal(t.expired, 0);
	assert_int_equal(t.next_ms, T0 + 1000);
	clock_fake_advance_ms(&e->clock, 1000);
	/* At the deadline a settle is refused: the attempt belongs to the reaper. */
	assert_int_equal(settle(e, id, first, SETTLED_COMPLETE, true, NULL), BATON_EEXPIRED);
	t = tick(e);
	assert_int_equal(t.expired, 1);
	j = get(e, id);
	assert_int_equal(j.state, JOB_RETRYING);
	assert_string_equal(j.last_error, "lease expired");
	assert_non_null(strstr(j.attempts, "\"outcome\":\"lease_expired\""));
	job_free(&j);
	assert_int_equal(settle(e, id, first, SETTLED_COMPLETE, true, NULL), BATON_EEXPIRED);
}

static void lease_expiry_exhausts_attempts(void **state)
{
	struct env *e = *state;
	int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
	struct job_vec jv;
	struct job j;

	for (int attempt = 1; attempt <= 4; attempt++) {
		clock_fake_advance_ms(&e->clock, 400000);
		tick(e);
		claim(e, "q", 1, 1000, &jv);
		assert_int_equal(jv.n, 1);
		assert_int_equal(jv.v[0].attempt, attempt);
		job_vec_free(&jv);
		clock_fake_advance_ms(&e->clock, 1000);
		assert_int_equal(tick(e).expired, 1);
	}
	j = get(e, id);
	assert_int_equal(j.state, JOB_DEAD);
	assert_int_equal(j.attempt, 4);
	job_free(&j);
}

static void priority_then_fifo(void **state)
{
	struct env *e = *state;
	int64_t low = enqueue(e, "q", PRIO_LOW, 0);
	int64_t n1 = enqueue(e, "q", PRIO_NORMAL, 0);
	int64_t crit = enqueue(e, "q", PRIO_CRITICAL, 0);
	int64_t n2 = enqueue(e, "q", PRIO_NORMAL, 0);
	struct job_vec jv;

	claim(e, "q", 10, 0, &jv);
	assert_int_equal(jv.n, 4);
	assert_int_equal(jv.v[0].id, crit);
	assert_int_equal(jv.v[1].id, n1);
	assert_int_equal(jv.v[2].id, n2);
	assert_int_equal(jv.v[3].id, low);
	job_vec_free(&jv);
}

static void delayed_job_becomes_ready_on_time(void **state)
{
	struct env *e = *state;
	int64_t id = enqueue(e, "q", PRIO_NORMAL, 5000);
	struct job_vec jv;
	struct tick_res t;
	struct job j = get(e, id);

	assert_int_equal(j.state, JOB_SCHEDULED);
	assert_int_equal(j.run_at_ms, T0 + 5000);
	job_free(&j);
	t = tick(e);
	assert_int_equal(t.next_ms, T0 + 5000);
	claim(e, "q", 1, 0, &jv);
	assert_int_equal(jv.n, 0);
	job_vec_free(&jv);
	clock_fake_advance_ms(&e->clock, 5000);
	assert_int_equal(job_tick(begin(e), &t), 0);
	assert_int_equal(t.promoted, 1);
	assert_int_equal(e->tx.fx.ready_n, 1);
	assert_string_equal(e->tx.fx.ready[0].queue, "q");
	commit(e);
	claim(e, "q", 1, 0, &jv);
	assert_int_equal(jv.n, 1);
	job_vec_free(&jv);
}

static void idempotency_key(void **state)
{
	struct env *e = *state;
	struct enqueue_res res;
	int rc;
	int64_t a = enqueue_full(e, "q", PRIO_NORMAL, 0, "k1", NULL, false, &rc, NULL);
	int64_t b = enqueue_full(e, "q", PRIO_NORMAL, 0, "k1", NULL, false, &rc, &res);

	assert_int_equal(rc, 0);
	assert_int_equal(a, b);
	assert_true(res.duplicate);
	job_free(&res.job);

	/* The same key with another payload hash is a conflict. */
	{
		struct enqueue_req req;
		struct enqueue_res r2;
		struct verr v;
		memset(&req, 0, sizeof(req));
		req.job.tenant = strdup("default");
		req.job.queue = strdup("q");
		req.job.type = strdup("t");
		req.job.idempotency_key = strdup("k1");
		snprintf(req.payload_hash, sizeof(req.payload_hash), "h2");
		assert_int_equal(validate_enqueue(&e->limits, "", &req, &v), 0);
		assert_int_equal(job_enqueue(begin(e), &req, &r2), BATON_EIDEM);
		commit(e);
		job_free(&req.job);
	}
	/* After the TTL and a purge, the key creates a new job. */
	clock_fake_advance_ms(&e->clock, e->limits.idempotency_ttl_ms + 1);
	tick(e);
	b = enqueue_full(e, "q", PRIO_NORMAL, 0, "k1", NULL, false, &rc, NULL);
	assert_int_equal(rc, 0);
	assert_true(b != a);
}

static void dedup_key_keep_and_replace(void **state)
{
	struct env *e = *state;
	struct enqueue_res res;
	struct job_vec jv;
	int rc;
	int64_t a = enqueue_full(e, "q", PRIO_NORMAL, 60000, NULL, "match-7", false, &rc, NULL);
	int64_t b = enqueue_full(e, "q", PRIO_NORMAL, 60000, NULL, "match-7", false, &rc, &res);

	assert_int_equal(a, b);
	assert_true(res.duplicate);
	assert_int_equal(res.job.version, 1);
	job_free(&res.job);

	b = enqueue_full(e, "q", PRIO_HIGH, 0, NULL, "match-7", true, &rc, &res);
	assert_int_equal(a, b);
	assert_true(res.replaced);
	assert_int_equal(res.job.version, 2);
	assert_int_equal(res.job.state, JOB_QUEUED);
	assert_int_equal(res.job.priority, PRIO_HIGH);
	job_free(&res.job);

	/* Once running, the key is free for a new pending job. */
	claim(e, "q", 1, 0, &jv);
	assert_int_equal(jv.n, 1);
	job_vec_free(&jv);
	b = enqueue_full(e, "q", PRIO_NORMAL, 0, NULL, "match-7", false, &rc, NULL);
	assert_int_equal(rc, 0);
	assert_true(b != a);
}

static void cancel_paths(void **state)
{
	struct env *e = *state;
	int64_t queued = enqueue(e, "q", PRIO_LOW, 0);
	int64_t running = enqueue(e, "q", PRIO_CRITICAL, 0);
	struct job_vec jv;
	struct job j = {0};

	claim(e, "q", 1, 0, &jv);
	assert_int_equal(jv.v[0].id, running);

	assert_int_equal(job_cancel(begin(e), "default", queued, &j), 0);
	commit(e);
	assert_int_equal(j.state, JOB_CANCELLED);
	assert_string_equal(j.cancel_reason, "cancelled");
	job_free(&j);
	assert_int_equal(job_cancel(begin(e), "default", queued, &j), BATON_ESTATE);
	commit(e);
	job_free(&j);

	assert_int_equal(job_cancel(begin(e), "default", running, &j), 0);
	commit(e);
	assert_int_equal(j.state, JOB_RUNNING);
	assert_true(j.cancel_requested);
	job_free(&j);

	/* The worker hears of it on heartbeat, then its failure cancels the job. */
	{
		struct heartbeat_req h = {"default", running, jv.v[0].lease, 0, NULL, NULL};
		assert_int_equal(job_heartbeat(begin(e), &h, &j), 0);
		commit(e);
		assert_true(j.cancel_requested);
		job_free(&j);
	}
	assert_int_equal(settle(e, running, jv.v[0].lease, SETTLED_FAIL, true, NULL), 0);
	job_vec_free(&jv);
	j = get(e, running);
	assert_int_equal(j.state, JOB_CANCELLED);
	job_free(&j);

	assert_int_equal(job_cancel(begin(e), "other-tenant", running, &j), BATON_ENOTFOUND);
	commit(e);
}

static void retry_and_replay(void **state)
{
	struct env *e = *state;
	int64_t a = enqueue(e, "q", PRIO_NORMAL, 0);
	int64_t b = enqueue(e, "q", PRIO_NORMAL, 0);
	struct job_vec jv;
	struct job j = {0};
	int count = 0;

	claim(e, "q", 2, 0, &jv);
	for (int i = 0; i < 2; i++)
		assert_int_equal(settle(e, jv.v[i].id, jv.v[i].lease, SETTLED_FAIL, false, NULL), 0);
	job_vec_free(&jv);

	assert_int_equal(job_retry(begin(e), "default", a, &j), 0);
	commit(e);
	assert_int_equal(j.state, JOB_QUEUED);
	assert_int_equal(j.attempt, 0);
	assert_null(j.lease);
	job_free(&j);
	assert_int_equal(job_retry(begin(e), "default", a, &j), BATON_ESTATE);
	commit(e);
	job_free(&j);

	/* Replay by id ignores jobs that are not dead in this queue. */
	{
		int64_t ids[] = {a, b, 999};
		assert_int_equal(dead_replay(begin(e), "default", "q", ids, 3, false, &count), 0);
		commit(e);
		assert_int_equal(count, 1);
	}
	claim(e, "q", 2, 0, &jv);
	assert_int_equal(jv.n, 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(settle(e, jv.v[i].id, jv.v[i].lease, SETTLED_FAIL, false, NULL), 0);
	job_vec_free(&jv);
	assert_int_equal(dead_replay(begin(e), "default", "q", NULL, 0, true, &count), 0);
	commit(e);
	assert_int_equal(count, 2);
	claim(e, "q", 2, 0, &jv);
	for (int i = 0; i < jv.n; i++)
		assert_int_equal(settle(e, jv.v[i].id, jv.v[i].lease, SETTLED_FAIL, false, NULL), 0);
	job_vec_free(&jv);
	assert_int_equal(dead_purge(begin(e), "default", "q", &count), 0);
	commit(e);
	assert_int_equal(count, 2);
	assert_int_equal(job_read(begin(e), "default", a, &j), BATON_ENOTFOUND);
	commit(e);
}

static void heartbeat_extends_and_logs_steps(void **state)
{
	struct env *e = *state;
	int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
	struct job_vec jv;
	struct job j = {0};
	json_t *steps;

	claim(e, "q", 1, 2000, &jv);
	{
		struct heartbeat_req h = {"default", id, jv.v[0].lease, 5000,
					  "{\"percent\":10,\"step\":\"fetch\"}", "fetch"};
		clock_fake_advance_ms(&e->clock, 1500);
		assert_int_equal(job_heartbeat(begin(e), &h, &j), 0);
		commit(e);
		assert_int_equal(j.lease_until_ms, T0 + 1500 + 5000);
		job_free(&j);
		h.step = "render";
		h.progress = "{\"percent\":60,\"step\":\"render\"}";
		clock_fake_advance_ms(&e->clock, 1000);
		assert_int_equal(job_heartbeat(begin(e), &h, &j), 0);
		commit(e);
		job_free(&j);
		/* Past the lease, the heartbeat is refused. */
		clock_fake_advance_ms(&e->clock, 6000);
		assert_int_equal(job_heartbeat(begin(e), &h, &j), BATON_EEXPIRED);
		commit(e);
		job_free(&j);
	}
	job_vec_free(&jv);
	j = get(e, id);
	assert_string_equal(j.progress, "{\"percent\":60,\"step\":\"render\"}");
	steps = json_loads(j.steps, 0, NULL);
	assert_int_equal(json_array_size(steps), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 0), "step")),
			    "fetch");
	assert_true(json_is_string(json_object_get(json_array_get(steps, 0), "finished_at")));
	assert_true(json_is_null(json_object_get(json_array_get(steps, 1), "finished_at")));
	json_decref(steps);
	job_free(&j);
}

static void retention_purges_finished_jobs(void **state)
{
	struct env *e = *state;
	int64_t id = enqueue(e, "q", PRIO_NORMAL, 0);
	struct job_vec jv;
	struct tick_res t;
	struct job j = {0};

	claim(e, "q", 1, 0, &jv);
	assert_int_equal(settle(e, id, jv.v[0].lease, SETTLED_COMPLETE, true, NULL), 0);
	job_vec_free(&jv);
	t = tick(e);
	assert_int_equal(t.purged, 0);
	assert_int_equal(t.next_ms, T0 + e->limits.completed_ttl_ms);
	clock_fake_advance_ms(&e->clock, e->limits.completed_ttl_ms + 1);
	t = tick(e);
	assert_int_equal(t.purged, 1);
	assert_int_equal(job_read(begin(e), "default", id, &j), BATON_ENOTFOUND);
	commit(e);
}

static void paused_queue_hands_out_nothing(void **state)
{
	struct env *e = *state;
	struct queue_info qi;
	struct job_vec jv;

	enqueue(e, "q", PRIO_NORMAL, 0);
	assert_int_equal(queue_set_paused(begin(e), "default", "q", true, &qi), 0);
	commit(e);
	assert_true(qi.rec.paused);
	assert_int_equal(qi.counts.by_state[JOB_QUEUED], 1);
	queue_info_free(&qi);
	claim(e, "q", 1, 0, &jv);
	assert_int_equal(jv.n, 0);
	job_vec_free(&jv);
	assert_int_equal(queue_set_paused(begin(e), "default", "q", false, &qi), 0);
	assert_int_equal(e->tx.fx.ready_n, 1);
	commit(e);
	queue_info_free(&qi);
	claim(e, "q", 1, 0, &jv);
	assert_int_equal(jv.n, 1);
	job_vec_free(&jv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(complete_once_and_repeat, setup, teardown),
		cmocka_unit_test_setup_teardown(fail_retries_with_backoff_then_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(lease_expiry_counts_as_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(lease_expiry_exhausts_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(priority_then_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(delayed_job_becomes_ready_on_time, setup, teardown),
		cmocka_unit_test_setup_teardown(idempotency_key, setup, teardown),
		cmocka_unit_test_setup_teardown(dedup_key_keep_and_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(retry_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(heartbeat_extends_and_logs_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(retention_purges_finished_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(paused_queue_hands_out_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
