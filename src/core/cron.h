/*
 * cron.h: the cron manager: schedule definitions (struct cron_spec), their
 * compiled form (expression + time zone + DST policies) and the transaction
 * functions that save, read, pause, run and fire schedules.
 *
 * Workload: definitions change rarely; cron_tick runs on the store thread
 * inside the timer's tick and fires every due schedule, each fire being a few
 * rows (run record, job, schedule) in the tick's transaction, so a fire is
 * atomic: advance the schedule, record the run, enqueue the job. Each tick has
 * an identity (tenant, key, scheduled instant) that is unique in the store, so
 * no tick runs twice, even across a crash between the fire and the reply.
 *
 * Assumptions: fire times are computed in the schedule's zone (common/tz.h) on
 * civil time (core/cron_expr.h) and stored as UTC milliseconds. Ownership:
 * every struct filled here owns its strings; free with the matching *_free.
 */
#ifndef BATON_CORE_CRON_H
#define BATON_CORE_CRON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/tz.h"
#include "core/cron_expr.h"
#include "store/job.h"
#include "core/txn.h"
#include "core/validate.h"
#include "store/store.h"

#define CRON_MIN_INTERVAL_DEFAULT_MS 60000
#define CRON_HISTORY_DEFAULT 100
#define CRON_HISTORY_MAX 10000
#define CRON_CATCHUP_WINDOW_DEFAULT_MS (24LL * 3600 * 1000)
#define CRON_CATCHUP_MAX_DEFAULT 10
#define CRON_CATCHUP_MAX_MAX 1000
/* A tick this late or less is on time; older due ticks are misfires. */
#define CRON_MISFIRE_GRACE_MS 5000
/* Skipped runs (misfire, paused) one schedule records at most per tick or
 * resume; the oldest recorded row's reason counts the rest ("misfire (N more
 * missed)"), so a long outage writes a bounded number of rows. */
#define CRON_SKIP_RECORD_MAX 20
/* While a buffer_one run waits for the running job, the schedule is looked at
 * this often (a job ending does not wake the scheduler). */
#define CRON_BUFFER_POLL_MS 1000
#define CRON_PREVIEW_MAX 100
/* The free-text fields of a schedule, in bytes (docs/cron.md): an owner is a
 * team or a person, a description and a pause note a sentence or two. Longer
 * ones are refused with 400 owner_too_long, description_too_long and
 * note_too_long; schedules stored before these limits keep what they hold. */
#define CRON_OWNER_MAX_BYTES 200
#define CRON_DESCRIPTION_MAX_BYTES 1000
#define CRON_NOTE_MAX_BYTES 1000

enum cron_overlap {
        CRON_OVERLAP_SKIP,
        CRON_OVERLAP_ALLOW,
        CRON_OVERLAP_BUFFER_ONE,
        CRON_OVERLAP_REPLACE
};
enum cron_misfire { CRON_MISFIRE_FIRE_ONCE, CRON_MISFIRE_SKIP, CRON_MISFIRE_FIRE_ALL };

/* The job a schedule enqueues. priority -1: normal for scheduled runs, high
 * for manual ones. */
struct cron_job_tmpl {
        char *queue;
        char *type;
        char *payload; /* JSON text */
        int priority;
        int max_attempts;
        struct backoff backoff;
        int64_t lease_ms;
        int64_t timeout_ms; /* 0: the queue's default, else none (docs/api.md, Timeouts) */
        char *group;        /* the job's group (core/groups.h), or NULL */
};

struct cron_spec {
        char *cron;
        char *timezone;
        char *owner;
        char *description;
        bool enabled;
        struct cron_job_tmpl job;
        int overlap;               /* enum cron_overlap */
        int misfire;               /* enum cron_misfire */
        int64_t catchup_window_ms; /* 0 = unbounded */
        int catchup_max;
        int dst_gap;  /* enum tz_gap */
        int dst_fold; /* enum tz_fold */
        int history_max;
};

/* An expression bound to its zone and DST policies. */
struct cron_sched {
        struct cron_expr expr;
        struct tz *tz;
        int gap;
        int fold;
};

/* A schedule as answered: its row, its definition, its last run. */
struct cron_info {
        struct cron_rec rec;
        struct cron_spec spec;
        struct cron_run last_run; /* id 0 = none */
        int last_job_state;       /* enum job_state of the last run's job; -1 = unknown */
};

/* A run as answered, with what its job says now. */
struct cron_run_info {
        struct cron_run run;
        bool has_job; /* the job still exists */
        struct job job;
        /* cron_run_now refused with BATON_ECONFLICT: the going run's job. */
        int64_t going_job_id;
};

const char *cron_overlap_name(int v);
const char *cron_misfire_name(int v);
const char *cron_gap_name(int v);
const char *cron_fold_name(int v);

