#!/usr/bin/env node
// Verifies a JWT access token against its issuer's JWKS (see jwt.mjs), for selftest.sh and tests:
//
//   node scripts/oauth/verify_jwt.mjs --issuer URL --audience URL [--sub S] [--alg A] [--email E]
//        [--scope-has S]... TOKEN      (TOKEN "-" = read it from stdin)
//
// stdout: one JSON object {"header": {...}, "claims": {...}} when every check passes (exit 0);
// otherwise a message on stderr and exit 1 (2: bad usage).
import { fetchJwks, verifyAccessToken, TokenError } from "./jwt.mjs";
import { readFileSync } from "node:fs";

function usage(message) {
    process.stderr.write(`verify_jwt.mjs: ${message}\n`);
    process.exit(2);
}

const args = { issuer: "", audience: "", sub: undefined, alg: undefined, email: undefined, scopes: [], token: "" };
for (let i = 2; i < process.argv.length; i++) {
    const arg = process.argv[i];
    const value = () => {
        if (i + 1 >= process.argv.length) usage(`${arg} needs a value`);
        return process.argv[++i];
    };
    if (arg === "--issuer") args.issuer = value();
    else if (arg === "--audience") args.audience = value();
    else if (arg === "--sub") args.sub = value();
    else if (arg === "--alg") args.alg = value();
    else if (arg === "--email") args.email = value();
    else if (arg === "--scope-has") args.scopes.push(value());
    else if (arg.startsWith("--")) usage(`unknown option ${arg}`);
    else if (args.token) usage("one token only");
    else args.token = arg;
}
if (!args.issuer || !args.audience || !args.token) usage("usage: verify_jwt.mjs --issuer URL --audience URL [--sub S] [--alg A] [--email E] [--scope-has S]... TOKEN|-");
const token = args.token === "-" ? readFileSync(0, "utf8").trim() : args.token;

try {
    const jwks = await fetchJwks(args.issuer);
    const { header, claims } = verifyAccessToken(token, {
        issuer: args.issuer,
        audience: args.audience,
        jwks,
        sub: args.sub,
        algs: args.alg ? [args.alg] : undefined,
    });
    if (args.email !== undefined && claims.email !== args.email) throw new TokenError(`email ${claims.email} is not ${args.email}`);
    const granted = new Set(String(claims.scope ?? "").split(" ").filter(Boolean));
    for (const scope of args.scopes) if (!granted.has(scope)) throw new TokenError(`scope "${claims.scope ?? ""}" lacks ${scope}`);
    process.stdout.write(`${JSON.stringify({ header, claims })}\n`);
} catch (e) {
    process.stderr.write(`verify_jwt.mjs: ${e instanceof TokenError ? e.message : e.stack}\n`);
    process.exit(1);
}
