/*
 * test_conformance.c: the store conformance suite. Every common test is
 * written against struct store_ops only and runs once per backend of the
 * backends[] table: SQLite always; PostgreSQL when the build has its backend
 * (BATON_HAVE_POSTGRES) and BATON_TEST_PG_URI names a database the suite may
 * write to. Each test gets a fresh, empty store (the backend's create hook) and
 * closes and removes it afterwards (destroy). Tests call the store as core
 * does: inside begin..commit.
 *
 * The suite checks the semantics stated in store/store.h for every operation:
 * round trips of every column, not-found answers, the pending-key and
 * idempotency uniqueness, tenant scoping, job_list filters and cursor, the id
 * queries (claim order, due, expired, by state) and their boundaries and
 * limits, purge batch bounds, deadlines, queues and their counts, savepoints,
 * rollback, durability across reopen and the schema version; tenants, API keys
 * (round trips, duplicate ids, updates, lists by tenant and cursor, counts) and
 * the audit log (ascending ids, every filter combination, cursor and limit),
 * including that a rolled-back savepoint keeps none of their writes; cron
 * schedules (round trips, replace, tenant scoping, key-ordered pages, due
 * and next-due across tenants) and runs (the unique tick identity, manual
 * runs that never clash, updates, newest-first pages, counts per trigger,
 * trim, deletion with the schedule, savepoint rollback). It prints
 * (never asserts) the insert throughput. Each backend also has its own section
 * of specific checks (SQLite: schema refusal, migrations, the upgrade of a
 * version-1 store, durability pragmas and the query plans of the hot and the
 * key and audit statements).
 *
 * Workload: small; the whole suite runs in seconds, also under ASan.
 * STORE_TEST_FILTER (a cmocka pattern such as "*purge*") runs a subset and
 * STORE_THROUGHPUT_N sets the number of inserts timed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "baton/baton.h"
#include "common/assert.h"
#include "core/job.h"
#include "store/sqlite.h"
#include "store/store.h"

#define T0 1700000000000LL /* an arbitrary fixed "now" */
#define THROUGHPUT_N 20000 /* enough for a stable figure, quick under ASan */

struct fixture;

/* A backend under test: whether it can run here, how to make a fresh, empty
 * store location and remove it afterwards, and its own specific tests. */
struct backend {
        const char *name;
        const struct store_ops *ops;
        bool (*available)(void);
        int (*create)(struct fixture *f);
        void (*destroy)(struct fixture *f);
        int (*run_specific)(const struct backend *be); /* returns failed tests */
};

struct fixture {
        const struct backend *be;
        const struct store_ops *ops;
        struct store *st;
        char dir[64];   /* scratch directory (SQLite: the data directory) */
        char scope[64]; /* PostgreSQL: the schema the test runs in */
        char uri[4096]; /* what store_opts.uri receives */
};

/* ---- fixture ---- */

static int open_fixture(struct fixture *f)
{
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};

        return f->ops->open(&o, &f->st);
}

/* *state holds the backend (the tests' initial state, see main) and is
 * replaced by the fixture. */
static int setup(void **state)
{
        const struct backend *be = *state;
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->be = be;
        f->ops = be->ops;
        if (f->be->create(f) != 0 || open_fixture(f) != 0) {
                f->be->destroy(f);
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        if (f->st)
                f->ops->close(f->st);
        f->be->destroy(f);
        free(f);
        return 0;
}

static void reopen(struct fixture *f)
{
        f->ops->close(f->st);
        f->st = NULL;
        assert_int_equal(open_fixture(f), 0);
}

static void begin(struct fixture *f)
{
        assert_int_equal(f->ops->begin(f->st), 0);
}

static void commit(struct fixture *f)
{
        assert_int_equal(f->ops->commit(f->st), 0);
}

/* ---- job helpers ---- */

static char *xdup(const char *s)
{
        char *p;

        if (!s)
                return NULL;
        p = strdup(s);
        assert_non_null(p);
        return p;
}

/* What a test cares about in a job; put() fills the rest with plain values. */
struct spec {
        const char *tenant; /* default "t1" */
        const char *queue;  /* default "q1" */
        const char *type;   /* default "email.send" */
        const char *key;
        int state;
        int prio;
        int64_t run_at;
        int64_t lease_until;
        int64_t finished_at;
        int64_t ready_at;
        const char *group; /* version 4 */
};

/* Fills j from sp; the caller frees it with job_free. */
static void job_from_spec(struct job *j, const struct spec *sp)
{
        memset(j, 0, sizeof(*j));
        j->tenant = xdup(sp->tenant ? sp->tenant : "t1");
        j->queue = xdup(sp->queue ? sp->queue : "q1");
        j->type = xdup(sp->type ? sp->type : "email.send");
        j->key = xdup(sp->key);
        j->group = xdup(sp->group);
        j->payload = xdup("{\"to\":\"a@example.com\"}");
        j->state = sp->state;
        j->priority = sp->prio;
        j->run_at_ms = sp->run_at;
        j->lease_until_ms = sp->lease_until;
        j->finished_at_ms = sp->finished_at;
        j->ready_at_ms = sp->ready_at;
        j->max_attempts = 4;
        j->backoff.type = BACKOFF_EXPONENTIAL;
        j->backoff.base_ms = 1000;
        j->backoff.max_ms = 300000;
        j->lease_ms = 30000;
        j->version = 1;
        j->created_at_ms = T0;
}

static int put_rc(struct fixture *f, struct spec sp, int64_t *id_out)
{
        struct job j;
        int rc;

        job_from_spec(&j, &sp);
        rc = f->ops->job_insert(f->st, &j);
        if (!rc && id_out)
                *id_out = j.id;
        job_free(&j);
        return rc;
}

static int64_t put(struct fixture *f, struct spec sp)
{
        int64_t id = 0;

        assert_int_equal(put_rc(f, sp, &id), 0);
        assert_true(id > 0);
        return id;
}

/* Moves job id to state and returns what job_update said. */
static int set_state(struct fixture *f, int64_t id, int state)
{
        struct job j;
        int rc;

        assert_int_equal(f->ops->job_get(f->st, NULL, id, &j), 0);
        j.state = state;
        rc = f->ops->job_update(f->st, &j);
        job_free(&j);
        return rc;
}

static bool exists(struct fixture *f, int64_t id)
{
        struct job j;
        int rc = f->ops->job_get(f->st, NULL, id, &j);

        if (rc == BATON_ENOTFOUND)
                return false;
        assert_int_equal(rc, 0);
        job_free(&j);
        return true;
}

/* Gives every field of j a distinct, non-default value derived from seed. */
static void job_fill(struct job *j, const char *tenant, int seed)
{
        char s[64];

        memset(j, 0, sizeof(*j));
#define FILL(field, fmt)                                                                           \
        do {                                                                                       \
                snprintf(s, sizeof(s), fmt, seed);                                                 \
                j->field = xdup(s);                                                                \
        } while (0)
        j->tenant = xdup(tenant);
        FILL(queue, "queue-%d");
        FILL(type, "type-%d");
        FILL(payload, "{\"seed\":%d,\"s\":\"\\u00e9\"}");
        FILL(idempotency_key, "idem-%d");
        FILL(key, "key-%d");
        FILL(request_id, "req-%d");
        FILL(execution_id, "exec-%d");
        FILL(traceparent, "00-%032d-0000000000000001-01");
        FILL(lease, "lease-%d");
        FILL(worker, "worker-%d");
        FILL(result, "{\"ok\":%d}");
        FILL(last_error, "error %d: it's \"quoted\"");
        FILL(progress, "{\"percent\":%d}");
        FILL(attempts, "[{\"attempt\":%d}]");
        FILL(steps, "[{\"step\":\"s%d\"}]");
        FILL(cancel_reason, "reason-%d");
        FILL(group, "group-%d");
#undef FILL
        j->priority = PRIO_LOW;
        j->state = JOB_RUNNING;
        j->run_at_ms = T0 + seed + 1;
        j->attempt = seed + 2;
        j->max_attempts = seed + 3;
        j->backoff.type = BACKOFF_FIXED;
        j->backoff.base_ms = seed + 4;
        j->backoff.max_ms = seed + 5;
        j->lease_ms = seed + 6;
        j->lease_until_ms = T0 + seed + 7;
        j->settled = SETTLED_FAIL;
        j->cancel_requested = true;
        j->version = seed + 8;
        j->created_at_ms = T0 + seed + 9;
        j->started_at_ms = T0 + seed + 10;
        j->finished_at_ms = T0 + seed + 11;
        j->ready_at_ms = T0 + seed + 12;
}

static void assert_str_eq(const char *a, const char *b)
{
        if (!a || !b)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

static void assert_job_equal(const struct job *a, const struct job *b)
{
        assert_int_equal(a->id, b->id);
        assert_str_eq(a->tenant, b->tenant);
        assert_str_eq(a->queue, b->queue);
        assert_str_eq(a->type, b->type);
        assert_str_eq(a->payload, b->payload);
        assert_int_equal(a->priority, b->priority);
        assert_int_equal(a->state, b->state);
        assert_int_equal(a->run_at_ms, b->run_at_ms);
        assert_int_equal(a->attempt, b->attempt);
        assert_int_equal(a->max_attempts, b->max_attempts);
        assert_int_equal(a->backoff.type, b->backoff.type);
        assert_int_equal(a->backoff.base_ms, b->backoff.base_ms);
        assert_int_equal(a->backoff.max_ms, b->backoff.max_ms);
        assert_int_equal(a->lease_ms, b->lease_ms);
        assert_str_eq(a->idempotency_key, b->idempotency_key);
        assert_str_eq(a->key, b->key);
        assert_str_eq(a->request_id, b->request_id);
        assert_str_eq(a->execution_id, b->execution_id);
        assert_str_eq(a->traceparent, b->traceparent);
        assert_str_eq(a->lease, b->lease);
        assert_int_equal(a->lease_until_ms, b->lease_until_ms);
        assert_str_eq(a->worker, b->worker);
        assert_int_equal(a->settled, b->settled);
        assert_int_equal(a->cancel_requested, b->cancel_requested);
        assert_int_equal(a->version, b->version);
        assert_int_equal(a->created_at_ms, b->created_at_ms);
        assert_int_equal(a->started_at_ms, b->started_at_ms);
        assert_int_equal(a->finished_at_ms, b->finished_at_ms);
        assert_int_equal(a->ready_at_ms, b->ready_at_ms);
        assert_str_eq(a->result, b->result);
        assert_str_eq(a->last_error, b->last_error);
        assert_str_eq(a->progress, b->progress);
        assert_str_eq(a->attempts, b->attempts);
        assert_str_eq(a->steps, b->steps);
        assert_str_eq(a->cancel_reason, b->cancel_reason);
        assert_str_eq(a->group, b->group);
}

static void assert_ids(const int64_t *got, int n, const int64_t *want, int n_want)
{
        assert_int_equal(n, n_want);
        for (int i = 0; i < n; i++)
                assert_int_equal(got[i], want[i]);
}

static int cmp_id(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return (x > y) - (x < y);
}

/* For queries whose order the interface leaves open. */
static void assert_id_set(int64_t *got, int n, int64_t *want, int n_want)
{
        qsort(got, (size_t)n, sizeof(*got), cmp_id);
        qsort(want, (size_t)n_want, sizeof(*want), cmp_id);
        assert_ids(got, n, want, n_want);
}

/* ---- jobs: insert, get, update ---- */

static void job_roundtrip_every_field(void **state)
{
        struct fixture *f = *state;
        struct job in, out;

        begin(f);
        job_fill(&in, "t1", 7);
        assert_int_equal(f->ops->job_insert(f->st, &in), 0);
        assert_true(in.id > 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", in.id, &out), 0);
        assert_job_equal(&in, &out);
        job_free(&out);
        job_free(&in);
        commit(f);
}

static void job_roundtrip_nulls(void **state)
{
        struct fixture *f = *state;
        struct job in, out;

        begin(f);
        job_from_spec(&in, &(struct spec){.state = JOB_PENDING});
        assert_int_equal(f->ops->job_insert(f->st, &in), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", in.id, &out), 0);
        assert_job_equal(&in, &out);
        assert_null(out.key);
        assert_null(out.idempotency_key);
        assert_null(out.lease);
        assert_null(out.worker);
        assert_null(out.result);
        assert_null(out.last_error);
        assert_null(out.progress);
        assert_null(out.attempts);
        assert_null(out.steps);
        assert_null(out.cancel_reason);
        assert_null(out.traceparent);
        assert_false(out.cancel_requested);
        job_free(&out);
        job_free(&in);
        commit(f);
}

static void job_ids_increase_and_are_not_reused(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c;

        begin(f);
        a = put(f, (struct spec){.state = JOB_QUEUED});
        b = put(f, (struct spec){.state = JOB_QUEUED});
        assert_true(b > a);
        assert_int_equal(f->ops->job_delete(f->st, "t1", b), 0);
        commit(f);
        /* An id that was handed out (and may be held by an idempotency record)
         * must never name another job. */
        begin(f);
        c = put(f, (struct spec){.state = JOB_QUEUED});
        assert_true(c > b);
        commit(f);
}

static void job_get_tenant_scoping(void **state)
{
        struct fixture *f = *state;
        struct job j;
        int64_t id;

        begin(f);
        id = put(f, (struct spec){.tenant = "acme", .state = JOB_QUEUED});
        assert_int_equal(f->ops->job_get(f->st, "other", id, &j), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_get(f->st, "acme", id + 1000, &j), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_get(f->st, NULL, id + 1000, &j), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_get(f->st, NULL, id, &j), 0);
        assert_string_equal(j.tenant, "acme");
        assert_int_equal(j.id, id);
        job_free(&j);
        assert_int_equal(f->ops->job_get(f->st, "acme", id, &j), 0);
        job_free(&j);
        commit(f);
}

static void job_update_every_mutable_column(void **state)
{
        struct fixture *f = *state;
        struct job orig, upd, out;
        int64_t id;

        begin(f);
        job_from_spec(&orig, &(struct spec){.state = JOB_SCHEDULED, .run_at = T0});
        assert_int_equal(f->ops->job_insert(f->st, &orig), 0);
        id = orig.id;
        /* Every column changes, strings become non-NULL; tenant and created_at
         * in the struct change too but must not be written. */
        job_fill(&upd, "intruder", 42);
        upd.id = id;
        assert_int_equal(f->ops->job_update(f->st, &upd), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &out), 0);
        free(upd.tenant);
        upd.tenant = xdup("t1");
        upd.created_at_ms = orig.created_at_ms;
        assert_job_equal(&upd, &out);
        job_free(&out);
        /* And back: strings that were set become NULL again. */
        orig.id = id;
        assert_int_equal(f->ops->job_update(f->st, &orig), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &out), 0);
        assert_job_equal(&orig, &out);
        job_free(&out);
        upd.id = id + 1000;
        assert_int_equal(f->ops->job_update(f->st, &upd), BATON_ENOTFOUND);
        job_free(&upd);
        job_free(&orig);
        commit(f);
}

/* ---- the pending-key uniqueness ---- */

static void key_unique_among_pending(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, id;

        begin(f);
        a = put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        /* Scheduled and queued both count as pending. */
        assert_int_equal(put_rc(f, (struct spec){.state = JOB_QUEUED, .key = "k"}, NULL),
                         BATON_ECONFLICT);
        assert_int_equal(put_rc(f, (struct spec){.state = JOB_SCHEDULED, .key = "k"}, NULL),
                         BATON_ECONFLICT);
        /* Other queues, tenants and keys, and jobs without a key, are free. */
        put(f, (struct spec){.state = JOB_QUEUED, .key = "k", .queue = "q2"});
        put(f, (struct spec){.state = JOB_QUEUED, .key = "k", .tenant = "t2"});
        put(f, (struct spec){.state = JOB_QUEUED, .key = "k2"});
        put(f, (struct spec){.state = JOB_QUEUED});
        put(f, (struct spec){.state = JOB_QUEUED});
        /* Non-pending states never clash. */
        put(f, (struct spec){.state = JOB_RUNNING, .key = "k"});
        put(f, (struct spec){.state = JOB_RETRYING, .key = "k"});
        put(f, (struct spec){.state = JOB_PENDING, .key = "k"});
        put(f, (struct spec){.state = JOB_COMPLETED, .key = "k"});
        commit(f);

        /* Once the holder runs, the key is free again... */
        begin(f);
        assert_int_equal(set_state(f, a, JOB_RUNNING), 0);
        b = put(f, (struct spec){.state = JOB_SCHEDULED, .key = "k"});
        /* ...and the old job cannot become pending while the new one is. */
        assert_int_equal(set_state(f, a, JOB_QUEUED), BATON_ECONFLICT);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, b);
        /* A terminal holder frees it as well. */
        assert_int_equal(set_state(f, b, JOB_CANCELLED), 0);
        put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        commit(f);
}

static void job_find_key_finds_pending_only(void **state)
{
        struct fixture *f = *state;
        int64_t a, id = 0;

        begin(f);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), BATON_ENOTFOUND);
        a = put(f, (struct spec){.state = JOB_SCHEDULED, .key = "k"});
        put(f, (struct spec){.state = JOB_RUNNING, .key = "r"});
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, a);
        assert_int_equal(set_state(f, a, JOB_QUEUED), 0);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, a);
        assert_int_equal(f->ops->job_find_key(f->st, "t2", "q1", "k", &id), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q2", "k", &id), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "r", &id), BATON_ENOTFOUND);
        assert_int_equal(set_state(f, a, JOB_COMPLETED), 0);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), BATON_ENOTFOUND);
        commit(f);
}

static void conflict_changes_nothing(void **state)
{
        struct fixture *f = *state;
        struct job_vec v = {0};
        int64_t a, b;

        /* A refused write changes nothing and the transaction goes on: core
         * relies on it (a promotion whose key is taken cancels the job). */
        begin(f);
        a = put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        assert_int_equal(
            put_rc(f, (struct spec){.state = JOB_QUEUED, .key = "k", .type = "dup"}, NULL),
            BATON_ECONFLICT);
        b = put(f, (struct spec){.state = JOB_RETRYING, .key = "k"});
        assert_int_equal(set_state(f, b, JOB_QUEUED), BATON_ECONFLICT);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "q1", T0), 0);
        commit(f);

        begin(f);
        assert_int_equal(
            f->ops->job_list(f->st, &(struct job_filter){.tenant = "t1", .state = -1, .limit = 10},
                             &v),
            0);
        assert_int_equal(v.n, 2);
        assert_int_equal(v.v[0].id, a);
        assert_int_equal(v.v[1].id, b);
        assert_int_equal(v.v[1].state, JOB_RETRYING);
        job_vec_free(&v);
        commit(f);
}

static void job_large_text_roundtrip(void **state)
{
        struct fixture *f = *state;
        size_t n = 256 * 1024;
        struct job in, out;
        char *big = malloc(n + 3);

        assert_non_null(big);
        big[0] = '"';
        memset(big + 1, 'x', n - 2);
        big[n - 1] = '"';
        big[n] = 0;
        begin(f);
        job_from_spec(&in, &(struct spec){.state = JOB_QUEUED});
        free(in.payload);
        in.payload = big;
        assert_int_equal(f->ops->job_insert(f->st, &in), 0);
        in.result = xdup(big);
        in.state = JOB_COMPLETED;
        assert_int_equal(f->ops->job_update(f->st, &in), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", in.id, &out), 0);
        assert_job_equal(&in, &out);
        assert_int_equal(strlen(out.payload), n);
        job_free(&out);
        job_free(&in);
        commit(f);
}

/* ---- job_list ---- */

static void list_ids(struct fixture *f, struct job_filter flt, int64_t *ids, int *n)
{
        struct job_vec v = {0};

        assert_int_equal(f->ops->job_list(f->st, &flt, &v), 0);
        for (int i = 0; i < v.n; i++) {
                ids[i] = v.v[i].id;
                assert_string_equal(v.v[i].tenant, flt.tenant);
                assert_non_null(v.v[i].payload);
        }
        *n = v.n;
        job_vec_free(&v);
}

static void job_list_filters_and_pages(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c, d, e, g, got[16];
        int n;

        begin(f);
        a = put(f, (struct spec){.queue = "q1", .state = JOB_QUEUED, .type = "x"});
        b = put(f, (struct spec){.queue = "q2", .state = JOB_QUEUED, .type = "y"});
        c = put(f, (struct spec){.queue = "q1", .state = JOB_RUNNING, .type = "y"});
        d = put(f, (struct spec){.queue = "q1", .state = JOB_PENDING, .type = "x"});
        put(f, (struct spec){.tenant = "t2", .queue = "q1", .state = JOB_QUEUED, .type = "x"});
        e = put(f, (struct spec){.queue = "q1", .state = JOB_QUEUED, .type = "y"});
        g = put(f, (struct spec){.queue = "q2", .state = JOB_DEAD, .type = "x"});
        commit(f);

        begin(f);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .limit = 100}, got, &n);
        assert_ids(got, n, (int64_t[]){a, b, c, d, e, g}, 6);
        list_ids(f, (struct job_filter){.tenant = "t1", .queue = "q1", .state = -1, .limit = 100},
                 got, &n);
        assert_ids(got, n, (int64_t[]){a, c, d, e}, 4);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = JOB_QUEUED, .limit = 100}, got,
                 &n);
        assert_ids(got, n, (int64_t[]){a, b, e}, 3);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = JOB_PENDING, .limit = 100}, got,
                 &n);
        assert_ids(got, n, (int64_t[]){d}, 1);
        list_ids(f, (struct job_filter){.tenant = "t1", .type = "x", .state = -1, .limit = 100},
                 got, &n);
        assert_ids(got, n, (int64_t[]){a, d, g}, 3);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q1", .state = JOB_QUEUED, .type = "y", .limit = 100},
                 got, &n);
        assert_ids(got, n, (int64_t[]){e}, 1);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q2", .type = "x", .state = -1, .limit = 100},
                 got, &n);
        assert_ids(got, n, (int64_t[]){g}, 1);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q1", .state = JOB_COMPLETED, .limit = 100},
                 got, &n);
        assert_int_equal(n, 0);
        list_ids(
            f,
            (struct job_filter){.tenant = "t1", .queue = "q1", .state = JOB_QUEUED, .limit = 100},
            got, &n);
        assert_ids(got, n, (int64_t[]){a, e}, 2);
        list_ids(
            f, (struct job_filter){.tenant = "t1", .state = JOB_QUEUED, .type = "y", .limit = 100},
            got, &n);
        assert_ids(got, n, (int64_t[]){b, e}, 2);
        list_ids(f, (struct job_filter){.tenant = "nobody", .state = -1, .limit = 100}, got, &n);
        assert_int_equal(n, 0);

        /* Pagination: limit, then continue after the last id seen. */
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .limit = 4}, got, &n);
        assert_ids(got, n, (int64_t[]){a, b, c, d}, 4);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .after_id = d, .limit = 4},
                 got, &n);
        assert_ids(got, n, (int64_t[]){e, g}, 2);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .after_id = g, .limit = 4},
                 got, &n);
        assert_int_equal(n, 0);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q1", .state = -1, .after_id = a, .limit = 2},
                 got, &n);
        assert_ids(got, n, (int64_t[]){c, d}, 2);
        /* The cursor combines with every filter. */
        list_ids(
            f, (struct job_filter){.tenant = "t1", .state = JOB_QUEUED, .after_id = a, .limit = 1},
            got, &n);
        assert_ids(got, n, (int64_t[]){b}, 1);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .type = "x", .state = -1, .after_id = d, .limit = 10},
                 got, &n);
        assert_ids(got, n, (int64_t[]){g}, 1);
        commit(f);
}

static void job_list_refuses_bad_filters(void **state)
{
        struct fixture *f = *state;
        struct job_vec v = {0};

        begin(f);
        put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(
            f->ops->job_list(f->st, &(struct job_filter){.state = -1, .limit = 10}, &v),
            BATON_EINVAL);
        assert_int_equal(
            f->ops->job_list(f->st, &(struct job_filter){.tenant = "t1", .state = -1}, &v),
            BATON_EINVAL);
        assert_int_equal(v.n, 0);
        job_vec_free(&v);
        commit(f);
}

static void job_list_returns_full_rows(void **state)
{
        struct fixture *f = *state;
        struct job in;
        struct job_vec v = {0};

        begin(f);
        job_fill(&in, "t1", 3);
        assert_int_equal(f->ops->job_insert(f->st, &in), 0);
        assert_int_equal(
            f->ops->job_list(f->st, &(struct job_filter){.tenant = "t1", .state = -1, .limit = 10},
                             &v),
            0);
        assert_int_equal(v.n, 1);
        assert_job_equal(&in, &v.v[0]);
        job_vec_free(&v);
        job_free(&in);
        commit(f);
}

/* ---- id queries ---- */

static void ready_ids_claim_order(void **state)
{
        struct fixture *f = *state;
        int64_t ids[16], low, norm_late, norm_early_b, norm_early_a, crit, high;
        int n;

        begin(f);
        low = put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_LOW, .run_at = 10});
        norm_late = put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_NORMAL, .run_at = 30});
        norm_early_a =
            put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_NORMAL, .run_at = 20});
        norm_early_b =
            put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_NORMAL, .run_at = 20});
        crit = put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_CRITICAL, .run_at = 99});
        high = put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_HIGH, .run_at = 50});
        /* Not queued, or not this queue/tenant: never offered. */
        put(f, (struct spec){.state = JOB_SCHEDULED, .prio = PRIO_CRITICAL, .run_at = 1});
        put(f, (struct spec){.state = JOB_RUNNING, .prio = PRIO_CRITICAL, .run_at = 1});
        put(f, (struct spec){.state = JOB_RETRYING, .prio = PRIO_CRITICAL, .run_at = 1});
        put(f, (struct spec){.state = JOB_PENDING, .prio = PRIO_CRITICAL, .run_at = 1});
        put(f, (struct spec){.state = JOB_COMPLETED, .prio = PRIO_CRITICAL, .run_at = 1});
        put(f, (struct spec){.state = JOB_QUEUED, .queue = "q2", .prio = PRIO_CRITICAL});
        put(f, (struct spec){.state = JOB_QUEUED, .tenant = "t2", .prio = PRIO_CRITICAL});
        commit(f);

        begin(f);
        assert_int_equal(f->ops->job_ready_ids(f->st, "t1", "q1", 16, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){crit, high, norm_early_a, norm_early_b, norm_late, low}, 6);
        assert_int_equal(f->ops->job_ready_ids(f->st, "t1", "q1", 2, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){crit, high}, 2);
        assert_int_equal(f->ops->job_ready_ids(f->st, "t1", "q1", 0, ids, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_ready_ids(f->st, "t1", "empty", 16, ids, &n), 0);
        assert_int_equal(n, 0);
        /* Claiming one removes it from the ready set. */
        assert_int_equal(set_state(f, crit, JOB_RUNNING), 0);
        assert_int_equal(f->ops->job_ready_ids(f->st, "t1", "q1", 1, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){high}, 1);
        commit(f);
}

static void due_ids_boundaries(void **state)
{
        struct fixture *f = *state;
        int64_t ids[16], s_past, s_now, r_past;
        int n;

        begin(f);
        s_past = put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0 - 5});
        s_now = put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0});
        put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0 + 1});
        r_past = put(f, (struct spec){.state = JOB_RETRYING, .run_at = T0 - 100, .tenant = "t2"});
        put(f, (struct spec){.state = JOB_RETRYING, .run_at = T0 + 1000});
        /* Other states are never due, whatever their run_at. */
        put(f, (struct spec){.state = JOB_QUEUED, .run_at = T0 - 1000});
        put(f, (struct spec){.state = JOB_RUNNING, .run_at = T0 - 1000});
        put(f, (struct spec){.state = JOB_PENDING, .run_at = T0 - 1000});
        put(f, (struct spec){.state = JOB_DEAD, .run_at = T0 - 1000});
        commit(f);

        begin(f);
        assert_int_equal(f->ops->job_due_ids(f->st, T0, 16, ids, &n), 0);
        assert_id_set(ids, n, (int64_t[]){s_past, s_now, r_past}, 3);
        assert_int_equal(f->ops->job_due_ids(f->st, T0 - 1, 16, ids, &n), 0);
        assert_id_set(ids, n, (int64_t[]){s_past, r_past}, 2);
        assert_int_equal(f->ops->job_due_ids(f->st, T0 - 1000, 16, ids, &n), 0);
        assert_int_equal(n, 0);
        /* A backlog larger than max is promoted in due order, earliest first. */
        assert_int_equal(f->ops->job_due_ids(f->st, T0, 2, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){r_past, s_past}, 2);
        assert_int_equal(f->ops->job_due_ids(f->st, T0, 0, ids, &n), 0);
        assert_int_equal(n, 0);
        commit(f);
}

