#!/usr/bin/env bash
# The documentation site at scale, measured (not a test):
#
#   scripts/bench-docs.sh [MODELS]     (default 10000)
#
# Writes the synthetic project of the benches, times `shopc docs generate`
# on it (the whole command: load, compile, manifest, pages, files), and the
# index's load in headless Chromium (tests/browser/load.mjs, median of 5).
# Targets (issue 20): generate at most 2 s, the index loaded in at most 3 s.
set -euo pipefail
cd "$(dirname "$0")/.."

models="${1:-10000}"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin shopc --example write_synth
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$target_dir/release/examples/write_synth" "$models" "$work/project"
# Five times: into a new folder, then over the site already there (as a
# second `docs generate` writes); each run's figures, then the median wall.
walls=()
for run in 1 2 3 4 5; do
    /usr/bin/time -o "$work/time" -f "%e s wall, %U s user, %M KB peak" \
        "$target_dir/release/shopc" docs generate --project "$work/project" --out "$work/site" > /dev/null
    echo "docs generate, run $run: $(cat "$work/time")"
    walls+=("$(cut -d' ' -f1 "$work/time")")
done
echo "docs generate: median $(printf '%s\n' "${walls[@]}" | sort -n | sed -n 3p) s wall of 5"
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
CHROMIUM="$(command -v chromium)" node tests/browser/load.mjs "$work/site" 5
