#!/usr/bin/env bash
# The test command of README.md: installs the official Python MCP SDK peer into a virtualenv
# (scripts/install-python-peer.sh), then runs every test of the crate against the embedded mock
# server and that peer.
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
cargo test --workspace --all-features "$@"
