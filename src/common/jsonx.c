/*
 * jsonx.c: checked jansson builders (jsonx.h).
 */
#include "common/jsonx.h"

#include "common/errors.h"

void jsonx_set(int *rc, json_t *o, const char *key, json_t *v)
{
        if (*rc) {
                json_decref(v);
                return;
        }
        /* json_object_set_new releases v itself when it fails (o or v NULL,
         * or no memory for the member). */
        if (json_object_set_new(o, key, v) != 0)
                *rc = BATON_ENOMEM;
}

void jsonx_append(int *rc, json_t *a, json_t *v)
{
        if (*rc) {
                json_decref(v);
                return;
        }
        if (json_array_append_new(a, v) != 0)
                *rc = BATON_ENOMEM;
}

json_t *jsonx_str(const char *s)
{
        return s ? json_string(s) : json_null();
}

void jsonx_dumps(int *rc, const json_t *v, size_t flags, char **out)
{
        if (*rc)
                return;
        *out = v ? json_dumps(v, flags) : NULL;
        if (!*out)
                *rc = BATON_ENOMEM;
}
