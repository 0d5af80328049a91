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
 * trim, deletion with the schedule, savepoint rollback); dashboard sessions
 * (round trips, duplicates, ordered pages by key and overall, delete,
 * savepoint rollback); the leader lease
 * and notifications, and on shared stores (store_ops.shared) the same across
 * two connections. It prints (never asserts) the insert throughput. No test
 * here reads a backend's internals or runs SQL of its own: the checks of one
 * backend (schema refusal, migrations, pragmas, query plans, locks) are in
 * test_sqlite_store.c and test_pg_store.c, and the fixture and row builders
 * all three share in support/store_fx.c.
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

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/errors.h"
#include "common/assert.h"
#include "store/job.h"
#include "core/node.h"
#include "store/store.h"
#include "support/store_fx.h"

#define THROUGHPUT_N 20000 /* enough for a stable figure, quick under ASan */

/* ---- job helpers ---- */

/* Gives every field of j a distinct, non-default value derived from seed. */
static void job_fill(struct job *j, const char *tenant, int seed)
{
        char s[64];

        memset(j, 0, sizeof(*j));
#define FILL(field, fmt)                                                                           \
        do {                                                                                       \
                snprintf(s, sizeof(s), fmt, seed);                                                 \
                j->field = fx_xdup(s);                                                             \
        } while (0)
        j->tenant = fx_xdup(tenant);
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
        j->timeout_ms = seed + 60;
        j->unique_active = seed % 2 == 1;
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
        assert_int_equal(a->timeout_ms, b->timeout_ms);
        assert_int_equal(a->unique_active, b->unique_active);
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
        fx_assert_ids(got, n, want, n_want);
}

/* ---- jobs: insert, get, update ---- */

/* Callers open a backend through node_store_open, which refuses one that
 * implements another store interface version than this binary's, without
 * calling its open. */
static void store_version_checked_at_open(void **state)
{
        struct fixture *f = *state;
        struct store_ops other = *f->ops;
        struct store *st = NULL;

        /* One process owns a SQLite store: the fixture's own is closed first. */
        f->ops->close(f->st);
        f->st = NULL;
        other.version = STORE_OPS_VERSION - 1;
        assert_int_equal(node_store_open(&other, &(struct store_opts){.uri = f->uri}, &st),
                         BATON_ESCHEMA);
        assert_null(st);
        other.version = STORE_OPS_VERSION + 1;
        assert_int_equal(node_store_open(&other, &(struct store_opts){.uri = f->uri}, &st),
                         BATON_ESCHEMA);
        assert_null(st);
        /* The backend as built answers, and the store it opens works. */
        assert_int_equal(f->ops->version, STORE_OPS_VERSION);
        assert_int_equal(node_store_open(f->ops, &(struct store_opts){.uri = f->uri}, &st), 0);
        assert_non_null(st);
        node_store_close(f->ops, st);
        assert_int_equal(fx_open(f), 0);
}

static void job_roundtrip_every_field(void **state)
{
        struct fixture *f = *state;
        struct job in, out;

        fx_begin(f);
        job_fill(&in, "t1", 7);
        assert_int_equal(f->ops->job_insert(f->st, &in), 0);
        assert_true(in.id > 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", in.id, &out), 0);
        assert_job_equal(&in, &out);
        job_free(&out);
        job_free(&in);
        fx_commit(f);
}

static void job_roundtrip_nulls(void **state)
{
        struct fixture *f = *state;
        struct job in, out;

        fx_begin(f);
        fx_job_from_spec(&in, &(struct spec){.state = JOB_PENDING});
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
        fx_commit(f);
}

static void job_ids_increase_and_are_not_reused(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c;

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_QUEUED});
        b = fx_put(f, (struct spec){.state = JOB_QUEUED});
        assert_true(b > a);
        assert_int_equal(f->ops->job_delete(f->st, "t1", b), 0);
        fx_commit(f);
        /* An id that was handed out (and may be held by an idempotency record)
         * must never name another job. */
        fx_begin(f);
        c = fx_put(f, (struct spec){.state = JOB_QUEUED});
        assert_true(c > b);
        fx_commit(f);
}

static void job_get_tenant_scoping(void **state)
{
        struct fixture *f = *state;
        struct job j;
        int64_t id;

        fx_begin(f);
        id = fx_put(f, (struct spec){.tenant = "acme", .state = JOB_QUEUED});
        assert_int_equal(f->ops->job_get(f->st, "other", id, &j), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_get(f->st, "acme", id + 1000, &j), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_get(f->st, NULL, id + 1000, &j), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_get(f->st, NULL, id, &j), 0);
        assert_string_equal(j.tenant, "acme");
        assert_int_equal(j.id, id);
        job_free(&j);
        assert_int_equal(f->ops->job_get(f->st, "acme", id, &j), 0);
        job_free(&j);
        fx_commit(f);
}

/* Begins a transaction, stores a queued job of t1 and reads it back into
 * *j (the caller's, job_free); returns its id. */
static int64_t insert_and_read(struct fixture *f, struct job *j)
{
        int64_t id;

        fx_begin(f);
        fx_job_from_spec(j, &(struct spec){.state = JOB_QUEUED, .run_at = T0});
        assert_int_equal(f->ops->job_insert(f->st, j), 0);
        id = j->id;
        job_free(j);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, j), 0);
        return id;
}

/* job_update_run writes every column an attempt's run changes (store.h):
 * a claim's, a settle's and a heartbeat's fields, set to new values on the
 * row as read, come back as written, and the rest of the row as it was. */
static void job_update_run_writes_the_run_columns(void **state)
{
        struct fixture *f = *state;
        struct job j, out;
        int64_t id;

        id = insert_and_read(f, &j);
        j.state = JOB_RETRYING;
        j.run_at_ms = T0 + 11;
        j.attempt = 3;
        j.lease_until_ms = T0 + 12;
        j.settled = SETTLED_FAIL;
        j.cancel_requested = true;
        j.started_at_ms = T0 + 13;
        j.finished_at_ms = T0 + 14;
        j.ready_at_ms = T0 + 15;
        free(j.lease);
        j.lease = fx_xdup("tok");
        free(j.worker);
        j.worker = fx_xdup("w1");
        free(j.result);
        j.result = fx_xdup("{\"r\":1}");
        free(j.last_error);
        j.last_error = fx_xdup("boom");
        free(j.progress);
        j.progress = fx_xdup("{\"p\":2}");
        free(j.attempts);
        j.attempts = fx_xdup("[{\"attempt\":3}]");
        free(j.steps);
        j.steps = fx_xdup("[{\"step\":\"s\"}]");
        free(j.cancel_reason);
        j.cancel_reason = fx_xdup("why");
        assert_int_equal(f->ops->job_update_run(f->st, &j), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &out), 0);
        assert_job_equal(&j, &out);
        job_free(&out);
        /* And back to NULL strings. */
        j.state = JOB_QUEUED;
        free(j.worker);
        j.worker = NULL;
        free(j.result);
        j.result = NULL;
        assert_int_equal(f->ops->job_update_run(f->st, &j), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &out), 0);
        assert_job_equal(&j, &out);
        job_free(&out);
        j.id = id + 1000;
        assert_int_equal(f->ops->job_update_run(f->st, &j), BATON_ENOTFOUND);
        job_free(&j);
        fx_commit(f);
}

/* job_update_settle writes the run columns as job_update_run does, and the
 * worker the row already holds stays (store.h). */
static void job_update_settle_writes_the_run_columns(void **state)
{
        struct fixture *f = *state;
        struct job j, out;
        int64_t id;

        id = insert_and_read(f, &j);
        j.state = JOB_RUNNING;
        j.attempt = 1;
        free(j.lease);
        j.lease = fx_xdup("tok");
        free(j.worker);
        j.worker = fx_xdup("w1");
        assert_int_equal(f->ops->job_update_run(f->st, &j), 0);
        j.state = JOB_COMPLETED;
        j.settled = SETTLED_COMPLETE;
        j.finished_at_ms = T0 + 14;
        free(j.result);
        j.result = fx_xdup("{\"r\":1}");
        free(j.attempts);
        j.attempts = fx_xdup("[{\"attempt\":1}]");
        assert_int_equal(f->ops->job_update_settle(f->st, &j), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &out), 0);
        assert_job_equal(&j, &out);
        assert_string_equal(out.worker, "w1");
        job_free(&out);
        j.id = id + 1000;
        assert_int_equal(f->ops->job_update_settle(f->st, &j), BATON_ENOTFOUND);
        job_free(&j);
        fx_commit(f);
}

static void job_update_every_mutable_column(void **state)
{
        struct fixture *f = *state;
        struct job orig, upd, out;
        int64_t id;

        fx_begin(f);
        fx_job_from_spec(&orig, &(struct spec){.state = JOB_SCHEDULED, .run_at = T0});
        assert_int_equal(f->ops->job_insert(f->st, &orig), 0);
        id = orig.id;
        /* Every column changes, strings become non-NULL; tenant and created_at
         * in the struct change too but must not be written. */
        job_fill(&upd, "intruder", 42);
        upd.id = id;
        assert_int_equal(f->ops->job_update(f->st, &upd), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &out), 0);
        free(upd.tenant);
        upd.tenant = fx_xdup("t1");
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
        fx_commit(f);
}

/* ---- the pending-key uniqueness ---- */

static void key_unique_among_pending(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, id;

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        /* Scheduled and queued both count as pending. */
        assert_int_equal(fx_put_rc(f, (struct spec){.state = JOB_QUEUED, .key = "k"}, NULL),
                         BATON_ECONFLICT);
        assert_int_equal(fx_put_rc(f, (struct spec){.state = JOB_SCHEDULED, .key = "k"}, NULL),
                         BATON_ECONFLICT);
        /* Other queues, tenants and keys, and jobs without a key, are free. */
        fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k", .queue = "q2"});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k", .tenant = "t2"});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k2"});
        fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_put(f, (struct spec){.state = JOB_QUEUED});
        /* Non-pending states never clash. */
        fx_put(f, (struct spec){.state = JOB_RUNNING, .key = "k"});
        fx_put(f, (struct spec){.state = JOB_RETRYING, .key = "k"});
        fx_put(f, (struct spec){.state = JOB_PENDING, .key = "k"});
        fx_put(f, (struct spec){.state = JOB_COMPLETED, .key = "k"});
        fx_commit(f);

        /* Once the holder runs, the key is free again... */
        fx_begin(f);
        assert_int_equal(fx_set_state(f, a, JOB_RUNNING), 0);
        b = fx_put(f, (struct spec){.state = JOB_SCHEDULED, .key = "k"});
        /* ...and the old job cannot become pending while the new one is. */
        assert_int_equal(fx_set_state(f, a, JOB_QUEUED), BATON_ECONFLICT);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, b);
        /* A terminal holder frees it as well. */
        assert_int_equal(fx_set_state(f, b, JOB_CANCELLED), 0);
        fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        fx_commit(f);
}

static void job_find_key_finds_pending_only(void **state)
{
        struct fixture *f = *state;
        int64_t a, id = 0;

        fx_begin(f);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), BATON_ENOTFOUND);
        a = fx_put(f, (struct spec){.state = JOB_SCHEDULED, .key = "k"});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .key = "r"});
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, a);
        assert_int_equal(fx_set_state(f, a, JOB_QUEUED), 0);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, a);
        assert_int_equal(f->ops->job_find_key(f->st, "t2", "q1", "k", &id), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q2", "k", &id), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "r", &id), BATON_ENOTFOUND);
        assert_int_equal(fx_set_state(f, a, JOB_COMPLETED), 0);
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &id), BATON_ENOTFOUND);
        fx_commit(f);
}

/* unique_while "active": a key is unique among the jobs that ask for it
 * while they have not ended, whatever state they are in; job_find_active
 * finds any job with the key that has not ended. */
