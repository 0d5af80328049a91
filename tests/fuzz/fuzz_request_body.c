/*
 * fuzz_request_body.c: libFuzzer target for what batond does with a request
 * body before anything reaches the store: the JSON parse (as http.c does
 * it), then the validation of an enqueue (single, or each of "jobs"), of a
 * settle item, and the parse of a cron expression with the check that it
 * can fire. The first input byte picks the path; the rest is the body (or
 * the expression). Invariants: a refusal is a 4xx with a code, a success
 * sets no error, and everything parsed is freed (LeakSanitizer). Run by
 * scripts/fuzz.sh.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "core/cron_expr.h"
#include "store/job.h"
#include "core/limits.h"
#include "server/api_internal.h"
#include "server/http.h"

/* A refusal names a code and is answered with a 4xx (the server's one rc
 * table applied to the code the check returned). */
static void check_verr(int rc, const struct verr *e)
{
        int status;
        const char *code;

        if (rc == 0)
                return;
        if (rc == BATON_ENOMEM)
                return;
        http_rc_status(e->rc, &status, &code);
        if (!e->code || !e->code[0] || e->rc != rc || status < 400 || status > 499)
                abort();
}

static void enqueue_one(const struct limits *l, json_t *obj, const char *prefix)
{
        struct enqueue_req req;
        struct verr e;
        int rc;

        memset(&req, 0, sizeof(req));
        memset(&e, 0, sizeof(e));
        rc = api_enqueue_parse(l, obj, prefix, "default", "rid", 1700000000000LL, &req, &e);
        check_verr(rc, &e);
        api_enqueue_req_free(&req);
}

static void enqueue(const struct limits *l, json_t *body)
{
        json_t *jobs = json_object_get(body, "jobs");
        char prefix[32];
        size_t i;
        json_t *v;

        if (!json_is_array(jobs)) {
                enqueue_one(l, body, "");
                return;
        }
        json_array_foreach(jobs, i, v)
        {
                if (i >= 64)
                        break;
                if (!json_is_object(v))
                        continue;
                snprintf(prefix, sizeof(prefix), "jobs[%zu]", i);
                enqueue_one(l, v, prefix);
        }
}

static void settle(const struct limits *l, json_t *body, int outcome)
{
        struct api_settle s;
        struct verr e;
        int rc;

        memset(&s, 0, sizeof(s));
        memset(&e, 0, sizeof(e));
        rc = api_settle_parse(l, body, "", outcome, "default", 42, &s, &e);
        check_verr(rc, &e);
        api_settle_free(&s);
}

static void cron(const uint8_t *d, size_t n)
{
        char text[512], err[256];
        struct cron_expr ex;

        if (n >= sizeof(text))
                n = sizeof(text) - 1;
        memcpy(text, d, n);
        text[n] = '\0';
        if (cron_parse(text, cron_seed_from_key("fuzz"), &ex, err, sizeof(err)) == 0)
                (void)cron_never_fires(&ex, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct limits l;
        json_error_t jerr;
        json_t *body;
        int pick;

        if (size < 1)
                return 0;
        pick = data[0] % 4;
        if (pick == 3) {
                cron(data + 1, size - 1);
                return 0;
        }
        limits_default(&l);
        body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (!body)
                return 0;
        if (json_is_object(body)) {
                if (pick == 0)
                        enqueue(&l, body);
                else
                        settle(&l, body, pick == 1 ? SETTLED_COMPLETE : SETTLED_FAIL);
        }
        json_decref(body);
        return 0;
}
