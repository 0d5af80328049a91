/*
 * fuzz_http_parse.c: libFuzzer target for batond's HTTP/1.1 request parser
 * (src/server/http_parse.c). The input is what a client sends: it is scanned
 * for a head within the 64 KiB limit, the head is parsed, its path split and
 * decoded, its query parsed, and the bytes after the head decoded as a
 * chunked body, fed in pieces whose sizes come from the input itself, so a
 * body split across reads is exercised too. Invariants of the results are
 * asserted; the sanitizers catch the rest. Run by scripts/fuzz.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_parse.h"

#define HEAD_MAX 65536
#define BODY_MAX 65536

static void check_head(const struct http_head *h)
{
        if (h->content_length < -1 || (h->chunked && h->content_length != -1))
                abort();
        if (!h->path || h->path[0] != '/' || h->nhdrs < 0 || h->nhdrs > HTTP_HDRS_MAX)
                abort();
        if (h->minor != 0 && h->minor != 1)
                abort();
}

static void path_and_query(const struct http_head *h)
{
        size_t n = strlen(h->path);
        char *out = malloc(n + HTTP_SEGS_MAX + 1);
        char *segs[HTTP_SEGS_MAX];
        struct http_arg args[HTTP_QUERY_MAX];
        int k = http_path_split(h->path, out, segs);

        for (int i = 0; i < k; i++)
                if (!http_utf8_valid(segs[i], strlen(segs[i])))
                        abort();
        free(out);
        if (h->query) {
                char *q = strdup(h->query);
                k = http_query_parse(q, args);
                for (int i = 0; i < k; i++)
                        if (!args[i].key[0] ||
                            !http_utf8_valid(args[i].value, strlen(args[i].value)))
                                abort();
                free(q);
        }
}

static void chunked(const uint8_t *d, size_t n)
{
        struct http_chunked st = {0};
        char *out = malloc(BODY_MAX);
        size_t out_len = 0, off = 0, step = n ? (d[0] % 7) + 1 : 1;

        while (off < n) {
                size_t len = n - off < step ? n - off : step, used = 0;
                int rc = http_chunked_step(&st, (const char *)d + off, len, out, &out_len, BODY_MAX,
                                           &used);
                if (used > len || out_len > BODY_MAX)
                        abort();
                off += used;
                if (rc != 0 || (used == 0 && len > 0))
                        break;
        }
        free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t scan = size < HEAD_MAX ? size : HEAD_MAX;
        size_t end = http_head_end((const char *)data, scan);
        struct http_head h;
        char *head;

        if (!end) {
                chunked(data, size);
                return 0;
        }
        if (end > scan)
                abort();
        head = malloc(end + 1);
        memcpy(head, data, end);
        head[end] = '\0';
        if (http_parse_head(head, end, &h) == 0) {
                check_head(&h);
                path_and_query(&h);
        }
        free(head);
        chunked(data + end, size - end);
        return 0;
}
