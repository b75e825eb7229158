#!/usr/bin/env bash
# jaffle-shop's data, for examples/jaffle_shop: the CSVs its pinned generator
# (jafgen, from PyPI) writes, put where the project's seeds are read.
#
#   scripts/jaffle.sh DIR [YEARS]   install jafgen into a virtualenv if
#                                   missing, simulate YEARS years of the shop
#                                   (default 1) and write raw_*.csv into DIR
#
# jafgen draws new ids and orders on every run: tests compare shopc's tables
# with jaffle-shop's own SQL over the same data, never with fixed numbers.
# The virtualenv lives in $SHOPC_JAFGEN_VENV (default
# ~/.cache/shopc-jafgen-venv) so that later runs reuse it. The version is
# jaffle-shop's pin (its requirements.txt).
set -euo pipefail

dir="${1:-}"
years="${2:-1}"
if [[ -z "$dir" ]]; then
    echo "usage: $0 DIR [YEARS]" >&2
    exit 2
fi
venv="${SHOPC_JAFGEN_VENV:-$HOME/.cache/shopc-jafgen-venv}"
if [[ ! -x "$venv/bin/jafgen" ]]; then
    echo "installing jafgen from PyPI into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "jafgen==0.4.12" >&2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# jafgen writes ./jaffle-data/; its progress bars go to stderr's terminal.
(cd "$work" && "$venv/bin/jafgen" "$years" > /dev/null)
mv "$work"/jaffle-data/raw_*.csv "$dir"/
echo "jafgen: $years year(s) of jaffle-shop in $dir ($(wc -l < "$dir/raw_orders.csv") lines of orders)" >&2
