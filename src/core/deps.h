/*
 * deps.h: job dependencies and flows (DESIGN §3 "Dependencies and flows").
 *
 * A job enqueued with depends_on (at most DEPS_MAX parent ids of its own
 * tenant) stays pending until every parent is completed, then becomes ready.
 * A parent that ends dead or cancelled cancels the child (cancel_reason
 * parent_failed, and so on down the graph) unless the child asked for
 * on_parent_failure "run": then it runs once every parent is terminal. The
 * state changes themselves live in jobs.c, next to the single place where
 * jobs become terminal; this file holds the pure helpers (the parent list as
 * JSON text, the topological order of a flow) and the flow transactions.
 *
 * The cascade (a job ends, its children are re-decided, a child cancelled
 * ends in turn, and so on down the graph) runs on an explicit work list, never
 * by recursion, and one transaction takes at most DEPS_CASCADE_STEP steps of
 * it: a step reads a batch of one ended job's children or re-decides one
 * child. What is left when the budget is spent goes to the store's durable
 * work list (store.h version 9, dep_work) and the leader's ticks continue it
 * in bounded steps, so a cascade over a million descendants never holds the
 * store thread for long, never grows the stack, and survives a crash: the
 * transaction that ended the root commits its first steps together with the
 * rows saying where to go on.
 *
 * A flow is a DAG of jobs enqueued in one transaction: every job or none.
 * Its jobs name each other by ref; depends_on may also name existing job ids.
 *
 * Errors: 0 or a negative enum baton_err. Ownership as in jobs.h.
 */
#ifndef BATON_CORE_DEPS_H
#define BATON_CORE_DEPS_H

#include <stdint.h>

#include "core/jobs.h"
#include "store/store.h"

/* Most parents one job may name. */
#define DEPS_MAX 100

/* Steps of the dependency cascade one transaction takes (see above): with
 * DEPS_MAX parent reads per re-decided child at worst, a step stays a few
 * indexed reads and writes, so a full budget is tens of milliseconds on
 * SQLite. More is continued by the leader (docs/api.md, dependencies). */
#define DEPS_CASCADE_STEP 1000
/* Rows of the durable work list one transaction takes up at most. */
#define DEPS_WORK_LOAD 256
/* Children of an ended job read per store call. */
#define DEPS_CHILD_BATCH 64

/* One entry of the cascade's work list: job id has ended (in state, or -1
 * when the entry came from the store and the state is read again) and its
 * children with ids > after_id are still to be re-decided. durable: the entry
 * came from the store's dep_work row, which said from_after. */
struct deps_item {
        int64_t id;
        int64_t after_id;
        int64_t from_after;
        int state;
        bool durable;
};

/* The work list of one cascade: a stack of at most cap entries (the deepest
 * entry on top, so a chain or a fan-out keeps it short). An entry pushed
 * when it is full goes straight to the store. Owned by the deps_cascade call
 * that drains it; tx->deps_work points at it meanwhile. */
struct deps_work {
        struct deps_item *v;
        int n;
        int cap;
};

/* Re-decides one child (jobs.c resolve_child): reads it and, if it is still
 * pending, moves it on from its parents' stored states. parent_id is the
 * ended parent the cascade comes from, in parent_state (its final state, so
 * it need not be read again; -1: read it). A child that ends goes through
 * become_terminal, which calls deps_cascade again. */
typedef int (*deps_resolve_fn)(struct txn *tx, int64_t child_id, int64_t parent_id,
                               int parent_state);

enum parent_policy {
        PARENT_FAIL_CANCEL = 0, /* a failed parent cancels the child (default) */
        PARENT_FAIL_RUN = 1     /* the child runs once every parent is terminal */
};

/* "cancel" / "run"; parse returns -1 when unknown. */
const char *parent_policy_name(int p);
int parent_policy_parse(const char *s);

/* Writes ids as JSON text ["12","13"] into *out (caller frees). */
int deps_ids_format(const int64_t *ids, int n, char **out);
/* Reads the text deps_ids_format wrote: *ids is malloc'd (caller frees), *n
 * its length. NULL or unreadable text gives 0 ids. */
