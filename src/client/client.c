/*
 * client.c: the transport of libbaton. One libcurl easy handle per client keeps
 * the connection to batond alive between calls (HTTP/1.1 keep-alive), with
 * TCP_NODELAY on and "Expect: 100-continue" off, because a request that waits a
 * round trip for permission or sits in Nagle's buffer costs more than the whole
 * server-side operation. Request, response and URL buffers belong to the client
 * and are reused, so a steady stream of calls allocates little beyond what
 * jansson needs to parse the answers. A call whose caller takes nothing of the
 * answer (an enqueue without an out-parameter) sends "Prefer: return=minimal",
 * so the server answers the short form. Assumes one thread per client; the
 * global libcurl initialisation runs once per process.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_global_rc = CURLE_OK;

static void curl_init_once(void)
{
        curl_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Copies src into a fixed buffer, truncating; dst is always terminated. */
static void copy_field(char *dst, size_t cap, const char *src)
{
        size_t n = src ? strlen(src) : 0;

        if (n >= cap)
                n = cap - 1;
        if (n)
                memcpy(dst, src, n);
        dst[n] = '\0';
}

int client_fail(struct baton_client *c, int rc, const char *message)
{
        c->err.rc = rc;
        copy_field(c->err.message, sizeof(c->err.message), message ? message : baton_strerror(rc));
        return rc;
}

/* The header list of lines[0..n), plus "Prefer: return=minimal" when
 * minimal, into *out; 0 or BATON_ENOMEM (nothing kept). */
static int header_list(const char *const *lines, size_t n, bool minimal, struct curl_slist **out)
{
        struct curl_slist *l = NULL, *t;

        for (size_t i = 0; i <= n; i++) {
                if (i == n && !minimal)
                        break;
                t = curl_slist_append(l, i < n ? lines[i] : "Prefer: return=minimal");
                if (!t) {
                        curl_slist_free_all(l);
                        return BATON_ENOMEM;
                }
                l = t;
        }
        *out = l;
        return 0;
}

/* Rebuilds the header lists: content type, no Expect, the key and the request
 * id (and the same with Prefer: return=minimal). Returns 0 or BATON_ENOMEM,
 * keeping the old lists on failure. */
static int build_headers(struct baton_client *c)
{
        /* An empty "Expect:" removes the header libcurl adds to large POSTs. */
        const char *lines[5] = {"Content-Type: application/json", "Accept: application/json",
                                "Expect:"};
        char key[600], rid[600];
        struct curl_slist *l = NULL, *lm = NULL;
        size_t n = 3;
        int rc;

        if (c->api_key) {
                snprintf(key, sizeof(key), "Authorization: Bearer %s", c->api_key);
                lines[n++] = key;
        }
        if (c->request_id) {
                snprintf(rid, sizeof(rid), "X-Request-Id: %s", c->request_id);
                lines[n++] = rid;
        }
        rc = header_list(lines, n, false, &l);
        if (!rc)
                rc = header_list(lines, n, true, &lm);
        if (rc) {
                curl_slist_free_all(l);
                return rc;
        }
        curl_slist_free_all(c->headers);
        curl_slist_free_all(c->headers_minimal);
        c->headers = l;
        c->headers_minimal = lm;
        return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
        struct baton_client *c = ud;
        size_t n = size * nmemb;

        /* Returning less than n aborts the transfer (CURLE_WRITE_ERROR). */
        if (buf_add(&c->resp, ptr, n))
                return 0;
        return n;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *ud)
{
        static const char name[] = "x-request-id:";
        struct baton_client *c = ud;
        size_t n = size * nitems, len = n, skip = sizeof(name) - 1;

        if (n > skip && strncasecmp(ptr, name, skip) == 0) {
                char *v = ptr + skip;

                len = n - skip;
                while (len && (*v == ' ' || *v == '\t')) {
                        v++;
                        len--;
                }
                while (len && isspace((unsigned char)v[len - 1]))
                        len--;
                if (len >= sizeof(c->err.request_id))
                        len = sizeof(c->err.request_id) - 1;
                memcpy(c->err.request_id, v, len);
                c->err.request_id[len] = '\0';
        }
        return n;
}

