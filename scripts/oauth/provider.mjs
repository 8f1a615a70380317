#!/usr/bin/env node
// A TEST OAuth 2.1 authorization server for the gateway's tests: oidc-provider (the OpenID
// certified Node implementation, pinned in scripts/clients/package.json) on 127.0.0.1, configured
// the way the MCP authorization spec expects an authorization server to behave. There are no real
// accounts and no passwords: whatever login name is typed at the login form is the user (`sub`).
// Never expose it beyond loopback.
//
//   node scripts/oauth/provider.mjs [--port N] [--alg RS256|ES256] [--access-ttl SECONDS]
//        [--resource URL]... [--extra-scope NAME]... [--cimd] [--dpop] [--verbose]
//
//   --port N            port on 127.0.0.1 (default 0: any free port)
//   --alg A             JWS algorithm of the JWT access tokens: RS256 (default) or ES256. The
//                       JWKS always offers both keys (an RSA 2048 and an EC P-256 key, each with a
//                       `kid`, `use: sig` and `alg`), generated afresh at every start.
//   --access-ttl S      access token lifetime in seconds (default 600)
//   --resource URL      a resource indicator (RFC 8707) the server issues tokens for (repeatable).
//                       Without it, any http(s) URL on 127.0.0.1, localhost or [::1] (any port,
//                       any path) is accepted; with it, only the listed URLs (exact match).
//                       Any other resource gets `invalid_target`.
//   --extra-scope NAME  another scope the server supports and puts into access tokens (repeatable)
//   --cimd              also accept OAuth Client ID Metadata Documents (client_id = an https URL
//                       the server fetches; draft-02, experimental in oidc-provider). Off by
//                       default: a client that sees it advertised may prefer it, and the test
//                       machine cannot serve https client metadata.
//   --dpop              offer DPoP (RFC 9449). Off by default, so every token is a plain Bearer.
//   --verbose           log every request (method, path, status) on stderr
//
// When it listens it prints exactly one line on stdout, `ISSUER http://127.0.0.1:PORT`, and then
// nothing else on stdout (oidc-provider's notices and our logs go to stderr). It runs until
// SIGTERM or SIGINT, then closes its listener and exits with status 0.
//
// What it offers (see scripts/oauth/README.md):
//   - metadata at /.well-known/oauth-authorization-server and /.well-known/openid-configuration
//   - open dynamic client registration at /reg (public clients with token_endpoint_auth_method
//     "none", or confidential ones with a secret)
//   - authorization code flow with PKCE S256 required for every client; refresh tokens for every
//     client registered with the refresh_token grant type (whether or not it asked offline_access);
//     client_credentials for confidential clients
//   - resource indicators: a token requested for a resource is a JWT (typ at+jwt, RFC 9068) with
//     aud = the resource exactly as sent, sub = the login name, email, scope, client_id, iss, exp
//   - scopes: openid profile email offline_access mcp (and --extra-scope ones); the JWT's `scope`
//     holds the requested scopes that are resource scopes (mcp and the extra ones)
//   - a login page at /interaction/<uid> (one text field `login`, no password) and consent that
//     is granted automatically; /interaction/<uid>/abort denies (access_denied)
import crypto from "node:crypto";
import http from "node:http";

import { importClient } from "./node_clients.mjs";

// oidc-provider prints notices with console.info (stdout); stdout is reserved for the ISSUER line.
const stdoutWrite = process.stdout.write.bind(process.stdout);
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const RESOURCE_SCOPES = ["mcp"];
const OIDC_SCOPES = ["openid", "profile", "email", "offline_access"];

