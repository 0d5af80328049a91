/*
 * harness.c: starting, stopping and talking to a real batond for end-to-end and
 * fault tests (see harness.h). The server runs as a child process with its
 * output appended to a log file in the harness's temporary root; readiness is
 * /healthz answering 200. Tests run one at a time per program and drive the
 * harness from the main thread (PR_SET_PDEATHSIG follows the forking thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "support/harness.h"

/* How batond is told where to listen and keep its data. */
#define FLAG_LISTEN "--listen"
#define FLAG_DATA_DIR "--data"

#define READY_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 10000
#define START_ATTEMPTS 5
#define LIVE_MAX 64

/* Servers started and not yet reaped, killed by the exit handler. */
static pid_t live[LIVE_MAX];
static bool exit_handler_set;

/* The admin key of each running harness's url, for http_raw's default
 * Authorization header (tests may run several servers at once), and for an
 * https url the certificate to trust (the server's own, self-signed). */
struct url_key {
        char url[64];
        char key[128];
        char ca[300];
};
static struct url_key url_keys[LIVE_MAX];

static void url_key_set(const char *url, const char *key)
{
        int free_slot = -1;

        for (int i = 0; i < LIVE_MAX; i++) {
                if (strcmp(url_keys[i].url, url) == 0) {
                        snprintf(url_keys[i].key, sizeof(url_keys[i].key), "%s", key);
                        return;
                }
                if (free_slot < 0 && !url_keys[i].url[0])
                        free_slot = i;
        }
        if (free_slot >= 0) {
                snprintf(url_keys[free_slot].url, sizeof(url_keys[free_slot].url), "%s", url);
                snprintf(url_keys[free_slot].key, sizeof(url_keys[free_slot].key), "%s", key);
        }
}

static void url_key_drop(const char *url)
{
        for (int i = 0; i < LIVE_MAX; i++)
                if (strcmp(url_keys[i].url, url) == 0)
                        memset(&url_keys[i], 0, sizeof(url_keys[i]));
}

/* The key registered for the start of full (a url + path), or NULL. */
static const char *url_key_find(const char *full)
{
        for (int i = 0; i < LIVE_MAX; i++) {
                size_t n = strlen(url_keys[i].url);
                if (n && strncmp(full, url_keys[i].url, n) == 0 &&
                    (full[n] == '/' || full[n] == '\0' || full[n] == '?'))
                        return url_keys[i].key[0] ? url_keys[i].key : NULL;
        }
        return NULL;
}

const char *harness_key_for(const char *url)
{
        return url_key_find(url);
}

/* The CA file registered for the start of full, or NULL. */
static const char *url_ca_find(const char *full)
{
        for (int i = 0; i < LIVE_MAX; i++) {
                size_t n = strlen(url_keys[i].url);
                if (n && strncmp(full, url_keys[i].url, n) == 0)
                        return url_keys[i].ca[0] ? url_keys[i].ca : NULL;
        }
        return NULL;
}

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
        url_key_set(h->url, h->admin_key);
        for (int i = 0; i < LIVE_MAX; i++)
                if (strcmp(url_keys[i].url, h->url) == 0)
                        snprintf(url_keys[i].ca, sizeof(url_keys[i].ca), "%s", h->ca_file);
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

int64_t harness_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int64_t ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
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

/* Forks and execs batond on port; returns the pid or -1. */
static pid_t spawn(struct harness *h, const char *batond, int port)
{
        char listen_arg[64];
        const char *argv[HARNESS_ARGS_MAX + 8];
        pid_t parent = getpid(), pid;
        int n = 0, i;

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
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                int fd;

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                        close(fd);
                }
                fd = open("/dev/null", O_RDONLY);
                if (fd >= 0) {
                        dup2(fd, STDIN_FILENO);
                        close(fd);
                }
                execv(batond, (char *const *)argv);
                fprintf(stderr, "harness: exec %s: %s\n", batond, strerror(errno));
                _exit(127);
        }
        live_add(pid);
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
                        url_key_drop(h->url);
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
                url_key_drop(h->url);
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

int harness_group_setup(struct harness *h, const char *const *args, struct baton_client **cl)
{
        if (harness_start(h, args) != 0)
                return -1;
        *cl = harness_client(h);
        return 0;
}

int harness_group_teardown(struct harness *h, struct baton_client **cl)
{
        baton_client_free(*cl);
        *cl = NULL;
        return harness_stop(h);
}

/* ---- raw HTTP ---- */

struct grow {
        char *p;
        size_t len;
        size_t cap;
};

