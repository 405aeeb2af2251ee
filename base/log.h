/* The agent's one logger.
 *
 * One line per event on stderr (journald adds the time) or, when a file is
 * configured, appended to that file with an ISO-8601 time in front.  The
 * message comes first, then key=value pairs, e.g.
 *   "request method=GET path=/v1/host status=200 latency_us=85"
 * The level and destination are process-wide: a logger is the one piece of
 * state every thread reaches, and it is guarded by one lock.  Never pass a
 * token or secret to these functions. */
#ifndef LMNET_AGENT_LOG_H
#define LMNET_AGENT_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARNING,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* Returns "error", "warning", "info" or "debug". */
const char *log_level_to_string(enum log_level level);

/* Parses one of the names above into *level.  Returns 0, or -EINVAL. */
int log_level_from_string(const char *name, enum log_level *level);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Sends the log to PATH (appending), or back to stderr when PATH is NULL.
 * Returns 0 or a negative errno; on failure the destination is unchanged. */
int log_open(const char *path);

/* Reopens the configured log file (after logrotate moved it; SIGHUP).
 * Returns 0 or a negative errno. */
int log_reopen(void);

/* Writes one line at LEVEL if LEVEL is enabled. */
void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes one line with " errno=NAME" appended and returns -abs(err), so an
 * error can be logged once where it is handled: return log_errno(r, "..."). */
int log_errno(enum log_level level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies S into BUF (SIZE bytes, NUL-terminated, cut short if need be) with
 * control characters, blanks, backslashes and bytes above 0x7e written as
 * \xNN, so text a client sent cannot forge or break a log line.  Returns
 * BUF. */
const char *log_escape(const char *s, char *buf, size_t size);

#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_write(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