static void key_unique_among_active(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c, id = 0;

        fx_begin(f);
        assert_int_equal(f->ops->job_find_active(f->st, "t1", "q1", "k", &id), BATON_ENOTFOUND);
        a = fx_put(f, (struct spec){.state = JOB_RUNNING, .key = "k", .unique_active = true});
        assert_int_equal(f->ops->job_find_active(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, a);
        for (int s = JOB_PENDING; s <= JOB_RETRYING; s++)
                assert_int_equal(
                    fx_put_rc(f, (struct spec){.state = s, .key = "k", .unique_active = true},
                              NULL),
                    BATON_ECONFLICT);
        /* Jobs that do not ask for it, other queues and tenants are free. */
        b = fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        fx_put(f, (struct spec){
                      .state = JOB_QUEUED, .key = "k", .queue = "q2", .unique_active = true});
        fx_put(f, (struct spec){
                      .state = JOB_QUEUED, .key = "k", .tenant = "t2", .unique_active = true});
        assert_int_equal(f->ops->job_find_active(f->st, "t1", "q1", "r", &id), BATON_ENOTFOUND);
        fx_commit(f);

        /* Once the holder ends, the key is free; the other job still shows. */
        fx_begin(f);
        assert_int_equal(fx_set_state(f, a, JOB_COMPLETED), 0);
        assert_int_equal(f->ops->job_find_active(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, b);
        assert_int_equal(fx_set_state(f, b, JOB_CANCELLED), 0);
        assert_int_equal(f->ops->job_find_active(f->st, "t1", "q1", "k", &id), BATON_ENOTFOUND);
        c = fx_put(f, (struct spec){.state = JOB_PENDING, .key = "k", .unique_active = true});
        /* An ended holder cannot come back while another holds the key. */
        assert_int_equal(fx_set_state(f, a, JOB_QUEUED), BATON_ECONFLICT);
        assert_int_equal(f->ops->job_find_active(f->st, "t1", "q1", "k", &id), 0);
        assert_int_equal(id, c);
        fx_commit(f);
}

static void conflict_changes_nothing(void **state)
{
        struct fixture *f = *state;
        struct job_vec v = {0};
        int64_t a, b;

        /* A refused write changes nothing and the transaction goes on: core
         * relies on it (a promotion whose key is taken cancels the job). */
        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        assert_int_equal(
            fx_put_rc(f, (struct spec){.state = JOB_QUEUED, .key = "k", .type = "dup"}, NULL),
            BATON_ECONFLICT);
        b = fx_put(f, (struct spec){.state = JOB_RETRYING, .key = "k"});
        assert_int_equal(fx_set_state(f, b, JOB_QUEUED), BATON_ECONFLICT);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "q1", T0), 0);
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(
            f->ops->job_list(f->st, &(struct job_filter){.tenant = "t1", .state = -1, .limit = 10},
                             &v),
            0);
        assert_int_equal(v.n, 2);
        assert_int_equal(v.v[0].id, a);
        assert_int_equal(v.v[1].id, b);
        assert_int_equal(v.v[1].state, JOB_RETRYING);
        job_vec_free(&v);
        fx_commit(f);
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
        fx_begin(f);
        fx_job_from_spec(&in, &(struct spec){.state = JOB_QUEUED});
        free(in.payload);
        in.payload = big;
        assert_int_equal(f->ops->job_insert(f->st, &in), 0);
        in.result = fx_xdup(big);
        in.state = JOB_COMPLETED;
        assert_int_equal(f->ops->job_update(f->st, &in), 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", in.id, &out), 0);
        assert_job_equal(&in, &out);
        assert_int_equal(strlen(out.payload), n);
        job_free(&out);
        job_free(&in);
        fx_commit(f);
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

/* The pages of job_list for the jobs of job_list_filters_and_pages: limit,
 * then continue after the last id seen. */
static void assert_job_list_pages(struct fixture *f, int64_t a, int64_t b, int64_t c, int64_t d,
                                  int64_t e, int64_t g)
{
        int64_t got[16];
        int n;

        /* Pagination: limit, then continue after the last id seen. */
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .limit = 4}, got, &n);
        fx_assert_ids(got, n, (int64_t[]){a, b, c, d}, 4);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .after_id = d, .limit = 4},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){e, g}, 2);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .after_id = g, .limit = 4},
                 got, &n);
        assert_int_equal(n, 0);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q1", .state = -1, .after_id = a, .limit = 2},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){c, d}, 2);
        /* The cursor combines with every filter. */
        list_ids(
            f, (struct job_filter){.tenant = "t1", .state = JOB_QUEUED, .after_id = a, .limit = 1},
            got, &n);
        fx_assert_ids(got, n, (int64_t[]){b}, 1);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .type = "x", .state = -1, .after_id = d, .limit = 10},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){g}, 1);
}

static void job_list_filters_and_pages(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c, d, e, g, got[16];
        int n;

        fx_begin(f);
        a = fx_put(f, (struct spec){.queue = "q1", .state = JOB_QUEUED, .type = "x"});
        b = fx_put(f, (struct spec){.queue = "q2", .state = JOB_QUEUED, .type = "y"});
        c = fx_put(f, (struct spec){.queue = "q1", .state = JOB_RUNNING, .type = "y"});
        d = fx_put(f, (struct spec){.queue = "q1", .state = JOB_PENDING, .type = "x"});
        fx_put(f, (struct spec){.tenant = "t2", .queue = "q1", .state = JOB_QUEUED, .type = "x"});
        e = fx_put(f, (struct spec){.queue = "q1", .state = JOB_QUEUED, .type = "y"});
        g = fx_put(f, (struct spec){.queue = "q2", .state = JOB_DEAD, .type = "x"});
        fx_commit(f);

        fx_begin(f);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .limit = 100}, got, &n);
        fx_assert_ids(got, n, (int64_t[]){a, b, c, d, e, g}, 6);
        list_ids(f, (struct job_filter){.tenant = "t1", .queue = "q1", .state = -1, .limit = 100},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){a, c, d, e}, 4);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = JOB_QUEUED, .limit = 100}, got,
                 &n);
        fx_assert_ids(got, n, (int64_t[]){a, b, e}, 3);
        list_ids(f, (struct job_filter){.tenant = "t1", .state = JOB_PENDING, .limit = 100}, got,
                 &n);
        fx_assert_ids(got, n, (int64_t[]){d}, 1);
        list_ids(f, (struct job_filter){.tenant = "t1", .type = "x", .state = -1, .limit = 100},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){a, d, g}, 3);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q1", .state = JOB_QUEUED, .type = "y", .limit = 100},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){e}, 1);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q2", .type = "x", .state = -1, .limit = 100},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){g}, 1);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q1", .state = JOB_COMPLETED, .limit = 100},
                 got, &n);
        assert_int_equal(n, 0);
        list_ids(
            f,
            (struct job_filter){.tenant = "t1", .queue = "q1", .state = JOB_QUEUED, .limit = 100},
            got, &n);
        fx_assert_ids(got, n, (int64_t[]){a, e}, 2);
        list_ids(
            f, (struct job_filter){.tenant = "t1", .state = JOB_QUEUED, .type = "y", .limit = 100},
            got, &n);
        fx_assert_ids(got, n, (int64_t[]){b, e}, 2);
        list_ids(f, (struct job_filter){.tenant = "nobody", .state = -1, .limit = 100}, got, &n);
        assert_int_equal(n, 0);
        /* Newest first across states (SQLite reads a tenant's or a queue's
         * jobs state by state and merges them), and its cursor. */
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, .desc = true, .limit = 3}, got,
                 &n);
        fx_assert_ids(got, n, (int64_t[]){g, e, d}, 3);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .state = -1, .desc = true, .after_id = e, .limit = 2},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){d, c}, 2);
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q1", .state = -1, .desc = true, .limit = 10},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){e, d, c, a}, 4);
        /* A byte budget cuts the merged page after the row that passes it. */
        list_ids(f,
                 (struct job_filter){
                     .tenant = "t1", .queue = "q1", .state = -1, .limit = 10, .bytes_max = 1},
                 got, &n);
        fx_assert_ids(got, n, (int64_t[]){a}, 1);

        assert_job_list_pages(f, a, b, c, d, e, g);
        fx_commit(f);
}

/* Inserts a job of t1 with the columns the version-13 filters read. */
static int64_t put_found(struct fixture *f, const char *grp, const char *key, const char *idem,
                         const char *req, const char *exec, const char *worker, int64_t created,
                         int64_t finished)
{
        struct job j;

        fx_job_from_spec(&j, &(struct spec){.state = finished ? JOB_COMPLETED : JOB_QUEUED,
                                            .group = grp,
                                            .key = key,
                                            .finished_at = finished});
        assert_int_equal(str_set(&j.idempotency_key, idem), 0);
        assert_int_equal(str_set(&j.request_id, req), 0);
        assert_int_equal(str_set(&j.execution_id, exec), 0);
        assert_int_equal(str_set(&j.worker, worker), 0);
        j.created_at_ms = created;
        assert_int_equal(f->ops->job_insert(f->st, &j), 0);
        job_free(&j);
        return j.id;
}

/* Version 13: each filter of GET /v1/jobs, descending order and its cursor. */
static void job_list_every_filter_and_desc(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c, got[16];
        int n;

        fx_begin(f);
        a = put_found(f, "g1", "k1", "i1", "r1", "e1", NULL, 1000, 0);
        b = put_found(f, NULL, "k2", NULL, "r2", NULL, "w1", 2000, 2500);
        c = put_found(f, "g1", NULL, "i3", NULL, "e3", "w1", 3000, 3500);
        fx_put(f, (struct spec){.tenant = "t2", .key = "k1", .group = "g1"});
        fx_commit(f);

        fx_begin(f);
#define LIST(...)                                                                                  \
        list_ids(f, (struct job_filter){.tenant = "t1", .state = -1, __VA_ARGS__}, got, &n)
        LIST(.limit = 10, .group = "g1");
        fx_assert_ids(got, n, (int64_t[]){a, c}, 2);
        LIST(.limit = 10, .key = "k1");
        fx_assert_ids(got, n, (int64_t[]){a}, 1);
        LIST(.limit = 10, .idempotency_key = "i3");
        fx_assert_ids(got, n, (int64_t[]){c}, 1);
        LIST(.limit = 10, .request_id = "r2");
        fx_assert_ids(got, n, (int64_t[]){b}, 1);
        LIST(.limit = 10, .execution_id = "e1");
        fx_assert_ids(got, n, (int64_t[]){a}, 1);
        LIST(.limit = 10, .worker = "w1", .desc = true);
        fx_assert_ids(got, n, (int64_t[]){c, b}, 2);
        LIST(.limit = 10, .created_after_ms = 2000);
        fx_assert_ids(got, n, (int64_t[]){b, c}, 2);
        LIST(.limit = 10, .created_before_ms = 2000);
        fx_assert_ids(got, n, (int64_t[]){a}, 1);
        LIST(.limit = 10, .finished_after_ms = 3000);
        fx_assert_ids(got, n, (int64_t[]){c}, 1);
        LIST(.limit = 10, .finished_before_ms = 3000);
        fx_assert_ids(got, n, (int64_t[]){b}, 1);
        LIST(.limit = 10, .group = "g1", .worker = "w1", .finished_after_ms = 1);
        fx_assert_ids(got, n, (int64_t[]){c}, 1);
        /* Descending pages: the cursor gives the older jobs. */
        LIST(.limit = 2, .desc = true);
        fx_assert_ids(got, n, (int64_t[]){c, b}, 2);
        LIST(.limit = 2, .desc = true, .after_id = b);
        fx_assert_ids(got, n, (int64_t[]){a}, 1);
        LIST(.limit = 2, .desc = true, .after_id = a);
        assert_int_equal(n, 0);
#undef LIST
        fx_commit(f);
}

static void job_list_refuses_bad_filters(void **state)
{
        struct fixture *f = *state;
        struct job_vec v = {0};

        fx_begin(f);
        fx_put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(
            f->ops->job_list(f->st, &(struct job_filter){.state = -1, .limit = 10}, &v),
            BATON_EINVAL);
        assert_int_equal(
            f->ops->job_list(f->st, &(struct job_filter){.tenant = "t1", .state = -1}, &v),
            BATON_EINVAL);
        assert_int_equal(v.n, 0);
        job_vec_free(&v);
        fx_commit(f);
}

static void job_list_returns_full_rows(void **state)
{
        struct fixture *f = *state;
        struct job in;
        struct job_vec v = {0};

        fx_begin(f);
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
        fx_commit(f);
}

/* ---- id queries ---- */

/* The claim order of a queue's jobs without a group (group_ready_ids with
 * no group; job_ready_ids, which nothing called, is gone since store version
 * 13). */
static void ready_ids_claim_order(void **state)
{
        struct fixture *f = *state;
        int64_t ids[16], low, norm_late, norm_early_b, norm_early_a, crit, high;
        int n, prios[16];

        fx_begin(f);
        low = fx_put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_LOW, .run_at = 10});
        norm_late =
            fx_put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_NORMAL, .run_at = 30});
        norm_early_a =
            fx_put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_NORMAL, .run_at = 20});
        norm_early_b =
            fx_put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_NORMAL, .run_at = 20});
        crit = fx_put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_CRITICAL, .run_at = 99});
        high = fx_put(f, (struct spec){.state = JOB_QUEUED, .prio = PRIO_HIGH, .run_at = 50});
        /* Not queued, or not this queue/tenant: never offered. */
        fx_put(f, (struct spec){.state = JOB_SCHEDULED, .prio = PRIO_CRITICAL, .run_at = 1});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .prio = PRIO_CRITICAL, .run_at = 1});
        fx_put(f, (struct spec){.state = JOB_RETRYING, .prio = PRIO_CRITICAL, .run_at = 1});
        fx_put(f, (struct spec){.state = JOB_PENDING, .prio = PRIO_CRITICAL, .run_at = 1});
        fx_put(f, (struct spec){.state = JOB_COMPLETED, .prio = PRIO_CRITICAL, .run_at = 1});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .queue = "q2", .prio = PRIO_CRITICAL});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .tenant = "t2", .prio = PRIO_CRITICAL});
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 16, ids, prios, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){crit, high, norm_early_a, norm_early_b, norm_late, low},
                      6);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 2, ids, prios, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){crit, high}, 2);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 0, ids, prios, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "empty", NULL, 16, ids, prios, &n),
                         0);
        assert_int_equal(n, 0);
        /* Claiming one removes it from the ready set. */
        assert_int_equal(fx_set_state(f, crit, JOB_RUNNING), 0);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 1, ids, prios, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){high}, 1);
        fx_commit(f);
}

