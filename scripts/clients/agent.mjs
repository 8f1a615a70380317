#!/usr/bin/env node
// An MCP agent on one of the TypeScript SDKs (as installed by scripts/install-node-clients.sh into
// .node-clients/), for testing the gateway with clients nobody here wrote:
//
//   agent.mjs --sdk v1|v2 --era legacy|auto|2026-07-28 --url URL --key KEY
//       Streamable HTTP straight to URL with the header `Authorization: Bearer KEY` (requestInit).
//       v1 = @modelcontextprotocol/sdk (session era only: --era legacy);
//       v2 = @modelcontextprotocol/client (versionNegotiation: legacy, auto or pinned 2026-07-28).
//
//   agent.mjs --sdk v1 --via-mcp-remote [--mcp-remote-protocol legacy|auto] --url URL --key KEY
//       The way Claude Desktop connects to a remote server: it runs
//       `npx mcp-remote URL --header Authorization:${AUTH_HEADER}` with the environment variable
//       AUTH_HEADER="Bearer KEY" (the no-space form of mcp-remote's README) in .node-clients/ and
//       speaks MCP to it over stdio with the v1 SDK's StdioClientTransport.
//
//   --elicitation url|none (with any of the above; without it the client declares no capabilities,
//       as before)
//       url: declares `capabilities.elicitation: {url: {}}` and registers an `elicitation/create`
//       handler that prints each elicitation the SDK hands it as a JSON line
//       {"elicitation": params} and answers `{action: "accept"}` (the person agreed to open the
//       link; nobody opens it). The v2 SDK's 2026-07-28 input_required driver goes through that
//       handler and retries, here at most 2 rounds (inputRequired.maxRounds). none: declares no
//       elicitation. With either, a step's error also carries its JSON-RPC `code` and `data`
//       (e.g. -32042 with `data.elicitations`), and the final object has `elicitations: [...]`.
//
// It runs every step in order and prints one JSON object on stdout:
//   {"protocol_version": "...", "results": {"list_tools": {"ok": [names]} | {"error": "..."}, ...},
//    "mcp_remote_stderr": "..."}
// or {"connect_error": "...", ...} when connecting fails (for example HTTP 401). Exit status 0
// either way; the test judges the output.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const args = {
    sdk: "v1",
    era: "legacy",
    url: "",
    key: "",
    viaMcpRemote: false,
    mcpRemoteProtocol: "legacy",
    elicitation: undefined,
};
for (let i = 2; i < process.argv.length; i++) {
    const arg = process.argv[i];
    const value = () => process.argv[++i];
    if (arg === "--sdk") args.sdk = value();
    else if (arg === "--era") args.era = value();
    else if (arg === "--url") args.url = value();
    else if (arg === "--key") args.key = value();
    else if (arg === "--via-mcp-remote") args.viaMcpRemote = true;
    else if (arg === "--mcp-remote-protocol") args.mcpRemoteProtocol = value();
    else if (arg === "--elicitation") args.elicitation = value();
    else throw new Error(`unknown argument ${arg}`);
}

if (args.elicitation !== undefined && args.elicitation !== "url" && args.elicitation !== "none") {
    throw new Error(`unknown --elicitation ${args.elicitation} (url or none)`);
}
const capabilities = args.elicitation === "url" ? { elicitation: { url: {} } } : {};
// What the SDK handed to the elicitation handler, in order.
const elicitations = [];
const onElicitation = async (request) => {
    elicitations.push(request.params);
    process.stdout.write(JSON.stringify({ elicitation: request.params }) + "\n");
    return { action: "accept" };
};

const here = path.dirname(fileURLToPath(import.meta.url));
const clientsDir = process.env.NODE_CLIENTS_DIR || path.resolve(here, "../../.node-clients");
const require = createRequire(path.join(clientsDir, "package.json"));

const clientInfo = { name: "gateway-real-client-test", version: "1.0.0" };
let client;
let transport;
let negotiated;
let mcpRemoteStderr = "";

