/*
 * test_pg_store.c: the checks of the PostgreSQL backend that the shared suite
 * (test_conformance.c) cannot make through struct store_ops: schema refusal
 * and migrations (from version 1 and of the stores migrations 7 and 8
 * change), the query plans of the hot and the group claim statements (also
 * at scale) and the plan check, the lock behaviour of claims, counts and
 * group reads against other transactions (waits, skips, cycles, lock and
 * statement timeouts), counters written once per transaction, savepoints
 * and writes deferred to the top level, the database clock, reconnection
 * after a lost connection and the end of an idle transaction. These tests
 * use the backend's internals (store/pg_internal.h) and a libpq connection of
 * their own to the test's schema.
 *
 * BATON_TEST_PG_URI names a database the suite may write to (a libpq URI such
 * as postgresql://baton@127.0.0.1/baton_test); without it the program exits
 * 77, which ctest reports as skipped. Each test runs in a schema of its own,
 * created and dropped by support/store_fx.c; the store receives the URI with
 * options=-csearch_path=<schema>, so a backend that passes its URI to libpq
 * unchanged works in it without knowing.
 *
 * Workload: small, but every test migrates a fresh schema and several wait
 * for lock or statement timeouts: about a minute, more under ASan.
 * STORE_TEST_FILTER (a cmocka pattern such as "*lock*") runs a subset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/assert.h"
#include "store/job.h"
#include "store/store.h"
#include "support/pgtest.h"
#include "support/store_fx.h"

#ifdef BATON_HAVE_POSTGRES
#include <libpq-fe.h>
#include <pthread.h>

#include "core/groups.h"
#include "core/jobs.h"
#include "store/pg_internal.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

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

/* Closes the fixture's store and empties its schema (every table dropped),
 * so that a migration test can build the store an older binary left. Returns
 * a connection of the test's own to it, which the caller closes (PQfinish). */
