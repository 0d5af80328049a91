/*
 * node.h: the store as this process opens it: the connections (the data
 * store, the leader lease's own one) and the notification listener of a
 * shared store. The server reaches the store only through core; this is the
 * part of core that is not a transaction step. Opening checks that the
 * backend implements the store interface version this binary was built
 * against (STORE_OPS_VERSION), so a backend built from other sources is
 * refused rather than called through a vtable of another shape.
 */
#ifndef BATON_CORE_NODE_H
#define BATON_CORE_NODE_H

#include "store/store.h"

/* BATON_ESCHEMA (logged) when ops->version is not STORE_OPS_VERSION; else
 * ops->open. *out owned by the caller (node_store_close). */
int node_store_open(const struct store_ops *ops, const struct store_opts *o, struct store **out);
void node_store_close(const struct store_ops *ops, struct store *st);

/* The notification listener of a shared store (store_ops listen_*): opened
 * on a connection of its own; *out owned by the caller (node_listen_close). */
int node_listen_open(const struct store_ops *ops, const struct store_opts *o,
                     struct store_listener **out);
int node_listen_fd(const struct store_ops *ops, struct store_listener *l);
/* Calls fn once per notification received so far; never blocks;
 * BATON_ESTORE once the connection is lost. */
int node_listen_read(const struct store_ops *ops, struct store_listener *l,
                     void (*fn)(void *ctx, const char *payload), void *ctx);
void node_listen_close(const struct store_ops *ops, struct store_listener *l);

#endif
