/*
 * api_flows.c: the /v1/flows routes (docs/api.md, "Dependencies and flows"):
 * POST creates a DAG of jobs atomically, GET shows every job of a flow with
 * its ref, id and state.
 *
 * A flow body is {"jobs": [{"ref", "depends_on": [refs or job ids], ...enqueue
 * fields}]}. Everything is checked on the loop thread before any write: each
 * job through the enqueue parser (without its depends_on), refs unique,
 * every depends_on entry a ref of the flow or an existing job id, no cycle
 * (the refs on or behind one are named). One exec op then inserts the flow
 * and its jobs parents first (core/deps.c); a refused job rolls back all.
 * Workload: flows are at most batch_max jobs; one context per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/deps.h"
#include "server/api_internal.h"

struct flow_ctx {
        struct api_ctx base; /* first (api_ctx_new) */
        int64_t id;          /* GET */
        struct flow_req req;
        struct flow_res res;
        struct job_vec jobs;   /* GET */
        struct flow_page page; /* GET */
};

/* api_ctx_def.clear: what the context holds. */
static void ctx_clear(struct api_ctx *base)
{
        struct flow_ctx *c = container_of(base, struct flow_ctx, base);

        for (int i = 0; c->req.items && i < c->req.n; i++)
                flow_item_free(&c->req.items[i]);
        for (int i = 0; c->res.jobs && i < c->req.n; i++)
                job_free(&c->res.jobs[i].job);
        free(c->req.items);
        free(c->req.order);
        free(c->res.jobs);
        flow_rec_free(&c->res.flow);
        job_vec_free(&c->jobs);
}

/* "completed" when every job completed, "failed" when every job is terminal
 * and one is not completed, "running" otherwise. */
static const char *flow_state(const struct job *const *v, int n)
{
        bool all_terminal = true, all_completed = true;

        for (int i = 0; i < n; i++) {
                all_terminal = all_terminal && job_state_terminal(v[i]->state);
                all_completed = all_completed && v[i]->state == JOB_COMPLETED;
        }
        if (all_completed)
                return "completed";
        return all_terminal ? "failed" : "running";
}

/* The state of a flow from what a paged read saw of all its jobs. */
static const char *page_state(const struct flow_page *p)
{
        if (p->all_completed)
                return "completed";
        return p->all_terminal ? "failed" : "running";
}

/* Opens the answer {"flow": {"id", "state", "created_at", "jobs": [ for
 * the caller to write the jobs into and close. */
static void flow_open(struct jw *w, const struct flow_rec *f, const char *state)
{
        jw_obj_open(w);
        jw_key(w, "flow");
        jw_obj_open(w);
        api_kid(w, "id", f->id);
        jw_kstr(w, "state", state);
        jw_ktime(w, "created_at", f->created_at_ms);
        jw_key(w, "jobs");
        jw_arr_open(w);
}

/* GET's answer: the flow, the jobs of this page and its cursor ("next": the
 * last job's id when the byte budget left jobs out, else null; ?after=
 * continues). */
static void flow_page_json(struct jw *w, const struct flow_rec *f, const struct flow_page *pg,
                           const struct job_vec *jobs)
{
        flow_open(w, f, page_state(pg));
        for (int i = 0; i < jobs->n; i++)
                api_job_json(w, &jobs->v[i], false);
        jw_arr_close(w);
        api_kid(w, "next", pg->more && jobs->n > 0 ? jobs->v[jobs->n - 1].id : 0);
        jw_obj_close(w);
        jw_obj_close(w);
}

static void flow_json(struct jw *w, const struct flow_rec *f, const struct job *const *v, int n)
{
        flow_open(w, f, flow_state(v, n));
        for (int i = 0; i < n; i++)
                api_job_json(w, v[i], false);
        jw_arr_close(w);
        /* Every job is in the creation's answer; the member is there so the
         * flow object has one shape in both answers. */
        jw_kraw(w, "next", "null");
        jw_obj_close(w);
        jw_obj_close(w);
}

static void reply_flow(struct http_req *hr, int status, const struct flow_rec *f,
                       const struct job *const *v, int n)
{
        struct jw w;

        jw_init(&w, http_out(hr->srv));
        flow_json(&w, f, v, n);
        api_reply_jw(hr, status, &w);
}

