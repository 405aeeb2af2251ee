/* libFuzzer target: token files of any content load or are refused cleanly,
 * and checking any presented token against what loaded is safe. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/lmnet-fuzz-token.XXXXXX";
    int fd = mkstemp(path); /* mkstemp makes it 0600 */
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    struct token_set *set = NULL;
    char err[512];
    if (token_set_load(path, &set, err, sizeof(err)) == 0) {
        char presented[300];
        size_t n = size < sizeof(presented) - 1 ? size : sizeof(presented) - 1;
        memcpy(presented, data, n);
        presented[n] = '\0';
        const char *name;
        enum scope scope;
        token_set_check(set, presented, &name, &scope);
        token_set_destroy(set);
    }
    unlink(path);
    return 0;
}
