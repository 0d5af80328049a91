/*
 * harness_batond.h: the one place end-to-end and fault tests start batond.
 * harness_start runs a real batond ($BATOND) on a free 127.0.0.1 port with a
 * fresh temporary data directory, waits until /healthz answers, stops it by
 * pid (SIGTERM, then SIGKILL after a bounded wait), kills it with SIGKILL,
 * restarts it on the same data directory, and captures its stdout and stderr
 * into a log file the test can read. harness_run runs batond once to its end,
 * for the starts that must fail (a refused flag or directory) and for
 * commands such as --routes, with the output captured in memory.
 *
 * Every wait here is bounded in count and time. Every process started is
 * recorded until it is reaped, and an exit handler kills (by pid) any the
 * test left running, so a failed assertion cannot leak a process; a child
 * also receives SIGKILL if the test process dies (PR_SET_PDEATHSIG).
 * Include it through support/harness.h.
 */
#ifndef BATON_TESTS_HARNESS_BATOND_H
#define BATON_TESTS_HARNESS_BATOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/errors.h"
#include "support/pgtest.h"

#define HARNESS_ARGS_MAX 32

struct harness {
        pid_t pid; /* 0 when not running */
        int port;
        char url[64];                 /* http://127.0.0.1:PORT */
        char root[256];               /* temporary directory holding data/ and batond.log */
        char data_dir[300];           /* root/data: the server's data directory */
        char log_path[300];           /* root/batond.log: the server's stdout and stderr */
        char *args[HARNESS_ARGS_MAX]; /* extra arguments, kept for restarts */
        int n_args;
        int exit_status; /* wait status of the last stop, kill or crash */
        /* The bootstrap admin key, read from data_dir/admin.key after the start
         * ("" when the server wrote none). harness_client and http_raw/http_json
         * on h->url send it unless told otherwise. */
        char admin_key[128];
        /* With "--tls-cert FILE" among the arguments: FILE, trusted by every
         * client the harness makes (h->url is then https://). */
        char ca_file[300];
        /* With BATON_TEST_STORE=postgres: the fresh schema batond runs on
         * (--store pg.uri), kept across restarts, dropped by harness_stop. */
        struct pgtest pg;
};

/*
 * Starts batond with a new temporary root, extra arguments args (NULL-terminated
 * list, may be NULL) after the harness's own, and waits up to 5 s for /healthz.
 * Retries with another port (at most 5 times) when the server exits early, as it
 * does when another process took the port. Returns 0, or -1 with a message on
 * stderr (the log's tail included). On failure nothing is left running.
 * Then reads the admin key (see admin_key).
 *
 * With BATON_TEST_STORE=postgres (ctest registers every e2e and fault test a
 * second time, named <test>_pg, with it), the server runs on a fresh
 * PostgreSQL schema (pgtest.h) instead of SQLite, unless args name a --store
 * of their own; without BATON_TEST_PG_URI the test process exits with
 * PGTEST_SKIP_CODE, which ctest reports as skipped.
 */
int harness_start(struct harness *h, const char *const *args);
/* Starts batond again on the same data directory and arguments, on the same
 * port when it is still free, else on a new one (h->url changes). */
int harness_restart(struct harness *h);
/* Sends sig and waits up to timeout_ms for the process to exit; returns 0 with
 * its wait status in h->exit_status, or -1 if it is still running (left
 * running). elapsed_ms (may be NULL) receives the time it took. */
int harness_signal_wait(struct harness *h, int sig, int64_t timeout_ms, int64_t *elapsed_ms);
/* SIGKILL and reap; keeps the data directory. */
int harness_kill9(struct harness *h);
/* SIGTERM, then SIGKILL after 10 s; reaps. Keeps the data directory. Returns 0
 * when the server exited on its own with status 0. */
int harness_shutdown(struct harness *h);
/* harness_shutdown, then removes the temporary root and frees the arguments.
 * Safe to call twice and on a harness that never started. With
 * BATON_TEST_KEEP_LOG set, the log's tail is printed first. */
int harness_stop(struct harness *h);

/* The log (stdout and stderr of every run of this harness) as a NUL-terminated
 * string owned by the caller (free), or NULL. */
char *harness_read_log(const struct harness *h);
/* Prints the last max_bytes of the log to stderr, for failure messages. */
void harness_dump_log(const struct harness *h, size_t max_bytes);

