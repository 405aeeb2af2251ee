#!/usr/bin/env bash
# Drives a real lmnetd over HTTP: every error case of the API foundation,
# authentication with and without a token and with the wrong scope, start-up
# refusals (bad configuration, token file readable by others, database from
# a newer lmnet), TLS, log reopening and clean shutdown.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

admin=$(openssl rand -hex 24)
reader=$(openssl rand -hex 24)
printf 'ops admin %s\nmonitor read %s\n' "$admin" "$reader" > tokens
chmod 600 tokens
agent_start main -t tokens --log-level info || exit 1
url=$AGENT_URL
A=(-H "Authorization: Bearer $admin")
R=(-H "Authorization: Bearer $reader")

# status CURL-ARGS...: prints the HTTP status
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# header NAME CURL-ARGS...: prints one response header's value
header() { local h=$1; shift; curl -s -D - -o /dev/null "$@" | tr -d '\r' | sed -n "s/^$h: //Ip"; }

echo "# open and authenticated reads"
expect_eq "health is open" 200 "$(status "$url/v1/health")"
expect_eq "host needs a token" 401 "$(status "$url/v1/host")"
expect_match "401 says how to authenticate" '^Bearer realm="lmnet"' "$(header WWW-Authenticate "$url/v1/host")"
expect_eq "wrong token is 401" 401 "$(status -H "Authorization: Bearer nope-nope-nope-nope" "$url/v1/host")"
expect_eq "read token reads host" 200 "$(status "${R[@]}" "$url/v1/host")"
expect_eq "read token reads version" 200 "$(status "${R[@]}" "$url/v1/version")"
host=$(curl -s "${R[@]}" "$url/v1/host")
expect_match "host has node_id" '"node_id":"[0-9a-f-]{36}"' "$host"
expect_match "host has uptime" '"uptime_seconds":[0-9.]+' "$host"
expect_match "host has hostname and version" '"hostname":".+".*"version":"[0-9.]+"' "$host"
expect_eq "read token may not change things (403)" 403 \
    "$(status "${R[@]}" -X POST -H 'Content-Type: application/json' -d '{}' "$url/v1/cluster/join-tokens")"
expect_eq "admin token may" 201 \
    "$(status "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{}' "$url/v1/cluster/join-tokens")"

