/*
 * api_parse.c: turns request JSON and query arguments into the C requests of
 * core/jobs.h, with the exact error code and field path docs/api.md gives for
 * each mistake. Handlers call these before submitting anything, so bad input is
 * refused on the loop thread and never reaches the store.
 *
 * Workload: one call per request field, and for a batch enqueue up to
 * batch_max objects; the only costly step is serializing and hashing payloads,
 * which is linear in their size (bounded by payload_max_bytes). Assumes the
 * body was parsed by jansson (http.c) and that limits are already loaded.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/names.h"
#include "core/deps.h"
#include "server/api_internal.h"

void api_id_format(int64_t id, char *out)
{
        _Static_assert(API_ID_LEN >= JW_I64_LEN, "an id fits");
        jw_fmt_i64(id, out);
}

void api_kid(struct jw *w, const char *k, int64_t id)
{
        char text[API_ID_LEN];

        if (!id) {
                jw_kstr(w, k, NULL);
                return;
        }
        api_id_format(id, text);
        jw_kstr(w, k, text);
}

int api_id_parse(const char *s, int64_t *out)
{
        int64_t v = 0;

        if (!s || !*s)
                return -1;
        for (const char *p = s; *p; p++) {
                int d = *p - '0';
                if (d < 0 || d > 9)
                        return -1;
                if (v > (INT64_MAX - d) / 10)
                        return -1;
                v = v * 10 + d;
        }
        if (v <= 0)
                return -1;
        *out = v;
        return 0;
}

int api_path_id(const struct http_req *hr, int i, int64_t *out, struct verr *e)
{
        const char *s = http_param(hr, i);

        if (api_id_parse(s, out) != 0)
                return verr_set(e, BATON_EINVAL, "invalid_id", "id",
                                "job id \"%.64s\" must be a positive decimal number", s ? s : "");
        return 0;
}

/* Appends s to out[*len] within n bytes, cut as snprintf would cut it. */
static void field_add(char *out, size_t n, size_t *len, const char *s, size_t sn)
{
        if (*len + 1 >= n)
                return;
        if (sn > n - 1 - *len)
                sn = n - 1 - *len;
        memcpy(out + *len, s, sn);
        *len += sn;
}

/* What snprintf(out, n, "%s.%s", prefix, name) writes, without stdio: every
 * member an enqueue parses names its field, on the loop thread. */
void api_field(char *out, size_t n, const char *prefix, const char *name)
{
        size_t len = 0;

        if (n == 0)
                return;
        if (prefix && *prefix) {
                field_add(out, n, &len, prefix, strlen(prefix));
                field_add(out, n, &len, ".", 1);
        }
        field_add(out, n, &len, name, strlen(name));
        out[len] = '\0';
}

int api_get_str(json_t *obj, const char *prefix, const char *name, bool required, const char **out,
                struct verr *e)
{
        char f[128];
        json_t *v = json_object_get(obj, name);
        int rc;

        /* The usual cases, a string or an optional member left out, are
         * answered here; validate_json_str (which names the field first)
         * writes the refusals. */
        if (json_is_string(v))
                *out = json_string_value(v);
        else if ((!v || json_is_null(v)) && !required)
                *out = NULL;
        else if ((rc = validate_json_str(obj, prefix, name, required, out, e)) != 0)
                return rc;
        if (!*out)
                return 0;
        /* A NUL inside the string would silently cut it in C. */
        if (strlen(*out) != json_string_length(v)) {
                *out = NULL;
                api_field(f, sizeof(f), prefix, name);
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "%s must not contain NUL characters", f);
        }
        return 0;
}

int api_get_int(json_t *obj, const char *prefix, const char *name, bool *present, int64_t *out,
                struct verr *e)
{
        json_t *v = json_object_get(obj, name);
        char f[128];

        *present = false;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v)) {
                api_field(f, sizeof(f), prefix, name);
                return verr_set(e, BATON_EINVAL, "invalid_field", f, "%s must be an integer", f);
        }
        *present = true;
        *out = (int64_t)json_integer_value(v);
        return 0;
}

