/*
 * keys.c: libbaton's calls for API keys (create, list, revoke, rotate) and the
 * audit log. Workload: administrative, a few calls at a time, so clarity wins
 * over speed: answers are parsed with jansson and each key or entry keeps a
 * reference to its JSON object, pointing its strings into it (as jobs do).
 * Assumes the shapes of docs/api.md; members this library does not know are
 * kept in the object and reachable through baton_key_json.
 */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

struct baton_key_priv {
        json_t *obj;
        const char **scopes;
        char *json;
        char *secret; /* the answer's "secret" (create, rotate), or NULL */
};

struct baton_audit_priv {
        json_t *root; /* the whole answer; entries point into it */
        size_t cap;   /* entries the answer held */
        /* 2 * cap texts (NULL when unused): [0, cap) the entries' details as
         * compact JSON, [cap, 2 cap) ids the server sent as numbers. */
        char **texts;
};

static int64_t jtime(const json_t *obj, const char *key)
{
        int64_t ms = 0;

        if (client_parse_time_ms(jstr(obj, key), &ms) != 0)
                return 0;
        return ms;
}

/* Fills k from obj, taking a reference to obj. Returns 0, BATON_EPROTO (not a
 * key object) or BATON_ENOMEM; on failure k is left zeroed. */
static int key_from_json(json_t *obj, struct baton_key *k)
{
        json_t *sc, *rl, *v;
        size_t i;

        memset(k, 0, sizeof(*k));
        if (!json_is_object(obj) || !jstr(obj, "id"))
                return BATON_EPROTO;
        k->priv = calloc(1, sizeof(*k->priv));
        if (!k->priv)
                return BATON_ENOMEM;
        sc = json_object_get(obj, "scopes");
        if (json_is_array(sc) && json_array_size(sc)) {
                k->priv->scopes = calloc(json_array_size(sc), sizeof(char *));
                if (!k->priv->scopes) {
                        free(k->priv);
                        k->priv = NULL;
                        return BATON_ENOMEM;
                }
                json_array_foreach(sc, i, v)
                {
                        if (json_is_string(v))
                                k->priv->scopes[k->n_scopes++] = json_string_value(v);
                }
        }
        k->priv->obj = json_incref(obj);
        k->scopes = k->priv->scopes;
        k->id = jstr(obj, "id");
        k->name = jstr(obj, "name");
        k->tenant = jstr(obj, "tenant");
        k->state = jstr(obj, "state");
        k->created_by = jstr(obj, "created_by");
        k->previous_valid_until_ms = jtime(obj, "previous_valid_until");
        k->created_at_ms = jtime(obj, "created_at");
        k->expires_at_ms = jtime(obj, "expires_at");
        k->revoked_at_ms = jtime(obj, "revoked_at");
        k->rotated_at_ms = jtime(obj, "rotated_at");
        rl = json_object_get(obj, "rate_limit");
        k->rate_max = jint(rl, "max", 0);
        k->rate_per_ms = jint(rl, "per_ms", 0);
        return 0;
}

static void key_clear(void *key)
{
        struct baton_key *k = key;

        if (k->priv) {
                json_decref(k->priv->obj);
                free(k->priv->scopes);
                free(k->priv->json);
                if (k->priv->secret)
                        explicit_bzero(k->priv->secret, strlen(k->priv->secret));
                free(k->priv->secret);
                free(k->priv);
        }
        memset(k, 0, sizeof(*k));
}

const char *baton_key_json(struct baton_key *k)
{
        if (!k || !k->priv)
                return NULL;
        if (!k->priv->json)
                k->priv->json = json_dumps(k->priv->obj, JSON_COMPACT);
        return k->priv->json;
}

void baton_key_free(struct baton_key *k)
{
        if (!k)
                return;
        key_clear(k);
        free(k);
}

void baton_keys_free(struct baton_keys *l)
{
        if (l)
                client_page_free(l, l->v, l->n, sizeof(*l->v), key_clear, l->next);
}

void baton_audit_free(struct baton_audit *l)
{
        size_t i;

        if (!l)
                return;
        if (l->priv) {
                for (i = 0; l->priv->texts && i < 2 * l->priv->cap; i++)
                        free(l->priv->texts[i]);
                free(l->priv->texts);
                json_decref(l->priv->root);
                free(l->priv);
        }
        free(l->v);
        free(l->next);
        free(l);
}

