#!/usr/bin/env bash
# A bounded, reproducible fuzz pass for CI: builds every target of fuzz/Cargo.toml, runs each
# from the committed corpus for a fixed number of inputs with a fixed libFuzzer seed, and fails
# if any target crashed.
#
#   fuzz/ci.sh [SCALE]        (FUZZ_SEED=n picks another seed; default 1)
#
# The run counts below take about 60 s per target on a 2-core CI machine; SCALE multiplies
# them (default 1). A fixed seed and run count make the verdict a property of the commit:
# the same source passes or fails the same way on every run, so a crash found here is found
# again by `fuzz/ci.sh` locally. Open-ended exploration (new seeds, hours) is
# `fuzz/run-long.sh`; every crash it finds becomes a regression test.
#
# New inputs the fuzzer finds go to a scratch directory, not the committed corpus; crashing
# inputs go to fuzz/artifacts/<target>/ (git-ignored), and the log says how to replay them.
set -euo pipefail
# The workspace's release profile links with fat LTO; fuzz builds keep the default codegen,
# which builds faster and which the run counts here were set for.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
scale="${1:-1}"
seed="${FUZZ_SEED:-1}"
case "$scale" in
'' | *[!0-9]*)
    echo "usage: $0 [SCALE]  (SCALE: a whole number multiplying the per-target run counts)" >&2
    exit 2
    ;;
esac
# Inputs per target at SCALE 1, from the execution rates CI measured.
declare -A runs=(
    [decode_request]=4000000
    [decode_response]=4000000
    [log_recovery]=900000
    [node_ops]=100000
    [record_batch]=500000
)
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

target_dir="$root/fuzz/target"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
start=$(date +%s)
cargo fuzz build --sanitizer none --target-dir "$target_dir"

failed=()
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target" "fuzz/artifacts/$target" "fuzz/corpus/$target"
    log="$scratch/$target.log"
    count=$((${runs[$target]:-100000} * scale))
    echo "== fuzz $target: $count inputs, seed $seed"
    t0=$(date +%s)
    if cargo fuzz run --sanitizer none --target-dir "$target_dir" "$target" \
        "$scratch/$target" "fuzz/corpus/$target" -- \
        -seed="$seed" -runs="$count" -timeout=60 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1; then
        grep -E 'DONE +cov:|stat::average_exec_per_sec' "$log" || true
        echo "   took $(($(date +%s) - t0))s"
    else
        failed+=("$target")
        grep -E -A3 'panicked at|ERROR: libFuzzer|Test unit written' "$log" || tail -40 "$log"
        echo "   reproduce: FUZZ_SEED=$seed fuzz/ci.sh $scale"
        echo "   replay: cargo fuzz run --sanitizer none $target fuzz/artifacts/$target/<file>"
        echo "      or:  cargo run -p sluice-fuzz --example replay -- $target fuzz/artifacts/$target"
    fi
done

echo "fuzzing took $(($(date +%s) - start))s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: crashes in ${failed[*]}" >&2
    exit 1
fi
