"""``aqm stations``: validate the station catalogue, copy it into the database, list the
registered stations, and write the broker's password file and ACL for them."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from aqm_core.settings import Settings

from aqm.cli import CliError
from aqm.commands.db import connect, settings_with_database_url

if TYPE_CHECKING:
    from stations.catalogue import Catalogue

CATALOGUE_HELP = "station catalogue (YAML); default AQM_STATIONS_FILE"
TYPE_LABELS = {"fixed_automatic": "automatic", "mobile": "mobile", "low_cost_sensor": "low-cost"}


def _catalogue_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path, metavar="FILE", help=CATALOGUE_HELP)
    # --file FILE, as `aqm simulate` spells it, is accepted too.
    parser.add_argument("--file", dest="file_option", type=Path, help=argparse.SUPPRESS)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "stations",
        help="station catalogue, registry and broker credentials",
        description=(
            "The station catalogue (a YAML file, AQM_STATIONS_FILE; format in "
            "docs/stations.md) is the source of truth for which stations exist. These "
            "actions validate it, copy it into the stations table, list what is registered, "
            "and derive the MQTT broker's password file and ACL from it."
        ),
    )
    actions = group.add_subparsers(dest="stations_command", metavar="ACTION", required=True)

    validate = actions.add_parser(
        "validate",
        aliases=["check"],
        help="validate the catalogue without touching anything",
        description=(
            "Read the catalogue and report every problem with its file and line: unknown "
            "fields, parameter names that are not canonical, repeated ids, coordinates "
            "outside Vietnam, a public AQI on a reference station (Circular 10/2021 "
            "Art. 29-31) or without PM2.5/PM10 (Decision 1459), report intervals that do "
            "not divide the hour. Exit status 0 when the catalogue is usable, 2 otherwise."
        ),
    )
    _catalogue_argument(validate)
    validate.set_defaults(handler=_check)

    sync = actions.add_parser(
        "sync",
        help="make the stations table match the catalogue",
        description=(
            "Insert new stations and update changed ones in one transaction; unchanged rows "
            "keep their updated_at. Stations in the database but not in the catalogue are "
            "kept and reported; --prune deletes them, but never a station with stored data "
            "(mark it status: retired in the catalogue instead, so its history stays). Needs "
            "a connection that may write the stations table (the migration owner, "
            "AQM_DATABASE_URL)."
        ),
    )
    _catalogue_argument(sync)
    sync.add_argument("--database-url", help="override AQM_DATABASE_URL")
    sync.add_argument("--dry-run", action="store_true",
                      help="show what would change, write nothing")
    sync.add_argument("--prune", action="store_true",
                      help="delete stations missing from the catalogue (only if they have no data)")
    sync.set_defaults(handler=_sync)

    listing = actions.add_parser(
        "list",
        help="registered stations and their newest reading",
        description=(
            "Show the stations table with each station's newest reading, in local time "
            "(AQM_TIMEZONE), and how long ago it was measured. Read-only; the aqm_reader "
            "role is enough."
        ),
    )
    listing.add_argument("--database-url", help="override AQM_DATABASE_URL")
    listing.set_defaults(handler=_list)

    credentials = actions.add_parser(
        "credentials",
        help="write the Mosquitto password file and ACL for the catalogue into a folder",
        description=(
            "Write DIR/passwd (Mosquitto 2 password file, hashed) and DIR/acl, both mode "
            "0600 (provisioning/mosquitto/mosquitto.conf reads them as /mosquitto/config/secrets/"
            "passwd and …/acl). Every active station gets a broker user "
            "named by its id that may publish only on its own readings topic "
            "(<AQM_TOPIC_PREFIX>/<id>/readings); each "
            "ingest user may only read the readings topics. The broker takes each login as "
            "its client id, so every ingest instance needs a user of its own (repeat "
            "--ingest-user). A password comes from --secrets "
            "when the file lists the user; otherwise a stored hash in DIR/passwd is kept, "
            "and new users (or those named by --rotate) get a random password, printed once "
            "on standard output as secrets-file lines ('<user>: \"<password>\"'), to be "
            "appended to the secrets file; only the hash is stored. Retired stations and "
            "users the catalogue no longer names are removed. DIR must not be a folder git "
            "would commit. Files are replaced atomically; send SIGHUP to mosquitto to reload. "
            "DIR/ftp-users gets the FTP accounts of `aqm ftp`: every active station, with "
            "its broker password."
        ),
    )
    _catalogue_argument(credentials)
    credentials.add_argument("--out", type=Path, required=True, metavar="DIR",
                             help="folder to write passwd and acl into, outside the "
                                  "repository or git-ignored (e.g. secrets/mosquitto)")
    credentials.add_argument("--secrets", type=Path, metavar="SECRETS.yaml",
                             help="YAML mapping username: password for users whose password "
                                  "is chosen outside aqm")
    credentials.add_argument("--ingest-user", action="append", metavar="NAME",
                             help="broker user of an ingest instance; repeat it for each "
                                  "instance, since the broker takes the user as client id "
                                  "(default: the user in AQM_MQTT_URL, else aqm-ingest)")
    credentials.add_argument("--rotate", action="append", default=[], metavar="USER",
                             help="give this station (or the ingest user) a new random "
                                  "password (repeatable)")
    credentials.set_defaults(handler=_credentials)


def _catalogue_path(args: argparse.Namespace, settings: Settings | None = None) -> Path:
    from aqm_core.settings import load_settings

    if args.file is not None and args.file_option is not None:
        raise CliError("give the catalogue once: FILE or --file FILE, not both")
    chosen = args.file if args.file is not None else args.file_option
    if chosen is not None:
        return Path(chosen)
    return (settings or load_settings()).stations_file


def load_checked_catalogue(path: Path) -> Catalogue:
    """The catalogue at ``path``; its problems, by line, are a :class:`CliError`."""
    from stations.catalogue import CatalogueError, load_catalogue

    try:
        return load_catalogue(path)
    except CatalogueError as exc:
        count = len(exc.problems)
        raise CliError(
            f"{path}: {count} problem{'s' if count != 1 else ''}\n{exc}"
        ) from exc


def _where(url: str) -> str:
    """The database a URL points at, without its password."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured database"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _console() -> Console:
    # Piped output would be squeezed into rich's default 80 columns.
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=140)


