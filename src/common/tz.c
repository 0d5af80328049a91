/*
 * tz.c: TZif reader (RFC 8536) and UTC <-> local civil conversions. Workload:
 * a handful of zones loaded once per schedule and queried often, so a load
 * validates everything up front and queries are a binary search over the
 * transition table plus, beyond its end, the POSIX TZ rule of the file's
 * footer evaluated for the few years around the instant. Assumptions: zone
 * files are small (under TZ_FILE_MAX), come from a directory the operator
 * controls but are still parsed as untrusted bytes (every count and index is
 * bounds-checked, corrupt input is BATON_EINVAL), and nothing here touches
 * libc's TZ state, so it is safe from any thread.
 */
#include "common/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/assert.h"

#define TZ_FILE_MAX (256 * 1024)
#define TZ_FOOTER_MAX 256
#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
/* RFC 8536 3.2: utoff must lie in -89999..93599 (about -25 h .. +26 h). */
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599
/* Offsets are below 26 h, so every candidate instant of a wall time lies
 * within this distance of the wall time read as UTC. */
#define WINDOW_S (2 * 86400)
#define SEGMENTS_MAX 32

struct tz_type {
        int32_t off;
        bool dst;
};

/* One date of a POSIX TZ rule: Jn (1-365, Feb 29 never counted), n (0-365) or
 * Mm.w.d, and the local time of day of the change (may be negative or past
 * 24 h, RFC 8536 3.3.1). */
struct rule_date {
        char kind; /* 'J', 'D' (zero-based day) or 'M' */
        int n, m, w, d;
        int32_t time_s;
};

struct rule {
        int32_t std_off, dst_off; /* seconds east of UTC */
        bool has_dst;
        struct rule_date start, end;
};

struct tz {
        int refs; /* tz_ref / tz_free, on one thread */
        char name[TZ_NAME_MAX + 1];
        size_t n_trans;
        int64_t *trans; /* strictly ascending */
        uint8_t *idx;   /* type index of each transition, < n_types */
        size_t n_types;
        struct tz_type *types;
        bool has_rule; /* footer present: it governs times after the last transition */
        struct rule rule;
};

/* A bounded reader over the file's bytes: every read checks what is left. */
struct rd {
        const uint8_t *p;
        size_t left;
};

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
        va_list ap;

        if (!err || cap == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
}

/* ---- civil calendar ---- */

int64_t tz_days_from_civil(int64_t y, int m, int d)
{
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;

        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
}

int tz_weekday(int64_t days)
{
        /* 1970-01-01 was a Thursday (4); C's % keeps the dividend's sign. */
        int64_t r = (days + 4) % 7;

        return (int)(r < 0 ? r + 7 : r);
}

