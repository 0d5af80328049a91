/*
 * settlement.c: seed 000's final-match settlement (DESIGN §10: "the 50k-player
 * settlement scenario"). At the final whistle the producer enqueues one
 * settlement job per player (--players, default 50,000) in batches of 1,000,
 * each with the idempotency key "settle-<match>-<player>", and then sends
 * every batch a second time, as a producer does when its first answers were
 * lost: every job of the second pass must come back as a duplicate. Workers
 * (--workers threads, one connection each) claim up to --claim jobs and
 * settle them in one batched call, with the faults a real fleet meets:
 *
 *  - --fail-pct of the players' first attempts fail with a transient error
 *    and are retried at once;
 *  - --stall-pct of the players' first attempts belong to a worker that
 *    stalls past its lease (those jobs are enqueued with --stall-lease-ms):
 *    it tries to complete them only after the lease ran out, and the server
 *    must refuse every one of those late completions, while another worker
 *    completes the retried attempt;
 *  - after --resend-pct of the settle batches one completion is sent again
 *    (an answer lost on the way back): it must be answered as a repeat and
 *    change nothing.
 *
 * Every request that gets a 503 (store_unavailable after a PostgreSQL lock
 * cycle, queue_full, ...) is sent again after the answer's Retry-After, as a
 * real client does (bench_retry_503: at most 20 times per request, never past
 * --timeout-ms), and so is every settle item refused with such a code (as
 * after a lock cycle, which fails the server's whole store batch); the output
 * counts these retries (retries_503). The server changes nothing when it
 * answers 503, so a resent request is booked like a first one: an enqueue
 * batch resent after a 503 must still find its jobs new, and a completion the
 * ledger sees accepted twice still fails the run. The one answer a resent
 * settle item may get that its first send would not is a lease lost during
 * the wait (the jobs of stalling players have 1 s leases): such items are
 * counted (lease_lost_in_retry), and their players are settled by the
 * attempt the server retries.
 *
 * The ledger counts, per player, the completions the server accepted as new.
 * The run passes when every player's count is exactly 1, the queue shows every
 * job completed and none dead, every duplicate enqueue was recognised, every
 * late completion was refused and every resent one was a repeat. It prints
 * the time from the whistle until the last player was settled, the
 * settlement time of each player (whistle to accepted completion) p50, p95
 * and p99, and the counts above.
 *
 * Assumes a running batond at --url / $BATON_URL (key in $BATON_KEY); it does
 * not start one. With a comma-separated list of nodes the producer talks to
 * the first and worker i to node i + 1, round-robin. The client's clock times everything
 * (monotonic).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define ENQ_BATCH 1000
#define THREADS_MAX 64
#define CLAIM_MAX 1000
#define STALLS_MAX 4096

struct run {
        const char *url;
        char queue[128];
        char match[112];
        int64_t players, claim, fail_pct, stall_pct, stall_lease_ms, resend_pct;
        int64_t t0_ns, deadline_ns;
        atomic_int_fast64_t next; /* producer: players handed out */
        atomic_int *accepted;     /* per player: completions accepted as new */
        int64_t *settled_ns;      /* per player: when (since t0) it was accepted */
        atomic_int_fast64_t done; /* players settled */
        atomic_int_fast64_t enq_new, enq_dup;
        atomic_int_fast64_t transient, stalled, late_refused, late_accepted;
        atomic_int_fast64_t resent, repeats, resend_wrong, settle_errors;
        atomic_int_fast64_t retries_503, lease_lost_in_retry;
        atomic_int failed;
};

/* A stalled attempt: the worker comes back to it after its lease is gone. */
struct stall {
        char id[32];
        char lease[80];
        int64_t due_ns;
};

struct worker {
        pthread_t tid;
        struct run *run;
        int index;
        struct stall *stalls;
        int n_stalls;
        int64_t batches;
        int rc;
};

/* A fixed spread of players over 0..99, so "pct" shares are exact and
 * scattered instead of being the first players. */
