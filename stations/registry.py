"""The ``stations`` table: the catalogue copied into the database, and read back.

Ingest, the AQI worker, Grafana and the reports read stations from this table; only
``sync_catalogue`` writes it, from a validated :class:`~stations.catalogue.Catalogue`.
A sync is one transaction: it locks the table against a concurrent sync, compares
every row with the catalogue, COPYs the new and changed rows into a staging table and
merges them in one statement, so ``updated_at`` moves only for rows that changed.

Stations are never deleted behind an officer's back. A station missing from the
catalogue stays in the table (and is reported) unless ``prune`` is asked for, and even
then a station with stored data is refused: its readings belong in the reports of
the years it ran, so it must be kept in the catalogue with ``status: retired``.
"""

from __future__ import annotations

import logging
from dataclasses import astuple, dataclass, fields
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from aqm_core.errors import AqmError
from stations.catalogue import Catalogue, Station

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StationRow:
    """One row of the ``stations`` table (without its ``updated_at`` bookkeeping)."""

    station_id: str
    name: str
    ward: str | None
    district: str | None
    latitude: float
    longitude: float
    elevation_m: float | None
    station_type: str
    public_aqi: bool
    status: str
    installed_on: date | None
    retired_on: date | None
    report_interval_s: int
    parameters: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...]  # (datalogger name, parameter), sorted
    notes: str | None
    timezone: str | None  # IANA zone of the datalogger's clock; None: AQM_TIMEZONE
    # (from as ISO date, station_type, public_aqi), oldest first: the class history
    classes: tuple[tuple[str, str, bool], ...] = ()
    pm25_correction: str | None = None
    # (parameter, min, max) in µg/m³, sorted: the instrument's measuring range
    instrument_ranges: tuple[tuple[str, float, float], ...] = ()

    @classmethod
    def from_station(cls, station: Station) -> StationRow:
        values = {f.name: getattr(station, f.name) for f in fields(cls)}
        values["aliases"] = tuple(sorted(station.aliases.items()))
        values["classes"] = tuple((c.valid_from.isoformat(), c.station_type, c.public_aqi)
                                  for c in station.classes)
        values["instrument_ranges"] = tuple(sorted(
            (name, low, high) for name, (low, high) in station.instrument_ranges.items()))
        return cls(**values)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StationRow:
        values = {f.name: record[f.name] for f in fields(cls)}
        values["parameters"] = tuple(values["parameters"])
        values["aliases"] = tuple(sorted(values["aliases"].items()))
        values["classes"] = tuple((str(c["from"]), str(c["station_type"]), bool(c["public_aqi"]))
                                  for c in values["classes"])
        values["instrument_ranges"] = tuple(sorted(
            (str(name), float(bounds[0]), float(bounds[1]))
            for name, bounds in values["instrument_ranges"].items()))
        return cls(**values)

    def classes_json(self) -> list[dict[str, object]]:
        """The class history as stored in ``stations.classes`` (migration 0015)."""
        return [{"from": start, "station_type": kind, "public_aqi": public}
                for start, kind, public in self.classes]

    def instrument_ranges_json(self) -> dict[str, list[float]]:
        """The measuring ranges as stored in ``stations.instrument_ranges`` (migration 0017)."""
        return {name: [low, high] for name, low, high in self.instrument_ranges}


COLUMNS = tuple(f.name for f in fields(StationRow))
# Types for COPY, in COLUMNS order.
COLUMN_TYPES = (
    "text", "text", "text", "text", "float8", "float8", "float8", "text", "bool", "text",
    "date", "date", "int4", "text[]", "jsonb", "text", "text",
    "jsonb", "text", "jsonb",
)

# Tables whose rows show a station has history worth keeping.
HISTORY_TABLES = ("readings", "hourly", "aqi_daily")


