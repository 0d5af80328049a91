/*
 * test_answer_doc.c: every answer object of batond against its schema in
 * docs/openapi.json. A real batond (SQLite, and PostgreSQL as answer_doc_pg)
 * is driven through every route family (jobs, work, queues, dead letters,
 * workers, keys, audit, dashboard sessions, cron, flows, timers, the ops
 * endpoints) and the main
 * error answers; each JSON answer is checked against the response schema the
 * document gives its operation and status ($ref and allOf resolved, a oneOf
 * branch chosen by the answer's shape):
 *  - every member answered is a property of the schema, into nested objects
 *    and array items whose schema has properties (additionalProperties: a
 *    schema checks the member against it, true lets it pass; an object
 *    schema with properties and no additionalProperties is closed);
 *  - every `required` member is present;
 *  - the JSON type is the schema's `type` (null only where the schema is
 *    nullable or its type lists "null"), and a string is one of its `enum`;
 *  - an answer's own schema describes its members (has properties);
 *  - every operation whose success answer is JSON had one checked (the last
 *    test), so a route added later cannot be left out unnoticed.
 * Every difference is printed with its path in the answer and what the
 * schema says; a test fails on any. The walker keeps an explicit stack of
 * bounded depth (no recursion), and walker_finds_differences shows it can
 * fail: a bogus member, a removed property, a wrong type, a missing member.
 * Assumptions: the document is $BATON_SRC/docs/openapi.json; its $refs are
 * local ("#/components/..."); the server runs with the harness's admin key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "support/harness.h"
#include "support/rawhttp.h"

#define SET_MAX 16     /* schemas that together describe one value */
#define DEPTH_MAX 12   /* nesting of an answer the walker follows */
#define STACK_MAX 4096 /* values waiting to be checked */
#define PATH_MAX_LEN 192

static struct harness srv;
static struct baton_client *cl;
static json_t *doc;
/* Differences found since the test began (each test starts at 0). */
static int diffs;
/* The operations ("get /v1/jobs/{id}") whose success answer was checked. */
#define OPS_MAX 128
static char *checked_ops[OPS_MAX];
static int n_checked_ops;

/* The schemas that together describe one value: allOf members and $ref
 * targets side by side. */
struct sset {
        json_t *s[SET_MAX];
        int n;
};

/* One value waiting to be checked: where it is in the answer and its schemas. */
struct frame {
        const json_t *v;
        struct sset set;
        int depth;
        char path[PATH_MAX_LEN];
};

/* The target of a local $ref ("#/components/schemas/Job"), or NULL. */
static json_t *ref_target(const char *ref)
{
        char dotted[256];
        size_t o = 0;

        if (strncmp(ref, "#/", 2) != 0)
                return NULL;
        for (const char *p = ref + 2; *p && o + 1 < sizeof(dotted); p++)
                dotted[o++] = *p == '/' ? '.' : *p;
        dotted[o] = '\0';
        return jpath(doc, dotted);
}

/* s with its $refs followed (at most 8 in a row), or NULL. */
static json_t *deref(json_t *s)
{
        for (int i = 0; s && i < 8; i++) {
                json_t *r = json_object_get(s, "$ref");
                if (!json_is_string(r))
                        return s;
                s = ref_target(json_string_value(r));
        }
        return NULL;
}

/* Adds s and, through a worklist, its allOf members to out; a oneOf or
 * anyOf is left out (flatten picks a branch for it). */
static void flatten_plain(json_t *s, struct sset *out)
{
        json_t *work[SET_MAX];
        int nw = 0;

        work[nw++] = s;
        while (nw > 0) {
                json_t *x = deref(work[--nw]), *all, *m;
                size_t i;

                if (!x || out->n == SET_MAX)
                        continue;
                out->s[out->n++] = x;
                all = json_object_get(x, "allOf");
                json_array_foreach(all, i, m) if (nw < SET_MAX) work[nw++] = m;
        }
}

static bool type_name_ok(const json_t *v, const char *t)
{
        if (strcmp(t, "string") == 0)
                return json_is_string(v);
        if (strcmp(t, "integer") == 0)
                return json_is_integer(v);
        if (strcmp(t, "number") == 0)
                return json_is_number(v);
        if (strcmp(t, "boolean") == 0)
                return json_is_boolean(v);
        if (strcmp(t, "object") == 0)
                return json_is_object(v);
        if (strcmp(t, "array") == 0)
                return json_is_array(v);
        if (strcmp(t, "null") == 0)
                return json_is_null(v);
        return false;
}

/* Whether v has schema s's `type` (a name or a list of names; no type: any). */
static bool type_ok(const json_t *v, const json_t *s)
{
        const json_t *t = json_object_get(s, "type"), *x;
        size_t i;

        if (json_is_string(t))
                return type_name_ok(v, json_string_value(t));
        if (!json_is_array(t))
                return true;
        json_array_foreach(t, i, x) if (type_name_ok(v, json_string_value(x))) return true;
        return false;
}

/* Whether the set lets the value be null: a member says nullable, or lists
 * "null" among its types. */
static bool set_nullable(const struct sset *set)
{
        for (int i = 0; i < set->n; i++) {
                const json_t *t = json_object_get(set->s[i], "type"), *x;
                size_t k;

                if (json_is_true(json_object_get(set->s[i], "nullable")))
                        return true;
                json_array_foreach(t, k,
                                   x) if (strcmp(json_string_value(x), "null") == 0) return true;
        }
        return false;
}

/* How well v fits a branch flattened into set: 2 when its types fit, its
 * required members are present and its members are properties; 1 when only
 * the types fit; 0 otherwise. Looks one level deep only. */
