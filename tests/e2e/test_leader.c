/*
 * test_leader.c: end-to-end tests of leadership and the scheduler heartbeat
 * on one node (SQLite; the several-node tests on PostgreSQL are in
 * tests/fault/test_cluster.c). GET /v1/scheduler names this node (--node-id,
 * or the default made at the first start and kept in <data>/node-id) as the
 * leader, its heartbeat (the lease
 * renewal) advances every quarter of the lease (500 ms) with lag_ms reported, the epoch grows at
 * every restart (a new process takes the lease anew, so a duty of the old
 * one would be fenced), /readyz shows the role, delayed jobs and cron still
 * run on the leader, and invalid --node-id / --leader-ttl-ms values are
 * refused with exit 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/harness.h"

static json_t *scheduler(const struct harness *h, struct http_res *r)
{
        assert_int_equal(http_json(h->url, "GET", "/v1/scheduler", NULL, r), 0);
        assert_int_equal(r->status, 200);
        return r->json;
}

static void heartbeat_advances_every_second(void **state)
{
        static const char *const args[] = {"--node-id", "node-a.1", NULL};
        struct harness h = {0};
        struct http_res r, r2;
        int64_t hb1, hb2, deadline;
        json_t *j;

        (void)state;
        assert_int_equal(harness_start(&h, args), 0);
        /* The first beat takes the lease right after the start. */
        deadline = harness_now_ms() + 5000;
        for (;;) {
                j = scheduler(&h, &r);
                /* The leader's name can show a moment before the node's own
                 * role says so (seen under ASan): wait for both. */
                if ((jpath_str(j, "leader") && jpath_str(j, "role") &&
                     strcmp(jpath_str(j, "role"), "leader") == 0) ||
                    harness_now_ms() > deadline)
                        break;
                http_res_free(&r);
                harness_sleep_ms(20);
        }
        assert_string_equal(jpath_str(j, "node"), "node-a.1");
        assert_string_equal(jpath_str(j, "leader"), "node-a.1");
        assert_string_equal(jpath_str(j, "role"), "leader");
        assert_true(jpath_int(j, "epoch") >= 1);
        assert_true(jpath_int(j, "lag_ms") >= 0);
        assert_non_null(jpath(j, "skipped"));
        assert_true(jpath_int(j, "skipped.misfire") >= 0);
        hb1 = harness_parse_time(jpath_str(j, "heartbeat_at"));
        assert_true(hb1 > 0);
        /* The lease reaches past the heartbeat by the default TTL (2 s). */
        assert_int_equal(harness_parse_time(jpath_str(j, "lease_until")) - hb1, 2000);
        /* A second and a bit later the heartbeat has moved, by about a second
         * per beat (a loaded machine may delay a beat, never skip time). */
        harness_sleep_ms(1300);
        j = scheduler(&h, &r2);
        hb2 = harness_parse_time(jpath_str(j, "heartbeat_at"));
        assert_true(hb2 > hb1);
        assert_true(hb2 - hb1 >= 900);
        assert_int_equal(jpath_int(j, "epoch"), jpath_int(r.json, "epoch"));
        assert_true(jpath_int(j, "heartbeat_age_ms") >= 0);
        assert_true(jpath_int(j, "heartbeat_age_ms") < 5000);
        http_res_free(&r);
        http_res_free(&r2);
        /* /readyz shows the role and the node. */
        assert_int_equal(http_json(h.url, "GET", "/readyz", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "role"), "leader");
        assert_string_equal(jpath_str(r.json, "node"), "node-a.1");
        assert_string_equal(jpath_str(r.json, "leader"), "node-a.1");
        http_res_free(&r);
        assert_int_equal(harness_stop(&h), 0);
}

/* Each process takes the lease at a new epoch, even under the same node id,
 * so a duty transaction of an earlier process can never commit. */
static void epoch_grows_at_every_restart(void **state)
{
        static const char *const args[] = {"--node-id", "n1", NULL};
        struct harness h = {0};
        struct http_res r;
        int64_t e1, e2, e3, deadline;
        char *log;

        (void)state;
        assert_int_equal(harness_start(&h, args), 0);
        deadline = harness_now_ms() + 5000;
        do {
                harness_sleep_ms(20);
                scheduler(&h, &r);
                e1 = jpath_str(r.json, "leader") ? jpath_int(r.json, "epoch") : 0;
                http_res_free(&r);
        } while (!e1 && harness_now_ms() < deadline);
        assert_true(e1 >= 1);
        /* A clean stop releases the lease; a restart takes it at once. */
        assert_int_equal(harness_shutdown(&h), 0);
        assert_int_equal(harness_restart(&h), 0);
        deadline = harness_now_ms() + 5000;
        do {
                harness_sleep_ms(20);
                scheduler(&h, &r);
                e2 = jpath_str(r.json, "leader") ? jpath_int(r.json, "epoch") : 0;
                http_res_free(&r);
        } while (e2 <= e1 && harness_now_ms() < deadline);
        assert_int_equal(e2, e1 + 1);
        /* After kill -9 the lease is still recorded live for the old process;
         * the new one (same node id, new process) takes it without waiting. */
        assert_int_equal(harness_kill9(&h), 0);
        assert_int_equal(harness_restart(&h), 0);
        deadline = harness_now_ms() + 5000;
        do {
                harness_sleep_ms(20);
                scheduler(&h, &r);
                e3 = jpath_int(r.json, "epoch");
                http_res_free(&r);
        } while (e3 <= e2 && harness_now_ms() < deadline);
        assert_int_equal(e3, e2 + 1);
        log = harness_read_log(&h);
        assert_non_null(log);
        assert_non_null(strstr(log, "node n1 leads (epoch 1)"));
        assert_non_null(strstr(log, "node n1 stops leading (epoch 1): shutting down"));
        assert_non_null(strstr(log, "node n1 leads (epoch 3)"));
        free(log);
        assert_int_equal(harness_stop(&h), 0);
}

