/*
 * test_pg_cluster_holes.c: three batond nodes on one PostgreSQL schema, for
 * the holes of issue 13 whose fix must hold across nodes:
 *  - refusals of one key sent to all three nodes at once in one minute are
 *    one audit row whose count is their total (the row's identity is unique
 *    in the store, so concurrent upserts add to it);
 *  - timers set on a follower into a queue with max_depth 5 never push it
 *    past 5 (the leader defers the rest), and each fires exactly once as room
 *    comes;
 *  - a claim parked on node 3 whose key is revoked on node 1 gets 401 when
 *    a job arrives, and the job stays queued.
 *
 * Runs only on PostgreSQL (test_pg_*: ctest runs it once, with
 * BATON_TEST_STORE=postgres; exit 77, skipped, without BATON_TEST_PG_URI).
 * Every node is a real batond started by the harness (127.0.0.1, free port,
 * stopped by pid). Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/harness.h"
#include "support/pgtest.h"

#define NODES 3

static int setup(void **state)
{
        static const char *const args[] = {"--leader-ttl-ms", "2000", NULL};

        return harness_cluster_up(state, NODES, "h", args);
}

/* A key made through node 0; token and id copied out. Waits until every node
 * accepts it (their keyrings reload it on the notification). */
static void make_key(struct harness_cluster *fx, const char *scopes, char *tok, char *id)
{
        char body[160];
        struct http_res r;

        snprintf(body, sizeof(body), "{\"name\": \"h\", \"scopes\": %s}", scopes);
        assert_int_equal(http_json_as(fx->n[0].url, fx->admin, "POST", "/v1/keys", body, &r), 0);
        assert_int_equal(r.status, 201);
        snprintf(tok, 128, "%s", jpath_str(r.json, "secret"));
        snprintf(id, 32, "%s", jpath_str(r.json, "key.id"));
        http_res_free(&r);
        for (int i = 1; i < NODES; i++) {
                int64_t give_up = harness_now_ms() + 3000;
                int status = 0;
                while (status != 200 && harness_now_ms() < give_up) {
                        assert_int_equal(
                            http_json_as(fx->n[i].url, tok, "GET", "/v1/queues", NULL, &r), 0);
                        status = r.status;
                        http_res_free(&r);
                        if (status != 200)
                                harness_sleep_ms(10);
                }
                assert_int_equal(status, 200);
        }
}

struct refuser {
        const char *url;
        const char *key;
        const char *path;
        int n;
        int wrong; /* answers other than 403 */
};

static void *refuse_thread(void *arg)
{
        struct refuser *p = arg;

        for (int i = 0; i < p->n; i++) {
                struct http_res r;
                if (http_json_as(p->url, p->key, "PATCH", p->path, "{\"paused\": true}", &r) != 0 ||
                    r.status != 403)
                        p->wrong++;
                http_res_free(&r);
        }
        return NULL;
}

static void refusals_on_three_nodes_share_one_row(void **state)
{
        struct harness_cluster *fx = *state;
        struct refuser p[NODES];
        pthread_t t[NODES];
        char tok[128], id[32], path[160];
        int64_t sec = (harness_wall_ms() / 1000) % 60, give_up, sum = 0;
        size_t rows = 0;

        assert_non_null(fx);
        make_key(fx, "[\"jobs:read\"]", tok, id);
        /* 120 calls take a few seconds at most: start early in a minute. */
        if (sec >= 40)
                harness_sleep_ms((60 - sec) * 1000 + 200);
        for (int i = 0; i < NODES; i++) {
                p[i] = (struct refuser){fx->n[i].url, tok, "/v1/queues/held", 40, 0};
                harness_thread(&t[i], refuse_thread, &p[i]);
        }
        for (int i = 0; i < NODES; i++) {
                harness_join(t[i]);
                assert_int_equal(p[i].wrong, 0);
        }
        snprintf(path, sizeof(path), "/v1/audit?key_id=%s&limit=1000", id);
        give_up = harness_now_ms() + 5000;
        do {
                struct http_res r;
                size_t i;
                json_t *v;
                assert_int_equal(http_json_as(fx->n[1].url, fx->admin, "GET", path, NULL, &r), 0);
                rows = json_array_size(jpath(r.json, "entries"));
                sum = 0;
                json_array_foreach(jpath(r.json, "entries"), i, v) sum += jpath_int(v, "count");
                http_res_free(&r);
                if (sum < 3 * 40)
                        harness_sleep_ms(50);
        } while (sum < 3 * 40 && harness_now_ms() < give_up);
        print_message("120 refusals on three nodes: %zu row(s), count %lld\n", rows,
                      (long long)sum);
        assert_int_equal(sum, 3 * 40);
        assert_int_equal(rows, 1);
}