static int branch_fit(const json_t *v, const struct sset *set)
{
        bool props = false, all_known = true;

        for (int i = 0; i < set->n; i++) {
                const json_t *req = json_object_get(set->s[i], "required"), *x;
                size_t k;

                if (!type_ok(v, set->s[i]) && !(json_is_null(v) && set_nullable(set)))
                        return 0;
                json_array_foreach(req, k,
                                   x) if (!json_object_get(v, json_string_value(x))) return 1;
                props = props || json_object_get(set->s[i], "properties");
        }
        if (json_is_object(v) && props) {
                const char *name;
                json_t *m;

                json_object_foreach((json_t *)v, name, m)
                {
                        bool found = false;
                        (void)m;
                        for (int i = 0; i < set->n && !found; i++)
                                found =
                                    jpath(set->s[i], "properties") &&
                                    json_object_get(json_object_get(set->s[i], "properties"), name);
                        all_known = all_known && found;
                }
        }
        return all_known ? 2 : 1;
}

/* Adds to out the schemas describing v under schema s: s, its allOf members,
 * and for a oneOf or anyOf the branch v fits best (the first of the best). */
static void flatten(const json_t *v, json_t *s, struct sset *out)
{
        int from = out->n;

        flatten_plain(s, out);
        for (int i = from, end = out->n; i < end; i++) {
                json_t *alts = json_object_get(out->s[i], "oneOf"), *b, *best = NULL;
                int best_fit = -1;
                size_t k;

                if (!alts)
                        alts = json_object_get(out->s[i], "anyOf");
                json_array_foreach(alts, k, b)
                {
                        struct sset tmp = {0};
                        int fit;

                        flatten_plain(b, &tmp);
                        fit = branch_fit(v, &tmp);
                        if (fit > best_fit) {
                                best_fit = fit;
                                best = b;
                        }
                }
                if (best)
                        flatten_plain(best, out);
        }
}

static const char *json_kind(const json_t *v)
{
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        default:
                return "null";
        }
}

static void differ(const char *what, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void differ(const char *what, const char *path, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "%s: %s: ", what, path[0] ? path : "(the answer)");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        diffs++;
}

/* The property names of the set, space-separated, into out (for messages). */
static const char *set_props(const struct sset *set, char *out, size_t cap)
{
        size_t o = 0;

        out[0] = '\0';
        for (int i = 0; i < set->n; i++) {
                const char *name;
                json_t *p;

                json_object_foreach(json_object_get(set->s[i], "properties"), name, p)
                {
                        (void)p;
                        if (o + strlen(name) + 2 < cap)
                                o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? " " : "", name);
                }
        }
        return out;
}

/* Type and enum of one value against every schema of its set. */
static void check_scalar(const char *what, const struct frame *f)
{
        for (int i = 0; i < f->set.n; i++) {
                const json_t *s = f->set.s[i], *e = json_object_get(s, "enum"), *x;
                bool in = false;
                size_t k;

                if (!type_ok(f->v, s)) {
                        char *t = json_dumps(json_object_get(s, "type"), JSON_ENCODE_ANY);
                        differ(what, f->path, "is %s, the schema's type is %s", json_kind(f->v), t);
                        free(t);
                }
                if (!json_is_string(f->v) || !json_is_array(e))
                        continue;
                json_array_foreach(e, k, x) in = in || json_equal(x, f->v);
                if (!in) {
                        char *t = json_dumps(e, JSON_COMPACT);
                        differ(what, f->path, "is \"%s\", not in the schema's enum %s",
                               json_string_value(f->v), t);
                        free(t);
                }
        }
}

/* Pushes a child of f (member or item v at path) with the schemas children
 * (may be empty: nothing to check) onto the stack. */
static void push(const char *what, struct frame *stack, int *n, const struct frame *f,
                 const json_t *v, const char *path, json_t *const *children, int n_children)
{
        struct frame *c;

        if (n_children == 0)
                return;
        if (f->depth + 1 > DEPTH_MAX || *n == STACK_MAX) {
                differ(what, path, "deeper or wider than the walker follows");
                return;
        }
        c = &stack[(*n)++];
        memset(c, 0, sizeof(*c));
        c->v = v;
        c->depth = f->depth + 1;
        snprintf(c->path, sizeof(c->path), "%s", path);
        for (int i = 0; i < n_children; i++)
                flatten(v, children[i], &c->set);
}

/* An object's required members, then each member against its property
 * schemas (or additionalProperties), pushing the members to check. */
static void check_object(const char *what, const struct frame *f, struct frame *stack, int *n)
{
        bool closed = false, open = false, described = false;
        char path[PATH_MAX_LEN], names[1024];
        const char *name;
        json_t *m;

        for (int i = 0; i < f->set.n; i++) {
                json_t *req = json_object_get(f->set.s[i], "required"), *x,
                       *ap = json_object_get(f->set.s[i], "additionalProperties");
                size_t k;

                json_array_foreach(req, k, x) if (!json_object_get(f->v, json_string_value(x)))
                    differ(what, f->path, "lacks member %s, which the schema requires",
                           json_string_value(x));
                closed = closed || json_object_get(f->set.s[i], "properties") || json_is_false(ap);
                open = open || json_is_true(ap);
                described = described || json_object_get(f->set.s[i], "properties") || ap;
        }
        if (f->depth == 0 && !described)
                differ(what, f->path, "the schema does not describe its members");
        json_object_foreach((json_t *)f->v, name, m)
        {
                json_t *kids[SET_MAX];
                int nk = 0;

                if (snprintf(path, sizeof(path), "%s%s%s", f->path, f->path[0] ? "." : "", name) >=
                    (int)sizeof(path)) {
                        differ(what, f->path, "has a member path too long to follow");
                        continue;
                }
                for (int i = 0; i < f->set.n; i++) {
                        json_t *p =
                            json_object_get(json_object_get(f->set.s[i], "properties"), name);
                        if (p)
                                kids[nk++] = p;
                }
                for (int i = 0; i < f->set.n && nk == 0; i++) {
                        json_t *ap = json_object_get(f->set.s[i], "additionalProperties");
                        if (json_is_object(ap))
                                kids[nk++] = ap;
                }
                if (nk == 0 && closed && !open)
                        differ(what, path, "is not a property of the schema (properties: %s)",
                               set_props(&f->set, names, sizeof(names)));
                push(what, stack, n, f, m, path, kids, nk);
        }
}

