/* Unit tests for agent/config.c: defaults, every key, the file syntax
 * (comments, blank lines, quotes, '#' after a value), and every way a file or
 * a value can be refused, with "PATH:LINE" and the key in the message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent/config.h"

static char tmpdir[] = "/tmp/lmnet-test-config-XXXXXX";
static char paths[64][300];
static size_t n_paths;

static int group_setup(void **state)
{
    (void)state;
    log_set_level(LOG_LEVEL_ERROR);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_paths; i++)
        unlink(paths[i]);
    return rmdir(tmpdir);
}

/* Writes CONTENT to a new file in the test directory; returns its path. */
static const char *write_file(const char *name, const char *content)
{
    assert_true(n_paths < sizeof(paths) / sizeof(paths[0]));
    char *path = paths[n_paths++];
    snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Loads CONTENT as a file named NAME into a fresh config; returns the result
 * and leaves the message in ERR.  The config is released. */
static int load_text(const char *name, const char *content, char *err, size_t size)
{
    struct config c;
    assert_int_equal(config_init(&c), 0);
    err[0] = '\0';
    int r = config_load(&c, write_file(name, content), false, err, size);
    config_release(&c);
    return r;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(config_init(&c), 0);
    assert_string_equal(c.listen, CONFIG_DEFAULT_LISTEN);
    assert_string_equal(c.listen, "127.0.0.1:8470");
    assert_string_equal(c.listen_address, "127.0.0.1");
    assert_int_equal(c.listen_port, 8470);
    assert_string_equal(c.database, CONFIG_DEFAULT_DATABASE);
    assert_null(c.token_file);
    assert_null(c.tls_cert);
    assert_null(c.tls_key);
    assert_null(c.log_file);
    assert_int_equal(c.log_level, LOG_LEVEL_INFO);
    assert_string_equal(c.registry, "self");
    assert_null(c.node_name);
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.max_migrations, 2);
    assert_null(c.management_address);
    assert_null(c.peer_token_file);
    char err[256] = "";
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    config_release(&c);
    /* Released strings are NULL, so a second release is harmless. */
    assert_null(c.listen);
    assert_null(c.database);
    config_release(&c);
}

static void test_every_key(void **state)
{
    (void)state;
    const char *path = write_file("every.conf", "listen = 10.1.2.3:9000\n"
                                                "database = /srv/lmnet/db.sqlite\n"
                                                "token_file = /etc/lmnet/tokens\n"
                                                "tls_cert = /etc/lmnet/cert.pem\n"
                                                "tls_key = /etc/lmnet/key.pem\n"
                                                "log_level = debug\n"
                                                "log_file = /var/log/lmnetd.log\n"
                                                "registry = https://reg.example:8470\n"
                                                "node_name = hv-07\n"
                                                "threads = 8\n"
                                                "max_migrations = 5\n"
                                                "management_address = 192.0.2.7\n"
                                                "peer_token_file = /etc/lmnet/peer-token\n");
    struct config c;
    assert_int_equal(config_init(&c), 0);
    char err[256] = "";
    assert_int_equal(config_load(&c, path, false, err, sizeof(err)), 0);
    assert_string_equal(c.listen, "10.1.2.3:9000");
    assert_string_equal(c.listen_address, "10.1.2.3");
    assert_int_equal(c.listen_port, 9000);
    assert_string_equal(c.database, "/srv/lmnet/db.sqlite");
    assert_string_equal(c.token_file, "/etc/lmnet/tokens");
    assert_string_equal(c.tls_cert, "/etc/lmnet/cert.pem");
    assert_string_equal(c.tls_key, "/etc/lmnet/key.pem");
    assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
    assert_string_equal(c.log_file, "/var/log/lmnetd.log");
    assert_string_equal(c.registry, "https://reg.example:8470");
    assert_string_equal(c.node_name, "hv-07");
    assert_int_equal(c.threads, 8);
    assert_int_equal(c.max_migrations, 5);
    assert_string_equal(c.management_address, "192.0.2.7");
    assert_string_equal(c.peer_token_file, "/etc/lmnet/peer-token");
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    config_release(&c);
}

