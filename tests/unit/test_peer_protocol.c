/* migrate/peer_protocol.c: every message survives encode then decode
 * unchanged, and the decoders refuse what a peer must not send (wrong
 * types, a port out of range, a short token, ports that do not match the
 * VM's adapters) with a reason that names the field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "migrate/peer_protocol.h"

#define MIG_ID "7d3f1c2e-0000-4000-8000-000000000001"
#define VM_ID  "5a5a5a5a-0000-4000-8000-00000000000a"
#define NODE_A "0a0a0a0a-0000-4000-8000-0000000000aa"
#define NODE_B "0b0b0b0b-0000-4000-8000-0000000000bb"
#define TOKEN  "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static struct json_object *parse(const char *text)
{
    struct json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

static void sample_port(struct port_record *p, const char *name, uint64_t mac,
                        enum mac_source source, enum vlan_mode mode)
{
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->switch_name, sizeof(p->switch_name), "sw0");
    p->mac = mac;
    p->mac_source = source;
    p->has_vlan = true;
    p->vlan.mode = mode;
}

/* A prepare request with a two-adapter VM, a trunk port and a guarded one. */
static struct peer_prepare *sample_prepare(void)
{
    struct peer_prepare *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    snprintf(p->id, sizeof(p->id), MIG_ID);
    snprintf(p->source, sizeof(p->source), NODE_A);
    snprintf(p->destination, sizeof(p->destination), NODE_B);
    snprintf(p->network, sizeof(p->network), "net-1");
    snprintf(p->source_address, sizeof(p->source_address), "10.0.5.1");
    snprintf(p->destination_address, sizeof(p->destination_address), "10.0.5.2");
    p->multifd_direct = true;
    p->options.downtime_limit_ms = 250;
    p->options.max_bandwidth = 1u << 30;
    p->options.channels = 4;
    p->options.convert_dynamic_macs = true;
    p->options.has_convergence = true;
    convergence_policy_defaults(&p->options.convergence);
    p->options.convergence.auto_converge = true;
    p->options.channels_requested = 8;
    snprintf(p->options.channels_note, sizeof(p->options.channels_note), "reduced: a note");

    struct vm *vm = &p->vm;
    snprintf(vm->uuid, sizeof(vm->uuid), VM_ID);
    snprintf(vm->name, sizeof(vm->name), "web1");
    vm->memory_mib = 512;
    vm->vcpus = 2;
    snprintf(vm->kernel, sizeof(vm->kernel), "/boot/k");
    snprintf(vm->host, sizeof(vm->host), NODE_A);
    vm->state = VM_RUNNING;
    vm->n_adapters = 2;
    snprintf(vm->adapters[0].port, sizeof(vm->adapters[0].port), "p1");
    snprintf(vm->adapters[0].model, sizeof(vm->adapters[0].model), "virtio-net-pci");
    snprintf(vm->adapters[1].port, sizeof(vm->adapters[1].port), "p2");
    snprintf(vm->adapters[1].model, sizeof(vm->adapters[1].model), "e1000");

    p->n_ports = 2;
    struct port_record *a = &p->ports[0], *b = &p->ports[1];
    sample_port(a, "p1", 0x001dd8b71c01ULL, MAC_SOURCE_STATIC, VLAN_MODE_TRUNK);
    a->vlan.native = 10;
    a->vlan.n_allowed = 3;
    a->vlan.allowed[0] = 10;
    a->vlan.allowed[1] = 20;
    a->vlan.allowed[2] = 30;
    a->active = true;
    sample_port(b, "p2", 0x001dd8b71c02ULL, MAC_SOURCE_GIVEN, VLAN_MODE_ACCESS);
    b->vlan.id = 42;
    b->dhcp_guard = true;
    b->router_guard = true;
    b->max_bandwidth_kbps = 100000;
    return p;
}

