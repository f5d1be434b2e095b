"""The columnar reading of ``aqm aqi compute`` accepts and reads what the exact pass does.

pyarrow's reader serves well-formed files; anything it does not take falls to the exact
record-by-record pass (whose errors name the line, see test_cli_errors.py). Both must give
the same readings; the expected values are written out here.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
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


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_halves_read_side_by_side_keep_every_row_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str
) -> None:
    # Split even a small file in two: the second half starts after the first line break
    # past the middle, and is read without a header. A blank line, a CRLF, and rows of
    # another station on both sides of the split must come out as the exact pass reads them.
    monkeypatch.setattr(aqicsv, "SPLIT_MIN_BYTES", 0)
    rows = [
        f"BN{1 + i % 2:02d},2024-03-05T{8 + i // 4:02d}:00:00+07:00,{('pm25', 'no2')[i // 2 % 2]},"
        f"{i + 0.5}"
        for i in range(16)
    ]
    rows.insert(9, "")  # a blank line
    text = HEADER.replace("\n", newline) + newline.join(rows) + newline
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode("utf-8"))
    reference = exact(text)
    assert reference.value.tolist() == [i + 0.5 for i in range(16)]  # in file order
    assert same(aqicsv.read_hourly_file(path, "in.csv"), reference)
    assert same(aqicsv.read_hourly_bytes(text.encode("utf-8"), "in.csv"), reference)
    data = text.encode("utf-8")
    assert aqicsv._read_columnar(pa.py_buffer(data), data[:64], False) is not None


def test_a_bad_row_in_the_second_half_is_left_to_the_exact_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aqicsv, "SPLIT_MIN_BYTES", 0)
    rows = [f"BN01,2024-03-05T{h:02d}:00:00+07:00,pm25,1" for h in range(10)]
    rows[8] = "BN01,2024-03-05T08:00:00+07:00,pm1,1"
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(aqicsv.AqiCsvError, match=r"^in\.csv:10: unknown parameter 'pm1'"):
        aqicsv.read_hourly_file(path, "in.csv")


def rendered(readings: aqicsv.HourlyReadings, labels: list[str]) -> list[str]:
    grid = aqicsv.to_grid(readings, int(readings.hour.min()), len(labels))
    result = hourly_aqi(grid.conc, "vn_1459_2019")
    pieces = aqicsv.render_result(aqicsv.HOUR_HEADER, result, readings.stations, labels, grid.present)
    return b"".join(pieces).decode("utf-8").splitlines()


def test_rows_written_by_pyarrow(tmp_path: Path) -> None:
    # PM2.5 of 10 for 3 hours: NowCast 10 from the second hour (2 of the 3 most recent),
    # VN_AQI 50 × 10/25 = 20 ("Tốt", 0-50); NO2 of 40 µg/m³ in the first hour: 1-h sub-index
    # 50 × 40/100 = 20 on its own (no PM, so no AQI).
    rows = "".join(f"BN01,2024-03-05T{h:02d}:00:00+07:00,pm25,10\n" for h in (8, 9, 10))
    path = tmp_path / "in.csv"
    path.write_text(HEADER + rows + "BN01,2024-03-05T08:00:00+07:00,no2,40\n", encoding="utf-8")
    lines = rendered(aqicsv.read_hourly_file(path, "in.csv"), ["08", "09", "10"])
    assert lines == [
        ",".join(aqicsv.HOUR_HEADER),
        "BN01,08,,,,,,,20,,",
        "BN01,09,20,Tốt,pm25,20,,,,,",
        "BN01,10,20,Tốt,pm25,20,,,,,",
    ]


def test_rows_without_any_index_are_empty_fields(tmp_path: Path) -> None:
    # One hour of PM2.5: no NowCast (2 of the 3 most recent hours needed), nothing computable.
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "BN01,2024-03-05T08:00:00+07:00,pm25,10\n", encoding="utf-8")
    assert rendered(aqicsv.read_hourly_file(path, "in.csv"), ["08"])[1:] == ["BN01,08,,,,,,,,,"]


def test_an_error_while_writing_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")

    def pieces() -> Iterator[memoryview]:
        yield memoryview(b"new,")
        raise MemoryError

    with pytest.raises(MemoryError):
        aqicsv.write_atomically(target, pieces())
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary file left
