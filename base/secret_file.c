/* Opening files that hold secrets: see base/secret_file.h. */
#include "base/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/cleanup.h"

int secret_file_open(const char *path, const char *what, const char *holds, FILE **out, char *err,
                     size_t size)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int r = fd < 0 || fstat(fd, &st) < 0 ? -errno : 0;
    if (r < 0) {
        snprintf(err, size, "%s: cannot open %s: %s", path, what, strerror(-r));
    } else if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        snprintf(err, size, "%s: not a regular file", path);
    } else if (st.st_uid != geteuid() && st.st_uid != 0) {
        r = -EPERM;
        snprintf(err, size,
                 "%s: owned by uid %u, not by this user (uid %u) or root: whoever owns it can "
                 "change %s; run 'chown %u %s'",
                 path, (unsigned)st.st_uid, (unsigned)geteuid(), holds, (unsigned)geteuid(), path);
    } else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        r = -EPERM;
        snprintf(err, size, "%s: mode %04o lets others read %s; run 'chmod 600 %s'", path,
                 (unsigned)(st.st_mode & 07777), holds, path);
    }
    if (r < 0)
        return r;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        r = -errno;
        snprintf(err, size, "%s: %s", path, strerror(-r));
        return r;
    }
    fd = -1; /* now owned by f */
    *out = f;
    return 0;
}

int secret_file_read(const char *path, const char *what, const char *holds, char **out, char *err,
                     size_t size)
{
    FILE *opened = NULL;
    int r = secret_file_open(path, what, holds, &opened, err, size);
    if (r < 0)
        return r;
    _cleanup_fclose_ FILE *f = opened;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        snprintf(err, size, "%s: out of memory", path);
        return -ENOMEM;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, mem);
    explicit_bzero(chunk, sizeof(chunk));
    int closed = fclose(mem);
    if (ferror(f) || closed != 0) {
        if (buf)
            explicit_bzero(buf, len);
        free(buf);
        snprintf(err, size, "%s: cannot read %s", path, what);
        return -EIO;
    }
    *out = buf;
    return 0;
}

int token_file_open(const char *path, FILE **out, char *err, size_t size)
{
    return secret_file_open(path, "token file", "the tokens", out, err, size);
}

void token_line_strip_comment(char *line)
{
    for (char *p = line; *p; p++) {
        if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}
