#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer, ASan + UBSan, coverage in
# every layer too) and runs each for SECONDS (default 30) from its seeds,
# keeping what it finds in build-fuzz/tests/fuzz/corpus/NAME.  Prints, per
# target, the runs made, the coverage reached and whether it found a crash
# (the input is then in build-fuzz/tests/fuzz/); exits non-zero when one
# did.  Usage: tests/fuzz/run.sh [SECONDS]
# For a fixed number of executions and exec/s, see tests/bench/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
CC=${CC:-clang-14} cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DLMNET_FUZZ=ON \
    -DLMNET_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz >/dev/null
dir=build-fuzz/tests/fuzz
status=0
for target in "$dir"/fuzz_*; do
    [[ -x $target && -f $target ]] || continue
    name=$(basename "$target")
    mkdir -p "$dir/corpus/$name"
    if (cd "$dir" && "./$name" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
            "corpus/$name" "seeds/$name") >"$dir/$name.log" 2>&1; then
        echo "$name: $(grep -E '^#[0-9]+' "$dir/$name.log" | tail -1 | awk '{print $1, $3, $4, $5, $6}'), no crash"
    else
        echo "$name: CRASH, see $dir/$name.log"; status=1
    fi
done
exit $status
