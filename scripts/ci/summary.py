"""A pull request's job summary, in Markdown, from shopc's artifacts
(scripts/ci/pr.sh): the sources' freshness, what the build built, read
from production and tested.

    python3 scripts/ci/summary.py ENV RUN_RESULTS SOURCES FRESHNESS_EXIT
"""

import json
import sys


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def load(path):
    """A JSON artifact; `{}` when the command wrote none (a build with
    nothing to do writes no run_results.json)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def main(env, run_results, sources, freshness_exit):
    results = load(run_results)
    fresh = load(sources)
    counts = results.get("summary", {})
    nodes = results.get("results", [])
    failed = counts.get("errors", 0) > 0
    print(f"## shopco in `{env}`: {'failed' if failed else 'passed'}\n")
    if results:
        print(
            f"{counts.get('ok', 0)} ok, {counts.get('warnings', 0)} warnings, "
            f"{counts.get('errors', 0)} errors, {counts.get('skipped', 0)} skipped "
            f"in {results['invocation']['elapsed_seconds']} s: "
            f"`shopc {' '.join(results['invocation']['args'])}`\n"
        )
    tables = fresh.get("results", [])
    if tables:
        by = {}
        for t in tables:
            by.setdefault(t.get("status"), []).append(t.get("unique_id", "?"))
        line = ", ".join(f"{len(ids)} {status}" for status, ids in sorted(by.items()))
        note = " (the pull request reads them; it does not fail for them)" if freshness_exit != "0" else ""
        print(f"**Production's sources**: {line}{note}\n")
        for status in ("warn", "error", "runtime_error"):
            for uid in by.get(status, []):
                print(f"- {status}: `{uid}`")
        if any(s in by for s in ("warn", "error", "runtime_error")):
            print()
    built = [n for n in nodes if not n.get("unique_id", "").startswith(("test.", "reconciliation.", "hook."))]
    tests = [n for n in nodes if n.get("unique_id", "").startswith(("test.", "reconciliation."))]
    if built:
        print("| built | status | seconds | message |\n|---|---|---:|---|")
        for n in built:
            print(f"| `{cell(n['unique_id'])}` | {n['status']} | {n.get('seconds', 0)} | {cell(n.get('message', ''))} |")
        print()
    deferred = results.get("deferred", [])
    if deferred:
        print("Read from production: " + ", ".join(f"`{d['relation']}`" for d in deferred) + "\n")
    if tests:
        passed = sum(1 for t in tests if t["status"] == "pass")
        print(f"**Tests**: {passed} of {len(tests)} passed\n")
        problems = [t for t in tests if t["status"] != "pass"]
        if problems:
            print("| test | status | failing rows | message |\n|---|---|---:|---|")
            for t in problems:
                print(f"| `{cell(t['unique_id'])}` | {t['status']} | {t.get('failures', '')} | {cell(t.get('message', ''))} |")
            print()
    if not nodes:
        print("Nothing to build: the pull request changes no node.\n")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
