/* api/vm.c: the body of POST /v1/vms as its handler reads it
 * (vm_request_parse()).  A kernel or disk must be a file inside image_dirs:
 * the image directory itself passed access() and the image_dirs check and
 * was accepted, to fail only when QEMU started (found by
 * tests/fuzz/fuzz_request). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include "agent/agent.h"
#include "api/vm.h"
#include "db/vm.h"
#include "migrate/plan/ports.h"

struct fixture {
    char dir[64];
    char kernel[96];
    struct agent agent;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/lmnet-vmreq.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->kernel, sizeof(f->kernel), "%s/vmlinuz", f->dir);
    int fd = open(f->kernel, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(config_init(&f->agent.config), 0);
    assert_int_equal(config_set(&f->agent.config, "image_dirs", f->dir, NULL, 0), 0);
    f->agent.ports = &ports_none;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->kernel);
    rmdir(f->dir);
    config_release(&f->agent.config);
    free(f);
    return 0;
}

/* Parses {"name": "vm1", FIELD: PATH}; returns the result and the
 * problem's pointer (or "") in POINTER. */
static int parse(struct fixture *f, const char *field, const char *path, char *pointer, size_t size)
{
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "name", json_object_new_string("vm1"));
    json_object_object_add(body, field, json_object_new_string(path));
    struct request req = {.agent = &f->agent, .method = HTTP_POST, .path = "/v1/vms", .json = body};
    struct response resp;
    memset(&resp, 0, sizeof(resp));
    struct vm vm;
    int r = vm_request_parse(&req, &resp, &vm);
    struct json_object *v = NULL;
    snprintf(pointer, size, "%s",
             resp.body && json_object_object_get_ex(resp.body, "pointer", &v)
                 ? json_object_get_string(v)
                 : "");
    if (r < 0)
        assert_int_equal(resp.status, 422);
    json_object_put(resp.body);
    json_object_put(body);
    return r;
}

static void test_file_in_image_dirs(void **state)
{
    struct fixture *f = *state;
    char pointer[64];
    assert_int_equal(parse(f, "kernel", f->kernel, pointer, sizeof(pointer)), 0);
    assert_int_equal(parse(f, "disk", f->kernel, pointer, sizeof(pointer)), 0);
    assert_true(parse(f, "kernel", "/etc/hostname", pointer, sizeof(pointer)) < 0);
    assert_string_equal(pointer, "/kernel");
}

static void test_directory_refused(void **state)
{
    struct fixture *f = *state;
    char pointer[64];
    assert_true(parse(f, "kernel", f->dir, pointer, sizeof(pointer)) < 0);
    assert_string_equal(pointer, "/kernel");
    assert_true(parse(f, "disk", f->dir, pointer, sizeof(pointer)) < 0);
    assert_string_equal(pointer, "/disk");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_in_image_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
