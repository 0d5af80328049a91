/*
 * pgtest.c: PostgreSQL scratch schemas for tests (see pgtest.h). Each call
 * opens a short connection of its own: creating and dropping a schema happens
 * once per test, so the connection setup (a few ms on loopback) is not worth
 * keeping state for. Schema names combine the pid and the clock (seconds and
 * nanoseconds), so neither parallel test processes nor two schemas of one
 * process collide.
 */
#include "support/pgtest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

bool pgtest_available(void)
{
        const char *uri = getenv("BATON_TEST_PG_URI");

        return uri && *uri;
}

int pgtest_exec(const char *sql)
{
        PGconn *c;
        PGresult *r = NULL;
        int rc = -1;

        if (!pgtest_available()) {
                fprintf(stderr, "pgtest: BATON_TEST_PG_URI is not set\n");
                return -1;
        }
        c = PQconnectdb(getenv("BATON_TEST_PG_URI"));
        if (PQstatus(c) == CONNECTION_OK) {
                PQclear(PQexec(c, "SET client_min_messages = warning"));
                r = PQexec(c, sql);
                rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK
                         ? 0
                         : -1;
                if (rc)
                        fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
        } else {
                fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
        }
        PQclear(r);
        PQfinish(c);
        return rc;
}

int pgtest_create(struct pgtest *t)
{
        const char *uri = getenv("BATON_TEST_PG_URI");
        struct timespec ts;
        char sql[128];

        memset(t, 0, sizeof(*t));
        if (!pgtest_available()) {
                fprintf(stderr, "pgtest: BATON_TEST_PG_URI is not set\n");
                return -1;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(t->scope, sizeof(t->scope), "baton_test_%ld_%ld_%ld", (long)getpid(),
                 (long)(ts.tv_sec % 100000), (long)ts.tv_nsec);
        snprintf(t->uri, sizeof(t->uri), "%s%soptions=-csearch_path%%3D%s", uri,
                 strchr(uri, '?') ? "&" : "?", t->scope);
        snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", t->scope);
        if (pgtest_exec(sql) != 0) {
                t->scope[0] = '\0';
                return -1;
        }
        return 0;
}

void pgtest_drop(struct pgtest *t)
{
        char sql[128];

        if (!t->scope[0])
                return;
        snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", t->scope);
        pgtest_exec(sql);
        t->scope[0] = '\0';
}
