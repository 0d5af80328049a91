/*
 * test_sqlite_store.c: the checks of the SQLite backend that the shared suite
 * (test_conformance.c) cannot make through struct store_ops: it refuses a
 * schema newer than it knows, records each migration once, migrates a
 * version-1 store and the stores that migrations 7, 8 and 12 change, keeps a
 * tenant's first created_at, sets its durability pragmas, accepts a file
 * URI, and reads every hot, claim, deadline, key and audit statement through
 * the index it was written for (also at scale), with a plan check that
 * catches a missing index; a transaction reads a queue's limits row once
 * and writes its counts once, at the commit; and a job's insert and update
 * build no ephemeral table for a partial index; a commit's WAL frames reach
 * the file with one write, visible to another connection at once, and a
 * failed one fails the commit. These tests use the backend's internals
 * (store/sqlite.h) and open the database file directly.
 *
 * Workload: small; the plan tests at scale insert a few thousand rows. Each
 * test gets a fresh store in a temporary directory (support/store_fx.c).
 * STORE_TEST_FILTER (a cmocka pattern such as "*plan*") runs a subset.
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
#include <unistd.h>

#include <sqlite3.h>

#include "common/buf.h"
#include "common/errors.h"
#include "common/assert.h"
#include "store/job.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "store/store_cols.h"
#include "support/store_fx.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

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
        assert_int_equal(fx_open(f), BATON_ESCHEMA);
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
        fx_reopen(f);
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
        fx_begin(f);
        for (int i = 0; i < 50; i++)
                fx_put(f, (struct spec){.state = i % 8, .run_at = T0 + i});
        fx_commit(f);
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
        fx_begin(f);
        for (int i = 0; i < 3000; i++) {
                int st = i % 50 == 0   ? JOB_QUEUED
                         : i % 50 == 1 ? JOB_SCHEDULED
                         : i % 50 == 2 ? JOB_RUNNING
                         : i % 50 == 3 ? JOB_RETRYING
                         : i % 50 == 4 ? JOB_DEAD
                                       : JOB_COMPLETED;
                fx_put(f, (struct spec){.state = st,
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
                fx_idem_put(f, i % 2 ? "t1" : "t2", key, i + 1, "h", T0 + i);
        }
        fx_commit(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        fx_reopen(f);

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
        /* Every GET /v1/jobs filter searches its own index, in both orders. */
        for (int i = 0; i < store_list_nsamples; i++) {
                char name[96];

                if (!store_list_samples[i].uses)
                        continue;
                snprintf(name, sizeof(name), "job_list:%s", store_list_samples[i].name);
                assert_plan_uses(f, name, sqlite_list_index(store_list_samples[i].uses));
        }
        assert_plan_uses(f, "job_find_active", "job_akey");
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

/* The rows of sqlite_group_claim_plans_at_scale: 100,000 ready jobs in
 * group "huge", 1,000 other groups and 2,000 jobs in no group, analyzed. */
