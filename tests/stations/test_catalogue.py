"""The station catalogue: what it accepts, and that every refusal names the line at fault."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from aqm_core.parameters import canonical_parameter
from aqm_core.settings import Settings
from stations.catalogue import CatalogueError, Station, load_catalogue
from stations.located_yaml import MAX_ALIAS_EXPANSION

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
    # a station's alias wins over the built-in table (which maps Circular 10's "PM2,5" too)
    assert canonical_parameter("BUI_MIN", {"BUI_MIN": "pm10"}) == "pm10"
    assert canonical_parameter("BUI_MIN") is None
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
    assert only == (f"{path}:{line_of(path, '0012')}: stations[0]: station_id: must be text, "
                    "but YAML reads it as the number 12; put it in quotes")


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


# --- values YAML cannot construct: located errors, never a traceback ---------------

@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("installed_on: 2021-02-30", "installed_on: 2021-02-30 is not a date "
                                     "(day is out of range for month)"),
        ("installed_on: 2021-13-01", "installed_on: 2021-13-01 is not a date "
                                     "(month must be in 1..12)"),
        ("installed_on: 2021-06-15 25:00:00", "installed_on: 2021-06-15 25:00:00 is not a date "
                                              "(hour must be in 0..23)"),
        ("elevation_m: " + "1" * 5000, "elevation_m: 11111111111111111111… (5000 characters) "
                                       "is not a whole number (too many digits)"),
        ("notes: !!int abc", "notes: abc is not a whole number"),
        ("notes: !!int ''", "notes: '' is not a whole number"),
        ("notes: !!float abc", "notes: abc is not a number"),
        ("notes: !!bool maybe", "notes: maybe is not true or false"),
        ("notes: !!timestamp soon", "notes: soon is not a date"),
    ],
)
def test_value_yaml_cannot_construct_is_a_located_error(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + f"    {line}\n")
    assert problems(path) == [f"{path}:{line_of(path, line[:20])}: station BN-01: {message}"]


def test_impossible_date_in_a_shared_anchor_names_where_it_is_written(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        x-common: &common
          installed_on: 2021-02-29
        stations:
          - <<: *common
            station_id: BN-01
        """)
    assert problems(path) == [f"{path}:2: x-common.installed_on: 2021-02-29 is not a date "
                              "(day is out of range for month)"]


# --- aliases: recursion and exponential expansion fail fast, with the line --------------

@pytest.mark.parametrize(
    ("body", "alias_line"),
    [
        ("stations: &s [ *s ]\n", 1),
        ("stations:\n  - &st\n    station_id: BN-01\n    notes: *st\n", 4),
        ("stations:\n  - &st\n    <<: *st\n    station_id: BN-01\n", 3),
        ("x-a: &a\n  - [1, *a]\nstations: []\n", 2),
    ],
)
def test_recursive_alias_is_refused_with_its_line(
    tmp_path: Path, body: str, alias_line: int
) -> None:
    path = write(tmp_path, body)
    (only,) = problems(path)
    assert only.startswith(f"{path}:{alias_line}: recursive alias *"), only
    assert "it is inside the value" in only


def _nested_aliases(levels: int, width: int, *, merge: bool) -> str:
    """A "billion laughs": each anchor repeats the previous one ``width`` times."""
    if merge:  # merge keys multiply too: every level doubles a mapping's pairs
        lines = ["x-l0: &l0 {k: 1}"]
        lines += [f"x-l{n}: &l{n} {{<<: [{', '.join([f'*l{n - 1}'] * width)}]}}"
                  for n in range(1, levels)]
    else:
        lines = [f"x-l0: &l0 [{', '.join(['1'] * width)}]"]
        lines += [f"x-l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]"
                  for n in range(1, levels)]
    lines.append(f"stations: *l{levels - 1}" if not merge else "stations: []")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("levels", "width", "merge"), [(9, 9, False), (30, 2, True)])
def test_exponentially_nested_aliases_fail_fast_with_the_line(
    tmp_path: Path, levels: int, width: int, merge: bool
) -> None:
    path = write(tmp_path, _nested_aliases(levels, width, merge=merge))
    (only,) = problems(path)
    match = re.fullmatch(
        rf"{re.escape(str(path))}:(\d+): alias \*(l\d+): aliases repeat more than "
        rf"{MAX_ALIAS_EXPANSION} values in this file \(nested aliases multiply\); write the "
        "values out, or share fewer of them", only)
    assert match, only
    line_text = path.read_text().splitlines()[int(match.group(1)) - 1]
    assert f"*{match.group(2)}" in line_text


def test_many_stations_sharing_fields_stay_under_the_alias_limit(tmp_path: Path) -> None:
    shared = """\
        x-automatic: &automatic
          station_type: fixed_automatic
          public_aqi: true
          report_interval_s: 300
          parameters: [pm25, pm10, tsp, no2, so2, o3, co, temperature, humidity, pressure,
                       wind_speed, wind_direction, rain]
        stations:
        """
    body = textwrap.dedent(shared) + "".join(
        f"  - <<: *automatic\n    station_id: BN-{n:03d}\n    name: Trạm {n}\n"
        f"    latitude: 21.1\n    longitude: 106.1\n" for n in range(500))
    path = tmp_path / "catalogue.yaml"
    path.write_text(body, encoding="utf-8")
    catalogue = load_catalogue(path)
    assert len(catalogue) == 500
    assert all(s.public_aqi and len(s.parameters) == 13 for s in catalogue)


