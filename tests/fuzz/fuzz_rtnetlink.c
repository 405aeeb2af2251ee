/* libFuzzer target: any rtnetlink dump reply (links, addresses, routes;
 * truncated messages and attributes, wrong lengths) is read by
 * nic_parse_rtnetlink() without reading past the buffer, and what it makes
 * of it turns into JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "model/nic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size, aligned copy, as the kernel's reply sits in a buffer. */
    void *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct nic *nics = NULL;
    size_t n = 0;
    nic_parse_rtnetlink(buf, size, &nics, &n);
    for (size_t i = 0; i < n; i++)
        json_object_put(nic_to_json(&nics[i]));
    free(nics);
    free(buf);
    return 0;
}
