"""Request bodies over a size get 413 before any of them is parsed."""

from __future__ import annotations

import json
from typing import Any, Callable


class BodyLimit:
    """ASGI middleware: a declared Content-Length over ``max_bytes`` is refused at
    once; a body without one (chunked) is read up to ``max_bytes`` + 1 and
    refused when it goes past. Accepted bodies are replayed to the app."""

    def __init__(self, app: Callable[..., Any], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await self._refuse(send, 400, "Content-Length is not a number")
                return
            if length > self.max_bytes:
                await self._refuse(send, 413, f"the request body ({length:,} bytes) is over the limit of "
                                              f"{self.max_bytes:,} bytes")
                return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(send, 413, f"the request body is over the limit of {self.max_bytes:,} bytes")
                return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: the client's disconnect, when it comes

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Callable[..., Any], status: int, detail: str) -> None:
        data = json.dumps({"detail": detail, "problems": []}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})
