"""Turn a year of data into the report's findings, per station and for the province.

Pure: :func:`assess` takes the registry and :class:`~reports.annual.source.YearData`
(arrays) and returns dataclasses; nothing here reads the database or writes a file, so
every number of the report can be tested without either. Province-wide figures follow
rules stated in the methodology: category days are station-days; an annual or monthly
mean is the mean of the stations' valid means; an exceedance day (hour) is one on which
at least one station exceeded; the worst days are the worst station-days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from aqi.categories import VN_CATEGORIES, category_index
from reports.annual import statistics as st
from reports.annual.limits_in_force import annual_limit, has_limit, limits_per_day
from reports.annual.source import StationRecord, YearData
from stations.pm25_correction import correct_pm25

REPORT_PARAMETERS: Final = ("pm25", "pm10", "tsp", "no2", "so2", "o3", "co")
"""Pollutants the report covers, in the order its tables list them."""

SHORT_TERM_PERIODS: Final = ("24h", "8h", "1h")
"""Averaging periods whose exceedances are counted (annual is a single comparison)."""

GOOD_OR_MODERATE: Final = (0, 1)
"""Category indices of Tốt and Trung bình."""

N_WORST_DAYS: Final = 10

EPISODE_AQI: Final = 201
"""A province day is a bad day when an eligible station's daily VN_AQI is at least this
(Xấu or worse, Decision 1459 Table 1); an episode is a run of consecutive bad days."""

SERIOUS_AQI: Final = 301
SERIOUS_DAYS: Final = 3
"""Decree 08/2022/NĐ-CP Art. 10: daily VN_AQI ≥ 301 for 3 consecutive days at a station
means the air is seriously polluted at province level."""


@dataclass(frozen=True)
class LimitRegime:
    """A limit value and the days of the report year it was in force."""

    value: float
    first_day: date
    last_day: date


@dataclass(frozen=True)
class ParameterCompleteness:
    """How complete one parameter's series at one station was over the year."""

    parameter: str
    valid_hours: int
    possible_hours: int
    valid_days: int
    """Days with enough valid hourly means for a 24-h mean (``MIN_HOURS_PER_DAY``)."""
    possible_days: int


@dataclass(frozen=True)
class Exceedance:
    """Slots (days for 24 h and 8 h, hours for 1 h) over the limit in force."""

    parameter: str
    averaging: str
    regimes: tuple[LimitRegime, ...]
    exceeded: int
    judged: int
    """Slots with a valid value (and a limit)."""
    possible: int
    """Slots in the period the station(s) existed."""


@dataclass(frozen=True)
class AnnualMean:
    parameter: str
    mean: st.PeriodMean
    limit: float | None
    previous: st.PeriodMean | None = None
    """The year before (None: no data then)."""
    comparable: st.PeriodMean | None = None
    """This year over the same stations as ``previous`` (province: like for like)."""
    stations_used: int | None = None
    """Province only: stations whose valid annual mean entered the mean."""

    @property
    def exceeds(self) -> bool | None:
        if self.mean.value is None or self.limit is None:
            return None
        return self.mean.value > self.limit


@dataclass(frozen=True)
class WorstDay:
    day: date
    aqi: int
    category: int
    dominant: str | None
    station_id: str
    station_name: str


@dataclass(frozen=True)
class GapPeriod:
    parameter: str
    start: datetime
    """First local hour without a valid hourly mean (hour-beginning, local time)."""
    end: datetime
    """First local hour with data again (or the end of the active period)."""
    hours: int


@dataclass(frozen=True)
class CategoryDays:
    counts: tuple[int, ...]
    """Days in each VN_AQI category (index 0 Tốt … 5 Nguy hại)."""
    without_aqi: int
    """Active days without a daily VN_AQI."""

    @property
    def with_aqi(self) -> int:
        return sum(self.counts)

    @property
    def good_or_moderate_share(self) -> float | None:
        total = self.with_aqi
        return None if total == 0 else sum(self.counts[i] for i in GOOD_OR_MODERATE) / total


@dataclass(frozen=True)
class Findings:
    """What the report says about one station or the province."""

    key: str
    """Station id, or :data:`PROVINCE_KEY`."""
    name: str
    parameters: tuple[str, ...]
    category_days: CategoryDays
    annual: tuple[AnnualMean, ...]
    exceedances: tuple[Exceedance, ...]
    worst_days: tuple[WorstDay, ...]
    monthly: dict[str, list[st.PeriodMean]]
    previous_category_days: CategoryDays | None = None
    comparable_category_days: CategoryDays | None = None
    """This year's category days over the stations that have ``previous_category_days``."""


