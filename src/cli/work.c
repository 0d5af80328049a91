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
 *
 * This file holds the claimer thread and the main loop; the child processes
 * themselves (spawn, pipes, result and error text) are in work_child.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
#include "cli/work.h"

#define LINGER_MS 500    /* after CMD exits, how long its pipes may stay open (background kids) */
#define POLL_CAP_MS 1000 /* longest sleep of the main loop */
#define HB_RETRY_MS 1000 /* next heartbeat after one that got no answer */
#define HB_MIN_MS 100    /* shortest heartbeat interval */
#define SETTLE_TRIES 3   /* attempts of a complete/fail that got no answer */
#define CLAIM_BACKOFF_MAX_MS 5000
#define DEFAULT_GRACE_MS 20000
#define DEFAULT_POLL_MS 5000
#define CONCURRENCY_MAX 1024

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
        const struct cli *cli; /* the command, for naming a refused flag */
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
/* A claim the server refused for good (a bad --lease-ms, a missing scope):
 * said as the command's other refusals are, the flag named. */
static void claim_refused(const struct claimer *cl, const struct baton_error *e)
{
        struct cli named = *cl->cli;
        char prog[64];

        snprintf(prog, sizeof(prog), "%s work", cl->prog);
        named.prog = prog;
        cli_server_error(&named, "claim refused", e, e->http_status);
}

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
                claim_refused(cl, e);
                sh->fatal_exit = cli_exit_for(rc, e->http_status);
                sh->stop = true;
                break;
        }
        sh->done = true;
        wake(sh);
        pthread_mutex_unlock(&sh->mu);
        return NULL;
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

/* How the attempt of a job whose command has ended is settled. */
struct outcome {
        char head[160]; /* what happened, the start of the error; "" when complete */
        bool complete, retryable;
        int64_t retry_in_ms;
};

/* Decides the outcome of j from how its command ended and why it was killed.
 * Returns false when the job is not to be settled (its lease was lost). */
static bool job_outcome(struct worker *w, const struct wjob *j, struct outcome *o)
{
        const struct wcfg *cfg = w->cfg;
        int code = -1, sig = 0;

        o->complete = false;
        o->retryable = true;
        o->retry_in_ms = -1;
        if (WIFEXITED(j->status))
                code = WEXITSTATUS(j->status);
        else if (WIFSIGNALED(j->status))
                sig = WTERMSIG(j->status);
        switch (j->killed) {
        case KILL_TIMEOUT:
                snprintf(o->head, sizeof(o->head), "timeout after %lld ms",
                         (long long)cfg->timeout_ms);
                break;
        case KILL_CANCEL:
                snprintf(o->head, sizeof(o->head), "cancelled: command killed on a cancel request");
                o->retryable = false;
                break;
        case KILL_GRACE:
                snprintf(o->head, sizeof(o->head),
                         "worker stopped: command killed after the grace period of %lld ms",
                         (long long)cfg->grace_ms);
                o->retry_in_ms = 0;
                break;
        case KILL_LOST:
                fprintf(stderr, "%s work: job %s: lease lost; command killed, not settled\n",
                        w->cli->prog, j->id);
                return false;
        case KILL_NONE:
                if (code == 0 && !j->out_overflow) {
                        o->complete = true;
                        o->head[0] = '\0';
                } else if (code == 0) {
                        snprintf(o->head, sizeof(o->head),
                                 "stdout over %d bytes (the result limit)", OUT_MAX_BYTES);
                        o->retryable = false;
                } else if (code >= 0) {
                        snprintf(o->head, sizeof(o->head), "exit status %d", code);
                        /* sysexits: 75 is EX_TEMPFAIL; the rest of 64-78 are usage, data
                         * and configuration errors that a retry does not heal. */
                        o->retryable = code == 75 || code < 64 || code > 78;
                } else {
                        snprintf(o->head, sizeof(o->head), "killed by signal %d (%s)", sig,
                                 strsignal(sig));
                }
                break;
        }
        return true;
}

/* Releases j and its slot, and tells the claimer thread a slot is free. */
static void slot_release(struct worker *w, struct wjob *j)
{
        work_job_release(j);
        w->running--;
        pthread_mutex_lock(&w->sh.mu);
        w->sh.free_slots++;
        pthread_cond_signal(&w->sh.cv);
        pthread_mutex_unlock(&w->sh.mu);
}

/* Decides the outcome of a job whose command has ended, settles it and frees
 * its slot. */
