/* migrate/migrator.c, destination side and recovery, with a fake hypervisor
 * and fake switch ports over a real SQLite database: what prepare creates,
 * that every failure and abort removes exactly that, and that a restarted
 * agent undoes an incoming migration it had left half-prepared. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "agent/agent.h"
#include "agent/config.h"
#include "db/db.h"
#include "db/migration.h"
#include "db/node.h"
#include "db/port.h"
#include "db/vm.h"
#include "hypervisor/hypervisor.h"
#include "migrate/lifecycle.h"
#include "migrate/migrator.h"
#include "migrate/plan/ports.h"

#define MIG_ID "7d3f1c2e-0000-4000-8000-000000000001"
#define MIG_ID2    "7d3f1c2e-0000-4000-8000-000000000002"
#define VM_ID "5a5a5a5a-0000-4000-8000-00000000000a"
#define OTHER_NODE "0b0b0b0b-0000-4000-8000-0000000000bb"

/* ---- a fake hypervisor ---- */

struct fake_vm {
    struct hypervisor_vm base;
    enum hypervisor_vm_state state;
};

static struct {
    int started, destroyed, detached, announced;
    int fail_start;
    bool runs; /* the incoming VM has started running */
    char incoming_uri[128]; /* the last migrate-incoming URI */
    char fd_name[64];       /* the last descriptor handed over, by name */
    int fd_listening;       /* and whether it was a listening socket */
    bool postcopy;          /* the options the incoming QEMU started with */
    int resumed, cancelled; /* source side: resumes and migrate_cancels */
} hv_calls;

/* The race of test_finish_races_incoming_check: the first query the finish
 * thread makes ends the incoming QEMU, which the scheduler's check then
 * sees. */
static pthread_t finisher;
static atomic_bool finisher_set, qemu_exited;

static void fake_destroy(struct hypervisor *hv) { (void)hv; }

static int fake_start_incoming(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                               const char *uri, const struct hypervisor_migration_options *options,
                               struct hypervisor_vm **out)
{
    (void)uri;
    hv_calls.postcopy = options && options->postcopy;
    if (hv_calls.fail_start)
        return -EIO;
    struct fake_vm *vm = calloc(1, sizeof(*vm));
    vm->base.hypervisor = hv;
    snprintf(vm->base.name, sizeof(vm->base.name), "%s", config->name);
    vm->state = HYPERVISOR_VM_INCOMING;
    hv_calls.started++;
    *out = &vm->base;
    return 0;
}

static int fake_attach(struct hypervisor *hv, const char *name, struct hypervisor_vm **out)
{
    (void)hv;
    (void)name;
    (void)out;
    return -ENOENT;
}

static int fake_ok(struct hypervisor_vm *vm, const char *uri,
                   const struct hypervisor_migration_options *options)
{
    (void)vm;
    (void)options;
    snprintf(hv_calls.incoming_uri, sizeof(hv_calls.incoming_uri), "%s", uri);
    return 0;
}

static int fake_pass_fd(struct hypervisor_vm *vm, const char *name, int fd)
{
    (void)vm;
    snprintf(hv_calls.fd_name, sizeof(hv_calls.fd_name), "%s", name);
    socklen_t len = sizeof(hv_calls.fd_listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &hv_calls.fd_listening, &len) < 0)
        hv_calls.fd_listening = -1;
    return 0;
}

static int fake_query(struct hypervisor_vm *base, struct hypervisor_vm_status *out)
{
    struct fake_vm *vm = (struct fake_vm *)base;
    if (atomic_load(&finisher_set) && pthread_equal(pthread_self(), finisher))
        atomic_store(&qemu_exited, true);
    if (atomic_load(&qemu_exited))
        vm->state = HYPERVISOR_VM_EXITED;
    else if (hv_calls.runs)
        vm->state = HYPERVISOR_VM_RUNNING;
    out->state = vm->state;
    out->pid = 4242;
    return 0;
}

static void fake_vm_destroy(struct hypervisor_vm *vm)
{
    hv_calls.destroyed++;
    free(vm);
}

