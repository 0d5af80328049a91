/*
 * work.c: `baton work --queue Q -- CMD ARGS...`, which turns any program into a
 * worker. Purpose: run CMD once per claimed job with the payload on stdin and
 * the job's id, type, attempt and queue in its environment, and settle the job
 * from how CMD ended: exit 0 completes it with stdout as the result, exit 75
 * (EX_TEMPFAIL) and any other failure but the sysexits range 64-78 fail it
 * retryable, 64-78 fail it for good; the error is the tail of stderr.
 *
 * Workload: up to --concurrency commands at a time, each living seconds to
 * hours. Two threads, each with its own libbaton client: a claimer that
 * long-polls for as many jobs as there are free slots, and the main thread,
 * which owns everything else: starting children, their pipes, heartbeats
 * (every lease/3), timeouts, cancellation, settling and signals. The main
 * thread sleeps in poll() on a signalfd (SIGCHLD, SIGTERM, SIGINT), a wake-up
 * pipe from the claimer and the children's pipes, with a timeout bounded by
 * the next heartbeat or deadline (at most a second), so it neither spins nor
 * misses a deadline while the claimer waits on the server.
 *
 * Assumptions: Linux (signalfd, PR_SET_CHILD_SUBREAPER). Each child runs in its
 * own process group (posix_spawn with POSIX_SPAWN_SETPGROUP), so a terminal's
 * Ctrl-C reaches only the worker, which then drains, and a kill reaches the
 * command's whole tree (unless a process left the group on purpose). The
 * worker is a child subreaper, so orphaned grandchildren are reaped here, not
 * left as zombies. No mutable globals: signals arrive through the signalfd.
 *
 * Shutdown: the first SIGTERM/SIGINT stops claiming and gives running commands
 * --grace-ms to finish; at the end of the grace period (or on a second signal)
 * their process groups are killed and their jobs failed retryable with
 * retry_in_ms 0, so another worker retries them at once. A claim in flight when
 * the signal came is allowed to finish (aborting it could lose a lease the
 * server already granted); jobs it returns run under the same grace period.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

extern char **environ;

#define OUT_MAX_BYTES (256 * 1024) /* stdout kept as the result: the server's default limit */
#define ERR_TAIL_BYTES 4096        /* stderr tail kept as the error */
#define LINGER_MS 500    /* after CMD exits, how long its pipes may stay open (background kids) */
#define POLL_CAP_MS 1000 /* longest sleep of the main loop */
#define HB_RETRY_MS 1000 /* next heartbeat after one that got no answer */
#define HB_MIN_MS 100    /* shortest heartbeat interval */
#define SETTLE_TRIES 3   /* attempts of a complete/fail that got no answer */
#define CLAIM_BACKOFF_MAX_MS 5000
#define DEFAULT_GRACE_MS 20000
#define DEFAULT_POLL_MS 5000
#define CONCURRENCY_MAX 1024

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
        char **argv;
};

/* State shared by the main thread and the claimer, under mu. */
struct shared {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int free_slots;
        bool stop;
        bool done;
        struct baton_jobs **inbox; /* claimed lists not yet taken (at most concurrency) */
        int n_inbox;
        int fatal_exit; /* exit code when the claimer gave up, else 0 */
        int wake_w;     /* write end of the main thread's wake-up pipe */
};

struct claimer {
        struct shared *sh;
        const struct wcfg *cfg;
        struct baton_client *client;
        const char *prog;
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(struct shared *sh)
{
        char b = 1;

        /* The pipe is non-blocking: when it is full the main thread is awake anyway. */
        if (write(sh->wake_w, &b, 1) < 0 && errno != EAGAIN)
                return;
}

/* Waits on the condition for up to ms (or until stop). Call with mu held. */
static void wait_ms_locked(struct shared *sh, int64_t ms)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
        }
        if (!sh->stop)
                pthread_cond_timedwait(&sh->cv, &sh->mu, &ts);
}

/*
 * The claimer thread: one long-poll claim at a time for as many jobs as there
 * are free slots. Transport errors and 5xx are retried with a capped backoff,
 * 429 after Retry-After; anything else (a refused key, a bad --lease-ms) stops
 * the worker with the matching exit code.
 */
