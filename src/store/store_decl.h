/*
 * store_decl.h: the operations that both backends define, one file per
 * domain, as <backend>_<op> (sqlite_timer_get, pg_timer_get), listed once
 * here by domain. A backend's internal header declares its own with
 * STORE_JOB_OPS(STORE_DECLARE, sqlite) and so on: each is declared with the
 * type of its member of struct store_ops, so store.h is the one place its
 * signature is written; the backend's ops table sets the members from the
 * same lists (STORE_INIT). Operations only one backend has (pg_job_peek, the
 * listener) or that it names otherwise are declared and set by that backend.
 */
#ifndef BATON_STORE_STORE_DECL_H
#define BATON_STORE_STORE_DECL_H

#include "store/store.h"

/* Declares backend B's operation op with the type of store_ops.op. */
#define STORE_DECLARE(B, op) extern __typeof__(*((struct store_ops *)0)->op) B##_##op;
/* Sets member op of a struct store_ops initializer to backend B's operation. */
#define STORE_INIT(B, op) .op = B##_##op,
/* The members of the store's life and transactions, which each backend
 * defines as static functions of these names in its main file (sqlite.c,
 * pg.c). */
#define STORE_TXN_INIT                                                                             \
        .open = open_store, .close = close_store, .schema_version = schema_version,                \
        .begin = begin_txn, .commit = commit_txn, .rollback = rollback_txn,                        \
        .savepoint = savepoint_op, .release = release_op, .rollback_to = rollback_to_op

/* Job rows (sqlite_jobs.c, pg_jobs.c). */
#define STORE_JOB_OPS(X, B)                                                                        \
        X(B, job_insert)                                                                           \
        X(B, job_get)                                                                              \
        X(B, job_update)                                                                           \
        X(B, job_update_run)                                                                       \
        X(B, job_update_settle)                                                                    \
        X(B, job_find_key)                                                                         \
        X(B, job_find_active)                                                                      \
        X(B, job_list)                                                                             \
        X(B, job_due_ids)                                                                          \
        X(B, job_expired_ids)                                                                      \
        X(B, job_shift_leases)                                                                     \
        X(B, job_state_ids)                                                                        \
        X(B, job_purge)                                                                            \
        X(B, job_delete)                                                                           \
        X(B, job_purge_own)                                                                        \
        X(B, job_own_deadline)                                                                     \
        X(B, deadlines)                                                                            \
        X(B, job_get_many)

/* Idempotency, queues, tenants, keys, audit (sqlite_meta.c, pg_meta.c). */
#define STORE_META_OPS(X, B)                                                                       \
        X(B, idem_get)                                                                             \
        X(B, idem_put)                                                                             \
        X(B, idem_take)                                                                            \
        X(B, idem_swap)                                                                            \
        X(B, idem_purge)                                                                           \
        X(B, queue_ensure)                                                                         \
        X(B, queue_delete)                                                                         \
        X(B, queue_total)                                                                          \
        X(B, queue_get)                                                                            \
        X(B, queue_put)                                                                            \
        X(B, queue_list)                                                                           \
        X(B, queue_counts)                                                                         \
        X(B, tenant_ensure)                                                                        \
        X(B, key_insert)                                                                           \
        X(B, key_get)                                                                              \
        X(B, key_update)                                                                           \
        X(B, key_list)                                                                             \
        X(B, key_count)                                                                            \
        X(B, audit_insert)                                                                         \
        X(B, audit_purge)                                                                          \
        X(B, audit_list)

/* Timers (sqlite_timers.c, pg_timers.c). */
#define STORE_TIMER_OPS(X, B)                                                                      \
        X(B, timer_get)                                                                            \
        X(B, timer_put)                                                                            \
        X(B, timer_list)                                                                           \
        X(B, timer_due)                                                                            \
        X(B, timer_next)

/* Dependencies, flows, the cascade's work list (sqlite_deps.c, pg_deps.c). */
#define STORE_DEP_OPS(X, B)                                                                        \
        X(B, dep_insert)                                                                           \
        X(B, dep_children)                                                                         \
        X(B, dep_work_put)                                                                         \
        X(B, dep_work_next)                                                                        \
        X(B, dep_work_move)                                                                        \
        X(B, flow_insert)                                                                          \
        X(B, flow_get)                                                                             \
        X(B, flow_job_ids)

