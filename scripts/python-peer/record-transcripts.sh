#!/usr/bin/env bash
# Regenerates scripts/python-peer/TRANSCRIPTS.md: real HTTP exchanges with server.py (the official
# Python MCP SDK), recorded with curl. Needs ./scripts/install-python-peer.sh first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py="${PYTHON_PEER:-$repo/.python-peer/bin/python}"
out="$here/TRANSCRIPTS.md"
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

start() { # start NAME ARGS... -> sets URL_<NAME>
    local name="$1"; shift
    "$py" "$here/server.py" --port 0 --token tok-A --token tok-B "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pids+=($!)
    for _ in $(seq 100); do grep -q LISTENING "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
    printf -v "URL_$name" '%s' "$(awk '{print $2}' "$tmp/$name.out")"
}

versions="$("$py" -c 'import importlib.metadata as m; print("mcp", m.version("mcp") + ", uvicorn", m.version("uvicorn"))')"

# ex TITLE CURL-ARGS... : prints the request as sent and the response as received.
ex() {
    local title="$1"; shift
    {
        echo "### $title"
        echo
        echo '```http'
        # The request line and headers as curl sent them (-v), then the body.
        rm -f "$tmp/body" "$tmp/head"; : >"$tmp/body"
        curl -sS -v --max-time "${MAXTIME:-5}" -N "$@" -o "$tmp/body" -D "$tmp/head" 2>"$tmp/verbose" || true
        grep '^> ' "$tmp/verbose" | tr -d '\r' | sed 's/^> //' | grep -v '^User-Agent\|^Content-Length\|^$'
        local data=""
        for ((i = 1; i <= $#; i++)); do
            if [ "${!i}" = "-d" ]; then j=$((i + 1)); data="${!j}"; fi
        done
        [ -n "$data" ] && { echo; echo "$data"; }
        echo
        echo '--- response ---'
        grep -iv '^date:\|^server:\|^transfer-encoding' "$tmp/head" | tr -d '\r' | sed '/^$/d'
        echo
        tr -d '\r' <"$tmp/body" | sed -e '${/^$/d}'
        [ -z "$(tail -c1 "$tmp/body")" ] || echo
        echo '```'
        echo
    } >>"$out"
}

J=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
AUTH=(-H 'Authorization: Token tok-A')
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"curl","version":"0"}}'
M=(-H 'MCP-Protocol-Version: 2026-07-28')

cat >"$out" <<EOF
# Python MCP SDK peer: recorded HTTP transcripts

