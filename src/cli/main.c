/*
 * main.c: the baton command. `baton [--url URL] [--json] <command> ...` operates
 * a batond server: health, enqueue, job get/list/cancel/retry, queue
 * list/get/pause/resume, dead list/replay/purge, keys create/list/revoke/rotate,
 * audit, cron schedules (cron.c), timers and flows (timers.c; enqueue
 * --depends-on here), and `work`, which turns any program into a
 * worker (work.c). Each
 * command is one or a few HTTP calls through libbaton; output is
 * human-readable by default and the server's own JSON with --json. Exit codes
 * are a contract for scripts (enum cli_exit, printed by --help).
 *
 * Where the server and key come from: the URL from --url, then $BATON_URL, then
 * http://127.0.0.1:7700. The API key from --key-file FILE, then $BATON_KEY,
 * then the admin key batond writes on first start beside its data:
 * $BATON_DATA/admin.key, else ./baton-data/admin.key. With none of these no
 * Authorization header is sent (a server started with --insecure-no-auth, or
 * an older one, needs none). Assumes one command per process: nothing here is
 * built for reuse beyond the process's life.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

#define DEFAULT_URL "http://127.0.0.1:7700"
#define DEFAULT_DATA_DIR "./baton-data"
#define KEY_FILE_NAME "admin.key"
#define KEY_FILE_MAX_BYTES 4096
#define STDIN_MAX_BYTES (16u << 20)

struct cmd {
        const char *group; /* first word */
        const char *name;  /* second word, NULL for one-word commands */
        const char *usage;
        const char *help;
        unsigned long opts; /* OPT() bits of the options it takes */
        int min_pos, max_pos;
        bool takes_command; /* everything after "--" is a command line (work) */
        int (*run)(struct cli *cli, struct cli_args *a);
};

static int cmd_health(struct cli *cli, struct cli_args *a);
static int cmd_enqueue(struct cli *cli, struct cli_args *a);
static int cmd_job_get(struct cli *cli, struct cli_args *a);
static int cmd_job_list(struct cli *cli, struct cli_args *a);
static int cmd_job_cancel(struct cli *cli, struct cli_args *a);
static int cmd_job_retry(struct cli *cli, struct cli_args *a);
static int cmd_queue_list(struct cli *cli, struct cli_args *a);
static int cmd_queue_get(struct cli *cli, struct cli_args *a);
static int cmd_queue_pause(struct cli *cli, struct cli_args *a);
static int cmd_queue_resume(struct cli *cli, struct cli_args *a);
static int cmd_queue_set(struct cli *cli, struct cli_args *a);
static int cmd_dead_list(struct cli *cli, struct cli_args *a);
static int cmd_dead_replay(struct cli *cli, struct cli_args *a);
static int cmd_dead_purge(struct cli *cli, struct cli_args *a);