static void job_finish(struct worker *w, struct wjob *j)
{
        struct outcome o;
        char *tail, *msg = NULL, *result = NULL;
        bool truncated;
        int64_t took = now_ms() - j->started_ms;
        const char *what;

        tail = work_err_tail(j, &truncated);
        if (!job_outcome(w, j, &o))
                goto out;
        if (o.complete) {
                result = work_result_json(j);
                if (!result) {
                        o.complete = false;
                        snprintf(o.head, sizeof(o.head), "out of memory building the result");
                }
        }
        if (!o.complete) {
                size_t cap = strlen(o.head) + (tail ? strlen(tail) : 0) + 16;

                msg = malloc(cap);
                if (msg)
                        snprintf(msg, cap, "%s%s%s%s", o.head, tail && *tail ? ": " : "",
                                 truncated && tail && *tail ? "..." : "", tail ? tail : "");
        }
        what = o.complete ? "completed" : (o.retryable ? "failed (retryable)" : "failed");
        fprintf(stderr, "%s work: job %s (type %s, attempt %d) %s in %lld ms%s%s\n", w->cli->prog,
                j->id, j->type ? j->type : "?", j->attempt, what, (long long)took,
                o.complete ? "" : ": ", o.complete ? "" : o.head);
        settle(w, j, o.complete, result, msg ? msg : o.head, o.retryable, o.retry_in_ms);
out:
        free(tail);
        free(msg);
        free(result);
        slot_release(w, j);
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
                rc = work_job_spawn(j, w->cfg);
        }
        if (rc) {
                char msg[512];

                snprintf(msg, sizeof(msg), "cannot start %s: %s", w->cfg->argv[0], strerror(-rc));
                fprintf(stderr, "%s work: job %s: %s\n", w->cli->prog, bj->id, msg);
                if (j->id && j->lease)
                        settle(w, j, false, NULL, msg, true, -1);
                slot_release(w, j);
                return;
        }
        j->hb_next_ms = j->started_ms + (j->lease_ms / 3 > HB_MIN_MS ? j->lease_ms / 3 : HB_MIN_MS);
        j->deadline_ms = w->cfg->timeout_ms ? j->started_ms + w->cfg->timeout_ms : 0;
        work_job_write(j);
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
                        work_kill_group(j, KILL_CANCEL);
                }
                return;
        }
        if (rc == BATON_ELEASE || rc == BATON_EEXPIRED || rc == BATON_ENOTFOUND ||
            rc == BATON_ESTATE || rc == BATON_ECONFLICT) {
                fprintf(stderr, "%s work: job %s: heartbeat refused (%s); killing its command\n",
                        w->cli->prog, j->id, e->code[0] ? e->code : baton_strerror(rc));
                work_kill_group(j, KILL_LOST);
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
                                work_kill_group(j, KILL_TIMEOUT);
                        if (w->stopping && now >= w->grace_end_ms) {
                                if (j->killed == KILL_NONE)
                                        w->killed_at_grace++;
                                work_kill_group(j, KILL_GRACE);
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
                        work_job_read(j, false);
                        work_job_read(j, true);
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

/* Fills pfd with the fds the loop waits on: the signalfd, the wake-up pipe,
 * then each running job's pipes. Returns how many. */
static int fill_pollfds(struct worker *w, struct pollfd *pfd, int sfd, int wake_r)
{
        int n = 0, i;

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
        return n;
}

/* Takes the signals waiting on the signalfd: SIGCHLD reaps, the others stop. */
static void on_signals(struct worker *w, int sfd)
{
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

/* The claimer woke the loop: takes its claims, and starts the grace period when
 * it gave up. Returns whether the claimer is done. */
static bool on_wake(struct worker *w, int wake_r, int *fatal)
{
        char buf[64];
        bool claimer_done;

        while (read(wake_r, buf, sizeof(buf)) > 0)
                ;
        claimer_done = take_claims(w, fatal);
        if (*fatal && !w->stopping) {
                w->stopping = true;
                w->grace_end_ms = now_ms() + w->cfg->grace_ms;
        }
        return claimer_done;
}

/* Serves the job pipes among pfd[2..n) that poll found ready. */
static void on_job_fds(struct worker *w, const struct pollfd *pfd, int n)
{
        int i;

        for (i = 2; i < n; i++) {
                int k;

                if (!pfd[i].revents)
                        continue;
                for (k = 0; k < w->cfg->concurrency; k++) {
                        struct wjob *j = &w->jobs[k];

                        if (!j->used)
                                continue;
                        if (pfd[i].fd == j->in_fd)
                                work_job_write(j);
                        else if (pfd[i].fd == j->out_fd)
                                work_job_read(j, false);
                        else if (pfd[i].fd == j->err_fd)
                                work_job_read(j, true);
                        else
                                continue;
                        break;
                }
        }
}

/* Says how the worker stopped (after a signal or a fatal claim error). */
static void report_stop(const struct worker *w)
{
        if (w->killed_at_grace)
                fprintf(stderr,
                        "%s work: stopped; %d command%s killed at the end of the grace "
                        "period, their jobs failed for a retry\n",
                        w->cli->prog, w->killed_at_grace,
                        w->killed_at_grace == 1 ? " was" : "s were");
        else
                fprintf(stderr, "%s work: stopped after a clean drain\n", w->cli->prog);
}

/* The main thread's loop, until the claimer is done and every job settled.
 * Returns EXIT_OK_ after a drain, or the claimer's exit code when it gave up. */
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
                int n, timeout, pr;

                next = run_timers(w);
                /* The claimer is done only after a stop (a signal or a fatal claim
                 * error), and every job it handed over has a slot: drained. */
                if (claimer_done && w->running == 0)
                        break;
                n = fill_pollfds(w, pfd, sfd, wake_r);
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
                if (pfd[0].revents)
                        on_signals(w, sfd);
                if (pfd[1].revents)
                        claimer_done = on_wake(w, wake_r, &fatal);
                on_job_fds(w, pfd, n);
        }
        free(pfd);
        if (fatal)
                return fatal;
        report_stop(w);
        return EXIT_OK_;
}

/* Reads `work`'s options into *cfg; the default worker id is written to
 * worker_id (cap bytes), which must outlive cfg. Returns EXIT_OK_ or
 * EXIT_USAGE after printing why. */
static int parse_wcfg(struct cli *cli, struct cli_args *a, struct wcfg *cfg, char *worker_id,
                      size_t cap)
{
        char host[128];
        long long v;
        int rc;

        if (!a->opt[O_QUEUE])
                return cli_usage_error(cli->prog, a->usage, "%s", "--queue is required");
        if (!a->cmd_argv || a->cmd_argc == 0)
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "give the command to run after --");
        cfg->queue = a->opt[O_QUEUE];
        cfg->argv = a->cmd_argv;
        v = 1;
        if (cli_opt_count(cli, a, O_CONCURRENCY, "--concurrency", 1, CONCURRENCY_MAX, &v))
                return EXIT_USAGE;
        cfg->concurrency = (int)v;
        v = 0;
        if (cli_opt_count(cli, a, O_LEASE, "--lease-ms", 1, INT64_MAX / 4, &v))
                return EXIT_USAGE;
        cfg->lease_ms = v;
        v = 0;
        if (cli_opt_count(cli, a, O_TIMEOUT, "--timeout-ms", 1, INT64_MAX / 4, &v))
                return EXIT_USAGE;
        cfg->timeout_ms = v;
        v = DEFAULT_GRACE_MS;
        if (cli_opt_count(cli, a, O_GRACE, "--grace-ms", 0, INT64_MAX / 4, &v))
                return EXIT_USAGE;
        cfg->grace_ms = v;
        v = DEFAULT_POLL_MS;
        if (cli_opt_count(cli, a, O_POLL, "--poll-ms", 0, 3600000, &v))
                return EXIT_USAGE;
        cfg->poll_ms = v;
        if (a->opt[O_WORKER]) {
                cfg->worker = a->opt[O_WORKER];
        } else {
                if (gethostname(host, sizeof(host)) != 0)
                        snprintf(host, sizeof(host), "host");
                host[sizeof(host) - 1] = '\0';
                snprintf(worker_id, cap, "%s-%ld", host, (long)getpid());
                cfg->worker = worker_id;
        }
        rc = work_info_build(cli, a, &cfg->info);
        if (rc != EXIT_OK_)
                return rc;
        if (!command_exists(cfg->argv[0])) {
                fprintf(stderr, "%s work: command not found or not executable: %s\n", cli->prog,
                        cfg->argv[0]);
                return EXIT_USAGE;
        }
        return EXIT_OK_;
}

