/*
 * server.c: batond's lifecycle. Opens the store, creates the first admin key
 * on the first start (saved to <data>/admin.key, mode 0600, printed once),
 * loads every API key into the keyring, starts the store thread (group commit), the HTTP front, the
 * waiters, the metrics and the next-deadline timer on one libevent loop, and stops them in order on
 * SIGTERM or SIGINT:
 *   1. stop accepting connections, mark the server stopping (new requests
 *      get 503 shutting_down, parked long-polls are answered at once);
 *   2. wait, bounded by --shutdown-timeout-ms, until every request handed to a
 *      handler has been answered, which includes every op submitted to the
 *      store thread (its reply is sent after its commit);
 *   3. stop the store thread (it finishes the batch in flight), close the
 *      store, exit 0.
 * With --cron-file, the cron registry document is applied for tenant
 * "default" after the keys and before anything serves; an invalid one stops
 * the start with exit code 2.
 * The effects hook runs after every commit: it wakes claim waiters of queues
 * that gained ready jobs, job waiters of jobs that became terminal, feeds the
 * metrics and re-arms the next-deadline timer.
 */
#include "server/server.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/rand.h"
#include "core/cron.h"
#include "core/keys.h"
#include "core/node.h"
#include "server/api.h"
#include "server/cluster.h"
#include "server/config.h"
#include "server/http.h"
#include "server/keyring.h"
#include "server/sessring.h"
#include "server/metrics.h"
#include "server/sched.h"
#include "server/waiters.h"

#define SHUTDOWN_POLL_MS 5

/* The parts server_run owns besides struct server. */
struct server_rt {
        struct server srv;
        struct event *sigterm;
        struct event *sigint;
        struct event *sighup; /* reloads the TLS certificate */
        struct event *drain;
        int64_t drain_deadline_ns;
        bool drain_timed_out;
        char *admin_token;     /* first start only: printed once by announce */
        bool admin_file_saved; /* the token is in <data>/admin.key */
        bool bad_cron_file;    /* --cron-file was refused: exit 2 */
};

int server_submit(struct server *srv, struct exec_op *op)
{
        if (!srv->exec)
                return BATON_ESHUTDOWN;
        exec_submit(srv->exec, op);
        return 0;
}

void server_hold(struct server *srv)
{
        if (srv->exec)
                exec_hold(srv->exec);
}

void server_release(struct server *srv)
{
        if (srv->exec)
                exec_release(srv->exec);
}

int server_submit_lease(struct server *srv, struct exec_op *op)
{
        if (!srv->lease_st)
                return server_submit(srv, op);
        if (!srv->lease_exec)
                return BATON_ESHUTDOWN;
        exec_submit(srv->lease_exec, op);
        return 0;
}

static void on_effects(void *ctx, const struct txn_effects *fx)
{
        struct server *srv = ctx;

        metrics_effects(srv->metrics, fx);
        for (int i = 0; i < fx->ready_n; i++)
                waiters_wake_queue(srv->waiters, fx->ready[i].tenant, fx->ready[i].queue);
        for (int i = 0; i < fx->terminal_n; i++)
                waiters_wake_job(srv->waiters, fx->terminal[i]);
        if (fx->deadline_ms && srv->sched)
                sched_arm(srv->sched, fx->deadline_ms);
        if (fx->retain_ms && srv->sched)
                sched_arm(srv->sched, fx->retain_ms);
}

static void on_batch(void *ctx, int ops, int64_t commit_ns, int64_t batch_ns)
{
        struct server *srv = ctx;

        (void)batch_ns;
        metrics_batch(srv->metrics, ops, commit_ns);
}