@dataclass(frozen=True)
class StationFindings(Findings):
    station: StationRecord | None = None
    active_days: int = 0
    completeness: tuple[ParameterCompleteness, ...] = ()
    gaps: tuple[GapPeriod, ...] = ()
    daily_category: npt.NDArray[np.int8] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int8)
    )
    """Per day: category index 0…5, -1 no AQI, -2 station did not exist."""
    eligible_days: int = 0
    """Days its AQI may be published (Circular 10/2021 Art. 29-31; stations/eligibility.py)."""
    pm25_correction: str | None = None
    pm25_corrected_hours: int = 0
    """Indicative stations: hours whose PM2.5 is the corrected value (others: raw)."""
    pm25_raw_hours: int = 0
    maxima: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    """Per parameter: highest valid 1-h and 24-h value of the year."""
    daily_pm25: st.FloatArray = field(default_factory=lambda: np.zeros(0))
    """Daily mean PM2.5 (NaN: none), for the chart against the 24-h limit."""


@dataclass(frozen=True)
class Episode:
    """A run of consecutive days on which some eligible station had VN_AQI ≥ EPISODE_AQI."""

    first_day: date
    last_day: date
    days: int
    peak_aqi: int
    peak_station: str
    stations: int
    """Stations with a bad day within the run."""


@dataclass(frozen=True)
class SeriousPollutionCheck:
    """Decree 08/2022 Art. 10 evaluated for one station: its longest run of VN_AQI ≥ 301."""

    station_id: str
    station_name: str
    longest_run: int
    run_start: date | None

    @property
    def met(self) -> bool:
        return self.longest_run >= SERIOUS_DAYS


@dataclass(frozen=True)
class AnnualAssessment:
    year: int
    province: str
    days: tuple[date, ...]
    stations: tuple[StationFindings, ...]
    province_findings: Findings
    has_previous_year: bool
    daily_limits: dict[tuple[str, str], st.FloatArray]
    """QCVN limit in force on each day, per (parameter, averaging) that has one."""
    annual_limits: dict[str, float | None]
    indicative: tuple[StationFindings, ...] = ()
    """Stations whose AQI may not be published on any day of the year (low-cost sensors,
    mobile units, reference stations): concentrations only, in their own annex."""
    episodes: tuple[Episode, ...] = ()
    serious_pollution: tuple[SeriousPollutionCheck, ...] = ()
    previous_year: int | None = None


PROVINCE_KEY: Final = "Toàn tỉnh"
"""Key and name of the province-wide rows."""

NO_AQI: Final = -1
INACTIVE: Final = -2


def limit_regimes(daily_limits: st.FloatArray, days: Sequence[date]) -> tuple[LimitRegime, ...]:
    """The runs of equal limit values over the days of the year (NaN: none)."""
    regimes: list[LimitRegime] = []
    for i, value in enumerate(daily_limits):
        if np.isnan(value):
            continue
        if regimes and regimes[-1].value == value and regimes[-1].last_day == days[i - 1]:
            regimes[-1] = LimitRegime(value, regimes[-1].first_day, days[i])
        else:
            regimes.append(LimitRegime(float(value), days[i], days[i]))
    return tuple(regimes)


@dataclass(frozen=True)
class _Grid:
    """Per-year constants shared by every station."""

    days: tuple[date, ...]
    month_of_day: st.IntArray
    start_local: datetime
    day_limits: dict[tuple[str, str], st.FloatArray]
    annual_limits: dict[str, float | None]


def _grid(year: int, days: tuple[date, ...], start_local: datetime) -> _Grid:
    day_limits: dict[tuple[str, str], st.FloatArray] = {}
    for parameter in REPORT_PARAMETERS:
        for averaging in SHORT_TERM_PERIODS:
            if has_limit(parameter, averaging, days):
                day_limits[(parameter, averaging)] = limits_per_day(parameter, averaging, days)
    return _Grid(
        days=days,
        month_of_day=np.array([d.month for d in days], dtype=np.int64),
        start_local=start_local,
        day_limits=day_limits,
        annual_limits={p: annual_limit(p, year) for p in REPORT_PARAMETERS},
    )


