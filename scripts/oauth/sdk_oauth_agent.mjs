#!/usr/bin/env node
// An MCP client on the TypeScript SDK (v1 @modelcontextprotocol/sdk by default, or the v2 client
// @modelcontextprotocol/client; both from .node-clients) that signs in with the SDK's own OAuth
// code, headlessly, for the gateway's OAuth tests:
//
//   node scripts/oauth/sdk_oauth_agent.mjs URL LOGIN [TOOL [ARGS_JSON]] [--scope S] [--deny] [--verbose]
//        [--sdk v1|v2] [--era legacy|auto|2026-07-28]
//   node scripts/oauth/sdk_oauth_agent.mjs --via-mcp-remote URL LOGIN [TOOL [ARGS_JSON]] [--deny]
//        [--mcp-remote-config-dir DIR]
//
// It connects to URL with StreamableHTTPClientTransport and an `authProvider` (an in-memory
// OAuthClientProvider). On the server's 401 the SDK does everything a real client does: reads
// WWW-Authenticate (resource_metadata, scope), fetches the Protected Resource Metadata (RFC 9728)
// and the authorization server's metadata (RFC 8414 / OIDC discovery), registers a public client
// (RFC 7591, token_endpoint_auth_method none), builds the authorization URL with PKCE S256 and the
// resource indicator (RFC 8707), and calls our redirectToAuthorization, which completes the login
// as LOGIN over HTTP (login.mjs's completeLogin) instead of opening a browser. The agent then
// hands the code to transport.finishAuth (the SDK's token exchange, with `resource`), connects
// again with the token, lists the tools and, when TOOL is given, calls it with ARGS_JSON (a JSON
// object, default {}).
//
// --via-mcp-remote: the same v1 SDK client speaks MCP over stdio to mcp-remote (the bridge Claude
// Desktop and Cursor run), and mcp-remote does the OAuth flow with its own code. Its browser is
// scripts/oauth/browser.sh (BROWSER, through xdg-open), which completes the login as LOGIN and
// delivers the code to mcp-remote's callback listener (--host 127.0.0.1). mcp-remote keeps its
// client registration and tokens in a fresh temporary directory, or in
// --mcp-remote-config-dir DIR (reuse one to test its stored tokens and refresh). In this mode
// there are no "http" or "token" lines; the "authorize" line is read from the URL the browser
// got (and "redirect"/"code" from what authorize.mjs saw), and a failed "connect" line carries
// "mcp_remote_stderr" (its last 4000 characters).
//
// --sdk v2    use the TypeScript SDK v2 client (@modelcontextprotocol/client) instead, with
//             --era (versionNegotiation mode: legacy (default), auto, or a pinned version such as
//             2026-07-28); its finishAuth gets the whole redirect query (code, state, iss), so it
//             also checks the RFC 9207 iss. Not with --via-mcp-remote.
// --scope S   the client metadata's scope (used only when neither WWW-Authenticate nor the PRM
//             names scopes: the SDK's SEP-835 order)
// --deny      press Cancel at the login page (the flow must end in an authorization error)
// --verbose   login.mjs's request log on stderr
//
// stdout: JSON lines, one per step, in this order (no secret is printed: the access token appears
// only as its decoded claims):
//   {"step":"http","method":"GET","url":"<origin+path>","status":401}      every request the SDK made
//   {"step":"authorize","authorization_endpoint":"...","client_id":"...","scope":"...",
//    "resource":"...","code_challenge_method":"S256","redirect":"<origin+path>","code":true}
//        (or "error":"access_denied ..." instead of "code":true)
//   {"step":"token","token_type":"Bearer","scope":"mcp","expires_in":600,"refresh_token":true,
//    "claims":{...the JWT's claims, or null when not a JWT}}
//   {"step":"connect","ok":{"protocol_version":"...","server":"..."}}   or {"step":"connect","error":"..."}
//   {"step":"list_tools","ok":["name",...]}                              or {"step":"list_tools","error":"..."}
//   {"step":"call_tool","name":"TOOL","ok":{"is_error":false,"structured":{...}|null,"text":"..."}}
//                                                                        or {"step":"call_tool","name":"TOOL","error":"..."}
//   {"step":"done","ok":true}
// ("http" lines are interleaved where the requests happen.) Exit status 0 when every step
// succeeded, 1 when one failed (the lines still say which), 2 on bad usage.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { completeLogin } from "./login.mjs";
import { clientsDir, importClient } from "./node_clients.mjs";

// The SDK's warnings use console.*; stdout carries only our JSON lines.
console.log = console.error;
console.info = console.error;
console.warn = console.error;