/* Array items against the items schemas of the set. */
static void check_array(const char *what, const struct frame *f, struct frame *stack, int *n)
{
        json_t *kids[SET_MAX], *x;
        char path[PATH_MAX_LEN];
        int nk = 0;
        size_t k;

        for (int i = 0; i < f->set.n; i++) {
                json_t *it = json_object_get(f->set.s[i], "items");
                if (it)
                        kids[nk++] = it;
        }
        json_array_foreach(f->v, k, x)
        {
                if (snprintf(path, sizeof(path), "%s[%zu]", f->path, k) >= (int)sizeof(path)) {
                        differ(what, f->path, "has an item path too long to follow");
                        break;
                }
                push(what, stack, n, f, x, path, kids, nk);
        }
}

/* Checks answer against schema, printing each difference under what.
 * Returns the number of differences. */
static int walk(const char *what, const json_t *answer, json_t *schema)
{
        struct frame *stack = calloc(STACK_MAX, sizeof(*stack));
        int n = 0, before = diffs;

        assert_non_null(stack);
        stack[n].v = answer;
        flatten(answer, schema, &stack[n].set);
        n++;
        while (n > 0) {
                struct frame f = stack[--n];

                if (f.set.n == 0)
                        continue;
                if (json_is_null(f.v)) {
                        if (!set_nullable(&f.set))
                                differ(what, f.path, "is null, which the schema does not allow");
                        continue;
                }
                check_scalar(what, &f);
                if (json_is_object(f.v))
                        check_object(what, &f, stack, &n);
                else if (json_is_array(f.v))
                        check_array(what, &f, stack, &n);
        }
        free(stack);
        return diffs - before;
}

/* The schema of the JSON answer docs/openapi.json gives method on path
 * (its spelling in the document) with status, or NULL with a difference. */
static json_t *answer_schema(const char *method, const char *path, int status)
{
        char key[16], what[160];
        json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), path), method),
               *res, *schema;

        snprintf(what, sizeof(what), "%s %s %d", method, path, status);
        if (!op) {
                differ(what, "", "the document has no such operation");
                return NULL;
        }
        snprintf(key, sizeof(key), "%d", status);
        res = deref(json_object_get(json_object_get(op, "responses"), key));
        if (!res) {
                differ(what, "", "the operation does not document this status");
                return NULL;
        }
        schema = jpath(res, "content.application/json.schema");
        if (!schema)
                differ(what, "", "the answer is JSON, the document gives it no JSON schema");
        return schema;
}

/* Whether op ("get /v1/jobs") is among the checked operations. */
static bool was_checked(const char *op)
{
        for (int i = 0; i < n_checked_ops; i++)
                if (strcmp(checked_ops[i], op) == 0)
                        return true;
        return false;
}

/* Notes that the success answer of method (lower case) on doc_path was checked. */
static void note_checked(const char *method, const char *doc_path)
{
        char op[160];

        snprintf(op, sizeof(op), "%s %s", method, doc_path);
        if (was_checked(op))
                return;
        assert_true(n_checked_ops < OPS_MAX);
        checked_ops[n_checked_ops] = strdup(op);
        assert_non_null(checked_ops[n_checked_ops]);
        n_checked_ops++;
}

/* One request (as key; NULL: the admin key) that must answer status with
 * JSON; the answer is checked against its schema. path is the real path,
 * doc_path the document's spelling of the route. res (may be NULL) receives
 * the answer, owned by the caller (http_res_free). */
static void call_as(const char *key, const char *method, const char *doc_path, const char *path,
                    const char *body, int status, struct http_res *res)
{
        struct http_res r;
        char what[300], lower[16];
        json_t *schema;
        size_t i;

        harness_expect(srv.url, key, method, path, body, status, &r);
        for (i = 0; method[i] && i + 1 < sizeof(lower); i++)
                lower[i] = (char)(method[i] | 0x20);
        lower[i] = '\0';
        snprintf(what, sizeof(what), "%s %s (%s) %d", method, path, doc_path, status);
        if (!r.json)
                differ(what, "", "the answer is not JSON: %.200s", r.body);
        schema = answer_schema(lower, doc_path, status);
        if (status < 300)
                note_checked(lower, doc_path);
        if (schema && r.json && walk(what, r.json, schema) > 0)
                fprintf(stderr, "%s: the answer was %.3000s\n", what, r.body);
        if (res)
                *res = r;
        else
                http_res_free(&r);
}

static void call(const char *method, const char *doc_path, const char *path, const char *body,
                 int status, struct http_res *res)
{
        call_as(NULL, method, doc_path, path, body, status, res);
}

/* ---- the walker itself ---- */

static void walker_finds_differences(void **state)
{
        json_t *job_answer = jpath(doc, "components.schemas.JobAnswer"), *copy, *a, *props;
        char id[32], q[64], body[160], path[64];
        struct http_res r;

        (void)state;
        harness_unique("ad", q, sizeof(q));
        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"}", q);
        harness_http_enqueue(srv.url, NULL, body, id, sizeof(id));
        snprintf(path, sizeof(path), "/v1/jobs/%s", id);
        harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
        diffs = 0;
        assert_int_equal(walk("the served job", r.json, job_answer), 0);
        fprintf(stderr, "(differences below are made on purpose)\n");
        a = json_deep_copy(r.json);
        json_object_set_new(json_object_get(a, "job"), "bogus", json_true());
        assert_int_equal(walk("a job with a bogus member", a, job_answer), 1);
        json_object_set_new(json_object_get(a, "job"), "bogus", json_string("x"));
        json_object_set_new(json_object_get(a, "job"), "attempt", json_string("1"));
        json_object_del(json_object_get(a, "job"), "queue");
        /* bogus, attempt's type, queue required */
        assert_int_equal(walk("a job with three faults", a, job_answer), 3);
        json_object_set_new(json_object_get(a, "job"), "state", json_string("asleep"));
        json_object_set_new(json_object_get(a, "job"), "id", json_null());
        assert_int_equal(walk("a job with five faults", a, job_answer), 5);
        json_decref(a);
        /* The served job against a Job schema that lost a property. */
        copy = json_deep_copy(jpath(doc, "components.schemas.Job"));
        props = json_object_get(copy, "properties");
        json_object_del(props, "priority");
        a = json_object();
        json_object_set_new(a, "type", json_string("object"));
        json_object_set_new(a, "properties", json_pack("{s:O}", "job", copy));
        assert_int_equal(walk("a schema without priority", r.json, a), 1);
        json_decref(a);
        json_decref(copy);
        http_res_free(&r);
        diffs = 0;
}