int baton_client_new(const char *url, const char *api_key, struct baton_client **out)
{
        struct baton_client *c = NULL;
        size_t n;
        int rc = BATON_ENOMEM;

        *out = NULL;
        if (!url || strncmp(url, "http", 4) != 0)
                return BATON_EINVAL;
        pthread_once(&curl_once, curl_init_once);
        if (curl_global_rc != CURLE_OK)
                return BATON_EHTTP;
        c = calloc(1, sizeof(*c));
        if (!c)
                goto out;
        c->base = strdup(url);
        if (!c->base)
                goto out;
        n = strlen(c->base);
        while (n && c->base[n - 1] == '/')
                c->base[--n] = '\0';
        if (api_key) {
                c->api_key = strdup(api_key);
                if (!c->api_key)
                        goto out;
        }
        c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
        c->connect_timeout_ms = CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
        c->err.retry_after_s = -1;
        buf_init(&c->url, 64 * 1024);
        buf_init(&c->req, CLIENT_REQUEST_MAX_BYTES);
        buf_init(&c->resp, CLIENT_RESPONSE_MAX_BYTES);
        rc = build_headers(c);
        if (rc)
                goto out;
        c->h = curl_easy_init();
        if (!c->h) {
                rc = BATON_ENOMEM;
                goto out;
        }
        curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(c->h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->curl_err);
        /* The server is on loopback or a private network; proxies from the
         * environment would only add a hop and surprise. */
        curl_easy_setopt(c->h, CURLOPT_PROXY, "");
        *out = c;
        c = NULL;
        rc = 0;
out:
        baton_client_free(c);
        return rc;
}

void baton_client_free(struct baton_client *c)
{
        if (!c)
                return;
        if (c->h)
                curl_easy_cleanup(c->h);
        curl_slist_free_all(c->headers);
        curl_slist_free_all(c->headers_minimal);
        free(c->base);
        free(c->api_key);
        free(c->request_id);
        free(c->worker_info);
        buf_free(&c->url);
        buf_free(&c->req);
        buf_free(&c->resp);
        free(c);
}

void baton_client_set_timeout_ms(struct baton_client *c, int64_t timeout_ms)
{
        c->timeout_ms = timeout_ms > 0 ? timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
}

void baton_client_set_connect_timeout_ms(struct baton_client *c, int64_t timeout_ms)
{
        c->connect_timeout_ms = timeout_ms > 0 ? timeout_ms : CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
}

int baton_client_set_ca_file(struct baton_client *c, const char *path)
{
        /* libcurl copies the string. */
        if (curl_easy_setopt(c->h, CURLOPT_CAINFO, path) != CURLE_OK)
                return BATON_ENOMEM;
        return 0;
}

int baton_client_set_request_id(struct baton_client *c, const char *request_id)
{
        char *copy = NULL, *old = c->request_id;
        const char *p;
        int rc;

        if (request_id) {
                size_t n = strlen(request_id);

                /* The same rule the server applies; checked here so a bad id cannot
                 * smuggle a header line. */
                if (n < 1 || n > 128)
                        return BATON_EINVAL;
                for (p = request_id; *p; p++)
                        if (*p < 0x21 || *p > 0x7e)
                                return BATON_EINVAL;
                copy = strdup(request_id);
                if (!copy)
                        return BATON_ENOMEM;
        }
        c->request_id = copy;
        rc = build_headers(c);
        if (rc) {
                c->request_id = old;
                free(copy);
                return rc;
        }
        free(old);
        return 0;
}

