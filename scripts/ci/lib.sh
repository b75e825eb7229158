# Sourced by the scripts of the pipeline (scripts/ci/*.sh): which shopc,
# which project, where it runs. The workflows and scripts/ci/rehearse.sh
# set these; on a laptop the defaults build ShopCo on embedded DuckDB.
#
#   SHOPC          the shopc binary (default: `shopc` on PATH)
#   SHOPC_PROJECT  the project folder (default: shopco_models)
#   SHOPC_TARGET   a target of the project's profiles.toml (default: none,
#                  the embedded DuckDB file under the project's target/)
#   SHOPC_LOADED   the sources a loader fills in production, which deploys
#                  and nightly builds read and never seed (default: raw;
#                  scripts/ci/load.sh is ShopCo's loader)
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are the sourcing script's

shopc="${SHOPC:-shopc}"
project="${SHOPC_PROJECT:-shopco_models}"
target_args=()
if [[ -n "${SHOPC_TARGET:-}" ]]; then
    target_args=(--target "$SHOPC_TARGET")
fi
# Production's builds leave the loaded sources to the loader.
loaded_args=()
for source in ${SHOPC_LOADED-raw}; do
    loaded_args+=(--exclude "source:$source")
done
# The project's target folder, where every command writes its artifacts.
artifacts="$project/target"

if ! command -v "$shopc" >/dev/null; then
    echo "error: \`$shopc\` is not a command: install shopc (cargo install --path .) or set SHOPC" >&2
    exit 2
fi
if [[ ! -f "$project/shop.toml" ]]; then
    echo "error: \`$project\` is not a project (no shop.toml): set SHOPC_PROJECT" >&2
    exit 2
fi

# Runs a step, printing it as the runner's log shows commands.
step() {
    echo "+ $*" >&2
    "$@"
}