/* ---- the routes ---- */

/* Enqueues one job (body members after queue and type: extra, may be "")
 * through the checked call; copies its id. */
static void enqueue(const char *q, const char *extra, char *id, size_t cap)
{
        char body[512];
        struct http_res r;

        snprintf(body, sizeof(body), "{\"queue\":\"%s\",\"type\":\"t\"%s%s}", q,
                 extra[0] ? "," : "", extra);
        call("POST", "/v1/jobs", "/v1/jobs", body, 201, &r);
        snprintf(id, cap, "%s", jpath_str(r.json, "job.id"));
        http_res_free(&r);
}

/* A job of q as a checked job route answers it: method on /v1/jobs/{id}
 * plus tail ("", "/retry"), with body, answering status. */
static void job_call(const char *method, const char *id, const char *tail, const char *doc_tail,
                     const char *body, int status)
{
        char path[128], dp[64];

        snprintf(path, sizeof(path), "/v1/jobs/%s%s", id, tail);
        snprintf(dp, sizeof(dp), "/v1/jobs/{id}%s", doc_tail);
        call(method, dp, path, body, status, NULL);
}

/* The short answers of Prefer: return=minimal (one job, a batch with a
 * repeat) against the same operation's schemas. */
static void minimal_answers(const char *q)
{
        const char *hdrs[] = {"Prefer: return=minimal", NULL};
        const char *what[] = {"POST /v1/jobs (return=minimal)",
                              "POST /v1/jobs batch (return=minimal)"};
        char body[2][512];
        struct http_res r;

        snprintf(body[0], sizeof(body[0]),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"idempotency_key\":\"m1\"}", q);
        snprintf(body[1], sizeof(body[1]),
                 "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\",\"idempotency_key\":\"m1\"},"
                 "{\"queue\":\"%s\",\"type\":\"u\"}]}",
                 q, q);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(
                    http_raw(srv.url, "POST", "/v1/jobs", hdrs, body[i], strlen(body[i]), &r), 0);
                assert_int_equal(r.status, 201);
                assert_non_null(r.json);
                /* Short indeed: no payload, the walker would not notice. */
                assert_null(jpath(r.json, i ? "jobs[1].payload" : "job.payload"));
                if (walk(what[i], r.json, answer_schema("post", "/v1/jobs", 201)) > 0)
                        fprintf(stderr, "%s: the answer was %.3000s\n", what[i], r.body);
                http_res_free(&r);
        }
}

static void jobs_answers(void **state)
{
        char q[64], id[32], id2[32], path[256], body[512];
        struct http_res r;

        (void)state;
        diffs = 0;
        harness_unique("adj", q, sizeof(q));
        enqueue(q,
                "\"payload\":{\"a\":1},\"idempotency_key\":\"i1\",\"key\":\"k1\","
                "\"group\":\"g\",\"timeout_ms\":60000",
                id, sizeof(id));
        /* An idempotent repeat answers 200 with duplicate. */
        snprintf(
            body, sizeof(body),
            "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":{\"a\":1},\"idempotency_key\":\"i1\","
            "\"key\":\"k1\",\"group\":\"g\",\"timeout_ms\":60000}",
            q);
        call("POST", "/v1/jobs", "/v1/jobs", body, 200, NULL);
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"queue\":\"%s\",\"type\":\"t\"},{\"queue\":\"%s\",\"type\":\"u\","
                 "\"depends_on\":[\"%s\"]}]}",
                 q, q, id);
        call("POST", "/v1/jobs", "/v1/jobs", body, 201, NULL);
        snprintf(path, sizeof(path), "/v1/jobs?queue=%s&state=queued,pending&order=desc&limit=2",
                 q);
        call("GET", "/v1/jobs", path, NULL, 200, NULL);
        minimal_answers(q);
        snprintf(path, sizeof(path), "/v1/jobs?key=k1&type=t&group=g&idempotency_key=i1");
        call("GET", "/v1/jobs", path, NULL, 200, NULL);
        job_call("GET", id, "", "", NULL, 200);
        job_call("PATCH", id, "", "", "{\"priority\":\"high\",\"payload\":{\"b\":2}}", 200);
        job_call("DELETE", id, "", "", NULL, 200);
        job_call("POST", id, "/retry", "/retry", NULL, 200);
        job_call("DELETE", id, "", "", NULL, 200);
        job_call("DELETE", id, "?purge=true", "", NULL, 200);
        job_call("GET", id, "", "", NULL, 404);
        enqueue(q, "\"delay_ms\":3600000", id2, sizeof(id2));
        job_call("POST", id2, "/promote", "/promote", NULL, 200);
        job_call("POST", id2, "/promote", "/promote", NULL, 409);
        snprintf(body, sizeof(body),
                 "{\"action\":\"cancel\",\"filter\":{\"queue\":\"%s\",\"state\":[\"queued\"]},"
                 "\"limit\":1}",
                 q);
        call("POST", "/v1/jobs/bulk", "/v1/jobs/bulk", body, 200, &r);
        assert_int_equal(jpath_int(r.json, "changed"), 1);
        http_res_free(&r);
        /* unique_while active: the second enqueue names the job holding the key. */
        enqueue(q, "\"key\":\"u1\",\"unique_while\":\"active\"", id2, sizeof(id2));
        snprintf(body, sizeof(body),
                 "{\"queue\":\"%s\",\"type\":\"t\",\"key\":\"u1\",\"unique_while\":\"active\"}", q);
        call("POST", "/v1/jobs", "/v1/jobs", body, 409, &r);
        assert_string_equal(jpath_str(r.json, "error.code"), "already_running");
        assert_string_equal(jpath_str(r.json, "error.job_id"), id2);
        http_res_free(&r);
        assert_int_equal(diffs, 0);
}

