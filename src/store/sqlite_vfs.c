/*
 * sqlite_vfs.c: the VFS the SQLite store opens its database through. It is a
 * shim over another VFS (the default unix one, or the one store_opts names,
 * such as the tests' fault VFS) that passes every call through, except the
 * writes to the write-ahead log: SQLite writes each WAL frame as two writes,
 * its 24-byte header and its page, so a commit of n frames costs 2n pwrite
 * calls, and a system call costs several microseconds on the machines batond
 * runs on. The shim gathers the frames of a transaction in a buffer and
 * writes them with one pwrite when the commit frame is complete.
 *
 * Workload: the store thread's group commit, a handful to a few dozen frames
 * per commit, always appended at the end of the log; checkpoints and the
 * rewrite of a frame already written are rare.
 *
 * Assumptions, taken from SQLite's WAL format (fileformat2.html, "WAL
 * format") and wal.c: a frame is written as its 24-byte header, then its page
 * at the next offset; the header of the last frame of a transaction has a
 * non-zero "database size after commit" (bytes 4..7, big-endian); SQLite
 * updates the wal-index (which other connections and processes trust, the
 * backups of docs/operations.md included) only after the writes of all the
 * frames of the commit have returned. So the buffer is written out as soon as
 * the page after a commit header is in it: when SQLite goes on to the
 * wal-index, the frames are in the file, with --sync full or normal. Every
 * other call that could observe or reorder the file's content (a write that
 * does not append to the buffer, xRead, xTruncate, xSync, xFileSize,
 * xFileControl, xClose) writes the buffer out first. The WAL is read and
 * written only by the connection that opened it, and other processes read
 * the frames only up to the wal-index's last commit, so frames still in the
 * buffer are invisible to everyone, as they would be to a crash.
 *
 * A failed write of the buffer fails the SQLite call that triggered it with
 * the code the VFS below returned (SQLITE_IOERR_WRITE, SQLITE_FULL), and the
 * buffer is dropped: the commit fails and SQLite rolls the transaction back,
 * as it does when its own write of a frame fails; frames past the wal-index's
 * last commit are never read.
 *
 * One VFS is registered per VFS below it, under SQLITE_VFS_PREFIX followed by
 * that VFS's name, once per process (under SQLite's static application mutex,
 * so two stores opening at once register it once); it lives as long as the
 * process, in SQLite's list of VFSes.
 */
#include "store/sqlite_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/errors.h"

#define SQLITE_VFS_PREFIX "baton_wal:"
#define WAL_FRAME_HDR 24
/* The buffer starts at a commit of a few jobs and grows up to WAL_BUF_MAX:
 * the unix VFS writes at most 0x1ffff bytes per call (seekAndWrite masks the
 * length with it, and a write of 128 KiB or more comes back short and is
 * reported as SQLITE_FULL), so a bigger transaction is written in pieces of
 * up to 31 frames of 4 KiB pages, still one call per 31 frames. */
#define WAL_BUF_MIN (32 * 1024)
#define WAL_BUF_MAX (128 * 1024)
#define WAL_WRITE_MAX 0x1ffff

/* A VFS of the shim: SQLite's structure first, so the methods can cast. */
struct wal_vfs {
        sqlite3_vfs base;
        const char *below; /* the name of the VFS below, in name */
        char name[];
};

/* A file of the shim: ours, followed in the same allocation by the file of
 * the VFS below (szOsFile covers both). buf is owned by the file, freed at
 * xClose. */
struct wal_file {
        sqlite3_file base;
        sqlite3_file *real;
        bool gather;       /* the file is a WAL: its writes are gathered */
        bool commit_frame; /* the last write gathered was a commit frame's header */
        unsigned char *buf;
        size_t len, cap;
        sqlite3_int64 off; /* the file offset of buf[0] */
};

static sqlite3_file *real_of(sqlite3_file *p)
{
        return ((struct wal_file *)p)->real;
}

/* Writes the buffer out with one call of the VFS below (whose xWrite loops on
 * short writes) and empties it, written or not. */
static int wal_flush(struct wal_file *f)
{
        int rc = SQLITE_OK;

        if (f->len > 0)
                rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
        f->len = 0;
        f->commit_frame = false;
        return rc;
}

