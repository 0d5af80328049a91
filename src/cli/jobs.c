/*
 * jobs.c: the job commands of the baton command: health, enqueue (with a
 * payload from the argument, a file or stdin, dependencies, and --wait, which
 * long-polls until the job ends), job get/list/cancel/retry, and the reading
 * of JSON arguments the other commands share. Workload: one or a few requests
 * per process; --wait is one long poll per 30 s while the job runs. Assumes
 * a payload fits in memory (at most STDIN_MAX_BYTES).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define STDIN_MAX_BYTES (16u << 20)

int cmd_health(struct cli *cli, struct cli_args *a)
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
                                cli_error(prog, "usage", NULL, "payload in %s is over %u bytes",
                                          what, STDIN_MAX_BYTES);
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
                cli_error(prog, "internal", NULL, "out of memory");
                return NULL;
        }
        if (ferror(f)) {
                cli_error(prog, "usage", NULL, "reading %s: %s", what, strerror(errno));
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
                cli_error(prog, "usage", NULL, "cannot open payload file %s: %s", arg + 1,
                          strerror(errno));
                return NULL;
        }
        *text = read_all(f, arg + 1, prog);
        fclose(f);
        return *text;
}

const char *cli_read_source(const char *arg, char **text, const char *prog)
{
        return payload_source(arg, text, prog);
}

int cli_read_doc(struct cli *cli, struct cli_args *a, const char *member, const char *what,
                 json_t **doc, char **text)
{
        json_error_t jerr;
        const char *t;

        *doc = NULL;
        *text = NULL;
        if (!a->opt[O_FILE])
                return cli_usage_error(cli->prog, a->usage, "%s", "-f FILE is required");
        if (strcmp(a->opt[O_FILE], "-") == 0) {
                t = payload_source("-", text, cli->prog);
        } else {
                char at[4096];

                if (snprintf(at, sizeof(at), "@%s", a->opt[O_FILE]) >= (int)sizeof(at))
                        return cli_usage_error(cli->prog, a->usage, "%s", "file name too long");
                t = payload_source(at, text, cli->prog);
        }
        if (!t)
                return EXIT_USAGE;
        *doc = json_loads(t, 0, &jerr);
        if (json_is_object(*doc) && json_is_array(json_object_get(*doc, member)))
                return EXIT_OK_;
        cli_error(cli->prog, "usage", "-f", "%s: not %s (a JSON object with a \"%s\" array)%s%s",
                  a->opt[O_FILE], what, member, *doc ? "" : ": ", *doc ? "" : jerr.text);
        json_decref(*doc);
        *doc = NULL;
        return EXIT_USAGE;
}

/* Prints the outcome of a job that reached a terminal state and returns the
 * exit code: 0 for completed, 1 otherwise. */