/* Claims the one job of q with body; returns its lease into lease. */
static void claim(const char *q, const char *body, char *id, char *lease)
{
        char path[128];
        struct http_res r;

        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        call("POST", "/v1/queues/{queue}/claim", path, body, 200, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "jobs")), 1);
        snprintf(id, 32, "%s", jpath_str(r.json, "jobs[0].id"));
        snprintf(lease, 128, "%s", jpath_str(r.json, "jobs[0].lease"));
        http_res_free(&r);
}

static void work_answers(void **state)
{
        char q[64], id[32], cid[32], lease[128], body[512], path[128];

        (void)state;
        diffs = 0;
        harness_unique("adw", q, sizeof(q));
        enqueue(q, "", id, sizeof(id));
        claim(q,
              "{\"worker\":\"adw-1\",\"info\":{\"host\":\"h\",\"pid\":7,\"version\":\"1.0\","
              "\"labels\":{\"zone\":\"a\"}}}",
              cid, lease);
        snprintf(body, sizeof(body),
                 "{\"lease\":\"%s\",\"progress\":{\"percent\":40,\"step\":\"load\","
                 "\"message\":\"m\"}}",
                 lease);
        job_call("POST", cid, "/heartbeat", "/heartbeat", body, 200);
        snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"progress\":42,\"extend_ms\":60000}",
                 lease);
        job_call("POST", cid, "/heartbeat", "/heartbeat", body, 200);
        /* A running job, and its worker with a job in flight. */
        job_call("GET", cid, "", "", NULL, 200);
        call("GET", "/v1/workers/{id}", "/v1/workers/adw-1", NULL, 200, NULL);
        job_call("POST", cid, "/heartbeat", "/heartbeat", "{\"lease\":\"nope\"}", 409);
        snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"result\":{\"ok\":true}}", lease);
        job_call("POST", cid, "/complete", "/complete", body, 200);
        job_call("POST", cid, "/complete", "/complete", body, 200); /* a repeat */
        enqueue(q, "", id, sizeof(id));
        claim(q, "{\"worker\":\"adw-1\"}", cid, lease);
        snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"error\":\"boom\",\"retryable\":false}",
                 lease);
        job_call("POST", cid, "/fail", "/fail", body, 200);
        job_call("GET", cid, "", "", NULL, 200);
        job_call("GET", id, "", "", NULL, 200);
        enqueue(q, "", id, sizeof(id));
        claim(q, "{\"worker\":\"adw-1\"}", cid, lease);
        snprintf(body, sizeof(body),
                 "{\"items\":[{\"id\":\"%s\",\"lease\":\"%s\",\"outcome\":\"complete\"},"
                 "{\"id\":\"%s\",\"lease\":\"x\",\"outcome\":\"fail\",\"error\":\"e\"}]}",
                 cid, lease, cid);
        call("POST", "/v1/settle", "/v1/settle", body, 200, NULL);
        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        call("POST", "/v1/queues/{queue}/claim", path, "{\"worker\":\"adw-1\"}", 200, NULL);
        call("GET", "/v1/workers", "/v1/workers?limit=10", NULL, 200, NULL);
        call("GET", "/v1/workers/{id}", "/v1/workers/adw-1", NULL, 200, NULL);
        call("GET", "/v1/workers/{id}", "/v1/workers/adw-none", NULL, 404, NULL);
        /* The stats series of the queue just worked, and of the tenant. */
        snprintf(path, sizeof(path), "/v1/stats?queue=%s&window_ms=120000", q);
        call("GET", "/v1/stats", path, NULL, 200, NULL);
        call("GET", "/v1/stats", "/v1/stats?step_ms=3600000&window_ms=86400000", NULL, 200, NULL);
        call("GET", "/v1/stats", "/v1/stats?step_ms=1", NULL, 400, NULL);
        assert_int_equal(diffs, 0);
}

static void queue_answers(void **state)
{
        char q[64], id[32], cid[32], lease[128], body[512], path[160], dp[64];
        struct http_res r;

        (void)state;
        diffs = 0;
        harness_unique("adq", q, sizeof(q));
        enqueue(q, "\"max_attempts\":1", id, sizeof(id));
        claim(q, "{\"worker\":\"adq-1\"}", cid, lease);
        snprintf(body, sizeof(body), "{\"lease\":\"%s\",\"error\":\"boom\"}", lease);
        job_call("POST", cid, "/fail", "/fail", body, 200);
        call("GET", "/v1/queues", "/v1/queues?limit=50", NULL, 200, NULL);
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        call("PATCH", "/v1/queues/{queue}", path,
             "{\"retention\":{\"completed_ms\":60000,\"dead_ms\":120000},\"timeout_ms\":30000,"
             "\"concurrency\":4,\"rate\":{\"max\":10,\"per_ms\":1000},\"max_attempts\":3,"
             "\"group_concurrency\":2,\"group_rate\":{\"max\":5,\"per_ms\":1000},"
             "\"max_depth\":100,\"lease_ms\":20000,"
             "\"backoff\":{\"type\":\"fixed\",\"base_ms\":2000}}",
             200, NULL);
        call("GET", "/v1/queues/{queue}", path, NULL, 200, NULL);
        call("GET", "/v1/queues/{queue}", "/v1/queues/adq-none", NULL, 404, NULL);
        /* The queue's events so far: its job's life and the settings. */
        snprintf(path, sizeof(path), "/v1/events?queue=%s&limit=50", q);
        call("GET", "/v1/events", path, NULL, 200, NULL);
        call("GET", "/v1/events", "/v1/events?type=job.nope", NULL, 400, NULL);
        snprintf(path, sizeof(path), "/v1/queues/%s/dead?limit=5", q);
        call("GET", "/v1/queues/{queue}/dead", path, NULL, 200, NULL);
        snprintf(path, sizeof(path), "/v1/queues/%s/dead/replay", q);
        snprintf(body, sizeof(body), "{\"ids\":[\"%s\"]}", cid);
        call("POST", "/v1/queues/{queue}/dead/replay", path, body, 200, &r);
        assert_int_equal(jpath_int(r.json, "replayed"), 1);
        http_res_free(&r);
        snprintf(path, sizeof(path), "/v1/queues/%s/dead", q);
        call("DELETE", "/v1/queues/{queue}/dead", path, NULL, 200, NULL);
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        call("DELETE", "/v1/queues/{queue}", path, NULL, 409, NULL);
        snprintf(path, sizeof(path), "/v1/queues/%s/drain", q);
        snprintf(dp, sizeof(dp), "/v1/queues/{queue}/drain");
        call("POST", dp, path, NULL, 200, NULL);
        snprintf(path, sizeof(path), "/v1/queues/%s", q);
        call("DELETE", "/v1/queues/{queue}", path, NULL, 200, NULL);
        assert_int_equal(diffs, 0);
}

