"""Who may log in to ``aqm ftp``: one account per active station, named by its id.

The accounts file has the lines of a Mosquitto password file (``station:$7$…``,
PBKDF2-HMAC-SHA512; ``aqm stations credentials`` writes it as ``ftp-users`` beside the
broker's ``passwd``, with each station's broker password), so a datalogger uses one
password for MQTT and FTP. The file is read again whenever it changes; there is no
anonymous login.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from stations.mosquitto_passwords import PasswordFileError, read_password_file, verify_password

log = logging.getLogger("aqm.ftp")


class Accounts:
    """The accounts file, re-read when its modification time or size changes.

    A verified password is remembered (as a digest) so that a datalogger logging in
    every five minutes costs one PBKDF2 computation, not one per login.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, str] = {}
        self._stamp: tuple[int, int] | None = None
        self._verified: set[tuple[str, bytes]] = set()
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        """Read the file now if it changed; a file that cannot be read keeps the old one."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            stamp: tuple[int, int] | None = None
        else:
            stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp == self._stamp and (stamp is not None or not self._entries):
                return
            try:
                entries = read_password_file(self.path)
            except PasswordFileError as exc:
                log.error("%s; keeping the %d accounts read before", exc, len(self._entries))
                return
            self._entries, self._stamp, self._verified = entries, stamp, set()
        log.info("%s: %d FTP accounts", self.path, len(entries))

    @property
    def users(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def check(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s; unknown users never pass."""
        self.reload()
        key = (user, hashlib.sha256(password.encode("utf-8")).digest())
        with self._lock:
            encoded = self._entries.get(user)
            if encoded is None:
                return False
            if key in self._verified:
                return True
        if not _verify(password, encoded):
            return False
        with self._lock:
            self._verified.add(key)
        return True


def _verify(password: str, encoded: str) -> bool:
    if encoded.startswith("$7$"):
        return verify_password(password, encoded)
    if encoded.startswith(("$2a$", "$2b$", "$2y$")):  # bcrypt, as some broker files hold
        import bcrypt

        try:
            return bcrypt.checkpw(password.encode("utf-8"), encoded.encode("ascii"))
        except ValueError:
            return False
    return False
