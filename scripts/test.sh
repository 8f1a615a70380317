#!/usr/bin/env bash
# The test command of README.md: installs the official Python MCP SDK peer into a virtualenv
# (scripts/install-python-peer.sh) and the real Node MCP clients into .node-clients/
# (scripts/install-node-clients.sh) and Debian's Chromium (scripts/install-chromium.sh), then runs every test of the workspace against the embedded
# mock server and that peer, and every benchmark once in test mode (`test = true` in
# benches/Cargo.toml). Without DATABASE_URL it also starts a throwaway Postgres server
# (scripts/postgres.sh) for the credential store's tests, and stops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
# A test whose peer is missing fails; PAGERDUTY_MCP_SKIP_PEERS=1 opts out explicitly (README).
if ./scripts/install-python-peer.sh; then
    export PYTHON_PEER="$PWD/.python-peer/bin/python"
elif [ "${PAGERDUTY_MCP_SKIP_PEERS:-0}" = "1" ]; then
    echo "WARNING: the Python MCP SDK peer could not be installed; PAGERDUTY_MCP_SKIP_PEERS=1, so its interop tests will check nothing" >&2
else
    echo "ERROR: the Python MCP SDK peer could not be installed (./scripts/install-python-peer.sh failed above)." >&2
    echo "       Fix that, or run with PAGERDUTY_MCP_SKIP_PEERS=1 to skip the tests that need it." >&2
    exit 1
fi
# The real MCP clients the gateway's tests drive (MCP Inspector, mcp-remote, the TypeScript SDK;
# Node 22 from npm), into .node-clients/: missing, their tests fail, like the Python peer's.
if ! ./scripts/install-node-clients.sh; then
    if [ "${PAGERDUTY_MCP_SKIP_PEERS:-0}" = "1" ]; then
        echo "WARNING: the Node MCP clients could not be installed; PAGERDUTY_MCP_SKIP_PEERS=1, so their tests will check nothing" >&2
    else
        echo "ERROR: the Node MCP clients could not be installed (./scripts/install-node-clients.sh failed above)." >&2
        echo "       Fix that, or run with PAGERDUTY_MCP_SKIP_PEERS=1 to skip the tests that need them." >&2
        exit 1
    fi
fi
# Debian's Chromium and chromedriver, which the connect page's browser test drives: missing, that
# test fails naming ./scripts/install-chromium.sh, like the peers above.
if ! ./scripts/install-chromium.sh; then
    if [ "${PAGERDUTY_MCP_SKIP_PEERS:-0}" = "1" ]; then
        echo "WARNING: Chromium could not be installed; PAGERDUTY_MCP_SKIP_PEERS=1, so its test will check nothing" >&2
    else
        echo "ERROR: Chromium could not be installed (./scripts/install-chromium.sh failed above)." >&2
        echo "       Fix that, or run with PAGERDUTY_MCP_SKIP_PEERS=1 to skip the tests that need it." >&2
        exit 1
    fi
fi
# The credential store's Postgres tests need a real server: start one unless DATABASE_URL names
# one already (CI starts its own) or the run opts out (PAGERDUTY_MCP_SKIP_POSTGRES=1 or
# PAGERDUTY_MCP_SKIP_PEERS=1, README).
if [ -z "${DATABASE_URL:-}" ] && [ "${PAGERDUTY_MCP_SKIP_POSTGRES:-0}" != "1" ] \
    && [ "${PAGERDUTY_MCP_SKIP_PEERS:-0}" != "1" ]; then
    pg_env=$(./scripts/postgres.sh) || {
        echo "ERROR: no Postgres server for the credential store's tests (./scripts/postgres.sh failed above)." >&2
        echo "       Fix that, or run with PAGERDUTY_MCP_SKIP_POSTGRES=1 to skip the tests that need it." >&2
        exit 1
    }
    eval "$pg_env"
    trap './scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
fi
cargo test --workspace --all-features "$@"
