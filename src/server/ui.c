/*
 * ui.c: serves the web dashboard's compiled-in files (ui_assets.h). A path
 * that names a file gets it; /ui/assets/ names a file or is 404 (a hashed
 * name that does not exist is a stale page, not a route); any other path
 * under /ui/ gets index.html, since the page routes on the client
 * (/ui/jobs/12 is a page, not a file). Hashed assets are cached for a year
 * (their name changes with their content); index.html is revalidated every
 * time (no-cache), so a new batond is picked up on the next load. Each file
 * is sent gzip-compressed when the client accepts it, else as built, with the
 * strong ETag of the bytes sent; If-None-Match answers 304.
 *
 * Every answer, errors included, carries the dashboard's security headers: a
 * Content-Security-Policy that allows only this origin's script and style (no
 * inline script), frame denial, no MIME sniffing and no referrer.
 *
 * Workload: a page load is a handful of requests; a lookup is a scan of a
 * table of a few files. Loop thread only. Assumes ui_assets holds index.html
 * (embed.mjs is run on a Vite build, which always writes it).
 */
#include "server/ui.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "server/ui_assets.h"

#define UI_CSP                                                                                     \
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
#define UI_ASSETS_PREFIX "/ui/assets/"

bool ui_path(const char *path)
{
        return strncmp(path, "/ui", 3) == 0 && (path[3] == '\0' || path[3] == '/');
}

static const struct ui_asset *asset_find(const char *path)
{
        for (int i = 0; i < ui_assets_n; i++)
                if (strcmp(ui_assets[i].path, path) == 0)
                        return &ui_assets[i];
        return NULL;
}

/* Does an Accept-Encoding value accept gzip? Each member is "coding" with
 * optional parameters; "gzip" or "*" accepts unless its q is zero (RFC 9110
 * §12.5.3). Missing header: no. */
static bool accepts_gzip(const char *v)
{
        bool gzip = false, star = false, gzip_seen = false;

        while (v && *v) {
                size_t n;
                const char *q;
                bool zero = false, is_gzip, is_star;

                while (*v == ' ' || *v == '\t' || *v == ',')
                        v++;
                n = strcspn(v, ";, \t");
                is_gzip = (n == 4 && strncasecmp(v, "gzip", 4) == 0) ||
                          (n == 6 && strncasecmp(v, "x-gzip", 6) == 0);
                is_star = n == 1 && v[0] == '*';
                v += n;
                /* The member's parameters, up to the next comma. */
                n = strcspn(v, ",");
                q = strcasestr(v, "q=");
                if (q && q < v + n) {
                        q += 2;
                        zero = q[0] == '0';
                        for (const char *d = q + 1; zero && d < v + n && *d != ' ' && *d != ';';
                             d++)
                                zero = *d == '.' || *d == '0';
                }
                if (is_gzip) {
                        gzip_seen = true;
                        gzip = !zero;
                }
                if (is_star)
                        star = !zero;
                v += n;
        }
        return gzip || (!gzip_seen && star);
}

/* Does If-None-Match name etag (or "*")? The comparison is weak, as RFC 9110
 * §13.1.2 has it for this header: W/"x" matches "x". */
static bool etag_matches(const char *inm, const char *etag)
{
        if (!inm)
                return false;
        return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
}

static void security_headers(struct http_req *hr)
{
        http_set_header(hr, "Content-Security-Policy", UI_CSP);
        http_set_header(hr, "X-Frame-Options", "DENY");
        http_set_header(hr, "X-Content-Type-Options", "nosniff");
        http_set_header(hr, "Referrer-Policy", "no-referrer");
}

void ui_serve(struct http_req *hr)
{
        const char *path = hr->head.path;
        const struct ui_asset *a = asset_find(path);
        bool gz, hashed = strncmp(path, UI_ASSETS_PREFIX, sizeof(UI_ASSETS_PREFIX) - 1) == 0;
        const char *etag;

        security_headers(hr);
        if (hr->method != HTTP_GET && hr->method != HTTP_HEAD) {
                http_set_header(hr, "Allow", "GET, HEAD");
                http_reply_error(hr, 405, "method_not_allowed", NULL,
                                 "the dashboard's files are read with GET or HEAD");
                return;
        }
        if (!a && hashed) {
                http_reply_error(hr, 404, "not_found", NULL,
                                 "no such dashboard file (a page from an older batond? reload it)");
                return;
        }
        if (!a)
                a = asset_find("/ui/index.html");
        if (!a) {
                http_reply_error(hr, 500, "internal", NULL,
                                 "the dashboard was built without "
                                 "index.html");
                return;
        }
        gz = accepts_gzip(http_header(hr, "Accept-Encoding"));
        etag = gz ? a->etag_gz : a->etag;
        http_set_header(hr, "Cache-Control",
                        hashed ? "public, max-age=31536000, immutable" : "no-cache");
        http_set_header(hr, "ETag", etag);
        http_set_header(hr, "Vary", "Accept-Encoding");
        if (etag_matches(http_header(hr, "If-None-Match"), etag)) {
                http_reply_raw(hr, 304, a->content_type, "", 0);
                return;
        }
        if (gz)
                http_set_header(hr, "Content-Encoding", "gzip");
        http_reply_raw(hr, 200, a->content_type, (const char *)(gz ? a->gz : a->raw),
                       gz ? a->gz_len : a->raw_len);
}
