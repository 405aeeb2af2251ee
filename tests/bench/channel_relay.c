/* A bench-only front end to migrate/channel.c, so tests/bench/channel.sh can
 * put the lmnet migration channel between two plain QEMUs and measure what
 * it costs.  Not installed; the agent itself drives the channel.
 *
 *   channel_relay listen ADDRESS PORT TOKEN QEMU_SOCKET CONNECTIONS
 *   channel_relay forward LOCAL_SOCKET SOURCE_ADDRESS DESTINATION PORT TOKEN
 *
 * Runs until SIGTERM/SIGINT, then prints the byte counters. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migrate/channel.h"

int main(int argc, char **argv)
{
    struct channel *c = NULL;
    int r;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (argc == 7 && strcmp(argv[1], "listen") == 0)
        r = channel_listen(argv[2], (uint16_t)atoi(argv[3]), argv[4], argv[5],
                           (unsigned)atoi(argv[6]), &c);
    else if (argc == 7 && strcmp(argv[1], "forward") == 0)
        r = channel_forward(argv[2], argv[3], argv[4], (uint16_t)atoi(argv[5]), argv[6], &c);
    else {
        fprintf(stderr, "usage: channel_relay listen ADDRESS PORT TOKEN QEMU_SOCKET CONNECTIONS\n"
                        "       channel_relay forward LOCAL_SOCKET SOURCE_ADDRESS DESTINATION PORT TOKEN\n");
        return 2;
    }
    if (r < 0) {
        fprintf(stderr, "channel_relay: %s\n", strerror(-r));
        return 1;
    }
    printf("ready port=%u\n", channel_port(c));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    struct channel_stats st;
    channel_stats(c, &st);
    printf("bytes_forward=%llu bytes_backward=%llu connections=%u rejected=%u\n",
           (unsigned long long)st.bytes_forward, (unsigned long long)st.bytes_backward,
           st.connections, st.rejected);
    channel_destroy(c);
    return 0;
}