static size_t grow_add(char *ptr, size_t size, size_t nmemb, void *ud)
{
        struct grow *g = ud;
        size_t n = size * nmemb;

        if (g->len + n + 1 > g->cap) {
                size_t cap = g->cap ? g->cap : 1024;
                char *p;

                while (cap < g->len + n + 1)
                        cap *= 2;
                p = realloc(g->p, cap);
                if (!p)
                        return 0;
                g->p = p;
                g->cap = cap;
        }
        memcpy(g->p + g->len, ptr, n);
        g->len += n;
        g->p[g->len] = '\0';
        return n;
}

int http_raw(const char *url, const char *method, const char *path, const char *const *headers,
             const char *body, size_t body_len, struct http_res *res)
{
        struct grow hdr = {0}, out = {0};
        struct curl_slist *l = NULL;
        char full[2048];
        CURL *h;
        CURLcode cc;
        long status = 0;
        int64_t start = harness_now_ms();
        bool has_auth = false;
        int i;

        memset(res, 0, sizeof(*res));
        h = curl_easy_init();
        if (!h)
                return -1;
        snprintf(full, sizeof(full), "%s%s", url, path);
        l = curl_slist_append(l, "Content-Type: application/json");
        l = curl_slist_append(l, "Expect:");
        for (i = 0; headers && headers[i]; i++) {
                if (strncasecmp(headers[i], "Authorization:", 14) == 0)
                        has_auth = true;
                l = curl_slist_append(l, headers[i]);
        }
        if (!has_auth && url_key_find(full)) {
                char line[200];
                snprintf(line, sizeof(line), "Authorization: Bearer %s", url_key_find(full));
                l = curl_slist_append(l, line);
        }
        curl_easy_setopt(h, CURLOPT_URL, full);
        if (url_ca_find(full))
                curl_easy_setopt(h, CURLOPT_CAINFO, url_ca_find(full));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 90000L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grow_add);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, grow_add);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdr);
        if (body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                if (strcmp(method, "POST") != 0)
                        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        } else if (strcmp(method, "GET") != 0) {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
        cc = curl_easy_perform(h);
        /* A server may answer (413) and close before reading a large body; libcurl
         * then reports a send error although a status arrived. */
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        res->status = (int)status;
        res->elapsed_ms = harness_now_ms() - start;
        res->headers = hdr.p ? hdr.p : strdup("");
        res->body = out.p ? out.p : strdup("");
        res->body_len = out.len;
        if (res->body && res->body_len)
                res->json = json_loadb(res->body, res->body_len, 0, NULL);
        curl_slist_free_all(l);
        curl_easy_cleanup(h);
        if (cc != CURLE_OK && status == 0) {
                fprintf(stderr, "http_raw %s %s: %s\n", method, full, curl_easy_strerror(cc));
                return -1;
        }
        return 0;
}

int http_json(const char *url, const char *method, const char *path, const char *body,
              struct http_res *res)
{
        return http_raw(url, method, path, NULL, body, body ? strlen(body) : 0, res);
}

int http_json_as(const char *url, const char *key, const char *method, const char *path,
                 const char *body, struct http_res *res)
{
        char line[200];
        const char *hdrs[2] = {line, NULL};

        if (key)
                snprintf(line, sizeof(line), "Authorization: Bearer %s", key);
        else
                snprintf(line, sizeof(line), "Authorization:");
        return http_raw(url, method, path, hdrs, body, body ? strlen(body) : 0, res);
}

void harness_make_key(const struct harness *h, const char *tenant, const char *scopes,
                      const char *extra, char *token, char *id)
{
        struct http_res r;
        char tpart[200] = "";

        if (tenant)
                snprintf(tpart, sizeof(tpart), "\"tenant\": \"%s\", ", tenant);
        http_jsonf(h->url, "POST", "/v1/keys", &r, "{%s\"name\": \"test key\", \"scopes\": %s%s%s}",
                   tpart, scopes, extra ? ", " : "", extra ? extra : "");
        if (r.status != 201 || !jpath_str(r.json, "key"))
                fail_msg("creating a key (tenant %s, scopes %s): HTTP %d %s", tenant ? tenant : "-",
                         scopes, r.status, r.body);
        snprintf(token, 64, "%s", jpath_str(r.json, "key"));
        if (id)
                snprintf(id, 24, "%s", jpath_str(r.json, "id"));
        http_res_free(&r);
}

void http_res_free(struct http_res *res)
{
        free(res->headers);
        free(res->body);
        json_decref(res->json);
        memset(res, 0, sizeof(*res));
}