/* A libbaton client for h->url, owned by the caller (baton_client_free).
 * Aborts the test program when it cannot be made (out of memory). */
struct baton_client *harness_client(const struct harness *h);
/* The same with another key (NULL: no Authorization header at all). */
struct baton_client *harness_client_key(const struct harness *h, const char *key);

/* ---- one server for a test file ----
 *
 * A test file whose tests share one server names it in main(), before
 * cmocka runs the group:
 *
 *     harness_group(&srv, args, &cl);
 *     return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
 *
 * harness_group_up starts h with args (as harness_start; args must live until
 * then) and, when cl is not NULL, sets *cl to its client (harness_client,
 * shared by the file's tests). It returns 0, or -1 when the server did not
 * start (cmocka then fails the group). harness_group_down frees the client,
 * sets *cl to NULL and returns harness_stop's result. One group at a time;
 * the pair also serves as a test's own setup and teardown
 * (cmocka_unit_test_setup_teardown), for a fresh server per test. */
void harness_group(struct harness *h, const char *const *args, struct baton_client **cl);
int harness_group_up(void **state);
int harness_group_down(void **state);

/* ---- several nodes on one store ---- */

/*
 * Starts h as node node_id of a cluster whose nodes share the store at
 * store_uri: --store store_uri --node-id node_id, then args (NULL-terminated,
 * may be NULL). The first node (admin[0] == '\0') bootstraps the admin key,
 * which is copied into admin (128 bytes); a later node, whose store already
 * has one and so shows none, is given it as its admin_key. Returns
 * harness_start's result.
 */
int harness_node_start(struct harness *h, const char *store_uri, const char *node_id,
                       const char *const *args, char *admin);

#define HARNESS_NODES_MAX 4

/* Nodes sharing one fresh PostgreSQL schema, for multi-node tests. */
struct harness_cluster {
        struct pgtest pg; /* the schema every node of the test shares */
        char admin[128];  /* the admin key node 0 bootstrapped, every node's admin_key */
        int n_nodes;
        struct harness n[HARNESS_NODES_MAX];
};

/*
 * cmocka setup of a multi-node test: a fresh schema (pgtest_create) and
 * n_nodes nodes on it (harness_node_start), node i named id_prefix and i + 1
 * ("n1", "n2", ...) and started with args. *state gets the cluster (calloc;
 * harness_cluster_down frees it). Returns 0, or -1 with nothing left running
 * and *state NULL.
 */
int harness_cluster_up(void **state, int n_nodes, const char *id_prefix, const char *const *args);
/* cmocka teardown: stops every node, drops the schema, frees the cluster. */
int harness_cluster_down(void **state);

/* ---- batond runs that end by themselves ---- */

/* Bound on one harness_run when the caller gives none. */
#define HARNESS_RUN_TIMEOUT_MS 10000

/* One run of $BATOND that must end on its own: a start that is refused (a
 * bad flag, store or data directory), or a command such as --routes. The
 * caller fills the first four members (zero-initialise the rest: {0} or a
 * designated initialiser); harness_run fills the others. */
struct harness_run {
        const char *const *args; /* after the program name, NULL-terminated (NULL: none) */
        const char *const *env;  /* "NAME=value" entries added to the child's
                                  * environment only; NULL-terminated, may be NULL */
        int64_t timeout_ms;      /* bound on the whole run; 0: HARNESS_RUN_TIMEOUT_MS */
        bool merge_stderr;       /* stderr into out too, in the order written; err stays "" */
        int status;              /* wait status; -1 when it did not end in time or never started */
        char *out;               /* what it wrote on stdout, NUL-terminated (owned by r) */
        char *err;               /* what it wrote on stderr, NUL-terminated (owned by r) */
};

/*
 * Runs $BATOND with r->args, stdin on /dev/null and stdout and stderr
 * captured (up to 4 MiB each; more is read and dropped), and waits at most
 * r->timeout_ms for it to exit and close its output. Returns the exit code
 * (0 to 255) when it exited by itself, or -1 when a signal ended it, when it
 * was still running at the bound (it and its process group then get SIGKILL
 * and are reaped; a message goes to stderr), or when it could not be started.
 * What a previous run left in r->out and r->err is freed first, so one r can
 * serve several runs; harness_run_free frees the last.
 */
int harness_run(struct harness_run *r);
void harness_run_free(struct harness_run *r);

#endif
