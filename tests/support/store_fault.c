/*
 * store_fault.c: the fault-injecting store (store_fault.h). Every operation
 * of the wrapped table is a forwarder generated from one list (FAULT_DATA_OPS)
 * that first asks whether the armed fault fires on this call; the
 * transaction controls have forwarders of their own (begin is where counting
 * starts, a failed rollback or rollback_to always ends the transaction). The
 * fsync fault is a sqlite3 VFS registered once under the name
 * FAULT_VFS: a copy of the default VFS whose files forward every method to
 * the default's and whose xSync can fail, as SQLite's own test VFS does.
 *
 * Workload: tests only; a mutex around every counter is cheap enough.
 * Assumptions: the store is opened through store_fault_open (the SQLite
 * backend then opens its database through FAULT_VFS).
 */
#include "support/store_fault.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "store/sqlite.h"

#define FAULT_VFS "baton_fault"
/* Strips the parentheses of a parameter or argument list (the forwarders). */
#define FAULT_UNPAREN(...) __VA_ARGS__

struct store_fault {
        struct store_ops ops; /* the wrapped table handed out */
        const struct store_ops *real_ops;
        struct store *real;
        pthread_mutex_t mu;
        /* Armed by the test thread, taken up by the next begin. */
        bool pending;
        size_t pend_op;
        int pend_n;
        enum store_fault_how pend_how;
        int pend_fsync_n;
        /* Counting on the store thread: calls of op left before it fails. */
        bool active;
        size_t op;
        int left;
        enum store_fault_how how;
        int fired;
};

/* ---- the fsync fault: a VFS over the default one ---- */

/* A file of the fault VFS: ours, followed in the same allocation by the
 * default VFS's file (szOsFile covers both). */
struct fault_file {
        sqlite3_file base;
        sqlite3_file *real;
};

static struct {
        pthread_once_t once;
        pthread_mutex_t mu;
        bool registered;
        sqlite3_vfs vfs;
        sqlite3_vfs *root;
        int left; /* xSync calls until the one that fails; 0 = not armed */
        int fired;
} g_vfs = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static sqlite3_file *real_file(sqlite3_file *p)
{
        return ((struct fault_file *)p)->real;
}

/* The armed xSync fails without syncing: what reaches the disk after it is
 * whatever the page cache did, as after a real failed fsync. */
static int ff_sync(sqlite3_file *p, int flags)
{
        sqlite3_file *r = real_file(p);
        bool fire;

        pthread_mutex_lock(&g_vfs.mu);
        fire = g_vfs.left > 0 && --g_vfs.left == 0;
        g_vfs.fired += fire;
        pthread_mutex_unlock(&g_vfs.mu);
        return fire ? SQLITE_IOERR_FSYNC : r->pMethods->xSync(r, flags);
}

/* The other methods forward to the default VFS's file: name, the method,
 * parameters after the file, and the arguments that forward them. WAL mode
 * needs the shared-memory ones (io_methods version 2). */
#define FF_FORWARDER(name, method, params, args)                                                   \
        static int name(sqlite3_file *p, FAULT_UNPAREN params)                                     \
        {                                                                                          \
                sqlite3_file *r = real_file(p);                                                    \
                                                                                                   \
                return r->pMethods->method(r, FAULT_UNPAREN args);                                 \
        }
FF_FORWARDER(ff_read, xRead, (void *buf, int n, sqlite3_int64 off), (buf, n, off))
FF_FORWARDER(ff_write, xWrite, (const void *buf, int n, sqlite3_int64 off), (buf, n, off))
FF_FORWARDER(ff_truncate, xTruncate, (sqlite3_int64 size), (size))
FF_FORWARDER(ff_file_size, xFileSize, (sqlite3_int64 * size), (size))
FF_FORWARDER(ff_lock, xLock, (int level), (level))
FF_FORWARDER(ff_unlock, xUnlock, (int level), (level))
FF_FORWARDER(ff_check_reserved, xCheckReservedLock, (int *out), (out))
FF_FORWARDER(ff_file_control, xFileControl, (int op, void *arg), (op, arg))
FF_FORWARDER(ff_shm_map, xShmMap, (int region, int size, int extend, void volatile **out),
             (region, size, extend, out))
