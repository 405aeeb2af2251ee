/* agent/switchport.c over a fake virtual switch: what is stored is what
 * the switch has; a refusal leaves nothing behind; drift (a port deleted
 * or re-tagged by hand) is put back by the watcher with an event; scrub
 * lists before it removes.  The fake records every call and can be told to
 * refuse. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/registry.h"
#include "agent/switchport.h"
#include "vswitch/vswitch.h"
#include "db/db.h"
#include "db/event.h"
#include "db/node.h"
#include "db/port.h"

/* ---- the fake switch ---- */

#define MAX_OBJECTS 32

struct fake {
    struct vswitch base;
    struct vswitch_object objects[MAX_OBJECTS]; /* what is "on the switch" */
    size_t n;
    int refuse_port_ensure;  /* returned by the next port_ensure, then 0 */
    int ensure_calls;
    int guards_calls;
    struct vswitch_port_guards last_guards;
    atomic_int changed;      /* wait_change reports 1 while set */
    /* Changes side by side: port_guards holds each call this long and
     * records who was inside at once. */
    pthread_mutex_t mu;
    int hold_guards_ms;
    char inside[8][16];
    int n_inside, max_inside;
    int same_port_overlaps;
};

static struct vswitch_object *fake_find(struct fake *f, const char *bridge, const char *port)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->objects[i].bridge, bridge) == 0 && strcmp(f->objects[i].port, port) == 0)
            return &f->objects[i];
    return NULL;
}

static void fake_remove(struct fake *f, const char *bridge, const char *port)
{
    struct vswitch_object *o = fake_find(f, bridge, port);
    if (o)
        *o = f->objects[--f->n];
}

static void fake_destroy(struct vswitch *vs)
{
    (void)vs;
}

static int fake_bridge_ensure(struct vswitch *vs, const char *name)
{
    struct fake *f = (struct fake *)vs;
    if (!fake_find(f, name, "")) {
        memset(&f->objects[f->n], 0, sizeof(f->objects[0]));
        snprintf(f->objects[f->n++].bridge, 64, "%s", name);
    }
    return 0;
}

static int fake_bridge_delete(struct vswitch *vs, const char *name)
{
    struct fake *f = (struct fake *)vs;
    for (size_t i = f->n; i-- > 0;)
        if (strcmp(f->objects[i].bridge, name) == 0)
            f->objects[i] = f->objects[--f->n];
    return 0;
}

static int fake_port_ensure_locked(struct vswitch *vs, const char *bridge,
                                   const struct vswitch_port_spec *spec)
{
    struct fake *f = (struct fake *)vs;
    if (f->refuse_port_ensure) {
        int r = f->refuse_port_ensure;
        f->refuse_port_ensure = 0;
        return r;
    }
    if (!fake_find(f, bridge, ""))
        return -ENOENT;
    struct vswitch_object *o = fake_find(f, bridge, spec->name);
    if (!o) {
        o = &f->objects[f->n++];
        memset(o, 0, sizeof(*o));
        snprintf(o->bridge, sizeof(o->bridge), "%s", bridge);
        snprintf(o->port, sizeof(o->port), "%s", spec->name);
    }
    o->tag = spec->tag;
    o->n_trunks = spec->n_trunks;
    memcpy(o->trunks, spec->trunks, sizeof(o->trunks));
    return 0;
}

static int fake_port_ensure(struct vswitch *vs, const char *bridge, const struct vswitch_port_spec *spec)
{
    struct fake *f = (struct fake *)vs;
    pthread_mutex_lock(&f->mu);
    f->ensure_calls++;
    int r = fake_port_ensure_locked(vs, bridge, spec);
    pthread_mutex_unlock(&f->mu);
    return r;
}

static int fake_port_delete(struct vswitch *vs, const char *bridge, const char *name)
{
    struct fake *f = (struct fake *)vs;
    if (!fake_find(f, bridge, name))
        return -ENOENT;
    fake_remove(f, bridge, name);
    return 0;
}