static void test_syntax_comments_quotes(void **state)
{
    (void)state;
    const char *path =
        write_file("syntax.conf", "# lmnetd.conf\n"
                                  "\n"
                                  "   \n"
                                  "\t# indented comment\n"
                                  "  listen   =   127.0.0.1:8471   \n"
                                  "database = \"/tmp/with # hash and  spaces.db\"\n"
                                  "node_name = alpha # the name, not part of the value\n"
                                  "log_file = \"/var/log/x.log\"   # comment after a quote\n"
                                  "registry = http://reg:8470/?a=b\n"
                                  "threads = 4\r\n"
                                  "token_file=/etc/t\n"
                                  "# last line without newline\n"
                                  "log_level = warning");
    struct config c;
    assert_int_equal(config_init(&c), 0);
    char err[256] = "";
    int r = config_load(&c, path, false, err, sizeof(err));
    if (r != 0)
        fail_msg("config_load: %d %s", r, err);
    assert_string_equal(c.listen_address, "127.0.0.1");
    assert_int_equal(c.listen_port, 8471);
    assert_string_equal(c.database, "/tmp/with # hash and  spaces.db");
    assert_string_equal(c.node_name, "alpha");
    assert_string_equal(c.log_file, "/var/log/x.log");
    assert_string_equal(c.registry, "http://reg:8470/?a=b");
    assert_int_equal(c.threads, 4);
    assert_string_equal(c.token_file, "/etc/t");
    assert_int_equal(c.log_level, LOG_LEVEL_WARNING);
    config_release(&c);
}

static void test_optional_cleared(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_set(&c, "token_file", "/etc/t", err, sizeof(err)), 0);
    assert_string_equal(c.token_file, "/etc/t");
    assert_int_equal(config_set(&c, "token_file", "none", err, sizeof(err)), 0);
    assert_null(c.token_file);
    assert_int_equal(config_set(&c, "node_name", "n1", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "node_name", "", err, sizeof(err)), 0);
    assert_null(c.node_name);
    /* A required string cannot be emptied. */
    assert_int_equal(config_set(&c, "database", "", err, sizeof(err)), -EINVAL);
    assert_contains(err, "empty");
    assert_string_equal(c.database, CONFIG_DEFAULT_DATABASE);
    assert_int_equal(config_set(&c, "registry", "", err, sizeof(err)), -EINVAL);
    assert_string_equal(c.registry, "self");
    config_release(&c);

    /* From a file: a quoted empty value clears an optional key. */
    const char *path = write_file("clear.conf", "tls_cert = /a\ntls_cert2 = x\n");
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_load(&c, path, false, err, sizeof(err)), -EINVAL);
    config_release(&c);
    path = write_file("clear2.conf", "log_file = \"\"\nnode_name = none\n");
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_set(&c, "log_file", "/x", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "node_name", "y", err, sizeof(err)), 0);
    assert_int_equal(config_load(&c, path, false, err, sizeof(err)), 0);
    assert_null(c.log_file);
    assert_null(c.node_name);
    config_release(&c);
}

static void test_unknown_key(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(
        load_text("unknown.conf", "# x\nlisten = 127.0.0.1:1\ncolour = blue\n", err, sizeof(err)),
        -EINVAL);
    char want[300];
    snprintf(want, sizeof(want), "%s/unknown.conf:3", tmpdir);
    assert_contains(err, want);
    assert_contains(err, "'colour'");
    assert_contains(err, "unknown key");

    struct config c;
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_set(&c, "colour", "blue", err, sizeof(err)), -EINVAL);
    assert_contains(err, "unknown key");
    /* Keys are case-sensitive. */
    assert_int_equal(config_set(&c, "Listen", "127.0.0.1:1", err, sizeof(err)), -EINVAL);
    config_release(&c);
}

static void test_repeated_key(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(
        load_text("twice.conf", "threads = 2\n\nlog_level = info\nthreads = 3\n", err, sizeof(err)),
        -EINVAL);
    char want[300];
    snprintf(want, sizeof(want), "%s/twice.conf:4", tmpdir);
    assert_contains(err, want);
    assert_contains(err, "'threads'");
    assert_contains(err, "twice");
}

