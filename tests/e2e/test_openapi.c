/*
 * test_openapi.c: keeps docs/openapi.json in step with batond's router and with
 * docs/api.md. It runs `$BATOND --routes` (the server prints its route table, one
 * "METHOD /path/{param} scope" per line, with " query=a,b" after it for a
 * route that reads query parameters, and exits 0 without opening a store or a
 * socket) and reads `$BATON_SRC/docs/openapi.json`, then checks that:
 *  - the two sets of (method, path) are equal, printing every difference both
 *    ways (path parameters are compared by position, not by name: "{id}" and
 *    "{job}" are the same route);
 *  - every documented operation has `x-baton-scope`, and it is the scope the
 *    route table (src/server/api.c) makes the route need ("none" for an open
 *    route), printing every difference;
 *  - each route's query parameters (the " query=a,b" of its --routes line:
 *    the route table's list, which the server enforces) are exactly the
 *    query parameters its operation documents (its own and its path's,
 *    $refs resolved);
 *  - the table of query parameters in docs/api.md's "Strict input" lists
 *    exactly the routes that read some, with the same parameters;
 *  - every operation documents 400 unknown_parameter and unknown_field, and
 *    every operation with a request body 415 (docs/api.md, "Strict input");
 *  - every documented operation except the three ops endpoints (/healthz,
 *    /readyz, /metrics) documents at least one 4xx answer;
 *  - every error code of the "Limits and their errors" table of docs/api.md
 *    appears as a string value somewhere in openapi.json (an ErrorCode enum
 *    entry or an answer's x-baton-codes list: the codes that answer can carry;
 *    its schema is the named Error, so that generated clients have one error
 *    type).
 * Assumptions: batond answers --routes within 10 s; the table is a Markdown
 * table whose last column holds the codes in backticks. Nothing here starts a
 * server or touches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "support/harness.h"

#define ROUTES_TIMEOUT_MS 10000
#define SET_MAX 256

/* A set of routes. key[i] is "METHOD /path" with path parameters written "{}"
 * (what is compared); shown[i] is the same route as its source spells it;
 * query[i] the names of its query parameters, sorted and comma-joined ("" for
 * none); scope[i] the scope it needs (NULL when the source gives none). */
struct route_set {
        char *key[SET_MAX];
        char *shown[SET_MAX];
        char *query[SET_MAX];
        char *scope[SET_MAX];
        int n;
};

static struct route_set server_routes;
static struct route_set doc_routes;
static json_t *doc;
static char doc_path[4096];
static char api_md_path[4096];

static const char *const http_methods[] = {"get",     "put",  "post",  "delete",
                                           "options", "head", "patch", "trace"};
static const char *const ops_paths[] = {"/healthz", "/readyz", "/metrics"};

/* Rewrites every "{name}" segment of path as "{}" into out. Returns 0, or -1
 * when out is too small. */
