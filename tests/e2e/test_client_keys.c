/*
 * test_client_keys.c: libbaton's key and audit calls against a real batond:
 * create (secret shown once, scopes and limits kept), list (no secrets),
 * rotate (new secret works, old one refused without grace), revoke (refused on
 * the next call), audit entries for each, and the error mapping of 401, 403
 * and 429 to BATON_EAUTH, BATON_EFORBIDDEN and BATON_ERATE with the API code
 * and Retry-After in the client's last error.
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

static struct harness srv;

static struct baton_key *create(struct baton_client *admin, const char *name,
                                const char *const *scopes, size_t n, int64_t rate_max)
{
        struct baton_key_opts o = {0};
        struct baton_key *k = NULL;

        o.name = name;
        o.scopes = scopes;
        o.n_scopes = n;
        o.rate_max = rate_max;
        o.rate_per_ms = rate_max ? 60000 : 0;
        assert_ok(admin, baton_key_create(admin, &o, &k));
        assert_non_null(k);
        assert_non_null(k->key);
        assert_int_equal(strncmp(k->key, "bk_", 3), 0);
        /* The secret comes from the answer's "secret", beside the key object:
         * the object itself (baton_key_json) never holds it. */
        assert_non_null(k->id);
        assert_non_null(baton_key_json(k));
        assert_null(strstr(baton_key_json(k), "bk_"));
        return k;
}

static bool audit_has(struct baton_client *admin, const char *action, const char *target)
{
        struct baton_audit_filter f = {0};
        struct baton_audit *a = NULL;
        bool found = false;

        f.action = action;
        f.limit = 1000;
        assert_ok(admin, baton_audit_list(admin, &f, &a));
        for (size_t i = 0; i < a->n; i++)
                if (a->v[i].target && strcmp(a->v[i].target, target) == 0 && a->v[i].status < 400 &&
                    strcmp(a->v[i].action, action) == 0)
                        found = true;
        baton_audit_free(a);
        return found;
}

static void keys_lifecycle(void **state)
{
        static const char *const scopes[] = {"jobs:read"};
        struct baton_client *admin = harness_client(&srv);
        struct baton_key *k = create(admin, "reader", scopes, 1, 0);
        struct baton_client *reader = harness_client_key(&srv, k->key);
        struct baton_keys *list = NULL;
        struct baton_key *rot = NULL, *rev = NULL;
        struct baton_jobs *jobs = NULL;
        struct baton_list_opts lo = {0};
        bool listed = false;

        (void)state;
        assert_int_equal(k->n_scopes, 1);
        assert_string_equal(k->scopes[0], "jobs:read");
        assert_string_equal(k->tenant, "default");

        /* The new key reads, and is refused what its scope does not allow. */
        assert_ok(reader, baton_job_list(reader, &lo, &jobs));
        baton_jobs_free(jobs);
        assert_err(reader, baton_queue_pause(reader, "q", true, NULL), BATON_EFORBIDDEN, 403,
                   "forbidden", NULL);

        /* Listed without its secret. */
        assert_ok(admin, baton_key_list(admin, NULL, 0, NULL, &list));
        for (size_t i = 0; i < list->n; i++) {
                assert_null(list->v[i].key);
                if (strcmp(list->v[i].id, k->id) == 0)
                        listed = true;
        }
        assert_true(listed);
        baton_keys_free(list);

        /* Rotation without grace: the old secret stops working at once. */
        assert_ok(admin, baton_key_rotate(admin, k->id, 0, &rot));
        assert_non_null(rot->key);
        assert_string_not_equal(rot->key, k->key);
        assert_err(reader, baton_job_list(reader, &lo, &jobs), BATON_EAUTH, 401, "unauthenticated",
                   NULL);
        baton_client_free(reader);
        reader = harness_client_key(&srv, rot->key);
        assert_ok(reader, baton_job_list(reader, &lo, &jobs));
        baton_jobs_free(jobs);

        /* Revocation: refused on the next request. */
        assert_ok(admin, baton_key_revoke(admin, k->id, &rev));
        assert_string_equal(rev->state, "revoked");
        assert_true(rev->revoked_at_ms > 0);
        assert_err(reader, baton_job_list(reader, &lo, &jobs), BATON_EAUTH, 401, "unauthenticated",
                   NULL);

        assert_true(audit_has(admin, "keys.create", k->id));
        assert_true(audit_has(admin, "keys.rotate", k->id));
        assert_true(audit_has(admin, "keys.revoke", k->id));

        baton_key_free(rev);
        baton_key_free(rot);
        baton_key_free(k);
        baton_client_free(reader);
        baton_client_free(admin);
}

static void rate_limit_maps_to_erate(void **state)
{
        static const char *const scopes[] = {"jobs:read"};
        struct baton_client *admin = harness_client(&srv);
        struct baton_key *k = create(admin, "slow", scopes, 1, 2);
        struct baton_client *c = harness_client_key(&srv, k->key);
        struct baton_list_opts lo = {0};
        struct baton_jobs *jobs = NULL;
        int rc = 0;

        (void)state;
        /* Two requests per minute: the third is refused. Bounded to 3 calls. */
        for (int i = 0; i < 3; i++) {
                rc = baton_job_list(c, &lo, &jobs);
                if (rc == 0)
                        baton_jobs_free(jobs);
                jobs = NULL;
        }
        assert_int_equal(rc, BATON_ERATE);
        assert_int_equal(baton_client_last_error(c)->http_status, 429);
        assert_string_equal(baton_client_last_error(c)->code, "rate_limited");
        assert_true(baton_client_last_error(c)->retry_after_s >= 1);
        baton_key_free(k);
        baton_client_free(c);
        baton_client_free(admin);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(keys_lifecycle),
            cmocka_unit_test(rate_limit_maps_to_erate),
        };
        harness_group(&srv, NULL, NULL);
        return cmocka_run_group_tests(tests, harness_group_up, harness_group_down);
}
