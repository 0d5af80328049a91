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

void print_job(const json_t *job)
{
        static const char *const keys[] = {
            "id",
            "queue",
            "type",
            "state",
            "priority",
            "attempt",
            "max_attempts",
            "run_at",
            "created_at",
            "started_at",
            "finished_at",
            "worker",
            "lease_until",
            "payload",
            "result",
            "last_error",
            "progress",
            "idempotency_key",
            "key",
            "version",
            "request_id",
            "cancel_requested",
            "cancel_reason",
        };
        size_t i;

        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                /* false is the usual value of cancel_requested: only show it when set. */
                if (strcmp(keys[i], "cancel_requested") == 0 &&
                    !json_is_true(json_object_get(job, keys[i])))
                        continue;
                print_field(job, keys[i], FIELD_WIDTH);
        }
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
