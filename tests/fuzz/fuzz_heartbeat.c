/* libFuzzer target: any datagram on a heartbeat port is checked by
 * heartbeat_datagram_parse() without reading past it, both as a host with
 * the cluster's key and as one without; what it accepts is what the wire
 * format says (a version, and a node and network inside the packet). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agent/heartbeat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees any read past the datagram. */
    unsigned char *packet = malloc(size ? size : 1);
    if (!packet)
        return 0;
    memcpy(packet, data, size);
    static const uint8_t key[HEARTBEAT_KEY_SIZE] = "lmnet-fuzz-key!";
    const uint8_t *keys[2] = {NULL, key};
    for (int k = 0; k < 2; k++) {
        struct heartbeat_datagram dg;
        const char *why = NULL;
        if (heartbeat_datagram_parse(packet, size, keys[k], &dg, &why) == 0) {
            if (dg.version != (k ? 2 : 1) || dg.node != packet + 12 || dg.network != packet + 48)
                abort();
        } else if (!why || !why[0]) {
            abort();
        }
    }
    free(packet);
    return 0;
}
