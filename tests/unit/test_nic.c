/* model/nic.c: what the kernel's ethtool speed fields mean, and its reading
 * of rtnetlink replies (nic_parse_rtnetlink()).  Reading real NICs needs a
 * host (tests/integration/test_nics.sh); this checks the arithmetic on the
 * values drivers really report, under UBSan too, and that a well-formed
 * dump gives the NICs with their addresses and default route while
 * messages and attributes shorter than they claim, or a length with the
 * top bit set (libmnl walked off the buffer; found by
 * tests/fuzz/fuzz_rtnetlink), are skipped or refused, never read past. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "model/nic.h"

static void test_link_speed(void **state)
{
    (void)state;
    assert_int_equal(nic_link_speed_mbps(10000, 0), 10000);
    assert_int_equal(nic_link_speed_mbps(10, 0), 10);
    /* 100 Gbit/s and 400 Gbit/s need the high half. */
    assert_int_equal(nic_link_speed_mbps(100000 & 0xffff, 100000 >> 16), 100000);
    assert_int_equal(nic_link_speed_mbps(400000 & 0xffff, 400000 >> 16), 400000);
    /* Unknown: 0, 0xffff, and SPEED_UNKNOWN (-1 in both halves, as a bridge
     * without ports or a bond without slaves reports: its high half shifted
     * into a signed int's sign bit was undefined behaviour). */
    assert_int_equal(nic_link_speed_mbps(0, 0), -1);
    assert_int_equal(nic_link_speed_mbps(0xffff, 0), -1);
    assert_int_equal(nic_link_speed_mbps(0xffff, 0xffff), -1);
    /* A high half with its top bit set is still a number, if a silly one. */
    assert_int_equal(nic_link_speed_mbps(0, 0x8000), 0x80000000LL);
}

struct msgbuf {
    unsigned char data[1024];
    size_t len;
    size_t msg; /* offset of the message being built */
};

static void msg_begin(struct msgbuf *b, uint16_t type, const void *hdr, size_t hdr_len)
{
    b->msg = b->len;
    struct nlmsghdr nlh = {.nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI};
    memcpy(b->data + b->len, &nlh, sizeof(nlh));
    b->len += sizeof(nlh);
    memcpy(b->data + b->len, hdr, hdr_len);
    b->len += NLMSG_ALIGN(hdr_len);
}

static void attr(struct msgbuf *b, uint16_t type, const void *payload, size_t n)
{
    struct nlattr a = {.nla_len = (uint16_t)(sizeof(a) + n), .nla_type = type};
    memcpy(b->data + b->len, &a, sizeof(a));
    memcpy(b->data + b->len + sizeof(a), payload, n);
    b->len += NLMSG_ALIGN(sizeof(a) + n);
}

static void msg_end(struct msgbuf *b)
{
    uint32_t len = (uint32_t)(b->len - b->msg);
    memcpy(b->data + b->msg, &len, sizeof(len));
}

static void link_msg(struct msgbuf *b, int index, const char *name, const void *mtu, size_t mtu_len)
{
    struct ifinfomsg ifm = {.ifi_index = index};
    msg_begin(b, RTM_NEWLINK, &ifm, sizeof(ifm));
    attr(b, IFLA_IFNAME, name, strlen(name) + 1);
    attr(b, IFLA_MTU, mtu, mtu_len);
    static const unsigned char mac[6] = {2, 0, 0, 0, 0, 1};
    attr(b, IFLA_ADDRESS, mac, sizeof(mac));
    msg_end(b);
}