/* Makes room for n more bytes; false when the buffer cannot hold them. */
static bool wal_room(struct wal_file *f, size_t n)
{
        size_t cap = f->cap ? f->cap : WAL_BUF_MIN;
        unsigned char *nb;

        if (f->len + n > WAL_WRITE_MAX)
                return false;
        if (f->len + n <= f->cap)
                return true;
        while (cap < f->len + n && cap < WAL_BUF_MAX)
                cap *= 2;
        if (cap < f->len + n)
                return false;
        nb = realloc(f->buf, cap);
        if (!nb)
                return false;
        f->buf = nb;
        f->cap = cap;
        return true;
}

static bool is_commit_header(const unsigned char *h, int n)
{
        return n == WAL_FRAME_HDR && (h[4] | h[5] | h[6] | h[7]) != 0;
}

/* The write after a commit frame's header is its page: the commit's last
 * write, after which the buffer goes to the file. */
static int wal_write(sqlite3_file *p, const void *data, int n, sqlite3_int64 off)
{
        struct wal_file *f = (struct wal_file *)p;
        bool ends_commit = f->commit_frame;
        int rc;

        if (!f->gather)
                return f->real->pMethods->xWrite(f->real, data, n, off);
        /* A write that does not extend the buffer goes after what the buffer
         * holds, so the file sees the writes in SQLite's order. */
        if (f->len > 0 && (off != f->off + (sqlite3_int64)f->len || !wal_room(f, (size_t)n))) {
                rc = wal_flush(f);
                if (rc != SQLITE_OK)
                        return rc;
        }
        if (f->len == 0) {
                f->off = off;
                /* Out of memory: written as is, and a commit header still
                 * makes its page, buffered or not, go out at once. */
                if (!wal_room(f, (size_t)n)) {
                        f->commit_frame = is_commit_header(data, n);
                        return f->real->pMethods->xWrite(f->real, data, n, off);
                }
        }
        memcpy(f->buf + f->len, data, (size_t)n);
        f->len += (size_t)n;
        if (ends_commit)
                return wal_flush(f);
        f->commit_frame = is_commit_header(data, n);
        return SQLITE_OK;
}

/* The calls that observe the file write the buffer out first: name, the
 * method, parameters after the file, and the arguments that forward them. */
#define WAL_FLUSHING(name, method, params, args)                                                   \
        static int name(sqlite3_file *p, SQLITE_UNPAREN params)                                    \
        {                                                                                          \
                struct wal_file *f = (struct wal_file *)p;                                         \
                int rc = wal_flush(f);                                                             \
                                                                                                   \
                if (rc != SQLITE_OK)                                                               \
                        return rc;                                                                 \
                return f->real->pMethods->method(f->real, SQLITE_UNPAREN args);                    \
        }
/* The calls that cannot observe the file's content pass straight through. */
#define WAL_PASSING(name, method, params, args)                                                    \
        static int name(sqlite3_file *p, SQLITE_UNPAREN params)                                    \
        {                                                                                          \
                sqlite3_file *r = real_of(p);                                                      \
                                                                                                   \
                return r->pMethods->method(r, SQLITE_UNPAREN args);                                \
        }
#define SQLITE_UNPAREN(...) __VA_ARGS__
WAL_FLUSHING(wal_read, xRead, (void *buf, int n, sqlite3_int64 off), (buf, n, off))
WAL_FLUSHING(wal_truncate, xTruncate, (sqlite3_int64 size), (size))
WAL_FLUSHING(wal_sync, xSync, (int flags), (flags))
WAL_FLUSHING(wal_file_size, xFileSize, (sqlite3_int64 * size), (size))
WAL_FLUSHING(wal_file_control, xFileControl, (int op, void *arg), (op, arg))
WAL_PASSING(wal_lock, xLock, (int level), (level))
WAL_PASSING(wal_unlock, xUnlock, (int level), (level))
WAL_PASSING(wal_check_reserved, xCheckReservedLock, (int *out), (out))
WAL_PASSING(wal_shm_map, xShmMap, (int region, int size, int extend, void volatile **out),
            (region, size, extend, out))
WAL_PASSING(wal_shm_lock, xShmLock, (int offset, int n, int flags), (offset, n, flags))
WAL_PASSING(wal_shm_unmap, xShmUnmap, (int del), (del))

/* The file below is closed even when the buffer cannot be written: SQLite
 * calls xClose once. */
