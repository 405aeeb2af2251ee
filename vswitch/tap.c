/* Persistent tap devices through /dev/net/tun: see vswitch/tap.h. */
#include "vswitch/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "base/cleanup.h"

static int set_persist(const char *name, int persist)
{
    if (strlen(name) >= IFNAMSIZ)
        return -ENAMETOOLONG;
    _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        return -errno;
    if (ioctl(fd, TUNSETPERSIST, persist) < 0)
        return -errno;
    return 0;
}

/* The host end of a VM's adapter needs no address of its own.  Without
 * this each tap gets an IPv6 link-local address when it comes up, and every
 * address event makes Open vSwitch re-read all of the host's addresses:
 * with a thousand ports, most of its time.  Best effort. */
static void no_ipv6(const char *name)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = write(fd, "1", 1);
    (void)n;
    close(fd);
}

int tap_create(const char *name)
{
    /* An existing tap may be open by QEMU already: attaching to it again
     * would fail with EBUSY, and it needs nothing but to be up. */
    if (if_nametoindex(name) == 0) {
        int r = set_persist(name, 1);
        if (r < 0)
            return r;
        no_ipv6(name);
    }
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return -errno;
    /* Up and promiscuous in one change: Open vSwitch turns promiscuous
     * mode on for each port it adds, and every link change makes it
     * reconfigure all its ports, so one change here spares it a pass. */
    if ((ifr.ifr_flags & (IFF_UP | IFF_PROMISC)) == (IFF_UP | IFF_PROMISC))
        return 0;
    ifr.ifr_flags |= IFF_UP | IFF_PROMISC;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return -errno;
    return 0;
}

int tap_delete(const char *name)
{
    if (if_nametoindex(name) == 0)
        return -ENOENT;
    return set_persist(name, 0);
}
