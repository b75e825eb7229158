#!/usr/bin/env bash
# A local server that speaks Snowflake's protocol (fakesnow, from PyPI), for
# shopc's tests, usable by hand:
#
#   scripts/fakesnow.sh start DIR   install fakesnow into a virtualenv if
#                                   missing, start `fakesnow -s` on 127.0.0.1
#                                   on a free port; prints
#                                   `SHOPC_SNOWFLAKE_HOST=http://127.0.0.1:PORT`
#                                   (also written to DIR/env)
#   scripts/fakesnow.sh stop DIR    stop it and delete DIR
#
# fakesnow keeps its databases in memory (DuckDB underneath) and accepts any
# user, password or key: each test logs in to a database of its own.
#
# The virtualenv lives in $SHOPC_FAKESNOW_VENV (default
# ~/.cache/shopc-fakesnow-venv) so that later runs reuse it. The versions are
# pinned: fakesnow 0.12 imports a module that snowflake-connector-python 5
# no longer has.
set -euo pipefail

command="${1:-}"
dir="${2:-}"
if [[ -z "$command" || -z "$dir" ]]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi

venv="${SHOPC_FAKESNOW_VENV:-$HOME/.cache/shopc-fakesnow-venv}"
packages=("fakesnow[server]==0.12.1" "snowflake-connector-python==4.8.1")

case "$command" in
start)
    if [[ ! -x "$venv/bin/fakesnow" ]]; then
        echo "installing fakesnow from PyPI into $venv" >&2
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q --disable-pip-version-check "${packages[@]}" >&2
    fi
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # setsid: the server outlives this script, in a session of its own.
    setsid "$venv/bin/fakesnow" -s --host 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 < /dev/null &
    echo $! > "$dir/pid"
    for _ in $(seq 1 120); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
            echo "SHOPC_SNOWFLAKE_HOST=http://127.0.0.1:$port" | tee "$dir/env"
            exit 0
        fi
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
            break
        fi
        sleep 0.5
    done
    echo "fakesnow did not start on 127.0.0.1:$port" >&2
    cat "$dir/server.log" >&2
    exit 1
    ;;
stop)
    if [[ -f "$dir/pid" ]]; then
        pid="$(cat "$dir/pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
