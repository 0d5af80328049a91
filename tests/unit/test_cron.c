/*
 * test_cron.c: the cron manager's core (core/cron.c) on a temporary SQLite
 * store with an injected fake clock: a tick fires exactly once and advances,
 * misfire policies after a simulated outage, overlap policies, manual-run
 * rules, history retention and DST schedules in Europe/Berlin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/errors.h"
#include "common/clock.h"
#include "core/cron.h"
#include "core/exec.h"
#include "core/jobs.h"
#include "store/store.h"
#include "support/unit_env.h"

/* 2026-01-05T00:00:00Z, a Monday. */
#define T0 1767571200000LL
#define MIN 60000LL

/* The shared store (support/unit_env.h), its clock at this file's T0. */
static int setup(void **state)
{
        *state = unit_env_open(T0);
        return 0;
}

static int teardown(void **state)
{
        return unit_env_teardown(state);
}

static struct txn *begin(struct env *e)
{
        return unit_env_begin(e);
}

static void commit(struct env *e)
{
        unit_env_commit(e);
}

static void put(struct env *e, const char *key, const char *json)
{
        json_error_t je;
        json_t *o = json_loads(json, 0, &je);
        struct cron_spec spec = {0};
        struct verr v;
        bool created;

        assert_non_null(o);
        assert_int_equal(cron_spec_from_json(o, &spec, &v), 0);
        spec.job.max_attempts = 1;
        spec.job.lease_ms = 30000;
        spec.job.backoff.type = BACKOFF_NONE;
        begin(e);
        assert_int_equal(cron_put(&e->tx, "default", key, &spec, &created, NULL), 0);
        commit(e);
        cron_spec_free(&spec);
        json_decref(o);
}

static struct cron_tick_res tick_at(struct env *e, int64_t at)
{
        struct cron_tick_res r;

        e->clock.wall_ms = at;
        begin(e);
        assert_int_equal(cron_tick(&e->tx, &r), 0);
        commit(e);
        return r;
}

/* Runs of key, newest first; returns how many and frees them. */
static int runs(struct env *e, const char *key, const char *status_of_first,
                const char *reason_of_first)
{
        struct cron_run_info *v = NULL;
        int n = 0;

        begin(e);
        assert_int_equal(cron_runs_query(&e->tx, "default", key, 0, 1000, &v, &n), 0);
        commit(e);
        if (status_of_first && n > 0)
                assert_string_equal(v[0].run.status, status_of_first);
        if (reason_of_first && n > 0)
                assert_string_equal(v[0].run.reason, reason_of_first);
        cron_run_infos_free(v, n);
        return n;
}

/* Runs of key with status (and, if given, a reason starting with reason). */
static int count_runs(struct env *e, const char *key, const char *status, const char *reason)
{
        struct cron_run_info *v = NULL;
        int n = 0, c = 0;

        begin(e);
        assert_int_equal(cron_runs_query(&e->tx, "default", key, 0, 1000, &v, &n), 0);
        commit(e);
        for (int i = 0; i < n; i++)
                if (strcmp(v[i].run.status, status) == 0 &&
                    (!reason ||
                     (v[i].run.reason && strncmp(v[i].run.reason, reason, strlen(reason)) == 0)))
                        c++;
        cron_run_infos_free(v, n);
        return c;
}

/* Whether some run of key has exactly this reason. */
static bool has_reason(struct env *e, const char *key, const char *reason)
{
        struct cron_run_info *v = NULL;
        int n = 0;
        bool found = false;

        begin(e);
        assert_int_equal(cron_runs_query(&e->tx, "default", key, 0, 1000, &v, &n), 0);
        commit(e);
        for (int i = 0; i < n; i++)
                if (v[i].run.reason && strcmp(v[i].run.reason, reason) == 0)
                        found = true;
        cron_run_infos_free(v, n);
        return found;
}

static void finish_job(struct env *e, const char *key)
{
        struct cron_info ci;
        struct job j = {0};

        begin(e);
        assert_int_equal(cron_read(&e->tx, "default", key, &ci), 0);
        assert_int_equal(job_cancel(&e->tx, "default", ci.rec.last_job_id, &j), 0);
        commit(e);
        job_free(&j);
        cron_info_free(&ci);
}

#define JOB_MIN "\"job\":{\"queue\":\"q\",\"type\":\"t\"}"

