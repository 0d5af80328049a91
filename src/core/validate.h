/*
 * validate.h: input checks against struct limits, shared by the HTTP layer
 * (which turns a struct verr into a 4xx answer) and the tests. A check fills
 * err with a stable code (documented in docs/api.md), the error code it
 * returns (the server maps it to an HTTP status in http_rc_status), the
 * offending field and a sentence for people, and returns BATON_EINVAL,
 * BATON_ERANGE or BATON_ETOOBIG. Every limit of docs/api.md's table has its
 * check here, except open connections, which the HTTP server enforces at
 * accept.
 */
#ifndef BATON_CORE_VALIDATE_H
#define BATON_CORE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/jobs.h"
#include "core/limits.h"

struct json_t;

struct verr {
        int rc;            /* what the check returned: BATON_EINVAL, BATON_ERANGE, ... */
        const char *code;  /* e.g. "name_too_long" */
        char field[128];   /* e.g. "jobs[3].queue" */
        char message[512]; /* room for a list of allowed members (api_known_fields) */
};

/* Sets err and returns rc (for one-line "return verr_set(...)" use). */
int verr_set(struct verr *err, int rc, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A string member of a JSON object, named "prefix.name" in errors (just
 * "name" when prefix is NULL or ""). *out borrows the member's text, or is
 * NULL when it is absent or null (an error then only if required). The HTTP
 * layer and the cron spec parser share this one shape of the check. */
int validate_json_str(struct json_t *obj, const char *prefix, const char *name, bool required,
                      const char **out, struct verr *err);

/* Queue and type names: 1..name_max characters of [A-Za-z0-9._:-]. */
int validate_name(const struct limits *l, const char *field, const char *s, struct verr *err);
/* Keys and ids: 1..key_max printable ASCII characters. */
int validate_key(const struct limits *l, const char *field, const char *s, struct verr *err);
/* Checks every field of an enqueue request; prefix names the item ("jobs[3]")
 * or is "". Fills defaults for fields left 0 (max_attempts, lease_ms, backoff). */
int validate_enqueue(const struct limits *l, const char *prefix, struct enqueue_req *req,
                     struct verr *err);
/* lease_ms of a claim or an enqueue, and a heartbeat's extend_ms. */
/* A backoff policy (fields under prefix "backoff."); fills base_ms and max_ms
 * left 0 with the defaults, as for a job. */
int validate_backoff(const struct limits *l, const char *prefix, struct backoff *b,
                     struct verr *err);
int validate_lease_ms(const struct limits *l, const char *field, int64_t v, struct verr *err);
int validate_wait_ms(const struct limits *l, const char *field, int64_t v, struct verr *err);
/* An absolute run_at, against the loop thread's now: at most delay_max_ms
 * ahead (a past instant means now). job_enqueue checks again against the
 * store thread's clock reading, which can only be later. */
int validate_run_at(const struct limits *l, const char *field, int64_t run_at_ms, int64_t now_ms,
                    struct verr *err);

/* Sizes, in bytes of the serialized JSON or text as received. */
int validate_body_size(const struct limits *l, size_t n, struct verr *err);
int validate_result(const struct limits *l, const char *field, const char *json, struct verr *err);
int validate_error_text(const struct limits *l, const char *field, const char *text,
                        struct verr *err);
int validate_progress(const struct limits *l, const char *field, const char *json,
                      struct verr *err);
/* Number of jobs in an enqueue batch or items in a settle batch: 1..batch_max
 * (0 is 400 invalid_field, more is 413 batch_too_large). */
int validate_batch(const struct limits *l, const char *field, int64_t n, struct verr *err);
/* A claim's max: 1..claim_max. */
int validate_claim_max(const struct limits *l, const char *field, int64_t v, struct verr *err);
/* A list's limit: 1..list_max. */
int validate_list_limit(const struct limits *l, const char *field, int64_t v, struct verr *err);
/* A failure's retry_in_ms: 0..backoff_max_ms (absent is -1 in struct
 * settle_req and is not checked). */
int validate_retry_in_ms(const struct limits *l, const char *field, int64_t v, struct verr *err);

#endif