static int normalize_path(const char *path, char *out, size_t cap)
{
        size_t o = 0;

        for (const char *p = path; *p; p++) {
                if (o + 3 > cap)
                        return -1;
                if (*p == '{') {
                        const char *end = strchr(p, '}');
                        if (end) {
                                out[o++] = '{';
                                out[o++] = '}';
                                p = end;
                                continue;
                        }
                }
                out[o++] = *p;
        }
        out[o] = 0;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* names (n of them) sorted and joined with commas into out (cap bytes). */
static void join_sorted(char **names, int n, char *out, size_t cap)
{
        size_t len = 0;

        qsort(names, (size_t)n, sizeof(*names), cmp_str);
        out[0] = 0;
        for (int i = 0; i < n && len < cap; i++) {
                snprintf(out + len, cap - len, "%s%s", i ? "," : "", names[i]);
                len = strlen(out);
        }
}

/* Adds (method, path) with its query parameters (comma-separated, NULL for
 * none) to s unless it is there already. Returns 0, or -1 when the set is
 * full or memory runs out. */
static int set_add(struct route_set *s, const char *method, const char *path, const char *query)
{
        char norm[1024], key[1100], shown[1100], q[1024] = "", *names[64], *save = NULL, *w;
        int nn = 0;
        size_t i;

        snprintf(q, sizeof(q), "%s", query ? query : "");
        for (w = strtok_r(q, ",", &save); w && nn < 64; w = strtok_r(NULL, ",", &save))
                names[nn++] = w;

        if (normalize_path(path, norm, sizeof(norm)) < 0)
                return -1;
        snprintf(key, sizeof(key), "%s %s", method, norm);
        snprintf(shown, sizeof(shown), "%s %s", method, path);
        for (i = 0; key[i] && key[i] != ' '; i++)
                key[i] = shown[i] = (char)toupper((unsigned char)key[i]);
        for (int k = 0; k < s->n; k++)
                if (strcmp(s->key[k], key) == 0)
                        return 0;
        if (s->n == SET_MAX)
                return -1;
        join_sorted(names, nn, norm, sizeof(norm));
        s->key[s->n] = strdup(key);
        s->shown[s->n] = strdup(shown);
        s->query[s->n] = strdup(norm);
        if (!s->key[s->n] || !s->shown[s->n] || !s->query[s->n]) {
                free(s->key[s->n]);
                free(s->shown[s->n]);
                free(s->query[s->n]);
                return -1;
        }
        s->n++;
        return 0;
}

/* The index of key in s, or -1. */
static int set_find(const struct route_set *s, const char *key)
{
        for (int k = 0; k < s->n; k++)
                if (strcmp(s->key[k], key) == 0)
                        return k;
        return -1;
}

static bool set_has(const struct route_set *s, const char *key)
{
        return set_find(s, key) >= 0;
}

static void set_free(struct route_set *s)
{
        for (int k = 0; k < s->n; k++) {
                free(s->key[k]);
                free(s->shown[k]);
                free(s->query[k]);
                free(s->scope[k]);
                s->scope[k] = NULL;
        }
        s->n = 0;
}

/* Gives the route of s keyed like method and path its scope (NULL: none).
 * Returns 0, or -1 when the route is not in s or memory runs out. */
static int set_scope(struct route_set *s, const char *method, const char *path, const char *scope)
{
        char norm[1024], key[1100];
        int k;

        if (normalize_path(path, norm, sizeof(norm)) < 0)
                return -1;
        snprintf(key, sizeof(key), "%s %s", method, norm);
        for (size_t i = 0; key[i] && key[i] != ' '; i++)
                key[i] = (char)toupper((unsigned char)key[i]);
        k = set_find(s, key);
        if (k < 0 || !scope)
                return k < 0 ? -1 : 0;
        free(s->scope[k]);
        s->scope[k] = strdup(scope);
        return s->scope[k] ? 0 : -1;
}

/* Fills server_routes from `$BATOND --routes`. Returns 0 or -1 with a message. */
static int load_server_routes(void)
{
        const char *batond = getenv("BATOND");
        static const char *const args[] = {"--routes", NULL};
        struct harness_run run = {.args = args, .timeout_ms = ROUTES_TIMEOUT_MS};
        char *text, *line, *save = NULL;
        int rc = -1;

        if (!batond || !*batond) {
                fprintf(stderr, "test_openapi: BATOND is not set\n");
                return -1;
        }
        if (harness_run(&run) != 0) {
                fprintf(stderr, "test_openapi: %s --routes did not exit 0 (wait status %d): %s\n",
                        batond, run.status, run.err);
                goto out;
        }
        /* Only stdout: what batond logs on stderr is not part of the table. */
        text = run.out;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char method[32], path[1024], scope[64], query[1024] = "", extra[2];
                size_t n = strlen(line);
                int got;

                while (n > 0 && isspace((unsigned char)line[n - 1]))
                        line[--n] = 0;
                if (n == 0)
                        continue;
                /* "METHOD /path scope" and, when the route reads any, " query=a,b". */
                got = sscanf(line, "%31s %1023s %63s query=%1023s %1s", method, path, scope, query,
                             extra);
                if ((got != 3 && got != 4) || path[0] != '/' || strchr(scope, '=')) {
                        fprintf(stderr, "test_openapi: unexpected --routes line: \"%s\"\n", line);
                        goto out;
                }
                if (set_add(&server_routes, method, path, query) < 0 ||
                    set_scope(&server_routes, method, path, scope) < 0)
                        goto out;
        }
        rc = 0;
out:
        harness_run_free(&run);
        return rc;
}