/* What cmd_work sets up beside the worker, for work_teardown to undo. */
struct work_res {
        int pipefd[2]; /* the main thread's wake-up pipe */
        int sfd;       /* the signalfd */
        bool thread_started, locks;
        sigset_t old;
        pthread_t th;
};

/* Sets up w and cl for cfg: slots, the wake-up pipe, the claimer's client,
 * timeouts, the subreaper, the signalfd and the locks; then starts the
 * claimer. Returns EXIT_OK_ or EXIT_REFUSED; work_teardown undoes what was
 * done either way. */
static int work_setup(struct cli *cli, const struct wcfg *cfg, struct worker *w, struct claimer *cl,
                      struct work_res *r)
{
        int i;

        w->cli = cli;
        w->cfg = cfg;
        w->jobs = calloc((size_t)cfg->concurrency, sizeof(*w->jobs));
        w->sh.inbox = calloc((size_t)cfg->concurrency, sizeof(*w->sh.inbox));
        if (!w->jobs || !w->sh.inbox)
                return EXIT_REFUSED;
        for (i = 0; i < cfg->concurrency; i++)
                w->jobs[i].in_fd = w->jobs[i].out_fd = w->jobs[i].err_fd = -1;
        w->sh.free_slots = cfg->concurrency;
        if (pipe2(r->pipefd, O_CLOEXEC | O_NONBLOCK) != 0)
                return EXIT_REFUSED;
        w->sh.wake_w = r->pipefd[1];
        if (baton_client_new(cli->url, cli->key, &cl->client) != 0 ||
            baton_client_set_worker_info(cl->client, cfg->info) != 0)
                return EXIT_REFUSED;
        /* The main thread's calls (heartbeat, settle) must not stall the loop for
         * long when the server is away. */
        baton_client_set_connect_timeout_ms(cli->client, 2000);
        baton_client_set_timeout_ms(cli->client, 10000);
        baton_client_set_connect_timeout_ms(cl->client, 2000);
        cl->sh = &w->sh;
        cl->cfg = cfg;
        cl->prog = cli->prog;
        cl->cli = cli;
        /* Orphaned grandchildren come to us and are reaped by waitpid(-1). */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        r->sfd = setup_signals(&r->old);
        if (r->sfd < 0) {
                fprintf(stderr, "%s work: signalfd: %s\n", cli->prog, strerror(errno));
                return EXIT_REFUSED;
        }
        pthread_mutex_init(&w->sh.mu, NULL);
        pthread_cond_init(&w->sh.cv, NULL);
        r->locks = true;
        fprintf(stderr, "%s work: worker %s claiming from queue %s (concurrency %d) for %s\n",
                cli->prog, cfg->worker, cfg->queue, cfg->concurrency, cfg->argv[0]);
        /* The claimer inherits the blocked signal mask: only the signalfd sees them. */
        if (pthread_create(&r->th, NULL, claimer_main, cl) != 0)
                return EXIT_REFUSED;
        r->thread_started = true;
        return EXIT_OK_;
}

