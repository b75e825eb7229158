#!/usr/bin/env bash
# ShopCo's loader: puts a night's raw extracts (CSV files, one per table)
# into production's raw tables, as Fivetran or Airbyte would:
#
#   scripts/ci/load.sh [EXTRACTS_DIR]     (default: the project's seeds/)
#
# It is `shopc seed --env prod --seeds DIR`. Production's builds
# (deploy.sh, nightly.sh) read the raw tables and never load them, so a
# deploy in the afternoon does not put the first day's data back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

extracts=()
if [[ -n "${1:-}" ]]; then
    extracts=(--seeds "$1")
fi
step "$shopc" seed --project "$project" --env prod "${target_args[@]}" "${extracts[@]}"
