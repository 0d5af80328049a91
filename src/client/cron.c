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

/* Builds the URL prefix + escaped key + suffix. */
static int cron_url(struct baton_client *c, const char *key, const char *suffix)
{
        int rc = client_url(c, key ? "/v1/cron/" : "/v1/cron");

        if (rc == 0 && key)
                rc = sbuf_url_escape(&c->url, key);
        if (rc == 0 && suffix)
                rc = sbuf_adds(&c->url, suffix);
        return rc;
}

static int add_query(struct baton_client *c, const char *name, const char *value)
{
        int rc;

        if (!value)
                return 0;
        rc = sbuf_addc(&c->url, strchr(c->url.p, '?') ? '&' : '?');
        if (rc == 0)
                rc = sbuf_adds(&c->url, name);
        if (rc == 0)
                rc = sbuf_addc(&c->url, '=');
        if (rc == 0)
                rc = sbuf_url_escape(&c->url, value);
        return rc;
}

/* Performs the call with the URL already in c->url and hands the answer to
 * *answer as JSON text (caller frees) when answer is not NULL. */
static int pass(struct baton_client *c, const char *method, const char *body, char **answer)
{
        json_t *root = NULL;
        int rc;

        rc = client_call(c, method, body, body ? strlen(body) : 0, 0, answer ? &root : NULL);
        if (rc == 0 && answer) {
                *answer = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
                if (!*answer)
                        rc = client_fail(c, BATON_ENOMEM, NULL);
        }
        json_decref(root);
        return rc;
}

static int start(struct baton_client *c, const char *key, bool key_required, const char *suffix,
                 char **answer)
{
        int rc;

        if (answer)
                *answer = NULL;
        if (key_required && !key)
                return client_fail(c, BATON_EINVAL, "a schedule key is required");
        rc = cron_url(c, key, suffix);
        return rc ? client_fail(c, rc, NULL) : 0;
}

int baton_cron_put(struct baton_client *c, const char *key, const char *definition, char **answer)
{
        int rc = start(c, key, true, NULL, answer);

        if (rc)
                return rc;
        if (!definition)
                return client_fail(c, BATON_EINVAL, "a schedule definition is required");
        return pass(c, "PUT", definition, answer);
}

int baton_cron_get(struct baton_client *c, const char *key, char **answer)
{
        int rc = start(c, key, true, NULL, answer);

        return rc ? rc : pass(c, "GET", NULL, answer);
}

int baton_cron_list(struct baton_client *c, int limit, const char *after, char **answer)
{
        char lim[24];
        int rc = start(c, NULL, false, NULL, answer);

        if (rc)
                return rc;
        snprintf(lim, sizeof(lim), "%d", limit);
        rc = add_query(c, "limit", limit > 0 ? lim : NULL);
        if (rc == 0)
                rc = add_query(c, "after", after);
        return rc ? client_fail(c, rc, NULL) : pass(c, "GET", NULL, answer);
}

int baton_cron_delete(struct baton_client *c, const char *key)
{
        int rc = start(c, key, true, NULL, NULL);

        return rc ? rc : pass(c, "DELETE", NULL, NULL);
}

int baton_cron_pause(struct baton_client *c, const char *key, const char *note, char **answer)
{
        json_t *o;
        char *body = NULL;
        int rc = start(c, key, true, "/pause", answer);

        if (rc)
                return rc;
        o = note ? json_pack("{s:s}", "note", note) : json_object();
        if (o)
                body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!body)
                return client_fail(c, BATON_ENOMEM, NULL);
        rc = pass(c, "POST", body, answer);
        free(body);
        return rc;
}

int baton_cron_resume(struct baton_client *c, const char *key, char **answer)
{
        int rc = start(c, key, true, "/resume", answer);

        return rc ? rc : pass(c, "POST", "{}", answer);
}

int baton_cron_run(struct baton_client *c, const char *key, bool force, char **answer)
{
        int rc = start(c, key, true, "/run", answer);

        return rc ? rc : pass(c, "POST", force ? "{\"force\":true}" : "{}", answer);
}

int baton_cron_runs(struct baton_client *c, const char *key, int limit, const char *after,
                    char **answer)
{
        char lim[24];
        int rc = start(c, key, true, "/runs", answer);

        if (rc)
                return rc;
        snprintf(lim, sizeof(lim), "%d", limit);
        rc = add_query(c, "limit", limit > 0 ? lim : NULL);
        if (rc == 0)
                rc = add_query(c, "after", after);
        return rc ? client_fail(c, rc, NULL) : pass(c, "GET", NULL, answer);
}

int baton_cron_preview(struct baton_client *c, const char *request, char **answer)
{
        int rc = start(c, NULL, false, "/preview", answer);

        if (rc)
                return rc;
        if (!request)
                return client_fail(c, BATON_EINVAL, "a preview request is required");
        return pass(c, "POST", request, answer);
}

int baton_cron_apply(struct baton_client *c, const char *registry, char **answer)
{
        int rc = start(c, NULL, false, NULL, answer);

        if (rc)
                return rc;
        if (!registry)
                return client_fail(c, BATON_EINVAL, "a registry document is required");
        return pass(c, "PUT", registry, answer);
}
