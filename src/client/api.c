/*
 * api.c: one function per endpoint of docs/api.md. Each builds its URL and
 * body in the client's reusable buffers, performs the call and turns the answer
 * into the caller's objects. Bodies are written directly as text (JSON inputs
 * given by the caller are inserted verbatim) so that the enqueue and settle hot
 * paths cost one pass over the request and one parse of the answer.
 */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

/* Starts the URL base + prefix + escaped seg + suffix (seg may be NULL). */
static int url_seg(struct baton_client *c, const char *prefix, const char *seg, const char *suffix)
{
        int rc = client_url(c, prefix);

        if (rc == 0 && seg)
                rc = sbuf_url_escape(&c->url, seg);
        if (rc == 0 && suffix)
                rc = sbuf_adds(&c->url, suffix);
        return rc;
}

/* Appends "?name=value" or "&name=value" with value escaped. */
static int query(struct baton_client *c, const char *name, const char *value)
{
        int rc = sbuf_addc(&c->url, strchr(c->url.p, '?') ? '&' : '?');

        if (rc == 0)
                rc = sbuf_adds(&c->url, name);
        if (rc == 0)
                rc = sbuf_addc(&c->url, '=');
        if (rc == 0)
                rc = sbuf_url_escape(&c->url, value);
        return rc;
}

static int query_i64(struct baton_client *c, const char *name, int64_t v)
{
        char num[24];

        snprintf(num, sizeof(num), "%lld", (long long)v);
        return query(c, name, num);
}

/* Records a library-side failure in the client's last error. */
static int local(struct baton_client *c, int rc)
{
        return client_fail(c, rc, NULL);
}

/* Takes member key of root as a job for the caller. */
static int take_job(struct baton_client *c, json_t *root, const char *key, struct baton_job **out)
{
        struct baton_job *j;
        int rc;

        j = malloc(sizeof(*j));
        if (!j)
                return local(c, BATON_ENOMEM);
        rc = job_from_json(json_object_get(root, key), j);
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

static int take_jobs(struct baton_client *c, json_t *root, struct baton_jobs **out)
{
        int rc = jobs_from_json(json_object_get(root, "jobs"), json_object_get(root, "next"), out);

        return rc ? client_fail(c, rc, rc == BATON_EPROTO ? "answer holds no job list" : NULL) : 0;
}

/* Sends the body in c->req and, when out is wanted, reads a job from member
 * "job" of the answer. */
static int call_job(struct baton_client *c, const char *method, bool with_body, int64_t wait_ms,
                    struct baton_job **out)
{
        json_t *root = NULL;
        int rc;

        if (out)
                *out = NULL;
        rc = client_call(c, method, with_body ? c->req.p : NULL, with_body ? c->req.len : 0,
                         wait_ms, out ? &root : NULL);
        if (rc == 0 && out)
                rc = take_job(c, root, "job", out);
        json_decref(root);
        return rc;
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
        return call_job(c, "POST", true, 0, out);
}

int baton_enqueue_batch(struct baton_client *c, const struct baton_enqueue_opts *o, size_t n,
                        struct baton_jobs **out)
{
        json_t *root = NULL;
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
        rc = client_call(c, "POST", c->req.p, c->req.len, 0, out ? &root : NULL);
        if (rc == 0 && out)
                rc = take_jobs(c, root, out);
        json_decref(root);
        return rc;
}

int baton_job_get(struct baton_client *c, const char *id, int64_t wait_ms, struct baton_job **out)
{
        int rc;

        *out = NULL;
        if (!id)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/jobs/", id, NULL);
        if (rc == 0 && wait_ms)
                rc = query_i64(c, "wait_ms", wait_ms);
        if (rc)
                return local(c, rc);
        return call_job(c, "GET", false, wait_ms, out);
}

int baton_job_list(struct baton_client *c, const struct baton_list_opts *opts,
                   struct baton_jobs **out)
{
        json_t *root = NULL;
        int rc;

        *out = NULL;
        rc = client_url(c, "/v1/jobs");
        if (rc == 0 && opts && opts->queue)
                rc = query(c, "queue", opts->queue);
        if (rc == 0 && opts && opts->state)
                rc = query(c, "state", opts->state);
        if (rc == 0 && opts && opts->type)
                rc = query(c, "type", opts->type);
        if (rc == 0 && opts && opts->limit)
                rc = query_i64(c, "limit", opts->limit);
        if (rc == 0 && opts && opts->after)
                rc = query(c, "after", opts->after);
        if (rc)
                return local(c, rc);
        rc = client_call(c, "GET", NULL, 0, 0, &root);
        if (rc == 0)
                rc = take_jobs(c, root, out);
        json_decref(root);
        return rc;
}

int baton_job_cancel(struct baton_client *c, const char *id, struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/jobs/", id, NULL);
        if (rc)
                return local(c, rc);
        return call_job(c, "DELETE", false, 0, out);
}

int baton_job_retry(struct baton_client *c, const char *id, struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/jobs/", id, "/retry");
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_adds(&c->req, "{}");
        if (rc)
                return local(c, rc);
        return call_job(c, "POST", true, 0, out);
}

int baton_claim(struct baton_client *c, const char *queue, const struct baton_claim_opts *o,
                struct baton_jobs **out)
{
        json_t *root = NULL;
        int rc;

        *out = NULL;
        if (!queue || !o || !o->worker)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/queues/", queue, "/claim");
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
        rc = client_call(c, "POST", c->req.p, c->req.len, o->wait_ms, &root);
        if (rc == 0)
                rc = take_jobs(c, root, out);
        json_decref(root);
        return rc;
}

int baton_heartbeat(struct baton_client *c, const char *id, const char *lease, int64_t extend_ms,
                    const char *progress, struct baton_heartbeat_res *res)
{
        json_t *root = NULL;
        int rc;

        if (res)
                memset(res, 0, sizeof(*res));
        if (!id || !lease)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/jobs/", id, "/heartbeat");
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
        rc = client_call(c, "POST", c->req.p, c->req.len, 0, res ? &root : NULL);
        if (rc == 0 && res) {
                if (client_parse_time_ms(jstr(root, "lease_until"), &res->lease_until_ms))
                        rc = client_fail(c, BATON_EPROTO, "heartbeat answer without lease_until");
                res->cancel_requested = jbool(root, "cancel_requested");
        }
        json_decref(root);
        return rc;
}

int baton_complete(struct baton_client *c, const char *id, const char *lease, const char *result,
                   struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id || !lease)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/jobs/", id, "/complete");
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
        return call_job(c, "POST", true, 0, out);
}

