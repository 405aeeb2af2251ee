/* Persistent tap devices: the host end of a VM adapter.  The agent makes
 * the tap when it makes the port, so the switch can attach it at once; QEMU
 * later opens the same tap by name (ifname=, script=no). */
#ifndef LMNET_AGENT_TAP_H
#define LMNET_AGENT_TAP_H

/* Creates persistent tap NAME (at most 15 characters) and brings it up,
 * promiscuous (as the switch wants its ports); an existing one is only
 * brought up.  Returns 0 or a negative errno. */
int tap_create(const char *name);

/* Deletes persistent tap NAME.  Returns 0, -ENOENT, or a negative errno. */
int tap_delete(const char *name);

#endif
