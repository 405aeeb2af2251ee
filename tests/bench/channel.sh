#!/usr/bin/env bash
# What the lmnet migration channel costs: a paused QEMU guest whose RAM
# (MEM_MIB, default 1024) is random data, as in the issue's measurement,
# migrates between two
# network namespaces joined by a veth, (a) QEMU to QEMU over TCP directly and
# (b) through the channel (source QEMU -unix-> relay =TCP+token=> relay -unix->
# destination QEMU), each with QEMU's default single channel and multifd x4,
# bandwidth cap lifted.  Also the veth's own limit with iperf3.  Root only.
# Each run is timed from 'migrate' to the destination's own "completed"
# event.  Usage: [MEM_MIB=N] tests/bench/channel.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
build=$(realpath "${1:-build}")
rounds=${2:-2}
relay=$build/tests/channel_relay
[[ -x "$relay" ]] || { echo "channel.sh: build $relay first" >&2; exit 1; }
((EUID == 0)) || { echo "channel.sh: needs root (namespaces)" >&2; exit 1; }
mem=${MEM_MIB:-1024}
dir=$(mktemp -d /tmp/lmnet-chbench.XXXXXX)
src=lmb-src-$$ dst=lmb-dst-$$
cleanup() {
    pkill -f "$dir/" 2>/dev/null || true
    ip netns del "$src" 2>/dev/null || true
    ip netns del "$dst" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$src"; ip netns add "$dst"
ip link add lmb-a-$$ netns "$src" type veth peer name lmb-b-$$ netns "$dst"
ip -n "$src" addr add 10.254.0.1/30 dev lmb-a-$$; ip -n "$src" link set lmb-a-$$ up; ip -n "$src" link set lo up
ip -n "$dst" addr add 10.254.0.2/30 dev lmb-b-$$; ip -n "$dst" link set lmb-b-$$ up; ip -n "$dst" link set lo up
head -c "${mem}M" /dev/urandom > "$dir/ram.bin"

qmp() { python3 "$(dirname "$0")/qmp.py" "$@"; } # SOCKET COMMAND-JSON...

# run_one LABEL CHANNELS DEST_URI SOURCE_URI [relay]
run_one() {
    local label=$1 ch=$2 duri=$3 suri=$4 via=${5:-}
    rm -f "$dir"/*.qmp "$dir"/*.sock
    ip netns exec "$src" qemu-system-x86_64 -accel tcg -machine q35 -nodefaults -display none -S -m "$mem" \
        -object memory-backend-file,id=ram0,size="${mem}M",mem-path="$dir/ram.bin",share=off \
        -machine memory-backend=ram0 -qmp "unix:$dir/src.qmp,server=on,wait=off" 2>>"$dir/qemu.err" &
    local spid=$!
    ip netns exec "$dst" qemu-system-x86_64 -accel tcg -machine q35 -nodefaults -display none -m "$mem" \
        -object memory-backend-ram,id=ram0,size="${mem}M" -machine memory-backend=ram0 \
        -incoming defer -qmp "unix:$dir/dst.qmp,server=on,wait=off" 2>>"$dir/qemu.err" &
    local dpid=$!
    for _ in $(seq 50); do [[ -S "$dir/src.qmp" && -S "$dir/dst.qmp" ]] && break; sleep 0.1; done
    local caps='{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"multifd","state":true}]}}'
    local params="{\"execute\":\"migrate-set-parameters\",\"arguments\":{\"multifd-channels\":$ch}}"
    if ((ch > 0)); then qmp "$dir/src.qmp" "$caps" "$params" >/dev/null; qmp "$dir/dst.qmp" "$caps" "$params" >/dev/null; fi
    qmp "$dir/src.qmp" '{"execute":"migrate-set-parameters","arguments":{"max-bandwidth":107374182400}}' >/dev/null
    qmp "$dir/dst.qmp" "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"$duri\"}}" >/dev/null
    local lpid="" fpid=""
    if [[ -n "$via" ]]; then
        local token; token=$(openssl rand -hex 32)
        local conns=$((ch > 0 ? ch + 1 : 1))
        ip netns exec "$dst" "$relay" listen 10.254.0.2 47000 "$token" "$dir/dst.sock" "$conns" >"$dir/listen.out" &
        lpid=$!
        ip netns exec "$src" "$relay" forward "$dir/src.sock" 10.254.0.1 10.254.0.2 47000 "$token" >"$dir/fwd.out" &
        fpid=$!
        for _ in $(seq 50); do grep -q ready "$dir/listen.out" 2>/dev/null && grep -q ready "$dir/fwd.out" 2>/dev/null && break; sleep 0.05; done
    fi
    # One process drives the migration and waits for the destination's own
    # MIGRATION event: polling from the shell cost more than the migration.
    local result
    result=$(python3 - "$dir/src.qmp" "$dir/dst.qmp" "$suri" <<'PY'
import json, socket, sys, time
def connect(path):
    s = socket.socket(socket.AF_UNIX); s.connect(path); f = s.makefile('rw'); f.readline()
    return f
def cmd(f, m):
    f.write(json.dumps(m) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: return r
src, dst = connect(sys.argv[1]), connect(sys.argv[2])
cmd(src, {"execute": "qmp_capabilities"}); cmd(dst, {"execute": "qmp_capabilities"})
cmd(dst, {"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "events", "state": True}]}})
t0 = time.monotonic()
r = cmd(src, {"execute": "migrate", "arguments": {"uri": sys.argv[3]}})
if "error" in r: print(json.dumps({"status": "failed", "why": r["error"]})); sys.exit(0)
status = None
while status not in ("completed", "failed"):
    line = dst.readline()
    if not line: break
    m = json.loads(line)
    if m.get("event") == "MIGRATION": status = m["data"]["status"]
wall = (time.monotonic() - t0) * 1000
st = cmd(src, {"execute": "query-migrate"})["return"]
st["status"] = status if status == "completed" else "failed at the destination"
st["wall_ms"] = int(wall)
print(json.dumps(st))
PY
)
    local st=$result wall_ms
    wall_ms=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("wall_ms", 1))' "$st")
    local bytes_on_relay=""
    if [[ -n "$via" ]]; then
        kill "$lpid" "$fpid"; wait "$lpid" "$fpid" 2>/dev/null || true
        bytes_on_relay=$(sed -n 's/.*bytes_forward=\([0-9]*\).*/\1/p' "$dir/listen.out")
    fi
    kill -9 "$spid" "$dpid" 2>/dev/null; wait "$spid" "$dpid" 2>/dev/null || true
    python3 - "$label" "$st" "$bytes_on_relay" "$wall_ms" <<'PY'
import json, sys
label, st, relay, wall = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
if st.get("status") != "completed":
    print(f"{label:32s} FAILED {st}"); sys.exit(0)
t, b = st["total-time"], st["ram"]["transferred"]
extra = f"  relay carried {int(relay)/1e6:.0f} MB" if relay else ""
print(f"{label:32s} {b*8/wall/1e6:6.2f} Gbit/s end to end ({b/1e6:.0f} MB, {wall} ms until the "
      f"destination loaded it; source total-time {t} ms){extra}")
PY
}

echo "command: tests/bench/channel.sh $build $rounds   ($(nproc) cores, $(uname -r), QEMU $(qemu-system-x86_64 --version | head -1 | awk '{print $4}'), guest ${mem} MiB random, paused, TCG, bandwidth cap lifted)"
ip netns exec "$dst" iperf3 -s -1 -B 10.254.0.2 >/dev/null 2>&1 &
sleep 0.3
echo "veth limit (iperf3, 5 s):          $(ip netns exec "$src" iperf3 -c 10.254.0.2 -t 5 -J | python3 -c 'import json,sys; print("%.2f Gbit/s" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))')"
for round in $(seq "$rounds"); do
    echo "-- round $round"
    run_one "plain QEMU, default channel" 0 tcp:10.254.0.2:46000 tcp:10.254.0.2:46000
    run_one "plain QEMU, multifd x4" 4 tcp:10.254.0.2:46000 tcp:10.254.0.2:46000
    run_one "lmnet channel, default channel" 0 "unix:$dir/dst.sock" "unix:$dir/src.sock" relay
    run_one "lmnet channel, multifd x4" 4 "unix:$dir/dst.sock" "unix:$dir/src.sock" relay
done