def _values_for(averaging: str, hourly: st.FloatArray) -> st.FloatArray:
    if averaging == "1h":
        return hourly
    if averaging == "8h":
        return st.daily_max_8h_means(hourly)
    return st.daily_means(hourly)


def _slot_limits(averaging: str, day_limits: st.FloatArray) -> st.FloatArray:
    return np.repeat(day_limits, st.HOURS_PER_DAY) if averaging == "1h" else day_limits


def _category_days(category: npt.NDArray[np.int8]) -> CategoryDays:
    counts = st.category_counts(category, len(VN_CATEGORIES))
    return CategoryDays(
        counts=tuple(int(c) for c in counts),
        without_aqi=int(np.count_nonzero(category == NO_AQI)),
    )


def _worst(aqi: st.FloatArray, dominant: npt.NDArray[np.object_], days: Sequence[date],
           station_id: str, station_name: str) -> tuple[WorstDay, ...]:
    result = []
    for d in st.worst_days(aqi, N_WORST_DAYS):
        value = int(aqi[d])
        dom = dominant[d]
        result.append(WorstDay(days[d], value, int(category_index(np.array([value]))[0]),
                               None if dom is None else str(dom), station_id, station_name))
    return tuple(result)


def _station(
    record: StationRecord,
    hourly: st.FloatArray,
    aqi: st.FloatArray,
    dominant: npt.NDArray[np.object_],
    data: YearData,
    grid: _Grid,
    previous: tuple[st.FloatArray, st.FloatArray] | None,
    eligible_days: int = 0,
) -> StationFindings:
    """Findings of one station; ``previous``: its (hourly, aqi) of the year before."""
    days = grid.days
    has_hour_data = ~np.isnan(hourly).all(axis=0)
    has_day_data = st.valid_hours_per_day(np.where(has_hour_data, 0.0, np.nan)) > 0
    registry_active = np.array([record.active_on(d) for d in days])
    # A station reporting outside its registry dates is counted as existing on those
    # days (registry dates lag behind the field more often than data are wrong).
    active_days = registry_active | has_day_data | ~np.isnan(aqi)
    active_hours = np.repeat(active_days, st.HOURS_PER_DAY)

    measured = tuple(
        p for i, p in enumerate(data.parameters)
        if p in REPORT_PARAMETERS and (p in record.parameters or not np.isnan(hourly[i]).all())
    )  # fmt: skip
    completeness, gap_periods, annual, exceedances = [], [], [], []
    monthly: dict[str, list[st.PeriodMean]] = {}
    maxima: dict[str, tuple[float | None, float | None]] = {}
    daily_pm25 = np.full(len(days), np.nan)
    for parameter in measured:
        values = hourly[data.parameters.index(parameter)]
        valid = ~np.isnan(values)
        per_day = st.valid_hours_per_day(values)
        completeness.append(ParameterCompleteness(
            parameter,
            valid_hours=int(np.count_nonzero(valid & active_hours)),
            possible_hours=int(np.count_nonzero(active_hours)),
            valid_days=int(np.count_nonzero((per_day >= st.MIN_HOURS_PER_DAY) & active_days)),
            possible_days=int(np.count_nonzero(active_days)),
        ))  # fmt: skip
        for gap in st.gaps(valid, active_hours):
            gap_periods.append(GapPeriod(
                parameter,
                grid.start_local + timedelta(hours=gap.start),
                grid.start_local + timedelta(hours=gap.end),
                gap.hours,
            ))  # fmt: skip
        daily = st.daily_means(values)
        if parameter == "pm25":
            daily_pm25 = daily
        maxima[parameter] = (_nanmax(values), _nanmax(daily))
        prev_mean = None
        if previous is not None:
            prev_values = previous[0][data.parameters.index(parameter)]
            if not np.isnan(prev_values).all():
                prev_mean = st.period_mean(st.daily_means(prev_values))
        mean = st.period_mean(daily)
        annual.append(AnnualMean(parameter, mean, grid.annual_limits[parameter], prev_mean,
                                 mean if prev_mean is not None else None))
        monthly[parameter] = st.monthly_means(daily, grid.month_of_day)
        for averaging in SHORT_TERM_PERIODS:
            day_limits = grid.day_limits.get((parameter, averaging))
            if day_limits is None:
                continue
            slot_values = _values_for(averaging, values)
            slot_limits = _slot_limits(averaging, day_limits)
            active = active_hours if averaging == "1h" else active_days
            over, judged = st.exceedance_slots(np.where(active, slot_values, np.nan),
                                               slot_limits)
            exceedances.append(Exceedance(
                parameter, averaging, limit_regimes(day_limits, days),
                int(np.count_nonzero(over)), int(np.count_nonzero(judged)),
                int(np.count_nonzero(active)),
            ))  # fmt: skip

    category = category_index(aqi).astype(np.int8)
    category[~active_days] = INACTIVE
    previous_days = None
    if previous is not None:
        prev_aqi = previous[1]
        # a partial previous year is not compared as if whole: it needs AQI on ≥ 75 % of
        # its days, the rule of an annual mean
        if np.count_nonzero(~np.isnan(prev_aqi)) >= st.MIN_DAY_SHARE * len(prev_aqi):
            previous_days = _category_days(category_index(prev_aqi).astype(np.int8))
    return StationFindings(
        key=record.station_id,
        name=record.name,
        parameters=measured,
        category_days=_category_days(category),
        annual=tuple(annual),
        exceedances=tuple(exceedances),
        worst_days=_worst(aqi, dominant, days, record.station_id, record.name),
        monthly=monthly,
        previous_category_days=previous_days,
        comparable_category_days=None if previous_days is None else _category_days(category),
        station=record,
        active_days=int(np.count_nonzero(active_days)),
        completeness=tuple(completeness),
        gaps=tuple(gap_periods),
        daily_category=category,
        eligible_days=eligible_days,
        pm25_correction=record.pm25_correction,
        maxima=maxima,
        daily_pm25=daily_pm25,
    )