/* Without --node-id the node makes a name at its first start
 * ("<host name>-<8 hex>"), keeps it in <data>/node-id and uses it again after
 * a restart, so it takes its lease back at once. */
static void default_node_id_is_kept(void **state)
{
        struct harness h = {0};
        struct http_res r;
        char node[160], path[400], kept[160] = "";
        const char *dash;
        FILE *f;

        (void)state;
        assert_int_equal(harness_start(&h, NULL), 0);
        scheduler(&h, &r);
        assert_non_null(jpath_str(r.json, "node"));
        snprintf(node, sizeof(node), "%s", jpath_str(r.json, "node"));
        http_res_free(&r);
        dash = strrchr(node, '-');
        assert_non_null(dash);
        assert_int_equal(strlen(dash + 1), 8);
        assert_true(strspn(dash + 1, "0123456789abcdef") == 8);
        snprintf(path, sizeof(path), "%s/node-id", h.data_dir);
        f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(kept, sizeof(kept), f));
        fclose(f);
        kept[strcspn(kept, "\n")] = 0;
        assert_string_equal(kept, node);
        assert_int_equal(harness_kill9(&h), 0);
        assert_int_equal(harness_restart(&h), 0);
        scheduler(&h, &r);
        assert_string_equal(jpath_str(r.json, "node"), node);
        http_res_free(&r);
        /* A file that does not hold a valid id stops the start. */
        assert_int_equal(harness_shutdown(&h), 0);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("not a node id!\n", f);
        fclose(f);
        assert_int_not_equal(harness_restart(&h), 0);
        harness_stop(&h);
}

/* The leader's duties still run: a delayed job is promoted on time. */
static void leader_runs_duties(void **state)
{
        struct harness h = {0};
        struct http_res r;
        int64_t t0, deadline;
        char path[96];
        const char *st = NULL;

        (void)state;
        assert_int_equal(harness_start(&h, NULL), 0);
        assert_int_equal(http_json(h.url, "POST", "/v1/jobs",
                                   "{\"queue\":\"lq\",\"type\":\"t\",\"payload\":{},"
                                   "\"delay_ms\":300}",
                                   &r),
                         0);
        assert_int_equal(r.status, 201);
        snprintf(path, sizeof(path), "/v1/jobs/%s", jpath_str(r.json, "job.id"));
        http_res_free(&r);
        t0 = harness_now_ms();
        deadline = t0 + 5000;
        while (harness_now_ms() < deadline) {
                http_json(h.url, "GET", path, NULL, &r);
                st = jpath_str(r.json, "job.state");
                if (st && strcmp(st, "queued") == 0) {
                        http_res_free(&r);
                        break;
                }
                http_res_free(&r);
                st = NULL;
                harness_sleep_ms(10);
        }
        assert_non_null(st);
        assert_true(harness_now_ms() - t0 >= 250);
        assert_int_equal(harness_stop(&h), 0);
}

static void bad_cluster_flags_refused(void **state)
{
        static const char *const bad[][6] = {
            {"--node-id", "has space", "--data", "/nonexistent/never", NULL},
            {"--node-id", "", "--data", "/nonexistent/never", NULL},
            {"--node-id",
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
             "--data", "/nonexistent/never", NULL},
            {"--leader-ttl-ms", "1999", "--data", "/nonexistent/never", NULL},
            {"--leader-ttl-ms", "600001", "--data", "/nonexistent/never", NULL},
            {"--leader-ttl-ms", "5s", "--data", "/nonexistent/never", NULL},
        };

        struct harness_run run = {.timeout_ms = 5000};

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                run.args = bad[i];
                assert_int_equal(harness_run(&run), 2);
        }
        harness_run_free(&run);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(heartbeat_advances_every_second),
            cmocka_unit_test(epoch_grows_at_every_restart),
            cmocka_unit_test(default_node_id_is_kept),
            cmocka_unit_test(leader_runs_duties),
            cmocka_unit_test(bad_cluster_flags_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
