/*
 * job.c: lifetime helpers and name tables for struct job.
 */
#include "store/job.h"

#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/names.h"
#include "store/store.h"

static const char *const prio_names[PRIO_COUNT] = {"critical", "high", "normal", "low"};
static const char *const backoff_names[] = {"exponential", "fixed", "immediate", "none"};

int str_set(char **dst, const char *src)
{
        char *p = NULL;

        if (src) {
                p = strdup(src);
                if (!p)
                        return BATON_ENOMEM;
        }
        free(*dst);
        *dst = p;
        return 0;
}

/* The bytes of s as an escaped JSON string with its quotes (common/jw.c's
 * escapes: two bytes for " \\ \n \r \t, six for other control bytes). */
size_t job_wire_str_bytes(const char *s)
{
        size_t n = 2;

        if (!s)
                return 4; /* null */
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t')
                        n += 2;
                else if (c < 0x20)
                        n += 6;
                else
                        n++;
        }
        return n;
}

size_t job_wire_bytes(const struct job *j)
{
        const char *strs[] = {j->queue,      j->type,         j->idempotency_key, j->key,
                              j->request_id, j->execution_id, j->traceparent,     j->lease,
                              j->worker,     j->last_error,   j->cancel_reason,   j->ref,
                              j->group};
        const char *raws[] = {j->payload, j->result, j->progress,   j->steps,  j->attempts,
                              j->timer,   j->cron,   j->depends_on, j->parents};
        size_t n = JOB_WIRE_FIXED_BYTES;

        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
                n += job_wire_str_bytes(strs[i]);
        for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++)
                n += raws[i] ? strlen(raws[i]) : 4;
        return n;
}

void job_free(struct job *j)
{
        char **strs[] = {&j->tenant,          &j->queue,    &j->type,       &j->payload,
                         &j->idempotency_key, &j->key,      &j->request_id, &j->execution_id,
                         &j->traceparent,     &j->lease,    &j->worker,     &j->result,
                         &j->last_error,      &j->progress, &j->attempts,   &j->steps,
                         &j->cancel_reason,   &j->timer,    &j->depends_on, &j->ref,
                         &j->parents,         &j->group,    &j->cron};

        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
                free(*strs[i]);
                *strs[i] = NULL;
        }
}

int job_copy(struct job *dst, const struct job *src)
{
        *dst = *src;
        char **strs[] = {
            &dst->tenant,          &dst->queue,    &dst->type,       &dst->payload,
            &dst->idempotency_key, &dst->key,      &dst->request_id, &dst->execution_id,
            &dst->traceparent,     &dst->lease,    &dst->worker,     &dst->result,
            &dst->last_error,      &dst->progress, &dst->attempts,   &dst->steps,
            &dst->cancel_reason,   &dst->timer,    &dst->depends_on, &dst->ref,
            &dst->parents,         &dst->group,    &dst->cron};
        int rc = 0;

        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
                if (*strs[i] && !rc) {
                        *strs[i] = strdup(*strs[i]);
                        if (!*strs[i])
                                rc = BATON_ENOMEM;
                } else {
                        *strs[i] = NULL;
                }
        }
        if (rc)
                job_free(dst);
        return rc;
}

void job_vec_free(struct job_vec *jv)
{
        for (int i = 0; i < jv->n; i++)
                job_free(&jv->v[i]);
        free(jv->v);
        jv->v = NULL;
        jv->n = 0;
        jv->cap = 0;
}

struct job *job_vec_push(struct job_vec *jv)
{
        if (store_grow((void **)&jv->v, jv->n, &jv->cap, sizeof(*jv->v)))
                return NULL;
        memset(&jv->v[jv->n], 0, sizeof(jv->v[0]));
        return &jv->v[jv->n++];
}

int job_pages_merge(struct job_vec *pages, int k, int limit, bool desc, size_t bytes_max,
                    struct job_vec *out)
{
        int pos[JOB_STATE_COUNT] = {0};
        size_t bytes = 0;
        int taken = 0;

        if (k < 0 || k > JOB_STATE_COUNT)
                return BATON_EINVAL;
        while (taken < limit && (!bytes_max || bytes <= bytes_max)) {
                struct job *j;
                int best = -1;

                for (int i = 0; i < k; i++) {
                        int64_t id;

                        if (pos[i] >= pages[i].n)
                                continue;
                        id = pages[i].v[pos[i]].id;
                        if (best < 0 || (desc ? id > pages[best].v[pos[best]].id
                                              : id < pages[best].v[pos[best]].id))
                                best = i;
                }
                if (best < 0)
                        break;
                bytes += job_wire_bytes(&pages[best].v[pos[best]]);
                j = job_vec_push(out);
                if (!j)
                        return BATON_ENOMEM;
                *j = pages[best].v[pos[best]];
                memset(&pages[best].v[pos[best]++], 0, sizeof(*j));
                taken++;
        }
        return 0;
}

const char *job_priority_name(int prio)
{
        return names_get(prio_names, PRIO_COUNT, prio);
}

int job_priority_parse(const char *s)
{
        return names_find(prio_names, PRIO_COUNT, s);
}

const char *backoff_type_name(int type)
{
        return names_get(backoff_names, BACKOFF_NONE + 1, type);
}

int backoff_type_parse(const char *s)
{
        return names_find(backoff_names, BACKOFF_NONE + 1, s);
}
