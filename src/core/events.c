/*
 * events.c: the event log (see events.h for the rules): the type names and
 * filters, the notes operations append to their transaction and their one
 * write before the commit, the data each per-job event carries, reads of the
 * log with the filters applied, and the leader's retention.
 *
 * Workload: a note per state change on the hot path (a few small strdups
 * and a JSON object of a handful of members built into a stack buffer);
 * one store call per transaction; reads are long-polls that look at a
 * bounded number of rows each.
 */
#include "core/events.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/buf.h"
#include "common/errors.h"
#include "common/job_state.h"
#include "common/jw.h"
#include "core/groups.h"

/* The data object of one event: a few members, an error text of at most
 * EVENTS_ERROR_MAX bytes (escaped, up to six bytes a byte) and the extra. */
#define EVENTS_DATA_MAX (8 * EVENTS_ERROR_MAX + 4096)

static const char *const type_names[EVT_COUNT] = {
    [EVT_JOB_ENQUEUED] = "job.enqueued",
    [EVT_JOB_STARTED] = "job.started",
    [EVT_JOB_COMPLETED] = "job.completed",
    [EVT_JOB_RETRYING] = "job.retrying",
    [EVT_JOB_DEAD] = "job.dead",
    [EVT_JOB_CANCELLED] = "job.cancelled",
    [EVT_JOB_PROGRESS] = "job.progress",
    [EVT_CRON_FIRED] = "cron.fired",
    [EVT_CRON_SKIPPED] = "cron.skipped",
    [EVT_CRON_MISSED] = "cron.missed",
    [EVT_CRON_RUN_FAILED] = "cron.run_failed",
    [EVT_TIMER_FIRED] = "timer.fired",
    [EVT_QUEUE_PAUSED] = "queue.paused",
    [EVT_QUEUE_RESUMED] = "queue.resumed",
    [EVT_QUEUE_SETTINGS_CHANGED] = "queue.settings_changed",
};

const char *events_type_name(int type)
{
        return type >= 0 && type < EVT_COUNT ? type_names[type] : NULL;
}

int events_type_parse(const char *name)
{
        for (int i = 0; i < EVT_COUNT; i++)
                if (strcmp(type_names[i], name) == 0)
                        return i;
        return -1;
}

/* The set of one pattern (0: it names nothing): "*", "cron.*" or a name. */
static uint32_t pattern_mask(const char *p, size_t n)
{
        uint32_t m = 0;

        if (n == 1 && p[0] == '*')
                return EVENTS_ALL;
        if (n > 2 && p[n - 2] == '.' && p[n - 1] == '*') {
                for (int i = 0; i < EVT_COUNT; i++)
                        if (strncmp(type_names[i], p, n - 1) == 0)
                                m |= 1u << i;
                return m;
        }
        for (int i = 0; i < EVT_COUNT; i++)
                if (strlen(type_names[i]) == n && strncmp(type_names[i], p, n) == 0)
                        return 1u << i;
        return 0;
}

int events_types_parse(const char *csv, uint32_t *mask, char *bad, size_t bad_n)
{
        const char *p = csv;
        int count = 0;

        *mask = 0;
        for (;;) {
                const char *end = strchr(p, ',');
                size_t n = end ? (size_t)(end - p) : strlen(p);
                uint32_t m = pattern_mask(p, n);

                if (!m || ++count > EVENTS_PATTERNS_MAX) {
                        snprintf(bad, bad_n, "%.*s", (int)(n > 64 ? 64 : n), p);
                        return BATON_EINVAL;
                }
                *mask |= m;
                if (!end)
                        return 0;
                p = end + 1;
        }
}

/* ---- notes ---- */

static void note_free(struct event_note *n)
{
        free(n->tenant);
        free(n->subject);
        free(n->queue);
        free(n->data);
        memset(n, 0, sizeof(*n));
}

void events_notes_drop(struct txn_effects *fx, int from)
{
        BATON_ASSERT_INT(from, <=, fx->events_n);
        for (int i = from; i < fx->events_n; i++)
                note_free(&fx->events[i]);
        fx->events_n = from;
}