def _check(args: argparse.Namespace) -> int:
    from rich.table import Table

    path = _catalogue_path(args)
    catalogue = load_checked_catalogue(path)
    table = Table(title=f"{path}" + (f" — {catalogue.province}" if catalogue.province else ""))
    table.add_column("station", no_wrap=True)
    for column in ("name", "type", "status", "public AQI", "every", "measures"):
        table.add_column(column)
    for s in catalogue:
        table.add_row(s.station_id, s.name, TYPE_LABELS[s.station_type], s.status,
                      "yes" if s.public_aqi else "no", f"{s.report_interval_s} s",
                      _measures(s.parameters))
    _console().print(table)
    print(f"{path}: {len(catalogue)} stations ({len(catalogue.active())} active), no problems")
    return 0


def _measures(parameters: tuple[str, ...]) -> str:
    from aqm_core.parameters import PARAMETERS

    pollutants = [p for p in parameters if PARAMETERS[p].is_pollutant]
    weather = len(parameters) - len(pollutants)
    return " ".join(pollutants) + (f" +{weather} weather" if weather else "")


def _sync(args: argparse.Namespace) -> int:
    import psycopg

    from stations.registry import sync_catalogue

    settings = settings_with_database_url(args.database_url)
    catalogue = load_checked_catalogue(_catalogue_path(args, settings))
    url = settings.database_url
    with connect(url) as conn:
        try:
            report = sync_catalogue(conn, catalogue, prune=args.prune, dry_run=args.dry_run)
        except psycopg.errors.UndefinedTable as exc:
            raise CliError(f"{_where(url)} has no stations table; run `aqm db migrate`") from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CliError(f"{_where(url)}: {exc.diag.message_primary}; sync needs the "
                           "migration owner's connection") from exc
    for station_id in report.added:
        print(f"+ {station_id}")
    for change in report.changed:
        print(f"~ {change.station_id}: {', '.join(change.fields)}")
    for station_id in report.pruned:
        print(f"- {station_id}")
    for station_id in report.absent:
        print(f"! {station_id} is registered but not in {catalogue.path}; kept "
              "(retire it in the catalogue, or --prune if it never sent data)", file=sys.stderr)
    print(report.summary())
    return 0