static const struct cmd cmds[] = {
    {"health", NULL, "health", "Checks that the server is alive (GET /healthz).", 0, 0, 0, false,
     cmd_health},
    {"enqueue", NULL,
     "enqueue QUEUE TYPE [PAYLOAD|@FILE|-] [--priority P] [--delay-ms N] [--max-attempts N] "
     "[--idempotency-key K] [--depends-on ID[,ID...]] [--group G] [--wait]",
     "Enqueues one job. PAYLOAD is JSON text, @FILE reads it from a file, '-' from stdin;\n"
     "without one the payload is null.\n"
     "  --priority P          critical, high, normal (default) or low\n"
     "  --delay-ms N          run no earlier than N ms from now\n"
     "  --max-attempts N      tries before the job goes dead (server default 4)\n"
     "  --idempotency-key K   a repeat with the same key returns the original job\n"
     "  --depends-on IDS      comma-separated parent job ids: the job stays pending until\n"
     "                        every parent completed (cancelled if one fails)\n"
     "  --group G             the job's group: the queue's group limits and fair turns\n"
     "  --wait                wait until the job finishes; exit 0 when it completed,\n"
     "                        1 when it ended dead or cancelled",
     OPT(O_PRIORITY) | OPT(O_DELAY) | OPT(O_IDEM) | OPT(O_WAIT) | OPT(O_MAX_ATTEMPTS) |
         OPT(O_DEPENDS_ON) | OPT(O_GROUP),
     2, 3, false, cmd_enqueue},
    {"job", "get", "job get ID", "Shows one job.", 0, 1, 1, false, cmd_job_get},
    {"job", "list", "job list [--queue Q] [--state S] [--type T] [--limit N] [--after CURSOR]",
     "Lists jobs, ascending by id, one page at a time (the next page's cursor is printed).",
     OPT(O_QUEUE) | OPT(O_STATE) | OPT(O_TYPE) | OPT(O_LIMIT) | OPT(O_AFTER), 0, 0, false,
     cmd_job_list},
    {"job", "cancel", "job cancel ID",
     "Cancels a job; a running job is asked to stop and is cancelled when it settles.", 0, 1, 1,
     false, cmd_job_cancel},
    {"job", "retry", "job retry ID", "Runs a dead or cancelled job again.", 0, 1, 1, false,
     cmd_job_retry},
    {"queue", "list", "queue list [--limit N] [--after CURSOR]",
     "Lists queues with their job counts.", OPT(O_LIMIT) | OPT(O_AFTER), 0, 0, false,
     cmd_queue_list},
    {"queue", "get", "queue get QUEUE", "Shows one queue and its job counts.", 0, 1, 1, false,
     cmd_queue_get},
    {"queue", "pause", "queue pause QUEUE",
     "Pauses a queue: claims get nothing, enqueues still succeed.", 0, 1, 1, false,
     cmd_queue_pause},
    {"queue", "resume", "queue resume QUEUE", "Resumes a paused queue.", 0, 1, 1, false,
     cmd_queue_resume},
    {"queue", "set",
     "queue set QUEUE [--concurrency N] [--rate MAX/PER_MS] [--max-depth N] "
     "[--group-concurrency N] [--group-rate MAX/PER_MS] [--max-attempts N] [--lease-ms N] "
     "[--backoff JSON]",
     "Changes queue limits and job defaults (PATCH /v1/queues/QUEUE); 'none' removes one.\n"
     "  --concurrency N        at most N running jobs across all workers\n"
     "  --rate MAX/PER_MS      at most MAX starts in any PER_MS ms (e.g. 5/1000)\n"
     "  --max-depth N          refuse enqueues (503 queue_full) beyond N unfinished jobs\n"
     "  --group-concurrency N  at most N running jobs per group (1 = one at a time)\n"
     "  --group-rate MAX/PER_MS  at most MAX starts per group in any PER_MS ms\n"
     "  --max-attempts N, --lease-ms N, --backoff JSON\n"
     "                         defaults for jobs enqueued without them\n"
     "  baton queue set drafts --group-concurrency 1 --rate 100/1000",
     OPT(O_CONCURRENCY) | OPT(O_RATE) | OPT(O_MAX_DEPTH) | OPT(O_GROUP_CONCURRENCY) |
         OPT(O_GROUP_RATE) | OPT(O_MAX_ATTEMPTS) | OPT(O_LEASE) | OPT(O_BACKOFF),
     1, 1, false, cmd_queue_set},
    {"dead", "list", "dead list QUEUE [--limit N] [--after CURSOR]",
     "Lists the dead jobs of a queue.", OPT(O_LIMIT) | OPT(O_AFTER), 1, 1, false, cmd_dead_list},
    {"dead", "replay", "dead replay QUEUE (--all | ID...)",
     "Queues dead jobs again with a fresh attempt budget: the given ids, or all of them.",
     OPT(O_ALL), 1, CLI_POS_MAX, false, cmd_dead_replay},
    {"dead", "purge", "dead purge QUEUE", "Deletes the dead jobs of a queue.", 0, 1, 1, false,
     cmd_dead_purge},
    {"keys", "create",
     "keys create NAME [--tenant T] [--scopes S,S...] [--expires-at TIME] [--rate-max N "
     "--rate-per-ms MS]",
     "Creates an API key and prints its secret. The secret is shown only this once.\n"
     "--scopes is required by the server (at least one scope).\n"
     "  --tenant T            the key's tenant (default: your own; another one needs admin,\n"
     "                        and is created when it does not exist)\n"
     "  --scopes S,S...       jobs:write, jobs:read, work, cron:read, cron:write, cron:run,\n"
     "                        admin, metrics (comma-separated; metrics: GET /metrics,\n"
     "                        tenant default only)\n"
     "  --expires-at TIME     RFC 3339 instant after which the key stops working\n"
     "  --rate-max N --rate-per-ms MS   at most N requests per MS milliseconds",
     OPT(O_TENANT) | OPT(O_SCOPES) | OPT(O_EXPIRES) | OPT(O_RATE_MAX) | OPT(O_RATE_PER), 1, 1,
     false, cmd_keys_create},
    {"keys", "list", "keys list [--tenant T|*] [--limit N] [--after CURSOR]",
     "Lists API keys (never their secrets): your tenant's, another's (--tenant T), or\n"
     "every tenant's (--tenant '*'); other tenants need admin on tenant default.",
     OPT(O_TENANT) | OPT(O_LIMIT) | OPT(O_AFTER), 0, 0, false, cmd_keys_list},
    {"keys", "revoke", "keys revoke ID",
     "Revokes an API key; it stops working on the next request.", 0, 1, 1, false, cmd_keys_revoke},
    {"keys", "rotate", "keys rotate ID [--grace-ms MS]",
     "Gives a key a new secret (printed once); the old secret keeps working for MS ms\n"
     "(--grace-ms; default 0: it stops at once).",
     OPT(O_GRACE), 1, 1, false, cmd_keys_rotate},
    {"audit", NULL, "audit [--action A] [--key-id K] [--tenant T] [--limit N] [--after CURSOR]",
     "Lists audit log entries (needs admin): who changed keys, queue settings, dead letters.",
     OPT(O_ACTION) | OPT(O_KEY_ID) | OPT(O_TENANT) | OPT(O_LIMIT) | OPT(O_AFTER), 0, 0, false,
     cmd_audit},
    {"cron", "list", "cron list [--limit N] [--after KEY]",
     "Lists cron schedules with their next fire time in the schedule's zone and in UTC.",
     OPT(O_LIMIT) | OPT(O_AFTER), 0, 0, false, cmd_cron_list},
    {"cron", "get", "cron get KEY",
     "Shows one schedule: definition, policies, next fire time (zone and UTC), last run.", 0, 1, 1,
     false, cmd_cron_get},
    {"cron", "put",
     "cron put KEY [DEFINITION|@FILE|-] [--cron EXPR] [--timezone Z] [--queue Q] [--type T]",
     "Creates or updates a schedule (PUT /v1/cron/KEY). DEFINITION is the schedule's JSON\n"
     "(docs/cron.md); the options set or override its cron, timezone, job.queue, job.type.\n"
     "  baton cron put nightly --cron '0 3 * * *' --timezone Europe/Berlin --queue etl "
     "--type rebuild",
     OPT(O_CRON) | OPT(O_TZ) | OPT(O_QUEUE) | OPT(O_TYPE), 1, 2, false, cmd_cron_put},
    {"cron", "delete", "cron delete KEY", "Deletes a schedule and its run history.", 0, 1, 1, false,
     cmd_cron_delete},
    {"cron", "pause", "cron pause KEY [--note TEXT]",
     "Pauses a schedule; ticks that fall while it is paused are not made up on resume.",
     OPT(O_NOTE), 1, 1, false, cmd_cron_pause},
    {"cron", "resume", "cron resume KEY", "Resumes a paused schedule (never in a burst).", 0, 1, 1,
     false, cmd_cron_resume},
    {"cron", "run", "cron run KEY [--force]",
     "Runs a schedule now (needs scope cron:run). Refused with already_running (exit 1) while\n"
     "a run is going under overlap skip, unless --force; too many manual runs in an hour\n"
     "exit 5 (cron_run_cooldown).",
     OPT(O_FORCE), 1, 1, false, cmd_cron_run},
    {"cron", "runs", "cron runs KEY [--limit N] [--after RUN_ID]",
     "Lists a schedule's run history, newest first.", OPT(O_LIMIT) | OPT(O_AFTER), 1, 1, false,
     cmd_cron_runs},
    {"cron", "preview",
     "cron preview EXPR [--timezone Z] [--count N] [--from RFC3339] [--dst-gap shift|skip] "
     "[--dst-fold first|last|both]",
     "Validates an expression and lists its next fire times (default 5) in the zone and in\n"
     "UTC, without saving anything. Exits 1 when the expression is invalid.",
     OPT(O_TZ) | OPT(O_NFIRES) | OPT(O_FROM) | OPT(O_DST_GAP) | OPT(O_DST_FOLD), 1, 1, false,
     cmd_cron_preview},
    {"cron", "apply", "cron apply -f FILE [--prune]",
     "Applies a registry file {\"schedules\": [...], \"prune\": bool} in one transaction\n"
     "(PUT /v1/cron): creates and updates schedules; with --prune (or \"prune\": true in the\n"
     "file) also deletes the schedules the file does not name. FILE '-' reads stdin.",
     OPT(O_FILE) | OPT(O_PRUNE), 0, 0, false, cmd_cron_apply},
    {"timer", "put",
     "timer put KEY --queue Q --type T [--payload JSON|@FILE|-] (--fire-at RFC3339 | "
     "--delay-ms N) [--if-version N] [--priority P] [--max-attempts N]",
     "Creates a timer (version 1) or moves it to a new version (PUT /v1/timers/KEY). When it\n"
     "fires, a job of type T with the payload is enqueued on queue Q.\n"
     "  --fire-at T           fire at this RFC 3339 instant (a past one fires at once)\n"
     "  --delay-ms N          fire N ms from now\n"
     "  --if-version N        compare-and-set: only when the timer is at version N (0: only\n"
     "                        create); otherwise refused with version_mismatch (exit 1)",
     OPT(O_QUEUE) | OPT(O_TYPE) | OPT(O_PAYLOAD) | OPT(O_FIRE_AT) | OPT(O_DELAY) |
         OPT(O_IF_VERSION) | OPT(O_PRIORITY) | OPT(O_MAX_ATTEMPTS),
     1, 1, false, cmd_timer_put},
    {"timer", "get", "timer get KEY", "Shows a timer: version, state, fire time, last job.", 0, 1,
     1, false, cmd_timer_get},
    {"timer", "list", "timer list [--prefix P] [--limit N] [--after KEY]",
     "Lists timers in key order (every state), optionally those whose key starts with P.",
     OPT(O_PREFIX) | OPT(O_LIMIT) | OPT(O_AFTER), 0, 0, false, cmd_timer_list},
    {"timer", "cancel", "timer cancel KEY [--if-version N]",
     "Cancels the scheduled version of a timer; it never fires. Refused (exit 1) when the\n"
     "current version already fired (invalid_state) or is not N (version_mismatch).",
     OPT(O_IF_VERSION), 1, 1, false, cmd_timer_cancel},
    {"flow", "create", "flow create -f FILE|-",
     "Creates a flow (POST /v1/flows): FILE is {\"jobs\": [{\"ref\", \"queue\", \"type\",\n"
     "\"depends_on\": [refs or job ids], ...}]}; the whole DAG is inserted atomically.",
     OPT(O_FILE), 0, 0, false, cmd_flow_create},
    {"flow", "get", "flow get ID",
     "Shows a flow: its state (running, completed, failed) and every job's ref, id and state.", 0,
     1, 1, false, cmd_flow_get},
    {"work", NULL,
     "work --queue Q [--concurrency N] [--lease-ms M] [--timeout-ms T] [--grace-ms G] "
     "[--poll-ms P] [--worker ID] -- CMD [ARGS...]",
     "Runs CMD once per job claimed from queue Q, up to N (default 1) at a time.\n"
     "CMD gets the job's payload (JSON) on stdin and BATON_JOB_ID, BATON_JOB_TYPE,\n"
     "BATON_JOB_ATTEMPT and BATON_JOB_QUEUE in its environment, in its own process group.\n"
     "  exit 0                the job completes; stdout is the result (JSON when it parses,\n"
     "                        otherwise a JSON string; at most 256 KiB)\n"
     "  exit 75 (EX_TEMPFAIL) the job fails, retryable (the queue's backoff applies)\n"
     "  exit 64-78 but 75     the job fails, not retryable: it goes dead (sysexits usage,\n"
     "                        data, config... errors do not heal by retrying)\n"
     "  any other exit/signal the job fails, retryable\n"
     "  A failure's error is \"exit status N: \" plus the last 4 KiB of stderr.\n"
     "  --lease-ms M          lease asked for on claim (default: each job's); a heartbeat\n"
     "                        every M/3 ms keeps it while CMD runs\n"
     "  --timeout-ms T        kill CMD's process group after T ms; the job fails retryable\n"
     "                        with \"timeout after T ms\" (default: no timeout)\n"
     "  --grace-ms G          on SIGTERM/SIGINT stop claiming and give running commands G ms\n"
     "                        (default 20000) to finish, then kill them and fail their jobs\n"
     "                        retryable; a second signal ends the grace period at once\n"
     "  --poll-ms P           long-poll wait of each claim (default 5000)\n"
     "  --worker ID           worker id (default HOST-PID)\n"
     "A cancel request seen on a heartbeat kills CMD's process group and settles the job.\n"
     "Exits 0 after a signal and a drain, 4 when the key is refused, 1 when the server\n"
     "refuses the claim itself (for example --lease-ms out of range).",
     OPT(O_QUEUE) | OPT(O_CONCURRENCY) | OPT(O_LEASE) | OPT(O_TIMEOUT) | OPT(O_GRACE) |
         OPT(O_POLL) | OPT(O_WORKER),
     0, 0, true, cmd_work},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f, const char *prog)
{
        size_t i;

        fprintf(f,
                "usage: %s [--url URL] [--key-file FILE] [--ca-file FILE] [--json] <command> "
                "[arguments]\n\n"
                "Operates a batond server.\n"
                "  --url URL        server address ($BATON_URL, default %s)\n"
                "  --key-file FILE  read the API key from FILE; otherwise $BATON_KEY, otherwise\n"
                "                   $BATON_DATA/%s or %s/%s (written by batond on first start)\n"
                "  --ca-file FILE   for an https:// URL, trust the certificates in FILE (PEM;\n"
                "                   a self-signed server certificate is its own) instead of\n"
                "                   the system's ($BATON_CA_FILE)\n"
                "  --json           print the server's JSON instead of text\n\n"
                "commands:\n",
                prog, DEFAULT_URL, KEY_FILE_NAME, DEFAULT_DATA_DIR, KEY_FILE_NAME);
        for (i = 0; i < N_CMDS; i++)
                fprintf(f, "  %s\n", cmds[i].usage);
        fprintf(f,
                "\nRun '%s <command> --help' for details.\n\n"
                "Exit codes:\n"
                "  0  ok\n"
                "  1  refused by the server (4xx), or the job waited for did not complete\n"
                "  2  usage error\n"
                "  3  server unreachable or failing (5xx)\n"
                "  4  authentication: no valid key (401) or a missing scope (403)\n"
                "  5  rate limited (429); retry after the time printed\n",
                prog);
}