int api_get_bool(json_t *obj, const char *prefix, const char *name, bool *out, struct verr *e)
{
        json_t *v = json_object_get(obj, name);
        char f[128];

        if (!v || json_is_null(v))
                return 0;
        if (!json_is_boolean(v)) {
                api_field(f, sizeof(f), prefix, name);
                return verr_set(e, BATON_EINVAL, "invalid_field", f, "%s must be true or false", f);
        }
        *out = json_is_true(v);
        return 0;
}

/* The member another job system (BullMQ, Sidekiq) or a habit would send for
 * one of ours, to name in the refusal. */
static const char *const field_aliases[][2] = {
    {"attempts", "max_attempts"}, {"retry", "max_attempts"},    {"delay", "delay_ms"},
    {"tz", "timezone"},           {"jobId", "idempotency_key"}, {"timeout", "timeout_ms"},
    {"lease", "lease_ms"},        {"data", "payload"},          {"name", "type"},
};

/* The allowed member that name most likely meant ("attempts" ->
 * "max_attempts", "lease" -> "lease_ms"), or NULL when none is allowed here. */
static const char *field_hint(const char *known, const char *name)
{
        char ms[128];

        for (size_t i = 0; i < sizeof(field_aliases) / sizeof(field_aliases[0]); i++)
                if (strcmp(name, field_aliases[i][0]) == 0 &&
                    names_in_words(known, field_aliases[i][1]))
                        return field_aliases[i][1];
        snprintf(ms, sizeof(ms), "%s_ms", name);
        return names_in_words(known, ms) ? strstr(known, ms) : NULL;
}

int api_known_fields(json_t *obj, const char *prefix, const char *known, struct verr *e)
{
        const char *k, *hint;
        json_t *v;
        char f[256];
        int hint_len;

        json_object_foreach(obj, k, v)
        {
                (void)v;
                if (names_in_words(known, k))
                        continue;
                api_field(f, sizeof(f), prefix, k);
                hint = field_hint(known, k);
                hint_len = hint ? (int)strcspn(hint, " ") : 0;
                return verr_set(e, BATON_EINVAL, "unknown_field", f,
                                "unknown field \"%s\"%s%.*s%s; allowed here: %s", f,
                                hint ? " (did you mean \"" : "", hint_len, hint ? hint : "",
                                hint ? "\"?)" : "",
                                known && *known ? known : "none (this body takes no member)");
        }
        return 0;
}

/* What json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) returns (the caller's,
 * NULL when out of memory). A small value, such as most payloads of a batch,
 * is written into a stack buffer first and copied once: json_dumps grows a
 * heap buffer from 16 bytes and copies it again at the end, three allocations
 * per job on the loop thread. */
char *api_dump(const json_t *v)
{
        char small[512];
        size_t n = json_dumpb(v, small, sizeof(small), JSON_COMPACT | JSON_ENCODE_ANY);
        char *s;

        if (n == 0 || n > sizeof(small))
                return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        s = malloc(n + 1);
        if (!s)
                return NULL;
        memcpy(s, small, n);
        s[n] = '\0';
        return s;
}

int api_dump_max(const json_t *v, size_t max, const char *code, const char *field, char **out,
                 struct verr *e)
{
        json_t *null = json_null();
        char *s = api_dump(v ? v : null);
        size_t n;

        *out = NULL;
        if (!s)
                return verr_set(e, BATON_ENOMEM, "internal", field, "out of memory");
        n = strlen(s);
        if (n > max) {
                free(s);
                return verr_set(e, BATON_ETOOBIG, code, field, "%s is %zu bytes; the limit is %zu",
                                field, n, max);
        }
        *out = s;
        return 0;
}

/* ---- query arguments ---- */

static int parse_i64(const char *s, int64_t *out)
{
        char *end;
        long long v;

        if (!s || !*s)
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || end == s)
                return -1;
        *out = v;
        return 0;
}

int api_query_page(const struct http_req *hr, int *limit, int64_t *after, struct verr *e)
{
        int rc = api_query_limit(hr, limit, e);

        return rc ? rc : api_query_after_id(hr, after, e);
}

