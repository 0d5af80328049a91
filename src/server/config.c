/*
 * config.c: flag and environment parsing for batond. Workload: runs once at
 * start. Assumptions: values are plain decimal integers (no suffixes), so what
 * --help shows is exactly what a user can type; every value is range-checked
 * here so the rest of the server can trust struct limits without re-checking.
 * Flags accept both "--flag value" and "--flag=value".
 */
#include "server/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/auth.h"
#include "server/server.h"

/* How a setting's text becomes its value: a number of the field's width in
 * [min, max], a boolean word, or a string copied into a field of max bytes. */
enum kind {
        K_SIZE,   /* size_t */
        K_INT,    /* int */
        K_I64,    /* int64_t */
        K_BOOL,   /* bool: 1, 0, true or false */
        K_SYNC,   /* bool sync_full: full or normal */
        K_LOG,    /* int log level: log_level_parse */
        K_LISTEN, /* HOST:PORT into listen_host and listen_port */
        K_TEXT,   /* a non-empty string */
        K_STORE,  /* sqlite or a PostgreSQL URI */
        K_NODE,   /* a node id: config_node_id_valid */
};

/* One setting: its flag (without the leading "--", also its variable's name:
 * env_name), the field of struct config it sets (off), and how (kind, min,
 * max). help is for the limits listed by --help. */
struct opt {
        const char *flag;
        size_t off;
        int kind;
        int64_t min;
        int64_t max;
        const char *help;
};

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define DAY_MS (24LL * 3600 * 1000)

#define C(f) offsetof(struct config, f)
#define SZ(f) ((int64_t)sizeof(((struct config *)0)->f))
#define L(f) (offsetof(struct config, limits) + offsetof(struct limits, f))

/* The settings outside struct limits, in the order their variables are read. */
static const struct opt plain_opts[] = {
    {"listen", 0, K_LISTEN, 0, 0, NULL},
    {"data", C(data_dir), K_TEXT, 0, SZ(data_dir), NULL},
    {"store", C(store), K_STORE, 0, SZ(store), NULL},
    {"sync", C(sync_full), K_SYNC, 0, 0, NULL},
    {"log-level", C(log_level), K_LOG, 0, 0, NULL},
    {"shutdown-timeout-ms", C(shutdown_timeout_ms), K_I64, 0, 3600000, NULL},
    {"insecure-no-auth", C(insecure_no_auth), K_BOOL, 0, 0, NULL},
    {"metrics-public", C(metrics_public), K_BOOL, 0, 0, NULL},
    {"rate-limit-max", C(rate_limit_max), K_I64, 1, CONFIG_RATE_MAX_MAX, NULL},
    {"rate-limit-per-ms", C(rate_limit_per_ms), K_I64, 1, CONFIG_RATE_PER_MS_MAX, NULL},
    {"session-ttl-s", C(session_ttl_s), K_I64, CONFIG_SESSION_TTL_MIN_S, CONFIG_SESSION_TTL_MAX_S,
     NULL},
    {"cron-run-max-per-hour", C(cron_run_max_per_hour), K_I64, 0, 1000000, NULL},
    {"cron-min-interval-ms", C(cron_min_interval_ms), K_I64, 0, 366LL * 86400000, NULL},
    {"cron-file", C(cron_file), K_TEXT, 0, SZ(cron_file), NULL},
    {"tls-cert", C(tls_cert), K_TEXT, 0, SZ(tls_cert), NULL},
    {"tls-key", C(tls_key), K_TEXT, 0, SZ(tls_key), NULL},
    {"node-id", C(node_id), K_NODE, 0, SZ(node_id), NULL},
    {"leader-ttl-ms", C(leader_ttl_ms), K_I64, CONFIG_LEADER_TTL_MIN_MS, CONFIG_LEADER_TTL_MAX_MS,
     NULL},
    {"pg-statement-timeout-ms", C(pg_statement_timeout_ms), K_I64, 0,
     CONFIG_PG_STATEMENT_TIMEOUT_MAX_MS, NULL},
    {"pg-lock-timeout-ms", C(pg_lock_timeout_ms), K_I64, 0, CONFIG_PG_STATEMENT_TIMEOUT_MAX_MS,
     NULL},
    {"pg-idle-in-transaction-timeout-ms", C(pg_idle_tx_timeout_ms), K_I64, 0,
     CONFIG_PG_STATEMENT_TIMEOUT_MAX_MS, NULL},
};

