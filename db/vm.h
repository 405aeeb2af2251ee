/* The VM aggregate: what a VM is (memory, vCPUs, what it boots), where it
 * runs, its state, and its adapters (each a switch port plus the model QEMU
 * emulates).  The hypervisor driver acts on it; this file only stores it.
 * Each change bumps the VM's generation, from which its ETag is made. */
#ifndef LMNET_DB_VM_H
#define LMNET_DB_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"

#define VM_MAX_ADAPTERS 8

enum vm_state {
    VM_STOPPED,
    VM_RUNNING,
    VM_PAUSED,
    VM_MIGRATING,  /* source side of a migration in progress */
    VM_INCOMING,   /* destination side: QEMU waits for the incoming state */
    VM_FAILED,
    VM_STATE_COUNT,
};

const char *vm_state_to_string(enum vm_state state);
int vm_state_from_string(const char *name, enum vm_state *state);

struct vm_adapter {
    char port[64];   /* the switch port (and tap) of this adapter */
    char model[32];  /* "virtio-net-pci", or a legacy card such as "e1000" */
};

struct vm {
    char uuid[37];
    char name[64];
    unsigned memory_mib;
    unsigned vcpus;
    char kernel[256];
    char initrd[256];
    char append[1024];
    char disk[256];
    enum vm_state state;
    char host[37];
    int64_t generation;
    int64_t created_ms;
    int64_t updated_ms;
    size_t n_adapters;
    struct vm_adapter adapters[VM_MAX_ADAPTERS];
};

/* True when NAME is a usable VM name: 1-63 of [A-Za-z0-9._-], not starting
 * with '-' or '.'. */
bool vm_name_valid(const char *name);

/* Stores a new VM with its adapters, in one transaction.  Returns 0, -EEXIST
 * when the name, the uuid or one of the ports is taken, or a negative
 * errno. */
int vm_insert(struct db *db, const struct vm *vm);

/* Reads a VM by uuid or by name.  Returns 0, -ENOENT, or a negative errno. */
int vm_get(struct db *db, const char *uuid_or_name, struct vm *out);

/* Lists every VM, by name.  *out (n of them) is the caller's to free(). */
int vm_list(struct db *db, struct vm **out, size_t *n);

/* Sets the state; returns 0, -ENOENT or a negative errno. */
int vm_set_state(struct db *db, const char *uuid, enum vm_state state);

/* Moves the VM to HOST (a node uuid) with STATE, as migration finishes. */
int vm_set_host(struct db *db, const char *uuid, const char *host, enum vm_state state);

/* Deletes the VM and its adapter rows.  Returns 0, -ENOENT or an errno. */
int vm_delete(struct db *db, const char *uuid);

/* The VM as the API shows it; the caller owns the object.  Its ETag is
 * derived from the generation. */
struct json_object *vm_to_json(const struct vm *vm);

/* Reads the JSON form back (as another host sent it): id, name, memory,
 * vCPUs, what it boots, state and host when present, adapters.  Returns 0
 * or -EINVAL. */
int vm_from_json(struct json_object *obj, struct vm *out);

#endif