function usage(message) {
    process.stderr.write(`sdk_oauth_agent.mjs: ${message}\n`);
    process.stderr.write("usage: sdk_oauth_agent.mjs [--via-mcp-remote [--mcp-remote-config-dir DIR]] URL LOGIN [TOOL [ARGS_JSON]] [--scope S] [--deny] [--verbose]\n");
    process.exit(2);
}

const args = { positional: [], scope: undefined, deny: false, verbose: false, viaMcpRemote: false, mcpRemoteConfigDir: undefined, sdk: "v1", era: "legacy" };
for (let i = 2; i < process.argv.length; i++) {
    const arg = process.argv[i];
    if (arg === "--scope") {
        if (i + 1 >= process.argv.length) usage("--scope needs a value");
        args.scope = process.argv[++i];
    } else if (arg === "--mcp-remote-config-dir") {
        if (i + 1 >= process.argv.length) usage("--mcp-remote-config-dir needs a value");
        args.mcpRemoteConfigDir = process.argv[++i];
    } else if (arg === "--sdk" || arg === "--era") {
        if (i + 1 >= process.argv.length) usage(`${arg} needs a value`);
        args[arg.slice(2)] = process.argv[++i];
    } else if (arg === "--via-mcp-remote") args.viaMcpRemote = true;
    else if (arg === "--deny") args.deny = true;
    else if (arg === "--verbose") args.verbose = true;
    else if (arg.startsWith("--")) usage(`unknown option ${arg}`);
    else args.positional.push(arg);
}
if (args.positional.length < 2 || args.positional.length > 4) usage("URL and LOGIN are required");
if (!["v1", "v2"].includes(args.sdk)) usage("--sdk is v1 or v2");
if (args.sdk === "v1" && args.era !== "legacy") usage("the v1 SDK speaks the session era only (--era legacy)");
if (args.sdk === "v2" && args.viaMcpRemote) usage("--via-mcp-remote drives mcp-remote with the v1 SDK");
const [url, login, toolName, toolArgsJson = "{}"] = args.positional;
if (!URL.canParse(url)) usage(`not a URL: ${url}`);
let toolArgs;
try {
    toolArgs = JSON.parse(toolArgsJson);
} catch {
    usage(`ARGS_JSON is not JSON: ${toolArgsJson}`);
}
if (toolArgs === null || typeof toolArgs !== "object" || Array.isArray(toolArgs)) usage("ARGS_JSON must be a JSON object");

let Client;
let StreamableHTTPClientTransport;
let UnauthorizedError;
let clientOptions = { capabilities: {} };
if (args.sdk === "v1") {
    ({ Client } = await importClient("@modelcontextprotocol/sdk/client/index.js"));
    ({ StreamableHTTPClientTransport } = await importClient("@modelcontextprotocol/sdk/client/streamableHttp.js"));
    ({ UnauthorizedError } = await importClient("@modelcontextprotocol/sdk/client/auth.js"));
} else {
    ({ Client, StreamableHTTPClientTransport, UnauthorizedError } = await importClient("@modelcontextprotocol/client"));
    const mode = args.era === "legacy" || args.era === "auto" ? args.era : { pin: args.era };
    clientOptions = { capabilities: {}, versionNegotiation: { mode } };
}

const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const message = (e) => (e && e.message ? `${e.constructor?.name || e.name || "Error"}: ${e.message}` : String(e));
const where = (u) => {
    const parsed = new URL(u);
    return `${parsed.origin}${parsed.pathname}`;
};

/** Every request the SDK makes, as an "http" line (method, origin + path, status). */
async function tracingFetch(input, init) {
    const target = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    try {
        const response = await fetch(input, init);
        emit({ step: "http", method, url: where(target), status: response.status });
        return response;
    } catch (e) {
        emit({ step: "http", method, url: where(target), error: message(e) });
        throw e;
    }
}

function decodeClaims(token) {
    const parts = String(token).split(".");
    if (parts.length !== 3) return null;
    try {
        return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    } catch {
        return null;
    }
}

/** The SDK's OAuthClientProvider, in memory, with the browser replaced by completeLogin. */
class HeadlessOAuthProvider {
    #clientInformation;
    #tokens;
    #codeVerifier;
    #discoveryState;
    #state;
    authorizationCode;
    redirectParams;
    authorizationError;

    get redirectUrl() {
        // Never requested: completeLogin stops at the redirect and hands us its code.
        return "http://127.0.0.1:1/oauth/callback";
    }