static void expired_ids_boundaries(void **state)
{
        struct fixture *f = *state;
        int64_t ids[16], a, b;
        int n;

        begin(f);
        a = put(f, (struct spec){.state = JOB_RUNNING, .lease_until = T0 - 1});
        b = put(f, (struct spec){.state = JOB_RUNNING, .lease_until = T0, .tenant = "t2"});
        put(f, (struct spec){.state = JOB_RUNNING, .lease_until = T0 + 1});
        put(f, (struct spec){.state = JOB_QUEUED, .lease_until = T0 - 1000});
        put(f, (struct spec){.state = JOB_COMPLETED, .lease_until = T0 - 1000});
        put(f, (struct spec){.state = JOB_RETRYING, .lease_until = T0 - 1000});
        commit(f);

        begin(f);
        assert_int_equal(f->ops->job_expired_ids(f->st, T0, 16, ids, &n), 0);
        assert_id_set(ids, n, (int64_t[]){a, b}, 2);
        assert_int_equal(f->ops->job_expired_ids(f->st, T0 - 1, 16, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){a}, 1);
        /* Earliest lease first when more are due than max. */
        assert_int_equal(f->ops->job_expired_ids(f->st, T0 + 1000, 1, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){a}, 1);
        assert_int_equal(f->ops->job_expired_ids(f->st, T0 - 2, 16, ids, &n), 0);
        assert_int_equal(n, 0);
        commit(f);
}

static void state_ids_after_and_max(void **state)
{
        struct fixture *f = *state;
        int64_t ids[16], d[5];
        int n;

        begin(f);
        for (int i = 0; i < 5; i++) {
                d[i] = put(f, (struct spec){.state = JOB_DEAD, .finished_at = T0});
                put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0});
                put(f, (struct spec){.state = JOB_DEAD, .queue = "q2"});
                put(f, (struct spec){.state = JOB_DEAD, .tenant = "t2"});
        }
        commit(f);

        begin(f);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_DEAD, 0, 16, ids, &n), 0);
        assert_ids(ids, n, d, 5);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_DEAD, 0, 2, ids, &n), 0);
        assert_ids(ids, n, d, 2);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_DEAD, d[1], 2, ids, &n), 0);
        assert_ids(ids, n, d + 2, 2);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_DEAD, d[4], 2, ids, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_QUEUED, 0, 16, ids, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_state_ids(f->st, "t3", "q1", JOB_DEAD, 0, 16, ids, &n), 0);
        assert_int_equal(n, 0);
        commit(f);
}

/* ---- purge and delete ---- */

static void job_purge_by_state_and_age(void **state)
{
        struct fixture *f = *state;
        int64_t c_old1, c_old2, c_edge, c_new, d_old, x_old, r_old;
        int n = -1;

        begin(f);
        c_old1 = put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 - 300});
        c_old2 =
            put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 - 200, .tenant = "t2"});
        c_edge = put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0});
        c_new = put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 + 10});
        d_old = put(f, (struct spec){.state = JOB_DEAD, .finished_at = T0 - 300});
        x_old = put(f, (struct spec){.state = JOB_CANCELLED, .finished_at = T0 - 300});
        r_old = put(f, (struct spec){.state = JOB_RUNNING, .finished_at = T0 - 300});
        commit(f);

        /* finished_at < before_ms, oldest first, at most max. */
        begin(f);
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0, 1, &n), 0);
        assert_int_equal(n, 1);
        assert_false(exists(f, c_old1));
        assert_true(exists(f, c_old2));
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(exists(f, c_old2));
        assert_true(exists(f, c_edge));
        assert_true(exists(f, c_new));
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0, 100, &n), 0);
        assert_int_equal(n, 0);
        /* Other states are untouched until purged by their own state. */
        assert_true(exists(f, d_old));
        assert_true(exists(f, x_old));
        assert_true(exists(f, r_old));
        assert_int_equal(f->ops->job_purge(f->st, JOB_DEAD, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(exists(f, d_old));
        assert_true(exists(f, x_old));
        assert_int_equal(f->ops->job_purge(f->st, JOB_CANCELLED, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(exists(f, x_old));
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0 + 11, 0, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0 + 11, 100, &n), 0);
        assert_int_equal(n, 2);
        assert_true(exists(f, r_old));
        commit(f);
}

static void job_delete_one(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c;

        begin(f);
        a = put(f, (struct spec){.state = JOB_DEAD});
        b = put(f, (struct spec){.state = JOB_DEAD});
        c = put(f, (struct spec){.state = JOB_DEAD, .tenant = "t2"});
        assert_int_equal(f->ops->job_delete(f->st, "t2", a), BATON_ENOTFOUND);
        assert_true(exists(f, a));
        assert_int_equal(f->ops->job_delete(f->st, "t1", a), 0);
        assert_false(exists(f, a));
        assert_true(exists(f, b));
        assert_int_equal(f->ops->job_delete(f->st, "t1", a), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_delete(f->st, NULL, c), 0);
        assert_false(exists(f, c));
        commit(f);
}

/* ---- deadlines ---- */

static void deadlines_each_field(void **state)
{
        struct fixture *f = *state;
        struct store_deadlines d;

        begin(f);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.run_at_ms, 0);
        assert_int_equal(d.lease_until_ms, 0);
        assert_int_equal(d.completed_min_ms, 0);
        assert_int_equal(d.dead_min_ms, 0);
        assert_int_equal(d.idem_min_ms, 0);

        /* Decoys first: states that do not count for a field carry earlier times. */
        put(f, (struct spec){.state = JOB_QUEUED,
                             .run_at = T0 + 1,
                             .lease_until = T0 + 1,
                             .finished_at = T0 + 1});
        put(f, (struct spec){.state = JOB_PENDING, .run_at = T0 + 1});
        put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0 + 500});
        put(f, (struct spec){.state = JOB_RETRYING, .run_at = T0 + 300});
        put(f, (struct spec){.state = JOB_RUNNING, .run_at = T0 + 2, .lease_until = T0 + 700});
        put(f, (struct spec){.state = JOB_RUNNING, .lease_until = T0 + 600});
        put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 + 900});
        put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 + 800});
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.run_at_ms, T0 + 300);
        assert_int_equal(d.lease_until_ms, T0 + 600);
        assert_int_equal(d.completed_min_ms, T0 + 800);
        assert_int_equal(d.dead_min_ms, 0);
        assert_int_equal(d.idem_min_ms, 0);

        put(f, (struct spec){.state = JOB_DEAD, .finished_at = T0 + 1000});
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.dead_min_ms, T0 + 1000);
        put(f, (struct spec){.state = JOB_CANCELLED, .finished_at = T0 + 950});
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.dead_min_ms, T0 + 950);
        assert_int_equal(d.completed_min_ms, T0 + 800);

        assert_int_equal(f->ops->idem_put(f->st, &(struct idem_rec){.tenant = "t1",
                                                                    .key = "a",
                                                                    .job_id = 1,
                                                                    .payload_hash = "h",
                                                                    .expires_at_ms = T0 + 1234}),
                         0);
        assert_int_equal(f->ops->idem_put(f->st, &(struct idem_rec){.tenant = "t2",
                                                                    .key = "a",
                                                                    .job_id = 1,
                                                                    .payload_hash = "h",
                                                                    .expires_at_ms = T0 + 1200}),
                         0);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.idem_min_ms, T0 + 1200);
        commit(f);
}

/* ---- idempotency records ---- */

static void idem_put(struct fixture *f, const char *tenant, const char *key, int64_t job_id,
                     const char *hash, int64_t expires_ms)
{
        struct idem_rec r = {.tenant = (char *)tenant,
                             .key = (char *)key,
                             .job_id = job_id,
                             .payload_hash = (char *)hash,
                             .expires_at_ms = expires_ms};

        assert_int_equal(f->ops->idem_put(f->st, &r), 0);
}

static void assert_idem(struct fixture *f, const char *tenant, const char *key, int64_t job_id,
                        const char *hash, int64_t expires_ms)
{
        struct idem_rec r = {0};

        assert_int_equal(f->ops->idem_get(f->st, tenant, key, &r), 0);
        assert_string_equal(r.tenant, tenant);
        assert_string_equal(r.key, key);
        assert_int_equal(r.job_id, job_id);
        assert_string_equal(r.payload_hash, hash);
        assert_int_equal(r.expires_at_ms, expires_ms);
        idem_rec_free(&r);
}

static void idem_get_put_replace(void **state)
{
        struct fixture *f = *state;
        struct idem_rec r = {0};

        begin(f);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "k", &r), BATON_ENOTFOUND);
        idem_put(f, "t1", "k", 11, "aaaa", T0 + 10);
        assert_idem(f, "t1", "k", 11, "aaaa", T0 + 10);
        assert_int_equal(f->ops->idem_get(f->st, "t2", "k", &r), BATON_ENOTFOUND);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "k2", &r), BATON_ENOTFOUND);
        idem_put(f, "t2", "k", 22, "bbbb", T0 + 20);
        assert_idem(f, "t1", "k", 11, "aaaa", T0 + 10);
        assert_idem(f, "t2", "k", 22, "bbbb", T0 + 20);
        /* put replaces the record of the same (tenant, key). */
        idem_put(f, "t1", "k", 33, "cccc", T0 + 30);
        assert_idem(f, "t1", "k", 33, "cccc", T0 + 30);
        assert_idem(f, "t2", "k", 22, "bbbb", T0 + 20);
        commit(f);
}

static void idem_purge_expired(void **state)
{
        struct fixture *f = *state;
        struct idem_rec r = {0};
        int n = -1;

        begin(f);
        idem_put(f, "t1", "old1", 1, "h", T0 - 300);
        idem_put(f, "t2", "old2", 2, "h", T0 - 200);
        idem_put(f, "t1", "edge", 3, "h", T0);
        idem_put(f, "t1", "live", 4, "h", T0 + 1);
        commit(f);

        /* A record has expired at its expires_at: expires_at <= before_ms goes. */
        begin(f);
        assert_int_equal(f->ops->idem_purge(f->st, T0, 1, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "old1", &r), BATON_ENOTFOUND);
        assert_idem(f, "t2", "old2", 2, "h", T0 - 200);
        assert_int_equal(f->ops->idem_purge(f->st, T0, 100, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "edge", &r), BATON_ENOTFOUND);
        assert_idem(f, "t1", "live", 4, "h", T0 + 1);
        assert_int_equal(f->ops->idem_purge(f->st, T0, 100, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->idem_purge(f->st, T0 + 1, 0, &n), 0);
        assert_int_equal(n, 0);
        commit(f);
}

/* idem_take writes a record unless a live one holds the key: a record that
 * has expired at now is replaced; this transaction's own placeholder (job id
 * 0) is never replaced. idem_swap replaces only the record of the job id it
 * names. */
static void idem_take_and_swap(void **state)
{
        struct fixture *f = *state;
        struct idem_rec want = {.tenant = (char *)"t1",
                                .key = (char *)"k",
                                .job_id = 0,
                                .payload_hash = (char *)"aaaa",
                                .expires_at_ms = T0 + 100};
        struct idem_rec held = {0};

        begin(f);
        assert_int_equal(f->ops->idem_take(f->st, &want, T0, &held), 0);
        assert_null(held.tenant);
        assert_idem(f, "t1", "k", 0, "aaaa", T0 + 100);
        /* The placeholder is this transaction's: a second take meets it. */
        assert_int_equal(f->ops->idem_take(f->st, &want, T0 + 200, &held), BATON_ECONFLICT);
        assert_int_equal(held.job_id, 0);
        idem_rec_free(&held);
        idem_put(f, "t1", "k", 11, "aaaa", T0 + 100);
        commit(f);

        begin(f);
        want.payload_hash = (char *)"bbbb";
        want.expires_at_ms = T0 + 300;
        /* Live: the holder comes back and nothing changes. */
        assert_int_equal(f->ops->idem_take(f->st, &want, T0 + 99, &held), BATON_ECONFLICT);
        assert_string_equal(held.tenant, "t1");
        assert_string_equal(held.key, "k");
        assert_int_equal(held.job_id, 11);
        assert_string_equal(held.payload_hash, "aaaa");
        assert_int_equal(held.expires_at_ms, T0 + 100);
        idem_rec_free(&held);
        assert_idem(f, "t1", "k", 11, "aaaa", T0 + 100);
        /* Another tenant's key is another key. */
        want.tenant = (char *)"t2";
        assert_int_equal(f->ops->idem_take(f->st, &want, T0, &held), 0);
        want.tenant = (char *)"t1";
        /* Expired at its expires_at: taken over. */
        assert_int_equal(f->ops->idem_take(f->st, &want, T0 + 100, &held), 0);
        assert_idem(f, "t1", "k", 0, "bbbb", T0 + 300);
        idem_put(f, "t1", "k", 12, "bbbb", T0 + 300);
        /* swap: only the record of the job id named. */
        want.payload_hash = (char *)"cccc";
        assert_int_equal(f->ops->idem_swap(f->st, &want, 11), BATON_ECONFLICT);
        assert_idem(f, "t1", "k", 12, "bbbb", T0 + 300);
        assert_int_equal(f->ops->idem_swap(f->st, &want, 12), 0);
        assert_idem(f, "t1", "k", 0, "cccc", T0 + 300);
        want.key = (char *)"none";
        assert_int_equal(f->ops->idem_swap(f->st, &want, 0), BATON_ECONFLICT);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "none", &held), BATON_ENOTFOUND);
        commit(f);
}

/* ---- queues ---- */

static void queue_ensure_get_put(void **state)
{
        struct fixture *f = *state;
        struct queue_rec q = {0};

        begin(f);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "mail", &q), BATON_ENOTFOUND);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "mail", T0), 0);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "mail", &q), 0);
        assert_string_equal(q.tenant, "t1");
        assert_string_equal(q.name, "mail");
        assert_false(q.paused);
        assert_int_equal(q.created_at_ms, T0);
        assert_int_equal(q.updated_at_ms, T0);
        queue_rec_free(&q);
        assert_int_equal(f->ops->queue_get(f->st, "t2", "mail", &q), BATON_ENOTFOUND);

        /* Update through put, then ensure again: the row is left as it is. */
        assert_int_equal(f->ops->queue_put(f->st, &(struct queue_rec){.tenant = "t1",
                                                                      .name = "mail",
                                                                      .paused = true,
                                                                      .created_at_ms = T0,
                                                                      .updated_at_ms = T0 + 5}),
                         0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "mail", T0 + 99), 0);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "mail", &q), 0);
        assert_true(q.paused);
        assert_int_equal(q.created_at_ms, T0);
        assert_int_equal(q.updated_at_ms, T0 + 5);
        queue_rec_free(&q);

        /* put inserts a queue that does not exist yet. */
        assert_int_equal(f->ops->queue_put(f->st, &(struct queue_rec){.tenant = "t2",
                                                                      .name = "sms",
                                                                      .paused = true,
                                                                      .created_at_ms = T0 + 1,
                                                                      .updated_at_ms = T0 + 2}),
                         0);
        assert_int_equal(f->ops->queue_get(f->st, "t2", "sms", &q), 0);
        assert_true(q.paused);
        assert_int_equal(q.created_at_ms, T0 + 1);
        assert_int_equal(q.updated_at_ms, T0 + 2);
        queue_rec_free(&q);
        commit(f);
}

static void list_queue_names(struct fixture *f, const char *tenant, const char *after, int limit,
                             const char **want, int n_want)
{
        struct queue_rec *v = NULL;
        int n = -1;

        assert_int_equal(f->ops->queue_list(f->st, tenant, after, limit, &v, &n), 0);
        assert_int_equal(n, n_want);
        for (int i = 0; i < n; i++) {
                assert_string_equal(v[i].tenant, tenant);
                assert_string_equal(v[i].name, want[i]);
                queue_rec_free(&v[i]);
        }
        free(v);
}

static void queue_list_pages(void **state)
{
        struct fixture *f = *state;
        const char *names[] = {"delta", "alpha", "echo", "charlie", "bravo"};

        begin(f);
        for (size_t i = 0; i < BATON_ARRAY_LEN(names); i++)
                assert_int_equal(f->ops->queue_ensure(f->st, "t1", names[i], T0), 0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t2", "aardvark", T0), 0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t2", "zulu", T0), 0);
        commit(f);

        begin(f);
        list_queue_names(f, "t1", NULL, 100,
                         (const char *[]){"alpha", "bravo", "charlie", "delta", "echo"}, 5);
        list_queue_names(f, "t1", NULL, 2, (const char *[]){"alpha", "bravo"}, 2);
        list_queue_names(f, "t1", "bravo", 2, (const char *[]){"charlie", "delta"}, 2);
        list_queue_names(f, "t1", "delta", 2, (const char *[]){"echo"}, 1);
        list_queue_names(f, "t1", "echo", 2, NULL, 0);
        list_queue_names(f, "t1", "b", 1, (const char *[]){"bravo"}, 1);
        list_queue_names(f, "t2", NULL, 100, (const char *[]){"aardvark", "zulu"}, 2);
        list_queue_names(f, "t3", NULL, 100, NULL, 0);
        {
                struct queue_rec *v = NULL;
                int n = -1;

                assert_int_equal(f->ops->queue_list(f->st, "t1", NULL, 0, &v, &n), BATON_EINVAL);
                assert_null(v);
                assert_int_equal(n, 0);
        }
        commit(f);
}

static void queue_counts_per_state(void **state)
{
        struct fixture *f = *state;
        struct queue_counts c;

        begin(f);
        assert_int_equal(f->ops->queue_counts(f->st, "t1", "q1", &c), 0);
        for (int s = 0; s < JOB_STATE_COUNT; s++)
                assert_int_equal(c.by_state[s], 0);
        assert_int_equal(c.oldest_ready_ms, 0);

        put(f, (struct spec){.state = JOB_QUEUED, .ready_at = T0 + 50});
        put(f, (struct spec){.state = JOB_QUEUED, .ready_at = T0 + 40});
        put(f, (struct spec){.state = JOB_RUNNING, .ready_at = T0 + 1});
        put(f, (struct spec){.state = JOB_SCHEDULED, .ready_at = T0 + 2});
        for (int i = 0; i < 3; i++)
                put(f, (struct spec){.state = JOB_COMPLETED});
        put(f, (struct spec){.state = JOB_DEAD});
        put(f, (struct spec){.state = JOB_QUEUED, .queue = "q2", .ready_at = T0 + 3});
        put(f, (struct spec){.state = JOB_QUEUED, .tenant = "t2", .ready_at = T0 + 4});
        assert_int_equal(f->ops->queue_counts(f->st, "t1", "q1", &c), 0);
        assert_int_equal(c.by_state[JOB_PENDING], 0);
        assert_int_equal(c.by_state[JOB_SCHEDULED], 1);
        assert_int_equal(c.by_state[JOB_QUEUED], 2);
        assert_int_equal(c.by_state[JOB_RUNNING], 1);
        assert_int_equal(c.by_state[JOB_RETRYING], 0);
        assert_int_equal(c.by_state[JOB_COMPLETED], 3);
        assert_int_equal(c.by_state[JOB_DEAD], 1);
        assert_int_equal(c.by_state[JOB_CANCELLED], 0);
        assert_int_equal(c.oldest_ready_ms, T0 + 40);
        assert_int_equal(f->ops->queue_counts(f->st, "t2", "q1", &c), 0);
        assert_int_equal(c.by_state[JOB_QUEUED], 1);
        assert_int_equal(c.oldest_ready_ms, T0 + 4);
        commit(f);
}

/* ---- tenants, API keys and the audit log ---- */

/* Gives every column of k a distinct, non-default value derived from seed; the
 * caller frees it with key_rec_free. */
static void key_fill(struct key_rec *k, const char *id, const char *tenant, int seed)
{
        char s[80];

        memset(k, 0, sizeof(*k));
        k->id = xdup(id);
        k->tenant = xdup(tenant);
        snprintf(s, sizeof(s), "key name %d: it's \"quoted\" \u00e9", seed);
        k->name = xdup(s);
        snprintf(s, sizeof(s), "%064d", seed);
        k->digest = xdup(s);
        snprintf(s, sizeof(s), "%064d", seed + 1);
        k->prev_digest = xdup(s);
        k->prev_until_ms = T0 + seed + 1;
        k->scopes = 0x41u + (uint32_t)seed; /* bits, not just small numbers */
        k->created_at_ms = T0 + seed + 2;
        k->expires_at_ms = T0 + seed + 3;
        k->revoked_at_ms = T0 + seed + 4;
        k->rotated_at_ms = T0 + seed + 5;
        k->rate_max = seed + 6;
        k->rate_per_ms = seed + 7;
        snprintf(s, sizeof(s), "kcreator%d", seed);
        k->created_by = xdup(s);
}

/* A plain key with the optional columns empty. */
static void key_plain(struct key_rec *k, const char *id, const char *tenant)
{
        memset(k, 0, sizeof(*k));
        k->id = xdup(id);
        k->tenant = xdup(tenant);
        k->digest = xdup("0000000000000000000000000000000000000000000000000000000000000000");
        k->scopes = 1;
        k->created_at_ms = T0;
}

static void key_put(struct fixture *f, const char *id, const char *tenant)
{
        struct key_rec k;

        key_plain(&k, id, tenant);
        assert_int_equal(f->ops->key_insert(f->st, &k), 0);
        key_rec_free(&k);
}

static void assert_key_equal(const struct key_rec *a, const struct key_rec *b)
{
        assert_str_eq(a->id, b->id);
        assert_str_eq(a->tenant, b->tenant);
        assert_str_eq(a->name, b->name);
        assert_str_eq(a->digest, b->digest);
        assert_str_eq(a->prev_digest, b->prev_digest);
        assert_int_equal(a->prev_until_ms, b->prev_until_ms);
        assert_int_equal(a->scopes, b->scopes);
        assert_int_equal(a->created_at_ms, b->created_at_ms);
        assert_int_equal(a->expires_at_ms, b->expires_at_ms);
        assert_int_equal(a->revoked_at_ms, b->revoked_at_ms);
        assert_int_equal(a->rotated_at_ms, b->rotated_at_ms);
        assert_int_equal(a->rate_max, b->rate_max);
        assert_int_equal(a->rate_per_ms, b->rate_per_ms);
        assert_str_eq(a->created_by, b->created_by);
}

static void assert_key_stored(struct fixture *f, const struct key_rec *want)
{
        struct key_rec got = {0};

        assert_int_equal(f->ops->key_get(f->st, want->id, &got), 0);
        assert_key_equal(want, &got);
        key_rec_free(&got);
}

static void key_roundtrip_every_column(void **state)
{
        struct fixture *f = *state;
        struct key_rec a, b;

        key_fill(&a, "k0000000000000001", "t1", 3);
        /* The top scope bit too: scopes is unsigned and must not be cut. */
        a.scopes = 0x80000041u;
        key_plain(&b, "k0000000000000002", "t2");
        begin(f);
        assert_int_equal(f->ops->key_insert(f->st, &a), 0);
        assert_int_equal(f->ops->key_insert(f->st, &b), 0);
        assert_key_stored(f, &a);
        /* NULL strings and zero instants come back as NULL and zero. */
        assert_key_stored(f, &b);
        commit(f);
        reopen(f);
        begin(f);
        assert_key_stored(f, &a);
        assert_key_stored(f, &b);
        commit(f);
        key_rec_free(&a);
        key_rec_free(&b);
}

static void key_insert_duplicate_id_conflicts(void **state)
{
        struct fixture *f = *state;
        struct key_rec a, dup;

        key_fill(&a, "k00000000000000aa", "t1", 1);
        key_fill(&dup, "k00000000000000aa", "t2", 2);
        begin(f);
        assert_int_equal(f->ops->key_insert(f->st, &a), 0);
        /* Same id, even in another tenant: a conflict that changes nothing and
         * leaves the transaction usable. */
        assert_int_equal(f->ops->key_insert(f->st, &dup), BATON_ECONFLICT);
        assert_key_stored(f, &a);
        key_put(f, "k00000000000000ab", "t1");
        commit(f);
        begin(f);
        assert_key_stored(f, &a);
        commit(f);
        key_rec_free(&a);
        key_rec_free(&dup);
}

static void key_get_not_found(void **state)
{
        struct fixture *f = *state;
        struct key_rec out = {.id = (char *)"sentinel"};

        begin(f);
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000404", &out), BATON_ENOTFOUND);
        key_put(f, "k0000000000000001", "t1");
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000002", &out), BATON_ENOTFOUND);
        assert_int_equal(f->ops->key_get(f->st, "", &out), BATON_ENOTFOUND);
        /* out is left untouched on a miss. */
        assert_string_equal(out.id, "sentinel");
        commit(f);
}

static void key_update_every_column(void **state)
{
        struct fixture *f = *state;
        struct key_rec a, upd, want, miss;

        key_fill(&a, "k0000000000000001", "t1", 1);
        key_fill(&upd, "k0000000000000001", "other-tenant", 100);
        begin(f);
        assert_int_equal(f->ops->key_insert(f->st, &a), 0);
        key_put(f, "k0000000000000002", "t1");
        assert_int_equal(f->ops->key_update(f->st, &upd), 0);
        /* Every column changed but id, tenant and created_at. */
        want = upd;
        want.tenant = a.tenant;
        want.created_at_ms = a.created_at_ms;
        assert_key_stored(f, &want);
        commit(f);

        /* And back to NULLs and zeros. */
        free(upd.name);
        free(upd.prev_digest);
        free(upd.created_by);
        upd.name = upd.prev_digest = upd.created_by = NULL;
        upd.prev_until_ms = upd.expires_at_ms = upd.revoked_at_ms = upd.rotated_at_ms = 0;
        upd.rate_max = upd.rate_per_ms = 0;
        upd.scopes = 0;
        begin(f);
        assert_int_equal(f->ops->key_update(f->st, &upd), 0);
        commit(f);
        reopen(f);
        begin(f);
        want = upd;
        want.tenant = a.tenant;
        want.created_at_ms = a.created_at_ms;
        assert_key_stored(f, &want);
        /* The other key was not touched. */
        key_plain(&miss, "k0000000000000002", "t1");
        assert_key_stored(f, &miss);
        key_rec_free(&miss);
        key_plain(&miss, "k0000000000000404", "t1");
        assert_int_equal(f->ops->key_update(f->st, &miss), BATON_ENOTFOUND);
        assert_int_equal(f->ops->key_get(f->st, miss.id, &(struct key_rec){0}), BATON_ENOTFOUND);
        commit(f);
        key_rec_free(&miss);
        key_rec_free(&a);
        key_rec_free(&upd);
}

/* Lists keys and compares their ids with want. */
static void list_key_ids(struct fixture *f, const char *tenant, const char *after, int limit,
                         const char *const *want, int n_want)
{
        struct key_rec *v = NULL;
        int n = -1;

        assert_int_equal(f->ops->key_list(f->st, tenant, after, limit, &v, &n), 0);
        assert_int_equal(n, n_want);
        for (int i = 0; i < n; i++) {
                assert_string_equal(v[i].id, want[i]);
                if (tenant)
                        assert_string_equal(v[i].tenant, tenant);
        }
        key_recs_free(v, n);
}

