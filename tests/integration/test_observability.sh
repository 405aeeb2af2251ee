#!/usr/bin/env bash
# What a monitoring system and an API client read from a real lmnetd:
# /metrics (Prometheus text format, parsed by Debian's prometheus_client,
# values that move with the requests made) and /v1/openapi.json (the
# document of the source tree, byte for byte), both behind the same tokens
# as the rest of the API.  Loopback only: no namespaces, no root needed.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

admin=$(openssl rand -hex 24)
reader=$(openssl rand -hex 24)
printf 'ops admin %s\nmonitor read %s\n' "$admin" "$reader" > tokens
chmod 600 tokens
agent_start main -t tokens || exit 1
url=$AGENT_URL
A=(-H "Authorization: Bearer $admin")
R=(-H "Authorization: Bearer $reader")
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
header() { local h=$1; shift; curl -s -D - -o /dev/null "$@" | tr -d '\r' | sed -n "s/^$h: //Ip"; }

echo "# /v1/openapi.json"
expect_eq "openapi needs a token" 401 "$(status "$url/v1/openapi.json")"
expect_eq "a read token reads it" 200 "$(status "${R[@]}" "$url/v1/openapi.json")"
expect_eq "it is JSON" "application/json" "$(header Content-Type "${R[@]}" "$url/v1/openapi.json")"
curl -s "${R[@]}" "$url/v1/openapi.json" > served.json
check "it is the source tree's api/openapi.json, byte for byte" cmp served.json "$LMNET_SOURCE_DIR/api/openapi.json"
check "it documents itself and /metrics" python3 -c '
import json, sys
d = json.load(open("served.json"))
sys.exit(0 if "/v1/openapi.json" in d["paths"] and "/metrics" in d["paths"] else 1)'
etag=$(header ETag "${R[@]}" "$url/v1/openapi.json")
expect_eq "If-None-Match gives 304" 304 "$(status "${R[@]}" -H "If-None-Match: $etag" "$url/v1/openapi.json")"

echo "# /metrics"
expect_eq "metrics need a token" 401 "$(status "$url/metrics")"
expect_eq "a read token scrapes" 200 "$(status "${R[@]}" "$url/metrics")"
expect_eq "text exposition format 0.0.4" "text/plain; version=0.0.4; charset=utf-8" \
    "$(header Content-Type "${R[@]}" "$url/metrics")"
curl -s "${R[@]}" "$url/metrics" > before.txt
curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' \
    -d '{"name":"obs","ranges":[{"start":"02:00:5e:10:00:00","end":"02:00:5e:10:00:0f"}]}' "$url/v1/mac-pools" > /dev/null
for i in 1 2 3; do
    curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{}' "$url/v1/mac-pools/obs/allocations" > /dev/null
done
curl -s "${A[@]}" -X DELETE "$url/v1/mac-pools/obs/allocations/02:00:5e:10:00:00" > /dev/null
curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{"mac":"01:00:5e:00:00:01"}' \
    "$url/v1/mac-pools/obs/allocations" > /dev/null
status "${R[@]}" "$url/v1/nothing-here" > /dev/null
curl -s "${R[@]}" "$url/metrics" > after.txt

# A real Prometheus parser (Debian's python3-prometheus-client, hence
# /usr/bin/python3 and not whatever python3 is first on PATH), then the
# values; it exits with the first check that failed and says which.
cat > check_metrics.py <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families

def parse(path):
    families = {f.name: f for f in text_string_to_metric_families(open(path).read())}
    values = {}
    for f in families.values():
        for s in f.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, values

def value(values, name, **labels):
    return values.get((name, tuple(sorted(labels.items()))), 0.0)

fb, before = parse("before.txt")
fa, after = parse("after.txt")
want_types = {
    "lmnet_http_requests": "counter", "lmnet_mac_allocations": "counter",
    "lmnet_mac_releases": "counter", "lmnet_mac_pool_addresses": "gauge",
    "lmnet_mac_pool_allocated": "gauge", "lmnet_migrations": "counter",
    "lmnet_migration_downtime_seconds": "histogram",
    "lmnet_migration_switchover_gap_seconds": "histogram",
    "lmnet_heartbeat_peers_lost": "gauge", "lmnet_heartbeat_datagrams": "counter",
    "lmnet_channel_bytes": "counter", "lmnet_relay_bytes": "counter",
    "lmnet_migration_bytes": "counter",
}
for name, t in want_types.items():
    if name not in fa or fa[name].type != t:
        sys.exit("family %s: want type %s, got %s" % (name, t, fa[name].type if name in fa else None))
checks = [
    ("3 allocations counted", value(after, "lmnet_mac_allocations_total", result="ok")
     - value(before, "lmnet_mac_allocations_total", result="ok"), 3),
    ("the multicast request counted as refused", value(after, "lmnet_mac_allocations_total", result="refused")
     - value(before, "lmnet_mac_allocations_total", result="refused"), 1),
    ("1 release counted", value(after, "lmnet_mac_releases_total") - value(before, "lmnet_mac_releases_total"), 1),
    ("pool size", value(after, "lmnet_mac_pool_addresses", pool="obs", kind="static"), 16),
    ("pool fill", value(after, "lmnet_mac_pool_allocated", pool="obs"), 2),
    ("the 404 counted", value(after, "lmnet_http_requests_total", method="GET", code="404"), 1),
    ("POSTs answered 201 counted (pool + 3 allocations)",
     value(after, "lmnet_http_requests_total", method="POST", code="201"), 4),
    ("the scrape before counted as a GET 200",
     value(after, "lmnet_http_requests_total", method="GET", code="200")
     - value(before, "lmnet_http_requests_total", method="GET", code="200") >= 1, True),
]
for name, got, want in checks:
    if got != want:
        sys.exit("%s: want %s, got %s" % (name, want, got))
print("metrics ok")
PY
out=$(/usr/bin/python3 check_metrics.py 2>&1)
expect_eq "prometheus_client parses the scrape, and values moved with the requests" "metrics ok" "$out"
check "the agent stops cleanly" agent_stop "$AGENT_PID"

finish
