"""The compiled kernels (aqi/kernels.py) return the numpy engine's doubles, byte for byte.

The numpy code is the reference (its values are checked against the standards by the
other tests, which also run on both backends); here every array of whole results, and
the NowCast and interpolation functions alone, are compared bit for bit (a NaN's sign
aside, which numpy's own loops do not keep) on data chosen to hit the edges: missing hours, negative readings, −0.0, zeros, infinities, rows shorter
than the window, every method and period. Backend selection errors name their source.
"""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aqi import daily_aqi, hourly_aqi, kernels, nowcast
from aqi.breakpoints import TABLES
from aqi.interpolation import interpolate
from aqi.kernels import BackendError, backend, use_backend
from tests.aqi.conftest import StateAir, numba_missing

WHY_NO_KERNELS = numba_missing()
pytestmark = [
    pytest.mark.skipif(bool(WHY_NO_KERNELS), reason=WHY_NO_KERNELS or "numba imports"),
    # Infinities on purpose: numpy warns about inf/inf and inf·0, the kernels do not.
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]


@pytest.fixture(autouse=True)
def aqi_backend() -> Iterator[str]:
    """Overrides the two-backend fixture: each test here runs both itself."""
    yield "both"


def on_both(call: Callable[[], Any]) -> tuple[Any, Any]:
    with use_backend("numpy"):
        reference = call()
    with use_backend("numba"):
        compiled = call()
    return reference, compiled


def arrays_of(result: Any) -> dict[str, np.ndarray]:
    """Every array of an AqiResult (dict fields flattened), or of a NamedTuple / array."""
    if isinstance(result, np.ndarray):
        return {"array": result}
    if isinstance(result, tuple):
        return {f"[{i}]": a for i, a in enumerate(result)}
    found: dict[str, np.ndarray] = {}
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if isinstance(value, np.ndarray):
            found[field.name] = value
        elif isinstance(value, dict):
            found |= {f"{field.name}[{k}]": a for k, a in value.items()}
    return found


def canonical_bytes(array: np.ndarray) -> np.ndarray:
    """The array's bytes, every NaN written as numpy's own ``nan``.

    A NaN's sign bit is no value, and numpy does not keep it either: ``nan + nan`` gives
    −nan in its vectorised loop and +nan in the scalar tail of the same array, so which
    one comes out depends on the position in the row and the CPU's vector width.
    """
    copy = np.array(array, copy=True, order="C")
    if copy.dtype.kind == "f":
        copy[np.isnan(copy)] = np.nan
    return copy.view(np.uint8)


def assert_identical(reference: Any, compiled: Any) -> None:
    """Every array the same dtype, shape and bytes (NaN's sign bit aside)."""
    ours, theirs = arrays_of(reference), arrays_of(compiled)
    assert ours.keys() == theirs.keys()
    for key, expected in ours.items():
        actual = theirs[key]
        assert actual.dtype == expected.dtype, key
        assert actual.shape == expected.shape, key
        differ = canonical_bytes(actual) != canonical_bytes(expected)
        assert not differ.any(), f"{key}: not the same bytes"