static void key_and_audit_answers(void **state)
{
        char path[128], kid[32], secret[128];
        struct http_res r;

        (void)state;
        diffs = 0;
        call("POST", "/v1/keys", "/v1/keys",
             "{\"name\":\"ad-reader\",\"scopes\":[\"jobs:read\"],"
             "\"rate_limit\":{\"max\":1000,\"per_ms\":1000},"
             "\"expires_at\":\"2099-01-01T00:00:00Z\"}",
             201, &r);
        snprintf(kid, sizeof(kid), "%s", jpath_str(r.json, "key.id"));
        snprintf(secret, sizeof(secret), "%s", jpath_str(r.json, "secret"));
        http_res_free(&r);
        call("GET", "/v1/keys", "/v1/keys?limit=50", NULL, 200, NULL);
        /* The reader on an admin route, and no key at all. */
        call_as(secret, "GET", "/v1/keys", "/v1/keys", NULL, 403, NULL);
        call_as("", "GET", "/v1/keys", "/v1/keys", NULL, 401, NULL);
        snprintf(path, sizeof(path), "/v1/keys/%s/rotate", kid);
        call("POST", "/v1/keys/{id}/rotate", path, "{\"grace_ms\":1000}", 200, NULL);
        snprintf(path, sizeof(path), "/v1/keys/%s", kid);
        call("DELETE", "/v1/keys/{id}", path, NULL, 200, NULL);
        call("DELETE", "/v1/keys/{id}", "/v1/keys/k0000000000000000", NULL, 404, NULL);
        call("GET", "/v1/audit", "/v1/audit?limit=20", NULL, 200, NULL);
        call("GET", "/v1/audit", "/v1/audit?action=keys.create", NULL, 200, NULL);
        assert_int_equal(diffs, 0);
}

/* A request with extra header lines and no Authorization header (the
 * dashboard's cookie authenticates it, or nothing does), checked like
 * call_as. */
static void call_hdrs(const char *const *hdrs, const char *method, const char *doc_path,
                      const char *path, const char *body, int status, struct http_res *res)
{
        struct http_res r;
        char what[300], lower[16];
        json_t *schema;
        size_t i;

        assert_int_equal(http_raw(srv.url, method, path, hdrs, body, body ? strlen(body) : 0, &r),
                         0);
        if (r.status != status)
                fprintf(stderr, "%s %s: want %d, got %d: %s\n", method, path, status, r.status,
                        r.body);
        assert_int_equal(r.status, status);
        for (i = 0; method[i] && i + 1 < sizeof(lower); i++)
                lower[i] = (char)(method[i] | 0x20);
        lower[i] = '\0';
        snprintf(what, sizeof(what), "%s %s (%s) %d", method, path, doc_path, status);
        /* A 204 has no body, and its operation no JSON schema. */
        if (status == 204)
                assert_int_equal(r.body_len, 0);
        else if (!r.json)
                differ(what, "", "the answer is not JSON: %.200s", r.body);
        schema = status == 204 ? NULL : answer_schema(lower, doc_path, status);
        if (status < 300)
                note_checked(lower, doc_path);
        if (schema && r.json && walk(what, r.json, schema) > 0)
                fprintf(stderr, "%s: the answer was %.3000s\n", what, r.body);
        if (res)
                *res = r;
        else
                http_res_free(&r);
}

static void session_answers(void **state)
{
        char body[200], cookie[480], csrf[160], sc[400];
        const char *no_auth[] = {"Authorization:", NULL};
        const char *with_cookie[] = {"Authorization:", cookie, NULL};
        const char *with_csrf[] = {"Authorization:", cookie, csrf, NULL};
        struct http_res r;
        char *end;

        (void)state;
        diffs = 0;
        snprintf(body, sizeof(body), "{\"key\":\"%s\"}", srv.admin_key);
        call_hdrs(no_auth, "POST", "/v1/sessions", "/v1/sessions", body, 201, &r);
        assert_non_null(http_header(&r, "Set-Cookie", sc, sizeof(sc)));
        end = strchr(sc, ';');
        assert_non_null(end);
        *end = '\0';
        snprintf(cookie, sizeof(cookie), "Cookie: %s", sc);
        snprintf(csrf, sizeof(csrf), "X-CSRF-Token: %s", jpath_str(r.json, "csrf_token"));
        http_res_free(&r);
        call_hdrs(no_auth, "POST", "/v1/sessions", "/v1/sessions", "{\"key\":\"nope\"}", 401, NULL);
        call_hdrs(no_auth, "POST", "/v1/sessions", "/v1/sessions", "{}", 400, NULL);
        call_hdrs(with_cookie, "GET", "/v1/sessions/current", "/v1/sessions/current", NULL, 200,
                  NULL);
        call("GET", "/v1/sessions/current", "/v1/sessions/current", NULL, 404, NULL);
        call_hdrs(with_cookie, "DELETE", "/v1/sessions/current", "/v1/sessions/current", NULL, 403,
                  NULL);
        call_hdrs(with_csrf, "DELETE", "/v1/sessions/current", "/v1/sessions/current", NULL, 204,
                  NULL);
        call_hdrs(with_cookie, "GET", "/v1/sessions/current", "/v1/sessions/current", NULL, 401,
                  NULL);
        assert_int_equal(diffs, 0);
}

