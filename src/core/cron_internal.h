/*
 * cron_internal.h: what the cron manager's files (cron.c, cron_spec.c,
 * cron_zone.c, cron_fire.c) share and nothing else calls: reading a stored
 * definition back, the schedule of a saved definition inside a transaction,
 * writing a schedule row with its due instant, and the skipped runs of a
 * resumed schedule.
 *
 * Assumptions: every function here runs on the store thread inside the
 * caller's transaction (tx), as the public cron_* functions of cron.h do.
 */
#ifndef BATON_CORE_CRON_INTERNAL_H
#define BATON_CORE_CRON_INTERNAL_H

#include "core/cron.h"

/* cron_spec.c: a stored definition's text read back into spec (zeroed by the
 * caller, owned by it either way: cron_spec_free). BATON_ESTORE when the text
 * is not a valid definition, BATON_ENOMEM. */
int cron_spec_load(const char *text, struct cron_spec *spec);

/* cron_zone.c: the schedule of a saved definition, to compute its fires
 * inside tx: the zone comes from the store thread's cache (tx->tzc, when
 * there is one) and none of the checks made when it was saved run again
 * (never-fires, the interval for the floor: a scan of the 400-year cycle),
 * since a tick compiles every due schedule. out is owned by the caller
 * (cron_sched_free) on success; on error e says why. */
int cron_sched_of(struct txn *tx, const char *key, const struct cron_spec *spec,
                  struct cron_sched *out, struct verr *e);
/* cron_zone.c: the expression of a saved definition, parsed (H hashed from
 * key). */
int cron_spec_expr(const char *key, const struct cron_spec *spec, struct cron_expr *out,
                   struct verr *e);
/* cron_zone.c: the schedule of an expression already parsed: its zone and
 * policies (out as for cron_sched_of). */
int cron_sched_from(struct txn *tx, const struct cron_spec *spec, const struct cron_expr *expr,
                    struct cron_sched *out, struct verr *e);
/* cron_zone.c: the first fire after from_ms, or 0 when the schedule never
 * fires again or cannot be compiled (logged). */
int64_t cron_next_after(struct txn *tx, const char *key, const struct cron_spec *spec,
                        int64_t from_ms);

/* cron.c: writes rec with its due instant (the next fire, or the poll of a
 * buffered run) and tells tx the deadline. */
int cron_write_rec(struct txn *tx, struct cron_rec *rec);

/* cron_fire.c: on resume, the ticks that fell while rec was paused recorded
 * as skipped runs (reason paused), at most CRON_SKIP_RECORD_MAX rows. */
int cron_record_paused(struct txn *tx, struct cron_rec *rec, const struct cron_spec *spec);

#endif
