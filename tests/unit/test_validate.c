/*
 * test_validate.c: unit tests of input validation (each limit of docs/api.md's
 * table answers with its own code, HTTP status and field, at its boundary;
 * defaults are filled) and of the retry backoff (growth, cap, equal-jitter
 * bounds with the real random source, policies without retries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/rand.h"
#include "core/jobs.h"
#include "core/limits.h"
#include "core/validate.h"
#include "server/http.h"

/* The HTTP status a refusal is answered with: the server's one rc table
 * applied to the error code the check returned. */
static int verr_status(const struct verr *e)
{
        int status;
        const char *code;

        http_rc_status(e->rc, &status, &code);
        return status;
}

/* The documented defaults, as a value: each test has its own copy, so no
 * test can change what another sees. */
static struct limits defaults(void)
{
        struct limits l;

        limits_default(&l);
        return l;
}

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
        const struct limits L = defaults();
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
        const struct limits L = defaults();
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
        assert_int_equal(verr_status(&e), 400);

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

/* validate_enqueue skips naming the field while a check passes; at the
 * edges (exactly the limit, one over, empty, the last character bad, a prefix
 * longer than the field buffer) it answers as the full check always did. */
static void names_at_their_edges(void **state)
{
        const struct limits L = defaults();
        struct enqueue_req r;
        struct verr e;
        char name[1100], prefix[200], want[256];

        (void)state;
        assert_true(L.name_max < sizeof(name) - 1 && L.key_max < sizeof(name) - 1);
        memset(name, 'q', L.name_max);
        name[L.name_max] = 0;
        req_init(&r);
        r.job.queue = name;
        assert_int_equal(validate_enqueue(&L, "jobs[0]", &r, &e), 0);
        name[L.name_max] = 'q';
        name[L.name_max + 1] = 0;
        req_init(&r);
        r.job.type = name;
        assert_int_equal(validate_enqueue(&L, "jobs[12]", &r, &e), BATON_EINVAL);
        assert_string_equal(e.code, "name_too_long");
        assert_string_equal(e.field, "jobs[12].type");
        snprintf(want, sizeof(want), "jobs[12].type is %zu characters; the limit is %zu",
                 L.name_max + 1, L.name_max);
        assert_string_equal(e.message, want);

        req_init(&r);
        r.job.queue = "";
        assert_int_equal(validate_enqueue(&L, "jobs[1]", &r, &e), BATON_EINVAL);
        assert_string_equal(e.code, "name_invalid");
        assert_string_equal(e.message, "jobs[1].queue must not be empty");

        req_init(&r);
        r.job.queue = "emails!";
        assert_int_equal(validate_enqueue(&L, "", &r, &e), BATON_EINVAL);
        assert_string_equal(e.message, "queue may contain only letters, digits and . _ : -");

        memset(name, 'k', L.key_max);
        name[L.key_max] = 0;
        req_init(&r);
        r.job.group = name;
        assert_int_equal(validate_enqueue(&L, "", &r, &e), 0);
        name[L.key_max] = 'k';
        name[L.key_max + 1] = 0;
        req_init(&r);
        r.job.traceparent = name;
        assert_int_equal(validate_enqueue(&L, "jobs[2]", &r, &e), BATON_EINVAL);
        assert_string_equal(e.code, "key_too_long");
        assert_string_equal(e.field, "jobs[2].traceparent");

        /* A prefix longer than the field buffer is cut as snprintf cuts it. */
        memset(prefix, 'p', sizeof(prefix) - 1);
        prefix[sizeof(prefix) - 1] = 0;
        req_init(&r);
        r.job.key = "\x01";
        assert_int_equal(validate_enqueue(&L, prefix, &r, &e), BATON_EINVAL);
        assert_string_equal(e.code, "key_invalid");
        snprintf(want, sizeof(want), "%s.%s", prefix, "key");
        assert_int_equal(strncmp(e.field, want, sizeof(e.field) - 1), 0);
        assert_int_equal(strlen(e.field),
                         strlen(want) < sizeof(e.field) ? strlen(want) : sizeof(e.field) - 1);

        req_init(&r);
        r.job.lease_ms = L.lease_max_ms + 1;
        assert_int_equal(validate_enqueue(&L, "jobs[4]", &r, &e), BATON_ERANGE);
        assert_string_equal(e.field, "jobs[4].lease_ms");
}