static void cmd_usage(FILE *f, const char *prog, const struct cmd *c)
{
        fprintf(f, "usage: %s [--url URL] [--json] %s\n\n%s\n", prog, c->usage, c->help);
}

static void group_usage(FILE *f, const char *prog, const char *group)
{
        size_t i;

        fprintf(f, "usage: %s [--url URL] [--json] %s <subcommand>\n\nsubcommands:\n", prog, group);
        for (i = 0; i < N_CMDS; i++)
                if (cmds[i].name && strcmp(cmds[i].group, group) == 0)
                        fprintf(f, "  %s\n      %s\n", cmds[i].usage, cmds[i].help);
}

int cli_usage_error(const char *prog, const char *usage_line, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: ", prog);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
        if (usage_line)
                fprintf(stderr, "usage: %s %s\n", prog, usage_line);
        else
                fprintf(stderr, "run '%s --help' for the commands\n", prog);
        return EXIT_USAGE;
}

/* ---- HTTP ---- */

int cli_exit_for(int rc, int http_status)
{
        if (rc == 0 && http_status >= 200 && http_status < 300)
                return EXIT_OK_;
        if (rc == BATON_EHTTP || http_status >= 500)
                return EXIT_UNREACHABLE;
        if (rc == BATON_EAUTH || rc == BATON_EFORBIDDEN || http_status == 401 || http_status == 403)
                return EXIT_AUTH;
        if (rc == BATON_ERATE || http_status == 429)
                return EXIT_RATE;
        return EXIT_REFUSED;
}