static void test_fires_once_and_advances(void **state)
{
        struct env *e = *state;
        struct cron_tick_res r;
        struct cron_info ci;

        put(e, "m", "{\"cron\":\"* * * * *\",\"overlap\":\"allow\"," JOB_MIN "}");
        r = tick_at(e, T0 + 1000);
        assert_int_equal(r.fired, 0);
        assert_int_equal(r.next_ms, T0 + MIN);
        r = tick_at(e, T0 + MIN);
        assert_int_equal(r.fired, 1);
        assert_int_equal(r.next_ms, T0 + 2 * MIN);
        r = tick_at(e, T0 + MIN + 10);
        assert_int_equal(r.fired, 0);
        assert_int_equal(runs(e, "m", "queued", NULL), 1);
        begin(e);
        assert_int_equal(cron_read(&e->tx, "default", "m", &ci), 0);
        commit(e);
        assert_int_equal(ci.rec.next_fire_at_ms, T0 + 2 * MIN);
        assert_int_equal(ci.last_job_state, JOB_QUEUED);
        cron_info_free(&ci);
}

static void test_misfire_policies(void **state)
{
        struct env *e = *state;
        struct cron_tick_res r;

        put(e, "once", "{\"cron\":\"*/5 * * * *\",\"overlap\":\"allow\"," JOB_MIN "}");
        put(e, "skip", "{\"cron\":\"*/5 * * * *\",\"misfire\":\"skip\"," JOB_MIN "}");
        put(e, "all",
            "{\"cron\":\"*/5 * * * *\",\"misfire\":\"fire_all\",\"catchup_max\":3,"
            "\"overlap\":\"allow\"," JOB_MIN "}");
        /* Down for an hour: 12 ticks missed, none on time. */
        r = tick_at(e, T0 + 62 * MIN);
        assert_int_equal(r.fired, 1 + 3);
        assert_int_equal(r.next_ms, T0 + 65 * MIN);
        /* Every missed tick ends in one outcome: fired or skipped (misfire). */
        assert_int_equal(runs(e, "once", NULL, NULL), 12);
        assert_int_equal(count_runs(e, "once", "queued", NULL), 1);
        assert_int_equal(count_runs(e, "once", "skipped", "misfire"), 11);
        assert_int_equal(runs(e, "skip", NULL, NULL), 12);
        assert_int_equal(count_runs(e, "skip", "skipped", "misfire"), 12);
        assert_int_equal(runs(e, "all", NULL, NULL), 12);
        assert_int_equal(count_runs(e, "all", "queued", NULL), 3);
        assert_int_equal(count_runs(e, "all", "skipped", "misfire"), 9);
        assert_int_equal(r.misfired, 11 + 12 + 9);
}

/* Due ticks inside the grace other than the newest are not dropped: the
 * timeline of docs/cron.md (every 2 s, down from 24 to 36.4): 26, 28, 30
 * missed, 32 and 34 superseded by 36 (on time). */
static void test_misfire_within_grace(void **state)
{
        struct env *e = *state;
        struct cron_tick_res r;

        put(e, "once", "{\"cron\":\"*/2 * * * * *\",\"overlap\":\"allow\"," JOB_MIN "}");
        put(e, "skip",
            "{\"cron\":\"*/2 * * * * *\",\"misfire\":\"skip\",\"overlap\":\"allow\"," JOB_MIN "}");
        put(e, "all",
            "{\"cron\":\"*/2 * * * * *\",\"misfire\":\"fire_all\",\"overlap\":\"allow\","
            "\"catchup_max\":10," JOB_MIN "}");
        put(e, "all3",
            "{\"cron\":\"*/2 * * * * *\",\"misfire\":\"fire_all\",\"overlap\":\"allow\","
            "\"catchup_max\":3," JOB_MIN "}");
        for (int64_t at = 2000; at <= 24000; at += 2000) {
                r = tick_at(e, T0 + at);
                assert_int_equal(r.fired, 4);
        }
        r = tick_at(e, T0 + 36400);
        /* once: 36; skip: 36; all: 26..34 and 36; all3: 26, 28, 30 and 36. */
        assert_int_equal(r.fired, 1 + 1 + 6 + 4);
        assert_int_equal(count_runs(e, "once", "skipped", "misfire"), 5);
        assert_int_equal(count_runs(e, "skip", "skipped", "misfire"), 5);
        assert_int_equal(count_runs(e, "all", "skipped", NULL), 0);
        assert_int_equal(count_runs(e, "all", "queued", NULL), 12 + 6);
        assert_int_equal(count_runs(e, "all3", "skipped", "misfire"), 2);
        for (int k = 0; k < 4; k++) {
                static const char *const keys[] = {"once", "skip", "all", "all3"};
                /* 12 ticks before the outage, 6 during: one run each. */
                assert_int_equal(runs(e, keys[k], NULL, NULL), 12 + 6);
        }
}

