/* OpenFlow 1.4 to one Open vSwitch bridge over its management socket
 * (RUNDIR/BRIDGE.mgmt): the guard flows and port flags lmnet sets, with one
 * long-lived session instead of an ovs-ofctl process (and its look-up of
 * every port) per change.
 *
 * The session learns the bridge's ports (number, name, hardware address)
 * from a port-description request when it opens and from the port-status
 * messages it asks for, so flows can match a port by number as soon as
 * ovs-vswitchd has added it.  Flows are changed in bundles (atomic and
 * ordered: a port's old flows out and its new ones in at once).
 *
 * Threads: a reader thread ("lmnet-openflow") takes every message from the
 * switch: it answers echoes, keeps the port table and wakes the caller
 * whose request a reply or an error answers.  Calls may come from any
 * thread; sends are serialised.  Errors are negative errno: -ECONNRESET
 * once the switch closed the session (every later call fails so; open a
 * new one), -ETIMEDOUT, -EPROTO for a message that is not OpenFlow, and
 * -EREMOTEIO when the switch refused a request (openflow_last_error()). */
#ifndef LMNET_AGENT_OPENFLOW_H
#define LMNET_AGENT_OPENFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct openflow;

#define OPENFLOW_PORT_NORMAL 0xfffffffau /* OFPP_NORMAL */

struct openflow_port {
    uint32_t number;
    uint8_t hw_addr[6];
};

/* One flow in table 0.  A field is matched when its has_ flag is set;
 * ip_proto, udp_src and icmp_type need eth_type (and udp_src and icmp_type
 * the matching ip_proto), as OpenFlow's prerequisites say. */
struct openflow_flow {
    uint64_t cookie;
    uint16_t priority;
    uint32_t in_port;
    bool has_eth_src;
    uint8_t eth_src[6];
    uint16_t eth_type;  /* 0: any */
    uint8_t ip_proto;   /* 0: any */
    int32_t udp_src;    /* -1: any */
    int32_t icmp_type;  /* -1: any; ICMPv4 or ICMPv6 by eth_type */
    bool normal;        /* actions=NORMAL; false: drop */
};

/* What one port's flows become: every flow whose cookie is COOKIE goes,
 * then FLOWS come. */
struct openflow_change {
    uint64_t cookie;
    const struct openflow_flow *flows;
    size_t n_flows;
};

/* Opens a session to the bridge socket at PATH: hello, port-status
 * messages on, the port table read.  Returns 0 and *out, or a negative
 * errno. */
int openflow_open(const char *path, int timeout_ms, struct openflow **out);

/* As openflow_open(), on FD, an already connected stream socket (the fuzz
 * target uses a socketpair).  FD is the session's from now on, even on
 * failure. */
int openflow_open_fd(int fd, int timeout_ms, struct openflow **out);

/* Ends the session and frees OF.  NULL is a no-op. */
void openflow_close(struct openflow *of);

/* 0 while the session stands, else why it ended (negative errno). */
int openflow_status(struct openflow *of);

/* Waits up to TIMEOUT_MS for the bridge to have a port NAME.  Returns 0 and
 * *out, -ENOENT, or a negative errno. */
int openflow_port(struct openflow *of, const char *name, int timeout_ms, struct openflow_port *out);

/* Applies CHANGES as one atomic bundle.  Returns 0 or a negative errno
 * (then nothing of it was applied). */
int openflow_apply(struct openflow *of, const struct openflow_change *changes, size_t n);

/* Sets (FORWARD false) or clears OpenFlow's no-forward flag on PORT: NORMAL
 * sends nothing out of a port that has it.  Returns 0 or a negative
 * errno. */
int openflow_port_forward(struct openflow *of, const struct openflow_port *port, bool forward);

/* The switch's last refusal, "type T code C", or "". */
const char *openflow_last_error(struct openflow *of);

#endif