int cli_call(struct cli *cli, const char *method, const char *path, const char *body,
             bool print_json, json_t **root)
{
        const struct baton_error *e;
        char *resp = NULL;
        int status = 0, rc, ret = EXIT_OK_;

        if (root)
                *root = NULL;
        rc = baton_request(cli->client, method, path, body, &status, &resp);
        e = baton_client_last_error(cli->client);
        if (rc == BATON_EHTTP) {
                fprintf(stderr, "%s: cannot reach server at %s: %s\n", cli->prog, cli->url,
                        e->message);
                ret = EXIT_UNREACHABLE;
                goto out;
        }
        if (rc) {
                fprintf(stderr, "%s: %s\n", cli->prog, baton_strerror(rc));
                ret = EXIT_REFUSED;
                goto out;
        }
        if (status < 200 || status >= 300) {
                fprintf(stderr, "%s: %s (%s%s%s, HTTP %d)\n", cli->prog,
                        e->message[0] ? e->message : "request refused",
                        e->code[0] ? e->code : "error", e->field[0] ? ", field " : "", e->field,
                        status);
                if (status == 401)
                        fprintf(stderr,
                                "%s: %s; set BATON_KEY or run beside batond's data directory "
                                "(BATON_DATA)\n",
                                cli->prog,
                                cli->key ? "the API key was not accepted" : "no API key was found");
                if (e->retry_after_s >= 0 && (status == 429 || status >= 500))
                        fprintf(stderr, "%s: retry after %lld s\n", cli->prog,
                                (long long)e->retry_after_s);
                ret = cli_exit_for(baton_err_from_api(status, e->code), status);
                goto out;
        }
        if (root) {
                *root = json_loads(resp, 0, NULL);
                if (!json_is_object(*root)) {
                        fprintf(stderr, "%s: unexpected answer from server: %s\n", cli->prog, resp);
                        json_decref(*root);
                        *root = NULL;
                        ret = EXIT_REFUSED;
                        goto out;
                }
        }
        if (cli->json && print_json) {
                size_t n = strlen(resp);

                fwrite(resp, 1, n, stdout);
                if (n == 0 || resp[n - 1] != '\n')
                        fputc('\n', stdout);
        }
out:
        free(resp);
        return ret;
}

/* Appends s percent-encoded to path (capacity cap). Returns -1 on overflow. */
static int path_add(char *path, size_t cap, const char *s, bool escape)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t len = strlen(path);

        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                bool plain = !escape || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                             (ch >= '0' && ch <= '9') || strchr("-._~:", ch);

                if (len + 4 >= cap)
                        return -1;
                if (plain) {
                        path[len++] = (char)ch;
                } else {
                        path[len++] = '%';
                        path[len++] = hex[ch >> 4];
                        path[len++] = hex[ch & 15];
                }
        }
        path[len] = '\0';
        return 0;
}

int cli_make_path(char *path, size_t cap, const char *prefix, const char *seg, const char *suffix)
{
        path[0] = '\0';
        if (path_add(path, cap, prefix, false) || (seg && path_add(path, cap, seg, true)) ||
            (suffix && path_add(path, cap, suffix, false)))
                return -1;
        return 0;
}

int cli_add_query(char *path, size_t cap, const char *k, const char *v)
{
        if (!v)
                return 0;
        if (path_add(path, cap, strchr(path, '?') ? "&" : "?", false) ||
            path_add(path, cap, k, false) || path_add(path, cap, "=", false) ||
            path_add(path, cap, v, true))
                return -1;
        return 0;
}

int cli_parse_count(const char *s, long long *out)
{
        char *end;

        errno = 0;
        *out = strtoll(s, &end, 10);
        if (errno || end == s || *end || *out < 0)
                return -1;
        return 0;
}

int cli_opt_count(struct cli *cli, struct cli_args *a, enum cli_opt o, const char *name,
                  long long min, long long max, long long *out)
{
        long long v;

        if (!a->opt[o])
                return EXIT_OK_;
        if (cli_parse_count(a->opt[o], &v) != 0 || v < min || v > max)
                return cli_usage_error(cli->prog, a->usage,
                                       "%s needs an integer in %lld...%lld, not '%s'", name, min,
                                       max, a->opt[o]);
        *out = v;
        return EXIT_OK_;
}

/* ---- commands ---- */

static int cmd_health(struct cli *cli, struct cli_args *a)
{
        json_t *root = NULL;
        int rc;

        (void)a;
        rc = cli_call(cli, "GET", "/healthz", NULL, true, &root);
        if (rc == EXIT_OK_ && !cli->json) {
                const char *st = json_string_value(json_object_get(root, "status"));

                printf("%s\n", st ? st : "ok");
        }
        json_decref(root);
        return rc;
}

/* Reads all of f (named what in messages), up to STDIN_MAX_BYTES. Returns NULL
 * on error (message printed). The caller frees the text. */
