/*
 * api.c: one function per endpoint of docs/api.md. Each builds its URL and
 * body in the client's reusable buffers, performs the call and turns the answer
 * into the caller's objects. Bodies are written directly as text (JSON inputs
 * given by the caller are inserted verbatim) so that the enqueue and settle hot
 * paths cost one pass over the request and one parse of the answer. Every
 * endpoint sends through client_request, which owns the answer's JSON and
 * hands it to one answer_* parser that fills the caller's objects.
 */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

/* Records a library-side failure in the client's last error. */
static int local(struct baton_client *c, int rc)
{
        return client_fail(c, rc, NULL);
}

/* dst: struct baton_job **, receives the job of member "job" (the caller
 * frees it with baton_job_free; it keeps its own reference to the job object
 * of the answer). */
static int answer_job(struct baton_client *c, json_t *root, void *dst)
{
        struct baton_job **out = dst, *j;
        int rc;

        j = malloc(sizeof(*j));
        if (!j)
                return local(c, BATON_ENOMEM);
        rc = job_from_json(json_object_get(root, "job"), j);
        if (rc) {
                free(j);
                return client_fail(c, rc, rc == BATON_EPROTO ? "answer holds no job" : NULL);
        }
        /* Repeat markers sit beside the job in single-job answers. */
        j->duplicate = j->duplicate || jbool(root, "duplicate");
        j->replaced = j->replaced || jbool(root, "replaced");
        j->repeat = j->repeat || jbool(root, "repeat");
        *out = j;
        return 0;
}

/* dst: struct baton_jobs **, receives the list and its cursor (the caller
 * frees it with baton_jobs_free). */
static int answer_jobs(struct baton_client *c, json_t *root, void *dst)
{
        int rc = jobs_from_json(json_object_get(root, "jobs"), json_object_get(root, "next"), dst);

        return rc ? client_fail(c, rc, rc == BATON_EPROTO ? "answer holds no job list" : NULL) : 0;
}

/* Finds the members of the JSON object text extra without its braces and the
 * white space around them: *s and *n (0 for an empty object). Returns 0, or
 * BATON_EINVAL when extra is not an object. */
static int extra_members(const char *extra, const char **s, size_t *n)
{
        const char *b = extra, *e = extra + strlen(extra);

        while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
                b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
                e--;
        if (*b != '{' || e - b < 2 || e[-1] != '}')
                return BATON_EINVAL;
        b++;
        e--;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r'))
                b++;
        *s = b;
        *n = (size_t)(e - b);
        return 0;
}

/* Checks what write_job cannot write: the required members, every
 * dependency, and extra's shape. */
static int check_job(const struct baton_enqueue_opts *o)
{
        const char *s;
        size_t n;

        if (!o->queue || !o->type || (o->n_depends_on > 0 && !o->depends_on))
                return BATON_EINVAL;
        for (size_t i = 0; i < o->n_depends_on; i++)
                if (!o->depends_on[i])
                        return BATON_EINVAL;
        return o->extra ? extra_members(o->extra, &s, &n) : 0;
}

/* Writes one enqueue object (checked with check_job) through w. */
static void write_job(struct jw *w, const struct baton_enqueue_opts *o)
{
        const char *extra;
        size_t n = 0;

        jw_obj_open(w);
        jw_kstr(w, "queue", o->queue);
        jw_kstr(w, "type", o->type);
        client_kraw(w, "payload", o->payload);
        if (o->priority != BATON_PRIORITY_DEFAULT)
                jw_kstr(w, "priority", baton_priority_name(o->priority));
        client_kint(w, "delay_ms", o->delay_ms);
        client_kstr(w, "run_at", o->run_at);
        client_kint(w, "max_attempts", o->max_attempts);
        client_kraw(w, "backoff", o->backoff);
        client_kint(w, "lease_ms", o->lease_ms);
        client_kstr(w, "idempotency_key", o->idempotency_key);
        client_kstr(w, "key", o->key);
        client_kstr(w, "on_key", o->on_key);
        client_kstr(w, "request_id", o->request_id);
        client_kstr(w, "execution_id", o->execution_id);
        client_kstr(w, "traceparent", o->traceparent);
        if (o->n_depends_on > 0) {
                jw_key(w, "depends_on");
                jw_arr_open(w);
                for (size_t i = 0; i < o->n_depends_on; i++)
                        jw_str(w, o->depends_on[i]);
                jw_arr_close(w);
        }
        client_kstr(w, "on_parent_failure", o->on_parent_failure);
        client_kstr(w, "group", o->group);
        /* Splice the members of the extra object in (queue and type came first,
         * so a comma always separates them). */
        if (o->extra && extra_members(o->extra, &extra, &n) == 0 && n && !w->err)
                w->err = buf_addc(w->b, ',');
        if (n && !w->err)
                w->err = buf_add(w->b, extra, n);
        jw_obj_close(w);
}

