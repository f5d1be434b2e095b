"""What protects the public service: read-only methods, a rate per client, a time limit
for each request, and the security headers of every response (pure ASGI middleware)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import OrderedDict
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

# Everything the page needs comes from this server: no other origin may run or be loaded.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


async def send_json(send: Send, status: int, body: dict[str, object],
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:  # fmt: skip
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(payload)).encode()),
            (b"cache-control", b"no-store"),
            *(headers or []),
        ],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": payload})


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class ReadOnly:
    """Answers 405 to every method that could change something: the service has none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in READ_METHODS:
            await send_json(
                send, 405, {"error": "read-only service: only GET and HEAD are allowed"},
                [(b"allow", b"GET, HEAD, OPTIONS")],
            )  # fmt: skip
            return
        await self.app(scope, receive, send)


class RateLimit:
    """A token bucket per client address: ``per_minute`` requests, refilled continuously.

    The client is the connection's peer, or the address a trusted proxy names in
    X-Forwarded-For (uvicorn's ``forwarded_allow_ips``). At most ``max_clients`` buckets
    are kept; the least recently seen is forgotten first, so memory stays bounded.
    """

    def __init__(self, app: ASGIApp, per_minute: int, max_clients: int = 100_000) -> None:
        self.app = app
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float) -> float:
        """0 when the request may go; else the seconds until it could."""
        tokens, last = self.buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill_per_s)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.refill_per_s
        self.buckets[client] = (tokens, now)
        if len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.allow(client[0] if client else "", time.monotonic())
        if wait > 0:
            await send_json(
                send, 429, {"error": "too many requests; try again later"},
                [(b"retry-after", str(math.ceil(wait)).encode())],
            )  # fmt: skip
            return
        await self.app(scope, receive, send)


class RequestTimeout:
    """A request that has not started its response within ``seconds`` is answered 503.

    Only the wait for the response is limited: a large file already being sent to a slow
    phone is not cut off.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = asyncio.timeout(self.seconds)

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                limit.reschedule(None)  # answering: no limit on sending it
            await send(message)

        try:
            async with limit:
                await self.app(scope, receive, watched)
        except TimeoutError:
            if not limit.expired():
                raise  # a time-out of something inside, not of this request
            await send_json(send, 503, {"error": "the request took too long; try again"})
