#!/usr/bin/env bash
# Whether a pull request changes a folder (shopco-pr.yml's first job):
#
#   scripts/ci/touches.sh BASE HEAD FOLDER
#
# Prints `shopco=true` or `shopco=false` (a step output): true when a file
# under FOLDER differs between HEAD and its merge base with BASE.
set -euo pipefail
if [[ $# -ne 3 ]]; then
    echo "usage: $0 BASE HEAD FOLDER" >&2
    exit 2
fi
if git diff --quiet "$1...$2" -- "$3"; then
    echo "shopco=false"
else
    echo "shopco=true"
fi
