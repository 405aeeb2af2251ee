/* The migration listener under a hostile crowd (issue 14), on loopback:
 * while HOLD connections sit silent, PROBES connect-and-close probes, BAD
 * wrong-token hellos and a replay of a used hello hit it, how long the
 * source's real connections take to be accepted.  Prints the figures.
 *
 *   build/tests/channel_listener [HOLD [PROBES [BAD [ROUNDS]]]]
 *                                 (defaults 32 200 50 5) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "base/clock.h"
#include "base/log.h"
#include "migrate/channel.h"

static int take(void *ctx, int fd)
{
    int *taken = ctx;
    int copy = dup(fd);
    if (copy < 0)
        return -errno;
    close(copy);
    (*taken)++;
    return 0;
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends a hello for TOKEN and INDEX as a source does; true on "OK". */
static bool hello(uint16_t port, const char *token, unsigned index)
{
    char text[CHANNEL_HELLO_SIZE + 1];
    snprintf(text, sizeof(text), "LMNETMIG2 %s %03u \n", token, index);
    int fd = dial(port);
    if (fd < 0)
        return false;
    char ok[3] = {0};
    ssize_t got = 0, n;
    if (send(fd, text, CHANNEL_HELLO_SIZE, MSG_NOSIGNAL) == CHANNEL_HELLO_SIZE)
        while (got < 3 && (n = read(fd, ok + got, (size_t)(3 - got))) > 0)
            got += n;
    close(fd);
    return got == 3 && memcmp(ok, "OK\n", 3) == 0;
}

int main(int argc, char **argv)
{
    int hold = argc > 1 ? atoi(argv[1]) : 32;
    int probes = argc > 2 ? atoi(argv[2]) : 200;
    int bad = argc > 3 ? atoi(argv[3]) : 50;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    log_set_level(LOG_LEVEL_ERROR);
    printf("# %s %d %d %d %d\n", argv[0], hold, probes, bad, rounds);
    int failures = 0;
    for (int round = 0; round < rounds; round++) {
        char token[CHANNEL_TOKEN_HEX + 1], wrong[CHANNEL_TOKEN_HEX + 1];
        channel_token_generate(token);
        channel_token_generate(wrong);
        int taken = 0;
        struct channel *c = NULL;
        if (channel_listen_handoff("127.0.0.1", 0, token, take, &taken, &c) < 0) {
            fprintf(stderr, "cannot listen\n");
            return 1;
        }
        uint16_t port = channel_port(c);
        int64_t t0 = clock_mono_ms();
        int *held = calloc((size_t)(hold ? hold : 1), sizeof(int));
        for (int i = 0; i < hold; i++)
            held[i] = dial(port);
        int64_t t1 = clock_mono_ms();
        for (int i = 0; i < probes; i++) {
            int fd = dial(port);
            if (fd >= 0)
                close(fd);
        }
        int64_t t2 = clock_mono_ms();
        for (int i = 0; i < bad; i++)
            hello(port, wrong, 0);
        int64_t t3 = clock_mono_ms();
        hello(port, token, 7); /* no such channel */
        int64_t start = clock_mono_ms();
        int fd = channel_connect(NULL, "127.0.0.1", port, token);
        int64_t good_ms = clock_mono_ms() - start;
        if (fd < 0)
            failures++;
        else
            close(fd);
        struct channel_stats st;
        channel_stats(c, &st);
        printf("round=%d held=%d probes=%d wrong_hellos=%d bad_index=1 good=%s good_ms=%lld "
               "hold_ms=%lld probes_ms=%lld wrong_ms=%lld accepted=%u rejected=%u dropped=%u\n",
               round, hold, probes, bad, fd >= 0 ? "ok" : "REFUSED", (long long)good_ms,
               (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t3 - t2), st.connections,
               st.rejected, st.dropped);
        channel_destroy(c);
        for (int i = 0; i < hold; i++)
            if (held[i] >= 0)
                close(held[i]);
        free(held);
    }
    printf("good connections refused: %d of %d; crashes: 0 (we got here)\n", failures, rounds);
    return failures ? 1 : 0;
}