static void fill_groups_at_scale(struct fixture *f)
{
        sqlite3 *db;

        /* The 100,000 jobs of "huge" in one statement (a copy of one stored
         * row), so the test stays quick under the sanitizers. */
        fx_begin(f);
        fx_put(f, (struct spec){.state = JOB_QUEUED, .group = "huge", .run_at = T0});
        fx_commit(f);
        db = sqlite_raw(f);
        assert_int_equal(
            sqlite3_exec(
                db,
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
                " on_parent_failure, flow_id, ref, grp, cron, timeout_ms, uniq FROM one, n",
                NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(db);
        fx_reopen(f);
        fx_begin(f);
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "huge", PRIO_NORMAL), 0);
        for (int i = 0; i < 1000; i++) {
                char g[16];
                snprintf(g, sizeof(g), "g%04d", i);
                fx_put(f, (struct spec){.state = JOB_QUEUED, .group = g, .run_at = T0 + i});
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
                fx_put(f, (struct spec){.state = i % 2 ? JOB_COMPLETED : JOB_QUEUED,
                                        .run_at = T0 + i});
        fx_commit(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        fx_reopen(f);
}

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

        fill_groups_at_scale(f);

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
        fx_begin(f);
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
        fx_commit(f);
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
        assert_int_equal(sqlite3_exec(db, FX_V7_ROWS, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        snprintf(f->uri, sizeof(f->uri), "%s", path);
        assert_int_equal(fx_open(f), 0);
        fx_migration_8_check(f, 41);
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
        assert_int_equal(fx_open(f), 0);
        fx_begin(f);
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
        fx_commit(f);
}

/* The opcodes named op in the program of sql on db. */
static int count_opcode(sqlite3 *db, const char *sql, const char *op)
{
        char explain[1024];
        sqlite3_stmt *s = NULL;
        int n = 0;

        snprintf(explain, sizeof(explain), "EXPLAIN %s", sql);
        assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &s, NULL), SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW)
                n += strcmp((const char *)sqlite3_column_text(s, 1), op) == 0;
        sqlite3_finalize(s);
        return n;
}

/* Migration 17: no partial index over jobs makes a write of a job row build
 * an ephemeral table (an IN list of more than two values in its WHERE did,
 * eight per write before), not an insert, a claim's or settle's update of
 * the state, nor a delete. */
static void sqlite_job_writes_build_no_ephemeral_table(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db = sqlite_raw(f);

        assert_int_equal(count_opcode(db,
                                      "INSERT INTO jobs (tenant, queue, type, payload, state,"
                                      " run_at, max_attempts, lease_ms, created_at)"
                                      " VALUES ('t', 'q', 'x', '{}', 2, 0, 1, 1, 0)",
                                      "OpenEphemeral"),
                         0);
        assert_int_equal(count_opcode(db, "UPDATE jobs SET state = 5, finished_at = 1 WHERE id = 1",
                                      "OpenEphemeral"),
                         0);
        assert_int_equal(count_opcode(db, "DELETE FROM jobs WHERE id = 1", "OpenEphemeral"), 0);
        sqlite3_close(db);
}

/* Issue 16: a settle's update (job_update_settle) does not name worker, so
 * SQLite leaves the job's job_tworker entry alone: one index entry fewer
 * deleted and inserted than a claim's update, which sets the new worker. */
static void sqlite_settle_update_leaves_job_tworker(void **state)
{
        struct fixture *f = *state;
        sqlite3 *db = sqlite_raw(f);
        struct buf run, settle;

        buf_init(&run, 4096);
        buf_init(&settle, 4096);
        assert_int_equal(store_build_job_update_run(&run, '?', true), 0);
        assert_int_equal(store_build_job_update_run(&settle, '?', false), 0);
        assert_non_null(strstr(run.ptr, "worker = "));
        assert_null(strstr(settle.ptr, "worker"));
        assert_int_equal(count_opcode(db, settle.ptr, "IdxDelete"),
                         count_opcode(db, run.ptr, "IdxDelete") - 1);
        assert_int_equal(count_opcode(db, settle.ptr, "IdxInsert"),
                         count_opcode(db, run.ptr, "IdxInsert") - 1);
        buf_free(&run);
        buf_free(&settle);
        sqlite3_close(db);
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
        fx_reopen(f);
        assert_int_equal(sqlite_check_plans(f->st, why, sizeof(why)), BATON_ESTORE);
        assert_non_null(strstr(why, "group_ready_ids"));
}

/* Each job_list filter reads INDEXED BY its index (store_job_list_index):
 * without it the list cannot even be prepared, and the check says which. */
static void sqlite_plan_check_catches_a_missing_list_index(void **state)
{
        struct fixture *f = *state;
        char why[512];
        sqlite3 *db;

        assert_plans_good(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db, "DROP INDEX job_tworker", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        fx_reopen(f);
        assert_int_equal(sqlite_check_plans(f->st, why, sizeof(why)), BATON_ESTORE);
        if (!strstr(why, "job_list:worker"))
                print_error("%s\n", why);
        assert_non_null(strstr(why, "job_list:worker"));
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

/* What a traced statement is, for the queue row test below. */
struct qlim_trace {
        int reads;
        int adds;
};

static int count_qlim(unsigned what, void *ctx, void *p, void *x)
{
        struct qlim_trace *t = ctx;
        const char *sql = x;

        (void)what;
        (void)p;
        if (strstr(sql, "COALESCE(MAX(concurrency)"))
                t->reads++;
        if (strstr(sql, "depth = depth + excluded.depth"))
                t->adds++;
        return 0;
}

/* A batch of enqueues on one queue reads its limits row once and writes its
 * counters once, at the commit; what it reads in between counts what it
 * added, a rolled back op's counts go with it, and a settings write keeps
 * the counts. Without the transaction's copy every qlim_get and qlim_add
 * is a statement of its own. */
static void sqlite_queue_row_read_and_counted_once_per_transaction(void **state)
{
        struct fixture *f = *state;
        struct qlim_trace t = {0};
        struct queue_limits q = {0};

        assert_int_equal(sqlite3_trace_v2(sqlite_db(f->st), SQLITE_TRACE_STMT, count_qlim, &t),
                         SQLITE_OK);
        assert_int_equal(f->ops->begin(f->st), 0);
        for (int i = 0; i < 10; i++) {
                assert_int_equal(f->ops->savepoint(f->st), 0);
                assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", i % 2 == 1, &q), 0);
                assert_int_equal(q.depth, i);
                queue_limits_free(&q);
                assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 1, 0), 0);
                assert_int_equal(f->ops->release(f->st), 0);
        }
        assert_int_equal(t.reads, 1);
        assert_int_equal(t.adds, 0);
        /* An op rolled back: its count goes, and so does the copy. */
        assert_int_equal(f->ops->savepoint(f->st), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 1, 1), 0);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 11);
        assert_int_equal(q.running, 1);
        queue_limits_free(&q);
        assert_int_equal(f->ops->rollback_to(f->st), 0);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", true, &q), 0);
        assert_int_equal(t.reads, 2);
        assert_int_equal(q.depth, 10);
        assert_int_equal(q.running, 0);
        /* New settings are read back with the counts. */
        q.max_depth = 12;
        assert_int_equal(f->ops->qlim_put(f->st, &q), 0);
        queue_limits_free(&q);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.max_depth, 12);
        assert_int_equal(q.depth, 10);
        assert_false(q.grouped);
        queue_limits_free(&q);
        /* A group row appears: grouped is read as the table says. */
        assert_int_equal(f->ops->group_note_ready(f->st, "t1", "q1", "g1", 0), 0);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_true(q.grouped);
        queue_limits_free(&q);
        assert_int_equal(f->ops->group_delete(f->st, "t1", "q1", "g1"), 0);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_false(q.grouped);
        queue_limits_free(&q);
        assert_int_equal(f->ops->commit(f->st), 0);
        assert_int_equal(t.adds, 1);
        /* Outside a transaction every call goes to the table. */
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 10);
        assert_int_equal(q.max_depth, 12);
        queue_limits_free(&q);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", -1, 0), 0);
        assert_int_equal(t.adds, 2);
        /* A rolled back transaction writes nothing. */
        assert_int_equal(f->ops->begin(f->st), 0);
        assert_int_equal(f->ops->qlim_add(f->st, "t1", "q1", 5, 0), 0);
        assert_int_equal(f->ops->rollback(f->st), 0);
        assert_int_equal(f->ops->qlim_get(f->st, "t1", "q1", false, &q), 0);
        assert_int_equal(q.depth, 9);
        queue_limits_free(&q);
        sqlite3_trace_v2(sqlite_db(f->st), 0, NULL, NULL);
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
        fx_key_plain(&k, "k0000000000000001", "default");
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

        fx_begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0 + 50), 0);
        fx_commit(f);
        fx_begin(f);
        assert_int_equal(f->ops->tenant_ensure(f->st, "default", T0 + 99), 0);
        assert_int_equal(f->ops->tenant_ensure(f->st, NULL, T0), BATON_EINVAL);
        fx_commit(f);
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
        fx_begin(f);
        for (int i = 0; i < 60; i++) {
                char id[32];

                snprintf(id, sizeof(id), "k%016x", i);
                fx_key_put(f, id, tenants[i % 3]);
        }
        for (int i = 0; i < 3000; i++) {
                char key[32];

                snprintf(key, sizeof(key), "k%016x", i % 60);
                fx_audit_put(f, tenants[i % 3], actions[i % 4], key, i);
        }
        fx_commit(f);
        db = sqlite_raw(f);
        assert_int_equal(sqlite3_exec(db, "ANALYZE", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        fx_reopen(f);

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

/* ---- the WAL shim (sqlite_vfs.c) ---- */

/* A VFS under the store's shim (store_opts.vfs) that counts the writes that
 * reach the WAL file and can fail the next one: the default VFS with its own
 * name, file size and xOpen, as in support/store_fault.c. The counters
 * follow the VFS, found from it by its position. count_vfs_register's
 * allocation is freed by count_vfs_unregister; a failing test leaks it, so
 * the store its teardown closes still has its VFS. */
struct count_vfs {
        sqlite3_vfs vfs;
        sqlite3_vfs *root;
        sqlite3_io_methods io;
        const sqlite3_io_methods *root_io;
        int wal_writes;
        bool fail_next;
};

struct count_file {
        sqlite3_file base;
        struct count_vfs *cv;
        bool wal;
        sqlite3_file *real;
};

static int cf_close(sqlite3_file *p)
{
        sqlite3_file *r = ((struct count_file *)p)->real;

        return r->pMethods->xClose(r);
}

/* The other methods of the wrapped file, but xWrite and xClose. */
#define CF_FWD(name, method, params, args)                                                         \
        static int name(sqlite3_file *p, SQLITE_TEST_UNPAREN params)                               \
        {                                                                                          \
                sqlite3_file *r = ((struct count_file *)p)->real;                                  \
                                                                                                   \
                return r->pMethods->method(r, SQLITE_TEST_UNPAREN args);                           \
        }
#define SQLITE_TEST_UNPAREN(...) __VA_ARGS__
CF_FWD(cf_read, xRead, (void *buf, int n, sqlite3_int64 off), (buf, n, off))
CF_FWD(cf_truncate, xTruncate, (sqlite3_int64 size), (size))
CF_FWD(cf_sync, xSync, (int flags), (flags))
CF_FWD(cf_file_size, xFileSize, (sqlite3_int64 * size), (size))
CF_FWD(cf_lock, xLock, (int level), (level))
CF_FWD(cf_unlock, xUnlock, (int level), (level))
CF_FWD(cf_check_reserved, xCheckReservedLock, (int *out), (out))
CF_FWD(cf_file_control, xFileControl, (int op, void *arg), (op, arg))
CF_FWD(cf_shm_map, xShmMap, (int region, int size, int extend, void volatile **out),
       (region, size, extend, out))
CF_FWD(cf_shm_lock, xShmLock, (int offset, int n, int flags), (offset, n, flags))
CF_FWD(cf_shm_unmap, xShmUnmap, (int del), (del))

static int cf_write(sqlite3_file *p, const void *buf, int n, sqlite3_int64 off)
{
        struct count_file *cf = (struct count_file *)p;

        if (cf->wal) {
                cf->cv->wal_writes++;
                if (cf->cv->fail_next) {
                        cf->cv->fail_next = false;
                        return SQLITE_IOERR_WRITE;
                }
        }
        return cf->real->pMethods->xWrite(cf->real, buf, n, off);
}

static int cf_sector_size(sqlite3_file *p)
{
        sqlite3_file *r = ((struct count_file *)p)->real;

        return r->pMethods->xSectorSize(r);
}

static int cf_device(sqlite3_file *p)
{
        sqlite3_file *r = ((struct count_file *)p)->real;

        return r->pMethods->xDeviceCharacteristics(r);
}

static void cf_shm_barrier(sqlite3_file *p)
{
        sqlite3_file *r = ((struct count_file *)p)->real;

        r->pMethods->xShmBarrier(r);
}

static int cf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                   int *out_flags)
{
        struct count_vfs *cv = (struct count_vfs *)vfs;
        struct count_file *cf = (struct count_file *)file;
        int rc;

        cf->cv = cv;
        cf->wal = (flags & SQLITE_OPEN_WAL) != 0;
        cf->real = (sqlite3_file *)(cf + 1);
        rc = cv->root->xOpen(cv->root, name, cf->real, flags, out_flags);
        cf->base.pMethods = cf->real->pMethods ? &cv->io : NULL;
        return rc;
}

static struct count_vfs *count_vfs_register(void)
{
        struct count_vfs *cv = calloc(1, sizeof(*cv));

        assert_non_null(cv);
        cv->root = sqlite3_vfs_find(NULL);
        assert_non_null(cv->root);
        cv->vfs = *cv->root;
        cv->vfs.pNext = NULL;
        cv->vfs.zName = "test_count";
        cv->vfs.szOsFile = (int)sizeof(struct count_file) + cv->root->szOsFile;
        cv->vfs.xOpen = cf_open;
        cv->io = (sqlite3_io_methods){
            .iVersion = 2,
            .xClose = cf_close,
            .xRead = cf_read,
            .xWrite = cf_write,
            .xTruncate = cf_truncate,
            .xSync = cf_sync,
            .xFileSize = cf_file_size,
            .xLock = cf_lock,
            .xUnlock = cf_unlock,
            .xCheckReservedLock = cf_check_reserved,
            .xFileControl = cf_file_control,
            .xSectorSize = cf_sector_size,
            .xDeviceCharacteristics = cf_device,
            .xShmMap = cf_shm_map,
            .xShmLock = cf_shm_lock,
            .xShmBarrier = cf_shm_barrier,
            .xShmUnmap = cf_shm_unmap,
        };
        assert_int_equal(sqlite3_vfs_register(&cv->vfs, 0), SQLITE_OK);
        return cv;
}

/* Closes the store opened through cv, then unregisters and frees cv. */
static void count_vfs_unregister(struct fixture *f, struct count_vfs *cv)
{
        f->ops->close(f->st);
        f->st = NULL;
        assert_int_equal(sqlite3_vfs_unregister(&cv->vfs), SQLITE_OK);
        free(cv);
}

/* Commits n jobs in one transaction; returns the WAL writes it took. */
static int commit_jobs(struct fixture *f, struct count_vfs *cv, int n)
{
        int before;

        fx_begin(f);
        for (int i = 0; i < n; i++)
                fx_put(f, (struct spec){0});
        before = cv->wal_writes;
        fx_commit(f);
        return cv->wal_writes - before;
}

static int64_t jobs_seen_by_another_connection(struct fixture *f)
{
        sqlite3 *db = sqlite_raw(f);
        sqlite3_stmt *s = NULL;
        int64_t n = -1;

        assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM jobs", -1, &s, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        n = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(db);
        return n;
}

/* SQLite writes a WAL frame as two writes (header, page); through the shim a
 * commit's frames reach the file with one write, which is in the file when
 * the commit returns even under synchronous=NORMAL (no fsync): another
 * connection, trusting the wal-index, reads the new rows. A commit bigger
 * than one write of the unix VFS (31 frames) takes a few. */
static void sqlite_wal_frames_written_once_per_commit(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = false, .vfs = "test_count"};
        struct count_vfs *cv;
        int n;

        f->ops->close(f->st);
        f->st = NULL;
        cv = count_vfs_register();
        assert_int_equal(f->ops->open(&o, &f->st), 0);
        /* The first commit may restart the log: its header is synced alone. */
        commit_jobs(f, cv, 1);
        assert_int_equal(commit_jobs(f, cv, 1), 1);
        assert_int_equal(jobs_seen_by_another_connection(f), 2);
        assert_int_equal(commit_jobs(f, cv, 20), 1);
        assert_int_equal(jobs_seen_by_another_connection(f), 22);
        n = commit_jobs(f, cv, 3000);
        assert_in_range(n, 2, 1000);
        assert_int_equal(jobs_seen_by_another_connection(f), 3022);
        count_vfs_unregister(f, cv);
}