int api_query_name_page(const struct http_req *hr,
                        int (*check)(const struct limits *l, const char *field, const char *s,
                                     struct verr *e),
                        int *limit, const char **after, struct verr *e)
{
        const char *s = http_query(hr, "after");
        struct verr ignored;
        int rc = api_query_limit(hr, limit, e);

        *after = NULL;
        if (rc || !s || !*s)
                return rc;
        if (check(hr->srv->limits, "after", s, &ignored))
                return verr_set(e, BATON_EINVAL, "invalid_cursor", "after",
                                "after is not a cursor this server handed out");
        *after = s;
        return 0;
}

int api_query_int(const struct http_req *hr, const char *key, int64_t *out, struct verr *e)
{
        const char *s = http_query(hr, key);

        if (!s || !*s)
                return 0;
        if (parse_i64(s, out) != 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", key, "%s must be an integer",
                                key);
        return 0;
}

int api_query_limit(const struct http_req *hr, int *out, struct verr *e)
{
        const struct limits *l = hr->srv->limits;
        int64_t v = API_LIST_DEFAULT < l->list_max ? API_LIST_DEFAULT : l->list_max;
        int rc = api_query_int(hr, "limit", &v, e);

        if (rc)
                return rc;
        if (v < 1 || v > l->list_max)
                return verr_set(e, BATON_ERANGE, "limit_out_of_range", "limit",
                                "limit must be between 1 and %d", l->list_max);
        *out = (int)v;
        return 0;
}

int api_query_after_id(const struct http_req *hr, int64_t *out, struct verr *e)
{
        const char *s = http_query(hr, "after");

        *out = 0;
        if (!s || !*s)
                return 0;
        if (api_id_parse(s, out) != 0)
                return verr_set(e, BATON_EINVAL, "invalid_cursor", "after",
                                "after is not a cursor this server handed out");
        return 0;
}

/* ---- enqueue ---- */

/* Hex SHA-256 of the payload with sorted keys, so that the same JSON value
 * hashes alike whatever member order the client used. */
static int payload_hash(const json_t *payload, char out[PAYLOAD_HASH_LEN + 1])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        char *s = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        int ok;

        if (!s)
                return BATON_ENOMEM;
        ok = EVP_Digest(s, strlen(s), md, &md_len, EVP_sha256(), NULL);
        free(s);
        if (!ok || md_len * 2 != PAYLOAD_HASH_LEN)
                return BATON_ENOMEM;
        for (unsigned int i = 0; i < md_len; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
        return 0;
}

static int parse_payload(const struct limits *l, json_t *obj, const char *prefix,
                         struct enqueue_req *req, struct verr *e)
{
        json_t *v = json_object_get(obj, "payload");
        json_t *null = json_null();
        char f[128];
        int rc;

        api_field(f, sizeof(f), prefix, "payload");
        if (!v)
                v = null;
        rc = api_dump_max(v, l->payload_max_bytes, "payload_too_large", f, &req->job.payload, e);
        if (rc)
                return rc;
        /* The hash only serves idempotency checks; skipping it otherwise keeps a
         * second serialization off the hot path. */
        if (req->job.idempotency_key && payload_hash(v, req->payload_hash) != 0)
                return verr_set(e, BATON_ENOMEM, "internal", f, "out of memory");
        return 0;
}

/* Copies an optional string member into *dst (left NULL when absent). */
static int take_str(json_t *obj, const char *prefix, const char *name, char **dst, struct verr *e)
{
        const char *s;
        int rc = api_get_str(obj, prefix, name, false, &s, e);

        if (rc || !s)
                return rc;
        *dst = strdup(s);
        if (!*dst)
                return verr_set(e, BATON_ENOMEM, "internal", name, "out of memory");
        return 0;
}

