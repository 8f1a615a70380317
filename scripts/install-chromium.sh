#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver (chromedriver), which the gateway's connect-page
# browser test (crates/gateway/tests/it/connect_browser.rs) drives headlessly. Idempotent: does
# nothing when both are there. Needs root (apt-get), as on the project's machines and CI.
#
#   ./scripts/install-chromium.sh          # install if missing
#   ./scripts/install-chromium.sh --check  # exit 1 when missing, install nothing
set -euo pipefail

have() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

if have; then
    echo "chromium and chromedriver are installed: $(chromium --version 2>/dev/null | head -1)"
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    echo "chromium or chromedriver is missing: run ./scripts/install-chromium.sh" >&2
    exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
if ! have; then
    echo "apt-get installed chromium and chromium-driver, but chromium or chromedriver is not on PATH" >&2
    exit 1
fi
echo "installed: $(chromium --version 2>/dev/null | head -1); $(chromedriver --version 2>/dev/null | head -1)"
