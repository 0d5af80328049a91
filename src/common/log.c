/*
 * log.c: JSON-lines logger. The level is a process-wide setting read without a
 * lock (an int); the clock pointer is set once at start.
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/jw.h"

static int log_level_cur = LOG_INFO;
static const struct clock *log_clock;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(int level)
{
        log_level_cur = level;
}

int log_get_level(void)
{
        return log_level_cur;
}

int log_level_parse(const char *s)
{
        for (int i = 0; i <= LOG_OFF; i++)
                if (strcmp(s, level_names[i]) == 0)
                        return i;
        return -1;
}

void log_set_clock(const struct clock *c)
{
        log_clock = c;
}

void log_emit(int level, const char *component, const struct log_ctx *ctx, const char *fmt, ...)
{
        char msg[1024];
        struct buf b;
        struct jw w;
        va_list ap;
        const struct clock *c = log_clock ? log_clock : clock_system();
        ssize_t wr;

        if (level < log_level_cur || level >= LOG_OFF)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        buf_init(&b, 8192);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_ktime(&w, "ts", clock_wall_ms(c));
        jw_kstr(&w, "level", level_names[level]);
        jw_kstr(&w, "component", component);
        jw_kstr(&w, "msg", msg);
        if (ctx && ctx->request_id)
                jw_kstr(&w, "request_id", ctx->request_id);
        if (ctx && ctx->job_id) {
                char id[24];
                snprintf(id, sizeof(id), "%lld", (long long)ctx->job_id);
                jw_kstr(&w, "job_id", id);
        }
        if (ctx && ctx->queue)
                jw_kstr(&w, "queue", ctx->queue);
        jw_obj_close(&w);
        buf_addc(&b, '\n');
        if (!w.err && b.ptr) {
                wr = write(STDERR_FILENO, b.ptr, b.len);
                (void)wr;
        }
        buf_free(&b);
}

bool log_rate_take(struct log_rate *r, int64_t now_ms, int64_t *suppressed)
{
        r->total++;
        if (now_ms - r->window_start_ms >= r->window_ms || now_ms < r->window_start_ms) {
                r->window_start_ms = now_ms;
                r->in_window = 0;
        }
        if (r->in_window >= r->per_window) {
                r->suppressed++;
                return false;
        }
        r->in_window++;
        *suppressed = r->suppressed;
        r->suppressed = 0;
        return true;
}
