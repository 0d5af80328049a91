/*
 * main.c: the baton command. `baton [--url URL] [--json] <command> ...` operates
 * a batond server: health, enqueue, job get/list/cancel/retry, queue
 * list/get/pause/resume, dead list/replay/purge, keys create/list/revoke/rotate,
 * audit, cron schedules (cron.c), timers and flows (timers.c; enqueue
 * --depends-on in jobs.c), and `work`, which turns any program into a
 * worker (work.c). Each
 * command is one or a few HTTP calls through libbaton; output is
 * human-readable by default and the server's own JSON with --json (errors too,
 * errors.c). Exit codes are a contract for scripts (enum cli_exit, printed by
 * --help); `baton --version` prints the version.
 *
 * Where the server and key come from: the URL from --url, then $BATON_URL, then
 * http://127.0.0.1:7700. The API key from --key-file FILE, then $BATON_KEY,
 * then the admin key batond writes on first start beside its data:
 * $BATON_DATA/admin.key, else ./baton-data/admin.key. With none of these no
 * Authorization header is sent (a server started with --insecure-no-auth, or
 * an older one, needs none). Assumes one command per process: nothing here is
 * built for reuse beyond the process's life.
 *
 * This file is the entry point only: the global options before the command,
 * then the command table's lookup (commands.c), its arguments (args.c), the
 * server and key (conn.c) and the command itself. Job commands are in jobs.c,
 * queue and dead-letter commands in queues.c, keys and audit in admin.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/*
 * Reads the global options before the command words; *i ends on the first
 * command word. Returns -1 to go on, or the exit code when the process is done
 * (--help printed, a usage error, or no command given).
 */
static int leading_opts(struct cli *cli, struct cli_global *gl, int argc, char **argv, int *i)
{
        for (*i = 1; *i < argc && argv[*i][0] == '-'; (*i)++) {
                int g;

                if (cli_is_help(argv[*i])) {
                        cli_usage(stdout, cli->prog);
                        return EXIT_OK_;
                }
                if (strcmp(argv[*i], "--version") == 0) {
                        printf("%s %s\n", cli->prog, BATON_VERSION);
                        return EXIT_OK_;
                }
                g = cli_global_opt(cli, gl, argc, argv, i);
                if (g < 0)
                        return EXIT_USAGE;
                if (g == 0)
                        return cli_flag_error(cli->prog, NULL, argv[*i], "unknown option %s",
                                              argv[*i]);
        }
        if (*i >= argc) {
                if (cli_errors_are_json())
                        return cli_usage_error(cli->prog, NULL, "a command is required");
                cli_usage(stderr, cli->prog);
                return EXIT_USAGE;
        }
        return -1;
}

/* True when --json is among the options (before a "--", after which
 * `work`'s command line starts): errors are JSON from the first one on, even
 * one about an option that comes before --json. */
static bool wants_json(int argc, char **argv)
{
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "--json") == 0)
                        return true;
        return false;
}

int main(int argc, char **argv)
{
        struct cli cli = {0};
        struct cli_global gl = {0};
        struct cli_args a;
        const struct cli_cmd *c = NULL;
        int i, rc;

        cli.prog = "baton";
        memset(&a, 0, sizeof(a));
        cli_errors_json(wants_json(argc, argv));
        rc = leading_opts(&cli, &gl, argc, argv, &i);
        if (rc >= 0)
                return rc;
        rc = cli_find_cmd(&cli, argc, argv, i, &c);
        if (!c)
                return rc;
        a.usage = c->usage;
        cli.cmd = c;
        rc = cli_parse_args(&cli, &gl, c, argc, argv, i + (c->name ? 2 : 1), &a);
        if (rc < 0)
                return EXIT_OK_;
        if (rc != EXIT_OK_)
                return rc;
        rc = cli_connect(&cli, &gl);
        if (rc == EXIT_OK_)
                rc = c->run(&cli, &a);
        baton_client_free(cli.client);
        free(cli.key);
        return rc;
}
