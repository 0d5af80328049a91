/*
 * jobs_find.c: finding jobs by filter (GET /v1/jobs) and acting on what a
 * filter finds (POST /v1/jobs/bulk). job_query reads one store page per
 * state asked for and merges them, since a list of states is not one index
 * range; job_bulk runs the single-job action of each job it finds, so a bulk
 * retry, cancel, promote or purge means exactly what the one-job route does.
 *
 * Runs on the store thread inside the caller's transaction (txn.h); a bulk is
 * one operation, so its changes commit together or not at all. Workload: an
 * operator's call, a page (at most BULK_LIMIT_MAX jobs) at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/job_ops.h"
#include "core/jobs.h"

/* The states of f->states, in order; returns how many. */
static int states_of(unsigned mask, int *out)
{
        int n = 0;

        for (int s = 0; s < JOB_STATE_COUNT; s++)
                if (mask & (1u << s))
                        out[n++] = s;
        return n;
}

int job_query(struct txn *tx, const struct job_filter *f, struct job_vec *out)
{
        struct job_vec pages[JOB_STATE_COUNT];
        int states[JOB_STATE_COUNT];
        int k = states_of(f->states, states);
        struct job_filter g = *f;
        int rc = 0;

        if (k <= 1) {
                if (k == 1)
                        g.state = states[0];
                rc = tx->ops->job_list(tx->st, &g, out);
                if (rc)
                        job_vec_free(out);
                return rc;
        }
        memset(pages, 0, sizeof(pages));
        for (int i = 0; i < k && !rc; i++) {
                g.state = states[i];
                rc = tx->ops->job_list(tx->st, &g, &pages[i]);
        }
        if (!rc)
                rc = job_pages_merge(pages, k, f->limit, f->desc, f->bytes_max, out);
        for (int i = 0; i < k; i++)
                job_vec_free(&pages[i]);
        if (rc)
                job_vec_free(out);
        return rc;
}

static const char *const action_names[BULK_ACTION_COUNT] = {"retry", "cancel", "promote", "purge"};

const char *bulk_action_name(int action)
{
        return action >= 0 && action < BULK_ACTION_COUNT ? action_names[action] : "?";
}

int bulk_action_parse(const char *s)
{
        for (int i = 0; s && i < BULK_ACTION_COUNT; i++)
                if (strcmp(s, action_names[i]) == 0)
                        return i;
        return -1;
}

/* Whether a retry (or a promote) of job id would be refused for its dedup
 * key, which another pending job of the queue holds. job_retry and
 * jobs_promote_one find that out only when they write, after they have
 * counted the job back into its queue: the single-job route rolls the count
 * back with its operation, but a bulk goes on, so it leaves such a job alone
 * before touching it. */
static int key_taken(struct txn *tx, int action, const char *tenant, int64_t id, bool *taken)
{
        struct job j = {0};
        int rc = tx->ops->job_get(tx->st, tenant, id, &j);
        bool revived = action == BULK_RETRY ? j.state == JOB_DEAD || j.state == JOB_CANCELLED
                                            : j.state == JOB_RETRYING;

        *taken = false;
        if (!rc && revived)
                rc = jobs_key_held(tx, &j, taken);
        job_free(&j);
        return rc;
}

/* Applies the action to job id; *changed tells whether it did. The refusals
 * of a job the action does not apply to change nothing (each single-job
 * function checks before it writes, and a refused write changes nothing,
 * store.h), so the bulk goes on. */
static int act_one(struct txn *tx, int action, const char *tenant, int64_t id, bool *changed)
{
        struct job j = {0};
        bool taken = false;
        int rc;

        switch (action) {
        case BULK_RETRY:
                rc = key_taken(tx, action, tenant, id, &taken);
                if (!rc)
                        rc = taken ? BATON_ECONFLICT : job_retry(tx, tenant, id, &j);
                break;
        case BULK_CANCEL:
                rc = job_cancel(tx, tenant, id, &j);
                break;
        case BULK_PROMOTE:
                rc = key_taken(tx, action, tenant, id, &taken);
                if (!rc)
                        rc = taken ? BATON_ECONFLICT : jobs_promote_one(tx, tenant, id, &j);
                break;
        default:
                rc = jobs_purge_one(tx, tenant, id, &j);
                break;
        }
        job_free(&j);
        *changed = rc == 0;
        /* BATON_EBUSY: a purge kept a job whose dependants are being decided. */
        if (rc == BATON_ESTATE || rc == BATON_ECONFLICT || rc == BATON_ENOTFOUND ||
            rc == BATON_EBUSY)
                rc = 0;
        return rc;
}

int job_bulk(struct txn *tx, const struct bulk_req *req, struct bulk_res *res)
{
        struct job_filter f = req->f;
        struct job_vec v = {0};
        size_t bytes = 0;
        int n, rc;

        memset(res, 0, sizeof(*res));
        if (f.limit < 1 || f.limit > BULK_LIMIT_MAX)
                return BATON_EINVAL;
        /* One row more than acted on tells whether another page follows. */
        f.limit++;
        rc = job_query(tx, &f, &v);
        n = v.n < req->f.limit ? v.n : req->f.limit;
        for (int i = 0; !rc && i < n; i++) {
                bool changed;

                bytes += job_wire_bytes(&v.v[i]);
                rc = act_one(tx, req->action, f.tenant, v.v[i].id, &changed);
                res->matched++;
                res->changed += changed;
        }
        /* The read stops at the byte budget: a page cut there may be followed
         * by more, as one cut by the limit is. */
        if (!rc && n > 0 && (v.n > n || (f.bytes_max && bytes > f.bytes_max)))
                res->next = v.v[n - 1].id;
        job_vec_free(&v);
        if (rc)
                memset(res, 0, sizeof(*res));
        return rc;
}
