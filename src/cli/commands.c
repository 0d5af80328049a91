/*
 * commands.c: the table of the baton command's commands (words, usage line,
 * help text, the options and arguments each takes, the function that runs it),
 * the help it prints (`baton --help`, `baton CMD --help`, `baton GROUP`), usage
 * errors, and the lookup of the command words on the command line. Workload:
 * one lookup and at most one help text per process. Assumes the table is
 * sorted as the help should list it; a group's subcommands sit together.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_cmd cmds[] = {
    {"health", NULL, "health", "Checks that the server is alive (GET /healthz).", 0, 0, 0, false,
     cmd_health},
    {"enqueue", NULL,
     "enqueue QUEUE TYPE [PAYLOAD|@FILE|-] [--priority P] [--delay-ms N] [--max-attempts N] "
     "[--timeout-ms N] [--idempotency-key K] [--key K [--unique-while active]] "
     "[--depends-on ID[,ID...]] [--group G] [--wait]",
     "Enqueues one job. PAYLOAD is JSON text, @FILE reads it from a file, '-' from stdin;\n"
     "without one the payload is null.\n"
     "  --priority P          critical, high, normal (default) or low\n"
     "  --delay-ms N          run no earlier than N ms from now\n"
     "  --max-attempts N      tries before the job goes dead (server default 4)\n"
     "  --timeout-ms N        fail an attempt that runs N ms from its claim, heartbeats or\n"
     "                        not (100 ... 604800000; default: the queue's)\n"
     "  --idempotency-key K   a repeat with the same key returns the original job\n"
     "  --key K               dedup key: while a queued job holds K, enqueue returns it\n"
     "  --unique-while W      pending (default) or active: with active, enqueue is refused\n"
     "                        (already_running, exit 1) while any job with the key has not\n"
     "                        ended, running ones included\n"
     "  --depends-on IDS      comma-separated parent job ids: the job stays pending until\n"
     "                        every parent completed (cancelled if one fails)\n"
     "  --group G             the job's group: the queue's group limits and fair turns\n"
     "  --wait                wait until the job finishes; exit 0 when it completed,\n"
     "                        1 when it ended dead or cancelled",
     OPT(O_PRIORITY) | OPT(O_DELAY) | OPT(O_IDEM) | OPT(O_WAIT) | OPT(O_MAX_ATTEMPTS) |
         OPT(O_DEPENDS_ON) | OPT(O_GROUP) | OPT(O_TIMEOUT) | OPT(O_KEY) | OPT(O_UNIQUE_WHILE),
     2, 3, false, cmd_enqueue},
    {"job", "get", "job get ID", "Shows one job.", 0, 1, 1, false, cmd_job_get},
    {"job", "list", "job list [FILTER FLAGS] [--desc] [--limit N] [--after CURSOR]",
     "Lists jobs, ascending by id (newest first with --desc), one page at a time (the next\n"
     "page's cursor is printed). The filters combine:\n" CLI_FILTER_HELP,
     CLI_FILTER_OPTS | OPT(O_DESC) | OPT(O_LIMIT) | OPT(O_AFTER), 0, 0, false, cmd_job_list},
    {"job", "cancel", "job cancel ID",
     "Cancels a job; a running job is asked to stop and is cancelled when it settles.", 0, 1, 1,
     false, cmd_job_cancel},
    {"job", "retry", "job retry ID", "Runs a dead or cancelled job again.", 0, 1, 1, false,
     cmd_job_retry},
    {"job", "promote", "job promote ID",
     "Makes a scheduled or retrying job ready now, without waiting for its run_at.", 0, 1, 1, false,
     cmd_job_promote},
    {"job", "purge", "job purge ID",
     "Deletes a completed, dead or cancelled job with its attempts, progress and steps\n"
     "(a job that has not ended is refused: cancel it first).",
     0, 1, 1, false, cmd_job_purge},
    {"job", "edit", "job edit ID [--priority P] [--run-at TIME] [--payload JSON|@FILE|-]",
     "Changes a job that has not started yet (pending, scheduled, queued or retrying);\n"
     "its version goes up by one.\n"
     "  --priority P       critical, high, normal or low\n"
     "  --run-at TIME      RFC 3339 instant (2026-12-08T09:00:00Z); a past one means now,\n"
     "                     a later one makes a queued job scheduled again\n"
     "  --payload JSON     the new payload: JSON text, @FILE or '-' for stdin",
     OPT(O_PRIORITY) | OPT(O_RUN_AT) | OPT(O_PAYLOAD), 1, 1, false, cmd_job_edit},
    {"jobs", "bulk", "jobs bulk retry|cancel|promote|purge [FILTER FLAGS] [--desc] [--limit N]",
     "Acts on every job the filters find (POST /v1/jobs/bulk), each as `job retry`, `job\n"
     "cancel` do (promote: a scheduled or retrying job is queued now; purge: a finished job\n"
     "is deleted), 1,000 at a time, continuing until none is left, and prints the totals.\n"
     "With no filter flag it acts on every job of the tenant.\n"
     "  --limit N              stop after N matching jobs (default: all of them)\n" CLI_FILTER_HELP,
     CLI_FILTER_OPTS | OPT(O_DESC) | OPT(O_LIMIT), 1, 1, false, cmd_jobs_bulk},
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
     "[--timeout-ms N] [--backoff JSON] [--keep-completed-ms N] [--keep-dead-ms N]"
     " [--keep-cancelled-ms N]",
     "Changes queue limits and job defaults (PATCH /v1/queues/QUEUE); 'none' removes one.\n"
     "  --concurrency N        at most N running jobs across all workers\n"
     "  --rate MAX/PER_MS      at most MAX starts in any PER_MS ms (e.g. 5/1000)\n"
     "  --max-depth N          refuse enqueues (503 queue_full) beyond N unfinished jobs\n"
     "  --group-concurrency N  at most N running jobs per group (1 = one at a time)\n"
     "  --group-rate MAX/PER_MS  at most MAX starts per group in any PER_MS ms\n"
     "  --max-attempts N, --lease-ms N, --timeout-ms N, --backoff JSON\n"
     "                         defaults for jobs enqueued without them\n"
     "  --keep-completed-ms N, --keep-dead-ms N, --keep-cancelled-ms N\n"
     "                         the queue's own retention of its ended jobs, at least 1000\n"
     "                         and at most the server's (--completed-ttl-ms, --dead-ttl-ms);\n"
     "                         'none' gives the state back the server's retention\n"
     "  baton queue set drafts --group-concurrency 1 --rate 100/1000",
     OPT(O_CONCURRENCY) | OPT(O_RATE) | OPT(O_MAX_DEPTH) | OPT(O_GROUP_CONCURRENCY) |
         OPT(O_GROUP_RATE) | OPT(O_MAX_ATTEMPTS) | OPT(O_LEASE) | OPT(O_TIMEOUT) | OPT(O_BACKOFF) |
         OPT(O_KEEP_COMPLETED) | OPT(O_KEEP_DEAD) | OPT(O_KEEP_CANCELLED),
     1, 1, false, cmd_queue_set},
    {"queue", "drain", "queue drain QUEUE",
     "Cancels every job of the queue that has not started (pending, scheduled, queued,\n"
     "retrying), at most 1000 per call; running jobs are left to finish.",
     0, 1, 1, false, cmd_queue_drain},
    {"queue", "delete", "queue delete QUEUE",
     "Deletes a queue whose jobs have all ended: its ended jobs, its settings and the\n"
     "queue (refused while it holds a job that has not ended: drain it first).",
     0, 1, 1, false, cmd_queue_delete},
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
     "                        admin, metrics, events:read (comma-separated; metrics:\n"
     "                        GET /metrics, tenant default only)\n"
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
    {"cron", "run", "cron run KEY [--force] [--payload JSON|@FILE|-]",
     "Runs a schedule now (needs scope cron:run). Refused with already_running (exit 1) while\n"
     "a run is going under overlap skip, unless --force; too many manual runs in an hour\n"
     "exit 5 (cron_run_cooldown).\n"
     "  --payload JSON  an object whose members replace or add to the template's payload\n"
     "                  for this run only (recorded in the run; the schedule is unchanged)",
     OPT(O_FORCE) | OPT(O_PAYLOAD), 1, 1, false, cmd_cron_run},
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
    {"scheduler", NULL, "scheduler",
     "Shows the scheduler (GET /v1/scheduler, needs cron:read): this node and its role, the\n"
     "leader and its epoch, the age of its heartbeat, tick lag, this node's next deadline,\n"
     "and your schedules (how many, how many due, the next fire, ticks skipped).",
     0, 0, 0, false, cmd_scheduler},
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
     "[--poll-ms P] [--worker ID] [--label KEY=VALUE]... -- CMD [ARGS...]",
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
     "  --label KEY=VALUE     a label of the worker, shown by `baton workers ID`; repeat\n"
     "                        for more (at most 32; KEY 1-64 bytes, VALUE at most 256)\n"
     "Every claim describes the worker (docs/api.md \"Workers\"): its host, its pid, the\n"
     "version of baton and the labels.\n"
     "A cancel request seen on a heartbeat kills CMD's process group and settles the job.\n"
     "Exits 0 after a signal and a drain, 4 when the key is refused, 1 when the server\n"
     "refuses the claim itself (for example --lease-ms out of range).",
     OPT(O_QUEUE) | OPT(O_CONCURRENCY) | OPT(O_LEASE) | OPT(O_TIMEOUT) | OPT(O_GRACE) |
         OPT(O_POLL) | OPT(O_WORKER) | OPT(O_LABEL),
     0, 0, true, cmd_work},
    {"workers", NULL, "workers [ID] [--limit N] [--after CURSOR]",
     "Lists the workers that claimed jobs (GET /v1/workers): health, queues, jobs in\n"
     "flight, completed and failed settles, last seen; with ID shows one worker (its host,\n"
     "pid, version, labels, lease period and the ids of the jobs it holds).\n"
     "  healthy  seen within 2 lease periods; stale  not seen since; lost  not seen for\n"
     "  --worker-lost-ms (default 10 minutes): its leases simply expire (docs/operations.md)",
     OPT(O_LIMIT) | OPT(O_AFTER), 0, 1, false, cmd_workers},
    {"events", NULL,
     "events [--type P,P...] [--queue Q] [--limit N] [--after CURSOR] [--follow [--count N]]",
     "Reads the event log (GET /v1/events; scope events:read): the tenant's events after\n"
     "--after, oldest first, with the id to pass as --after next.\n"
     "  --type P,P...   types (job.dead), categories (cron.*) or *\n"
     "  --queue Q       events of jobs and queues of Q only\n"
     "  --follow        keep reading (long-polls) and print events as they come, until\n"
     "                  interrupted or --count N events were printed (--json: one per line)",
     OPT(O_TYPE) | OPT(O_QUEUE) | OPT(O_LIMIT) | OPT(O_AFTER) | OPT(O_FOLLOW) | OPT(O_NFIRES), 0, 0,
     false, cmd_events},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

void cli_usage(FILE *f, const char *prog)
{
        size_t i;

        fprintf(
            f,
            "usage: %s [--url URL] [--key-file FILE] [--ca-file FILE] [--json] <command> "
            "[arguments]\n\n"
            "Operates a batond server.\n"
            "  --url URL        server address ($BATON_URL, default %s)\n"
            "  --key-file FILE  read the API key from FILE; otherwise $BATON_KEY, otherwise\n"
            "                   $BATON_DATA/%s or %s/%s (written by batond on first start)\n"
            "  --ca-file FILE   for an https:// URL, trust the certificates in FILE (PEM;\n"
            "                   a self-signed server certificate is its own) instead of\n"
            "                   the system's ($BATON_CA_FILE)\n"
            "  --json           print the server's JSON instead of text; an error is JSON\n"
            "                   too, on stderr: {\"error\": {\"code\", \"message\", \"field\"}}\n"
            "  --version        print the version and exit\n\n"
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

void cli_cmd_usage(FILE *f, const char *prog, const struct cli_cmd *c)
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

/* A usage error: the message (its field the flag at fault, or NULL), then in
 * text the usage line or a hint. Returns EXIT_USAGE. */
