"""``aqm simulate``: publish realistic readings for the catalogue's stations, or replay a
real hourly PM2.5 series as one station, to the MQTT broker ingest listens to."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:

    from aqm_core.settings import MqttEndpoint, Settings
    from ingest.topics import TopicLayout

from aqm.cli import CliError

if TYPE_CHECKING:
    from stations.catalogue import Catalogue, Station
    from stations.publisher import Login, PublishReport
    from stations.simulator import Publication

DEFAULT_HISTORY = "-3h"
DEFAULT_SPEEDUP = 60.0
_SPAN = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "simulate",
        help="publish realistic station readings (or replay a real series) to the broker",
        description=(
            "Publish readings for the active stations of the catalogue: diurnal cycles with "
            "rush-hour NO2 peaks, PM2.5 < PM10 moving together, a winter-high season as in "
            "northern Vietnam, gaps, calibration (01) and fault (02) statuses and clock skew, "
            "in any of the three payload formats. Time runs from --start (default "
            f"{DEFAULT_HISTORY}: three hours ago) at --speedup simulated seconds per wall "
            "second until it reaches now, then live at real time, until --end, --duration "
            "or Ctrl-C; no timestamp is ever sent ahead of the real clock (beyond a station's "
            "clock skew). A start in the past and an end at or before now publishes that "
            "history and exits. --replay sends a StateAir hourly PM2.5 file as one station. "
            "Details: docs/stations.md."
        ),
        epilog=(
            "examples: aqm simulate --start -6h --speedup 60   (six hours in six minutes, "
            "then live);  aqm simulate --start -1d --end now --speedup 1440   (a day in a "
            "minute);  aqm simulate --start 2025-01-01 --end 2025-02-01 --speedup 0 "
            "--format mixed   (a month, as fast as the broker takes it)"
        ),
    )
    parser.add_argument("--file", type=Path, help="station catalogue; default AQM_STATIONS_FILE")
    parser.add_argument("--stations", nargs="+", metavar="ID",
                        help="only these active stations (default: every active station)")
    when = parser.add_argument_group("time")
    when.add_argument("--start", default=None, metavar="WHEN",
                      help="first sample: 'now', relative ('-24h', '-2d', '-90m') or a local "
                           "date/time ('2025-01-01', '2025-01-01T07:00'); "
                           f"default {DEFAULT_HISTORY}")
    ends = when.add_mutually_exclusive_group()
    ends.add_argument("--end", metavar="WHEN",
                      help="stop before this time (same forms as --start, '+2h' too); "
                           "default: never")
    ends.add_argument("--duration", metavar="SPAN", help="stop after this span ('1d', '6h')")
    ends.add_argument("--follow", action="store_true",
                      help="after catching up with now, keep publishing live until Ctrl-C "
                           "(the default without --end or --duration)")
    when.add_argument("--interval-s", type=int, metavar="S",
                      help="seconds between samples; default each station's report_interval_s")
    when.add_argument("--speedup", type=float, default=DEFAULT_SPEEDUP, metavar="X",
                      help="simulated seconds per wall second while behind real time "
                           f"(default {DEFAULT_SPEEDUP:g}; 0: as fast as possible)")
    when.add_argument("--rate", type=float, metavar="MSG_PER_S",
                      help="at most this many messages per second")
    shape = parser.add_argument_group("what the stations send")
    shape.add_argument("--format", default="aqm_json",
                       choices=["aqm_json", "tt10_text", "senml", "mixed"],
                       help="payload format; mixed: each station its own (default aqm_json)")
    shape.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    shape.add_argument("--gap-rate", type=float, default=0.02, metavar="R",
                       help="share of samples never sent (default 0.02)")
    shape.add_argument("--calibration-rate", type=float, default=0.01, metavar="R",
                       help="share of samples with status 01 (default 0.01)")
    shape.add_argument("--fault-rate", type=float, default=0.005, metavar="R",
                       help="share of samples with status 02 (default 0.005)")
    shape.add_argument("--max-clock-skew-s", type=int, default=90, metavar="S",
                       help="station clocks are off by up to this much (default 90, max 240)")
    replay = parser.add_argument_group("replay of a real series")
    replay.add_argument("--replay", type=Path, metavar="CSV",
                        help="a StateAir hourly PM2.5 file (../shared/data/stateair_*.csv)")
    replay.add_argument("--station", metavar="ID",
                        help="the station the replayed series is sent as")
    replay.add_argument("--recent", action="store_true",
                        help="shift the series by whole weeks so it ends within the past week "
                             "(ingest refuses readings older than AQM_PAST_HORIZON_DAYS)")
    broker = parser.add_argument_group("broker")
    broker.add_argument("--mqtt-url", help="override AQM_MQTT_URL (mqtt:// or mqtts://)")
    broker.add_argument("--username", help="log in as this user (overrides AQM_MQTT_URL)")
    broker.add_argument("--password", help="password for --username")
    broker.add_argument("--secrets", type=Path, metavar="SECRETS.yaml",
                        help="log each station in as itself with its password from this file "
                             "(needed once the broker's ACL is on)")
    parser.add_argument("--print", dest="print_only", action="store_true",
                        help="write topic and payload of each message to standard output "
                             "instead of publishing")
    # argparse takes "-24h" for an option; let relative times pass as values, as it does
    # for negative numbers ("now-24h" and "--start=-24h" work without this).
    parser._negative_number_matcher = re.compile(r"^-\d+(?:\.\d+)?[smhdw]?$")
    parser.set_defaults(handler=_simulate)


def parse_when(text: str, now: datetime, local_tz: tzinfo) -> datetime:
    """'now', '-24h'/'+2h', or a local ISO date or date-time (an offset in it is kept).

    Raises ValueError for anything else, and for times outside the years 1-9999.
    """
    text = text.strip()
    if text == "now":
        return now
    text = text.removeprefix("now")
    if text[:1] in "+-":
        span = parse_span(text[1:])
        try:
            return now + span if text[0] == "+" else now - span
        except OverflowError:
            raise ValueError(f"{text!r} reaches beyond the years 1-9999") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not 'now', '-24h' or a date/time like "
                         "2025-01-01T07:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 in a zone east of UTC is in year 0
        raise ValueError(f"{text!r} in UTC is outside the years 1-9999") from None


def parse_span(text: str) -> timedelta:
    """'90m', '6h', '2d', '1w'; ValueError for anything else or a span over 999,999,999 days."""
    match = _SPAN.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a span like 90m, 6h, 2d, 1w")
    try:
        return timedelta(seconds=float(match["number"]) * _UNIT_SECONDS[match["unit"]])
    except OverflowError:
        raise ValueError(f"{text!r} is too long a span") from None


def _settings(args: argparse.Namespace) -> Settings:
    from aqm_core.settings import load_settings

    return load_settings(options={"mqtt_url": ("--mqtt-url", args.mqtt_url)})


def _load_catalogue(path: Path) -> Catalogue:
    from stations.catalogue import CatalogueError, load_catalogue

    try:
        return load_catalogue(path)
    except CatalogueError as exc:
        raise CliError(f"{path}: {len(exc.problems)} problem(s); run `aqm stations validate "
                       f"{path}`\n{exc}") from exc


def _time_range(
    args: argparse.Namespace, now: datetime, local_tz: tzinfo, replaying: bool
) -> tuple[datetime | None, datetime | None]:
    start_text = args.start or (None if replaying else DEFAULT_HISTORY)
    option = "--start"
    try:
        start = parse_when(start_text, now, local_tz) if start_text else None
        option = "--end"
        end = parse_when(args.end, now, local_tz) if args.end else None
        if args.duration:
            option = "--duration"
            if start is None:
                raise ValueError("needs --start")
            try:
                end = start + parse_span(args.duration)
            except OverflowError:
                raise ValueError(f"{args.duration!r} after --start reaches beyond the year "
                                 "9999") from None
    except ValueError as exc:
        raise CliError(f"{option}: {exc}") from exc
    if start is not None and end is not None and end <= start:
        raise CliError(f"--end {end.astimezone(local_tz):%Y-%m-%d %H:%M} is not after --start "
                       f"{start.astimezone(local_tz):%Y-%m-%d %H:%M}")
    return start, end


def _publications(
    args: argparse.Namespace, settings: Settings, now: datetime, local_tz: tzinfo
) -> tuple[Iterator[Publication], datetime | None, datetime | None, list[str]]:
    from ingest.topics import TopicLayout
    from stations.simulator import Realism, generate

    topics = TopicLayout(settings.topic_prefix)
    catalogue = _load_catalogue(args.file or settings.stations_file)
    active = {s.station_id: s for s in catalogue.active()}
    if args.replay is not None:
        return _replay(args, catalogue.path, active, topics, now, local_tz)
    if args.station:
        raise CliError("--station goes with --replay; use --stations to choose stations")
    if args.stations:
        unknown = [sid for sid in args.stations if sid not in active]
        if unknown:
            raise CliError(f"{catalogue.path}: no active station {', '.join(unknown)} "
                           f"(active: {', '.join(active)})")
        chosen = [active[sid] for sid in args.stations]
    else:
        chosen = list(active.values())
    if args.interval_s is not None and not 1 <= args.interval_s <= 86400:
        raise CliError(f"--interval-s {args.interval_s}: must be 1..86400 seconds")
    try:
        realism = Realism(gap_rate=args.gap_rate, calibration_rate=args.calibration_rate,
                          fault_rate=args.fault_rate, max_clock_skew_s=args.max_clock_skew_s)
    except ValueError as exc:
        raise CliError(str(exc).replace("_", "-").replace("max-clock", "--max-clock")) from exc
    start, end = _time_range(args, now, local_tz, replaying=False)
    assert start is not None
    stream = generate(chosen, start, end, args.interval_s, args.format, args.seed,
                      realism=realism, topics=topics, local_tz=local_tz)
    return stream, start, end, [s.station_id for s in chosen]


def _replay(
    args: argparse.Namespace,
    catalogue_path: Path,
    active: dict[str, Station],
    topics: TopicLayout,
    now: datetime,
    local_tz: tzinfo,
) -> tuple[Iterator[Publication], datetime | None, datetime | None, list[str]]:
    from stations.stateair_replay import read_stateair, replay, shift_to_recent

    if not args.station:
        raise CliError("--replay needs --station ID: the station the series is sent as")
    if args.station not in active:
        raise CliError(f"{catalogue_path}: no active station {args.station!r} "
                       f"(active: {', '.join(active)})")
    if args.format == "mixed":
        raise CliError("--format mixed needs several stations; a replay is one station")
    values = read_stateair(args.replay)
    if not values:
        raise CliError(f"{args.replay}: no usable hourly value")
    shift = shift_to_recent(values, now) if args.recent else timedelta(0)
    start, end = _time_range(args, now, local_tz, replaying=True)
    first = min(v.hour for v in values) + shift
    last = max(v.hour for v in values) + shift
    start = max(start, first) if start else first
    end = min(end, last + timedelta(hours=1)) if end else last + timedelta(hours=1)
    if shift:
        print(f"{args.replay}: shifted by {shift.days} days to end on "
              f"{last.astimezone(local_tz):%Y-%m-%d %H:%M}", file=sys.stderr)
    stream = replay(values, args.station, args.format, shift=shift, start=start, end=end,
                    topics=topics, local_tz=local_tz)
    return stream, start, end, [args.station]


def _logins(args: argparse.Namespace, endpoint: MqttEndpoint,
            station_ids: list[str]) -> tuple[Login, dict[str, Login]]:
    from stations.broker_secrets import load_secrets
    from stations.publisher import Login

    if args.password and not args.username:
        raise CliError("--password needs --username")
    if args.secrets and args.username:
        raise CliError("give either --secrets (each station as itself) or --username")
    default = (Login(args.username, args.password) if args.username
               else Login(endpoint.username, endpoint.password))
    if not args.secrets:
        return default, {}
    secrets = load_secrets(args.secrets)
    missing = [sid for sid in station_ids if sid not in secrets]
    if missing:
        raise CliError(f"{args.secrets}: no password for {', '.join(missing)}; run "
                       "`aqm stations credentials` and append what it prints")
    return default, {sid: Login(sid, secrets[sid]) for sid in station_ids}


def _simulate(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from stations.publisher import Broker, PublishReport, publish

    if not math.isfinite(args.speedup) or args.speedup < 0:
        raise CliError(f"--speedup {args.speedup}: must be a positive number "
                       "(0: as fast as possible)")
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate > 0):
        raise CliError(f"--rate {args.rate}: must be a positive number")
    settings = _settings(args)
    local_tz = ZoneInfo(settings.timezone)
    now = datetime.now(UTC)
    stream, start, end, station_ids = _publications(args, settings, now, local_tz)

    if args.print_only:
        count = 0
        try:
            for publication in stream:
                if end is None and publication.measured_at > now:
                    break  # a live run has no end; printing stops at the present
                print(publication.topic)
                print(publication.payload.decode())
                count += 1
        except BrokenPipeError:
            pass
        print(f"{count} messages", file=sys.stderr)
        return 0

    endpoint = settings.mqtt
    default_login, logins = _logins(args, endpoint, station_ids)
    broker = Broker(endpoint.host, endpoint.port, endpoint.tls, settings.mqtt_ca_file,
                    settings.mqtt_protocol)
    report = PublishReport()
    console = Console(stderr=True)
    what = f"{len(station_ids)} station{'s' if len(station_ids) != 1 else ''}"
    span = (f"{_local(start, local_tz)} → {_local(end, local_tz) if end else 'live, until Ctrl-C'}")
    pace = f"speed-up {args.speedup:g}" if args.speedup else "as fast as possible"
    console.print(f"simulating {what} ({', '.join(station_ids)}) to "
                  f"{endpoint.host}:{endpoint.port}, {span}, {pace}")
    columns = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[status]}"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        total = (end - start).total_seconds() if start and end else None
        task = progress.add_task("simulated time", total=total, status="connecting…")

        def on_sent(publication: Publication, current: PublishReport) -> None:
            sim = publication.measured_at
            live = " (live)" if (datetime.now(UTC) - sim).total_seconds() < 600 else ""
            progress.update(
                task,
                completed=(sim - start).total_seconds() if start else 0,
                status=f"{_local(sim, local_tz)}{live} · {current.messages} messages, "
                       f"{current.readings} readings",
            )

        publish(stream, broker, login=default_login, logins=logins,
                speedup=args.speedup or None, rate=args.rate, report=report,
                on_sent=on_sent)
        if not report.interrupted and total is not None:
            progress.update(task, completed=total)
    summary = (f"{report.messages} messages, {report.readings} readings published"
               f"{'; interrupted' if report.interrupted else ''}")
    if report.unacknowledged:
        summary += f"; {report.unacknowledged} not acknowledged by the broker"
    if report.refused:
        summary += (f"; {report.refused} refused by the broker (not authorised? use "
                    "--secrets or --username)")
    print(summary, file=sys.stderr)
    if report.refused:
        return 1
    return 130 if report.interrupted else 0


def _local(moment: datetime | None, local_tz: tzinfo) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(local_tz).strftime("%Y-%m-%d %H:%M")
