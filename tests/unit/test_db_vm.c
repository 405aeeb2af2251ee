/* db/vm.c: VMs with adapters stored whole or not at all, looked up by name
 * or id, state and host changes bump the generation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "db/db.h"
#include "db/vm.h"

static struct vm sample(const char *uuid, const char *name, const char *port)
{
    struct vm vm = { 0 };
    snprintf(vm.uuid, sizeof(vm.uuid), "%s", uuid);
    snprintf(vm.name, sizeof(vm.name), "%s", name);
    vm.memory_mib = 512;
    vm.vcpus = 1;
    snprintf(vm.kernel, sizeof(vm.kernel), "/var/lib/lmnet/guest/vmlinuz");
    snprintf(vm.host, sizeof(vm.host), "node-a");
    vm.state = VM_STOPPED;
    vm.n_adapters = 1;
    snprintf(vm.adapters[0].port, sizeof(vm.adapters[0].port), "%s", port);
    snprintf(vm.adapters[0].model, sizeof(vm.adapters[0].model), "virtio-net-pci");
    return vm;
}

static int setup(void **state)
{
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    db_close(*state);
    return 0;
}

static void test_names(void **state)
{
    (void)state;
    assert_true(vm_name_valid("web-01"));
    assert_true(vm_name_valid("a.b_c"));
    assert_false(vm_name_valid(""));
    assert_false(vm_name_valid("-x"));
    assert_false(vm_name_valid(".x"));
    assert_false(vm_name_valid("a b"));
    assert_false(vm_name_valid("a/b"));
    char long_name[80];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_false(vm_name_valid(long_name));
}

static void test_insert_get_list(void **state)
{
    struct db *db = *state;
    struct vm a = sample("u-1", "web", "vnet-web-0");
    a.n_adapters = 2;
    snprintf(a.adapters[1].port, sizeof(a.adapters[1].port), "vnet-web-1");
    snprintf(a.adapters[1].model, sizeof(a.adapters[1].model), "e1000");
    assert_int_equal(vm_insert(db, &a), 0);
    struct vm b = sample("u-2", "db", "vnet-db-0");
    assert_int_equal(vm_insert(db, &b), 0);
    struct vm got;
    assert_int_equal(vm_get(db, "web", &got), 0);
    assert_string_equal(got.uuid, "u-1");
    assert_int_equal(got.n_adapters, 2);
    assert_string_equal(got.adapters[1].model, "e1000");
    assert_int_equal(got.generation, 1);
    assert_int_equal(vm_get(db, "u-2", &got), 0);
    assert_string_equal(got.name, "db");
    assert_int_equal(vm_get(db, "nope", &got), -ENOENT);
    struct vm *list;
    size_t n;
    assert_int_equal(vm_list(db, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "db"); /* by name */
    assert_int_equal(list[1].n_adapters, 2);
    free(list);
}

static void test_conflicts_leave_nothing(void **state)
{
    struct db *db = *state;
    struct vm a = sample("u-1", "web", "vnet-0");
    assert_int_equal(vm_insert(db, &a), 0);
    struct vm same_name = sample("u-2", "web", "vnet-1");
    assert_int_equal(vm_insert(db, &same_name), -EEXIST);
    /* Same port as web's: the VM row must not stay behind either. */
    struct vm same_port = sample("u-3", "db", "vnet-0");
    assert_int_equal(vm_insert(db, &same_port), -EEXIST);
    struct vm got;
    assert_int_equal(vm_get(db, "db", &got), -ENOENT);
    assert_int_equal(vm_get(db, "u-3", &got), -ENOENT);
}

static void test_state_host_delete(void **state)
{
    struct db *db = *state;
    struct vm a = sample("u-1", "web", "vnet-0");
    assert_int_equal(vm_insert(db, &a), 0);
    assert_int_equal(vm_set_state(db, "u-1", VM_RUNNING), 0);
    assert_int_equal(vm_set_host(db, "u-1", "node-b", VM_RUNNING), 0);
    assert_int_equal(vm_set_state(db, "nope", VM_RUNNING), -ENOENT);
    struct vm got;
    assert_int_equal(vm_get(db, "web", &got), 0);
    assert_string_equal(got.host, "node-b");
    assert_int_equal(got.state, VM_RUNNING);
    assert_int_equal(got.generation, 3);
    struct json_object *j = vm_to_json(&got);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(text, "\"state\":\"running\""));
    assert_non_null(strstr(text, "\"adapters\":[{\"port\":\"vnet-0\",\"model\":\"virtio-net-pci\"}]"));
    assert_non_null(strstr(text, "\"disk\":null"));
    json_object_put(j);
    assert_int_equal(vm_delete(db, "u-1"), 0);
    assert_int_equal(vm_delete(db, "u-1"), -ENOENT);
    /* The adapter's port is free again. */
    struct vm b = sample("u-2", "db", "vnet-0");
    assert_int_equal(vm_insert(db, &b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_insert_get_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_host_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
