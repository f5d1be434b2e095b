"""Missing samples: which of a station's expected sample times have no stored reading.

Pure functions, arrays in and arrays out; the SQL that feeds them is in
:mod:`storage.gaps`, the command in ``aqm/commands/gaps.py``. The rule
(docs/reliability.md, "Gap detection"):

* **Expected slots.** A station reports every ``stations.report_interval_s`` seconds
  (the catalogue; it divides the hour, ``docs/stations.md``). Its samples are expected at
  the multiples of the interval since 1970-01-01 00:00 UTC — the times the simulator
  and the dataloggers use (:00, :05, … for 5 minutes), which in a whole-hour zone such as
  Asia/Ho_Chi_Minh are the same local clock times — from ``installed_on`` (00:00 local)
  to ``retired_on`` (00:00 local, exclusive: the day a station stops is not expected in
  full). A :class:`Schedule` may hold several periods with their own interval, so an
  interval change splits the expectation at the change.
* **Clock jitter.** A reading counts for the slot nearest its measurement time when it
  lies within half an interval of it (``|t − slot| ≤ interval / 2``; a reading exactly
  half-way counts for the earlier slot). A reading far from every slot is ignored;
  several readings near one slot fill it once.
* **Per parameter.** Each parameter the station measures is decided on its own (a
  station may lose one instrument and keep the others). Presence only: a reading's
  status code does not matter (a status-01 reading was delivered; QA/QC is another
  question).
* **Gap periods.** Consecutive missing slots with the *same set* of missing parameters
  form one period: ``start`` and ``end`` are its first and last missing slot (both
  inclusive, the sample times to ask the vendor for), ``missing`` the number of slots,
  ``parameters`` a bit mask of the parameters missing at every one of them. So each
  missing (slot, parameter) lies in exactly one period, and a full outage is one
  period naming every parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

US_PER_S = 1_000_000
MAX_PARAMETERS = 62
"""Parameters per station a bit mask (int64) can name; aqm knows 13."""

TimeArray = npt.NDArray[np.datetime64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _us(times: npt.ArrayLike) -> IntArray:
    """Microseconds since the Unix epoch of datetime64 values (any unit)."""
    return np.asarray(times, dtype="datetime64[us]").astype(np.int64)


def _datetimes(us: IntArray) -> TimeArray:
    return us.astype("datetime64[us]")


@dataclass(frozen=True)
class Schedule:
    """When one station should report: half-open periods ``[start, end)``, each with its
    report interval in seconds. Periods are sorted and do not overlap."""

    starts: TimeArray
    ends: TimeArray
    intervals_s: IntArray

    def __post_init__(self) -> None:
        starts, ends, intervals = _us(self.starts), _us(self.ends), np.asarray(self.intervals_s)
        if not starts.shape == ends.shape == intervals.shape or starts.ndim != 1:
            raise ValueError("starts, ends and intervals_s must be 1-d arrays of one length")
        if (intervals < 1).any():
            raise ValueError("report intervals must be at least 1 s")
        if (ends < starts).any() or (starts[1:] < ends[:-1]).any():
            raise ValueError("schedule periods must be sorted and must not overlap")

    @classmethod
    def single(cls, start: np.datetime64, end: np.datetime64, interval_s: int) -> Schedule:
        """One period with one interval (empty when ``end <= start``)."""
        end = max(end, start)
        return cls(
            np.array([start], dtype="datetime64[us]"),
            np.array([end], dtype="datetime64[us]"),
            np.array([interval_s], dtype=np.int64),
        )


def expected_slots(schedule: Schedule) -> tuple[TimeArray, IntArray]:
    """The expected sample times of ``schedule`` (sorted) and each one's interval (s).

    Slots are the multiples of the period's interval since the epoch that fall in
    ``[start, end)``.
    """
    starts, ends = _us(schedule.starts), _us(schedule.ends)
    step = np.asarray(schedule.intervals_s, dtype=np.int64) * US_PER_S
    first = -(-starts // step) * step  # ceil to a multiple of the interval
    counts = np.maximum(0, (ends - first + step - 1) // step)
    total = int(counts.sum())
    # One arange over all periods: each slot's offset inside its period times its step.
    period = np.repeat(np.arange(len(counts)), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    slots = first[period] + offset * step[period]
    return _datetimes(slots), step[period] // US_PER_S


def slot_presence(slots: TimeArray, intervals_s: IntArray, times: TimeArray) -> BoolArray:
    """For each slot, whether some time in ``times`` counts for it (the jitter rule of
    the module docstring). ``slots`` must be sorted; ``times`` need not be."""
    s = _us(slots)
    t = _us(times)
    present = np.zeros(len(s), dtype=np.bool_)
    if not len(s) or not len(t):
        return present
    right = np.searchsorted(s, t, side="left")  # s[right - 1] < t <= s[right]
    left = np.clip(right - 1, 0, len(s) - 1)
    right = np.clip(right, 0, len(s) - 1)
    use_left = (t - s[left]) <= (s[right] - t)  # nearer slot; half-way goes to the earlier
    use_left |= s[right] < t  # beyond the last slot
    use_left &= s[left] <= t  # before the first slot
    nearest = np.where(use_left, left, right)
    # |t - slot| <= interval / 2, in integers: 2 |t - slot| <= interval
    within = 2 * np.abs(t - s[nearest]) <= np.asarray(intervals_s)[nearest] * US_PER_S
    present[nearest[within]] = True
    return present


@dataclass(frozen=True)
class Gaps:
    """Gap periods of one station (module docstring), in time order."""

    start: TimeArray  # first missing slot
    end: TimeArray  # last missing slot (inclusive)
    missing: IntArray  # slots in the period, each missing every parameter of the mask
    parameters: IntArray  # bit p set: parameter p is missing throughout the period
    expected: int  # slots expected in the whole schedule, per parameter
    missing_by_parameter: IntArray  # missing slots of each parameter in the schedule

    def __len__(self) -> int:
        return len(self.start)


def parameters_of(mask: int, names: tuple[str, ...] | list[str]) -> list[str]:
    """The names whose bit is set in ``mask`` (a value of :attr:`Gaps.parameters`)."""
    return [name for bit, name in enumerate(names) if mask >> bit & 1]


def missing_matrix(
    slots: TimeArray,
    intervals_s: IntArray,
    times: TimeArray,
    parameter: npt.NDArray[np.integer],
    n_parameters: int,
) -> BoolArray:
    """``(n_parameters, len(slots))``: True where that parameter has no reading for
    that slot. ``times[i]`` is a measurement time of parameter ``parameter[i]``."""
    parameter = np.asarray(parameter)
    missing = np.ones((n_parameters, len(slots)), dtype=np.bool_)
    if len(parameter) and ((parameter < 0) | (parameter >= n_parameters)).any():
        raise ValueError(f"parameter indices must lie in 0 … {n_parameters - 1}")
    times = np.asarray(times, dtype="datetime64[us]")
    # One presence pass over all parameters: offset each parameter onto its own copy of
    # the slot axis, far enough apart that no jitter window reaches the next copy.
    if not len(slots) or not len(times):
        return missing
    s = _us(slots)
    reach = int(np.max(intervals_s)) * US_PER_S
    t = _us(times)
    near = (t >= s[0] - reach) & (t <= s[-1] + reach)  # others count for no slot
    span = int(s[-1] - s[0]) + 2 * reach + 1
    shifted_slots = (s[None, :] + span * np.arange(n_parameters)[:, None]).reshape(-1)
    shifted_times = t[near] + span * parameter[near].astype(np.int64)
    present = slot_presence(
        _datetimes(shifted_slots), np.tile(np.asarray(intervals_s), n_parameters),
        _datetimes(shifted_times),
    )  # fmt: skip
    return ~present.reshape(n_parameters, len(slots))


def gap_periods(slots: TimeArray, missing: BoolArray) -> Gaps:
    """Merge a :func:`missing_matrix` into gap periods (module docstring)."""
    n_parameters, n_slots = missing.shape
    if n_parameters > MAX_PARAMETERS:
        raise ValueError(f"at most {MAX_PARAMETERS} parameters per station")
    bits = np.left_shift(np.int64(1), np.arange(n_parameters, dtype=np.int64))
    code = (missing.astype(np.int64) * bits[:, None]).sum(axis=0, dtype=np.int64)
    change = np.flatnonzero(code[1:] != code[:-1]) + 1
    first = np.concatenate(([0], change)) if n_slots else np.empty(0, np.int64)
    last = np.concatenate((change, [n_slots])) - 1 if n_slots else np.empty(0, np.int64)
    keep = code[first] != 0
    first, last = first[keep], last[keep]
    slots_us = _us(slots)
    return Gaps(
        start=_datetimes(slots_us[first]),
        end=_datetimes(slots_us[last]),
        missing=(last - first + 1).astype(np.int64),
        parameters=code[first],
        expected=n_slots,
        missing_by_parameter=missing.sum(axis=1).astype(np.int64),
    )


def find_gaps(
    schedule: Schedule,
    times: TimeArray,
    parameter: npt.NDArray[np.integer],
    n_parameters: int,
) -> Gaps:
    """Gap periods of one station: its :class:`Schedule`, the measurement times of its
    stored readings (``times[i]`` of parameter number ``parameter[i]``, any order, any
    status) and the number of parameters it measures. See the module docstring."""
    slots, intervals = expected_slots(schedule)
    return gap_periods(slots, missing_matrix(slots, intervals, times, parameter, n_parameters))
