/*
 * cron.c: the `baton cron` commands: list, get, put, delete, pause, resume,
 * run, runs, preview and apply -f FILE. Each is one HTTP call through
 * cli_call, so --json prints what the server said and the exit-code contract
 * of cli.h holds (a manual run refused with already_running exits 1, the
 * manual-run cooldown 5).
 *
 * Tables show each next fire time twice: in the schedule's own zone (what the
 * operator wrote the expression in) and in UTC (what the server stores). The
 * zone conversion uses the C library's tz database through TZ=zone and
 * localtime_r; this process runs one command and exits, so changing TZ is
 * safe here and would not be in a library. Workload: an operator at a
 * terminal or a deploy script applying the canonical registry file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

/* Formats the RFC 3339 UTC instant iso in zone ("2026-03-29 03:30:00 CEST");
 * returns "-" when it is absent or cannot be read. */
static const char *in_zone(const char *iso, const char *zone, char *buf, size_t cap)
{
        struct tm tm;
        time_t t;

        if (!iso || !zone)
                return "-";
        memset(&tm, 0, sizeof(tm));
        if (sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec) != 6)
                return "-";
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t = timegm(&tm);
        if (setenv("TZ", zone, 1) != 0)
                return "-";
        tzset();
        if (!localtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                return "-";
        return buf;
}

/* A schedule's state word: paused wins over disabled. */
static const char *sched_state(const json_t *s)
{
        if (json_is_true(json_object_get(s, "paused")))
                return "paused";
        if (json_is_false(json_object_get(s, "enabled")))
                return "disabled";
        return "active";
}

static void print_sched_table(const json_t *arr)
{
        char local[64];
        size_t i;
        json_t *s;

        printf("%-24s %-20s %-16s %-8s %-28s %-24s %s\n", "KEY", "CRON", "TIMEZONE", "STATE",
               "NEXT (ZONE)", "NEXT (UTC)", "LAST");
        json_array_foreach(arr, i, s)
        {
                const char *next = json_string_value(json_object_get(s, "next_fire_at"));

                printf("%-24s %-20s %-16s %-8s %-28s %-24s %s\n", print_str(s, "key"),
                       print_str(s, "cron"), print_str(s, "timezone"), sched_state(s),
                       in_zone(next, print_str(s, "timezone"), local, sizeof(local)),
                       next ? next : "-", print_str(s, "last_status"));
        }
}

static void print_sched(const json_t *s)
{
        static const char *const keys[] = {
            "key",         "cron",        "timezone", "enabled",     "paused",  "pause_note",
            "owner",       "description", "job",      "overlap",     "misfire", "catchup_window_ms",
            "catchup_max", "dst_gap",     "dst_fold", "history_max", "version", "created_at",
            "updated_at",  "last_status"};
        const char *next = json_string_value(json_object_get(s, "next_fire_at"));
        const json_t *last = json_object_get(s, "last_run");
        char local[64];
        size_t i;

        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                print_field(s, keys[i], 18);
        printf("%-18s %s\n", "next_fire (zone)",
               in_zone(next, print_str(s, "timezone"), local, sizeof(local)));
        printf("%-18s %s\n", "next_fire (UTC)", next ? next : "-");
        if (json_is_object(last))
                printf("%-18s %s %s at %s (%s)\n", "last_run", print_str(last, "id"),
                       print_str(last, "trigger"), print_str(last, "scheduled_at"),
                       print_str(last, "status"));
}

static void print_runs(const json_t *arr)
{
        size_t i;
        json_t *r;

        printf("%-12s %-9s %-24s %-24s %-10s %-12s %s\n", "ID", "TRIGGER", "SCHEDULED_AT",
               "FIRED_AT", "STATUS", "JOB", "REASON/ERROR");
        json_array_foreach(arr, i, r)
        {
                const char *why = json_string_value(json_object_get(r, "reason"));

                if (!why)
                        why = json_string_value(json_object_get(r, "error"));
                printf("%-12s %-9s %-24s %-24s %-10s %-12s %s\n", print_str(r, "id"),
                       print_str(r, "trigger"), print_str(r, "scheduled_at"),
                       print_str(r, "fired_at"), print_str(r, "status"), print_str(r, "job_id"),
                       why ? why : "-");
        }
}

static int key_path(struct cli *cli, char *path, size_t cap, const char *key, const char *suffix)
{
        if (cli_make_path(path, cap, "/v1/cron/", key, suffix))
                return cli_usage_error(cli->prog, NULL, "schedule key too long: %s", key);
        return EXIT_OK_;
}

