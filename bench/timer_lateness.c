/*
 * timer_lateness.c: durable timer lateness with many timers pending (DESIGN
 * §9 row "timer / delayed job lateness, 1,000,000 pending, spread out": p99
 * <= 5 ms). Against a running batond (--url, else $BATON_URL; key in
 * $BATON_KEY, else $BATON_API_KEY):
 *
 *  1. create --timers timers (PUT /v1/timers/{key}, --threads client
 *     threads, spread round-robin over the nodes of a comma-separated --url
 *     list), timer i due at base + i * window / timers, where base is
 *     --lead-ms after the start: every timer is pending before the first one
 *     falls due when the creation takes less than the lead (the program says
 *     how many were created late);
 *  2. wait until the window has passed (plus a second);
 *  3. read every fired job of the run's queue and take, per job, its
 *     created_at (the enqueue) minus its timer.fire_at: lateness p50, p99 and
 *     max, with the number of jobs, of timers that did not fire and of double
 *     fires (two jobs for one key and version).
 *
 * Server timestamps have millisecond resolution, so a lateness of 0 means
 * "within the same millisecond". --million sets 1,000,000 timers with a lead
 * and window long enough for the creation. Assumes the server and this
 * program share the machine's clock.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define LIST_PAGE 1000

struct run {
        const char *url;
        const char *queue;
        int64_t timers;
        int64_t base_ms;           /* fire instant of timer 0 (Unix ms) */
        int64_t window_ms;         /* timers are spread over this */
        atomic_llong next;         /* next timer index to create */
        atomic_llong late_created; /* created after base_ms */
        atomic_int failed;
        atomic_int threads; /* creating threads started: thread i uses node i */
};