static void *claimer_main(void *arg)
{
        struct claimer *cl = arg;
        struct shared *sh = cl->sh;
        int64_t backoff_ms = 0;
        bool logged = false;

        pthread_mutex_lock(&sh->mu);
        for (;;) {
                struct baton_claim_opts o = {0};
                struct baton_jobs *jobs = NULL;
                const struct baton_error *e;
                int rc;

                while (!sh->stop && sh->free_slots == 0)
                        pthread_cond_wait(&sh->cv, &sh->mu);
                if (sh->stop)
                        break;
                o.worker = cl->cfg->worker;
                o.max = sh->free_slots;
                o.wait_ms = cl->cfg->poll_ms;
                o.lease_ms = cl->cfg->lease_ms;
                pthread_mutex_unlock(&sh->mu);
                rc = baton_claim(cl->client, cl->cfg->queue, &o, &jobs);
                e = baton_client_last_error(cl->client);
                pthread_mutex_lock(&sh->mu);
                if (rc == 0) {
                        if (logged)
                                fprintf(stderr, "%s work: claiming again\n", cl->prog);
                        backoff_ms = 0;
                        logged = false;
                        if (jobs->n == 0) {
                                baton_jobs_free(jobs);
                                continue;
                        }
                        sh->free_slots -= (int)jobs->n;
                        sh->inbox[sh->n_inbox++] = jobs;
                        wake(sh);
                        continue;
                }
                if (rc == BATON_EHTTP || rc == BATON_EBUSY || rc == BATON_ESTORE ||
                    rc == BATON_ESHUTDOWN || e->http_status >= 500) {
                        backoff_ms = backoff_ms ? backoff_ms * 2 : 250;
                        if (backoff_ms > CLAIM_BACKOFF_MAX_MS)
                                backoff_ms = CLAIM_BACKOFF_MAX_MS;
                        if (!logged)
                                fprintf(stderr, "%s work: claim failed (%s); retrying\n", cl->prog,
                                        e->message[0] ? e->message : baton_strerror(rc));
                        logged = true;
                        wait_ms_locked(sh, backoff_ms);
                        continue;
                }
                if (rc == BATON_ERATE) {
                        fprintf(stderr, "%s work: claim rate limited; waiting\n", cl->prog);
                        wait_ms_locked(sh, e->retry_after_s > 0 ? e->retry_after_s * 1000 : 1000);
                        continue;
                }
                fprintf(stderr, "%s work: claim refused: %s (%s, HTTP %d)\n", cl->prog,
                        e->message[0] ? e->message : baton_strerror(rc),
                        e->code[0] ? e->code : baton_strerror(rc), e->http_status);
                sh->fatal_exit = cli_exit_for(rc, e->http_status);
                sh->stop = true;
                break;
        }
        sh->done = true;
        wake(sh);
        pthread_mutex_unlock(&sh->mu);
        return NULL;
}

/* ---- text helpers ---- */

/* Appends p[0..n) to a new string, replacing bytes that are not part of valid
 * UTF-8 (and NUL) with '?', so the text can travel as a JSON string. */
static char *utf8_clean(const char *p, size_t n)
{
        const unsigned char *s = (const unsigned char *)p;
        char *out = malloc(n + 1);
        size_t i = 0, o = 0;

        if (!out)
                return NULL;
        while (i < n) {
                unsigned char c = s[i];
                size_t len = c < 0x80             ? 1
                             : (c & 0xe0) == 0xc0 ? 2
                             : (c & 0xf0) == 0xe0 ? 3
                             : (c & 0xf8) == 0xf0 ? 4
                                                  : 0;
                size_t k;
                bool ok = len > 0 && i + len <= n && c != 0 && c != 0xc0 && c != 0xc1;

                for (k = 1; ok && k < len; k++)
                        ok = (s[i + k] & 0xc0) == 0x80;
                if (!ok) {
                        out[o++] = '?';
                        i++;
                        continue;
                }
                memcpy(out + o, s + i, len);
                o += len;
                i += len;
        }
        out[o] = '\0';
        return out;
}

/* The last bytes of stderr, in order, without a trailing newline, cleaned.
 * *truncated tells whether earlier bytes were dropped. Caller frees. */
