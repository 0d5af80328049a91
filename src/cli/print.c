/*
 * print.c: human-readable output of the baton command. Jobs and queues arrive
 * as the server's JSON; these functions lay them out as aligned key: value
 * blocks and tables. Members the server leaves null or out are skipped, so the
 * output stays readable as the job object grows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char *print_str(const json_t *o, const char *k)
{
        const char *v = json_string_value(json_object_get(o, k));

        return v ? v : "-";
}

static long long n(const json_t *o, const char *k)
{
        return (long long)json_integer_value(json_object_get(o, k));
}

/* v as compact JSON text (flags besides JSON_COMPACT), caller frees. A
 * printer has no way to fail its command, so running out of memory here ends
 * the process as cli_oom's caller would: exit code 1. */
static char *dump(const json_t *v, size_t flags)
{
        char *text = json_dumps(v, JSON_COMPACT | flags);

        if (!text) {
                fflush(stdout);
                fprintf(stderr, "baton: out of memory\n");
                exit(EXIT_REFUSED);
        }
        return text;
}

void print_field(const json_t *o, const char *k, int width)
{
        json_t *v = json_object_get(o, k);
        char *text;

        if (!v || json_is_null(v))
                return;
        if (json_is_string(v)) {
                printf("%-*s %s\n", width, k, json_string_value(v));
                return;
        }
        /* Members keep the server's order (jansson keeps insertion order). */
        text = dump(v, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        printf("%-*s %s\n", width, k, text);
        free(text);
}

void print_next(const json_t *root)
{
        const json_t *nx = json_object_get(root, "next");

        if (json_is_string(nx))
                printf("next page: --after %s\n", json_string_value(nx));
        else if (json_is_integer(nx))
                printf("next page: --after %lld\n", (long long)json_integer_value(nx));
}

/* The key/value blocks of jobs, queues and keys align their values here. */
#define FIELD_WIDTH 16

/* Prints text under label, each line of a multi-line text on its own line
 * indented under the first (an error with a stack trace stays readable). */
static void print_lines(const char *label, int width, const char *text)
{
        const char *p = text;

        printf("%-*s ", width, label);
        for (;;) {
                size_t n = strcspn(p, "\n");

                printf("%.*s\n", (int)n, p);
                if (!p[n] || !p[n + 1])
                        return;
                p += n + 1;
                printf("%-*s ", width, "");
        }
}

/* progress {"percent", "step", "message"} as "40% render: page 2"; another
 * shape as its JSON. */
static void print_progress(const json_t *pr)
{
        json_t *pct = json_object_get(pr, "percent");
        const char *step = json_string_value(json_object_get(pr, "step"));
        const char *msg = json_string_value(json_object_get(pr, "message"));

        if (!json_is_object(pr) || (!json_is_number(pct) && !step && !msg)) {
                char *text = dump(pr, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);

                printf("%-*s %s\n", FIELD_WIDTH, "progress", text);
                free(text);
                return;
        }
        printf("%-*s ", FIELD_WIDTH, "progress");
        if (json_is_number(pct))
                printf("%g%%%s", json_number_value(pct), step || msg ? " " : "");
        if (step)
                printf("%s%s", step, msg ? ": " : "");
        printf("%s\n", msg ? msg : "");
}

/* depends_on, on_parent_failure, flow_id and ref, timer and cron: where the
 * job comes from and what it waits for. */
static void print_origin(const json_t *job)
{
        json_t *deps = json_object_get(job, "depends_on");
        json_t *timer = json_object_get(job, "timer"), *cron = json_object_get(job, "cron");
        char ids[512];

        if (json_array_size(deps) > 0)
                printf("%-*s %s (on parent failure: %s)\n", FIELD_WIDTH, "depends_on",
                       print_join(deps, ids, sizeof(ids)), print_str(job, "on_parent_failure"));
        if (json_is_string(json_object_get(job, "flow_id")))
                printf("%-*s %s (ref %s)\n", FIELD_WIDTH, "flow", print_str(job, "flow_id"),
                       print_str(job, "ref"));
        if (json_is_object(timer))
                printf("%-*s %s version %lld, due %s\n", FIELD_WIDTH, "timer",
                       print_str(timer, "key"), n(timer, "version"), print_str(timer, "fire_at"));
        if (json_is_object(cron))
                printf("%-*s %s run %s\n", FIELD_WIDTH, "cron", print_str(cron, "key"),
                       print_str(cron, "run"));
}

/* The step log as a table. */
static void print_steps(const json_t *steps)
{
        size_t i;
        json_t *st;

        if (json_array_size(steps) == 0)
                return;
        printf("steps:\n  %-20s %-7s %-24s %s\n", "STEP", "ATTEMPT", "STARTED_AT", "FINISHED_AT");
        json_array_foreach(steps, i, st)
        {
                printf("  %-20s %-7lld %-24s %s\n", print_str(st, "step"), n(st, "attempt"),
                       print_str(st, "started_at"), print_str(st, "finished_at"));
        }
}

/* The attempt log as a table, each attempt's error (every line of it) under
 * its row. */
static void print_attempts(const json_t *attempts)
{
        size_t i;
        json_t *at;

        if (json_array_size(attempts) == 0)
                return;
        printf("attempts:\n  %-3s %-20s %-24s %-24s %s\n", "#", "WORKER", "STARTED_AT",
               "FINISHED_AT", "OUTCOME");
        json_array_foreach(attempts, i, at)
        {
                const char *err = json_string_value(json_object_get(at, "error"));

                printf("  %-3lld %-20s %-24s %-24s %s\n", n(at, "attempt"), print_str(at, "worker"),
                       print_str(at, "started_at"), print_str(at, "finished_at"),
                       print_str(at, "outcome"));
                if (err)
                        print_lines("      error:", 12, err);
        }
}

void print_job(const json_t *job)
{
        static const char *const keys[] = {
            "id",           "queue",       "type",
            "state",        "priority",    "group",
            "run_at",       "created_at",  "started_at",
            "finished_at",  "worker",      "lease_until",
            "payload",      "result",      "idempotency_key",
            "key",          "version",     "request_id",
            "execution_id", "traceparent", "cancel_reason",
        };
        const char *err = json_string_value(json_object_get(job, "last_error"));
        json_t *pr = json_object_get(job, "progress");

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                print_field(job, keys[i], FIELD_WIDTH);
                if (strcmp(keys[i], "priority") == 0)
                        printf("%-*s %lld of %lld\n", FIELD_WIDTH, "attempt", n(job, "attempt"),
                               n(job, "max_attempts"));
        }
        /* false is the usual value of cancel_requested: only show it when set. */
        if (json_is_true(json_object_get(job, "cancel_requested")))
                printf("%-*s yes\n", FIELD_WIDTH, "cancel_requested");
        if (err)
                print_lines("last_error", FIELD_WIDTH, err);
        if (pr && !json_is_null(pr))
                print_progress(pr);
        print_origin(job);
        print_steps(json_object_get(job, "steps"));
        print_attempts(json_object_get(job, "attempts"));
}

