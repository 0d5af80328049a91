/*
 * bench.h: what the benchmark programs share: a monotonic clock, a small
 * command-line flag parser, the server URL (--url, else $BATON_URL, else the
 * default port on loopback; a comma-separated list names several nodes of one
 * cluster, and client i talks to node i modulo their count), the API key
 * ($BATON_KEY, as for the baton CLI, else the older $BATON_API_KEY), the CA file
 * of an https:// server ($BATON_CA_FILE, as for the CLI), the retry
 * of a 503 answer after its Retry-After, a log-linear latency histogram and
 * helpers to name queues and format figures. Every .c file in bench/ is its own
 * program (bench/CMakeLists.txt builds each one), so the helpers live here as
 * static inline functions instead of in a library; inline keeps programs that
 * use only some of them free of unused-function warnings.
 *
 * Workload assumptions: the histogram takes tens of millions of samples from
 * many threads (one histogram per thread, merged at the end) and must cost a
 * few nanoseconds per sample, so it counts into fixed buckets with about 1.6 %
 * relative precision instead of keeping every sample.
 */
#ifndef BATON_BENCH_H
#define BATON_BENCH_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"

#define BENCH_DEFAULT_URL "http://127.0.0.1:7700"

static inline int64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_ns(int64_t ns)
{
        struct timespec ts;

        if (ns <= 0)
                return;
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
}

/* Wall-clock Unix milliseconds (the server's timestamps are wall clock). */
static inline int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339 UTC text with milliseconds of a Unix ms instant, as the API writes it. */
static inline void fmt_time(int64_t ms, char *buf, size_t cap)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
                 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
                 tm.tm_sec % 100, (int)(ms % 1000));
}

/* The Unix ms of the API's RFC 3339 UTC text, or -1 when it is not one. */
static inline int64_t parse_time(const char *s)
{
        struct tm tm = {0};
        int ms = 0;

        if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                         &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
                return -1;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return (int64_t)timegm(&tm) * 1000 + ms;
}

/* ---- flags ---- */

enum flag_type { FLAG_STR, FLAG_I64 };

struct flag {
        const char *name; /* "--jobs" */
        enum flag_type type;
        void *ptr; /* const char ** or int64_t * */
        const char *help;
};

static inline void flags_usage(const char *prog, const char *about, const struct flag *f, int n)
{
        fprintf(stderr, "%s: %s\nflags:\n", prog, about);
        for (int i = 0; i < n; i++) {
                if (f[i].type == FLAG_STR)
                        fprintf(stderr, "  %-16s %s (default %s)\n", f[i].name, f[i].help,
                                *(const char **)f[i].ptr ? *(const char **)f[i].ptr : "none");
                else
                        fprintf(stderr, "  %-16s %s (default %" PRId64 ")\n", f[i].name, f[i].help,
                                *(int64_t *)f[i].ptr);
        }
}

/* Parses "--name value" pairs into the flags' targets. Returns 0, or
 * BATON_EINVAL after printing the usage (unknown flag, missing or malformed
 * value, --help). Values point into argv. */
static inline int flags_parse(int argc, char **argv, const char *about, const struct flag *f, int n)
{
        for (int a = 1; a < argc; a++) {
                int i;

                for (i = 0; i < n; i++)
                        if (strcmp(argv[a], f[i].name) == 0)
                                break;
                if (i == n || a + 1 >= argc) {
                        if (strcmp(argv[a], "--help") != 0)
                                fprintf(stderr, "%s: bad or incomplete flag %s\n", argv[0],
                                        argv[a]);
                        flags_usage(argv[0], about, f, n);
                        return BATON_EINVAL;
                }
                a++;
                if (f[i].type == FLAG_STR) {
                        *(const char **)f[i].ptr = argv[a];
                } else {
                        char *end;
                        long long v;

                        errno = 0;
                        v = strtoll(argv[a], &end, 10);
                        if (errno || *end || end == argv[a]) {
                                fprintf(stderr, "%s: %s wants an integer, got %s\n", argv[0],
                                        f[i].name, argv[a]);
                                return BATON_EINVAL;
                        }
                        *(int64_t *)f[i].ptr = v;
                }
        }
        return 0;
}

/* The server URL: the flag's value if given, else $BATON_URL, else the default. */
static inline const char *bench_url(const char *flag_value)
{
        const char *env = getenv("BATON_URL");

        if (flag_value && *flag_value)
                return flag_value;
        if (env && *env)
                return env;
        return BENCH_DEFAULT_URL;
}

/* The API key sent as "Authorization: Bearer <key>": $BATON_KEY (the name
 * the baton CLI and the README use), else $BATON_API_KEY (the name these
 * programs read before), else NULL, which sends no header (a server started
 * with --insecure-no-auth). */
