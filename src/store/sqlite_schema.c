/*
 * sqlite_schema.c: the schema of the SQLite backend as numbered, forward-only
 * migrations. Migration N is migrations[N - 1]; it runs once, in its own
 * transaction together with the schema_migrations row that records it, so a
 * crash leaves either all of it or none. A database whose recorded version is
 * newer than this binary knows is refused (BATON_ESCHEMA) rather than used with
 * a schema the code does not understand. Migrations run at open, before any
 * other statement is prepared; an existing migration is never edited, a change
 * is always a new entry at the end.
 *
 * Indexes are chosen for the queries of sqlite.c. Every index implicitly ends
 * with the rowid (id), which provides the id tie-break of the orderings. The
 * partial indexes hold only the rows a hot query looks for (queued jobs for
 * claims, scheduled or retrying jobs for promotion, running jobs for lease
 * expiry, terminal jobs for purge), so they stay small and an insert or state
 * change touches only the ones that apply.
 */
#include <sqlite3.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/job_state.h"
#include "common/log.h"
#include "store/sqlite.h"

static const char *const migrations[] = {
    /* 1: jobs, idempotency records, queues. */
    "CREATE TABLE jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tenant TEXT NOT NULL,"
    " queue TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),"
    " state INTEGER NOT NULL CHECK (state BETWEEN " JOB_SQL_FIRST " AND " JOB_SQL_LAST "),"
    " run_at INTEGER NOT NULL,"
    " attempt INTEGER NOT NULL,"
    " max_attempts INTEGER NOT NULL,"
    " backoff_type INTEGER NOT NULL,"
    " backoff_base_ms INTEGER NOT NULL,"
    " backoff_max_ms INTEGER NOT NULL,"
    " lease_ms INTEGER NOT NULL,"
    " idempotency_key TEXT,"
    " dkey TEXT,"
    " request_id TEXT,"
    " execution_id TEXT,"
    " traceparent TEXT,"
    " lease TEXT,"
    " lease_until INTEGER NOT NULL,"
    " worker TEXT,"
    " settled INTEGER NOT NULL,"
    " cancel_requested INTEGER NOT NULL,"
    " version INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL,"
    " finished_at INTEGER NOT NULL,"
    " ready_at INTEGER NOT NULL,"
    " result TEXT,"
    " last_error TEXT,"
    " progress TEXT,"
    " attempts TEXT,"
    " steps TEXT,"
    " cancel_reason TEXT"
    ") STRICT;"
    "CREATE INDEX job_ready ON jobs (tenant, queue, priority, run_at) WHERE state = " JOB_SQL_QUEUED
    ";"
    "CREATE INDEX job_due ON jobs (run_at) WHERE state IN " JOB_SQL_DUE ";"
    "CREATE INDEX job_lease ON jobs (lease_until) WHERE state = " JOB_SQL_RUNNING ";"
    "CREATE INDEX job_finished ON jobs (state, finished_at) WHERE state IN " JOB_SQL_TERMINAL ";"
    "CREATE UNIQUE INDEX job_key ON jobs (tenant, queue, dkey)"
    " WHERE dkey IS NOT NULL AND state IN " JOB_SQL_KEY_HOLDERS ";"
    "CREATE INDEX job_tqs ON jobs (tenant, queue, state);"
    "CREATE INDEX job_tenant ON jobs (tenant);"
    "CREATE TABLE idempotency ("
    " tenant TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " job_id INTEGER NOT NULL,"
    " payload_hash TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, key)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX idem_expiry ON idempotency (expires_at);"
    "CREATE TABLE queues ("
    " tenant TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " paused INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, name)"
    ") STRICT, WITHOUT ROWID;",
    /* 2: tenants, API keys and the audit log. Keys are few and read by id (the
     * id is inside the token) or listed per tenant in id order; the audit log
     * only grows and is read in id order (the cursor), optionally filtered by
     * tenant, action or key. Each filter has an index ending in id, so a page
     * of a filtered list is one index range, whatever the log's size. */
    "CREATE TABLE tenants ("
    " name TEXT PRIMARY KEY,"
    " created_at INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE api_keys ("
    " id TEXT PRIMARY KEY,"
    " tenant TEXT NOT NULL,"
    " name TEXT,"
    " digest TEXT NOT NULL,"
    " prev_digest TEXT,"
    " prev_until INTEGER NOT NULL,"
    " scopes INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL,"
    " rotated_at INTEGER NOT NULL,"
    " rate_max INTEGER NOT NULL,"
    " rate_per_ms INTEGER NOT NULL,"
    " created_by TEXT"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX key_tenant ON api_keys (tenant, id);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at INTEGER NOT NULL,"
    " key_id TEXT,"
    " tenant TEXT,"
    " action TEXT NOT NULL,"
    " target TEXT,"
    " request_id TEXT,"
    " status INTEGER NOT NULL,"
    " code TEXT,"
    " detail TEXT"
    ") STRICT;"
    "CREATE INDEX audit_tenant ON audit (tenant, id);"
    "CREATE INDEX audit_action ON audit (action, id);"
    "CREATE INDEX audit_key ON audit (key_id, id);",
    /* 3: cron schedules and their runs. The scheduler reads due schedules by
     * due_at (a partial index holds only schedules it must look at) and the
     * smallest due_at for the next-deadline timer; runs are unique per tick
     * (tenant, key, scheduled_at; manual runs have NULL there, which never
     * clashes) and are read newest first per schedule. */
    "CREATE TABLE cron_schedules ("
    " tenant TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " spec TEXT NOT NULL,"
    " enabled INTEGER NOT NULL,"
    " paused INTEGER NOT NULL,"
    " pause_note TEXT,"
    " next_fire_at INTEGER NOT NULL,"
    " due_at INTEGER NOT NULL,"
    " buffered_at INTEGER NOT NULL,"
    " buffered_run_id INTEGER NOT NULL,"
    " last_run_id INTEGER NOT NULL,"
    " last_job_id INTEGER NOT NULL,"
    " version INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, key)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX cron_due ON cron_schedules (due_at) WHERE due_at > 0;"
    "CREATE TABLE cron_runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tenant TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " scheduled_at INTEGER,"
    " fired_at INTEGER NOT NULL,"
    " trigger TEXT NOT NULL,"
    " job_id INTEGER NOT NULL,"
    " status TEXT NOT NULL,"
    " reason TEXT,"
    " requested_by TEXT,"
    " UNIQUE (tenant, key, scheduled_at)"
    ") STRICT;"
    "CREATE INDEX cron_run_key ON cron_runs (tenant, key, id);"
    "CREATE INDEX cron_run_trigger ON cron_runs (tenant, key, trigger, fired_at);",
    /* 4: durable timers (core/timers.h), and the jobs column naming the timer
     * version that enqueued a job. A timer is read and written by (tenant,
     * key); the scheduler reads scheduled timers by fire_at through a partial
     * index that holds only them (fired and cancelled rows stay for their
     * version count but leave the index). Migration 4 follows cron's 3. */
    "CREATE TABLE timers ("
    " tenant TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2),"
    " fire_at INTEGER NOT NULL,"
    " queue TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),"
    " max_attempts INTEGER NOT NULL,"
    " backoff_type INTEGER NOT NULL,"
    " backoff_base_ms INTEGER NOT NULL,"
    " backoff_max_ms INTEGER NOT NULL,"
    " lease_ms INTEGER NOT NULL,"
    " request_id TEXT,"
    " job_id INTEGER NOT NULL,"
    " fired_at INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, key)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX timer_due ON timers (fire_at) WHERE state = 0;"
    "ALTER TABLE jobs ADD COLUMN timer TEXT;",
    /* 5: dependencies and flows (core/deps.h). job_deps holds one row per
     * edge; a job that becomes terminal finds its children through the index
     * on parent_id. The jobs columns keep what a job shows (its parents as
     * JSON text, its policy, its flow and ref); a flow's jobs are read
     * through the partial index on flow_id, which holds only flow jobs. */
    "CREATE TABLE job_deps ("
    " parent_id INTEGER NOT NULL,"
    " child_id INTEGER NOT NULL,"
    " tenant TEXT NOT NULL,"
    " PRIMARY KEY (parent_id, child_id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE flows ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tenant TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " request_id TEXT"
    ") STRICT;"
    "ALTER TABLE jobs ADD COLUMN depends_on TEXT;"
    "ALTER TABLE jobs ADD COLUMN on_parent_failure INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN flow_id INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN ref TEXT;"
    "CREATE INDEX job_flow ON jobs (flow_id) WHERE flow_id > 0;",
    /* 6: the leader lease (store.h, "cluster"): one row, written by the
     * scheduler's heartbeat every second. One process owns a SQLite store, so
     * it always leads; the row records its epoch and heartbeat all the same. */
    "CREATE TABLE leader_lease ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " node TEXT NOT NULL,"
    " epoch INTEGER NOT NULL,"
    " lease_until INTEGER NOT NULL,"
    " heartbeat_at INTEGER NOT NULL,"
    " lag_ms INTEGER NOT NULL"
    ") STRICT;",
    /* 7: queue limits, groups and fairness (core/groups.h). queue_limits
     * holds a queue's settings and the counters claims check (non-terminal
     * and running jobs, the fairness clock, the rate log's start count); it is
     * filled here from the jobs already stored. job_groups holds one row per
     * group with ready or running jobs: claims read the next groups to serve
     * through group_pick, which holds only groups with ready jobs (head not
     * NULL), ordered by best priority and then by when each was last served;
     * group_until finds rate-limited groups whose window has rolled.
     * rate_log keeps the latest starts of a queue (grp '') or of a group,
     * numbered by seq. job_group_ready serves the claim of a group's (or of
     * the ungrouped jobs') next ready job; it replaces job_ready, which no
     * claim reads any more, so a job enters and leaves one ready index. */
    "ALTER TABLE jobs ADD COLUMN grp TEXT;"
    "CREATE INDEX job_group_ready ON jobs (tenant, queue, grp, priority, run_at)"
    " WHERE state = " JOB_SQL_QUEUED ";"
    "DROP INDEX job_ready;"
    "ALTER TABLE timers ADD COLUMN grp TEXT;"
    "CREATE TABLE queue_limits ("
    " tenant TEXT NOT NULL,"
    " queue TEXT NOT NULL,"
    " concurrency INTEGER NOT NULL DEFAULT 0,"
    " rate_max INTEGER NOT NULL DEFAULT 0,"
    " rate_per_ms INTEGER NOT NULL DEFAULT 0,"
    " max_depth INTEGER NOT NULL DEFAULT 0,"
    " group_concurrency INTEGER NOT NULL DEFAULT 0,"
    " group_rate_max INTEGER NOT NULL DEFAULT 0,"
    " group_rate_per_ms INTEGER NOT NULL DEFAULT 0,"
    " def_max_attempts INTEGER NOT NULL DEFAULT 0,"
    " def_lease_ms INTEGER NOT NULL DEFAULT 0,"
    " def_backoff_type INTEGER NOT NULL DEFAULT -1,"
    " def_backoff_base_ms INTEGER NOT NULL DEFAULT 0,"
    " def_backoff_max_ms INTEGER NOT NULL DEFAULT 0,"
    " depth INTEGER NOT NULL DEFAULT 0,"
    " running INTEGER NOT NULL DEFAULT 0,"
    " start_seq INTEGER NOT NULL DEFAULT 0,"
    " serve_seq INTEGER NOT NULL DEFAULT 0,"
    " nogroup_served INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (tenant, queue)"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO queue_limits (tenant, queue, depth, running)"
    " SELECT tenant, queue, SUM(state NOT IN " JOB_SQL_TERMINAL "),"
    " SUM(state = " JOB_SQL_RUNNING ") FROM jobs"
    " GROUP BY tenant, queue;"
    "CREATE TABLE job_groups ("
    " tenant TEXT NOT NULL,"
    " queue TEXT NOT NULL,"
    " grp TEXT NOT NULL,"
    " running INTEGER NOT NULL,"
    " head INTEGER,"
    " served INTEGER NOT NULL,"
    " blocked INTEGER NOT NULL,"
    " until_at INTEGER NOT NULL,"
    " start_seq INTEGER NOT NULL,"
    " last_start INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, queue, grp)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX group_pick ON job_groups (tenant, queue, blocked, head, served)"
    " WHERE head IS NOT NULL;"
    "CREATE INDEX group_until ON job_groups (tenant, queue, until_at) WHERE until_at > 0;"
    "CREATE TABLE rate_log ("
    " tenant TEXT NOT NULL,"
    " queue TEXT NOT NULL,"
    " grp TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " at INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, queue, grp, seq)"
    ") STRICT, WITHOUT ROWID;",
    /* 8: the jobs column naming the cron run that enqueued a job (JSON text
     * {"key", "run"}, NULL for other jobs), so the move of such a job to a
     * terminal state counts the run's final status without reading the run.
     * No index: nothing looks jobs up by it. Jobs enqueued before it have
     * NULL (their runs are not counted). cron_counts holds each tenant's
     * number of schedules (the cap of core/cron.h), filled here from the
     * schedules already stored, so a create reads one row, not every
     * schedule of the tenant. */
    "ALTER TABLE jobs ADD COLUMN cron TEXT;"
    "CREATE TABLE cron_counts ("
    " tenant TEXT PRIMARY KEY,"
    " n INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO cron_counts (tenant, n) SELECT tenant, COUNT(*) FROM cron_schedules"
    " GROUP BY tenant;",
    /* 9: PostgreSQL's queue counter shares (pg_schema.c); one SQLite
     * connection writes the counters, so nothing changes here. The number is
     * taken so that a version means the same tables on both backends. */
    "SELECT 1;",
    /* 10: each tenant's number of queues (the cap of --max-queues), kept by
     * queue_ensure when it makes a queue and filled here from the queues
     * already stored, so a new queue reads one row, not every queue of the
     * tenant. Queues are never deleted, so the count only grows. */
    "CREATE TABLE queue_totals ("
    " tenant TEXT PRIMARY KEY,"
    " n INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO queue_totals (tenant, n) SELECT tenant, COUNT(*) FROM queues GROUP BY tenant;",
    /* 11: the dependency cascade's work list (store.h version 9, core/deps.h):
     * one row per ended job whose children with ids > after_id still wait to
     * be resolved, written only when a cascade is larger than one transaction
     * handles. The leader reads it in job_id order; purge looks rows up by
     * job_id. */
    "CREATE TABLE dep_work ("
    " job_id INTEGER PRIMARY KEY,"
    " after_id INTEGER NOT NULL"
    ") STRICT;",
    /* 12: a timer whose queue is at its max_depth is not fired but retried
     * later (core/timers.c): due_at is the instant the leader next tries it
     * (fire_at until a deferral moves it; fire_at itself keeps the instant the
     * version was due, for lateness and for the fired job) and deferred counts
     * the deferrals of the current version. The due index moves to due_at.
     * Audit refusals are counted per key, action, outcome and minute in one
     * row (core/keys.h audit_write): n is the number of calls the row stands
     * for, bucket that identity (NULL for successes, one row per call), unique
     * so that concurrent refusals on several nodes add to one row. audit_at
     * serves the retention purge. */
    "ALTER TABLE timers ADD COLUMN due_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE timers ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0;"
    "UPDATE timers SET due_at = fire_at;"
    "DROP INDEX timer_due;"
    "CREATE INDEX timer_due ON timers (due_at) WHERE state = 0;"
    "ALTER TABLE audit ADD COLUMN n INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE audit ADD COLUMN bucket TEXT;"
    "CREATE UNIQUE INDEX audit_bucket ON audit (bucket) WHERE bucket IS NOT NULL;"
    "CREATE INDEX audit_at ON audit (at);",
    /* 13: per-queue retention (docs/api.md "Queue settings"): a queue's own
     * retention of completed, dead and cancelled jobs in ms, 0 = the
     * server's. qlim_retention holds only the queues that have one, which
     * the purge and its deadline walk; job_tq_finished finds a queue's
     * oldest ended jobs of one state, the ones its own retention removes. */
    "ALTER TABLE queue_limits ADD COLUMN ret_completed_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE queue_limits ADD COLUMN ret_dead_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE queue_limits ADD COLUMN ret_cancelled_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX qlim_retention ON queue_limits (tenant, queue) WHERE"
    " (ret_completed_ms > 0 OR ret_dead_ms > 0 OR ret_cancelled_ms > 0);"
    "CREATE INDEX job_tq_finished ON jobs (tenant, queue, state, finished_at)"
    " WHERE state IN " JOB_SQL_TERMINAL ";",
    /* 14: the filters of GET /v1/jobs (store_job_list_index): one index per
     * filter, each ending in the rowid, so a page in either order and its
     * cursor come from the index. The columns most jobs leave NULL have
     * partial indexes of the rows that set them. */
    "CREATE INDEX job_tq ON jobs (tenant, queue);"
    "CREATE INDEX job_tstate ON jobs (tenant, state);"
    "CREATE INDEX job_ttype ON jobs (tenant, type);"
    "CREATE INDEX job_tgrp ON jobs (tenant, grp) WHERE grp IS NOT NULL;"
    "CREATE INDEX job_tdkey ON jobs (tenant, dkey) WHERE dkey IS NOT NULL;"
    "CREATE INDEX job_tidem ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX job_treq ON jobs (tenant, request_id) WHERE request_id IS NOT NULL;"
    "CREATE INDEX job_texec ON jobs (tenant, execution_id) WHERE execution_id IS NOT NULL;"
    "CREATE INDEX job_tworker ON jobs (tenant, worker) WHERE worker IS NOT NULL;",
    /* 15: the worker registry (store.h version 14, core/workers.h): one row
     * per worker of a tenant, written at most once per second per worker
     * and queue by claims and heartbeats (more often only when its counts
     * change, once per transaction). workers_seen serves the retention
     * purge; job_worker lists the jobs a worker holds (its in_flight), over
     * running jobs only, so it costs an index entry per running job. */
    "CREATE TABLE workers ("
    " tenant TEXT NOT NULL,"
    " id TEXT NOT NULL,"
    " info TEXT,"
    " queues TEXT NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " period_ms INTEGER NOT NULL,"
    " completed INTEGER NOT NULL,"
    " failed INTEGER NOT NULL,"
    " PRIMARY KEY (tenant, id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX workers_seen ON workers (last_seen);"
    "CREATE INDEX job_worker ON jobs (tenant, worker, id) WHERE state = " JOB_SQL_RUNNING ";",
    /* 16: jobs that must not run twice or too long. timeout_ms bounds an
     * attempt from its claim (core/jobs.c caps lease_until at the deadline,
     * so the lease sweep and its index job_lease end it). uniq marks a job
     * enqueued with unique_while "active": job_ukey makes its key unique
     * among such jobs that have not ended, race-free as job_key is for
     * pending keys, and job_akey finds any job that has not ended by key
     * (job_find_active). queue_limits gains the queue's default timeout;
     * cron_runs the payload members a manual run was given (JSON text, NULL
     * for other runs). */
    "ALTER TABLE jobs ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN uniq INTEGER NOT NULL DEFAULT 0;"
    "CREATE UNIQUE INDEX job_ukey ON jobs (tenant, queue, dkey)"
    " WHERE dkey IS NOT NULL AND uniq = 1 AND state IN " JOB_SQL_ACTIVE ";"
    "CREATE INDEX job_akey ON jobs (tenant, queue, dkey)"
    " WHERE dkey IS NOT NULL AND state IN " JOB_SQL_ACTIVE ";"
    "ALTER TABLE queue_limits ADD COLUMN def_timeout_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE cron_runs ADD COLUMN payload TEXT;",
    /* 17: two index entries fewer per job (issue 16). job_tenant (tenant,
     * id) and job_tq (tenant, queue, id) served the lists of a tenant's or a
     * queue's jobs in any state; those now read each state through
     * job_tstate (tenant, state, id) or job_tqs (tenant, queue, state, id)
     * and merge the pages by id (sqlite_jobs.c), still a page from the index
     * in either order. Every other read of jobs by tenant or queue names a
     * state or has an index of its own. */
    "DROP INDEX job_tenant;"
    "DROP INDEX job_tq;"
    /* The partial indexes over the ended and the active states had IN lists
     * of three and five states, which SQLite evaluates at every insert and
     * update of a job by building an ephemeral table (four per statement);
     * the same sets as ranges cost a comparison (job_state.h). */
    "DROP INDEX job_finished;"
    "CREATE INDEX job_finished ON jobs (state, finished_at) WHERE state" JOB_SQL_IS_TERMINAL ";"
    "DROP INDEX job_tq_finished;"
    "CREATE INDEX job_tq_finished ON jobs (tenant, queue, state, finished_at)"
    " WHERE state" JOB_SQL_IS_TERMINAL ";"
    "DROP INDEX job_ukey;"
    "CREATE UNIQUE INDEX job_ukey ON jobs (tenant, queue, dkey)"
    " WHERE dkey IS NOT NULL AND uniq = 1 AND state" JOB_SQL_IS_ACTIVE ";"
    "DROP INDEX job_akey;"
    "CREATE INDEX job_akey ON jobs (tenant, queue, dkey)"
    " WHERE dkey IS NOT NULL AND state" JOB_SQL_IS_ACTIVE ";",
    /* 18: a claim and a settle touch one entry of job_tqs and job_tstate
     * instead of two each (issue 16): running jobs leave both, so a claim
     * only deletes the queued entries and a settle only inserts the ended
     * ones (the two were a third of each UPDATE's instructions,
     * bench/sqlite_index_cost.py). The running jobs, a set as small as the
     * workers' concurrency, are read through job_lease, which now carries
     * tenant and queue so that counting a queue's running jobs reads the
     * index alone; lists of running jobs sort that set by id. */
    "DROP INDEX job_tqs;"
    "CREATE INDEX job_tqs ON jobs (tenant, queue, state) WHERE state <> " JOB_SQL_RUNNING ";"
    "DROP INDEX job_tstate;"
    "CREATE INDEX job_tstate ON jobs (tenant, state) WHERE state <> " JOB_SQL_RUNNING ";"
    "DROP INDEX job_lease;"
    "CREATE INDEX job_lease ON jobs (lease_until, tenant, queue) WHERE state = " JOB_SQL_RUNNING
    ";",
    /* 19: the stats series (core/stats.h): one row per queue, minute and
     * node with the minute's counters, added to by the transactions that
     * counted them, and the gauges the leader samples; tenant '' holds the
     * marks of the sampled minutes. stats_tat serves a tenant's series over
     * all its queues, stats_at the purge and the sample's reset. */
    "CREATE TABLE stats ("
    " tenant TEXT NOT NULL,"
    " queue TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " node TEXT NOT NULL,"
    " enqueued INTEGER NOT NULL DEFAULT 0,"
    " claimed INTEGER NOT NULL DEFAULT 0,"
    " completed INTEGER NOT NULL DEFAULT 0,"
    " retried INTEGER NOT NULL DEFAULT 0,"
    " dead INTEGER NOT NULL DEFAULT 0,"
    " cancelled INTEGER NOT NULL DEFAULT 0,"
    " expired INTEGER NOT NULL DEFAULT 0,"
    " depth INTEGER,"
    " running INTEGER,"
    " PRIMARY KEY (tenant, queue, at_ms, node)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX stats_tat ON stats (tenant, at_ms);"
    "CREATE INDEX stats_at ON stats (at_ms);",
    /* 20: dashboard sessions (store.h version 15, core/sessions.h): one row
     * per signed-in browser, keyed by the SHA-256 of its cookie; the CSRF
     * token is kept as its SHA-256 too, so the table holds no secret a
     * request could present. key_digest is the digest of the key's secret
     * at sign-in: the session works while the key accepts it (not revoked,
     * not expired, not rotated away). sessions_key serves a key's sessions,
     * oldest first (the per-key limit, the reload of one key). */
    "CREATE TABLE sessions ("
    " id TEXT PRIMARY KEY,"
    " csrf TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " key_digest TEXT NOT NULL,"
    " tenant TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX sessions_key ON sessions (key_id, created_at, id);",
    /* 21 (issue 18): the event log (core/events.h). One row per event, written once per transaction
     * before its commit and read in id order by GET /v1/events. The id is
     * the feed's order: one writer commits in id order, and AUTOINCREMENT
     * keeps an id from being handed out again after retention deleted the
     * newest rows. No secondary index: readers walk the rowid from their
     * cursor, and retention deletes from its head (docs/benchmarks.md says
     * what an index on (tenant, id) would cost and save). */
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " tenant TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " at INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " queue TEXT,"
    " data TEXT NOT NULL"
    ") STRICT;"
    /* "job_events": false of PATCH /v1/queues/{queue} (stored off, so
     * that every queue has them by default). */
    "ALTER TABLE queue_limits ADD COLUMN events_off INTEGER NOT NULL DEFAULT 0;",
};

