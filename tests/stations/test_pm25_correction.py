"""The US EPA PurpleAir correction (Barkjohn et al. 2021; smoke extension 2022): numbers
worked out by hand from the papers' coefficients, its validity limits, and the SQL
function of migration 0015 against the Python one."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from stations.pm25_correction import correct_pm25, us_epa_2021


@pytest.mark.parametrize(("pa", "rh", "expected"), [
    # 0.524·PA − 0.0862·RH + 5.75 (PA < 30)
    (20.0, 50.0, 10.48 - 4.31 + 5.75),   # 11.92
    (10.0, 80.0, 5.24 - 6.896 + 5.75),   # 4.094
    (0.0, 40.0, 5.75 - 3.448),           # 2.302
    # 50 ≤ PA < 210: 0.786·PA − 0.0862·RH + 5.75
    (100.0, 70.0, 78.6 - 6.034 + 5.75),  # 78.316
    # 30 ≤ PA < 50, a = PA/20 − 1.5 = 0.5 at PA = 40: slope 0.655
    (40.0, 60.0, 0.655 * 40 - 5.172 + 5.75),
    # PA ≥ 260: 2.966 + 0.69·PA + 8.84e-4·PA²
    (300.0, 30.0, 2.966 + 207.0 + 79.56),
])
def test_paper_numbers(pa: float, rh: float, expected: float) -> None:
    result = us_epa_2021(pa, rh)
    assert bool(result.applied)
    assert float(result.corrected) == pytest.approx(expected, abs=1e-9)
    assert float(result.value) == pytest.approx(expected, abs=1e-9)
    assert float(result.raw) == pa


def test_pieces_join_without_jumps() -> None:
    rh = 55.0
    for edge in (30.0, 50.0, 210.0, 260.0):
        below, above = us_epa_2021([edge - 1e-9, edge], rh).corrected
        assert below == pytest.approx(above, abs=1e-5), edge


def test_outside_validity_the_raw_value_is_used_and_said() -> None:
    result = us_epa_2021([25.0, 25.0, 25.0, -1.0, np.nan], [np.nan, 101.0, -3.0, 50.0, 50.0])
    assert not result.applied.any()
    assert np.isnan(result.corrected).all()
    np.testing.assert_array_equal(result.value[:4], [25.0, 25.0, 25.0, -1.0])
    # clean, humid air: the formula goes below zero; the estimate is floored at 0
    assert float(us_epa_2021(0.5, 99.0).corrected) == 0.0


def test_unknown_correction_is_named() -> None:
    with pytest.raises(ValueError, match="'epa_2099'"):
        correct_pm25("epa_2099", 1.0, 50.0)


def test_sql_function_equals_python(database_url: str) -> None:
    rng = np.random.default_rng(7)
    pa = np.concatenate([rng.uniform(0, 400, 500), [0, 29.99, 30, 49.9, 50, 209, 210, 259, 260,
                                                    -2.0, 12.0]])
    rh = np.concatenate([rng.uniform(0, 100, 500), [0, 100, 50, 50, 50, 50, 50, 50, 50, 50,
                                                    120.0]])
    python = us_epa_2021(pa, rh).corrected
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT pm25_us_epa_2021(p, r) FROM unnest(%s::float8[], %s::float8[])"
            " WITH ORDINALITY AS t(p, r, i) ORDER BY i", (pa.tolist(), rh.tolist()),
        ).fetchall()
    sql = np.array([np.nan if r[0] is None else float(r[0]) for r in rows])
    np.testing.assert_allclose(sql, python, rtol=1e-12, atol=1e-9, equal_nan=True)


@pytest.mark.usefixtures("clean_db")
def test_view_gives_raw_and_corrected_side_by_side(postgres: object, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO stations (station_id, name, latitude, longitude, station_type,"
            " parameters, pm25_correction) VALUES ('LCS', 'Cảm biến', 21.1, 106.0,"
            " 'low_cost_sensor', '{pm25,humidity}', 'us_epa_2021'),"
            " ('AUTO', 'Trạm', 21.1, 106.0, 'fixed_automatic', '{pm25,o3,no2}', NULL)"
        )
        rows = [("LCS", "pm25", "2025-01-01 00:00+00", 20.0), ("LCS", "humidity",
                 "2025-01-01 00:00+00", 50.0), ("LCS", "pm25", "2025-01-01 01:00+00", 40.0),
                ("AUTO", "pm25", "2025-01-01 00:00+00", 33.0)]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO hourly (station_id, parameter, hour, mean, n_valid, n_flagged,"
                " n_expected, completeness, valid, min_completeness)"
                " VALUES (%s, %s, %s, %s, 12, 0, 12, 1, true, 0.75)", rows)
    url = postgres.url(user="aqm_reader")  # type: ignore[attr-defined]
    with psycopg.connect(url) as conn:
        got = conn.execute(
            "SELECT station_id, raw, corrected, value, used FROM hourly_pm25_corrected"
            " ORDER BY hour").fetchall()
    # 0.524·20 − 0.0862·50 + 5.75 = 11.92; the second hour has no humidity: raw is used;
    # the automatic station names no correction and is not in the view
    assert got[0][:2] == ("LCS", 20.0) and got[0][2] == pytest.approx(11.92)
    assert got[0][3] == pytest.approx(11.92) and got[0][4] == "corrected"
    assert got[1] == ("LCS", 40.0, None, 40.0, "raw")
    assert len(got) == 2
