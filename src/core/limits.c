/*
 * limits.c: the documented defaults of struct limits (docs/api.md, "Limits").
 */
#include "core/limits.h"

void limits_default(struct limits *l)
{
        l->body_max_bytes = 16u << 20;
        l->payload_max_bytes = 256u << 10;
        l->result_max_bytes = 256u << 10;
        l->error_max_bytes = 8u << 10;
        l->name_max = 128;
        l->key_max = 256;
        l->batch_max = 1000;
        l->claim_max = 1000;
        l->list_max = 1000;
        l->wait_max_ms = 60000;
        l->lease_min_ms = 1000;
        l->lease_max_ms = 12LL * 3600 * 1000;
        l->lease_default_ms = 30000;
        l->delay_max_ms = 366LL * 24 * 3600 * 1000;
        l->max_attempts_max = 100;
        l->max_attempts_default = 4;
        l->backoff_max_ms = 24LL * 3600 * 1000;
        l->backoff_default_base_ms = 1000;
        l->backoff_default_max_ms = 300000;
        l->completed_ttl_ms = 24LL * 3600 * 1000;
        l->dead_ttl_ms = 7LL * 24 * 3600 * 1000;
        l->idempotency_ttl_ms = 24LL * 3600 * 1000;
        l->audit_retention_ms = 90LL * 24 * 3600 * 1000;
        l->worker_lost_ms = 10LL * 60 * 1000;
        l->worker_retention_ms = 24LL * 3600 * 1000;
        l->stats_retention_ms = 7LL * 24 * 3600 * 1000;
        l->stats_sample_ms = 10000;
        l->events_max_count = 1000000;
        l->events_max_age_ms = 7LL * 24 * 3600 * 1000;
        l->events_heartbeat_ms = 15000;
        l->purge_batch = 500;
        l->history_max = 100;
        l->progress_max_bytes = 4096;
        l->connections_max = 4096;
        l->header_max_bytes = 64u << 10;
        l->head_timeout_ms = 10000;
        l->body_timeout_ms = 60000;
        l->idle_timeout_ms = 60000;
        l->body_memory_max_bytes = 256u << 20;
        l->replay_max = 10000;
        l->cron_schedules_max = 10000;
        l->response_max_bytes = 8u << 20;
        l->queues_max = 10000;
        l->metrics_queues_max = 1000;
}
