/*
 * sqlite.c: the SQLite backend of struct store_ops, the default store of a
 * single node. One connection, used only by the store thread (opened with
 * SQLITE_OPEN_NOMUTEX: the store interface guarantees a single caller), in WAL
 * mode. The workload is group commit: the store thread runs a batch of short
 * operations inside one transaction, each isolated by a savepoint, then commits
 * once; so the per-operation cost is what matters, and every statement is
 * prepared once at open, kept in struct store and reset after each use. Text is
 * bound with SQLITE_STATIC because the caller's strings outlive the step.
 *
 * This file holds what every domain shares: the statement table
 * (sqlite_stmt_defs), the statement helpers, opening and closing the store,
 * transactions and savepoints, and the ops table that gathers the operations
 * of the per-domain files: job rows in sqlite_jobs.c, idempotency, queues,
 * tenants, keys and audit in sqlite_meta.c, timers in sqlite_timers.c,
 * dependencies and flows in sqlite_deps.c, queue limits, groups and rate
 * windows in sqlite_groups.c, cron in sqlite_cron.c, the leader lease in
 * sqlite_cluster.c and the plan checks in sqlite_plans.c. Their shared
 * declarations are in sqlite_internal.h. The schema and its indexes are in
 * sqlite_schema.c; sqlite_check_plans lets the conformance suite verify that
 * the hot queries use them. The database is opened through the VFS shim of
 * sqlite_vfs.c, which writes each commit's WAL frames with one call.
 */
#include "store/store.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/job_state.h"
#include "common/log.h"
#include "store/sqlite_internal.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000
/* The page cache holds the hot index pages (the ready, due and lease indexes
 * are partial, hence small); a bigger cache would mostly hold payloads of jobs
 * already handed out, and the server's memory budget (DESIGN §9: 32 MiB RSS
 * while processing 100k jobs) has to cover it. */
#define CACHE_SIZE_KIB 8192
#define SQL_MAX 8192

/* A qlim_get read: STORE_QLIM_SET_COLS, the counters, grouped and known. An
 * aggregate without GROUP BY gives one row even when the queue has none
 * (every column 0 then). */
#define QLIM_READ                                                                                  \
        "SELECT ?1, ?2, COALESCE(MAX(concurrency), 0), COALESCE(MAX(rate_max), 0),"                \
        " COALESCE(MAX(rate_per_ms), 0), COALESCE(MAX(max_depth), 0),"                             \
        " COALESCE(MAX(group_concurrency), 0), COALESCE(MAX(group_rate_max), 0),"                  \
        " COALESCE(MAX(group_rate_per_ms), 0), COALESCE(MAX(def_max_attempts), 0),"                \
        " COALESCE(MAX(def_lease_ms), 0), COALESCE(MAX(def_backoff_type), -1),"                    \
        " COALESCE(MAX(def_backoff_base_ms), 0), COALESCE(MAX(def_backoff_max_ms), 0),"            \
        " COALESCE(MAX(start_seq), 0), COALESCE(MAX(serve_seq), 0),"                               \
        " COALESCE(MAX(nogroup_served), 0), COALESCE(MAX(updated_at), 0),"                         \
        " COALESCE(MAX(ret_completed_ms), 0), COALESCE(MAX(ret_dead_ms), 0),"                      \
        " COALESCE(MAX(ret_cancelled_ms), 0),"                                                     \
        " COALESCE(MAX(def_timeout_ms), 0), COALESCE(MAX(events_off), 0),"                         \
        " COALESCE(MAX(depth), 0), COALESCE(MAX(running), 0),"                                     \
        " EXISTS (SELECT 1 FROM job_groups g WHERE g.tenant = ?1 AND g.queue = ?2),"               \
        " EXISTS (SELECT 1 FROM queues k WHERE k.tenant = ?1 AND k.name = ?2)"                     \
        " FROM queue_limits WHERE tenant = ?1 AND queue = ?2"

/* The event log's multi-row inserts: the parameters of row i are ?7i+1 ..
 * ?7i+7, in the order of STORE_EVENT_COLS without id. */
#define EVENT_INSERT "INSERT INTO events (tenant, type, at, kind, subject, queue, data) VALUES "
#define EVENT_ROW "(?, ?, ?, ?, ?, ?, ?)"
#define EVENT_ROWS4 EVENT_ROW "," EVENT_ROW "," EVENT_ROW "," EVENT_ROW
#define EVENT_ROWS16 EVENT_ROWS4 "," EVENT_ROWS4 "," EVENT_ROWS4 "," EVENT_ROWS4

/* The reads of cron schedules and runs: their columns, then the terms. */
#define SCHED_SELECT "SELECT " STORE_SCHED_COLS " FROM cron_schedules WHERE "
#define RUN_SELECT "SELECT " STORE_RUN_COLS " FROM cron_runs WHERE "

/* Statements over the partial indexes repeat the index's WHERE term (such as
 * "state >= 5") even when a stricter term follows, because SQLite uses a
 * partial index only when the query's WHERE visibly implies the index's. A
 * range over the ended states is wrapped in likely(), which the implication
 * looks through: without it the planner would take the range on state, not
 * the equality that follows, and sort what it reads. */
