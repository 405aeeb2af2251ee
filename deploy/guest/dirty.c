/* dirty: keeps N MiB of guest memory changing at a given rate, so that a
 * live migration has pages to copy again (the "dirtying" guest of the
 * benchmarks).  Built statically at guest build time; runs as
 *   dirty MIB MIB_PER_SECOND
 * and writes one byte per 4 KiB page, page after page, pacing itself in
 * 10 ms slices.  Never returns. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: dirty MIB MIB_PER_SECOND\n");
        return 2;
    }
    size_t mib = strtoul(argv[1], NULL, 10);
    double rate = strtod(argv[2], NULL);
    size_t pages = mib * 256;
    if (pages == 0 || rate <= 0) {
        fprintf(stderr, "dirty: MIB and MIB_PER_SECOND must be positive\n");
        return 2;
    }
    unsigned char *mem = malloc(pages * 4096);
    if (!mem) {
        fprintf(stderr, "dirty: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    memset(mem, 1, pages * 4096);
    fprintf(stderr, "dirty: %zu MiB at %.0f MiB/s\n", mib, rate);
    double pages_per_slice = rate * 256 / 100; /* per 10 ms */
    size_t next = 0;
    uint8_t value = 2;
    for (;;) {
        double start = now();
        for (double done = 0; done < pages_per_slice; done++) {
            mem[next * 4096] = value;
            if (++next == pages) {
                next = 0;
                value++;
            }
        }
        double rest = 0.01 - (now() - start);
        if (rest > 0) {
            struct timespec ts = { 0, (long)(rest * 1e9) };
            nanosleep(&ts, NULL);
        }
    }
}
