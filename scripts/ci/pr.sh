#!/usr/bin/env bash
# Slim CI for a pull request, as .github/workflows/shopco-pr.yml runs it,
# and as it runs on a laptop:
#
#   scripts/ci/pr.sh NUMBER STATE_DIR
#
# In the pull request's own environment, pr_NUMBER (its own schemas):
# 1. the freshness of production's sources, which the pull request reads
#    (reported in the summary; a stale source does not fail the pull
#    request, and alerts nobody: the nightly run does that);
# 2. `shopc build -s state:impacted --defer --state STATE_DIR`: what the
#    change impacts, column by column, built and tested, every parent it
#    does not build read from production (SHOPC_PR_SELECT changes the
#    selector: `state:modified+` builds every descendant). Without a
#    production state (no deploy yet), everything is built;
# 3. the job summary, appended to $GITHUB_STEP_SUMMARY (default:
#    PROJECT/target/summary.md): what was built and read from production,
#    every test, and for each rebuilt relation its rows and each
#    reconciliation's totals next to production's (`shopc diff`).
# The exit status is the build's.
set -euo pipefail
if [[ $# -ne 2 || ! "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 PULL_REQUEST_NUMBER STATE_DIR" >&2
    exit 2
fi
number="$1"
state="$2"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"
env="pr_$number"
summary="${GITHUB_STEP_SUMMARY:-$artifacts/summary.md}"

freshness=0
SLACK_WEBHOOK_URL='' step "$shopc" source freshness --project "$project" --env prod "${target_args[@]}" \
    || freshness=$?
# The freshness results, before the build writes its own artifacts.
sources="$(mktemp)"
trap 'rm -f "$sources"' EXIT
cp "$artifacts/sources.json" "$sources" 2>/dev/null || echo '{}' > "$sources"

selection=()
if [[ -f "$state/manifest.json" ]]; then
    selection=(-s "${SHOPC_PR_SELECT:-state:impacted}" --defer --state "$state")
else
    echo "no production state in $state (no deploy yet): building everything" >&2
fi
rm -f "$artifacts/run_results.json"
status=0
step "$shopc" build --project "$project" --env "$env" "${target_args[@]}" "${selection[@]}" \
    || status=$?

{
    python3 "$here/summary.py" "$env" "$artifacts/run_results.json" "$sources" "$freshness"
    if [[ -f "$state/manifest.json" && -f "$artifacts/run_results.json" ]]; then
        "$shopc" diff --project "$project" --env "$env" "${target_args[@]}" --state "$state" \
            --format markdown || echo "_Comparing with production failed (above in the log)._"
    fi
} >> "$summary"
echo "wrote the job summary to $summary" >&2
exit "$status"