static void *create_fn(void *arg)
{
        struct run *r = arg;
        struct baton_client *c = bench_client_at(r->url, atomic_fetch_add(&r->threads, 1));
        char path[256], body[512], at[40];

        for (;;) {
                int64_t i = atomic_fetch_add(&r->next, 1);
                int64_t fire;
                int status = 0;
                int rc;

                if (i >= r->timers)
                        break;
                fire = r->base_ms + i * r->window_ms / r->timers;
                fmt_time(fire, at, sizeof(at));
                snprintf(path, sizeof(path), "/v1/timers/%s-%lld", r->queue, (long long)i);
                snprintf(body, sizeof(body),
                         "{\"queue\":\"%s\",\"type\":\"tick\",\"payload\":{\"i\":%lld},"
                         "\"fire_at\":\"%s\"}",
                         r->queue, (long long)i, at);
                rc = baton_request(c, "PUT", path, body, &status, NULL);
                if (rc || status != 201) {
                        if (atomic_fetch_add(&r->failed, 1) < 5)
                                bench_report_error(c, "PUT timer", rc ? rc : BATON_EPROTO);
                        continue;
                }
                if (wall_ms() > r->base_ms)
                        atomic_fetch_add(&r->late_created, 1);
        }
        baton_client_free(c);
        return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

/* Reads every job of the queue; fills late[] (ms) and counts double fires. */
static int collect(struct run *r, int64_t **late_out, int64_t *n_out, int64_t *doubles)
{
        struct baton_client *c = bench_client(r->url);
        unsigned char *seen = calloc((size_t)r->timers, 1);
        int64_t *late = malloc((size_t)r->timers * 2 * sizeof(*late));
        char path[512], after[64] = "";
        int64_t n = 0;
        int rc = 0;

        *doubles = 0;
        if (!seen || !late) {
                rc = BATON_ENOMEM;
                goto out;
        }
        for (;;) {
                char *body = NULL;
                int status = 0;
                json_t *doc, *jobs;
                const char *next;

                snprintf(path, sizeof(path), "/v1/jobs?queue=%s&limit=%d%s%s", r->queue, LIST_PAGE,
                         *after ? "&after=" : "", after);
                rc = baton_request(c, "GET", path, NULL, &status, &body);
                if (rc || status != 200) {
                        bench_report_error(c, "list jobs", rc ? rc : BATON_EPROTO);
                        free(body);
                        rc = rc ? rc : BATON_EPROTO;
                        goto out;
                }
                doc = json_loads(body, 0, NULL);
                free(body);
                jobs = json_object_get(doc, "jobs");
                for (size_t i = 0; i < json_array_size(jobs); i++) {
                        json_t *j = json_array_get(jobs, i);
                        json_t *t = json_object_get(j, "timer");
                        int64_t idx =
                            json_integer_value(json_object_get(json_object_get(j, "payload"), "i"));
                        int64_t created =
                            parse_time(json_string_value(json_object_get(j, "created_at")));
                        int64_t fire = parse_time(json_string_value(json_object_get(t, "fire_at")));

                        if (idx < 0 || idx >= r->timers || created < 0 || fire < 0)
                                continue;
                        if (seen[idx]++)
                                (*doubles)++;
                        if (n < r->timers * 2)
                                late[n++] = created - fire;
                }
                next = json_string_value(json_object_get(doc, "next"));
                if (next)
                        snprintf(after, sizeof(after), "%s", next);
                json_decref(doc);
                if (!next)
                        break;
        }
out:
        free(seen);
        baton_client_free(c);
        if (rc) {
                free(late);
                return rc;
        }
        *late_out = late;
        *n_out = n;
        return 0;
}

int main(int argc, char **argv)
{
        const char *url = NULL;
        int64_t timers = 100000, window_ms = 30000, lead_ms = 20000, threads = 16, million = 0;
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url, "server URL; comma-separated: threads round-robin"},
            {"--timers", FLAG_I64, &timers, "timers pending"},
            {"--window-ms", FLAG_I64, &window_ms, "fire times spread over this window"},
            {"--lead-ms", FLAG_I64, &lead_ms, "first fire this long after the start"},
            {"--threads", FLAG_I64, &threads, "client threads creating timers"},
            {"--million", FLAG_I64, &million,
             "1: 1,000,000 timers, lead 300 s, window 120 s (overrides the three)"},
        };
        pthread_t th[256];
        struct run r;
        char q[64];
        int64_t *late = NULL, n = 0, doubles = 0, t0, t1;
        int rc;

        if (flags_parse(argc, argv, "durable timer lateness with many pending", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))) != 0)
                return 2;
        if (million) {
                timers = 1000000;
                lead_ms = 300000;
                window_ms = 120000;
        }
        if (timers < 1 || threads < 1 || threads > 256 || window_ms < 1) {
                fprintf(stderr, "bad flags\n");
                return 2;
        }
        memset(&r, 0, sizeof(r));
        r.url = bench_url(url);
        r.queue = bench_queue("timers", q, sizeof(q));
        r.timers = timers;
        r.window_ms = window_ms;
        r.base_ms = wall_ms() + lead_ms;
        t0 = now_ns();
        for (int i = 0; i < threads; i++)
                pthread_create(&th[i], NULL, create_fn, &r);
        for (int i = 0; i < threads; i++)
                pthread_join(th[i], NULL);
        t1 = now_ns();
        printf("created %lld timers in %.1f s (%.0f/s), %d failed, %lld created after the "
               "first fire time\n",
               (long long)timers, (double)(t1 - t0) / 1e9, (double)timers * 1e9 / (double)(t1 - t0),
               atomic_load(&r.failed), (long long)atomic_load(&r.late_created));
        while (wall_ms() < r.base_ms + window_ms + 1000)
                sleep_ns(100000000);
        rc = collect(&r, &late, &n, &doubles);
        if (rc) {
                fprintf(stderr, "collecting the fired jobs failed: %s\n", baton_strerror(rc));
                return 1;
        }
        qsort(late, (size_t)n, sizeof(*late), cmp_i64);
        printf("timers %lld over %lld ms: fired %lld, not fired %lld, double fires %lld\n",
               (long long)timers, (long long)window_ms, (long long)n,
               (long long)(timers - atomic_load(&r.failed) - (n - doubles)), (long long)doubles);
        if (n > 0)
                printf("lateness (job created_at - fire_at): p50 %lld ms, p99 %lld ms, max %lld "
                       "ms, early %s\n",
                       (long long)late[(n - 1) / 2], (long long)late[(n * 99 - 1) / 100],
                       (long long)late[n - 1], late[0] < 0 ? "YES" : "none");
        free(late);
        return doubles ? 1 : 0;
}