const char *http_header(const struct http_res *res, const char *name, char *buf, size_t cap)
{
        const char *p = res->headers;
        size_t n = strlen(name);

        /* Headers of the last answer win (a 100 Continue block may precede it). */
        const char *found = NULL;

        while (p && *p) {
                const char *eol = strchr(p, '\n');
                size_t line = eol ? (size_t)(eol - p) : strlen(p);

                if (line > n && strncasecmp(p, name, n) == 0 && p[n] == ':')
                        found = p;
                p = eol ? eol + 1 : p + line;
        }
        if (!found)
                return NULL;
        found += n + 1;
        while (*found == ' ' || *found == '\t')
                found++;
        n = strcspn(found, "\r\n");
        if (n >= cap)
                n = cap - 1;
        memcpy(buf, found, n);
        buf[n] = '\0';
        return buf;
}

const char *http_error_member(const struct http_res *res, const char *member)
{
        json_t *e = json_object_get(res->json, "error");

        return json_string_value(json_object_get(e, member));
}

void assert_http_error(const struct http_res *res, int status, const char *code, const char *field)
{
        const char *got_code = http_error_member(res, "code");
        const char *got_field = http_error_member(res, "field");
        bool ok = res->status == status && got_code && strcmp(got_code, code) == 0;

        if (ok && field)
                ok = got_field && strcmp(got_field, field) == 0;
        if (!ok)
                print_error("expected %d %s (field %s), got %d: %s\n", status, code,
                            field ? field : "-", res->status, res->body ? res->body : "(none)");
        assert_true(ok);
}

/* ---- small helpers ---- */

void harness_assert_ok(struct baton_client *c, int rc, const char *what, const char *file, int line)
{
        if (rc == 0)
                return;
        {
                const struct baton_error *e = baton_client_last_error(c);

                print_error("%s:%d: %s failed: %d (%s): HTTP %d %s: %s (field %s)\n", file, line,
                            what, rc, baton_strerror(rc), e->http_status, e->code, e->message,
                            e->field);
        }
        _fail(file, line);
}

void harness_assert_err(struct baton_client *c, int got_rc, int rc, int status, const char *code,
                        const char *field, const char *file, int line)
{
        const struct baton_error *e = baton_client_last_error(c);
        bool ok = got_rc == rc && e->http_status == status && strcmp(e->code, code) == 0;

        if (ok && field)
                ok = strcmp(e->field, field) == 0;
        if (ok)
                return;
        print_error("%s:%d: expected rc %d, HTTP %d %s (field %s); got rc %d, HTTP %d %s (field "
                    "%s): %s\n",
                    file, line, rc, status, code, field ? field : "-", got_rc, e->http_status,
                    e->code, e->field, e->message);
        _fail(file, line);
}

struct baton_job *harness_enqueue(struct baton_client *c, const char *queue, const char *type,
                                  const char *payload)
{
        struct baton_enqueue_opts o = {.queue = queue, .type = type, .payload = payload};
        struct baton_job *j = NULL;

        assert_ok(c, baton_enqueue(c, &o, &j));
        assert_non_null(j);
        return j;
}

enum baton_state harness_job_state(struct baton_client *c, const char *id)
{
        struct baton_job *j = NULL;
        enum baton_state s;

        assert_ok(c, baton_job_get(c, id, 0, &j));
        s = j->state;
        baton_job_free(j);
        return s;
}

int64_t harness_count_jobs(struct baton_client *c, const char *queue, const char *state)
{
        /* The server's default page size (100, or --list-max when smaller). */
        struct baton_list_opts o = {.queue = queue, .state = state};
        char *after = NULL;
        int64_t n = 0;
        int pages;

        /* Bounded: 2,000 pages is far more than any test enqueues. */
        for (pages = 0; pages < 2000; pages++) {
                struct baton_jobs *l = NULL;

                o.after = after;
                assert_ok(c, baton_job_list(c, &o, &l));
                n += (int64_t)l->n;
                free(after);
                after = l->next ? strdup(l->next) : NULL;
                baton_jobs_free(l);
                if (!after)
                        return n;
        }
        free(after);
        fail_msg("harness_count_jobs: more than 2000 pages");
        return -1;
}

const char *harness_unique(const char *prefix, char *buf, size_t cap)
{
        static int counter;

        snprintf(buf, cap, "%s-%d-%d", prefix, (int)getpid() % 100000, ++counter);
        return buf;
}

int64_t harness_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_t *harness_job_obj(struct baton_job *j)
{
        const char *text = baton_job_json(j);
        json_t *o = text ? json_loads(text, 0, NULL) : NULL;

        assert_non_null(o);
        return o;
}

