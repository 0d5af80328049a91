/*
 * events.c: `baton events`, the event log (GET /v1/events, docs/api.md
 * "Events"): one page of the tenant's events after --after, oldest first,
 * filtered by --type patterns and --queue, as a table (id, type, time,
 * subject, data) and the page's cursor; with --follow it keeps reading from
 * each page's cursor with long-polls and prints every event as it comes,
 * until interrupted or until --count events were printed. With --json a
 * page is the server's answer, and --follow prints one event object a line.
 * Workload: one request per page, each waiting up to EVENTS_FOLLOW_WAIT_MS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* The wait of one long-poll of --follow, under libbaton's 30 s timeout. */
#define EVENTS_FOLLOW_WAIT_MS "10000"
#define EVENTS_PATH_MAX 2048

/* "job 42 (queue q)", "cron nightly", "timer draft-7", "queue q" into buf. */
static const char *subject_text(const json_t *s, char *buf, size_t cap)
{
        const char *kind = print_str(s, "kind");

        if (strcmp(kind, "job") == 0)
                snprintf(buf, cap, "job %s (%s)", print_str(s, "id"), print_str(s, "queue"));
        else if (strcmp(kind, "queue") == 0)
                snprintf(buf, cap, "queue %s", print_str(s, "name"));
        else
                snprintf(buf, cap, "%s %s", kind, print_str(s, "key"));
        return buf;
}

static void print_event(const json_t *e)
{
        char subject[512];
        char *data = json_dumps(json_object_get(e, "data"), JSON_COMPACT | JSON_PRESERVE_ORDER);

        printf("%-14s %-22s %-24s %-32s %s\n", print_str(e, "id"), print_str(e, "type"),
               print_str(e, "at"),
               subject_text(json_object_get(e, "subject"), subject, sizeof(subject)),
               data ? data : "{}");
        free(data);
}

static void print_header(void)
{
        printf("%-14s %-22s %-24s %-32s %s\n", "ID", "TYPE", "AT", "SUBJECT", "DATA");
}

static void print_event_table(const json_t *events)
{
        size_t i;
        json_t *e;

        print_header();
        json_array_foreach(events, i, e)
        {
                print_event(e);
        }
}

/* The path of one read after cursor after (NULL: from the oldest). */
static int build_path(char *path, size_t cap, struct cli_args *a, const char *after,
                      const char *wait_ms)
{
        snprintf(path, cap, "/v1/events");
        if (cli_add_query(path, cap, "type", a->opt[O_TYPE]) ||
            cli_add_query(path, cap, "queue", a->opt[O_QUEUE]) ||
            cli_add_query(path, cap, "limit", a->opt[O_LIMIT]) ||
            cli_add_query(path, cap, "after", after) ||
            cli_add_query(path, cap, "wait_ms", wait_ms))
                return -1;
        return 0;
}

/* --follow: reads on from each page's cursor until --count events (0: no
 * end) were printed or a read fails. */
static int follow(struct cli *cli, struct cli_args *a, long long count)
{
        char path[EVENTS_PATH_MAX], after[64];
        long long printed = 0;
        int rc = EXIT_OK_;

        snprintf(after, sizeof(after), "%s", a->opt[O_AFTER] ? a->opt[O_AFTER] : "0");
        if (!cli->json) {
                print_header();
                fflush(stdout);
        }
        while (rc == EXIT_OK_ && (count == 0 || printed < count)) {
                json_t *root = NULL, *events, *e;
                size_t i;

                if (build_path(path, sizeof(path), a, after, EVENTS_FOLLOW_WAIT_MS))
                        return cli_usage_error(cli->prog, a->usage, "%s", "arguments too long");
                rc = cli_call(cli, "GET", path, NULL, false, &root);
                if (rc != EXIT_OK_)
                        break;
                events = json_object_get(root, "events");
                json_array_foreach(events, i, e)
                {
                        if (count && printed >= count)
                                break;
                        if (cli->json) {
                                char *line = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
                                printf("%s\n", line ? line : "{}");
                                free(line);
                        } else {
                                print_event(e);
                        }
                        printed++;
                }
                fflush(stdout);
                if (json_is_string(json_object_get(root, "next")))
                        snprintf(after, sizeof(after), "%s",
                                 json_string_value(json_object_get(root, "next")));
                json_decref(root);
        }
        return rc;
}

int cmd_events(struct cli *cli, struct cli_args *a)
{
        char path[EVENTS_PATH_MAX];
        long long count = 0;
        int rc = cli_check_limit(cli, a);

        if (rc == EXIT_OK_)
                rc = cli_opt_count(cli, a, O_NFIRES, "--count", 1, 1000000000, &count);
        if (rc != EXIT_OK_)
                return rc;
        if (a->opt[O_NFIRES] && !a->opt[O_FOLLOW])
                return cli_flag_error(cli->prog, a->usage, "--count", "%s",
                                      "--count is for --follow (a page has --limit)");
        if (a->opt[O_FOLLOW])
                return follow(cli, a, count);
        if (build_path(path, sizeof(path), a, a->opt[O_AFTER], NULL))
                return cli_usage_error(cli->prog, a->usage, "%s", "arguments too long");
        return cli_get_page(cli, path, "events", print_event_table);
}