static void test_prepare_round_trip(void **state)
{
    (void)state;
    struct peer_prepare *p = sample_prepare();
    struct json_object *o = peer_prepare_encode(p);
    struct peer_prepare *q = calloc(1, sizeof(*q));
    assert_non_null(q);
    char why[256] = "";
    assert_int_equal(peer_prepare_decode(o, q, why, sizeof(why)), 0);
    assert_string_equal(q->id, MIG_ID);
    assert_string_equal(q->source, NODE_A);
    assert_string_equal(q->destination, NODE_B);
    assert_string_equal(q->network, "net-1");
    assert_string_equal(q->source_address, "10.0.5.1");
    assert_string_equal(q->destination_address, "10.0.5.2");
    assert_false(q->quick);
    assert_true(q->multifd_direct);
    assert_int_equal(q->options.downtime_limit_ms, 250);
    assert_int_equal(q->options.max_bandwidth, 1u << 30);
    assert_int_equal(q->options.channels, 4);
    assert_true(q->options.convert_dynamic_macs);
    assert_false(q->options.allow_management_network);
    assert_true(q->options.has_convergence);
    assert_true(q->options.convergence.auto_converge);
    assert_int_equal(q->options.convergence.n_downtime, p->options.convergence.n_downtime);
    assert_int_equal(q->options.channels_requested, 8);
    assert_string_equal(q->options.channels_note, "reduced: a note");
    assert_string_equal(q->vm.uuid, VM_ID);
    assert_string_equal(q->vm.name, "web1");
    assert_int_equal(q->vm.n_adapters, 2);
    assert_int_equal(q->n_ports, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct port_record *a = &p->ports[i], *b = &q->ports[i];
        assert_string_equal(a->name, b->name);
        assert_string_equal(a->switch_name, b->switch_name);
        assert_int_equal(a->mac, b->mac);
        assert_int_equal(a->mac_source, b->mac_source);
        assert_int_equal(a->has_vlan, b->has_vlan);
        assert_int_equal(a->vlan.mode, b->vlan.mode);
        assert_int_equal(a->vlan.id, b->vlan.id);
        assert_int_equal(a->vlan.native, b->vlan.native);
        assert_int_equal(a->vlan.n_allowed, b->vlan.n_allowed);
        assert_memory_equal(a->vlan.allowed, b->vlan.allowed,
                            a->vlan.n_allowed * sizeof(a->vlan.allowed[0]));
        assert_int_equal(a->dhcp_guard, b->dhcp_guard);
        assert_int_equal(a->router_guard, b->router_guard);
        assert_int_equal(a->spoofing_allowed, b->spoofing_allowed);
        assert_int_equal(a->max_bandwidth_kbps, b->max_bandwidth_kbps);
    }
    /* A second trip writes the same JSON. */
    struct json_object *again = peer_prepare_encode(q);
    assert_string_equal(json_object_to_json_string(o), json_object_to_json_string(again));
    json_object_put(again);
    json_object_put(o);
    free(q);
    free(p);
}

/* Replaces KEY of a valid prepare request with VALUE (NULL: removes it) and
 * expects a refusal whose reason mentions WORD. */
static void expect_prepare_refused(const char *key, struct json_object *value, const char *word)
{
    struct peer_prepare *p = sample_prepare();
    struct json_object *o = peer_prepare_encode(p);
    if (value)
        json_object_object_add(o, key, value);
    else
        json_object_object_del(o, key);
    char why[256] = "";
    assert_int_equal(peer_prepare_decode(o, p, why, sizeof(why)), -EINVAL);
    if (!strstr(why, word))
        fail_msg("refusal of '%s' says \"%s\", not \"%s\"", key, why, word);
    json_object_put(o);
    free(p);
}