void print_job_table(const json_t *jobs)
{
        size_t i;
        json_t *j;

        printf("%-12s %-20s %-20s %-10s %-8s %-7s %s\n", "ID", "QUEUE", "TYPE", "STATE", "PRIORITY",
               "ATTEMPT", "RUN_AT");
        json_array_foreach(jobs, i, j)
        {
                printf("%-12s %-20s %-20s %-10s %-8s %3lld/%-3lld %s\n", print_str(j, "id"),
                       print_str(j, "queue"), print_str(j, "type"), print_str(j, "state"),
                       print_str(j, "priority"), n(j, "attempt"), n(j, "max_attempts"),
                       print_str(j, "run_at"));
        }
}

static const char *const count_keys[] = {
    "pending", "scheduled", "queued", "running", "retrying", "completed", "dead", "cancelled",
};

void print_queue(const json_t *q)
{
        json_t *counts = json_object_get(q, "counts");
        size_t i;

        printf("%-16s %s\n", "name", print_str(q, "name"));
        printf("%-16s %s\n", "paused", json_is_true(json_object_get(q, "paused")) ? "yes" : "no");
        for (i = 0; i < sizeof(count_keys) / sizeof(count_keys[0]); i++)
                printf("%-16s %lld\n", count_keys[i], n(counts, count_keys[i]));
        print_field(q, "oldest_ready_age_ms", FIELD_WIDTH);
        print_field(q, "created_at", FIELD_WIDTH);
        print_field(q, "updated_at", FIELD_WIDTH);
        /* Settings: a limit not set is shown as "none". */
        {
                static const char *const lims[] = {"concurrency", "rate", "max_depth",
                                                   "group_concurrency", "group_rate"};
                json_t *d = json_object_get(q, "defaults");

                for (i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
                        if (json_is_null(json_object_get(q, lims[i])))
                                printf("%-16s none\n", lims[i]);
                        else
                                print_field(q, lims[i], FIELD_WIDTH);
                }
                print_field(q, "running", FIELD_WIDTH);
                print_field(q, "depth", FIELD_WIDTH);
                if (d && json_object_size(d) > 0) {
                        char *text = dump(d, 0);
                        printf("%-16s %s\n", "defaults", text);
                        free(text);
                }
                d = json_object_get(q, "retention");
                if (d && json_object_size(d) > 0) {
                        char *text = dump(d, 0);
                        printf("%-16s %s\n", "retention", text);
                        free(text);
                }
        }
}

