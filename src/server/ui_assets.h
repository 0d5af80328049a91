/*
 * ui_assets.h: the web dashboard's files, compiled into batond. The table is
 * generated at build time by ui/embed.mjs from the Vite build of ui/ (a C
 * source in the build tree, see CMakeLists.txt); ui.c serves it. Each file is
 * kept twice, as built and gzip-compressed, so an answer is a copy of bytes
 * whatever the client accepts, and the binary needs no zlib.
 */
#ifndef BATON_SERVER_UI_ASSETS_H
#define BATON_SERVER_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
        const char *path;         /* "/ui/index.html", "/ui/assets/index-1a2b3c.js" */
        const char *content_type; /* "text/javascript; charset=utf-8" */
        const unsigned char *raw;
        size_t raw_len;
        const unsigned char *gz; /* the same bytes, gzip-compressed */
        size_t gz_len;
        const char *etag;    /* strong ETag of raw, quoted */
        const char *etag_gz; /* strong ETag of gz, quoted */
};

extern const struct ui_asset ui_assets[];
extern const int ui_assets_n;
/* Bytes of every gz array together: the UI's compressed size. */
extern const long ui_assets_gz_bytes;

#endif