/* ---- POST /v1/flows ---- */

static int create_fn(struct txn *tx, struct exec_op *op)
{
        struct flow_ctx *c = container_of(op, struct flow_ctx, base.op);

        return flow_create(tx, &c->req, &c->res);
}

static void create_done(struct exec_op *op)
{
        struct flow_ctx *c = container_of(op, struct flow_ctx, base.op);
        const struct job **v;
        char f[64];

        if (op->rc == BATON_EINVAL && c->res.failed >= 0 && c->res.bad_dep >= 0) {
                snprintf(f, sizeof(f), "jobs[%d].depends_on[%d]", c->res.failed, c->res.bad_dep);
                http_reply_error(c->base.hr, 400, "unknown_dependency", f,
                                 "%s is not a job of this tenant", f);
        } else if (op->rc == BATON_EBUSY) {
                http_reply_error(c->base.hr, 503, "queue_full", NULL,
                                 "a queue of the flow is at its max_depth; nothing was enqueued");
        } else if (op->rc == BATON_ERANGE && c->res.failed >= 0) {
                snprintf(f, sizeof(f), "jobs[%d].run_at", c->res.failed);
                http_reply_error(c->base.hr, 400, "delay_ms_out_of_range", f,
                                 "%s is more than %lld ms ahead (--delay-max-ms)", f,
                                 (long long)c->base.hr->srv->limits->delay_max_ms);
        } else if (op->rc == BATON_ECONFLICT && c->res.failed >= 0 &&
                   c->res.jobs[c->res.failed].held_id > 0) {
                snprintf(f, sizeof(f), "jobs[%d]", c->res.failed);
                api_unique_reply(c->base.hr, f, c->res.jobs, c->req.n, c->res.failed,
                                 c->req.items[c->res.failed].req.job.key);
        } else if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "flow");
        } else if (!(v = calloc((size_t)c->req.n, sizeof(*v)))) {
                http_reply_rc(c->base.hr, BATON_ENOMEM, NULL);
        } else {
                for (int i = 0; i < c->req.n; i++)
                        v[i] = &c->res.jobs[i].job;
                reply_flow(c->base.hr, 201, &c->res.flow, v, c->req.n);
                free(v);
        }
        api_ctx_free(&c->base);
}

/* The jobs array: 1..batch_max job objects. */
static int flow_items(struct http_req *hr, json_t **jobs, struct verr *e)
{
        const struct limits *l = hr->srv->limits;
        int rc = api_known_fields(hr->body, "", "jobs", e);

        *jobs = json_object_get(hr->body, "jobs");
        if (rc)
                return rc;
        if (!*jobs || json_is_null(*jobs))
                return verr_set(e, BATON_EINVAL, "missing_field", "jobs", "jobs is required");
        if (!json_is_array(*jobs) || json_array_size(*jobs) == 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", "jobs",
                                "jobs must be a non-empty array of job objects");
        if (json_array_size(*jobs) > (size_t)l->batch_max)
                return verr_set(e, BATON_ETOOBIG, "batch_too_large", "jobs",
                                "jobs holds %zu jobs; the limit is %d", json_array_size(*jobs),
                                l->batch_max);
        return 0;
}

/* Reads ref and the enqueue fields of item i (depends_on is read later, when
 * every ref is known). */
static int parse_item(struct http_req *hr, json_t *obj, int i, int64_t now_ms, struct flow_item *it,
                      struct verr *e)
{
        char prefix[32], f[64];
        const char *ref;
        json_t *copy;
        int rc;

        snprintf(prefix, sizeof(prefix), "jobs[%d]", i);
        if (!json_is_object(obj))
                return verr_set(e, BATON_EINVAL, "invalid_field", prefix, "%s must be a job object",
                                prefix);
        rc = api_get_str(obj, prefix, "ref", true, &ref, e);
        if (rc)
                return rc;
        if (!*ref || strlen(ref) > 128) {
                api_field(f, sizeof(f), prefix, "ref");
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "%s must be 1 to 128 characters", f);
        }
        if (!(it->ref = strdup(ref)))
                return verr_set(e, BATON_ENOMEM, "internal", prefix, "out of memory");
        copy = json_copy(obj);
        if (!copy)
                return verr_set(e, BATON_ENOMEM, "internal", prefix, "out of memory");
        json_object_del(copy, "depends_on");
        json_object_del(copy, "ref");
        rc = api_enqueue_parse(hr->srv->limits, copy, prefix, hr->tenant, hr->request_id, now_ms,
                               &it->req, e);
        json_decref(copy);
        return rc;
}

