/*
 * test_tls.c: HTTPS on batond's listener (--tls-cert, --tls-key). libbaton
 * and the curl command talk to it with the server's self-signed certificate
 * as their trust anchor; a plain HTTP request gets no answer; SIGHUP loads a
 * renewed certificate for new connections while an open connection goes on
 * with the one it has, and a broken renewal keeps the old one; a half or a
 * broken configuration stops the start.
 *
 * Certificates are made with the openssl command in a temporary directory.
 * The TLS layer does not touch the store: SQLite only (tests/CMakeLists.txt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/harness.h"
#include "support/rawhttp.h"

static char dir[256];
static char cert[300], key[300];
static struct harness srv;

/* A self-signed certificate for 127.0.0.1 with common name cn, written to
 * cert_path and key_path. */
static int make_cert(const char *cn, const char *cert_path, const char *key_path)
{
        char cmd[1024];

        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                 "-days 2 -subj /CN=%s -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s "
                 ">/dev/null 2>&1",
                 cn, key_path, cert_path);
        return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
        const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};

        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/baton-tls-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        if (make_cert("baton-one", cert, key) != 0)
                return -1;
        return harness_start(&srv, args);
}

static int teardown(void **state)
{
        char cmd[300];

        (void)state;
        harness_stop(&srv);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void https_with_libbaton_and_curl(void **state)
{
        struct baton_client *cl = harness_client(&srv);
        struct baton_job *j;
        struct baton_jobs *got;
        char cmd[700], line[256] = "";
        FILE *p;

        (void)state;
        assert_int_equal(strncmp(srv.url, "https://", 8), 0);
        j = harness_enqueue(cl, "tls", "t", "{\"n\":1}");
        got = harness_claim(cl, "tls", 1, 0, 0);
        assert_int_equal(got->n, 1);
        assert_ok(cl, baton_complete(cl, got->v[0].id, got->v[0].lease, "{}", NULL));
        assert_int_equal(harness_job_state(cl, j->id), BATON_STATE_COMPLETED);
        baton_jobs_free(got);
        baton_job_free(j);
        baton_client_free(cl);
        snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 --cacert %s %s/healthz", cert, srv.url);
        p = popen(cmd, "r");
        assert_non_null(p);
        if (!fgets(line, sizeof(line), p))
                line[0] = '\0';
        pclose(p);
        assert_non_null(strstr(line, "\"ok\""));
        /* Without the certificate curl does not trust the server. */
        snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 %s/healthz >/dev/null", srv.url);
        assert_int_not_equal(system(cmd), 0);
}

/* Under TLS the dashboard's session cookie is Secure (docs/api.md,
 * "Dashboard sessions"). */
static void session_cookie_is_secure(void **state)
{
        static const char *const no_auth[] = {"Authorization:", NULL};
        char body[200], sc[512];
        struct http_res r;

        (void)state;
        snprintf(body, sizeof(body), "{\"key\": \"%s\"}", srv.admin_key);
        assert_int_equal(http_raw(srv.url, "POST", "/v1/sessions", no_auth, body, strlen(body), &r),
                         0);
        assert_int_equal(r.status, 201);
        assert_non_null(http_header(&r, "Set-Cookie", sc, sizeof(sc)));
        assert_contains(sc, "; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200; Secure");
        http_res_free(&r);
}

static void plain_http_gets_no_answer(void **state)
{
        struct raw_reader *rd = calloc(1, sizeof(*rd));
        struct raw_res res;
        struct http_res r;

        (void)state;
        rd->fd = raw_connect(srv.port);
        assert_true(rd->fd >= 0);
        raw_sends(rd->fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_int_not_equal(raw_read_res(rd, 2000, &res), 0);
        close(rd->fd);
        free(rd);
        assert_int_equal(http_json(srv.url, "GET", "/healthz", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_res_free(&r);
}

/* A TLS connection of our own, to see which certificate it got and to keep
 * it open across a reload. */
struct tconn {
        SSL_CTX *ctx;
        SSL *ssl;
        int fd;
};

static void tconn_open(struct tconn *t)
{
        t->ctx = SSL_CTX_new(TLS_client_method());
        assert_non_null(t->ctx);
        t->fd = raw_connect(srv.port);
        assert_true(t->fd >= 0);
        t->ssl = SSL_new(t->ctx);
        SSL_set_fd(t->ssl, t->fd);
        assert_int_equal(SSL_connect(t->ssl), 1);
}

/* The common name of the certificate the server showed. */
static void tconn_cn(struct tconn *t, char *out, size_t cap)
{
        X509 *x = SSL_get1_peer_certificate(t->ssl);

        assert_non_null(x);
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)cap);
        X509_free(x);
}

/* GET /healthz on the open connection; returns the status. */
static int tconn_health(struct tconn *t)
{
        static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
        char buf[2048] = "";
        int n, got = 0, status = 0;

        assert_int_equal(SSL_write(t->ssl, req, (int)sizeof(req) - 1), (int)sizeof(req) - 1);
        /* Up to the end of the body, so nothing of it is left for the next. */
        while (got < (int)sizeof(buf) - 1 && !strstr(buf, "{\"status\":\"ok\"}")) {
                n = SSL_read(t->ssl, buf + got, (int)sizeof(buf) - 1 - got);
                if (n <= 0)
                        break;
                got += n;
                buf[got] = '\0';
        }
        buf[got] = '\0';
        if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
                status = 0;
        return status;
}

static void tconn_close(struct tconn *t)
{
        SSL_free(t->ssl);
        close(t->fd);
        SSL_CTX_free(t->ctx);
}

static void sighup_reloads_without_dropping(void **state)
{
        struct tconn old, fresh, after_bad;
        char cn[64], newcert[300], newkey[300], *log;

        (void)state;
        tconn_open(&old);
        tconn_cn(&old, cn, sizeof(cn));
        assert_string_equal(cn, "baton-one");
        assert_int_equal(tconn_health(&old), 200);
        /* Renew: new files in place, then SIGHUP. */
        snprintf(newcert, sizeof(newcert), "%s/new-cert.pem", dir);
        snprintf(newkey, sizeof(newkey), "%s/new-key.pem", dir);
        assert_int_equal(make_cert("baton-two", newcert, newkey), 0);
        assert_int_equal(rename(newcert, cert), 0);
        assert_int_equal(rename(newkey, key), 0);
        assert_int_equal(kill(srv.pid, SIGHUP), 0);
        harness_sleep_ms(300);
        /* The open connection goes on with its certificate. */
        assert_int_equal(tconn_health(&old), 200);
        tconn_open(&fresh);
        tconn_cn(&fresh, cn, sizeof(cn));
        assert_string_equal(cn, "baton-two");
        assert_int_equal(tconn_health(&fresh), 200);
        tconn_close(&fresh);
        /* A broken renewal keeps the certificate that works. */
        FILE *f = fopen(cert, "w");
        assert_non_null(f);
        fputs("not a certificate\n", f);
        fclose(f);
        assert_int_equal(kill(srv.pid, SIGHUP), 0);
        harness_sleep_ms(300);
        tconn_open(&after_bad);
        tconn_cn(&after_bad, cn, sizeof(cn));
        assert_string_equal(cn, "baton-two");
        assert_int_equal(tconn_health(&after_bad), 200);
        tconn_close(&after_bad);
        assert_int_equal(tconn_health(&old), 200);
        tconn_close(&old);
        log = harness_read_log(&srv);
        assert_non_null(strstr(log, "the old certificate stays"));
        free(log);
}

static void bad_configuration_stops_the_start(void **state)
{
        char data[300];
        const char *const no_key[] = {"--listen",   "127.0.0.1:0",           "--data", data,
                                      "--tls-cert", "/nonexistent/cert.pem", NULL};
        const char *const missing[] = {"--listen",  "127.0.0.1:0",          "--data",
                                       data,        "--tls-cert",           "/nonexistent/cert.pem",
                                       "--tls-key", "/nonexistent/key.pem", NULL};
        struct harness_run run = {.args = no_key};

        (void)state;
        snprintf(data, sizeof(data), "%s/data", dir);
        assert_int_equal(harness_run(&run), 2);
        assert_contains(run.err, "--tls-cert and --tls-key go together");
        run.args = missing;
        assert_int_not_equal(harness_run(&run), 0);
        assert_contains(run.err, "cannot use certificate /nonexistent/cert.pem");
        harness_run_free(&run);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(https_with_libbaton_and_curl),
            cmocka_unit_test(session_cookie_is_secure),
            cmocka_unit_test(plain_http_gets_no_answer),
            cmocka_unit_test(sighup_reloads_without_dropping),
            cmocka_unit_test(bad_configuration_stops_the_start),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
