/* A command-line door to the Open vSwitch driver (vswitch/vswitch.h) for
 * test_vswitch.sh: one driver call per run, its result as the exit code.
 *
 *   vswitch_check SOCKET bridge-ensure BRIDGE
 *   vswitch_check SOCKET bridge-delete BRIDGE
 *   vswitch_check SOCKET port BRIDGE PORT TAG [TRUNK...]   (TAG 0: a trunk)
 *   vswitch_check SOCKET port-delete BRIDGE PORT
 *   vswitch_check SOCKET list
 *   vswitch_check SOCKET guards BRIDGE PORT MAC SPOOFING DHCP ROUTER ACTIVE  (0/1 each)
 * Exit: 0 done, 3 -ENOENT, 4 -EPERM (not lmnet's), 1 anything else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/log.h"
#include "base/mac.h"
#include "vswitch/vswitch.h"

static int code(int r)
{
    if (r == 0)
        return 0;
    fprintf(stderr, "vswitch_check: %s\n", strerror(-r));
    return r == -ENOENT ? 3 : r == -EPERM ? 4 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: vswitch_check SOCKET COMMAND ARGS...\n");
        return 2;
    }
    log_set_level(LOG_LEVEL_WARNING);
    struct vswitch *vs = NULL;
    int r = vswitch_ovs_create(argv[1], "netdev", &vs);
    if (r < 0)
        return code(r);
    const char *cmd = argv[2];
    if (strcmp(cmd, "bridge-ensure") == 0 && argc == 4) {
        r = vswitch_bridge_ensure(vs, argv[3]);
    } else if (strcmp(cmd, "bridge-delete") == 0 && argc == 4) {
        r = vswitch_bridge_delete(vs, argv[3]);
    } else if (strcmp(cmd, "port") == 0 && argc >= 6) {
        struct vswitch_port_spec spec = { 0 };
        snprintf(spec.name, sizeof(spec.name), "%s", argv[4]);
        spec.tag = (uint16_t)atoi(argv[5]);
        for (int i = 6; i < argc && spec.n_trunks < VSWITCH_MAX_TRUNKS; i++)
            spec.trunks[spec.n_trunks++] = (uint16_t)atoi(argv[i]);
        snprintf(spec.vm, sizeof(spec.vm), "test");
        r = vswitch_port_ensure(vs, argv[3], &spec);
    } else if (strcmp(cmd, "port-delete") == 0 && argc == 5) {
        r = vswitch_port_delete(vs, argv[3], argv[4]);
    } else if (strcmp(cmd, "guards") == 0 && argc == 10) {
        struct vswitch_port_guards g = { 0 };
        snprintf(g.name, sizeof(g.name), "%s", argv[4]);
        if (mac_parse(argv[5], &g.mac) < 0)
            return code(-EINVAL);
        g.spoofing_allowed = atoi(argv[6]);
        g.dhcp_guard = atoi(argv[7]);
        g.router_guard = atoi(argv[8]);
        g.active = atoi(argv[9]);
        r = vswitch_port_guards(vs, argv[3], &g);
    } else if (strcmp(cmd, "list") == 0 && argc == 3) {
        struct vswitch_object *objects = NULL;
        size_t n = 0;
        r = vswitch_list(vs, &objects, &n);
        for (size_t i = 0; r == 0 && i < n; i++)
            printf("%s %s\n", objects[i].bridge, objects[i].port[0] ? objects[i].port : "-");
        free(objects);
    } else {
        fprintf(stderr, "vswitch_check: bad command\n");
        r = -EINVAL;
    }
    vswitch_destroy(vs);
    return code(r);
}
