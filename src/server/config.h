/*
 * config.h: batond's settings from command-line flags and environment
 * variables (flags win). Every field of struct limits has its own flag
 * (--payload-max-bytes) and variable (BATON_PAYLOAD_MAX_BYTES), named as in
 * docs/api.md's limits table. Parsed once at start; read-only afterwards.
 */
#ifndef BATON_SERVER_CONFIG_H
#define BATON_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/limits.h"

#define CONFIG_HOST_MAX 256
#define CONFIG_PATH_MAX 4096
#define CONFIG_NODE_MAX 128 /* = STORE_NODE_MAX */

struct config {
        char listen_host[CONFIG_HOST_MAX];
        int listen_port; /* 0 = any free port (the chosen one is printed) */
        char data_dir[CONFIG_PATH_MAX];
        /* --store: "" or "sqlite" = the embedded SQLite store in data_dir (the
         * default); a postgres:// or postgresql:// URI = PostgreSQL (the data
         * directory then holds only admin.key). */
        char store[CONFIG_PATH_MAX];
        bool sync_full; /* fsync at every commit; false = --sync normal */
        int log_level;  /* enum log_level */
        int64_t shutdown_timeout_ms;
        bool print_routes; /* --routes: print the route table and exit */
        /* --insecure-no-auth: every request acts as tenant "default" with every
         * scope. Only accepted with a loopback listen address. */
        bool insecure_no_auth;
        /* --metrics-public: GET /metrics answers without a key (else it needs
         * a key of tenant "default" with the metrics or admin scope). */
        bool metrics_public;
        /* Per-key request rate limit for keys without their own: at most
         * rate_limit_max requests per rate_limit_per_ms (token bucket). */
        int64_t rate_limit_max;
        int64_t rate_limit_per_ms;
        /* --session-ttl-s: how long a web dashboard sign-in lasts (POST
         * /v1/sessions, the cookie's Max-Age). */
        int64_t session_ttl_s;
        /* Manual cron runs per schedule and hour (for the cron routes; stored
         * here so deployments can set it ahead of them). */
        int64_t cron_run_max_per_hour;
        /* --cron-min-interval-ms: schedules that fire more often are refused. */
        int64_t cron_min_interval_ms;
        /* --cron-file: a cron registry document applied at start for tenant
         * "default" ("" = none). */
        char cron_file[CONFIG_PATH_MAX];
        /* --node-id: this node's name among those sharing a store (leader
         * lease, GET /v1/scheduler); "" = the one kept in <data>/node-id,
         * made at the first start as "<host name>-<8 hex>" (server.c). */
        char node_id[CONFIG_NODE_MAX + 1];
        /* --leader-ttl-ms: how long a leader lease lasts without renewal (it is
         * renewed every ttl/4, on a connection of its own: sched.h), so the
         * longest a dead leader's duties wait. */
        int64_t leader_ttl_ms;
        /* --pg-statement-timeout-ms: statement_timeout of the PostgreSQL store
         * connection (0 = none), so a statement stuck behind a lock fails its
         * batch (503) instead of stalling the store thread. */
        int64_t pg_statement_timeout_ms;
        /* --tls-cert / --tls-key: PEM files; both set = the listener serves
         * HTTPS only (reloaded on SIGHUP); both "" = plain HTTP. */
        char tls_cert[CONFIG_PATH_MAX];
        char tls_key[CONFIG_PATH_MAX];
        /* --pg-lock-timeout-ms: lock_timeout of the PostgreSQL store
         * connection (0 = none): a statement waiting that long for a row
         * another session holds fails its whole batch (503, Retry-After). */
        int64_t pg_lock_timeout_ms;
        /* --pg-idle-in-transaction-timeout-ms: the
         * idle_in_transaction_session_timeout of batond's PostgreSQL sessions
         * (0 = none): the database ends the session of a node stalled inside
         * a transaction (SIGSTOP, a frozen VM), and its row locks go. */
        int64_t pg_idle_tx_timeout_ms;
        struct limits limits;
};

/* True if the configured store is PostgreSQL. */
bool config_store_is_postgres(const struct config *c);

/* What config_load asks the caller to do. */
enum config_action { CONFIG_RUN = 0, CONFIG_EXIT = 1 };

#define CONFIG_RATE_MAX_DEFAULT 100000
/* A dashboard session: 12 hours by default, 1 s (tests) to 30 days. */
#define CONFIG_SESSION_TTL_DEFAULT_S 43200
#define CONFIG_SESSION_TTL_MIN_S 1
#define CONFIG_SESSION_TTL_MAX_S 2592000
#define CONFIG_RATE_PER_MS_DEFAULT 1000
#define CONFIG_RATE_MAX_MAX 1000000000LL
#define CONFIG_RATE_PER_MS_MAX 86400000LL
#define CONFIG_CRON_RUN_PER_HOUR_DEFAULT 10
#define CONFIG_CRON_MIN_INTERVAL_DEFAULT_MS 60000
#define CONFIG_LEADER_TTL_DEFAULT_MS 2000
#define CONFIG_PG_STATEMENT_TIMEOUT_DEFAULT_MS 30000
#define CONFIG_PG_STATEMENT_TIMEOUT_MAX_MS 3600000
#define CONFIG_PG_LOCK_TIMEOUT_DEFAULT_MS 2000
#define CONFIG_PG_IDLE_TX_TIMEOUT_DEFAULT_MS 5000
#define CONFIG_LEADER_TTL_MIN_MS 2000
#define CONFIG_LEADER_TTL_MAX_MS 600000

/* Fills c from defaults, then the environment, then argv. Messages for --help
 * and --version go to out, errors to err. Returns CONFIG_RUN, or CONFIG_EXIT
 * with *exit_code set (0 after --help/--version, 2 after an invalid flag or
 * value, or --insecure-no-auth on a non-loopback address). --routes returns
 * CONFIG_RUN with print_routes set. */
int config_load(struct config *c, int argc, char **argv, FILE *out, FILE *err, int *exit_code);

/* True when s is a valid node id: 1-128 of [A-Za-z0-9._:-]. */
bool config_node_id_valid(const char *s);

#endif
