/* libFuzzer target: the agent-to-agent migration messages, read by their
 * decoders in migrate/peer_protocol.c: the prepare request (what a source
 * asks of the destination, with the VM and its ports), its answer (port,
 * direct or channel token; for 1 to 16 channels asked), finish, abort, the
 * status the source watches, and the options a record keeps.  The first
 * byte picks the message (and the channels asked); the rest is the JSON.
 *
 * A refusal says why; what a decoder accepts encodes to JSON that decodes
 * again to the same encoding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "migrate/peer_protocol.h"

enum message { PREPARE, ANSWER, FINISH, ABORT, STATUS, OPTIONS, MESSAGES };

/* Decodes OBJ as MESSAGE into a new buffer (*OUT, the caller frees) and
 * returns the decoder's result. */
static int decode(enum message message, struct json_object *obj, unsigned channels, void **out,
                  char *why, size_t why_size)
{
    static const size_t sizes[MESSAGES] = {
        sizeof(struct peer_prepare), sizeof(struct peer_prepare_answer),
        sizeof(struct peer_finish),  sizeof(struct peer_abort),
        sizeof(struct peer_status),  sizeof(struct peer_options),
    };
    *out = calloc(1, sizes[message]);
    if (!*out)
        abort();
    switch (message) {
    case PREPARE: return peer_prepare_decode(obj, *out, why, why_size);
    case ANSWER: return peer_prepare_answer_decode(obj, channels, *out, why, why_size);
    case FINISH: return peer_finish_decode(obj, *out, why, why_size);
    case ABORT: return peer_abort_decode(obj, *out, why, why_size);
    case STATUS: return peer_status_decode(obj, *out, why, why_size);
    case OPTIONS: return peer_options_decode(obj, *out, why, why_size);
    default: abort();
    }
}

static struct json_object *encode(enum message message, const void *in)
{
    switch (message) {
    case PREPARE: return peer_prepare_encode(in);
    case ANSWER: return peer_prepare_answer_encode(in);
    case FINISH: return peer_finish_encode(in);
    case ABORT: return peer_abort_encode(in);
    case STATUS: return peer_status_encode(in);
    case OPTIONS: return peer_options_encode(in);
    default: abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum message message = (enum message)(data[0] % MESSAGES);
    unsigned channels = 1 + (data[0] / MESSAGES) % 16;
    struct json_tokener *tok = json_tokener_new();
    struct json_object *obj = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
    json_tokener_free(tok);
    if (!obj)
        return 0;
    char why[512] = "";
    void *first = NULL;
    if (decode(message, obj, channels, &first, why, sizeof(why)) == 0) {
        struct json_object *once = encode(message, first);
        void *second = NULL;
        if (!once || decode(message, once, channels, &second, why, sizeof(why)) != 0)
            abort(); /* what we send, we read */
        struct json_object *twice = encode(message, second);
        if (strcmp(json_object_to_json_string(once), json_object_to_json_string(twice)) != 0)
            abort();
        json_object_put(twice);
        json_object_put(once);
        free(second);
    } else if (!why[0]) {
        abort();
    }
    free(first);
    json_object_put(obj);
    return 0;
}
