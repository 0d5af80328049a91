/*
 * restart.c: restart time with a large store and server memory under load
 * (DESIGN §9 rows "restart with 1,000,000 jobs stored, ready to serve" < 1 s
 * and "server memory while processing 100k jobs" <= 32 MiB RSS). Unlike the
 * other benchmarks it starts batond itself (--batond, else $BATOND, else the
 * batond next to this program), each time on a fresh temporary data directory
 * and a free 127.0.0.1 port. With --store URI (else $BATON_STORE) the servers
 * use that PostgreSQL store instead of the embedded one; the data directory
 * still holds the node id and the first admin key. The restart keeps the same
 * store (same schema) across the stop and the start:
 *
 *  1. restart: load --jobs queued jobs (batches of 1,000, two client
 *     threads), stop the server with SIGTERM, start it again on the same data
 *     directory and time the way back: process start to /readyz answering 200,
 *     and to a claim that returns a job.
 *  2. memory: on a new data directory, pre-load --rss-jobs jobs and process
 *     them (claims and settles of 1,000) while sampling VmRSS of the server
 *     from /proc/<pid>/status every 10 ms; report the peak sample and VmHWM.
 *
 * Every server started is stopped by its pid (SIGTERM, then SIGKILL after a
 * bounded wait) and its temporary directory removed, on success and failure.
 */
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bench.h"

#define LOAD_BATCH 1000
#define CLAIM_BATCH 1000
#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 60000
#define RSS_SAMPLE_MS 10
/* Longest processing of the memory run: 100,000 jobs on PostgreSQL on a loaded
 * 2-core machine take minutes. */
#define PROCESS_TIMEOUT_MS 900000

/* How every server is started: the program, --sync and --store (NULL for
 * the embedded store in the data directory). */
struct spawn_cfg {
        const char *batond;
        const char *sync;
        const char *store;
};

struct server {
        const char *batond;
        const char *sync;
        const char *store;
        char root[PATH_MAX];
        char data_dir[PATH_MAX + 8];
        char log_path[PATH_MAX + 16];
        char url[64];
        pid_t pid;
};

