#!/usr/bin/env bash
# Builds the fuzz targets with clang (ASan + UBSan + libFuzzer) and runs each
# for SECONDS (default 30).  Prints, per target, the runs made and whether it
# found a crash; exits non-zero when one did.  Usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DLMNET_SANITIZE=ON -DLMNET_FUZZ=ON \
    -DLMNET_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
status=0
for target in build-fuzz/tests/fuzz/fuzz_*; do
    name=$(basename "$target")
    corpus=$(mktemp -d)
    if "$target" -max_total_time="$seconds" -max_len=4096 "$corpus" >"build-fuzz/$name.log" 2>&1; then
        echo "$name: $(grep -o 'Done [0-9]* runs' "build-fuzz/$name.log" | tail -1), no crash"
    else
        echo "$name: CRASH, see build-fuzz/$name.log"; status=1
    fi
    rm -rf "$corpus"
done
exit $status