static int player_bucket(int64_t player)
{
        return (int)((uint64_t)(player * 2654435761u) % 100u);
}

static bool player_fails(const struct run *r, int64_t player)
{
        return player_bucket(player) < r->fail_pct;
}

static bool player_stalls(const struct run *r, int64_t player)
{
        int b = player_bucket(player);

        return b >= r->fail_pct && b < r->fail_pct + r->stall_pct;
}

static int64_t payload_player(const char *payload)
{
        const char *p = payload ? strstr(payload, "\"player\":") : NULL;

        return p ? strtoll(p + 9, NULL, 10) : -1;
}

/* Counts the 503 retries of one request. */
static void count_retries(struct run *r, int tries)
{
        atomic_fetch_add(&r->retries_503, tries);
}

/* Whether a late or resent completion got an answer (0 or a refusal) rather
 * than a 503 that outlasted its retries or no answer at all. */
static bool answered(const struct baton_client *c, int rc)
{
        int status = baton_client_last_error(c)->http_status;

        return rc == 0 || (status >= 400 && status < 500);
}

/* Enqueues players [first, first+n) as one batch; counts new and duplicate. */
static int enqueue_batch(struct run *r, struct baton_client *c, int64_t first, int64_t n)
{
        struct baton_enqueue_opts o[ENQ_BATCH];
        char payload[ENQ_BATCH][160], idem[ENQ_BATCH][160];
        struct baton_jobs *out = NULL;
        int rc, tries = 0;

        memset(o, 0, sizeof(o));
        for (int64_t i = 0; i < n; i++) {
                int64_t p = first + i;

                snprintf(payload[i], sizeof(payload[i]),
                         "{\"match\":\"%s\",\"player\":%" PRId64 "}", r->match, p);
                snprintf(idem[i], sizeof(idem[i]), "settle-%s-%" PRId64, r->match, p);
                o[i].queue = r->queue;
                o[i].type = "settle_player";
                o[i].payload = payload[i];
                o[i].idempotency_key = idem[i];
                o[i].backoff = "{\"type\":\"immediate\"}";
                o[i].max_attempts = 5;
                o[i].lease_ms = player_stalls(r, p) ? r->stall_lease_ms : 0;
        }
        do
                rc = baton_enqueue_batch(c, o, (size_t)n, &out);
        while (bench_retry_503(c, rc, &tries, r->deadline_ns));
        count_retries(r, tries);
        if (rc) {
                bench_report_error(c, "settlement enqueue", rc);
                return rc;
        }
        for (size_t i = 0; i < out->n; i++)
                atomic_fetch_add(out->v[i].duplicate ? &r->enq_dup : &r->enq_new, 1);
        baton_jobs_free(out);
        return 0;
}

/* The producer: every player once, then (pass 2) every batch again. */
static void *produce_loop(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->run;
        struct baton_client *c = bench_client(r->url);

        if (!c) {
                w->rc = BATON_ENOMEM;
                return NULL;
        }
        for (int pass = 0; pass < 2 && !w->rc; pass++) {
                for (int64_t first = 0; first < r->players && !w->rc; first += ENQ_BATCH) {
                        int64_t n = r->players - first < ENQ_BATCH ? r->players - first : ENQ_BATCH;

                        w->rc = enqueue_batch(r, c, first, n);
                }
        }
        if (w->rc)
                atomic_store(&r->failed, 1);
        baton_client_free(c);
        return NULL;
}

/* Sends late completions whose lease has surely run out; the server must
 * refuse each one (a 503 is retried: it is no refusal). */
