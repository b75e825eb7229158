#!/usr/bin/env bash
# A Slack alert from a workflow, for a job that failed where shopc could
# not say so itself (shopc's own notifications, shop.toml's team_slack,
# report every build's failures and stale sources):
#
#   scripts/ci/alert.sh MESSAGE
#
# Posts MESSAGE, and GITHUB_RUN_URL's link when set, to the incoming
# webhook in SLACK_WEBHOOK_URL (a secret: never printed). Without it, says
# so and exits 0; an unreachable webhook is a warning, never a failure.
set -euo pipefail
if [[ $# -ne 1 ]]; then
    echo "usage: $0 MESSAGE" >&2
    exit 2
fi
if [[ -z "${SLACK_WEBHOOK_URL:-}" ]]; then
    echo "warning: SLACK_WEBHOOK_URL is not set: no alert was sent" >&2
    exit 0
fi
text=":x: $1"
if [[ -n "${GITHUB_RUN_URL:-}" ]]; then
    text="$text <$GITHUB_RUN_URL|View the run>"
fi
body="$(python3 -c 'import json, sys; print(json.dumps({"text": sys.argv[1]}))' "$text")"
if ! curl --silent --show-error --fail --max-time 10 -H 'Content-Type: application/json' \
    --data "$body" "$SLACK_WEBHOOK_URL" > /dev/null 2>&1; then
    echo "warning: the alert was not sent: the webhook could not be reached or refused it" >&2
fi
