"""``aqm aqi compute``: every failure is a one-line error (exit 2), never a traceback.

Also stdin/stdout as ``-``, UTF-8 output whatever the locale, and a closed pipe.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aqm.cli import main

HEADER = "station_id,time,parameter,value\n"
GOOD = "BN01,2024-03-05T08:00:00+07:00,pm25,3\n"
COMPUTE = ["aqi", "compute", "--standard", "vn", "--period", "hour"]
# As the `aqm` console script runs it (see test_cli.test_via_subprocess).
ENTRY_POINT = "import sys; from aqm.cli import main; sys.exit(main())"
# PM2.5 of 10 for the hours 08:00-10:00: NowCast 10 from 09:00 (2 of 3 hours), VN_AQI
# 50 × 10/25 = 20, "Tốt" (0-50).
TOT_INPUT = HEADER + "".join(f"S,2024-03-05T{h:02d}:00:00+07:00,pm25,10\n" for h in (8, 9, 10))


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def source(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(text, encoding="utf-8")
    return path


def aqm_process(args: list[str]) -> list[str]:
    return [sys.executable, "-c", ENTRY_POINT, *args]


# 1. stdin that is not UTF-8 ------------------------------------------------------------


def fake_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> io.TextIOWrapper:
    stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    return stdin


def test_stdin_not_utf8_is_an_error_naming_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_stdin(monkeypatch, HEADER.encode() + b"Caf\xe9,2024-03-05T08:00:00+07:00,pm25,3\n")
    code, out, err = run([*COMPUTE, "-"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("aqm aqi: error: <stdin>: not UTF-8 text (")


def test_stdin_utf8_is_read_and_left_open(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = fake_stdin(monkeypatch, TOT_INPUT.encode("utf-8"))
    code, out, err = run([*COMPUTE, "-"], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == "S,2024-03-05T10:00:00+07:00,20,Tốt,pm25,20,,,,,"
    assert not stdin.closed  # the wrapper around sys.stdin.buffer was detached, not closed


# 2. errors of the csv module -------------------------------------------------------------


def test_field_over_csv_limit_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = "x" * 200_000  # the csv module refuses fields over 131,072 characters
    path = source(tmp_path, HEADER + GOOD + f'BN01,"{big}",pm25,3\n')
    code, out, err = run([*COMPUTE, str(path)], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"aqm aqi: error: {path}:3: unreadable CSV: field larger than field limit (131072)\n"
    )


def test_field_over_csv_limit_after_a_quoted_line_break(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The quoted field opens on line 3 and exceeds the limit on line 4.
    path = source(tmp_path, HEADER + GOOD + 'BN01,"\n' + "x" * 200_000 + '",pm25,3\n')
    code, _, err = run([*COMPUTE, str(path)], capsys)
    assert code == 2
    assert err.startswith(f"aqm aqi: error: {path}:3: unreadable CSV: field larger than")
    assert "the record starting on line 3 spans lines 3-4" in err


# 3. --timezone that is not a zone ------------------------------------------------------------


@pytest.mark.parametrize("name", ["Asia", "Asia/", "Nowhere/City", "x" * 300])
def test_unknown_timezone_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # "Asia" is a folder of the tz database (IsADirectoryError); 300 characters is too long a
    # file name (OSError); "Asia/" is not a normalised key (ValueError).
    path = source(tmp_path, HEADER + GOOD)
    code, out, err = run([*COMPUTE, "--timezone", name, str(path)], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"aqm aqi: error: --timezone: unknown time zone {name!r} "
        "(use an IANA name such as Asia/Ho_Chi_Minh or UTC)\n"
    )


def test_a_bad_configured_zone_is_reported_before_an_unreadable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The settings are loaded while the input is read; their error still comes first.
    monkeypatch.setenv("AQM_TIMEZONE", "Nowhere/City")
    code, out, err = run([*COMPUTE, str(tmp_path / "absent.csv")], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("aqm aqi: error: AQM_TIMEZONE: 'Nowhere/City' is not an IANA time zone")


def test_an_unreadable_input_with_a_good_zone_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.csv"
    code, out, err = run([*COMPUTE, "--timezone", "UTC", str(missing)], capsys)
    assert (code, out) == (2, "")
    assert err == f"aqm aqi: error: {missing}: cannot read: No such file or directory\n"


# 4. times out of range, and a grid too big for memory ------------------------------------


@pytest.mark.parametrize("period", ["hour", "day"])
@pytest.mark.parametrize(
    "time",
    [
        "0001-01-01T00:00:00+07:00",  # was: year 0 out of range
        "0001-01-01T08:00:00+07:00",
        "9999-12-31T20:00:00+00:00",  # was: OverflowError
        "9999-12-31T23:00:00-07:00",
        "9024-01-15T00:00:00+07:00",  # typo of 2024: was a grid of 61 M hours
        "1969-12-31T23:00:00Z",  # one hour before the range
        "1970-01-01T00:00:00+07:00",  # = 1969-12-31T17:00Z
        "2200-01-01T00:00:00Z",  # the first hour after it
    ],
)
def test_time_outside_1970_2199_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], time: str, period: str
) -> None:
    path = source(tmp_path, HEADER + GOOD + f"BN01,{time},pm25,3\n")
    code, out, err = run(
        ["aqi", "compute", "--standard", "vn", "--period", period, str(path)], capsys
    )
    assert (code, out) == (2, "")
    assert err == (
        f"aqm aqi: error: {path}:3: time {time!r} is outside the accepted range, "
        "1970-01-01T00:00Z to 2199-12-31T23:00Z (a typo in the year?)\n"
    )


@pytest.mark.parametrize(
    ("time", "hour_label", "date_label"),
    [
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00", "1970-01-01"),
        ("2199-12-31T23:00:00+00:00", "2199-12-31T23:00:00+00:00", "2199-12-31"),
    ],
)
def test_first_and_last_accepted_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], time: str, hour_label: str, date_label: str
) -> None:
    path = source(tmp_path, HEADER + f"S,{time},pm25,3\n")
    for period, label in (("hour", hour_label), ("day", date_label)):
        code, out, err = run(
            [
                "aqi",
                "compute",
                "--standard",
                "us",
                "--period",
                period,
                "--timezone",
                "UTC",
                str(path),
            ],
            capsys,
        )
        assert code == 0, err
        assert out.splitlines()[1] == f"S,{label},,,,,,,,,"  # 1 hour: no NowCast, no day


def test_too_many_station_hours_names_first_and_last_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10 stations on 2024-01-01 (lines 2-11) and a typo 2150 for 2024 on line 12. 2024-2149
    # is 126 years with 31 leap years (2024, 2028, …, 2148 but not 2100): 46,021 days,
    # 1,104,504 hours, 1,104,505 hours counting both ends; × 10 stations > 10 million.
    rows = [f"S{i},2024-01-01T00:00:00Z,pm25,3\n" for i in range(10)]
    path = source(tmp_path, HEADER + "".join(rows) + "S0,2150-01-01T00:00:00Z,pm25,3\n")
    code, out, err = run([*COMPUTE, str(path)], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(
        f"aqm aqi: error: {path}: the times run from 2024-01-01T00:00:00+00:00 (line 2) to "
        "2150-01-01T00:00:00+00:00 (line 12): 1,104,505 hours for 10 stations make "
        "11,045,050 station-hours, more than the 10,000,000 one run lays out in memory; "
        "a typo in a year?"
    )


# 5. stdout: UTF-8 whatever the locale, a closed pipe, a full disk ---------------------------


def test_stdout_is_utf8_under_a_cp1252_locale(tmp_path: Path) -> None:
    path = source(tmp_path, TOT_INPUT)
    completed = subprocess.run(
        aqm_process([*COMPUTE, str(path)]),
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "cp1252"},  # "ố" is not in cp1252
    )
    assert completed.returncode == 0, completed.stderr
    last = completed.stdout.decode("utf-8").splitlines()[-1]
    assert last == "S,2024-03-05T10:00:00+07:00,20,Tốt,pm25,20,,,,,"


def test_closed_pipe_exits_1_quietly(tmp_path: Path) -> None:
    # Input on stdin, so aqm cannot write before the reader has gone away.
    process = subprocess.Popen(
        aqm_process([*COMPUTE, "-"]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin and process.stdout and process.stderr
    process.stdout.close()  # like `| head` having exited
    process.stdin.write(TOT_INPUT.encode("utf-8"))
    process.stdin.close()
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 1  # the Python docs' SIGPIPE recipe
    assert stderr == b""  # no BrokenPipeError traceback


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_full_disk_on_stdout_is_an_error(tmp_path: Path) -> None:
    path = source(tmp_path, TOT_INPUT)
    with open("/dev/full", "wb") as full:
        completed = subprocess.run(
            aqm_process([*COMPUTE, str(path)]), stdout=full, stderr=subprocess.PIPE, check=False
        )
    assert completed.returncode == 2
    assert completed.stderr == b"aqm aqi: error: <stdout>: cannot write: No space left on device\n"


# 6. -o - is stdout ---------------------------------------------------------------------------


def test_output_dash_is_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = source(tmp_path, TOT_INPUT)
    monkeypatch.chdir(tmp_path)
    code, out, err = run([*COMPUTE, str(path), "-o", "-"], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == "S,2024-03-05T10:00:00+07:00,20,Tốt,pm25,20,,,,,"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no file named "-"
    code, out, _ = run([*COMPUTE, str(path), "-o", "./-"], capsys)  # a file named "-"
    assert (code, out) == (0, "")
    assert (tmp_path / "-").read_text(encoding="utf-8").splitlines()[-1].endswith(",20,,,,,")


def test_help_says_output_dash_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["aqi", "compute", "--help"])
    assert "- or no -o for stdout" in " ".join(capsys.readouterr().out.split())


# 7. line numbers of records spanning several lines -----------------------------------------


def test_stray_quote_names_the_line_it_is_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The quote opens a field that runs to the end of the file: one field, lines 3-5.
    text = HEADER + GOOD + '"BN01,2024-03-05T09:00:00+07:00,pm25,3\n' + GOOD.replace("08", "10") * 2
    path = source(tmp_path, text)
    code, _, err = run([*COMPUTE, str(path)], capsys)
    assert code == 2
    assert err.startswith(
        f"aqm aqi: error: {path}:3: expected 4 fields, got 1 "
        "(the record starting on line 3 spans lines 3-5: "
    )
    assert "unclosed quote?" in err


def test_quoted_line_break_names_the_first_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = source(tmp_path, HEADER + GOOD + 'BN01,2024-03-05T09:00:00+07:00,"pm\n25",3\n')
    code, _, err = run([*COMPUTE, str(path)], capsys)
    assert code == 2
    assert err.startswith(
        f"aqm aqi: error: {path}:3: unknown parameter 'pm\\n25' (expected one of pm25, pm10, "
        "o3, no2, so2, co) (the record starting on line 3 spans lines 3-4: "
    )


def test_lines_after_a_valid_multiline_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Line 3-4: a valid record whose quoted time ends with a line break (stripped).
    multiline = 'BN01,"2024-03-05T09:00:00+07:00\n",pm25,3\n'
    path = source(tmp_path, HEADER + GOOD + multiline + "BN01,2024-03-05T09:00:00+07:00,pm25,4\n")
    code, _, err = run([*COMPUTE, str(path)], capsys)
    assert code == 2
    assert err.startswith(f"aqm aqi: error: {path}:5: duplicate station-hour-parameter")
    assert err.rstrip().endswith("first on line 3")  # where the record starts, not 4
    path = source(tmp_path, HEADER + GOOD + multiline + "BN01,2024-03-05T10:00:00+07:00,pm1,4\n")
    code, _, err = run([*COMPUTE, str(path)], capsys)
    assert code == 2
    assert err.startswith(f"aqm aqi: error: {path}:5: unknown parameter 'pm1'")
    assert "spans" not in err
