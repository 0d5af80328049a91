/*
 * validate.c: limit and format checks for requests. The HTTP layer has already
 * turned JSON into C values; these functions decide whether the values are
 * acceptable and fill defaults, so the rules live in one place and unit tests
 * can exercise them without a server.
 *
 * Workload: validate_enqueue runs on the loop thread for every job of a batch
 * (up to 1,000 per request), so its checks name a field (the "jobs[7].queue"
 * of an error) only when they refuse, and the naming does without stdio.
 */
#include "core/validate.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/errors.h"

int verr_set(struct verr *err, int rc, const char *code, const char *field, const char *fmt, ...)
{
        va_list ap;

        err->rc = rc;
        err->code = code;
        snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return rc;
}

int validate_json_str(json_t *obj, const char *prefix, const char *name, bool required,
                      const char **out, struct verr *err)
{
        json_t *v = json_object_get(obj, name);
        char f[128];

        *out = NULL;
        if (prefix && *prefix)
                snprintf(f, sizeof(f), "%s.%s", prefix, name);
        else
                snprintf(f, sizeof(f), "%s", name);
        if (!v || json_is_null(v)) {
                if (required)
                        return verr_set(err, BATON_EINVAL, "missing_field", f, "%s is required", f);
                return 0;
        }
        if (!json_is_string(v))
                return verr_set(err, BATON_EINVAL, "invalid_field", f, "%s must be a string", f);
        *out = json_string_value(v);
        return 0;
}

static bool name_char(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
}

static bool key_char(unsigned char c)
{
        return c >= 0x20 && c <= 0x7e;
}

/* What names and keys share: 1..max characters, each one ok. too_long and
 * invalid are the error codes, allowed says which characters are. */
static int check_text(const char *field, const char *s, size_t max, const char *too_long,
                      const char *invalid, bool (*ok)(unsigned char), const char *allowed,
                      struct verr *err)
{
        size_t n = strlen(s);

        if (n > max)
                return verr_set(err, BATON_EINVAL, too_long, field,
                                "%s is %zu characters; the limit is %zu", field, n, max);
        if (n == 0)
                return verr_set(err, BATON_EINVAL, invalid, field, "%s must not be empty", field);
        for (size_t i = 0; i < n; i++)
                if (!ok((unsigned char)s[i]))
                        return verr_set(err, BATON_EINVAL, invalid, field, "%s may contain only %s",
                                        field, allowed);
        return 0;
}

int validate_name(const struct limits *l, const char *field, const char *s, struct verr *err)
{
        if (!s)
                return verr_set(err, BATON_EINVAL, "missing_field", field, "%s is required", field);
        return check_text(field, s, l->name_max, "name_too_long", "name_invalid", name_char,
                          "letters, digits and . _ : -", err);
}

int validate_key(const struct limits *l, const char *field, const char *s, struct verr *err)
{
        if (!s)
                return 0;
        return check_text(field, s, l->key_max, "key_too_long", "key_invalid", key_char,
                          "printable ASCII characters", err);
}

int validate_lease_ms(const struct limits *l, const char *field, int64_t v, struct verr *err)
{
        if (v < l->lease_min_ms || v > l->lease_max_ms)
                return verr_set(err, BATON_ERANGE, "lease_ms_out_of_range", field,
                                "%s must be between %lld and %lld", field,
                                (long long)l->lease_min_ms, (long long)l->lease_max_ms);
        return 0;
}

int validate_wait_ms(const struct limits *l, const char *field, int64_t v, struct verr *err)
{
        if (v < 0 || v > l->wait_max_ms)
                return verr_set(err, BATON_ERANGE, "wait_ms_out_of_range", field,
                                "%s must be between 0 and %lld", field, (long long)l->wait_max_ms);
        return 0;
}

int validate_run_at(const struct limits *l, const char *field, int64_t run_at_ms, int64_t now_ms,
                    struct verr *err)
{
        if (run_at_ms - now_ms > l->delay_max_ms)
                return verr_set(err, BATON_ERANGE, "delay_ms_out_of_range", field,
                                "%s must be at most %lld ms ahead", field,
                                (long long)l->delay_max_ms);
        return 0;
}

