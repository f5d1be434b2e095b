"""Payload decoders: bytes → raw readings, one module per format, detected from content.

Decoders never raise on bad input: whatever they cannot read becomes a ``Rejection``
with a stable reason code, so every message ends stored or rejected.
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any

from ingest.decode import aqm_json, senml, tt10_text
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


def decode(payload: bytes, local_tz: tzinfo, now: datetime, max_bytes: int) -> Decoded:
    """Decode one MQTT payload of any supported format.

    ``local_tz`` is the zone of Circular 10/2021 timestamps (they carry no offset);
    ``now`` resolves SenML relative times.
    """
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
            document = json.loads(text, parse_constant=_nan_constant)
        except RecursionError:
            return _reject(Reason.MALFORMED_JSON, too_deep)
        except ValueError as exc:
            return _reject(Reason.MALFORMED_JSON, f"invalid JSON: {exc}")
        if _too_deep(document):
            return _reject(Reason.MALFORMED_JSON, too_deep)
        if senml.looks_like_senml(document):
            return senml.decode(document, now)
        return aqm_json.decode(document)
    return tt10_text.decode(text, local_tz)