static void test_prepare_refusals(void **state)
{
    (void)state;
    expect_prepare_refused("id", json_object_new_string("short"), "'id'");
    expect_prepare_refused("id", NULL, "'id'");
    expect_prepare_refused("source", json_object_new_int(7), "'source'");
    expect_prepare_refused("destination_address", NULL, "'destination_address'");
    expect_prepare_refused("quick", json_object_new_string("yes"), "'quick'");
    expect_prepare_refused("options", json_object_new_array(), "'options'");
    expect_prepare_refused("options", parse("{\"channels\":\"four\"}"), "'channels'");
    expect_prepare_refused("options", parse("{\"channels\":0}"), "'channels'");
    expect_prepare_refused("options", parse("{\"max_bandwidth\":-1}"), "'max_bandwidth'");
    expect_prepare_refused("options", parse("{\"convergence\":{\"timeout_action\":\"explode\"}}"),
                           "convergence");
    expect_prepare_refused("vm", parse("{\"name\":\"web1\"}"), "'vm'");
    expect_prepare_refused("ports", parse("[]"), "'ports'");
    expect_prepare_refused("ports", json_object_new_string("p1"), "'ports'");
    /* A port that is not the adapter's, and one without a switch. */
    expect_prepare_refused("ports",
                           parse("[{\"name\":\"p2\",\"switch\":\"sw0\",\"mac\":\"00:1d:d8:b7:1c:02\"},"
                                 "{\"name\":\"p1\",\"switch\":\"sw0\",\"mac\":\"00:1d:d8:b7:1c:01\"}]"),
                           "adapter");
    expect_prepare_refused("ports",
                           parse("[{\"name\":\"p1\",\"mac\":\"00:1d:d8:b7:1c:01\"},"
                                 "{\"name\":\"p2\",\"switch\":\"sw0\",\"mac\":\"00:1d:d8:b7:1c:02\"}]"),
                           "ports/0/switch");
    struct peer_prepare *p = calloc(1, sizeof(*p));
    char why[256];
    assert_int_equal(peer_prepare_decode(NULL, p, why, sizeof(why)), -EINVAL);
    struct json_object *array = json_object_new_array();
    assert_int_equal(peer_prepare_decode(array, p, why, sizeof(why)), -EINVAL);
    json_object_put(array);
    free(p);
}

static void test_options_defaults(void **state)
{
    (void)state;
    /* A record from before there was a policy: the old behaviour. */
    struct peer_options o;
    char why[256];
    assert_int_equal(peer_options_decode(NULL, &o, why, sizeof(why)), 0);
    assert_int_equal(o.downtime_limit_ms, -1);
    assert_int_equal(o.channels, 1);
    assert_int_equal(o.max_bandwidth, 0);
    assert_false(o.has_convergence);
    assert_int_equal(o.convergence.n_downtime, 0);
    assert_int_equal(o.convergence.timeout_per_gib_s, 0);
    struct json_object *old = parse("{\"channels\":2,\"downtime_limit_ms\":300}");
    assert_int_equal(peer_options_decode(old, &o, why, sizeof(why)), 0);
    assert_int_equal(o.channels, 2);
    assert_int_equal(o.downtime_limit_ms, 300);
    assert_false(o.has_convergence);
    /* Encoded without a policy, it still has none. */
    struct json_object *again = peer_options_encode(&o);
    assert_false(json_object_object_get_ex(again, "convergence", NULL));
    json_object_put(again);
    json_object_put(old);
}