/* Polls until every handled request is answered (or the timeout), then stops
 * the store thread and the loop. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
        struct server_rt *rt = arg;
        struct server *srv = &rt->srv;
        bool idle = http_idle(srv->http) && !sched_busy(srv->sched);
        struct timeval tv = {0, SHUTDOWN_POLL_MS * 1000};

        (void)fd, (void)what;
        if (!idle && clock_mono_ns(srv->clock) < rt->drain_deadline_ns) {
                /* Long-polls parked after the first wake-up (a claim re-submitted
                 * just before stopping) are answered here too. */
                waiters_wake_all(srv->waiters);
                event_add(rt->drain, &tv);
                return;
        }
        if (!idle) {
                rt->drain_timed_out = true;
                log_warn("server", "shutdown timeout: %d request(s) still open",
                         exec_inflight(srv->exec));
        }
        /* exec_stop finishes the batch in flight and runs the remaining done
         * callbacks, so every acknowledged write is committed. */
        exec_stop(srv->exec);
        srv->exec = NULL;
        /* The release of the lease is done by now (sched_busy). */
        exec_stop(srv->lease_exec);
        srv->lease_exec = NULL;
        /* Let the loop flush the answers just written before it ends. */
        struct timeval flush = {0, 50 * 1000};
        event_base_loopexit(srv->base, &flush);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
        struct server_rt *rt = arg;
        struct server *srv = &rt->srv;
        struct timeval tv = {0, 0};

        (void)what;
        if (srv->stopping)
                return;
        log_info("server", "signal %d: stopping (waiting up to %lld ms for open requests)",
                 (int)sig, (long long)srv->cfg->shutdown_timeout_ms);
        srv->stopping = true;
        /* Another node takes the duties over at once (sched_busy holds the
         * drain until the release has committed). */
        sched_release(srv->sched);
        http_stop_accepting(srv->http);
        waiters_wake_all(srv->waiters);
        rt->drain_deadline_ns =
            clock_mono_ns(srv->clock) + srv->cfg->shutdown_timeout_ms * 1000000LL;
        event_add(rt->drain, &tv);
}

/* SIGHUP: the TLS certificate and key are read again (certificate renewal
 * without a restart); without TLS there is nothing to reload. */
static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
        struct server_rt *rt = arg;

        (void)sig, (void)what;
        http_reload_tls(rt->srv.http);
}

/* This node's id: --node-id, else the one kept in <data>/node-id, else a new
 * one ("<host name>-<8 hex>") written there, so a restarted node keeps its
 * name and takes its leader lease back at once instead of waiting for it to
 * lapse. */
static int resolve_node_id(struct server *srv)
{
        const struct config *cfg = srv->cfg;
        char path[CONFIG_PATH_MAX + 16], host[64] = "", token[RAND_TOKEN_LEN + 1], line[160];
        FILE *f;
        int fd;

        if (cfg->node_id[0]) {
                snprintf(srv->node_id, sizeof(srv->node_id), "%s", cfg->node_id);
                return 0;
        }
        snprintf(path, sizeof(path), "%s/node-id", cfg->data_dir);
        f = fopen(path, "r");
        if (f) {
                bool ok = fgets(line, sizeof(line), f) != NULL;
                fclose(f);
                line[strcspn(line, "\n")] = 0;
                if (!ok || !config_node_id_valid(line)) {
                        log_error("server",
                                  "%s does not hold a valid node id (1-128 of "
                                  "[A-Za-z0-9._:-]); fix or remove it, or pass --node-id",
                                  path);
                        return BATON_EINVAL;
                }
                memcpy(srv->node_id, line, strlen(line) + 1); /* valid: at most 128 */
                return 0;
        }
        if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
                snprintf(host, sizeof(host), "node");
        host[sizeof(host) - 1] = 0;
        host[strcspn(host, ".")] = 0;
        for (char *p = host; *p; p++)
                if (!config_node_id_valid((char[]){*p, 0}))
                        *p = '-';
        if (rand_token(token) != 0)
                return BATON_EIO;
        snprintf(srv->node_id, sizeof(srv->node_id), "%s-%.8s", host, token);
        fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 || dprintf(fd, "%s\n", srv->node_id) < 0 || fsync(fd) != 0) {
                log_error("server", "cannot write %s: %s", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return BATON_EIO;
        }
        close(fd);
        log_info("server", "node id %s (kept in %s)", srv->node_id, path);
        return 0;
}

/* Creates the data directory (0700), or checks the one that exists: it holds
 * the database and admin.key, so one that other users may write to (where
 * they could replace or link those files) is refused rather than used. */
