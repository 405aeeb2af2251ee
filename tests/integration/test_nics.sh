#!/usr/bin/env bash
# The host inventory over rtnetlink and ethtool, in a namespace with a veth
# pair: names, MACs, MTU, state, driver, speed and duplex, IPv4 and IPv6
# addresses with prefixes, offloads; PATCH turns offloads off and on and
# answers with what the kernel kept.  Removes exactly what it made.
set -u
source "$(dirname "$0")/lib.sh"
((EUID == 0)) || { echo "skip: needs root (namespaces)"; exit 77; }
ns=lmt4-nic
cleanup() { [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null; ip netns del $ns 2>/dev/null; cleanup_test_dir; }
trap cleanup EXIT
ip netns add $ns
ip -n $ns link set lo up
ip -n $ns link add lmt4-a type veth peer name lmt4-b
ip -n $ns link set lmt4-a address 02:00:00:00:04:0a mtu 9000 up
ip -n $ns link set lmt4-b mtu 9000 up
ip -n $ns addr add 10.44.0.1/24 dev lmt4-a
ip -n $ns addr add fd00:44::1/64 dev lmt4-a nodad
cd "$LMNET_TEST_DIR"
ip netns exec $ns "$LMNETD" -c /dev/null -l 127.0.0.1:18481 -d lmnet.db 2>agent.log &
pid=$!
api() { ip netns exec $ns curl -s -H 'Content-Type: application/json' "$@"; }
for _ in $(seq 100); do api http://127.0.0.1:18481/v1/health >/dev/null 2>&1 && break; sleep 0.05; done
U=http://127.0.0.1:18481
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

list=$(api $U/v1/host/nics)
expect_eq "three NICs (lo and the veth pair)" "lmt4-a lmt4-b lo" "$(field '["items"]' <<<"$list" | python3 -c 'import ast,sys; print(" ".join(sorted(n["name"] for n in ast.literal_eval(sys.stdin.read()))))')"
a=$(api $U/v1/host/nics/lmt4-a)
expect_eq "MAC" 02:00:00:00:04:0a "$(field '["mac"]' <<<"$a")"
expect_eq "MTU" 9000 "$(field '["mtu"]' <<<"$a")"
expect_eq "state" up "$(field '["state"]' <<<"$a")"
expect_eq "driver" veth "$(field '["driver"]' <<<"$a")"
expect_eq "speed" 10000 "$(field '["speed_mbps"]' <<<"$a")"
expect_eq "duplex" full "$(field '["duplex"]' <<<"$a")"
expect_match "IPv4 address with prefix" "'address': '10.44.0.1', 'prefix': 24" "$(field '["addresses"]' <<<"$a")"
expect_match "IPv6 address with prefix" "'address': 'fd00:44::1', 'prefix': 64" "$(field '["addresses"]' <<<"$a")"
expect_eq "tx checksum on by default" True "$(field '["offloads"]["tx_checksum"]' <<<"$a")"

r=$(api -X PATCH -d '{"offloads":{"tx_checksum":false,"gro":false}}' $U/v1/host/nics/lmt4-a)
expect_eq "tx checksum turned off" False "$(field '["offloads"]["tx_checksum"]' <<<"$r")"
expect_eq "gro turned off" False "$(field '["offloads"]["gro"]' <<<"$r")"
expect_eq "nothing refused" "[]" "$(field '["not_applied"]' <<<"$r")"
if command -v ethtool >/dev/null; then
    expect_match "the kernel agrees (ethtool)" 'tx-checksumming: off' "$(ip netns exec $ns ethtool -k lmt4-a)"
fi
r=$(api -X PATCH -d '{"offloads":{"tx_checksum":true}}' $U/v1/host/nics/lmt4-a)
expect_eq "and back on" True "$(field '["offloads"]["tx_checksum"]' <<<"$r")"
r=$(api -X PATCH -d '{"offloads":{"turbo":true}}' $U/v1/host/nics/lmt4-a)
expect_match "an unknown offload names the field" '"pointer":"/offloads/turbo"' "$r"
expect_eq "a missing NIC is 404" 404 "$(api -o /dev/null -w '%{http_code}' -X PATCH -d '{"offloads":{"gro":true}}' $U/v1/host/nics/nope)"
ctl() { ip netns exec $ns "$LMNETCTL" --server $U "$@"; }
expect_match "lmnetctl nic list" 'lmt4-a +up +02:00:00:00:04:0a +9000 +10000 +10.44.0.1/24,fd00:44::1/64' "$(ctl nic list)"
expect_match "lmnetctl nic set prints what the kernel kept" 'lmt4-a offloads on: .*tx_checksum' "$(ctl nic set lmt4-a tso=off tx_checksum=on)"
expect_match "the change is an event" '"kind":"nic.offload"' "$(api "$U/v1/events?kind=nic.offload")"
finish