FF_FORWARDER(ff_shm_lock, xShmLock, (int offset, int n, int flags), (offset, n, flags))
FF_FORWARDER(ff_shm_unmap, xShmUnmap, (int del), (del))

static int ff_close(sqlite3_file *p)
{
        sqlite3_file *r = real_file(p);

        return r->pMethods->xClose(r);
}

static int ff_sector_size(sqlite3_file *p)
{
        sqlite3_file *r = real_file(p);

        return r->pMethods->xSectorSize(r);
}

static int ff_device(sqlite3_file *p)
{
        sqlite3_file *r = real_file(p);

        return r->pMethods->xDeviceCharacteristics(r);
}

static void ff_shm_barrier(sqlite3_file *p)
{
        sqlite3_file *r = real_file(p);

        r->pMethods->xShmBarrier(r);
}

static const sqlite3_io_methods ff_io = {
    .iVersion = 2,
    .xClose = ff_close,
    .xRead = ff_read,
    .xWrite = ff_write,
    .xTruncate = ff_truncate,
    .xSync = ff_sync,
    .xFileSize = ff_file_size,
    .xLock = ff_lock,
    .xUnlock = ff_unlock,
    .xCheckReservedLock = ff_check_reserved,
    .xFileControl = ff_file_control,
    .xSectorSize = ff_sector_size,
    .xDeviceCharacteristics = ff_device,
    .xShmMap = ff_shm_map,
    .xShmLock = ff_shm_lock,
    .xShmBarrier = ff_shm_barrier,
    .xShmUnmap = ff_shm_unmap,
};

static int ff_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                   int *out_flags)
{
        struct fault_file *ff = (struct fault_file *)file;
        int rc;

        (void)vfs;
        ff->real = (sqlite3_file *)(ff + 1);
        rc = g_vfs.root->xOpen(g_vfs.root, name, ff->real, flags, out_flags);
        /* SQLite calls xClose exactly when pMethods is set, failed open or not. */
        ff->base.pMethods = ff->real->pMethods ? &ff_io : NULL;
        return rc;
}

/* The VFS is the default one with its own name, file size and xOpen: its
 * other methods are the default's, called with this VFS, which carries the
 * default's pAppData and limits. */
static void vfs_register(void)
{
        g_vfs.root = sqlite3_vfs_find(NULL);
        if (!g_vfs.root)
                return;
        g_vfs.vfs = *g_vfs.root;
        g_vfs.vfs.pNext = NULL;
        g_vfs.vfs.zName = FAULT_VFS;
        g_vfs.vfs.szOsFile = (int)sizeof(struct fault_file) + g_vfs.root->szOsFile;
        g_vfs.vfs.xOpen = ff_open;
        g_vfs.registered = sqlite3_vfs_register(&g_vfs.vfs, 0) == SQLITE_OK;
}

/* ---- the store wrapper ---- */

/* Every operation that takes the store, but the transaction controls:
 * name, parameters after the store, and the arguments that forward them. */
