/* lmnetd's configuration.
 *
 * The file is "key = value" lines; '#' starts a comment, blank lines are
 * ignored, values may be quoted with double quotes.  Unknown keys, repeated
 * keys and bad values are errors that name the file, the line and the key.
 * Command-line flags are applied after the file with config_set(), so they
 * override it.  All strings in struct config are owned by it. */
#ifndef LMNET_AGENT_CONFIG_H
#define LMNET_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/log.h"

#define CONFIG_DEFAULT_PATH "/etc/lmnet/lmnetd.conf"
#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8470"
#define CONFIG_DEFAULT_DATABASE "/var/lib/lmnet/lmnet.db"
#define CONFIG_DEFAULT_QEMU_USER "lmnet-qemu"
#define CONFIG_DEFAULT_IMAGE_DIRS "/var/lib/lmnet/images"

struct config {
    char *listen;          /* "ADDRESS:PORT" as given */
    char listen_address[64]; /* parsed from listen; IPv6 without brackets */
    uint16_t listen_port;
    char *database;
    char *token_file;      /* NULL: no authentication (loopback only) */
    char *tls_cert;
    char *tls_key;
    bool allow_insecure_listen; /* plain HTTP on a non-loopback address, knowingly */
    char *log_file;        /* NULL: stderr */
    enum log_level log_level;
    char *registry;        /* "self", the registry agent's URL, or etcd://H:P,... */
    char *etcd_prefix;        /* keys under this prefix; NULL: "/lmnet/" */
    char *etcd_ca_file;       /* https to etcd, servers checked with this CA */
    char *etcd_cert_file;     /* client certificate for etcd (https) */
    char *etcd_key_file;      /* its key */
    char *etcd_user;          /* etcd user; NULL: no authentication */
    char *etcd_password_file; /* its password, first line (mode 0600) */
    char *node_name;       /* NULL: the host name */
    unsigned threads;      /* HTTP worker pool size; 0: a thread per connection */
    unsigned max_connections;        /* HTTP connections at once, from everyone */
    unsigned max_connections_per_ip; /* from one client address; 0: no limit */
    unsigned request_timeout;        /* seconds a request may take to arrive (or its
                                        answer to leave), handler time not counted;
                                        0: no deadline */
    unsigned max_migrations;
    char *management_address; /* address other agents reach us on; NULL: from listen */
    char *peer_token_file;  /* token this agent presents to its peers; NULL: none */
    char *member_credential_file; /* this agent's own member credential; NULL: next to
                                     the database, "member-credential" */
    unsigned member_address_check; /* registry: 1 (default) a member's URL must name the
                                      address it calls from; 0: any address */
    char *ovsdb;            /* Open vSwitch's OVSDB socket; NULL: no virtual switch */
    char *datapath_type;    /* "system" (kernel datapath) or "netdev" (userspace) */
    char *run_dir;          /* sockets, pid files, VM logs ("/run/lmnet") */
    char *qemu;             /* the QEMU program ("qemu-system-x86_64") */
    char *accel;            /* "auto", "kvm" or "tcg" */
    char *qemu_user;        /* QEMU drops to this user (-runas); NULL: it
                               runs as the agent ("none") */
    char *image_dirs;       /* ','-separated directories VM kernels, initrds
                               and disks must lie in ("/var/lib/lmnet/images") */
    char *vm_cgroup;        /* where each QEMU runs: "auto", "systemd", "cgroupfs"
                               or "none" (hypervisor/vm_scope.h) */
    char *vm_slice;         /* the slice of the VMs' scopes ("lmnet.slice") */
    char *dynamic_mac_range; /* this host's dynamic pool (START-END); NULL:
                                00:15:5d + management IPv4 + 256 */
    unsigned migration_stall_timeout; /* seconds without progress before a
                                         migration is abandoned */
    char *migration_downtime_schedule;             /* "300,1000,2000": the convergence
                                                      policy's defaults (migrate/plan/convergence.h) */
    unsigned migration_auto_converge;              /* 0 or 1 */
    unsigned migration_allow_postcopy;             /* 0 or 1 */
    unsigned migration_completion_timeout_per_gib; /* seconds; 0: none */
    char *migration_timeout_action;                /* "abort", "pause" or "postcopy" */
    unsigned heartbeat_port;      /* UDP port of the heartbeats; 0: none sent */
    unsigned heartbeat_interval;  /* milliseconds between heartbeats */
    unsigned heartbeat_threshold; /* heartbeats missed before a member is not heard */
};

/* Fills CONFIG with the built-in defaults.  Returns 0 or -ENOMEM. */
int config_init(struct config *config);

/* Frees what CONFIG owns; the struct itself is the caller's. */
void config_release(struct config *config);

/* Reads PATH into CONFIG.  When the file does not exist and MISSING_OK is
 * set, returns 0 and leaves CONFIG as it was.  On a bad file returns -EINVAL
 * with "PATH:LINE: key 'KEY': reason" in ERR (ERR_SIZE bytes). */
int config_load(struct config *config, const char *path, bool missing_ok, char *err,
                size_t err_size);

/* Sets one key as the file would ("listen", "database", ...).  Returns 0, or
 * -EINVAL (unknown key or bad value) with the reason in ERR. */
int config_set(struct config *config, const char *key, const char *value, char *err,
               size_t err_size);

/* True when listen is a loopback address (127.0.0.0/8, ::1). */
bool config_listen_is_loopback(const struct config *config);

/* Checks the combination of keys (TLS needs both cert and key; a listen
 * address off loopback needs TLS or allow_insecure_listen, ...).
 * Returns 0 or -EINVAL with the reason in ERR. */
int config_check(const struct config *config, char *err, size_t err_size);

#endif
