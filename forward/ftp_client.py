"""One FTP connection to a destination (ftplib; explicit TLS with ``AUTH TLS`` and a
protected data channel when the destination asks for it). An upload counts only once
the server answered ``226`` to it."""

from __future__ import annotations

import contextlib
import ftplib
import io
import ssl

from forward.config import Destination

PERMANENT = ftplib.error_perm


class Connection:
    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.ftp: ftplib.FTP | None = None
        self._folders: set[str] = set()  # known to exist on this connection

    def open(self) -> ftplib.FTP:
        if self.ftp is not None:
            return self.ftp
        d = self.destination
        ftp: ftplib.FTP
        if d.tls:
            context = ssl.create_default_context(cafile=str(d.ca_file) if d.ca_file else None)
            ftp = ftplib.FTP_TLS(context=context, timeout=d.timeout_s)
        else:
            ftp = ftplib.FTP(timeout=d.timeout_s)
        try:
            ftp.connect(d.host, d.port)
            ftp.login(d.user, d.password)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.set_pasv(True)
        except BaseException:
            with contextlib.suppress(OSError, EOFError, ftplib.Error):
                ftp.close()
            raise
        self.ftp = ftp
        return ftp

    def close(self) -> None:
        if self.ftp is not None:
            with contextlib.suppress(OSError, EOFError, ftplib.Error):
                self.ftp.quit()
            with contextlib.suppress(OSError):
                self.ftp.close()
        self.ftp = None
        self._folders.clear()

    def already_there(self, folder: str, name: str, size: int) -> bool:
        """Whether an earlier, unconfirmed attempt left the whole file there."""
        ftp = self.open()
        try:
            ftp.voidcmd("TYPE I")
            return ftp.size(f"/{folder}/{name}".replace("//", "/")) == size
        except ftplib.error_perm:
            return False

    def upload(self, folder: str, name: str, payload: bytes) -> str:
        """Store ``payload`` as ``folder/name``; returns the server's final reply.

        Absolute paths, and a folder is created once per connection: a file costs a
        passive connection and a ``STOR``, not a walk through its folders.
        """
        ftp = self.open()
        parts = [p for p in folder.split("/") if p]
        absolute = "/" + "/".join(parts)
        if absolute not in self._folders:
            try:
                ftp.cwd(absolute)
            except ftplib.error_perm:
                ftp.cwd("/")
                for part in parts:
                    try:
                        ftp.cwd(part)
                    except ftplib.error_perm:
                        ftp.mkd(part)
                        ftp.cwd(part)
            self._folders.add(absolute)
        target = f"{absolute.rstrip('/')}/{name}"
        reply = ftp.storbinary(f"STOR {target}", io.BytesIO(payload))
        if not reply.startswith("2"):
            raise ftplib.error_reply(reply)
        return reply
