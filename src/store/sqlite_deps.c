/*
 * sqlite_deps.c: job dependencies of the SQLite backend (struct store_ops): the
 * job_deps edges, flows (a group of jobs enqueued together) and the dependency
 * cascade's work list (dep_work, version 9), which lets the core resolve a
 * parent's children in bounded steps without recursion. Workload: one edge per
 * dependency at enqueue, a page of children per cascade step. Assumptions:
 * calls come from the store thread inside a transaction.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

/* ---- dependencies and flows ---- */

int sqlite_dep_insert(struct store *st, const char *tenant, int64_t parent_id, int64_t child_id)
{
        return sqlite_run(
            st, SQLITE_STMT(st, S_DEP_INSERT, SA(parent_id), SA(child_id), SA(tenant)), NULL);
}

int sqlite_dep_children(struct store *st, int64_t parent_id, int64_t after_id, int max,
                        int64_t *ids, int *n_out)
{
        return sqlite_ids(st, SQLITE_STMT(st, S_DEP_CHILDREN, SA(parent_id), SA(after_id), SA(max)),
                          max, ids, n_out);
}

/* ---- the dependency cascade's work list (version 9) ---- */

int sqlite_dep_work_put(struct store *st, int64_t job_id, int64_t after_id)
{
        return sqlite_run(st, SQLITE_STMT(st, S_DEP_WORK_PUT, SA(job_id), SA(after_id)), NULL);
}

int sqlite_dep_work_next(struct store *st, int max, int64_t *ids, int64_t *afters, int *n_out)
{
        struct store_ids a = {ids, afters, NULL};

        return sqlite_each(st, SQLITE_STMT(st, S_DEP_WORK_NEXT, SA(max)), max, store_row_ids, &a,
                           n_out);
}

/* to_after < 0: the job's work is done and its row goes. */
int sqlite_dep_work_move(struct store *st, int64_t job_id, int64_t from_after, int64_t to_after)
{
        sqlite3_stmt *s =
            to_after < 0
                ? SQLITE_STMT(st, S_DEP_WORK_DONE, SA(job_id), SA(from_after))
                : SQLITE_STMT(st, S_DEP_WORK_ADVANCE, SA(job_id), SA(from_after), SA(to_after));

        return sqlite_run(st, s, NULL);
}

int sqlite_flow_insert(struct store *st, struct flow_rec *f)
{
        sqlite3_stmt *s = st->stmt[S_FLOW_INSERT];
        struct store_binder b = sqlite_binder(s, 1);

        store_bind_cols(&b, &store_flow_row, 1, 4, f);
        return sqlite_insert(st, s, &f->id);
}

int sqlite_flow_get(struct store *st, const char *tenant, int64_t id, struct flow_rec *out)
{
        return sqlite_one(st, SQLITE_STMT(st, S_FLOW_GET, SA(id), SA(tenant)), &store_flow_row,
                          out);
}

int sqlite_flow_job_ids(struct store *st, const char *tenant, int64_t flow_id, int64_t after_id,
                        int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s =
            SQLITE_STMT(st, S_FLOW_JOBS, SA(tenant), SA(flow_id), SA(after_id), SA(max));

        return sqlite_ids(st, s, max, ids, n_out);
}