static void fake_vm_detach(struct hypervisor_vm *vm)
{
    hv_calls.detached++;
    free(vm);
}

static int fake_resume(struct hypervisor_vm *base)
{
    ((struct fake_vm *)base)->state = HYPERVISOR_VM_RUNNING;
    hv_calls.resumed++;
    return 0;
}

static int fake_migration_cancel(struct hypervisor_vm *vm)
{
    (void)vm;
    hv_calls.cancelled++;
    return 0;
}

static int fake_migration_wait(struct hypervisor_vm *vm, int timeout_ms,
                               enum hypervisor_migration_status *status)
{
    (void)vm;
    (void)timeout_ms;
    *status = hv_calls.cancelled ? HYPERVISOR_MIGRATION_CANCELLED : HYPERVISOR_MIGRATION_ACTIVE;
    return 0;
}

static int fake_migration_progress(struct hypervisor_vm *vm,
                                   struct hypervisor_migration_progress *out)
{
    (void)vm;
    memset(out, 0, sizeof(*out));
    out->status = HYPERVISOR_MIGRATION_CANCELLED;
    return 0;
}

static int fake_announce(struct hypervisor_vm *vm)
{
    (void)vm;
    hv_calls.announced++;
    return 0;
}

static const struct hypervisor_ops fake_hv_ops = {
    .name = "fake",
    .destroy = fake_destroy,
    .vm_start_incoming = fake_start_incoming,
    .vm_attach = fake_attach,
    .vm_migrate_incoming = fake_ok,
    .vm_query = fake_query,
    .vm_destroy = fake_vm_destroy,
    .vm_detach = fake_vm_detach,
    .vm_announce = fake_announce,
    .vm_pass_fd = fake_pass_fd,
    .vm_resume = fake_resume,
    .vm_migration_cancel = fake_migration_cancel,
    .vm_migration_wait = fake_migration_wait,
    .vm_migration_progress = fake_migration_progress,
};

static struct hypervisor fake_hv = { .ops = &fake_hv_ops };

/* ---- fake switch ports ---- */

struct fake_port {
    char name[64];
    bool active;
    bool used;
};

static struct {
    struct fake_port ports[8];
    const char *fail_create; /* a port name whose creation fails */
} sw;

static struct fake_port *port_find(const char *name)
{
    for (size_t i = 0; i < 8; i++)
        if (sw.ports[i].used && strcmp(sw.ports[i].name, name) == 0)
            return &sw.ports[i];
    return NULL;
}

static size_t port_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < 8; i++)
        n += sw.ports[i].used;
    return n;
}

static int fake_describe(void *ctx, const char *name, struct port_record *out)
{
    (void)ctx;
    if (!port_find(name))
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->switch_name, sizeof(out->switch_name), "sw0");
    out->mac = 0x001dd8b71c01;
    out->mac_source = MAC_SOURCE_GIVEN;
    out->active = true;
    return 0;
}

static int fake_create_inactive(void *ctx, const struct port_record *settings)
{
    (void)ctx;
    const char *n = settings->name;
    if (!n[0])
        return -EINVAL;
    if (sw.fail_create && strcmp(n, sw.fail_create) == 0)
        return -EHOSTUNREACH;
    if (port_find(n))
        return -EEXIST;
    for (size_t i = 0; i < 8; i++)
        if (!sw.ports[i].used) {
            sw.ports[i].used = true;
            sw.ports[i].active = false;
            snprintf(sw.ports[i].name, sizeof(sw.ports[i].name), "%s", n);
            return 0;
        }
    return -ENOSPC;
}

static int fake_set_forwarding(void *ctx, const char *name, bool active)
{
    (void)ctx;
    struct fake_port *p = port_find(name);
    if (!p)
        return -ENOENT;
    p->active = active;
    return 0;
}

static int fake_remove(void *ctx, const char *name)
{
    (void)ctx;
    struct fake_port *p = port_find(name);
    if (!p)
        return -ENOENT;
    p->used = false;
    return 0;
}