/* The fields of struct limits, in the order --help lists them. */
static const struct opt limit_opts[] = {
    {"body-max-bytes", L(body_max_bytes), K_SIZE, 1 * KIB, 1024 * MIB,
     "request body size limit (413 body_too_large)"},
    {"payload-max-bytes", L(payload_max_bytes), K_SIZE, 16, 256 * MIB,
     "job payload size limit (413 payload_too_large)"},
    {"result-max-bytes", L(result_max_bytes), K_SIZE, 16, 256 * MIB,
     "job result size limit (413 result_too_large)"},
    {"error-max-bytes", L(error_max_bytes), K_SIZE, 16, 64 * MIB,
     "failure message size limit (413 error_too_large)"},
    {"progress-max-bytes", L(progress_max_bytes), K_SIZE, 16, 16 * MIB,
     "heartbeat progress object size limit (413 progress_too_large)"},
    {"name-max", L(name_max), K_SIZE, 1, 1024, "queue and type name length limit"},
    {"key-max", L(key_max), K_SIZE, 1, 4096, "key, id and worker length limit"},
    {"batch-max", L(batch_max), K_INT, 1, 100000,
     "jobs per enqueue and items per settle (413 batch_too_large)"},
    {"claim-max", L(claim_max), K_INT, 1, 100000, "largest claim \"max\""},
    {"list-max", L(list_max), K_INT, 1, 100000, "largest list \"limit\""},
    {"wait-max-ms", L(wait_max_ms), K_I64, 0, 3600000, "longest long-poll wait_ms"},
    {"lease-min-ms", L(lease_min_ms), K_I64, 1, 365 * DAY_MS, "shortest lease_ms/extend_ms"},
    {"lease-max-ms", L(lease_max_ms), K_I64, 1, 365 * DAY_MS, "longest lease_ms/extend_ms"},
    {"lease-default-ms", L(lease_default_ms), K_I64, 1, 365 * DAY_MS,
     "lease_ms of a job that names none"},
    {"delay-max-ms", L(delay_max_ms), K_I64, 0, 36600 * DAY_MS,
     "how far ahead delay_ms/run_at may reach"},
    {"max-attempts-max", L(max_attempts_max), K_INT, 1, 1000000, "largest max_attempts"},
    {"max-attempts-default", L(max_attempts_default), K_INT, 1, 1000000,
     "max_attempts of a job that names none"},
    {"backoff-max-ms", L(backoff_max_ms), K_I64, 0, 365 * DAY_MS,
     "largest backoff base_ms/max_ms and retry_in_ms"},
    {"backoff-default-base-ms", L(backoff_default_base_ms), K_I64, 0, 365 * DAY_MS,
     "default backoff base_ms"},
    {"backoff-default-max-ms", L(backoff_default_max_ms), K_I64, 0, 365 * DAY_MS,
     "default backoff max_ms"},
    {"completed-ttl-ms", L(completed_ttl_ms), K_I64, 0, 36600 * DAY_MS,
     "completed jobs are deleted this long after they finish"},
    {"dead-ttl-ms", L(dead_ttl_ms), K_I64, 0, 36600 * DAY_MS,
     "dead and cancelled jobs are deleted this long after they finish"},
    {"idempotency-ttl-ms", L(idempotency_ttl_ms), K_I64, 0, 36600 * DAY_MS,
     "how long an idempotency_key is remembered"},
    {"audit-retention-ms", L(audit_retention_ms), K_I64, 60000, 36600 * DAY_MS,
     "audit rows are deleted this long after they were written (default 90 days)"},
    {"worker-lost-ms", L(worker_lost_ms), K_I64, 1000, 36600 * DAY_MS,
     "a worker not seen for this long (and 2 lease periods) is \"lost\" (default 10 minutes)"},
    {"worker-retention-ms", L(worker_retention_ms), K_I64, 1000, 36600 * DAY_MS,
     "a worker not seen for this long leaves the registry (default 1 day)"},
    {"stats-retention-ms", L(stats_retention_ms), K_I64, 3600000, 400 * DAY_MS,
     "minutes of the stats series (GET /v1/stats) are kept this long (default 7 days)"},
    {"stats-sample-ms", L(stats_sample_ms), K_I64, 1000, 3600000,
     "the leader samples each queue's depth and running jobs this often (default 10 s)"},
    {"events-max-count", L(events_max_count), K_I64, 0, 1000000000,
     "events kept at most, the newest (0 = no count bound; default 1,000,000)"},
    {"events-max-age-ms", L(events_max_age_ms), K_I64, 1000, 36600 * DAY_MS,
     "events are deleted this long after they were written (default 7 days)"},
    {"events-heartbeat-ms", L(events_heartbeat_ms), K_I64, 100, 3600000,
     "an event stream sends a comment after this long without an event (default 15 s)"},
    {"purge-batch", L(purge_batch), K_INT, 1, 100000, "rows deleted per retention step"},
    {"history-max", L(history_max), K_INT, 1, 100000, "attempt and step log entries kept per job"},
    {"connections-max", L(connections_max), K_INT, 1, 1000000,
     "open HTTP connections (at the limit the longest idle one is closed; with none idle a "
     "new one gets 503 too_many_connections)"},
    {"header-max-bytes", L(header_max_bytes), K_SIZE, 1 * KIB, 1 * MIB,
     "request line and headers (431 header_too_large)"},
    {"head-timeout-ms", L(head_timeout_ms), K_I64, 100, 3600000,
     "a request head must arrive within this (408 request_timeout, closed)"},
    {"body-timeout-ms", L(body_timeout_ms), K_I64, 100, 3600000,
     "a request body must arrive within this after its head (408 request_timeout, closed)"},
    {"idle-timeout-ms", L(idle_timeout_ms), K_I64, 100, 86400000,
     "an idle kept-alive connection is closed after this"},
    {"body-memory-max-bytes", L(body_memory_max_bytes), K_SIZE, 1 * MIB, 64LL * 1024 * MIB,
     "request bodies being read or handled, all connections together (503 server_busy)"},
    {"replay-max", L(replay_max), K_INT, 1, 1000000, "dead jobs replayed or purged per call"},
    {"max-cron-schedules", L(cron_schedules_max), K_I64, 1, 10000000,
     "cron schedules per tenant (409 too_many_schedules)"},
    {"max-response-bytes", L(response_max_bytes), K_SIZE, 64 * KIB, 1024 * MIB,
     "byte budget of one answer: lists stop early with their cursor, claims return fewer jobs"},
    {"max-queues", L(queues_max), K_I64, 1, 10000000,
     "queues per tenant (409 too_many_queues when one more would be made)"},
    {"metrics-max-queues", L(metrics_queues_max), K_INT, 0, 1000000,
     "queues with their own /metrics series; the rest are summed under queue=\"_other\""},
};

