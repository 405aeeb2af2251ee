#!/usr/bin/env bash
# Runs each fuzz target for RUNS executions (default 10,000,000) from its
# seeds and the corpus earlier runs kept, JOBS targets at a time (default
# 2), and prints per target the executions made, exec/s, the final
# coverage (libFuzzer's cov: edges and ft: features), the seconds it took
# and whether it found a crash.  Never fails on speed; exits non-zero only
# when a target crashed (the input is left in BUILD/tests/fuzz/).
#   tests/bench/fuzz.sh [BUILD [RUNS [JOBS [TARGET...]]]]
#   tests/bench/fuzz.sh build-fuzz 10000000 2                # all of them
#   tests/bench/fuzz.sh build-fuzz 1000000 1 fuzz_qmp fuzz_ovsdb
# MAX_SECONDS (environment) also caps each target's time; the executions it
# reached are then printed as they are.
# BUILD is configured as tests/fuzz/run.sh does (clang-14, -DLMNET_FUZZ=ON).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fuzz}
runs=${2:-10000000}
jobs=${3:-2}
shift $(($# < 3 ? $# : 3))
CC=${CC:-clang-14} cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DLMNET_FUZZ=ON \
    -DLMNET_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target fuzz >/dev/null
dir=$build/tests/fuzz
targets=("$@")
if ((${#targets[@]} == 0)); then
    for t in "$dir"/fuzz_*; do
        [[ -x $t && -f $t ]] && targets+=("$(basename "$t")")
    done
fi
limit=()
[[ -n ${MAX_SECONDS:-} ]] && limit=(-max_total_time="$MAX_SECONDS")

run_one() {
    local name=$1 start end status=ok
    mkdir -p "$dir/corpus/$name"
    start=$(date +%s)
    (cd "$dir" && "./$name" -runs="$runs" "${limit[@]}" -max_len=4096 -timeout=10 \
        -print_final_stats=1 -print_pcs=0 "corpus/$name" "seeds/$name") \
        >"$dir/$name.bench.log" 2>&1 || status=CRASH
    end=$(date +%s)
    local log=$dir/$name.bench.log
    local execs rate last
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
    rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    local cov ft
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    printf '%-20s execs=%-10s exec/s=%-7s cov=%-5s ft=%-6s seconds=%-6s %s\n' \
        "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$((end - start))" "$status"
    [[ $status == ok ]]
}

echo "# tests/bench/fuzz.sh $build $runs $jobs ${targets[*]} (MAX_SECONDS=${MAX_SECONDS:-none}); $(nproc) cores"
status=0
pids=()
for name in "${targets[@]}"; do
    run_one "$name" &
    pids+=($!)
    if ((${#pids[@]} >= jobs)); then
        wait "${pids[0]}" || status=1
        pids=("${pids[@]:1}")
    fi
done
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
exit $status
