/*
 * timers.c: the `baton timer` commands (put, get, list, cancel: durable,
 * versioned timers, PUT/GET/DELETE /v1/timers/{key}) and the `baton flow`
 * commands (create -f FILE, get ID: a DAG of jobs inserted atomically, POST and
 * GET /v1/flows). Each command is one HTTP call through cli_call, so --json
 * prints what the server said and the exit-code contract of cli.h holds: a
 * compare-and-set refused with 409 version_mismatch exits 1, a bad flag 2.
 *
 * The timer body is built here from the flags; the flow document is sent as
 * read (after a local check that it is a JSON object with a "jobs" array, so
 * a typo is a usage error rather than a round trip). Workload: an operator at
 * a terminal or a script, one call per command.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void print_timer(const json_t *t)
{
        static const char *const keys[] = {
            "key",      "version",    "state",        "fire_at",   "queue",    "type",
            "payload",  "priority",   "max_attempts", "backoff",   "lease_ms", "job_id",
            "fired_at", "request_id", "created_at",   "updated_at"};
        size_t i;

        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                print_field(t, keys[i], 13);
}

static void print_timer_table(const json_t *arr)
{
        size_t i;
        json_t *t;

        printf("%-28s %-7s %-9s %-24s %-16s %-16s %s\n", "KEY", "VERSION", "STATE", "FIRE_AT",
               "QUEUE", "TYPE", "JOB");
        json_array_foreach(arr, i, t)
        {
                printf("%-28s %-7lld %-9s %-24s %-16s %-16s %s\n", print_str(t, "key"),
                       (long long)json_integer_value(json_object_get(t, "version")),
                       print_str(t, "state"), print_str(t, "fire_at"), print_str(t, "queue"),
                       print_str(t, "type"), print_str(t, "job_id"));
        }
}

static int key_path(struct cli *cli, char *path, size_t cap, const char *prefix, const char *seg)
{
        if (cli_make_path(path, cap, prefix, seg, NULL))
                return cli_usage_error(cli->prog, NULL, "argument too long: %s", seg);
        return EXIT_OK_;
}

/* The version of the answer's timer ({"timer": {...}}), 0 when it has none. */
static long long timer_version(const json_t *root)
{
        return (long long)json_integer_value(
            json_object_get(json_object_get(root, "timer"), "version"));
}

/* Prints the timer of a 2xx answer unless --json; frees root. */
static int timer_answer(struct cli *cli, int rc, json_t *root, const char *verb, const char *key)
{
        if (rc == EXIT_OK_ && !cli->json) {
                if (verb)
                        printf("timer %s %s (version %lld)\n", key, verb, timer_version(root));
                print_timer(json_object_get(root, "timer"));
        }
        json_decref(root);
        return rc;
}

int cmd_timer_put(struct cli *cli, struct cli_args *a)
{
        json_t *req = NULL, *payload = NULL, *root = NULL;
        json_error_t jerr;
        char *text = NULL, *body = NULL, path[1024];
        long long delay = 0, ver = 0, attempts = 0;
        int rc;

        if (!a->opt[O_QUEUE] || !a->opt[O_TYPE])
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "--queue and --type are required");
        if ((a->opt[O_FIRE_AT] != NULL) == (a->opt[O_DELAY] != NULL))
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "give exactly one of --fire-at and --delay-ms");
        if (cli_opt_count(cli, a, O_DELAY, "--delay-ms", 0, LLONG_MAX, &delay) ||
            cli_opt_count(cli, a, O_IF_VERSION, "--if-version", 0, LLONG_MAX, &ver) ||
            cli_opt_count(cli, a, O_MAX_ATTEMPTS, "--max-attempts", 1, 1000000, &attempts))
                return EXIT_USAGE;
        rc = key_path(cli, path, sizeof(path), "/v1/timers/", a->pos[0]);
        if (rc)
                return rc;
        rc = EXIT_USAGE;
        if (a->opt[O_PAYLOAD]) {
                const char *src = cli_read_source(a->opt[O_PAYLOAD], &text, cli->prog);

                if (!src)
                        goto out;
                payload = json_loads(src, JSON_DECODE_ANY, &jerr);
                if (!payload) {
                        cli_error(cli->prog, "usage", "--payload", "payload is not valid JSON: %s",
                                  jerr.text);
                        goto out;
                }
        }
        req = json_object();
        if (!req || json_object_set_new(req, "queue", json_string(a->opt[O_QUEUE])) ||
            json_object_set_new(req, "type", json_string(a->opt[O_TYPE])) ||
            (payload && json_object_set(req, "payload", payload)) ||
            (a->opt[O_FIRE_AT] &&
             json_object_set_new(req, "fire_at", json_string(a->opt[O_FIRE_AT]))) ||
            (a->opt[O_DELAY] && json_object_set_new(req, "delay_ms", json_integer(delay))) ||
            (a->opt[O_IF_VERSION] && json_object_set_new(req, "if_version", json_integer(ver))) ||
            (a->opt[O_PRIORITY] &&
             json_object_set_new(req, "priority", json_string(a->opt[O_PRIORITY]))) ||
            (a->opt[O_MAX_ATTEMPTS] &&
             json_object_set_new(req, "max_attempts", json_integer(attempts))) ||
            !(body = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
                /* json_string refuses text that is not UTF-8. */
                cli_error(cli->prog, "usage", NULL, "arguments must be UTF-8 text");
                goto out;
        }
        rc = cli_call(cli, "PUT", path, body, true, &root);
        rc = timer_answer(cli, rc, root, timer_version(root) == 1 ? "created" : "moved", a->pos[0]);
out:
        json_decref(req);
        json_decref(payload);
        free(body);
        free(text);
        return rc;
}