static int wal_close(sqlite3_file *p)
{
        struct wal_file *f = (struct wal_file *)p;
        int rc = wal_flush(f);
        int crc = f->real->pMethods->xClose(f->real);

        free(f->buf);
        f->buf = NULL;
        f->cap = 0;
        return rc != SQLITE_OK ? rc : crc;
}

static int wal_sector_size(sqlite3_file *p)
{
        sqlite3_file *r = real_of(p);

        return r->pMethods->xSectorSize(r);
}

static int wal_device(sqlite3_file *p)
{
        sqlite3_file *r = real_of(p);

        return r->pMethods->xDeviceCharacteristics(r);
}

static void wal_shm_barrier(sqlite3_file *p)
{
        sqlite3_file *r = real_of(p);

        r->pMethods->xShmBarrier(r);
}

/* Version 2: WAL mode needs the shared-memory methods (on the database
 * file); the memory-mapped reads of version 3 are off in the store. */
static const sqlite3_io_methods wal_io = {
    .iVersion = 2,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_file_size,
    .xLock = wal_lock,
    .xUnlock = wal_unlock,
    .xCheckReservedLock = wal_check_reserved,
    .xFileControl = wal_file_control,
    .xSectorSize = wal_sector_size,
    .xDeviceCharacteristics = wal_device,
    .xShmMap = wal_shm_map,
    .xShmLock = wal_shm_lock,
    .xShmBarrier = wal_shm_barrier,
    .xShmUnmap = wal_shm_unmap,
};

static int wal_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                    int *out_flags)
{
        sqlite3_vfs *below = sqlite3_vfs_find(((struct wal_vfs *)vfs)->below);
        struct wal_file *f = (struct wal_file *)file;
        int rc;

        /* The VFS below is found by name at each open (the database, its WAL
         * and journals: a few per store), not kept: a test may unregister
         * its VFS and register another under the same name. */
        memset(f, 0, sizeof(*f));
        if (!below)
                return SQLITE_CANTOPEN;
        f->real = (sqlite3_file *)(f + 1);
        rc = below->xOpen(below, name, f->real, flags, out_flags);
        /* Without powersafe overwrite SQLite pads a commit to a sector
         * boundary and may split a frame header around an xSync, which the
         * commit detection does not follow: such a log is written as is. */
        f->gather =
            rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) &&
            (f->real->pMethods->xDeviceCharacteristics(f->real) & SQLITE_IOCAP_POWERSAFE_OVERWRITE);
        /* SQLite calls xClose exactly when pMethods is set, failed open or not. */
        f->base.pMethods = f->real->pMethods ? &wal_io : NULL;
        return rc;
}

/* The VFS is the one below with its own name, file size and xOpen: its other
 * methods (delete, access, full pathname, randomness, time...) are the
 * below's, which SQLite calls with this VFS; the unix VFS and the tests' fault
 * VFS read nothing from it but pAppData and the limits, copied. */
static int wal_register(sqlite3_vfs *below, const char *name, sqlite3_vfs **out)
{
        size_t n = strlen(name) + 1;
        struct wal_vfs *w = malloc(sizeof(*w) + n);
        int rc;

        *out = NULL;
        if (!w)
                return BATON_ENOMEM;
        w->base = *below;
        w->base.pNext = NULL;
        memcpy(w->name, name, n);
        w->base.zName = w->name;
        w->base.szOsFile = (int)sizeof(struct wal_file) + below->szOsFile;
        w->base.xOpen = wal_open;
        w->below = w->name + strlen(SQLITE_VFS_PREFIX);
        rc = sqlite3_vfs_register(&w->base, 0);
        if (rc != SQLITE_OK) {
                free(w);
                return BATON_ESTORE;
        }
        *out = &w->base;
        return 0;
}

/* The name written to out (n bytes) is SQLite's, of a VFS registered for the
 * life of the process. */
int sqlite_vfs_get(const char *below_name, char *out, size_t n)
{
        sqlite3_mutex *mu;
        sqlite3_vfs *below, *vfs;
        int rc = 0;

        below = sqlite3_vfs_find(below_name);
        if (!below)
                return BATON_EINVAL;
        if ((size_t)snprintf(out, n, SQLITE_VFS_PREFIX "%s", below->zName) >= n)
                return BATON_EINVAL;
        mu = sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP1);
        sqlite3_mutex_enter(mu);
        vfs = sqlite3_vfs_find(out);
        if (!vfs)
                rc = wal_register(below, out, &vfs);
        sqlite3_mutex_leave(mu);
        return rc;
}
