/*
 * jsonx.h: building JSON values with jansson, every allocation checked.
 * jansson's constructors return NULL when out of memory (json_string also
 * for text that is not UTF-8) and its setters return -1; these turn both
 * into BATON_ENOMEM. The error is sticky: once *rc is set, a later call only
 * releases the value it was given, so a builder of many members checks once,
 * at the end, and an allocation failure anywhere fails the operation.
 */
#ifndef BATON_COMMON_JSONX_H
#define BATON_COMMON_JSONX_H

#include <jansson.h>
#include <stddef.h>

/* o[key] = v. Steals the reference to v, also on failure (v may be NULL:
 * a constructor that failed). */
void jsonx_set(int *rc, json_t *o, const char *key, json_t *v);
/* Appends v to the array a; steals v as jsonx_set does. */
void jsonx_append(int *rc, json_t *a, json_t *v);
/* s as a JSON string, or null for NULL; NULL when out of memory. */
json_t *jsonx_str(const char *s);
/* When *rc is 0, *out becomes v serialised with flags (malloc'd, the caller
 * frees it); *rc becomes BATON_ENOMEM when that fails. */
void jsonx_dumps(int *rc, const json_t *v, size_t flags, char **out);

#endif
