/*
 * api.c: one function per endpoint of docs/api.md. Each builds its URL and
 * body in the client's reusable buffers, performs the call and turns the answer
 * into the caller's objects. Bodies are written directly as text (JSON inputs
 * given by the caller are inserted verbatim) so that the enqueue and settle hot
 * paths cost one pass over the request and one parse of the answer. Every
 * endpoint sends through request(), which owns the answer's JSON and hands it
 * to one answer_* parser that fills the caller's objects.
 */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

/* Records a library-side failure in the client's last error. */
static int local(struct baton_client *c, int rc)
{
        return client_fail(c, rc, NULL);
}

/*
 * Reads what a caller wants from a 2xx answer: root is the answer's JSON
 * object, owned by request() (which releases it after the call; a parser
 * that keeps part of it takes its own reference, as job_from_json does), and
 * dst is the public function's out-parameter, whose allocations belong to
 * that function's caller. Returns 0 or a code recorded with client_fail.
 */
typedef int (*answer_fn)(struct baton_client *c, json_t *root, void *dst);

/*
 * The one call every endpoint makes: method on the URL in c->url, with the
 * body in c->req when with_body (none otherwise); wait_ms extends the
 * transport timeout for long polls. On a 2xx answer and when parse is given,
 * parse reads the answer into dst; without parse the answer is not parsed.
 * The answer's JSON is owned and released here; what parse allocates into
 * dst is owned by the caller. Returns 0 or the code recorded in c->err.
 */
static int request(struct baton_client *c, const char *method, bool with_body, int64_t wait_ms,
                   answer_fn parse, void *dst)
{
        json_t *root = NULL;
        int rc;

        rc = client_call(c, method, with_body ? c->req.p : NULL, with_body ? c->req.len : 0,
                         wait_ms, parse ? &root : NULL);
        if (rc == 0 && parse)
                rc = parse(c, root, dst);
        json_decref(root);
        return rc;
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

/* Writes one enqueue object (without the braces' surroundings) into c->req. */
static int write_job(struct sbuf *b, const struct baton_enqueue_opts *o)
{
        int rc;

        if (!o->queue || !o->type)
                return BATON_EINVAL;
        rc = sbuf_addc(b, '{');
        if (rc == 0)
                rc = jo_str(b, "queue", o->queue);
        if (rc == 0)
                rc = jo_str(b, "type", o->type);
        if (rc == 0 && o->payload)
                rc = jo_raw(b, "payload", o->payload);
        if (rc == 0 && o->priority != BATON_PRIORITY_DEFAULT)
                rc = jo_str(b, "priority", baton_priority_name(o->priority));
        if (rc == 0 && o->delay_ms)
                rc = jo_i64(b, "delay_ms", o->delay_ms);
        if (rc == 0 && o->run_at)
                rc = jo_str(b, "run_at", o->run_at);
        if (rc == 0 && o->max_attempts)
                rc = jo_i64(b, "max_attempts", o->max_attempts);
        if (rc == 0 && o->backoff)
                rc = jo_raw(b, "backoff", o->backoff);
        if (rc == 0 && o->lease_ms)
                rc = jo_i64(b, "lease_ms", o->lease_ms);
        if (rc == 0 && o->idempotency_key)
                rc = jo_str(b, "idempotency_key", o->idempotency_key);
        if (rc == 0 && o->key)
                rc = jo_str(b, "key", o->key);
        if (rc == 0 && o->on_key)
                rc = jo_str(b, "on_key", o->on_key);
        if (rc == 0 && o->request_id)
                rc = jo_str(b, "request_id", o->request_id);
        if (rc == 0 && o->execution_id)
                rc = jo_str(b, "execution_id", o->execution_id);
        if (rc == 0 && o->traceparent)
                rc = jo_str(b, "traceparent", o->traceparent);
        if (rc == 0 && o->n_depends_on > 0) {
                if (!o->depends_on)
                        return BATON_EINVAL;
                rc = jo_sep(b);
                if (rc == 0)
                        rc = sbuf_adds(b, "\"depends_on\":[");
                for (size_t i = 0; rc == 0 && i < o->n_depends_on; i++) {
                        if (!o->depends_on[i])
                                return BATON_EINVAL;
                        rc = jo_sep(b);
                        if (rc == 0)
                                rc = sbuf_json_str(b, o->depends_on[i]);
                }
                if (rc == 0)
                        rc = sbuf_addc(b, ']');
        }
        if (rc == 0 && o->on_parent_failure)
                rc = jo_str(b, "on_parent_failure", o->on_parent_failure);
        if (rc == 0 && o->group)
                rc = jo_str(b, "group", o->group);
        if (rc == 0 && o->extra) {
                /* Splice the members of the extra object in: drop its braces. */
                const char *s = o->extra, *e = o->extra + strlen(o->extra);

                while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                        s++;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
                        e--;
                if (*s != '{' || e - s < 2 || e[-1] != '}')
                        return BATON_EINVAL;
                s++;
                e--;
                while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
                        s++;
                if (s < e) {
                        rc = jo_sep(b);
                        if (rc == 0)
                                rc = sbuf_add(b, s, (size_t)(e - s));
                }
        }
        if (rc == 0)
                rc = sbuf_addc(b, '}');
        return rc;
}

int baton_enqueue(struct baton_client *c, const struct baton_enqueue_opts *o,
                  struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        sbuf_reset(&c->req);
        rc = write_job(&c->req, o);
        if (rc == 0)
                rc = client_url(c, "/v1/jobs");
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, 0, out ? answer_job : NULL, out);
}