/* Queue limits, groups, rate windows (sqlite_groups.c, pg_groups.c). */
#define STORE_GROUP_OPS(X, B)                                                                      \
        X(B, qlim_get)                                                                             \
        X(B, qlim_put)                                                                             \
        X(B, qlim_add)                                                                             \
        X(B, group_get)                                                                            \
        X(B, group_put)                                                                            \
        X(B, group_delete)                                                                         \
        X(B, group_note_ready)                                                                     \
        X(B, group_pick)                                                                           \
        X(B, group_unblock)                                                                        \
        X(B, group_next_until)                                                                     \
        X(B, group_ready_many)                                                                     \
        X(B, rate_get)                                                                             \
        X(B, rate_put)                                                                             \
        X(B, rate_clamp)

/* Cron schedules and runs (sqlite_cron.c, pg_cron.c). */
#define STORE_CRON_OPS(X, B)                                                                       \
        X(B, cron_put)                                                                             \
        X(B, cron_get)                                                                             \
        X(B, cron_delete)                                                                          \
        X(B, cron_list)                                                                            \
        X(B, cron_due)                                                                             \
        X(B, cron_next_due)                                                                        \
        X(B, cron_count_add)                                                                       \
        X(B, cron_run_insert)                                                                      \
        X(B, cron_run_update)                                                                      \
        X(B, cron_run_get)                                                                         \
        X(B, cron_run_list)                                                                        \
        X(B, cron_run_count)                                                                       \
        X(B, cron_run_trim)                                                                        \
        X(B, cron_last_tick)

/* The leader lease and notifications (sqlite_cluster.c, pg_cluster.c). */
#define STORE_CLUSTER_OPS(X, B)                                                                    \
        X(B, leader_acquire)                                                                       \
        X(B, leader_check)                                                                         \
        X(B, leader_release)                                                                       \
        X(B, leader_get)                                                                           \
        X(B, notify)

/* The worker registry, version 14 (sqlite_workers.c, pg_workers.c). */
#define STORE_WORKER_OPS(X, B)                                                                     \
        X(B, worker_seen)                                                                          \
        X(B, worker_get)                                                                           \
        X(B, worker_list)                                                                          \
        X(B, worker_jobs)                                                                          \
        X(B, worker_purge)

/* The stats series, version 19 (sqlite_stats.c, pg_stats.c). */
#define STORE_STATS_OPS(X, B)                                                                      \
        X(B, stats_add)                                                                            \
        X(B, stats_sample)                                                                         \
        X(B, stats_range)                                                                          \
        X(B, stats_purge)
/* Dashboard sessions, version 15 (sqlite_sessions.c, pg_sessions.c). */
#define STORE_SESSION_OPS(X, B)                                                                    \
        X(B, session_insert)                                                                       \
        X(B, session_delete)                                                                       \
        X(B, session_list)
/* The event log, version 16 (sqlite_events.c, pg_events.c). */
#define STORE_EVENT_OPS(X, B)                                                                      \
        X(B, event_insert)                                                                         \
        X(B, event_scan)                                                                           \
        X(B, event_purge)

/* Every operation of the lists above, set in an ops initializer, then the
 * store's life and transactions (STORE_TXN_INIT). */
#define STORE_INIT_ALL(B)                                                                          \
        STORE_JOB_OPS(STORE_INIT, B)                                                               \
        STORE_META_OPS(STORE_INIT, B)                                                              \
        STORE_TIMER_OPS(STORE_INIT, B)                                                             \
        STORE_DEP_OPS(STORE_INIT, B)                                                               \
        STORE_GROUP_OPS(STORE_INIT, B)                                                             \
        STORE_CRON_OPS(STORE_INIT, B)                                                              \
        STORE_CLUSTER_OPS(STORE_INIT, B)                                                           \
        STORE_WORKER_OPS(STORE_INIT, B)                                                            \
        STORE_STATS_OPS(STORE_INIT, B)                                                             \
        STORE_SESSION_OPS(STORE_INIT, B)                                                           \
        STORE_EVENT_OPS(STORE_INIT, B)                                                             \
        STORE_TXN_INIT

#endif
