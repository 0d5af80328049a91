/*
 * job_state.c: the names of the job states and the moves between them
 * (job_state.h).
 */
#include "common/job_state.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/names.h"

static const char *const state_names[JOB_STATE_COUNT] = {
    "pending", "scheduled", "queued", "running", "retrying", "completed", "dead", "cancelled"};

#define TO(s) (1u << (s))

/* moves[from]: the states a job in from may be moved to. */
static const uint16_t moves[JOB_STATE_COUNT] = {
    /* parents allow it (placed), or a parent failed / its key is taken */
    [JOB_PENDING] = TO(JOB_SCHEDULED) | TO(JOB_QUEUED) | TO(JOB_CANCELLED),
    /* due (promoted), replaced by key, cancelled */
    [JOB_SCHEDULED] = TO(JOB_SCHEDULED) | TO(JOB_QUEUED) | TO(JOB_CANCELLED),
    /* claimed, replaced by key, cancelled */
    [JOB_QUEUED] = TO(JOB_SCHEDULED) | TO(JOB_QUEUED) | TO(JOB_RUNNING) | TO(JOB_CANCELLED),
    /* the attempt completed, failed (retry now or later, or dead) or ended cancelled */
    [JOB_RUNNING] =
        TO(JOB_QUEUED) | TO(JOB_RETRYING) | TO(JOB_COMPLETED) | TO(JOB_DEAD) | TO(JOB_CANCELLED),
    /* due (promoted), cancelled, or its key taken meanwhile */
    [JOB_RETRYING] = TO(JOB_QUEUED) | TO(JOB_CANCELLED),
    [JOB_COMPLETED] = 0,
    /* retried or replayed */
    [JOB_DEAD] = TO(JOB_QUEUED),
    [JOB_CANCELLED] = TO(JOB_QUEUED),
};

const char *job_state_name(int state)
{
        return names_get(state_names, JOB_STATE_COUNT, state);
}

char *job_state_list(unsigned mask, char *out, size_t cap)
{
        int n = 0, total = 0;
        size_t len = 0;

        for (int i = 0; i < JOB_STATE_COUNT; i++)
                total += (mask >> i) & 1u;
        if (cap)
                out[0] = 0;
        for (int i = 0; i < JOB_STATE_COUNT && cap; i++) {
                if (!((mask >> i) & 1u))
                        continue;
                n++;
                snprintf(out + len, cap - len, "%s%s",
                         n == 1       ? ""
                         : n == total ? " or "
                                      : ", ",
                         state_names[i]);
                len = strlen(out);
        }
        return out;
}

int job_state_parse(const char *s)
{
        return names_find(state_names, JOB_STATE_COUNT, s);
}

bool job_state_terminal(int state)
{
        return state == JOB_COMPLETED || state == JOB_DEAD || state == JOB_CANCELLED;
}

bool job_state_moves(int from, int to)
{
        if (from < 0 || from >= JOB_STATE_COUNT || to < 0 || to >= JOB_STATE_COUNT)
                return false;
        return (moves[from] >> to) & 1u;
}