def _nanmax(values: st.FloatArray) -> float | None:
    return None if np.isnan(values).all() else float(np.nanmax(values))


def _mean_of_means(means: Sequence[st.PeriodMean]) -> tuple[st.PeriodMean, int]:
    values = [m.value for m in means if m.value is not None]
    total_days = sum(m.days for m in means)
    valid_days = sum(m.valid_days for m in means)
    if not values:
        return st.PeriodMean(None, valid_days, total_days), 0
    return st.PeriodMean(float(np.mean(values)), valid_days, total_days), len(values)


def _province(
    stations: Sequence[StationFindings], hourly: dict[str, st.FloatArray], data: YearData,
    grid: _Grid,
) -> Findings:
    """Province-wide findings over ``stations`` (eligible only); ``hourly`` by station id."""
    parameters = tuple(p for p in REPORT_PARAMETERS if any(p in s.parameters for s in stations))
    category_days = _sum_days([s.category_days for s in stations]) or CategoryDays(
        (0,) * len(VN_CATEGORIES), 0
    )
    previous_days = _sum_days([s.previous_category_days for s in stations])
    comparable_days = _sum_days(
        [s.category_days for s in stations if s.previous_category_days is not None]
    )

    annual, exceedances = [], []
    monthly: dict[str, list[st.PeriodMean]] = {}
    index = {sid: i for i, sid in enumerate(data.station_ids)}
    for parameter in parameters:
        having = [s for s in stations if parameter in s.parameters]
        means = [next(a for a in s.annual if a.parameter == parameter) for s in having]
        mean, used = _mean_of_means([a.mean for a in means])
        # like for like: both years over the stations with a mean in both; none → no
        # comparison (one year's stations against another's would compare places, not years)
        both = [a for a in means if a.previous is not None and a.previous.value is not None
                and a.mean.value is not None]
        previous = comparable = None
        if both:
            previous = _mean_of_means([a.previous for a in both if a.previous is not None])[0]
            comparable = _mean_of_means([a.mean for a in both])[0]
        annual.append(AnnualMean(parameter, mean, grid.annual_limits[parameter], previous,
                                 comparable, used))
        monthly[parameter] = [
            _mean_of_means([s.monthly[parameter][m] for s in having])[0] for m in range(12)
        ]
        p = data.parameters.index(parameter)
        for averaging in SHORT_TERM_PERIODS:
            day_limits = grid.day_limits.get((parameter, averaging))
            if day_limits is None:
                continue
            slot_limits = _slot_limits(averaging, day_limits)
            any_over = np.zeros(slot_limits.shape, dtype=bool)
            any_judged = np.zeros(slot_limits.shape, dtype=bool)
            any_active = np.zeros(slot_limits.shape, dtype=bool)
            for s in having:
                active = s.daily_category != INACTIVE
                if averaging == "1h":
                    active = np.repeat(active, st.HOURS_PER_DAY)
                values = _values_for(averaging, hourly[s.key][p])
                over, judged = st.exceedance_slots(np.where(active, values, np.nan), slot_limits)
                any_over |= over
                any_judged |= judged
                any_active |= active
            exceedances.append(Exceedance(
                parameter, averaging, limit_regimes(day_limits, grid.days),
                int(np.count_nonzero(any_over)), int(np.count_nonzero(any_judged)),
                int(np.count_nonzero(any_active)),
            ))  # fmt: skip

    all_worst = sorted(
        (w for s in stations for w in s.worst_days),
        key=lambda w: (-w.aqi, w.day, index[w.station_id]),
    )
    return Findings(
        key=PROVINCE_KEY,
        name=PROVINCE_KEY,
        parameters=parameters,
        category_days=category_days,
        annual=tuple(annual),
        exceedances=tuple(exceedances),
        worst_days=tuple(all_worst[:N_WORST_DAYS]),
        monthly=monthly,
        previous_category_days=previous_days,
        comparable_category_days=comparable_days,
    )