/* A long outage writes a bounded number of rows; the rest are counted. */
static void test_misfire_bounded(void **state)
{
        struct env *e = *state;
        struct cron_tick_res r;

        put(e, "skip", "{\"cron\":\"* * * * *\",\"misfire\":\"skip\"," JOB_MIN "}");
        put(e, "all",
            "{\"cron\":\"* * * * *\",\"misfire\":\"fire_all\",\"catchup_max\":3,"
            "\"overlap\":\"allow\"," JOB_MIN "}");
        put(e, "every", "{\"cron\":\"@every 1m\",\"misfire\":\"skip\"," JOB_MIN "}");
        put(e, "once", "{\"cron\":\"* * * * *\"," JOB_MIN "}");
        /* Down for 1000 minutes: 1000 ticks missed. */
        r = tick_at(e, T0 + 1000 * MIN + 30000);
        assert_int_equal(r.fired, 3 + 1);
        assert_int_equal(count_runs(e, "once", "queued", NULL), 1);
        assert_int_equal(count_runs(e, "once", "skipped", "misfire"), CRON_SKIP_RECORD_MAX - 1);
        assert_true(has_reason(e, "once", "misfire (980 more missed)"));
        assert_int_equal(runs(e, "skip", NULL, NULL), CRON_SKIP_RECORD_MAX);
        assert_true(has_reason(e, "skip", "misfire (980 more missed)"));
        assert_int_equal(runs(e, "all", NULL, NULL), 3 + CRON_SKIP_RECORD_MAX);
        assert_true(has_reason(e, "all", "misfire (977 more missed)"));
        assert_int_equal(runs(e, "every", NULL, NULL), CRON_SKIP_RECORD_MAX);
        assert_int_equal(count_runs(e, "every", "skipped", "misfire"), CRON_SKIP_RECORD_MAX);
        assert_true(has_reason(e, "every", "misfire (980 more missed)"));
        assert_int_equal(r.next_ms, T0 + 1001 * MIN);
}

/* Runs of key whose job is now in state. */
static int count_job_states(struct env *e, const char *key, int state)
{
        struct cron_run_info *v = NULL;
        int n = 0, c = 0;

        begin(e);
        assert_int_equal(cron_runs_query(&e->tx, "default", key, 0, 1000, &v, &n), 0);
        commit(e);
        for (int i = 0; i < n; i++)
                c += v[i].has_job && (int)v[i].job.state == state;
        cron_run_infos_free(v, n);
        return c;
}

/* allow: a tick while a run is going starts another job; both stay queued. */
static void test_overlap_allow(void **state)
{
        struct env *e = *state;
        struct cron_tick_res r;

        put(e, "all", "{\"cron\":\"* * * * *\",\"overlap\":\"allow\"," JOB_MIN "}");
        r = tick_at(e, T0 + MIN);
        assert_int_equal(r.fired, 1);
        r = tick_at(e, T0 + 2 * MIN);
        assert_int_equal(r.fired, 1);
        assert_int_equal(r.skipped, 0);
        assert_int_equal(count_job_states(e, "all", JOB_QUEUED), 2);
}

static void test_overlap(void **state)
{
        struct env *e = *state;
        struct cron_tick_res r;

        put(e, "skip", "{\"cron\":\"* * * * *\"," JOB_MIN "}");
        put(e, "buf", "{\"cron\":\"* * * * *\",\"overlap\":\"buffer_one\"," JOB_MIN "}");
        put(e, "rep", "{\"cron\":\"* * * * *\",\"overlap\":\"replace\"," JOB_MIN "}");
        r = tick_at(e, T0 + MIN);
        assert_int_equal(r.fired, 3);
        r = tick_at(e, T0 + 2 * MIN);
        assert_int_equal(r.fired, 1); /* replace */
        assert_int_equal(runs(e, "skip", "skipped", "overlap"), 2);
        assert_int_equal(runs(e, "buf", "buffered", NULL), 2);
        assert_int_equal(runs(e, "rep", "queued", NULL), 2);
        /* replace cancelled the first run's job before starting its own. */
        assert_int_equal(count_job_states(e, "rep", JOB_CANCELLED), 1);
        assert_int_equal(count_job_states(e, "rep", JOB_QUEUED), 1);
        r = tick_at(e, T0 + 3 * MIN);
        assert_int_equal(runs(e, "buf", "skipped", "overlap"), 3);
        /* The running job ends: the buffered run starts at the next look. */
        finish_job(e, "buf");
        r = tick_at(e, T0 + 3 * MIN + 1000);
        assert_int_equal(r.fired, 1);
}

