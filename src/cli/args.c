/*
 * args.c: the command line after the command words: the options the commands
 * know (each command accepts the subset its table entry names), the global
 * options (--url, --key-file, --ca-file, --json) that may also come after the
 * command, positional arguments and, for `work`, the command after "--".
 * Workload: one parse per process over argv; nothing is copied, values point
 * into argv. Assumes argv lives as long as the process.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct optdef {
        const char *name;
        enum cli_opt opt;
        bool takes_value;
};

static const struct optdef optdefs[] = {
    {"--priority", O_PRIORITY, true},
    {"--delay-ms", O_DELAY, true},
    {"--idempotency-key", O_IDEM, true},
    {"--wait", O_WAIT, false},
    {"--queue", O_QUEUE, true},
    {"--state", O_STATE, true},
    {"--type", O_TYPE, true},
    {"--limit", O_LIMIT, true},
    {"--after", O_AFTER, true},
    {"--all", O_ALL, false},
    {"--tenant", O_TENANT, true},
    {"--scopes", O_SCOPES, true},
    {"--expires-at", O_EXPIRES, true},
    {"--rate-max", O_RATE_MAX, true},
    {"--rate-per-ms", O_RATE_PER, true},
    {"--grace-ms", O_GRACE, true},
    {"--action", O_ACTION, true},
    {"--key-id", O_KEY_ID, true},
    {"--concurrency", O_CONCURRENCY, true},
    {"--lease-ms", O_LEASE, true},
    {"--timeout-ms", O_TIMEOUT, true},
    {"--poll-ms", O_POLL, true},
    {"--worker", O_WORKER, true},
    {"--max-attempts", O_MAX_ATTEMPTS, true},
    {"--note", O_NOTE, true},
    {"--force", O_FORCE, false},
    {"--from", O_FROM, true},
    {"--timezone", O_TZ, true},
    {"--dst-gap", O_DST_GAP, true},
    {"--dst-fold", O_DST_FOLD, true},
    {"-f", O_FILE, true},
    {"--file", O_FILE, true},
    {"--prune", O_PRUNE, false},
    {"--cron", O_CRON, true},
    {"--count", O_NFIRES, true},
    {"--payload", O_PAYLOAD, true},
    {"--fire-at", O_FIRE_AT, true},
    {"--if-version", O_IF_VERSION, true},
    {"--prefix", O_PREFIX, true},
    {"--depends-on", O_DEPENDS_ON, true},
    {"--group", O_GROUP, true},
    {"--rate", O_RATE, true},
    {"--max-depth", O_MAX_DEPTH, true},
    {"--group-concurrency", O_GROUP_CONCURRENCY, true},
    {"--group-rate", O_GROUP_RATE, true},
    {"--backoff", O_BACKOFF, true},
    {"--run-at", O_RUN_AT, true},
    {"--keep-completed-ms", O_KEEP_COMPLETED, true},
    {"--keep-dead-ms", O_KEEP_DEAD, true},
    {"--keep-cancelled-ms", O_KEEP_CANCELLED, true},
    {"--follow", O_FOLLOW, false},
    {"--key", O_KEY, true},
    {"--request-id", O_REQUEST_ID, true},
    {"--execution-id", O_EXECUTION_ID, true},
    {"--created-after", O_CREATED_AFTER, true},
    {"--created-before", O_CREATED_BEFORE, true},
    {"--finished-after", O_FINISHED_AFTER, true},
    {"--finished-before", O_FINISHED_BEFORE, true},
    {"--desc", O_DESC, false},
    {"--unique-while", O_UNIQUE_WHILE, true},
    {"--label", O_LABEL, true},
};

bool cli_takes_flag(const struct cli_cmd *c, const char *flag)
{
        for (size_t k = 0; k < sizeof(optdefs) / sizeof(optdefs[0]); k++)
                if (strcmp(optdefs[k].name, flag) == 0 && (c->opts & OPT(optdefs[k].opt)))
                        return true;
        return false;
}

/* Splits "--name=value"; returns the length of the name part. */
static size_t opt_name_len(const char *arg)
{
        const char *eq = strchr(arg, '=');

        return eq ? (size_t)(eq - arg) : strlen(arg);
}

