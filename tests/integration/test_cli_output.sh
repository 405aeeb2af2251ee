#!/usr/bin/env bash
# lmnetctl's output control against a real lmnetd on loopback: "did you
# mean" for a mistyped command, and errors as JSON under -o json (the
# agent's problem+json as it came, or a transport problem when the agent
# is not there), with the usual exit codes.  No root needed.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

agent_start cli || exit 1
L=("$LMNETCTL" -s "$AGENT_URL")

echo "# did you mean"
"${L[@]}" netwrok list > out.txt 2> err.txt
expect_eq "a mistyped command is a usage error" 2 "$?"
expect_match "  that names the command meant" "unknown command 'netwrok'; did you mean 'network'\?" "$(cat err.txt)"
"${L[@]}" frobnicate > out.txt 2> err.txt
expect_eq "nothing close: no guess" "lmnetctl: unknown command 'frobnicate'" "$(head -1 err.txt)"

echo "# errors as JSON under -o json"
"${L[@]}" -o json macpool show no-such-pool > out.txt 2> err.txt
expect_eq "a refused call exits 1" 1 "$?"
expect_eq "  nothing on stdout" "" "$(cat out.txt)"
expect_eq "  the problem on stderr as JSON" "404 not-found" "$(/usr/bin/python3 -c '
import json
p = json.load(open("err.txt"))
print(p["status"], p["type"].rsplit("/", 1)[-1])' 2>&1)"
"${L[@]}" macpool show no-such-pool > out.txt 2> err.txt
expect_match "without -o json, one line as before" "^lmnetctl: 404 " "$(cat err.txt)"
"${LMNETCTL}" -s http://127.0.0.1:1 -o json host show > out.txt 2> err.txt
expect_eq "no agent: exit 3" 3 "$?"
expect_eq "  a transport problem as JSON" "transport" "$(/usr/bin/python3 -c '
import json
print(json.load(open("err.txt"))["type"])' 2>&1)"
check "the agent stops cleanly" agent_stop "$AGENT_PID"

finish