int baton_enqueue(struct baton_client *c, const struct baton_enqueue_opts *o,
                  struct baton_job **out)
{
        int rc;

        struct jw w;

        if (out)
                *out = NULL;
        rc = check_job(o);
        if (rc == 0) {
                buf_reset(&c->req);
                jw_init(&w, &c->req);
                write_job(&w, o);
                rc = w.err;
        }
        if (rc == 0)
                rc = client_url(c, "/v1/jobs");
        if (rc)
                return local(c, rc);
        /* A caller that takes no job takes nothing of the answer: the short
         * one saves the server building the job and us reading it. */
        if (!out)
                return client_request_minimal(c, "POST");
        return client_request(c, "POST", true, 0, answer_job, out);
}

int baton_enqueue_batch(struct baton_client *c, const struct baton_enqueue_opts *o, size_t n,
                        struct baton_jobs **out)
{
        struct jw w;
        int rc = 0;

        if (out)
                *out = NULL;
        for (size_t i = 0; i < n && rc == 0; i++)
                rc = check_job(&o[i]);
        if (rc == 0) {
                client_body(c, &w);
                jw_key(&w, "jobs");
                jw_arr_open(&w);
                for (size_t i = 0; i < n; i++)
                        write_job(&w, &o[i]);
                jw_arr_close(&w);
                rc = client_body_end(&w);
        }
        if (rc == 0)
                rc = client_url(c, "/v1/jobs");
        if (rc)
                return local(c, rc);
        if (!out)
                return client_request_minimal(c, "POST");
        return client_request(c, "POST", true, 0, answer_jobs, out);
}

int baton_job_get(struct baton_client *c, const char *id, int64_t wait_ms, struct baton_job **out)
{
        int rc;

        *out = NULL;
        if (!id)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/jobs/", id, NULL);
        if (rc == 0 && wait_ms)
                rc = client_query_i64(c, "wait_ms", wait_ms);
        if (rc)
                return local(c, rc);
        return client_request(c, "GET", false, wait_ms, answer_job, out);
}

int baton_job_list(struct baton_client *c, const struct baton_list_opts *opts,
                   struct baton_jobs **out)
{
        int rc;

        *out = NULL;
        rc = client_url(c, "/v1/jobs");
        if (rc == 0 && opts)
                rc =
                    client_queries(c, (const char *const[]){"queue", opts->queue, "state",
                                                            opts->state, "type", opts->type, NULL});
        if (rc == 0 && opts)
                rc = client_query_page(c, opts->limit, opts->after);
        if (rc)
                return local(c, rc);
        return client_request(c, "GET", false, 0, answer_jobs, out);
}

int baton_job_cancel(struct baton_client *c, const char *id, struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/jobs/", id, NULL);
        if (rc)
                return local(c, rc);
        return client_request(c, "DELETE", false, 0, out ? answer_job : NULL, out);
}

int baton_job_retry(struct baton_client *c, const char *id, struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/jobs/", id, "/retry");
        buf_reset(&c->req);
        if (rc == 0)
                rc = buf_adds(&c->req, "{}");
        if (rc)
                return local(c, rc);
        /* A caller that takes no job takes nothing of the answer: the short
         * one saves the server building the job and us reading it. */
        if (!out)
                return client_request_minimal(c, "POST");
        return client_request(c, "POST", true, 0, answer_job, out);
}

int baton_claim(struct baton_client *c, const char *queue, const struct baton_claim_opts *o,
                struct baton_jobs **out)
{
        struct jw w;
        int rc;

