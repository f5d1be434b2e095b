"""Benchmark: the AQI backfill's staging write, hand-packed binary COPY against ADBC.

Run: ``.venv/bin/python -m bench.adbc_copy [--rows N] [--rounds N] [--no-record]``
(needs ``adbc-driver-postgresql``, which is not a dependency of aqm:
``uv pip install adbc-driver-postgresql``).

``storage/aqi_tables.py`` writes each chunk of AQI rows as one binary ``COPY`` into a
staging table, packed by numpy (:func:`storage.aqi_tables.pack_copy_binary`), over the
worker's psycopg connection. ADBC's PostgreSQL driver takes an Arrow table instead
(``adbc_ingest``, itself a binary COPY). Both write the same rows (1,754,200 by default:
the ``aqi_hourly`` rows of the "AQI worker backfill" benchmark, random values of the
right types) into an empty temporary table of ``aqi_hourly``'s staging columns on a
private PostgreSQL, alternately, ``--rounds`` times each. Timed: from the numpy columns
to the rows committed in the table (packing or Arrow conversion included). Results are
appended to the ``## ADBC against the hand-packed COPY`` section of docs/benchmarks.md
unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa

from aqm.localservices import PostgresInstance, free_port
from bench.machine import describe
from bench.record import append_to_section
from storage.aqi_tables import HOURLY_FIELDS, pack_copy_binary

SECTION = "## ADBC against the hand-packed COPY"
ARROW_TYPES = {
    "int4": pa.int32(),
    "int2": pa.int16(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}


def columns_of(rows: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    out: dict[str, np.ndarray] = {}
    for name, sql, _ in HOURLY_FIELDS:
        if sql == "timestamptz":
            out[name] = 473_000 + rng.integers(0, 8784, rows).astype(np.int64)  # hours
        elif sql == "float8":
            out[name] = rng.uniform(0, 300, rows).round(1)
        elif sql == "bool":
            out[name] = rng.random(rows) < 0.01
        else:
            out[name] = rng.integers(0, 5, rows).astype(np.int32 if sql == "int4" else np.int16)
    return out


def ddl(table: str) -> str:
    fields = ", ".join(f"{name} {sql} NOT NULL" for name, sql, _ in HOURLY_FIELDS)
    return f"CREATE TABLE {table} ({fields})"


def timed(call: Callable[[], None]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_754_200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    import adbc_driver_postgresql.dbapi as adbc  # optional: see the module docstring

    data = columns_of(args.rows)
    # The COPY side's columns as storage.aqi_tables passes them: microseconds since 2000.
    copy_columns = dict(data)
    copy_columns["hour"] = (data["hour"] - 262_968) * 3_600_000_000
    root = Path(tempfile.mkdtemp(prefix="aqm-bench-adbc-"))
    root.chmod(0o755)
    pg = PostgresInstance(root / "pg", free_port())
    pg.start()
    try:
        url = pg.url()
        names = ", ".join(name for name, _, _ in HOURLY_FIELDS)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(ddl("via_copy"))
            conn.execute(ddl("via_adbc"))

        def hand_packed() -> None:
            with psycopg.connect(url) as conn:
                conn.execute("TRUNCATE via_copy")
                conn.commit()
                seconds.setdefault("copy", []).append(timed(lambda: copy_once(conn)))

        def copy_once(conn: psycopg.Connection) -> None:
            payload = pack_copy_binary(HOURLY_FIELDS, copy_columns)
            with conn.cursor() as cur, cur.copy(
                f"COPY via_copy ({names}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(payload or b"")
            conn.commit()

        def via_adbc() -> None:
            with adbc.connect(url) as conn:
                with conn.cursor() as cur:
                    cur.execute("TRUNCATE via_adbc")
                conn.commit()
                seconds.setdefault("adbc", []).append(timed(lambda: adbc_once(conn)))

        def adbc_once(conn: object) -> None:
            arrays = []
            for name, sql, _ in HOURLY_FIELDS:
                values = data[name]
                if sql == "timestamptz":
                    values = values * 3_600_000_000  # µs since 1970
                elif name in ("station", "standard"):
                    values = values + 1  # the 1-based codes pack_copy_binary writes
                arrays.append(pa.array(values, type=ARROW_TYPES[sql]))
            table = pa.Table.from_arrays(arrays, names=[n for n, _, _ in HOURLY_FIELDS])
            with conn.cursor() as cur:  # type: ignore[attr-defined]
                cur.adbc_ingest("via_adbc", table, mode="append")
            conn.commit()  # type: ignore[attr-defined]

        seconds: dict[str, list[float]] = {}
        hand_packed()  # warm-up
        via_adbc()
        seconds.clear()
        for round_ in range(args.rounds):
            for step in (hand_packed, via_adbc) if round_ % 2 == 0 else (via_adbc, hand_packed):
                step()
        with psycopg.connect(url) as conn:
            same = conn.execute(
                "SELECT (SELECT count(*) FROM (SELECT * FROM via_copy EXCEPT ALL "
                "SELECT * FROM via_adbc) d), (SELECT count(*) FROM via_adbc)"
            ).fetchone()
    finally:
        pg.stop()
    copy_s, adbc_s = statistics.median(seconds["copy"]), statistics.median(seconds["adbc"])
    lines = [
        f"### {describe()}",
        "",
        f"{args.rows:,} rows of `aqi_hourly`'s staging columns, medians of {args.rounds} "
        "alternating rounds each (numpy columns to committed rows):",
        "",
        "| write | time | rows/s |",
        "| --- | --- | --- |",
        f"| hand-packed binary COPY (psycopg) | {copy_s:.2f} s "
        f"({min(seconds['copy']):.2f}–{max(seconds['copy']):.2f}) | {args.rows / copy_s:,.0f} |",
        f"| ADBC `adbc_ingest` (Arrow) | {adbc_s:.2f} s "
        f"({min(seconds['adbc']):.2f}–{max(seconds['adbc']):.2f}) | {args.rows / adbc_s:,.0f} |",
        "",
        f"ADBC / COPY: {adbc_s / copy_s:.2f}×. Rows differing between the two tables after "
        f"the last round: {same[0] if same else '?'} of {same[1] if same else '?'}.",
    ]
    print("\n".join(lines))
    if not args.no_record:
        append_to_section(SECTION, lines)


if __name__ == "__main__":
    main()
