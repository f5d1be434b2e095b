"""The clock check alone: which arrival patterns flag a station, which do not."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, Gauge

from ingest.clock import ClockWatch, watch
from ingest.model import RawReading

START = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
SEVEN_HOURS = 7 * 3600


def feed(
    clock: ClockWatch, station: str, minutes: range, offset_s: float, delay_s: float = 20
) -> list[bool]:
    """A station sending every 5 minutes, its stamps ``offset_s`` behind; suspect after each."""
    states = []
    for minute in minutes:
        received = START + timedelta(minutes=minute)
        ts = received - timedelta(seconds=offset_s + delay_s)
        state = clock.observe(station, received, [ts, ts])
        assert state is not None
        states.append(state.suspect)
    return states


def test_a_clock_seven_hours_behind_is_flagged_after_an_hour_of_arrivals() -> None:
    clock = ClockWatch()
    states = feed(clock, "BN-01", range(0, 120, 5), SEVEN_HOURS)
    # 6 ten-minute windows are needed: the 11th message (minute 50) opens the sixth
    assert states.index(True) == 10 and all(states[10:])
    state = clock.observe("BN-01", START + timedelta(hours=2), [START + timedelta(hours=-5)])
    assert state is not None and state.offset_s == pytest.approx(SEVEN_HOURS + 20, abs=1)


def test_stamps_hours_ahead_are_flagged_with_a_negative_offset() -> None:
    clock = ClockWatch()
    assert feed(clock, "BN-01", range(0, 120, 5), -SEVEN_HOURS)[-1]
    state = clock.observe("BN-01", START + timedelta(hours=2), [START + timedelta(hours=9)])
    assert state is not None and state.offset_s < -6 * 3600


def test_a_right_clock_with_ordinary_delays_is_never_flagged() -> None:
    clock = ClockWatch()
    assert not any(feed(clock, "BN-01", range(0, 24 * 60, 5), 0, delay_s=240))


def test_a_drained_backlog_is_late_data_not_a_wrong_clock() -> None:
    clock = ClockWatch()
    feed(clock, "BN-01", range(0, 60, 5), 0)
    # two days of files drained oldest first within three minutes, then live data again
    received = START + timedelta(minutes=61)
    for i in range(2 * 24 * 12):
        ts = received - timedelta(days=2) + timedelta(minutes=5 * i)
        at = received + timedelta(seconds=i * 180 / 576)
        state = clock.observe("BN-01", at, [ts])
        assert state is not None and not state.suspect
    assert not any(feed(clock, "BN-01", range(65, 240, 5), 0))


def test_one_glitching_timestamp_does_not_flag_a_station() -> None:
    clock = ClockWatch()
    feed(clock, "BN-01", range(0, 60, 5), 0)
    glitch = clock.observe("BN-01", START + timedelta(minutes=61), [START + timedelta(days=3)])
    assert glitch is not None and not glitch.suspect
    assert not any(feed(clock, "BN-01", range(65, 180, 5), 0))


def test_stations_are_watched_apart_and_only_registered_ones() -> None:
    clock = ClockWatch()
    feed(clock, "BN-01", range(0, 120, 5), SEVEN_HOURS)
    assert not any(feed(clock, "BN-02", range(0, 120, 5), 0))
    assert clock.observe_message("ZZ", START, [(None, START)], {"BN-01": object()}) is None
    # readings naming another station are not this station's clock
    state = clock.observe_message(
        "BN-02", START + timedelta(hours=3), [("BN-01", START), (None, START + timedelta(hours=3))],
        {"BN-02": object()},
    )  # fmt: skip
    assert state is not None and abs(state.offset_s) < 60


def test_watch_sets_the_gauge_and_warns_once_then_notes_the_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gauge = Gauge("offset", "test", ["station"], registry=CollectorRegistry())
    clock = ClockWatch()
    caplog.set_level(logging.INFO, logger="aqm.ingest.clock")

    def send(minute: int, offset_s: float) -> None:
        received = START + timedelta(minutes=minute)
        reading = RawReading(
            None, "pm25", 1.0, None, received - timedelta(seconds=offset_s), "00", 0
        )
        watch(clock, gauge, "BN-01", received, [reading], {"BN-01": object()}, "Asia/Ho_Chi_Minh")

    for minute in range(0, 120, 5):
        send(minute, SEVEN_HOURS)
    assert gauge.labels(station="BN-01")._value.get() == pytest.approx(SEVEN_HOURS)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "BN-01" in text and "7.0 h" in text and "Asia/Ho_Chi_Minh" in text
    for minute in range(120, 300, 5):  # the clock is set right
        send(minute, 30)
    assert gauge.labels(station="BN-01")._value.get() == pytest.approx(30)
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.INFO]
    assert "on time again" in caplog.records[-1].getMessage()
