/*
 * sqlite_plans.c: the query-plan checks of the SQLite backend. sqlite_check_plans
 * runs EXPLAIN QUERY PLAN on every prepared statement marked in sqlite_stmt_defs
 * and checks that it reads through the indexes it was written for, with no full
 * table scan and no temporary sort; sqlite_explain shows one statement's plan.
 * Workload: tests and diagnostics only, never the request path. Assumptions:
 * the store is open (its statements prepared).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/errors.h"
#include "common/assert.h"
#include "common/buf.h"
#include "common/log.h"
#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

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
        for (int id = 0; id < S_AUDIT_LIST; id++)
                if (strcmp(sqlite_stmt_defs[id].name, name) == 0)
                        return id;
        if (strncmp(name, "audit_list/", 11) == 0) {
                int bits = atoi(name + 11);
                if (bits >= 0 && bits < S_COUNT - S_AUDIT_LIST)
                        return S_AUDIT_LIST + bits;
        }
        return -1;
}

/* The indexes statement id must read through (see struct stmt_def). An
 * audit_list variant with one filter has exactly one index for it; with
 * several, any of them serves (the others are checked row by row), so the
 * plan is only required to search, never scan or sort. */
static const char *stmt_uses(int id)
{
        static const char *const audit_uses[] = {
            [0] = "rowid",
            [STORE_AF_TENANT] = "audit_tenant",
            [STORE_AF_ACTION] = "audit_action",
            [STORE_AF_KEY] = "audit_key",
        };

        if (id < S_AUDIT_LIST)
                return sqlite_stmt_defs[id].uses;
        id -= S_AUDIT_LIST;
        return id < (int)BATON_ARRAY_LEN(audit_uses) ? audit_uses[id] : NULL;
}

/* A statement to explain: its name in messages, its SQL and the indexes its
 * plan must use (stmt_def.uses). */
struct plan_stmt {
        const char *name;
        const char *sql;
        const char *uses;
};

/* Runs EXPLAIN QUERY PLAN on q. With plan_out, writes the plan's lines there
 * (one per line, truncated to plan_len). With why, judges each line against
 * the statement's expectations and returns BATON_ESTORE on the first bad
 * one, naming it in why. */
static int explain(struct store *st, const struct plan_stmt *q, char *plan_out, size_t plan_len,
                   char *why, size_t why_len)
{
        const char *name = q->name;
        const char *uses = q->uses;
        char seen[512] = "";
        size_t used = 0;
        sqlite3_stmt *s = NULL;
        int rc;

        if (plan_out && plan_len)
                plan_out[0] = 0;
        rc = sqlite_prepare_adhoc(st, &s, "explain", "EXPLAIN QUERY PLAN %s", q->sql);
        /* A job_list reads INDEXED BY its filter's index: without the index
         * it cannot be prepared at all. */
        if (rc && why)
                snprintf(why, why_len, "%s cannot be planned: %s", name, sqlite3_errmsg(st->db));
        if (rc)
                return rc;
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
                        snprintf(why, why_len, "%s %s: %s", name, bad, detail);
                        rc = BATON_ESTORE;
                        break;
                }
        }
        if (rc == SQLITE_DONE)
                rc = 0;
        else if (rc > 0)
                rc = sqlite_fail(st, rc, "explain");
        sqlite3_finalize(s);
        /* Every index the statement was written for must be in the plan. */
        for (const char *p = uses; !rc && why && p && *p;) {
                const char *end = strchr(p, ' ');
                char want[128];
                size_t m = end ? (size_t)(end - p) : strlen(p);

                snprintf(want, sizeof(want), "%.*s", (int)m, p);
                if (!word_in(seen, want)) {
                        snprintf(why, why_len, "%s does not use %s", name, want);
                        rc = BATON_ESTORE;
                }
                p = end ? end + 1 : NULL;
        }
        return rc;
}

/* Explains prepared statement id. */
static int explain_id(struct store *st, int id, char *out, size_t out_len, char *why,
                      size_t why_len)
{
        struct plan_stmt q = {sqlite_stmt_name(id), sqlite3_sql(st->stmt[id]), stmt_uses(id)};

        return explain(st, &q, out, out_len, why, why_len);
}

/* Explains job_list for sample i of store_list_samples (named "job_list:"
 * and the sample's name), whose plan must read through the sample's index
 * (so a wrong choice of store_job_list_index shows), or the one the filters
 * choose when the sample names none. */
static int explain_list(struct store *st, int i, char *out, size_t out_len, char *why,
                        size_t why_len)
{
        const struct store_list_sample *ls = &store_list_samples[i];
        char name[96];
        struct plan_stmt q = {
            name, NULL, sqlite_list_index(ls->uses ? ls->uses : store_job_list_index(&ls->f))};
        struct buf b;
        int rc;

        snprintf(name, sizeof(name), "job_list:%s", ls->name);
        buf_init(&b, 8192);
        rc = sqlite_build_job_list(&b, &ls->f);
        q.sql = b.ptr;
        if (!rc)
                rc = explain(st, &q, out, out_len, why, why_len);
        buf_free(&b);
        return rc == BATON_ETOOBIG ? BATON_ESTORE : rc;
}

int sqlite_check_plans(struct store *st, char *why, size_t why_len)
{
        int rc = 0;

        if (why_len)
                why[0] = 0;
        for (int id = 0; id < S_COUNT && !rc; id++)
                if (id >= S_AUDIT_LIST || sqlite_stmt_defs[id].plan)
                        rc = explain_id(st, id, NULL, 0, why, why_len);
        for (int i = 0; i < store_list_nsamples && !rc; i++)
                rc = explain_list(st, i, NULL, 0, why, why_len);
        return rc;
}

int sqlite_explain(struct store *st, const char *name, char *out, size_t out_len)
{
        int id = stmt_by_name(name);

        if (strncmp(name, "job_list:", 9) == 0)
                for (int i = 0; i < store_list_nsamples; i++)
                        if (strcmp(store_list_samples[i].name, name + 9) == 0)
                                return explain_list(st, i, out, out_len, NULL, 0);
        if (id < 0)
                return BATON_ENOTFOUND;
        return explain_id(st, id, out, out_len, NULL, 0);
}