#undef C
#undef SZ
#undef L

#define N_OPTS(a) (sizeof(a) / sizeof((a)[0]))
#define SHUTDOWN_TIMEOUT_DEFAULT_MS 10000

static void env_name(const char *flag, char *out, size_t n)
{
        size_t i = 0;

        snprintf(out, n, "BATON_");
        for (i = strlen(out); *flag && i + 1 < n; flag++, i++)
                out[i] =
                    *flag == '-' ? '_' : (char)(*flag >= 'a' && *flag <= 'z' ? *flag - 32 : *flag);
        out[i] = 0;
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
        char *end = NULL;
        long long v;

        if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}

static void store_num(struct config *c, const struct opt *o, int64_t v)
{
        char *p = (char *)c + o->off;

        if (o->kind == K_SIZE)
                *(size_t *)(void *)p = (size_t)v;
        else if (o->kind == K_INT)
                *(int *)(void *)p = (int)v;
        else
                *(int64_t *)(void *)p = v;
}

static int64_t load_num(const struct config *c, const struct opt *o)
{
        const char *p = (const char *)c + o->off;

        if (o->kind == K_SIZE)
                return (int64_t) * (const size_t *)(const void *)p;
        if (o->kind == K_INT)
                return *(const int *)(const void *)p;
        return *(const int64_t *)(const void *)p;
}

