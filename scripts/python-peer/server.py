#!/usr/bin/env python3
"""Interop test peer: a real MCP server built on the official Python SDK (`mcp` 2.3.0).

It is served over Streamable HTTP by uvicorn on 127.0.0.1 and speaks both protocol eras on one
endpoint, `/mcp` (the SDK routes by the `MCP-Protocol-Version` header: absent or a handshake-era
version -> session path with `initialize` + `Mcp-Session-Id`; `2026-07-28` -> stateless path).

Behind a PagerDuty-style auth check: every request to `/mcp` needs `Authorization: Token <token>`
with one of the `--token`s, else 401 `{"error":{"message":"Authentication failed","code":2006}}`.

    server.py --port 0 --token TOKEN [--token TOKEN2 ...] [--json-response] [--page-size N]
              [--event-store] [--retry-interval MS] [--session-idle-timeout SECONDS]
              [--auth-form token|token-equals|bearer] [--hosted-names]

Set up like PagerDuty's hosted server (what public sources say of it):
    --auth-form      the only header form accepted: `Token <t>` (default), `Token token=<t>`
                     or `Bearer <t>`; any other form of a good token is a 401 like a bad token
    --hosted-names   the incidents list tool is `browse_incidents` (the hosted server's name),
                     not `list_incidents` (the open-source package's)

Prints exactly one line `LISTENING http://127.0.0.1:<port>/mcp` on stdout once it accepts requests.

Control endpoints (no auth):
    GET  /_peer/requests         JSON list of every HTTP request seen (never the token itself)
    POST /_peer/reset            clear that list
    POST /_peer/expire-sessions  forget every session: an old Mcp-Session-Id then answers 404
    POST /_peer/rate-limit?n=N&reset=S[&headers=0]
                                 the next N authenticated requests get PagerDuty's 429
                                 `{"error":{"message":"Rate Limit Exceeded","code":2020}}`, with
                                 `ratelimit-limit: 960`, `ratelimit-remaining: 0` and
                                 `ratelimit-reset: S` unless headers=0 (no header at all then)
    POST /_peer/forbid?n=N       the next N authenticated requests get PagerDuty's 403
                                 `{"error":{"message":"Access Denied","code":2010,"errors":[...]}}`
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
import sys
import time
import warnings
from itertools import count
from typing import Annotated, Any

import uvicorn
from pydantic import BaseModel, Field
from mcp.server.mcpserver import Context, Elicit, ListRoots, MCPServer, Resolve, Sample
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http import EventStore
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageResult,
    ListRootsResult,
    SamplingMessage,
    TextContent,
    EmptyResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    PromptReference,
    ResourceTemplateReference,
    SetLevelRequestParams,
    ToolAnnotations,
)

TOKEN_INDEX_HEADER = "x-python-peer-token-index"
"""Set by the auth middleware (any client-sent value is stripped) so `whoami` can tell which token matched."""

CONTROL_PREFIX = "/_peer/"


# --------------------------------------------------------------------------------------------
# The MCP server content
# --------------------------------------------------------------------------------------------


# Questions the mid-call tools ask (resolvers, see `build_server`).

class IncidentChoice(BaseModel):
    incident_id: str
    acknowledge: bool = False


def ask_incident() -> Elicit[IncidentChoice]:
    return Elicit("Which incident should be acknowledged?", IncidentChoice)


def ask_model(topic: str) -> Sample:
    return Sample(
        [SamplingMessage(role="user", content=TextContent(type="text", text=f"Summarise {topic}"))],
        max_tokens=64,
    )


def ask_roots() -> ListRoots:
    return ListRoots()


def build_server(page_size: int | None, hosted_names: bool = False) -> MCPServer:
    mcp = MCPServer(
        "python-peer",
        version="2.3.0-peer",
        instructions="Interop test peer built on the official Python MCP SDK.",
        log_level="WARNING",
    )

    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

    @mcp.tool(description="Echo the given text back.", annotations=read_only)
    def echo(text: str) -> str:
        return text

    @mcp.tool(
        description="Echo text for a region; `region` is mirrored into the Mcp-Param-Region header "
        "(2026-07-28 x-mcp-header), which the SDK checks against the argument.",
        annotations=read_only,
    )
    def regional_echo(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
        text: str,
    ) -> str:
        return f"{region}: {text}"

    @mcp.tool(description="Add a tool named `name` at run time and announce the change to listeners.")
    async def add_dynamic_tool(name: str, ctx: Context) -> str:
        def dynamic() -> str:
            return f"I am {name}"

        mcp.add_tool(dynamic, name=name, description="A tool added at run time.")
        await ctx.notify_tools_changed()  # 2026-07-28: reaches `subscriptions/listen` streams
        try:
            await ctx.session.send_tool_list_changed()  # session era: the GET stream
        except Exception:  # noqa: BLE001 - not every era has a session to notify
            pass
        return f"added {name}"

    incidents_tool = "browse_incidents" if hosted_names else "list_incidents"

    @mcp.tool(
        name=incidents_tool,
        description="List incidents, newest first (PagerDuty's incidents list tool).",
        annotations=read_only,
    )
    def list_incidents(limit: int = 25) -> dict[str, Any]:
        incidents = [
            {"id": "Q1PEER0001", "status": "triggered", "title": "Peer incident one"},
            {"id": "Q1PEER0002", "status": "acknowledged", "title": "Peer incident two"},
        ][:limit]
        return {"incidents": incidents, "limit": limit, "more": False}

    @mcp.tool(description="Add two integers; returns text and structuredContent {result}.", annotations=read_only)
    def add(a: int, b: int) -> dict[str, int]:
        return {"result": a + b}

    @mcp.tool(
        description="Report progress `steps` times (needs a progressToken) and log each step, then finish.",
        annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False),
    )
    async def slow_progress(steps: int, ctx: Context, delay_ms: int = 50) -> str:
        for i in range(1, steps + 1):
            await ctx.report_progress(i, steps, f"step {i}/{steps}")
            try:
                await ctx.log("info", f"slow_progress step {i}", logger_name="python-peer")
            except Exception:  # logging is deprecated at 2026-07-28; never fail the tool for it
                pass
            await asyncio.sleep(delay_ms / 1000)
        return f"done {steps} steps"

    @mcp.tool(description="Which configured --token (0-based index) authenticated this request.", annotations=read_only)
    def whoami(ctx: Context) -> dict[str, int]:
        headers = ctx.headers or {}
        return {"token_index": int(headers.get(TOKEN_INDEX_HEADER, "-1"))}

    @mcp.tool(
        description="Always fails: a tool error (isError: true).",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True),
    )
    def fail(message: str = "this tool always fails") -> str:
        # ToolError's text reaches the client; any other exception becomes "Error executing tool fail".
        raise ToolError(message)

    @mcp.tool(description="Sleep for `ms` milliseconds, then answer (for timeouts and cancellation).")
    async def sleep(ms: int) -> str:
        await asyncio.sleep(ms / 1000)
        return f"slept {ms} ms"

    @mcp.tool(
        description="Session era with --event-store: close this request's SSE stream early (the client must "
        "resume with GET + Last-Event-ID), then send the result."
    )
    async def close_stream_then_finish(ctx: Context, delay_ms: int = 300) -> str:
        await ctx.report_progress(1, 2, "before close")
        await ctx.close_sse_stream()
        await asyncio.sleep(delay_ms / 1000)
        await ctx.report_progress(2, 2, "after close")
        return "finished after stream close"

    @mcp.tool(description="A large text result of `kib` KiB (for size limits).")
    def big(kib: int) -> str:
        return "x" * (kib * 1024)

    # Tools that ask the client mid-call: each question is a resolver; the SDK sends it as a
    # server request on the call's stream in the session era, and as an `input_required` result
    # (multi round-trip requests) at 2026-07-28.
    @mcp.tool(description="Ask the user (elicitation/create) which incident to acknowledge, then say so.")
    def acknowledge_with_confirmation(
        choice: Annotated[IncidentChoice, Resolve(ask_incident)],
    ) -> str:
        verb = "acknowledged" if choice.acknowledge else "left alone"
        return f"incident {choice.incident_id} {verb}"

    @mcp.tool(description="Ask the client's model (sampling/createMessage) to summarise `topic`.")
    def summarise_with_model(
        topic: str,
        sampled: Annotated[CreateMessageResult, Resolve(ask_model)],
    ) -> str:
        text = sampled.content.text if isinstance(sampled.content, TextContent) else "?"
        return f"{sampled.model} says: {text}"

    @mcp.tool(description="Ask the client for its roots (roots/list) and name them.")
    def name_roots(roots: Annotated[ListRootsResult, Resolve(ask_roots)]) -> str:
        return "roots: " + ", ".join(str(root.uri) for root in roots.roots)

    # Resources ---------------------------------------------------------------------------
    @mcp.resource("text://greeting", name="greeting", description="A static greeting.", mime_type="text/plain")
    def greeting() -> str:
        return "Hello from the Python MCP SDK peer"

    @mcp.resource("text://readme", name="readme", description="What this peer is.", mime_type="text/markdown")
    def readme() -> str:
        return "# python-peer\nThe official Python MCP SDK (mcp 2.3.0) behind a Token check."

    @mcp.resource("text://config", name="config", description="A JSON document.", mime_type="application/json")
    def config() -> str:
        return json.dumps({"region": "us", "page_size": page_size})

    @mcp.resource("text://incidents/{incident_id}", name="incident", description="One incident by id.",
                  mime_type="application/json")
    def incident(incident_id: str) -> str:
        return json.dumps({"id": incident_id, "status": "triggered", "title": f"Incident {incident_id}"})

    # Prompts -----------------------------------------------------------------------------
    @mcp.prompt(description="Summarise an incident.")
    def summarize_incident(incident_id: str, style: str = "brief") -> str:
        return f"Summarise incident {incident_id} in a {style} style."

    @mcp.prompt(description="Draft a status update for a service.")
    def status_update(service: str, audience: str = "engineers") -> str:
        return f"Write a status update about {service} for {audience}."

    STYLES = ["brief", "detailed", "bullet-points", "executive"]
    SERVICES = ["api", "billing", "checkout", "database", "web"]

    @mcp.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference, argument: CompletionArgument, context: CompletionContext | None
    ) -> Completion | None:
        if isinstance(ref, PromptReference):
            pool = {"style": STYLES, "service": SERVICES, "audience": ["engineers", "executives", "customers"]}.get(
                argument.name, []
            )
        else:
            pool = ["PABC123", "PDEF456", "PXYZ789"] if argument.name == "incident_id" else []
        values = [v for v in pool if v.startswith(argument.value)]
        return Completion(values=values, total=len(values), has_more=False)

    low = mcp._lowlevel_server

    # logging/setLevel for handshake-era clients (MCPServer itself does not register one).
    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        return EmptyResult()

    low.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)

    if page_size:
        install_pagination(mcp, page_size)
    return mcp


def _page(items: list[Any], cursor: str | None, size: int) -> tuple[list[Any], str | None]:
    start = 0
    if cursor is not None:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset:"))
        except Exception:
            raise MCPError(code=INVALID_PARAMS, message=f"Invalid cursor: {cursor!r}") from None
        if start < 0 or start > len(items):
            raise MCPError(code=INVALID_PARAMS, message=f"Invalid cursor: {cursor!r}")
    end = start + size
    next_cursor = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], next_cursor


def install_pagination(mcp: MCPServer, size: int) -> None:
    """Replace MCPServer's list handlers (which never paginate) with cursor-paginated ones."""
    low = mcp._lowlevel_server

    async def list_tools(ctx: Any, params: PaginatedRequestParams) -> ListToolsResult:
        page, nxt = _page(await mcp.list_tools(), params.cursor, size)
        return ListToolsResult(tools=page, next_cursor=nxt)

    async def list_resources(ctx: Any, params: PaginatedRequestParams) -> ListResourcesResult:
        page, nxt = _page(await mcp.list_resources(), params.cursor, size)
        return ListResourcesResult(resources=page, next_cursor=nxt)

    async def list_templates(ctx: Any, params: PaginatedRequestParams) -> ListResourceTemplatesResult:
        page, nxt = _page(await mcp.list_resource_templates(), params.cursor, size)
        return ListResourceTemplatesResult(resource_templates=page, next_cursor=nxt)

    async def list_prompts(ctx: Any, params: PaginatedRequestParams) -> ListPromptsResult:
        page, nxt = _page(await mcp.list_prompts(), params.cursor, size)
        return ListPromptsResult(prompts=page, next_cursor=nxt)

    low.add_request_handler("tools/list", PaginatedRequestParams, list_tools)
    low.add_request_handler("resources/list", PaginatedRequestParams, list_resources)
    low.add_request_handler("resources/templates/list", PaginatedRequestParams, list_templates)
    low.add_request_handler("prompts/list", PaginatedRequestParams, list_prompts)


