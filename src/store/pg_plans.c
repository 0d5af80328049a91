/*
 * pg_plans.c: the plan checks of the PostgreSQL backend (pg_check_plans,
 * pg_explain). Split from pg.c. Every read statement of the backend must
 * find its rows through an index, with no sequential scan and no sort, even
 * on a near-empty table: the table below names, for each, sample parameters
 * and the indexes it must use. Run by tests and at the operator's request,
 * outside any transaction, never on the hot path; the statements come from
 * the lists each file of the backend exports (pg_*_stmts) and from the
 * statements built at open (st->built).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/log.h"
#include "store/pg_internal.h"
#include "common/buf.h"
#include "store/store.h"

/* ---- query plans ---- */

/* The statement lists of the backend's files that pg_check_plans looks in,
 * by name (the statements built at open are in st->built). */
static const struct pg_stmt_list *const stmt_lists[] = {
    &pg_jobs_stmts,   &pg_meta_stmts,    &pg_timers_stmts, &pg_deps_stmts,   &pg_cron_stmts,
    &pg_groups_stmts, &pg_workers_stmts, &pg_stats_stmts,  &pg_events_stmts,
};

/* What a statement's plan must look like: sample parameters (space
 * separated; "-" for none) and the indexes it must use (space separated;
 * NULL = any index). Every plan is also refused if it scans a table
 * sequentially or sorts. */
struct plan_want {
        const char *name;
        const char *params;
        const char *uses;
};