static inline const char *bench_key(void)
{
        const char *k = getenv("BATON_KEY");

        if (k && *k)
                return k;
        k = getenv("BATON_API_KEY");
        return k && *k ? k : NULL;
}

/* Parses a comma-separated list of positive integers ("1,32,64") into v (at
 * most cap values). Returns the count, or -1 when the text is malformed. */
static inline int parse_list(const char *text, int64_t *v, int cap)
{
        int n = 0;
        const char *p = text;

        while (*p && n < cap) {
                char *end;
                long long x;

                errno = 0;
                x = strtoll(p, &end, 10);
                if (errno || end == p || x <= 0)
                        return -1;
                v[n++] = x;
                if (*end == '\0')
                        return n;
                if (*end != ',')
                        return -1;
                p = end + 1;
        }
        return *p ? -1 : n;
}

/* A queue name that no earlier run used, so runs against one server never
 * see each other's jobs: prefix-pid-seconds. Returns buf. */
static inline const char *bench_queue(const char *prefix, char *buf, size_t cap)
{
        snprintf(buf, cap, "%s-%d-%lld", prefix, (int)getpid(), (long long)time(NULL));
        return buf;
}

/* The number of URLs in a comma-separated list ("http://a,http://b": 2). */
static inline int64_t bench_url_count(const char *urls)
{
        int64_t n = 1;

        for (const char *p = urls; *p; p++)
                n += *p == ',';
        return n;
}

/* Copies URL number i modulo the count of the comma-separated list into buf:
 * client i of a benchmark talks to node i % n, so n nodes share the clients
 * round-robin. Returns buf. */
static inline const char *bench_url_at(const char *urls, int64_t i, char *buf, size_t cap)
{
        const char *p = urls, *end;
        int64_t k = i % bench_url_count(urls);

        while (k-- > 0)
                p = strchr(p, ',') + 1;
        end = strchr(p, ',');
        if (!end)
                end = p + strlen(p);
        snprintf(buf, cap, "%.*s", (int)(end - p), p);
        return buf;
}

/* Creates a client for URL number i of the list, or exits: a benchmark
 * without a client has nothing to do. The client is the caller's. With
 * $BATON_CA_FILE set (as the baton CLI reads it) the client trusts that PEM
 * file, so that an https:// URL with a self-signed certificate works. */
static inline struct baton_client *bench_client_at(const char *urls, int64_t i)
{
        struct baton_client *c = NULL;
        const char *ca;
        char url[512];
        int rc;

        bench_url_at(urls, i, url, sizeof(url));
        rc = baton_client_new(url, bench_key(), &c);
        if (rc) {
                fprintf(stderr, "cannot create a client for %s: %s\n", url, baton_strerror(rc));
                exit(2);
        }
        ca = getenv("BATON_CA_FILE");
        if (ca && *ca && (rc = baton_client_set_ca_file(c, ca)) != 0) {
                fprintf(stderr, "cannot set the CA file %s: %s\n", ca, baton_strerror(rc));
                exit(2);
        }
        return c;
}

/* A client for the first URL of the list (see bench_client_at). */
static inline struct baton_client *bench_client(const char *urls)
{
        return bench_client_at(urls, 0);
}

/* Prints the client's last error with a context line. */
static inline void bench_report_error(struct baton_client *c, const char *what, int rc)
{
        const struct baton_error *e = baton_client_last_error(c);

        fprintf(stderr, "%s: %s (HTTP %d %s: %s)\n", what, baton_strerror(rc), e->http_status,
                e->code, e->message);
}

/* ---- retrying 503 ---- */

/* How many times one request is sent again after 503 answers, at most. */
#define BENCH_RETRY_503_MAX 20
/* The wait after a 503 without Retry-After: batond sends "Retry-After: 1" with
 * every 503, but a batch item refused with a 503 code comes in a 200 answer. */
#define BENCH_RETRY_503_DEFAULT_MS 1000

/* Whether rc, a call's or a batch item's, is a 503 answer: store_unavailable
 * (a PostgreSQL lock cycle or outage), queue_full, shutting_down and the
 * like. The server changed nothing for such a request or item. */
static inline bool bench_rc_503(int rc)
{
        return rc == BATON_ESTORE || rc == BATON_EBUSY || rc == BATON_ESHUTDOWN;
}

/* The wait before sending again what was answered 503: retry_after_s
 * seconds (-1 when the answer had none, as a batch item's refusal has none:
 * then BENCH_RETRY_503_DEFAULT_MS). Returns true after sleeping it and counting
 * it in *tries when fewer than BENCH_RETRY_503_MAX retries were made so far
 * and the wait ends before deadline_ns (now_ns clock); else false at once. */
