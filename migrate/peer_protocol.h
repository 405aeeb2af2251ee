/* The agent-to-agent migration protocol: the JSON bodies the source and the
 * destination agent exchange over REST (DESIGN.md, "Live migration, step by
 * step"), as typed structs with one encoder and one decoder each.  Nothing
 * else builds or reads these bodies by hand.
 *
 *   POST /v1/migrations/ID/prepare     peer_prepare -> peer_prepare_answer
 *   POST /v1/migrations/ID/switchover  (no body)
 *   POST /v1/migrations/ID/finish      peer_finish
 *   POST /v1/migrations/ID/abort       peer_abort
 *   GET  /v1/migrations/ID             read by the source as peer_status
 *
 * The options (peer_options) are also what a migration record stores, on
 * both hosts, as its options text.
 *
 * Decoders return 0, or -EINVAL with a sentence in WHY that names the field;
 * what they fill is the caller's (nothing to free).  Encoders return a new
 * JSON object the caller owns. */
#ifndef LMNET_MIGRATE_PEER_PROTOCOL_H
#define LMNET_MIGRATE_PEER_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/port.h"
#include "db/vm.h"
#include "migrate/channel.h"
#include "migrate/plan/convergence.h"

/* How a migration runs, as the source decided it. */
struct peer_options {
    int64_t downtime_limit_ms; /* < 0: QEMU's default */
    uint64_t max_bandwidth;    /* bytes/s; 0: no cap */
    unsigned channels;         /* 1: one stream; more: multifd */
    bool allow_management_network;
    bool convert_dynamic_macs;
    /* False in a record made before there was a policy: then CONVERGENCE
     * is the old behaviour (its one downtime limit, no timeout). */
    bool has_convergence;
    struct convergence_policy convergence;
    unsigned channels_requested; /* 0: as CHANNELS; else what was asked */
    char channels_note[512];     /* why CHANNELS is fewer, or "" */
};

struct json_object *peer_options_encode(const struct peer_options *options);
/* OBJ may be NULL (a record without options): the defaults.  Absent fields
 * take their defaults; fields of the wrong type are refused.  A convergence
 * policy that does not read is refused too. */
int peer_options_decode(struct json_object *obj, struct peer_options *out, char *why,
                        size_t why_size);

/* What the source asks the destination to prepare. */
struct peer_prepare {
    char id[37];
    char source[37];      /* node ids */
    char destination[37];
    char network[64];     /* the cluster network's id, or "" */
    char source_address[64];
    char destination_address[64];
    bool quick;
    bool multifd_direct; /* the source can have QEMU's channels go directly */
    struct peer_options options;
    struct vm vm;
    size_t n_ports; /* = vm.n_adapters, in the adapters' order */
    struct port_record ports[VM_MAX_ADAPTERS];
};

struct json_object *peer_prepare_encode(const struct peer_prepare *prepare);
/* *OUT is large (the ports' VLAN lists): allocate it, do not put it on a
 * thread's stack. */
int peer_prepare_decode(struct json_object *obj, struct peer_prepare *out, char *why,
                        size_t why_size);

/* The destination's answer to prepare: where to connect, and how. */
struct peer_prepare_answer {
    uint16_t port;
    bool direct; /* QEMU listens itself (no token); else the channel does */
    char token[CHANNEL_TOKEN_HEX + 1];
};

struct json_object *peer_prepare_answer_encode(const struct peer_prepare_answer *answer);
/* CHANNELS is what the source asked for: a direct answer to a one-stream
 * migration is refused, as are a port outside 1-65535 and a channel answer
 * without a token of CHANNEL_TOKEN_HEX hex digits. */
int peer_prepare_answer_decode(struct json_object *obj, unsigned channels,
                               struct peer_prepare_answer *out, char *why, size_t why_size);

/* The source's figures, sent along with finish (-1: unknown). */
struct peer_finish {
    int64_t downtime_ms;
    int64_t switchover_gap_ms;
};

struct json_object *peer_finish_encode(const struct peer_finish *finish);
/* OBJ may be NULL (an older source sends no body): both unknown. */
int peer_finish_decode(struct json_object *obj, struct peer_finish *out, char *why,
                       size_t why_size);

struct peer_abort {
    char reason[512]; /* "" when none was given */
};

struct json_object *peer_abort_encode(const struct peer_abort *abort_);
/* OBJ may be NULL: no reason. */
int peer_abort_decode(struct json_object *obj, struct peer_abort *out, char *why,
                      size_t why_size);

/* What the source reads of the destination's migration record. */
struct peer_status {
    char phase[32];
    char error[512]; /* "" when none */
    bool gave_up;    /* the destination failed or cancelled its side */
};

struct json_object *peer_status_encode(const struct peer_status *status);
int peer_status_decode(struct json_object *obj, struct peer_status *out, char *why,
                       size_t why_size);

#endif
