#!/usr/bin/env bash
# shopc next to dbt and SQLMesh on the same projects, run in pairs.
#
#   benches/compare.sh [--quick] [--runs N] [--sqlmesh-10k]
#
# Installs dbt-core, dbt-duckdb and sqlmesh (pinned below) into two
# virtualenvs under $SHOPC_COMPARE_VENV (default ~/.cache/shopc-compare-venv),
# builds shopc in release, and writes each project three times, one per
# tool, with examples/write_peer.rs: the same relations, materializations,
# SQL, data tests and seeds (see that file for what maps to what). Then it
# times every piece of work with each tool in turn, N times (default 3),
# each run from a clean state (no target/, no cache, no database), and
# prints a Markdown table of the medians: wall seconds, CPU seconds (user +
# system) and peak memory, and the peer's CPU over shopc's.
#
#   --quick        one run of each, without the 10,000-model project and
#                  ShopCo at scale 100 (a few minutes)
#   --runs N       runs of each piece of work (default 3)
#   --sqlmesh-10k  also time `sqlmesh info` on 10,000 models (about 15
#                  minutes a run on 2 cores; left out by default)
#
# The work, on DuckDB files: parsing a project (`shopc check`, `dbt parse
# --no-partial-parse`, `sqlmesh info`) of 1,000 and 10,000 models of
# shopc::synth::dbt_shaped; compiling 1,000 (`shopc compile`, `dbt
# compile`); building jaffle-shop on a year of jafgen's data and ShopCo at
# scales 1 and 100 (`shopc build`, `dbt build`, `sqlmesh plan
# --auto-apply`). After each build the script compares the revenue of
# ShopCo's fact_orders in the three databases.
#
# Figures taken this way are in benches/README.md.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
quick=false
sqlmesh_10k=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=true; runs=1 ;;
        --runs) runs="${2:?--runs needs a number}"; shift ;;
        --sqlmesh-10k) sqlmesh_10k=true ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown option \`$1\` (see --help)" >&2; exit 2 ;;
    esac
    shift
done

venv="${SHOPC_COMPARE_VENV:-$HOME/.cache/shopc-compare-venv}"
# Two virtualenvs: dbt-duckdb on the DuckDB shopc embeds (2.0), SQLMesh on
# the newest DuckDB it accepts (it requires duckdb < 2).
if [[ ! -x "$venv/dbt/bin/dbt" ]]; then
    echo "installing dbt-core and dbt-duckdb from PyPI into $venv/dbt" >&2
    python3 -m venv "$venv/dbt"
    # dbt-core 1.11 and later fetch a parser from GitHub at install time.
    "$venv/dbt/bin/pip" install -q --disable-pip-version-check \
        "dbt-core==1.10.23" "dbt-duckdb==1.9.6" "duckdb==2.0.0"
fi
if [[ ! -x "$venv/sqlmesh/bin/sqlmesh" ]]; then
    echo "installing sqlmesh from PyPI into $venv/sqlmesh" >&2
    python3 -m venv "$venv/sqlmesh"
    "$venv/sqlmesh/bin/pip" install -q --disable-pip-version-check \
        "sqlmesh==0.236.4" "duckdb==1.5.6"
fi
dbt="$venv/dbt/bin/dbt"
sqlmesh="$venv/sqlmesh/bin/sqlmesh"
dbt_version="$("$dbt" --version 2>/dev/null | sed -n 's/.*installed: *//p' | head -1)"
sqlmesh_version="$("$sqlmesh" --version 2>/dev/null | tail -1)"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shopc-target}"
echo "building shopc (release) and its examples" >&2
(cd "$root" && cargo build -q --release --bin shopc --examples)
bin="$CARGO_TARGET_DIR/release"
shopc="$bin/shopc"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
results="$work/results"
: > "$results"

# A project three times: $work/NAME/{shopc,dbt,sqlmesh}.
peers() {
    local name="$1"
    "$bin/examples/write_peer" "$work/$name/shopc" "$work/$name/dbt" --dbt > /dev/null
    "$bin/examples/write_peer" "$work/$name/shopc" "$work/$name/sqlmesh" --sqlmesh > /dev/null
}

# measure WORK TOOL DIR COMMAND…: runs COMMAND in DIR from a clean state,
# appends "WORK<TAB>TOOL<TAB>wall cpu kb" to the results.
measure() {
    local what="$1" tool="$2" dir="$3"
    shift 3
    (cd "$dir" && rm -rf target .cache logs peer.duckdb peer.duckdb.wal)
    local out="$work/time.out" log="$work/command.log"
    if ! (cd "$dir" && /usr/bin/time -f "%e %U %S %M" -o "$out" "$@" > "$log" 2>&1); then
        echo "compare.sh: \`$*\` failed in $dir ($what):" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    local wall user sys kb cpu
    read -r wall user sys kb < "$out"
    cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
    printf '%s\t%s\t%s %s %s\n' "$what" "$tool" "$wall" "$cpu" "$kb" >> "$results"
    printf '  %-28s %-8s %7.2f s wall %7.2f s CPU %6d MB\n' "$what" "$tool" "$wall" \
        "$cpu" "$((kb / 1024))" >&2
}

# pair WORK SHOPC_ARGS DBT_ARGS SQLMESH_ARGS (each a quoted word list, or
# "-" for none): RUNS rounds, the tools in turn within each.
pair() {
    local what="$1" name="$2" shopc_args="$3" dbt_args="$4" sqlmesh_args="$5"
    local round
    for ((round = 1; round <= runs; round++)); do
        # shellcheck disable=SC2086 # the argument lists are split on purpose
        {
            measure "$what" shopc "$work/$name/shopc" "$shopc" $shopc_args
            if [[ "$dbt_args" != - ]]; then
                measure "$what" dbt "$work/$name/dbt" "$dbt" $dbt_args --profiles-dir .
            fi
            if [[ "$sqlmesh_args" != - ]]; then
                measure "$what" sqlmesh "$work/$name/sqlmesh" "$sqlmesh" $sqlmesh_args
            fi
        }
    done
}

# The revenue of fact_orders in each tool's database, which must agree
# (read with DuckDB 2.0, which reads the files of 1.5 too).
revenue() {
    local name="$1"
    "$venv/dbt/bin/python" - "$work/$name" <<'PY'
import sys, duckdb
base = sys.argv[1]
found = {}
for tool, path in [("shopc", "shopc/target/shopco.duckdb"), ("dbt", "dbt/peer.duckdb"),
                   ("sqlmesh", "sqlmesh/peer.duckdb")]:
    try:
        con = duckdb.connect(f"{base}/{path}", read_only=True)
        # Wherever the tool put it: shopc's dev schemas, dbt's main, SQLMesh's views.
        catalog, schema = con.execute(
            "SELECT table_catalog, table_schema FROM information_schema.tables"
            " WHERE table_name = 'fact_orders' ORDER BY table_type LIMIT 1").fetchone()
        found[tool] = con.execute(
            f'SELECT sum(revenue) FROM "{catalog}"."{schema}".fact_orders WHERE is_revenue_order'
        ).fetchone()[0]
    except Exception as e:
        found[tool] = f"not read ({str(e).splitlines()[0][:80]})"
agree = len({str(v) for v in found.values()}) == 1
print("  revenue of fact_orders: " + ", ".join(f"{t} {v}" for t, v in found.items())
      + ("" if agree else "  <- DIFFERENT"), file=sys.stderr)
PY
}

# ShopCo with data of one scale, built by each tool (the databases are
# left in place after the last round, for `revenue`).
shopco() {
    local scale="$1" name="shopco_$1"
    mkdir -p "$work/$name"
    cp -r "$root/shopco_models" "$work/$name/shopc"
    rm -rf "$work/$name/shopc/target"
    if [[ "$scale" != 1 ]]; then
        "$bin/examples/gen_shopco" --scale "$scale" --out "$work/$name/shopc/seeds" > /dev/null
    fi
    peers "$name"
    pair "ShopCo build, scale $scale" "$name" "build" "build" "plan --auto-apply --no-prompts"
    revenue "$name"
}

echo "parse and compile: shopc::synth::dbt_shaped" >&2
mkdir -p "$work/synth_1k" "$work/synth_10k"
"$bin/examples/write_synth" 1000 "$work/synth_1k/shopc" --dbt-shaped > /dev/null
peers synth_1k
pair "parse, 1,000 models" synth_1k "check" "parse --no-partial-parse" "info"
pair "compile, 1,000 models" synth_1k "compile" "compile" -
if ! $quick; then
    "$bin/examples/write_synth" 10000 "$work/synth_10k/shopc" --dbt-shaped > /dev/null
    peers synth_10k
    if $sqlmesh_10k; then
        pair "parse, 10,000 models" synth_10k "check" "parse --no-partial-parse" "info"
    else
        pair "parse, 10,000 models" synth_10k "check" "parse --no-partial-parse" -
    fi
fi

echo "builds on DuckDB" >&2
mkdir -p "$work/jaffle"
cp -r "$root/examples/jaffle_shop" "$work/jaffle/shopc"
"$root/scripts/jaffle.sh" "$work/jaffle/shopc/seeds" 1 2> /dev/null
peers jaffle
pair "jaffle-shop build, 1 year" jaffle "build" "build" "plan --auto-apply --no-prompts"
shopco 1
if ! $quick; then
    shopco 100
fi

# The table: medians of each work and tool.
echo
echo "shopc $("$shopc" --version | awk '{print $2}'), dbt-core $dbt_version with dbt-duckdb, sqlmesh $sqlmesh_version; $(nproc) cores; medians of $runs run(s)."
echo
echo "| work | shopc | dbt | SQLMesh | dbt ÷ shopc (CPU) | SQLMesh ÷ shopc (CPU) |"
echo "|---|---|---|---|---|---|"
python3 - "$results" <<'PY'
import sys, statistics, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    what, tool, figures = line.rstrip("\n").split("\t")
    wall, cpu, kb = (float(x) for x in figures.split())
    rows.setdefault(what, collections.defaultdict(list))[tool].append((wall, cpu, kb))
def median(runs, i):
    return statistics.median(r[i] for r in runs)
for what, tools in rows.items():
    cells, ratios = [], []
    shopc_cpu = median(tools["shopc"], 1)
    for tool in ("shopc", "dbt", "sqlmesh"):
        if tool not in tools:
            cells.append("—")
            if tool != "shopc":
                ratios.append("—")
            continue
        runs = tools[tool]
        cells.append(f"{median(runs, 0):.2f} s wall, {median(runs, 1):.2f} s CPU, "
                     f"{median(runs, 2) / 1024:.0f} MB")
        if tool != "shopc":
            ratios.append(f"{median(runs, 1) / max(shopc_cpu, 0.01):.1f}×")
    print(f"| {what} | " + " | ".join(cells + ratios) + " |")
PY