int events_note(struct txn *tx, const char *tenant, int type, const char *kind, const char *subject,
                const char *queue, const char *data)
{
        struct txn_effects *fx = &tx->fx;
        struct event_note *n;

        BATON_ASSERT(type >= 0 && type < EVT_COUNT);
        if (fx->events_n >= EVENTS_TXN_MAX)
                return BATON_ETOOBIG;
        if (store_grow((void **)&fx->events, fx->events_n, &fx->events_cap, sizeof(*fx->events)))
                return BATON_ENOMEM;
        n = &fx->events[fx->events_n];
        n->type = type;
        n->kind = kind;
        n->tenant = strdup(tenant);
        n->subject = strdup(subject);
        n->queue = queue ? strdup(queue) : NULL;
        n->data = strdup(data ? data : "{}");
        if (!n->tenant || !n->subject || (queue && !n->queue) || !n->data) {
                note_free(n);
                return BATON_ENOMEM;
        }
        fx->events_n++;
        return 0;
}

/* Writes the error member, cut to EVENTS_ERROR_MAX bytes (at a character
 * boundary: a UTF-8 continuation byte is never the first one left out). */
static void error_member(struct jw *w, const char *err)
{
        size_t n;

        if (!err)
                return;
        n = strlen(err);
        if (n > EVENTS_ERROR_MAX) {
                n = EVENTS_ERROR_MAX;
                while (n > 0 && ((unsigned char)err[n] & 0xc0) == 0x80)
                        n--;
        }
        jw_key(w, "error");
        jw_strn(w, err, n);
}

/* The members of a per-job event of type (docs/api.md "Events"). */
static void job_members(struct jw *w, int type, const struct job *j, int64_t now_ms)
{
        jw_kstr(w, "type", j->type);
        switch (type) {
        case EVT_JOB_ENQUEUED:
                jw_kstr(w, "state", job_state_name(j->state));
                jw_kstr(w, "priority", job_priority_name(j->priority));
                if (j->state == JOB_SCHEDULED)
                        jw_ktime(w, "run_at", j->run_at_ms);
                jw_kint(w, "max_attempts", j->max_attempts);
                break;
        case EVT_JOB_STARTED:
                jw_kint(w, "attempt", j->attempt);
                jw_kstr(w, "worker", j->worker);
                if (j->ready_at_ms > 0)
                        jw_kint(w, "wait_ms", now_ms - j->ready_at_ms);
                break;
        case EVT_JOB_COMPLETED:
                jw_kint(w, "attempt", j->attempt);
                jw_kint(w, "duration_ms", j->started_at_ms > 0 ? now_ms - j->started_at_ms : 0);
                jw_kint(w, "result_bytes", j->result ? (int64_t)strlen(j->result) : 0);
                break;
        case EVT_JOB_RETRYING:
                jw_kint(w, "attempt", j->attempt);
                jw_kint(w, "max_attempts", j->max_attempts);
                error_member(w, j->last_error);
                jw_ktime(w, "retry_at", j->run_at_ms);
                break;
        case EVT_JOB_DEAD:
                jw_kint(w, "attempt", j->attempt);
                jw_kint(w, "max_attempts", j->max_attempts);
                error_member(w, j->last_error);
                break;
        case EVT_JOB_CANCELLED:
                jw_kstr(w, "reason", j->cancel_reason);
                break;
        case EVT_JOB_PROGRESS:
                jw_kint(w, "attempt", j->attempt);
                jw_kraw(w, "progress", j->progress);
                break;
        default:
                break;
        }
}

void events_forget_queue(struct txn_effects *fx)
{
        free(fx->evq_tenant);
        free(fx->evq_queue);
        fx->evq_tenant = NULL;
        fx->evq_queue = NULL;
}

/* 1 when queue writes per-job events, 0 when its settings turned them off,
 * or an error. The settings row is the one the transaction has read for
 * the job's change already (the store keeps it for the transaction), and
 * the answer is kept for the next event of the same queue. */
static int job_events_on(struct txn *tx, const char *tenant, const char *queue)
{
        struct txn_effects *fx = &tx->fx;
        struct queue_limits q = {0};
        int rc;

        if (fx->evq_tenant && strcmp(fx->evq_queue, queue) == 0 &&
            strcmp(fx->evq_tenant, tenant) == 0)
                return fx->evq_on ? 1 : 0;
        rc = tx->ops->qlim_get(tx->st, tenant, queue, false, &q);
        if (!rc)
                rc = q.job_events_off ? 0 : 1;
        queue_limits_free(&q);
        if (rc >= 0) {
                events_forget_queue(fx);
                fx->evq_tenant = strdup(tenant);
                fx->evq_queue = strdup(queue);
                fx->evq_on = rc == 1;
                if (!fx->evq_tenant || !fx->evq_queue)
                        events_forget_queue(fx);
        }
        return rc;
}

