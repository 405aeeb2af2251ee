#!/usr/bin/env bash
# deploy/lmnetd.service against `systemd-analyze security`: the overall
# exposure must stay below 5 (systemd rates 5 and up "MEDIUM" or worse), and
# the unit must keep QEMU alive across an agent restart (KillMode=process).
# Usage: tests/unit_security_check.sh SYSTEMD-ANALYZE UNIT-FILE
set -u
analyze=$1 unit=$2
out=$("$analyze" security --offline=true --no-pager "$unit" 2>&1)
line=$(grep 'Overall exposure level' <<<"$out")
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<<"$line")
if [[ -z $score ]]; then
    echo "no exposure level in systemd-analyze's answer:" >&2
    echo "$out" >&2
    exit 1
fi
echo "# $line"
rc=0
if ! awk -v s="$score" 'BEGIN { exit !(s < 5) }'; then
    echo "FAIL - exposure $score is 5 or more; what systemd-analyze marks:" >&2
    grep '✗' <<<"$out" >&2
    rc=1
fi
if ! grep -qx 'KillMode=process' "$unit"; then
    echo "FAIL - $unit lacks KillMode=process: a restart would kill every VM" >&2
    rc=1
fi
exit $rc