/* One size check: n bytes against max, answered with 413 and code. */
static int check_size(const char *code, const char *field, size_t n, size_t max, struct verr *err)
{
        if (n > max)
                return verr_set(err, BATON_ETOOBIG, code, field,
                                "%s is %zu bytes; the limit is %zu", *field ? field : "the body", n,
                                max);
        return 0;
}

int validate_body_size(const struct limits *l, size_t n, struct verr *err)
{
        return check_size("body_too_large", "", n, l->body_max_bytes, err);
}

int validate_result(const struct limits *l, const char *field, const char *json, struct verr *err)
{
        return json ? check_size("result_too_large", field, strlen(json), l->result_max_bytes, err)
                    : 0;
}

int validate_error_text(const struct limits *l, const char *field, const char *text,
                        struct verr *err)
{
        return text ? check_size("error_too_large", field, strlen(text), l->error_max_bytes, err)
                    : 0;
}

int validate_progress(const struct limits *l, const char *field, const char *json, struct verr *err)
{
        return json ? check_size("progress_too_large", field, strlen(json), l->progress_max_bytes,
                                 err)
                    : 0;
}

int validate_batch(const struct limits *l, const char *field, int64_t n, struct verr *err)
{
        if (n < 1)
                return verr_set(err, BATON_EINVAL, "invalid_field", field,
                                "%s must hold at least one element", field);
        if (n > l->batch_max)
                return verr_set(err, BATON_ETOOBIG, "batch_too_large", field,
                                "%s holds %lld elements; the limit is %d", field, (long long)n,
                                l->batch_max);
        return 0;
}

/* One range check: lo <= v <= hi, answered with 400 and code. */
static int check_range(const char *code, const char *field, int64_t v, int64_t lo, int64_t hi,
                       struct verr *err)
{
        if (v < lo || v > hi)
                return verr_set(err, BATON_ERANGE, code, field, "%s must be between %lld and %lld",
                                field, (long long)lo, (long long)hi);
        return 0;
}

int validate_claim_max(const struct limits *l, const char *field, int64_t v, struct verr *err)
{
        return check_range("max_out_of_range", field, v, 1, l->claim_max, err);
}

int validate_list_limit(const struct limits *l, const char *field, int64_t v, struct verr *err)
{
        return check_range("limit_out_of_range", field, v, 1, l->list_max, err);
}

int validate_retry_in_ms(const struct limits *l, const char *field, int64_t v, struct verr *err)
{
        return check_range("backoff_out_of_range", field, v, 0, l->backoff_max_ms, err);
}

/* Appends s[0..sn) to out[*len] within n bytes, cut as snprintf would cut it. */
static void join_add(char *out, size_t n, size_t *len, const char *s, size_t sn)
{
        if (*len + 1 >= n)
                return;
        if (sn > n - 1 - *len)
                sn = n - 1 - *len;
        memcpy(out + *len, s, sn);
        *len += sn;
}

/* What snprintf(out, n, "%s.%s", prefix, name) (or "%s" without a prefix)
 * writes, without stdio: the error paths below name their field with it. */
static void join(char *out, size_t n, const char *prefix, const char *name)
{
        size_t len = 0;

        if (n == 0)
                return;
        if (prefix && *prefix) {
                join_add(out, n, &len, prefix, strlen(prefix));
                join_add(out, n, &len, ".", 1);
        }
        join_add(out, n, &len, name, strlen(name));
        out[len] = '\0';
}

/* Whether check_text would accept s, without naming a field: the names and
 * keys of every job of a batch are checked on the loop thread, and the field
 * name is only needed for a refusal. */
static bool text_ok(const char *s, size_t max, bool (*ok)(unsigned char))
{
        size_t i;

        for (i = 0; s[i]; i++)
                if (i >= max || !ok((unsigned char)s[i]))
                        return false;
        return i > 0;
}

static int check_backoff(const struct limits *l, const char *prefix, struct backoff *b,
                         struct verr *err)
{
        char f[128];