#define FAULT_DATA_OPS(X)                                                                          \
        X(schema_version, (int *out), (out))                                                       \
        X(job_insert, (struct job * j), (j))                                                       \
        X(job_get, (const char *tenant, int64_t id, struct job *out), (tenant, id, out))           \
        X(job_peek, (const char *tenant, int64_t id, struct job *out), (tenant, id, out))          \
        X(job_update, (const struct job *j), (j))                                                  \
        X(job_update_run, (const struct job *j), (j))                                              \
        X(job_update_settle, (const struct job *j), (j))                                           \
        X(job_find_key, (const char *tenant, const char *queue, const char *key, int64_t *id_out), \
          (tenant, queue, key, id_out))                                                            \
        X(job_list, (const struct job_filter *filter, struct job_vec *out), (filter, out))         \
        X(job_due_ids, (int64_t now_ms, int max, int64_t *ids, int *n_out),                        \
          (now_ms, max, ids, n_out))                                                               \
        X(job_expired_ids, (int64_t now_ms, int max, int64_t *ids, int *n_out),                    \
          (now_ms, max, ids, n_out))                                                               \
        X(job_shift_leases, (int64_t delta_ms, int *n_out), (delta_ms, n_out))                     \
        X(job_state_ids,                                                                           \
          (const char *tenant, const char *queue, int state, int64_t after_id, int max,            \
           int64_t *ids, int *n_out),                                                              \
          (tenant, queue, state, after_id, max, ids, n_out))                                       \
        X(job_purge, (int state, int64_t before_ms, int max, int *n_out),                          \
          (state, before_ms, max, n_out))                                                          \
        X(job_delete, (const char *tenant, int64_t id), (tenant, id))                              \
        X(deadlines, (struct store_deadlines * out), (out))                                        \
        X(idem_get, (const char *tenant, const char *key, struct idem_rec *out),                   \
          (tenant, key, out))                                                                      \
        X(idem_put, (const struct idem_rec *rec), (rec))                                           \
        X(idem_purge, (int64_t before_ms, int max, int *n_out), (before_ms, max, n_out))           \
        X(queue_ensure, (const char *tenant, const char *name, int64_t now_ms),                    \
          (tenant, name, now_ms))                                                                  \
        X(queue_get, (const char *tenant, const char *name, struct queue_rec *out),                \
          (tenant, name, out))                                                                     \
        X(queue_put, (const struct queue_rec *q), (q))                                             \
        X(queue_list,                                                                              \
          (const char *tenant, const char *after, int limit, struct queue_rec **out, int *n_out),  \
          (tenant, after, limit, out, n_out))                                                      \
        X(queue_counts, (const char *tenant, const char *name, struct queue_counts *out),          \
          (tenant, name, out))                                                                     \
        X(tenant_ensure, (const char *name, int64_t now_ms), (name, now_ms))                       \
        X(key_insert, (const struct key_rec *k), (k))                                              \
        X(key_get, (const char *id, struct key_rec *out), (id, out))                               \
        X(key_update, (const struct key_rec *k), (k))                                              \
        X(key_list,                                                                                \
          (const char *tenant, const char *after, int limit, struct key_rec **out, int *n_out),    \
          (tenant, after, limit, out, n_out))                                                      \
        X(key_count, (int64_t * n_out), (n_out))                                                   \
        X(audit_insert, (struct audit_rec * r), (r))                                               \
        X(audit_purge, (int64_t before_ms, int max, int *n_out), (before_ms, max, n_out))          \
        X(audit_list, (const struct audit_filter *filter, struct audit_rec **out, int *n_out),     \
          (filter, out, n_out))                                                                    \
        X(cron_put, (const struct cron_rec *r), (r))                                               \
        X(cron_get, (const char *tenant, const char *key, struct cron_rec *out),                   \
          (tenant, key, out))                                                                      \
        X(cron_delete, (const char *tenant, const char *key), (tenant, key))                       \
        X(cron_list,                                                                               \
          (const char *tenant, const char *after, int limit, struct cron_rec **out, int *n_out),   \
          (tenant, after, limit, out, n_out))                                                      \
        X(cron_due, (int64_t now_ms, int max, struct cron_rec **out, int *n_out),                  \
          (now_ms, max, out, n_out))                                                               \
        X(cron_next_due, (int64_t * at_ms), (at_ms))                                               \
        X(cron_count_add, (const char *tenant, int64_t delta, int64_t *n_out),                     \
          (tenant, delta, n_out))                                                                  \
        X(queue_total, (const char *tenant, int64_t *n_out), (tenant, n_out))                      \
        X(cron_run_insert, (struct cron_run * r), (r))                                             \
        X(cron_run_update, (const struct cron_run *r), (r))                                        \
        X(cron_run_get, (const char *tenant, int64_t id, struct cron_run *out), (tenant, id, out)) \
        X(cron_run_list,                                                                           \
          (const char *tenant, const char *key, int64_t before_id, int limit,                      \
           struct cron_run **out, int *n_out),                                                     \
          (tenant, key, before_id, limit, out, n_out))                                             \
        X(cron_run_count,                                                                          \
          (const char *tenant, const char *key, const char *trigger, int64_t since_ms,             \
           int64_t *n_out),                                                                        \
          (tenant, key, trigger, since_ms, n_out))                                                 \
        X(cron_run_trim, (const char *tenant, const char *key, int keep), (tenant, key, keep))     \
        X(cron_last_tick, (const char *tenant, const char *key, int64_t *at_ms),                   \
          (tenant, key, at_ms))                                                                    \
        X(timer_get, (const char *tenant, const char *key, struct timer_rec *out),                 \
          (tenant, key, out))                                                                      \
        X(timer_put, (const struct timer_rec *t), (t))                                             \
        X(timer_list,                                                                              \
          (const char *tenant, const char *prefix, const char *after, int limit,                   \
           struct timer_rec **out, int *n_out),                                                    \
          (tenant, prefix, after, limit, out, n_out))                                              \
        X(timer_due, (int64_t now_ms, int max, struct timer_rec **out, int *n_out),                \
          (now_ms, max, out, n_out))                                                               \
        X(timer_next, (int64_t * at_ms_out), (at_ms_out))                                          \
        X(dep_insert, (const char *tenant, int64_t parent_id, int64_t child_id),                   \
          (tenant, parent_id, child_id))                                                           \
        X(dep_children, (int64_t parent_id, int64_t after_id, int max, int64_t *ids, int *n_out),  \
          (parent_id, after_id, max, ids, n_out))                                                  \
        X(flow_insert, (struct flow_rec * flow), (flow))                                           \
        X(flow_get, (const char *tenant, int64_t id, struct flow_rec *out), (tenant, id, out))     \
        X(flow_job_ids,                                                                            \
          (const char *tenant, int64_t flow_id, int64_t after_id, int max, int64_t *ids,           \
           int *n_out),                                                                            \
          (tenant, flow_id, after_id, max, ids, n_out))                                            \
        X(now_ms, (int64_t * now_ms_out), (now_ms_out))                                            \
        X(leader_acquire,                                                                          \
          (const char *node, int64_t held_epoch, int64_t now_ms, int64_t ttl_ms, int64_t lag_ms,   \
           struct leader_rec *out),                                                                \
          (node, held_epoch, now_ms, ttl_ms, lag_ms, out))                                         \
        X(leader_check, (const char *node, int64_t epoch), (node, epoch))                          \
        X(leader_release, (const char *node, int64_t epoch), (node, epoch))                        \
        X(leader_get, (struct leader_rec * out), (out))                                            \
        X(notify, (const char *const *payloads, int n), (payloads, n))                             \
        X(qlim_get, (const char *tenant, const char *queue, bool lock, struct queue_limits *out),  \
          (tenant, queue, lock, out))                                                              \
        X(qlim_put, (const struct queue_limits *q), (q))                                           \
        X(qlim_add,                                                                                \
          (const char *tenant, const char *queue, int64_t depth_delta, int64_t running_delta),     \
          (tenant, queue, depth_delta, running_delta))                                             \
        X(group_get,                                                                               \
          (const char *tenant, const char *queue, const char *grp, bool lock,                      \
           struct group_rec *out),                                                                 \
          (tenant, queue, grp, lock, out))                                                         \
        X(group_put, (const struct group_rec *g), (g))                                             \
        X(group_delete, (const char *tenant, const char *queue, const char *grp),                  \
          (tenant, queue, grp))                                                                    \
        X(group_note_ready, (const char *tenant, const char *queue, const char *grp, int prio),    \
          (tenant, queue, grp, prio))                                                              \
        X(group_pick,                                                                              \
          (const char *tenant, const char *queue, int max, struct group_rec **out, int *n_out),    \
          (tenant, queue, max, out, n_out))                                                        \
        X(group_unblock,                                                                           \
          (const char *tenant, const char *queue, int64_t now_ms, int64_t gc, bool all),           \
          (tenant, queue, now_ms, gc, all))                                                        \
        X(group_next_until, (const char *tenant, const char *queue, int64_t *at_ms),               \
          (tenant, queue, at_ms))                                                                  \
        X(group_ready_ids,                                                                         \
          (const char *tenant, const char *queue, const char *grp, int max, int64_t *ids,          \
           int *prios, int *n_out),                                                                \
          (tenant, queue, grp, max, ids, prios, n_out))                                            \
        X(rate_get,                                                                                \
          (const char *tenant, const char *queue, const char *grp, int64_t seq, int64_t *at_ms),   \
          (tenant, queue, grp, seq, at_ms))                                                        \
        X(rate_put,                                                                                \
          (const char *tenant, const char *queue, const char *grp, int64_t seq, int64_t at_ms,     \
           int64_t keep_from),                                                                     \
          (tenant, queue, grp, seq, at_ms, keep_from))                                             \
        X(rate_clamp, (const char *tenant, const char *queue, const char *grp, int64_t now_ms),    \
          (tenant, queue, grp, now_ms))                                                            \
        X(stats_add,                                                                               \
          (const char *tenant, const char *queue, const char *node, int64_t at_ms,                 \
           const int64_t *n),                                                                      \
          (tenant, queue, node, at_ms, n))                                                         \
        X(stats_sample, (const char *node, int64_t at_ms, int *n_out), (node, at_ms, n_out))       \
        X(stats_range,                                                                             \
          (const char *tenant, const char *queue, int64_t from_ms, int64_t step_ms, int n,         \
           struct stats_point *out),                                                               \
          (tenant, queue, from_ms, step_ms, n, out))                                               \
        X(stats_purge, (int64_t before_ms, int max, int *n_out), (before_ms, max, n_out))          \
        X(job_get_many, (const char *tenant, const int64_t *ids, int n, struct job_vec *out),      \
          (tenant, ids, n, out))                                                                   \
        X(group_ready_many,                                                                        \
          (const char *tenant, const char *queue, const char *const *grps, int n_grps, int per,    \
           int64_t *ids, int *prios, int *n_out, bool *busy),                                      \
          (tenant, queue, grps, n_grps, per, ids, prios, n_out, busy))                             \
        X(dep_work_put, (int64_t job_id, int64_t after_id), (job_id, after_id))                    \
        X(dep_work_next, (int max, int64_t *ids, int64_t *afters, int *n_out),                     \
          (max, ids, afters, n_out))                                                               \
        X(dep_work_move, (int64_t job_id, int64_t from_after, int64_t to_after),                   \
          (job_id, from_after, to_after))                                                          \
        X(idem_take, (const struct idem_rec *rec, int64_t now_ms, struct idem_rec *held),          \
          (rec, now_ms, held))                                                                     \
        X(idem_swap, (const struct idem_rec *rec, int64_t old_job_id), (rec, old_job_id))          \
        X(event_scan,                                                                              \
          (const char *tenant, int64_t after_id, int max, struct event_rec **out, int *n_out,      \
           int64_t *last_id, bool *full, bool *waiting),                                           \
          (tenant, after_id, max, out, n_out, last_id, full, waiting))                             \
        X(event_purge, (int64_t before_ms, int64_t keep, int max, int *n_out),                     \
          (before_ms, keep, max, n_out))