int cmd_cron_list(struct cli *cli, struct cli_args *a)
{
        static const struct cli_list list = {
            "schedules", print_sched_table, 1024, {{"limit", O_LIMIT}, {"after", O_AFTER}}};
        long long v = 0;

        if (cli_opt_count(cli, a, O_LIMIT, "--limit", 1, 1000, &v))
                return EXIT_USAGE;
        return cli_list(cli, a, "/v1/cron", &list);
}

/* One call on /v1/cron/KEY[suffix]; prints the schedule, or "schedule KEY
 * verb" when verb is set. */
static int sched_call(struct cli *cli, const char *method, const char *key, const char *suffix,
                      const char *body, const char *verb)
{
        json_t *root;
        int rc =
            cli_call_on(cli, method, "/v1/cron/", key, suffix, 1024, "schedule key", body, &root);

        if (rc == EXIT_OK_ && !cli->json) {
                if (verb)
                        printf("schedule %s %s\n", key, verb);
                else
                        print_sched(json_object_get(root, "schedule"));
        }
        json_decref(root);
        return rc;
}

int cmd_cron_get(struct cli *cli, struct cli_args *a)
{
        return sched_call(cli, "GET", a->pos[0], NULL, NULL, NULL);
}

int cmd_cron_delete(struct cli *cli, struct cli_args *a)
{
        return sched_call(cli, "DELETE", a->pos[0], NULL, NULL, "deleted");
}

int cmd_cron_resume(struct cli *cli, struct cli_args *a)
{
        return sched_call(cli, "POST", a->pos[0], "/resume", "{}", "resumed");
}

/* Dumps o and runs fn with the text; frees both. */
static char *dump(const json_t *o)
{
        return o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}

int cmd_cron_pause(struct cli *cli, struct cli_args *a)
{
        json_t *o = a->opt[O_NOTE] ? json_pack("{s:s}", "note", a->opt[O_NOTE]) : json_object();
        char *body = dump(o);
        int rc = EXIT_REFUSED;

        if (body)
                rc = sched_call(cli, "POST", a->pos[0], "/pause", body, "paused");
        else
                cli_oom(cli);
        free(body);
        json_decref(o);
        return rc;
}

/* Sets member k of o to the string v when v is given. */
static int set_opt(json_t *o, const char *k, const char *v)
{
        return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

int cmd_cron_put(struct cli *cli, struct cli_args *a)
{
        const char *src = a->n_pos > 1 ? a->pos[1] : NULL;
        json_t *def = NULL, *root = NULL, *job;
        json_error_t jerr;
        char *text = NULL, *body = NULL, path[1024];
        int rc;

        if (!src && !a->opt[O_CRON])
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "give a definition (JSON, @FILE or -) or --cron");
        rc = key_path(cli, path, sizeof(path), a->pos[0], NULL);
        if (rc)
                return rc;
        if (src) {
                const char *t = cli_read_source(src, &text, cli->prog);

                if (!t)
                        return EXIT_USAGE;
                def = json_loads(t, 0, &jerr);
                if (!json_is_object(def)) {
                        cli_error(cli->prog, "usage", "DEFINITION",
                                  "the definition is not a JSON object: %s",
                                  def ? "another JSON value" : jerr.text);
                        rc = EXIT_USAGE;
                        goto out;
                }
        } else {
                def = json_object();
        }
        job = json_object_get(def, "job");
        if (def && !job && (a->opt[O_QUEUE] || a->opt[O_TYPE])) {
                job = json_object();
                /* set_new releases job and fails when job is NULL. */
                if (json_object_set_new(def, "job", job)) {
                        rc = cli_oom(cli);
                        goto out;
                }
        }
        if (!def || set_opt(def, "cron", a->opt[O_CRON]) ||
            set_opt(def, "timezone", a->opt[O_TZ]) ||
            (job &&
             (set_opt(job, "queue", a->opt[O_QUEUE]) || set_opt(job, "type", a->opt[O_TYPE]))) ||
            !(body = dump(def))) {
                cli_oom(cli);
                rc = EXIT_REFUSED;
                goto out;
        }
        rc = cli_call(cli, "PUT", path, body, true, &root);
        if (rc == EXIT_OK_ && !cli->json) {
                printf("schedule %s %s\n", a->pos[0],
                       json_is_true(json_object_get(root, "created")) ? "created" : "updated");
                print_sched(json_object_get(root, "schedule"));
        }
out:
        json_decref(root);
        json_decref(def);
        free(body);
        free(text);
        return rc;
}

/* The body of a manual run into *body (the caller frees it): force and the
 * payload members of --payload (JSON text, @FILE or - for stdin; an object).
 * Returns EXIT_OK_, or EXIT_USAGE after printing why. */
