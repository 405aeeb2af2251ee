/* VLAN ids and a port's VLAN assignment: access (one id) or trunk (allowed
 * ids and a native id), validated with the JSON pointer of the field at
 * fault so the API can say exactly what was wrong.
 *
 * JSON forms: {"mode": "access", "id": 100} and
 * {"mode": "trunk", "allowed": [100, 200], "native": 100}; "native" may be
 * left out (untagged frames then belong to no VLAN). */
#ifndef LMNET_AGENT_VLAN_H
#define LMNET_AGENT_VLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define VLAN_ID_MIN 1
#define VLAN_ID_MAX 4094

enum vlan_mode {
    VLAN_MODE_ACCESS,
    VLAN_MODE_TRUNK,
};

struct vlan_assignment {
    enum vlan_mode mode;
    uint16_t id;       /* access: the VLAN */
    uint16_t native;   /* trunk: untagged frames' VLAN, 0 for none */
    size_t n_allowed;  /* trunk: ascending, no duplicates */
    uint16_t allowed[VLAN_ID_MAX];
};

/* True for 1-4094. */
bool vlan_id_valid(int64_t id);

/* "access", "trunk". */
const char *vlan_mode_to_string(enum vlan_mode mode);

/* Reads an assignment from OBJ.  BASE is the JSON pointer of OBJ in the
 * request ("/adapters/0/vlan").  Returns 0, or -EINVAL with the pointer of
 * the offending field in POINTER and a sentence in DETAIL. */
int vlan_assignment_from_json(struct json_object *obj, const char *base,
                              struct vlan_assignment *out, char *pointer, size_t pointer_size,
                              char *detail, size_t detail_size);

/* The JSON form (caller owns). */
struct json_object *vlan_assignment_to_json(const struct vlan_assignment *a);

/* True when A lets frames of VLAN ID through. */
bool vlan_assignment_carries(const struct vlan_assignment *a, uint16_t id);

#endif
