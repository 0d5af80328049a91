/*
 * store_fx.h: the fixture of the store tests (tests/store/test_*.c). A test
 * gets a fresh, empty store of one backend kind (a scratch directory for
 * SQLite, a schema of its own for PostgreSQL, see pgtest.h), opened through
 * struct store_ops, and closes and removes it afterwards. Also here: the
 * job, idempotency, key, audit and cron row builders that more than one store
 * program uses, the migration-8 rows and check both backends' migration tests
 * share, and the list of every PostgreSQL table (to rebuild a schema from
 * version 1), written once.
 *
 * Workload: one store per test, a few rows each; nothing here is timed.
 * Assumptions: the caller is a cmocka program; helpers fail the running test
 * with a cmocka assertion instead of returning errors.
 */
#ifndef BATON_TESTS_STORE_FX_H
#define BATON_TESTS_STORE_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct CMUnitTest;
struct audit_rec;
struct cron_rec;
struct job;
struct key_rec;
struct store;
struct store_ops;

#define T0 1700000000000LL /* an arbitrary fixed "now" */

struct fixture;

/* A backend under test: whether it can run here, and how to make a fresh,
 * empty store location and remove it afterwards. */
struct fx_backend {
        const char *name;
        const struct store_ops *ops;
        bool (*available)(void);
        int (*create)(struct fixture *f);
        void (*destroy)(struct fixture *f);
};

struct fixture {
        const struct fx_backend *be;
        const struct store_ops *ops;
        struct store *st;
        char dir[64];   /* scratch directory (SQLite: the data directory) */
        char scope[64]; /* PostgreSQL: the schema the test runs in */
        char uri[4096]; /* what store_opts.uri receives */
};

/* SQLite (always available) and PostgreSQL (when BATON_TEST_PG_URI is set;
 * never available in a build without the backend). */
extern const struct fx_backend fx_sqlite;
extern const struct fx_backend fx_pg;

/* cmocka setup and teardown: *state holds the backend (set by fx_run_group)
 * and is replaced by the fixture, which teardown frees. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Opens f->uri into f->st; returns what the backend's open returned. */
int fx_open(struct fixture *f);
/* Closes f->st and opens it again (asserts that open succeeds). */
void fx_reopen(struct fixture *f);
void fx_begin(struct fixture *f);
void fx_commit(struct fixture *f);
/* Runs tests as the cmocka group named group, each starting from be.
 * Returns the number of tests that failed. */
int fx_run_group(const struct fx_backend *be, const char *group, const struct CMUnitTest *tests,
                 size_t n);

/* strdup that fails the test on allocation failure; NULL stays NULL. */
char *fx_xdup(const char *s);
/* Milliseconds of the wall clock (CLOCK_REALTIME). */
int64_t fx_wall_ms(void);

/* What a test cares about in a job; fx_put() fills the rest with plain values. */
struct spec {
        const char *tenant; /* default "t1" */
        const char *queue;  /* default "q1" */
        const char *type;   /* default "email.send" */
        const char *key;
        int state;
        int prio;
        int64_t run_at;
        int64_t lease_until;
        int64_t finished_at;
        int64_t ready_at;
        const char *group;  /* version 4 */
        bool unique_active; /* version 14 */
};

/* Fills j from sp; the caller frees it with job_free. */
void fx_job_from_spec(struct job *j, const struct spec *sp);
/* Inserts the job of sp; returns what job_insert said (its id in *id_out). */
int fx_put_rc(struct fixture *f, struct spec sp, int64_t *id_out);
/* Inserts the job of sp (asserting success) and returns its id. */
int64_t fx_put(struct fixture *f, struct spec sp);
/* Moves job id to state and returns what job_update said. */
int fx_set_state(struct fixture *f, int64_t id, int state);
bool fx_exists(struct fixture *f, int64_t id);
void fx_assert_ids(const int64_t *got, int n, const int64_t *want, int n_want);

void fx_idem_put(struct fixture *f, const char *tenant, const char *key, int64_t job_id,
                 const char *hash, int64_t expires_ms);
void fx_assert_idem(struct fixture *f, const char *tenant, const char *key, int64_t job_id,
                    const char *hash, int64_t expires_ms);
/* A plain key with the optional columns empty. */
void fx_key_plain(struct key_rec *k, const char *id, const char *tenant);
void fx_key_put(struct fixture *f, const char *id, const char *tenant);
/* Fills r with distinct values; the caller frees it with audit_rec_free. */
void fx_audit_fill(struct audit_rec *r, const char *tenant, const char *action, const char *key_id,
                   int seed);
/* Inserts one audit record and returns its id. */
int64_t fx_audit_put(struct fixture *f, const char *tenant, const char *action, const char *key_id,
                     int seed);
/* Fills r with distinct values; the caller frees it with cron_rec_free. */
void fx_cron_fill(struct cron_rec *r, const char *tenant, const char *key, int seed);

/* Rows a version-7 store holds before migration 8: a job (id 41) and two
 * schedules of tenant t1. */
#define FX_V7_ROWS                                                                                 \
        "INSERT INTO jobs (id, tenant, queue, type, payload, priority, state, run_at,"             \
        " attempt, max_attempts, backoff_type, backoff_base_ms, backoff_max_ms,"                   \
        " lease_ms, lease_until, settled, cancel_requested, version, created_at,"                  \
        " started_at, finished_at, ready_at) VALUES (41, 't1', 'q1', 't', 'null', 2,"              \
        " 2, 1, 0, 4, 0, 1000, 300000, 30000, 0, 0, 0, 1, 1, 0, 0, 0);"                            \
        "INSERT INTO cron_schedules (tenant, key, spec, enabled, paused, next_fire_at, due_at,"    \
        " buffered_at, buffered_run_id, last_run_id, last_job_id, version, created_at,"            \
        " updated_at) VALUES ('t1', 'a', '{}', 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0),"                  \
        " ('t1', 'b', '{}', 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0)"

/* Checks a store just migrated to version 8: job id (stored before) has no
 * cron marker, one written now reads back, and t1's schedules are counted. */
void fx_migration_8_check(struct fixture *f, int64_t id);

/* Drops every table of the PostgreSQL schema, so that a test can migrate it
 * again from an older version. A table a new migration adds goes here. */
#define FX_PG_DROP_ALL                                                                             \
        "DROP TABLE events, sessions, stats, workers, dep_work, queue_totals, queue_counts, "      \
        "cron_counts, "                                                                            \
        "rate_log, "                                                                               \
        "job_groups, queue_limits, "                                                               \
        "leader_lease, job_deps,"                                                                  \
        " flows,"                                                                                  \
        " timers, cron_runs, cron_schedules, audit, api_keys, tenants, idempotency, queues,"       \
        " jobs, schema_migrations"

#endif