static PGconn *pg_empty_schema(struct fixture *f)
{
        PGconn *c;

        f->ops->close(f->st);
        f->st = NULL;
        c = pg_raw(f);
        pg_raw_exec(c, FX_PG_DROP_ALL);
        return c;
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

        fx_reopen(f); /* a second open applies nothing */
        fx_begin(f);
        assert_int_equal(f->ops->schema_version(f->st, &v), 0);
        fx_commit(f);
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

        c = pg_empty_schema(f);
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
        assert_int_equal(fx_open(f), 0);
        fx_begin(f);
        assert_int_equal(f->ops->schema_version(f->st, &v), 0);
        assert_int_equal(v, pg_schema_newest());
        assert_int_equal(f->ops->job_get(f->st, "t1", 1, &j), 0);
        assert_string_equal(j.type, "old");
        assert_null(j.timer);
        assert_int_equal(j.flow_id, 0);
        job_free(&j);
        fx_commit(f);
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

/* The job_list plans are checked as the prepared statements are. */
static void pg_plan_check_catches_a_missing_list_index(void **state)
{
        struct fixture *f = *state;
        PGconn *c = pg_raw(f);
        char why[4096];

        PQfinish(c);
        pg_populate(f);
        c = pg_raw(f);
        pg_raw_exec(c, "DROP INDEX job_tdkey");
        PQfinish(c);
        assert_int_equal(pg_check_plans(f->st, why, sizeof(why)), BATON_ESTORE);
        if (!strstr(why, "job_list:key"))
                print_error("%s\n", why);
        assert_non_null(strstr(why, "job_list:key"));
        assert_int_equal(pg_explain(f->st, "job_list:worker desc", why, sizeof(why)), 0);
        assert_non_null(strstr(why, "job_tworker"));
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
        /* GET /v1/jobs on 100,000 jobs of one queue, analyzed. */
        pg_assert_plan(f, "job_list:state", "job_tstate");
        pg_assert_plan(f, "job_list:group", "job_tgrp");
        pg_assert_plan(f, "job_list:worker", "job_tworker");
        pg_assert_plan(f, "job_list:key", "job_tdkey");

        /* And they return the right first rows: "huge" was served longest ago. */
        fx_begin(f);
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
        fx_commit(f);
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

        c = pg_empty_schema(f);
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
        assert_int_equal(fx_open(f), 0);
        fx_begin(f);
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
        fx_commit(f);
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

        fx_begin(f);
        grouped = fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "g", .prio = PRIO_HIGH});
        fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_commit(f);
        c = pg_raw(f);
        pg_raw_exec(c, "BEGIN");
        pg_raw_exec(c, "SELECT id FROM jobs FOR UPDATE");
        fx_begin(f);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 4, ids, prios, &n), 0);
        assert_int_equal(n, 0); /* skipped */
        fx_commit(f);
        assert_int_equal(pthread_create(&th, NULL, pg_commit_later, c), 0);
        fx_begin(f);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", "g", 4, ids, prios, &n), 0);
        assert_int_equal(n, 1); /* waited for the commit */
        assert_int_equal(ids[0], grouped);
        assert_int_equal(prios[0], PRIO_HIGH);
        fx_commit(f);
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
        fx_cron_fill(&r, "t1", "k1", 2);
        fx_begin(f);
        assert_int_equal(f->ops->cron_put(f->st, &r), 0);
        assert_int_equal(f->ops->cron_count_add(f->st, "t1", 1, &n), 0);
        assert_int_equal(n, 1);
        t0 = fx_wall_ms();
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->cron_count_add(g, "t2", 0, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->commit(g), 0);
        assert_true(fx_wall_ms() - t0 < 250);
        assert_int_equal(pthread_create(&th, NULL, pg_commit_store_later, f), 0);
        t0 = fx_wall_ms();
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->cron_count_add(g, "t1", 1, &n), 0);
        assert_true(fx_wall_ms() - t0 >= 250); /* waited for f's commit */
        assert_int_equal(n, 2);                /* and counts f's schedule */
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
        int64_t n, t0 = fx_wall_ms();
        int next;

        ops->rollback_to(st);
        next = ops->savepoint(st) || ops->cron_count_add(st, "t3", 1, &n);
        if (!next || fx_wall_ms() - t0 > 500)
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
        fx_begin(f);
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->cron_count_add(f->st, "t1", 1, &n), 0);
        assert_int_equal(f->ops->release(f->st), 0);
        assert_int_equal(f->ops->begin(g), 0);
        assert_int_equal(f->ops->savepoint(g), 0);
        assert_int_equal(f->ops->cron_count_add(g, "t2", 1, &n), 0);
        assert_int_equal(f->ops->release(g), 0);
        assert_int_equal(pthread_create(&th, NULL, pg_count_other_tenant, &side), 0);
        nanosleep(&pause, NULL); /* f now waits for g's row */
        t0 = fx_wall_ms();
        rc_g = f->ops->savepoint(g) || f->ops->cron_count_add(g, "t1", 1, &n);
        if (rc_g)
                assert_int_equal(pg_victim_ends(f->ops, g), 0);
        pthread_join(th, NULL);
        /* One side was chosen, within a few deadlock_timeouts, not a
         * statement timeout. */
        assert_true(fx_wall_ms() - t0 < 5000);
        assert_true((rc_g != 0) != (side.rc != 0));
        if (side.rc) {
                assert_int_equal(side.victim, 0);
                assert_int_equal(f->ops->release(g), 0);
                assert_int_equal(f->ops->commit(g), 0);
        } else {
                assert_int_equal(f->ops->release(f->st), 0);
                fx_commit(f);
        }
        f->ops->close(g);
}

/* Migration 8 adds the jobs' cron column to a version-7 store: its jobs read
 * back with no marker, and a marker written afterwards reads back. */