/* ---- temporary directory and process ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        remove(path);
        return 0;
}

static int free_port(void)
{
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

        if (fd < 0)
                return -1;
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
                port = ntohs(a.sin_port);
        close(fd);
        return port;
}

static int server_init(struct server *s, const struct spawn_cfg *cfg)
{
        const char *tmp = getenv("TMPDIR");

        memset(s, 0, sizeof(*s));
        s->batond = cfg->batond;
        s->sync = cfg->sync;
        s->store = cfg->store;
        snprintf(s->root, sizeof(s->root), "%s/baton-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(s->root)) {
                perror("mkdtemp");
                s->root[0] = '\0';
                return BATON_EIO;
        }
        snprintf(s->data_dir, sizeof(s->data_dir), "%s/data", s->root);
        snprintf(s->log_path, sizeof(s->log_path), "%s/batond.log", s->root);
        if (mkdir(s->data_dir, 0700) != 0) {
                perror("mkdir");
                return BATON_EIO;
        }
        return 0;
}

/* Starts batond on a free port; does not wait for it. */
static int server_spawn(struct server *s)
{
        char listen_arg[32];
        pid_t parent = getpid();
        int port = free_port();

        if (port <= 0)
                return BATON_EIO;
        snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
        snprintf(s->url, sizeof(s->url), "http://%s", listen_arg);
        fflush(NULL);
        s->pid = fork();
        if (s->pid < 0) {
                s->pid = 0;
                return BATON_EIO;
        }
        if (s->pid == 0) {
                int fd;

                /* Never outlive the benchmark, even when it is killed. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                        close(fd);
                }
                if (s->store)
                        execl(s->batond, s->batond, "--listen", listen_arg, "--data", s->data_dir,
                              "--sync", s->sync, "--store", s->store, "--log-level", "warn",
                              (char *)NULL);
                else
                        execl(s->batond, s->batond, "--listen", listen_arg, "--data", s->data_dir,
                              "--sync", s->sync, "--log-level", "warn", (char *)NULL);
                fprintf(stderr, "exec %s: %s\n", s->batond, strerror(errno));
                _exit(127);
        }
        return 0;
}

/* Makes the key batond wrote to <data>/admin.key on its first start the one
 * bench_client() sends ($BATON_KEY): every server here has a data directory
 * of its own, so a key from the environment would not be valid for it. A
 * PostgreSQL store keeps its keys, and batond writes admin.key only on the
 * store's first start: a second server on the same store keeps the key that
 * $BATON_KEY already holds (from the first server, or from the caller). */
static int server_use_admin_key(const struct server *s)
{
        char path[PATH_MAX + 32], key[512];
        const char *have = getenv("BATON_KEY");
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "%s/admin.key", s->data_dir);
        f = fopen(path, "r");
        if (!f && errno == ENOENT && s->store && have && *have)
                return 0;
        if (!f) {
                fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
                return BATON_EIO;
        }
        n = fread(key, 1, sizeof(key) - 1, f);
        fclose(f);
        while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r' || key[n - 1] == ' '))
                n--;
        key[n] = '\0';
        if (n == 0 || setenv("BATON_KEY", key, 1) != 0)
                return BATON_EIO;
        return 0;
}

/* Waits until /readyz answers 200, polling every millisecond so that the
 * measured time is close to the real one. /readyz needs no key; once it
 * answers, the server's admin key becomes $BATON_KEY for the requests that
 * follow. */
static int server_wait_ready(struct server *s, int64_t timeout_ms)
{
        struct baton_client *c = bench_client(s->url);
        int64_t deadline = now_ns() + timeout_ms * 1000000;
        int rc = BATON_EBUSY;

        baton_client_set_connect_timeout_ms(c, 200);
        baton_client_set_timeout_ms(c, 1000);
        while (now_ns() < deadline) {
                int status;

                if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
                        fprintf(stderr, "batond exited at start (status %d); see %s\n", status,
                                s->log_path);
                        s->pid = 0;
                        rc = BATON_EIO;
                        break;
                }
                if (baton_ready(c) == 0) {
                        rc = 0;
                        break;
                }
                sleep_ns(1000000);
        }
        baton_client_free(c);
        if (!rc)
                rc = server_use_admin_key(s);
        return rc;
}

/* Sends sig and waits for the exit; SIGKILL after timeout_ms. *elapsed_ns may
 * be NULL. Returns 0 when the server exited with status 0. */
static int server_stop(struct server *s, int sig, int64_t timeout_ms, int64_t *elapsed_ns)
{
        int64_t t0 = now_ns(), deadline = t0 + timeout_ms * 1000000;
        int status = 0, rc = BATON_EIO;

        if (!s->pid)
                return 0;
        kill(s->pid, sig);
        while (now_ns() < deadline) {
                pid_t r = waitpid(s->pid, &status, WNOHANG);

                if (r == s->pid) {
                        s->pid = 0;
                        if (elapsed_ns)
                                *elapsed_ns = now_ns() - t0;
                        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : BATON_EIO;
                }
                sleep_ns(1000000);
        }
        fprintf(stderr, "batond pid %d did not stop in %" PRId64 " ms; killing it\n", (int)s->pid,
                timeout_ms);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        s->pid = 0;
        return rc;
}

/* Stops the server if it runs and removes its directory. */
static void server_cleanup(struct server *s)
{
        server_stop(s, SIGTERM, STOP_TIMEOUT_MS, NULL);
        if (s->root[0])
                nftw(s->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        s->root[0] = '\0';
}

static int64_t dir_bytes_total;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)path;
        (void)ftw;
        if (flag == FTW_F)
                dir_bytes_total += st->st_size;
        return 0;
}

static int64_t dir_bytes(const char *dir)
{
        dir_bytes_total = 0;
        nftw(dir, add_size, 16, FTW_PHYS);
        return dir_bytes_total;
}

