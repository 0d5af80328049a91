/*
 * api.h: the route table of /v1 and the ops endpoints, and the handlers behind
 * it. Handlers turn a request into a core operation (validated first, so bad
 * input changes nothing), submit it to the store thread and answer from the
 * op's done callback, after the commit. Rendering of jobs and queues to JSON
 * lives in api_json.c; request parsing helpers in api_parse.c.
 */
#ifndef BATON_SERVER_API_H
#define BATON_SERVER_API_H

#include <jansson.h>

#include "common/jw.h"
#include "core/jobs.h"
#include "core/queues.h"
#include "server/http.h"

/* The table http.c serves; api_routes_n entries. */
extern const struct http_route api_routes[];
extern const int api_routes_n;

/* Records a refused call (4xx after authentication) of an audited route in
 * its own op, fire and forget: the route's action, the caller, the target
 * (the first path parameter), status and code. Loop thread; hr is unchanged. */
void api_audit_refusal(const struct http_req *hr, int status, const char *code);
/* Frees the refusal counts kept between ops (after the exec has stopped). */
void api_audit_free(struct server *srv);

struct server;
struct cron_registry;
struct verr;

/* Reads and validates a cron registry document ({"schedules": [{"key", ...
 * the fields of PUT /v1/cron/{key}}], "prune": bool}) for tenant, with the
 * server's limits and interval floor. 0, or the verr code with e naming the
 * first bad field ("schedules[2].cron"); out is empty then. On success out is
 * owned by the caller (cron_registry_free). PUT /v1/cron and --cron-file. */
int api_cron_registry_parse(const struct server *srv, json_t *doc, const char *tenant,
                            struct cron_registry *out, struct verr *e);

/* Writes a job object (docs/api.md "The job object"). with_lease adds the lease
 * token (only the claim answer does). */
void api_job_json(struct jw *w, const struct job *j, bool with_lease);
/* Writes a queue object. */
void api_queue_json(struct jw *w, const struct queue_info *q, int64_t now_ms);
/* The settings and counters members of a queue object (core/groups.h). */
void api_queue_settings_json(struct jw *w, const struct queue_limits *q);

#endif