static void cron_answers(void **state)
{
        char q[64], key[64], path[160], body[512], job[64];
        struct http_res r;

        (void)state;
        diffs = 0;
        harness_unique("adc", q, sizeof(q));
        harness_unique("adc-s", key, sizeof(key));
        snprintf(body, sizeof(body),
                 "{\"cron\":\"0 3 * * *\",\"timezone\":\"Europe/Berlin\",\"owner\":\"ops\","
                 "\"job\":{\"queue\":\"%s\",\"type\":\"t\",\"payload\":{\"a\":1},"
                 "\"timeout_ms\":60000}}",
                 q);
        snprintf(path, sizeof(path), "/v1/cron/%s", key);
        call("PUT", "/v1/cron/{key}", path, body, 201, NULL);
        call("PUT", "/v1/cron/{key}", path, body, 200, NULL);
        call("PUT", "/v1/cron/{key}", path, "{\"cron\":\"0 3 * * *\",\"tz\":\"UTC\"}", 400, NULL);
        call("GET", "/v1/cron/{key}", path, NULL, 200, NULL);
        call("GET", "/v1/cron/{key}", "/v1/cron/adc-none", NULL, 404, NULL);
        call("GET", "/v1/cron", "/v1/cron?limit=10", NULL, 200, NULL);
        snprintf(path, sizeof(path), "/v1/cron/%s/pause", key);
        call("POST", "/v1/cron/{key}/pause", path, "{\"note\":\"maintenance\"}", 200, NULL);
        snprintf(path, sizeof(path), "/v1/cron/%s/resume", key);
        call("POST", "/v1/cron/{key}/resume", path, NULL, 200, NULL);
        snprintf(path, sizeof(path), "/v1/cron/%s/run", key);
        call("POST", "/v1/cron/{key}/run", path, "{\"payload\":{\"b\":2}}", 202, &r);
        snprintf(job, sizeof(job), "/v1/jobs/%s", jpath_str(r.json, "run.job_id"));
        http_res_free(&r);
        call("GET", "/v1/jobs/{id}", job, NULL, 200, NULL);
        call("POST", "/v1/cron/{key}/run", path, NULL, 409, NULL);
        snprintf(path, sizeof(path), "/v1/cron/%s/runs?limit=5", key);
        call("GET", "/v1/cron/{key}/runs", path, NULL, 200, NULL);
        /* The schedule now has a last run. */
        snprintf(path, sizeof(path), "/v1/cron/%s", key);
        call("GET", "/v1/cron/{key}", path, NULL, 200, NULL);
        call("POST", "/v1/cron/preview", "/v1/cron/preview",
             "{\"cron\":\"20 6-10/2 * * *\",\"timezone\":\"UTC\",\"count\":3}", 200, NULL);
        call("POST", "/v1/cron/preview", "/v1/cron/preview", "{\"cron\":\"61 * * * *\"}", 200,
             NULL);
        snprintf(body, sizeof(body),
                 "{\"schedules\":[{\"key\":\"%s-reg\",\"cron\":\"0 4 * * *\","
                 "\"job\":{\"queue\":\"%s\",\"type\":\"t\"}}],\"prune\":false}",
                 key, q);
        call("PUT", "/v1/cron", "/v1/cron", body, 200, NULL);
        call("GET", "/v1/scheduler", "/v1/scheduler", NULL, 200, NULL);
        call("DELETE", "/v1/cron/{key}", path, NULL, 200, NULL);
        assert_int_equal(diffs, 0);
}

static void flow_and_timer_answers(void **state)
{
        char q[64], key[64], path[160], body[512], fid[32], cid[32], lease[128];
        struct http_res r;

        (void)state;
        diffs = 0;
        harness_unique("adf", q, sizeof(q));
        snprintf(body, sizeof(body),
                 "{\"jobs\":[{\"ref\":\"a\",\"queue\":\"%s\",\"type\":\"t\"},"
                 "{\"ref\":\"b\",\"queue\":\"%s\",\"type\":\"t\",\"depends_on\":[\"a\"]}]}",
                 q, q);
        call("POST", "/v1/flows", "/v1/flows", body, 201, &r);
        snprintf(fid, sizeof(fid), "%s", jpath_str(r.json, "flow.id"));
        http_res_free(&r);
        /* The child, claimed once its parent completed, shows its parents. */
        claim(q, "{\"worker\":\"adf-1\"}", cid, lease);
        snprintf(body, sizeof(body), "{\"lease\":\"%s\"}", lease);
        job_call("POST", cid, "/complete", "/complete", body, 200);
        claim(q, "{\"worker\":\"adf-1\"}", cid, lease);
        snprintf(path, sizeof(path), "/v1/flows/%s", fid);
        call("GET", "/v1/flows/{id}", path, NULL, 200, NULL);
        call("GET", "/v1/flows/{id}", "/v1/flows/999999", NULL, 404, NULL);
        harness_unique("adt", key, sizeof(key));
        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        snprintf(body, sizeof(body),
                 "{\"delay_ms\":600000,\"queue\":\"%s\",\"type\":\"t\",\"payload\":{\"a\":1}}", q);
        call("PUT", "/v1/timers/{key}", path, body, 201, NULL);
        call("PUT", "/v1/timers/{key}", path, body, 200, NULL);
        call("GET", "/v1/timers/{key}", path, NULL, 200, NULL);
        call("GET", "/v1/timers", "/v1/timers?prefix=adt&limit=10", NULL, 200, NULL);
        call("DELETE", "/v1/timers/{key}", path, NULL, 200, NULL);
        call("GET", "/v1/timers/{key}", "/v1/timers/adt-none", NULL, 404, NULL);
        assert_int_equal(diffs, 0);
}