static const struct port_ops fake_port_ops = {
    .describe = fake_describe,
    .create_inactive = fake_create_inactive,
    .set_forwarding = fake_set_forwarding,
    .remove = fake_remove,
};

static const struct ports fake_ports = { .ops = &fake_port_ops, .ctx = NULL };

/* ---- fixture ---- */

struct fixture {
    char dir[64];
    char dbpath[128];
    struct agent agent;
    struct migrator *migrator;
};

static int no_networks(struct agent *agent, const char *source, const char *destination,
                       struct planner_network **out, size_t *n)
{
    (void)agent;
    (void)source;
    (void)destination;
    *out = NULL;
    *n = 0;
    return 0;
}

static void start_migrator(struct fixture *f)
{
    struct migrator_deps deps = {
        .hypervisor = &fake_hv,
        .lifecycle = f->agent.lifecycle,
        .ports = &fake_ports,
        .networks = no_networks,
    };
    assert_int_equal(migrator_start(&f->agent, &deps, &f->migrator), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/lmnet-test-migrator-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->dbpath, sizeof(f->dbpath), "%s/lmnet.db", f->dir);
    assert_int_equal(config_init(&f->agent.config), 0);
    char err[256];
    assert_int_equal(config_set(&f->agent.config, "run_dir", f->dir, err, sizeof(err)), 0);
    assert_int_equal(db_pool_create(f->dbpath, &f->agent.db), 0);
    assert_int_equal(node_id_load(db_pool_get(f->agent.db), f->agent.node_id), 0);
    assert_int_equal(lifecycle_create(&f->agent, &fake_hv, &fake_ports, &f->agent.lifecycle), 0);
    memset(&hv_calls, 0, sizeof(hv_calls));
    memset(&sw, 0, sizeof(sw));
    atomic_store(&finisher_set, false);
    atomic_store(&qemu_exited, false);
    start_migrator(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    migrator_stop(f->migrator);
    lifecycle_destroy(f->agent.lifecycle);
    db_pool_destroy(f->agent.db);
    config_release(&f->agent.config);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* The body a source sends: a VM with two adapters on ports p1 and p2. */
static struct json_object *prepare_body(const char *id)
{
    const char *text =
        "{\"id\":\"%s\",\"source\":\"" OTHER_NODE "\",\"destination\":\"x\","
        "\"network\":\"net-1\",\"source_address\":\"127.0.0.1\","
        "\"destination_address\":\"127.0.0.1\",\"quick\":false,"
        "\"options\":{\"channels\":2},"
        "\"vm\":{\"id\":\"" VM_ID "\",\"name\":\"web1\",\"memory_mib\":128,\"vcpus\":1,"
        "\"kernel\":\"/boot/k\",\"state\":\"running\",\"host\":\"" OTHER_NODE "\","
        "\"adapters\":[{\"port\":\"p1\",\"model\":\"virtio-net-pci\"},"
        "{\"port\":\"p2\",\"model\":\"e1000\"}]},"
        "\"ports\":[{\"name\":\"p1\",\"switch\":\"sw0\",\"mac\":\"00:1d:d8:b7:1c:01\"},"
        "{\"name\":\"p2\",\"switch\":\"sw0\",\"mac\":\"00:1d:d8:b7:1c:02\"}]}";
    char buf[2048];
    snprintf(buf, sizeof(buf), text, id);
    struct json_object *o = json_tokener_parse(buf);
    assert_non_null(o);
    return o;
}

static enum migration_phase phase_of(struct fixture *f, const char *id)
{
    struct migration m;
    assert_int_equal(migration_get(db_pool_get(f->agent.db), id, &m), 0);
    enum migration_phase p = m.phase;
    migration_release(&m);
    return p;
}

/* PREPARE_BODY's body with TEXT spliced in before "options" (a key and a
 * comma) and OPTIONS for its options. */
static struct json_object *prepare_body_with(const char *id, const char *key,
                                             struct json_object *value, const char *options)
{
    struct json_object *o = prepare_body(id);
    if (key)
        json_object_object_add(o, key, value);
    if (options)
        json_object_object_add(o, "options", json_tokener_parse(options));
    return o;
}

/* Stores VM web1 (VM_ID) on HOST in STATE, as *VM. */
static void insert_vm(struct fixture *f, const char *host, enum vm_state state, struct vm *vm)
{
    memset(vm, 0, sizeof(*vm));
    snprintf(vm->uuid, sizeof(vm->uuid), VM_ID);
    snprintf(vm->name, sizeof(vm->name), "web1");
    vm->memory_mib = 128;
    vm->vcpus = 1;
    snprintf(vm->kernel, sizeof(vm->kernel), "/boot/k");
    snprintf(vm->host, sizeof(vm->host), "%s", host);
    vm->state = state;
    assert_int_equal(vm_insert(db_pool_get(f->agent.db), vm), 0);
}

/* Prepares migration ID from PREPARE_BODY, which must succeed. */
static void prepare_ok(struct fixture *f, const char *id)
{
    struct json_object *body = prepare_body(id), *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), 0);
    json_object_put(body);
    json_object_put(answer);
}