/* Reads a "Name:   1234 kB" line of /proc/<pid>/status; -1 when absent. */
static int64_t proc_status_kb(pid_t pid, const char *name)
{
        char path[64], line[256];
        size_t n = strlen(name);
        int64_t kb = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, name, n) == 0 && line[n] == ':') {
                        kb = strtoll(line + n + 1, NULL, 10);
                        break;
                }
        }
        fclose(f);
        return kb;
}

/* ---- load and processing ---- */

struct load {
        const char *url;
        const char *queue;
        int64_t jobs;
        atomic_int_fast64_t next;
        atomic_int_fast64_t settled;
        atomic_int failed;
        atomic_int done; /* processing finished: the RSS sampler stops */
};

static void *load_loop(void *arg)
{
        struct load *l = arg;
        struct baton_client *c = bench_client(l->url);
        struct baton_enqueue_opts *o = calloc(LOAD_BATCH, sizeof(*o));
        char(*payload)[32] = calloc(LOAD_BATCH, 32);

        if (!o || !payload) {
                atomic_store(&l->failed, 1);
                goto out;
        }
        while (!atomic_load(&l->failed)) {
                int64_t first = atomic_fetch_add(&l->next, LOAD_BATCH), n;
                int rc;

                if (first >= l->jobs)
                        break;
                n = l->jobs - first < LOAD_BATCH ? l->jobs - first : LOAD_BATCH;
                for (int64_t i = 0; i < n; i++) {
                        snprintf(payload[i], 32, "{\"n\":%" PRId64 "}", first + i);
                        o[i].queue = l->queue;
                        o[i].type = "restart";
                        o[i].payload = payload[i];
                }
                rc = baton_enqueue_batch(c, o, (size_t)n, NULL);
                if (rc) {
                        bench_report_error(c, "load", rc);
                        atomic_store(&l->failed, 1);
                }
        }
out:
        free(o);
        free(payload);
        baton_client_free(c);
        return NULL;
}

static void *work_loop(void *arg)
{
        struct load *l = arg;
        struct baton_client *c = bench_client(l->url);
        struct baton_claim_opts co = {.worker = "bench-rss", .max = CLAIM_BATCH, .wait_ms = 20};
        struct baton_settle_item *items = calloc(CLAIM_BATCH, sizeof(*items));
        int64_t deadline = now_ns() + (int64_t)PROCESS_TIMEOUT_MS * 1000000;

        if (!items) {
                atomic_store(&l->failed, 1);
                goto out;
        }
        while (atomic_load(&l->settled) < l->jobs && !atomic_load(&l->failed) &&
               now_ns() < deadline) {
                struct baton_jobs *j = NULL;
                int rc = baton_claim(c, l->queue, &co, &j);

                if (rc) {
                        bench_report_error(c, "claim", rc);
                        atomic_store(&l->failed, 1);
                        break;
                }
                for (size_t i = 0; i < j->n; i++)
                        items[i] = (struct baton_settle_item){.id = j->v[i].id,
                                                              .lease = j->v[i].lease,
                                                              .outcome = BATON_OUTCOME_COMPLETE,
                                                              .retry_in_ms = -1};
                if (j->n) {
                        rc = baton_settle(c, items, j->n);
                        if (rc) {
                                bench_report_error(c, "settle", rc);
                                atomic_store(&l->failed, 1);
                        } else {
                                int64_t ok = 0;

                                for (size_t i = 0; i < j->n; i++)
                                        ok += items[i].rc == 0;
                                atomic_fetch_add(&l->settled, ok);
                        }
                }
                baton_jobs_free(j);
        }
out:
        free(items);
        baton_client_free(c);
        return NULL;
}

/* Runs n threads of fn over l and joins them. */
static int run_threads(struct load *l, void *(*fn)(void *), int n)
{
        pthread_t tid[8];
        int started = 0;

        for (; started < n && started < 8; started++)
                if (pthread_create(&tid[started], NULL, fn, l))
                        break;
        if (started < n)
                atomic_store(&l->failed, 1);
        for (int i = 0; i < started; i++)
                pthread_join(tid[i], NULL);
        return atomic_load(&l->failed) ? BATON_EIO : 0;
}

