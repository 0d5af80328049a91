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
 * Jobs map to one row with a column per field of struct job (times in Unix ms,
 * SQL NULL for a NULL string). The column list of the job statements is built
 * from one table (job_cols) so that insert, update and reads cannot disagree.
 * The schema and its indexes are in sqlite_schema.c; sqlite_check_plans lets
 * the conformance suite verify that the hot queries use them. Tenants, API
 * keys and the audit log are small, cold tables next to the jobs: keys are read
 * once at start (the server keeps them in memory) and on every key change, and
 * audit rows are appended by administrative calls only.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "baton/baton.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/log.h"
#include "store/sqlite.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000
/* The page cache holds the hot index pages (the ready, due and lease indexes
 * are partial, hence small); a bigger cache would mostly hold payloads of jobs
 * already handed out, and the server's memory budget (DESIGN §9: 32 MiB RSS
 * while processing 100k jobs) has to cover it. */
#define CACHE_SIZE_KIB 8192
#define SQL_MAX 8192

enum col_kind { COL_TEXT, COL_I64, COL_INT, COL_BOOL };

struct col {
        const char *name;
        int kind; /* enum col_kind */
        size_t off;
};

#define JCOL(name, kind, field)                                                                    \
        {                                                                                          \
                name, kind, offsetof(struct job, field)                                            \
        }

/* The columns job_update writes, in binding order. job_insert writes tenant and
 * created_at first, then these; reads return id, tenant, created_at, then these. */
static const struct col job_cols[] = {
    JCOL("queue", COL_TEXT, queue),
    JCOL("type", COL_TEXT, type),
    JCOL("payload", COL_TEXT, payload),
    JCOL("priority", COL_INT, priority),
    JCOL("state", COL_INT, state),
    JCOL("run_at", COL_I64, run_at_ms),
    JCOL("attempt", COL_INT, attempt),
    JCOL("max_attempts", COL_INT, max_attempts),
    JCOL("backoff_type", COL_INT, backoff.type),
    JCOL("backoff_base_ms", COL_I64, backoff.base_ms),
    JCOL("backoff_max_ms", COL_I64, backoff.max_ms),
    JCOL("lease_ms", COL_I64, lease_ms),
    JCOL("idempotency_key", COL_TEXT, idempotency_key),
    JCOL("dkey", COL_TEXT, key),
    JCOL("request_id", COL_TEXT, request_id),
    JCOL("execution_id", COL_TEXT, execution_id),
    JCOL("traceparent", COL_TEXT, traceparent),
    JCOL("lease", COL_TEXT, lease),
    JCOL("lease_until", COL_I64, lease_until_ms),
    JCOL("worker", COL_TEXT, worker),
    JCOL("settled", COL_INT, settled),
    JCOL("cancel_requested", COL_BOOL, cancel_requested),
    JCOL("version", COL_I64, version),
    JCOL("started_at", COL_I64, started_at_ms),
    JCOL("finished_at", COL_I64, finished_at_ms),
    JCOL("ready_at", COL_I64, ready_at_ms),
    JCOL("result", COL_TEXT, result),
    JCOL("last_error", COL_TEXT, last_error),
    JCOL("progress", COL_TEXT, progress),
    JCOL("attempts", COL_TEXT, attempts),
    JCOL("steps", COL_TEXT, steps),
    JCOL("cancel_reason", COL_TEXT, cancel_reason),
    JCOL("timer", COL_TEXT, timer),           /* migration 4 */
    JCOL("depends_on", COL_TEXT, depends_on), /* migration 5 */
    JCOL("on_parent_failure", COL_INT, on_parent_failure),
    JCOL("flow_id", COL_I64, flow_id),
    JCOL("ref", COL_TEXT, ref),
    JCOL("grp", COL_TEXT, group), /* migration 7 */
    JCOL("cron", COL_TEXT, cron), /* migration 8 */
};

#define JOB_NCOLS ((int)BATON_ARRAY_LEN(job_cols))
#define JOB_READ_FIXED 3 /* id, tenant, created_at precede job_cols in reads */

enum stmt_id {
        S_BEGIN,
        S_COMMIT,
        S_ROLLBACK,
        S_SAVEPOINT,
        S_RELEASE,
        S_ROLLBACK_TO,
        S_VERSION,
        S_JOB_INSERT,
        S_JOB_GET,
        S_JOB_UPDATE,
        S_JOB_FIND_KEY,
        S_JOB_READY,
        S_JOB_DUE,
        S_JOB_EXPIRED,
        S_JOB_STATE_IDS,
        S_JOB_PURGE,
        S_JOB_DELETE,
        S_DEADLINES,
        S_IDEM_GET,
        S_IDEM_PUT,
        S_IDEM_PURGE,
        S_QUEUE_ENSURE,
        S_QUEUE_TOTAL_ADD,
        S_QUEUE_TOTAL,
        S_QUEUE_GET,
        S_QUEUE_PUT,
        S_QUEUE_LIST,
        S_QUEUE_COUNTS,
        S_QUEUE_OLDEST,
        S_TENANT_ENSURE,
        S_KEY_INSERT,
        S_KEY_GET,
        S_KEY_UPDATE,
        S_KEY_LIST_TENANT,
        S_KEY_LIST_ALL,
        S_KEY_COUNT,
        S_AUDIT_INSERT,
        S_AUDIT_BUMP,
        S_AUDIT_PURGE,
        S_TIMER_GET,
        S_TIMER_PUT,
        S_TIMER_LIST,
        S_TIMER_DUE,
        S_TIMER_NEXT,
        S_DEP_INSERT,
        S_DEP_CHILDREN,
        S_FLOW_INSERT,
        S_FLOW_GET,
        S_FLOW_JOBS,
        /* version 5: queue limits and groups */
        S_QLIM_GET,
        S_QLIM_PUT,
        S_QLIM_ADD,
        S_QLIM_MAKE,
        S_GROUP_GET,
        S_GROUP_PUT,
        S_GROUP_DELETE,
        S_GROUP_RATE_DELETE,
        S_GROUP_NOTE_READY,
        S_GROUP_PICK,
        S_GROUP_UNBLOCK,
        S_GROUP_UNBLOCK_ALL,
        S_GROUP_NEXT_UNTIL,
        S_GROUP_READY,
        S_NOGROUP_READY,
        S_RATE_GET,
        S_RATE_PUT,
        S_RATE_TRIM,
        /* version 9: the dependency cascade's work list */
        S_DEP_WORK_PUT,
        S_DEP_WORK_NEXT,
        S_DEP_WORK_ADVANCE,
        S_DEP_WORK_DONE,
        S_LIST, /* first of the job_list variants, one per combination of filters */
        S_AUDIT_LIST = S_LIST + 8, /* first of the audit_list variants, likewise */
        S_COUNT = S_AUDIT_LIST + 8
};

/* job_list filter bits; a variant's statement is S_LIST + bits. */
enum { LF_QUEUE = 1, LF_STATE = 2, LF_TYPE = 4 };
/* audit_list filter bits; a variant's statement is S_AUDIT_LIST + bits. */
enum { AF_TENANT = 1, AF_ACTION = 2, AF_KEY = 4 };

/* The columns of a key row in the order of reads and of key_insert's binds. */
#define KEY_COLS                                                                                   \
        "id, tenant, name, digest, prev_digest, prev_until, scopes, created_at, expires_at,"       \
        " revoked_at, rotated_at, rate_max, rate_per_ms, created_by"
/* The columns of an audit row in the order of reads; audit_insert binds all
 * but id, in the same order, from ?1. */
#define AUDIT_COLS "id, at, key_id, tenant, action, target, request_id, status, code, detail, n"
/* The columns of a timer row in the order of reads and of timer_put's binds. */
#define TIMER_COLS                                                                                 \
        "tenant, key, version, state, fire_at, queue, type, payload, priority, max_attempts,"      \
        " backoff_type, backoff_base_ms, backoff_max_ms, lease_ms, request_id, job_id, fired_at,"  \
        " created_at, updated_at, grp, due_at, deferred"
/* The columns of a queue_limits row that qlim_put writes, in the order of its
 * binds: everything but the counters. */
#define QLIM_SET_COLS                                                                              \
        "tenant, queue, concurrency, rate_max, rate_per_ms, max_depth, group_concurrency,"         \
        " group_rate_max, group_rate_per_ms, def_max_attempts, def_lease_ms, def_backoff_type,"    \
        " def_backoff_base_ms, def_backoff_max_ms, start_seq, serve_seq, nogroup_served,"          \
        " updated_at"
/* A qlim_get read: those columns, the counters and grouped. An aggregate
 * without GROUP BY gives one row even when the queue has none (every
 * column 0 then). */
#define QLIM_READ                                                                                  \
        "SELECT ?1, ?2, COALESCE(MAX(concurrency), 0), COALESCE(MAX(rate_max), 0),"                \
        " COALESCE(MAX(rate_per_ms), 0), COALESCE(MAX(max_depth), 0),"                             \
        " COALESCE(MAX(group_concurrency), 0), COALESCE(MAX(group_rate_max), 0),"                  \
        " COALESCE(MAX(group_rate_per_ms), 0), COALESCE(MAX(def_max_attempts), 0),"                \
        " COALESCE(MAX(def_lease_ms), 0), COALESCE(MAX(def_backoff_type), -1),"                    \
        " COALESCE(MAX(def_backoff_base_ms), 0), COALESCE(MAX(def_backoff_max_ms), 0),"            \
        " COALESCE(MAX(start_seq), 0), COALESCE(MAX(serve_seq), 0),"                               \
        " COALESCE(MAX(nogroup_served), 0), COALESCE(MAX(updated_at), 0),"                         \
        " COALESCE(MAX(depth), 0), COALESCE(MAX(running), 0),"                                     \
        " EXISTS (SELECT 1 FROM job_groups g WHERE g.tenant = ?1 AND g.queue = ?2),"               \
        " EXISTS (SELECT 1 FROM queues k WHERE k.tenant = ?1 AND k.name = ?2)"                     \
        " FROM queue_limits WHERE tenant = ?1 AND queue = ?2"
/* The columns of a job_groups row in the order of reads and of group_put's binds. */
#define GROUP_COLS                                                                                 \
        "tenant, queue, grp, running, head, served, blocked, until_at, start_seq, last_start"

struct stmt_def {
        const char *name;
        const char *sql; /* NULL: built at open from job_cols */
        bool plan;       /* a query whose plan sqlite_check_plans verifies */
        /* Space-separated indexes the plan must use ("rowid" for the primary
         * key). A plan may walk (SCAN) only these, and only in their order under
         * a LIMIT, as the deadline lookups do. NULL: any index, no SCAN. */
        const char *uses;
};

/* Statements over the partial indexes repeat the index's WHERE term (such as
 * "state IN (5, 6, 7)") even when a stricter term follows, because SQLite uses
 * a partial index only when the query's WHERE visibly implies the index's. */
