"""``aqm web``: the read-only public service (citizens' VN_AQI page and its JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aqm.cli import CliError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "web",
        help="serve the public VN_AQI page and its JSON (read-only, as aqm_reader)",
        description=(
            "Serve the citizens' page (map of the province, current hourly VN_AQI of the "
            "stations that may publish it, concentrations of indicative stations) and its "
            "JSON on AQM_WEB_HOST:AQM_WEB_PORT, reading the database as aqm_reader "
            "(AQM_WEB_DATABASE_URL). Read-only: every other method is refused. See docs/web.md."
        ),
    )
    p.add_argument("--host", help="listen address (default AQM_WEB_HOST)")
    p.add_argument("--port", type=int, help="listen port (default AQM_WEB_PORT)")
    p.add_argument("--database-url", help="the aqm_reader URL (default AQM_WEB_DATABASE_URL)")
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="serve this folder's files at /data/ (default AQM_OPENDATA_DIR, where "
        "aqm worker and aqm opendata export write the open data)",
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from aqm_core.settings import load_settings
    from web.server import serve

    settings = load_settings(options={
        "web_host": ("--host", args.host),
        "web_port": ("--port", args.port),
        "web_database_url": ("--database-url", args.database_url),
    })  # fmt: skip
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise CliError(f"--data-dir {args.data_dir}: not a folder")
    data_dir = args.data_dir
    if data_dir is None and settings.opendata_dir.is_dir():
        data_dir = settings.opendata_dir
    elif data_dir is None:
        print(
            f"aqm web: no open data at {settings.opendata_dir} yet (AQM_OPENDATA_DIR): "
            "/data/ is served once the folder exists and aqm web restarts",
            flush=True,
        )
    if settings.web_map_file is not None and not settings.web_map_file.is_file():
        raise CliError(f"AQM_WEB_MAP_FILE {settings.web_map_file}: no such file")
    print(f"aqm web: http://{settings.web_host}:{settings.web_port}/", flush=True)
    serve(settings, data_dir=data_dir)
    return 0