/* Reads a definition from a JSON object (PUT /v1/cron/{key} body, or the
 * stored spec). The job template's fields are read as given: the HTTP layer
 * validates them first. 0 or a verr code; spec must be zeroed and is owned
 * by the caller either way (cron_spec_free). */
int cron_spec_from_json(json_t *obj, struct cron_spec *spec, struct verr *e);
/* The bounds of a new or changed definition's free text (owner, description):
 * 400 owner_too_long / description_too_long naming the field. Not part of
 * cron_spec_from_json, which also reads stored definitions. */
int cron_spec_check_text(const struct cron_spec *spec, struct verr *e);
/* v (NULL is fine) against max bytes: 400 code naming field. */
int cron_text_check(const char *v, const char *field, size_t max, const char *code, struct verr *e);
/* The bound of a pause note (NULL is fine): 400 note_too_long. */
int cron_note_check(const char *note, struct verr *e);
/* The definition as JSON text (caller frees), NULL on ENOMEM. */
char *cron_spec_to_json(const struct cron_spec *spec);
void cron_spec_free(struct cron_spec *spec);

/* Compiles an expression for key in zone; checks that it can fire and, when
 * floor_ms > 0, that it does not fire more often (400 cron_too_frequent, the
 * interval in the message). *interval_ms (may be NULL) gets the smallest gap
 * between fires (INT64_MAX: once per cycle). out is owned by the caller
 * (cron_sched_free) on success. */
int cron_sched_build(const char *key, const char *cron, const char *timezone, int gap, int fold,
                     int64_t floor_ms, struct cron_sched *out, int64_t *interval_ms,
                     struct verr *e);
void cron_sched_free(struct cron_sched *s);
/* The schedule POST /v1/cron/preview shows: as cron_sched_build without the
 * floor, H hashed from key exactly as saving key does (cron_seed_from_key);
 * key NULL or "": an unnamed schedule (*keyed false). */
int cron_preview_build(const char *key, const char *cron, const char *timezone, int gap, int fold,
                       struct cron_sched *out, int64_t *interval_ms, bool *keyed, struct verr *e);
/* The first fire instant strictly after after_ms (UTC ms). BATON_ENOTFOUND
 * when the schedule never fires again. */
int cron_sched_next(const struct cron_sched *s, int64_t after_ms, int64_t *out_ms);

/* Saves a schedule (create or update); the caller has validated spec.
 * *created tells which. out (may be NULL) receives the schedule after.
 * BATON_ECONFLICT: creating it would give the tenant more than
 * limits->cron_schedules_max schedules (409 too_many_schedules); the caller's
 * savepoint undoes the write. */
int cron_put(struct txn *tx, const char *tenant, const char *key, const struct cron_spec *spec,
             bool *created, struct cron_info *out);
/* BATON_ENOTFOUND. Deletes the schedule and its history; jobs stay. */
int cron_delete(struct txn *tx, const char *tenant, const char *key);
int cron_read(struct txn *tx, const char *tenant, const char *key, struct cron_info *out);
/* Rows read per store call by cron_query_page. */
#define CRON_QUERY_CHUNK 64
/* Fixed part of cron_rec_wire_bytes (member names, numbers, the last run). */
#define CRON_WIRE_FIXED_BYTES 4096
/* An estimate of the bytes of r's schedule object in an answer. */
size_t cron_rec_wire_bytes(const struct cron_rec *r);
/* For cron_query_page: fills v from recs while the budget lasts. */
int cron_page_take(struct txn *tx, struct cron_rec *recs, int pn, size_t bytes_max, size_t *used,
                   bool *cut, struct cron_info *v, int *n);
/* cron_query under a byte budget (bytes_max, 0 = none): reads
 * CRON_QUERY_CHUNK schedules at a time and stops after the one whose
 * cron_rec_wire_bytes take the total past bytes_max (*cut then). On failure
 * *out still holds what was read (cron_infos_free). */
int cron_query_page(struct txn *tx, const char *tenant, const char *after, int limit,
                    size_t bytes_max, struct cron_info **out, int *n_out, bool *cut);
/* *out: malloc'd array (cron_infos_free). Keys > after, key order. */
int cron_query(struct txn *tx, const char *tenant, const char *after, int limit,
               struct cron_info **out, int *n_out);
/* The tenant's schedules counted: all of them, those due at tx->now_ms, and
 * the earliest due_at (0 = none). Only the tenant's own: another tenant's
 * next due instant is not the caller's to see. Reads in pages, so the memory
 * used does not grow with the number of schedules. */
struct cron_counts {
        int64_t n;
        int64_t due;
        int64_t next_due_ms;
};
int cron_count(struct txn *tx, const char *tenant, struct cron_counts *out);
/* Pause (with note) or resume. Resume never bursts: the next fire is computed
 * from now; the ticks that fell during the pause are recorded as skipped runs
 * with reason "paused" (at most CRON_SKIP_RECORD_MAX rows). */
