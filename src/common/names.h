/*
 * names.h: the English names of small enums (job states, priorities,
 * backoff types, cron policies), as arrays indexed by the enum's value. One
 * lookup each way, so every table answers an unknown value and an unknown
 * name alike. The tables are short (at most a dozen names): a linear scan.
 */
#ifndef BATON_COMMON_NAMES_H
#define BATON_COMMON_NAMES_H

#include <stdbool.h>

/* names[v] for 0 <= v < n, else "unknown". */
const char *names_get(const char *const *names, int n, int v);
/* The index of s in names[0..n), or -1 (also for s NULL). */
int names_find(const char *const *names, int n, const char *s);

/* Is name one of the space-separated words of list ("limit after")? A NULL
 * list holds no word. The lists of allowed fields and query parameters. */
bool names_in_words(const char *list, const char *name);

#endif