int sqlite_schema_newest(void)
{
        return (int)BATON_ARRAY_LEN(migrations);
}

static int exec_sql(sqlite3 *db, const char *sql, const char *what)
{
        char *msg = NULL;
        int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

        if (rc == SQLITE_OK)
                return 0;
        log_error("store", "%s: %s (sqlite %d)", what, msg ? msg : sqlite3_errmsg(db), rc);
        sqlite3_free(msg);
        return (rc & 0xff) == SQLITE_NOMEM ? BATON_ENOMEM : BATON_ESTORE;
}

int sqlite_schema_read(sqlite3 *db, int *out)
{
        sqlite3_stmt *s = NULL;
        int rc;

        rc = sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                                &s, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *out = sqlite3_column_int(s, 0);
                rc = 0;
        } else {
                log_error("store", "reading the schema version: %s (sqlite %d)", sqlite3_errmsg(db),
                          rc);
                rc = BATON_ESTORE;
        }
        sqlite3_finalize(s);
        return rc;
}

static int record_version(sqlite3 *db, int version)
{
        sqlite3_stmt *s = NULL;
        int rc;

        rc = sqlite3_prepare_v2(
            db, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", -1, &s,
            NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_int(s, 1, version);
                sqlite3_bind_int64(s, 2, clock_wall_ms(clock_system()));
                rc = sqlite3_step(s);
        }
        if (rc != SQLITE_DONE) {
                log_error("store", "recording schema version %d: %s (sqlite %d)", version,
                          sqlite3_errmsg(db), rc);
                rc = BATON_ESTORE;
        } else {
                rc = 0;
        }
        sqlite3_finalize(s);
        return rc;
}