if (args.sdk === "v1") {
    const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
    client = new Client(clientInfo, { capabilities });
    if (args.elicitation === "url") {
        const { ElicitRequestSchema } = require("@modelcontextprotocol/sdk/types.js");
        client.setRequestHandler(ElicitRequestSchema, onElicitation);
    }
    if (args.viaMcpRemote) {
        const { StdioClientTransport, getDefaultEnvironment } = require("@modelcontextprotocol/sdk/client/stdio.js");
        const mcpRemoteArgs = ["mcp-remote", args.url, "--header", "Authorization:${AUTH_HEADER}"];
        if (args.mcpRemoteProtocol !== "legacy") mcpRemoteArgs.push("--protocol", args.mcpRemoteProtocol);
        transport = new StdioClientTransport({
            command: "npx",
            args: mcpRemoteArgs,
            cwd: clientsDir,
            env: {
                ...getDefaultEnvironment(),
                AUTH_HEADER: `Bearer ${args.key}`,
                // mcp-remote keeps its OAuth state there (~/.mcp-auth by default).
                MCP_REMOTE_CONFIG_DIR: process.env.MCP_REMOTE_CONFIG_DIR || path.join(clientsDir, ".mcp-auth"),
                // Never fetch a package: mcp-remote is installed in .node-clients.
                npm_config_offline: "true",
                npm_config_update_notifier: "false",
            },
            stderr: "pipe",
        });
        transport.stderr?.on("data", (chunk) => {
            mcpRemoteStderr += chunk.toString();
        });
    } else {
        if (args.era !== "legacy") throw new Error("the v1 SDK speaks the session era only (--era legacy)");
        const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
        transport = new StreamableHTTPClientTransport(new URL(args.url), {
            requestInit: { headers: { Authorization: `Bearer ${args.key}` } },
        });
    }
    // The v1 client tells its transport the negotiated version through setProtocolVersion.
    const set = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (version) => {
        negotiated = version;
        set?.(version);
    };
} else if (args.sdk === "v2") {
    const { Client, StreamableHTTPClientTransport } = require("@modelcontextprotocol/client");
    const mode = args.era === "legacy" || args.era === "auto" ? args.era : { pin: args.era };
    const options = { capabilities, versionNegotiation: { mode } };
    if (args.elicitation === "url") options.inputRequired = { maxRounds: 2 };
    client = new Client(clientInfo, options);
    if (args.elicitation === "url") client.setRequestHandler("elicitation/create", onElicitation);
    transport = new StreamableHTTPClientTransport(new URL(args.url), {
        requestInit: { headers: { Authorization: `Bearer ${args.key}` } },
    });
} else {
    throw new Error(`unknown --sdk ${args.sdk}`);
}

const message = (e) => (e && e.message ? `${e.name || "Error"}: ${e.message}` : String(e));
const text = (contents) => contents.map((c) => c.text ?? "").join("\n");

const out = { sdk: args.sdk, era: args.era, via_mcp_remote: args.viaMcpRemote };
try {
    await client.connect(transport, { timeout: 30000 });
} catch (e) {
    out.connect_error = message(e);
    await client.close().catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    out.mcp_remote_stderr = mcpRemoteStderr;
    process.stdout.write(JSON.stringify(out) + "\n");
    process.exit(0);
}
out.protocol_version = client.getNegotiatedProtocolVersion?.() ?? negotiated;
out.server = client.getServerVersion()?.name;

const steps = [
    ["list_tools", async () => (await client.listTools()).tools.map((t) => t.name)],
    [
        "call_get_user_data",
        async () => {
            const result = await client.callTool({ name: "get_user_data", arguments: {} });
            return { is_error: !!result.isError, structured: result.structuredContent ?? null, text: text(result.content) };
        },
    ],
    ["list_resources", async () => (await client.listResources()).resources.map((r) => r.uri)],
    ["read_resource", async () => text((await client.readResource({ uri: "pagerduty://users/me" })).contents)],
    ["list_prompts", async () => (await client.listPrompts()).prompts.map((p) => p.name)],
    [
        "get_prompt",
        async () =>
            (await client.getPrompt({ name: "incident_summary", arguments: { incident_id: "1001" } })).messages
                .map((m) => m.content?.text ?? "")
                .join("\n"),
    ],
];
out.results = {};
for (const [name, step] of steps) {
    try {
        out.results[name] = { ok: await step() };
    } catch (e) {
        out.results[name] = { error: message(e) };
        if (args.elicitation !== undefined) {
            out.results[name].code = e?.code ?? null;
            out.results[name].data = e?.data ?? null;
        }
    }
}
await client.close().catch(() => {});
out.mcp_remote_stderr = mcpRemoteStderr;
if (args.elicitation !== undefined) out.elicitations = elicitations;
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
