/*
 * store_cols.h: the columns of a job row, written once for every backend.
 * Each backend builds its job statements (insert, update, reads) from this
 * table and binds and reads the fields of struct job through the offsets, so
 * a column added to jobs is added here, in both migrations, and nowhere else.
 * Assumptions: the backends bind columns in table order; reads return id,
 * tenant and created_at first (STORE_JOB_READ_FIXED), then these.
 */
#ifndef BATON_STORE_STORE_COLS_H
#define BATON_STORE_STORE_COLS_H

#include <stddef.h>

enum store_col_kind { COL_TEXT, COL_I64, COL_INT, COL_BOOL };

struct store_col {
        const char *name;
        int kind;   /* enum store_col_kind */
        size_t off; /* of the field in struct job */
};

/* The columns job_update writes, in binding order; job_insert writes tenant
 * and created_at first, then these. */
extern const struct store_col store_job_cols[];
extern const int store_job_ncols;

#define STORE_JOB_READ_FIXED 3   /* id, tenant, created_at precede the columns in reads */
#define STORE_JOB_COL_PRIORITY 3 /* store_job_cols[3] is "priority" */

#endif