/* Declared here, where the list above ends (scripts/func_lengths.sh reads
 * a macro followed by a definition as one long function). */
static int inject(struct store_fault *f, size_t op, bool data);

/* Ends the open transaction as a failed statement can: SQLite rolls it
 * back on its own (the backend finds out later, as it would). */
static void end_txn(struct store_fault *f)
{
        if (f->real_ops == &store_sqlite_ops)
                sqlite3_exec(sqlite_db(f->real), "ROLLBACK", NULL, NULL, NULL);
        else
                f->real_ops->rollback(f->real);
}

/* Counts a call of op (data: a data statement, which STORE_FAULT_ANY
 * matches) and says whether the armed fault fires on it; *how_out is then
 * how it fails. */
static bool fires(struct store_fault *f, size_t op, bool data, enum store_fault_how *how_out)
{
        bool fire = false;

        pthread_mutex_lock(&f->mu);
        if (f->active && (f->op == op || (data && f->op == STORE_FAULT_ANY)) && --f->left == 0) {
                fire = true;
                f->active = false;
                f->fired++;
                *how_out = f->how;
        }
        pthread_mutex_unlock(&f->mu);
        return fire;
}

/* BATON_ESTORE if the armed fault fires on this call of op, which then
 * does nothing and, with STORE_FAULT_TXN, takes the transaction with it
 * (a commit left open is SQLITE_BUSY's, the caller must roll back; one
 * rolled back is an I/O error's). 0: make the call. */
