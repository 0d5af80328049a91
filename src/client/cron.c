/*
 * cron.c: libbaton's cron calls: create or update a schedule, read and list
 * schedules, delete, pause, resume, run now, run history, preview an
 * expression and apply a whole registry (PUT /v1/cron).
 *
 * These are thin JSON pass-through calls, not typed ones: a schedule has many
 * members (job template, policies, last run) that are still growing, so each
 * call sends the caller's JSON text as given and hands back the server's
 * answer as JSON text for the caller to parse. Errors follow the rest of the
 * library (enum baton_err, details in baton_client_last_error). Workload:
 * operator tooling, a few calls per command; nothing here is on a hot path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

/* Starts c->url as /v1/cron[/escaped key][suffix] and clears *answer; a
 * missing key is refused when key_required. */
static int start(struct baton_client *c, const char *key, bool key_required, const char *suffix,
                 char **answer)
{
        int rc;

        if (answer)
                *answer = NULL;
        if (key_required && !key)
                return client_fail(c, BATON_EINVAL, "a schedule key is required");
        rc = client_url_seg(c, key ? "/v1/cron/" : "/v1/cron", key, suffix);
        return rc ? client_fail(c, rc, NULL) : 0;
}

int baton_cron_put(struct baton_client *c, const char *key, const char *definition, char **answer)
{
        int rc = start(c, key, true, NULL, answer);

        return rc ? rc
                  : client_call_body(c, "PUT", definition, "a schedule definition is required",
                                     answer);
}

int baton_cron_get(struct baton_client *c, const char *key, char **answer)
{
        int rc = start(c, key, true, NULL, answer);

        return rc ? rc : client_call_text(c, "GET", NULL, answer);
}

int baton_cron_list(struct baton_client *c, int limit, const char *after, char **answer)
{
        int rc = start(c, NULL, false, NULL, answer);

        return rc ? rc : client_call_page(c, limit > 0 ? limit : 0, after, answer);
}

int baton_cron_delete(struct baton_client *c, const char *key)
{
        int rc = start(c, key, true, NULL, NULL);

        return rc ? rc : client_call_text(c, "DELETE", NULL, NULL);
}

int baton_cron_pause(struct baton_client *c, const char *key, const char *note, char **answer)
{
        json_t *o;
        char *body = NULL;
        int rc = start(c, key, true, "/pause", answer);

        if (rc)
                return rc;
        /* jansson refuses a note that is not UTF-8 (as no memory: o is NULL). */
        o = note ? json_pack("{s:s}", "note", note) : json_object();
        if (o)
                body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!body)
                return client_fail(c, BATON_ENOMEM, NULL);
        rc = client_call_text(c, "POST", body, answer);
        free(body);
        return rc;
}

int baton_cron_resume(struct baton_client *c, const char *key, char **answer)
{
        int rc = start(c, key, true, "/resume", answer);

        return rc ? rc : client_call_text(c, "POST", "{}", answer);
}

int baton_cron_run(struct baton_client *c, const char *key, bool force, char **answer)
{
        int rc = start(c, key, true, "/run", answer);

        return rc ? rc : client_call_text(c, "POST", force ? "{\"force\":true}" : "{}", answer);
}

int baton_cron_runs(struct baton_client *c, const char *key, int limit, const char *after,
                    char **answer)
{
        int rc = start(c, key, true, "/runs", answer);

        return rc ? rc : client_call_page(c, limit > 0 ? limit : 0, after, answer);
}

int baton_cron_preview(struct baton_client *c, const char *request, char **answer)
{
        int rc = start(c, NULL, false, "/preview", answer);

        return rc ? rc
                  : client_call_body(c, "POST", request, "a preview request is required", answer);
}

int baton_cron_apply(struct baton_client *c, const char *registry, char **answer)
{
        int rc = start(c, NULL, false, NULL, answer);

        return rc ? rc
                  : client_call_body(c, "PUT", registry, "a registry document is required", answer);
}