        if (b->type < BACKOFF_EXPONENTIAL || b->type > BACKOFF_NONE) {
                join(f, sizeof(f), prefix, "backoff.type");
                return verr_set(err, BATON_EINVAL, "invalid_field", f,
                                "%s must be exponential, fixed, immediate or none", f);
        }
        if (b->base_ms < 0 || b->base_ms > l->backoff_max_ms) {
                join(f, sizeof(f), prefix, "backoff.base_ms");
                return verr_set(err, BATON_ERANGE, "backoff_out_of_range", f,
                                "%s must be between 0 and %lld", f, (long long)l->backoff_max_ms);
        }
        if (b->max_ms < 0 || b->max_ms > l->backoff_max_ms) {
                join(f, sizeof(f), prefix, "backoff.max_ms");
                return verr_set(err, BATON_ERANGE, "backoff_out_of_range", f,
                                "%s must be between 0 and %lld", f, (long long)l->backoff_max_ms);
        }
        if (b->base_ms == 0 && b->type != BACKOFF_IMMEDIATE && b->type != BACKOFF_NONE)
                b->base_ms = l->backoff_default_base_ms;
        if (b->max_ms == 0)
                b->max_ms =
                    b->base_ms > l->backoff_default_max_ms ? b->base_ms : l->backoff_default_max_ms;
        if (b->max_ms < b->base_ms) {
                join(f, sizeof(f), prefix, "backoff.max_ms");
                return verr_set(err, BATON_ERANGE, "backoff_out_of_range", f,
                                "%s must not be below backoff.base_ms", f);
        }
        return 0;
}

static int check_names(const struct limits *l, const char *prefix, const struct job *j,
                       struct verr *err)
{
        const char *keys[] = {"idempotency_key", "key",         "request_id",
                              "execution_id",    "traceparent", "group"};
        const char *vals[] = {j->idempotency_key, j->key,         j->request_id,
                              j->execution_id,    j->traceparent, j->group};
        char f[128];

        /* The field is named only when a check fails; validate_name and
         * validate_key then write the refusal, as they always did. */
        if (!j->queue || !text_ok(j->queue, l->name_max, name_char)) {
                join(f, sizeof(f), prefix, "queue");
                return validate_name(l, f, j->queue, err);
        }
        if (!j->type || !text_ok(j->type, l->name_max, name_char)) {
                join(f, sizeof(f), prefix, "type");
                return validate_name(l, f, j->type, err);
        }
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                if (vals[i] && !text_ok(vals[i], l->key_max, key_char)) {
                        join(f, sizeof(f), prefix, keys[i]);
                        return validate_key(l, f, vals[i], err);
                }
        }
        return 0;
}

int validate_backoff(const struct limits *l, const char *prefix, struct backoff *b,
                     struct verr *err)
{
        return check_backoff(l, prefix, b, err);
}

int validate_enqueue(const struct limits *l, const char *prefix, struct enqueue_req *req,
                     struct verr *err)
{
        struct job *j = &req->job;
        char f[128];
        int rc;

        rc = check_names(l, prefix, j, err);
        if (rc)
                return rc;
        if (j->payload && strlen(j->payload) > l->payload_max_bytes) {
                join(f, sizeof(f), prefix, "payload");
                return verr_set(err, BATON_ETOOBIG, "payload_too_large", f,
                                "payload is %zu bytes; the limit is %zu", strlen(j->payload),
                                l->payload_max_bytes);
        }
        if (req->delay_ms < 0 || req->delay_ms > l->delay_max_ms) {
                join(f, sizeof(f), prefix, "delay_ms");
                return verr_set(err, BATON_ERANGE, "delay_ms_out_of_range", f,
                                "%s must be between 0 and %lld", f, (long long)l->delay_max_ms);
        }
        if (j->max_attempts == 0)
                j->max_attempts = l->max_attempts_default;
        if (j->max_attempts < 1 || j->max_attempts > l->max_attempts_max) {
                join(f, sizeof(f), prefix, "max_attempts");
                return verr_set(err, BATON_ERANGE, "max_attempts_out_of_range", f,
                                "%s must be between 1 and %d", f, l->max_attempts_max);
        }
        if (j->lease_ms == 0)
                j->lease_ms = l->lease_default_ms;
        if (j->lease_ms < l->lease_min_ms || j->lease_ms > l->lease_max_ms) {
                join(f, sizeof(f), prefix, "lease_ms");
                return validate_lease_ms(l, f, j->lease_ms, err);
        }
        if (j->priority < 0 || j->priority >= PRIO_COUNT) {
                join(f, sizeof(f), prefix, "priority");
                return verr_set(err, BATON_EINVAL, "invalid_field", f,
                                "%s must be critical, high, normal or low", f);
        }
        return check_backoff(l, prefix, &j->backoff, err);
}
