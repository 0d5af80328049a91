/*
 * names.c: lookups in the name tables of small enums (names.h).
 */
#include "common/names.h"

#include <string.h>

const char *names_get(const char *const *names, int n, int v)
{
        return v >= 0 && v < n ? names[v] : "unknown";
}

int names_find(const char *const *names, int n, const char *s)
{
        for (int i = 0; s && i < n; i++)
                if (strcmp(names[i], s) == 0)
                        return i;
        return -1;
}

bool names_in_words(const char *list, const char *name)
{
        size_t n = strlen(name);

        for (const char *p = list; p && *p;) {
                const char *end = strchr(p, ' ');
                size_t len = end ? (size_t)(end - p) : strlen(p);

                if (len == n && memcmp(p, name, n) == 0)
                        return true;
                p = end ? end + 1 : p + len;
        }
        return false;
}