int baton_client_set_worker_info(struct baton_client *c, const char *info_json)
{
        json_error_t je;
        json_t *v;
        char *copy = NULL, msg[300];

        memset(&c->err, 0, sizeof(c->err));
        c->err.retry_after_s = -1;
        if (info_json) {
                /* Checked here, so that a mistake is reported where it was made
                 * rather than as a refused claim in a worker's loop; the members
                 * and their bounds are the server's to judge. */
                v = json_loads(info_json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
                if (!v || !json_is_object(v)) {
                        if (v)
                                snprintf(msg, sizeof(msg), "worker info must be a JSON object");
                        else
                                snprintf(msg, sizeof(msg), "worker info is not JSON: %s", je.text);
                        json_decref(v);
                        return client_fail(c, BATON_EINVAL, msg);
                }
                /* Compact text, as the server measures it against its size limit. */
                copy = json_dumps(v, JSON_COMPACT);
                json_decref(v);
                if (!copy)
                        return client_fail(c, BATON_ENOMEM, NULL);
        }
        free(c->worker_info);
        c->worker_info = copy;
        return 0;
}

const struct baton_error *baton_client_last_error(const struct baton_client *c)
{
        return &c->err;
}

int baton_err_from_api(int http_status, const char *code)
{
        size_t n;

        if (code && *code) {
                static const struct {
                        const char *code;
                        int rc;
                } map[] = {
                    {"lease_mismatch", BATON_ELEASE},      {"lease_expired", BATON_EEXPIRED},
                    {"idempotency_conflict", BATON_EIDEM}, {"invalid_state", BATON_ESTATE},
                    {"already_settled", BATON_ECONFLICT},  {"not_found", BATON_ENOTFOUND},
                    {"route_not_found", BATON_ENOTFOUND},  {"store_unavailable", BATON_ESTORE},
                    {"shutting_down", BATON_ESHUTDOWN},    {"queue_full", BATON_EBUSY},
                    {"method_not_allowed", BATON_EINVAL},  {"unauthenticated", BATON_EAUTH},
                    {"forbidden", BATON_EFORBIDDEN},       {"rate_limited", BATON_ERATE},
                };
                size_t i;

                for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
                        if (strcmp(code, map[i].code) == 0)
                                return map[i].rc;
                n = strlen(code);
                if (n > 13 && strcmp(code + n - 13, "_out_of_range") == 0)
                        return BATON_ERANGE;
                if (n > 10 && strcmp(code + n - 10, "_too_large") == 0)
                        return BATON_ETOOBIG;
        }
        switch (http_status) {
        case 400:
        case 405:
                return BATON_EINVAL;
        case 401:
                return BATON_EAUTH;
        case 403:
                return BATON_EFORBIDDEN;
        case 404:
                return BATON_ENOTFOUND;
        case 409:
                return BATON_ECONFLICT;
        case 413:
                return BATON_ETOOBIG;
        case 429:
                return BATON_ERATE;
        case 502:
        case 503:
        case 504:
                return BATON_EBUSY;
        }
        return BATON_EPROTO;
}

int client_url_escape(struct buf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        int rc = 0;

        for (; *s && rc == 0; s++) {
                unsigned char ch = (unsigned char)*s;

                /* RFC 3986 unreserved characters (and ':', legal in a path segment and
                 * common in queue names) go as they are; everything else is encoded. */
                if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
                    ch == ':') {
                        rc = buf_addc(b, (char)ch);
                } else {
                        char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};

                        rc = buf_add(b, enc, 3);
                }
        }
        return rc;
}

void client_kstr(struct jw *w, const char *key, const char *v)
{
        if (v)
                jw_kstr(w, key, v);
}

void client_kraw(struct jw *w, const char *key, const char *json)
{
        if (json)
                jw_kraw(w, key, json);
}

void client_kint(struct jw *w, const char *key, int64_t v)
{
        if (v)
                jw_kint(w, key, v);
}

void client_body(struct baton_client *c, struct jw *w)
{
        buf_reset(&c->req);
        jw_init(w, &c->req);
        jw_obj_open(w);
}

int client_body_end(struct jw *w)
{
        jw_obj_close(w);
        return w->err;
}