int deps_ids_parse(const char *text, int64_t **ids, int *n);
/* Fills j->parents with the JSON text [{"id", "result"}] of j's parents
 * (ids as decimal strings, each result as stored, null for a parent gone),
 * for the answer of a claim. BATON_ENOMEM or the store's error. */
int deps_parents_json(struct txn *tx, struct job *j);

/* Orders the n nodes of a graph so that each comes after its parents:
 * parents[i] lists n_parents[i] node indexes. Fills order (n entries).
 * BATON_EINVAL when there is a cycle: then in_cycle[i] is set for every node
 * on a cycle or behind one (in_cycle must hold n entries). */
int deps_order(int n, int *const *parents, const int *n_parents, int *order, bool *in_cycle);

/* One job of a flow: its enqueue request (which owns depends_on once the
 * flow op fills it), its ref, and its parents: dep_ref[k] >= 0 names the item
 * whose job is parent k, -1 means the existing job dep_id[k]. */
struct flow_item {
        struct enqueue_req req;
        char *ref;
        int n_deps;
        int *dep_ref;
        int64_t *dep_id;
};

struct flow_req {
        const char *tenant;
        const char *request_id;
        int n;
        struct flow_item *items;
        int *order; /* deps_order of the items */
};

struct flow_res {
        struct flow_rec flow;
        struct enqueue_res *jobs; /* n entries, in item order; caller allocates */
        int failed;               /* item refused, -1 if none */
        int bad_dep;              /* with failed: its depends_on entry refused, or -1 */
};

/* Inserts the flow and its jobs in order. BATON_EINVAL with res->failed and
 * res->bad_dep: a depends_on id is not a job of the tenant (400). Any error
 * rolls the whole flow back (the op's savepoint). */
int flow_create(struct txn *tx, struct flow_req *req, struct flow_res *res);
/* Which jobs of a flow a read keeps, and what it saw of all of them. */
struct flow_page {
        int64_t after_id; /* in: keep only jobs with a greater id (0 = all) */
        size_t bytes_max; /* in: 0, or the byte budget of the kept jobs */
        bool more;        /* out: a job after the kept ones was left out */
        /* out: over every job of the flow, kept or not */
        bool all_terminal;
        bool all_completed;
};

/* Reads a flow and its jobs (ascending id). BATON_ENOTFOUND (404). With
 * page (may be NULL): keeps the jobs after page->after_id while their
 * job_wire_bytes fit page->bytes_max (the first one always), so a flow of big
 * jobs is answered in pages; the others are read one at a time, looked at
 * for the flow's state and freed. */
int flow_read_page(struct txn *tx, const char *tenant, int64_t id, struct flow_page *page,
                   struct flow_rec *flow, struct job_vec *jobs);
/* One job of flow_read_page: read, judged, kept or freed; *used counts the
 * kept jobs' bytes. */
int flow_read_job(struct txn *tx, const char *tenant, int64_t id, struct flow_page *page,
                  size_t *used, struct job_vec *jobs);
int flow_read(struct txn *tx, const char *tenant, int64_t id, struct flow_rec *flow,
              struct job_vec *jobs);

void flow_item_free(struct flow_item *it);

/* Job j has just become terminal (its final state is in *j, not yet written
 * by the caller): its children must learn of it. Inside a cascade (tx
 * ->deps_work set) the job is only pushed on the work list. Otherwise, when j
 * has children, j is written (so that they read its final state) and the
 * cascade runs within the transaction's budget; what is left is written to
 * the store's work list and a deadline of now is noted, so the leader goes on
 * at once. */
/* The work list is the call's own (heap, freed before it returns); nothing
 * it allocates outlives it. */
int deps_cascade(struct txn *tx, struct job *j, deps_resolve_fn resolve);
/* Leader tick: continues the store's work list within what is left of the
 * transaction's budget. *taken: rows taken up; *more: work is left. */
int deps_cascade_resume(struct txn *tx, deps_resolve_fn resolve, int *taken, bool *more);

#endif
