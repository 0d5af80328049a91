/*
 * ui.h: batond's web dashboard at /ui/ (docs/api.md, "Web dashboard"). The
 * files come from ui_assets.h, compiled in; the page itself talks to the
 * public API with a session cookie (api_sessions.c).
 */
#ifndef BATON_SERVER_UI_H
#define BATON_SERVER_UI_H

#include <stdbool.h>

#include "server/http.h"

/* True when a raw request path is the dashboard's: "/ui" or anything under
 * "/ui/". */
bool ui_path(const char *path);

/* Answers a request for a dashboard path (hr is freed): an asset by its exact
 * path, or index.html for any other path under /ui/ (the page routes on the
 * client). GET and HEAD only; every answer carries the security headers. */
void ui_serve(struct http_req *hr);

#endif
