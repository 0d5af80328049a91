/*
 * work_child.c: the child-process side of `baton work`: spawning CMD for a job
 * in its own process group with the job in its environment, feeding the
 * payload to its stdin, reading its stdout (kept up to OUT_MAX_BYTES as the
 * result) and the tail of its stderr (the error), killing its group, and
 * turning what it wrote into the JSON the server takes. Workload: one child
 * per running job, fed and drained by work.c's poll loop without blocking
 * (the parent's pipe ends are non-blocking). Assumes Linux and posix_spawn
 * with POSIX_SPAWN_SETPGROUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/work.h"

extern char **environ;

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
char *work_err_tail(const struct wjob *j, bool *truncated)
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
char *work_result_json(const struct wjob *j)
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

void work_job_release(struct wjob *j)
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
int work_job_spawn(struct wjob *j, const struct wcfg *cfg)
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

void work_kill_group(struct wjob *j, enum kill_reason why)
{
        if (j->pid > 0 && !j->exited) {
                kill(-j->pid, SIGKILL);
                if (j->killed == KILL_NONE)
                        j->killed = why;
        }
}

/* Feeds stdin; closes it when the payload is written or the child closed it. */
void work_job_write(struct wjob *j)
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
void work_job_read(struct wjob *j, bool is_err)
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