static void due_ids_boundaries(void **state)
{
        struct fixture *f = *state;
        int64_t ids[16], s_past, s_now, r_past;
        int n;

        fx_begin(f);
        s_past = fx_put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0 - 5});
        s_now = fx_put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0});
        fx_put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0 + 1});
        r_past =
            fx_put(f, (struct spec){.state = JOB_RETRYING, .run_at = T0 - 100, .tenant = "t2"});
        fx_put(f, (struct spec){.state = JOB_RETRYING, .run_at = T0 + 1000});
        /* Other states are never due, whatever their run_at. */
        fx_put(f, (struct spec){.state = JOB_QUEUED, .run_at = T0 - 1000});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .run_at = T0 - 1000});
        fx_put(f, (struct spec){.state = JOB_PENDING, .run_at = T0 - 1000});
        fx_put(f, (struct spec){.state = JOB_DEAD, .run_at = T0 - 1000});
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->job_due_ids(f->st, T0, 16, ids, &n), 0);
        assert_id_set(ids, n, (int64_t[]){s_past, s_now, r_past}, 3);
        assert_int_equal(f->ops->job_due_ids(f->st, T0 - 1, 16, ids, &n), 0);
        assert_id_set(ids, n, (int64_t[]){s_past, r_past}, 2);
        assert_int_equal(f->ops->job_due_ids(f->st, T0 - 1000, 16, ids, &n), 0);
        assert_int_equal(n, 0);
        /* A backlog larger than max is promoted in due order, earliest first. */
        assert_int_equal(f->ops->job_due_ids(f->st, T0, 2, ids, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){r_past, s_past}, 2);
        assert_int_equal(f->ops->job_due_ids(f->st, T0, 0, ids, &n), 0);
        assert_int_equal(n, 0);
        fx_commit(f);
}

static void expired_ids_boundaries(void **state)
{
        struct fixture *f = *state;
        int64_t ids[16], a, b;
        int n;

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_RUNNING, .lease_until = T0 - 1});
        b = fx_put(f, (struct spec){.state = JOB_RUNNING, .lease_until = T0, .tenant = "t2"});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .lease_until = T0 + 1});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .lease_until = T0 - 1000});
        fx_put(f, (struct spec){.state = JOB_COMPLETED, .lease_until = T0 - 1000});
        fx_put(f, (struct spec){.state = JOB_RETRYING, .lease_until = T0 - 1000});
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->job_expired_ids(f->st, T0, 16, ids, &n), 0);
        assert_id_set(ids, n, (int64_t[]){a, b}, 2);
        assert_int_equal(f->ops->job_expired_ids(f->st, T0 - 1, 16, ids, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){a}, 1);
        /* Earliest lease first when more are due than max. */
        assert_int_equal(f->ops->job_expired_ids(f->st, T0 + 1000, 1, ids, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){a}, 1);
        assert_int_equal(f->ops->job_expired_ids(f->st, T0 - 2, 16, ids, &n), 0);
        assert_int_equal(n, 0);
        fx_commit(f);
}

static void state_ids_after_and_max(void **state)
{
        struct fixture *f = *state;
        int64_t ids[16], d[5];
        int n;

        fx_begin(f);
        for (int i = 0; i < 5; i++) {
                d[i] = fx_put(f, (struct spec){.state = JOB_DEAD, .finished_at = T0});
                fx_put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0});
                fx_put(f, (struct spec){.state = JOB_DEAD, .queue = "q2"});
                fx_put(f, (struct spec){.state = JOB_DEAD, .tenant = "t2"});
        }
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_DEAD, 0, 16, ids, &n), 0);
        fx_assert_ids(ids, n, d, 5);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_DEAD, 0, 2, ids, &n), 0);
        fx_assert_ids(ids, n, d, 2);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_DEAD, d[1], 2, ids, &n), 0);
        fx_assert_ids(ids, n, d + 2, 2);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_DEAD, d[4], 2, ids, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_state_ids(f->st, "t1", "q1", JOB_QUEUED, 0, 16, ids, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_state_ids(f->st, "t3", "q1", JOB_DEAD, 0, 16, ids, &n), 0);
        assert_int_equal(n, 0);
        fx_commit(f);
}

/* ---- purge and delete ---- */

static void job_purge_by_state_and_age(void **state)
{
        struct fixture *f = *state;
        int64_t c_old1, c_old2, c_edge, c_new, d_old, x_old, r_old;
        int n = -1;

        fx_begin(f);
        c_old1 = fx_put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 - 300});
        c_old2 = fx_put(
            f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 - 200, .tenant = "t2"});
        c_edge = fx_put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0});
        c_new = fx_put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 + 10});
        d_old = fx_put(f, (struct spec){.state = JOB_DEAD, .finished_at = T0 - 300});
        x_old = fx_put(f, (struct spec){.state = JOB_CANCELLED, .finished_at = T0 - 300});
        r_old = fx_put(f, (struct spec){.state = JOB_RUNNING, .finished_at = T0 - 300});
        fx_commit(f);

        /* finished_at < before_ms, oldest first, at most max. */
        fx_begin(f);
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0, 1, &n), 0);
        assert_int_equal(n, 1);
        assert_false(fx_exists(f, c_old1));
        assert_true(fx_exists(f, c_old2));
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(fx_exists(f, c_old2));
        assert_true(fx_exists(f, c_edge));
        assert_true(fx_exists(f, c_new));
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0, 100, &n), 0);
        assert_int_equal(n, 0);
        /* Other states are untouched until purged by their own state. */
        assert_true(fx_exists(f, d_old));
        assert_true(fx_exists(f, x_old));
        assert_true(fx_exists(f, r_old));
        assert_int_equal(f->ops->job_purge(f->st, JOB_DEAD, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(fx_exists(f, d_old));
        assert_true(fx_exists(f, x_old));
        assert_int_equal(f->ops->job_purge(f->st, JOB_CANCELLED, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(fx_exists(f, x_old));
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0 + 11, 0, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_purge(f->st, JOB_COMPLETED, T0 + 11, 100, &n), 0);
        assert_int_equal(n, 2);
        assert_true(fx_exists(f, r_old));
        fx_commit(f);
}

static void job_delete_one(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c;

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_DEAD});
        b = fx_put(f, (struct spec){.state = JOB_DEAD});
        c = fx_put(f, (struct spec){.state = JOB_DEAD, .tenant = "t2"});
        assert_int_equal(f->ops->job_delete(f->st, "t2", a), BATON_ENOTFOUND);
        assert_true(fx_exists(f, a));
        assert_int_equal(f->ops->job_delete(f->st, "t1", a), 0);
        assert_false(fx_exists(f, a));
        assert_true(fx_exists(f, b));
        assert_int_equal(f->ops->job_delete(f->st, "t1", a), BATON_ENOTFOUND);
        assert_int_equal(f->ops->job_delete(f->st, NULL, c), 0);
        assert_false(fx_exists(f, c));
        fx_commit(f);
}

/* Version 14: a queue's own retention (queue_limits ret_*_ms) purges its
 * ended jobs of that state older than it, and only those; the deadline is the
 * earliest finished_at + retention over such jobs. */
static void job_purge_own_per_queue(void **state)
{
        struct fixture *f = *state;
        struct queue_limits q;
        int64_t old_c, new_c, other_c, old_d, old_x, run, at = -1;
        int n = -1;

        fx_begin(f);
        assert_int_equal(f->ops->job_own_deadline(f->st, &at), 0);
        assert_int_equal(at, 0);
        memset(&q, 0, sizeof(q));
        q.tenant = "t1";
        q.queue = "short";
        q.ret_completed_ms = 100;
        q.ret_cancelled_ms = 50;
        assert_int_equal(f->ops->qlim_put(f->st, &q), 0);
        old_c = fx_put(
            f, (struct spec){.queue = "short", .state = JOB_COMPLETED, .finished_at = T0 - 150});
        new_c = fx_put(
            f, (struct spec){.queue = "short", .state = JOB_COMPLETED, .finished_at = T0 - 50});
        other_c = fx_put(
            f, (struct spec){.queue = "long", .state = JOB_COMPLETED, .finished_at = T0 - 1000});
        old_d =
            fx_put(f, (struct spec){.queue = "short", .state = JOB_DEAD, .finished_at = T0 - 1000});
        old_x = fx_put(
            f, (struct spec){.queue = "short", .state = JOB_CANCELLED, .finished_at = T0 - 60});
        run = fx_put(
            f, (struct spec){.queue = "short", .state = JOB_RUNNING, .finished_at = T0 - 1000});
        fx_commit(f);

        fx_begin(f);
        /* Earliest: the old completed job, T0 - 150 + 100 (the cancelled
         * one is due at T0 - 60 + 50). */
        assert_int_equal(f->ops->job_own_deadline(f->st, &at), 0);
        assert_int_equal(at, T0 - 50);
        assert_int_equal(f->ops->job_purge_own(f->st, JOB_COMPLETED, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(fx_exists(f, old_c));
        assert_int_equal(f->ops->job_own_deadline(f->st, &at), 0);
        assert_int_equal(at, T0 - 10);
        assert_true(fx_exists(f, new_c));
        /* Another queue's and another state's jobs stay (dead_ms is 0). */
        assert_true(fx_exists(f, other_c));
        assert_int_equal(f->ops->job_purge_own(f->st, JOB_DEAD, T0, 100, &n), 0);
        assert_int_equal(n, 0);
        assert_true(fx_exists(f, old_d));
        assert_int_equal(f->ops->job_purge_own(f->st, JOB_CANCELLED, T0, 0, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_purge_own(f->st, JOB_CANCELLED, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(fx_exists(f, old_x));
        assert_true(fx_exists(f, run));
        assert_int_equal(f->ops->job_own_deadline(f->st, &at), 0);
        assert_int_equal(at, T0 - 50 + 100);
        fx_commit(f);
}

/* Version 14: queue_delete removes the queue's row, group rows and rate logs
 * and takes it off the tenant's total; jobs and settings stay for core. */
static void queue_delete_row_groups_total(void **state)
{
        struct fixture *f = *state;
        struct queue_rec q = {0};
        struct group_rec g = {0};
        int64_t total = -1, at = 0, job;

        fx_begin(f);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "gone", T0), 0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "kept", T0), 0);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "gone", "g1", 2), 0);
        assert_int_equal(f->ops->rate_put(f->st, "t1", "gone", "", 1, T0, 1), 0);
        assert_int_equal(f->ops->rate_put(f->st, "t1", "kept", "", 1, T0, 1), 0);
        job = fx_put(f, (struct spec){.queue = "gone", .state = JOB_COMPLETED});
        assert_int_equal(f->ops->queue_total(f->st, "t1", &total), 0);
        assert_int_equal(total, 2);
        assert_int_equal(f->ops->queue_delete(f->st, "t1", "gone"), 0);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "gone", &q), BATON_ENOTFOUND);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "kept", &q), 0);
        queue_rec_free(&q);
        assert_int_equal(f->ops->group_get(f->st, "t1", "gone", "g1", false, &g), BATON_ENOTFOUND);
        assert_int_equal(f->ops->rate_get(f->st, "t1", "gone", "", 1, &at), BATON_ENOTFOUND);
        assert_int_equal(f->ops->rate_get(f->st, "t1", "kept", "", 1, &at), 0);
        assert_int_equal(f->ops->queue_total(f->st, "t1", &total), 0);
        assert_int_equal(total, 1);
        assert_true(fx_exists(f, job));
        assert_int_equal(f->ops->queue_delete(f->st, "t1", "gone"), BATON_ENOTFOUND);
        assert_int_equal(f->ops->queue_delete(f->st, "t2", "kept"), BATON_ENOTFOUND);
        assert_int_equal(f->ops->queue_total(f->st, "t1", &total), 0);
        assert_int_equal(total, 1);
        /* A queue made again counts again. */
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "gone", T0 + 1), 0);
        assert_int_equal(f->ops->queue_total(f->st, "t1", &total), 0);
        assert_int_equal(total, 2);
        fx_commit(f);
}

