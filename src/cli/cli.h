/*
 * cli.h: what the files of the baton command share: the parsed command line,
 * the exit-code contract, the call helper that performs one API request and
 * maps its answer to an exit code, path and query builders, and the
 * human-readable printers. The CLI talks to batond through libbaton's raw call,
 * so --json can print exactly what the server said; `baton work` uses the typed
 * calls (claim, heartbeat, complete, fail). Files: main.c (entry), commands.c
 * (command table, help), args.c (options), conn.c (server, key, requests),
 * jobs.c, queues.c, admin.c, cron.c, timers.c, work.c (+ work_child.c,
 * work_info.c, work.h), workers.c (commands), print.c (text output).
 */
#ifndef BATON_CLI_H
#define BATON_CLI_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "baton/baton.h"

/* Exit codes: the contract scripts rely on (printed by `baton --help`). */
enum cli_exit {
        EXIT_OK_ = 0,
        EXIT_REFUSED = 1,     /* the server refused the request (4xx), or a waited job failed */
        EXIT_USAGE = 2,       /* bad command line */
        EXIT_UNREACHABLE = 3, /* no answer from the server, or it failed (5xx) */
        EXIT_AUTH = 4,        /* no valid key (401) or a missing scope (403) */
        EXIT_RATE = 5,        /* rate limited (429); wait Retry-After seconds */
};

#define CLI_POS_MAX 64
/* `work --label`: the server's limit on a worker's labels (docs/api.md
 * "Workers"); one more is kept so that "too many" can be told. */
#define CLI_LABELS_MAX 32

/* Where the server and the key are looked for when no flag names them. */
#define DEFAULT_URL "http://127.0.0.1:7700"
#define DEFAULT_DATA_DIR "./baton-data"
#define KEY_FILE_NAME "admin.key"

/* Options; a->opt[O_x] is the value given, "" for a flag, NULL when absent. */
enum cli_opt {
        O_PRIORITY,
        O_DELAY,
        O_IDEM,
        O_WAIT,
        O_QUEUE,
        O_STATE,
        O_TYPE,
        O_LIMIT,
        O_AFTER,
        O_ALL,
        O_TENANT,
        O_SCOPES,
        O_EXPIRES,
        O_RATE_MAX,
        O_RATE_PER,
        O_GRACE,
        O_ACTION,
        O_KEY_ID,
        O_CONCURRENCY,
        O_LEASE,
        O_TIMEOUT,
        O_POLL,
        O_WORKER,
        O_MAX_ATTEMPTS,
        O_NOTE,
        O_FORCE,
        O_FROM,
        O_TZ,
        O_DST_GAP,
        O_DST_FOLD,
        O_FILE,
        O_PRUNE,
        O_CRON,
        O_NFIRES,
        O_PAYLOAD,
        O_FIRE_AT,
        O_IF_VERSION,
        O_PREFIX,
        O_DEPENDS_ON,
        O_GROUP,
        O_RATE,
        O_MAX_DEPTH,
        O_GROUP_CONCURRENCY,
        O_GROUP_RATE,
        O_BACKOFF,
        O_RUN_AT,
        O_KEEP_COMPLETED,
        O_KEEP_DEAD,
        O_KEEP_CANCELLED,
        O_KEY,
        O_REQUEST_ID,
        O_EXECUTION_ID,
        O_CREATED_AFTER,
        O_CREATED_BEFORE,
        O_FINISHED_AFTER,
        O_FINISHED_BEFORE,
        O_DESC,
        O_UNIQUE_WHILE,
        O_LABEL,
        O_FOLLOW,
        O_COUNT
};

#define OPT(x) (1ul << (x))

/* The filter flags of `job list` and `jobs bulk` (find.c), and their help. */
#define CLI_FILTER_OPTS                                                                            \
        (OPT(O_QUEUE) | OPT(O_STATE) | OPT(O_TYPE) | OPT(O_GROUP) | OPT(O_KEY) | OPT(O_IDEM) |     \
         OPT(O_REQUEST_ID) | OPT(O_EXECUTION_ID) | OPT(O_WORKER) | OPT(O_CREATED_AFTER) |          \
         OPT(O_CREATED_BEFORE) | OPT(O_FINISHED_AFTER) | OPT(O_FINISHED_BEFORE))