def nasty(shape: tuple[int, ...], seed: int, scale: float = 40.0) -> np.ndarray:
    """Lognormal values with missing hours, negatives, −0.0, zeros, huge values, runs of gaps."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(np.log(scale), 1.0, shape)
    for fraction, value in ((0.15, np.nan), (0.03, -4.0), (0.02, -0.0), (0.02, 0.0), (0.002, 1e7)):
        values[rng.random(shape) < fraction] = value
    values[..., 30:45] = np.nan  # a long gap: NowCast windows run empty
    values[..., 60:75] = np.inf  # windows of infinities only: inf/inf weights are NaN
    return values


def pollutants(shape: tuple[int, int], seed: int) -> dict[str, np.ndarray]:
    scales = {"pm25": 40, "pm10": 70, "o3": 80, "no2": 50, "so2": 30, "co": 2000}
    return {key: nasty(shape, seed + i, scale) for i, (key, scale) in enumerate(scales.items())}


@pytest.mark.parametrize("method", ["vn_1459_2019", "us_epa_2024", "us_epa_2012"])
@pytest.mark.parametrize("hours_before", [0, 12])
def test_hourly_results_identical(method: str, hours_before: int) -> None:
    conc = pollutants((9, 24 * 20 + hours_before), seed=1)
    assert_identical(*on_both(lambda: hourly_aqi(conc, method, hours_before=hours_before)))


@pytest.mark.parametrize("method", ["vn_1459_2019", "us_epa_2024", "us_epa_2012"])
def test_daily_results_identical(method: str) -> None:
    conc = pollutants((9, 7 + 24 * 20 + 24), seed=2)
    assert_identical(*on_both(lambda: daily_aqi(conc, method, hours_before=7, hours_after=24)))


@pytest.mark.parametrize(
    "keys", [("pm25",), ("pm10", "no2"), ("no2", "o3"), ("pm25", "pm10", "no2"), ("co",)]
)
def test_subsets_of_pollutants_identical(keys: tuple[str, ...]) -> None:
    """Which pollutants are present changes the dominant pollutant and the reasons."""
    conc = {k: v for k, v in pollutants((5, 300), seed=3).items() if k in keys}
    assert_identical(*on_both(lambda: hourly_aqi(conc)))
    assert_identical(*on_both(lambda: hourly_aqi(conc, "us_epa_2024")))


def test_literal_nowcast_and_one_station_identical() -> None:
    conc = {k: v[0] for k, v in pollutants((1, 500), seed=4).items()}
    assert_identical(*on_both(lambda: hourly_aqi(conc, nowcast_form="literal")))
    assert_identical(*on_both(lambda: hourly_aqi(conc, hours_before=12)))


def test_nan_sign_does_not_count_but_every_other_bit_does() -> None:
    """The comparison itself: −nan equals nan, −0.0 does not equal 0.0."""
    assert_identical(np.array([np.nan, 1.0]), np.array([-np.nan, 1.0]))
    with pytest.raises(AssertionError, match="not the same bytes"):
        assert_identical(np.array([0.0]), np.array([-0.0]))
    with pytest.raises(AssertionError, match="not the same bytes"):
        assert_identical(np.array([1.0]), np.array([np.nextafter(1.0, 2.0)]))


def test_windows_of_infinities_identical() -> None:
    """min/max = inf/inf: numpy's weight is NaN (np.maximum keeps NaN), so is the NowCast."""
    values = np.array([[np.inf] * 6 + [1.0, np.inf, -np.inf, np.nan, 0.0]])
    reference, compiled = on_both(lambda: nowcast(values))
    assert np.isnan(reference.value[0, 2])
    assert_identical(reference, compiled)


def test_empty_and_tiny_inputs_identical() -> None:
    assert_identical(*on_both(lambda: hourly_aqi({"pm25": np.empty((3, 0))})))
    assert_identical(*on_both(lambda: hourly_aqi({"pm25": np.array([[np.nan]])})))
    assert_identical(*on_both(lambda: hourly_aqi({"pm25": np.array([5.0, -1.0])})))


@pytest.mark.parametrize(
    "name", ["stateair_Hanoi_PM2.5_2017_YTD.csv", "stateair_HoChiMinhCity_PM2.5_2017_YTD.csv"]
)
def test_real_series_identical(stateair: Callable[[str], StateAir], name: str) -> None:
    raw = stateair(name)[0]
    days = len(raw) // 24
    conc = {"pm25": raw[: 24 * days]}
    assert_identical(*on_both(lambda: hourly_aqi(conc)))
    assert_identical(*on_both(lambda: hourly_aqi(conc, "us_epa_2024")))
    assert_identical(*on_both(lambda: daily_aqi(conc, hours_before=0)))