const struct stmt_def sqlite_stmt_defs[S_AUDIT_LIST] = {
    [S_BEGIN] = {"begin", "BEGIN IMMEDIATE", false},
    [S_COMMIT] = {"commit", "COMMIT", false},
    [S_ROLLBACK] = {"rollback", "ROLLBACK", false},
    [S_SAVEPOINT] = {"savepoint", "SAVEPOINT op", false},
    [S_RELEASE] = {"release", "RELEASE op", false},
    [S_ROLLBACK_TO] = {"rollback_to", "ROLLBACK TO op", false},
    [S_VERSION] = {"schema_version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                   false},
    [S_JOB_INSERT] = {"job_insert", NULL, false},
    [S_JOB_GET] = {"job_get", NULL, true, "rowid"},
    [S_JOB_UPDATE] = {"job_update", NULL, true, "rowid"},
    [S_JOB_UPDATE_RUN] = {"job_update_run", NULL, true, "rowid"},
    [S_JOB_UPDATE_SETTLE] = {"job_update_settle", NULL, true, "rowid"},
    [S_JOB_FIND_KEY] = {"job_find_key",
                        "SELECT id FROM jobs WHERE tenant = ?1 AND queue = ?2 AND dkey = ?3"
                        " AND dkey IS NOT NULL AND state IN " JOB_SQL_KEY_HOLDERS,
                        true, "job_key"},
    /* A range on state would make job_tqs look as good to a planner
     * without statistics: it would walk the queue's active jobs. */
    [S_JOB_FIND_ACTIVE] =
        {"job_find_active",
         "SELECT id FROM jobs INDEXED BY job_akey WHERE tenant = ?1 AND queue = ?2 AND dkey = ?3"
         " AND dkey IS NOT NULL AND state" JOB_SQL_IS_ACTIVE " LIMIT 1",
         true, "job_akey"},
    [S_JOB_DUE] = {"job_due_ids",
                   "SELECT id FROM jobs WHERE state IN " JOB_SQL_DUE " AND run_at <= ?1"
                   " ORDER BY run_at LIMIT ?2",
                   true, "job_due"},
    [S_JOB_EXPIRED] = {"job_expired_ids",
                       "SELECT id FROM jobs WHERE state = " JOB_SQL_RUNNING " AND lease_until <= ?1"
                       " ORDER BY lease_until LIMIT ?2",
                       true, "job_lease"},
    /* A step moves the leases of the running jobs only: job_lease holds them. */
    [S_JOB_SHIFT_LEASES] = {"job_shift_leases",
                            "UPDATE jobs INDEXED BY job_lease SET lease_until = lease_until + ?1,"
                            " started_at = started_at + ?1 WHERE state = " JOB_SQL_RUNNING,
                            false},
    /* job_tqs holds every state but running (migration 18): the running
     * jobs of a queue are found through job_lease, sorted by id. */
    [S_JOB_STATE_IDS] = {"job_state_ids",
                         "SELECT id FROM jobs INDEXED BY job_tqs WHERE tenant = ?1 AND queue = ?2"
                         " AND state = ?3 AND state <> " JOB_SQL_RUNNING
                         " AND id > ?4 ORDER BY id LIMIT ?5",
                         true, "job_tqs"},
    /* Not plan-checked: it walks job_lease and sorts, on purpose, because
     * the running jobs are as many as the workers run at once. */
    [S_JOB_RUNNING_IDS] = {"job_running_ids",
                           "SELECT id FROM jobs INDEXED BY job_lease WHERE state = " JOB_SQL_RUNNING
                           " AND tenant = ?1 AND queue = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
                           false},
    [S_JOB_PURGE] = {"job_purge",
                     "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                     " WHERE likely(state" JOB_SQL_IS_TERMINAL
                     ") AND state = ?1 AND finished_at < ?2"
                     " AND NOT EXISTS (SELECT 1 FROM dep_work w WHERE w.job_id = jobs.id)"
                     " ORDER BY finished_at LIMIT ?3)",
                     true, "rowid job_finished"},
    [S_JOB_DELETE] = {"job_delete",
                      "DELETE FROM jobs WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"
                      " AND NOT EXISTS (SELECT 1 FROM dep_work w WHERE w.job_id = ?1)",
                      true, "rowid"},
    /* Per-queue retention: the queues with one (qlim_retention), each one's
     * oldest ended jobs of the state (job_tq_finished). CROSS JOIN keeps
     * that order: driven from the jobs, the bound on finished_at depends on
     * the queue and every ended job of the state would be read. */
    [S_JOB_PURGE_OWN] = {"job_purge_own",
                         "DELETE FROM jobs WHERE id IN (SELECT j.id FROM queue_limits q"
                         " CROSS JOIN jobs j ON j.tenant = q.tenant AND j.queue = q.queue"
                         " AND likely(j.state" JOB_SQL_IS_TERMINAL ") AND j.state = ?1"
                         " AND j.finished_at < ?2 - " STORE_RET_OF(
                             "?1") " WHERE " STORE_RET_ANY
                                   " AND " STORE_RET_OF(
                                       "?1") " > 0 AND NOT EXISTS (SELECT 1 FROM dep_work w"
                                             " WHERE w.job_id = j.id) LIMIT ?3)",
                         true, "rowid qlim_retention job_tq_finished"},
    [S_JOB_OWN_DEADLINE] = {"job_own_deadline",
                            "SELECT MIN(at) FROM (SELECT (SELECT j.finished_at FROM jobs j"
                            " WHERE likely(j.state" JOB_SQL_IS_TERMINAL ") AND j.tenant = q.tenant"
                            " AND j.queue = q.queue AND j.state = s.st ORDER BY j.finished_at"
                            " LIMIT 1) + " STORE_RET_OF(
                                "s.st") " AS at FROM queue_limits q,"
                                        " (SELECT " JOB_SQL_COMPLETED
                                        " AS st UNION ALL SELECT " JOB_SQL_DEAD
                                        " UNION ALL SELECT " JOB_SQL_CANCELLED
                                        ") s WHERE " STORE_RET_ANY
                                        " AND " STORE_RET_OF("s.st") " > 0)",
                            true, "qlim_retention job_tq_finished"},
    [S_DEADLINES] = {"deadlines",
                     "SELECT"
                     " (SELECT run_at FROM jobs WHERE state IN " JOB_SQL_DUE
                     " ORDER BY run_at LIMIT 1),"
                     " (SELECT lease_until FROM jobs WHERE state = " JOB_SQL_RUNNING
                     "  ORDER BY lease_until LIMIT 1),"
                     " (SELECT finished_at FROM jobs WHERE likely(state" JOB_SQL_IS_TERMINAL ")"
                     " AND state = " JOB_SQL_COMPLETED "  ORDER BY finished_at LIMIT 1),"
                     " (SELECT finished_at FROM jobs WHERE likely(state" JOB_SQL_IS_TERMINAL ")"
                     " AND state = " JOB_SQL_DEAD "  ORDER BY finished_at LIMIT 1),"
                     " (SELECT finished_at FROM jobs WHERE likely(state" JOB_SQL_IS_TERMINAL ")"
                     " AND state = " JOB_SQL_CANCELLED "  ORDER BY finished_at LIMIT 1),"
                     " (SELECT expires_at FROM idempotency ORDER BY expires_at LIMIT 1),"
                     " (SELECT job_id FROM dep_work WHERE job_id > 0 LIMIT 1),"
                     " (SELECT at FROM audit ORDER BY at LIMIT 1),"
                     " (SELECT last_seen FROM workers ORDER BY last_seen LIMIT 1)",
                     true,
                     "job_due job_lease job_finished idem_expiry rowid audit_at workers_seen"},
    [S_IDEM_GET] = {"idem_get",
                    "SELECT " STORE_IDEM_COLS " FROM idempotency"
                    " WHERE tenant = ?1 AND key = ?2",
                    true, "PRIMARY"},
    [S_IDEM_PUT] = {"idem_put",
                    "INSERT INTO idempotency (" STORE_IDEM_COLS ")"
                    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, key) DO UPDATE SET"
                    " job_id = excluded.job_id, payload_hash = excluded.payload_hash,"
                    " expires_at = excluded.expires_at",
                    false},
    [S_IDEM_PURGE] = {"idem_purge",
                      "DELETE FROM idempotency WHERE (tenant, key) IN (SELECT tenant, key"
                      " FROM idempotency WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
                      true, "PRIMARY idem_expiry"},
    [S_QUEUE_ENSURE] = {"queue_ensure",
                        "INSERT INTO queues (tenant, name, paused, created_at, updated_at)"
                        " VALUES (?1, ?2, 0, ?3, ?3) ON CONFLICT (tenant, name) DO NOTHING",
                        false},
    [S_QUEUE_TOTAL_ADD] = {"queue_total_add",
                           "INSERT INTO queue_totals (tenant, n) VALUES (?1, 1)"
                           " ON CONFLICT (tenant) DO UPDATE SET n = n + 1",
                           false},
    [S_QUEUE_DELETE] = {"queue_delete", "DELETE FROM queues WHERE tenant = ?1 AND name = ?2", true,
                        "PRIMARY"},
    [S_QUEUE_TOTAL_SUB] = {"queue_total_sub", "UPDATE queue_totals SET n = n - 1 WHERE tenant = ?1",
                           true, "PRIMARY"},
    [S_QUEUE_GROUPS_DELETE] = {"queue_groups_delete",
                               "DELETE FROM job_groups WHERE tenant = ?1 AND queue = ?2", true,
                               "PRIMARY"},
    [S_QUEUE_RATES_DELETE] = {"queue_rates_delete",
                              "DELETE FROM rate_log WHERE tenant = ?1 AND queue = ?2", true,
                              "PRIMARY"},
    [S_QUEUE_TOTAL] = {"queue_total", "SELECT n FROM queue_totals WHERE tenant = ?1", true,
                       "PRIMARY"},
    [S_QUEUE_GET] = {"queue_get",
                     "SELECT " STORE_QUEUE_COLS " FROM queues"
                     " WHERE tenant = ?1 AND name = ?2",
                     true, "PRIMARY"},
    [S_QUEUE_PUT] = {"queue_put",
                     "INSERT INTO queues (" STORE_QUEUE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)"
                     " ON CONFLICT (tenant, name) DO UPDATE SET paused = excluded.paused,"
                     " updated_at = excluded.updated_at",
                     false},
    [S_QUEUE_LIST] = {"queue_list",
                      "SELECT " STORE_QUEUE_COLS " FROM queues"
                      " WHERE tenant = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
                      true, "PRIMARY"},
    /* Running jobs are not in job_tqs (migration 18): job_lease counts them
     * from its entries alone (lease_until, tenant, queue). */
    [S_QUEUE_COUNTS] = {"queue_counts",
                        "SELECT state, COUNT(*) FROM jobs INDEXED BY job_tqs WHERE tenant = ?1"
                        " AND queue = ?2 AND state <> " JOB_SQL_RUNNING " GROUP BY state"
                        " UNION ALL SELECT " JOB_SQL_RUNNING ", COUNT(*) FROM jobs INDEXED BY"
                        " job_lease WHERE state = " JOB_SQL_RUNNING
                        " AND tenant = ?1 AND queue = ?2",
                        true, "job_tqs job_lease"},
    [S_QUEUE_OLDEST] =
        {"queue_oldest",
         "SELECT MIN(ready_at) FROM jobs INDEXED BY job_tqs WHERE state = " JOB_SQL_QUEUED
         " AND state <> " JOB_SQL_RUNNING " AND tenant = ?1"
         " AND queue = ?2",
         true, "job_tqs"},
    [S_TENANT_ENSURE] = {"tenant_ensure",
                         "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)"
                         " ON CONFLICT (name) DO NOTHING",
                         false},
    [S_KEY_INSERT] = {"key_insert",
                      "INSERT INTO api_keys (" STORE_KEY_COLS ")"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                      false},
    [S_KEY_GET] = {"key_get", "SELECT " STORE_KEY_COLS " FROM api_keys WHERE id = ?1", true,
                   "PRIMARY"},
    [S_KEY_UPDATE] = {"key_update",
                      "UPDATE api_keys SET name = ?2, digest = ?3, prev_digest = ?4,"
                      " prev_until = ?5, scopes = ?6, expires_at = ?7, revoked_at = ?8,"
                      " rotated_at = ?9, rate_max = ?10, rate_per_ms = ?11, created_by = ?12"
                      " WHERE id = ?1",
                      true, "PRIMARY"},
    [S_KEY_LIST_TENANT] = {"key_list_tenant",
                           "SELECT " STORE_KEY_COLS " FROM api_keys WHERE tenant = ?1 AND id > ?2"
                           " ORDER BY id LIMIT ?3",
                           true, "key_tenant"},
    [S_KEY_LIST_ALL] = {"key_list_all",
                        "SELECT " STORE_KEY_COLS " FROM api_keys"
                        " WHERE id > ?1 ORDER BY id LIMIT ?2",
                        true, "PRIMARY"},
    /* Not plan-checked: it counts the whole (small) table by design, once, when
     * the server starts and decides whether to make the bootstrap key. */
    [S_KEY_COUNT] = {"key_count", "SELECT COUNT(*) FROM api_keys", false},
    [S_AUDIT_INSERT] = {"audit_insert",
                        "INSERT INTO audit (at, key_id, tenant, action, target, request_id, status,"
                        " code, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        false},
    /* A refusal adds to the row of its bucket (migration 9): the row keeps
     * the first refusal's time and shows the latest one's target and request
     * id. */
    [S_AUDIT_BUMP] =
        {"audit_bump",
         "INSERT INTO audit (at, key_id, tenant, action, target, request_id, status,"
         " code, detail, n, bucket) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11,"
         " ?10)"
         " ON CONFLICT (bucket) WHERE bucket IS NOT NULL DO UPDATE SET n = n + excluded.n,"
         " target = excluded.target, request_id = excluded.request_id"
         " RETURNING id, n",
         false},
    [S_AUDIT_PURGE] = {"audit_purge",
                       "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1"
                       " ORDER BY at LIMIT ?2)",
                       true, "rowid audit_at"},
    [S_TIMER_GET] = {"timer_get",
                     "SELECT " STORE_TIMER_COLS " FROM timers WHERE tenant = ?1 AND key = ?2", true,
                     "PRIMARY"},
    [S_TIMER_PUT] = {"timer_put",
                     "INSERT OR REPLACE INTO timers (" STORE_TIMER_COLS ") VALUES (?1, ?2, ?3,"
                     " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
                     " ?20, ?21, ?22)",
                     false},
    /* ?3..?4 bound the prefix: keys are printable ASCII, all below 0x7f. */
    [S_TIMER_LIST] = {"timer_list",
                      "SELECT " STORE_TIMER_COLS " FROM timers WHERE tenant = ?1 AND key > ?2"
                      " AND key >= ?3 AND key < ?4 ORDER BY key LIMIT ?5",
                      true, "PRIMARY"},
    [S_TIMER_DUE] = {"timer_due",
                     "SELECT " STORE_TIMER_COLS " FROM timers WHERE state = 0 AND due_at <= ?1"
                     " ORDER BY due_at LIMIT ?2",
                     true, "timer_due"},
    [S_TIMER_NEXT] = {"timer_next",
                      "SELECT due_at FROM timers WHERE state = 0 ORDER BY due_at LIMIT 1", true,
                      "timer_due"},
    [S_DEP_INSERT] = {"dep_insert",
                      "INSERT INTO job_deps (parent_id, child_id, tenant) VALUES (?1, ?2, ?3)",
                      false},
    [S_DEP_CHILDREN] = {"dep_children",
                        "SELECT child_id FROM job_deps WHERE parent_id = ?1 AND child_id > ?2"
                        " ORDER BY child_id LIMIT ?3",
                        true, "PRIMARY"},
    [S_FLOW_INSERT] = {"flow_insert",
                       "INSERT INTO flows (tenant, created_at, request_id) VALUES (?1, ?2, ?3)",
                       false},
    [S_FLOW_GET] = {"flow_get",
                    "SELECT " STORE_FLOW_COLS " FROM flows WHERE id = ?1"
                    " AND tenant = ?2",
                    true, "rowid"},
    [S_FLOW_JOBS] = {"flow_job_ids",
                     "SELECT id FROM jobs WHERE flow_id > 0 AND flow_id = ?2 AND tenant = ?1"
                     " AND id > ?3 ORDER BY id LIMIT ?4",
                     true, "job_flow"},
    /* version 5: queue limits and groups. */
    [S_QLIM_GET] = {"qlim_get", QLIM_READ, true, "PRIMARY"},
    [S_QLIM_PUT] = {"qlim_put",
                    "INSERT INTO queue_limits (" STORE_QLIM_SET_COLS ") VALUES (?1, ?2, ?3, ?4,"
                    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
                    "?21, ?22, ?23)" STORE_QLIM_UPSERT,
                    false},
    [S_QLIM_ADD] = {"qlim_add",
                    "INSERT INTO queue_limits (tenant, queue, depth, running) VALUES (?1, ?2, ?3,"
                    " ?4) ON CONFLICT (tenant, queue) DO UPDATE SET depth = depth + excluded.depth,"
                    " running = running + excluded.running",
                    false},
    [S_QLIM_MAKE] = {"qlim_make",
                     "INSERT INTO queue_limits (tenant, queue) VALUES (?1, ?2)"
                     " ON CONFLICT (tenant, queue) DO NOTHING",
                     false},
    [S_GROUP_GET] = {"group_get",
                     "SELECT " STORE_GROUP_COLS " FROM job_groups WHERE tenant = ?1 AND queue = ?2"
                     " AND grp = ?3",
                     true, "PRIMARY"},
    [S_GROUP_PUT] = {"group_put",
                     "INSERT OR REPLACE INTO job_groups (" STORE_GROUP_COLS ")"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                     false},
    [S_GROUP_DELETE] = {"group_delete",
                        "DELETE FROM job_groups WHERE tenant = ?1 AND queue = ?2 AND grp = ?3",
                        true, "PRIMARY"},
    [S_GROUP_RATE_DELETE] = {"group_rate_delete",
                             "DELETE FROM rate_log WHERE tenant = ?1 AND queue = ?2 AND grp = ?3",
                             true, "PRIMARY"},
    [S_GROUP_NOTE_READY] =
        {"group_note_ready",
         "INSERT INTO job_groups (" STORE_GROUP_COLS ")"
         " VALUES (?1, ?2, ?3, 0, ?4, COALESCE((SELECT serve_seq FROM queue_limits"
         " WHERE tenant = ?1 AND queue = ?2), 0), 0, 0, 0, 0)"
         " ON CONFLICT (tenant, queue, grp) DO UPDATE SET head = excluded.head"
         " WHERE head IS NULL OR head > excluded.head",
         false},
    [S_GROUP_PICK] = {"group_pick",
                      "SELECT " STORE_GROUP_COLS " FROM job_groups WHERE head IS NOT NULL"
                      " AND tenant = ?1 AND queue = ?2 AND blocked = 0"
                      " ORDER BY head, served, grp LIMIT ?3",
                      true, "group_pick"},
    [S_GROUP_UNBLOCK] = {"group_unblock",
                         "UPDATE job_groups SET blocked = (?4 > 0 AND running >= ?4), until_at = 0"
                         " WHERE until_at > 0 AND tenant = ?1 AND queue = ?2 AND until_at <= ?3",
                         true, "group_until"},
    [S_GROUP_UNBLOCK_ALL] = {"group_unblock_all",
                             "UPDATE job_groups SET blocked = (?3 > 0 AND running >= ?3),"
                             " until_at = 0 WHERE tenant = ?1 AND queue = ?2",
                             true, "PRIMARY"},
    [S_GROUP_NEXT_UNTIL] = {"group_next_until",
                            "SELECT until_at FROM job_groups WHERE until_at > 0 AND tenant = ?1"
                            " AND queue = ?2 AND head IS NOT NULL ORDER BY until_at LIMIT 1",
                            true, "group_until"},
    [S_GROUP_READY] = {"group_ready_ids",
                       "SELECT id, priority FROM jobs WHERE state = " JOB_SQL_QUEUED
                       " AND tenant = ?1"
                       " AND queue = ?2 AND grp = ?3 ORDER BY priority, run_at, id LIMIT ?4",
                       true, "job_group_ready"},
    [S_NOGROUP_READY] = {"nogroup_ready_ids",
                         "SELECT id, priority FROM jobs WHERE state = " JOB_SQL_QUEUED
                         " AND tenant = ?1"
                         " AND queue = ?2 AND grp IS NULL ORDER BY priority, run_at, id LIMIT ?4",
                         true, "job_group_ready"},
    [S_RATE_GET] = {"rate_get",
                    "SELECT at FROM rate_log WHERE tenant = ?1 AND queue = ?2 AND grp = ?3"
                    " AND seq = ?4",
                    true, "PRIMARY"},
    [S_RATE_PUT] = {"rate_put",
                    "INSERT OR REPLACE INTO rate_log (tenant, queue, grp, seq, at)"
                    " VALUES (?1, ?2, ?3, ?4, ?5)",
                    false},
    [S_RATE_TRIM] = {"rate_trim",
                     "DELETE FROM rate_log WHERE tenant = ?1 AND queue = ?2 AND grp = ?3"
                     " AND seq < ?4",
                     true, "PRIMARY"},
    [S_RATE_CLAMP] = {"rate_clamp",
                      "UPDATE rate_log SET at = ?4 WHERE tenant = ?1 AND queue = ?2 AND grp = ?3"
                      " AND at > ?4",
                      false},
    /* version 9: the dependency cascade's work list (store.h). */
    [S_DEP_WORK_PUT] = {"dep_work_put",
                        "INSERT INTO dep_work (job_id, after_id) VALUES (?1, ?2)"
                        " ON CONFLICT (job_id) DO UPDATE SET after_id = excluded.after_id",
                        false},
    [S_DEP_WORK_NEXT] = {"dep_work_next",
                         "SELECT job_id, after_id FROM dep_work WHERE job_id > 0"
                         " ORDER BY job_id LIMIT ?1",
                         true, "rowid"},
    [S_DEP_WORK_ADVANCE] = {"dep_work_advance",
                            "UPDATE dep_work SET after_id = ?3 WHERE job_id = ?1"
                            " AND after_id = ?2",
                            true, "rowid"},
    [S_DEP_WORK_DONE] = {"dep_work_done",
                         "DELETE FROM dep_work WHERE job_id = ?1 AND after_id = ?2", true, "rowid"},
    /* Cron schedules and runs (migration 3): a handful per schedule fire and
     * per cron API call; not plan-checked. */
    [S_CRON_PUT] = {"cron_put",
                    "INSERT OR REPLACE INTO cron_schedules (" STORE_SCHED_COLS ") VALUES (?1, ?2,"
                    " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    false},
    [S_CRON_GET] = {"cron_get", SCHED_SELECT "tenant = ?1 AND key = ?2", false},
    [S_CRON_DELETE] = {"cron_delete", "DELETE FROM cron_schedules WHERE tenant = ?1 AND key = ?2",
                       false},
    [S_CRON_DELETE_RUNS] = {"cron_delete_runs",
                            "DELETE FROM cron_runs WHERE tenant = ?1 AND key = ?2", false},
    [S_CRON_LIST] = {"cron_list", SCHED_SELECT "tenant = ?1 AND key > ?2 ORDER BY key LIMIT ?3",
                     false},
    [S_CRON_DUE] = {"cron_due", SCHED_SELECT "due_at > 0 AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
                    false},
    [S_CRON_NEXT_DUE] = {"cron_next_due", "SELECT MIN(due_at) FROM cron_schedules WHERE due_at > 0",
                         false},
    [S_CRON_RUN_INSERT] = {"cron_run_insert",
                           "INSERT INTO cron_runs (tenant, key, scheduled_at, fired_at, trigger,"
                           " job_id, status, reason, requested_by, payload) VALUES (?1, ?2, ?3,"
                           " ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                           false},
    [S_CRON_RUN_UPDATE] = {"cron_run_update",
                           "UPDATE cron_runs SET job_id = ?3, status = ?4, reason = ?5,"
                           " fired_at = ?6 WHERE tenant = ?1 AND id = ?2",
                           false},
    [S_CRON_RUN_GET] = {"cron_run_get", RUN_SELECT "tenant = ?1 AND id = ?2", false},
    [S_CRON_RUN_LIST] = {"cron_run_list",
                         RUN_SELECT
                         "tenant = ?1 AND key = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4",
                         false},
    [S_CRON_RUN_COUNT] = {"cron_run_count",
                          "SELECT COUNT(*) FROM cron_runs WHERE tenant = ?1 AND key = ?2"
                          " AND trigger = ?3 AND fired_at >= ?4",
                          false},
    /* The id of the keep-th newest run bounds what stays; older ones go. */
    [S_CRON_RUN_TRIM] = {"cron_run_trim",
                         "DELETE FROM cron_runs WHERE tenant = ?1 AND key = ?2 AND id <= COALESCE(("
                         "SELECT id FROM cron_runs WHERE tenant = ?1 AND key = ?2"
                         " ORDER BY id DESC LIMIT 1 OFFSET ?3), 0)",
                         false},
    /* (tenant, key, scheduled_at) is unique: its index ends the walk at once. */
    [S_CRON_LAST_TICK] = {"cron_last_tick",
                          "SELECT COALESCE(MAX(scheduled_at), 0) FROM cron_runs"
                          " WHERE tenant = ?1 AND key = ?2",
                          false},
    [S_CRON_COUNT_ADD] = {"cron_count_add",
                          "INSERT INTO cron_counts (tenant, n) VALUES (?1, ?2) ON CONFLICT (tenant)"
                          " DO UPDATE SET n = n + excluded.n RETURNING n",
                          false},
    /* The leader lease (migration 6): one row, read and written once a second. */
    [S_LEASE_GET] = {"lease_get", "SELECT " STORE_LEASE_COLS " FROM leader_lease WHERE id = 1",
                     false},
    [S_LEASE_PUT] = {"lease_put",
                     "INSERT INTO leader_lease (id, " STORE_LEASE_COLS ") VALUES (1, ?1, ?2, ?3,"
                     " ?4, ?5) ON CONFLICT (id) DO UPDATE SET node = ?1, epoch = ?2,"
                     " lease_until = ?3, heartbeat_at = ?4, lag_ms = ?5",
                     false},
    /* version 14: the worker registry. ?4 is the queue claimed from (NULL:
     * none), appended to the JSON array of queues unless present or full. */
    [S_WORKER_SEEN] =
        {"worker_seen",
         "INSERT INTO workers (" STORE_WORKER_COLS ") VALUES (?1, ?2, ?3,"
         " CASE WHEN ?4 IS NULL THEN '[]' ELSE json_array(?4) END, ?5, ?5, ?6, ?7, ?8)"
         " ON CONFLICT (tenant, id) DO UPDATE SET info = COALESCE(excluded.info, info),"
         " queues = CASE WHEN ?4 IS NULL OR json_array_length(workers.queues) >= ?9"
         " OR EXISTS (SELECT 1 FROM json_each(workers.queues) q WHERE q.value = ?4)"
         " THEN workers.queues ELSE json_insert(workers.queues, '$[#]', ?4) END,"
         " last_seen = MAX(last_seen, excluded.last_seen),"
         " period_ms = CASE WHEN excluded.period_ms > 0 THEN excluded.period_ms"
         " ELSE period_ms END,"
         " completed = completed + excluded.completed, failed = failed + excluded.failed",
         false},
    [S_WORKER_GET] = {"worker_get",
                      "SELECT " STORE_WORKER_COLS " FROM workers WHERE tenant = ?1 AND id = ?2",
                      true, "PRIMARY"},
    [S_WORKER_LIST] = {"worker_list",
                       "SELECT " STORE_WORKER_COLS " FROM workers WHERE tenant = ?1 AND id > ?2"
                       " ORDER BY id LIMIT ?3",
                       true, "PRIMARY"},
    [S_WORKER_JOBS] =
        {"worker_jobs",
         /* job_tworker (the job list's worker filter) would
          * serve too, over every job the worker ever ran. */
         "SELECT id, lease_ms FROM jobs INDEXED BY job_worker WHERE state = " JOB_SQL_RUNNING
         " AND tenant = ?1 AND worker = ?2 AND lease_until > ?3"
         " ORDER BY id"
         " LIMIT ?4",
         true, "job_worker"},
    /* version 19: the stats series (sqlite_stats.c). */
    [S_STATS_ADD] = {"stats_add",
                     "INSERT INTO stats (tenant, queue, at_ms, node, " STORE_STATS_COLS ")"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                     " ON CONFLICT (tenant, queue, at_ms, node) DO UPDATE SET"
                     " enqueued = enqueued + excluded.enqueued,"
                     " claimed = claimed + excluded.claimed,"
                     " completed = completed + excluded.completed,"
                     " retried = retried + excluded.retried, dead = dead + excluded.dead,"
                     " cancelled = cancelled + excluded.cancelled,"
                     " expired = expired + excluded.expired",
                     false},
    /* A sample replaces the minute's earlier one by this node: a queue
     * that has since dropped to 0 keeps no stale gauge. */
    [S_STATS_UNSAMPLE] = {"stats_unsample",
                          "UPDATE stats SET depth = NULL, running = NULL"
                          " WHERE at_ms = ?1 AND node = ?2 AND depth IS NOT NULL",
                          true, "stats_at"},
    [S_STATS_SAMPLE] = {"stats_sample",
                        "INSERT INTO stats (tenant, queue, at_ms, node, depth, running)"
                        " SELECT tenant, queue, ?1, ?2, depth, running FROM queue_limits"
                        " WHERE depth > 0 OR running > 0"
                        " ON CONFLICT (tenant, queue, at_ms, node) DO UPDATE SET"
                        " depth = excluded.depth, running = excluded.running",
                        false},
    /* The minute's mark: tenant '' (no tenant has that name). */
    [S_STATS_MARK] = {"stats_mark",
                      "INSERT INTO stats (tenant, queue, at_ms, node, depth, running)"
                      " VALUES ('', '', ?1, ?2, ?3, 0) ON CONFLICT (tenant, queue, at_ms, node)"
                      " DO UPDATE SET depth = excluded.depth",
                      false},
    [S_STATS_QUEUE] = {"stats_queue",
                       "SELECT at_ms, " STORE_STATS_SUMS " FROM stats WHERE tenant = ?1"
                       " AND queue = ?2 AND at_ms >= ?3 AND at_ms < ?4 GROUP BY at_ms",
                       true, "PRIMARY"},
    [S_STATS_TENANT] = {"stats_tenant",
                        "SELECT at_ms, " STORE_STATS_SUMS " FROM stats INDEXED BY stats_tat"
                        " WHERE tenant = ?1 AND at_ms >= ?2 AND at_ms < ?3 GROUP BY at_ms",
                        true, "stats_tat"},
    [S_STATS_MARKS] = {"stats_marks",
                       "SELECT DISTINCT at_ms FROM stats WHERE tenant = '' AND queue = ''"
                       " AND at_ms >= ?1 AND at_ms < ?2",
                       true, "PRIMARY"},
    [S_STATS_PURGE] = {"stats_purge",
                       "DELETE FROM stats WHERE (tenant, queue, at_ms, node) IN (SELECT tenant,"
                       " queue, at_ms, node FROM stats WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)",
                       true, "stats_at"},
    [S_WORKER_PURGE] = {"worker_purge",
                        "DELETE FROM workers WHERE (tenant, id) IN (SELECT tenant, id FROM workers"
                        " WHERE last_seen < ?1 ORDER BY last_seen LIMIT ?2)",
                        true, "PRIMARY workers_seen"},
    /* version 15: dashboard sessions (sqlite_sessions.c). The list's cursor
     * is a row value: (key_id, created_at, id) after the last one read. */
    [S_SESSION_INSERT] = {"session_insert",
                          "INSERT INTO sessions (" STORE_SESSION_COLS ")"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                          false},
    [S_SESSION_DELETE] = {"session_delete", "DELETE FROM sessions WHERE id = ?1", false},
    [S_SESSION_LIST] =
        {"session_list",
         "SELECT " STORE_SESSION_COLS " FROM sessions"
         " WHERE (?1 IS NULL OR key_id = ?1) AND (key_id, created_at, id) > (?2, ?3, ?4)"
         " ORDER BY key_id, created_at, id LIMIT ?5",
         false},
    /* version 16: the event log (sqlite_events.c): inserts of 1, 4, 16 and
     * 64 rows, so that a batch's events cost a few statements (each pays
     * its own step, reset and AUTOINCREMENT bookkeeping once). */
    [S_EVENT_INSERT] = {"event_insert", EVENT_INSERT EVENT_ROW, false},
    [S_EVENT_INSERT4] = {"event_insert4", EVENT_INSERT EVENT_ROWS4, false},
    [S_EVENT_INSERT16] = {"event_insert16", EVENT_INSERT EVENT_ROWS16, false},
    [S_EVENT_INSERT64] = {"event_insert64",
                          EVENT_INSERT EVENT_ROWS16 "," EVENT_ROWS16 "," EVENT_ROWS16
                                                    "," EVENT_ROWS16,
                          false},
    [S_EVENT_SCAN] = {"event_scan",
                      "SELECT " STORE_EVENT_COLS " FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
                      true, "rowid"},
    /* Oldest first, among the max oldest: at grows with id (one writer, one
     * clock), so the walk stops at the first young event instead of
     * reading the whole table to find none. */
    [S_EVENT_PURGE_AGE] = {"event_purge_age",
                           "DELETE FROM events WHERE id IN (SELECT id FROM (SELECT id, at"
                           " FROM events ORDER BY id LIMIT ?2) WHERE at < ?1)",
                           false},
    /* Ids are consecutive (deletes only take the oldest, AUTOINCREMENT
     * never reuses one), so the count is max - min + 1 without a scan. */
    [S_EVENT_PURGE_COUNT] = {"event_purge_count",
                             "DELETE FROM events WHERE id IN (SELECT id FROM events"
                             " WHERE id <= (SELECT MAX(id) FROM events) - ?1 ORDER BY id LIMIT ?2)",
                             false},
};

/* ---- errors and statement helpers (sqlite_internal.h) ---- */

int sqlite_fail(struct store *st, int rc, const char *what)
{
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                return BATON_ECONFLICT;
        log_error("store", "%s: %s (sqlite %d)", what, sqlite3_errmsg(st->db), rc);
        if ((rc & 0xff) == SQLITE_NOMEM)
                return BATON_ENOMEM;
        return BATON_ESTORE;
}

const char *sqlite_stmt_name(int id)
{
        return id < S_AUDIT_LIST ? sqlite_stmt_defs[id].name : "audit_list";
}

/* sqlite_fail for a step of s, under s's name. */
static int step_fail(struct store *st, sqlite3_stmt *s, int rc)
{
        const char *what = "a statement";

        for (int id = 0; id < S_COUNT; id++)
                if (st->stmt[id] == s)
                        what = sqlite_stmt_name(id);
        return sqlite_fail(st, rc, what);
}

void sqlite_finish(sqlite3_stmt *s)
{
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
}

static void bind_text(struct store_binder *b, const char *v)
{
        if (v)
                sqlite3_bind_text(b->dst, b->next++, v, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(b->dst, b->next++);
}

static void bind_i64(struct store_binder *b, int64_t v)
{
        sqlite3_bind_int64(b->dst, b->next++, v);
}

struct store_binder sqlite_binder(sqlite3_stmt *s, int first)
{
        return (struct store_binder){s, first, bind_text, bind_i64};
}

sqlite3_stmt *sqlite_stmt(struct store *st, int id, int n, const struct store_arg *a)
{
        struct store_binder b = sqlite_binder(st->stmt[id], 1);

        store_bind_args(&b, n, a);
        return st->stmt[id];
}

static int64_t col_i64(const struct store_row *r, int col)
{
        return sqlite3_column_int64((sqlite3_stmt *)r->res, col);
}

static bool col_null(const struct store_row *r, int col)
{
        return sqlite3_column_type((sqlite3_stmt *)r->res, col) == SQLITE_NULL;
}

/* Copies a text column into *dst (NULL for SQL NULL); the caller owns *dst. */
static int col_text(const struct store_row *r, int col, char **dst)
{
        sqlite3_stmt *s = (sqlite3_stmt *)r->res;
        const unsigned char *p = sqlite3_column_text(s, col);
        size_t n;

        if (!p) {
                *dst = NULL;
                return sqlite3_column_type(s, col) == SQLITE_NULL ? 0 : BATON_ENOMEM;
        }
        n = (size_t)sqlite3_column_bytes(s, col);
        *dst = malloc(n + 1);
        if (!*dst)
                return BATON_ENOMEM;
        memcpy(*dst, p, n + 1);
        return 0;
}

struct store_row sqlite_row(sqlite3_stmt *s)
{
        return (struct store_row){s, 0, col_i64, col_null, col_text};
}

int sqlite_run(struct store *st, sqlite3_stmt *s, int64_t *changes)
{
        int rc = sqlite3_step(s);

        rc = rc == SQLITE_DONE ? 0 : step_fail(st, s, rc);
        sqlite_finish(s);
        if (!rc && changes)
                *changes = sqlite3_changes(st->db);
        return rc;
}

int sqlite_put(struct store *st, int id, const struct store_rowdef *d, const void *rec)
{
        struct store_binder b = sqlite_binder(st->stmt[id], 1);

        store_bind_row(&b, d, rec);
        return sqlite_run(st, st->stmt[id], NULL);
}

int sqlite_update(struct store *st, sqlite3_stmt *s)
{
        int64_t n = 0;
        int rc = sqlite_run(st, s, &n);

        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

int sqlite_insert(struct store *st, sqlite3_stmt *s, int64_t *id_out)
{
        int rc = sqlite_run(st, s, NULL);

        if (!rc)
                *id_out = sqlite3_last_insert_rowid(st->db);
        return rc;
}

int sqlite_purge(struct store *st, sqlite3_stmt *s, int max, int *n_out)
{
        int64_t n = 0;
        int rc = 0;

        *n_out = 0;
        if (max <= 0) {
                sqlite_finish(s);
                return 0;
        }
        rc = sqlite_run(st, s, &n);
        if (!rc)
                *n_out = (int)n;
        return rc;
}

int sqlite_each(struct store *st, sqlite3_stmt *s, int max,
                int (*fn)(void *ctx, const struct store_row *r, int i), void *ctx, int *n_out)
{
        struct store_row r = sqlite_row(s);
        int n = 0, rc = 0, step = SQLITE_DONE;

        while (!rc && n < max && (step = sqlite3_step(s)) == SQLITE_ROW)
                rc = fn(ctx, &r, n++);
        if (rc > 0)
                rc = 0; /* fn stopped the read */
        else if (!rc && step != SQLITE_ROW && step != SQLITE_DONE)
                rc = step_fail(st, s, step);
        sqlite_finish(s);
        if (n_out)
                *n_out = rc ? 0 : n;
        return rc;
}

int sqlite_one(struct store *st, sqlite3_stmt *s, const struct store_rowdef *d, void *out)
{
        struct store_first f = {d, out};
        int n = 0;
        int rc = sqlite_each(st, s, 1, store_row_first, &f, &n);

        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

int sqlite_int(struct store *st, sqlite3_stmt *s, int64_t *out, bool *found)
{
        struct store_first f = {NULL, out};
        int n = 0, rc;

        *out = 0;
        rc = sqlite_each(st, s, 1, store_row_first, &f, &n);
        if (found)
                *found = n > 0;
        return rc;
}

int sqlite_rows(struct store *st, sqlite3_stmt *s, int max, const struct store_rowdef *d, void *out,
                int *n_out)
{
        struct store_recs a = {d, NULL, 0, 0};

        return store_recs_end(&a, sqlite_each(st, s, max, store_row_rec, &a, NULL), out, n_out);
}

int sqlite_ids(struct store *st, sqlite3_stmt *s, int max, int64_t *ids, int *n_out)
{
        struct store_ids a = {ids, NULL, NULL};

        return sqlite_each(st, s, max, store_row_ids, &a, n_out);
}

/* True if SQLite ended the caller's transaction behind its back. */
static bool txn_lost(struct store *st)
{
        return st->in_txn && sqlite3_get_autocommit(st->db);
}

bool sqlite_txn_open(struct store *st)
{
        return st->in_txn && !sqlite3_get_autocommit(st->db);
}

/* ---- statement preparation ---- */

static int prepare_one(struct store *st, int id, struct buf *b)
{
        const char *sql = id < S_AUDIT_LIST ? sqlite_stmt_defs[id].sql : NULL;
        int rc;

        if (!sql) {
                buf_reset(b);
                rc = id >= S_AUDIT_LIST ? store_build_audit_list(b, id - S_AUDIT_LIST, '?')
                                        : sqlite_build_job_sql(b, id);
                if (rc)
                        return rc == BATON_ETOOBIG ? BATON_ESTORE : rc;
                sql = b->ptr;
        }
        rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL);
        if (rc != SQLITE_OK)
                return sqlite_fail(st, rc, "preparing a statement");
        return 0;
}

static int prepare_all(struct store *st)
{
        struct buf b;
        int rc = 0;

        buf_init(&b, SQL_MAX);
        for (int id = 0; id < S_COUNT && !rc; id++)
                rc = prepare_one(st, id, &b);
        buf_free(&b);
        return rc;
}

/* ---- open and close ---- */

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Resolves opts->uri to the database file, creating the data directory (mode
 * 0700: it holds every tenant's data) when the uri names one. The caller frees
 * *path_out. */
static int db_path(const char *uri, char **path_out)
{
        struct buf b;
        struct stat sb;
        int rc;

        if (!uri || !*uri)
                return BATON_EINVAL;
        buf_init(&b, 4096);
        if (ends_with(uri, ".db")) {
                rc = buf_adds(&b, uri);
                goto out;
        }
        if (mkdir(uri, 0700) != 0 &&
            (errno != EEXIST || stat(uri, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
                log_error("store", "cannot create the data directory %s: %s", uri, strerror(errno));
                rc = BATON_EIO;
                goto out;
        }
        rc = buf_printf(&b, "%s/baton.db", uri);
out:
        if (rc) {
                buf_free(&b);
                return rc == BATON_ETOOBIG ? BATON_EINVAL : rc;
        }
        *path_out = buf_take(&b);
        return 0;
}

static int exec_sql(struct store *st, const char *sql, const char *what)
{
        int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : sqlite_fail(st, rc, what);
}

/* WAL lets readers of other processes (backups, the CLI) proceed during
 * commits, and makes a commit one append to the log. synchronous=FULL (what the
 * server asks for unless told otherwise) fsyncs the log at every commit, so an
 * acknowledged write survives a power failure; NORMAL (opts->sync_full false)
 * syncs only at checkpoints and may lose the last commits on a power failure,
 * never consistency. */
static int set_pragmas(struct store *st, const struct store_opts *opts)
{
        int busy_ms = opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS;
        sqlite3_stmt *s = NULL;
        char sql[256];
        int rc;

        snprintf(sql, sizeof(sql),
                 "PRAGMA busy_timeout = %d; PRAGMA synchronous = %s; PRAGMA foreign_keys = ON;"
                 " PRAGMA cache_size = -%d; PRAGMA temp_store = MEMORY;",
                 busy_ms, opts->sync_full ? "FULL" : "NORMAL", CACHE_SIZE_KIB);
        rc = exec_sql(st, sql, "setting pragmas");
        if (rc)
                return rc;
        rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(s);
        if (rc != SQLITE_ROW) {
                rc = sqlite_fail(st, rc, "setting journal_mode");
        } else if (sqlite3_stricmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
                log_error("store", "the database refused WAL mode (journal_mode is %s)",
                          (const char *)sqlite3_column_text(s, 0));
                rc = BATON_ESTORE;
        } else {
                rc = 0;
        }
        sqlite3_finalize(s);
        return rc;
}

static void close_store(struct store *st)
{
        if (!st)
                return;
        for (int i = 0; i < S_COUNT; i++)
                sqlite3_finalize(st->stmt[i]);
        /* Closing with a transaction open rolls it back, which is what an
         * abandoned transaction must do. */
        if (sqlite3_close(st->db) != SQLITE_OK)
                log_error("store", "closing the database: %s", sqlite3_errmsg(st->db));
        sqlite_qcache_clear(st);
        free(st);
}

/* Makes the database file (and its -wal and -shm when they exist) mode 0600:
 * they hold payloads and lease tokens. SQLite's unix VFS gives the -wal and
 * -shm files it creates later the database file's own permissions, so a
 * database created here at 0600 keeps all three private whatever the umask.
 * Files an older batond left more open are tightened, with a warning. */
static int private_files(const char *path)
{
        static const char *const suffix[] = {"", "-wal", "-shm"};
        char p[4200];
        struct stat sb;
        int fd, rc = 0;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                log_error("store", "cannot create %s: %s", path, strerror(errno));
                return BATON_EIO;
        }
        close(fd);
        for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]) && !rc; i++) {
                snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
                if (lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077) == 0)
                        continue;
                log_warn("store", "%s was mode %03o; making it 0600", p,
                         (unsigned)(sb.st_mode & 0777));
                if (chmod(p, 0600) != 0) {
                        log_error("store", "cannot chmod %s: %s", p, strerror(errno));
                        rc = BATON_EIO;
                }
        }
        return rc;
}

/* *out is owned by the caller and released with close_store. */
static int open_store(const struct store_opts *opts, struct store **out)
{
        struct store *st = NULL;
        char *path = NULL;
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
        char vfs[SQLITE_VFS_NAME_MAX];
        int rc;

        *out = NULL;
        rc = db_path(opts->uri, &path);
        if (rc)
                goto out;
        st = calloc(1, sizeof(*st));
        if (!st) {
                rc = BATON_ENOMEM;
                goto out;
        }
        rc = private_files(path);
        if (rc)
                goto out;
        /* Without memory statistics (which nothing reads) SQLite's allocator
         * takes no mutex per malloc and free. It can be set only before the
         * library's first use in the process, which is the first open; later
         * calls return SQLITE_MISUSE and change nothing. */
        (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        /* The database is opened through the shim that writes a commit's WAL
         * frames with one call (sqlite_vfs.c), stacked over the VFS the
         * options name, if any. */
        rc = sqlite_vfs_get(opts->vfs, vfs, sizeof(vfs));
        if (rc) {
                log_error("store", "no sqlite VFS %s", opts->vfs ? opts->vfs : "(default)");
                goto out;
        }
        rc = sqlite3_open_v2(path, &st->db, flags, vfs);
        if (rc != SQLITE_OK) {
                log_error("store", "opening %s: %s", path,
                          st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
                rc = rc == SQLITE_NOMEM ? BATON_ENOMEM : BATON_ESTORE;
                goto out;
        }
        sqlite3_extended_result_codes(st->db, 1);
        rc = set_pragmas(st, opts);
        BATON_ASSERT(store_rowdefs_agree());
        if (!rc)
                rc = sqlite_migrate(st->db);
        if (!rc)
                rc = prepare_all(st);
out:
        free(path);
        if (rc)
                close_store(st);
        else
                *out = st;
        return rc;
}

static int schema_version(struct store *st, int *out)
{
        int64_t v = 0;
        int rc = sqlite_int(st, st->stmt[S_VERSION], &v, NULL);

        *out = (int)v;
        return rc;
}

/* ---- transactions ---- */

static int begin_txn(struct store *st)
{
        int rc = sqlite_run(st, st->stmt[S_BEGIN], NULL);

        sqlite_qcache_clear(st);
        st->in_op = false;
        st->in_txn = rc == 0;
        return rc;
}

static int commit_txn(struct store *st)
{
        int rc;

        if (txn_lost(st)) {
                log_error("store", "commit: the transaction was already rolled back");
                st->in_txn = false;
                sqlite_qcache_clear(st);
                return BATON_ESTORE;
        }
        /* The counts summed in memory go in with the transaction; if they
         * cannot, the caller rolls it back. */
        rc = sqlite_qcache_flush(st);
        if (!rc)
                rc = sqlite_run(st, st->stmt[S_COMMIT], NULL);
        /* A failed COMMIT (SQLITE_BUSY, I/O) may leave the transaction open for
         * the caller's rollback. */
        st->in_txn = !sqlite3_get_autocommit(st->db);
        return rc;
}

static int rollback_txn(struct store *st)
{
        int rc = 0;

        if (!sqlite3_get_autocommit(st->db))
                rc = sqlite_run(st, st->stmt[S_ROLLBACK], NULL);
        sqlite_qcache_clear(st);
        st->in_op = false;
        st->in_txn = false;
        return rc;
}

static int savepoint_op(struct store *st)
{
        int rc;

        /* Outside a transaction SAVEPOINT would start one of its own and commit
         * the op alone, splitting the batch. */
        if (!st->in_txn || txn_lost(st)) {
                log_error("store", "savepoint: no transaction is open");
                return BATON_ESTORE;
        }
        rc = sqlite_run(st, st->stmt[S_SAVEPOINT], NULL);
        st->in_op = rc == 0;
        return rc;
}

static int release_op(struct store *st)
{
        int rc;

        if (txn_lost(st)) {
                log_error("store", "release: the transaction was rolled back");
                return BATON_ESTORE;
        }
        /* A failed RELEASE leaves the savepoint for the caller's rollback_to. */
        rc = sqlite_run(st, st->stmt[S_RELEASE], NULL);
        if (!rc) {
                sqlite_qcache_end_op(st, true);
                st->in_op = false;
        }
        return rc;
}

/* ROLLBACK TO undoes the op's writes but keeps the savepoint on the stack, so
 * it is released as well to leave the transaction as it was before the op. */
static int rollback_to_op(struct store *st)
{
        int rc;

        sqlite_qcache_end_op(st, false);
        st->in_op = false;
        if (txn_lost(st)) {
                log_error("store", "rollback_to: the transaction was rolled back");
                return BATON_ESTORE;
        }
        rc = sqlite_run(st, st->stmt[S_ROLLBACK_TO], NULL);
        if (!rc)
                rc = sqlite_run(st, st->stmt[S_RELEASE], NULL);
        return rc;
}

/* ---- accessors for tests and the backend's other files ---- */

int sqlite_prepare_adhoc(struct store *st, sqlite3_stmt **s, const char *what, const char *fmt, ...)
{
        va_list ap;
        char *sql;
        int rc;

        va_start(ap, fmt);
        sql = sqlite3_vmprintf(fmt, ap);
        va_end(ap);
        *s = NULL;
        if (!sql)
                return BATON_ENOMEM;
        rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);
        sqlite3_free(sql);
        return rc == SQLITE_OK ? 0 : sqlite_fail(st, rc, what);
}

struct sqlite3 *sqlite_db(struct store *st)
{
        return st->db;
}

int sqlite_pragma_int(struct store *st, const char *name, int64_t *out)
{
        sqlite3_stmt *s = NULL;
        int rc;

        /* Only a bare pragma name, so the text pasted into SQL is harmless. */
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
                        return BATON_EINVAL;
        rc = sqlite_prepare_adhoc(st, &s, "pragma", "PRAGMA %s", name);
        if (rc)
                return rc;
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : sqlite_fail(st, rc, "pragma");
        }
        sqlite3_finalize(s);
        return rc;
}

/* ---- the ops table: this file's operations and those of the per-domain files
 * (sqlite_internal.h) ---- */

const struct store_ops store_sqlite_ops = {
    .version = STORE_OPS_VERSION,
    .name = "sqlite",
    .shared = false,
    /* One writer and no row locks: a read is a read. */
    .job_peek = sqlite_job_get,
    .group_ready_ids = sqlite_group_ready_ids,
    STORE_INIT_ALL(sqlite),
};
