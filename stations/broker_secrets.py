"""The broker secrets file: the plain passwords of broker users, kept outside the repository.

A YAML mapping of username to password, one line each::

    # broker secrets for Bắc Ninh: never commit this file
    aqm-ingest: "a long passphrase chosen by the operator"
    BN-KINHBAC: "Vx3…"

``aqm stations credentials`` hashes these into the Mosquitto password file (users not
listed keep their stored hash or get a generated password, printed once in this same
form so it can be appended here), and ``aqm simulate --secrets`` logs each simulated
station in as itself. Every fault names the file and line.
"""

from __future__ import annotations

import json
from pathlib import Path

from aqm_core.errors import AqmError
from stations.located_yaml import YamlSourceError, load_located
from stations.mosquitto_passwords import username_problem

# A person-chosen password shorter than this is guessable offline from the hash file.
MIN_PASSWORD_LENGTH = 12


class SecretsFileError(AqmError, ValueError):
    """The secrets file cannot be used; the message names the file and line."""


def load_secrets(path: Path) -> dict[str, str]:
    """``username -> password`` from ``path``; raises :class:`SecretsFileError`."""
    try:
        doc = load_located(path)
    except YamlSourceError as exc:
        raise SecretsFileError(str(exc)) from exc
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        raise SecretsFileError(f"{path}:{doc.line_of(())}: expected a mapping of "
                               f"username: password, found {type(doc.data).__name__}")
    secrets: dict[str, str] = {}
    for user, password in doc.data.items():
        line = doc.line_of((str(user),))
        where = f"{path}:{line}"
        problem = username_problem(user) if isinstance(user, str) else "is not text"
        if problem:
            # The same rule as the password file the users are written into.
            raise SecretsFileError(f"{where}: {user!r} is not a broker username: it {problem}")
        if not isinstance(password, str):
            raise SecretsFileError(f"{where}: {user}: the password must be text; put it in "
                                   "quotes")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise SecretsFileError(f"{where}: {user}: the password has {len(password)} "
                                   f"characters; use at least {MIN_PASSWORD_LENGTH}")
        secrets[user] = password
    return secrets


def secret_lines(credentials: dict[str, str]) -> str:
    """``credentials`` as lines of a secrets file (to append to it)."""
    # JSON string quoting is valid YAML and escapes whatever a password holds.
    return "".join(f"{user}: {json.dumps(password)}\n" for user, password in credentials.items())
