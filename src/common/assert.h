/*
 * assert.h: invariant checks. BATON_ASSERT is on in test and sanitizer builds
 * (BATON_ASSERTS=1) and compiles to nothing in release builds, so hot paths may
 * assert freely. A failed assertion prints the condition and aborts.
 */
#ifndef BATON_COMMON_ASSERT_H
#define BATON_COMMON_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#if defined(BATON_ASSERTS) && BATON_ASSERTS
#define BATON_ASSERT(cond)                                                                         \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "assertion failed: %s (%s:%d)\n", #cond, __FILE__,         \
                                __LINE__);                                                         \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)
#else
#define BATON_ASSERT(cond) ((void)0)
#endif

#define BATON_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
