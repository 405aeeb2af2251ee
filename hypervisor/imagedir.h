/* The directories VM images may come from (lmnetd.conf image_dirs).
 *
 * A VM's kernel, initrd and disk are opened by QEMU with the agent's
 * privileges before QEMU drops them, so without a limit anyone who may
 * define a VM could have any host file read (or, as a disk, written).  A
 * path is allowed when, with every symbolic link and ".." resolved, it
 * lies inside one of the configured directories (also resolved). */
#ifndef LMNET_AGENT_IMAGEDIR_H
#define LMNET_AGENT_IMAGEDIR_H

#include <limits.h>

/* Resolves PATH (realpath(3)) into RESOLVED and checks it against DIRS, a
 * ','-separated list of absolute directories ("/" allows every file).  A
 * directory that does not exist allows nothing.  Returns 0; -EPERM when
 * PATH lies outside every directory; or the negative errno of resolving
 * PATH (-ENOENT, -EACCES, ...).  RESOLVED is set whenever PATH resolved. */
int imagedir_check(const char *dirs, const char *path, char resolved[PATH_MAX]);

#endif
