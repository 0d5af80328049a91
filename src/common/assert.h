/*
 * assert.h: invariant checks, on in every build (Redis serverAssert is the
 * model). A failed check prints one line on stderr naming the expression,
 * the file, line and function, and for BATON_ASSERT_INT and BATON_ASSERTF
 * the values involved, then aborts: the state is no longer what the code
 * assumes, and going on would write that state into the store.
 *
 * Only programming invariants are asserted: what the code itself keeps true
 * (a state change the code allows, a counter it never takes below zero, a
 * batch it accounts for). Data read from the store or from a request is
 * checked with an error path, never an assertion, so a bad row or a bad
 * request cannot stop the server.
 *
 * Workload: a check that holds costs one compare and a branch predicted not
 * taken; the failure path is out of line (cold), so hot paths may assert.
 * The failure functions are defined here, static, so any target that
 * includes this header (the fuzzers build single files) links without
 * another object.
 */
#ifndef BATON_COMMON_ASSERT_H
#define BATON_COMMON_ASSERT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noreturn, cold, noinline, unused)) static void
baton_assert_fail(const char *file, int line, const char *func, const char *expr)
{
        fprintf(stderr, "assertion failed: %s at %s:%d in %s()\n", expr, file, line, func);
        abort();
}

/* The values are formatted first so the line goes out in one write. */
__attribute__((noreturn, cold, noinline, unused, format(printf, 5, 6))) static void
baton_assert_failf(const char *file, int line, const char *func, const char *expr, const char *fmt,
                   ...)
{
        char values[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(values, sizeof(values), fmt, ap);
        va_end(ap);
        fprintf(stderr, "assertion failed: %s (%s) at %s:%d in %s()\n", expr, values, file, line,
                func);
        abort();
}

#define BATON_ASSERT(cond)                                                                         \
        do {                                                                                       \
                if (__builtin_expect(!(cond), 0))                                                  \
                        baton_assert_fail(__FILE__, __LINE__, __func__, #cond);                    \
        } while (0)

/* Compares two integers (each evaluated once, as long long) and prints both
 * sides when the comparison fails: BATON_ASSERT_INT(g->running, >=, 0). */
#define BATON_ASSERT_INT(a, op, b)                                                                 \
        do {                                                                                       \
                const long long baton_assert_a_ = (a), baton_assert_b_ = (b);                      \
                if (__builtin_expect(!(baton_assert_a_ op baton_assert_b_), 0))                    \
                        baton_assert_failf(__FILE__, __LINE__, __func__, #a " " #op " " #b,        \
                                           "%lld " #op " %lld", baton_assert_a_, baton_assert_b_); \
        } while (0)

/* A condition with a message of its own for the values:
 * BATON_ASSERTF(ok, "job %lld: %s -> %s", id, from, to). */
#define BATON_ASSERTF(cond, ...)                                                                   \
        do {                                                                                       \
                if (__builtin_expect(!(cond), 0))                                                  \
                        baton_assert_failf(__FILE__, __LINE__, __func__, #cond, __VA_ARGS__);      \
        } while (0)

#define BATON_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