static void pg_migration_8_adds_the_cron_marker(void **state)
{
        struct fixture *f = *state;
        PGconn *c;

        c = pg_empty_schema(f);
        assert_int_equal(pg_migrate_to(c, 7), 0);
        pg_raw_exec(c, FX_V7_ROWS);
        PQfinish(c);
        assert_int_equal(fx_open(f), 0);
        fx_migration_8_check(f, 41);
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

        fx_begin(f);
        g1 = fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "g", .prio = PRIO_HIGH});
        g2 = fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "g", .prio = PRIO_LOW});
        h1 = fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "h"});
        fx_commit(f);
        c = pg_raw(f);
        pg_raw_exec(c, "BEGIN");
        snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE id = %lld FOR UPDATE", (long long)g1);
        pg_raw_exec(c, sql);
        /* Were it to wait, the commit 300 ms later would let it return g1. */
        assert_int_equal(pthread_create(&th, NULL, pg_commit_later, c), 0);
        fx_begin(f);
        assert_int_equal(f->ops->group_ready_many(f->st, "t1", "q1",
                                                  (const char *const[]){"g", "h"}, 2, 2, ids, prios,
                                                  n, busy),
                         0);
        fx_assert_ids(ids, n[0], (int64_t[]){g2}, 1);
        assert_true(busy[0]);
        fx_assert_ids(ids + 2, n[1], (int64_t[]){h1}, 1);
        assert_false(busy[1]);
        fx_commit(f);
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

        fx_begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        queue_limits_free(&q);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 2, 1), 0);
        assert_int_equal(f->ops->begin(b), 0);
        assert_int_equal(f->ops->qlim_add(b, "t1", "q1", 1, 0), 0);
        assert_int_equal(f->ops->qlim_get(b, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 1); /* A's counts are not committed yet */
        queue_limits_free(&q);
        assert_int_equal(f->ops->commit(b), 0);
        fx_commit(f);
        assert_int_equal(pg_raw_i64(c, "SELECT COUNT(*) FROM queue_counts WHERE queue = 'q1'"), 2);
        fx_begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 3);
        assert_int_equal(q.running, 1);
        queue_limits_free(&q);
        fx_commit(f);
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

        fx_begin(f);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 1, 0), 0);
        fx_commit(f);
        slot = pg_share_slot(c);
        fx_begin(f);
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
        fx_commit(f);
        assert_int_equal(pg_share_slot(c), slot + 1);
        fx_begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        assert_int_equal(q.depth, 100);
        assert_int_equal(q.running, 99);
        queue_limits_free(&q);
        fx_commit(f);
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

        fx_begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        queue_limits_free(&q);
        fx_commit(f);
        fx_begin(f);
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
        fx_commit(f);
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

        fx_begin(f);
        held = fx_put(f, (struct spec){.state = JOB_QUEUED});
        assert_int_equal(f->ops->qlim_put(f->st, &(struct queue_limits){.tenant = (char *)"t1",
                                                                        .queue = (char *)"q1"}),
                         0);
        fx_commit(f);
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
        fx_job_from_spec(&j, &(struct spec){.state = JOB_QUEUED, .queue = "q2"});
        assert_int_equal(f->ops->job_insert(t, &j), 0);
        other_id = j.id;
        job_free(&j);
        assert_int_equal(f->ops->release(t), 0);
        assert_int_equal(f->ops->commit(t), 0);

        /* A write an earlier operation deferred: the batch fails whole. */
        assert_int_equal(f->ops->begin(t), 0);
        assert_int_equal(f->ops->savepoint(t), 0);
        fx_job_from_spec(&j, &(struct spec){.state = JOB_QUEUED, .queue = "q2"});
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

        fx_begin(f);
        assert_true(fx_exists(f, other_id));
        assert_false(fx_exists(f, j.id));
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.concurrency, 0);
        queue_limits_free(&q);
        fx_commit(f);
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

        fx_begin(f);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 1, 0), 0);
        assert_int_equal(f->ops->qlim_put(f->st, &(struct queue_limits){.tenant = (char *)"t1",
                                                                        .queue = (char *)"q1"}),
                         0);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "a", PRIO_NORMAL), 0);
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        queue_limits_free(&q);
        assert_int_equal(f->ops->group_get(f->st, "t1", "q1", "a", false, &g), 0);
        group_rec_free(&g);
        assert_true(pg_row_free(c, qsql));
        assert_true(pg_row_free(c, gsql));
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        assert_int_equal(q.depth, 1);
        queue_limits_free(&q);
        assert_false(pg_row_free(c, qsql));
        assert_true(pg_row_free(c, gsql));
        assert_int_equal(f->ops->group_get(f->st, "t1", "q1", "a", true, &g), 0);
        group_rec_free(&g);
        assert_false(pg_row_free(c, gsql));
        fx_commit(f);
        assert_true(pg_row_free(c, qsql));

        fx_begin(f);
        assert_int_equal(f->ops->group_pick(f->st, "t1", "q1", 4, &v, &n), 0);
        assert_int_equal(n, 1);
        group_recs_free(v, n);
        assert_false(pg_row_free(c, gsql));
        fx_commit(f);
        assert_true(pg_row_free(c, gsql));
        PQfinish(c);
}