def _sum_days(days: Sequence[CategoryDays | None]) -> CategoryDays | None:
    present = [d for d in days if d is not None]
    if not present:
        return None
    return CategoryDays(
        counts=tuple(int(c) for c in np.sum([d.counts for d in present], axis=0)),
        without_aqi=sum(d.without_aqi for d in present),
    )


def stations_in_year(
    registry: Sequence[StationRecord], data: YearData
) -> list[tuple[int, StationRecord]]:
    """Stations the report covers: registry-active in the year, or with data in it."""
    by_id = {r.station_id: r for r in registry}
    chosen = []
    for s, station_id in enumerate(data.station_ids):
        record = by_id[station_id]
        first, last = data.days[0], data.days[-1]
        active = (record.installed_on is None or record.installed_on <= last) and (
            record.retired_on is None or record.retired_on >= first
        )
        has_data = (~np.isnan(data.hourly[s])).any() or (~np.isnan(data.aqi[s])).any()
        if active or has_data:
            chosen.append((s, record))
    return chosen


def assess(
    registry: Sequence[StationRecord],
    data: YearData,
    province: str,
    timezone_start_local: datetime,
    previous: YearData | None = None,
    on_station: Callable[[str], None] | None = None,
) -> AnnualAssessment:
    """All findings of the annual report for ``data.year``.

    Stations whose AQI may be published (stations/eligibility.py) on some day of the year
    are the report's stations; their data count only on those days, and only they enter
    the province's figures (VN_AQI days, means, QCVN compliance, worst days, episodes).
    The others are assessed on their own, as indicative concentrations (PM2.5 corrected
    where the registry names a correction), for the report's indicative annex.

    Parameters
    ----------
    registry : sequence of StationRecord
        The station registry (names, installed_on / retired_on, parameters, classes).
    data : YearData
        The report year; ``data.station_ids`` must all be in ``registry``.
    province : str
        Province name for the title page.
    timezone_start_local : datetime
        00:00 on 1 January in local time (to name gap hours in local time).
    previous : YearData, optional
        The year before, for comparisons where it has data.
    on_station : callable(str) -> None, optional
        Called after each station (progress reporting).
    """
    grid = _grid(data.year, data.days, timezone_start_local)
    prev_index = {sid: i for i, sid in enumerate(previous.station_ids)} if previous else {}
    findings: list[StationFindings] = []
    indicative: list[StationFindings] = []
    eligible_hourly: dict[str, st.FloatArray] = {}
    eligible_aqi: list[st.FloatArray] = []
    for s, record in stations_in_year(registry, data):
        eligible = record.publishable(data.days)
        hourly, aqi = data.hourly[s], data.aqi[s]
        prev = None
        if previous is not None and record.station_id in prev_index:
            i = prev_index[record.station_id]
            prev = _eligible_only(previous.hourly[i], previous.aqi[i],
                                  record.publishable(previous.days))
        if eligible.any():
            hourly, aqi = _eligible_only(hourly, aqi, eligible)
            found = _station(record, hourly, aqi, data.dominant[s], data, grid, prev,
                             int(np.count_nonzero(eligible)))
            findings.append(found)
            eligible_hourly[record.station_id] = hourly
            eligible_aqi.append(aqi)
        else:
            hourly, corrected, raw = _corrected_pm25(record, hourly, data.parameters)
            found = _station(record, hourly, aqi, data.dominant[s], data, grid, None)
            indicative.append(replace(found, pm25_corrected_hours=corrected,
                                      pm25_raw_hours=raw))
        if on_station is not None:
            on_station(record.station_id)
    aqi_grid = np.array(eligible_aqi).reshape(len(eligible_aqi), len(data.days))
    return AnnualAssessment(
        year=data.year,
        province=province,
        days=data.days,
        stations=tuple(findings),
        province_findings=_province(findings, eligible_hourly, data, grid),
        has_previous_year=previous is not None and previous.has_data,
        daily_limits=grid.day_limits,
        annual_limits=grid.annual_limits,
        indicative=tuple(indicative),
        episodes=episodes(aqi_grid, data.days, [f.name for f in findings]),
        serious_pollution=tuple(
            serious_pollution_check(a, data.days, f.key, f.name)
            for a, f in zip(eligible_aqi, findings, strict=True)
        ),
        previous_year=None if previous is None else previous.year,
    )


