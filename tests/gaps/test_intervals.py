"""Report-interval changes: the history the database keeps (migration 0012) and the
schedule ``aqm gaps`` builds from it."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import psycopg

from aqm.cli import main
from storage.gaps import CatalogueStation
from tests.gaps.conftest import LOCAL, AddSeries, AddStation
from worker.gap_report import schedule_for

DAY = dt.datetime(2025, 3, 1, tzinfo=LOCAL)
H = dt.timedelta(hours=1)


def station(changes: tuple[tuple[dt.datetime | None, int], ...]) -> CatalogueStation:
    return CatalogueStation("BN-01", "Trạm", "active", None, None, changes[-1][1] if changes
                            else 300, ("pm25",), changes)  # fmt: skip


def periods(
    s: CatalogueStation, first: dt.datetime, last: dt.datetime
) -> list[tuple[str, str, int]]:
    schedule = schedule_for(s, first, last)
    return [
        (str(a)[11:16], str(b)[11:16], int(iv))
        for a, b, iv in zip(schedule.starts, schedule.ends, schedule.intervals_s, strict=True)
    ]


def test_schedule_without_history_uses_the_catalogue_interval() -> None:
    assert periods(station(()), DAY, DAY + H) == [("17:00", "18:00", 300)]  # UTC times


def test_schedule_splits_at_each_change_inside_the_range() -> None:
    s = station(((None, 300), (DAY + 2 * H, 60), (DAY + 5 * H, 600), (DAY + 30 * H, 60)))
    assert periods(s, DAY + H, DAY + 6 * H) == [
        ("18:00", "19:00", 300),
        ("19:00", "22:00", 60),
        ("22:00", "23:00", 600),
    ]
    # a range after the changes has one period at the interval then in force
    assert periods(s, DAY + 6 * H, DAY + 7 * H) == [("23:00", "00:00", 600)]


def test_before_the_oldest_recorded_change_its_interval_applies() -> None:
    s = station(((DAY + 2 * H, 60),))
    assert periods(s, DAY, DAY + H) == [("17:00", "18:00", 60)]


def test_the_database_records_every_interval_change(add_station: AddStation, clean_db: str) -> None:
    add_station("BN-01", ["pm25"], 300)
    before = dt.datetime.now(dt.UTC)
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("UPDATE stations SET name = 'renamed' WHERE station_id = 'BN-01'")
        conn.execute("UPDATE stations SET report_interval_s = 60 WHERE station_id = 'BN-01'")
        rows = conn.execute(
            "SELECT nullif(valid_from, '-infinity'), report_interval_s FROM station_report_intervals"
            " WHERE station_id = 'BN-01' ORDER BY valid_from"
        ).fetchall()
    assert [r[1] for r in rows] == [300, 60]
    assert rows[0][0] is None  # since the station was added
    assert before <= rows[1][0] <= dt.datetime.now(dt.UTC)


def test_aqm_gaps_judges_each_period_at_its_own_interval(
    add_station: AddStation, add_series: AddSeries, sql: Callable[..., None],
    reader_url: str, tmp_path: Path, no_aqm_settings: None,
) -> None:  # fmt: skip
    """BN-01 reported every 5 minutes until 12:00, then every minute (the change synced
    that day); 15:10-15:12 lost. Judged at 1 minute throughout, the morning would show
    four of every five minutes missing."""
    add_station("BN-01", ["pm25"], 300)
    sql("UPDATE stations SET report_interval_s = 60 WHERE station_id = 'BN-01'")
    sql("UPDATE station_report_intervals SET valid_from = %s WHERE station_id = 'BN-01'"
        " AND report_interval_s = 60", DAY + 12 * H)  # fmt: skip
    add_series("BN-01", "pm25", DAY, DAY + 12 * H, 300)
    add_series("BN-01", "pm25", DAY + 12 * H, DAY + 24 * H, 60)
    sql("DELETE FROM readings WHERE ts >= %s AND ts < %s",
        DAY + 15 * H + dt.timedelta(minutes=10), DAY + 15 * H + dt.timedelta(minutes=13))  # fmt: skip
    out = tmp_path / "gaps.csv"
    assert main(["gaps", "--station", "BN-01", "--from", "2025-03-01", "--to", "2025-03-01",
                 "-o", str(out), "--database-url", reader_url]) == 0  # fmt: skip
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))[1:]
    assert [r[4:7] for r in rows] == [
        ["2025-03-01 15:10:00+07:00", "2025-03-01 15:12:00+07:00", "3"],
    ]
