/*
 * objects.c: turns the server's JSON answers into struct baton_job and struct
 * baton_queue, and the names of states and priorities. A job keeps a reference
 * to its JSON object and points its string members into it, so building a job
 * copies nothing but the JSON-valued members (payload, result, progress), which
 * are serialised once to compact text. Claims of up to 1,000 jobs are parsed on
 * the worker's hot path, hence this care.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/internal.h"
#include "common/names.h"

struct baton_job_priv {
        json_t *obj;
        char *payload;
        char *result;
        char *progress;
        char *json; /* whole object, built on demand by baton_job_json */
};

struct baton_queue_priv {
        json_t *obj;
        char *json; /* whole object, built on demand by baton_queue_json */
};

static const char *const state_names[] = {
    "unknown",  "pending",   "scheduled", "queued",    "running",
    "retrying", "completed", "dead",      "cancelled",
};

static const char *const priority_names[] = {"default", "critical", "high", "normal", "low"};

const char *baton_state_name(enum baton_state s)
{
        if ((int)s < 0 || (size_t)s >= sizeof(state_names) / sizeof(state_names[0]))
                return state_names[0];
        return state_names[s];
}

const char *baton_priority_name(enum baton_priority p)
{
        if ((int)p < 0 || (size_t)p >= sizeof(priority_names) / sizeof(priority_names[0]))
                return priority_names[0];
        return priority_names[p];
}

/* Index 0 ("unknown", "default") is what an unknown name parses to, never
 * a name that parses. */
enum baton_state baton_state_parse(const char *name)
{
        int i = names_find(state_names + 1, (int)(sizeof(state_names) / sizeof(state_names[0])) - 1,
                           name);

        return i < 0 ? BATON_STATE_UNKNOWN : (enum baton_state)(i + 1);
}

enum baton_priority baton_priority_parse(const char *name)
{
        int i = names_find(priority_names + 1,
                           (int)(sizeof(priority_names) / sizeof(priority_names[0])) - 1, name);

        return i < 0 ? BATON_PRIORITY_DEFAULT : (enum baton_priority)(i + 1);
}

bool baton_state_terminal(enum baton_state s)
{
        return s == BATON_STATE_COMPLETED || s == BATON_STATE_DEAD || s == BATON_STATE_CANCELLED;
}

const char *jstr(const json_t *obj, const char *key)
{
        return json_string_value(json_object_get(obj, key));
}

int64_t jint(const json_t *obj, const char *key, int64_t dflt)
{
        json_t *v = json_object_get(obj, key);

        if (json_is_integer(v))
                return (int64_t)json_integer_value(v);
        if (json_is_real(v))
                return (int64_t)json_real_value(v);
        return dflt;
}

bool jbool(const json_t *obj, const char *key)
{
        return json_is_true(json_object_get(obj, key));
}

/* Reads n digits; returns -1 when a non-digit is found. */
static int digits(const char **s, int n)
{
        int v = 0;

        while (n-- > 0) {
                if (**s < '0' || **s > '9')
                        return -1;
                v = v * 10 + (**s - '0');
                (*s)++;
        }
        return v;
}

