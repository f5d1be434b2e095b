"""Payload decoders: bytes → raw readings, one module per format, detected from content.

Decoders never raise on bad input: whatever they cannot read becomes a ``Rejection``
with a stable reason code, so every message ends stored or rejected.

A decoder's result depends on the payload and the station's configuration only, never
on when the message arrived: a message redelivered by the broker, or retained and sent
again on every subscription, decodes to the same readings at the same instants, which
the writer's merge then stores once.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from ingest.decode import aqm_json, json_objects, senml, tt10_text
from ingest.decode.timestamps import time_problem
from ingest.model import Decoded, Reason, Rejection

# Beyond this depth a JSON document is hostile, not a station's payload.
MAX_JSON_DEPTH = 8


def _reject(code: Reason, message: str) -> Decoded:
    return Decoded(None, [], [Rejection(code, message)])


def _too_deep(document: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when containers nest deeper than ``limit``; walks containers only, no text."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _nan_constant(name: str) -> float:
    # NaN/Infinity are not JSON; keep them as NaN so the reading is rejected alone.
    return float("nan")


def _storable_times(decoded: Decoded) -> Decoded:
    """``decoded`` with every reading whose time cannot be stored turned into a reject.

    Each decoder checks its own times; this is the one check all formats pass through,
    so no format (nor a station's zone) can hand the writer an offset PostgreSQL refuses.
    """
    bad = [(r, why) for r in decoded.readings if (why := time_problem(r.ts)) is not None]
    if not bad:
        return decoded
    refused = {id(r) for r, _ in bad}
    return Decoded(
        decoded.source_format,
        [r for r in decoded.readings if id(r) not in refused],
        decoded.rejections
        + [
            Rejection(Reason.BAD_TIMESTAMP, f"{r.parameter[:64]!r}: {why}", r.index)
            for r, why in bad
        ],
    )


def decode(payload: bytes, local_tz: tzinfo | None, now: datetime, max_bytes: int) -> Decoded:
    """Decode one MQTT payload of any supported format.

    ``local_tz`` is the zone of the station's Circular 10/2021 timestamps (they carry no
    offset): its catalogue ``timezone``, else ``AQM_TIMEZONE``; None when the station's
    zone is unknown here, which rejects such lines rather than guess. ``now``, the
    receive time, is deliberately not used to resolve any time (see the module docstring).
    """
    return _storable_times(_decode(payload, local_tz, max_bytes))


def _decode(payload: bytes, local_tz: tzinfo | None, max_bytes: int) -> Decoded:
    if len(payload) > max_bytes:
        return _reject(
            Reason.PAYLOAD_TOO_LARGE, f"payload of {len(payload)} bytes exceeds {max_bytes}"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _reject(
            Reason.INVALID_UTF8, f"payload is not UTF-8: {exc.reason} at byte {exc.start}"
        )
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        return _reject(Reason.EMPTY_PAYLOAD, "payload is empty")
    if text[0] in "[{":
        too_deep = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        try:
            # The C parser refuses absurd nesting itself (RecursionError); the walk after
            # it refuses anything deeper than a station payload can be.
            document, repeats = json_objects.loads(text, parse_constant=_nan_constant)
        except RecursionError:
            return _reject(Reason.MALFORMED_JSON, too_deep)
        except ValueError as exc:
            return _reject(Reason.MALFORMED_JSON, f"invalid JSON: {exc}")
        if _too_deep(document):
            return _reject(Reason.MALFORMED_JSON, too_deep)
        if senml.looks_like_senml(document):
            return senml.decode(document, repeats=repeats)
        return aqm_json.decode(document, repeats=repeats)
    return tt10_text.decode(text, local_tz)