function usage(message) {
    process.stderr.write(`provider.mjs: ${message}\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const args = {
        port: 0,
        alg: "RS256",
        accessTtl: 600,
        resources: [],
        extraScopes: [],
        cimd: false,
        dpop: false,
        verbose: false,
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) usage(`${arg} needs a value`);
            return argv[++i];
        };
        switch (arg) {
            case "--port": {
                const port = Number(value());
                if (!Number.isInteger(port) || port < 0 || port > 65535) usage("--port must be 0..65535");
                args.port = port;
                break;
            }
            case "--alg":
                args.alg = value();
                if (!["RS256", "ES256"].includes(args.alg)) usage("--alg must be RS256 or ES256");
                break;
            case "--access-ttl": {
                const ttl = Number(value());
                if (!Number.isInteger(ttl) || ttl < 1) usage("--access-ttl must be a positive integer (seconds)");
                args.accessTtl = ttl;
                break;
            }
            case "--resource": {
                const resource = value();
                if (!URL.canParse(resource) || resource.includes("#")) usage(`--resource ${resource}: not an absolute URL without a fragment`);
                args.resources.push(resource);
                break;
            }
            case "--extra-scope": {
                const scope = value();
                if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)) usage(`--extra-scope ${scope}: not a scope token (RFC 6749 3.3)`);
                args.extraScopes.push(scope);
                break;
            }
            case "--cimd":
                args.cimd = true;
                break;
            case "--dpop":
                args.dpop = true;
                break;
            case "--verbose":
                args.verbose = true;
                break;
            case "--help":
            case "-h":
                stdoutWrite("usage: provider.mjs [--port N] [--alg RS256|ES256] [--access-ttl S] [--resource URL]... [--extra-scope NAME]... [--cimd] [--dpop] [--verbose]\n");
                process.exit(0);
                break;
            default:
                usage(`unknown argument ${arg}`);
        }
    }
    return args;
}

/** RFC 7638 thumbprint of a public JWK (its required members, lexicographic order). */
function thumbprint(jwk) {
    const members = jwk.kty === "RSA" ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
    return crypto.createHash("sha256").update(JSON.stringify(members)).digest("base64url");
}

/** A fresh RSA 2048 (RS256) and EC P-256 (ES256) signing key pair, as private JWKs with kids. */
function generateJwks() {
    const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
    const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    // RS256 first: oidc-provider signs ID tokens with the first key matching their alg.
    return {
        keys: [
            { ...rsa, kid: `rs256-${thumbprint(rsa).slice(0, 16)}`, alg: "RS256", use: "sig" },
            { ...ec, kid: `es256-${thumbprint(ec).slice(0, 16)}`, alg: "ES256", use: "sig" },
        ],
    };
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Whether `resource` is one this server issues tokens for (see --resource). */
function resourceAllowed(args, resource) {
    if (args.resources.length > 0) return args.resources.includes(resource);
    const url = URL.parse(resource);
    return !!url && (url.protocol === "http:" || url.protocol === "https:") && LOOPBACK_HOSTS.has(url.hostname);
}

/** The login name a user typed, checked: 1-200 printable characters, no surrounding spaces. */
function validLogin(login) {
    return typeof login === "string" && login.length >= 1 && login.length <= 200 && login === login.trim() && !/[\x00-\x1f\x7f]/.test(login);
}

/** The test user's e-mail address: the login itself when it has an @, else <login>@example.com. */
function emailFor(login) {
    return login.includes("@") ? login : `${login}@example.com`;
}

const escapeHtml = (s) =>
    String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function page(title, body) {
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<p><strong>TEST authorization server</strong> (scripts/oauth/provider.mjs): no real accounts, no passwords.</p>
${body}
</body></html>
`;
}

function loginPage(uid, client, params, error) {
    const who = escapeHtml(client?.clientName || params.client_id);
    return page(
        "Sign-in",
        `<h1>Sign-in</h1>
<p>${who} asks for scope <code>${escapeHtml(params.scope || "")}</code> on <code>${escapeHtml([params.resource ?? []].flat().join(" "))}</code>.</p>
${error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : ""}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
  <label>Login name (any; it becomes the token's sub) <input type="text" name="login" required autofocus></label>
  <button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${escapeHtml(uid)}/abort">Cancel</a></p>`,
    );
}

async function readForm(req, limit = 16 * 1024) {
    let size = 0;
    const chunks = [];
    for await (const chunk of req) {
        size += chunk.length;
        if (size > limit) throw Object.assign(new Error("form too large"), { status: 413 });
        chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** The login/consent pages (instead of oidc-provider's devInteractions). */
function interactions(provider) {
    const route = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?$/;
    return async (ctx, next) => {
        const match = route.exec(ctx.path);
        if (!match) return next();
        const [, uid, action] = match;
        ctx.set("cache-control", "no-store");
        let details;
        try {
            details = await provider.interactionDetails(ctx.req, ctx.res);
        } catch (e) {
            ctx.status = 400;
            ctx.type = "html";
            ctx.body = page("Error", `<h1>Error</h1><p id="error">${escapeHtml(e.error || e.name)}: ${escapeHtml(e.error_description || e.message)}</p>`);
            return;
        }
        if (details.uid !== uid) {
            ctx.status = 400;
            ctx.type = "html";
            ctx.body = page("Error", `<p id="error">interaction ${escapeHtml(uid)} does not match the cookie's</p>`);
            return;
        }
        const { prompt, params, session, grantId } = details;

        if (action === "abort") {
            await provider.interactionFinished(
                ctx.req,
                ctx.res,
                { error: "access_denied", error_description: "End-User aborted interaction" },
                { mergeWithLastSubmission: false },
            );
            ctx.respond = false;
            return;
        }

        if (prompt.name === "login") {
            const client = await provider.Client.find(params.client_id);
            if (action === "login" && ctx.method === "POST") {
                const form = await readForm(ctx.req);
                const login = form.get("login");
                if (!validLogin(login)) {
                    ctx.status = 400;
                    ctx.type = "html";
                    ctx.body = loginPage(uid, client, params, "A login name is 1-200 printable characters without surrounding spaces.");
                    return;
                }
                await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
                ctx.respond = false;
                return;
            }
            ctx.type = "html";
            ctx.body = loginPage(uid, client, params);
            return;
        }

        if (prompt.name === "consent") {
            // Consent is granted automatically: everything the client asked for.
            const grant = grantId
                ? await provider.Grant.find(grantId)
                : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
            const { missingOIDCScope, missingOIDCClaims, missingResourceScopes, rar } = prompt.details;
            if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(" "));
            if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
            if (missingResourceScopes) {
                for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
                    grant.addResourceScope(indicator, scopes.join(" "));
                }
            }
            if (rar) for (const detail of rar) grant.addRar(detail);
            const consent = { grantId: await grant.save() };
            await provider.interactionFinished(ctx.req, ctx.res, { consent }, { mergeWithLastSubmission: true });
            ctx.respond = false;
            return;
        }

        ctx.status = 501;
        ctx.type = "html";
        ctx.body = page("Error", `<p id="error">prompt ${escapeHtml(prompt.name)} not implemented</p>`);
    };
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const { Provider, errors } = await importClient("oidc-provider");

    const server = http.createServer();
    await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(args.port, "127.0.0.1", resolve);
    });
    const issuer = `http://127.0.0.1:${server.address().port}`;

    const resourceScopes = [...new Set([...RESOURCE_SCOPES, ...args.extraScopes])];
    const ttl = args.accessTtl;
    const day = 24 * 60 * 60;

    const configuration = {
        jwks: generateJwks(),
        cookies: { keys: [crypto.randomBytes(32).toString("base64url")] },
        // Resource scopes are listed too, so that they are advertised in scopes_supported and a
        // client may register with them (RFC 7591 `scope`, which the MCP SDK sends).
        scopes: [...OIDC_SCOPES, ...resourceScopes],
        claims: {
            openid: ["sub"],
            email: ["email", "email_verified"],
            profile: ["name", "preferred_username"],
        },
        responseTypes: ["code"],
        pkce: { required: () => true },
        clientBasedCORS: () => true,
        async findAccount(_ctx, sub) {
            return {
                accountId: sub,
                async claims() {
                    return { sub, email: emailFor(sub), email_verified: true, name: sub, preferred_username: sub };
                },
            };
        },
        async extraTokenClaims(_ctx, token) {
            return token.accountId ? { email: emailFor(token.accountId) } : undefined;
        },
        // Refresh tokens for every client allowed the refresh_token grant (OAuth 2.1 style; MCP
        // clients rarely ask offline_access), not tied to the login session.
        issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
        expiresWithSession: async () => false,
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        async renderError(ctx, out) {
            ctx.type = "html";
            ctx.body = page(
                "Error",
                `<h1>Error</h1>${Object.entries(out)
                    .map(([k, v]) => `<p class="${escapeHtml(k)}" id="${escapeHtml(k)}">${escapeHtml(k)}: ${escapeHtml(v)}</p>`)
                    .join("\n")}`,
            );
        },
        ttl: {
            AccessToken: () => ttl,
            ClientCredentials: () => ttl,
            AuthorizationCode: () => 60,
            IdToken: () => ttl,
            RefreshToken: () => day,
            Interaction: () => 10 * 60,
            Session: () => day,
            Grant: () => day,
        },
        features: {
            devInteractions: { enabled: false },
            registration: { enabled: true, initialAccessToken: false },
            clientCredentials: { enabled: true },
            revocation: {
                enabled: true,
                allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
            },
            dPoP: { enabled: args.dpop },
            clientIdMetadataDocument: args.cimd ? { enabled: true, ack: "draft-02" } : { enabled: false },
            resourceIndicators: {
                enabled: true,
                defaultResource: async (_ctx, _client, oneOf) => oneOf ?? undefined,
                // A token request without `resource` still gets the resource the code was granted for.
                useGrantedResource: async () => true,
                async getResourceServerInfo(_ctx, resourceIndicator) {
                    if (!resourceAllowed(args, resourceIndicator)) {
                        throw new errors.InvalidTarget(`this test server does not issue tokens for ${resourceIndicator}`);
                    }
                    return {
                        scope: resourceScopes.join(" "),
                        audience: resourceIndicator,
                        accessTokenTTL: ttl,
                        accessTokenFormat: "jwt",
                        jwt: { sign: { alg: args.alg } },
                    };
                },
            },
        },
    };

    const provider = new Provider(issuer, configuration);
    if (args.verbose) {
        provider.use(async (ctx, next) => {
            await next();
            console.error(`provider: ${ctx.method} ${ctx.path} -> ${ctx.res.statusCode}`);
        });
    }
    provider.use(interactions(provider));
    provider.on("server_error", (_ctx, err) => console.error("provider: server_error:", err));
    server.on("request", provider.callback());

    let stopping = false;
    const stop = (signal) => {
        if (stopping) return;
        stopping = true;
        if (args.verbose) console.error(`provider: ${signal}, stopping`);
        server.close(() => process.exit(0));
        server.closeAllConnections();
        setTimeout(() => process.exit(0), 2000).unref();
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));

    stdoutWrite(`ISSUER ${issuer}\n`);
}

main().catch((e) => {
    console.error(`provider.mjs: ${e.stack || e}`);
    process.exit(1);
});