int events_note_job(struct txn *tx, int type, const struct job *j, const char *extra)
{
        char subject[JW_I64_LEN];
        struct buf b;
        struct jw w;
        int rc;

        BATON_ASSERT(type >= EVT_JOB_ENQUEUED && type <= EVT_JOB_PROGRESS);
        rc = job_events_on(tx, j->tenant, j->queue);
        if (rc <= 0)
                return rc;
        jw_fmt_i64(j->id, subject);
        buf_init(&b, EVENTS_DATA_MAX);
        jw_init(&w, &b);
        jw_obj_open(&w);
        job_members(&w, type, j, tx->now_ms);
        if (extra && !w.err) {
                /* The members text goes in as it is, after a comma. */
                if (buf_addc(&b, ',') || buf_adds(&b, extra))
                        w.err = BATON_ENOMEM;
        }
        jw_obj_close(&w);
        rc = w.err ? BATON_ENOMEM : buf_addc(&b, '\0');
        if (!rc)
                rc = events_note(tx, j->tenant, type, "job", subject, j->queue, b.ptr);
        buf_free(&b);
        return rc;
}

int events_note_progress(struct txn *tx, const struct job *j, const char *step)
{
        char extra[EVENTS_DATA_MAX / 2];
        struct buf b;
        struct jw w;
        int rc;

        if (!step)
                return events_note_job(tx, EVT_JOB_PROGRESS, j, NULL);
        /* "step": "..." as members text, written by the JSON writer so that
         * it is escaped. */
        buf_init(&b, sizeof(extra) - 1);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_kstr(&w, "step", step);
        jw_obj_close(&w);
        rc = w.err ? BATON_ETOOBIG : 0;
        if (!rc) {
                /* Without the braces. */
                memcpy(extra, b.ptr + 1, b.len - 2);
                extra[b.len - 2] = '\0';
                rc = events_note_job(tx, EVT_JOB_PROGRESS, j, extra);
        }
        buf_free(&b);
        return rc;
}

int events_note_cron_run_failed(struct txn *tx, const struct job *j)
{
        json_t *cron = json_loads(j->cron, 0, NULL);
        const char *key = json_string_value(json_object_get(cron, "key"));
        const char *run = json_string_value(json_object_get(cron, "run"));
        char id[JW_I64_LEN];
        struct buf b;
        struct jw w;
        int rc = 0;

        /* core/cron_fire.c writes the member; one without a key is a job
         * written by hand, with no schedule to name. */
        if (!key)
                goto out;
        jw_fmt_i64(j->id, id);
        buf_init(&b, EVENTS_DATA_MAX);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_kstr(&w, "job_id", id);
        jw_kstr(&w, "run_id", run);
        jw_kstr(&w, "queue", j->queue);
        jw_kint(&w, "attempt", j->attempt);
        error_member(&w, j->last_error);
        jw_obj_close(&w);
        rc = w.err ? BATON_ENOMEM : buf_addc(&b, '\0');
        if (!rc)
                rc = events_note(tx, j->tenant, EVT_CRON_RUN_FAILED, "cron", key, NULL, b.ptr);
        buf_free(&b);
out:
        json_decref(cron);
        return rc;
}

int events_note_cron(struct txn *tx, int type, const struct cron_run *r, const char *queue)
{
        char id[JW_I64_LEN];
        struct buf b;
        struct jw w;
        int rc;

        BATON_ASSERT(type >= EVT_CRON_FIRED && type <= EVT_CRON_MISSED);
        buf_init(&b, EVENTS_DATA_MAX);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_fmt_i64(r->id, id);
        jw_kstr(&w, "run_id", id);
        jw_kstr(&w, "trigger", r->trigger);
        jw_ktime(&w, "scheduled_at", r->scheduled_at_ms);
        if (r->job_id) {
                jw_fmt_i64(r->job_id, id);
                jw_kstr(&w, "job_id", id);
        }
        jw_kstr(&w, "queue", queue);
        if (type != EVT_CRON_FIRED)
                jw_kstr(&w, "reason", r->reason);
        jw_obj_close(&w);
        rc = w.err ? BATON_ENOMEM : buf_addc(&b, '\0');
        if (!rc)
                rc = events_note(tx, r->tenant, type, "cron", r->key, NULL, b.ptr);
        buf_free(&b);
        return rc;
}