/* Splits "HOST:PORT" or "[V6]:PORT" into c's host and port. */
static int parse_listen(struct config *c, const char *s)
{
        const char *colon;
        const char *host = s;
        size_t host_len;
        int64_t port;

        if (*s == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -1;
                host = s + 1;
                host_len = (size_t)(close - host);
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon)
                        return -1;
                host_len = (size_t)(colon - s);
        }
        if (host_len == 0 || host_len >= sizeof(c->listen_host))
                return -1;
        if (parse_i64(colon + 1, 0, 65535, &port))
                return -1;
        memcpy(c->listen_host, host, host_len);
        c->listen_host[host_len] = 0;
        c->listen_port = (int)port;
        return 0;
}

/* A node id is 1-128 characters of [A-Za-z0-9._:-], so it reads well in logs
 * and JSON and needs no quoting anywhere. */
bool config_node_id_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > CONFIG_NODE_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == ':' || *s == '-'))
                        return false;
        return true;
}

/* Whether val may be the text of a string setting of kind. */
static bool text_valid(int kind, const char *val)
{
        if (kind == K_STORE)
                return strcmp(val, "sqlite") == 0 || strncmp(val, "postgres://", 11) == 0 ||
                       strncmp(val, "postgresql://", 13) == 0;
        if (kind == K_NODE)
                return config_node_id_valid(val);
        return *val != '\0';
}

/* Reads one of two words: 1 for yes, 0 for no, -1 for neither. */
static int word(const char *val, const char *yes, const char *no)
{
        if (strcmp(val, yes) == 0)
                return 1;
        return strcmp(val, no) == 0 ? 0 : -1;
}

/* Sets o's field of c from val. Returns 0, or -1 for a bad value. */
static int set_opt(struct config *c, const struct opt *o, const char *val)
{
        char *p = (char *)c + o->off;
        int64_t v;
        int w;

        switch (o->kind) {
        case K_LISTEN:
                return parse_listen(c, val);
        case K_TEXT:
        case K_STORE:
        case K_NODE:
                if (!text_valid(o->kind, val) || strlen(val) >= (size_t)o->max)
                        return -1;
                snprintf(p, (size_t)o->max, "%s", val);
                return 0;
        case K_BOOL:
        case K_SYNC:
                w = o->kind == K_SYNC ? word(val, "full", "normal") : word(val, "1", "0");
                if (w < 0 && o->kind == K_BOOL)
                        w = word(val, "true", "false");
                if (w < 0)
                        return -1;
                *(bool *)(void *)p = w == 1;
                return 0;
        case K_LOG:
                w = log_level_parse(val);
                if (w < 0)
                        return -1;
                *(int *)(void *)p = w;
                return 0;
        default:
                if (parse_i64(val, o->min, o->max, &v))
                        return -1;
                store_num(c, o, v);
                return 0;
        }
}

/* The setting named name (no leading dashes), or NULL. */
static const struct opt *find_opt(const char *name)
{
        for (size_t i = 0; i < N_OPTS(plain_opts); i++)
                if (strcmp(name, plain_opts[i].flag) == 0)
                        return &plain_opts[i];
        for (size_t i = 0; i < N_OPTS(limit_opts); i++)
                if (strcmp(name, limit_opts[i].flag) == 0)
                        return &limit_opts[i];
        return NULL;
}

