/* libFuzzer target: what an etcd server sends the etcd registry.  The
 * first byte picks:
 *   0-254  the watch stream (POST /v3/watch): fed whole, then again in
 *          chunks of 1 + (first byte % 61) bytes; an object may be split
 *          anywhere, so both feeds must give the same events, revision and
 *          result (unless the stream is no JSON), and the revision never
 *          goes back;
 *   255    base64 as etcd spells keys and values: what decodes encodes
 *          back to a text that decodes to the same bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/etcd.h"

struct seen {
    size_t n;
    uint64_t digest; /* over every event's kind, key, value and revisions */
};

static uint64_t mix(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void on_event(void *ctx, const struct etcd_event *e)
{
    struct seen *s = ctx;
    s->n++;
    s->digest = mix(s->digest, &e->deleted, sizeof(e->deleted));
    s->digest = mix(s->digest, e->kv.key, strlen(e->kv.key) + 1);
    s->digest = mix(s->digest, e->kv.value, strlen(e->kv.value) + 1);
    s->digest = mix(s->digest, &e->kv.mod_revision, sizeof(e->kv.mod_revision));
}

/* Feeds DATA in CHUNK-byte pieces until the parser stops; returns its
 * last result. */
static int watch(const uint8_t *data, size_t size, size_t chunk, struct seen *seen,
                 int64_t *revision)
{
    struct etcd_watch_parser p = {.fn = on_event, .ctx = seen, .revision = 4};
    int r = 0;
    int64_t before = p.revision;
    for (size_t at = 0; r == 0 && at < size; at += chunk) {
        size_t n = size - at < chunk ? size - at : chunk;
        r = etcd_watch_parser_feed(&p, (const char *)data + at, n);
        if (p.revision < before)
            abort();
        before = p.revision;
    }
    if (r != 0 && r != -ESTALE && r != -EIO && r != -EPROTO && r != -ENOMEM)
        abort();
    *revision = p.revision;
    etcd_watch_parser_release(&p);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] == 255) {
        char *text = malloc(size);
        if (!text)
            return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        size_t len = 0;
        char *bytes = etcd_base64_decode(text, &len);
        if (bytes) {
            char *again = etcd_base64_encode(bytes, len);
            size_t len2 = 0;
            char *bytes2 = again ? etcd_base64_decode(again, &len2) : NULL;
            if (!bytes2 || len2 != len || memcmp(bytes, bytes2, len) != 0)
                abort();
            free(bytes2);
            free(again);
            free(bytes);
        }
        free(text);
        return 0;
    }
    size_t chunk = 1 + data[0] % 61;
    struct seen whole = {0, 0xcbf29ce484222325ULL}, pieces = {0, 0xcbf29ce484222325ULL};
    int64_t rev_whole, rev_pieces;
    int r1 = watch(data + 1, size - 1, size, &whole, &rev_whole);
    int r2 = watch(data + 1, size - 1, chunk, &pieces, &rev_pieces);
    /* Bytes that are no JSON end both feeds with -EPROTO, but json-c reads
     * a '/' after an object as the start of a comment and so drops, in a
     * whole feed, the object before it that a chunked feed had already
     * delivered: streams that break are compared no further. */
    if (r1 == -EPROTO || r2 == -EPROTO || r1 == -ENOMEM || r2 == -ENOMEM)
        return 0;
    if (r1 != r2 || whole.n != pieces.n || whole.digest != pieces.digest || rev_whole != rev_pieces)
        abort();
    return 0;
}