        *out = NULL;
        if (!queue || !o || !o->worker)
                return local(c, BATON_EINVAL);
        client_body(c, &w);
        jw_kstr(&w, "worker", o->worker);
        client_kint(&w, "max", o->max);
        client_kint(&w, "wait_ms", o->wait_ms);
        client_kint(&w, "lease_ms", o->lease_ms);
        client_kraw(&w, "info", c->worker_info);
        rc = client_body_end(&w);
        if (rc == 0)
                rc = client_url_seg(c, "/v1/queues/", queue, "/claim");
        if (rc)
                return local(c, rc);
        return client_request(c, "POST", true, o->wait_ms, answer_jobs, out);
}

/* dst: struct baton_heartbeat_res *, filled in place. */
static int answer_heartbeat(struct baton_client *c, json_t *root, void *dst)
{
        struct baton_heartbeat_res *res = dst;
        int rc = 0;

        if (client_parse_time_ms(jstr(root, "lease_until"), &res->lease_until_ms))
                rc = client_fail(c, BATON_EPROTO, "heartbeat answer without lease_until");
        res->cancel_requested = jbool(root, "cancel_requested");
        return rc;
}

int baton_heartbeat(struct baton_client *c, const char *id, const char *lease, int64_t extend_ms,
                    const char *progress, struct baton_heartbeat_res *res)
{
        struct jw w;
        int rc;

        if (res)
                memset(res, 0, sizeof(*res));
        if (!id || !lease)
                return local(c, BATON_EINVAL);
        client_body(c, &w);
        jw_kstr(&w, "lease", lease);
        client_kint(&w, "extend_ms", extend_ms);
        client_kraw(&w, "progress", progress);
        rc = client_body_end(&w);
        if (rc == 0)
                rc = client_url_seg(c, "/v1/jobs/", id, "/heartbeat");
        if (rc)
                return local(c, rc);
        return client_request(c, "POST", true, 0, res ? answer_heartbeat : NULL, res);
}

/* The members of a settle request from the lease on: complete, fail, or
 * (with_outcome) an item of /v1/settle. */
static void settle_members(struct jw *w, const struct baton_settle_item *it, bool with_outcome)
{
        bool fail = it->outcome == BATON_OUTCOME_FAIL;

        jw_kstr(w, "lease", it->lease);
        if (with_outcome)
                jw_kstr(w, "outcome", fail ? "fail" : "complete");
        if (!fail)
                client_kraw(w, "result", it->result);
        if (fail)
                client_kstr(w, "error", it->error);
        if (fail && it->not_retryable)
                jw_kbool(w, "retryable", false);
        if (fail && it->retry_in_ms >= 0)
                jw_kint(w, "retry_in_ms", it->retry_in_ms);
}

/* POST /v1/jobs/{id}suffix for complete and fail. */
static int settle_one(struct baton_client *c, const struct baton_settle_item *it,
                      const char *suffix, struct baton_job **out)
{
        struct jw w;
        int rc;

        if (out)
                *out = NULL;
        if (!it->id || !it->lease)
                return local(c, BATON_EINVAL);
        client_body(c, &w);
        settle_members(&w, it, false);
        rc = client_body_end(&w);
        if (rc == 0)
                rc = client_url_seg(c, "/v1/jobs/", it->id, suffix);
        if (rc)
                return local(c, rc);
        /* A caller that takes no job takes nothing of the answer: the short
         * one saves the server building the job and us reading it. */
        if (!out)
                return client_request_minimal(c, "POST");
        return client_request(c, "POST", true, 0, answer_job, out);
}

int baton_complete(struct baton_client *c, const char *id, const char *lease, const char *result,
                   struct baton_job **out)
{
        struct baton_settle_item it = {.id = id, .lease = lease, .result = result};

        return settle_one(c, &it, "/complete", out);
}

int baton_fail(struct baton_client *c, const char *id, const char *lease, const char *error,
               bool retryable, int64_t retry_in_ms, struct baton_job **out)
{
        struct baton_settle_item it = {.id = id,
                                       .lease = lease,
                                       .outcome = BATON_OUTCOME_FAIL,
                                       .error = error,
                                       .not_retryable = !retryable,
                                       .retry_in_ms = retry_in_ms};

        return settle_one(c, &it, "/fail", out);
}