static char *err_tail(const struct wjob *j, bool *truncated)
{
        char buf[ERR_TAIL_BYTES];
        size_t n, start = 0;

        *truncated = j->err_total > ERR_TAIL_BYTES;
        if (!*truncated) {
                n = j->err_total;
                memcpy(buf, j->err, n);
        } else {
                size_t pos = j->err_total % ERR_TAIL_BYTES;

                n = ERR_TAIL_BYTES;
                memcpy(buf, j->err + pos, ERR_TAIL_BYTES - pos);
                memcpy(buf + ERR_TAIL_BYTES - pos, j->err, pos);
                /* Do not start inside a UTF-8 sequence. */
                while (start < n && ((unsigned char)buf[start] & 0xc0) == 0x80)
                        start++;
        }
        while (n > start && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        return utf8_clean(buf + start, n - start);
}

/* The result for a completed job: stdout as JSON when it parses, otherwise as
 * a JSON string (one trailing newline dropped); null when empty. Caller frees. */
static char *result_json(const struct wjob *j)
{
        json_t *v;
        char *text, *clean;
        size_t s = 0, n = j->out_len;

        while (s < n && strchr(" \t\r\n", j->out[s]))
                s++;
        if (s == n)
                return strdup("null");
        v = json_loadb(j->out, n, JSON_DECODE_ANY, NULL);
        if (!v) {
                if (n && j->out[n - 1] == '\n')
                        n--;
                if (n && j->out[n - 1] == '\r')
                        n--;
                clean = utf8_clean(j->out, n);
                v = clean ? json_string(clean) : NULL;
                free(clean);
        }
        text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(v);
        return text;
}

/* ---- children ---- */

static void close_fd(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void job_release(struct wjob *j)
{
        close_fd(&j->in_fd);
        close_fd(&j->out_fd);
        close_fd(&j->err_fd);
        free(j->id);
        free(j->lease);
        free(j->type);
        free(j->queue);
        free(j->payload);
        free(j->out);
        memset(j, 0, sizeof(*j));
        j->in_fd = j->out_fd = j->err_fd = -1;
}

/* Builds the child's environment: ours without BATON_JOB_*, plus the job's. */
static char **job_env(const struct wjob *j, char vars[4][320])
{
        size_t n = 0, k = 0;
        char **env;
        char **e;

        for (e = environ; *e; e++)
                n++;
        env = calloc(n + 5, sizeof(char *));
        if (!env)
                return NULL;
        for (e = environ; *e; e++)
                if (strncmp(*e, "BATON_JOB_", 10) != 0)
                        env[k++] = *e;
        snprintf(vars[0], sizeof(vars[0]), "BATON_JOB_ID=%s", j->id);
        snprintf(vars[1], sizeof(vars[1]), "BATON_JOB_TYPE=%s", j->type ? j->type : "");
        snprintf(vars[2], sizeof(vars[2]), "BATON_JOB_ATTEMPT=%d", j->attempt);
        snprintf(vars[3], sizeof(vars[3]), "BATON_JOB_QUEUE=%s", j->queue ? j->queue : "");
        env[k++] = vars[0];
        env[k++] = vars[1];
        env[k++] = vars[2];
        env[k++] = vars[3];
        env[k] = NULL;
        return env;
}

/*
 * Starts CMD for j: pipes for stdin/stdout/stderr (the parent's ends
 * non-blocking and close-on-exec), its own process group, default signal
 * dispositions and an empty signal mask (the worker blocks and ignores some).
 * Returns 0, or a negative errno-style code with j->pid 0.
 */
static int job_spawn(struct wjob *j, const struct wcfg *cfg)
{
        int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, rc;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        char vars[4][320];
        char **env;

        if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
                rc = errno;
                goto out_pipes;
        }
        env = job_env(j, vars);
        if (!env) {
                rc = ENOMEM;
                goto out_pipes;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGPIPE);
        sigaddset(&defaults, SIGTERM);
        sigaddset(&defaults, SIGINT);
        sigaddset(&defaults, SIGCHLD);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETSIGDEF);
        rc = posix_spawnp(&j->pid, cfg->argv[0], &fa, &attr, cfg->argv, env);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        free(env);
        if (rc) {
                j->pid = 0;
                goto out_pipes;
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        j->in_fd = in[1];
        j->out_fd = out[0];
        j->err_fd = err[0];
        fcntl(j->in_fd, F_SETFL, O_NONBLOCK);
        fcntl(j->out_fd, F_SETFL, O_NONBLOCK);
        fcntl(j->err_fd, F_SETFL, O_NONBLOCK);
        return 0;
out_pipes:
        close_fd(&in[0]);
        close_fd(&in[1]);
        close_fd(&out[0]);
        close_fd(&out[1]);
        close_fd(&err[0]);
        close_fd(&err[1]);
        return -rc;
}

static void kill_group(struct wjob *j, enum kill_reason why)
{
        if (j->pid > 0 && !j->exited) {
                kill(-j->pid, SIGKILL);
                if (j->killed == KILL_NONE)
                        j->killed = why;
        }
}

/* Feeds stdin; closes it when the payload is written or the child closed it. */
static void job_write(struct wjob *j)
{
        while (j->in_fd >= 0 && j->payload_off < j->payload_len) {
                ssize_t w =
                    write(j->in_fd, j->payload + j->payload_off, j->payload_len - j->payload_off);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && errno == EAGAIN)
                        return;
                if (w < 0)
                        break; /* EPIPE: the command does not read its stdin */
                j->payload_off += (size_t)w;
        }
        close_fd(&j->in_fd);
}

/* Reads what is available on stdout (bounded) or stderr (ring). */
static void job_read(struct wjob *j, bool is_err)
{
        char buf[16384];
        int *fd = is_err ? &j->err_fd : &j->out_fd;

        for (;;) {
                ssize_t r = read(*fd, buf, sizeof(buf));
                size_t i, n;

                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 && errno == EAGAIN)
                        return;
                if (r <= 0) {
                        close_fd(fd);
                        return;
                }
                n = (size_t)r;
                if (is_err) {
                        for (i = 0; i < n; i++)
                                j->err[(j->err_total + i) % ERR_TAIL_BYTES] = buf[i];
                        j->err_total += n;
                        continue;
                }
                if (j->out_len + n > OUT_MAX_BYTES) {
                        /* Keep draining so the command never blocks on a full pipe. */
                        j->out_overflow = true;
                        continue;
                }
                if (!j->out) {
                        j->out = malloc(OUT_MAX_BYTES + 1);
                        if (!j->out) {
                                j->out_overflow = true;
                                continue;
                        }
                }
                memcpy(j->out + j->out_len, buf, n);
                j->out_len += n;
                j->out[j->out_len] = '\0';
        }
}

