/*
 * harness_batond.c: starting, stopping and running batond for end-to-end and
 * fault tests (see harness_batond.h). A server runs as a child process with
 * its output appended to a log file in the harness's temporary root;
 * readiness is /healthz answering 200. A run (harness_run) is a child whose
 * stdout and stderr come back through pipes, read until it exits or its bound
 * passes. Tests run one at a time per program and drive the harness from the
 * main thread (PR_SET_PDEATHSIG follows the forking thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "support/harness.h"

/* How batond is told where to listen and keep its data. */
#define FLAG_LISTEN "--listen"
#define FLAG_DATA_DIR "--data"

#define READY_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 10000
#define START_ATTEMPTS 5
#define LIVE_MAX 64
/* What harness_run keeps of each output stream; the rest is read and dropped. */
#define RUN_OUT_MAX (4 << 20)

/* Servers started and not yet reaped, killed by the exit handler. */
static pid_t live[LIVE_MAX];
static bool exit_handler_set;

/* Reads data_dir/admin.key into h->admin_key and registers it for h->url. */
static void read_admin_key(struct harness *h)
{
        char path[400];
        FILE *f;

        snprintf(path, sizeof(path), "%s/admin.key", h->data_dir);
        f = fopen(path, "r");
        if (f) {
                if (!fgets(h->admin_key, sizeof(h->admin_key), f))
                        h->admin_key[0] = '\0';
                h->admin_key[strcspn(h->admin_key, "\r\n")] = '\0';
                fclose(f);
        }
        harness_url_register(h->url, h->admin_key, h->ca_file);
}

static void kill_live(void)
{
        int i;

        for (i = 0; i < LIVE_MAX; i++) {
                if (live[i] > 0) {
                        kill(live[i], SIGKILL);
                        waitpid(live[i], NULL, 0);
                        live[i] = 0;
                }
        }
}

static void live_add(pid_t pid)
{
        int i;

        if (!exit_handler_set) {
                atexit(kill_live);
                exit_handler_set = true;
        }
        for (i = 0; i < LIVE_MAX; i++) {
                if (live[i] == 0) {
                        live[i] = pid;
                        return;
                }
        }
}

static void live_remove(pid_t pid)
{
        int i;

        for (i = 0; i < LIVE_MAX; i++)
                if (live[i] == pid)
                        live[i] = 0;
}

/* Asks the kernel for a free loopback port by binding port 0. Another process
 * may take it before batond binds it; harness_start retries for that case. */
static int free_port(void)
{
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        int fd, port = -1;

        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
                return -1;
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        close(fd);
        return port;
}

/* True when nothing listens on the port (we can bind it). */
static bool port_free(int port)
{
        struct sockaddr_in a;
        int fd, one = 1;
        bool ok;

        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
                return false;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        return ok;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
        (void)ptr;
        (void)ud;
        return size * nmemb;
}

/* One GET /healthz with a short timeout; true on 200. */
static bool healthy(const char *url, const char *ca)
{
        char full[128];
        CURL *h = curl_easy_init();
        long status = 0;
        bool ok = false;

        if (!h)
                return false;
        snprintf(full, sizeof(full), "%s/healthz", url);
        curl_easy_setopt(h, CURLOPT_URL, full);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 250L);
        if (ca && *ca)
                curl_easy_setopt(h, CURLOPT_CAINFO, ca);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        if (curl_easy_perform(h) == CURLE_OK &&
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200)
                ok = true;
        curl_easy_cleanup(h);
        return ok;
}