/* ---- deadlines ---- */

static void deadlines_each_field(void **state)
{
        struct fixture *f = *state;
        struct store_deadlines d;

        fx_begin(f);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.run_at_ms, 0);
        assert_int_equal(d.lease_until_ms, 0);
        assert_int_equal(d.completed_min_ms, 0);
        assert_int_equal(d.dead_min_ms, 0);
        assert_int_equal(d.idem_min_ms, 0);

        /* Decoys first: states that do not count for a field carry earlier times. */
        fx_put(f, (struct spec){.state = JOB_QUEUED,
                                .run_at = T0 + 1,
                                .lease_until = T0 + 1,
                                .finished_at = T0 + 1});
        fx_put(f, (struct spec){.state = JOB_PENDING, .run_at = T0 + 1});
        fx_put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0 + 500});
        fx_put(f, (struct spec){.state = JOB_RETRYING, .run_at = T0 + 300});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .run_at = T0 + 2, .lease_until = T0 + 700});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .lease_until = T0 + 600});
        fx_put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 + 900});
        fx_put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0 + 800});
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.run_at_ms, T0 + 300);
        assert_int_equal(d.lease_until_ms, T0 + 600);
        assert_int_equal(d.completed_min_ms, T0 + 800);
        assert_int_equal(d.dead_min_ms, 0);
        assert_int_equal(d.idem_min_ms, 0);

        fx_put(f, (struct spec){.state = JOB_DEAD, .finished_at = T0 + 1000});
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.dead_min_ms, T0 + 1000);
        fx_put(f, (struct spec){.state = JOB_CANCELLED, .finished_at = T0 + 950});
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
        fx_commit(f);
}

/* ---- idempotency records ---- */

static void idem_get_put_replace(void **state)
{
        struct fixture *f = *state;
        struct idem_rec r = {0};

        fx_begin(f);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "k", &r), BATON_ENOTFOUND);
        fx_idem_put(f, "t1", "k", 11, "aaaa", T0 + 10);
        fx_assert_idem(f, "t1", "k", 11, "aaaa", T0 + 10);
        assert_int_equal(f->ops->idem_get(f->st, "t2", "k", &r), BATON_ENOTFOUND);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "k2", &r), BATON_ENOTFOUND);
        fx_idem_put(f, "t2", "k", 22, "bbbb", T0 + 20);
        fx_assert_idem(f, "t1", "k", 11, "aaaa", T0 + 10);
        fx_assert_idem(f, "t2", "k", 22, "bbbb", T0 + 20);
        /* put replaces the record of the same (tenant, key). */
        fx_idem_put(f, "t1", "k", 33, "cccc", T0 + 30);
        fx_assert_idem(f, "t1", "k", 33, "cccc", T0 + 30);
        fx_assert_idem(f, "t2", "k", 22, "bbbb", T0 + 20);
        fx_commit(f);
}

static void idem_purge_expired(void **state)
{
        struct fixture *f = *state;
        struct idem_rec r = {0};
        int n = -1;

        fx_begin(f);
        fx_idem_put(f, "t1", "old1", 1, "h", T0 - 300);
        fx_idem_put(f, "t2", "old2", 2, "h", T0 - 200);
        fx_idem_put(f, "t1", "edge", 3, "h", T0);
        fx_idem_put(f, "t1", "live", 4, "h", T0 + 1);
        fx_commit(f);

        /* A record has expired at its expires_at: expires_at <= before_ms goes. */
        fx_begin(f);
        assert_int_equal(f->ops->idem_purge(f->st, T0, 1, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "old1", &r), BATON_ENOTFOUND);
        fx_assert_idem(f, "t2", "old2", 2, "h", T0 - 200);
        assert_int_equal(f->ops->idem_purge(f->st, T0, 100, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "edge", &r), BATON_ENOTFOUND);
        fx_assert_idem(f, "t1", "live", 4, "h", T0 + 1);
        assert_int_equal(f->ops->idem_purge(f->st, T0, 100, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->idem_purge(f->st, T0 + 1, 0, &n), 0);
        assert_int_equal(n, 0);
        fx_commit(f);
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

        fx_begin(f);
        assert_int_equal(f->ops->idem_take(f->st, &want, T0, &held), 0);
        assert_null(held.tenant);
        fx_assert_idem(f, "t1", "k", 0, "aaaa", T0 + 100);
        /* The placeholder is this transaction's: a second take meets it. */
        assert_int_equal(f->ops->idem_take(f->st, &want, T0 + 200, &held), BATON_ECONFLICT);
        assert_int_equal(held.job_id, 0);
        idem_rec_free(&held);
        fx_idem_put(f, "t1", "k", 11, "aaaa", T0 + 100);
        fx_commit(f);

        fx_begin(f);
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
        fx_assert_idem(f, "t1", "k", 11, "aaaa", T0 + 100);
        /* Another tenant's key is another key. */
        want.tenant = (char *)"t2";
        assert_int_equal(f->ops->idem_take(f->st, &want, T0, &held), 0);
        want.tenant = (char *)"t1";
        /* Expired at its expires_at: taken over. */
        assert_int_equal(f->ops->idem_take(f->st, &want, T0 + 100, &held), 0);
        fx_assert_idem(f, "t1", "k", 0, "bbbb", T0 + 300);
        fx_idem_put(f, "t1", "k", 12, "bbbb", T0 + 300);
        /* swap: only the record of the job id named. */
        want.payload_hash = (char *)"cccc";
        assert_int_equal(f->ops->idem_swap(f->st, &want, 11), BATON_ECONFLICT);
        fx_assert_idem(f, "t1", "k", 12, "bbbb", T0 + 300);
        assert_int_equal(f->ops->idem_swap(f->st, &want, 12), 0);
        fx_assert_idem(f, "t1", "k", 0, "cccc", T0 + 300);
        want.key = (char *)"none";
        assert_int_equal(f->ops->idem_swap(f->st, &want, 0), BATON_ECONFLICT);
        assert_int_equal(f->ops->idem_get(f->st, "t1", "none", &held), BATON_ENOTFOUND);
        fx_commit(f);
}

/* ---- queues ---- */

static void queue_ensure_get_put(void **state)
{
        struct fixture *f = *state;
        struct queue_rec q = {0};

        fx_begin(f);
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
        fx_commit(f);
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

        fx_begin(f);
        for (size_t i = 0; i < BATON_ARRAY_LEN(names); i++)
                assert_int_equal(f->ops->queue_ensure(f->st, "t1", names[i], T0), 0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t2", "aardvark", T0), 0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t2", "zulu", T0), 0);
        fx_commit(f);

        fx_begin(f);
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
        fx_commit(f);
}

static void queue_counts_per_state(void **state)
{
        struct fixture *f = *state;
        struct queue_counts c;

        fx_begin(f);
        assert_int_equal(f->ops->queue_counts(f->st, "t1", "q1", &c), 0);
        for (int s = 0; s < JOB_STATE_COUNT; s++)
                assert_int_equal(c.by_state[s], 0);
        assert_int_equal(c.oldest_ready_ms, 0);

        fx_put(f, (struct spec){.state = JOB_QUEUED, .ready_at = T0 + 50});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .ready_at = T0 + 40});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .ready_at = T0 + 1});
        fx_put(f, (struct spec){.state = JOB_SCHEDULED, .ready_at = T0 + 2});
        for (int i = 0; i < 3; i++)
                fx_put(f, (struct spec){.state = JOB_COMPLETED});
        fx_put(f, (struct spec){.state = JOB_DEAD});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .queue = "q2", .ready_at = T0 + 3});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .tenant = "t2", .ready_at = T0 + 4});
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
        fx_commit(f);
}

/* ---- tenants, API keys and the audit log ---- */

/* Gives every column of k a distinct, non-default value derived from seed; the
 * caller frees it with key_rec_free. */
static void key_fill(struct key_rec *k, const char *id, const char *tenant, int seed)
{
        char s[80];

        memset(k, 0, sizeof(*k));
        k->id = fx_xdup(id);
        k->tenant = fx_xdup(tenant);
        snprintf(s, sizeof(s), "key name %d: it's \"quoted\" \u00e9", seed);
        k->name = fx_xdup(s);
        snprintf(s, sizeof(s), "%064d", seed);
        k->digest = fx_xdup(s);
        snprintf(s, sizeof(s), "%064d", seed + 1);
        k->prev_digest = fx_xdup(s);
        k->prev_until_ms = T0 + seed + 1;
        k->scopes = 0x41u + (uint32_t)seed; /* bits, not just small numbers */
        k->created_at_ms = T0 + seed + 2;
        k->expires_at_ms = T0 + seed + 3;
        k->revoked_at_ms = T0 + seed + 4;
        k->rotated_at_ms = T0 + seed + 5;
        k->rate_max = seed + 6;
        k->rate_per_ms = seed + 7;
        snprintf(s, sizeof(s), "kcreator%d", seed);
        k->created_by = fx_xdup(s);
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
        fx_key_plain(&b, "k0000000000000002", "t2");
        fx_begin(f);
        assert_int_equal(f->ops->key_insert(f->st, &a), 0);
        assert_int_equal(f->ops->key_insert(f->st, &b), 0);
        assert_key_stored(f, &a);
        /* NULL strings and zero instants come back as NULL and zero. */
        assert_key_stored(f, &b);
        fx_commit(f);
        fx_reopen(f);
        fx_begin(f);
        assert_key_stored(f, &a);
        assert_key_stored(f, &b);
        fx_commit(f);
        key_rec_free(&a);
        key_rec_free(&b);
}

static void key_insert_duplicate_id_conflicts(void **state)
{
        struct fixture *f = *state;
        struct key_rec a, dup;

        key_fill(&a, "k00000000000000aa", "t1", 1);
        key_fill(&dup, "k00000000000000aa", "t2", 2);
        fx_begin(f);
        assert_int_equal(f->ops->key_insert(f->st, &a), 0);
        /* Same id, even in another tenant: a conflict that changes nothing and
         * leaves the transaction usable. */
        assert_int_equal(f->ops->key_insert(f->st, &dup), BATON_ECONFLICT);
        assert_key_stored(f, &a);
        fx_key_put(f, "k00000000000000ab", "t1");
        fx_commit(f);
        fx_begin(f);
        assert_key_stored(f, &a);
        fx_commit(f);
        key_rec_free(&a);
        key_rec_free(&dup);
}

static void key_get_not_found(void **state)
{
        struct fixture *f = *state;
        struct key_rec out = {.id = (char *)"sentinel"};

        fx_begin(f);
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000404", &out), BATON_ENOTFOUND);
        fx_key_put(f, "k0000000000000001", "t1");
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000002", &out), BATON_ENOTFOUND);
        assert_int_equal(f->ops->key_get(f->st, "", &out), BATON_ENOTFOUND);
        /* out is left untouched on a miss. */
        assert_string_equal(out.id, "sentinel");
        fx_commit(f);
}