int baton_fail(struct baton_client *c, const char *id, const char *lease, const char *error,
               bool retryable, int64_t retry_in_ms, struct baton_job **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id || !lease)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/jobs/", id, "/fail");
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
        return call_job(c, "POST", true, 0, out);
}

int baton_settle(struct baton_client *c, struct baton_settle_item *items, size_t n)
{
        json_t *root = NULL, *arr;
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
        rc = client_call(c, "POST", c->req.p, c->req.len, 0, &root);
        if (rc)
                goto out;
        arr = json_object_get(root, "items");
        if (!json_is_array(arr) || json_array_size(arr) != n) {
                rc = client_fail(c, BATON_EPROTO, "settle answer does not match the items");
                goto out;
        }
        for (i = 0; i < n; i++) {
                json_t *a = json_array_get(arr, i), *e = json_object_get(a, "error");
                const char *code = jstr(e, "code");

                items[i].code[0] = '\0';
                if (jbool(a, "ok")) {
                        items[i].rc = 0;
                        continue;
                }
                if (code) {
                        size_t len = strlen(code);

                        if (len >= sizeof(items[i].code))
                                len = sizeof(items[i].code) - 1;
                        memcpy(items[i].code, code, len);
                        items[i].code[len] = '\0';
                }
                /* Items are refused for the reasons complete and fail give, most of
                 * them conflicts; an unknown code without a status is one too. */
                items[i].rc = baton_err_from_api(409, code);
        }
out:
        json_decref(root);
        return rc;
}

static int call_queue(struct baton_client *c, const char *method, bool with_body,
                      struct baton_queue **out)
{
        json_t *root = NULL;
        struct baton_queue *q = NULL;
        int rc;

        if (out)
                *out = NULL;
        rc = client_call(c, method, with_body ? c->req.p : NULL, with_body ? c->req.len : 0, 0,
                         out ? &root : NULL);
        if (rc || !out)
                goto out;
        q = malloc(sizeof(*q));
        if (!q) {
                rc = local(c, BATON_ENOMEM);
                goto out;
        }
        rc = queue_from_json(json_object_get(root, "queue"), q);
        if (rc) {
                free(q);
                rc = client_fail(c, rc, rc == BATON_EPROTO ? "answer holds no queue" : NULL);
                goto out;
        }
        *out = q;
out:
        json_decref(root);
        return rc;
}

