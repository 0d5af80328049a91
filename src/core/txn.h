/*
 * txn.h: the context a core operation runs in. The store thread (exec.c) opens
 * one transaction per batch and hands every operation a struct txn with the
 * store, the clock reading for the batch and a set of effects. Effects are what
 * the loop thread must do after the commit: wake claim waiters of queues that
 * gained ready jobs, wake waiters of jobs that became terminal, and re-arm the
 * next-deadline timer. They are hints: a spurious wake-up is harmless, a missed
 * one is a bug.
 */
#ifndef BATON_CORE_TXN_H
#define BATON_CORE_TXN_H

#include <stdint.h>

#include "common/clock.h"
#include "core/limits.h"
#include "store/store.h"

struct txn_effects {
	struct qref *ready; /* queues that gained ready jobs (deduplicated) */
	int ready_n;
	int ready_cap;
	int64_t *terminal; /* ids of jobs that became terminal */
	int terminal_n;
	int terminal_cap;
	int64_t deadline_ms; /* earliest new deadline; 0 = none */
};

struct txn {
	struct store *st;
	const struct store_ops *ops;
	const struct clock *clock;
	const struct limits *limits;
	int64_t now_ms; /* one wall-clock reading per batch */
	struct txn_effects fx;
};

int txn_note_ready(struct txn *tx, const char *tenant, const char *queue);
int txn_note_terminal(struct txn *tx, int64_t job_id);
void txn_note_deadline(struct txn *tx, int64_t at_ms);
void txn_effects_reset(struct txn_effects *fx);
void txn_effects_free(struct txn_effects *fx);

#endif
