/*
 * harness.c: talking to a running batond in end-to-end and fault tests (see
 * harness.h): raw HTTP requests with parsed JSON answers, the assertions on
 * them and on libbaton results, JSON paths, and small utilities (clocks,
 * unique names, threads). Starting and stopping batond is harness_batond.c;
 * jobs, claims and flows are harness_jobs.c.
 *
 * Which admin key and CA file go with which server url is kept here, in a
 * table that harness_batond.c fills as servers start and empties as they
 * stop, so that a request to a harness's url carries its key unless the test
 * says otherwise. Requests are bounded (curl timeouts); nothing here waits
 * without a limit.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "support/harness.h"

/* Servers one test program may run at once (as harness_batond.c). */
#define URLS_MAX 64

/* The admin key of each running harness's url, for http_raw's default
 * Authorization header (tests may run several servers at once), and for an
 * https url the certificate to trust (the server's own, self-signed). */
struct url_key {
        char url[64];
        char key[128];
        char ca[300];
};
static struct url_key url_keys[URLS_MAX];

void harness_url_register(const char *url, const char *key, const char *ca)
{
        int slot = -1;

        for (int i = 0; i < URLS_MAX && slot < 0; i++)
                if (strcmp(url_keys[i].url, url) == 0)
                        slot = i;
        for (int i = 0; i < URLS_MAX && slot < 0; i++)
                if (!url_keys[i].url[0])
                        slot = i;
        if (slot < 0)
                return;
        snprintf(url_keys[slot].url, sizeof(url_keys[slot].url), "%s", url);
        snprintf(url_keys[slot].key, sizeof(url_keys[slot].key), "%s", key);
        snprintf(url_keys[slot].ca, sizeof(url_keys[slot].ca), "%s", ca);
}

void harness_url_forget(const char *url)
{
        for (int i = 0; i < URLS_MAX; i++)
                if (strcmp(url_keys[i].url, url) == 0)
                        memset(&url_keys[i], 0, sizeof(url_keys[i]));
}

/* The key registered for the start of full (a url + path), or NULL. */
static const char *url_key_find(const char *full)
{
        for (int i = 0; i < URLS_MAX; i++) {
                size_t n = strlen(url_keys[i].url);
                if (n && strncmp(full, url_keys[i].url, n) == 0 &&
                    (full[n] == '/' || full[n] == '\0' || full[n] == '?'))
                        return url_keys[i].key[0] ? url_keys[i].key : NULL;
        }
        return NULL;
}

const char *harness_key_for(const char *url)
{
        return url_key_find(url);
}

/* The CA file registered for the start of full, or NULL. */
static const char *url_ca_find(const char *full)
{
        for (int i = 0; i < URLS_MAX; i++) {
                size_t n = strlen(url_keys[i].url);
                if (n && strncmp(full, url_keys[i].url, n) == 0)
                        return url_keys[i].ca[0] ? url_keys[i].ca : NULL;
        }
        return NULL;
}

int64_t harness_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int64_t ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
}

/* ---- raw HTTP ---- */

struct grow {
        char *p;
        size_t len;
        size_t cap;
};

static size_t grow_add(char *ptr, size_t size, size_t nmemb, void *ud)
{
        struct grow *g = ud;
        size_t n = size * nmemb;

        if (g->len + n + 1 > g->cap) {
                size_t cap = g->cap ? g->cap : 1024;
                char *p;

                while (cap < g->len + n + 1)
                        cap *= 2;
                p = realloc(g->p, cap);
                if (!p)
                        return 0;
                g->p = p;
                g->cap = cap;
        }
        memcpy(g->p + g->len, ptr, n);
        g->len += n;
        g->p[g->len] = '\0';
        return n;
}

int http_raw(const char *url, const char *method, const char *path, const char *const *headers,
             const char *body, size_t body_len, struct http_res *res)
{
        struct grow hdr = {0}, out = {0};
        struct curl_slist *l = NULL;
        char full[2048];
        CURL *h;
        CURLcode cc;
        long status = 0;
        int64_t start = harness_now_ms();
        bool has_auth = false;
        int i;

        memset(res, 0, sizeof(*res));
        h = curl_easy_init();
        if (!h)
                return -1;
        snprintf(full, sizeof(full), "%s%s", url, path);
        l = curl_slist_append(l, "Content-Type: application/json");
        l = curl_slist_append(l, "Expect:");
        for (i = 0; headers && headers[i]; i++) {
                if (strncasecmp(headers[i], "Authorization:", 14) == 0)
                        has_auth = true;
                l = curl_slist_append(l, headers[i]);
        }
        if (!has_auth && url_key_find(full)) {
                char line[200];
                snprintf(line, sizeof(line), "Authorization: Bearer %s", url_key_find(full));
                l = curl_slist_append(l, line);
        }
        curl_easy_setopt(h, CURLOPT_URL, full);
        if (url_ca_find(full))
                curl_easy_setopt(h, CURLOPT_CAINFO, url_ca_find(full));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 90000L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grow_add);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, grow_add);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdr);
        if (body) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                if (strcmp(method, "POST") != 0)
                        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        } else if (strcmp(method, "GET") != 0) {
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        }
        cc = curl_easy_perform(h);
        /* A server may answer (413) and close before reading a large body; libcurl
         * then reports a send error although a status arrived. */
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        res->status = (int)status;
        res->elapsed_ms = harness_now_ms() - start;
        res->headers = hdr.p ? hdr.p : strdup("");
        res->body = out.p ? out.p : strdup("");
        res->body_len = out.len;
        if (res->body && res->body_len)
                res->json = json_loadb(res->body, res->body_len, 0, NULL);
        curl_slist_free_all(l);
        curl_easy_cleanup(h);
        if (cc != CURLE_OK && status == 0) {
                fprintf(stderr, "http_raw %s %s: %s\n", method, full, curl_easy_strerror(cc));
                return -1;
        }
        return 0;
}

