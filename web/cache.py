"""A small time-limited cache of rendered documents, one computation per key at a time.

The current-AQI document changes once an hour per station; hundreds of phones asking
within the same minute get the same bytes from one query. When a document has just
expired, requests keep getting it while one background task rebuilds it, so nobody waits
for the database at each expiry; a document more than twice its time-to-live old (the
database unreachable meanwhile) is never served: the request waits for a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class DocumentCache:
    def __init__(self, ttl_s: float, max_entries: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # built at
        self._locks: dict[str, asyncio.Lock] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    async def get(self, key: str, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached bytes of ``key``, built by ``build`` when missing or expired."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None:
            age = now - entry[0]
            if age < self.ttl_s:
                return entry[1]
            if age < 2 * self.ttl_s:
                if key not in self._refreshing:
                    task = asyncio.create_task(self._refresh(key, build))
                    self._refreshing[key] = task
                return entry[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)  # another request may have built it meanwhile
            if entry is not None and time.monotonic() - entry[0] < self.ttl_s:
                return entry[1]
            return await self._build(key, build)

    async def _build(self, key: str, build: Callable[[], Awaitable[bytes]]) -> bytes:
        body = await build()
        if self.ttl_s > 0:
            self._entries[key] = (time.monotonic(), body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                old, _ = self._entries.popitem(last=False)
                self._locks.pop(old, None)
        return body

    async def _refresh(self, key: str, build: Callable[[], Awaitable[bytes]]) -> None:
        try:
            async with self._locks.setdefault(key, asyncio.Lock()):
                await self._build(key, build)
        except Exception:  # the next request past twice the TTL reports it
            log.warning("refreshing %s failed", key, exc_info=True)
        finally:
            self._refreshing.pop(key, None)
