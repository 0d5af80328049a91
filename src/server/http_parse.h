/*
 * http_parse.h: the HTTP/1.1 request parser of batond's front (RFC 9112), with
 * no I/O: it finds the end of a request head, parses the head in place, decodes
 * chunked bodies, splits and percent-decodes the request target. http.c feeds
 * it the bytes it reads; the fuzz targets feed it anything.
 *
 * Strictness is the point: every rule here closes a way for two parsers (a
 * proxy's and ours) to disagree about where a request ends, which is how
 * requests are smuggled. A head with two Content-Length headers, a sign or
 * anything but digits in one, Content-Length beside Transfer-Encoding, a
 * transfer coding other than chunked, obs-fold, whitespace before a colon, a
 * NUL or control character in a header value, two Authorization headers, or a
 * line ending that is not CRLF is refused: the caller answers 400 and closes.
 */
#ifndef BATON_SERVER_HTTP_PARSE_H
#define BATON_SERVER_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HDRS_MAX 64
#define HTTP_SEGS_MAX 8
#define HTTP_QUERY_MAX 32

/* Methods, as bits (the route table's values). */
enum http_method {
        HTTP_GET = 1 << 0,
        HTTP_POST = 1 << 1,
        HTTP_HEAD = 1 << 2,
        HTTP_PUT = 1 << 3,
        HTTP_DELETE = 1 << 4,
        HTTP_OPTIONS = 1 << 5,
        HTTP_PATCH = 1 << 8,
        HTTP_OTHER = 1 << 15 /* a valid token we do not serve: 405/501 */
};

/* Why a head was refused. Each maps to a status and a code in http.c. */
enum http_perr {
        HTTP_PERR_NONE = 0,
        HTTP_PERR_LINE = -1,     /* bad request line: 400 bad_request */
        HTTP_PERR_HEADER = -2,   /* malformed header line: 400 bad_header */
        HTTP_PERR_VERSION = -3,  /* not HTTP/1.0 or 1.1: 505 version_not_supported */
        HTTP_PERR_TOO_MANY = -4, /* more than HTTP_HDRS_MAX headers: 431 */
        HTTP_PERR_LENGTH = -5,   /* bad or duplicate Content-Length: 400 bad_content_length */
        HTTP_PERR_TE = -6,       /* Transfer-Encoding not "chunked", or with Content-Length */
        HTTP_PERR_DUP_AUTH = -7, /* two Authorization headers */
        HTTP_PERR_EXPECT = -8,   /* Expect other than 100-continue: 417 */
        HTTP_PERR_TARGET = -9,   /* request target not origin- or absolute-form */
        HTTP_PERR_HOST = -10     /* HTTP/1.1 without exactly one Host */
};

struct http_hdr {
        const char *name;  /* NUL-terminated, as sent */
        const char *value; /* NUL-terminated, leading and trailing blanks removed */
};

/* A parsed head. Every pointer points into the buffer given to
 * http_parse_head, which it modifies in place. */
struct http_head {
        int method;              /* enum http_method */
        const char *method_name; /* as sent, e.g. "GET" */
        const char *path;        /* raw path of the target, starts with '/' */
        const char *query;       /* raw query after '?', or NULL */
        int minor;               /* HTTP/1.<minor>: 0 or 1 */
        struct http_hdr hdrs[HTTP_HDRS_MAX];
        int nhdrs;
        int64_t content_length; /* -1 when absent */
        bool chunked;
        bool keep_alive; /* what the client asks for (version and Connection) */
        bool expect_continue;
};

/* Where the head in buf[0..len) ends: the length of the head including its
 * blank line, 0 when no whole head is there yet. Leading empty lines (allowed
 * before a request) are part of the head. */
size_t http_head_end(const char *buf, size_t len);

/* Parses the head buf[0..len) (len from http_head_end) in place into h.
 * Returns 0 or an enum http_perr. */
int http_parse_head(char *buf, size_t len, struct http_head *h);

/* The value of header name (case-insensitive) or NULL; the first if repeated. */
const char *http_head_get(const struct http_head *h, const char *name);

/* Chunked body decoder state (RFC 9112 §7.1). Chunk extensions are skipped;
 * trailer fields are read and dropped. */
struct http_chunked {
        int state;
        uint64_t left;   /* bytes left in the current chunk */
        size_t line;     /* bytes of the current size, extension or trailer line */
        int digits;      /* hex digits of the current size */
        size_t trailers; /* bytes of trailer fields so far */
};

/* Decodes in[0..len): appends data to out[*out_len..] (out has room for
 * out_cap bytes in all). *used is set to the input bytes consumed. Returns 1
 * when the body ended (the input after *used belongs to the next request), 0
 * when more input is needed, -1 on a malformed body (400), -2 when the data
 * would exceed out_cap (413). */
int http_chunked_step(struct http_chunked *st, const char *in, size_t len, char *out,
                      size_t *out_len, size_t out_cap, size_t *used);

/* Splits a raw path into at most HTTP_SEGS_MAX segments and percent-decodes
 * each one into out (a buffer of at least strlen(path) + HTTP_SEGS_MAX + 1 bytes), after
 * splitting, so an encoded '/' stays inside its segment. A trailing slash is
 * dropped. Returns the number of segments, or -1 for a path that is not
 * absolute, has too many segments, a malformed escape, an encoded NUL,
 * invalid UTF-8, or a "." or ".." segment. */
int http_path_split(const char *path, char *out, char **segs);

/* One decoded query argument. */
struct http_arg {
        char *key;
        char *value;
};

/* Parses the raw query q ("a=1&b=x%20y", '+' is a space) in place into args
 * (at most HTTP_QUERY_MAX). Returns the count, or -1 for a malformed escape,
 * an encoded NUL, invalid UTF-8, an empty key, a key
 * given twice, or too many arguments. */
int http_query_parse(char *q, struct http_arg *args);

/* True when s[0..n) is valid UTF-8 (no overlong forms or surrogates). */
bool http_utf8_valid(const char *s, size_t n);

#endif
