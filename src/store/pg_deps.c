/*
 * pg_deps.c: job dependencies (job_deps), flows and the dependency cascade's
 * work list (dep_work) in the PostgreSQL backend (struct store_ops). Split
 * from pg.c. Workload: a flow inserts its jobs and their edges in one batch;
 * a job that becomes terminal resolves its children a page at a time through
 * the work list, so a cascade over many jobs is bounded per transaction and
 * survives a restart. dep_children answers without a round trip for the jobs
 * known to have no children (st->nochild, kept by pg_jobs.c).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

static const struct pg_stmt
    S_DEP_INSERT = {"pg_dep_insert", "INSERT INTO job_deps (parent_id, child_id, tenant)"
                                     " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"},
    S_DEP_CHILDREN = {"pg_dep_children",
                      "SELECT child_id FROM job_deps WHERE parent_id = $1 AND child_id > $2"
                      " ORDER BY child_id LIMIT $3"},
    /* Version 8: the dependency cascade's work list (store.h). */
    S_DEP_WORK_PUT = {"pg_dep_work_put",
                      "INSERT INTO dep_work (job_id, after_id) VALUES ($1, $2)"
                      " ON CONFLICT (job_id) DO UPDATE SET after_id = excluded.after_id"},
    S_DEP_WORK_NEXT = {"pg_dep_work_next",
                       "SELECT job_id, after_id FROM dep_work ORDER BY job_id LIMIT $1"},
    S_DEP_WORK_ADVANCE = {"pg_dep_work_advance",
                          "UPDATE dep_work SET after_id = $3 WHERE job_id = $1 AND after_id = $2"},
    S_DEP_WORK_DONE = {"pg_dep_work_done",
                       "DELETE FROM dep_work WHERE job_id = $1 AND after_id = $2"},
    S_FLOW_INSERT = {"pg_flow_insert", "INSERT INTO flows (tenant, created_at, request_id)"
                                       " VALUES ($1, $2, $3) RETURNING id"},
    S_FLOW_GET = {"pg_flow_get", "SELECT " STORE_FLOW_COLS " FROM flows"
                                 " WHERE id = $1 AND tenant = $2"},
    S_FLOW_JOBS = {"pg_flow_job_ids",
                   "SELECT id FROM jobs WHERE flow_id > 0 AND flow_id = $2 AND tenant = $1"
                   " AND id > $3 ORDER BY id LIMIT $4"};

/* The read statements, for the plan checks (pg_plans.c). */
static const struct pg_stmt *const reads[] = {
    &S_DEP_CHILDREN,  &S_FLOW_GET,         &S_FLOW_JOBS,
    &S_DEP_WORK_NEXT, &S_DEP_WORK_ADVANCE, &S_DEP_WORK_DONE,
};
const struct pg_stmt_list pg_deps_stmts = {reads, (int)(sizeof(reads) / sizeof(reads[0]))};

/* ---- dependencies and flows ---- */

int pg_dep_insert(struct store *st, const char *tenant, int64_t parent_id, int64_t child_id)
{
        int rc;

        pg_idset_del(&st->nochild, parent_id);
        rc = pg_update(st, &S_DEP_INSERT, PG_ARGS(SA(parent_id), SA(child_id), SA(tenant)));
        return rc == BATON_ENOTFOUND ? BATON_ECONFLICT : rc; /* the edge exists */
}

int pg_dep_children(struct store *st, int64_t parent_id, int64_t after_id, int max, int64_t *ids,
                    int *n_out)
{
        /* Known to have none (job_get_many): nobody adds one without the
         * parent's row lock, which this transaction holds. */
        if (pg_idset_has(&st->nochild, parent_id)) {
                *n_out = 0;
                return 0;
        }

        return pg_ids(st, &S_DEP_CHILDREN, PG_ARGS(SA(parent_id), SA(after_id), SA(max)), max, ids,
                      n_out);
}

/* ---- the dependency cascade's work list (version 9) ---- */

/* Writes whose only outcome is success travel with the next round trip
 * (pg_defer_write), so a cascade that spills a thousand rows adds no round
 * trip of its own. */
int pg_dep_work_put(struct store *st, int64_t job_id, int64_t after_id)
{
        return pg_defer_write(st, &S_DEP_WORK_PUT, PG_ARGS(SA(job_id), SA(after_id)));
}

int pg_dep_work_next(struct store *st, int max, int64_t *ids, int64_t *afters, int *n_out)
{
        struct store_ids a = {ids, afters, NULL};

        return pg_each(st, &S_DEP_WORK_NEXT, PG_ARGS(SA(max)), max, store_row_ids, &a, n_out);
}

/* to_after < 0: the job's work is done and its row goes. */
int pg_dep_work_move(struct store *st, int64_t job_id, int64_t from_after, int64_t to_after)
{
        struct pg_params p = {0};

        PG_ADD(&p, SA(job_id), SA(from_after));
        if (to_after < 0)
                return pg_defer_write(st, &S_DEP_WORK_DONE, &p);
        pg_p_i64(&p, to_after);
        return pg_defer_write(st, &S_DEP_WORK_ADVANCE, &p);
}

int pg_flow_insert(struct store *st, struct flow_rec *f)
{
        struct pg_params p = {0};
        struct store_binder b = pg_binder(&p);

        store_bind_cols(&b, &store_flow_row, 1, 4, f);
        return pg_int(st, &S_FLOW_INSERT, &p, &f->id, NULL);
}

int pg_flow_get(struct store *st, const char *tenant, int64_t id, struct flow_rec *out)
{
        return pg_get_one(st, &S_FLOW_GET, PG_ARGS(SA(id), SA(tenant)), &store_flow_row, out);
}

int pg_flow_job_ids(struct store *st, const char *tenant, int64_t flow_id, int64_t after_id,
                    int max, int64_t *ids, int *n_out)
{
        return pg_ids(st, &S_FLOW_JOBS, PG_ARGS(SA(tenant), SA(flow_id), SA(after_id), SA(max)),
                      max, ids, n_out);
}