static void test_prepare_direct_multifd(void **state)
{
    struct fixture *f = *state;
    /* A source that can have QEMU's channels go directly. */
    struct json_object *body = prepare_body_with(MIG_ID, "multifd",
                                                 json_object_new_string("direct"), NULL),
                       *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), 0);
    json_object_put(body);
    struct json_object *v = NULL;
    assert_false(json_object_object_get_ex(answer, "token", &v));
    assert_true(json_object_object_get_ex(answer, "direct", &v) && json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(answer, "port", &v) && json_object_get_int(v) > 0);
    json_object_put(answer);
    /* QEMU got a listening socket (restricted to the source: see
     * test_direct) and listens on it itself, no relay. */
    assert_string_equal(hv_calls.fd_name, "lmnet-listen");
    assert_int_equal(hv_calls.fd_listening, 1);
    assert_string_equal(hv_calls.incoming_uri, "tcp:fd:lmnet-listen");
    assert_int_equal(migrator_dest_abort(f->migrator, MIG_ID, "test"), 0);

    /* A source that only knows the relay still gets it. */
    memset(&hv_calls, 0, sizeof(hv_calls));
    body = prepare_body(MIG_ID2);
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), 0);
    json_object_put(body);
    assert_true(json_object_object_get_ex(answer, "token", &v));
    json_object_put(answer);
    assert_string_equal(hv_calls.fd_name, "");
    assert_non_null(strstr(hv_calls.incoming_uri, "unix:"));
    assert_int_equal(migrator_dest_abort(f->migrator, MIG_ID2, "test"), 0);
}

static void test_prepare_postcopy_options(void **state)
{
    struct fixture *f = *state;
    /* Post-copy allowed, one channel: the incoming QEMU can take it. */
    struct json_object *body = prepare_body_with(
                           MIG_ID, NULL, NULL,
                           "{\"channels\":1,\"convergence\":{\"allow_postcopy\":true,"
                           "\"downtime_schedule_ms\":[300]}}"),
                       *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), 0);
    json_object_put(body);
    json_object_put(answer);
    assert_true(hv_calls.postcopy);
    assert_int_equal(migrator_dest_abort(f->migrator, MIG_ID, "test"), 0);
    /* A record from before the policy existed: no post-copy. */
    memset(&hv_calls, 0, sizeof(hv_calls));
    body = prepare_body_with(MIG_ID2, NULL, NULL, "{\"channels\":1}");
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), 0);
    json_object_put(body);
    json_object_put(answer);
    assert_false(hv_calls.postcopy);
    assert_int_equal(migrator_dest_abort(f->migrator, MIG_ID2, "test"), 0);
}

