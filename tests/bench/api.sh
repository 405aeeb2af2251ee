#!/usr/bin/env bash
# Throughput and tail latency of GET /v1/host with a bearer token:
# wrk, keep-alive, 2 threads, 64 connections, 10 s (override with
# DURATION=30s).  The agent runs as it would in production: info-level
# request log (to a file), one SQLite database, authentication on.
# Usage: tests/bench/api.sh [BUILD_DIR]        Target: >= 20,000 req/s, p99 < 10 ms.
set -euo pipefail
build=$(realpath "${1:-build}")
duration=${DURATION:-10s}
command -v wrk >/dev/null || { echo "api.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
dir=$(mktemp -d /tmp/lmnet-bench.XXXXXX)
pid=
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

token=$(openssl rand -hex 24)
printf 'bench read %s\n' "$token" > "$dir/tokens"; chmod 600 "$dir/tokens"
"$build/lmnetd" -l 127.0.0.1:0 -d "$dir/lmnet.db" -t "$dir/tokens" --log-file "$dir/agent.log" &
pid=$!
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening address=[^ ]* port=\([0-9]*\).*/\1/p' "$dir/agent.log" 2>/dev/null || true)
    [[ -n "$port" ]] && break; sleep 0.05
done
[[ -n "$port" ]] || { echo "api.sh: lmnetd did not start" >&2; cat "$dir/agent.log" >&2; exit 1; }

echo "command: wrk -t2 -c64 -d$duration --latency -H 'Authorization: Bearer ***' http://127.0.0.1:$port/v1/host"
echo "machine: $(nproc) cores, $(uname -r), lmnetd $("$build/lmnetd" --version | cut -d' ' -f2)"
out=$(wrk -t2 -c64 -d"$duration" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/host")
echo "$out" | sed -n '/Latency Distribution/,/99%/p;/Requests\/sec/p;/requests in/p;/Non-2xx/p'
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
p99=$(echo "$out" | awk '$1=="99%" {print $2}')
rss=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status")
echo "result: requests_per_second=$rps p99=$p99 agent_peak_rss=\"$rss\" (target: >= 20000 req/s, p99 < 10ms)"
