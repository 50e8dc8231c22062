#!/usr/bin/env bash
# A long fuzzing run of one target, growing its committed corpus:
#
#   fuzz/run-long.sh <target> <minutes>
#
# New inputs go to fuzz/corpus/<target>/; minimize it afterwards with
#   cargo fuzz cmin --sanitizer none <target>
# Crashing inputs go to fuzz/artifacts/<target>/. With KEEP_GOING=1 the run continues past
# crashes (libFuzzer's fork mode) and collects them all; replay them with
#   cargo run -p sluice-fuzz --example replay -- <target> fuzz/artifacts/<target>
# JOBS=n (with KEEP_GOING=1) runs n fuzzing processes.
set -euo pipefail
# The workspace's release profile links with fat LTO; fuzz builds keep the default codegen,
# which builds faster and which the run counts here were set for.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
if [ $# -ne 2 ]; then
    echo "usage: $0 <target> <minutes>" >&2
    exit 2
fi
target="$1"
minutes="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

extra=()
if [ "${KEEP_GOING:-0}" = 1 ]; then
    extra=(-fork="${JOBS:-1}" -ignore_crashes=1)
fi
mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
exec cargo fuzz run --sanitizer none --target-dir "$root/fuzz/target" "$target" \
    "fuzz/corpus/$target" -- \
    -max_total_time="$((minutes * 60))" -timeout=60 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" "${extra[@]}"
