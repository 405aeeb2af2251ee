#!/usr/bin/env bash
# The web view in a real browser: Debian's Chromium, headless, loads /ui/
# from a real lmnetd on loopback with some data in it (a cluster network
# given the migration role, a VLAN, a MAC pool, a VM, a finished migration
# with its journal), and the test reads the DOM the page's script built
# (every table holds the rows the API has) and checks that the screenshots
# are real pictures (size, many colours, not blank).  With tokens on, the
# page asks for one and shows no data, the files are sent with a strict
# Content-Security-Policy, and signing in with a token shows the data.
# Loopback only, no namespaces, no root needed.
#
# LMNET_WEB_SCREENSHOTS=DIR keeps the screenshots there (docs/ has one).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
cd "$LMNET_TEST_DIR"

chromium=$(command -v chromium || true)
if [[ -z "$chromium" ]]; then
    echo "SKIP: Debian's chromium is not installed (deploy/install-deps --tests installs it)"
    exit 77
fi
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
header() { local h=$1; shift; curl -s -D - -o /dev/null "$@" | tr -d '\r' | sed -n "s/^$h: //Ip"; }

# browse NAME URL: the DOM after the page's script ran (NAME.html) and a
# 1280x800 screenshot (NAME.png).  Virtual time lets the fetches finish
# without waiting in real time.
browse() {
    timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$LMNET_TEST_DIR/profile.XXXXXX")" --hide-scrollbars \
        --virtual-time-budget=4000 --window-size=1280,800 --screenshot="$LMNET_TEST_DIR/$1.png" \
        --dump-dom "$2" > "$1.html" 2> "$1.log"
}
# rows NAME TABLE-ID: the text of each row of that table, one a line.
rows() {
    /usr/bin/python3 - "$1.html" "$2" <<'PY'
import html.parser, sys

class Rows(html.parser.HTMLParser):
    """Collects the cells of <tr class="row"> in <table id=WANT>."""
    def __init__(self, want):
        super().__init__()
        self.want, self.inside, self.row, self.cell, self.rows = want, False, None, None, []
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == self.want:
            self.inside = True
        elif self.inside and tag == "tr" and attrs.get("class") == "row":
            self.row = []
        elif self.row is not None and tag == "td":
            self.cell = ""
    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "td" and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append(" | ".join(self.row))
            self.row = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

p = Rows(sys.argv[2])
p.feed(open(sys.argv[1]).read())
print("\n".join(p.rows))
PY
}
png_ok() { /usr/bin/python3 "$here/png_check.py" "$1.png" 1280 800; }