echo "# errors are problem+json"
expect_eq "unknown path is 404" 404 "$(status "${R[@]}" "$url/v1/nothing-here")"
expect_eq "404 is problem+json" "application/problem+json" "$(header Content-Type "${R[@]}" "$url/v1/nothing-here")"
body=$(curl -s "${R[@]}" "$url/v1/nothing-here")
expect_match "problem has type, title, status, detail" '"type":"[^"]+/not-found","title":"Not Found","status":404,"detail":"[^"]+"' "$body"
expect_eq "wrong method is 405" 405 "$(status "${A[@]}" -X DELETE "$url/v1/host")"
expect_eq "405 lists Allow" "GET, HEAD" "$(header Allow "${A[@]}" -X DELETE "$url/v1/host")"
expect_eq "unknown method is 405 too" 405 "$(status "${A[@]}" -X OPTIONS "$url/v1/host")"
body=$(curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{"url": "http://x", ' "$url/v1/cluster/members")
expect_match "malformed JSON is 400 and says where" '"status":400,"detail":"request body is not valid JSON: [^"]*byte [0-9]+' "$body"
body=$(curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{"url": tru}' "$url/v1/cluster/members")
expect_match "bad literal is 400 with its byte" '"status":400.*boolean expected at byte 11' "$body"
head -c 1100000 /dev/zero | tr '\0' ' ' > big.json
expect_eq "body over 1 MiB is 413" 413 \
    "$(status "${A[@]}" -X POST -H 'Content-Type: application/json' --data-binary @big.json "$url/v1/cluster/members")"
expect_eq "wrong content type is 415" 415 \
    "$(status "${A[@]}" -X POST -H 'Content-Type: text/plain' -d 'url=x' "$url/v1/cluster/members")"
body=$(curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{"name": 1}' "$url/v1/cluster/members")
expect_match "validation error names the field" '"status":422.*"pointer":"/join_token"' "$body"
body=$(curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{"join_token": "x", "id": "00000000-0000-0000-0000-000000000000", "name": "n", "url": "http://"}' "$url/v1/cluster/members")
expect_match "a URL with no host is 422" '"status":422.*"pointer":"/url"' "$body"
pool='{"name": "p1", "ranges": [{"start": "02:00:00:00:01:00", "end": "02:00:00:00:01:ff"}]'
body=$(curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' -d "$pool, \"blocksize\": 8}" "$url/v1/mac-pools")
expect_match "a POST member its schema does not list is 422 unknown-field" '/unknown-field".*"status":422' "$body"
expect_match "  with its pointer" '"pointer":"/blocksize"' "$body"
expect_match "  and the fields it takes" "it takes: [a-z_, ]*block_size" "$body"
expect_eq "  and nothing was created" 404 "$(status "${R[@]}" "$url/v1/mac-pools/p1")"
expect_eq "  the same body without it is created" 201 \
    "$(status "${A[@]}" -X POST -H 'Content-Type: application/json' -d "$pool}" "$url/v1/mac-pools")"
body=$(curl -s "${A[@]}" -X POST -H 'Content-Type: application/json' -d '{"id": null}' "$url/v1/migrations/00000000-0000-0000-0000-000000000000/prepare")
expect_match "a prepare whose id is null gets a problem (503: no hypervisor here)" '"status":(422|503)' "$body"
expect_eq "  and the agent still answers" 200 "$(status "${R[@]}" "$url/v1/host")"
expect_eq "a migrations page after an unknown id is 400" 400 "$(status "${R[@]}" "$url/v1/migrations?after=nope")"
expect_eq "blocks of an unknown pool are 404, as its allocations" 404 "$(status "${R[@]}" "$url/v1/mac-pools/nope/blocks")"
expect_eq "a query key without a value reads as given (?active: true)" 200 "$(status "${R[@]}" "$url/v1/migrations?active")"
expect_eq "401 before anything about the body" 401 \
    "$(status -X POST -H 'Content-Type: text/plain' -d 'x' "$url/v1/cluster/join-tokens")"

echo "# paths are decoded once, by the router"
body=$(curl -s "${R[@]}" "$url/v1/cluster/members/%2541")
expect_match "%25 decodes to a literal %" "no member with id '%41'" "$body"
expect_eq "an encoded NUL is refused" 404 "$(status "${R[@]}" "$url/v1/health%00xyz")"
expect_eq "an encoded slash is not a separator" 404 "$(status "${R[@]}" "$url/v1/cluster/members/a%2Fb")"
expect_eq "query strings are not part of the path" 200 "$(status "${R[@]}" "$url/v1/events?limit=5")"

echo "# ETags"
etag=$(header ETag "${R[@]}" "$url/v1/version")
expect_match "GET answers an ETag" '^"[0-9a-f]{16}"$' "$etag"
expect_eq "If-None-Match gives 304" 304 "$(status "${R[@]}" -H "If-None-Match: $etag" "$url/v1/version")"

echo "# lmnetctl"
printf 'monitor read %s\n' "$reader" > ctl-token; chmod 600 ctl-token
out=$("$LMNETCTL" -s "$url" -t ctl-token host show); rc=$?
expect_eq "lmnetctl host show exits 0" 0 "$rc"
expect_match "lmnetctl host show prints a table" 'NodeId +Hostname' "$out"
out=$("$LMNETCTL" -s "$url" host show 2>&1); rc=$?
expect_eq "lmnetctl without token exits 1" 1 "$rc"
expect_match "lmnetctl turns the problem into one line" '^lmnetctl: 401 Unauthorized: .*\(unauthorized\)$' "$out"
out=$("$LMNETCTL" -s "$url" -t ctl-token -o json version); rc=$?
expect_match "lmnetctl -o json version" '"api": "v1"' "$out"
"$LMNETCTL" -s http://127.0.0.1:1 health >/dev/null 2>&1; rc=$?
expect_eq "lmnetctl against nothing exits 3" 3 "$rc"
"$LMNETCTL" bogus >/dev/null 2>&1; rc=$?
expect_eq "lmnetctl unknown command exits 2" 2 "$rc"
out=$("$LMNETCTL" -s "$url" -t ctl-token events --all); rc=$?
expect_eq "lmnetctl events exits 0" 0 "$rc"
expect_match "lmnetctl events prints the table header" '^Id +Time +Node +Actor +Kind +Subject' "$out"
check "lmnetctl --help" "$LMNETCTL" --help
check "lmnetctl host --help" "$LMNETCTL" host --help

echo "# request log"
expect_match "one line per request with method, path, status, latency" \
    'request method=GET path=/v1/host status=200 latency_us=[0-9]+ token=monitor' "$(cat "$AGENT_LOG")"
if grep -q -e "$admin" -e "$reader" "$AGENT_LOG"; then fail_ "tokens never logged"; else pass_ "tokens never logged"; fi

echo "# start-up refusals"
chmod 644 tokens
out=$("$LMNETD" -l 127.0.0.1:0 -d "$LMNET_TEST_DIR/x.db" -t tokens 2>&1); rc=$?
expect_eq "token file readable by others: exit non-zero" 1 "$rc"
expect_match "and says chmod 600" 'chmod 600' "$out"
chmod 600 tokens
printf 'listen = 127.0.0.1:0\n# fine\nlog_level = loud\n' > bad.conf
out=$("$LMNETD" -c bad.conf 2>&1); rc=$?
expect_eq "bad config: exit 2" 2 "$rc"
expect_match "bad config names file, line and key" "bad.conf:3: key 'log_level'" "$out"
printf 'colour = blue\n' > bad2.conf
out=$("$LMNETD" -c bad2.conf 2>&1)
expect_match "unknown key is refused" "bad2.conf:1: key 'colour': unknown key" "$out"
out=$("$LMNETD" -c /dev/null -l 0.0.0.0:0 -d "$LMNET_TEST_DIR/y.db" -t tokens 2>&1); rc=$?
expect_eq "a public address without TLS: refused" 2 "$rc"
expect_match "  and says why and how to opt out" 'in clear.*allow_insecure_listen = yes' "$out"
printf 'allow_insecure_listen = yes\n' > insecure.conf
out=$("$LMNETD" -c insecure.conf -l 0.0.0.0:0 -d "$LMNET_TEST_DIR/y.db" 2>&1); rc=$?
expect_eq "no token file on a public address: refused (even with the opt-out)" 1 "$rc"
sqlite3 newer.db "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT, applied_ms INTEGER);
                  INSERT INTO schema_version VALUES (999, 'future.sql', 0); CREATE TABLE keep (x);"
before=$(sha256sum newer.db)
out=$("$LMNETD" -l 127.0.0.1:0 -d newer.db 2>&1); rc=$?
expect_eq "database from a newer lmnet: exit 1" 1 "$rc"
expect_match "and says so" 'newer lmnet' "$out"
expect_eq "newer database untouched" "$before" "$(sha256sum newer.db)"

echo "# node id survives restarts"
id1=$(curl -s "${R[@]}" "$url/v1/host" | sed 's/.*"node_id":"\([^"]*\)".*/\1/')
agent_stop "$AGENT_PID"; rc=$?
expect_eq "SIGTERM stops cleanly (exit 0)" 0 "$rc"
agent_start main -t tokens || exit 1
id2=$(curl -s "${R[@]}" "$AGENT_URL/v1/host" | sed 's/.*"node_id":"\([^"]*\)".*/\1/')
expect_eq "same node id after restart" "$id1" "$id2"

echo "# SIGHUP reopens the log file"
agent_stop "$AGENT_PID"
agent_start logfile -t tokens --log-file "$LMNET_TEST_DIR/agent.log" || { cat "$LMNET_TEST_DIR/agent.log"; exit 1; }
mv agent.log agent.log.1
kill -HUP "$AGENT_PID"; sleep 0.3
curl -s "${R[@]}" "$AGENT_URL/v1/version" >/dev/null
sleep 0.2
expect_match "after SIGHUP the log goes to a new file" 'path=/v1/version' "$(cat agent.log 2>/dev/null)"
agent_stop "$AGENT_PID"

echo "# TLS"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
agent_start tls -t tokens --tls-cert cert.pem --tls-key key.pem || exit 1
expect_eq "HTTPS with the CA works" 200 "$(status --cacert cert.pem "${R[@]}" "$AGENT_URL/v1/host")"
expect_eq "plain HTTP to the TLS port fails" 000 "$(status "${R[@]}" "http://${AGENT_URL#https://}/v1/host")"
out=$("$LMNETCTL" -s "$AGENT_URL" --cacert cert.pem -t ctl-token host show); rc=$?
expect_eq "lmnetctl over TLS" 0 "$rc"
"$LMNETCTL" -s "$AGENT_URL" -t ctl-token host show >/dev/null 2>&1; rc=$?
expect_eq "lmnetctl refuses an unknown certificate" 3 "$rc"
agent_stop "$AGENT_PID"
out=$("$LMNETD" -l 127.0.0.1:0 -d "$LMNET_TEST_DIR/z.db" --tls-cert cert.pem 2>&1); rc=$?
expect_match "a certificate without a key is refused" 'TLS needs both' "$out"

finish
