"""The columnar reading of ``aqm aqi compute`` accepts and reads what the exact pass does.

pyarrow's reader serves well-formed files; anything it does not take falls to the exact
record-by-record pass (whose errors name the line, see test_cli_errors.py). Both must give
the same readings; the expected values are written out here.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from aqi import hourly_aqi
from aqm import aqicsv

HEADER = "station_id,time,parameter,value\n"
# 2024-03-05T08:00+07:00 = 2024-03-05T01:00Z = 473,113 hours after 1970-01-01T00:00Z
# (19,787 days × 24 + 1).
HOUR_0801 = 19_787 * 24 + 1


def exact(text: str) -> aqicsv.HourlyReadings:
    return aqicsv.read_hourly_csv(io.StringIO(text.removeprefix("\ufeff"), newline=""), "in.csv")


def same(a: aqicsv.HourlyReadings, b: aqicsv.HourlyReadings) -> bool:
    return a.stations == b.stations and all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("station", "hour", "parameter", "value")
    )


@pytest.mark.parametrize(
    ("text", "columnar"),
    [
        (
            HEADER + "BN02,2024-03-05T08:00:00+07:00,pm25,3.5\nBN01,2024-03-05T01:00:00Z,no2,40\n",
            True,
        ),
        ("\ufeff" + HEADER + "BN02,2024-03-05T08:00:00+07:00,pm25,3.5\n", True),  # BOM
        (HEADER.replace("\n", "\r\n") + "BN02,2024-03-05T08:00:00+07:00,pm25,3.5\r\n", True),
        (
            HEADER + "BN02,2024-03-05T08:00:00+07:00,pm25,3.5\n\nBN01,2024-03-05T01:00:00Z,no2,40",
            True,
        ),
        (HEADER + '"BN02","2024-03-05T08:00:00+07:00",pm25,"3.5"\n', True),  # quotes
        (
            HEADER + 'BN02,"2024-03-05T08:00:00+07:00\n",pm25,3.5\n',
            False,
        ),  # stripped by the exact pass
        (HEADER + " BN02 ,2024-03-05T08:00:00+07:00,pm25, 3.5\n", False),  # spaces
        (HEADER + "BN02,2024-03-05T08:00:00+07:00,pm25,3.5\n   \n", False),  # a line of spaces
    ],
)
def test_same_readings_as_the_exact_pass(tmp_path: Path, text: str, columnar: bool) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode("utf-8"))
    from_file = aqicsv.read_hourly_file(path, "in.csv")
    from_bytes = aqicsv.read_hourly_bytes(text.encode("utf-8"), "in.csv")
    reference = exact(text)
    assert same(from_file, reference) and same(from_bytes, reference)
    assert "BN02" in reference.stations
    i = reference.stations.index("BN02")
    first = int(np.flatnonzero(reference.station == i)[0])
    assert (reference.hour[first], reference.parameter[first], reference.value[first]) == (
        HOUR_0801,
        0,  # pm25
        3.5,
    )
    data = text.encode("utf-8")
    quoted = b'"' in data
    assert (aqicsv._read_columnar(pa.py_buffer(data), data[:64], quoted) is not None) == columnar


def test_header_only_is_no_readings(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(HEADER, encoding="utf-8")
    readings = aqicsv.read_hourly_file(path, "in.csv")
    assert readings.stations == () and len(readings.hour) == 0


def test_a_pipe_is_read_once(tmp_path: Path) -> None:
    # A named pipe cannot be read twice: it is read into memory first.
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    text = HEADER + "BN02,2024-03-05T08:00:00+07:00,pm25,3.5\n"
    writer = threading.Thread(target=lambda: fifo.write_text(text, encoding="utf-8"))
    writer.start()
    readings = aqicsv.read_hourly_file(fifo, "in.fifo")
    writer.join()
    assert readings.stations == ("BN02",) and readings.value.tolist() == [3.5]


def test_a_station_id_needing_quotes_is_quoted(tmp_path: Path) -> None:
    # PM2.5 of 10 for 3 hours: NowCast 10 from the second hour, VN_AQI 50 × 10/25 = 20.
    rows = "".join(f'"Bắc Ninh, 1",2024-03-05T{h:02d}:00:00+07:00,pm25,10\n' for h in (8, 9, 10))
    path = tmp_path / "in.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    readings = aqicsv.read_hourly_file(path, "in.csv")
    assert readings.stations == ("Bắc Ninh, 1",)

    grid = aqicsv.to_grid(readings, int(readings.hour.min()), 3)
    result = hourly_aqi(grid.conc, "vn_1459_2019")
    labels = ["08", "09", "10"]
    data = aqicsv.render_result(aqicsv.HOUR_HEADER, result, readings.stations, labels, grid.present)
    assert b"".join(data).decode("utf-8").splitlines()[1:] == [
        '"Bắc Ninh, 1",08,,,,,,,,,',
        '"Bắc Ninh, 1",09,20,Tốt,pm25,20,,,,,',
        '"Bắc Ninh, 1",10,20,Tốt,pm25,20,,,,,',
    ]
