/* The two clocks, in milliseconds: wall time for what is stored and shown
 * (event times, a migration's created/updated), monotonic time for
 * deadlines, timeouts and ages (it never jumps with the wall clock). */
#ifndef LMNET_AGENT_CLOCK_H
#define LMNET_AGENT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps MS milliseconds (less if a signal comes). */
static inline void clock_sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

#endif
