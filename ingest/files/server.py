"""The FTP server of ``aqm ftp``: pyftpdlib, configured so that

- only the stations of the accounts file log in (no anonymous login), each confined to
  its own folder (pyftpdlib resolves every path, symbolic links included, inside the
  home and refuses the rest), with permission to list, create folders, store and
  rename — not to read, delete or append;
- explicit TLS (``AUTH TLS``, FTPS) is offered when a certificate is configured, and can
  be required for logins and data;
- passive ports come from a configured range (and an address to announce behind NAT);
- an upload larger than the maximum file size is cut off with ``552``; what was received
  up to then (at most the limit and one network read) is handed on as well, before the
  ``552``, and ends as a ``payload_too_large`` reject;
- each session runs in a thread of its own (the fsync before ``226`` waits on the disk);
- a file is handed on only once its upload completed, and before the ``226`` reply:
  it is moved durably into ``incoming`` first, so a datalogger told "complete" never
  loses its file. An interrupted upload is removed, never read. A file uploaded under a
  temporary name (``.part``, ``.tmp``, a leading dot) is handed on when renamed.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from OpenSSL import SSL
from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.exceptions import _RetryError
from pyftpdlib.handlers import DTPHandler, FTPHandler, TLS_DTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer, ThreadedFTPServer

from aqm_core.settings import Settings
from ingest.files.accounts import Accounts
from ingest.files.inbox import Inbox, InboxFile
from ingest.files.metrics import FtpMetrics
from ingest.files.spool import is_temporary

log = logging.getLogger("aqm.ftp")

# e: cd, l: list, m: mkdir, w: store, f: rename. No r (read), d (delete), a (append).
STATION_PERMISSIONS = "elmwf"


class StationAuthorizer(DummyAuthorizer):  # type: ignore[misc]
    """Accounts from the accounts file; each station's home is its upload folder."""

    def __init__(self, accounts: Accounts, inbox: Inbox) -> None:
        super().__init__()
        self.accounts = accounts
        self.inbox = inbox
        self._lock = threading.Lock()  # sessions run in threads of their own

    def _sync(self, username: str) -> None:
        with self._lock:
            self._sync_locked(username)

    def _sync_locked(self, username: str) -> None:
        home = self.inbox.home(username)
        if username in self.accounts.users:
            home.mkdir(parents=True, exist_ok=True)
            if not self.has_user(username):
                self.add_user(
                    username,
                    "",
                    str(home),
                    perm=STATION_PERMISSIONS,
                    msg_login=f"Station {username}: upload Circular 10 files here.",
                )
        elif self.has_user(username):
            self.remove_user(username)

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        if username == "anonymous" or not self.accounts.check(username, password):
            raise AuthenticationFailed("Authentication failed.")
        self._sync(username)

    def has_user(self, username: str) -> bool:
        return username in self.user_table