static void flush_stalls(struct worker *w, struct baton_client *c, bool all)
{
        struct run *r = w->run;
        int keep = 0;

        for (int i = 0; i < w->n_stalls; i++) {
                struct stall *s = &w->stalls[i];
                struct baton_job *j = NULL;
                int rc, tries = 0;

                if (!all && s->due_ns > now_ns()) {
                        w->stalls[keep++] = *s;
                        continue;
                }
                if (all)
                        sleep_ns(s->due_ns - now_ns());
                do
                        rc = baton_complete(c, s->id, s->lease, "{\"late\":true}", &j);
                while (bench_retry_503(c, rc, &tries, r->deadline_ns));
                count_retries(r, tries);
                if (!answered(c, rc))
                        atomic_fetch_add(&r->settle_errors, 1);
                else
                        atomic_fetch_add(rc ? &r->late_refused : &r->late_accepted, 1);
                baton_job_free(j);
        }
        w->n_stalls = keep;
}

/* Resends the completion of item (already settled by this worker): the
 * server must answer it as a repeat. */
static void resend_one(struct run *r, struct baton_client *c, const struct baton_settle_item *it)
{
        struct baton_job *j = NULL;
        int rc, tries = 0;

        do
                rc = baton_complete(c, it->id, it->lease, it->result, &j);
        while (bench_retry_503(c, rc, &tries, r->deadline_ns));
        count_retries(r, tries);
        atomic_fetch_add(&r->resent, 1);
        atomic_fetch_add(!rc && j && j->repeat ? &r->repeats : &r->resend_wrong, 1);
        baton_job_free(j);
}

/* Decides each claimed job's fate and fills the settle batch; stalled
 * attempts go to the worker's stall list instead. Returns the item count. */
static size_t plan_batch(struct worker *w, struct baton_jobs *got, struct baton_settle_item *items,
                         int64_t *players)
{
        struct run *r = w->run;
        size_t n = 0;

        for (size_t i = 0; i < got->n; i++) {
                struct baton_job *j = &got->v[i];
                int64_t p = payload_player(j->payload);

                if (j->attempt == 1 && p >= 0 && player_stalls(r, p) && w->n_stalls < STALLS_MAX) {
                        struct stall *s = &w->stalls[w->n_stalls++];

                        snprintf(s->id, sizeof(s->id), "%s", j->id);
                        snprintf(s->lease, sizeof(s->lease), "%s", j->lease);
                        s->due_ns = now_ns() + (r->stall_lease_ms + 1500) * 1000000;
                        atomic_fetch_add(&r->stalled, 1);
                        continue;
                }
                memset(&items[n], 0, sizeof(items[n]));
                items[n].id = j->id;
                items[n].lease = j->lease;
                if (j->attempt == 1 && p >= 0 && player_fails(r, p)) {
                        items[n].outcome = BATON_OUTCOME_FAIL;
                        items[n].error = "ledger write timed out";
                        items[n].retry_in_ms = 0;
                } else {
                        items[n].outcome = BATON_OUTCOME_COMPLETE;
                        items[n].result = "{\"points\":3}";
                        items[n].retry_in_ms = -1;
                }
                players[n++] = p;
        }
        return n;
}

/* Books the answers of one settle batch in the ledger, except the items
 * refused with a 503 code (the server changed nothing for them): those move to
 * the front of items and players, to be sent again. retried: these items were
 * sent again after 503s, so a lease may have run out during the waits.
 * Returns how many items moved to the front. */
static size_t book_batch(struct run *r, struct baton_settle_item *items, int64_t *players, size_t n,
                         bool retried)
{
        size_t again = 0;

        for (size_t i = 0; i < n; i++) {
                int64_t p = players[i];

                if (bench_rc_503(items[i].rc)) {
                        items[again] = items[i];
                        players[again++] = p;
                        continue;
                }
                if (retried && (items[i].rc == BATON_EEXPIRED || items[i].rc == BATON_ELEASE)) {
                        atomic_fetch_add(&r->lease_lost_in_retry, 1);
                        continue;
                }
                if (items[i].rc) {
                        /* The first few say why, for whoever reads a failed run. */
                        if (atomic_fetch_add(&r->settle_errors, 1) < 10)
                                fprintf(stderr, "settlement: item %s refused: %s (%s)\n",
                                        items[i].id, items[i].code, baton_strerror(items[i].rc));
                        continue;
                }
                if (items[i].outcome == BATON_OUTCOME_FAIL) {
                        atomic_fetch_add(&r->transient, 1);
                        continue;
                }
                if (p < 0 || p >= r->players) {
                        atomic_fetch_add(&r->settle_errors, 1);
                        continue;
                }
                if (atomic_fetch_add(&r->accepted[p], 1) == 0) {
                        r->settled_ns[p] = now_ns() - r->t0_ns;
                        atomic_fetch_add(&r->done, 1);
                }
        }
        return again;
}

