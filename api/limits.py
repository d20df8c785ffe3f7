"""The request limits, in one place for every endpoint, checked before the framework decodes a body
(it decodes JSON before any route code or sign-in runs):

- size: a body larger than the limit is refused with 413 before it is read (by its Content-Length)
  or as soon as the bytes received pass it (a body without a length), so no request can make the
  API hold more than the limit in memory. JSON bodies are limited to `settings.max_json_bytes`;
  multipart submissions (the case JSON and its files, which are spooled to disk as they arrive) to
  `settings.max_upload_bytes` plus that.
- values: a body that is not a form (JSON) is read whole, within its size limit, and its values are
  counted on the text (service/jsontext.py); more than `settings.max_json_values` is refused with 413
  before it is decoded, since decoding a megabyte of tiny values takes some fifty times its size.
- large bodies: a JSON body over LARGE_BODY_BYTES is read, decoded and answered only while it holds
  one of `settings.max_large_bodies` places; the others wait, unread (the server stops reading their
  connections). Even within the value limit a body costs some five times its size while it is
  decoded, copied and validated: 40 requests of 1 MiB at once took the API from 135 to 337 MiB.
  A case is a few kilobytes, so normal traffic never waits for a place.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from api.problems import problem
from engine.case import MAX_DEPTH
from service import jsontext
from service.errors import TooLarge, TooManyValues

Scope = dict[str, Any]
_FORMS = (b"multipart/", b"application/x-www-form-urlencoded")
"""Streamed to the app as they arrive; the form parser limits their fields and parts itself."""


LARGE_BODY_BYTES = 64 * 1024
"""A JSON body larger than this needs one of the `large_bodies` places (the size at which uvicorn
stops reading a connection until the body is asked for)."""


class BodyLimitMiddleware:
    def __init__(
        self, app: Any, *, json_bytes: int, upload_bytes: int, json_values: int, large_bodies: int
    ) -> None:
        self.app = app
        self.json_bytes = json_bytes
        self.upload_bytes = upload_bytes
        self.json_values = json_values
        self.large_bodies = large_bodies
        self._places: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _large_places(self) -> asyncio.Semaphore:
        """The places of the running event loop (an app may be served by several loops in turn)."""
        loop = asyncio.get_running_loop()
        if self._places is None or self._places[0] is not loop:
            self._places = (loop, asyncio.Semaphore(self.large_bodies))
        return self._places[1]

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
                await self._refuse(scope, receive, send, _size_message(limit), TooLarge)
                return
        else:
            declared = -1
        if headers.get(b"content-type", b"").lower().startswith(_FORMS):
            await self._streamed(scope, receive, send, limit)
            return
        async with contextlib.AsyncExitStack() as place:
            if declared > LARGE_BODY_BYTES:
                await place.enter_async_context(self._large_places())
            await self._whole(scope, receive, send, limit, place if declared < 0 else None)

    async def _whole(
        self, scope: Scope, receive: Any, send: Any, limit: int, place: contextlib.AsyncExitStack | None
    ) -> None:
        """Read the body (at most `limit` bytes), count its values, then hand it to the app in one
        piece. A body without a length takes its place (`place`) once it turns out large."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away before the body was sent
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await self._refuse(scope, receive, send, _size_message(limit), TooLarge)
                return
            chunks.append(chunk)
            if place is not None and received > LARGE_BODY_BYTES:
                await place.enter_async_context(self._large_places())
                place = None
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        del chunks
        refused = jsontext.refusal(body, max_values=self.json_values, max_depth=MAX_DEPTH)
        if refused is not None:
            await self._refuse(scope, receive, send, f"请求正文的 {refused}", TooManyValues)
            return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return await receive()  # after the body: the client's disconnect, when it comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Any, send: Any, limit: int) -> None:
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
                    await self._refuse(scope, receive, send, _size_message(limit), TooLarge)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Any) -> None:
            if not refused:  # after the 413, whatever the app still answers is dropped
                await send(message)

        await self.app(scope, limited, guarded)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Any, send: Any, detail: str, error: type[TooLarge | TooManyValues]
    ) -> None:
        response = problem(
            error.status, title=error.title, detail=detail, code=error.code, instance=scope.get("path")
        )
        await response(scope, receive, send)


def _size_message(limit: int) -> str:
    size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"
    return f"请求正文超过 {size} 上限"