static void ranges_are_checked(void **state)
{
        const struct limits L = defaults();
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
        const struct limits L = defaults();
        struct enqueue_req r;
        struct verr e;
        struct limits small = L;

        (void)state;
        small.payload_max_bytes = 4;
        req_init(&r);
        r.job.payload = "[1,2]";
        assert_int_equal(validate_enqueue(&small, "", &r, &e), BATON_ETOOBIG);
        assert_string_equal(e.code, "payload_too_large");
        assert_int_equal(verr_status(&e), 413);
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

/* One row of docs/api.md's limits table, checked at its boundary: the value
 * at the limit passes, one past it fails with the documented code, status and
 * field. */
struct limit_case {
        const char *what;
        int (*check)(const struct limits *l, int64_t v, struct verr *err);
        int64_t ok;  /* at the limit */
        int64_t bad; /* just past it */
        int rc;
        int status;
        const char *code;
        const char *field;
};

/* Fills buf with n characters c and a NUL; returns buf. */
static char *filled(char *buf, size_t n, char c)
{
        memset(buf, c, n);
        buf[n] = 0;
        return buf;
}

static int chk_body(const struct limits *l, int64_t v, struct verr *e)
{
        return validate_body_size(l, (size_t)v, e);
}

static int chk_payload(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;
        char *p = malloc((size_t)v + 1);
        int rc;

        assert_non_null(p);
        req_init(&r);
        r.job.payload = filled(p, (size_t)v, '1');
        rc = validate_enqueue(l, "jobs[2]", &r, e);
        free(p);
        return rc;
}

static int chk_result(const struct limits *l, int64_t v, struct verr *e)
{
        char *p = malloc((size_t)v + 1);
        int rc;

        assert_non_null(p);
        rc = validate_result(l, "result", filled(p, (size_t)v, '1'), e);
        free(p);
        return rc;
}

static int chk_error(const struct limits *l, int64_t v, struct verr *e)
{
        char *p = malloc((size_t)v + 1);
        int rc;

        assert_non_null(p);
        rc = validate_error_text(l, "items[1].error", filled(p, (size_t)v, 'e'), e);
        free(p);
        return rc;
}

static int chk_progress(const struct limits *l, int64_t v, struct verr *e)
{
        char *p = malloc((size_t)v + 1);
        int rc;

        assert_non_null(p);
        rc = validate_progress(l, "progress", filled(p, (size_t)v, ' '), e);
        free(p);
        return rc;
}

static int chk_batch(const struct limits *l, int64_t v, struct verr *e)
{
        return validate_batch(l, "jobs", v, e);
}

static int chk_queue_name(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;
        char buf[300];

        req_init(&r);
        r.job.queue = filled(buf, (size_t)v, 'q');
        return validate_enqueue(l, "", &r, e);
}

static int chk_type_name(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;
        char buf[300];

        req_init(&r);
        r.job.type = filled(buf, (size_t)v, 't');
        return validate_enqueue(l, "jobs[0]", &r, e);
}

static int chk_idem_key(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;
        char buf[300];

        req_init(&r);
        r.job.idempotency_key = filled(buf, (size_t)v, 'k');
        return validate_enqueue(l, "", &r, e);
}

static int chk_dedup_key(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;
        char buf[300];

        req_init(&r);
        r.job.key = filled(buf, (size_t)v, 'k');
        return validate_enqueue(l, "", &r, e);
}

static int chk_traceparent(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;
        char buf[300];

        req_init(&r);
        r.job.traceparent = filled(buf, (size_t)v, 't');
        return validate_enqueue(l, "", &r, e);
}

static int chk_worker(const struct limits *l, int64_t v, struct verr *e)
{
        char buf[300];

        return validate_key(l, "worker", filled(buf, (size_t)v, 'w'), e);
}

static int chk_claim_max(const struct limits *l, int64_t v, struct verr *e)
{
        return validate_claim_max(l, "max", v, e);
}

static int chk_list_limit(const struct limits *l, int64_t v, struct verr *e)
{
        return validate_list_limit(l, "limit", v, e);
}

static int chk_wait(const struct limits *l, int64_t v, struct verr *e)
{
        return validate_wait_ms(l, "wait_ms", v, e);
}

static int chk_lease(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;

        req_init(&r);
        r.job.lease_ms = v;
        return validate_enqueue(l, "", &r, e);
}

static int chk_extend(const struct limits *l, int64_t v, struct verr *e)
{
        return validate_lease_ms(l, "extend_ms", v, e);
}

static int chk_delay(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;

        req_init(&r);
        r.delay_ms = v;
        return validate_enqueue(l, "", &r, e);
}

static int chk_run_at(const struct limits *l, int64_t v, struct verr *e)
{
        const int64_t now = 1795424452000LL;

        return validate_run_at(l, "run_at", now + v, now, e);
}

static int chk_attempts(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;

        req_init(&r);
        r.job.max_attempts = (int)v;
        return validate_enqueue(l, "", &r, e);
}

static int chk_backoff_base(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;

        req_init(&r);
        r.job.backoff.base_ms = v;
        r.job.backoff.max_ms = l->backoff_max_ms;
        return validate_enqueue(l, "", &r, e);
}

static int chk_backoff_max(const struct limits *l, int64_t v, struct verr *e)
{
        struct enqueue_req r;

        req_init(&r);
        r.job.backoff.max_ms = v;
        return validate_enqueue(l, "", &r, e);
}

static int chk_retry_in(const struct limits *l, int64_t v, struct verr *e)
{
        return validate_retry_in_ms(l, "retry_in_ms", v, e);
}

static void every_limit_has_its_code_and_field(void **state)
{
        const struct limits L = defaults();
        const struct limit_case cases[] = {
            {"request body", chk_body, 16 << 20, (16 << 20) + 1, BATON_ETOOBIG, 413,
             "body_too_large", ""},
            {"payload", chk_payload, 256 << 10, (256 << 10) + 1, BATON_ETOOBIG, 413,
             "payload_too_large", "jobs[2].payload"},
            {"result", chk_result, 256 << 10, (256 << 10) + 1, BATON_ETOOBIG, 413,
             "result_too_large", "result"},
            {"error text", chk_error, 8 << 10, (8 << 10) + 1, BATON_ETOOBIG, 413, "error_too_large",
             "items[1].error"},
            {"progress", chk_progress, 4096, 4097, BATON_ETOOBIG, 413, "progress_too_large",
             "progress"},
            {"batch", chk_batch, 1000, 1001, BATON_ETOOBIG, 413, "batch_too_large", "jobs"},
            {"empty batch", chk_batch, 1, 0, BATON_EINVAL, 400, "invalid_field", "jobs"},
            {"queue name", chk_queue_name, 128, 129, BATON_EINVAL, 400, "name_too_long", "queue"},
            {"empty queue name", chk_queue_name, 1, 0, BATON_EINVAL, 400, "name_invalid", "queue"},
            {"type name", chk_type_name, 128, 129, BATON_EINVAL, 400, "name_too_long",
             "jobs[0].type"},
            {"idempotency key", chk_idem_key, 256, 257, BATON_EINVAL, 400, "key_too_long",
             "idempotency_key"},
            {"empty idempotency key", chk_idem_key, 1, 0, BATON_EINVAL, 400, "key_invalid",
             "idempotency_key"},
            {"dedup key", chk_dedup_key, 256, 257, BATON_EINVAL, 400, "key_too_long", "key"},
            {"traceparent", chk_traceparent, 256, 257, BATON_EINVAL, 400, "key_too_long",
             "traceparent"},
            {"worker", chk_worker, 256, 257, BATON_EINVAL, 400, "key_too_long", "worker"},
            {"claim max", chk_claim_max, 1000, 1001, BATON_ERANGE, 400, "max_out_of_range", "max"},
            {"claim max 0", chk_claim_max, 1, 0, BATON_ERANGE, 400, "max_out_of_range", "max"},
            {"list limit", chk_list_limit, 1000, 1001, BATON_ERANGE, 400, "limit_out_of_range",
             "limit"},
            {"list limit 0", chk_list_limit, 1, 0, BATON_ERANGE, 400, "limit_out_of_range",
             "limit"},
            {"wait_ms", chk_wait, 60000, 60001, BATON_ERANGE, 400, "wait_ms_out_of_range",
             "wait_ms"},
            {"negative wait_ms", chk_wait, 0, -1, BATON_ERANGE, 400, "wait_ms_out_of_range",
             "wait_ms"},
            {"lease_ms max", chk_lease, 43200000, 43200001, BATON_ERANGE, 400,
             "lease_ms_out_of_range", "lease_ms"},
            {"lease_ms min", chk_lease, 1000, 999, BATON_ERANGE, 400, "lease_ms_out_of_range",
             "lease_ms"},
            {"extend_ms", chk_extend, 43200000, 43200001, BATON_ERANGE, 400,
             "lease_ms_out_of_range", "extend_ms"},
            {"delay_ms", chk_delay, 366LL * 86400000, 366LL * 86400000 + 1, BATON_ERANGE, 400,
             "delay_ms_out_of_range", "delay_ms"},
            {"negative delay_ms", chk_delay, 0, -1, BATON_ERANGE, 400, "delay_ms_out_of_range",
             "delay_ms"},
            {"run_at", chk_run_at, 366LL * 86400000, 366LL * 86400000 + 1, BATON_ERANGE, 400,
             "delay_ms_out_of_range", "run_at"},
            {"max_attempts", chk_attempts, 100, 101, BATON_ERANGE, 400, "max_attempts_out_of_range",
             "max_attempts"},
            {"negative max_attempts", chk_attempts, 1, -1, BATON_ERANGE, 400,
             "max_attempts_out_of_range", "max_attempts"},
            {"backoff base", chk_backoff_base, 86400000, 86400001, BATON_ERANGE, 400,
             "backoff_out_of_range", "backoff.base_ms"},
            {"backoff max", chk_backoff_max, 86400000, 86400001, BATON_ERANGE, 400,
             "backoff_out_of_range", "backoff.max_ms"},
            {"retry_in_ms", chk_retry_in, 86400000, 86400001, BATON_ERANGE, 400,
             "backoff_out_of_range", "retry_in_ms"},
            {"negative retry_in_ms", chk_retry_in, 0, -1, BATON_ERANGE, 400, "backoff_out_of_range",
             "retry_in_ms"},
        };

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct limit_case *c = &cases[i];
                struct verr e;

                memset(&e, 0, sizeof(e));
                if (c->check(&L, c->ok, &e) != 0)
                        print_error("%s: %lld refused (%s)\n", c->what, (long long)c->ok,
                                    e.code ? e.code : "?");
                assert_int_equal(c->check(&L, c->ok, &e), 0);
                memset(&e, 0, sizeof(e));
                if (c->check(&L, c->bad, &e) != c->rc)
                        print_error("%s: %lld not refused as expected\n", c->what,
                                    (long long)c->bad);
                assert_int_equal(c->check(&L, c->bad, &e), c->rc);
                assert_int_equal(verr_status(&e), c->status);
                assert_non_null(e.code);
                assert_string_equal(e.code, c->code);
                assert_string_equal(e.field, c->field);
                assert_true(e.message[0] != 0);
        }
}