/* Settles n items (players[i] is item i's player) and books the answers. A
 * request answered 503 is sent again, and so are the items refused with a 503
 * code, after the wait of bench_retry_wait, at most BENCH_RETRY_503_MAX times
 * in all. Items that stay refused with a 503 code count as errors. Returns 0
 * or the error of the request or of such an item. items[0] ends up holding an
 * item whose final answer is booked. */
static int settle_batch(struct run *r, struct baton_client *c, struct baton_settle_item *items,
                        int64_t *players, size_t n)
{
        int rc, tries = 0;

        for (;;) {
                rc = baton_settle(c, items, n);
                if (rc) {
                        if (bench_retry_503(c, rc, &tries, r->deadline_ns))
                                continue;
                        bench_report_error(c, "settlement settle", rc);
                        break;
                }
                n = book_batch(r, items, players, n, tries > 0);
                if (n == 0)
                        break;
                if (!bench_retry_wait(-1, &tries, r->deadline_ns)) {
                        rc = items[0].rc;
                        atomic_fetch_add(&r->settle_errors, (int_fast64_t)n);
                        fprintf(stderr, "settlement: %zu items still refused: %s (%s)\n", n,
                                items[0].code, baton_strerror(rc));
                        break;
                }
        }
        count_retries(r, tries);
        return rc;
}

static void *work_loop(void *arg)
{
        struct worker *w = arg;
        struct run *r = w->run;
        struct baton_client *c = bench_client_at(r->url, w->index + 1);
        struct baton_claim_opts co = {.max = (int)r->claim, .wait_ms = 500};
        struct baton_settle_item items[CLAIM_MAX];
        int64_t players[CLAIM_MAX];
        char name[32];

        snprintf(name, sizeof(name), "settler-%d", w->index);
        co.worker = name;
        if (!c) {
                w->rc = BATON_ENOMEM;
                return NULL;
        }
        while (!atomic_load(&r->failed) && atomic_load(&r->done) < r->players &&
               now_ns() < r->deadline_ns) {
                struct baton_jobs *got = NULL;
                size_t n;
                int rc, tries = 0;

                flush_stalls(w, c, false);
                do
                        rc = baton_claim(c, r->queue, &co, &got);
                while (bench_retry_503(c, rc, &tries, r->deadline_ns));
                count_retries(r, tries);
                if (rc) {
                        bench_report_error(c, "settlement claim", rc);
                        w->rc = rc;
                        break;
                }
                n = plan_batch(w, got, items, players);
                if (n > 0) {
                        rc = settle_batch(r, c, items, players, n);
                        if (rc)
                                w->rc = rc;
                        else if ((w->batches++ * 7919 + w->index) % 100 < r->resend_pct &&
                                 items[0].outcome == BATON_OUTCOME_COMPLETE && items[0].rc == 0)
                                resend_one(r, c, &items[0]);
                }
                baton_jobs_free(got);
        }
        flush_stalls(w, c, true);
        if (w->rc)
                atomic_store(&r->failed, 1);
        baton_client_free(c);
        return NULL;
}

