/*
 * test_common.c: unit tests of the common helpers: the bounded buffer, the
 * JSON writer (escaping, nesting, raw embedding) and RFC 3339 time formatting
 * and parsing, including offsets and invalid dates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errors.h"
#include "common/buf.h"
#include "common/jw.h"
#include "common/rand.h"

static void buf_cap_is_enforced(void **state)
{
        struct buf b;

        (void)state;
        buf_init(&b, 8);
        assert_int_equal(buf_adds(&b, "12345678"), 0);
        assert_int_equal(buf_adds(&b, "9"), BATON_ETOOBIG);
        assert_int_equal(b.len, 8);
        assert_string_equal(b.ptr, "12345678");
        buf_free(&b);
}

static void buf_printf_grows(void **state)
{
        struct buf b;
        char big[600];

        (void)state;
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        buf_init(&b, 4096);
        assert_int_equal(buf_printf(&b, "<%s>", big), 0);
        assert_int_equal(b.len, 601);
        assert_int_equal(b.ptr[0], '<');
        assert_int_equal(b.ptr[600], '>');
        buf_free(&b);
}

static void jw_writes_nested_json(void **state)
{
        struct buf b;
        struct jw w;

        (void)state;
        buf_init(&b, 4096);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_kstr(&w, "s", "a\"b\\c\n\x01");
        jw_kint(&w, "i", -42);
        jw_kbool(&w, "t", true);
        jw_kraw(&w, "raw", "{\"x\":[1,2]}");
        jw_kraw(&w, "nul", NULL);
        jw_key(&w, "arr");
        jw_arr_open(&w);
        jw_int(&w, 1);
        jw_str(&w, NULL);
        jw_obj_open(&w);
        jw_obj_close(&w);
        jw_arr_close(&w);
        jw_ktime(&w, "zero", 0);
        jw_obj_close(&w);
        assert_int_equal(w.err, 0);
        assert_string_equal(b.ptr, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"i\":-42,\"t\":true,"
                                   "\"raw\":{\"x\":[1,2]},\"nul\":null,\"arr\":[1,null,{}],"
                                   "\"zero\":null}");
        buf_free(&b);
}

static void jw_error_is_sticky(void **state)
{
        struct buf b;
        struct jw w;

        (void)state;
        buf_init(&b, 10);
        jw_init(&w, &b);
        jw_obj_open(&w);
        jw_kstr(&w, "long-key", "long value");
        assert_int_equal(w.err, BATON_ETOOBIG);
        jw_obj_close(&w);
        assert_int_equal(w.err, BATON_ETOOBIG);
        buf_free(&b);
}

static void time_round_trip(void **state)
{
        char out[40];
        int64_t ms = 0;

        (void)state;
        time_format_ms(1795424452123, out, sizeof(out));
        assert_string_equal(out, "2026-11-23T09:00:52.123Z");
        assert_int_equal(time_parse_ms(out, &ms), 0);
        assert_int_equal(ms, 1795424452123);
        assert_int_equal(time_parse_ms("2026-11-23T10:00:52.123+01:00", &ms), 0);
        assert_int_equal(ms, 1795424452123);
        assert_int_equal(time_parse_ms("2026-11-23T04:00:52-05:00", &ms), 0);
        assert_int_equal(ms, 1795424452000);
        assert_int_equal(time_parse_ms("1970-01-01T00:00:00Z", &ms), 0);
        assert_int_equal(ms, 0);
        assert_int_equal(time_parse_ms("2024-02-29T00:00:00.5Z", &ms), 0);
        assert_int_equal(ms, 1709164800500);
        time_format_ms(-1, out, sizeof(out));
        assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

/* The hand-written time format gives what gmtime_r and strftime give, across
 * leap years, century rules and the ends of its range. */
static void time_format_matches_gmtime(void **state)
{
        char out[40], want[40], tmp[32];
        uint64_t x = 88172645463325252ull;

        (void)state;
        for (int i = 0; i < 200000; i++) {
                int64_t ms;
                time_t secs;
                struct tm tm;

                /* xorshift64: spread over 1970..9999, then the edges. */
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                ms = (int64_t)(x % 253402300800000ull);
                if (i < 4)
                        ms = (int64_t[]){1, 951782400000, 253402300799999, 4107542399999}[i];
                secs = (time_t)(ms / 1000);
                gmtime_r(&secs, &tm);
                strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
                snprintf(want, sizeof(want), "%s.%03dZ", tmp, (int)(ms % 1000));
                time_format_ms(ms, out, sizeof(out));
                assert_string_equal(out, want);
        }
        /* Past the hand-written range: the stdio path, as before. */
        time_format_ms(253402300800000, out, sizeof(out));
        assert_string_equal(out, "10000-01-01T00:00:00.000Z");
}