static void test_listen(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(config_init(&c), 0);

    /* clang-format off */
    static const char *const bad[] = {
        "127.0.0.1",        /* no port */
        "127.0.0.1:",       /* empty port */
        "127.0.0.1:70000",  /* port too large */
        "127.0.0.1:65536",
        "127.0.0.1:-1",
        "127.0.0.1:80x",
        "localhost:8470",   /* not an IP */
        "example.com:80",
        "300.1.1.1:80",
        ":8470",            /* no address */
        "[::1]",            /* brackets, no port */
        "[::1:8470",        /* unclosed bracket */
        "[]:8470",
        "[not-v6]:8470",
        "::1:8470",         /* IPv6 without brackets: is 8470 the port or a group? */
        "2001:db8::1:80",
        "",
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int r = config_set(&c, "listen", bad[i], err, sizeof(err));
        if (r != -EINVAL)
            fail_msg("listen '%s' accepted (r=%d)", bad[i], r);
        assert_true(err[0] != '\0');
        /* A refused value leaves the old one in place. */
        assert_string_equal(c.listen, CONFIG_DEFAULT_LISTEN);
        assert_string_equal(c.listen_address, "127.0.0.1");
        assert_int_equal(c.listen_port, 8470);
    }

    assert_int_equal(config_set(&c, "listen", "[::1]:8470", err, sizeof(err)), 0);
    assert_string_equal(c.listen, "[::1]:8470");
    assert_string_equal(c.listen_address, "::1");
    assert_int_equal(c.listen_port, 8470);

    assert_int_equal(config_set(&c, "listen", "[fe80::1:2]:65535", err, sizeof(err)), 0);
    assert_string_equal(c.listen_address, "fe80::1:2");
    assert_int_equal(c.listen_port, 65535);

    assert_int_equal(config_set(&c, "listen", "0.0.0.0:0", err, sizeof(err)), 0);
    assert_string_equal(c.listen_address, "0.0.0.0");
    assert_int_equal(c.listen_port, 0);
    config_release(&c);

    /* In a file the message names the file, the line and the key. */
    const struct {
        const char *name, *text, *reason;
    } files[] = {
        {"l1.conf", "\nlisten = 127.0.0.1\n", "not ADDRESS:PORT"},
        {"l2.conf", "\nlisten = 127.0.0.1:70000\n", "port"},
        {"l3.conf", "\nlisten = myhost:80\n", "not an IPv4 or IPv6 address"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char msg[512];
        assert_int_equal(load_text(files[i].name, files[i].text, msg, sizeof(msg)), -EINVAL);
        char want[300];
        snprintf(want, sizeof(want), "%s/%s:2", tmpdir, files[i].name);
        assert_contains(msg, want);
        assert_contains(msg, "key 'listen'");
        assert_contains(msg, files[i].reason);
    }
}

static void test_log_level(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(config_init(&c), 0);
    const struct {
        const char *name;
        enum log_level level;
    } good[] = {
        {"error", LOG_LEVEL_ERROR},
        {"warning", LOG_LEVEL_WARNING},
        {"debug", LOG_LEVEL_DEBUG},
        {"info", LOG_LEVEL_INFO},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(config_set(&c, "log_level", good[i].name, err, sizeof(err)), 0);
        assert_int_equal(c.log_level, good[i].level);
    }
    assert_int_equal(config_set(&c, "log_level", "verbose", err, sizeof(err)), -EINVAL);
    assert_contains(err, "'verbose'");
    assert_int_equal(c.log_level, LOG_LEVEL_INFO);
    assert_int_equal(config_set(&c, "log_level", "", err, sizeof(err)), -EINVAL);
    config_release(&c);

    char msg[512];
    assert_int_equal(load_text("level.conf", "log_level = loud\n", msg, sizeof(msg)), -EINVAL);
    char want[300];
    snprintf(want, sizeof(want), "%s/level.conf:1: key 'log_level'", tmpdir);
    assert_contains(msg, want);
}

static void test_unsigned(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(config_init(&c), 0);
    static const char *const bad[] = {
        "-1", "abc", "", "65", "4x", "1.5", "99999999999999999999999", "-0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = config_set(&c, "threads", bad[i], err, sizeof(err));
        if (r != -EINVAL)
            fail_msg("threads '%s' accepted (r=%d)", bad[i], r);
        assert_contains(err, "whole number from 0 to 64");
        assert_int_equal(c.threads, 0);
        r = config_set(&c, "max_migrations", bad[i], err, sizeof(err));
        if (r != -EINVAL)
            fail_msg("max_migrations '%s' accepted (r=%d)", bad[i], r);
        assert_int_equal(c.max_migrations, 2);
    }
    assert_int_equal(config_set(&c, "threads", "64", err, sizeof(err)), 0);
    assert_int_equal(c.threads, 64);
    assert_int_equal(config_set(&c, "threads", "0", err, sizeof(err)), 0);
    assert_int_equal(c.threads, 0);
    assert_int_equal(config_set(&c, "max_migrations", "1", err, sizeof(err)), 0);
    assert_int_equal(c.max_migrations, 1);
    config_release(&c);

    char msg[512];
    assert_int_equal(load_text("uns.conf", "# x\n# y\nmax_migrations = many\n", msg, sizeof(msg)),
                     -EINVAL);
    char want[300];
    snprintf(want, sizeof(want), "%s/uns.conf:3: key 'max_migrations'", tmpdir);
    assert_contains(msg, want);
    assert_contains(msg, "'many'");
}

static void test_bad_lines(void **state)
{
    (void)state;
    char msg[512], want[300];

    assert_int_equal(load_text("noeq.conf", "listen 127.0.0.1:1\n", msg, sizeof(msg)), -EINVAL);
    snprintf(want, sizeof(want), "%s/noeq.conf:1", tmpdir);
    assert_contains(msg, want);
    assert_contains(msg, "key = value");

    assert_int_equal(load_text("nokey.conf", "\n = 5\n", msg, sizeof(msg)), -EINVAL);
    snprintf(want, sizeof(want), "%s/nokey.conf:2", tmpdir);
    assert_contains(msg, want);
    assert_contains(msg, "missing key");

    assert_int_equal(load_text("quote1.conf", "database = \"/x\n", msg, sizeof(msg)), -EINVAL);
    snprintf(want, sizeof(want), "%s/quote1.conf:1: key 'database'", tmpdir);
    assert_contains(msg, want);
    assert_contains(msg, "unterminated quote");

    assert_int_equal(load_text("quote2.conf", "database = \"/x\" y\n", msg, sizeof(msg)), -EINVAL);
    snprintf(want, sizeof(want), "%s/quote2.conf:1: key 'database'", tmpdir);
    assert_contains(msg, want);
    assert_contains(msg, "after the closing quote");

    /* A line longer than the parser's buffer is refused, not split. */
    char *big = malloc(6000);
    assert_non_null(big);
    memcpy(big, "node_name = ", 12);
    memset(big + 12, 'n', 5000);
    strcpy(big + 5012, "\n");
    assert_int_equal(load_text("long.conf", big, msg, sizeof(msg)), -EINVAL);
    free(big);
    snprintf(want, sizeof(want), "%s/long.conf:1", tmpdir);
    assert_contains(msg, want);
    assert_contains(msg, "longer than");

    /* Without an error buffer a bad file is still refused, not a crash. */
    struct config c;
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_load(&c, write_file("nobuf.conf", "x = 1\n"), false, NULL, 0), -EINVAL);
    config_release(&c);
}

