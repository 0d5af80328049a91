/*
 * cluster.c: the notification listener of a node sharing its store (see
 * cluster.h for what each notification does).
 *
 * Workload: one notification per queue per commit batch on every node, a
 * few per batch of settles, one per deadline change; parsing is a scan of a
 * short line. Key reloads are rare (a key changed) and go through the store
 * thread like any read. Assumptions: payloads are the lines txn_notify
 * writes; anything else is ignored, so nodes of different versions can share
 * a store during a rolling upgrade. A node hears its own notifications too
 * (the listener is a connection of its own) and skips them by the origin
 * field: its own effects hook has already acted.
 */
#include "server/cluster.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"
#include "core/keys.h"
#include "core/node.h"
#include "core/sessions.h"
#include "server/config.h"
#include "server/keyring.h"
#include "server/sched.h"
#include "server/sessring.h"
#include "server/server.h"
#include "server/waiters.h"

#define CLUSTER_BACKOFF_MIN_MS 100
#define CLUSTER_BACKOFF_MAX_MS 5000
#define CLUSTER_KEY_PAGE 500

struct cluster {
        struct server *srv;
        struct store_listener *l; /* NULL while disconnected */
        struct event *read_ev;
        struct event *retry_ev;
        int64_t backoff_ms;
        int64_t received;
        int64_t opened;
        bool opening; /* an open_op is in flight */
};

/* ---- key reloads ---- */

struct key_op {
        struct exec_op op;
        struct server *srv;
        char *id;             /* one key; NULL = every key */
        struct key_rec *keys; /* what was read */
        int n;
        /* The dashboard sessions of those keys (core/sessions.h), ordered by
         * key id: a key's note also stands for a change of its sessions. */
        struct session_rec *sessions;
        int sessions_n;
};

static void key_op_free(struct key_op *k)
{
        session_recs_free(k->sessions, k->sessions_n);
        key_recs_free(k->keys, k->n);
        free(k->id);
        free(k);
}

/* Appends a page to k->keys (the page array is freed). */
static int key_append(struct key_op *k, struct key_rec *page, int n)
{
        struct key_rec *v = realloc(k->keys, (size_t)(k->n + n + 1) * sizeof(*v));

        if (!v) {
                key_recs_free(page, n);
                return BATON_ENOMEM;
        }
        if (n > 0)
                memcpy(&v[k->n], page, (size_t)n * sizeof(*page));
        k->keys = v;
        k->n += n;
        free(page);
        return 0;
}

/* Every session, into k->sessions (pages of CLUSTER_KEY_PAGE). */
static int sessions_all(struct txn *tx, struct key_op *k)
{
        for (;;) {
                const struct session_rec *last =
                    k->sessions_n ? &k->sessions[k->sessions_n - 1] : NULL;
                struct session_rec *page = NULL, *v;
                int n = 0;
                int rc = sessions_load(tx, last, CLUSTER_KEY_PAGE, &page, &n);

                if (rc) {
                        session_recs_free(page, n);
                        return rc;
                }
                v = realloc(k->sessions, (size_t)(k->sessions_n + n + 1) * sizeof(*v));
                if (!v) {
                        session_recs_free(page, n);
                        return BATON_ENOMEM;
                }
                if (n > 0)
                        memcpy(&v[k->sessions_n], page, (size_t)n * sizeof(*page));
                free(page);
                k->sessions = v;
                k->sessions_n += n;
                if (n < CLUSTER_KEY_PAGE)
                        return 0;
        }
}

/* Puts the sessions read into the session table: a key read without a row
 * has none left, and each key's run of rows replaces what the table holds
 * of that key. The keys without rows go first: replacing a run takes its
 * rows' strings. */
static void sessions_put(struct key_op *k)
{
        int i = 0;

        for (int a = 0; a < k->n; a++) {
                bool seen = false;
                if (!k->keys[a].id)
                        continue;
                for (int b = 0; b < k->sessions_n && !seen; b++)
                        seen = k->sessions[b].key_id &&
                               strcmp(k->sessions[b].key_id, k->keys[a].id) == 0;
                if (!seen)
                        sessring_replace_key(k->srv->sessring, k->keys[a].id, NULL, 0);
        }
        while (i < k->sessions_n) {
                int j = i;
                while (j < k->sessions_n &&
                       strcmp(k->sessions[j].key_id, k->sessions[i].key_id) == 0)
                        j++;
                if (sessring_replace_key(k->srv->sessring, k->sessions[i].key_id, &k->sessions[i],
                                         j - i) != 0)
                        log_error("cluster", "out of memory reloading the sessions of a key");
                i = j;
        }
}

