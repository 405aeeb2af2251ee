/* The direct multifd path: QEMU's own migration connections straight over
 * the migration network, which only the source host can open.
 *
 * QEMU 7.2's multifd opens every channel itself, all to one address, so the
 * agents cannot hand it authenticated descriptors the way they do for one
 * stream (migrate/channel.h).  Instead the destination agent makes the
 * listening socket: bound to its own address on the migration network, with
 * a socket filter (SO_ATTACH_FILTER, classic BPF) that drops every packet
 * whose IP source is not the source host's migration address, so a SYN from
 * anywhere else never makes a connection.  The filter is in place before
 * listen(), accepted connections inherit it, and QEMU gets the socket with
 * getfd and "migrate-incoming tcp:fd:NAME" (it accepts the channels on it
 * and closes it once it has them all).  The source QEMU migrates to
 * "tcp:DESTINATION:PORT"; its kernel must send from the source's migration
 * address, which direct_route_source() checks before a migration is planned
 * with several channels.
 *
 * What this trusts: the migration network's addresses (a host on that
 * network that forges the source's address could connect during the
 * seconds the socket listens; the one-stream path's token does not have
 * that hole).  The README says so. */
#ifndef LMNET_MIGRATE_DIRECT_H
#define LMNET_MIGRATE_DIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Makes a TCP socket listening on ADDRESS (IPv4 or IPv6), any free port,
 * that takes connections from PEER (an address of the same family) only.
 * Returns the socket (the caller's; close-on-exec) and *port, or a negative
 * errno (-EINVAL: an address does not parse, -EAFNOSUPPORT: the families
 * differ). */
int direct_listen(const char *address, const char *peer, uint16_t *port);

/* Puts in OUT (SIZE bytes) the address this host's kernel sends from to
 * reach DESTINATION (a UDP connect, nothing sent).  Returns 0 or a negative
 * errno. */
int direct_route_source(const char *destination, char *out, size_t size);

/* Whether the direct path is safe from SOURCE to DESTINATION: both are IP
 * addresses of one family and ROUTE_SOURCE (direct_route_source() of
 * DESTINATION, on the source host) is SOURCE. */
bool direct_path_safe(const char *source, const char *destination, const char *route_source);

#endif
