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

static inline int64_t clock_wall_ms(const struct clock *c)
{
        return c->wall_ms(c);
}
static inline int64_t clock_mono_ns(const struct clock *c)
{
        return c->mono_ns(c);
}

#endif
