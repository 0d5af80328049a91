/*
 * test_job_doc.c: the job object as the documents show it against what batond
 * answers. A real batond (SQLite, and PostgreSQL as job_doc_pg) answers
 * GET /v1/jobs/{id}; its members, in their order, must be exactly:
 *  - the members of the example in docs/api.md "## The job object" (the first
 *    ```json block of that section), in the same order;
 *  - the members named in that section's "| member | meaning |" table (a row
 *    may name several, "`queue`, `type`");
 *  - the `required` list and the `properties` of the Job schema of
 *    docs/openapi.json;
 *  - the job of the enqueue answer in the README's worked example (the first
 *    ```json block after "**Enqueue**"), in the same order.
 * A claim's job must be the same members plus `lease`, and a claim of a job
 * with parents adds `parents`: both must be properties of ClaimedJob.
 * Assumptions: the documents are in $BATON_SRC; jansson keeps the members of
 * a parsed object in their order (it does since 2.8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/harness.h"

#define MEMBERS_MAX 64

static struct harness srv;
static struct baton_client *cl;

/* Member names, in order. */
struct names {
        char *v[MEMBERS_MAX];
        int n;
};

static void names_add(struct names *s, const char *name)
{
        assert_true(s->n < MEMBERS_MAX);
        s->v[s->n] = strdup(name);
        assert_non_null(s->v[s->n]);
        s->n++;
}

static void names_free(struct names *s)
{
        for (int i = 0; i < s->n; i++)
                free(s->v[i]);
        s->n = 0;
}

static bool names_has(const struct names *s, const char *name)
{
        for (int i = 0; i < s->n; i++)
                if (strcmp(s->v[i], name) == 0)
                        return true;
        return false;
}

/* The member names of object o, in order. */
static void names_of(const json_t *o, struct names *out)
{
        const char *k;
        json_t *v;

        assert_true(json_is_object(o));
        json_object_foreach((json_t *)o, k, v)
        {
                (void)v;
                names_add(out, k);
        }
}

/* Prints every name of want (the server's) missing from got (a document's)
 * and every name of got missing from want; with ordered, and the same names
 * on both sides, also the first position where the orders differ. Returns
 * the number of differences. */
static int names_diff(const char *what, const struct names *want, const struct names *got,
                      bool ordered)
{
        int d = 0;

        for (int i = 0; i < want->n; i++)
                if (!names_has(got, want->v[i])) {
                        fprintf(stderr, "%s: lacks member %s\n", what, want->v[i]);
                        d++;
                }
        for (int i = 0; i < got->n; i++)
                if (!names_has(want, got->v[i])) {
                        fprintf(stderr, "%s: has member %s, which the server does not answer\n",
                                what, got->v[i]);
                        d++;
                }
        for (int i = 0; ordered && !d && i < want->n; i++)
                if (strcmp(want->v[i], got->v[i]) != 0) {
                        fprintf(stderr, "%s: member %d is %s, the server's is %s\n", what, i + 1,
                                got->v[i], want->v[i]);
                        d++;
                        break;
                }
        return d;
}

/* The first ```json block after marker in text, parsed (new reference). */
static json_t *json_block_after(const char *text, const char *marker, const char *what)
{
        char *block = harness_doc_block(text, marker, "json", what);
        json_error_t je;
        json_t *v = json_loads(block, 0, &je);

        if (!v)
                fprintf(stderr, "%s: the json block does not parse: %s (line %d)\n", what, je.text,
                        je.line);
        assert_non_null(v);
        free(block);
        return v;
}

/* The members named in the first column of the table whose header is header,
 * after marker: "`a`" or "`a`, `b`". */
static void table_members(const char *text, const char *marker, const char *header,
                          struct names *out)
{
        const char *at = strstr(text, marker), *line;

        assert_non_null(at);
        line = strstr(at, header);
        if (!line)
                fprintf(stderr, "no table \"%s\" after \"%s\"\n", header, marker);
        assert_non_null(line);
        line = strchr(line, '\n');
        assert_non_null(line);
        line = strchr(line + 1, '\n'); /* past the separator row */
        assert_non_null(line);
        for (line++; *line == '|'; line = strchr(line, '\n') + 1) {
                const char *end = strchr(line + 1, '|');
                assert_non_null(end);
                for (const char *p = line; p < end; p++) {
                        const char *q;
                        char name[64];

                        if (*p != '`')
                                continue;
                        q = memchr(p + 1, '`', (size_t)(end - p - 1));
                        assert_non_null(q);
                        assert_true((size_t)(q - p - 1) < sizeof(name));
                        memcpy(name, p + 1, (size_t)(q - p - 1));
                        name[q - p - 1] = '\0';
                        names_add(out, name);
                        p = q;
                }
                assert_non_null(strchr(line, '\n'));
        }
        assert_true(out->n > 0);
}

