/*
 * cron.c: the cron manager's saved schedules (see cron.h): saving one
 * (cron_put) or a whole registry (cron_apply), reading, listing, pausing and
 * resuming, deleting, and the run history; the per-tenant schedule count.
 * The definition itself is in cron_spec.c, fire instants in a zone in
 * cron_zone.c and the leader's firing in cron_fire.c.
 *
 * Workload: these run per request (the /v1/cron routes, batond --cron-file);
 * each is a few store calls in the caller's transaction, listings paged by
 * the store. Assumptions: the definition (spec) was validated by the HTTP
 * layer; the tenant's schedule count row serializes the transactions that
 * change one tenant's schedules (store.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/assert.h"
#include "core/cron_internal.h"
#include "core/jobs.h"
#include "core/queues.h"

/* ---- reading and writing schedules ---- */

void cron_info_free(struct cron_info *ci)
{
        cron_rec_free(&ci->rec);
        cron_spec_free(&ci->spec);
        cron_run_free(&ci->last_run);
}

void cron_infos_free(struct cron_info *v, int n)
{
        for (int i = 0; v && i < n; i++)
                cron_info_free(&v[i]);
        free(v);
}

void cron_run_info_free(struct cron_run_info *ri)
{
        cron_run_free(&ri->run);
        job_free(&ri->job);
        ri->has_job = false;
}

void cron_run_infos_free(struct cron_run_info *v, int n)
{
        for (int i = 0; v && i < n; i++)
                cron_run_info_free(&v[i]);
        free(v);
}