static inline bool bench_retry_wait(int64_t retry_after_s, int *tries, int64_t deadline_ns)
{
        int64_t wait_ms = retry_after_s > 0 ? retry_after_s * 1000 : BENCH_RETRY_503_DEFAULT_MS;

        if (*tries >= BENCH_RETRY_503_MAX || now_ns() + wait_ms * 1000000 > deadline_ns)
                return false;
        sleep_ns(wait_ms * 1000000);
        (*tries)++;
        return true;
}

/*
 * What a real client does with a 503 answer: it waits the Retry-After it was
 * sent and sends the same request again (the server changed nothing). Call it
 * after a request on c returned rc, with *tries the retries of that request
 * so far (start at 0):
 *
 *     do rc = baton_claim(c, ...); while (bench_retry_503(c, rc, &tries, deadline_ns));
 *
 * Returns true after the wait of bench_retry_wait when the answer was a 503
 * and that wait is allowed; else false, and rc is the request's answer.
 */
static inline bool bench_retry_503(const struct baton_client *c, int rc, int *tries,
                                   int64_t deadline_ns)
{
        const struct baton_error *e = baton_client_last_error(c);

        if (rc == 0 || e->http_status != 503)
                return false;
        return bench_retry_wait(e->retry_after_s, tries, deadline_ns);
}

/* ---- latency histogram ---- */

/*
 * Log-linear buckets: values below 64 ns get a bucket each; above, every power
 * of two is split into 64 sub-buckets, so a bucket's width is at most 1/64 of
 * its value. 58 octaves cover every int64 nanosecond value.
 */
#define HIST_SUB_BITS 6
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_BUCKETS (HIST_SUB * 59)

struct hist {
        uint64_t count[HIST_BUCKETS];
        uint64_t n;
        int64_t min_ns;
        int64_t max_ns;
        double sum_ns;
};

static inline void hist_init(struct hist *h)
{
        memset(h, 0, sizeof(*h));
        h->min_ns = INT64_MAX;
}

static inline int hist_bucket(int64_t v)
{
        int msb, shift;

        if (v < HIST_SUB)
                return v < 0 ? 0 : (int)v;
        msb = 63 - __builtin_clzll((unsigned long long)v);
        shift = msb - HIST_SUB_BITS;
        return (shift + 1) * HIST_SUB + (int)((v >> shift) & (HIST_SUB - 1));
}

/* The upper bound of a bucket, the value reported for samples in it. */
static inline int64_t hist_bucket_top(int b)
{
        int shift;

        if (b < HIST_SUB)
                return b;
        shift = b / HIST_SUB - 1;
        return ((int64_t)(HIST_SUB + b % HIST_SUB + 1) << shift) - 1;
}

static inline void hist_add(struct hist *h, int64_t v_ns)
{
        h->count[hist_bucket(v_ns)]++;
        h->n++;
        h->sum_ns += (double)v_ns;
        if (v_ns < h->min_ns)
                h->min_ns = v_ns;
        if (v_ns > h->max_ns)
                h->max_ns = v_ns;
}

static inline void hist_merge(struct hist *into, const struct hist *from)
{
        for (int i = 0; i < HIST_BUCKETS; i++)
                into->count[i] += from->count[i];
        into->n += from->n;
        into->sum_ns += from->sum_ns;
        if (from->min_ns < into->min_ns)
                into->min_ns = from->min_ns;
        if (from->max_ns > into->max_ns)
                into->max_ns = from->max_ns;
}

/* The value at quantile q (0..1), within the bucket precision; exact max. */
static inline int64_t hist_quantile_ns(const struct hist *h, double q)
{
        uint64_t rank, seen = 0;

        if (h->n == 0)
                return 0;
        if (q >= 1.0)
                return h->max_ns;
        rank = (uint64_t)(q * (double)h->n);
        if (rank >= h->n)
                rank = h->n - 1;
        for (int i = 0; i < HIST_BUCKETS; i++) {
                seen += h->count[i];
                if (seen > rank) {
                        int64_t top = hist_bucket_top(i);

                        return top < h->max_ns ? top : h->max_ns;
                }
        }
        return h->max_ns;
}

static inline double ns_to_ms(int64_t ns)
{
        return (double)ns / 1e6;
}

/* One line: "<label> p50=... p99=... max=... ms (n=...)". */
static inline void hist_print(const char *label, const struct hist *h)
{
        printf("%s p50=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms mean=%.3f ms (n=%" PRIu64 ")\n",
               label, ns_to_ms(hist_quantile_ns(h, 0.50)), ns_to_ms(hist_quantile_ns(h, 0.90)),
               ns_to_ms(hist_quantile_ns(h, 0.99)), ns_to_ms(h->max_ns),
               h->n ? h->sum_ns / (double)h->n / 1e6 : 0.0, h->n);
}

#endif