static void limits_follow_the_configuration(void **state)
{
        struct limits l = defaults();
        struct verr e;

        (void)state;
        /* Each check reads the configured value, not the default. */
        l.claim_max = 5;
        l.wait_max_ms = 10;
        l.batch_max = 2;
        l.progress_max_bytes = 3;
        assert_int_equal(validate_claim_max(&l, "max", 6, &e), BATON_ERANGE);
        assert_int_equal(validate_claim_max(&l, "max", 5, &e), 0);
        assert_int_equal(validate_wait_ms(&l, "wait_ms", 11, &e), BATON_ERANGE);
        assert_int_equal(validate_batch(&l, "items", 3, &e), BATON_ETOOBIG);
        assert_string_equal(e.field, "items");
        assert_int_equal(validate_progress(&l, "progress", "{\"a\":1}", &e), BATON_ETOOBIG);
        /* Absent optional texts are not checked. */
        assert_int_equal(validate_result(&l, "result", NULL, &e), 0);
        assert_int_equal(validate_error_text(&l, "error", NULL, &e), 0);
        assert_int_equal(validate_progress(&l, "progress", NULL, &e), 0);
        assert_int_equal(validate_key(&l, "key", NULL, &e), 0);
}

static void backoff_type_is_checked(void **state)
{
        const struct limits L = defaults();
        struct enqueue_req r;
        struct verr e;

        (void)state;
        req_init(&r);
        r.job.backoff.type = 9;
        assert_int_equal(validate_enqueue(&L, "jobs[1]", &r, &e), BATON_EINVAL);
        assert_string_equal(e.code, "invalid_field");
        assert_string_equal(e.field, "jobs[1].backoff.type");
        /* immediate and none keep a zero base; max gets its default. */
        req_init(&r);
        r.job.backoff.type = BACKOFF_NONE;
        assert_int_equal(validate_enqueue(&L, "", &r, &e), 0);
        assert_int_equal(r.job.backoff.base_ms, 0);
        req_init(&r);
        r.job.backoff.type = BACKOFF_FIXED;
        r.job.backoff.base_ms = 500000;
        assert_int_equal(validate_enqueue(&L, "", &r, &e), 0);
        assert_int_equal(r.job.backoff.max_ms, 500000); /* never below the base */
}