/* dst: struct baton_key **, receives the key of the answer {"key": {...}}
 * and, for a creation or rotation, the "secret" beside it (in k->key). */
static int answer_key(struct baton_client *c, json_t *root, void *dst)
{
        struct baton_key **out = dst, *k;
        const char *secret = jstr(root, "secret");
        int rc;

        k = malloc(sizeof(*k));
        if (!k)
                return client_fail(c, BATON_ENOMEM, NULL);
        rc = key_from_json(json_object_get(root, "key"), k);
        if (!rc && secret && !(k->priv->secret = strdup(secret))) {
                key_clear(k);
                rc = BATON_ENOMEM;
        }
        if (rc) {
                free(k);
                return client_fail(c, rc, rc == BATON_EPROTO ? "answer holds no key" : NULL);
        }
        k->key = k->priv->secret;
        *out = k;
        return 0;
}

/* Performs the call prepared in c->url (body in c->req when with_body); *out
 * (when out is not NULL) receives the key of the answer. */
static int call_key(struct baton_client *c, const char *method, bool with_body,
                    struct baton_key **out)
{
        if (out)
                *out = NULL;
        return client_request(c, method, with_body, 0, out ? answer_key : NULL, out);
}

int baton_key_create(struct baton_client *c, const struct baton_key_opts *o, struct baton_key **out)
{
        struct jw w;
        int rc;

        if (out)
                *out = NULL;
        if (!o || !o->name || (o->n_scopes && !o->scopes))
                return client_fail(c, BATON_EINVAL, NULL);
        client_body(c, &w);
        jw_kstr(&w, "name", o->name);
        client_kstr(&w, "tenant", o->tenant);
        jw_key(&w, "scopes");
        jw_arr_open(&w);
        for (size_t i = 0; i < o->n_scopes; i++)
                jw_str(&w, o->scopes[i]);
        jw_arr_close(&w);
        client_kstr(&w, "expires_at", o->expires_at);
        if (o->rate_max || o->rate_per_ms) {
                jw_key(&w, "rate_limit");
                jw_obj_open(&w);
                jw_kint(&w, "max", o->rate_max);
                jw_kint(&w, "per_ms", o->rate_per_ms);
                jw_obj_close(&w);
        }
        rc = client_body_end(&w);
        if (rc == 0)
                rc = client_url(c, "/v1/keys");
        if (rc)
                return client_fail(c, rc, NULL);
        return call_key(c, "POST", true, out);
}

int baton_key_list(struct baton_client *c, const char *tenant, int limit, const char *after,
                   struct baton_keys **out)
{
        json_t *root = NULL, *arr, *next, *v;
        struct baton_keys *l = NULL;
        size_t i;
        int rc;

        *out = NULL;
        rc = client_url(c, "/v1/keys");
        if (rc == 0 && tenant)
                rc = client_query(c, "tenant", tenant);
        if (rc == 0)
                rc = client_query_page(c, limit, after);
        if (rc)
                return client_fail(c, rc, NULL);
        rc = client_get_list(c, "keys", "key list", &root, &arr, &next);
        if (rc)
                goto out;
        l = calloc(1, sizeof(*l));
        if (!l || (json_array_size(arr) && !(l->v = calloc(json_array_size(arr), sizeof(*l->v))))) {
                rc = client_fail(c, BATON_ENOMEM, NULL);
                goto out;
        }
        json_array_foreach(arr, i, v)
        {
                rc = key_from_json(v, &l->v[i]);
                if (rc) {
                        rc = client_fail(c, rc, NULL);
                        goto out;
                }
                l->n = i + 1;
        }
        if (json_is_string(next) && !(l->next = strdup(json_string_value(next)))) {
                rc = client_fail(c, BATON_ENOMEM, NULL);
                goto out;
        }
        *out = l;
        l = NULL;
        rc = 0;
out:
        baton_keys_free(l);
        json_decref(root);
        return rc;
}

int baton_key_revoke(struct baton_client *c, const char *id, struct baton_key **out)
{
        int rc;

        if (out)
                *out = NULL;
        if (!id)
                return client_fail(c, BATON_EINVAL, NULL);
        rc = client_url_seg(c, "/v1/keys/", id, NULL);
        if (rc)
                return client_fail(c, rc, NULL);
        return call_key(c, "DELETE", false, out);
}

