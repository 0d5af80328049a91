/*
 * find.c: the commands that find jobs by filter: `baton job list` (GET
 * /v1/jobs, one page) and `baton jobs bulk` (POST /v1/jobs/bulk, continued
 * over the answer's cursor until no job is left). Both read the same filter
 * flags (CLI_FILTER_OPTS), sent as the query parameters or as the members of
 * the bulk's "filter", under the API's names. Workload: one command per
 * process; a bulk makes one request per 1,000 jobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Each filter flag, the API name it is sent under and the flag's own. */
static const struct {
        const char *name;
        enum cli_opt opt;
        const char *flag;
} filters[] = {
    {"queue", O_QUEUE, "--queue"},
    {"state", O_STATE, "--state"},
    {"type", O_TYPE, "--type"},
    {"group", O_GROUP, "--group"},
    {"key", O_KEY, "--key"},
    {"idempotency_key", O_IDEM, "--idempotency-key"},
    {"request_id", O_REQUEST_ID, "--request-id"},
    {"execution_id", O_EXECUTION_ID, "--execution-id"},
    {"worker", O_WORKER, "--worker"},
    {"created_after", O_CREATED_AFTER, "--created-after"},
    {"created_before", O_CREATED_BEFORE, "--created-before"},
    {"finished_after", O_FINISHED_AFTER, "--finished-after"},
    {"finished_before", O_FINISHED_BEFORE, "--finished-before"},
    {"order", O_DESC, "--desc"},
    {"limit", O_LIMIT, "--limit"},
    {"after", O_AFTER, "--after"},
};

/* The server names the field it refused in the API's terms ("filter.state");
 * after a refusal, say which flag gave it. Returns rc. */
static int name_flag(struct cli *cli, int rc)
{
        const char *field = baton_client_last_error(cli->client)->field;

        if (rc == EXIT_OK_ || !*field)
                return rc;
        if (strncmp(field, "filter.", 7) == 0)
                field += 7;
        for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
                if (strcmp(field, filters[i].name) == 0)
                        fprintf(stderr, "%s: the value of %s was refused\n", cli->prog,
                                filters[i].flag);
        return rc;
}

int cmd_job_list(struct cli *cli, struct cli_args *a)
{
        char path[4096] = "/v1/jobs";
        int rc = 0;

        if (cli_check_limit(cli, a))
                return EXIT_USAGE;
        for (size_t i = 0;
             i < sizeof(filters) / sizeof(filters[0]) && filters[i].opt != O_DESC && !rc; i++)
                rc = cli_add_query(path, sizeof(path), filters[i].name, a->opt[filters[i].opt]);
        if (!rc && a->opt[O_DESC])
                rc = cli_add_query(path, sizeof(path), "order", "desc");
        if (!rc)
                rc = cli_add_query(path, sizeof(path), "limit", a->opt[O_LIMIT]);
        if (!rc)
                rc = cli_add_query(path, sizeof(path), "after", a->opt[O_AFTER]);
        if (rc)
                return cli_usage_error(cli->prog, NULL, "%s", "arguments too long");
        return name_flag(cli, cli_get_page(cli, path, "jobs", print_job_table));
}

/* The body of one bulk call: action, the filter of a's flags, limit, and
 * after when continuing. NULL when memory ran out or a flag is not UTF-8
 * (*bad set). Caller frees. */
static char *bulk_body(struct cli_args *a, long long limit, const char *after, bool *bad)
{
        json_t *req = json_object(), *f = json_object();
        char *body = NULL;
        int rc = !req || !f;

        *bad = false;
        for (size_t i = 0;
             i < sizeof(filters) / sizeof(filters[0]) && filters[i].opt != O_DESC && !rc; i++) {
                const char *v = a->opt[filters[i].opt];
                /* json_string refuses text that is not UTF-8. */
                json_t *s = v ? json_string(v) : NULL;

                if (v && !s)
                        *bad = true;
                rc = v && json_object_set_new(f, filters[i].name, s);
        }
        if (!rc && a->opt[O_DESC])
                rc = json_object_set_new(f, "order", json_string("desc"));
        if (!rc) {
                rc = json_object_set_new(req, "action", json_string(a->pos[0]));
                rc = rc || json_object_set_new(req, "filter", f);
                f = NULL;
        }
        rc = rc || json_object_set_new(req, "limit", json_integer(limit));
        if (!rc && after)
                rc = json_object_set_new(req, "after", json_string(after));
        if (!rc)
                body = json_dumps(req, JSON_COMPACT);
        json_decref(f);
        json_decref(req);
        return body;
}

/* One bulk call of at most limit jobs; adds its counts to *matched and
 * *changed and copies its cursor into next (cap 32, "" when none). */
static int bulk_step(struct cli *cli, struct cli_args *a, long long limit, char *next,
                     long long *matched, long long *changed)
{
        json_t *root = NULL;
        bool bad;
        char *body = bulk_body(a, limit, *next ? next : NULL, &bad);
        int rc;

        if (!body)
                return bad ? cli_usage_error(cli->prog, a->usage, "%s",
                                             "arguments must be UTF-8 text")
                           : cli_oom(cli);
        rc = name_flag(cli, cli_call(cli, "POST", "/v1/jobs/bulk", body, false, &root));
        free(body);
        if (rc)
                return rc;
        *matched += json_integer_value(json_object_get(root, "matched"));
        *changed += json_integer_value(json_object_get(root, "changed"));
        snprintf(next, 32, "%s",
                 json_is_string(json_object_get(root, "next"))
                     ? json_string_value(json_object_get(root, "next"))
                     : "");
        json_decref(root);
        return EXIT_OK_;
}

int cmd_jobs_bulk(struct cli *cli, struct cli_args *a)
{
        static const char *const actions[] = {"retry", "cancel", "promote", "purge"};
        long long left = -1, matched = 0, changed = 0, calls = 0;
        char next[32] = "";
        bool known = false;
        int rc = EXIT_OK_;

        for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
                known = known || strcmp(a->pos[0], actions[i]) == 0;
        if (!known)
                return cli_usage_error(cli->prog, a->usage,
                                       "the action is retry, cancel, promote or purge, not '%s'",
                                       a->pos[0]);
        if (cli_opt_count(cli, a, O_LIMIT, "--limit", 1, 1000000000, &left))
                return EXIT_USAGE;
        /* Each call acts on the next 1,000 (at most what is left of
         * --limit), after the last job the previous one looked at. */
        do {
                long long before = matched;

                rc = bulk_step(cli, a, left >= 0 && left < 1000 ? left : 1000, next, &matched,
                               &changed);
                calls++;
                if (left >= 0)
                        left -= matched - before;
        } while (rc == EXIT_OK_ && *next && left != 0);
        if (rc != EXIT_OK_ && calls == 1)
                return rc;
        if (cli->json)
                printf("{\"matched\":%lld,\"changed\":%lld,\"next\":%s%s%s}\n", matched, changed,
                       *next ? "\"" : "", *next ? next : "null", *next ? "\"" : "");
        else
                printf("%s: %lld matched, %lld changed%s%s\n", a->pos[0], matched, changed,
                       *next ? "; more remain after " : "", next);
        return rc;
}
