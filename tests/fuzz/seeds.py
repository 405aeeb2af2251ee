#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into OUT/<target>/: a few small,
well-formed inputs each (QMP and OVSDB conversations, OpenFlow messages,
heartbeat datagrams, rtnetlink dumps, API bodies, peer replies), so the
fuzzers start from what the other party really sends instead of from
nothing.  Usage: tests/fuzz/seeds.py OUT"""
import json
import os
import struct
import sys


def siphash24(key: bytes, data: bytes) -> int:
    """SipHash-2-4 (base/siphash.c), for signed heartbeat seeds."""
    mask = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & mask

    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def rnd():
        v[0] = (v[0] + v[1]) & mask; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & mask; v[3] = rotl(v[3], 16); v[3] ^= v[2]
        v[0] = (v[0] + v[3]) & mask; v[3] = rotl(v[3], 21); v[3] ^= v[0]
        v[2] = (v[2] + v[1]) & mask; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32)

    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = struct.unpack("<Q", data[i:i + 8])[0]
        v[3] ^= m; rnd(); rnd(); v[0] ^= m
    b = (n << 56) & mask
    for i, c in enumerate(data[end:]):
        b |= c << (8 * i)
    v[3] ^= b; rnd(); rnd(); v[0] ^= b
    v[2] ^= 0xFF
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def lines(*msgs):
    return "".join(json.dumps(m) + "\n" for m in msgs).encode()


NODE = b"6f1c8a52-3b7e-4d2a-9c1f-0123456789ab"
NET = b"0b8e2c4d-1a2b-4c3d-8e9f-fedcba987654"
TOKEN = b"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def heartbeat(version, seq=1, run=7):
    p = bytearray(b"LMHB" + bytes([version, 0, 0, 0]) + struct.pack(">I", seq) + NODE + NET)
    if version == 2:
        p += struct.pack(">I", run)
        p += struct.pack("<Q", siphash24(b"lmnet-fuzz-key!\0", bytes(p)))
    return bytes(p)


def of_msg(type_, xid, body=b"", version=5):
    return struct.pack(">BBHI", version, type_, 8 + len(body), xid) + body


def of_port(number, name):
    # ofp_port (1.4) without properties: port_no, length, pad, hw_addr, pad,
    # name[16], config, state, then the 1.4 tail is properties.
    body = struct.pack(">IH2x6s2x16sII", number, 40, b"\x02\x00\x00\x00\x00\x01",
                       name.ljust(16, b"\0"), 0, 4)
    return body


def nlattr(type_, payload):
    a = struct.pack("=HH", 4 + len(payload), type_) + payload
    return a + b"\0" * ((4 - len(a) % 4) % 4)


def nlmsg(type_, payload, flags=2):
    return struct.pack("=IHHII", 16 + len(payload), type_, flags, 0, 0) + payload


def seeds():
    s = {}
    s["fuzz_mac"] = [b"aa:bb:cc:dd:ee:ff", b"AA-BB-CC-DD-EE-FF", b"02aabbccddee",
                     b"02:00:00:00:00:00-02:00:00:00:ff:ff",
                     b"02-00-00-00-00-00-02-00-00-00-ff-ff", b"020000000000-02000000ffff"]
    greeting = {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7},
                                    "package": ""}, "capabilities": ["oob"]}}
    s["fuzz_qmp"] = [
        lines(greeting, {"return": {}, "id": 1},
              {"return": {"status": "running", "singlestep": False, "running": True}, "id": 2},
              {"return": {"enabled": True, "present": True}, "id": 3},
              {"return": {"status": "active", "total-time": 12, "setup-time": 1,
                          "expected-downtime": 300,
                          "ram": {"transferred": 1024, "remaining": 4096, "total": 8192,
                                  "duplicate": 1, "normal": 2, "normal-bytes": 8192,
                                  "dirty-pages-rate": 0, "mbps": 943.5, "dirty-sync-count": 1,
                                  "page-size": 4096, "multifd-bytes": 0,
                                  "pages-per-second": 10, "precopy-bytes": 1024,
                                  "downtime-bytes": 0}}, "id": 4},
              {"event": "MIGRATION", "data": {"status": "completed"},
               "timestamp": {"seconds": 1700000000, "microseconds": 5}},
              {"event": "MIGRATION_PASS", "data": {"pass": 2},
               "timestamp": {"seconds": 1700000000, "microseconds": 6}},
              {"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}},
              {"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 3}}),
        lines(greeting, {"return": {}, "id": 1},
              {"error": {"class": "CommandNotFound", "desc": "no"}, "id": 2},
              {"error": {"class": "GenericError", "desc": "nope"}, "id": 3},
              {"return": {"status": "failed", "error-desc": "broken pipe"}, "id": 4}),
    ]
    s["fuzz_ovsdb"] = [
        (json.dumps({"id": "e1", "method": "echo", "params": []}) +
         json.dumps({"id": 1, "error": None, "result": [{"rows": [
             {"name": "br0", "ports": ["set", [["uuid", "2a0b5c1e-0000-4000-8000-000000000001"]]],
              "external_ids": ["map", [["lmnet-switch", "br0"]]]}]}]}) +
         json.dumps({"id": 2, "error": None, "result": {"Port": {
             "2a0b5c1e-0000-4000-8000-000000000001": {"new": {"name": "p1", "tag": 100,
                                                              "trunks": ["set", [1, 2]]}}}}}) +
         json.dumps({"id": None, "method": "update", "params": ["lmnet", {"Port": {
             "2a0b5c1e-0000-4000-8000-000000000001": {"old": {"tag": 100},
                                                      "new": {"tag": ["set", []]}}}}]})).encode(),
        json.dumps({"id": 1, "error": None, "result": [
            {"error": "constraint violation", "details": "duplicate"}]}).encode(),
    ]
    ports = of_port(1, b"p0") + of_port(2, b"p1")
    s["fuzz_openflow"] = [
        of_msg(0, 1) + of_msg(21, 2) +
        of_msg(19, 3, struct.pack(">HH4x", 13, 0) + ports) +
        of_msg(12, 9, struct.pack(">B7x", 0) + of_port(3, b"p2")) +
        of_msg(2, 10, b"ping") + of_msg(1, 11, struct.pack(">HH", 1, 2)) +
        of_msg(33, 12, struct.pack(">IHH", 1, 5, 0)),
        of_msg(0, 1, version=4),
    ]
    s["fuzz_heartbeat"] = [heartbeat(1), heartbeat(2), heartbeat(2, seq=2, run=8)]
    hello = b"LMNETMIG2 " + TOKEN + b" 000 \n"
    s["fuzz_channel_hello"] = [hello, hello + b"QEVM", hello[:40], hello.replace(b"0", b"1", 1),
                               hello.replace(b" 000 ", b" 001 ")]
    IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_OPERSTATE = 1, 3, 4, 16
    link = struct.pack("=BxHiII", 0, 1, 2, 0x1043, 0) + nlattr(IFLA_IFNAME, b"eth0\0") + \
        nlattr(IFLA_MTU, struct.pack("=I", 1500)) + nlattr(IFLA_OPERSTATE, b"\x06") + \
        nlattr(IFLA_ADDRESS, b"\x02\x00\x00\x00\x00\x01")
    IFA_ADDRESS, IFA_LOCAL = 1, 2
    addr = struct.pack("=BBBBI", 2, 24, 0, 0, 2) + nlattr(IFA_LOCAL, bytes([10, 0, 0, 5])) + \
        nlattr(IFA_ADDRESS, bytes([10, 0, 0, 5]))
    addr6 = struct.pack("=BBBBI", 10, 64, 0, 0, 2) + nlattr(IFA_ADDRESS, bytes(range(16)))
    RTA_OIF = 4
    route = struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 254, 3, 0, 1, 0) + \
        nlattr(RTA_OIF, struct.pack("=I", 2))
    s["fuzz_rtnetlink"] = [nlmsg(16, link) + nlmsg(20, addr) + nlmsg(20, addr6) +
                           nlmsg(24, route) + nlmsg(3, struct.pack("=i", 0))]
    def sel(n, obj):
        return bytes([n]) + json.dumps(obj).encode()
    s["fuzz_body"] = [
        sel(0, {"name": "fleet", "ranges": [{"start": "02:00:00:00:00:00",
                                              "end": "02:00:00:00:ff:ff"}],
                "block_size": 64, "description": "test"}),
        sel(1, {"name": "vm1-eth0", "switch": "sw0", "vm": "vm1", "mac_source": "dynamic",
                "mac_pool": "fleet", "vlan": {"mode": "access", "id": 100},
                "spoofing_allowed": False, "dhcp_guard": True, "router_guard": True,
                "max_bandwidth_kbps": 1000, "active": True}),
        sel(2, {"name": "p", "switch": "sw0", "mac": "02:00:00:00:00:01",
                "mac_source": "static", "adapter_type": "synthetic"}),
        sel(3, {"mode": "trunk", "allowed": [100, 200], "native": 100}),
        sel(3, {"mode": "access", "id": 7}),
    ]
    s["fuzz_peer_reply"] = [
        sel(0, {"items": [{"id": NET.decode(), "number": 1, "name": "Cluster Network 1",
                           "address": "10.0.0.0", "prefix": 24, "role": "cluster_and_client",
                           "metric": 1000, "auto_metric": True, "state": "up",
                           "has_default_gateway": False,
                           "interfaces": [{"node": NODE.decode(), "node_name": "h1",
                                           "nic": "eth0", "address": "10.0.0.5",
                                           "switch": "", "speed_mbps": 10000,
                                           "default_gateway": False, "offloads": {},
                                           "state": "up", "reaches": [NODE.decode()]}]}]}),
        sel(0, {"items": [{"id": NET.decode(), "number": 1, "name": "Cluster Network 1",
                           "address": "10.0.0.0", "prefix": 24, "role": "none",
                           "metric": 1000, "auto_metric": True, "state": "partitioned",
                           "interfaces": [
                               {"node": NODE.decode(), "node_name": "h1", "nic": "eth0",
                                "address": "10.0.0.5", "prefix": 24, "state": "up",
                                "reachability": [{"node": NET.decode(), "reaches": False}]},
                               {"node": NET.decode(), "node_name": "h2", "nic": "eth0",
                                "address": "10.0.0.6", "prefix": 24, "state": "partial",
                                "reachability": [{"node": NODE.decode(), "reaches": True}]}]}]}),
        sel(1, {"id": NODE.decode(), "name": "h1", "url": "http://10.0.0.5:8470",
                "registry": True, "joined": "2026-01-01T00:00:00Z", "last_seen": None}),
        sel(2, {"id": NODE.decode(), "name": "vm1", "memory_mib": 512, "vcpus": 1,
                "state": "running", "host": "h1", "kernel": "/boot/vmlinuz",
                "adapters": [{"port": "vm1-eth0", "model": "virtio-net-pci"}]}),
        sel(3, {"switch": "sw0", "speed_mbps": 1000, "default_gateway": True,
                "offloads": {"tso": True, "gro": False}}),
        sel(4, {"type": "https://lmnet.example/problems/mac-pool-exhausted", "title": "Conflict",
                "status": 409, "detail": "pool 'a' is exhausted"}),
    ]
    def reply(op, status, obj):
        return bytes([op, status]) + json.dumps(obj).encode()
    problem = {"type": "https://lmnet.example/problems/mac-pool-exhausted", "title": "Conflict",
               "status": 409, "detail": "pool 'fleet' is exhausted"}
    s["fuzz_registry_reply"] = [
        reply(0, 0, {"name": "fleet", "ranges": [{"start": "02:00:00:00:00:00",
                                                   "end": "02:00:00:00:ff:ff"}],
                     "block_size": 64, "description": "", "kind": "static"}),
        reply(1, 1, {"start": "02:00:00:00:00:00", "end": "02:00:00:00:00:3f", "single": False,
                     "reserved": ["02:00:00:00:00:05"]}),
        reply(1, 5, problem),
        reply(2, 1, {"start": "02:00:00:00:00:01", "end": "02:00:00:00:00:01", "single": True}),
        reply(3, 2, {}),
        reply(4, 1, {"id": NODE.decode(), "name": "h1", "url": "http://10.0.0.5:8470"}),
        reply(5, 0, {"items": [{"id": NODE.decode(), "name": "h1", "url": "http://10.0.0.5:8470",
                                "registry": True, "joined": "2026-01-01T00:00:00Z",
                                "last_seen": None}]}),
        reply(6, 0, {"items": []}),
        reply(9, 0, {"key": "00112233445566778899aabbccddeeff"}),
    ]
    # What each handler's own parsing reads (tests/fuzz/fuzz_request.c).
    s["fuzz_request"] = [
        sel(0, {"name": "sw0", "type": "external", "uplink": "eth0", "vlans": [100, 200]}),
        sel(0, {"name": "mgmt", "type": "internal", "management_vlan": 10}),
        sel(1, {"vlan": {"mode": "trunk", "allowed": [100, 200], "native": 100},
                "spoofing_allowed": True, "max_bandwidth_kbps": 5000}),
        sel(1, {"mac": "02:00:00:00:00:02"}),
        sel(2, {"name": "vm1", "memory_mib": 512, "vcpus": 2, "kernel": "/tmp/lmnet-fuzz-images/vmlinuz",
                "initrd": "/tmp/lmnet-fuzz-images/vmlinuz", "append": "console=ttyS0",
                "adapters": [{"port": "vm1-eth0"}]}),
        sel(2, {"name": "vm2", "disk": "/tmp/lmnet-fuzz-images/vmlinuz"}),
        sel(2, {"name": "vm3", "disk": "/tmp/lmnet-fuzz-images/../lmnet-fuzz-images/vmlinuz"}),
        sel(3, {"vm": "vm1", "destination": "h2", "mode": "live",
                "options": {"downtime_limit_ms": 300, "max_bandwidth": 0, "channels": 4,
                            "allow_management_network": False, "convert_dynamic_macs": True,
                            "convergence": {"downtime_schedule_ms": [300, 1000, 2000],
                                            "auto_converge": True, "allow_postcopy": True,
                                            "completion_timeout_per_gib_s": 30,
                                            "timeout_action": "postcopy"}}}),
        sel(3, {"vm": "vm1", "destination": "h2", "mode": "quick"}),
        sel(4, {"name": "storage net", "role": "storage", "metric": 500}),
        sel(4, {"auto_metric": True}),
        sel(5, {"join_token": "lmj_" + "a" * 40, "id": NODE.decode(), "name": "h2",
                "url": "http://10.0.0.6:8470"}),
        sel(6, {"id": 100, "name": "storage", "description": "the storage VLAN"}),
        sel(7, {"name": "storage2", "description": ""}),
        sel(8, {"ranges": [{"start": "02:00:00:00:00:00", "end": "02:00:00:01:ff:ff"}],
                "description": "grown"}),
        sel(9, {"mac": "02:00:00:00:00:05", "vm": "vm1", "adapter": "eth0"}),
        sel(9, {}),
        sel(10, {"offloads": {"tso": False, "gro": True, "rx_checksum": True}}),
        sel(11, {"node": NODE.decode(), "mac": "02:00:00:00:01:00"}),
        sel(11, {"node": NODE.decode()}),
    ]
    # ethtool answers: flags (drvinfo, settings, 5 offloads), then the
    # structs' bytes (linux/ethtool.h layouts).
    drvinfo = struct.pack("=I32s32s32s32s32s12sIIIII", 3, b"virtio_net", b"1.0.0", b"",
                          b"0000:00:03.0", b"", b"", 0, 0, 0, 0, 0)
    def ethtool_cmd(mbps, duplex):
        # cmd supported advertising speed duplex port phy_address transceiver
        # autoneg mdio_support maxtxpkt maxrxpkt speed_hi eth_tp_mdix
        # eth_tp_mdix_ctrl lp_advertising reserved[2]
        return struct.pack("=IIIHBBBBBBIIHBBIII", 1, 0, 0, mbps & 0xffff, duplex, 0, 0, 0, 0, 0,
                           0, 0, mbps >> 16, 0, 0, 0, 0, 0)
    settings = ethtool_cmd(10000, 1)
    settings_40g = ethtool_cmd(100000, 0)
    offload = b"".join(struct.pack("=II", 0, on) for on in (1, 1, 0, 1, 1))
    s["fuzz_ethtool"] = [bytes([0x7f]) + drvinfo + settings + offload,
                         bytes([0x03]) + drvinfo + settings_40g,
                         bytes([0x01]) + b"\x03\0\0\0" + b"x" * 64,
                         bytes([0x00])]
    inventory = {"node": NODE.decode(), "name": "h1", "nics": [
        {"name": "eth0", "mac": "02:00:00:00:00:01", "mtu": 1500, "state": "up",
         "driver": "virtio_net", "speed_mbps": 10000, "duplex": "full", "default_gateway": True,
         "offloads": {"tso": True, "gro": False}, "switch": "sw0",
         "addresses": [{"family": "inet", "address": "10.0.0.5", "prefix": 24},
                       {"family": "inet6", "address": "fd00::5", "prefix": 64}]},
        {"name": "eth1", "switch": None,
         "addresses": [{"family": "inet", "address": "192.168.7.5", "prefix": 24}]}]}
    s["fuzz_inventory"] = [
        sel(0, inventory),
        sel(1, {NODE.decode(): {"reported": 1, "inventory": inventory}}),
        sel(2, {NET.decode(): [NODE.decode(), "0b8e2c4d-1a2b-4c3d-8e9f-fedcba987654"]}),
    ]
    # etcd's watch stream: a created response, a put and a delete, a
    # progress notification; then a compaction and a cancel.
    import base64
    def b64(t):
        return base64.b64encode(t.encode()).decode()
    kv = {"key": b64("/lmnet/members/" + NODE.decode()), "create_revision": "5",
          "mod_revision": "7", "version": "2", "value": b64('{"name": "h1"}'), "lease": "694d"}
    watch = [{"result": {"header": {"revision": "6"}, "created": True}},
             {"result": {"header": {"revision": "7"}, "events": [{"kv": kv}]}},
             {"result": {"header": {"revision": "8"},
                         "events": [{"type": "DELETE", "kv": {"key": kv["key"],
                                                              "mod_revision": "8"}}]}},
             {"result": {"header": {"revision": "9"}}}]
    s["fuzz_etcd"] = [
        bytes([7]) + "".join(json.dumps(m) for m in watch).encode(),
        bytes([0]) + "\n".join(json.dumps(m) for m in watch).encode(),
        bytes([3]) + json.dumps({"result": {"header": {"revision": "9"}, "compact_revision": "5",
                                            "canceled": True}}).encode(),
        bytes([9]) + json.dumps({"result": {"canceled": True,
                                            "cancel_reason": "permission denied"}}).encode(),
        bytes([5]) + json.dumps({"error": {"grpc_code": 14, "message": "unavailable"}}).encode(),
        bytes([255]) + b64("/lmnet/networks/x").encode(),
        bytes([255]) + b"YQ==",
    ]
    # The agent-to-agent migration messages (migrate/peer_protocol.h); the
    # first byte is message + 6 * (channels asked - 1).
    mig_id = "3d1f7a2e-5b6c-4d8e-9f01-23456789abcd"
    options = {"downtime_limit_ms": 250, "max_bandwidth": 1073741824, "channels": 4,
               "allow_management_network": False, "convert_dynamic_macs": True,
               "convergence": {"downtime_schedule_ms": [300, 1000], "auto_converge": True,
                               "allow_postcopy": False, "completion_timeout_per_gib_s": 30,
                               "timeout_action": "abort"},
               "channels_requested": 8, "channels_note": "reduced: a note"}
    s["fuzz_migration_peer"] = [
        bytes([0]) + json.dumps({
            "id": mig_id, "source": NODE.decode(), "destination": NET.decode(),
            "network": "net-1", "source_address": "10.0.5.1", "destination_address": "10.0.5.2",
            "quick": False, "multifd": "direct", "options": options,
            "vm": {"id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "name": "web1",
                   "memory_mib": 512, "vcpus": 2, "kernel": "/boot/k", "host": NODE.decode(),
                   "state": "running",
                   "adapters": [{"port": "p1", "model": "virtio-net-pci"},
                                {"port": "p2", "model": "e1000"}]},
            "ports": [{"name": "p1", "switch": "sw0", "mac": "00:1d:d8:b7:1c:01",
                       "mac_source": "static",
                       "vlan": {"mode": "trunk", "native": 10, "allowed": [10, 20, 30]},
                       "active": True},
                      {"name": "p2", "switch": "sw0", "mac": "00:1d:d8:b7:1c:02",
                       "mac_source": "given", "vlan": {"mode": "access", "id": 42},
                       "dhcp_guard": True, "router_guard": True,
                       "max_bandwidth_kbps": 100000}]}).encode(),
        bytes([1]) + json.dumps({"port": 40001, "token": TOKEN.decode()}).encode(),
        bytes([1 + 6 * 3]) + json.dumps({"port": 40001, "direct": True}).encode(),
        bytes([2]) + json.dumps({"downtime_ms": 42, "switchover_gap_ms": 7}).encode(),
        bytes([3]) + json.dumps({"reason": "cancelled by admin"}).encode(),
        bytes([4]) + json.dumps({"id": mig_id, "phase": "transferring", "error": None,
                                 "progress": {}}).encode(),
        bytes([4]) + json.dumps({"phase": "failed", "error": "QEMU exited"}).encode(),
        bytes([5]) + json.dumps(options).encode(),
        bytes([5]) + b"{}",
    ]
    s["fuzz_config"] = [b"listen = 127.0.0.1:8470\ndatabase = /var/lib/lmnet/lmnet.db\n"
                        b"log_level = info\n"]
    s["fuzz_router"] = [b"\x00/v1/mac-pools/fleet/allocations/02:00:00:00:00:01",
                        b"\x02/v1/ports", b"\x04/v1/cluster/networks/x", b"\x00/v1/health"]
    s["fuzz_token"] = [b"admin admin " + TOKEN + b"\nreader read " + TOKEN[::-1] + b"\n"]
    return s


def main():
    out = sys.argv[1]
    for target, inputs in seeds().items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for i, data in enumerate(inputs):
            with open(os.path.join(d, f"seed{i}"), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
