"""The station catalogue: what it accepts, and that every refusal names the line at fault."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from pathlib import Path

import pytest

from aqm.settings import Settings
from ingest.parameters import canonical_parameter
from stations.catalogue import CatalogueError, Station, load_catalogue

EXAMPLE = Path(__file__).resolve().parents[2] / "stations" / "catalogue.example.yaml"
# The CHECK constraint of stations.station_id in storage/migrations/0001_core.sql.
DB_STATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

GOOD_STATION = """\
  - station_id: BN-01
    name: Trạm Kinh Bắc
    latitude: 21.1861
    longitude: 106.0763
    station_type: fixed_automatic
    public_aqi: true
    parameters: [pm25, pm10, no2]
"""


def write(tmp_path: Path, body: str, name: str = "catalogue.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def problems(path: Path) -> list[str]:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    return [str(p) for p in caught.value.problems]


def test_example_catalogue_is_valid_and_is_the_default() -> None:
    assert Settings.model_fields["stations_file"].default == EXAMPLE
    catalogue = load_catalogue(EXAMPLE)
    ids = [s.station_id for s in catalogue]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert all(DB_STATION_ID.match(i) for i in ids)
    assert [s.station_id for s in catalogue.active()] == ids[:5]
    retired = catalogue.get("BN-YENPHONG-LCS0")
    assert retired is not None and retired.status == "retired" and retired.retired_on is not None
    for station in catalogue:
        if station.public_aqi:
            assert station.station_type == "fixed_automatic"
            assert {"pm25", "pm10"} & set(station.parameters)
    kinhbac = catalogue.get("BN-KINHBAC")
    assert kinhbac is not None and kinhbac.aliases == {"PM2,5": "pm25"}
    # the form ingest hands a station's aliases to
    assert canonical_parameter("pm2,5", kinhbac.aliases) == "pm25"
    assert canonical_parameter("pm2,5") is None
    assert catalogue.province == "Bắc Ninh"


def test_defaults_and_parameters_in_canonical_order(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        stations:
          - station_id: BN-01
            name: "  Trạm Kinh Bắc  "
            latitude: 21.1861
            longitude: 106.0763
            station_type: low_cost_sensor
            parameters: [humidity, pm10, pm25]
        """)
    (station,) = load_catalogue(path).stations
    assert station.status == "active" and station.active
    assert station.public_aqi is False
    assert station.report_interval_s == 300
    assert station.parameters == ("pm25", "pm10", "humidity")
    assert station.name == "Trạm Kinh Bắc"
    assert station.ward is None and station.aliases == {}


def test_decomposed_vietnamese_is_stored_composed(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Phường Bắc Giang")
    assert decomposed != "Phường Bắc Giang"
    path = write(tmp_path, "stations:\n" + GOOD_STATION + f"    ward: {decomposed}\n")
    (station,) = load_catalogue(path).stations
    assert station.ward == "Phường Bắc Giang"


def test_unknown_field_is_named_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION.replace("latitude", "lattitude"))
    found = problems(path)
    assert f"{path}:{line_of(path, 'lattitude')}: station BN-01: lattitude: unknown field; " \
           "did you mean 'latitude'?" in found
    # the misspelt field also leaves latitude missing, reported at the station's line
    assert f"{path}:{line_of(path, 'station_id')}: station BN-01: latitude: " \
           "required field is missing" in found


