/*
 * cli.h: what the files of the baton command share: the parsed command line,
 * the exit-code contract, the call helper that performs one API request and
 * maps its answer to an exit code, path and query builders, and the
 * human-readable printers. The CLI talks to batond through libbaton's raw call,
 * so --json can print exactly what the server said; `baton work` uses the typed
 * calls (claim, heartbeat, complete, fail).
 */
#ifndef BATON_CLI_H
#define BATON_CLI_H

#include <jansson.h>
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
        O_COUNT
};

#define OPT(x) (1ul << (x))

/* One command's arguments after option parsing. */
struct cli_args {
        const char *pos[CLI_POS_MAX]; /* positional arguments after the command words */
        int n_pos;
        const char *opt[O_COUNT];
        char **cmd_argv; /* `work`: the command after "--", NULL-terminated */
        int cmd_argc;
        const char *usage; /* the command's usage line, for usage errors */
};

struct cli {
        const char *url;
        bool json;
        struct baton_client *client;
        const char *prog;
        char *key;            /* the API key in use (owned), NULL for none */
        const char *key_from; /* where it came from, for messages */
};

/*
 * Performs one request. On a 2xx answer returns EXIT_OK_ and, when root is not
 * NULL, the parsed body (owned by the caller: json_decref); with --json the body
 * is also printed as the server sent it when print_json is set. Otherwise prints
 * the error on stderr and returns the exit code of the contract above.
 */
int cli_call(struct cli *cli, const char *method, const char *path, const char *body,
             bool print_json, json_t **root);
/* GET path, one page of a list: without --json prints the array member
 * through print_table and then the page's cursor (print_next). Returns
 * cli_call's exit code. */
int cli_get_page(struct cli *cli, const char *path, const char *member,
                 void (*print_table)(const json_t *));

/* Maps a libbaton result (and the client's last error) to an exit code. */
int cli_exit_for(int rc, int http_status);

/* Prints "prog: message" and the usage line (or a hint); returns EXIT_USAGE. */
int cli_usage_error(const char *prog, const char *usage_line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

/* Commands in other files (admin.c, work.c, cron.c, timers.c). */
int cmd_keys_create(struct cli *cli, struct cli_args *a);
int cmd_keys_list(struct cli *cli, struct cli_args *a);
int cmd_keys_revoke(struct cli *cli, struct cli_args *a);
int cmd_keys_rotate(struct cli *cli, struct cli_args *a);
int cmd_audit(struct cli *cli, struct cli_args *a);
int cmd_work(struct cli *cli, struct cli_args *a);
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
int cmd_timer_put(struct cli *cli, struct cli_args *a);
int cmd_timer_get(struct cli *cli, struct cli_args *a);
int cmd_timer_list(struct cli *cli, struct cli_args *a);
int cmd_timer_cancel(struct cli *cli, struct cli_args *a);
int cmd_flow_create(struct cli *cli, struct cli_args *a);
int cmd_flow_get(struct cli *cli, struct cli_args *a);

/* Reads JSON text given as an argument: the text itself, "-" for stdin or
 * "@FILE". Returns the text (in *text when it was read; the caller frees it)
 * or NULL after printing why (main.c). */
const char *cli_read_source(const char *arg, char **text, const char *prog);

#endif
