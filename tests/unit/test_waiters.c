/*
 * test_waiters.c: the long-poll waiter table and the metrics renderer, on a
 * real libevent loop with short timeouts. Checks that only matching waiters
 * wake, in FIFO order, that a callback may park again, that timeouts fire,
 * that cancel and wake_all leave the table empty, and that the Prometheus
 * output carries every series the operations guide names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <stdbool.h>
#include <string.h>

#include "common/errors.h"
#include "core/txn.h"
#include "server/metrics.h"
#include "server/waiters.h"

#define W_MAX 8

struct rec {
        int order[W_MAX * 2];
        int why[W_MAX * 2];
        int n;
};

struct tw {
        struct waiter w;
        struct rec *rec;
        int idx;
        int repark; /* park again on the first WAKE_CHANGED */
        struct waiters *ws;
};

static void on_wake(struct waiter *w, int why)
{
        struct tw *t = (struct tw *)w;

        assert_false(w->parked);
        t->rec->order[t->rec->n] = t->idx;
        t->rec->why[t->rec->n] = why;
        t->rec->n++;
        if (t->repark && why == WAKE_CHANGED) {
                t->repark = 0;
                assert_int_equal(waiter_park_queue(t->ws, w, "default", "q1", 60000), 0);
        }
}

static void tw_init(struct tw *t, struct rec *r, int idx, struct waiters *ws)
{
        memset(t, 0, sizeof(*t));
        t->w.wake = on_wake;
        t->rec = r;
        t->idx = idx;
        t->ws = ws;
}

static void queue_waiters_wake_in_order(void **state)
{
        struct event_base *base = event_base_new();
        struct waiters *ws = NULL;
        struct tw t[4];
        struct rec r = {0};

        (void)state;
        assert_int_equal(waiters_new(base, &ws), 0);
        for (int i = 0; i < 4; i++)
                tw_init(&t[i], &r, i, ws);
        assert_int_equal(waiter_park_queue(ws, &t[0].w, "default", "q1", 60000), 0);
        assert_int_equal(waiter_park_queue(ws, &t[1].w, "other", "q1", 60000), 0);
        assert_int_equal(waiter_park_queue(ws, &t[2].w, "default", "q2", 60000), 0);
        assert_int_equal(waiter_park_queue(ws, &t[3].w, "default", "q1", 60000), 0);
        assert_int_equal(waiters_count(ws), 4);

        waiters_wake_queue(ws, "default", "q1");
        assert_int_equal(r.n, 2);
        assert_int_equal(r.order[0], 0);
        assert_int_equal(r.order[1], 3);
        assert_int_equal(r.why[0], WAKE_CHANGED);
        assert_int_equal(waiters_count(ws), 2);

        /* Waking a queue nobody waits on changes nothing. */
        waiters_wake_queue(ws, "default", "nobody");
        assert_int_equal(r.n, 2);

        waiter_cancel(&t[1].w);
        assert_false(t[1].w.parked);
        assert_int_equal(waiters_count(ws), 1);
        waiters_wake_all(ws);
        assert_int_equal(r.n, 3);
        assert_int_equal(r.order[2], 2);
        assert_int_equal(r.why[2], WAKE_SHUTDOWN);
        assert_int_equal(waiters_count(ws), 0);
        waiters_free(ws);
        event_base_free(base);
}

static void a_callback_may_park_again(void **state)
{
        struct event_base *base = event_base_new();
        struct waiters *ws = NULL;
        struct tw t;
        struct rec r = {0};

        (void)state;
        assert_int_equal(waiters_new(base, &ws), 0);
        tw_init(&t, &r, 7, ws);
        t.repark = 1;
        assert_int_equal(waiter_park_queue(ws, &t.w, "default", "q1", 60000), 0);
        waiters_wake_queue(ws, "default", "q1");
        /* Woken once, parked again, not woken twice by the same call. */
        assert_int_equal(r.n, 1);
        assert_true(t.w.parked);
        assert_int_equal(waiters_count(ws), 1);
        waiters_wake_queue(ws, "default", "q1");
        assert_int_equal(r.n, 2);
        assert_false(t.w.parked);
        waiters_free(ws);
        event_base_free(base);
}

