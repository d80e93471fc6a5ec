"""The API's outer wall: every request body is read at most to the size limit and, when it is
JSON (every path but the console's forms), parsed strictly and checked against
:mod:`broker.limits` before any route sees it.

Python's JSON reader takes ``Infinity`` and ``NaN``, integers of any length and nesting as
deep as its stack allows; none of that reaches the broker. A refusal is an ordinary error
body (``InvalidRequest`` 422, ``TooLarge`` 413) naming the field or the limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_plus

from anyio.to_thread import run_sync

from broker.api.wire import encode, status_of
from broker.errors import BrokerError, InvalidRequest, NotFound, TooLarge
from broker.limits import Limits, document_problems, has_control

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FORM_PATHS = ("/ui/",)
"""Paths whose bodies are forms, not JSON (the web console): bounded in size here, parsed
by their routes."""


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number this service takes (only finite numbers)")


def parse_strict(body: bytes, limits: Limits) -> Any:
    """The JSON document in ``body``, or ``InvalidRequest`` naming what is wrong."""
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidRequest(
            f"the body is nested too deep (at most {limits.depth} levels)"
        ) from None
    except UnicodeDecodeError:
        raise InvalidRequest("the body is not UTF-8 text") from None
    except ValueError as exc:  # malformed JSON, Infinity/NaN, integers of 4300+ digits
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
    found = document_problems(data, limits)
    if found:
        raise InvalidRequest(
            "the request is not valid:\n" + "\n".join(f"  {p}" for p in found),
            hint="numbers must be finite, text free of control characters (tab and "
            "newline are fine), integers within 64 bits",
        )
    return data


async def respond(send: Send, exc: BrokerError, headers: dict[str, str] | None = None) -> None:
    """Send ``exc`` as the API's error body."""
    body = json.dumps(encode(exc)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status_of(exc), "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """ASGI middleware: bounds and checks request bodies (see the module's docstring)."""

    def __init__(self, app: ASGIApp, limits: Callable[[], Limits]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read, check and replay the body; answer 413 or 422 instead when it is refused."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if has_control(scope.get("path", "")):  # no id or name holds one: none exists
            await respond(send, NotFound("nothing here", hint="`qcb jobs` lists your jobs"))
            return
        if has_control(unquote_plus(scope.get("query_string", b"").decode("latin-1"))):
            await respond(send, InvalidRequest("the query contains a control character"))
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limits = self.limits()
        try:
            body = await self._read(scope, receive, limits.body_bytes)
            if body.strip() and not scope["path"].startswith(FORM_PATHS):
                # a few MB of JSON take a while: not on the event loop
                await run_sync(parse_strict, body, limits)
        except BrokerError as exc:
            await respond(send, exc, {"connection": "close"} if isinstance(exc, TooLarge) else {})
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read(scope: Scope, receive: Receive, most: int) -> bytes:
        """The whole body, refusing (without reading on) one larger than ``most`` bytes."""
        too_large = TooLarge(
            f"the request body is larger than {most} bytes, the most this service takes",
            hint="send less: large inputs belong in files the job names, or in several jobs "
            "(the limit is the setting QCB_MAX_BODY_BYTES)",
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > most:
                raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > most:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