/* Applies migration `version` unless another process did it first: the version
 * is read again under the write lock that BEGIN IMMEDIATE takes. */
static int apply_one(sqlite3 *db, int version)
{
        int cur = 0;
        int rc;

        rc = exec_sql(db, "BEGIN IMMEDIATE", "beginning a migration");
        if (rc)
                return rc;
        rc = sqlite_schema_read(db, &cur);
        if (!rc && cur < version) {
                rc = exec_sql(db, migrations[version - 1], "applying a migration");
                if (!rc)
                        rc = record_version(db, version);
        }
        if (!rc)
                rc = exec_sql(db, "COMMIT", "committing a migration");
        if (rc) {
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                log_error("store", "schema migration %d failed", version);
                return rc;
        }
        if (cur < version)
                log_info("store", "applied schema migration %d", version);
        return 0;
}

int sqlite_migrate(sqlite3 *db)
{
        return sqlite_migrate_to(db, sqlite_schema_newest());
}

int sqlite_migrate_to(sqlite3 *db, int target)
{
        int newest = sqlite_schema_newest();
        int cur = 0;
        int rc;

        if (target < 0 || target > newest)
                return BATON_EINVAL;
        rc = exec_sql(db,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version INTEGER PRIMARY KEY, applied_at INTEGER) STRICT",
                      "creating schema_migrations");
        if (!rc)
                rc = sqlite_schema_read(db, &cur);
        if (rc)
                return rc;
        if (cur > newest) {
                log_error("store", "the store has schema version %d; this binary knows up to %d",
                          cur, newest);
                return BATON_ESCHEMA;
        }
        for (int v = cur + 1; v <= target && !rc; v++)
                rc = apply_one(db, v);
        return rc;
}