static int find_ref(const struct flow_req *r, const char *ref)
{
        for (int i = 0; i < r->n; i++)
                if (strcmp(r->items[i].ref, ref) == 0)
                        return i;
        return -1;
}

/* depends_on of item i: refs of the flow or existing job ids, no repeats. */
static int parse_item_deps(struct flow_req *r, json_t *obj, int i, struct verr *e)
{
        struct flow_item *it = &r->items[i];
        json_t *v = json_object_get(obj, "depends_on");
        char prefix[32], f[96];
        size_t n;
        int rc;

        snprintf(prefix, sizeof(prefix), "jobs[%d]", i);
        if (!v || json_is_null(v))
                return 0;
        rc = api_deps_check_array(v, prefix, e);
        if (rc)
                return rc;
        n = json_array_size(v);
        it->dep_ref = calloc(n ? n : 1, sizeof(*it->dep_ref));
        it->dep_id = calloc(n ? n : 1, sizeof(*it->dep_id));
        if (!it->dep_ref || !it->dep_id)
                return verr_set(e, BATON_ENOMEM, "internal", prefix, "out of memory");
        for (size_t k = 0; k < n; k++) {
                json_t *d = json_array_get(v, k);
                int ref = json_is_string(d) ? find_ref(r, json_string_value(d)) : -1;
                int64_t id = 0;

                snprintf(f, sizeof(f), "%s.depends_on[%zu]", prefix, k);
                /* A number can only be a job id; a string is a ref or an id. */
                if (!json_is_string(d) && (rc = api_body_id(d, f, &id, e)) != 0)
                        return rc;
                if (ref < 0 && api_dep_id(d, &id) != 0)
                        return verr_set(e, BATON_EINVAL, "unknown_ref", f,
                                        "%s is neither a ref of this flow nor a job id", f);
                if (ref == i)
                        return verr_set(e, BATON_EINVAL, "dependency_cycle", f,
                                        "%s: job %s depends on itself", f, it->ref);
                for (int m = 0; m < it->n_deps; m++)
                        if ((ref >= 0 && it->dep_ref[m] == ref) ||
                            (ref < 0 && it->dep_ref[m] < 0 && it->dep_id[m] == id))
                                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                                "%s repeats a parent", f);
                it->dep_ref[it->n_deps] = ref;
                it->dep_id[it->n_deps] = id;
                it->n_deps++;
        }
        return 0;
}

/* Orders the items parents first; a cycle is refused naming its refs. */
static int order_items(struct flow_req *r, struct verr *e)
{
        int **parents = calloc((size_t)r->n, sizeof(*parents));
        int *np = calloc((size_t)r->n, sizeof(*np));
        bool *bad = calloc((size_t)r->n, sizeof(*bad));
        int rc = 0;

        r->order = calloc((size_t)r->n, sizeof(*r->order));
        if (!parents || !np || !bad || !r->order) {
                rc = verr_set(e, BATON_ENOMEM, "internal", "jobs", "out of memory");
                goto out;
        }
        for (int i = 0; i < r->n && !rc; i++) {
                struct flow_item *it = &r->items[i];
                parents[i] = calloc((size_t)(it->n_deps ? it->n_deps : 1), sizeof(int));
                if (!parents[i]) {
                        rc = verr_set(e, BATON_ENOMEM, "internal", "jobs", "out of memory");
                        break;
                }
                for (int k = 0; k < it->n_deps; k++)
                        if (it->dep_ref[k] >= 0)
                                parents[i][np[i]++] = it->dep_ref[k];
        }
        if (!rc && deps_order(r->n, parents, np, r->order, bad) != 0) {
                char refs[256] = "";
                size_t len = 0;
                for (int i = 0; i < r->n && len + 4 < sizeof(refs); i++) {
                        if (!bad[i])
                                continue;
                        int w = snprintf(refs + len, sizeof(refs) - len, "%s%s", len ? ", " : "",
                                         r->items[i].ref);
                        len = w > 0 && (size_t)w < sizeof(refs) - len ? len + (size_t)w
                                                                      : sizeof(refs) - 1;
                }
                rc = verr_set(e, BATON_EINVAL, "dependency_cycle", "jobs",
                              "the jobs form a cycle: %s", refs);
        }
out:
        for (int i = 0; parents && i < r->n; i++)
                free(parents[i]);
        free(parents);
        free(np);
        free(bad);
        return rc;
}

