/*
 * node.c: opening the store and its listener (see node.h). Called on the
 * loop thread at start and stop, and on the store thread for the listener.
 */
#include "core/node.h"

#include "common/errors.h"
#include "common/log.h"

int node_store_open(const struct store_ops *ops, const struct store_opts *o, struct store **out)
{
        if (ops->version != STORE_OPS_VERSION) {
                log_error("store", "the %s backend implements store interface version %d, not %d",
                          ops->name, ops->version, STORE_OPS_VERSION);
                return BATON_ESCHEMA;
        }
        return ops->open(o, out);
}

void node_store_close(const struct store_ops *ops, struct store *st)
{
        if (st)
                ops->close(st);
}

int node_listen_open(const struct store_ops *ops, const struct store_opts *o,
                     struct store_listener **out)
{
        if (!ops->listen_open)
                return BATON_EINVAL;
        return ops->listen_open(o, out);
}

int node_listen_fd(const struct store_ops *ops, struct store_listener *l)
{
        return ops->listen_fd(l);
}

int node_listen_read(const struct store_ops *ops, struct store_listener *l,
                     void (*fn)(void *ctx, const char *payload), void *ctx)
{
        return ops->listen_read(l, fn, ctx);
}

void node_listen_close(const struct store_ops *ops, struct store_listener *l)
{
        if (l)
                ops->listen_close(l);
}