static void test_prepare_switchover_finish(void **state)
{
    struct fixture *f = *state;
    struct json_object *body = prepare_body(MIG_ID), *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), 0);
    json_object_put(body);
    struct json_object *token = NULL, *port = NULL;
    assert_true(json_object_object_get_ex(answer, "token", &token));
    assert_int_equal(strlen(json_object_get_string(token)), 64);
    assert_true(json_object_object_get_ex(answer, "port", &port));
    assert_true(json_object_get_int(port) > 0);
    json_object_put(answer);

    /* Prepared: ports exist, inactive; QEMU waits; the VM is recorded here. */
    assert_int_equal(port_count(), 2);
    assert_false(port_find("p1")->active);
    assert_false(port_find("p2")->active);
    assert_int_equal(hv_calls.started, 1);
    struct vm vm;
    assert_int_equal(vm_get(db_pool_get(f->agent.db), VM_ID, &vm), 0);
    assert_int_equal(vm.state, VM_INCOMING);
    assert_string_equal(vm.host, f->agent.node_id);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_TRANSFERRING);

    assert_int_equal(migrator_dest_switchover(f->migrator, MIG_ID), 0);
    assert_true(port_find("p1")->active);
    assert_true(port_find("p2")->active);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_SWITCHOVER);

    hv_calls.runs = true;
    assert_int_equal(migrator_dest_finish(f->migrator, MIG_ID, 42, 7), 0);
    /* QEMU announces the VM itself on arrival; the agent adds none. */
    assert_int_equal(hv_calls.announced, 0);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_COMPLETED);
    struct migration done;
    assert_int_equal(migration_get(db_pool_get(f->agent.db), MIG_ID, &done), 0);
    assert_int_equal(done.downtime_ms, 42); /* the source's figures, kept here too */
    assert_int_equal(done.switchover_gap_ms, 7);
    migration_release(&done);
    assert_int_equal(vm_get(db_pool_get(f->agent.db), VM_ID, &vm), 0);
    assert_int_equal(vm.state, VM_RUNNING);
    assert_non_null(lifecycle_handle(f->agent.lifecycle, VM_ID));
    assert_int_equal(hv_calls.destroyed, 0);
    /* Unknown ids are refused, not guessed. */
    assert_int_equal(migrator_dest_switchover(f->migrator, MIG_ID), -ENOENT);
    assert_int_equal(migrator_dest_finish(f->migrator, MIG_ID, -1, -1), -ENOENT);
}

static void test_prepare_failure_removes_what_it_made(void **state)
{
    struct fixture *f = *state;
    sw.fail_create = "p2";
    struct json_object *body = prepare_body(MIG_ID), *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), -EPERM);
    json_object_put(body);
    assert_null(answer);
    assert_int_equal(refusal.kind, REFUSAL_CONFLICT);
    assert_string_equal(refusal.type, "destination-prepare-failed");
    assert_non_null(strstr(refusal.detail, "p2"));
    assert_int_equal(port_count(), 0); /* p1 was created, then removed */
    assert_int_equal(hv_calls.started, 0);
    struct vm vm;
    assert_int_equal(vm_get(db_pool_get(f->agent.db), VM_ID, &vm), -ENOENT);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_FAILED);
}

static void test_qemu_failure_undoes_ports(void **state)
{
    struct fixture *f = *state;
    hv_calls.fail_start = 1;
    struct json_object *body = prepare_body(MIG_ID), *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), -EPERM);
    json_object_put(body);
    assert_non_null(strstr(refusal.detail, "QEMU"));
    assert_int_equal(port_count(), 0);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_FAILED);
}

static void test_abort_after_prepare(void **state)
{
    struct fixture *f = *state;
    /* The VM once lived here and left: an abort must give it back to the
     * host it has now, not delete it. */
    struct vm vm;
    insert_vm(f, OTHER_NODE, VM_RUNNING, &vm);

    struct json_object *body = prepare_body(MIG_ID), *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), 0);
    json_object_put(body);
    json_object_put(answer);
    assert_int_equal(migrator_dest_abort(f->migrator, MIG_ID, "cancelled by the user"), 0);
    assert_int_equal(port_count(), 0);
    assert_int_equal(hv_calls.destroyed, 1);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_FAILED);
    assert_int_equal(vm_get(db_pool_get(f->agent.db), VM_ID, &vm), 0);
    assert_string_equal(vm.host, OTHER_NODE);
    assert_int_equal(vm.state, VM_RUNNING);
    /* A second abort is harmless. */
    assert_int_equal(migrator_dest_abort(f->migrator, MIG_ID, "again"), 0);
    assert_int_equal(hv_calls.destroyed, 1);
}