# --- values as YAML 1.2 types them: yes/no, numbers and dates where they do not belong ---

@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("report_interval_s: true", "report_interval_s: must be a number, but YAML reads it "
                                    "as the yes/no value true"),
        ("report_interval_s: on", "report_interval_s: Input should be a valid integer, unable "
                                  "to parse string as an integer"),  # YAML 1.2: text
        ("report_interval_s: 5:00", "report_interval_s: Input should be a valid integer, "
                                    "unable to parse string as an integer"),  # not base 60
        ("elevation_m: .nan", "elevation_m: Input should be a finite number"),
        ("elevation_m: -.inf", "elevation_m: Input should be a finite number"),
        ("elevation_m: 1e400", "elevation_m: Input should be a finite number"),
        ("elevation_m: off", "elevation_m: Input should be a valid number, unable to parse "
                             "string as a number"),
        ("elevation_m: 2021-06-15", "elevation_m: must be a number, but YAML reads it as the "
                                    "date 2021-06-15"),
        ("installed_on: 0", "installed_on: must be a date written YYYY-MM-DD, but YAML reads "
                            "it as the number 0"),
        ("retired_on: 20241231", "retired_on: must be a date written YYYY-MM-DD, but YAML "
                                 "reads it as the number 20241231"),
        ("notes: true", "notes: must be text, but YAML reads it as the yes/no value true; put "
                        "it in quotes"),
        ("ward: 2021-06-15", "ward: must be text, but YAML reads it as the date 2021-06-15; "
                             "put it in quotes"),
    ],
)
def test_yaml_typed_value_is_refused_saying_what_yaml_read(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + f"    {line}\n")
    assert problems(path) == [f"{path}:{line_of(path, line)}: station BN-01: {message}"]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("21:11:10", "21:11:10 is not decimal degrees; write 21.186111 for 21:11:10 as "
                     "degrees:minutes:seconds"),
        ("21:11:10.5", "21:11:10.5 is not decimal degrees; write 21.186250 for 21:11:10.5 as "
                       "degrees:minutes:seconds"),
        ("yes", "Input should be a valid number, unable to parse string as a number"),
        ("2021-01-01", "must be a number, but YAML reads it as the date 2021-01-01"),
    ],
)
def test_latitude_is_read_as_written(tmp_path: Path, written: str, message: str) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION.replace("21.1861", written))
    assert problems(path) == [f"{path}:{line_of(path, 'latitude')}: station BN-01: "
                              f"latitude: {message}"]