/* Two nodes claiming from one queue at once (the claim read of the jobs
 * without a group): the second passes over the rows the first has locked
 * instead of waiting for them or returning them. */
static void pg_claims_skip_locked_rows(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri};
        struct store *other = NULL;
        int64_t ids[4], mine[4], theirs[4];
        int n = 0, m = 0, prios[4];

        fx_begin(f);
        for (int i = 0; i < 4; i++)
                ids[i] = fx_put(f, (struct spec){.state = JOB_QUEUED, .run_at = T0 + i});
        fx_commit(f);
        assert_int_equal(f->ops->open(&o, &other), 0);
        fx_begin(f);
        assert_int_equal(f->ops->group_ready_ids(f->st, "t1", "q1", NULL, 2, mine, prios, &n), 0);
        fx_assert_ids(mine, n, ids, 2);
        assert_int_equal(f->ops->begin(other), 0);
        assert_int_equal(f->ops->group_ready_ids(other, "t1", "q1", NULL, 4, theirs, prios, &m), 0);
        fx_assert_ids(theirs, m, ids + 2, 2);
        assert_int_equal(f->ops->commit(other), 0);
        fx_commit(f);
        /* Once the first commits, its rows are claimable again (still queued). */
        assert_int_equal(f->ops->begin(other), 0);
        assert_int_equal(f->ops->group_ready_ids(other, "t1", "q1", NULL, 4, theirs, prios, &m), 0);
        fx_assert_ids(theirs, m, ids, 4);
        assert_int_equal(f->ops->commit(other), 0);
        /* job_get locks too (a read that is about to change the job): while
         * one transaction holds a job it read, a claim elsewhere passes it. */
        fx_begin(f);
        {
                struct job j;

                assert_int_equal(f->ops->job_get(f->st, NULL, ids[0], &j), 0);
                job_free(&j);
        }
        assert_int_equal(f->ops->begin(other), 0);
        assert_int_equal(f->ops->group_ready_ids(other, "t1", "q1", NULL, 4, theirs, prios, &m), 0);
        fx_assert_ids(theirs, m, ids + 1, 3);
        assert_int_equal(f->ops->commit(other), 0);
        fx_commit(f);
        f->ops->close(other);
}

