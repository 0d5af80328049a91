/*
 * test_crash.c: kill -9 under load. Two enqueuer threads and three worker
 * threads drive a real batond (default durability: synchronous=full) for about
 * 3 s; the main thread kills the server with SIGKILL twice in the middle of it
 * and restarts it on the same data directory each time. The threads keep going
 * through the outage, retrying what had no answer:
 *  - an enqueue without an answer is sent again with the same idempotency_key
 *    (so it is acknowledged exactly once, as a new job or as a duplicate);
 *  - a complete without an answer is sent again with the same lease, and
 *    counts as acknowledged when it answers 200 (a "repeat" means the first
 *    one had been committed before the crash).
 * Then, with the server up, the test reads every job and checks that:
 *  - every acknowledged enqueue exists, and no idempotency key has two jobs;
 *  - every acknowledged completion is still completed, with its result;
 *  - no job was completed twice: at most one acknowledged completion per job
 *    across all leases, and at most one "completed" attempt in its history.
 * Everything is bounded: the load by a deadline, each retry loop by count and
 * time, the server by the harness (SIGKILL on exit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/harness.h"

#define ENQUEUERS 2
#define WORKERS 3
#define LOAD_MS 3000
#define LOAD_MAX_MS 20000
#define KILL_AT_MS 900
#define KILL_AGAIN_AT_MS 1900
#define RETRY_MAX 400 /* per call, 10 ms apart: longer than any restart */
#define QUEUE "crash"

static struct harness srv;

/* The server's URL changes if a restart had to take another port. */
static pthread_mutex_t url_mu = PTHREAD_MUTEX_INITIALIZER;
static char cur_url[64];
static atomic_int url_gen;
static atomic_bool stop;

/* What was acknowledged. */
struct ack {
        char *id;
        char *extra; /* idempotency key (enqueue) or lease (complete) */
};

struct ack_list {
        pthread_mutex_t mu;
        struct ack *v;
        size_t n, cap;
};

static struct ack_list enqueued = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct ack_list completed = {.mu = PTHREAD_MUTEX_INITIALIZER};
static atomic_long repeats_seen;
static atomic_long transport_errors;

static void ack_add(struct ack_list *l, const char *id, const char *extra)
{
        pthread_mutex_lock(&l->mu);
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 1024;
                struct ack *v = realloc(l->v, cap * sizeof(*v));

                if (!v)
                        abort();
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n].id = strdup(id);
        l->v[l->n].extra = strdup(extra);
        if (!l->v[l->n].id || !l->v[l->n].extra)
                abort();
        l->n++;
        pthread_mutex_unlock(&l->mu);
}

static void ack_free(struct ack_list *l)
{
        size_t i;

        for (i = 0; i < l->n; i++) {
                free(l->v[i].id);
                free(l->v[i].extra);
        }
        free(l->v);
        l->v = NULL;
        l->n = l->cap = 0;
}

/* A thread's client, remade when the server moved. */
struct conn {
        struct baton_client *c;
        int gen;
};

static struct baton_client *conn_get(struct conn *k)
{
        int gen = atomic_load(&url_gen);

        if (!k->c || k->gen != gen) {
                char url[64];

                pthread_mutex_lock(&url_mu);
                snprintf(url, sizeof(url), "%s", cur_url);
                pthread_mutex_unlock(&url_mu);
                baton_client_free(k->c);
                k->c = NULL;
                if (baton_client_new(url, harness_key_for(url), &k->c) != 0)
                        abort();
                baton_client_set_timeout_ms(k->c, 5000);
                baton_client_set_connect_timeout_ms(k->c, 500);
                k->gen = gen;
        }
        return k->c;
}

/* True for an error that means "no answer": try again. */
static bool no_answer(struct baton_client *c, int rc)
{
        const struct baton_error *e = baton_client_last_error(c);

        return rc == BATON_EHTTP || rc == BATON_EPROTO || (rc && e->http_status == 503);
}

static void *enqueuer(void *arg)
{
        int t = (int)(intptr_t)arg;
        struct conn k = {0};
        long seq;

        for (seq = 0; !atomic_load(&stop); seq++) {
                char key[64], payload[96];
                struct baton_enqueue_opts o = {0};
                struct baton_job *j = NULL;
                int rc = 0, tries;

                snprintf(key, sizeof(key), "e%d-%ld", t, seq);
                snprintf(payload, sizeof(payload), "{\"t\":%d,\"seq\":%ld}", t, seq);
                o.queue = QUEUE;
                o.type = "load";
                o.payload = payload;
                o.idempotency_key = key;
                o.lease_ms = 1000;
                o.max_attempts = 100;
                o.backoff = "{\"type\":\"immediate\"}";
                for (tries = 0; tries < RETRY_MAX; tries++) {
                        struct baton_client *c = conn_get(&k);

                        rc = baton_enqueue(c, &o, &j);
                        if (!no_answer(c, rc))
                                break;
                        atomic_fetch_add(&transport_errors, 1);
                        harness_sleep_ms(10);
                }
                if (rc == 0) {
                        ack_add(&enqueued, j->id, key);
                        baton_job_free(j);
                } else if (tries < RETRY_MAX) {
                        fprintf(stderr, "enqueuer %d: %s refused: %d %s\n", t, key, rc,
                                baton_client_last_error(k.c)->message);
                }
        }
        baton_client_free(k.c);
        return NULL;
}