/* ---- the main loop ---- */

struct worker {
        struct cli *cli;
        const struct wcfg *cfg;
        struct shared sh;
        struct wjob *jobs; /* concurrency slots */
        int running;
        bool stopping;
        int64_t grace_end_ms;
        int killed_at_grace;
};

/* Sends j's complete or fail, retrying a call that got no answer; returns
 * the last call's result. */
static int settle_send(struct worker *w, struct wjob *j, bool complete, const char *result,
                       const char *error, bool retryable, int64_t retry_in_ms)
{
        struct baton_client *c = w->cli->client;
        int rc = 0;

        for (int k = 0; k < SETTLE_TRIES; k++) {
                if (complete)
                        rc = baton_complete(c, j->id, j->lease, result, NULL);
                else
                        rc = baton_fail(c, j->id, j->lease, error, retryable, retry_in_ms, NULL);
                if (rc != BATON_EHTTP && rc != BATON_EBUSY && rc != BATON_ESTORE)
                        break;
                usleep((useconds_t)(200000 << k));
        }
        return rc;
}

/* Fails or completes j's attempt. A result the server refuses as too big
 * turns into a failure that says so (one more call, not a recursion). */
static void settle(struct worker *w, struct wjob *j, bool complete, const char *result,
                   const char *error, bool retryable, int64_t retry_in_ms)
{
        const struct baton_error *e;
        char msg[512];
        int rc = settle_send(w, j, complete, result, error, retryable, retry_in_ms);

        e = baton_client_last_error(w->cli->client);
        if (complete && rc == BATON_ETOOBIG) {
                snprintf(msg, sizeof(msg), "result refused by the server: %.400s", e->message);
                complete = false;
                rc = settle_send(w, j, false, NULL, msg, false, -1);
                e = baton_client_last_error(w->cli->client);
        }
        if (rc == 0)
                return;
        fprintf(stderr, "%s work: job %s: %s refused: %s (%s)%s\n", w->cli->prog, j->id,
                complete ? "complete" : "fail", e->message[0] ? e->message : baton_strerror(rc),
                e->code[0] ? e->code : baton_strerror(rc),
                rc == BATON_ELEASE || rc == BATON_EEXPIRED
                    ? "; the lease was lost, the server retries the job"
                    : "");
}

/* Decides the outcome of a job whose command has ended, settles it and frees
 * its slot. */
static void job_finish(struct worker *w, struct wjob *j)
{
        const struct wcfg *cfg = w->cfg;
        char head[160], *tail, *msg = NULL, *result = NULL;
        bool truncated, retryable = true, complete = false;
        int64_t retry_in_ms = -1, took = now_ms() - j->started_ms;
        int code = -1, sig = 0;
        const char *what;

        if (WIFEXITED(j->status))
                code = WEXITSTATUS(j->status);
        else if (WIFSIGNALED(j->status))
                sig = WTERMSIG(j->status);
        tail = err_tail(j, &truncated);
        switch (j->killed) {
        case KILL_TIMEOUT:
                snprintf(head, sizeof(head), "timeout after %lld ms", (long long)cfg->timeout_ms);
                break;
        case KILL_CANCEL:
                snprintf(head, sizeof(head), "cancelled: command killed on a cancel request");
                retryable = false;
                break;
        case KILL_GRACE:
                snprintf(head, sizeof(head),
                         "worker stopped: command killed after the grace period of %lld ms",
                         (long long)cfg->grace_ms);
                retry_in_ms = 0;
                break;
        case KILL_LOST:
                fprintf(stderr, "%s work: job %s: lease lost; command killed, not settled\n",
                        w->cli->prog, j->id);
                goto out;
        case KILL_NONE:
                if (code == 0 && !j->out_overflow) {
                        complete = true;
                        head[0] = '\0';
                } else if (code == 0) {
                        snprintf(head, sizeof(head), "stdout over %d bytes (the result limit)",
                                 OUT_MAX_BYTES);
                        retryable = false;
                } else if (code >= 0) {
                        snprintf(head, sizeof(head), "exit status %d", code);
                        /* sysexits: 75 is EX_TEMPFAIL; the rest of 64-78 are usage, data
                         * and configuration errors that a retry does not heal. */
                        retryable = code == 75 || code < 64 || code > 78;
                } else {
                        snprintf(head, sizeof(head), "killed by signal %d (%s)", sig,
                                 strsignal(sig));
                }
                break;
        }
        if (complete) {
                result = result_json(j);
                if (!result) {
                        complete = false;
                        snprintf(head, sizeof(head), "out of memory building the result");
                }
        }
        if (!complete) {
                size_t cap = strlen(head) + (tail ? strlen(tail) : 0) + 16;

                msg = malloc(cap);
                if (msg)
                        snprintf(msg, cap, "%s%s%s%s", head, tail && *tail ? ": " : "",
                                 truncated && tail && *tail ? "..." : "", tail ? tail : "");
        }
        what = complete ? "completed" : (retryable ? "failed (retryable)" : "failed");
        fprintf(stderr, "%s work: job %s (type %s, attempt %d) %s in %lld ms%s%s\n", w->cli->prog,
                j->id, j->type ? j->type : "?", j->attempt, what, (long long)took,
                complete ? "" : ": ", complete ? "" : head);
        settle(w, j, complete, result, msg ? msg : head, retryable, retry_in_ms);
out:
        free(tail);
        free(msg);
        free(result);
        job_release(j);
        w->running--;
        pthread_mutex_lock(&w->sh.mu);
        w->sh.free_slots++;
        pthread_cond_signal(&w->sh.cv);
        pthread_mutex_unlock(&w->sh.mu);
}