static void test_dump(void **state)
{
    (void)state;
    struct msgbuf b = {0};
    uint32_t mtu = 1500;
    link_msg(&b, 2, "eth0", &mtu, sizeof(mtu));
    struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = 24, .ifa_index = 2};
    msg_begin(&b, RTM_NEWADDR, &ifa, sizeof(ifa));
    attr(&b, IFA_LOCAL, (unsigned char[]){10, 0, 0, 5}, 4);
    msg_end(&b);
    struct rtmsg rtm = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_type = RTN_UNICAST};
    msg_begin(&b, RTM_NEWROUTE, &rtm, sizeof(rtm));
    uint32_t oif = 2;
    attr(&b, RTA_OIF, &oif, sizeof(oif));
    msg_end(&b);

    struct nic *nics = NULL;
    size_t n = 0;
    assert_int_equal(nic_parse_rtnetlink(b.data, b.len, &nics, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(nics[0].name, "eth0");
    assert_int_equal(nics[0].mtu, 1500);
    assert_string_equal(nics[0].mac, "02:00:00:00:00:01");
    assert_int_equal(nics[0].n_addresses, 1);
    assert_string_equal(nics[0].addresses[0].address, "10.0.0.5");
    assert_true(nics[0].default_gateway);
    free(nics);
}

/* A one-byte MTU and a two-byte address are not read as four. */
static void test_short_attributes_skipped(void **state)
{
    (void)state;
    struct msgbuf b = {0};
    link_msg(&b, 3, "eth1", "\x05", 1);
    struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = 24, .ifa_index = 3};
    msg_begin(&b, RTM_NEWADDR, &ifa, sizeof(ifa));
    attr(&b, IFA_LOCAL, "\x0a\x00", 2);
    msg_end(&b);
    /* Exact-size copy: ASan sees a read past the end. */
    unsigned char *copy = malloc(b.len);
    memcpy(copy, b.data, b.len);
    struct nic *nics = NULL;
    size_t n = 0;
    assert_int_equal(nic_parse_rtnetlink(copy, b.len, &nics, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(nics[0].mtu, 0);
    assert_int_equal(nics[0].n_addresses, 0);
    free(nics);
    free(copy);
}

/* A message length with the top bit set is refused, not followed. */
static void test_huge_length_refused(void **state)
{
    (void)state;
    struct msgbuf b = {0};
    uint32_t mtu = 1500;
    link_msg(&b, 2, "eth0", &mtu, sizeof(mtu));
    link_msg(&b, 3, "eth1", &mtu, sizeof(mtu));
    uint32_t huge = 0xfffffff0u;
    memcpy(b.data + b.msg, &huge, sizeof(huge));
    struct nic *nics = NULL;
    size_t n = 0;
    assert_int_equal(nic_parse_rtnetlink(b.data, b.len, &nics, &n), -EPROTO);
    free(nics);
}

/* The ethtool answers as nic_list() reads them: what failed stays unknown,
 * and a driver name that fills its 32 bytes without a NUL is cut there, not
 * run on into the version field. */
static void test_ethtool_reply(void **state)
{
    (void)state;
    struct nic_ethtool_reply reply;
    memset(&reply, 0, sizeof(reply));
    struct nic nic;
    memset(&nic, 0, sizeof(nic));
    nic_apply_ethtool(&nic, &reply);
    assert_string_equal(nic.driver, "");
    assert_int_equal(nic.speed_mbps, -1);
    assert_string_equal(nic.duplex, "");
    for (unsigned i = 0; i < NIC_OFFLOAD_COUNT; i++)
        assert_int_equal(nic.offloads[i], -1);

    reply.has_drvinfo = true;
    snprintf(reply.drvinfo.driver, sizeof(reply.drvinfo.driver), "virtio_net");
    reply.has_settings = true;
    reply.settings.speed = 25000 & 0xffff;
    reply.settings.speed_hi = 25000 >> 16;
    reply.settings.duplex = DUPLEX_FULL;
    reply.has_offload[NIC_OFFLOAD_TSO] = true;
    reply.offload[NIC_OFFLOAD_TSO].data = 7;
    reply.has_offload[NIC_OFFLOAD_GRO] = true;
    nic_apply_ethtool(&nic, &reply);
    assert_string_equal(nic.driver, "virtio_net");
    assert_int_equal(nic.speed_mbps, 25000);
    assert_string_equal(nic.duplex, "full");
    assert_int_equal(nic.offloads[NIC_OFFLOAD_TSO], 1);
    assert_int_equal(nic.offloads[NIC_OFFLOAD_GRO], 0);
    assert_int_equal(nic.offloads[NIC_OFFLOAD_GSO], -1);

    memset(reply.drvinfo.driver, 'x', sizeof(reply.drvinfo.driver));
    snprintf(reply.drvinfo.version, sizeof(reply.drvinfo.version), "VERSION");
    reply.settings.duplex = 0xff;
    memset(nic.duplex, 0, sizeof(nic.duplex));
    nic_apply_ethtool(&nic, &reply);
    assert_int_equal(strlen(nic.driver), sizeof(nic.driver) - 1);
    assert_null(strstr(nic.driver, "VERSION"));
    assert_string_equal(nic.duplex, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_speed),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_short_attributes_skipped),
        cmocka_unit_test(test_huge_length_refused),
        cmocka_unit_test(test_ethtool_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