int http_json(const char *url, const char *method, const char *path, const char *body,
              struct http_res *res)
{
        return http_raw(url, method, path, NULL, body, body ? strlen(body) : 0, res);
}

int http_json_as(const char *url, const char *key, const char *method, const char *path,
                 const char *body, struct http_res *res)
{
        char line[200];
        const char *hdrs[2] = {line, NULL};

        if (key)
                snprintf(line, sizeof(line), "Authorization: Bearer %s", key);
        else
                snprintf(line, sizeof(line), "Authorization:");
        return http_raw(url, method, path, hdrs, body, body ? strlen(body) : 0, res);
}

void harness_expect(const char *url, const char *key, const char *method, const char *path,
                    const char *body, int status, struct http_res *res)
{
        int rc = key ? http_json_as(url, key, method, path, body, res)
                     : http_json(url, method, path, body, res);

        assert_int_equal(rc, 0);
        if (res->status != status)
                fprintf(stderr, "%s %s: %d %s\n", method, path, res->status, res->body);
        assert_int_equal(res->status, status);
}

void harness_make_key(const struct harness *h, const char *tenant, const char *scopes,
                      const char *extra, char *token, char *id)
{
        struct http_res r;
        char tpart[200] = "";

        if (tenant)
                snprintf(tpart, sizeof(tpart), "\"tenant\": \"%s\", ", tenant);
        http_jsonf(h->url, "POST", "/v1/keys", &r, "{%s\"name\": \"test key\", \"scopes\": %s%s%s}",
                   tpart, scopes, extra ? ", " : "", extra ? extra : "");
        if (r.status != 201 || !jpath_str(r.json, "secret"))
                fail_msg("creating a key (tenant %s, scopes %s): HTTP %d %s", tenant ? tenant : "-",
                         scopes, r.status, r.body);
        snprintf(token, 64, "%s", jpath_str(r.json, "secret"));
        if (id)
                snprintf(id, 24, "%s", jpath_str(r.json, "key.id"));
        http_res_free(&r);
}

void http_res_free(struct http_res *res)
{
        free(res->headers);
        free(res->body);
        json_decref(res->json);
        memset(res, 0, sizeof(*res));
}

const char *http_header(const struct http_res *res, const char *name, char *buf, size_t cap)
{
        const char *p = res->headers;
        size_t n = strlen(name);

        /* Headers of the last answer win (a 100 Continue block may precede it). */
        const char *found = NULL;

        while (p && *p) {
                const char *eol = strchr(p, '\n');
                size_t line = eol ? (size_t)(eol - p) : strlen(p);

                if (line > n && strncasecmp(p, name, n) == 0 && p[n] == ':')
                        found = p;
                p = eol ? eol + 1 : p + line;
        }
        if (!found)
                return NULL;
        found += n + 1;
        while (*found == ' ' || *found == '\t')
                found++;
        n = strcspn(found, "\r\n");
        if (n >= cap)
                n = cap - 1;
        memcpy(buf, found, n);
        buf[n] = '\0';
        return buf;
}

const char *http_error_member(const struct http_res *res, const char *member)
{
        json_t *e = json_object_get(res->json, "error");

        return json_string_value(json_object_get(e, member));
}

void assert_http_error(const struct http_res *res, int status, const char *code, const char *field)
{
        const char *got_code = http_error_member(res, "code");
        const char *got_field = http_error_member(res, "field");
        bool ok = res->status == status && got_code && strcmp(got_code, code) == 0;

        if (ok && field)
                ok = got_field && strcmp(got_field, field) == 0;
        if (!ok)
                print_error("expected %d %s (field %s), got %d: %s\n", status, code,
                            field ? field : "-", res->status, res->body ? res->body : "(none)");
        assert_true(ok);
}

/* ---- small helpers ---- */