/* Takes a claimed job into a free slot and starts its command; a job that
 * cannot start (or arrives after the grace period) is failed at once. */
static void job_start(struct worker *w, const struct baton_job *bj)
{
        struct wjob *j = NULL;
        int i, rc;

        for (i = 0; i < w->cfg->concurrency; i++)
                if (!w->jobs[i].used) {
                        j = &w->jobs[i];
                        break;
                }
        if (!j) {
                /* Cannot happen: the claimer asks for free slots only. Hand it back. */
                baton_fail(w->cli->client, bj->id, bj->lease, "worker has no free slot", true, 0,
                           NULL);
                return;
        }
        j->used = true;
        w->running++;
        j->started_ms = now_ms();
        j->id = strdup(bj->id);
        j->lease = strdup(bj->lease ? bj->lease : "");
        j->type = bj->type ? strdup(bj->type) : NULL;
        j->queue = bj->queue ? strdup(bj->queue) : strdup(w->cfg->queue);
        j->attempt = bj->attempt;
        j->lease_ms = w->cfg->lease_ms ? w->cfg->lease_ms : bj->lease_ms;
        j->payload_len = strlen(bj->payload ? bj->payload : "null") + 1;
        j->payload = malloc(j->payload_len + 1);
        if (j->payload)
                snprintf(j->payload, j->payload_len + 1, "%s\n",
                         bj->payload ? bj->payload : "null");
        if (!j->id || !j->lease || !j->queue || !j->payload) {
                rc = -ENOMEM;
        } else if (w->stopping && now_ms() >= w->grace_end_ms) {
                j->killed = KILL_GRACE;
                j->exited = true;
                fprintf(stderr, "%s work: job %s arrived after the grace period\n", w->cli->prog,
                        j->id);
                job_finish(w, j);
                return;
        } else {
                rc = job_spawn(j, w->cfg);
        }
        if (rc) {
                char msg[512];

                snprintf(msg, sizeof(msg), "cannot start %s: %s", w->cfg->argv[0], strerror(-rc));
                fprintf(stderr, "%s work: job %s: %s\n", w->cli->prog, bj->id, msg);
                if (j->id && j->lease)
                        settle(w, j, false, NULL, msg, true, -1);
                job_release(j);
                w->running--;
                pthread_mutex_lock(&w->sh.mu);
                w->sh.free_slots++;
                pthread_cond_signal(&w->sh.cv);
                pthread_mutex_unlock(&w->sh.mu);
                return;
        }
        j->hb_next_ms = j->started_ms + (j->lease_ms / 3 > HB_MIN_MS ? j->lease_ms / 3 : HB_MIN_MS);
        j->deadline_ms = w->cfg->timeout_ms ? j->started_ms + w->cfg->timeout_ms : 0;
        job_write(j);
}

/* Sends a due heartbeat; acts on cancel_requested and on a lost lease. */
static void job_heartbeat(struct worker *w, struct wjob *j, int64_t now)
{
        struct baton_heartbeat_res res;
        const struct baton_error *e;
        int64_t every = j->lease_ms / 3 > HB_MIN_MS ? j->lease_ms / 3 : HB_MIN_MS;
        int rc;

        rc = baton_heartbeat(w->cli->client, j->id, j->lease, w->cfg->lease_ms, NULL, &res);
        e = baton_client_last_error(w->cli->client);
        if (rc == 0) {
                j->hb_next_ms = now + every;
                if (res.cancel_requested) {
                        fprintf(stderr, "%s work: job %s: cancel requested; killing its command\n",
                                w->cli->prog, j->id);
                        kill_group(j, KILL_CANCEL);
                }
                return;
        }
        if (rc == BATON_ELEASE || rc == BATON_EEXPIRED || rc == BATON_ENOTFOUND ||
            rc == BATON_ESTATE || rc == BATON_ECONFLICT) {
                fprintf(stderr, "%s work: job %s: heartbeat refused (%s); killing its command\n",
                        w->cli->prog, j->id, e->code[0] ? e->code : baton_strerror(rc));
                kill_group(j, KILL_LOST);
                return;
        }
        if (rc == BATON_ERATE && e->retry_after_s > 0)
                j->hb_next_ms =
                    now + (e->retry_after_s * 1000 < every ? e->retry_after_s * 1000 : HB_RETRY_MS);
        else
                j->hb_next_ms = now + HB_RETRY_MS;
}

