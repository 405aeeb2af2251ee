/* hypervisor/vm_scope.c: the names it accepts and makes, and the cgroupfs way
 * against a plain directory standing in for the cgroup hierarchy (the real
 * one, and systemd's scopes, are in tests/integration/test_vms.sh and
 * test_systemd_restart.sh). */
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
#include "hypervisor/vm_scope.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/lmnet-vmscope.XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_kinds(void **state)
{
    (void)state;
    for (int i = 0; i < VM_SCOPE_KIND_COUNT; i++) {
        enum vm_scope_kind k;
        assert_int_equal(vm_scope_kind_from_string(vm_scope_kind_to_string(i), &k), 0);
        assert_int_equal(k, i);
    }
    enum vm_scope_kind k;
    assert_int_equal(vm_scope_kind_from_string("cgroup", &k), -EINVAL);
    assert_int_equal(vm_scope_kind_from_string(NULL, &k), -EINVAL);
}

static void test_slice_names(void **state)
{
    (void)state;
    assert_true(vm_scope_slice_valid("lmnet.slice"));
    assert_true(vm_scope_slice_valid("lmnet-host1.slice"));
    assert_true(vm_scope_slice_valid("a_b.slice"));
    assert_false(vm_scope_slice_valid(NULL));
    assert_false(vm_scope_slice_valid(""));
    assert_false(vm_scope_slice_valid(".slice"));
    assert_false(vm_scope_slice_valid("-.slice"));
    assert_false(vm_scope_slice_valid("lmnet"));
    assert_false(vm_scope_slice_valid("lmnet.scope"));
    assert_false(vm_scope_slice_valid("../etc.slice"));
    assert_false(vm_scope_slice_valid("a/b.slice"));
    assert_false(vm_scope_slice_valid("a--b.slice"));
    assert_false(vm_scope_slice_valid("lmnet-.slice"));
    char long_name[80];
    memset(long_name, 'a', 60);
    snprintf(long_name + 60, sizeof(long_name) - 60, ".slice");
    assert_false(vm_scope_slice_valid(long_name));
    struct vm_scope *s = NULL;
    assert_int_equal(vm_scope_create(VM_SCOPE_NONE, "x/y.slice", &s), -EINVAL);
    assert_int_equal(vm_scope_create_cgroupfs(root, "bad", &s), -EINVAL);
    assert_null(s);
}

static void test_none(void **state)
{
    (void)state;
    struct vm_scope *s;
    assert_int_equal(vm_scope_create(VM_SCOPE_NONE, "lmnet.slice", &s), 0);
    assert_int_equal(vm_scope_get_kind(s), VM_SCOPE_NONE);
    char name[64] = "x";
    assert_int_equal(vm_scope_name(s, "web1", name, sizeof(name)), 0);
    assert_string_equal(name, "");
    assert_int_equal(vm_scope_add(s, "web1", getpid()), 0);
    assert_int_equal(vm_scope_contains(s, "web1", getpid()), 1);
    assert_int_equal(vm_scope_kill(s, "web1"), -ENOENT);
    assert_int_equal(vm_scope_remove(s, "web1"), 0);
    vm_scope_destroy(s);
    vm_scope_destroy(NULL);
}

static void test_cgroupfs(void **state)
{
    (void)state;
    struct vm_scope *s;
    assert_int_equal(vm_scope_create_cgroupfs(root, "lmnet.slice", &s), 0);
    assert_int_equal(vm_scope_get_kind(s), VM_SCOPE_CGROUPFS);
    char name[128];
    assert_int_equal(vm_scope_name(s, "web1", name, sizeof(name)), 0);
    assert_string_equal(name, "/lmnet.slice/vm-web1");
    char small[8];
    assert_int_equal(vm_scope_name(s, "web1", small, sizeof(small)), -ENAMETOOLONG);

    /* The kernel makes cgroup.procs in each new cgroup; here the test does,
     * after a first add fails for want of it. */
    assert_int_equal(vm_scope_add(s, "web1", 4242), -ENOENT);
    char dir[PATH_MAX], procs[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/lmnet.slice/vm-web1", root);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
    FILE *f = fopen(procs, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(vm_scope_add(s, "web1", 4242), 0);
    char text[32] = "";
    f = fopen(procs, "r");
    assert_non_null(f);
    assert_non_null(fgets(text, sizeof(text), f));
    fclose(f);
    assert_string_equal(text, "4242\n");

    /* This process is not in it (its /proc/self/cgroup names another). */
    assert_int_equal(vm_scope_contains(s, "web1", getpid()), 0);
    /* A pid that does not exist is in no scope. */
    assert_int_equal(vm_scope_contains(s, "web1", INT_MAX), 0);

    /* Not empty (a real cgroup would be busy): not removed, and said so. */
    assert_int_not_equal(vm_scope_remove(s, "web1"), 0);
    assert_int_equal(stat(dir, &st), 0);
    unlink(procs);
    assert_int_equal(vm_scope_remove(s, "web1"), 0);
    assert_int_equal(stat(dir, &st), -1);
    /* Removing one that is not there is no error. */
    assert_int_equal(vm_scope_remove(s, "web1"), 0);
    vm_scope_destroy(s);
}

static void test_cgroupfs_unwritable(void **state)
{
    (void)state;
    struct vm_scope *s;
    char missing[PATH_MAX];
    snprintf(missing, sizeof(missing), "%s/no/such/dir", root);
    assert_int_equal(vm_scope_create_cgroupfs(missing, "lmnet.slice", &s), 0);
    assert_int_equal(vm_scope_add(s, "web1", 4242), -ENOENT);
    vm_scope_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_slice_names),
        cmocka_unit_test(test_none),
        cmocka_unit_test_setup_teardown(test_cgroupfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cgroupfs_unwritable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