static const struct plan_want plan_wants[] = {
    {"pg_job_get", "1 t1", NULL},
    {"pg_job_find_key", "t1 q1 k1", "job_key"},
    {"pg_job_find_active", "t1 q1 k1", "job_akey"},
    /* The claim path of version 5 (pg_groups.c). */
    {"pg_group_ready_ids", "t1 q1 g1 10", "job_group_ready"},
    {"pg_nogroup_ready_ids", "t1 q1 10", "job_nogroup_ready"},
    {"pg_qlim_get", "t1 q1", "queue_limits_pkey queue_counts_pkey job_groups_pkey"},
    {"pg_qlim_lock", "t1 q1", "queue_limits_pkey"},
    {"pg_group_get", "t1 q1 g1", "job_groups_pkey"},
    {"pg_group_get_lock", "t1 q1 g1", "job_groups_pkey"},
    {"pg_group_delete", "t1 q1 g1", "job_groups_pkey rate_log_pkey"},
    {"pg_group_pick", "t1 q1 10", "group_pick"},
    {"pg_group_unblock", "t1 q1 1 0", "group_until"},
    {"pg_group_unblock_all", "t1 q1 0", "job_groups_pkey"},
    {"pg_group_next_until", "t1 q1", "group_until"},
    {"pg_rate_get", "t1 q1 g1 1", "rate_log_pkey"},
    {"pg_job_due_ids", "1 10", "job_due"},
    {"pg_job_expired_ids", "1 10", "job_lease"},
    {"pg_job_state_ids", "t1 q1 2 0 10", "job_tqs"},
    {"pg_job_purge", "5 1 10", "job_finished"},
    {"pg_job_delete", "1 t1", NULL},
    {"pg_job_purge_own", "5 1 10", "qlim_retention job_tq_finished"},
    {"pg_job_own_deadline", "-", "qlim_retention job_tq_finished"},
    {"pg_queue_delete", "t1 q1", "queues_pkey queue_totals_pkey job_groups_pkey rate_log_pkey"},
    {"pg_deadlines", "-",
     "job_due job_lease job_finished idem_expiry dep_work_pkey audit_at workers_seen"},
    /* The worker registry (migration 15, pg_workers.c). */
    {"pg_worker_get", "t1 w1", "workers_pkey"},
    {"pg_worker_list", "t1 a 10", "workers_pkey"},
    /* job_worker holds running jobs only; job_tworker (the job list's
     * worker filter) every job that names a worker, so on real data the
     * planner takes job_worker. */
    {"pg_worker_jobs", "t1 w1 1 10", "job_worker|job_tworker"},
    {"pg_worker_purge", "1 10", "workers_pkey workers_seen"},
    /* The event log (migration 21, pg_events.c). */
    {"pg_event_scan", "0 10", "events_pkey"},
    {"pg_event_purge_age", "1 10", "events_pkey"},
    {"pg_event_purge_count", "5 10", "events_pkey"},
    {"pg_audit_purge", "1 10", "audit_at"},
    {"pg_idem_get", "t1 k1", "idempotency_pkey"},
    {"pg_idem_purge", "1 10", "idem_expiry"},
    {"pg_queue_get", "t1 q1", "queues_pkey"},
    {"pg_queue_total", "t1", "queue_totals_pkey"},
    {"pg_queue_list", "t1 a 10", "queues_pkey"},
    {"pg_queue_counts", "t1 q1", NULL},
    {"pg_queue_oldest", "t1 q1", NULL},
    {"pg_key_get", "k1", "api_keys_pkey"},
    {"pg_key_update", "k1 n d p 0 0 0 0 0 0 0 c", "api_keys_pkey"},
    {"pg_key_list_tenant", "t1 a 10", "key_tenant"},
    {"pg_key_list_all", "a 10", "api_keys_pkey"},
    {"pg_timer_get", "t1 k1", "timers_pkey"},
    {"pg_timer_list", "t1 a a b 10", "timers_pkey"},
    {"pg_timer_due", "1 10", "timer_due"},
    {"pg_timer_next", "-", "timer_due"},
    {"pg_dep_children", "1 0 10", "job_deps_pkey"},
    {"pg_dep_parents", "{1,2}", "job_deps_pkey"},
    {"pg_dep_work_next", "10", "dep_work_pkey"},
    {"pg_dep_work_advance", "1 0 5", "dep_work_pkey"},
    {"pg_dep_work_done", "1 0", "dep_work_pkey"},
    {"pg_job_get_many", "{1,2} t1", NULL},
    {"pg_group_ready_many", "t1 q1 {g1,g2} 2", "job_group_ready"},
    {"pg_flow_get", "1 t1", "flows_pkey"},
    {"pg_flow_job_ids", "t1 1 0 10", "job_flow"},
    {"pg_audit_list_0", "0 10", "audit_pkey"},
    {"pg_audit_list_1", "t1 0 10", "audit_tenant"},
    {"pg_audit_list_2", "a 0 10", "audit_action"},
    {"pg_audit_list_3", "t1 a 0 10", NULL},
    {"pg_audit_list_4", "k1 0 10", "audit_key"},
    {"pg_audit_list_5", "t1 k1 0 10", NULL},
    {"pg_audit_list_6", "a k1 0 10", NULL},
    {"pg_audit_list_7", "t1 a k1 0 10", NULL},
    {"pg_cron_get", "t1 k1", "cron_schedules_pkey"},
    {"pg_cron_list", "t1 a 10", "cron_schedules_pkey"},
    {"pg_cron_due", "1 10", "cron_due"},
    {"pg_cron_next_due", "-", "cron_due"},
    {"pg_cron_delete", "t1 k1", "cron_schedules_pkey"},
    {"pg_cron_run_get", "t1 1", "cron_runs_pkey"},
    {"pg_cron_run_list", "t1 k1 100 10", "cron_run_key"},
    {"pg_cron_run_count", "t1 k1 schedule 0", "cron_run_trigger"},
    {"pg_cron_run_trim", "t1 k1 5", "cron_run_key"},
    /* On a small table the planner reads the minutes by stats_at and
     * filters the rest; with the table grown it takes the other index. */
    {"pg_stats_queue", "t1 q1 0 60000", "stats_pkey|stats_at"},
    {"pg_stats_tenant", "t1 0 60000", "stats_tat|stats_at"},
    {"pg_stats_marks", "0 60000", "stats_pkey|stats_at"},
    {"pg_stats_purge", "60000 10", "stats_at"},
};