@pytest.mark.parametrize(
    ("hours", "min_weight", "recent_hours", "min_recent"),
    [
        (12, 0.5, 3, 2),
        (8, 0.0, 3, 2),
        (1, 0.5, 1, 1),
        (3, 0.5, 3, 2),
        (4, 0.5, 6, 4),
        (24, 0.3, 3, 3),
    ],
)
@pytest.mark.parametrize("floor", [None, 0.0, 5.0])
@pytest.mark.parametrize("form", ["normalised", "literal"])
def test_nowcast_identical(
    hours: int,
    min_weight: float,
    recent_hours: int,
    min_recent: int,
    floor: float | None,
    form: Any,
) -> None:
    for shape in [(6, 200), (2, 3, 50), (40,), (4, 5), (3, 1)]:
        values = nasty(shape, seed=hours)

        def call(values: np.ndarray = values) -> Any:
            return nowcast(
                values, hours=hours, min_weight=min_weight, recent_hours=recent_hours,
                min_recent=min_recent, form=form, floor=floor,
            )  # fmt: skip

        assert_identical(*on_both(call))


@pytest.mark.parametrize(
    ("method", "scale"), [(method, scale) for method, tables in TABLES.items() for scale in tables]
)
def test_interpolation_identical_on_every_table(method: str, scale: str) -> None:
    table = TABLES[method][scale]
    points = np.array(table.conc_points)
    edges = np.concatenate([points, np.nextafter(points, -np.inf), np.nextafter(points, np.inf)])
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, -1.0, 1e300])
    values = np.concatenate([edges, specials, nasty((500,), seed=5, scale=points[-1] / 3)])
    grid = np.resize(values, (3, values.size // 3 + 1))  # 2-D as well
    for x in (values, grid):
        for right in (table.index_points[-1], np.nan, 999.0):
            for floor in (None, 0.0):

                def call(x: np.ndarray = x, right: float = right, floor: Any = floor) -> Any:
                    return interpolate(x, table.conc_points, table.index_points, right, floor=floor)

                assert_identical(*on_both(call))


finite_or_not = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 25.0, 50.0, 500.0]),
)


@settings(max_examples=150, deadline=None)
@given(
    values=hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=30), elements=finite_or_not
    )
)
def test_nowcast_identical_on_any_values(values: np.ndarray) -> None:
    assert_identical(*on_both(lambda: nowcast(values, floor=0.0)))
    assert_identical(*on_both(lambda: nowcast(values, hours=8, min_weight=0.0)))


@settings(max_examples=150, deadline=None)
@given(
    values=hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=40), elements=finite_or_not
    )
)
def test_hourly_identical_on_any_values(values: np.ndarray) -> None:
    conc = {"pm25": values, "no2": values[::-1].copy()}
    assert_identical(*on_both(lambda: hourly_aqi(conc)))
    assert_identical(*on_both(lambda: hourly_aqi(conc, "us_epa_2024")))


# --- choosing the backend ----------------------------------------------------------------


@pytest.mark.usefixtures("configured_backend")
@pytest.mark.parametrize(
    ("value", "expected", "small", "large"),
    [
        ("numpy", "numpy", False, False),
        ("numba", "numba", True, True),
        ("auto", "auto", False, True),
        ("", "auto", False, True),
        (" auto ", "auto", False, True),
    ],
)
def test_backend_as_configured(value: str, expected: str, small: bool, large: bool) -> None:
    """auto hands the kernels only calls large enough to repay loading them."""
    kernels.configure_backend(value, "AQM_AQI_BACKEND")
    assert backend() == expected
    assert (kernels.compiled(kernels.AUTO_MIN_VALUES - 1) is not None) == small
    assert (kernels.compiled(kernels.AUTO_MIN_VALUES) is not None) == large


