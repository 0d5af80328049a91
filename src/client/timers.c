/*
 * timers.c: libbaton's durable-timer and flow calls: put (create or move),
 * get, list and cancel a timer (PUT/GET/DELETE /v1/timers/{key}, GET
 * /v1/timers), create and read a flow (POST /v1/flows, GET /v1/flows/{id}).
 *
 * Like the cron calls these are JSON pass-through calls: the timer definition
 * and the flow are JSON text sent as given (the server validates them), and
 * each answer is handed back as the server's JSON object for the caller to
 * parse, so members the API adds later need no library change. Errors follow
 * the rest of the library (enum baton_err, details in
 * baton_client_last_error). Workload: a handful of calls per command or per
 * application event; nothing here is on a hot path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

/* Starts c->url as prefix + escaped seg (seg NULL: prefix alone) and clears
 * *answer. what names seg in the error when it is required and missing. */
static int start(struct baton_client *c, const char *prefix, const char *seg, const char *what,
                 char **answer)
{
        int rc;

        if (answer)
                *answer = NULL;
        if (what && (!seg || !*seg))
                return client_fail(c, BATON_EINVAL, what);
        rc = client_url_seg(c, prefix, seg, NULL);
        return rc ? client_fail(c, rc, NULL) : 0;
}

int baton_timer_put(struct baton_client *c, const char *key, const char *definition, char **answer)
{
        int rc = start(c, "/v1/timers/", key, "a timer key is required", answer);

        return rc ? rc
                  : client_call_body(c, "PUT", definition, "a timer definition is required",
                                     answer);
}

int baton_timer_get(struct baton_client *c, const char *key, char **answer)
{
        int rc = start(c, "/v1/timers/", key, "a timer key is required", answer);

        return rc ? rc : client_call_text(c, "GET", NULL, answer);
}

int baton_timer_list(struct baton_client *c, const char *prefix, int limit, const char *after,
                     char **answer)
{
        int rc = start(c, "/v1/timers", NULL, NULL, answer);

        if (rc == 0 && (rc = client_query(c, "prefix", prefix)) != 0)
                rc = client_fail(c, rc, NULL);
        return rc ? rc : client_call_page(c, limit, after, answer);
}

int baton_timer_cancel(struct baton_client *c, const char *key, int64_t if_version, char **answer)
{
        int rc = start(c, "/v1/timers/", key, "a timer key is required", answer);

        if (rc == 0 && if_version != 0 && (rc = client_query_i64(c, "if_version", if_version)) != 0)
                rc = client_fail(c, rc, NULL);
        return rc ? rc : client_call_text(c, "DELETE", NULL, answer);
}

int baton_flow_create(struct baton_client *c, const char *flow, char **answer)
{
        int rc = start(c, "/v1/flows", NULL, NULL, answer);

        return rc ? rc : client_call_body(c, "POST", flow, "a flow document is required", answer);
}

int baton_flow_get(struct baton_client *c, const char *id, char **answer)
{
        int rc = start(c, "/v1/flows/", id, "a flow id is required", answer);

        return rc ? rc : client_call_text(c, "GET", NULL, answer);
}
