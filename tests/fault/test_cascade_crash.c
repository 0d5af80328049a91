/*
 * test_cascade_crash.c: a large dependency cascade across crashes (core/deps.h;
 * issue 13's crash loop). Each test builds a chain of 10,000 jobs with ten
 * POST /v1/flows of 1,000.
 *  - The crash-loop data set: the root (max_attempts 1) is claimed with a
 *    short lease, the server is killed (-9) and the lease runs out while it is
 *    down. At 85d7779 the first leader tick after every start expired the
 *    lease, recursed down the chain and crashed, so the data directory could
 *    not be served. Here the restart serves, the cascade completes (every
 *    descendant cancelled, parent_failed), and a second restart serves too.
 *  - kill -9 in the middle of a cascade: DELETE of the root, SIGKILL at once,
 *    restart on the same data directory: the rest of the cascade, kept in the
 *    store's work list, completes.
 * Every wait is bounded; the server is stopped by pid (harness).
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
#define CASCADE_WAIT_MS 120000
#define LEASE_MS 300

/* Waits until the chain's last flow is failed (every job terminal), checking
 * that the server keeps answering; then asserts every descendant cancelled
 * with parent_failed. Returns the time it took. */
static int64_t wait_cascade(struct harness *h, char (*flows)[32], const char *root)
{
        int64_t t0 = harness_now_ms(), done_ms = -1;
        char st[32];

        while (harness_now_ms() - t0 < CASCADE_WAIT_MS) {
                assert_int_equal(harness_flow_state(h, flows[FLOWS - 1], st, NULL, NULL), 200);
                if (strcmp(st, "failed") == 0) {
                        done_ms = harness_now_ms() - t0;
                        break;
                }
                harness_sleep_ms(20);
        }
        assert_true(done_ms >= 0);
        assert_int_equal(kill(h->pid, 0), 0);
        for (int k = 0; k < FLOWS; k++) {
                assert_int_equal(harness_flow_state(h, flows[k], st, "parent_failed", root), 200);
                assert_string_equal(st, "failed");
        }
        return done_ms;
}

static const char *job_state(struct harness *h, const char *id, char *buf)
{
        char path[96];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        assert_int_equal(http_json(h->url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        snprintf(buf, 32, "%s", jpath_str(r.json, "job.state"));
        http_res_free(&r);
        return buf;
}

static void lease_expiry_at_start_does_not_crash(void **state)
{
        const char *args[] = {"--lease-min-ms", "100", NULL};
        char q[64], root[32], last[32], flows[FLOWS][32], path[96], buf[32];
        struct harness h = {0};
        struct http_res r;
        int64_t ms;

        (void)state;
        assert_int_equal(harness_start(&h, args), 0);
        harness_unique("loop", q, sizeof(q));
        harness_flow_chain(&h, q, FLOWS, PER_FLOW, "\"max_attempts\":1", root, last, flows);
        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        assert_int_equal(http_jsonf(h.url, "POST", path, &r,
                                    "{\"worker\":\"w\",\"max\":1,\"lease_ms\":%d}", LEASE_MS),
                         0);
        assert_int_equal(r.status, 200);
        assert_string_equal(jpath_str(r.json, "jobs[0].id"), root);
        http_res_free(&r);
        /* The lease runs out while the server is down: the first tick of the
         * next start expires it and the root ends dead. */
        assert_int_equal(harness_kill9(&h), 0);
        harness_sleep_ms(2 * LEASE_MS);
        assert_int_equal(harness_restart(&h), 0);
        ms = wait_cascade(&h, flows, root);
        fprintf(stderr, "cascade after the restart done in %lld ms\n", (long long)ms);
        assert_string_equal(job_state(&h, root, buf), "dead");
        assert_int_equal(harness_shutdown(&h), 0);
        assert_int_equal(harness_restart(&h), 0);
        assert_int_equal(http_json(h.url, "GET", "/healthz", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        assert_string_equal(job_state(&h, last, buf), "cancelled");
        assert_int_equal(harness_stop(&h), 0);
}

static void kill9_mid_cascade_then_restart(void **state)
{
        char q[64], root[32], last[32], flows[FLOWS][32], path[96], buf[32];
        struct harness h = {0};
        struct http_res r;
        int64_t ms;

        (void)state;
        assert_int_equal(harness_start(&h, NULL), 0);
        harness_unique("kill", q, sizeof(q));
        harness_flow_chain(&h, q, FLOWS, PER_FLOW, NULL, root, last, flows);
        snprintf(path, sizeof(path), "/v1/jobs/%s", root);
        assert_int_equal(http_json(h.url, "DELETE", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        /* The DELETE commits the first bounded step; the rest is in the work
         * list when the server dies. */
        fprintf(stderr, "last job at the kill: %s\n", job_state(&h, last, buf));
        assert_int_equal(harness_kill9(&h), 0);
        assert_int_equal(harness_restart(&h), 0);
        ms = wait_cascade(&h, flows, root);
        fprintf(stderr, "cascade after the restart done in %lld ms\n", (long long)ms);
        assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(lease_expiry_at_start_does_not_crash),
            cmocka_unit_test(kill9_mid_cascade_then_restart),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