int cron_set_paused(struct txn *tx, const char *tenant, const char *key, bool paused,
                    const char *note, struct cron_info *out);

struct cron_run_req {
        const char *tenant;
        const char *key;
        bool force;               /* ignore the overlap policy */
        const char *requested_by; /* key id, may be NULL */
        const char *request_id;
        int64_t max_per_hour; /* manual runs per schedule and hour; 0 = none allowed */
        /* JSON object text or NULL: members merged into the template's
         * payload for this run only (top level, these win), and recorded in
         * the run. */
        const char *payload;
};
/* A manual run. BATON_ECONFLICT: a run is going under overlap skip (409
 * already_running). BATON_ERATE: the per-schedule cooldown (429).
 * BATON_EINVAL: req->payload given and the template's payload is not an
 * object (or null); BATON_ETOOBIG: the merged payload is over the payload
 * limit. Works while
 * paused or disabled. out: the run. */
int cron_run_now(struct txn *tx, const struct cron_run_req *req, struct cron_run_info *out);
/* Runs of a schedule, newest first, ids < before (0: from the newest).
 * BATON_ENOTFOUND when the schedule does not exist. */
int cron_runs_query(struct txn *tx, const char *tenant, const char *key, int64_t before, int limit,
                    struct cron_run_info **out, int *n_out);

/* Lateness samples a tick keeps for the metrics (the rest are dropped). */
#define CRON_LATE_SAMPLES 64

struct cron_tick_res {
        int fired;       /* jobs enqueued */
        int skipped;     /* ticks recorded as skipped (overlap) */
        int queue_full;  /* ticks recorded as skipped (queue_full: max_depth) */
        int misfired;    /* missed ticks skipped (misfire), listed or counted */
        bool more;       /* a batch limit was hit */
        int64_t next_ms; /* smallest due_at after the tick; 0 = none */
        /* fired_at minus scheduled_at of the on-time fires of this tick. */
        int64_t late_ms[CRON_LATE_SAMPLES];
        int late_n;
};
/* Fires every schedule due at tx->now_ms (misfire and overlap policies
 * applied) and reports the next cron deadline. */
int cron_tick(struct txn *tx, struct cron_tick_res *out);

/* ---- parsed definitions (cron_cache.c) ----
 *
 * The store thread keeps the definitions of the schedules it fires parsed
 * (tx->crc), at most max of them, each valid while its stored text is the
 * same. cron_cache_get: true and borrowed pointers (valid until the next
 * cron_cache_put) when rec's definition is cached. cron_cache_put takes
 * *spec (zeroed on success) with the expression parsed from rec->spec, and
 * borrows the cached copies back. */
struct cron_cache;
int cron_cache_new(int max, struct cron_cache **out);
void cron_cache_free(struct cron_cache *c);
bool cron_cache_get(struct cron_cache *c, const struct cron_rec *rec, const struct cron_spec **spec,
                    const struct cron_expr **expr);
int cron_cache_put(struct cron_cache *c, const struct cron_rec *rec, struct cron_spec *spec,
                   const struct cron_expr *expr, const struct cron_spec **out_spec,
                   const struct cron_expr **out_expr);

/* ---- registry apply (PUT /v1/cron, batond --cron-file) ---- */

struct cron_entry {
        char *key;
        struct cron_spec spec;
};

/* A whole registry document, validated by the caller. */
struct cron_registry {
        struct cron_entry *v;
        int n;
        bool prune; /* delete the tenant's schedules the document does not name */
};

/* Keys per outcome of an apply, each array malloc'd (cron_apply_res_free). */
struct cron_apply_res {
        char **created;
        int created_n;
        char **updated;
        int updated_n;
        char **unchanged;
        int unchanged_n;
        char **deleted;
        int deleted_n;
        int64_t total; /* the tenant's schedules after (counted when some were created) */
};

/* Creates, updates and (with prune) deletes so that the tenant's schedules
 * are the document's, inside tx: the caller's transaction makes it all or
 * nothing. An entry whose definition is identical to the stored one is left
 * alone (unchanged). BATON_ECONFLICT: the result would hold more than
 * limits->cron_schedules_max schedules (res->total of them); nothing may be
 * kept. res is owned by the caller (cron_apply_res_free). */
int cron_apply(struct txn *tx, const char *tenant, const struct cron_registry *reg,
               struct cron_apply_res *res);
void cron_registry_free(struct cron_registry *reg);
void cron_apply_res_free(struct cron_apply_res *res);

void cron_info_free(struct cron_info *ci);
void cron_infos_free(struct cron_info *v, int n);
void cron_run_info_free(struct cron_run_info *ri);
void cron_run_infos_free(struct cron_run_info *v, int n);

#endif