/* The queue's counts after the run: every job completed, none dead. */
static int check_queue(struct run *r, int64_t *completed, int64_t *dead)
{
        struct baton_client *c = bench_client(r->url);
        struct baton_queue *q = NULL;
        int rc, tries = 0;

        /* The run's deadline may have passed: the count still gets its retries. */
        do
                rc = baton_queue_get(c, r->queue, &q);
        while (bench_retry_503(c, rc, &tries, now_ns() + 30 * 1000000000LL));
        count_retries(r, tries);
        if (!rc) {
                *completed = q->counts.completed;
                *dead = q->counts.dead;
        } else {
                bench_report_error(c, "settlement queue", rc);
        }
        baton_queue_free(q);
        baton_client_free(c);
        return rc;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *sorted, int64_t n, double q)
{
        int64_t i = (int64_t)(q * (double)(n - 1));

        return ns_to_ms(sorted[i]);
}

/* Prints the figures and the checks; returns 0 when every check passed. */
static int report(struct run *r, int64_t wall_ns)
{
        int64_t once = 0, never = 0, twice = 0, completed = -1, dead = -1, last = 0;
        int rc = check_queue(r, &completed, &dead);

        for (int64_t p = 0; p < r->players; p++) {
                int a = atomic_load(&r->accepted[p]);

                once += a == 1;
                never += a == 0;
                twice += a > 1;
                last = r->settled_ns[p] > last ? r->settled_ns[p] : last;
        }
        qsort(r->settled_ns, (size_t)r->players, sizeof(int64_t), cmp_i64);
        printf("settlement players=%" PRId64 " settled_once=%" PRId64 " never=%" PRId64
               " twice_or_more=%" PRId64 " queue_completed=%" PRId64 " queue_dead=%" PRId64
               " retries_503=%" PRId64 "\n",
               r->players, once, never, twice, completed, dead, atomic_load(&r->retries_503));
        printf(
            "settlement enqueue new=%" PRId64 " duplicate=%" PRId64 " transient_failures=%" PRId64
            " stalled=%" PRId64 " late_refused=%" PRId64 " late_accepted=%" PRId64
            " resent=%" PRId64 " repeats=%" PRId64 " resend_wrong=%" PRId64 " item_errors=%" PRId64
            " lease_lost_in_retry=%" PRId64 "\n",
            atomic_load(&r->enq_new), atomic_load(&r->enq_dup), atomic_load(&r->transient),
            atomic_load(&r->stalled), atomic_load(&r->late_refused), atomic_load(&r->late_accepted),
            atomic_load(&r->resent), atomic_load(&r->repeats), atomic_load(&r->resend_wrong),
            atomic_load(&r->settle_errors), atomic_load(&r->lease_lost_in_retry));
        printf("settlement whistle_to_last=%.3f s (%.0f players/s) settle_time p50=%.1f ms "
               "p95=%.1f ms p99=%.1f ms run=%.3f s\n",
               (double)last / 1e9, last > 0 ? (double)r->players * 1e9 / (double)last : 0.0,
               pct_ms(r->settled_ns, r->players, 0.50), pct_ms(r->settled_ns, r->players, 0.95),
               pct_ms(r->settled_ns, r->players, 0.99), (double)wall_ns / 1e9);
        if (rc || once != r->players || completed != r->players || dead != 0 ||
            atomic_load(&r->enq_new) != r->players || atomic_load(&r->enq_dup) != r->players ||
            atomic_load(&r->late_accepted) != 0 || atomic_load(&r->resend_wrong) != 0 ||
            atomic_load(&r->settle_errors) != 0) {
                printf("settlement FAILED: a check above does not hold\n");
                return 1;
        }
        printf("settlement ok: every player settled exactly once\n");
        return 0;
}

static int run_threads(struct worker *w, int n, struct run *r, void *(*fn)(void *))
{
        int rc = 0;

        for (int i = 0; i < n; i++) {
                w[i].run = r;
                w[i].index = i;
                if (pthread_create(&w[i].tid, NULL, fn, &w[i]))
                        return BATON_ENOMEM;
        }
        for (int i = 0; i < n; i++) {
                pthread_join(w[i].tid, NULL);
                if (w[i].rc && !rc)
                        rc = w[i].rc;
        }
        return rc;
}

/* Runs the producer and the workers at once: workers start claiming while
 * the whistle's batches are still arriving, as they would in production. */