#define CLI_FILTER_HELP                                                                            \
        "  --queue Q, --type T, --group G, --key K, --idempotency-key K, --request-id R,\n"        \
        "  --execution-id E, --worker W   jobs with that value\n"                                  \
        "  --state S[,S...]       jobs in one of these states (dead,retrying)\n"                   \
        "  --created-after T, --created-before T, --finished-after T, --finished-before T\n"       \
        "                         RFC 3339 instants (2026-01-31T12:00:00Z); after is inclusive\n"  \
        "  --desc                 newest first"

/* One command's arguments after option parsing. */
struct cli_args {
        const char *pos[CLI_POS_MAX]; /* positional arguments after the command words */
        int n_pos;
        const char *opt[O_COUNT];
        /* A repeatable option (--label): every value given, in order; n_labels
         * counts them all, values past CLI_LABELS_MAX are not kept. */
        const char *labels[CLI_LABELS_MAX];
        int n_labels;
        char **cmd_argv; /* `work`: the command after "--", NULL-terminated */
        int cmd_argc;
        const char *usage; /* the command's usage line, for usage errors */
};

struct cli;

/* One entry of the command table (commands.c). */
struct cli_cmd {
        const char *group; /* first word */
        const char *name;  /* second word, NULL for one-word commands */
        const char *usage;
        const char *help;
        unsigned long opts; /* OPT() bits of the options it takes */
        int min_pos, max_pos;
        bool takes_command; /* everything after "--" is a command line (work) */
        int (*run)(struct cli *cli, struct cli_args *a);
};

/* Global options that take a value: --url, --key-file and --ca-file. */
struct cli_global {
        const char *url;
        const char *key_file;
        const char *ca_file;
};

struct cli {
        const char *url;
        bool json;
        const struct cli_cmd *cmd; /* the command that runs, NULL before it is known */
        struct baton_client *client;
        const char *prog;
        char *key;            /* the API key in use (owned), NULL for none */
        const char *key_from; /* where it came from, for messages */
};

/* Prints `baton --help` (the commands and the exit codes) to f (commands.c). */
void cli_usage(FILE *f, const char *prog);
/* Prints the usage and help of command c to f. */
void cli_cmd_usage(FILE *f, const char *prog, const struct cli_cmd *c);
/* Looks up the command whose words start at argv[i]. Returns EXIT_OK_ with
 * *out set, or an exit code with *out NULL after printing the group's help
 * (EXIT_OK_ for `GROUP --help`) or a usage error. */
int cli_find_cmd(struct cli *cli, int argc, char **argv, int i, const struct cli_cmd **out);

/*
 * Handles a global option at argv[*i] (--url, --key-file, --ca-file, --json); returns 1
 * when it was one, 0 when not, or -1 on a usage error (message printed) (args.c).
 */
int cli_global_opt(struct cli *cli, struct cli_global *g, int argc, char **argv, int *i);
/* True for --help and -h. */
bool cli_is_help(const char *arg);
/* Parses the arguments of command c from argv[first] into a. Returns EXIT_OK_,
 * EXIT_USAGE, or -1 when --help was printed. */
int cli_parse_args(struct cli *cli, struct cli_global *gl, const struct cli_cmd *c, int argc,
                   char **argv, int first, struct cli_args *a);

/* Sets cli's URL and key from gl and the environment and makes its client
 * (conn.c); returns EXIT_OK_ or the exit code after printing why. The caller
 * frees cli->client and cli->key either way. */
int cli_connect(struct cli *cli, struct cli_global *gl);

/*
 * Performs one request. On a 2xx answer returns EXIT_OK_ and, when root is not
 * NULL, the parsed body (owned by the caller: json_decref); with --json the body
 * is also printed as the server sent it when print_json is set. Otherwise prints
 * the error on stderr and returns the exit code of the contract above.
 */
int cli_call(struct cli *cli, const char *method, const char *path, const char *body,
             bool print_json, json_t **root);
/* cli_call (printing with --json) on prefix + escaped id + suffix, a path of
 * at most cap bytes: a longer one is a usage error naming what ("queue name
 * too long: ID"). */
int cli_call_on(struct cli *cli, const char *method, const char *prefix, const char *id,
                const char *suffix, size_t cap, const char *what, const char *body, json_t **root);
/* GET path, one page of a list: without --json prints the array member
 * through print_table and then the page's cursor (print_next). Returns
 * cli_call's exit code. */
int cli_get_page(struct cli *cli, const char *path, const char *member,
                 void (*print_table)(const json_t *));

