/* hypervisor/imagedir.c: which image paths a VM may use.  Real files and links
 * in a temporary directory: inside, outside, escapes through "..", through
 * a symbolic link, and a sibling whose name starts like an allowed one. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "hypervisor/imagedir.h"

static char root[64];

static void path(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "%s/%s", root, rel);
}

static void touch(const char *rel)
{
    char p[PATH_MAX];
    path(p, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/lmnet-imagedir.XXXXXX");
    if (!mkdtemp(root))
        return -1;
    char p[PATH_MAX];
    path(p, "images");
    mkdir(p, 0755);
    path(p, "images/sub");
    mkdir(p, 0755);
    path(p, "images2");
    mkdir(p, 0755);
    path(p, "other");
    mkdir(p, 0755);
    touch("images/vmlinuz");
    touch("images/sub/disk.qcow2");
    touch("images2/disk.raw");
    touch("other/secret");
    char target[PATH_MAX];
    path(target, "other/secret");
    path(p, "images/escape");
    if (symlink(target, p) < 0)
        return -1;
    path(target, "images/vmlinuz");
    path(p, "other/link-in");
    if (symlink(target, p) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static int check(const char *dirs_rel, const char *rel, char resolved[PATH_MAX])
{
    char dirs[2 * PATH_MAX] = "", p[PATH_MAX];
    /* dirs_rel: ','-separated names below root, or an absolute list */
    if (dirs_rel[0] == '/') {
        snprintf(dirs, sizeof(dirs), "%s", dirs_rel);
    } else {
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", dirs_rel);
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            size_t n = strlen(dirs);
            snprintf(dirs + n, sizeof(dirs) - n, "%s%s/%s", n ? "," : "", root, t);
        }
    }
    if (rel[0] == '/')
        snprintf(p, sizeof(p), "%s", rel);
    else
        path(p, rel);
    return imagedir_check(dirs, p, resolved);
}

static void test_inside(void **state)
{
    (void)state;
    char resolved[PATH_MAX], want[PATH_MAX];
    assert_int_equal(check("images", "images/vmlinuz", resolved), 0);
    path(want, "images/vmlinuz");
    assert_string_equal(resolved, want);
    assert_int_equal(check("images", "images/sub/disk.qcow2", resolved), 0);
    assert_int_equal(check("images", "images/sub/../vmlinuz", resolved), 0);
    /* The second of two directories; a trailing '/' on a directory. */
    assert_int_equal(check("images,images2", "images2/disk.raw", resolved), 0);
    assert_int_equal(check("images2/", "images2/disk.raw", resolved), 0);
    /* A link from elsewhere to a file inside is judged by its target. */
    assert_int_equal(check("images", "other/link-in", resolved), 0);
    path(want, "images/vmlinuz");
    assert_string_equal(resolved, want);
    /* "/" allows everything (the opt-out). */
    assert_int_equal(check("/", "other/secret", resolved), 0);
}

static void test_outside(void **state)
{
    (void)state;
    char resolved[PATH_MAX], want[PATH_MAX];
    assert_int_equal(check("images", "other/secret", resolved), -EPERM);
    assert_int_equal(check("images", "/etc/passwd", resolved), -EPERM);
    assert_string_equal(resolved, "/etc/passwd");
    assert_int_equal(check("images", "images/../other/secret", resolved), -EPERM);
    /* A link inside that points outside. */
    assert_int_equal(check("images", "images/escape", resolved), -EPERM);
    path(want, "other/secret");
    assert_string_equal(resolved, want);
    /* images2 is not below images, however its name starts. */
    assert_int_equal(check("images", "images2/disk.raw", resolved), -EPERM);
    /* No directories, or ones that do not exist: nothing is allowed. */
    assert_int_equal(check("/", "images/vmlinuz", resolved), 0);
    assert_int_equal(imagedir_check("", "/etc/passwd", resolved), -EPERM);
    assert_int_equal(imagedir_check(NULL, "/etc/passwd", resolved), -EPERM);
    assert_int_equal(check("nosuch", "images/vmlinuz", resolved), -EPERM);
    /* A relative directory in the list never matches. */
    assert_int_equal(imagedir_check("tmp,,", "/etc/passwd", resolved), -EPERM);
}

static void test_unresolvable(void **state)
{
    (void)state;
    char resolved[PATH_MAX];
    assert_int_equal(check("images", "images/nosuch", resolved), -ENOENT);
    assert_string_equal(resolved, "");
    assert_int_equal(check("images", "images/vmlinuz/x", resolved), -ENOTDIR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside),
        cmocka_unit_test(test_outside),
        cmocka_unit_test(test_unresolvable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
