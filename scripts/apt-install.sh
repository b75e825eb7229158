#!/usr/bin/env bash
# Installs Debian (or Ubuntu) packages for the project's scripts:
#
#   scripts/apt-install.sh PACKAGE...
#
# Without asking, quietly, with sudo when not root (GitHub's runners), and
# with `apt-get update` first only when the package lists are too old to
# find a package. Its output goes to stderr.
set -euo pipefail
if [[ $# -eq 0 ]]; then
    echo "usage: $0 PACKAGE..." >&2
    exit 2
fi
as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
    as_root=(sudo --non-interactive)
fi
echo "installing $* from the distribution's packages" >&2
export DEBIAN_FRONTEND=noninteractive
install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@")
"${install[@]}" >&2 || { "${as_root[@]}" apt-get update -q >&2 && "${install[@]}" >&2; }
