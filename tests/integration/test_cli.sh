#!/usr/bin/env bash
# lmnetctl's and lmnetd's smaller promises on one real agent (no root
# needed): every -o json output is one JSON document, lists in the API's
# {"items", "next"} shape; this host's dynamic pool is listed from the
# start; --check-config refuses what the agent would refuse at start.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

agent_start main || exit 1
ctl() { "$LMNETCTL" -s "$AGENT_URL" "$@"; }
# is_list: stdin is one JSON object {"items": [...], "next": ...}
is_list() { python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d, dict) and isinstance(d["items"], list) and "next" in d'; }

echo "# -o json"
out=$(ctl -o json version)
check "version is one JSON document" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["api"] == "v1" and d["client_version"] and d["version"]' "$out"
check "events is {items, next}" is_list <<<"$(ctl -o json events)"
check "events --all is {items, next}" is_list <<<"$(ctl -o json events --all)"
check "nic bindings is {items, next}" is_list <<<"$(ctl -o json nic bindings)"
check "macpool list is {items, next}" is_list <<<"$(ctl -o json macpool list)"

echo "# the dynamic pool"
expect_match "listed on a fresh agent before anything asked for it" '^dynamic +dynamic +256 ' "$(ctl macpool list | sed -n 3p)"

echo "# --check-config refuses what the start refuses"
refuses() { # NAME CONFIG-TEXT MESSAGE-REGEX
    printf '%s\n' "$2" > check.conf
    local out rc
    out=$("$LMNETD" -c check.conf --check-config 2>&1); rc=$?
    expect_match "$1: refused (exit 1) saying why" "^1 .*$3" "$rc $out"
}
refuses "a public address without a token file" "$(printf 'listen = 0.0.0.0:8470\nallow_insecure_listen = yes')" "without authentication"
refuses "a token file that is missing" "token_file = $LMNET_TEST_DIR/none" "cannot open token file"
printf 'ops admin %s\n' "$(openssl rand -hex 24)" > open-tokens
chmod 644 open-tokens
refuses "a token file others can read" "token_file = $LMNET_TEST_DIR/open-tokens" "chmod 600"
refuses "a peer token file that is missing" "peer_token_file = $LMNET_TEST_DIR/none" "peer_token_file"
refuses "TLS files that are missing" "$(printf 'tls_cert = %s/none\ntls_key = %s/none' "$LMNET_TEST_DIR" "$LMNET_TEST_DIR")" "tls_cert .* cannot be read"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 -keyout open.key \
    -out open.crt 2>/dev/null
chmod 644 open.key
refuses "a tls_key others can read" "$(printf 'tls_cert = %s/open.crt\ntls_key = %s/open.key' "$LMNET_TEST_DIR" "$LMNET_TEST_DIR")" "tls_key .*mode 0644 lets others read the private key; run 'chmod 600"
printf 'listen = 127.0.0.1:0\ndatabase = %s/k.db\ntls_cert = %s/open.crt\ntls_key = %s/open.key\n' \
    "$LMNET_TEST_DIR" "$LMNET_TEST_DIR" "$LMNET_TEST_DIR" > key.conf
out=$(timeout 10 "$LMNETD" -c key.conf 2>&1); rc=$?
expect_match "the agent does not start with a tls_key others can read" "^1 .*chmod 600" "$rc $out"
chmod 600 open.key
out=$("$LMNETD" -c key.conf --check-config 2>&1); rc=$?
expect_match "a tls_key of mode 0600 passes" "^0 .*configuration ok" "$rc $out"
refuses "a log file that cannot be opened" "log_file = $LMNET_TEST_DIR/no/such/dir/log" "cannot open log file"
printf 'listen = 127.0.0.1:0\ndatabase = %s/c.db\n' "$LMNET_TEST_DIR" > good.conf
out=$("$LMNETD" -c good.conf --check-config 2>&1); rc=$?
expect_match "a good configuration passes" "^0 .*configuration ok" "$rc $out"

finish