static void key_list_by_tenant_and_all(void **state)
{
        struct fixture *f = *state;
        struct key_rec full, *v = NULL;
        int n = -1;
        /* Inserted out of order, in two tenants. */
        const char *ids[] = {"k0000000000000005", "k0000000000000001", "k0000000000000004",
                             "k0000000000000002", "k0000000000000003", "k0000000000000006"};
        const char *tenants[] = {"t1", "t1", "t2", "t1", "t2", "t1"};

        begin(f);
        for (int i = 0; i < 6; i++)
                key_put(f, ids[i], tenants[i]);
        commit(f);
        begin(f);
        list_key_ids(f, "t1", NULL, 100,
                     (const char *[]){"k0000000000000001", "k0000000000000002", "k0000000000000005",
                                      "k0000000000000006"},
                     4);
        list_key_ids(f, "t1", NULL, 2, (const char *[]){"k0000000000000001", "k0000000000000002"},
                     2);
        list_key_ids(f, "t1", "k0000000000000002", 2,
                     (const char *[]){"k0000000000000005", "k0000000000000006"}, 2);
        list_key_ids(f, "t1", "k0000000000000006", 2, NULL, 0);
        /* A cursor that is not an existing id works too. */
        list_key_ids(f, "t1", "k0000000000000003", 1, (const char *[]){"k0000000000000005"}, 1);
        list_key_ids(f, "t2", NULL, 100, (const char *[]){"k0000000000000003", "k0000000000000004"},
                     2);
        list_key_ids(f, "nobody", NULL, 100, NULL, 0);
        /* NULL tenant: every key, every tenant. */
        list_key_ids(f, NULL, NULL, 100,
                     (const char *[]){"k0000000000000001", "k0000000000000002", "k0000000000000003",
                                      "k0000000000000004", "k0000000000000005",
                                      "k0000000000000006"},
                     6);
        list_key_ids(
            f, NULL, NULL, 3,
            (const char *[]){"k0000000000000001", "k0000000000000002", "k0000000000000003"}, 3);
        list_key_ids(
            f, NULL, "k0000000000000003", 3,
            (const char *[]){"k0000000000000004", "k0000000000000005", "k0000000000000006"}, 3);
        assert_int_equal(f->ops->key_list(f->st, "t1", NULL, 0, &v, &n), BATON_EINVAL);
        assert_null(v);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->key_list(f->st, NULL, NULL, -1, &v, &n), BATON_EINVAL);
        commit(f);

        /* Lists return full rows. */
        key_fill(&full, "k0000000000000007", "t3", 9);
        begin(f);
        assert_int_equal(f->ops->key_insert(f->st, &full), 0);
        assert_int_equal(f->ops->key_list(f->st, "t3", NULL, 10, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_key_equal(&full, &v[0]);
        key_recs_free(v, n);
        commit(f);
        key_rec_free(&full);
}

static void key_count_counts_every_key(void **state)
{
        struct fixture *f = *state;
        struct key_rec k = {0};
        int64_t n = -1;

        begin(f);
        assert_int_equal(f->ops->key_count(f->st, &n), 0);
        assert_int_equal(n, 0);
        key_put(f, "k0000000000000001", "t1");
        key_put(f, "k0000000000000002", "t2");
        key_put(f, "k0000000000000003", "t2");
        assert_int_equal(f->ops->key_count(f->st, &n), 0);
        assert_int_equal(n, 3);
        /* A revoked key still counts. */
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000002", &k), 0);
        k.revoked_at_ms = T0 + 1;
        assert_int_equal(f->ops->key_update(f->st, &k), 0);
        key_rec_free(&k);
        assert_int_equal(f->ops->key_count(f->st, &n), 0);
        assert_int_equal(n, 3);
        commit(f);
}

static void tenant_ensure_twice(void **state)
{
        struct fixture *f = *state;

        begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0 + 1), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, "acme", T0), 0);
        commit(f);
        begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0 + 2), 0);
        commit(f);
        reopen(f);
        begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "acme", T0 + 3), 0);
        commit(f);
}

/* Fills r with distinct values; the caller frees it with audit_rec_free. */
static void audit_fill(struct audit_rec *r, const char *tenant, const char *action,
                       const char *key_id, int seed)
{
        char s[80];

        memset(r, 0, sizeof(*r));
        r->at_ms = T0 + seed;
        r->key_id = xdup(key_id);
        r->tenant = xdup(tenant);
        r->action = xdup(action);
        snprintf(s, sizeof(s), "target-%d", seed);
        r->target = xdup(s);
        snprintf(s, sizeof(s), "req-%d", seed);
        r->request_id = xdup(s);
        r->status = 200 + seed;
        snprintf(s, sizeof(s), "code_%d", seed);
        r->code = xdup(s);
        snprintf(s, sizeof(s), "{\"seed\":%d,\"s\":\"it's \\\"q\\\"\"}", seed);
        r->detail = xdup(s);
}

static void assert_audit_equal(const struct audit_rec *a, const struct audit_rec *b)
{
        assert_int_equal(a->id, b->id);
        assert_int_equal(a->at_ms, b->at_ms);
        assert_str_eq(a->key_id, b->key_id);
        assert_str_eq(a->tenant, b->tenant);
        assert_str_eq(a->action, b->action);
        assert_str_eq(a->target, b->target);
        assert_str_eq(a->request_id, b->request_id);
        assert_int_equal(a->status, b->status);
        assert_str_eq(a->code, b->code);
        assert_str_eq(a->detail, b->detail);
}

/* Inserts one audit record and returns its id. */
static int64_t audit_put(struct fixture *f, const char *tenant, const char *action,
                         const char *key_id, int seed)
{
        struct audit_rec r;
        int64_t id;

        audit_fill(&r, tenant, action, key_id, seed);
        assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
        id = r.id;
        assert_true(id > 0);
        audit_rec_free(&r);
        return id;
}

static void audit_insert_ids_ascend_and_roundtrip(void **state)
{
        struct fixture *f = *state;
        struct audit_rec a, b, bad = {0}, *v = NULL;
        struct audit_filter all = {.limit = 100};
        int64_t last = 0;
        int n = -1;

        audit_fill(&a, "t1", "keys.create", "k0000000000000001", 1);
        /* Only action is required: no key (auth off), no tenant (a refused
         * call), no target, no request id, no code, no detail. */
        memset(&b, 0, sizeof(b));
        b.at_ms = T0 + 2;
        b.action = xdup("keys.revoke");
        b.status = 401;
        begin(f);
        assert_int_equal(f->ops->audit_insert(f->st, &a), 0);
        assert_int_equal(f->ops->audit_insert(f->st, &b), 0);
        assert_true(a.id > 0);
        assert_true(b.id > a.id);
        last = b.id;
        for (int i = 0; i < 5; i++) {
                int64_t id = audit_put(f, "t1", "queue.update", NULL, i);

                assert_true(id > last);
                last = id;
        }
        bad.at_ms = T0;
        assert_int_equal(f->ops->audit_insert(f->st, &bad), BATON_EINVAL);
        commit(f);
        reopen(f);
        begin(f);
        assert_true(audit_put(f, "t1", "x", NULL, 9) > last);
        assert_int_equal(f->ops->audit_list(f->st, &all, &v, &n), 0);
        assert_int_equal(n, 8);
        assert_audit_equal(&a, &v[0]);
        assert_audit_equal(&b, &v[1]);
        for (int i = 1; i < n; i++)
                assert_true(v[i].id > v[i - 1].id);
        audit_recs_free(v, n);
        commit(f);
        audit_rec_free(&a);
        audit_rec_free(&b);
}

/* Refusals with one bucket are one row whose n counts them (the first's time
 * kept, the latest's target and request id shown); rows without a bucket are
 * one per insert; audit_purge deletes rows older than its instant, oldest
 * first, at most max; deadlines report the oldest row. */
static void audit_refusals_share_a_bucket_and_purge(void **state)
{
        struct fixture *f = *state;
        struct audit_filter all = {.limit = 1000};
        struct store_deadlines d;
        struct audit_rec r, *v = NULL;
        int64_t first = 0;
        int n = -1, purged = -1;
        char rq[16];

        begin(f);
        for (int i = 0; i < 100; i++) {
                audit_fill(&r, "t1", "queue.update", "k0000000000000001", 1);
                r.at_ms = T0 + i;
                snprintf(rq, sizeof(rq), "r%d", i);
                free(r.request_id);
                r.request_id = xdup(rq);
                r.bucket = xdup("29923740|t1|k0000000000000001|queue.update|403|forbidden");
                assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
                assert_int_equal(r.n, i + 1);
                if (i == 0)
                        first = r.id;
                assert_int_equal(r.id, first);
                audit_rec_free(&r);
        }
        audit_fill(&r, "t1", "queue.update", "k0000000000000001", 2);
        r.at_ms = T0 + 500;
        r.bucket = xdup("29923741|t1|k0000000000000001|queue.update|403|forbidden");
        assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
        assert_int_equal(r.n, 1);
        audit_rec_free(&r);
        for (int i = 0; i < 3; i++) {
                audit_fill(&r, "t1", "queue.update", "k0000000000000001", 3);
                r.at_ms = T0 + 1000 + i;
                assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
                assert_int_equal(r.n, 1);
                audit_rec_free(&r);
        }
        commit(f);
        begin(f);
        assert_int_equal(f->ops->audit_list(f->st, &all, &v, &n), 0);
        assert_int_equal(n, 5);
        assert_int_equal(v[0].id, first);
        assert_int_equal(v[0].n, 100);
        assert_int_equal(v[0].at_ms, T0);
        assert_string_equal(v[0].request_id, "r99");
        assert_null(v[0].bucket);
        assert_int_equal(v[1].n, 1);
        assert_int_equal(v[4].n, 1);
        audit_recs_free(v, n);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.audit_min_ms, T0);
        /* Older than T0 + 1001: the bucket rows and the first plain one, two
         * per step. */
        assert_int_equal(f->ops->audit_purge(f->st, T0 + 1001, 2, &purged), 0);
        assert_int_equal(purged, 2);
        assert_int_equal(f->ops->audit_purge(f->st, T0 + 1001, 2, &purged), 0);
        assert_int_equal(purged, 1);
        assert_int_equal(f->ops->audit_purge(f->st, T0 + 1001, 2, &purged), 0);
        assert_int_equal(purged, 0);
        assert_int_equal(f->ops->audit_purge(f->st, T0 + 5000, 0, &purged), 0);
        assert_int_equal(purged, 0);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.audit_min_ms, T0 + 1001);
        assert_int_equal(f->ops->audit_list(f->st, &all, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0].at_ms, T0 + 1001);
        audit_recs_free(v, n);
        /* The same bucket again after its row was purged starts a new row. */
        audit_fill(&r, "t1", "queue.update", "k0000000000000001", 1);
        r.bucket = xdup("29923740|t1|k0000000000000001|queue.update|403|forbidden");
        assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
        assert_int_equal(r.n, 1);
        assert_true(r.id > first);
        audit_rec_free(&r);
        commit(f);
}

/* Lists audit records and compares their ids with want. */
static void list_audit_ids(struct fixture *f, struct audit_filter flt, const int64_t *want,
                           int n_want)
{
        struct audit_rec *v = NULL;
        int n = -1;

        assert_int_equal(f->ops->audit_list(f->st, &flt, &v, &n), 0);
        assert_int_equal(n, n_want);
        for (int i = 0; i < n; i++) {
                assert_int_equal(v[i].id, want[i]);
                if (flt.tenant)
                        assert_string_equal(v[i].tenant, flt.tenant);
                if (flt.action)
                        assert_string_equal(v[i].action, flt.action);
                if (flt.key_id)
                        assert_string_equal(v[i].key_id, flt.key_id);
        }
        audit_recs_free(v, n);
}

static void audit_list_filters_and_pages(void **state)
{
        struct fixture *f = *state;
        struct audit_rec *v = NULL;
        int64_t id[8];
        int n = -1;

        begin(f);
        id[0] = audit_put(f, "t1", "keys.create", "ka", 0);
        id[1] = audit_put(f, "t2", "keys.create", "kb", 1);
        id[2] = audit_put(f, "t1", "keys.revoke", "ka", 2);
        id[3] = audit_put(f, "t1", "keys.create", "kc", 3);
        id[4] = audit_put(f, "t2", "dead.purge", "kb", 4);
        id[5] = audit_put(f, NULL, "keys.create", NULL, 5);
        id[6] = audit_put(f, "t1", "keys.create", "ka", 6);
        id[7] = audit_put(f, "t2", "keys.revoke", "ka", 7);
        commit(f);

        begin(f);
        list_audit_ids(f, (struct audit_filter){.limit = 100}, id, 8);
        list_audit_ids(f, (struct audit_filter){.limit = 3}, id, 3);
        list_audit_ids(f, (struct audit_filter){.after_id = id[2], .limit = 3}, id + 3, 3);
        list_audit_ids(f, (struct audit_filter){.after_id = id[7], .limit = 3}, NULL, 0);
        /* One filter at a time. */
        list_audit_ids(f, (struct audit_filter){.tenant = "t1", .limit = 100},
                       (int64_t[]){id[0], id[2], id[3], id[6]}, 4);
        list_audit_ids(f, (struct audit_filter){.tenant = "t2", .limit = 100},
                       (int64_t[]){id[1], id[4], id[7]}, 3);
        list_audit_ids(f, (struct audit_filter){.tenant = "nobody", .limit = 100}, NULL, 0);
        list_audit_ids(f, (struct audit_filter){.action = "keys.create", .limit = 100},
                       (int64_t[]){id[0], id[1], id[3], id[5], id[6]}, 5);
        list_audit_ids(f, (struct audit_filter){.key_id = "ka", .limit = 100},
                       (int64_t[]){id[0], id[2], id[6], id[7]}, 4);
        /* Combined filters, each combination. */
        list_audit_ids(f,
                       (struct audit_filter){.tenant = "t1", .action = "keys.create", .limit = 100},
                       (int64_t[]){id[0], id[3], id[6]}, 3);
        list_audit_ids(f, (struct audit_filter){.tenant = "t1", .key_id = "ka", .limit = 100},
                       (int64_t[]){id[0], id[2], id[6]}, 3);
        list_audit_ids(f,
                       (struct audit_filter){.action = "keys.revoke", .key_id = "ka", .limit = 100},
                       (int64_t[]){id[2], id[7]}, 2);
        list_audit_ids(f,
                       (struct audit_filter){
                           .tenant = "t1", .action = "keys.create", .key_id = "ka", .limit = 100},
                       (int64_t[]){id[0], id[6]}, 2);
        /* Cursor and limit together with a filter. */
        list_audit_ids(f, (struct audit_filter){.tenant = "t1", .limit = 2},
                       (int64_t[]){id[0], id[2]}, 2);
        list_audit_ids(f, (struct audit_filter){.tenant = "t1", .after_id = id[2], .limit = 2},
                       (int64_t[]){id[3], id[6]}, 2);
        list_audit_ids(f, (struct audit_filter){.tenant = "t1", .after_id = id[6], .limit = 2},
                       NULL, 0);
        list_audit_ids(
            f, (struct audit_filter){.action = "keys.create", .after_id = id[1], .limit = 2},
            (int64_t[]){id[3], id[5]}, 2);
        assert_int_equal(f->ops->audit_list(f->st, &(struct audit_filter){.limit = 0}, &v, &n),
                         BATON_EINVAL);
        assert_null(v);
        assert_int_equal(n, 0);
        commit(f);
}

static void savepoint_rollback_discards_keys_and_audit(void **state)
{
        struct fixture *f = *state;
        struct key_rec k = {0};
        struct audit_rec *v = NULL;
        struct audit_filter all = {.limit = 100};
        int64_t kept, n64 = -1;
        int n = -1;

        begin(f);
        key_put(f, "k0000000000000001", "t1");
        kept = audit_put(f, "t1", "keys.create", "k0000000000000001", 0);
        commit(f);

        /* An op that writes a tenant, a key, a key change and an audit record,
         * then rolls back to its savepoint, leaves none of them. */
        begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, "t9", T0), 0);
        key_put(f, "k0000000000000002", "t9");
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000001", &k), 0);
        k.revoked_at_ms = T0 + 5;
        assert_int_equal(f->ops->key_update(f->st, &k), 0);
        key_rec_free(&k);
        audit_put(f, "t9", "keys.revoke", "k0000000000000001", 1);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        /* The next op of the batch commits. */
        assert_int_equal(f->ops->savepoint(f->st), 0);
        audit_put(f, "t1", "queue.update", NULL, 2);
        assert_int_equal(f->ops->release(f->st), 0);
        commit(f);

        /* And a whole transaction rolled back keeps nothing either. */
        begin(f);
        key_put(f, "k0000000000000003", "t1");
        audit_put(f, "t1", "keys.create", "k0000000000000003", 3);
        assert_int_equal(f->ops->rollback(f->st), 0);

        reopen(f);
        begin(f);
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000002", &k), BATON_ENOTFOUND);
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000003", &k), BATON_ENOTFOUND);
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000001", &k), 0);
        assert_int_equal(k.revoked_at_ms, 0);
        key_rec_free(&k);
        assert_int_equal(f->ops->key_count(f->st, &n64), 0);
        assert_int_equal(n64, 1);
        assert_int_equal(f->ops->audit_list(f->st, &all, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0].id, kept);
        assert_string_equal(v[1].action, "queue.update");
        audit_recs_free(v, n);
        commit(f);
}

/* ---- transactions and durability ---- */

static void savepoint_isolates_one_op(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c;

        begin(f);
        a = put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(f->ops->savepoint(f->st), 0);
        b = put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "discarded", T0), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        assert_false(exists(f, b));
        assert_int_equal(f->ops->savepoint(f->st), 0);
        /* The rolled-back op's key is free again. */
        c = put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        assert_int_equal(f->ops->release(f->st), 0);
        commit(f);

        begin(f);
        assert_true(exists(f, a));
        assert_true(exists(f, c));
        /* The rolled-back insert's id may be handed out again (SQLite's sequence
         * rolls back with it; nobody ever saw that id), so b is gone unless c
         * took its id. */
        if (b != c)
                assert_false(exists(f, b));
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &b), 0);
        assert_int_equal(b, c);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "discarded", &(struct queue_rec){0}),
                         BATON_ENOTFOUND);
        commit(f);
}

static void savepoint_after_failed_op(void **state)
{
        struct fixture *f = *state;
        int64_t a, c;

        /* An op that fails with a conflict is rolled back alone; the ops before
         * and after it commit. This is exactly what the group commit does. */
        begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        a = put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        assert_int_equal(f->ops->release(f->st), 0);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "q9", T0), 0);
        assert_int_equal(put_rc(f, (struct spec){.state = JOB_QUEUED, .key = "k"}, NULL),
                         BATON_ECONFLICT);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        c = put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(f->ops->release(f->st), 0);
        commit(f);

        reopen(f);
        begin(f);
        assert_true(exists(f, a));
        assert_true(exists(f, c));
        assert_int_equal(f->ops->queue_get(f->st, "t1", "q9", &(struct queue_rec){0}),
                         BATON_ENOTFOUND);
        commit(f);
}

static void rollback_discards_everything(void **state)
{
        struct fixture *f = *state;
        struct idem_rec r = {0};
        int64_t a, b;

        begin(f);
        a = put(f, (struct spec){.state = JOB_QUEUED});
        commit(f);

        begin(f);
        b = put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(set_state(f, a, JOB_RUNNING), 0);
        idem_put(f, "t1", "k", b, "h", T0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "q1", T0), 0);
        assert_int_equal(f->ops->rollback(f->st), 0);

        begin(f);
        assert_false(exists(f, b));
        assert_int_equal(f->ops->idem_get(f->st, "t1", "k", &r), BATON_ENOTFOUND);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "q1", &(struct queue_rec){0}),
                         BATON_ENOTFOUND);
        {
                struct job j;

                assert_int_equal(f->ops->job_get(f->st, "t1", a, &j), 0);
                assert_int_equal(j.state, JOB_QUEUED);
                job_free(&j);
        }
        commit(f);
}

static void data_persists_across_reopen(void **state)
{
        struct fixture *f = *state;
        struct job in, out;
        struct queue_rec q = {0};
        int v1 = 0, v2 = 0;

        assert_int_equal(f->ops->schema_version(f->st, &v1), 0);
        assert_true(v1 >= 1);
        begin(f);
        job_fill(&in, "t1", 5);
        assert_int_equal(f->ops->job_insert(f->st, &in), 0);
        idem_put(f, "t1", "k", in.id, "hash", T0 + 1);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "mail", T0), 0);
        commit(f);

        reopen(f);
        assert_int_equal(f->ops->schema_version(f->st, &v2), 0);
        assert_int_equal(v1, v2);
        begin(f);
        assert_int_equal(f->ops->job_get(f->st, "t1", in.id, &out), 0);
        assert_job_equal(&in, &out);
        job_free(&out);
        assert_idem(f, "t1", "k", in.id, "hash", T0 + 1);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "mail", &q), 0);
        queue_rec_free(&q);
        commit(f);
        job_free(&in);
}

static void close_discards_open_transaction(void **state)
{
        struct fixture *f = *state;
        int64_t a, b;

        begin(f);
        a = put(f, (struct spec){.state = JOB_QUEUED});
        commit(f);
        /* A store closed (or a process killed) in the middle of a transaction
         * keeps nothing of it. */
        begin(f);
        b = put(f, (struct spec){.state = JOB_QUEUED});
        idem_put(f, "t1", "k", b, "h", T0);
        reopen(f);
        begin(f);
        assert_true(exists(f, a));
        assert_false(exists(f, b));
        assert_int_equal(f->ops->idem_get(f->st, "t1", "k", &(struct idem_rec){0}),
                         BATON_ENOTFOUND);
        commit(f);
}

/* ---- throughput (printed, never asserted) ---- */

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void insert_throughput(void **state)
{
        struct fixture *f = *state;
        const char *env = getenv("STORE_THROUGHPUT_N");
        int count = env && atoi(env) > 0 ? atoi(env) : THROUGHPUT_N;
        struct job j;
        int64_t first = 0;
        double t0, t1, t2;

        job_from_spec(
            &j,
            &(struct spec){.state = JOB_QUEUED, .prio = PRIO_NORMAL, .run_at = T0, .ready_at = T0});
        free(j.payload);
        j.payload = xdup("{\"user_id\":123456,\"template\":\"welcome\",\"locale\":\"en-GB\","
                         "\"vars\":{\"name\":\"Ada\",\"plan\":\"pro\"}}");
        j.request_id = xdup("req-01HZX3K4Q7W8E9R0T1Y2U3I4O5");
        begin(f);
        t0 = now_s();
        for (int i = 0; i < count; i++) {
                j.id = 0;
                j.run_at_ms = T0 + i;
                assert_int_equal(f->ops->job_insert(f->st, &j), 0);
                if (!first)
                        first = j.id;
        }
        t1 = now_s();
        commit(f);
        t2 = now_s();
        assert_int_equal(j.id - first + 1, count);
        print_message("%s: %d job inserts in one transaction: %.0f inserts/s (%.1f ms inserting, "
                      "%.1f ms commit)\n",
                      f->ops->name, count, count / (t1 - t0), (t1 - t0) * 1e3, (t2 - t1) * 1e3);
        job_free(&j);
}

/* ---- cron schedules and runs ---- */

/* Fills r with distinct values; the caller frees it with cron_rec_free. */
static void cron_fill(struct cron_rec *r, const char *tenant, const char *key, int seed)
{
        char s[64];

        memset(r, 0, sizeof(*r));
        r->tenant = xdup(tenant);
        r->key = xdup(key);
        snprintf(s, sizeof(s), "{\"cron\":\"%d * * * *\"}", seed % 60);
        r->spec = xdup(s);
        r->enabled = seed % 2 == 0;
        r->paused = seed % 3 == 0;
        r->pause_note = seed % 3 == 0 ? xdup("maintenance") : NULL;
        r->next_fire_at_ms = T0 + 1000 * seed;
        r->due_at_ms = T0 + 1000 * seed;
        r->buffered_at_ms = T0 + 7 * seed;
        r->buffered_run_id = seed;
        r->last_run_id = seed + 1;
        r->last_job_id = seed + 2;
        r->version = seed + 3;
        r->created_at_ms = T0 + seed;
        r->updated_at_ms = T0 + 2 * seed;
}

static void cron_assert_equal(const struct cron_rec *a, const struct cron_rec *b)
{
        assert_string_equal(a->tenant, b->tenant);
        assert_string_equal(a->key, b->key);
        assert_string_equal(a->spec, b->spec);
        assert_int_equal(a->enabled, b->enabled);
        assert_int_equal(a->paused, b->paused);
        if (a->pause_note || b->pause_note) {
                assert_non_null(a->pause_note);
                assert_non_null(b->pause_note);
                assert_string_equal(a->pause_note, b->pause_note);
        }
        assert_int_equal(a->next_fire_at_ms, b->next_fire_at_ms);
        assert_int_equal(a->due_at_ms, b->due_at_ms);
        assert_int_equal(a->buffered_at_ms, b->buffered_at_ms);
        assert_int_equal(a->buffered_run_id, b->buffered_run_id);
        assert_int_equal(a->last_run_id, b->last_run_id);
        assert_int_equal(a->last_job_id, b->last_job_id);
        assert_int_equal(a->version, b->version);
        assert_int_equal(a->created_at_ms, b->created_at_ms);
        assert_int_equal(a->updated_at_ms, b->updated_at_ms);
}