static void test_manual_runs(void **state)
{
        struct env *e = *state;
        struct cron_run_req req = {"default", "m", false, "k1", "req-1", 2, NULL};
        struct cron_run_info ri;

        put(e, "m", "{\"cron\":\"0 0 1 1 *\"," JOB_MIN "}");
        begin(e);
        assert_int_equal(cron_set_paused(&e->tx, "default", "m", true, "maintenance", NULL), 0);
        commit(e);
        begin(e);
        assert_int_equal(cron_run_now(&e->tx, &req, &ri), 0);
        commit(e);
        assert_string_equal(ri.run.trigger, "manual");
        assert_string_equal(ri.run.requested_by, "k1");
        assert_int_equal(ri.job.priority, PRIO_HIGH);
        cron_run_info_free(&ri);
        begin(e);
        assert_int_equal(cron_run_now(&e->tx, &req, &ri), BATON_ECONFLICT);
        e->ops->rollback(e->st);
        txn_effects_free(&e->tx.fx);
        cron_run_info_free(&ri);
        req.force = true;
        begin(e);
        assert_int_equal(cron_run_now(&e->tx, &req, &ri), 0);
        commit(e);
        cron_run_info_free(&ri);
        begin(e);
        assert_int_equal(cron_run_now(&e->tx, &req, &ri), BATON_ERATE);
        e->ops->rollback(e->st);
        txn_effects_free(&e->tx.fx);
        cron_run_info_free(&ri);
        /* The cooldown is a sliding hour: an hour later the two runs above
         * no longer count, two more are allowed and a third is refused. */
        e->clock.wall_ms = T0 + 3600 * 1000 + 1;
        for (int i = 0; i < 2; i++) {
                begin(e);
                assert_int_equal(cron_run_now(&e->tx, &req, &ri), 0);
                commit(e);
                cron_run_info_free(&ri);
        }
        begin(e);
        assert_int_equal(cron_run_now(&e->tx, &req, &ri), BATON_ERATE);
        e->ops->rollback(e->st);
        txn_effects_free(&e->tx.fx);
        cron_run_info_free(&ri);
        /* A disabled schedule runs by hand too. */
        put(e, "off", "{\"cron\":\"0 0 1 1 *\",\"enabled\":false," JOB_MIN "}");
        req.key = "off";
        req.force = false;
        begin(e);
        assert_int_equal(cron_run_now(&e->tx, &req, &ri), 0);
        commit(e);
        assert_string_equal(ri.run.trigger, "manual");
        assert_true(ri.run.job_id > 0);
        cron_run_info_free(&ri);
        req.key = "nope";
        begin(e);
        assert_int_equal(cron_run_now(&e->tx, &req, &ri), BATON_ENOTFOUND);
        e->ops->rollback(e->st);
        txn_effects_free(&e->tx.fx);
        cron_run_info_free(&ri);
}

static void test_history_retention(void **state)
{
        struct env *e = *state;

        put(e, "h", "{\"cron\":\"* * * * *\",\"history_max\":3," JOB_MIN "}");
        for (int i = 1; i <= 6; i++)
                tick_at(e, T0 + i * MIN);
        assert_int_equal(runs(e, "h", NULL, NULL), 3);
}

/* With the store thread's zone cache, a tick over many schedules reads each
 * zone once, fires exactly what it fires without the cache, and a stale
 * entry (older than the cache's TTL) is read again. */
static void test_tick_uses_zone_cache(void **state)
{
        struct env *e = *state;
        struct tz_cache_stats st;
        struct cron_tick_res r;
        char key[16];

        assert_int_equal(tz_cache_new(NULL, 8, 3600 * 1000, &e->tzc), 0);
        for (int i = 0; i < 6; i++) {
                snprintf(key, sizeof(key), "b%d", i);
                put(e, key,
                    "{\"cron\":\"* * * * *\",\"timezone\":\"Europe/Berlin\",\"overlap\":"
                    "\"allow\"," JOB_MIN "}");
        }
        put(e, "u", "{\"cron\":\"* * * * *\",\"overlap\":\"allow\"," JOB_MIN "}");
        tz_cache_stats(e->tzc, &st);
        assert_int_equal(st.misses, 2); /* Europe/Berlin, UTC */
        assert_int_equal(st.zones, 2);
        for (int i = 1; i <= 3; i++) {
                r = tick_at(e, T0 + i * MIN);
                assert_int_equal(r.fired, 7);
                assert_int_equal(r.next_ms, T0 + (i + 1) * MIN);
        }
        tz_cache_stats(e->tzc, &st);
        assert_int_equal(st.misses, 2);
        assert_true(st.hits >= 3 * 7);
        /* Two hours later both zones are stale: read once more each. */
        r = tick_at(e, T0 + 2 * 3600 * 1000 + 30 * 1000);
        assert_int_equal(r.fired, 7);
        tz_cache_stats(e->tzc, &st);
        assert_int_equal(st.misses, 4);
        /* Three on time, then one catchup for the missed two hours. */
        assert_int_equal(count_runs(e, "b5", "queued", NULL), 4);
        tz_cache_free(e->tzc);
        e->tzc = NULL;
}