static int fake_port_guards(struct vswitch *vs, const char *bridge, const struct vswitch_port_guards *g)
{
    (void)bridge;
    struct fake *f = (struct fake *)vs;
    pthread_mutex_lock(&f->mu);
    f->guards_calls++;
    f->last_guards = *g;
    for (int i = 0; i < f->n_inside; i++)
        f->same_port_overlaps += strcmp(f->inside[i], g->name) == 0;
    snprintf(f->inside[f->n_inside++], sizeof(f->inside[0]), "%s", g->name);
    if (f->n_inside > f->max_inside)
        f->max_inside = f->n_inside;
    int hold = f->hold_guards_ms;
    pthread_mutex_unlock(&f->mu);
    struct timespec ts = { 0, (long)hold * 1000000L };
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n_inside; i++) {
        if (strcmp(f->inside[i], g->name) == 0) {
            memcpy(f->inside[i], f->inside[--f->n_inside], sizeof(f->inside[0]));
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static int fake_wait_change(struct vswitch *vs, int timeout_ms)
{
    struct fake *f = (struct fake *)vs;
    if (atomic_exchange(&f->changed, 0))
        return 1;
    struct timespec ts = { 0, (long)(timeout_ms > 20 ? 20 : timeout_ms) * 1000000L };
    nanosleep(&ts, NULL);
    return 0;
}

static int fake_list(struct vswitch *vs, struct vswitch_object **out, size_t *n)
{
    struct fake *f = (struct fake *)vs;
    *out = calloc(f->n ? f->n : 1, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    memcpy(*out, f->objects, f->n * sizeof(**out));
    *n = f->n;
    return 0;
}

static const struct vswitch_ops fake_ops = {
    .name = "fake",
    .destroy = fake_destroy,
    .bridge_ensure = fake_bridge_ensure,
    .bridge_delete = fake_bridge_delete,
    .port_ensure = fake_port_ensure,
    .port_delete = fake_port_delete,
    .port_guards = fake_port_guards,
    .wait_change = fake_wait_change,
    .list = fake_list,
};

/* ---- fixture ---- */

struct fixture {
    char dbpath[64];
    struct agent agent;
    struct fake fake;
    struct switchport *sp;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dbpath, sizeof(f->dbpath), "/tmp/lmnet-test-switchport-XXXXXX");
    int fd = mkstemp(f->dbpath);
    assert_true(fd >= 0);
    close(fd);
    unlink(f->dbpath);
    assert_int_equal(config_init(&f->agent.config), 0);
    assert_int_equal(db_pool_create(f->dbpath, &f->agent.db), 0);
    assert_int_equal(node_id_load(db_pool_get(f->agent.db), f->agent.node_id), 0);
    assert_int_equal(registry_create(&f->agent, &f->agent.registry), 0);
    f->fake.base.ops = &fake_ops;
    pthread_mutex_init(&f->fake.mu, NULL);
    f->agent.vswitch = &f->fake.base;
    assert_int_equal(switchport_create(&f->agent, &f->fake.base, &f->sp), 0);
    struct vswitch_record *s = calloc(1, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "vmsw");
    s->type = SWITCH_PRIVATE;
    struct refusal err;
    assert_int_equal(switchport_switch_add(f->sp, s, "test", &err), 0);
    free(s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    switchport_destroy(f->sp);
    registry_destroy(f->agent.registry);
    db_pool_destroy(f->agent.db);
    config_release(&f->agent.config);
    char path[80];
    unlink(f->dbpath);
    snprintf(path, sizeof(path), "%s-wal", f->dbpath);
    unlink(path);
    snprintf(path, sizeof(path), "%s-shm", f->dbpath);
    unlink(path);
    free(f);
    return 0;
}

static struct port_record port(const char *name, uint64_t mac, unsigned access)
{
    struct port_record p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", name);
    snprintf(p.switch_name, sizeof(p.switch_name), "vmsw");
    snprintf(p.vm, sizeof(p.vm), "vm-%s", name);
    p.mac = mac;
    p.mac_source = MAC_SOURCE_GIVEN;
    p.active = true;
    if (access) {
        p.has_vlan = true;
        p.vlan.mode = VLAN_MODE_ACCESS;
        p.vlan.id = (uint16_t)access;
    }
    return p;
}

static bool stored(struct fixture *f, const char *name)
{
    struct port_record p;
    return port_get(db_pool_get(f->agent.db), name, &p) == 0;
}

static int count_events(struct fixture *f, const char *kind)
{
    struct event *events = NULL;
    size_t n = 0;
    assert_int_equal(event_list(db_pool_get(f->agent.db), 0, kind, 100, &events, &n), 0);
    event_list_free(events, n);
    return (int)n;
}

/* ---- tests ---- */

static void test_port_stored_and_applied(void **state)
{
    struct fixture *f = *state;
    struct port_record p = port("web1-0", 0x020000000001ULL, 100);
    p.dhcp_guard = true;
    struct refusal err;
    assert_int_equal(switchport_port_add(f->sp, &p, "test", &err), 0);
    assert_true(stored(f, "web1-0"));
    const struct vswitch_object *o = fake_find(&f->fake, "vmsw", "web1-0");
    assert_non_null(o);
    assert_int_equal(o->tag, 100);
    assert_int_equal(f->fake.guards_calls, 1);
    assert_int_equal(f->fake.last_guards.mac, 0x020000000001ULL);
    assert_true(f->fake.last_guards.dhcp_guard);
    assert_false(f->fake.last_guards.spoofing_allowed);
    assert_true(f->fake.last_guards.active);

    /* A change reaches the switch; the same MAC on another port does not. */
    p.vlan.id = 200;
    p.active = false;
    assert_int_equal(switchport_port_change(f->sp, &p, "test", &err), 0);
    assert_int_equal(fake_find(&f->fake, "vmsw", "web1-0")->tag, 200);
    assert_false(f->fake.last_guards.active);
    struct port_record dup = port("web2-0", 0x020000000001ULL, 100);
    assert_int_not_equal(switchport_port_add(f->sp, &dup, "test", &err), 0);
    assert_int_equal(err.kind, REFUSAL_CONFLICT);
    assert_null(fake_find(&f->fake, "vmsw", "web2-0"));

    assert_int_equal(switchport_port_remove(f->sp, "web1-0", true, "test", &err), 0);
    assert_false(stored(f, "web1-0"));
    assert_null(fake_find(&f->fake, "vmsw", "web1-0"));
}

/* The switch-over's operation flips forwarding only: the guards (which
 * carry the flag) are programmed again, the port itself is not, and no
 * port change is recorded. */
static void test_set_forwarding_touches_only_forwarding(void **state)
{
    struct fixture *f = *state;
    struct port_record p = port("web1-0", 0x020000000001ULL, 100);
    p.active = false;
    p.router_guard = true;
    struct refusal err;
    assert_int_equal(switchport_port_add(f->sp, &p, "test", &err), 0);
    int changes = count_events(f, "port.change");
    f->fake.ensure_calls = 0;
    f->fake.guards_calls = 0;

    assert_int_equal(switchport_port_set_forwarding(f->sp, "web1-0", true), 0);
    assert_int_equal(f->fake.ensure_calls, 0);
    assert_int_equal(f->fake.guards_calls, 1);
    assert_true(f->fake.last_guards.active);
    assert_true(f->fake.last_guards.router_guard); /* the other guards stay */
    struct port_record now;
    assert_int_equal(port_get(db_pool_get(f->agent.db), "web1-0", &now), 0);
    assert_true(now.active);
    assert_int_equal(now.vlan.id, 100);
    /* Already so: nothing to do. */
    assert_int_equal(switchport_port_set_forwarding(f->sp, "web1-0", true), 0);
    assert_int_equal(f->fake.guards_calls, 1);
    assert_int_equal(switchport_port_set_forwarding(f->sp, "web1-0", false), 0);
    assert_false(f->fake.last_guards.active);
    assert_int_equal(f->fake.ensure_calls, 0);
    assert_int_equal(count_events(f, "port.change"), changes);
    assert_int_equal(switchport_port_set_forwarding(f->sp, "nosuch", true), -ENOENT);
}

static void test_refused_port_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    f->fake.refuse_port_ensure = -EIO;
    struct port_record p = port("web1-0", 0x020000000002ULL, 100);
    struct refusal err;
    assert_true(switchport_port_add(f->sp, &p, "test", &err) < 0);
    assert_int_equal(err.kind, REFUSAL_BAD_ANSWER);
    assert_false(stored(f, "web1-0"));
    assert_null(fake_find(&f->fake, "vmsw", "web1-0"));
    /* A VLAN the switch does not have as a port: unknown switch is invalid (422). */
    struct port_record q = port("web3-0", 0x020000000003ULL, 100);
    snprintf(q.switch_name, sizeof(q.switch_name), "nosuch");
    assert_true(switchport_port_add(f->sp, &q, "test", &err) < 0);
    assert_int_equal(err.kind, REFUSAL_INVALID);
    assert_string_equal(err.type, "switch-not-found");
    assert_false(stored(f, "web3-0"));
}

static bool wait_for(bool (*cond)(struct fixture *), struct fixture *f)
{
    for (int i = 0; i < 200; i++) {
        if (cond(f))
            return true;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return false;
}

static bool port_back(struct fixture *f)
{
    const struct vswitch_object *o = fake_find(&f->fake, "vmsw", "web1-0");
    return o && o->tag == 100;
}

static bool stray_gone(struct fixture *f)
{
    return !fake_find(&f->fake, "vmsw", "stray");
}

static void test_watcher_puts_back_drift(void **state)
{
    struct fixture *f = *state;
    struct port_record p = port("web1-0", 0x020000000004ULL, 100);
    struct refusal err;
    assert_int_equal(switchport_port_add(f->sp, &p, "test", &err), 0);
    assert_int_equal(switchport_watch(f->sp), 0);

    /* Deleted by hand. */
    fake_remove(&f->fake, "vmsw", "web1-0");
    atomic_store(&f->fake.changed, 1);
    assert_true(wait_for(port_back, f));
    /* The event follows the repair. */
    for (int i = 0; i < 100 && count_events(f, "port.drift.repaired") < 1; i++)
        usleep(10000);
    assert_int_equal(count_events(f, "port.drift.repaired"), 1);

    /* Re-tagged by hand. */
    fake_find(&f->fake, "vmsw", "web1-0")->tag = 999;
    atomic_store(&f->fake.changed, 1);
    assert_true(wait_for(port_back, f));
    for (int i = 0; i < 100 && count_events(f, "port.drift.repaired") < 2; i++)
        usleep(10000);
    assert_int_equal(count_events(f, "port.drift.repaired"), 2);

    /* An lmnet-marked port the database does not know goes. */
    struct vswitch_port_spec stray = { .name = "stray" };
    assert_int_equal(fake_port_ensure(&f->fake.base, "vmsw", &stray), 0);
    atomic_store(&f->fake.changed, 1);
    assert_true(wait_for(stray_gone, f));
    assert_true(stored(f, "web1-0"));
}

static void test_scrub_lists_then_removes(void **state)
{
    struct fixture *f = *state;
    struct port_record p = port("web1-0", 0x020000000005ULL, 0);
    struct refusal err;
    assert_int_equal(switchport_port_add(f->sp, &p, "test", &err), 0);
    struct json_object *plan = NULL;
    assert_int_equal(switchport_scrub(f->sp, true, "test", &plan), 0);
    struct json_object *ports = NULL, *switches = NULL;
    assert_true(json_object_object_get_ex(plan, "ports", &ports));
    assert_true(json_object_object_get_ex(plan, "switches", &switches));
    assert_int_equal(json_object_array_length(ports), 1);
    assert_int_equal(json_object_array_length(switches), 1);
    json_object_put(plan);
    assert_non_null(fake_find(&f->fake, "vmsw", "web1-0")); /* dry run: nothing removed */
    assert_true(stored(f, "web1-0"));

    assert_int_equal(switchport_scrub(f->sp, false, "test", &plan), 0);
    json_object_put(plan);
    assert_int_equal(f->fake.n, 0);
    assert_false(stored(f, "web1-0"));
}

struct change_call {
    struct fixture *f;
    struct port_record p;
    int r;
};

static void *change_port(void *arg)
{
    struct change_call *c = arg;
    struct refusal err;
    c->r = switchport_port_change(c->f->sp, &c->p, "test", &err);
    return NULL;
}

/* Changes of two ports run side by side; two changes of one port run one
 * after the other. */
static void test_port_changes_side_by_side_and_in_order(void **state)
{
    struct fixture *f = *state;
    struct refusal err;
    struct port_record a = port("a-0", 0x020000000011ULL, 100);
    struct port_record b = port("b-0", 0x020000000012ULL, 100);
    assert_int_equal(switchport_port_add(f->sp, &a, "test", &err), 0);
    assert_int_equal(switchport_port_add(f->sp, &b, "test", &err), 0);
    f->fake.hold_guards_ms = 150;

    const char *pairs[2][2] = { { "a-0", "b-0" }, { "a-0", "a-0" } };
    for (int k = 0; k < 2; k++) {
        f->fake.max_inside = 0;
        f->fake.same_port_overlaps = 0;
        struct change_call calls[2];
        pthread_t t[2];
        for (int i = 0; i < 2; i++) {
            const char *name = pairs[k][i];
            calls[i] = (struct change_call){ .f = f, .p = strcmp(name, "a-0") == 0 ? a : b };
            calls[i].p.vlan.id = (uint16_t)(200 + i);
            assert_int_equal(pthread_create(&t[i], NULL, change_port, &calls[i]), 0);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(calls[i].r, 0);
        }
        assert_int_equal(f->fake.same_port_overlaps, 0);
        if (k == 0)
            assert_int_equal(f->fake.max_inside, 2); /* a-0 did not wait on b-0 */
        else
            assert_int_equal(f->fake.max_inside, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_port_stored_and_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_port_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_forwarding_touches_only_forwarding, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_watcher_puts_back_drift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scrub_lists_then_removes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_changes_side_by_side_and_in_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