int client_url(struct baton_client *c, const char *path)
{
        int rc;

        buf_reset(&c->url);
        rc = buf_adds(&c->url, c->base);
        if (rc == 0)
                rc = buf_adds(&c->url, path);
        return rc;
}

int client_url_seg(struct baton_client *c, const char *prefix, const char *seg, const char *suffix)
{
        int rc = client_url(c, prefix);

        if (rc == 0 && seg)
                rc = client_url_escape(&c->url, seg);
        if (rc == 0 && suffix)
                rc = buf_adds(&c->url, suffix);
        return rc;
}

int client_queries(struct baton_client *c, const char *const *kv)
{
        int rc = 0;

        for (size_t i = 0; rc == 0 && kv[i]; i += 2)
                rc = client_query(c, kv[i], kv[i + 1]);
        return rc;
}

int client_get_list(struct baton_client *c, const char *member, const char *what, json_t **root,
                    json_t **arr, json_t **next)
{
        char msg[64];
        int rc;

        *root = NULL;
        rc = client_call(c, "GET", NULL, 0, 0, root);
        if (rc)
                return rc;
        *arr = json_object_get(*root, member);
        *next = json_object_get(*root, "next");
        if (json_is_array(*arr))
                return 0;
        snprintf(msg, sizeof(msg), "answer holds no %s", what);
        return client_fail(c, BATON_EPROTO, msg);
}

int client_query(struct baton_client *c, const char *name, const char *value)
{
        int rc;

        if (!value)
                return 0;
        rc = buf_addc(&c->url, strchr(c->url.ptr, '?') ? '&' : '?');
        if (rc == 0)
                rc = buf_adds(&c->url, name);
        if (rc == 0)
                rc = buf_addc(&c->url, '=');
        if (rc == 0)
                rc = client_url_escape(&c->url, value);
        return rc;
}

int client_query_i64(struct baton_client *c, const char *name, int64_t v)
{
        char num[24];

        snprintf(num, sizeof(num), "%lld", (long long)v);
        return client_query(c, name, num);
}

int client_query_page(struct baton_client *c, int64_t limit, const char *after)
{
        int rc = 0;

        if (limit)
                rc = client_query_i64(c, "limit", limit);
        if (rc == 0 && after)
                rc = client_query(c, "after", after);
        return rc;
}

/* Reads {"error": {code, message, field}} from an error answer into c->err;
 * an answer without that shape keeps the status alone. */
static void read_error_body(struct baton_client *c)
{
        json_t *root, *e;

        root = json_loadb(c->resp.ptr ? c->resp.ptr : "", c->resp.len, 0, NULL);
        e = json_object_get(root, "error");
        if (json_is_object(e)) {
                copy_field(c->err.code, sizeof(c->err.code), jstr(e, "code"));
                copy_field(c->err.message, sizeof(c->err.message), jstr(e, "message"));
                copy_field(c->err.field, sizeof(c->err.field), jstr(e, "field"));
        } else {
                snprintf(c->err.message, sizeof(c->err.message), "HTTP status %d",
                         c->err.http_status);
        }
        json_decref(root);
}

