/*
 * test_ui.c: how batond serves the web dashboard's compiled-in files
 * (docs/api.md, "Web dashboard"): index.html for /ui/ and for any page path
 * under it (client-side routing), hashed assets with a year's cache, gzip
 * when the client accepts it and the same bytes decompressed when it does
 * not, strong ETags and 304 on If-None-Match, HEAD without a body, 404 for a
 * missing asset, 405 for other methods, the security headers on every answer
 * and the UI's compressed size within its 200 KB budget.
 *
 * The files do not touch the store, so this file runs on SQLite only
 * (tests/CMakeLists.txt). Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/harness.h"
#include "support/rawhttp.h"

#define CSP                                                                                        \
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
#define UI_BUDGET_BYTES (200 * 1024)

static struct harness srv;

static int setup(void **state)
{
        (void)state;
        return harness_start(&srv, NULL);
}

static int teardown(void **state)
{
        (void)state;
        return harness_stop(&srv);
}

/* GET path with extra header lines (NULL-terminated, may be NULL). */
static void get(const char *path, const char *const *hdrs, struct http_res *res)
{
        assert_int_equal(http_raw(srv.url, "GET", path, hdrs, NULL, 0, res), 0);
}

static void assert_header(const struct http_res *res, const char *name, const char *want)
{
        char v[512];

        if (!http_header(res, name, v, sizeof(v)) || strcmp(v, want) != 0) {
                fprintf(stderr, "%s: want \"%s\", got \"%s\"\nheaders:\n%s\n", name, want,
                        http_header(res, name, v, sizeof(v)) ? v : "(none)", res->headers);
                fail();
        }
}

static void assert_security_headers(const struct http_res *res)
{
        assert_header(res, "Content-Security-Policy", CSP);
        assert_header(res, "X-Frame-Options", "DENY");
        assert_header(res, "X-Content-Type-Options", "nosniff");
        assert_header(res, "Referrer-Policy", "no-referrer");
}

/* The first "/ui/assets/...<ext>" that index.html references, into out. */
static void asset_ref(const char *html, const char *ext, char *out, size_t cap)
{
        const char *p = html;

        out[0] = '\0';
        while ((p = strstr(p, "\"/ui/assets/")) != NULL) {
                const char *end = strchr(p + 1, '"');
                size_t n = end ? (size_t)(end - p - 1) : 0;
                if (n > strlen(ext) && n < cap &&
                    strncmp(end - strlen(ext), ext, strlen(ext)) == 0) {
                        memcpy(out, p + 1, n);
                        out[n] = '\0';
                        return;
                }
                p++;
        }
}

/* gzip -dc of bytes, compared with want. */
static void assert_gunzips_to(const char *gz, size_t gz_len, const char *want, size_t want_len)
{
        char path[320], cmd[400];
        FILE *f, *p;
        char *got = malloc(want_len + 2);
        size_t n;

        assert_non_null(got);
        snprintf(path, sizeof(path), "%s/asset.gz", srv.root);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(gz, 1, gz_len, f), gz_len);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
        p = popen(cmd, "r");
        assert_non_null(p);
        n = fread(got, 1, want_len + 1, p);
        assert_int_equal(pclose(p), 0);
        assert_int_equal(n, want_len);
        assert_memory_equal(got, want, want_len);
        free(got);
}

static void index_for_every_page(void **state)
{
        static const char *const pages[] = {"/ui",          "/ui/jobs",
                                            "/ui/jobs/12",  "/ui/queues/a%20b/x",
                                            "/ui/cron/k?x", "/ui/jobs?queue=q&state=dead"};
        struct http_res idx, res;
        char etag[128], v[128];

        (void)state;
        get("/ui/", NULL, &idx);
        assert_int_equal(idx.status, 200);
        assert_security_headers(&idx);
        assert_header(&idx, "Content-Type", "text/html; charset=utf-8");
        assert_header(&idx, "Cache-Control", "no-cache");
        assert_non_null(http_header(&idx, "ETag", etag, sizeof(etag)));
        assert_true(etag[0] == '"' && etag[strlen(etag) - 1] == '"');
        assert_null(http_header(&idx, "Content-Encoding", v, sizeof(v)));
        assert_contains(idx.body, "<div id=\"app\">");
        assert_contains(idx.body, "<script type=\"module\" crossorigin src=\"/ui/assets/");
        /* No inline script: every <script> names its source. */
        for (const char *p = idx.body; (p = strstr(p, "<script")) != NULL; p++) {
                const char *end = strchr(p, '>');
                assert_non_null(end);
                assert_true(memmem(p, (size_t)(end - p), " src=", 5) != NULL);
        }
        for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
                get(pages[i], NULL, &res);
                assert_int_equal(res.status, 200);
                assert_security_headers(&res);
                assert_header(&res, "ETag", etag);
                assert_int_equal(res.body_len, idx.body_len);
                http_res_free(&res);
        }
        /* Not the dashboard: the API's 404. */
        get("/uix", NULL, &res);
        assert_http_error(&res, 404, "route_not_found", NULL);
        http_res_free(&res);
        http_res_free(&idx);
}