/* Applies one named setting; name has no leading dashes. Returns 0, -1 for a
 * bad value, or 1 when the name is not a setting. */
static int apply(struct config *c, const char *name, const char *val)
{
        const struct opt *o = find_opt(name);

        return o ? set_opt(c, o, val) : 1;
}

/* Applies the variables of the n settings of opts that are set; ranged adds
 * the allowed range to the message about a bad value. */
static int load_env_opts(struct config *c, const struct opt *opts, size_t n, bool ranged, FILE *err)
{
        char env[96];
        const char *val;

        for (size_t i = 0; i < n; i++) {
                env_name(opts[i].flag, env, sizeof(env));
                val = getenv(env);
                if (!val || set_opt(c, &opts[i], val) == 0)
                        continue;
                if (ranged)
                        fprintf(err, "batond: invalid value for %s: '%s' (allowed %lld ... %lld)\n",
                                env, val, (long long)opts[i].min, (long long)opts[i].max);
                else
                        fprintf(err, "batond: invalid value for %s: '%s'\n", env, val);
                return -1;
        }
        return 0;
}

static int load_env(struct config *c, FILE *err)
{
        if (load_env_opts(c, plain_opts, N_OPTS(plain_opts), false, err))
                return -1;
        return load_env_opts(c, limit_opts, N_OPTS(limit_opts), true, err);
}

/* --help, part 1: what batond is and where it keeps its data. */
static void usage_basics(FILE *f)
{
        fprintf(f, "usage: batond [options]\n\n"
                   "batond is the baton job server. Every option can also be set with the\n"
                   "environment variable shown; a flag wins over its variable.\n\n");
        fprintf(f, "  --listen HOST:PORT     address to serve HTTP on (BATON_LISTEN)\n"
                   "                         default 127.0.0.1:7700; port 0 picks a free one\n"
                   "  --data DIR             data directory (BATON_DATA), default ./baton-data\n"
                   "  --store sqlite|URI     the store (BATON_STORE): sqlite (default, in the\n"
                   "                         data directory) or a PostgreSQL URI\n"
                   "                         postgres://user@host:port/db (shared by nodes)\n"
                   "  --sync full|normal     durability (BATON_SYNC), default full: fsync at\n"
                   "                         every commit. normal: fsync at checkpoints only;\n"
                   "                         a power loss may lose the last commits, a crash\n"
                   "                         of the process does not\n"
                   "  --log-level LEVEL      debug|info|warn|error|off (BATON_LOG_LEVEL), "
                   "default info\n");
        fprintf(f,
                "  --shutdown-timeout-ms N  longest graceful stop after SIGTERM "
                "(BATON_SHUTDOWN_TIMEOUT_MS), default %d\n",
                SHUTDOWN_TIMEOUT_DEFAULT_MS);
}