int baton_queue_get(struct baton_client *c, const char *name, struct baton_queue **out)
{
        int rc;

        *out = NULL;
        if (!name)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/queues/", name, NULL);
        if (rc)
                return local(c, rc);
        return call_queue(c, "GET", false, out);
}

int baton_queue_pause(struct baton_client *c, const char *name, bool paused,
                      struct baton_queue **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!name)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/queues/", name, NULL);
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_adds(&c->req, paused ? "{\"paused\":true}" : "{\"paused\":false}");
        if (rc)
                return local(c, rc);
        return call_queue(c, "PATCH", true, out);
}

int baton_queue_set(struct baton_client *c, const char *name, const char *settings,
                    struct baton_queue **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!name || !settings)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/queues/", name, NULL);
        sbuf_reset(&c->req);
        if (rc == 0)
                rc = sbuf_adds(&c->req, settings);
        if (rc)
                return local(c, rc);
        return call_queue(c, "PATCH", true, out);
}

int baton_queue_list(struct baton_client *c, int limit, const char *after,
                     struct baton_queues **out)
{
        json_t *root = NULL, *arr, *next;
        struct baton_queues *l = NULL;
        size_t i, n;
        int rc;

        *out = NULL;
        rc = client_url(c, "/v1/queues");
        if (rc == 0 && limit)
                rc = query_i64(c, "limit", limit);
        if (rc == 0 && after)
                rc = query(c, "after", after);
        if (rc)
                return local(c, rc);
        rc = client_call(c, "GET", NULL, 0, 0, &root);
        if (rc)
                goto out;
        arr = json_object_get(root, "queues");
        next = json_object_get(root, "next");
        if (!json_is_array(arr)) {
                rc = client_fail(c, BATON_EPROTO, "answer holds no queue list");
                goto out;
        }
        rc = BATON_ENOMEM;
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
        json_decref(root);
        return rc;
}

int baton_dead_list(struct baton_client *c, const char *queue, int limit, const char *after,
                    struct baton_jobs **out)
{
        json_t *root = NULL;
        int rc;

        *out = NULL;
        if (!queue)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/queues/", queue, "/dead");
        if (rc == 0 && limit)
                rc = query_i64(c, "limit", limit);
        if (rc == 0 && after)
                rc = query(c, "after", after);
        if (rc)
                return local(c, rc);
        rc = client_call(c, "GET", NULL, 0, 0, &root);
        if (rc == 0)
                rc = take_jobs(c, root, out);
        json_decref(root);
        return rc;
}

/* Reads the integer member key of an answer into *out (may be NULL). */
static int call_count(struct baton_client *c, const char *method, bool with_body, const char *key,
                      int64_t *out)
{
        json_t *root = NULL;
        int rc;

        rc = client_call(c, method, with_body ? c->req.p : NULL, with_body ? c->req.len : 0, 0,
                         &root);
        if (rc == 0) {
                if (!json_is_integer(json_object_get(root, key)))
                        rc = client_fail(c, BATON_EPROTO, "answer holds no count");
                else if (out)
                        *out = jint(root, key, 0);
        }
        json_decref(root);
        return rc;
}

int baton_dead_replay(struct baton_client *c, const char *queue, const char *const *ids, size_t n,
                      bool all, int64_t *replayed)
{
        size_t i;
        int rc;

        if (replayed)
                *replayed = 0;
        if (!queue || (!all && n && !ids))
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/queues/", queue, "/dead/replay");
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
        return call_count(c, "POST", true, "replayed", replayed);
}

int baton_dead_purge(struct baton_client *c, const char *queue, int64_t *purged)
{
        int rc;

        if (purged)
                *purged = 0;
        if (!queue)
                return local(c, BATON_EINVAL);
        rc = url_seg(c, "/v1/queues/", queue, "/dead");
        if (rc)
                return local(c, rc);
        return call_count(c, "DELETE", false, "purged", purged);
}

int baton_health(struct baton_client *c)
{
        json_t *root = NULL;
        int rc = client_url(c, "/healthz");

        if (rc)
                return local(c, rc);
        rc = client_call(c, "GET", NULL, 0, 0, &root);
        if (rc == 0) {
                const char *st = jstr(root, "status");

                if (!st || strcmp(st, "ok") != 0)
                        rc = client_fail(c, BATON_EPROTO, "healthz did not say ok");
        }
        json_decref(root);
        return rc;
}

int baton_ready(struct baton_client *c)
{
        int rc = client_url(c, "/readyz");

        if (rc)
                return local(c, rc);
        return client_call(c, "GET", NULL, 0, 0, NULL);
}
