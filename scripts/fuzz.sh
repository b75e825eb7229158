#!/usr/bin/env bash
# Fuzz `shopc check` (fuzz/fuzz_targets/check.rs) for a given time:
#
#   scripts/fuzz.sh SECONDS [JOBS]
#
# Installs cargo-fuzz from crates.io if it is missing, seeds a corpus with
# every `.shop` file of the repository (and ShopCo's whole project in one
# file), and runs libFuzzer on JOBS processes (default: the number of cores)
# with the project's own token-level mutator. The crate is built without
# DuckDB (`default-features = false`), on the stable toolchain: libFuzzer's
# coverage instrumentation needs no sanitizer (`-s none`), and
# RUSTC_BOOTSTRAP lets cargo-fuzz pass its flags to a stable rustc.
#
# Inputs are up to 1 KiB (SHOPC_FUZZ_MAX_LEN to change it): big enough for a
# few models, small enough for thousands of runs a second. A crash, a timeout
# (an input taking more than 10 s) or an input needing more than 2 GB is
# written to fuzz/artifacts/check/ and fails the run; copy it to
# tests/fuzz_found/, where tests/hostile.rs checks it. At the end the script
# prints how many inputs were run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-}"
jobs="${2:-$(nproc)}"
if [[ -z "$seconds" ]]; then
    echo "usage: $0 SECONDS [JOBS]" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

corpus=fuzz/corpus/check
mkdir -p "$corpus" fuzz/artifacts/check
find shopco_models tests/diagnostics tests/fixtures editors -name '*.shop' -print0 |
    while IFS= read -r -d '' file; do
        cp "$file" "$corpus/seed_$(echo "$file" | tr '/' '_')"
    done
find shopco_models -name '*.shop' -print0 | sort -z | xargs -0 cat > "$corpus/seed_shopco_whole"

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopc-target}/fuzz"
echo "== building the fuzz target"
(cd fuzz && cargo fuzz build check --sanitizer none --release)
binary="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/check"

echo "== fuzzing check for ${seconds}s on $jobs job(s)"
cd fuzz
rm -f fuzz-*.log
status=0
"$binary" corpus/check -jobs="$jobs" -workers="$jobs" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -max_len="${SHOPC_FUZZ_MAX_LEN:-1024}" -print_final_stats=1 \
    -artifact_prefix=artifacts/check/ > fuzz.out 2>&1 || status=$?
# Each job's log holds its own final count (the main log repeats them).
runs=$( (grep -ho 'stat::number_of_executed_units: *[0-9]*' fuzz-*.log 2>/dev/null || true) | awk '{s += $2} END {print s + 0}')
cat fuzz-*.log >> fuzz.out 2>/dev/null || true
rm -f fuzz-*.log
(grep -h -E 'ERROR|SUMMARY|crash-|timeout-|oom-|panicked' fuzz.out || true) | head -40
echo "fuzz: $runs inputs run in ${seconds}s on $jobs job(s) (log: fuzz/fuzz.out)"
found=$(ls artifacts/check 2>/dev/null | wc -l)
if [[ "$status" != 0 || "$found" != 0 ]]; then
    echo "fuzz: $found input(s) in fuzz/artifacts/check/ crashed, hung or ran out of memory" >&2
    exit 1
fi