@dataclass(frozen=True)
class StationChange:
    station_id: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do)."""

    added: tuple[str, ...]
    changed: tuple[StationChange, ...]
    unchanged: tuple[str, ...]
    absent: tuple[str, ...]  # in the table but not in the catalogue, left as they are
    pruned: tuple[str, ...]
    dry_run: bool

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed",
                 f"{len(self.unchanged)} unchanged"]
        if self.pruned:
            parts.append(f"{len(self.pruned)} deleted")
        if self.absent:
            parts.append(f"{len(self.absent)} not in the catalogue (kept)")
        text = f"stations: {', '.join(parts)}"
        return f"{text} (dry run: nothing was written)" if self.dry_run else text


@dataclass(frozen=True)
class LastReading:
    station_id: str
    ts: datetime  # measurement time of the newest reading
    received_at: datetime


class RegistryError(AqmError, RuntimeError):
    """The catalogue cannot be applied to the database as asked."""


def registered_stations(conn: psycopg.Connection[Any]) -> list[StationRow]:
    """Every row of the ``stations`` table, ordered by id."""
    query = sql.SQL("SELECT {} FROM stations ORDER BY station_id").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return [StationRow.from_record(r) for r in cur.execute(query)]


def sync_catalogue(
    conn: psycopg.Connection[Any],
    catalogue: Catalogue,
    *,
    prune: bool = False,
    dry_run: bool = False,
) -> SyncReport:
    """Make the ``stations`` table match ``catalogue``; see the module docstring."""
    with conn.transaction() as tx:
        conn.execute("LOCK TABLE stations IN SHARE ROW EXCLUSIVE MODE")
        current = {row.station_id: row for row in registered_stations(conn)}
        wanted = [StationRow.from_station(s) for s in catalogue]

        added: list[str] = []
        changed: list[StationChange] = []
        unchanged: list[str] = []
        to_write: list[StationRow] = []
        for row in wanted:
            before = current.get(row.station_id)
            if before is None:
                added.append(row.station_id)
                to_write.append(row)
                continue
            differing = tuple(
                f.name for f in fields(StationRow)
                if getattr(before, f.name) != getattr(row, f.name)
            )
            if differing:
                changed.append(StationChange(row.station_id, differing))
                to_write.append(row)
            else:
                unchanged.append(row.station_id)

        missing = sorted(set(current) - {row.station_id for row in wanted})
        pruned: list[str] = []
        if prune and missing:
            with_history = _with_history(conn, missing)
            if with_history:
                raise RegistryError(
                    "cannot delete stations that have stored data: "
                    + ", ".join(with_history)
                    + f"; keep them in {catalogue.path} with status: retired and retired_on"
                )
            pruned = missing
        absent = [] if prune else missing

        try:
            _write(conn, to_write)
            if pruned:
                conn.execute("DELETE FROM stations WHERE station_id = ANY(%s)", (pruned,))
        except psycopg.errors.IntegrityError as exc:
            raise RegistryError(
                f"the stations table refused {catalogue.path}: {exc.diag.message_primary}"
                f" (constraint {exc.diag.constraint_name}); {exc.diag.message_detail or ''}"
            ) from exc

        report = SyncReport(tuple(added), tuple(changed), tuple(unchanged), tuple(absent),
                            tuple(pruned), dry_run)
        if dry_run:
            raise psycopg.Rollback(tx)
    for change in report.changed:
        log.info("station %s changed: %s", change.station_id, ", ".join(change.fields))
    for station_id in report.absent:
        log.warning("station %s is in the database but not in %s; left as it is",
                    station_id, catalogue.path)
    log.info("%s", report.summary())
    return report


def _write(conn: psycopg.Connection[Any], rows: list[StationRow]) -> None:
    if not rows:
        return
    columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    conn.execute(
        "CREATE TEMP TABLE stations_incoming (LIKE stations INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY stations_incoming ({}) FROM STDIN").format(columns)) as copy:
            copy.set_types(list(COLUMN_TYPES))
            for row in rows:
                values = list(astuple(row))
                values[COLUMNS.index("parameters")] = list(row.parameters)
                values[COLUMNS.index("aliases")] = Jsonb(dict(row.aliases))
                values[COLUMNS.index("classes")] = Jsonb(row.classes_json())
                values[COLUMNS.index("instrument_ranges")] = Jsonb(row.instrument_ranges_json())
                copy.write_row(values)
        cur.execute(
            sql.SQL(
                "INSERT INTO stations ({columns}) SELECT {columns} FROM stations_incoming"
                " ON CONFLICT (station_id) DO UPDATE SET {updates}, updated_at = now()"
            ).format(
                columns=columns,
                updates=sql.SQL(", ").join(
                    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
                    for c in COLUMNS if c != "station_id"
                ),
            )
        )
    conn.execute("DROP TABLE stations_incoming")


def _with_history(conn: psycopg.Connection[Any], station_ids: list[str]) -> list[str]:
    checks = sql.SQL(" OR ").join(
        sql.SQL("EXISTS (SELECT 1 FROM {} t WHERE t.station_id = s.id)").format(sql.Identifier(t))
        for t in HISTORY_TABLES
    )
    query = sql.SQL("SELECT s.id FROM unnest(%s::text[]) AS s(id) WHERE {} ORDER BY s.id").format(
        checks
    )
    return [str(r[0]) for r in conn.execute(query, (station_ids,))]


def last_readings(conn: psycopg.Connection[Any]) -> dict[str, LastReading]:
    """The newest reading of every registered station that has one."""
    # One index probe per station (LATERAL … LIMIT 1) instead of max() over all readings.
    query = (
        "SELECT s.station_id, r.ts, r.received_at FROM stations s"
        " CROSS JOIN LATERAL (SELECT ts, received_at FROM readings"
        "  WHERE readings.station_id = s.station_id ORDER BY ts DESC LIMIT 1) r"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return {
            r["station_id"]: LastReading(r["station_id"], r["ts"], r["received_at"])
            for r in cur.execute(query)
        }