**Recorded from the official Python SDK ($versions)** by \`scripts/python-peer/record-transcripts.sh\`
(rerun it to refresh), against \`scripts/python-peer/server.py\` on 127.0.0.1 with tokens
\`tok-A\` (index 0) and \`tok-B\` (index 1). \`Date\`, \`Server\`, \`Transfer-Encoding\`,
\`User-Agent\` and \`Content-Length\` request headers are left out; everything else is verbatim
(SSE bodies keep their blank-line framing, with \`\\r\\n\` shown as \`\\n\`).

## What a client writer must know (observed here, mcp 2.3.0)

- **Era routing is by the \`MCP-Protocol-Version\` request header only**, never the body: absent or one
  of the handshake versions (\`2024-11-05\`, \`2025-03-26\`, \`2025-06-18\`, \`2025-11-25\`) -> session
  path; anything else -> the 2026-07-28 path, which answers an unknown version with
  400 / \`-32022\` and \`data.supported\`. An \`initialize\` whose body asks for \`2026-07-28\` (or any
  unknown version) without that header is a session-era initialize and gets the counter-offer \`2025-11-25\`.
- Both eras: a POST must \`Accept\` both \`application/json\` and \`text/event-stream\` (else 406; with
  \`--json-response\` only \`application/json\` is required) and carry \`Content-Type: application/json\`.
  Session-era answers are SSE (\`event: message\`) unless \`--json-response\`.
  A missing or wrong \`MCP-Protocol-Version\` after init is tolerated on this path.
- Session-era error responses (400 missing session, 406) still carry a freshly minted
  \`mcp-session-id\` header that the server immediately forgets: only adopt the session id of a
  **successful** initialize.
- Unknown/expired/deleted session -> **404** \`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Session not found"}}\`.
  A non-initialize POST without a session id -> 400 \`-32600 "Bad Request: Missing session ID"\` (the same body the
  1.x SDK gives a 2026-07-28 probe).
- Tool failures (including an unknown tool name) are **results** with \`isError: true\`, not JSON-RPC errors.
- \`notifications/cancelled\` (session era) -> 202, and the cancelled request is still answered, with
  error \`-32800 "Request cancelled"\`. JSON-RPC batches are rejected (\`-32602\` validation error) at 2025-11-25.
- 2026-07-28 path: \`Mcp-Method\` is required on every request and \`Mcp-Name\` on \`tools/call\`,
  \`prompts/get\` (name) and \`resources/read\` (the URI); missing or different -> 400 \`-32020\`.
  \`params._meta\` must carry \`io.modelcontextprotocol/protocolVersion\` (equal to the header, else -32020) and
  \`io.modelcontextprotocol/clientCapabilities\` (else 400 \`-32602\`). \`initialize\` and \`ping\` are 404 /
  \`-32601\` there; GET and DELETE are 405 with \`Allow: POST\`; notifications get 202 and are dropped.
  Results carry \`resultType: "complete"\`, some \`ttlMs\`/\`cacheScope\`, and
  \`_meta["io.modelcontextprotocol/serverInfo"]\`. A response becomes SSE only when the handler emits a
  notification (e.g. progress) or runs past 15 s (then \`: ping\` comments every 15 s); otherwise it is
  plain JSON with the error-mapped HTTP status. Log notifications (\`ctx.log\`) are not delivered there.
  Optional \`Mcp-Param-<arg>\` headers on \`tools/call\` are checked against the arguments (400 on mismatch).
- DNS-rebinding protection: \`Host\` must be \`127.0.0.1:*\`, \`localhost:*\` or \`[::1]:*\`, else
  **421** \`Invalid Host header\` (plain text).
- With \`--event-store\`, every SSE response starts with a priming event (\`id\`, empty \`data\`,
  \`retry\`); a stream closed early by the server is resumed with GET + \`Last-Event-ID\`, which replays
  the missed events including the response and then **stays open**: the client must stop reading
  once it has the response.

EOF

start main
U="$URL_main"
S_INIT="$(curl -sS -D - -o /dev/null "${AUTH[@]}" "${J[@]}" "$U" -d "$INIT" | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:"{print $2}')"
curl -sS -o /dev/null "${AUTH[@]}" "${J[@]}" -H "Mcp-Session-Id: $S_INIT" -H 'MCP-Protocol-Version: 2025-11-25' "$U" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
curl -sS -X POST "${U%/mcp}/_peer/expire-sessions" -o /dev/null

echo "## 1. Session era (2025-11-25), default SSE responses" >>"$out"; echo >>"$out"
ex "initialize (no MCP-Protocol-Version header yet)" "${AUTH[@]}" "${J[@]}" "$U" -d "$INIT"
SID="$(tr -d '\r' <"$tmp/head" | awk 'tolower($1)=="mcp-session-id:"{print $2}')"
S=(-H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25')
ex "notifications/initialized -> 202" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
ex "tools/list" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
ex "tools/call with progressToken: progress + log notifications, then the result" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow_progress","arguments":{"steps":2},"_meta":{"progressToken":"pt-1"}}}'
ex "tools/call add: text + structuredContent" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}'
ex "tools/call fail: a tool error is a result with isError true (HTTP 200)" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"fail","arguments":{"message":"boom"}}}'
ex "tools/call of an unknown tool: also isError true, not a JSON-RPC error" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"nope","arguments":{}}}'
ex "tools/call whoami with tok-B on tok-A's session (the SDK does not bind sessions to this custom auth)" \
    -H 'Authorization: Token tok-B' "${J[@]}" "${S[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}'
ex "unknown method" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","id":8,"method":"foo/bar"}'
ex "resources/templates/list" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","id":9,"method":"resources/templates/list"}'
ex "resources/read via the template" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":10,"method":"resources/read","params":{"uri":"text://incidents/P123"}}'
ex "prompts/get" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":11,"method":"prompts/get","params":{"name":"summarize_incident","arguments":{"incident_id":"P1"}}}'
ex "completion/complete" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":12,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"summarize_incident"},"argument":{"name":"style","value":"b"}}}'
MAXTIME=1 ex "GET: the standalone server->client SSE stream (stays open; cut by curl after 1 s)" \
    "${AUTH[@]}" -H 'Accept: text/event-stream' "${S[@]}" "$U"
ex "DELETE ends the session" -X DELETE "${AUTH[@]}" "${S[@]}" "$U"
ex "the deleted session -> 404" "${AUTH[@]}" "${J[@]}" "${S[@]}" "$U" -d '{"jsonrpc":"2.0","id":13,"method":"tools/list"}'
ex "a session after POST /_peer/expire-sessions -> 404 (same body)" "${AUTH[@]}" "${J[@]}" \
    -H "Mcp-Session-Id: $S_INIT" -H 'MCP-Protocol-Version: 2025-11-25' "$U" -d '{"jsonrpc":"2.0","id":14,"method":"tools/list"}'
ex "a request without session id that is not initialize -> 400 (note the unused Mcp-Session-Id it still mints)" \
    "${AUTH[@]}" "${J[@]}" "$U" -d '{"jsonrpc":"2.0","id":15,"method":"tools/list"}'
ex "Accept without text/event-stream -> 406" "${AUTH[@]}" -H 'Content-Type: application/json' -H 'Accept: application/json' "$U" -d "$INIT"
ex "initialize asking for an unknown version: counter-offer 2025-11-25" "${AUTH[@]}" "${J[@]}" "$U" \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2099-01-01","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'

echo "## 2. Authentication (the peer's middleware, PagerDuty's shape)" >>"$out"; echo >>"$out"
ex "wrong token -> 401" -H 'Authorization: Token wrong' "${J[@]}" "$U" -d "$INIT"
ex "Bearer instead of Token -> 401" -H 'Authorization: Bearer tok-A' "${J[@]}" "$U" -d "$INIT"

echo "## 3. Stateless era (2026-07-28), same endpoint" >>"$out"; echo >>"$out"
ex "server/discover" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: server/discover' "$U" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{$META}}"
ex "tools/call (Mcp-Method + Mcp-Name), answered as application/json" "${AUTH[@]}" "${J[@]}" "${M[@]}" \
    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' "$U" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"},$META}}"
ex "tools/call with progressToken: SSE (progress only; no log notifications in this era)" "${AUTH[@]}" "${J[@]}" "${M[@]}" \
    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: slow_progress' "$U" \
    -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow_progress","arguments":{"steps":2},"_meta":{"progressToken":7,"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
ex "Mcp-Name as =?base64?...?=" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: tools/call' -H "Mcp-Name: =?base64?$(printf echo | base64)?=" "$U" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"b64\"},$META}}"
ex "resources/read: Mcp-Name carries the URI" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: resources/read' -H 'Mcp-Name: text://greeting' "$U" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\",\"params\":{\"uri\":\"text://greeting\",$META}}"
ex "missing Mcp-Name -> 400 / -32020" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: tools/call' "$U" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"},$META}}"
ex "missing Mcp-Method -> 400 / -32020" "${AUTH[@]}" "${J[@]}" "${M[@]}" "$U" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{$META}}"
ex "no params._meta -> 400 / -32602" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: tools/list' "$U" \
    -d '{"jsonrpc":"2.0","id":8,"method":"tools/list"}'
ex "header/body version mismatch -> 400 / -32020" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: tools/list' "$U" \
    -d '{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}}}'
ex "unsupported version -> 400 / -32022 with data.supported" "${AUTH[@]}" "${J[@]}" -H 'MCP-Protocol-Version: 2027-01-01' -H 'Mcp-Method: tools/list' "$U" \
    -d '{"jsonrpc":"2.0","id":10,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2027-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}'
ex "unknown method -> 404 / -32601" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: foo/bar' "$U" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"foo/bar\",\"params\":{$META}}"
ex "ping does not exist in this era -> 404 / -32601" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: ping' "$U" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\",\"params\":{$META}}"
ex "a notification -> 202, dropped" "${AUTH[@]}" "${J[@]}" "${M[@]}" -H 'Mcp-Method: notifications/cancelled' "$U" \
    -d '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}'
ex "GET -> 405" "${AUTH[@]}" -H 'Accept: text/event-stream' "${M[@]}" "$U"
ex "DELETE -> 405" -X DELETE "${AUTH[@]}" "${M[@]}" "$U"

echo "## 4. Pagination (--page-size 3)" >>"$out"; echo >>"$out"
start paged --page-size 3 --json-response
P="$URL_paged"
PSID="$(curl -sS -D - -o /dev/null "${AUTH[@]}" "${J[@]}" "$P" -d "$INIT" | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:"{print $2}')"
PS=(-H "Mcp-Session-Id: $PSID" -H 'MCP-Protocol-Version: 2025-11-25')
curl -sS -o /dev/null "${AUTH[@]}" "${J[@]}" "${PS[@]}" "$P" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
ex "tools/list page 1 (session era, --json-response)" "${AUTH[@]}" "${J[@]}" "${PS[@]}" "$P" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
CUR="$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["nextCursor"])' "$tmp/body")"
ex "page 2 with the cursor" "${AUTH[@]}" "${J[@]}" "${PS[@]}" "$P" -d "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"cursor\":\"$CUR\"}}"
ex "a bad cursor -> -32602" "${AUTH[@]}" "${J[@]}" "${PS[@]}" "$P" -d '{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"cursor":"garbage"}}'

echo "## 5. Resumable SSE (--event-store --retry-interval 200), session era" >>"$out"; echo >>"$out"
start resume --event-store --retry-interval 200
R="$URL_resume"
ex "initialize: a priming event (id, empty data, retry) comes first" "${AUTH[@]}" "${J[@]}" "$R" -d "$INIT"
RSID="$(tr -d '\r' <"$tmp/head" | awk 'tolower($1)=="mcp-session-id:"{print $2}')"
RS=(-H "Mcp-Session-Id: $RSID" -H 'MCP-Protocol-Version: 2025-11-25')
curl -sS -o /dev/null "${AUTH[@]}" "${J[@]}" "${RS[@]}" "$R" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
ex "tools/call close_stream_then_finish: the server closes the stream after the priming event" "${AUTH[@]}" "${J[@]}" "${RS[@]}" "$R" \
    -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"close_stream_then_finish","arguments":{"delay_ms":300},"_meta":{"progressToken":"p"}}}'
LAST="$(tr -d '\r' <"$tmp/body" | awk '$1=="id:"{print $2}' | tail -1)"
sleep 0.5
MAXTIME=2 ex "GET with Last-Event-ID: replays the rest, incl. the result (the stream then stays open; cut by curl after 2 s)" \
    "${AUTH[@]}" -H 'Accept: text/event-stream' "${RS[@]}" -H "Last-Event-ID: $LAST" "$R"

echo "## 6. The peer's request log (GET /_peer/requests), last two records of section 5" >>"$out"; echo >>"$out"
{
    echo '```json'
    curl -sS "${R%/mcp}/_peer/requests" | "$py" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[-2:], indent=2))'
    echo '```'
} >>"$out"
echo "wrote $out"
