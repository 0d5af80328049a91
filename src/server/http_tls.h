/*
 * http_tls.h: the TLS context of batond's listener (http_tls.c): loaded at
 * start from --tls-cert and --tls-key, reloaded on SIGHUP without dropping
 * connections.
 */
#ifndef BATON_SERVER_HTTP_TLS_H
#define BATON_SERVER_HTTP_TLS_H

#include <openssl/ssl.h>

struct http_tls;

/* Loads the PEM certificate chain and private key. *out is owned by the
 * caller (http_tls_free). Returns 0, or BATON_EINVAL (logged with OpenSSL's
 * reason) when the files cannot be used. */
int http_tls_new(const char *cert, const char *key, struct http_tls **out);
/* Reads both files again; new connections use the new pair, open ones keep
 * the one they started with. Returns 0, or BATON_EINVAL with the old pair
 * kept. */
int http_tls_reload(struct http_tls *t);
/* A server-side SSL for an accepted socket (owned by the caller: SSL_free),
 * or NULL. */
SSL *http_tls_accept(struct http_tls *t, int fd);
void http_tls_free(struct http_tls *t);

#endif