class InMemoryEventStore(EventStore):
    """Minimal event store so the session era can resume SSE streams (GET + Last-Event-ID)."""

    def __init__(self) -> None:
        self._events: list[tuple[str, str, Any]] = []  # (event_id, stream_id, message)
        self._ids = count(1)

    async def store_event(self, stream_id: str, message: Any) -> str:
        event_id = str(next(self._ids))
        self._events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: Any) -> str | None:
        idx = next((i for i, (eid, _, _) in enumerate(self._events) if eid == last_event_id), None)
        if idx is None:
            return None
        stream_id = self._events[idx][1]
        for eid, sid, msg in self._events[idx + 1 :]:
            if sid == stream_id and msg is not None:
                from mcp.server.streamable_http import EventMessage

                await send_callback(EventMessage(msg, eid))
        return stream_id


# --------------------------------------------------------------------------------------------
# The HTTP layer: Token auth + request recording + control endpoints
# --------------------------------------------------------------------------------------------


def _jsonrpc_methods(body: bytes) -> list[str] | None:
    try:
        decoded = json.loads(body)
    except Exception:
        return None
    msgs = decoded if isinstance(decoded, list) else [decoded]
    out = []
    for m in msgs:
        if isinstance(m, dict):
            if "method" in m:
                out.append(str(m["method"]))
            elif "result" in m or "error" in m:
                out.append("<response>")
    return out


