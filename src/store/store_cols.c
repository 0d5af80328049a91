/*
 * store_cols.c: the column tables of store_cols.h (the job row and the
 * records of store.h) and the reading and binding that both backends do
 * through them. A table lists a record's columns in the order of its SQL
 * column list; store_read and store_bind_cols walk it, so no backend has a
 * reader or binder per record of its own. Assumptions: as in store_cols.h.
 */
#include "store/store_cols.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/buf.h"
#include "store/job.h"

#define JCOL(name, kind, field)                                                                    \
        {                                                                                          \
                name, kind, offsetof(struct job, field)                                            \
        }

const struct store_col store_job_cols[] = {
    JCOL("queue", COL_TEXT, queue),
    JCOL("type", COL_TEXT, type),
    JCOL("payload", COL_TEXT, payload),
    JCOL("priority", COL_INT, priority),
    JCOL("state", COL_INT, state),
    JCOL("run_at", COL_I64, run_at_ms),
    JCOL("attempt", COL_INT, attempt),
    JCOL("max_attempts", COL_INT, max_attempts),
    JCOL("backoff_type", COL_INT, backoff.type),
    JCOL("backoff_base_ms", COL_I64, backoff.base_ms),
    JCOL("backoff_max_ms", COL_I64, backoff.max_ms),
    JCOL("lease_ms", COL_I64, lease_ms),
    JCOL("idempotency_key", COL_TEXT, idempotency_key),
    JCOL("dkey", COL_TEXT, key),
    JCOL("request_id", COL_TEXT, request_id),
    JCOL("execution_id", COL_TEXT, execution_id),
    JCOL("traceparent", COL_TEXT, traceparent),
    JCOL("lease", COL_TEXT, lease),
    JCOL("lease_until", COL_I64, lease_until_ms),
    JCOL("worker", COL_TEXT, worker),
    JCOL("settled", COL_INT, settled),
    JCOL("cancel_requested", COL_BOOL, cancel_requested),
    JCOL("version", COL_I64, version),
    JCOL("started_at", COL_I64, started_at_ms),
    JCOL("finished_at", COL_I64, finished_at_ms),
    JCOL("ready_at", COL_I64, ready_at_ms),
    JCOL("result", COL_TEXT, result),
    JCOL("last_error", COL_TEXT, last_error),
    JCOL("progress", COL_TEXT, progress),
    JCOL("attempts", COL_TEXT, attempts),
    JCOL("steps", COL_TEXT, steps),
    JCOL("cancel_reason", COL_TEXT, cancel_reason),
    JCOL("timer", COL_TEXT, timer),           /* migration 4 */
    JCOL("depends_on", COL_TEXT, depends_on), /* migration 5 */
    JCOL("on_parent_failure", COL_INT, on_parent_failure),
    JCOL("flow_id", COL_I64, flow_id),
    JCOL("ref", COL_TEXT, ref),
    JCOL("grp", COL_TEXT, group),            /* migration 7 */
    JCOL("cron", COL_TEXT, cron),            /* migration 8 */
    JCOL("timeout_ms", COL_I64, timeout_ms), /* migration 13 */
    JCOL("uniq", COL_BOOL, unique_active),
};

const int store_job_ncols = (int)BATON_ARRAY_LEN(store_job_cols);

/* The columns one attempt's run changes (job_update_run): a claim, a
 * heartbeat, a settle and a lease expiry write these and no others, so that
 * SQLite rewrites only the entries of the indexes over them (state, run_at,
 * lease_until, worker, finished_at) and not those over the job's fixed
 * columns (queue, type, dkey, request_id, ...). By position in
 * store_job_cols, with the name that store_rowdefs_agree checks against it,
 * so that binding costs no lookup. */
static const struct {
        int col;
        const char *name;
} job_run_cols[] = {
    {4, "state"},          {5, "run_at"},       {6, "attempt"},   {17, "lease"},
    {18, "lease_until"},   {19, "worker"},      {20, "settled"},  {21, "cancel_requested"},
    {23, "started_at"},    {24, "finished_at"}, {25, "ready_at"}, {26, "result"},
    {27, "last_error"},    {28, "progress"},    {29, "attempts"}, {30, "steps"},
    {31, "cancel_reason"},
};

const int store_job_nrun = (int)BATON_ARRAY_LEN(job_run_cols);

/* The position of worker in store_job_cols: a settle's update leaves it out
 * (job_update_settle), since the attempt's worker stays, and SQLite would
 * otherwise rewrite the job's job_tworker entry with the same value. */
enum { JOB_COL_WORKER = 19 };

/* The index in store_job_cols of the i-th run column. */
static int job_run_col(int i)
{
        return job_run_cols[i].col;
}

/* Whether job_run_cols names the columns at its positions. */
static bool job_run_cols_agree(void)
{
        for (int i = 0; i < store_job_nrun; i++)
                if (job_run_cols[i].col >= store_job_ncols ||
                    strcmp(store_job_cols[job_run_cols[i].col].name, job_run_cols[i].name) != 0)
                        return false;
        return strcmp(store_job_cols[JOB_COL_WORKER].name, "worker") == 0;
}

/* ---- the records of store.h, each in the order of its SQL column list ---- */

#define COL(rec, name, kind, field)                                                                \
        {                                                                                          \
                name, kind, offsetof(struct rec, field)                                            \
        }

static const struct store_col idem_cols[] = {
    COL(idem_rec, "tenant", COL_TEXT, tenant),
    COL(idem_rec, "key", COL_TEXT, key),
    COL(idem_rec, "job_id", COL_I64, job_id),
    COL(idem_rec, "payload_hash", COL_TEXT, payload_hash),
    COL(idem_rec, "expires_at", COL_I64, expires_at_ms),
};

