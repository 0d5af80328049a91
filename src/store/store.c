/*
 * store.c: helpers shared by every store backend: releasing the strings of the
 * records that store reads allocate. Each function frees only what the struct
 * points to (the struct itself may live on the stack or in an array) and clears
 * the pointers, so calling it twice is harmless.
 */
#include "store/store.h"

#include <stdlib.h>

void idem_rec_free(struct idem_rec *r)
{
        free(r->tenant);
        free(r->key);
        free(r->payload_hash);
        r->tenant = NULL;
        r->key = NULL;
        r->payload_hash = NULL;
}

void queue_rec_free(struct queue_rec *q)
{
        free(q->tenant);
        free(q->name);
        q->tenant = NULL;
        q->name = NULL;
}

void qref_free(struct qref *q)
{
        free(q->tenant);
        free(q->queue);
        q->tenant = NULL;
        q->queue = NULL;
}