AUTH_FORMS = {"token": "Token ", "token-equals": "Token token=", "bearer": "Bearer "}
"""The header forms PagerDuty documents, by `--auth-form` name: the prefix before the token."""


def _query(scope: Any) -> dict[str, str]:
    """The request's query parameters (last value wins)."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


class PeerMiddleware:
    def __init__(self, app: Any, tokens: list[str], mcp: MCPServer, auth_form: str = "token") -> None:
        self.app = app
        self.tokens = tokens
        self.mcp = mcp
        self.auth_prefix = AUTH_FORMS[auth_form]
        self.rate_limited = 0
        self.rate_limit_reset = 60
        self.rate_limit_headers = True
        self.forbidden = 0
        self.records: list[dict[str, Any]] = []
        self._seq = count(1)

    async def _send_json(self, send: Any, status: int, body: Any, extra_headers: list | None = None) -> None:
        data = json.dumps(body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
        await send({"type": "http.response.body", "body": data})

    async def _control(self, scope: Any, receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/_peer/requests" and method == "GET":
            await self._send_json(send, 200, self.records)
        elif path == "/_peer/reset" and method == "POST":
            self.records.clear()
            await self._send_json(send, 200, {"ok": True})
        elif path == "/_peer/rate-limit" and method == "POST":
            query = _query(scope)
            self.rate_limited = int(query.get("n", "1"))
            self.rate_limit_reset = int(query.get("reset", "60"))
            self.rate_limit_headers = query.get("headers", "1") != "0"
            await self._send_json(send, 200, {"ok": True})
        elif path == "/_peer/forbid" and method == "POST":
            self.forbidden = int(_query(scope).get("n", "1"))
            await self._send_json(send, 200, {"ok": True})
        elif path == "/_peer/expire-sessions" and method == "POST":
            manager = self.mcp.session_manager
            sessions = list(manager._server_instances.items())
            for session_id, transport in sessions:
                await manager._discard_session(session_id, transport)
            await self._send_json(send, 200, {"ok": True, "expired": len(sessions)})
        else:
            await self._send_json(send, 404, {"error": f"no control endpoint {method} {path}"})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(CONTROL_PREFIX):
            await self._control(scope, receive, send)
            return

        raw_headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        headers: dict[str, str] = {}
        for k, v in raw_headers:
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))

        auth = headers.get("authorization")
        token_index = None
        if auth is not None and auth.startswith(self.auth_prefix):
            presented = auth[len(self.auth_prefix) :]
            if presented in self.tokens:
                token_index = self.tokens.index(presented)

        record: dict[str, Any] = {
            "seq": next(self._seq),
            "time": time.time(),
            "method": scope["method"],
            "path": scope["path"],
            "auth_present": auth is not None,
            "auth_matched": token_index is not None,
            "token_index": token_index,
            "mcp_session_id": headers.get("mcp-session-id"),
            "mcp_protocol_version": headers.get("mcp-protocol-version"),
            "mcp_method": headers.get("mcp-method"),
            "mcp_name": headers.get("mcp-name"),
            "accept": headers.get("accept"),
            "content_type": headers.get("content-type"),
            "last_event_id": headers.get("last-event-id"),
            "user_agent": headers.get("user-agent"),
            "jsonrpc_methods": None,
            "status": None,
            "response_session_id": None,
            "response_content_type": None,
        }
        self.records.append(record)

        # Buffer a POST body so the JSON-RPC method(s) can be recorded, then replay it downstream.
        if scope["method"] == "POST":
            chunks = []
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    record["status"] = "client-disconnected"
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            record["jsonrpc_methods"] = _jsonrpc_methods(body)
            replayed = False

            async def replay_receive() -> Any:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            downstream_receive = replay_receive
        else:
            downstream_receive = receive

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
                for k, v in message.get("headers", []):
                    name = k.decode("latin-1").lower()
                    if name == "mcp-session-id":
                        record["response_session_id"] = v.decode("latin-1")
                    elif name == "content-type":
                        record["response_content_type"] = v.decode("latin-1")
            await send(message)

        if token_index is None:
            # A Bearer server challenges for Bearer credentials (RFC 6750); PagerDuty's `Token`
            # answers carry no challenge.
            challenge = [(b"www-authenticate", b'Bearer realm="mcp"')] if self.auth_prefix == "Bearer " else []
            await self._send_json(
                recording_send, 401, {"error": {"message": "Authentication failed", "code": 2006}}, challenge
            )
            return

        if self.rate_limited > 0:
            self.rate_limited -= 1
            extra = []
            if self.rate_limit_headers:
                extra = [
                    (b"ratelimit-limit", b"960"),
                    (b"ratelimit-remaining", b"0"),
                    (b"ratelimit-reset", str(self.rate_limit_reset).encode()),
                ]
            await self._send_json(
                recording_send, 429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}}, extra
            )
            return
        if self.forbidden > 0:
            self.forbidden -= 1
            body = {
                "error": {
                    "message": "Access Denied",
                    "code": 2010,
                    "errors": ["The user does not have the 'incidents.write' permission"],
                }
            }
            await self._send_json(recording_send, 403, body)
            return

        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in raw_headers if k.lower() != TOKEN_INDEX_HEADER.encode()] + [
            (TOKEN_INDEX_HEADER.encode(), str(token_index).encode())
        ]
        await self.app(scope, downstream_receive, recording_send)


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="0 = a random free port")
    parser.add_argument("--token", action="append", required=True, help="an accepted token (repeatable)")
    parser.add_argument("--json-response", action="store_true", help="answer POSTs with application/json, not SSE")
    parser.add_argument("--page-size", type=int, default=None, help="paginate list results with nextCursor")
    parser.add_argument("--event-store", action="store_true", help="session era: resumable SSE (priming events)")
    parser.add_argument("--retry-interval", type=int, default=None, help="SSE retry: field in ms (with --event-store)")
    parser.add_argument("--session-idle-timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (stderr)")
    parser.add_argument(
        "--auth-form", choices=sorted(AUTH_FORMS), default="token", help="the only Authorization form accepted"
    )
    parser.add_argument(
        "--hosted-names", action="store_true", help="browse_incidents (the hosted server's name) for list_incidents"
    )
    args = parser.parse_args()

    mcp = build_server(args.page_size, args.hosted_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        starlette_app = mcp.streamable_http_app(
            streamable_http_path="/mcp",
            json_response=args.json_response,
            event_store=InMemoryEventStore() if args.event_store else None,
            retry_interval=args.retry_interval,
            session_idle_timeout=args.session_idle_timeout,
            host="127.0.0.1",  # keeps the SDK's DNS-rebinding protection, allowing 127.0.0.1:* / localhost:*
        )
    app = PeerMiddleware(starlette_app, args.token, mcp, args.auth_form)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]

    config = uvicorn.Config(app, log_level=args.log_level, lifespan="on", access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
                sys.exit("python-peer: uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        print(f"LISTENING http://127.0.0.1:{port}/mcp", flush=True)
        await task

    asyncio.run(run())


if __name__ == "__main__":
    main()
