#!/usr/bin/env node
// A stand-in MCP resource server, for checking the OAuth scripts and the real MCP clients' OAuth
// code end to end without the gateway (selftest.sh uses it; the gateway is the real resource
// server). It is the TypeScript SDK v1's MCP server (stateless Streamable HTTP) behind the checks
// the MCP authorization spec asks of a resource server:
//
//   node scripts/oauth/resource_server.mjs --issuer URL [--port N] [--scope S] [--verbose]
//
//   - Protected Resource Metadata (RFC 9728) at /.well-known/oauth-protected-resource/mcp and
//     /.well-known/oauth-protected-resource: resource http://127.0.0.1:PORT/mcp,
//     authorization_servers [issuer], scopes_supported [S] (default mcp)
//   - /mcp without a token: 401, WWW-Authenticate: Bearer resource_metadata="...", scope="S";
//     a bad token: 401 with error="invalid_token"; a token without S: 403 insufficient_scope
//   - tokens are JWTs checked locally against the issuer's JWKS (jwt.mjs): aud must be the
//     resource URL exactly, iss the issuer
//   - tools: whoami (the token's sub, email, scope, client_id, aud as JSON text and
//     structuredContent) and echo ({text} -> text)
//
// stdout: one line `URL http://127.0.0.1:PORT/mcp` when it listens. Runs until SIGTERM/SIGINT.
import http from "node:http";

import { fetchJwks, verifyAccessToken, TokenError } from "./jwt.mjs";
import { importClient } from "./node_clients.mjs";

const args = { issuer: "", port: 0, scope: "mcp", verbose: false };
for (let i = 2; i < process.argv.length; i++) {
    const arg = process.argv[i];
    const value = () => process.argv[++i];
    if (arg === "--issuer") args.issuer = value();
    else if (arg === "--port") args.port = Number(value());
    else if (arg === "--scope") args.scope = value();
    else if (arg === "--verbose") args.verbose = true;
    else {
        process.stderr.write(`resource_server.mjs: unknown argument ${arg}\n`);
        process.exit(2);
    }
}
if (!args.issuer) {
    process.stderr.write("usage: resource_server.mjs --issuer URL [--port N] [--scope S] [--verbose]\n");
    process.exit(2);
}

const { Server } = await importClient("@modelcontextprotocol/sdk/server/index.js");
const { StreamableHTTPServerTransport } = await importClient("@modelcontextprotocol/sdk/server/streamableHttp.js");
const { ListToolsRequestSchema, CallToolRequestSchema } = await importClient("@modelcontextprotocol/sdk/types.js");

const server = http.createServer();
await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(args.port, "127.0.0.1", resolve);
});
const origin = `http://127.0.0.1:${server.address().port}`;
const resource = `${origin}/mcp`;
const metadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;
const metadata = {
    resource,
    authorization_servers: [args.issuer],
    scopes_supported: args.scope ? [args.scope] : [],
    bearer_methods_supported: ["header"],
    resource_name: "scripts/oauth/resource_server.mjs (stand-in)",
};

let jwks;
async function verify(token) {
    jwks ??= await fetchJwks(args.issuer);
    try {
        return verifyAccessToken(token, { issuer: args.issuer, audience: resource, jwks });
    } catch (e) {
        if (!(e instanceof TokenError) || !/is not in the JWKS/.test(e.message)) throw e;
        jwks = await fetchJwks(args.issuer); // a new key: fetch once more
        return verifyAccessToken(token, { issuer: args.issuer, audience: resource, jwks });
    }
}

function challenge(res, status, error, description) {
    const parts = [`resource_metadata="${metadataUrl}"`];
    if (args.scope) parts.push(`scope="${args.scope}"`);
    if (error) parts.push(`error="${error}"`, `error_description="${description.replace(/["\\]/g, "'")}"`);
    res.writeHead(status, { "www-authenticate": `Bearer ${parts.join(", ")}`, "content-type": "application/json" });
    res.end(JSON.stringify({ error: error ?? "unauthorized", error_description: description }));
}

function mcpServer(auth) {
    const mcp = new Server({ name: "oauth-stand-in", version: "1.0.0" }, { capabilities: { tools: {} } });
    mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
        tools: [
            { name: "whoami", description: "The caller's token claims", inputSchema: { type: "object", properties: {} } },
            {
                name: "echo",
                description: "Echoes text",
                inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
            },
        ],
    }));
    mcp.setRequestHandler(CallToolRequestSchema, async (request) => {
        if (request.params.name === "whoami") {
            const { sub, email, scope, client_id, aud } = auth.extra.claims;
            const who = { sub, email, scope, client_id, aud };
            return { content: [{ type: "text", text: JSON.stringify(who) }], structuredContent: who };
        }
        if (request.params.name === "echo") {
            return { content: [{ type: "text", text: String(request.params.arguments?.text ?? "") }] };
        }
        return { isError: true, content: [{ type: "text", text: `no tool ${request.params.name}` }] };
    });
    return mcp;
}

server.on("request", async (req, res) => {
    const path = new URL(req.url, origin).pathname;
    res.on("finish", () => {
        if (args.verbose) process.stderr.write(`resource_server: ${req.method} ${path} -> ${res.statusCode}\n`);
    });
    try {
        if (req.method === "GET" && (path === "/.well-known/oauth-protected-resource/mcp" || path === "/.well-known/oauth-protected-resource")) {
            res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" });
            res.end(JSON.stringify(metadata));
            return;
        }
        if (path !== "/mcp") {
            res.writeHead(404).end();
            return;
        }
        const header = req.headers.authorization ?? "";
        const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
        if (!match) {
            challenge(res, 401, undefined, "a Bearer token is required");
            return;
        }
        let verified;
        try {
            verified = await verify(match[1]);
        } catch (e) {
            challenge(res, 401, "invalid_token", e instanceof TokenError ? e.message : "token check failed");
            return;
        }
        const scopes = String(verified.claims.scope ?? "").split(" ").filter(Boolean);
        if (args.scope && !scopes.includes(args.scope)) {
            challenge(res, 403, "insufficient_scope", `the token lacks scope ${args.scope}`);
            return;
        }
        req.auth = { token: match[1], clientId: verified.claims.client_id, scopes, expiresAt: verified.claims.exp, extra: { claims: verified.claims } };
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        const mcp = mcpServer(req.auth);
        res.on("close", () => {
            transport.close().catch(() => {});
            mcp.close().catch(() => {});
        });
        await mcp.connect(transport);
        await transport.handleRequest(req, res);
    } catch (e) {
        process.stderr.write(`resource_server: ${e.stack || e}\n`);
        if (!res.headersSent) res.writeHead(500).end();
    }
});

const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdout.write(`URL ${resource}\n`);