static const struct stmt_def stmt_defs[S_LIST] = {
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
    [S_JOB_FIND_KEY] = {"job_find_key",
                        "SELECT id FROM jobs WHERE tenant = ?1 AND queue = ?2 AND dkey = ?3"
                        " AND dkey IS NOT NULL AND state IN (1, 2)",
                        true, "job_key"},
    /* Not on the claim path since version 5 (claims read job_group_ready one
     * group at a time), so it has no index of its own: it reads the queue's
     * ready jobs through job_group_ready and sorts them. */
    [S_JOB_READY] = {"job_ready_ids",
                     "SELECT id FROM jobs WHERE state = 2 AND tenant = ?1 AND queue = ?2"
                     " ORDER BY priority, run_at, id LIMIT ?3",
                     false},
    [S_JOB_DUE] = {"job_due_ids",
                   "SELECT id FROM jobs WHERE state IN (1, 4) AND run_at <= ?1"
                   " ORDER BY run_at LIMIT ?2",
                   true, "job_due"},
    [S_JOB_EXPIRED] = {"job_expired_ids",
                       "SELECT id FROM jobs WHERE state = 3 AND lease_until <= ?1"
                       " ORDER BY lease_until LIMIT ?2",
                       true, "job_lease"},
    [S_JOB_STATE_IDS] = {"job_state_ids",
                         "SELECT id FROM jobs WHERE tenant = ?1 AND queue = ?2 AND state = ?3"
                         " AND id > ?4 ORDER BY id LIMIT ?5",
                         true, "job_tqs"},
    [S_JOB_PURGE] = {"job_purge",
                     "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
                     " WHERE state IN (5, 6, 7) AND state = ?1 AND finished_at < ?2"
                     " AND NOT EXISTS (SELECT 1 FROM dep_work w WHERE w.job_id = jobs.id)"
                     " ORDER BY finished_at LIMIT ?3)",
                     true, "rowid job_finished"},
    [S_JOB_DELETE] = {"job_delete",
                      "DELETE FROM jobs WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"
                      " AND NOT EXISTS (SELECT 1 FROM dep_work w WHERE w.job_id = ?1)",
                      true, "rowid"},
    [S_DEADLINES] = {"deadlines",
                     "SELECT"
                     " (SELECT run_at FROM jobs WHERE state IN (1, 4) ORDER BY run_at LIMIT 1),"
                     " (SELECT lease_until FROM jobs WHERE state = 3"
                     "  ORDER BY lease_until LIMIT 1),"
                     " (SELECT finished_at FROM jobs WHERE state IN (5, 6, 7) AND state = 5"
                     "  ORDER BY finished_at LIMIT 1),"
                     " (SELECT finished_at FROM jobs WHERE state IN (5, 6, 7) AND state = 6"
                     "  ORDER BY finished_at LIMIT 1),"
                     " (SELECT finished_at FROM jobs WHERE state IN (5, 6, 7) AND state = 7"
                     "  ORDER BY finished_at LIMIT 1),"
                     " (SELECT expires_at FROM idempotency ORDER BY expires_at LIMIT 1),"
                     " (SELECT job_id FROM dep_work WHERE job_id > 0 LIMIT 1),"
                     " (SELECT at FROM audit ORDER BY at LIMIT 1)",
                     true, "job_due job_lease job_finished idem_expiry rowid audit_at"},
    [S_IDEM_GET] = {"idem_get",
                    "SELECT tenant, key, job_id, payload_hash, expires_at FROM idempotency"
                    " WHERE tenant = ?1 AND key = ?2",
                    true, "PRIMARY"},
    [S_IDEM_PUT] = {"idem_put",
                    "INSERT INTO idempotency (tenant, key, job_id, payload_hash, expires_at)"
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
    [S_QUEUE_TOTAL] = {"queue_total", "SELECT n FROM queue_totals WHERE tenant = ?1", true,
                       "PRIMARY"},
    [S_QUEUE_GET] = {"queue_get",
                     "SELECT tenant, name, paused, created_at, updated_at FROM queues"
                     " WHERE tenant = ?1 AND name = ?2",
                     true, "PRIMARY"},
    [S_QUEUE_PUT] = {"queue_put",
                     "INSERT INTO queues (tenant, name, paused, created_at, updated_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, name) DO UPDATE SET"
                     " paused = excluded.paused, updated_at = excluded.updated_at",
                     false},
    [S_QUEUE_LIST] = {"queue_list",
                      "SELECT tenant, name, paused, created_at, updated_at FROM queues"
                      " WHERE tenant = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
                      true, "PRIMARY"},
    [S_QUEUE_COUNTS] = {"queue_counts",
                        "SELECT state, COUNT(*) FROM jobs WHERE tenant = ?1 AND queue = ?2"
                        " GROUP BY state",
                        true, "job_tqs"},
    [S_QUEUE_OLDEST] = {"queue_oldest",
                        "SELECT MIN(ready_at) FROM jobs WHERE state = 2 AND tenant = ?1"
                        " AND queue = ?2",
                        true, "job_tqs"},
    [S_TENANT_ENSURE] = {"tenant_ensure",
                         "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)"
                         " ON CONFLICT (name) DO NOTHING",
                         false},
    [S_KEY_INSERT] = {"key_insert",
                      "INSERT INTO api_keys (" KEY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                      " ?9, ?10, ?11, ?12, ?13, ?14)",
                      false},
    [S_KEY_GET] = {"key_get", "SELECT " KEY_COLS " FROM api_keys WHERE id = ?1", true, "PRIMARY"},
    [S_KEY_UPDATE] = {"key_update",
                      "UPDATE api_keys SET name = ?2, digest = ?3, prev_digest = ?4,"
                      " prev_until = ?5, scopes = ?6, expires_at = ?7, revoked_at = ?8,"
                      " rotated_at = ?9, rate_max = ?10, rate_per_ms = ?11, created_by = ?12"
                      " WHERE id = ?1",
                      true, "PRIMARY"},
    [S_KEY_LIST_TENANT] = {"key_list_tenant",
                           "SELECT " KEY_COLS " FROM api_keys WHERE tenant = ?1 AND id > ?2"
                           " ORDER BY id LIMIT ?3",
                           true, "key_tenant"},
    [S_KEY_LIST_ALL] = {"key_list_all",
                        "SELECT " KEY_COLS " FROM api_keys WHERE id > ?1 ORDER BY id LIMIT ?2",
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
                     "SELECT " TIMER_COLS " FROM timers WHERE tenant = ?1 AND key = ?2", true,
                     "PRIMARY"},
    [S_TIMER_PUT] = {"timer_put",
                     "INSERT OR REPLACE INTO timers (" TIMER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5,"
                     " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,"
                     " ?22)",
                     false},
    /* ?3..?4 bound the prefix: keys are printable ASCII, all below 0x7f. */
    [S_TIMER_LIST] = {"timer_list",
                      "SELECT " TIMER_COLS " FROM timers WHERE tenant = ?1 AND key > ?2"
                      " AND key >= ?3 AND key < ?4 ORDER BY key LIMIT ?5",
                      true, "PRIMARY"},
    [S_TIMER_DUE] = {"timer_due",
                     "SELECT " TIMER_COLS " FROM timers WHERE state = 0 AND due_at <= ?1"
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
                    "SELECT id, tenant, created_at, request_id FROM flows WHERE id = ?1"
                    " AND tenant = ?2",
                    true, "rowid"},
    [S_FLOW_JOBS] = {"flow_job_ids",
                     "SELECT id FROM jobs WHERE flow_id > 0 AND flow_id = ?2 AND tenant = ?1"
                     " AND id > ?3 ORDER BY id LIMIT ?4",
                     true, "job_flow"},
    /* version 5: queue limits and groups. */
    [S_QLIM_GET] = {"qlim_get", QLIM_READ, true, "PRIMARY"},
    [S_QLIM_PUT] = {"qlim_put",
                    "INSERT INTO queue_limits (" QLIM_SET_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                    " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
                    " ON CONFLICT (tenant, queue) DO UPDATE SET concurrency = excluded.concurrency,"
                    " rate_max = excluded.rate_max, rate_per_ms = excluded.rate_per_ms,"
                    " max_depth = excluded.max_depth,"
                    " group_concurrency = excluded.group_concurrency,"
                    " group_rate_max = excluded.group_rate_max,"
                    " group_rate_per_ms = excluded.group_rate_per_ms,"
                    " def_max_attempts = excluded.def_max_attempts,"
                    " def_lease_ms = excluded.def_lease_ms,"
                    " def_backoff_type = excluded.def_backoff_type,"
                    " def_backoff_base_ms = excluded.def_backoff_base_ms,"
                    " def_backoff_max_ms = excluded.def_backoff_max_ms,"
                    " start_seq = excluded.start_seq, serve_seq = excluded.serve_seq,"
                    " nogroup_served = excluded.nogroup_served, updated_at = excluded.updated_at",
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
                     "SELECT " GROUP_COLS " FROM job_groups WHERE tenant = ?1 AND queue = ?2"
                     " AND grp = ?3",
                     true, "PRIMARY"},
    [S_GROUP_PUT] = {"group_put",
                     "INSERT OR REPLACE INTO job_groups (" GROUP_COLS ") VALUES (?1, ?2, ?3, ?4,"
                     " ?5, ?6, ?7, ?8, ?9, ?10)",
                     false},
    [S_GROUP_DELETE] = {"group_delete",
                        "DELETE FROM job_groups WHERE tenant = ?1 AND queue = ?2 AND grp = ?3",
                        true, "PRIMARY"},
    [S_GROUP_RATE_DELETE] = {"group_rate_delete",
                             "DELETE FROM rate_log WHERE tenant = ?1 AND queue = ?2 AND grp = ?3",
                             true, "PRIMARY"},
    [S_GROUP_NOTE_READY] = {"group_note_ready",
                            "INSERT INTO job_groups (" GROUP_COLS ") VALUES (?1, ?2, ?3, 0, ?4,"
                            " COALESCE((SELECT serve_seq FROM queue_limits WHERE tenant = ?1"
                            " AND queue = ?2), 0), 0, 0, 0, 0)"
                            " ON CONFLICT (tenant, queue, grp) DO UPDATE SET head = excluded.head"
                            " WHERE head IS NULL OR head > excluded.head",
                            false},
    [S_GROUP_PICK] = {"group_pick",
                      "SELECT " GROUP_COLS " FROM job_groups WHERE head IS NOT NULL"
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
                       "SELECT id, priority FROM jobs WHERE state = 2 AND tenant = ?1"
                       " AND queue = ?2 AND grp = ?3 ORDER BY priority, run_at, id LIMIT ?4",
                       true, "job_group_ready"},
    [S_NOGROUP_READY] = {"nogroup_ready_ids",
                         "SELECT id, priority FROM jobs WHERE state = 2 AND tenant = ?1"
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
};

struct store {
        sqlite3 *db;
        /* begin succeeded and no commit or rollback has ended the transaction. If
         * SQLite rolled it back on its own (I/O error, disk full), later savepoints
         * and the commit must fail rather than run in autocommit mode. */
        bool in_txn;
        sqlite3_stmt *stmt[S_COUNT];
        sqlite3_stmt *cron_stmt[SQLITE_CRON_STMT_MAX]; /* sqlite_cron.c's, NULL until used */
};

/* ---- errors and statement helpers ---- */

/* Maps a SQLite result code to enum baton_err and logs what is not an expected
 * outcome. Call it before resetting the statement, while errmsg is current. */
static int fail(struct store *st, int rc, const char *what)
{
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                return BATON_ECONFLICT;
        log_error("store", "%s: %s (sqlite %d)", what, sqlite3_errmsg(st->db), rc);
        if ((rc & 0xff) == SQLITE_NOMEM)
                return BATON_ENOMEM;
        return BATON_ESTORE;
}

/* Returns a statement to its idle state: no read transaction held, no pointer
 * into the caller's strings kept. */
static void finish(sqlite3_stmt *s)
{
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
}

/* Steps a statement that returns no rows and finishes it. */
static int run(struct store *st, sqlite3_stmt *s, const char *what)
{
        int rc = sqlite3_step(s);

        rc = rc == SQLITE_DONE ? 0 : fail(st, rc, what);
        finish(s);
        return rc;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
        if (v)
                sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(s, i);
}

/* Copies a text column into *dst (NULL for SQL NULL); the caller owns *dst. */
static int read_text(sqlite3_stmt *s, int i, char **dst)
{
        const unsigned char *p = sqlite3_column_text(s, i);
        size_t n;

        if (!p) {
                *dst = NULL;
                return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : BATON_ENOMEM;
        }
        n = (size_t)sqlite3_column_bytes(s, i);
        *dst = malloc(n + 1);
        if (!*dst)
                return BATON_ENOMEM;
        memcpy(*dst, p, n + 1);
        return 0;
}

/* True if SQLite ended the caller's transaction behind its back. */
static bool txn_lost(struct store *st)
{
        return st->in_txn && sqlite3_get_autocommit(st->db);
}

/* ---- job rows ---- */

static void bind_job_cols(sqlite3_stmt *s, const struct job *j, int first)
{
        const char *base = (const char *)j;

        for (int c = 0; c < JOB_NCOLS; c++) {
                const void *p = base + job_cols[c].off;
                int i = first + c;

                switch (job_cols[c].kind) {
                case COL_TEXT:
                        bind_text(s, i, *(char *const *)p);
                        break;
                case COL_I64:
                        sqlite3_bind_int64(s, i, *(const int64_t *)p);
                        break;
                case COL_INT:
                        sqlite3_bind_int(s, i, *(const int *)p);
                        break;
                default:
                        sqlite3_bind_int(s, i, *(const bool *)p ? 1 : 0);
                        break;
                }
        }
}

/* Fills *out from the current row of a job read. out must hold no strings; on
 * success the caller owns the new ones (job_free), on failure none are left. */
static int read_job(sqlite3_stmt *s, struct job *out)
{
        char *base = (char *)out;
        int rc;

        memset(out, 0, sizeof(*out));
        out->id = sqlite3_column_int64(s, 0);
        out->created_at_ms = sqlite3_column_int64(s, 2);
        rc = read_text(s, 1, &out->tenant);
        for (int c = 0; c < JOB_NCOLS && !rc; c++) {
                void *p = base + job_cols[c].off;
                int i = JOB_READ_FIXED + c;

                switch (job_cols[c].kind) {
                case COL_TEXT:
                        rc = read_text(s, i, (char **)p);
                        break;
                case COL_I64:
                        *(int64_t *)p = sqlite3_column_int64(s, i);
                        break;
                case COL_INT:
                        *(int *)p = sqlite3_column_int(s, i);
                        break;
                default:
                        *(bool *)p = sqlite3_column_int(s, i) != 0;
                        break;
                }
        }
        if (rc)
                job_free(out);
        return rc;
}

/* Collects the first column of up to max rows as ids and finishes s. */
static int read_ids(struct store *st, sqlite3_stmt *s, int max, int64_t *ids, int *n_out,
                    const char *what)
{
        int n = 0;
        int rc = SQLITE_DONE;

        while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
                ids[n++] = sqlite3_column_int64(s, 0);
        rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : fail(st, rc, what);
        finish(s);
        *n_out = rc ? 0 : n;
        return rc;
}

/* ---- statement preparation ---- */

static int build_job_sql(struct buf *b, int id)
{
        int rc = 0;

        if (id == S_JOB_INSERT) {
                rc = buf_adds(b, "INSERT INTO jobs (tenant, created_at");
                for (int c = 0; c < JOB_NCOLS && !rc; c++)
                        rc = buf_printf(b, ", %s", job_cols[c].name);
                if (!rc)
                        rc = buf_adds(b, ") VALUES (?1, ?2");
                for (int c = 0; c < JOB_NCOLS && !rc; c++)
                        rc = buf_printf(b, ", ?%d", c + 3);
                return rc ? rc : buf_adds(b, ")");
        }
        if (id == S_JOB_UPDATE) {
                rc = buf_adds(b, "UPDATE jobs SET ");
                for (int c = 0; c < JOB_NCOLS && !rc; c++)
                        rc = buf_printf(b, "%s%s = ?%d", c ? ", " : "", job_cols[c].name, c + 2);
                return rc ? rc : buf_adds(b, " WHERE id = ?1");
        }
        rc = buf_adds(b, "SELECT id, tenant, created_at");
        for (int c = 0; c < JOB_NCOLS && !rc; c++)
                rc = buf_printf(b, ", %s", job_cols[c].name);
        if (!rc)
                rc = buf_adds(b, " FROM jobs WHERE ");
        if (rc)
                return rc;
        if (id == S_JOB_GET)
                return buf_adds(b, "id = ?1 AND (?2 IS NULL OR tenant = ?2)");
        /* A job_list variant: the filter bits select the optional terms. */
        rc = buf_adds(b, "tenant = ?1");
        if (!rc && (id - S_LIST) & LF_QUEUE)
                rc = buf_adds(b, " AND queue = ?2");
        if (!rc && (id - S_LIST) & LF_STATE)
                rc = buf_adds(b, " AND state = ?3");
        if (!rc && (id - S_LIST) & LF_TYPE)
                rc = buf_adds(b, " AND type = ?4");
        return rc ? rc : buf_adds(b, " AND id > ?5 ORDER BY id LIMIT ?6");
}

/* An audit_list variant: one equality term per filter bit, each served by an
 * index that ends in id, so the cursor and the order come from the index. */
static int build_audit_sql(struct buf *b, int id)
{
        int bits = id - S_AUDIT_LIST;
        int rc = buf_adds(b, "SELECT " AUDIT_COLS " FROM audit WHERE ");

        if (!rc && bits & AF_TENANT)
                rc = buf_adds(b, "tenant = ?1 AND ");
        if (!rc && bits & AF_ACTION)
                rc = buf_adds(b, "action = ?2 AND ");
        if (!rc && bits & AF_KEY)
                rc = buf_adds(b, "key_id = ?3 AND ");
        return rc ? rc : buf_adds(b, "id > ?4 ORDER BY id LIMIT ?5");
}

static int prepare_one(struct store *st, int id, struct buf *b)
{
        const char *sql = id < S_LIST ? stmt_defs[id].sql : NULL;
        int rc;

        if (!sql) {
                buf_reset(b);
                rc = id >= S_AUDIT_LIST ? build_audit_sql(b, id) : build_job_sql(b, id);
                if (rc)
                        return rc == BATON_ETOOBIG ? BATON_ESTORE : rc;
                sql = b->ptr;
        }
        rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL);
        if (rc != SQLITE_OK)
                return fail(st, rc, "preparing a statement");
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

        return rc == SQLITE_OK ? 0 : fail(st, rc, what);
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
                rc = fail(st, rc, "setting journal_mode");
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
        for (int i = 0; i < SQLITE_CRON_STMT_MAX; i++)
                sqlite3_finalize(st->cron_stmt[i]);
        /* Closing with a transaction open rolls it back, which is what an
         * abandoned transaction must do. */
        if (sqlite3_close(st->db) != SQLITE_OK)
                log_error("store", "closing the database: %s", sqlite3_errmsg(st->db));
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
        rc = sqlite3_open_v2(path, &st->db, flags, NULL);
        if (rc != SQLITE_OK) {
                log_error("store", "opening %s: %s", path,
                          st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
                rc = rc == SQLITE_NOMEM ? BATON_ENOMEM : BATON_ESTORE;
                goto out;
        }
        sqlite3_extended_result_codes(st->db, 1);
        rc = set_pragmas(st, opts);
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
        sqlite3_stmt *s = st->stmt[S_VERSION];
        int rc = sqlite3_step(s);

        if (rc == SQLITE_ROW) {
                *out = sqlite3_column_int(s, 0);
                rc = 0;
        } else {
                rc = fail(st, rc, "reading the schema version");
        }
        finish(s);
        return rc;
}

/* ---- transactions ---- */

static int begin_txn(struct store *st)
{
        int rc = run(st, st->stmt[S_BEGIN], "begin");

        st->in_txn = rc == 0;
        return rc;
}

static int commit_txn(struct store *st)
{
        int rc;

        if (txn_lost(st)) {
                log_error("store", "commit: the transaction was already rolled back");
                st->in_txn = false;
                return BATON_ESTORE;
        }
        rc = run(st, st->stmt[S_COMMIT], "commit");
        /* A failed COMMIT (SQLITE_BUSY, I/O) may leave the transaction open for
         * the caller's rollback. */
        st->in_txn = !sqlite3_get_autocommit(st->db);
        return rc;
}

static int rollback_txn(struct store *st)
{
        int rc = 0;

        if (!sqlite3_get_autocommit(st->db))
                rc = run(st, st->stmt[S_ROLLBACK], "rollback");
        st->in_txn = false;
        return rc;
}

static int savepoint_op(struct store *st)
{
        /* Outside a transaction SAVEPOINT would start one of its own and commit
         * the op alone, splitting the batch. */
        if (!st->in_txn || txn_lost(st)) {
                log_error("store", "savepoint: no transaction is open");
                return BATON_ESTORE;
        }
        return run(st, st->stmt[S_SAVEPOINT], "savepoint");
}

static int release_op(struct store *st)
{
        if (txn_lost(st)) {
                log_error("store", "release: the transaction was rolled back");
                return BATON_ESTORE;
        }
        return run(st, st->stmt[S_RELEASE], "release");
}

/* ROLLBACK TO undoes the op's writes but keeps the savepoint on the stack, so
 * it is released as well to leave the transaction as it was before the op. */
static int rollback_to_op(struct store *st)
{
        int rc;

        if (txn_lost(st)) {
                log_error("store", "rollback_to: the transaction was rolled back");
                return BATON_ESTORE;
        }
        rc = run(st, st->stmt[S_ROLLBACK_TO], "rollback to savepoint");
        if (!rc)
                rc = run(st, st->stmt[S_RELEASE], "release after rollback");
        return rc;
}

/* ---- jobs ---- */

static int insert_job(struct store *st, struct job *j)
{
        sqlite3_stmt *s = st->stmt[S_JOB_INSERT];
        int rc;

        bind_text(s, 1, j->tenant);
        sqlite3_bind_int64(s, 2, j->created_at_ms);
        bind_job_cols(s, j, 3);
        rc = run(st, s, "job_insert");
        if (!rc)
                j->id = sqlite3_last_insert_rowid(st->db);
        return rc;
}

/* On success the caller owns out's strings (job_free); out is untouched when
 * the job does not exist. */
static int get_job(struct store *st, const char *tenant, int64_t id, struct job *out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_GET];
        int rc;

        sqlite3_bind_int64(s, 1, id);
        bind_text(s, 2, tenant);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_job(s, out);
        else if (rc == SQLITE_DONE)
                rc = BATON_ENOTFOUND;
        else
                rc = fail(st, rc, "job_get");
        finish(s);
        return rc;
}

static int update_job(struct store *st, const struct job *j)
{
        sqlite3_stmt *s = st->stmt[S_JOB_UPDATE];
        int rc;

        sqlite3_bind_int64(s, 1, j->id);
        bind_job_cols(s, j, 2);
        rc = run(st, s, "job_update");
        if (!rc && sqlite3_changes(st->db) == 0)
                rc = BATON_ENOTFOUND;
        return rc;
}

static int find_key(struct store *st, const char *tenant, const char *queue, const char *key,
                    int64_t *id_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_FIND_KEY];
        int64_t id = 0;
        int n = 0;
        int rc;

        if (!key)
                return BATON_ENOTFOUND;
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        bind_text(s, 3, key);
        rc = read_ids(st, s, 1, &id, &n, "job_find_key");
        if (!rc && n == 0)
                rc = BATON_ENOTFOUND;
        if (!rc)
                *id_out = id;
        return rc;
}