int cmd_timer_get(struct cli *cli, struct cli_args *a)
{
        json_t *root;
        int rc =
            cli_call_on(cli, "GET", "/v1/timers/", a->pos[0], NULL, 1024, "argument", NULL, &root);

        return timer_answer(cli, rc, root, NULL, a->pos[0]);
}

int cmd_timer_cancel(struct cli *cli, struct cli_args *a)
{
        json_t *root = NULL;
        char path[1024];
        long long ver = 0;
        int rc;

        if (cli_opt_count(cli, a, O_IF_VERSION, "--if-version", 1, LLONG_MAX, &ver))
                return EXIT_USAGE;
        rc = key_path(cli, path, sizeof(path), "/v1/timers/", a->pos[0]);
        if (rc)
                return rc;
        if (cli_add_query(path, sizeof(path), "if_version", a->opt[O_IF_VERSION]))
                return cli_usage_error(cli->prog, NULL, "%s", "arguments too long");
        rc = cli_call(cli, "DELETE", path, NULL, true, &root);
        return timer_answer(cli, rc, root, "cancelled", a->pos[0]);
}

int cmd_timer_list(struct cli *cli, struct cli_args *a)
{
        static const struct cli_list list = {
            "timers",
            print_timer_table,
            1024,
            {{"prefix", O_PREFIX}, {"limit", O_LIMIT}, {"after", O_AFTER}}};
        long long v = 0;

        if (cli_opt_count(cli, a, O_LIMIT, "--limit", 1, 1000, &v))
                return EXIT_USAGE;
        return cli_list(cli, a, "/v1/timers", &list);
}

static void print_flow(const json_t *flow)
{
        json_t *jobs = json_object_get(flow, "jobs"), *j;
        char deps[256];
        size_t i;

        printf("flow %s: %s (%zu jobs, created %s)\n", print_str(flow, "id"),
               print_str(flow, "state"), json_array_size(jobs), print_str(flow, "created_at"));
        printf("%-16s %-10s %-10s %-16s %-16s %s\n", "REF", "ID", "STATE", "QUEUE", "TYPE",
               "DEPENDS_ON");
        json_array_foreach(jobs, i, j)
        {
                printf("%-16s %-10s %-10s %-16s %-16s %s\n", print_str(j, "ref"),
                       print_str(j, "id"), print_str(j, "state"), print_str(j, "queue"),
                       print_str(j, "type"),
                       print_join(json_object_get(j, "depends_on"), deps, sizeof(deps)));
        }
}

int cmd_flow_create(struct cli *cli, struct cli_args *a)
{
        json_t *doc = NULL, *root = NULL;
        char *text = NULL;
        int rc = cli_read_doc(cli, a, "jobs", "a flow", &doc, &text);

        /* Sent as read: the server reports errors by field (jobs[i].depends_on[k]). */
        if (rc == EXIT_OK_)
                rc = cli_call(cli, "POST", "/v1/flows", text, true, &root);
        if (rc == EXIT_OK_ && !cli->json)
                print_flow(json_object_get(root, "flow"));
        json_decref(root);
        json_decref(doc);
        free(text);
        return rc;
}

int cmd_flow_get(struct cli *cli, struct cli_args *a)
{
        json_t *root;
        int rc =
            cli_call_on(cli, "GET", "/v1/flows/", a->pos[0], NULL, 1024, "argument", NULL, &root);

        if (rc == EXIT_OK_ && !cli->json)
                print_flow(json_object_get(root, "flow"));
        json_decref(root);
        return rc;
}