/* POST /v1/jobs with a body sent as text/plain: 415, checked. On a socket of
 * its own, as the HTTP helpers always send application/json. */
static void media_type_answer(void)
{
        struct raw_reader *rd = calloc(1, sizeof(*rd));
        struct raw_res rr = {0};
        char req[512];
        json_t *j;

        assert_non_null(rd);
        snprintf(req, sizeof(req),
                 "POST /v1/jobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                 srv.admin_key);
        rd->fd = raw_connect(srv.port);
        assert_true(rd->fd >= 0);
        assert_int_equal(raw_sends(rd->fd, req), 0);
        assert_int_equal(raw_read_res(rd, 5000, &rr), 0);
        assert_int_equal(rr.status, 415);
        j = json_loadb(rr.body, rr.body_len, 0, NULL);
        assert_non_null(j);
        walk("POST /v1/jobs 415", j, answer_schema("post", "/v1/jobs", 415));
        json_decref(j);
        raw_res_free(&rr);
        close(rd->fd);
        free(rd);
}

/* A timer due now fires; the job it enqueued shows its timer. */
static void fired_timer_answers(void **state)
{
        char q[64], key[64], path[160], body[256], job[160] = "";
        struct http_res r;

        (void)state;
        diffs = 0;
        harness_unique("adtf", q, sizeof(q));
        harness_unique("adtf", key, sizeof(key));
        snprintf(path, sizeof(path), "/v1/timers/%s", key);
        snprintf(body, sizeof(body), "{\"delay_ms\":0,\"queue\":\"%s\",\"type\":\"t\"}", q);
        call("PUT", "/v1/timers/{key}", path, body, 201, NULL);
        for (int i = 0; i < 100 && !job[0]; i++) {
                harness_expect(srv.url, NULL, "GET", path, NULL, 200, &r);
                if (jpath_str(r.json, "timer.job_id"))
                        snprintf(job, sizeof(job), "/v1/jobs/%s",
                                 jpath_str(r.json, "timer.job_id"));
                http_res_free(&r);
                if (!job[0])
                        harness_sleep_ms(50);
        }
        assert_true(job[0] != '\0');
        call("GET", "/v1/timers/{key}", path, NULL, 200, NULL);
        call("GET", "/v1/jobs/{id}", job, NULL, 200, NULL);
        assert_int_equal(diffs, 0);
}

static void ops_and_error_answers(void **state)
{
        char q[64], id[32], path[128], *big, *body;

        (void)state;
        diffs = 0;
        call("GET", "/healthz", "/healthz", NULL, 200, NULL);
        call("GET", "/readyz", "/readyz", NULL, 200, NULL);
        harness_unique("ade", q, sizeof(q));
        call("POST", "/v1/jobs", "/v1/jobs", "{\"queue\":\"ade\",\"type\":\"t\",\"attempts\":3}",
             400, NULL);
        call("GET", "/v1/jobs", "/v1/jobs?order=sideways", NULL, 400, NULL);
        call("GET", "/v1/jobs", "/v1/jobs?sort=desc", NULL, 400, NULL);
        call("GET", "/v1/jobs/{id}", "/v1/jobs/abc", NULL, 400, NULL);
        enqueue(q, "", id, sizeof(id));
        job_call("POST", id, "/retry", "/retry", NULL, 409);
        job_call("PATCH", id, "", "", "{\"prio\":1}", 400);
        media_type_answer();
        /* 413: a payload over --payload-max-bytes (256 KiB). */
        big = harness_repeat('a', 300 * 1024);
        body = malloc(strlen(big) + 128);
        assert_non_null(body);
        sprintf(body, "{\"queue\":\"%s\",\"type\":\"t\",\"payload\":\"%s\"}", q, big);
        call("POST", "/v1/jobs", "/v1/jobs", body, 413, NULL);
        free(body);
        free(big);
        snprintf(path, sizeof(path), "/v1/queues/%s/claim", q);
        call("POST", "/v1/queues/{queue}/claim", path, "{\"worker\":\"w\",\"max\":0}", 400, NULL);
        assert_int_equal(diffs, 0);
}

/* Every operation of the document that answers JSON on success had a
 * success answer checked by the tests before this one (so a route added
 * later is not left out). */
static void every_operation_was_checked(void **state)
{
        const char *path, *method;
        json_t *item, *op;
        int missing = 0;

        (void)state;
        json_object_foreach(json_object_get(doc, "paths"), path, item)
        {
                json_object_foreach(item, method, op)
                {
                        const char *st;
                        json_t *res;
                        bool json_ok = false;
                        char key[160];

                        json_object_foreach(json_object_get(op, "responses"), st, res) json_ok =
                            json_ok ||
                            (st[0] == '2' && jpath(deref(res), "content.application/json"));
                        snprintf(key, sizeof(key), "%s %s", method, path);
                        if (!json_object_get(op, "responses") || !json_ok || was_checked(key))
                                continue;
                        fprintf(stderr, "%s: no success answer of it was checked\n", key);
                        missing++;
                }
        }
        for (int i = 0; i < n_checked_ops; i++)
                free(checked_ops[i]);
        n_checked_ops = 0;
        assert_int_equal(missing, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(walker_finds_differences),
            cmocka_unit_test(jobs_answers),
            cmocka_unit_test(work_answers),
            cmocka_unit_test(queue_answers),
            cmocka_unit_test(key_and_audit_answers),
            cmocka_unit_test(session_answers),
            cmocka_unit_test(cron_answers),
            cmocka_unit_test(flow_and_timer_answers),
            cmocka_unit_test(fired_timer_answers),
            cmocka_unit_test(ops_and_error_answers),
            cmocka_unit_test(every_operation_was_checked),
        };
        char *text = harness_read_doc("docs/openapi.json");
        json_error_t je;
        int rc;

        doc = json_loads(text, 0, &je);
        free(text);
        if (!doc) {
                fprintf(stderr, "docs/openapi.json: %s (line %d)\n", je.text, je.line);
                return 1;
        }
        harness_group(&srv, NULL, &cl);
        rc = cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
        json_decref(doc);
        return rc;
}
