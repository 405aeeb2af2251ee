/* The logger.
 *
 * Lines are formatted into a stack buffer and written with one write(2), so
 * lines from different threads never interleave.  The destination (stderr or
 * an appended file) and the level are the process's only logging state; the
 * file descriptor is swapped under log_lock so that log_reopen() from the
 * SIGHUP path never races a writer. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int log_level = LOG_LEVEL_INFO;
static int log_fd = -1;         /* -1: stderr */
static char log_path[4096];     /* empty: stderr */

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARNING] = "warning",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

const char *log_level_to_string(enum log_level level)
{
    if ((unsigned)level > LOG_LEVEL_DEBUG)
        return "unknown";
    return level_names[level];
}

int log_level_from_string(const char *name, enum log_level *level)
{
    for (unsigned i = 0; name && i <= LOG_LEVEL_DEBUG; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    if (strcmp(name, "warn") == 0) {
        *level = LOG_LEVEL_WARNING;
        return 0;
    }
    return -EINVAL;
}

void log_set_level(enum log_level level)
{
    atomic_store(&log_level, level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&log_level);
}

static int open_log_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    return fd < 0 ? -errno : fd;
}

int log_open(const char *path)
{
    int fd = -1;
    if (path) {
        if (strlen(path) >= sizeof(log_path))
            return -ENAMETOOLONG;
        fd = open_log_file(path);
        if (fd < 0)
            return fd;
    }
    pthread_mutex_lock(&log_lock);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", path ? path : "");
    pthread_mutex_unlock(&log_lock);
    return 0;
}

int log_reopen(void)
{
    int r = 0;
    pthread_mutex_lock(&log_lock);
    if (log_path[0]) {
        int fd = open_log_file(log_path);
        if (fd < 0) {
            r = fd;
        } else {
            if (log_fd >= 0)
                close(log_fd);
            log_fd = fd;
        }
    }
    pthread_mutex_unlock(&log_lock);
    return r;
}

static void log_vwrite(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
    char line[2048];
    size_t n = 0;

    pthread_mutex_lock(&log_lock);
    int fd = log_fd;
    if (fd >= 0) {
        /* A file has no journald to stamp it. */
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    int w = snprintf(line + n, sizeof(line) - n, "%s: ", log_level_to_string(level));
    n += (size_t)w;
    w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (w > 0)
        n = n + (size_t)w < sizeof(line) - 1 ? n + (size_t)w : sizeof(line) - 2;
    if (suffix) {
        w = snprintf(line + n, sizeof(line) - n, "%s", suffix);
        if (w > 0)
            n = n + (size_t)w < sizeof(line) - 1 ? n + (size_t)w : sizeof(line) - 2;
    }
    line[n++] = '\n';
    ssize_t written = write(fd >= 0 ? fd : STDERR_FILENO, line, n);
    (void)written; /* nowhere left to report a failing log */
    pthread_mutex_unlock(&log_lock);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, NULL, fmt, ap);
    va_end(ap);
}

int log_errno(enum log_level level, int err, const char *fmt, ...)
{
    if (err < 0)
        err = -err;
    if ((int)level <= atomic_load(&log_level)) {
        char suffix[96];
        snprintf(suffix, sizeof(suffix), " errno=%s", strerrorname_np(err) ? strerrorname_np(err) : "unknown");
        va_list ap;
        va_start(ap, fmt);
        log_vwrite(level, suffix, fmt, ap);
        va_end(ap);
    }
    return -err;
}

const char *log_escape(const char *s, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!size)
        return buf;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = *p > 0x20 && *p < 0x7f && *p != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need >= size)
            break;
        if (plain) {
            buf[o++] = (char)*p;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 0xf];
        }
    }
    buf[o] = '\0';
    return buf;
}
