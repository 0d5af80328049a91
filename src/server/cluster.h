/*
 * cluster.h: what a node hears from the other nodes sharing its store. On a
 * shared store (store_ops.shared) the node keeps a listener connection of its
 * own (store_ops.listen_open), watched by the loop, and acts on each
 * notification (core/txn.h, txn_notify): wakes claims of a queue that gained
 * ready jobs, wakes reads of jobs that became terminal, arms the leader's
 * timer for a new deadline, reloads a changed API key (and its dashboard
 * sessions, core/sessions.h), and on an "l"
 * (a leader released its lease at shutdown) tries to take the lease at once
 * (sched_poke). A lost listener is
 * reopened with backoff (100 ms doubling to 5 s); after every open (the first too) the
 * node rechecks every parked waiter, reloads every key and sweeps the
 * deadlines once, since notifications sent meanwhile are gone.
 *
 * Loop thread only. On a store one process owns there is nothing to hear and
 * cluster_start leaves *out NULL.
 */
#ifndef BATON_SERVER_CLUSTER_H
#define BATON_SERVER_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

struct server;
struct cluster;

/* *out owned by the caller (cluster_free); NULL when the store is not shared.
 * A first connection that fails is retried in the background, like a lost one. */
int cluster_start(struct server *srv, struct cluster **out);
void cluster_free(struct cluster *c);

struct cluster_status {
        bool listening;     /* the listener connection is open */
        int64_t received;   /* notifications received from other nodes */
        int64_t reconnects; /* listener connections opened after the first */
};
void cluster_status(const struct cluster *c, struct cluster_status *out);

/* Acts on one notification payload (exposed for tests). Unknown or malformed
 * payloads are ignored with a debug log: a newer node may send kinds this one
 * does not know. */
void cluster_on_note(struct cluster *c, const char *payload);

#endif