static void test_no_free_slot(void **state)
{
    struct fixture *f = *state;
    f->agent.config.max_migrations = 1;
    struct json_object *body = prepare_body(MIG_ID), *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), 0);
    json_object_put(body);
    json_object_put(answer);
    body = prepare_body("7d3f1c2e-0000-4000-8000-000000000002");
    answer = NULL;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), -EPERM);
    json_object_put(body);
    assert_int_equal(refusal.kind, REFUSAL_CONFLICT);
    assert_string_equal(refusal.type, "no-free-slot");
    assert_int_equal(migrator_dest_abort(f->migrator, MIG_ID, "test over"), 0);
}

static void test_restart_undoes_incoming(void **state)
{
    struct fixture *f = *state;
    prepare_ok(f, MIG_ID);
    /* The agent stops mid-transfer (QEMU is left alone) and starts again. */
    migrator_stop(f->migrator);
    assert_int_equal(hv_calls.detached, 1);
    assert_int_equal(port_count(), 2);
    start_migrator(f);
    assert_int_equal(port_count(), 0);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_FAILED);
    struct vm vm;
    assert_int_equal(vm_get(db_pool_get(f->agent.db), VM_ID, &vm), -ENOENT);
}

static void test_bad_prepare_and_submit_refusals(void **state)
{
    struct fixture *f = *state;
    struct json_object *body = json_tokener_parse("{\"id\":\"short\"}"), *answer = NULL;
    struct refusal refusal;
    assert_int_equal(migrator_dest_prepare(f->migrator, body, &answer, &refusal), -EPERM);
    assert_int_equal(refusal.kind, REFUSAL_INVALID);
    json_object_put(body);

    struct migration_request rq = { .channels = 1, .downtime_limit_ms = -1 };
    snprintf(rq.vm, sizeof(rq.vm), "nope");
    snprintf(rq.destination, sizeof(rq.destination), "host2");
    char uuid[37];
    assert_int_equal(migrator_submit(f->migrator, &rq, "test", uuid, &refusal), -EPERM);
    assert_int_equal(refusal.kind, REFUSAL_NOT_FOUND);
    assert_string_equal(refusal.type, "vm-not-found");

    struct vm vm;
    insert_vm(f, f->agent.node_id, VM_STOPPED, &vm);
    snprintf(rq.vm, sizeof(rq.vm), "web1");
    assert_int_equal(migrator_submit(f->migrator, &rq, "test", uuid, &refusal), -EPERM);
    assert_int_equal(refusal.kind, REFUSAL_CONFLICT);
    assert_string_equal(refusal.type, "vm-not-running");

    assert_int_equal(vm_set_state(db_pool_get(f->agent.db), VM_ID, VM_RUNNING), 0);
    assert_int_equal(migrator_submit(f->migrator, &rq, "test", uuid, &refusal), -EPERM);
    assert_int_equal(refusal.kind, REFUSAL_INVALID);
    assert_string_equal(refusal.type, "destination-unknown");
}

static enum migration_step_status step_status(struct fixture *f, const char *id,
                                              const char *step)
{
    struct migration_step *steps = NULL;
    size_t n = 0;
    assert_int_equal(migration_steps(db_pool_get(f->agent.db), id, &steps, &n), 0);
    int status = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(steps[i].step, step) == 0)
            status = (int)steps[i].status;
    migration_steps_free(steps, n);
    if (status < 0)
        fail_msg("no step %s in the journal", step);
    return (enum migration_step_status)status;
}

/* A source agent that stopped mid-transfer undoes, at its next start, what
 * its journal says it did: QEMU's migration cancelled and the VM (paused at
 * pre-switchover) resumed, the VM's state back to running, the move failed;
 * the destination's abort, which cannot reach it here, is journaled failed. */