static int inject(struct store_fault *f, size_t op, bool data)
{
        enum store_fault_how how;

        if (!fires(f, op, data, &how))
                return 0;
        if (how == STORE_FAULT_TXN)
                end_txn(f);
        return BATON_ESTORE;
}

/* Whether STORE_FAULT_ANY counts calls of op: not the batch's stats write
 * (core/stats.c stats_flush), which belongs to the batch as its commit does
 * and which a test targets by name. */
static bool fault_counts_as_data(size_t op)
{
        return op != STORE_FAULT_OP(stats_add);
}

#define FAULT_FORWARDER(name, params, args)                                                        \
        static int w_##name(struct store *st, FAULT_UNPAREN params)                                \
        {                                                                                          \
                struct store_fault *fault = (struct store_fault *)st;                              \
                int rc = inject(fault, STORE_FAULT_OP(name),                                       \
                                fault_counts_as_data(STORE_FAULT_OP(name)));                       \
                                                                                                   \
                return rc ? rc : fault->real_ops->name(fault->real, FAULT_UNPAREN args);           \
        }
FAULT_DATA_OPS(FAULT_FORWARDER)

/* The event log's write (core/events.c) runs once per batch outside every
 * operation, just before the commit, so its failure fails the whole batch:
 * it is not a data statement for STORE_FAULT_ANY, whose failures fail one
 * operation alone, and is armed by its own name. */