/* The batch's now comes from the database clock. */
static void pg_now_is_database_time(void **state)
{
        struct fixture *f = *state;
        struct timespec ts;
        int64_t a = 0, b = 0, local;

        fx_begin(f);
        assert_int_equal(f->ops->now_ms(f->st, &a), 0);
        fx_commit(f);
        clock_gettime(CLOCK_REALTIME, &ts);
        local = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        /* The test server runs on this machine: same clock, a loose bound for
         * a loaded machine. */
        assert_true(a > local - 60000 && a <= local + 60000);
        fx_begin(f);
        assert_int_equal(f->ops->now_ms(f->st, &b), 0);
        fx_commit(f);
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

        fx_begin(f);
        kept = fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(fx_put_rc(f, (struct spec){.state = JOB_QUEUED}, &lost), 0);
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
        fx_begin(f); /* reconnects */
        assert_true(pg_backend_pid(f) != pid);
        assert_int_equal(f->ops->job_get(f->st, NULL, kept, &j), 0);
        job_free(&j);
        assert_int_equal(f->ops->job_get(f->st, NULL, lost, &j), BATON_ENOTFOUND);
        fx_commit(f);
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

/* The second half of pg_write_only_ops_run_at_top_level: writes that
 * overflow the queue of deferred commands, with id the job their
 * idempotency records point at. */
static void deferred_overflow_keeps_savepoints(struct fixture *f, int64_t id)
{
        /* More writes than the queue of deferred commands holds (idempotency
         * records, one upsert each): it is sent in the middle of the
         * operation, under the savepoint it then gets, so rolling back still
         * undoes every one of them. */
        fx_begin(f);
        for (int keep = 0; keep < 2; keep++) {
                assert_int_equal(f->ops->savepoint(f->st), 0);
                for (int i = 0; i < PG_PENDING_MAX + 10; i++) {
                        char key[32];

                        snprintf(key, sizeof(key), "k%d-%d", keep, i);
                        fx_idem_put(f, "t1", key, id, "h", T0);
                }
                assert_int_equal(keep ? f->ops->release(f->st) : f->ops->rollback_to(f->st), 0);
        }
        fx_commit(f);
        fx_begin(f);
        for (int i = 0; i < PG_PENDING_MAX + 10; i++) {
                char key[32];

                snprintf(key, sizeof(key), "k0-%d", i);
                assert_int_equal(f->ops->idem_get(f->st, "t1", key, &(struct idem_rec){0}),
                                 BATON_ENOTFOUND);
                snprintf(key, sizeof(key), "k1-%d", i);
                fx_assert_idem(f, "t1", key, id, "h", T0);
        }
        fx_commit(f);
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

        fx_begin(f);
        for (int i = 0; i < 3; i++)
                ids[i] = fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_commit(f);

        fx_begin(f);
        assert_int_equal(f->ops->job_get_many(f->st, NULL, ids, 3, NULL), 0);
        /* Two settles that only write, then one that only writes and rolls back. */
        for (int i = 0; i < 2; i++) {
                assert_int_equal(f->ops->savepoint(f->st), 0);
                assert_int_equal(fx_set_state(f, ids[i], JOB_RUNNING), 0);
                assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 0, 1), 0);
                assert_int_equal(f->ops->release(f->st), 0);
        }
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(fx_set_state(f, ids[2], JOB_DEAD), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 0, 5), 0);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        /* Writes, then a read: the writes go under the savepoint it opens. */
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(fx_set_state(f, ids[2], JOB_RUNNING), 0);
        assert_int_equal(f->ops->queue_get(f->st, "t1", "q1", &(struct queue_rec){0}),
                         BATON_ENOTFOUND);
        assert_int_equal(f->ops->release(f->st), 0);
        /* The transaction's own id, read outside any operation. */
        assert_int_equal(pg_exec(f->st, &xid, NULL, &r), 0);
        top = strtoll(PQgetvalue(r, 0, 0), NULL, 10) & 0xffffffffLL;
        PQclear(r);
        fx_commit(f);

        assert_int_equal(pg_job_xmin(c, ids[0]), top);
        assert_int_equal(pg_job_xmin(c, ids[1]), top);
        assert_true(pg_job_xmin(c, ids[2]) != top);
        fx_begin(f);
        assert_int_equal(f->ops->job_get(f->st, NULL, ids[2], &j), 0);
        assert_int_equal(j.state, JOB_RUNNING);
        job_free(&j);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.running, 2);
        queue_limits_free(&q);
        fx_commit(f);

        deferred_overflow_keeps_savepoints(f, ids[0]);
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

        fx_begin(f);
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
        fx_commit(f);

        /* The firing's rewrite of k1 is deferred too, and overwrites it. */
        fx_begin(f);
        t.key = "k1";
        t.fire_at_ms = T0;
        t.state = 1;
        t.job_id = 42;
        t.fired_at_ms = T0 + 5;
        assert_int_equal(f->ops->timer_put(f->st, &t), 0);
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->timer_due(f->st, T0 + 10, 10, &due, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(due[0].key, "k2");
        timer_recs_free(due, n);
        assert_int_equal(f->ops->timer_get(f->st, "t1", "k1", &got), 0);
        assert_int_equal(got.state, 1);
        assert_int_equal(got.job_id, 42);
        assert_int_equal(got.fired_at_ms, T0 + 5);
        timer_rec_free(&got);
        fx_commit(f);
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
        int64_t t0 = fx_wall_ms();

        assert_int_equal(t->f->ops->begin(t->f->st), 0);
        assert_int_equal(t->f->ops->savepoint(t->f->st), 0);
        t->rc = t->f->ops->idem_take(t->f->st, &want, T0, &held);
        t->waited_ms = fx_wall_ms() - t0;
        t->held_job_id = held.job_id;
        idem_rec_free(&held);
        return NULL;
}

/* A read that only answers (job_peek, GET /v1/jobs/{id}) takes no row lock:
 * another connection's claim (SKIP LOCKED) still sees the job while the
 * read's transaction is open. job_get, which core uses to change a job,
 * locks it, and the claim passes the job over: that was the GET's read up
 * to store version 11, and a claim on another node found nothing (seen as a
 * flake of fault_cluster_pg cross_node_job_wait_and_follower_deadline). */