def test_datalogger_parameter_name_points_at_the_list_item(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        stations:
          - station_id: BN-01
            name: Trạm
            latitude: 21.18
            longitude: 106.07
            station_type: fixed_automatic
            parameters:
              - pm25
              - PM-10
              - benzene
        """)
    assert problems(path) == [
        f"{path}:{line_of(path, 'PM-10')}: station BN-01: parameters[1]: "
        "'PM-10' is a datalogger name; write the canonical name 'pm10'",
        f"{path}:{line_of(path, 'benzene')}: station BN-01: parameters[2]: "
        "'benzene' is not a parameter aqm knows (pm25, pm10, tsp, no2, so2, o3, co, "
        "temperature, humidity, pressure, wind_speed, wind_direction, rain)",
    ]


def test_unquoted_numeric_id_asks_for_quotes(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION.replace("BN-01", "0012"))
    (only,) = problems(path)
    # YAML 1.1 reads 0012 as octal 10: exactly the surprise the message must explain
    assert only == (f"{path}:{line_of(path, '0012')}: stations[0]: station_id: must be text, "
                    "but YAML read 10 (int); put it in quotes")


def test_repeated_ids_name_both_lines_even_with_other_faults(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + GOOD_STATION.replace("BN-01", "bn-01")
                 + GOOD_STATION.replace("21.1861", "91"))
    first = line_of(path, "BN-01")
    found = problems(path)
    assert f"{path}:{line_of(path, 'bn-01')}: station bn-01: station_id: 'bn-01' differs only " \
           f"in case from 'BN-01' on line {first}" in found
    assert f"{path}:{line_of(path, 'BN-01', 2)}: station BN-01: station_id: 'BN-01' is " \
           f"already used on line {first}" in found
    assert f"{path}:{line_of(path, 'latitude: 91')}: station BN-01: latitude: Input should be " \
           "less than or equal to 90" in found
    assert len(found) == 3


def test_repeated_yaml_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + "    latitude: 21.2\n")
    assert problems(path) == [
        f"{path}:{line_of(path, 'latitude', 2)}: key 'latitude' repeats the one on line "
        f"{line_of(path, 'latitude')}"
    ]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + "    notes: [unclosed\n  - x: 1\n")
    (only,) = problems(path)
    match = re.match(rf"{re.escape(str(path))}:(\d+): invalid YAML: ", only)
    assert match, only
    assert int(match.group(1)) >= line_of(path, "unclosed")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("fixed_automatic", "low_cost_sensor"), "public_aqi",
         "a low_cost_sensor station is a reference station (Circular 10/2021 Art. 29-31): "
         "it may publish concentrations, not an AQI"),
        (("fixed_automatic", "mobile"), "public_aqi",
         "a mobile station is a reference station (Circular 10/2021 Art. 29-31): "
         "it may publish concentrations, not an AQI"),
        (("[pm25, pm10, no2]", "[no2, so2, o3]"), "public_aqi",
         "an AQI needs PM2.5 or PM10 (Decision 1459), and parameters lists neither"),
        (("106.0763", "-106.0763"), "longitude", "-106.0763 is outside Vietnam (102.0..118.0 °E)"),
        (("21.1861", "2.1861"), "latitude", "2.1861 is outside Vietnam (6.0..23.5 °N)"),
    ],
)
def test_station_rules_point_at_the_field(
    tmp_path: Path, change: tuple[str, str], field: str, message: str
) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION.replace(*change))
    assert problems(path) == [f"{path}:{line_of(path, field + ':')}: station BN-01: "
                              f"{field}: {message}"]


def test_retirement_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n"
                 + GOOD_STATION + "    status: retired\n"
                 + GOOD_STATION.replace("BN-01", "BN-02") + "    retired_on: 2024-12-31\n"
                 + GOOD_STATION.replace("BN-01", "BN-03")
                 + "    status: retired\n    installed_on: 2024-06-01\n    retired_on: 2024-05-31\n")
    assert problems(path) == [
        f"{path}:{line_of(path, 'BN-01')}: station BN-01: retired_on: "
        "a retired station needs the date it stopped",
        f"{path}:{line_of(path, 'station_id: BN-02')}: station BN-02: status: "
        "has retired_on, so write status: retired",
        f"{path}:{line_of(path, 'retired_on: 2024-05-31')}: station BN-03: retired_on: "
        "2024-05-31 is before installed_on 2024-06-01",
    ]


@pytest.mark.parametrize("interval", [60, 120, 300, 600, 900, 1800, 3600])
def test_report_intervals_dividing_the_hour_are_accepted(tmp_path: Path, interval: int) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + f"    report_interval_s: {interval}\n")
    (station,) = load_catalogue(path).stations
    assert 3600 / station.report_interval_s == 3600 // interval


@pytest.mark.parametrize("interval", [7, 450 + 1, 3599])
def test_report_interval_not_dividing_the_hour_is_refused(tmp_path: Path, interval: int) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + f"    report_interval_s: {interval}\n")
    assert problems(path) == [
        f"{path}:{line_of(path, 'report_interval_s')}: station BN-01: report_interval_s: "
        f"{interval} s does not divide the hour (e.g. 60, 300, 600, 900, 3600)"
    ]


def test_alias_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + textwrap.indent(textwrap.dedent("""\
        aliases:
          "Bui PM 2.5": pm25
          "BUIPM2.5": pm25
          "Ozone": o3
        """), "    "))
    aliases_line = line_of(path, "aliases:")
    assert problems(path) == [
        f"{path}:{aliases_line}: station BN-01: aliases: 'BUIPM2.5' and 'Bui PM 2.5' are the "
        "same name (case and spaces are ignored)",
        f"{path}:{aliases_line}: station BN-01: aliases: 'Ozone' maps to 'o3', which parameters "
        "does not list",
    ]


def test_alias_may_not_shadow_a_canonical_name(tmp_path: Path) -> None:
    # canonical_parameter() matches canonical names first, so such an alias would be dead.
    path = write(tmp_path, "stations:\n" + GOOD_STATION + "    aliases: {pm10: pm25}\n")
    assert problems(path) == [
        f"{path}:{line_of(path, 'aliases')}: station BN-01: aliases.pm10: "
        "'pm10' is already a canonical parameter name"
    ]


def test_station_name_must_be_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION.replace(
        "name: Trạm Kinh Bắc", 'name: "Trạm\\nKinh Bắc"'))
    assert problems(path) == [
        f"{path}:{line_of(path, 'name:')}: station BN-01: name: must be one line of text"
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "expected a mapping with a 'stations' list, found nothing"),
        ("- station_id: BN-01\n", "expected a mapping with a 'stations' list, found list"),
        ("province: Bắc Ninh\n", "stations: required field is missing"),
        ("stations: []\n", "stations: the catalogue lists no station"),
        ("version: 2\nstations:\n" + GOOD_STATION, "version: Input should be 1"),
        ("station:\n" + GOOD_STATION, "station: unknown field; did you mean 'stations'?"),
    ],
)
def test_file_shape_errors(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    found = problems(path)
    assert any(p.startswith(f"{path}:") and p.endswith(message) for p in found), found


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    assert problems(path) == [f"{path}: file not found"]


def test_station_model_can_be_built_directly() -> None:
    # Other rooms (simulator, tests) build stations without a file; the rules still hold.
    station = Station(station_id="X1", name="Trạm", latitude=21.0, longitude=106.0,
                      station_type="fixed_automatic", parameters=("no2", "pm25"))
    assert station.parameters == ("pm25", "no2")
    with pytest.raises(ValueError, match="public_aqi"):
        Station(station_id="X2", name="Trạm", latitude=21.0, longitude=106.0,
                station_type="low_cost_sensor", public_aqi=True, parameters=("pm25",))


def test_shared_fields_through_x_anchors_and_merge_keys(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        x-automatic: &automatic
          station_type: fixed_automatic
          public_aqi: true
          parameters: [pm25, pm10, o3]
        stations:
          - <<: *automatic
            station_id: BN-01
            name: Trạm 1
            latitude: 21.18
            longitude: 106.07
          - <<: *automatic
            station_id: BN-02
            name: Trạm 2
            latitude: 21.27
            longitude: 106.19
            public_aqi: false
        """)
    first, second = load_catalogue(path).stations
    assert (first.station_type, first.public_aqi, first.parameters) == (
        "fixed_automatic", True, ("pm25", "pm10", "o3"))
    assert second.public_aqi is False  # a station's own key overrides the shared one


def test_parameter_listed_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION.replace("[pm25, pm10, no2]",
                                                                "[pm25, no2, pm25]"))
    assert problems(path) == [f"{path}:{line_of(path, 'parameters')}: station BN-01: "
                              "parameters: listed more than once: pm25"]