static void log_line(const struct harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_line(const struct harness *h, const char *fmt, ...)
{
        FILE *f = fopen(h->log_path, "a");
        va_list ap;

        if (!f)
                return;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        fclose(f);
}

extern char **environ;

/* Forks and execs argv[0] with stdin on /dev/null, stdout on out_fd, stderr
 * on err_fd and env as its environment (NULL: this process's). The child gets
 * SIGKILL when this process dies and, with own_group, leads a process group
 * of its own, so that killing the group stops what it started too. The pid
 * is recorded for the exit handler until it is reaped. Returns the pid, or -1
 * when fork failed. The one fork of the test tiers. */
static pid_t spawn_child(const char *const *argv, char *const *env, int out_fd, int err_fd,
                         bool own_group)
{
        pid_t parent = getpid(), pid;

        fflush(NULL);
        pid = fork();
        if (pid == 0) {
                int fd = open("/dev/null", O_RDONLY);

                if (own_group)
                        setpgid(0, 0);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                if (fd >= 0)
                        dup2(fd, STDIN_FILENO);
                dup2(out_fd, STDOUT_FILENO);
                dup2(err_fd, STDERR_FILENO);
                execve(argv[0], (char *const *)argv, env ? env : environ);
                fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        if (pid > 0)
                live_add(pid);
        return pid;
}

/* Starts batond on port with its output appended to the log; returns the pid
 * or -1. */
static pid_t spawn(struct harness *h, const char *batond, int port)
{
        char listen_arg[64];
        const char *argv[HARNESS_ARGS_MAX + 8];
        pid_t pid;
        int n = 0, i, fd;

        snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
        argv[n++] = batond;
        argv[n++] = FLAG_LISTEN;
        argv[n++] = listen_arg;
        argv[n++] = FLAG_DATA_DIR;
        argv[n++] = h->data_dir;
        if (h->pg.scope[0]) {
                argv[n++] = "--store";
                argv[n++] = h->pg.uri;
        }
        for (i = 0; i < h->n_args; i++)
                argv[n++] = h->args[i];
        argv[n] = NULL;

        log_line(h, "== harness: starting %s on %s", batond, listen_arg);
        fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        pid = spawn_child(argv, NULL, fd >= 0 ? fd : STDOUT_FILENO, fd >= 0 ? fd : STDERR_FILENO,
                          false);
        if (fd >= 0)
                close(fd);
        return pid;
}

/* Waits for /healthz; 0 when ready, 1 when the process exited (status saved),
 * -1 on timeout. */
static int wait_ready(struct harness *h)
{
        int64_t deadline = harness_now_ms() + READY_TIMEOUT_MS;
        int status;

        while (harness_now_ms() < deadline) {
                pid_t r = waitpid(h->pid, &status, WNOHANG);

                if (r == h->pid) {
                        live_remove(h->pid);
                        h->pid = 0;
                        h->exit_status = status;
                        return 1;
                }
                if (healthy(h->url, h->ca_file))
                        return 0;
                harness_sleep_ms(10);
        }
        return -1;
}

/* Starts on the given port first (if > 0), then on fresh ports. */
static int launch(struct harness *h, int port)
{
        const char *batond = getenv("BATOND");
        int attempt, rc;

        if (!batond || !*batond) {
                fprintf(stderr, "harness: BATOND is not set (path of the batond binary)\n");
                return -1;
        }
        for (attempt = 0; attempt < START_ATTEMPTS; attempt++) {
                if (port <= 0 || attempt > 0)
                        port = free_port();
                if (h->url[0])
                        harness_url_forget(h->url);
                if (port <= 0) {
                        fprintf(stderr, "harness: no free port: %s\n", strerror(errno));
                        return -1;
                }
                h->port = port;
                snprintf(h->url, sizeof(h->url), "%s://127.0.0.1:%d",
                         h->ca_file[0] ? "https" : "http", port);
                h->pid = spawn(h, batond, port);
                if (h->pid < 0) {
                        h->pid = 0;
                        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
                        return -1;
                }
                rc = wait_ready(h);
                if (rc == 0) {
                        read_admin_key(h);
                        return 0;
                }
                if (rc < 0) {
                        fprintf(stderr, "harness: batond not ready after %d ms\n",
                                READY_TIMEOUT_MS);
                        harness_kill9(h);
                        harness_dump_log(h, 4000);
                        return -1;
                }
                /* Exited early: most likely the port was taken; try another. */
        }
        fprintf(stderr, "harness: batond exited at start %d times (last status %d)\n",
                START_ATTEMPTS, h->exit_status);
        harness_dump_log(h, 4000);
        return -1;
}

/* With BATON_TEST_STORE=postgres, gives h a fresh schema unless its
 * arguments choose a store themselves. Exits the test process with
 * PGTEST_SKIP_CODE when no PostgreSQL is configured. */
static int use_postgres(struct harness *h)
{
        const char *which = getenv("BATON_TEST_STORE");

        if (!which || strcmp(which, "postgres") != 0)
                return 0;
        for (int i = 0; i < h->n_args; i++)
                if (strcmp(h->args[i], "--store") == 0)
                        return 0;
        if (!pgtest_available()) {
                fprintf(stderr, "harness: BATON_TEST_STORE=postgres but BATON_TEST_PG_URI is not"
                                " set (scripts/test.sh starts a server): skipping\n");
                exit(PGTEST_SKIP_CODE);
        }
        return pgtest_create(&h->pg);
}

int harness_start(struct harness *h, const char *const *args)
{
        const char *tmp = getenv("TMPDIR");
        int i;

        memset(h, 0, sizeof(*h));
        curl_global_init(CURL_GLOBAL_DEFAULT);
        snprintf(h->root, sizeof(h->root), "%s/baton-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(h->root)) {
                fprintf(stderr, "harness: mkdtemp %s: %s\n", h->root, strerror(errno));
                h->root[0] = '\0';
                return -1;
        }
        snprintf(h->data_dir, sizeof(h->data_dir), "%s/data", h->root);
        snprintf(h->log_path, sizeof(h->log_path), "%s/batond.log", h->root);
        if (mkdir(h->data_dir, 0700) != 0) {
                fprintf(stderr, "harness: mkdir %s: %s\n", h->data_dir, strerror(errno));
                harness_stop(h);
                return -1;
        }
        for (i = 0; args && args[i]; i++) {
                if (i >= HARNESS_ARGS_MAX) {
                        fprintf(stderr, "harness: more than %d arguments\n", HARNESS_ARGS_MAX);
                        harness_stop(h);
                        return -1;
                }
                h->args[i] = strdup(args[i]);
                if (!h->args[i])
                        abort();
                h->n_args = i + 1;
                if (i > 0 && strcmp(args[i - 1], "--tls-cert") == 0)
                        snprintf(h->ca_file, sizeof(h->ca_file), "%s", args[i]);
        }
        if (use_postgres(h) != 0) {
                harness_stop(h);
                return -1;
        }
        if (launch(h, 0) != 0) {
                harness_stop(h);
                return -1;
        }
        return 0;
}

int harness_restart(struct harness *h)
{
        int status;

        /* A server that died on its own (crash, abort, a kill from elsewhere)
         * still has its pid here; reap it instead of refusing the restart. */
        if (h->pid && waitpid(h->pid, &status, WNOHANG) == h->pid) {
                fprintf(stderr, "harness: pid %d had exited (status %d) before the restart\n",
                        (int)h->pid, status);
                live_remove(h->pid);
                h->pid = 0;
                h->exit_status = status;
        }
        if (h->pid) {
                fprintf(stderr, "harness: restart while pid %d runs\n", (int)h->pid);
                return -1;
        }
        /* The old port is reused when free so that clients keep their URL. */
        return launch(h, port_free(h->port) ? h->port : 0);
}

int harness_signal_wait(struct harness *h, int sig, int64_t timeout_ms, int64_t *elapsed_ms)
{
        int64_t start = harness_now_ms(), deadline = start + timeout_ms;
        int status;

        if (elapsed_ms)
                *elapsed_ms = 0;
        if (!h->pid)
                return -1;
        if (kill(h->pid, sig) != 0)
                return -1;
        for (;;) {
                pid_t r = waitpid(h->pid, &status, WNOHANG);

                if (r == h->pid) {
                        live_remove(h->pid);
                        h->pid = 0;
                        h->exit_status = status;
                        if (elapsed_ms)
                                *elapsed_ms = harness_now_ms() - start;
                        return 0;
                }
                if (r < 0 && errno != EINTR)
                        return -1;
                if (harness_now_ms() >= deadline)
                        return -1;
                harness_sleep_ms(2);
        }
}

int harness_kill9(struct harness *h)
{
        int status;

        if (!h->pid)
                return 0;
        kill(h->pid, SIGKILL);
        if (waitpid(h->pid, &status, 0) == h->pid)
                h->exit_status = status;
        live_remove(h->pid);
        h->pid = 0;
        return 0;
}

int harness_shutdown(struct harness *h)
{
        if (!h->pid)
                return 0;
        if (harness_signal_wait(h, SIGTERM, STOP_TIMEOUT_MS, NULL) != 0) {
                fprintf(stderr, "harness: batond pid %d ignored SIGTERM for %d ms; killing\n",
                        (int)h->pid, STOP_TIMEOUT_MS);
                harness_kill9(h);
                return -1;
        }
        return WIFEXITED(h->exit_status) && WEXITSTATUS(h->exit_status) == 0 ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        remove(path);
        return 0;
}

int harness_stop(struct harness *h)
{
        int rc = harness_shutdown(h), i;

        if (getenv("BATON_TEST_KEEP_LOG") && h->root[0])
                harness_dump_log(h, 16000);
        if (h->url[0])
                harness_url_forget(h->url);
        if (h->root[0]) {
                nftw(h->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
                h->root[0] = '\0';
        }
        pgtest_drop(&h->pg);
        for (i = 0; i < h->n_args; i++) {
                free(h->args[i]);
                h->args[i] = NULL;
        }
        h->n_args = 0;
        return rc;
}

char *harness_read_log(const struct harness *h)
{
        FILE *f = fopen(h->log_path, "r");
        char *buf = NULL;
        size_t len = 0, cap = 0, n;

        if (!f)
                return NULL;
        for (;;) {
                if (cap - len < 4096) {
                        char *p = realloc(buf, cap ? cap * 2 : 8192);

                        if (!p) {
                                free(buf);
                                fclose(f);
                                return NULL;
                        }
                        buf = p;
                        cap = cap ? cap * 2 : 8192;
                }
                n = fread(buf + len, 1, cap - len - 1, f);
                if (n == 0)
                        break;
                len += n;
        }
        fclose(f);
        buf[len] = '\0';
        return buf;
}

void harness_dump_log(const struct harness *h, size_t max_bytes)
{
        char *log = harness_read_log(h);
        size_t len;

        if (!log)
                return;
        len = strlen(log);
        fprintf(stderr, "---- batond log (%s, last %zu bytes) ----\n%s\n---- end of log ----\n",
                h->log_path, max_bytes, len > max_bytes ? log + len - max_bytes : log);
        free(log);
}

struct baton_client *harness_client(const struct harness *h)
{
        return harness_client_key(h, h->admin_key[0] ? h->admin_key : NULL);
}

struct baton_client *harness_client_key(const struct harness *h, const char *key)
{
        struct baton_client *c = NULL;

        if (baton_client_new(h->url, key, &c) != 0 ||
            (h->ca_file[0] && baton_client_set_ca_file(c, h->ca_file) != 0)) {
                fprintf(stderr, "harness: cannot create a client for %s\n", h->url);
                abort();
        }
        return c;
}

/* The server (and client) of the group harness_group named. */
static struct {
        struct harness *h;
        const char *const *args;
        struct baton_client **cl;
} group;

void harness_group(struct harness *h, const char *const *args, struct baton_client **cl)
{
        group.h = h;
        group.args = args;
        group.cl = cl;
}

int harness_group_up(void **state)
{
        (void)state;
        if (!group.h || harness_start(group.h, group.args) != 0)
                return -1;
        if (group.cl)
                *group.cl = harness_client(group.h);
        return 0;
}

int harness_group_down(void **state)
{
        (void)state;
        if (group.cl) {
                baton_client_free(*group.cl);
                *group.cl = NULL;
        }
        return group.h ? harness_stop(group.h) : 0;
}

/* ---- several nodes on one store ---- */

int harness_node_start(struct harness *h, const char *store_uri, const char *node_id,
                       const char *const *args, char *admin)
{
        const char *argv[HARNESS_ARGS_MAX + 1];
        int n = 0, rc;

        argv[n++] = "--store";
        argv[n++] = store_uri;
        argv[n++] = "--node-id";
        argv[n++] = node_id;
        for (int i = 0; args && args[i]; i++) {
                if (n >= HARNESS_ARGS_MAX) {
                        fprintf(stderr, "harness: more than %d arguments\n", HARNESS_ARGS_MAX);
                        return -1;
                }
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        rc = harness_start(h, argv);
        if (rc)
                return rc;
        /* The first node bootstraps the admin key; the others share its store. */
        if (!admin[0])
                snprintf(admin, 128, "%s", h->admin_key);
        else
                snprintf(h->admin_key, sizeof(h->admin_key), "%s", admin);
        return 0;
}

int harness_cluster_up(void **state, int n_nodes, const char *id_prefix, const char *const *args)
{
        struct harness_cluster *c = calloc(1, sizeof(*c));
        char id[32];

        *state = NULL;
        if (!c || n_nodes > HARNESS_NODES_MAX || pgtest_create(&c->pg) != 0)
                goto fail;
        for (c->n_nodes = 0; c->n_nodes < n_nodes; c->n_nodes++) {
                snprintf(id, sizeof(id), "%s%d", id_prefix, c->n_nodes + 1);
                if (harness_node_start(&c->n[c->n_nodes], c->pg.uri, id, args, c->admin) != 0)
                        goto fail;
        }
        *state = c;
        return 0;
fail:
        *state = c;
        harness_cluster_down(state);
        return -1;
}

int harness_cluster_down(void **state)
{
        struct harness_cluster *c = *state;

        if (!c)
                return 0;
        for (int i = 0; i < c->n_nodes; i++)
                harness_stop(&c->n[i]);
        pgtest_drop(&c->pg);
        free(c);
        *state = NULL;
        return 0;
}

/* ---- runs that end by themselves ---- */

/* One output stream of a run: the pipe's read end and what came from it. */
struct capture {
        int fd; /* -1 once it reached end of file (or was never opened) */
        char *buf;
        size_t len;
        size_t cap;
};

/* Reads what fd has now into c (up to RUN_OUT_MAX; more is dropped). */
static void capture_read(struct capture *c)
{
        char chunk[8192];
        ssize_t n = read(c->fd, chunk, sizeof(chunk));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                close(c->fd);
                c->fd = -1;
                return;
        }
        if (c->len + (size_t)n + 1 > c->cap && c->cap < RUN_OUT_MAX) {
                size_t cap = c->cap ? c->cap : 8192;
                char *p;

                while (cap < c->len + (size_t)n + 1 && cap < RUN_OUT_MAX)
                        cap *= 2;
                p = realloc(c->buf, cap);
                if (!p)
                        abort();
                c->buf = p;
                c->cap = cap;
        }
        if (c->len + (size_t)n + 1 <= c->cap) {
                memcpy(c->buf + c->len, chunk, (size_t)n);
                c->len += (size_t)n;
        }
}

/* The captured text, NUL-terminated, handed to the caller (never NULL). */
static char *capture_take(struct capture *c)
{
        char *s = c->buf ? c->buf : malloc(1);

        if (!s)
                abort();
        s[c->len] = '\0';
        c->buf = NULL;
        return s;
}

/* The child's environment: this process's, with the entries of extra
 * ("NAME=value") added or put in place of the same names. Built before the
 * fork, since the child of a threaded process may only call async-signal-safe
 * functions. Owned by the caller (free the array only: the strings are
 * borrowed). */
static char **run_environ(const char *const *extra)
{
        size_t n = 0, k = 0, i;
        char **env;

        while (environ[n])
                n++;
        for (i = 0; extra && extra[i]; i++)
                k++;
        env = calloc(n + k + 1, sizeof(*env));
        if (!env)
                abort();
        k = 0;
        for (i = 0; i < n; i++) {
                bool replaced = false;

                for (size_t e = 0; extra && extra[e] && !replaced; e++) {
                        size_t name = strcspn(extra[e], "=");

                        replaced = strncmp(environ[i], extra[e], name + 1) == 0;
                }
                if (!replaced)
                        env[k++] = environ[i];
        }
        for (i = 0; extra && extra[i]; i++)
                env[k++] = (char *)extra[i];
        return env;
}

/* Starts batond with r's arguments and environment, stdout on out_w and
 * stderr on err_w, in a process group of its own; returns the pid or -1. */
static pid_t run_spawn(const char *batond, const struct harness_run *r, int out_w, int err_w)
{
        const char *argv[HARNESS_ARGS_MAX + 2];
        char **env = run_environ(r->env);
        pid_t pid;
        int n = 0;

        argv[n++] = batond;
        for (int i = 0; r->args && r->args[i]; i++) {
                if (n > HARNESS_ARGS_MAX) {
                        fprintf(stderr, "harness: more than %d arguments\n", HARNESS_ARGS_MAX);
                        free(env);
                        return -1;
                }
                argv[n++] = r->args[i];
        }
        argv[n] = NULL;
        pid = spawn_child(argv, env, out_w, err_w, true);
        free(env);
        return pid;
}

/* Reads both streams and reaps pid until it has exited and closed them, or
 * until deadline. Returns true when it exited (*status set). */
static bool run_collect(pid_t pid, struct capture *cap, int64_t deadline, int *status)
{
        bool reaped = false;

        while (!reaped || cap[0].fd >= 0 || cap[1].fd >= 0) {
                struct pollfd pfd[2];
                int64_t left = deadline - harness_now_ms();
                int n = 0, of[2];

                if (left <= 0)
                        break;
                for (int i = 0; i < 2; i++) {
                        if (cap[i].fd < 0)
                                continue;
                        of[n] = i;
                        pfd[n++] = (struct pollfd){.fd = cap[i].fd, .events = POLLIN};
                }
                if (n > 0 && poll(pfd, (nfds_t)n, (int)(left < 20 ? left : 20)) > 0) {
                        for (int k = 0; k < n; k++)
                                if (pfd[k].revents)
                                        capture_read(&cap[of[k]]);
                } else if (n == 0) {
                        harness_sleep_ms(left < 10 ? left : 10);
                }
                if (!reaped && waitpid(pid, status, WNOHANG) == pid) {
                        reaped = true;
                        live_remove(pid);
                }
        }
        return reaped;
}

int harness_run(struct harness_run *r)
{
        const char *batond = getenv("BATOND");
        int64_t timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : HARNESS_RUN_TIMEOUT_MS;
        struct capture cap[2] = {{.fd = -1}, {.fd = -1}};
        int out[2] = {-1, -1}, err[2] = {-1, -1}, status = 0;
        pid_t pid;
        bool exited = false;

        harness_run_free(r);
        r->status = -1;
        if (!batond || !*batond) {
                fprintf(stderr, "harness: BATOND is not set (path of the batond binary)\n");
                goto out;
        }
        if (pipe2(out, O_CLOEXEC) != 0 || (!r->merge_stderr && pipe2(err, O_CLOEXEC) != 0)) {
                fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
                goto out;
        }
        pid = run_spawn(batond, r, out[1], r->merge_stderr ? out[1] : err[1]);
        if (pid < 0) {
                fprintf(stderr, "harness: fork: %s\n", strerror(errno));
                goto out;
        }
        /* The read ends move to the captures; the write ends are the child's. */
        close(out[1]);
        out[1] = -1;
        if (err[1] >= 0)
                close(err[1]);
        err[1] = -1;
        cap[0].fd = out[0];
        cap[1].fd = err[0];
        out[0] = err[0] = -1;
        exited = run_collect(pid, cap, harness_now_ms() + timeout_ms, &status);
        if (!exited) {
                fprintf(stderr, "harness: %s did not exit within %lld ms; killing pid %d\n", batond,
                        (long long)timeout_ms, (int)pid);
                kill(-pid, SIGKILL);
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                live_remove(pid);
        } else if (cap[0].fd >= 0 || cap[1].fd >= 0) {
                /* It exited, but something it started still holds its output
                 * open: that is left in its process group (whose id stays
                 * taken while it has members). */
                fprintf(stderr, "harness: %s exited, its output still open; killing group %d\n",
                        batond, (int)pid);
                kill(-pid, SIGKILL);
        }
        r->status = exited ? status : -1;
out:
        for (int i = 0; i < 2; i++) {
                if (out[i] >= 0)
                        close(out[i]);
                if (err[i] >= 0)
                        close(err[i]);
                if (cap[i].fd >= 0)
                        close(cap[i].fd);
        }
        r->out = capture_take(&cap[0]);
        r->err = capture_take(&cap[1]);
        return exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void harness_run_free(struct harness_run *r)
{
        free(r->out);
        free(r->err);
        r->out = NULL;
        r->err = NULL;
}