static const struct store_col queue_cols[] = {
    COL(queue_rec, "tenant", COL_TEXT, tenant),
    COL(queue_rec, "name", COL_TEXT, name),
    COL(queue_rec, "paused", COL_BOOL, paused),
    COL(queue_rec, "created_at", COL_I64, created_at_ms),
    COL(queue_rec, "updated_at", COL_I64, updated_at_ms),
};

static const struct store_col key_cols[] = {
    COL(key_rec, "id", COL_TEXT, id),
    COL(key_rec, "tenant", COL_TEXT, tenant),
    COL(key_rec, "name", COL_TEXT, name),
    COL(key_rec, "digest", COL_TEXT, digest),
    COL(key_rec, "prev_digest", COL_TEXT, prev_digest),
    COL(key_rec, "prev_until", COL_I64, prev_until_ms),
    COL(key_rec, "scopes", COL_U32, scopes),
    COL(key_rec, "created_at", COL_I64, created_at_ms),
    COL(key_rec, "expires_at", COL_I64, expires_at_ms),
    COL(key_rec, "revoked_at", COL_I64, revoked_at_ms),
    COL(key_rec, "rotated_at", COL_I64, rotated_at_ms),
    COL(key_rec, "rate_max", COL_I64, rate_max),
    COL(key_rec, "rate_per_ms", COL_I64, rate_per_ms),
    COL(key_rec, "created_by", COL_TEXT, created_by),
};

static const struct store_col audit_cols[] = {
    COL(audit_rec, "id", COL_I64, id),
    COL(audit_rec, "at", COL_I64, at_ms),
    COL(audit_rec, "key_id", COL_TEXT, key_id),
    COL(audit_rec, "tenant", COL_TEXT, tenant),
    COL(audit_rec, "action", COL_TEXT, action),
    COL(audit_rec, "target", COL_TEXT, target),
    COL(audit_rec, "request_id", COL_TEXT, request_id),
    COL(audit_rec, "status", COL_INT, status),
    COL(audit_rec, "code", COL_TEXT, code),
    COL(audit_rec, "detail", COL_TEXT, detail),
    COL(audit_rec, "n", COL_I64, n),
};

static const struct store_col timer_cols[] = {
    COL(timer_rec, "tenant", COL_TEXT, tenant),
    COL(timer_rec, "key", COL_TEXT, key),
    COL(timer_rec, "version", COL_I64, version),
    COL(timer_rec, "state", COL_INT, state),
    COL(timer_rec, "fire_at", COL_I64, fire_at_ms),
    COL(timer_rec, "queue", COL_TEXT, queue),
    COL(timer_rec, "type", COL_TEXT, type),
    COL(timer_rec, "payload", COL_TEXT, payload),
    COL(timer_rec, "priority", COL_INT, priority),
    COL(timer_rec, "max_attempts", COL_INT, max_attempts),
    COL(timer_rec, "backoff_type", COL_INT, backoff.type),
    COL(timer_rec, "backoff_base_ms", COL_I64, backoff.base_ms),
    COL(timer_rec, "backoff_max_ms", COL_I64, backoff.max_ms),
    COL(timer_rec, "lease_ms", COL_I64, lease_ms),
    COL(timer_rec, "request_id", COL_TEXT, request_id),
    COL(timer_rec, "job_id", COL_I64, job_id),
    COL(timer_rec, "fired_at", COL_I64, fired_at_ms),
    COL(timer_rec, "created_at", COL_I64, created_at_ms),
    COL(timer_rec, "updated_at", COL_I64, updated_at_ms),
    COL(timer_rec, "grp", COL_TEXT, group),
    COL(timer_rec, "due_at", COL_I64, due_at_ms),
    COL(timer_rec, "deferred", COL_INT, deferred),
};

static const struct store_col flow_cols[] = {
    COL(flow_rec, "id", COL_I64, id),
    COL(flow_rec, "tenant", COL_TEXT, tenant),
    COL(flow_rec, "created_at", COL_I64, created_at_ms),
    COL(flow_rec, "request_id", COL_TEXT, request_id),
};

static const struct store_col worker_cols[] = {
    COL(worker_rec, "tenant", COL_TEXT, tenant),
    COL(worker_rec, "id", COL_TEXT, id),
    COL(worker_rec, "info", COL_TEXT, info),
    COL(worker_rec, "queues", COL_TEXT, queues),
    COL(worker_rec, "first_seen", COL_I64, first_seen_ms),
    COL(worker_rec, "last_seen", COL_I64, last_seen_ms),
    COL(worker_rec, "period_ms", COL_I64, period_ms),
    COL(worker_rec, "completed", COL_I64, completed),
    COL(worker_rec, "failed", COL_I64, failed),
};

static const struct store_col session_cols[] = {
    COL(session_rec, "id", COL_TEXT, id),
    COL(session_rec, "csrf", COL_TEXT, csrf),
    COL(session_rec, "key_id", COL_TEXT, key_id),
    COL(session_rec, "key_digest", COL_TEXT, key_digest),
    COL(session_rec, "tenant", COL_TEXT, tenant),
    COL(session_rec, "created_at", COL_I64, created_at_ms),
    COL(session_rec, "expires_at", COL_I64, expires_at_ms),
};

static const struct store_col event_cols[] = {
    COL(event_rec, "id", COL_I64, id),        COL(event_rec, "tenant", COL_TEXT, tenant),
    COL(event_rec, "type", COL_TEXT, type),   COL(event_rec, "at", COL_I64, at_ms),
    COL(event_rec, "kind", COL_TEXT, kind),   COL(event_rec, "subject", COL_TEXT, subject),
    COL(event_rec, "queue", COL_TEXT, queue), COL(event_rec, "data", COL_TEXT, data),
};

