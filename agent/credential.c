/* Cluster credentials: see agent/credential.h.  SHA-256 is Nettle's. */
#include "agent/credential.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nettle/sha2.h>

#define SECRET_BYTES 32

int credential_generate(const char *prefix, char out[CREDENTIAL_SIZE])
{
    unsigned char raw[SECRET_BYTES];
    ssize_t n = getrandom(raw, sizeof(raw), 0);
    if (n != (ssize_t)sizeof(raw))
        return n < 0 ? -errno : -EIO;
    memcpy(out, prefix, 4);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 4 + 2 * i, 3, "%02x", raw[i]);
    explicit_bzero(raw, sizeof(raw));
    return 0;
}

bool credential_is(const char *text, const char *prefix)
{
    return text && strlen(text) == CREDENTIAL_SIZE - 1 && strncmp(text, prefix, 4) == 0 &&
           strspn(text + 4, "0123456789abcdef") == 2 * SECRET_BYTES;
}

void credential_hash(const char *text, char out[CREDENTIAL_HASH_SIZE])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(text), (const uint8_t *)text);
    sha256_digest(&ctx, sizeof(digest), digest);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    explicit_bzero(&ctx, sizeof(ctx));
}

int credential_read_file(const char *path, const char *prefix, char out[CREDENTIAL_SIZE], char *err,
                         size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = -errno;
        if (e != -ENOENT)
            snprintf(err, err_size, "%s: %s", path, strerror(-e));
        return e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
        close(fd);
        snprintf(err, err_size, "%s: readable by others (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return -EPERM;
    }
    char buf[CREDENTIAL_SIZE + 2];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -EIO;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    bool ok = credential_is(buf, prefix);
    if (ok)
        memcpy(out, buf, CREDENTIAL_SIZE);
    explicit_bzero(buf, sizeof(buf));
    if (!ok) {
        snprintf(err, err_size, "%s: not a credential (expected %s and 64 hex digits)", path,
                 prefix);
        return -EINVAL;
    }
    return 0;
}

int credential_write_file(const char *path, const char *secret)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    size_t len = strlen(secret);
    int r = 0;
    if (write(fd, secret, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
        r = -EIO;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}