int client_call(struct baton_client *c, const char *method, const char *body, size_t body_len,
                int64_t wait_ms, json_t **root)
{
        CURL *h = c->h;
        CURLcode cc;
        long status = 0;
        curl_off_t retry_after = -1;
        int rc;

        if (root)
                *root = NULL;
        memset(&c->err, 0, sizeof(c->err));
        c->err.retry_after_s = -1;
        c->curl_err[0] = '\0';
        buf_reset(&c->resp);

        curl_easy_setopt(h, CURLOPT_URL, c->url.ptr);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER,
                         c->prefer_minimal ? c->headers_minimal : c->headers);
        if (body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        } else {
                curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        }
        /* CUSTOMREQUEST persists on the handle: set it for the methods libcurl does
         * not derive from the options above, clear it after such a call. */
        if (strcmp(method, body ? "POST" : "GET") != 0) {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
                c->custom_method = true;
        } else if (c->custom_method) {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
                c->custom_method = false;
        }
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                         (long)(c->timeout_ms + (wait_ms > 0 ? wait_ms : 0)));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);

        cc = curl_easy_perform(h);
        if (cc != CURLE_OK) {
                rc = client_fail(c, cc == CURLE_WRITE_ERROR ? BATON_EPROTO : BATON_EHTTP,
                                 c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
                goto out;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after);
        c->err.http_status = (int)status;
        c->err.retry_after_s = retry_after > 0 ? (int64_t)retry_after : -1;
        if (status >= 400) {
                read_error_body(c);
                rc = c->err.rc = baton_err_from_api((int)status, c->err.code);
                goto out;
        }
        if (status < 200 || status >= 300) {
                rc = client_fail(c, BATON_EPROTO, "unexpected HTTP status");
                goto out;
        }
        rc = 0;
        if (root) {
                json_error_t jerr;

                *root = json_loadb(c->resp.ptr ? c->resp.ptr : "", c->resp.len, 0, &jerr);
                if (!json_is_object(*root)) {
                        json_decref(*root);
                        *root = NULL;
                        rc = client_fail(c, BATON_EPROTO, "answer is not a JSON object");
                }
        }
out:
        return rc;
}

int client_request(struct baton_client *c, const char *method, bool with_body, int64_t wait_ms,
                   client_answer_fn parse, void *dst)
{
        json_t *root = NULL;
        int rc;

        rc = client_call(c, method, with_body ? c->req.ptr : NULL, with_body ? c->req.len : 0,
                         wait_ms, parse ? &root : NULL);
        if (rc == 0 && parse)
                rc = parse(c, root, dst);
        json_decref(root);
        return rc;
}

int client_request_minimal(struct baton_client *c, const char *method)
{
        int rc;

        c->prefer_minimal = true;
        rc = client_request(c, method, true, 0, NULL, NULL);
        c->prefer_minimal = false;
        return rc;
}

int client_call_text(struct baton_client *c, const char *method, const char *body, char **answer)
{
        json_t *root = NULL;
        int rc;

        rc = client_call(c, method, body, body ? strlen(body) : 0, 0, answer ? &root : NULL);
        if (rc == 0 && answer) {
                *answer = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
                if (!*answer)
                        rc = client_fail(c, BATON_ENOMEM, NULL);
        }
        json_decref(root);
        return rc;
}

int client_call_body(struct baton_client *c, const char *method, const char *body, const char *what,
                     char **answer)
{
        if (!body)
                return client_fail(c, BATON_EINVAL, what);
        return client_call_text(c, method, body, answer);
}

int client_call_page(struct baton_client *c, int64_t limit, const char *after, char **answer)
{
        int rc = client_query_page(c, limit, after);

        return rc ? client_fail(c, rc, NULL) : client_call_text(c, "GET", NULL, answer);
}

int baton_request(struct baton_client *c, const char *method, const char *path, const char *body,
                  int *status, char **body_out)
{
        int rc;

        if (status)
                *status = 0;
        if (body_out)
                *body_out = NULL;
        if (!method || !path || path[0] != '/')
                return client_fail(c, BATON_EINVAL, "method and an absolute path are required");
        rc = client_url(c, path);
        if (rc)
                return client_fail(c, rc, NULL);
        /* A raw call may wait on the server (?wait_ms=, claim's wait_ms); give it
         * the longest wait the API allows on top of the usual timeout. */
        rc = client_call(c, method, body, body ? strlen(body) : 0, 60000, NULL);
        if (rc == BATON_EHTTP || (rc && c->err.http_status == 0))
                return rc;
        if (status)
                *status = c->err.http_status;
        if (body_out) {
                *body_out = malloc(c->resp.len + 1);
                if (!*body_out)
                        return client_fail(c, BATON_ENOMEM, NULL);
                memcpy(*body_out, c->resp.ptr ? c->resp.ptr : "", c->resp.len);
                (*body_out)[c->resp.len] = '\0';
        }
        return 0;
}