static const struct store_col cron_cols[] = {
    COL(cron_rec, "tenant", COL_TEXT, tenant),
    COL(cron_rec, "key", COL_TEXT, key),
    COL(cron_rec, "spec", COL_TEXT, spec),
    COL(cron_rec, "enabled", COL_BOOL, enabled),
    COL(cron_rec, "paused", COL_BOOL, paused),
    COL(cron_rec, "pause_note", COL_TEXT, pause_note),
    COL(cron_rec, "next_fire_at", COL_I64, next_fire_at_ms),
    COL(cron_rec, "due_at", COL_I64, due_at_ms),
    COL(cron_rec, "buffered_at", COL_I64, buffered_at_ms),
    COL(cron_rec, "buffered_run_id", COL_I64, buffered_run_id),
    COL(cron_rec, "last_run_id", COL_I64, last_run_id),
    COL(cron_rec, "last_job_id", COL_I64, last_job_id),
    COL(cron_rec, "version", COL_I64, version),
    COL(cron_rec, "created_at", COL_I64, created_at_ms),
    COL(cron_rec, "updated_at", COL_I64, updated_at_ms),
};

static const struct store_col run_cols[] = {
    COL(cron_run, "id", COL_I64, id),
    COL(cron_run, "tenant", COL_TEXT, tenant),
    COL(cron_run, "key", COL_TEXT, key),
    COL(cron_run, "scheduled_at", COL_I64_OPT, scheduled_at_ms),
    COL(cron_run, "fired_at", COL_I64, fired_at_ms),
    COL(cron_run, "trigger", COL_TEXT, trigger),
    COL(cron_run, "job_id", COL_I64, job_id),
    COL(cron_run, "status", COL_TEXT, status),
    COL(cron_run, "reason", COL_TEXT, reason),
    COL(cron_run, "requested_by", COL_TEXT, requested_by),
    COL(cron_run, "payload", COL_TEXT, payload), /* migration 13 */
};

static const struct store_col group_cols[] = {
    COL(group_rec, "tenant", COL_TEXT, tenant),
    COL(group_rec, "queue", COL_TEXT, queue),
    COL(group_rec, "grp", COL_TEXT, grp),
    COL(group_rec, "running", COL_I64, running),
    COL(group_rec, "head", COL_INT_OPT, head),
    COL(group_rec, "served", COL_I64, served),
    COL(group_rec, "blocked", COL_BOOL, blocked),
    COL(group_rec, "until_at", COL_I64, until_ms),
    COL(group_rec, "start_seq", COL_I64, start_seq),
    COL(group_rec, "last_start", COL_I64, last_start_ms),
};

/* The settings (STORE_QLIM_SET_COLS: what qlim_put writes), then what a
 * qlim_get reads besides: the counters and whether the queue has groups and
 * a queues row. */
#define QLIM_SET_N 23
static const struct store_col qlim_cols[] = {
    COL(queue_limits, "tenant", COL_TEXT, tenant),
    COL(queue_limits, "queue", COL_TEXT, queue),
    COL(queue_limits, "concurrency", COL_I64, concurrency),
    COL(queue_limits, "rate_max", COL_I64, rate_max),
    COL(queue_limits, "rate_per_ms", COL_I64, rate_per_ms),
    COL(queue_limits, "max_depth", COL_I64, max_depth),
    COL(queue_limits, "group_concurrency", COL_I64, group_concurrency),
    COL(queue_limits, "group_rate_max", COL_I64, group_rate_max),
    COL(queue_limits, "group_rate_per_ms", COL_I64, group_rate_per_ms),
    COL(queue_limits, "def_max_attempts", COL_I64, def_max_attempts),
    COL(queue_limits, "def_lease_ms", COL_I64, def_lease_ms),
    COL(queue_limits, "def_backoff_type", COL_INT, def_backoff.type),
    COL(queue_limits, "def_backoff_base_ms", COL_I64, def_backoff.base_ms),
    COL(queue_limits, "def_backoff_max_ms", COL_I64, def_backoff.max_ms),
    COL(queue_limits, "start_seq", COL_I64, start_seq),
    COL(queue_limits, "serve_seq", COL_I64, serve_seq),
    COL(queue_limits, "nogroup_served", COL_I64, nogroup_served),
    COL(queue_limits, "updated_at", COL_I64, updated_at_ms),
    COL(queue_limits, "ret_completed_ms", COL_I64, ret_completed_ms),
    COL(queue_limits, "ret_dead_ms", COL_I64, ret_dead_ms),
    COL(queue_limits, "ret_cancelled_ms", COL_I64, ret_cancelled_ms),
    COL(queue_limits, "def_timeout_ms", COL_I64, def_timeout_ms), /* migration 16 */
    COL(queue_limits, "events_off", COL_BOOL, job_events_off),    /* migration 21 */
    COL(queue_limits, "depth", COL_I64, depth),
    COL(queue_limits, "running", COL_I64, running),
    COL(queue_limits, "grouped", COL_BOOL, grouped),
    COL(queue_limits, "known", COL_BOOL, known),
};

static const struct store_col lease_cols[] = {
    COL(leader_rec, "node", COL_NODE, node),
    COL(leader_rec, "epoch", COL_I64, epoch),
    COL(leader_rec, "lease_until", COL_I64, lease_until_ms),
    COL(leader_rec, "heartbeat_at", COL_I64, heartbeat_at_ms),
    COL(leader_rec, "lag_ms", COL_I64, lag_ms),
};

/* ---- reading ---- */