static char *read_all(FILE *f, const char *what, const char *prog)
{
        size_t len = 0, cap = 4096, n;
        char *buf = malloc(cap);

        while (buf) {
                if (cap - len < 2) {
                        char *p;

                        if (cap >= STDIN_MAX_BYTES) {
                                fprintf(stderr, "%s: payload in %s is over %u bytes\n", prog, what,
                                        STDIN_MAX_BYTES);
                                free(buf);
                                return NULL;
                        }
                        p = realloc(buf, cap * 2);
                        if (!p)
                                break;
                        buf = p;
                        cap *= 2;
                }
                n = fread(buf + len, 1, cap - len - 1, f);
                if (n == 0)
                        break;
                len += n;
        }
        if (!buf) {
                fprintf(stderr, "%s: out of memory\n", prog);
                return NULL;
        }
        if (ferror(f)) {
                fprintf(stderr, "%s: reading %s: %s\n", prog, what, strerror(errno));
                free(buf);
                return NULL;
        }
        buf[len] = '\0';
        return buf;
}

/* Reads the payload argument: JSON text, "-" for stdin or "@FILE". Returns the
 * text to parse (in *text when it was read; the caller frees it) or NULL after
 * printing why. */
static const char *payload_source(const char *arg, char **text, const char *prog)
{
        FILE *f;

        *text = NULL;
        if (strcmp(arg, "-") == 0) {
                *text = read_all(stdin, "stdin", prog);
                return *text;
        }
        if (arg[0] != '@')
                return arg;
        f = fopen(arg + 1, "rb");
        if (!f) {
                fprintf(stderr, "%s: cannot open payload file %s: %s\n", prog, arg + 1,
                        strerror(errno));
                return NULL;
        }
        *text = read_all(f, arg + 1, prog);
        fclose(f);
        return *text;
}

/* Prints the outcome of a job that reached a terminal state and returns the
 * exit code: 0 for completed, 1 otherwise. */
static int report_final(struct cli *cli, const json_t *job)
{
        const char *state = json_string_value(json_object_get(job, "state"));
        const char *id = json_string_value(json_object_get(job, "id"));

        if (state && strcmp(state, "completed") == 0) {
                if (!cli->json) {
                        char *res = json_dumps(json_object_get(job, "result"),
                                               JSON_COMPACT | JSON_ENCODE_ANY);

                        printf("job %s completed: %s\n", id ? id : "?", res ? res : "null");
                        free(res);
                }
                return EXIT_OK_;
        }
        if (!cli->json)
                print_job(job);
        {
                const char *err = json_string_value(json_object_get(job, "last_error"));
                const char *why = json_string_value(json_object_get(job, "cancel_reason"));

                fprintf(stderr, "%s: job %s ended %s%s%s\n", cli->prog, id ? id : "?",
                        state ? state : "?", err ? ": " : (why ? ": " : ""),
                        err ? err : (why ? why : ""));
        }
        return EXIT_REFUSED;
}

/* Sets req.depends_on to the ids of the comma-separated list ids (empty items
 * are skipped); -1 when memory runs out or an id is not UTF-8. */
static int set_depends_on(json_t *req, const char *ids)
{
        json_t *arr = json_array();
        const char *p = ids;

        if (!arr)
                return -1;
        while (*p) {
                size_t n = strcspn(p, ",");

                if (n > 0 && json_array_append_new(arr, json_stringn(p, n)) != 0) {
                        json_decref(arr);
                        return -1;
                }
                p += n;
                if (*p == ',')
                        p++;
        }
        return json_object_set_new(req, "depends_on", arr);
}

static int cmd_enqueue(struct cli *cli, struct cli_args *a)
{
        json_t *req = NULL, *payload = NULL, *root = NULL, *job;
        json_error_t jerr;
        char *text = NULL, *body = NULL, path[512];
        const char *id;
        long long delay = 0, max_attempts = 0;
        int rc = EXIT_USAGE, rounds;

        if (a->n_pos == 3) {
                const char *src = payload_source(a->pos[2], &text, cli->prog);

                if (!src)
                        goto out;
                payload = json_loads(src, JSON_DECODE_ANY, &jerr);
                if (!payload) {
                        fprintf(stderr, "%s: payload is not valid JSON: %s\n", cli->prog,
                                jerr.text);
                        goto out;
                }
        }
        if (a->opt[O_DELAY] && cli_parse_count(a->opt[O_DELAY], &delay) != 0) {
                fprintf(stderr, "%s: --delay-ms needs a non-negative integer, not '%s'\n",
                        cli->prog, a->opt[O_DELAY]);
                goto out;
        }
        if (a->opt[O_MAX_ATTEMPTS] && cli_parse_count(a->opt[O_MAX_ATTEMPTS], &max_attempts) != 0) {
                fprintf(stderr, "%s: --max-attempts needs a non-negative integer, not '%s'\n",
                        cli->prog, a->opt[O_MAX_ATTEMPTS]);
                goto out;
        }
        rc = EXIT_REFUSED;
        req = json_object();
        if (!req || json_object_set_new(req, "queue", json_string(a->pos[0])) ||
            json_object_set_new(req, "type", json_string(a->pos[1])) ||
            (payload && json_object_set(req, "payload", payload)) ||
            (a->opt[O_PRIORITY] &&
             json_object_set_new(req, "priority", json_string(a->opt[O_PRIORITY]))) ||
            (a->opt[O_DELAY] && json_object_set_new(req, "delay_ms", json_integer(delay))) ||
            (a->opt[O_MAX_ATTEMPTS] &&
             json_object_set_new(req, "max_attempts", json_integer(max_attempts))) ||
            (a->opt[O_IDEM] &&
             json_object_set_new(req, "idempotency_key", json_string(a->opt[O_IDEM]))) ||
            (a->opt[O_DEPENDS_ON] && set_depends_on(req, a->opt[O_DEPENDS_ON]) != 0) ||
            (a->opt[O_GROUP] && json_object_set_new(req, "group", json_string(a->opt[O_GROUP])))) {
                /* json_string refuses text that is not UTF-8. */
                fprintf(stderr, "%s: arguments must be UTF-8 text\n", cli->prog);
                rc = EXIT_USAGE;
                goto out;
        }
        body = json_dumps(req, JSON_COMPACT);
        if (!body)
                goto out;
        rc = cli_call(cli, "POST", "/v1/jobs", body, !a->opt[O_WAIT], &root);
        if (rc != EXIT_OK_)
                goto out;
        job = json_object_get(root, "job");
        id = json_string_value(json_object_get(job, "id"));
        if (!id) {
                fprintf(stderr, "%s: answer holds no job\n", cli->prog);
                rc = EXIT_REFUSED;
                goto out;
        }
        if (!cli->json)
                printf("%s job %s (queue %s, type %s, state %s)\n",
                       json_is_true(json_object_get(root, "duplicate")) ? "duplicate of"
                                                                        : "enqueued",
                       id, a->pos[0], a->pos[1],
                       json_string_value(json_object_get(job, "state")) ?: "?");
        if (!a->opt[O_WAIT])
                goto out;
        /* The id must reach a pipe or file now, not when the job ends. */
        fflush(stdout);
        if (cli_make_path(path, sizeof(path), "/v1/jobs/", id, "?wait_ms=30000")) {
                rc = EXIT_USAGE;
                goto out;
        }
        /* Bounded only by the job itself, as the user asked to wait for it; each
         * round is one long poll, so the loop is not busy. */
        for (rounds = 0; rounds < INT_MAX; rounds++) {
                const char *state;

                json_decref(root);
                root = NULL;
                rc = cli_call(cli, "GET", path, NULL, false, &root);
                if (rc != EXIT_OK_)
                        goto out;
                job = json_object_get(root, "job");
                state = json_string_value(json_object_get(job, "state"));
                if (state && (strcmp(state, "completed") == 0 || strcmp(state, "dead") == 0 ||
                              strcmp(state, "cancelled") == 0)) {
                        if (cli->json) {
                                char *out_text = json_dumps(root, JSON_COMPACT);

                                printf("%s\n", out_text ? out_text : "{}");
                                free(out_text);
                        }
                        rc = report_final(cli, job);
                        goto out;
                }
        }
out:
        json_decref(root);
        json_decref(req);
        json_decref(payload);
        free(text);
        free(body);
        return rc;
}