/* Completes one job, retrying the same call until it gets an answer. */
static void complete_one(struct conn *k, const char *id, const char *lease)
{
        char result[128];
        struct baton_job *j = NULL;
        int rc = 0, tries;

        snprintf(result, sizeof(result), "{\"by\":\"%s\"}", lease);
        for (tries = 0; tries < RETRY_MAX; tries++) {
                struct baton_client *c = conn_get(k);

                rc = baton_complete(c, id, lease, result, &j);
                if (!no_answer(c, rc))
                        break;
                atomic_fetch_add(&transport_errors, 1);
                harness_sleep_ms(10);
        }
        if (rc == 0) {
                if (j->repeat)
                        atomic_fetch_add(&repeats_seen, 1);
                ack_add(&completed, id, lease);
        }
        /* 409 lease_expired / lease_mismatch: the attempt was lost, which is fine:
         * the job is retried by someone else. */
        baton_job_free(j);
}

static void *worker(void *arg)
{
        int t = (int)(intptr_t)arg;
        struct conn k = {0};
        char name[32];
        int rounds;

        snprintf(name, sizeof(name), "worker-%d", t);
        for (rounds = 0; !atomic_load(&stop) && rounds < 1000000; rounds++) {
                struct baton_claim_opts o = {.worker = name, .max = 5, .wait_ms = 100};
                struct baton_jobs *l = NULL;
                struct baton_client *c = conn_get(&k);
                size_t i;
                int rc = baton_claim(c, QUEUE, &o, &l);

                if (rc) {
                        if (no_answer(c, rc))
                                atomic_fetch_add(&transport_errors, 1);
                        harness_sleep_ms(10);
                        continue;
                }
                for (i = 0; i < l->n; i++)
                        complete_one(&k, l->v[i].id, l->v[i].lease);
                baton_jobs_free(l);
        }
        baton_client_free(k.c);
        return NULL;
}

static void set_url(void)
{
        pthread_mutex_lock(&url_mu);
        snprintf(cur_url, sizeof(cur_url), "%s", srv.url);
        pthread_mutex_unlock(&url_mu);
        atomic_fetch_add(&url_gen, 1);
}

static int cmp_ack(const void *a, const void *b)
{
        const struct ack *x = a, *y = b;
        int c = strcmp(x->id, y->id);

        return c ? c : strcmp(x->extra, y->extra);
}

/* Every job of the queue as parsed objects, indexed by id: a JSON object
 * id -> job (new reference). */
static json_t *read_all_jobs(struct baton_client *c)
{
        json_t *all = json_object();
        struct baton_list_opts o = {.queue = QUEUE, .limit = 1000};
        char *after = NULL;
        int pages;

        for (pages = 0; pages < 1000; pages++) {
                struct baton_jobs *l = NULL;
                size_t i;

                o.after = after;
                assert_ok(c, baton_job_list(c, &o, &l));
                for (i = 0; i < l->n; i++)
                        json_object_set_new(all, l->v[i].id, harness_job_obj(&l->v[i]));
                free(after);
                after = l->next ? strdup(l->next) : NULL;
                baton_jobs_free(l);
                if (!after)
                        return all;
        }
        fail_msg("more than 1000 pages of jobs");
        return NULL;
}

static size_t ack_count(struct ack_list *l)
{
        size_t n;

        pthread_mutex_lock(&l->mu);
        n = l->n;
        pthread_mutex_unlock(&l->mu);
        return n;
}

/* The load the checks after it need: more than 50 enqueues and 20
 * completions acknowledged. */
static bool load_enough(void)
{
        return ack_count(&enqueued) > 50 && ack_count(&completed) > 20;
}