class _UploadLimit:
    """Cut an upload off with 552 once it exceeds ``max_file_bytes``."""

    max_file_bytes = 1_048_576
    oversized = False
    interrupted = False
    # set by pyftpdlib's DTPHandler
    receive: bool
    tot_bytes_received: int
    transfer_finished: bool
    _closed: bool
    _resp: Any
    socket: Any
    cmd_channel: Any
    _ssl_want_read: bool
    _ssl_want_write: bool

    def recv(self, buffer_size: int) -> bytes:
        """A reset (or, with TLS, a connection cut without close_notify) ends an upload
        as *interrupted*; pyftpdlib itself would take it for a normal end of file."""
        if not self.receive:
            return super().recv(buffer_size)  # type: ignore[misc, no-any-return]
        sock = self.socket
        try:
            data: bytes = sock.recv(buffer_size)
        except SSL.WantReadError as err:
            self._ssl_want_read = True
            raise _RetryError from err
        except SSL.WantWriteError as err:
            self._ssl_want_write = True
            raise _RetryError from err
        except SSL.ZeroReturnError:  # TLS closed cleanly: the whole file arrived
            DTPHandler.handle_close(self)
            return b""
        except (SSL.SysCallError, SSL.Error, OSError) as err:
            if isinstance(err, OSError) and err.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise _RetryError from err
            self.interrupted = True
            self.transfer_finished = False
            self._resp = ("426 Connection lost; transfer aborted.", log.warning)
            self.close()
            raise _RetryError from err
        if not data:
            DTPHandler.handle_close(self)
        return data

    def handle_read_event(self) -> None:
        # pyftpdlib binds handle_read_event to its own handle_read: hook the event.
        super().handle_read_event()  # type: ignore[misc]
        if self.receive and not self._closed and self.tot_bytes_received > self.max_file_bytes:
            self.oversized = True
            self.transfer_finished = False
            self._resp = (
                f"552 File larger than {self.max_file_bytes} bytes; transfer aborted.",
                log.warning,
            )
            self.close()

    def close(self) -> None:
        # pyftpdlib answers 226 before calling on_file_received; hand the file on first.
        # An upload cut off for its size is handed on too: it ends as a reject.
        file_obj = getattr(self, "file_obj", None)
        if (not self._closed and self.receive and (self.transfer_finished or self.oversized)
                and file_obj is not None and not file_obj.closed):  # fmt: skip
            file_obj.close()
            if self.transfer_finished:
                self.cmd_channel.upload_complete(file_obj.name)
            else:
                self.cmd_channel.upload_oversized(file_obj.name, self.tot_bytes_received)
        super().close()  # type: ignore[misc]


class _LimitedDTP(_UploadLimit, DTPHandler):  # type: ignore[misc]
    pass


class _LimitedTLSDTP(_UploadLimit, TLS_DTPHandler):  # type: ignore[misc]
    pass


# With a thread per session, two sessions could bind the same passive port (pyftpdlib
# sets SO_REUSEADDR) and one would fail to listen; opening passive ports one at a time
# makes the second bind fail and pyftpdlib try another port.
_PASSIVE_PORTS = threading.Lock()


class _StationHandler:
    """Hooks shared by the plain and the TLS control handler."""

    inbox: Inbox
    on_complete: Callable[[InboxFile], None]
    metrics: FtpMetrics
    username: str  # set by pyftpdlib's FTPHandler at login

    def upload_complete(self, filename: str) -> None:
        station = self.username
        path = Path(filename)
        if is_temporary(path.name):
            return  # handed on when renamed
        try:
            file = self.inbox.accept(station, path)
        except (OSError, ValueError) as exc:
            log.error(
                "%s: upload of %s complete but cannot be moved to incoming (%s)",
                station,
                filename,
                exc,
            )
            return
        log.info("%s: received %s", station, file.name)
        self.on_complete(file)

    def upload_oversized(self, filename: str, received: int) -> None:
        """An upload cut off for its size: kept (bounded by the limit and one read) to be
        stored as a ``payload_too_large`` reject, never read as data."""
        station = self.username
        try:
            file = self.inbox.accept(station, Path(filename))
        except (OSError, ValueError) as exc:
            log.error(
                "%s: upload of %s cut off for its size, cannot be kept (%s)",
                station,
                filename,
                exc,
            )
            return
        log.warning(
            "%s: upload of %s exceeded the size limit after %d bytes; cut off with 552, "
            "kept as a payload_too_large reject",
            station,
            file.name,
            received,
        )
        self.on_complete(file)

    def on_login_failed(self, username: str, password: str) -> None:
        log.warning("login refused for %r from %s", username[:64], getattr(self, "remote_ip", "?"))

    def on_incomplete_file_received(self, file: str) -> None:
        dtp = getattr(self, "data_channel", None)
        reason = "too_large" if getattr(dtp, "oversized", False) else "interrupted"
        self.metrics.uploads_incomplete.labels(reason).inc()
        if reason == "interrupted":
            log.warning("%s: upload of %s was interrupted; removed, never read",
                        self.username, Path(file).name)  # fmt: skip
        # (an upload cut off for its size was moved to incoming by upload_oversized)
        Path(file).unlink(missing_ok=True)

    def ftp_PASV(self, line: str) -> Any:  # noqa: N802 (pyftpdlib's command method)
        with _PASSIVE_PORTS:
            return super().ftp_PASV(line)  # type: ignore[misc]

    def ftp_EPSV(self, line: str) -> Any:  # noqa: N802 (pyftpdlib's command method)
        with _PASSIVE_PORTS:
            return super().ftp_EPSV(line)  # type: ignore[misc]

    def ftp_RNTO(self, path: str) -> Any:  # noqa: N802 (pyftpdlib's command method)
        result = super().ftp_RNTO(path)  # type: ignore[misc]
        if result:
            _src, dst = result
            if Path(dst).is_file() and not is_temporary(Path(dst).name):
                self.upload_complete(dst)
        return result