/* Prints "prog: out of memory" and returns EXIT_REFUSED: what a command
 * exits with when building its request or its output runs out of memory. */
int cli_oom(const struct cli *cli);

/* What a list command asks for: GET of a path with query arguments, printing
 * the page's array member through print_table and then its cursor. */
struct cli_list {
        const char *member;
        void (*print_table)(const json_t *);
        size_t path_max; /* the longest path the command sends, query included */
        /* The query arguments: name and the option that gives it, in the
         * order they are sent (limit and after last); name NULL ends them. */
        struct {
                const char *name;
                enum cli_opt opt;
        } query[6];
};

/* GET base plus l's query arguments that a gives, one page printed as
 * cli_get_page does. Returns cli_call's exit code, or EXIT_USAGE when the
 * path is longer than l->path_max. */
int cli_list(struct cli *cli, struct cli_args *a, const char *base, const struct cli_list *l);

/* Maps a libbaton result (and the client's last error) to an exit code. */
int cli_exit_for(int rc, int http_status);

/* Prints "prog: message" and the usage line (or a hint); returns EXIT_USAGE.
 * With --json: the error object of cli_error, code "usage", its field the
 * flag or argument at fault (NULL: none). */
int cli_flag_error(const char *prog, const char *usage_line, const char *flag, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* cli_flag_error about no flag in particular. */
#define cli_usage_error(prog, usage_line, ...) cli_flag_error(prog, usage_line, NULL, __VA_ARGS__)

/* Errors (errors.c). With --json (cli_errors_json, switched on by main before
 * anything can fail) every error is one JSON object on stderr,
 * {"error": {"code", "message", "field"}}, the server's shape; otherwise a
 * line "prog: message". */
void cli_errors_json(bool on);
bool cli_errors_are_json(void);
/* An error of the CLI itself: code "usage", "unreachable", "bad_answer",
 * "internal" or "job_not_completed"; field (may be NULL) the flag or argument
 * at fault. */
void cli_error(const char *prog, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cli_verror(const char *prog, const char *code, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* The server's refusal e (HTTP status) of cli's command, its field named as
 * the flag or argument that set it ("--max-attempts", "QUEUE") in the field
 * and in the message; what (may be NULL) says which call it refused. */
void cli_server_error(const struct cli *cli, const char *what, const struct baton_error *e,
                      int status);
/* The flag or argument of command c that sets the request field field
 * ("max_attempts" -> "--max-attempts", "depends_on[1]" -> "--depends-on item
 * 2", "queue" -> "QUEUE" when it is an argument of the usage line), written in
 * out; NULL when the command has none (a field the user did not set). */
const char *cli_field_name(const struct cli_cmd *c, const char *field, char *out, size_t cap);
/* True when command c takes the option flag ("--max-attempts") (args.c). */
bool cli_takes_flag(const struct cli_cmd *c, const char *flag);

/* Builds prefix + escaped seg + suffix into path (capacity cap); -1 on overflow. */
int cli_make_path(char *path, size_t cap, const char *prefix, const char *seg, const char *suffix);
/* Appends "?k=v" / "&k=v" (v escaped) when v is set; -1 on overflow. */
int cli_add_query(char *path, size_t cap, const char *k, const char *v);
/* Parses a non-negative decimal integer; -1 when it is not one. */
int cli_parse_count(const char *s, long long *out);
/* Parses option o of a as a count in [min, max]; prints a usage error and
 * returns EXIT_USAGE when it is not. An absent option leaves *out alone. */
int cli_opt_count(struct cli *cli, struct cli_args *a, enum cli_opt o, const char *name,
                  long long min, long long max, long long *out);

/* Human-readable output (print.c). Each prints to stdout. */
/* The string member k of o, or "-" when it is absent or not a string. */
const char *print_str(const json_t *o, const char *k);
/* Prints member k of o as "k value", k padded to width: strings as they are,
 * other values as compact JSON; absent and null members print nothing. */
void print_field(const json_t *o, const char *k, int width);
/* Joins the string elements of arr with commas into buf (cap bytes); "-"
 * when there are none. */
const char *print_join(const json_t *arr, char *buf, size_t cap);
/* Prints a page's cursor, "next page: --after NEXT", when root has one
 * (member "next", a string or an integer). */
void print_next(const json_t *root);
void print_job(const json_t *job);
void print_job_table(const json_t *jobs);
void print_queue(const json_t *queue);
void print_queue_table(const json_t *queues);
void print_key(const json_t *key);
void print_key_table(const json_t *keys);
void print_audit_table(const json_t *entries);

/* Checks that --limit, when given, is a count; EXIT_USAGE after a message. */
int cli_check_limit(struct cli *cli, struct cli_args *a);

/* The commands (jobs.c, queues.c, admin.c, work.c, cron.c, timers.c). */
int cmd_health(struct cli *cli, struct cli_args *a);
int cmd_enqueue(struct cli *cli, struct cli_args *a);
int cmd_job_get(struct cli *cli, struct cli_args *a);
int cmd_job_list(struct cli *cli, struct cli_args *a);  /* find.c */
int cmd_jobs_bulk(struct cli *cli, struct cli_args *a); /* find.c */
int cmd_job_cancel(struct cli *cli, struct cli_args *a);
int cmd_job_retry(struct cli *cli, struct cli_args *a);
int cmd_job_promote(struct cli *cli, struct cli_args *a);
int cmd_job_purge(struct cli *cli, struct cli_args *a);
int cmd_job_edit(struct cli *cli, struct cli_args *a);
int cmd_queue_list(struct cli *cli, struct cli_args *a);
int cmd_queue_get(struct cli *cli, struct cli_args *a);
int cmd_queue_pause(struct cli *cli, struct cli_args *a);
int cmd_queue_resume(struct cli *cli, struct cli_args *a);
int cmd_queue_set(struct cli *cli, struct cli_args *a);
int cmd_queue_drain(struct cli *cli, struct cli_args *a);
int cmd_queue_delete(struct cli *cli, struct cli_args *a);
int cmd_dead_list(struct cli *cli, struct cli_args *a);
int cmd_dead_replay(struct cli *cli, struct cli_args *a);
int cmd_dead_purge(struct cli *cli, struct cli_args *a);
int cmd_keys_create(struct cli *cli, struct cli_args *a);
int cmd_keys_list(struct cli *cli, struct cli_args *a);
int cmd_keys_revoke(struct cli *cli, struct cli_args *a);
int cmd_keys_rotate(struct cli *cli, struct cli_args *a);
int cmd_audit(struct cli *cli, struct cli_args *a);
int cmd_work(struct cli *cli, struct cli_args *a);
int cmd_workers(struct cli *cli, struct cli_args *a);
int cmd_events(struct cli *cli, struct cli_args *a); /* events.c */
int cmd_cron_list(struct cli *cli, struct cli_args *a);
int cmd_cron_get(struct cli *cli, struct cli_args *a);
int cmd_cron_put(struct cli *cli, struct cli_args *a);
int cmd_cron_delete(struct cli *cli, struct cli_args *a);
int cmd_cron_pause(struct cli *cli, struct cli_args *a);
int cmd_cron_resume(struct cli *cli, struct cli_args *a);
int cmd_cron_run(struct cli *cli, struct cli_args *a);
int cmd_cron_runs(struct cli *cli, struct cli_args *a);
int cmd_cron_preview(struct cli *cli, struct cli_args *a);
int cmd_cron_apply(struct cli *cli, struct cli_args *a);
int cmd_scheduler(struct cli *cli, struct cli_args *a);
int cmd_timer_put(struct cli *cli, struct cli_args *a);
int cmd_timer_get(struct cli *cli, struct cli_args *a);
int cmd_timer_list(struct cli *cli, struct cli_args *a);
int cmd_timer_cancel(struct cli *cli, struct cli_args *a);
int cmd_flow_create(struct cli *cli, struct cli_args *a);
int cmd_flow_get(struct cli *cli, struct cli_args *a);

/* Reads JSON text given as an argument: the text itself, "-" for stdin or
 * "@FILE". Returns the text (in *text when it was read; the caller frees it)
 * or NULL after printing why (jobs.c). */
const char *cli_read_source(const char *arg, char **text, const char *prog);
/* Reads the document of -f FILE ("-" for stdin): a JSON object whose member
 * is an array; what names such a document in the message ("a flow").
 * Returns EXIT_OK_ with *doc (the caller decrefs it) and *text (the text read,
 * the caller frees it), or EXIT_USAGE after printing why. */
int cli_read_doc(struct cli *cli, struct cli_args *a, const char *member, const char *what,
                 json_t **doc, char **text);

#endif