/* GET or another method on /v1/jobs/{id}[suffix], printing the job. */
static int job_call(struct cli *cli, const char *method, const char *id, const char *suffix,
                    const char *body, const char *verb)
{
        json_t *root = NULL, *job;
        char path[512];
        int rc;

        if (cli_make_path(path, sizeof(path), "/v1/jobs/", id, suffix))
                return cli_usage_error(cli->prog, NULL, "job id too long: %s", id);
        rc = cli_call(cli, method, path, body, true, &root);
        if (rc != EXIT_OK_ || cli->json)
                goto out;
        job = json_object_get(root, "job");
        if (verb) {
                const char *state = json_string_value(json_object_get(job, "state"));

                if (json_is_true(json_object_get(job, "cancel_requested")) && state &&
                    strcmp(state, "running") == 0)
                        printf("job %s: cancel requested (it is running; its worker is told on "
                               "its next heartbeat)\n",
                               id);
                else
                        printf("job %s %s (state %s)\n", id, verb, state ? state : "?");
        } else {
                print_job(job);
        }
out:
        json_decref(root);
        return rc;
}

static int cmd_job_get(struct cli *cli, struct cli_args *a)
{
        return job_call(cli, "GET", a->pos[0], NULL, NULL, NULL);
}

static int cmd_job_cancel(struct cli *cli, struct cli_args *a)
{
        return job_call(cli, "DELETE", a->pos[0], NULL, NULL, "cancelled");
}

static int cmd_job_retry(struct cli *cli, struct cli_args *a)
{
        return job_call(cli, "POST", a->pos[0], "/retry", "{}", "retried");
}

/* Prints a page of jobs (member "jobs") and its cursor. */
static int list_jobs(struct cli *cli, const char *path)
{
        return cli_get_page(cli, path, "jobs", print_job_table);
}

int cli_get_page(struct cli *cli, const char *path, const char *member,
                 void (*print_table)(const json_t *))
{
        json_t *root = NULL;
        int rc = cli_call(cli, "GET", path, NULL, true, &root);

        if (rc == EXIT_OK_ && !cli->json) {
                print_table(json_object_get(root, member));
                print_next(root);
        }
        json_decref(root);
        return rc;
}

static int check_limit(struct cli *cli, struct cli_args *a)
{
        long long v;

        if (a->opt[O_LIMIT] && cli_parse_count(a->opt[O_LIMIT], &v) != 0)
                return cli_usage_error(cli->prog, NULL,
                                       "--limit needs a non-negative integer, not '%s'",
                                       a->opt[O_LIMIT]);
        return EXIT_OK_;
}

static int cmd_job_list(struct cli *cli, struct cli_args *a)
{
        char path[2048] = "/v1/jobs";

        if (check_limit(cli, a))
                return EXIT_USAGE;
        if (cli_add_query(path, sizeof(path), "queue", a->opt[O_QUEUE]) ||
            cli_add_query(path, sizeof(path), "state", a->opt[O_STATE]) ||
            cli_add_query(path, sizeof(path), "type", a->opt[O_TYPE]) ||
            cli_add_query(path, sizeof(path), "limit", a->opt[O_LIMIT]) ||
            cli_add_query(path, sizeof(path), "after", a->opt[O_AFTER]))
                return cli_usage_error(cli->prog, NULL, "%s", "arguments too long");
        return list_jobs(cli, path);
}

static int cmd_queue_list(struct cli *cli, struct cli_args *a)
{
        char path[1024] = "/v1/queues";

        if (check_limit(cli, a))
                return EXIT_USAGE;
        if (cli_add_query(path, sizeof(path), "limit", a->opt[O_LIMIT]) ||
            cli_add_query(path, sizeof(path), "after", a->opt[O_AFTER]))
                return cli_usage_error(cli->prog, NULL, "%s", "arguments too long");
        return cli_get_page(cli, path, "queues", print_queue_table);
}

static int queue_call(struct cli *cli, const char *method, const char *name, const char *body,
                      const char *verb)
{
        json_t *root = NULL;
        char path[512];
        int rc;

        if (cli_make_path(path, sizeof(path), "/v1/queues/", name, NULL))
                return cli_usage_error(cli->prog, NULL, "queue name too long: %s", name);
        rc = cli_call(cli, method, path, body, true, &root);
        if (rc == EXIT_OK_ && !cli->json) {
                if (verb)
                        printf("queue %s %s\n", name, verb);
                else
                        print_queue(json_object_get(root, "queue"));
        }
        json_decref(root);
        return rc;
}

static int cmd_queue_get(struct cli *cli, struct cli_args *a)
{
        return queue_call(cli, "GET", a->pos[0], NULL, NULL);
}

static int cmd_queue_pause(struct cli *cli, struct cli_args *a)
{
        return queue_call(cli, "PATCH", a->pos[0], "{\"paused\":true}", "paused");
}

static int cmd_queue_resume(struct cli *cli, struct cli_args *a)
{
        return queue_call(cli, "PATCH", a->pos[0], "{\"paused\":false}", "resumed");
}

/* One setting of `queue set` into body: "none" is null, a count an integer,
 * a rate "MAX/PER_MS" an object. Returns 0, or -1 after a usage message. */