static int run_body(struct cli *cli, struct cli_args *a, char **body)
{
        json_t *req = json_object(), *payload = NULL;
        json_error_t jerr;
        char *text = NULL;
        int rc = EXIT_USAGE;

        *body = NULL;
        if (!req)
                return cli_oom(cli);
        if (a->opt[O_PAYLOAD]) {
                const char *src = cli_read_source(a->opt[O_PAYLOAD], &text, cli->prog);

                if (!src)
                        goto out;
                payload = json_loads(src, 0, &jerr);
                if (!json_is_object(payload)) {
                        fprintf(stderr, "%s: --payload needs a JSON object%s%s\n", cli->prog,
                                payload ? "" : ": ", payload ? "" : jerr.text);
                        goto out;
                }
        }
        if ((a->opt[O_FORCE] && json_object_set_new(req, "force", json_true())) ||
            (payload && json_object_set(req, "payload", payload)) ||
            !(*body = json_dumps(req, JSON_COMPACT))) {
                rc = cli_oom(cli);
                goto out;
        }
        rc = EXIT_OK_;
out:
        json_decref(payload);
        json_decref(req);
        free(text);
        return rc;
}

int cmd_cron_run(struct cli *cli, struct cli_args *a)
{
        json_t *root = NULL, *run;
        char *body = NULL;
        int rc = run_body(cli, a, &body);

        if (rc == EXIT_OK_)
                rc = cli_call_on(cli, "POST", "/v1/cron/", a->pos[0], "/run", 1024, "schedule key",
                                 body, &root);
        free(body);
        if (rc == EXIT_OK_ && !cli->json) {
                run = json_object_get(root, "run");
                printf("run %s of %s started: job %s (%s)\n", print_str(run, "id"), a->pos[0],
                       print_str(run, "job_id"), print_str(run, "status"));
        }
        json_decref(root);
        return rc;
}

int cmd_cron_runs(struct cli *cli, struct cli_args *a)
{
        static const struct cli_list list = {
            "runs", print_runs, 1024, {{"limit", O_LIMIT}, {"after", O_AFTER}}};
        char path[1024];
        long long v = 0;
        int rc;

        if (cli_opt_count(cli, a, O_LIMIT, "--limit", 1, 1000, &v))
                return EXIT_USAGE;
        rc = key_path(cli, path, sizeof(path), a->pos[0], "/runs");
        return rc ? rc : cli_list(cli, a, path, &list);
}

/*
 * Preview exits 0 for a valid expression and 1 for one the server would refuse
 * (the reason on stderr), so a script can validate with it. A schedule below
 * the server's floor is valid to preview: it is listed with a warning.
 */
int cmd_cron_preview(struct cli *cli, struct cli_args *a)
{
        json_t *req = json_pack("{s:s}", "cron", a->pos[0]), *root = NULL, *fires, *f;
        const char *zone = a->opt[O_TZ] ? a->opt[O_TZ] : "UTC";
        char *body = NULL, local[64];
        long long count = 0;
        size_t i;
        int rc;

        if (cli_opt_count(cli, a, O_NFIRES, "--count", 1, 100, &count)) {
                json_decref(req);
                return EXIT_USAGE;
        }
        if (!req || set_opt(req, "timezone", a->opt[O_TZ]) ||
            set_opt(req, "from", a->opt[O_FROM]) || set_opt(req, "dst_gap", a->opt[O_DST_GAP]) ||
            set_opt(req, "dst_fold", a->opt[O_DST_FOLD]) ||
            (a->opt[O_NFIRES] && json_object_set_new(req, "count", json_integer(count))) ||
            !(body = dump(req))) {
                json_decref(req);
                cli_oom(cli);
                return EXIT_REFUSED;
        }
        rc = cli_call(cli, "POST", "/v1/cron/preview", body, true, &root);
        if (rc == EXIT_OK_ && !json_is_true(json_object_get(root, "valid"))) {
                json_t *e = json_object_get(root, "error");

                cli_error(cli->prog, print_str(e, "code"), "EXPR", "invalid expression: %s (%s)",
                          print_str(e, "message"), print_str(e, "code"));
                rc = EXIT_REFUSED;
        } else if (rc == EXIT_OK_ && !cli->json) {
                printf("%s\n", print_str(root, "description"));
                if (json_is_true(json_object_get(root, "below_floor")))
                        printf(
                            "warning: fires every %lld ms, more often than the server allows "
                            "(%lld ms): saving it would be refused\n",
                            (long long)json_integer_value(json_object_get(root, "min_interval_ms")),
                            (long long)json_integer_value(json_object_get(root, "floor_ms")));
                fires = json_object_get(root, "fires");
                printf("%-28s %s\n", "ZONE", "UTC");
                json_array_foreach(fires, i, f)
                {
                        const char *iso = json_string_value(f);

                        printf("%-28s %s\n", in_zone(iso, zone, local, sizeof(local)),
                               iso ? iso : "-");
                }
        }
        json_decref(root);
        json_decref(req);
        free(body);
        return rc;
}

