/*
 * queues.c: the queue and dead-letter commands of the baton command: queue
 * list/get/pause/resume/set (limits, rates, retry policy, retention),
 * drain/delete and dead list/replay/purge. Workload: one request per command. Assumes the server
 * checks every setting; here only the shape of each value is checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cmd_queue_list(struct cli *cli, struct cli_args *a)
{
        static const struct cli_list list = {
            "queues", print_queue_table, 1024, {{"limit", O_LIMIT}, {"after", O_AFTER}}};

        return cli_check_limit(cli, a) ? EXIT_USAGE : cli_list(cli, a, "/v1/queues", &list);
}

static int queue_call(struct cli *cli, const char *method, const char *name, const char *body,
                      const char *verb)
{
        json_t *root;
        int rc =
            cli_call_on(cli, method, "/v1/queues/", name, NULL, 512, "queue name", body, &root);

        if (rc == EXIT_OK_ && !cli->json) {
                if (verb)
                        printf("queue %s %s\n", name, verb);
                else
                        print_queue(json_object_get(root, "queue"));
        }
        json_decref(root);
        return rc;
}

int cmd_queue_get(struct cli *cli, struct cli_args *a)
{
        return queue_call(cli, "GET", a->pos[0], NULL, NULL);
}

int cmd_queue_pause(struct cli *cli, struct cli_args *a)
{
        return queue_call(cli, "PATCH", a->pos[0], "{\"paused\":true}", "paused");
}

int cmd_queue_resume(struct cli *cli, struct cli_args *a)
{
        return queue_call(cli, "PATCH", a->pos[0], "{\"paused\":false}", "resumed");
}

/* One setting of `queue set` into body: "none" is null, a count an integer,
 * a rate "MAX/PER_MS" an object. Returns EXIT_OK_, or the exit code after a
 * message (a usage error, or no memory). */
static int set_one(struct cli *cli, json_t *body, const char *name, const char *flag, const char *v,
                   bool rate)
{
        long long x = 0, per = 0;
        const char *slash = strchr(v, '/');
        char head[32];
        json_t *val = NULL;
        bool ok = false;

        if (strcmp(v, "none") == 0) {
                ok = true;
                val = json_null();
        } else if (!rate) {
                ok = cli_parse_count(v, &x) == 0;
                val = ok ? json_integer(x) : NULL;
        } else if (slash && (size_t)(slash - v) < sizeof(head)) {
                snprintf(head, sizeof(head), "%.*s", (int)(slash - v), v);
                ok = cli_parse_count(head, &x) == 0 && cli_parse_count(slash + 1, &per) == 0;
                val = ok ? json_pack("{s:I,s:I}", "max", (json_int_t)x, "per_ms", (json_int_t)per)
                         : NULL;
        }
        if (!ok)
                return cli_usage_error(cli->prog, NULL, "%s needs %s or 'none', not '%s'", flag,
                                       rate ? "MAX/PER_MS" : "a non-negative integer", v);
        /* json_object_set_new refuses (and releases) a NULL value: no memory. */
        return json_object_set_new(body, name, val) ? cli_oom(cli) : EXIT_OK_;
}

/* --keep-completed-ms, --keep-dead-ms, --keep-cancelled-ms into body's
 * "retention" object (only the flags given). EXIT_OK_, or the exit code after
 * a message. */
static int keep_flags(struct cli *cli, struct cli_args *a, json_t *body)
{
        static const struct {
                int opt;
                const char *name, *flag;
        } keep[] = {{O_KEEP_COMPLETED, "completed_ms", "--keep-completed-ms"},
                    {O_KEEP_DEAD, "dead_ms", "--keep-dead-ms"},
                    {O_KEEP_CANCELLED, "cancelled_ms", "--keep-cancelled-ms"}};
        json_t *ret = NULL;
        int rc = EXIT_OK_;

        for (size_t i = 0; rc == EXIT_OK_ && i < sizeof(keep) / sizeof(keep[0]); i++) {
                if (!a->opt[keep[i].opt])
                        continue;
                if (!ret && !(ret = json_object()))
                        return cli_oom(cli);
                rc = set_one(cli, ret, keep[i].name, keep[i].flag, a->opt[keep[i].opt], false);
        }
        if (rc == EXIT_OK_ && ret && json_object_set(body, "retention", ret))
                rc = cli_oom(cli);
        json_decref(ret);
        return rc;
}

