#!/usr/bin/env bash
# Tests the editor support in editors/, over every .shop file of ShopCo and of
# the diagnostic fixtures. Called by .ci/run; usable by hand:
#
#   scripts/editors.sh          run the tests
#   scripts/editors.sh update   rewrite the VS Code grammar's snapshots
#
# 1. vscode-tmgrammar-test (npm, installed from editors/vscode/package-lock.json
#    into editors/vscode/node_modules): the assertions of
#    editors/vscode/test/*.test.shop, one per token class;
# 2. vscode-tmgrammar-snap: how each real file tokenizes equals its snapshot
#    in editors/vscode/test/snapshots/ (a file without one fails);
# 3. editors/vscode/test/coverage.js: no token of a real file is left without
#    a scope;
# 4. vim (installed from Debian's packages if missing): each real file is
#    detected as `shop` and its syntax loads without an error, no keyword of
#    grammar/shop.pest is left without a group, and the named tokens of the
#    test file have their groups (editors/vim/test.vim).
#
# That every keyword of grammar/shop.pest is in both grammars is checked by
# `cargo test` (tests/editors.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
mode="${1:-test}"
if [[ "$mode" != test && "$mode" != update ]]; then
    echo "usage: $0 [update]" >&2
    exit 2
fi

vscode="$root/editors/vscode"
snapshots="$vscode/test/snapshots"
mapfile -t files < <(find shopco_models tests/diagnostics -name '*.shop' | sort)

echo "-- npm ci (vscode-tmgrammar-test)"
(cd "$vscode" && npm ci --no-audit --no-fund --loglevel=error)
bin="$vscode/node_modules/.bin"

echo "-- the extension's client: extension.js parses and vscode-languageclient resolves"
(cd "$vscode" && npm run --silent check)

echo "-- token assertions: editors/vscode/test/*.test.shop"
(cd "$vscode" && "$bin/vscode-tmgrammar-test" --config package.json 'test/*.test.shop')

echo "-- snapshots of ${#files[@]} real files"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
missing=0
for file in "${files[@]}"; do
    mkdir -p "$work/$(dirname "$file")"
    cp "$file" "$work/$file"
    if [[ -f "$snapshots/$file.snap" ]]; then
        cp "$snapshots/$file.snap" "$work/$file.snap"
    elif [[ "$mode" == test ]]; then
        echo "no snapshot for $file: run scripts/editors.sh update and review it" >&2
        missing=1
    fi
done
if [[ "$missing" == 1 ]]; then
    exit 1
fi
if [[ "$mode" == update ]]; then
    (cd "$work" && "$bin/vscode-tmgrammar-snap" --config "$vscode/package.json" -u "**/*.shop")
    rm -rf "$snapshots"
    for file in "${files[@]}"; do
        mkdir -p "$snapshots/$(dirname "$file")"
        cp "$work/$file.snap" "$snapshots/$file.snap"
    done
    echo "snapshots written to editors/vscode/test/snapshots/"
else
    (cd "$work" && "$bin/vscode-tmgrammar-snap" --config "$vscode/package.json" "**/*.shop")
fi

echo "-- every token has a scope"
node "$vscode/test/coverage.js" "$vscode/syntaxes/shop.tmLanguage.json" "${files[@]}"

echo "-- vim"
if ! command -v vim >/dev/null || ! vim --version | grep -q '+syntax'; then
    scripts/apt-install.sh vim-nox
fi
result="$work/vim-result"
keywords="$(grep -oP 'kw_\w+\s*=\s*@\{\s*"\K\w+' grammar/shop.pest | tr '\n' ' ')"
SHOP_KEYWORDS="$keywords" SHOP_VIM_RESULT="$result" \
    vim -Nu NONE -i NONE -Es --cmd "set rtp^=$root/editors/vim" -S editors/vim/test.vim -- "${files[@]}" \
    || true
if [[ ! -f "$result" ]]; then
    echo "vim did not finish editors/vim/test.vim" >&2
    exit 1
fi
if [[ -s "$result" ]]; then
    cat "$result" >&2
    exit 1
fi
echo "vim: ${#files[@]} files and the token table pass"
