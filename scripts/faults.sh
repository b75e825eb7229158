#!/usr/bin/env bash
# The fault cases of tests/faults.rs, by hand: builds of ShopCo killed at
# several moments, a disk that fills up during a build (a tmpfs in a mount
# namespace of its own, `unshare`), two builds at once, on embedded DuckDB
# and on PostgreSQL. After each fault every table holds exactly its old or
# its new rows, and a rerun gives the new state.
#
#   scripts/faults.sh            starts PostgreSQL (scripts/postgres.sh) unless
#                                SHOPC_PG_PORT names one, runs the cases, stops it
#
# `.ci/run` runs them with the rest of `cargo test --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopc-target}"

if [[ -z "${SHOPC_PG_PORT:-}" ]]; then
    servers="$(mktemp -d)"
    chmod 755 "$servers"
    trap 'scripts/postgres.sh stop "$servers/pg" || true; rm -rf "$servers"' EXIT
    eval "export $(scripts/postgres.sh start "$servers/pg")"
fi
cargo test --release --test integration faults::