/* Reads column col of r into the field at f, of kind. */
static int read_col(const struct store_row *r, int col, int kind, void *f)
{
        char *node = NULL;
        int rc = 0;

        switch (kind) {
        case COL_TEXT:
                return r->text(r, col, (char **)f);
        case COL_I64:
        case COL_I64_OPT: /* NULL reads as 0 */
                *(int64_t *)f = r->i64(r, col);
                break;
        case COL_INT:
                *(int *)f = (int)r->i64(r, col);
                break;
        case COL_BOOL:
                *(bool *)f = r->i64(r, col) != 0;
                break;
        case COL_U32:
                *(uint32_t *)f = (uint32_t)r->i64(r, col);
                break;
        case COL_INT_OPT:
                *(int *)f = r->is_null(r, col) ? -1 : (int)r->i64(r, col);
                break;
        default:
                rc = r->text(r, col, &node);
                snprintf(f, STORE_NODE_MAX + 1, "%s", node ? node : "");
                free(node);
                break;
        }
        return rc;
}

/* Reads cols[0..n) from columns first.. of r into rec; stops at the first
 * failure (the strings read so far stay in rec). */
static int read_cols(const struct store_row *r, const struct store_col *cols, int n, int first,
                     void *rec)
{
        int rc = 0;

        for (int c = 0; c < n && !rc; c++)
                rc = read_col(r, first + c, cols[c].kind, (char *)rec + cols[c].off);
        return rc;
}

int store_read(const struct store_row *r, const struct store_rowdef *d, void *rec)
{
        int rc;

        memset(rec, 0, d->size);
        rc = d->read ? d->read(r, rec) : read_cols(r, d->cols, d->ncols, 0, rec);
        if (rc) {
                d->release(rec);
                memset(rec, 0, d->size);
        }
        return rc;
}

/* A job read: id, tenant and created_at, then the columns of store_job_cols. */
static int read_job(const struct store_row *r, void *rec)
{
        struct job *j = rec;
        int rc;

        j->id = r->i64(r, 0);
        j->created_at_ms = r->i64(r, 2);
        rc = r->text(r, 1, &j->tenant);
        return rc ? rc : read_cols(r, store_job_cols, store_job_ncols, STORE_JOB_READ_FIXED, j);
}

/* queue_limits: the backoff type -1 stands for "no default backoff". */
static int read_qlim(const struct store_row *r, void *rec)
{
        struct queue_limits *q = rec;
        int rc = read_cols(r, qlim_cols, (int)BATON_ARRAY_LEN(qlim_cols), 0, q);

        q->def_backoff_set = q->def_backoff.type >= 0;
        return rc;
}

/* ---- binding ---- */

static void bind_col(struct store_binder *b, int kind, const void *f)
{
        switch (kind) {
        case COL_TEXT:
                b->text(b, *(char *const *)f);
                break;
        case COL_I64:
                b->i64(b, *(const int64_t *)f);
                break;
        case COL_INT:
                b->i64(b, *(const int *)f);
                break;
        case COL_BOOL:
                b->i64(b, *(const bool *)f ? 1 : 0);
                break;
        case COL_U32:
                b->i64(b, (int64_t) * (const uint32_t *)f);
                break;
        case COL_INT_OPT:
                if (*(const int *)f >= 0)
                        b->i64(b, *(const int *)f);
                else
                        b->text(b, NULL);
                break;
        case COL_I64_OPT:
                if (*(const int64_t *)f)
                        b->i64(b, *(const int64_t *)f);
                else
                        b->text(b, NULL);
                break;
        default:
                b->text(b, f);
                break;
        }
}

static void bind_cols(struct store_binder *b, const struct store_col *cols, int from, int to,
                      const void *rec)
{
        for (int c = from; c < to; c++)
                bind_col(b, cols[c].kind, (const char *)rec + cols[c].off);
}

void store_bind_cols(struct store_binder *b, const struct store_rowdef *d, int from, int to,
                     const void *rec)
{
        BATON_ASSERT(from >= 0 && to <= d->ncols);
        bind_cols(b, d->cols, from, to, rec);
}

void store_bind_row(struct store_binder *b, const struct store_rowdef *d, const void *rec)
{
        if (d->bind)
                d->bind(b, rec);
        else
                bind_cols(b, d->cols, 0, d->ncols, rec);
}

void store_bind_args(struct store_binder *b, int n, const struct store_arg *a)
{
        for (int i = 0; i < n; i++) {
                if (a[i].is_text)
                        b->text(b, a[i].text);
                else
                        b->i64(b, a[i].i64);
        }
}

static void bind_job(struct store_binder *b, const void *rec)
{
        bind_cols(b, store_job_cols, 0, store_job_ncols, rec);
}

void store_bind_job_run(struct store_binder *b, const struct job *j, bool with_worker)
{
        for (int i = 0; i < store_job_nrun; i++) {
                int c = job_run_col(i);

                if (!with_worker && c == JOB_COL_WORKER)
                        continue;
                bind_col(b, store_job_cols[c].kind, (const char *)j + store_job_cols[c].off);
        }
}

/* Whether the field at a and at b of kind is the same value. */
static bool col_same(int kind, const char *a, const char *b)
{
        switch (kind) {
        case COL_TEXT: {
                const char *x = *(char *const *)a, *y = *(char *const *)b;

                return x == y || (x && y && strcmp(x, y) == 0);
        }
        case COL_I64:
        case COL_I64_OPT:
                return *(const int64_t *)a == *(const int64_t *)b;
        case COL_INT:
        case COL_INT_OPT:
                return *(const int *)a == *(const int *)b;
        case COL_BOOL:
                return *(const bool *)a == *(const bool *)b;
        default:
                BATON_ASSERTF(false, "job column of kind %d", kind);
                return false;
        }
}