static int load_jobs(const char *url, const char *queue, int64_t jobs)
{
        struct load l = {.url = url, .queue = queue, .jobs = jobs};

        atomic_init(&l.next, 0);
        atomic_init(&l.failed, 0);
        return run_threads(&l, load_loop, 2);
}

/* ---- the two measurements ---- */

static int bench_restart(const struct spawn_cfg *cfg, int64_t jobs)
{
        struct server s;
        struct baton_client *c = NULL;
        struct baton_jobs *got = NULL;
        struct baton_claim_opts co = {.worker = "bench-restart", .max = 1};
        int64_t t0, load_ns, stop_ns = 0, ready_ns, claim_ns;
        int rc;

        rc = server_init(&s, cfg);
        if (!rc)
                rc = server_spawn(&s);
        if (!rc)
                rc = server_wait_ready(&s, START_TIMEOUT_MS);
        if (rc)
                goto out;
        t0 = now_ns();
        rc = load_jobs(s.url, "restart", jobs);
        load_ns = now_ns() - t0;
        if (rc)
                goto out;
        printf("restart load jobs=%" PRId64 " elapsed=%.3f s (%.0f jobs/s) sync=%s\n", jobs,
               (double)load_ns / 1e9, (double)jobs * 1e9 / (double)load_ns, cfg->sync);
        rc = server_stop(&s, SIGTERM, STOP_TIMEOUT_MS, &stop_ns);
        if (rc) {
                fprintf(stderr, "restart: batond did not exit 0 on SIGTERM; see %s\n", s.log_path);
                goto out;
        }
        if (cfg->store)
                printf("restart stop (SIGTERM to exit) elapsed=%.1f ms store=postgresql\n",
                       ns_to_ms(stop_ns));
        else
                printf("restart stop (SIGTERM to exit) elapsed=%.1f ms store=%.1f MiB\n",
                       ns_to_ms(stop_ns), (double)dir_bytes(s.data_dir) / (1024.0 * 1024.0));

        t0 = now_ns();
        rc = server_spawn(&s);
        if (!rc)
                rc = server_wait_ready(&s, START_TIMEOUT_MS);
        ready_ns = now_ns() - t0;
        if (rc)
                goto out;
        c = bench_client(s.url);
        rc = baton_claim(c, "restart", &co, &got);
        claim_ns = now_ns() - t0;
        if (rc) {
                bench_report_error(c, "claim after restart", rc);
                goto out;
        }
        if (got->n != 1) {
                fprintf(stderr, "restart: the first claim after restart returned no job\n");
                rc = BATON_EPROTO;
                goto out;
        }
        printf("restart jobs_stored=%" PRId64 " start_to_ready=%.1f ms start_to_first_claim=%.1f "
               "ms\n",
               jobs, ns_to_ms(ready_ns), ns_to_ms(claim_ns));
out:
        baton_jobs_free(got);
        baton_client_free(c);
        server_cleanup(&s);
        return rc;
}

struct sampler {
        struct load *load;
        pid_t pid;
        int64_t peak_kb;
};

static void *sample_loop(void *arg)
{
        struct sampler *sm = arg;
        int64_t deadline = now_ns() + (int64_t)PROCESS_TIMEOUT_MS * 2 * 1000000;

        while (!atomic_load(&sm->load->done) && now_ns() < deadline) {
                int64_t kb = proc_status_kb(sm->pid, "VmRSS");

                if (kb > sm->peak_kb)
                        sm->peak_kb = kb;
                sleep_ns((int64_t)RSS_SAMPLE_MS * 1000000);
        }
        return NULL;
}