int baton_enqueue_batch(struct baton_client *c, const struct baton_enqueue_opts *o, size_t n,
                        struct baton_jobs **out)
{
        size_t i;
        int rc;

        if (out)
                *out = NULL;
        sbuf_reset(&c->req);
        rc = sbuf_adds(&c->req, "{\"jobs\":[");
        for (i = 0; i < n && rc == 0; i++) {
                rc = jo_sep(&c->req);
                if (rc == 0)
                        rc = write_job(&c->req, &o[i]);
        }
        if (rc == 0)
                rc = sbuf_adds(&c->req, "]}");
        if (rc == 0)
                rc = client_url(c, "/v1/jobs");
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, 0, out ? answer_jobs : NULL, out);
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
        return request(c, "GET", false, wait_ms, answer_job, out);
}

int baton_job_list(struct baton_client *c, const struct baton_list_opts *opts,
                   struct baton_jobs **out)
{
        int rc;

        *out = NULL;
        rc = client_url(c, "/v1/jobs");
        if (rc == 0 && opts && opts->queue)
                rc = client_query(c, "queue", opts->queue);
        if (rc == 0 && opts && opts->state)
                rc = client_query(c, "state", opts->state);
        if (rc == 0 && opts && opts->type)
                rc = client_query(c, "type", opts->type);
        if (rc == 0 && opts)
                rc = client_query_page(c, opts->limit, opts->after);
        if (rc)
                return local(c, rc);
        return request(c, "GET", false, 0, answer_jobs, out);
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
        return request(c, "DELETE", false, 0, out ? answer_job : NULL, out);
}

int baton_job_retry(struct baton_client *c, const char *id, struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/jobs/", id, "/retry");
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_adds(&c->req, "{}");
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, 0, out ? answer_job : NULL, out);
}

int baton_claim(struct baton_client *c, const char *queue, const struct baton_claim_opts *o,
                struct baton_jobs **out)
{
        int rc;

        *out = NULL;
        if (!queue || !o || !o->worker)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/queues/", queue, "/claim");
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_addc(&c->req, '{');
        if (rc == 0)
                rc = jo_str(&c->req, "worker", o->worker);
        if (rc == 0 && o->max)
                rc = jo_i64(&c->req, "max", o->max);
        if (rc == 0 && o->wait_ms)
                rc = jo_i64(&c->req, "wait_ms", o->wait_ms);
        if (rc == 0 && o->lease_ms)
                rc = jo_i64(&c->req, "lease_ms", o->lease_ms);
        if (rc == 0)
                rc = sbuf_addc(&c->req, '}');
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, o->wait_ms, answer_jobs, out);
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
        int rc;

        if (res)
                memset(res, 0, sizeof(*res));
        if (!id || !lease)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/jobs/", id, "/heartbeat");
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_addc(&c->req, '{');
        if (rc == 0)
                rc = jo_str(&c->req, "lease", lease);
        if (rc == 0 && extend_ms)
                rc = jo_i64(&c->req, "extend_ms", extend_ms);
        if (rc == 0 && progress)
                rc = jo_raw(&c->req, "progress", progress);
        if (rc == 0)
                rc = sbuf_addc(&c->req, '}');
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, 0, res ? answer_heartbeat : NULL, res);
}