static void test_resume_never_bursts(void **state)
{
        struct env *e = *state;
        struct cron_tick_res r;
        struct cron_info ci;

        put(e, "p", "{\"cron\":\"* * * * *\"," JOB_MIN "}");
        begin(e);
        assert_int_equal(cron_set_paused(&e->tx, "default", "p", true, NULL, NULL), 0);
        commit(e);
        r = tick_at(e, T0 + 30 * MIN + 5);
        assert_int_equal(r.fired, 0);
        begin(e);
        assert_int_equal(cron_set_paused(&e->tx, "default", "p", false, NULL, &ci), 0);
        commit(e);
        assert_int_equal(ci.rec.next_fire_at_ms, T0 + 31 * MIN);
        cron_info_free(&ci);
        /* The 30 ticks of the pause are recorded (bounded), none made up. */
        assert_int_equal(runs(e, "p", NULL, NULL), CRON_SKIP_RECORD_MAX);
        assert_int_equal(count_runs(e, "p", "skipped", "paused"), CRON_SKIP_RECORD_MAX);
        assert_true(has_reason(e, "p", "paused (10 more missed)"));
        r = tick_at(e, T0 + 31 * MIN);
        assert_int_equal(r.fired, 1);
        /* A short pause: each tick its own row; resume again fires none. */
        begin(e);
        assert_int_equal(cron_set_paused(&e->tx, "default", "p", true, NULL, NULL), 0);
        commit(e);
        e->clock.wall_ms = T0 + 34 * MIN + 10;
        begin(e);
        assert_int_equal(cron_set_paused(&e->tx, "default", "p", false, NULL, &ci), 0);
        commit(e);
        assert_int_equal(ci.rec.next_fire_at_ms, T0 + 35 * MIN);
        cron_info_free(&ci);
        assert_int_equal(count_runs(e, "p", "skipped", "paused"), CRON_SKIP_RECORD_MAX + 3);
        assert_int_equal(runs(e, "p", NULL, NULL), CRON_SKIP_RECORD_MAX + 1 + 3);
        r = tick_at(e, T0 + 34 * MIN + 20);
        assert_int_equal(r.fired, 0);
}

/* Preview hashes H from the key like saving does. */
static void test_preview_key(void **state)
{
        struct env *e = *state;
        struct cron_sched cs;
        struct cron_info ci;
        struct verr v;
        int64_t at = 0, first = 0;
        bool keyed = true;
        int differ = 0;
        char key[16];

        put(e, "nightly-report", "{\"cron\":\"H H * * *\"," JOB_MIN "}");
        begin(e);
        assert_int_equal(cron_read(&e->tx, "default", "nightly-report", &ci), 0);
        commit(e);
        assert_int_equal(
            cron_preview_build("nightly-report", "H H * * *", "UTC", 0, 0, &cs, NULL, &keyed, &v),
            0);
        assert_true(keyed);
        assert_int_equal(cron_sched_next(&cs, T0, &at), 0);
        cron_sched_free(&cs);
        assert_int_equal(at, ci.rec.next_fire_at_ms);
        cron_info_free(&ci);
        /* Without a key: an unnamed schedule's H, the same for NULL and "". */
        assert_int_equal(cron_preview_build(NULL, "H H * * *", "UTC", 0, 0, &cs, NULL, &keyed, &v),
                         0);
        assert_false(keyed);
        assert_int_equal(cron_sched_next(&cs, T0, &first), 0);
        cron_sched_free(&cs);
        assert_int_equal(cron_preview_build("", "H H * * *", "UTC", 0, 0, &cs, NULL, &keyed, &v),
                         0);
        assert_false(keyed);
        assert_int_equal(cron_sched_next(&cs, T0, &at), 0);
        cron_sched_free(&cs);
        assert_int_equal(at, first);
        /* Keys spread H: some key's time differs from the unnamed one. */
        for (int i = 0; i < 8; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                assert_int_equal(
                    cron_preview_build(key, "H H * * *", "UTC", 0, 0, &cs, NULL, &keyed, &v), 0);
                assert_int_equal(cron_sched_next(&cs, T0, &at), 0);
                cron_sched_free(&cs);
                differ += at != first;
        }
        assert_true(differ > 0);
}

static int64_t next_of(const char *cron, const char *zone, int gap, int fold, int64_t after)
{
        struct cron_sched cs;
        struct verr v;
        int64_t at = 0;

        assert_int_equal(cron_sched_build("k", cron, zone, gap, fold, 0, &cs, NULL, &v), 0);
        assert_int_equal(cron_sched_next(&cs, after, &at), 0);
        cron_sched_free(&cs);
        return at;
}

