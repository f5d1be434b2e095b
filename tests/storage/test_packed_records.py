"""Records read back as packed bytea values (storage.hourly._fetch_records), on a real server."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from aqm.localservices import PostgresInstance
from storage.hourly import _fetch_records

pytestmark = pytest.mark.services

KINDS = [">i4", ">i8", ">f8"]


def test_every_row_comes_back_exactly_across_several_packed_values(
    postgres: PostgresInstance,
) -> None:
    # 5,001 rows: f0 spans five groups of 1,024, so five bytea values are joined.
    query = """
        SELECT g AS f0, (g::int8 * 3000000000) AS f1,
               CASE g %% 4 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN -0.0 ELSE g / 7.0 END AS f2
        FROM generate_series(0, 5000) AS g
    """
    with psycopg.connect(postgres.url("postgres")) as conn, conn.cursor() as cur:
        records = _fetch_records(cur, query, {}, KINDS)
    assert records is not None
    order = np.argsort(records["f0"])
    g = np.arange(5001)
    assert records["f0"][order].tolist() == g.tolist()
    assert records["f1"][order].tolist() == (g * 3_000_000_000).tolist()
    expected = np.where(g % 4 == 0, np.nan, np.where(g % 4 == 1, -0.0, g / 7.0))
    np.testing.assert_array_equal(records["f2"][order], expected)


def test_no_rows_give_none_and_a_null_is_an_error_not_a_lost_row(
    postgres: PostgresInstance,
) -> None:
    with psycopg.connect(postgres.url("postgres")) as conn, conn.cursor() as cur:
        empty = "SELECT 1 AS f0, 2::int8 AS f1, 3.0::float8 AS f2 WHERE false"
        assert _fetch_records(cur, empty, {}, KINDS) is None
        with_null = (
            "SELECT g AS f0, g::int8 AS f1, CASE WHEN g = 2 THEN NULL ELSE 1.0 END::float8 AS f2"
            " FROM generate_series(0, 3) AS g"
        )
        with pytest.raises(ValueError, match="a NULL"):
            _fetch_records(cur, with_null, {}, KINDS)
