/*
 * main.c: the baton command. `baton [--url URL] [--json] <command> ...` operates
 * a batond server: health, enqueue, job get/list/cancel/retry, queue
 * list/get/pause/resume and dead list/replay/purge. Each command is one or a few
 * HTTP calls through libbaton's raw request; output is human-readable by
 * default and the server's own JSON with --json. Exit codes are a contract for
 * scripts: 0 ok, 1 the server refused (its message and code on stderr), 2 usage
 * error, 3 the server could not be reached. The server URL comes from --url,
 * then $BATON_URL, then http://127.0.0.1:7700.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define DEFAULT_URL "http://127.0.0.1:7700"
#define STDIN_MAX_BYTES (16u << 20)
/* Each wait of `enqueue --wait` asks the server to hold the answer this long. */
#define ENQUEUE_WAIT_STEP_MS 30000

enum {
        OPT_PRIORITY = 1 << 0,
        OPT_DELAY = 1 << 1,
        OPT_IDEM = 1 << 2,
        OPT_WAIT = 1 << 3,
        OPT_QUEUE = 1 << 4,
        OPT_STATE = 1 << 5,
        OPT_TYPE = 1 << 6,
        OPT_LIMIT = 1 << 7,
        OPT_AFTER = 1 << 8,
        OPT_ALL = 1 << 9,
};

