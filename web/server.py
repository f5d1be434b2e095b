"""Serve :func:`web.app.create_app` with uvicorn (what ``aqm web`` runs)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import uvicorn
from starlette.routing import Mount

from aqm.settings import Settings
from web.app import create_app

MAX_CONCURRENT_CONNECTIONS = 1000
"""Beyond this uvicorn answers 503 at once instead of queueing without bound."""


def serve(
    settings: Settings, *, data_dir: Path | None = None, mounts: Sequence[Mount] = ()
) -> None:
    app = create_app(settings, data_dir=data_dir, mounts=mounts)
    config = uvicorn.Config(
        app,
        host=settings.web_host,
        port=settings.web_port,
        proxy_headers=True,
        forwarded_allow_ips=settings.web_forwarded_allow_ips,
        server_header=False,
        loop="auto",  # uvloop and httptools when installed (they are dependencies)
        http="auto",
        limit_concurrency=MAX_CONCURRENT_CONNECTIONS,
        timeout_keep_alive=5,
        access_log=False,
        log_level="info",
    )
    uvicorn.Server(config).run()