int client_parse_time_ms(const char *s, int64_t *out_ms)
{
        struct tm tm;
        int year, mon, day, hour, min, sec, ms = 0, off_min = 0;
        time_t t;

        if (!s)
                return BATON_EINVAL;
        if ((year = digits(&s, 4)) < 0 || *s++ != '-' || (mon = digits(&s, 2)) < 0 || *s++ != '-' ||
            (day = digits(&s, 2)) < 0 || (*s != 'T' && *s != 't' && *s != ' '))
                return BATON_EINVAL;
        s++;
        if ((hour = digits(&s, 2)) < 0 || *s++ != ':' || (min = digits(&s, 2)) < 0 || *s++ != ':' ||
            (sec = digits(&s, 2)) < 0)
                return BATON_EINVAL;
        if (*s == '.') {
                int scale = 100;

                s++;
                if (*s < '0' || *s > '9')
                        return BATON_EINVAL;
                /* Keep milliseconds; finer digits are read and dropped. */
                for (; *s >= '0' && *s <= '9'; s++) {
                        ms += (*s - '0') * scale;
                        scale /= 10;
                }
        }
        if (*s == 'Z' || *s == 'z') {
                s++;
        } else if (*s == '+' || *s == '-') {
                int sign = *s++ == '-' ? -1 : 1, oh, om;

                if ((oh = digits(&s, 2)) < 0 || *s++ != ':' || (om = digits(&s, 2)) < 0)
                        return BATON_EINVAL;
                off_min = sign * (oh * 60 + om);
        } else {
                return BATON_EINVAL;
        }
        if (*s || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return BATON_EINVAL;
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        t = timegm(&tm);
        *out_ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + ms;
        return 0;
}

static int64_t jtime(const json_t *obj, const char *key)
{
        int64_t ms = 0;

        if (client_parse_time_ms(jstr(obj, key), &ms))
                return 0;
        return ms;
}

/* Serialises member key of obj to compact JSON text; *out stays NULL when the
 * member is absent (or null, unless keep_null). */
static int dump_member(const json_t *obj, const char *key, bool keep_null, char **out)
{
        json_t *v = json_object_get(obj, key);

        *out = NULL;
        if (!v || (json_is_null(v) && !keep_null))
                return 0;
        *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        return *out ? 0 : BATON_ENOMEM;
}

int job_from_json(json_t *obj, struct baton_job *j)
{
        struct baton_job_priv *p;
        int rc;

        memset(j, 0, sizeof(*j));
        if (!json_is_object(obj) || !jstr(obj, "id"))
                return BATON_EPROTO;
        p = calloc(1, sizeof(*p));
        if (!p)
                return BATON_ENOMEM;
        p->obj = json_incref(obj);
        j->priv = p;
        rc = dump_member(obj, "payload", true, &p->payload);
        if (rc == 0)
                rc = dump_member(obj, "result", false, &p->result);
        if (rc == 0)
                rc = dump_member(obj, "progress", false, &p->progress);
        if (rc) {
                job_clear(j);
                return rc;
        }
        j->id = jstr(obj, "id");
        j->queue = jstr(obj, "queue");
        j->type = jstr(obj, "type");
        j->state = baton_state_parse(jstr(obj, "state"));
        j->priority = baton_priority_parse(jstr(obj, "priority"));
        j->attempt = (int)jint(obj, "attempt", 0);
        j->max_attempts = (int)jint(obj, "max_attempts", 0);
        j->version = jint(obj, "version", 0);
        j->lease_ms = jint(obj, "lease_ms", 0);
        j->run_at_ms = jtime(obj, "run_at");
        j->created_at_ms = jtime(obj, "created_at");
        j->started_at_ms = jtime(obj, "started_at");
        j->finished_at_ms = jtime(obj, "finished_at");
        j->lease = jstr(obj, "lease");
        j->lease_until_ms = jtime(obj, "lease_until");
        j->worker = jstr(obj, "worker");
        j->payload = p->payload ? p->payload : "null";
        j->result = p->result;
        j->progress = p->progress;
        j->last_error = jstr(obj, "last_error");
        j->idempotency_key = jstr(obj, "idempotency_key");
        j->key = jstr(obj, "key");
        j->request_id = jstr(obj, "request_id");
        j->execution_id = jstr(obj, "execution_id");
        j->traceparent = jstr(obj, "traceparent");
        j->group = jstr(obj, "group");
        j->cancel_requested = jbool(obj, "cancel_requested");
        j->cancel_reason = jstr(obj, "cancel_reason");
        j->duplicate = jbool(obj, "duplicate");
        j->replaced = jbool(obj, "replaced");
        j->repeat = jbool(obj, "repeat");
        return 0;
}

void job_clear(void *job)
{
        struct baton_job *j = job;
        struct baton_job_priv *p = j->priv;

        if (p) {
                json_decref(p->obj);
                free(p->payload);
                free(p->result);
                free(p->progress);
                free(p->json);
                free(p);
        }
        memset(j, 0, sizeof(*j));
}

const char *baton_job_json(struct baton_job *j)
{
        struct baton_job_priv *p = j->priv;

        if (!p)
                return NULL;
        if (!p->json)
                p->json = json_dumps(p->obj, JSON_COMPACT);
        return p->json;
}

void baton_job_free(struct baton_job *j)
{
        if (!j)
                return;
        job_clear(j);
        free(j);
}

void client_page_free(void *page, void *v, size_t n, size_t size, void (*clear)(void *item),
                      char *next)
{
        if (!page)
                return;
        for (size_t i = 0; i < n; i++)
                clear((char *)v + i * size);
        free(v);
        free(next);
        free(page);
}

void baton_jobs_free(struct baton_jobs *l)
{
        if (l)
                client_page_free(l, l->v, l->n, sizeof(*l->v), job_clear, l->next);
}

int jobs_from_json(json_t *arr, json_t *next, struct baton_jobs **out)
{
        struct baton_jobs *l;
        size_t i, n;
        int rc = BATON_ENOMEM;

        *out = NULL;
        if (!json_is_array(arr) || (next && !json_is_null(next) && !json_is_string(next)))
                return BATON_EPROTO;
        l = calloc(1, sizeof(*l));
        if (!l)
                return BATON_ENOMEM;
        n = json_array_size(arr);
        if (n) {
                l->v = calloc(n, sizeof(*l->v));
                if (!l->v)
                        goto out;
        }
        for (i = 0; i < n; i++) {
                rc = job_from_json(json_array_get(arr, i), &l->v[i]);
                if (rc)
                        goto out;
                l->n = i + 1;
        }
        if (json_is_string(next)) {
                l->next = strdup(json_string_value(next));
                if (!l->next) {
                        rc = BATON_ENOMEM;
                        goto out;
                }
        }
        *out = l;
        l = NULL;
        rc = 0;
out:
        baton_jobs_free(l);
        return rc;
}

int queue_from_json(json_t *obj, struct baton_queue *q)
{
        json_t *counts;

        memset(q, 0, sizeof(*q));
        if (!json_is_object(obj) || !jstr(obj, "name"))
                return BATON_EPROTO;
        q->priv = calloc(1, sizeof(*q->priv));
        if (!q->priv)
                return BATON_ENOMEM;
        q->priv->obj = json_incref(obj);
        q->name = jstr(obj, "name");
        q->paused = jbool(obj, "paused");
        q->oldest_ready_age_ms = jint(obj, "oldest_ready_age_ms", -1);
        counts = json_object_get(obj, "counts");
        q->counts.pending = jint(counts, "pending", 0);
        q->counts.scheduled = jint(counts, "scheduled", 0);
        q->counts.queued = jint(counts, "queued", 0);
        q->counts.running = jint(counts, "running", 0);
        q->counts.retrying = jint(counts, "retrying", 0);
        q->counts.completed = jint(counts, "completed", 0);
        q->counts.dead = jint(counts, "dead", 0);
        q->counts.cancelled = jint(counts, "cancelled", 0);
        q->concurrency = jint(obj, "concurrency", 0);
        q->rate_max = jint(json_object_get(obj, "rate"), "max", 0);
        q->rate_per_ms = jint(json_object_get(obj, "rate"), "per_ms", 0);
        q->max_depth = jint(obj, "max_depth", 0);
        q->group_concurrency = jint(obj, "group_concurrency", 0);
        q->group_rate_max = jint(json_object_get(obj, "group_rate"), "max", 0);
        q->group_rate_per_ms = jint(json_object_get(obj, "group_rate"), "per_ms", 0);
        q->running = jint(obj, "running", 0);
        q->depth = jint(obj, "depth", 0);
        return 0;
}

const char *baton_queue_json(struct baton_queue *q)
{
        if (!q->priv)
                return NULL;
        if (!q->priv->json)
                q->priv->json = json_dumps(q->priv->obj, JSON_COMPACT);
        return q->priv->json;
}

void queue_clear(void *queue)
{
        struct baton_queue *q = queue;

        if (q->priv) {
                json_decref(q->priv->obj);
                free(q->priv->json);
                free(q->priv);
        }
        memset(q, 0, sizeof(*q));
}

void baton_queue_free(struct baton_queue *q)
{
        if (!q)
                return;
        queue_clear(q);
        free(q);
}

void baton_queues_free(struct baton_queues *l)
{
        if (l)
                client_page_free(l, l->v, l->n, sizeof(*l->v), queue_clear, l->next);
}