echo "# an agent with some data"
mkdir -p images
printf 'image_dirs = %s/images\n' "$LMNET_TEST_DIR" > web.conf
agent_start web -c web.conf || exit 1
L=("$LMNETCTL" -s "$AGENT_URL")
node=$(curl -s "$AGENT_URL/v1/host" | sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')
# The agent records its cluster networks shortly after it starts.
for ((i = 0; i < 100; i++)); do
    curl -s "$AGENT_URL/v1/cluster/networks" | grep -q '"Cluster Network 1"' && break
    sleep 0.1
done
net=$("${L[@]}" -o json network list | sed -n 's/.*"name": "\(Cluster Network 1\)".*/\1/p' | head -1)
check "a cluster network from this host's NICs" test -n "$net"
check "it gets the migration role and a name" "${L[@]}" network set "$net" --role migration --name Live-Migration
check "a VLAN" "${L[@]}" vlan create 100 web-frontend
check "a MAC pool" "${L[@]}" macpool create cluster-pool 02:00:5e:20:00:00-02:00:5e:20:00:ff
check "an allocation" "${L[@]}" macpool allocate cluster-pool --vm web01 --adapter eth0
printf 'not a real kernel: the VM is only defined\n' > images/kernel
check "a VM, defined, not started" "${L[@]}" vm create web01 --kernel "$LMNET_TEST_DIR/images/kernel" --memory 256 --no-start
agent_stop "$AGENT_PID"
# A finished migration with its journal, as the migrator writes them
# (nothing here runs QEMU): straight into the agent's SQLite database.
now=$(($(date +%s) * 1000))
sqlite3 "$LMNET_TEST_DIR/web/lmnet.db" <<SQL
INSERT INTO migration (uuid, vm, vm_name, role, source, destination, destination_url, mode, options,
    phase, network, source_address, destination_address, progress, timings, downtime_ms,
    switchover_gap_ms, created_ms, updated_ms, finished_ms)
VALUES ('6f1c2a9e-0000-4000-8000-000000000001', 'vm-1', 'web01', 'source', '$node',
    '5b0d7c3e-0000-4000-8000-000000000002', 'http://127.0.0.1:1', 'live', '{"channels":4}',
    'completed', 'net-1', '10.0.2.1', '10.0.2.2',
    '{"status":"completed","bytes_sent":536870912,"bytes_remaining":0,"bytes_total":536870912,"rounds":3,"mbps":8200}',
    '{"preflight_ms":4,"preparing_ms":310,"transferring_ms":512,"switchover_ms":21}', 35, 12,
    $now - 2000, $now, $now);
INSERT INTO migration_step (migration, seq, step, status, time_ms) VALUES
    ('6f1c2a9e-0000-4000-8000-000000000001', 1, 'create', 'done', $now - 2000),
    ('6f1c2a9e-0000-4000-8000-000000000001', 2, 'prepare-destination', 'done', $now - 1600),
    ('6f1c2a9e-0000-4000-8000-000000000001', 3, 'transfer', 'done', $now - 900),
    ('6f1c2a9e-0000-4000-8000-000000000001', 4, 'switchover', 'done', $now - 300);
SQL
agent_start web -c web.conf || exit 1
url=$AGENT_URL/ui/

echo "# the files"
expect_eq "/ sends a browser to /ui/" "302 /ui/" "$(status "$AGENT_URL/") $(header Location "$AGENT_URL/")"
expect_eq "/ui/ is the page" "text/html; charset=utf-8" "$(header Content-Type "$url")"
csp=$(header Content-Security-Policy "$url")
expect_match "a strict Content-Security-Policy" "^default-src 'none'; script-src 'self'; style-src 'self';" "$csp"
expect_match "  with no framing" "frame-ancestors 'none'" "$csp"
expect_eq "nosniff" "nosniff" "$(header X-Content-Type-Options "$url")"
expect_eq "the script" "text/javascript; charset=utf-8" "$(header Content-Type "${url}app.js")"
expect_eq "an unknown file is 404" 404 "$(status "${url}nothing.js")"
expect_eq "no way out of the web folder" 404 "$(status "${url}..%2Fopenapi.json")"
check "nothing is loaded from elsewhere (no http(s):// in the files)" \
    bash -c "! curl -s '$url' '${url}app.js' '${url}style.css' | grep -Eq 'https?://'"
check "no cookie is set" bash -c "! curl -s -D - -o /dev/null '$url' | grep -qi '^set-cookie'"

echo "# in Chromium"
browse networks "${url}#networks"
expect_match "cluster networks: the renamed network with its role" \
    "Live-Migration \| unavailable \| 10000 \| migration \| 192\.0\.2\.0|Live-Migration \| [a-z]+ \| [0-9]+ \| migration \|" \
    "$(rows networks networks)"
expect_match "  and its interfaces" "Live-Migration \| [^|]+ \| [a-z0-9]+ \|" "$(rows networks interfaces)"
expect_match "the screenshot is a real picture" "^png ok 1280x800" "$(png_ok networks 2>&1)"
browse hosts "${url}#hosts"
expect_match "hosts: this member" "\| $node \| http://127\.0\.0\.1:[0-9]+ \| yes \|" "$(rows hosts members)"
expect_match "  this host's NICs" "^lo \| " "$(rows hosts nics)"
browse vms "${url}#vms"
expect_match "VMs: the defined VM" "^web01 \| stopped \| [^|]+ \| 256 MiB \| 1 \|" "$(rows vms vms)"
browse migrations "${url}#migrations"
expect_match "migrations: the finished one" "^6f1c2a9e \| web01 \| source \| live \| completed \| +\| [^|]* \| 5b0d7c3e \| 35 ms \| 12 ms \|" \
    "$(rows migrations migrations)"
browse migration "${url}#migrations/6f1c2a9e-0000-4000-8000-000000000001"
expect_match "a migration's journal, in order" \
    "^1 \| [^|]+ \| create \| done.*2 \| [^|]+ \| prepare-destination \| done.*4 \| [^|]+ \| switchover \| done$" \
    "$(rows migration journal | tr '\n' ' ' | sed 's/ $//')"
expect_match "  its phase timings" "transferring \| 512 ms" "$(rows migration timings)"
check "  its progress bar is full" grep -q '<progress max="100" value="100">' migration.html
expect_match "  the screenshot is a real picture" "^png ok 1280x800" "$(png_ok migration 2>&1)"
browse events "${url}#events"
ev=$(rows events events)
expect_match "audit log: the VLAN created" "\| anonymous \| vlan\.create \| 100 \|" "$ev"
expect_match "  the MAC allocated" "\| mac\.allocate \| 02:00:5e:20:00:00 \|" "$ev"
ids=$(cut -d' ' -f1 <<< "$ev")
expect_eq "  newest first" "$(sort -rn <<< "$ids")" "$ids"
agent_stop "$AGENT_PID"

echo "# with tokens: the same authentication as the API"
reader=$(openssl rand -hex 24)
printf 'monitor read %s\n' "$reader" > tokens && chmod 600 tokens
agent_start secure -t tokens || exit 1
expect_eq "the page loads without a token" 200 "$(status "$AGENT_URL/ui/")"
expect_eq "  the data does not" 401 "$(status "$AGENT_URL/v1/cluster/networks")"
browse login "$AGENT_URL/ui/#networks"
check "the page asks for a token" grep -q '<section id="login">' login.html
check "  and shows no table" bash -c '! grep -q "<table" login.html'
check "  nor the navigation" grep -q '<nav id="nav" hidden' login.html
expect_match "  the login page is drawn too" "^png ok 1280x800" "$(png_ok login 2>&1)"
# Signing in as a person would (DevTools protocol over a pipe): a wrong
# token is refused, the right one shows the data, nothing but
# sessionStorage keeps it, and "Forget token" signs out.
signin=$(timeout 90 /usr/bin/python3 "$here/browser_login.py" "$chromium" "$AGENT_URL/ui/#networks" \
    "$reader" "$(mktemp -d "$LMNET_TEST_DIR/profile.XXXXXX")" 2>&1)
expect_match "a wrong token is refused on the page" "refused ok" "$signin"
expect_match "  the read token shows the cluster networks" "rows [1-9]" "$signin"
expect_match "  kept in sessionStorage, no cookie" "stored ok" "$signin"
expect_match "  and forgotten on request" "forgot ok" "$signin"
expect_match "the page's calls carried the token (the agent logged them as 'monitor')" \
    "path=/v1/cluster/networks status=200 .*token=monitor" "$(cat "$AGENT_LOG")"
agent_stop "$AGENT_PID"

if [[ -n "${LMNET_WEB_SCREENSHOTS:-}" ]]; then
    cp networks.png migration.png login.png "$LMNET_WEB_SCREENSHOTS/"
fi
finish