int cmd_queue_set(struct cli *cli, struct cli_args *a)
{
        static const struct {
                int opt;
                const char *name, *flag;
                bool rate;
        } map[] = {{O_CONCURRENCY, "concurrency", "--concurrency", false},
                   {O_RATE, "rate", "--rate", true},
                   {O_MAX_DEPTH, "max_depth", "--max-depth", false},
                   {O_GROUP_CONCURRENCY, "group_concurrency", "--group-concurrency", false},
                   {O_GROUP_RATE, "group_rate", "--group-rate", true},
                   {O_MAX_ATTEMPTS, "max_attempts", "--max-attempts", false},
                   {O_LEASE, "lease_ms", "--lease-ms", false},
                   {O_TIMEOUT, "timeout_ms", "--timeout-ms", false}};
        json_t *body = json_object();
        char *text = NULL;
        int rc = EXIT_OK_;

        if (!body)
                return cli_oom(cli);
        for (size_t i = 0; rc == EXIT_OK_ && i < sizeof(map) / sizeof(map[0]); i++)
                if (a->opt[map[i].opt])
                        rc = set_one(cli, body, map[i].name, map[i].flag, a->opt[map[i].opt],
                                     map[i].rate);
        if (rc != EXIT_OK_)
                goto out;
        rc = EXIT_USAGE;
        if (a->opt[O_BACKOFF]) {
                json_t *b = strcmp(a->opt[O_BACKOFF], "none") == 0
                                ? json_null()
                                : json_loads(a->opt[O_BACKOFF], 0, NULL);
                if (!b) {
                        cli_usage_error(cli->prog, NULL, "--backoff needs a JSON object or 'none'");
                        goto out;
                }
                if (json_object_set_new(body, "backoff", b)) {
                        rc = cli_oom(cli);
                        goto out;
                }
        }
        if (keep_flags(cli, a, body) != EXIT_OK_)
                goto out;
        if (json_object_size(body) == 0) {
                cli_usage_error(cli->prog, NULL, "%s", "give at least one setting to change");
                goto out;
        }
        text = json_dumps(body, JSON_COMPACT);
        rc = text ? queue_call(cli, "PATCH", a->pos[0], text, NULL) : cli_oom(cli);
out:
        free(text);
        json_decref(body);
        return rc;
}

int cmd_queue_drain(struct cli *cli, struct cli_args *a)
{
        json_t *root;
        int rc = cli_call_on(cli, "POST", "/v1/queues/", a->pos[0], "/drain", 512, "queue name",
                             NULL, &root);

        if (rc == EXIT_OK_ && !cli->json) {
                printf("queue %s: %lld jobs cancelled\n", a->pos[0],
                       (long long)json_integer_value(json_object_get(root, "cancelled")));
                if (json_is_true(json_object_get(root, "more")))
                        printf("more jobs that have not started remain: run it again\n");
        }
        json_decref(root);
        return rc;
}

int cmd_queue_delete(struct cli *cli, struct cli_args *a)
{
        json_t *root;
        int rc = cli_call_on(cli, "DELETE", "/v1/queues/", a->pos[0], NULL, 512, "queue name", NULL,
                             &root);
        long long n = (long long)json_integer_value(json_object_get(root, "purged"));

        if (rc == EXIT_OK_ && !cli->json) {
                if (json_is_true(json_object_get(root, "deleted")))
                        printf("queue %s deleted (%lld ended jobs purged)\n", a->pos[0], n);
                else
                        printf("queue %s: %lld ended jobs purged, more remain: run it again\n",
                               a->pos[0], n);
        }
        json_decref(root);
        return rc;
}

int cmd_dead_list(struct cli *cli, struct cli_args *a)
{
        static const struct cli_list list = {
            "jobs", print_job_table, 2048, {{"limit", O_LIMIT}, {"after", O_AFTER}}};
        char path[2048];

        if (cli_check_limit(cli, a))
                return EXIT_USAGE;
        if (cli_make_path(path, sizeof(path), "/v1/queues/", a->pos[0], "/dead"))
                return cli_usage_error(cli->prog, NULL, "%s", "arguments too long");
        return cli_list(cli, a, path, &list);
}

/* POST or DELETE on the dead letters, printing the count member. */
static int dead_call(struct cli *cli, const char *method, const char *queue, const char *suffix,
                     const char *body, const char *member)
{
        json_t *root;
        int rc =
            cli_call_on(cli, method, "/v1/queues/", queue, suffix, 512, "queue name", body, &root);

        if (rc == EXIT_OK_ && !cli->json)
                printf("%s %lld\n", member,
                       (long long)json_integer_value(json_object_get(root, member)));
        json_decref(root);
        return rc;
}

int cmd_dead_replay(struct cli *cli, struct cli_args *a)
{
        json_t *req = NULL, *ids;
        char *body = NULL;
        int i, rc = EXIT_REFUSED;

        if ((a->opt[O_ALL] != NULL) == (a->n_pos > 1))
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "give either --all or one or more job ids");
        req = json_object();
        ids = json_array();
        if (!req || !ids) {
                json_decref(ids);
                rc = cli_oom(cli);
                goto out;
        }
        if (a->opt[O_ALL]) {
                json_decref(ids);
                if (json_object_set_new(req, "all", json_true())) {
                        rc = cli_oom(cli);
                        goto out;
                }
        } else {
                for (i = 1; i < a->n_pos; i++) {
                        /* json_string refuses text that is not UTF-8. */
                        if (json_array_append_new(ids, json_string(a->pos[i]))) {
                                json_decref(ids);
                                rc = cli_usage_error(cli->prog, a->usage, "%s",
                                                     "arguments must be UTF-8 text");
                                goto out;
                        }
                }
                if (json_object_set_new(req, "ids", ids)) {
                        rc = cli_oom(cli);
                        goto out;
                }
        }
        body = json_dumps(req, JSON_COMPACT);
        rc = body ? dead_call(cli, "POST", a->pos[0], "/dead/replay", body, "replayed")
                  : cli_oom(cli);
out:
        free(body);
        json_decref(req);
        return rc;
}

int cmd_dead_purge(struct cli *cli, struct cli_args *a)
{
        return dead_call(cli, "DELETE", a->pos[0], "/dead", NULL, "purged");
}
