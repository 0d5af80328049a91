/*
 * admin.c: the `baton keys` and `baton audit` commands. Each is one request
 * through cli_call, so --json prints what the server said. Workload: an
 * operator at a terminal or a provisioning script. Secrets: the secret of a
 * created or rotated key is printed once, on stdout, and nowhere else (never
 * on stderr, never in an error message).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Appends the comma-separated scope names of list to arr. Returns -1 when a
 * name is empty or not UTF-8. */
static int add_scopes(json_t *arr, const char *list)
{
        const char *p = list;

        while (*p) {
                const char *e = strchr(p, ',');
                size_t n = e ? (size_t)(e - p) : strlen(p);

                if (n == 0 || json_array_append_new(arr, json_stringn(p, n)))
                        return -1;
                p += n;
                if (*p == ',')
                        p++;
        }
        return 0;
}

/* Prints the answer's key ({"key": {...}}) and, when the answer carries its
 * secret ("secret", beside the key), the secret last and how to use it. */
static void show_key(json_t *root, const char *verb)
{
        json_t *k = json_object_get(root, "key");
        const char *secret = json_string_value(json_object_get(root, "secret"));

        printf("key %s %s\n", json_string_value(json_object_get(k, "id")) ?: "?", verb);
        print_key(k);
        /* The secret comes last, so it is easy to copy and hard to miss. */
        if (secret)
                printf("%-16s %s\n\nThe secret above is shown only once. Use it as BATON_KEY or "
                       "send\n\"Authorization: Bearer <secret>\".\n",
                       "secret", secret);
}

int cmd_keys_create(struct cli *cli, struct cli_args *a)
{
        json_t *req = NULL, *scopes = NULL, *root = NULL;
        long long rmax = 0, rper = 0;
        char *body = NULL;
        int rc = EXIT_USAGE;

        if (cli_opt_count(cli, a, O_RATE_MAX, "--rate-max", 1, LLONG_MAX, &rmax) ||
            cli_opt_count(cli, a, O_RATE_PER, "--rate-per-ms", 1, LLONG_MAX, &rper))
                return EXIT_USAGE;
        if (!a->opt[O_RATE_MAX] != !a->opt[O_RATE_PER])
                return cli_usage_error(cli->prog, a->usage, "%s",
                                       "--rate-max and --rate-per-ms go together");
        req = json_object();
        scopes = json_array();
        if (!req || !scopes)
                goto out;
        if (a->opt[O_SCOPES] && add_scopes(scopes, a->opt[O_SCOPES])) {
                rc = cli_usage_error(cli->prog, a->usage, "bad --scopes list '%s'",
                                     a->opt[O_SCOPES]);
                goto out;
        }
        if (json_object_set_new(req, "name", json_string(a->pos[0])) ||
            json_object_set(req, "scopes", scopes) ||
            (a->opt[O_TENANT] &&
             json_object_set_new(req, "tenant", json_string(a->opt[O_TENANT]))) ||
            (a->opt[O_EXPIRES] &&
             json_object_set_new(req, "expires_at", json_string(a->opt[O_EXPIRES]))) ||
            (a->opt[O_RATE_MAX] &&
             json_object_set_new(
                 req, "rate_limit",
                 json_pack("{s:I,s:I}", "max", (json_int_t)rmax, "per_ms", (json_int_t)rper)))) {
                rc = cli_usage_error(cli->prog, a->usage, "%s", "arguments must be UTF-8 text");
                goto out;
        }
        body = json_dumps(req, JSON_COMPACT);
        if (!body) {
                rc = EXIT_REFUSED;
                goto out;
        }
        rc = cli_call(cli, "POST", "/v1/keys", body, true, &root);
        if (rc == EXIT_OK_ && !cli->json)
                show_key(root, "created");
out:
        json_decref(root);
        json_decref(scopes);
        json_decref(req);
        free(body);
        return rc;
}

int cmd_keys_list(struct cli *cli, struct cli_args *a)
{
        static const struct cli_list list = {
            "keys",
            print_key_table,
            2048,
            {{"tenant", O_TENANT}, {"limit", O_LIMIT}, {"after", O_AFTER}}};
        long long limit;

        if (cli_opt_count(cli, a, O_LIMIT, "--limit", 0, INT32_MAX, &limit))
                return EXIT_USAGE;
        return cli_list(cli, a, "/v1/keys", &list);
}

int cmd_keys_revoke(struct cli *cli, struct cli_args *a)
{
        json_t *root;
        int rc =
            cli_call_on(cli, "DELETE", "/v1/keys/", a->pos[0], NULL, 512, "key id", NULL, &root);

        if (rc == EXIT_OK_ && !cli->json)
                printf("key %s revoked\n", a->pos[0]);
        json_decref(root);
        return rc;
}

int cmd_keys_rotate(struct cli *cli, struct cli_args *a)
{
        json_t *root;
        long long grace = 0;
        char body[64] = "{}";
        int rc;

        if (cli_opt_count(cli, a, O_GRACE, "--grace-ms", 0, LLONG_MAX, &grace))
                return EXIT_USAGE;
        if (a->opt[O_GRACE])
                snprintf(body, sizeof(body), "{\"grace_ms\":%lld}", grace);
        rc =
            cli_call_on(cli, "POST", "/v1/keys/", a->pos[0], "/rotate", 512, "key id", body, &root);
        if (rc == EXIT_OK_ && !cli->json)
                show_key(root, "rotated");
        json_decref(root);
        return rc;
}

int cmd_audit(struct cli *cli, struct cli_args *a)
{
        static const struct cli_list list = {"entries",
                                             print_audit_table,
                                             2048,
                                             {{"action", O_ACTION},
                                              {"key_id", O_KEY_ID},
                                              {"tenant", O_TENANT},
                                              {"limit", O_LIMIT},
                                              {"after", O_AFTER}}};
        long long limit;

        if (cli_opt_count(cli, a, O_LIMIT, "--limit", 0, INT32_MAX, &limit))
                return EXIT_USAGE;
        return cli_list(cli, a, "/v1/audit", &list);
}
