# Shared helpers for the integration tests (sourced, not run).
#
#   check NAME CMD...          passes when CMD succeeds
#   expect_eq NAME WANT GOT    passes when the strings are equal
#   expect_match NAME REGEX S  passes when S matches the extended REGEX
#   finish                     prints "N passed, N failed" and returns non-zero on failure
#   agent_start NAME ARGS...   starts lmnetd on 127.0.0.1 with a free port, its database and
#                              log under $LMNET_TEST_DIR/NAME; sets AGENT_URL, AGENT_PID
#   agent_stop PID             SIGTERM, waits; returns lmnetd's exit status
set -u
: "${LMNET_BUILD_DIR:?set LMNET_BUILD_DIR to the build directory (ctest does)}"
LMNETD="$LMNET_BUILD_DIR/lmnetd"
LMNETCTL="$LMNET_BUILD_DIR/lmnetctl"
LMNET_TEST_DIR=$(mktemp -d /tmp/lmnet-test.XXXXXX)
tests_passed=0
tests_failed=0
agent_pids=()

cleanup_test_dir() {
    local pid
    for pid in "${agent_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$LMNET_TEST_DIR"
}
trap cleanup_test_dir EXIT

pass_() { tests_passed=$((tests_passed + 1)); echo "ok - $1"; }
fail_() { tests_failed=$((tests_failed + 1)); echo "FAIL - $1${2:+: $2}"; }

check() {
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then pass_ "$name"; else fail_ "$name" "command failed: $*"; fi
}

expect_eq() {
    if [[ "$2" == "$3" ]]; then pass_ "$1"; else fail_ "$1" "want '$2', got '$3'"; fi
}

expect_match() {
    if [[ "$3" =~ $2 ]]; then pass_ "$1"; else fail_ "$1" "'$3' does not match /$2/"; fi
}

finish() {
    echo "$tests_passed passed, $tests_failed failed"
    ((tests_failed == 0))
}

# agent_start NAME [lmnetd args...]
agent_start() {
    local name=$1; shift
    local dir="$LMNET_TEST_DIR/$name"
    mkdir -p "$dir"
    local i port="" logfile="$dir/log" prev="" before
    for i in "$@"; do [[ "$prev" == "--log-file" ]] && logfile=$i; prev=$i; done
    # Only what this start writes counts: the background child empties (or
    # appends to) the log only when it gets to run, and a restart must not
    # read the previous agent's port.
    : > "$dir/log"
    before=$(wc -l < "$logfile" 2>/dev/null || echo 0)
    # AGENT_WRAP: a command to start lmnetd through (e.g. setsid).
    ${AGENT_WRAP:-} "$LMNETD" -l 127.0.0.1:0 -d "$dir/lmnet.db" "$@" 2>"$dir/log" &
    AGENT_PID=$!
    agent_pids+=("$AGENT_PID")
    for ((i = 0; i < 100; i++)); do
        port=$(tail -n +$((before + 1)) "$logfile" 2>/dev/null |
            sed -n 's/.*listening address=[^ ]* port=\([0-9]*\).*/\1/p' | tail -1)
        [[ -n "$port" ]] && break
        kill -0 "$AGENT_PID" 2>/dev/null || break
        sleep 0.05
    done
    if [[ -z "$port" ]]; then
        echo "agent $name did not start:" >&2
        cat "$dir/log" >&2
        return 1
    fi
    local scheme=http
    [[ " $* " == *" --tls-cert "* ]] && scheme=https
    AGENT_URL="$scheme://127.0.0.1:$port"
    AGENT_LOG=$logfile
}

agent_stop() {
    kill -TERM "$1" 2>/dev/null || return 1
    local rc=0
    wait "$1" || rc=$?
    return $rc
}