def _list(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    import psycopg
    from rich.table import Table

    from stations.registry import last_readings, registered_stations

    settings = settings_with_database_url(args.database_url)
    url = settings.database_url
    with connect(url) as conn:
        try:
            rows = registered_stations(conn)
            newest = last_readings(conn)
        except psycopg.errors.UndefinedTable as exc:
            raise CliError(f"{_where(url)} has no stations table; run `aqm db migrate`") from exc
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(UTC)
    table = Table(title=f"stations registered in {_where(url)}")
    table.add_column("station", no_wrap=True)
    for column in ("name", "type", "status", "public AQI", "newest reading", "age"):
        table.add_column(column)
    for row in rows:
        last = newest.get(row.station_id)
        when = last.ts.astimezone(tz).strftime("%Y-%m-%d %H:%M") if last else "never"
        table.add_row(row.station_id, row.name, TYPE_LABELS.get(row.station_type, row.station_type),
                      row.status,
                      "yes" if row.public_aqi else "no", when,
                      _age(now - last.ts) if last else "")
    _console().print(table)
    print(f"{len(rows)} stations registered, {sum(r.status == 'active' for r in rows)} active")
    return 0


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


DEFAULT_INGEST_USER = "aqm-ingest"
# /mosquitto/config/secrets/{passwd,acl} in provisioning/mosquitto/mosquitto.conf
PASSWORD_FILE_NAME = "passwd"
ACL_FILE_NAME = "acl"
RABBITMQ_DEFINITIONS_NAME = "rabbitmq-definitions.json"


def _credentials(args: argparse.Namespace) -> int:
    from aqm_core.settings import load_settings
    from ingest.topics import TopicLayout
    from stations.broker_access import BrokerAccessError, ServiceUser, plan_broker_access
    from stations.broker_secrets import load_secrets, secret_lines
    from stations.mosquitto_passwords import (
        PasswordFileError,
        read_password_file,
        username_problem,
        write_atomically,
        write_password_file,
    )

    settings = load_settings()
    catalogue = load_checked_catalogue(_catalogue_path(args, settings))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: exists and is not a folder")
    _refuse_committable(out, "--out")
    secrets: dict[str, str] = {}
    if args.secrets is not None:
        _refuse_committable(Path(args.secrets), "--secrets")
        secrets = load_secrets(Path(args.secrets))

    endpoint = settings.mqtt
    ingest_users = list(dict.fromkeys(args.ingest_user or
                                      [endpoint.username or DEFAULT_INGEST_USER]))
    for ingest_user in ingest_users:
        if problem := username_problem(ingest_user):
            source = ("--ingest-user" if args.ingest_user is not None
                      else "AQM_MQTT_URL: the user name")
            raise CliError(f"{source} {ingest_user!r}: not a broker user name ({problem})")
    url_user = endpoint.username if endpoint.username in ingest_users else None
    url_password = endpoint.password if url_user is not None else None
    if url_password is not None and url_user in secrets and secrets[url_user] != url_password:
        raise CliError(f"{args.secrets}: {url_user}: differs from the password in "
                       "AQM_MQTT_URL; ingest would be refused")
    password_file, acl_file = out / PASSWORD_FILE_NAME, out / ACL_FILE_NAME
    try:
        existing = read_password_file(password_file)
        access = plan_broker_access(catalogue, TopicLayout(settings.topic_prefix), existing,
                                    [ServiceUser(u, url_password if u == url_user else None)
                                     for u in ingest_users],
                                    rotate=args.rotate, secrets=secrets)
    except (PasswordFileError, BrokerAccessError) as exc:
        where = f"{args.secrets}: " if args.secrets and "secrets" in str(exc) else ""
        raise CliError(f"{where}{exc}") from exc
    header = (f"Mosquitto password file for the stations in {catalogue.path}.\n"
              "Written by `aqm stations credentials`; users it does not know are removed.")
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_password_file(password_file, access.password_entries, header)
        write_atomically(acl_file, access.acl, new_mode=0o600)
    except OSError as exc:
        raise CliError(f"{exc.filename}: {exc.strerror}") from exc
    if access.new_credentials:
        print(f"# generated by `aqm stations credentials` for {out}; "
              "append to the secrets file, they are shown only once")
        print(secret_lines(access.new_credentials), end="")
    given = sum(u in secrets or (u == url_user and url_password is not None)
                for u in access.password_entries)
    kept = len(access.password_entries) - len(access.new_credentials) - given
    removed = (f" ({', '.join(access.removed_users)})" if access.removed_users else "")
    print(f"{password_file}: {len(access.password_entries)} users: {given} from secrets, "
          f"{len(access.new_credentials)} generated, {kept} kept, "
          f"{len(access.removed_users)} removed{removed}", file=sys.stderr)
    readers = ", ".join(repr(u) for u in ingest_users)
    print(f"{acl_file}: written; ingest user{'s' if len(ingest_users) > 1 else ''} {readers} "
          "read, each station writes its own topic; send SIGHUP to mosquitto to apply",
          file=sys.stderr)
    _write_ftp_accounts(out, catalogue, access.password_entries)
    known = dict(secrets) | access.new_credentials
    if url_user is not None and url_password is not None:
        known[url_user] = url_password
    _write_rabbitmq_definitions(out, catalogue, settings, ingest_users, known)
    return 0


def _write_rabbitmq_definitions(out: Path, catalogue: Catalogue, settings: Settings,
                                ingest_users: list[str], passwords: dict[str, str]) -> None:
    """The same users and topics for RabbitMQ, as a definitions file it loads at boot."""
    import json

    from ingest.topics import TopicLayout
    from stations.mosquitto_passwords import write_atomically
    from stations.rabbitmq_definitions import definitions, read_hashes, user_hashes

    path = out / RABBITMQ_DEFINITIONS_NAME
    stations = [s.station_id for s in catalogue.active()]
    hashes, unknown = user_hashes([*ingest_users, *stations], passwords, read_hashes(path))
    document = definitions(stations, ingest_users, hashes, TopicLayout(settings.topic_prefix),
                           settings.amqp_queue)
    try:
        write_atomically(path, json.dumps(document, indent=2) + "\n", new_mode=0o600)
    except OSError as exc:
        raise CliError(f"{exc.filename}: {exc.strerror}") from exc
    missing = (f"; left out, no password known (give it in --secrets or --rotate): "
               f"{', '.join(unknown)}" if unknown else "")
    print(f"{path}: {len(hashes)} RabbitMQ users (load_definitions in rabbitmq.conf)"
          f"{missing}", file=sys.stderr)


def _write_ftp_accounts(out: Path, catalogue: Catalogue, broker_entries: dict[str, str]) -> None:
    """The accounts of `aqm ftp`, beside the broker's files (same station passwords)."""
    from stations.ftp_accounts import write_ftp_accounts

    try:
        path, count = write_ftp_accounts(out, catalogue, broker_entries)
    except OSError as exc:
        raise CliError(f"{exc.filename}: {exc.strerror}") from exc
    print(f"{path}: {count} FTP accounts for aqm ftp (each station's broker password); "
          "aqm ftp reads it again when it changes", file=sys.stderr)


def _refuse_committable(path: Path, option: str) -> None:
    """Secrets never land in the repository: refuse a path git would track."""
    import shutil
    import subprocess

    git = shutil.which("git")
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if git is None:
        return
    folder = probe if probe.is_dir() else probe.parent
    top = subprocess.run([git, "-C", str(folder), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True, check=False)
    if top.returncode != 0:
        return  # not inside a git work tree
    ignored = subprocess.run([git, "-C", str(folder), "check-ignore", "-q", str(path.absolute())],
                             capture_output=True, check=False)
    if ignored.returncode != 0:
        raise CliError(
            f"{option} {path}: inside the git work tree {top.stdout.strip()} and not ignored "
            "by git; broker secrets must never be committed: use a folder outside it "
            "(e.g. /etc/aqm/mosquitto) or an ignored one (secrets/, .aqm/)"
        )
