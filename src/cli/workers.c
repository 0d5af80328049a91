/*
 * workers.c: `baton workers`, the worker registry (GET /v1/workers and
 * GET /v1/workers/ID): without an id a table of the tenant's workers (id,
 * health, queues, jobs in flight, completed, failed, last seen), one page at
 * a time; with one the worker's details (its info, labels, lease period and
 * the ids of the jobs it holds). Workload: one request per command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static long long num(const json_t *o, const char *k)
{
        return (long long)json_integer_value(json_object_get(o, k));
}

static void print_worker_table(const json_t *workers)
{
        char queues[256];
        size_t i;
        json_t *w;

        printf("%-24s %-8s %-24s %9s %9s %9s %s\n", "ID", "HEALTH", "QUEUES", "IN FLIGHT",
               "COMPLETED", "FAILED", "LAST SEEN");
        json_array_foreach(workers, i, w)
        {
                printf("%-24s %-8s %-24s %9zu %9lld %9lld %s\n", print_str(w, "id"),
                       print_str(w, "health"),
                       print_join(json_object_get(w, "queues"), queues, sizeof(queues)),
                       json_array_size(json_object_get(w, "in_flight")), num(w, "completed"),
                       num(w, "failed"), print_str(w, "last_seen"));
        }
}

/* label=value pairs joined with commas into buf; "-" when there are none. */
static const char *join_labels(const json_t *labels, char *buf, size_t cap)
{
        const char *k;
        json_t *v;
        size_t len = 0;

        snprintf(buf, cap, "-");
        json_object_foreach((json_t *)labels, k, v)
        {
                int n = snprintf(buf + len, cap - len, "%s%s=%s", len ? "," : "", k,
                                 json_string_value(v) ? json_string_value(v) : "");
                if (n < 0 || (size_t)n >= cap - len)
                        break;
                len += (size_t)n;
        }
        return buf;
}

static void print_worker(const json_t *w)
{
        const json_t *info = json_object_get(w, "info");
        char buf[4096];

        printf("%-16s %s\n", "id", print_str(w, "id"));
        printf("%-16s %s\n", "health", print_str(w, "health"));
        printf("%-16s %s\n", "host", print_str(info, "host"));
        if (json_is_integer(json_object_get(info, "pid")))
                printf("%-16s %lld\n", "pid", num(info, "pid"));
        else
                printf("%-16s -\n", "pid");
        printf("%-16s %s\n", "version", print_str(info, "version"));
        printf("%-16s %s\n", "labels",
               join_labels(json_object_get(info, "labels"), buf, sizeof(buf)));
        printf("%-16s %s\n", "queues", print_join(json_object_get(w, "queues"), buf, sizeof(buf)));
        printf("%-16s %s\n", "first_seen", print_str(w, "first_seen"));
        printf("%-16s %s\n", "last_seen", print_str(w, "last_seen"));
        printf("%-16s %lld\n", "lease_period_ms", num(w, "lease_period_ms"));
        printf("%-16s %s%s\n", "in_flight",
               print_join(json_object_get(w, "in_flight"), buf, sizeof(buf)),
               json_is_true(json_object_get(w, "in_flight_truncated")) ? " (and more)" : "");
        printf("%-16s %lld\n", "completed", num(w, "completed"));
        printf("%-16s %lld\n", "failed", num(w, "failed"));
}

int cmd_workers(struct cli *cli, struct cli_args *a)
{
        static const struct cli_list list = {
            "workers", print_worker_table, 1024, {{"limit", O_LIMIT}, {"after", O_AFTER}}};
        json_t *root = NULL;
        int rc;

        if (a->n_pos == 0)
                return cli_check_limit(cli, a) ? EXIT_USAGE
                                               : cli_list(cli, a, "/v1/workers", &list);
        if (a->opt[O_LIMIT] || a->opt[O_AFTER])
                return cli_usage_error(cli->prog, a->usage,
                                       "--limit and --after list workers; they take no ID");
        rc =
            cli_call_on(cli, "GET", "/v1/workers/", a->pos[0], NULL, 512, "worker id", NULL, &root);
        if (rc == EXIT_OK_ && !cli->json)
                print_worker(json_object_get(root, "worker"));
        json_decref(root);
        return rc;
}