static int check_data_dir(const char *dir)
{
        struct stat sb;

        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                log_error("server", "cannot create data directory %s: %s", dir, strerror(errno));
                return BATON_EIO;
        }
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                log_error("server", "data directory %s is not a directory", dir);
                return BATON_EIO;
        }
        if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
                log_error("server",
                          "refusing data directory %s: it is group- or world-writable (mode "
                          "%03o), so another user could replace the database or admin.key; "
                          "run chmod 700 %s",
                          dir, (unsigned)(sb.st_mode & 0777), dir);
                return BATON_EINVAL;
        }
        return 0;
}

static int open_store(struct server *srv)
{
        const struct config *cfg = srv->cfg;
        struct store_opts so = {cfg->data_dir,
                                cfg->sync_full,
                                5000,
                                (int)cfg->pg_statement_timeout_ms,
                                (int)cfg->pg_lock_timeout_ms,
                                (int)cfg->pg_idle_tx_timeout_ms,
                                false,
                                srv->app_name,
                                NULL};
        int rc;

        rc = check_data_dir(cfg->data_dir);
        if (rc)
                return rc;
        srv->ops = &store_sqlite_ops;
        if (config_store_is_postgres(cfg)) {
#ifdef BATON_HAVE_POSTGRES
                srv->ops = &store_postgres_ops;
                so.uri = cfg->store;
#else
                log_error("server", "this batond was built without PostgreSQL support");
                return BATON_EINVAL;
#endif
        }
        rc = resolve_node_id(srv);
        if (rc)
                return rc;
        /* pg_stat_activity then names the node of each session. */
        snprintf(srv->app_name, sizeof(srv->app_name), "batond %.50s", srv->node_id);
        srv->store_opts = so;
        rc = node_store_open(srv->ops, &so, &srv->st);
        if (rc) {
                log_error("server", "cannot open the %s store%s%s: %s", srv->ops->name,
                          so.uri == cfg->data_dir ? " in " : "",
                          so.uri == cfg->data_dir ? cfg->data_dir : "", baton_strerror(rc));
                return rc;
        }
        if (srv->ops->shared) {
                /* The leader lease's own connection (sched.c). Its
                 * transactions hold no data locks; a renewal slower than the
                 * lease is worthless, so none may run longer. */
                so.lease_conn = true;
                if (!so.statement_timeout_ms || so.statement_timeout_ms > cfg->leader_ttl_ms)
                        so.statement_timeout_ms = (int)cfg->leader_ttl_ms;
                snprintf(srv->lease_app_name, sizeof(srv->lease_app_name), "batond %.50s lease",
                         srv->node_id);
                so.app_name = srv->lease_app_name;
                rc = node_store_open(srv->ops, &so, &srv->lease_st);
                if (rc)
                        log_error("server", "cannot open the lease connection to the %s store: %s",
                                  srv->ops->name, baton_strerror(rc));
        }
        return rc;
}

/* Writes uri into out with the password (user:PASSWORD@) masked, for logs. */
static void redact_uri(const char *uri, char *out, size_t cap)
{
        const char *scheme = strstr(uri, "://");
        const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
        const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;

        if (!at || !colon || colon > at) {
                snprintf(out, cap, "%s", uri);
                return;
        }
        snprintf(out, cap, "%.*s:***%s", (int)(colon - uri), uri, at);
}

static void key_path(const struct config *cfg, const char *suffix, char *out, size_t cap)
{
        snprintf(out, cap, "%s/%s%s", cfg->data_dir, KEY_BOOTSTRAP_FILE, suffix);
}

/* Writes the first admin key to <data>/admin.key, mode 0600, durably. A file
 * left from an earlier store is moved aside to admin.key.old first. */
static int save_admin_key(const struct config *cfg, const char *token)
{
        char path[CONFIG_PATH_MAX + 32], old[CONFIG_PATH_MAX + 32];
        size_t len = strlen(token);
        int fd, rc = BATON_EIO;

        key_path(cfg, "", path, sizeof(path));
        key_path(cfg, ".old", old, sizeof(old));
        fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) {
                log_warn("server", "%s belongs to an earlier store; moving it to %s", path, old);
                if (rename(path, old) == 0)
                        fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        }
        if (fd < 0)
                goto out;
        if (write(fd, token, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0)
                rc = 0;
        close(fd);
        fd = open(cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                fsync(fd);
                close(fd);
        }
out:
        if (rc)
                log_error("server", "cannot write %s: %s", path, strerror(errno));
        return rc;
}