static int w_event_insert(struct store *st, const struct event_rec *v, int n)
{
        struct store_fault *fault = (struct store_fault *)st;
        int rc = inject(fault, STORE_FAULT_OP(event_insert), false);

        return rc ? rc : fault->real_ops->event_insert(fault->real, v, n);
}

/* A failed begin opens nothing. It is also where an armed fault starts
 * counting, so that a test can arm while another transaction runs. */
static int w_begin(struct store *st)
{
        struct store_fault *f = (struct store_fault *)st;
        int rc;

        pthread_mutex_lock(&f->mu);
        if (f->pending) {
                f->active = true;
                f->op = f->pend_op;
                f->left = f->pend_n;
                f->how = f->pend_how;
                f->pending = false;
        }
        if (f->pend_fsync_n) {
                pthread_mutex_lock(&g_vfs.mu);
                g_vfs.left = f->pend_fsync_n;
                pthread_mutex_unlock(&g_vfs.mu);
                f->pend_fsync_n = 0;
        }
        pthread_mutex_unlock(&f->mu);
        rc = inject(f, STORE_FAULT_OP(begin), false);
        return rc ? rc : f->real_ops->begin(f->real);
}

/* commit, savepoint and release fail as inject says. */
#define FAULT_CONTROL(name)                                                                        \
        static int w_##name(struct store *st)                                                      \
        {                                                                                          \
                struct store_fault *f = (struct store_fault *)st;                                  \
                int rc = inject(f, STORE_FAULT_OP(name), false);                                   \
                                                                                                   \
                return rc ? rc : f->real_ops->name(f->real);                                       \
        }
FAULT_CONTROL(commit)
FAULT_CONTROL(savepoint)
FAULT_CONTROL(release)

/* A rollback that fails has still ended the transaction (the backend's
 * rollback runs, and its answer is replaced). */
static int w_rollback(struct store *st)
{
        struct store_fault *f = (struct store_fault *)st;
        enum store_fault_how how;
        int rc = f->real_ops->rollback(f->real);

        return fires(f, STORE_FAULT_OP(rollback), false, &how) ? BATON_ESTORE : rc;
}