static int report_final(struct cli *cli, const json_t *job)
{
        const char *state = json_string_value(json_object_get(job, "state"));
        const char *id = json_string_value(json_object_get(job, "id"));

        if (state && strcmp(state, "completed") == 0) {
                json_t *result = json_object_get(job, "result");
                char *res;

                if (cli->json)
                        return EXIT_OK_;
                /* An absent result prints as null, as the server's null does. */
                res = result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                if (result && !res)
                        return cli_oom(cli);
                printf("job %s completed: %s\n", id ? id : "?", res ? res : "null");
                free(res);
                return EXIT_OK_;
        }
        if (!cli->json)
                print_job(job);
        {
                const char *err = json_string_value(json_object_get(job, "last_error"));
                const char *why = json_string_value(json_object_get(job, "cancel_reason"));

                cli_error(cli->prog, "job_not_completed", NULL, "job %s ended %s%s%s",
                          id ? id : "?", state ? state : "?", err ? ": " : (why ? ": " : ""),
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

/* Reads the payload argument (the third positional one) into *payload
 * (caller decrefs; NULL without one). Returns EXIT_OK_ or EXIT_USAGE after
 * printing why. */
static int enqueue_payload(struct cli *cli, struct cli_args *a, json_t **payload)
{
        json_error_t jerr;
        char *text = NULL;
        int rc = EXIT_USAGE;

        *payload = NULL;
        if (a->n_pos == 3) {
                const char *src = payload_source(a->pos[2], &text, cli->prog);

                if (!src)
                        goto out;
                *payload = json_loads(src, JSON_DECODE_ANY, &jerr);
                if (!*payload) {
                        cli_error(cli->prog, "usage", "PAYLOAD", "payload is not valid JSON: %s",
                                  jerr.text);
                        goto out;
                }
        }
        rc = EXIT_OK_;
out:
        free(text);
        return rc;
}

/* --timeout-ms, --key and --unique-while into req. Returns EXIT_OK_, or
 * EXIT_USAGE after printing why (the server judges the bounds and that
 * --unique-while needs --key, in the words of its flags below). */
static int enqueue_run_safety(struct cli *cli, struct cli_args *a, json_t *req)
{
        long long timeout = 0;

        if (cli_opt_count(cli, a, O_TIMEOUT, "--timeout-ms", 1, LLONG_MAX, &timeout))
                return EXIT_USAGE;
        if (a->opt[O_UNIQUE_WHILE] && !a->opt[O_KEY])
                return cli_usage_error(cli->prog, a->usage, "%s", "--unique-while needs --key");
        if (a->opt[O_UNIQUE_WHILE] && strcmp(a->opt[O_UNIQUE_WHILE], "pending") != 0 &&
            strcmp(a->opt[O_UNIQUE_WHILE], "active") != 0)
                return cli_usage_error(cli->prog, a->usage,
                                       "--unique-while must be pending or active, not '%s'",
                                       a->opt[O_UNIQUE_WHILE]);
        if ((a->opt[O_TIMEOUT] && json_object_set_new(req, "timeout_ms", json_integer(timeout))) ||
            (a->opt[O_KEY] && json_object_set_new(req, "key", json_string(a->opt[O_KEY]))) ||
            (a->opt[O_UNIQUE_WHILE] &&
             json_object_set_new(req, "unique_while", json_string(a->opt[O_UNIQUE_WHILE])))) {
                fprintf(stderr, "%s: arguments must be UTF-8 text\n", cli->prog);
                return EXIT_USAGE;
        }
        return EXIT_OK_;
}

/* Builds the body of POST /v1/jobs from the arguments into *req (caller
 * decrefs). Returns EXIT_OK_, or EXIT_USAGE after printing why. */
static int enqueue_request(struct cli *cli, struct cli_args *a, json_t **req)
{
        json_t *payload = NULL;
        long long delay = 0, max_attempts = 0;
        int rc = enqueue_payload(cli, a, &payload);

        *req = NULL;
        if (rc != EXIT_OK_)
                goto out;
        rc = EXIT_USAGE;
        if (a->opt[O_DELAY] && cli_parse_count(a->opt[O_DELAY], &delay) != 0) {
                cli_flag_error(cli->prog, a->usage, "--delay-ms",
                               "--delay-ms needs a non-negative integer, not '%s'",
                               a->opt[O_DELAY]);
                goto out;
        }
        if (a->opt[O_MAX_ATTEMPTS] && cli_parse_count(a->opt[O_MAX_ATTEMPTS], &max_attempts) != 0) {
                cli_flag_error(cli->prog, a->usage, "--max-attempts",
                               "--max-attempts needs a non-negative integer, not '%s'",
                               a->opt[O_MAX_ATTEMPTS]);
                goto out;
        }
        *req = json_object();
        if (!*req || json_object_set_new(*req, "queue", json_string(a->pos[0])) ||
            json_object_set_new(*req, "type", json_string(a->pos[1])) ||
            (payload && json_object_set(*req, "payload", payload)) ||
            (a->opt[O_PRIORITY] &&
             json_object_set_new(*req, "priority", json_string(a->opt[O_PRIORITY]))) ||
            (a->opt[O_DELAY] && json_object_set_new(*req, "delay_ms", json_integer(delay))) ||
            (a->opt[O_MAX_ATTEMPTS] &&
             json_object_set_new(*req, "max_attempts", json_integer(max_attempts))) ||
            (a->opt[O_IDEM] &&
             json_object_set_new(*req, "idempotency_key", json_string(a->opt[O_IDEM]))) ||
            (a->opt[O_DEPENDS_ON] && set_depends_on(*req, a->opt[O_DEPENDS_ON]) != 0) ||
            (a->opt[O_GROUP] && json_object_set_new(*req, "group", json_string(a->opt[O_GROUP])))) {
                /* json_string refuses text that is not UTF-8. */
                cli_error(cli->prog, "usage", NULL, "arguments must be UTF-8 text");
                goto out;
        }
        rc = enqueue_run_safety(cli, a, *req);
out:
        json_decref(payload);
        return rc;
}

/* `enqueue --wait`: long-polls job id until it ends and reports how (with
 * --json, the final answer). Returns report_final's exit code, or cli_call's
 * when a poll fails. */
static int wait_final(struct cli *cli, const char *id)
{
        json_t *root = NULL, *job;
        char path[512];
        int rc = EXIT_OK_, rounds;

        /* The id must reach a pipe or file now, not when the job ends. */
        fflush(stdout);
        if (cli_make_path(path, sizeof(path), "/v1/jobs/", id, "?wait_ms=30000"))
                return EXIT_USAGE;
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
                        char *out_text = cli->json ? json_dumps(root, JSON_COMPACT) : NULL;

                        if (cli->json && !out_text) {
                                rc = cli_oom(cli);
                                goto out;
                        }
                        if (out_text)
                                printf("%s\n", out_text);
                        free(out_text);
                        rc = report_final(cli, job);
                        goto out;
                }
        }
out:
        json_decref(root);
        return rc;
}

int cmd_enqueue(struct cli *cli, struct cli_args *a)
{
        json_t *req = NULL, *root = NULL, *job;
        char *body = NULL;
        const char *id;
        int rc = enqueue_request(cli, a, &req);

        if (rc != EXIT_OK_)
                goto out;
        body = json_dumps(req, JSON_COMPACT);
        if (!body) {
                rc = cli_oom(cli);
                goto out;
        }
        rc = cli_call(cli, "POST", "/v1/jobs", body, !a->opt[O_WAIT], &root);
        if (rc != EXIT_OK_)
                goto out;
        job = json_object_get(root, "job");
        id = json_string_value(json_object_get(job, "id"));
        if (!id) {
                cli_error(cli->prog, "bad_answer", NULL, "answer holds no job");
                rc = EXIT_REFUSED;
                goto out;
        }
        if (!cli->json)
                printf("%s job %s (queue %s, type %s, state %s)\n",
                       json_is_true(json_object_get(root, "duplicate")) ? "duplicate of"
                                                                        : "enqueued",
                       id, a->pos[0], a->pos[1],
                       json_string_value(json_object_get(job, "state")) ?: "?");
        if (a->opt[O_WAIT])
                rc = wait_final(cli, id);
out:
        json_decref(root);
        json_decref(req);
        free(body);
        return rc;
}

/* GET or another method on /v1/jobs/{id}[suffix], printing the job. */
static int job_call(struct cli *cli, const char *method, const char *id, const char *suffix,
                    const char *body, const char *verb)
{
        json_t *root, *job;
        int rc = cli_call_on(cli, method, "/v1/jobs/", id, suffix, 512, "job id", body, &root);

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

int cmd_job_get(struct cli *cli, struct cli_args *a)
{
        return job_call(cli, "GET", a->pos[0], NULL, NULL, NULL);
}

int cmd_job_cancel(struct cli *cli, struct cli_args *a)
{
        return job_call(cli, "DELETE", a->pos[0], NULL, NULL, "cancelled");
}

int cmd_job_retry(struct cli *cli, struct cli_args *a)
{
        return job_call(cli, "POST", a->pos[0], "/retry", "{}", "retried");
}

int cmd_job_promote(struct cli *cli, struct cli_args *a)
{
        return job_call(cli, "POST", a->pos[0], "/promote", NULL, "promoted");
}

int cmd_job_purge(struct cli *cli, struct cli_args *a)
{
        return job_call(cli, "DELETE", a->pos[0], "?purge=true", NULL, "purged");
}

/* The PATCH body of `job edit` (a new reference), or NULL after a message. */
static json_t *edit_body(struct cli *cli, struct cli_args *a)
{
        json_t *req = json_object(), *payload = NULL;
        json_error_t jerr;
        char *text = NULL;
        bool bad = !req;

        if (!bad && a->opt[O_PAYLOAD]) {
                const char *src = cli_read_source(a->opt[O_PAYLOAD], &text, cli->prog);
                payload = src ? json_loads(src, JSON_DECODE_ANY, &jerr) : NULL;
                if (src && !payload)
                        fprintf(stderr, "%s: --payload is not valid JSON: %s\n", cli->prog,
                                jerr.text);
                bad = !payload || json_object_set_new(req, "payload", payload);
        }
        /* json_string refuses text that is not UTF-8. */
        if (!bad && ((a->opt[O_PRIORITY] &&
                      json_object_set_new(req, "priority", json_string(a->opt[O_PRIORITY]))) ||
                     (a->opt[O_RUN_AT] &&
                      json_object_set_new(req, "run_at", json_string(a->opt[O_RUN_AT]))))) {
                fprintf(stderr, "%s: arguments must be UTF-8 text\n", cli->prog);
                bad = true;
        }
        free(text);
        if (bad) {
                json_decref(req);
                return NULL;
        }
        return req;
}

int cmd_job_edit(struct cli *cli, struct cli_args *a)
{
        json_t *req;
        char *body;
        int rc;

        if (!a->opt[O_PRIORITY] && !a->opt[O_RUN_AT] && !a->opt[O_PAYLOAD])
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "give at least one of --priority, --run-at and --payload");
        req = edit_body(cli, a);
        if (!req)
                return EXIT_USAGE;
        body = json_dumps(req, JSON_COMPACT);
        rc = body ? job_call(cli, "PATCH", a->pos[0], NULL, body, "edited") : cli_oom(cli);
        free(body);
        json_decref(req);
        return rc;
}

int cli_check_limit(struct cli *cli, struct cli_args *a)
{
        long long v;

        if (a->opt[O_LIMIT] && cli_parse_count(a->opt[O_LIMIT], &v) != 0)
                return cli_usage_error(cli->prog, NULL,
                                       "--limit needs a non-negative integer, not '%s'",
                                       a->opt[O_LIMIT]);
        return EXIT_OK_;
}