static void test_berlin_dst(void **state)
{
        /* 2026-03-29: 02:00 CET -> 03:00 CEST (01:00Z). 2026-10-25: 03:00
         * CEST -> 02:00 CET (01:00Z). */
        int64_t mar28 = 1774656000000LL; /* 2026-03-28T00:00Z */
        int64_t oct25 = 1792879200000LL; /* 2026-10-24T22:00Z */
        int64_t at;

        (void)state;
        /* Gap shift: 02:30 becomes 03:30 CEST = 01:30Z. */
        at = next_of("30 2 * * *", "Europe/Berlin", TZ_GAP_SHIFT, TZ_FOLD_FIRST, mar28 + 86400000);
        assert_int_equal(at, mar28 + 86400000 + 90 * MIN);
        /* Gap skip: the next day's 02:30 CEST = 00:30Z on the 30th. */
        at = next_of("30 2 * * *", "Europe/Berlin", TZ_GAP_SKIP, TZ_FOLD_FIRST, mar28 + 86400000);
        assert_int_equal(at, mar28 + 2 * 86400000 + 30 * MIN);
        /* Fold first: 02:30 CEST = 00:30Z; last: 02:30 CET = 01:30Z. */
        at = next_of("30 2 * * *", "Europe/Berlin", TZ_GAP_SHIFT, TZ_FOLD_FIRST, oct25);
        assert_int_equal(at, oct25 + 150 * MIN);
        at = next_of("30 2 * * *", "Europe/Berlin", TZ_GAP_SHIFT, TZ_FOLD_LAST, oct25);
        assert_int_equal(at, oct25 + 210 * MIN);
        /* Wildcard hour: both copies of 02:30 fire. */
        at = next_of("30 * * * *", "Europe/Berlin", TZ_GAP_SHIFT, TZ_FOLD_FIRST, oct25 + 150 * MIN);
        assert_int_equal(at, oct25 + 210 * MIN);
        /* Wildcard hour with several minutes: every real instant of both
         * copies fires, 15 minutes apart straight through the fold (00:00Z
         * to 02:00Z is 02:00 CEST ... 02:45 CET). */
        at = oct25 + 110 * MIN; /* 23:50Z */
        for (int i = 1; i <= 10; i++) {
                at = next_of("*/15 * * * *", "Europe/Berlin", TZ_GAP_SHIFT, TZ_FOLD_FIRST, at);
                assert_int_equal(at, oct25 + 105 * MIN + i * 15 * MIN);
        }
        /* Every minute: 00:58Z, 00:59Z (02:59 CEST), then 01:00Z (02:00 CET). */
        at = oct25 + 178 * MIN;
        for (int i = 1; i <= 3; i++) {
                at = next_of("* * * * *", "Europe/Berlin", TZ_GAP_SHIFT, TZ_FOLD_FIRST, at);
                assert_int_equal(at, oct25 + 178 * MIN + i * MIN);
        }
}

static void test_validation(void **state)
{
        struct cron_sched cs;
        struct verr v;
        int64_t iv;

        (void)state;
        assert_int_equal(cron_sched_build("k", "0 0 30 2 *", "UTC", 0, 0, 0, &cs, NULL, &v),
                         BATON_EINVAL);
        assert_string_equal(v.code, "cron_never_fires");
        assert_int_equal(cron_sched_build("k", "* * * * *", "Mars/Base", 0, 0, 0, &cs, NULL, &v),
                         BATON_EINVAL);
        assert_string_equal(v.code, "unknown_time_zone");
        assert_non_null(strstr(v.message, "\"Mars/Base\""));
        assert_int_equal(cron_sched_build("k", "*/10 * * * * *", "UTC", 0, 0, 60000, &cs, &iv, &v),
                         BATON_ERANGE);
        assert_string_equal(v.code, "cron_too_frequent");
        assert_int_equal(iv, 10000);
        assert_non_null(strstr(v.message, "10000"));
}

/* The queue of the job of key's newest run. */
static void assert_last_queue(struct env *e, const char *key, const char *queue)
{
        struct cron_run_info *v = NULL;
        int n = 0;

        begin(e);
        assert_int_equal(cron_runs_query(&e->tx, "default", key, 0, 1, &v, &n), 0);
        commit(e);
        assert_int_equal(n, 1);
        assert_true(v[0].has_job);
        assert_string_equal(v[0].job.queue, queue);
        cron_run_infos_free(v, n);
}

/* Ticks with the store thread's definition cache fire what is stored now:
 * an update, and a delete and a new schedule under the same key (its
 * version starts again at 1), are seen at the next tick; a cache of one
 * entry that two schedules share stays right. */