/* Appends the matching jobs to out. The caller owns out and frees it with
 * job_vec_free, also after a failure (which may leave some jobs in it). */
static int list_jobs(struct store *st, const struct job_filter *f, struct job_vec *out)
{
        int bits =
            (f->queue ? LF_QUEUE : 0) | (f->state >= 0 ? LF_STATE : 0) | (f->type ? LF_TYPE : 0);
        sqlite3_stmt *s = st->stmt[S_LIST + bits];
        size_t bytes = 0;
        int step, rc = 0;

        if (!f->tenant || f->limit <= 0)
                return BATON_EINVAL;
        bind_text(s, 1, f->tenant);
        if (bits & LF_QUEUE)
                bind_text(s, 2, f->queue);
        if (bits & LF_STATE)
                sqlite3_bind_int(s, 3, f->state);
        if (bits & LF_TYPE)
                bind_text(s, 4, f->type);
        sqlite3_bind_int64(s, 5, f->after_id);
        sqlite3_bind_int(s, 6, f->limit);
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
                struct job *j = job_vec_push(out);

                rc = j ? read_job(s, j) : BATON_ENOMEM;
                if (rc && j)
                        out->n--; /* read_job left the slot empty */
                if (!rc && f->bytes_max && (bytes += job_wire_bytes(j)) > f->bytes_max) {
                        step = SQLITE_DONE; /* the page is full (store.h) */
                        break;
                }
        }
        if (!rc && step != SQLITE_DONE)
                rc = fail(st, step, "job_list");
        finish(s);
        return rc;
}

