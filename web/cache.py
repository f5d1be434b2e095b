"""A small time-limited cache of rendered documents, one computation per key at a time.

The current-AQI document changes once an hour per station; hundreds of phones asking
within the same minute get the same bytes from one query.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable


class DocumentCache:
    def __init__(self, ttl_s: float, max_entries: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached bytes of ``key``, built by ``build`` when missing or expired."""
        hit = self._fresh(key)
        if hit is not None:
            return hit
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._fresh(key)  # another request may have built it meanwhile
            if hit is not None:
                return hit
            body = await build()
            if self.ttl_s > 0:
                self._entries[key] = (time.monotonic() + self.ttl_s, body)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    old, _ = self._entries.popitem(last=False)
                    self._locks.pop(old, None)
            return body

    def _fresh(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]