const char *store_job_run_only(const struct job *stored, const struct job *j, bool with_worker)
{
        bool run[BATON_ARRAY_LEN(store_job_cols)] = {false};

        for (int i = 0; i < store_job_nrun; i++)
                run[job_run_col(i)] = with_worker || job_run_col(i) != JOB_COL_WORKER;
        for (int c = 0; c < store_job_ncols; c++)
                if (!run[c] &&
                    !col_same(store_job_cols[c].kind, (const char *)stored + store_job_cols[c].off,
                              (const char *)j + store_job_cols[c].off))
                        return store_job_cols[c].name;
        return NULL;
}

static void bind_timer(struct store_binder *b, const void *rec)
{
        struct timer_rec v = *(const struct timer_rec *)rec; /* a shallow copy: only read */

        if (v.due_at_ms <= 0)
                v.due_at_ms = v.fire_at_ms;
        bind_cols(b, timer_cols, 0, (int)BATON_ARRAY_LEN(timer_cols), &v);
}

static void bind_cron(struct store_binder *b, const void *rec)
{
        struct cron_rec v = *(const struct cron_rec *)rec;

        if (!v.spec)
                v.spec = "{}";
        bind_cols(b, cron_cols, 0, (int)BATON_ARRAY_LEN(cron_cols), &v);
}

static void bind_qlim(struct store_binder *b, const void *rec)
{
        struct queue_limits v = *(const struct queue_limits *)rec;

        if (!v.def_backoff_set)
                v.def_backoff.type = -1;
        bind_cols(b, qlim_cols, 0, QLIM_SET_N, &v);
}

/* Columns 1 (at) to 9 (detail) of audit_cols. */
void store_bind_audit(struct store_binder *b, const struct audit_rec *a)
{
        store_bind_cols(b, &store_audit_row, 1, 10, a);
        if (a->bucket) {
                b->text(b, a->bucket);
                b->i64(b, a->n > 0 ? a->n : 1);
        }
}

/* id (0), then name .. scopes (2..6) and expires_at .. created_by (8..13):
 * tenant and created_at never change. */
void store_bind_key_update(struct store_binder *b, const struct key_rec *k)
{
        store_bind_cols(b, &store_key_row, 0, 1, k);
        store_bind_cols(b, &store_key_row, 2, 7, k);
        store_bind_cols(b, &store_key_row, 8, 14, k);
}

void store_bind_run_update(struct store_binder *b, const struct cron_run *r)
{
        store_bind_args(b, STORE_ARGS(SA(r->tenant), SA(r->id), SA(r->job_id), SA(r->status),
                                      SA(r->reason), SA(r->fired_at_ms)));
}

/* ---- the records' definitions ---- */

static void release_job(void *p)
{
        job_free(p);
}

static void release_idem(void *p)
{
        idem_rec_free(p);
}

static void release_queue(void *p)
{
        queue_rec_free(p);
}

static void release_key(void *p)
{
        key_rec_free(p);
}

static void release_audit(void *p)
{
        audit_rec_free(p);
}

static void release_timer(void *p)
{
        timer_rec_free(p);
}

static void release_flow(void *p)
{
        flow_rec_free(p);
}

static void release_worker(void *p)
{
        worker_rec_free(p);
}

static void release_session(void *p)
{
        session_rec_free(p);
}

static void release_event(void *p)
{
        event_rec_free(p);
}

static void release_cron(void *p)
{
        cron_rec_free(p);
}

static void release_run(void *p)
{
        cron_run_free(p);
}

static void release_group(void *p)
{
        group_rec_free(p);
}

static void release_qlim(void *p)
{
        queue_limits_free(p);
}

static void release_nothing(void *p)
{
        (void)p;
}

#define ROWDEF(cols, type, sql, read, bind, release)                                               \
        {                                                                                          \
                cols, (int)BATON_ARRAY_LEN(cols), sizeof(type), sql, read, bind, release           \
        }

const struct store_rowdef store_job_row = {
    NULL, 0, sizeof(struct job), NULL, read_job, bind_job, release_job,
};
const struct store_rowdef store_idem_row =
    ROWDEF(idem_cols, struct idem_rec, STORE_IDEM_COLS, NULL, NULL, release_idem);
const struct store_rowdef store_queue_row =
    ROWDEF(queue_cols, struct queue_rec, STORE_QUEUE_COLS, NULL, NULL, release_queue);
const struct store_rowdef store_key_row =
    ROWDEF(key_cols, struct key_rec, STORE_KEY_COLS, NULL, NULL, release_key);
const struct store_rowdef store_audit_row =
    ROWDEF(audit_cols, struct audit_rec, STORE_AUDIT_COLS, NULL, NULL, release_audit);
const struct store_rowdef store_timer_row =
    ROWDEF(timer_cols, struct timer_rec, STORE_TIMER_COLS, NULL, bind_timer, release_timer);
const struct store_rowdef store_flow_row =
    ROWDEF(flow_cols, struct flow_rec, STORE_FLOW_COLS, NULL, NULL, release_flow);
const struct store_rowdef store_cron_row =
    ROWDEF(cron_cols, struct cron_rec, STORE_SCHED_COLS, NULL, bind_cron, release_cron);
const struct store_rowdef store_run_row =
    ROWDEF(run_cols, struct cron_run, STORE_RUN_COLS, NULL, NULL, release_run);
const struct store_rowdef store_group_row =
    ROWDEF(group_cols, struct group_rec, STORE_GROUP_COLS, NULL, NULL, release_group);
const struct store_rowdef store_qlim_row =
    ROWDEF(qlim_cols, struct queue_limits, NULL, read_qlim, bind_qlim, release_qlim);
const struct store_rowdef store_lease_row =
    ROWDEF(lease_cols, struct leader_rec, STORE_LEASE_COLS, NULL, NULL, release_nothing);