static void cron_put_get_replace_delete(void **state)
{
        struct fixture *f = *state;
        struct cron_rec a, b, got = {0};

        cron_fill(&a, "default", "nightly", 6); /* paused, with a note */
        cron_fill(&b, "default", "nightly", 7); /* the same key, every column changed */
        begin(f);
        assert_int_equal(f->ops->cron_get(f->st, "default", "nightly", &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_put(f->st, &a), 0);
        assert_int_equal(f->ops->cron_get(f->st, "default", "nightly", &got), 0);
        cron_assert_equal(&got, &a);
        cron_rec_free(&got);
        /* Tenant scoping: the same key in another tenant is another row. */
        assert_int_equal(f->ops->cron_get(f->st, "acme", "nightly", &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_put(f->st, &b), 0);
        commit(f);
        reopen(f);
        begin(f);
        assert_int_equal(f->ops->cron_get(f->st, "default", "nightly", &got), 0);
        cron_assert_equal(&got, &b);
        cron_rec_free(&got);
        assert_int_equal(f->ops->cron_delete(f->st, "default", "nightly"), 0);
        assert_int_equal(f->ops->cron_get(f->st, "default", "nightly", &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_delete(f->st, "default", "nightly"), BATON_ENOTFOUND);
        commit(f);
        cron_rec_free(&a);
        cron_rec_free(&b);
}

static void cron_list_pages_by_tenant(void **state)
{
        struct fixture *f = *state;
        const char *keys[] = {"d", "a", "c", "b", "e"};
        struct cron_rec r, *v = NULL;
        int n = 0;

        begin(f);
        for (int i = 0; i < 5; i++) {
                cron_fill(&r, "default", keys[i], i + 1);
                assert_int_equal(f->ops->cron_put(f->st, &r), 0);
                cron_rec_free(&r);
        }
        cron_fill(&r, "acme", "a", 9);
        assert_int_equal(f->ops->cron_put(f->st, &r), 0);
        cron_rec_free(&r);
        assert_int_equal(f->ops->cron_list(f->st, "default", NULL, 3, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].key, "a");
        assert_string_equal(v[1].key, "b");
        assert_string_equal(v[2].key, "c");
        assert_string_equal(v[0].tenant, "default");
        assert_non_null(v[0].spec);
        cron_recs_free(v, n);
        assert_int_equal(f->ops->cron_list(f->st, "default", "c", 3, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].key, "d");
        assert_string_equal(v[1].key, "e");
        cron_recs_free(v, n);
        assert_int_equal(f->ops->cron_list(f->st, "default", "e", 3, &v, &n), 0);
        assert_int_equal(n, 0);
        cron_recs_free(v, n);
        assert_int_equal(f->ops->cron_list(f->st, "acme", NULL, 10, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].tenant, "acme");
        cron_recs_free(v, n);
        assert_int_equal(f->ops->cron_list(f->st, "nobody", NULL, 10, &v, &n), 0);
        assert_int_equal(n, 0);
        cron_recs_free(v, n);
        commit(f);
}

static void cron_due_and_next_due(void **state)
{
        struct fixture *f = *state;
        struct cron_rec r, *v = NULL;
        int64_t at = -1;
        int n = 0;

        begin(f);
        assert_int_equal(f->ops->cron_next_due(f->st, &at), 0);
        assert_int_equal(at, 0);
        /* due_at: 0 (never), T0+3000, T0+1000 (tenant acme), T0+2000, T0+9000. */
        const struct {
                const char *tenant, *key;
                int64_t due;
        } rows[] = {{"default", "never", 0},
                    {"default", "c", T0 + 3000},
                    {"acme", "a", T0 + 1000},
                    {"default", "b", T0 + 2000},
                    {"default", "late", T0 + 9000}};
        for (size_t i = 0; i < BATON_ARRAY_LEN(rows); i++) {
                cron_fill(&r, rows[i].tenant, rows[i].key, (int)i + 1);
                r.due_at_ms = rows[i].due;
                assert_int_equal(f->ops->cron_put(f->st, &r), 0);
                cron_rec_free(&r);
        }
        assert_int_equal(f->ops->cron_next_due(f->st, &at), 0);
        assert_int_equal(at, T0 + 1000);
        /* Every tenant, earliest first, boundary included, limited by max. */
        assert_int_equal(f->ops->cron_due(f->st, T0 + 3000, 10, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].key, "a");
        assert_string_equal(v[0].tenant, "acme");
        assert_string_equal(v[1].key, "b");
        assert_string_equal(v[2].key, "c");
        cron_recs_free(v, n);
        assert_int_equal(f->ops->cron_due(f->st, T0 + 3000, 2, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[1].key, "b");
        cron_recs_free(v, n);
        assert_int_equal(f->ops->cron_due(f->st, T0 + 999, 10, &v, &n), 0);
        assert_int_equal(n, 0);
        cron_recs_free(v, n);
        commit(f);
}

/* Fills a run; the strings point at literals (not freed). */
static void run_fill(struct cron_run *r, const char *tenant, const char *key, int64_t sched,
                     const char *trigger)
{
        memset(r, 0, sizeof(*r));
        r->tenant = (char *)tenant;
        r->key = (char *)key;
        r->scheduled_at_ms = sched;
        r->fired_at_ms = sched ? sched + 5 : T0;
        r->trigger = (char *)trigger;
        r->status = (char *)"queued";
}

static void cron_run_tick_identity_and_update(void **state)
{
        struct fixture *f = *state;
        struct cron_run r, again, m1, m2, got = {0};
        struct cron_rec s;

        cron_fill(&s, "default", "tick", 2);
        begin(f);
        assert_int_equal(f->ops->cron_put(f->st, &s), 0);
        run_fill(&r, "default", "tick", T0 + 60000, "schedule");
        r.requested_by = (char *)"key1";
        assert_int_equal(f->ops->cron_run_insert(f->st, &r), 0);
        assert_true(r.id > 0);
        /* The same tick again: refused, whatever the trigger. */
        run_fill(&again, "default", "tick", T0 + 60000, "catchup");
        assert_int_equal(f->ops->cron_run_insert(f->st, &again), BATON_ECONFLICT);
        /* Another tenant's tick at the same instant is its own. */
        run_fill(&again, "acme", "tick", T0 + 60000, "schedule");
        assert_int_equal(f->ops->cron_run_insert(f->st, &again), 0);
        /* Manual runs (scheduled_at 0) never clash. */
        run_fill(&m1, "default", "tick", 0, "manual");
        run_fill(&m2, "default", "tick", 0, "manual");
        assert_int_equal(f->ops->cron_run_insert(f->st, &m1), 0);
        assert_int_equal(f->ops->cron_run_insert(f->st, &m2), 0);
        assert_true(m2.id > m1.id && m1.id > r.id);
        commit(f);
        begin(f);
        assert_int_equal(f->ops->cron_run_get(f->st, "default", r.id, &got), 0);
        assert_int_equal(got.scheduled_at_ms, T0 + 60000);
        assert_int_equal(got.fired_at_ms, T0 + 60005);
        assert_string_equal(got.trigger, "schedule");
        assert_string_equal(got.status, "queued");
        assert_string_equal(got.requested_by, "key1");
        assert_int_equal(got.job_id, 0);
        assert_null(got.reason);
        cron_run_free(&got);
        assert_int_equal(f->ops->cron_run_get(f->st, "default", m1.id, &got), 0);
        assert_int_equal(got.scheduled_at_ms, 0);
        cron_run_free(&got);
        /* Runs are tenant scoped. */
        assert_int_equal(f->ops->cron_run_get(f->st, "acme", r.id, &got), BATON_ENOTFOUND);
        r.job_id = 42;
        r.status = (char *)"skipped";
        r.reason = (char *)"overlap";
        r.fired_at_ms = T0 + 70000;
        assert_int_equal(f->ops->cron_run_update(f->st, &r), 0);
        commit(f);
        reopen(f);
        begin(f);
        assert_int_equal(f->ops->cron_run_get(f->st, "default", r.id, &got), 0);
        assert_int_equal(got.job_id, 42);
        assert_string_equal(got.status, "skipped");
        assert_string_equal(got.reason, "overlap");
        assert_int_equal(got.fired_at_ms, T0 + 70000);
        cron_run_free(&got);
        /* Deleting the schedule deletes its runs. */
        assert_int_equal(f->ops->cron_delete(f->st, "default", "tick"), 0);
        assert_int_equal(f->ops->cron_run_get(f->st, "default", r.id, &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_run_get(f->st, "acme", again.id, &got), 0);
        cron_run_free(&got);
        commit(f);
        cron_rec_free(&s);
}

static void cron_run_list_count_trim(void **state)
{
        struct fixture *f = *state;
        struct cron_run r, *v = NULL;
        int64_t ids[6], cnt = -1;
        int n = 0;

        begin(f);
        for (int i = 0; i < 6; i++) {
                /* Even: scheduled, odd: manual, fired at T0 + i*1000. */
                run_fill(&r, "default", "k", i % 2 ? 0 : T0 + 1000 * (i + 1),
                         i % 2 ? "manual" : "schedule");
                r.fired_at_ms = T0 + 1000 * i;
                assert_int_equal(f->ops->cron_run_insert(f->st, &r), 0);
                ids[i] = r.id;
        }
        run_fill(&r, "default", "other", T0, "schedule");
        assert_int_equal(f->ops->cron_run_insert(f->st, &r), 0);
        /* Newest first, cursor by id, limit. */
        assert_int_equal(f->ops->cron_run_list(f->st, "default", "k", 0, 4, &v, &n), 0);
        assert_int_equal(n, 4);
        assert_int_equal(v[0].id, ids[5]);
        assert_int_equal(v[3].id, ids[2]);
        assert_string_equal(v[0].key, "k");
        cron_runs_free(v, n);
        assert_int_equal(f->ops->cron_run_list(f->st, "default", "k", ids[2], 4, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0].id, ids[1]);
        assert_int_equal(v[1].id, ids[0]);
        cron_runs_free(v, n);
        assert_int_equal(f->ops->cron_run_list(f->st, "acme", "k", 0, 10, &v, &n), 0);
        assert_int_equal(n, 0);
        cron_runs_free(v, n);
        /* Counts per trigger since an instant (inclusive). */
        assert_int_equal(f->ops->cron_run_count(f->st, "default", "k", "manual", T0, &cnt), 0);
        assert_int_equal(cnt, 3);
        assert_int_equal(f->ops->cron_run_count(f->st, "default", "k", "manual", T0 + 3000, &cnt),
                         0);
        assert_int_equal(cnt, 2);
        assert_int_equal(f->ops->cron_run_count(f->st, "default", "k", "schedule", T0, &cnt), 0);
        assert_int_equal(cnt, 3);
        assert_int_equal(f->ops->cron_run_count(f->st, "acme", "k", "manual", T0, &cnt), 0);
        assert_int_equal(cnt, 0);
        /* Trim keeps the newest, and only of that schedule. */
        assert_int_equal(f->ops->cron_run_trim(f->st, "default", "k", 2), 0);
        assert_int_equal(f->ops->cron_run_list(f->st, "default", "k", 0, 10, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0].id, ids[5]);
        assert_int_equal(v[1].id, ids[4]);
        cron_runs_free(v, n);
        assert_int_equal(f->ops->cron_run_list(f->st, "default", "other", 0, 10, &v, &n), 0);
        assert_int_equal(n, 1);
        cron_runs_free(v, n);
        commit(f);
}

static void savepoint_rollback_discards_cron(void **state)
{
        struct fixture *f = *state;
        struct cron_rec s, got = {0};
        struct cron_run r;
        int64_t at = -1;

        cron_fill(&s, "default", "sp", 4);
        begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->cron_put(f->st, &s), 0);
        run_fill(&r, "default", "sp", T0 + 1000, "schedule");
        assert_int_equal(f->ops->cron_run_insert(f->st, &r), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        commit(f);
        begin(f);
        assert_int_equal(f->ops->cron_get(f->st, "default", "sp", &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_next_due(f->st, &at), 0);
        assert_int_equal(at, 0);
        /* The tick identity was rolled back with the row: it can be recorded. */
        run_fill(&r, "default", "sp", T0 + 1000, "schedule");
        assert_int_equal(f->ops->cron_run_insert(f->st, &r), 0);
        commit(f);
        cron_rec_free(&s);
}

/* ---- version 4: queue limits and groups ---- */

static void qlim_fill(struct queue_limits *q, const char *tenant, const char *queue, int seed)
{
        memset(q, 0, sizeof(*q));
        q->tenant = (char *)tenant;
        q->queue = (char *)queue;
        q->concurrency = seed + 1;
        q->rate_max = seed + 2;
        q->rate_per_ms = seed + 3;
        q->max_depth = seed + 4;
        q->group_concurrency = seed + 5;
        q->group_rate_max = seed + 6;
        q->group_rate_per_ms = seed + 7;
        q->def_max_attempts = seed + 8;
        q->def_lease_ms = seed + 9;
        q->def_backoff_set = true;
        q->def_backoff.type = BACKOFF_FIXED;
        q->def_backoff.base_ms = seed + 10;
        q->def_backoff.max_ms = seed + 11;
        q->depth = seed + 12;
        q->running = seed + 13;
        q->start_seq = seed + 14;
        q->serve_seq = seed + 15;
        q->nogroup_served = seed + 16;
        q->updated_at_ms = T0 + seed;
}

static void qlim_assert_equal(const struct queue_limits *a, const struct queue_limits *b)
{
        assert_string_equal(a->tenant, b->tenant);
        assert_string_equal(a->queue, b->queue);
        assert_int_equal(a->concurrency, b->concurrency);
        assert_int_equal(a->rate_max, b->rate_max);
        assert_int_equal(a->rate_per_ms, b->rate_per_ms);
        assert_int_equal(a->max_depth, b->max_depth);
        assert_int_equal(a->group_concurrency, b->group_concurrency);
        assert_int_equal(a->group_rate_max, b->group_rate_max);
        assert_int_equal(a->group_rate_per_ms, b->group_rate_per_ms);
        assert_int_equal(a->def_max_attempts, b->def_max_attempts);
        assert_int_equal(a->def_lease_ms, b->def_lease_ms);
        assert_int_equal(a->def_backoff_set, b->def_backoff_set);
        if (a->def_backoff_set) {
                assert_int_equal(a->def_backoff.type, b->def_backoff.type);
                assert_int_equal(a->def_backoff.base_ms, b->def_backoff.base_ms);
                assert_int_equal(a->def_backoff.max_ms, b->def_backoff.max_ms);
        }
        assert_int_equal(a->depth, b->depth);
        assert_int_equal(a->running, b->running);
        assert_int_equal(a->start_seq, b->start_seq);
        assert_int_equal(a->serve_seq, b->serve_seq);
        assert_int_equal(a->nogroup_served, b->nogroup_served);
        assert_int_equal(a->updated_at_ms, b->updated_at_ms);
}

/* Asserts that (tenant, queue) reads as a queue with no settings and the
 * given counters. */
static void qlim_assert_counts(struct fixture *f, const char *tenant, const char *queue, bool lock,
                               int64_t depth, int64_t running)
{
        struct queue_limits got = {0};

        assert_int_equal(f->ops->qlim_get(f->st, tenant, queue, lock, &got), 0);
        assert_string_equal(got.tenant, tenant);
        assert_string_equal(got.queue, queue);
        assert_int_equal(got.depth, depth);
        assert_int_equal(got.running, running);
        queue_limits_free(&got);
}

static void qlim_put_get_add(void **state)
{
        struct fixture *f = *state;
        struct queue_limits q, got = {0};

        begin(f);
        /* A queue with nothing stored reads as zeros, with or without lock. */
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &got), 0);
        assert_int_equal(got.concurrency, 0);
        assert_false(got.def_backoff_set);
        assert_false(got.grouped);
        queue_limits_free(&got);
        qlim_assert_counts(f, "t1", "q1", true, 0, 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 3, 1), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", -1, 1), 0);
        qlim_assert_counts(f, "t1", "q1", false, 2, 2);
        qlim_assert_counts(f, "t1", "q1", true, 2, 2);
        /* Every setting round-trips and put overwrites them, but never the
         * counters: only qlim_add changes those. */
        qlim_fill(&q, "t1", "q1", 7);
        assert_int_equal(f->ops->qlim_put(f->st, &q), 0);
        q.depth = 2;
        q.running = 2;
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &got), 0);
        qlim_assert_equal(&q, &got);
        queue_limits_free(&got);
        q.def_backoff_set = false;
        q.concurrency = 0;
        q.depth = 1000;
        assert_int_equal(f->ops->qlim_put(f->st, &q), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 1, -1), 0);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &got), 0);
        assert_false(got.def_backoff_set);
        assert_int_equal(got.concurrency, 0);
        assert_int_equal(got.max_depth, q.max_depth);
        assert_int_equal(got.depth, 3);
        assert_int_equal(got.running, 1);
        queue_limits_free(&got);
        /* Scoped by tenant and queue. */
        qlim_assert_counts(f, "t2", "q1", false, 0, 0);
        qlim_assert_counts(f, "t1", "q2", false, 0, 0);
        assert_int_equal(f->ops->qlim_put(f->st, &(struct queue_limits){.queue = (char *)"q"}),
                         BATON_EINVAL);
        commit(f);
        /* grouped says whether the queue has a group row. */
        begin(f);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q2", "a", PRIO_NORMAL), 0);
        commit(f);
        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q2", false, &got), 0);
        assert_true(got.grouped);
        queue_limits_free(&got);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &got), 0);
        assert_false(got.grouped);
        queue_limits_free(&got);
        commit(f);
        /* A rolled-back savepoint keeps none of it. */
        begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 100, 100), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t3", "q3", 1, 0), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        qlim_assert_counts(f, "t1", "q1", false, 3, 1);
        qlim_assert_counts(f, "t3", "q3", false, 0, 0);
        commit(f);
}

static void group_put(struct fixture *f, const char *queue, const char *grp, int head,
                      int64_t served, bool blocked, int64_t until, int64_t running)
{
        struct group_rec g = {.tenant = (char *)"t1",
                              .queue = (char *)queue,
                              .grp = (char *)grp,
                              .running = running,
                              .head = head,
                              .served = served,
                              .blocked = blocked,
                              .until_ms = until,
                              .start_seq = served + 1,
                              .last_start_ms = T0 + served};

        assert_int_equal(f->ops->group_put(f->st, &g), 0);
}

static struct group_rec group_read(struct fixture *f, const char *queue, const char *grp)
{
        struct group_rec g = {0};

        assert_int_equal(f->ops->group_get(f->st, "t1", queue, grp, true, &g), 0);
        return g;
}

static void group_rows_roundtrip_note_ready_delete(void **state)
{
        struct fixture *f = *state;
        struct group_rec g = {0};
        int64_t at = 0;

        begin(f);
        assert_int_equal(f->ops->group_get(f->st, "t1", "q1", "a", false, &g), BATON_ENOTFOUND);
        group_put(f, "q1", "a", -1, 5, true, T0 + 9, 2);
        g = group_read(f, "q1", "a");
        assert_string_equal(g.grp, "a");
        assert_int_equal(g.head, -1);
        assert_int_equal(g.served, 5);
        assert_true(g.blocked);
        assert_int_equal(g.until_ms, T0 + 9);
        assert_int_equal(g.running, 2);
        assert_int_equal(g.start_seq, 6);
        assert_int_equal(g.last_start_ms, T0 + 5);
        group_rec_free(&g);
        /* note_ready: head becomes the better of the two; served is set only
         * for a new row, from the queue's serve_seq. */
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "a", PRIO_NORMAL), 0);
        g = group_read(f, "q1", "a");
        assert_int_equal(g.head, PRIO_NORMAL);
        assert_int_equal(g.served, 5);
        assert_int_equal(g.running, 2);
        group_rec_free(&g);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "a", PRIO_LOW), 0);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "a", PRIO_HIGH), 0);
        g = group_read(f, "q1", "a");
        assert_int_equal(g.head, PRIO_HIGH);
        group_rec_free(&g);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "b", PRIO_LOW), 0);
        g = group_read(f, "q1", "b");
        assert_int_equal(g.head, PRIO_LOW);
        assert_int_equal(g.served, 0); /* the queue has no limits row */
        group_rec_free(&g);
        {
                struct queue_limits q = {
                    .tenant = (char *)"t1", .queue = (char *)"q1", .serve_seq = 42};
                assert_int_equal(f->ops->qlim_put(f->st, &q), 0);
        }
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "c", PRIO_LOW), 0);
        g = group_read(f, "q1", "c");
        assert_int_equal(g.served, 42);
        assert_int_equal(g.running, 0);
        assert_false(g.blocked);
        assert_int_equal(g.until_ms, 0);
        group_rec_free(&g);
        /* delete takes the group's rate log with it, and nothing else. */
        assert_int_equal(f->ops->rate_put(f->st, "t1", "q1", "a", 1, T0, 1), 0);
        assert_int_equal(f->ops->rate_put(f->st, "t1", "q1", "b", 1, T0, 1), 0);
        assert_int_equal(f->ops->group_delete(f->st, "t1", "q1", "a"), 0);
        assert_int_equal(f->ops->group_delete(f->st, "t1", "q1", "a"), 0);
        assert_int_equal(f->ops->group_get(f->st, "t1", "q1", "a", false, &g), BATON_ENOTFOUND);
        assert_int_equal(f->ops->rate_get(f->st, "t1", "q1", "a", 1, &at), BATON_ENOTFOUND);
        assert_int_equal(f->ops->rate_get(f->st, "t1", "q1", "b", 1, &at), 0);
        assert_int_equal(at, T0);
        g = group_read(f, "q1", "b");
        group_rec_free(&g);
        commit(f);
}

/* Asserts the groups group_pick returns for q1, in order. */
static void assert_pick(struct fixture *f, int max, const char *const *want, int n_want)
{
        struct group_rec *v = NULL;
        int n = -1;

        assert_int_equal(f->ops->group_pick(f->st, "t1", "q1", max, &v, &n), 0);
        assert_int_equal(n, n_want);
        for (int i = 0; i < n; i++)
                assert_string_equal(v[i].grp, want[i]);
        group_recs_free(v, n);
}

static void group_pick_order_and_unblock(void **state)
{
        struct fixture *f = *state;
        struct group_rec *v = NULL;
        struct group_rec g;
        int64_t at = -1;
        int n = 0;

        begin(f);
        assert_pick(f, 10, NULL, 0);
        group_put(f, "q1", "low-old", PRIO_LOW, 1, false, 0, 0);
        group_put(f, "q1", "norm-new", PRIO_NORMAL, 9, false, 0, 0);
        group_put(f, "q1", "norm-old", PRIO_NORMAL, 3, false, 0, 0);
        group_put(f, "q1", "norm-tie-b", PRIO_NORMAL, 5, false, 0, 0);
        group_put(f, "q1", "norm-tie-a", PRIO_NORMAL, 5, false, 0, 0);
        group_put(f, "q1", "crit-blocked", PRIO_CRITICAL, 0, true, 0, 1);
        group_put(f, "q1", "rate-blocked", PRIO_CRITICAL, 0, true, T0 + 100, 0);
        group_put(f, "q1", "idle", -1, 0, false, 0, 1);
        group_put(f, "q2", "other-queue", PRIO_CRITICAL, 0, false, 0, 0);
        /* Best head first, then served longest ago, then the name. */
        assert_pick(
            f, 10,
            (const char *const[]){"norm-old", "norm-tie-a", "norm-tie-b", "norm-new", "low-old"},
            5);
        assert_pick(f, 2, (const char *const[]){"norm-old", "norm-tie-a"}, 2);
        assert_int_equal(f->ops->group_pick(f->st, "t1", "q1", 0, &v, &n), BATON_EINVAL);
        /* The earliest roll among groups with ready jobs. */
        assert_int_equal(f->ops->group_next_until(f->st, "t1", "q1", &at), 0);
        assert_int_equal(at, T0 + 100);
        assert_int_equal(f->ops->group_next_until(f->st, "t1", "q2", &at), 0);
        assert_int_equal(at, 0);
        /* Not yet rolled: nothing changes. */
        assert_int_equal(f->ops->group_unblock(f->st, "t1", "q1", T0 + 99, 1, false), 0);
        g = group_read(f, "q1", "rate-blocked");
        assert_true(g.blocked);
        group_rec_free(&g);
        /* Rolled: unblocked, until cleared; the concurrency-blocked one stays. */
        assert_int_equal(f->ops->group_unblock(f->st, "t1", "q1", T0 + 100, 1, false), 0);
        g = group_read(f, "q1", "rate-blocked");
        assert_false(g.blocked);
        assert_int_equal(g.until_ms, 0);
        group_rec_free(&g);
        assert_pick(f, 2, (const char *const[]){"rate-blocked", "norm-old"}, 2);
        /* all: every group judged against a new group_concurrency (0 = none). */
        assert_int_equal(f->ops->group_unblock(f->st, "t1", "q1", T0, 0, true), 0);
        assert_pick(f, 3, (const char *const[]){"crit-blocked", "rate-blocked", "norm-old"}, 3);
        assert_int_equal(f->ops->group_unblock(f->st, "t1", "q1", T0, 1, true), 0);
        assert_pick(f, 1, (const char *const[]){"rate-blocked"}, 1);
        g = group_read(f, "q1", "idle");
        assert_true(g.blocked); /* running 1 >= 1 */
        group_rec_free(&g);
        commit(f);
}

static void group_ready_ids_order(void **state)
{
        struct fixture *f = *state;
        int64_t a1, a2, a3, n1, n2, ids[8];
        int prios[8], n = 0;

        begin(f);
        a1 = put(f, (struct spec){
                        .state = JOB_QUEUED, .group = "a", .prio = PRIO_NORMAL, .run_at = T0 + 5});
        a2 = put(f, (struct spec){
                        .state = JOB_QUEUED, .group = "a", .prio = PRIO_HIGH, .run_at = T0 + 9});
        a3 = put(f, (struct spec){
                        .state = JOB_QUEUED, .group = "a", .prio = PRIO_NORMAL, .run_at = T0 + 1});
        put(f, (struct spec){.state = JOB_RUNNING, .group = "a", .run_at = T0});
        put(f, (struct spec){.state = JOB_QUEUED, .group = "b", .run_at = T0});
        put(f, (struct spec){.state = JOB_QUEUED, .group = "a", .queue = "q2", .run_at = T0});
        n1 = put(f, (struct spec){.state = JOB_QUEUED, .run_at = T0 + 3});
        n2 = put(f, (struct spec){.state = JOB_QUEUED, .run_at = T0 + 2});
        put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0});
        commit(f);
        begin(f);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "a", 8, ids, prios, &n), 0);
        assert_ids(ids, n, (int64_t[]){a2, a3, a1}, 3);
        assert_int_equal(prios[0], PRIO_HIGH);
        assert_int_equal(prios[1], PRIO_NORMAL);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "a", 1, ids, prios, &n), 0);
        assert_ids(ids, n, (int64_t[]){a2}, 1);
        /* NULL: the queued jobs without a group only. */
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 8, ids, prios, &n), 0);
        assert_ids(ids, n, (int64_t[]){n2, n1}, 2);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t2", "q1", "a", 8, ids, prios, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "a", 0, ids, prios, &n), 0);
        assert_int_equal(n, 0);
        commit(f);
}

/* ---- version 6: many rows per call ---- */

/* Reads job id and checks its attempt (the field the tests below change). */
static void assert_attempt(struct fixture *f, int64_t id, int attempt)
{
        struct job j;

        assert_int_equal(f->ops->job_get(f->st, NULL, id, &j), 0);
        assert_int_equal(j.attempt, attempt);
        job_free(&j);
}

static void bump_attempt(struct fixture *f, int64_t id, int attempt)
{
        struct job j;

        assert_int_equal(f->ops->job_get(f->st, NULL, id, &j), 0);
        j.attempt = attempt;
        assert_int_equal(f->ops->job_update(f->st, &j), 0);
        job_free(&j);
}

/* job_get_many returns what job_get would, in id order, each job once, the
 * missing and other tenants' ones left out. */
static void job_get_many_reads_like_job_get(void **state)
{
        struct fixture *f = *state;
        struct job_vec v = {0};
        int64_t a, b, c, d;

        begin(f);
        a = put(f, (struct spec){.state = JOB_QUEUED});
        b = put(f, (struct spec){.state = JOB_RUNNING, .group = "g"});
        c = put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0});
        d = put(f, (struct spec){.state = JOB_QUEUED, .tenant = "t2"});
        commit(f);
        begin(f);
        assert_int_equal(
            f->ops->job_get_many(f->st, "t1", (int64_t[]){c, a, c + 1000, a, d}, 5, &v), 0);
        assert_int_equal(v.n, 2);
        assert_int_equal(v.v[0].id, a);
        assert_int_equal(v.v[1].id, c);
        for (int i = 0; i < v.n; i++) {
                struct job j;

                assert_int_equal(f->ops->job_get(f->st, "t1", v.v[i].id, &j), 0);
                assert_job_equal(&j, &v.v[i]);
                job_free(&j);
        }
        job_vec_free(&v);
        memset(&v, 0, sizeof(v));
        assert_int_equal(f->ops->job_get_many(f->st, NULL, (int64_t[]){d, b}, 2, &v), 0);
        assert_int_equal(v.n, 2);
        assert_int_equal(v.v[0].id, b);
        assert_string_equal(v.v[0].group, "g");
        assert_int_equal(v.v[1].id, d);
        assert_string_equal(v.v[1].tenant, "t2");
        job_vec_free(&v);
        memset(&v, 0, sizeof(v));
        assert_int_equal(f->ops->job_get_many(f->st, "t1", (int64_t[]){a}, 0, &v), 0);
        assert_int_equal(v.n, 0);
        assert_int_equal(f->ops->job_get_many(f->st, "t1", (int64_t[]){a}, -1, &v), BATON_EINVAL);
        assert_int_equal(f->ops->job_get_many(f->st, "t1", (int64_t[]){a}, STORE_MANY_MAX + 1, &v),
                         BATON_EINVAL);
        commit(f);
}

/* Read ahead outside any op (out NULL), as the store thread does: later
 * reads in the transaction see every write made since, an op rolled back
 * shows its writes undone, and dependants are found whenever they exist. */
