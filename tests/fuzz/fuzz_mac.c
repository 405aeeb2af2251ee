/* libFuzzer target: MAC addresses and ranges as users and other agents
 * type them.  Whatever parses prints back to a spelling that parses to the
 * same value, and a range that parses passes or fails its check cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "base/mac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    uint64_t mac;
    if (mac_parse(text, &mac) == 0) {
        char out[MAC_STRING_SIZE];
        uint64_t again;
        if (mac > MAC_MAX || mac_parse(mac_format(mac, out), &again) != 0 || again != mac)
            abort();
    }
    struct mac_range range;
    if (mac_range_parse(text, &range) == 0) {
        char why[128];
        if (mac_range_check(&range, why, sizeof(why)) == 0) {
            if (range.start > range.end || range.end > MAC_MAX)
                abort();
            mac_range_size(&range);
            if (!mac_range_contains(&range, range.start) || !mac_range_overlaps(&range, &range))
                abort();
        }
    }
    free(text);
    return 0;
}