const struct store_rowdef store_worker_row =
    ROWDEF(worker_cols, struct worker_rec, STORE_WORKER_COLS, NULL, NULL, release_worker);
const struct store_rowdef store_session_row =
    ROWDEF(session_cols, struct session_rec, STORE_SESSION_COLS, NULL, NULL, release_session);
const struct store_rowdef store_event_row =
    ROWDEF(event_cols, struct event_rec, STORE_EVENT_COLS, NULL, NULL, release_event);

/* True when sql is the names of cols[0..n) joined by ", ". */
static bool names_agree(const struct store_col *cols, int n, const char *sql)
{
        struct buf b;
        bool same;
        int rc = 0;

        buf_init(&b, 4096);
        for (int c = 0; c < n && !rc; c++)
                rc = buf_printf(&b, "%s%s", c ? ", " : "", cols[c].name);
        same = !rc && strcmp(b.ptr, sql) == 0;
        buf_free(&b);
        return same;
}

bool store_rowdefs_agree(void)
{
        const struct store_rowdef *const defs[] = {
            &store_idem_row,  &store_queue_row, &store_key_row,    &store_audit_row,
            &store_timer_row, &store_flow_row,  &store_cron_row,   &store_run_row,
            &store_group_row, &store_lease_row, &store_worker_row, &store_session_row,
            &store_event_row,
        };

        for (size_t i = 0; i < BATON_ARRAY_LEN(defs); i++)
                if (!names_agree(defs[i]->cols, defs[i]->ncols, defs[i]->sql))
                        return false;
        return job_run_cols_agree() && names_agree(qlim_cols, QLIM_SET_N, STORE_QLIM_SET_COLS);
}

/* ---- list filters and the job statements' SQL ---- */

/* One optional term of a job_list: its column, operator and value. */
struct list_term {
        const char *col;
        const char *op;
        const char *text; /* the value of a text term */
        int64_t num;      /* the value of a number term (text NULL) */
};

#define LIST_TERMS_MAX 13

/* The terms f sets, in binding order; returns how many. */
static int list_terms(const struct job_filter *f, struct list_term *t)
{
        const struct {
                const char *col;
                const char *v;
        } texts[] = {
            {"queue", f->queue},
            {"type", f->type},
            {"grp", f->group},
            {"dkey", f->key},
            {"idempotency_key", f->idempotency_key},
            {"request_id", f->request_id},
            {"execution_id", f->execution_id},
            {"worker", f->worker},
        };
        const struct {
                const char *col;
                const char *op;
                int64_t v;
        } times[] = {
            {"created_at", ">=", f->created_after_ms},
            {"created_at", "<", f->created_before_ms},
            /* Jobs not finished have finished_at 0: an upper bound alone
             * must not find them. */
            {"finished_at",
             ">=", f->finished_after_ms || !f->finished_before_ms ? f->finished_after_ms : 1},
            {"finished_at", "<", f->finished_before_ms},
        };
        int n = 0;

        for (size_t i = 0; i < BATON_ARRAY_LEN(texts); i++)
                if (texts[i].v)
                        t[n++] = (struct list_term){texts[i].col, "=", texts[i].v, 0};
        if (f->state >= 0)
                t[n++] = (struct list_term){"state", "=", NULL, f->state};
        for (size_t i = 0; i < BATON_ARRAY_LEN(times); i++)
                if (times[i].v)
                        t[n++] = (struct list_term){times[i].col, times[i].op, NULL, times[i].v};
        return n;
}

void store_bind_job_filter(struct store_binder *b, const struct job_filter *f)
{
        struct list_term t[LIST_TERMS_MAX];
        int n = list_terms(f, t);

        b->text(b, f->tenant);
        for (int i = 0; i < n; i++) {
                if (t[i].text)
                        b->text(b, t[i].text);
                else
                        b->i64(b, t[i].num);
        }
        /* Descending from the start: below every id. */
        b->i64(b, f->desc && f->after_id <= 0 ? INT64_MAX : f->after_id);
        b->i64(b, f->limit);
}

const char *store_job_list_index(const struct job_filter *f)
{
        /* Most selective first: the ids a client holds name one job or a
         * few; then the columns that group many. */
        const struct {
                const char *v;
                const char *index;
        } order[] = {
            {f->idempotency_key, "job_tidem"}, {f->request_id, "job_treq"},
            {f->execution_id, "job_texec"},    {f->key, "job_tdkey"},
            {f->worker, "job_tworker"},        {f->group, "job_tgrp"},
        };

        for (size_t i = 0; i < BATON_ARRAY_LEN(order); i++)
                if (order[i].v)
                        return order[i].index;
        if (f->queue)
                return f->state >= 0 ? "job_tqs" : "job_tq";
        if (f->type)
                return "job_ttype";
        return f->state >= 0 ? "job_tstate" : "job_tenant";
}

int store_build_job_where(struct buf *b, const struct job_filter *f, char mark, int *n)
{
        struct list_term t[LIST_TERMS_MAX];
        int k = list_terms(f, t);
        int rc = buf_printf(b, "tenant = %c1 AND ", mark);

        *n = 2;
        for (int i = 0; i < k && !rc; i++)
                rc = buf_printf(b, "%s %s %c%d AND ", t[i].col, t[i].op, mark, (*n)++);
        if (!rc)
                rc = buf_printf(b, "id %s %c%d ORDER BY id%s LIMIT %c%d", f->desc ? "<" : ">", mark,
                                *n, f->desc ? " DESC" : "", mark, *n + 1);
        *n += 2;
        return rc;
}

