// Where the pinned Node packages live: <repo>/.node-clients, installed by
// scripts/install-node-clients.sh from scripts/clients/package.json (override with NODE_CLIENTS_DIR).
// The scripts in scripts/oauth/ load oidc-provider and the MCP SDK from there, never from a global
// install, so every run uses the versions the lockfile pins.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The absolute path of the installed clients directory. */
export const clientsDir = process.env.NODE_CLIENTS_DIR || path.resolve(here, "../../.node-clients");

/** `require` resolving from .node-clients (CommonJS entry points, e.g. the v1 SDK's `dist/cjs`). */
export const requireClient = createRequire(path.join(clientsDir, "package.json"));

/**
 * Imports an ES module package (or one of its subpaths) installed in .node-clients.
 * Fails with a message naming the installer when the package is missing.
 */
export async function importClient(specifier) {
    let resolved;
    try {
        resolved = requireClient.resolve(specifier);
    } catch (e) {
        throw new Error(
            `cannot find ${specifier} in ${clientsDir} (${e.message.split("\n")[0]}); run ./scripts/install-node-clients.sh`,
        );
    }
    return import(pathToFileURL(resolved).href);
}