/* Moves rec into out and fills the rest of the answer. */
static int info_fill(struct txn *tx, struct cron_rec *rec, struct cron_info *out)
{
        struct job j = {0};
        int rc;

        memset(out, 0, sizeof(*out));
        out->rec = *rec;
        memset(rec, 0, sizeof(*rec));
        out->last_job_state = -1;
        rc = cron_spec_load(out->rec.spec, &out->spec);
        if (!rc) {
                int64_t id = out->rec.last_run_id;
                rc = id ? tx->ops->cron_run_get(tx->st, out->rec.tenant, id, &out->last_run) : 0;
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        if (!rc && out->rec.last_job_id) {
                rc = tx->ops->job_get(tx->st, out->rec.tenant, out->rec.last_job_id, &j);
                if (!rc)
                        out->last_job_state = j.state;
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
                job_free(&j);
        }
        return rc;
}

/* The instant the scheduler must look at rec next; 0 = never. */
static int64_t due_of(const struct cron_rec *rec, int64_t now_ms)
{
        int64_t due = rec->enabled && !rec->paused ? rec->next_fire_at_ms : 0;

        if (rec->buffered_run_id) {
                int64_t poll = now_ms + CRON_BUFFER_POLL_MS;
                if (!due || poll < due)
                        due = poll;
        }
        return due;
}

int cron_write_rec(struct txn *tx, struct cron_rec *rec)
{
        rec->due_at_ms = due_of(rec, tx->now_ms);
        rec->updated_at_ms = tx->now_ms;
        txn_note_deadline(tx, rec->due_at_ms);
        return tx->ops->cron_put(tx->st, rec);
}
/* The first tick of spec after now that rec has not recorded yet. After the
 * wall clock was stepped back, now is before ticks already fired or skipped:
 * an edit or a resume then continues after the latest recorded tick instead
 * of firing those again (docs/cron.md "When the clock jumps"). */
static int next_unrecorded(struct txn *tx, const struct cron_rec *rec, const struct cron_spec *spec,
                           int64_t *next_ms)
{
        int64_t last_ms = 0;
        int rc = tx->ops->cron_last_tick(tx->st, rec->tenant, rec->key, &last_ms);

        if (!rc)
                *next_ms = cron_next_after(tx, rec->key, spec,
                                           last_ms > tx->now_ms ? last_ms : tx->now_ms);
        return rc;
}

enum put_outcome { PUT_CREATED, PUT_UPDATED, PUT_UNCHANGED };

/* Saves one schedule; *outcome tells whether it was created, changed or
 * already exactly so (then, with keep_same, the row is not written). */
static int put_one(struct txn *tx, const char *tenant, const char *key,
                   const struct cron_spec *spec, bool keep_same, int *outcome,
                   struct cron_info *out)
{
        struct cron_rec rec = {0};
        char *text = cron_spec_to_json(spec);
        bool changed = true;
        int rc;

        if (!text)
                return BATON_ENOMEM;
        rc = tx->ops->cron_get(tx->st, tenant, key, &rec);
        *outcome = rc == BATON_ENOTFOUND ? PUT_CREATED : PUT_UPDATED;
        if (rc == BATON_ENOTFOUND) {
                rc = 0;
                rec.tenant = strdup(tenant);
                rec.key = strdup(key);
                rec.created_at_ms = tx->now_ms;
                if (!rec.tenant || !rec.key)
                        rc = BATON_ENOMEM;
        } else if (!rc) {
                changed = strcmp(rec.spec, text) != 0 || rec.enabled != spec->enabled;
                if (!changed)
                        *outcome = PUT_UNCHANGED;
        }
        if (rc)
                goto out;
        free(rec.spec);
        rec.spec = text;
        text = NULL;
        rec.enabled = spec->enabled;
        if (changed) {
                rec.version++;
                rc = next_unrecorded(tx, &rec, spec, &rec.next_fire_at_ms);
        }
        /* PUT /v1/cron/{key} rewrites an unchanged row (updated_at moves);
         * the registry apply leaves it alone. */
        if (changed || !keep_same)
                rc = cron_write_rec(tx, &rec);
        /* The job's queue is made with the schedule, within the tenant's cap,
         * so that a fire (a leader duty) never has to make one. */
        if (!rc && changed)
                rc = queue_make(tx, tenant, spec->job.queue, false);
        if (!rc && out)
                rc = info_fill(tx, &rec, out);
out:
        free(text);
        cron_rec_free(&rec);
        return rc;
}

/* Adds delta (schedules created minus deleted) to the tenant's count and,
 * when created, checks the cap on the count after: BATON_ECONFLICT makes the
 * caller's savepoint undo the writes and the count together. The count's row
 * serializes the transactions that change one tenant's schedules (store.h).
 * *total gets the count. */
static int count_add(struct txn *tx, const char *tenant, int64_t delta, bool created,
                     int64_t *total)
{
        int rc = tx->ops->cron_count_add(tx->st, tenant, delta, total);

        if (!rc && created && *total > tx->limits->cron_schedules_max)
                rc = BATON_ECONFLICT;
        return rc;
}

int cron_put(struct txn *tx, const char *tenant, const char *key, const struct cron_spec *spec,
             bool *created, struct cron_info *out)
{
        int outcome = PUT_UPDATED;
        int64_t total = 0;
        int rc = put_one(tx, tenant, key, spec, false, &outcome, out);

        *created = outcome == PUT_CREATED;
        if (!rc && *created)
                rc = count_add(tx, tenant, 1, true, &total);
        return rc;
}

/* ---- registry apply ---- */

void cron_registry_free(struct cron_registry *reg)
{
        for (int i = 0; i < reg->n; i++) {
                free(reg->v[i].key);
                cron_spec_free(&reg->v[i].spec);
        }
        free(reg->v);
        memset(reg, 0, sizeof(*reg));
}

static void keys_free(char **v, int n)
{
        for (int i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void cron_apply_res_free(struct cron_apply_res *res)
{
        keys_free(res->created, res->created_n);
        keys_free(res->updated, res->updated_n);
        keys_free(res->unchanged, res->unchanged_n);
        keys_free(res->deleted, res->deleted_n);
        memset(res, 0, sizeof(*res));
}

/* Appends a copy of key to the array *v of *n keys. */
static int key_push(char ***v, int *n, const char *key)
{
        char **nv = realloc(*v, (size_t)(*n + 1) * sizeof(**v));

        if (!nv)
                return BATON_ENOMEM;
        *v = nv;
        if (!(nv[*n] = strdup(key)))
                return BATON_ENOMEM;
        (*n)++;
        return 0;
}

static bool reg_has(const struct cron_registry *reg, const char *key)
{
        for (int i = 0; i < reg->n; i++)
                if (strcmp(reg->v[i].key, key) == 0)
                        return true;
        return false;
}

/* Schedules read per store call while walking a tenant's schedules. */
#define WALK_PAGE 500

/* Calls fn on each of the tenant's schedules in key order, a page of
 * WALK_PAGE rows at a time (keyset paging on the key), and stops at the first
 * nonzero return, which it returns. The rows are freed after each page. */
static int walk_cron(struct txn *tx, const char *tenant,
                     int (*fn)(void *ctx, const struct cron_rec *r), void *ctx)
{
        char *after = NULL;
        int rc = 0;

        for (;;) {
                struct cron_rec *page = NULL;
                int n = 0;
                rc = tx->ops->cron_list(tx->st, tenant, after, WALK_PAGE, &page, &n);
                for (int i = 0; !rc && i < n; i++)
                        rc = fn(ctx, &page[i]);
                free(after);
                after = NULL;
                if (!rc && n == WALK_PAGE && !(after = strdup(page[n - 1].key)))
                        rc = BATON_ENOMEM;
                cron_recs_free(page, n);
                if (rc || !after)
                        break;
        }
        free(after);
        return rc;
}

struct prune_ctx {
        const struct cron_registry *reg;
        struct cron_apply_res *res;
};

static int prune_one(void *ctx, const struct cron_rec *r)
{
        struct prune_ctx *p = ctx;

        if (reg_has(p->reg, r->key))
                return 0;
        return key_push(&p->res->deleted, &p->res->deleted_n, r->key);
}

/* Deletes the tenant's schedules that reg does not name. The doomed keys are
 * gathered first so the listing never runs over rows it deleted. */
static int prune(struct txn *tx, const char *tenant, const struct cron_registry *reg,
                 struct cron_apply_res *res)
{
        struct prune_ctx p = {reg, res};
        int first = res->deleted_n;
        int rc = walk_cron(tx, tenant, prune_one, &p);

        for (int i = first; !rc && i < res->deleted_n; i++)
                rc = tx->ops->cron_delete(tx->st, tenant, res->deleted[i]);
        return rc;
}

int cron_apply(struct txn *tx, const char *tenant, const struct cron_registry *reg,
               struct cron_apply_res *res)
{
        int rc = 0, outcome;

        memset(res, 0, sizeof(*res));
        for (int i = 0; !rc && i < reg->n; i++) {
                const struct cron_entry *en = &reg->v[i];
                rc = put_one(tx, tenant, en->key, &en->spec, true, &outcome, NULL);
                if (rc)
                        break;
                if (outcome == PUT_CREATED)
                        rc = key_push(&res->created, &res->created_n, en->key);
                else if (outcome == PUT_UPDATED)
                        rc = key_push(&res->updated, &res->updated_n, en->key);
                else
                        rc = key_push(&res->unchanged, &res->unchanged_n, en->key);
        }
        if (!rc && reg->prune)
                rc = prune(tx, tenant, reg, res);
        /* Judged on the result, so a prune can make room for new keys. */
        if (!rc && (res->created_n > 0 || res->deleted_n > 0))
                rc = count_add(tx, tenant, (int64_t)res->created_n - res->deleted_n,
                               res->created_n > 0, &res->total);
        return rc;
}

int cron_delete(struct txn *tx, const char *tenant, const char *key)
{
        int64_t n;
        int rc = tx->ops->cron_delete(tx->st, tenant, key);

        return rc ? rc : count_add(tx, tenant, -1, false, &n);
}

int cron_read(struct txn *tx, const char *tenant, const char *key, struct cron_info *out)
{
        struct cron_rec rec = {0};
        int rc = tx->ops->cron_get(tx->st, tenant, key, &rec);

        memset(out, 0, sizeof(*out));
        if (!rc)
                rc = info_fill(tx, &rec, out);
        cron_rec_free(&rec);
        return rc;
}

int cron_query(struct txn *tx, const char *tenant, const char *after, int limit,
               struct cron_info **out, int *n_out)
{
        struct cron_rec *recs = NULL;
        struct cron_info *v = NULL;
        int n = 0, rc;

        *out = NULL;
        *n_out = 0;
        rc = tx->ops->cron_list(tx->st, tenant, after, limit, &recs, &n);
        if (!rc && n > 0 && !(v = calloc((size_t)n, sizeof(*v))))
                rc = BATON_ENOMEM;
        for (int i = 0; !rc && i < n; i++) {
                rc = info_fill(tx, &recs[i], &v[i]);
                *n_out = i + 1;
        }
        *out = v;
        cron_recs_free(recs, n);
        return rc;
}

struct count_ctx {
        int64_t now_ms;
        struct cron_counts *out;
};

static int count_one(void *ctx, const struct cron_rec *r)
{
        struct count_ctx *c = ctx;
        int64_t due = r->due_at_ms;

        c->out->n++;
        if (due > 0 && due <= c->now_ms)
                c->out->due++;
        if (due > 0 && (c->out->next_due_ms == 0 || due < c->out->next_due_ms))
                c->out->next_due_ms = due;
        return 0;
}

int cron_count(struct txn *tx, const char *tenant, struct cron_counts *out)
{
        struct count_ctx c = {tx->now_ms, out};

        memset(out, 0, sizeof(*out));
        return walk_cron(tx, tenant, count_one, &c);
}

size_t cron_rec_wire_bytes(const struct cron_rec *r)
{
        return CRON_WIRE_FIXED_BYTES + job_wire_str_bytes(r->key) + job_wire_str_bytes(r->spec) +
               job_wire_str_bytes(r->pause_note);
}

/* Fills v[*n...] from the pn rows of recs (moved; the array is freed) while
 * the budget lasts; the rows after the cut are freed unread. */
int cron_page_take(struct txn *tx, struct cron_rec *recs, int pn, size_t bytes_max, size_t *used,
                   bool *cut, struct cron_info *v, int *n)
{
        int rc = 0, i = 0;

        for (; i < pn && !rc && !*cut; i++) {
                *used += cron_rec_wire_bytes(&recs[i]);
                *cut = bytes_max && *used > bytes_max;
                rc = info_fill(tx, &recs[i], &v[*n]);
                (*n)++; /* filled, or cleared by info_fill: freed with v either way */
        }
        cron_recs_free(recs, pn); /* what info_fill moved out is cleared */
        return rc;
}

int cron_query_page(struct txn *tx, const char *tenant, const char *after, int limit,
                    size_t bytes_max, struct cron_info **out, int *n_out, bool *cut)
{
        struct cron_info *v = calloc((size_t)(limit > 0 ? limit : 1), sizeof(*v));
        size_t used = 0;
        int n = 0, rc = v ? 0 : BATON_ENOMEM;

        *cut = false;
        while (!rc && n < limit && !*cut) {
                struct cron_rec *recs = NULL;
                int want = limit - n < CRON_QUERY_CHUNK ? limit - n : CRON_QUERY_CHUNK, pn = 0;
                rc = tx->ops->cron_list(tx->st, tenant, n ? v[n - 1].rec.key : after, want, &recs,
                                        &pn);
                if (rc) {
                        cron_recs_free(recs, pn);
                        break;
                }
                BATON_ASSERT(pn <= want);
                rc = cron_page_take(tx, recs, pn, bytes_max, &used, cut, v, &n);
                if (pn < want)
                        break;
        }
        *out = v;
        *n_out = n;
        return rc;
}

int cron_set_paused(struct txn *tx, const char *tenant, const char *key, bool paused,
                    const char *note, struct cron_info *out)
{
        struct cron_rec rec = {0};
        struct cron_spec spec = {0};
        int rc = tx->ops->cron_get(tx->st, tenant, key, &rec);

        if (rc)
                goto out;
        if (paused) {
                rc = str_set(&rec.pause_note, note);
        } else if (rec.paused) {
                /* Resume never bursts: ticks missed while paused are recorded
                 * as skipped (reason paused), not made up. */
                rc = cron_spec_load(rec.spec, &spec);
                if (!rc)
                        rc = cron_record_paused(tx, &rec, &spec);
                if (!rc)
                        rc = next_unrecorded(tx, &rec, &spec, &rec.next_fire_at_ms);
                if (!rc)
                        rc = str_set(&rec.pause_note, NULL);
                if (!rc)
                        rc = tx->ops->cron_run_trim(tx->st, rec.tenant, rec.key, spec.history_max);
        }
        rec.paused = paused;
        if (!rc)
                rc = cron_write_rec(tx, &rec);
        if (!rc && out)
                rc = info_fill(tx, &rec, out);
out:
        cron_spec_free(&spec);
        cron_rec_free(&rec);
        return rc;
}

/* ---- history ---- */

int cron_runs_query(struct txn *tx, const char *tenant, const char *key, int64_t before, int limit,
                    struct cron_run_info **out, int *n_out)
{
        struct cron_rec rec = {0};
        struct cron_run *runs = NULL;
        struct cron_run_info *v = NULL;
        int n = 0, rc;

        *out = NULL;
        *n_out = 0;
        rc = tx->ops->cron_get(tx->st, tenant, key, &rec);
        cron_rec_free(&rec);
        if (!rc)
                rc = tx->ops->cron_run_list(tx->st, tenant, key, before, limit, &runs, &n);
        if (!rc && n > 0 && !(v = calloc((size_t)n, sizeof(*v))))
                rc = BATON_ENOMEM;
        for (int i = 0; !rc && i < n; i++) {
                v[i].run = runs[i];
                memset(&runs[i], 0, sizeof(runs[i]));
                *n_out = i + 1;
                if (!v[i].run.job_id)
                        continue;
                rc = tx->ops->job_get(tx->st, tenant, v[i].run.job_id, &v[i].job);
                v[i].has_job = rc == 0;
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        *out = v;
        cron_runs_free(runs, n);
        return rc;
}
