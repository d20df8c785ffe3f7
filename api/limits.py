"""The request size limit, in one place for every endpoint: a body larger than the limit is refused
with 413 before it is read (by its Content-Length) or as soon as the bytes received pass it (a body
without a length), so no request can make the API hold more than the limit in memory.

JSON bodies are limited to `settings.max_json_bytes`; multipart submissions (the case JSON and its
files, which are spooled to disk as they arrive) to `settings.max_upload_bytes` plus that.
"""

from __future__ import annotations

from typing import Any

from api.problems import problem
from service.errors import TooLarge

Scope = dict[str, Any]


class BodyLimitMiddleware:
    def __init__(self, app: Any, *, json_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.json_bytes = json_bytes
        self.upload_bytes = upload_bytes

    def limit_for(self, headers: dict[bytes, bytes]) -> int:
        if headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            return self.upload_bytes + self.json_bytes
        return self.json_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())  # read once per request
        limit = self.limit_for(headers)
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > limit:
                await self._refuse(scope, receive, send, limit)
                return
        received = 0
        refused = False

        async def limited() -> Any:
            # Past the limit the 413 is sent from here and the app is told the client has gone: the
            # framework turns an error raised while it reads a body into a 400 of its own.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await self._refuse(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Any) -> None:
            if not refused:  # after the 413, whatever the app still answers is dropped
                await send(message)

        await self.app(scope, limited, guarded)

    @staticmethod
    async def _refuse(scope: Scope, receive: Any, send: Any, limit: int) -> None:
        response = problem(
            413, title=TooLarge.title, detail=_message(limit), code=TooLarge.code, instance=scope.get("path")
        )
        await response(scope, receive, send)


def _message(limit: int) -> str:
    size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"
    return f"请求正文超过 {size} 上限"