static int set_one(struct cli *cli, json_t *body, const char *name, const char *flag, const char *v,
                   bool rate)
{
        long long x = 0, per = 0;
        const char *slash = strchr(v, '/');
        char head[32];

        if (strcmp(v, "none") == 0)
                return json_object_set_new(body, name, json_null());
        if (!rate && cli_parse_count(v, &x) == 0)
                return json_object_set_new(body, name, json_integer(x));
        if (rate && slash && (size_t)(slash - v) < sizeof(head)) {
                snprintf(head, sizeof(head), "%.*s", (int)(slash - v), v);
                if (cli_parse_count(head, &x) == 0 && cli_parse_count(slash + 1, &per) == 0) {
                        json_t *o = json_object();
                        json_object_set_new(o, "max", json_integer(x));
                        json_object_set_new(o, "per_ms", json_integer(per));
                        return json_object_set_new(body, name, o);
                }
        }
        cli_usage_error(cli->prog, NULL, "%s needs %s or 'none', not '%s'", flag,
                        rate ? "MAX/PER_MS" : "a non-negative integer", v);
        return -1;
}

static int cmd_queue_set(struct cli *cli, struct cli_args *a)
{
        static const struct {
                int opt;
                const char *name, *flag;
                bool rate;
        } map[] = {{O_CONCURRENCY, "concurrency", "--concurrency", false},
                   {O_RATE, "rate", "--rate", true},
                   {O_MAX_DEPTH, "max_depth", "--max-depth", false},
                   {O_GROUP_CONCURRENCY, "group_concurrency", "--group-concurrency", false},
                   {O_GROUP_RATE, "group_rate", "--group-rate", true},
                   {O_MAX_ATTEMPTS, "max_attempts", "--max-attempts", false},
                   {O_LEASE, "lease_ms", "--lease-ms", false}};
        json_t *body = json_object();
        char *text = NULL;
        int rc = EXIT_USAGE;

        for (size_t i = 0; body && i < sizeof(map) / sizeof(map[0]); i++)
                if (a->opt[map[i].opt] && set_one(cli, body, map[i].name, map[i].flag,
                                                  a->opt[map[i].opt], map[i].rate) != 0)
                        goto out;
        if (body && a->opt[O_BACKOFF]) {
                json_t *b = strcmp(a->opt[O_BACKOFF], "none") == 0
                                ? json_null()
                                : json_loads(a->opt[O_BACKOFF], 0, NULL);
                if (!b) {
                        cli_usage_error(cli->prog, NULL, "--backoff needs a JSON object or 'none'");
                        goto out;
                }
                json_object_set_new(body, "backoff", b);
        }
        if (!body || json_object_size(body) == 0) {
                cli_usage_error(cli->prog, NULL, "%s", "give at least one setting to change");
                goto out;
        }
        text = json_dumps(body, JSON_COMPACT);
        rc = text ? queue_call(cli, "PATCH", a->pos[0], text, NULL) : EXIT_REFUSED;
out:
        free(text);
        json_decref(body);
        return rc;
}

static int cmd_dead_list(struct cli *cli, struct cli_args *a)
{
        char path[2048];

        if (check_limit(cli, a))
                return EXIT_USAGE;
        if (cli_make_path(path, sizeof(path), "/v1/queues/", a->pos[0], "/dead") ||
            cli_add_query(path, sizeof(path), "limit", a->opt[O_LIMIT]) ||
            cli_add_query(path, sizeof(path), "after", a->opt[O_AFTER]))
                return cli_usage_error(cli->prog, NULL, "%s", "arguments too long");
        return list_jobs(cli, path);
}

/* POST or DELETE on the dead letters, printing the count member. */
static int dead_call(struct cli *cli, const char *method, const char *queue, const char *suffix,
                     const char *body, const char *member)
{
        json_t *root = NULL;
        char path[512];
        int rc;

        if (cli_make_path(path, sizeof(path), "/v1/queues/", queue, suffix))
                return cli_usage_error(cli->prog, NULL, "queue name too long: %s", queue);
        rc = cli_call(cli, method, path, body, true, &root);
        if (rc == EXIT_OK_ && !cli->json)
                printf("%s %lld\n", member,
                       (long long)json_integer_value(json_object_get(root, member)));
        json_decref(root);
        return rc;
}

static int cmd_dead_replay(struct cli *cli, struct cli_args *a)
{
        json_t *req = NULL, *ids;
        char *body = NULL;
        int i, rc = EXIT_REFUSED;

        if ((a->opt[O_ALL] != NULL) == (a->n_pos > 1))
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "give either --all or one or more job ids");
        req = json_object();
        ids = json_array();
        if (!req || !ids) {
                json_decref(ids);
                goto out;
        }
        if (a->opt[O_ALL]) {
                json_decref(ids);
                if (json_object_set_new(req, "all", json_true()))
                        goto out;
        } else {
                for (i = 1; i < a->n_pos; i++)
                        json_array_append_new(ids, json_string(a->pos[i]));
                if (json_object_set_new(req, "ids", ids))
                        goto out;
        }
        body = json_dumps(req, JSON_COMPACT);
        if (body)
                rc = dead_call(cli, "POST", a->pos[0], "/dead/replay", body, "replayed");
out:
        free(body);
        json_decref(req);
        return rc;
}

static int cmd_dead_purge(struct cli *cli, struct cli_args *a)
{
        return dead_call(cli, "DELETE", a->pos[0], "/dead", NULL, "purged");
}

const char *cli_read_source(const char *arg, char **text, const char *prog)
{
        return payload_source(arg, text, prog);
}

/* ---- command line ---- */

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
};

/* Splits "--name=value"; returns the length of the name part. */
static size_t opt_name_len(const char *arg)
{
        const char *eq = strchr(arg, '=');

        return eq ? (size_t)(eq - arg) : strlen(arg);
}

/* Global options that take a value: --url, --key-file and --ca-file. */
struct global {
        const char *url;
        const char *key_file;
        const char *ca_file;
};

/*
 * Handles a global option at argv[*i] (--url, --key-file, --ca-file, --json); returns 1
 * when it was one, 0 when not, or -1 on a usage error (message printed).
 */
static int global_opt(struct cli *cli, struct global *g, int argc, char **argv, int *i)
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
                        cli_usage_error(cli->prog, NULL, "%s needs a value", names[k]);
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

