/*
 * job_log.h: the attempt and step logs of a job, JSON arrays kept in the job
 * row (struct job attempts and steps) so that a claim or a settle touches one
 * row. Each entry is an object: an attempt {attempt, worker, started_at,
 * finished_at, outcome, error}, a step {step, attempt, started_at,
 * finished_at}. A log holds at most limits->history_max entries; the oldest
 * go first.
 *
 * Every function runs on the store thread inside tx (its now_ms stamps the
 * entries) and rewrites the job's text in memory only: the caller writes the
 * job. 0, or BATON_ENOMEM (the text is then as it was).
 */
#ifndef BATON_CORE_JOB_LOG_H
#define BATON_CORE_JOB_LOG_H

#include "store/job.h"
#include "core/txn.h"

/* Opens an attempt entry for j's current attempt, worker and started_at. */
int job_log_attempt_open(const struct txn *tx, struct job *j);
/* Closes the latest attempt entry with outcome and error (NULL: null). */
int job_log_attempt_close(const struct txn *tx, struct job *j, const char *outcome,
                          const char *error);
/* Records a change of step: closes the open step and opens step (nothing
 * when step is the one open). */
int job_log_step_change(const struct txn *tx, struct job *j, const char *step);
/* Closes an open step when the attempt ends, so the log has no dangling step. */
int job_log_step_close(const struct txn *tx, struct job *j);

#endif