/*
 * Handles a global option at argv[*i] (--url, --key-file, --ca-file, --json); returns 1
 * when it was one, 0 when not, or -1 on a usage error (message printed).
 */
int cli_global_opt(struct cli *cli, struct cli_global *g, int argc, char **argv, int *i)
{
        static const char *const names[] = {"--url", "--key-file", "--ca-file"};
        const char *arg = argv[*i];
        size_t n = opt_name_len(arg), k;

        if (strcmp(arg, "--json") == 0) {
                cli->json = true;
                return 1;
        }
        for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
                const char *v;

                if (n != strlen(names[k]) || strncmp(arg, names[k], n) != 0)
                        continue;
                if (arg[n] == '=') {
                        v = arg + n + 1;
                } else if (*i + 1 < argc) {
                        v = argv[++*i];
                } else {
                        cli_flag_error(cli->prog, NULL, names[k], "%s needs a value", names[k]);
                        return -1;
                }
                if (k == 0)
                        g->url = v;
                else if (k == 1)
                        g->key_file = v;
                else
                        g->ca_file = v;
                return 1;
        }
        return 0;
}

bool cli_is_help(const char *arg)
{
        return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Parses the arguments after the command words. Returns EXIT_OK_, EXIT_USAGE,
 * or -1 when --help was printed. */
int cli_parse_args(struct cli *cli, struct cli_global *gl, const struct cli_cmd *c, int argc,
                   char **argv, int first, struct cli_args *a)
{
        bool opts_done = false;
        int i;

        for (i = first; i < argc; i++) {
                const char *arg = argv[i];
                size_t k, n;
                int g;

                if (!opts_done && strcmp(arg, "--") == 0) {
                        if (c->takes_command) {
                                a->cmd_argv = argv + i + 1;
                                a->cmd_argc = argc - i - 1;
                                break;
                        }
                        opts_done = true;
                        continue;
                }
                if (opts_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
                        if (c->takes_command)
                                return cli_usage_error(cli->prog, c->usage,
                                                       "unexpected argument %s (the command "
                                                       "goes after --)",
                                                       arg);
                        if (a->n_pos >= CLI_POS_MAX)
                                return cli_usage_error(cli->prog, c->usage, "%s",
                                                       "too many arguments");
                        a->pos[a->n_pos++] = arg;
                        continue;
                }
                if (cli_is_help(arg)) {
                        cli_cmd_usage(stdout, cli->prog, c);
                        return -1;
                }
                g = cli_global_opt(cli, gl, argc, argv, &i);
                if (g < 0)
                        return EXIT_USAGE;
                if (g > 0)
                        continue;
                n = opt_name_len(arg);
                for (k = 0; k < sizeof(optdefs) / sizeof(optdefs[0]); k++)
                        if (strlen(optdefs[k].name) == n && strncmp(arg, optdefs[k].name, n) == 0 &&
                            (c->opts & OPT(optdefs[k].opt)))
                                break;
                if (k == sizeof(optdefs) / sizeof(optdefs[0]))
                        return cli_flag_error(cli->prog, c->usage, arg, "unknown option %s", arg);
                if (!optdefs[k].takes_value) {
                        if (arg[n] == '=')
                                return cli_flag_error(cli->prog, c->usage, optdefs[k].name,
                                                      "%s takes no value", optdefs[k].name);
                        a->opt[optdefs[k].opt] = "";
                } else if (arg[n] == '=') {
                        a->opt[optdefs[k].opt] = arg + n + 1;
                } else if (i + 1 < argc) {
                        a->opt[optdefs[k].opt] = argv[++i];
                } else {
                        return cli_flag_error(cli->prog, c->usage, optdefs[k].name,
                                              "%s needs a value", optdefs[k].name);
                }
                /* --label is the one option that may be given more than once. */
                if (optdefs[k].opt == O_LABEL && a->n_labels++ < CLI_LABELS_MAX)
                        a->labels[a->n_labels - 1] = a->opt[O_LABEL];
        }
        if (a->n_pos < c->min_pos)
                return cli_usage_error(cli->prog, c->usage, "%s", "missing arguments");
        if (a->n_pos > c->max_pos)
                return cli_usage_error(cli->prog, c->usage, "unexpected argument %s",
                                       a->pos[c->max_pos]);
        return EXIT_OK_;
}