static void test_prepare_answer(void **state)
{
    (void)state;
    struct peer_prepare_answer a = { .port = 40001 }, b;
    snprintf(a.token, sizeof(a.token), TOKEN);
    char why[256];
    struct json_object *o = peer_prepare_answer_encode(&a);
    assert_int_equal(peer_prepare_answer_decode(o, 1, &b, why, sizeof(why)), 0);
    assert_int_equal(b.port, 40001);
    assert_false(b.direct);
    assert_string_equal(b.token, TOKEN);
    json_object_put(o);

    struct peer_prepare_answer d = { .port = 40002, .direct = true };
    o = peer_prepare_answer_encode(&d);
    assert_false(json_object_object_get_ex(o, "token", NULL));
    assert_int_equal(peer_prepare_answer_decode(o, 4, &b, why, sizeof(why)), 0);
    assert_true(b.direct);
    assert_int_equal(b.port, 40002);
    /* Direct is only for several channels. */
    assert_int_equal(peer_prepare_answer_decode(o, 1, &b, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "direct"));
    json_object_put(o);

    static const struct {
        const char *text;
        const char *word;
    } bad[] = {
        { "{\"port\":40001}", "'token'" },
        { "{\"port\":40001,\"token\":\"abc\"}", "'token'" },
        { "{\"port\":40001,\"token\":\"" TOKEN "\",\"direct\":\"no\"}", "'direct'" },
        { "{\"port\":40001,\"token\":\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          "'token'" },
        { "{\"token\":\"" TOKEN "\"}", "'port'" },
        { "{\"port\":0,\"token\":\"" TOKEN "\"}", "'port'" },
        { "{\"port\":65536,\"token\":\"" TOKEN "\"}", "'port'" },
        { "{\"port\":\"40001\",\"token\":\"" TOKEN "\"}", "'port'" },
        { "[40001]", "object" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object *x = parse(bad[i].text);
        assert_int_equal(peer_prepare_answer_decode(x, 4, &b, why, sizeof(why)), -EINVAL);
        if (!strstr(why, bad[i].word))
            fail_msg("%s: \"%s\" does not name %s", bad[i].text, why, bad[i].word);
        json_object_put(x);
    }
    assert_int_equal(peer_prepare_answer_decode(NULL, 4, &b, why, sizeof(why)), -EINVAL);
}

static void test_finish_abort_status(void **state)
{
    (void)state;
    char why[256];
    struct peer_finish f = { .downtime_ms = 42, .switchover_gap_ms = 7 }, g;
    struct json_object *o = peer_finish_encode(&f);
    assert_int_equal(peer_finish_decode(o, &g, why, sizeof(why)), 0);
    assert_int_equal(g.downtime_ms, 42);
    assert_int_equal(g.switchover_gap_ms, 7);
    json_object_put(o);
    assert_int_equal(peer_finish_decode(NULL, &g, why, sizeof(why)), 0); /* an older source */
    assert_int_equal(g.downtime_ms, -1);
    assert_int_equal(g.switchover_gap_ms, -1);
    o = parse("{\"downtime_ms\":\"42\"}");
    assert_int_equal(peer_finish_decode(o, &g, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "'downtime_ms'"));
    json_object_put(o);

    struct peer_abort a = { .reason = "cancelled by the user" }, b;
    o = peer_abort_encode(&a);
    assert_int_equal(peer_abort_decode(o, &b, why, sizeof(why)), 0);
    assert_string_equal(b.reason, "cancelled by the user");
    json_object_put(o);
    assert_int_equal(peer_abort_decode(NULL, &b, why, sizeof(why)), 0);
    assert_string_equal(b.reason, "");
    o = parse("{\"reason\":false}");
    assert_int_equal(peer_abort_decode(o, &b, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "'reason'"));
    json_object_put(o);

    struct peer_status s = { .phase = "failed", .error = "QEMU ended" }, t;
    o = peer_status_encode(&s);
    assert_int_equal(peer_status_decode(o, &t, why, sizeof(why)), 0);
    assert_string_equal(t.phase, "failed");
    assert_string_equal(t.error, "QEMU ended");
    assert_true(t.gave_up);
    json_object_put(o);
    /* What GET /v1/migrations/ID serves has more; the rest is ignored. */
    o = parse("{\"id\":\"" MIG_ID "\",\"phase\":\"transferring\",\"error\":null,\"progress\":{}}");
    assert_int_equal(peer_status_decode(o, &t, why, sizeof(why)), 0);
    assert_false(t.gave_up);
    assert_string_equal(t.error, "");
    json_object_put(o);
    o = parse("{\"error\":\"x\"}");
    assert_int_equal(peer_status_decode(o, &t, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "'phase'"));
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_round_trip),
        cmocka_unit_test(test_prepare_refusals),
        cmocka_unit_test(test_options_defaults),
        cmocka_unit_test(test_prepare_answer),
        cmocka_unit_test(test_finish_abort_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