static bool is_ops_path(const char *path)
{
        for (size_t i = 0; i < sizeof(ops_paths) / sizeof(ops_paths[0]); i++)
                if (strcmp(path, ops_paths[i]) == 0)
                        return true;
        return false;
}

/* A parameter object, or the components/parameters entry its $ref names. */
static json_t *param_resolve(json_t *p)
{
        const char *ref = json_string_value(json_object_get(p, "$ref"));
        const char *pre = "#/components/parameters/";

        if (!ref)
                return p;
        if (strncmp(ref, pre, strlen(pre)) != 0)
                return NULL;
        return json_object_get(jpath(doc, "components.parameters"), ref + strlen(pre));
}

/* The names of the query parameters of op (its own and its path item's),
 * comma-joined into out (set_add sorts them). */
static void doc_query(json_t *item, json_t *op, char *out, size_t cap)
{
        json_t *lists[2] = {json_object_get(item, "parameters"), json_object_get(op, "parameters")};
        size_t len = 0, i;
        json_t *p;

        out[0] = 0;
        for (int l = 0; l < 2; l++) {
                json_array_foreach(lists[l], i, p)
                {
                        json_t *r = param_resolve(p);
                        const char *in = json_string_value(json_object_get(r, "in"));
                        const char *name = json_string_value(json_object_get(r, "name"));

                        if (!in || !name || strcmp(in, "query") != 0 || len >= cap)
                                continue;
                        snprintf(out + len, cap - len, "%s%s", len ? "," : "", name);
                        len = strlen(out);
                }
        }
}

/* Fills doc and doc_routes from docs/openapi.json. Returns 0 or -1. */
static int load_document(void)
{
        json_error_t jerr;
        json_t *paths, *item;
        const char *path;

        doc = json_load_file(doc_path, 0, &jerr);
        if (!doc) {
                fprintf(stderr, "test_openapi: %s:%d:%d: %s\n", doc_path, jerr.line, jerr.column,
                        jerr.text);
                return -1;
        }
        paths = json_object_get(doc, "paths");
        if (!json_is_object(paths)) {
                fprintf(stderr, "test_openapi: %s has no \"paths\" object\n", doc_path);
                return -1;
        }
        json_object_foreach(paths, path, item)
        {
                for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
                        json_t *op = json_object_get(item, http_methods[i]);
                        char query[1024];

                        if (!op)
                                continue;
                        doc_query(item, op, query, sizeof(query));
                        if (set_add(&doc_routes, http_methods[i], path, query) < 0 ||
                            set_scope(&doc_routes, http_methods[i], path,
                                      json_string_value(json_object_get(op, "x-baton-scope"))) < 0)
                                return -1;
                }
        }
        return 0;
}

static int setup(void **state)
{
        const char *src = getenv("BATON_SRC");

        (void)state;
        if (!src || !*src) {
                fprintf(stderr, "test_openapi: BATON_SRC is not set\n");
                return -1;
        }
        snprintf(doc_path, sizeof(doc_path), "%s/docs/openapi.json", src);
        snprintf(api_md_path, sizeof(api_md_path), "%s/docs/api.md", src);
        return load_document();
}

static int teardown(void **state)
{
        (void)state;
        set_free(&server_routes);
        set_free(&doc_routes);
        json_decref(doc);
        doc = NULL;
        return 0;
}

