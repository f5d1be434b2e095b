"""The FTP accounts of ``aqm ftp``: one per active station, with its broker password.

A datalogger has one identity: the station id and one password, for MQTT and for FTP.
The accounts file (``ftp-users``, beside the broker's ``passwd``) therefore holds each
active station's broker hash (a ``$7$`` PBKDF2 line, which ``aqm ftp`` verifies
itself), so a rotated or newly generated broker password works for FTP at once, and no
second secret has to reach the field. Service users (the ingest user) get no FTP
account; retired stations lose theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from stations.catalogue import Catalogue
from stations.mosquitto_passwords import write_password_file

FTP_ACCOUNTS_FILE_NAME = "ftp-users"


def ftp_account_entries(catalogue: Catalogue, broker_entries: Mapping[str, str]) -> dict[str, str]:
    """``station -> hash`` for every active station the broker's password file holds."""
    return {
        s.station_id: broker_entries[s.station_id]
        for s in catalogue.active()
        if s.station_id in broker_entries
    }


def write_ftp_accounts(
    folder: Path, catalogue: Catalogue, broker_entries: Mapping[str, str]
) -> tuple[Path, int]:
    """Write ``folder/ftp-users`` atomically; returns its path and the number of accounts."""
    entries = ftp_account_entries(catalogue, broker_entries)
    path = folder / FTP_ACCOUNTS_FILE_NAME
    header = (
        f"FTP accounts of aqm ftp for the stations in {catalogue.path}.\n"
        "Written by `aqm stations credentials` (each station's broker password)."
    )
    write_password_file(path, entries, header)
    return path, len(entries)