/* Collects every child that ended (ours, or orphans we reap as subreaper). */
static void reap(struct worker *w)
{
        int status, i;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                for (i = 0; i < w->cfg->concurrency; i++) {
                        struct wjob *j = &w->jobs[i];

                        if (j->used && j->pid == pid && !j->exited) {
                                j->exited = true;
                                j->status = status;
                                j->exited_ms = now_ms();
                        }
                }
        }
}

static void begin_stop(struct worker *w, int sig)
{
        if (w->stopping) {
                fprintf(stderr, "%s work: second signal; ending the grace period now\n",
                        w->cli->prog);
                w->grace_end_ms = now_ms();
                return;
        }
        w->stopping = true;
        w->grace_end_ms = now_ms() + w->cfg->grace_ms;
        fprintf(stderr,
                "%s work: %s: no more claims; waiting up to %lld ms for %d running command%s\n",
                w->cli->prog, strsignal(sig), (long long)w->cfg->grace_ms, w->running,
                w->running == 1 ? "" : "s");
        pthread_mutex_lock(&w->sh.mu);
        w->sh.stop = true;
        pthread_cond_broadcast(&w->sh.cv);
        pthread_mutex_unlock(&w->sh.mu);
}

/* One pass over the timers of every running job. Returns the time of the next
 * one due (or now + POLL_CAP_MS). */
static int64_t run_timers(struct worker *w)
{
        int64_t now = now_ms(), next = now + POLL_CAP_MS;
        int i;

        for (i = 0; i < w->cfg->concurrency; i++) {
                struct wjob *j = &w->jobs[i];

                if (!j->used)
                        continue;
                if (!j->exited) {
                        if (j->deadline_ms && now >= j->deadline_ms)
                                kill_group(j, KILL_TIMEOUT);
                        if (w->stopping && now >= w->grace_end_ms) {
                                if (j->killed == KILL_NONE)
                                        w->killed_at_grace++;
                                kill_group(j, KILL_GRACE);
                        }
                        if (j->killed == KILL_NONE && now >= j->hb_next_ms) {
                                job_heartbeat(w, j, now);
                                now = now_ms();
                        }
                        if (j->killed == KILL_NONE) {
                                if (j->hb_next_ms < next)
                                        next = j->hb_next_ms;
                                if (j->deadline_ms && j->deadline_ms < next)
                                        next = j->deadline_ms;
                                if (w->stopping && w->grace_end_ms < next)
                                        next = w->grace_end_ms;
                        }
                        continue;
                }
                /* Exited: wait for its pipes to close, bounded by LINGER_MS, since a
                 * background process may hold them. */
                if (j->out_fd >= 0 || j->err_fd >= 0) {
                        if (now < j->exited_ms + LINGER_MS) {
                                if (j->exited_ms + LINGER_MS < next)
                                        next = j->exited_ms + LINGER_MS;
                                continue;
                        }
                        /* Whoever holds them is in the group the command left behind. */
                        kill(-j->pid, SIGKILL);
                        job_read(j, false);
                        job_read(j, true);
                }
                job_finish(w, j);
        }
        return next;
}

/* Moves the claimer's jobs into slots. Returns true when the claimer is done. */
static bool take_claims(struct worker *w, int *fatal)
{
        struct baton_jobs *lists[CONCURRENCY_MAX];
        int n, i;
        size_t k;
        bool done;

        pthread_mutex_lock(&w->sh.mu);
        n = w->sh.n_inbox;
        memcpy(lists, w->sh.inbox, (size_t)n * sizeof(lists[0]));
        w->sh.n_inbox = 0;
        done = w->sh.done;
        *fatal = w->sh.fatal_exit;
        pthread_mutex_unlock(&w->sh.mu);
        for (i = 0; i < n; i++) {
                for (k = 0; k < lists[i]->n; k++)
                        job_start(w, &lists[i]->v[k]);
                baton_jobs_free(lists[i]);
        }
        return done;
}

/* Blocks the signals the loop takes through its signalfd and ignores SIGPIPE
 * (writes to a child that closed its stdin). Returns the fd or -1. */