/* Stops the claimer, hands back the jobs it claimed too late, and frees what
 * work_setup made. */
static void work_teardown(struct cli *cli, struct worker *w, struct claimer *cl, struct work_res *r)
{
        int i;

        if (r->thread_started) {
                pthread_mutex_lock(&w->sh.mu);
                w->sh.stop = true;
                pthread_cond_broadcast(&w->sh.cv);
                pthread_mutex_unlock(&w->sh.mu);
                pthread_join(r->th, NULL);
                /* Jobs the last claim returned after the loop ended: hand them back. */
                for (i = 0; i < w->sh.n_inbox; i++) {
                        size_t k;

                        for (k = 0; k < w->sh.inbox[i]->n; k++)
                                baton_fail(cli->client, w->sh.inbox[i]->v[k].id,
                                           w->sh.inbox[i]->v[k].lease,
                                           "worker stopped before starting the job", true, 0, NULL);
                        baton_jobs_free(w->sh.inbox[i]);
                }
        }
        if (r->locks) {
                pthread_cond_destroy(&w->sh.cv);
                pthread_mutex_destroy(&w->sh.mu);
        }
        for (i = 0; w->jobs && i < w->cfg->concurrency; i++)
                if (w->jobs[i].used)
                        work_job_release(&w->jobs[i]);
        baton_client_free(cl->client);
        if (r->sfd >= 0)
                close(r->sfd);
        if (r->pipefd[0] >= 0)
                close(r->pipefd[0]);
        if (r->pipefd[1] >= 0)
                close(r->pipefd[1]);
        free(w->jobs);
        free(w->sh.inbox);
}

int cmd_work(struct cli *cli, struct cli_args *a)
{
        struct wcfg cfg = {0};
        struct worker w = {0};
        struct claimer cl = {0};
        struct work_res r = {.pipefd = {-1, -1}, .sfd = -1};
        char worker_id[200];
        int rc = parse_wcfg(cli, a, &cfg, worker_id, sizeof(worker_id));

        if (rc != EXIT_OK_) {
                free(cfg.info);
                return rc;
        }
        rc = work_setup(cli, &cfg, &w, &cl, &r);
        if (rc == EXIT_OK_)
                rc = run_loop(&w, r.sfd, r.pipefd[0]);
        work_teardown(cli, &w, &cl, &r);
        free(cfg.info);
        return rc;
}
