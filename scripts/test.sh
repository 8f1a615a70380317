#!/usr/bin/env bash
# The test command of README.md: installs the official Python MCP SDK peer into a virtualenv
# (scripts/install-python-peer.sh), then runs every test of the crate against the embedded mock
# server and that peer.
set -euo pipefail
cd "$(dirname "$0")/.."
if ./scripts/install-python-peer.sh; then
    export PYTHON_PEER="$PWD/.python-peer/bin/python"
else
    echo "WARNING: the Python MCP SDK peer could not be installed; its interop tests will skip" >&2
    if [ "${REQUIRE_PYTHON_PEER:-0}" = "1" ]; then
        exit 1
    fi
fi
cargo test --workspace --all-features "$@"
