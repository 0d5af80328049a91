/*
 * errors.c: how the baton command reports a failure. Without --json an error
 * is one line on stderr, "baton: message"; with --json it is one JSON object
 * on stderr in the server's error shape, {"error": {"code", "message",
 * "field"}}, whether the server refused the request or the command line was
 * wrong (code "usage"), the server could not be reached ("unreachable"), its
 * answer made no sense ("bad_answer"), memory ran out ("internal") or a
 * waited-for job did not complete ("job_not_completed"). stdout keeps only
 * results, so `baton --json ... | jq` never reads an error as an answer.
 *
 * The server names the request field at fault ("max_attempts"); the user
 * typed a flag (--max-attempts) or an argument (QUEUE). cli_field_name turns
 * one into the other for the command that ran, and the server's message is
 * rewritten to speak of the flag. Workload: at most a few errors per process;
 * the mode is a process-wide switch set once, before anything can fail.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static bool json_errors;

void cli_errors_json(bool on)
{
        json_errors = on;
}

bool cli_errors_are_json(void)
{
        return json_errors;
}

/* Prints {"error": {...}} on stderr; falls back to text when memory is short. */
static void print_json_error(const char *prog, const char *code, const char *field, const char *msg)
{
        json_t *o =
            json_pack("{s:{s:s,s:s,s:s?}}", "error", "code", code, "message", msg, "field", field);
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

        if (text)
                fprintf(stderr, "%s\n", text);
        else
                fprintf(stderr, "%s: %s\n", prog, msg);
        free(text);
        json_decref(o);
}

void cli_verror(const char *prog, const char *code, const char *field, const char *fmt, va_list ap)
{
        char msg[2048];

        vsnprintf(msg, sizeof(msg), fmt, ap);
        if (json_errors)
                print_json_error(prog, code, field, msg);
        else
                fprintf(stderr, "%s: %s\n", prog, msg);
}

void cli_error(const char *prog, const char *code, const char *field, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        cli_verror(prog, code, field, fmt, ap);
        va_end(ap);
}

/* Exceptions to the rule that a field is its flag with '-' for '_' (or its
 * argument in capitals): members of an object the command builds from one or
 * two flags, and the ids a replay takes as arguments. */
static const struct {
        const char *field, *flag;
} field_flags[] = {
    {"rate_limit.max", "--rate-max"}, {"rate_limit.per_ms", "--rate-per-ms"},
    {"rate_limit", "--rate-max"},     {"job.queue", "--queue"},
    {"job.type", "--type"},           {"ids", "ID"},
};

/* Copies s[0, n) into out (cap bytes) with '_' written '-' after "--". */
static void as_flag(const char *s, size_t n, char *out, size_t cap)
{
        size_t o = 0;

        for (size_t i = 0; i < 2 && o + 1 < cap; i++)
                out[o++] = '-';
        for (size_t i = 0; i < n && o + 1 < cap; i++)
                out[o++] = s[i] == '_' ? '-' : s[i];
        out[o] = '\0';
}

/* True when the usage line of c has word (an argument such as QUEUE) as a
 * word of its own. */
static bool usage_has_word(const struct cli_cmd *c, const char *word)
{
        size_t n = strlen(word);

        for (const char *p = strstr(c->usage, word); p; p = strstr(p + 1, word)) {
                bool before = p == c->usage || !isalnum((unsigned char)p[-1]);
                bool after = !isalnum((unsigned char)p[n]) && p[n] != '_';

                if (before && after)
                        return true;
        }
        return false;
}

/* True when c takes name: an option ("--queue") or an argument ("ID"). */
static bool takes(const struct cli_cmd *c, const char *name)
{
        return name[0] == '-' ? cli_takes_flag(c, name) : usage_has_word(c, name);
}

/* The flag of c that sets field (up to its first '[' or '.', or one of the
 * exceptions), or the argument of its usage line; NULL when none. */
static const char *flag_of(const struct cli_cmd *c, const char *field, char *buf, size_t cap)
{
        size_t n = strcspn(field, "[");
        size_t base = strcspn(field, ".[");
        char word[64];

        for (size_t i = 0; i < sizeof(field_flags) / sizeof(field_flags[0]); i++)
                if (strlen(field_flags[i].field) == n &&
                    strncmp(field, field_flags[i].field, n) == 0 && takes(c, field_flags[i].flag))
                        return field_flags[i].flag;
        as_flag(field, base, buf, cap);
        if (cli_takes_flag(c, buf))
                return buf;
        if (base == 0 || base >= sizeof(word))
                return NULL;
        for (size_t i = 0; i < base; i++)
                word[i] = (char)toupper((unsigned char)field[i]);
        word[base] = '\0';
        if (!usage_has_word(c, word))
                return NULL;
        snprintf(buf, cap, "%s", word);
        return buf;
}

