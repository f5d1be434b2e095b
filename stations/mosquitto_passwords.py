"""Mosquitto password files: hash, verify, read and write ``user:hash`` lines.

Mosquitto 2.x stores ``$7$<iterations>$<salt>$<hash>``: PBKDF2-HMAC-SHA512 over the
password with a 12-byte salt, both base64-encoded; the broker reads the iteration
count from each line. Writing the file here (instead of calling ``mosquitto_passwd``
once per station) keeps the whole file one atomic replacement.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import tempfile
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from aqm_core.errors import AqmError

# mosquitto_passwd uses 101 iterations. Station passwords are random and need no more,
# but the ingest service password is chosen by a person.
ITERATIONS = 20_000
SALT_BYTES = 12


class PasswordFileError(AqmError, ValueError):
    """A password file (or a line of it) aqm cannot read; names the file and line."""


def username_problem(user: str) -> str | None:
    """Why ``user`` cannot be a user of a password file, or None if it can.

    A line is ``user:hash`` split at the first ':', '#' starts a comment, and the ACL
    names users after ``user ``: a name with ':', whitespace or control characters, or
    a leading '#', would be read back as another user, or not at all.
    """
    if not user:
        return "is empty"
    if ":" in user:
        return "contains ':'"
    if user.startswith("#"):
        return "starts with '#'"
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in user):
        return "contains whitespace or a control character"
    return None


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$…`` form Mosquitto 2 accepts for ``password``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash; other hash kinds never match."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except (binascii.Error, ValueError):
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(parts[2]))
    return hmac.compare_digest(digest, expected)


def new_password() -> str:
    """A random password a field engineer can type into a datalogger (24 characters)."""
    return secrets.token_urlsafe(18)


def read_password_file(path: Path) -> dict[str, str]:
    """``username -> hash`` from ``path``; an absent file is empty.

    Raises :class:`PasswordFileError`, naming ``path``, when it cannot be read.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:  # a folder, a file where a folder should be, no permission
        raise PasswordFileError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data.count(b"\n", 0, exc.start) + 1
        raise PasswordFileError(f"{path}:{bad_line}: not UTF-8 text; is this a Mosquitto "
                                "password file?") from exc
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user or not encoded:
            raise PasswordFileError(f"{path}:{number}: expected 'username:hash'")
        if user in entries:
            raise PasswordFileError(f"{path}:{number}: user {user!r} appears twice")
        entries[user] = encoded
    return entries


def write_password_file(path: Path, entries: Mapping[str, str], header: str = "") -> None:
    """Replace ``path`` atomically with ``entries``.

    An existing file keeps its mode and owner (the broker's user must still read it);
    a new one is readable by its owner only (set its owner to the broker's user).
    """
    for user in entries:
        if problem := username_problem(user):
            raise PasswordFileError(f"{path}: user {user!r} {problem}")
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += [f"{user}:{encoded}" for user, encoded in entries.items()]
    write_atomically(path, "\n".join(lines) + "\n")


def write_atomically(path: Path, text: str, new_mode: int = 0o600) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``.

    A replaced file keeps its mode and owner; a new one gets ``new_mode``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        before = path.stat()
    except FileNotFoundError:
        before = None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if before is not None:
            tmp.chmod(before.st_mode & 0o7777)
            if os.geteuid() == 0:
                os.chown(tmp, before.st_uid, before.st_gid)
        else:
            tmp.chmod(new_mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
