/*
 * store_fx.c: the store tests' fixture and shared row builders (see
 * store_fx.h). Each test's store lives in a location of its own: a fresh
 * temporary directory for SQLite (whose data directory open must create) or a
 * fresh schema for PostgreSQL (pgtest.c), removed with everything in it at
 * teardown, so tests never see each other's rows.
 *
 * Workload: one store per test. Assumptions: called from cmocka tests (the
 * helpers assert instead of returning errors); BATON_TEST_PG_URI, when set,
 * names a database the tests may write to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "store/job.h"
#include "store/store.h"
#include "support/pgtest.h"
#include "support/store_fx.h"

/* ---- backends ---- */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
        (void)sb;
        (void)type;
        (void)ftw;
        return remove(path);
}

static int sqlite_create(struct fixture *f)
{
        snprintf(f->dir, sizeof(f->dir), "/tmp/baton-store-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        /* A directory that does not exist yet: open must create it. */
        snprintf(f->uri, sizeof(f->uri), "%s/data", f->dir);
        return 0;
}

static void sqlite_destroy(struct fixture *f)
{
        if (f->dir[0])
                nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool always(void)
{
        return true;
}

static int pg_create(struct fixture *f)
{
        struct pgtest t;

        if (pgtest_create(&t) != 0)
                return -1;
        snprintf(f->scope, sizeof(f->scope), "%s", t.scope);
        snprintf(f->uri, sizeof(f->uri), "%s", t.uri);
        return 0;
}

static void pg_destroy(struct fixture *f)
{
        struct pgtest t = {{0}, {0}};

        snprintf(t.scope, sizeof(t.scope), "%s", f->scope);
        pgtest_drop(&t);
        f->scope[0] = '\0';
}

const struct fx_backend fx_sqlite = {"sqlite", &store_sqlite_ops, always, sqlite_create,
                                     sqlite_destroy};
#ifdef BATON_HAVE_POSTGRES
static bool pg_available(void)
{
        return pgtest_available();
}

const struct fx_backend fx_pg = {"postgres", &store_postgres_ops, pg_available, pg_create,
                                 pg_destroy};
#else
static bool never(void)
{
        return false;
}

const struct fx_backend fx_pg = {"postgres", NULL, never, pg_create, pg_destroy};
#endif

/* ---- fixture ---- */

int fx_open(struct fixture *f)
{
        struct store_opts o = {.uri = f->uri, .sync_full = false, .busy_timeout_ms = 1000};

        return f->ops->open(&o, &f->st);
}

/* *state holds the backend (the tests' initial state, see fx_run_group) and is
 * replaced by the fixture. */
int fx_setup(void **state)
{
        const struct fx_backend *be = *state;
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->be = be;
        f->ops = be->ops;
        if (f->be->create(f) != 0 || fx_open(f) != 0) {
                f->be->destroy(f);
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

int fx_teardown(void **state)
{
        struct fixture *f = *state;

        if (f->st)
                f->ops->close(f->st);
        f->be->destroy(f);
        free(f);
        return 0;
}

void fx_reopen(struct fixture *f)
{
        f->ops->close(f->st);
        f->st = NULL;
        assert_int_equal(fx_open(f), 0);
}

void fx_begin(struct fixture *f)
{
        assert_int_equal(f->ops->begin(f->st), 0);
}

void fx_commit(struct fixture *f)
{
        assert_int_equal(f->ops->commit(f->st), 0);
}

int fx_run_group(const struct fx_backend *be, const char *group, const struct CMUnitTest *tests,
                 size_t n)
{
        struct CMUnitTest *run = calloc(n, sizeof(*run));
        int failed;

        assert_non_null(run);
        for (size_t i = 0; i < n; i++) {
                run[i] = tests[i];
                run[i].initial_state = (void *)be;
        }
        failed = _cmocka_run_group_tests(group, run, n, NULL, NULL);
        free(run);
        return failed;
}

/* ---- row builders ---- */

char *fx_xdup(const char *s)
{
        char *p;

        if (!s)
                return NULL;
        p = strdup(s);
        assert_non_null(p);
        return p;
}

int64_t fx_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fills j from sp; the caller frees it with job_free. */
void fx_job_from_spec(struct job *j, const struct spec *sp)
{
        memset(j, 0, sizeof(*j));
        j->tenant = fx_xdup(sp->tenant ? sp->tenant : "t1");
        j->queue = fx_xdup(sp->queue ? sp->queue : "q1");
        j->type = fx_xdup(sp->type ? sp->type : "email.send");
        j->key = fx_xdup(sp->key);
        j->group = fx_xdup(sp->group);
        j->payload = fx_xdup("{\"to\":\"a@example.com\"}");
        j->state = sp->state;
        j->priority = sp->prio;
        j->run_at_ms = sp->run_at;
        j->lease_until_ms = sp->lease_until;
        j->finished_at_ms = sp->finished_at;
        j->ready_at_ms = sp->ready_at;
        j->max_attempts = 4;
        j->backoff.type = BACKOFF_EXPONENTIAL;
        j->backoff.base_ms = 1000;
        j->backoff.max_ms = 300000;
        j->lease_ms = 30000;
        j->unique_active = sp->unique_active;
        j->version = 1;
        j->created_at_ms = T0;
}

int fx_put_rc(struct fixture *f, struct spec sp, int64_t *id_out)
{
        struct job j;
        int rc;

        fx_job_from_spec(&j, &sp);
        rc = f->ops->job_insert(f->st, &j);
        if (!rc && id_out)
                *id_out = j.id;
        job_free(&j);
        return rc;
}

int64_t fx_put(struct fixture *f, struct spec sp)
{
        int64_t id = 0;

        assert_int_equal(fx_put_rc(f, sp, &id), 0);
        assert_true(id > 0);
        return id;
}

/* Moves job id to state and returns what job_update said. */
int fx_set_state(struct fixture *f, int64_t id, int state)
{
        struct job j;
        int rc;

        assert_int_equal(f->ops->job_get(f->st, NULL, id, &j), 0);
        j.state = state;
        rc = f->ops->job_update(f->st, &j);
        job_free(&j);
        return rc;
}

bool fx_exists(struct fixture *f, int64_t id)
{
        struct job j;
        int rc = f->ops->job_get(f->st, NULL, id, &j);

        if (rc == BATON_ENOTFOUND)
                return false;
        assert_int_equal(rc, 0);
        job_free(&j);
        return true;
}

void fx_assert_ids(const int64_t *got, int n, const int64_t *want, int n_want)
{
        assert_int_equal(n, n_want);
        for (int i = 0; i < n; i++)
                assert_int_equal(got[i], want[i]);
}

void fx_idem_put(struct fixture *f, const char *tenant, const char *key, int64_t job_id,
                 const char *hash, int64_t expires_ms)
{
        struct idem_rec r = {.tenant = (char *)tenant,
                             .key = (char *)key,
                             .job_id = job_id,
                             .payload_hash = (char *)hash,
                             .expires_at_ms = expires_ms};

        assert_int_equal(f->ops->idem_put(f->st, &r), 0);
}

void fx_assert_idem(struct fixture *f, const char *tenant, const char *key, int64_t job_id,
                    const char *hash, int64_t expires_ms)
{
        struct idem_rec r = {0};

        assert_int_equal(f->ops->idem_get(f->st, tenant, key, &r), 0);
        assert_string_equal(r.tenant, tenant);
        assert_string_equal(r.key, key);
        assert_int_equal(r.job_id, job_id);
        assert_string_equal(r.payload_hash, hash);
        assert_int_equal(r.expires_at_ms, expires_ms);
        idem_rec_free(&r);
}

/* A plain key with the optional columns empty. */
void fx_key_plain(struct key_rec *k, const char *id, const char *tenant)
{
        memset(k, 0, sizeof(*k));
        k->id = fx_xdup(id);
        k->tenant = fx_xdup(tenant);
        k->digest = fx_xdup("0000000000000000000000000000000000000000000000000000000000000000");
        k->scopes = 1;
        k->created_at_ms = T0;
}

void fx_key_put(struct fixture *f, const char *id, const char *tenant)
{
        struct key_rec k;

        fx_key_plain(&k, id, tenant);
        assert_int_equal(f->ops->key_insert(f->st, &k), 0);
        key_rec_free(&k);
}

/* Fills r with distinct values; the caller frees it with audit_rec_free. */
void fx_audit_fill(struct audit_rec *r, const char *tenant, const char *action, const char *key_id,
                   int seed)
{
        char s[80];

        memset(r, 0, sizeof(*r));
        r->at_ms = T0 + seed;
        r->key_id = fx_xdup(key_id);
        r->tenant = fx_xdup(tenant);
        r->action = fx_xdup(action);
        snprintf(s, sizeof(s), "target-%d", seed);
        r->target = fx_xdup(s);
        snprintf(s, sizeof(s), "req-%d", seed);
        r->request_id = fx_xdup(s);
        r->status = 200 + seed;
        snprintf(s, sizeof(s), "code_%d", seed);
        r->code = fx_xdup(s);
        snprintf(s, sizeof(s), "{\"seed\":%d,\"s\":\"it's \\\"q\\\"\"}", seed);
        r->detail = fx_xdup(s);
}

/* Inserts one audit record and returns its id. */
int64_t fx_audit_put(struct fixture *f, const char *tenant, const char *action, const char *key_id,
                     int seed)
{
        struct audit_rec r;
        int64_t id;

        fx_audit_fill(&r, tenant, action, key_id, seed);
        assert_int_equal(f->ops->audit_insert(f->st, &r), 0);
        id = r.id;
        assert_true(id > 0);
        audit_rec_free(&r);
        return id;
}

/* Fills r with distinct values; the caller frees it with cron_rec_free. */
void fx_cron_fill(struct cron_rec *r, const char *tenant, const char *key, int seed)
{
        char s[64];

        memset(r, 0, sizeof(*r));
        r->tenant = fx_xdup(tenant);
        r->key = fx_xdup(key);
        snprintf(s, sizeof(s), "{\"cron\":\"%d * * * *\"}", seed % 60);
        r->spec = fx_xdup(s);
        r->enabled = seed % 2 == 0;
        r->paused = seed % 3 == 0;
        r->pause_note = seed % 3 == 0 ? fx_xdup("maintenance") : NULL;
        r->next_fire_at_ms = T0 + 1000 * seed;
        r->due_at_ms = T0 + 1000 * seed;
        r->buffered_at_ms = T0 + 7 * seed;
        r->buffered_run_id = seed;
        r->last_run_id = seed + 1;
        r->last_job_id = seed + 2;
        r->version = seed + 3;
        r->created_at_ms = T0 + seed;
        r->updated_at_ms = T0 + 2 * seed;
}

/* Checks a store just migrated to version 8: job id (stored before) has no
 * cron marker, one written now reads back, and t1's schedules are counted. */
void fx_migration_8_check(struct fixture *f, int64_t id)
{
        struct job j = {0};
        int64_t n = -1;
        int v = 0;

        assert_int_equal(f->ops->schema_version(f->st, &v), 0);
        assert_true(v >= 8); /* and any later migration */
        fx_begin(f);
        assert_int_equal(f->ops->cron_count_add(f->st, "t1", 0, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(f->ops->cron_count_add(f->st, "t2", 0, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &j), 0);
        assert_null(j.cron);
        j.cron = fx_xdup("{\"key\":\"nightly\",\"run\":\"7\"}");
        assert_int_equal(f->ops->job_update(f->st, &j), 0);
        job_free(&j);
        assert_int_equal(f->ops->job_get(f->st, "t1", id, &j), 0);
        assert_string_equal(j.cron, "{\"key\":\"nightly\",\"run\":\"7\"}");
        job_free(&j);
        fx_commit(f);
}
