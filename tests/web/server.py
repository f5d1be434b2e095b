"""A real ``aqm web`` (uvicorn) in a thread on a free port, reading as aqm_reader."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from aqm.localservices import free_port
from aqm_core.settings import Settings
from web.app import create_app


@contextmanager
def running_web(settings: Settings, **app_options: Any) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, **app_options), host="127.0.0.1", port=port, log_level="warning",
        access_log=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"aqm web did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def web_settings(reader_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "web_database_url": reader_url,
        "web_cache_s": 0,
        "web_rate_per_minute": 100_000,
        "timezone": "Asia/Ho_Chi_Minh",
        "province": "Bắc Ninh",
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]