/* --help, part 2: keys, rate limits and the cron settings. */
static void usage_auth(FILE *f)
{
        fprintf(
            f,
            "\nauthentication (docs/operations.md, \"Keys and tenants\"):\n"
            "  --insecure-no-auth     no API keys: every request acts as tenant \"default\"\n"
            "                         with every scope (BATON_INSECURE_NO_AUTH=1); refused\n"
            "                         unless --listen is a loopback address\n"
            "  --metrics-public       GET /metrics without a key (BATON_METRICS_PUBLIC=1);\n"
            "                         by default it needs a key of tenant \"default\" with\n"
            "                         the metrics (or admin) scope\n"
            "  --rate-limit-max N     requests per --rate-limit-per-ms for a key without its\n"
            "                         own limit (BATON_RATE_LIMIT_MAX), default %d\n"
            "  --rate-limit-per-ms M  the window of that limit (BATON_RATE_LIMIT_PER_MS),\n"
            "                         default %d; 429 rate_limited beyond it\n"
            "  --session-ttl-s N      lifetime of a web dashboard sign-in (BATON_SESSION_TTL_S),\n"
            "                         default %d, %d ... %d\n"
            "  --cron-run-max-per-hour N  manual cron runs per schedule and hour, for the\n"
            "                         cron routes (BATON_CRON_RUN_MAX_PER_HOUR), default %d\n"
            "  --cron-min-interval-ms N  cron schedules that fire more often are refused\n"
            "                         (BATON_CRON_MIN_INTERVAL_MS), default %d\n"
            "  --cron-file FILE       apply this cron registry ({\"schedules\": [...],\n"
            "                         \"prune\": bool}, as PUT /v1/cron) for tenant\n"
            "                         \"default\" at start (BATON_CRON_FILE); batond\n"
            "                         refuses to start (exit 2) when it is invalid\n",
            CONFIG_RATE_MAX_DEFAULT, CONFIG_RATE_PER_MS_DEFAULT, CONFIG_SESSION_TTL_DEFAULT_S,
            CONFIG_SESSION_TTL_MIN_S, CONFIG_SESSION_TTL_MAX_S, CONFIG_CRON_RUN_PER_HOUR_DEFAULT,
            CONFIG_CRON_MIN_INTERVAL_DEFAULT_MS);
}

/* --help, part 3: the settings of several nodes sharing a store. */
static void usage_cluster(FILE *f)
{
        fprintf(
            f,
            "\nseveral nodes (docs/operations.md, \"Several nodes\"):\n"
            "  --node-id ID           this node's name, 1-128 of [A-Za-z0-9._:-] (BATON_NODE_ID),\n"
            "                         default: <host name>-<8 hex>, made at the first start\n"
            "                         and kept in <data>/node-id\n"
            "  --leader-ttl-ms N      leader lease length, renewed every N/4 on a connection\n"
            "                         of its own (BATON_LEADER_TTL_MS), default %d, allowed\n"
            "                         %d ... %d\n"
            "  --pg-statement-timeout-ms N  PostgreSQL statement_timeout of the store's\n"
            "                         connection: a statement running longer fails its\n"
            "                         operation or batch with 503 store_unavailable\n"
            "                         (BATON_PG_STATEMENT_TIMEOUT_MS), default %d, 0 = none,\n"
            "                         at most %d\n"
            "  --pg-lock-timeout-ms N PostgreSQL lock_timeout of the store's connection: a\n"
            "                         wait longer for a row another session holds fails the\n"
            "                         whole batch with 503 store_unavailable\n"
            "                         (BATON_PG_LOCK_TIMEOUT_MS), default %d, 0 = none,\n"
            "                         at most %d\n"
            "  --pg-idle-in-transaction-timeout-ms N  idle_in_transaction_session_timeout\n"
            "                         of batond's PostgreSQL sessions: the database ends the\n"
            "                         session (and frees the locks) of a node stalled inside\n"
            "                         a transaction (BATON_PG_IDLE_IN_TRANSACTION_TIMEOUT_MS),\n"
            "                         default %d, 0 = none, at most %d\n",
            CONFIG_LEADER_TTL_DEFAULT_MS, CONFIG_LEADER_TTL_MIN_MS, CONFIG_LEADER_TTL_MAX_MS,
            CONFIG_PG_STATEMENT_TIMEOUT_DEFAULT_MS, CONFIG_PG_STATEMENT_TIMEOUT_MAX_MS,
            CONFIG_PG_LOCK_TIMEOUT_DEFAULT_MS, CONFIG_PG_STATEMENT_TIMEOUT_MAX_MS,
            CONFIG_PG_IDLE_TX_TIMEOUT_DEFAULT_MS, CONFIG_PG_STATEMENT_TIMEOUT_MAX_MS);
}

/* --help, part 4: HTTPS, every limit with its default and range, and the
 * flags that only print. */
