/*
 * test_validate.c: unit tests of input validation (each limit answers with its
 * own code and field, defaults are filled) and of the retry backoff (growth,
 * cap, jitter bounds, policies without retries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "baton/baton.h"
#include "core/jobs.h"
#include "core/limits.h"
#include "core/validate.h"

static struct limits L;

static void req_init(struct enqueue_req *r)
{
	memset(r, 0, sizeof(*r));
	r->job.queue = "emails";
	r->job.type = "welcome";
	r->job.payload = "{}";
	r->job.priority = PRIO_NORMAL;
}

static void defaults_are_filled(void **state)
{
	struct enqueue_req r;
	struct verr e;

	(void)state;
	req_init(&r);
	assert_int_equal(validate_enqueue(&L, "", &r, &e), 0);
	assert_int_equal(r.job.max_attempts, 4);
	assert_int_equal(r.job.lease_ms, 30000);
	assert_int_equal(r.job.backoff.type, BACKOFF_EXPONENTIAL);
	assert_int_equal(r.job.backoff.base_ms, 1000);
	assert_int_equal(r.job.backoff.max_ms, 300000);
}

static void names_are_checked(void **state)
{
	struct enqueue_req r;
	struct verr e;
	char long_name[200];

	(void)state;
	memset(long_name, 'q', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;

	req_init(&r);
	r.job.queue = long_name;
	assert_int_equal(validate_enqueue(&L, "jobs[3]", &r, &e), BATON_EINVAL);
	assert_string_equal(e.code, "name_too_long");
	assert_string_equal(e.field, "jobs[3].queue");
	assert_int_equal(e.status, 400);

	req_init(&r);
	r.job.type = "has space";
	assert_int_equal(validate_enqueue(&L, "", &r, &e), BATON_EINVAL);
	assert_string_equal(e.code, "name_invalid");
	assert_string_equal(e.field, "type");

	req_init(&r);
	r.job.queue = NULL;
	assert_int_equal(validate_enqueue(&L, "", &r, &e), BATON_EINVAL);
	assert_string_equal(e.code, "missing_field");

	req_init(&r);
	r.job.idempotency_key = "tab\there";
	assert_int_equal(validate_enqueue(&L, "", &r, &e), BATON_EINVAL);
	assert_string_equal(e.code, "key_invalid");
	assert_string_equal(e.field, "idempotency_key");
}

static void ranges_are_checked(void **state)
{
	struct enqueue_req r;
	struct verr e;

	(void)state;
	req_init(&r);
	r.delay_ms = L.delay_max_ms + 1;
	assert_int_equal(validate_enqueue(&L, "", &r, &e), BATON_ERANGE);
	assert_string_equal(e.code, "delay_ms_out_of_range");

	req_init(&r);
	r.job.max_attempts = 101;
	assert_int_equal(validate_enqueue(&L, "", &r, &e), BATON_ERANGE);
	assert_string_equal(e.code, "max_attempts_out_of_range");

	req_init(&r);
	r.job.lease_ms = 999;
	assert_int_equal(validate_enqueue(&L, "", &r, &e), BATON_ERANGE);
	assert_string_equal(e.code, "lease_ms_out_of_range");
	assert_string_equal(e.field, "lease_ms");

	req_init(&r);
	r.job.backoff.base_ms = 5000;
	r.job.backoff.max_ms = 1000;
	assert_int_equal(validate_enqueue(&L, "", &r, &e), BATON_ERANGE);
	assert_string_equal(e.code, "backoff_out_of_range");

	assert_int_equal(validate_wait_ms(&L, "wait_ms", 60001, &e), BATON_ERANGE);
	assert_string_equal(e.code, "wait_ms_out_of_range");
	assert_int_equal(validate_wait_ms(&L, "wait_ms", 60000, &e), 0);
}

static void payload_size_is_checked(void **state)
{
	struct enqueue_req r;
	struct verr e;
	struct limits small = L;

	(void)state;
	small.payload_max_bytes = 4;
	req_init(&r);
	r.job.payload = "[1,2]";
	assert_int_equal(validate_enqueue(&small, "", &r, &e), BATON_ETOOBIG);
	assert_string_equal(e.code, "payload_too_large");
	assert_int_equal(e.status, 413);
}

static uint64_t rnd_max(uint64_t bound)
{
	return bound - 1;
}

static uint64_t rnd_zero(uint64_t bound)
{
	(void)bound;
	return 0;
}

static void backoff_exponential_with_jitter(void **state)
{
	struct backoff b = {BACKOFF_EXPONENTIAL, 1000, 300000};

	(void)state;
	/* Attempt n waits between half and all of base * 2^(n-1). */
	assert_int_equal(backoff_delay_ms(&b, 1, rnd_max), 1000);
	assert_int_equal(backoff_delay_ms(&b, 1, rnd_zero), 500);
	assert_int_equal(backoff_delay_ms(&b, 3, rnd_max), 4000);
	assert_int_equal(backoff_delay_ms(&b, 3, rnd_zero), 2000);
	/* Capped at max_ms however many attempts. */
	assert_int_equal(backoff_delay_ms(&b, 30, rnd_max), 300000);
	assert_int_equal(backoff_delay_ms(&b, 1000, rnd_zero), 150000);
}

static void backoff_other_policies(void **state)
{
	struct backoff fixed = {BACKOFF_FIXED, 2500, 300000};
	struct backoff imm = {BACKOFF_IMMEDIATE, 0, 0};
	struct backoff none = {BACKOFF_NONE, 0, 0};

	(void)state;
	assert_int_equal(backoff_delay_ms(&fixed, 7, rnd_max), 2500);
	assert_int_equal(backoff_delay_ms(&imm, 3, rnd_max), 0);
	assert_int_equal(backoff_delay_ms(&none, 1, rnd_max), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_filled),
		cmocka_unit_test(names_are_checked),
		cmocka_unit_test(ranges_are_checked),
		cmocka_unit_test(payload_size_is_checked),
		cmocka_unit_test(backoff_exponential_with_jitter),
		cmocka_unit_test(backoff_other_policies),
	};
	limits_default(&L);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