/* What answer_settle fills: the caller's items, one answer each, in place. */
struct settle_dst {
        struct baton_settle_item *items;
        size_t n;
};

static int answer_settle(struct baton_client *c, json_t *root, void *dst)
{
        struct settle_dst *d = dst;
        json_t *arr = json_object_get(root, "items");
        size_t i;

        if (!json_is_array(arr) || json_array_size(arr) != d->n)
                return client_fail(c, BATON_EPROTO, "settle answer does not match the items");
        for (i = 0; i < d->n; i++) {
                struct baton_settle_item *it = &d->items[i];
                json_t *a = json_array_get(arr, i), *e = json_object_get(a, "error");
                const char *code = jstr(e, "code");

                it->code[0] = '\0';
                if (jbool(a, "ok")) {
                        it->rc = 0;
                        continue;
                }
                if (code) {
                        size_t len = strlen(code);

                        if (len >= sizeof(it->code))
                                len = sizeof(it->code) - 1;
                        memcpy(it->code, code, len);
                        it->code[len] = '\0';
                }
                /* Items are refused for the reasons complete and fail give, most of
                 * them conflicts; an unknown code without a status is one too. */
                it->rc = baton_err_from_api(409, code);
        }
        return 0;
}

int baton_settle(struct baton_client *c, struct baton_settle_item *items, size_t n)
{
        struct settle_dst d = {items, n};
        struct jw w;
        int rc;

        for (size_t i = 0; i < n; i++)
                if (!items[i].id || !items[i].lease)
                        return local(c, BATON_EINVAL);
        client_body(c, &w);
        jw_key(&w, "items");
        jw_arr_open(&w);
        for (size_t i = 0; i < n; i++) {
                jw_obj_open(&w);
                jw_kstr(&w, "id", items[i].id);
                settle_members(&w, &items[i], true);
                jw_obj_close(&w);
        }
        jw_arr_close(&w);
        rc = client_body_end(&w);
        if (rc == 0)
                rc = client_url(c, "/v1/settle");
        if (rc)
                return local(c, rc);
        return client_request(c, "POST", true, 0, answer_settle, &d);
}

/* dst: struct baton_queue **, receives the queue of member "queue" (caller
 * frees it with baton_queue_free). */
static int answer_queue(struct baton_client *c, json_t *root, void *dst)
{
        struct baton_queue **out = dst, *q;
        int rc;

        q = malloc(sizeof(*q));
        if (!q)
                return local(c, BATON_ENOMEM);
        rc = queue_from_json(json_object_get(root, "queue"), q);
        if (rc) {
                free(q);
                return client_fail(c, rc, rc == BATON_EPROTO ? "answer holds no queue" : NULL);
        }
        *out = q;
        return 0;
}

int baton_queue_get(struct baton_client *c, const char *name, struct baton_queue **out)
{
        int rc;

        *out = NULL;
        if (!name)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/queues/", name, NULL);
        if (rc)
                return local(c, rc);
        return client_request(c, "GET", false, 0, answer_queue, out);
}

int baton_queue_pause(struct baton_client *c, const char *name, bool paused,
                      struct baton_queue **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!name)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/queues/", name, NULL);
        buf_reset(&c->req);
        if (rc == 0)
                rc = buf_adds(&c->req, paused ? "{\"paused\":true}" : "{\"paused\":false}");
        if (rc)
                return local(c, rc);
        return client_request(c, "PATCH", true, 0, out ? answer_queue : NULL, out);
}

int baton_queue_set(struct baton_client *c, const char *name, const char *settings,
                    struct baton_queue **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!name || !settings)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/queues/", name, NULL);
        buf_reset(&c->req);
        if (rc == 0)
                rc = buf_adds(&c->req, settings);
        if (rc)
                return local(c, rc);
        return client_request(c, "PATCH", true, 0, out ? answer_queue : NULL, out);
}

/* dst: struct baton_queues **, receives the page of queues and its cursor
 * (caller frees it with baton_queues_free). */