struct baton_jobs *harness_claim(struct baton_client *c, const char *queue, int max,
                                 int64_t wait_ms, int64_t lease_ms)
{
        struct baton_claim_opts o = {
            .worker = "test-worker", .max = max, .wait_ms = wait_ms, .lease_ms = lease_ms};
        struct baton_jobs *l = NULL;

        assert_ok(c, baton_claim(c, queue, &o, &l));
        assert_non_null(l);
        return l;
}

/* ---- JSON and snapshots ---- */

json_t *jpath(const json_t *root, const char *path)
{
        const json_t *v = root;
        char name[128];

        while (v && *path) {
                size_t n = strcspn(path, ".[");

                if (n) {
                        if (n >= sizeof(name))
                                return NULL;
                        memcpy(name, path, n);
                        name[n] = '\0';
                        v = json_object_get(v, name);
                        path += n;
                }
                if (*path == '[') {
                        char *end;
                        long idx = strtol(path + 1, &end, 10);

                        if (*end != ']')
                                return NULL;
                        v = json_array_get(v, (size_t)idx);
                        path = end + 1;
                }
                if (*path == '.')
                        path++;
        }
        return (json_t *)v;
}

const char *jpath_str(const json_t *root, const char *path)
{
        return json_string_value(jpath(root, path));
}