static int setup_signals(sigset_t *old)
{
        struct sigaction sa;
        sigset_t set;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        if (pthread_sigmask(SIG_BLOCK, &set, old) != 0)
                return -1;
        return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Checks that CMD can be found, as posix_spawnp will look for it. */
static bool command_exists(const char *cmd)
{
        const char *path = getenv("PATH"), *p;
        char buf[PATH_MAX];

        if (strchr(cmd, '/'))
                return access(cmd, X_OK) == 0;
        if (!path)
                path = "/usr/bin:/bin";
        for (p = path; *p;) {
                const char *e = strchr(p, ':');
                size_t n = e ? (size_t)(e - p) : strlen(p);

                if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? p : ".", cmd) <
                        (int)sizeof(buf) &&
                    access(buf, X_OK) == 0)
                        return true;
                p += n;
                if (*p == ':')
                        p++;
        }
        return false;
}

static int run_loop(struct worker *w, int sfd, int wake_r)
{
        struct pollfd *pfd;
        int nfds_max = 2 + 3 * w->cfg->concurrency, fatal = 0;
        bool claimer_done = false;

        pfd = calloc((size_t)nfds_max, sizeof(*pfd));
        if (!pfd)
                return EXIT_REFUSED;
        for (;;) {
                int64_t next, now;
                int n = 0, i, timeout, pr;

                next = run_timers(w);
                /* The claimer is done only after a stop (a signal or a fatal claim
                 * error), and every job it handed over has a slot: drained. */
                if (claimer_done && w->running == 0)
                        break;
                pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
                pfd[n++] = (struct pollfd){.fd = wake_r, .events = POLLIN};
                for (i = 0; i < w->cfg->concurrency; i++) {
                        struct wjob *j = &w->jobs[i];

                        if (!j->used)
                                continue;
                        if (j->in_fd >= 0)
                                pfd[n++] = (struct pollfd){.fd = j->in_fd, .events = POLLOUT};
                        if (j->out_fd >= 0)
                                pfd[n++] = (struct pollfd){.fd = j->out_fd, .events = POLLIN};
                        if (j->err_fd >= 0)
                                pfd[n++] = (struct pollfd){.fd = j->err_fd, .events = POLLIN};
                }
                now = now_ms();
                timeout =
                    next <= now ? 0 : (int)(next - now > POLL_CAP_MS ? POLL_CAP_MS : next - now);
                pr = poll(pfd, (nfds_t)n, timeout);
                if (pr < 0 && errno != EINTR) {
                        fprintf(stderr, "%s work: poll: %s\n", w->cli->prog, strerror(errno));
                        break;
                }
                if (pr <= 0)
                        continue;
                if (pfd[0].revents) {
                        struct signalfd_siginfo si;

                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                if (si.ssi_signo == SIGCHLD)
                                        reap(w);
                                else
                                        begin_stop(w, (int)si.ssi_signo);
                        }
                        /* SIGCHLD can coalesce; reaping again costs one syscall. */
                        reap(w);
                }
                if (pfd[1].revents) {
                        char buf[64];

                        while (read(wake_r, buf, sizeof(buf)) > 0)
                                ;
                        claimer_done = take_claims(w, &fatal);
                        if (fatal && !w->stopping) {
                                w->stopping = true;
                                w->grace_end_ms = now_ms() + w->cfg->grace_ms;
                        }
                }
                for (i = 2; i < n; i++) {
                        int k;

                        if (!pfd[i].revents)
                                continue;
                        for (k = 0; k < w->cfg->concurrency; k++) {
                                struct wjob *j = &w->jobs[k];

                                if (!j->used)
                                        continue;
                                if (pfd[i].fd == j->in_fd)
                                        job_write(j);
                                else if (pfd[i].fd == j->out_fd)
                                        job_read(j, false);
                                else if (pfd[i].fd == j->err_fd)
                                        job_read(j, true);
                                else
                                        continue;
                                break;
                        }
                }
        }
        free(pfd);
        if (fatal)
                return fatal;
        if (w->killed_at_grace)
                fprintf(stderr,
                        "%s work: stopped; %d command%s killed at the end of the grace "
                        "period, their jobs failed for a retry\n",
                        w->cli->prog, w->killed_at_grace,
                        w->killed_at_grace == 1 ? " was" : "s were");
        else
                fprintf(stderr, "%s work: stopped after a clean drain\n", w->cli->prog);
        return EXIT_OK_;
}

