/* VM image paths against the allowed directories: see hypervisor/imagedir.h. */
#include "hypervisor/imagedir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* True when RESOLVED is DIR or lies below it (DIR resolved, no trailing
 * '/' except for the root itself). */
static bool inside(const char *resolved, const char *dir)
{
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return true;
    return strncmp(resolved, dir, n) == 0 && (resolved[n] == '/' || resolved[n] == '\0');
}

int imagedir_check(const char *dirs, const char *path, char resolved[PATH_MAX])
{
    resolved[0] = '\0';
    if (!realpath(path, resolved)) {
        resolved[0] = '\0';
        return -errno;
    }
    for (const char *d = dirs ? dirs : ""; *d;) {
        size_t n = strcspn(d, ",");
        char dir[PATH_MAX], real[PATH_MAX];
        if (n > 0 && n < sizeof(dir)) {
            memcpy(dir, d, n);
            dir[n] = '\0';
            if (dir[0] == '/' && realpath(dir, real) && inside(resolved, real))
                return 0;
        }
        d += n + (d[n] == ',');
    }
    return -EPERM;
}