static void test_source_restart_undoes_from_journal(void **state)
{
    struct fixture *f = *state;
    struct db *db = db_pool_get(f->agent.db);
    struct vm vm;
    insert_vm(f, f->agent.node_id, VM_MIGRATING, &vm);
    struct fake_vm *qemu = calloc(1, sizeof(*qemu));
    qemu->base.hypervisor = &fake_hv;
    snprintf(qemu->base.name, sizeof(qemu->base.name), "web1");
    qemu->state = HYPERVISOR_VM_PAUSED;
    assert_int_equal(lifecycle_adopt(f->agent.lifecycle, VM_ID, &qemu->base), 0);

    struct migration mig = { 0 };
    snprintf(mig.uuid, sizeof(mig.uuid), MIG_ID);
    snprintf(mig.vm, sizeof(mig.vm), VM_ID);
    snprintf(mig.vm_name, sizeof(mig.vm_name), "web1");
    mig.role = MIGRATION_ROLE_SOURCE;
    snprintf(mig.source, sizeof(mig.source), "%s", f->agent.node_id);
    snprintf(mig.destination, sizeof(mig.destination), OTHER_NODE);
    snprintf(mig.destination_url, sizeof(mig.destination_url), "http://127.0.0.1:9");
    mig.phase = MIGRATION_TRANSFERRING;
    mig.downtime_ms = -1;
    mig.switchover_gap_ms = -1;
    assert_int_equal(migration_insert(db, &mig), 0);
    static const char *const done[] = { "prepare-destination", "vm-migrating", "channel",
                                        "qemu-migrate" };
    for (size_t i = 0; i < 4; i++)
        assert_true(migration_journal(db, MIG_ID, done[i], STEP_DONE, NULL) >= 0);

    migrator_stop(f->migrator);
    start_migrator(f);
    assert_int_equal(hv_calls.cancelled, 1);
    assert_int_equal(hv_calls.resumed, 1);
    assert_int_equal(qemu->state, HYPERVISOR_VM_RUNNING);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_FAILED);
    assert_int_equal(vm_get(db, VM_ID, &vm), 0);
    assert_int_equal(vm.state, VM_RUNNING);
    assert_string_equal(vm.host, f->agent.node_id);
    assert_int_equal(step_status(f, MIG_ID, "qemu-migrate"), STEP_UNDONE);
    assert_int_equal(step_status(f, MIG_ID, "channel"), STEP_UNDONE);
    assert_int_equal(step_status(f, MIG_ID, "vm-migrating"), STEP_UNDONE);
    assert_int_equal(step_status(f, MIG_ID, "prepare-destination"), STEP_FAILED);
}

struct finish_call {
    struct migrator *migrator;
    int result;
};

static void *finish_thread(void *arg)
{
    struct finish_call *call = arg;
    finisher = pthread_self();
    atomic_store(&finisher_set, true);
    call->result = migrator_dest_finish(call->migrator, MIG_ID, -1, -1);
    return NULL;
}

/* The source's finish waits for the VM to run while the scheduler's check
 * finds the incoming QEMU ended and aborts the migration: the abort must not
 * free what finish still uses (under ASan this was a use after free), and
 * finish gives up with "no longer prepared here". */
static void test_finish_races_incoming_check(void **state)
{
    struct fixture *f = *state;
    prepare_ok(f, MIG_ID);
    assert_int_equal(migrator_dest_switchover(f->migrator, MIG_ID), 0);

    struct finish_call call = { .migrator = f->migrator, .result = 1 };
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, finish_thread, &call), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_int_equal(call.result, -ENOENT);
    /* The scheduler's abort has run to its end once the migrator stops. */
    migrator_stop(f->migrator);
    assert_int_equal(phase_of(f, MIG_ID), MIGRATION_FAILED);
    assert_int_equal(port_count(), 0);
    assert_int_equal(hv_calls.destroyed, 1);
    assert_int_equal(hv_calls.detached, 0);
    start_migrator(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prepare_direct_multifd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_postcopy_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_switchover_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_failure_removes_what_it_made, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qemu_failure_undoes_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_after_prepare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_free_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_undoes_incoming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_prepare_and_submit_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_races_incoming_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_restart_undoes_from_journal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