/* Prints one member of the apply answer: a count, or a list of keys. */
static void apply_member(const json_t *root, const char *k)
{
        json_t *v = json_object_get(root, k), *e;
        size_t i;

        if (json_is_integer(v)) {
                printf("%-10s %lld\n", k, (long long)json_integer_value(v));
                return;
        }
        if (!json_is_array(v))
                return;
        printf("%-10s %zu", k, json_array_size(v));
        json_array_foreach(v, i, e)
        {
                const char *key = json_is_string(e) ? json_string_value(e)
                                                    : json_string_value(json_object_get(e, "key"));

                printf("%s%s", i ? ", " : ": ", key ? key : "?");
        }
        printf("\n");
}

int cmd_cron_apply(struct cli *cli, struct cli_args *a)
{
        json_t *doc = NULL, *root = NULL;
        char *text = NULL, *body = NULL;
        int rc = cli_read_doc(cli, a, "schedules", "a registry", &doc, &text);

        if (rc != EXIT_OK_)
                goto out;
        if ((a->opt[O_PRUNE] && json_object_set_new(doc, "prune", json_true())) ||
            !(body = dump(doc))) {
                rc = cli_oom(cli);
                goto out;
        }
        rc = cli_call(cli, "PUT", "/v1/cron", body, true, &root);
        if (rc == EXIT_OK_ && !cli->json) {
                apply_member(root, "created");
                apply_member(root, "updated");
                apply_member(root, "unchanged");
                apply_member(root, "deleted");
        }
out:
        json_decref(root);
        json_decref(doc);
        free(body);
        free(text);
        return rc;
}

/* An integer member as text, "-" when absent. */
static const char *int_text(const json_t *o, const char *k, char *buf, size_t cap)
{
        json_t *v = json_object_get(o, k);

        if (!json_is_integer(v))
                return "-";
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
}

/* GET /v1/scheduler (docs/api.md "GET /v1/scheduler") as a block a person
 * reads: who leads, how fresh its heartbeat is, this node's duty timer and
 * the caller's schedules. */
static void print_scheduler(const json_t *s)
{
        const json_t *sk = json_object_get(s, "skipped");
        const char *leader = json_string_value(json_object_get(s, "leader"));
        char a[32], b[32];

        printf("%-18s %s (%s)\n", "node", print_str(s, "node"), print_str(s, "role"));
        if (leader)
                printf("%-18s %s, epoch %s, lease until %s\n", "leader", leader,
                       int_text(s, "epoch", a, sizeof(a)), print_str(s, "lease_until"));
        else
                printf("%-18s none: no node holds a live lease (epoch %s)\n", "leader",
                       int_text(s, "epoch", a, sizeof(a)));
        printf("%-18s %s (%s ms ago)\n", "heartbeat", print_str(s, "heartbeat_at"),
               int_text(s, "heartbeat_age_ms", a, sizeof(a)));
        printf("%-18s %s ms\n", "leader tick lag", int_text(s, "lag_ms", a, sizeof(a)));
        printf("%-18s %s (lag %s ms%s)\n", "last tick here", print_str(s, "last_tick_at"),
               int_text(s, "tick_lag_ms", a, sizeof(a)),
               json_is_true(json_object_get(s, "tick_running")) ? ", running now" : "");
        printf("%-18s %s\n", "next deadline", print_str(s, "next_deadline_at"));
        printf("%-18s %s\n", "fenced", int_text(s, "fenced", a, sizeof(a)));
        printf("%-18s %s\n", "notifications", print_str(s, "notifications"));
        printf("%-18s %s (%s due now), next fire %s\n", "schedules",
               int_text(s, "schedules", a, sizeof(a)), int_text(s, "due", b, sizeof(b)),
               print_str(s, "next_due_at"));
        printf("%-18s overlap %s, misfire %s (ticks since this node started)\n", "skipped",
               int_text(sk, "overlap", a, sizeof(a)), int_text(sk, "misfire", b, sizeof(b)));
}

int cmd_scheduler(struct cli *cli, struct cli_args *a)
{
        json_t *root = NULL;
        int rc;

        (void)a;
        rc = cli_call(cli, "GET", "/v1/scheduler", NULL, true, &root);
        if (rc == EXIT_OK_ && !cli->json)
                print_scheduler(root);
        json_decref(root);
        return rc;
}
