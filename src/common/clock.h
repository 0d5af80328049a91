/*
 * clock.h: the one clock interface. Everything that needs the time gets a
 * struct clock, so tests and simulations control time. wall_ms is Unix time in
 * milliseconds (what the store records); mono_ns is a monotonic reading for
 * durations and timeouts, never stored.
 */
#ifndef BATON_COMMON_CLOCK_H
#define BATON_COMMON_CLOCK_H

#include <stdint.h>

struct clock {
        int64_t (*wall_ms)(const struct clock *c);
        int64_t (*mono_ns)(const struct clock *c);
        void *ctx;
};

/* The real clock (CLOCK_REALTIME / CLOCK_MONOTONIC). Static storage, never freed. */
const struct clock *clock_system(void);

/* A manual clock for tests: time moves only through clock_fake_set/advance. */
struct clock_fake {
        struct clock clock;
        int64_t wall_ms;
        int64_t mono_ns;
};
void clock_fake_init(struct clock_fake *f, int64_t wall_ms);
void clock_fake_advance_ms(struct clock_fake *f, int64_t delta_ms);
/* Steps the fake wall clock by delta_ms without moving the monotonic one: what
 * an NTP step, a VM resume or an operator's date command does to a host. */
void clock_fake_step_ms(struct clock_fake *f, int64_t delta_ms);

/* A wall clock that moved this much against the monotonic one between two
 * readings was stepped (docs/cron.md "When the clock jumps"); slewing moves
 * it by at most 0.5 ms a second, far below. */
#define CLOCK_STEP_MIN_MS 2000

/* wall_ms minus c's monotonic reading in ms: constant while the wall clock
 * runs, changed by exactly a step's size when it is stepped. */
int64_t clock_offset_ms(const struct clock *c, int64_t wall_ms);

static inline int64_t clock_wall_ms(const struct clock *c)
{
        return c->wall_ms(c);
}
static inline int64_t clock_mono_ns(const struct clock *c)
{
        return c->mono_ns(c);
}

#endif
