/*
 * cli.h: what the files of the baton command share: the parsed command line,
 * the call helper that performs one API request and applies the exit-code
 * contract, and the human-readable printers. The CLI talks to batond through
 * libbaton's raw call, so --json can print exactly what the server said.
 */
#ifndef BATON_CLI_H
#define BATON_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "baton/baton.h"

/* Exit codes: the contract scripts rely on. */
enum cli_exit {
        EXIT_OK_ = 0,
        EXIT_REFUSED = 1,     /* the server answered 4xx/5xx */
        EXIT_USAGE = 2,       /* bad command line */
        EXIT_UNREACHABLE = 3, /* no answer from the server */
};

#define CLI_POS_MAX 64

/* One command's arguments after option parsing. */
struct cli_args {
        const char *pos[CLI_POS_MAX]; /* positional arguments after the command words */
        int n_pos;
        /* Options; NULL / false when not given. */
        const char *priority;
        const char *delay_ms;
        const char *idempotency_key;
        const char *queue;
        const char *state;
        const char *type;
        const char *limit;
        const char *after;
        bool wait;
        bool all;
        const char *usage; /* the command's usage line, for usage errors */
};

struct cli {
        const char *url;
        bool json;
        struct baton_client *client;
        const char *prog;
};

/*
 * Performs one request. On a 2xx answer returns EXIT_OK_ and, when root is not
 * NULL, the parsed body (owned by the caller: json_decref); with --json the body
 * is also printed as the server sent it when print_json is set. Otherwise prints
 * the error on stderr and returns EXIT_REFUSED or EXIT_UNREACHABLE.
 */
int cli_call(struct cli *cli, const char *method, const char *path, const char *body,
             bool print_json, json_t **root);

/* Human-readable output (print.c). Each prints to stdout. */
void print_job(const json_t *job);
void print_job_table(const json_t *jobs);
void print_queue(const json_t *queue);
void print_queue_table(const json_t *queues);

#endif
