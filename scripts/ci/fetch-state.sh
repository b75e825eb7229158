#!/usr/bin/env bash
# Production's state for a pull request's job (.github/workflows/shopco-pr.yml):
#
#   scripts/ci/fetch-state.sh DIR
#
# Downloads the artifact `shopco-prod-state` (manifest.json and
# run_results.json) of the last successful run of shopco-deploy.yml on
# main into DIR, with the GitHub CLI (`gh`, on every GitHub runner; it
# reads GH_TOKEN, which needs `actions: read`). With no successful deploy
# yet, DIR is left empty and pr.sh builds everything. On a laptop, copy a
# production run's target/ instead.
set -euo pipefail
if [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir="$1"
repository="${GITHUB_REPOSITORY:?GITHUB_REPOSITORY names the repository (owner/name)}"
mkdir -p "$dir"
run="$(gh run list --repo "$repository" --workflow shopco-deploy.yml --branch main \
    --status success --limit 1 --json databaseId --jq '.[0].databaseId // empty')"
if [[ -z "$run" ]]; then
    echo "no successful deploy of main yet: no production state, the pull request builds everything" >&2
    exit 0
fi
gh run download "$run" --repo "$repository" --name shopco-prod-state --dir "$dir"
echo "the production state of deploy run $run is in $dir" >&2
