/*
 * metrics.c: counters and fixed-bucket histograms in memory, rendered in the
 * Prometheus text format (version 0.0.4). Per-queue job counters live in an
 * array found through a hash of (tenant, queue); HTTP counters in a short
 * array of (route, status) pairs, since routes are few and statuses per route
 * fewer. Values are process-lifetime totals; a restart resets them, which
 * Prometheus' rate() handles. The per-queue series are bounded
 * (--metrics-max-queues): the first queues seen get their own, the counts
 * of any other queue go to one series labelled tenant="_other",
 * queue="_other", so a tenant making queues cannot grow a scrape without
 * bound.
 *
 * Workload: one update per request and per committed batch; a render per
 * scrape. Loop thread only.
 */
#include "server/metrics.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"

#define SECONDS_BUCKETS 18
#define SIZE_BUCKETS 13
#define QHASH 256
#define HTTP_SERIES_MAX 512

static const double seconds_le[SECONDS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                                   5,      10,    30,     60,    300,  3600};
static const double size_le[SIZE_BUCKETS] = {1,   2,   4,   8,    16,   32,  64,
                                             128, 256, 512, 1024, 2048, 4096};

struct hist {
        const double *le;
        int n;
        uint64_t counts[SECONDS_BUCKETS + 1]; /* the last one is +Inf */
        double sum;
        uint64_t total;
};

struct qseries {
        char *tenant;
        char *queue;
        uint64_t n[EV_COUNT];
        int next; /* index of the next series in the hash chain, -1 = end */
};

struct http_series {
        const char *route; /* static route name */
        int status;
        uint64_t n;
};

struct metrics {
        const struct clock *clock;
        struct qseries *q;
        int q_n;
        int q_cap;
        int qhead[QHASH];
        int q_max;            /* queues with their own counter series */
        struct qseries other; /* the counts of every other queue */
        bool other_used;
        struct http_series http[HTTP_SERIES_MAX];
        int http_n;
        uint64_t http_dropped;  /* answers beyond HTTP_SERIES_MAX distinct pairs */
        struct hist wait;       /* enqueue-to-claim */
        struct hist run;        /* claim-to-settle */
        struct hist commit;     /* store commit duration */
        struct hist batch;      /* ops per store batch */
        struct hist http_dur;   /* request duration */
        struct hist late;       /* scheduler timer lateness */
        struct hist timer_late; /* durable timers: job enqueue minus fire_at */
        struct hist cron_late;  /* cron ticks: fired minus scheduled instant */
        uint64_t cron_fires[3]; /* per outcome: fired, skipped, misfire */
        /* Cron runs by final status (enum txn_cron_run). */
        uint64_t cron_runs[CRUN_COUNT];
        /* Events written to the event log (core/events.h). */
        uint64_t events_written;
};

static const char *const cron_outcomes[3] = {"fired", "skipped", "misfire"};
static const char *const cron_run_statuses[CRUN_COUNT] = {"completed", "dead", "cancelled",
                                                          "skipped"};

static void hist_init(struct hist *h, const double *le, int n)
{
        memset(h, 0, sizeof(*h));
        h->le = le;
        h->n = n;
}

static void hist_add(struct hist *h, double v)
{
        int i = 0;

        while (i < h->n && v > h->le[i])
                i++;
        h->counts[i]++;
        h->sum += v;
        h->total++;
}

int metrics_new(const struct clock *clock, struct metrics **out)
{
        struct metrics *m = calloc(1, sizeof(*m));

        if (!m)
                return BATON_ENOMEM;
        m->clock = clock;
        m->q_max = INT_MAX;
        for (int i = 0; i < QHASH; i++)
                m->qhead[i] = -1;
        hist_init(&m->wait, seconds_le, SECONDS_BUCKETS);
        hist_init(&m->run, seconds_le, SECONDS_BUCKETS);
        hist_init(&m->commit, seconds_le, SECONDS_BUCKETS);
        hist_init(&m->batch, size_le, SIZE_BUCKETS);
        hist_init(&m->http_dur, seconds_le, SECONDS_BUCKETS);
        hist_init(&m->late, seconds_le, SECONDS_BUCKETS);
        hist_init(&m->timer_late, seconds_le, SECONDS_BUCKETS);
        hist_init(&m->cron_late, seconds_le, SECONDS_BUCKETS);
        *out = m;
        return 0;
}

void metrics_free(struct metrics *m)
{
        if (!m)
                return;
        for (int i = 0; i < m->q_n; i++) {
                free(m->q[i].tenant);
                free(m->q[i].queue);
        }
        free(m->q);
        free(m);
}

