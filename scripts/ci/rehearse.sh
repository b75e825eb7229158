#!/usr/bin/env bash
# The whole delivery pipeline of ShopCo, played on embedded DuckDB with the
# scripts the workflows call (.github/workflows/shopco-*.yml), in a
# throwaway git repository and one warehouse file, as .ci/run runs it:
#
#   scripts/ci/rehearse.sh
#
#  1. the loader fills production's raw tables; main is deployed
#     (deploy.sh): production built, its state kept, its docs written;
#  2. a branch changes one mart (dim_customers' high-value threshold) and
#     its pull request's job (pr.sh) builds only that mart and what it
#     impacts, reading every other parent from production, and writes the
#     job summary; closing the pull request drops its schemas (pr-close.sh);
#  3. the branch is merged and main deployed again: the new state is the
#     branch's, and a pull request that changes nothing builds nothing;
#  4. the night's extracts arrive, one table of them stale, and the
#     nightly run (nightly.sh) skips what reads it and alerts Slack: here a
#     webhook receiver on 127.0.0.1 (receiver.py) that records requests;
#  5. alert.sh, a workflow's alert for a job that fails outside shopc.
#
# Each step's assertions read run_results.json (what ran, what was
# deferred), the job summary and the receiver's recorded requests; the
# first that fails ends the rehearsal with exit 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
checkout="$(pwd)"

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet --bin shopc --example gen_shopco
if [[ "$target_dir" != /* ]]; then
    target_dir="$checkout/$target_dir"
fi
export SHOPC="$target_dir/release/shopc"
generate="$(dirname "$SHOPC")/examples/gen_shopco"

work="$(mktemp -d)"
receiver_pid=
cleanup() {
    if [[ -n "$receiver_pid" ]]; then
        kill "$receiver_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== rehearsal: %s\n' "$*"; }
fail() {
    echo "rehearsal FAILED: $*" >&2
    exit 1
}
# expect WHAT PYTHON_EXPRESSION: the expression, over `results` (the last
# run_results.json), `requests` (what the receiver recorded) and `text()`
# (a file's text), must be true.
expect() {
    python3 - "$1" "$2" "$repo/shopco_models/target/run_results.json" "$work/receiver/requests.jsonl" <<'PY' \
        || fail "$1"
import json, sys
what, expression, results_path, requests_path = sys.argv[1:]
try:
    results = json.load(open(results_path, encoding="utf-8"))
except FileNotFoundError:
    results = {}
requests = [json.loads(line) for line in open(requests_path, encoding="utf-8")]
nodes = results.get("results", [])
def ids(status, kind=""):
    return sorted(n["unique_id"] for n in nodes if n["status"] == status and n["unique_id"].startswith(kind))
def text(path):
    return open(path, encoding="utf-8").read()
try:
    ok = eval(expression)
except Exception as e:
    ok = False
    print(f"  {type(e).__name__}: {e}", file=sys.stderr)
if not ok:
    print(f"  expected: {expression}", file=sys.stderr)
    print(f"  built: {ids('success')}; deferred: {results.get('deferred')}; requests: {len(requests)}", file=sys.stderr)
    sys.exit(1)
print(f"  ok: {what}")
PY
}
hours_ago() { date -u -d "-$1 hours" '+%Y-%m-%d %H:%M:%S'; }

say "a repository with ShopCo, and a loader's fresh first day"
repo="$work/repo"
mkdir -p "$repo"
cp -r shopco_models "$repo/"
rm -rf "$repo/shopco_models/target"
"$generate" --scale 1 --loaded-at "$(hours_ago 1)" --out "$repo/shopco_models/seeds" > /dev/null
# Production's warehouse: one DuckDB file every job reaches (on GitHub,
# the Snowflake target `prod`).
cat >> "$repo/shopco_models/profiles.toml" <<EOF

[targets.warehouse]
adapter = "duckdb"
path = "$work/warehouse.duckdb"
EOF
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=rehearsal -c user.email=rehearsal@localhost add -A
git -C "$repo" -c user.name=rehearsal -c user.email=rehearsal@localhost commit -q -m "ShopCo"
export SHOPC_PROJECT="$repo/shopco_models" SHOPC_TARGET=warehouse

mkdir -p "$work/receiver"
python3 scripts/ci/receiver.py "$work/receiver" &
receiver_pid=$!
for _ in $(seq 1 100); do
    [[ -f "$work/receiver/port" ]] && break
    sleep 0.1
done
[[ -f "$work/receiver/port" ]] || fail "the webhook receiver did not start"
port="$(cat "$work/receiver/port")"
export SLACK_WEBHOOK_URL="http://127.0.0.1:$port/slack"
export GITHUB_RUN_URL="http://127.0.0.1/rehearsal/run"

say "1. the loader fills raw; main is deployed"
scripts/ci/load.sh
scripts/ci/deploy.sh "$work/prod-state" "$work/site"
expect "production built every model and passed every test" \
    "ids('success', 'model.') and 'model.shopco.fact_orders' in ids('success') and not ids('error') and not ids('fail') and not ids('skipped')"
expect "the deploy seeded nothing: raw is the loader's" "not ids('success', 'seed.')"
expect "the deploy read nothing from elsewhere" "results['deferred'] == [] and results['metadata']['environment'] == 'prod'"
expect "the production state is kept" \
    "json.loads(text('$work/prod-state/manifest.json'))['metadata']['environment'] == 'prod' and 'results' in json.loads(text('$work/prod-state/run_results.json'))"
expect "the docs site is written, with row counts" \
    "'fact_orders' in text('$work/site/index.html') and 'id=\"rows\"' in text('$work/site/nodes/model.shopco.fact_orders.html')"
expect "a passing deploy alerts nobody" "requests == []"
cp -r "$work/prod-state" "$work/first-state"

say "2. a branch changes one mart; its pull request builds only what that impacts"
git -C "$repo" checkout -q -b lower-high-value
sed -i "s/when sum(f.revenue) >= 1000 then 'high_value'/when sum(f.revenue) >= 900 then 'high_value'/" \
    "$repo/shopco_models/models/marts/dim_customers.shop"
git -C "$repo" diff --quiet && fail "the change did not apply"
git -C "$repo" -c user.name=rehearsal -c user.email=rehearsal@localhost commit -q -am "High value from 900"
export GITHUB_STEP_SUMMARY="$work/summary.md"
scripts/ci/pr.sh 7 "$work/prod-state"
expect "the pull request built dim_customers alone" "ids('success') == ['model.shopco.dim_customers']"
expect "and tested it" \
    "'test.shopco.accepted_values_dim_customers_value_segment' in ids('pass') and not ids('fail') and not ids('error')"
expect "it read its parents from production" \
    "{'unique_id': 'model.shopco.fact_orders', 'relation': 'marts.fact_orders'} in results['deferred'] and {'unique_id': 'model.shopco.stg_customers', 'relation': 'staging.stg_customers'} in results['deferred']"
expect "it ran in its own environment" "results['metadata']['environment'] == 'pr_7'"
expect "the job summary says what was built and tested" \
    "'## shopco in \`pr_7\`: passed' in text('$work/summary.md') and '| \`model.shopco.dim_customers\` | success |' in text('$work/summary.md') and 'Read from production:' in text('$work/summary.md')"
expect "and the rows and the revenue next to production's" \
    "'| \`dim_customers\` |' in text('$work/summary.md') and '**reconcile revenue**' in text('$work/summary.md') and '| \`dim_customers.lifetime_revenue\` |' in text('$work/summary.md')"
expect "where the revenue is the same everywhere" \
    "'| \`dim_customers.lifetime_revenue\` | ' in text('$work/summary.md') and ' | = |' in text('$work/summary.md') and 'error' not in text('$work/summary.md').split('**reconcile revenue**')[1]"
expect "a passing pull request alerts nobody" "requests == []"
cat "$work/summary.md"

scripts/ci/pr-close.sh 7 | tee "$work/close.txt"
expect "closing the pull request drops its schema" "'dropped pr_7_marts' in text('$work/close.txt')"
scripts/ci/pr-close.sh 7 | tee "$work/close.txt"
expect "closing it twice finds nothing left" "'dropped' not in text('$work/close.txt')"

say "3. the branch is merged; main is deployed again"
git -C "$repo" checkout -q main
git -C "$repo" merge -q --ff-only lower-high-value
scripts/ci/deploy.sh "$work/prod-state" "$work/site"
expect "production rebuilt dim_customers" "'model.shopco.dim_customers' in ids('success') and not ids('fail')"
expect "the new production state is the merged code's" \
    "json.loads(text('$work/prod-state/manifest.json'))['nodes']['model.shopco.dim_customers']['fingerprints']['meaning'] != json.loads(text('$work/first-state/manifest.json'))['nodes']['model.shopco.dim_customers']['fingerprints']['meaning']"
rm -f "$work/summary.md"
scripts/ci/pr.sh 8 "$work/prod-state"
expect "a pull request that changes nothing builds nothing" \
    "'Nothing to build' in text('$work/summary.md')"

say "4. the night's extracts arrive, the web events a day late; the nightly run alerts"
"$generate" --day 2 --loaded-at "$(hours_ago 1)" --out "$work/day2" > /dev/null
"$generate" --day 2 --loaded-at "$(hours_ago 30)" --out "$work/day2-late" > /dev/null
cp "$work/day2-late/raw_web_events.csv" "$work/day2/"
scripts/ci/load.sh "$work/day2"
status=0
scripts/ci/nightly.sh || status=$?
[[ $status -eq 1 ]] || fail "the nightly run should fail on the stale web events, and exited $status"
expect "the stale source is an error" \
    "[n['message'] for n in nodes if n['unique_id'] == 'source.shopco.raw.raw_web_events'][0].startswith('freshness:')"
expect "what reads it was skipped" "'model.shopco.stg_web_events' in ids('skipped')"
expect "the rest merged the new day" "'model.shopco.fact_orders' in ids('success') and 'snapshot.shopco.customers_snapshot' in ids('success')"
expect "Slack got one alert" "len(requests) == 1 and requests[0]['path'] == '/slack'"
expect "naming production, the stale table and the run" \
    "'prod' in json.dumps(requests[0]['body']) and 'raw_web_events' in json.dumps(requests[0]['body']) and 'http://127.0.0.1/rehearsal/run' in json.dumps(requests[0]['body'])"

say "5. a job that fails outside shopc alerts through alert.sh"
scripts/ci/alert.sh "shopco nightly failed outside the build" 2>&1 | tee "$work/alert.txt"
expect "Slack got the alert, with the run's link" \
    "len(requests) == 2 and requests[1]['body']['text'] == ':x: shopco nightly failed outside the build <http://127.0.0.1/rehearsal/run|View the run>'"
expect "and the webhook's address was never printed" "'$port' not in text('$work/alert.txt')"

say "passed: deploy, pull request, merge, deploy, nightly, an alert"
