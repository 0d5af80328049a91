/*
 * server.h: the state batond's loop thread shares between its modules (HTTP,
 * handlers, waiters, scheduler, metrics) and the lifecycle entry point.
 *
 * Everything here is touched only on the loop thread, except what the exec
 * hands to the store thread (the ops themselves). One struct server exists per
 * process; it lives from server_run's start to its end.
 */
#ifndef BATON_SERVER_SERVER_H
#define BATON_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/errors.h"
#include "core/exec.h"
#include "core/limits.h"
#include "store/store.h"

#ifndef BATOND_VERSION
#define BATOND_VERSION BATON_VERSION
#endif

/* The tenant created at first start; its admin keys may act on every tenant,
 * and every request acts as it under --insecure-no-auth. */
#define SERVER_TENANT "default"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct config;
struct event_base;
struct http;
struct waiters;
struct sched;
struct metrics;
struct keyring;
struct sessring;
struct cluster;

struct server {
        struct event_base *base;
        const struct config *cfg;
        const struct limits *limits;
        const struct clock *clock;
        struct store *st;
        const struct store_ops *ops;
        struct store_opts store_opts; /* what the store was opened with (listeners reuse it) */
        struct exec *exec;            /* NULL once exec_stop has run */
        struct event *exec_wake;      /* the loop's side of exec's wake callback */
        /* Shared store: the leader lease's own connection and executor
         * (sched.c), so that renewals never wait behind data batches and
         * the row locks they wait for; NULL on a store one process owns. */
        struct store *lease_st;
        struct exec *lease_exec;
        struct event *lease_exec_wake;
        struct http *http;
        struct waiters *waiters;
        struct sched *sched;
        struct metrics *metrics;
        struct keyring *keyring;   /* every API key (keyring.h) */
        struct sessring *sessring; /* every dashboard session (sessring.h) */
        struct cluster *cluster;   /* notifications from other nodes; NULL on one node */
        char node_id[129];         /* --node-id, or the one kept in <data>/node-id */
        /* Refusals counted while their audit op is in flight (api_audit.c). */
        struct audit_pending *audit_pending;
        char app_name[64];       /* PostgreSQL application_name of the store session */
        char lease_app_name[64]; /* ... and of the lease session */
        bool stopping;           /* SIGTERM/SIGINT seen: answer, do not start new work */
};

/* Frees *ev if it is set and clears it (loop thread). */
void server_event_drop(struct event **ev);
/* Hands op to the store thread. Returns 0, or BATON_ESHUTDOWN when the exec has
 * already been stopped (op->done will then never run: the caller answers). */
int server_submit(struct server *srv, struct exec_op *op);
/* Ops server_submit queues between these two run in one transaction
 * (exec_hold). Loop thread; every hold is released before it returns to the
 * loop. */
void server_hold(struct server *srv);
void server_release(struct server *srv);
/* server_submit for lease ops: to the lease executor when there is one. */
int server_submit_lease(struct server *srv, struct exec_op *op);

/* Runs batond with cfg until a signal stops it. Returns the process exit code. */
int server_run(const struct config *cfg);

#endif
