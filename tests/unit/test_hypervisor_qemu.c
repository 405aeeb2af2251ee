/* hypervisor/hypervisor_qemu.c without running QEMU: the command line drops
 * QEMU's privileges (-runas) and sandboxes it (-sandbox), and a VM whose
 * kernel, initrd or disk lies outside the image directories is refused
 * before any QEMU starts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "hypervisor/hypervisor_qemu.h"

/* The argument after FLAG in ARGV, or NULL. */
static const char *after(char **argv, const char *flag)
{
    for (char **p = argv; *p; p++)
        if (strcmp(*p, flag) == 0)
            return p[1];
    return NULL;
}

static void vm_config(struct hypervisor_vm_config *vm, const char *kernel)
{
    memset(vm, 0, sizeof(*vm));
    snprintf(vm->name, sizeof(vm->name), "t1");
    vm->memory_mib = 128;
    vm->vcpus = 1;
    snprintf(vm->kernel, sizeof(vm->kernel), "%s", kernel);
}

static void test_argv_drops_privileges(void **state)
{
    (void)state;
    struct hypervisor_qemu_config qc;
    hypervisor_qemu_config_defaults(&qc);
    struct hypervisor_vm_config vm;
    vm_config(&vm, "/boot/vmlinuz");
    char **argv = NULL;

    snprintf(qc.user, sizeof(qc.user), "lmnet-qemu");
    assert_int_equal(hypervisor_qemu_argv(&qc, &vm, HYPERVISOR_ACCEL_TCG, false, &argv), 0);
    assert_non_null(after(argv, "-runas"));
    assert_string_equal(after(argv, "-runas"), "lmnet-qemu");
    /* -runas calls setuid() after the filter is in: set*uid allowed. */
    assert_string_equal(after(argv, "-sandbox"),
                        "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny");
    hypervisor_qemu_argv_free(argv);

    qc.user[0] = '\0';
    assert_int_equal(hypervisor_qemu_argv(&qc, &vm, HYPERVISOR_ACCEL_TCG, true, &argv), 0);
    assert_null(after(argv, "-runas"));
    assert_string_equal(after(argv, "-sandbox"),
                        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    assert_string_equal(after(argv, "-incoming"), "defer");
    hypervisor_qemu_argv_free(argv);
}

static void test_images_outside_refused(void **state)
{
    (void)state;
    char dir[32] = "/tmp/lmnet-hvq.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char images[48], kernel[64], run[48], link[64];
    snprintf(images, sizeof(images), "%s/images", dir);
    snprintf(run, sizeof(run), "%s/run", dir);
    snprintf(kernel, sizeof(kernel), "%s/vmlinuz", images);
    snprintf(link, sizeof(link), "%s/passwd", images);
    assert_int_equal(mkdir(images, 0755), 0);
    FILE *f = fopen(kernel, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(symlink("/etc/passwd", link), 0);

    struct hypervisor_qemu_config qc;
    hypervisor_qemu_config_defaults(&qc);
    snprintf(qc.run_dir, sizeof(qc.run_dir), "%s", run);
    snprintf(qc.image_dirs, sizeof(qc.image_dirs), "%s", images);
    /* A QEMU that would fail loudly if it were ever started. */
    snprintf(qc.binary, sizeof(qc.binary), "/nonexistent/qemu");
    qc.accel = HYPERVISOR_ACCEL_TCG;
    struct hypervisor *hv = NULL;
    assert_int_equal(hypervisor_qemu_create(&qc, &hv), 0);
    struct hypervisor_vm_config vm;
    struct hypervisor_vm *handle = NULL;
    vm_config(&vm, "/etc/passwd");
    assert_int_equal(hypervisor_vm_start(hv, &vm, &handle), -EPERM);
    vm_config(&vm, link); /* inside by name, outside once resolved */
    assert_int_equal(hypervisor_vm_start(hv, &vm, &handle), -EPERM);
    vm_config(&vm, kernel);
    snprintf(vm.initrd, sizeof(vm.initrd), "/etc/shadow");
    assert_int_equal(hypervisor_vm_start(hv, &vm, &handle), -EPERM);
    vm_config(&vm, "/nonexistent/vmlinuz");
    assert_int_equal(hypervisor_vm_start(hv, &vm, &handle), -ENOENT);
    /* Inside: it gets as far as starting the (missing) QEMU. */
    vm_config(&vm, kernel);
    int r = hypervisor_vm_start(hv, &vm, &handle);
    assert_true(r != 0 && r != -EPERM);
    assert_null(handle);
    hypervisor_destroy(hv);

    /* A user that does not exist: no driver, and a reason. */
    snprintf(qc.user, sizeof(qc.user), "lmnet-no-such-user");
    hv = NULL;
    assert_int_equal(hypervisor_qemu_create(&qc, &hv), -ENOENT);
    assert_null(hv);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_drops_privileges),
        cmocka_unit_test(test_images_outside_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