static int parse_strings(json_t *obj, const char *prefix, struct job *j, struct verr *e)
{
        const char *names[] = {"queue",      "type",         "idempotency_key", "key",
                               "request_id", "execution_id", "traceparent",     "group"};
        char **dsts[] = {&j->queue,      &j->type,         &j->idempotency_key, &j->key,
                         &j->request_id, &j->execution_id, &j->traceparent,     &j->group};
        char f[128];
        int rc;

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                rc = take_str(obj, prefix, names[i], dsts[i], e);
                if (rc)
                        return rc;
        }
        if (!j->queue || !j->type) {
                api_field(f, sizeof(f), prefix, j->queue ? "type" : "queue");
                return verr_set(e, BATON_EINVAL, "missing_field", f, "%s is required", f);
        }
        return 0;
}

/* unique_while: "pending" (the default: on_key decides while a scheduled or
 * queued job holds the key) or "active" (409 already_running while any job
 * with the key has not ended), only with a key, and not beside on_key
 * "replace", which would have to move a job that may be running. */
static int parse_unique(json_t *obj, const char *prefix, struct enqueue_req *req, bool replace,
                        struct verr *e)
{
        const char *u;
        char f[128];
        int rc = api_get_str(obj, prefix, "unique_while", false, &u, e);

        if (rc || !u)
                return rc;
        api_field(f, sizeof(f), prefix, "unique_while");
        if (strcmp(u, "pending") != 0 && strcmp(u, "active") != 0)
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "%s must be pending or active, not \"%.64s\"", f, u);
        if (!json_object_get(obj, "key") || json_is_null(json_object_get(obj, "key")))
                return verr_set(e, BATON_EINVAL, "invalid_field", f, "%s needs a key", f);
        req->job.unique_active = strcmp(u, "active") == 0;
        if (req->job.unique_active && replace)
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "%s active cannot be combined with on_key replace", f);
        return 0;
}

static int parse_choices(json_t *obj, const char *prefix, struct enqueue_req *req, struct verr *e)
{
        const char *prio, *on_key;
        char f[128];
        int rc;

        rc = api_get_str(obj, prefix, "priority", false, &prio, e);
        if (!rc)
                rc = api_get_str(obj, prefix, "on_key", false, &on_key, e);
        if (!rc)
                rc = parse_unique(obj, prefix, req, on_key && strcmp(on_key, "replace") == 0, e);
        if (rc)
                return rc;
        req->job.priority = PRIO_NORMAL;
        if (prio && (req->job.priority = job_priority_parse(prio)) < 0) {
                api_field(f, sizeof(f), prefix, "priority");
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "%s must be critical, high, normal or low", f);
        }
        if (on_key && strcmp(on_key, "keep") != 0 && strcmp(on_key, "replace") != 0) {
                api_field(f, sizeof(f), prefix, "on_key");
                return verr_set(e, BATON_EINVAL, "invalid_field", f, "%s must be keep or replace",
                                f);
        }
        req->on_key_replace = on_key && strcmp(on_key, "replace") == 0;
        return 0;
}

int api_backoff_parse(json_t *obj, const char *prefix, struct backoff *b, struct verr *e)
{
        json_t *v = json_object_get(obj, "backoff");
        const char *type;
        bool present;
        char f[128];
        int rc;

        api_field(f, sizeof(f), prefix, "backoff");
        b->type = BACKOFF_EXPONENTIAL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_object(v))
                return verr_set(e, BATON_EINVAL, "invalid_field", f, "%s must be an object", f);
        rc = api_known_fields(v, f, "type base_ms max_ms", e);
        if (!rc)
                rc = api_get_str(v, f, "type", false, &type, e);
        if (!rc && type && (b->type = backoff_type_parse(type)) < 0) {
                api_field(f, sizeof(f), prefix, "backoff.type");
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "%s must be exponential, fixed, immediate or none", f);
        }
        if (!rc)
                rc = api_get_int(v, f, "base_ms", &present, &b->base_ms, e);
        /* validate_enqueue reads a base_ms of 0 as "the default": an explicit
         * 0 of a backoff that waits is refused rather than silently replaced
         * (type immediate is the backoff that retries without a wait). */
        if (!rc && present && b->base_ms == 0 &&
            (b->type == BACKOFF_EXPONENTIAL || b->type == BACKOFF_FIXED)) {
                api_field(f, sizeof(f), prefix, "backoff.base_ms");
                return verr_set(e, BATON_ERANGE, "backoff_out_of_range", f,
                                "%s must be at least 1 for an exponential or fixed backoff"
                                " (type immediate retries without a wait)",
                                f);
        }
        if (!rc)
                rc = api_get_int(v, f, "max_ms", &present, &b->max_ms, e);
        if (!rc && present && b->max_ms == 0 &&
            (b->type == BACKOFF_EXPONENTIAL || b->type == BACKOFF_FIXED)) {
                api_field(f, sizeof(f), prefix, "backoff.max_ms");
                return verr_set(e, BATON_ERANGE, "backoff_out_of_range", f,
                                "%s must be at least 1 for an exponential or fixed backoff"
                                " (leave it out for the default)",
                                f);
        }
        return rc;
}