static int ready_ids(struct store *st, const char *tenant, const char *queue, int max, int64_t *ids,
                     int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_READY];

        *n_out = 0;
        if (max <= 0)
                return 0;
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        sqlite3_bind_int(s, 3, max);
        return read_ids(st, s, max, ids, n_out, "job_ready_ids");
}

static int due_ids(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_DUE];

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int(s, 2, max);
        return read_ids(st, s, max, ids, n_out, "job_due_ids");
}

static int expired_ids(struct store *st, int64_t now_ms, int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_EXPIRED];

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int(s, 2, max);
        return read_ids(st, s, max, ids, n_out, "job_expired_ids");
}

static int state_ids(struct store *st, const char *tenant, const char *queue, int state,
                     int64_t after_id, int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_STATE_IDS];

        *n_out = 0;
        if (max <= 0)
                return 0;
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        sqlite3_bind_int(s, 3, state);
        sqlite3_bind_int64(s, 4, after_id);
        sqlite3_bind_int(s, 5, max);
        return read_ids(st, s, max, ids, n_out, "job_state_ids");
}

/* Only terminal states (completed, dead, cancelled) have finished jobs to
 * purge; any other state deletes nothing. */
static int purge_jobs(struct store *st, int state, int64_t before_ms, int max, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_JOB_PURGE];
        int rc;

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int(s, 1, state);
        sqlite3_bind_int64(s, 2, before_ms);
        sqlite3_bind_int(s, 3, max);
        rc = run(st, s, "job_purge");
        if (!rc)
                *n_out = sqlite3_changes(st->db);
        return rc;
}

/* tenant NULL deletes the job whatever its tenant, as job_get reads it. */
static int delete_job(struct store *st, const char *tenant, int64_t id)
{
        sqlite3_stmt *s = st->stmt[S_JOB_DELETE];
        int rc;

        sqlite3_bind_int64(s, 1, id);
        bind_text(s, 2, tenant);
        rc = run(st, s, "job_delete");
        if (!rc && sqlite3_changes(st->db) == 0)
                rc = BATON_ENOTFOUND;
        return rc;
}

/* A column of the deadlines row: 0 when there is no such row. A stored
 * instant of 0 or less is still something to do, so it is reported as 1 (long
 * past) rather than hidden as "nothing". */
static int64_t deadline_col(sqlite3_stmt *s, int i)
{
        int64_t t;

        if (sqlite3_column_type(s, i) == SQLITE_NULL)
                return 0;
        t = sqlite3_column_int64(s, i);
        return t > 0 ? t : 1;
}

static int64_t min_nonzero(int64_t a, int64_t b)
{
        if (!a || !b)
                return a ? a : b;
        return a < b ? a : b;
}

static int read_deadlines(struct store *st, struct store_deadlines *out)
{
        sqlite3_stmt *s = st->stmt[S_DEADLINES];
        int rc = sqlite3_step(s);

        memset(out, 0, sizeof(*out));
        if (rc == SQLITE_ROW) {
                out->run_at_ms = deadline_col(s, 0);
                out->lease_until_ms = deadline_col(s, 1);
                out->completed_min_ms = deadline_col(s, 2);
                out->dead_min_ms = min_nonzero(deadline_col(s, 3), deadline_col(s, 4));
                out->idem_min_ms = deadline_col(s, 5);
                out->dep_work = sqlite3_column_type(s, 6) != SQLITE_NULL;
                out->audit_min_ms = deadline_col(s, 7);
                rc = 0;
        } else {
                rc = fail(st, rc, "deadlines");
        }
        finish(s);
        return rc;
}

/* ---- idempotency records ---- */

/* On success the caller owns out's strings (idem_rec_free). */
static int get_idem(struct store *st, const char *tenant, const char *key, struct idem_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_IDEM_GET];
        struct idem_rec r = {0};
        int rc;

        bind_text(s, 1, tenant);
        bind_text(s, 2, key);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                r.job_id = sqlite3_column_int64(s, 2);
                r.expires_at_ms = sqlite3_column_int64(s, 4);
                rc = read_text(s, 0, &r.tenant);
                if (!rc)
                        rc = read_text(s, 1, &r.key);
                if (!rc)
                        rc = read_text(s, 3, &r.payload_hash);
        } else {
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : fail(st, rc, "idem_get");
        }
        finish(s);
        if (rc)
                idem_rec_free(&r);
        else
                *out = r;
        return rc;
}

static int put_idem(struct store *st, const struct idem_rec *rec)
{
        sqlite3_stmt *s = st->stmt[S_IDEM_PUT];

        bind_text(s, 1, rec->tenant);
        bind_text(s, 2, rec->key);
        sqlite3_bind_int64(s, 3, rec->job_id);
        bind_text(s, 4, rec->payload_hash);
        sqlite3_bind_int64(s, 5, rec->expires_at_ms);
        return run(st, s, "idem_put");
}

/* SQLite has one writer, whose transaction (BEGIN IMMEDIATE) holds the whole
 * store: a read then a write cannot race with another taker. */
static int take_idem(struct store *st, const struct idem_rec *rec, int64_t now_ms,
                     struct idem_rec *held)
{
        int rc = get_idem(st, rec->tenant, rec->key, held);

        if (rc == BATON_ENOTFOUND) {
                memset(held, 0, sizeof(*held));
                return put_idem(st, rec);
        }
        if (rc)
                return rc;
        if (held->job_id == 0 || held->expires_at_ms > now_ms)
                return BATON_ECONFLICT; /* live, or this transaction's placeholder */
        idem_rec_free(held);
        return put_idem(st, rec);
}

static int swap_idem(struct store *st, const struct idem_rec *rec, int64_t old_job_id)
{
        struct idem_rec cur = {0};
        int rc = get_idem(st, rec->tenant, rec->key, &cur);

        if (!rc)
                rc = cur.job_id == old_job_id ? put_idem(st, rec) : BATON_ECONFLICT;
        else if (rc == BATON_ENOTFOUND)
                rc = BATON_ECONFLICT;
        idem_rec_free(&cur);
        return rc;
}

/* Deletes records that have expired at before_ms (expires_at <= before_ms):
 * core treats a record as expired from its expires_at on, and the idem_min_ms
 * deadline must be cleared by the purge it triggers. */
static int purge_idem(struct store *st, int64_t before_ms, int max, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_IDEM_PURGE];
        int rc;

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int64(s, 1, before_ms);
        sqlite3_bind_int(s, 2, max);
        rc = run(st, s, "idem_purge");
        if (!rc)
                *n_out = sqlite3_changes(st->db);
        return rc;
}

/* ---- queues ---- */

static int ensure_queue(struct store *st, const char *tenant, const char *name, int64_t now_ms)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_ENSURE];

        int rc;

        bind_text(s, 1, tenant);
        bind_text(s, 2, name);
        sqlite3_bind_int64(s, 3, now_ms);
        rc = run(st, s, "queue_ensure");
        /* A new queue counts in its tenant's total (store.h). */
        if (!rc && sqlite3_changes(st->db) == 1) {
                bind_text(st->stmt[S_QUEUE_TOTAL_ADD], 1, tenant);
                rc = run(st, st->stmt[S_QUEUE_TOTAL_ADD], "queue_total_add");
        }
        return rc;
}

static int total_queues(struct store *st, const char *tenant, int64_t *n_out)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_TOTAL];
        int rc;

        *n_out = 0;
        bind_text(s, 1, tenant);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *n_out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = rc == SQLITE_DONE ? 0 : fail(st, rc, "queue_total");
        }
        finish(s);
        return rc;
}

/* Fills *out from the current queue row; the caller owns its strings. */
static int read_queue(sqlite3_stmt *s, struct queue_rec *out)
{
        struct queue_rec q = {0};
        int rc;

        q.paused = sqlite3_column_int(s, 2) != 0;
        q.created_at_ms = sqlite3_column_int64(s, 3);
        q.updated_at_ms = sqlite3_column_int64(s, 4);
        rc = read_text(s, 0, &q.tenant);
        if (!rc)
                rc = read_text(s, 1, &q.name);
        if (rc)
                queue_rec_free(&q);
        else
                *out = q;
        return rc;
}

static int get_queue(struct store *st, const char *tenant, const char *name, struct queue_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_GET];
        int rc;

        bind_text(s, 1, tenant);
        bind_text(s, 2, name);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_queue(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : fail(st, rc, "queue_get");
        finish(s);
        return rc;
}

/* An existing queue keeps its created_at: only paused and updated_at change. */
static int put_queue(struct store *st, const struct queue_rec *q)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_PUT];

        bind_text(s, 1, q->tenant);
        bind_text(s, 2, q->name);
        sqlite3_bind_int(s, 3, q->paused ? 1 : 0);
        sqlite3_bind_int64(s, 4, q->created_at_ms);
        sqlite3_bind_int64(s, 5, q->updated_at_ms);
        return run(st, s, "queue_put");
}

static int push_queue(sqlite3_stmt *s, struct queue_rec **v, int *n, int *cap)
{
        if (*n == *cap) {
                int ncap = *cap ? *cap * 2 : 16;
                struct queue_rec *nv = realloc(*v, (size_t)ncap * sizeof(*nv));

                if (!nv)
                        return BATON_ENOMEM;
                *v = nv;
                *cap = ncap;
        }
        if (read_queue(s, &(*v)[*n]))
                return BATON_ENOMEM;
        (*n)++;
        return 0;
}

/* *out is a malloc'd array of *n_out records owned by the caller, who frees
 * each with queue_rec_free and then the array with free. Names are never empty
 * (core validates them), so "" stands for "from the start". */