static void job_get_many_then_reads_see_writes(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, p, kid, ids[4];
        int n = -1;

        begin(f);
        a = put(f, (struct spec){.state = JOB_RUNNING});
        b = put(f, (struct spec){.state = JOB_RUNNING});
        p = put(f, (struct spec){.state = JOB_RUNNING});
        kid = put(f, (struct spec){.state = JOB_PENDING});
        assert_int_equal(f->ops->dep_insert(f->st, "t1", p, kid), 0);
        commit(f);

        begin(f);
        assert_int_equal(f->ops->job_get_many(f->st, "t1", (int64_t[]){a, b, p}, 3, NULL), 0);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_attempt(f, a, 0);
        bump_attempt(f, a, 5);
        assert_attempt(f, a, 5);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_attempt(f, a, 0); /* the op's write is undone */
        bump_attempt(f, b, 7);
        assert_int_equal(f->ops->release(f->st), 0);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_attempt(f, b, 7);
        /* p's child, stored before; a gains one in this transaction. */
        assert_int_equal(f->ops->dep_children(f->st, p, 0, 4, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){kid}, 1);
        assert_int_equal(f->ops->dep_children(f->st, a, 0, 4, ids, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->dep_insert(f->st, "t1", a, kid), 0);
        assert_int_equal(f->ops->dep_children(f->st, a, 0, 4, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){kid}, 1);
        assert_int_equal(f->ops->release(f->st), 0);
        commit(f);

        begin(f);
        assert_attempt(f, a, 0);
        assert_attempt(f, b, 7);
        assert_int_equal(f->ops->dep_children(f->st, a, 0, 4, ids, &n), 0);
        assert_ids(ids, n, (int64_t[]){kid}, 1);
        commit(f);
}

/* Version 8: the cascade's work list. Rows in job_id order, a move only from
 * the cursor the caller read, the deadline flag, and purge keeps a job that
 * has a row (its children must still read its final state). */
static void dep_work_list_moves_and_purge(void **state)
{
        struct fixture *f = *state;
        struct store_deadlines d;
        int64_t ids[4], afters[4], a, b;
        int n = -1;

        begin(f);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_false(d.dep_work);
        a = put(f, (struct spec){.state = JOB_CANCELLED, .finished_at = T0 - 300});
        b = put(f, (struct spec){.state = JOB_DEAD, .finished_at = T0 - 300});
        assert_int_equal(f->ops->dep_work_put(f->st, b, 0), 0);
        assert_int_equal(f->ops->dep_work_put(f->st, a, 7), 0);
        assert_int_equal(f->ops->dep_work_put(f->st, a, 9), 0); /* overwrites */
        commit(f);

        begin(f);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_true(d.dep_work);
        assert_int_equal(f->ops->dep_work_next(f->st, 4, ids, afters, &n), 0);
        assert_int_equal(n, 2);
        assert_true(ids[0] == a && afters[0] == 9 && ids[1] == b && afters[1] == 0);
        assert_int_equal(f->ops->dep_work_next(f->st, 1, ids, afters, &n), 0);
        assert_int_equal(n, 1);
        /* Jobs with a row are kept by purge and by delete. */
        assert_int_equal(f->ops->job_purge(f->st, JOB_CANCELLED, T0, 100, &n), 0);
        assert_int_equal(n, 0);
        assert_true(exists(f, a));
        assert_int_equal(f->ops->job_delete(f->st, NULL, a), BATON_ENOTFOUND);
        assert_true(exists(f, a));
        /* A move from a cursor the row no longer has changes nothing. */
        assert_int_equal(f->ops->dep_work_move(f->st, a, 7, 20), 0);
        assert_int_equal(f->ops->dep_work_move(f->st, b, 5, -1), 0);
        assert_int_equal(f->ops->dep_work_next(f->st, 4, ids, afters, &n), 0);
        assert_int_equal(n, 2);
        assert_true(afters[0] == 9 && afters[1] == 0);
        assert_int_equal(f->ops->dep_work_move(f->st, a, 9, 20), 0);
        assert_int_equal(f->ops->dep_work_move(f->st, b, 0, -1), 0);
        assert_int_equal(f->ops->dep_work_next(f->st, 4, ids, afters, &n), 0);
        assert_int_equal(n, 1);
        assert_true(ids[0] == a && afters[0] == 20);
        commit(f);

        begin(f);
        assert_int_equal(f->ops->job_purge(f->st, JOB_DEAD, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(exists(f, b));
        assert_int_equal(f->ops->dep_work_move(f->st, a, 20, -1), 0);
        assert_int_equal(f->ops->job_purge(f->st, JOB_CANCELLED, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(exists(f, a));
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_false(d.dep_work);
        commit(f);
}

/* group_ready_many gives each group what group_ready_ids gives it. */
static void group_ready_many_per_group(void **state)
{
        struct fixture *f = *state;
        int64_t a1, a2, b1, ids[6];
        int prios[6], n[3];
        bool busy[3];

        begin(f);
        a1 = put(f, (struct spec){
                        .state = JOB_QUEUED, .group = "a", .prio = PRIO_NORMAL, .run_at = T0 + 5});
        a2 = put(f, (struct spec){
                        .state = JOB_QUEUED, .group = "a", .prio = PRIO_HIGH, .run_at = T0 + 9});
        put(f,
            (struct spec){.state = JOB_QUEUED, .group = "a", .prio = PRIO_LOW, .run_at = T0 + 20});
        b1 = put(f, (struct spec){.state = JOB_QUEUED, .group = "b\"q\\", .run_at = T0});
        put(f, (struct spec){.state = JOB_RUNNING, .group = "c"});
        put(f, (struct spec){.state = JOB_QUEUED, .group = "c", .queue = "q2"});
        commit(f);
        begin(f);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1",
                                                  (const char *const[]){"c", "a", "b\"q\\"}, 3, 2,
                                                  ids, prios, n, busy),
                         0);
        assert_int_equal(n[0], 0);
        assert_ids(ids + 2, n[1], (int64_t[]){a2, a1}, 2);
        assert_int_equal(prios[2], PRIO_HIGH);
        assert_int_equal(prios[3], PRIO_NORMAL);
        assert_ids(ids + 4, n[2], (int64_t[]){b1}, 1);
        for (int i = 0; i < 3; i++)
                assert_false(busy[i]);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1", (const char *const[]){"a"}, 1,
                                                  1, ids, prios, n, busy),
                         0);
        assert_ids(ids, n[0], (int64_t[]){a2}, 1);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1", (const char *const[]){"a"}, 1,
                                                  0, ids, prios, n, busy),
                         BATON_EINVAL);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1", (const char *const[]){NULL}, 1,
                                                  2, ids, prios, n, busy),
                         BATON_EINVAL);
        commit(f);
}

static void rate_log_put_get_trim(void **state)
{
        struct fixture *f = *state;
        int64_t at = 0;

        begin(f);
        assert_int_equal(f->ops->rate_get(f->st, "t1", "q1", "", 1, &at), BATON_ENOTFOUND);
        /* Keep the latest 3 starts. */
        for (int64_t seq = 1; seq <= 5; seq++)
                assert_int_equal(
                    f->ops->rate_put(f->st, "t1", "q1", "", seq, T0 + seq * 10, seq - 3 + 1), 0);
        for (int64_t seq = 1; seq <= 2; seq++)
                assert_int_equal(f->ops->rate_get(f->st, "t1", "q1", "", seq, &at),
                                 BATON_ENOTFOUND);
        for (int64_t seq = 3; seq <= 5; seq++) {
                assert_int_equal(f->ops->rate_get(f->st, "t1", "q1", "", seq, &at), 0);
                assert_int_equal(at, T0 + seq * 10);
        }
        /* Logs are per (tenant, queue, group). */
        assert_int_equal(f->ops->rate_get(f->st, "t1", "q1", "g", 5, &at), BATON_ENOTFOUND);
        assert_int_equal(f->ops->rate_get(f->st, "t1", "q2", "", 5, &at), BATON_ENOTFOUND);
        assert_int_equal(f->ops->rate_get(f->st, "t2", "q1", "", 5, &at), BATON_ENOTFOUND);
        assert_int_equal(f->ops->rate_put(f->st, "t1", "q1", "g", 5, T0, 5), 0);
        assert_int_equal(f->ops->rate_get(f->st, "t1", "q1", "", 5, &at), 0);
        assert_int_equal(at, T0 + 50);
        commit(f);
}

/* ======== SQLite-specific section ======== */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
        (void)sb;
        (void)type;
        (void)ftw;
        return remove(path);
}

static int sqlite_create(struct fixture *f)
{
        snprintf(f->dir, sizeof(f->dir), "/tmp/baton-store-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        /* A directory that does not exist yet: open must create it. */
        snprintf(f->uri, sizeof(f->uri), "%s/data", f->dir);
        return 0;
}

static void sqlite_destroy(struct fixture *f)
{
        if (f->dir[0])
                nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static sqlite3 *sqlite_raw(struct fixture *f)
{
        char path[4200];
        sqlite3 *db = NULL;

        snprintf(path, sizeof(path), "%s/baton.db", f->uri);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        return db;
}

static void sqlite_refuses_newer_schema(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db;
        char sql[128];

        f->ops->close(f->st);
        f->st = NULL;
        db = sqlite_raw(f);
        snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 0)",
                 sqlite_schema_newest() + 1);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(open_fixture(f), BATON_ESCHEMA);
        assert_null(f->st);
}

static void sqlite_migrations_recorded_once(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db;
        sqlite3_stmt *s;
        int v = 0;

        assert_int_equal(f->ops->schema_version(f->st, &v), 0);
        assert_int_equal(v, sqlite_schema_newest());
        reopen(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT COUNT(*), MAX(version) FROM schema_migrations",
                                            -1, &s, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(s, 0), sqlite_schema_newest());
        assert_int_equal(sqlite3_column_int(s, 1), sqlite_schema_newest());
        sqlite3_finalize(s);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(s);
        sqlite3_close(db);
}

static void assert_plans_good(struct fixture *f)
{
        char why[512];
        int rc = sqlite_check_plans(f->st, why, sizeof(why));

        if (rc)
                print_error("bad plan: %s\n", why);
        assert_int_equal(rc, 0);
}

static void sqlite_hot_queries_use_indexes(void **state)
{
        struct fixture *f = *state;

        /* A small store, never analyzed: the planner has only the schema to go
         * on, and must still pick the index each statement was written for. */
        begin(f);
        for (int i = 0; i < 50; i++)
                put(f, (struct spec){.state = i % 8, .run_at = T0 + i});
        commit(f);
        assert_plans_good(f);
}

/* Asserts that the plan of statement name reads through index and never scans
 * the jobs table or sorts. */
static void assert_plan_uses(struct fixture *f, const char *name, const char *index)
{
        char plan[2048];
        char want[128];

        assert_int_equal(sqlite_explain(f->st, name, plan, sizeof(plan)), 0);
        snprintf(want, sizeof(want), "INDEX %s", index);
        if (!strstr(plan, want) || strstr(plan, "SCAN jobs\n") || strstr(plan, "TEMP B-TREE"))
                print_error("%s: expected %s, got:\n%s", name, want, plan);
        assert_non_null(strstr(plan, want));
        assert_null(strstr(plan, "SCAN jobs\n"));
        assert_null(strstr(plan, "TEMP B-TREE"));
}

static void sqlite_claim_and_deadline_plans(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db;

        /* A store shaped like a busy one: mostly finished jobs, a few queued,
         * scheduled and running, in two tenants and a few queues; then ANALYZE,
         * so the planner weighs real statistics (as after PRAGMA optimize). */
        begin(f);
        for (int i = 0; i < 3000; i++) {
                int st = i % 50 == 0   ? JOB_QUEUED
                         : i % 50 == 1 ? JOB_SCHEDULED
                         : i % 50 == 2 ? JOB_RUNNING
                         : i % 50 == 3 ? JOB_RETRYING
                         : i % 50 == 4 ? JOB_DEAD
                                       : JOB_COMPLETED;
                put(f, (struct spec){.state = st,
                                     .tenant = i % 2 ? "t1" : "t2",
                                     .queue = i % 3 ? "q1" : "q2",
                                     .prio = i % PRIO_COUNT,
                                     .run_at = T0 + i,
                                     .lease_until = T0 + i,
                                     .finished_at = T0 + i,
                                     .ready_at = T0 + i});
        }
        for (int i = 0; i < 200; i++) {
                char key[32];

                snprintf(key, sizeof(key), "k%d", i);
                idem_put(f, i % 2 ? "t1" : "t2", key, i + 1, "h", T0 + i);
        }
        commit(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        reopen(f);

        /* The claim: the partial index of queued jobs, in claim order (the
         * jobs without a group; groups have their own test below). */
        assert_plan_uses(f, "nogroup_ready_ids", "job_group_ready");
        /* Every next-deadline lookup reads the first entry of its index. */
        assert_plan_uses(f, "deadlines", "job_due");
        assert_plan_uses(f, "deadlines", "job_lease");
        assert_plan_uses(f, "deadlines", "job_finished");
        assert_plan_uses(f, "deadlines", "idem_expiry");
        /* And the duties those deadlines start. */
        assert_plan_uses(f, "job_due_ids", "job_due");
        assert_plan_uses(f, "job_expired_ids", "job_lease");
        assert_plan_uses(f, "job_purge", "job_finished");
        assert_plan_uses(f, "idem_purge", "idem_expiry");
        assert_plan_uses(f, "job_find_key", "job_key");
        assert_int_equal(sqlite_explain(f->st, "no_such_statement", (char[8]){0}, 8),
                         BATON_ENOTFOUND);
        /* And the whole set, with statistics. */
        assert_plans_good(f);
}

/* Asserts that the plan of statement name searches index (never a SCAN of
 * any table, never a sort). */
static void assert_plan_searches(struct fixture *f, const char *name, const char *index)
{
        char plan[2048];
        char want[128];

        assert_int_equal(sqlite_explain(f->st, name, plan, sizeof(plan)), 0);
        snprintf(want, sizeof(want), "INDEX %s", index);
        if (!strstr(plan, want) || strstr(plan, "SCAN ") || strstr(plan, "TEMP B-TREE"))
                print_error("%s: expected a search of %s, got:\n%s", name, want, plan);
        assert_non_null(strstr(plan, want));
        assert_null(strstr(plan, "SCAN "));
        assert_null(strstr(plan, "TEMP B-TREE"));
}

static void assert_plan_has(struct fixture *f, const char *name, const char *want);

/* The claim path of a queue with 100,000 ready jobs in one group and 1,000
 * other groups, with statistics: every statement a claim runs is an index
 * search (with a LIMIT, the first rows of an index range) rather than a scan
 * of the ready jobs or of the groups. */
static void sqlite_group_claim_plans_at_scale(void **state)
{
        struct fixture *f = *state;
        struct group_rec *v = NULL;
        int64_t ids[4];
        int prios[4], n = 0;
        sqlite3 *db;

        /* The 100,000 jobs of "huge" in one statement (a copy of one stored
         * row), so the test stays quick under the sanitizers. */
        begin(f);
        put(f, (struct spec){.state = JOB_QUEUED, .group = "huge", .run_at = T0});
        commit(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db,
                                      "CREATE TEMP TABLE one AS SELECT * FROM jobs;"
                                      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1"
                                      " FROM n WHERE i < 99999)"
                                      " INSERT INTO jobs SELECT NULL, tenant, queue, type, payload,"
                                      " priority, state, run_at + i, attempt, max_attempts,"
                                      " backoff_type, backoff_base_ms, backoff_max_ms, lease_ms,"
                                      " idempotency_key, dkey, request_id, execution_id,"
                                      " traceparent, lease, lease_until, worker, settled,"
                                      " cancel_requested, version, created_at, started_at,"
                                      " finished_at, ready_at, result, last_error, progress,"
                                      " attempts, steps, cancel_reason, timer, depends_on,"
                                      " on_parent_failure, flow_id, ref, grp, cron FROM one, n",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        reopen(f);
        begin(f);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "huge", PRIO_NORMAL), 0);
        for (int i = 0; i < 1000; i++) {
                char g[16];
                snprintf(g, sizeof(g), "g%04d", i);
                put(f, (struct spec){.state = JOB_QUEUED, .group = g, .run_at = T0 + i});
                /* Each later group joins behind the ones before it. */
                {
                        struct queue_limits q = {0};
                        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
                        q.serve_seq = i + 1;
                        assert_int_equal(f->ops->qlim_put(f->st, &q), 0);
                        queue_limits_free(&q);
                }
                assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", g, PRIO_NORMAL), 0);
        }
        for (int i = 0; i < 2000; i++)
                put(f,
                    (struct spec){.state = i % 2 ? JOB_COMPLETED : JOB_QUEUED, .run_at = T0 + i});
        commit(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        reopen(f);

        assert_plan_searches(f, "group_pick", "group_pick");
        assert_plan_searches(f, "group_ready_ids", "job_group_ready");
        assert_plan_searches(f, "nogroup_ready_ids", "job_group_ready");
        assert_plan_searches(f, "group_unblock", "group_until");
        assert_plan_searches(f, "group_next_until", "group_until");
        assert_plan_has(f, "qlim_get", "PRIMARY");
        assert_plan_has(f, "group_get", "PRIMARY");
        assert_plan_has(f, "rate_get", "PRIMARY");
        assert_plan_has(f, "rate_trim", "PRIMARY");

        /* And they return the right first rows: "huge" was served longest ago. */
        begin(f);
        {
                struct queue_counts qc;
                assert_int_equal(f->ops->queue_counts(f->st, "t1", "q1", &qc), 0);
                assert_int_equal(qc.by_state[JOB_QUEUED], 100000 + 1000 + 1000);
        }
        assert_int_equal(f->ops->group_pick(f->st, "t1", "q1", 1, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].grp, "huge");
        group_recs_free(v, n);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "g0999", 4, ids, prios, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 4, ids, prios, &n), 0);
        assert_int_equal(n, 4);
        commit(f);
}

/* Migration 7 counts the jobs a version-6 store already holds, so the
 * depth and running counters start exact. */
static void sqlite_migration_7_counts_existing_jobs(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = NULL, .sync_full = false, .busy_timeout_ms = 1000};
        struct queue_limits q = {0};
        struct store *st = NULL;
        char path[4200], sql[1024];
        sqlite3 *db = NULL;
        /* queued, running, running, completed, dead, scheduled */
        const int states[] = {2, 3, 3, 5, 6, 1};

        snprintf(path, sizeof(path), "%s/v6.db", f->dir);
        assert_int_equal(
            sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite_migrate_to(db, 6), 0);
        for (size_t i = 0; i < BATON_ARRAY_LEN(states); i++) {
                snprintf(sql, sizeof(sql),
                         "INSERT INTO jobs (tenant, queue, type, payload, priority, state, run_at,"
                         " attempt, max_attempts, backoff_type, backoff_base_ms, backoff_max_ms,"
                         " lease_ms, lease_until, settled, cancel_requested, version, created_at,"
                         " started_at, finished_at, ready_at) VALUES ('t1', '%s', 't', 'null', 2,"
                         " %d, 1, 0, 4, 0, 1000, 300000, 30000, 0, 0, 0, 1, 1, 0, 0, 0)",
                         i == 5 ? "other" : "q1", states[i]);
                assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        }
        sqlite3_close(db);
        o.uri = path;
        assert_int_equal(f->ops->open(&o, &st), 0);
        assert_int_equal(f->ops->begin(st), 0);
        assert_int_equal(f->ops->qlim_get(st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 3);
        assert_int_equal(q.running, 2);
        assert_int_equal(q.concurrency, 0);
        assert_false(q.def_backoff_set);
        queue_limits_free(&q);
        assert_int_equal(f->ops->qlim_get(st, "t1", "other", false, &q), 0);
        assert_int_equal(q.depth, 1);
        assert_int_equal(q.running, 0);
        queue_limits_free(&q);
        assert_int_equal(f->ops->commit(st), 0);
        f->ops->close(st);
}

/* Rows a version-7 store holds before migration 8: a job (id 41) and two
 * schedules of tenant t1. */
#define V7_ROWS                                                                                    \
        "INSERT INTO jobs (id, tenant, queue, type, payload, priority, state, run_at,"             \
        " attempt, max_attempts, backoff_type, backoff_base_ms, backoff_max_ms,"                   \
        " lease_ms, lease_until, settled, cancel_requested, version, created_at,"                  \
        " started_at, finished_at, ready_at) VALUES (41, 't1', 'q1', 't', 'null', 2,"              \
        " 2, 1, 0, 4, 0, 1000, 300000, 30000, 0, 0, 0, 1, 1, 0, 0, 0);"                            \
        "INSERT INTO cron_schedules (tenant, key, spec, enabled, paused, next_fire_at, due_at,"    \
        " buffered_at, buffered_run_id, last_run_id, last_job_id, version, created_at,"            \
        " updated_at) VALUES ('t1', 'a', '{}', 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),"                  \
        " ('t1', 'b', '{}', 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0)"

/* Checks a store just migrated to version 8: job id (stored before) has no
 * cron marker, one written now reads back, and t1's schedules are counted. */
static void migration_8_check(struct fixture *f, int64_t id)
{
        struct job j = {0};
        int64_t n = -1;
        int v = 0;

        assert_int_equal(f->ops->schema_version(f->st, &v), 0);
        assert_true(v >= 8); /* and any later migration */
        begin(f);
        assert_int_equal(f->ops->cron_count_add(f->st, "t1", 0, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(f->ops->cron_count_add(f->st, "t2", 0, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &j), 0);
        assert_null(j.cron);
        j.cron = xdup("{\"key\":\"nightly\",\"run\":\"7\"}");
        assert_int_equal(f->ops->job_update(f->st, &j), 0);
        job_free(&j);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &j), 0);
        assert_string_equal(j.cron, "{\"key\":\"nightly\",\"run\":\"7\"}");
        job_free(&j);
        commit(f);
}

/* Migration 8 on a version-7 SQLite store (see migration_8_check). */
static void sqlite_migration_8_adds_the_cron_marker(void **state)
{
        struct fixture *f = *state;
        char path[200];
        sqlite3 *db = NULL;

        f->ops->close(f->st);
        f->st = NULL;
        snprintf(path, sizeof(path), "%s/v7.db", f->dir);
        assert_int_equal(
            sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite_migrate_to(db, 7), 0);
        assert_int_equal(sqlite3_exec(db, V7_ROWS, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        snprintf(f->uri, sizeof(f->uri), "%s", path);
        assert_int_equal(open_fixture(f), 0);
        migration_8_check(f, 41);
}

/* Migration 12 on a store with timers and audit rows: a scheduled timer is due
 * at its fire_at (due_at copied), a fired one stays out of the due index, and
 * an old audit row counts one call. */
static void sqlite_migration_9_keeps_timers_due(void **state)
{
        struct fixture *f = *state;
        char path[200], sql[1024];
        struct timer_rec *v = NULL, t = {0};
        struct audit_filter all = {.limit = 10};
        struct audit_rec *a = NULL;
        int64_t next = 0;
        int n = -1;
        sqlite3 *db = NULL;

        f->ops->close(f->st);
        f->st = NULL;
        snprintf(path, sizeof(path), "%s/v8.db", f->dir);
        assert_int_equal(
            sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite_migrate_to(db, 8), 0);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO timers (tenant, key, version, state, fire_at, queue, type, payload,"
                 " priority, max_attempts, backoff_type, backoff_base_ms, backoff_max_ms,"
                 " lease_ms, request_id, job_id, fired_at, created_at, updated_at, grp) VALUES"
                 " ('t1', 'due', 3, 0, %lld, 'q', 't', '{}', 2, 4, 0, 1000, 300000, 30000,"
                 " NULL, 0, 0, %lld, %lld, NULL),"
                 " ('t1', 'done', 1, 1, %lld, 'q', 't', '{}', 2, 4, 0, 1000, 300000, 30000,"
                 " NULL, 7, %lld, %lld, %lld, NULL);"
                 "INSERT INTO audit (at, key_id, tenant, action, target, request_id, status,"
                 " code, detail) VALUES (%lld, 'k0000000000000001', 't1', 'queue.update', 'q',"
                 " 'r1', 403, 'forbidden', NULL);",
                 (long long)(T0 + 5000), (long long)T0, (long long)T0, (long long)T0, (long long)T0,
                 (long long)T0, (long long)T0, (long long)T0);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        snprintf(f->uri, sizeof(f->uri), "%s", path);
        assert_int_equal(open_fixture(f), 0);
        begin(f);
        assert_int_equal(f->ops->timer_next(f->st, &next), 0);
        assert_int_equal(next, T0 + 5000);
        assert_int_equal(f->ops->timer_due(f->st, T0 + 4999, 10, &v, &n), 0);
        assert_int_equal(n, 0);
        timer_recs_free(v, n);
        assert_int_equal(f->ops->timer_due(f->st, T0 + 5000, 10, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].key, "due");
        assert_int_equal(v[0].due_at_ms, T0 + 5000);
        assert_int_equal(v[0].deferred, 0);
        timer_recs_free(v, n);
        assert_int_equal(f->ops->timer_get(f->st, "t1", "done", &t), 0);
        assert_int_equal(t.state, 1);
        timer_rec_free(&t);
        assert_int_equal(f->ops->audit_list(f->st, &all, &a, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(a[0].n, 1);
        audit_recs_free(a, n);
        commit(f);
}

static void sqlite_plan_check_catches_a_missing_index(void **state)
{
        struct fixture *f = *state;
        char why[512];
        sqlite3 *db;

        /* The checker itself: without the ready index the claim must sort, and
         * that has to be reported, naming the statement. */
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db, "DROP INDEX job_group_ready", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
        reopen(f);
        assert_int_equal(sqlite_check_plans(f->st, why, sizeof(why)), BATON_ESTORE);
        assert_non_null(strstr(why, "group_ready_ids"));
}

static void sqlite_durability_settings(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = true, .busy_timeout_ms = 250};
        int64_t v = -1;

        /* The fixture opened with sync_full false: NORMAL (1). */
        assert_int_equal(sqlite_pragma_int(f->st, "synchronous", &v), 0);
        assert_int_equal(v, 1);
        f->ops->close(f->st);
        f->st = NULL;
        /* What the server asks for by default: FULL (2), an fsync per commit. */
        assert_int_equal(f->ops->open(&o, &f->st), 0);
        assert_int_equal(sqlite_pragma_int(f->st, "synchronous", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(sqlite_pragma_int(f->st, "busy_timeout", &v), 0);
        assert_int_equal(v, 250);
        assert_int_equal(sqlite_pragma_int(f->st, "synchronous; DROP TABLE jobs", &v),
                         BATON_EINVAL);
}

static void sqlite_file_uri_and_txn_guard(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = NULL, .sync_full = true, .busy_timeout_ms = 100};
        struct store *st = NULL;
        struct queue_rec q = {0};
        char path[4200];
        int64_t id;

        /* A uri ending in .db names the file itself. */
        snprintf(path, sizeof(path), "%s/other.db", f->dir);
        o.uri = path;
        assert_int_equal(f->ops->open(&o, &st), 0);
        /* A savepoint outside a transaction would commit the op on its own. */
        assert_int_equal(f->ops->savepoint(st), BATON_ESTORE);
        assert_int_equal(f->ops->begin(st), 0);
        assert_int_equal(f->ops->savepoint(st), 0);
        assert_int_equal(f->ops->queue_ensure(st, "t1", "q1", T0), 0);
        assert_int_equal(f->ops->release(st), 0);
        assert_int_equal(f->ops->commit(st), 0);
        f->ops->close(st);
        assert_int_equal(f->ops->open(&o, &st), 0);
        assert_int_equal(f->ops->begin(st), 0);
        assert_int_equal(f->ops->queue_get(st, "t1", "q1", &q), 0);
        queue_rec_free(&q);
        assert_int_equal(f->ops->job_find_key(st, "t1", "q1", "nope", &id), BATON_ENOTFOUND);
        assert_int_equal(f->ops->commit(st), 0);
        f->ops->close(st);
        o.uri = "";
        assert_int_equal(f->ops->open(&o, &st), BATON_EINVAL);
}

static void sqlite_migrates_a_version_1_store(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = NULL, .sync_full = false, .busy_timeout_ms = 1000};
        struct store *st = NULL;
        struct queue_rec q = {0};
        struct key_rec k = {0};
        char path[4200];
        sqlite3 *db = NULL;
        sqlite3_stmt *s = NULL;
        int v = -1;

        /* A store exactly as a binary that knew only migration 1 left it, with
         * some data in it. */
        snprintf(path, sizeof(path), "%s/v1.db", f->dir);
        assert_int_equal(
            sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite_migrate_to(db, sqlite_schema_newest() + 1), BATON_EINVAL);
        assert_int_equal(sqlite_migrate_to(db, 1), 0);
        assert_int_equal(sqlite_schema_read(db, &v), 0);
        assert_int_equal(v, 1);
        assert_int_not_equal(sqlite3_prepare_v2(db, "SELECT id FROM api_keys", -1, &s, NULL),
                             SQLITE_OK);
        sqlite3_finalize(s);
        assert_int_equal(
            sqlite3_exec(db, "INSERT INTO queues VALUES ('t1', 'mail', 1, 5, 6)", NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(db);

        /* Opening it applies the rest and keeps the data. */
        o.uri = path;
        assert_int_equal(f->ops->open(&o, &st), 0);
        assert_int_equal(f->ops->schema_version(st, &v), 0);
        assert_int_equal(v, sqlite_schema_newest());
        assert_true(v >= 2);
        assert_int_equal(f->ops->begin(st), 0);
        assert_int_equal(f->ops->queue_get(st, "t1", "mail", &q), 0);
        assert_true(q.paused);
        assert_int_equal(q.created_at_ms, 5);
        queue_rec_free(&q);
        assert_int_equal(f->ops->tenant_ensure(st, "default", T0), 0);
        key_plain(&k, "k0000000000000001", "default");
        assert_int_equal(f->ops->key_insert(st, &k), 0);
        key_rec_free(&k);
        assert_int_equal(
            f->ops->audit_insert(st, &(struct audit_rec){.action = (char *)"keys.create"}), 0);
        assert_int_equal(f->ops->commit(st), 0);
        f->ops->close(st);

        /* Each migration is recorded once; a second open applies nothing. */
        assert_int_equal(f->ops->open(&o, &st), 0);
        assert_int_equal(f->ops->begin(st), 0);
        assert_int_equal(f->ops->key_get(st, "k0000000000000001", &k), 0);
        key_rec_free(&k);
        assert_int_equal(f->ops->commit(st), 0);
        f->ops->close(st);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT COUNT(*), MIN(version), MAX(version)"
                                            " FROM schema_migrations",
                                            -1, &s, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(s, 0), sqlite_schema_newest());
        assert_int_equal(sqlite3_column_int(s, 1), 1);
        assert_int_equal(sqlite3_column_int(s, 2), sqlite_schema_newest());
        sqlite3_finalize(s);
        sqlite3_close(db);
}

static void sqlite_tenant_keeps_first_created_at(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db;
        sqlite3_stmt *s;

        begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0 + 50), 0);
        commit(f);
        begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0 + 99), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, NULL, T0), BATON_EINVAL);
        commit(f);
        db = sqlite_raw(f);
        assert_int_equal(
            sqlite3_prepare_v2(db, "SELECT COUNT(*), MAX(created_at) FROM tenants", -1, &s, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(s, 0), 1);
        assert_int_equal(sqlite3_column_int64(s, 1), T0);
        sqlite3_finalize(s);
        sqlite3_close(db);
}

