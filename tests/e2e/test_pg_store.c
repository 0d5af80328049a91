/*
 * test_pg_store.c: batond on PostgreSQL when the database goes away. The
 * server runs on a fresh schema owned by a login role of its own (pgtest.h),
 * so the test can take the database away from this server alone, without
 * touching other tests sharing the PostgreSQL server: it forbids the role to
 * log in and terminates the server's connection. While the database is away
 * every request that needs the store gets 503 store_unavailable with
 * Retry-After (and /readyz says so), the server does not spin, and nothing
 * answered 503 is stored; once the role may log in again the store reconnects
 * (backoff at most 5 s) and every job acknowledged before is still there.
 *
 * With --pg-statement-timeout-ms, a statement stuck behind a row lock that
 * another client holds fails its request with 503 store_unavailable once the
 * timeout passes, changes nothing, and other requests go on meanwhile.
 *
 * PostgreSQL only: without BATON_TEST_PG_URI the program exits 77 (skipped).
 * ctest does not register a second _pg copy of it (it always runs on PG).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "support/harness.h"
#include "support/pgtest.h"

static struct harness srv;
static struct pgtest pg;
static char role[64];

__attribute__((format(printf, 1, 2))) static int role_exec(const char *fmt, ...)
{
        char sql[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(sql, sizeof(sql), fmt, ap);
        va_end(ap);
        return pgtest_exec(sql);
}

static int setup(void **state)
{
        char uri[sizeof(pg.uri) + 256];
        const char *args[] = {"--store", uri, NULL};

        (void)state;
        if (pgtest_create(&pg) != 0)
                return -1;
        snprintf(role, sizeof(role), "%s", pg.scope);
        if (role_exec("CREATE ROLE %s LOGIN", role) != 0 ||
            role_exec("ALTER SCHEMA %s OWNER TO %s", role, role) != 0)
                return -1;
        snprintf(uri, sizeof(uri), "%s&user=%s&application_name=%s", pg.uri, role, role);
        return harness_start(&srv, args);
}

/* batond on a fresh schema with a short statement timeout. */
static int setup_timeout(void **state)
{
        const char *args[] = {"--store", pg.uri, "--pg-statement-timeout-ms", "300", NULL};

        (void)state;
        role[0] = 0;
        if (pgtest_create(&pg) != 0)
                return -1;
        return harness_start(&srv, args);
}

static int teardown(void **state)
{
        int rc;

        (void)state;
        rc = harness_stop(&srv);
        pgtest_drop(&pg);
        if (role[0])
                role_exec("DROP ROLE IF EXISTS %s", role);
        return rc;
}

/* Cuts the server off: no new logins for its role, its sessions ended. Waits
 * (bounded) until the server's backend is gone. */
static void cut_off(void)
{
        char sql[512];

        assert_int_equal(role_exec("ALTER ROLE %s NOLOGIN", role), 0);
        assert_int_equal(
            role_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '%s'",
                      role),
            0);
        snprintf(sql, sizeof(sql),
                 "DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = '%s')"
                 " THEN RAISE 'alive'; END IF; END$$",
                 role);
        for (int i = 0; i < 200 && pgtest_exec(sql) != 0; i++)
                harness_sleep_ms(10);
}

/* user + system CPU time of pid in ms, from /proc/pid/stat. */
static int64_t cpu_ms(pid_t pid)
{
        char path[64], buf[1024], *p;
        unsigned long ut = 0, stime = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(buf, sizeof(buf), f));
        fclose(f);
        p = strrchr(buf, ')');
        assert_non_null(p);
        /* Fields after the command: state is 3rd, utime 14th, stime 15th. */
        assert_int_equal(
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stime), 2);
        return (int64_t)(ut + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

static void enqueue(const char *type, struct http_res *r)
{
        http_jsonf(srv.url, "POST", "/v1/jobs", r, "{\"queue\":\"pgq\",\"type\":\"%s\"}", type);
}

static void assert_store_unavailable(struct http_res *r)
{
        char ra[32];

        assert_int_equal(r->status, 503);
        assert_string_equal(http_error_member(r, "code"), "store_unavailable");
        assert_non_null(http_header(r, "Retry-After", ra, sizeof(ra)));
        assert_true(atoi(ra) >= 1);
}

static void connection_loss_then_recovery(void **state)
{
        struct http_res r;
        char id_a[32], path[64];
        int64_t cpu0, t0;
        int ok = 0;

        (void)state;
        enqueue("before", &r);
        assert_int_equal(r.status, 201);
        snprintf(id_a, sizeof(id_a), "%s", jpath_str(r.json, "job.id"));
        http_res_free(&r);

        cut_off();
        enqueue("during", &r);
        assert_store_unavailable(&r);
        http_res_free(&r);
        http_json(srv.url, "GET", "/readyz", NULL, &r);
        assert_store_unavailable(&r);
        http_res_free(&r);

        /* While it is away: every answer a 503, and the server idles between
         * requests (reconnects are spaced by the backoff, nothing spins). */
        cpu0 = cpu_ms(srv.pid);
        for (int i = 0; i < 10; i++) {
                enqueue("during", &r);
                assert_store_unavailable(&r);
                http_res_free(&r);
                harness_sleep_ms(100);
        }
        assert_true(cpu_ms(srv.pid) - cpu0 < 500);

        assert_int_equal(role_exec("ALTER ROLE %s LOGIN", role), 0);
        t0 = harness_now_ms();
        while (!ok && harness_now_ms() - t0 < 15000) {
                enqueue("after", &r);
                ok = r.status == 201;
                if (!ok)
                        assert_store_unavailable(&r);
                http_res_free(&r);
                if (!ok)
                        harness_sleep_ms(100);
        }
        assert_true(ok);
        print_message("reconnected %lld ms after the role could log in again\n",
                      (long long)(harness_now_ms() - t0));

        /* Acknowledged before the loss: still there. Answered 503: absent. */
        snprintf(path, sizeof(path), "/v1/jobs/%s", id_a);
        http_json(srv.url, "GET", path, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "job.type"), "before");
        http_res_free(&r);
        http_json(srv.url, "GET", "/v1/jobs?queue=pgq&limit=100", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(jpath(r.json, "jobs")), 2);
        assert_string_equal(jpath_str(r.json, "jobs[0].type"), "before");
        assert_string_equal(jpath_str(r.json, "jobs[1].type"), "after");
        http_res_free(&r);
        http_json(srv.url, "GET", "/readyz", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "store"), "postgres");
        http_res_free(&r);
}

