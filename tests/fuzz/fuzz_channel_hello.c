/* libFuzzer target: the migration channel's hello.  Whatever a client on
 * the migration network sends first, the destination's listener
 * (channel_listen_handoff() on loopback, a fresh one per input so that no
 * input depends on the last) hands the connection over and answers "OK"
 * exactly when the first 80 bytes are the hello of its token for channel
 * 0, and refuses otherwise. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "base/log.h"
#include "migrate/channel.h"

#define TOKEN "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static int take(void *ctx, int fd)
{
    (void)fd;
    *(bool *)ctx = true;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_open("/dev/null"); /* one warning per refused hello */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The hello of channel 0, the only one a handoff listener takes. */
    static const char hello[CHANNEL_HELLO_SIZE + 1] = "LMNETMIG2 " TOKEN " 000 \n";
    bool expect = size >= CHANNEL_HELLO_SIZE && memcmp(data, hello, CHANNEL_HELLO_SIZE) == 0;

    bool taken = false;
    struct channel *c = NULL;
    if (channel_listen_handoff("127.0.0.1", 0, TOKEN, take, &taken, &c) < 0)
        return 0;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(channel_port(c))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char reply[4] = "";
    ssize_t got = 0;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
        struct timeval tv = {.tv_sec = 5};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        size_t sent = 0;
        while (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            sent += (size_t)n;
        }
        shutdown(fd, SHUT_WR);
        /* The listener answers OK or closes: either way this returns. */
        for (ssize_t n; got < 3 && (n = recv(fd, reply + got, (size_t)(3 - got), 0)) > 0;)
            got += n;
    }
    if (fd >= 0)
        close(fd);
    channel_destroy(c);
    bool ok = got == 3 && memcmp(reply, "OK\n", 3) == 0;
    if (taken != expect || ok != expect)
        abort();
    return 0;
}
