/* The host's NICs: see model/nic.h.
 *
 * Links, addresses and default routes come from three rtnetlink dumps
 * (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE) parsed with libmnl; driver, speed, duplex and offloads from
 * the ethtool ioctl, one call each (the legacy per-feature commands, which
 * every driver answers, or says it cannot). */
#include "model/nic.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "base/cleanup.h"

static const char *const offload_names[NIC_OFFLOAD_COUNT] = {
    [NIC_OFFLOAD_RX_CHECKSUM] = "rx_checksum",
    [NIC_OFFLOAD_TX_CHECKSUM] = "tx_checksum",
    [NIC_OFFLOAD_TSO] = "tso",
    [NIC_OFFLOAD_GSO] = "gso",
    [NIC_OFFLOAD_GRO] = "gro",
};

static const uint32_t offload_get[NIC_OFFLOAD_COUNT] = {
    ETHTOOL_GRXCSUM, ETHTOOL_GTXCSUM, ETHTOOL_GTSO, ETHTOOL_GGSO, ETHTOOL_GGRO,
};

static const uint32_t offload_set[NIC_OFFLOAD_COUNT] = {
    ETHTOOL_SRXCSUM, ETHTOOL_STXCSUM, ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO,
};

const char *nic_offload_to_string(enum nic_offload o)
{
    return (unsigned)o < NIC_OFFLOAD_COUNT ? offload_names[o] : "unknown";
}

int nic_offload_from_string(const char *name, enum nic_offload *o)
{
    for (unsigned i = 0; name && i < NIC_OFFLOAD_COUNT; i++)
        if (strcmp(name, offload_names[i]) == 0) {
            *o = (enum nic_offload)i;
            return 0;
        }
    return -EINVAL;
}

/* ---- rtnetlink ---- */

struct dump {
    struct nic *nics;
    size_t n, cap;
};

static struct nic *by_index(struct dump *d, int index)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->nics[i].index == index)
            return &d->nics[i];
    return NULL;
}

static const char *operstate_name(uint8_t s)
{
    static const char *const names[] = { "unknown", "notpresent", "down", "lowerlayerdown",
                                         "testing", "dormant", "up" };
    return s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static int link_attr(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(attr);
    if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
        return MNL_CB_OK;
    tb[type] = attr;
    return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    struct dump *d = data;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
        return MNL_CB_OK;
    struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
    mnl_attr_parse(nlh, sizeof(*ifm), link_attr, tb);
    if (!tb[IFLA_IFNAME] || mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
        return MNL_CB_OK;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        struct nic *grown = realloc(d->nics, cap * sizeof(*grown));
        if (!grown)
            return MNL_CB_ERROR;
        d->nics = grown;
        d->cap = cap;
    }
    struct nic *nic = &d->nics[d->n++];
    memset(nic, 0, sizeof(*nic));
    nic->index = ifm->ifi_index;
    nic->loopback = ifm->ifi_flags & IFF_LOOPBACK;
    snprintf(nic->name, sizeof(nic->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
    if (tb[IFLA_MTU] && mnl_attr_validate(tb[IFLA_MTU], MNL_TYPE_U32) == 0)
        nic->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
    snprintf(nic->operstate, sizeof(nic->operstate), "%s",
             tb[IFLA_OPERSTATE] && mnl_attr_validate(tb[IFLA_OPERSTATE], MNL_TYPE_U8) == 0
                 ? operstate_name(mnl_attr_get_u8(tb[IFLA_OPERSTATE]))
                 : "unknown");
    if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6) {
        const uint8_t *m = mnl_attr_get_payload(tb[IFLA_ADDRESS]);
        if (m[0] | m[1] | m[2] | m[3] | m[4] | m[5])
            snprintf(nic->mac, sizeof(nic->mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
                     m[3], m[4], m[5]);
    }
    return MNL_CB_OK;
}

static int addr_attr(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
        return MNL_CB_OK;
    tb[mnl_attr_get_type(attr)] = attr;
    return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
    struct dump *d = data;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifaddrmsg))
        return MNL_CB_OK;
    struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFA_MAX + 1] = { 0 };
    mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, tb);
    struct nic *nic = by_index(d, (int)ifa->ifa_index);
    const struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    if (!nic || !a || nic->n_addresses == NIC_MAX_ADDRESSES)
        return MNL_CB_OK;
    size_t need = ifa->ifa_family == AF_INET ? 4 : ifa->ifa_family == AF_INET6 ? 16 : 0;
    if (!need || mnl_attr_get_payload_len(a) < need)
        return MNL_CB_OK;
    struct nic_address *out = &nic->addresses[nic->n_addresses];
    if (!inet_ntop(ifa->ifa_family, mnl_attr_get_payload(a), out->address, sizeof(out->address)))
        return MNL_CB_OK;
    out->family = ifa->ifa_family;
    out->prefix = ifa->ifa_prefixlen;
    nic->n_addresses++;
    return MNL_CB_OK;
}

