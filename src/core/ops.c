/*
 * ops.c: operator reads (see ops.h). Store-thread code inside a batch.
 */
#include "core/ops.h"

int ops_store_ready(struct txn *tx)
{
        int version = 0;

        return tx->ops->schema_version(tx->st, &version);
}

int ops_queue_total(struct txn *tx, const char *tenant, int64_t *out)
{
        return tx->ops->queue_total(tx->st, tenant, out);
}
