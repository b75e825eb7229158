#!/usr/bin/env bash
# Production's deploy, as .github/workflows/shopco-deploy.yml runs it on
# every push to main, and as it runs on a laptop:
#
#   scripts/ci/deploy.sh STATE_DIR DOCS_DIR
#
# 1. Builds and tests production (`shopc build --env prod`), reading the
#    raw tables the loader filled (SHOPC_LOADED) and never seeding them,
#    so a deploy does not put old extracts back. A failure alerts Slack
#    (shop.toml's team_slack, when SLACK_WEBHOOK_URL is set) and ends the
#    deploy: the state in STATE_DIR stays the last good one.
# 2. Keeps the build's manifest.json and run_results.json in STATE_DIR: the
#    production state that pull requests compare with and defer to.
# 3. Writes the documentation site of what was deployed into DOCS_DIR, with
#    each relation's row count read from the target.
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 STATE_DIR DOCS_DIR" >&2
    exit 2
fi
state="$1"
docs="$2"
source "$(dirname "$0")/lib.sh"

status=0
step "$shopc" build --project "$project" --env prod "${target_args[@]}" "${loaded_args[@]}" || status=$?
if [[ $status -ne 0 ]]; then
    echo "the production build failed (exit $status): the state in $state is left as it was" >&2
    exit "$status"
fi
mkdir -p "$state"
cp "$artifacts/manifest.json" "$artifacts/run_results.json" "$state/"
echo "kept the production state in $state" >&2
step "$shopc" docs generate --project "$project" --env prod "${target_args[@]}" --out "$docs"
