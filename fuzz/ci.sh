#!/usr/bin/env bash
# A bounded fuzz pass for CI: builds every target of fuzz/Cargo.toml, runs each for SECONDS
# seconds (default 60) from the committed corpus, and fails if any target crashed.
#
#   fuzz/ci.sh [SECONDS]
#
# New inputs the fuzzer finds go to a scratch directory, not the committed corpus; crashing
# inputs go to fuzz/artifacts/<target>/ (git-ignored), and the log says how to replay them.
set -euo pipefail
seconds="${1:-60}"
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
    echo "== fuzz $target for ${seconds}s"
    if cargo fuzz run --sanitizer none --target-dir "$target_dir" "$target" \
        "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=60 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1; then
        grep -E 'DONE +cov:|stat::average_exec_per_sec' "$log" || true
    else
        failed+=("$target")
        grep -E -A3 'panicked at|ERROR: libFuzzer|Test unit written' "$log" || tail -40 "$log"
        echo "   replay: cargo fuzz run --sanitizer none $target fuzz/artifacts/$target/<file>"
        echo "      or:  cargo run -p sluice-fuzz --example replay -- $target fuzz/artifacts/$target"
    fi
done

echo "fuzzing took $(($(date +%s) - start))s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: crashes in ${failed[*]}" >&2
    exit 1
fi