static void routes_match_document(void **state)
{
        int missing = 0;

        (void)state;
        assert_int_equal(load_server_routes(), 0);
        for (int i = 0; i < server_routes.n; i++) {
                if (set_has(&doc_routes, server_routes.key[i]))
                        continue;
                fprintf(stderr, "route not in openapi.json: %s\n", server_routes.shown[i]);
                missing++;
        }
        for (int i = 0; i < doc_routes.n; i++) {
                if (set_has(&server_routes, doc_routes.key[i]))
                        continue;
                fprintf(stderr, "documented route the server lacks: %s\n", doc_routes.shown[i]);
                missing++;
        }
        /* An empty table on both sides would compare equal and prove nothing. */
        assert_true(server_routes.n > 0);
        assert_int_equal(missing, 0);
        assert_int_equal(server_routes.n, doc_routes.n);
}

/* Every operation's x-baton-scope against the scope its route needs in the
 * route table: one documented with another scope (or none) fails, so a scope
 * changed in src/server/api.c must change in the document too. */
static void scopes_match_route_table(void **state)
{
        int bad = 0, compared = 0;

        (void)state;
        if (server_routes.n == 0)
                assert_int_equal(load_server_routes(), 0);
        for (int i = 0; i < doc_routes.n; i++) {
                int k = set_find(&server_routes, doc_routes.key[i]);

                if (!doc_routes.scope[i]) {
                        fprintf(stderr, "%s has no x-baton-scope (the route table says %s)\n",
                                doc_routes.shown[i], k >= 0 ? server_routes.scope[k] : "nothing");
                        bad++;
                        continue;
                }
                if (k < 0)
                        continue; /* routes_match_document reports it */
                compared++;
                if (strcmp(doc_routes.scope[i], server_routes.scope[k]) != 0) {
                        fprintf(stderr, "%s: x-baton-scope \"%s\", the route table needs \"%s\"\n",
                                doc_routes.shown[i], doc_routes.scope[i], server_routes.scope[k]);
                        bad++;
                }
        }
        assert_true(compared > 0);
        assert_int_equal(bad, 0);
}

/* Every route's query parameters (the route table's `query` list, which
 * http.c enforces) are exactly those its operation documents. */
static void query_parameters_match(void **state)
{
        int bad = 0;

        (void)state;
        if (server_routes.n == 0)
                assert_int_equal(load_server_routes(), 0);
        for (int i = 0; i < server_routes.n; i++) {
                int k = set_find(&doc_routes, server_routes.key[i]);

                if (k < 0 || strcmp(server_routes.query[i], doc_routes.query[k]) == 0)
                        continue;
                fprintf(stderr,
                        "%s: the server reads query parameters \"%s\", openapi.json "
                        "documents \"%s\"\n",
                        server_routes.shown[i], server_routes.query[i], doc_routes.query[k]);
                bad++;
        }
        /* Some routes read parameters: none at all means the parse broke. */
        for (int i = 0, any = 0; i <= server_routes.n; i++) {
                if (i == server_routes.n) {
                        assert_true(any);
                        break;
                }
                any = any || server_routes.query[i][0];
        }
        assert_int_equal(bad, 0);
}

static int collect_strings(json_t *v, json_t *out);

static char *read_text(const char *path);

/* Fills t from the table "| route | query parameters |" of docs/api.md's
 * "## Strict input": each row "| `METHOD /path` | `a` `b` |". Returns the
 * number of rows, or -1 when the section or its table is missing. */
static int strict_table(char *md, struct route_set *t)
{
        char *sec = strstr(md, "\n## Strict input"), *line, *save = NULL;
        int rows = 0;

        if (!sec || !strstr(sec, "| route | query parameters |"))
                return -1;
        line = strtok_r(strstr(sec, "| route | query parameters |"), "\n", &save);
        for (line = strtok_r(NULL, "\n", &save); line && line[0] == '|';
             line = strtok_r(NULL, "\n", &save)) {
                char method[16], path[512], names[1024] = "", *cell, *p, *end;
                size_t len = 0;

                if (strncmp(line, "|---", 4) == 0)
                        continue;
                if (sscanf(line, "| `%15s %511[^`]` |", method, path) != 2)
                        return -1;
                cell = strchr(line + 1, '|');
                for (p = cell ? strchr(cell, '`') : NULL; p && (end = strchr(p + 1, '`'));
                     p = strchr(end + 1, '`')) {
                        snprintf(names + len, sizeof(names) - len, "%s%.*s", len ? "," : "",
                                 (int)(end - p - 1), p + 1);
                        len = strlen(names);
                }
                if (set_add(t, method, path, names) < 0)
                        return -1;
                rows++;
        }
        return rows;
}