static const struct pg_stmt *stmt_by_name(const struct store *st, const char *name)
{
        for (int i = 0; i < PG_B_COUNT; i++)
                if (strcmp(st->built[i].name, name) == 0)
                        return &st->built[i];
        for (size_t l = 0; l < BATON_ARRAY_LEN(stmt_lists); l++)
                for (int i = 0; i < stmt_lists[l]->n; i++)
                        if (strcmp(stmt_lists[l]->v[i]->name, name) == 0)
                                return stmt_lists[l]->v[i];
        return NULL;
}

/* Runs EXPLAIN of s with the sample parameters and writes the plan's lines
 * into out (truncated to out_len). The planner is told to avoid sequential
 * scans and sorts (SET LOCAL, in a transaction rolled back afterwards) when
 * forced: on a test's near-empty tables it would rightly prefer them, so this
 * asks whether an index path exists at all. A plan that still scans or sorts
 * has none. Not forced, it is the plan the planner prefers on the data as it
 * is (for tests on populated, analyzed tables). */
static int explain_params(struct store *st, const struct pg_stmt *s, const struct pg_params *pp,
                          bool forced, char *out, size_t out_len)
{
        const struct pg_params p = *pp;
        char sql[PG_SQL_MAX];
        PGresult *r;
        size_t used = 0;
        int rc = 0;

        out[0] = 0;
        snprintf(sql, sizeof(sql), "EXPLAIN %s", s->sql);
        PQclear(PQexec(st->conn, forced ? "BEGIN; SET LOCAL enable_seqscan = off;"
                                          " SET LOCAL enable_sort = off"
                                        : "BEGIN"));
        r = PQexecParams(st->conn, sql, p.n, NULL, p.v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
                log_error("store", "explain %s: %s", s->name, PQresultErrorMessage(r));
                rc = BATON_ESTORE;
        }
        for (int i = 0; !rc && i < PQntuples(r) && used < out_len; i++) {
                int w = snprintf(out + used, out_len - used, "%s\n", PQgetvalue(r, i, 0));
                used += w > 0 ? (size_t)w : 0;
        }
        PQclear(r);
        PQclear(PQexec(st->conn, "ROLLBACK"));
        return rc;
}

/* explain_params with sample parameters given as text (space separated;
 * "-" for none). */
static int explain_text(struct store *st, const struct pg_stmt *s, const char *params, bool forced,
                        char *out, size_t out_len)
{
        struct pg_params p = {0};
        char buf[256], *save = NULL, *tok;

        snprintf(buf, sizeof(buf), "%s", params);
        for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                if (strcmp(tok, "-") != 0)
                        pg_p_text(&p, tok);
        return explain_params(st, s, &p, forced, out, out_len);
}

/* Explains job_list for sample i of store_list_samples, its parameters
 * bound as pg_job_list binds them. */
static int explain_list(struct store *st, int i, bool forced, char *out, size_t out_len)
{
        const struct store_list_sample *ls = &store_list_samples[i];
        struct pg_params p = {0};
        struct store_binder b = pg_binder(&p);
        struct pg_stmt s = {PG_ADHOC "pg_job_list", NULL};
        struct buf sql;
        int rc;

        buf_init(&sql, PG_SQL_MAX);
        rc = pg_build_job_list(&sql, &ls->f);
        s.sql = sql.ptr;
        store_bind_job_filter(&b, &ls->f);
        pg_p_i64(&p, 100);
        if (!rc)
                rc = explain_params(st, &s, &p, forced, out, out_len);
        buf_free(&sql);
        return rc == BATON_ETOOBIG ? BATON_ESTORE : rc;
}

/* True if plan reads through index name (an index or bitmap index scan). */
static bool plan_uses_one(const char *plan, const char *name, size_t len)
{
        char a[96], b[96];

        snprintf(a, sizeof(a), " using %.*s ", (int)len, name);
        snprintf(b, sizeof(b), " on %.*s ", (int)len, name);
        return strstr(plan, a) || strstr(plan, b);
}