/* Asserts that the plan of statement name contains want and never scans a
 * table or sorts. */
static void assert_plan_has(struct fixture *f, const char *name, const char *want)
{
        char plan[2048];

        assert_int_equal(sqlite_explain(f->st, name, plan, sizeof(plan)), 0);
        if (!strstr(plan, want) || strstr(plan, "SCAN ") || strstr(plan, "TEMP B-TREE"))
                print_error("%s: expected %s, got:\n%s", name, want, plan);
        assert_non_null(strstr(plan, want));
        assert_null(strstr(plan, "SCAN "));
        assert_null(strstr(plan, "TEMP B-TREE"));
}

static void sqlite_key_and_audit_plans(void **state)
{
        struct fixture *f = *state;
        const char *tenants[] = {"default", "acme", "globex"};
        const char *actions[] = {"keys.create", "keys.revoke", "queue.update", "dead.replay"};
        sqlite3 *db;

        /* Many audit records over a few tenants, actions and keys; then
         * ANALYZE, so the planner weighs real statistics. */
        begin(f);
        for (int i = 0; i < 60; i++) {
                char id[32];

                snprintf(id, sizeof(id), "k%016x", i);
                key_put(f, id, tenants[i % 3]);
        }
        for (int i = 0; i < 3000; i++) {
                char key[32];

                snprintf(key, sizeof(key), "k%016x", i % 60);
                audit_put(f, tenants[i % 3], actions[i % 4], key, i);
        }
        commit(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        reopen(f);

        assert_plan_has(f, "key_get", "USING PRIMARY KEY");
        assert_plan_has(f, "key_update", "USING PRIMARY KEY");
        assert_plan_has(f, "key_list_tenant", "INDEX key_tenant");
        assert_plan_has(f, "key_list_all", "USING PRIMARY KEY");
        assert_plan_has(f, "audit_list/0", "USING INTEGER PRIMARY KEY");
        assert_plan_has(f, "audit_list/1", "INDEX audit_tenant");
        assert_plan_has(f, "audit_list/2", "INDEX audit_action");
        assert_plan_has(f, "audit_list/4", "INDEX audit_key");
        for (int bits = 0; bits < 8; bits++) {
                char name[32];

                snprintf(name, sizeof(name), "audit_list/%d", bits);
                assert_plan_has(f, name, "SEARCH audit");
        }
        assert_int_equal(sqlite_explain(f->st, "audit_list/8", (char[8]){0}, 8), BATON_ENOTFOUND);
        assert_plans_good(f);
}

/* ======== cluster: leader lease and notifications ========
 * The lease is compared against the store's clock where nodes share it
 * (PostgreSQL uses the database server's), so these tests pass the real wall
 * clock as now_ms and use either long leases or a lapse they sleep past. */

#define LONG_TTL_MS 600000

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct leader_rec acquire(struct fixture *f, const char *node, int64_t held_epoch,
                                 int64_t ttl_ms, int64_t lag_ms)
{
        struct leader_rec l;

        memset(&l, 0x55, sizeof(l));
        begin(f);
        assert_int_equal(
            f->ops->leader_acquire(f->st, node, held_epoch, wall_ms(), ttl_ms, lag_ms, &l), 0);
        commit(f);
        return l;
}

static int check(struct fixture *f, const char *node, int64_t epoch)
{
        int rc;

        begin(f);
        rc = f->ops->leader_check(f->st, node, epoch);
        commit(f);
        return rc;
}

static struct leader_rec lease_now(struct fixture *f)
{
        struct leader_rec l;

        memset(&l, 0x55, sizeof(l));
        begin(f);
        assert_int_equal(f->ops->leader_get(f->st, &l), 0);
        commit(f);
        return l;
}

static void leader_take_and_renew(void **state)
{
        struct fixture *f = *state;
        struct leader_rec l = lease_now(f), r;
        int64_t t0 = wall_ms();

        assert_string_equal(l.node, "");
        assert_int_equal(l.epoch, 0);
        assert_int_equal(l.lease_until_ms, 0);
        assert_int_equal(check(f, "a", 0), BATON_ECONFLICT); /* never held: nobody leads */
        l = acquire(f, "a", 0, LONG_TTL_MS, 7);
        assert_string_equal(l.node, "a");
        assert_int_equal(l.epoch, 1);
        assert_true(l.lease_until_ms >= t0 + LONG_TTL_MS - 5000);
        assert_true(l.heartbeat_at_ms >= t0 - 5000);
        assert_int_equal(l.lag_ms, 7);
        r = lease_now(f);
        assert_string_equal(r.node, "a");
        assert_int_equal(r.epoch, 1);
        assert_int_equal(r.lease_until_ms, l.lease_until_ms);
        assert_int_equal(r.heartbeat_at_ms, l.heartbeat_at_ms);
        assert_int_equal(check(f, "a", 1), 0);
        assert_int_equal(check(f, "a", 2), BATON_ECONFLICT);
        assert_int_equal(check(f, "b", 1), BATON_ECONFLICT);
        /* A renewal keeps the epoch and moves the heartbeat and the end. */
        usleep(5000);
        r = acquire(f, "a", 1, LONG_TTL_MS, 3);
        assert_int_equal(r.epoch, 1);
        assert_true(r.heartbeat_at_ms >= l.heartbeat_at_ms);
        assert_true(r.lease_until_ms >= l.lease_until_ms);
        assert_int_equal(r.lag_ms, 3);
        assert_int_equal(lease_now(f).lag_ms, 3);
        /* It survives a reopen. */
        reopen(f);
        assert_int_equal(check(f, "a", 1), 0);
}

/* A deposed leader's duty is refused: once b holds the lease at a later
 * epoch, a's check with its old epoch fails, and so do its renewal and
 * release. */
static void leader_fencing_refuses_deposed(void **state)
{
        struct fixture *f = *state;
        struct leader_rec a = acquire(f, "a", 0, LONG_TTL_MS, 0), b;

        assert_int_equal(a.epoch, 1);
        b = acquire(f, "b", 0, LONG_TTL_MS, 0);
        if (f->ops->shared) {
                /* a's lease is live: b is told who leads and changes nothing. */
                assert_string_equal(b.node, "a");
                assert_int_equal(b.epoch, 1);
                assert_int_equal(check(f, "a", 1), 0);
                assert_int_equal(check(f, "b", 1), BATON_ECONFLICT);
                /* a steps down cleanly; b takes over at once. */
                begin(f);
                assert_int_equal(f->ops->leader_release(f->st, "a", 1), 0);
                commit(f);
                assert_int_equal(lease_now(f).lease_until_ms, 0);
                b = acquire(f, "b", 0, LONG_TTL_MS, 0);
        }
        assert_string_equal(b.node, "b");
        assert_int_equal(b.epoch, 2);
        assert_int_equal(check(f, "a", 1), BATON_ECONFLICT);
        assert_int_equal(check(f, "b", 2), 0);
        /* The deposed a renews with its old epoch: it does not get the lease
         * back on a shared store; a single-owner store hands it over (to a
         * later epoch, which still fences b). */
        a = acquire(f, "a", 1, LONG_TTL_MS, 0);
        if (f->ops->shared) {
                assert_string_equal(a.node, "b");
                assert_int_equal(a.epoch, 2);
                assert_int_equal(check(f, "b", 2), 0);
        } else {
                assert_string_equal(a.node, "a");
                assert_int_equal(a.epoch, 3);
                assert_int_equal(check(f, "b", 2), BATON_ECONFLICT);
        }
        /* Releasing with a stale epoch changes nothing. */
        b = lease_now(f);
        begin(f);
        assert_int_equal(f->ops->leader_release(f->st, "a", 1), 0);
        commit(f);
        assert_int_equal(lease_now(f).lease_until_ms, b.lease_until_ms);
}

/* A lapsed lease goes to the next node that asks, at the next epoch. */
static void leader_lapse_and_takeover(void **state)
{
        struct fixture *f = *state;
        struct leader_rec a = acquire(f, "a", 0, 1, 0), b;

        assert_int_equal(a.epoch, 1);
        usleep(30000);
        b = acquire(f, "b", 0, LONG_TTL_MS, 0);
        assert_string_equal(b.node, "b");
        assert_int_equal(b.epoch, 2);
        assert_int_equal(check(f, "a", 1), BATON_ECONFLICT);
        /* The old holder's renewal after the lapse does not reclaim it. */
        a = acquire(f, "a", 1, LONG_TTL_MS, 0);
        if (f->ops->shared)
                assert_string_equal(a.node, "b");
        /* A lapsed lease of a itself is taken again at a new epoch, so a duty
         * still in flight from before the lapse is fenced. */
        a = acquire(f, "c", 0, 1, 0);
        if (f->ops->shared) {
                begin(f);
                assert_int_equal(f->ops->leader_release(f->st, "b", 2), 0);
                commit(f);
                a = acquire(f, "c", 0, 1, 0);
        }
        assert_string_equal(a.node, "c");
        usleep(30000);
        b = acquire(f, "c", a.epoch, LONG_TTL_MS, 0);
        assert_string_equal(b.node, "c");
        assert_int_equal(b.epoch, a.epoch + 1);
        assert_int_equal(check(f, "c", a.epoch), BATON_ECONFLICT);
}

/* A new process with the node id of the holder (a restart) takes the lease
 * at a new epoch without waiting for it to lapse. */
static void leader_same_node_new_process(void **state)
{
        struct fixture *f = *state;
        struct leader_rec a = acquire(f, "a", 0, LONG_TTL_MS, 0), b;

        b = acquire(f, "a", 0, LONG_TTL_MS, 0);
        assert_string_equal(b.node, "a");
        assert_int_equal(b.epoch, a.epoch + 1);
        assert_int_equal(check(f, "a", a.epoch), BATON_ECONFLICT);
}

static void leader_rollback_keeps_nothing(void **state)
{
        struct fixture *f = *state;
        struct leader_rec l;

        begin(f);
        assert_int_equal(f->ops->leader_acquire(f->st, "a", 0, wall_ms(), LONG_TTL_MS, 0, &l), 0);
        assert_int_equal(l.epoch, 1);
        assert_int_equal(f->ops->notify(f->st, (const char *[]){"r\tt1\tq1"}, 1), 0);
        assert_int_equal(f->ops->rollback(f->st), 0);
        assert_int_equal(lease_now(f).epoch, 0);
        /* A savepoint rolled back drops a take too. */
        begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->leader_acquire(f->st, "a", 0, wall_ms(), LONG_TTL_MS, 0, &l), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        commit(f);
        assert_int_equal(lease_now(f).epoch, 0);
}

static void leader_refuses_bad_arguments(void **state)
{
        struct fixture *f = *state;
        struct leader_rec l;
        char long_node[STORE_NODE_MAX + 2];

        memset(long_node, 'n', sizeof(long_node) - 1);
        long_node[sizeof(long_node) - 1] = 0;
        begin(f);
        assert_int_equal(f->ops->leader_acquire(f->st, "", 0, wall_ms(), 1000, 0, &l),
                         BATON_EINVAL);
        assert_int_equal(f->ops->leader_acquire(f->st, long_node, 0, wall_ms(), 1000, 0, &l),
                         BATON_EINVAL);
        assert_int_equal(f->ops->leader_acquire(f->st, "a", 0, wall_ms(), 0, 0, &l), BATON_EINVAL);
        commit(f);
        assert_int_equal(lease_now(f).epoch, 0);
}

static void notify_in_transaction(void **state)
{
        struct fixture *f = *state;
        char big[7002];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        begin(f);
        assert_int_equal(
            f->ops->notify(f->st, (const char *[]){"r\tt1\tq1", "k\tk0123456789abcdef"}, 2), 0);
        assert_int_equal(f->ops->notify(f->st, (const char *[]){"r\tt1\tq2", big}, 2),
                         BATON_EINVAL);
        assert_int_equal(f->ops->notify(f->st, NULL, 0), 0);
        commit(f);
        /* listen ops come as a set: all or none. */
        assert_true((f->ops->listen_open && f->ops->listen_fd && f->ops->listen_read &&
                     f->ops->listen_close) ||
                    (!f->ops->listen_open && !f->ops->listen_fd && !f->ops->listen_read &&
                     !f->ops->listen_close));
        assert_true(!f->ops->shared || f->ops->listen_open);
}

/* Shared stores only (store_ops.shared): two connections, as two nodes. */

struct notes {
        char seen[64][96];
        int n;
};

static void collect_note(void *ctx, const char *payload)
{
        struct notes *ns = ctx;

        if (ns->n < 64)
                snprintf(ns->seen[ns->n++], sizeof(ns->seen[0]), "%s", payload);
}

static bool noted(const struct notes *ns, const char *payload)
{
        for (int i = 0; i < ns->n; i++)
                if (strcmp(ns->seen[i], payload) == 0)
                        return true;
        return false;
}

/* Reads the listener until want arrives or 3 s pass. */
static void listen_until(struct fixture *f, struct store_listener *l, struct notes *ns,
                         const char *want)
{
        int64_t deadline = wall_ms() + 3000;

        while (!noted(ns, want) && wall_ms() < deadline) {
                struct pollfd pfd = {f->ops->listen_fd(l), POLLIN, 0};
                poll(&pfd, 1, 50);
                assert_int_equal(f->ops->listen_read(l, collect_note, ns), 0);
        }
}

/* A notification reaches another connection's listener at commit, and one
 * rolled back never does. */
static void shared_notify_delivered_at_commit(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};
        struct store_listener *l = NULL;
        struct notes ns = {0};
        char kept[64], kept2[64], dropped[64];
        const char *quoted = "q\t\"quotes\" and \\ {braces}, commas";
        int64_t t0;

        snprintf(kept, sizeof(kept), "test-kept-%ld-%lld", (long)getpid(), (long long)wall_ms());
        snprintf(kept2, sizeof(kept2), "test-kept2-%ld-%lld", (long)getpid(), (long long)wall_ms());
        snprintf(dropped, sizeof(dropped), "test-dropped-%ld-%lld", (long)getpid(),
                 (long long)wall_ms());
        assert_int_equal(f->ops->listen_open(&o, &l), 0);
        assert_true(f->ops->listen_fd(l) >= 0);
        begin(f);
        assert_int_equal(f->ops->notify(f->st, (const char *[]){dropped}, 1), 0);
        assert_int_equal(f->ops->rollback(f->st), 0);
        begin(f);
        assert_int_equal(f->ops->notify(f->st, (const char *[]){kept, quoted, kept2}, 3), 0);
        /* Not before the commit. */
        assert_int_equal(f->ops->listen_read(l, collect_note, &ns), 0);
        usleep(50000);
        assert_int_equal(f->ops->listen_read(l, collect_note, &ns), 0);
        assert_false(noted(&ns, kept));
        t0 = wall_ms();
        commit(f);
        listen_until(f, l, &ns, kept2);
        /* Every payload of the call arrives, in order, exactly as given. */
        assert_true(noted(&ns, kept));
        assert_true(noted(&ns, quoted));
        assert_true(noted(&ns, kept2));
        print_message("notification delivered %lld ms after commit\n", (long long)(wall_ms() - t0));
        assert_false(noted(&ns, dropped));
        f->ops->listen_close(l);
}

/* Two nodes: a duty of a that checked its epoch keeps b from taking the
 * lease until it commits; then b takes it (epoch 2) and a's next duty is
 * refused. b's attempt never waits for a's lock. */
static void shared_duty_blocks_takeover_until_commit(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};
        struct store *g = NULL;
        struct leader_rec a = acquire(f, "a", 0, 1, 0), b;
        int64_t t0;

        assert_int_equal(a.epoch, 1);
        assert_int_equal(f->ops->open(&o, &g), 0);
        usleep(30000); /* a's lease has lapsed, but a is inside a duty: */
        begin(f);
        assert_int_equal(f->ops->leader_check(f->st, "a", 1), 0);
        t0 = wall_ms();
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_acquire(g, "b", 0, wall_ms(), LONG_TTL_MS, 0, &b), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_true(wall_ms() - t0 < 1000); /* no lock wait */
        assert_string_equal(b.node, "a");
        assert_int_equal(b.epoch, 1);
        commit(f);
        /* The duty is over: b takes the lapsed lease. */
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_acquire(g, "b", 0, wall_ms(), LONG_TTL_MS, 0, &b), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_string_equal(b.node, "b");
        assert_int_equal(b.epoch, 2);
        /* a's next duty is fenced, b's passes, and both may check at once. */
        begin(f);
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_check(g, "b", 2), 0);
        assert_int_equal(f->ops->leader_check(f->st, "a", 1), BATON_ECONFLICT);
        assert_int_equal(f->ops->commit(g), 0);
        commit(f);
        f->ops->close(g);
}

/* The holder renews its lease on a connection of its own while one of its
 * duties (which checked the epoch and holds the row) runs on another: the
 * renewal neither waits nor is skipped, and neither is the release at
 * shutdown; a takeover by another node still waits for the duty. At
 * 85d7779 the check locked FOR SHARE and the renewal skipped the row, so a
 * leader with a long tick on its store connection lost its lease. */
static void shared_holder_renews_during_its_duty(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};
        struct store *g = NULL;
        struct leader_rec a = acquire(f, "a", 0, LONG_TTL_MS, 0), r;
        int64_t t0;

        assert_int_equal(f->ops->open(&o, &g), 0);
        assert_int_equal(a.epoch, 1);
        usleep(20000);
        begin(f);
        assert_int_equal(f->ops->leader_check(f->st, "a", 1), 0); /* the duty */
        t0 = wall_ms();
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_acquire(g, "a", 1, wall_ms(), LONG_TTL_MS, 3, &r), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_true(wall_ms() - t0 < 1000);
        assert_string_equal(r.node, "a");
        assert_int_equal(r.epoch, 1);
        assert_true(r.heartbeat_at_ms > a.heartbeat_at_ms);
        assert_true(r.lease_until_ms > a.lease_until_ms);
        /* The duty goes on under the renewed lease. */
        assert_int_equal(f->ops->leader_check(f->st, "a", 1), 0);
        /* Released while the duty runs: the lease ends, but nobody takes it
         * before the duty is over. */
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_release(g, "a", 1), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_acquire(g, "b", 0, wall_ms(), LONG_TTL_MS, 0, &r), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_string_equal(r.node, "a");
        assert_int_equal(r.lease_until_ms, 0);
        commit(f);
        r = acquire(f, "b", 0, LONG_TTL_MS, 0);
        assert_string_equal(r.node, "b");
        assert_int_equal(r.epoch, 2);
        f->ops->close(g);
}

static const struct CMUnitTest shared_tests[] = {
    cmocka_unit_test_setup_teardown(shared_notify_delivered_at_commit, setup, teardown),
    cmocka_unit_test_setup_teardown(shared_duty_blocks_takeover_until_commit, setup, teardown),
    cmocka_unit_test_setup_teardown(shared_holder_renews_during_its_duty, setup, teardown),
};

/* ======== end of the cluster section ======== */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static const struct CMUnitTest sqlite_tests[] = {
    T(sqlite_refuses_newer_schema),
    T(sqlite_migrations_recorded_once),
    T(sqlite_hot_queries_use_indexes),
    T(sqlite_claim_and_deadline_plans),
    T(sqlite_plan_check_catches_a_missing_index),
    T(sqlite_durability_settings),
    T(sqlite_file_uri_and_txn_guard),
    T(sqlite_migrates_a_version_1_store),
    T(sqlite_tenant_keeps_first_created_at),
    T(sqlite_key_and_audit_plans),
    T(sqlite_group_claim_plans_at_scale),
    T(sqlite_migration_7_counts_existing_jobs),
    T(sqlite_migration_8_adds_the_cron_marker),
    T(sqlite_migration_9_keeps_timers_due),
};

static bool always(void)
{
        return true;
}

static int run_group(const struct backend *be, const char *group, const struct CMUnitTest *tests,
                     size_t n)
{
        struct CMUnitTest *run = calloc(n, sizeof(*run));
        int failed;

        assert_non_null(run);
        for (size_t i = 0; i < n; i++) {
                run[i] = tests[i];
                run[i].initial_state = (void *)be;
        }
        failed = _cmocka_run_group_tests(group, run, n, NULL, NULL);
        free(run);
        return failed;
}

static int sqlite_specific(const struct backend *be)
{
        return run_group(be, "sqlite-specific", sqlite_tests, BATON_ARRAY_LEN(sqlite_tests));
}

/* ======== end of the SQLite-specific section ======== */

#ifdef BATON_HAVE_POSTGRES
/* ======== PostgreSQL-specific section ========
 *
 * BATON_TEST_PG_URI names a database the suite may write to (a libpq URI such
 * as postgresql://baton@127.0.0.1/baton_test). Each test runs in a schema of
 * its own, created here and dropped afterwards; the store receives the URI with
 * options=-csearch_path=<schema>, so a backend that passes its URI to libpq
 * unchanged works in it without knowing. */

#include <libpq-fe.h>
#include <pthread.h>

#include "core/groups.h"
#include "core/jobs.h"
#include "store/pg_internal.h"
#include "support/pgtest.h"

static bool pg_available(void)
{
        return pgtest_available();
}

static int pg_create(struct fixture *f)
{
        struct pgtest t;

        if (pgtest_create(&t) != 0)
                return -1;
        snprintf(f->scope, sizeof(f->scope), "%s", t.scope);
        snprintf(f->uri, sizeof(f->uri), "%s", t.uri);
        return 0;
}

static void pg_destroy(struct fixture *f)
{
        struct pgtest t = {{0}, {0}};

        snprintf(t.scope, sizeof(t.scope), "%s", f->scope);
        pgtest_drop(&t);
        f->scope[0] = '\0';
}

/* A connection of the test's own to the fixture's schema. */
static PGconn *pg_raw(struct fixture *f)
{
        PGconn *c = PQconnectdb(f->uri);

        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        return c;
}

static void pg_raw_exec(PGconn *c, const char *sql)
{
        PGresult *r = PQexec(c, sql);

        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", sql, PQerrorMessage(c));
        PQclear(r);
}

static int64_t pg_raw_i64(PGconn *c, const char *sql)
{
        PGresult *r = PQexec(c, sql);
        int64_t v;

        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_int_equal(PQntuples(r), 1);
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return v;
}

static void pg_refuses_newer_schema(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri};
        struct store *st = NULL;
        PGconn *c = pg_raw(f);
        char sql[160];

        snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 0)",
                 pg_schema_newest() + 1);
        pg_raw_exec(c, sql);
        PQfinish(c);
        assert_int_equal(f->ops->open(&o, &st), BATON_ESCHEMA);
        assert_null(st);
}

static void pg_migrations_recorded_once(void **state)
{
        struct fixture *f = *state;
        PGconn *c;
        int v = 0;

        reopen(f); /* a second open applies nothing */
        begin(f);
        assert_int_equal(f->ops->schema_version(f->st, &v), 0);
        commit(f);
        assert_int_equal(v, pg_schema_newest());
        c = pg_raw(f);
        assert_int_equal(pg_raw_i64(c, "SELECT COUNT(*) FROM schema_migrations"),
                         pg_schema_newest());
        assert_int_equal(pg_raw_i64(c, "SELECT COUNT(DISTINCT version) FROM schema_migrations"),
                         pg_schema_newest());
        PQfinish(c);
}

/* A store left at version 1 by an older binary is migrated on open, and its
 * rows survive. */
static void pg_migrates_a_version_1_store(void **state)
{
        struct fixture *f = *state;
        struct job j;
        PGconn *c;
        int v = 0;

        f->ops->close(f->st);
        f->st = NULL;
        c = pg_raw(f);
        pg_raw_exec(
            c, "DROP TABLE dep_work, queue_totals, queue_counts, cron_counts, rate_log, "
               "job_groups, queue_limits, "
               "leader_lease, job_deps,"
               " flows,"
               " timers, cron_runs, cron_schedules, audit, api_keys, tenants, idempotency, queues,"
               " jobs, schema_migrations");
        assert_int_equal(pg_migrate_to(c, pg_schema_newest() + 1), BATON_EINVAL);
        assert_int_equal(pg_migrate_to(c, 1), 0);
        assert_int_equal(pg_schema_read(c, &v), 0);
        assert_int_equal(v, 1);
        pg_raw_exec(c, "INSERT INTO jobs (tenant, queue, type, payload, priority, state, run_at,"
                       " attempt, max_attempts, backoff_type, backoff_base_ms, backoff_max_ms,"
                       " lease_ms, lease_until, settled, cancel_requested, version, created_at,"
                       " started_at, finished_at, ready_at) VALUES ('t1', 'q1', 'old', '{}', 1,"
                       " 2, 5, 0, 3, 0, 1000, 2000, 30000, 0, 0, 0, 1, 5, 0, 0, 5)");
        PQfinish(c);
        assert_int_equal(open_fixture(f), 0);
        begin(f);
        assert_int_equal(f->ops->schema_version(f->st, &v), 0);
        assert_int_equal(v, pg_schema_newest());
        assert_int_equal(f->ops->job_get(f->st, "t1", 1, &j), 0);
        assert_string_equal(j.type, "old");
        assert_null(j.timer);
        assert_int_equal(j.flow_id, 0);
        job_free(&j);
        commit(f);
}

/* The planner picks among several usable indexes by their statistics, so the
 * tables first get rows spread like a busy server's (many tenants, queues,
 * states, keys, flows) and ANALYZE. */
