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
        sqlite3_stmt *s = st->stmt[S_DEP_INSERT];

        sqlite3_bind_int64(s, 1, parent_id);
        sqlite3_bind_int64(s, 2, child_id);
        sqlite_bind_text(s, 3, tenant);
        return sqlite_run(st, s, "dep_insert");
}

int sqlite_dep_children(struct store *st, int64_t parent_id, int64_t after_id, int max,
                        int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_DEP_CHILDREN];

        sqlite3_bind_int64(s, 1, parent_id);
        sqlite3_bind_int64(s, 2, after_id);
        sqlite3_bind_int(s, 3, max);
        return sqlite_read_ids(st, s, max, ids, n_out, "dep_children");
}

/* ---- the dependency cascade's work list (version 9) ---- */

int sqlite_dep_work_put(struct store *st, int64_t job_id, int64_t after_id)
{
        sqlite3_stmt *s = st->stmt[S_DEP_WORK_PUT];

        sqlite3_bind_int64(s, 1, job_id);
        sqlite3_bind_int64(s, 2, after_id);
        return sqlite_run(st, s, "dep_work_put");
}

int sqlite_dep_work_next(struct store *st, int max, int64_t *ids, int64_t *afters, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_DEP_WORK_NEXT];
        int n = 0;
        int rc;

        sqlite3_bind_int(s, 1, max);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
                ids[n] = sqlite3_column_int64(s, 0);
                afters[n] = sqlite3_column_int64(s, 1);
                n++;
        }
        rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sqlite_fail(st, rc, "dep_work_next");
        sqlite_finish(s);
        *n_out = rc ? 0 : n;
        return rc;
}

int sqlite_dep_work_move(struct store *st, int64_t job_id, int64_t from_after, int64_t to_after)
{
        sqlite3_stmt *s = st->stmt[to_after < 0 ? S_DEP_WORK_DONE : S_DEP_WORK_ADVANCE];

        sqlite3_bind_int64(s, 1, job_id);
        sqlite3_bind_int64(s, 2, from_after);
        if (to_after >= 0)
                sqlite3_bind_int64(s, 3, to_after);
        return sqlite_run(st, s, "dep_work_move");
}

int sqlite_flow_insert(struct store *st, struct flow_rec *f)
{
        sqlite3_stmt *s = st->stmt[S_FLOW_INSERT];
        int rc;

        sqlite_bind_text(s, 1, f->tenant);
        sqlite3_bind_int64(s, 2, f->created_at_ms);
        sqlite_bind_text(s, 3, f->request_id);
        rc = sqlite_run(st, s, "flow_insert");
        if (!rc)
                f->id = sqlite3_last_insert_rowid(st->db);
        return rc;
}

int sqlite_flow_get(struct store *st, const char *tenant, int64_t id, struct flow_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_FLOW_GET];
        struct flow_rec f = {0};
        int rc;

        sqlite3_bind_int64(s, 1, id);
        sqlite_bind_text(s, 2, tenant);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                f.id = sqlite3_column_int64(s, 0);
                f.created_at_ms = sqlite3_column_int64(s, 2);
                rc = sqlite_read_text(s, 1, &f.tenant);
                if (!rc)
                        rc = sqlite_read_text(s, 3, &f.request_id);
                if (rc)
                        flow_rec_free(&f);
                else
                        *out = f;
        } else {
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : sqlite_fail(st, rc, "flow_get");
        }
        sqlite_finish(s);
        return rc;
}

int sqlite_flow_job_ids(struct store *st, const char *tenant, int64_t flow_id, int64_t after_id,
                        int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_FLOW_JOBS];

        sqlite_bind_text(s, 1, tenant);
        sqlite3_bind_int64(s, 2, flow_id);
        sqlite3_bind_int64(s, 3, after_id);
        sqlite3_bind_int(s, 4, max);
        return sqlite_read_ids(st, s, max, ids, n_out, "flow_job_ids");
}
