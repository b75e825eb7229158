#!/usr/bin/env bash
# When a pull request closes (merged or not), its schemas go:
#
#   scripts/ci/pr-close.sh NUMBER
#
# `shopc env drop pr_NUMBER --yes`: every schema the environment writes,
# a line each (`dropped` or `absent`); the schemas of production and of
# other pull requests are not touched.
set -euo pipefail
if [[ $# -ne 1 || ! "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 PULL_REQUEST_NUMBER" >&2
    exit 2
fi
source "$(dirname "$0")/lib.sh"

step "$shopc" env drop "pr_$1" --yes --project "$project" "${target_args[@]}"