struct cmd {
        const char *group; /* first word */
        const char *name;  /* second word, NULL for one-word commands */
        const char *usage;
        const char *help;
        unsigned opts;
        int min_pos, max_pos;
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
static int cmd_dead_list(struct cli *cli, struct cli_args *a);
static int cmd_dead_replay(struct cli *cli, struct cli_args *a);
static int cmd_dead_purge(struct cli *cli, struct cli_args *a);

static const struct cmd cmds[] = {
    {"health", NULL, "health", "Checks that the server is alive (GET /healthz).", 0, 0, 0,
     cmd_health},
    {"enqueue", NULL,
     "enqueue QUEUE TYPE [PAYLOAD|-] [--priority P] [--delay-ms N] [--idempotency-key K] "
     "[--wait]",
     "Enqueues one job. PAYLOAD is JSON text, '-' reads it from stdin, default null.\n"
     "  --priority P          critical, high, normal (default) or low\n"
     "  --delay-ms N          run no earlier than N ms from now\n"
     "  --idempotency-key K   a repeat with the same key returns the original job\n"
     "  --wait                wait until the job finishes; exit 0 when it completed,\n"
     "                        1 when it ended dead or cancelled",
     OPT_PRIORITY | OPT_DELAY | OPT_IDEM | OPT_WAIT, 2, 3, cmd_enqueue},
    {"job", "get", "job get ID", "Shows one job.", 0, 1, 1, cmd_job_get},
    {"job", "list", "job list [--queue Q] [--state S] [--type T] [--limit N] [--after CURSOR]",
     "Lists jobs, ascending by id, one page at a time (the next page's cursor is printed).",
     OPT_QUEUE | OPT_STATE | OPT_TYPE | OPT_LIMIT | OPT_AFTER, 0, 0, cmd_job_list},
    {"job", "cancel", "job cancel ID",
     "Cancels a job; a running job is asked to stop and is cancelled when it settles.", 0, 1, 1,
     cmd_job_cancel},
    {"job", "retry", "job retry ID", "Runs a dead or cancelled job again.", 0, 1, 1, cmd_job_retry},
    {"queue", "list", "queue list [--limit N] [--after CURSOR]",
     "Lists queues with their job counts.", OPT_LIMIT | OPT_AFTER, 0, 0, cmd_queue_list},
    {"queue", "get", "queue get QUEUE", "Shows one queue and its job counts.", 0, 1, 1,
     cmd_queue_get},
    {"queue", "pause", "queue pause QUEUE",
     "Pauses a queue: claims get nothing, enqueues still succeed.", 0, 1, 1, cmd_queue_pause},
    {"queue", "resume", "queue resume QUEUE", "Resumes a paused queue.", 0, 1, 1, cmd_queue_resume},
    {"dead", "list", "dead list QUEUE [--limit N] [--after CURSOR]",
     "Lists the dead jobs of a queue.", OPT_LIMIT | OPT_AFTER, 1, 1, cmd_dead_list},
    {"dead", "replay", "dead replay QUEUE (--all | ID...)",
     "Queues dead jobs again with a fresh attempt budget: the given ids, or all of them.", OPT_ALL,
     1, CLI_POS_MAX, cmd_dead_replay},
    {"dead", "purge", "dead purge QUEUE", "Deletes the dead jobs of a queue.", 0, 1, 1,
     cmd_dead_purge},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f, const char *prog)
{
        size_t i;

        fprintf(f,
                "usage: %s [--url URL] [--json] <command> [arguments]\n\n"
                "Operates a batond server (URL from --url, $BATON_URL or %s).\n"
                "  --url URL   server address\n"
                "  --json      print the server's JSON instead of text\n\n"
                "commands:\n",
                prog, DEFAULT_URL);
        for (i = 0; i < N_CMDS; i++)
                fprintf(f, "  %s\n", cmds[i].usage);
        fprintf(f,
                "\nRun '%s <command> --help' for details. Exit codes: 0 ok, 1 refused by the "
                "server,\n2 usage error, 3 server unreachable.\n",
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

static int usage_error(const char *prog, const char *usage_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints a usage error and the command's usage line; returns EXIT_USAGE. */
static int usage_error(const char *prog, const char *usage_line, const char *fmt, ...)
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
                ret = EXIT_REFUSED;
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

/* Builds prefix + escaped seg + suffix into path. */
static int make_path(char *path, size_t cap, const char *prefix, const char *seg,
                     const char *suffix)
{
        path[0] = '\0';
        if (path_add(path, cap, prefix, false) || (seg && path_add(path, cap, seg, true)) ||
            (suffix && path_add(path, cap, suffix, false)))
                return -1;
        return 0;
}

/* Appends "?k=v" / "&k=v" when v is set. */
static int add_query(char *path, size_t cap, const char *k, const char *v)
{
        if (!v)
                return 0;
        if (path_add(path, cap, strchr(path, '?') ? "&" : "?", false) ||
            path_add(path, cap, k, false) || path_add(path, cap, "=", false) ||
            path_add(path, cap, v, true))
                return -1;
        return 0;
}

/* Parses a non-negative decimal integer. */
static int parse_count(const char *s, long long *out)
{
        char *end;

        errno = 0;
        *out = strtoll(s, &end, 10);
        if (errno || end == s || *end || *out < 0)
                return -1;
        return 0;
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

/* Reads all of stdin, up to STDIN_MAX_BYTES. Returns NULL on error (message
 * printed). The caller frees the text. */
static char *read_stdin(const char *prog)
{
        size_t len = 0, cap = 4096, n;
        char *buf = malloc(cap);

        while (buf) {
                if (cap - len < 2) {
                        char *p;

                        if (cap >= STDIN_MAX_BYTES) {
                                fprintf(stderr, "%s: payload on stdin is over %u bytes\n", prog,
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
                n = fread(buf + len, 1, cap - len - 1, stdin);
                if (n == 0)
                        break;
                len += n;
        }
        if (!buf) {
                fprintf(stderr, "%s: out of memory\n", prog);
                return NULL;
        }
        if (ferror(stdin)) {
                fprintf(stderr, "%s: reading stdin: %s\n", prog, strerror(errno));
                free(buf);
                return NULL;
        }
        buf[len] = '\0';
        return buf;
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

static int cmd_enqueue(struct cli *cli, struct cli_args *a)
{
        json_t *req = NULL, *payload = NULL, *root = NULL, *job;
        json_error_t jerr;
        char *text = NULL, *body = NULL, path[512];
        const char *id;
        long long delay = 0;
        int rc = EXIT_USAGE, rounds;

        if (a->n_pos == 3) {
                const char *src = a->pos[2];

                if (strcmp(src, "-") == 0) {
                        text = read_stdin(cli->prog);
                        if (!text)
                                goto out;
                        src = text;
                }
                payload = json_loads(src, JSON_DECODE_ANY, &jerr);
                if (!payload) {
                        fprintf(stderr, "%s: payload is not valid JSON: %s\n", cli->prog,
                                jerr.text);
                        goto out;
                }
        }
        if (a->delay_ms && parse_count(a->delay_ms, &delay) != 0) {
                fprintf(stderr, "%s: --delay-ms needs a non-negative integer, not '%s'\n",
                        cli->prog, a->delay_ms);
                goto out;
        }
        rc = EXIT_REFUSED;
        req = json_object();
        if (!req || json_object_set_new(req, "queue", json_string(a->pos[0])) ||
            json_object_set_new(req, "type", json_string(a->pos[1])) ||
            (payload && json_object_set(req, "payload", payload)) ||
            (a->priority && json_object_set_new(req, "priority", json_string(a->priority))) ||
            (a->delay_ms && json_object_set_new(req, "delay_ms", json_integer(delay))) ||
            (a->idempotency_key &&
             json_object_set_new(req, "idempotency_key", json_string(a->idempotency_key)))) {
                /* json_string refuses text that is not UTF-8. */
                fprintf(stderr, "%s: arguments must be UTF-8 text\n", cli->prog);
                rc = EXIT_USAGE;
                goto out;
        }
        body = json_dumps(req, JSON_COMPACT);
        if (!body)
                goto out;
        rc = cli_call(cli, "POST", "/v1/jobs", body, !a->wait, &root);
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
        if (!a->wait)
                goto out;
        /* The id must reach a pipe or file now, not when the job ends. */
        fflush(stdout);
        if (make_path(path, sizeof(path), "/v1/jobs/", id, "?wait_ms=30000")) {
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

        if (make_path(path, sizeof(path), "/v1/jobs/", id, suffix))
                return usage_error(cli->prog, NULL, "job id too long: %s", id);
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
        json_t *root = NULL;
        const char *next;
        int rc = cli_call(cli, "GET", path, NULL, true, &root);

        if (rc == EXIT_OK_ && !cli->json) {
                print_job_table(json_object_get(root, "jobs"));
                next = json_string_value(json_object_get(root, "next"));
                if (next)
                        printf("next page: --after %s\n", next);
        }
        json_decref(root);
        return rc;
}

static int check_limit(struct cli *cli, struct cli_args *a)
{
        long long v;

        if (a->limit && parse_count(a->limit, &v) != 0)
                return usage_error(cli->prog, NULL,
                                   "--limit needs a non-negative integer, not '%s'", a->limit);
        return EXIT_OK_;
}

static int cmd_job_list(struct cli *cli, struct cli_args *a)
{
        char path[2048] = "/v1/jobs";

        if (check_limit(cli, a))
                return EXIT_USAGE;
        if (add_query(path, sizeof(path), "queue", a->queue) ||
            add_query(path, sizeof(path), "state", a->state) ||
            add_query(path, sizeof(path), "type", a->type) ||
            add_query(path, sizeof(path), "limit", a->limit) ||
            add_query(path, sizeof(path), "after", a->after))
                return usage_error(cli->prog, NULL, "%s", "arguments too long");
        return list_jobs(cli, path);
}

static int cmd_queue_list(struct cli *cli, struct cli_args *a)
{
        char path[1024] = "/v1/queues";
        json_t *root = NULL;
        const char *next;
        int rc;

        if (check_limit(cli, a))
                return EXIT_USAGE;
        if (add_query(path, sizeof(path), "limit", a->limit) ||
            add_query(path, sizeof(path), "after", a->after))
                return usage_error(cli->prog, NULL, "%s", "arguments too long");
        rc = cli_call(cli, "GET", path, NULL, true, &root);
        if (rc == EXIT_OK_ && !cli->json) {
                print_queue_table(json_object_get(root, "queues"));
                next = json_string_value(json_object_get(root, "next"));
                if (next)
                        printf("next page: --after %s\n", next);
        }
        json_decref(root);
        return rc;
}

static int queue_call(struct cli *cli, const char *method, const char *name, const char *body,
                      const char *verb)
{
        json_t *root = NULL;
        char path[512];
        int rc;

        if (make_path(path, sizeof(path), "/v1/queues/", name, NULL))
                return usage_error(cli->prog, NULL, "queue name too long: %s", name);
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

static int cmd_dead_list(struct cli *cli, struct cli_args *a)
{
        char path[2048];

        if (check_limit(cli, a))
                return EXIT_USAGE;
        if (make_path(path, sizeof(path), "/v1/queues/", a->pos[0], "/dead") ||
            add_query(path, sizeof(path), "limit", a->limit) ||
            add_query(path, sizeof(path), "after", a->after))
                return usage_error(cli->prog, NULL, "%s", "arguments too long");
        return list_jobs(cli, path);
}

/* POST or DELETE on the dead letters, printing the count member. */
static int dead_call(struct cli *cli, const char *method, const char *queue, const char *suffix,
                     const char *body, const char *member)
{
        json_t *root = NULL;
        char path[512];
        int rc;

        if (make_path(path, sizeof(path), "/v1/queues/", queue, suffix))
                return usage_error(cli->prog, NULL, "queue name too long: %s", queue);
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

        if (a->all == (a->n_pos > 1))
                return usage_error(cli->prog, a->usage, "%s",
                                   "give either --all or one or more job ids");
        req = json_object();
        ids = json_array();
        if (!req || !ids) {
                json_decref(ids);
                goto out;
        }
        if (a->all) {
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

/* ---- command line ---- */

struct optdef {
        const char *name;
        unsigned bit;
        bool takes_value;
};

static const struct optdef optdefs[] = {
    {"--priority", OPT_PRIORITY, true},
    {"--delay-ms", OPT_DELAY, true},
    {"--idempotency-key", OPT_IDEM, true},
    {"--wait", OPT_WAIT, false},
    {"--queue", OPT_QUEUE, true},
    {"--state", OPT_STATE, true},
    {"--type", OPT_TYPE, true},
    {"--limit", OPT_LIMIT, true},
    {"--after", OPT_AFTER, true},
    {"--all", OPT_ALL, false},
};

static void set_opt(struct cli_args *a, unsigned bit, const char *v)
{
        switch (bit) {
        case OPT_PRIORITY:
                a->priority = v;
                break;
        case OPT_DELAY:
                a->delay_ms = v;
                break;
        case OPT_IDEM:
                a->idempotency_key = v;
                break;
        case OPT_WAIT:
                a->wait = true;
                break;
        case OPT_QUEUE:
                a->queue = v;
                break;
        case OPT_STATE:
                a->state = v;
                break;
        case OPT_TYPE:
                a->type = v;
                break;
        case OPT_LIMIT:
                a->limit = v;
                break;
        case OPT_AFTER:
                a->after = v;
                break;
        case OPT_ALL:
                a->all = true;
                break;
        }
}

/* Splits "--name=value"; returns the length of the name part. */
static size_t opt_name_len(const char *arg)
{
        const char *eq = strchr(arg, '=');

        return eq ? (size_t)(eq - arg) : strlen(arg);
}

/*
 * Handles a global option at argv[*i] (--url, --json); returns 1 when it was
 * one, 0 when not, or -1 on a usage error (message printed).
 */
static int global_opt(struct cli *cli, int argc, char **argv, int *i)
{
        const char *arg = argv[*i];
        size_t n = opt_name_len(arg);

        if (strcmp(arg, "--json") == 0) {
                cli->json = true;
                return 1;
        }
        if (n == 5 && strncmp(arg, "--url", 5) == 0) {
                if (arg[5] == '=') {
                        cli->url = arg + 6;
                } else if (*i + 1 < argc) {
                        cli->url = argv[++*i];
                } else {
                        usage_error(cli->prog, NULL, "%s", "--url needs a value");
                        return -1;
                }
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
static int parse_args(struct cli *cli, const struct cmd *c, int argc, char **argv, int first,
                      struct cli_args *a)
{
        bool opts_done = false;
        int i;

        for (i = first; i < argc; i++) {
                const char *arg = argv[i];
                size_t k, n;
                int g;

                if (!opts_done && strcmp(arg, "--") == 0) {
                        opts_done = true;
                        continue;
                }
                if (opts_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
                        if (a->n_pos >= CLI_POS_MAX)
                                return usage_error(cli->prog, c->usage, "%s", "too many arguments");
                        a->pos[a->n_pos++] = arg;
                        continue;
                }
                if (is_help(arg)) {
                        cmd_usage(stdout, cli->prog, c);
                        return -1;
                }
                g = global_opt(cli, argc, argv, &i);
                if (g < 0)
                        return EXIT_USAGE;
                if (g > 0)
                        continue;
                n = opt_name_len(arg);
                for (k = 0; k < sizeof(optdefs) / sizeof(optdefs[0]); k++)
                        if (strlen(optdefs[k].name) == n && strncmp(arg, optdefs[k].name, n) == 0 &&
                            (c->opts & optdefs[k].bit))
                                break;
                if (k == sizeof(optdefs) / sizeof(optdefs[0]))
                        return usage_error(cli->prog, c->usage, "unknown option %s", arg);
                if (!optdefs[k].takes_value) {
                        if (arg[n] == '=')
                                return usage_error(cli->prog, c->usage, "%s takes no value",
                                                   optdefs[k].name);
                        set_opt(a, optdefs[k].bit, NULL);
                } else if (arg[n] == '=') {
                        set_opt(a, optdefs[k].bit, arg + n + 1);
                } else if (i + 1 < argc) {
                        set_opt(a, optdefs[k].bit, argv[++i]);
                } else {
                        return usage_error(cli->prog, c->usage, "%s needs a value",
                                           optdefs[k].name);
                }
        }
        if (a->n_pos < c->min_pos)
                return usage_error(cli->prog, c->usage, "%s", "missing arguments");
        if (a->n_pos > c->max_pos)
                return usage_error(cli->prog, c->usage, "unexpected argument %s",
                                   a->pos[c->max_pos]);
        return EXIT_OK_;
}

int main(int argc, char **argv)
{
        struct cli cli = {0};
        struct cli_args a;
        const struct cmd *c = NULL;
        const char *env;
        bool group_known = false;
        size_t k;
        int i, rc;

        cli.prog = "baton";
        env = getenv("BATON_URL");
        cli.url = env && *env ? env : DEFAULT_URL;
        memset(&a, 0, sizeof(a));

        /* Global options before the command. */
        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                int g;

                if (is_help(argv[i])) {
                        usage(stdout, cli.prog);
                        return EXIT_OK_;
                }
                g = global_opt(&cli, argc, argv, &i);
                if (g < 0)
                        return EXIT_USAGE;
                if (g == 0)
                        return usage_error(cli.prog, NULL, "unknown option %s", argv[i]);
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
                        return usage_error(cli.prog, NULL, "unknown command %s", argv[i]);
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
        rc = parse_args(&cli, c, argc, argv, i + (c->name ? 2 : 1), &a);
        if (rc < 0)
                return EXIT_OK_;
        if (rc != EXIT_OK_)
                return rc;
        if (baton_client_new(cli.url, getenv("BATON_API_KEY"), &cli.client) != 0)
                return usage_error(cli.prog, NULL, "invalid server URL %s", cli.url);
        rc = c->run(&cli, &a);
        baton_client_free(cli.client);
        return rc;
}