/* True if plan reads through one of the '|'-separated indexes of
 * name[0..len): "job_worker|job_tworker" where two indexes serve a statement
 * equally well on the sample data and the planner's choice between them is
 * a tie (on real data it takes the more selective). */
static bool plan_uses(const char *plan, const char *name, size_t len)
{
        for (size_t i = 0; i < len;) {
                size_t n = strcspn(name + i, "| ");

                if (n > len - i)
                        n = len - i;
                if (plan_uses_one(plan, name + i, n))
                        return true;
                i += n + 1;
        }
        return false;
}

/* Judges one plan; a reason when it is bad, NULL otherwise. */
static const char *plan_verdict(const char *plan, const char *uses, char *miss, size_t miss_len)
{
        if (strstr(plan, "Seq Scan"))
                return "scans a table sequentially";
        if (strstr(plan, "Sort  (") || strstr(plan, "Sort Key"))
                return "sorts";
        if (!strstr(plan, "Index"))
                return "uses no index";
        for (const char *w = uses; w && *w;) {
                size_t n = strcspn(w, " ");

                if (!plan_uses(plan, w, n)) {
                        snprintf(miss, miss_len, "does not use %.*s", (int)n, w);
                        return miss;
                }
                w += n + (w[n] == ' ');
        }
        return NULL;
}

/* Judges the plan of statement name; BATON_ESTORE with the reason in why
 * when it is bad. */
static int judge(const char *name, const char *plan, const char *uses, char *why, size_t why_len)
{
        char miss[128];
        const char *bad = plan_verdict(plan, uses, miss, sizeof(miss));

        if (!bad)
                return 0;
        snprintf(why, why_len, "%s %s:\n%s", name, bad, plan);
        return BATON_ESTORE;
}

/* The job_list samples: each filter must search its own index. */
static int check_list_plans(struct store *st, char *why, size_t why_len)
{
        char plan[4096], name[96];
        int rc = 0;

        for (int i = 0; i < store_list_nsamples && !rc; i++) {
                snprintf(name, sizeof(name), "job_list:%s", store_list_samples[i].name);
                rc = explain_list(st, i, true, plan, sizeof(plan));
                if (!rc)
                        rc = judge(name, plan, store_list_samples[i].uses, why, why_len);
        }
        return rc;
}

int pg_check_plans(struct store *st, char *why, size_t why_len)
{
        char plan[4096];

        if (why_len)
                why[0] = 0;
        if (st->in_txn || st->broken)
                return BATON_ESTORE;
        for (size_t i = 0; i < BATON_ARRAY_LEN(plan_wants); i++) {
                const struct plan_want *w = &plan_wants[i];
                const struct pg_stmt *s = stmt_by_name(st, w->name);
                int rc;

                if (!s) {
                        snprintf(why, why_len, "%s: no such statement", w->name);
                        return BATON_ESTORE;
                }
                rc = explain_text(st, s, w->params, true, plan, sizeof(plan));
                if (!rc)
                        rc = judge(w->name, plan, w->uses, why, why_len);
                if (rc)
                        return rc;
        }
        return check_list_plans(st, why, why_len);
}

static int explain_one(struct store *st, const char *name, bool forced, char *out, size_t out_len)
{
        if (strncmp(name, "job_list:", 9) == 0)
                for (int i = 0; i < store_list_nsamples; i++)
                        if (strcmp(store_list_samples[i].name, name + 9) == 0)
                                return explain_list(st, i, forced, out, out_len);
        for (size_t i = 0; i < BATON_ARRAY_LEN(plan_wants); i++)
                if (strcmp(plan_wants[i].name, name) == 0)
                        return explain_text(st, stmt_by_name(st, name), plan_wants[i].params,
                                            forced, out, out_len);
        return BATON_ENOTFOUND;
}

int pg_explain(struct store *st, const char *name, char *out, size_t out_len)
{
        return explain_one(st, name, true, out, out_len);
}

int pg_explain_free(struct store *st, const char *name, char *out, size_t out_len)
{
        return explain_one(st, name, false, out, out_len);
}