int events_note_settings(struct txn *tx, const char *tenant, const char *queue, unsigned mask)
{
        /* The members of PATCH /v1/queues/{queue} each bit stands for. */
        static const struct {
                unsigned bit;
                const char *name;
        } names[] = {
            {QS_CONCURRENCY, "concurrency"},
            {QS_RATE, "rate"},
            {QS_MAX_DEPTH, "max_depth"},
            {QS_GROUP_CONCURRENCY, "group_concurrency"},
            {QS_GROUP_RATE, "group_rate"},
            {QS_MAX_ATTEMPTS, "max_attempts"},
            {QS_BACKOFF, "backoff"},
            {QS_LEASE, "lease_ms"},
            {QS_TIMEOUT, "timeout_ms"},
            {QS_RET_COMPLETED, "retention.completed_ms"},
            {QS_RET_DEAD, "retention.dead_ms"},
            {QS_RET_CANCELLED, "retention.cancelled_ms"},
            {QS_JOB_EVENTS, "job_events"},
        };
        struct buf b;
        struct jw w;
        int rc;

        buf_init(&b, EVENTS_DATA_MAX);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_key(&w, "changed");
        jw_arr_open(&w);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (mask & names[i].bit)
                        jw_str(&w, names[i].name);
        jw_arr_close(&w);
        jw_obj_close(&w);
        rc = w.err ? BATON_ENOMEM : buf_addc(&b, '\0');
        if (!rc)
                rc = events_note(tx, tenant, EVT_QUEUE_SETTINGS_CHANGED, "queue", queue, queue,
                                 b.ptr);
        buf_free(&b);
        return rc;
}

int events_note_timer(struct txn *tx, const struct timer_rec *t)
{
        char id[JW_I64_LEN];
        struct buf b;
        struct jw w;
        int rc;

        buf_init(&b, EVENTS_DATA_MAX);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_kint(&w, "version", t->version);
        jw_ktime(&w, "fire_at", t->fire_at_ms);
        jw_fmt_i64(t->job_id, id);
        jw_kstr(&w, "job_id", id);
        jw_kstr(&w, "queue", t->queue);
        jw_kint(&w, "late_ms", t->fired_at_ms - t->fire_at_ms);
        jw_obj_close(&w);
        rc = w.err ? BATON_ENOMEM : buf_addc(&b, '\0');
        if (!rc)
                rc = events_note(tx, t->tenant, EVT_TIMER_FIRED, "timer", t->key, NULL, b.ptr);
        buf_free(&b);
        return rc;
}

int events_flush(struct txn *tx)
{
        struct txn_effects *fx = &tx->fx;
        struct event_rec *v;
        int n = fx->events_n, rc;

        if (n == 0)
                return 0;
        v = calloc((size_t)n, sizeof(*v));
        if (!v)
                return BATON_ENOMEM;
        for (int i = 0; i < n; i++) {
                const struct event_note *e = &fx->events[i];

                /* Borrowed: the notes own the strings. */
                v[i] = (struct event_rec){0,          e->tenant,       (char *)type_names[e->type],
                                          tx->now_ms, (char *)e->kind, e->subject,
                                          e->queue,   e->data};
        }
        rc = tx->ops->event_insert(tx->st, v, n);
        /* The tenants' readers wake after the commit, here and on every node. */
        for (int i = 0; i < n && !rc; i++)
                if (i == 0 || strcmp(fx->events[i].tenant, fx->events[i - 1].tenant) != 0)
                        rc = txn_note_ready(tx, fx->events[i].tenant, EVENTS_WAIT_QUEUE);
        free(v);
        /* The leader's timer learns that the log has events to retain: its
         * ticks then keep a retention deadline while the log is not empty
         * (events_deadline), so this is needed only when it may have been
         * empty, and is sent at most once per EVENTS_COUNT_EVERY_MS. */
        if (!rc && tx->now_ms - tx->events_noted_ms >= EVENTS_COUNT_EVERY_MS) {
                tx->fx.retain_ms = tx->now_ms + EVENTS_PURGE_EVERY_MS;
                tx->events_noted_ms = tx->now_ms;
        }
        fx->events_written += n;
        events_notes_drop(fx, 0);
        return rc;
}

