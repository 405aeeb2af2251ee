/* IP subnets: the network an address with a prefix length belongs to, in
 * one canonical text form, so that two hosts' addresses on the same wire
 * group into one cluster network whatever their host part. */
#ifndef LMNET_AGENT_SUBNET_H
#define LMNET_AGENT_SUBNET_H

#include <stdbool.h>
#include <stddef.h>

struct subnet {
    int family;                /* AF_INET or AF_INET6 */
    unsigned char bytes[16];   /* network address, host bits zero */
    unsigned prefix;
    char address[64];          /* text of the network address: "10.78.0.0" */
};

/* Fills *out with the subnet of ADDRESS (IPv4 or IPv6 text) with PREFIX
 * bits.  Returns 0, or -EINVAL for an address that does not parse or a
 * prefix longer than the family allows. */
int subnet_of(const char *address, unsigned prefix, struct subnet *out);

/* True when ADDRESS (text) lies inside SUBNET. */
bool subnet_contains(const struct subnet *subnet, const char *address);

/* True when the pair is the same subnet. */
bool subnet_equal(const struct subnet *a, const struct subnet *b);

/* True for addresses no cluster network is made of: loopback, link-local
 * (169.254/16, fe80::/10), and host routes (/32, /128) that no two hosts
 * share. */
bool subnet_is_host_only(const struct subnet *subnet);

/* The address mask as Get-ClusterNetwork prints it: dotted for IPv4
 * ("255.255.255.0"), the prefix length for IPv6 ("64").  Writes into BUF
 * and returns it. */
const char *subnet_mask_text(const struct subnet *subnet, char *buf, size_t size);

#endif