static void pg_populate(struct fixture *f)
{
        PGconn *c = pg_raw(f);

        pg_raw_exec(c, "INSERT INTO jobs (tenant, queue, type, payload, priority, state, run_at,"
                       " attempt, max_attempts, backoff_type, backoff_base_ms, backoff_max_ms,"
                       " lease_ms, dkey, lease_until, settled, cancel_requested, version,"
                       " created_at, started_at, finished_at, ready_at, flow_id)"
                       " SELECT 't' || (i % 20), 'q' || (i % 50), 'type' || (i % 7), '{}', i % 4,"
                       " i % 8, i, 0, 3, 0, 1000, 2000, 30000, 'k' || i, i, 0, 0, 1, i, i, i, i,"
                       " CASE WHEN i % 10 = 0 THEN i / 10 ELSE 0 END"
                       " FROM generate_series(1, 20000) AS i");
        pg_raw_exec(c, "INSERT INTO audit (at, key_id, tenant, action, status)"
                       " SELECT i, 'k' || (i % 30), 't' || (i % 20), 'a' || (i % 15), 200"
                       " FROM generate_series(1, 5000) AS i");
        pg_raw_exec(c, "INSERT INTO cron_runs (tenant, key, scheduled_at, fired_at, trigger,"
                       " job_id, status) SELECT 't' || (i % 20), 'c' || (i % 40), i, i,"
                       " 'schedule', 0, 'queued' FROM generate_series(1, 5000) AS i");
        pg_raw_exec(c, "INSERT INTO api_keys (id, tenant, digest, prev_until, scopes, created_at,"
                       " expires_at, revoked_at, rotated_at, rate_max, rate_per_ms)"
                       " SELECT 'k' || i, 't' || (i % 20), 'd', 0, 1, i, 0, 0, 0, 0, 0"
                       " FROM generate_series(1, 2000) AS i");
        pg_raw_exec(c, "INSERT INTO idempotency SELECT 't' || (i % 20), 'k' || i, i, 'h', i"
                       " FROM generate_series(1, 5000) AS i");
        pg_raw_exec(c, "INSERT INTO queues SELECT 't' || (i % 20), 'q' || i, 0, i, i"
                       " FROM generate_series(1, 2000) AS i");
        pg_raw_exec(c, "INSERT INTO timers SELECT 't' || (i % 20), 'k' || i, 1, i % 3, i, 'q',"
                       " 'x', '{}', 1, 3, 0, 1, 1, 1000, NULL, 0, 0, i, i"
                       " FROM generate_series(1, 5000) AS i");
        pg_raw_exec(c, "INSERT INTO cron_schedules SELECT 't' || (i % 20), 'c' || i, '{}', 1, 0,"
                       " NULL, i, CASE WHEN i % 2 = 0 THEN i ELSE 0 END, 0, 0, 0, 0, 1, i, i"
                       " FROM generate_series(1, 2000) AS i");
        pg_raw_exec(c, "INSERT INTO flows (tenant, created_at) SELECT 't' || (i % 20), i"
                       " FROM generate_series(1, 2000) AS i");
        pg_raw_exec(c, "INSERT INTO job_deps SELECT i, i + 1, 't1'"
                       " FROM generate_series(1, 5000) AS i");
        /* Version 5: grouped jobs, their group rows, queue limits, rate logs. */
        pg_raw_exec(c, "UPDATE jobs SET grp = 'g' || (id % 300) WHERE id % 3 = 0");
        pg_raw_exec(c, "INSERT INTO queue_limits (tenant, queue, depth)"
                       " SELECT 't' || (i % 20), 'q' || i, i FROM generate_series(1, 2000) AS i");
        pg_raw_exec(c, "INSERT INTO job_groups SELECT 't' || (i % 20), 'q' || (i % 50),"
                       " 'g' || i, i % 3, CASE WHEN i % 4 = 0 THEN NULL ELSE i % 4 END, i,"
                       " CASE WHEN i % 5 = 0 THEN 1 ELSE 0 END,"
                       " CASE WHEN i % 7 = 0 THEN i ELSE 0 END, 0, 0"
                       " FROM generate_series(1, 5000) AS i");
        pg_raw_exec(c, "INSERT INTO rate_log SELECT 't' || (i % 20), 'q' || (i % 50),"
                       " 'g' || (i % 100), i, i FROM generate_series(1, 5000) AS i");
        pg_raw_exec(c, "ANALYZE");
        PQfinish(c);
}

static void pg_hot_queries_use_indexes(void **state)
{
        struct fixture *f = *state;
        char why[4096];
        int rc;

        pg_populate(f);
        rc = pg_check_plans(f->st, why, sizeof(why));

        if (rc)
                fail_msg("%s", why);
        assert_int_equal(pg_explain(f->st, "no_such_statement", why, sizeof(why)), BATON_ENOTFOUND);
        assert_int_equal(pg_explain(f->st, "pg_job_ready_ids", why, sizeof(why)), BATON_ENOTFOUND);
        /* The claim reads of version 5 lock what they return. */
        assert_int_equal(pg_explain(f->st, "pg_group_ready_ids", why, sizeof(why)), 0);
        assert_non_null(strstr(why, "job_group_ready"));
        assert_non_null(strstr(why, "LockRows")); /* FOR UPDATE SKIP LOCKED */
        assert_int_equal(pg_explain(f->st, "pg_nogroup_ready_ids", why, sizeof(why)), 0);
        assert_non_null(strstr(why, "job_nogroup_ready"));
        assert_non_null(strstr(why, "LockRows"));
        assert_int_equal(pg_explain(f->st, "pg_group_pick", why, sizeof(why)), 0);
        assert_non_null(strstr(why, "LockRows")); /* FOR UPDATE */
        assert_int_equal(pg_explain(f->st, "pg_qlim_lock", why, sizeof(why)), 0);
        assert_non_null(strstr(why, "LockRows"));
}

static void pg_plan_check_catches_a_missing_index(void **state)
{
        struct fixture *f = *state;
        PGconn *c = pg_raw(f);
        char why[4096];

        pg_raw_exec(c, "DROP INDEX job_group_ready");
        PQfinish(c);
        assert_int_equal(pg_check_plans(f->st, why, sizeof(why)), BATON_ESTORE);
        if (!strstr(why, "pg_group_ready_ids"))
                print_error("%s\n", why);
        assert_non_null(strstr(why, "pg_group_ready_ids"));
}

/* Asserts that the plan of statement name (pg_explain, with the planner's
 * own choices: sequential scans and sorts allowed) reads through index and
 * neither scans a table sequentially nor sorts. */
static void pg_assert_plan(struct fixture *f, const char *name, const char *index)
{
        char plan[4096], want[96];

        assert_int_equal(pg_explain_free(f->st, name, plan, sizeof(plan)), 0);
        snprintf(want, sizeof(want), " %s ", index);
        if (!strstr(plan, want) || strstr(plan, "Seq Scan") || strstr(plan, "Sort"))
                print_error("%s: expected %s, got:\n%s", name, index, plan);
        assert_non_null(strstr(plan, want));
        assert_null(strstr(plan, "Seq Scan"));
        assert_null(strstr(plan, "Sort"));
}

/* The claim path of a queue with 100,000 ready jobs in one group, 1,000 other
 * groups and ungrouped jobs, analyzed: the planner left to its own choices
 * reads each claim statement's first rows from its index. */
static void pg_group_claim_plans_at_scale(void **state)
{
        struct fixture *f = *state;
        struct group_rec *v = NULL;
        int64_t ids[4];
        int prios[4], n = 0;
        PGconn *c = pg_raw(f);

        pg_raw_exec(c, "INSERT INTO jobs (tenant, queue, type, payload, priority, state, run_at,"
                       " attempt, max_attempts, backoff_type, backoff_base_ms, backoff_max_ms,"
                       " lease_ms, lease_until, settled, cancel_requested, version, created_at,"
                       " started_at, finished_at, ready_at, grp)"
                       " SELECT 't1', 'q1', 'x', '{}', 2, 2, i, 0, 3, 0, 1000, 2000, 30000, 0, 0,"
                       " 0, 1, i, 0, 0, i, CASE WHEN i <= 100000 THEN 'huge'"
                       " WHEN i <= 101000 THEN 'g' || lpad((i - 100001)::text, 4, '0')"
                       " ELSE NULL END FROM generate_series(1, 103000) AS i");
        pg_raw_exec(c, "UPDATE jobs SET state = 5 WHERE id > 101000 AND id % 2 = 0");
        pg_raw_exec(c, "INSERT INTO job_groups VALUES ('t1', 'q1', 'huge', 0, 2, 0, 0, 0, 0, 0)");
        pg_raw_exec(c, "INSERT INTO job_groups SELECT 't1', 'q1', 'g' || lpad(i::text, 4, '0'),"
                       " 0, 2, i + 1, 0, CASE WHEN i % 10 = 0 THEN i ELSE 0 END, 0, 0"
                       " FROM generate_series(0, 999) AS i");
        pg_raw_exec(c,
                    "INSERT INTO queue_limits (tenant, queue, depth) VALUES ('t1', 'q1', 102000)");
        pg_raw_exec(c, "INSERT INTO queue_limits (tenant, queue, depth) SELECT 't' || (i % 20),"
                       " 'q' || i, i FROM generate_series(2, 2000) AS i");
        pg_raw_exec(c, "INSERT INTO queue_counts SELECT 't' || (i % 20), 'q' || i, s, 1, 0"
                       " FROM generate_series(1, 2000) AS i, generate_series(0, 3) AS s");
        /* Every queue with counters has its queues row (queue_ensure). */
        pg_raw_exec(c, "INSERT INTO queues SELECT 't' || (i % 20), 'q' || i, 0, 0, 0"
                       " FROM generate_series(2, 2000) AS i");
        pg_raw_exec(c, "INSERT INTO queues VALUES ('t1', 'q1', 0, 0, 0)");
        pg_raw_exec(c, "INSERT INTO rate_log SELECT 't1', 'q1', 'g' || lpad((i % 1000)::text, 4,"
                       " '0'), i, i FROM generate_series(1, 5000) AS i");
        pg_raw_exec(c, "ANALYZE");
        PQfinish(c);

        pg_assert_plan(f, "pg_group_pick", "group_pick");
        pg_assert_plan(f, "pg_group_ready_ids", "job_group_ready");
        pg_assert_plan(f, "pg_nogroup_ready_ids", "job_nogroup_ready");
        pg_assert_plan(f, "pg_group_unblock", "group_until");
        pg_assert_plan(f, "pg_group_next_until", "group_until");
        pg_assert_plan(f, "pg_qlim_lock", "queue_limits_pkey");
        pg_assert_plan(f, "pg_qlim_get", "queue_counts_pkey");
        pg_assert_plan(f, "pg_group_get_lock", "job_groups_pkey");
        pg_assert_plan(f, "pg_rate_get", "rate_log_pkey");

        /* And they return the right first rows: "huge" was served longest ago. */
        begin(f);
        assert_int_equal(f->ops->group_pick(f->st, "t1", "q1", 1, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].grp, "huge");
        group_recs_free(v, n);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "g0999", 4, ids, prios, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ids[0], 101000);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 2, ids, prios, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(ids[0], 101001);
        assert_int_equal(ids[1], 101003);
        commit(f);
}

/* Migration 7 counts the jobs a version-6 store already holds, so the depth
 * and running counters start exact (as SQLite's migration 7 does). */
static void pg_migration_7_counts_existing_jobs(void **state)
{
        struct fixture *f = *state;
        struct queue_limits q = {0};
        /* queued, running, running, completed, dead, scheduled */
        const int states[] = {2, 3, 3, 5, 6, 1};
        char sql[1024];
        PGconn *c;

        f->ops->close(f->st);
        f->st = NULL;
        c = pg_raw(f);
        pg_raw_exec(
            c, "DROP TABLE dep_work, queue_totals, queue_counts, cron_counts, rate_log, "
               "job_groups, queue_limits, "
               "leader_lease, job_deps,"
               " flows,"
               " timers, cron_runs, cron_schedules, audit, api_keys, tenants, idempotency, queues,"
               " jobs, schema_migrations");
        assert_int_equal(pg_migrate_to(c, 6), 0);
        for (size_t i = 0; i < BATON_ARRAY_LEN(states); i++) {
                snprintf(sql, sizeof(sql),
                         "INSERT INTO jobs (tenant, queue, type, payload, priority, state, run_at,"
                         " attempt, max_attempts, backoff_type, backoff_base_ms, backoff_max_ms,"
                         " lease_ms, lease_until, settled, cancel_requested, version, created_at,"
                         " started_at, finished_at, ready_at) VALUES ('t1', '%s', 't', 'null', 2,"
                         " %d, 1, 0, 4, 0, 1000, 300000, 30000, 0, 0, 0, 1, 1, 0, 0, 0)",
                         i == 5 ? "other" : "q1", states[i]);
                pg_raw_exec(c, sql);
        }
        PQfinish(c);
        assert_int_equal(open_fixture(f), 0);
        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 3);
        assert_int_equal(q.running, 2);
        assert_int_equal(q.concurrency, 0);
        assert_false(q.def_backoff_set);
        queue_limits_free(&q);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "other", false, &q), 0);
        assert_int_equal(q.depth, 1);
        assert_int_equal(q.running, 0);
        queue_limits_free(&q);
        commit(f);
}

/* Commits the transaction of connection arg after 300 ms. */
static void *pg_commit_later(void *arg)
{
        struct timespec ts = {0, 300 * 1000 * 1000};

        nanosleep(&ts, NULL);
        PQclear(PQexec(arg, "COMMIT"));
        return NULL;
}

/* A job that another node holds for a moment (any job_get locks its row) is
 * passed over by the read of the jobs without a group, but a group's read
 * waits for it: a claim that saw the group empty would drop its row and
 * leave the job unclaimed. */
static void pg_group_read_waits_for_a_locked_job(void **state)
{
        struct fixture *f = *state;
        int64_t grouped, ids[4];
        int prios[4], n = -1;
        pthread_t th;
        PGconn *c;

        begin(f);
        grouped = put(f, (struct spec){.state = JOB_QUEUED, .group = "g", .prio = PRIO_HIGH});
        put(f, (struct spec){.state = JOB_QUEUED});
        commit(f);
        c = pg_raw(f);
        pg_raw_exec(c, "BEGIN");
        pg_raw_exec(c, "SELECT id FROM jobs FOR UPDATE");
        begin(f);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 4, ids, prios, &n), 0);
        assert_int_equal(n, 0); /* skipped */
        commit(f);
        assert_int_equal(pthread_create(&th, NULL, pg_commit_later, c), 0);
        begin(f);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "g", 4, ids, prios, &n), 0);
        assert_int_equal(n, 1); /* waited for the commit */
        assert_int_equal(ids[0], grouped);
        assert_int_equal(prios[0], PRIO_HIGH);
        commit(f);
        pthread_join(th, NULL);
        PQfinish(c);
}

/* Commits the store transaction of f after 300 ms. */
static void *pg_commit_store_later(void *arg)
{
        struct fixture *f = arg;
        struct timespec ts = {0, 300 * 1000 * 1000};

        nanosleep(&ts, NULL);
        assert_int_equal(f->ops->commit(f->st), 0);
        return NULL;
}

/* cron_count_add serializes the schedule creators of one tenant across
 * nodes: a second node's count waits for the first node's transaction and
 * then sees the schedule it counted; another tenant's count does not wait. */
static void pg_cron_count_waits_for_the_tenant_row(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};
        struct store *g = NULL;
        struct cron_rec r;
        int64_t n = -1, t0;
        pthread_t th;

        assert_int_equal(f->ops->open(&o, &g), 0);
        cron_fill(&r, "t1", "k1", 2);
        begin(f);
        assert_int_equal(f->ops->cron_put(f->st, &r), 0);
        assert_int_equal(f->ops->cron_count_add(f->st, "t1", 1, &n), 0);
        assert_int_equal(n, 1);
        t0 = wall_ms();
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->cron_count_add(g, "t2", 0, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_true(wall_ms() - t0 < 250);
        assert_int_equal(pthread_create(&th, NULL, pg_commit_store_later, f), 0);
        t0 = wall_ms();
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->cron_count_add(g, "t1", 1, &n), 0);
        assert_true(wall_ms() - t0 >= 250); /* waited for f's commit */
        assert_int_equal(n, 2);             /* and counts f's schedule */
        assert_int_equal(f->ops->commit(g), 0);
        pthread_join(th, NULL);
        f->ops->close(g);
        cron_rec_free(&r);
}

/* The victim of a lock cycle: its batch is over, so its next operation
 * fails at once (no round trip, no wait) and its commit fails, which sends
 * the caller's rollback releases its rows. Returns 0 when all of that held. */
static int pg_victim_ends(const struct store_ops *ops, struct store *st)
{
        int64_t n, t0 = wall_ms();
        int next;

        ops->rollback_to(st);
        next = ops->savepoint(st) || ops->cron_count_add(st, "t3", 1, &n);
        if (!next || wall_ms() - t0 > 500)
                return -1;
        if (ops->commit(st) == 0)
                return -1;
        /* As exec does after a failed commit: the rollback ends the
         * transaction on the server and releases the victim's rows. */
        return ops->rollback(st);
}

struct pg_cycle_side {
        struct fixture *f;
        int rc;     /* the waiting operation's outcome */
        int victim; /* pg_victim_ends, when rc != 0 */
};

/* f's second operation waits for g's tenant row (in a thread, since g then
 * waits for f's row in the main thread). */
static void *pg_count_other_tenant(void *arg)
{
        struct pg_cycle_side *side = arg;
        struct fixture *f = side->f;
        int64_t n;

        side->rc = f->ops->savepoint(f->st) || f->ops->cron_count_add(f->st, "t2", 1, &n);
        if (side->rc)
                side->victim = pg_victim_ends(f->ops, f->st);
        return NULL;
}

/* Two batches take two rows in opposite orders, each operation in its own
 * savepoint as in a group commit: PostgreSQL aborts one with "deadlock
 * detected". The victim's whole batch must fail at once: the rows its
 * earlier operations hold are part of the cycle, so rolling back only the
 * failing operation would keep the other batch waiting (and its own next
 * operations would meet the cycle again, one deadlock_timeout each). The
 * other batch then goes on and commits. */
static void pg_lock_cycle_fails_the_whole_batch(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};
        struct pg_cycle_side side = {.f = f, .rc = 0, .victim = -1};
        struct timespec pause = {0, 300 * 1000 * 1000};
        struct store *g = NULL;
        int64_t n = -1, t0;
        int rc_g;
        pthread_t th;

        assert_int_equal(f->ops->open(&o, &g), 0);
        begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->cron_count_add(f->st, "t1", 1, &n), 0);
        assert_int_equal(f->ops->release(f->st), 0);
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->savepoint(g), 0);
        assert_int_equal(f->ops->cron_count_add(g, "t2", 1, &n), 0);
        assert_int_equal(f->ops->release(g), 0);
        assert_int_equal(pthread_create(&th, NULL, pg_count_other_tenant, &side), 0);
        nanosleep(&pause, NULL); /* f now waits for g's row */
        t0 = wall_ms();
        rc_g = f->ops->savepoint(g) || f->ops->cron_count_add(g, "t1", 1, &n);
        if (rc_g)
                assert_int_equal(pg_victim_ends(f->ops, g), 0);
        pthread_join(th, NULL);
        /* One side was chosen, within a few deadlock_timeouts, not a
         * statement timeout. */
        assert_true(wall_ms() - t0 < 5000);
        assert_true((rc_g != 0) != (side.rc != 0));
        if (side.rc) {
                assert_int_equal(side.victim, 0);
                assert_int_equal(f->ops->release(g), 0);
                assert_int_equal(f->ops->commit(g), 0);
        } else {
                assert_int_equal(f->ops->release(f->st), 0);
                commit(f);
        }
        f->ops->close(g);
}

/* Migration 8 adds the jobs' cron column to a version-7 store: its jobs read
 * back with no marker, and a marker written afterwards reads back. */
static void pg_migration_8_adds_the_cron_marker(void **state)
{
        struct fixture *f = *state;
        PGconn *c;

        f->ops->close(f->st);
        f->st = NULL;
        c = pg_raw(f);
        pg_raw_exec(
            c, "DROP TABLE dep_work, queue_totals, queue_counts, cron_counts, rate_log, "
               "job_groups, queue_limits, "
               "leader_lease, job_deps,"
               " flows,"
               " timers, cron_runs, cron_schedules, audit, api_keys, tenants, idempotency, queues,"
               " jobs, schema_migrations");
        assert_int_equal(pg_migrate_to(c, 7), 0);
        pg_raw_exec(c, V7_ROWS);
        PQfinish(c);
        assert_int_equal(open_fixture(f), 0);
        migration_8_check(f, 41);
}

/* The claims' read of several groups passes over a job another transaction
 * holds instead of waiting for it (so a claim cannot join a cycle with an
 * operation that holds a job and waits for the queue row), and says that
 * the group was not seen whole. */
static void pg_group_ready_many_skips_held_jobs(void **state)
{
        struct fixture *f = *state;
        int64_t g1, g2, h1, ids[4];
        int prios[4], n[2];
        bool busy[2];
        pthread_t th;
        PGconn *c;
        char sql[96];

        begin(f);
        g1 = put(f, (struct spec){.state = JOB_QUEUED, .group = "g", .prio = PRIO_HIGH});
        g2 = put(f, (struct spec){.state = JOB_QUEUED, .group = "g", .prio = PRIO_LOW});
        h1 = put(f, (struct spec){.state = JOB_QUEUED, .group = "h"});
        commit(f);
        c = pg_raw(f);
        pg_raw_exec(c, "BEGIN");
        snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE id = %lld FOR UPDATE", (long long)g1);
        pg_raw_exec(c, sql);
        /* Were it to wait, the commit 300 ms later would let it return g1. */
        assert_int_equal(pthread_create(&th, NULL, pg_commit_later, c), 0);
        begin(f);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1",
                                                  (const char *const[]){"g", "h"}, 2, 2, ids, prios,
                                                  n, busy),
                         0);
        assert_ids(ids, n[0], (int64_t[]){g2}, 1);
        assert_true(busy[0]);
        assert_ids(ids + 2, n[1], (int64_t[]){h1}, 1);
        assert_false(busy[1]);
        commit(f);
        pthread_join(th, NULL);
        PQfinish(c);
}

/* A store of its own on f's database whose statements time out after ms. */
static struct store *pg_open_timeout(struct fixture *f, int ms)
{
        struct store_opts o = {.uri = f->uri, .statement_timeout_ms = ms};
        struct store *st = NULL;

        assert_int_equal(f->ops->open(&o, &st), 0);
        return st;
}

/* Counting never waits on another node: while node A holds t1/q1's settings
 * row (a claim of a queue with limits, a settings change) node B counts
 * jobs of it and commits at once (its statements would time out after 2 s
 * if they waited), into a share of its own; a read sums both. */
static void pg_counts_never_wait(void **state)
{
        struct fixture *f = *state;
        struct store *b = pg_open_timeout(f, 2000);
        struct queue_limits q = {0};
        PGconn *c = pg_raw(f);

        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        queue_limits_free(&q);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 2, 1), 0);
        assert_int_equal(f->ops->begin(b), 0);
        assert_int_equal(f->ops->qlim_add(b, "t1", "q1", 1, 0), 0);
        assert_int_equal(f->ops->qlim_get(b, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 1); /* A's counts are not committed yet */
        queue_limits_free(&q);
        assert_int_equal(f->ops->commit(b), 0);
        commit(f);
        assert_int_equal(pg_raw_i64(c, "SELECT COUNT(*) FROM queue_counts WHERE queue = 'q1'"), 2);
        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 3);
        assert_int_equal(q.running, 1);
        queue_limits_free(&q);
        commit(f);
        f->ops->close(b);
        PQfinish(c);
}

/* The line pointer of t1/q1's counter share in its page: the place of the
 * row's newest version, which moves on by one with each update while the
 * page is not pruned. */
static int64_t pg_share_slot(PGconn *c)
{
        return pg_raw_i64(c, "SELECT (ctid::text::point)[1]::bigint FROM queue_counts"
                             " WHERE tenant = 't1' AND queue = 'q1'");
}

/* A batch of 100 operations that each count a job on one queue writes its
 * counter share once, at commit (one row version, not 100, for later reads
 * to step over); an operation rolled back counts nothing, and reads inside
 * the transaction see the counts not written yet. */
static void pg_counts_written_once_per_transaction(void **state)
{
        struct fixture *f = *state;
        struct queue_limits q = {0};
        PGconn *c = pg_raw(f);
        int64_t slot;

        begin(f);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 1, 0), 0);
        commit(f);
        slot = pg_share_slot(c);
        begin(f);
        for (int i = 0; i < 100; i++) {
                assert_int_equal(f->ops->savepoint(f->st), 0);
                assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 1, 1), 0);
                if (i == 50)
                        assert_int_equal(f->ops->rollback_to(f->st), 0);
                else
                        assert_int_equal(f->ops->release(f->st), 0);
        }
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 100);
        assert_int_equal(q.running, 99);
        queue_limits_free(&q);
        commit(f);
        assert_int_equal(pg_share_slot(c), slot + 1);
        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        assert_int_equal(q.depth, 100);
        assert_int_equal(q.running, 99);
        queue_limits_free(&q);
        commit(f);
        PQfinish(c);
}

struct pg_locked_read {
        struct store *st;
        const struct store_ops *ops;
        int64_t running;
        int rc;
};

/* Node B: reads t1/q1 with lock in a transaction of its own. */
static void *pg_locked_read_thread(void *arg)
{
        struct pg_locked_read *r = arg;
        struct queue_limits q = {0};

        r->rc = r->ops->begin(r->st);
        if (!r->rc)
                r->rc = r->ops->qlim_get(r->st, "t1", "q1", true, &q);
        r->running = q.running;
        queue_limits_free(&q);
        if (!r->rc)
                r->rc = r->ops->commit(r->st);
        return NULL;
}

/* A read with lock that waited for the row counts what its holder counted:
 * node A holds the row and claims a job (running + 1); node B's locked read
 * waits, and once A commits it must see running 1, which a read whose
 * snapshot predates the wait would miss (two nodes could then start one job
 * more than a queue's concurrency). */
static void pg_locked_read_sees_the_holders_counts(void **state)
{
        struct fixture *f = *state;
        struct pg_locked_read r = {.st = pg_open_timeout(f, 10000), .ops = f->ops, .rc = -1};
        struct queue_limits q = {0};
        PGconn *c = pg_raw(f);
        pthread_t th;
        int waited = 0;

        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        queue_limits_free(&q);
        commit(f);
        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        queue_limits_free(&q);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 0, 1), 0);
        assert_int_equal(pthread_create(&th, NULL, pg_locked_read_thread, &r), 0);
        /* Until B's backend waits for A's row (bounded: 10 s). */
        for (int i = 0; i < 1000 && !waited; i++) {
                waited = (int)pg_raw_i64(c, "SELECT COUNT(*) FROM pg_stat_activity"
                                            " WHERE wait_event_type = 'Lock'"
                                            " AND datname = current_database()");
                if (!waited) {
                        struct timespec d = {0, 10 * 1000000};
                        nanosleep(&d, NULL);
                }
        }
        assert_true(waited);
        commit(f);
        pthread_join(th, NULL);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.running, 1);
        f->ops->close(r.st);
        PQfinish(c);
}

/* A store whose statements time out after 300 ms. */
static struct store *pg_open_timed(struct fixture *f)
{
        return pg_open_timeout(f, 300);
}

/* statement_timeout: a statement of the running operation that waits too
 * long fails that operation alone (its savepoint rolls back, the batch goes
 * on); a write deferred by an operation already done that fails the same way
 * fails the whole batch, since that operation was counted as done. */
