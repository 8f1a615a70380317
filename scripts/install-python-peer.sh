#!/usr/bin/env bash
# Installs the interop test peer (the official Python MCP SDK, see scripts/python-peer/) into a
# virtualenv at <repo>/.python-peer. Idempotent: when the venv already holds what
# scripts/python-peer/requirements.txt pins, it only verifies the imports and exits.
#
#   ./scripts/install-python-peer.sh          # install or verify
#   PYTHON=python3.12 ./scripts/install-python-peer.sh
#
# Afterwards: export PYTHON_PEER="$PWD/.python-peer/bin/python" (tests find it there anyway).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.python-peer"
req="$repo/scripts/python-peer/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

die() { echo "install-python-peer: ERROR: $*" >&2; exit 1; }

command -v "$python" >/dev/null 2>&1 \
    || die "'$python' not found. Install Python >= 3.10 (e.g. 'apt-get install python3 python3-venv') or set PYTHON=/path/to/python3."
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$("$python" --version 2>&1) is too old: the mcp SDK needs Python >= 3.10."
[ -f "$req" ] || die "missing $req"

want="$( (cat "$req"; "$python" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -d' ' -f1)"

verify() {
    "$venv/bin/python" - <<'PY'
import importlib.metadata as md
import mcp, uvicorn  # noqa: F401
from mcp.server.mcpserver import MCPServer  # noqa: F401
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager  # noqa: F401
print(f"python-peer: mcp {md.version('mcp')}, uvicorn {md.version('uvicorn')}")
PY
}

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    if verify >/dev/null 2>&1; then
        echo "install-python-peer: up to date ($venv)"
        exit 0
    fi
    echo "install-python-peer: venv present but broken; reinstalling" >&2
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        rm -rf "$venv"
        # Debian's python3 ships venv/ensurepip separately; install it when we can (root + apt).
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "install-python-peer: '$python -m venv' failed; trying apt-get install python3-venv" >&2
            { apt-get update -q && apt-get install -y -q python3-venv; } >&2 || true
            "$python" -m venv "$venv" || die "'$python -m venv' failed even after apt-get install python3-venv"
        else
            die "'$python -m venv' failed. On Debian/Ubuntu: apt-get install python3-venv"
        fi
    fi
fi
rm -f "$stamp"
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req" \
    || die "pip install -r $req failed (is PyPI reachable?)"
verify || die "the installed peer does not import"
echo "$want" > "$stamp"
echo "install-python-peer: installed into $venv"