static int route_attr(const struct nlattr *attr, void *data)
{
    const struct nlattr **tb = data;
    if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
        return MNL_CB_OK;
    tb[mnl_attr_get_type(attr)] = attr;
    return MNL_CB_OK;
}

/* A default route (no destination prefix) in the main table marks the NIC it
 * leaves through. */
static int route_cb(const struct nlmsghdr *nlh, void *data)
{
    struct dump *d = data;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtmsg))
        return MNL_CB_OK;
    struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    if (rtm->rtm_dst_len != 0 || rtm->rtm_table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST)
        return MNL_CB_OK;
    const struct nlattr *tb[RTA_MAX + 1] = { 0 };
    mnl_attr_parse(nlh, sizeof(*rtm), route_attr, tb);
    if (!tb[RTA_OIF] || mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) < 0)
        return MNL_CB_OK;
    struct nic *nic = by_index(d, (int)mnl_attr_get_u32(tb[RTA_OIF]));
    if (nic)
        nic->default_gateway = true;
    return MNL_CB_OK;
}

/* libmnl's mnl_cb_run() takes a message length with the top bit set for a
 * negative one and walks off the buffer: every message must fit first. */
static bool frames_fit(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
        if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
            return false;
        size_t step = NLMSG_ALIGN(nlh->nlmsg_len);
        if (step >= len)
            break;
        p += step;
        len -= step;
    }
    return true;
}

static int any_cb(const struct nlmsghdr *nlh, void *data)
{
    switch (nlh->nlmsg_type) {
    case RTM_NEWLINK: return link_cb(nlh, data);
    case RTM_NEWADDR: return addr_cb(nlh, data);
    case RTM_NEWROUTE: return route_cb(nlh, data);
    default: return MNL_CB_OK;
    }
}

int nic_parse_rtnetlink(const void *buf, size_t len, struct nic **nics, size_t *n)
{
    struct dump d = {.nics = *nics, .n = *n, .cap = *n};
    if (!frames_fit(buf, len))
        return -EPROTO;
    errno = 0;
    int r = mnl_cb_run(buf, len, 0, 0, any_cb, &d);
    *nics = d.nics;
    *n = d.n;
    return r < 0 ? (errno ? -errno : -EIO) : 0;
}

static int rt_dump(struct mnl_socket *nl, int type, size_t hdr_size, mnl_cb_t cb, struct dump *d)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (uint16_t)type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    unsigned seq = (unsigned)time(NULL) + (unsigned)type;
    nlh->nlmsg_seq = seq;
    struct rtgenmsg *rt = mnl_nlmsg_put_extra_header(nlh, hdr_size);
    rt->rtgen_family = AF_UNSPEC;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    unsigned portid = mnl_socket_get_portid(nl);
    for (;;) {
        ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (len < 0)
            return -errno;
        if (!frames_fit(buf, (size_t)len))
            return -EPROTO;
        int r = mnl_cb_run(buf, (size_t)len, seq, portid, cb, d);
        if (r == MNL_CB_STOP)
            return 0;
        if (r < 0)
            return -errno ? -errno : -EIO;
    }
}

/* ---- ethtool ---- */

static int ethtool(int fd, const char *name, void *cmd)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_data = cmd;
    return ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
}

int64_t nic_link_speed_mbps(uint16_t speed, uint16_t speed_hi)
{
    /* Not the kernel's ethtool_cmd_speed(): it shifts the promoted (signed)
     * high half, undefined once its top bit is set, as in SPEED_UNKNOWN. */
    uint32_t mbps = (uint32_t)speed_hi << 16 | speed;
    if (mbps == (uint32_t)SPEED_UNKNOWN || mbps == 0 || mbps == 0xffff)
        return -1;
    return mbps;
}

void nic_apply_ethtool(struct nic *nic, const struct nic_ethtool_reply *reply)
{
    nic->speed_mbps = -1;
    for (unsigned i = 0; i < NIC_OFFLOAD_COUNT; i++)
        nic->offloads[i] = -1;
    /* The kernel ends the driver's name with a NUL; a driver that fills all
     * 32 bytes would run the copy into the version field after it. */
    if (reply->has_drvinfo)
        snprintf(nic->driver, sizeof(nic->driver), "%.*s",
                 (int)strnlen(reply->drvinfo.driver, sizeof(reply->drvinfo.driver)),
                 reply->drvinfo.driver);
    if (reply->has_settings) {
        nic->speed_mbps = nic_link_speed_mbps(reply->settings.speed, reply->settings.speed_hi);
        if (reply->settings.duplex == DUPLEX_FULL)
            snprintf(nic->duplex, sizeof(nic->duplex), "full");
        else if (reply->settings.duplex == DUPLEX_HALF)
            snprintf(nic->duplex, sizeof(nic->duplex), "half");
    }
    for (unsigned i = 0; i < NIC_OFFLOAD_COUNT; i++)
        if (reply->has_offload[i])
            nic->offloads[i] = reply->offload[i].data ? 1 : 0;
}

