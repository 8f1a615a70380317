#!/usr/bin/env bash
# Starts a throwaway Postgres server for the credential store's tests and benchmarks, on a
# loopback port with a data directory of its own, and prints the line
#     export DATABASE_URL=postgres://postgres@127.0.0.1:<port>/pagerduty_mcp_connect
# on standard output (everything else goes to standard error), so that
#     eval "$(./scripts/postgres.sh)"
# exports it. `./scripts/postgres.sh stop` stops the server again.
#
# Installs Debian's `postgresql` package with apt-get when no Postgres server is installed (CI
# runs as root). As root the server runs as the `postgres` user (initdb refuses root).
#
# Environment: PGTEST_PORT (default 54329), PGTEST_DIR (default /tmp/pagerduty-mcp-connect-pg-<uid>).
set -euo pipefail

port="${PGTEST_PORT:-54329}"
dir="${PGTEST_DIR:-/tmp/pagerduty-mcp-connect-pg-$(id -u)}"
database="pagerduty_mcp_connect"
log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

bindir="$(find_bindir || true)"
if [ -z "$bindir" ]; then
    if [ "$(id -u)" != "0" ]; then
        log "no Postgres server is installed; install Debian's postgresql package (apt-get install postgresql)"
        exit 1
    fi
    log "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    # The package starts its own cluster on port 5432; ours runs apart from it.
    bindir="$(find_bindir)"
fi

# As root, run the server as the postgres user.
if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    as_server() { runuser -u postgres -- "$@"; }
else
    as_server() { "$@"; }
fi

if [ "${1:-start}" = "stop" ]; then
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_server "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
    exit 0
fi

if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "creating a cluster in $dir/data"
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" = "0" ]; then chown postgres "$dir"; fi
    chmod 700 "$dir"
    as_server "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >&2
fi

if ! as_server "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    log "starting Postgres on 127.0.0.1:$port"
    as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
fi

psql_cmd() { "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ -z "$(psql_cmd -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]; then
    psql_cmd -d postgres -c "CREATE DATABASE $database" >&2
fi
echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$port/$database"
