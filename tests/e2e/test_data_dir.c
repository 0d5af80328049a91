/*
 * test_data_dir.c: the data directory's permissions (docs/operations.md "The
 * data directory"): every file batond creates there is mode 0600 (baton.db,
 * -wal, -shm, admin.key, node-id) whatever the umask it was started with, a
 * directory it creates is 0700, a database an older batond left at 0644 is
 * tightened, and an existing group- or world-writable directory is refused at
 * start with a message and exit code 1, before anything is created in it.
 *
 * The test process runs with umask 0, so a file created with the default mode
 * would be 0644 or 0666 and the checks would see it. Every server is stopped
 * by its pid; every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/harness.h"

static bool on_postgres(void)
{
        const char *which = getenv("BATON_TEST_STORE");

        return which && strcmp(which, "postgres") == 0;
}

/* The permission bits of path, or -1 when it does not exist. */
static int mode_of(const char *path)
{
        struct stat sb;

        if (lstat(path, &sb) != 0)
                return -1;
        return (int)(sb.st_mode & 07777);
}

static void assert_mode(const char *dir, const char *name, int want)
{
        char p[512];
        int got;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        got = mode_of(p);
        if (got != want)
                fprintf(stderr, "%s: mode %03o, want %03o\n", p, (unsigned)got, (unsigned)want);
        assert_int_equal(got, want);
}

/* Enqueues and claims a job so that the database, its WAL and its index
 * exist, then checks every file of dir. */
static void check_files(struct harness *h, const char *dir)
{
        struct baton_client *c = harness_client(h);
        char q[64];
        struct baton_job *j;
        struct baton_jobs *got;

        harness_unique("dd", q, sizeof(q));
        j = harness_enqueue(c, q, "t", "{\"secret\": \"payload\"}");
        baton_job_free(j);
        got = harness_claim(c, q, 1, 0, 0);
        baton_jobs_free(got);
        baton_client_free(c);
        if (!on_postgres()) {
                assert_mode(dir, "baton.db", 0600);
                assert_mode(dir, "baton.db-wal", 0600);
                assert_mode(dir, "baton.db-shm", 0600);
        }
        assert_mode(dir, "admin.key", 0600);
        assert_mode(dir, "node-id", 0600);
}

static void files_are_private(void **state)
{
        struct harness h;

        (void)state;
        assert_int_equal(harness_start(&h, NULL), 0);
        check_files(&h, h.data_dir);
        assert_int_equal(harness_stop(&h), 0);
}

/* A directory batond creates itself is 0700, its files 0600. */
static void created_dir_is_private(void **state)
{
        char root[] = "/tmp/baton-dd-XXXXXX", dir[64], cmd[128];
        const char *args[] = {"--data", dir, NULL};
        struct harness h;

        (void)state;
        assert_non_null(mkdtemp(root));
        snprintf(dir, sizeof(dir), "%s/fresh", root);
        assert_int_equal(harness_start(&h, args), 0);
        assert_int_equal(mode_of(dir), 0700);
        /* The harness reads admin.key from its own directory: this one's. */
        snprintf(cmd, sizeof(cmd), "%s/admin.key", dir);
        {
                FILE *f = fopen(cmd, "r");
                assert_non_null(f);
                assert_non_null(fgets(h.admin_key, sizeof(h.admin_key), f));
                fclose(f);
                h.admin_key[strcspn(h.admin_key, "\n")] = 0;
        }
        check_files(&h, dir);
        assert_int_equal(harness_stop(&h), 0);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

/* A baton.db an older batond created at 0644 is set to 0600. */
static void open_database_is_tightened(void **state)
{
        struct harness h;
        char p[512];
        int fd;

        (void)state;
        if (on_postgres())
                skip();
        assert_int_equal(harness_start(&h, NULL), 0);
        assert_int_equal(harness_shutdown(&h), 0);
        snprintf(p, sizeof(p), "%s/baton.db", h.data_dir);
        assert_int_equal(chmod(p, 0644), 0);
        fd = open(p, O_RDONLY);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(harness_restart(&h), 0);
        check_files(&h, h.data_dir);
        assert_int_equal(harness_stop(&h), 0);
}

/* 0777, 0775, 0770, 0722 and 1777 (sticky, like /tmp) are refused with the
 * message and exit 1; nothing is created in the directory. */
static void writable_dir_refused(void **state)
{
        static const int modes[] = {0777, 0775, 0770, 0722, 01777};
        char root[] = "/tmp/baton-dd-XXXXXX", dir[64], p[128];
        const char *const args[] = {"--listen", "127.0.0.1:0", "--data", dir, NULL};
        struct harness_run run = {.args = args, .timeout_ms = 5000};

        (void)state;
        if (on_postgres())
                skip(); /* the check does not depend on the store */
        assert_non_null(mkdtemp(root));
        snprintf(dir, sizeof(dir), "%s/open", root);
        assert_int_equal(mkdir(dir, 0700), 0);
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                const char *err;
                int code;

                assert_int_equal(chmod(dir, (mode_t)modes[i]), 0);
                code = harness_run(&run);
                err = run.err;
                if (code != 1 || !strstr(err, "group- or world-writable"))
                        fprintf(stderr, "mode %04o: exit %d, stderr: %s\n", modes[i], code, err);
                assert_int_equal(code, 1);
                assert_non_null(strstr(err, "refusing data directory"));
                assert_non_null(strstr(err, "group- or world-writable"));
                assert_non_null(strstr(err, "chmod 700"));
                /* Still the mode it had: batond does not "fix" it silently. */
                assert_int_equal(mode_of(dir), modes[i]);
                snprintf(p, sizeof(p), "%s/baton.db", dir);
                assert_int_equal(mode_of(p), -1);
                snprintf(p, sizeof(p), "%s/admin.key", dir);
                assert_int_equal(mode_of(p), -1);
                snprintf(p, sizeof(p), "%s/node-id", dir);
                assert_int_equal(mode_of(p), -1);
        }
        harness_run_free(&run);
        rmdir(dir);
        rmdir(root);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(files_are_private),
            cmocka_unit_test(created_dir_is_private),
            cmocka_unit_test(open_database_is_tightened),
            cmocka_unit_test(writable_dir_refused),
        };

        /* A permissive umask, so that only batond's own choices keep its
         * files private. */
        umask(0);
        return cmocka_run_group_tests_name("data_dir", tests, NULL, NULL);
}