/* docs/api.md's table of query parameters lists exactly the routes that
 * read some, each with the parameters the route table gives it. */
static void api_md_query_table(void **state)
{
        struct route_set t = {0};
        char *md = read_text(api_md_path);
        int bad = 0, with = 0;

        (void)state;
        if (!md)
                fail_msg("cannot read %s", api_md_path);
        if (server_routes.n == 0)
                assert_int_equal(load_server_routes(), 0);
        assert_true(strict_table(md, &t) > 0);
        for (int i = 0; i < server_routes.n; i++) {
                int k = set_find(&t, server_routes.key[i]);

                if (!server_routes.query[i][0] && k < 0)
                        continue;
                with++;
                if (k >= 0 && strcmp(t.query[k], server_routes.query[i]) == 0)
                        continue;
                fprintf(stderr,
                        "docs/api.md Strict input: %s reads \"%s\", the table says \"%s\"\n",
                        server_routes.shown[i], server_routes.query[i], k >= 0 ? t.query[k] : "-");
                bad++;
        }
        if (with != t.n) {
                fprintf(stderr, "docs/api.md Strict input lists %d routes, %d read parameters\n",
                        t.n, with);
                bad++;
        }
        set_free(&t);
        free(md);
        assert_int_equal(bad, 0);
}

/* The codes of the 400 answer of op (its x-baton-codes list), as a set in
 * out. */
static void codes_400(json_t *op, json_t *out)
{
        json_t *r = jpath(op, "responses.400");

        if (r)
                collect_strings(json_object_get(r, "x-baton-codes"), out);
}

/* Strict input on every operation: a 400 with unknown_parameter (any
 * route refuses a parameter it does not read) and unknown_field (a body
 * member it does not know), and a 415 on every operation with a body. */
static void operations_document_strict_input(void **state)
{
        json_t *paths = json_object_get(doc, "paths"), *item;
        const char *path;
        int bad = 0;

        (void)state;
        json_object_foreach(paths, path, item)
        {
                for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
                        json_t *op = json_object_get(item, http_methods[i]);
                        json_t *codes = json_object();

                        if (!op) {
                                json_decref(codes);
                                continue;
                        }
                        codes_400(op, codes);
                        for (int c = 0; c < 2; c++) {
                                const char *code = c ? "unknown_field" : "unknown_parameter";
                                if (json_object_get(codes, code))
                                        continue;
                                fprintf(stderr, "%s %s: no 400 %s\n", http_methods[i], path, code);
                                bad++;
                        }
                        if (json_object_get(op, "requestBody") && !jpath(op, "responses.415")) {
                                fprintf(stderr, "%s %s takes a body and documents no 415\n",
                                        http_methods[i], path);
                                bad++;
                        }
                        json_decref(codes);
                }
        }
        assert_int_equal(bad, 0);
}

static void operations_document_4xx(void **state)
{
        json_t *paths = json_object_get(doc, "paths"), *item;
        const char *path;
        int bad = 0, ops = 0;

        (void)state;
        json_object_foreach(paths, path, item)
        {
                for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
                        json_t *op = json_object_get(item, http_methods[i]);
                        json_t *responses = json_object_get(op, "responses");
                        const char *status;
                        json_t *r;
                        bool has_4xx = false;

                        if (!op)
                                continue;
                        ops++;
                        if (is_ops_path(path))
                                continue;
                        json_object_foreach(responses, status, r)
                        {
                                (void)r;
                                if (status[0] == '4')
                                        has_4xx = true;
                        }
                        if (!has_4xx) {
                                fprintf(stderr, "%s %s documents no 4xx answer\n", http_methods[i],
                                        path);
                                bad++;
                        }
                }
        }
        assert_true(ops > 0);
        assert_int_equal(bad, 0);
}