static void test_tick_uses_definition_cache(void **state)
{
        struct env *e = *state;
        struct cron_tick_res r;

        assert_int_equal(cron_cache_new(1, &e->crc), 0);
        put(e, "c",
            "{\"cron\":\"* * * * *\",\"overlap\":\"allow\","
            "\"job\":{\"queue\":\"q1\",\"type\":\"t\"}}");
        r = tick_at(e, T0 + MIN);
        assert_int_equal(r.fired, 1);
        assert_last_queue(e, "c", "q1");
        put(e, "c",
            "{\"cron\":\"* * * * *\",\"overlap\":\"allow\","
            "\"job\":{\"queue\":\"q2\",\"type\":\"t\"}}");
        r = tick_at(e, T0 + 2 * MIN);
        assert_int_equal(r.fired, 1);
        assert_last_queue(e, "c", "q2");
        begin(e);
        assert_int_equal(cron_delete(&e->tx, "default", "c"), 0);
        commit(e);
        put(e, "c",
            "{\"cron\":\"* * * * *\",\"overlap\":\"allow\","
            "\"job\":{\"queue\":\"q3\",\"type\":\"t\"}}");
        put(e, "d",
            "{\"cron\":\"* * * * *\",\"overlap\":\"allow\","
            "\"job\":{\"queue\":\"q4\",\"type\":\"t\"}}");
        for (int i = 3; i <= 4; i++) {
                r = tick_at(e, T0 + i * MIN);
                assert_int_equal(r.fired, 2);
                assert_last_queue(e, "c", "q3");
                assert_last_queue(e, "d", "q4");
        }
        cron_cache_free(e->crc);
        e->crc = NULL;
}

/* An op that cancels a job and then keeps (rc 0) or rolls back its work. */
struct cancel_op {
        struct exec_op op;
        int64_t job_id;
        int rc;
};

static int cancel_fn(struct txn *tx, struct exec_op *op)
{
        struct cancel_op *c = (struct cancel_op *)op;
        struct job j = {0};
        int rc = job_cancel(tx, "default", c->job_id, &j);

        job_free(&j);
        return rc ? rc : c->rc;
}

/* Cancels job_id in an op of its own that ends with rc; returns how many
 * cron runs the committed effects count as cancelled. */
static int64_t cancel_counted(struct env *e, int64_t job_id, int rc)
{
        struct cancel_op c;
        struct txn_effects fx;
        int64_t n;

        memset(&c, 0, sizeof(c));
        c.op.fn = cancel_fn;
        c.job_id = job_id;
        c.rc = rc;
        assert_int_equal(exec_run_sync(e->st, e->ops, &e->clock.clock, &e->limits, &c.op, &fx), rc);
        n = fx.cron_runs[CRUN_CANCELLED];
        assert_int_equal(fx.cron_runs[CRUN_COMPLETED] + fx.cron_runs[CRUN_DEAD], 0);
        txn_effects_free(&fx);
        return n;
}

static int job_state_of(struct env *e, int64_t id)
{
        struct job j = {0};
        int state;

        begin(e);
        assert_int_equal(job_read(&e->tx, "default", id, &j), 0);
        commit(e);
        state = j.state;
        job_free(&j);
        return state;
}

/* The job of a cron run names the run; its end counts the run once, in the
 * effects of a transaction that commits, and a rolled-back op counts
 * nothing. A skipped tick counts when it is recorded. */
static void test_run_status_counts(void **state)
{
        struct env *e = *state;
        struct cron_run_req req = {"default", "m", false, "k1", NULL, 10, NULL};
        struct cron_run_info ri;
        struct enqueue_req er;
        struct enqueue_res res;
        json_t *marker;
        char run_id[24];

        put(e, "m", "{\"cron\":\"0 0 1 1 *\"," JOB_MIN "}");
        begin(e);
        assert_int_equal(cron_run_now(&e->tx, &req, &ri), 0);
        /* Queued is not final: nothing counted yet. */
        for (int i = 0; i < CRUN_COUNT; i++)
                assert_int_equal(e->tx.fx.cron_runs[i], 0);
        commit(e);
        assert_non_null(ri.job.cron);
        marker = json_loads(ri.job.cron, 0, NULL);
        assert_non_null(marker);
        snprintf(run_id, sizeof(run_id), "%lld", (long long)ri.run.id);
        assert_string_equal(json_string_value(json_object_get(marker, "key")), "m");
        assert_string_equal(json_string_value(json_object_get(marker, "run")), run_id);
        json_decref(marker);
        /* Rolled back: the job is still queued and nothing is counted. */
        assert_int_equal(cancel_counted(e, ri.run.job_id, BATON_EINVAL), 0);
        assert_int_equal(job_state_of(e, ri.run.job_id), JOB_QUEUED);
        /* Kept: counted once. */
        assert_int_equal(cancel_counted(e, ri.run.job_id, 0), 1);
        assert_int_equal(job_state_of(e, ri.run.job_id), JOB_CANCELLED);
        cron_run_info_free(&ri);
        /* A job that no cron run enqueued counts nothing when it ends. */
        memset(&er, 0, sizeof(er));
        er.job.tenant = strdup("default");
        er.job.queue = strdup("q");
        er.job.type = strdup("t");
        er.job.max_attempts = 1;
        er.job.lease_ms = 30000;
        begin(e);
        assert_int_equal(job_enqueue(&e->tx, &er, &res), 0);
        commit(e);
        assert_null(res.job.cron);
        assert_int_equal(cancel_counted(e, res.job.id, 0), 0);
        job_free(&er.job);
        job_free(&res.job);
        /* Overlap skip: the second tick is skipped while the first job is
         * queued, and counted in that tick's effects. */
        put(e, "s", "{\"cron\":\"* * * * *\"," JOB_MIN "}");
        tick_at(e, T0 + MIN);
        e->clock.wall_ms = T0 + 2 * MIN;
        begin(e);
        {
                struct cron_tick_res tr;
                assert_int_equal(cron_tick(&e->tx, &tr), 0);
                assert_int_equal(tr.skipped, 1);
        }
        assert_int_equal(e->tx.fx.cron_runs[CRUN_SKIPPED], 1);
        commit(e);
}