static void pg_job_peek_takes_no_lock(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};
        struct store *g = NULL;
        int64_t id, ids[4];
        int prios[4], n = -1, rc;
        struct job j;

        fx_begin(f);
        id = fx_put(f, (struct spec){.state = JOB_QUEUED, .queue = "peekq"});
        fx_commit(f);
        assert_int_equal(f->ops->open(&o, &g), 0);
        for (int locked = 0; locked < 2; locked++) {
                memset(&j, 0, sizeof(j));
                assert_int_equal(f->ops->begin(g), 0);
                if (locked)
                        assert_int_equal(f->ops->job_get(g, "t1", id, &j), 0);
                else
                        assert_int_equal(f->ops->job_peek(g, "t1", id, &j), 0);
                assert_int_equal(j.id, id);
                assert_int_equal(j.state, JOB_QUEUED);
                job_free(&j);
                fx_begin(f);
                rc = f->ops->group_ready_ids(f->st, "t1", "peekq", NULL, 4, ids, prios, &n);
                fx_commit(f);
                /* Both transactions end before anything is asserted, so a
                 * failure cannot leave a lock behind for the teardown. */
                assert_int_equal(f->ops->commit(g), 0);
                if (rc || n != (locked ? 0 : 1))
                        f->ops->close(g);
                assert_int_equal(rc, 0);
                assert_int_equal(n, locked ? 0 : 1);
        }
        f->ops->close(g);
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
                fx_commit(f);
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
        fx_begin(f);
        held = fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_commit(f);
        pg_raw_exec(c, "BEGIN");
        snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE id = %lld FOR UPDATE",
                 (long long)held);
        pg_raw_exec(c, sql);

        assert_int_equal(f->ops->begin(t), 0);
        assert_int_equal(f->ops->savepoint(t), 0);
        fx_job_from_spec(&j, &(struct spec){.state = JOB_QUEUED, .queue = "q2"});
        assert_int_equal(f->ops->job_insert(t, &j), 0);
        first = j.id;
        job_free(&j);
        assert_int_equal(f->ops->release(t), 0);
        t0 = fx_wall_ms();
        assert_int_equal(f->ops->savepoint(t), 0);
        rc_get = f->ops->job_get(t, NULL, held, &j);
        waited = fx_wall_ms() - t0;
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
        fx_begin(f);
        assert_false(fx_exists(f, first));
        fx_commit(f);
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
        fx_begin(f);
        held = fx_put(f, (struct spec){.state = JOB_QUEUED});
        fx_commit(f);
        assert_int_equal(f->ops->begin(t), 0);
        assert_int_equal(f->ops->job_get(t, NULL, held, &j), 0); /* locks the row */
        job_free(&j);
        /* t stalls; another session waits for the row until t's session is
         * ended (300 ms), well before its own statement timeout. */
        t0 = fx_wall_ms();
        pg_raw_exec(c, "SET statement_timeout = 10000");
        snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE id = %lld FOR UPDATE",
                 (long long)held);
        r = PQexec(c, sql);
        got = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        waited = fx_wall_ms() - t0;
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
        t0 = fx_wall_ms();
        for (;;) {
                int rc = f->ops->begin(t);
                if (!rc)
                        break;
                assert_true(fx_wall_ms() - t0 < 5000);
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
    T(pg_plan_check_catches_a_missing_list_index),
    T(pg_claims_skip_locked_rows),
    T(pg_group_claim_plans_at_scale),
    T(pg_migration_7_counts_existing_jobs),
    T(pg_migration_8_adds_the_cron_marker),
    T(pg_cron_count_waits_for_the_tenant_row),
    T(pg_lock_cycle_fails_the_whole_batch),
    T(pg_idem_take_one_winner),
    T(pg_job_peek_takes_no_lock),
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

int main(void)
{
        const char *filter = getenv("STORE_TEST_FILTER");

        if (!fx_pg.available()) {
                print_message("postgres: skipped (BATON_TEST_PG_URI is not set)\n");
                return PGTEST_SKIP_CODE;
        }
        if (filter && *filter)
                cmocka_set_test_filter(filter);
        return fx_run_group(&fx_pg, "postgres-specific", pg_tests, BATON_ARRAY_LEN(pg_tests)) ? 1
                                                                                              : 0;
}
#else
int main(void)
{
        print_message("postgres: skipped (built without the PostgreSQL backend)\n");
        return PGTEST_SKIP_CODE;
}
#endif
