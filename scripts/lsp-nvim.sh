#!/usr/bin/env bash
# `shopc lsp` in a real editor: headless Neovim (Debian's `neovim`,
# installed if missing) runs editors/nvim/lsp_test.lua on a copy of ShopCo:
# it breaks a column name and reads the diagnostic back, and hovers over
# `fact_orders` for its grain. Called by .ci/run after the release build;
# usable by hand: scripts/lsp-nvim.sh [path/to/shopc]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
shopc="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/shopc-target}/release/shopc}"
if [[ ! -x "$shopc" ]]; then
    echo "no shopc binary at $shopc (cargo build --release first)" >&2
    exit 2
fi
command -v nvim > /dev/null || scripts/apt-install.sh neovim

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r shopco_models "$work/shopco"
rm -rf "$work/shopco/target"

PROJECT="$work/shopco" SHOPC="$shopc" timeout 120 \
    nvim --headless -u NONE -i NONE -n -c "luafile $root/editors/nvim/lsp_test.lua" \
    > "$work/out.txt" 2> "$work/err.txt" || {
    echo "Neovim's LSP test failed:" >&2
    cat "$work/out.txt" "$work/err.txt" >&2
    exit 1
}
cat "$work/out.txt"
grep -qx ok "$work/out.txt"