static void read_ethtool(int fd, struct nic *nic)
{
    struct nic_ethtool_reply reply;
    memset(&reply, 0, sizeof(reply));
    reply.drvinfo.cmd = ETHTOOL_GDRVINFO;
    reply.has_drvinfo = ethtool(fd, nic->name, &reply.drvinfo) == 0;
    reply.settings.cmd = ETHTOOL_GSET;
    reply.has_settings = ethtool(fd, nic->name, &reply.settings) == 0;
    for (unsigned i = 0; i < NIC_OFFLOAD_COUNT; i++) {
        reply.offload[i].cmd = offload_get[i];
        reply.has_offload[i] = ethtool(fd, nic->name, &reply.offload[i]) == 0;
    }
    nic_apply_ethtool(nic, &reply);
}

int nic_list(struct nic **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    if (!nl)
        return -errno;
    struct dump d = { 0 };
    int r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
    if (r == 0)
        r = rt_dump(nl, RTM_GETLINK, sizeof(struct ifinfomsg), link_cb, &d);
    if (r == 0)
        r = rt_dump(nl, RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb, &d);
    if (r == 0)
        r = rt_dump(nl, RTM_GETROUTE, sizeof(struct rtmsg), route_cb, &d);
    mnl_socket_close(nl);
    if (r < 0) {
        free(d.nics);
        return r;
    }
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    for (size_t i = 0; fd >= 0 && i < d.n; i++)
        read_ethtool(fd, &d.nics[i]);
    *out = d.nics;
    *n = d.n;
    return 0;
}

int nic_get(const char *name, struct nic *out)
{
    struct nic *all = NULL;
    size_t n = 0;
    int r = nic_list(&all, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i].name, name) == 0) {
            *out = all[i];
            r = 0;
        }
    free(all);
    return r;
}

int nic_set_offload(const char *name, enum nic_offload offload, bool on)
{
    if ((unsigned)offload >= NIC_OFFLOAD_COUNT)
        return -EINVAL;
    if (if_nametoindex(name) == 0)
        return -ENOENT;
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ethtool_value v = { .cmd = offload_set[offload], .data = on };
    int r = ethtool(fd, name, &v);
    return r == -EINVAL ? -EOPNOTSUPP : r;
}

struct json_object *nic_to_json(const struct nic *nic)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(nic->name));
    json_object_object_add(o, "index", json_object_new_int(nic->index));
    json_object_object_add(o, "mac", nic->mac[0] ? json_object_new_string(nic->mac) : NULL);
    json_object_object_add(o, "mtu", json_object_new_int((int)nic->mtu));
    json_object_object_add(o, "state", json_object_new_string(nic->operstate));
    json_object_object_add(o, "driver", nic->driver[0] ? json_object_new_string(nic->driver) : NULL);
    json_object_object_add(o, "speed_mbps",
                           nic->speed_mbps >= 0 ? json_object_new_int64(nic->speed_mbps) : NULL);
    json_object_object_add(o, "duplex", nic->duplex[0] ? json_object_new_string(nic->duplex) : NULL);
    json_object_object_add(o, "default_gateway", json_object_new_boolean(nic->default_gateway));
    struct json_object *addresses = json_object_new_array();
    for (size_t i = 0; i < nic->n_addresses; i++) {
        struct json_object *a = json_object_new_object();
        json_object_object_add(a, "family", json_object_new_string(
                                                nic->addresses[i].family == AF_INET6 ? "ipv6" : "ipv4"));
        json_object_object_add(a, "address", json_object_new_string(nic->addresses[i].address));
        json_object_object_add(a, "prefix", json_object_new_int((int)nic->addresses[i].prefix));
        json_object_array_add(addresses, a);
    }
    json_object_object_add(o, "addresses", addresses);
    struct json_object *offloads = json_object_new_object();
    for (unsigned i = 0; i < NIC_OFFLOAD_COUNT; i++)
        json_object_object_add(offloads, offload_names[i],
                               nic->offloads[i] < 0 ? NULL : json_object_new_boolean(nic->offloads[i]));
    json_object_object_add(o, "offloads", offloads);
    return o;
}