static int answer_queues(struct baton_client *c, json_t *root, void *dst)
{
        json_t *arr = json_object_get(root, "queues"), *next = json_object_get(root, "next");
        struct baton_queues **out = dst, *l = NULL;
        size_t i, n;
        int rc;

        if (!json_is_array(arr))
                return client_fail(c, BATON_EPROTO, "answer holds no queue list");
        l = calloc(1, sizeof(*l));
        n = json_array_size(arr);
        if (!l || (n && !(l->v = calloc(n, sizeof(*l->v))))) {
                rc = local(c, BATON_ENOMEM);
                goto out;
        }
        for (i = 0; i < n; i++) {
                rc = queue_from_json(json_array_get(arr, i), &l->v[i]);
                if (rc) {
                        rc = client_fail(c, rc, NULL);
                        goto out;
                }
                l->n = i + 1;
        }
        if (json_is_string(next) && !(l->next = strdup(json_string_value(next)))) {
                rc = local(c, BATON_ENOMEM);
                goto out;
        }
        *out = l;
        l = NULL;
        rc = 0;
out:
        baton_queues_free(l);
        return rc;
}

int baton_queue_list(struct baton_client *c, int limit, const char *after,
                     struct baton_queues **out)
{
        int rc;

        *out = NULL;
        rc = client_url(c, "/v1/queues");
        if (rc == 0)
                rc = client_query_page(c, limit, after);
        if (rc)
                return local(c, rc);
        return client_request(c, "GET", false, 0, answer_queues, out);
}

int baton_dead_list(struct baton_client *c, const char *queue, int limit, const char *after,
                    struct baton_jobs **out)
{
        int rc;

        *out = NULL;
        if (!queue)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/queues/", queue, "/dead");
        if (rc == 0)
                rc = client_query_page(c, limit, after);
        if (rc)
                return local(c, rc);
        return client_request(c, "GET", false, 0, answer_jobs, out);
}

/* What answer_count reads: the integer member key, into *out (may be NULL;
 * the member must be there all the same). */
struct count_dst {
        const char *key;
        int64_t *out;
};

static int answer_count(struct baton_client *c, json_t *root, void *dst)
{
        const struct count_dst *d = dst;

        if (!json_is_integer(json_object_get(root, d->key)))
                return client_fail(c, BATON_EPROTO, "answer holds no count");
        if (d->out)
                *d->out = jint(root, d->key, 0);
        return 0;
}

int baton_dead_replay(struct baton_client *c, const char *queue, const char *const *ids, size_t n,
                      bool all, int64_t *replayed)
{
        struct count_dst d = {"replayed", replayed};
        struct jw w;
        int rc;

        if (replayed)
                *replayed = 0;
        if (!queue || (!all && n && !ids))
                return local(c, BATON_EINVAL);
        client_body(c, &w);
        if (all) {
                jw_kbool(&w, "all", true);
        } else {
                jw_key(&w, "ids");
                jw_arr_open(&w);
                for (size_t i = 0; i < n; i++)
                        jw_str(&w, ids[i]);
                jw_arr_close(&w);
        }
        rc = client_body_end(&w);
        if (rc == 0)
                rc = client_url_seg(c, "/v1/queues/", queue, "/dead/replay");
        if (rc)
                return local(c, rc);
        return client_request(c, "POST", true, 0, answer_count, &d);
}

int baton_dead_purge(struct baton_client *c, const char *queue, int64_t *purged)
{
        struct count_dst d = {"purged", purged};
        int rc;

        if (purged)
                *purged = 0;
        if (!queue)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/queues/", queue, "/dead");
        if (rc)
                return local(c, rc);
        return client_request(c, "DELETE", false, 0, answer_count, &d);
}

/* dst: unused; the answer must say {"status":"ok"}. */
static int answer_health(struct baton_client *c, json_t *root, void *dst)
{
        const char *st = jstr(root, "status");

        (void)dst;
        if (!st || strcmp(st, "ok") != 0)
                return client_fail(c, BATON_EPROTO, "healthz did not say ok");
        return 0;
}

int baton_health(struct baton_client *c)
{
        int rc = client_url(c, "/healthz");

        if (rc)
                return local(c, rc);
        return client_request(c, "GET", false, 0, answer_health, NULL);
}

int baton_ready(struct baton_client *c)
{
        int rc = client_url(c, "/readyz");

        if (rc)
                return local(c, rc);
        return client_request(c, "GET", false, 0, NULL, NULL);
}