/* Enqueues one job on a fresh queue and returns the members of its GET. */
static void served_members(struct names *out, char *id, size_t id_cap, char *queue, size_t q_cap)
{
        char body[256], path[96];
        struct http_res r;

        harness_unique("jobdoc", queue, q_cap);
        snprintf(body, sizeof(body), "{\"queue\": \"%s\", \"type\": \"t\", \"payload\": {}}",
                 queue);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_int_equal(r.status, 201);
        snprintf(id, id_cap, "%s", jpath_str(r.json, "job.id"));
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        assert_int_equal(http_json(srv.url, "GET", path, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        names_of(json_object_get(r.json, "job"), out);
        http_res_free(&r);
}

static void api_md_job_object_is_the_served_one(void **state)
{
        struct names served = {0}, example = {0}, table = {0};
        char id[32], q[64];
        char *md = harness_read_doc("docs/api.md");
        json_t *ex;
        int d;

        (void)state;
        served_members(&served, id, sizeof(id), q, sizeof(q));
        ex = json_block_after(md, "\n## The job object\n", "docs/api.md");
        names_of(ex, &example);
        d = names_diff("docs/api.md job object example", &served, &example, true);
        table_members(md, "\n## The job object\n", "| member | meaning |", &table);
        d += names_diff("docs/api.md job member table", &served, &table, false);
        assert_int_equal(d, 0);
        json_decref(ex);
        names_free(&served);
        names_free(&example);
        names_free(&table);
        free(md);
}

static void openapi_job_schema_is_the_served_one(void **state)
{
        struct names served = {0}, required = {0}, props = {0};
        char id[32], q[64];
        char *text = harness_read_doc("docs/openapi.json");
        json_error_t je;
        json_t *doc = json_loads(text, 0, &je), *job, *claimed, *v;
        size_t i;
        int d;

        (void)state;
        assert_non_null(doc);
        served_members(&served, id, sizeof(id), q, sizeof(q));
        job = jpath(doc, "components.schemas.Job");
        assert_non_null(job);
        json_array_foreach(json_object_get(job, "required"), i, v)
            names_add(&required, json_string_value(v));
        names_of(json_object_get(job, "properties"), &props);
        d = names_diff("openapi.json Job.required", &served, &required, false);
        d += names_diff("openapi.json Job.properties", &served, &props, false);
        assert_int_equal(d, 0);
        /* ClaimedJob adds the lease token and the parents. */
        claimed = jpath(doc, "components.schemas.ClaimedJob.allOf[1].properties");
        assert_non_null(claimed);
        assert_non_null(json_object_get(claimed, "lease"));
        assert_non_null(json_object_get(claimed, "parents"));
        json_decref(doc);
        names_free(&served);
        names_free(&required);
        names_free(&props);
        free(text);
}

static void readme_enqueue_answer_is_the_served_one(void **state)
{
        struct names served = {0}, shown = {0};
        char id[32], q[64];
        char *md = harness_read_doc("README.md");
        json_t *ex;

        (void)state;
        served_members(&served, id, sizeof(id), q, sizeof(q));
        ex = json_block_after(md, "**Enqueue**", "README.md");
        names_of(json_object_get(ex, "job"), &shown);
        assert_int_equal(names_diff("README.md enqueue answer", &served, &shown, true), 0);
        json_decref(ex);
        names_free(&served);
        names_free(&shown);
        free(md);
}

/* The one job a claim of queue q answers (new reference). */
static json_t *claim_one(const char *q)
{
        char path[128];
        struct http_res r;
        json_t *j;

        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        assert_int_equal(
            http_json(srv.url, "POST", path, "{\"worker\": \"w-doc\", \"max\": 1}", &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(json_object_get(r.json, "jobs")), 1);
        j = json_incref(json_array_get(json_object_get(r.json, "jobs"), 0));
        http_res_free(&r);
        return j;
}

static void claim_adds_lease_and_parents(void **state)
{
        struct names served = {0}, want = {0}, got = {0};
        char id[32], q[64], body[256], path[96];
        struct http_res r;
        json_t *parent, *child;

        (void)state;
        served_members(&served, id, sizeof(id), q, sizeof(q));
        parent = claim_one(q);
        for (int i = 0; i < served.n; i++)
                names_add(&want, served.v[i]);
        names_add(&want, "lease");
        names_of(parent, &got);
        assert_int_equal(names_diff("a claimed job", &want, &got, true), 0);
        names_free(&want);
        names_free(&got);
        /* A child of that job, claimed once the parent completed, also shows
         * its parents. */
        snprintf(body, sizeof(body),
                 "{\"queue\": \"%s\", \"type\": \"t\", \"depends_on\": [\"%s\"]}", q, id);
        assert_int_equal(http_json(srv.url, "POST", "/v1/jobs", body, &r), 0);
        assert_int_equal(r.status, 201);
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/jobs/%s/complete", id);
        snprintf(body, sizeof(body), "{\"lease\": \"%s\", \"result\": 1}",
                 json_string_value(json_object_get(parent, "lease")));
        assert_int_equal(http_json(srv.url, "POST", path, body, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
        child = claim_one(q);
        for (int i = 0; i < served.n; i++)
                names_add(&want, served.v[i]);
        names_add(&want, "parents");
        names_add(&want, "lease");
        names_of(child, &got);
        assert_int_equal(names_diff("a claimed job with parents", &want, &got, true), 0);
        json_decref(parent);
        json_decref(child);
        names_free(&served);
        names_free(&want);
        names_free(&got);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(api_md_job_object_is_the_served_one),
            cmocka_unit_test(openapi_job_schema_is_the_served_one),
            cmocka_unit_test(readme_enqueue_answer_is_the_served_one),
            cmocka_unit_test(claim_adds_lease_and_parents),
        };

        harness_group(&srv, NULL, &cl);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