int64_t jpath_int(const json_t *root, const char *path)
{
        json_t *v = jpath(root, path);

        return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

bool jpath_true(const json_t *root, const char *path)
{
        return json_is_true(jpath(root, path));
}

int http_jsonf(const char *url, const char *method, const char *path, struct http_res *res,
               const char *fmt, ...)
{
        va_list ap;
        char *body = NULL;
        int n, rc;

        va_start(ap, fmt);
        n = vasprintf(&body, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        rc = http_json(url, method, path, body, res);
        free(body);
        return rc;
}

char *harness_snapshot(const char *url, const char *id)
{
        struct http_res r;
        char path[512];
        char *text;

        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        if (http_json(url, "GET", path, NULL, &r) != 0)
                fail_msg("snapshot of job %s: no answer", id);
        if (r.status == 404) {
                http_res_free(&r);
                return strdup("404");
        }
        if (r.status != 200 || !json_is_object(jpath(r.json, "job")))
                fail_msg("snapshot of job %s: HTTP %d %s", id, r.status, r.body);
        text = json_dumps(jpath(r.json, "job"), JSON_COMPACT | JSON_SORT_KEYS);
        http_res_free(&r);
        if (!text)
                abort();
        return text;
}

void harness_assert_unchanged(const char *url, const char *id, const char *before, const char *file,
                              int line)
{
        char *now = harness_snapshot(url, id);
        bool same = strcmp(now, before) == 0;

        if (!same)
                print_error("%s:%d: job %s changed:\n before: %s\n after:  %s\n", file, line, id,
                            before, now);
        free(now);
        if (!same)
                _fail(file, line);
}

int64_t harness_total_jobs(struct baton_client *c)
{
        return harness_count_jobs(c, NULL, NULL);
}

int64_t harness_parse_time(const char *s)
{
        struct tm tm;
        int ms = 0;
        char *end;
        time_t t;

        if (!s)
                return -1;
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
                return -1;
        if (*end == '.') {
                int scale = 100;

                for (end++; *end >= '0' && *end <= '9'; end++) {
                        ms += (*end - '0') * scale;
                        scale /= 10;
                }
        }
        if (*end != 'Z')
                return -1;
        t = timegm(&tm);
        return (int64_t)t * 1000 + ms;
}

int harness_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
        int rc = pthread_create(t, NULL, fn, arg);

        if (rc)
                fail_msg("pthread_create: %s", strerror(rc));
        return rc;
}

void harness_join(pthread_t t)
{
        pthread_join(t, NULL);
}

char *harness_repeat(char ch, size_t n)
{
        char *s = malloc(n + 1);

        if (!s)
                abort();
        memset(s, ch, n);
        s[n] = '\0';
        return s;
}

char *harness_read_doc(const char *rel)
{
        const char *root = getenv("BATON_SRC");
        char path[4096], *text = NULL;
        size_t cap = 0;
        FILE *f;

        assert_non_null(root);
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        f = fopen(path, "r");
        if (!f)
                fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        assert_non_null(f);
        assert_true(getdelim(&text, &cap, '\0', f) > 0);
        fclose(f);
        return text;
}

char *harness_doc_block(const char *text, const char *marker, const char *lang, const char *what)
{
        const char *at = strstr(text, marker), *open = NULL, *close = NULL;
        char fence[32];
        char *out;

        snprintf(fence, sizeof(fence), "```%s\n", lang);
        if (at)
                open = strstr(at, fence);
        if (open)
                close = strstr(open + strlen(fence), "\n```");
        if (!close)
                fprintf(stderr, "%s: no %s block after \"%s\"\n", what, fence, marker);
        assert_non_null(close);
        open += strlen(fence);
        out = strndup(open, (size_t)(close - open) + 1); /* with its last newline */
        assert_non_null(out);
        return out;
}

/* ---- dependency chains ---- */

/* The key these helpers send: h's admin key (set by the test for a node that
 * shares another node's store), none when it has none. */
static const char *harness_chain_key(const struct harness *h)
{
        return h->admin_key[0] ? h->admin_key : NULL;
}

/* The body of one flow of the chain: per_flow jobs r0..r<n-1>, r0 on
 * parent (an id, or "" for none) with extra members; owned by the caller. */
static char *chain_body(const char *queue, int per_flow, const char *parent, const char *extra)
{
        size_t cap = (size_t)per_flow * (strlen(queue) + 96) + 256 + (extra ? strlen(extra) : 0);
        char *b = malloc(cap);
        size_t len = 0;

        assert_non_null(b);
        len += (size_t)snprintf(b + len, cap - len, "{\"jobs\":[");
        for (int i = 0; i < per_flow; i++) {
                char dep[48] = "";
                if (i > 0)
                        snprintf(dep, sizeof(dep), ",\"depends_on\":[\"r%d\"]", i - 1);
                else if (parent[0])
                        snprintf(dep, sizeof(dep), ",\"depends_on\":[\"%s\"]", parent);
                len += (size_t)snprintf(b + len, cap - len,
                                        "%s{\"ref\":\"r%d\",\"queue\":\"%s\",\"type\":\"t\"%s%s%s}",
                                        i ? "," : "", i, queue, dep, i == 0 && extra ? "," : "",
                                        i == 0 && extra ? extra : "");
                assert_true(len < cap);
        }
        len += (size_t)snprintf(b + len, cap - len, "]}");
        assert_true(len < cap);
        return b;
}

void harness_flow_chain(const struct harness *h, const char *queue, int n_flows, int per_flow,
                        const char *root_extra, char *root_id, char *last_id, char (*flow_ids)[32])
{
        char parent[32] = "";

        for (int k = 0; k < n_flows; k++) {
                char *body = chain_body(queue, per_flow, parent, k == 0 ? root_extra : NULL);
                struct http_res r;
                json_t *jobs;

                assert_int_equal(
                    http_json_as(h->url, harness_chain_key(h), "POST", "/v1/flows", body, &r), 0);
                free(body);
                if (r.status != 201)
                        fprintf(stderr, "flow %d: %d %.300s\n", k, r.status, r.body);
                assert_int_equal(r.status, 201);
                jobs = jpath(r.json, "flow.jobs");
                assert_int_equal(json_array_size(jobs), (size_t)per_flow);
                snprintf(flow_ids[k], 32, "%s", jpath_str(r.json, "flow.id"));
                if (k == 0)
                        snprintf(root_id, 32, "%s", jpath_str(json_array_get(jobs, 0), "id"));
                snprintf(parent, sizeof(parent), "%s",
                         jpath_str(json_array_get(jobs, (size_t)per_flow - 1), "id"));
                http_res_free(&r);
        }
        snprintf(last_id, 32, "%s", parent);
}

int harness_flow_state(const struct harness *h, const char *flow_id, char *state,
                       const char *check_reason, const char *except_id)
{
        char path[96];
        struct http_res r;
        int status;

        state[0] = 0;
        snprintf(path, sizeof(path), "/v1/flows/%s", flow_id);
        if (http_json_as(h->url, harness_chain_key(h), "GET", path, NULL, &r) != 0)
                return 0;
        status = r.status;
        if (status == 200)
                snprintf(state, 32, "%s",
                         jpath_str(r.json, "flow.state") ? jpath_str(r.json, "flow.state") : "");
        for (size_t i = 0;
             status == 200 && check_reason && i < json_array_size(jpath(r.json, "flow.jobs"));
             i++) {
                json_t *j = json_array_get(jpath(r.json, "flow.jobs"), i);
                const char *why = jpath_str(j, "cancel_reason");
                if (except_id && strcmp(jpath_str(j, "id"), except_id) == 0)
                        continue;
                if (strcmp(jpath_str(j, "state"), "cancelled") != 0 || !why ||
                    strcmp(why, check_reason) != 0)
                        fail_msg("flow %s job %s: state %s, cancel_reason %s", flow_id,
                                 jpath_str(j, "id"), jpath_str(j, "state"), why ? why : "null");
        }
        http_res_free(&r);
        return status;
}