/* jw_fmt_i64 writes what "%lld" writes, the extremes included. */
static void fmt_i64_matches_printf(void **state)
{
        int64_t v[] = {0, 1, -1, 9, 10, -10, 99, 100, 1234567890123, INT64_MAX, INT64_MIN};
        char out[JW_I64_LEN], want[32];

        (void)state;
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                size_t n = jw_fmt_i64(v[i], out);
                snprintf(want, sizeof(want), "%lld", (long long)v[i]);
                assert_string_equal(out, want);
                assert_int_equal(n, strlen(want));
        }
}

/* Escaping: every control byte, quote and backslash, between and beside
 * runs of plain bytes (UTF-8 passes through). */
static void jw_escapes_every_control_byte(void **state)
{
        struct buf b;
        struct jw w;
        char s[40], want[400];
        size_t n = 0;

        (void)state;
        for (int c = 1; c < 0x20; c++)
                s[c - 1] = (char)c;
        s[31] = '"', s[32] = 'x', s[33] = '\\', s[34] = '\xc3', s[35] = '\xa9', s[36] = 0;
        n += (size_t)snprintf(want + n, sizeof(want) - n, "\"");
        for (int c = 1; c < 0x20; c++) {
                const char *e = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
                if (e)
                        n += (size_t)snprintf(want + n, sizeof(want) - n, "%s", e);
                else
                        n += (size_t)snprintf(want + n, sizeof(want) - n, "\\u%04x", c);
        }
        snprintf(want + n, sizeof(want) - n, "\\\"x\\\\\xc3\xa9\"");
        buf_init(&b, 4096);
        jw_init(&w, &b);
        jw_str(&w, s);
        assert_int_equal(w.err, 0);
        assert_string_equal(b.ptr, want);
        buf_free(&b);
}

static void time_rejects_invalid(void **state)
{
        const char *bad[] = {"",
                             "2026-11-23",
                             "2026-11-23T09:00:52",
                             "2026-13-01T00:00:00Z",
                             "2026-02-29T00:00:00Z",
                             "2026-04-31T00:00:00Z",
                             "2026-11-23T24:00:00Z",
                             "2026-11-23T09:00:52.Z",
                             "2026-11-23T09:00:52Zjunk",
                             "x026-11-23T09:00:52Z",
                             "2026-11-23T09:00:52+0100"};
        int64_t ms;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(time_parse_ms(bad[i], &ms), BATON_EINVAL);
}

static void rand_tokens_are_hex_and_distinct(void **state)
{
        char a[RAND_TOKEN_LEN + 1], b[RAND_TOKEN_LEN + 1];

        (void)state;
        assert_int_equal(rand_token(a), 0);
        assert_int_equal(rand_token(b), 0);
        assert_int_equal(strlen(a), RAND_TOKEN_LEN);
        assert_string_not_equal(a, b);
        assert_int_equal(strspn(a, "0123456789abcdef"), RAND_TOKEN_LEN);
        for (int i = 0; i < 1000; i++)
                assert_true(rand_below(7) < 7);
        assert_int_equal(rand_below(1), 0);
}

/* A pool hands out distinct hex tokens across its refills (600 tokens: two
 * refills of 256), and with no pool it is rand_token. */
static void rand_pool_tokens_are_distinct(void **state)
{
        enum { N = 600 };
        char(*t)[RAND_TOKEN_LEN + 1] = malloc(N * sizeof(*t));
        struct rand_pool *p = rand_pool_new();

        (void)state;
        assert_non_null(t);
        assert_non_null(p);
        for (int i = 0; i < N; i++) {
                assert_int_equal(rand_pool_token(p, t[i]), 0);
                assert_int_equal(strlen(t[i]), RAND_TOKEN_LEN);
                assert_int_equal(strspn(t[i], "0123456789abcdef"), RAND_TOKEN_LEN);
                for (int k = 0; k < i; k++)
                        assert_string_not_equal(t[i], t[k]);
        }
        assert_int_equal(rand_pool_token(NULL, t[0]), 0);
        assert_string_not_equal(t[0], t[1]);
        free(p);
        free(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(buf_cap_is_enforced),
            cmocka_unit_test(buf_printf_grows),
            cmocka_unit_test(jw_writes_nested_json),
            cmocka_unit_test(jw_error_is_sticky),
            cmocka_unit_test(time_round_trip),
            cmocka_unit_test(time_format_matches_gmtime),
            cmocka_unit_test(fmt_i64_matches_printf),
            cmocka_unit_test(jw_escapes_every_control_byte),
            cmocka_unit_test(time_rejects_invalid),
            cmocka_unit_test(rand_tokens_are_hex_and_distinct),
            cmocka_unit_test(rand_pool_tokens_are_distinct),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