const char *cli_field_name(const struct cli_cmd *c, const char *field, char *out, size_t cap)
{
        char flag[64];
        const char *f, *idx;

        if (!c || !field || !*field || !(f = flag_of(c, field, flag, sizeof(flag))))
                return NULL;
        /* depends_on[1] is the second id of --depends-on; scopes[0] the first
         * name of --scopes. */
        idx = strchr(field, '[');
        if (idx && isdigit((unsigned char)idx[1]))
                snprintf(out, cap, "%s item %ld", f, strtol(idx + 1, NULL, 10) + 1);
        else
                snprintf(out, cap, "%s", f);
        return out;
}

/* Writes msg into out with each whole occurrence of field replaced by name
 * (the server's sentences name the field they are about). */
static void speak_in_flags(const char *msg, const char *field, const char *name, char *out,
                           size_t cap)
{
        size_t o = 0, n = strlen(field);
        bool replaced = false;

        for (const char *p = msg; *p && o + 1 < cap;) {
                bool starts = p == msg || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' ||
                                            p[-1] == '.' || p[-1] == '-');
                bool ends = !(isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '[' ||
                              (p[n] == '.' && isalnum((unsigned char)p[n + 1])));

                if (starts && strncmp(p, field, n) == 0 && ends) {
                        int w = snprintf(out + o, cap - o, "%s", name);
                        o = w > 0 && (size_t)w < cap - o ? o + (size_t)w : cap - 1;
                        p += n;
                        replaced = true;
                        continue;
                }
                out[o++] = *p++;
        }
        out[o] = '\0';
        if (!replaced)
                snprintf(out + o, cap - o, " (%s)", name);
}

/* Writes msg into out with each member the sentence quotes as JSON
 * ("\"force\": true starts another") written as the command's flag for it
 * ("--force starts another"); members the command has no flag for stay. */
static void quoted_flags(const struct cli_cmd *c, const char *msg, char *out, size_t cap)
{
        size_t o = 0;

        for (const char *p = msg; *p && o + 1 < cap;) {
                const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
                char name[64], flag[64];
                const char *f = NULL;
                size_t n = end ? (size_t)(end - p - 1) : 0;

                if (n > 0 && n < sizeof(name)) {
                        memcpy(name, p + 1, n);
                        name[n] = '\0';
                        f = flag_of(c, name, flag, sizeof(flag));
                }
                if (!f || f[0] != '-') {
                        out[o++] = *p++;
                        continue;
                }
                p = end + 1;
                /* A boolean flag stands for "name": true. */
                if (strncmp(p, ": true", 6) == 0)
                        p += 6;
                int w = snprintf(out + o, cap - o, "%s", f);
                o = w > 0 && (size_t)w < cap - o ? o + (size_t)w : cap - 1;
        }
        out[o] = '\0';
}

void cli_server_error(const struct cli *cli, const char *what, const struct baton_error *e,
                      int status)
{
        const char *code = e->code[0] ? e->code : "error";
        const char *msg = e->message[0] ? e->message : "request refused";
        char name[96], text[2048], flat[2048];
        size_t o;
        const char *shown = cli_field_name(cli->cmd, e->field, name, sizeof(name));

        if (cli->cmd)
                quoted_flags(cli->cmd, msg, flat, sizeof(flat));
        else
                snprintf(flat, sizeof(flat), "%s", msg);
        /* what fits: it is one of the command's own short phrases. */
        o = what ? (size_t)snprintf(text, 64, "%.60s: ", what) : 0;
        if (shown)
                speak_in_flags(flat, e->field, shown, text + o, sizeof(text) - o);
        else
                snprintf(text + o, sizeof(text) - o, "%s", flat);
        if (json_errors) {
                print_json_error(cli->prog, code, shown ? shown : (e->field[0] ? e->field : NULL),
                                 text);
                return;
        }
        if (shown)
                fprintf(stderr, "%s: %s (%s, %s %s, HTTP %d)\n", cli->prog, text, code,
                        shown[0] == '-' ? "option" : "argument", shown, status);
        else
                fprintf(stderr, "%s: %s (%s%s%s, HTTP %d)\n", cli->prog, text, code,
                        e->field[0] ? ", field " : "", e->field, status);
}