static int list_queues(struct store *st, const char *tenant, const char *after, int limit,
                       struct queue_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_LIST];
        struct queue_rec *v = NULL;
        int n = 0, cap = 0;
        int step, rc = 0;

        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        bind_text(s, 1, tenant);
        bind_text(s, 2, after ? after : "");
        sqlite3_bind_int(s, 3, limit);
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW)
                rc = push_queue(s, &v, &n, &cap);
        if (!rc && step != SQLITE_DONE)
                rc = fail(st, step, "queue_list");
        finish(s);
        if (rc) {
                for (int i = 0; i < n; i++)
                        queue_rec_free(&v[i]);
                free(v);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

static int count_queue(struct store *st, const char *tenant, const char *name,
                       struct queue_counts *out)
{
        sqlite3_stmt *s = st->stmt[S_QUEUE_COUNTS];
        int rc;

        memset(out, 0, sizeof(*out));
        bind_text(s, 1, tenant);
        bind_text(s, 2, name);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                int state = sqlite3_column_int(s, 0);

                if (state >= 0 && state < JOB_STATE_COUNT)
                        out->by_state[state] = sqlite3_column_int64(s, 1);
        }
        rc = rc == SQLITE_DONE ? 0 : fail(st, rc, "queue_counts");
        finish(s);
        if (rc)
                return rc;
        s = st->stmt[S_QUEUE_OLDEST];
        bind_text(s, 1, tenant);
        bind_text(s, 2, name);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                out->oldest_ready_ms = deadline_col(s, 0);
                rc = 0;
        } else {
                rc = fail(st, rc, "queue_counts");
        }
        finish(s);
        return rc;
}

/* ---- tenants ---- */

/* The first call for a name wins: its created_at is kept. */
static int ensure_tenant(struct store *st, const char *name, int64_t now_ms)
{
        sqlite3_stmt *s = st->stmt[S_TENANT_ENSURE];

        if (!name)
                return BATON_EINVAL;
        bind_text(s, 1, name);
        sqlite3_bind_int64(s, 2, now_ms);
        return run(st, s, "tenant_ensure");
}

/* ---- API keys ---- */

/* Grows *v (an array of *cap records of size sz) so that it holds one more
 * than n. */
static int grow(void **v, int n, int *cap, size_t sz)
{
        void *nv;
        int ncap;

        if (n < *cap)
                return 0;
        ncap = *cap ? *cap * 2 : 16;
        nv = realloc(*v, (size_t)ncap * sz);
        if (!nv)
                return BATON_ENOMEM;
        *v = nv;
        *cap = ncap;
        return 0;
}

/* Fills *out from the current row of a key read (KEY_COLS order). On success
 * the caller owns the strings (key_rec_free); on failure none are left. */
static int read_key(sqlite3_stmt *s, struct key_rec *out)
{
        struct key_rec k = {0};
        int rc;

        k.prev_until_ms = sqlite3_column_int64(s, 5);
        k.scopes = (uint32_t)sqlite3_column_int64(s, 6);
        k.created_at_ms = sqlite3_column_int64(s, 7);
        k.expires_at_ms = sqlite3_column_int64(s, 8);
        k.revoked_at_ms = sqlite3_column_int64(s, 9);
        k.rotated_at_ms = sqlite3_column_int64(s, 10);
        k.rate_max = sqlite3_column_int64(s, 11);
        k.rate_per_ms = sqlite3_column_int64(s, 12);
        rc = read_text(s, 0, &k.id);
        if (!rc)
                rc = read_text(s, 1, &k.tenant);
        if (!rc)
                rc = read_text(s, 2, &k.name);
        if (!rc)
                rc = read_text(s, 3, &k.digest);
        if (!rc)
                rc = read_text(s, 4, &k.prev_digest);
        if (!rc)
                rc = read_text(s, 13, &k.created_by);
        if (rc)
                key_rec_free(&k);
        else
                *out = k;
        return rc;
}

/* BATON_EINVAL for a record the table cannot hold (the NOT NULL columns), so
 * that a caller's bug is not reported as a store failure. */
static int insert_key(struct store *st, const struct key_rec *k)
{
        sqlite3_stmt *s = st->stmt[S_KEY_INSERT];

        if (!k->id || !k->tenant || !k->digest)
                return BATON_EINVAL;
        bind_text(s, 1, k->id);
        bind_text(s, 2, k->tenant);
        bind_text(s, 3, k->name);
        bind_text(s, 4, k->digest);
        bind_text(s, 5, k->prev_digest);
        sqlite3_bind_int64(s, 6, k->prev_until_ms);
        sqlite3_bind_int64(s, 7, (int64_t)k->scopes);
        sqlite3_bind_int64(s, 8, k->created_at_ms);
        sqlite3_bind_int64(s, 9, k->expires_at_ms);
        sqlite3_bind_int64(s, 10, k->revoked_at_ms);
        sqlite3_bind_int64(s, 11, k->rotated_at_ms);
        sqlite3_bind_int64(s, 12, k->rate_max);
        sqlite3_bind_int64(s, 13, k->rate_per_ms);
        bind_text(s, 14, k->created_by);
        return run(st, s, "key_insert");
}

/* On success the caller owns out's strings (key_rec_free); out is untouched
 * when the key does not exist. */
static int get_key(struct store *st, const char *id, struct key_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_KEY_GET];
        int rc;

        if (!id)
                return BATON_ENOTFOUND;
        bind_text(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_key(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : fail(st, rc, "key_get");
        finish(s);
        return rc;
}

/* id, tenant and created_at never change: a key cannot move between tenants. */
static int update_key(struct store *st, const struct key_rec *k)
{
        sqlite3_stmt *s = st->stmt[S_KEY_UPDATE];
        int rc;

        if (!k->id || !k->digest)
                return BATON_EINVAL;
        bind_text(s, 1, k->id);
        bind_text(s, 2, k->name);
        bind_text(s, 3, k->digest);
        bind_text(s, 4, k->prev_digest);
        sqlite3_bind_int64(s, 5, k->prev_until_ms);
        sqlite3_bind_int64(s, 6, (int64_t)k->scopes);
        sqlite3_bind_int64(s, 7, k->expires_at_ms);
        sqlite3_bind_int64(s, 8, k->revoked_at_ms);
        sqlite3_bind_int64(s, 9, k->rotated_at_ms);
        sqlite3_bind_int64(s, 10, k->rate_max);
        sqlite3_bind_int64(s, 11, k->rate_per_ms);
        bind_text(s, 12, k->created_by);
        rc = run(st, s, "key_update");
        if (!rc && sqlite3_changes(st->db) == 0)
                rc = BATON_ENOTFOUND;
        return rc;
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (key_recs_free). Ids are never empty, so "" stands for "from the start". */
static int list_keys(struct store *st, const char *tenant, const char *after, int limit,
                     struct key_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[tenant ? S_KEY_LIST_TENANT : S_KEY_LIST_ALL];
        struct key_rec *v = NULL;
        int n = 0, cap = 0, i = 1;
        int step = SQLITE_DONE, rc = 0;

        *out = NULL;
        *n_out = 0;
        if (limit <= 0)
                return BATON_EINVAL;
        if (tenant)
                bind_text(s, i++, tenant);
        bind_text(s, i++, after ? after : "");
        sqlite3_bind_int(s, i, limit);
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = grow((void **)&v, n, &cap, sizeof(*v));
                if (!rc)
                        rc = read_key(s, &v[n]);
                if (!rc)
                        n++;
        }
        if (!rc && step != SQLITE_DONE)
                rc = fail(st, step, "key_list");
        finish(s);
        if (rc) {
                key_recs_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

static int count_keys(struct store *st, int64_t *n_out)
{
        sqlite3_stmt *s = st->stmt[S_KEY_COUNT];
        int rc = sqlite3_step(s);

        if (rc == SQLITE_ROW) {
                *n_out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = fail(st, rc, "key_count");
        }
        finish(s);
        return rc;
}

/* ---- audit log ---- */

/* Binds the columns audit_insert and audit_bump share (?1 ... ?9). */
static void bind_audit(sqlite3_stmt *s, const struct audit_rec *r)
{
        sqlite3_bind_int64(s, 1, r->at_ms);
        bind_text(s, 2, r->key_id);
        bind_text(s, 3, r->tenant);
        bind_text(s, 4, r->action);
        bind_text(s, 5, r->target);
        bind_text(s, 6, r->request_id);
        sqlite3_bind_int(s, 7, r->status);
        bind_text(s, 8, r->code);
        bind_text(s, 9, r->detail);
}

/* Refusals: the row of r->bucket gains r->n (at least 1), or is made with it;
 * r->n becomes the row's count. */
static int bump_audit(struct store *st, sqlite3_stmt *s, struct audit_rec *r)
{
        int rc;

        bind_audit(s, r);
        bind_text(s, 10, r->bucket);
        sqlite3_bind_int64(s, 11, r->n > 0 ? r->n : 1);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                r->id = sqlite3_column_int64(s, 0);
                r->n = sqlite3_column_int64(s, 1);
                rc = 0;
        } else {
                rc = fail(st, rc, "audit_bump");
        }
        finish(s);
        return rc;
}

static int purge_audit(struct store *st, int64_t before_ms, int max, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_AUDIT_PURGE];
        int rc;

        *n_out = 0;
        if (max <= 0)
                return 0;
        sqlite3_bind_int64(s, 1, before_ms);
        sqlite3_bind_int(s, 2, max);
        rc = run(st, s, "audit_purge");
        if (!rc)
                *n_out = sqlite3_changes(st->db);
        return rc;
}

/* AUTOINCREMENT: an audit id is never handed out twice, even after the newest
 * rows were deleted, so a reader's cursor never skips a later entry. */
static int insert_audit(struct store *st, struct audit_rec *r)
{
        sqlite3_stmt *s = st->stmt[r->bucket ? S_AUDIT_BUMP : S_AUDIT_INSERT];
        int rc;

        if (!r->action)
                return BATON_EINVAL;
        if (r->bucket)
                return bump_audit(st, s, r);
        bind_audit(s, r);
        rc = run(st, s, "audit_insert");
        if (!rc) {
                r->id = sqlite3_last_insert_rowid(st->db);
                r->n = 1;
        }
        return rc;
}

/* Fills *out from the current audit row (AUDIT_COLS order); the caller owns
 * its strings (audit_rec_free), none are left on failure. */
static int read_audit(sqlite3_stmt *s, struct audit_rec *out)
{
        struct audit_rec r = {0};
        int rc;

        r.id = sqlite3_column_int64(s, 0);
        r.at_ms = sqlite3_column_int64(s, 1);
        r.status = sqlite3_column_int(s, 7);
        r.n = sqlite3_column_int64(s, 10);
        rc = read_text(s, 2, &r.key_id);
        if (!rc)
                rc = read_text(s, 3, &r.tenant);
        if (!rc)
                rc = read_text(s, 4, &r.action);
        if (!rc)
                rc = read_text(s, 5, &r.target);
        if (!rc)
                rc = read_text(s, 6, &r.request_id);
        if (!rc)
                rc = read_text(s, 8, &r.code);
        if (!rc)
                rc = read_text(s, 9, &r.detail);
        if (rc)
                audit_rec_free(&r);
        else
                *out = r;
        return rc;
}

/* *out is a malloc'd array of *n_out records owned by the caller
 * (audit_recs_free). BATON_EINVAL: no filter or limit < 1. */
static int list_audit(struct store *st, const struct audit_filter *f, struct audit_rec **out,
                      int *n_out)
{
        struct audit_rec *v = NULL;
        sqlite3_stmt *s;
        int n = 0, cap = 0, bits;
        int step = SQLITE_DONE, rc = 0;

        *out = NULL;
        *n_out = 0;
        if (!f || f->limit <= 0)
                return BATON_EINVAL;
        bits = (f->tenant ? AF_TENANT : 0) | (f->action ? AF_ACTION : 0) | (f->key_id ? AF_KEY : 0);
        s = st->stmt[S_AUDIT_LIST + bits];
        if (bits & AF_TENANT)
                bind_text(s, 1, f->tenant);
        if (bits & AF_ACTION)
                bind_text(s, 2, f->action);
        if (bits & AF_KEY)
                bind_text(s, 3, f->key_id);
        sqlite3_bind_int64(s, 4, f->after_id);
        sqlite3_bind_int(s, 5, f->limit);
        while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = grow((void **)&v, n, &cap, sizeof(*v));
                if (!rc)
                        rc = read_audit(s, &v[n]);
                if (!rc)
                        n++;
        }
        if (!rc && step != SQLITE_DONE)
                rc = fail(st, step, "audit_list");
        finish(s);
        if (rc) {
                audit_recs_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

/* ---- timers ---- */

/* Fills *out from the current timer row (TIMER_COLS order). On success the
 * caller owns the strings (timer_rec_free); on failure none are left. */
static int read_timer(sqlite3_stmt *s, struct timer_rec *out)
{
        struct timer_rec t = {0};
        int rc;

        t.version = sqlite3_column_int64(s, 2);
        t.state = sqlite3_column_int(s, 3);
        t.fire_at_ms = sqlite3_column_int64(s, 4);
        t.priority = sqlite3_column_int(s, 8);
        t.max_attempts = sqlite3_column_int(s, 9);
        t.backoff.type = sqlite3_column_int(s, 10);
        t.backoff.base_ms = sqlite3_column_int64(s, 11);
        t.backoff.max_ms = sqlite3_column_int64(s, 12);
        t.lease_ms = sqlite3_column_int64(s, 13);
        t.job_id = sqlite3_column_int64(s, 15);
        t.fired_at_ms = sqlite3_column_int64(s, 16);
        t.created_at_ms = sqlite3_column_int64(s, 17);
        t.updated_at_ms = sqlite3_column_int64(s, 18);
        t.due_at_ms = sqlite3_column_int64(s, 20);
        t.deferred = sqlite3_column_int(s, 21);
        rc = read_text(s, 0, &t.tenant);
        if (!rc)
                rc = read_text(s, 1, &t.key);
        if (!rc)
                rc = read_text(s, 5, &t.queue);
        if (!rc)
                rc = read_text(s, 6, &t.type);
        if (!rc)
                rc = read_text(s, 7, &t.payload);
        if (!rc)
                rc = read_text(s, 14, &t.request_id);
        if (!rc)
                rc = read_text(s, 19, &t.group);
        if (rc)
                timer_rec_free(&t);
        else
                *out = t;
        return rc;
}

/* On success the caller owns out's strings; out is untouched otherwise. */
static int get_timer(struct store *st, const char *tenant, const char *key, struct timer_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_GET];
        int rc;

        bind_text(s, 1, tenant);
        bind_text(s, 2, key);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_timer(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : fail(st, rc, "timer_get");
        finish(s);
        return rc;
}

static int put_timer(struct store *st, const struct timer_rec *t)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_PUT];

        if (!t->tenant || !t->key || !t->queue || !t->type || !t->payload)
                return BATON_EINVAL;
        bind_text(s, 1, t->tenant);
        bind_text(s, 2, t->key);
        sqlite3_bind_int64(s, 3, t->version);
        sqlite3_bind_int(s, 4, t->state);
        sqlite3_bind_int64(s, 5, t->fire_at_ms);
        bind_text(s, 6, t->queue);
        bind_text(s, 7, t->type);
        bind_text(s, 8, t->payload);
        sqlite3_bind_int(s, 9, t->priority);
        sqlite3_bind_int(s, 10, t->max_attempts);
        sqlite3_bind_int(s, 11, t->backoff.type);
        sqlite3_bind_int64(s, 12, t->backoff.base_ms);
        sqlite3_bind_int64(s, 13, t->backoff.max_ms);
        sqlite3_bind_int64(s, 14, t->lease_ms);
        bind_text(s, 15, t->request_id);
        sqlite3_bind_int64(s, 16, t->job_id);
        sqlite3_bind_int64(s, 17, t->fired_at_ms);
        sqlite3_bind_int64(s, 18, t->created_at_ms);
        sqlite3_bind_int64(s, 19, t->updated_at_ms);
        bind_text(s, 20, t->group);
        sqlite3_bind_int64(s, 21, t->due_at_ms > 0 ? t->due_at_ms : t->fire_at_ms);
        sqlite3_bind_int(s, 22, t->deferred);
        return run(st, s, "timer_put");
}