static void usage_limits(FILE *f)
{
        struct config d;
        char env[96];

        memset(&d, 0, sizeof(d));
        limits_default(&d.limits);
        fprintf(f, "\nHTTPS (docs/operations.md, \"TLS\"):\n"
                   "  --tls-cert FILE        PEM certificate chain (BATON_TLS_CERT); with\n"
                   "  --tls-key FILE         its PEM private key (BATON_TLS_KEY) the listener\n"
                   "                         serves HTTPS only (TLS 1.2 and 1.3); SIGHUP\n"
                   "                         reads both again without dropping connections\n");
        fprintf(f, "\nlimits (docs/api.md, \"Limits and their errors\"):\n");
        for (size_t i = 0; i < sizeof(limit_opts) / sizeof(limit_opts[0]); i++) {
                const struct opt *o = &limit_opts[i];
                env_name(o->flag, env, sizeof(env));
                fprintf(f, "  --%-26s %s\n  %-28s default %lld, allowed %lld ... %lld (%s)\n",
                        o->flag, o->help, "", (long long)load_num(&d, o), (long long)o->min,
                        (long long)o->max, env);
        }
        fprintf(
            f,
            "\nother:\n"
            "  --routes               print the route table (method, path, scope, query) and exit\n"
            "  --version              print the version and exit\n"
            "  --help                 print this help and exit\n");
}

static void usage(FILE *f)
{
        usage_basics(f);
        usage_auth(f);
        usage_cluster(f);
        usage_limits(f);
}

/* Cross-field rules the single ranges cannot express. */
static int check_consistent(const struct limits *l, FILE *err)
{
        if (l->lease_min_ms > l->lease_max_ms || l->lease_default_ms < l->lease_min_ms ||
            l->lease_default_ms > l->lease_max_ms) {
                fprintf(err, "batond: need lease-min-ms <= lease-default-ms <= lease-max-ms\n");
                return -1;
        }
        if (l->max_attempts_default > l->max_attempts_max) {
                fprintf(err, "batond: need max-attempts-default <= max-attempts-max\n");
                return -1;
        }
        if (l->backoff_default_base_ms > l->backoff_default_max_ms ||
            l->backoff_default_max_ms > l->backoff_max_ms) {
                fprintf(err, "batond: need backoff-default-base-ms <= backoff-default-max-ms"
                             " <= backoff-max-ms\n");
                return -1;
        }
        /* A worker is lost before it is forgotten, never the other way. */
        if (l->worker_lost_ms > l->worker_retention_ms) {
                fprintf(err, "batond: need worker-lost-ms <= worker-retention-ms\n");
                return -1;
        }
        return 0;
}

/* --insecure-no-auth is for a developer's machine: never on an address other
 * machines can reach. */
static int check_insecure(const struct config *c, FILE *err)
{
        if (!c->insecure_no_auth || c->print_routes || auth_host_loopback(c->listen_host))
                return 0;
        fprintf(err,
                "batond: --insecure-no-auth is refused on %s: it is allowed only with a "
                "loopback listen address (a literal 127.0.0.0/8 or ::1 address, or localhost "
                "when every address it resolves to is loopback); nothing was started\n",
                c->listen_host);
        return -1;
}

/* Handles the flags that only print something. Returns 1 if arg was one. */
static int info_flag(struct config *c, const char *arg, FILE *out, int *exit_code)
{
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
                usage(out);
                *exit_code = 0;
                return 1;
        }
        if (strcmp(arg, "--version") == 0) {
                fprintf(out, "batond %s\n", BATOND_VERSION);
                *exit_code = 0;
                return 1;
        }
        if (strcmp(arg, "--routes") == 0) {
                c->print_routes = true;
                return 2;
        }
        if (strcmp(arg, "--insecure-no-auth") == 0) {
                c->insecure_no_auth = true;
                return 2;
        }
        if (strcmp(arg, "--metrics-public") == 0) {
                c->metrics_public = true;
                return 2;
        }
        return 0;
}

