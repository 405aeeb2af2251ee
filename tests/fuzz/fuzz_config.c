/* libFuzzer target: lmnetd.conf parsing must never crash, leak or read out
 * of bounds, whatever the file holds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/lmnet-fuzz-config.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    struct config config;
    char err[512];
    if (config_init(&config) == 0) {
        if (config_load(&config, path, false, err, sizeof(err)) == 0)
            config_check(&config, err, sizeof(err));
        config_release(&config);
    }
    unlink(path);
    return 0;
}
