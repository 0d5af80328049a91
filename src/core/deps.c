/*
 * deps.c: the pure helpers of job dependencies (the parent list kept in the
 * job row as JSON text, the topological order of a flow) and the flow
 * transactions: create (every job of the DAG in one op, parents first) and
 * read. The dependency state changes themselves are in jobs.c (become_terminal
 * resolves the children of a job that ends).
 *
 * Workload: a flow holds at most limits->batch_max jobs with at most DEPS_MAX
 * parents each, so the order is computed with plain arrays in O(n + edges).
 */
#include "core/deps.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/baton.h"

const char *parent_policy_name(int p)
{
        return p == PARENT_FAIL_RUN ? "run" : "cancel";
}

int parent_policy_parse(const char *s)
{
        if (strcmp(s, "cancel") == 0)
                return PARENT_FAIL_CANCEL;
        if (strcmp(s, "run") == 0)
                return PARENT_FAIL_RUN;
        return -1;
}

int deps_ids_format(const int64_t *ids, int n, char **out)
{
        json_t *a = json_array();
        char tmp[32];
        int rc = 0;

        *out = NULL;
        if (!a)
                return BATON_ENOMEM;
        for (int i = 0; i < n && !rc; i++) {
                snprintf(tmp, sizeof(tmp), "%" PRId64, ids[i]);
                if (json_array_append_new(a, json_string(tmp)) != 0)
                        rc = BATON_ENOMEM;
        }
        if (!rc && !(*out = json_dumps(a, JSON_COMPACT)))
                rc = BATON_ENOMEM;
        json_decref(a);
        return rc;
}

int deps_ids_parse(const char *text, int64_t **ids, int *n)
{
        json_t *a = text ? json_loads(text, 0, NULL) : NULL;
        size_t len = json_is_array(a) ? json_array_size(a) : 0;
        int rc = 0;

        *ids = NULL;
        *n = 0;
        if (len == 0)
                goto out;
        *ids = calloc(len, sizeof(**ids));
        if (!*ids) {
                rc = BATON_ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < len; i++) {
                const char *s = json_string_value(json_array_get(a, i));
                if (s)
                        (*ids)[(*n)++] = strtoll(s, NULL, 10);
        }
out:
        json_decref(a);
        return rc;
}

int deps_order(int n, int *const *parents, const int *n_parents, int *order, bool *in_cycle)
{
        int *waiting = calloc((size_t)(n ? n : 1), sizeof(*waiting));
        bool *done = calloc((size_t)(n ? n : 1), sizeof(*done));
        int placed = 0;
        int rc = 0;

        if (!waiting || !done) {
                rc = BATON_ENOMEM;
                goto out;
        }
        for (int i = 0; i < n; i++)
                waiting[i] = n_parents[i];
        /* Repeated passes: a flow is small (batch_max), and this keeps the
         * order stable (item order among nodes that are ready together). */
        for (bool progress = true; progress && placed < n;) {
                progress = false;
                for (int i = 0; i < n; i++) {
                        int left = 0;
                        if (done[i])
                                continue;
                        for (int k = 0; k < n_parents[i]; k++)
                                left += !done[parents[i][k]];
                        if (left)
                                continue;
                        done[i] = true;
                        order[placed++] = i;
                        progress = true;
                }
        }
        for (int i = 0; i < n; i++)
                in_cycle[i] = !done[i];
        if (placed < n)
                rc = BATON_EINVAL;
out:
        free(waiting);
        free(done);
        return rc;
}

void flow_item_free(struct flow_item *it)
{
        job_free(&it->req.job);
        free(it->req.depends_on);
        it->req.depends_on = NULL;
        free(it->ref);
        free(it->dep_ref);
        free(it->dep_id);
        memset(it, 0, sizeof(*it));
}

int flow_create(struct txn *tx, struct flow_req *req, struct flow_res *res)
{
        int rc;

        res->failed = -1;
        res->bad_dep = -1;
        memset(&res->flow, 0, sizeof(res->flow));
        res->flow.created_at_ms = tx->now_ms;
        rc = str_set(&res->flow.tenant, req->tenant);
        if (!rc)
                rc = str_set(&res->flow.request_id, req->request_id);
        if (!rc)
                rc = tx->ops->flow_insert(tx->st, &res->flow);
        for (int o = 0; o < req->n && !rc; o++) {
                int i = req->order[o];
                struct flow_item *it = &req->items[i];

                for (int k = 0; k < it->n_deps; k++)
                        if (it->dep_ref[k] >= 0)
                                it->dep_id[k] = res->jobs[it->dep_ref[k]].job.id;
                it->req.job.flow_id = res->flow.id;
                rc = str_set(&it->req.job.ref, it->ref);
                if (rc)
                        break;
                it->req.depends_on = it->dep_id;
                it->req.n_depends_on = it->n_deps;
                rc = job_enqueue(tx, &it->req, &res->jobs[i]);
                it->req.depends_on = NULL;
                it->req.n_depends_on = 0;
                if (rc) {
                        res->failed = i;
                        res->bad_dep = res->jobs[i].bad_dep;
                }
        }
        if (rc)
                flow_rec_free(&res->flow);
        return rc;
}

/* Reads job id into jobs, and takes it out again unless page keeps it. */
int flow_read_job(struct txn *tx, const char *tenant, int64_t id, struct flow_page *page,
                  size_t *used, struct job_vec *jobs)
{
        struct job *j = job_vec_push(jobs);
        size_t n;
        int rc = j ? tx->ops->job_get(tx->st, tenant, id, j) : BATON_ENOMEM;

        if (rc || !page)
                return rc;
        page->all_terminal = page->all_terminal && job_state_terminal(j->state);
        page->all_completed = page->all_completed && j->state == JOB_COMPLETED;
        /* Kept: after the cursor, before the page's end, and within the
         * budget (the page's first job always is). */
        if (id > page->after_id && !page->more) {
                n = job_wire_bytes(j);
                if (!page->bytes_max || jobs->n == 1 || *used + n <= page->bytes_max) {
                        *used += n;
                        return 0;
                }
                page->more = true;
        }
        job_free(j);
        jobs->n--;
        return 0;
}

int flow_read_page(struct txn *tx, const char *tenant, int64_t id, struct flow_page *page,
                   struct flow_rec *flow, struct job_vec *jobs)
{
        int64_t ids[256];
        int64_t after = 0;
        size_t used = 0;
        int n = 0;
        int rc;

        memset(flow, 0, sizeof(*flow));
        if (page) {
                page->more = false;
                page->all_terminal = page->all_completed = true;
        }
        rc = tx->ops->flow_get(tx->st, tenant, id, flow);
        while (!rc) {
                rc = tx->ops->flow_job_ids(tx->st, tenant, id, after, 256, ids, &n);
                for (int i = 0; i < n && !rc; i++)
                        rc = flow_read_job(tx, tenant, ids[i], page, &used, jobs);
                if (rc || n < 256)
                        break;
                after = ids[n - 1];
        }
        if (rc) {
                flow_rec_free(flow);
                job_vec_free(jobs);
        }
        return rc;
}

int flow_read(struct txn *tx, const char *tenant, int64_t id, struct flow_rec *flow,
              struct job_vec *jobs)
{
        return flow_read_page(tx, tenant, id, NULL, flow, jobs);
}