static bool is_help(const char *arg)
{
        return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Parses the arguments after the command words. Returns EXIT_OK_, EXIT_USAGE,
 * or -1 when --help was printed. */
static int parse_args(struct cli *cli, struct global *gl, const struct cmd *c, int argc,
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
                if (is_help(arg)) {
                        cmd_usage(stdout, cli->prog, c);
                        return -1;
                }
                g = global_opt(cli, gl, argc, argv, &i);
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
                        return cli_usage_error(cli->prog, c->usage, "unknown option %s", arg);
                if (!optdefs[k].takes_value) {
                        if (arg[n] == '=')
                                return cli_usage_error(cli->prog, c->usage, "%s takes no value",
                                                       optdefs[k].name);
                        a->opt[optdefs[k].opt] = "";
                } else if (arg[n] == '=') {
                        a->opt[optdefs[k].opt] = arg + n + 1;
                } else if (i + 1 < argc) {
                        a->opt[optdefs[k].opt] = argv[++i];
                } else {
                        return cli_usage_error(cli->prog, c->usage, "%s needs a value",
                                               optdefs[k].name);
                }
        }
        if (a->n_pos < c->min_pos)
                return cli_usage_error(cli->prog, c->usage, "%s", "missing arguments");
        if (a->n_pos > c->max_pos)
                return cli_usage_error(cli->prog, c->usage, "unexpected argument %s",
                                       a->pos[c->max_pos]);
        return EXIT_OK_;
}

/*
 * Reads an API key from path into *out (caller frees), trimming whitespace.
 * Returns 0 (with *out NULL when the file does not exist and missing_ok), or
 * EXIT_USAGE after printing why the file cannot be used.
 */
static int read_key_file(const char *prog, const char *path, bool missing_ok, char **out)
{
        char buf[KEY_FILE_MAX_BYTES + 1];
        size_t n, s = 0;
        FILE *f;

        *out = NULL;
        f = fopen(path, "r");
        if (!f) {
                if (errno == ENOENT && missing_ok)
                        return 0;
                fprintf(stderr, "%s: cannot read key file %s: %s\n", prog, path, strerror(errno));
                return EXIT_USAGE;
        }
        n = fread(buf, 1, KEY_FILE_MAX_BYTES, f);
        fclose(f);
        buf[n] = '\0';
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t'))
                buf[--n] = '\0';
        while (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\n' || buf[s] == '\r')
                s++;
        if (!buf[s]) {
                fprintf(stderr, "%s: key file %s is empty\n", prog, path);
                return EXIT_USAGE;
        }
        *out = strdup(buf + s);
        if (!*out) {
                fprintf(stderr, "%s: out of memory\n", prog);
                return EXIT_USAGE;
        }
        return 0;
}

/* Finds the API key: --key-file, $BATON_KEY, $BATON_DATA/admin.key, then
 * ./baton-data/admin.key. No key at all is not an error. */
static int find_key(struct cli *cli, const char *key_file)
{
        const char *env = getenv("BATON_KEY"), *data = getenv("BATON_DATA");
        char path[PATH_MAX];
        int rc;

        if (key_file) {
                cli->key_from = key_file;
                return read_key_file(cli->prog, key_file, false, &cli->key);
        }
        if (env && *env) {
                cli->key_from = "$BATON_KEY";
                cli->key = strdup(env);
                return cli->key ? 0 : EXIT_USAGE;
        }
        if (snprintf(path, sizeof(path), "%s/%s", data && *data ? data : DEFAULT_DATA_DIR,
                     KEY_FILE_NAME) >= (int)sizeof(path))
                return 0;
        rc = read_key_file(cli->prog, path, true, &cli->key);
        if (rc == 0 && cli->key)
                cli->key_from = "admin.key";
        return rc;
}

int main(int argc, char **argv)
{
        struct cli cli = {0};
        struct global gl = {0};
        struct cli_args a;
        const struct cmd *c = NULL;
        bool group_known = false;
        size_t k;
        int i, rc;

        cli.prog = "baton";
        memset(&a, 0, sizeof(a));

        /* Global options before the command. */
        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                int g;

                if (is_help(argv[i])) {
                        usage(stdout, cli.prog);
                        return EXIT_OK_;
                }
                g = global_opt(&cli, &gl, argc, argv, &i);
                if (g < 0)
                        return EXIT_USAGE;
                if (g == 0)
                        return cli_usage_error(cli.prog, NULL, "unknown option %s", argv[i]);
        }
        if (i >= argc) {
                usage(stderr, cli.prog);
                return EXIT_USAGE;
        }
        for (k = 0; k < N_CMDS; k++) {
                if (strcmp(cmds[k].group, argv[i]) != 0)
                        continue;
                group_known = true;
                if (!cmds[k].name) {
                        c = &cmds[k];
                        break;
                }
                if (i + 1 < argc && strcmp(cmds[k].name, argv[i + 1]) == 0) {
                        c = &cmds[k];
                        break;
                }
        }
        if (!c) {
                if (!group_known)
                        return cli_usage_error(cli.prog, NULL, "unknown command %s", argv[i]);
                if (i + 1 < argc && is_help(argv[i + 1])) {
                        group_usage(stdout, cli.prog, argv[i]);
                        return EXIT_OK_;
                }
                group_usage(stderr, cli.prog, argv[i]);
                if (i + 1 < argc)
                        fprintf(stderr, "%s: unknown subcommand %s %s\n", cli.prog, argv[i],
                                argv[i + 1]);
                return EXIT_USAGE;
        }
        a.usage = c->usage;
        rc = parse_args(&cli, &gl, c, argc, argv, i + (c->name ? 2 : 1), &a);
        if (rc < 0)
                return EXIT_OK_;
        if (rc != EXIT_OK_)
                return rc;
        if (gl.url) {
                cli.url = gl.url;
        } else {
                const char *env = getenv("BATON_URL");

                cli.url = env && *env ? env : DEFAULT_URL;
        }
        rc = find_key(&cli, gl.key_file);
        if (rc != EXIT_OK_)
                goto out;
        if (baton_client_new(cli.url, cli.key, &cli.client) != 0) {
                rc = cli_usage_error(cli.prog, NULL, "invalid server URL %s", cli.url);
                goto out;
        }
        if (!gl.ca_file && getenv("BATON_CA_FILE") && *getenv("BATON_CA_FILE"))
                gl.ca_file = getenv("BATON_CA_FILE");
        if (gl.ca_file && baton_client_set_ca_file(cli.client, gl.ca_file) != 0) {
                rc = cli_usage_error(cli.prog, NULL, "out of memory");
                goto out;
        }
        rc = c->run(&cli, &a);
out:
        baton_client_free(cli.client);
        free(cli.key);
        return rc;
}
