/*
 * http_tls.c: HTTPS on batond's listener (OpenSSL). With --tls-cert and
 * --tls-key the listener speaks TLS 1.2 and 1.3 only; the certificate chain
 * and key are read at start (a bad pair stops the start) and again on
 * SIGHUP, when a new context replaces the old one for new connections while
 * open connections keep theirs (OpenSSL counts a context's users, so the old
 * one is freed with its last connection): renewing a certificate drops no
 * connection. A reload that fails keeps the old certificate and says why.
 *
 * Workload: one handshake per connection, then records in both directions;
 * the I/O itself is in http_conn.c (conn_recv, conn_send). Assumptions: the
 * loop thread only; one context at a time.
 */
#include "server/http_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/log.h"

struct http_tls {
        SSL_CTX *ctx;
        char cert[4096];
        char key[4096];
};

/* The first error OpenSSL queued, as text, and the queue cleared. */
static void tls_error(char *out, size_t cap)
{
        unsigned long e = ERR_get_error();

        if (e)
                ERR_error_string_n(e, out, cap);
        else
                snprintf(out, cap, "unknown error");
        ERR_clear_error();
}

/* A server context for the pair of files. Returns it, or NULL with why. */
static SSL_CTX *ctx_load(const char *cert, const char *key, char *why, size_t cap)
{
        SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

        if (!ctx) {
                tls_error(why, cap);
                return NULL;
        }
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        /* Answers are written from a buffer that may move between retries, in
         * pieces as the socket takes them. */
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
                tls_error(why, cap);
                SSL_CTX_free(ctx);
                return NULL;
        }
        return ctx;
}

int http_tls_new(const char *cert, const char *key, struct http_tls **out)
{
        struct http_tls *t = calloc(1, sizeof(*t));
        char why[256];

        if (!t)
                return BATON_ENOMEM;
        snprintf(t->cert, sizeof(t->cert), "%s", cert);
        snprintf(t->key, sizeof(t->key), "%s", key);
        t->ctx = ctx_load(cert, key, why, sizeof(why));
        if (!t->ctx) {
                log_error("tls", "cannot use certificate %s and key %s: %s", cert, key, why);
                free(t);
                return BATON_EINVAL;
        }
        *out = t;
        return 0;
}

int http_tls_reload(struct http_tls *t)
{
        char why[256];
        SSL_CTX *ctx = ctx_load(t->cert, t->key, why, sizeof(why));

        if (!ctx) {
                log_error("tls", "reload of %s and %s failed, the old certificate stays: %s",
                          t->cert, t->key, why);
                return BATON_EINVAL;
        }
        /* Connections made with the old context hold a reference to it. */
        SSL_CTX_free(t->ctx);
        t->ctx = ctx;
        log_info("tls", "certificate %s reloaded", t->cert);
        return 0;
}

SSL *http_tls_accept(struct http_tls *t, int fd)
{
        SSL *ssl = SSL_new(t->ctx);

        if (!ssl)
                return NULL;
        if (SSL_set_fd(ssl, fd) != 1) {
                SSL_free(ssl);
                return NULL;
        }
        SSL_set_accept_state(ssl);
        return ssl;
}

void http_tls_free(struct http_tls *t)
{
        if (!t)
                return;
        SSL_CTX_free(t->ctx);
        free(t);
}