/* Adds every string value of v (recursively, object keys excluded) to out. */
static int collect_strings(json_t *v, json_t *out)
{
        const char *k;
        json_t *e;
        size_t i;

        if (json_is_string(v))
                return json_object_set_new(out, json_string_value(v), json_true());
        if (json_is_object(v)) {
                json_object_foreach(v, k, e)
                {
                        if (collect_strings(e, out) < 0)
                                return -1;
                }
        } else if (json_is_array(v)) {
                json_array_foreach(v, i, e)
                {
                        if (collect_strings(e, out) < 0)
                                return -1;
                }
        }
        return 0;
}

/* Reads path into a NUL-terminated string owned by the caller, or NULL. */
static char *read_text(const char *path)
{
        FILE *f = fopen(path, "r");
        char *buf = NULL;
        long n;

        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
                buf = malloc((size_t)n + 1);
                if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                        free(buf);
                        buf = NULL;
                }
                if (buf)
                        buf[n] = 0;
        }
        fclose(f);
        return buf;
}

/*
 * Adds to codes (an object used as a set) every `code` in backticks in the last
 * cell of each row of the table under "## Limits and their errors" in md.
 * Returns 0, or -1 when the section or its table is missing.
 */
static int limit_table_codes(char *md, json_t *codes)
{
        char *sec = strstr(md, "\n## Limits and their errors");
        char *line, *save = NULL;
        int rows = 0;

        if (!sec)
                return -1;
        sec++;
        line = strtok_r(sec, "\n", &save); /* the heading */
        for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *last, *p;

                if (strncmp(line, "## ", 3) == 0)
                        break;
                if (line[0] != '|')
                        continue;
                rows++;
                /* The last cell: between the last two '|' of the row. */
                p = line + strlen(line);
                while (p > line && (p[-1] == ' ' || p[-1] == '|'))
                        *--p = 0;
                last = strrchr(line, '|');
                if (!last)
                        continue;
                for (p = strchr(last, '`'); p; p = strchr(p, '`')) {
                        char *end = strchr(p + 1, '`');
                        bool is_code = end && end > p + 1;

                        if (!end)
                                break;
                        *end = 0;
                        for (char *c = p + 1; *c && is_code; c++)
                                if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) ||
                                      *c == '_'))
                                        is_code = false;
                        if (is_code && json_object_set_new(codes, p + 1, json_true()) < 0)
                                return -1;
                        p = end + 1;
                }
        }
        return rows > 2 ? 0 : -1;
}

static void limit_error_codes_documented(void **state)
{
        json_t *strings = json_object(), *codes = json_object(), *v;
        char *md = read_text(api_md_path);
        const char *code;
        int missing = 0;

        (void)state;
        assert_non_null(strings);
        assert_non_null(codes);
        if (!md)
                fail_msg("cannot read %s", api_md_path);
        assert_int_equal(collect_strings(doc, strings), 0);
        assert_int_equal(limit_table_codes(md, codes), 0);
        /* The table names more than a dozen codes; far fewer means the parse broke. */
        assert_true(json_object_size(codes) >= 10);
        json_object_foreach(codes, code, v)
        {
                if (json_object_get(strings, code))
                        continue;
                fprintf(stderr,
                        "error code of docs/api.md's limits table not in openapi.json: %s\n", code);
                missing++;
        }
        free(md);
        json_decref(strings);
        json_decref(codes);
        assert_int_equal(missing, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(routes_match_document),
            cmocka_unit_test(scopes_match_route_table),
            cmocka_unit_test(query_parameters_match),
            cmocka_unit_test(operations_document_strict_input),
            cmocka_unit_test(api_md_query_table),
            cmocka_unit_test(operations_document_4xx),
            cmocka_unit_test(limit_error_codes_documented),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