static void job_waiters_and_timeouts(void **state)
{
        struct event_base *base = event_base_new();
        struct waiters *ws = NULL;
        struct tw a, b;
        struct rec r = {0};

        (void)state;
        assert_int_equal(waiters_new(base, &ws), 0);
        tw_init(&a, &r, 1, ws);
        tw_init(&b, &r, 2, ws);
        assert_int_equal(waiter_park_job(ws, &a.w, 42, 60000), 0);
        assert_int_equal(waiter_park_job(ws, &b.w, 43, 20), 0);
        waiters_wake_job(ws, 41);
        assert_int_equal(r.n, 0);
        /* The loop runs until b's 20 ms timeout has fired; bounded by the
         * single timer (a's is a minute away and is cancelled below). */
        struct timeval cap = {2, 0};
        event_base_loopexit(base, &cap);
        while (r.n == 0 && event_base_loop(base, EVLOOP_ONCE) == 0)
                ;
        assert_int_equal(r.n, 1);
        assert_int_equal(r.order[0], 2);
        assert_int_equal(r.why[0], WAKE_TIMEOUT);
        waiters_wake_job(ws, 42);
        assert_int_equal(r.n, 2);
        assert_int_equal(r.why[1], WAKE_CHANGED);
        assert_int_equal(waiters_count(ws), 0);
        waiters_free(ws);
        event_base_free(base);
}

static void metrics_render_names_every_series(void **state)
{
        struct clock_fake fc;
        struct metrics *m = NULL;
        struct txn tx;
        struct queue_info q;
        struct buf b;

        (void)state;
        clock_fake_init(&fc, 1700000000000LL);
        assert_int_equal(metrics_new(&fc.clock, &m), 0);
        memset(&tx, 0, sizeof(tx));
        assert_int_equal(txn_note_event(&tx, "default", "emails", EV_ENQUEUED, 3), 0);
        assert_int_equal(txn_note_event(&tx, "default", "emails", EV_COMPLETED, 1), 0);
        assert_int_equal(txn_note_sample(&tx, OBS_WAIT, 12), 0);
        metrics_effects(m, &tx.fx);
        metrics_effects(m, &tx.fx);
        txn_effects_free(&tx.fx);
        metrics_batch(m, 5, 1000000);
        metrics_http(m, "jobs_enqueue", 201, 2000000);
        metrics_http(m, "jobs_enqueue", 201, 2000000);
        memset(&q, 0, sizeof(q));
        q.rec.tenant = (char *)"default";
        q.rec.name = (char *)"emails";
        q.counts.by_state[JOB_QUEUED] = 9;
        q.counts.oldest_ready_ms = fc.wall_ms - 1500;
        buf_init(&b, 1 << 20);
        assert_int_equal(metrics_render(m, &q, 1, 0, 3, 2, &b), 0);
        assert_non_null(
            strstr(b.ptr, "baton_jobs_enqueued_total{tenant=\"default\",queue=\"emails\"} 6\n"));
        assert_non_null(
            strstr(b.ptr, "baton_jobs_completed_total{tenant=\"default\",queue=\"emails\"} 2\n"));
        assert_non_null(strstr(
            b.ptr, "baton_queue_depth{tenant=\"default\",queue=\"emails\",state=\"queued\"} 9\n"));
        assert_non_null(strstr(
            b.ptr,
            "baton_queue_oldest_ready_age_seconds{tenant=\"default\",queue=\"emails\"} 1.500\n"));
        assert_non_null(strstr(b.ptr, "baton_job_wait_seconds_count 2\n"));
        assert_non_null(strstr(b.ptr, "baton_store_batch_size_bucket{le=\"8\"} 1\n"));
        assert_non_null(
            strstr(b.ptr, "baton_http_requests_total{route=\"jobs_enqueue\",status=\"201\"} 2\n"));
        assert_non_null(strstr(b.ptr, "baton_http_connections 3\n"));
        assert_non_null(strstr(b.ptr, "baton_waiters 2\n"));
        buf_free(&b);
        metrics_free(m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(queue_waiters_wake_in_order),
            cmocka_unit_test(a_callback_may_park_again),
            cmocka_unit_test(job_waiters_and_timeouts),
            cmocka_unit_test(metrics_render_names_every_series),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
