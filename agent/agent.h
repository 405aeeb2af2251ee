/* The agent context: one struct passed explicitly to everything that needs
 * the configuration, the database, the drivers or the node's identity.
 *
 * Fields are set once at start-up by lmnetd's main and only read afterwards,
 * except where a field's comment names the lock that guards it. */
#ifndef LMNET_AGENT_AGENT_H
#define LMNET_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "agent/config.h"

struct db_pool;
struct hypervisor;
struct lifecycle;
struct membership;
struct metrics;
struct migrator;
struct ports;
struct reachability;
struct registry;
struct heartbeat;
struct switchport;
struct vswitch;
struct token_set;

struct agent {
    struct config config;
    struct db_pool *db;
    struct token_set *tokens; /* NULL: authentication off (loopback only) */
    char node_id[37];         /* UUID, created once and kept in the database */
    char hostname[256];
    struct timespec started;  /* CLOCK_MONOTONIC at start */
    time_t started_wall;
    unsigned port;            /* the port actually bound */
    char *peer_token;         /* token presented to other agents, or NULL */
    struct registry *registry; /* the cluster registry (agent/registry.h) */
    struct membership *membership;
    struct vswitch *vswitch;       /* the virtual switch, or NULL (no 'ovsdb' set) */
    struct switchport *switchport; /* switches and ports over it, or NULL */
    struct hypervisor *hypervisor; /* runs the VMs (hypervisor/hypervisor.h) */
    const struct ports *ports;     /* the switch ports VMs plug into; NULL when
                                      this host has no virtual switch */
    struct lifecycle *lifecycle;   /* the VMs this host runs */
    struct migrator *migrator;     /* live migrations, both sides */
    struct reachability *reachability; /* heartbeat reports (used on the registry) */
    struct heartbeat *heartbeat;   /* heartbeats on the cluster networks */
    struct metrics *metrics;       /* counters for /metrics (agent/metrics.h), or NULL */
};

/* Seconds since the agent started. */
double agent_uptime(const struct agent *agent);

/* The base URL other agents reach this one at: http(s)://ADDRESS:PORT, the
 * address being management_address if set, else the listen address.  Writes
 * into BUF and returns it. */
const char *agent_url(const struct agent *agent, char *buf, size_t size);

#endif
