/* dirty: gives a live migration pages to copy (the benchmarks' guests).
 * Built statically at guest build time; runs as
 *   dirty MIB MIB_PER_SECOND   keeps MIB MiB changing: one byte per 4 KiB
 *                              page, page after page, paced in 10 ms slices
 *   dirty fill MIB             fills MIB MiB with pseudo-random data (no
 *                              zero page QEMU could skip), says "filled",
 *                              and holds it
 * Never returns. */
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

static void fill(size_t mib)
{
    uint64_t *mem = malloc(mib << 20);
    if (!mem) {
        fprintf(stderr, "dirty: cannot allocate %zu MiB\n", mib);
        exit(1);
    }
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < (mib << 20) / 8; i++) {
        x ^= x << 13; /* xorshift64: cheap, and nothing repeats */
        x ^= x >> 7;
        x ^= x << 17;
        mem[i] = x;
    }
    fprintf(stderr, "dirty: filled %zu MiB\n", mib);
    for (;;) {
        struct timespec ts = { 3600, 0 };
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "fill") == 0)
        fill(strtoul(argv[2], NULL, 10));
    if (argc != 3) {
        fprintf(stderr, "usage: dirty MIB MIB_PER_SECOND | dirty fill MIB\n");
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
