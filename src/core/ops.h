/*
 * ops.h: what the operator endpoints read from the store outside the job
 * model: whether the store answers (GET /readyz) and how many queues a tenant
 * has (GET /metrics counts those it leaves out). One transaction step each.
 */
#ifndef BATON_CORE_OPS_H
#define BATON_CORE_OPS_H

#include <stdint.h>

#include "core/txn.h"

/* 0 when the store answers a read of its schema version inside the
 * transaction; the store's error otherwise. */
int ops_store_ready(struct txn *tx);
/* Number of queues the tenant has (rows in the queue table). */
int ops_queue_total(struct txn *tx, const char *tenant, int64_t *out);

#endif
