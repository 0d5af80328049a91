/*
 * test_assert.c: the invariant checks of common/assert.h are on in this build
 * (release and sanitizer trees alike): a failed check aborts the process
 * (SIGABRT) after one line on stderr that names the expression, the values
 * involved, the file, the line and the function. Each failing check runs in
 * a forked child whose stderr is a pipe the parent reads; a check that holds
 * evaluates its operands once and does nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/assert.h"

/* What a child that ran fn printed on stderr (out, NUL-terminated) and how it
 * ended (the waitpid status). */
static int run_child(void (*fn)(void), char *out, size_t cap)
{
        int fds[2], status = 0;
        size_t len = 0;
        ssize_t n;
        pid_t pid;

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fds[1], 2);
                close(fds[0]);
                close(fds[1]);
                fn();
                _exit(0); /* the check held: the parent sees a clean exit */
        }
        close(fds[1]);
        while (len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
                len += (size_t)n;
        out[len] = 0;
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

static void expect_abort(void (*fn)(void), const char *const *parts)
{
        char out[2048];
        int status = run_child(fn, out, sizeof(out));

        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
        for (; *parts; parts++)
                if (!strstr(out, *parts))
                        fail_msg("stderr lacks \"%s\": %s", *parts, out);
}

static void fail_plain(void)
{
        int running = 0;

        BATON_ASSERT(running > 0);
}

static void fail_int(void)
{
        long long running = -3, limit = 7;

        BATON_ASSERT_INT(running, >=, limit);
}

static void fail_formatted(void)
{
        int from = 5, to = 2;

        BATON_ASSERTF(from < to, "job %d: %d -> %d", 42, from, to);
}

static void plain_prints_expression_and_place(void **state)
{
        const char *parts[] = {"assertion failed: running > 0", "test_assert.c:", "fail_plain()",
                               NULL};

        (void)state;
        expect_abort(fail_plain, parts);
}

static void int_prints_both_values(void **state)
{
        const char *parts[] = {"assertion failed: running >= limit", "(-3 >= 7)",
                               "test_assert.c:", "fail_int()", NULL};

        (void)state;
        expect_abort(fail_int, parts);
}

static void formatted_prints_its_message(void **state)
{
        const char *parts[] = {"assertion failed: from < to", "(job 42: 5 -> 2)",
                               "fail_formatted()", NULL};

        (void)state;
        expect_abort(fail_formatted, parts);
}

static int evaluations;

static long long counted(long long v)
{
        evaluations++;
        return v;
}

static void hold_quietly(void)
{
        BATON_ASSERT(counted(1) == 1);
        BATON_ASSERT_INT(counted(2), <, counted(3));
        BATON_ASSERTF(counted(4) == 4, "%d", 4);
        if (evaluations != 4)
                abort();
}

static void holding_checks_evaluate_once(void **state)
{
        char out[256];
        int status;

        (void)state;
        status = run_child(hold_quietly, out, sizeof(out));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_string_equal(out, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(plain_prints_expression_and_place),
            cmocka_unit_test(int_prints_both_values),
            cmocka_unit_test(formatted_prints_its_message),
            cmocka_unit_test(holding_checks_evaluate_once),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