/* ---- reads ---- */

static bool wanted(const struct events_query *q, const struct event_rec *e)
{
        int type;

        if (q->queue && (!e->queue || strcmp(e->queue, q->queue) != 0))
                return false;
        if (q->types == EVENTS_ALL)
                return true;
        type = events_type_parse(e->type);
        return type >= 0 && (q->types & (1u << type));
}

void events_page_free(struct events_page *p)
{
        event_recs_free(p->v, p->n);
        memset(p, 0, sizeof(*p));
}

int events_read(struct txn *tx, const struct events_query *q, struct events_page *out)
{
        int64_t after = q->after;
        int scanned = 0, cap = 0, rc = 0;

        memset(out, 0, sizeof(*out));
        out->next = after;
        if (q->limit <= 0)
                return BATON_EINVAL;
        for (;;) {
                struct event_rec *v = NULL;
                int64_t last = after;
                bool full = false, waiting = false;
                int n = 0, i;

                rc = tx->ops->event_scan(tx->st, q->tenant, after, EVENTS_SCAN_MAX, &v, &n, &last,
                                         &full, &waiting);
                if (rc)
                        break;
                for (i = 0; i < n && out->n < q->limit && !rc; i++) {
                        if (!wanted(q, &v[i]))
                                continue;
                        if (store_grow((void **)&out->v, out->n, &cap, sizeof(*out->v))) {
                                rc = BATON_ENOMEM;
                                break;
                        }
                        /* Moved into the page: the scan's array no longer owns it. */
                        out->v[out->n++] = v[i];
                        memset(&v[i], 0, sizeof(v[i]));
                        out->next = out->v[out->n - 1].id;
                }
                event_recs_free(v, n);
                if (rc)
                        break;
                /* A full page resumes after its last event; any other goes
                 * on past everything the scans looked at. */
                out->waiting = waiting;
                if (out->n >= q->limit) {
                        out->more = i < n || full;
                        break;
                }
                out->next = last;
                out->more = full;
                scanned += EVENTS_SCAN_MAX;
                if (!full || last == after || scanned >= EVENTS_READ_SCAN_MAX)
                        break;
                after = last;
        }
        if (rc)
                events_page_free(out);
        return rc;
}

/* How often the count bound is applied: SQLite's ids are consecutive, so its
 * count is two ends of the rowid; a shared store walks the newest ids. */
static int64_t count_every_ms(const struct txn *tx)
{
        return tx->ops->shared ? EVENTS_COUNT_EVERY_MS : EVENTS_PURGE_EVERY_MS;
}

int events_deadline(struct txn *tx, int64_t *at_ms)
{
        const struct limits *l = tx->limits;
        struct event_rec *v = NULL;
        int64_t last = 0, t;
        bool full = false, waiting = false;
        int n = 0;
        int rc = tx->ops->event_scan(tx->st, NULL, 0, 1, &v, &n, &last, &full, &waiting);

        *at_ms = 0;
        if (rc || n == 0)
                goto out;
        t = v[0].at_ms + l->events_max_age_ms + 1;
        if (l->events_max_count > 0 && tx->events_counted_ms + count_every_ms(tx) < t)
                t = tx->events_counted_ms + count_every_ms(tx);
        if (t < tx->events_purged_ms + EVENTS_PURGE_EVERY_MS)
                t = tx->events_purged_ms + EVENTS_PURGE_EVERY_MS;
        *at_ms = t;
out:
        event_recs_free(v, n);
        return rc;
}

/* ---- retention ---- */

int events_purge(struct txn *tx, int batch, int *n_out)
{
        const struct limits *l = tx->limits;
        int64_t keep = 0;

        *n_out = 0;
        if (tx->now_ms - tx->events_purged_ms < EVENTS_PURGE_EVERY_MS)
                return 0;
        tx->events_purged_ms = tx->now_ms;
        if (l->events_max_count > 0 && tx->now_ms - tx->events_counted_ms >= count_every_ms(tx)) {
                tx->events_counted_ms = tx->now_ms;
                keep = l->events_max_count;
        }
        return tx->ops->event_purge(tx->st, tx->now_ms - l->events_max_age_ms, keep, batch, n_out);
}