/* Steps s (already bound) and collects at most max timer rows into a malloc'd
 * array owned by the caller (timer_recs_free); finishes s. */
static int read_timers(struct store *st, sqlite3_stmt *s, int max, struct timer_rec **out,
                       int *n_out, const char *what)
{
        struct timer_rec *v = NULL;
        int n = 0, cap = 0;
        int step = SQLITE_DONE, rc = 0;

        while (!rc && n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = grow((void **)&v, n, &cap, sizeof(*v));
                if (!rc)
                        rc = read_timer(s, &v[n]);
                if (!rc)
                        n++;
        }
        if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
                rc = fail(st, step, what);
        finish(s);
        if (rc) {
                timer_recs_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

static int list_timers(struct store *st, const char *tenant, const char *prefix, const char *after,
                       int limit, struct timer_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_LIST];
        char *hi;
        int rc;

        *out = NULL;
        *n_out = 0;
        if (!tenant || limit <= 0)
                return BATON_EINVAL;
        prefix = prefix ? prefix : "";
        /* Every key that starts with prefix sorts before prefix + 0x7f. */
        hi = sqlite3_mprintf("%s\x7f", prefix);
        if (!hi)
                return BATON_ENOMEM;
        bind_text(s, 1, tenant);
        bind_text(s, 2, after ? after : "");
        bind_text(s, 3, prefix);
        bind_text(s, 4, hi);
        sqlite3_bind_int(s, 5, limit);
        rc = read_timers(st, s, limit, out, n_out, "timer_list");
        sqlite3_free(hi);
        return rc;
}

static int due_timers(struct store *st, int64_t now_ms, int max, struct timer_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_DUE];

        *out = NULL;
        *n_out = 0;
        if (max <= 0)
                return BATON_EINVAL;
        sqlite3_bind_int64(s, 1, now_ms);
        sqlite3_bind_int(s, 2, max);
        return read_timers(st, s, max, out, n_out, "timer_due");
}

static int next_timer(struct store *st, int64_t *at_ms_out)
{
        sqlite3_stmt *s = st->stmt[S_TIMER_NEXT];
        int rc = sqlite3_step(s);

        *at_ms_out = 0;
        if (rc == SQLITE_ROW) {
                *at_ms_out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = rc == SQLITE_DONE ? 0 : fail(st, rc, "timer_next");
        }
        finish(s);
        return rc;
}

/* ---- query plans ---- */

/* The index a plan line reads through: its name, "rowid" for the integer
 * primary key, "PRIMARY" for the key of a WITHOUT ROWID table, or "" for a
 * line that reads no table through an index. */
static void plan_line_index(const char *detail, char *out, size_t len)
{
        const char *p;
        size_t n = 0;

        out[0] = 0;
        if (strstr(detail, "USING INTEGER PRIMARY KEY")) {
                snprintf(out, len, "rowid");
                return;
        }
        if (strstr(detail, "USING PRIMARY KEY")) {
                snprintf(out, len, "PRIMARY");
                return;
        }
        p = strstr(detail, "INDEX ");
        if (!p || !strstr(detail, " USING "))
                return;
        p += strlen("INDEX ");
        while (p[n] && p[n] != ' ' && n + 1 < len) {
                out[n] = p[n];
                n++;
        }
        out[n] = 0;
}

/* True if name is one of the space-separated words of list. */
static bool word_in(const char *list, const char *name)
{
        size_t n = strlen(name);

        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, ' ');
                size_t m = end ? (size_t)(end - p) : strlen(p);

                if (m == n && strncmp(p, name, n) == 0)
                        return true;
                p = end ? end + 1 : NULL;
        }
        return false;
}

/* Judges one plan line; returns a reason when it is bad, NULL otherwise. A
 * full scan or a temporary sort makes a query grow with the table; an index
 * other than the one the statement was written for means the planner took a
 * path this file did not plan for. */
static const char *plan_line_verdict(const char *detail, const char *uses, const char *index)
{
        bool scan = strncmp(detail, "SCAN ", 5) == 0;

        if (strstr(detail, "TEMP B-TREE"))
                return "sorts in a temporary b-tree";
        if (strcmp(detail, "SCAN CONSTANT ROW") == 0)
                return NULL; /* a SELECT without FROM, as in deadlines */
        if (scan && !*index)
                return "scans the whole table";
        if (scan && !word_in(uses, index))
                return "walks an index it should only search";
        if (*index && uses && !word_in(uses, index))
                return "uses an unexpected index";
        return NULL;
}

static int stmt_by_name(const char *name)
{
        for (int id = 0; id < S_LIST; id++)
                if (strcmp(stmt_defs[id].name, name) == 0)
                        return id;
        if (strncmp(name, "job_list/", 9) == 0) {
                int bits = atoi(name + 9);
                if (bits >= 0 && bits < S_AUDIT_LIST - S_LIST)
                        return S_LIST + bits;
        }
        if (strncmp(name, "audit_list/", 11) == 0) {
                int bits = atoi(name + 11);
                if (bits >= 0 && bits < S_COUNT - S_AUDIT_LIST)
                        return S_AUDIT_LIST + bits;
        }
        return -1;
}

static const char *stmt_name(int id)
{
        if (id < S_LIST)
                return stmt_defs[id].name;
        return id < S_AUDIT_LIST ? "job_list" : "audit_list";
}

/* The indexes statement id must read through (see struct stmt_def). An
 * audit_list variant with one filter has exactly one index for it; with
 * several, any of them serves (the others are checked row by row), so the
 * plan is only required to search, never scan or sort. */
static const char *stmt_uses(int id)
{
        static const char *const audit_uses[] = {
            [0] = "rowid",
            [AF_TENANT] = "audit_tenant",
            [AF_ACTION] = "audit_action",
            [AF_KEY] = "audit_key",
        };

        if (id < S_LIST)
                return stmt_defs[id].uses;
        if (id < S_AUDIT_LIST)
                return NULL;
        id -= S_AUDIT_LIST;
        return id < (int)BATON_ARRAY_LEN(audit_uses) ? audit_uses[id] : NULL;
}

/* Runs EXPLAIN QUERY PLAN on statement id. With plan_out, writes the plan's
 * lines there (one per line, truncated to plan_len). With why, judges each
 * line against the statement's expectations and returns BATON_ESTORE on the
 * first bad one, naming it in why. */