static int run_all(struct run *r, int64_t workers)
{
        struct worker *w = calloc((size_t)workers + 1, sizeof(*w));
        int rc = BATON_ENOMEM;

        if (!w)
                return rc;
        for (int64_t i = 0; i < workers; i++) {
                w[i + 1].stalls = calloc(STALLS_MAX, sizeof(struct stall));
                if (!w[i + 1].stalls)
                        goto out;
        }
        w[0].run = r;
        if (pthread_create(&w[0].tid, NULL, produce_loop, &w[0]))
                goto out;
        rc = run_threads(w + 1, (int)workers, r, work_loop);
        pthread_join(w[0].tid, NULL);
        if (!rc)
                rc = w[0].rc;
out:
        for (int64_t i = 0; i < workers; i++)
                free(w[i + 1].stalls);
        free(w);
        return rc;
}

int main(int argc, char **argv)
{
        const char *url = NULL;
        int64_t players = 50000, workers = 4, claim = 100, fail_pct = 2, stall_pct = 1;
        int64_t stall_lease_ms = 1000, resend_pct = 5, timeout_ms = 300000, wall_ns;
        const struct flag flags[] = {
            {"--url", FLAG_STR, &url, "server URL (else $BATON_URL)"},
            {"--players", FLAG_I64, &players, "players to settle (one job each)"},
            {"--workers", FLAG_I64, &workers, "worker threads, one connection each"},
            {"--claim", FLAG_I64, &claim, "jobs per claim (and per settle batch)"},
            {"--fail-pct", FLAG_I64, &fail_pct, "share of first attempts failing transiently"},
            {"--stall-pct", FLAG_I64, &stall_pct,
             "share of first attempts stalling past the lease"},
            {"--stall-lease-ms", FLAG_I64, &stall_lease_ms, "lease of the jobs that stall"},
            {"--resend-pct", FLAG_I64, &resend_pct,
             "share of settle batches with a resent completion"},
            {"--timeout-ms", FLAG_I64, &timeout_ms, "give up after this long"},
        };
        struct run r;
        int rc;

        if (flags_parse(argc, argv, "final-match settlement, exactly once per player", flags,
                        (int)(sizeof(flags) / sizeof(flags[0]))))
                return 2;
        if (players <= 0 || workers <= 0 || workers > THREADS_MAX || claim <= 0 ||
            claim > CLAIM_MAX || fail_pct < 0 || stall_pct < 0 || fail_pct + stall_pct > 100 ||
            resend_pct < 0 || resend_pct > 100 || stall_lease_ms < 1000 || timeout_ms <= 0) {
                fprintf(stderr, "settlement: invalid flags\n");
                return 2;
        }
        memset(&r, 0, sizeof(r));
        r.url = bench_url(url);
        r.players = players;
        r.claim = claim;
        r.fail_pct = fail_pct;
        r.stall_pct = stall_pct;
        r.stall_lease_ms = stall_lease_ms;
        r.resend_pct = resend_pct;
        bench_queue("bench-settle", r.queue, sizeof(r.queue));
        snprintf(r.match, sizeof(r.match), "final-%.90s", r.queue + strlen("bench-settle-"));
        r.accepted = calloc((size_t)players, sizeof(*r.accepted));
        r.settled_ns = calloc((size_t)players, sizeof(*r.settled_ns));
        if (!r.accepted || !r.settled_ns) {
                fprintf(stderr, "settlement: out of memory\n");
                return 1;
        }
        r.t0_ns = now_ns();
        r.deadline_ns = r.t0_ns + timeout_ms * 1000000;
        rc = run_all(&r, workers);
        wall_ns = now_ns() - r.t0_ns;
        if (rc)
                fprintf(stderr, "settlement: the run stopped early (%s)\n", baton_strerror(rc));
        rc = report(&r, wall_ns) || rc;
        free(r.accepted);
        free(r.settled_ns);
        return rc ? 1 : 0;
}
