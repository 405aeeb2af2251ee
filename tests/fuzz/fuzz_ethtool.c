/* libFuzzer target: whatever a NIC's driver answers to the ethtool ioctl
 * (ETHTOOL_GDRVINFO, ETHTOOL_GSET, each offload's get command; any of them
 * failing) is read by nic_apply_ethtool() as nic_list() reads it: a driver
 * name cut at its field, a speed that is known or -1, a duplex that is
 * full, half or unknown, offloads on, off or unknown; the NIC then turns
 * into JSON.  The first byte says which commands answered; the rest fills
 * the answers' bytes in order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/nic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct nic_ethtool_reply reply;
    memset(&reply, 0, sizeof(reply));
    reply.has_drvinfo = data[0] & 1;
    reply.has_settings = data[0] & 2;
    for (unsigned i = 0; i < NIC_OFFLOAD_COUNT; i++)
        reply.has_offload[i] = data[0] & (4u << i);
    data++;
    size--;
    void *parts[2 + NIC_OFFLOAD_COUNT] = {&reply.drvinfo, &reply.settings};
    size_t sizes[2 + NIC_OFFLOAD_COUNT] = {sizeof(reply.drvinfo), sizeof(reply.settings)};
    for (unsigned i = 0; i < NIC_OFFLOAD_COUNT; i++) {
        parts[2 + i] = &reply.offload[i];
        sizes[2 + i] = sizeof(reply.offload[i]);
    }
    for (unsigned i = 0; i < 2 + NIC_OFFLOAD_COUNT && size; i++) {
        size_t n = size < sizes[i] ? size : sizes[i];
        memcpy(parts[i], data, n);
        data += n;
        size -= n;
    }
    struct nic nic;
    memset(&nic, 0, sizeof(nic));
    snprintf(nic.name, sizeof(nic.name), "eth0");
    nic_apply_ethtool(&nic, &reply);
    if (!memchr(nic.driver, '\0', sizeof(nic.driver)) ||
        strlen(nic.driver) > strnlen(reply.drvinfo.driver, sizeof(reply.drvinfo.driver)))
        abort();
    if (nic.speed_mbps != -1 && (nic.speed_mbps < 1 || nic.speed_mbps > UINT32_MAX))
        abort();
    if (nic.duplex[0] && strcmp(nic.duplex, "full") != 0 && strcmp(nic.duplex, "half") != 0)
        abort();
    for (unsigned i = 0; i < NIC_OFFLOAD_COUNT; i++)
        if (nic.offloads[i] < -1 || nic.offloads[i] > 1 || (nic.offloads[i] >= 0) != reply.has_offload[i])
            abort();
    json_object_put(nic_to_json(&nic));
    return 0;
}