static void key_update_every_column(void **state)
{
        struct fixture *f = *state;
        struct key_rec a, upd, want, miss;

        key_fill(&a, "k0000000000000001", "t1", 1);
        key_fill(&upd, "k0000000000000001", "other-tenant", 100);
        fx_begin(f);
        assert_int_equal(f->ops->key_insert(f->st, &a), 0);
        fx_key_put(f, "k0000000000000002", "t1");
        assert_int_equal(f->ops->key_update(f->st, &upd), 0);
        /* Every column changed but id, tenant and created_at. */
        want = upd;
        want.tenant = a.tenant;
        want.created_at_ms = a.created_at_ms;
        assert_key_stored(f, &want);
        fx_commit(f);

        /* And back to NULLs and zeros. */
        free(upd.name);
        free(upd.prev_digest);
        free(upd.created_by);
        upd.name = upd.prev_digest = upd.created_by = NULL;
        upd.prev_until_ms = upd.expires_at_ms = upd.revoked_at_ms = upd.rotated_at_ms = 0;
        upd.rate_max = upd.rate_per_ms = 0;
        upd.scopes = 0;
        fx_begin(f);
        assert_int_equal(f->ops->key_update(f->st, &upd), 0);
        fx_commit(f);
        fx_reopen(f);
        fx_begin(f);
        want = upd;
        want.tenant = a.tenant;
        want.created_at_ms = a.created_at_ms;
        assert_key_stored(f, &want);
        /* The other key was not touched. */
        fx_key_plain(&miss, "k0000000000000002", "t1");
        assert_key_stored(f, &miss);
        key_rec_free(&miss);
        fx_key_plain(&miss, "k0000000000000404", "t1");
        assert_int_equal(f->ops->key_update(f->st, &miss), BATON_ENOTFOUND);
        assert_int_equal(f->ops->key_get(f->st, miss.id, &(struct key_rec){0}), BATON_ENOTFOUND);
        fx_commit(f);
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

        fx_begin(f);
        for (int i = 0; i < 6; i++)
                fx_key_put(f, ids[i], tenants[i]);
        fx_commit(f);
        fx_begin(f);
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
        fx_commit(f);

        /* Lists return full rows. */
        key_fill(&full, "k0000000000000007", "t3", 9);
        fx_begin(f);
        assert_int_equal(f->ops->key_insert(f->st, &full), 0);
        assert_int_equal(f->ops->key_list(f->st, "t3", NULL, 10, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_key_equal(&full, &v[0]);
        key_recs_free(v, n);
        fx_commit(f);
        key_rec_free(&full);
}

static void key_count_counts_every_key(void **state)
{
        struct fixture *f = *state;
        struct key_rec k = {0};
        int64_t n = -1;

        fx_begin(f);
        assert_int_equal(f->ops->key_count(f->st, &n), 0);
        assert_int_equal(n, 0);
        fx_key_put(f, "k0000000000000001", "t1");
        fx_key_put(f, "k0000000000000002", "t2");
        fx_key_put(f, "k0000000000000003", "t2");
        assert_int_equal(f->ops->key_count(f->st, &n), 0);
        assert_int_equal(n, 3);
        /* A revoked key still counts. */
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000002", &k), 0);
        k.revoked_at_ms = T0 + 1;
        assert_int_equal(f->ops->key_update(f->st, &k), 0);
        key_rec_free(&k);
        assert_int_equal(f->ops->key_count(f->st, &n), 0);
        assert_int_equal(n, 3);
        fx_commit(f);
}

static void tenant_ensure_twice(void **state)
{
        struct fixture *f = *state;

        fx_begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0 + 1), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, "acme", T0), 0);
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0 + 2), 0);
        fx_commit(f);
        fx_reopen(f);
        fx_begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "acme", T0 + 3), 0);
        fx_commit(f);
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

static void audit_insert_ids_ascend_and_roundtrip(void **state)
{
        struct fixture *f = *state;
        struct audit_rec a, b, bad = {0}, *v = NULL;
        struct audit_filter all = {.limit = 100};
        int64_t last = 0;
        int n = -1;

        fx_audit_fill(&a, "t1", "keys.create", "k0000000000000001", 1);
        /* Only action is required: no key (auth off), no tenant (a refused
         * call), no target, no request id, no code, no detail. */
        memset(&b, 0, sizeof(b));
        b.at_ms = T0 + 2;
        b.action = fx_xdup("keys.revoke");
        b.status = 401;
        fx_begin(f);
        assert_int_equal(f->ops->audit_insert(f->st, &a), 0);
        assert_int_equal(f->ops->audit_insert(f->st, &b), 0);
        assert_true(a.id > 0);
        assert_true(b.id > a.id);
        last = b.id;
        for (int i = 0; i < 5; i++) {
                int64_t id = fx_audit_put(f, "t1", "queue.update", NULL, i);

                assert_true(id > last);
                last = id;
        }
        bad.at_ms = T0;
        assert_int_equal(f->ops->audit_insert(f->st, &bad), BATON_EINVAL);
        fx_commit(f);
        fx_reopen(f);
        fx_begin(f);
        assert_true(fx_audit_put(f, "t1", "x", NULL, 9) > last);
        assert_int_equal(f->ops->audit_list(f->st, &all, &v, &n), 0);
        assert_int_equal(n, 8);
        assert_audit_equal(&a, &v[0]);
        assert_audit_equal(&b, &v[1]);
        for (int i = 1; i < n; i++)
                assert_true(v[i].id > v[i - 1].id);
        audit_recs_free(v, n);
        fx_commit(f);
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

        fx_begin(f);
        for (int i = 0; i < 100; i++) {
                fx_audit_fill(&r, "t1", "queue.update", "k0000000000000001", 1);
                r.at_ms = T0 + i;
                snprintf(rq, sizeof(rq), "r%d", i);
                free(r.request_id);
                r.request_id = fx_xdup(rq);
                r.bucket = fx_xdup("29923740|t1|k0000000000000001|queue.update|403|forbidden");
                assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
                assert_int_equal(r.n, i + 1);
                if (i == 0)
                        first = r.id;
                assert_int_equal(r.id, first);
                audit_rec_free(&r);
        }
        fx_audit_fill(&r, "t1", "queue.update", "k0000000000000001", 2);
        r.at_ms = T0 + 500;
        r.bucket = fx_xdup("29923741|t1|k0000000000000001|queue.update|403|forbidden");
        assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
        assert_int_equal(r.n, 1);
        audit_rec_free(&r);
        for (int i = 0; i < 3; i++) {
                fx_audit_fill(&r, "t1", "queue.update", "k0000000000000001", 3);
                r.at_ms = T0 + 1000 + i;
                assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
                assert_int_equal(r.n, 1);
                audit_rec_free(&r);
        }
        fx_commit(f);
        fx_begin(f);
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
        fx_audit_fill(&r, "t1", "queue.update", "k0000000000000001", 1);
        r.bucket = fx_xdup("29923740|t1|k0000000000000001|queue.update|403|forbidden");
        assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
        assert_int_equal(r.n, 1);
        assert_true(r.id > first);
        audit_rec_free(&r);
        fx_commit(f);
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

        fx_begin(f);
        id[0] = fx_audit_put(f, "t1", "keys.create", "ka", 0);
        id[1] = fx_audit_put(f, "t2", "keys.create", "kb", 1);
        id[2] = fx_audit_put(f, "t1", "keys.revoke", "ka", 2);
        id[3] = fx_audit_put(f, "t1", "keys.create", "kc", 3);
        id[4] = fx_audit_put(f, "t2", "dead.purge", "kb", 4);
        id[5] = fx_audit_put(f, NULL, "keys.create", NULL, 5);
        id[6] = fx_audit_put(f, "t1", "keys.create", "ka", 6);
        id[7] = fx_audit_put(f, "t2", "keys.revoke", "ka", 7);
        fx_commit(f);

        fx_begin(f);
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
        fx_commit(f);
}

static void savepoint_rollback_discards_keys_and_audit(void **state)
{
        struct fixture *f = *state;
        struct key_rec k = {0};
        struct audit_rec *v = NULL;
        struct audit_filter all = {.limit = 100};
        int64_t kept, n64 = -1;
        int n = -1;

        fx_begin(f);
        fx_key_put(f, "k0000000000000001", "t1");
        kept = fx_audit_put(f, "t1", "keys.create", "k0000000000000001", 0);
        fx_commit(f);

        /* An op that writes a tenant, a key, a key change and an audit record,
         * then rolls back to its savepoint, leaves none of them. */
        fx_begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, "t9", T0), 0);
        fx_key_put(f, "k0000000000000002", "t9");
        assert_int_equal(f->ops->key_get(f->st, "k0000000000000001", &k), 0);
        k.revoked_at_ms = T0 + 5;
        assert_int_equal(f->ops->key_update(f->st, &k), 0);
        key_rec_free(&k);
        fx_audit_put(f, "t9", "keys.revoke", "k0000000000000001", 1);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        /* The next op of the batch commits. */
        assert_int_equal(f->ops->savepoint(f->st), 0);
        fx_audit_put(f, "t1", "queue.update", NULL, 2);
        assert_int_equal(f->ops->release(f->st), 0);
        fx_commit(f);

        /* And a whole transaction rolled back keeps nothing either. */
        fx_begin(f);
        fx_key_put(f, "k0000000000000003", "t1");
        fx_audit_put(f, "t1", "keys.create", "k0000000000000003", 3);
        assert_int_equal(f->ops->rollback(f->st), 0);

        fx_reopen(f);
        fx_begin(f);
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
        fx_commit(f);
}

/* ---- transactions and durability ---- */

static void savepoint_isolates_one_op(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c;

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(f->ops->savepoint(f->st), 0);
        b = fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "discarded", T0), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        assert_false(fx_exists(f, b));
        assert_int_equal(f->ops->savepoint(f->st), 0);
        /* The rolled-back op's key is free again. */
        c = fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        assert_int_equal(f->ops->release(f->st), 0);
        fx_commit(f);

        fx_begin(f);
        assert_true(fx_exists(f, a));
        assert_true(fx_exists(f, c));
        /* The rolled-back insert's id may be handed out again (SQLite's sequence
         * rolls back with it; nobody ever saw that id), so b is gone unless c
         * took its id. */
        if (b != c)
                assert_false(fx_exists(f, b));
        assert_int_equal(f->ops->job_find_key(f->st, "t1", "q1", "k", &b), 0);
        assert_int_equal(b, c);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "discarded", &(struct queue_rec){0}),
                         BATON_ENOTFOUND);
        fx_commit(f);
}

static void savepoint_after_failed_op(void **state)
{
        struct fixture *f = *state;
        int64_t a, c;

        /* An op that fails with a conflict is rolled back alone; the ops before
         * and after it commit. This is exactly what the group commit does. */
        fx_begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        a = fx_put(f, (struct spec){.state = JOB_QUEUED, .key = "k"});
        assert_int_equal(f->ops->release(f->st), 0);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "q9", T0), 0);
        assert_int_equal(fx_put_rc(f, (struct spec){.state = JOB_QUEUED, .key = "k"}, NULL),
                         BATON_ECONFLICT);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        c = fx_put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(f->ops->release(f->st), 0);
        fx_commit(f);

        fx_reopen(f);
        fx_begin(f);
        assert_true(fx_exists(f, a));
        assert_true(fx_exists(f, c));
        assert_int_equal(f->ops->queue_get(f->st, "t1", "q9", &(struct queue_rec){0}),
                         BATON_ENOTFOUND);
        fx_commit(f);
}

static void rollback_discards_everything(void **state)
{
        struct fixture *f = *state;
        struct idem_rec r = {0};
        int64_t a, b;

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_commit(f);

        fx_begin(f);
        b = fx_put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(fx_set_state(f, a, JOB_RUNNING), 0);
        fx_idem_put(f, "t1", "k", b, "h", T0);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "q1", T0), 0);
        assert_int_equal(f->ops->rollback(f->st), 0);

        fx_begin(f);
        assert_false(fx_exists(f, b));
        assert_int_equal(f->ops->idem_get(f->st, "t1", "k", &r), BATON_ENOTFOUND);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "q1", &(struct queue_rec){0}),
                         BATON_ENOTFOUND);
        {
                struct job j;

                assert_int_equal(f->ops->job_get(f->st, "t1", a, &j), 0);
                assert_int_equal(j.state, JOB_QUEUED);
                job_free(&j);
        }
        fx_commit(f);
}

static void data_persists_across_reopen(void **state)
{
        struct fixture *f = *state;
        struct job in, out;
        struct queue_rec q = {0};
        int v1 = 0, v2 = 0;

        assert_int_equal(f->ops->schema_version(f->st, &v1), 0);
        assert_true(v1 >= 1);
        fx_begin(f);
        job_fill(&in, "t1", 5);
        assert_int_equal(f->ops->job_insert(f->st, &in), 0);
        fx_idem_put(f, "t1", "k", in.id, "hash", T0 + 1);
        assert_int_equal(f->ops->queue_ensure(f->st, "t1", "mail", T0), 0);
        fx_commit(f);

        fx_reopen(f);
        assert_int_equal(f->ops->schema_version(f->st, &v2), 0);
        assert_int_equal(v1, v2);
        fx_begin(f);
        assert_int_equal(f->ops->job_get(f->st, "t1", in.id, &out), 0);
        assert_job_equal(&in, &out);
        job_free(&out);
        fx_assert_idem(f, "t1", "k", in.id, "hash", T0 + 1);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "mail", &q), 0);
        queue_rec_free(&q);
        fx_commit(f);
        job_free(&in);
}

static void close_discards_open_transaction(void **state)
{
        struct fixture *f = *state;
        int64_t a, b;

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_commit(f);
        /* A store closed (or a process killed) in the middle of a transaction
         * keeps nothing of it. */
        fx_begin(f);
        b = fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_idem_put(f, "t1", "k", b, "h", T0);
        fx_reopen(f);
        fx_begin(f);
        assert_true(fx_exists(f, a));
        assert_false(fx_exists(f, b));
        assert_int_equal(f->ops->idem_get(f->st, "t1", "k", &(struct idem_rec){0}),
                         BATON_ENOTFOUND);
        fx_commit(f);
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

        fx_job_from_spec(
            &j,
            &(struct spec){.state = JOB_QUEUED, .prio = PRIO_NORMAL, .run_at = T0, .ready_at = T0});
        free(j.payload);
        j.payload = fx_xdup("{\"user_id\":123456,\"template\":\"welcome\",\"locale\":\"en-GB\","
                            "\"vars\":{\"name\":\"Ada\",\"plan\":\"pro\"}}");
        j.request_id = fx_xdup("req-01HZX3K4Q7W8E9R0T1Y2U3I4O5");
        fx_begin(f);
        t0 = now_s();
        for (int i = 0; i < count; i++) {
                j.id = 0;
                j.run_at_ms = T0 + i;
                assert_int_equal(f->ops->job_insert(f->st, &j), 0);
                if (!first)
                        first = j.id;
        }
        t1 = now_s();
        fx_commit(f);
        t2 = now_s();
        assert_int_equal(j.id - first + 1, count);
        print_message("%s: %d job inserts in one transaction: %.0f inserts/s (%.1f ms inserting, "
                      "%.1f ms commit)\n",
                      f->ops->name, count, count / (t1 - t0), (t1 - t0) * 1e3, (t2 - t1) * 1e3);
        job_free(&j);
}