/* The delay before the next attempt, without jitter. */
static int64_t full_delay(const struct backoff *b, int attempt)
{
        int64_t d = b->base_ms;

        for (int i = 1; i < attempt && d < b->max_ms; i++)
                d *= 2;
        return d < b->max_ms ? d : b->max_ms;
}

static void backoff_jitter_bounds_with_real_randomness(void **state)
{
        const struct backoff cases[] = {
            {BACKOFF_EXPONENTIAL, 1000, 300000},
            {BACKOFF_EXPONENTIAL, 1, 7},
            {BACKOFF_EXPONENTIAL, 3, 86400000},
            {BACKOFF_EXPONENTIAL, 86400000, 86400000},
        };

        (void)state;
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
                for (int attempt = 1; attempt <= 40; attempt++) {
                        int64_t d = full_delay(&cases[c], attempt);
                        int64_t lo = INT64_MAX, hi = -1;

                        for (int i = 0; i < 200; i++) {
                                int64_t v = backoff_delay_ms(&cases[c], attempt, rand_below);

                                /* Equal jitter: between half and all of it, never
                                 * above the cap. */
                                assert_true(v >= d / 2);
                                assert_true(v <= d);
                                assert_true(v <= cases[c].max_ms);
                                lo = v < lo ? v : lo;
                                hi = v > hi ? v : hi;
                        }
                        /* The draws spread over the range, not one value. */
                        if (d >= 8)
                                assert_true(hi > lo);
                }
        }
}

