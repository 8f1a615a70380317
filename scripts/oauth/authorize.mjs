#!/usr/bin/env node
// Completes an OAuth authorization request the way a user in a browser would, over plain HTTP
// (see login.mjs), for tests and for MCP clients that want to open a browser:
//
//   node scripts/oauth/authorize.mjs [--deliver] [--deny] [--verbose] '<authorization url>' LOGIN
//
// stdout: exactly one line, the URL the authorization server finally redirects to (the client's
//         redirect_uri with `code`, `state` and `iss`, or with `error` when refused).
// --deliver  then GET that URL when it is a loopback http(s) callback listener (mcp-remote's,
//            MCP Inspector's), so the waiting client receives the code; its HTTP status goes to
//            stderr.
// --deny     press Cancel on the login page instead of signing in (the redirect has
//            error=access_denied).
// --verbose  one stderr line per request.
// Exit status: 0 when the redirect has a `code` (and, with --deliver, it was delivered);
//              3 when it has an `error` (still printed, and delivered with --deliver);
//              1 on any failure (message on stderr); 2 on bad usage.
import { completeLogin, deliverRedirect } from "./login.mjs";

const args = { deliver: false, deny: false, verbose: false, positional: [] };
for (const arg of process.argv.slice(2)) {
    if (arg === "--deliver") args.deliver = true;
    else if (arg === "--deny") args.deny = true;
    else if (arg === "--verbose") args.verbose = true;
    else if (arg.startsWith("--")) {
        process.stderr.write(`authorize.mjs: unknown option ${arg}\n`);
        process.exit(2);
    } else args.positional.push(arg);
}
if (args.positional.length !== 2) {
    process.stderr.write("usage: authorize.mjs [--deliver] [--deny] [--verbose] '<authorization url>' LOGIN\n");
    process.exit(2);
}
const [authorizationUrl, login] = args.positional;
const log = args.verbose ? (line) => process.stderr.write(`authorize.mjs: ${line}\n`) : undefined;

try {
    const redirect = await completeLogin(authorizationUrl, login, { deny: args.deny, log });
    process.stdout.write(`${redirect}\n`);
    const params = new URL(redirect).searchParams;
    if (args.deliver) {
        const { status, body } = await deliverRedirect(redirect);
        process.stderr.write(`authorize.mjs: delivered to the callback: HTTP ${status}${args.verbose ? ` ${body}` : ""}\n`);
    }
    if (!params.has("code")) {
        process.stderr.write(`authorize.mjs: the server refused: ${params.get("error") ?? "no code"} ${params.get("error_description") ?? ""}\n`);
        process.exit(3);
    }
    process.exit(0);
} catch (e) {
    process.stderr.write(`authorize.mjs: ${e.message}\n`);
    process.exit(1);
}
