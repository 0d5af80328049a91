/*
 * work_info.c: the `info` that `baton work` sends with every claim, so that
 * the worker registry (GET /v1/workers, `baton workers ID`) tells which
 * machine and process a worker is: host (gethostname), pid (the worker's
 * own), version (BATON_VERSION) and the labels of its --label KEY=VALUE
 * flags. The labels are checked here against the server's bounds
 * (docs/api.md "Workers"), so that a mistake is a usage error naming
 * --label before anything is sent, not a refused claim. Workload: once per
 * `baton work` process.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/work.h"

/* The server's bounds of info (docs/api.md "Workers"); CLI_LABELS_MAX is the
 * number of labels. */
#define LABEL_NAME_MAX 64
#define LABEL_VALUE_MAX 256
#define INFO_MAX_BYTES 4096

/* Adds the label "KEY=VALUE" of one --label flag to labels. Returns
 * EXIT_OK_ or EXIT_USAGE after printing why. */
static int add_label(struct cli *cli, const struct cli_args *a, json_t *labels, const char *arg)
{
        const char *eq = strchr(arg, '=');
        char name[LABEL_NAME_MAX + 1];
        size_t n = eq ? (size_t)(eq - arg) : 0;
        json_t *v;

        if (!eq || n == 0)
                return cli_flag_error(cli->prog, a->usage, "--label",
                                      "--label needs KEY=VALUE (a name of 1 to %d bytes), not '%s'",
                                      LABEL_NAME_MAX, arg);
        if (n > LABEL_NAME_MAX)
                return cli_flag_error(cli->prog, a->usage, "--label",
                                      "--label name '%.*s...' is %zu bytes long; the limit is %d",
                                      20, arg, n, LABEL_NAME_MAX);
        memcpy(name, arg, n);
        name[n] = '\0';
        if (strlen(eq + 1) > LABEL_VALUE_MAX)
                return cli_flag_error(cli->prog, a->usage, "--label",
                                      "--label %s: the value is %zu bytes long; the limit is %d",
                                      name, strlen(eq + 1), LABEL_VALUE_MAX);
        if (json_object_get(labels, name))
                return cli_flag_error(cli->prog, a->usage, "--label",
                                      "--label %s is given twice; each name once", name);
        /* JSON strings, names included, are UTF-8: jansson refuses anything else. */
        v = json_string(eq + 1);
        if (!v || json_object_set_new(labels, name, v) != 0)
                return cli_flag_error(cli->prog, a->usage, "--label",
                                      "--label %s: name and value must be UTF-8 text", name);
        return EXIT_OK_;
}

/* The info object without labels: host (left out when gethostname fails),
 * pid, version. NULL when out of memory. */
static json_t *info_base(void)
{
        char host[256];
        json_t *info = json_object();

        if (!info)
                return NULL;
        if (gethostname(host, sizeof(host)) == 0) {
                host[sizeof(host) - 1] = '\0';
                json_object_set_new(info, "host", json_string(host));
        }
        json_object_set_new(info, "pid", json_integer((json_int_t)getpid()));
        json_object_set_new(info, "version", json_string(BATON_VERSION));
        return info;
}

int work_info_build(struct cli *cli, const struct cli_args *a, char **out)
{
        json_t *info = NULL, *labels = NULL;
        char *text = NULL;
        int rc = EXIT_OK_, i;

        *out = NULL;
        if (a->n_labels > CLI_LABELS_MAX)
                return cli_flag_error(cli->prog, a->usage, "--label",
                                      "--label is given %d times; the limit is %d labels",
                                      a->n_labels, CLI_LABELS_MAX);
        info = info_base();
        labels = json_object();
        if (!info || !labels) {
                rc = cli_oom(cli);
                goto out;
        }
        for (i = 0; i < a->n_labels && rc == EXIT_OK_; i++)
                rc = add_label(cli, a, labels, a->labels[i]);
        if (rc != EXIT_OK_)
                goto out;
        if ((a->n_labels > 0 && json_object_set(info, "labels", labels) != 0) ||
            !(text = json_dumps(info, JSON_COMPACT)))
                rc = cli_oom(cli);
        else if (strlen(text) > INFO_MAX_BYTES)
                /* The server measures the compact text, as dumped here. */
                rc = cli_flag_error(cli->prog, a->usage, "--label",
                                    "the labels make the worker's info %zu bytes of JSON; the "
                                    "limit is %d (fewer or shorter --label)",
                                    strlen(text), INFO_MAX_BYTES);
        if (rc == EXIT_OK_) {
                *out = text;
                text = NULL;
        }
out:
        free(text);
        json_decref(labels);
        json_decref(info);
        return rc;
}
