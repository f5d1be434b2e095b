"""The ASGI application of ``aqm web``: the citizens' page, its JSON, the SensorThings API.

``create_app(settings, data_dir=..., mounts=...)``: the SensorThings API (:mod:`web.sta`)
shares the page's connection pool at ``/sta/v1.1``; ``data_dir`` (the open-data files) is
served at ``/data/``; ``mounts`` are further read-only sub-applications (Starlette Mounts).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection, OperationalError
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from aqm_core.errors import AqmError
from aqm_core.settings import Settings
from web import documents, queries
from web.cache import DocumentCache
from web.middleware import RateLimit, ReadOnly, RequestTimeout, SecurityHeaders
from web.sta.app import create_sta_app

log = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
BUNDLED_MAP: Final = STATIC_DIR / "province.geojson"
MAX_HOURS: Final = 168
MAX_DAYS: Final = 90
READER: Final = "aqm_reader"
STA_PATH: Final = "/sta/v1.1"


def reader_url(settings: Settings) -> str:
    """AQM_WEB_DATABASE_URL, else AQM_DATABASE_URL's server as the aqm_reader user."""
    if settings.web_database_url:
        return settings.web_database_url
    return make_conninfo(settings.database_url, user=READER, password="")


def reader_connection_options(timeout_ms: int) -> dict[str, Any]:
    """How every connection of the pool reads: outside transactions, read-only, the
    request time limit as statement timeout, times in UTC."""
    return {
        "autocommit": True,
        "options": f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms}"
        " -c TimeZone=UTC",
        "application_name": "aqm web",
    }


def _json(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class BadRequestError(AqmError):
    """A query parameter out of its bounds (answered 400 with the message)."""


def _bounded(request: Request, name: str, default: int, upper: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= upper:
        raise BadRequestError(f"{name} must be a whole number from 1 to {upper}, not {text!r}")
    return int(text)


class PublicApi:
    """The handlers; they share the pool, the cache and the settings."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool[Any]) -> None:
        self.settings = settings
        self.pool = pool
        self.zone = ZoneInfo(settings.timezone)
        self.cache = DocumentCache(settings.web_cache_s)
        self.max_age = int(settings.web_cache_s)
        self.source = settings.web_source or (
            f"Mạng lưới quan trắc chất lượng không khí tỉnh {settings.province}"
        )
        self.map_file = settings.web_map_file or BUNDLED_MAP

    def _response(self, body: bytes, status: int = 200) -> Response:
        return Response(
            body,
            status_code=status,
            media_type="application/json",
            headers={"cache-control": f"public, max-age={self.max_age}"},
        )

    async def _read(self, work: Callable[[AsyncConnection[Any]], Awaitable[bytes]]) -> bytes:
        async with self.pool.connection(timeout=5.0) as conn:
            return await work(conn)

    async def current(self, request: Request) -> Response:
        async def build() -> bytes:
            async def work(conn: AsyncConnection[Any]) -> bytes:
                rows = await queries.current_rows(conn, self.settings.timezone)
                now = datetime.now(UTC)
                return _json(
                    documents.current_document(
                        rows, now, self.zone, self.source, self.settings.province
                    )
                )

            return await self._read(work)

        return self._response(await self.cache.get("current", build))

    async def hourly(self, request: Request) -> Response:
        station_id = request.path_params["station_id"]
        hours = _bounded(request, "hours", 24, MAX_HOURS)

        async def work(conn: AsyncConnection[Any]) -> bytes:
            eligible = await queries.station_eligible(conn, station_id, self.settings.timezone)
            if eligible is None:
                return b""
            points = await queries.hour_points(conn, station_id, hours, self.settings.timezone)
            return _json(documents.hourly_series(station_id, eligible, points, self.zone))

        body = await self.cache.get(f"hourly/{station_id}/{hours}", lambda: self._read(work))
        return self._response(body) if body else _not_found(station_id)

    async def daily(self, request: Request) -> Response:
        station_id = request.path_params["station_id"]
        days = _bounded(request, "days", 30, MAX_DAYS)

        async def work(conn: AsyncConnection[Any]) -> bytes:
            eligible = await queries.station_eligible(conn, station_id, self.settings.timezone)
            if eligible is None:
                return b""
            points = await queries.day_points(conn, station_id, days, self.settings.timezone)
            return _json(documents.daily_series(station_id, eligible, points))

        body = await self.cache.get(f"daily/{station_id}/{days}", lambda: self._read(work))
        return self._response(body) if body else _not_found(station_id)

    async def province_map(self, request: Request) -> Response:
        return FileResponse(
            self.map_file,
            media_type="application/geo+json",
            headers={"cache-control": "public, max-age=3600"},
        )

    async def health(self, request: Request) -> Response:
        async def work(conn: AsyncConnection[Any]) -> bytes:
            await conn.execute("SELECT 1")
            return b'{"status":"ok"}'

        return Response(await self._read(work), media_type="application/json")


async def _page(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "public, max-age=300"})


def _not_found(station_id: str) -> Response:
    return JSONResponse({"error": f"no active station {station_id!r}"}, status_code=404)


async def _bad_request(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return JSONResponse(
        {"error": "the database is not reachable right now; try again in a minute"},
        status_code=503,
        headers={"retry-after": "60"},
    )


def create_app(
    settings: Settings,
    *,
    data_dir: Path | None = None,
    mounts: Sequence[Mount] = (),
    pool: AsyncConnectionPool[Any] | None = None,
) -> Starlette:
    """The read-only public application.

    The pool (if not given) reads as ``aqm_reader`` with read-only transactions and the
    request time limit as statement timeout; it opens with the application.
    """
    timeout_ms = int(settings.web_request_timeout_s * 1000)
    own_pool = pool is None
    if pool is None:
        pool = AsyncConnectionPool(
            reader_url(settings),
            min_size=1,
            max_size=settings.web_pool_size,
            open=False,
            kwargs=reader_connection_options(timeout_ms),
        )
    api = PublicApi(settings, pool)
    read = ["GET", "HEAD"]
    routes: list[BaseRoute] = [
        Route("/", _page, methods=read),
        Route("/api/v1/current", api.current, methods=read),
        Route("/api/v1/stations/{station_id:str}/hourly", api.hourly, methods=read),
        Route("/api/v1/stations/{station_id:str}/daily", api.daily, methods=read),
        Route("/province.geojson", api.province_map, methods=read),
        Route("/healthz", api.health, methods=read),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        Mount(STA_PATH, create_sta_app(pool), name="sta"),
        *mounts,
    ]
    if data_dir is not None:
        routes.append(Mount("/data", StaticFiles(directory=data_dir, html=True), name="data"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if own_pool:
            await pool.open(wait=False)
        try:
            yield
        finally:
            if own_pool:
                await pool.close()

    middleware = [
        Middleware(SecurityHeaders),
        Middleware(ReadOnly),
        Middleware(RateLimit, per_minute=settings.web_rate_per_minute),
        Middleware(RequestTimeout, seconds=settings.web_request_timeout_s),
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=read),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            BadRequestError: _bad_request,
            PoolTimeout: _unavailable,
            OperationalError: _unavailable,
        },
    )
