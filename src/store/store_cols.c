/*
 * store_cols.c: the job column table of store_cols.h, shared by the SQLite and
 * PostgreSQL backends.
 */
#include "store/store_cols.h"

#include "common/errors.h"
#include "common/assert.h"
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
    JCOL("grp", COL_TEXT, group), /* migration 7 */
    JCOL("cron", COL_TEXT, cron), /* migration 8 */
};

const int store_job_ncols = (int)BATON_ARRAY_LEN(store_job_cols);
