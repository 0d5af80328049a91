/*
 * pg_rows.c: the statement arguments and result rows of the PostgreSQL
 * backend, shared by its files (pg_internal.h): parameters as text
 * (struct pg_params, built from typed argument lists or from a record's
 * columns through store_cols.h), and the helpers that run a statement
 * (pg_exec, pg.c) and read what it returns: one row as a record, column 0 as
 * an integer, every row as records or ids, a count of changed rows.
 * Workload: every operation of the backend goes through these; they add no
 * round trip. Assumptions: as pg.c (one caller, the store thread).
 */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/errors.h"
#include "common/assert.h"
#include "store/pg_internal.h"
#include "store/store.h"
#include "store/store_cols.h"

/* ---- parameters ---- */

void pg_p_text(struct pg_params *p, const char *v)
{
        BATON_ASSERT(p->n < PG_PARAMS_MAX);
        p->v[p->n++] = v;
}

void pg_p_i64(struct pg_params *p, int64_t v)
{
        BATON_ASSERT(p->n < PG_PARAMS_MAX);
        snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
        p->v[p->n] = p->num[p->n];
        p->n++;
}

static void bind_text(struct store_binder *b, const char *v)
{
        b->next++;
        pg_p_text(b->dst, v);
}

static void bind_i64(struct store_binder *b, int64_t v)
{
        b->next++;
        pg_p_i64(b->dst, v);
}

struct store_binder pg_binder(struct pg_params *p)
{
        return (struct store_binder){p, p->n + 1, bind_text, bind_i64};
}

struct pg_params *pg_args(struct pg_params *p, int n, const struct store_arg *a)
{
        struct store_binder b = pg_binder(p);

        store_bind_args(&b, n, a);
        return p;
}

struct pg_params *pg_p_row(struct pg_params *p, const struct store_rowdef *d, const void *rec)
{
        struct store_binder b = pg_binder(p);

        store_bind_row(&b, d, rec);
        return p;
}

/* ---- result rows ---- */

int64_t pg_i64(const PGresult *r, int row, int col)
{
        if (PQgetisnull(r, row, col))
                return 0;
        return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pg_text(const PGresult *r, int row, int col, char **dst)
{
        *dst = NULL;
        if (PQgetisnull(r, row, col))
                return 0;
        *dst = strdup(PQgetvalue(r, row, col));
        return *dst ? 0 : BATON_ENOMEM;
}

static int64_t row_i64(const struct store_row *r, int col)
{
        return pg_i64(r->res, r->row, col);
}

static bool row_null(const struct store_row *r, int col)
{
        return PQgetisnull(r->res, r->row, col) != 0;
}

static int row_text(const struct store_row *r, int col, char **dst)
{
        return pg_text(r->res, r->row, col, dst);
}

struct store_row pg_row(const PGresult *r, int row)
{
        return (struct store_row){r, row, row_i64, row_null, row_text};
}

/* ---- running statements ---- */

int pg_run(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int64_t *n_out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, s, p, &r);

        if (!rc && n_out)
                *n_out = strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        return rc;
}

int pg_update(struct store *st, const struct pg_stmt *s, const struct pg_params *p)
{
        int64_t n = 0;
        int rc = pg_run(st, s, p, &n);

        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

int pg_purge(struct store *st, const struct pg_stmt *s, struct pg_params *p, int max, int *n_out)
{
        int64_t n = 0;
        int rc;

        *n_out = 0;
        if (max <= 0)
                return 0;
        pg_p_i64(p, max);
        rc = pg_run(st, s, p, &n);
        if (!rc)
                *n_out = (int)n;
        return rc;
}

int pg_rows_each(const PGresult *r, int max, int (*fn)(void *ctx, const struct store_row *r, int i),
                 void *ctx, int *n_out)
{
        int n = 0, rc = 0;

        for (int i = 0; rc == 0 && i < PQntuples(r) && n < max; i++) {
                struct store_row row = pg_row(r, i);

                rc = fn(ctx, &row, n++);
        }
        if (rc > 0)
                rc = 0; /* fn stopped the read */
        if (n_out)
                *n_out = rc ? 0 : n;
        return rc;
}

int pg_each(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int max,
            int (*fn)(void *ctx, const struct store_row *r, int i), void *ctx, int *n_out)
{
        PGresult *r = NULL;
        int rc = pg_exec(st, s, p, &r);

        if (!rc)
                rc = pg_rows_each(r, max, fn, ctx, n_out);
        else if (n_out)
                *n_out = 0;
        PQclear(r);
        return rc;
}

int pg_get_one(struct store *st, const struct pg_stmt *s, const struct pg_params *p,
               const struct store_rowdef *d, void *out)
{
        struct store_first f = {d, out};
        int n = 0;
        int rc = pg_each(st, s, p, 1, store_row_first, &f, &n);

        return !rc && n == 0 ? BATON_ENOTFOUND : rc;
}

int pg_int(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int64_t *out,
           bool *found)
{
        struct store_first f = {NULL, out};
        int n = 0;
        int rc;

        *out = 0;
        rc = pg_each(st, s, p, 1, store_row_first, &f, &n);
        if (found)
                *found = n > 0;
        return rc;
}

int pg_collect(struct store *st, const struct pg_stmt *s, const struct pg_params *p,
               const struct store_rowdef *d, void *out, int *n_out)
{
        struct store_recs a = {d, NULL, 0, 0};

        return store_recs_end(&a, pg_each(st, s, p, INT_MAX, store_row_rec, &a, NULL), out, n_out);
}

int pg_ids(struct store *st, const struct pg_stmt *s, const struct pg_params *p, int max,
           int64_t *ids, int *n_out)
{
        struct store_ids a = {ids, NULL, NULL};

        *n_out = 0;
        if (max <= 0)
                return 0; /* no round trip */
        return pg_each(st, s, p, max, store_row_ids, &a, n_out);
}
