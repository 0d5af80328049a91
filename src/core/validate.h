/*
 * validate.h: input checks against struct limits, shared by the HTTP layer
 * (which turns a struct verr into a 4xx answer) and the tests. A check fills
 * err with a stable code (documented in docs/api.md), the HTTP status, the
 * offending field and a sentence for people, and returns BATON_EINVAL,
 * BATON_ERANGE or BATON_ETOOBIG.
 */
#ifndef BATON_CORE_VALIDATE_H
#define BATON_CORE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/jobs.h"
#include "core/limits.h"

struct verr {
	int status;        /* HTTP status: 400, 409, 413 */
	const char *code;  /* e.g. "name_too_long" */
	char field[128];   /* e.g. "jobs[3].queue" */
	char message[256];
};

/* Sets err and returns rc (for one-line "return verr_set(...)" use). */
int verr_set(struct verr *err, int rc, int status, const char *code, const char *field,
	     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Queue and type names: 1..name_max characters of [A-Za-z0-9._:-]. */
int validate_name(const struct limits *l, const char *field, const char *s, struct verr *err);
/* Keys and ids: 1..key_max printable ASCII characters. */
int validate_key(const struct limits *l, const char *field, const char *s, struct verr *err);
/* Checks every field of an enqueue request; prefix names the item ("jobs[3]")
 * or is "". Fills defaults for fields left 0 (max_attempts, lease_ms, backoff). */
int validate_enqueue(const struct limits *l, const char *prefix, struct enqueue_req *req,
		     struct verr *err);
int validate_lease_ms(const struct limits *l, const char *field, int64_t v, struct verr *err);
int validate_wait_ms(const struct limits *l, const char *field, int64_t v, struct verr *err);

#endif