static void backoff_cap_and_policies_at_any_attempt(void **state)
{
        struct backoff exp = {BACKOFF_EXPONENTIAL, 1000, 300000};
        struct backoff fixed = {BACKOFF_FIXED, 2500, 300000};
        struct backoff imm = {BACKOFF_IMMEDIATE, 0, 300000};
        struct backoff none = {BACKOFF_NONE, 1000, 300000};
        struct backoff zero = {BACKOFF_EXPONENTIAL, 0, 300000};
        const int attempts[] = {0, 1, 2, 9, 10, 64, 1000000};

        (void)state;
        /* 2^8 s = 256 s is below the cap; 2^9 s is above it. */
        assert_int_equal(backoff_delay_ms(&exp, 9, rnd_max), 256000);
        assert_int_equal(backoff_delay_ms(&exp, 10, rnd_max), 300000);
        assert_int_equal(backoff_delay_ms(&exp, 10, rnd_zero), 150000);
        for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
                int a = attempts[i];

                assert_true(backoff_delay_ms(&exp, a, rnd_max) <= 300000);
                assert_true(backoff_delay_ms(&exp, a, rnd_zero) >= 500);
                assert_int_equal(backoff_delay_ms(&fixed, a, rnd_max), 2500);
                assert_int_equal(backoff_delay_ms(&fixed, a, rnd_zero), 2500);
                assert_int_equal(backoff_delay_ms(&imm, a, rnd_max), 0);
                assert_int_equal(backoff_delay_ms(&none, a, rnd_max), -1);
                assert_int_equal(backoff_delay_ms(&zero, a, rnd_max), 0);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(defaults_are_filled),
            cmocka_unit_test(names_are_checked),
            cmocka_unit_test(names_at_their_edges),
            cmocka_unit_test(ranges_are_checked),
            cmocka_unit_test(payload_size_is_checked),
            cmocka_unit_test(backoff_exponential_with_jitter),
            cmocka_unit_test(backoff_other_policies),
            cmocka_unit_test(every_limit_has_its_code_and_field),
            cmocka_unit_test(limits_follow_the_configuration),
            cmocka_unit_test(backoff_type_is_checked),
            cmocka_unit_test(backoff_jitter_bounds_with_real_randomness),
            cmocka_unit_test(backoff_cap_and_policies_at_any_attempt),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
