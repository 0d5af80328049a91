/*
 * test_cascade.c: end-to-end test of a large dependency cascade (docs/api.md,
 * "Dependencies and flows"; core/deps.h) against a real batond. The probe of
 * issue 13 built a chain of 10,000 jobs with ten POST /v1/flows of 1,000 (each
 * flow's first job depending on the previous flow's last) and killed the
 * server with a DELETE of its root: the cascade recursed once per link and
 * overflowed the stack. Here the same DELETE answers 200, /healthz keeps
 * answering quickly while the cascade goes on in bounded steps, and every
 * descendant ends cancelled with parent_failed within a bounded time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "support/harness.h"

#define FLOWS 10
#define PER_FLOW 1000
/* Bounds of the waits: the cascade takes about a second on SQLite and a
 * few on PostgreSQL here; a loaded CI machine gets ample room. */
#define CASCADE_WAIT_MS 120000
#define HEALTHZ_MAX_MS 1000

static struct harness srv;

static void delete_root_of_10000_chain(void **state)
{
        char q[64], root[32], last[32], flows[FLOWS][32], st[32], path[96];
        int64_t t0, slowest_ms = 0, done_ms = -1;
        struct http_res r;
        int polls = 0;

        (void)state;
        harness_unique("chain", q, sizeof(q));
        t0 = harness_now_ms();
        harness_flow_chain(&srv, q, FLOWS, PER_FLOW, NULL, root, last, flows);
        fprintf(stderr, "built %d jobs in %lld ms\n", FLOWS * PER_FLOW,
                (long long)(harness_now_ms() - t0));

        snprintf(path, sizeof(path), "/v1/jobs/%s", root);
        t0 = harness_now_ms();
        assert_int_equal(http_json(srv.url, "DELETE", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "job.state"), "cancelled");
        http_res_free(&r);

        /* The server answers all along, and /healthz quickly. */
        while (harness_now_ms() - t0 < CASCADE_WAIT_MS) {
                assert_int_equal(http_json(srv.url, "GET", "/healthz", NULL, &r), 0);
                assert_int_equal(r.status, 200);
                if (r.elapsed_ms > slowest_ms)
                        slowest_ms = r.elapsed_ms;
                http_res_free(&r);
                assert_int_equal(harness_flow_state(&srv, flows[FLOWS - 1], st, NULL, NULL), 200);
                polls++;
                if (strcmp(st, "failed") == 0) {
                        done_ms = harness_now_ms() - t0;
                        break;
                }
                harness_sleep_ms(20);
        }
        fprintf(stderr,
                "cascade over %d jobs done in %lld ms (%d polls), slowest /healthz %lld ms\n",
                FLOWS * PER_FLOW - 1, (long long)done_ms, polls, (long long)slowest_ms);
        assert_true(done_ms >= 0);
        assert_true(slowest_ms <= HEALTHZ_MAX_MS);
        assert_int_equal(kill(srv.pid, 0), 0);
        /* Every descendant is cancelled with parent_failed; the root was
         * cancelled by the DELETE. */
        for (int k = 0; k < FLOWS; k++) {
                assert_int_equal(harness_flow_state(&srv, flows[k], st, "parent_failed", root),
                                 200);
                assert_string_equal(st, "failed");
        }
        snprintf(path, sizeof(path), "/v1/jobs/%s", last);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_string_equal(jpath_str(r.json, "job.cancel_reason"), "parent_failed");
        http_res_free(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(delete_root_of_10000_chain),
        };
        harness_group(&srv, NULL, NULL);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
