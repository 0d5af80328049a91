/*
 * conn.c: how the baton command reaches batond: the server URL (--url,
 * $BATON_URL, then the default) and the API key (--key-file, $BATON_KEY, then
 * the admin.key batond writes beside its data), the libbaton client built from
 * them, and the one-request helper every command uses, which prints the
 * server's refusal and maps it to the exit-code contract; also the path and
 * query builders and count parsing the commands share. Workload: a few
 * requests per process. Assumes one client per process (work.c makes a second
 * one for its claimer thread).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define KEY_FILE_MAX_BYTES 4096

int cli_oom(const struct cli *cli)
{
        cli_error(cli->prog, "internal", NULL, "out of memory");
        return EXIT_REFUSED;
}

int cli_exit_for(int rc, int http_status)
{
        if (rc == 0 && http_status >= 200 && http_status < 300)
                return EXIT_OK_;
        if (rc == BATON_EHTTP || http_status >= 500)
                return EXIT_UNREACHABLE;
        if (rc == BATON_EAUTH || rc == BATON_EFORBIDDEN || http_status == 401 || http_status == 403)
                return EXIT_AUTH;
        if (rc == BATON_ERATE || http_status == 429)
                return EXIT_RATE;
        return EXIT_REFUSED;
}

/* What a person may do about a refusal: where the key comes from, when to
 * try again. */
static void refusal_hints(const struct cli *cli, const struct baton_error *e, int status)
{
        if (status == 401)
                fprintf(stderr,
                        "%s: %s; set BATON_KEY or run beside batond's data directory "
                        "(BATON_DATA)\n",
                        cli->prog,
                        cli->key ? "the API key was not accepted" : "no API key was found");
        if (e->retry_after_s >= 0 && (status == 429 || status >= 500))
                fprintf(stderr, "%s: retry after %lld s\n", cli->prog, (long long)e->retry_after_s);
}

int cli_call(struct cli *cli, const char *method, const char *path, const char *body,
             bool print_json, json_t **root)
{
        const struct baton_error *e;
        char *resp = NULL;
        int status = 0, rc, ret = EXIT_OK_;

        if (root)
                *root = NULL;
        rc = baton_request(cli->client, method, path, body, &status, &resp);
        e = baton_client_last_error(cli->client);
        if (rc == BATON_EHTTP) {
                cli_error(cli->prog, "unreachable", NULL, "cannot reach server at %s: %s", cli->url,
                          e->message);
                ret = EXIT_UNREACHABLE;
                goto out;
        }
        if (rc) {
                cli_error(cli->prog, "internal", NULL, "%s", baton_strerror(rc));
                ret = EXIT_REFUSED;
                goto out;
        }
        if (status < 200 || status >= 300) {
                cli_server_error(cli, NULL, e, status);
                /* With --json the error object is all a script reads. */
                if (!cli_errors_are_json())
                        refusal_hints(cli, e, status);
                ret = cli_exit_for(baton_err_from_api(status, e->code), status);
                goto out;
        }
        if (root) {
                *root = json_loads(resp, 0, NULL);
                if (!json_is_object(*root)) {
                        cli_error(cli->prog, "bad_answer", NULL,
                                  "unexpected answer from server: %s", resp);
                        json_decref(*root);
                        *root = NULL;
                        ret = EXIT_REFUSED;
                        goto out;
                }
        }
        if (cli->json && print_json) {
                size_t n = strlen(resp);

                fwrite(resp, 1, n, stdout);
                if (n == 0 || resp[n - 1] != '\n')
                        fputc('\n', stdout);
        }
out:
        free(resp);
        return ret;
}

int cli_call_on(struct cli *cli, const char *method, const char *prefix, const char *id,
                const char *suffix, size_t cap, const char *what, const char *body, json_t **root)
{
        char path[4096];

        *root = NULL;
        if (cap > sizeof(path) || cli_make_path(path, cap, prefix, id, suffix))
                return cli_usage_error(cli->prog, NULL, "%s too long: %s", what, id);
        return cli_call(cli, method, path, body, true, root);
}

/* Appends s percent-encoded to path (capacity cap). Returns -1 on overflow. */
static int path_add(char *path, size_t cap, const char *s, bool escape)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t len = strlen(path);

        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                bool plain = !escape || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                             (ch >= '0' && ch <= '9') || strchr("-._~:", ch);

                if (len + 4 >= cap)
                        return -1;
                if (plain) {
                        path[len++] = (char)ch;
                } else {
                        path[len++] = '%';
                        path[len++] = hex[ch >> 4];
                        path[len++] = hex[ch & 15];
                }
        }
        path[len] = '\0';
        return 0;
}

int cli_make_path(char *path, size_t cap, const char *prefix, const char *seg, const char *suffix)
{
        path[0] = '\0';
        if (path_add(path, cap, prefix, false) || (seg && path_add(path, cap, seg, true)) ||
            (suffix && path_add(path, cap, suffix, false)))
                return -1;
        return 0;
}

int cli_add_query(char *path, size_t cap, const char *k, const char *v)
{
        if (!v)
                return 0;
        if (path_add(path, cap, strchr(path, '?') ? "&" : "?", false) ||
            path_add(path, cap, k, false) || path_add(path, cap, "=", false) ||
            path_add(path, cap, v, true))
                return -1;
        return 0;
}