static void kill9_under_load(void **state)
{
        pthread_t enq[ENQUEUERS], wrk[WORKERS];
        struct baton_client *c;
        int64_t t0, kills[2] = {KILL_AT_MS, KILL_AGAIN_AT_MS};
        json_t *all, *keys;
        size_t i;
        int k;

        (void)state;
        assert_int_equal(harness_start(&srv, NULL), 0);
        set_url();
        atomic_store(&stop, false);
        t0 = harness_now_ms();
        for (i = 0; i < ENQUEUERS; i++)
                harness_thread(&enq[i], enqueuer, (void *)(intptr_t)i);
        for (i = 0; i < WORKERS; i++)
                harness_thread(&wrk[i], worker, (void *)(intptr_t)i);
        for (k = 0; k < 2; k++) {
                int64_t wait = t0 + kills[k] - harness_now_ms();
                size_t before;

                if (wait > 0)
                        harness_sleep_ms(wait);
                pthread_mutex_lock(&enqueued.mu);
                before = enqueued.n;
                pthread_mutex_unlock(&enqueued.mu);
                harness_kill9(&srv);
                print_message("kill -9 #%d at %lld ms (%zu enqueues acknowledged so far)\n", k + 1,
                              (long long)(harness_now_ms() - t0), before);
                harness_sleep_ms(100);
                assert_int_equal(harness_restart(&srv), 0);
                set_url();
        }
        {
                int64_t wait = t0 + LOAD_MS - harness_now_ms();

                if (wait > 0)
                        harness_sleep_ms(wait);
        }
        /* On a loaded machine (ASan, parallel tests) the two restarts can eat
         * most of LOAD_MS: keep the load on until the counts checked below
         * are reached, bounded by LOAD_MAX_MS. */
        while (harness_now_ms() - t0 < LOAD_MAX_MS && !load_enough())
                harness_sleep_ms(50);
        atomic_store(&stop, true);
        for (i = 0; i < ENQUEUERS; i++)
                harness_join(enq[i]);
        for (i = 0; i < WORKERS; i++)
                harness_join(wrk[i]);
        print_message("%zu enqueues and %zu completions acknowledged, %ld repeats, %ld calls "
                      "without an answer\n",
                      enqueued.n, completed.n, (long)atomic_load(&repeats_seen),
                      (long)atomic_load(&transport_errors));
        assert_true(enqueued.n > 50);
        assert_true(completed.n > 20);
        assert_true(atomic_load(&transport_errors) > 0); /* the kills hit the load */

        c = harness_client(&srv);
        all = read_all_jobs(c);

        /* Every acknowledged enqueue exists, under its key; one job per key. */
        keys = json_object();
        for (i = 0; i < enqueued.n; i++) {
                json_t *j = json_object_get(all, enqueued.v[i].id);

                if (!j)
                        fail_msg("acknowledged job %s (key %s) is missing after kill -9",
                                 enqueued.v[i].id, enqueued.v[i].extra);
                assert_string_equal(jpath_str(j, "idempotency_key"), enqueued.v[i].extra);
        }
        {
                const char *id;
                json_t *j;

                json_object_foreach(all, id, j)
                {
                        const char *key = jpath_str(j, "idempotency_key");
                        json_t *seen;

                        assert_non_null(key);
                        seen = json_object_get(keys, key);
                        if (seen)
                                fail_msg("two jobs (%s and %s) for idempotency key %s",
                                         json_string_value(seen), id, key);
                        json_object_set_new(keys, key, json_string(id));
                }
        }
        json_decref(keys);

        /* Completions. */
        qsort(completed.v, completed.n, sizeof(completed.v[0]), cmp_ack);
        for (i = 0; i < completed.n; i++) {
                json_t *j = json_object_get(all, completed.v[i].id), *a;
                char want[128];
                size_t k2, done = 0;

                if (i > 0 && strcmp(completed.v[i].id, completed.v[i - 1].id) == 0 &&
                    strcmp(completed.v[i].extra, completed.v[i - 1].extra) != 0)
                        fail_msg("job %s completed twice: leases %s and %s", completed.v[i].id,
                                 completed.v[i - 1].extra, completed.v[i].extra);
                if (!j)
                        fail_msg("completed job %s is missing", completed.v[i].id);
                if (strcmp(jpath_str(j, "state"), "completed") != 0)
                        fail_msg("job %s was acknowledged completed but is %s", completed.v[i].id,
                                 jpath_str(j, "state"));
                snprintf(want, sizeof(want), "%s", completed.v[i].extra);
                assert_string_equal(jpath_str(j, "result.by"), want);
                json_array_foreach(jpath(j, "attempts"), k2, a)
                {
                        const char *outcome = jpath_str(a, "outcome");

                        if (outcome && strcmp(outcome, "completed") == 0)
                                done++;
                }
                assert_int_equal(done, 1);
        }
        /* No job anywhere shows two completed attempts. */
        {
                const char *id;
                json_t *j;
                size_t n_completed = 0;

                json_object_foreach(all, id, j)
                {
                        json_t *a;
                        size_t k2, done = 0;

                        json_array_foreach(jpath(j, "attempts"), k2, a)
                        {
                                const char *outcome = jpath_str(a, "outcome");

                                if (outcome && strcmp(outcome, "completed") == 0)
                                        done++;
                        }
                        if (done > 1)
                                fail_msg("job %s has %zu completed attempts", id, done);
                        if (strcmp(jpath_str(j, "state"), "completed") == 0) {
                                assert_int_equal(done, 1);
                                n_completed++;
                        }
                }
                print_message("%zu jobs stored, %zu completed\n", json_object_size(all),
                              n_completed);
                /* Acknowledged completions are distinct jobs, all completed. */
                assert_true(n_completed >= completed.n);
        }
        json_decref(all);
        baton_client_free(c);
        ack_free(&enqueued);
        ack_free(&completed);
        assert_int_equal(harness_stop(&srv), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(kill9_under_load),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
