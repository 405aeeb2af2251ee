/* libFuzzer target: whatever a QEMU monitor sends (greeting, replies,
 * events, garbage) is read by hypervisor/qmp.c without crashing, leaking or
 * hanging: the input is the whole stream from "QEMU", then it stops
 * sending.  The calls are made in a fixed order, so replies carry ids 1
 * (qmp_capabilities), 2 (query-status), 3 (query-kvm), 4... (query-migrate,
 * asked again while "completed" comes without totals), then events. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "hypervisor/qmp.h"
#include "tests/fuzz/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int peer;
    int fd = fuzz_stream(data, size, &peer);
    if (fd < 0)
        return 0;
    struct qmp *qmp = NULL;
    if (qmp_open(fd, 1000, &qmp) == 0) {
        int major, minor, micro;
        qmp_version(qmp, &major, &minor, &micro);
        struct qmp_status status;
        qmp_query_status(qmp, &status);
        bool kvm;
        qmp_query_kvm(qmp, &kvm);
        struct qmp_migration_info info;
        qmp_query_migrate(qmp, &info);
        char error[300];
        qmp_last_error(qmp, error, sizeof(error));
        struct qmp_event event;
        while (qmp_next_event(qmp, 0, &event) == 0)
            qmp_migration_status_to_string(event.migration_status);
        qmp_events_dropped(qmp);
        qmp_close(qmp);
    }
    close(peer);
    return 0;
}