int cmd_work(struct cli *cli, struct cli_args *a)
{
        struct wcfg cfg = {0};
        struct worker w = {0};
        struct claimer cl = {0};
        long long v;
        char host[128], worker_id[200];
        int pipefd[2] = {-1, -1}, sfd = -1, rc = EXIT_USAGE, i;
        bool thread_started = false, locks = false;
        sigset_t old;
        pthread_t th;

        if (!a->opt[O_QUEUE])
                return cli_usage_error(cli->prog, a->usage, "%s", "--queue is required");
        if (!a->cmd_argv || a->cmd_argc == 0)
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "give the command to run after --");
        cfg.queue = a->opt[O_QUEUE];
        cfg.argv = a->cmd_argv;
        v = 1;
        if (cli_opt_count(cli, a, O_CONCURRENCY, "--concurrency", 1, CONCURRENCY_MAX, &v))
                return EXIT_USAGE;
        cfg.concurrency = (int)v;
        v = 0;
        if (cli_opt_count(cli, a, O_LEASE, "--lease-ms", 1, INT64_MAX / 4, &v))
                return EXIT_USAGE;
        cfg.lease_ms = v;
        v = 0;
        if (cli_opt_count(cli, a, O_TIMEOUT, "--timeout-ms", 1, INT64_MAX / 4, &v))
                return EXIT_USAGE;
        cfg.timeout_ms = v;
        v = DEFAULT_GRACE_MS;
        if (cli_opt_count(cli, a, O_GRACE, "--grace-ms", 0, INT64_MAX / 4, &v))
                return EXIT_USAGE;
        cfg.grace_ms = v;
        v = DEFAULT_POLL_MS;
        if (cli_opt_count(cli, a, O_POLL, "--poll-ms", 0, 3600000, &v))
                return EXIT_USAGE;
        cfg.poll_ms = v;
        if (a->opt[O_WORKER]) {
                cfg.worker = a->opt[O_WORKER];
        } else {
                if (gethostname(host, sizeof(host)) != 0)
                        snprintf(host, sizeof(host), "host");
                host[sizeof(host) - 1] = '\0';
                snprintf(worker_id, sizeof(worker_id), "%s-%ld", host, (long)getpid());
                cfg.worker = worker_id;
        }
        if (!command_exists(cfg.argv[0])) {
                fprintf(stderr, "%s work: command not found or not executable: %s\n", cli->prog,
                        cfg.argv[0]);
                return EXIT_USAGE;
        }

        rc = EXIT_REFUSED;
        w.cli = cli;
        w.cfg = &cfg;
        w.jobs = calloc((size_t)cfg.concurrency, sizeof(*w.jobs));
        w.sh.inbox = calloc((size_t)cfg.concurrency, sizeof(*w.sh.inbox));
        if (!w.jobs || !w.sh.inbox)
                goto out;
        for (i = 0; i < cfg.concurrency; i++)
                w.jobs[i].in_fd = w.jobs[i].out_fd = w.jobs[i].err_fd = -1;
        w.sh.free_slots = cfg.concurrency;
        if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0)
                goto out;
        w.sh.wake_w = pipefd[1];
        if (baton_client_new(cli->url, cli->key, &cl.client) != 0)
                goto out;
        /* The main thread's calls (heartbeat, settle) must not stall the loop for
         * long when the server is away. */
        baton_client_set_connect_timeout_ms(cli->client, 2000);
        baton_client_set_timeout_ms(cli->client, 10000);
        baton_client_set_connect_timeout_ms(cl.client, 2000);
        cl.sh = &w.sh;
        cl.cfg = &cfg;
        cl.prog = cli->prog;
        /* Orphaned grandchildren come to us and are reaped by waitpid(-1). */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        sfd = setup_signals(&old);
        if (sfd < 0) {
                fprintf(stderr, "%s work: signalfd: %s\n", cli->prog, strerror(errno));
                goto out;
        }
        pthread_mutex_init(&w.sh.mu, NULL);
        pthread_cond_init(&w.sh.cv, NULL);
        locks = true;
        fprintf(stderr, "%s work: worker %s claiming from queue %s (concurrency %d) for %s\n",
                cli->prog, cfg.worker, cfg.queue, cfg.concurrency, cfg.argv[0]);
        /* The claimer inherits the blocked signal mask: only the signalfd sees them. */
        if (pthread_create(&th, NULL, claimer_main, &cl) != 0)
                goto out;
        thread_started = true;
        rc = run_loop(&w, sfd, pipefd[0]);
out:
        if (thread_started) {
                pthread_mutex_lock(&w.sh.mu);
                w.sh.stop = true;
                pthread_cond_broadcast(&w.sh.cv);
                pthread_mutex_unlock(&w.sh.mu);
                pthread_join(th, NULL);
                /* Jobs the last claim returned after the loop ended: hand them back. */
                for (i = 0; i < w.sh.n_inbox; i++) {
                        size_t k;

                        for (k = 0; k < w.sh.inbox[i]->n; k++)
                                baton_fail(cli->client, w.sh.inbox[i]->v[k].id,
                                           w.sh.inbox[i]->v[k].lease,
                                           "worker stopped before starting the job", true, 0, NULL);
                        baton_jobs_free(w.sh.inbox[i]);
                }
        }
        if (locks) {
                pthread_cond_destroy(&w.sh.cv);
                pthread_mutex_destroy(&w.sh.mu);
        }
        for (i = 0; w.jobs && i < cfg.concurrency; i++)
                if (w.jobs[i].used)
                        job_release(&w.jobs[i]);
        baton_client_free(cl.client);
        if (sfd >= 0)
                close(sfd);
        if (pipefd[0] >= 0)
                close(pipefd[0]);
        if (pipefd[1] >= 0)
                close(pipefd[1]);
        free(w.jobs);
        free(w.sh.inbox);
        return rc;
}