void harness_assert_ok(struct baton_client *c, int rc, const char *what, const char *file, int line)
{
        if (rc == 0)
                return;
        {
                const struct baton_error *e = baton_client_last_error(c);

                print_error("%s:%d: %s failed: %d (%s): HTTP %d %s: %s (field %s)\n", file, line,
                            what, rc, baton_strerror(rc), e->http_status, e->code, e->message,
                            e->field);
        }
        _fail(file, line);
}

void harness_assert_err(struct baton_client *c, int got_rc, int rc, int status, const char *code,
                        const char *field, const char *file, int line)
{
        const struct baton_error *e = baton_client_last_error(c);
        bool ok = got_rc == rc && e->http_status == status && strcmp(e->code, code) == 0;

        if (ok && field)
                ok = strcmp(e->field, field) == 0;
        if (ok)
                return;
        print_error("%s:%d: expected rc %d, HTTP %d %s (field %s); got rc %d, HTTP %d %s (field "
                    "%s): %s\n",
                    file, line, rc, status, code, field ? field : "-", got_rc, e->http_status,
                    e->code, e->field, e->message);
        _fail(file, line);
}

void harness_assert_contains(const char *text, const char *needle, const char *file, int line)
{
        if (text && strstr(text, needle))
                return;
        print_error("%s:%d: expected \"%s\" in:\n%s\n", file, line, needle, text ? text : "(null)");
        _fail(file, line);
}

const char *harness_unique(const char *prefix, char *buf, size_t cap)
{
        static int counter;

        snprintf(buf, cap, "%s-%d-%d", prefix, (int)getpid() % 100000, ++counter);
        return buf;
}

int64_t harness_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- JSON and snapshots ---- */

json_t *jpath(const json_t *root, const char *path)
{
        const json_t *v = root;
        char name[128];

        while (v && *path) {
                size_t n = strcspn(path, ".[");

                if (n) {
                        if (n >= sizeof(name))
                                return NULL;
                        memcpy(name, path, n);
                        name[n] = '\0';
                        v = json_object_get(v, name);
                        path += n;
                }
                if (*path == '[') {
                        char *end;
                        long idx = strtol(path + 1, &end, 10);

                        if (*end != ']')
                                return NULL;
                        v = json_array_get(v, (size_t)idx);
                        path = end + 1;
                }
                if (*path == '.')
                        path++;
        }
        return (json_t *)v;
}

const char *jpath_str(const json_t *root, const char *path)
{
        return json_string_value(jpath(root, path));
}

int64_t jpath_int(const json_t *root, const char *path)
{
        json_t *v = jpath(root, path);

        return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

bool jpath_true(const json_t *root, const char *path)
{
        return json_is_true(jpath(root, path));
}

int http_jsonf(const char *url, const char *method, const char *path, struct http_res *res,
               const char *fmt, ...)
{
        va_list ap;
        char *body = NULL;
        int n, rc;

        va_start(ap, fmt);
        n = vasprintf(&body, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        rc = http_json(url, method, path, body, res);
        free(body);
        return rc;
}

int64_t harness_parse_time(const char *s)
{
        struct tm tm;
        int ms = 0;
        char *end;
        time_t t;

        if (!s)
                return -1;
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
                return -1;
        if (*end == '.') {
                int scale = 100;

                for (end++; *end >= '0' && *end <= '9'; end++) {
                        ms += (*end - '0') * scale;
                        scale /= 10;
                }
        }
        if (*end != 'Z')
                return -1;
        t = timegm(&tm);
        return (int64_t)t * 1000 + ms;
}

int harness_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
        int rc = pthread_create(t, NULL, fn, arg);

        if (rc)
                fail_msg("pthread_create: %s", strerror(rc));
        return rc;
}

void harness_join(pthread_t t)
{
        pthread_join(t, NULL);
}

char *harness_repeat(char ch, size_t n)
{
        char *s = malloc(n + 1);

        if (!s)
                abort();
        memset(s, ch, n);
        s[n] = '\0';
        return s;
}

char *harness_read_doc(const char *rel)
{
        const char *root = getenv("BATON_SRC");
        char path[4096], *text = NULL;
        size_t cap = 0;
        FILE *f;

        assert_non_null(root);
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        f = fopen(path, "r");
        if (!f)
                fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        assert_non_null(f);
        assert_true(getdelim(&text, &cap, '\0', f) > 0);
        fclose(f);
        return text;
}

char *harness_doc_block(const char *text, const char *marker, const char *lang, const char *what)
{
        const char *at = strstr(text, marker), *open = NULL, *close = NULL;
        char fence[32];
        char *out;

        snprintf(fence, sizeof(fence), "```%s\n", lang);
        if (at)
                open = strstr(at, fence);
        if (open)
                close = strstr(open + strlen(fence), "\n```");
        if (!close)
                fprintf(stderr, "%s: no %s block after \"%s\"\n", what, fence, marker);
        assert_non_null(close);
        open += strlen(fence);
        out = strndup(open, (size_t)(close - open) + 1); /* with its last newline */
        assert_non_null(out);
        return out;
}
