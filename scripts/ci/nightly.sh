#!/usr/bin/env bash
# The scheduled production run, as .github/workflows/shopco-nightly.yml
# runs it every night after the loader, and as it runs on a laptop:
#
#   scripts/ci/nightly.sh
#
# `shopc build --env prod --check-freshness`: first the freshness of every
# source table the build reads (a table past `error_after` skips what reads
# it), then the incremental models merge the new rows, the views and tables
# are rebuilt, the snapshot records what changed, and every test runs. A
# stale source or a failure alerts Slack (shop.toml's team_slack, when
# SLACK_WEBHOOK_URL is set); the exit status is the build's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step "$shopc" build --project "$project" --env prod --check-freshness "${target_args[@]}" "${loaded_args[@]}"