class StationFTPHandler(_StationHandler, FTPHandler):  # type: ignore[misc]
    dtp_handler = _LimitedDTP


class StationTLSHandler(_StationHandler, TLS_FTPHandler):  # type: ignore[misc]
    dtp_handler = _LimitedTLSDTP


def parse_port_range(text: str) -> range:
    """``"52200-52299"`` → the ports; raises ValueError with the reason."""
    first, sep, last = text.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise ValueError(f"{text!r} is not a port range such as 52200-52299") from None
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"{text!r}: ports must be 1…65535, the first not above the last")
    return range(low, high + 1)


def build_server(
    settings: Settings,
    inbox: Inbox,
    accounts: Accounts,
    on_complete: Callable[[InboxFile], None],
    metrics: FtpMetrics,
) -> FTPServer:
    """An FTP server bound to AQM_FTP_HOST:AQM_FTP_PORT (not yet serving)."""
    tls = settings.ftp_tls_cert is not None
    base: type[Any] = StationTLSHandler if tls else StationFTPHandler
    attrs: dict[str, Any] = {
        "authorizer": StationAuthorizer(accounts, inbox),
        "inbox": inbox,
        "on_complete": staticmethod(on_complete),
        "metrics": metrics,
        "banner": "aqm FTP: Circular 10/2021/TT-BTNMT files",
        "passive_ports": list(parse_port_range(settings.ftp_passive_ports)),
        "masquerade_address": settings.ftp_masquerade_address or None,
        "permit_foreign_addresses": False,
        "permit_privileged_ports": False,
        "use_sendfile": False,
        "timeout": 120,
    }
    dtp = type("StationDTP", (base.dtp_handler,), {"max_file_bytes": settings.ftp_max_file_bytes})
    attrs["dtp_handler"] = dtp
    if tls:
        attrs["certfile"] = str(settings.ftp_tls_cert)
        attrs["keyfile"] = str(settings.ftp_tls_key) if settings.ftp_tls_key else None
        attrs["tls_control_required"] = settings.ftp_tls_required
        attrs["tls_data_required"] = settings.ftp_tls_required
        attrs["ssl_context"] = None
    handler = type("ConfiguredStationHandler", (base,), attrs)
    # A thread per session: the fsync that makes a file durable before its 226 waits on
    # the disk, and one session's wait must not hold up the others.
    server = ThreadedFTPServer((settings.ftp_host, settings.ftp_port), handler)
    server.max_cons = 4096
    server.max_cons_per_ip = 0
    return server


class ServerThread:
    """pyftpdlib's own loop in a thread of its own; stopped with :meth:`stop`."""

    def __init__(self, server: FTPServer) -> None:
        self.server = server
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="aqm-ftp-server", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.address[:2]
        return str(host), int(port)

    def _serve(self) -> None:
        self.server.serve_forever(timeout=0.2, blocking=False, handle_exit=False)
        while not self._stopping.is_set():
            self.server.ioloop.loop(0.2, blocking=False)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.thread.join(5)
        self.server.close_all()