static void pg_statement_timeout_fails_op_or_batch(void **state)
{
        struct fixture *f = *state;
        struct store *t = pg_open_timed(f);
        struct queue_limits q = {0};
        struct job j;
        int64_t held, other_id = 0;
        PGconn *c = pg_raw(f);
        char sql[96];

        begin(f);
        held = put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(f->ops->qlim_put(f->st, &(struct queue_limits){.tenant = (char *)"t1",
                                                                        .queue = (char *)"q1"}),
                         0);
        commit(f);
        pg_raw_exec(c, "BEGIN");
        snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE id = %lld FOR UPDATE",
                 (long long)held);
        pg_raw_exec(c, sql);
        pg_raw_exec(c, "SELECT 1 FROM queue_limits WHERE queue = 'q1' FOR UPDATE");

        /* The operation's own read: it fails, the next one commits. */
        assert_int_equal(f->ops->begin(t), 0);
        assert_int_equal(f->ops->savepoint(t), 0);
        assert_int_equal(f->ops->job_get(t, NULL, held, &j), BATON_ESTORE);
        assert_int_equal(f->ops->rollback_to(t), 0);
        assert_int_equal(f->ops->savepoint(t), 0);
        job_from_spec(&j, &(struct spec){.state = JOB_QUEUED, .queue = "q2"});
        assert_int_equal(f->ops->job_insert(t, &j), 0);
        other_id = j.id;
        job_free(&j);
        assert_int_equal(f->ops->release(t), 0);
        assert_int_equal(f->ops->commit(t), 0);

        /* A write an earlier operation deferred: the batch fails whole. */
        assert_int_equal(f->ops->begin(t), 0);
        assert_int_equal(f->ops->savepoint(t), 0);
        job_from_spec(&j, &(struct spec){.state = JOB_QUEUED, .queue = "q2"});
        assert_int_equal(f->ops->job_insert(t, &j), 0);
        assert_int_equal(f->ops->qlim_put(t, &(struct queue_limits){.tenant = (char *)"t1",
                                                                    .queue = (char *)"q1",
                                                                    .concurrency = 5}),
                         0);
        assert_int_equal(f->ops->release(t), 0);
        assert_int_equal(f->ops->savepoint(t), 0);
        assert_int_equal(f->ops->queue_get(t, "t1", "q2", &(struct queue_rec){0}), BATON_ESTORE);
        assert_int_equal(f->ops->rollback_to(t), 0);
        assert_int_equal(f->ops->commit(t), BATON_ESTORE);
        assert_int_equal(f->ops->rollback(t), 0);
        pg_raw_exec(c, "ROLLBACK");

        begin(f);
        assert_true(exists(f, other_id));
        assert_false(exists(f, j.id));
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.concurrency, 0);
        queue_limits_free(&q);
        commit(f);
        job_free(&j);
        f->ops->close(t);
        PQfinish(c);
}

/* Whether another connection can lock the row of sql at once (NOWAIT). */
static bool pg_row_free(PGconn *c, const char *sql)
{
        PGresult *r;
        bool ok;

        pg_raw_exec(c, "BEGIN");
        r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
                assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "55P03");
        PQclear(r);
        pg_raw_exec(c, "ROLLBACK");
        return ok;
}

/* Claims of one queue take turns across nodes: qlim_get and group_get with
 * lock, and group_pick, hold the rows they read until the transaction ends;
 * without lock nothing is held. */
static void pg_claim_reads_lock_their_rows(void **state)
{
        struct fixture *f = *state;
        const char *qsql = "SELECT 1 FROM queue_limits WHERE tenant = 't1' AND queue = 'q1'"
                           " FOR UPDATE NOWAIT";
        const char *gsql = "SELECT 1 FROM job_groups WHERE tenant = 't1' AND queue = 'q1'"
                           " AND grp = 'a' FOR UPDATE NOWAIT";
        struct queue_limits q = {0};
        struct group_rec g = {0}, *v = NULL;
        PGconn *c = pg_raw(f);
        int n = 0;

        begin(f);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 1, 0), 0);
        assert_int_equal(f->ops->qlim_put(f->st, &(struct queue_limits){.tenant = (char *)"t1",
                                                                        .queue = (char *)"q1"}),
                         0);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "a", PRIO_NORMAL), 0);
        commit(f);

        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        queue_limits_free(&q);
        assert_int_equal(f->ops->group_get(f->st, "t1", "q1", "a", false, &g), 0);
        group_rec_free(&g);
        assert_true(pg_row_free(c, qsql));
        assert_true(pg_row_free(c, gsql));
        commit(f);

        begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        assert_int_equal(q.depth, 1);
        queue_limits_free(&q);
        assert_false(pg_row_free(c, qsql));
        assert_true(pg_row_free(c, gsql));
        assert_int_equal(f->ops->group_get(f->st, "t1", "q1", "a", true, &g), 0);
        group_rec_free(&g);
        assert_false(pg_row_free(c, gsql));
        commit(f);
        assert_true(pg_row_free(c, qsql));

        begin(f);
        assert_int_equal(f->ops->group_pick(f->st, "t1", "q1", 4, &v, &n), 0);
        assert_int_equal(n, 1);
        group_recs_free(v, n);
        assert_false(pg_row_free(c, gsql));
        commit(f);
        assert_true(pg_row_free(c, gsql));
        PQfinish(c);
}

/* Two nodes claiming from one queue at once: the second passes over the rows
 * the first has locked instead of waiting for them or returning them. */
static void pg_claims_skip_locked_rows(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri};
        struct store *other = NULL;
        int64_t ids[4], mine[4], theirs[4];
        int n = 0, m = 0;

        begin(f);
        for (int i = 0; i < 4; i++)
                ids[i] = put(f, (struct spec){.state = JOB_QUEUED, .run_at = T0 + i});
        commit(f);
        assert_int_equal(f->ops->open(&o, &other), 0);
        begin(f);
        assert_int_equal(f->ops->job_ready_ids(f->st, "t1", "q1", 2, mine, &n), 0);
        assert_ids(mine, n, ids, 2);
        assert_int_equal(f->ops->begin(other), 0);
        assert_int_equal(f->ops->job_ready_ids(other, "t1", "q1", 4, theirs, &m), 0);
        assert_ids(theirs, m, ids + 2, 2);
        assert_int_equal(f->ops->commit(other), 0);
        commit(f);
        /* Once the first commits, its rows are claimable again (still queued). */
        assert_int_equal(f->ops->begin(other), 0);
        assert_int_equal(f->ops->job_ready_ids(other, "t1", "q1", 4, theirs, &m), 0);
        assert_ids(theirs, m, ids, 4);
        assert_int_equal(f->ops->commit(other), 0);
        /* job_get locks too (a read that is about to change the job): while
         * one transaction holds a job it read, a claim elsewhere passes it. */
        begin(f);
        {
                struct job j;

                assert_int_equal(f->ops->job_get(f->st, NULL, ids[0], &j), 0);
                job_free(&j);
        }
        assert_int_equal(f->ops->begin(other), 0);
        assert_int_equal(f->ops->job_ready_ids(other, "t1", "q1", 4, theirs, &m), 0);
        assert_ids(theirs, m, ids + 1, 3);
        assert_int_equal(f->ops->commit(other), 0);
        commit(f);
        f->ops->close(other);
}

/* The batch's now comes from the database clock. */
static void pg_now_is_database_time(void **state)
{
        struct fixture *f = *state;
        struct timespec ts;
        int64_t a = 0, b = 0, local;

        begin(f);
        assert_int_equal(f->ops->now_ms(f->st, &a), 0);
        commit(f);
        clock_gettime(CLOCK_REALTIME, &ts);
        local = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        /* The test server runs on this machine: same clock, a loose bound for
         * a loaded machine. */
        assert_true(a > local - 60000 && a <= local + 60000);
        begin(f);
        assert_int_equal(f->ops->now_ms(f->st, &b), 0);
        commit(f);
        assert_true(b >= a);
}

static int64_t pg_backend_pid(struct fixture *f)
{
        return PQbackendPID(f->st->conn);
}

static void pg_kill_backend(int64_t pid)
{
        char sql[96];

        snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", (long long)pid);
        assert_int_equal(pgtest_exec(sql), 0);
}

/* A connection lost mid-transaction fails that transaction (its commit is
 * reported as failed, nothing of it stays); the next begin reconnects and
 * what was committed before is all there. */
static void pg_reconnects_after_connection_loss(void **state)
{
        struct fixture *f = *state;
        int64_t kept, lost = 0, pid;
        struct job j;
        int rc;

        begin(f);
        kept = put(f, (struct spec){.state = JOB_QUEUED});
        commit(f);
        begin(f);
        assert_int_equal(put_rc(f, (struct spec){.state = JOB_QUEUED}, &lost), 0);
        pid = pg_backend_pid(f);
        pg_kill_backend(pid);
        /* The server ends the backend asynchronously; wait (bounded) for it. */
        for (int i = 0; i < 200; i++) {
                char sql[256];

                snprintf(sql, sizeof(sql),
                         "DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %lld)"
                         " THEN RAISE 'alive'; END IF; END$$",
                         (long long)pid);
                if (pgtest_exec(sql) == 0)
                        break;
                struct timespec d = {0, 10 * 1000000};
                nanosleep(&d, NULL);
        }
        rc = f->ops->commit(f->st);
        assert_int_equal(rc, BATON_ESTORE);
        f->ops->rollback(f->st);
        begin(f); /* reconnects */
        assert_true(pg_backend_pid(f) != pid);
        assert_int_equal(f->ops->job_get(f->st, NULL, kept, &j), 0);
        job_free(&j);
        assert_int_equal(f->ops->job_get(f->st, NULL, lost, &j), BATON_ENOTFOUND);
        commit(f);
}

/* The xmin of job id's row, as a number (the low 32 bits of the id of the
 * transaction or subtransaction that wrote it). */
static int64_t pg_job_xmin(PGconn *c, int64_t id)
{
        char sql[96];

        snprintf(sql, sizeof(sql), "SELECT xmin::text::bigint FROM jobs WHERE id = %lld",
                 (long long)id);
        return pg_raw_i64(c, sql);
}

/* A group commit of settles: the batch reads its jobs ahead (job_get_many)
 * and each operation then only writes (the job's update, a counter add).
 * Such an operation opens no savepoint: its writes run at the transaction's
 * top level, where they carry the transaction's own id. With a subtransaction
 * per operation, PostgreSQL made a multixact of every earlier subtransaction
 * of the batch at each update of the shared counter row, which made a batch's
 * cost grow with its square. An operation that only wrote and rolls back
 * still leaves nothing, and one that reads after deferring writes (a round
 * trip, or a full queue of deferred commands) gets its savepoint in front of
 * them, as before. */
static void pg_write_only_ops_run_at_top_level(void **state)
{
        static const struct pg_stmt xid = {"t_xid", "SELECT pg_current_xact_id()::text::bigint"};
        struct fixture *f = *state;
        struct queue_limits q = {0};
        int64_t ids[3], top;
        PGresult *r = NULL;
        PGconn *c = pg_raw(f);
        struct job j;

        begin(f);
        for (int i = 0; i < 3; i++)
                ids[i] = put(f, (struct spec){.state = JOB_QUEUED});
        commit(f);

        begin(f);
        assert_int_equal(f->ops->job_get_many(f->st, NULL, ids, 3, NULL), 0);
        /* Two settles that only write, then one that only writes and rolls back. */
        for (int i = 0; i < 2; i++) {
                assert_int_equal(f->ops->savepoint(f->st), 0);
                assert_int_equal(set_state(f, ids[i], JOB_RUNNING), 0);
                assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 0, 1), 0);
                assert_int_equal(f->ops->release(f->st), 0);
        }
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(set_state(f, ids[2], JOB_DEAD), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 0, 5), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        /* Writes, then a read: the writes go under the savepoint it opens. */
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(set_state(f, ids[2], JOB_RUNNING), 0);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "q1", &(struct queue_rec){0}),
                         BATON_ENOTFOUND);
        assert_int_equal(f->ops->release(f->st), 0);
        /* The transaction's own id, read outside any operation. */
        assert_int_equal(pg_exec(f->st, &xid, NULL, &r), 0);
        top = strtoll(PQgetvalue(r, 0, 0), NULL, 10) & 0xffffffffLL;
        PQclear(r);
        commit(f);

        assert_int_equal(pg_job_xmin(c, ids[0]), top);
        assert_int_equal(pg_job_xmin(c, ids[1]), top);
        assert_true(pg_job_xmin(c, ids[2]) != top);
        begin(f);
        assert_int_equal(f->ops->job_get(f->st, NULL, ids[2], &j), 0);
        assert_int_equal(j.state, JOB_RUNNING);
        job_free(&j);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.running, 2);
        queue_limits_free(&q);
        commit(f);

        /* More writes than the queue of deferred commands holds (idempotency
         * records, one upsert each): it is sent in the middle of the
         * operation, under the savepoint it then gets, so rolling back still
         * undoes every one of them. */
        begin(f);
        for (int keep = 0; keep < 2; keep++) {
                assert_int_equal(f->ops->savepoint(f->st), 0);
                for (int i = 0; i < PG_PENDING_MAX + 10; i++) {
                        char key[32];

                        snprintf(key, sizeof(key), "k%d-%d", keep, i);
                        idem_put(f, "t1", key, ids[0], "h", T0);
                }
                assert_int_equal(keep ? f->ops->release(f->st) : f->ops->rollback_to(f->st), 0);
        }
        commit(f);
        begin(f);
        for (int i = 0; i < PG_PENDING_MAX + 10; i++) {
                char key[32];

                snprintf(key, sizeof(key), "k0-%d", i);
                assert_int_equal(f->ops->idem_get(f->st, "t1", key, &(struct idem_rec){0}),
                                 BATON_ENOTFOUND);
                snprintf(key, sizeof(key), "k1-%d", i);
                assert_idem(f, "t1", key, ids[0], "h", T0);
        }
        commit(f);
        PQfinish(c);
}

/* A timer's write (its creation, or its firing in a leader tick that fires
 * up to 1,000) is an upsert of validated values, so it waits for the next
 * round trip instead of making one: a tick of n fires costs no n round trips
 * of its own. A read in the same transaction still sees it, and a commit
 * makes it durable. */
static void pg_timer_writes_are_deferred(void **state)
{
        struct fixture *f = *state;
        struct timer_rec t = {.tenant = "t1",
                              .key = "k1",
                              .version = 1,
                              .fire_at_ms = T0,
                              .queue = "q1",
                              .type = "ty",
                              .payload = "{}",
                              .max_attempts = 3,
                              .lease_ms = 1000,
                              .created_at_ms = T0,
                              .updated_at_ms = T0};
        struct timer_rec got = {0}, *due = NULL;
        int n_before, n = 0;

        begin(f);
        n_before = f->st->n_pending;
        assert_int_equal(f->ops->timer_put(f->st, &t), 0);
        assert_int_equal(f->st->n_pending, n_before + 1);
        t.key = "k2";
        t.fire_at_ms = T0 + 1;
        assert_int_equal(f->ops->timer_put(f->st, &t), 0);
        assert_int_equal(f->st->n_pending, n_before + 2);
        assert_int_equal(f->ops->timer_get(f->st, "t1", "k1", &got), 0);
        assert_int_equal(got.fire_at_ms, T0);
        timer_rec_free(&got);
        commit(f);

        /* The firing's rewrite of k1 is deferred too, and overwrites it. */
        begin(f);
        t.key = "k1";
        t.fire_at_ms = T0;
        t.state = 1;
        t.job_id = 42;
        t.fired_at_ms = T0 + 5;
        assert_int_equal(f->ops->timer_put(f->st, &t), 0);
        commit(f);
        begin(f);
        assert_int_equal(f->ops->timer_due(f->st, T0 + 10, 10, &due, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(due[0].key, "k2");
        timer_recs_free(due, n);
        assert_int_equal(f->ops->timer_get(f->st, "t1", "k1", &got), 0);
        assert_int_equal(got.state, 1);
        assert_int_equal(got.job_id, 42);
        assert_int_equal(got.fired_at_ms, T0 + 5);
        timer_rec_free(&got);
        commit(f);
}

struct pg_idem_taker {
        struct fixture *f;
        const char *key;
        int rc;
        int64_t held_job_id;
        int64_t waited_ms;
};

/* Takes key in a transaction of the fixture's store, which it leaves open. */
static void *pg_idem_take_thread(void *arg)
{
        struct pg_idem_taker *t = arg;
        struct idem_rec want = {.tenant = (char *)"t1",
                                .key = (char *)t->key,
                                .job_id = 0,
                                .payload_hash = (char *)"h",
                                .expires_at_ms = T0 + 1000};
        struct idem_rec held = {0};
        int64_t t0 = wall_ms();

        assert_int_equal(t->f->ops->begin(t->f->st), 0);
        assert_int_equal(t->f->ops->savepoint(t->f->st), 0);
        t->rc = t->f->ops->idem_take(t->f->st, &want, T0, &held);
        t->waited_ms = wall_ms() - t0;
        t->held_job_id = held.job_id;
        idem_rec_free(&held);
        return NULL;
}

/* Two nodes take one idempotency key at once: the second waits for the
 * first's transaction; after its commit the second sees its record (and
 * creates nothing), after its rollback the second takes the key. At
 * 85d7779 the store had no take: both nodes looked the key up, found it
 * free and each wrote a job of its own (issue 13). */
static void pg_idem_take_one_winner(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};
        struct idem_rec want = {.tenant = (char *)"t1",
                                .job_id = 0,
                                .payload_hash = (char *)"h",
                                .expires_at_ms = T0 + 1000};
        struct timespec pause = {0, 300 * 1000 * 1000};
        struct idem_rec held = {0};
        struct store *g = NULL;
        const char *keys[2] = {"race-commit", "race-rollback"};

        assert_int_equal(f->ops->open(&o, &g), 0);
        for (int round = 0; round < 2; round++) {
                struct pg_idem_taker t = {.f = f, .key = keys[round], .rc = 1};
                pthread_t th;

                want.key = (char *)keys[round];
                assert_int_equal(f->ops->begin(g), 0);
                assert_int_equal(f->ops->savepoint(g), 0);
                assert_int_equal(f->ops->idem_take(g, &want, T0, &held), 0);
                want.job_id = 42;
                assert_int_equal(f->ops->idem_put(g, &want), 0);
                want.job_id = 0;
                assert_int_equal(f->ops->release(g), 0);
                assert_int_equal(pg_flush(g), 0);
                assert_int_equal(pthread_create(&th, NULL, pg_idem_take_thread, &t), 0);
                nanosleep(&pause, NULL);
                if (round == 0)
                        assert_int_equal(f->ops->commit(g), 0);
                else
                        assert_int_equal(f->ops->rollback(g), 0);
                pthread_join(th, NULL);
                assert_true(t.waited_ms >= 250);
                if (round == 0) {
                        assert_int_equal(t.rc, BATON_ECONFLICT);
                        assert_int_equal(t.held_job_id, 42);
                } else {
                        assert_int_equal(t.rc, 0);
                }
                assert_int_equal(f->ops->release(f->st), 0);
                commit(f);
        }
        f->ops->close(g);
}

/* lock_timeout: an operation that waits longer for a row another session
 * holds (a stalled node) fails, and so does its whole batch, which the
 * store reports at commit; nothing of it is kept and the store goes on with
 * the next batch. At 85d7779 there was no lock_timeout: the wait lasted the
 * statement timeout (30 s), or as long as the holder was stalled. */
static void pg_lock_timeout_fails_the_batch(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri,
                               .sync_full = false,
                               .busy_timeout_ms = 1000,
                               .statement_timeout_ms = 30000,
                               .lock_timeout_ms = 300};
        struct store *t = NULL;
        struct job j;
        int64_t held, first, t0, waited;
        int rc_get, rc_commit;
        PGconn *c = pg_raw(f);
        char sql[96];

        assert_int_equal(f->ops->open(&o, &t), 0);
        begin(f);
        held = put(f, (struct spec){.state = JOB_QUEUED});
        commit(f);
        pg_raw_exec(c, "BEGIN");
        snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE id = %lld FOR UPDATE",
                 (long long)held);
        pg_raw_exec(c, sql);

        assert_int_equal(f->ops->begin(t), 0);
        assert_int_equal(f->ops->savepoint(t), 0);
        job_from_spec(&j, &(struct spec){.state = JOB_QUEUED, .queue = "q2"});
        assert_int_equal(f->ops->job_insert(t, &j), 0);
        first = j.id;
        job_free(&j);
        assert_int_equal(f->ops->release(t), 0);
        t0 = wall_ms();
        assert_int_equal(f->ops->savepoint(t), 0);
        rc_get = f->ops->job_get(t, NULL, held, &j);
        waited = wall_ms() - t0;
        if (!rc_get)
                job_free(&j);
        f->ops->rollback_to(t);
        rc_commit = f->ops->commit(t);
        f->ops->rollback(t);
        /* The holder lets go before anything is asserted: a failed test
         * must not leave the schema locked for the teardown. */
        pg_raw_exec(c, "ROLLBACK");
        assert_int_equal(rc_get, BATON_ESTORE);
        assert_true(waited < 3000); /* the lock timeout, not the statement's */
        assert_int_equal(rc_commit, BATON_ESTORE);

        /* Nothing of the batch was kept; the next one works. */
        begin(f);
        assert_false(exists(f, first));
        commit(f);
        assert_int_equal(f->ops->begin(t), 0);
        assert_int_equal(f->ops->job_get(t, NULL, held, &j), 0);
        job_free(&j);
        assert_int_equal(f->ops->commit(t), 0);
        f->ops->close(t);
        PQfinish(c);
}

/* idle_in_transaction_session_timeout: a session that sits inside a
 * transaction (its process stopped) is ended by the database and its row
 * locks go; the store reconnects at its next begin. */
static void pg_idle_transaction_is_ended(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {
            .uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000, .idle_tx_timeout_ms = 300};
        struct store *t = NULL;
        struct job j;
        int64_t held, t0, waited;
        int rc_commit;
        bool got;
        PGresult *r;
        PGconn *c = pg_raw(f);
        char sql[96];

        assert_int_equal(f->ops->open(&o, &t), 0);
        begin(f);
        held = put(f, (struct spec){.state = JOB_QUEUED});
        commit(f);
        assert_int_equal(f->ops->begin(t), 0);
        assert_int_equal(f->ops->job_get(t, NULL, held, &j), 0); /* locks the row */
        job_free(&j);
        /* t stalls; another session waits for the row until t's session is
         * ended (300 ms), well before its own statement timeout. */
        t0 = wall_ms();
        pg_raw_exec(c, "SET statement_timeout = 10000");
        snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE id = %lld FOR UPDATE",
                 (long long)held);
        r = PQexec(c, sql);
        got = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        waited = wall_ms() - t0;
        rc_commit = f->ops->commit(t);
        f->ops->rollback(t);
        if (!got || rc_commit != BATON_ESTORE) {
                /* Let go of the row before failing: the teardown drops the
                 * schema. */
                f->ops->close(t);
                PQfinish(c);
                fail_msg("the idle session was not ended: row %s after %lld ms, commit %d",
                         got ? "taken" : "not taken", (long long)waited, rc_commit);
        }
        assert_true(waited < 5000);
        /* Reconnected at the next begin (after its backoff). */
        t0 = wall_ms();
        for (;;) {
                int rc = f->ops->begin(t);
                if (!rc)
                        break;
                assert_true(wall_ms() - t0 < 5000);
                usleep(50000);
        }
        assert_int_equal(f->ops->job_get(t, NULL, held, &j), 0);
        job_free(&j);
        assert_int_equal(f->ops->commit(t), 0);
        f->ops->close(t);
        PQfinish(c);
}

static const struct CMUnitTest pg_tests[] = {
    T(pg_refuses_newer_schema),
    T(pg_migrations_recorded_once),
    T(pg_migrates_a_version_1_store),
    T(pg_hot_queries_use_indexes),
    T(pg_plan_check_catches_a_missing_index),
    T(pg_claims_skip_locked_rows),
    T(pg_group_claim_plans_at_scale),
    T(pg_migration_7_counts_existing_jobs),
    T(pg_migration_8_adds_the_cron_marker),
    T(pg_cron_count_waits_for_the_tenant_row),
    T(pg_lock_cycle_fails_the_whole_batch),
    T(pg_idem_take_one_winner),
    T(pg_lock_timeout_fails_the_batch),
    T(pg_idle_transaction_is_ended),
    T(pg_write_only_ops_run_at_top_level),
    T(pg_timer_writes_are_deferred),
    T(pg_claim_reads_lock_their_rows),
    T(pg_group_read_waits_for_a_locked_job),
    T(pg_group_ready_many_skips_held_jobs),
    T(pg_counts_never_wait),
    T(pg_counts_written_once_per_transaction),
    T(pg_locked_read_sees_the_holders_counts),
    T(pg_statement_timeout_fails_op_or_batch),
    T(pg_now_is_database_time),
    T(pg_reconnects_after_connection_loss),
};

static int pg_specific(const struct backend *be)
{
        return run_group(be, "postgres-specific", pg_tests, BATON_ARRAY_LEN(pg_tests));
}

/* ======== end of the PostgreSQL-specific section ======== */
#endif

static const struct backend backends[] = {
    {"sqlite", &store_sqlite_ops, always, sqlite_create, sqlite_destroy, sqlite_specific},
#ifdef BATON_HAVE_POSTGRES
    {"postgres", &store_postgres_ops, pg_available, pg_create, pg_destroy, pg_specific},
#endif
};

static const struct CMUnitTest common_tests[] = {
    T(job_roundtrip_every_field),
    T(job_roundtrip_nulls),
    T(job_large_text_roundtrip),
    T(job_ids_increase_and_are_not_reused),
    T(job_get_tenant_scoping),
    T(job_update_every_mutable_column),
    T(key_unique_among_pending),
    T(job_find_key_finds_pending_only),
    T(conflict_changes_nothing),
    T(job_list_filters_and_pages),
    T(job_list_refuses_bad_filters),
    T(job_list_returns_full_rows),
    T(ready_ids_claim_order),
    T(due_ids_boundaries),
    T(expired_ids_boundaries),
    T(state_ids_after_and_max),
    T(job_purge_by_state_and_age),
    T(dep_work_list_moves_and_purge),
    T(job_delete_one),
    T(deadlines_each_field),
    T(idem_get_put_replace),
    T(idem_purge_expired),
    T(idem_take_and_swap),
    T(queue_ensure_get_put),
    T(queue_list_pages),
    T(queue_counts_per_state),
    T(key_roundtrip_every_column),
    T(key_insert_duplicate_id_conflicts),
    T(key_get_not_found),
    T(key_update_every_column),
    T(key_list_by_tenant_and_all),
    T(key_count_counts_every_key),
    T(tenant_ensure_twice),
    T(audit_insert_ids_ascend_and_roundtrip),
    T(audit_list_filters_and_pages),
    T(audit_refusals_share_a_bucket_and_purge),
    T(savepoint_rollback_discards_keys_and_audit),
    T(savepoint_isolates_one_op),
    T(savepoint_after_failed_op),
    T(rollback_discards_everything),
    T(data_persists_across_reopen),
    T(close_discards_open_transaction),
    T(cron_put_get_replace_delete),
    T(cron_list_pages_by_tenant),
    T(cron_due_and_next_due),
    T(cron_run_tick_identity_and_update),
    T(cron_run_list_count_trim),
    T(savepoint_rollback_discards_cron),
    T(leader_take_and_renew),
    T(leader_fencing_refuses_deposed),
    T(leader_lapse_and_takeover),
    T(leader_same_node_new_process),
    T(leader_rollback_keeps_nothing),
    T(leader_refuses_bad_arguments),
    T(notify_in_transaction),
    T(qlim_put_get_add),
    T(group_rows_roundtrip_note_ready_delete),
    T(group_pick_order_and_unblock),
    T(group_ready_ids_order),
    T(rate_log_put_get_trim),
    T(job_get_many_reads_like_job_get),
    T(job_get_many_then_reads_see_writes),
    T(group_ready_many_per_group),
    T(insert_throughput),
};

int main(void)
{
        const char *filter = getenv("STORE_TEST_FILTER");
        int failed = 0;

        if (filter && *filter)
                cmocka_set_test_filter(filter);
        for (size_t i = 0; i < BATON_ARRAY_LEN(backends); i++) {
                const struct backend *be = &backends[i];

                if (!be->available()) {
                        print_message("%s: skipped (not configured)\n", be->name);
                        continue;
                }
                failed += run_group(be, be->name, common_tests, BATON_ARRAY_LEN(common_tests));
                failed += be->run_specific(be);
                if (be->ops->shared)
                        failed +=
                            run_group(be, "shared", shared_tests, BATON_ARRAY_LEN(shared_tests));
        }
        return failed ? 1 : 0;
}