static int key_fn(struct txn *tx, struct exec_op *op)
{
        struct key_op *k = container_of(op, struct key_op, op);
        const char *after = NULL;
        int rc;

        if (k->id) {
                struct key_rec *one = calloc(1, sizeof(*one));
                if (!one)
                        return BATON_ENOMEM;
                rc = keys_get(tx, NULL, k->id, one);
                if (rc) {
                        free(one);
                        return rc;
                }
                rc = key_append(k, one, 1);
                return rc ? rc : sessions_of_key(tx, k->id, &k->sessions, &k->sessions_n);
        }
        rc = sessions_all(tx, k);
        if (rc)
                return rc;
        for (;;) {
                struct key_rec *page = NULL;
                int n = 0;
                rc = keys_load(tx, after, CLUSTER_KEY_PAGE, &page, &n);
                if (!rc)
                        rc = key_append(k, page, n);
                else
                        key_recs_free(page, n);
                if (rc || n < CLUSTER_KEY_PAGE)
                        return rc;
                after = k->keys[k->n - 1].id;
        }
}

static void key_done(struct exec_op *op)
{
        struct key_op *k = container_of(op, struct key_op, op);

        if (op->rc && op->rc != BATON_ESHUTDOWN)
                log_warn("cluster", "reloading %s failed: %s", k->id ? k->id : "the keys",
                         baton_strerror(op->rc));
        /* The sessions first: keyring_put takes the keys' strings. */
        if (!op->rc)
                sessions_put(k);
        for (int i = 0; !op->rc && i < k->n; i++)
                if (keyring_put(k->srv->keyring, &k->keys[i]) != 0)
                        log_error("cluster", "key %s changed in the store but not in memory",
                                  k->keys[i].id ? k->keys[i].id : "?");
        key_op_free(k);
}

/* Reads key id (NULL: every key) from the store and puts it in the keyring. */
static void reload_keys(struct cluster *c, const char *id)
{
        struct key_op *k = calloc(1, sizeof(*k));

        if (!k || (id && !(k->id = strdup(id)))) {
                log_error("cluster", "out of memory reloading a key");
                free(k);
                return;
        }
        k->srv = c->srv;
        k->op.fn = key_fn;
        k->op.done = key_done;
        if (server_submit(c->srv, &k->op) != 0)
                key_op_free(k);
}

/* ---- notifications ---- */

/* Splits the next tab-separated field off *p (modifies the buffer). */
static char *field(char **p)
{
        char *f = *p, *tab;

        if (!f)
                return NULL;
        tab = strchr(f, '\t');
        if (tab) {
                *tab = 0;
                *p = tab + 1;
        } else {
                *p = NULL;
        }
        return f;
}

static void wake_jobs(struct cluster *c, const char *list)
{
        const char *p = list;

        while (*p) {
                char *end = NULL;
                long long id = strtoll(p, &end, 10);
                if (end == p)
                        return;
                if (id > 0)
                        waiters_wake_job(c->srv->waiters, id);
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',')
                        return;
        }
}

void cluster_on_note(struct cluster *c, const char *payload)
{
        char buf[TXN_NOTE_MAX + 1];
        char *p = buf, *kind, *origin, *a, *b;

        if (strlen(payload) > TXN_NOTE_MAX)
                return;
        memcpy(buf, payload, strlen(payload) + 1);
        kind = field(&p);
        origin = field(&p);
        if (!kind || !origin || strlen(kind) != 1 || !p)
                goto bad;
        if (strcmp(origin, c->srv->node_id) == 0)
                return;
        c->received++;
        a = field(&p);
        switch (kind[0]) {
        case 'r':
                b = field(&p);
                if (!b || p)
                        goto bad;
                waiters_wake_queue(c->srv->waiters, a, b);
                return;
        case 't':
                wake_jobs(c, a);
                return;
        case 'd':
                sched_arm(c->srv->sched, strtoll(a, NULL, 10));
                return;
        case 'k':
                reload_keys(c, a);
                return;
        case 'l':
                /* A leader released its lease (shutdown): take over now. */
                sched_poke(c->srv->sched);
                return;
        default:
                break;
        }
bad:
        log_debug("cluster", "ignoring notification '%.80s'", payload);
}

static void on_note(void *ctx, const char *payload)
{
        cluster_on_note(ctx, payload);
}

/* ---- the listener connection ---- */

