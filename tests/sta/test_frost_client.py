"""An independent SensorThings client (FROST's Python client, frost-sta-client from PyPI)
reads Things, Datastreams and Observations back, following @iot.nextLink on its own, and
finds what the database holds."""

from __future__ import annotations

import datetime as dt

import frost_sta_client as fsc
import psycopg
import pytest

from tests.sta.conftest import StaServer
from tests.sta.seed import iso


# the client's URL library warns about its own use of a deprecated furl attribute
@pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning")
def test_a_sensorthings_client_reads_back_what_the_database_holds(
    sta_server: StaServer, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        stations = conn.execute("SELECT station_id, name FROM stations ORDER BY 1").fetchall()
        means = conn.execute(
            "SELECT hour, mean FROM hourly WHERE station_id = 'BN01' AND parameter = 'pm25'"
            " AND valid AND mean IS NOT NULL ORDER BY hour"
        ).fetchall()
        parameters = conn.execute(
            "SELECT unnest(parameters) FROM stations WHERE station_id = 'BN02'"
        ).fetchall()
    service = fsc.SensorThingsService(sta_server.base)

    things = list(service.things().query().list())
    assert [(t.id, t.name) for t in things] == stations

    streams = service.things().find("BN02").get_datastreams().query().list()
    assert sorted(d.id for d in streams) == sorted(
        f"BN02.{p}.{a}" for (p,) in parameters for a in ("raw", "hourly")
    )

    stream = service.datastreams().find("BN01.pm25.hourly")
    assert stream.unit_of_measurement.symbol == "µg/m³"
    # a page of 10 at a time: the client follows every @iot.nextLink itself
    observations = list(stream.get_observations().query().top(10).list())
    assert [(o.id, o.result) for o in observations] == [
        (f"BN01.pm25.hourly.{iso(hour)}", mean) for hour, mean in means
    ]
    first_hour = means[0][0]
    assert observations[0].phenomenon_time == (
        f"{iso(first_hour)}/{iso(first_hour + dt.timedelta(hours=1))}"
    )
    assert observations[0].result_quality["dataLevel"] in ("provisional", "verified")