static int parse_flow(struct http_req *hr, struct flow_ctx *c, struct verr *e)
{
        int64_t now_ms = clock_wall_ms(hr->srv->clock);
        struct flow_req *r = &c->req;
        json_t *jobs;
        char f[64];
        int rc = flow_items(hr, &jobs, e);

        if (rc)
                return rc;
        r->tenant = hr->tenant;
        r->request_id = hr->request_id;
        r->items = calloc(json_array_size(jobs), sizeof(*r->items));
        c->res.jobs = calloc(json_array_size(jobs), sizeof(*c->res.jobs));
        if (!r->items || !c->res.jobs)
                return verr_set(e, BATON_ENOMEM, "internal", "jobs", "out of memory");
        r->n = (int)json_array_size(jobs);
        for (int i = 0; i < r->n && !rc; i++) {
                rc = parse_item(hr, json_array_get(jobs, (size_t)i), i, now_ms, &r->items[i], e);
                if (!rc && find_ref(r, r->items[i].ref) != i) {
                        snprintf(f, sizeof(f), "jobs[%d].ref", i);
                        rc = verr_set(e, BATON_EINVAL, "duplicate_ref", f, "%s repeats the ref %s",
                                      f, r->items[i].ref);
                }
        }
        for (int i = 0; i < r->n && !rc; i++)
                rc = parse_item_deps(r, json_array_get(jobs, (size_t)i), i, e);
        if (!rc)
                rc = order_items(r, e);
        return rc;
}

static const struct api_ctx_def create_def = {
    sizeof(struct flow_ctx), create_fn, create_done, ctx_clear, NULL, NULL};

void api_flows_create(struct http_req *hr)
{
        struct flow_ctx *c = api_ctx_new(hr, &create_def, 0, false);
        struct verr e;

        if (!c)
                return;
        c->res.failed = -1;
        c->res.bad_dep = -1;
        api_ctx_submit(&c->base, parse_flow(hr, c, &e), &e);
}

/* ---- GET /v1/flows/{id} ---- */

static int get_fn(struct txn *tx, struct exec_op *op)
{
        struct flow_ctx *c = container_of(op, struct flow_ctx, base.op);

        return flow_read_page(tx, c->base.hr->tenant, c->id, &c->page, &c->res.flow, &c->jobs);
}

static void get_done(struct exec_op *op)
{
        struct flow_ctx *c = container_of(op, struct flow_ctx, base.op);
        struct jw w;

        if (op->rc) {
                api_reply_rc(c->base.hr, op->rc, "flow");
        } else {
                jw_init(&w, http_out(c->base.hr->srv));
                flow_page_json(&w, &c->res.flow, &c->page, &c->jobs);
                api_reply_jw(c->base.hr, 200, &w);
        }
        api_ctx_free(&c->base);
}

static const struct api_ctx_def get_def = {
    sizeof(struct flow_ctx), get_fn, get_done, ctx_clear, NULL, NULL};

void api_flows_get(struct http_req *hr)
{
        struct flow_ctx *c = api_ctx_new(hr, &get_def, 0, false);
        struct verr e;
        int rc;

        if (!c)
                return;
        c->page.bytes_max = api_page_budget_bytes(hr->srv->limits);
        rc = api_path_id(hr, 0, &c->id, &e);
        if (!rc)
                rc = api_query_after_id(hr, &c->page.after_id, &e);
        api_ctx_submit(&c->base, rc, &e);
}