static void schedule_retry(struct cluster *c)
{
        struct timeval tv = {(time_t)(c->backoff_ms / 1000),
                             (suseconds_t)(c->backoff_ms % 1000) * 1000};

        event_add(c->retry_ev, &tv);
        c->backoff_ms =
            c->backoff_ms * 2 > CLUSTER_BACKOFF_MAX_MS ? CLUSTER_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void drop(struct cluster *c)
{
        server_event_drop(&c->read_ev);
        if (c->l)
                node_listen_close(c->srv->ops, c->l);
        c->l = NULL;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
        struct cluster *c = arg;
        int rc;

        (void)fd, (void)what;
        rc = node_listen_read(c->srv->ops, c->l, on_note, c);
        if (!rc)
                return;
        log_warn("cluster", "lost the notification connection (%s); reconnecting",
                 baton_strerror(rc));
        drop(c);
        if (!c->srv->stopping)
                schedule_retry(c);
}

/* Installs a listener just opened; catches up with what may have been
 * missed since the previous one. */
static void install(struct cluster *c, struct store_listener *l)
{
        struct server *srv = c->srv;

        c->l = l;
        c->read_ev =
            event_new(srv->base, node_listen_fd(srv->ops, c->l), EV_READ | EV_PERSIST, on_read, c);
        if (!c->read_ev || event_add(c->read_ev, NULL) != 0) {
                drop(c);
                log_error("cluster", "cannot watch the notification connection (out of memory)");
                schedule_retry(c);
                return;
        }
        c->backoff_ms = CLUSTER_BACKOFF_MIN_MS;
        if (c->opened++ > 0)
                log_info("cluster", "listening for notifications again");
        /* Catch up with what was committed before LISTEN took effect (also at
         * the first open: a key created between the start's key load and now
         * would otherwise stay unknown here). Reads submitted now see it all;
         * anything later arrives as a notification. */
        waiters_recheck_all(srv->waiters);
        reload_keys(c, NULL);
        sched_arm(srv->sched, clock_wall_ms(srv->clock));
}

/* The listener is opened on the store thread, not here: connecting may block
 * (a host that does not answer) and the loop must not; and when the store
 * itself cannot begin a transaction there is no point in trying. */
struct open_op {
        struct exec_op op;
        struct cluster *c;
        struct store_listener *l;
        int rc;
};

static int open_fn(struct txn *tx, struct exec_op *op)
{
        struct open_op *o = container_of(op, struct open_op, op);

        (void)tx;
        o->rc = node_listen_open(o->c->srv->ops, &o->c->srv->store_opts, &o->l);
        return 0;
}

static void open_done(struct exec_op *op)
{
        struct open_op *o = container_of(op, struct open_op, op);
        struct cluster *c = o->c;
        int rc = op->rc ? op->rc : o->rc;

        c->opening = false;
        if (!rc && !c->srv->stopping) {
                install(c, o->l);
        } else {
                if (o->l)
                        node_listen_close(c->srv->ops, o->l);
                if (!c->srv->stopping) {
                        log_warn("cluster",
                                 "cannot listen for notifications (%s); retrying in %lld ms",
                                 baton_strerror(rc), (long long)c->backoff_ms);
                        schedule_retry(c);
                }
        }
        free(o);
}

static void open_listener(struct cluster *c)
{
        struct open_op *o = calloc(1, sizeof(*o));

        if (!o) {
                schedule_retry(c);
                return;
        }
        o->c = c;
        o->op.fn = open_fn;
        o->op.done = open_done;
        c->opening = true;
        if (server_submit(c->srv, &o->op) != 0) {
                c->opening = false;
                free(o);
        }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
        struct cluster *c = arg;

        (void)fd, (void)what;
        if (!c->srv->stopping)
                open_listener(c);
}

int cluster_start(struct server *srv, struct cluster **out)
{
        struct cluster *c;

        *out = NULL;
        if (!srv->ops->shared || !srv->ops->listen_open)
                return 0;
        c = calloc(1, sizeof(*c));
        if (!c)
                return BATON_ENOMEM;
        c->srv = srv;
        c->backoff_ms = CLUSTER_BACKOFF_MIN_MS;
        c->retry_ev = evtimer_new(srv->base, on_retry, c);
        if (!c->retry_ev) {
                free(c);
                return BATON_ENOMEM;
        }
        open_listener(c);
        *out = c;
        return 0;
}

void cluster_free(struct cluster *c)
{
        if (!c)
                return;
        drop(c);
        event_free(c->retry_ev);
        free(c);
}

void cluster_status(const struct cluster *c, struct cluster_status *out)
{
        memset(out, 0, sizeof(*out));
        if (!c)
                return;
        out->listening = c->l != NULL;
        out->received = c->received;
        out->reconnects = c->opened > 0 ? c->opened - 1 : 0;
}