/* Bootstrap (first start: tenant "default" and an admin key) and the load of
 * every key into the keyring and of every dashboard session into the
 * sessring, before the store thread and the socket. */
static int start_keys(struct server_rt *rt)
{
        struct server *srv = &rt->srv;
        int rc = keyring_new(&srv->keyring);

        if (!rc)
                rc = keyring_bootstrap(srv, &rt->admin_token);
        if (!rc && rt->admin_token)
                rt->admin_file_saved = save_admin_key(srv->cfg, rt->admin_token) == 0;
        if (!rc)
                rc = keyring_load(srv);
        if (rc) {
                log_error("server", "cannot load the API keys: %s", baton_strerror(rc));
                return rc;
        }
        rc = sessring_new(&srv->sessring);
        if (!rc)
                rc = sessring_load(srv);
        if (rc)
                log_error("server", "cannot load the dashboard's sessions: %s", baton_strerror(rc));
        return rc;
}

struct cron_file_op {
        struct exec_op op;
        const struct cron_registry *reg;
        struct cron_apply_res res;
};

static int cron_file_fn(struct txn *tx, struct exec_op *op)
{
        struct cron_file_op *c = container_of(op, struct cron_file_op, op);

        return cron_apply(tx, SERVER_TENANT, c->reg, &c->res);
}

/* --cron-file: reads, validates (as PUT /v1/cron does) and applies the
 * registry for tenant "default" in one transaction, before the server
 * serves. A document that cannot be read or is invalid stops the start. */
static int apply_cron_file(struct server_rt *rt)
{
        struct server *srv = &rt->srv;
        const char *path = srv->cfg->cron_file;
        struct cron_registry reg = {0};
        struct cron_file_op c;
        json_error_t je;
        struct verr e;
        json_t *doc;
        int rc;

        memset(&c, 0, sizeof(c));
        if (!*path)
                return 0;
        doc = json_load_file(path, 0, &je);
        if (!doc) {
                log_error("server", "--cron-file %s: not a readable JSON document: %s (line %d)",
                          path, je.text, je.line);
                rt->bad_cron_file = true;
                return BATON_EINVAL;
        }
        rc = api_cron_registry_parse(srv, doc, SERVER_TENANT, &reg, &e);
        json_decref(doc);
        if (rc) {
                log_error("server", "--cron-file %s refused (nothing applied): %s: %s", path,
                          *e.field ? e.field : "(document)", e.message);
                rt->bad_cron_file = true;
                return rc;
        }
        c.reg = &reg;
        c.op.fn = cron_file_fn;
        rc = exec_run_sync(srv->st, srv->ops, srv->clock, srv->limits, &c.op, NULL);
        if (rc == BATON_ECONFLICT) {
                log_error("server",
                          "--cron-file %s refused (nothing applied): too_many_schedules: the"
                          " result would hold %lld schedules, over --max-cron-schedules %lld",
                          path, (long long)c.res.total, (long long)srv->limits->cron_schedules_max);
                rt->bad_cron_file = true;
        } else if (rc)
                log_error("server", "--cron-file %s could not be applied: %s", path,
                          baton_strerror(rc));
        else
                log_info("server",
                         "--cron-file %s applied: %d created, %d updated, %d unchanged, %d deleted",
                         path, c.res.created_n, c.res.updated_n, c.res.unchanged_n,
                         c.res.deleted_n);
        cron_apply_res_free(&c.res);
        cron_registry_free(&reg);
        return rc;
}

/* Store thread: finished batches wait for the loop (exec_wake.fn). */
static void exec_wake_fn(void *ctx)
{
        event_active(ctx, EV_READ, 0);
}

/* Loop thread: arg is the address of the server's exec pointer, which is set
 * before anything is submitted, so before the first wake. */
static void exec_wake_cb(evutil_socket_t fd, short what, void *arg)
{
        struct exec **ex = arg;

        (void)fd;
        (void)what;
        if (*ex)
                exec_dispatch(*ex);
}

/* Starts an executor on st whose finished batches the loop delivers through a
 * user event; *ev_out (owned by the server, freed in stop_parts after
 * exec_stop) and *out are set on success. */