/* Numbers whose 0 means "default" to validate_enqueue are checked here when
 * given, so an explicit 0 is refused instead of silently replaced. */
static int parse_numbers(const struct limits *l, json_t *obj, const char *prefix,
                         struct enqueue_req *req, struct verr *e)
{
        bool has_max, has_lease, has_delay, has_timeout;
        int64_t max_attempts = 0;
        char f[128];
        int rc;

        rc = api_get_int(obj, prefix, "max_attempts", &has_max, &max_attempts, e);
        if (!rc)
                rc = api_get_int(obj, prefix, "lease_ms", &has_lease, &req->job.lease_ms, e);
        if (!rc)
                rc = api_get_int(obj, prefix, "timeout_ms", &has_timeout, &req->job.timeout_ms, e);
        if (!rc)
                rc = api_get_int(obj, prefix, "delay_ms", &has_delay, &req->delay_ms, e);
        if (rc)
                return rc;
        if (has_max && (max_attempts < 1 || max_attempts > l->max_attempts_max)) {
                api_field(f, sizeof(f), prefix, "max_attempts");
                return verr_set(e, BATON_ERANGE, "max_attempts_out_of_range", f,
                                "%s must be between 1 and %d", f, l->max_attempts_max);
        }
        if (has_timeout &&
            (req->job.timeout_ms < TIMEOUT_MIN_MS || req->job.timeout_ms > TIMEOUT_MAX_MS)) {
                api_field(f, sizeof(f), prefix, "timeout_ms");
                return verr_set(e, BATON_ERANGE, "timeout_ms_out_of_range", f,
                                "%s must be between %d and %lld (ms), not %lld", f, TIMEOUT_MIN_MS,
                                (long long)TIMEOUT_MAX_MS, (long long)req->job.timeout_ms);
        }
        req->dflt_timeout = !has_timeout;
        req->job.max_attempts = (int)max_attempts;
        /* What the request leaves out, the queue's defaults may decide. */
        req->dflt_max_attempts = !has_max;
        req->dflt_lease = !has_lease;
        req->dflt_backoff =
            !json_object_get(obj, "backoff") || json_is_null(json_object_get(obj, "backoff"));
        req->check_depth = true;
        req->check_queues = true;
        api_field(f, sizeof(f), prefix, "lease_ms");
        if (has_lease)
                return validate_lease_ms(l, f, req->job.lease_ms, e);
        return 0;
}

static int parse_run_at(const struct limits *l, json_t *obj, const char *prefix, int64_t now_ms,
                        struct enqueue_req *req, struct verr *e)
{
        const char *s;
        char f[128];
        int64_t ms = 0;
        int rc = api_get_str(obj, prefix, "run_at", false, &s, e);

        if (rc || !s)
                return rc;
        api_field(f, sizeof(f), prefix, "run_at");
        if (json_object_get(obj, "delay_ms") && !json_is_null(json_object_get(obj, "delay_ms")))
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "give delay_ms or run_at, not both");
        if (time_parse_ms(s, &ms) != 0)
                return verr_set(e, BATON_EINVAL, "invalid_time", f,
                                "%s is not an RFC 3339 date-time", f);
        if (ms - now_ms > l->delay_max_ms)
                return verr_set(e, BATON_ERANGE, "delay_ms_out_of_range", f,
                                "%s is more than %lld ms ahead", f, (long long)l->delay_max_ms);
        /* 0 means "now + delay_ms" to core; an instant at or before the epoch is
         * in the past, which means now anyway. */
        req->job.run_at_ms = ms > 0 ? ms : 1;
        return 0;
}

