#!/usr/bin/env bash
# The documentation site of ShopCo in a real browser, as .ci/run runs it:
#
#   scripts/browser.sh [SHOTS_DIR]
#
# Installs Debian's Chromium if it is missing and playwright-core from the
# npm registry (tests/browser/package-lock.json), generates ShopCo's site
# with the release build of shopc, opens it from file:// and checks it
# (tests/browser/docs.mjs: every relation listed, the search, fact_orders'
# grain, settings, columns and column lineage, the lineage graph, links, no
# console error). Screenshots go to SHOTS_DIR (default: target/browser/).
set -euo pipefail
cd "$(dirname "$0")/.."

shots="${1:-target/browser}"
target_dir="${CARGO_TARGET_DIR:-target}"
shopc="$target_dir/release/shopc"
if [[ ! -x "$shopc" ]]; then
    echo "error: $shopc is missing: build it first (cargo build --release)" >&2
    exit 2
fi

if ! command -v chromium >/dev/null; then
    scripts/apt-install.sh chromium
fi
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A copy, so that the run leaves the project's own target/ alone.
cp -r shopco_models "$work/shopco"
rm -rf "$work/shopco/target"
"$shopc" docs generate --project "$work/shopco" --out "$work/site"
mkdir -p "$shots"
CHROMIUM="$(command -v chromium)" node tests/browser/docs.mjs \
    "$work/site" "$work/shopco/target/manifest.json" "$shots"
echo "screenshots: $(cd "$shots" && pwd)/{index,fact_orders,lineage}.png"
