#!/usr/bin/env node
// A loopback HTTP proxy that adds the gateway key: every request to it goes to --upstream with
// `Authorization: Bearer <key>` set (the conformance suite cannot send a header of its own); the
// rest of the request (method, path, Host, Origin, MCP headers, body) and the whole response
// (status, headers, SSE streams as they come) pass through unchanged.
//
//   node key-proxy.mjs --upstream http://127.0.0.1:PORT --key GATEWAY_KEY [--port 0]
//
// Prints `LISTENING http://127.0.0.1:<port>` once it accepts connections.
import http from "node:http";

const args = { upstream: "", key: "", port: 0 };
for (let i = 2; i < process.argv.length; i += 2) {
    const [flag, value] = [process.argv[i], process.argv[i + 1]];
    if (flag === "--upstream") args.upstream = value;
    else if (flag === "--key") args.key = value;
    else if (flag === "--port") args.port = Number(value);
    else throw new Error(`unknown argument ${flag}`);
}
if (!args.upstream || !args.key) throw new Error("--upstream and --key are required");
const upstream = new URL(args.upstream);
// Keep-alive to the gateway, as a client library would.
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${args.key}` };
    const forward = http.request(
        {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers,
            agent,
        },
        (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
            res.flushHeaders();
            answer.pipe(res);
            answer.on("error", () => res.destroy());
        },
    );
    forward.on("error", (error) => {
        if (!res.headersSent) {
            res.writeHead(502, { "content-type": "text/plain" });
            res.end(`key-proxy: ${error.message}\n`);
        } else {
            res.destroy();
        }
    });
    // The client went away (a closed SSE stream, a cancelled request): so does the forward.
    res.on("close", () => forward.destroy());
    req.pipe(forward);
});
server.keepAliveTimeout = 30000;
server.listen(args.port, "127.0.0.1", () => {
    console.log(`LISTENING http://127.0.0.1:${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => process.exit(0));
}
