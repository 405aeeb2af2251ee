#!/usr/bin/env bash
# 500 slow clients (slowloris: headers one byte a second, never finished)
# against lmnetd on loopback, and the latency an authenticated client sees
# meanwhile (GET /v1/host, one request after another, keep-alive).  Two
# rounds: the slow clients spread over 50 addresses (10 each: under the
# per-address limit, so only the request deadline frees their
# connections), then all from one address (the per-address limit refuses
# all but 64).  Prints one line of figures per round, and whether the agent
# survived.  Run it under the integration lock (it loads the machine).
# Usage: tests/bench/slowloris.sh [BUILD_DIR]   Target: p99 < 50 ms, agent alive.
# SLOW=N (500), SECONDS_PER_ROUND=S (25) override the sizes.
set -euo pipefail
build=$(realpath "${1:-build}")
here=$(dirname "$(realpath "$0")")
slow=${SLOW:-500}
secs=${SECONDS_PER_ROUND:-25}
dir=$(mktemp -d /tmp/lmnet-bench-slowloris.XXXXXX)
pid=
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

token=$(openssl rand -hex 24)
printf 'bench read %s\n' "$token" > "$dir/tokens"; chmod 600 "$dir/tokens"
# Each slow connection is a thread and a descriptor: make room for them.
ulimit -n 4096
"$build/lmnetd" -l 127.0.0.1:0 -d "$dir/lmnet.db" -t "$dir/tokens" --log-file "$dir/agent.log" \
    --log-level warning &
pid=$!
port=
for _ in $(seq 200); do
    port=$(sed -n 's/.*listening address=[^ ]* port=\([0-9]*\).*/\1/p' "$dir/agent.log" 2>/dev/null || true)
    [[ -n "$port" ]] && break; sleep 0.05
done
if [[ -z "$port" ]]; then
    # warning level hides the "listening" line: ask the kernel instead.
    port=$(ss -ltnpH "( sport > :0 )" 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {sub(/.*:/, "", $4); print $4; exit}')
fi
[[ -n "$port" ]] || { echo "slowloris.sh: lmnetd did not start" >&2; cat "$dir/agent.log" >&2; exit 1; }

echo "command: tests/bench/slowloris.sh (SLOW=$slow SECONDS_PER_ROUND=$secs)"
echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), lmnetd $("$build/lmnetd" --version | cut -d' ' -f2)"
# round ADDRESSES: one round; also prints the most connections the agent held
# at once (established on its port, sampled twice a second).
round() {
    local max=0 n sampler
    ( while :; do ss -tnH state established "( sport = :$port )" | wc -l; sleep 0.5; done ) \
        > "$dir/held.$1" 2>/dev/null &
    sampler=$!
    python3 "$here/slowloris.py" "$port" "$token" "$slow" "$1" "$secs"
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    while read -r n; do ((n > max)) && max=$n; done < "$dir/held.$1"
    echo "agent_held_connections_max=$max"
}
echo "round 1: $slow slow clients over 50 addresses"
round 50
echo "round 2: $slow slow clients from one address"
round 1
if kill -0 "$pid" 2>/dev/null; then alive=yes; else alive=no; fi
threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "?")
echo "result: agent_alive=$alive agent_threads_after=$threads crashes=$([[ $alive == yes ]] && echo 0 || echo 1) \
deadline_closes_logged=$(grep -c 'over the request deadline' "$dir/agent.log" || true) (target: p99 < 50 ms)"