static int load_argv(struct config *c, int argc, char **argv, FILE *out, FILE *err, int *exit_code)
{
        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                char name[64];
                const char *val;
                const char *eq;
                int rc = info_flag(c, arg, out, exit_code);

                if (rc == 1)
                        return CONFIG_EXIT;
                if (rc == 2)
                        continue;
                if (strncmp(arg, "--", 2) != 0 || strlen(arg) >= sizeof(name) + 2) {
                        fprintf(err, "batond: unknown argument '%s' (see --help)\n", arg);
                        goto bad;
                }
                eq = strchr(arg, '=');
                if (eq) {
                        snprintf(name, sizeof(name), "%.*s", (int)(eq - arg - 2), arg + 2);
                        val = eq + 1;
                } else {
                        snprintf(name, sizeof(name), "%s", arg + 2);
                        if (i + 1 >= argc) {
                                struct config probe = *c;
                                /* An unknown name reads better than "needs a value". */
                                if (apply(&probe, name, "") == 1)
                                        fprintf(err, "batond: unknown option '%s' (see --help)\n",
                                                arg);
                                else
                                        fprintf(err, "batond: %s needs a value\n", arg);
                                goto bad;
                        }
                        val = argv[++i];
                }
                rc = apply(c, name, val);
                if (rc == 1) {
                        fprintf(err, "batond: unknown option '--%s' (see --help)\n", name);
                        goto bad;
                }
                if (rc) {
                        fprintf(err, "batond: invalid value for --%s: '%s' (see --help)\n", name,
                                val);
                        goto bad;
                }
        }
        return CONFIG_RUN;
bad:
        *exit_code = 2;
        return CONFIG_EXIT;
}

bool config_store_is_postgres(const struct config *c)
{
        return strncmp(c->store, "postgres", 8) == 0;
}

int config_load(struct config *c, int argc, char **argv, FILE *out, FILE *err, int *exit_code)
{
        int rc;

        memset(c, 0, sizeof(*c));
        snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
        c->listen_port = 7700;
        snprintf(c->data_dir, sizeof(c->data_dir), "./baton-data");
        c->sync_full = true;
        c->log_level = LOG_INFO;
        c->shutdown_timeout_ms = SHUTDOWN_TIMEOUT_DEFAULT_MS;
        c->rate_limit_max = CONFIG_RATE_MAX_DEFAULT;
        c->rate_limit_per_ms = CONFIG_RATE_PER_MS_DEFAULT;
        c->session_ttl_s = CONFIG_SESSION_TTL_DEFAULT_S;
        c->cron_run_max_per_hour = CONFIG_CRON_RUN_PER_HOUR_DEFAULT;
        c->cron_min_interval_ms = CONFIG_CRON_MIN_INTERVAL_DEFAULT_MS;
        c->leader_ttl_ms = CONFIG_LEADER_TTL_DEFAULT_MS;
        c->pg_statement_timeout_ms = CONFIG_PG_STATEMENT_TIMEOUT_DEFAULT_MS;
        c->pg_lock_timeout_ms = CONFIG_PG_LOCK_TIMEOUT_DEFAULT_MS;
        c->pg_idle_tx_timeout_ms = CONFIG_PG_IDLE_TX_TIMEOUT_DEFAULT_MS;
        limits_default(&c->limits);
        *exit_code = 0;

        if (load_env(c, err)) {
                *exit_code = 2;
                return CONFIG_EXIT;
        }
        rc = load_argv(c, argc, argv, out, err, exit_code);
        if (rc != CONFIG_RUN)
                return rc;
        if (!c->tls_cert[0] != !c->tls_key[0]) {
                fprintf(err, "batond: --tls-cert and --tls-key go together\n");
                *exit_code = 2;
                return CONFIG_EXIT;
        }
        if (check_consistent(&c->limits, err) || check_insecure(c, err)) {
                *exit_code = 2;
                return CONFIG_EXIT;
        }
        return CONFIG_RUN;
}