def test_wrong_type_in_a_shared_anchor_points_at_the_anchor(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        x-lcs: &lcs
          station_type: low_cost_sensor
          report_interval_s: true
        stations:
          - <<: *lcs
            station_id: BN-01
            name: Trạm
            latitude: 21.18
            longitude: 106.07
            parameters: [pm25]
        """)
    assert problems(path) == [f"{path}:3: station BN-01: report_interval_s: must be a number, "
                              "but YAML reads it as the yes/no value true"]


@pytest.mark.parametrize(
    ("extra", "field", "expected"),
    [
        ("report_interval_s: 300.0", "report_interval_s", 300),
        ("report_interval_s: '0300'", "report_interval_s", 300),  # quoted: text, read as decimal
        ("report_interval_s: 0300", "report_interval_s", 300),  # YAML 1.2: decimal, not octal
        ("report_interval_s: 0020", "report_interval_s", 20),
        ("elevation_m: 012", "elevation_m", 12.0),
        ("notes: yes", "notes", "yes"),  # YAML 1.2: text, not a yes/no value
        ("notes: 'on'", "notes", "on"),
        ("report_interval_s: +60", "report_interval_s", 60),
        ("elevation_m: 0", "elevation_m", 0.0),
        ("elevation_m: -3", "elevation_m", -3.0),
        ("elevation_m: 12.50", "elevation_m", 12.5),
        ("elevation_m: 0.5", "elevation_m", 0.5),
        ("elevation_m: 1.5e+2", "elevation_m", 150.0),
        ("elevation_m: ~", "elevation_m", None),
        ("installed_on: 2021-06-15", "installed_on", date(2021, 6, 15)),
        ("installed_on: '2021-06-15'", "installed_on", date(2021, 6, 15)),
        ("notes: '0012'", "notes", "0012"),
    ],
)
def test_decimal_numbers_and_dates_are_accepted(
    tmp_path: Path, extra: str, field: str, expected: object
) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + f"    {extra}\n")
    (station,) = load_catalogue(path).stations
    assert getattr(station, field) == expected


def test_station_built_directly_refuses_booleans_and_non_finite_numbers() -> None:
    fields: dict[str, object] = {"station_id": "X1", "name": "Trạm", "latitude": 21.0,
                                 "longitude": 106.0, "station_type": "fixed_automatic",
                                 "parameters": ("pm25",)}
    with pytest.raises(ValueError, match="report_interval_s"):
        Station.model_validate({**fields, "report_interval_s": True})
    with pytest.raises(ValueError, match="finite number"):
        Station.model_validate({**fields, "elevation_m": float("nan")})
    with pytest.raises(ValueError, match="the number 1623715200"):
        Station.model_validate({**fields, "installed_on": 1623715200})


def test_nesting_too_deep_for_the_parser_is_a_located_error(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + "    notes: " + "[" * 5000 + "]" * 5000
                 + "\n")
    assert problems(path) == [f"{path}:{line_of(path, 'notes')}: nested too deeply to read"]


# --- timezone: the zone of a datalogger's clock (Circular 10/2021 text has none) ---


@pytest.mark.parametrize("zone", ["UTC", "Asia/Ho_Chi_Minh", "Asia/Bangkok", "Etc/GMT-7"])
def test_timezone_accepts_iana_names(tmp_path: Path, zone: str) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + f"    timezone: {zone}\n")
    (station,) = load_catalogue(path)
    assert station.timezone == zone


def test_timezone_defaults_to_none_meaning_aqm_timezone(tmp_path: Path) -> None:
    (station,) = load_catalogue(write(tmp_path, "stations:\n" + GOOD_STATION))
    assert station.timezone is None
    kinhbac = load_catalogue(EXAMPLE).get("BN-KINHBAC")
    assert kinhbac is not None and kinhbac.timezone == "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("Asia/Ho_Chi_Min", "'Asia/Ho_Chi_Min' is not an IANA time zone; did you mean "
                            "'Asia/Ho_Chi_Minh'?"),
        ("asia/ho_chi_minh", "'asia/ho_chi_minh' is not an IANA time zone; did you mean "
                             "'Asia/Ho_Chi_Minh'?"),
        ("ICT", "'ICT' is not an IANA time zone"),
        ('"+07:00"', "'+07:00' is an offset, not an IANA time zone; write the zone of the "
                     "place (Asia/Ho_Chi_Minh for UTC+7) or UTC for a clock kept in UTC"),
        ("UTC+7", "'UTC+7' is an offset, not an IANA time zone"),
        ("../../etc/passwd", "'../../etc/passwd' is not an IANA time zone"),
        ("7", "timezone: must be text, but YAML reads it as the number 7; put it in quotes"),
    ],
)  # fmt: skip
def test_timezone_that_is_not_an_iana_zone_is_refused_at_its_line(
    tmp_path: Path, written: str, message: str
) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + f"    timezone: {written}\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:{line_of(path, 'timezone')}: station BN-01: timezone: ")
    assert message in problem


# --- instrument ranges ------------------------------------------------------------------


def test_instrument_ranges_are_read_per_parameter(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION
                 + "    instrument_ranges: {pm25: [0, 1000], no2: [0.5, 500.0]}\n")  # fmt: skip
    (station,) = load_catalogue(path)
    assert station.instrument_ranges == {"pm25": (0.0, 1000.0), "no2": (0.5, 500.0)}
    (plain,) = load_catalogue(write(tmp_path, "stations:\n" + GOOD_STATION, "plain.yaml"))
    assert plain.instrument_ranges == {}  # the rules file's defaults apply


def test_instrument_range_errors_name_the_parameter_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + textwrap.indent(textwrap.dedent("""\
        instrument_ranges:
          pm2.5: [0, 100]
          pm25: [500, 500]
          pm10: [0, "1e3"]
          no2: [true, 500]
          so2: 7
          co: [0, .inf]
        """), "    "))  # fmt: skip
    assert problems(path) == [
        f"{path}:{line_of(path, 'pm2.5')}: station BN-01: instrument_ranges.pm2.5: 'pm2.5' is "
        "a datalogger name; write the canonical name 'pm25'",
        f"{path}:{line_of(path, 'pm25: [500')}: station BN-01: instrument_ranges.pm25: "
        "min 500 must be below max 500",
        f"{path}:{line_of(path, 'pm10: [')}: station BN-01: instrument_ranges.pm10: "
        "max must be a number, not '1e3'",
        f"{path}:{line_of(path, 'no2: [true')}: station BN-01: instrument_ranges.no2: "
        "min must be a number, not True",
        f"{path}:{line_of(path, 'so2: 7')}: station BN-01: instrument_ranges.so2: "
        "must be [min, max], two numbers, not 7",
        f"{path}:{line_of(path, 'co: [0')}: station BN-01: instrument_ranges.co: "
        "max must be a finite number, not inf",
    ]


def test_instrument_range_of_a_parameter_not_measured_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "stations:\n" + GOOD_STATION + "    instrument_ranges: {o3: [0, 500]}\n")
    assert problems(path) == [
        f"{path}:{line_of(path, 'instrument_ranges')}: station BN-01: instrument_ranges: "
        "'o3' has a range, but parameters does not list it"
    ]