static int64_t queued_of(struct harness_cluster *fx, int node, const char *q)
{
        char path[128];
        struct http_res r;
        int64_t n;

        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        assert_int_equal(http_json_as(fx->n[node].url, fx->admin, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        n = jpath_int(r.json, "queue.counts.queued");
        http_res_free(&r);
        return n;
}

static void timers_into_full_queue_across_nodes(void **state)
{
        struct harness_cluster *fx = *state;
        struct baton_client *c;
        struct http_res r;
        char path[96];
        int done = 0;

        assert_non_null(fx);
        assert_int_equal(http_json_as(fx->n[0].url, fx->admin, "PATCH", "/v1/queues/tq",
                                      "{\"max_depth\": 5}", &r),
                         0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        for (int i = 0; i < 15; i++) {
                snprintf(path, sizeof(path), "/v1/timers/h%02d", i);
                assert_int_equal(
                    http_json_as(fx->n[i % NODES].url, fx->admin, "PUT", path,
                                 "{\"queue\": \"tq\", \"type\": \"t\", \"delay_ms\": 0}", &r),
                    0);
                assert_int_equal(r.status, 201);
                http_res_free(&r);
        }
        c = harness_client_key(&fx->n[2], fx->admin);
        /* Drain in rounds on node 3: never more than 5 queued, all 15 once. */
        for (int round = 0; round < 20 && done < 15; round++) {
                int64_t give_up = harness_now_ms() + 8000, q = 0;
                struct baton_jobs *l;
                while (harness_now_ms() < give_up) {
                        q = queued_of(fx, round % NODES, "tq");
                        assert_true(q <= 5);
                        if (q >= 5 || q >= 15 - done)
                                break;
                        harness_sleep_ms(50);
                }
                l = harness_claim(c, "tq", 100, 0, 0);
                assert_true(l->n <= 5);
                for (size_t i = 0; i < l->n; i++)
                        assert_ok(c, baton_complete(c, l->v[i].id, l->v[i].lease, NULL, NULL));
                done += (int)l->n;
                baton_jobs_free(l);
        }
        assert_int_equal(done, 15);
        harness_sleep_ms(500);
        assert_int_equal(harness_count_jobs(c, "tq", NULL), 15);
        baton_client_free(c);
}

struct parked {
        const char *url;
        const char *key;
        int status;
};

static void *park_thread(void *arg)
{
        struct parked *p = arg;
        struct http_res r;

        if (http_json_as(p->url, p->key, "POST", "/v1/queues/pq/claim",
                         "{\"worker\": \"w\", \"wait_ms\": 8000}", &r) == 0)
                p->status = r.status;
        http_res_free(&r);
        return NULL;
}

static void claim_parked_on_one_node_key_revoked_on_another(void **state)
{
        struct harness_cluster *fx = *state;
        char tok[128], id[32], path[96];
        struct parked p = {0};
        struct http_res r;
        pthread_t t;
        int64_t give_up;

        assert_non_null(fx);
        make_key(fx, "[\"work\", \"jobs:read\"]", tok, id);
        p = (struct parked){fx->n[2].url, tok, 0};
        harness_thread(&t, park_thread, &p);
        harness_sleep_ms(400);
        snprintf(path, sizeof(path), "/v1/keys/%s", id);
        assert_int_equal(http_json_as(fx->n[0].url, fx->admin, "DELETE", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        /* Node 3 refuses the key at once for new requests... */
        give_up = harness_now_ms() + 3000;
        do {
                assert_int_equal(http_json_as(fx->n[2].url, tok, "GET", "/v1/queues", NULL, &r), 0);
                if (r.status == 200)
                        harness_sleep_ms(5);
                http_res_free(&r);
        } while (r.status == 200 && harness_now_ms() < give_up);
        /* ...and a job arriving now must not go to the parked claim. */
        assert_int_equal(http_json_as(fx->n[1].url, fx->admin, "POST", "/v1/jobs",
                                      "{\"queue\": \"pq\", \"type\": \"t\"}", &r),
                         0);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        harness_join(t);
        assert_int_equal(p.status, 401);
        assert_int_equal(queued_of(fx, 0, "pq"), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(refusals_on_three_nodes_share_one_row, setup,
                                            harness_cluster_down),
            cmocka_unit_test_setup_teardown(timers_into_full_queue_across_nodes, setup,
                                            harness_cluster_down),
            cmocka_unit_test_setup_teardown(claim_parked_on_one_node_key_revoked_on_another, setup,
                                            harness_cluster_down),
        };

        if (!pgtest_available()) {
                printf("BATON_TEST_PG_URI is not set: skipped\n");
                return PGTEST_SKIP_CODE;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
