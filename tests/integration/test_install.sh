#!/usr/bin/env bash
# `cmake --install` into a DESTDIR puts everything a host needs in place:
# the two programs (sbin, bin), the systemd unit pointing at them (Type=
# notify), the example configuration and token file, the man pages
# lmnetd(8), lmnetctl(1), lmnetd.conf(5) (they render without a warning),
# the bash completion (it completes commands and verbs from the installed
# lmnetctl), and the docs.  No root, no agent: seconds.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

prefix=/opt/lmnet-test
dest=$LMNET_TEST_DIR/root
if ! DESTDIR=$dest cmake --install "$LMNET_BUILD_DIR" --prefix "$prefix" > install.log 2>&1; then
    cat install.log
    fail_ "cmake --install succeeds"
    finish
    exit 1
fi
pass_ "cmake --install succeeds"
root=$dest$prefix

echo "# programs"
check "lmnetd in sbin, executable" test -x "$root/sbin/lmnetd"
check "lmnetctl in bin, executable" test -x "$root/bin/lmnetctl"
expect_match "the installed lmnetd runs" '^lmnetd [0-9]+\.[0-9]+' "$("$root/sbin/lmnetd" --version 2>&1)"
expect_match "the installed lmnetctl runs" '^lmnetctl [0-9]+\.[0-9]+' "$("$root/bin/lmnetctl" --version 2>&1)"

echo "# systemd unit"
unit=$root/lib/systemd/system/lmnetd.service
check "the unit is installed" test -f "$unit"
expect_eq "it starts the installed lmnetd" "$prefix/sbin/lmnetd -c /etc/lmnet/lmnetd.conf" \
    "$(sed -n 's/^ExecStart=//p' "$unit")"
expect_eq "readiness comes from sd_notify" "notify" "$(sed -n 's/^Type=//p' "$unit")"
expect_eq "  from the main process only" "main" "$(sed -n 's/^NotifyAccess=//p' "$unit")"
expect_match "its documentation is the installed README" "^file://$prefix/share/doc/lmnet/README.md$" \
    "$(sed -n 's/^Documentation=//p' "$unit")"

echo "# examples and docs"
doc=$root/share/doc/lmnet
check "README installed" test -s "$doc/README.md"
check "example configuration installed" test -s "$doc/examples/lmnetd.conf"
check "example token file installed" test -s "$doc/examples/tokens.example"
check "the example configuration is one lmnetd accepts" \
    "$root/sbin/lmnetd" --check-config -c "$doc/examples/lmnetd.conf"

echo "# man pages"
for page in man8/lmnetd.8 man1/lmnetctl.1 man5/lmnetd.conf.5; do
    check "$page installed" test -s "$root/share/man/$page"
    warnings=$(groff -man -Tutf8 -ww -z "$root/share/man/$page" 2>&1)
    expect_eq "$page renders without a warning" "" "$warnings"
done
expect_match "lmnetd(8) names its options" "--check-config" \
    "$(MANWIDTH=100 man -l "$root/share/man/man8/lmnetd.8" 2>/dev/null)"
expect_match "lmnetd.conf(5) names every key the agent reads" "heartbeat_threshold" \
    "$(MANWIDTH=100 man -l "$root/share/man/man5/lmnetd.conf.5" 2>/dev/null)"

echo "# bash completion"
comp=$root/share/bash-completion/completions/lmnetctl
check "completion installed" test -s "$comp"
# complete LINE: what TAB offers at the end of LINE, with the installed lmnetctl.
complete_line() {
    bash -c '
        source "$1"
        read -ra COMP_WORDS <<< "$2"
        [[ "$2" == *" " ]] && COMP_WORDS+=("")
        COMP_WORDS[0]=$3
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        _lmnetctl
        echo "${COMPREPLY[*]}"' _ "$comp" "$1" "$root/bin/lmnetctl"
}
expect_eq "a command" "network" "$(complete_line 'lmnetctl netw')"
expect_eq "its verbs" "list show set check" "$(complete_line 'lmnetctl network ')"
expect_eq "after global options" "show" "$(complete_line 'lmnetctl -s http://127.0.0.1:1 -o json migration sh')"
expect_eq "an option's values" "json" "$(complete_line 'lmnetctl -o js')"
expect_eq "a command's options" "--all" "$(complete_line 'lmnetctl events --al')"

finish