int api_dep_id(json_t *v, int64_t *out)
{
        if (json_is_integer(v) && json_integer_value(v) > 0) {
                *out = json_integer_value(v);
                return 0;
        }
        return json_is_string(v) ? api_id_parse(json_string_value(v), out) : -1;
}

int api_body_id(json_t *v, const char *field, int64_t *out, struct verr *e)
{
        if (v && api_dep_id(v, out) == 0)
                return 0;
        return verr_set(e, BATON_EINVAL, "invalid_id", field,
                        "%s must be a job id: a positive integer up to %lld, as a string (\"42\") "
                        "or a number (42)",
                        field, (long long)INT64_MAX);
}

int api_deps_check_array(json_t *v, const char *prefix, struct verr *e)
{
        char f[128];

        api_field(f, sizeof(f), prefix, "depends_on");
        if (!json_is_array(v))
                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                "%s must be an array of job ids", f);
        if (json_array_size(v) > DEPS_MAX)
                return verr_set(e, BATON_EINVAL, "too_many_dependencies", f,
                                "%s names %zu jobs; the limit is %d", f, json_array_size(v),
                                DEPS_MAX);
        return 0;
}

int api_parent_policy_parse(json_t *obj, const char *prefix, int *out, struct verr *e)
{
        const char *s;
        char f[128];
        int rc = api_get_str(obj, prefix, "on_parent_failure", false, &s, e);

        *out = PARENT_FAIL_CANCEL;
        if (rc || !s)
                return rc;
        if ((*out = parent_policy_parse(s)) < 0) {
                api_field(f, sizeof(f), prefix, "on_parent_failure");
                return verr_set(e, BATON_EINVAL, "invalid_field", f, "%s must be cancel or run", f);
        }
        return 0;
}

/* depends_on: job ids (decimal strings or integers), no repeats. */
static int parse_deps(json_t *obj, const char *prefix, struct enqueue_req *req, struct verr *e)
{
        json_t *v = json_object_get(obj, "depends_on");
        char f[160], base[128];
        size_t n;
        int rc = api_parent_policy_parse(obj, prefix, &req->job.on_parent_failure, e);

        if (rc || !v || json_is_null(v))
                return rc;
        rc = api_deps_check_array(v, prefix, e);
        if (rc)
                return rc;
        n = json_array_size(v);
        if (n == 0)
                return 0;
        api_field(base, sizeof(base), prefix, "depends_on");
        req->depends_on = calloc(n, sizeof(*req->depends_on));
        if (!req->depends_on)
                return verr_set(e, BATON_ENOMEM, "internal", base, "out of memory");
        for (size_t i = 0; i < n; i++) {
                int64_t id = 0;
                snprintf(f, sizeof(f), "%s[%zu]", base, i);
                rc = api_body_id(json_array_get(v, i), f, &id, e);
                if (rc)
                        return rc;
                for (int k = 0; k < req->n_depends_on; k++)
                        if (req->depends_on[k] == id)
                                return verr_set(e, BATON_EINVAL, "invalid_field", f,
                                                "%s repeats a job id", f);
                req->depends_on[req->n_depends_on++] = id;
        }
        return 0;
}

int api_enqueue_parse(const struct limits *l, json_t *obj, const char *prefix, const char *tenant,
                      const char *request_id, int64_t now_ms, struct enqueue_req *req,
                      struct verr *e)
{
        int rc;

