"""The station registry as ingest sees it: which stations exist, which are active, the
datalogger names each station writes (its catalogue ``aliases``) and the time zone of
its Circular 10/2021 text (its catalogue ``timezone``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from ingest.validate import StationInfo

log = logging.getLogger("aqm.ingest")


async def load_registry(database_url: str) -> dict[str, StationInfo]:
    """Read the registry on a short connection of its own.

    The writer's connection may be inside a batch transaction, and the registry must not
    be read there (a rollback of the batch would not concern it).
    """
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, connect_timeout=5, application_name="aqm-ingest-registry"
    ) as conn:
        cur = await conn.execute("SELECT station_id, status, aliases, timezone FROM stations")
        rows = await cur.fetchall()
    registry = {
        str(sid): StationInfo(
            active=(status == "active"),
            aliases=dict(aliases),
            timezone=None if zone is None else str(zone),
        )
        for sid, status, aliases, zone in rows
    }
    for sid, info in registry.items():
        if info.timezone is not None and _zone(info.timezone) is None:
            log.error(
                "station %s: time zone %r is unknown on this host (tzdata too old?); its"
                " Circular 10/2021 text is rejected until it is known",
                sid,
                info.timezone,
            )
    return registry


@lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def station_zone(
    registry: Mapping[str, StationInfo], station: str | None, default: tzinfo
) -> tzinfo | None:
    """The zone ``station``'s Circular 10/2021 times are written in.

    Its catalogue ``timezone``, else ``default`` (AQM_TIMEZONE), also for a topic naming
    no registered station. None when the catalogue names a zone this host does not know:
    the decoder then rejects such times rather than read them in another zone.
    """
    info = registry.get(station) if station is not None else None
    if info is None or info.timezone is None:
        return default
    return _zone(info.timezone)


def zone_label(registry: Mapping[str, StationInfo], station: str | None, default: str) -> str:
    """The name of ``station``'s zone, for messages: its timezone or AQM_TIMEZONE's."""
    info = registry.get(station) if station is not None else None
    if info is None or info.timezone is None:
        return f"{default}, the AQM_TIMEZONE default"
    return info.timezone