static int bench_rss(const struct spawn_cfg *cfg, int64_t jobs)
{
        struct server s;
        struct load l = {.queue = "rss", .jobs = jobs};
        struct sampler sm = {.load = &l};
        pthread_t tid;
        bool sampling = false;
        int64_t idle_kb, t0;
        int rc;

        atomic_init(&l.next, 0);
        atomic_init(&l.settled, 0);
        atomic_init(&l.failed, 0);
        atomic_init(&l.done, 0);
        rc = server_init(&s, cfg);
        if (!rc)
                rc = server_spawn(&s);
        if (!rc)
                rc = server_wait_ready(&s, START_TIMEOUT_MS);
        if (rc)
                goto out;
        l.url = s.url;
        sm.pid = s.pid;
        idle_kb = proc_status_kb(s.pid, "VmRSS");
        if (pthread_create(&tid, NULL, sample_loop, &sm)) {
                rc = BATON_ENOMEM;
                goto out;
        }
        sampling = true;
        t0 = now_ns();
        rc = run_threads(&l, load_loop, 2);
        if (!rc)
                rc = run_threads(&l, work_loop, 2);
        if (!rc && atomic_load(&l.settled) < jobs) {
                fprintf(stderr, "rss: only %" PRId64 " of %" PRId64 " jobs processed\n",
                        (int64_t)atomic_load(&l.settled), jobs);
                rc = BATON_EBUSY;
        }
        atomic_store(&l.done, 1);
        pthread_join(tid, NULL);
        sampling = false;
        if (rc)
                goto out;
        printf("rss jobs=%" PRId64 " (load + process in %.1f s) idle=%.1f MiB peak_sampled=%.1f "
               "MiB VmHWM=%.1f MiB sync=%s\n",
               jobs, (double)(now_ns() - t0) / 1e9, (double)idle_kb / 1024.0,
               (double)sm.peak_kb / 1024.0, (double)proc_status_kb(s.pid, "VmHWM") / 1024.0,
               cfg->sync);
out:
        if (sampling) {
                atomic_store(&l.done, 1);
                pthread_join(tid, NULL);
        }
        server_cleanup(&s);
        return rc;
}

int main(int argc, char **argv)
{
        const char *batond = NULL, *sync = "full", *what = "restart,rss", *store = NULL;
        int64_t jobs = 1000000, rss_jobs = 100000;
        const struct flag flags[] = {
            {"--batond", FLAG_STR, &batond, "path of batond (else $BATOND, else next to this)"},
            {"--sync", FLAG_STR, &sync, "batond --sync mode (full or normal)"},
            {"--store", FLAG_STR, &store,
             "batond --store URI, e.g. postgresql://... (else $BATON_STORE, else embedded)"},
            {"--jobs", FLAG_I64, &jobs, "jobs stored before the restart"},
            {"--rss-jobs", FLAG_I64, &rss_jobs, "jobs processed while sampling memory"},
            {"--run", FLAG_STR, &what, "what to measure: restart, rss or both"},
        };
        char self[PATH_MAX], sibling[PATH_MAX + 8];
        struct spawn_cfg cfg;
        int rc = 0;

        if (flags_parse(argc, argv, "restart time with a large store, and server memory", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))))
                return 2;
        if (jobs <= 0 || rss_jobs <= 0) {
                fprintf(stderr, "restart: invalid --jobs or --rss-jobs\n");
                return 2;
        }
        if (!batond)
                batond = getenv("BATOND");
        if (!batond || !*batond) {
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

                if (n <= 0) {
                        fprintf(stderr, "restart: give --batond or set BATOND\n");
                        return 2;
                }
                self[n] = '\0';
                snprintf(sibling, sizeof(sibling), "%s/batond", dirname(self));
                batond = sibling;
        }
        if (access(batond, X_OK) != 0) {
                fprintf(stderr, "restart: %s is not executable\n", batond);
                return 2;
        }
        if (!store)
                store = getenv("BATON_STORE");
        cfg = (struct spawn_cfg){
            .batond = batond, .sync = sync, .store = store && *store ? store : NULL};
        if (strstr(what, "restart"))
                rc = bench_restart(&cfg, jobs);
        if (rc == 0 && strstr(what, "rss"))
                rc = bench_rss(&cfg, rss_jobs);
        return rc ? 1 : 0;
}