static unsigned qhash(const char *tenant, const char *queue)
{
        uint32_t h = 2166136261u;

        for (const char *s = tenant; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        h = (h ^ '/') * 16777619u;
        for (const char *s = queue; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619u;
        return h % QHASH;
}

/* The series of (tenant, queue), created on first use; NULL on ENOMEM. */
static struct qseries *qseries_get(struct metrics *m, const char *tenant, const char *queue)
{
        unsigned slot = qhash(tenant, queue);
        struct qseries *s;

        for (int i = m->qhead[slot]; i >= 0; i = m->q[i].next)
                if (strcmp(m->q[i].queue, queue) == 0 && strcmp(m->q[i].tenant, tenant) == 0)
                        return &m->q[i];
        if (m->q_n >= m->q_max) {
                m->other_used = true;
                return &m->other;
        }
        if (m->q_n == m->q_cap) {
                int cap = m->q_cap ? m->q_cap * 2 : 16;
                struct qseries *v = realloc(m->q, (size_t)cap * sizeof(*v));
                if (!v)
                        return NULL;
                m->q = v;
                m->q_cap = cap;
        }
        s = &m->q[m->q_n];
        memset(s, 0, sizeof(*s));
        s->tenant = strdup(tenant);
        s->queue = strdup(queue);
        if (!s->tenant || !s->queue) {
                free(s->tenant);
                free(s->queue);
                return NULL;
        }
        s->next = m->qhead[slot];
        m->qhead[slot] = m->q_n++;
        return s;
}

void metrics_effects(struct metrics *m, const struct txn_effects *fx)
{
        for (int i = 0; i < fx->counts_n; i++) {
                const struct txn_count *c = &fx->counts[i];
                struct qseries *s = qseries_get(m, c->q.tenant, c->q.queue);
                if (s)
                        s->n[c->ev] += (uint64_t)c->n;
        }
        for (int i = 0; i < fx->samples_n; i++) {
                const struct txn_sample *s = &fx->samples[i];
                struct hist *h = s->kind == OBS_WAIT  ? &m->wait
                                 : s->kind == OBS_RUN ? &m->run
                                                      : &m->timer_late;
                hist_add(h, (double)s->ms / 1000.0);
        }
        for (int i = 0; i < CRUN_COUNT; i++)
                m->cron_runs[i] += (uint64_t)fx->cron_runs[i];
        m->events_written += (uint64_t)fx->events_written;
}

void metrics_batch(struct metrics *m, int ops, int64_t commit_ns)
{
        hist_add(&m->batch, ops);
        hist_add(&m->commit, (double)commit_ns / 1e9);
}

void metrics_http(struct metrics *m, const char *route, int status, int64_t dur_ns)
{
        hist_add(&m->http_dur, (double)dur_ns / 1e9);
        for (int i = 0; i < m->http_n; i++) {
                if (m->http[i].status == status && strcmp(m->http[i].route, route) == 0) {
                        m->http[i].n++;
                        return;
                }
        }
        if (m->http_n == HTTP_SERIES_MAX) {
                m->http_dropped++;
                return;
        }
        m->http[m->http_n].route = route;
        m->http[m->http_n].status = status;
        m->http[m->http_n].n = 1;
        m->http_n++;
}

void metrics_tick(struct metrics *m, int64_t late_ms)
{
        hist_add(&m->late, (double)(late_ms < 0 ? 0 : late_ms) / 1000.0);
}

void metrics_cron(struct metrics *m, int fired, int skipped, int misfired, const int64_t *late_ms,
                  int late_n)
{
        m->cron_fires[0] += (uint64_t)(fired > 0 ? fired : 0);
        m->cron_fires[1] += (uint64_t)(skipped > 0 ? skipped : 0);
        m->cron_fires[2] += (uint64_t)(misfired > 0 ? misfired : 0);
        for (int i = 0; i < late_n; i++)
                hist_add(&m->cron_late, (double)(late_ms[i] < 0 ? 0 : late_ms[i]) / 1000.0);
}

void metrics_cron_totals(const struct metrics *m, uint64_t out[3])
{
        for (int i = 0; i < 3; i++)
                out[i] = m ? m->cron_fires[i] : 0;
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
        buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist_render(struct buf *b, const char *name, const char *help, const struct hist *h)
{
        uint64_t cum = 0;

        head(b, name, "histogram", help);
        for (int i = 0; i < h->n; i++) {
                cum += h->counts[i];
                buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->le[i],
                           (unsigned long long)cum);
        }
        cum += h->counts[h->n];
        buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
                   (unsigned long long)h->total);
}

static const char *const ev_names[EV_COUNT] = {
    "baton_jobs_enqueued_total",  "baton_jobs_claimed_total", "baton_jobs_completed_total",
    "baton_jobs_retried_total",   "baton_jobs_dead_total",    "baton_jobs_cancelled_total",
    "baton_leases_expired_total",
};
static const char *const ev_help[EV_COUNT] = {
    "Jobs created by enqueue.",
    "Jobs handed to workers by claims.",
    "Jobs completed.",
    "Failed or expired attempts that will run again.",
    "Jobs that became dead.",
    "Jobs that became cancelled.",
    "Leases that ran out before their job was settled (attempts that reached timeout_ms too).",
};

static void render_queue_counters(const struct metrics *m, struct buf *b)
{
        for (int e = 0; e < EV_COUNT; e++) {
                head(b, ev_names[e], "counter", ev_help[e]);
                for (int i = 0; i < m->q_n; i++)
                        buf_printf(b, "%s{tenant=\"%s\",queue=\"%s\"} %llu\n", ev_names[e],
                                   m->q[i].tenant, m->q[i].queue, (unsigned long long)m->q[i].n[e]);
                if (m->other_used)
                        buf_printf(b,
                                   "%s{tenant=\"" METRICS_OTHER "\",queue=\"" METRICS_OTHER
                                   "\"} %llu\n",
                                   ev_names[e], (unsigned long long)m->other.n[e]);
        }
}

void metrics_queues_max(struct metrics *m, int max)
{
        BATON_ASSERT(max >= 0);
        m->q_max = max;
}

static void render_depth(const struct metrics *m, const struct queue_info *queues, int n,
                         struct buf *b)
{
        int64_t now_ms = clock_wall_ms(m->clock);

        head(b, "baton_queue_depth", "gauge", "Jobs per queue and state.");
        for (int i = 0; i < n; i++)
                for (int s = 0; s < JOB_STATE_COUNT; s++)
                        buf_printf(
                            b, "baton_queue_depth{tenant=\"%s\",queue=\"%s\",state=\"%s\"} %lld\n",
                            queues[i].rec.tenant, queues[i].rec.name, job_state_name(s),
                            (long long)queues[i].counts.by_state[s]);
        head(b, "baton_queue_oldest_ready_age_seconds", "gauge",
             "Age of the oldest ready job per queue (0 when none).");
        for (int i = 0; i < n; i++) {
                int64_t t = queues[i].counts.oldest_ready_ms;
                double age = t > 0 && now_ms > t ? (double)(now_ms - t) / 1000.0 : 0;
                buf_printf(
                    b, "baton_queue_oldest_ready_age_seconds{tenant=\"%s\",queue=\"%s\"} %.3f\n",
                    queues[i].rec.tenant, queues[i].rec.name, age);
        }
        head(b, "baton_queue_paused", "gauge", "1 when the queue is paused.");
        for (int i = 0; i < n; i++)
                buf_printf(b, "baton_queue_paused{tenant=\"%s\",queue=\"%s\"} %d\n",
                           queues[i].rec.tenant, queues[i].rec.name, queues[i].rec.paused ? 1 : 0);
}

int metrics_render(const struct metrics *m, const struct queue_info *queues, int n, int64_t omitted,
                   int conns, int waiters, struct buf *out)
{
        render_queue_counters(m, out);
        render_depth(m, queues, n, out);
        head(out, "baton_queues_unreported", "gauge",
             "Queues beyond --metrics-max-queues: no depth, age or paused series of their own.");
        buf_printf(out, "baton_queues_unreported %lld\n", (long long)omitted);
        hist_render(out, "baton_job_wait_seconds",
                    "Enqueue-to-claim wait: time from ready to handed out.", &m->wait);
        hist_render(out, "baton_job_run_seconds", "Claim-to-settle duration of attempts.", &m->run);
        hist_render(out, "baton_store_commit_seconds", "Duration of each store commit.",
                    &m->commit);
        hist_render(out, "baton_store_batch_size", "Operations per store transaction.", &m->batch);
        hist_render(out, "baton_http_request_seconds", "HTTP request duration.", &m->http_dur);
        hist_render(out, "baton_scheduler_lateness_seconds",
                    "How late the next-deadline timer ran its duties.", &m->late);
        hist_render(out, "baton_timer_lateness_seconds",
                    "Durable timers: enqueue of the fired job minus the timer's fire_at.",
                    &m->timer_late);
        hist_render(out, "baton_cron_tick_lateness_seconds",
                    "Cron ticks fired on time: fire instant minus scheduled instant.",
                    &m->cron_late);
        head(out, "baton_cron_fires_total", "counter",
             "Cron ticks by outcome: fired (a job enqueued), skipped (overlap), misfire.");
        for (int i = 0; i < 3; i++)
                buf_printf(out, "baton_cron_fires_total{outcome=\"%s\"} %llu\n", cron_outcomes[i],
                           (unsigned long long)m->cron_fires[i]);
        head(out, "baton_cron_runs_total", "counter",
             "Cron runs by final status: completed, dead, cancelled (the job's end), skipped.");
        for (int i = 0; i < CRUN_COUNT; i++)
                buf_printf(out, "baton_cron_runs_total{status=\"%s\"} %llu\n", cron_run_statuses[i],
                           (unsigned long long)m->cron_runs[i]);
        head(out, "baton_events_written_total", "counter",
             "Events written to the event log by this node's commits.");
        buf_printf(out, "baton_events_written_total %llu\n", (unsigned long long)m->events_written);
        head(out, "baton_http_requests_total", "counter", "HTTP answers per route and status.");
        for (int i = 0; i < m->http_n; i++)
                buf_printf(out, "baton_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                           m->http[i].route, m->http[i].status, (unsigned long long)m->http[i].n);
        head(out, "baton_http_connections", "gauge", "Open HTTP connections.");
        buf_printf(out, "baton_http_connections %d\n", conns);
        head(out, "baton_waiters", "gauge", "Parked long-poll requests.");
        buf_printf(out, "baton_waiters %d\n", waiters);
        return 0;
}