def test_auto_runs_small_calls_without_importing_numba() -> None:
    """A command-line run on a few stations must not pay numba's import (about a second)."""
    code = (
        "import sys, numpy as np; from aqi import hourly_aqi, daily_aqi;"
        "conc = {'pm25': np.full((3, 48), 30.0), 'no2': np.full((3, 48), 40.0)};"
        "hourly_aqi(conc); daily_aqi(conc, hours_before=0);"
        "print('numba' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"


def test_large_calls_under_auto_run_the_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []
    real = kernels._kernels()
    assert real is not None

    class Spy:
        def __getattr__(self, name: str) -> Any:
            called.append(name)
            return getattr(real, name)

    monkeypatch.setattr(kernels, "_kernels", Spy)
    conc = {"pm25": np.full((2, kernels.AUTO_MIN_VALUES // 2), 30.0)}
    with use_backend("auto"):
        hourly_aqi({"pm25": conc["pm25"][:, :100]})
        assert called == []
        hourly_aqi(conc)
    assert {"nowcast", "interpolate", "finish"} <= set(called)


@pytest.mark.usefixtures("configured_backend")
def test_unknown_backend_names_where_it_came_from() -> None:
    with pytest.raises(BackendError, match=r"AQM_AQI_BACKEND: unknown AQI backend 'fortran'"):
        kernels.configure_backend("fortran", "AQM_AQI_BACKEND")
    assert backend() == "auto"


@pytest.mark.usefixtures("configured_backend")
def test_without_numba_auto_falls_back_and_numba_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = importlib.import_module

    def no_numba(name: str, package: str | None = None) -> Any:
        if name == "numba":
            raise ImportError("No module named 'numba'")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", no_numba)
    kernels._kernels.cache_clear()
    try:
        assert kernels.configure_backend("auto") == "auto"
        assert kernels.compiled(10 * kernels.AUTO_MIN_VALUES) is None
        big = {"pm25": np.full((2, kernels.AUTO_MIN_VALUES // 2), 30.0)}
        assert hourly_aqi(big).aqi[0, -1] == 60  # 50 + 50/25 × 5, by the numpy code
        with (
            pytest.raises(BackendError, match=r"use_backend: .*needs numba.*aqm\[fast\]"),
            use_backend("numba"),
        ):
            pass
        assert kernels.describe_backend() == "auto: numpy code (numba cannot be imported)"
        with pytest.raises(BackendError, match=r"AQM_AQI_BACKEND: .*needs numba"):
            kernels.configure_backend("numba", "AQM_AQI_BACKEND")
    finally:
        kernels._kernels.cache_clear()


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("auto", "auto: compiled kernels (numba) for calls of 1,048,576+ values"),
        ("numba", "compiled kernels (numba)"),
        ("numpy", "numpy code"),
    ],
)
def test_backend_in_words_for_the_worker_log(name: str, words: str) -> None:
    with use_backend(name):
        assert kernels.describe_backend() == words


def test_use_backend_restores_the_previous_choice() -> None:
    before = backend()
    with use_backend("numpy"):
        assert backend() == "numpy"
        with use_backend("numba"):
            assert backend() == "numba"
        assert backend() == "numpy"
    assert backend() == before


def test_kernels_compile_without_a_writable_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """numba refuses cache=True where no cache directory is writable: compile anyway."""
    numba = importlib.import_module("numba")
    real_njit = numba.njit
    refused: list[str] = []

    def njit_without_cache(*args: Any, **options: Any) -> Any:
        if options.get("cache"):
            refused.append("cache")
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(*args, **options)

    monkeypatch.setattr(numba, "njit", njit_without_cache)
    kernels._kernels.cache_clear()
    try:
        conc = pollutants((3, 100), seed=6)
        assert_identical(*on_both(lambda: hourly_aqi(conc)))
    finally:
        kernels._kernels.cache_clear()
    assert refused


def test_use_backend_holds_for_its_own_thread_only() -> None:
    """Two threads in overlapping blocks each keep their own backend, and both restore."""
    entered = [threading.Event(), threading.Event()]
    leave_first = threading.Event()
    seen: dict[str, list[str]] = {"numpy": [], "numba": []}

    def first() -> None:
        with use_backend("numpy"):
            entered[0].set()
            entered[1].wait(5)
            seen["numpy"].append(backend())
            leave_first.set()
        seen["numpy"].append(backend())

    def second() -> None:
        entered[0].wait(5)
        with use_backend("numba"):
            entered[1].set()
            leave_first.wait(5)
            seen["numba"].append(backend())
        seen["numba"].append(backend())

    before = backend()
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["numpy"][0] == "numpy"
    assert seen["numba"][0] == "numba"
    # After their blocks, both threads are back on the process-wide backend.
    assert seen["numpy"][1] == seen["numba"][1] == kernels._configured["backend"]
    assert backend() == before
