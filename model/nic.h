/* The host's NICs, read through rtnetlink (links and addresses, with libmnl)
 * and the ethtool ioctl (driver, speed, duplex, offloads), never by parsing
 * another program's output.  Offloads can be changed; the answer is what
 * the kernel then reports, not what was asked. */
#ifndef LMNET_AGENT_NIC_H
#define LMNET_AGENT_NIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <linux/ethtool.h>

#define NIC_MAX_ADDRESSES 16

struct nic_address {
    int family;        /* AF_INET or AF_INET6 */
    char address[64];  /* text form */
    unsigned prefix;
};

/* Offloads: -1 unknown (the driver does not say), 0 off, 1 on. */
enum nic_offload {
    NIC_OFFLOAD_RX_CHECKSUM,
    NIC_OFFLOAD_TX_CHECKSUM,
    NIC_OFFLOAD_TSO,
    NIC_OFFLOAD_GSO,
    NIC_OFFLOAD_GRO,
    NIC_OFFLOAD_COUNT,
};

struct nic {
    char name[16];
    int index;
    char mac[18];          /* "" when the link has none (lo) */
    unsigned mtu;
    char operstate[16];    /* "up", "down", "unknown", ... */
    bool loopback;
    char driver[32];       /* "" unknown */
    int64_t speed_mbps;    /* -1 unknown */
    char duplex[8];        /* "full", "half", "" unknown */
    int offloads[NIC_OFFLOAD_COUNT];
    bool default_gateway;  /* a default route leaves through this NIC */
    size_t n_addresses;
    struct nic_address addresses[NIC_MAX_ADDRESSES];
};

/* "rx_checksum", "tx_checksum", "tso", "gso", "gro"; from_string returns 0
 * or -EINVAL. */
const char *nic_offload_to_string(enum nic_offload offload);
int nic_offload_from_string(const char *name, enum nic_offload *offload);

/* The link speed in Mbps that ethtool's SPEED (low 16 bits) and SPEED_HI
 * (high 16 bits) say, or -1 when they say unknown (SPEED_UNKNOWN, 0, or the
 * 0xffff some drivers report). */
int64_t nic_link_speed_mbps(uint16_t speed, uint16_t speed_hi);

/* Reads every NIC of this network namespace, by index.  *out (n) is the
 * caller's to free().  Returns 0 or a negative errno. */
int nic_list(struct nic **out, size_t *n);

/* Reads LEN bytes of rtnetlink messages as the kernel answers nic_list()'s
 * dumps (RTM_NEWLINK, then RTM_NEWADDR, then RTM_NEWROUTE) into the *N NICs
 * at *NICS: a link adds a NIC (*NICS grows; the caller frees it), an address
 * or a default route fills in the NIC of its index.  Returns 0 (also at the
 * dump's end), or a negative errno for bytes that are not rtnetlink. */
int nic_parse_rtnetlink(const void *buf, size_t len, struct nic **nics, size_t *n);

/* What the ethtool ioctl answered for one NIC: each has_ flag says whether
 * that command succeeded (ETHTOOL_GDRVINFO, ETHTOOL_GSET, and the legacy
 * get command of each offload). */
struct nic_ethtool_reply {
    bool has_drvinfo;
    struct ethtool_drvinfo drvinfo;
    bool has_settings;
    struct ethtool_cmd settings;
    bool has_offload[NIC_OFFLOAD_COUNT];
    struct ethtool_value offload[NIC_OFFLOAD_COUNT];
};

/* Fills NIC's driver, speed_mbps, duplex and offloads from REPLY as
 * nic_list() does (unknown where a command failed), whatever bytes the
 * driver put in it. */
void nic_apply_ethtool(struct nic *nic, const struct nic_ethtool_reply *reply);

/* Reads one NIC by name.  Returns 0, -ENOENT, or a negative errno. */
int nic_get(const char *name, struct nic *out);

/* Turns OFFLOAD on NIC NAME on or off.  Returns 0 (the caller reads back
 * what the kernel kept with nic_get()), -EOPNOTSUPP when the driver cannot
 * change it, or a negative errno. */
int nic_set_offload(const char *name, enum nic_offload offload, bool on);

/* The NIC as the API shows it (caller owns). */
struct json_object *nic_to_json(const struct nic *nic);

#endif