/* ---- cron schedules and runs ---- */

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

        fx_cron_fill(&a, "default", "nightly", 6); /* paused, with a note */
        fx_cron_fill(&b, "default", "nightly", 7); /* the same key, every column changed */
        fx_begin(f);
        assert_int_equal(f->ops->cron_get(f->st, "default", "nightly", &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_put(f->st, &a), 0);
        assert_int_equal(f->ops->cron_get(f->st, "default", "nightly", &got), 0);
        cron_assert_equal(&got, &a);
        cron_rec_free(&got);
        /* Tenant scoping: the same key in another tenant is another row. */
        assert_int_equal(f->ops->cron_get(f->st, "acme", "nightly", &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_put(f->st, &b), 0);
        fx_commit(f);
        fx_reopen(f);
        fx_begin(f);
        assert_int_equal(f->ops->cron_get(f->st, "default", "nightly", &got), 0);
        cron_assert_equal(&got, &b);
        cron_rec_free(&got);
        assert_int_equal(f->ops->cron_delete(f->st, "default", "nightly"), 0);
        assert_int_equal(f->ops->cron_get(f->st, "default", "nightly", &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_delete(f->st, "default", "nightly"), BATON_ENOTFOUND);
        fx_commit(f);
        cron_rec_free(&a);
        cron_rec_free(&b);
}

static void cron_list_pages_by_tenant(void **state)
{
        struct fixture *f = *state;
        const char *keys[] = {"d", "a", "c", "b", "e"};
        struct cron_rec r, *v = NULL;
        int n = 0;

        fx_begin(f);
        for (int i = 0; i < 5; i++) {
                fx_cron_fill(&r, "default", keys[i], i + 1);
                assert_int_equal(f->ops->cron_put(f->st, &r), 0);
                cron_rec_free(&r);
        }
        fx_cron_fill(&r, "acme", "a", 9);
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
        fx_commit(f);
}

static void cron_due_and_next_due(void **state)
{
        struct fixture *f = *state;
        struct cron_rec r, *v = NULL;
        int64_t at = -1;
        int n = 0;

        fx_begin(f);
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
                fx_cron_fill(&r, rows[i].tenant, rows[i].key, (int)i + 1);
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
        fx_commit(f);
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

        fx_cron_fill(&s, "default", "tick", 2);
        fx_begin(f);
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
        fx_commit(f);
        fx_begin(f);
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
        fx_commit(f);
        fx_reopen(f);
        fx_begin(f);
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
        fx_commit(f);
        cron_rec_free(&s);
}

static void cron_run_list_count_trim(void **state)
{
        struct fixture *f = *state;
        struct cron_run r, *v = NULL;
        int64_t ids[6], cnt = -1;
        int n = 0;

        fx_begin(f);
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
        fx_commit(f);
}

static void savepoint_rollback_discards_cron(void **state)
{
        struct fixture *f = *state;
        struct cron_rec s, got = {0};
        struct cron_run r;
        int64_t at = -1;

        fx_cron_fill(&s, "default", "sp", 4);
        fx_begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->cron_put(f->st, &s), 0);
        run_fill(&r, "default", "sp", T0 + 1000, "schedule");
        assert_int_equal(f->ops->cron_run_insert(f->st, &r), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->cron_get(f->st, "default", "sp", &got), BATON_ENOTFOUND);
        assert_int_equal(f->ops->cron_next_due(f->st, &at), 0);
        assert_int_equal(at, 0);
        /* The tick identity was rolled back with the row: it can be recorded. */
        run_fill(&r, "default", "sp", T0 + 1000, "schedule");
        assert_int_equal(f->ops->cron_run_insert(f->st, &r), 0);
        fx_commit(f);
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
        q->ret_completed_ms = seed + 17;
        q->ret_dead_ms = seed + 18;
        q->ret_cancelled_ms = seed + 19;
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
        assert_int_equal(a->ret_completed_ms, b->ret_completed_ms);
        assert_int_equal(a->ret_dead_ms, b->ret_dead_ms);
        assert_int_equal(a->ret_cancelled_ms, b->ret_cancelled_ms);
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

        fx_begin(f);
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
        fx_commit(f);
        /* grouped says whether the queue has a group row. */
        fx_begin(f);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q2", "a", PRIO_NORMAL), 0);
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q2", false, &got), 0);
        assert_true(got.grouped);
        queue_limits_free(&got);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &got), 0);
        assert_false(got.grouped);
        queue_limits_free(&got);
        fx_commit(f);
        /* A rolled-back savepoint keeps none of it. */
        fx_begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 100, 100), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t3", "q3", 1, 0), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        qlim_assert_counts(f, "t1", "q1", false, 3, 1);
        qlim_assert_counts(f, "t3", "q3", false, 0, 0);
        fx_commit(f);
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

        fx_begin(f);
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
        fx_commit(f);
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

        fx_begin(f);
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
        fx_commit(f);
}

static void group_ready_ids_order(void **state)
{
        struct fixture *f = *state;
        int64_t a1, a2, a3, n1, n2, ids[8];
        int prios[8], n = 0;

        fx_begin(f);
        a1 = fx_put(f,
                    (struct spec){
                        .state = JOB_QUEUED, .group = "a", .prio = PRIO_NORMAL, .run_at = T0 + 5});
        a2 = fx_put(f, (struct spec){
                           .state = JOB_QUEUED, .group = "a", .prio = PRIO_HIGH, .run_at = T0 + 9});
        a3 = fx_put(f,
                    (struct spec){
                        .state = JOB_QUEUED, .group = "a", .prio = PRIO_NORMAL, .run_at = T0 + 1});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .group = "a", .run_at = T0});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "b", .run_at = T0});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "a", .queue = "q2", .run_at = T0});
        n1 = fx_put(f, (struct spec){.state = JOB_QUEUED, .run_at = T0 + 3});
        n2 = fx_put(f, (struct spec){.state = JOB_QUEUED, .run_at = T0 + 2});
        fx_put(f, (struct spec){.state = JOB_SCHEDULED, .run_at = T0});
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "a", 8, ids, prios, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){a2, a3, a1}, 3);
        assert_int_equal(prios[0], PRIO_HIGH);
        assert_int_equal(prios[1], PRIO_NORMAL);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "a", 1, ids, prios, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){a2}, 1);
        /* NULL: the queued jobs without a group only. */
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 8, ids, prios, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){n2, n1}, 2);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t2", "q1", "a", 8, ids, prios, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "a", 0, ids, prios, &n), 0);
        assert_int_equal(n, 0);
        fx_commit(f);
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

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_QUEUED});
        b = fx_put(f, (struct spec){.state = JOB_RUNNING, .group = "g"});
        c = fx_put(f, (struct spec){.state = JOB_COMPLETED, .finished_at = T0});
        d = fx_put(f, (struct spec){.state = JOB_QUEUED, .tenant = "t2"});
        fx_commit(f);
        fx_begin(f);
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
        fx_commit(f);
}

/* Read ahead outside any op (out NULL), as the store thread does: later
 * reads in the transaction see every write made since, an op rolled back
 * shows its writes undone, and dependants are found whenever they exist. */
static void job_get_many_then_reads_see_writes(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, p, kid, ids[4];
        int n = -1;

        fx_begin(f);
        a = fx_put(f, (struct spec){.state = JOB_RUNNING});
        b = fx_put(f, (struct spec){.state = JOB_RUNNING});
        p = fx_put(f, (struct spec){.state = JOB_RUNNING});
        kid = fx_put(f, (struct spec){.state = JOB_PENDING});
        assert_int_equal(f->ops->dep_insert(f->st, "t1", p, kid), 0);
        fx_commit(f);

        fx_begin(f);
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
        fx_assert_ids(ids, n, (int64_t[]){kid}, 1);
        assert_int_equal(f->ops->dep_children(f->st, a, 0, 4, ids, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->dep_insert(f->st, "t1", a, kid), 0);
        assert_int_equal(f->ops->dep_children(f->st, a, 0, 4, ids, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){kid}, 1);
        assert_int_equal(f->ops->release(f->st), 0);
        fx_commit(f);

        fx_begin(f);
        assert_attempt(f, a, 0);
        assert_attempt(f, b, 7);
        assert_int_equal(f->ops->dep_children(f->st, a, 0, 4, ids, &n), 0);
        fx_assert_ids(ids, n, (int64_t[]){kid}, 1);
        fx_commit(f);
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

        fx_begin(f);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_false(d.dep_work);
        a = fx_put(f, (struct spec){.state = JOB_CANCELLED, .finished_at = T0 - 300});
        b = fx_put(f, (struct spec){.state = JOB_DEAD, .finished_at = T0 - 300});
        assert_int_equal(f->ops->dep_work_put(f->st, b, 0), 0);
        assert_int_equal(f->ops->dep_work_put(f->st, a, 7), 0);
        assert_int_equal(f->ops->dep_work_put(f->st, a, 9), 0); /* overwrites */
        fx_commit(f);

        fx_begin(f);
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
        assert_true(fx_exists(f, a));
        assert_int_equal(f->ops->job_delete(f->st, NULL, a), BATON_ENOTFOUND);
        assert_true(fx_exists(f, a));
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
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->job_purge(f->st, JOB_DEAD, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(fx_exists(f, b));
        assert_int_equal(f->ops->dep_work_move(f->st, a, 20, -1), 0);
        assert_int_equal(f->ops->job_purge(f->st, JOB_CANCELLED, T0, 100, &n), 0);
        assert_int_equal(n, 1);
        assert_false(fx_exists(f, a));
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_false(d.dep_work);
        fx_commit(f);
}

/* group_ready_many gives each group what group_ready_ids gives it. */
static void group_ready_many_per_group(void **state)
{
        struct fixture *f = *state;
        int64_t a1, a2, b1, ids[6];
        int prios[6], n[3];
        bool busy[3];

        fx_begin(f);
        a1 = fx_put(f,
                    (struct spec){
                        .state = JOB_QUEUED, .group = "a", .prio = PRIO_NORMAL, .run_at = T0 + 5});
        a2 = fx_put(f, (struct spec){
                           .state = JOB_QUEUED, .group = "a", .prio = PRIO_HIGH, .run_at = T0 + 9});
        fx_put(f, (struct spec){
                      .state = JOB_QUEUED, .group = "a", .prio = PRIO_LOW, .run_at = T0 + 20});
        b1 = fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "b\"q\\", .run_at = T0});
        fx_put(f, (struct spec){.state = JOB_RUNNING, .group = "c"});
        fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "c", .queue = "q2"});
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1",
                                                  (const char *const[]){"c", "a", "b\"q\\"}, 3, 2,
                                                  ids, prios, n, busy),
                         0);
        assert_int_equal(n[0], 0);
        fx_assert_ids(ids + 2, n[1], (int64_t[]){a2, a1}, 2);
        assert_int_equal(prios[2], PRIO_HIGH);
        assert_int_equal(prios[3], PRIO_NORMAL);
        fx_assert_ids(ids + 4, n[2], (int64_t[]){b1}, 1);
        for (int i = 0; i < 3; i++)
                assert_false(busy[i]);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1", (const char *const[]){"a"}, 1,
                                                  1, ids, prios, n, busy),
                         0);
        fx_assert_ids(ids, n[0], (int64_t[]){a2}, 1);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1", (const char *const[]){"a"}, 1,
                                                  0, ids, prios, n, busy),
                         BATON_EINVAL);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1", (const char *const[]){NULL}, 1,
                                                  2, ids, prios, n, busy),
                         BATON_EINVAL);
        fx_commit(f);
}

static void rate_log_put_get_trim(void **state)
{
        struct fixture *f = *state;
        int64_t at = 0;

        fx_begin(f);
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
        fx_commit(f);
}

/* ======== cluster: leader lease and notifications ========
 * The lease is compared against the store's clock where nodes share it
 * (PostgreSQL uses the database server's), so these tests pass the real wall
 * clock as now_ms and use either long leases or a lapse they sleep past. */