/* A failed write of the gathered frames fails the commit, which rolls back;
 * the store goes on, and no reader sees the lost transaction. */
static void sqlite_wal_write_failure_fails_the_commit(void **state)
{
        struct fixture *f = *state;
        struct store_opts o = {.uri = f->uri, .sync_full = true, .vfs = "test_count"};
        struct count_vfs *cv;
        int64_t lost, kept;

        f->ops->close(f->st);
        f->st = NULL;
        cv = count_vfs_register();
        assert_int_equal(f->ops->open(&o, &f->st), 0);
        commit_jobs(f, cv, 1);
        fx_begin(f);
        lost = fx_put(f, (struct spec){0});
        cv->fail_next = true;
        assert_int_equal(f->ops->commit(f->st), BATON_ESTORE);
        assert_false(cv->fail_next);
        f->ops->rollback(f->st);
        assert_int_equal(jobs_seen_by_another_connection(f), 1);
        fx_begin(f);
        kept = fx_put(f, (struct spec){0});
        fx_commit(f);
        assert_int_equal(jobs_seen_by_another_connection(f), 2);
        assert_true(fx_exists(f, kept));
        if (kept != lost)
                assert_false(fx_exists(f, lost));
        fx_reopen(f);
        assert_true(fx_exists(f, kept));
        count_vfs_unregister(f, cv);
}