static int explain(struct store *st, int id, char *plan_out, size_t plan_len, char *why,
                   size_t why_len)
{
        const char *name = stmt_name(id);
        const char *uses = stmt_uses(id);
        char seen[512] = "";
        size_t used = 0;
        sqlite3_stmt *s = NULL;
        char *sql;
        int rc;

        if (plan_out && plan_len)
                plan_out[0] = 0;
        sql = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(st->stmt[id]));
        if (!sql)
                return BATON_ENOMEM;
        rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
        sqlite3_free(sql);
        if (rc != SQLITE_OK)
                return fail(st, rc, "explain");
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                const char *detail = (const char *)sqlite3_column_text(s, 3);
                const char *bad;
                char index[128];

                if (!detail)
                        continue;
                if (plan_out && used < plan_len) {
                        int w = snprintf(plan_out + used, plan_len - used, "%s\n", detail);
                        used += w > 0 ? (size_t)w : 0;
                }
                plan_line_index(detail, index, sizeof(index));
                if (*index && strlen(seen) + strlen(index) + 2 < sizeof(seen)) {
                        strcat(seen, " ");
                        strcat(seen, index);
                }
                bad = why ? plan_line_verdict(detail, uses, index) : NULL;
                if (bad) {
                        snprintf(why, why_len, "%s (statement %d) %s: %s", name, id, bad, detail);
                        rc = BATON_ESTORE;
                        break;
                }
        }
        if (rc == SQLITE_DONE)
                rc = 0;
        else if (rc > 0)
                rc = fail(st, rc, "explain");
        sqlite3_finalize(s);
        /* Every index the statement was written for must be in the plan. */
        for (const char *p = uses; !rc && why && p && *p;) {
                const char *end = strchr(p, ' ');
                char want[128];
                size_t m = end ? (size_t)(end - p) : strlen(p);

                snprintf(want, sizeof(want), "%.*s", (int)m, p);
                if (!word_in(seen, want)) {
                        snprintf(why, why_len, "%s (statement %d) does not use %s", name, id, want);
                        rc = BATON_ESTORE;
                }
                p = end ? end + 1 : NULL;
        }
        return rc;
}

int sqlite_check_plans(struct store *st, char *why, size_t why_len)
{
        int rc = 0;

        if (why_len)
                why[0] = 0;
        for (int id = 0; id < S_COUNT && !rc; id++)
                if (id >= S_LIST || stmt_defs[id].plan)
                        rc = explain(st, id, NULL, 0, why, why_len);
        return rc;
}

int sqlite_explain(struct store *st, const char *name, char *out, size_t out_len)
{
        int id = stmt_by_name(name);

        if (id < 0)
                return BATON_ENOTFOUND;
        return explain(st, id, out, out_len, NULL, 0);
}

int sqlite_pragma_int(struct store *st, const char *name, int64_t *out)
{
        sqlite3_stmt *s = NULL;
        char *sql;
        int rc;

        /* Only a bare pragma name, so the text pasted into SQL is harmless. */
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
                        return BATON_EINVAL;
        sql = sqlite3_mprintf("PRAGMA %s", name);
        if (!sql)
                return BATON_ENOMEM;
        rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
        sqlite3_free(sql);
        if (rc != SQLITE_OK)
                return fail(st, rc, "pragma");
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                *out = sqlite3_column_int64(s, 0);
                rc = 0;
        } else {
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : fail(st, rc, "pragma");
        }
        sqlite3_finalize(s);
        return rc;
}

struct sqlite3 *sqlite_db(struct store *st)
{
        return st->db;
}

struct sqlite3_stmt **sqlite_cron_stmts(struct store *st)
{
        return st->cron_stmt;
}

/* ---- dependencies and flows ---- */

static int insert_dep(struct store *st, const char *tenant, int64_t parent_id, int64_t child_id)
{
        sqlite3_stmt *s = st->stmt[S_DEP_INSERT];

        sqlite3_bind_int64(s, 1, parent_id);
        sqlite3_bind_int64(s, 2, child_id);
        bind_text(s, 3, tenant);
        return run(st, s, "dep_insert");
}

static int dep_children(struct store *st, int64_t parent_id, int64_t after_id, int max,
                        int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_DEP_CHILDREN];

        sqlite3_bind_int64(s, 1, parent_id);
        sqlite3_bind_int64(s, 2, after_id);
        sqlite3_bind_int(s, 3, max);
        return read_ids(st, s, max, ids, n_out, "dep_children");
}

/* ---- the dependency cascade's work list (version 9) ---- */

static int dep_work_put(struct store *st, int64_t job_id, int64_t after_id)
{
        sqlite3_stmt *s = st->stmt[S_DEP_WORK_PUT];

        sqlite3_bind_int64(s, 1, job_id);
        sqlite3_bind_int64(s, 2, after_id);
        return run(st, s, "dep_work_put");
}

static int dep_work_next(struct store *st, int max, int64_t *ids, int64_t *afters, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_DEP_WORK_NEXT];
        int n = 0;
        int rc;

        sqlite3_bind_int(s, 1, max);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
                ids[n] = sqlite3_column_int64(s, 0);
                afters[n] = sqlite3_column_int64(s, 1);
                n++;
        }
        rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(st, rc, "dep_work_next");
        finish(s);
        *n_out = rc ? 0 : n;
        return rc;
}

static int dep_work_move(struct store *st, int64_t job_id, int64_t from_after, int64_t to_after)
{
        sqlite3_stmt *s = st->stmt[to_after < 0 ? S_DEP_WORK_DONE : S_DEP_WORK_ADVANCE];

        sqlite3_bind_int64(s, 1, job_id);
        sqlite3_bind_int64(s, 2, from_after);
        if (to_after >= 0)
                sqlite3_bind_int64(s, 3, to_after);
        return run(st, s, "dep_work_move");
}

static int insert_flow(struct store *st, struct flow_rec *f)
{
        sqlite3_stmt *s = st->stmt[S_FLOW_INSERT];
        int rc;

        bind_text(s, 1, f->tenant);
        sqlite3_bind_int64(s, 2, f->created_at_ms);
        bind_text(s, 3, f->request_id);
        rc = run(st, s, "flow_insert");
        if (!rc)
                f->id = sqlite3_last_insert_rowid(st->db);
        return rc;
}

static int get_flow(struct store *st, const char *tenant, int64_t id, struct flow_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_FLOW_GET];
        struct flow_rec f = {0};
        int rc;

        sqlite3_bind_int64(s, 1, id);
        bind_text(s, 2, tenant);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
                f.id = sqlite3_column_int64(s, 0);
                f.created_at_ms = sqlite3_column_int64(s, 2);
                rc = read_text(s, 1, &f.tenant);
                if (!rc)
                        rc = read_text(s, 3, &f.request_id);
                if (rc)
                        flow_rec_free(&f);
                else
                        *out = f;
        } else {
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : fail(st, rc, "flow_get");
        }
        finish(s);
        return rc;
}

static int flow_job_ids(struct store *st, const char *tenant, int64_t flow_id, int64_t after_id,
                        int max, int64_t *ids, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_FLOW_JOBS];

        bind_text(s, 1, tenant);
        sqlite3_bind_int64(s, 2, flow_id);
        sqlite3_bind_int64(s, 3, after_id);
        sqlite3_bind_int(s, 4, max);
        return read_ids(st, s, max, ids, n_out, "flow_job_ids");
}

/* ---- version 5: queue limits and groups ---- */

/* Fills *out from the current row of a QLIM_READ; the caller
 * owns its strings on success, none are left on failure. */
static int read_qlim(sqlite3_stmt *s, struct queue_limits *out)
{
        struct queue_limits q = {0};
        int64_t *v[] = {&q.concurrency,       &q.rate_max,          &q.rate_per_ms,
                        &q.max_depth,         &q.group_concurrency, &q.group_rate_max,
                        &q.group_rate_per_ms, &q.def_max_attempts,  &q.def_lease_ms};
        int rc;

        for (int i = 0; i < (int)BATON_ARRAY_LEN(v); i++)
                *v[i] = sqlite3_column_int64(s, 2 + i);
        q.def_backoff.type = sqlite3_column_int(s, 11);
        q.def_backoff_set = q.def_backoff.type >= 0;
        q.def_backoff.base_ms = sqlite3_column_int64(s, 12);
        q.def_backoff.max_ms = sqlite3_column_int64(s, 13);
        q.start_seq = sqlite3_column_int64(s, 14);
        q.serve_seq = sqlite3_column_int64(s, 15);
        q.nogroup_served = sqlite3_column_int64(s, 16);
        q.updated_at_ms = sqlite3_column_int64(s, 17);
        q.depth = sqlite3_column_int64(s, 18);
        q.running = sqlite3_column_int64(s, 19);
        q.grouped = sqlite3_column_int(s, 20) != 0;
        q.known = sqlite3_column_int(s, 21) != 0;
        rc = read_text(s, 0, &q.tenant);
        if (!rc)
                rc = read_text(s, 1, &q.queue);
        if (rc)
                queue_limits_free(&q);
        else
                *out = q;
        return rc;
}

/* With lock the row is made first, as store.h asks, although one writer needs
 * no lock: both backends then answer alike. */
static int get_qlim(struct store *st, const char *tenant, const char *queue, bool lock,
                    struct queue_limits *out)
{
        sqlite3_stmt *s = st->stmt[S_QLIM_GET];
        int rc = 0;

        if (lock) {
                bind_text(st->stmt[S_QLIM_MAKE], 1, tenant);
                bind_text(st->stmt[S_QLIM_MAKE], 2, queue);
                rc = run(st, st->stmt[S_QLIM_MAKE], "qlim_make");
        }
        if (rc)
                return rc;
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        rc = sqlite3_step(s);
        rc = rc == SQLITE_ROW ? read_qlim(s, out) : fail(st, rc, "qlim_get");
        finish(s);
        return rc;
}

static int put_qlim(struct store *st, const struct queue_limits *q)
{
        sqlite3_stmt *s = st->stmt[S_QLIM_PUT];
        const int64_t v[] = {q->concurrency,         q->rate_max,
                             q->rate_per_ms,         q->max_depth,
                             q->group_concurrency,   q->group_rate_max,
                             q->group_rate_per_ms,   q->def_max_attempts,
                             q->def_lease_ms,        q->def_backoff_set ? q->def_backoff.type : -1,
                             q->def_backoff.base_ms, q->def_backoff.max_ms,
                             q->start_seq,           q->serve_seq,
                             q->nogroup_served,      q->updated_at_ms};

        if (!q->tenant || !q->queue)
                return BATON_EINVAL;
        bind_text(s, 1, q->tenant);
        bind_text(s, 2, q->queue);
        for (int i = 0; i < (int)BATON_ARRAY_LEN(v); i++)
                sqlite3_bind_int64(s, 3 + i, v[i]);
        return run(st, s, "qlim_put");
}

static int add_qlim(struct store *st, const char *tenant, const char *queue, int64_t depth_delta,
                    int64_t running_delta)
{
        sqlite3_stmt *s = st->stmt[S_QLIM_ADD];

        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        sqlite3_bind_int64(s, 3, depth_delta);
        sqlite3_bind_int64(s, 4, running_delta);
        return run(st, s, "qlim_add");
}

/* Fills *g from the current job_groups row (GROUP_COLS order); the caller
 * owns its strings on success, none are left on failure. */
static int read_group(sqlite3_stmt *s, struct group_rec *out)
{
        struct group_rec g = {0};
        int rc;

        g.running = sqlite3_column_int64(s, 3);
        g.head = sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 4);
        g.served = sqlite3_column_int64(s, 5);
        g.blocked = sqlite3_column_int(s, 6) != 0;
        g.until_ms = sqlite3_column_int64(s, 7);
        g.start_seq = sqlite3_column_int64(s, 8);
        g.last_start_ms = sqlite3_column_int64(s, 9);
        rc = read_text(s, 0, &g.tenant);
        if (!rc)
                rc = read_text(s, 1, &g.queue);
        if (!rc)
                rc = read_text(s, 2, &g.grp);
        if (rc)
                group_rec_free(&g);
        else
                *out = g;
        return rc;
}