static int start_exec(struct server *srv, struct store *st, const struct exec_hooks *hooks,
                      struct exec **out, struct event **ev_out)
{
        struct exec_wake wake;

        *ev_out = event_new(srv->base, -1, 0, exec_wake_cb, out);
        if (!*ev_out)
                return BATON_ENOMEM;
        wake.fn = exec_wake_fn;
        wake.ctx = *ev_out;
        return exec_start(&wake, st, srv->ops, srv->clock, srv->limits, hooks, out);
}

static int start_parts(struct server_rt *rt)
{
        struct server *srv = &rt->srv;
        const struct config *cfg = srv->cfg;
        struct exec_hooks hooks = {on_effects, on_batch, srv, srv->node_id};
        /* Lease batches have no effects and are not the data's batches. */
        struct exec_hooks lease_hooks = {NULL, NULL, srv, srv->node_id};
        int rc;

        rc = start_keys(rt);
        if (!rc)
                rc = apply_cron_file(rt);
        if (!rc)
                rc = metrics_new(srv->clock, &srv->metrics);
        if (!rc)
                metrics_queues_max(srv->metrics, srv->limits->metrics_queues_max);
        if (!rc)
                rc = waiters_new(srv->base, &srv->waiters);
        if (!rc)
                rc = start_exec(srv, srv->st, &hooks, &srv->exec, &srv->exec_wake);
        if (!rc && srv->lease_st)
                rc = start_exec(srv, srv->lease_st, &lease_hooks, &srv->lease_exec,
                                &srv->lease_exec_wake);
        if (!rc)
                rc = http_start(srv, cfg->listen_host, cfg->listen_port, &srv->http);
        if (!rc)
                rc = sched_start(srv, &srv->sched);
        if (!rc)
                rc = cluster_start(srv, &srv->cluster);
        if (rc)
                return rc;
        rt->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, rt);
        rt->sigint = evsignal_new(srv->base, SIGINT, on_signal, rt);
        rt->sighup = evsignal_new(srv->base, SIGHUP, on_sighup, rt);
        rt->drain = evtimer_new(srv->base, on_drain, rt);
        if (!rt->sigterm || !rt->sigint || !rt->sighup || !rt->drain)
                return BATON_ENOMEM;
        evsignal_add(rt->sigterm, NULL);
        evsignal_add(rt->sigint, NULL);
        evsignal_add(rt->sighup, NULL);
        return 0;
}

/* The auth lines of the start banner. The secret is printed only on the
 * first start, once; later starts say where the key file is. */
static void announce_auth(struct server_rt *rt)
{
        const struct config *cfg = rt->srv.cfg;
        char path[CONFIG_PATH_MAX + 32];

        key_path(cfg, "", path, sizeof(path));
        if (cfg->insecure_no_auth) {
                printf("  auth:  OFF (--insecure-no-auth): every request acts as tenant \"%s\" "
                       "with every scope. Never use this beyond one machine.\n",
                       SERVER_TENANT);
                log_warn("server",
                         "AUTHENTICATION IS OFF (--insecure-no-auth): every request on "
                         "%s acts as tenant \"%s\" with every scope",
                         cfg->listen_host, SERVER_TENANT);
        } else {
                printf("  auth:  API keys required (Authorization: Bearer <key>); %d key(s)\n",
                       keyring_count(rt->srv.keyring));
        }
        if (rt->admin_token && rt->admin_file_saved)
                printf("  admin key (shown once, also saved to %s): %s\n", path, rt->admin_token);
        else if (rt->admin_token)
                printf("  admin key (shown once, NOT saved: %s could not be written): %s\n", path,
                       rt->admin_token);
        else if (access(path, F_OK) == 0)
                printf("  admin key file: %s\n", path);
        if (rt->admin_token) {
                explicit_bzero(rt->admin_token, strlen(rt->admin_token));
                free(rt->admin_token);
                rt->admin_token = NULL;
        }
}

