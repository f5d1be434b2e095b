"""The faster paths of the annual report give what the plain paths give: charts drawn in
worker processes equal, byte for byte, the charts drawn in one process, and pictures
appended by the report's writer are each their own part with their own drawing id."""

from __future__ import annotations

import re
import zipfile
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import psycopg
import pytest

from aqm.localservices import PostgresInstance

from .conftest import YEAR, BuiltReport, Seeded

pytestmark = pytest.mark.services


def test_charts_drawn_in_worker_processes_equal_charts_drawn_in_one(
    seeded_url: tuple[str, Seeded], postgres: PostgresInstance, tmp_path: Path
) -> None:
    from reports.annual.build import read_and_assess, render_charts

    report, _, quality = read_and_assess(
        postgres.url(user="aqm_reader"), YEAR, "Bắc Ninh", "Asia/Ho_Chi_Minh", {}
    )
    one, one_roses = render_charts(report, tmp_path / "one", met=quality.weather, workers=1)
    two, two_roses = render_charts(report, tmp_path / "two", met=quality.weather, workers=2)
    assert one_roses, "the seeded network measures wind"
    pairs = [
        (one.category_days, two.category_days),
        (one.province_monthly, two.province_monthly),
        (one.daily_pm25, two.daily_pm25),
        *((one.station_monthly[k], two.station_monthly[k]) for k in one.station_monthly),
        *((one.station_calendar[k], two.station_calendar[k]) for k in one.station_calendar),
        *((one_roses[k], two_roses[k]) for k in one_roses),
    ]
    assert len(pairs) == 3 + 2 * len(report.stations) + len(one_roses)
    for a, b in pairs:
        assert a is not None and b is not None
        assert a.name == b.name and a.parent != b.parent
        assert a.read_bytes() == b.read_bytes(), a.name


def test_every_picture_has_its_own_part_and_drawing_id(annual_report: BuiltReport) -> None:
    with zipfile.ZipFile(annual_report.docx) as docx:
        body = docx.read("word/document.xml").decode()
        rels = docx.read("word/_rels/document.xml.rels").decode()
        media = [n for n in docx.namelist() if n.startswith("word/media/")]
    ids = re.findall(r'<wp:docPr id="(\d+)"', body)
    embeds = re.findall(r'r:embed="(rId\d+)"', body)
    targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="(media/[^"]+)"', rels))
    targets |= {k: v for v, k in re.findall(r'Target="(media/[^"]+)"[^>]*Id="(rId\d+)"', rels)}
    assert len(ids) == len(embeds) == len(annual_report.charts)
    assert sorted(map(int, ids)) == list(range(1, len(ids) + 1))
    assert len({targets[e] for e in embeds}) == len(embeds)
    assert sorted(f"word/{t}" for t in targets.values()) == sorted(media)


def test_a_second_connection_reads_in_the_exported_snapshot(
    seeded_url: tuple[str, Seeded], postgres: PostgresInstance
) -> None:
    """The years before are read on another connection: a row written after the report
    opened its snapshot is seen by neither connection."""
    from reports.annual import source

    url, _ = seeded_url
    reader = postgres.url(user="aqm_reader")
    zone = "Asia/Ho_Chi_Minh"
    with source.snapshot(reader) as conn:
        snapshot_id = source.export_snapshot(conn)
        with psycopg.connect(url, autocommit=True) as writer:
            writer.execute(
                "INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged,"
                " n_expected, completeness, valid, min_completeness)"
                " VALUES ('BN01', 'so2', '2024-03-01 00:00+00', 42.0, 12, 0, 12, 1, true, 0.75)"
            )
            try:
                with source.snapshot(reader, snapshot_id) as other:
                    seen = source.read_year(other, YEAR - 1, ["BN01"], ["so2"], zone)
                with source.snapshot(reader) as after:
                    now = source.read_year(after, YEAR - 1, ["BN01"], ["so2"], zone)
            finally:
                writer.execute("DELETE FROM hourly WHERE station_id = 'BN01' AND parameter = 'so2'"
                               " AND hour = '2024-03-01 00:00+00'")
    assert np.isnan(seen.hourly).all()
    assert np.count_nonzero(~np.isnan(now.hourly)) == 1


@pytest.mark.parametrize("year", [2024, 2025])
def test_a_year_is_read_in_parts_of_whole_days_that_cover_it(year: int) -> None:
    from reports.annual.source import _parts, local_year

    start, days = local_year(year, "Asia/Ho_Chi_Minh")
    parts = _parts(start, len(days) * 24)
    assert len(parts) == 4
    assert parts[0][0] == start and parts[-1][1] == start + timedelta(days=len(days))
    assert all(a[1] == b[0] for a, b in pairwise(parts))
    assert all((end - begin) % timedelta(days=1) == timedelta(0) for begin, end in parts)