/* A rollback_to that fails always takes the transaction with it. */
static int w_rollback_to(struct store *st)
{
        struct store_fault *f = (struct store_fault *)st;
        enum store_fault_how how;

        if (!fires(f, STORE_FAULT_OP(rollback_to), false, &how))
                return f->real_ops->rollback_to(f->real);
        end_txn(f);
        return BATON_ESTORE;
}

static void w_close(struct store *st)
{
        store_fault_close((struct store_fault *)st);
}

#define FAULT_INSTALL(name, params, args)                                                          \
        if (f->ops.name)                                                                           \
                f->ops.name = w_##name;

static void wrap_ops(struct store_fault *f)
{
        f->ops = *f->real_ops;
        f->ops.open = NULL;
        f->ops.close = w_close;
        f->ops.begin = w_begin;
        f->ops.commit = w_commit;
        f->ops.rollback = w_rollback;
        f->ops.savepoint = w_savepoint;
        f->ops.release = w_release;
        f->ops.rollback_to = w_rollback_to;
        f->ops.event_insert = w_event_insert;
        FAULT_DATA_OPS(FAULT_INSTALL)
}

int store_fault_open(const struct store_ops *real_ops, const struct store_opts *opts,
                     struct store_fault **out)
{
        struct store_opts o = *opts;
        struct store_fault *f = calloc(1, sizeof(*f));
        int rc = 0;

        *out = NULL;
        if (!f)
                return BATON_ENOMEM;
        if (real_ops == &store_sqlite_ops) {
                pthread_once(&g_vfs.once, vfs_register);
                if (!g_vfs.registered) {
                        rc = BATON_ESTORE;
                        goto out;
                }
                o.vfs = FAULT_VFS;
        }
        rc = real_ops->open(&o, &f->real);
        if (rc)
                goto out;
        pthread_mutex_init(&f->mu, NULL);
        f->real_ops = real_ops;
        wrap_ops(f);
        pthread_mutex_lock(&g_vfs.mu);
        g_vfs.left = 0;
        g_vfs.fired = 0;
        pthread_mutex_unlock(&g_vfs.mu);
        *out = f;
out:
        if (rc)
                free(f);
        return rc;
}

void store_fault_close(struct store_fault *f)
{
        if (!f)
                return;
        f->real_ops->close(f->real);
        pthread_mutex_lock(&g_vfs.mu);
        g_vfs.left = 0;
        pthread_mutex_unlock(&g_vfs.mu);
        pthread_mutex_destroy(&f->mu);
        free(f);
}

struct store *store_fault_store(struct store_fault *f)
{
        return (struct store *)f;
}

const struct store_ops *store_fault_ops(struct store_fault *f)
{
        return &f->ops;
}

void store_fault_arm(struct store_fault *f, size_t op, int n, enum store_fault_how how)
{
        pthread_mutex_lock(&f->mu);
        f->pending = n > 0;
        f->pend_op = op;
        f->pend_n = n;
        f->pend_how = how;
        pthread_mutex_unlock(&f->mu);
}

void store_fault_arm_fsync(struct store_fault *f, int n)
{
        pthread_mutex_lock(&f->mu);
        f->pend_fsync_n = n > 0 ? n : 0;
        pthread_mutex_unlock(&f->mu);
}

void store_fault_disarm(struct store_fault *f)
{
        pthread_mutex_lock(&f->mu);
        f->pending = false;
        f->active = false;
        f->pend_fsync_n = 0;
        pthread_mutex_unlock(&f->mu);
        pthread_mutex_lock(&g_vfs.mu);
        g_vfs.left = 0;
        pthread_mutex_unlock(&g_vfs.mu);
}

int store_fault_fired(struct store_fault *f)
{
        int n;

        pthread_mutex_lock(&f->mu);
        n = f->fired;
        pthread_mutex_unlock(&f->mu);
        pthread_mutex_lock(&g_vfs.mu);
        n += g_vfs.fired;
        pthread_mutex_unlock(&g_vfs.mu);
        return n;
}
