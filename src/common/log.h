/*
 * log.h: structured logs as JSON lines on stderr: ts, level, component, msg and,
 * where they apply, request_id, job_id and queue. Each line is written with one
 * write(2), so lines from the loop and store threads never interleave.
 * Secrets and payloads must never be passed to the logger.
 */
#ifndef BATON_COMMON_LOG_H
#define BATON_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

struct log_ctx {
        const char *request_id; /* may be NULL */
        const char *queue;      /* may be NULL */
        int64_t job_id;         /* 0 when none */
};

void log_set_level(int level);
int log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns -1 if unknown. */
int log_level_parse(const char *s);
void log_set_clock(const struct clock *c);
void log_emit(int level, const char *component, const struct log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A bound on how many lines of one kind are logged: at most per_window lines
 * in each window of window_ms; the lines not logged are counted, and the
 * next line logged says how many were left out. For messages a client can
 * cause at will (refused keys), so a flood of them cannot flood the log. */
struct log_rate {
        int per_window;
        int64_t window_ms;
        int64_t window_start_ms;
        int in_window;
        int64_t suppressed; /* lines left out since the last one logged */
        int64_t total;      /* every line asked for, logged or not */
};

/* Counts one line at now_ms. Returns true when it may be logged; then
 * *suppressed is set to the lines left out before it (and the count reset). */
bool log_rate_take(struct log_rate *r, int64_t now_ms, int64_t *suppressed);

#define log_debug(comp, ...) log_emit(LOG_DEBUG, comp, 0, __VA_ARGS__)
#define log_info(comp, ...) log_emit(LOG_INFO, comp, 0, __VA_ARGS__)
#define log_warn(comp, ...) log_emit(LOG_WARN, comp, 0, __VA_ARGS__)
#define log_error(comp, ...) log_emit(LOG_ERROR, comp, 0, __VA_ARGS__)

#endif