static const struct CMUnitTest sqlite_tests[] = {
    T(sqlite_refuses_newer_schema),
    T(sqlite_migrations_recorded_once),
    T(sqlite_hot_queries_use_indexes),
    T(sqlite_claim_and_deadline_plans),
    T(sqlite_job_writes_build_no_ephemeral_table),
    T(sqlite_settle_update_leaves_job_tworker),
    T(sqlite_plan_check_catches_a_missing_index),
    T(sqlite_plan_check_catches_a_missing_list_index),
    T(sqlite_durability_settings),
    T(sqlite_file_uri_and_txn_guard),
    T(sqlite_migrates_a_version_1_store),
    T(sqlite_tenant_keeps_first_created_at),
    T(sqlite_key_and_audit_plans),
    T(sqlite_group_claim_plans_at_scale),
    T(sqlite_migration_7_counts_existing_jobs),
    T(sqlite_migration_8_adds_the_cron_marker),
    T(sqlite_migration_9_keeps_timers_due),
    T(sqlite_queue_row_read_and_counted_once_per_transaction),
    T(sqlite_wal_frames_written_once_per_commit),
    T(sqlite_wal_write_failure_fails_the_commit),
};

int main(void)
{
        const char *filter = getenv("STORE_TEST_FILTER");

        if (filter && *filter)
                cmocka_set_test_filter(filter);
        return fx_run_group(&fx_sqlite, "sqlite-specific", sqlite_tests,
                            BATON_ARRAY_LEN(sqlite_tests))
                   ? 1
                   : 0;
}
