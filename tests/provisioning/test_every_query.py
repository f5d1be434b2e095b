"""Every SQL query of every dashboard, variable and alert runs as aqm_reader and has the right shape."""

from __future__ import annotations

import datetime as dt
import numbers

import pytest

from dashboards.provisioning import dashboards
from dashboards.variables import RETIRED_SUFFIX
from tests.provisioning.inventory import Query, all_queries
from tests.provisioning.macros import TimeRange
from tests.provisioning.seed import LAST_24H, MARCH, Runner, station_variables

SQL_QUERIES = [q for q in all_queries(dashboards()) if q.is_sql]


def _range_for(query: Query) -> TimeRange:
    if query.alert_lookback_s is not None:
        return TimeRange(LAST_24H.end - dt.timedelta(seconds=query.alert_lookback_s), LAST_24H.end)
    return MARCH if "aqi-ngay" in query.location else LAST_24H


SCENARIOS = {
    # name: (stations, standard); the Trạm dashboard takes the first station alone
    "all-stations-vn": (("$__all",), "vn_1459_2019"),
    "one-station-vn": (("BN01",), "vn_1459_2019"),
    "two-stations-us": (("BN02", "BN01"), "us_epa_2024"),
}


@pytest.mark.services
@pytest.mark.parametrize("query", SQL_QUERIES, ids=[q.location for q in SQL_QUERIES])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_query_runs_and_has_grafana_shape(
    seeded_db: str, run_sql: Runner, query: Query, scenario: str
) -> None:
    stations, standard = SCENARIOS[scenario]
    if query.location.startswith("tram.json"):
        first = "BN01" if stations == ("$__all",) else stations[0]
        variables = station_variables((first,), standard=standard, multi=False)
    else:
        variables = station_variables(stations, standard=standard)
    result = run_sql(query.text, _range_for(query), variables)
    if query.fmt == "variable":
        assert result.columns == ["__value", "__text"]
        # active stations first, then the retired one (selectable for its history)
        assert [row[0] for row in result.rows] == ["BN01", "BN02", "BN03", "BN05", "BN06", "BN04"]
        assert result.rows[-1][1].endswith(RETIRED_SUFFIX)
        return
    assert len(set(result.columns)) == len(result.columns), f"{query.location}: duplicate column"
    if query.fmt == "time_series":
        assert "time" in result.columns, f"{query.location}: time series without a time column"
        times = [row["time"] for row in result.as_dicts()]
        assert all(isinstance(t, dt.datetime) for t in times)
        assert times == sorted(times), f"{query.location}: time series not ordered by time"
        for row in result.as_dicts():
            for name, value in row.items():
                if name in ("time", "metric", "station_id", "parameter"):  # labels
                    continue
                assert value is None or isinstance(value, numbers.Number), (
                    f"{query.location}: column {name} is {type(value).__name__}, not numeric"
                )