#define LONG_TTL_MS 600000

static struct leader_rec acquire(struct fixture *f, const char *node, int64_t held_epoch,
                                 int64_t ttl_ms, int64_t lag_ms)
{
        struct leader_rec l;

        memset(&l, 0x55, sizeof(l));
        fx_begin(f);
        assert_int_equal(
            f->ops->leader_acquire(f->st, node, held_epoch, fx_wall_ms(), ttl_ms, lag_ms, &l), 0);
        fx_commit(f);
        return l;
}

static int check(struct fixture *f, const char *node, int64_t epoch)
{
        int rc;

        fx_begin(f);
        rc = f->ops->leader_check(f->st, node, epoch);
        fx_commit(f);
        return rc;
}

static struct leader_rec lease_now(struct fixture *f)
{
        struct leader_rec l;

        memset(&l, 0x55, sizeof(l));
        fx_begin(f);
        assert_int_equal(f->ops->leader_get(f->st, &l), 0);
        fx_commit(f);
        return l;
}

static void leader_take_and_renew(void **state)
{
        struct fixture *f = *state;
        struct leader_rec l = lease_now(f), r;
        int64_t t0 = fx_wall_ms();

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
        fx_reopen(f);
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
                fx_begin(f);
                assert_int_equal(f->ops->leader_release(f->st, "a", 1), 0);
                fx_commit(f);
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
        fx_begin(f);
        assert_int_equal(f->ops->leader_release(f->st, "a", 1), 0);
        fx_commit(f);
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
                fx_begin(f);
                assert_int_equal(f->ops->leader_release(f->st, "b", 2), 0);
                fx_commit(f);
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

        fx_begin(f);
        assert_int_equal(f->ops->leader_acquire(f->st, "a", 0, fx_wall_ms(), LONG_TTL_MS, 0, &l),
                         0);
        assert_int_equal(l.epoch, 1);
        assert_int_equal(f->ops->notify(f->st, (const char *[]){"r\tt1\tq1"}, 1), 0);
        assert_int_equal(f->ops->rollback(f->st), 0);
        assert_int_equal(lease_now(f).epoch, 0);
        /* A savepoint rolled back drops a take too. */
        fx_begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->leader_acquire(f->st, "a", 0, fx_wall_ms(), LONG_TTL_MS, 0, &l),
                         0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        fx_commit(f);
        assert_int_equal(lease_now(f).epoch, 0);
}

static void leader_refuses_bad_arguments(void **state)
{
        struct fixture *f = *state;
        struct leader_rec l;
        char long_node[STORE_NODE_MAX + 2];

        memset(long_node, 'n', sizeof(long_node) - 1);
        long_node[sizeof(long_node) - 1] = 0;
        fx_begin(f);
        assert_int_equal(f->ops->leader_acquire(f->st, "", 0, fx_wall_ms(), 1000, 0, &l),
                         BATON_EINVAL);
        assert_int_equal(f->ops->leader_acquire(f->st, long_node, 0, fx_wall_ms(), 1000, 0, &l),
                         BATON_EINVAL);
        assert_int_equal(f->ops->leader_acquire(f->st, "a", 0, fx_wall_ms(), 0, 0, &l),
                         BATON_EINVAL);
        fx_commit(f);
        assert_int_equal(lease_now(f).epoch, 0);
}

static void notify_in_transaction(void **state)
{
        struct fixture *f = *state;
        char big[7002];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        fx_begin(f);
        assert_int_equal(
            f->ops->notify(f->st, (const char *[]){"r\tt1\tq1", "k\tk0123456789abcdef"}, 2), 0);
        assert_int_equal(f->ops->notify(f->st, (const char *[]){"r\tt1\tq2", big}, 2),
                         BATON_EINVAL);
        assert_int_equal(f->ops->notify(f->st, NULL, 0), 0);
        fx_commit(f);
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
        int64_t deadline = fx_wall_ms() + 3000;

        while (!noted(ns, want) && fx_wall_ms() < deadline) {
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

        snprintf(kept, sizeof(kept), "test-kept-%ld-%lld", (long)getpid(), (long long)fx_wall_ms());
        snprintf(kept2, sizeof(kept2), "test-kept2-%ld-%lld", (long)getpid(),
                 (long long)fx_wall_ms());
        snprintf(dropped, sizeof(dropped), "test-dropped-%ld-%lld", (long)getpid(),
                 (long long)fx_wall_ms());
        assert_int_equal(f->ops->listen_open(&o, &l), 0);
        assert_true(f->ops->listen_fd(l) >= 0);
        fx_begin(f);
        assert_int_equal(f->ops->notify(f->st, (const char *[]){dropped}, 1), 0);
        assert_int_equal(f->ops->rollback(f->st), 0);
        fx_begin(f);
        assert_int_equal(f->ops->notify(f->st, (const char *[]){kept, quoted, kept2}, 3), 0);
        /* Not before the commit. */
        assert_int_equal(f->ops->listen_read(l, collect_note, &ns), 0);
        usleep(50000);
        assert_int_equal(f->ops->listen_read(l, collect_note, &ns), 0);
        assert_false(noted(&ns, kept));
        t0 = fx_wall_ms();
        fx_commit(f);
        listen_until(f, l, &ns, kept2);
        /* Every payload of the call arrives, in order, exactly as given. */
        assert_true(noted(&ns, kept));
        assert_true(noted(&ns, quoted));
        assert_true(noted(&ns, kept2));
        print_message("notification delivered %lld ms after commit\n",
                      (long long)(fx_wall_ms() - t0));
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
        fx_begin(f);
        assert_int_equal(f->ops->leader_check(f->st, "a", 1), 0);
        t0 = fx_wall_ms();
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_acquire(g, "b", 0, fx_wall_ms(), LONG_TTL_MS, 0, &b), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_true(fx_wall_ms() - t0 < 1000); /* no lock wait */
        assert_string_equal(b.node, "a");
        assert_int_equal(b.epoch, 1);
        fx_commit(f);
        /* The duty is over: b takes the lapsed lease. */
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_acquire(g, "b", 0, fx_wall_ms(), LONG_TTL_MS, 0, &b), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_string_equal(b.node, "b");
        assert_int_equal(b.epoch, 2);
        /* a's next duty is fenced, b's passes, and both may check at once. */
        fx_begin(f);
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_check(g, "b", 2), 0);
        assert_int_equal(f->ops->leader_check(f->st, "a", 1), BATON_ECONFLICT);
        assert_int_equal(f->ops->commit(g), 0);
        fx_commit(f);
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
        fx_begin(f);
        assert_int_equal(f->ops->leader_check(f->st, "a", 1), 0); /* the duty */
        t0 = fx_wall_ms();
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->leader_acquire(g, "a", 1, fx_wall_ms(), LONG_TTL_MS, 3, &r), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_true(fx_wall_ms() - t0 < 1000);
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
        assert_int_equal(f->ops->leader_acquire(g, "b", 0, fx_wall_ms(), LONG_TTL_MS, 0, &r), 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_string_equal(r.node, "a");
        assert_int_equal(r.lease_until_ms, 0);
        fx_commit(f);
        r = acquire(f, "b", 0, LONG_TTL_MS, 0);
        assert_string_equal(r.node, "b");
        assert_int_equal(r.epoch, 2);
        f->ops->close(g);
}

static const struct CMUnitTest shared_tests[] = {
    cmocka_unit_test_setup_teardown(shared_notify_delivered_at_commit, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(shared_duty_blocks_takeover_until_commit, fx_setup,
                                    fx_teardown),
    cmocka_unit_test_setup_teardown(shared_holder_renews_during_its_duty, fx_setup, fx_teardown),
};

/* ======== end of the cluster section ======== */

/* ---- version 14: the worker registry ---- */

static int seen(struct fixture *f, const char *tenant, const char *id, const char *info,
                const char *queue, int64_t at, int64_t period, int64_t completed, int64_t failed)
{
        struct worker_note n = {(char *)tenant, (char *)id, (char *)info, (char *)queue, at,
                                period,         completed,  failed};

        return f->ops->worker_seen(f->st, &n);
}

/* ---- dashboard sessions (version 15) ---- */

static int sess_put(struct fixture *f, const char *id, const char *key_id, int64_t created,
                    int64_t expires)
{
        struct session_rec r = {(char *)id,     (char *)"csrf-digest",
                                (char *)key_id, (char *)"key-digest",
                                (char *)"t1",   created,
                                expires};

        return f->ops->session_insert(f->st, &r);
}

/* session_insert, session_delete and session_list (store.h): every column
 * round-trips; a duplicate id is BATON_ECONFLICT and changes nothing; a
 * missing row is BATON_ENOTFOUND; lists of one key or of every key in
 * (key_id, created_at, id) order, continued from the last row read; a
 * savepoint rolled back keeps none of the writes; a NULL column is
 * BATON_EINVAL. */
static void session_rows_roundtrip_list_delete(void **state)
{
        struct fixture *f = *state;
        struct session_rec *v = NULL, bad = {0};
        int n = 0;

        fx_begin(f);
        assert_int_equal(sess_put(f, "s-b2", "kb", T0 + 2, T0 + 100), 0);
        assert_int_equal(sess_put(f, "s-a1", "ka", T0 + 1, T0 + 100), 0);
        assert_int_equal(sess_put(f, "s-b1", "kb", T0 + 1, T0 + 200), 0);
        assert_int_equal(sess_put(f, "s-b0", "kb", T0 + 2, T0 + 300), 0);
        assert_int_equal(sess_put(f, "s-a1", "kz", T0, T0), BATON_ECONFLICT);
        assert_int_equal(f->ops->session_insert(f->st, &bad), BATON_EINVAL);
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->session_list(f->st, "kb", NULL, 0, NULL, 10, &v, &n), 0);
        assert_int_equal(n, 3);
        /* created_at, then id. */
        assert_string_equal(v[0].id, "s-b1");
        assert_string_equal(v[1].id, "s-b0");
        assert_string_equal(v[2].id, "s-b2");
        assert_string_equal(v[0].csrf, "csrf-digest");
        assert_string_equal(v[0].key_id, "kb");
        assert_string_equal(v[0].key_digest, "key-digest");
        assert_string_equal(v[0].tenant, "t1");
        assert_int_equal(v[0].created_at_ms, T0 + 1);
        assert_int_equal(v[0].expires_at_ms, T0 + 200);
        session_recs_free(v, n);
        /* Every key, two at a time. */
        assert_int_equal(f->ops->session_list(f->st, NULL, NULL, 0, NULL, 2, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].id, "s-a1");
        assert_string_equal(v[1].id, "s-b1");
        {
                struct session_rec *w = NULL;
                int m = 0;
                assert_int_equal(f->ops->session_list(f->st, NULL, v[1].key_id, v[1].created_at_ms,
                                                      v[1].id, 2, &w, &m),
                                 0);
                assert_int_equal(m, 2);
                assert_string_equal(w[0].id, "s-b0");
                assert_string_equal(w[1].id, "s-b2");
                session_recs_free(w, m);
        }
        session_recs_free(v, n);
        assert_int_equal(f->ops->session_list(f->st, "kx", NULL, 0, NULL, 10, &v, &n), 0);
        assert_int_equal(n, 0);
        session_recs_free(v, n);
        assert_int_equal(f->ops->session_list(f->st, NULL, NULL, 0, NULL, 0, &v, &n), BATON_EINVAL);
        assert_int_equal(f->ops->session_delete(f->st, "s-b1"), 0);
        assert_int_equal(f->ops->session_delete(f->st, "s-b1"), BATON_ENOTFOUND);
        fx_commit(f);

        /* A rolled-back savepoint keeps neither an insert nor a delete. */
        fx_begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(sess_put(f, "s-c1", "kc", T0, T0 + 1), 0);
        assert_int_equal(f->ops->session_delete(f->st, "s-a1"), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->session_list(f->st, NULL, NULL, 0, NULL, 10, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].id, "s-a1");
        assert_string_equal(v[1].id, "s-b0");
        assert_string_equal(v[2].id, "s-b2");
        session_recs_free(v, n);
        fx_commit(f);
}

/* worker_seen's rules (store.h): the insert, then last_seen the later one,
 * info and period replaced only when given, a queue appended once and at
 * most STORE_WORKER_QUEUES_MAX of them, counts added; tenant scoping. */
static void worker_seen_merges_into_one_row(void **state)
{
        struct fixture *f = *state;
        struct worker_rec w = {0};
        json_t *q;
        char name[32];

        fx_begin(f);
        assert_int_equal(seen(f, "t1", "w1", "{\"host\":\"a\"}", "mail", T0, 500, 0, 0), 0);
        assert_int_equal(seen(f, "t1", "w1", NULL, NULL, T0 + 50, 0, 2, 1), 0);
        /* An older sighting (another node's) does not move last_seen back. */
        assert_int_equal(seen(f, "t1", "w1", NULL, "mail", T0 + 10, 0, 1, 0), 0);
        assert_int_equal(seen(f, "t1", "w1", NULL, "jobs", T0 + 40, 700, 0, 3), 0);
        assert_int_equal(seen(f, "t2", "w1", "{\"host\":\"b\"}", NULL, T0 + 5, 0, 0, 0), 0);
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->worker_get(f->st, "t1", "w1", &w), 0);
        assert_string_equal(w.tenant, "t1");
        assert_string_equal(w.id, "w1");
        assert_string_equal(w.info, "{\"host\":\"a\"}");
        q = json_loads(w.queues, 0, NULL);
        assert_int_equal(json_array_size(q), 2);
        assert_string_equal(json_string_value(json_array_get(q, 0)), "mail");
        assert_string_equal(json_string_value(json_array_get(q, 1)), "jobs");
        json_decref(q);
        assert_int_equal(w.first_seen_ms, T0);
        assert_int_equal(w.last_seen_ms, T0 + 50);
        assert_int_equal(w.period_ms, 700);
        assert_int_equal(w.completed, 3);
        assert_int_equal(w.failed, 4);
        worker_rec_free(&w);
        assert_int_equal(f->ops->worker_get(f->st, "t2", "w1", &w), 0);
        assert_string_equal(w.info, "{\"host\":\"b\"}");
        assert_string_equal(w.queues, "[]");
        assert_int_equal(w.completed, 0);
        worker_rec_free(&w);
        assert_int_equal(f->ops->worker_get(f->st, "t3", "w1", &w), BATON_ENOTFOUND);
        fx_commit(f);

        /* The queue list stops at STORE_WORKER_QUEUES_MAX. */
        fx_begin(f);
        for (int i = 0; i < STORE_WORKER_QUEUES_MAX + 6; i++) {
                snprintf(name, sizeof(name), "q%d", i);
                assert_int_equal(seen(f, "t1", "w2", NULL, name, T0, 0, 0, 0), 0);
        }
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->worker_get(f->st, "t1", "w2", &w), 0);
        q = json_loads(w.queues, 0, NULL);
        assert_int_equal(json_array_size(q), STORE_WORKER_QUEUES_MAX);
        assert_string_equal(json_string_value(json_array_get(q, 0)), "q0");
        json_decref(q);
        assert_null(w.info);
        worker_rec_free(&w);
        fx_commit(f);
}

