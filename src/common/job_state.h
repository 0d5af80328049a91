/*
 * job_state.h: the states of a job, the numbers they are stored as, and the
 * moves the code makes between them. The numbers are part of the stored
 * format (rows already written keep theirs), so every SQL text of the stores
 * that names a state (indexes, checks, queries in src/store/) spells it with
 * the JOB_SQL_* strings below, and the _Static_asserts beside them fail the
 * build if the enum is renumbered. In common/ so that store and core both
 * include it without crossing a layer.
 */
#ifndef BATON_COMMON_JOB_STATE_H
#define BATON_COMMON_JOB_STATE_H

#include <stdbool.h>
#include <stddef.h>

enum job_state {
        JOB_PENDING = 0,   /* waiting on dependencies */
        JOB_SCHEDULED = 1, /* run_at in the future */
        JOB_QUEUED = 2,    /* ready to be claimed */
        JOB_RUNNING = 3,   /* leased by a worker */
        JOB_RETRYING = 4,  /* an attempt failed; waiting for its backoff */
        JOB_COMPLETED = 5,
        JOB_DEAD = 6,
        JOB_CANCELLED = 7,
        JOB_STATE_COUNT = 8
};

/* The stored number of each state, as SQL text. */
#define JOB_SQL_PENDING "0"
#define JOB_SQL_SCHEDULED "1"
#define JOB_SQL_QUEUED "2"
#define JOB_SQL_RUNNING "3"
#define JOB_SQL_RETRYING "4"
#define JOB_SQL_COMPLETED "5"
#define JOB_SQL_DEAD "6"
#define JOB_SQL_CANCELLED "7"
_Static_assert(JOB_PENDING == 0, "JOB_SQL_PENDING is the stored number of JOB_PENDING");
_Static_assert(JOB_SCHEDULED == 1, "JOB_SQL_SCHEDULED is the stored number of JOB_SCHEDULED");
_Static_assert(JOB_QUEUED == 2, "JOB_SQL_QUEUED is the stored number of JOB_QUEUED");
_Static_assert(JOB_RUNNING == 3, "JOB_SQL_RUNNING is the stored number of JOB_RUNNING");
_Static_assert(JOB_RETRYING == 4, "JOB_SQL_RETRYING is the stored number of JOB_RETRYING");
_Static_assert(JOB_COMPLETED == 5, "JOB_SQL_COMPLETED is the stored number of JOB_COMPLETED");
_Static_assert(JOB_DEAD == 6, "JOB_SQL_DEAD is the stored number of JOB_DEAD");
_Static_assert(JOB_CANCELLED == 7, "JOB_SQL_CANCELLED is the stored number of JOB_CANCELLED");
_Static_assert(JOB_STATE_COUNT == 8, "a new state needs its JOB_SQL_* number and the CHECK range");

/* The range a stored state must lie in (the jobs table's CHECK). */
#define JOB_SQL_FIRST JOB_SQL_PENDING
#define JOB_SQL_LAST JOB_SQL_CANCELLED
/* Sets of states, as SQL lists: waiting for run_at (the leader promotes
 * them when due), holding their dedup key (one per tenant, queue and key),
 * and ended (purged after their retention). */
#define JOB_SQL_DUE "(" JOB_SQL_SCHEDULED ", " JOB_SQL_RETRYING ")"
#define JOB_SQL_KEY_HOLDERS "(" JOB_SQL_SCHEDULED ", " JOB_SQL_QUEUED ")"
#define JOB_SQL_TERMINAL "(" JOB_SQL_COMPLETED ", " JOB_SQL_DEAD ", " JOB_SQL_CANCELLED ")"
/* Not ended: pending, scheduled, queued, running or retrying. A key enqueued
 * with unique_while "active" is unique among these (core/jobs.c). */
#define JOB_SQL_ACTIVE                                                                             \
        "(" JOB_SQL_PENDING ", " JOB_SQL_SCHEDULED ", " JOB_SQL_QUEUED ", " JOB_SQL_RUNNING        \
        ", " JOB_SQL_RETRYING ")"

/* The same two sets as ORs of equalities on column c ("state", "j.state"),
 * for SQLite (migration 18): an IN list of more than two values in a
 * partial index's WHERE makes SQLite build an ephemeral table each time a
 * write of a job row evaluates it, for the old and the new row, where the
 * ORs are a few comparisons. A statement over such an index repeats its
 * term in the same form, since SQLite uses a partial index only when the
 * query's WHERE visibly implies the index's. */
#define JOB_SQL_TERMINAL_OR(c)                                                                     \
        "(" c " = " JOB_SQL_COMPLETED " OR " c " = " JOB_SQL_DEAD " OR " c " = " JOB_SQL_CANCELLED \
        ")"
#define JOB_SQL_ACTIVE_OR(c)                                                                       \
        "(" c " = " JOB_SQL_PENDING " OR " c " = " JOB_SQL_SCHEDULED " OR " c " = " JOB_SQL_QUEUED \
        " OR " c " = " JOB_SQL_RUNNING " OR " c " = " JOB_SQL_RETRYING ")"

/* "pending" .. "cancelled"; "unknown" outside the enum. */
const char *job_state_name(int state);
/* A set of states as a mask of JOB_STATE_BIT(state). */
#define JOB_STATE_BIT(s) (1u << (s))
#define JOB_STATES_ALL ((1u << JOB_STATE_COUNT) - 1u)
/* Writes the names of the states of mask, in enum order, as a sentence's
 * list ("dead or cancelled", "pending, queued or running") into out (cap
 * bytes, always NUL-terminated, cut when too small). Returns out. For the
 * messages that say which states are allowed. */
char *job_state_list(unsigned mask, char *out, size_t cap);
int job_state_parse(const char *s); /* -1 if unknown */
bool job_state_terminal(int state);
/* Whether the code moves a job from state from to state to: the state
 * machine of core/jobs.c (a replace re-places a scheduled or queued job,
 * so those two may "move" to themselves). Checked by an assertion at every
 * move. */
bool job_state_moves(int from, int to);

#endif
