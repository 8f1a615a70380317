#!/usr/bin/env node
// Gets an access token from an authorization server in one shot, headlessly, for tests:
//
//   node scripts/oauth/token.mjs --issuer URL --resource URL --login NAME [--scope 'mcp offline_access'] [--json]
//   node scripts/oauth/token.mjs --issuer URL --resource URL --client-credentials [--scope mcp] [--json]
//
// Authorization code flow (default), as a public client would do it:
//   1. reads the server's metadata (/.well-known/oauth-authorization-server, else
//      /.well-known/openid-configuration) and checks its `issuer`;
//   2. registers a public client (RFC 7591, token_endpoint_auth_method "none", grant types
//      authorization_code + refresh_token, redirect_uri http://127.0.0.1:1/callback: never requested);
//   3. builds the authorization request with PKCE S256, state, scope and resource (RFC 8707), and
//      completes the login as NAME with login.mjs's completeLogin;
//   4. checks state and iss (RFC 9207) of the redirect and exchanges the code (with code_verifier
//      and resource) at the token endpoint.
// --client-credentials instead registers a confidential client (client_secret_basic, grant type
// client_credentials) and asks the token endpoint directly (sub = its client_id, no email).
//
// stdout: the access token alone on one line (a JWT when the resource is one the server issues
//         JWTs for); with --json, one JSON object instead: the token response (access_token,
//         token_type, expires_in, scope, refresh_token, id_token, ...) plus client_id.
// Exit status 0; on any failure nothing on stdout, a message on stderr and status 1 (2: bad usage).
// --scope defaults to "mcp". --verbose logs each request on stderr.
import crypto from "node:crypto";

import { completeLogin } from "./login.mjs";

function usage(message) {
    process.stderr.write(`token.mjs: ${message}\n`);
    process.stderr.write("usage: token.mjs --issuer URL --resource URL (--login NAME | --client-credentials) [--scope S] [--json] [--verbose]\n");
    process.exit(2);
}

const args = { issuer: "", resource: "", login: "", scope: "mcp", json: false, clientCredentials: false, verbose: false };
for (let i = 2; i < process.argv.length; i++) {
    const arg = process.argv[i];
    const value = () => {
        if (i + 1 >= process.argv.length) usage(`${arg} needs a value`);
        return process.argv[++i];
    };
    if (arg === "--issuer") args.issuer = value();
    else if (arg === "--resource") args.resource = value();
    else if (arg === "--login") args.login = value();
    else if (arg === "--scope") args.scope = value();
    else if (arg === "--json") args.json = true;
    else if (arg === "--client-credentials") args.clientCredentials = true;
    else if (arg === "--verbose") args.verbose = true;
    else usage(`unknown argument ${arg}`);
}
if (!args.issuer) usage("--issuer is required");
if (!args.resource) usage("--resource is required");
if (!args.clientCredentials && !args.login) usage("--login is required (or --client-credentials)");

const log = (line) => {
    if (args.verbose) process.stderr.write(`token.mjs: ${line}\n`);
};

class Failure extends Error {}

async function request(url, init = {}) {
    log(`${init.method ?? "GET"} ${url}`);
    let response;
    try {
        response = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(10_000) });
    } catch (e) {
        throw new Failure(`${init.method ?? "GET"} ${url} failed: ${e.cause?.message || e.message}`);
    }
    const text = await response.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: response.status, json, text };
}

async function metadata(issuer) {
    const base = issuer.replace(/\/$/, "");
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
        const { status, json } = await request(`${base}${path}`);
        if (status === 200 && json) {
            if (json.issuer !== issuer) throw new Failure(`metadata at ${path} names issuer ${json.issuer}, not ${issuer}`);
            return json;
        }
    }
    throw new Failure(`no authorization server metadata at ${issuer}`);
}

async function register(meta, body) {
    if (!meta.registration_endpoint) throw new Failure("the server offers no registration_endpoint");
    const { status, json, text } = await request(meta.registration_endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
    });
    if (status !== 201 || !json?.client_id) throw new Failure(`client registration: HTTP ${status}: ${text.slice(0, 500)}`);
    return json;
}

async function tokenRequest(meta, params, headers = {}) {
    const { status, json, text } = await request(meta.token_endpoint, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", ...headers },
        body: new URLSearchParams(params).toString(),
    });
    if (status !== 200 || !json?.access_token) throw new Failure(`token request: HTTP ${status}: ${text.slice(0, 500)}`);
    return json;
}

async function authorizationCode(meta) {
    const redirectUri = "http://127.0.0.1:1/callback";
    const client = await register(meta, {
        client_name: "scripts/oauth/token.mjs",
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
    });
    const verifier = crypto.randomBytes(32).toString("base64url");
    const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
    const state = crypto.randomBytes(16).toString("base64url");
    const url = new URL(meta.authorization_endpoint);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", client.client_id);
    url.searchParams.set("redirect_uri", redirectUri);
    url.searchParams.set("code_challenge", challenge);
    url.searchParams.set("code_challenge_method", "S256");
    url.searchParams.set("state", state);
    if (args.scope) url.searchParams.set("scope", args.scope);
    // OpenID Connect only keeps offline_access when consent is prompted for (the SDKs do the same).
    if (args.scope.split(" ").includes("offline_access")) url.searchParams.set("prompt", "consent");
    url.searchParams.set("resource", args.resource);

    const redirect = new URL(await completeLogin(url.href, args.login, { log: args.verbose ? log : undefined }));
    const params = redirect.searchParams;
    if (params.has("error")) throw new Failure(`authorization refused: ${params.get("error")} ${params.get("error_description") ?? ""}`);
    if (params.get("state") !== state) throw new Failure("the redirect's state is not the request's");
    if (params.has("iss") && params.get("iss") !== meta.issuer) throw new Failure(`the redirect's iss ${params.get("iss")} is not ${meta.issuer}`);
    const code = params.get("code");
    if (!code) throw new Failure(`no code in the redirect ${redirect.origin}${redirect.pathname}`);

    const tokens = await tokenRequest(meta, {
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
        client_id: client.client_id,
        resource: args.resource,
    });
    return { ...tokens, client_id: client.client_id };
}

async function clientCredentials(meta) {
    const client = await register(meta, {
        client_name: "scripts/oauth/token.mjs (client_credentials)",
        redirect_uris: [],
        grant_types: ["client_credentials"],
        response_types: [],
        token_endpoint_auth_method: "client_secret_basic",
    });
    const basic = Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString("base64");
    const params = { grant_type: "client_credentials", resource: args.resource };
    if (args.scope) params.scope = args.scope;
    const tokens = await tokenRequest(meta, params, { authorization: `Basic ${basic}` });
    return { ...tokens, client_id: client.client_id };
}

try {
    const meta = await metadata(args.issuer);
    const tokens = args.clientCredentials ? await clientCredentials(meta) : await authorizationCode(meta);
    process.stdout.write(args.json ? `${JSON.stringify(tokens)}\n` : `${tokens.access_token}\n`);
} catch (e) {
    process.stderr.write(`token.mjs: ${e instanceof Failure || e.name === "LoginError" ? e.message : e.stack}\n`);
    process.exit(1);
}