        req->job.tenant = strdup(tenant);
        if (!req->job.tenant)
                return verr_set(e, BATON_ENOMEM, "internal", prefix, "out of memory");
        rc = api_known_fields(obj, prefix, API_JOB_FIELDS, e);
        if (!rc)
                rc = parse_strings(obj, prefix, &req->job, e);
        if (!rc)
                rc = parse_choices(obj, prefix, req, e);
        if (!rc)
                rc = parse_numbers(l, obj, prefix, req, e);
        if (!rc)
                rc = api_backoff_parse(obj, prefix, &req->job.backoff, e);
        if (!rc)
                rc = parse_run_at(l, obj, prefix, now_ms, req, e);
        if (!rc && !req->job.request_id && request_id && *request_id &&
            !(req->job.request_id = strdup(request_id)))
                rc = verr_set(e, BATON_ENOMEM, "internal", prefix, "out of memory");
        if (!rc)
                rc = validate_enqueue(l, prefix, req, e);
        if (!rc)
                rc = parse_payload(l, obj, prefix, req, e);
        if (!rc)
                rc = parse_deps(obj, prefix, req, e);
        return rc;
}

void api_enqueue_req_free(struct enqueue_req *req)
{
        job_free(&req->job);
        free(req->depends_on);
        req->depends_on = NULL;
        req->n_depends_on = 0;
}

/* ---- settle ---- */

static int parse_fail(const struct limits *l, json_t *obj, const char *prefix, struct api_settle *s,
                      struct verr *e)
{
        const char *err;
        bool present;
        int64_t retry_in_ms = -1;
        char f[128];
        int rc;

        s->req.retryable = true;
        s->req.retry_in_ms = -1;
        rc = api_get_str(obj, prefix, "error", false, &err, e);
        if (!rc)
                rc = api_get_bool(obj, prefix, "retryable", &s->req.retryable, e);
        if (!rc)
                rc = api_get_int(obj, prefix, "retry_in_ms", &present, &retry_in_ms, e);
        if (rc)
                return rc;
        if (present && (retry_in_ms < 0 || retry_in_ms > l->backoff_max_ms)) {
                api_field(f, sizeof(f), prefix, "retry_in_ms");
                return verr_set(e, BATON_ERANGE, "backoff_out_of_range", f,
                                "%s must be between 0 and %lld", f, (long long)l->backoff_max_ms);
        }
        if (present)
                s->req.retry_in_ms = retry_in_ms;
        if (err && strlen(err) > l->error_max_bytes) {
                api_field(f, sizeof(f), prefix, "error");
                return verr_set(e, BATON_ETOOBIG, "error_too_large", f,
                                "%s is %zu bytes; the limit is %zu", f, strlen(err),
                                l->error_max_bytes);
        }
        if (err && !(s->error = strdup(err)))
                return verr_set(e, BATON_ENOMEM, "internal", prefix, "out of memory");
        s->req.error = s->error;
        return 0;
}

static int parse_complete(const struct limits *l, json_t *obj, const char *prefix,
                          struct api_settle *s, struct verr *e)
{
        json_t *v = json_object_get(obj, "result");
        char f[128];
        int rc;

        if (!v)
                return 0; /* core stores null */
        api_field(f, sizeof(f), prefix, "result");
        rc = api_dump_max(v, l->result_max_bytes, "result_too_large", f, &s->result, e);
        s->req.result = s->result;
        return rc;
}

int api_settle_parse(const struct limits *l, json_t *obj, const char *prefix, int outcome,
                     const char *tenant, int64_t id, struct api_settle *s, struct verr *e)
{
        const char *lease;
        int rc = api_get_str(obj, prefix, "lease", true, &lease, e);

        if (rc)
                return rc;
        s->lease = strdup(lease);
        if (!s->lease)
                return verr_set(e, BATON_ENOMEM, "internal", prefix, "out of memory");
        s->req.tenant = tenant;
        s->req.id = id;
        s->req.lease = s->lease;
        s->req.outcome = outcome;
        if (outcome == SETTLED_COMPLETE)
                return parse_complete(l, obj, prefix, s, e);
        return parse_fail(l, obj, prefix, s, e);
}

void api_settle_free(struct api_settle *s)
{
        free(s->lease);
        free(s->result);
        free(s->error);
        s->lease = s->result = s->error = NULL;
}
