"""RabbitMQ's HTTP authentication backend, answering with :func:`decide_login`.

RabbitMQ (``rabbitmq_auth_backend_http``, ``auth_http.http_method = post``) POSTs each
login to ``/auth/user`` as a form: ``username``, ``password``, ``vhost`` and, for MQTT,
``client_id``. The answer is the body ``allow`` or ``deny`` with status 200; anything
else (another status, no answer) RabbitMQ takes as a refusal. Authorisation (vhosts,
queues, topics) stays with RabbitMQ's internal database loaded from the same definitions
file (``auth_backends.1.authz = internal``), so ``/auth/vhost``, ``/auth/resource`` and
``/auth/topic`` are never asked; if a node is configured to ask them anyway, they answer
``deny`` and say why in the log, rather than grant what the definitions do not.

The password hashes are read from the definitions file ``aqm stations credentials``
writes, again whenever its modification time or size changes; a file that cannot be read
keeps the users read before (none at first: every login is refused), and is reported once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from stations.broker_login import decide_login
from stations.rabbitmq_definitions import DefinitionsFileError, read_hashes

log = logging.getLogger("aqm.broker_auth")

MAX_BODY_BYTES = 8192
"""A login form is a few hundred bytes; a larger body is refused unread past this."""
MAX_FIELDS = 16
ALLOW = "allow"
DENY = "deny"


class DefinitionsHashes:
    """``user -> password_hash`` of a definitions file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._hashes: dict[str, str] = {}
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        """Read the file now if it changed; a file that cannot be read keeps the old users."""
        try:
            st = self.path.stat()
        except OSError:
            stamp: tuple[int, int] | None = None
        else:
            stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp == self._stamp:
                return
            if stamp is None:
                log.error(
                    "%s: no such file; keeping the %d users read before "
                    "(aqm stations credentials writes it)",
                    self.path, len(self._hashes),
                )  # fmt: skip
                self._stamp = None
                return
            try:
                hashes = read_hashes(self.path)
            except DefinitionsFileError as exc:
                # said once per version of the file: it is replaced whole (by rename)
                self._stamp = stamp
                log.error("%s; keeping the %d users read before", exc, len(self._hashes))
                return
            self._hashes, self._stamp = hashes, stamp
        log.info("%s: %d RabbitMQ users", self.path, len(hashes))

    def current(self) -> Mapping[str, str]:
        self.reload()
        with self._lock:
            return self._hashes


def parse_form(body: bytes) -> dict[str, str] | None:
    """The fields of a form-encoded body; ``None`` if malformed or a field is repeated."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except ValueError:  # UnicodeDecodeError included
        return None
    fields = dict(pairs)
    return fields if len(fields) == len(pairs) else None


def login_answer(fields: Mapping[str, str] | None, hashes: Mapping[str, str]) -> tuple[str, str]:
    """(``allow`` or ``deny``, why) for the fields of one ``/auth/user`` request."""
    if fields is None:
        return DENY, "malformed request"
    username, password = fields.get("username"), fields.get("password")
    if username is None or password is None:
        return DENY, "no username or no password"
    decision = decide_login(username, password, fields.get("client_id"), hashes)
    return (ALLOW if decision.allowed else DENY), decision.reason


async def _body(request: Request) -> bytes | None:
    """The request body, or ``None`` beyond :data:`MAX_BODY_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(definitions_file: Path) -> Starlette:
    """The application: ``/auth/user`` decides, the authorisation paths refuse."""
    hashes = DefinitionsHashes(definitions_file)

    async def user(request: Request) -> PlainTextResponse:
        body = await _body(request)
        fields = None if body is None else parse_form(body)
        answer, reason = login_answer(fields, hashes.current())
        if answer == DENY:
            who = fields or {}
            log.warning(
                "refused login: user %r, MQTT client id %r (asked by node %s): %s",
                who.get("username"),
                who.get("client_id", "(none: not MQTT)"),
                request.client.host if request.client else "?",
                reason,
            )
        return PlainTextResponse(answer)

    async def authorisation(request: Request) -> PlainTextResponse:
        log.warning(
            "%s asked and refused: authorisation is RabbitMQ's internal database "
            "(set auth_backends.1.authz = internal and no auth_http.%s_path)",
            request.url.path, request.url.path.rsplit("/", 1)[-1],
        )  # fmt: skip
        return PlainTextResponse(DENY)

    async def wrong_method(request: Request) -> PlainTextResponse:
        log.warning(
            "%s %s refused: RabbitMQ must send logins as POST (auth_http.http_method = post), "
            "so passwords stay out of URLs",
            request.method, request.url.path,
        )  # fmt: skip
        return PlainTextResponse(DENY)

    async def healthz(request: Request) -> PlainTextResponse:
        count = len(hashes.current())
        return PlainTextResponse(f"ok: {count} users\n", status_code=200 if count else 503)

    return Starlette(
        routes=[
            Route("/auth/user", user, methods=["POST"]),
            Route("/auth/user", wrong_method, methods=["GET", "PUT"]),
            *(
                Route(f"/auth/{path}", authorisation, methods=["GET", "POST", "PUT"])
                for path in ("vhost", "resource", "topic")
            ),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def serve(definitions_file: Path, host: str, port: int) -> None:
    """Serve :func:`create_app` with uvicorn until interrupted."""
    import uvicorn

    config = uvicorn.Config(
        create_app(definitions_file),
        host=host,
        port=port,
        access_log=False,  # refusals are logged above; the rest is every login
        server_header=False,
        log_level="info",
        timeout_keep_alive=30,  # RabbitMQ keeps its HTTP connections open between logins
    )
    uvicorn.Server(config).run()
