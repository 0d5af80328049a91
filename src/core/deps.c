/*
 * deps.c: the pure helpers of job dependencies (the parent list kept in the
 * job row as JSON text, the topological order of a flow) and the flow
 * transactions: create (every job of the DAG in one op, parents first) and
 * read, and the cascade's work list (deps.h): when a job ends its children
 * are re-decided from an explicit stack, at most DEPS_CASCADE_STEP steps per
 * transaction, the rest continued by the leader from the store's work list.
 * How one child is re-decided is in jobs.c (resolve_child), next to
 * become_terminal, the one place a job ends.
 *
 * Workload: a flow holds at most limits->batch_max jobs with at most DEPS_MAX
 * parents each, so the order is computed with plain arrays in O(n + edges).
 * A cascade may cover millions of descendants (chains of flows); each
 * transaction does a bounded part of it, and its stack lives on the heap
 * (DEPS_CASCADE_STEP + DEPS_WORK_LOAD entries of 32 bytes).
 */
#include "core/deps.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/jsonx.h"

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

/* A claim of a job with parents hands the worker their results. */
int deps_parents_json(struct txn *tx, struct job *j)
{
        json_t *a = json_array();
        int64_t *ids = NULL;
        char *text = NULL;
        char tmp[32];
        int n = 0;
        int rc = a ? deps_ids_parse(j->depends_on, &ids, &n) : BATON_ENOMEM;

        for (int i = 0; i < n && !rc; i++) {
                struct job p = {0};
                json_t *e = json_object();
                json_t *res = NULL;
                int g = tx->ops->job_get(tx->st, j->tenant, ids[i], &p);

                if (g && g != BATON_ENOTFOUND)
                        rc = g;
                /* A parent purged since, or a result that no longer reads,
                 * is null. */
                if (!g && p.result)
                        res = json_loads(p.result, JSON_DECODE_ANY, NULL);
                snprintf(tmp, sizeof(tmp), "%" PRId64, ids[i]);
                jsonx_set(&rc, e, "id", json_string(tmp));
                jsonx_set(&rc, e, "result", res ? res : json_null());
                jsonx_append(&rc, a, e);
                job_free(&p);
        }
        free(ids);
        jsonx_dumps(&rc, a, JSON_COMPACT, &text);
        json_decref(a);
        if (!rc) {
                free(j->parents);
                j->parents = text;
        }
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

/* ---- the cascade (deps.h): an explicit work list, bounded per transaction ---- */

/* Pushes (id, after_id) on the work list; a full list sends the entry to the
 * store's work list instead, which the leader continues (never expected: a
 * step pushes at most one entry, and cap covers a whole budget). */
static int deps_push(struct txn *tx, struct deps_work *w, int64_t id, int state)
{
        int rc = 0;

        if (w->n < w->cap) {
                w->v[w->n++] = (struct deps_item){id, 0, 0, state, false};
        } else {
                txn_note_deadline(tx, tx->now_ms);
                rc = tx->ops->dep_work_put(tx->st, id, 0);
        }
        return rc;
}

/* The entry on top has no children left: a durable one loses its row. */
static int deps_finish_top(struct txn *tx, struct deps_work *w)
{
        struct deps_item it = w->v[--w->n];

        if (!it.durable)
                return 0;
        return tx->ops->dep_work_move(tx->st, it.id, it.from_after, -1);
}

/* Takes steps until the list is empty or the budget is spent. One step reads
 * a batch of the top entry's children (moving its cursor past them), and one
 * more per child re-decided; a child that ends is pushed on top by
 * deps_cascade, so the walk goes depth first and the list stays short. */
static int deps_drain(struct txn *tx, struct deps_work *w, deps_resolve_fn resolve)
{
        int64_t ids[DEPS_CHILD_BATCH];
        int rc = 0;

        while (!rc && w->n > 0) {
                int room = DEPS_CASCADE_STEP - tx->deps_steps - 1;
                int want = room < DEPS_CHILD_BATCH ? room : DEPS_CHILD_BATCH;
                struct deps_item *top = &w->v[w->n - 1];
                int64_t parent = top->id;
                int state = top->state;
                int n = 0;

                if (want <= 0)
                        break;
                rc = tx->ops->dep_children(tx->st, top->id, top->after_id, want, ids, &n);
                tx->deps_steps++;
                if (rc)
                        break;
                BATON_ASSERT(n >= 0 && n <= want);
                /* One read for the batch on a backend with round trips
                 * (store.h job_get_many), which also learns which of them
                 * have children of their own. */
                if (n > 0 && tx->ops->job_get_many)
                        rc = tx->ops->job_get_many(tx->st, NULL, ids, n, NULL);
                if (rc)
                        break;
                if (n < want)
                        rc = deps_finish_top(tx, w);
                else
                        top->after_id = ids[n - 1];
                for (int i = 0; i < n && !rc; i++) {
                        rc = resolve(tx, ids[i], parent, state);
                        tx->deps_steps++;
                }
        }
        BATON_ASSERT(tx->deps_steps <= DEPS_CASCADE_STEP);
        return rc;
}

/* Writes what the budget left of the list to the store's work list (a
 * durable entry only when its cursor moved) and asks the leader to go on at
 * once. */
static int deps_spill(struct txn *tx, struct deps_work *w)
{
        int rc = 0;

        for (int i = 0; i < w->n && !rc; i++) {
                const struct deps_item *it = &w->v[i];
                if (!it->durable)
                        rc = tx->ops->dep_work_put(tx->st, it->id, it->after_id);
                else if (it->after_id != it->from_after)
                        rc = tx->ops->dep_work_move(tx->st, it->id, it->from_after, it->after_id);
        }
        if (w->n > 0)
                txn_note_deadline(tx, tx->now_ms);
        return rc;
}

/* Drains w (holding its first entries) within the budget, then spills the
 * rest. *left: entries that were left. */
static int deps_run(struct txn *tx, struct deps_work *w, deps_resolve_fn resolve, int *left)
{
        int rc;

        BATON_ASSERT(!tx->deps_work);
        tx->deps_work = w;
        rc = deps_drain(tx, w, resolve);
        tx->deps_work = NULL;
        if (!rc)
                rc = deps_spill(tx, w);
        *left = w->n;
        return rc;
}

/* A work list with room for a whole budget of pushes on top of load
 * entries; w->v is malloc'd, freed by the caller. */
static int deps_work_init(struct deps_work *w, int load)
{
        w->n = 0;
        w->cap = DEPS_CASCADE_STEP + load + 1;
        w->v = malloc((size_t)w->cap * sizeof(*w->v));
        return w->v ? 0 : BATON_ENOMEM;
}

int deps_cascade(struct txn *tx, struct job *j, deps_resolve_fn resolve)
{
        struct deps_work w = {0};
        int64_t child = 0;
        int left = 0;
        int n = 0;
        int rc;

        BATON_ASSERT(job_state_terminal(j->state));
        if (tx->deps_work) {
                rc = deps_push(tx, tx->deps_work, j->id, j->state);
                goto out;
        }
        rc = tx->ops->dep_children(tx->st, j->id, 0, 1, &child, &n);
        if (rc || n == 0)
                goto out;
        if (tx->deps_steps >= DEPS_CASCADE_STEP - 1) {
                /* No budget left in this transaction: the leader starts it,
                 * after the commit that writes j. */
                txn_note_deadline(tx, tx->now_ms);
                rc = tx->ops->dep_work_put(tx->st, j->id, 0);
                goto out;
        }
        /* Its children read its final state from the store. */
        rc = tx->ops->job_update(tx->st, j);
        if (!rc)
                rc = deps_work_init(&w, 1);
        if (!rc) {
                w.v[w.n++] = (struct deps_item){j->id, 0, 0, j->state, false};
                rc = deps_run(tx, &w, resolve, &left);
        }
out:
        free(w.v);
        return rc;
}

int deps_cascade_resume(struct txn *tx, deps_resolve_fn resolve, int *taken, bool *more)
{
        struct deps_work w = {0};
        int64_t ids[DEPS_WORK_LOAD];
        int64_t afters[DEPS_WORK_LOAD];
        int room = DEPS_CASCADE_STEP - tx->deps_steps - 1;
        int load = room < DEPS_WORK_LOAD ? room : DEPS_WORK_LOAD;
        int left = 0;
        int n = 0;
        int rc = 0;

        *taken = 0;
        *more = true;
        if (load <= 0)
                goto out; /* the budget is spent: the next tick goes on */
        rc = tx->ops->dep_work_next(tx->st, load, ids, afters, &n);
        if (!rc && n > 0)
                rc = deps_work_init(&w, n);
        /* Pushed in reverse, so the oldest ended job is on top and goes first. */
        for (int i = n - 1; !rc && i >= 0; i--)
                w.v[w.n++] = (struct deps_item){ids[i], afters[i], afters[i], -1, true};
        if (!rc && n > 0)
                rc = deps_run(tx, &w, resolve, &left);
        *taken = n;
        *more = left > 0 || n == load;
out:
        free(w.v);
        return rc;
}