    get clientMetadata() {
        return {
            client_name: "scripts/oauth/sdk_oauth_agent.mjs",
            redirect_uris: [this.redirectUrl],
            grant_types: ["authorization_code", "refresh_token"],
            response_types: ["code"],
            token_endpoint_auth_method: "none",
            ...(args.scope ? { scope: args.scope } : {}),
        };
    }

    state() {
        this.#state = crypto.randomBytes(16).toString("base64url");
        return this.#state;
    }

    clientInformation() {
        return this.#clientInformation;
    }

    saveClientInformation(information) {
        this.#clientInformation = information;
    }

    tokens() {
        return this.#tokens;
    }

    saveTokens(tokens) {
        this.#tokens = tokens;
        emit({
            step: "token",
            token_type: tokens.token_type,
            scope: tokens.scope ?? null,
            expires_in: tokens.expires_in ?? null,
            refresh_token: !!tokens.refresh_token,
            claims: decodeClaims(tokens.access_token),
        });
    }

    saveCodeVerifier(verifier) {
        this.#codeVerifier = verifier;
    }

    codeVerifier() {
        if (!this.#codeVerifier) throw new Error("no code verifier saved");
        return this.#codeVerifier;
    }

    saveDiscoveryState(state) {
        this.#discoveryState = state;
    }

    discoveryState() {
        return this.#discoveryState;
    }

    invalidateCredentials(scope) {
        if (scope === "all" || scope === "client") this.#clientInformation = undefined;
        if (scope === "all" || scope === "tokens") this.#tokens = undefined;
        if (scope === "all" || scope === "verifier") this.#codeVerifier = undefined;
        if (scope === "all" || scope === "discovery") this.#discoveryState = undefined;
    }

    async redirectToAuthorization(authorizationUrl) {
        const params = authorizationUrl.searchParams;
        const line = {
            step: "authorize",
            authorization_endpoint: where(authorizationUrl),
            client_id: params.get("client_id"),
            scope: params.get("scope"),
            resource: params.get("resource"),
            code_challenge_method: params.get("code_challenge_method"),
        };
        this.authorizationCode = undefined;
        try {
            const log = args.verbose ? (l) => process.stderr.write(`sdk_oauth_agent.mjs: ${l}\n`) : undefined;
            const redirect = new URL(await completeLogin(authorizationUrl.href, login, { deny: args.deny, log }));
            line.redirect = where(redirect);
            const got = redirect.searchParams;
            if (got.has("error")) {
                this.authorizationError = `${got.get("error")} ${got.get("error_description") ?? ""}`.trim();
                line.error = this.authorizationError;
            } else if (this.#state !== undefined && got.get("state") !== this.#state) {
                this.authorizationError = "the redirect's state is not the request's";
                line.error = this.authorizationError;
            } else if (!got.get("code")) {
                this.authorizationError = "no code in the redirect";
                line.error = this.authorizationError;
            } else {
                this.authorizationCode = got.get("code");
                this.redirectParams = got;
                line.code = true;
            }
        } catch (e) {
            this.authorizationError = message(e);
            line.error = this.authorizationError;
        }
        emit(line);
    }
}

const clientInfo = { name: "gateway-oauth-test", version: "1.0.0" };
let client = new Client(clientInfo, clientOptions);
let negotiated;
const watchVersion = (t) => {
    const set = t.setProtocolVersion?.bind(t);
    t.setProtocolVersion = (version) => {
        negotiated = version;
        set?.(version);
    };
    return t;
};

/** Connects with the SDK's own OAuth: 401 -> discovery, DCR, login, finishAuth, reconnect. */
async function connectDirect() {
    const provider = new HeadlessOAuthProvider();
    const newTransport = () => watchVersion(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: tracingFetch }));
    const transport = newTransport();
    try {
        await client.connect(transport, { timeout: 30_000 });
    } catch (e) {
        if (!(e instanceof UnauthorizedError)) throw e;
        if (!provider.authorizationCode) throw new Error(`authorization failed: ${provider.authorizationError ?? message(e)}`);
        // The SDK's token exchange (code_verifier, redirect_uri, resource), then a fresh connection.
        // v2 takes the whole redirect query (and checks its iss); v1 the code.
        await transport.finishAuth(args.sdk === "v2" ? provider.redirectParams : provider.authorizationCode);
        await client.close().catch(() => {});
        client = new Client(clientInfo, clientOptions);
        await client.connect(newTransport(), { timeout: 30_000 });
    }
}

