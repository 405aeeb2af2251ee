/* libFuzzer target: whatever an Open vSwitch bridge sends on its OpenFlow
 * management socket (hello, errors, echo requests, port status, port
 * descriptions, bundle and barrier replies, garbage) is read by
 * vswitch/openflow.c without crashing, leaking or hanging.  The input is the
 * whole stream from "the switch", then it stops sending.  The session's
 * reader thread may read it before or after a request's waiter is in place,
 * so whether openflow_open_fd() succeeds can vary between runs of one
 * input; the parsing of every message does not. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "vswitch/openflow.h"
#include "tests/fuzz/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int peer;
    int fd = fuzz_stream(data, size, &peer);
    if (fd < 0)
        return 0;
    struct openflow *of = NULL;
    if (openflow_open_fd(fd, 1000, &of) == 0) {
        struct openflow_port port;
        if (openflow_port(of, "p0", 0, &port) == 0)
            openflow_port_forward(of, &port, false);
        openflow_status(of);
        openflow_last_error(of);
        openflow_close(of);
    }
    close(peer);
    return 0;
}
