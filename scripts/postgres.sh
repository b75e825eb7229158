#!/usr/bin/env bash
# A throwaway PostgreSQL server for shopc's tests, usable by hand:
#
#   scripts/postgres.sh start DIR   install PostgreSQL from Debian's packages if
#                                   missing, create a cluster in DIR, start it
#                                   on 127.0.0.1 on a free port, create the role
#                                   `shopc` and the database `shopco`; prints
#                                   `SHOPC_PG_PORT=PORT` (also written to DIR/env)
#   scripts/postgres.sh stop DIR    stop it and delete DIR
#
# The server trusts local connections (it listens on 127.0.0.1 only and lives
# for one test run) and skips fsync: its data is thrown away.
set -euo pipefail

command="${1:-}"
dir="${2:-}"
if [[ -z "$command" || -z "$dir" ]]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi

bin_dir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Runs a server program: PostgreSQL refuses to run as root.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        # From a folder `postgres` may enter (paths here are absolute).
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

case "$command" in
start)
    if [[ -z "$(bin_dir)" || ! -x "$(bin_dir)/initdb" ]]; then
        "$(dirname "$0")/apt-install.sh" postgresql
    fi
    bin="$(bin_dir)"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres "$dir"
    fi
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" -D "$dir/data" -U shopc -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
        start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U shopc shopco
    echo "SHOPC_PG_PORT=$port" | tee "$dir/env"
    ;;
stop)
    bin="$(bin_dir)"
    if [[ -d "$dir/data" && -n "$bin" ]]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