/* The cap on a tenant's schedules (limits->cron_schedules_max). */
static void test_schedule_cap(void **state)
{
        struct env *e = *state;
        struct cron_registry reg = {0};
        struct cron_apply_res res;
        struct cron_spec spec = {0};
        json_t *o = json_loads("{\"cron\":\"@daily\"," JOB_MIN "}", 0, NULL);
        const char *keys[] = {"a", "d", "e"};
        struct verr v;
        bool created;

        e->limits.cron_schedules_max = 2;
        put(e, "a", "{\"cron\":\"@daily\"," JOB_MIN "}");
        put(e, "b", "{\"cron\":\"@daily\"," JOB_MIN "}");
        assert_int_equal(cron_spec_from_json(o, &spec, &v), 0);
        begin(e);
        assert_int_equal(cron_put(&e->tx, "default", "c", &spec, &created, NULL), BATON_ECONFLICT);
        assert_true(created);
        e->ops->rollback(e->st);
        txn_effects_free(&e->tx.fx);
        /* Another tenant has its own count. */
        begin(e);
        assert_int_equal(cron_put(&e->tx, "other", "c", &spec, &created, NULL), 0);
        commit(e);
        /* Three entries with prune: over; a and d with prune: two. */
        reg.v = calloc(3, sizeof(*reg.v));
        assert_non_null(reg.v);
        for (int i = 0; i < 3; i++) {
                reg.v[i].key = strdup(keys[i]);
                assert_int_equal(cron_spec_from_json(o, &reg.v[i].spec, &v), 0);
        }
        reg.n = 3;
        reg.prune = true;
        begin(e);
        assert_int_equal(cron_apply(&e->tx, "default", &reg, &res), BATON_ECONFLICT);
        assert_int_equal(res.total, 3);
        e->ops->rollback(e->st);
        txn_effects_free(&e->tx.fx);
        cron_apply_res_free(&res);
        reg.n = 2;
        begin(e);
        assert_int_equal(cron_apply(&e->tx, "default", &reg, &res), 0);
        assert_int_equal(res.total, 2);
        assert_int_equal(res.created_n, 1);
        assert_int_equal(res.deleted_n, 1);
        commit(e);
        cron_apply_res_free(&res);
        reg.n = 3;
        cron_registry_free(&reg);
        cron_spec_free(&spec);
        json_decref(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_fires_once_and_advances, setup, teardown),
            cmocka_unit_test_setup_teardown(test_misfire_policies, setup, teardown),
            cmocka_unit_test_setup_teardown(test_misfire_within_grace, setup, teardown),
            cmocka_unit_test_setup_teardown(test_misfire_bounded, setup, teardown),
            cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
            cmocka_unit_test_setup_teardown(test_overlap_allow, setup, teardown),
            cmocka_unit_test_setup_teardown(test_manual_runs, setup, teardown),
            cmocka_unit_test_setup_teardown(test_history_retention, setup, teardown),
            cmocka_unit_test_setup_teardown(test_resume_never_bursts, setup, teardown),
            cmocka_unit_test_setup_teardown(test_tick_uses_zone_cache, setup, teardown),
            cmocka_unit_test_setup_teardown(test_preview_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_run_status_counts, setup, teardown),
            cmocka_unit_test_setup_teardown(test_tick_uses_definition_cache, setup, teardown),
            cmocka_unit_test_setup_teardown(test_schedule_cap, setup, teardown),
            cmocka_unit_test(test_berlin_dst),
            cmocka_unit_test(test_validation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