/* A sample of tenant t1 with state st (-1 = any) and the other filters. */
#define LS(name, uses, st, ...)                                                                    \
        {                                                                                          \
                name, {.tenant = "t1", .state = st, .limit = 10, __VA_ARGS__}, uses                \
        }

const struct store_list_sample store_list_samples[] = {
    LS("tenant", "job_tenant", -1, .after_id = 0),
    LS("tenant desc", "job_tenant", -1, .desc = true),
    LS("queue", "job_tq", -1, .queue = "q1"),
    LS("queue desc", "job_tq", -1, .queue = "q1", .desc = true, .after_id = 100),
    LS("state", "job_tstate", 5, .after_id = 0),
    LS("state desc", "job_tstate", 5, .desc = true),
    LS("queue state", "job_tqs", 5, .queue = "q1"),
    LS("type", "job_ttype", -1, .type = "x"),
    LS("type desc", "job_ttype", -1, .type = "x", .desc = true),
    LS("group", "job_tgrp", -1, .group = "g1"),
    LS("key", "job_tdkey", -1, .key = "k1"),
    LS("idempotency_key", "job_tidem", -1, .idempotency_key = "i1"),
    LS("request_id", "job_treq", -1, .request_id = "r1"),
    LS("execution_id", "job_texec", -1, .execution_id = "e1"),
    LS("worker", "job_tworker", -1, .worker = "w1"),
    LS("worker desc", "job_tworker", -1, .worker = "w1", .desc = true),
    LS("created_after", "job_tenant", -1, .created_after_ms = 1),
    LS("created_before", "job_tenant", -1, .created_before_ms = 2, .desc = true),
    LS("finished_after", "job_tenant", -1, .finished_after_ms = 1),
    LS("finished_before", "job_tenant", -1, .finished_before_ms = 2),
    LS("queue state type", NULL, 5, .queue = "q1", .type = "x"),
    LS("key queue", NULL, -1, .key = "k1", .queue = "q1"),
    LS("all", NULL, 5, .queue = "q1", .type = "x", .group = "g1", .key = "k1",
       .idempotency_key = "i1", .request_id = "r1", .execution_id = "e1", .worker = "w1",
       .created_after_ms = 1, .created_before_ms = 2, .finished_after_ms = 1,
       .finished_before_ms = 2, .desc = true),
};
const int store_list_nsamples = (int)BATON_ARRAY_LEN(store_list_samples);

int store_audit_filter_bits(const struct audit_filter *f)
{
        return (f->tenant ? STORE_AF_TENANT : 0) | (f->action ? STORE_AF_ACTION : 0) |
               (f->key_id ? STORE_AF_KEY : 0);
}

void store_bind_audit_filter(struct store_binder *b, const struct audit_filter *f)
{
        const char *v[] = {f->tenant, f->action, f->key_id};

        for (int i = 0; i < 3; i++)
                if (v[i])
                        b->text(b, v[i]);
        b->i64(b, f->after_id);
        b->i64(b, f->limit);
}

/* Appends "<col> = <mark>N AND " for each of the n columns whose bit is in
 * bits, numbering from *p. */
static int add_terms(struct buf *b, const char *const *cols, int n, int bits, char mark, int *p)
{
        int rc = 0;

        for (int i = 0; i < n && !rc; i++)
                if (bits & (1 << i))
                        rc = buf_printf(b, "%s = %c%d AND ", cols[i], mark, (*p)++);
        return rc;
}

int store_build_audit_list(struct buf *b, int bits, char mark)
{
        static const char *const cols[] = {"tenant", "action", "key_id"};
        int n = 1;
        int rc = buf_adds(b, "SELECT " STORE_AUDIT_COLS " FROM audit WHERE ");

        if (!rc)
                rc = add_terms(b, cols, 3, bits, mark, &n);
        return rc ? rc : buf_printf(b, "id > %c%d ORDER BY id LIMIT %c%d", mark, n, mark, n + 1);
}

int store_build_job_cols(struct buf *b, const char *prefix)
{
        int rc = 0;

        for (int c = 0; c < store_job_ncols && !rc; c++)
                rc = buf_printf(b, ", %s%s", prefix, store_job_cols[c].name);
        return rc;
}

int store_build_job_select(struct buf *b, const char *prefix)
{
        int rc = buf_printf(b, "SELECT %sid, %stenant, %screated_at", prefix, prefix, prefix);

        return rc ? rc : store_build_job_cols(b, prefix);
}

int store_build_job_insert(struct buf *b, char mark, bool with_id)
{
        int first = with_id ? 4 : 3;
        int rc = buf_adds(b, with_id ? "INSERT INTO jobs (id, tenant, created_at"
                                     : "INSERT INTO jobs (tenant, created_at");

        if (!rc)
                rc = store_build_job_cols(b, "");
        if (!rc)
                rc = buf_printf(b, ") VALUES (%c1, %c2", mark, mark);
        if (!rc && with_id)
                rc = buf_printf(b, ", %c3", mark);
        for (int c = 0; c < store_job_ncols && !rc; c++)
                rc = buf_printf(b, ", %c%d", mark, first + c);
        return rc ? rc : buf_adds(b, ")");
}

int store_build_job_update(struct buf *b, char mark)
{
        int rc = buf_adds(b, "UPDATE jobs SET ");

        for (int c = 0; c < store_job_ncols && !rc; c++)
                rc = buf_printf(b, "%s%s = %c%d", c ? ", " : "", store_job_cols[c].name, mark,
                                c + 2);
        return rc ? rc : buf_printf(b, " WHERE id = %c1", mark);
}

