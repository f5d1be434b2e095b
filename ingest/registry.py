"""The station registry as ingest sees it: which stations exist, which are active, and
the datalogger names each station writes (its catalogue ``aliases``)."""

from __future__ import annotations

import psycopg

from ingest.validate import StationInfo


async def load_registry(database_url: str) -> dict[str, StationInfo]:
    """Read the registry on a short connection of its own.

    The writer's connection may be inside a batch transaction, and the registry must not
    be read there (a rollback of the batch would not concern it).
    """
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, connect_timeout=5, application_name="aqm-ingest-registry"
    ) as conn:
        cur = await conn.execute("SELECT station_id, status, aliases FROM stations")
        rows = await cur.fetchall()
    return {
        str(sid): StationInfo(active=(status == "active"), aliases=dict(aliases))
        for sid, status, aliases in rows
    }
