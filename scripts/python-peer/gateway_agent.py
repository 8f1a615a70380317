#!/usr/bin/env python3
"""An MCP agent built on the official Python MCP SDK client (`mcp` 2.3.0), for testing the gateway.

    gateway_agent.py --url http://127.0.0.1:PORT/mcp --key GATEWAY_KEY --mode legacy|2026-07-28 \
                     --steps '[{"op": "call", "tool": "get_user_data", "args": {}}, ...]' \
                     [--elicit-answer '{"action": "accept", "content": {...}}']

It connects with `Authorization: Bearer <key>` (omitted with `--key ""`), in the handshake era
(`--mode legacy`: initialize + Mcp-Session-Id) or the stateless era (`--mode 2026-07-28`), runs the
steps in order, and prints one JSON object on stdout:

    {"protocol_version": "...", "results": [...], "elicitations": [...], "samplings": [...], "logs": [...]}

Each result is `{"ok": ...}` or `{"error": {"code": ..., "message": ...}}`. Steps (`op`):
    list_tools                       -> list of tool names
    call {tool, args, progress?}     -> {"is_error", "structured", "text", "progress": [[p, total, msg], ...]}
    list_resources / list_templates  -> list of URIs / URI templates
    read_resource {uri}              -> list of texts
    list_prompts                     -> list of names
    get_prompt {name, args}          -> list of message texts
    complete {prompt, argument, value} -> list of values
    wait_list_changed {seconds}      -> true once notifications/tools/list_changed arrived (the
                                        session's stream in the handshake era, a
                                        subscriptions/listen stream at 2026-07-28), false on timeout
A connection that fails (for example HTTP 401) prints {"connect_error": "..."} and exits 0.

Elicitation requests (and sampling requests) from the server are recorded and answered with
`--elicit-answer` (default: accept with empty content) / a fixed assistant text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CreateMessageResult, ElicitResult, PromptReference, TextContent


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, MCPError):
        return {"error": {"code": exc.code, "message": exc.message, "data": getattr(exc, "data", None)}}
    return {"error": {"code": None, "message": f"{type(exc).__name__}: {exc}"}}


def _text(content: Any) -> str | None:
    return getattr(content, "text", None)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    elicitations: list[Any] = []
    samplings: list[Any] = []
    answer = json.loads(args.elicit_answer) if args.elicit_answer else {"action": "accept", "content": {}}

    async def on_elicit(context: Any, params: Any) -> ElicitResult:
        elicitations.append(params.model_dump(mode="json", by_alias=True, exclude_none=True))
        return ElicitResult(**answer)

    async def on_sample(context: Any, params: Any) -> CreateMessageResult:
        samplings.append(params.model_dump(mode="json", by_alias=True, exclude_none=True))
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=args.sampling_answer), model="gateway-test-agent"
        )

    notifications: list[str] = []
    logs: list[Any] = []

    async def on_log(params: Any) -> None:
        logs.append(params.model_dump(mode="json", by_alias=True, exclude_none=True))

    async def on_message(message: Any) -> None:
        method = getattr(message, "method", None) or getattr(getattr(message, "root", None), "method", None)
        if isinstance(method, str):
            notifications.append(method)

    http_client = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=60.0))
    transport = streamable_http_client(args.url, http_client=http_client)
    client = Client(
        transport,
        mode=args.mode,
        # Without a callback the SDK declares no elicitation at all (neither form nor URL).
        elicitation_callback=None if args.no_elicitation else on_elicit,
        sampling_callback=on_sample,
        message_handler=on_message,
        logging_callback=on_log,
        log_level=args.log_level or None,
        cache=None,
    )
    try:
        await client.__aenter__()
    except BaseException as exc:  # noqa: BLE001 - the test wants to see why
        await http_client.aclose()
        return {"connect_error": f"{type(exc).__name__}: {exc}", "detail": repr(exc)}
    results: list[Any] = []
    try:
        for step in json.loads(args.steps):
            op = step["op"]
            try:
                if op == "list_tools":
                    listed = await client.list_tools()
                    results.append({"ok": [t.name for t in listed.tools]})
                elif op == "call":
                    progress: list[Any] = []

                    async def on_progress(p: float, total: float | None, message: str | None) -> None:
                        progress.append([p, total, message])

                    result = await client.call_tool(
                        step["tool"],
                        step.get("args", {}),
                        progress_callback=on_progress if step.get("progress") else None,
                    )
                    results.append(
                        {
                            "ok": {
                                "is_error": bool(result.is_error),
                                "structured": result.structured_content,
                                "text": "\n".join(t for t in (_text(c) for c in result.content) if t),
                                "progress": progress,
                            }
                        }
                    )
                elif op == "list_resources":
                    listed = await client.list_resources()
                    results.append({"ok": [str(r.uri) for r in listed.resources]})
                elif op == "list_templates":
                    listed = await client.list_resource_templates()
                    results.append({"ok": [t.uri_template for t in listed.resource_templates]})
                elif op == "read_resource":
                    read = await client.read_resource(step["uri"])
                    results.append({"ok": [getattr(c, "text", None) for c in read.contents]})
                elif op == "list_prompts":
                    listed = await client.list_prompts()
                    results.append({"ok": [p.name for p in listed.prompts]})
                elif op == "get_prompt":
                    got = await client.get_prompt(step["name"], step.get("args", {}))
                    results.append({"ok": [_text(m.content) for m in got.messages]})
                elif op == "complete":
                    done = await client.complete(
                        PromptReference(type="ref/prompt", name=step["prompt"]),
                        {"name": step["argument"], "value": step["value"]},
                    )
                    results.append({"ok": done.completion.values})
                elif op == "wait_list_changed":
                    seconds = float(step.get("seconds", 15))
                    if args.mode == "legacy":
                        deadline = asyncio.get_running_loop().time() + seconds
                        while "notifications/tools/list_changed" not in notifications:
                            if asyncio.get_running_loop().time() > deadline:
                                break
                            await asyncio.sleep(0.05)
                        results.append({"ok": "notifications/tools/list_changed" in notifications})
                    else:
                        async def first_event() -> bool:
                            async with client.listen(tools_list_changed=True) as sub:
                                async for _event in sub:
                                    return True
                            return False

                        try:
                            results.append({"ok": await asyncio.wait_for(first_event(), seconds)})
                        except asyncio.TimeoutError:
                            results.append({"ok": False})
                else:
                    results.append({"error": {"code": None, "message": f"unknown op {op}"}})
            except BaseException as exc:  # noqa: BLE001 - every failure is data for the test
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                results.append(_error(exc))
        return {
            "protocol_version": client.protocol_version,
            "results": results,
            "elicitations": elicitations,
            "samplings": samplings,
            "logs": logs,
        }
    finally:
        try:
            await client.__aexit__(None, None, None)
        except BaseException:  # noqa: BLE001 - closing is best effort
            pass
        await http_client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--mode", default="legacy")
    parser.add_argument("--steps", default="[]")
    parser.add_argument("--elicit-answer", default="")
    parser.add_argument(
        "--log-level", default="", help="the lowest log level asked of the server (logging/setLevel, or per request)"
    )
    parser.add_argument("--sampling-answer", default="sampled by the agent")
    parser.add_argument(
        "--no-elicitation",
        action="store_true",
        help="declare no elicitation capability (like an agent without URL elicitation)",
    )
    args = parser.parse_args()
    out = asyncio.run(run(args))
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