static void assets_gzip_etag_and_cache(void **state)
{
        static const char *const gzip_hdr[] = {"Accept-Encoding: gzip, deflate", NULL};
        static const char *const gzip_q0[] = {"Accept-Encoding: gzip;q=0, br", NULL};
        struct http_res idx, raw, gz, res;
        char js[256], css[256], etag_raw[128], etag_gz[128], line[200];
        const char *inm[2] = {line, NULL};
        long total_gz = 0;

        (void)state;
        get("/ui/", gzip_hdr, &idx);
        assert_int_equal(idx.status, 200);
        assert_header(&idx, "Content-Encoding", "gzip");
        assert_header(&idx, "Vary", "Accept-Encoding");
        total_gz += (long)idx.body_len;
        http_res_free(&idx);
        get("/ui/", NULL, &idx);
        asset_ref(idx.body, ".js", js, sizeof(js));
        asset_ref(idx.body, ".css", css, sizeof(css));
        assert_true(js[0] && css[0]);

        get(js, NULL, &raw);
        assert_int_equal(raw.status, 200);
        assert_security_headers(&raw);
        assert_header(&raw, "Content-Type", "text/javascript; charset=utf-8");
        assert_header(&raw, "Cache-Control", "public, max-age=31536000, immutable");
        assert_null(http_header(&raw, "Content-Encoding", line, sizeof(line)));
        assert_non_null(http_header(&raw, "ETag", etag_raw, sizeof(etag_raw)));
        get(js, gzip_hdr, &gz);
        assert_int_equal(gz.status, 200);
        assert_header(&gz, "Content-Encoding", "gzip");
        assert_non_null(http_header(&gz, "ETag", etag_gz, sizeof(etag_gz)));
        assert_string_not_equal(etag_raw, etag_gz);
        assert_true(gz.body_len > 2 && (unsigned char)gz.body[0] == 0x1f &&
                    (unsigned char)gz.body[1] == 0x8b);
        assert_true(gz.body_len < raw.body_len);
        assert_gunzips_to(gz.body, gz.body_len, raw.body, raw.body_len);
        total_gz += (long)gz.body_len;

        /* q=0 refuses gzip. */
        get(js, gzip_q0, &res);
        assert_null(http_header(&res, "Content-Encoding", line, sizeof(line)));
        assert_int_equal(res.body_len, raw.body_len);
        http_res_free(&res);

        /* 304 for the representation's own ETag, with no body; the other
         * representation's tag does not match. */
        snprintf(line, sizeof(line), "If-None-Match: %s", etag_raw);
        get(js, inm, &res);
        assert_int_equal(res.status, 304);
        assert_int_equal(res.body_len, 0);
        assert_security_headers(&res);
        assert_header(&res, "ETag", etag_raw);
        http_res_free(&res);
        snprintf(line, sizeof(line), "If-None-Match: W/%s, \"other\"", etag_gz);
        get(js, inm, &res);
        assert_int_equal(res.status, 200);
        http_res_free(&res);

        get(css, gzip_hdr, &res);
        assert_int_equal(res.status, 200);
        assert_header(&res, "Content-Type", "text/css; charset=utf-8");
        total_gz += (long)res.body_len;
        http_res_free(&res);
        print_message("the UI's index, script and style: %ld bytes gzip-compressed\n", total_gz);
        assert_true(total_gz < UI_BUDGET_BYTES);

        get("/ui/assets/index-nothere.js", NULL, &res);
        assert_http_error(&res, 404, "not_found", NULL);
        assert_security_headers(&res);
        http_res_free(&res);
        http_res_free(&raw);
        http_res_free(&gz);
        http_res_free(&idx);
}

static void methods(void **state)
{
        struct http_res res;
        char buf[8192];
        size_t len = 0;
        ssize_t n;
        int fd;
        const char *end;

        (void)state;
        assert_int_equal(http_raw(srv.url, "POST", "/ui/", NULL, "{}", 2, &res), 0);
        assert_http_error(&res, 405, "method_not_allowed", NULL);
        assert_header(&res, "Allow", "GET, HEAD");
        assert_security_headers(&res);
        http_res_free(&res);

        /* HEAD: the headers of the GET, no body (read to the close). */
        fd = raw_connect(srv.port);
        assert_true(fd >= 0);
        assert_int_equal(raw_sends(fd, "HEAD /ui/queues HTTP/1.1\r\nHost: x\r\nConnection: "
                                       "close\r\n\r\n"),
                         0);
        for (int i = 0; i < 200 && len < sizeof(buf) - 1; i++) {
                n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        close(fd);
        buf[len] = '\0';
        assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
        assert_contains(buf, "Content-Security-Policy: " CSP "\r\n");
        end = strstr(buf, "\r\n\r\n");
        assert_non_null(end);
        assert_int_equal((size_t)(end + 4 - buf), len);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(index_for_every_page),
            cmocka_unit_test(assets_gzip_etag_and_cache),
            cmocka_unit_test(methods),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
