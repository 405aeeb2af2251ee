#!/usr/bin/env bash
# MAC allocation speed and footprint on one agent, every allocation durably
# committed (SQLite WAL, synchronous=FULL: the agent's own settings).
#   1. allocations per second: wrk, 2 threads, 16 connections, POST
#      /v1/mac-pools/oui/allocations for DURATION (default 10s);
#   2. then allocates on until the pool holds TOTAL (default 1,000,000)
#      addresses, and prints the database size and the agent's memory.
# The pool is a whole OUI (16,777,216 addresses), blocks of 64.
# Usage: tests/bench/macpool.sh [BUILD_DIR]
# Targets: >= 5,000 allocations/s; agent memory < 64 MiB after 1M.
set -euo pipefail
build=$(realpath "${1:-build}")
duration=${DURATION:-10s}
total=${TOTAL:-1000000}
command -v wrk >/dev/null || { echo "macpool.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
dir=$(mktemp -d /tmp/lmnet-bench.XXXXXX)
pid=
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

"$build/lmnetd" -c ${LMNETD_CONF:-/dev/null} -l 127.0.0.1:0 -d "$dir/lmnet.db" --log-level warning --log-file "$dir/agent.log" &
pid=$!
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening address=[^ ]* port=\([0-9]*\).*/\1/p' "$dir/agent.log" 2>/dev/null || true)
    [[ -n "$port" ]] && break; sleep 0.05
done
if [[ -z "$port" ]]; then
    # At warning level the listening line is not logged: ask the kernel.
    port=$(ss -ltnp 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {split($4, a, ":"); print a[2]; exit}')
fi
[[ -n "$port" ]] || { echo "macpool.sh: lmnetd did not start" >&2; cat "$dir/agent.log" >&2; exit 1; }
url=http://127.0.0.1:$port
curl -sf -H 'Content-Type: application/json' \
    -d '{"name":"oui","block_size":64,"ranges":[{"start":"00:1d:d8:00:00:00","end":"00:1d:d8:ff:ff:ff"}]}' \
    "$url/v1/mac-pools" >/dev/null

cat > "$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"vm":"bench","adapter":"eth0"}'
wrk.headers["Content-Type"] = "application/json"
LUA
echo "command: wrk -t2 -c16 -d$duration -s post.lua $url/v1/mac-pools/oui/allocations"
echo "machine: $(nproc) cores, $(uname -r), $(df -h "$dir" | awk 'NR==2 {print $1}') for the database"
out=$(wrk -t2 -c16 -d"$duration" --latency -s "$dir/post.lua" "$url/v1/mac-pools/oui/allocations")
echo "$out" | sed -n '/Requests\/sec/p;/requests in/p;/Non-2xx/p;/99%/p'
rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
count() { curl -s "$url/v1/mac-pools/oui" | sed -n 's/.*"allocated_here":\([0-9]*\).*/\1/p'; }
echo "allocated so far: $(count)"

echo "filling to $total allocations..."
t0=$(date +%s)
while :; do
    n=$(count)
    ((n >= total)) && break
    left=$(( (total - n) / ${rate%.*} + 2 ))
    ((left > 60)) && left=60
    wrk -t2 -c16 -d"${left}s" -s "$dir/post.lua" "$url/v1/mac-pools/oui/allocations" >/dev/null
    echo "  $(count) allocated ($(( $(date +%s) - t0 )) s)"
done
sync
db_size=$(du -cb "$dir"/lmnet.db* | awk 'END {print $1}')
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
dups=$(sqlite3 "$dir/lmnet.db" 'SELECT count(*) - count(DISTINCT mac) FROM mac_allocation' 2>/dev/null || echo "?")
echo "result: allocations_per_second=$rate allocations=$(count) duplicates=$dups" \
     "database_bytes=$db_size agent_rss_kib=$rss agent_peak_rss_kib=$hwm" \
     "(targets: >= 5000/s, memory < 65536 KiB)"
