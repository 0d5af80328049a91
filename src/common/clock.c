/*
 * clock.c: the system clock and the fake clock used by tests. The fake clock
 * keeps wall and monotonic time in step, so advancing it moves both; stepping
 * it moves the wall clock alone.
 */
#include "common/clock.h"

#include <time.h>

static int64_t system_wall_ms(const struct clock *c)
{
        struct timespec ts;
        (void)c;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t system_mono_ns(const struct clock *c)
{
        struct timespec ts;
        (void)c;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const struct clock system_clock = {system_wall_ms, system_mono_ns, 0};

const struct clock *clock_system(void)
{
        return &system_clock;
}

static int64_t fake_wall_ms(const struct clock *c)
{
        return ((const struct clock_fake *)c->ctx)->wall_ms;
}

static int64_t fake_mono_ns(const struct clock *c)
{
        return ((const struct clock_fake *)c->ctx)->mono_ns;
}

void clock_fake_init(struct clock_fake *f, int64_t wall_ms)
{
        f->clock.wall_ms = fake_wall_ms;
        f->clock.mono_ns = fake_mono_ns;
        f->clock.ctx = f;
        f->wall_ms = wall_ms;
        f->mono_ns = 1000000000;
}

void clock_fake_advance_ms(struct clock_fake *f, int64_t delta_ms)
{
        f->wall_ms += delta_ms;
        f->mono_ns += delta_ms * 1000000;
}

void clock_fake_step_ms(struct clock_fake *f, int64_t delta_ms)
{
        f->wall_ms += delta_ms;
}

int64_t clock_offset_ms(const struct clock *c, int64_t wall_ms)
{
        return wall_ms - clock_mono_ns(c) / 1000000;
}