static void pg_must(PGconn *c, const char *sql)
{
        PGresult *r = PQexec(c, sql);

        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
                fail_msg("%s: %s", sql, PQerrorMessage(c));
        PQclear(r);
}

/* A job row held by another client (an operator's psql session, say) past
 * the timeout: the cancel that waits for it fails with 503 and changes
 * nothing, an enqueue meanwhile succeeds, and once the row is free the same
 * cancel goes through. */
static void statement_timeout_fails_the_batch(void **state)
{
        struct http_res r;
        char id[32], path[64], sql[128];
        PGconn *c;
        int64_t t0, took;

        (void)state;
        enqueue("held", &r);
        assert_int_equal(r.status, 201);
        snprintf(id, sizeof(id), "%s", jpath_str(r.json, "job.id"));
        http_res_free(&r);
        c = PQconnectdb(pg.uri);
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        pg_must(c, "BEGIN");
        snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE id = %s FOR UPDATE", id);
        pg_must(c, sql);

        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        t0 = harness_now_ms();
        http_json(srv.url, "DELETE", path, NULL, &r);
        took = harness_now_ms() - t0;
        assert_store_unavailable(&r);
        http_res_free(&r);
        print_message("cancel of a held job answered 503 after %lld ms\n", (long long)took);
        assert_true(took >= 250);
        enqueue("meanwhile", &r);
        assert_int_equal(r.status, 201);
        http_res_free(&r);

        pg_must(c, "ROLLBACK");
        PQfinish(c);
        http_json(srv.url, "GET", path, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "job.state"), "queued");
        http_res_free(&r);
        http_json(srv.url, "DELETE", path, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "job.state"), "cancelled");
        http_res_free(&r);
}

/* What an operator gets wrong: a store that is neither sqlite nor a
 * PostgreSQL URI (exit 2 before anything starts), a database nobody listens
 * on, and a database whose schema is newer than the binary (exit 1, with a
 * message, nothing served). */
static void startup_errors(void **state)
{
        const char *const mysql[] = {"--listen", "127.0.0.1:0",         "--data", srv.data_dir,
                                     "--store",  "mysql://localhost/x", NULL};
        const char *const nobody[] = {"--listen", "127.0.0.1:0",
                                      "--data",   srv.data_dir,
                                      "--store",  "postgresql://baton@127.0.0.1:1/nothing",
                                      NULL};
        const char *newer_args[] = {"--listen", "127.0.0.1:0", "--data", srv.data_dir,
                                    "--store",  NULL,          NULL};
        struct harness_run run = {.timeout_ms = 30000, .merge_stderr = true};
        char sql[256];
        struct pgtest newer;

        (void)state;
        run.args = mysql;
        assert_int_equal(harness_run(&run), 2);
        assert_non_null(strstr(run.out, "--store"));
        run.args = nobody;
        assert_int_equal(harness_run(&run), 1);
        assert_non_null(strstr(run.out, "connecting to PostgreSQL"));
        assert_null(strstr(run.out, "listening on"));

        assert_int_equal(pgtest_create(&newer), 0);
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE %s.schema_migrations (version integer PRIMARY KEY,"
                 " applied_at bigint); INSERT INTO %s.schema_migrations VALUES (999, 0)",
                 newer.scope, newer.scope);
        assert_int_equal(pgtest_exec(sql), 0);
        newer_args[5] = newer.uri;
        run.args = newer_args;
        assert_int_equal(harness_run(&run), 1);
        assert_non_null(strstr(run.out, "schema version 999"));
        assert_null(strstr(run.out, "listening on"));
        harness_run_free(&run);
        pgtest_drop(&newer);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(connection_loss_then_recovery, setup, teardown),
            cmocka_unit_test_setup_teardown(startup_errors, setup, teardown),
            cmocka_unit_test_setup_teardown(statement_timeout_fails_the_batch, setup_timeout,
                                            teardown),
        };

        if (!pgtest_available()) {
                fprintf(stderr, "BATON_TEST_PG_URI is not set: skipping (PostgreSQL only)\n");
                return PGTEST_SKIP_CODE;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