int store_build_job_update_run(struct buf *b, char mark, bool with_worker)
{
        int rc = buf_adds(b, "UPDATE jobs SET ");
        int n = 0;

        for (int i = 0; i < store_job_nrun && !rc; i++) {
                if (!with_worker && job_run_col(i) == JOB_COL_WORKER)
                        continue;
                rc = buf_printf(b, "%s%s = %c%d", n ? ", " : "",
                                store_job_cols[job_run_col(i)].name, mark, n + 2);
                n++;
        }
        return rc ? rc : buf_printf(b, " WHERE id = %c1", mark);
}

/* ---- per-row callbacks ---- */

int store_row_first(void *ctx, const struct store_row *r, int i)
{
        const struct store_first *f = ctx;

        (void)i;
        if (f->d)
                return store_read(r, f->d, f->out);
        *(int64_t *)f->out = r->i64(r, 0);
        return 0;
}

int store_row_ids(void *ctx, const struct store_row *r, int i)
{
        struct store_ids *a = ctx;

        a->ids[i] = r->i64(r, 0);
        if (a->second)
                a->second[i] = r->i64(r, 1);
        if (a->prios)
                a->prios[i] = (int)r->i64(r, 1);
        return 0;
}

int store_row_rec(void *ctx, const struct store_row *r, int i)
{
        struct store_recs *a = ctx;
        int rc = store_grow((void **)&a->v, a->n, &a->cap, a->d->size);

        (void)i;
        if (!rc)
                rc = store_read(r, a->d, a->v + (size_t)a->n * a->d->size);
        if (!rc)
                a->n++;
        return rc;
}

int store_recs_end(struct store_recs *a, int rc, void *out, int *n_out)
{
        if (rc) {
                for (int i = 0; i < a->n; i++)
                        a->d->release(a->v + (size_t)i * a->d->size);
                free(a->v);
                a->v = NULL;
                a->n = 0;
        }
        *(void **)out = a->v;
        *n_out = a->n;
        return rc;
}

int store_row_job(void *ctx, const struct store_row *r, int i)
{
        struct store_jobs *a = ctx;
        struct job *j = job_vec_push(a->vec);
        int rc = j ? store_read(r, &store_job_row, j) : BATON_ENOMEM;

        (void)i;
        if (rc && j)
                a->vec->n--; /* store_read left the slot empty */
        if (!rc && a->bytes_max && (a->bytes += job_wire_bytes(j)) > a->bytes_max)
                return 1; /* the page is full */
        return rc;
}

/* ---- reads both backends answer alike ---- */

int64_t store_deadline_col(const struct store_row *r, int i)
{
        int64_t t;

        if (r->is_null(r, i))
                return 0;
        t = r->i64(r, i);
        return t > 0 ? t : 1;
}

static int64_t min_nonzero(int64_t a, int64_t b)
{
        if (!a || !b)
                return a ? a : b;
        return a < b ? a : b;
}

void store_read_deadlines(const struct store_row *r, struct store_deadlines *out)
{
        out->run_at_ms = store_deadline_col(r, 0);
        out->lease_until_ms = store_deadline_col(r, 1);
        out->completed_min_ms = store_deadline_col(r, 2);
        out->dead_min_ms = min_nonzero(store_deadline_col(r, 3), store_deadline_col(r, 4));
        out->idem_min_ms = store_deadline_col(r, 5);
        out->dep_work = !r->is_null(r, 6);
        out->audit_min_ms = store_deadline_col(r, 7);
        out->worker_min_ms = store_deadline_col(r, 8);
}

int store_row_state(void *ctx, const struct store_row *r, int i)
{
        struct queue_counts *out = ctx;
        int64_t state = r->i64(r, 0);

        (void)i;
        if (state >= 0 && state < JOB_STATE_COUNT)
                out->by_state[state] = r->i64(r, 1);
        return 0;
}

int store_row_instant(void *ctx, const struct store_row *r, int i)
{
        (void)i;
        *(int64_t *)ctx = store_deadline_col(r, 0);
        return 0;
}

/* ---- stats series (store_ops.stats_range) ---- */

void store_stats_init(struct store_stats_read *a)
{
        for (int k = 0; k < a->n; k++) {
                memset(a->out[k].n, 0, sizeof(a->out[k].n));
                a->out[k].depth = STATS_UNSAMPLED;
                a->out[k].running = STATS_UNSAMPLED;
        }
}

/* The step of minute at_ms, -1 outside the range the query asked for. */
static int stats_step(const struct store_stats_read *a, int64_t at_ms)
{
        int64_t k = at_ms < a->from_ms ? -1 : (at_ms - a->from_ms) / a->step_ms;

        return k >= 0 && k < a->n ? (int)k : -1;
}

static void stats_gauge(int64_t *g, int64_t v)
{
        if (*g < v)
                *g = v;
}

int store_stats_minute(void *ctx, const struct store_row *r, int i)
{
        struct store_stats_read *a = ctx;
        int k = stats_step(a, r->i64(r, 0));

        (void)i;
        if (k < 0)
                return 0;
        for (int c = 0; c < STATS_COUNTERS; c++)
                a->out[k].n[c] += r->i64(r, 1 + c);
        /* A minute has gauges only where it was sampled. */
        if (!r->is_null(r, 1 + STATS_COUNTERS)) {
                stats_gauge(&a->out[k].depth, r->i64(r, 1 + STATS_COUNTERS));
                stats_gauge(&a->out[k].running, r->i64(r, 2 + STATS_COUNTERS));
        }
        return 0;
}

int store_stats_mark(void *ctx, const struct store_row *r, int i)
{
        struct store_stats_read *a = ctx;
        int k = stats_step(a, r->i64(r, 0));

        (void)i;
        if (k >= 0) {
                stats_gauge(&a->out[k].depth, 0);
                stats_gauge(&a->out[k].running, 0);
        }
        return 0;
}
