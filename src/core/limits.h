/*
 * limits.h: every bound the server enforces, with its default. The server fills
 * one struct limits from flags and environment at start (server/config.c) and
 * never changes it afterwards, so every thread reads it without locks.
 * docs/api.md lists each limit and the error code it answers with.
 */
#ifndef BATON_CORE_LIMITS_H
#define BATON_CORE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct limits {
        size_t body_max_bytes;    /* request body: 413 body_too_large */
        size_t payload_max_bytes; /* one job's payload: 413 payload_too_large */
        size_t result_max_bytes;  /* one job's result: 413 result_too_large */
        size_t error_max_bytes;   /* failure message: 413 error_too_large */
        size_t name_max;          /* queue and type names: 400 name_too_long */
        size_t key_max;           /* idempotency_key, key, request ids: 400 key_too_long */
        int batch_max;            /* jobs per enqueue / items per settle: 413 batch_too_large */
        int claim_max;            /* "max" of one claim: 400 max_out_of_range */
        int list_max;             /* "limit" of a list: 400 limit_out_of_range */
        int64_t wait_max_ms;      /* long-poll wait: 400 wait_ms_out_of_range */
        int64_t lease_min_ms;     /* 400 lease_ms_out_of_range */
        int64_t lease_max_ms;
        int64_t lease_default_ms;
        int64_t delay_max_ms; /* delay_ms / run_at distance: 400 delay_ms_out_of_range */
        int max_attempts_max; /* 400 max_attempts_out_of_range */
        int max_attempts_default;
        int64_t backoff_max_ms; /* bound on backoff base_ms/max_ms and retry_in_ms */
        int64_t backoff_default_base_ms;
        int64_t backoff_default_max_ms;
        int64_t completed_ttl_ms;
        int64_t dead_ttl_ms;
        int64_t idempotency_ttl_ms;
        int64_t audit_retention_ms; /* audit rows are deleted this long after their time */
        int purge_batch;            /* rows deleted per purge step, to keep the store responsive */
        int history_max;            /* attempt and step log entries kept per job */
        size_t progress_max_bytes;  /* heartbeat progress object: 413 progress_too_large */
        int connections_max;        /* open HTTP connections */
        size_t header_max_bytes;    /* request line and headers: 431 header_too_large */
        int64_t head_timeout_ms;    /* a request head must arrive within: 408, closed */
        int64_t body_timeout_ms;    /* a request body must arrive within: 408, closed */
        int64_t idle_timeout_ms;    /* an idle kept-alive connection is closed after */
        size_t body_memory_max_bytes; /* request bodies in flight, all: 503 server_busy */
        int replay_max;               /* dead jobs replayed or purged per call */
        /* Cron schedules per tenant: 409 too_many_schedules. */
        int64_t cron_schedules_max;
        /* --max-response-bytes: the byte budget of one answer. Lists stop
         * early with their cursor and claims hand out fewer jobs; one item
         * bigger than the budget is still answered alone. */
        size_t response_max_bytes;
        /* --max-queues: queues per tenant; an operation that would make one
         * more answers 409 too_many_queues. */
        int64_t queues_max;
        /* --metrics-max-queues: queues with their own series in /metrics;
         * the others are summed under tenant="_other", queue="_other". */
        int metrics_queues_max;
        /* The worker registry (core/workers.h): a worker not seen for
         * worker_lost_ms (and 2 lease periods) is lost; one not seen for
         * worker_retention_ms is forgotten. */
        int64_t worker_lost_ms;
        int64_t worker_retention_ms;
        /* The stats series (core/stats.h): minutes kept this long
         * (GET /v1/stats windows reach no further back), and the leader
         * samples the queues' gauges this often. */
        int64_t stats_retention_ms;
        int64_t stats_sample_ms;
        /* The event log's retention (core/events.h): events older than
         * events_max_age_ms, and those beyond the newest events_max_count
         * (0 = no count bound), are deleted by the leader. */
        int64_t events_max_count;
        int64_t events_max_age_ms;
        /* A stream of GET /v1/events sends a comment line when it has sent
         * nothing for this long. */
        int64_t events_heartbeat_ms;
};

/* timeout_ms of a job or of a queue's defaults (400 timeout_ms_out_of_range,
 * 400 setting_out_of_range for the queue setting): an attempt may run at
 * least 100 ms and at most 7 days from its claim. */
#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS (7LL * 24 * 3600 * 1000)

/* Fills l with the documented defaults. */
void limits_default(struct limits *l);

#endif