static void announce(struct server_rt *rt)
{
        const struct server *srv = &rt->srv;
        const struct config *cfg = srv->cfg;
        int port = http_port(srv->http);

        printf("batond %s listening on %s://%s:%d\n", BATOND_VERSION,
               http_tls_on(srv->http) ? "https" : "http", cfg->listen_host, port);
        if (config_store_is_postgres(cfg)) {
                char uri[CONFIG_PATH_MAX];

                redact_uri(cfg->store, uri, sizeof(uri));
                printf("  store: %s (postgres, synchronous_commit=%s)\n", uri,
                       cfg->sync_full ? "on" : "off");
                printf("  data:  %s (admin key only)\n", cfg->data_dir);
        } else {
                printf("  data:  %s (sqlite, synchronous=%s)\n", cfg->data_dir,
                       cfg->sync_full ? "full" : "normal");
        }
        announce_auth(rt);
        if (http_tls_on(srv->http))
                printf("  try:   curl -s https://%s:%d/healthz (--cacert FILE for a "
                       "self-signed certificate)\n",
                       cfg->listen_host, port);
        else
                printf("  try:   curl -s http://%s:%d/healthz\n", cfg->listen_host, port);
        printf("  ui:    %s://%s:%d/ui/ (sign in with an API key)\n",
               http_tls_on(srv->http) ? "https" : "http", cfg->listen_host, port);
        fflush(stdout);
        log_info("server", "listening on %s:%d, data in %s", cfg->listen_host, port, cfg->data_dir);
}

void server_event_drop(struct event **ev)
{
        if (*ev)
                event_free(*ev);
        *ev = NULL;
}

/* Stops an executor started by start_exec, then frees its wake event:
 * exec_stop delivers what is left itself, so no wake can come after it. */
static void stop_exec(struct exec **ex, struct event **wake)
{
        if (*ex)
                exec_stop(*ex);
        *ex = NULL;
        server_event_drop(wake);
}

static void stop_parts(struct server_rt *rt)
{
        struct server *srv = &rt->srv;

        stop_exec(&srv->exec, &srv->exec_wake);
        stop_exec(&srv->lease_exec, &srv->lease_exec_wake);
        /* After exec_stop: every refusal op's done callback has run. */
        api_audit_free(srv);
        server_event_drop(&rt->sigterm);
        server_event_drop(&rt->sigint);
        server_event_drop(&rt->sighup);
        server_event_drop(&rt->drain);
        cluster_free(srv->cluster);
        srv->cluster = NULL;
        sched_free(srv->sched);
        srv->sched = NULL;
        if (srv->http)
                http_free(srv->http);
        srv->http = NULL;
        waiters_free(srv->waiters);
        srv->waiters = NULL;
        metrics_free(srv->metrics);
        srv->metrics = NULL;
        node_store_close(srv->ops, srv->st);
        srv->st = NULL;
        node_store_close(srv->ops, srv->lease_st);
        srv->lease_st = NULL;
        keyring_free(srv->keyring);
        srv->keyring = NULL;
        sessring_free(srv->sessring);
        srv->sessring = NULL;
        if (rt->admin_token) {
                explicit_bzero(rt->admin_token, strlen(rt->admin_token));
                free(rt->admin_token);
                rt->admin_token = NULL;
        }
}

int server_run(const struct config *cfg)
{
        struct server_rt rt;
        struct server *srv = &rt.srv;
        int rc, code = 1;

        memset(&rt, 0, sizeof(rt));
        log_set_level(cfg->log_level);
        log_set_clock(clock_system());
        if (cfg->print_routes) {
                http_routes_print(stdout);
                return 0;
        }
        signal(SIGPIPE, SIG_IGN);
        /* Everything batond creates (database, -wal, -shm, admin.key, node-id,
         * the data directory) is for this user only. */
        umask(077);
        srv->cfg = cfg;
        srv->limits = &cfg->limits;
        srv->clock = clock_system();
        if (evthread_use_pthreads() != 0 || !(srv->base = event_base_new())) {
                log_error("server", "cannot start the event loop");
                return 1;
        }
        rc = open_store(srv);
        if (!rc)
                rc = start_parts(&rt);
        if (rc) {
                log_error("server", "start failed: %s", baton_strerror(rc));
                if (rt.bad_cron_file)
                        code = 2;
                goto out;
        }
        announce(&rt);
        event_base_dispatch(srv->base);
        code = rt.drain_timed_out ? 1 : 0;
        log_info("server", "stopped");
out:
        stop_parts(&rt);
        event_base_free(srv->base);
        libevent_global_shutdown();
        return code;
}