bool tz_is_leap(int64_t y)
{
        return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int tz_days_in_month(int64_t y, int m)
{
        static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

        if (m < 1 || m > 12)
                return 0;
        return m == 2 && tz_is_leap(y) ? 29 : dim[m - 1];
}

int tz_civil_validate(const struct tz_civil *c)
{
        /* Years well inside TZ_MIN_S..TZ_MAX_S, so a day's worth of offset
         * never leaves the range. */
        if (!c || c->year < -29000 || c->year > 33000)
                return BATON_EINVAL;
        if (c->month < 1 || c->month > 12 || c->day < 1 ||
            c->day > tz_days_in_month(c->year, c->month))
                return BATON_EINVAL;
        if (c->hour < 0 || c->hour > 23 || c->min < 0 || c->min > 59 || c->sec < 0 || c->sec > 59)
                return BATON_EINVAL;
        return 0;
}

static int64_t civil_to_secs(const struct tz_civil *c)
{
        return tz_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
               c->min * 60 + c->sec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t year_of(int64_t secs)
{
        int64_t y;
        int m, d;

        tz_civil_from_days(floor_div(secs, 86400), &y, &m, &d);
        return y;
}

/* ---- POSIX TZ rule (the footer) ---- */

static const char *parse_abbr(const char *s)
{
        const char *p = s;

        /* "<+0545>" quotes names with digits and signs; otherwise 3+ letters. */
        if (*p == '<') {
                for (p++; *p && *p != '>'; p++)
                        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                              (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
                                return NULL;
                if (*p != '>' || p - s < 4)
                        return NULL;
                return p + 1;
        }
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
                p++;
        return p - s >= 3 ? p : NULL;
}

static const char *parse_num(const char *s, int lo, int hi, int *out)
{
        int v = 0, digits = 0;

        while (*s >= '0' && *s <= '9' && digits < 4) {
                v = v * 10 + (*s++ - '0');
                digits++;
        }
        if (digits == 0 || v < lo || v > hi)
                return NULL;
        *out = v;
        return s;
}

/* [+-]hh[:mm[:ss]], hours up to hmax (24 for offsets, 167 for rule times). */
static const char *parse_hms(const char *s, int hmax, int32_t *out)
{
        int sign = 1, h, mi = 0, se = 0;

        if (*s == '+' || *s == '-')
                sign = *s++ == '-' ? -1 : 1;
        s = parse_num(s, 0, hmax, &h);
        if (s && *s == ':')
                s = parse_num(s + 1, 0, 59, &mi);
        if (s && *s == ':')
                s = parse_num(s + 1, 0, 59, &se);
        if (s)
                *out = sign * (h * 3600 + mi * 60 + se);
        return s;
}

static const char *parse_date(const char *s, struct rule_date *rd)
{
        rd->time_s = 7200; /* POSIX default: 02:00 */
        if (*s == 'J') {
                rd->kind = 'J';
                s = parse_num(s + 1, 1, 365, &rd->n);
        } else if (*s == 'M') {
                rd->kind = 'M';
                s = parse_num(s + 1, 1, 12, &rd->m);
                if (s && *s == '.')
                        s = parse_num(s + 1, 1, 5, &rd->w);
                else
                        s = NULL;
                if (s && *s == '.')
                        s = parse_num(s + 1, 0, 6, &rd->d);
                else
                        s = NULL;
        } else {
                rd->kind = 'D';
                s = parse_num(s, 0, 365, &rd->n);
        }
        if (s && *s == '/')
                s = parse_hms(s + 1, 167, &rd->time_s);
        return s;
}

/* Parses a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". POSIX offsets
 * count west of Greenwich; they are stored negated (east), as in TZif. */
static int parse_rule(const char *s, struct rule *r)
{
        int32_t off;

        memset(r, 0, sizeof(*r));
        if (!(s = parse_abbr(s)) || !(s = parse_hms(s, 24, &off)))
                return BATON_EINVAL;
        r->std_off = -off;
        if (*s == 0)
                return 0;
        if (!(s = parse_abbr(s)))
                return BATON_EINVAL;
        r->has_dst = true;
        r->dst_off = r->std_off + 3600;
        if (*s && *s != ',') {
                if (!(s = parse_hms(s, 24, &off)))
                        return BATON_EINVAL;
                r->dst_off = -off;
        }
        if (*s == 0) {
                /* No dates: POSIX leaves them implementation-defined; use the
                 * US rules, as glibc and tzcode do. */
                s = "M3.2.0,M11.1.0";
        } else {
                s++;
        }
        if (!(s = parse_date(s, &r->start)) || *s != ',')
                return BATON_EINVAL;
        if (!(s = parse_date(s + 1, &r->end)) || *s != 0)
                return BATON_EINVAL;
        return 0;
}

/* Days since the epoch of the rule date's local calendar day in year y. */
static int64_t rule_day(const struct rule_date *rd, int64_t y)
{
        int64_t jan1 = tz_days_from_civil(y, 1, 1), first, day;

        if (rd->kind == 'J')
                return jan1 + rd->n - 1 + (tz_is_leap(y) && rd->n >= 60);
        if (rd->kind == 'D')
                return jan1 + rd->n;
        first = tz_days_from_civil(y, rd->m, 1);
        day = first + (rd->d - tz_weekday(first) + 7) % 7 + 7 * (rd->w - 1);
        /* Week 5 means "the last such weekday of the month". */
        while (rd->w == 5 && day >= first + tz_days_in_month(y, rd->m))
                day -= 7;
        return day;
}

/* The rule's changes for year y, in UTC: [0] to DST, [1] back to standard.
 * The start is given in standard local time, the end in daylight time. */
static void rule_year(const struct rule *r, int64_t y, int64_t ev[2])
{
        ev[0] = rule_day(&r->start, y) * 86400 + r->start.time_s - r->std_off;
        ev[1] = rule_day(&r->end, y) * 86400 + r->end.time_s - r->dst_off;
}

static void rule_offset(const struct rule *r, int64_t t, int32_t *off, bool *dst)
{
        int64_t y0 = year_of(t + r->std_off), best = INT64_MIN, ev[2];
        bool in_dst = false;

        if (r->has_dst) {
                /* The latest change at or before t decides; at a tie the start
                 * wins, so "all year DST" rules (end == next start) stay DST. */
                for (int64_t y = y0 - 1; y <= y0 + 1; y++) {
                        rule_year(r, y, ev);
                        if (ev[1] <= t && ev[1] > best) {
                                best = ev[1];
                                in_dst = false;
                        }
                        if (ev[0] <= t && ev[0] >= best) {
                                best = ev[0];
                                in_dst = true;
                        }
                }
        }
        *off = in_dst ? r->dst_off : r->std_off;
        *dst = in_dst;
}

/* The first rule change strictly after t, or INT64_MAX. */
static int64_t rule_next(const struct rule *r, int64_t t)
{
        int64_t y0 = year_of(t + r->std_off), best = INT64_MAX, ev[2];

        if (!r->has_dst)
                return INT64_MAX;
        for (int64_t y = y0 - 1; y <= y0 + 2; y++) {
                rule_year(r, y, ev);
                for (int i = 0; i < 2; i++)
                        if (ev[i] > t && ev[i] < best)
                                best = ev[i];
        }
        return best;
}

/* ---- TZif parsing ---- */

static bool rd_take(struct rd *r, size_t n, const uint8_t **p)
{
        if (n > r->left)
                return false;
        *p = r->p;
        r->p += n;
        r->left -= n;
        return true;
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
        return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct hdr {
        char version;
        uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(struct rd *r, struct hdr *h, char *err, size_t cap)
{
        const uint8_t *p;

        if (!rd_take(r, 44, &p) || memcmp(p, "TZif", 4) != 0) {
                set_err(err, cap, "not a TZif file");
                return BATON_EINVAL;
        }
        h->version = (char)p[4];
        h->isutcnt = be32(p + 20);
        h->isstdcnt = be32(p + 24);
        h->leapcnt = be32(p + 28);
        h->timecnt = be32(p + 32);
        h->typecnt = be32(p + 36);
        h->charcnt = be32(p + 40);
        /* RFC 8536 3.1: at least one type and one abbreviation byte; the
         * isstd/isut arrays are empty or one entry per type. */
        if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
            (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
            (h->isstdcnt != 0 && h->isstdcnt != h->typecnt) || h->timecnt > TZ_FILE_MAX) {
                set_err(err, cap, "corrupt TZif header");
                return BATON_EINVAL;
        }
        if (h->leapcnt != 0) {
                set_err(err, cap, "TZif files with leap seconds are not supported");
                return BATON_EINVAL;
        }
        return 0;
}

/* Bytes of the data block after a header, for 4-byte (v1) or 8-byte times. */
static size_t block_len(const struct hdr *h, size_t tsize)
{
        return (size_t)h->timecnt * (tsize + 1) + (size_t)h->typecnt * 6 + h->charcnt +
               (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static int read_types(struct tz *tz, const struct hdr *h, const uint8_t *p)
{
        for (size_t i = 0; i < h->typecnt; i++, p += 6) {
                int32_t off = (int32_t)be32(p);

                if (off < UTOFF_MIN || off > UTOFF_MAX || p[4] > 1 || p[5] >= h->charcnt)
                        return BATON_EINVAL;
                tz->types[i].off = off;
                tz->types[i].dst = p[4] == 1;
        }
        return 0;
}

/* Reads one data block (transitions, indices, types) with tsize-byte times. */
static int read_block(struct tz *tz, const struct hdr *h, struct rd *r, size_t tsize)
{
        const uint8_t *p;

        if (!rd_take(r, block_len(h, tsize), &p))
                return BATON_EINVAL;
        tz->n_trans = h->timecnt;
        tz->n_types = h->typecnt;
        tz->trans = calloc(h->timecnt ? h->timecnt : 1, sizeof(*tz->trans));
        tz->idx = calloc(h->timecnt ? h->timecnt : 1, 1);
        tz->types = calloc(h->typecnt, sizeof(*tz->types));
        if (!tz->trans || !tz->idx || !tz->types)
                return BATON_ENOMEM;
        for (size_t i = 0; i < h->timecnt; i++, p += tsize) {
                tz->trans[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
                if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
                        return BATON_EINVAL;
        }
        for (size_t i = 0; i < h->timecnt; i++, p++) {
                if (*p >= h->typecnt)
                        return BATON_EINVAL;
                tz->idx[i] = *p;
        }
        return read_types(tz, h, p);
}

/* The footer: "\n" TZ-string "\n", right after the v2+ data block. */
static int read_footer(struct tz *tz, struct rd *r)
{
        char s[TZ_FOOTER_MAX];
        const uint8_t *nl;
        size_t len;

        if (r->left < 2 || r->p[0] != '\n')
                return BATON_EINVAL;
        nl = memchr(r->p + 1, '\n', r->left - 1);
        if (!nl)
                return BATON_EINVAL;
        len = (size_t)(nl - (r->p + 1));
        if (len >= sizeof(s))
                return BATON_EINVAL;
        if (len == 0)
                return 0; /* empty footer: no rule beyond the table */
        memcpy(s, r->p + 1, len);
        s[len] = 0;
        if (memchr(s, 0, len))
                return BATON_EINVAL;
        tz->has_rule = true;
        return parse_rule(s, &tz->rule);
}

static void clear_tables(struct tz *tz)
{
        free(tz->trans);
        free(tz->idx);
        free(tz->types);
        tz->trans = NULL;
        tz->idx = NULL;
        tz->types = NULL;
        tz->n_trans = tz->n_types = 0;
}

static int parse_tzif(struct tz *tz, const uint8_t *buf, size_t len, char *err, size_t cap)
{
        struct rd r = {buf, len};
        struct hdr h;
        int rc;

        if ((rc = read_header(&r, &h, err, cap)))
                return rc;
        if (h.version == 0) {
                rc = read_block(tz, &h, &r, 4);
                goto out;
        }
        if (h.version < '2' || h.version > '4') {
                set_err(err, cap, "unsupported TZif version");
                return BATON_EINVAL;
        }
        /* v2+: skip the 32-bit block, read the 64-bit one and the footer. */
        if (block_len(&h, 4) > r.left) {
                rc = BATON_EINVAL;
                goto out;
        }
        r.p += block_len(&h, 4);
        r.left -= block_len(&h, 4);
        if ((rc = read_header(&r, &h, err, cap)))
                return rc;
        if ((rc = read_block(tz, &h, &r, 8)))
                goto out;
        rc = read_footer(tz, &r);
out:
        if (rc == BATON_EINVAL)
                set_err(err, cap, "corrupt TZif file");
        return rc;
}

/* ---- loading ---- */

int tz_name_validate(const char *name)
{
        size_t len;

        if (!name || !*name || name[0] == '/')
                return BATON_EINVAL;
        len = strlen(name);
        if (len > TZ_NAME_MAX || name[len - 1] == '/' || strstr(name, "//") || strstr(name, ".."))
                return BATON_EINVAL;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '+' || *p == '-' || *p == '/'))
                        return BATON_EINVAL;
        return 0;
}

/* Reads the whole file into *buf (caller frees). ENOTFOUND for a missing file
 * or one that is not a regular file (a directory such as "Europe"). */
static int read_file(const char *path, uint8_t **buf, size_t *len)
{
        struct stat st;
        uint8_t *b = NULL;
        size_t got = 0;
        int fd, rc = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? BATON_ENOTFOUND : BATON_EIO;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                rc = BATON_ENOTFOUND;
                goto out;
        }
        if (st.st_size > TZ_FILE_MAX) {
                rc = BATON_EINVAL;
                goto out;
        }
        b = malloc((size_t)st.st_size + 1);
        if (!b) {
                rc = BATON_ENOMEM;
                goto out;
        }
        while (got < (size_t)st.st_size) {
                ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        rc = BATON_EIO;
                        goto out;
                }
                got += (size_t)n;
        }
        *buf = b;
        *len = got;
        b = NULL;
out:
        free(b);
        close(fd);
        return rc;
}

static bool is_utc_name(const char *name)
{
        return strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0;
}

int tz_load_dir(const char *dir, const char *name, struct tz **out, char *err, size_t cap)
{
        struct tz *tz = NULL;
        uint8_t *buf = NULL;
        char path[4096];
        size_t len = 0;
        int rc;

        *out = NULL;
        if (tz_name_validate(name)) {
                set_err(err, cap, "invalid time zone name");
                return BATON_EINVAL;
        }
        if (!dir)
                dir = getenv("TZDIR");
        if (!dir || !*dir)
                dir = TZ_DEFAULT_DIR;
        tz = calloc(1, sizeof(*tz));
        if (!tz) {
                rc = BATON_ENOMEM;
                goto out;
        }
        tz->refs = 1;
        snprintf(tz->name, sizeof(tz->name), "%s", name);
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
                rc = BATON_EINVAL;
                set_err(err, cap, "time zone path too long");
                goto out;
        }
        rc = read_file(path, &buf, &len);
        if (rc == BATON_ENOTFOUND && is_utc_name(name)) {
                /* UTC must work even on a host without tzdata. */
                rc = parse_rule("UTC0", &tz->rule);
                tz->has_rule = true;
                goto out;
        }
        if (rc == BATON_ENOTFOUND)
                set_err(err, cap, "unknown time zone");
        else if (rc == BATON_EINVAL)
                set_err(err, cap, "time zone file too large");
        else if (rc)
                set_err(err, cap, "cannot read time zone file");
        if (rc)
                goto out;
        rc = parse_tzif(tz, buf, len, err, cap);
out:
        free(buf);
        if (rc) {
                tz_free(tz);
                return rc;
        }
        *out = tz;
        return 0;
}

int tz_load(const char *name, struct tz **out, char *err, size_t cap)
{
        return tz_load_dir(NULL, name, out, err, cap);
}

void tz_free(struct tz *tz)
{
        if (!tz)
                return;
        BATON_ASSERT(tz->refs > 0);
        if (--tz->refs > 0)
                return;
        clear_tables(tz);
        free(tz);
}

struct tz *tz_ref(struct tz *tz)
{
        BATON_ASSERT(tz->refs > 0);
        tz->refs++;
        return tz;
}

/* ---- the per-thread cache ---- */

struct tz_cache_entry {
        struct tz *tz;     /* one reference held by the cache */
        int64_t loaded_ms; /* when it was read from disk */
        uint64_t used;     /* c->tick at the last hit: least recently used goes first */
};

struct tz_cache {
        struct tz_cache_entry *v;
        size_t n, max;
        int64_t ttl_ms;
        uint64_t tick;
        char *dir;
        pthread_t owner;
        struct tz_cache_stats st;
};

int tz_cache_new(const char *dir, size_t max, int64_t ttl_ms, struct tz_cache **out)
{
        struct tz_cache *c = calloc(1, sizeof(*c));

        *out = NULL;
        if (!c || max == 0 || !(c->v = calloc(max, sizeof(*c->v))) ||
            (dir && !(c->dir = strdup(dir)))) {
                tz_cache_free(c);
                return max == 0 ? BATON_EINVAL : BATON_ENOMEM;
        }
        c->max = max;
        c->ttl_ms = ttl_ms;
        c->owner = pthread_self();
        *out = c;
        return 0;
}

void tz_cache_free(struct tz_cache *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++)
                tz_free(c->v[i].tz);
        free(c->v);
        free(c->dir);
        free(c);
}

/* Drops entry i (its reference), keeping the array dense. */
static void cache_drop(struct tz_cache *c, size_t i)
{
        tz_free(c->v[i].tz);
        c->v[i] = c->v[--c->n];
}

int tz_cache_get(struct tz_cache *c, const char *name, int64_t now_ms, struct tz **out, char *err,
                 size_t cap)
{
        size_t i, lru = 0;
        int rc;

        BATON_ASSERT(pthread_equal(c->owner, pthread_self()));
        *out = NULL;
        c->tick++;
        for (i = 0; i < c->n; i++) {
                if (strcmp(c->v[i].tz->name, name) != 0)
                        continue;
                if (now_ms - c->v[i].loaded_ms >= c->ttl_ms || now_ms < c->v[i].loaded_ms) {
                        cache_drop(c, i); /* stale: read the file again below */
                        break;
                }
                c->v[i].used = c->tick;
                c->st.hits++;
                *out = tz_ref(c->v[i].tz);
                return 0;
        }
        c->st.misses++;
        rc = tz_load_dir(c->dir, name, out, err, cap);
        if (rc)
                return rc;
        if (c->n == c->max) {
                for (i = 1; i < c->n; i++)
                        if (c->v[i].used < c->v[lru].used)
                                lru = i;
                cache_drop(c, lru);
                c->st.evictions++;
        }
        c->v[c->n++] = (struct tz_cache_entry){tz_ref(*out), now_ms, c->tick};
        return 0;
}

void tz_cache_stats(const struct tz_cache *c, struct tz_cache_stats *out)
{
        *out = c->st;
        out->zones = c->n;
}

const char *tz_name(const struct tz *tz)
{
        return tz->name;
}

/* ---- queries ---- */

/* Index of the last transition <= t, or -1 when t precedes them all. */
static ptrdiff_t find_trans(const struct tz *tz, int64_t t)
{
        size_t lo = 0, hi = tz->n_trans;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (tz->trans[mid] <= t)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return (ptrdiff_t)lo - 1;
}

int tz_offset_at(const struct tz *tz, int64_t utc_s, int32_t *offset_s, bool *is_dst)
{
        ptrdiff_t i;
        const struct tz_type *ty;

        if (utc_s < TZ_MIN_S || utc_s > TZ_MAX_S)
                return BATON_ERANGE;
        i = find_trans(tz, utc_s);
        /* RFC 8536 3.2: the footer governs instants at or after the last
         * transition (all of them when there is none); type 0 those before. */
        if (tz->has_rule && (size_t)(i + 1) == tz->n_trans) {
                rule_offset(&tz->rule, utc_s, offset_s, is_dst);
                return 0;
        }
        ty = &tz->types[i < 0 ? 0 : tz->idx[i]];
        *offset_s = ty->off;
        *is_dst = ty->dst;
        return 0;
}

int tz_utc_to_civil(const struct tz *tz, int64_t utc_s, struct tz_civil *out)
{
        int64_t local, y;
        int32_t off;
        bool dst;
        int rc;

        if ((rc = tz_offset_at(tz, utc_s, &off, &dst)))
                return rc;
        local = utc_s + off;
        tz_civil_from_days(floor_div(local, 86400), &y, &out->month, &out->day);
        out->year = (int)y;
        local -= floor_div(local, 86400) * 86400;
        out->hour = (int)(local / 3600);
        out->min = (int)(local / 60 % 60);
        out->sec = (int)(local % 60);
        return 0;
}

/* The next table or rule transition after t, changed or not; INT64_MAX if none. */
static int64_t raw_next(const struct tz *tz, int64_t t)
{
        ptrdiff_t i = find_trans(tz, t);

        if ((size_t)(i + 1) < tz->n_trans)
                return tz->trans[i + 1];
        return tz->has_rule ? rule_next(&tz->rule, t) : INT64_MAX;
}

int tz_next_transition(const struct tz *tz, int64_t utc_s, int64_t *at_s)
{
        int32_t o1, o2;
        bool d1, d2;
        int64_t t = utc_s;

        if (utc_s < TZ_MIN_S || utc_s > TZ_MAX_S)
                return BATON_ERANGE;
        /* Table entries may change only the abbreviation; skip those. The
         * bound keeps a pathological file from looping for long. */
        for (int guard = 0; guard < 4096; guard++) {
                t = raw_next(tz, t);
                if (t == INT64_MAX || t > TZ_MAX_S)
                        return BATON_ENOTFOUND;
                tz_offset_at(tz, t - 1, &o1, &d1);
                tz_offset_at(tz, t, &o2, &d2);
                if (o1 != o2 || d1 != d2) {
                        *at_s = t;
                        return 0;
                }
        }
        return BATON_ENOTFOUND;
}

/* An offset period: from at (UTC) on, the offset is off. */
struct seg {
        int64_t at;
        int32_t off;
};

/* The offset periods that touch [from, to]: the one in effect at from, then
 * one per change up to to. Returns how many were stored (<= SEGMENTS_MAX). */
static size_t segments(const struct tz *tz, int64_t from, int64_t to, struct seg *s)
{
        size_t n = 0;
        int64_t t = from;
        bool dst;

        s[n].at = from;
        tz_offset_at(tz, from, &s[n].off, &dst);
        n++;
        while (n < SEGMENTS_MAX && tz_next_transition(tz, t, &t) == 0 && t <= to) {
                s[n].at = t;
                tz_offset_at(tz, t, &s[n].off, &dst);
                n++;
        }
        return n;
}

/* Instants whose local reading is wall (seconds, wall time read as UTC),
 * ascending and distinct; returns how many (at most SEGMENTS_MAX). */
static size_t candidates(const struct tz *tz, const struct seg *s, size_t ns, int64_t wall,
                         int64_t *c)
{
        size_t n = 0;
        int32_t off;
        bool dst;

        for (size_t i = 0; i < ns; i++) {
                int64_t u = wall - s[i].off;
                bool seen = false;

                tz_offset_at(tz, u, &off, &dst);
                for (size_t j = 0; j < n; j++)
                        seen |= c[j] == u;
                if (off != s[i].off || seen)
                        continue;
                /* Insertion keeps c ascending. */
                size_t k = n++;
                while (k > 0 && c[k - 1] > u) {
                        c[k] = c[k - 1];
                        k--;
                }
                c[k] = u;
        }
        return n;
}

/* The instant a skipped wall time maps to when shifted: read with the offset
 * in effect before the jump, i.e. moved forward by the gap's length. */
static int gap_shift(const struct seg *s, size_t ns, int64_t wall, int64_t *out)
{
        for (size_t i = 1; i < ns; i++) {
                int32_t before = s[i - 1].off, after = s[i].off;

                if (after > before && wall >= s[i].at + before && wall < s[i].at + after) {
                        *out = wall - before;
                        return 0;
                }
        }
        return BATON_ERANGE; /* unreachable for a consistent zone */
}

int tz_civil_to_utc(const struct tz *tz, const struct tz_civil *c, int gap_policy, int fold_policy,
                    int64_t out[2], int *n_out)
{
        struct seg s[SEGMENTS_MAX];
        int64_t cand[SEGMENTS_MAX], wall;
        size_t ns, nc;

        *n_out = 0;
        if (tz_civil_validate(c) || (gap_policy != TZ_GAP_SHIFT && gap_policy != TZ_GAP_SKIP) ||
            fold_policy < TZ_FOLD_FIRST || fold_policy > TZ_FOLD_BOTH)
                return BATON_EINVAL;
        wall = civil_to_secs(c);
        ns = segments(tz, wall - WINDOW_S, wall + WINDOW_S, s);
        nc = candidates(tz, s, ns, wall, cand);
        if (nc == 0) {
                if (gap_policy == TZ_GAP_SKIP)
                        return 0;
                if (gap_shift(s, ns, wall, &out[0]))
                        return BATON_ERANGE;
                *n_out = 1;
                return 0;
        }
        if (nc == 1 || fold_policy == TZ_FOLD_FIRST) {
                out[(*n_out)++] = cand[0];
        } else if (fold_policy == TZ_FOLD_LAST) {
                out[(*n_out)++] = cand[nc - 1];
        } else {
                out[(*n_out)++] = cand[0];
                out[(*n_out)++] = cand[nc - 1];
        }
        return 0;
}