int baton_complete(struct baton_client *c, const char *id, const char *lease, const char *result,
                   struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id || !lease)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/jobs/", id, "/complete");
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_addc(&c->req, '{');
        if (rc == 0)
                rc = jo_str(&c->req, "lease", lease);
        if (rc == 0 && result)
                rc = jo_raw(&c->req, "result", result);
        if (rc == 0)
                rc = sbuf_addc(&c->req, '}');
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, 0, out ? answer_job : NULL, out);
}

int baton_fail(struct baton_client *c, const char *id, const char *lease, const char *error,
               bool retryable, int64_t retry_in_ms, struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id || !lease)
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/jobs/", id, "/fail");
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_addc(&c->req, '{');
        if (rc == 0)
                rc = jo_str(&c->req, "lease", lease);
        if (rc == 0 && error)
                rc = jo_str(&c->req, "error", error);
        if (rc == 0 && !retryable)
                rc = jo_bool(&c->req, "retryable", false);
        if (rc == 0 && retry_in_ms >= 0)
                rc = jo_i64(&c->req, "retry_in_ms", retry_in_ms);
        if (rc == 0)
                rc = sbuf_addc(&c->req, '}');
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, 0, out ? answer_job : NULL, out);
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
        size_t i;
        int rc;

        sbuf_reset(&c->req);
        rc = sbuf_adds(&c->req, "{\"items\":[");
        for (i = 0; i < n && rc == 0; i++) {
                const struct baton_settle_item *it = &items[i];
                bool fail = it->outcome == BATON_OUTCOME_FAIL;

                if (!it->id || !it->lease)
                        return local(c, BATON_EINVAL);
                rc = jo_sep(&c->req);
                if (rc == 0)
                        rc = sbuf_addc(&c->req, '{');
                if (rc == 0)
                        rc = jo_str(&c->req, "id", it->id);
                if (rc == 0)
                        rc = jo_str(&c->req, "lease", it->lease);
                if (rc == 0)
                        rc = jo_str(&c->req, "outcome", fail ? "fail" : "complete");
                if (rc == 0 && !fail && it->result)
                        rc = jo_raw(&c->req, "result", it->result);
                if (rc == 0 && fail && it->error)
                        rc = jo_str(&c->req, "error", it->error);
                if (rc == 0 && fail && it->not_retryable)
                        rc = jo_bool(&c->req, "retryable", false);
                if (rc == 0 && fail && it->retry_in_ms >= 0)
                        rc = jo_i64(&c->req, "retry_in_ms", it->retry_in_ms);
                if (rc == 0)
                        rc = sbuf_addc(&c->req, '}');
        }
        if (rc == 0)
                rc = sbuf_adds(&c->req, "]}");
        if (rc == 0)
                rc = client_url(c, "/v1/settle");
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, 0, answer_settle, &d);
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
        return request(c, "GET", false, 0, answer_queue, out);
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
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_adds(&c->req, paused ? "{\"paused\":true}" : "{\"paused\":false}");
        if (rc)
                return local(c, rc);
        return request(c, "PATCH", true, 0, out ? answer_queue : NULL, out);
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
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_adds(&c->req, settings);
        if (rc)
                return local(c, rc);
        return request(c, "PATCH", true, 0, out ? answer_queue : NULL, out);
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
        return request(c, "GET", false, 0, answer_queues, out);
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
        return request(c, "GET", false, 0, answer_jobs, out);
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
        size_t i;
        int rc;

        if (replayed)
                *replayed = 0;
        if (!queue || (!all && n && !ids))
                return local(c, BATON_EINVAL);
        rc = client_url_seg(c, "/v1/queues/", queue, "/dead/replay");
        sbuf_reset(&c->req);
        if (rc == 0 && all)
                rc = sbuf_adds(&c->req, "{\"all\":true}");
        if (rc == 0 && !all) {
                rc = sbuf_adds(&c->req, "{\"ids\":[");
                for (i = 0; i < n && rc == 0; i++) {
                        rc = jo_sep(&c->req);
                        if (rc == 0)
                                rc = sbuf_json_str(&c->req, ids[i]);
                }
                if (rc == 0)
                        rc = sbuf_adds(&c->req, "]}");
        }
        if (rc)
                return local(c, rc);
        return request(c, "POST", true, 0, answer_count, &d);
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
        return request(c, "DELETE", false, 0, answer_count, &d);
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
        return request(c, "GET", false, 0, answer_health, NULL);
}

int baton_ready(struct baton_client *c)
{
        int rc = client_url(c, "/readyz");

        if (rc)
                return local(c, rc);
        return request(c, "GET", false, 0, NULL, NULL);
}