static int get_group(struct store *st, const char *tenant, const char *queue, const char *grp,
                     bool lock, struct group_rec *out)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_GET];
        int rc;

        (void)lock;
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        bind_text(s, 3, grp);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
                rc = read_group(s, out);
        else
                rc = rc == SQLITE_DONE ? BATON_ENOTFOUND : fail(st, rc, "group_get");
        finish(s);
        return rc;
}

static int put_group(struct store *st, const struct group_rec *g)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_PUT];

        if (!g->tenant || !g->queue || !g->grp)
                return BATON_EINVAL;
        bind_text(s, 1, g->tenant);
        bind_text(s, 2, g->queue);
        bind_text(s, 3, g->grp);
        sqlite3_bind_int64(s, 4, g->running);
        if (g->head >= 0)
                sqlite3_bind_int(s, 5, g->head);
        else
                sqlite3_bind_null(s, 5);
        sqlite3_bind_int64(s, 6, g->served);
        sqlite3_bind_int(s, 7, g->blocked ? 1 : 0);
        sqlite3_bind_int64(s, 8, g->until_ms);
        sqlite3_bind_int64(s, 9, g->start_seq);
        sqlite3_bind_int64(s, 10, g->last_start_ms);
        return run(st, s, "group_put");
}

static int delete_group(struct store *st, const char *tenant, const char *queue, const char *grp)
{
        int ids[] = {S_GROUP_DELETE, S_GROUP_RATE_DELETE};
        int rc = 0;

        for (int i = 0; i < 2 && !rc; i++) {
                sqlite3_stmt *s = st->stmt[ids[i]];
                bind_text(s, 1, tenant);
                bind_text(s, 2, queue);
                bind_text(s, 3, grp);
                rc = run(st, s, "group_delete");
        }
        return rc;
}

static int group_note_ready(struct store *st, const char *tenant, const char *queue,
                            const char *grp, int prio)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_NOTE_READY];

        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        bind_text(s, 3, grp);
        sqlite3_bind_int(s, 4, prio);
        return run(st, s, "group_note_ready");
}

static int group_pick(struct store *st, const char *tenant, const char *queue, int max,
                      struct group_rec **out, int *n_out)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_PICK];
        struct group_rec *v = NULL;
        int n = 0, cap = 0;
        int rc = 0, step;

        *out = NULL;
        *n_out = 0;
        if (max < 1)
                return BATON_EINVAL;
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        sqlite3_bind_int(s, 3, max);
        while (!rc && n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
                rc = grow((void **)&v, n, &cap, sizeof(*v));
                if (!rc)
                        rc = read_group(s, &v[n]);
                if (!rc)
                        n++;
        }
        if (!rc && n < max && step != SQLITE_DONE)
                rc = fail(st, step, "group_pick");
        finish(s);
        if (rc) {
                group_recs_free(v, n);
                return rc;
        }
        *out = v;
        *n_out = n;
        return 0;
}

static int group_unblock(struct store *st, const char *tenant, const char *queue, int64_t now_ms,
                         int64_t gc, bool all)
{
        sqlite3_stmt *s = st->stmt[all ? S_GROUP_UNBLOCK_ALL : S_GROUP_UNBLOCK];

        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        if (all) {
                sqlite3_bind_int64(s, 3, gc);
        } else {
                sqlite3_bind_int64(s, 3, now_ms);
                sqlite3_bind_int64(s, 4, gc);
        }
        return run(st, s, "group_unblock");
}

static int group_next_until(struct store *st, const char *tenant, const char *queue, int64_t *at_ms)
{
        sqlite3_stmt *s = st->stmt[S_GROUP_NEXT_UNTIL];
        int n = 0;

        *at_ms = 0;
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        return read_ids(st, s, 1, at_ms, &n, "group_next_until");
}

static int group_ready_ids(struct store *st, const char *tenant, const char *queue, const char *grp,
                           int max, int64_t *ids, int *prios, int *n_out)
{
        sqlite3_stmt *s = st->stmt[grp ? S_GROUP_READY : S_NOGROUP_READY];
        int n = 0;
        int rc = SQLITE_DONE;

        *n_out = 0;
        if (max <= 0)
                return 0;
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        if (grp)
                bind_text(s, 3, grp);
        sqlite3_bind_int(s, 4, max);
        while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
                ids[n] = sqlite3_column_int64(s, 0);
                prios[n] = sqlite3_column_int(s, 1);
                n++;
        }
        rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : fail(st, rc, "group_ready_ids");
        finish(s);
        *n_out = rc ? 0 : n;
        return rc;
}

/* ---- version 6: many rows per call ---- */

static int cmp_id(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

/* A call costs no round trip here, so this is job_get for each id, in
 * ascending order, each once. out NULL reads nothing: the single writer
 * already holds the whole store, and there is no cache to fill. */
static int get_jobs_many(struct store *st, const char *tenant, const int64_t *ids, int n,
                         struct job_vec *out)
{
        int64_t *v;
        int rc = 0;

        if (n < 0 || n > STORE_MANY_MAX)
                return BATON_EINVAL;
        if (!out || n == 0)
                return 0;
        v = malloc((size_t)n * sizeof(*v));
        if (!v)
                return BATON_ENOMEM;
        memcpy(v, ids, (size_t)n * sizeof(*v));
        qsort(v, (size_t)n, sizeof(*v), cmp_id);
        for (int i = 0; i < n && !rc; i++) {
                struct job *j;

                if (i > 0 && v[i] == v[i - 1])
                        continue;
                j = job_vec_push(out);
                rc = j ? get_job(st, tenant, v[i], j) : BATON_ENOMEM;
                if (rc && j)
                        out->n--; /* get_job left the slot empty */
                if (rc == BATON_ENOTFOUND)
                        rc = 0;
        }
        free(v);
        return rc;
}

/* group_ready_ids of each group; nothing is ever locked by another writer,
 * so no group is busy. */
static int group_ready_many(struct store *st, const char *tenant, const char *queue,
                            const char *const *grps, int n_grps, int per, int64_t *ids, int *prios,
                            int *n_out, bool *busy)
{
        int rc = 0;

        if (n_grps < 0 || n_grps > STORE_MANY_MAX || per < 1 || per > STORE_READ_PER_MAX)
                return BATON_EINVAL;
        for (int i = 0; i < n_grps && !rc; i++) {
                if (!grps[i])
                        return BATON_EINVAL;
                busy[i] = false;
                rc = group_ready_ids(st, tenant, queue, grps[i], per, ids + (size_t)i * per,
                                     prios + (size_t)i * per, &n_out[i]);
        }
        return rc;
}

static int get_rate(struct store *st, const char *tenant, const char *queue, const char *grp,
                    int64_t seq, int64_t *at_ms)
{
        sqlite3_stmt *s = st->stmt[S_RATE_GET];
        int n = 0;
        int rc;

        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        bind_text(s, 3, grp);
        sqlite3_bind_int64(s, 4, seq);
        rc = read_ids(st, s, 1, at_ms, &n, "rate_get");
        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

static int put_rate(struct store *st, const char *tenant, const char *queue, const char *grp,
                    int64_t seq, int64_t at_ms, int64_t keep_from)
{
        sqlite3_stmt *s = st->stmt[S_RATE_PUT];
        int rc;

        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        bind_text(s, 3, grp);
        sqlite3_bind_int64(s, 4, seq);
        sqlite3_bind_int64(s, 5, at_ms);
        rc = run(st, s, "rate_put");
        if (rc)
                return rc;
        s = st->stmt[S_RATE_TRIM];
        bind_text(s, 1, tenant);
        bind_text(s, 2, queue);
        bind_text(s, 3, grp);
        sqlite3_bind_int64(s, 4, keep_from);
        return run(st, s, "rate_trim");
}

const struct store_ops store_sqlite_ops = {
    .version = STORE_OPS_VERSION,
    .name = "sqlite",
    .open = open_store,
    .close = close_store,
    .schema_version = schema_version,
    .begin = begin_txn,
    .commit = commit_txn,
    .rollback = rollback_txn,
    .savepoint = savepoint_op,
    .release = release_op,
    .rollback_to = rollback_to_op,
    .job_insert = insert_job,
    .job_get = get_job,
    .job_update = update_job,
    .job_find_key = find_key,
    .job_list = list_jobs,
    .job_ready_ids = ready_ids,
    .job_due_ids = due_ids,
    .job_expired_ids = expired_ids,
    .job_state_ids = state_ids,
    .job_purge = purge_jobs,
    .job_delete = delete_job,
    .deadlines = read_deadlines,
    .idem_get = get_idem,
    .idem_put = put_idem,
    .idem_purge = purge_idem,
    .idem_take = take_idem,
    .idem_swap = swap_idem,
    .queue_ensure = ensure_queue,
    .queue_total = total_queues,
    .queue_get = get_queue,
    .queue_put = put_queue,
    .queue_list = list_queues,
    .queue_counts = count_queue,
    .tenant_ensure = ensure_tenant,
    .key_insert = insert_key,
    .key_get = get_key,
    .key_update = update_key,
    .key_list = list_keys,
    .key_count = count_keys,
    .audit_insert = insert_audit,
    .audit_purge = purge_audit,
    .audit_list = list_audit,
    .cron_put = sqlite_cron_put,
    .cron_get = sqlite_cron_get,
    .cron_delete = sqlite_cron_delete,
    .cron_list = sqlite_cron_list,
    .cron_due = sqlite_cron_due,
    .cron_next_due = sqlite_cron_next_due,
    .cron_run_insert = sqlite_cron_run_insert,
    .cron_run_update = sqlite_cron_run_update,
    .cron_run_get = sqlite_cron_run_get,
    .cron_run_list = sqlite_cron_run_list,
    .cron_run_count = sqlite_cron_run_count,
    .cron_count_add = sqlite_cron_count_add,
    .cron_run_trim = sqlite_cron_run_trim,
    .timer_get = get_timer,
    .timer_put = put_timer,
    .timer_list = list_timers,
    .timer_due = due_timers,
    .timer_next = next_timer,
    .dep_insert = insert_dep,
    .dep_children = dep_children,
    .dep_work_put = dep_work_put,
    .dep_work_next = dep_work_next,
    .dep_work_move = dep_work_move,
    .flow_insert = insert_flow,
    .flow_get = get_flow,
    .flow_job_ids = flow_job_ids,
    .shared = false,
    .leader_acquire = sqlite_leader_acquire,
    .leader_check = sqlite_leader_check,
    .leader_release = sqlite_leader_release,
    .leader_get = sqlite_leader_get,
    .notify = sqlite_notify,
    /* version 5 */
    .qlim_get = get_qlim,
    .qlim_put = put_qlim,
    .qlim_add = add_qlim,
    .group_get = get_group,
    .group_put = put_group,
    .group_delete = delete_group,
    .group_note_ready = group_note_ready,
    .group_pick = group_pick,
    .group_unblock = group_unblock,
    .group_next_until = group_next_until,
    .group_ready_ids = group_ready_ids,
    .rate_get = get_rate,
    .rate_put = put_rate,
    /* version 6 */
    .job_get_many = get_jobs_many,
    .group_ready_many = group_ready_many,
};