static int usage_verror(const char *prog, const char *usage_line, const char *flag, const char *fmt,
                        va_list ap)
{
        cli_verror(prog, "usage", flag, fmt, ap);
        if (cli_errors_are_json())
                return EXIT_USAGE;
        if (usage_line)
                fprintf(stderr, "usage: %s %s\n", prog, usage_line);
        else
                fprintf(stderr, "run '%s --help' for the commands\n", prog);
        return EXIT_USAGE;
}

int cli_flag_error(const char *prog, const char *usage_line, const char *flag, const char *fmt, ...)
{
        va_list ap;
        int rc;

        va_start(ap, fmt);
        rc = usage_verror(prog, usage_line, flag, fmt, ap);
        va_end(ap);
        return rc;
}

int cli_find_cmd(struct cli *cli, int argc, char **argv, int i, const struct cli_cmd **out)
{
        const struct cli_cmd *c = NULL;
        bool group_known = false;
        size_t k;

        *out = NULL;
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
        if (c) {
                *out = c;
                return EXIT_OK_;
        }
        if (!group_known)
                return cli_usage_error(cli->prog, NULL, "unknown command %s", argv[i]);
        if (i + 1 < argc && cli_is_help(argv[i + 1])) {
                group_usage(stdout, cli->prog, argv[i]);
                return EXIT_OK_;
        }
        if (cli_errors_are_json()) {
                if (i + 1 < argc)
                        return cli_usage_error(cli->prog, NULL, "unknown subcommand %s %s", argv[i],
                                               argv[i + 1]);
                return cli_usage_error(cli->prog, NULL, "%s needs a subcommand", argv[i]);
        }
        group_usage(stderr, cli->prog, argv[i]);
        if (i + 1 < argc)
                fprintf(stderr, "%s: unknown subcommand %s %s\n", cli->prog, argv[i], argv[i + 1]);
        return EXIT_USAGE;
}