int cli_parse_count(const char *s, long long *out)
{
        char *end;

        errno = 0;
        *out = strtoll(s, &end, 10);
        if (errno || end == s || *end || *out < 0)
                return -1;
        return 0;
}

int cli_opt_count(struct cli *cli, struct cli_args *a, enum cli_opt o, const char *name,
                  long long min, long long max, long long *out)
{
        long long v;

        if (!a->opt[o])
                return EXIT_OK_;
        if (cli_parse_count(a->opt[o], &v) != 0 || v < min || v > max)
                return cli_flag_error(cli->prog, a->usage, name,
                                      "%s needs an integer in %lld...%lld, not '%s'", name, min,
                                      max, a->opt[o]);
        *out = v;
        return EXIT_OK_;
}

int cli_get_page(struct cli *cli, const char *path, const char *member,
                 void (*print_table)(const json_t *))
{
        json_t *root = NULL;
        int rc = cli_call(cli, "GET", path, NULL, true, &root);

        if (rc == EXIT_OK_ && !cli->json) {
                print_table(json_object_get(root, member));
                print_next(root);
        }
        json_decref(root);
        return rc;
}

int cli_list(struct cli *cli, struct cli_args *a, const char *base, const struct cli_list *l)
{
        char path[4096];
        size_t cap = l->path_max < sizeof(path) ? l->path_max : sizeof(path);

        if (strlen(base) >= cap)
                return cli_usage_error(cli->prog, NULL, "%s", "arguments too long");
        snprintf(path, sizeof(path), "%s", base);
        for (size_t i = 0; i < sizeof(l->query) / sizeof(l->query[0]) && l->query[i].name; i++)
                if (cli_add_query(path, cap, l->query[i].name, a->opt[l->query[i].opt]))
                        return cli_usage_error(cli->prog, NULL, "%s", "arguments too long");
        return cli_get_page(cli, path, l->member, l->print_table);
}

/*
 * Reads an API key from path into *out (caller frees), trimming whitespace.
 * Returns 0 (with *out NULL when the file does not exist and missing_ok), or
 * EXIT_USAGE after printing why the file cannot be used.
 */
static int read_key_file(const char *prog, const char *path, bool missing_ok, char **out)
{
        char buf[KEY_FILE_MAX_BYTES + 1];
        size_t n, s = 0;
        FILE *f;

        *out = NULL;
        f = fopen(path, "r");
        if (!f) {
                if (errno == ENOENT && missing_ok)
                        return 0;
                cli_error(prog, "usage", "--key-file", "cannot read key file %s: %s", path,
                          strerror(errno));
                return EXIT_USAGE;
        }
        n = fread(buf, 1, KEY_FILE_MAX_BYTES, f);
        fclose(f);
        buf[n] = '\0';
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t'))
                buf[--n] = '\0';
        while (buf[s] == ' ' || buf[s] == '\t' || buf[s] == '\n' || buf[s] == '\r')
                s++;
        if (!buf[s]) {
                cli_error(prog, "usage", "--key-file", "key file %s is empty", path);
                return EXIT_USAGE;
        }
        *out = strdup(buf + s);
        if (!*out) {
                cli_error(prog, "internal", NULL, "out of memory");
                return EXIT_USAGE;
        }
        return 0;
}

/* Finds the API key: --key-file, $BATON_KEY, $BATON_DATA/admin.key, then
 * ./baton-data/admin.key. No key at all is not an error. */
static int find_key(struct cli *cli, const char *key_file)
{
        const char *env = getenv("BATON_KEY"), *data = getenv("BATON_DATA");
        char path[PATH_MAX];
        int rc;

        if (key_file) {
                cli->key_from = key_file;
                return read_key_file(cli->prog, key_file, false, &cli->key);
        }
        if (env && *env) {
                cli->key_from = "$BATON_KEY";
                cli->key = strdup(env);
                return cli->key ? 0 : EXIT_USAGE;
        }
        if (snprintf(path, sizeof(path), "%s/%s", data && *data ? data : DEFAULT_DATA_DIR,
                     KEY_FILE_NAME) >= (int)sizeof(path))
                return 0;
        rc = read_key_file(cli->prog, path, true, &cli->key);
        if (rc == 0 && cli->key)
                cli->key_from = "admin.key";
        return rc;
}

int cli_connect(struct cli *cli, struct cli_global *gl)
{
        int rc;

        if (gl->url) {
                cli->url = gl->url;
        } else {
                const char *env = getenv("BATON_URL");

                cli->url = env && *env ? env : DEFAULT_URL;
        }
        rc = find_key(cli, gl->key_file);
        if (rc != EXIT_OK_)
                return rc;
        if (baton_client_new(cli->url, cli->key, &cli->client) != 0)
                return cli_usage_error(cli->prog, NULL, "invalid server URL %s", cli->url);
        if (!gl->ca_file && getenv("BATON_CA_FILE") && *getenv("BATON_CA_FILE"))
                gl->ca_file = getenv("BATON_CA_FILE");
        if (gl->ca_file && baton_client_set_ca_file(cli->client, gl->ca_file) != 0)
                return cli_usage_error(cli->prog, NULL, "out of memory");
        return EXIT_OK_;
}