static void test_missing_file(void **state)
{
    (void)state;
    char path[300], err[512] = "";
    snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
    struct config c;
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_load(&c, path, true, err, sizeof(err)), 0);
    assert_string_equal(c.listen, CONFIG_DEFAULT_LISTEN);
    assert_string_equal(c.database, CONFIG_DEFAULT_DATABASE);

    int r = config_load(&c, path, false, err, sizeof(err));
    assert_int_equal(r, -ENOENT);
    assert_contains(err, path);
    assert_contains(err, "cannot open");
    config_release(&c);

    /* A directory is not a missing file: it is refused even with missing_ok. */
    assert_int_equal(config_init(&c), 0);
    r = config_load(&c, tmpdir, true, err, sizeof(err));
    assert_true(r < 0);
    config_release(&c);
}

static void test_check(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(config_init(&c), 0);

    assert_int_equal(config_set(&c, "tls_cert", "/c.pem", err, sizeof(err)), 0);
    err[0] = '\0';
    assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
    assert_contains(err, "tls_key");
    assert_contains(err, "only tls_cert");
    assert_int_equal(config_set(&c, "tls_key", "/k.pem", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "tls_cert", "none", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
    assert_contains(err, "only tls_key");
    assert_int_equal(config_set(&c, "tls_key", "", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);

    static const char *const good[] = {"self", "http://10.0.0.1:8470", "https://reg.example"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(config_set(&c, "registry", good[i], err, sizeof(err)), 0);
        assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    }
    static const char *const bad[] = {"ftp://reg", "10.0.0.1:8470", "Self", "selfish", "http:/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(config_set(&c, "registry", bad[i], err, sizeof(err)), 0);
        err[0] = '\0';
        if (config_check(&c, err, sizeof(err)) != -EINVAL)
            fail_msg("registry '%s' accepted by config_check", bad[i]);
        assert_contains(err, "registry");
        assert_contains(err, bad[i]);
    }
    config_release(&c);
}

/* The QEMU user and the image directories: defaults, the opt-outs, and
 * values that are refused. */
static void test_qemu_user_and_image_dirs(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(config_init(&c), 0);
    assert_string_equal(c.qemu_user, "lmnet-qemu");
    assert_string_equal(c.image_dirs, "/var/lib/lmnet/images");
    assert_int_equal(config_set(&c, "qemu_user", "none", err, sizeof(err)), 0);
    assert_null(c.qemu_user);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "qemu_user", "nobody", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "image_dirs", "/srv/images,/var/lib/lmnet/images", err,
                                sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "image_dirs", "/", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    static const char *const bad_dirs[] = {"images", "/srv,images", "/srv,,/x"};
    for (size_t i = 0; i < sizeof(bad_dirs) / sizeof(bad_dirs[0]); i++) {
        assert_int_equal(config_set(&c, "image_dirs", bad_dirs[i], err, sizeof(err)), 0);
        err[0] = '\0';
        assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
        assert_contains(err, "image_dirs");
    }
    assert_int_equal(config_set(&c, "image_dirs", "/srv", err, sizeof(err)), 0);
    static const char *const bad_users[] = {"-x", "a,b", "root user", "q=1"};
    for (size_t i = 0; i < sizeof(bad_users) / sizeof(bad_users[0]); i++) {
        assert_int_equal(config_set(&c, "qemu_user", bad_users[i], err, sizeof(err)), 0);
        err[0] = '\0';
        assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
        assert_contains(err, "qemu_user");
    }
    config_release(&c);
}

/* Where each QEMU runs (hypervisor/vm_scope.h): auto in lmnet.slice by
 * default; a kind or slice it does not know is refused with its name. */
static void test_vm_cgroup(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(config_init(&c), 0);
    assert_string_equal(c.vm_cgroup, "auto");
    assert_string_equal(c.vm_slice, "lmnet.slice");
    static const char *const kinds[] = {"systemd", "cgroupfs", "none", "auto"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        assert_int_equal(config_set(&c, "vm_cgroup", kinds[i], err, sizeof(err)), 0);
        assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    }
    assert_int_equal(config_set(&c, "vm_cgroup", "cgroup2", err, sizeof(err)), 0);
    err[0] = '\0';
    assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
    assert_contains(err, "vm_cgroup");
    assert_int_equal(config_set(&c, "vm_cgroup", "auto", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "vm_slice", "lmnet-host1.slice", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    static const char *const bad[] = {"lmnet", "../x.slice", "a/b.slice", "-.slice"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(config_set(&c, "vm_slice", bad[i], err, sizeof(err)), 0);
        err[0] = '\0';
        assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
        assert_contains(err, "vm_slice");
    }
    config_release(&c);
}

/* A listen address off loopback needs TLS, or allow_insecure_listen said
 * in so many words: tokens and the heartbeat key would cross the network in
 * clear.  The old code started on 0.0.0.0 over plain HTTP. */
static void test_insecure_listen(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(config_init(&c), 0);
    assert_false(c.allow_insecure_listen);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0); /* 127.0.0.1 by default */

    static const char *const open_listen[] = {"0.0.0.0:8470", "192.0.2.11:8470", "[::]:8470",
                                              "[2001:db8::1]:8470"};
    for (size_t i = 0; i < sizeof(open_listen) / sizeof(open_listen[0]); i++) {
        assert_int_equal(config_set(&c, "listen", open_listen[i], err, sizeof(err)), 0);
        err[0] = '\0';
        if (config_check(&c, err, sizeof(err)) != -EINVAL)
            fail_msg("listen %s without TLS accepted", open_listen[i]);
        assert_contains(err, "in clear");
        assert_contains(err, "tls_cert");
        assert_contains(err, "allow_insecure_listen = yes");
    }
    /* TLS on: fine. */
    assert_int_equal(config_set(&c, "tls_cert", "/c.pem", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "tls_key", "/k.pem", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "tls_cert", "none", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "tls_key", "none", err, sizeof(err)), 0);
    /* The operator's explicit opt-out: fine. */
    assert_int_equal(config_set(&c, "allow_insecure_listen", "yes", err, sizeof(err)), 0);
    assert_true(c.allow_insecure_listen);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "allow_insecure_listen", "no", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), -EINVAL);
    assert_int_equal(config_set(&c, "allow_insecure_listen", "maybe", err, sizeof(err)), -EINVAL);
    assert_contains(err, "yes or no");
    /* Loopback, v4 and v6: no TLS needed. */
    assert_int_equal(config_set(&c, "listen", "127.0.0.5:8470", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "listen", "[::1]:8470", err, sizeof(err)), 0);
    assert_int_equal(config_check(&c, err, sizeof(err)), 0);
    config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_syntax_comments_quotes),
        cmocka_unit_test(test_optional_cleared),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_repeated_key),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_log_level),
        cmocka_unit_test(test_unsigned),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_qemu_user_and_image_dirs),
        cmocka_unit_test(test_vm_cgroup),
        cmocka_unit_test(test_insecure_listen),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