/* worker_list pages by id within a tenant; worker_jobs lists the running
 * jobs leased to a worker whose lease is live; worker_purge deletes the
 * oldest first, at most max; deadlines report the earliest last_seen. */
static void worker_list_jobs_purge(void **state)
{
        struct fixture *f = *state;
        const char *ids[] = {"wc", "wa", "wb"};
        struct worker_rec *v = NULL;
        struct store_deadlines d = {0};
        int64_t jid[4], got[8], lease[8];
        int n = 0, purged = 0;

        fx_begin(f);
        for (int i = 0; i < 3; i++)
                assert_int_equal(seen(f, "t1", ids[i], NULL, NULL, T0 + 100 * i, 0, 0, 0), 0);
        assert_int_equal(seen(f, "t2", "wz", NULL, NULL, T0 + 50, 0, 0, 0), 0);
        for (int i = 0; i < 4; i++) {
                struct job j;

                job_fill(&j, i == 3 ? "t2" : "t1", i);
                free(j.worker);
                j.worker = fx_xdup("wa");
                j.state = i == 2 ? JOB_QUEUED : JOB_RUNNING;
                j.lease_until_ms = i == 1 ? T0 : T0 + 10000;
                j.lease_ms = 1000 * (i + 1);
                assert_int_equal(f->ops->job_insert(f->st, &j), 0);
                jid[i] = j.id;
                job_free(&j);
        }
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->worker_list(f->st, "t1", NULL, 2, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0].id, "wa");
        assert_string_equal(v[1].id, "wb");
        worker_recs_free(v, n);
        assert_int_equal(f->ops->worker_list(f->st, "t1", "wb", 2, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].id, "wc");
        worker_recs_free(v, n);
        assert_int_equal(f->ops->worker_list(f->st, "t1", NULL, 0, &v, &n), BATON_EINVAL);
        /* Job 0 only: job 1's lease has run out, job 2 is queued, job 3 is
         * another tenant's. */
        assert_int_equal(f->ops->worker_jobs(f->st, "t1", "wa", T0 + 1, 8, got, lease, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(got[0], jid[0]);
        assert_int_equal(lease[0], 1000);
        assert_int_equal(f->ops->worker_jobs(f->st, "t1", "wb", T0 + 1, 8, got, lease, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.worker_min_ms, T0);
        fx_commit(f);

        fx_begin(f);
        /* Seen before T0 + 150: wc (T0), wz (T0 + 50), wa (T0 + 100); two go. */
        assert_int_equal(f->ops->worker_purge(f->st, T0 + 150, 2, &purged), 0);
        assert_int_equal(purged, 2);
        assert_int_equal(f->ops->worker_purge(f->st, T0 + 150, 2, &purged), 0);
        assert_int_equal(purged, 1);
        assert_int_equal(f->ops->worker_list(f->st, "t1", NULL, 10, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].id, "wb");
        worker_recs_free(v, n);
        assert_int_equal(f->ops->deadlines(f->st, &d), 0);
        assert_int_equal(d.worker_min_ms, T0 + 200);
        fx_commit(f);
}

/* The event log (version 15): inserts in one call, read in id order from a
 * cursor with the tenant's rows only and the last id looked at, ids that
 * increase across transactions and are not reused after a purge emptied
 * the log, a transaction's own events invisible to nobody once committed,
 * a rolled-back insert leaving nothing, and the purge by age and by count. */
/* event_scan of tenant after after_id, in a transaction of its own, looked
 * at again every 20 ms (at most 10 s) while it finds fewer than want events
 * and the store says committed ones wait above PostgreSQL's horizon: another
 * test's transaction on the same server holds it back, not this test's. The
 * transaction stays open for the caller (fx_commit). */
static void scan_committed(struct fixture *f, const char *tenant, int64_t after_id, int want,
                           struct event_rec **v, int *n, int64_t *last, bool *more)
{
        bool waiting = false;

        for (int i = 0; i < 500; i++) {
                fx_begin(f);
                assert_int_equal(
                    f->ops->event_scan(f->st, tenant, after_id, 10, v, n, last, more, &waiting), 0);
                if (*n >= want || !waiting)
                        return;
                event_recs_free(*v, *n);
                fx_commit(f);
                poll(NULL, 0, 20);
        }
        fail_msg("the events stayed above the horizon for 10 s");
}

static void event_log_insert_scan_purge(void **state)
{
        struct fixture *f = *state;
        struct event_rec ev[5] = {
            {0, "t1", "job.enqueued", T0, "job", "1", "q1", "{\"a\":1}"},
            {0, "t2", "job.enqueued", T0, "job", "2", "q1", "{}"},
            {0, "t1", "cron.fired", T0 + 10, "cron", "k1", NULL, "{}"},
            {0, "t1", "job.dead", T0 + 20, "job", "1", "q1", "{\"error\":\"x\"}"},
            {0, "t1", "queue.paused", T0 + 30, "queue", "q1", "q1", "{}"},
        };
        struct event_rec *v = NULL;
        int64_t last = 0, first_id, newest;
        bool more = true, waiting = true;
        int n = 0, purged = 0;

        fx_begin(f);
        assert_int_equal(f->ops->event_insert(f->st, ev, 3), 0);
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->event_insert(f->st, &ev[3], 2), 0);
        fx_commit(f);
        /* A rolled-back insert leaves nothing. */
        fx_begin(f);
        assert_int_equal(f->ops->event_insert(f->st, ev, 1), 0);
        assert_int_equal(f->ops->rollback(f->st), 0);

        scan_committed(f, "t1", 0, 4, &v, &n, &last, &more);
        assert_int_equal(n, 4);
        assert_false(more);
        assert_string_equal(v[0].type, "job.enqueued");
        assert_string_equal(v[0].data, "{\"a\":1}");
        assert_string_equal(v[1].type, "cron.fired");
        assert_null(v[1].queue);
        assert_string_equal(v[1].subject, "k1");
        assert_string_equal(v[3].type, "queue.paused");
        assert_int_equal(v[3].at_ms, T0 + 30);
        for (int i = 1; i < n; i++)
                assert_true(v[i].id > v[i - 1].id);
        assert_int_equal(last, v[3].id);
        first_id = v[0].id;
        newest = v[3].id;
        event_recs_free(v, n);
        /* A window of two: the t2 row is looked at (last moves past it) but
         * not returned; more says the scan stopped at its bound. */
        assert_int_equal(
            f->ops->event_scan(f->st, "t1", first_id, 2, &v, &n, &last, &more, &waiting), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].type, "cron.fired");
        assert_int_equal(last, v[0].id);
        assert_true(more);
        event_recs_free(v, n);
        /* Every tenant, from the newest: nothing, the cursor stays. */
        assert_int_equal(
            f->ops->event_scan(f->st, NULL, newest, 10, &v, &n, &last, &more, &waiting), 0);
        assert_int_equal(n, 0);
        assert_int_equal(last, newest);
        event_recs_free(v, n);
        assert_int_equal(f->ops->event_scan(f->st, NULL, 0, 0, &v, &n, &last, &more, &waiting),
                         BATON_EINVAL);
        /* By count: the newest 3 stay. */
        assert_int_equal(f->ops->event_purge(f->st, T0 - 1, 3, 100, &purged), 0);
        assert_int_equal(purged, 2);
        assert_int_equal(f->ops->event_scan(f->st, NULL, 0, 10, &v, &n, &last, &more, &waiting), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].type, "cron.fired");
        event_recs_free(v, n);
        /* By age, at most max a call: at < T0 + 25 is two of them. */
        assert_int_equal(f->ops->event_purge(f->st, T0 + 25, 0, 1, &purged), 0);
        assert_int_equal(purged, 1);
        assert_int_equal(f->ops->event_purge(f->st, T0 + 25, 0, 100, &purged), 0);
        assert_int_equal(purged, 1);
        assert_int_equal(f->ops->event_purge(f->st, T0 + 1000, 0, 100, &purged), 0);
        assert_int_equal(purged, 1);
        fx_commit(f);
        /* The log is empty: the next id is still past every id handed out. */
        fx_begin(f);
        assert_int_equal(f->ops->event_insert(f->st, ev, 1), 0);
        fx_commit(f);
        scan_committed(f, NULL, 0, 1, &v, &n, &last, &more);
        assert_int_equal(n, 1);
        assert_true(v[0].id > newest);
        event_recs_free(v, n);
        fx_commit(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
static const struct CMUnitTest common_tests[] = {
    T(store_version_checked_at_open),
    T(job_roundtrip_every_field),
    T(job_roundtrip_nulls),
    T(job_large_text_roundtrip),
    T(job_ids_increase_and_are_not_reused),
    T(job_get_tenant_scoping),
    T(job_update_every_mutable_column),
    T(job_update_run_writes_the_run_columns),
    T(job_update_settle_writes_the_run_columns),
    T(key_unique_among_pending),
    T(job_find_key_finds_pending_only),
    T(key_unique_among_active),
    T(conflict_changes_nothing),
    T(job_list_filters_and_pages),
    T(job_list_every_filter_and_desc),
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
    T(job_purge_own_per_queue),
    T(queue_delete_row_groups_total),
    T(group_rows_roundtrip_note_ready_delete),
    T(group_pick_order_and_unblock),
    T(group_ready_ids_order),
    T(rate_log_put_get_trim),
    T(job_get_many_reads_like_job_get),
    T(job_get_many_then_reads_see_writes),
    T(group_ready_many_per_group),
    T(worker_seen_merges_into_one_row),
    T(worker_list_jobs_purge),
    T(session_rows_roundtrip_list_delete),
    T(event_log_insert_scan_purge),
    T(insert_throughput),
};

static const struct fx_backend *const backends[] = {&fx_sqlite, &fx_pg};

int main(void)
{
        const char *filter = getenv("STORE_TEST_FILTER");
        int failed = 0;

        if (filter && *filter)
                cmocka_set_test_filter(filter);
        for (size_t i = 0; i < BATON_ARRAY_LEN(backends); i++) {
                const struct fx_backend *be = backends[i];

                if (!be->available()) {
                        print_message("%s: skipped (not configured)\n", be->name);
                        continue;
                }
                failed += fx_run_group(be, be->name, common_tests, BATON_ARRAY_LEN(common_tests));
                if (be->ops->shared)
                        failed +=
                            fx_run_group(be, "shared", shared_tests, BATON_ARRAY_LEN(shared_tests));
        }
        return failed ? 1 : 0;
}