void print_queue_table(const json_t *queues)
{
        size_t i, k;
        json_t *q;

        printf("%-24s %-6s", "NAME", "PAUSED");
        for (k = 0; k < sizeof(count_keys) / sizeof(count_keys[0]); k++) {
                char up[16];
                size_t m;

                for (m = 0; count_keys[k][m] && m < sizeof(up) - 1; m++)
                        up[m] = (char)(count_keys[k][m] - 'a' + 'A');
                up[m] = '\0';
                printf(" %9s", up);
        }
        printf("\n");
        json_array_foreach(queues, i, q)
        {
                json_t *counts = json_object_get(q, "counts");

                printf("%-24s %-6s", print_str(q, "name"),
                       json_is_true(json_object_get(q, "paused")) ? "yes" : "no");
                for (k = 0; k < sizeof(count_keys) / sizeof(count_keys[0]); k++)
                        printf(" %9lld", n(counts, count_keys[k]));
                printf("\n");
        }
}

const char *print_join(const json_t *arr, char *buf, size_t cap)
{
        size_t i, len = 0;
        json_t *v;

        buf[0] = '\0';
        json_array_foreach(arr, i, v)
        {
                const char *str = json_string_value(v);
                int w;

                if (!str)
                        continue;
                w = snprintf(buf + len, cap - len, "%s%s", len ? "," : "", str);
                if (w < 0 || (size_t)w >= cap - len)
                        break;
                len += (size_t)w;
        }
        return len ? buf : "-";
}

void print_key(const json_t *key)
{
        json_t *rl = json_object_get(key, "rate_limit");
        char scopes[256];

        printf("%-16s %s\n", "id", print_str(key, "id"));
        printf("%-16s %s\n", "name", print_str(key, "name"));
        printf("%-16s %s\n", "tenant", print_str(key, "tenant"));
        print_field(key, "state", FIELD_WIDTH);
        printf("%-16s %s\n", "scopes",
               print_join(json_object_get(key, "scopes"), scopes, sizeof(scopes)));
        print_field(key, "created_at", FIELD_WIDTH);
        print_field(key, "expires_at", FIELD_WIDTH);
        print_field(key, "rotated_at", FIELD_WIDTH);
        print_field(key, "revoked_at", FIELD_WIDTH);
        print_field(key, "previous_valid_until", FIELD_WIDTH);
        print_field(key, "created_by", FIELD_WIDTH);
        if (json_is_object(rl) && json_integer_value(json_object_get(rl, "max")))
                printf("%-16s %lld per %lld ms\n", "rate_limit", n(rl, "max"), n(rl, "per_ms"));
}

void print_key_table(const json_t *keys)
{
        char scopes[256];
        size_t i;
        json_t *k;

        printf("%-18s %-20s %-16s %-30s %-8s %s\n", "ID", "NAME", "TENANT", "SCOPES", "STATUS",
               "CREATED_AT");
        json_array_foreach(keys, i, k)
        {
                const char *status = json_string_value(json_object_get(k, "state"));
                json_t *rev = json_object_get(k, "revoked_at");

                /* state is the server's word; revoked_at the fallback. */
                if (!status)
                        status = rev && !json_is_null(rev) ? "revoked" : "active";
                printf("%-18s %-20s %-16s %-30s %-8s %s\n", print_str(k, "id"),
                       print_str(k, "name"), print_str(k, "tenant"),
                       print_join(json_object_get(k, "scopes"), scopes, sizeof(scopes)), status,
                       print_str(k, "created_at"));
        }
}

void print_audit_table(const json_t *entries)
{
        size_t i;
        json_t *e;

        printf("%-24s %-18s %-12s %-16s %-20s %-6s %-5s %s\n", "AT", "KEY_ID", "TENANT", "ACTION",
               "TARGET", "STATUS", "COUNT", "CODE");
        json_array_foreach(entries, i, e)
        {
                json_t *st = json_object_get(e, "status");
                json_t *n = json_object_get(e, "count");
                char status[24], count[24];

                if (json_is_integer(st))
                        snprintf(status, sizeof(status), "%lld", (long long)json_integer_value(st));
                else
                        snprintf(status, sizeof(status), "%s", print_str(e, "status"));
                /* Refusals of one key and minute share a row (docs/api.md "Audit"). */
                snprintf(count, sizeof(count), "%lld",
                         json_is_integer(n) ? (long long)json_integer_value(n) : 1LL);
                printf("%-24s %-18s %-12s %-16s %-20s %-6s %-5s %s\n", print_str(e, "at"),
                       print_str(e, "key_id"), print_str(e, "tenant"), print_str(e, "action"),
                       print_str(e, "target"), status, count, print_str(e, "code"));
        }
}