/** The "authorize" line for --via-mcp-remote, from browser.sh's log. */
function authorizeLineFromBrowserLog(logFile) {
    let lines;
    try {
        lines = fs.readFileSync(logFile, "utf8").split("\n");
    } catch {
        return undefined;
    }
    const urlLine = lines.find((l) => l.startsWith("URL "));
    if (!urlLine) return undefined;
    const authorizationUrl = new URL(urlLine.slice(4));
    const params = authorizationUrl.searchParams;
    const line = {
        step: "authorize",
        authorization_endpoint: where(authorizationUrl),
        client_id: params.get("client_id"),
        scope: params.get("scope"),
        resource: params.get("resource"),
        code_challenge_method: params.get("code_challenge_method"),
    };
    const redirectLine = lines.find((l) => /^https?:\/\//.test(l));
    if (redirectLine) {
        const redirect = new URL(redirectLine);
        line.redirect = where(redirect);
        if (redirect.searchParams.has("code")) line.code = true;
        else line.error = `${redirect.searchParams.get("error") ?? "no code"} ${redirect.searchParams.get("error_description") ?? ""}`.trim();
    } else {
        line.error = lines.filter((l) => l.startsWith("authorize.mjs:")).join(" ") || "authorize.mjs gave no redirect";
    }
    return line;
}

/** Connects through mcp-remote over stdio; mcp-remote does OAuth, browser.sh is its browser. */
async function connectViaMcpRemote() {
    const { StdioClientTransport, getDefaultEnvironment } = await importClient("@modelcontextprotocol/sdk/client/stdio.js");
    const here = path.dirname(fileURLToPath(import.meta.url));
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sdk-oauth-agent-"));
    const browserLog = path.join(scratch, "browser.log");
    const configDir = args.mcpRemoteConfigDir ?? path.join(scratch, "mcp-auth");
    let stderr = "";
    // getDefaultEnvironment: HOME, LOGNAME, PATH, SHELL, TERM, USER only; no DISPLAY or desktop
    // variables, so xdg-open takes the generic path that runs $BROWSER.
    const transport = watchVersion(
        new StdioClientTransport({
            command: process.execPath,
            args: [path.join(clientsDir, "node_modules/mcp-remote/dist/proxy.js"), url, "--host", "127.0.0.1"],
            env: {
                ...getDefaultEnvironment(),
                BROWSER: path.join(here, "browser.sh"),
                NODE: process.execPath,
                OAUTH_LOGIN: login,
                OAUTH_BROWSER_LOG: browserLog,
                ...(args.deny ? { OAUTH_DENY: "1" } : {}),
                MCP_REMOTE_CONFIG_DIR: configDir,
            },
            stderr: "pipe",
        }),
    );
    transport.stderr?.on("data", (chunk) => {
        stderr += chunk.toString();
        if (args.verbose) process.stderr.write(chunk);
    });
    try {
        await client.connect(transport, { timeout: 60_000 });
    } catch (e) {
        e.mcpRemoteStderr = stderr.slice(-4000);
        throw e;
    } finally {
        const line = authorizeLineFromBrowserLog(browserLog);
        if (line) emit(line);
        // At exit: mcp-remote may still be writing its state there until it is stopped.
        process.on("exit", () => fs.rmSync(scratch, { recursive: true, force: true, maxRetries: 3 }));
    }
}

let ok = true;
try {
    await (args.viaMcpRemote ? connectViaMcpRemote() : connectDirect());
    emit({ step: "connect", ok: { protocol_version: client.getNegotiatedProtocolVersion?.() ?? negotiated ?? null, server: client.getServerVersion()?.name ?? null } });
} catch (e) {
    emit({ step: "connect", error: message(e), ...(e.mcpRemoteStderr !== undefined ? { mcp_remote_stderr: e.mcpRemoteStderr } : {}) });
    emit({ step: "done", ok: false });
    await client.close().catch(() => {});
    process.exit(1);
}

try {
    emit({ step: "list_tools", ok: (await client.listTools()).tools.map((t) => t.name) });
} catch (e) {
    ok = false;
    emit({ step: "list_tools", error: message(e) });
}
if (toolName) {
    try {
        const result = await client.callTool({ name: toolName, arguments: toolArgs });
        const text = (result.content ?? []).map((c) => c.text ?? "").join("\n");
        emit({ step: "call_tool", name: toolName, ok: { is_error: !!result.isError, structured: result.structuredContent ?? null, text } });
    } catch (e) {
        ok = false;
        emit({ step: "call_tool", name: toolName, error: message(e) });
    }
}
emit({ step: "done", ok });
await client.close().catch(() => {});
process.exit(ok ? 0 : 1);
