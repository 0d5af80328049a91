/*
 * work.h: what the two files of `baton work` share: one slot's job and the
 * command it runs (struct wjob), the worker's options (struct wcfg), and the
 * child-process steps of work_child.c (spawn, feed stdin, read stdout and
 * stderr, kill, build the result and the error) that the main loop in work.c
 * drives, and the info work_info.c builds for the claims. Assumes one thread, the main one, touches
 * a wjob.
 */
#ifndef BATON_CLI_WORK_H
#define BATON_CLI_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli/cli.h"

#define OUT_MAX_BYTES (256 * 1024) /* stdout kept as the result: the server's default limit */
#define ERR_TAIL_BYTES 4096        /* stderr tail kept as the error */

enum kill_reason { KILL_NONE = 0, KILL_TIMEOUT, KILL_CANCEL, KILL_GRACE, KILL_LOST };

struct wjob {
        bool used;
        char *id, *lease, *type, *queue;
        int attempt;
        int64_t lease_ms;
        char *payload; /* JSON text + "\n" written to stdin */
        size_t payload_len, payload_off;
        pid_t pid; /* process (and group) id; 0 when not started */
        int in_fd, out_fd, err_fd;
        char *out;
        size_t out_len;
        bool out_overflow;
        char err[ERR_TAIL_BYTES]; /* ring buffer of the last bytes of stderr */
        size_t err_total;
        bool exited;
        int status;
        int64_t started_ms, exited_ms, deadline_ms, hb_next_ms;
        enum kill_reason killed;
};

struct wcfg {
        const char *queue;
        const char *worker;
        int concurrency;
        int64_t lease_ms; /* 0 = each job's own */
        int64_t timeout_ms;
        int64_t grace_ms;
        int64_t poll_ms;
        char *info; /* the claims' info, compact JSON (work_info_build); owned */
        char **argv;
};

/* Builds the info `baton work` claims with (host, pid, version and the
 * labels of a's --label flags) into *out, compact JSON owned by the caller
 * (free). Returns EXIT_OK_, or EXIT_USAGE after printing what is wrong with
 * --label (nothing is sent then). */
int work_info_build(struct cli *cli, const struct cli_args *a, char **out);

/* The last bytes of stderr, in order, without a trailing newline, cleaned.
 * *truncated tells whether earlier bytes were dropped. Caller frees. */
char *work_err_tail(const struct wjob *j, bool *truncated);
/* The result for a completed job: stdout as JSON when it parses, otherwise as
 * a JSON string (one trailing newline dropped); null when empty. Caller frees. */
char *work_result_json(const struct wjob *j);
/* Closes j's pipes, frees its strings and empties the slot. */
void work_job_release(struct wjob *j);
/* Starts CMD for j (see work_child.c). Returns 0, or a negative errno-style
 * code with j->pid 0. */
int work_job_spawn(struct wjob *j, const struct wcfg *cfg);
/* Kills j's process group (once it runs and has not exited), noting why. */
void work_kill_group(struct wjob *j, enum kill_reason why);
/* Feeds stdin; closes it when the payload is written or the child closed it. */
void work_job_write(struct wjob *j);
/* Reads what is available on stdout (bounded) or stderr (ring). */
void work_job_read(struct wjob *j, bool is_err);

#endif