int baton_key_rotate(struct baton_client *c, const char *id, int64_t grace_ms,
                     struct baton_key **out)
{
        struct jw w;
        int rc;

        if (out)
                *out = NULL;
        if (!id)
                return client_fail(c, BATON_EINVAL, NULL);
        client_body(c, &w);
        if (grace_ms >= 0)
                jw_kint(&w, "grace_ms", grace_ms);
        rc = client_body_end(&w);
        if (rc == 0)
                rc = client_url_seg(c, "/v1/keys/", id, "/rotate");
        if (rc)
                return client_fail(c, rc, NULL);
        return call_key(c, "POST", true, out);
}

/* An entry's id may be a number or a string; both become text. */
static const char *id_text(json_t *e, char **owned)
{
        json_t *v = json_object_get(e, "id");

        *owned = NULL;
        if (json_is_string(v))
                return json_string_value(v);
        if (json_is_integer(v)) {
                *owned = malloc(24);
                if (*owned)
                        snprintf(*owned, 24, "%lld", (long long)json_integer_value(v));
                return *owned;
        }
        return NULL;
}

/* Fills entry i of l (of l->priv->cap) from e. Returns 0 or BATON_ENOMEM. */
static int audit_entry(struct baton_audit *l, size_t i, json_t *e)
{
        struct baton_audit_entry *a = &l->v[i];
        json_t *d = json_object_get(e, "detail");
        size_t n = l->priv->cap;
        char *owned;

        a->id = id_text(e, &owned);
        l->priv->texts[n + i] = owned;
        if (!owned && json_is_integer(json_object_get(e, "id")))
                return BATON_ENOMEM;
        a->at_ms = jtime(e, "at");
        a->key_id = jstr(e, "key_id");
        a->tenant = jstr(e, "tenant");
        a->action = jstr(e, "action");
        a->target = jstr(e, "target");
        a->request_id = jstr(e, "request_id");
        a->status = (int)jint(e, "status", 0);
        a->code = jstr(e, "code");
        if (d && !json_is_null(d)) {
                l->priv->texts[i] = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
                if (!l->priv->texts[i])
                        return BATON_ENOMEM;
                a->detail = l->priv->texts[i];
        }
        return 0;
}

int baton_audit_list(struct baton_client *c, const struct baton_audit_filter *f,
                     struct baton_audit **out)
{
        json_t *root = NULL, *arr, *next, *e;
        struct baton_audit *l = NULL;
        size_t i, n;
        int rc;

        *out = NULL;
        rc = client_url(c, "/v1/audit");
        if (rc == 0 && f)
                rc = client_queries(c, (const char *const[]){"action", f->action, "key_id",
                                                             f->key_id, "tenant", f->tenant, NULL});
        if (rc == 0 && f && f->limit)
                rc = client_query_i64(c, "limit", f->limit);
        if (rc == 0 && f && f->after)
                rc = client_query(c, "after", f->after);
        if (rc)
                return client_fail(c, rc, NULL);
        rc = client_get_list(c, "entries", "audit entries", &root, &arr, &next);
        if (rc)
                goto out;
        n = json_array_size(arr);
        rc = BATON_ENOMEM;
        l = calloc(1, sizeof(*l));
        if (!l || !(l->priv = calloc(1, sizeof(*l->priv))))
                goto nomem;
        if (n && (!(l->v = calloc(n, sizeof(*l->v))) ||
                  !(l->priv->texts = calloc(2 * n, sizeof(char *)))))
                goto nomem;
        l->priv->cap = n;
        l->priv->root = json_incref(root);
        json_array_foreach(arr, i, e)
        {
                l->n = i + 1;
                if (audit_entry(l, i, e))
                        goto nomem;
        }
        if (json_is_string(next) && !(l->next = strdup(json_string_value(next))))
                goto nomem;
        if (json_is_integer(next) && !(l->next = malloc(24)))
                goto nomem;
        if (json_is_integer(next))
                snprintf(l->next, 24, "%lld", (long long)json_integer_value(next));
        *out = l;
        l = NULL;
        rc = 0;
        goto out;
nomem:
        rc = client_fail(c, BATON_ENOMEM, NULL);
out:
        baton_audit_free(l);
        json_decref(root);
        return rc;
}