def _eligible_only(
    hourly: st.FloatArray, aqi: st.FloatArray, eligible: st.BoolArray
) -> tuple[st.FloatArray, st.FloatArray]:
    """The station's data on the days its AQI may be published; NaN on the others."""
    if eligible.all():
        return hourly, aqi
    return (np.where(np.repeat(eligible, st.HOURS_PER_DAY), hourly, np.nan),
            np.where(eligible, aqi, np.nan))


def _corrected_pm25(
    record: StationRecord, hourly: st.FloatArray, parameters: Sequence[str]
) -> tuple[st.FloatArray, int, int]:
    """The station's hourly data with PM2.5 corrected where its registry names a
    correction (stations/pm25_correction.py), and the hours corrected and left raw."""
    if record.pm25_correction is None or "pm25" not in parameters:
        return hourly, 0, 0
    pm25 = parameters.index("pm25")
    humidity = (hourly[parameters.index("humidity")] if "humidity" in parameters
                else np.full(hourly.shape[-1], np.nan))
    result = correct_pm25(record.pm25_correction, hourly[pm25], humidity)
    measured = ~np.isnan(hourly[pm25])
    corrected = hourly.copy()
    corrected[pm25] = result.value
    applied = int(np.count_nonzero(result.applied & measured))
    return corrected, applied, int(np.count_nonzero(measured)) - applied


def runs(flags: st.BoolArray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in ``flags``."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(int(a), int(b - a)) for a, b in zip(starts, ends, strict=True)]


def episodes(
    aqi: st.FloatArray, days: Sequence[date], names: Sequence[str]
) -> tuple[Episode, ...]:
    """Runs of consecutive days on which some station of ``aqi`` (stations × days) had a
    daily VN_AQI ≥ :data:`EPISODE_AQI`, longest first (then earliest)."""
    if aqi.size == 0:
        return ()
    bad = np.nan_to_num(aqi, nan=-1.0) >= EPISODE_AQI
    found = []
    for start, length in runs(np.asarray(bad.any(axis=0), dtype=bool)):
        window = np.nan_to_num(aqi[:, start:start + length], nan=-1.0)
        s, d = np.unravel_index(int(np.argmax(window)), window.shape)
        found.append(Episode(
            days[start], days[start + length - 1], length, int(window[s, d]), names[int(s)],
            int(np.count_nonzero(bad[:, start:start + length].any(axis=1))),
        ))  # fmt: skip
    return tuple(sorted(found, key=lambda e: (-e.days, e.first_day)))


def serious_pollution_check(
    aqi: st.FloatArray, days: Sequence[date], station_id: str, name: str
) -> SeriousPollutionCheck:
    """Decree 08/2022 Art. 10 for one station: its longest run of days with VN_AQI ≥ 301."""
    found = runs(np.asarray(np.nan_to_num(aqi, nan=-1.0) >= SERIOUS_AQI, dtype=bool))
    if not found:
        return SeriousPollutionCheck(station_id, name, 0, None)
    start, length = max(found, key=lambda r: (r[1], -r[0]))
    return SeriousPollutionCheck(station_id, name, length, days[start])
